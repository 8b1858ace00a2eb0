/**
 * Shift/rotate family against the host CPU: group 2 (C0/C1/D0/D1/D2/D3,
 * every /0-/7 including the SAL alias /6) and SHLD/SHRD (0F A4/A5/AC/AD),
 * 8/16/32-bit, register and memory operands, segment overrides, counts
 * 0/1/7/8/9/15/16/17/31/32/33/255 for every operation and size, every
 * 16-bit SHLD/SHRD count 0-33, the interplay with lazy flags left by a
 * previous instruction, faults, and random cases from a fixed seed.
 *
 * Every flag is compared, including the ones Intel calls undefined (AF,
 * OF for counts > 1, CF/result for over-wide counts): the emulator follows
 * the AMD behaviour documented in src/vmm/cpu/families/shift.ts.
 *
 * Emulator-only tests at the end cover what user mode on the host cannot
 * show: 16-bit addressing (it only reaches the first 64 KiB, never mapped
 * for a Linux process), segment-limit faults and read-only pages.
 */
import { describe, expect, it } from 'vitest';
import { diffSuite, rng, type DiffCase } from './harness.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu, enterFlatMode } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, IntKind, Seg, type Delivery } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';

const OPS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
const COUNTS = [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255];
const VALS = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678, 0x89abcdef, 0x80000001, 0x00018001, 0x40c04080];
const SCRATCH = 0x80000;
/** Size suffix → operand size prefix and base opcode offset (byte forms are even opcodes). */
const SIZES = [
  { sfx: 'b', pre: [] as number[], odd: 0, bytes: 1 },
  { sfx: 'w', pre: [0x66], odd: 1, bytes: 2 },
  { sfx: 'l', pre: [] as number[], odd: 1, bytes: 4 },
];

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const bytes = (b: number[]): string => `  .byte ${b.map((x) => hex(x & 0xff)).join(', ')}`;

type Form = 'imm' | 'one' | 'cl';
/**
 * Raw encoding of a group-2 instruction (so /6 and C0/C1 with count 1 are
 * really emitted; gas would pick other encodings). `rm` is a ModRM rm field
 * with mod 3 (register), or 'mem' for [esi+disp8].
 */
function grp2(op: number, size: number, form: Form, rm: number | 'mem', count = 0, disp = 0, prefixes: number[] = []): string {
  const s = SIZES[size]!;
  const opc = (form === 'imm' ? 0xc0 : form === 'one' ? 0xd0 : 0xd2) + s.odd;
  const modrm = rm === 'mem' ? [0x40 | (op << 3) | 6, disp] : [0xc0 | (op << 3) | rm];
  return bytes([...prefixes, ...s.pre, opc, ...modrm, ...(form === 'imm' ? [count] : [])]);
}

function le32(...ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const dv = new DataView(b.buffer);
  ws.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  return b;
}

/** A scratch image with `v` at offset `off` (and recognisable bytes around it). */
function memWith(off: number, v: number, size: number): Uint8Array {
  const m = new Uint8Array(512);
  for (let k = 0; k < 512; k++) m[k] = (k * 37 + 11) & 0xff;
  for (let k = 0; k < size; k++) m[off + k] = (v >>> (8 * k)) & 0xff;
  return m;
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0x5a1f7);
  const fl = (cf: number): number => (r() & 0xcd4) | cf;

  // 1. Every operation, size and count, CL form on registers (AL/AX/EAX and BH).
  for (let op = 0; op < 8; op++) for (let size = 0; size < 3; size++) for (const cnt of COUNTS) {
    for (const v of VALS) for (const cf of [0, 1]) {
      const name = `${OPS[op]}${SIZES[size]!.sfx} cl=${cnt} v=${hex(v)} cf=${cf}`;
      out.push({ name, code: grp2(op, size, 'cl', 0), regs: { eax: v, ecx: cnt, edx: v }, eflags: fl(cf) });
    }
    // The high-byte register form (rm 7 = BH) with a count in CL.
    if (size === 0) {
      out.push({ name: `${OPS[op]}b bh cl=${cnt}`, code: grp2(op, 0, 'cl', 7), regs: { ebx: 0x12c3a5f0, ecx: cnt }, eflags: fl(cnt & 1) });
    }
    // Immediate form (C0/C1, including counts 0 and 1 that gas would not emit as C0/C1).
    for (const v of [0x89abcdef, 0x7f00807f, 0xffffffff]) for (const cf of [0, 1]) {
      out.push({ name: `${OPS[op]}${SIZES[size]!.sfx} imm=${cnt} v=${hex(v)} cf=${cf}`, code: grp2(op, size, 'imm', 2, cnt), regs: { edx: v }, eflags: fl(cf) });
    }
  }
  // 2. D0/D1 (count 1) forms, register and memory.
  for (let op = 0; op < 8; op++) for (let size = 0; size < 3; size++) for (const v of VALS) for (const cf of [0, 1]) {
    const name = `${OPS[op]}${SIZES[size]!.sfx} 1 v=${hex(v)} cf=${cf}`;
    out.push({ name: `${name} reg`, code: grp2(op, size, 'one', 3), regs: { ebx: v }, eflags: fl(cf) });
    out.push({ name: `${name} mem`, code: grp2(op, size, 'one', 'mem', 0, 0x12), regs: { esi: SCRATCH + 0x40 }, mem: memWith(0x52, v, 4), eflags: fl(cf) });
  }
  // 3. Memory operands with every count and form, plus segment overrides.
  for (let op = 0; op < 8; op++) for (let size = 0; size < 3; size++) for (const cnt of COUNTS) {
    const v = (r() | 0x80000001) >>> 0;
    const cf = cnt & 1;
    const sfx = SIZES[size]!.sfx;
    out.push({ name: `${OPS[op]}${sfx} cl=${cnt} [esi+7]`, code: grp2(op, size, 'cl', 'mem', 0, 7), regs: { ecx: cnt, esi: SCRATCH + 0x100 }, mem: memWith(0x107, v, 4), eflags: fl(cf) });
    out.push({ name: `${OPS[op]}${sfx} imm=${cnt} es:[esi-3]`, code: grp2(op, size, 'imm', 'mem', cnt, 0xfd, [0x26]), regs: { esi: SCRATCH + 0x103 }, mem: memWith(0x100, v, 4), eflags: fl(cf) });
    out.push({ name: `${OPS[op]}${sfx} imm=${cnt} ss:[esi]`, code: grp2(op, size, 'imm', 'mem', cnt, 0, [0x36]), regs: { esi: SCRATCH + 0x1f0 }, mem: memWith(0x1f0, v, 4), eflags: fl(cf) });
  }
  // A write through CS (execute/read code segment) is #GP(0), even with a count of 0.
  for (const cnt of [0, 1, 5]) for (let size = 0; size < 3; size++) {
    out.push({ name: `shl cs:[esi] cl=${cnt}`, code: grp2(4, size, 'cl', 'mem', 0, 0, [0x2e]), regs: { ecx: cnt, esi: SCRATCH }, mem: memWith(0, 0x1234, 4), eflags: 0x8d5 });
  }
  // gas spellings, including the absolute-address (disp32) and SIB forms.
  out.push({ name: 'shll %cl, scratch+8', code: '  shll %cl, scratch+8', regs: { ecx: 5 }, mem: le32(0, 0, 0xc0000001) });
  out.push({ name: 'rorw $3, 2(%esi,%edi,4)', code: '  rorw $3, 2(%esi,%edi,4)', regs: { esi: SCRATCH, edi: 3 }, mem: le32(0, 0, 0, 0x5678abcd), eflags: 0x800 });
  out.push({ name: 'sarb %cl, (%esi)', code: '  sarb %cl, (%esi)', regs: { esi: SCRATCH + 0x10, ecx: 3 }, mem: memWith(0x10, 0x85, 1) });
  out.push({ name: 'rcrl $1, %esp-based', code: '  rcrl $1, 4(%esp)', eflags: 1, mem: memWith(0x1c4, 0x12345679, 4) });

  // 4. SHLD/SHRD: every count 0-33 and 255 on 16 and 32 bits, CL and imm8, register and memory.
  const pairs = [[0x12345678, 0x9abcdef0], [0xffffffff, 0], [0, 0xffffffff], [0x80000001, 0x80000001], [0x0000ffff, 0x7fff8000], [0x5a5a5a5a, 0xc3c3c3c3]];
  for (const op of ['shld', 'shrd']) for (const sfx of ['w', 'l']) {
    const [d, s] = sfx === 'w' ? ['%ax', '%bx'] : ['%eax', '%ebx'];
    for (let cnt = 0; cnt <= 40; cnt++) {
      if (cnt > 33 && cnt !== 40) continue;
      for (const [a, b] of pairs) {
        out.push({ name: `${op}${sfx} cl=${cnt} ${hex(a!)},${hex(b!)}`, code: `  ${op}${sfx} %cl, ${s}, ${d}`, regs: { eax: a, ebx: b, ecx: cnt }, eflags: fl(cnt & 1) });
      }
      const a = r(), b = r();
      out.push({ name: `${op}${sfx} imm=${cnt} reg`, code: `  ${op}${sfx} $${cnt}, ${s}, ${d}`, regs: { eax: a, ebx: b }, eflags: fl(0) });
      out.push({ name: `${op}${sfx} imm=${cnt} mem`, code: `  ${op}${sfx} $${cnt}, ${s}, 6(%esi)`, regs: { ebx: b, esi: SCRATCH + 0x80 }, mem: memWith(0x86, a, 4), eflags: fl(1) });
      out.push({ name: `${op}${sfx} cl=${cnt} mem`, code: `  ${op}${sfx} %cl, ${s}, scratch+0x21`, regs: { ebx: b, ecx: cnt | 0x60 }, mem: memWith(0x21, a, 4), eflags: fl(0) });
    }
    for (const cnt of [255, 0xe0, 0x41]) {
      out.push({ name: `${op}${sfx} imm=${cnt}`, code: `  ${op}${sfx} $${cnt}, ${s}, ${d}`, regs: { eax: 0x87654321, ebx: 0x1f2e3d4c }, eflags: fl(1) });
    }
    // Source and destination the same register, and the high registers.
    out.push({ name: `${op}${sfx} same reg`, code: `  ${op}${sfx} %cl, ${d}, ${d}`, regs: { eax: 0x8421c3a5, ecx: 7 } });
    out.push({ name: `${op}${sfx} edi,esi`, code: `  ${op}${sfx} $9, ${sfx === 'w' ? '%si, %di' : '%esi, %edi'}`, regs: { esi: 0xdead1234, edi: 0xbeef5678 } });
  }

  // 5. Lazy-flag interplay: rotates keep ZF/SF/PF/AF from whatever came before
  //    (still lazy), RCL/RCR take CF from a lazy SUB/ADD, a count of 0 keeps
  //    the previous lazy state, and later instructions consume the new flags.
  const seqs = [
    'addl %ebx, %eax; roll %cl, %edx',
    'subl %ebx, %eax; rcll %cl, %edx',
    'addl %ebx, %eax; rcrb %cl, %dl',
    'subw %bx, %ax; rorw %cl, %dx',
    'addl %ebx, %eax; shll %cl, %edx',
    'incl %eax; rclw $1, %dx',
    'decb %al; rcrl %cl, %edx',
    'xorl %ebx, %eax; rolb %cl, %dh',
    'shll %cl, %eax; adcl $0, %edx',
    'shrl %cl, %eax; sbbl %ebx, %edx',
    'sarl %cl, %eax; roll $3, %edx; adcl %ebx, %ebx',
    'roll %cl, %eax; addl $0, %edx',
    'shldl %cl, %ebx, %eax; rcrl $1, %edx',
    'cmpl %ebx, %eax; rcll $0, %edx',
    'andl %ebx, %eax; shll $1, %edx; rcll %cl, %eax',
  ];
  for (const seq of seqs) for (let k = 0; k < 24; k++) {
    const cnt = k < 4 ? [0, 1, 32, 33][k]! : r() & 0x3f;
    out.push({ name: `seq "${seq}" #${k}`, code: `  ${seq.replace(/; /g, '\n  ')}`, regs: { eax: r(), ebx: k & 1 ? r() : 0, ecx: cnt, edx: r() }, eflags: r() & 0xcd5 });
  }
  // Count 0 through the C0/C1 encoding after a lazy ADD: nothing at all changes.
  for (let op = 0; op < 8; op++) {
    out.push({ name: `add; ${OPS[op]} $0`, code: `  addl %ebx, %eax\n${grp2(op, 2, 'imm', 2, 0)}`, regs: { eax: 0x7fffffff, ebx: 1, edx: 0x12345678 } });
    out.push({ name: `sub; ${OPS[op]} cl=32`, code: `  subl %ebx, %eax\n${grp2(op, 1, 'cl', 2)}`, regs: { eax: 0, ebx: 1, ecx: 32, edx: 0x1234 } });
  }

  // 6. LOCK is #UD for every shift (they are not lockable), register or memory.
  out.push({ name: 'lock shl mem', code: bytes([0xf0, 0xd3, 0x26]), regs: { esi: SCRATCH, ecx: 1 } });
  out.push({ name: 'lock shld mem', code: bytes([0xf0, 0x0f, 0xa5, 0x1e]), regs: { esi: SCRATCH, ecx: 1 } });

  // 7. Random cases: any group-2 form/size/operand/count and SHLD/SHRD.
  for (let k = 0; k < 1400; k++) {
    const v = k % 5 === 0 ? VALS[r() % VALS.length]! : r();
    const cnt = k % 3 === 0 ? r() & 0xff : r() % 34;
    const flags = r() & 0xcd5;
    if (k % 4 === 3) {
      const op = k & 8 ? 'shld' : 'shrd';
      const sfx = k & 16 ? 'w' : 'l';
      const [d, s] = sfx === 'w' ? ['%dx', '%si'] : ['%edx', '%esi'];
      const useCl = (k & 32) !== 0;
      const c = useCl ? '%cl' : `$${cnt}`;
      if (k & 64) {
        out.push({ name: `rnd ${k} ${op}${sfx} mem`, code: `  ${op}${sfx} ${c}, ${s}, 0x31(%ebp)`, regs: { ebp: SCRATCH, esi: r(), ecx: cnt }, mem: memWith(0x31, v, 4), eflags: flags });
      } else {
        out.push({ name: `rnd ${k} ${op}${sfx} reg`, code: `  ${op}${sfx} ${c}, ${s}, ${d}`, regs: { edx: v, esi: r(), ecx: cnt }, eflags: flags });
      }
      continue;
    }
    const op = r() & 7, size = r() % 3;
    const form: Form = (['imm', 'one', 'cl'] as const)[r() % 3]!;
    const mem = (r() & 3) === 0;
    const reg = r() & 7;
    const rm = mem ? 'mem' : reg === 4 && size > 0 ? 0 : reg; // keep ESP/SP intact
    out.push({
      name: `rnd ${k} ${OPS[op]}${SIZES[size]!.sfx} ${form} ${mem ? 'mem' : `r${rm}`} cnt=${cnt}`,
      code: grp2(op, size, form, rm, cnt, 0x20),
      regs: { eax: v, ecx: cnt, edx: r(), ebx: r(), esi: SCRATCH + 0x60, edi: r(), ebp: r() },
      mem: memWith(0x80, v, 4),
      eflags: flags,
    });
  }
  return out;
}

/** Cases that fault in the emulator only when paging is on (unmapped addresses above 16 MiB). */
function pagingCases(): DiffCase[] {
  const out: DiffCase[] = [];
  // Read-modify-write of an unmapped page: #PF before anything changes, count 0 included.
  for (const cnt of [0, 1, 31]) {
    out.push({ name: `shll cl=${cnt} unmapped`, code: '  shll %cl, 0x2000000', regs: { ecx: cnt, eax: 7 }, eflags: 0x8d5 });
    out.push({ name: `rclb imm=${cnt} unmapped`, code: `${bytes([0xc0, 0x15, 0, 0, 0, 0x02, cnt])}`, regs: { eax: 7 }, eflags: 0x1 });
    out.push({ name: `shrdw cl=${cnt} unmapped`, code: '  shrdw %cl, %bx, 0x2000000', regs: { ecx: cnt, ebx: 0xffff }, eflags: 0x44 });
  }
  return out;
}

describe('shift/rotate family vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('shift', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('shift', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  const pf = pagingCases();
  it(`faults like the host on ${pf.length} unmapped-memory cases (PAE paging)`, () => {
    expect(diffSuite('shift-pf', pf, { paging: true }).slice(0, 20)).toEqual([]);
  });
});

// --- emulator-only tests: hand-built state for what ring 3 on the host cannot show ---

/** Records the first exception and stops the run loop. */
class Rec implements Delivery {
  vector = -1;
  err = -1;
  deliver(cpu: Cpu, vector: number, _kind: IntKind, errorCode: number): void {
    this.vector = vector;
    this.err = errorCode;
    cpu.requestExit(Exit.STOPPED);
  }
}

const CODE = 0x40000;

/** A fresh CPU in flat protected mode at CPL 3 over 4 MiB of RAM. */
function emu(): { cpu: Cpu; mem: PhysMemory; rec: Rec } {
  const mem = new PhysMemory(4 << 20);
  const rec = new Rec();
  const cpu = createCpu(mem, { delivery: rec });
  enterFlatMode(cpu, 3, { cs: 0x23, ds: 0x2b });
  return { cpu, mem, rec };
}

/** Execute one instruction at CODE. */
function step(e: { cpu: Cpu; mem: PhysMemory }, code: number[]): void {
  e.mem.writeBytes(CODE, Uint8Array.from(code));
  e.cpu.eip = CODE;
  run(e.cpu, 1);
}

/** Attribute word of a 32-bit, DPL-3, byte-granular data segment of descriptor type `type`. */
const dataAttr = (type: number): number => type | 0x10 | (3 << 5) | 0x80 | 0x4000;

/** PAE identity map of the low 4 MiB for user access; pages in `ro` are read-only. */
function paging(e: { cpu: Cpu; mem: PhysMemory }, ro: number[]): void {
  const { cpu, mem } = e;
  const l3 = 0x300000, l2 = l3 + 0x1000, l1 = l3 + 0x2000;
  mem.fill(l3, 0x4000, 0);
  mem.write32(l3, l2 | 1);
  mem.write32(l2, l1 | 7);
  mem.write32(l2 + 8, (l1 + 0x1000) | 7);
  for (let j = 0; j < 1024; j++) mem.write32(l1 + j * 8, (j << 12) | (ro.includes(j << 12) ? 5 : 7));
  cpu.cr4 |= 0x20;
  cpu.cr3 = l3;
  cpu.cr0 |= 0x80000000 | 0;
  cpu.tlbFlushAll();
}

/** Architectural state that a faulting instruction must leave untouched. */
function snapshot(e: { cpu: Cpu; mem: PhysMemory }, at: number, len: number): unknown {
  return { regs: Array.from(e.cpu.r32), eflags: readEflags(e.cpu), mem: Array.from(e.mem.readBytes(at, len)) };
}

describe('shift/rotate family, emulator-only', () => {
  // SDM vol. 2A §2.1.5 table 2-1: with a 16-bit address size, [BX] uses only BX
  // and the offset wraps at 64 KiB; [BP+SI] defaults to SS.
  it('uses 16-bit effective addresses with the 0x67 prefix', () => {
    const e = emu();
    e.mem.write32(0x2000, 0x11111111);
    e.cpu.r32[3] = 0xabcd2000 | 0; // EBX: only BX counts
    step(e, [0x67, 0xc1, 0x27, 0x03]); // shl dword [bx], 3
    expect(e.rec.vector).toBe(-1);
    expect(e.mem.read32(0x2000) >>> 0).toBe(0x88888888);

    e.mem.write16(0x10122, 0x0003);
    e.cpu.loadSegCache(Seg.SS, 0x2b, 0x10000, 0xffff, dataAttr(3));
    e.cpu.r32[5] = 0x100; // BP
    e.cpu.r32[6] = 0x20; // SI
    step(e, [0x66, 0x67, 0xd1, 0x4a, 0x02]); // ror word [bp+si+2], 1 → SS:0x122
    expect(e.rec.vector).toBe(-1);
    expect(e.mem.read16(0x10122)).toBe(0x8001);
    expect(readEflags(e.cpu) & 0x801).toBe(0x801); // ROR by 1: CF = new MSB (1), OF = MSB xor MSB-1 (1 xor 0)
  });

  it('wraps a 16-bit offset at 64 KiB ([bx-1] with BX = 0 is offset 0xffff)', () => {
    const e = emu();
    e.mem.write32(0xffff, 0x01020304);
    e.cpu.r32[3] = 0;
    e.cpu.r32[1] = 4; // CL
    step(e, [0x67, 0xd3, 0x67, 0xff]); // shl dword [bx-1], cl
    expect(e.rec.vector).toBe(-1);
    expect(e.mem.read32(0xffff) >>> 0).toBe(0x10203040);
  });

  // SDM vol. 3A §5.3: an access beyond the limit raises #GP(0) (#SS(0) through
  // SS) and the instruction has no effect — including a count of 0, whose
  // memory operand is still accessed.
  it('checks the segment limit before changing anything', () => {
    for (const [code, seg] of [[[0xc1, 0x26, 0x05], Seg.DS], [[0xc1, 0x26, 0x00], Seg.DS], [[0xd3, 0x65, 0x00], Seg.SS], [[0x0f, 0xa5, 0x1e], Seg.DS]] as const) {
      const e = emu();
      e.cpu.loadSegCache(seg, 0x2b, 0, 0xfff, dataAttr(3));
      e.cpu.r32[6] = 0xffe; // ESI
      e.cpu.r32[5] = 0xffe; // EBP
      e.cpu.r32[1] = 3;
      e.mem.write32(0xffe, 0x80000001);
      e.cpu.flags = 0x8d5 | 2;
      const before = snapshot(e, 0xff0, 32);
      step(e, [...code]);
      expect(e.rec.vector).toBe(seg === Seg.SS ? 12 : 13);
      expect(e.rec.err).toBe(0);
      expect(e.cpu.eip).toBe(CODE);
      expect(snapshot(e, 0xff0, 32)).toEqual(before);
    }
    // The last dword inside the limit is fine.
    const e = emu();
    e.cpu.loadSegCache(Seg.DS, 0x2b, 0, 0xfff, dataAttr(3));
    e.cpu.r32[6] = 0xffc;
    e.mem.write32(0xffc, 1);
    step(e, [0xc1, 0x26, 0x05]);
    expect(e.rec.vector).toBe(-1);
    expect(e.mem.read32(0xffc)).toBe(32);
  });

  // SDM vol. 3A §3.4.5.1: writing a read-only data segment is #GP(0).
  it('raises #GP(0) writing a read-only data segment', () => {
    const e = emu();
    e.cpu.loadSegCache(Seg.DS, 0x2b, 0, 0xffffffff, dataAttr(1));
    e.cpu.r32[6] = 0x5000;
    e.mem.write8(0x5000, 0x81);
    step(e, [0xd0, 0x06]); // rol byte [esi], 1
    expect([e.rec.vector, e.rec.err]).toEqual([13, 0]);
    expect(e.mem.read8(0x5000)).toBe(0x81);
  });

  // SDM vol. 3A §4.6 (user write to a read-only page: #PF, error code P|W|U = 7)
  // and §6.5 (faults are restartable: no partial update). A dword that
  // straddles a writable and a read-only page must not be written at all.
  it('faults on a read-only page before writing either page', () => {
    // shld [esi], ebx, cl (split dword); rcl byte [esi+2], 0 (in the read-only
    // page, count 0); shl dword [esi], cl (split); sar word [esi+1], 1 (split).
    for (const code of [[0x0f, 0xa5, 0x1e], [0xc0, 0x56, 0x02, 0x00], [0xd3, 0x26], [0x66, 0xd1, 0x7e, 0x01]]) {
      const e = emu();
      paging(e, [0x6000]);
      e.cpu.r32[6] = 0x5ffe;
      e.cpu.r32[3] = 0xffffffff | 0;
      e.cpu.r32[1] = 9;
      e.mem.write32(0x5ffe, 0x12345678);
      // A lazy state from a previous ADD must survive too.
      e.cpu.r32[0] = 0x7fffffff;
      step(e, [0x01, 0xd8]); // add eax, ebx
      const before = snapshot(e, 0x5ff0, 32);
      step(e, code);
      expect([e.rec.vector, e.rec.err]).toEqual([14, 7]);
      // CR2 names the first byte of the faulting page, as the host reports for a split write.
      expect(e.cpu.cr2 >>> 0).toBe(0x6000);
      expect(snapshot(e, 0x5ff0, 32)).toEqual(before);
    }
  });
});
