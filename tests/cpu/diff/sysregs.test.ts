/**
 * System-register instructions and port I/O against the host CPU, as far as
 * ring 3 can show them (families/sysregs.ts).
 *
 * What the host shows, and what it cannot:
 *  - Privileged instructions (CLTS, INVD, WBINVD, RDMSR, WRMSR, RDPMC with
 *    CR4.PCE clear, MOV CR/DR, LGDT/LIDT, LLDT/LTR, LMSW, INVLPG) raise
 *    #GP(0) at CPL 3, before any memory operand is checked; compared.
 *  - MOV to/from CR1 and CR5-CR7 is #UD even at CPL 3 (the #UD outranks the
 *    privilege check); compared. So are the 0F 01 register forms a 686 lacks
 *    and the host also rejects with #UD, 0F 00 /6-/7, and SYSENTER (#UD on
 *    this AMD host in compatibility mode, #UD for us since CPUID has no SEP).
 *  - IN/OUT/INS/OUTS at CPL 3 with IOPL 0 and no I/O bit map (Linux gives a
 *    process none unless it calls ioperm) raise #GP(0) — even REP INS/OUTS
 *    with ECX = 0, which the host shows checks permission first; compared.
 *  - LAR/LSL/VERR/VERW are unprivileged: they are compared on every selector
 *    0-0x8f against a copy of the host kernel's GDT (the x86-64 Linux
 *    layout, seen from a 32-bit process), built into the emulator by
 *    `mirrorLinuxGdt`. LSL of 0x7b (the CPUNODE segment, whose limit is the
 *    current CPU number) is left out.
 *
 * Not comparable, so tested only in tests/cpu/system/: SGDT, SIDT, SLDT, STR
 * and SMSW (this host has UMIP on, and Linux emulates them for 32-bit
 * processes with dummy values); VMCALL/VMMCALL (the host's hypervisor
 * answers them); SYSEXIT (#GP on the host, #UD for us without SEP); RDTSCP,
 * XGETBV, MONITORX/MWAITX, CLZERO and the SVM instructions, which the host
 * has and a 686 does not; LOCK MOV CR0 (AMD's alias for CR8); everything at
 * CPL 0.
 */
import { describe, expect, it } from 'vitest';
import { encodeSegment } from '../../../src/vmm/cpu/descriptor.js';
import type { Cpu } from '../../../src/vmm/cpu/cpu.js';
import type { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { diffSuite, type DiffCase } from './harness.js';

/** Where the emulator's copy of the host GDT lives (free memory below 16 MiB). */
const GDT_COPY = 0xf00000;

/**
 * The x86-64 Linux GDT as a 32-bit process sees it (arch/x86 GDT_ENTRY_*):
 * 1 KERNEL32_CS, 2 KERNEL_CS (64-bit), 3 KERNEL_DS, 4 USER32_CS (0x23),
 * 5 USER_DS (0x2b), 6 USER_CS (64-bit, 0x33), 8-9 the 16-byte TSS
 * descriptor, 15 CPUNODE (0x7b: read-only expand-down data whose limit
 * encodes the CPU number). The rest are empty. Accessed bits are preset, as
 * the kernel does. Only DPL-3 entries are visible from ring 3, so the
 * others need only be right in type and DPL.
 */
const LINUX_GDT: readonly (readonly [number, number])[] = [
  [0, 0],
  encodeSegment(0, 0xfffff, 0x9b, 0xc),
  encodeSegment(0, 0xfffff, 0x9b, 0xa),
  encodeSegment(0, 0xfffff, 0x93, 0xc),
  encodeSegment(0, 0xfffff, 0xfb, 0xc),
  encodeSegment(0, 0xfffff, 0xf3, 0xc),
  encodeSegment(0, 0xfffff, 0xfb, 0xa),
  [0, 0],
  encodeSegment(0xfe003000, 0x4087, 0x8b, 0),
  [0xffffffff | 0, 0],
  [0, 0], [0, 0], [0, 0], [0, 0], [0, 0],
  encodeSegment(0, 0, 0xf5, 0x4),
];

function mirrorLinuxGdt(cpu: Cpu, mem: PhysMemory): void {
  LINUX_GDT.forEach(([lo, hi], k) => {
    mem.write32(GDT_COPY + 8 * k, lo);
    mem.write32(GDT_COPY + 8 * k + 4, hi);
  });
  cpu.gdtrBase = GDT_COPY;
  cpu.gdtrLimit = LINUX_GDT.length * 8 - 1;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function privilegedCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const gp = (name: string, code: string, regs: DiffCase['regs'] = {}): void => {
    out.push({ name, code, regs: { eax: 0x11111111, ecx: 0x10, edx: 0x22222222, esi: 0x80000, ...regs } });
  };
  for (const i of ['clts', 'invd', 'wbinvd', 'rdmsr', 'wrmsr', 'rdpmc']) gp(i, `  ${i}`);
  gp('rdpmc ecx=0', '  rdpmc', { ecx: 0 });
  gp('rdpmc ecx=99', '  rdpmc', { ecx: 99 });
  gp('rdmsr efer', '  rdmsr', { ecx: 0xc0000080 });
  for (const n of [0, 2, 3, 4]) {
    gp(`mov cr${n} -> eax`, `  movl %cr${n}, %eax`);
    gp(`mov ebx -> cr${n}`, `  movl %ebx, %cr${n}`);
  }
  for (let n = 0; n < 8; n++) {
    gp(`mov dr${n} -> eax`, `  .byte 0x0f,0x21,${hex(0xc0 | (n << 3))}`);
    gp(`mov eax -> dr${n}`, `  .byte 0x0f,0x23,${hex(0xc0 | (n << 3))}`);
  }
  // The privilege check comes before the memory operand is even looked at.
  for (const i of ['lgdt', 'lidt']) {
    gp(i, `  ${i} scratch`);
    gp(`${i} o16`, `  .byte 0x66\n  ${i} scratch`);
    gp(`${i} beyond 4G`, `  ${i} 0xfffffffe`);
  }
  for (const i of ['lldt', 'ltr']) {
    gp(`${i} reg`, `  ${i} %ax`, { eax: 0x28 });
    gp(`${i} mem`, `  ${i} scratch`);
    gp(`${i} null`, `  ${i} %ax`, { eax: 0 });
  }
  gp('lmsw reg', '  lmsw %ax');
  gp('lmsw mem', '  lmsw scratch');
  for (let m = 0xf0; m <= 0xf7; m++) gp(`lmsw 0f01 ${hex(m)}`, `  .byte 0x0f,0x01,${hex(m)}`);
  gp('invlpg', '  invlpg scratch');
  gp('invlpg unmapped', '  invlpg 0xfffff000');
  return out;
}

function udCases(): DiffCase[] {
  const out: DiffCase[] = [];
  for (const n of [1, 5, 6, 7]) {
    out.push({ name: `mov cr${n} -> eax`, code: `  .byte 0x0f,0x20,${hex(0xc0 | (n << 3))}` });
    out.push({ name: `mov eax -> cr${n}`, code: `  .byte 0x0f,0x22,${hex(0xc0 | (n << 3))}` });
  }
  // 0F 01 register forms that both a 686 and this host reject with #UD
  // (VMX, MONITOR/MWAIT at CPL 3, CLAC/STAC, ENCLS..., SWAPGS, ...).
  const ud01 = [0xc0, ...range(0xc2, 0xcf), ...range(0xd2, 0xd7), ...range(0xe8, 0xef), 0xf8, 0xfd, 0xfe, 0xff];
  for (const m of ud01) out.push({ name: `0f01 ${hex(m)}`, code: `  .byte 0x0f,0x01,${hex(m)}` });
  out.push({ name: '0f00 /6 reg', code: '  .byte 0x0f,0x00,0xf0' });
  out.push({ name: '0f00 /7 reg', code: '  .byte 0x0f,0x00,0xf8' });
  out.push({ name: '0f00 /6 mem', code: '  .byte 0x0f,0x00,0x35\n  .long scratch' });
  out.push({ name: 'sysenter', code: '  sysenter' });
  out.push({ name: 'lock lar', code: '  .byte 0xf0,0x0f,0x02,0xc3' });
  out.push({ name: 'lock verr', code: '  .byte 0xf0,0x0f,0x00,0xe3' });
  return out;
}

function ioCases(): DiffCase[] {
  const out: DiffCase[] = [];
  const regs = { eax: 0x11223344, ecx: 3, edx: 0x80, esi: 0x80000, edi: 0x80010 };
  const forms = ['inb $0x80, %al', 'inw $0x80, %ax', 'inl $0x80, %eax', 'inb %dx, %al', 'inw %dx, %ax', 'inl %dx, %eax',
    'outb %al, $0x80', 'outw %ax, $0x80', 'outl %eax, $0x80', 'outb %al, %dx', 'outw %ax, %dx', 'outl %eax, %dx',
    'insb', 'insw', 'insl', 'outsb', 'outsw', 'outsl', 'rep insb', 'rep outsl', 'rep insw', 'rep outsw'];
  for (const f of forms) out.push({ name: f, code: `  ${f}`, regs });
  for (const f of ['rep insb', 'rep insl', 'rep outsb', 'rep outsw']) {
    out.push({ name: `${f} ecx=0`, code: `  ${f}`, regs: { ...regs, ecx: 0 } });
    out.push({ name: `a16 ${f}`, code: `  .byte 0x67\n  ${f}`, regs });
  }
  out.push({ name: 'in port 0xffff', code: '  inl %dx, %eax', regs: { ...regs, edx: 0xffff } });
  out.push({ name: 'out fs override', code: '  .byte 0x64\n  outsb', regs });
  return out;
}

function range(a: number, b: number): number[] {
  const r: number[] = [];
  for (let k = a; k <= b; k++) r.push(k);
  return r;
}

/**
 * LAR, LSL, VERR, VERW on one selector; ECX collects the four ZF results
 * (LAR bit 16, LSL bit 24, VERR bit 0, VERW bit 8), EAX/EDX the LAR/LSL
 * destinations (0xdeadbeef unless ZF was set).
 */
function inspectCode(withLsl: boolean): string {
  return `  movl $0xdeadbeef, %eax
  movl $0xdeadbeef, %edx
  xorl %ecx, %ecx
  larl %ebx, %eax
  setz %cl
${withLsl ? '  lsll %ebx, %edx\n  setz %ch' : ''}
  shll $16, %ecx
  verr %bx
  setz %cl
  verw %bx
  setz %ch`;
}

function selectorCases(): DiffCase[] {
  const out: DiffCase[] = [];
  for (let sel = 0; sel < 0x90; sel++) {
    // Bits above the selector must be ignored.
    const ebx = (sel | (sel % 5 === 0 ? 0x5a5a0000 : 0)) >>> 0;
    const cpunode = (sel & ~7) === 0x78;
    out.push({ name: `inspect ${hex(sel)}`, code: inspectCode(!cpunode), regs: { ebx }, eflags: sel % 3 === 0 ? 0x8d5 : 0 });
  }
  for (const sel of [0x23, 0x2b, 0x33, 0x13, 0x7b, 0x83]) {
    out.push({ name: `larw ${hex(sel)}`, code: '  larw %bx, %ax', regs: { eax: 0x12345678, ebx: sel } });
    if (sel !== 0x7b) out.push({ name: `lslw ${hex(sel)}`, code: '  lslw %bx, %dx', regs: { edx: 0x12345678, ebx: sel } });
  }
  const selMem = new Uint8Array([0x2b, 0xff, 0x03, 0x00, 0x33, 0x00, 0x10, 0x00]);
  out.push({ name: 'lar mem', code: '  larl scratch, %eax', regs: { eax: 1 }, mem: selMem });
  out.push({ name: 'lsl mem', code: '  lsll scratch+4, %eax', regs: { eax: 1 }, mem: selMem });
  out.push({ name: 'verr mem', code: '  verr scratch+2', mem: selMem, eflags: 0x40 });
  out.push({ name: 'verw mem', code: '  verw scratch', mem: selMem });
  // Flags other than ZF are untouched, even when pending from an arithmetic result.
  out.push({ name: 'lar keeps lazy flags', code: '  cmpl $2, %eax\n  larl %ebx, %edx', regs: { eax: 1, ebx: 0x23 } });
  out.push({ name: 'verw keeps lazy flags', code: '  addl $1, %eax\n  verw %bx', regs: { eax: 0x7fffffff, ebx: 0x2b } });
  return out;
}

describe('system registers and port I/O vs host CPU (ring 3)', () => {
  it('privileged instructions raise #GP(0) before touching anything', () => {
    expect(diffSuite('sysregs-priv', privilegedCases()).slice(0, 20)).toEqual([]);
  });
  it('invalid encodings raise #UD', () => {
    expect(diffSuite('sysregs-ud', udCases()).slice(0, 20)).toEqual([]);
  });
  it('port I/O without permission raises #GP(0)', () => {
    expect(diffSuite('sysregs-io', ioCases()).slice(0, 20)).toEqual([]);
  });
  it('LAR/LSL/VERR/VERW on every selector 0-0x8f match the host (flat and PAE paging)', () => {
    const cases = selectorCases();
    expect(diffSuite('sysregs-sel', cases, { setup: mirrorLinuxGdt }).slice(0, 20)).toEqual([]);
    expect(diffSuite('sysregs-sel', cases, { setup: mirrorLinuxGdt, paging: true }).slice(0, 20)).toEqual([]);
  });
});
