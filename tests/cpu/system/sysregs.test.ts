/**
 * System-register instructions in the emulator (families/sysregs.ts):
 * descriptor-table registers, MSW, INVLPG, VMCALL/VMMCALL, LDTR/TR loads,
 * LAR/LSL/VERR/VERW, MOV CR/DR, CLTS/INVD/WBINVD, MSRs, RDPMC,
 * SYSENTER/SYSEXIT, and the TLB effects of CR0/CR3/CR4/EFER writes and
 * INVLPG. Each test cites the Intel SDM rule it checks. Port I/O lives in
 * io.test.ts; what the host CPU can show from ring 3 is in
 * tests/cpu/diff/sysregs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Exit, Seg, SA } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';
import { CODE, DATA, GDT, LDT, SEL, TSS, GDT_LIMIT, makeEnv, runAsm, asm, type Env } from './sysregs-env.js';

const GP = 13, UD = 6, NP = 11, PF = 14, DB = 1;
const CF = 1, ZF = 0x40, SF = 0x80;
const u = (n: number): number => n >>> 0;
const reg = (env: Env, n: number): number => env.cpu.r32[n]! >>> 0;
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESI = 6, EDI = 7;

/** Expect the run to have stopped on `vector` (with `code`) at the first instruction. */
function expectFault(r: ReturnType<typeof runAsm>, vector: number, code = -1, eip = CODE): void {
  expect(r.fault, 'expected a fault').not.toBeNull();
  expect({ vector: r.fault!.vector, errorCode: r.fault!.errorCode, eip: r.fault!.eip })
    .toEqual({ vector, errorCode: code, eip });
}

describe('SGDT/SIDT/LGDT/LIDT (SDM vol. 2, LGDT/LIDT and SGDT pages)', () => {
  it('SGDT/SIDT store the 16-bit limit then the 32-bit base', () => {
    const env = makeEnv();
    env.cpu.idtrBase = 0xc0ffee00;
    env.cpu.idtrLimit = 0x7ff;
    const r = runAsm(env, `  sgdt ${DATA}\n  sidt ${DATA + 8}`);
    expect(r.done).toBe(true);
    expect(env.mem.read16(DATA)).toBe(GDT_LIMIT);
    expect(u(env.mem.read32(DATA + 2))).toBe(GDT);
    expect(env.mem.read16(DATA + 8)).toBe(0x7ff);
    expect(u(env.mem.read32(DATA + 10))).toBe(0xc0ffee00);
  });

  it('SGDT with a 16-bit operand size still stores all 32 base bits (current SDM)', () => {
    const env = makeEnv();
    env.cpu.gdtrBase = 0xc1234567;
    env.mem.fill(DATA, 8, 0xee);
    expect(runAsm(env, `  .byte 0x66\n  sgdt ${DATA}`).done).toBe(true);
    expect(u(env.mem.read32(DATA + 2))).toBe(0xc1234567);
    expect(env.mem.read8(DATA + 6)).toBe(0xee);
  });

  it('LGDT/LIDT load limit and base; a 16-bit operand size loads a 24-bit base', () => {
    const env = makeEnv();
    env.mem.write16(DATA, 0x1234);
    env.mem.write32(DATA + 2, 0xc1234567 | 0);
    expect(runAsm(env, `  lgdt ${DATA}\n  lidt ${DATA}`).done).toBe(true);
    expect([env.cpu.gdtrLimit, u(env.cpu.gdtrBase), env.cpu.idtrLimit, u(env.cpu.idtrBase)])
      .toEqual([0x1234, 0xc1234567, 0x1234, 0xc1234567]);
    expect(runAsm(env, `  .byte 0x66\n  lgdt ${DATA}\n  .byte 0x66\n  lidt ${DATA}`).done).toBe(true);
    expect([u(env.cpu.gdtrBase), u(env.cpu.idtrBase)]).toEqual([0x234567, 0x234567]);
  });

  it('LGDT/LIDT at CPL 3 raise #GP(0) before touching memory or GDTR/IDTR', () => {
    const env = makeEnv();
    // The operand is beyond the segment limit: the privilege check must come first anyway.
    expectFault(runAsm(env, '  lgdt 0xfffffffe', { cpl: 3 }), GP, 0);
    expectFault(runAsm(env, `  lidt ${DATA}`, { cpl: 3 }), GP, 0);
    expect([env.cpu.gdtrBase, env.cpu.gdtrLimit]).toEqual([GDT, GDT_LIMIT]);
  });

  it('register forms of SGDT..LIDT are other instructions (#UD here)', () => {
    const env = makeEnv();
    for (const m of [0xc0, 0xc8, 0xd0, 0xd8, 0xf8]) expectFault(runAsm(env, `  .byte 0x0f,0x01,${m}`), UD);
  });

  it('SGDT works at CPL 3: no UMIP on a 686', () => {
    const env = makeEnv();
    expect(runAsm(env, `  sgdt ${DATA}\n  sidt ${DATA + 8}\n  sldt %eax\n  str %ebx\n  smsw %ecx`, { cpl: 3 }).done).toBe(true);
    expect(u(env.mem.read32(DATA + 2))).toBe(GDT);
  });

  it('SGDT checks the whole 6-byte operand against the segment limit before storing', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.ES, 0x10, DATA, 0xfff, 0x93 | SA.DB);
    env.mem.fill(DATA + 0xffa, 6, 0xee);
    expectFault(runAsm(env, '  sgdt %es:0xffc'), GP, 0);
    expect(Array.from(env.mem.readBytes(DATA + 0xffa, 6))).toEqual([0xee, 0xee, 0xee, 0xee, 0xee, 0xee]);
    expect(runAsm(env, '  sgdt %es:0xffa').done).toBe(true);
    expect(u(env.mem.read32(DATA + 0xffc))).toBe(GDT);
  });
});

describe('SMSW/LMSW (SDM vol. 2)', () => {
  it('SMSW: a 32-bit register gets all of CR0, a 16-bit one the low word, memory 16 bits', () => {
    const env = makeEnv();
    env.cpu.cr0 = 0x00050031 | 0x8; // PE ET NE WP AM TS
    env.cpu.r32[EBX] = -1;
    env.mem.write32(DATA, -1);
    const r = runAsm(env, `  movl $-1, %eax\n  smsw %eax\n  smsw %bx\n  smsw ${DATA}`);
    expect(r.done).toBe(true);
    expect(reg(env, EAX)).toBe(0x00050039);
    expect(reg(env, EBX)).toBe(0xffff0039);
    expect(u(env.mem.read32(DATA))).toBe(0xffff0039);
  });

  it('LMSW loads PE/MP/EM/TS only and cannot clear PE', () => {
    const env = makeEnv();
    const cr0 = env.cpu.cr0;
    expect(runAsm(env, '  movl $0xfffe, %eax\n  lmsw %ax').done).toBe(true);
    expect(u(env.cpu.cr0)).toBe(u((cr0 & ~0xf) | 0xe | 1));
    env.mem.write16(DATA, 0x0000);
    expect(runAsm(env, `  lmsw ${DATA}`).done).toBe(true);
    expect(u(env.cpu.cr0)).toBe(u((cr0 & ~0xf) | 1));
  });

  it('LMSW at CPL 3 raises #GP(0)', () => {
    const env = makeEnv();
    const cr0 = env.cpu.cr0;
    expectFault(runAsm(env, '  movl $8, %eax\n  lmsw %ax', { cpl: 3 }), GP, 0, CODE + 5);
    expect(env.cpu.cr0).toBe(cr0);
  });
});

describe('VMCALL/VMMCALL and the other 0F 01 register forms', () => {
  it('VMCALL and VMMCALL leave run() with Exit.HYPERCALL, EIP past the instruction', () => {
    for (const [insn, cpl] of [['vmcall', 0], ['vmmcall', 0], ['vmcall', 3]] as const) {
      const env = makeEnv();
      const r = runAsm(env, `  movl $7, %eax\n  ${insn}\n  movl $9, %ebx`, { cpl });
      expect(r.exit).toBe(Exit.HYPERCALL);
      expect(r.fault).toBeNull();
      expect(env.cpu.eip).toBe(CODE + 5 + 3);
      expect(reg(env, EAX)).toBe(7);
      // The VMM resumes the guest: execution continues after the call.
      expect(run(env.cpu, 10)).toBe(cpl === 0 ? Exit.HLT : Exit.STOPPED);
      expect(reg(env, EBX)).toBe(9);
    }
  });

  it('every other mod=3 form of 0F 01 (MONITOR, MWAIT, XGETBV, SWAPGS, RDTSCP, ...) is #UD', () => {
    const env = makeEnv();
    for (let m = 0xc0; m <= 0xff; m++) {
      if (m === 0xc1 || m === 0xd9 || (m >= 0xe0 && m <= 0xe7) || (m >= 0xf0 && m <= 0xf7)) continue;
      expectFault(runAsm(env, `  .byte 0x0f,0x01,${m}`), UD);
    }
    // 0F 01 /5 has no memory form either.
    expectFault(runAsm(env, `  .byte 0x0f,0x01,0x2d\n  .long ${DATA}`), UD);
  });
});

describe('SLDT/STR/LLDT/LTR (SDM vol. 2; vol. 3A §7.2.4, §3.5.1)', () => {
  it('SLDT/STR: a 32-bit register gets the zero-extended selector, 16-bit keeps the upper half, memory 16 bits', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.LDTR, SEL.LDT, LDT, 0x1f, 0x82);
    env.cpu.loadSegCache(Seg.TR, SEL.TSS32_BUSY, TSS, 0x67, 0x8b);
    env.mem.write32(DATA, -1);
    const r = runAsm(env, `  movl $-1, %eax\n  movl $-1, %ebx\n  sldt %eax\n  str %bx\n  str ${DATA}`);
    expect(r.done).toBe(true);
    expect([reg(env, EAX), reg(env, EBX), u(env.mem.read32(DATA))]).toEqual([SEL.LDT, u(0xffff0000 | SEL.TSS32_BUSY), u(0xffff0000 | SEL.TSS32_BUSY)]);
  });

  it('LLDT loads LDTR and its cache; a null selector makes LDTR unusable', () => {
    const env = makeEnv();
    expect(runAsm(env, `  movw $${SEL.LDT}, %ax\n  lldt %ax`).done).toBe(true);
    const c = env.cpu;
    expect([c.segSel[Seg.LDTR], u(c.segBase[Seg.LDTR]!), c.segLimit[Seg.LDTR], c.segAttr[Seg.LDTR]! & 0xff]).toEqual([SEL.LDT, LDT, 0x1f, 0x82]);
    expect(runAsm(env, '  movw $3, %ax\n  lldt %ax').done).toBe(true);
    expect(c.segAttr[Seg.LDTR]! & SA.NULL).toBe(SA.NULL);
  });

  it('LLDT faults: CPL 3 #GP(0), TI=1 / beyond the GDT / not an LDT #GP(sel), not present #NP(sel); LDTR unchanged', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.LDTR, SEL.LDT, LDT, 0x1f, 0x82);
    const cases: [number, number, number, number][] = [
      [SEL.LDT, 3, GP, 0],
      [0x0c, 0, GP, 0x0c],
      [0x1003, 0, GP, 0x1000],
      [SEL.DATA0, 0, GP, SEL.DATA0],
      [SEL.TSS32, 0, GP, SEL.TSS32],
      [SEL.LDT_NP | 1, 0, NP, SEL.LDT_NP],
    ];
    for (const [sel, cpl, vec, code] of cases) {
      expectFault(runAsm(env, `  movw $${sel}, %ax\n  lldt %ax`, { cpl }), vec, code, CODE + 4);
      expect(env.cpu.segSel[Seg.LDTR]).toBe(SEL.LDT);
    }
  });

  it('LTR loads TR and marks the TSS busy in the GDT', () => {
    const env = makeEnv();
    expect(runAsm(env, `  movw $${SEL.TSS32}, %ax\n  ltr %ax`).done).toBe(true);
    const c = env.cpu;
    expect([c.segSel[Seg.TR], u(c.segBase[Seg.TR]!), c.segLimit[Seg.TR], c.segAttr[Seg.TR]! & 0xff]).toEqual([SEL.TSS32, TSS, 0x2068, 0x8b]);
    expect((env.mem.read32(GDT + SEL.TSS32 + 4) >>> 8) & 0xff).toBe(0x8b);
    // A 16-bit TSS (type 1) is loadable too and becomes type 3.
    expect(runAsm(env, `  movw $${SEL.TSS16}, %ax\n  ltr %ax`).done).toBe(true);
    expect((env.mem.read32(GDT + SEL.TSS16 + 4) >>> 8) & 0xff).toBe(0x83);
  });

  it('LTR faults: null #GP(0), CPL 3 #GP(0), TI=1 / beyond / busy / not a TSS #GP(sel), not present #NP(sel)', () => {
    const env = makeEnv();
    const cases: [number, number, number, number][] = [
      [0, 0, GP, 0],
      [SEL.TSS32, 3, GP, 0],
      [0x0c, 0, GP, 0x0c],
      [0x2000, 0, GP, 0x2000],
      [SEL.TSS32_BUSY, 0, GP, SEL.TSS32_BUSY],
      [SEL.LDT, 0, GP, SEL.LDT],
      [SEL.CODE0, 0, GP, SEL.CODE0],
      [SEL.TSS_NP, 0, NP, SEL.TSS_NP],
    ];
    for (const [sel, cpl, vec, code] of cases) {
      expectFault(runAsm(env, `  movw $${sel}, %ax\n  ltr %ax`, { cpl }), vec, code, CODE + 4);
      expect(env.cpu.segSel[Seg.TR]).toBe(0);
    }
    expect((env.mem.read32(GDT + SEL.TSS32 + 4) >>> 8) & 0xff).toBe(0x89);
  });
});

describe('LAR/LSL/VERR/VERW (SDM vol. 2; vol. 3A §5.10.4)', () => {
  /** Run LAR, LSL, VERR, VERW on `sel` at `cpl`; report ZF of each and the LAR/LSL results. */
  function probe(env: Env, sel: number, cpl = 0): { lar: number | null; lsl: number | null; verr: boolean; verw: boolean } {
    const r = runAsm(env, `  movl $${sel}, %ebx\n  movl $0xdeadbeef, %eax\n  movl $0xdeadbeef, %edx
  larl %ebx, %eax\n  pushfl\n  popl %ecx\n  lsll %ebx, %edx\n  pushfl\n  popl %esi
  verr %bx\n  pushfl\n  popl %edi\n  verw %bx\n  pushfl\n  popl %ebp`, { cpl });
    expect(r.done).toBe(true);
    const c = env.cpu;
    const z = (n: number): boolean => (c.r32[n]! & ZF) !== 0;
    // The destination is written only when ZF is set.
    if (!z(ECX)) expect(reg(env, EAX)).toBe(0xdeadbeef);
    if (!z(ESI)) expect(reg(env, EDX)).toBe(0xdeadbeef);
    return { lar: z(ECX) ? reg(env, EAX) : null, lsl: z(ESI) ? reg(env, EDX) : null, verr: z(EDI), verw: z(5) };
  }

  function stack(env: Env): void {
    env.cpu.loadSegCache(Seg.SS, SEL.DATA0, 0, 0xffffffff, 0x93 | SA.DB | SA.G);
    env.cpu.r32[4] = DATA + 0x1000;
  }

  it('code and data segments at CPL 0', () => {
    const env = makeEnv();
    stack(env);
    expect(probe(env, SEL.CODE0)).toEqual({ lar: 0x00cf9b00, lsl: 0xffffffff, verr: true, verw: false });
    expect(probe(env, SEL.DATA3 | 3)).toEqual({ lar: 0x00cff300, lsl: 0xffffffff, verr: true, verw: true });
    expect(probe(env, SEL.XONLY3)).toEqual({ lar: 0x0040f900, lsl: 0xff, verr: false, verw: false });
    expect(probe(env, SEL.RODATA3)).toEqual({ lar: 0x0040f100, lsl: 0xfff, verr: true, verw: false });
    // Byte-granular limit; DPL 1 visible at RPL 1 but not at RPL 2 (DPL >= max(CPL, RPL)).
    expect(probe(env, SEL.DATA1_SMALL | 1)).toEqual({ lar: 0x0040b300, lsl: 0x1234, verr: true, verw: true });
    expect(probe(env, SEL.DATA1_SMALL | 2)).toEqual({ lar: null, lsl: null, verr: false, verw: false });
  });

  it('system descriptors: LAR accepts TSS/LDT/call and task gates, LSL only TSS/LDT, VERR/VERW none', () => {
    const env = makeEnv();
    stack(env);
    expect(probe(env, SEL.TSS32)).toEqual({ lar: 0x00008900, lsl: 0x2068, verr: false, verw: false });
    expect(probe(env, SEL.TSS16)).toEqual({ lar: 0x00008100, lsl: 0x2b, verr: false, verw: false });
    expect(probe(env, SEL.TSS32_BUSY)).toEqual({ lar: 0x00008b00, lsl: 0x67, verr: false, verw: false });
    expect(probe(env, SEL.LDT)).toEqual({ lar: 0x00008200, lsl: 0x1f, verr: false, verw: false });
    // LAR masks the raw high dword with 00FFFF00h: offset bits 23:16 of a gate show through.
    expect(probe(env, SEL.CALLGATE3)).toEqual({ lar: 0x0034ec00, lsl: null, verr: false, verw: false });
    expect(probe(env, SEL.TASKGATE3)).toEqual({ lar: 0x0000e500, lsl: null, verr: false, verw: false });
    for (const s of [SEL.INTGATE0, SEL.TRAPGATE0, SEL.RESERVED8]) {
      expect(probe(env, s)).toEqual({ lar: null, lsl: null, verr: false, verw: false });
    }
    // Presence is not checked.
    expect(probe(env, SEL.TSS_NP)).toEqual({ lar: 0x00000900, lsl: 0x67, verr: false, verw: false });
  });

  it('null, out-of-limit and LDT selectors without an LDT clear ZF without faulting', () => {
    const env = makeEnv();
    stack(env);
    for (const s of [0, 3, GDT_LIMIT + 1, 0xfff8, 0x04, 0x0f]) {
      expect(probe(env, s)).toEqual({ lar: null, lsl: null, verr: false, verw: false });
    }
  });

  it('at CPL 3: DPL-0 segments are invisible except conforming code; LDT entries work once LDTR is loaded', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.LDTR, SEL.LDT, LDT, 0x1f, 0x82);
    env.cpu.r32[4] = DATA + 0x1000;
    const cpl3 = (s: number): ReturnType<typeof probe> => probe(env, s, 3);
    expect(cpl3(SEL.CODE0)).toEqual({ lar: null, lsl: null, verr: false, verw: false });
    expect(cpl3(SEL.TSS32)).toEqual({ lar: null, lsl: null, verr: false, verw: false });
    expect(cpl3(SEL.CONFORMING0)).toEqual({ lar: 0x00cf9f00, lsl: 0xffffffff, verr: true, verw: false });
    expect(cpl3(SEL.LDT3)).toEqual({ lar: 0x0000e200, lsl: 0x1f, verr: false, verw: false });
    expect(cpl3(SEL.CALLGATE3)).toEqual({ lar: 0x0034ec00, lsl: null, verr: false, verw: false });
    expect(cpl3(0x07)).toEqual({ lar: 0x0040f300, lsl: 0xfff, verr: true, verw: true });
    expect(cpl3(0x0f)).toEqual({ lar: null, lsl: null, verr: false, verw: false });
  });

  it('16-bit operand size writes only the low word; memory operands are 16-bit selectors', () => {
    const env = makeEnv();
    env.mem.write32(DATA, 0xffff0000 | SEL.CODE0);
    const r = runAsm(env, `  movl $${SEL.CODE0}, %ebx\n  movl $-1, %eax\n  movl $-1, %edx\n  larw %bx, %ax\n  lslw %bx, %dx
  movl $0, %ecx\n  larl ${DATA}, %ecx\n  movl $0, %esi\n  lsll ${DATA}, %esi`);
    expect(r.done).toBe(true);
    expect([reg(env, EAX), reg(env, EDX), reg(env, ECX), reg(env, ESI)]).toEqual([0xffff9b00, 0xffffffff, 0x00cf9b00, 0xffffffff]);
  });

  it('only ZF changes; the other flags, lazy or not, survive', () => {
    const env = makeEnv();
    // cmp 1, 2: CF=1 SF=1 ZF=0 pending in the lazy record.
    const r = runAsm(env, `  movl $1, %eax\n  cmpl $2, %eax\n  movl $${SEL.CODE0}, %ebx\n  larl %ebx, %edx`);
    expect(r.done).toBe(true);
    const f = readEflags(env.cpu);
    expect(f & (CF | SF | ZF)).toBe(CF | SF | ZF);
    const r2 = runAsm(env, '  movl $2, %eax\n  cmpl $2, %eax\n  movl $0, %ebx\n  verr %bx');
    expect(r2.done).toBe(true);
    expect(readEflags(env.cpu) & (CF | SF | ZF)).toBe(0);
  });
});

describe('MOV to/from CR0-CR4 (SDM vol. 2 MOV CR; vol. 3A §2.5)', () => {
  it('reads: CR0 always has ET; CR2/CR3/CR4 round-trip', () => {
    const env = makeEnv();
    env.cpu.cr0 = 1;
    const r = runAsm(env, `  movl %cr0, %eax\n  movl $0x12345678, %ebx\n  movl %ebx, %cr2\n  movl %cr2, %ecx
  movl $0x00103000, %ebx\n  movl %ebx, %cr3\n  movl %cr3, %edx\n  movl $0x30c, %ebx\n  movl %ebx, %cr4\n  movl %cr4, %esi`);
    expect(r.done).toBe(true);
    expect([reg(env, EAX), reg(env, ECX), reg(env, EDX), reg(env, ESI)]).toEqual([0x11, 0x12345678, 0x00103000, 0x30c]);
  });

  it('CR0: PG without PE, NW without CD, and clearing PE (real mode, not modelled) raise #GP(0)', () => {
    const env = makeEnv();
    const cr0 = env.cpu.cr0;
    for (const v of [0x80000010 | 0, 0x20000011, 0x10]) {
      expectFault(runAsm(env, `  movl $${v}, %eax\n  movl %eax, %cr0`), GP, 0, CODE + 5);
      expect(env.cpu.cr0).toBe(cr0);
    }
  });

  it('CR0: reserved bits are ignored on write; ET stays 1', () => {
    const env = makeEnv();
    const r = runAsm(env, '  movl $0x1fffffe9, %eax\n  movl %eax, %cr0\n  movl %cr0, %ebx');
    expect(r.done).toBe(true);
    // Kept: PE, TS (8), NE (0x20), WP, AM; dropped: bits 6-15, 17, 19-28.
    expect(reg(env, EBX)).toBe(0x00050039);
  });

  it('CR4: reserved bits (VME, PVI, MCE, UMIP, VMXE, bit 31, ...) raise #GP(0)', () => {
    const env = makeEnv();
    for (const bit of [0, 1, 6, 11, 12, 13, 14, 16, 31]) {
      expectFault(runAsm(env, `  movl $${u(1 << bit)}, %eax\n  movl %eax, %cr4`), GP, 0, CODE + 5);
      expect(env.cpu.cr4).toBe(0);
    }
    expect(runAsm(env, '  movl $0x7bc, %eax\n  movl %eax, %cr4').done).toBe(true);
    expect(env.cpu.cr4).toBe(0x7bc);
  });

  it('CR1 and CR5-CR7 are #UD, even at CPL 3 (the #UD outranks the privilege check, as on the host)', () => {
    const env = makeEnv();
    for (const n of [1, 5, 6, 7]) {
      for (const cpl of [0, 3]) {
        expectFault(runAsm(env, `  .byte 0x0f,0x20,${0xc0 | (n << 3)}`, { cpl }), UD);
        expectFault(runAsm(env, `  .byte 0x0f,0x22,${0xc0 | (n << 3)}`, { cpl }), UD);
      }
    }
  });

  it('CPL 3 gets #GP(0) for every valid CR, both directions', () => {
    const env = makeEnv();
    for (const n of [0, 2, 3, 4]) {
      expectFault(runAsm(env, `  movl %cr${n}, %eax`, { cpl: 3 }), GP, 0);
      expectFault(runAsm(env, `  movl %eax, %cr${n}`, { cpl: 3 }), GP, 0);
    }
  });

  it('ModRM.mod is ignored: no SIB or displacement is consumed', () => {
    const env = makeEnv();
    // 0F 20 43: mod=1 would mean [ebx+disp8]; as MOV CR it is "mov ebx, cr0", 3 bytes long.
    // 0F 20 04: mod=0 rm=4 would need a SIB byte; here it is "mov esp, cr0".
    // 0F 22 01: mod=0 rm=1 would mean [ecx]; here it is "mov cr0, ecx".
    const r = runAsm(env, `  movl %cr0, %ecx\n  .byte 0x0f,0x20,0x43\n  movl $1, %esi\n  .byte 0x0f,0x20,0x04\n  movl $3, %ebp
  .byte 0x0f,0x22,0x01\n  movl $2, %edi`);
    expect(r.done).toBe(true);
    const cr0 = u(env.cpu.cr0);
    expect([reg(env, EBX), reg(env, ESI), reg(env, 4), reg(env, 5), reg(env, EDI)]).toEqual([cr0, 1, cr0, 3, 2]);
  });

  it('LOCK MOV CR is #UD (no AMD CR8 alias on a 686)', () => {
    const env = makeEnv();
    expectFault(runAsm(env, '  .byte 0xf0,0x0f,0x20,0xc0'), UD);
  });
});

describe('MOV to/from DR0-DR7 (SDM vol. 3B §18.2)', () => {
  it('DR0-DR3 round-trip; DR6 and DR7 read with their fixed bits', () => {
    const env = makeEnv();
    const r = runAsm(env, `  movl $0x11111111, %eax\n  movl %eax, %db0\n  movl $0x33333333, %eax\n  movl %eax, %db3
  movl %db0, %ebx\n  movl %db3, %ecx\n  xorl %eax, %eax\n  movl %eax, %db6\n  movl %db6, %edx\n  movl %eax, %db7\n  movl %db7, %esi
  movl $-1, %eax\n  movl %eax, %db6\n  movl %db6, %edi\n  movl $0xdfff, %eax\n  movl %eax, %db7\n  movl %db7, %eax`);
    expect(r.done).toBe(true);
    expect([reg(env, EBX), reg(env, ECX), reg(env, EDX), reg(env, ESI), reg(env, EDI), reg(env, EAX)])
      .toEqual([0x11111111, 0x33333333, 0xffff0ff0, 0x400, 0xffffefff, 0x07ff]);
  });

  it('DR4/DR5 alias DR6/DR7 unless CR4.DE, which makes them #UD', () => {
    const env = makeEnv();
    const r = runAsm(env, '  movl $0x100, %eax\n  .byte 0x0f,0x23,0xe8\n  movl %db7, %ebx\n  .byte 0x0f,0x21,0xe1');
    expect(r.done).toBe(true);
    expect([reg(env, EBX), reg(env, ECX)]).toEqual([0x500, 0xffff0ff0]);
    env.cpu.cr4 = 8;
    expectFault(runAsm(env, '  .byte 0x0f,0x21,0xe0'), UD);
    expectFault(runAsm(env, '  .byte 0x0f,0x23,0xe8'), UD);
  });

  it('CPL 3 gets #GP(0)', () => {
    const env = makeEnv();
    expectFault(runAsm(env, '  movl %db0, %eax', { cpl: 3 }), GP, 0);
    expectFault(runAsm(env, '  movl %eax, %db7', { cpl: 3 }), GP, 0);
  });

  it('DR7.GD: the next MOV DR raises #DB with DR6.BD set and GD cleared', () => {
    const env = makeEnv();
    const r = runAsm(env, '  movl $0x2000, %eax\n  movl %eax, %db7\n  movl %db0, %ebx');
    expectFault(r, DB, -1, CODE + 5 + 3);
    expect(env.cpu.dr[6]! & 0x2000).toBe(0x2000);
    expect(env.cpu.dr[7]! & 0x2000).toBe(0);
    // The handler can now use the debug registers.
    expect(run(env.cpu, 10)).toBe(Exit.HLT);
  });
});

describe('CLTS, INVD, WBINVD, RDPMC, SYSENTER/SYSEXIT', () => {
  it('CLTS clears CR0.TS; INVD/WBINVD are no-ops at CPL 0', () => {
    const env = makeEnv();
    env.cpu.cr0 |= 8;
    expect(runAsm(env, '  clts\n  invd\n  wbinvd').done).toBe(true);
    expect(env.cpu.cr0 & 8).toBe(0);
  });

  it('all three are #GP(0) at CPL 3', () => {
    const env = makeEnv();
    env.cpu.cr0 |= 8;
    for (const i of ['clts', 'invd', 'wbinvd']) expectFault(runAsm(env, `  ${i}`, { cpl: 3 }), GP, 0);
    expect(env.cpu.cr0 & 8).toBe(8);
  });

  it('RDPMC: CPL 0 or CR4.PCE; counters 0-1 read 0; other ECX #GP(0)', () => {
    const env = makeEnv();
    expect(runAsm(env, '  movl $-1, %eax\n  movl $-1, %edx\n  movl $1, %ecx\n  rdpmc').done).toBe(true);
    expect([reg(env, EAX), reg(env, EDX)]).toEqual([0, 0]);
    expectFault(runAsm(env, '  movl $2, %ecx\n  rdpmc'), GP, 0, CODE + 5);
    expectFault(runAsm(env, '  xorl %ecx, %ecx\n  rdpmc', { cpl: 3 }), GP, 0, CODE + 2);
    env.cpu.cr4 = 0x100;
    expect(runAsm(env, '  movl $-1, %eax\n  xorl %ecx, %ecx\n  rdpmc', { cpl: 3 }).done).toBe(true);
    expect(reg(env, EAX)).toBe(0);
  });

  it('SYSENTER and SYSEXIT are #UD (CPUID reports no SEP)', () => {
    const env = makeEnv();
    expectFault(runAsm(env, '  sysenter'), UD);
    expectFault(runAsm(env, '  sysexit'), UD);
    expectFault(runAsm(env, '  sysenter', { cpl: 3 }), UD);
  });
});

describe('RDMSR/WRMSR (SDM vol. 2; vol. 4 MSR tables)', () => {
  const rd = (idx: number): string => `  movl $${u(idx)}, %ecx\n  rdmsr`;
  const wr = (idx: number, lo: number, hi = 0): string => `  movl $${u(idx)}, %ecx\n  movl $${u(lo)}, %eax\n  movl $${u(hi)}, %edx\n  wrmsr`;

  it('IA32_EFER: only NXE is writable; anything else is #GP(0) and leaves EFER alone', () => {
    const env = makeEnv();
    expect(runAsm(env, `${wr(0xc0000080, 0x800)}\n${rd(0xc0000080)}`).done).toBe(true);
    expect([env.cpu.efer, reg(env, EAX), reg(env, EDX)]).toEqual([0x800, 0x800, 0]);
    for (const [lo, hi] of [[0x801, 0], [0x900, 0], [0x800, 1], [0x4000, 0]] as const) {
      expectFault(runAsm(env, wr(0xc0000080, lo, hi)), GP, 0, CODE + 15);
      expect(env.cpu.efer).toBe(0x800);
    }
    expect(env.host.log).toEqual([]);
  });

  it('IA32_TIME_STAMP_COUNTER: a write sets what RDMSR and RDTSC read next', () => {
    const env = makeEnv();
    const r = runAsm(env, `${wr(0x10, 0x1000, 7)}\n${rd(0x10)}\n  movl %eax, %esi\n  movl %edx, %edi\n  rdtsc`);
    expect(r.done).toBe(true);
    expect(reg(env, EDI)).toBe(7);
    expect(reg(env, ESI)).toBeGreaterThanOrEqual(0x1000);
    expect(reg(env, ESI)).toBeLessThan(0x1000 + 100);
    expect(reg(env, EDX)).toBe(7);
    expect(reg(env, EAX)).toBeGreaterThanOrEqual(reg(env, ESI));
    expect(reg(env, EAX)).toBeLessThan(0x1000 + 100);
  });

  it('IA32_SYSENTER_CS/ESP/EIP are stored and read back', () => {
    const env = makeEnv();
    const r = runAsm(env, `${wr(0x174, 0x10)}\n${wr(0x175, 0xc0001000)}\n${wr(0x176, 0xc0100000)}
${rd(0x174)}\n  movl %eax, %ebx\n${rd(0x175)}\n  movl %eax, %esi\n${rd(0x176)}`);
    expect(r.done).toBe(true);
    expect([reg(env, EBX), reg(env, ESI), reg(env, EAX), reg(env, EDX)]).toEqual([0x10, 0xc0001000, 0xc0100000, 0]);
    expect([env.cpu.sysenterCs, u(env.cpu.sysenterEsp), u(env.cpu.sysenterEip)]).toEqual([0x10, 0xc0001000, 0xc0100000]);
  });

  it('IA32_APIC_BASE is #GP(0) (no local APIC); the host is not asked', () => {
    const env = makeEnv();
    env.host.msrs.set(0x1b, [0xfee00900 | 0, 0]);
    expectFault(runAsm(env, rd(0x1b)), GP, 0, CODE + 5);
    expectFault(runAsm(env, wr(0x1b, 0xfee00900)), GP, 0, CODE + 15);
    expect(env.host.log).toEqual([]);
  });

  it('other MSRs go to the host; null/false from the host is #GP(0) with EDX:EAX untouched', () => {
    const env = makeEnv();
    env.host.msrs.set(0x8b, [0x12345678, 0x9abcdef0 | 0]);
    expect(runAsm(env, rd(0x8b)).done).toBe(true);
    expect([reg(env, EAX), reg(env, EDX)]).toEqual([0x12345678, 0x9abcdef0]);
    expect(runAsm(env, wr(0x8b, 5, 6)).done).toBe(true);
    expect(env.host.msrs.get(0x8b)).toEqual([5, 6]);
    expectFault(runAsm(env, `  movl $1, %eax\n  movl $2, %edx\n${rd(0x3a)}`), GP, 0, CODE + 15);
    expect([reg(env, EAX), reg(env, EDX)]).toEqual([1, 2]);
    expectFault(runAsm(env, wr(0x3a, 0)), GP, 0, CODE + 15);
    expect(env.host.log.map((a) => `${a.op} ${a.port.toString(16)}`)).toEqual(['rdmsr 8b', 'wrmsr 8b', 'rdmsr 3a', 'wrmsr 3a']);
  });

  it('CPL 3 gets #GP(0) and the host is not asked', () => {
    const env = makeEnv();
    env.host.msrs.set(0x8b, [1, 2]);
    expectFault(runAsm(env, rd(0x8b), { cpl: 3 }), GP, 0, CODE + 5);
    expectFault(runAsm(env, wr(0x8b, 1), { cpl: 3 }), GP, 0, CODE + 15);
    expectFault(runAsm(env, rd(0xc0000080), { cpl: 3 }), GP, 0, CODE + 5);
    expect(env.host.log).toEqual([]);
  });
});

// --- paging: TLB effects of CR3/CR4/CR0/EFER writes and INVLPG ------------------

const PD = 0x100000, PT0 = 0x101000, PT1 = 0x102000;
const PA_A = 0x200000, PA_B = 0x201000, PA_A2 = 0x202000, PA_B2 = 0x203000, PA_RO = 0x204000;
const LA_A = 0x400000, LA_B = 0x401000, LA_RO = 0x402000;

/**
 * 32-bit paging: 0-4 MiB identity (supervisor, writable; page tables
 * included), LA_A -> PA_A global, LA_B -> PA_B, LA_RO -> PA_RO read-only
 * (dirty already). Returns the asm that turns paging on (PGE, WP off).
 */
function paging32(env: Env): string {
  const m = env.mem;
  m.fill(PD, 0x3000, 0);
  m.write32(PD, PT0 | 3);
  m.write32(PD + 4, PT1 | 3);
  for (let k = 0; k < 1024; k++) m.write32(PT0 + k * 4, (k << 12) | 3);
  m.write32(PT1 + 0, PA_A | 0x103); // G, RW, P
  m.write32(PT1 + 4, PA_B | 3);
  m.write32(PT1 + 8, PA_RO | 0x41); // D, P (read-only)
  for (const [pa, v] of [[PA_A, 0xa], [PA_B, 0xb], [PA_A2, 0xa2], [PA_B2, 0xb2], [PA_RO, 0x77]] as const) m.write32(pa, v);
  return `  movl $${PD}, %eax\n  movl %eax, %cr3\n  movl $0x80, %eax\n  movl %eax, %cr4
  movl %cr0, %eax\n  orl $0x80000000, %eax\n  movl %eax, %cr0`;
}

/** Guest code that repoints LA_A and LA_B at PA_A2/PA_B2 in the page table (no TLB maintenance). */
const REMAP = `  movl $${PA_A2 | 0x103}, ${PT1}\n  movl $${PA_B2 | 3}, ${PT1 + 4}`;
const READ_AB = (r1: string, r2: string): string => `  movl ${LA_A}, ${r1}\n  movl ${LA_B}, ${r2}`;

describe('TLB maintenance (SDM vol. 3A §4.10.4)', () => {
  it('a CR3 reload drops non-global translations and keeps global ones', () => {
    const env = makeEnv();
    const r = runAsm(env, `${paging32(env)}\n${READ_AB('%eax', '%ebx')}\n${REMAP}
  movl %cr3, %ecx\n  movl %ecx, %cr3\n${READ_AB('%esi', '%edi')}`);
    expect(r.done).toBe(true);
    expect([reg(env, EAX), reg(env, EBX), reg(env, ESI), reg(env, EDI)]).toEqual([0xa, 0xb, 0xa, 0xb2]);
  });

  it('INVLPG drops just that page, global or not', () => {
    const env = makeEnv();
    const r = runAsm(env, `${paging32(env)}\n${READ_AB('%eax', '%ebx')}\n${REMAP}
  invlpg ${LA_A}\n${READ_AB('%esi', '%edi')}`);
    expect(r.done).toBe(true);
    expect([reg(env, ESI), reg(env, EDI)]).toEqual([0xa2, 0xb]);
  });

  it('INVLPG flushes the linear address: segment base plus offset', () => {
    const env = makeEnv();
    env.cpu.loadSegCache(Seg.ES, 0x10, LA_B - 0x100, 0xffffffff, 0x93 | SA.DB | SA.G);
    const r = runAsm(env, `${paging32(env)}\n${READ_AB('%eax', '%ebx')}\n${REMAP}
  invlpg %es:0x100\n${READ_AB('%esi', '%edi')}`);
    expect(r.done).toBe(true);
    expect([reg(env, ESI), reg(env, EDI)]).toEqual([0xa, 0xb2]);
  });

  it('clearing CR4.PGE flushes global translations too', () => {
    const env = makeEnv();
    const r = runAsm(env, `${paging32(env)}\n${READ_AB('%eax', '%ebx')}\n${REMAP}
  xorl %ecx, %ecx\n  movl %ecx, %cr4\n${READ_AB('%esi', '%edi')}`);
    expect(r.done).toBe(true);
    expect([reg(env, ESI), reg(env, EDI)]).toEqual([0xa2, 0xb2]);
  });

  it('INVLPG at CPL 3 is #GP(0); its register form is #UD', () => {
    const env = makeEnv();
    expectFault(runAsm(env, `  invlpg ${DATA}`, { cpl: 3 }), GP, 0);
    expectFault(runAsm(env, '  .byte 0x0f,0x01,0xf9'), UD);
  });

  it('CR0.WP decides whether CPL 0 may write a read-only page (and toggling it flushes the TLB)', () => {
    const env = makeEnv();
    // WP=0: the write succeeds and leaves a writable TLB entry behind.
    let r = runAsm(env, `${paging32(env)}\n  movl $1, ${LA_RO}`);
    expect(r.done).toBe(true);
    expect(env.mem.read32(PA_RO)).toBe(1);
    // WP=1: the same write now faults with P|W, CR2 = the address.
    r = runAsm(env, `  movl %cr0, %eax\n  orl $0x10000, %eax\n  movl %eax, %cr0\n  movl $2, ${LA_RO}`);
    expect(r.fault).not.toBeNull();
    expect([r.fault!.vector, r.fault!.errorCode, r.fault!.cr2, r.fault!.eip]).toEqual([PF, 3, LA_RO, CODE + 3 + 5 + 3]);
    expect(env.mem.read32(PA_RO)).toBe(1);
    // WP=0 again: allowed again.
    r = runAsm(env, `  movl %cr0, %eax\n  andl $0xfffeffff, %eax\n  movl %eax, %cr0\n  movl $3, ${LA_RO}`);
    expect(r.done).toBe(true);
    expect(env.mem.read32(PA_RO)).toBe(3);
  });

  it('SGDT that straddles into a read-only page faults without writing the first page (LA_B is writable)', () => {
    const env = makeEnv();
    const setup = paging32(env);
    const r = runAsm(env, `${setup}\n  movl %cr0, %eax\n  orl $0x10000, %eax\n  movl %eax, %cr0
  movl $0x55555555, ${LA_RO - 4}\n  sgdt ${LA_RO - 4}`);
    expect(r.fault?.vector).toBe(PF);
    expect(r.fault!.cr2).toBe(LA_RO);
    expect(u(env.mem.read32(PA_B + 0xffc))).toBe(0x55555555);
  });

  it('LTR faults (#PF) on a read-only GDT page with WP=1, leaving TR and the busy bit alone', () => {
    const env = makeEnv();
    const setup = paging32(env);
    env.mem.write32(PT0 + (GDT >> 12) * 4, GDT | 0x41); // GDT page read-only, dirty
    const r = runAsm(env, `${setup}\n  movl %cr0, %eax\n  orl $0x10000, %eax\n  movl %eax, %cr0
  movw $${SEL.TSS32}, %ax\n  ltr %ax`);
    expect(r.fault?.vector).toBe(PF);
    expect(r.fault!.errorCode).toBe(3);
    expect(env.cpu.segSel[Seg.TR]).toBe(0);
    expect((env.mem.read32(GDT + SEL.TSS32 + 4) >>> 8) & 0xff).toBe(0x89);
  });
});

describe('EFER.NXE (SDM vol. 3A §4.6, §4.7)', () => {
  const PDPT = 0x110000, PDX = 0x111000, PTX = 0x112000, NXPAGE = 0x30000;

  /** PAE identity map of 0-2 MiB; NXPAGE has the XD bit. Returns asm enabling paging. */
  function pae(env: Env): string {
    const m = env.mem;
    m.fill(PDPT, 0x3000, 0);
    m.write32(PDPT, PDX | 1);
    m.write32(PDX, PTX | 3);
    for (let k = 0; k < 512; k++) m.write32(PTX + k * 8, (k << 12) | 3);
    m.write32(PTX + (NXPAGE >> 12) * 8 + 4, 0x80000000 | 0);
    m.writeBytes(NXPAGE, asm('  hlt', NXPAGE));
    return `  movl $${PDPT}, %eax\n  movl %eax, %cr3\n  movl $0x20, %eax\n  movl %eax, %cr4
  movl %cr0, %eax\n  orl $0x80000000, %eax\n  movl %eax, %cr0`;
  }
  const nxe = (on: boolean): string => `  movl $0xc0000080, %ecx\n  movl $${on ? 0x800 : 0}, %eax\n  xorl %edx, %edx\n  wrmsr`;

  it('with NXE, fetching from an XD page is #PF with I/D set; data reads still work', () => {
    const env = makeEnv();
    const r = runAsm(env, `${pae(env)}\n${nxe(true)}\n  movl ${NXPAGE}, %ebx\n  movl $${NXPAGE}, %eax\n  jmp *%eax`);
    expect(r.fault).not.toBeNull();
    expect([r.fault!.vector, r.fault!.errorCode, r.fault!.cr2, r.fault!.eip]).toEqual([PF, 0x11, NXPAGE, NXPAGE]);
    expect(reg(env, EBX)).toBe(0xf4);
  });

  it('without NXE the XD bit is reserved: any access is #PF with RSVD, and no I/D', () => {
    const env = makeEnv();
    const r = runAsm(env, `${pae(env)}\n  movl $${NXPAGE}, %eax\n  jmp *%eax`);
    expect([r.fault!.vector, r.fault!.errorCode, r.fault!.cr2]).toEqual([PF, 0x9, NXPAGE]);
  });

  it('writing EFER flushes the TLB: a translation cached under NXE does not survive clearing it', () => {
    const env = makeEnv();
    const r = runAsm(env, `${pae(env)}\n${nxe(true)}\n  movl ${NXPAGE}, %ebx\n${nxe(false)}\n  movl ${NXPAGE}, %esi`);
    expect(reg(env, EBX)).toBe(0xf4);
    expect(r.fault?.vector).toBe(PF);
    expect(r.fault!.errorCode).toBe(0x9);
  });
});
