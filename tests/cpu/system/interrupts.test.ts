/**
 * Interrupt and exception delivery through the IDT, IRET, CLI/STI, INTO,
 * INT1 and BOUND, against Intel SDM vol. 3A §6.10-6.15 (gates, privilege
 * and stack switching, error codes, #DF and shutdown) and the vol. 2
 * "INT n/INTO/INT3/INT1", "IRET", "CLI", "STI" and "BOUND" sections.
 */
import { describe, expect, it } from 'vitest';
import { Exit, IntKind, SA, Seg } from '../../../src/vmm/cpu/cpu.js';
import { raiseInterrupt } from '../../../src/vmm/cpu/exec.js';
import { CODE0, CODE3, GATE, SEL, STACK0, STACK3, STUBS, SysEnv, TSS } from './env.js';

const DONE = 0x7f;
const RF = 0x10000;

function ring3(code: string): SysEnv {
  const env = new SysEnv();
  env.gate(DONE, SEL.CODE0, STUBS + DONE * 16, GATE.INT32, 3);
  env.enter(3);
  env.load(`${code}\n  int $${DONE}`, CODE3);
  return env;
}

/** Handler that copies `n` dwords of its frame to 0x700 and EFLAGS (as seen inside) to 0x7f0, then runs `tail`. */
function handler(n: number, tail = '  iret'): string {
  const lines = ['  pushfl', '  popl %ss:0x7f0'];
  for (let k = 0; k < n; k++) lines.push(`  movl ${4 * k}(%esp), %eax`, `  movl %eax, %ss:${0x700 + 4 * k}`);
  return `${lines.join('\n')}\n${tail}`;
}

function dump(env: SysEnv, n: number): number[] {
  return Array.from({ length: n }, (_, k) => env.mem.read32(0x700 + 4 * k) >>> 0);
}

describe('INT n from ring 3 through the IDT (§6.12.1)', () => {
  it('switches to SS0:ESP0 from the TSS, pushes SS, ESP, EFLAGS, CS, EIP; IRET returns to ring 3', () => {
    const env = ring3('  movl $0x1234, %ebx\n  int $0x80\n  movl %esp, %esi\n  pushfl\n  popl %edi');
    env.gate(0x80, SEL.CODE0, CODE0 + 0x200, GATE.INT32, 3);
    env.load(handler(5, '  movw %cs, %cx\n  iret'), CODE0 + 0x200);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    expect(dump(env, 5)).toEqual([CODE3 + 7, SEL.CODE3, 0x202, STACK3, SEL.DATA3]);
    // An interrupt gate clears IF in the handler (§6.12.1.3).
    expect(env.mem.read32(0x7f0) & 0x200).toBe(0);
    expect(env.cpu.r32[1]! & 0xffff).toBe(SEL.CODE0);
    // Back at ring 3: stack and IF restored.
    expect(env.cpu.r32[6]).toBe(STACK3);
    expect(env.cpu.r32[7]! & 0x200).toBe(0x200);
  });

  it('a trap gate leaves IF set; NT is cleared in the handler and kept in the pushed image', () => {
    const env = ring3('  pushl $0x4202\n  popfl\n  int $0x80');
    env.gate(0x80, SEL.CODE0, CODE0 + 0x200, GATE.TRAP32, 3);
    env.load(handler(3, '  hlt'), CODE0 + 0x200);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(dump(env, 3)[2]).toBe(0x4202);
    const inside = env.mem.read32(0x7f0);
    expect(inside & 0x200).toBe(0x200);
    expect(inside & 0x4000).toBe(0);
  });

  it('delivery clears TF: the single-step #DB handler is not itself single-stepped', () => {
    const env = new SysEnv();
    env.load('  pushl $0x302\n  popfl\n  nop\n  nop', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(1);
    // #DB is a trap: EIP names the instruction after the stepped one; TF is in the image.
    expect(env.stack(1)).toBe(SEL.CODE0);
    expect(env.stack(2) & 0x100).toBe(0x100);
    expect(env.cpu.flags & 0x100).toBe(0);
  });

  it('a gate with DPL < CPL is #GP(vector*8+2) for INT n, at the INT instruction', () => {
    const env = ring3('  nop\n  int $0x81');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x81 * 8 + 2);
    expect(env.stack(1)).toBe(CODE3 + 1);
    // A fault-class exception: RF is set in the pushed EFLAGS image (vol. 3B §17.3.1.1).
    expect(env.stack(3) & RF).toBe(RF);
  });

  it('a not-present gate is #NP(vector*8+2) for INT n and #NP(vector*8+3) for external events', () => {
    const env = ring3('  int $0x82');
    env.gate(0x82, SEL.CODE0, STUBS, GATE.INT32, 3, false);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(11);
    expect(env.stack(0)).toBe(0x82 * 8 + 2);
    const ext = new SysEnv();
    ext.gate(0x82, SEL.CODE0, STUBS, GATE.INT32, 0, false);
    ext.load('  hlt', CODE0);
    expect(raiseInterrupt(ext.cpu, 0x82, IntKind.EXTERNAL)).toBe(true);
    expect(ext.run()).toBe(Exit.HLT);
    expect(ext.vector).toBe(11);
    expect(ext.stack(0)).toBe(0x82 * 8 + 3);
    expect(ext.stack(1)).toBe(CODE0);
  });

  it('a vector beyond the IDT limit is #GP(vector*8+2+EXT)', () => {
    const env = ring3('  int $0x90');
    env.cpu.idtrLimit = 0x90 * 8 - 1;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x90 * 8 + 2);
  });

  it('a descriptor that is not an interrupt, trap or task gate is #GP(vector*8+2+EXT)', () => {
    const env = ring3('  int $0x84');
    env.raw(0x3000 + 0x84 * 8, 0x0000ffff, 0x00cffa00); // a code segment descriptor
    expect(env.run()).toBe(Exit.HLT);
    expect(env.stack(0)).toBe(0x84 * 8 + 2);
  });

  it('a gate whose code selector is null is #GP(EXT); non-code or DPL > CPL is #GP(selector+EXT)', () => {
    const env = ring3('  int $0x85');
    env.gate(0x85, 0, STUBS, GATE.INT32, 3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.stack(0)).toBe(0);
    const d = ring3('  int $0x85');
    d.gate(0x85, SEL.DATA0, STUBS, GATE.INT32, 3);
    expect(d.run()).toBe(Exit.HLT);
    expect(d.stack(0)).toBe(0x10);
    // Exceptions carry EXT: #UD whose gate names a data segment.
    const e = ring3('  ud2');
    e.gate(6, SEL.DATA0, STUBS, GATE.INT32, 0);
    expect(e.run()).toBe(Exit.HLT);
    expect(e.vector).toBe(13);
    expect(e.stack(0)).toBe(0x11);
  });

  it('an invalid SS0 is #TS(SS0 selector + EXT for exceptions)', () => {
    const env = ring3('  ud2');
    env.mem.write32(TSS + 8, SEL.CODE0);
    // Deliver the #TS at ring 3 through a conforming handler that stops with a 16-bit frame check.
    env.seg(12, 0, 0xfffff, 0x9e, 0xc);
    env.gate(10, 0x60, CODE3 + 0x400, GATE.INT32, 0);
    env.load(`  movl %esp, %ebp\n  movl $${SEL.DATA0}, %ss:${TSS + 8}\n  int $${DONE}`, CODE3 + 0x400);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.mem.read32(env.cpu.r32[5]!)).toBe(SEL.CODE0 | 1);
    expect(env.mem.read32(env.cpu.r32[5]! + 4)).toBe(CODE3);
  });
});

describe('same-privilege and conforming delivery', () => {
  it('at CPL 0 pushes EFLAGS, CS, EIP (and the error code) on the current stack', () => {
    const env = new SysEnv();
    env.load('  movl $0x13, %eax\n  movw %ax, %ds', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.cpu.r32[4]).toBe(STACK0 - 16);
    expect([env.stack(0), env.stack(1), env.stack(2), env.stack(3)]).toEqual([0x10, CODE0 + 5, SEL.CODE0, 0x202 | RF]);
  });

  it('a conforming handler keeps CPL 3 and the ring-3 stack', () => {
    const env = ring3('  int $0x87');
    env.seg(12, 0, 0xfffff, 0x9e, 0xc);
    env.gate(0x87, 0x60, CODE3 + 0x400, GATE.INT32, 3);
    env.load('  movw %cs, %ax\n  movl %esp, %ebp\n  iret', CODE3 + 0x400);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    expect(env.cpu.r32[0]! & 0xffff).toBe(0x63);
    expect(env.cpu.r32[5]).toBe(STACK3 - 12);
  });

  it('16-bit interrupt gates push a 16-bit frame and IRETW returns', () => {
    const env = new SysEnv();
    env.gate(0x88, SEL.CODE0, 0x6000, GATE.INT16, 0);
    env.load('  int $0x88\n  hlt', 0x6800);
    env.load('  movl (%esp), %eax\n  movw 4(%esp), %bx\n  iretw', 0x6000);
    env.cpu.eip = 0x6800;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.eip).toBe(0x6803);
    expect(env.cpu.r32[0]! >>> 0).toBe(((SEL.CODE0 << 16) | 0x6802) >>> 0);
    expect(env.cpu.r32[3]! & 0xffff).toBe(0x202);
    expect(env.cpu.r32[4]).toBe(STACK0);
  });
});

describe('#DF and shutdown (§6.15, table 6-5)', () => {
  it('a contributory fault while delivering a contributory fault becomes #DF with error code 0', () => {
    const env = new SysEnv();
    env.gate(13, SEL.CODE0, STUBS + 13 * 16, GATE.INT32, 0, false);
    env.load('  nop\n  movl $0x13, %eax\n  movw %ax, %ds', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(8);
    expect([env.stack(0), env.stack(1), env.stack(2)]).toEqual([0, CODE0 + 6, SEL.CODE0]);
  });

  it('a benign first event is followed by the second fault serially (INT n, then #NP)', () => {
    const env = new SysEnv();
    env.gate(0x89, SEL.CODE0, STUBS, GATE.INT32, 0, false);
    env.load('  int $0x89', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(11);
  });

  it('a fault while delivering #DF is a triple fault', () => {
    const env = new SysEnv();
    env.gate(13, SEL.CODE0, STUBS + 13 * 16, GATE.INT32, 0, false);
    env.gate(8, SEL.CODE0, STUBS + 8 * 16, GATE.INT32, 0, false);
    env.load('  movl $0x13, %eax\n  movw %ax, %ds', CODE0);
    expect(env.run()).toBe(Exit.TRIPLE_FAULT);
  });

  it('#PF on the inner stack while delivering from ring 3 escalates (#PF during #PF → #DF → shutdown)', () => {
    const env = ring3('  int $0x80');
    env.gate(0x80, SEL.CODE0, STUBS, GATE.INT32, 3);
    // 32-bit paging, identity map of the first 4 MiB except the ring-0 stack page.
    const pd = 0x200000, pt = 0x201000;
    env.mem.write32(pd, pt | 7);
    for (let k = 0; k < 1024; k++) env.mem.write32(pt + 4 * k, (k << 12) | 7);
    env.mem.write32(pt + 4 * ((STACK0 - 4) >>> 12), 0);
    env.cpu.cr3 = pd;
    env.cpu.cr0 |= 0x80000000;
    env.cpu.tlbFlushAll();
    expect(env.run()).toBe(Exit.TRIPLE_FAULT);
    expect(env.cpu.cr2 >>> 0).toBe(STACK0 - 4);
    expect(env.cpu.cpl).toBe(3);
    expect(env.cpu.r32[4]).toBe(STACK3);
  });
});

describe('IRET (vol. 2 IRET)', () => {
  it('returns from ring 0 to ring 3: loads SS:ESP, IOPL (CPL 0), nulls DPL-0 data registers', () => {
    const env = new SysEnv();
    env.gate(DONE, SEL.CODE0, STUBS + DONE * 16, GATE.INT32, 3);
    env.load(`  pushl $0x23\n  pushl $${STACK3 - 0x20}\n  pushl $0x3202\n  pushl $0x1b\n  pushl $${CODE3}\n  iret`, CODE0);
    env.load('  movl %esp, %esi\n  cli\n  int $0x7f', CODE3);
    env.cpu.eip = CODE0;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    expect(env.cpu.r32[6]).toBe(STACK3 - 0x20);
    // IOPL 3 let ring 3 execute CLI: IF is clear in the DONE frame.
    expect(env.stack(2)).toBe(0x3002);
    expect(env.segState(Seg.DS).isNull).toBe(true);
    expect(env.segState(Seg.ES).isNull).toBe(true);
  });

  it('at CPL 3 with IOPL 0, IRET cannot change IOPL or IF', () => {
    const env = ring3(`  pushl $0x23\n  pushl $${STACK3 - 0x40}\n  pushl $0x30d7\n  pushl $0x1b\n  pushl $${CODE3 + 0x100}\n  iret`);
    env.load('  pushfl\n  popl %ebx\n  int $0x7f', CODE3 + 0x100);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    // Arithmetic flags come from the image; IOPL stays 0 and IF stays 1.
    expect(env.cpu.r32[3]! >>> 0).toBe(0x2d7 | 0x200);
  });

  it('a return CS with RPL < CPL is #GP(selector)', () => {
    const env = ring3('  pushl $0x202\n  pushl $0x08\n  pushl $0\n  iret');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x08);
  });

  it('with NT set returns to the task in the link field: a null link is #TS(0)', () => {
    const env = new SysEnv();
    env.load('  pushl $0x4002\n  popfl\n  iret', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(10);
    expect(env.stack(0)).toBe(0);
  });
});

describe('CLI/STI, INTO, INT1, BOUND', () => {
  it('CLI at CPL 3 with IOPL 0 is #GP(0)', () => {
    const env = ring3('  cli');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0);
    expect(env.stack(1)).toBe(CODE3);
  });

  it('STI that sets IF opens an interrupt shadow and ends the block', () => {
    const env = new SysEnv();
    env.load('  cli\n  sti\n  nop\n  hlt', CODE0);
    expect(env.run(2)).toBe(Exit.BUDGET);
    expect(env.cpu.intShadow).toBe(true);
    expect(env.cpu.flags & 0x200).toBe(0x200);
  });

  it('INTO does nothing when OF is clear and raises #OF (a trap) when it is set', () => {
    const env = ring3('  into\n  movl $0x7fffffff, %eax\n  incl %eax\n  into\n  movl $1, %esi');
    env.gate(4, SEL.CODE0, STUBS + 4 * 16, GATE.INT32, 3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(4);
    expect(env.stack(0)).toBe(CODE3 + 8);
    expect(env.cpu.r32[6]).toBe(0);
  });

  it('INT1 (F1) delivers #DB without the gate DPL check', () => {
    const env = ring3('  .byte 0xf1');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(1);
    expect(env.stack(0)).toBe(CODE3 + 1);
  });

  it('BOUND raises #BR (a fault, no error code) when the signed index is out of range', () => {
    const env = ring3('  movl $5, %eax\n  bound %eax, 0x600\n  movl $-3, %eax\n  bound %eax, 0x600');
    env.mem.write32(0x600, -2);
    env.mem.write32(0x604, 5);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(5);
    expect(env.stack(0)).toBe(CODE3 + 5 + 6 + 5);
    expect(env.stack(2) & RF).toBe(RF);
  });

  it('BOUND with a register operand is #UD', () => {
    const env = ring3('  .byte 0x62, 0xc0');
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(6);
  });
});

describe('CPL follows CS after delivery', () => {
  it('sets CPL and the TLB permission masks from the handler\'s CS', () => {
    const env = ring3('  int $0x80');
    env.gate(0x80, SEL.CODE0, STUBS + 0x80 * 16, GATE.INT32, 3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.cpl).toBe(0);
    expect(env.cpu.segSel[Seg.CS]).toBe(SEL.CODE0);
    expect(env.cpu.segAttr[Seg.SS]! & SA.DPL).toBe(0);
    expect(env.cpu.needW & 8).toBe(0);
  });
});

describe('real-address mode (SDM vol. 3A §20.1.4; vol. 2 INT n, IRET, CALL/JMP/RET far)', () => {
  it('INT n goes through the IVT and IRET returns; far CALL/RET load CS with base = selector * 16', () => {
    const env = new SysEnv();
    const c = env.cpu;
    c.cr0 &= ~1;
    for (const s of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) c.loadSegCache(s, 0, 0, 0xffff, 0x93);
    c.loadSegCache(Seg.CS, 0, 0, 0xffff, 0x9b);
    c.setCpl(0);
    c.r32[4] = 0x6000;
    c.idtrBase = 0;
    c.idtrLimit = 0x3ff;
    env.mem.write16(0x10 * 4, 0x7d00);
    env.mem.write16(0x10 * 4 + 2, 0);
    env.load('.code16\n  sti\n  int $0x10\n  lcall $0x0700, $0x0100\n  hlt', 0x7c00);
    env.load('.code16\n  pushf\n  popw %dx\n  movw $0x1234, %bx\n  iret', 0x7d00);
    env.load('.code16\n  movw %cs, %cx\n  lret', 0x7100);
    c.eip = 0x7c00;
    expect(env.run()).toBe(Exit.HLT);
    expect(c.r32[3]).toBe(0x1234);
    expect(c.r32[1]).toBe(0x700);
    expect(c.r32[2]! & 0x200).toBe(0); // IF cleared inside the handler
    expect(c.flags & 0x200).toBe(0x200); // and restored by IRET
    expect(c.r32[4]).toBe(0x6000);
    expect(c.eip).toBe(0x7c00 + 1 + 2 + 5 + 1);
    expect(c.segSel[Seg.CS]).toBe(0);
  });
});
