/**
 * Hardware task switches against Intel SDM vol. 3A ch. 7 (§7.3 task
 * switching, table 7-1 checks, table 7-2 busy/NT/link rules, §7.4 task
 * linking) and the vol. 2 "JMP"/"CALL"/"IRET"/"INT n" task paths.
 */
import { describe, expect, it } from 'vitest';
import { Exit, Seg } from '../../../src/vmm/cpu/cpu.js';
import { ACC, CODE0, CODE3, GATE, SEL, STUBS, SysEnv, TSS } from './env.js';

const DONE = 0x7f;
const TSS2 = 0x4100, TSS3 = 0x4200;
const SEL_TSS2 = 0x68, SEL_TSS3 = 0x70, SEL_TGATE = 0x7b;
const TASK_CODE = 0x12000;

interface TaskState {
  eip: number; eflags?: number; esp: number; cs?: number; ss?: number; ds?: number; eax?: number; cr3?: number; ldt?: number;
}

/** Fill a 32-bit TSS image. */
function writeTss(env: SysEnv, at: number, t: TaskState): void {
  env.mem.fill(at, 0x68, 0);
  env.mem.write32(at + 0x1c, t.cr3 ?? 0);
  env.mem.write32(at + 0x20, t.eip);
  env.mem.write32(at + 0x24, t.eflags ?? 0x2);
  env.mem.write32(at + 0x28, t.eax ?? 0);
  env.mem.write32(at + 0x38, t.esp);
  const ds = t.ds ?? SEL.DATA0;
  [ds, t.cs ?? SEL.CODE0, t.ss ?? SEL.DATA0, ds, ds, ds].forEach((s, k) => env.mem.write16(at + 0x48 + 4 * k, s));
  env.mem.write16(at + 0x60, t.ldt ?? 0);
}

/** Machine with TSS2 (0x68, available) and TSS3 (0x70, available), and a DPL 3 task gate 0x7b → TSS2. */
function tasks(): SysEnv {
  const env = new SysEnv();
  env.seg(13, TSS2, 0x67, ACC.TSS32, 0);
  env.seg(14, TSS3, 0x67, ACC.TSS32, 0);
  env.callGate(15, SEL_TSS2, 0, 3, 0, GATE.TASK);
  env.gate(DONE, SEL.CODE0, STUBS + DONE * 16, GATE.INT32, 3);
  return env;
}

const typeOf = (env: SysEnv, sel: number): number => (env.gdtHi(sel) >>> 8) & 0xf;

describe('JMP to a TSS (§7.3; table 7-2)', () => {
  it('saves the old task, clears its busy bit, loads the new one and marks it busy', () => {
    const env = tasks();
    writeTss(env, TSS2, { eip: TASK_CODE, esp: 0xb000, eax: 0xaaa, cr3: 0x5000 });
    env.load('  movl $0x11, %eax\n  movl $0x22, %ebx\n  ljmp $0x68, $0\n  hlt', CODE0);
    env.load('  movl $0x33, %ecx\n  hlt', TASK_CODE);
    env.cpu.eip = CODE0;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(-1);
    expect(env.cpu.segSel[Seg.TR]).toBe(SEL_TSS2);
    expect(env.cpu.r32[0]).toBe(0xaaa);
    expect(env.cpu.r32[1]).toBe(0x33);
    expect(env.cpu.r32[4]).toBe(0xb000);
    expect(env.cpu.cr3).toBe(0x5000);
    expect(env.cpu.cr0 & 8).toBe(8); // CR0.TS
    expect(env.cpu.flags & 0x4000).toBe(0); // JMP does not nest: NT clear
    // Old task state: EIP of the next instruction, registers.
    expect(env.mem.read32(TSS + 0x20)).toBe(CODE0 + 17);
    expect(env.mem.read32(TSS + 0x28)).toBe(0x11);
    expect(env.mem.read32(TSS + 0x34)).toBe(0x22);
    expect(env.mem.read16(TSS + 0x4c)).toBe(SEL.CODE0);
    expect(typeOf(env, SEL.TSS)).toBe(9);
    expect(typeOf(env, SEL_TSS2)).toBe(0xb);
    expect(env.mem.read16(TSS2)).toBe(0); // no link for JMP
  });

  it('a new TSS limit below 0x67 is #TS(selector) before anything changes', () => {
    const env = tasks();
    env.seg(13, TSS2, 0x50, ACC.TSS32, 0);
    env.load('  ljmp $0x68, $0', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(10);
    expect(env.stack(0)).toBe(SEL_TSS2);
    expect(env.stack(1)).toBe(CODE0);
    expect(env.cpu.segSel[Seg.TR]).toBe(SEL.TSS);
    expect(typeOf(env, SEL.TSS)).toBe(0xb);
  });

  it('a not-present TSS is #NP(selector); a TSS with DPL < CPL is #GP(selector)', () => {
    const env = tasks();
    env.seg(13, TSS2, 0x67, ACC.TSS32 & 0x7f, 0);
    env.load('  ljmp $0x68, $0', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(11);
    expect(env.stack(0)).toBe(SEL_TSS2);
    const u = tasks();
    u.enter(3);
    u.load('  ljmp $0x68, $0', CODE3);
    expect(u.run()).toBe(Exit.HLT);
    expect(u.vector).toBe(13);
    expect(u.stack(0)).toBe(SEL_TSS2);
  });

  it('faults while loading the new task\'s segments are raised in the new task (table 7-1)', () => {
    const env = tasks();
    writeTss(env, TSS2, { eip: TASK_CODE, esp: 0xb000, cs: SEL.DATA0 });
    env.load('  ljmp $0x68, $0', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(10);
    expect(env.cpu.segSel[Seg.TR]).toBe(SEL_TSS2);
    expect(env.stack(0)).toBe(SEL.DATA0);
    expect(env.stack(1)).toBe(TASK_CODE);
    expect(env.stack(2)).toBe(SEL.DATA0);
    expect(env.mem.read32(TSS + 0x20)).toBe(CODE0 + 7);
  });
});

describe('CALL through a task gate and IRET back (§7.4 task linking)', () => {
  it('links the new task, sets NT, and IRET returns to the caller and frees the callee', () => {
    const env = tasks();
    writeTss(env, TSS2, { eip: TASK_CODE, esp: 0xb000 });
    env.enter(3);
    env.load(`  movl $0x44, %esi\n  lcall $${SEL_TGATE}, $0\n  movl %eax, %edi\n  pushfl\n  popl %ebx\n  int $${DONE}`, CODE3);
    env.load('  pushfl\n  popl %ss:0x7f0\n  movl $0x99, %eax\n  iret', TASK_CODE);
    env.cpu.eip = CODE3;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(DONE);
    // Inside the called task: NT set; its link names the caller's TSS.
    expect(env.mem.read32(0x7f0) & 0x4000).toBe(0x4000);
    expect(env.mem.read16(TSS2)).toBe(SEL.TSS);
    // Back in the caller at ring 3 after the CALL, its registers restored, NT clear.
    expect(env.stack(1)).toBe(SEL.CODE3);
    expect(env.cpu.r32[6]).toBe(0x44);
    expect(env.cpu.r32[7]).toBe(0);
    expect(env.cpu.r32[3]! & 0x4000).toBe(0);
    expect(env.cpu.segSel[Seg.TR]).toBe(SEL.TSS);
    // The callee's state was saved by IRET; its TSS is no longer busy.
    expect(env.mem.read32(TSS2 + 0x28)).toBe(0x99);
    expect(typeOf(env, SEL_TSS2)).toBe(9);
    expect(typeOf(env, SEL.TSS)).toBe(0xb);
  });

  it('a task gate with DPL < CPL is #GP(gate selector)', () => {
    const env = tasks();
    env.callGate(15, SEL_TSS2, 0, 0, 0, GATE.TASK);
    env.enter(3);
    env.load(`  lcall $${SEL_TGATE}, $0`, CODE3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x78);
  });

  it('CALL to a busy TSS through a gate is #GP(TSS selector)', () => {
    const env = tasks();
    env.callGate(15, SEL.TSS, 0, 3, 0, GATE.TASK);
    env.enter(3);
    env.load(`  lcall $${SEL_TGATE}, $0`, CODE3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.stack(0)).toBe(SEL.TSS);
  });
});

describe('interrupts and exceptions through IDT task gates (§6.11.2)', () => {
  it('#DF through a task gate runs on the double-fault task\'s stack with error code 0 (the i386 Linux setup)', () => {
    const env = tasks();
    writeTss(env, TSS3, { eip: TASK_CODE, esp: 0xc000 });
    env.gate(13, SEL.CODE0, STUBS + 13 * 16, GATE.INT32, 0, false);
    env.gate(8, SEL_TSS3, 0, GATE.TASK, 0);
    env.load('  movl $0x13, %eax\n  movw %ax, %ds', CODE0);
    env.load('  movl (%esp), %eax\n  movl %esp, %ebx\n  hlt', TASK_CODE);
    env.cpu.r32[0] = 0x13;
    env.cpu.eip = CODE0;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.cpu.segSel[Seg.TR]).toBe(SEL_TSS3);
    expect(env.cpu.r32[0]).toBe(0);
    expect(env.cpu.r32[3]).toBe(0xc000 - 4);
    expect(env.cpu.flags & 0x4000).toBe(0x4000);
    expect(env.mem.read16(TSS3)).toBe(SEL.TSS);
    // The interrupted task's EIP is the faulting instruction.
    expect(env.mem.read32(TSS + 0x20)).toBe(CODE0 + 5);
  });

  it('INT n through a task gate checks the gate DPL (#GP(vector*8+2)) and otherwise switches', () => {
    const env = tasks();
    writeTss(env, TSS2, { eip: TASK_CODE, esp: 0xb000 });
    env.gate(0x90, SEL_TSS2, 0, GATE.TASK, 0);
    env.gate(0x91, SEL_TSS2, 0, GATE.TASK, 3);
    env.enter(3);
    env.load('  int $0x90', CODE3);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(0x90 * 8 + 2);
    const ok = tasks();
    writeTss(ok, TSS2, { eip: TASK_CODE, esp: 0xb000 });
    ok.gate(0x91, SEL_TSS2, 0, GATE.TASK, 3);
    ok.enter(3);
    ok.load('  int $0x91', CODE3);
    ok.load('  hlt', TASK_CODE);
    ok.cpu.eip = CODE3;
    expect(ok.run()).toBe(Exit.HLT);
    expect(ok.cpu.segSel[Seg.TR]).toBe(SEL_TSS2);
    expect(ok.cpu.cpl).toBe(0);
    expect(ok.mem.read32(TSS + 0x20)).toBe(CODE3 + 2);
    expect(ok.mem.read16(TSS + 0x4c)).toBe(SEL.CODE3);
  });

  it('a task gate naming a busy TSS is #GP(TSS selector + EXT)', () => {
    const env = tasks();
    env.gate(6, SEL.TSS, 0, GATE.TASK, 0);
    env.load('  ud2', CODE0);
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(13);
    expect(env.stack(0)).toBe(SEL.TSS | 1);
  });
});
