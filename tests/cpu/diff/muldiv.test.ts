/**
 * Multiply/divide/sign-extension/decimal-adjust family against the host CPU:
 * MUL, IMUL (one-, two- and three-operand, 69 and 6B), DIV, IDIV (#DE on a
 * zero divisor and on quotient overflow), CBW/CWDE/CWD/CDQ, DAA/DAS/AAA/AAS
 * (exhaustive over AL x AF x CF), AAM/AAD with several bases (AAM 0 -> #DE)
 * and SALC, at every operand size, with register and memory operands,
 * segment overrides, edge values and thousands of random cases.
 *
 * Every case compares all six arithmetic flags: for the flags the SDM calls
 * undefined we reproduce what the reference host (AMD EPYC) does (see the
 * header of src/vmm/cpu/families/muldiv.ts). Initial EFLAGS are random, so
 * "left unchanged" and "computed" cannot be confused.
 *
 * What ring 3 on Linux cannot show (16-bit addressing, which can only reach
 * the unmapped first 64 KiB; segment-limit faults; 16-bit code segments)
 * is checked in the emulator alone, with hand-built state, at the end.
 */
import { describe, expect, it } from 'vitest';
import { buildAndRunNative, diffSuite, EDGE32, rng, type DiffCase } from './harness.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu, flatAttr } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, Seg, SA, type Delivery, type IntKind } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';
import { imulHi32, mulHi32 } from '../../../src/vmm/cpu/families/muldiv.js';

const SCRATCH = 0x80000;
const E8 = [0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xfe, 0xff];
const E16 = [0, 1, 2, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff];
const E32 = EDGE32;

function le32(...ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const dv = new DataView(b.buffer);
  ws.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  return b;
}
const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
/** Sign-extend the low `bits` bits of n to a BigInt. */
const sx = (n: bigint, bits: number): bigint => BigInt.asIntN(bits, n);

function multiplyCases(r: () => number): DiffCase[] {
  const out: DiffCase[] = [];
  const fl = (): number => r() & 0xcd5;
  for (const op of ['mul', 'imul']) {
    // Edge products at every size; garbage in the bits above the operand
    // size must survive (AX/EAX upper halves, EDX upper half).
    for (const a of E32) for (const b of [0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff, 0x10000, 0xffff, 0x8000]) {
      out.push({ name: `${op}l ${hex(a)}*${hex(b)}`, code: `  ${op}l %ebx`, regs: { eax: a, ebx: b, edx: r() }, eflags: fl() });
    }
    for (const a of E16) for (const b of E16) {
      out.push({ name: `${op}w ${hex(a)}*${hex(b)}`, code: `  ${op}w %cx`, regs: { eax: (r() & 0xffff0000) | a, ecx: b, edx: r() }, eflags: fl() });
    }
    for (const a of E8) for (const b of E8) {
      out.push({ name: `${op}b ${hex(a)}*${hex(b)}`, code: `  ${op}b %dl`, regs: { eax: (r() & 0xffffff00) | a, edx: b }, eflags: fl() });
      out.push({ name: `${op}b ah ${hex(a)}*${hex(b)}`, code: `  ${op}b %ah`, regs: { eax: (r() & 0xffff0000) | (b << 8) | a }, eflags: fl() });
    }
    for (let k = 0; k < 120; k++) {
      const a = r(), b = k % 3 === 0 ? r() & 0xffff : r();
      out.push({ name: `${op}l rnd ${k}`, code: `  ${op}l %esi`, regs: { eax: a, esi: b, edx: r() }, eflags: fl() });
      out.push({ name: `${op}l mem ${k}`, code: `  ${op}l scratch+8`, regs: { eax: a, edx: r() }, mem: le32(r(), r(), b), eflags: fl() });
      out.push({ name: `${op}l sib ${k}`, code: `  ${op}l %ss:4(%esi,%edi,4)`, regs: { eax: a, esi: SCRATCH, edi: 3 }, mem: le32(0, 0, 0, 0, b), eflags: fl() });
      out.push({ name: `${op}l self ${k}`, code: `  ${op}l %eax`, regs: { eax: a }, eflags: fl() });
      out.push({ name: `${op}l edx ${k}`, code: `  ${op}l %edx`, regs: { eax: a, edx: b }, eflags: fl() });
      out.push({ name: `${op}w rnd ${k}`, code: `  ${op}w %di`, regs: { eax: a, edi: b, edx: r() }, eflags: fl() });
      out.push({ name: `${op}w mem ${k}`, code: `  ${op}w %cs:scratch+6`, regs: { eax: a, edx: r() }, mem: le32(r(), b), eflags: fl() });
      out.push({ name: `${op}b rnd ${k}`, code: `  ${op}b %bh`, regs: { eax: a, ebx: b }, eflags: fl() });
      out.push({ name: `${op}b mem ${k}`, code: `  ${op}b %es:1(%esi)`, regs: { eax: a, esi: SCRATCH }, mem: le32(b), eflags: fl() });
    }
    // Lazy flags from an earlier instruction: MUL/IMUL must leave SF/ZF/AF/PF
    // exactly as the ADD/SUB computed them.
    for (let k = 0; k < 60; k++) {
      out.push({ name: `add;${op}l ${k}`, code: `  addl %ecx, %ebx\n  ${op}l %ebx`, regs: { eax: r(), ebx: r(), ecx: r() }, eflags: fl() });
      out.push({ name: `sub;${op}b ${k}`, code: `  subb %cl, %bl\n  ${op}b %bl`, regs: { eax: r(), ebx: r(), ecx: r() }, eflags: fl() });
    }
  }

  // IMUL two-operand (0F AF) and three-operand (69 Iz, 6B Ib).
  for (const a of E32) for (const b of [0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 0xffff, 0x8000, 2]) {
    out.push({ name: `imull2 ${hex(a)}*${hex(b)}`, code: `  imull %ebx, %ecx`, regs: { ecx: a, ebx: b }, eflags: fl() });
    out.push({ name: `imulw2 ${hex(a)}*${hex(b)}`, code: `  imulw %bx, %cx`, regs: { ecx: a, ebx: b }, eflags: fl() });
    out.push({ name: `imull3 ${hex(a)}*${hex(b)}`, code: `  imull $${b | 0}, %ebx, %edx`, regs: { ebx: a, edx: r() }, eflags: fl() });
    out.push({ name: `imulw3 ${hex(a)}*${hex(b)}`, code: `  imulw $${(b << 16) >> 16}, %si, %di`, regs: { esi: a, edi: r() }, eflags: fl() });
  }
  for (const imm of [0, 1, -1, 2, 0x7f, -0x80, 0x55, -3]) {
    for (const a of E32) {
      out.push({ name: `imull 6b ${imm}*${hex(a)}`, code: `  imull $${imm}, %eax, %eax`, regs: { eax: a }, eflags: fl() });
      out.push({ name: `imulw 6b ${imm}*${hex(a)}`, code: `  imulw $${imm}, %bp, %ax`, regs: { ebp: a, eax: r() }, eflags: fl() });
      // The long forms (69) with the same small immediates.
      out.push({ name: `imull 69 ${imm}*${hex(a)}`, code: `  .byte 0x69, 0xcb\n  .long ${imm}`, regs: { ebx: a, ecx: r() }, eflags: fl() });
      out.push({ name: `imulw 69 ${imm}*${hex(a)}`, code: `  .byte 0x66, 0x69, 0xcb\n  .word ${imm & 0xffff}`, regs: { ebx: a, ecx: r() }, eflags: fl() });
    }
  }
  for (let k = 0; k < 150; k++) {
    const a = r(), b = k % 4 === 0 ? (r() & 0xffff) - 0x8000 : r() | 0, c = r();
    out.push({ name: `imull2 rnd ${k}`, code: `  imull %edi, %esi`, regs: { esi: a, edi: b }, eflags: fl() });
    out.push({ name: `imull2 mem ${k}`, code: `  imull scratch+12, %edx`, regs: { edx: a }, mem: le32(0, 0, 0, b), eflags: fl() });
    out.push({ name: `imulw2 rnd ${k}`, code: `  imulw %ax, %bx`, regs: { eax: a, ebx: c }, eflags: fl() });
    out.push({ name: `imulw2 mem ${k}`, code: `  imulw %ds:2(%esi), %di`, regs: { esi: SCRATCH, edi: c }, mem: le32(b << 16), eflags: fl() });
    out.push({ name: `imull3 rnd ${k}`, code: `  imull $${b}, %ecx, %eax`, regs: { ecx: a }, eflags: fl() });
    out.push({ name: `imull3 mem ${k}`, code: `  imull $${(c << 24) >> 24}, 4(%esi), %ebx`, regs: { esi: SCRATCH }, mem: le32(0, a), eflags: fl() });
    out.push({ name: `imulw3 rnd ${k}`, code: `  imulw $${(b << 16) >> 16}, %dx, %dx`, regs: { edx: a }, eflags: fl() });
    out.push({ name: `imulw3 mem ${k}`, code: `  imulw $${(c << 24) >> 24}, scratch+20, %cx`, regs: { ecx: r() }, mem: le32(0, 0, 0, 0, 0, a), eflags: fl() });
    out.push({ name: `imull2 self ${k}`, code: `  imull %eax, %eax`, regs: { eax: k % 2 ? a : a & 0xffff }, eflags: fl() });
  }
  return out;
}

interface Div {
  name: string;
  code: string;
  regs: DiffCase['regs'];
  mem?: Uint8Array;
}

function divideCases(r: () => number): DiffCase[] {
  const out: DiffCase[] = [];
  const fl = (): number => r() & 0xcd5;
  const add = (d: Div): void => { out.push({ ...d, eflags: fl() }); };
  const rb = (): bigint => BigInt(r());
  const r64 = (): bigint => (rb() << 32n) | rb();

  // --- 32-bit: EDX:EAX / divisor -------------------------------------------
  const d32 = (name: string, n: bigint, d: number, op: 'div' | 'idiv', form = 0): void => {
    const u = BigInt.asUintN(64, n);
    const eax = Number(u & 0xffffffffn), edx = Number(u >> 32n);
    const forms: Div[] = [
      { name, code: `  ${op}l %ebx`, regs: { eax, edx, ebx: d } },
      { name: `${name} mem`, code: `  ${op}l scratch+8`, regs: { eax, edx }, mem: le32(r(), r(), d) },
      { name: `${name} ss:sib`, code: `  ${op}l %ss:-4(%esi,%ecx,8)`, regs: { eax, edx, esi: SCRATCH + 4, ecx: 2 }, mem: le32(0, 0, 0, 0, d) },
      { name: `${name} cs`, code: `  ${op}l %cs:scratch`, regs: { eax, edx }, mem: le32(d) },
    ];
    add(forms[form % forms.length]!);
  };
  const edgeN = [0n, 1n, -1n, 2n, -2n, 0x7fffffffn, -0x80000000n, 0x80000000n, 0xffffffffn, 0x100000000n, -0x100000000n,
    0x7fffffffffffffffn, -0x8000000000000000n, 0x1fffffffffffffn, 0x20000000000000n, 0xfffffffffffffn, 0x123456789abcdefn,
    0x7fffffff80000000n, -0x7fffffff80000000n, 0x3fffffff80000000n, -0x4000000000000000n];
  const edgeD = [0, 1, -1, 2, -2, 3, 7, 10, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0xfffffffe, 0x10000, 0x200000, 0x12345678];
  let f = 0;
  for (const n of edgeN) for (const d of edgeD) {
    d32(`divl ${n}/${hex(d)}`, n, d, 'div', f++);
    d32(`idivl ${n}/${d | 0}`, n, d, 'idiv', f++);
  }
  // Quotient boundaries. DIV: q = 2^32-1 fits, EDX == divisor overflows.
  for (const d of [1, 2, 7, 0x10000, 0x200001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]) {
    const D = BigInt(d);
    d32(`divl qmax /${hex(d)}`, D * 0x100000000n - 1n, d, 'div', f++);
    d32(`divl qmax+r /${hex(d)}`, 0xffffffffn * D + D - 1n, d, 'div', f++);
    d32(`divl qover /${hex(d)}`, D * 0x100000000n, d, 'div', f++);
  }
  // IDIV: quotients 2^31-1 and -2^31 fit; 2^31 and -2^31-1 overflow (either
  // remainder sign), including INT_MIN / -1 as a 64-bit and a 32-bit dividend.
  for (const d of [1, -1, 2, -2, 3, -3, 0x7fffffff, -0x7fffffff, 0x10001, -0x10001]) {
    const D = BigInt(d), ad = D < 0n ? -D : D;
    for (const q of [0x7fffffffn, -0x80000000n, 0x80000000n, -0x80000001n, 0x7ffffffen, -0x7fffffffn]) {
      const rem = ad > 1n ? (q * D < 0n ? -(ad - 1n) : ad - 1n) : 0n;
      d32(`idivl q=${q} d=${d}`, q * D, d, 'idiv', f++);
      d32(`idivl q=${q} d=${d} r=${rem}`, q * D + rem, d, 'idiv', f++);
    }
  }
  // Random quotients in range: DIV with EDX < divisor (both the single-double
  // path, EDX < 2^21, and the long-division path), IDIV from q*d + r.
  for (let k = 0; k < 400; k++) {
    const d = k % 5 === 0 ? (r() >>> (r() % 32)) || 1 : r() || 1;
    const hi = k % 2 === 0 ? r() % d : (r() >>> 11) % d;
    d32(`divl rnd ${k}`, (BigInt(hi) << 32n) | rb(), d, 'div', k);
    const ds = (k % 3 === 0 ? (r() | 0) >> (r() % 31) : r() | 0) || -1;
    const q = BigInt((k % 4 === 0 ? (r() | 0) >> (r() % 31) : r() | 0));
    const D = BigInt(ds), ad = D < 0n ? -D : D;
    let rem = BigInt(r()) % ad;
    if (q * D < 0n || (q === 0n && k % 2 === 0)) rem = -rem;
    d32(`idivl rnd ${k}`, q * D + rem, ds, 'idiv', k);
  }
  // Fully random 64-bit dividends: mostly #DE, sometimes not.
  for (let k = 0; k < 80; k++) {
    d32(`divl raw ${k}`, r64(), r(), 'div', k);
    d32(`idivl raw ${k}`, r64() >> BigInt(r() % 64), r() | 0, 'idiv', k);
    d32(`idivl cdq ${k}`, sx(rb(), 32), (r() | 0) >> (r() % 32), 'idiv', k);
  }
  // Register overlaps: the divisor is part of the dividend.
  for (let k = 0; k < 30; k++) {
    const a = r(), dd = r() >>> (r() % 32);
    add({ name: `divl eax ${k}`, code: '  divl %eax', regs: { eax: a || 1, edx: a ? dd % a : 0 } });
    add({ name: `divl edx ${k}`, code: '  divl %edx', regs: { eax: a, edx: dd } });
    add({ name: `idivl edx ${k}`, code: '  idivl %edx', regs: { eax: a, edx: k % 2 ? dd : -dd | 0 } });
    add({ name: `idivl eax ${k}`, code: '  idivl %eax', regs: { eax: a, edx: a >> 31 } });
  }

  // --- 16-bit: DX:AX / divisor ---------------------------------------------
  const d16 = (name: string, n: number, d: number, op: 'div' | 'idiv', form: number): void => {
    const ax = n & 0xffff, dx = (n >>> 16) & 0xffff;
    const eax = (r() & 0xffff0000) | ax, edx = (r() & 0xffff0000) | dx;
    const forms: Div[] = [
      { name, code: `  ${op}w %bx`, regs: { eax, edx, ebx: (r() & 0xffff0000) | d } },
      { name: `${name} mem`, code: `  ${op}w scratch+10`, regs: { eax, edx }, mem: le32(0, 0, d << 16) },
      { name: `${name} ss`, code: `  ${op}w %ss:(%ebp)`, regs: { eax, edx, ebp: SCRATCH + 2 }, mem: le32(d << 16) },
      { name: `${name} es`, code: `  ${op}w %es:6(%edi,%ecx)`, regs: { eax, edx, edi: SCRATCH, ecx: 2 }, mem: le32(0, 0, d) },
    ];
    add(forms[form % forms.length]!);
  };
  const edgeN16 = [0, 1, -1, 2, 0x7fff, -0x8000, 0x8000, 0xffff, 0x10000, -0x10000, 0x7fffffff, -0x80000000, 0x7fff8000, 0x1fffe, -0x7fff8000, 0x12345678];
  const edgeD16 = [0, 1, 0xffff, 2, 0xfffe, 3, 10, 0x7fff, 0x8000, 0x8001, 0x100];
  for (const n of edgeN16) for (const d of edgeD16) {
    d16(`divw ${hex(n)}/${hex(d)}`, n, d, 'div', f++);
    d16(`idivw ${hex(n)}/${hex(d)}`, n, d, 'idiv', f++);
  }
  for (let k = 0; k < 300; k++) {
    const d = (r() >>> (16 + (r() % 16))) || 1;
    d16(`divw rnd ${k}`, ((r() % d) * 0x10000 + (r() & 0xffff)) | 0, d, 'div', k);
    const ds = ((r() << 16) >> (16 + (r() % 16))) || 1;
    const q = k % 7 === 0 ? [0x7fff, -0x8000, 0x8000, -0x8001][k % 4]! : (r() << 16) >> 16;
    let rem = r() % Math.abs(ds);
    if (q * ds < 0) rem = -rem;
    d16(`idivw rnd ${k}`, q * ds + rem, ds & 0xffff, 'idiv', k);
    d16(`divw raw ${k}`, r(), r() & 0xffff, 'div', k + 1);
    d16(`idivw raw ${k}`, (r() | 0) >> (r() % 32), r() & 0xffff, 'idiv', k + 1);
  }
  for (let k = 0; k < 20; k++) {
    add({ name: `divw dx ${k}`, code: '  divw %dx', regs: { eax: r(), edx: r() } });
    add({ name: `divw ax ${k}`, code: '  divw %ax', regs: { eax: r() | 1, edx: r() & 0x3f } });
    add({ name: `idivw dx ${k}`, code: '  idivw %dx', regs: { eax: r(), edx: r() >> (r() % 16) } });
  }

  // --- 8-bit: AX / divisor -------------------------------------------------
  const d8 = (name: string, ax: number, d: number, op: 'div' | 'idiv', form: number): void => {
    const eax = (r() & 0xffff0000) | (ax & 0xffff);
    const forms: Div[] = [
      { name, code: `  ${op}b %cl`, regs: { eax, ecx: (r() & ~0xff) | d } },
      { name: `${name} bh`, code: `  ${op}b %bh`, regs: { eax, ebx: (r() & ~0xff00) | (d << 8) } },
      { name: `${name} mem`, code: `  ${op}b scratch+5`, regs: { eax }, mem: le32(0, d << 8) },
      { name: `${name} cs`, code: `  ${op}b %cs:(%esi)`, regs: { eax, esi: SCRATCH + 3 }, mem: le32(d << 24) },
    ];
    add(forms[form % forms.length]!);
  };
  for (const n of [0, 1, 0xff, 0x100, 0x7f, 0x80, 0xff80, 0xff7f, 0x7fff, 0x8000, 0xffff, 0xfeff, 0xff00, 0x3fff, 0xc000]) {
    for (const d of [0, 1, 0xff, 2, 0xfe, 3, 0x7f, 0x80, 0x81, 10]) {
      d8(`divb ${hex(n)}/${hex(d)}`, n, d, 'div', f++);
      d8(`idivb ${hex(n)}/${hex(d)}`, n, d, 'idiv', f++);
    }
  }
  for (let k = 0; k < 300; k++) {
    const d = (r() & 0xff) || 1;
    d8(`divb rnd ${k}`, (r() % d) * 256 + (r() & 0xff), d, 'div', k);
    const ds = ((r() << 24) >> (24 + (r() % 8))) || -1;
    const q = k % 7 === 0 ? [0x7f, -0x80, 0x80, -0x81][k % 4]! : (r() << 24) >> 24;
    let rem = r() % Math.abs(ds);
    if (q * ds < 0) rem = -rem;
    d8(`idivb rnd ${k}`, q * ds + rem, ds & 0xff, 'idiv', k);
    d8(`divb raw ${k}`, r(), r() & 0xff, 'div', k + 2);
    d8(`idivb raw ${k}`, r(), r() & 0xff, 'idiv', k + 2);
  }
  for (let k = 0; k < 20; k++) {
    add({ name: `divb ah ${k}`, code: '  divb %ah', regs: { eax: r() } });
    add({ name: `divb al ${k}`, code: '  divb %al', regs: { eax: (r() & 0xffff00ff) | 0x100 } });
    add({ name: `idivb al ${k}`, code: '  idivb %al', regs: { eax: r() | 1 } });
  }

  // Flags left by an earlier ADD: DIV keeps CF/OF (lazy), sets the rest.
  for (let k = 0; k < 40; k++) {
    add({ name: `add;divl ${k}`, code: '  addl %ecx, %ebx\n  divl %esi', regs: { eax: r(), edx: 0, ebx: r(), ecx: r(), esi: r() || 1 } });
    add({ name: `sub;idivw ${k}`, code: '  subw %cx, %bx\n  idivw %si', regs: { eax: r(), edx: 0, ebx: r(), ecx: r(), esi: (r() & 0x7fff) | 0x100 } });
  }
  // LOCK is not allowed on any of these: #UD before anything else.
  add({ name: 'lock divl', code: '  .byte 0xf0\n  divl scratch', regs: { eax: 5 }, mem: le32(0) });
  add({ name: 'lock mull', code: '  .byte 0xf0\n  mull scratch', regs: { eax: 5 }, mem: le32(3) });
  add({ name: 'lock imul 0faf', code: '  .byte 0xf0\n  imull scratch, %eax', regs: { eax: 5 }, mem: le32(3) });
  return out;
}

function extendCases(r: () => number): DiffCase[] {
  const out: DiffCase[] = [];
  const vals = [...E32, 0x7f, 0x80, 0xff80, 0x8080, 0x80007f00];
  for (let k = 0; k < vals.length + 40; k++) {
    const a = k < vals.length ? vals[k]! : r();
    for (const code of ['cbtw', 'cwtl', 'cwtd', 'cltd']) {
      out.push({ name: `${code} ${hex(a)}`, code: `  ${code}`, regs: { eax: a, edx: r() }, eflags: r() & 0xcd5 });
    }
  }
  // SALC (D6): AL = CF ? FF : 00, from a stored and from a lazily derived CF.
  for (let k = 0; k < 40; k++) {
    out.push({ name: `salc ${k}`, code: '  .byte 0xd6', regs: { eax: r() }, eflags: r() & 0xcd5 });
    out.push({ name: `cmp;salc ${k}`, code: '  cmpl %ecx, %ebx\n  .byte 0xd6', regs: { eax: r(), ebx: r(), ecx: r() }, eflags: r() & 0xcd5 });
  }
  return out;
}

function bcdCases(r: () => number): DiffCase[] {
  const out: DiffCase[] = [];
  // Exhaustive over AL, AF and CF; AH and the other flags random.
  for (const op of ['daa', 'das', 'aaa', 'aas']) {
    for (let al = 0; al < 256; al++) for (let fc = 0; fc < 4; fc++) {
      const eflags = (r() & 0xcd5 & ~0x11) | (fc & 1) | ((fc & 2) << 3);
      out.push({ name: `${op} al=${hex(al)} cf=${fc & 1} af=${fc >> 1}`, code: `  ${op}`, regs: { eax: (r() & ~0xff) | al }, eflags });
    }
  }
  // AAA/AAS carry/borrow between AL and AH at the AX extremes.
  for (const ax of [0x00fa, 0x00ff, 0xfffa, 0xffff, 0x7ffa, 0x7f8b, 0x8000, 0x8005, 0x0000, 0x0005, 0xff00, 0x80fa]) {
    for (const af of [0, 0x10]) {
      out.push({ name: `aaa ax=${hex(ax)} af=${af}`, code: '  aaa', regs: { eax: 0x12340000 | ax }, eflags: af });
      out.push({ name: `aas ax=${hex(ax)} af=${af}`, code: '  aas', regs: { eax: 0x12340000 | ax }, eflags: af });
    }
  }
  // The usual pairings: AF/CF come from the lazily evaluated ADD/SUB.
  for (let k = 0; k < 150; k++) {
    const a = r(), b = r(), eflags = r() & 0xcd5;
    out.push({ name: `add;daa ${k}`, code: '  addb %bl, %al\n  daa', regs: { eax: a, ebx: b }, eflags });
    out.push({ name: `sub;das ${k}`, code: '  subb %bl, %al\n  das', regs: { eax: a, ebx: b }, eflags });
    out.push({ name: `add;aaa ${k}`, code: '  addb %bl, %al\n  aaa', regs: { eax: a, ebx: b }, eflags });
    out.push({ name: `sub;aas ${k}`, code: '  subb %bl, %al\n  aas', regs: { eax: a, ebx: b }, eflags });
    out.push({ name: `adc;daa ${k}`, code: '  adcb $0x99, %al\n  daa', regs: { eax: a }, eflags });
  }
  // AAM / AAD with the default base 10 and others (the 0x66 prefix changes nothing).
  for (const base of [10, 7, 1, 2, 16, 0x80, 0xff, 0]) {
    const aam = base === 10 ? 'aam' : `.byte 0xd4, ${base}`;
    const aad = base === 10 ? 'aad' : `.byte 0xd5, ${base}`;
    for (let al = 0; al < 256; al += base === 10 || base === 0 ? 1 : 3) {
      out.push({ name: `aam${base} al=${hex(al)}`, code: `  ${aam}`, regs: { eax: (r() & ~0xff) | al }, eflags: r() & 0xcd5 });
      out.push({ name: `aad${base} al=${hex(al)}`, code: `  ${aad}`, regs: { eax: (r() & ~0xff) | al }, eflags: r() & 0xcd5 });
    }
  }
  out.push({ name: 'o16 aam', code: '  .byte 0x66, 0xd4, 10', regs: { eax: 0xffff00ff }, eflags: 0x8d5 });
  out.push({ name: 'o16 aad', code: '  .byte 0x66, 0xd5, 10', regs: { eax: 0xffff0909 } });
  return out;
}

function allCases(): DiffCase[] {
  const r = rng(0x3d1f);
  return [...multiplyCases(r), ...divideCases(r), ...extendCases(r), ...bcdCases(r)];
}

describe('MUL/DIV/BCD family vs host CPU', () => {
  const all = allCases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('muldiv', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('muldiv', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  it('is not vacuous: many cases raise #DE on the host and many complete', () => {
    // The native run is cached by the first test; count its outcomes.
    const built = buildAndRunNative('muldiv', all);
    const de = built.native.filter((n) => n.vector === 0).length;
    const done = built.native.filter((n, k) => n.vector === 13 && n.eip === built.addrs[k]!.end).length;
    expect(de).toBeGreaterThan(1000);
    expect(done).toBeGreaterThan(all.length - de - 10);
  });
});

// --- exact wide multiplication against BigInt ------------------------------------

describe('mulHi32 / imulHi32', () => {
  it('match BigInt products on edge and random operands', () => {
    const r = rng(77);
    const vals: number[] = [...E32, 0x10000, 0xffff0000, 0x0000ffff, 0x80008000];
    for (let k = 0; k < 20000; k++) vals.push(r() >>> (k % 4 === 0 ? r() % 32 : 0));
    for (let k = 0; k < vals.length; k++) {
      const a = vals[k]!, b = vals[(k * 7 + 3) % vals.length]!;
      const pu = BigInt(a >>> 0) * BigInt(b >>> 0);
      const ps = BigInt(a | 0) * BigInt(b | 0);
      expect(mulHi32(a, b)).toBe(Number(BigInt.asIntN(32, pu >> 32n)));
      expect(imulHi32(a | 0, b | 0)).toBe(Number(BigInt.asIntN(32, ps >> 32n)));
    }
  });
});

// --- emulator-only checks ----------------------------------------------------------

/** Records the first exception and stops. */
class Catch implements Delivery {
  vector = -1;
  err = -1;
  deliver(cpu: Cpu, vector: number, _kind: IntKind, errorCode: number): void {
    this.vector = vector;
    this.err = errorCode;
    cpu.requestExit(Exit.STOPPED);
  }
}

const CODE = 0x4000;

/** A CPL-0 flat CPU with `bytes` at CODE; run one instruction. */
function runOne(bytes: number[], setup: (c: Cpu, m: PhysMemory) => void): { cpu: Cpu; fault: Catch } {
  const mem = new PhysMemory(1 << 20);
  const fault = new Catch();
  const cpu = createCpu(mem, { delivery: fault });
  mem.writeBytes(CODE, new Uint8Array(bytes));
  cpu.eip = CODE;
  setup(cpu, mem);
  run(cpu, 1);
  return { cpu, fault };
}

describe('emulator-only forms', () => {
  it('16-bit addressing (0x67): [bx+si+disp8] with DS, [bp+di] with SS, 16-bit wrap-around', () => {
    // SDM vol. 2 §2.1.5 table 2-1: rm=000 is [BX+SI], rm=011 is [BP+DI]
    // (default segment SS); the offset is computed modulo 2^16.
    // 67 F7 60 10: mul dword [bx+si+10h]
    let { cpu, fault } = runOne([0x67, 0xf7, 0x60, 0x10], (c, m) => {
      c.r32[0] = 0x10001; c.r32[3] = 0x1000; c.r32[6] = 0x234;
      m.write32(0x1244, 0x30003);
    });
    expect(fault.vector).toBe(-1);
    expect(cpu.r32[0]! >>> 0).toBe(0x60003); // 0x10001 * 0x30003 = 0x3_0006_0003
    expect(cpu.r32[2]).toBe(3);
    expect(readEflags(cpu) & 0x801).toBe(0x801);
    // 67 66 F7 73 FE: div word [bp+di-2], SS base 0x10000; BP+DI-2 wraps to 0x0010.
    ({ cpu, fault } = runOne([0x67, 0x66, 0xf7, 0x73, 0xfe], (c, m) => {
      c.loadSegCache(Seg.SS, 0x18, 0x10000, 0xffff, flatAttr(false, 0));
      c.r32[0] = 0xdead1235; c.r32[2] = 0xbeef0000 | 0; c.r32[5] = 0xfff0; c.r32[7] = 0x22;
      m.write16(0x10010, 7);
    }));
    expect(fault.vector).toBe(-1);
    expect(cpu.r32[0]! >>> 0).toBe((0xdead0000 | Math.floor(0x1235 / 7)) >>> 0);
    expect(cpu.r32[2]! >>> 0).toBe((0xbeef0000 | (0x1235 % 7)) >>> 0);
    // 67 6B 47 02 FD: imul eax, [bx+2], -3 (16-bit address, 32-bit operand)
    ({ cpu, fault } = runOne([0x67, 0x6b, 0x47, 0x02, 0xfd], (c, m) => {
      c.r32[3] = 0xfffe; m.write32(0x0000, 0x40000000);
    }));
    expect(fault.vector).toBe(-1);
    expect(cpu.r32[0]! >>> 0).toBe(0x40000000);
    expect(readEflags(cpu) & 0x801).toBe(0x801);
  });

  it('a memory operand beyond the segment limit faults before #DE and changes nothing', () => {
    // SDM vol. 3A §5.3: an offset beyond the limit raises #GP(0) (#SS(0) for
    // SS); DIV's #DE check comes after its operand is read.
    const setup = (c: Cpu): void => {
      c.loadSegCache(Seg.DS, 0x20, 0x2000, 0xfff, flatAttr(false, 0) & ~SA.G);
      c.r32[0] = 0x1234; c.r32[2] = 0x5678; c.r32[3] = 0xffe;
      c.flags = 0x8d7;
    };
    // F7 33: div dword [ebx] at DS:0xffe, bytes 0xffe..0x1001 cross the limit.
    let { cpu, fault } = runOne([0xf7, 0x33], setup);
    expect(fault.vector).toBe(13);
    expect(fault.err).toBe(0);
    expect([cpu.r32[0], cpu.r32[2], cpu.eip, readEflags(cpu)]).toEqual([0x1234, 0x5678, CODE, 0x8d7]);
    // 36 F6 23: mul byte [ss:ebx] with an SS limit of 0xfff: #SS(0).
    ({ cpu, fault } = runOne([0x36, 0xf6, 0x23], (c) => {
      setup(c);
      c.loadSegCache(Seg.SS, 0x28, 0, 0xfff, flatAttr(false, 0) & ~SA.G);
      c.r32[3] = 0x1000;
    }));
    expect(fault.vector).toBe(12);
    expect([cpu.r32[0], cpu.eip, readEflags(cpu)]).toEqual([0x1234, CODE, 0x8d7]);
    // Within the limit, a zero divisor gives #DE, still with nothing changed.
    ({ cpu, fault } = runOne([0xf7, 0x33], (c) => { setup(c); c.r32[3] = 0xffc; }));
    expect(fault.vector).toBe(0);
    expect([cpu.r32[0], cpu.r32[2], cpu.eip, readEflags(cpu)]).toEqual([0x1234, 0x5678, CODE, 0x8d7]);
  });

  it('in a 16-bit code segment the operand sizes swap (0x66 selects 32 bits)', () => {
    // SDM vol. 1 §3.6: D = 0 makes 16 bits the default; 66h toggles.
    const code16 = (c: Cpu): void => {
      c.loadSegCache(Seg.CS, 0x08, 0, 0xffff, flatAttr(true, 0) & ~(SA.DB | SA.G));
      c.r32[0] = 0x1234ffff; c.r32[2] = 0x55550000 | 0; c.r32[3] = 0x7777ffff;
    };
    // F7 E3: mul bx -> DX:AX = 0xffff * 0xffff = 0xfffe0001
    let { cpu } = runOne([0xf7, 0xe3], code16);
    expect(cpu.r32[0]! >>> 0).toBe(0x12340001);
    expect(cpu.r32[2]! >>> 0).toBe(0x5555fffe);
    // 66 F7 E3: mul ebx -> EDX:EAX = 0x1234ffff * 0x7777ffff
    ({ cpu } = runOne([0x66, 0xf7, 0xe3], code16));
    const p = 0x1234ffffn * 0x7777ffffn;
    expect(cpu.r32[0]! >>> 0).toBe(Number(p & 0xffffffffn));
    expect(cpu.r32[2]! >>> 0).toBe(Number(p >> 32n));
    // 98 / 66 99 in 16-bit code: CBW, then CDQ.
    ({ cpu } = runOne([0x98], (c) => { code16(c); c.r32[0] = 0x12345680; }));
    expect(cpu.r32[0]! >>> 0).toBe(0x1234ff80);
    ({ cpu } = runOne([0x66, 0x99], (c) => { code16(c); c.r32[0] = 0x80000000 | 0; }));
    expect(cpu.r32[2]! >>> 0).toBe(0xffffffff);
  });

  it('division takes the exact path for every dividend size (BigInt oracle)', () => {
    // DIV/IDIV r/m32 per SDM: quotient truncated toward zero, remainder with
    // the dividend's sign, #DE when the quotient does not fit.
    const r = rng(4242);
    const mem = new PhysMemory(1 << 20);
    const fault = new Catch();
    const cpu = createCpu(mem, { delivery: fault });
    mem.writeBytes(CODE, new Uint8Array([0xf7, 0xf3, 0xf7, 0xfb])); // div ebx; idiv ebx
    for (let k = 0; k < 5000; k++) {
      const signed = (k & 1) === 1;
      const shift = BigInt(r() % 64);
      const raw = (BigInt(r()) << 32n) | BigInt(r());
      const n = BigInt.asUintN(64, (signed ? BigInt.asIntN(64, raw) : raw) >> shift);
      const d = r() >>> (r() % 32);
      cpu.r32[0] = Number(n & 0xffffffffn); cpu.r32[2] = Number((n >> 32n) & 0xffffffffn); cpu.r32[3] = d;
      cpu.eip = CODE + (signed ? 2 : 0);
      fault.vector = -1;
      run(cpu, 1);
      let want: [number, number] | null = null;
      if (d !== 0) {
        const N = signed ? BigInt.asIntN(64, n) : n, Dv = signed ? BigInt(d | 0) : BigInt(d);
        if (Dv !== 0n) {
          const q = N / Dv, rem = N % Dv; // BigInt division truncates toward zero
          const fits = signed ? q >= -0x80000000n && q <= 0x7fffffffn : q <= 0xffffffffn;
          if (fits) want = [Number(BigInt.asUintN(32, q)), Number(BigInt.asUintN(32, rem))];
        }
      }
      if (want === null) expect(fault.vector, `k=${k}`).toBe(0);
      else expect([fault.vector, cpu.r32[0]! >>> 0, cpu.r32[2]! >>> 0], `k=${k} n=${n} d=${d}`).toEqual([-1, ...want]);
    }
  });
});
