/**
 * Far control transfers: CALL/JMP far to code segments and through call
 * gates, and RET far, against Intel SDM vol. 3A §5.8 (privilege checks for
 * control transfers, call gates, stack switching, returns to an outer
 * level) and the vol. 2 "CALL", "JMP" and "RET" operation sections.
 */
import { describe, expect, it } from 'vitest';
import { Exit, SA, Seg } from '../../../src/vmm/cpu/cpu.js';
import { ACC, CODE0, CODE3, GATE, SEL, STACK0, STACK3, STUBS, SysEnv, TSS } from './env.js';

const DONE = 0x7f;

/** Ring-3 caller at `at` (default CODE3) ending in `int $DONE`. */
function ring3(code: string, at = CODE3): SysEnv {
  const env = new SysEnv();
  env.gate(DONE, SEL.CODE0, STUBS + DONE * 16, GATE.INT32, 3);
  env.enter(3);
  env.load(`${code}\n  int $${DONE}`, at);
  return env;
}

/** Ring-0 callee that copies `n` dwords of its entry stack to 0x700, then runs `tail`. */
function callee(n: number, tail: string): string {
  const copy: string[] = ['  movl %esp, %edi'];
  for (let k = 0; k < n; k++) copy.push(`  movl ${4 * k}(%esp), %eax\n  movl %eax, %ss:${0x700 + 4 * k}`);
  return `${copy.join('\n')}\n${tail}`;
}

/**
 * Route `vector` to a conforming ring-0 code segment (selector 0x60), so it
 * is delivered without a stack switch at ring 3: the handler records the
 * vector at 0x504 and its frame pointer in EBP, restores the TSS's ring-0
 * stack, then raises DONE.
 */
function conformingHandler(env: SysEnv, vector: number): void {
  env.seg(12, 0, 0xfffff, 0x9e, 0xc);
  // Repair SS0:ESP0 (tests break them) so DONE can reach ring 0.
  env.load(`  movl $${vector}, %ss:0x504\n  movl %esp, %ebp\n  movl $${STACK0}, %ss:${TSS + 4}\n` +
    `  movl $${SEL.DATA0}, %ss:${TSS + 8}\n  int $${DONE}`, CODE3 + 0x400);
  env.gate(vector, 0x60, CODE3 + 0x400, GATE.INT32, 0);
  env.cpu.eip = CODE3;
}

/** Dword `k` of the conforming handler's frame. */
function frame(env: SysEnv, k: number): number {
  return env.mem.read32(env.cpu.r32[5]! + 4 * k) >>> 0;
}

function dump(env: SysEnv, n: number, size = 4): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) out.push(size === 4 ? env.mem.read32(0x700 + 4 * k) >>> 0 : env.mem.read16(0x700 + 2 * k));
  return out;
}

describe('CALL far through a call gate to an inner ring (§5.8.5)', () => {
  it('switches to SS0:ESP0 from the TSS, copies the parameters and returns with RET far imm16', () => {
    const env = ring3('  movl $0x23, %eax\n  movw %ax, %es\n  pushl $0x11111111\n  pushl $0x22222222\n  lcall $0x33, $0\n  movl %esp, %esi');
    env.callGate(6, SEL.CODE0, CODE0 + 0x100, 3, 2);
    env.load(callee(6, '  movl $0x10, %ebx\n  movw %bx, %ds\n  movw %cs, %cx\n  lret $8'), CODE0 + 0x100);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    // New stack: caller's SS, ESP, both parameters (same order), CS, EIP.
    const ret = CODE3 + 7 + 5 + 5 + 7;
    expect(dump(env, 6)).toEqual([ret, SEL.CODE3, 0x22222222, 0x11111111, STACK3 - 8, SEL.DATA3]);
    expect(env.cpu.r32[7]).toBe(STACK0 - 24);
    expect(env.cpu.r32[1]! & 0xffff).toBe(SEL.CODE0); // CPL 0 inside: CS.RPL = 0
    // Back at ring 3 with both stacks released by the imm16.
    expect(env.cpu.r32[6]).toBe(STACK3);
    // DS (DPL 0 data) is nulled on the return to ring 3; ES (DPL 3) is kept (§5.8.6).
    expect(env.segState(Seg.DS)).toEqual({ sel: 0, isNull: true });
    expect(env.cpu.segSel[Seg.ES]).toBe(SEL.DATA3);
  });

  it('16-bit call gates copy words and build a 16-bit frame', () => {
    const env = ring3('  pushw $0x1111\n  pushw $0x2222\n  lcall $0x33, $0\n  movl %esp, %esi', 0x5000);
    env.callGate(6, SEL.CODE0, 0x6000, 3, 2, GATE.CALL16);
    env.load(callee(3, '  lretw $4'), 0x6000);
    env.cpu.eip = 0x5000;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    // IP, CS, p0, p1, SP, SS as words.
    expect(dump(env, 6, 2)).toEqual([0x5000 + 4 + 4 + 7, SEL.CODE3, 0x2222, 0x1111, (STACK3 - 4) & 0xffff, SEL.DATA3]);
    expect(env.cpu.r32[7]).toBe(STACK0 - 12);
    expect(env.cpu.r32[6]).toBe(STACK3);
  });

  it('reaches ring 1 with SS1:ESP1 from the TSS', () => {
    const env = ring3('  lcall $0x33, $0');
    env.callGate(6, SEL.CODE1, CODE0 + 0x100, 3, 0);
    env.load(callee(4, '  movw %cs, %cx\n  movw %ss, %dx\n  lret'), CODE0 + 0x100);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.r32[1]! & 0xffff).toBe(SEL.CODE1);
    expect(env.cpu.r32[2]! & 0xffff).toBe(SEL.DATA1);
    expect(dump(env, 4)).toEqual([CODE3 + 7, SEL.CODE3, STACK3, SEL.DATA3]);
  });

  it('a gate with DPL < CPL is #GP(gate selector)', () => {
    const env = ring3('  lcall $0x33, $0');
    env.callGate(6, SEL.CODE0, CODE0 + 0x100, 0, 0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x30);
    expect(env.stack(1)).toBe(CODE3);
  });

  it('a gate with DPL < selector RPL is #GP(gate selector)', () => {
    const env = new SysEnv();
    env.callGate(6, SEL.CODE0, CODE0 + 0x100, 0, 0);
    env.load('  lcall $0x33, $0\n  hlt', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x30);
  });

  it('a not-present gate is #NP(gate selector); a not-present target is #NP(code selector)', () => {
    const env = ring3('  lcall $0x33, $0');
    env.callGate(6, SEL.CODE0, CODE0 + 0x100, 3, 0, GATE.CALL32, false);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(11);
    expect(env.stack(0)).toBe(0x30);
    const t = ring3('  lcall $0x33, $0');
    t.seg(10, 0, 0xfffff, ACC.CODE0 & 0x7f, 0xc);
    t.callGate(6, 0x50, CODE0 + 0x100, 3, 0);
    expect(t.run()).toBe(Exit.HLT);
    expect(t.vector).toBe(11);
    expect(t.stack(0)).toBe(0x50);
  });

  it('a null target selector is #GP(0); a data-segment target is #GP(selector)', () => {
    const env = ring3('  lcall $0x33, $0');
    env.callGate(6, 0, CODE0 + 0x100, 3, 0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0);
    const d = ring3('  lcall $0x33, $0');
    d.callGate(6, SEL.DATA0, CODE0 + 0x100, 3, 0);
    expect(d.run()).toBe(Exit.HLT);
    expect(d.stack(0)).toBe(0x10);
  });

  it('an invalid SS0 in the TSS is #TS(SS selector), with the caller state untouched', () => {
    const env = ring3('  pushl $5\n  lcall $0x33, $0');
    env.callGate(6, SEL.CODE0, CODE0 + 0x100, 3, 1);
    env.mem.write32(TSS + 8, SEL.DATA3); // RPL 3 != DPL 0 of the target
    conformingHandler(env, 10);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.mem.read32(0x504)).toBe(10);
    expect(frame(env, 0)).toBe(0x20);
    expect(frame(env, 1)).toBe(CODE3 + 2);
    expect(frame(env, 2)).toBe(SEL.CODE3);
    // The caller's stack holds only its own push below the #TS frame.
    expect(env.cpu.r32[5]).toBe(STACK3 - 4 - 16);
  });

  it('too little room on the new stack is #SS(new SS selector)', () => {
    const env = ring3('  pushl $5\n  lcall $0x33, $0');
    env.callGate(6, SEL.CODE0, CODE0 + 0x100, 3, 1);
    env.seg(11, 0x40000, 0xfff, ACC.DATA0, 0x4); // small ring-0 stack segment 0x58
    env.mem.write32(TSS + 4, 0x10);
    env.mem.write32(TSS + 8, 0x58);
    conformingHandler(env, 12);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.mem.read32(0x504)).toBe(12);
    expect(frame(env, 0)).toBe(0x58);
    expect(frame(env, 1)).toBe(CODE3 + 2);
    expect(env.cpu.r32[5]).toBe(STACK3 - 4 - 16);
  });
});

describe('direct CALL/JMP far to code segments (§5.8.1-5.8.2)', () => {
  it('non-conforming code with DPL != CPL is #GP(selector)', () => {
    const env = ring3('  lcall $0x08, $0');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x08);
  });

  it('conforming code with DPL <= CPL runs at the caller\'s CPL (CS.RPL = CPL)', () => {
    const env = ring3(`  lcall $0x50, $${CODE3 + 0x100}\n  movl %ecx, %edx`);
    env.seg(10, 0, 0xfffff, 0x9e, 0xc);
    env.load('  movw %cs, %cx\n  lret', CODE3 + 0x100);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    expect(env.cpu.r32[2]! & 0xffff).toBe(0x53);
    // DONE came from ring 3 (a stack switch happened).
    expect(env.stack(1)).toBe(SEL.CODE3);
    expect(env.stack(3)).toBe(STACK3);
  });

  it('pushes a 32-bit CS slot (zero-extended) and EIP; 16-bit operand size pushes words', () => {
    // Low addresses, so the 16-bit call's return IP is the whole EIP.
    const env = new SysEnv();
    env.load('  movl $-1, -4(%esp)\n  lcall $0x08, $0x6100\n  lcallw $0x08, $0x6000\n  hlt', 0x6800);
    env.load('  movl (%esp), %eax\n  movl 4(%esp), %ebx\n  lret', 0x6100);
    env.load('  movl (%esp), %ecx\n  lretw', 0x6000);
    env.cpu.eip = 0x6800;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(-1);
    expect(env.cpu.eip).toBe(0x6816);
    expect(env.cpu.r32[0]).toBe(0x680f);
    expect(env.cpu.r32[3]).toBe(SEL.CODE0);
    expect(env.cpu.r32[1]! >>> 0).toBe(((SEL.CODE0 << 16) | 0x6815) >>> 0);
    expect(env.cpu.r32[4]).toBe(STACK0);
  });

  it('a target beyond the code segment limit is #GP(0), before anything is pushed', () => {
    const env = ring3('  ljmp $0x53, $0x2000');
    env.seg(10, 0, 0xfff, ACC.CODE3, 0x4);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0);
    const c = ring3('  lcall $0x53, $0x2000');
    c.seg(10, 0, 0xfff, ACC.CODE3, 0x4);
    expect(c.run()).toBe(Exit.HLT);
    expect(c.stack(4)).toBe(STACK3);
  });

  it('JMP far to the same privilege loads CS; through a gate to an inner ring is #GP(code selector)', () => {
    const env = ring3(`  ljmp $0x1b, $${CODE3 + 0x40}`);
    env.load('  movl $7, %esi\n  int $0x7f', CODE3 + 0x40);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.r32[6]).toBe(7);
    const g = ring3('  ljmp $0x33, $0');
    g.callGate(6, SEL.CODE0, CODE0 + 0x100, 3, 0);
    expect(g.run()).toBe(Exit.HLT);
    expect(g.vector).toBe(13);
    expect(g.stack(0)).toBe(0x08);
  });

  it('a #PF on the second pushed slot leaves the first slot, ESP and CS untouched (precise fault)', () => {
    const env = ring3(`  movl $0x7004, %esp\n  lcall $0x1b, $${CODE3 + 0x100}`);
    // 32-bit paging: identity map of 4 MiB, user pages, except page 0x6000.
    const pd = 0x200000, pt = 0x201000;
    env.mem.write32(pd, pt | 7);
    for (let k = 0; k < 1024; k++) env.mem.write32(pt + 4 * k, k === 6 ? 0 : (k << 12) | 7);
    env.cpu.cr3 = pd;
    env.cpu.cr0 |= 0x80000000;
    env.cpu.tlbFlushAll();
    env.mem.write32(0x7000, 0xdeadbeef);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(14);
    expect(env.stack(0)).toBe(6); // user write to a not-present page
    expect(env.cpu.cr2 >>> 0).toBe(0x6ffc);
    expect(env.stack(1)).toBe(CODE3 + 5);
    expect(env.stack(4)).toBe(0x7004);
    expect(env.mem.read32(0x7000) >>> 0).toBe(0xdeadbeef);
  });

  it('JMP to a busy TSS (here the current task) is #GP(selector)', () => {
    const env = new SysEnv();
    env.load('  ljmp $0x28, $0\n  hlt', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x28);
  });
});

describe('RET far (§5.8.6; vol. 2 RET)', () => {
  it('a return CS with RPL < CPL is #GP(selector)', () => {
    const env = ring3('  pushl $0x08\n  pushl $0\n  lret');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x08);
    expect(env.stack(1)).toBe(CODE3 + 4);
  });

  it('a return to a data segment, or a null CS, is #GP', () => {
    const env = ring3('  pushl $0x23\n  pushl $0\n  lret');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.stack(0)).toBe(0x20);
    const n = ring3('  pushl $0\n  pushl $0\n  lret');
    expect(n.run()).toBe(Exit.HLT);
    expect(n.vector).toBe(13);
    expect(n.stack(0)).toBe(0);
  });

  it('a return to ring 3 whose SS is not a DPL 3 writable segment is #GP(SS selector)', () => {
    const env = new SysEnv();
    env.load(`  pushl $0x13\n  pushl $${STACK3}\n  pushl $0x1b\n  pushl $${CODE3}\n  lret\n  hlt`, CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x10);
    expect(env.cpu.cpl).toBe(0);
  });

  it('a return to ring 3 loads SS:ESP, and a conforming-code DS survives the null-out', () => {
    const env = new SysEnv();
    env.seg(10, 0, 0xfffff, 0x9e, 0xc); // conforming readable DPL 0 code
    env.load(`  movl $0x50, %eax\n  movw %ax, %fs\n  pushl $0x23\n  pushl $${STACK3 - 0x10}\n  pushl $0x1b\n  pushl $${CODE3}\n  lret`, CODE0);
    env.gate(DONE, SEL.CODE0, STUBS + DONE * 16, GATE.INT32, 3);
    env.load('  movl %esp, %esi\n  int $0x7f', CODE3);
    env.cpu.eip = CODE0;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.r32[6]).toBe(STACK3 - 0x10);
    expect(env.cpu.segSel[Seg.FS]).toBe(0x50);
    expect(env.segState(Seg.DS).isNull).toBe(true);
    expect(env.cpu.segAttr[Seg.CS]! & SA.DPL).toBe(0); // handler: ring 0 again
  });
});
