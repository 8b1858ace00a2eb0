/**
 * The VMM's side of the gdb stub: a `DebugTarget` (src/gdbstub/target.ts)
 * over a `Machine`, and the run loop that drives the machine in slices
 * whether or not a debugger is attached.
 *
 * States of the guest, as this target keeps them:
 *
 *   running ──gdb stops it (Ctrl-C, attach) / a breakpoint or watchpoint──▶ paused
 *      │  ▲                                                                   │
 *      │  └───────────── continue / detach ───────────────────────────────────┘
 *      │                  (a step runs one instruction synchronously and stays paused)
 *      └──the machine exits (crash, poweroff, …)──▶ ended ──resume (watch mode)──▶ waiting
 *                                                    ▲  └──── reboot ──▶ running / paused
 *                                                    └───── Ctrl-C ──────── waiting
 *
 * `paused` is also where `--gdb-wait` starts: before the first instruction,
 * until a debugger attaches and resumes. `waiting` is watch mode's "gdb
 * resumed a guest that has ended": nothing runs, and the next reboot (a
 * rebuilt kernel) answers gdb with a stop.
 *
 * The loop: while running, one slice of `slice` instructions per
 * event-loop turn (`schedule`, setImmediate by default), so sockets — gdb's
 * Ctrl-C among them — are served between slices; while the vCPU sleeps, a
 * timer until the machine's deadline (or its `onWake`). Methods of the
 * `DebugTarget` interface are only ever called between slices, so they
 * see a consistent machine and may stop it on the spot.
 *
 * Breakpoints and watchpoints are kept here, by (kind, address, length),
 * and applied to the CPU's debugger (cpu/debug.ts), which keeps them inside
 * the emulator: guest memory is never patched, so they survive a reboot
 * into a rebuilt kernel (`reboot`, `setMachine`: re-applied to the new
 * CPU) and self-checksumming code. Addresses are gdb's, i.e. segment
 * offsets; the CPU checks linear addresses, which are the same for every
 * Xen guest (flat segments, base 0).
 *
 * Stops: a breakpoint leaves EIP on the breakpointed instruction and a
 * continue from there does not report it again (`resumeFrom`); a
 * watchpoint stops after the accessing instruction; a single step
 * (`Machine.stepInstruction`) runs exactly one instruction with no event
 * upcall, timer or backend work in between. A guest crash or triple fault
 * stops with SIGSEGV and a message (the CLI prints the crash report); a
 * poweroff is `exited`, except in watch mode (`keepAlive`), where gdb is
 * kept: the end is a SIGTRAP stop and the next kernel's boot another.
 *
 * Register and memory access never fault and never change guest state
 * beyond what gdb asked: memory goes through the vCPU's current page
 * tables in peek mode (no accessed/dirty bits, no TLB fill); writes land in
 * guest RAM through PhysMemory, which invalidates decoded blocks. A PV
 * guest's page tables and descriptor frames are not writable from gdb
 * (Xen validates every change to them; a debugger write would bypass that).
 */
import {
  REGISTERS, Reg, Signal,
  type BreakpointKind, type DebugTarget, type MonitorHandlers, type RegValue, type RegisterValues,
  type ResumeAction, type StopListener, type StopReason, type TargetCapabilities, type ThreadId, type ThreadInfo,
} from '../gdbstub/index.js';
import { Acc, Exit, SEG_NAMES, Seg } from './cpu/cpu.js';
import { readEflags } from './cpu/flags.js';
import { translate } from './cpu/mmu.js';
import { XsClient, XsError } from './devices/xenstore/index.js';
import type { Machine, MachineExit, StepResult } from './machine.js';
import { describeExit, formatRegisters } from './report/crash.js';
import { formatPageWalk } from './report/pagewalk.js';
import { hex8 } from './report/symbolize.js';
import { SHUTDOWN } from './xen/abi/sched.js';
import { VIRQ } from './xen/abi/xen.js';
import { VCPU_INFO } from './xen/domain.js';
import { pageTables } from './xen/hypercalls/mm.js';

/** Guest instructions per run slice (a few milliseconds). */
export const DEBUG_SLICE = 500_000;

/** The only vCPU, as gdb numbers it. */
const THREAD = 1;

/** EFLAGS bits gdb may change (VM and the reserved bits stay as they are). */
const EFLAGS_WRITABLE = 0x003d7fd5;

/** Where the guest is. */
export type GuestState = 'running' | 'paused' | 'ended' | 'waiting';

/** What the CLI hears from the target. */
export interface DebugTargetHooks {
  /** The machine exited (crash, poweroff, …). Called once per machine, before gdb hears of it. */
  ended?(exit: MachineExit): void;
  /** A slice ran, or a step: a good moment to flush output. */
  afterSlice?(): void;
  /** The debugger detached or disconnected (`D`, or the connection closed). */
  detached?(): void;
  /** `k`: the debugger asked to end the run. */
  killed?(): void;
  /** A bug: an exception from inside the machine while running. The loop stops. */
  error?(e: unknown): void;
  /**
   * `monitor reset`: a fresh machine of the kernel to boot (the CLI knows
   * the file, the options and the console), or a message why not.
   */
  reset?(): { machine: Machine; message?: string } | string;
  /** `monitor trace hypercalls on|off`: returns the text for gdb. */
  hypercallTrace?(on: boolean): string;
  /** `monitor trace xenstore on|off`: returns the text for gdb. */
  xenstoreTrace?(on: boolean): string;
  /** `monitor trace events on|off`: returns the text for gdb. */
  eventTrace?(on: boolean): string;
  /**
   * A machine will never run again: replaced by a reboot, or a rebuilt
   * kernel that was waiting for gdb superseded by a newer one. The CLI
   * closes its devices.
   */
  retired?(m: Machine): void;
}

export interface DebugTargetOptions {
  machine: Machine;
  /** Instructions per slice (default DEBUG_SLICE). */
  slice?: number;
  /** Stay paused before the first instruction until a debugger resumes the guest (`--gdb-wait`). */
  waitForDebugger?: boolean;
  /**
   * Watch mode: an ended guest stays inspectable under gdb (a poweroff is a
   * SIGTRAP stop, not `exited`), and resuming it waits for the next reboot.
   */
  keepAlive?: boolean;
  /** The status a non-crash end is reported to gdb with (`W`), e.g. the CLI's exit status. */
  exitCode?(exit: MachineExit): number;
  hooks?: DebugTargetHooks;
  /** Run `fn` on a later event-loop turn (default setImmediate). */
  schedule?(fn: () => void): void;
  /** Run `fn` after `ms` milliseconds; returns a cancel function (default setTimeout). */
  later?(fn: () => void, ms: number): () => void;
}

/** One breakpoint or watchpoint gdb inserted. */
interface Inserted {
  readonly kind: BreakpointKind;
  readonly addr: number;
  readonly length: number;
}

/** A guest crash (as opposed to an orderly end): SIGSEGV for gdb. */
function isCrash(exit: MachineExit): boolean {
  return exit.kind === 'crash' || exit.kind === 'triple-fault' || (exit.kind === 'shutdown' && exit.reason === SHUTDOWN.crash);
}

/** Host milliseconds for `ns` of guest time, rounded up (the deadline has passed when the timer fires). */
function waitMs(ns: bigint): number {
  if (ns <= 0n) return 0;
  const ms = (ns + 999_999n) / 1_000_000n;
  return ms > 2_000_000_000n ? 2_000_000_000 : Number(ms);
}

const VIRQ_NAMES = new Map<number, string>(Object.entries(VIRQ).map(([k, v]) => [v as number, `VIRQ_${k}`]));

/** The VMM's `DebugTarget`, and the loop that runs the guest. */
export class MachineTarget implements DebugTarget {
  readonly capabilities: TargetCapabilities = { swBreakpoints: true, hwBreakpoints: true, watchpoints: true };
  readonly monitor: MonitorHandlers;

  private m: Machine;
  private st: GuestState;
  private listener: StopListener | null = null;
  private readonly inserted = new Map<string, Inserted>();
  /** Breakpoints (sw and hw together) per linear address: the CPU keeps one per address. */
  private readonly bpCount = new Map<number, number>();
  private tickQueued = false;
  private cancelTimer: (() => void) | null = null;
  /** A rebuilt kernel waiting for gdb to resume (it was paused when the rebuild came). */
  private pending: { machine: Machine; message: string } | null = null;
  private readonly slice: number;
  private readonly hooks: DebugTargetHooks;
  private readonly schedule: (fn: () => void) => void;
  private readonly later: (fn: () => void, ms: number) => () => void;
  private started = false;
  /** A step was asked of a sleeping vCPU: let time pass (no events delivered) until it wakes, then step. */
  private stepWaiting = false;

  constructor(private readonly opts: DebugTargetOptions) {
    this.m = opts.machine;
    this.slice = opts.slice ?? DEBUG_SLICE;
    this.hooks = opts.hooks ?? {};
    this.schedule = opts.schedule ?? ((fn) => { setImmediate(fn); });
    this.later = opts.later ?? ((fn, ms) => { const t = setTimeout(fn, ms); return () => clearTimeout(t); });
    this.st = opts.waitForDebugger === true ? 'paused' : 'running';
    this.m.onWake = () => this.wake();
    this.monitor = this.monitorHandlers();
  }

  /** The machine being debugged (replaced by `setMachine` / `reboot`). */
  get machine(): Machine {
    return this.m;
  }

  /** Where the guest is. */
  get state(): GuestState {
    return this.st;
  }

  /** A debugger is attached. */
  get attached(): boolean {
    return this.listener !== null;
  }

  /** How the current machine ended, or null while it has not. */
  get exit(): MachineExit | null {
    return this.m.exit;
  }

  /** A rebuilt kernel waits for gdb to resume the guest. */
  get rebootPending(): boolean {
    return this.pending !== null;
  }

  /** Start the loop (the guest runs, or waits for a debugger with `waitForDebugger`). */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.st === 'running') this.queue();
  }

  /** Stop for good: no more slices (the CLI is ending the run). */
  shutdown(): void {
    this.started = false;
    this.listener = null;
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (this.st === 'running' || this.st === 'waiting') this.st = this.m.exit !== null ? 'ended' : 'paused';
  }

  /* ---------------------------------------------------------------- */
  /* Reboots                                                          */
  /* ---------------------------------------------------------------- */

  /**
   * Replace the machine (a reboot): breakpoints and watchpoints move to
   * the new CPU; nothing is reported. The state follows: an ended guest
   * becomes paused.
   */
  setMachine(next: Machine): void {
    const old = this.m;
    if (old === next) return;
    old.cpu.debug.clear();
    old.onWake = null;
    this.m = next;
    next.onWake = () => this.wake();
    const d = next.cpu.debug;
    d.clear();
    for (const la of this.bpCount.keys()) d.addBreakpoint(la);
    for (const w of this.inserted.values()) {
      if (w.kind !== 'sw' && w.kind !== 'hw') d.addWatchpoint(w.addr, w.length, w.kind);
    }
    if (this.st === 'ended') this.st = 'paused';
    this.hooks.retired?.(old);
  }

  /**
   * Boot a rebuilt kernel (watch mode). Without a debugger the new guest
   * runs at once (or keeps waiting for one with `--gdb-wait`). With gdb
   * waiting for a stop (running, or a resumed ended guest) the new guest
   * stops before its first instruction and gdb hears SIGTRAP with
   * `message`. With gdb holding the guest paused the reboot waits until
   * gdb continues it (gdb cannot be told while it believes the target
   * stopped; steps still run the old machine, see `resume`). Returns what
   * happened.
   */
  reboot(next: Machine, message: string): 'running' | 'stopped' | 'pending' {
    // A rebuilt kernel still waiting for gdb is superseded, whichever way this reboot goes.
    if (this.pending !== null && this.pending.machine !== next) this.hooks.retired?.(this.pending.machine);
    if (this.listener === null) {
      const waiting = this.st === 'paused' && this.opts.waitForDebugger === true && this.m.cpu.icount === 0;
      this.pending = null;
      this.setMachine(next);
      if (waiting) return 'stopped';
      this.st = 'running';
      this.queue();
      return 'running';
    }
    if (this.st === 'running' || this.st === 'waiting') {
      this.pending = null;
      this.setMachine(next);
      this.stop({ kind: 'signal', thread: THREAD, signal: Signal.TRAP, message });
      return 'stopped';
    }
    this.pending = { machine: next, message };
    return 'pending';
  }

  /* ---------------------------------------------------------------- */
  /* DebugTarget: connection                                          */
  /* ---------------------------------------------------------------- */

  attach(listener: StopListener): void {
    this.listener = listener;
    switch (this.st) {
      case 'running':
        this.st = 'paused';
        listener.stopped({ kind: 'interrupt', thread: THREAD });
        return;
      case 'paused':
        listener.stopped({ kind: 'signal', thread: THREAD, signal: Signal.TRAP });
        return;
      case 'ended':
      case 'waiting':
        this.st = 'ended';
        listener.stopped(this.endStop(this.m.exit!));
        return;
    }
  }

  detach(): void {
    this.listener = null;
    this.stepWaiting = false; // no one waits for a step any more
    if (this.pending !== null) {
      // A rebuilt kernel was waiting for gdb to resume: it boots now.
      const p = this.pending;
      this.pending = null;
      this.setMachine(p.machine);
      this.st = 'running';
      this.continueFromHere();
    } else if (this.st === 'waiting') {
      this.st = 'ended';
    } else if (this.st === 'paused' || this.st === 'running') {
      this.st = 'running';
      this.continueFromHere();
    }
    this.hooks.detached?.();
  }

  kill(): void {
    this.listener = null;
    this.shutdown();
    this.hooks.killed?.();
  }

  threads(): readonly ThreadInfo[] {
    return [{ id: THREAD, name: 'vcpu0' }];
  }

  /* ---------------------------------------------------------------- */
  /* DebugTarget: running                                             */
  /* ---------------------------------------------------------------- */

  resume(actions: ReadonlyMap<ThreadId, ResumeAction>): void {
    const action = actions.get(THREAD) ?? { kind: 'continue' };
    // A rebuilt kernel was waiting for this: boot it and stop at its first instruction. Only on
    // `continue`: gdb's `continue` from a breakpoint first steps off it, and a reboot stop there
    // would read as that step's end (gdb would carry on into the new kernel without a word), so
    // steps (stepi, next, the step-off) still run the old kernel. An ended one cannot step.
    if (this.pending !== null && (action.kind === 'continue' || this.st === 'ended')) {
      const p = this.pending;
      this.pending = null;
      this.setMachine(p.machine);
      this.st = 'running';
      this.stop({ kind: 'signal', thread: THREAD, signal: Signal.TRAP, message: p.message });
      return;
    }
    if (this.st === 'ended') {
      const exit = this.m.exit!;
      if (this.opts.keepAlive === true) {
        this.st = 'waiting'; // the next reboot (or Ctrl-C) answers
        return;
      }
      // The end is final: gdb hears that the guest is gone.
      this.listener?.stopped(isCrash(exit)
        ? { kind: 'terminated', signal: Signal.SEGV }
        : { kind: 'exited', code: this.opts.exitCode?.(exit) ?? 0 });
      return;
    }
    if (action.kind === 'continue') {
      this.st = 'running';
      this.continueFromHere();
      return;
    }
    this.st = 'running';
    this.stepOnce();
  }

  interrupt(): void {
    if (this.st === 'running') {
      this.stop({ kind: 'interrupt', thread: THREAD });
    } else if (this.st === 'waiting') {
      this.st = 'ended';
      this.listener?.stopped({ kind: 'interrupt', thread: THREAD, message: 'xenkit: the guest has ended; still waiting for a rebuilt kernel' });
    }
  }

  /** Resume at EIP without reporting a breakpoint there (gdb stepped off it or never stopped on it). */
  private continueFromHere(): void {
    const cpu = this.m.cpu;
    cpu.debug.resumeFrom = (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
    this.queue();
  }

  /** Stop (paused) and tell gdb. */
  private stop(reason: StopReason): void {
    this.st = 'paused';
    this.stepWaiting = false;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.listener?.stopped(reason);
  }

  /**
   * One instruction, synchronously, no events in between; then the stop.
   * A sleeping vCPU (SCHEDOP_block, poll, PVH hlt) first waits to be woken,
   * as a processor stepping `hlt` waits for its interrupt: the loop lets
   * time pass without delivering the event (tick), then steps.
   */
  private stepOnce(): void {
    const m = this.m;
    if (m.domain.sleep !== null) {
      this.stepWaiting = true;
      this.queue();
      return;
    }
    let r: StepResult;
    try {
      r = m.stepInstruction();
    } catch (e) {
      this.fail(e);
      return;
    }
    this.hooks.afterSlice?.();
    if (r !== null && r.kind !== 'idle') {
      this.end(r);
      return;
    }
    if (r !== null) {
      // Asleep after all (the machine's view): wait for the wake-up as above.
      this.stepWaiting = true;
      this.queue();
      return;
    }
    const hit = m.cpu.debug.hit;
    if (hit !== null) {
      this.stop({ kind: 'watch', thread: THREAD, access: hit.kind, addr: hit.addr >>> 0 });
      return;
    }
    this.stop({ kind: 'step', thread: THREAD });
  }

  private queue(): void {
    if (this.tickQueued || !this.started) return;
    this.tickQueued = true;
    this.schedule(() => this.tick());
  }

  /** The sleeping vCPU was woken by a host event: run again. */
  private wake(): void {
    if (this.st !== 'running') return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.queue();
  }

  /** One slice. */
  private tick(): void {
    this.tickQueued = false;
    if (this.st !== 'running' || !this.started) return;
    const m = this.m;
    let r: StepResult;
    m.lastCpuExit = Exit.BUDGET;
    const waking = this.stepWaiting;
    const dbg = m.cpu.debug;
    try {
      if (waking) {
        // Time passes, timers fire, the vCPU may wake; no instruction runs and no upcall is delivered.
        dbg.stepping = true;
        try {
          r = m.step(0);
        } finally {
          dbg.stepping = false;
        }
      } else {
        r = m.step(this.slice);
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    if (waking && this.stepWaiting && (r === null || r.kind === 'idle') && m.domain.sleep === null) {
      this.stepWaiting = false;
      this.stepOnce();
      return;
    }
    this.hooks.afterSlice?.();
    if (this.m !== m || this.st !== 'running') return; // a hook rebooted or stopped it
    if (r !== null && r.kind !== 'idle') {
      this.end(r);
      return;
    }
    if (r !== null) {
      // The vCPU sleeps: wait for its deadline (or onWake).
      if (r.waitNs !== null) {
        this.cancelTimer?.();
        this.cancelTimer = this.later(() => { this.cancelTimer = null; this.queue(); }, waitMs(r.waitNs));
      }
      return;
    }
    const why = m.lastCpuExit as Exit; // (set by step; the reset above must not narrow it)
    if (why === Exit.BREAKPOINT || why === Exit.WATCH) {
      if (this.listener !== null) {
        if (why === Exit.BREAKPOINT) {
          const cpu = m.cpu;
          const la = (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
          this.stop({ kind: 'breakpoint', thread: THREAD, type: this.breakpointKindAt(la) });
        } else {
          const hit = m.cpu.debug.hit;
          if (hit !== null) this.stop({ kind: 'watch', thread: THREAD, access: hit.kind, addr: hit.addr >>> 0 });
          else this.stop({ kind: 'signal', thread: THREAD, signal: Signal.TRAP });
        }
        return;
      }
      // No debugger (its breakpoints are gone with it): run on.
      if (why === Exit.BREAKPOINT) this.continueFromHere();
    }
    this.queue();
  }

  /** The machine exited. */
  private end(exit: MachineExit): void {
    this.st = 'ended';
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.hooks.ended?.(exit);
    if (this.st !== 'ended') return; // the hook rebooted it
    this.listener?.stopped(this.endStop(exit));
  }

  private fail(e: unknown): void {
    this.st = 'paused';
    this.started = false;
    if (this.hooks.error !== undefined) this.hooks.error(e);
    else throw e;
  }

  /** The stop gdb hears for an ended guest. */
  private endStop(exit: MachineExit): StopReason {
    const what = describeExit(exit);
    if (isCrash(exit)) {
      return { kind: 'signal', thread: THREAD, signal: Signal.SEGV, message: `xenkit: ${what} (the crash report is on xenkit's stderr)\n` };
    }
    if (exit.kind === 'halted') {
      return { kind: 'signal', thread: THREAD, signal: Signal.TRAP, message: `xenkit: ${what}\n` };
    }
    if (this.opts.keepAlive === true) {
      return {
        kind: 'signal', thread: THREAD, signal: Signal.TRAP,
        message: `xenkit: ${what}; the guest stays here until a rebuilt kernel boots (or \`monitor reset\`)\n`,
      };
    }
    return { kind: 'exited', code: this.opts.exitCode?.(exit) ?? 0, message: `xenkit: ${what}\n` };
  }

  /* ---------------------------------------------------------------- */
  /* DebugTarget: registers and memory                                */
  /* ---------------------------------------------------------------- */

  readRegisters(_thread: ThreadId): RegisterValues {
    const cpu = this.m.cpu, dom = this.m.domain;
    const v: (RegValue | undefined)[] = new Array<RegValue | undefined>(REGISTERS.length);
    for (let i = 0; i < 8; i++) v[i] = cpu.r32[i]! >>> 0;
    v[Reg.EIP] = cpu.eip >>> 0;
    v[Reg.EFLAGS] = readEflags(cpu) >>> 0;
    v[Reg.CS] = cpu.segSel[Seg.CS]!;
    v[Reg.SS] = cpu.segSel[Seg.SS]!;
    v[Reg.DS] = cpu.segSel[Seg.DS]!;
    v[Reg.ES] = cpu.segSel[Seg.ES]!;
    v[Reg.FS] = cpu.segSel[Seg.FS]!;
    v[Reg.GS] = cpu.segSel[Seg.GS]!;
    // st0-7 and the x87 control registers: no FPU state is modelled (the template is integer-only).
    v[Reg.CR0] = cpu.cr0 >>> 0;
    v[Reg.CR2] = cpu.cr2 >>> 0;
    v[Reg.CR3] = cpu.cr3 >>> 0;
    v[Reg.CR4] = cpu.cr4 >>> 0;
    v[Reg.CPL] = cpu.cpl;
    v[Reg.UPCALL_MASK] = dom.upcallMask;
    v[Reg.UPCALL_PENDING] = dom.upcallPending;
    return v;
  }

  writeRegister(_thread: ThreadId, reg: number, value: RegValue): boolean {
    if (typeof value !== 'number') return false;
    const cpu = this.m.cpu, dom = this.m.domain;
    if (reg >= Reg.EAX && reg <= Reg.EDI) {
      cpu.r32[reg] = value | 0;
      return true;
    }
    switch (reg) {
      case Reg.EIP:
        cpu.eip = value >>> 0;
        return true;
      case Reg.EFLAGS: {
        const cur = readEflags(cpu);
        cpu.flags = ((cur & ~EFLAGS_WRITABLE) | (value & EFLAGS_WRITABLE) | 2) | 0;
        cpu.lfLazy = 0;
        return true;
      }
      case Reg.CR2:
        cpu.cr2 = value | 0;
        return true;
      case Reg.UPCALL_MASK:
        dom.upcallMask = value & 1;
        return true;
      case Reg.UPCALL_PENDING:
        dom.mem.write8(dom.sharedInfoPa + VCPU_INFO.upcallPending, value & 1);
        return true;
      default:
        // Selectors need descriptor loads, control registers TLB and Xen bookkeeping: not from gdb.
        return false;
    }
  }

  readMemory(_thread: ThreadId, addr: number, length: number): Uint8Array | null {
    const cpu = this.m.cpu;
    const out = new Uint8Array(length);
    let n = 0;
    while (n < length) {
      const la = (addr + n) >>> 0;
      const pa = translate(cpu, la, Acc.READ, false, true);
      if (pa < 0) break;
      const chunk = Math.min(length - n, 0x1000 - (la & 0xfff));
      out.set(cpu.mem.readBytes(pa, chunk), n);
      n += chunk;
    }
    return n === 0 ? null : out.subarray(0, n);
  }

  writeMemory(_thread: ThreadId, addr: number, data: Uint8Array): boolean {
    const cpu = this.m.cpu, dom = this.m.domain;
    // Check every page first: all or nothing.
    const pieces: [pa: number, from: number, to: number][] = [];
    let n = 0;
    while (n < data.length) {
      const la = (addr + n) >>> 0;
      const pa = translate(cpu, la, Acc.READ, false, true);
      if (pa < 0) return false;
      const pfn = Math.floor(pa / 4096);
      if (!dom.ownsFrame(pfn)) return false; // Xen's M2P, memory holes
      if (dom.type === 'pv' && !pageTables(dom).writableType(pfn)) return false;
      const chunk = Math.min(data.length - n, 0x1000 - (la & 0xfff));
      pieces.push([pa, n, n + chunk]);
      n += chunk;
    }
    for (const [pa, from, to] of pieces) cpu.mem.writeBytes(pa, data.subarray(from, to));
    return true;
  }

  /* ---------------------------------------------------------------- */
  /* DebugTarget: breakpoints                                         */
  /* ---------------------------------------------------------------- */

  addBreakpoint(kind: BreakpointKind, addr: number, length: number): boolean {
    const key = `${kind}@${addr >>> 0}/${length}`;
    if (this.inserted.has(key)) return true;
    const d = this.m.cpu.debug;
    const la = addr >>> 0;
    if (kind === 'sw' || kind === 'hw') {
      const n = this.bpCount.get(la) ?? 0;
      if (n === 0) d.addBreakpoint(la);
      this.bpCount.set(la, n + 1);
    } else {
      try {
        d.addWatchpoint(la, length, kind);
      } catch {
        return false; // a length the CPU cannot watch (0, or above MAX_WATCH_LEN)
      }
    }
    this.inserted.set(key, { kind, addr: la, length });
    return true;
  }

  removeBreakpoint(kind: BreakpointKind, addr: number, length: number): boolean {
    const key = `${kind}@${addr >>> 0}/${length}`;
    const b = this.inserted.get(key);
    if (b === undefined) return false;
    this.inserted.delete(key);
    const d = this.m.cpu.debug;
    if (kind === 'sw' || kind === 'hw') {
      const n = (this.bpCount.get(b.addr) ?? 1) - 1;
      if (n <= 0) {
        this.bpCount.delete(b.addr);
        d.removeBreakpoint(b.addr);
      } else this.bpCount.set(b.addr, n);
    } else {
      d.removeWatchpoint(b.addr, b.length, kind);
    }
    return true;
  }

  /** The breakpoints and watchpoints inserted, as `kind@addr/len` keys (tests). */
  get breakpoints(): readonly string[] {
    return [...this.inserted.keys()];
  }

  private breakpointKindAt(la: number): 'sw' | 'hw' {
    for (const b of this.inserted.values()) if (b.addr === la && b.kind === 'sw') return 'sw';
    return 'hw';
  }

  /* ---------------------------------------------------------------- */
  /* monitor commands                                                 */
  /* ---------------------------------------------------------------- */

  private monitorHandlers(): MonitorHandlers {
    const h: MonitorHandlers = {
      regs: () => this.formatRegs(),
      pageWalk: (_t, va) => formatPageWalk(this.m.cpu, va, this.m.domain),
      xsList: (path) => this.xsList(path),
      evtchn: () => this.evtchnList(),
      devices: () => {
        const lines = this.m.describeDevices();
        return lines.length === 0 ? 'no paravirtual disks or NICs (xenkit run --disk, --net)\n' : `${lines.join('\n')}\n`;
      },
      reset: () => this.reset(),
    };
    const trace = this.hooks.hypercallTrace;
    if (trace !== undefined) h.hypercallTrace = (on) => trace(on);
    const xsTrace = this.hooks.xenstoreTrace;
    if (xsTrace !== undefined) h.xenstoreTrace = (on) => xsTrace(on);
    const evTrace = this.hooks.eventTrace;
    if (evTrace !== undefined) h.eventTrace = (on) => evTrace(on);
    return h;
  }

  private formatRegs(): string {
    const m = this.m, cpu = m.cpu, dom = m.domain;
    const out = formatRegisters(cpu, m.kernel.symbols);
    const h = (v: number): string => hex8(v).slice(2);
    out.push(`  efer=${h(cpu.efer)} dr6=${h(cpu.dr[6]!)} dr7=${h(cpu.dr[7]!)}`);
    out.push(`  gdtr=${h(cpu.gdtrBase)}/${cpu.gdtrLimit.toString(16)} idtr=${h(cpu.idtrBase)}/${cpu.idtrLimit.toString(16)}`);
    out.push('segments (selector base limit attributes):');
    for (const s of [Seg.CS, Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS, Seg.LDTR, Seg.TR]) {
      out.push(`  ${SEG_NAMES[s]!.padEnd(4)} ${cpu.segSel[s]!.toString(16).padStart(4, '0')} ${h(cpu.segBase[s]!)} ${h(cpu.segLimit[s]!)} ${(cpu.segAttr[s]! & 0x1ffff).toString(16).padStart(5, '0')}`);
    }
    out.push(`vCPU: ${dom.type.toUpperCase()} guest, cpl=${cpu.cpl}, ${cpu.icount} instructions retired` +
      `${cpu.halted ? ', halted' : ''}${dom.sleep !== null ? `, sleeping (${dom.sleep.kind})` : ''}`);
    out.push(`  upcall_mask=${dom.upcallMask} upcall_pending=${dom.upcallPending} pending_sel=${h(dom.mem.read32(dom.sharedInfoPa + VCPU_INFO.pendingSel))}`);
    if (dom.type === 'pv') {
      const pv = dom.pv;
      out.push(`  kernel stack ${pv.kernelSs.toString(16)}:${h(pv.kernelSp)}  event callback ${pv.eventCs.toString(16)}:${h(pv.eventEip)}` +
        `  failsafe ${pv.failsafeCs.toString(16)}:${h(pv.failsafeEip)}`);
      out.push(`  gdt: ${pv.gdtEntries} entries in frames [${pv.gdtFrames.map((f) => f.toString(16)).join(' ')}]  ldt: ${h(pv.ldtBase)}/${pv.ldtEntries}`);
    }
    return `${out.join('\n')}\n`;
  }

  private xsList(path: string): string {
    const client = new XsClient(this.m.xenstore, 0);
    try {
      const names = client.directory(path);
      const base = path.endsWith('/') ? path : `${path}/`;
      const lines = [`${path}:`];
      for (const name of names) {
        const p = `${base}${name}`;
        let value: string | undefined;
        let kids = 0;
        try { value = client.tryRead(p); } catch { value = undefined; }
        try { kids = client.directory(p).length; } catch { kids = 0; }
        lines.push(`  ${name}${value !== undefined && value !== '' ? ` = ${JSON.stringify(value)}` : ''}${kids > 0 ? `  (${kids} ${kids === 1 ? 'entry' : 'entries'})` : ''}`);
      }
      if (names.length === 0) lines.push('  (empty)');
      return `${lines.join('\n')}\n`;
    } catch (e) {
      if (e instanceof XsError) return `xs ls ${path}: ${e.code}\n`;
      throw e;
    } finally {
      client.close();
    }
  }

  private evtchnList(): string {
    const ev = this.m.domain.events;
    const lines: string[] = [];
    ev.ports.forEach((p, port) => {
      if (port === 0 || p.state === 'free' || p.state === 'reserved') return;
      let what: string;
      switch (p.state) {
        case 'unbound': what = `unbound (for dom${p.remoteDom})`; break;
        case 'interdomain': what = `interdomain → dom${p.remoteDom} port ${p.remotePort}`; break;
        case 'virq': what = `virq ${VIRQ_NAMES.get(p.virq) ?? p.virq}`; break;
        case 'ipi': what = 'ipi'; break;
        default: what = p.state;
      }
      const bits = [ev.isPending(port) ? 'pending' : '', ev.isMasked(port) ? 'masked' : ''].filter((s) => s !== '').join(' ');
      lines.push(`  port ${String(port).padStart(4)}: ${what}${bits !== '' ? `  [${bits}]` : ''}`);
    });
    const dom = this.m.domain;
    return `event channels (upcall_pending=${dom.upcallPending}, upcall_mask=${dom.upcallMask}):\n` +
      `${lines.length > 0 ? lines.join('\n') : '  (none bound)'}\n`;
  }

  private reset(): string {
    let next: Machine;
    let message: string;
    if (this.pending !== null) {
      next = this.pending.machine;
      message = this.pending.message;
      this.pending = null;
    } else {
      const r = this.hooks.reset?.();
      if (r === undefined) return 'monitor reset: not available here\n';
      if (typeof r === 'string') return r;
      next = r.machine;
      message = r.message ?? 'xenkit: the guest was reset';
    }
    const wasRunning = this.st === 'running' || this.st === 'waiting';
    this.setMachine(next);
    this.st = 'paused';
    this.cancelTimer?.();
    this.cancelTimer = null;
    if (wasRunning) this.listener?.stopped({ kind: 'signal', thread: THREAD, signal: Signal.TRAP, message });
    return `${message.trimEnd()}\nThe guest is stopped at its first instruction; gdb's cached registers are stale: ` +
      '`maint flush register-cache` (or `stepi`) refreshes them.\n';
  }
}
