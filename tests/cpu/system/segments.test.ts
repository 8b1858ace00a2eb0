/**
 * Segment-register loads (MOV/POP Sreg, LDS/LES/LSS/LFS/LGS, PUSH Sreg)
 * against the protected-mode rules of Intel SDM vol. 3A §3.4.5, §5.4-5.6
 * and the vol. 2 "MOV", "POP" and "LDS/LES/..." operation sections. Each
 * test names the rule it checks. Faults are observed through the real IDT:
 * ring-0 stubs record the vector and halt with the frame on the stack.
 */
import { describe, expect, it } from 'vitest';
import { Exit, SA, Seg } from '../../../src/vmm/cpu/cpu.js';
import { ACC, CODE0, CODE3, GATE, GDT, SEL, STACK0, STACK3, STUBS, SysEnv } from './env.js';

const DONE = 0x7f;

/** A ring-3 environment whose code ends with `int $DONE`. */
function ring3(code: string): SysEnv {
  const env = new SysEnv();
  env.gate(DONE, SEL.CODE0, STUBS + DONE * 16, GATE.INT32, 3);
  env.enter(3);
  env.load(`${code}\n  int $${DONE}`, CODE3);
  return env;
}

/** A ring-0 environment whose code ends with `hlt`. */
function ring0(code: string): SysEnv {
  const env = new SysEnv();
  env.load(`${code}\n  hlt`, CODE0);
  return env;
}

/** Run and expect a fault `vector` with error code `ec` at the instruction at `at`. */
function expectFault(env: SysEnv, vector: number, ec: number, at: number): void {
  expect(env.run()).toBe(Exit.HLT);
  expect(env.vector).toBe(vector);
  expect(env.stack(0)).toBe(ec);
  expect(env.stack(1)).toBe(at);
}

describe('MOV to DS/ES/FS/GS (SDM vol. 2 MOV; vol. 3A §5.6)', () => {
  it('loads a DPL 3 data segment at CPL 3 and sets its accessed bit (§3.4.5.1)', () => {
    const env = ring3('  movl $0x23, %eax\n  movw %ax, %es');
    // Clear the accessed bit first.
    env.mem.write32(GDT + 0x20 + 4, env.gdtHi(0x20) & ~0x100);
    env.enter(3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    expect(env.cpu.segSel[Seg.ES]).toBe(0x23);
    expect(env.gdtHi(0x20) & 0x100).toBe(0x100);
    expect(env.cpu.segAttr[Seg.ES]! & 0xff).toBe(0xf3);
  });

  it('takes base and limit from the descriptor (byte granularity)', () => {
    const env = ring3('  movl $0x53, %eax\n  movw %ax, %fs\n  movl %fs:0x10, %ebx\n  movl %fs:0x100, %ecx');
    env.seg(10, 0x50000, 0xff, ACC.DATA3, 0x4);
    env.mem.write32(0x50010, 0x12345678);
    expect(env.run()).toBe(Exit.HLT);
    // The access at 0x100 is beyond the limit 0xff: #GP(0).
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0);
    expect(env.cpu.r32[3]! >>> 0).toBe(0x12345678);
    expect(env.cpu.segBase[Seg.FS]).toBe(0x50000);
    expect(env.cpu.segLimit[Seg.FS]).toBe(0xff);
  });

  it('allows a null selector in DS/ES/FS/GS; a later access through it is #GP(0) (§5.4.1)', () => {
    const env = ring3('  movl $3, %eax\n  movw %ax, %gs\n  movw %gs, %bx\n  movl %gs:0, %ecx');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0);
    expect(env.cpu.r32[3]! & 0xffff).toBe(3); // the null selector keeps its RPL
    expect(env.segState(Seg.GS).isNull).toBe(true);
    expect(env.stack(1)).toBe(CODE3 + 10);
  });

  it('selector index beyond the GDT limit is #GP(selector with RPL cleared)', () => {
    const env = ring3('  movl $0x10b, %eax\n  movw %ax, %ds');
    expectFault(env, 13, 0x108, CODE3 + 5);
    expect(env.cpu.segSel[Seg.DS]).toBe(SEL.DATA3);
  });

  it('TI=1 selector indexes the LDT; beyond the LDT limit is #GP(selector)', () => {
    const env = ring3('  movl $0x0f, %eax\n  movw %ax, %ds\n  movl $0x87, %eax\n  movw %ax, %ds');
    env.ldtSeg(1, 0x60000, 0xfff, ACC.DATA3, 0x4);
    env.enter(3);
    expectFault(env, 13, 0x84, CODE3 + 12);
    expect(env.cpu.segSel[Seg.DS]).toBe(0x0f);
    expect(env.cpu.segBase[Seg.DS]).toBe(0x60000);
  });

  it('data segment with DPL < CPL is #GP(selector) (§5.6: DPL >= max(CPL, RPL))', () => {
    const env = ring3('  movl $0x13, %eax\n  movw %ax, %ds');
    expectFault(env, 13, 0x10, CODE3 + 5);
  });

  it('data segment with DPL < RPL is #GP(selector) even at CPL 0', () => {
    const env = ring0('  movl $0x13, %eax\n  movw %ax, %ds');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x10);
    expect(env.stack(1)).toBe(CODE0 + 5);
  });

  it('readable code may be loaded; execute-only code and system descriptors are #GP(selector) (§5.6.1)', () => {
    const env = ring3('  movl $0x1b, %eax\n  movw %ax, %es\n  movl $0x53, %eax\n  movw %ax, %ds');
    env.seg(10, 0, 0xfffff, 0xf8, 0xc); // DPL 3 execute-only code
    env.enter(3);
    expectFault(env, 13, 0x50, CODE3 + 12);
    expect(env.cpu.segSel[Seg.ES]).toBe(0x1b);
    const tss = ring3('  movl $0x2b, %eax\n  movw %ax, %ds');
    expectFault(tss, 13, 0x28, CODE3 + 5);
  });

  it('conforming readable code skips the DPL check (§5.6.1)', () => {
    const env = ring3('  movl $0x53, %eax\n  movw %ax, %ds');
    env.seg(10, 0, 0xfffff, 0x9e, 0xc); // DPL 0 conforming, readable
    env.enter(3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    expect(env.cpu.segSel[Seg.DS]).toBe(0x53);
  });

  it('a not-present data segment is #NP(selector), checked after the privilege rules', () => {
    const env = ring3('  movl $0x53, %eax\n  movw %ax, %ds');
    env.seg(10, 0, 0xfffff, ACC.DATA3 & 0x7f, 0xc);
    env.enter(3);
    expectFault(env, 11, 0x50, CODE3 + 5);
    const both = ring3('  movl $0x53, %eax\n  movw %ax, %ds');
    both.seg(10, 0, 0xfffff, ACC.DATA0 & 0x7f, 0xc); // not present and DPL 0: #GP wins
    both.enter(3);
    expectFault(both, 13, 0x50, CODE3 + 5);
  });

  it('MOV to CS is #UD', () => {
    const env = ring0('  .byte 0x8e, 0xc8');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(6);
  });
});

describe('loading SS (SDM vol. 2 MOV/POP/LSS; vol. 3A §5.7)', () => {
  it('a null selector is #GP(0)', () => {
    const env = ring0('  xorl %eax, %eax\n  movw %ax, %ss');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0);
  });

  it('RPL != CPL, DPL != CPL and read-only data are #GP(selector)', () => {
    for (const [sel, ec] of [[0x12, 0x10], [0x23, 0x20], [0x50, 0x50]] as const) {
      const env = ring0(`  movl $${sel}, %eax\n  movw %ax, %ss`);
      env.seg(10, 0, 0xfffff, 0x90, 0xc); // DPL 0 read-only data
      expect(env.run()).toBe(Exit.HLT);
      expect(env.vector).toBe(13);
      expect(env.stack(0)).toBe(ec);
    }
  });

  it('a not-present stack segment is #SS(selector)', () => {
    const env = ring0('  movl $0x50, %eax\n  movw %ax, %ss');
    env.seg(10, 0, 0xfffff, ACC.DATA0 & 0x7f, 0xc);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(12);
    expect(env.stack(0)).toBe(0x50);
  });

  it('MOV SS takes the stack size (B bit) from the new descriptor', () => {
    const env = ring0('  movl $0x50, %eax\n  movw %ax, %ss\n  hlt');
    env.seg(10, 0, 0xffff, ACC.DATA0, 0x0); // 16-bit stack
    env.cpu.r32[4] = 0x12348000;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.stack32).toBe(false);
    expect(env.cpu.segSel[Seg.SS]).toBe(0x50);
  });

  it('MOV SS sets cpu.intShadow and ends the block', () => {
    const env = ring0('  movl $0x10, %eax\n  movw %ax, %ss\n  nop\n  hlt');
    expect(env.run(2)).toBe(Exit.BUDGET);
    expect(env.cpu.intShadow).toBe(true);
    expect(env.cpu.eip).toBe(CODE0 + 7);
  });

  it('LSS loads SS:ESP; a bad selector leaves ESP unchanged (fault before any change)', () => {
    const env = ring0('  lss 0x600, %esp\n  movl $0x5000, %esp\n  lss 0x610, %esp');
    env.mem.write32(0x600, 0x7000);
    env.mem.write32(0x604, SEL.DATA0);
    env.mem.write32(0x610, 0x6000);
    env.mem.write32(0x614, 0x23);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x20);
    // The fault was delivered on the unchanged stack (same privilege).
    expect(env.cpu.r32[4]).toBe(0x5000 - 16);
  });
});

describe('PUSH/POP segment registers', () => {
  it('32-bit PUSH writes the zero-extended selector as a dword; 16-bit PUSH a word', () => {
    const env = ring0('  movl $0xffffffff, -4(%esp)\n  pushl %ds\n  pushw %fs\n  hlt');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.mem.read32(STACK0 - 4) >>> 0).toBe(SEL.DATA0);
    expect(env.mem.read16(STACK0 - 6)).toBe(SEL.DATA0);
    expect(env.cpu.r32[4]).toBe(STACK0 - 6);
  });

  it('POP DS with a faulting selector changes neither DS nor ESP', () => {
    const env = ring3('  pushl $0x13\n  popl %ds');
    expectFault(env, 13, 0x10, CODE3 + 2);
    // Ring 3 stack as it was before the POP: the frame holds the old ESP.
    expect(env.stack(4)).toBe(STACK3 - 4);
    expect(env.cpu.segSel[Seg.DS]).toBe(SEL.DATA3);
  });

  it('POP SS loads SS and releases the slot; POP ES/FS/GS round-trip', () => {
    const env = ring0('  pushl $0x10\n  popl %ss\n  pushl $0x50\n  popl %gs\n  pushw $0x50\n  popw %es\n  hlt');
    env.seg(10, 0x1000, 0xfff, ACC.DATA0, 0x4);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.r32[4]).toBe(STACK0);
    expect(env.cpu.segSel[Seg.GS]).toBe(0x50);
    expect(env.cpu.segSel[Seg.ES]).toBe(0x50);
    expect(env.cpu.segBase[Seg.ES]).toBe(0x1000);
  });

  it('PUSH CS pushes the selector with RPL = CPL', () => {
    const env = ring3('  pushl %cs\n  popl %eax');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.r32[0]).toBe(SEL.CODE3);
  });
});

describe('LDS/LES/LFS/LGS (SDM vol. 2 LDS/LES/LFS/LGS/LSS)', () => {
  it('loads the offset into the register and the selector into the segment register', () => {
    const env = ring0('  lds 0x600, %ebx\n  les 0x600, %cx\n  lfs 0x608, %edx\n  hlt');
    env.mem.write32(0x600, 0xcafe1234);
    env.mem.write16(0x604, SEL.DATA0);
    env.mem.write16(0x608, 0x5678);
    env.mem.write16(0x60a, 0x10);
    // les with a 16-bit operand: offset word at 0x600, selector at 0x602 (0xcafe: bad).
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0xcafc);
    expect(env.cpu.r32[3]! >>> 0).toBe(0xcafe1234);
    expect(env.cpu.r32[1]).toBe(0); // CX unchanged by the faulting LES
  });

  it('16-bit LFS and 32-bit LGS', () => {
    const env = ring0('  lfs 0x600, %cx\n  lgs 0x608, %edx\n  hlt');
    env.mem.write16(0x600, 0x4321);
    env.mem.write16(0x602, SEL.DATA0);
    env.mem.write32(0x608, 0x87654321);
    env.mem.write16(0x60c, SEL.DATA0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(-1);
    expect(env.cpu.r32[1]).toBe(0x4321);
    expect(env.cpu.r32[2]! >>> 0).toBe(0x87654321);
  });

  it('LDS with a register operand (C5 mod=3) is #UD in 32-bit mode', () => {
    const env = ring0('  .byte 0xc5, 0xc0');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(6);
  });
});

describe('ARPL (SDM vol. 2 ARPL)', () => {
  it('raises the destination RPL to the source RPL and sets ZF', () => {
    const env = ring3('  movl $0x10, %eax\n  movl $0x23, %ebx\n  arpl %bx, %ax\n  setz %cl\n  arpl %bx, %ax\n  setz %ch');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.r32[0]).toBe(0x13);
    expect(env.cpu.r32[1]! & 0xffff).toBe(0x0001);
  });
});

describe('segment state after a null load', () => {
  it('marks the cache unusable', () => {
    const env = ring0('  xorl %eax, %eax\n  movw %ax, %fs');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.segAttr[Seg.FS]! & SA.NULL).toBe(SA.NULL);
    expect(env.cpu.segSel[Seg.FS]).toBe(0);
  });
});
