/**
 * Bit-instruction family against the host CPU: BT/BTS/BTR/BTC (register
 * and imm8 offsets; register and memory operands, memory offsets that
 * reach far before and after the operand), BSF/BSR, SETcc, CMOVcc and
 * BSWAP, 16- and 32-bit, with segment overrides, LOCK legality, lazy-flag
 * interplay, faults and random cases from a fixed seed.
 *
 * Every flag is compared, including the ones Intel calls undefined (the
 * emulator follows the AMD behaviour documented in
 * src/vmm/cpu/families/bits.ts).
 *
 * Emulator-only tests at the end cover what user mode on the host cannot
 * show: 16-bit addressing (the first 64 KiB are never mapped for a Linux
 * process), segment limits and types, and read-only pages.
 */
import { describe, expect, it } from 'vitest';
import { diffSuite, rng, type DiffCase } from './harness.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu, enterFlatMode } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, IntKind, Seg, type Delivery } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';

const SCRATCH = 0x80000;
const BT_OPS = ['bt', 'bts', 'btr', 'btc'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const VALS = [0, 1, 0x80000000, 0xffffffff, 0x7fffffff, 0x12345678, 0x89abcdef, 0x00008000, 0x00010000, 0xffff0000, 0x0000ffff];
const OFFS = [0, 1, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 0xffff, 0x8000, 0x7fff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0xffffffe1];

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
const bytes = (b: number[]): string => `  .byte ${b.map((x) => hex(x & 0xff)).join(', ')}`;

/** A scratch image of recognisable bytes, with `v` at offset `off`. */
function memWith(off: number, v: number, size = 4): Uint8Array {
  const m = new Uint8Array(512);
  for (let k = 0; k < 512; k++) m[k] = (k * 73 + 5) & 0xff;
  for (let k = 0; k < size; k++) m[off + k] = (v >>> (8 * k)) & 0xff;
  return m;
}

/** A random scratch image. */
function memRandom(r: () => number): Uint8Array {
  const m = new Uint8Array(512);
  for (let k = 0; k < 512; k++) m[k] = r() & 0xff;
  return m;
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0xb175);
  const fl = (): number => r() & 0xcd5;

  // 1. BT* with a register bit offset, register destination: offset taken mod size.
  for (let op = 0; op < 4; op++) for (const sfx of ['w', 'l']) {
    const [d, s] = sfx === 'w' ? ['%ax', '%bx'] : ['%eax', '%ebx'];
    for (const v of VALS) for (const off of OFFS) {
      out.push({ name: `${BT_OPS[op]}${sfx} ${hex(off)}, reg=${hex(v)}`, code: `  ${BT_OPS[op]}${sfx} ${s}, ${d}`, regs: { eax: v, ebx: off }, eflags: fl() });
    }
    // Offset and operand the same register, and high registers.
    out.push({ name: `${BT_OPS[op]}${sfx} same reg`, code: `  ${BT_OPS[op]}${sfx} ${d}, ${d}`, regs: { eax: 0x80000013 }, eflags: fl() });
    out.push({ name: `${BT_OPS[op]}${sfx} esi,edi`, code: `  ${BT_OPS[op]}${sfx} ${sfx === 'w' ? '%si, %di' : '%esi, %edi'}`, regs: { esi: 0x1234561d, edi: 0xa5a5a5a5 }, eflags: fl() });
  }
  // 2. BT* with an imm8 offset (0F BA /4-/7): offset mod size, raw bytes so any imm8 is emitted.
  for (let op = 0; op < 4; op++) for (const o16 of [false, true]) for (const imm of [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 128, 255]) {
    for (const v of [0x89abcdef, 0x76543210, 0xffffffff, 0]) {
      const modrm = 0xc0 | ((4 + op) << 3) | 2; // EDX
      out.push({ name: `${BT_OPS[op]}${o16 ? 'w' : 'l'} $${imm}, edx=${hex(v)}`, code: bytes([...(o16 ? [0x66] : []), 0x0f, 0xba, modrm, imm]), regs: { edx: v }, eflags: fl() });
    }
    // Memory operand with an immediate offset: no address adjustment, even for 255.
    const modrm = 0x40 | ((4 + op) << 3) | 6; // [esi+disp8]
    out.push({ name: `${BT_OPS[op]}${o16 ? 'w' : 'l'} $${imm} mem`, code: bytes([...(o16 ? [0x66] : []), 0x0f, 0xba, modrm, 0x10, imm]), regs: { esi: SCRATCH + 0x100 }, mem: memWith(0x110, 0xc3a55a3c), eflags: fl() });
  }
  // 3. BT* memory with a register offset: positive and negative offsets that
  //    leave the operand, ESI in the middle of the scratch area.
  const memOffs32 = [0, 1, 31, 32, 33, 63, 64, -1, -2, -31, -32, -33, -64, -65, 255, 256, 1000, 2047, -1000, -2048, -2017];
  const memOffs16 = [0, 1, 15, 16, 17, -1, -15, -16, -17, -32, 1000, 2047, -2048, -1500];
  for (let op = 0; op < 4; op++) {
    for (const off of memOffs32) {
      out.push({ name: `${BT_OPS[op]}l mem off=${off}`, code: `  ${BT_OPS[op]}l %ecx, (%esi)`, regs: { ecx: off, esi: SCRATCH + 256 }, mem: memRandom(r), eflags: fl() });
      out.push({ name: `${BT_OPS[op]}l mem disp off=${off}`, code: `  ${BT_OPS[op]}l %ecx, -3(%esi,%edi,2)`, regs: { ecx: off, esi: SCRATCH + 250, edi: 5 }, mem: memRandom(r), eflags: fl() });
    }
    for (const off of memOffs16) {
      // 16-bit offsets are signed 16-bit: the upper half of ECX must not matter.
      out.push({ name: `${BT_OPS[op]}w mem off=${off}`, code: `  ${BT_OPS[op]}w %cx, (%esi)`, regs: { ecx: (0x7fff0000 | (off & 0xffff)) >>> 0, esi: SCRATCH + 256 }, mem: memRandom(r), eflags: fl() });
      out.push({ name: `${BT_OPS[op]}w mem ebp off=${off}`, code: `  ${BT_OPS[op]}w %dx, 3(%ebp)`, regs: { edx: off & 0xffff, ebp: SCRATCH + 253 }, mem: memRandom(r), eflags: fl() });
    }
    // Segment overrides: ES and SS work; through CS only BT (a read) is allowed.
    out.push({ name: `${BT_OPS[op]}l es:`, code: `  ${BT_OPS[op]}l %ecx, %es:(%esi)`, regs: { ecx: 77, esi: SCRATCH + 100 }, mem: memRandom(r), eflags: fl() });
    out.push({ name: `${BT_OPS[op]}w ss:`, code: `  ${BT_OPS[op]}w %cx, %ss:(%esi)`, regs: { ecx: 0xfff3, esi: SCRATCH + 100 }, mem: memRandom(r), eflags: fl() });
    out.push({ name: `${BT_OPS[op]}l cs:`, code: `  ${BT_OPS[op]}l %ecx, %cs:(%esi)`, regs: { ecx: 40, esi: SCRATCH + 100 }, mem: memRandom(r), eflags: fl() });
    out.push({ name: `${BT_OPS[op]}l $imm cs:`, code: `  ${BT_OPS[op]}l $9, %cs:scratch+4`, mem: memRandom(r), eflags: fl() });
    // The offset register doubles as the base register.
    // ESI = 0x80053: EA = ESI - 0x10008, plus (ESI >> 5) * 4 = 0x10008 → 0x80053, bit 19.
    out.push({ name: `${BT_OPS[op]}l base=offset`, code: `  ${BT_OPS[op]}l %esi, -0x10008(%esi)`, regs: { esi: SCRATCH + 0x53 }, mem: memRandom(r), eflags: fl() });
  }
  // 4. LOCK: legal on memory BTS/BTR/BTC (both encodings), #UD on BT and on register operands.
  for (let op = 0; op < 4; op++) {
    out.push({ name: `lock ${BT_OPS[op]}l mem`, code: `  .byte 0xf0\n  ${BT_OPS[op]}l %ecx, 4(%esi)`, regs: { ecx: 45, esi: SCRATCH }, mem: memRandom(r), eflags: fl() });
    out.push({ name: `lock ${BT_OPS[op]}w $imm mem`, code: `  .byte 0xf0\n  ${BT_OPS[op]}w $13, 4(%esi)`, regs: { esi: SCRATCH }, mem: memRandom(r), eflags: fl() });
    out.push({ name: `lock ${BT_OPS[op]}l reg`, code: `  .byte 0xf0\n  ${BT_OPS[op]}l %ecx, %edx`, regs: { ecx: 3, edx: 0xff }, eflags: fl() });
  }
  // 0F BA /0-/3 are undefined.
  for (let reg = 0; reg < 4; reg++) out.push({ name: `0f ba /${reg}`, code: bytes([0x0f, 0xba, 0xc0 | (reg << 3), 1]) });

  // 5. BSF/BSR: zero source keeps the destination; register and memory sources.
  for (const op of ['bsf', 'bsr']) for (const sfx of ['w', 'l']) {
    const [d, s] = sfx === 'w' ? ['%ax', '%bx'] : ['%eax', '%ebx'];
    for (const v of [...VALS, 2, 3, 0x10, 0x18, 0x40000000, 0x00800000, 0x00050000, 0x8001]) for (const dst of [0, 0xdeadbeef]) {
      out.push({ name: `${op}${sfx} ${hex(v)} dst=${hex(dst)}`, code: `  ${op}${sfx} ${s}, ${d}`, regs: { eax: dst, ebx: v }, eflags: fl() });
    }
    for (let k = 0; k < 40; k++) {
      const v = k < 4 ? [0, 1, 0x80000000, 0x8000][k]! : r() >>> (r() & 31);
      out.push({ name: `${op}${sfx} mem #${k}`, code: `  ${op}${sfx} 6(%esi), ${d}`, regs: { eax: r(), esi: SCRATCH + 0x40 }, mem: memWith(0x46, v), eflags: fl() });
    }
    out.push({ name: `${op}${sfx} same reg`, code: `  ${op}${sfx} ${d}, ${d}`, regs: { eax: 0x00300000 }, eflags: fl() });
  }

  // 6. SETcc: all 16 conditions under many flag states, eager (initial EFLAGS)
  //    and lazy (after CMP/ADD/SUB/shift), register (low and high byte) and memory.
  for (let cc = 0; cc < 16; cc++) {
    for (let k = 0; k < 24; k++) {
      const f = k < 16 ? ((k & 1) | ((k & 2) << 1) | ((k & 4) << 4) | ((k & 8) << 8)) | (r() & 0x90) : r() & 0xcd5; // CF PF ZF OF combos
      out.push({ name: `set${CC[cc]} eflags=${hex(f)}`, code: `  set${CC[cc]} %al\n  set${CC[cc]} %bh`, regs: { eax: 0xffffffff, ebx: 0xffffffff }, eflags: f });
    }
    for (const [a, b] of [[0, 0], [1, 2], [2, 1], [0x80000000, 1], [0x7fffffff, 0xffffffff], [0xffffffff, 0x7fffffff], [5, 5], [0x80000000, 0x80000000]]) {
      out.push({ name: `cmp; set${CC[cc]} ${hex(a!)},${hex(b!)}`, code: `  cmpl %ebx, %eax\n  set${CC[cc]} %dl`, regs: { eax: a, ebx: b, edx: 0x5555 } });
      out.push({ name: `add; set${CC[cc]} ${hex(a!)},${hex(b!)}`, code: `  addb %bl, %al\n  set${CC[cc]} 3(%esi)`, regs: { eax: a, ebx: b, esi: SCRATCH }, mem: memRandom(r) });
      out.push({ name: `bt; set${CC[cc]} ${hex(a!)},${hex(b!)}`, code: `  subw %bx, %ax\n  btl $3, %ebx\n  set${CC[cc]} %cl`, regs: { eax: a, ebx: b, ecx: 0xffff } });
    }
    out.push({ name: `set${CC[cc]} es: mem`, code: `  set${CC[cc]} %es:scratch+9`, eflags: fl(), mem: memRandom(r) });
    out.push({ name: `set${CC[cc]} cs: mem`, code: `  set${CC[cc]} %cs:scratch+9`, eflags: fl(), mem: memRandom(r) });
    // ModRM.reg is ignored by SETcc.
    out.push({ name: `set${CC[cc]} reg field 5`, code: bytes([0x0f, 0x90 + cc, 0xc0 | (5 << 3) | 1]), regs: { ecx: 0xaaaaaaaa }, eflags: fl() });
  }

  // 7. CMOVcc: 16/32-bit, register and memory sources, true and false conditions.
  for (let cc = 0; cc < 16; cc++) {
    for (let k = 0; k < 12; k++) {
      const f = r() & 0xcd5;
      out.push({ name: `cmov${CC[cc]}l reg #${k}`, code: `  cmov${CC[cc]}l %ebx, %eax`, regs: { eax: 0x11111111, ebx: r() }, eflags: f });
      out.push({ name: `cmov${CC[cc]}w reg #${k}`, code: `  cmov${CC[cc]}w %bx, %ax`, regs: { eax: 0x22222222, ebx: r() }, eflags: f });
      out.push({ name: `cmov${CC[cc]}l mem #${k}`, code: `  cmov${CC[cc]}l 5(%esi), %edi`, regs: { edi: 0x33333333, esi: SCRATCH + 0x30 }, mem: memRandom(r), eflags: f });
      out.push({ name: `cmov${CC[cc]}w mem #${k}`, code: `  cmov${CC[cc]}w %ss:-2(%esi), %di`, regs: { edi: 0x44444444, esi: SCRATCH + 0x30 }, mem: memRandom(r), eflags: f });
    }
    out.push({ name: `cmp; cmov${CC[cc]}l`, code: `  cmpl %ecx, %edx\n  cmov${CC[cc]}l %ecx, %eax`, regs: { eax: 1, ecx: 0x80000000, edx: 0x7fffffff } });
  }

  // 8. BSWAP on every register; with 0x66 (undefined by Intel).
  for (let reg = 0; reg < 8; reg++) {
    if (reg === 4) continue; // ESP: the harness's stack
    for (const v of [0x12345678, 0x80000001, 0xff00ff00, 0]) {
      out.push({ name: `bswap r${reg} ${hex(v)}`, code: bytes([0x0f, 0xc8 + reg]), regs: { eax: v, ecx: v, edx: v, ebx: v, ebp: v, esi: v, edi: v }, eflags: fl() });
      out.push({ name: `bswap16 r${reg} ${hex(v)}`, code: bytes([0x66, 0x0f, 0xc8 + reg]), regs: { eax: v, ecx: v, edx: v, ebx: v, ebp: v, esi: v, edi: v }, eflags: fl() });
    }
  }

  // 9. Lazy-flag interplay: BT* change only CF, the rest stays lazy from before.
  const seqs = [
    'addl %ebx, %eax; btl %ecx, %edx',
    'subl %ebx, %eax; btsl %ecx, %edx; adcl $0, %edi',
    'subb %bl, %al; btrw %cx, %dx',
    'incl %eax; btcl $5, %edx',
    'shll %cl, %eax; btl %ecx, %edx',
    'roll %cl, %eax; btl $0, %ebx',
    'cmpl %ebx, %eax; btl %ecx, %edx; sbbl %edi, %edi',
    'addl %ebx, %eax; bsfl %edx, %edi',
    'addl %ebx, %eax; bsrl %ebx, %edi; adcl $0, %edx',
  ];
  for (const seq of seqs) for (let k = 0; k < 20; k++) {
    out.push({ name: `seq "${seq}" #${k}`, code: `  ${seq.replace(/; /g, '\n  ')}`, regs: { eax: r(), ebx: k & 1 ? r() : k & 2 ? 0 : 0x80000000, ecx: r() & 0x3f, edx: k & 4 ? 0 : r(), edi: r() }, eflags: r() & 0xcd5 });
  }

  // 10. Random cases over the whole family.
  for (let k = 0; k < 900; k++) {
    const kind = k % 9;
    const a = r(), b = r(), f = r() & 0xcd5;
    const o16 = (k & 16) !== 0;
    const sfx = o16 ? 'w' : 'l';
    const op = BT_OPS[r() & 3]!;
    switch (kind) {
      case 0: out.push({ name: `rnd ${k} ${op}${sfx} reg`, code: `  ${op}${sfx} ${o16 ? '%cx, %dx' : '%ecx, %edx'}`, regs: { ecx: b, edx: a }, eflags: f }); break;
      case 1: out.push({ name: `rnd ${k} ${op}${sfx} mem`, code: `  ${op}${sfx} ${o16 ? '%cx' : '%ecx'}, (%esi)`, regs: { ecx: ((r() % 4000) - 2000) & (o16 ? 0xffff : -1), esi: SCRATCH + 256 }, mem: memRandom(r), eflags: f }); break;
      case 2: out.push({ name: `rnd ${k} ${op}${sfx} imm mem`, code: `  ${op}${sfx} $${b & 0xff}, scratch+${a % 500}`, mem: memRandom(r), eflags: f }); break;
      case 3: out.push({ name: `rnd ${k} bs${k & 1 ? 'f' : 'r'}${sfx}`, code: `  bs${k & 1 ? 'f' : 'r'}${sfx} ${o16 ? '%bx, %ax' : '%ebx, %eax'}`, regs: { eax: a, ebx: b >>> (r() & 31) }, eflags: f }); break;
      case 4: out.push({ name: `rnd ${k} set${CC[b & 15]}`, code: `  subl %ebx, %eax\n  set${CC[b & 15]} %ah`, regs: { eax: a, ebx: k & 2 ? a : b }, eflags: f }); break;
      case 5: out.push({ name: `rnd ${k} cmov${CC[b & 15]}${sfx}`, code: `  cmov${CC[b & 15]}${sfx} ${o16 ? '%si, %di' : '%esi, %edi'}`, regs: { esi: a, edi: b }, eflags: f }); break;
      case 6: out.push({ name: `rnd ${k} bswap`, code: bytes([...(o16 ? [0x66] : []), 0x0f, 0xc8 + (r() & 3)]), regs: { eax: a, ecx: b, edx: a ^ b, ebx: ~a }, eflags: f }); break;
      case 7: out.push({ name: `rnd ${k} ${op}${sfx} $imm reg`, code: `  ${op}${sfx} $${b & 0xff}, ${o16 ? '%bp' : '%ebp'}`, regs: { ebp: a }, eflags: f }); break;
      default: out.push({ name: `rnd ${k} cmp+setcc+cmov`, code: `  cmpw %bx, %ax\n  set${CC[a & 15]} %cl\n  cmov${CC[b & 15]}l %eax, %edx`, regs: { eax: a, ebx: k & 4 ? a : b, edx: 7 }, eflags: f }); break;
    }
  }
  return out;
}

/** Cases that fault in the emulator only with paging on (unmapped addresses above 16 MiB). */
function pagingCases(): DiffCase[] {
  const out: DiffCase[] = [];
  // Bit offsets that reach far outside the scratch area: +256 MiB and -256 MiB (wraps high).
  for (const op of BT_OPS) {
    for (const off of [0x7fffffff, 0x80000000, 0x10000000 * 8 - 1]) {
      out.push({ name: `${op}l off=${hex(off)} unmapped`, code: `  ${op}l %ecx, (%esi)`, regs: { ecx: off, esi: SCRATCH }, eflags: 0x8d4 });
    }
    out.push({ name: `${op}l $imm unmapped`, code: `  ${op}l $3, 0x2000000`, eflags: 0x1 });
  }
  // CMOVcc reads its memory source even when the condition is false.
  for (const [cc, f] of [['e', 0], ['e', 0x40], ['ne', 0x40], ['b', 0]] as const) {
    out.push({ name: `cmov${cc}l unmapped eflags=${f}`, code: `  cmov${cc}l 0x2000000, %eax`, regs: { eax: 5 }, eflags: f });
    out.push({ name: `cmov${cc}w unmapped eflags=${f}`, code: `  cmov${cc}w 0x2000000, %ax`, regs: { eax: 5 }, eflags: f });
  }
  out.push({ name: 'setc unmapped', code: '  setc 0x2000000', eflags: 1 });
  out.push({ name: 'bsfl unmapped', code: '  bsfl 0x2000000, %eax', regs: { eax: 3 } });
  out.push({ name: 'bsrw unmapped', code: '  bsrw 0x2000000, %ax', regs: { eax: 3 } });
  return out;
}

describe('bit-instruction family vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('bits', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('bits', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  const pf = pagingCases();
  it(`faults like the host on ${pf.length} unmapped-memory cases (PAE paging)`, () => {
    expect(diffSuite('bits-pf', pf, { paging: true }).slice(0, 20)).toEqual([]);
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

/** Execute one instruction at CODE (the recorder is reset first). */
function step(e: { cpu: Cpu; mem: PhysMemory; rec: Rec }, code: number[]): void {
  e.mem.writeBytes(CODE, Uint8Array.from(code));
  e.cpu.eip = CODE;
  e.rec.vector = -1;
  e.rec.err = -1;
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

const cf = (e: { cpu: Cpu }): number => readEflags(e.cpu) & 1;

describe('bit-instruction family, emulator-only', () => {
  // SDM vol. 2A "BT": the register bit offset selects the unit at
  // EA + 4*(offset >> 5) (32-bit) / EA + 2*(offset >> 4) (16-bit); that sum
  // is an effective address, so with a 16-bit address size it wraps at 64 KiB
  // (§2.1.5 table 2-1).
  it('wraps the bit-offset address at 64 KiB with the 0x67 prefix', () => {
    const e = emu();
    e.mem.write32(0x0002, 0x00000001); // bit 0 of the wrapped unit
    e.mem.write32(0x10002, 0); // where an unwrapped sum would land
    e.mem.write32(0xfffa, 0x80000000 | 0);
    e.cpu.r32[3] = 0x7777fffe; // EBX: only BX = 0xfffe counts
    e.cpu.r32[0] = 32; // EAX: +1 dword
    step(e, [0x67, 0x0f, 0xa3, 0x07]); // bt [bx], eax
    expect([e.rec.vector, cf(e)]).toEqual([-1, 1]);
    e.cpu.r32[0] = -1; // -1 bit: dword at BX-4, bit 31
    step(e, [0x67, 0x0f, 0xa3, 0x07]);
    expect([e.rec.vector, cf(e)]).toEqual([-1, 1]);
    e.cpu.r32[0] = 31; // bit 31 of [bx]: clear
    e.mem.write32(0xfffe, 0x7fffffff);
    step(e, [0x67, 0x0f, 0xa3, 0x07]);
    expect([e.rec.vector, cf(e)]).toEqual([-1, 0]);

    // 16-bit operand: AX = 0x8000 is -32768 bits = -4096 bytes; 0x0010 - 0x1000 wraps to 0xf010.
    e.cpu.r32[3] = 0x0010;
    e.cpu.r32[0] = 0xffff8000 | 0; // upper half ignored anyway
    e.mem.write16(0xf010, 0x0000);
    step(e, [0x66, 0x67, 0x0f, 0xab, 0x07]); // bts word [bx], ax
    expect([e.rec.vector, cf(e), e.mem.read16(0xf010)]).toEqual([-1, 0, 0x0001]);
  });

  // SDM vol. 3A §5.3: the limit check applies to the unit actually accessed
  // (EA plus the bit-offset displacement); #GP(0), or #SS(0) through SS, with
  // no state change.
  it('checks the segment limit on the adjusted address', () => {
    const e = emu();
    e.cpu.loadSegCache(Seg.DS, 0x2b, 0, 0xffff, dataAttr(3));
    e.cpu.r32[6] = 0xfff0; // ESI
    e.mem.write32(0xfffc, 0x00000001);
    e.cpu.r32[0] = 96; // unit at 0xfffc: the last dword inside the limit
    step(e, [0x0f, 0xa3, 0x06]); // bt [esi], eax
    expect([e.rec.vector, cf(e)]).toEqual([-1, 1]);
    // Units at 0x10000 (bt, lock bts), at 0xfff0 - 0x10000 = 0xfffffff0 (btc with
    // -0x80000 bits), and 16-bit: offset 145 → word at 0xfff0 + 2*9 = 0x10002 (btr).
    for (const [off, code] of [[128, [0x0f, 0xa3, 0x06]], [128, [0xf0, 0x0f, 0xab, 0x06]], [-0x80000, [0x0f, 0xbb, 0x06]], [145, [0x66, 0x0f, 0xb3, 0x06]]] as const) {
      e.cpu.r32[0] = off;
      e.cpu.flags = 0x8d4 | 2;
      e.cpu.lfLazy = 0;
      const before = snapshot(e, 0xffe0, 32);
      step(e, [...code]);
      expect([e.rec.vector, e.rec.err]).toEqual([13, 0]);
      expect(e.cpu.eip).toBe(CODE);
      expect(snapshot(e, 0xffe0, 32)).toEqual(before);
    }
    e.cpu.loadSegCache(Seg.SS, 0x2b, 0, 0xffff, dataAttr(3));
    e.cpu.r32[5] = 0xfff0; // EBP
    e.cpu.r32[0] = 128;
    step(e, [0x0f, 0xa3, 0x45, 0x00]); // bt [ebp+0], eax
    expect([e.rec.vector, e.rec.err]).toEqual([12, 0]);
  });

  // SDM vol. 3A §3.4.5.1: a read-only data segment can be read (BT) but not
  // written (BTS/BTR/BTC, SETcc).
  it('reads but does not write a read-only data segment', () => {
    const e = emu();
    e.cpu.loadSegCache(Seg.DS, 0x2b, 0, 0xffffffff, dataAttr(1));
    e.cpu.r32[6] = 0x5000;
    e.mem.write32(0x5000, 0x10);
    step(e, [0x0f, 0xba, 0x26, 4]); // bt dword [esi], 4
    expect([e.rec.vector, cf(e)]).toEqual([-1, 1]);
    for (const code of [[0x0f, 0xba, 0x3e, 4], [0x0f, 0xbb, 0x06], [0x0f, 0x94, 0x06]]) {
      const before = snapshot(e, 0x5000, 8);
      step(e, code);
      expect([e.rec.vector, e.rec.err]).toEqual([13, 0]);
      expect(snapshot(e, 0x5000, 8)).toEqual(before);
    }
  });

  // SDM vol. 3A §4.6 and §6.5: a user write to a read-only page is #PF with
  // error code P|W|U = 7, raised before CF or memory change; BT only reads.
  it('faults on a read-only page before changing CF or memory', () => {
    const e = emu();
    paging(e, [0x6000]);
    e.cpu.r32[6] = 0x6000;
    e.mem.write32(0x6000, 0);
    e.cpu.r32[0] = 3;
    e.cpu.flags = 0x2 | 1; // CF = 1; the bit is 0, so a premature update would clear it
    step(e, [0x0f, 0xa3, 0x06]); // bt [esi], eax
    expect([e.rec.vector, cf(e)]).toEqual([-1, 0]);
    // lock bts [esi], eax (bit 5); btr word [esi], 3; btc [esi-4], eax with bit
    // offset 37 (unit esi-4+4); setz [esi]. Each touches 0x6000 first.
    for (const [code, off] of [[[0xf0, 0x0f, 0xab, 0x06], 5], [[0x66, 0x0f, 0xba, 0x36, 3], 0], [[0x0f, 0xbb, 0x46, 0xfc], 37], [[0x0f, 0x94, 0x06], 0]] as const) {
      e.cpu.flags = 0x2 | 1;
      e.cpu.lfLazy = 0;
      e.cpu.r32[0] = off;
      const before = snapshot(e, 0x5ff0, 32);
      step(e, [...code]);
      expect([e.rec.vector, e.rec.err]).toEqual([14, 7]);
      expect(e.cpu.cr2 >>> 0).toBe(0x6000);
      expect(snapshot(e, 0x5ff0, 32)).toEqual(before);
    }
  });

  // SDM vol. 2A "CMOVcc": the source operand is read whether or not the
  // condition holds, so an out-of-limit source faults even when false.
  it('faults on a CMOVcc memory source even when the condition is false', () => {
    const e = emu();
    e.cpu.loadSegCache(Seg.DS, 0x2b, 0, 0xfff, dataAttr(3));
    e.cpu.r32[6] = 0xffe;
    e.cpu.r32[0] = 0x1234;
    e.cpu.flags = 0x2; // ZF = 0: CMOVZ is false
    step(e, [0x0f, 0x44, 0x06]); // cmovz eax, [esi]
    expect([e.rec.vector, e.rec.err, e.cpu.r32[0]]).toEqual([13, 0, 0x1234]);
    e.cpu.r32[6] = 0xffc; // in range, still false: no change
    step(e, [0x0f, 0x44, 0x06]);
    expect([e.rec.vector, e.cpu.r32[0]]).toEqual([-1, 0x1234]);
  });
});
