/**
 * Debugger support (src/vmm/cpu/debug.ts): execution breakpoints by linear
 * address without touching guest memory, single-step, and data watchpoints
 * with trap semantics (EIP after the accessing instruction, like the x86
 * debug registers, Intel SDM vol. 3A §17.2.4-17.3.1.2).
 */
import { describe, expect, it } from 'vitest';
import { Cpu, Exit, Seg } from '../../src/vmm/cpu/cpu.js';
import { run } from '../../src/vmm/cpu/exec.js';
import { REP_CHUNK } from '../../src/vmm/cpu/families/string.js';
import { DF, TF } from '../../src/vmm/cpu/flags.js';
import { GuestAccess } from '../../src/vmm/xen/guest-access.js';
import type { WatchKind } from '../../src/vmm/cpu/debug.js';
import { P, Pt32, RW, asm, load, machine } from './system/fixture.js';
import { CODE0, STACK0, STUBS, SysEnv } from './system/env.js';

const CODE = 0x100000;
const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, ESI = 6, EDI = 7;

/** 20 one-byte `incl %eax`, then a jump back: 21 instructions per lap. */
const LAP = `1:\n${'  incl %eax\n'.repeat(20)}  jmp 1b`;
/** EAX after n instructions of LAP from its start. */
const lapEax = (n: number): number => n - Math.floor(n / 21);

/** Linear address of the next instruction. */
function lin(cpu: Cpu): number {
  return (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
}

/** Address of whatever follows `prefix` when assembled at CODE. */
function after(prefix: string, org = CODE): number {
  return org + asm(prefix, org).length;
}

/** Address of the named label in `src` assembled at CODE. */
function addrOf(src: string, label: string): number {
  const bin = asm(`${src}\n  .long ${label}`, CODE);
  return Buffer.from(bin).readUInt32LE(bin.length - 4);
}

/** A machine with 32-bit paging identity-mapping the first 4 MiB (writable, supervisor). */
function paged() {
  const m = machine();
  const pt = new Pt32(m.mem);
  for (let a = 0x1000; a < 0x400000; a += 0x1000) pt.map(a, a, P | RW);
  pt.enable(m.cpu);
  m.cpu.r32[ESP] = 0x8000;
  return { ...m, pt };
}

/** Run until something other than BUDGET, resuming over every breakpoint; returns the exits seen. */
function runResuming(cpu: Cpu, budget: number): { exits: Exit[]; at: number[] } {
  const exits: Exit[] = [], at: number[] = [];
  let left = budget;
  while (left > 0) {
    const before = cpu.icount;
    const e = run(cpu, left);
    left -= cpu.icount - before;
    if (e === Exit.BUDGET) break;
    exits.push(e);
    at.push(lin(cpu));
    if (e !== Exit.BREAKPOINT) break;
    cpu.debug.resumeFrom = lin(cpu);
  }
  return { exits, at };
}

describe('breakpoints', () => {
  it('stop before the instruction at a block start, with icount unchanged; resuming runs one lap', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    expect(m.cpu.debug.addBreakpoint(CODE)).toBe(true);
    expect(m.cpu.debug.addBreakpoint(CODE)).toBe(false);
    expect(run(m.cpu, 1000)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.icount).toBe(0);
    expect(m.cpu.eip).toBe(CODE);
    // Without resumeFrom it stops again, still executing nothing.
    expect(run(m.cpu, 1000)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.icount).toBe(0);
    for (let lap = 1; lap <= 5; lap++) {
      m.cpu.debug.resumeFrom = CODE;
      expect(run(m.cpu, 1000)).toBe(Exit.BREAKPOINT);
      expect(m.cpu.icount).toBe(21 * lap);
      expect(m.cpu.r32[EAX]).toBe(20 * lap);
      expect(m.cpu.eip).toBe(CODE);
      expect(m.cpu.debug.resumeFrom).toBe(-1);
    }
  });

  it('stop in the middle of a block that was cached and chained before the breakpoint was set', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    expect(run(m.cpu, 1000)).toBe(Exit.BUDGET); // the lap block is cached and linked to itself
    const decoded = m.cpu.blocks.decodedBlocks;
    m.cpu.debug.addBreakpoint(CODE + 7);
    expect(run(m.cpu, 10_000)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.eip).toBe(CODE + 7);
    expect(m.cpu.icount).toBe(1015);
    expect(m.cpu.r32[EAX]).toBe(lapEax(1015));
    expect(m.cpu.blocks.decodedBlocks).toBeGreaterThan(decoded);
    for (let k = 1; k <= 3; k++) {
      m.cpu.debug.resumeFrom = CODE + 7;
      expect(run(m.cpu, 10_000)).toBe(Exit.BREAKPOINT);
      expect(m.cpu.icount).toBe(1015 + 21 * k);
      expect(m.cpu.r32[EAX]).toBe(lapEax(1015 + 21 * k));
    }
  });

  it('stop at the start of a chained successor block', () => {
    const m = machine();
    const src = `1:\n  incl %eax\n  jmp 2f\n  nop\n2:\n  incl %ebx\n  incl %ebx\n  jmp 1b`;
    load(m.cpu, asm(src, CODE), CODE);
    const second = after('1:\n  incl %eax\n  jmp 2f\n  nop\n2:');
    expect(run(m.cpu, 500)).toBe(Exit.BUDGET); // both blocks linked to each other
    m.cpu.debug.addBreakpoint(second);
    expect(run(m.cpu, 10_000)).toBe(Exit.BREAKPOINT);
    expect(lin(m.cpu)).toBe(second);
    const ebx = m.cpu.r32[EBX]!, eax = m.cpu.r32[EAX]!;
    m.cpu.debug.resumeFrom = second;
    expect(run(m.cpu, 10_000)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.r32[EBX]).toBe(ebx + 2);
    expect(m.cpu.r32[EAX]).toBe(eax + 1);
  });

  it('resuming executes the instruction exactly once, also a jump to itself', () => {
    const m = machine();
    load(m.cpu, asm('1:\n  jmp 1b', CODE), CODE);
    m.cpu.debug.addBreakpoint(CODE);
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    for (let k = 1; k <= 4; k++) {
      m.cpu.debug.resumeFrom = CODE;
      expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
      expect(m.cpu.icount).toBe(k);
    }
  });

  it('resuming a finished REP instruction that heads a looping block stops again on the next lap', () => {
    const m = machine();
    load(m.cpu, asm('1:\n  rep stosb\n  incl %eax\n  jmp 1b', CODE), CODE);
    m.cpu.r32[EDI] = 0x200000; // ECX = 0: the REP does nothing and completes
    m.cpu.debug.addBreakpoint(CODE);
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    for (let k = 1; k <= 3; k++) {
      m.cpu.debug.resumeFrom = CODE;
      expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
      expect(m.cpu.icount).toBe(3 * k);
    }
  });

  it('resuming counts a breakpointed instruction once per execution in a loop', () => {
    const m = machine();
    const src = '  movl $10, %ecx\n1:\n  incl %edx\n  incl %ebx\n  loop 1b\n  hlt';
    load(m.cpu, asm(src, CODE), CODE);
    const bp = after('  movl $10, %ecx\n1:\n  incl %edx');
    m.cpu.debug.addBreakpoint(bp);
    const { exits } = runResuming(m.cpu, 1000);
    expect(exits).toEqual([...Array<Exit>(10).fill(Exit.BREAKPOINT), Exit.HLT]);
    expect(m.cpu.r32[EBX]).toBe(10);
    expect(m.cpu.r32[EDX]).toBe(10);
    expect(m.cpu.icount).toBe(1 + 30 + 1);
  });

  it('keep icount and state exactly as an undebugged run, however often they stop', () => {
    const src = `  movl $0x9000, %esi\n1:\n  incl %eax\n  addl %eax, (%esi)\n  movl (%esi), %edx\n  call 2f\n  jmp 1b\n2:\n  xorl %edx, %ebx\n  ret`;
    const ref = machine(), dbg = machine();
    for (const m of [ref, dbg]) { load(m.cpu, asm(src, CODE), CODE); m.cpu.r32[ESP] = 0x8000; }
    expect(run(ref.cpu, 5000)).toBe(Exit.BUDGET);
    dbg.cpu.debug.addBreakpoint(after(`  movl $0x9000, %esi\n1:\n  incl %eax\n  addl %eax, (%esi)`));
    dbg.cpu.debug.addBreakpoint(after(`  movl $0x9000, %esi\n1:\n  incl %eax\n  addl %eax, (%esi)\n  movl (%esi), %edx\n  call 2f\n  jmp 1b\n2:`));
    const { exits } = runResuming(dbg.cpu, 5000);
    expect(exits.length).toBe(1428); // two stops in each 7-instruction lap
    expect(dbg.cpu.icount).toBe(5000);
    expect(Array.from(dbg.cpu.r32)).toEqual(Array.from(ref.cpu.r32));
    expect(dbg.cpu.eip).toBe(ref.cpu.eip);
    expect(dbg.mem.read32(0x9000)).toBe(ref.mem.read32(0x9000));
  });

  it('work after a self-modifying write rewrote the block holding them (guest memory is never patched)', () => {
    const m = machine();
    // Each lap stores EDX into the immediate of the next instruction, then executes it.
    const src = `1:\n  incl %edx\n  movl %edx, 2f+1\n2:\n  movl $0, %eax\n3:\n  incl %ecx\n  jmp 1b`;
    const code = asm(src, CODE);
    load(m.cpu, code, CODE);
    const bp = after(`1:\n  incl %edx\n  movl %edx, 2f+1\n2:\n  movl $0, %eax\n3:`);
    m.cpu.debug.addBreakpoint(bp);
    expect(Buffer.from(m.mem.readBytes(bp, 1))).toEqual(Buffer.from([0x41])); // incl %ecx, not int3
    const exits: Exit[] = [], at: number[] = [];
    for (let k = 1; k <= 5; k++) {
      const e = run(m.cpu, 1000);
      exits.push(e);
      at.push(lin(m.cpu));
      expect(m.cpu.r32[EAX]).toBe(k); // the freshly written immediate ran
      expect(m.cpu.r32[ECX]).toBe(k - 1);
      m.cpu.debug.resumeFrom = bp;
    }
    expect(exits).toEqual(Array<Exit>(5).fill(Exit.BREAKPOINT));
    expect(at).toEqual(Array<number>(5).fill(bp));
    expect(m.cpu.blocks.invalidations).toBeGreaterThanOrEqual(5);
  });

  it('survive a reload of the code and are checked before a fetch fault', () => {
    const m = paged();
    const UNMAPPED = 0x800000;
    load(m.cpu, asm(`  jmp ${UNMAPPED}`, CODE), CODE);
    m.cpu.debug.addBreakpoint(UNMAPPED);
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.eip).toBe(UNMAPPED);
    expect(m.rec.events).toEqual([]);
    m.cpu.debug.resumeFrom = UNMAPPED;
    expect(run(m.cpu, 100)).toBe(Exit.STOPPED); // the #PF is delivered now
    expect(m.rec.events.map((e) => [e.vector, e.eip])).toEqual([[14, UNMAPPED]]);
    expect(m.cpu.debug.resumeFrom).toBe(-1);
    // Map the page, load code there (a "reload"): the breakpoint still stops it.
    m.pt.map(UNMAPPED, 0x300000, P | RW);
    m.mem.writeBytes(0x300000, asm('  incl %eax\n  hlt', UNMAPPED));
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    m.cpu.debug.resumeFrom = UNMAPPED;
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.r32[EAX]).toBe(1);
  });

  it('are linear addresses: CS base + EIP', () => {
    const m = machine();
    const BASE = 0x10000;
    m.cpu.loadSegCache(Seg.CS, 0x08, BASE, 0xffffffff, m.cpu.segAttr[Seg.CS]!);
    const code = asm('  incl %eax\n  incl %eax\n  incl %eax\n  hlt', CODE);
    m.mem.writeBytes(CODE + BASE, code);
    m.cpu.eip = CODE;
    m.cpu.debug.addBreakpoint(CODE + 2); // an offset, not the linear address: never hit
    m.cpu.debug.addBreakpoint(CODE + BASE + 2);
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.eip).toBe(CODE + 2);
    expect(m.cpu.r32[EAX]).toBe(2);
  });

  it('work at high kernel addresses, with resumeFrom given signed or unsigned', () => {
    const m = paged();
    const KVA = 0xc0001000;
    m.pt.map(KVA, 0x300000, P | RW);
    m.mem.writeBytes(0x300000, asm('1:\n  incl %eax\n  incl %ebx\n  jmp 1b', KVA));
    m.cpu.eip = KVA;
    m.cpu.debug.addBreakpoint(KVA + 1);
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    expect(lin(m.cpu)).toBe(KVA + 1);
    m.cpu.debug.resumeFrom = (KVA + 1) | 0; // negative
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.icount).toBe(4);
    m.cpu.debug.resumeFrom = KVA + 1;
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.icount).toBe(7);
    expect(m.cpu.debug.hasBreakpoint((KVA + 1) | 0)).toBe(true);
    expect(m.cpu.debug.removeBreakpoint((KVA + 1) | 0)).toBe(true);
    expect(run(m.cpu, 100)).toBe(Exit.BUDGET);
  });

  it('stop on the first instruction of an exception handler, before it runs', () => {
    const env = new SysEnv();
    env.load('  ud2\n  hlt', CODE0);
    env.cpu.debug.addBreakpoint(STUBS + 6 * 16);
    expect(env.run()).toBe(Exit.BREAKPOINT);
    expect(env.cpu.eip).toBe(STUBS + 6 * 16);
    expect(env.vector).toBe(-1);
    expect(env.cpu.icount).toBe(0);
    env.cpu.debug.resumeFrom = STUBS + 6 * 16;
    expect(env.run()).toBe(Exit.HLT);
    expect(env.vector).toBe(6);
  });

  it('a resumed REP string instruction is not stopped again at every chunk, also across budget slices', () => {
    const m = machine();
    load(m.cpu, asm('  rep stosb\n  hlt', CODE), CODE);
    m.cpu.r32[ECX] = 3 * REP_CHUNK + 5;
    m.cpu.r32[EDI] = 0x200000;
    m.cpu.debug.addBreakpoint(CODE);
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
    m.cpu.debug.resumeFrom = CODE;
    expect(run(m.cpu, 2)).toBe(Exit.BUDGET); // two chunks, still on the instruction
    expect(m.cpu.eip).toBe(CODE);
    expect(run(m.cpu, 1)).toBe(Exit.BUDGET);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.icount).toBe(5);
    expect(m.cpu.r32[ECX]).toBe(0);
    // Looping back to it later stops again.
    m.cpu.halted = false;
    m.cpu.eip = CODE;
    expect(run(m.cpu, 100)).toBe(Exit.BREAKPOINT);
  });

  it('removing them restores whole blocks and the ordinary loop', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    const ref = machine();
    load(ref.cpu, asm(LAP, CODE), CODE);
    m.cpu.debug.addBreakpoint(CODE + 5);
    m.cpu.debug.addBreakpoint(CODE + 12);
    expect(run(m.cpu, 1000)).toBe(Exit.BREAKPOINT);
    expect(m.cpu.debug.removeBreakpoint(CODE + 5)).toBe(true);
    expect(m.cpu.debug.removeBreakpoint(CODE + 5)).toBe(false);
    m.cpu.debug.clear();
    expect(m.cpu.debug.armed).toBe(false);
    expect(m.cpu.debug.breakpoints.size).toBe(0);
    expect(run(m.cpu, 995)).toBe(Exit.BUDGET);
    expect(run(ref.cpu, 1000)).toBe(Exit.BUDGET);
    expect(m.cpu.icount).toBe(1000);
    expect(m.cpu.r32[EAX]).toBe(ref.cpu.r32[EAX]);
    // The lap is one block again (21 instructions from CODE).
    m.cpu.eip = CODE;
    const b = m.cpu.blocks.lookup();
    expect(b.insns.length).toBe(21);
  });
});

describe('single step', () => {
  it('executes one plain instruction per run and returns STEP', () => {
    const m = machine();
    load(m.cpu, asm('  movl $1, %eax\n  movl $2, %ebx\n  addl %eax, %ebx\n  hlt', CODE), CODE);
    m.cpu.debug.stepping = true;
    const eips = [CODE + 5, CODE + 10, CODE + 12];
    for (let k = 0; k < 3; k++) {
      expect(run(m.cpu, 1000)).toBe(Exit.STEP);
      expect(m.cpu.icount).toBe(k + 1);
      expect(m.cpu.eip).toBe(eips[k]);
    }
    expect(m.cpu.r32[EBX]).toBe(3);
    expect(run(m.cpu, 0)).toBe(Exit.BUDGET);
    expect(m.cpu.icount).toBe(3);
  });

  it('follows branches (taken and not taken), calls and returns', () => {
    const m = machine();
    const src = '  xorl %eax, %eax\n  jz l1\n  nop\nl1:\n  jnz l2\ncall:\n  call l3\nl2:\n  hlt\nl3:\n  ret';
    load(m.cpu, asm(src, CODE), CODE);
    m.cpu.r32[ESP] = 0x8000;
    m.cpu.debug.stepping = true;
    const [l1, call, l2, l3] = ['l1', 'call', 'l2', 'l3'].map((l) => addrOf(src, l));
    const seen: number[] = [];
    for (let k = 0; k < 5; k++) {
      expect(run(m.cpu, 1000)).toBe(Exit.STEP);
      seen.push(m.cpu.eip);
    }
    expect(seen).toEqual([CODE + 2, l1, call, l3, l2]);
    expect(m.cpu.icount).toBe(5);
  });

  it('executes the instruction under a breakpoint at EIP, and stops on the next one with STEP', () => {
    const m = machine();
    load(m.cpu, asm('  incl %eax\n  incl %eax\n  hlt', CODE), CODE);
    m.cpu.debug.addBreakpoint(CODE);
    m.cpu.debug.addBreakpoint(CODE + 1);
    m.cpu.debug.stepping = true;
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.eip).toBe(CODE + 1);
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.eip).toBe(CODE + 2);
    expect(m.cpu.r32[EAX]).toBe(2);
    m.cpu.debug.stepping = false;
    expect(run(m.cpu, 10)).toBe(Exit.HLT);
  });

  it('into a faulting instruction: the fault is delivered and the step ends at the handler', () => {
    const env = new SysEnv();
    env.load('  ud2\n  hlt', CODE0);
    env.cpu.debug.stepping = true;
    expect(env.run()).toBe(Exit.STEP);
    expect(env.cpu.eip).toBe(STUBS + 6 * 16);
    expect(env.cpu.icount).toBe(0); // a fault retires nothing
    expect(env.stack(0)).toBe(CODE0); // the frame names the faulting ud2
    expect(env.vector).toBe(-1); // the handler has not run yet
    expect(env.run()).toBe(Exit.STEP);
    expect(env.vector).toBe(6);
    expect(env.cpu.icount).toBe(1);
  });

  it('over INT n: the step ends at the handler with the return address pushed', () => {
    const env = new SysEnv();
    env.load('  int $0x30\n  hlt', CODE0);
    env.cpu.debug.stepping = true;
    expect(env.run()).toBe(Exit.STEP);
    expect(env.cpu.eip).toBe(STUBS + 0x30 * 16);
    expect(env.cpu.icount).toBe(1);
    expect(env.stack(0)).toBe(CODE0 + 2);
  });

  it('into a fetch fault: the #PF is delivered and the step ends at the handler', () => {
    const m = paged();
    const HANDLER = CODE + 0x100;
    load(m.cpu, asm('  jmp 0x800000', CODE), CODE);
    m.mem.writeBytes(HANDLER, asm('  hlt', HANDLER));
    m.rec.onEvent = (cpu) => { cpu.eip = HANDLER; return true; };
    m.cpu.debug.stepping = true;
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.eip).toBe(0x800000);
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.rec.events.map((e) => [e.vector, e.eip])).toEqual([[14, 0x800000]]);
    expect(m.cpu.eip).toBe(HANDLER);
    expect(m.cpu.icount).toBe(1);
  });

  it('over HLT: STEP with the CPU halted; a step while halted returns HLT', () => {
    const m = machine();
    load(m.cpu, asm('  hlt\n  incl %eax', CODE), CODE);
    m.cpu.debug.stepping = true;
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.eip).toBe(CODE + 1);
    expect(m.cpu.icount).toBe(1);
    expect(run(m.cpu, 10)).toBe(Exit.HLT);
    expect(m.cpu.icount).toBe(1);
  });

  it('over a hypercall returns HYPERCALL with the instruction retired', () => {
    const m = machine();
    load(m.cpu, asm('  vmcall\n  hlt', CODE), CODE);
    m.cpu.debug.stepping = true;
    expect(run(m.cpu, 10)).toBe(Exit.HYPERCALL);
    expect(m.cpu.eip).toBe(CODE + 3);
    expect(m.cpu.icount).toBe(1);
  });

  it('delivers nothing but the instruction\'s own events (with guest TF: its #DB trap)', () => {
    const m = machine();
    load(m.cpu, asm('  incl %eax\n  incl %eax\n  hlt', CODE), CODE);
    m.cpu.debug.stepping = true;
    m.cpu.intShadow = true;
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.intShadow).toBe(false);
    expect(m.rec.events).toEqual([]);
    m.cpu.flags |= TF;
    m.rec.onEvent = () => true;
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.rec.events.map((e) => [e.vector, e.eip])).toEqual([[1, CODE + 2]]);
    expect(m.cpu.icount).toBe(2);
  });

  it('over a REP string instruction runs one chunk (one retired instruction)', () => {
    const m = machine();
    load(m.cpu, asm('  rep stosb\n  hlt', CODE), CODE);
    m.cpu.r32[ECX] = REP_CHUNK + 3;
    m.cpu.r32[EDI] = 0x200000;
    m.cpu.debug.stepping = true;
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.eip).toBe(CODE);
    expect(m.cpu.r32[ECX]).toBe(3);
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.eip).toBe(CODE + 2);
    expect(m.cpu.icount).toBe(2);
  });

  it('an icount-exact walk: stepping N times equals running N instructions', () => {
    const src = `  movl $0x9000, %esi\n1:\n  incl %eax\n  addl %eax, (%esi)\n  call 2f\n  jmp 1b\n2:\n  xorl %eax, %ebx\n  ret`;
    const ref = machine(), dbg = machine();
    for (const m of [ref, dbg]) { load(m.cpu, asm(src, CODE), CODE); m.cpu.r32[ESP] = 0x8000; }
    run(ref.cpu, 777);
    dbg.cpu.debug.stepping = true;
    for (let k = 0; k < 777; k++) expect(run(dbg.cpu, 1000)).toBe(Exit.STEP);
    expect(dbg.cpu.icount).toBe(777);
    expect(Array.from(dbg.cpu.r32)).toEqual(Array.from(ref.cpu.r32));
    expect(dbg.cpu.eip).toBe(ref.cpu.eip);
  });
});

/** A machine running `src` (at CODE) with 32-bit paging and data at 0x9000-0xbfff. */
function watchMachine(src: string) {
  const m = paged();
  const code = asm(src, CODE);
  m.mem.writeBytes(CODE, code);
  return {
    ...m,
    /** Reset EIP, halt state and memory, then run. */
    go(budget = 1000): Exit {
      m.cpu.eip = CODE;
      m.cpu.halted = false;
      return run(m.cpu, budget);
    },
  };
}

const ACCESS = {
  w1: '  movb %al, (%ebx)\n  hlt', w2: '  movw %ax, (%ebx)\n  hlt', w4: '  movl %eax, (%ebx)\n  hlt',
  r1: '  movb (%ebx), %al\n  hlt', r2: '  movw (%ebx), %ax\n  hlt', r4: '  movl (%ebx), %eax\n  hlt',
  rmw4: '  addl %eax, (%ebx)\n  hlt', w8: '  cmpxchg8b (%ebx)\n  hlt',
} as const;

describe('watchpoints', () => {
  it('report exactly the overlapping accesses: watch sizes 1/2/4/8, access sizes 1/2/4/8, unaligned and straddling pages', () => {
    let hits = 0, misses = 0;
    for (const [name, src] of Object.entries(ACCESS)) {
      if (name.startsWith('rmw')) continue;
      const m = watchMachine(src);
      const size = Number(name.slice(1)), write = name.startsWith('w');
      const len = asm(src, CODE).length - 1; // the hlt is 1 byte
      for (const base of [0x9003, 0x9ffe, 0xa000, 0x9ff9]) {
        for (const wlen of [1, 2, 4, 8]) {
          for (const kind of ['write', 'read', 'access'] as WatchKind[]) {
            m.cpu.debug.clear();
            m.cpu.debug.addWatchpoint(base, wlen, kind);
            for (let off = -10; off <= 10; off++) {
              const a = base + off;
              m.cpu.r32[EBX] = a;
              m.cpu.r32[EAX] = 0x11223344;
              m.cpu.r32[EDX] = 0x55667788;
              const icount = m.cpu.icount;
              const e = m.go();
              const overlap = a < base + wlen && base < a + size;
              // CMPXCHG8B reads and writes: every kind hits, the first overlapping access decides `write`.
              const rmw = size === 8;
              const kindOk = rmw || kind === 'access' || (kind === 'write') === write;
              const tag = `${name} at ${a.toString(16)} / ${kind} ${base.toString(16)}+${wlen}`;
              if (overlap && kindOk) {
                hits++;
                expect(e, tag).toBe(Exit.WATCH);
                expect(m.cpu.eip, tag).toBe(CODE + len); // trap: after the instruction
                expect(m.cpu.icount - icount, tag).toBe(1);
                const h = m.cpu.debug.hit!;
                expect(h.addr, tag).toBe(base);
                expect(h.len, tag).toBe(wlen);
                expect(h.kind, tag).toBe(kind);
                expect(h.write, tag).toBe(rmw ? kind === 'write' : write);
                if (size === 8) {
                  expect([a, a + 4], tag).toContain(h.accessAddr);
                  expect(h.accessLen, tag).toBe(4);
                } else {
                  expect(h.accessAddr, tag).toBe(a);
                  expect(h.accessLen, tag).toBe(size);
                }
              } else {
                misses++;
                expect(e, tag).toBe(Exit.HLT);
                expect(m.cpu.icount - icount, tag).toBe(2);
                expect(m.cpu.debug.hit, tag).toBe(null);
              }
            }
          }
        }
      }
    }
    expect(hits).toBeGreaterThan(500);
    expect(misses).toBeGreaterThan(1000);
  });

  it('the accessing instruction completes before the stop; a read-modify-write hits both kinds', () => {
    const m = watchMachine(ACCESS.rmw4);
    m.mem.write32(0x9100, 5);
    m.cpu.r32[EBX] = 0x9100;
    m.cpu.r32[EAX] = 3;
    m.cpu.debug.addWatchpoint(0x9102, 1, 'write');
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.mem.read32(0x9100)).toBe(8);
    expect(m.cpu.debug.hit).toEqual({ kind: 'write', addr: 0x9102, len: 1, accessAddr: 0x9100, accessLen: 4, write: true });
    m.cpu.debug.clear();
    m.cpu.debug.addWatchpoint(0x9100, 4, 'read');
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.mem.read32(0x9100)).toBe(11);
    expect(m.cpu.debug.hit!.write).toBe(false);
    expect(m.cpu.debug.hit!.kind).toBe('read');
  });

  it('are linear: an alias mapping of the same frame does not hit', () => {
    const m = watchMachine('  movl %eax, (%ebx)\n  hlt');
    m.pt.map(0x500000, 0x9000, P | RW);
    m.cpu.debug.addWatchpoint(0x9010, 4, 'write');
    m.cpu.r32[EBX] = 0x500010;
    m.cpu.r32[EAX] = 0x1234;
    expect(m.go()).toBe(Exit.HLT);
    expect(m.mem.read32(0x9010)).toBe(0x1234);
    m.cpu.r32[EBX] = 0x9010;
    expect(m.go()).toBe(Exit.WATCH);
  });

  it('stack pushes and pops hit them; accesses by event delivery do not', () => {
    const env = new SysEnv();
    env.load('  int $0x30', CODE0);
    // The interrupt frame lands in [STACK0 - 12, STACK0).
    env.cpu.debug.addWatchpoint(STACK0 - 12, 12, 'access');
    expect(env.run()).toBe(Exit.HLT); // through the stub to its hlt
    expect(env.vector).toBe(0x30);
    expect(env.cpu.debug.hit).toBe(null);
    env.enter(0);
    env.cpu.halted = false;
    env.load('  pushl $7\n  popl %eax\n  hlt', CODE0);
    expect(env.run()).toBe(Exit.WATCH);
    expect(env.cpu.eip).toBe(CODE0 + 2);
    expect(env.cpu.debug.hit!.write).toBe(true);
    expect(env.run()).toBe(Exit.WATCH);
    expect(env.cpu.debug.hit!.write).toBe(false);
    expect(env.cpu.r32[EAX]).toBe(7);
    expect(env.run()).toBe(Exit.HLT);
  });

  it('an instruction that hits and then faults reports the fault, not the hit', () => {
    const m = watchMachine('  movsl\n  hlt');
    m.cpu.debug.addWatchpoint(0x9000, 4, 'read');
    m.cpu.r32[ESI] = 0x9000;
    m.cpu.r32[EDI] = 0x800000; // unmapped
    expect(m.go()).toBe(Exit.STOPPED);
    expect(m.rec.events.map((e) => [e.vector, e.eip])).toEqual([[14, CODE]]);
    expect(m.cpu.debug.hit).toBe(null);
    expect(m.cpu.icount).toBe(0);
  });

  it('VMM accesses (GuestAccess, peekLinear, PhysMemory) and a delivery\'s own accesses never hit', () => {
    const m = watchMachine('  ud2\n  hlt');
    m.cpu.debug.addWatchpoint(0x9000, 16, 'access');
    const guest = new GuestAccess(m.cpu);
    expect(guest.write32(0x9004, 0xabcd)).toBe(true);
    expect(guest.read32(0x9004)).toBe(0xabcd);
    expect(m.cpu.peekLinear(0x9000, 8)).not.toBe(null);
    m.mem.write32(0x9008, 1);
    // A delivery that writes through the CPU's accessors (as IDT delivery does).
    m.rec.onEvent = (cpu) => { cpu.wr32(0x9000, 0x77); cpu.eip = CODE + 2; return true; };
    expect(m.go()).toBe(Exit.HLT);
    expect(m.mem.read32(0x9000)).toBe(0x77);
    expect(m.cpu.debug.hit).toBe(null);
  });

  it('REP STOS stops after the element that hit, EIP staying on it while iterations remain', () => {
    const m = watchMachine('  rep stosl\n  hlt');
    const BUF = 0x200000;
    m.cpu.debug.addWatchpoint(BUF + 401, 1, 'write');
    m.cpu.r32[EAX] = 0x11111111;
    m.cpu.r32[ECX] = 1000;
    m.cpu.r32[EDI] = BUF;
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.cpu.eip).toBe(CODE);
    expect(m.cpu.r32[EDI]).toBe(BUF + 404);
    expect(m.cpu.r32[ECX]).toBe(899);
    expect(m.cpu.debug.hit).toMatchObject({ addr: BUF + 401, accessAddr: BUF + 400, accessLen: 4, write: true });
    expect(m.mem.read32(BUF + 400)).toBe(0x11111111);
    expect(m.mem.read32(BUF + 404)).toBe(0);
    expect(m.cpu.icount).toBe(1);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.r32[ECX]).toBe(0);
    expect(m.mem.read32(BUF + 3996)).toBe(0x11111111);
  });

  it('REP STOS over a watched page but not the range completes without a hit', () => {
    const m = watchMachine('  rep stosl\n  hlt');
    const BUF = 0x200000;
    m.cpu.debug.addWatchpoint(BUF + 4000, 4, 'write');
    m.cpu.r32[EAX] = -1;
    m.cpu.r32[ECX] = 1000;
    m.cpu.r32[EDI] = BUF;
    expect(m.go()).toBe(Exit.HLT);
    expect(m.cpu.icount).toBe(2);
    expect(m.mem.read32(BUF + 3996)).toBe(-1);
    expect(m.mem.read32(BUF + 4000)).toBe(0);
  });

  it('REP STOS going down (DF=1) and with the last element hitting', () => {
    const m = watchMachine('  rep stosb\n  hlt');
    const BUF = 0x200000;
    m.cpu.debug.addWatchpoint(BUF + 10, 1, 'write');
    m.cpu.flags |= DF;
    m.cpu.r32[EAX] = 0x5a;
    m.cpu.r32[ECX] = 100;
    m.cpu.r32[EDI] = BUF + 99;
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.cpu.r32[EDI]).toBe(BUF + 9);
    expect(m.cpu.r32[ECX]).toBe(10);
    expect(m.cpu.eip).toBe(CODE);
    // Last element: the instruction is finished, EIP moves on.
    m.cpu.debug.clear();
    m.cpu.debug.addWatchpoint(BUF, 1, 'write');
    expect(run(m.cpu, 100)).toBe(Exit.WATCH);
    expect(m.cpu.r32[ECX]).toBe(0);
    expect(m.cpu.eip).toBe(CODE + 2);
  });

  it('REP MOVS: a read watch on the source stops it; a write watch on the source does not', () => {
    const m = watchMachine('  rep movsb\n  hlt');
    const SRC = 0x200000, DST = 0x201800;
    for (let k = 0; k < 100; k++) m.mem.write8(SRC + k, k + 1);
    m.cpu.debug.addWatchpoint(SRC + 50, 1, 'write');
    m.cpu.debug.addWatchpoint(SRC + 50, 1, 'read');
    m.cpu.r32[ECX] = 100; m.cpu.r32[ESI] = SRC; m.cpu.r32[EDI] = DST;
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.cpu.debug.hit).toMatchObject({ kind: 'read', addr: SRC + 50, accessAddr: SRC + 50, write: false });
    expect([m.cpu.r32[ESI], m.cpu.r32[EDI], m.cpu.r32[ECX]]).toEqual([SRC + 51, DST + 51, 49]);
    expect(m.mem.read8(DST + 50)).toBe(51);
    expect(m.mem.read8(DST + 51)).toBe(0);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.mem.read8(DST + 99)).toBe(100);
  });

  it('REP SCAS, REP CMPS and REP INS stop at the hitting element too', () => {
    const BUF = 0x200000;
    const scas = watchMachine('  repne scasb\n  hlt');
    scas.cpu.debug.addWatchpoint(BUF + 20, 1, 'read');
    scas.cpu.r32[EAX] = 0x99; scas.cpu.r32[ECX] = 100; scas.cpu.r32[EDI] = BUF;
    expect(scas.go()).toBe(Exit.WATCH);
    expect([scas.cpu.r32[EDI], scas.cpu.r32[ECX]]).toEqual([BUF + 21, 79]);
    const cmps = watchMachine('  repe cmpsl\n  hlt');
    cmps.cpu.debug.addWatchpoint(BUF + 0x1000 + 8, 1, 'read');
    cmps.cpu.r32[ECX] = 100; cmps.cpu.r32[ESI] = BUF; cmps.cpu.r32[EDI] = BUF + 0x1000;
    expect(cmps.go()).toBe(Exit.WATCH);
    expect([cmps.cpu.r32[ESI], cmps.cpu.r32[ECX]]).toEqual([BUF + 12, 97]);
    const ins = watchMachine('  rep insb\n  hlt');
    ins.cpu.debug.addWatchpoint(BUF + 3, 1, 'write');
    ins.cpu.r32[ECX] = 10; ins.cpu.r32[EDI] = BUF; ins.cpu.r32[EDX] = 0x80;
    expect(ins.go()).toBe(Exit.WATCH);
    expect([ins.cpu.r32[EDI], ins.cpu.r32[ECX], ins.cpu.eip]).toEqual([BUF + 4, 6, CODE]);
  });

  it('on a page that also holds code: fetches never hit, data accesses and code writes do', () => {
    const src = `1:\n  incl %eax\n  movl %eax, var\n  cmpl $5, %eax\n  jne 1b\n  movb $0x90, patch\npatch:\n  hlt\n  hlt\nvar:\n  .long 0\npad:\n  .long 0`;
    const m = watchMachine(src);
    const v = addrOf(src, 'var'), patch = addrOf(src, 'patch');
    expect(v).toBe(patch + 2);
    // Watch the whole code (access) except var: no fetch may hit.
    m.cpu.debug.addWatchpoint(CODE, patch - CODE, 'access');
    m.cpu.debug.addWatchpoint(v + 4, 4, 'write'); // pad: never written
    expect(m.go()).toBe(Exit.HLT);
    expect(m.cpu.r32[EAX]).toBe(5);
    expect(m.cpu.debug.hit).toBe(null);
    // Watch var: each store hits.
    m.cpu.debug.clear();
    m.cpu.r32[EAX] = 0;
    m.mem.write8(patch, 0xf4);
    m.cpu.debug.addWatchpoint(v, 4, 'write');
    const stops: number[] = [];
    for (let e = m.go(); e === Exit.WATCH; e = run(m.cpu, 1000)) stops.push(m.cpu.r32[EAX]!);
    expect(stops).toEqual([1, 2, 3, 4, 5]);
    // A self-modifying write to watched code is a data write: it hits, and the new byte runs.
    m.cpu.debug.clear();
    m.cpu.r32[EAX] = 0;
    m.mem.write8(patch, 0xf4);
    m.cpu.debug.addWatchpoint(patch, 1, 'write');
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.cpu.eip).toBe(patch);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.eip).toBe(patch + 2); // the nop ran, then the second hlt
  });

  it('watched pages never get TLB entries; removing everything restores the fast paths', () => {
    const m = watchMachine('  movl %eax, (%ebx)\n  movl (%ebx), %edx\n  hlt');
    const W = 0x9ffe, lp0 = 0x9, lp1 = 0xa;
    m.cpu.r32[EBX] = 0x9100;
    expect(m.go()).toBe(Exit.HLT);
    expect(m.cpu.tlb[lp0]! & m.cpu.needW).toBe(m.cpu.needW);
    m.cpu.r32[EBX] = 0xa100;
    expect(m.go()).toBe(Exit.HLT);
    expect(m.cpu.tlb[lp1]! & m.cpu.needW).toBe(m.cpu.needW);
    const codeLp = CODE >>> 12;
    expect(m.cpu.tlb[codeLp]).not.toBe(0);
    m.cpu.debug.addWatchpoint(W, 4, 'write'); // straddles pages 9 and a
    m.cpu.debug.addWatchpoint(CODE + 0x800, 1, 'read'); // the code page
    expect(m.cpu.tlb[lp0]).toBe(0);
    expect(m.cpu.tlb[lp1]).toBe(0);
    expect(m.cpu.tlb[codeLp]).toBe(0);
    m.cpu.r32[EBX] = 0x9100;
    expect(m.go()).toBe(Exit.HLT);
    m.cpu.r32[EBX] = 0xa100;
    expect(m.go()).toBe(Exit.HLT);
    expect([m.cpu.tlb[lp0], m.cpu.tlb[lp1], m.cpu.tlb[codeLp]]).toEqual([0, 0, 0]);
    m.cpu.r32[EBX] = 0xa000;
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.cpu.debug.removeWatchpoint(W, 4, 'write')).toBe(true);
    expect(m.cpu.debug.removeWatchpoint(W, 4, 'write')).toBe(false);
    m.cpu.debug.clear();
    expect(m.cpu.debug.armed).toBe(false);
    expect(m.cpu.debug.watchPages).toBe(null);
    expect(m.go()).toBe(Exit.HLT);
    m.cpu.r32[EBX] = 0x9100;
    expect(m.go()).toBe(Exit.HLT);
    expect(m.cpu.tlb[lp0]! & m.cpu.needW).toBe(m.cpu.needW);
    expect(m.cpu.tlb[lp1]! & m.cpu.needW).toBe(m.cpu.needW);
    expect(m.cpu.tlb[codeLp]! & m.cpu.needX).toBe(m.cpu.needX);
  });

  it('a 1 MiB range, several watchpoints (the first match is reported), and bad arguments', () => {
    const m = watchMachine('  movl %eax, (%ebx)\n  hlt');
    const BIG = 0x200000;
    m.cpu.debug.addWatchpoint(BIG, 1 << 20, 'write');
    m.cpu.debug.addWatchpoint(BIG + 0x80000, 2, 'access');
    for (const [a, exit] of [[BIG - 4, Exit.HLT], [BIG - 3, Exit.WATCH], [BIG + 0x7fffe, Exit.WATCH],
      [BIG + 0xffffc, Exit.WATCH], [BIG + 0x100000, Exit.HLT]] as const) {
      m.cpu.r32[EBX] = a;
      expect(m.go(), a.toString(16)).toBe(exit);
      if (exit === Exit.WATCH) expect(m.cpu.debug.hit!.addr).toBe(BIG);
    }
    expect(m.cpu.debug.addWatchpoint(BIG, 1 << 20, 'write')).toBe(false);
    expect(() => m.cpu.debug.addWatchpoint(0, 0, 'write')).toThrow(RangeError);
    expect(() => m.cpu.debug.addWatchpoint(0, (1 << 20) + 1, 'write')).toThrow(RangeError);
    expect(() => m.cpu.debug.addWatchpoint(0, 1.5, 'read')).toThrow(RangeError);
    expect(() => m.cpu.debug.addWatchpoint(0, 4, 'exec' as WatchKind)).toThrow(RangeError);
  });

  it('a step over an instruction that hits a watchpoint reports WATCH', () => {
    const m = watchMachine('  movl %eax, (%ebx)\n  hlt');
    m.cpu.debug.addWatchpoint(0x9000, 4, 'write');
    m.cpu.debug.stepping = true;
    m.cpu.r32[EBX] = 0x9000;
    expect(m.go()).toBe(Exit.WATCH);
    expect(m.cpu.icount).toBe(1);
    expect(run(m.cpu, 10)).toBe(Exit.STEP);
    expect(m.cpu.halted).toBe(true);
  });

  it('unhit watchpoints change nothing: same state and icount as an undebugged run', () => {
    const src = `  movl $0x200000, %edi\n1:\n  movl $64, %ecx\n  rep stosl\n  subl $256, %edi\n  movl %edi, %esi\n  addl $0x1000, %edi\n  movl $64, %ecx\n  rep movsl\n  subl $0x1100, %edi\n  incl %eax\n  movl %eax, (%edi)\n  jmp 1b`;
    const ref = watchMachine(src), dbg = watchMachine(src);
    dbg.cpu.debug.addWatchpoint(0x200000 + 256, 8, 'access'); // on both pages touched, never hit
    dbg.cpu.debug.addWatchpoint(0x201000 + 300, 8, 'access');
    expect(ref.go(20_000)).toBe(Exit.BUDGET);
    expect(dbg.go(20_000)).toBe(Exit.BUDGET);
    expect(dbg.cpu.icount).toBe(20_000);
    expect(Array.from(dbg.cpu.r32)).toEqual(Array.from(ref.cpu.r32));
    expect(Buffer.from(dbg.mem.readBytes(0x200000, 0x2000))).toEqual(Buffer.from(ref.mem.readBytes(0x200000, 0x2000)));
  });
});
