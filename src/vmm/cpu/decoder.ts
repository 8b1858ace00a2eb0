/**
 * The x86 instruction decoder (IA-32, 16- and 32-bit code).
 *
 * Prefixes (groups 1-4 in any order, the last segment override winning,
 * Intel SDM vol. 2 §2.1.1), one-, two- and three-byte opcodes, ModRM with
 * SIB and displacements in both address sizes (§2.1.5 tables 2-1 to 2-3),
 * immediates, and the 15-byte length limit (#GP(0) beyond it). Bytes are
 * fetched through the CPU, so a fetch from an unmapped or NX page raises #PF
 * and a fetch beyond the CS limit raises #GP(0).
 *
 * The decoder is pure with respect to architectural state: it only reads
 * code bytes. Rules that depend on the decoded form (LOCK legality,
 * memory-only forms) are checked here and produce an Insn whose `exec`
 * raises #UD, so the fault happens at execution time, in order.
 */
import { Cpu, R8_INDEX, Seg, SA } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import { D, Imm, Insn, type ExecFn, type OpDef } from './insn.js';
import { OpTable } from './table.js';

const execUD: ExecFn = () => {
  throw new CpuFault(Vec.UD);
};
/** The form used for unassigned opcodes. */
export const UD_DEF: OpDef = { name: '(bad)', exec: execUD };
const LOCK_UD_DEF: OpDef = { name: '(bad lock)', exec: execUD };

/** 16-bit addressing: base/index registers for rm = 0..7 (-1 = none). */
const A16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];
const A16_INDEX = [6, 7, 6, 7, -1, -1, -1, -1];

class Fetcher {
  cpu!: Cpu;
  csBase = 0;
  csLimit = 0;
  start = 0;
  pos = 0;
  byte(): number {
    const off = this.pos;
    if (off - this.start >= 15) throw new CpuFault(Vec.GP, 0);
    if ((off >>> 0) > this.csLimit) throw new CpuFault(Vec.GP, 0);
    this.pos = (off + 1) | 0;
    return this.cpu.fetch8((this.csBase + off) | 0);
  }
  word(): number {
    const lo = this.byte();
    return lo | (this.byte() << 8);
  }
  dword(): number {
    const lo = this.word();
    return (lo | (this.word() << 16)) | 0;
  }
}

const F = new Fetcher();

/**
 * Decode the instruction at CS:eip. Throws CpuFault (#PF, #GP) when the
 * bytes cannot be fetched; returns an Insn whose exec raises #UD for
 * invalid encodings.
 */
export function decode(cpu: Cpu, table: OpTable, eip: number): Insn {
  const f = F;
  f.cpu = cpu;
  f.csBase = cpu.segBase[Seg.CS]!;
  f.csLimit = cpu.segLimit[Seg.CS]!;
  f.start = eip;
  f.pos = eip;
  const code32 = cpu.code32;

  let o16 = !code32, a16 = !code32, seg = -1, rep = 0, lock = false;
  let b = f.byte();
  for (;;) {
    switch (b) {
      case 0x66: o16 = code32; break;
      case 0x67: a16 = code32; break;
      case 0xf0: lock = true; break;
      case 0xf2: rep = 2; break;
      case 0xf3: rep = 1; break;
      case 0x26: seg = Seg.ES; break;
      case 0x2e: seg = Seg.CS; break;
      case 0x36: seg = Seg.SS; break;
      case 0x3e: seg = Seg.DS; break;
      case 0x64: seg = Seg.FS; break;
      case 0x65: seg = Seg.GS; break;
      default: break;
    }
    if (b === 0x66 || b === 0x67 || b === 0xf0 || b === 0xf2 || b === 0xf3 || b === 0x26 || b === 0x2e ||
        b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65) {
      b = f.byte();
      continue;
    }
    break;
  }

  let op = b;
  let entry = table.one[b] ?? null;
  let imm3a = false;
  if (b === 0x0f) {
    const b2 = f.byte();
    op = 0x0f00 | b2;
    if (b2 === 0x38) {
      const b3 = f.byte();
      op = 0x0f3800 | b3;
      entry = table.three38[b3] ?? null;
    } else if (b2 === 0x3a) {
      const b3 = f.byte();
      op = 0x0f3a00 | b3;
      entry = table.three3a[b3] ?? null;
      imm3a = true;
    } else {
      entry = table.two[b2] ?? null;
    }
  }

  const i = new Insn(execUD, UD_DEF);
  i.eip = eip;
  i.op = op;
  i.o16 = o16;
  i.a16 = a16;
  i.rep = rep;
  i.lock = lock;

  let def: OpDef | null = null;
  if (entry !== null) {
    if (OpTable.needsModrm(entry)) {
      let m = f.byte();
      // MOV CR/DR: mod is ignored, the operand is always a register (D.MOD_REG).
      if (entry.kind === 'op' && ((entry.def.flags ?? 0) & D.MOD_REG) !== 0) m |= 0xc0;
      decodeModrm(f, i, m, a16);
      if (entry.kind === 'op') def = entry.def;
      else if (entry.kind === 'group') def = entry.sub[(m >> 3) & 7] ?? null;
      else def = entry.resolve(m);
    } else if (entry.kind === 'op') {
      def = entry.def;
    }
  }
  // SSE 0F 3A forms always carry an imm8 even when unassigned.
  if (def === null && imm3a && !i.hasModrm) decodeModrm(f, i, f.byte(), a16);

  if (def !== null) {
    decodeImm(f, i, def.imm ?? (imm3a ? Imm.B : Imm.NONE), o16, a16);
  } else if (imm3a) {
    i.imm = f.byte();
  }

  i.seg = seg >= 0 ? seg : i.seg;
  i.segOverride = seg >= 0;
  i.next = f.pos;
  i.len = (f.pos - eip) | 0;
  if (i.mod === 3 || !i.hasModrm) {
    i.rmb = R8_INDEX[i.rm]!;
  }
  i.rb = R8_INDEX[i.reg]!;

  if (def === null) return i;
  i.def = def;
  const fl = def.flags ?? 0;
  if (i.hasModrm) {
    if ((fl & D.MEM_ONLY) !== 0 && i.mod === 3) return i;
    if ((fl & D.REG_ONLY) !== 0 && i.mod !== 3) return i;
  }
  if (lock && ((fl & D.LOCKABLE) === 0 || !i.hasModrm || i.mod === 3)) {
    i.def = LOCK_UD_DEF;
    return i;
  }
  i.exec = o16 && def.exec16 !== undefined ? def.exec16 : def.exec;
  return i;
}

function decodeModrm(f: Fetcher, i: Insn, m: number, a16: boolean): void {
  i.hasModrm = true;
  const mod = m >> 6, reg = (m >> 3) & 7, rm = m & 7;
  i.mod = mod;
  i.reg = reg;
  i.rm = rm;
  if (mod === 3) return;
  let seg: number = Seg.DS;
  if (a16) {
    if (mod === 0 && rm === 6) {
      i.disp = f.word();
    } else {
      i.base = A16_BASE[rm]!;
      i.index = A16_INDEX[rm]!;
      if (rm === 2 || rm === 3 || rm === 6) seg = Seg.SS;
      if (mod === 1) i.disp = (f.byte() << 24) >> 24;
      else if (mod === 2) i.disp = f.word();
    }
    i.seg = seg;
    return;
  }
  if (rm === 4) {
    const sib = f.byte();
    const scale = sib >> 6, index = (sib >> 3) & 7, base = sib & 7;
    i.scale = scale;
    i.index = index === 4 ? -1 : index;
    if (base === 5 && mod === 0) {
      i.disp = f.dword();
    } else {
      i.base = base;
      if (base === 4 || base === 5) seg = Seg.SS;
    }
  } else if (rm === 5 && mod === 0) {
    i.disp = f.dword();
  } else {
    i.base = rm;
    if (rm === 5) seg = Seg.SS;
  }
  if (mod === 1) i.disp = (f.byte() << 24) >> 24;
  else if (mod === 2) i.disp = f.dword();
  i.seg = seg;
}

function decodeImm(f: Fetcher, i: Insn, kind: Imm, o16: boolean, a16: boolean): void {
  switch (kind) {
    case Imm.NONE: return;
    case Imm.B: i.imm = f.byte(); return;
    case Imm.SB: i.imm = (f.byte() << 24) >> 24; return;
    case Imm.W: i.imm = f.word(); return;
    case Imm.Z: i.imm = o16 ? f.word() : f.dword(); return;
    case Imm.J8: {
      const d = (f.byte() << 24) >> 24;
      i.imm = d;
      i.target = (f.pos + d) | 0;
      if (o16) i.target &= 0xffff;
      return;
    }
    case Imm.JZ: {
      const d = o16 ? (f.word() << 16) >> 16 : f.dword();
      i.imm = d;
      i.target = (f.pos + d) | 0;
      if (o16) i.target &= 0xffff;
      return;
    }
    case Imm.AP:
      i.imm = o16 ? f.word() : f.dword();
      i.imm2 = f.word();
      return;
    case Imm.IWIB:
      i.imm = f.word();
      i.imm2 = f.byte();
      return;
    case Imm.MOFFS:
      i.disp = a16 ? f.word() : f.dword();
      i.base = -1;
      i.index = -1;
      i.seg = Seg.DS;
      return;
    default: {
      const never: never = kind;
      throw new Error(`bad immediate kind ${String(never)}`);
    }
  }
}

/** True when the segment attribute marks a 32-bit (D/B = 1) segment. */
export function is32(attr: number): boolean {
  return (attr & SA.DB) !== 0;
}
