/**
 * A tiny fake machine implementing `DebugTarget`, for the stub's tests:
 * every "instruction" is one byte long (EIP += 1), a script says which
 * addresses store to or load from memory, crash or power off, and memory is
 * a Uint8Array with holes (unmapped ranges give null / short reads, as a
 * page-table miss does in the VMM).
 *
 * Like the VMM it is meant to stand for, it keeps software breakpoints
 * inside the "emulator" (memory is never patched), reports watchpoints
 * after the accessing instruction, suppresses a breakpoint at the address
 * it resumes from (x86's RF), and can run asynchronously in slices
 * (`async: true`) so that Ctrl-C is served between slices.
 */
import {
  Reg, Signal,
  type BreakpointKind, type DebugTarget, type MonitorHandlers, type RegValue, type RegisterValues,
  type ResumeAction, type StopListener, type StopReason, type TargetCapabilities, type ThreadId, type ThreadInfo,
} from '../../src/gdbstub/index.js';

/** What the instruction at an address does besides EIP += 1. */
export type Effect =
  | { op: 'store'; addr: number; size: number; value: number }
  | { op: 'load'; addr: number; size: number }
  | { op: 'crash' }       // stops with SIGSEGV, EIP stays
  | { op: 'poweroff'; code: number }
  | { op: 'loop' }        // jmp to itself
  | { op: 'jump'; to: number };

export interface FakeOptions {
  threads?: number;
  capabilities?: Partial<TargetCapabilities>;
  /** Run continues in event-loop slices (default: synchronously, bounded by `maxRun`). */
  async?: boolean;
  /** Instructions per slice (async) or in total before giving up (sync). */
  slice?: number;
  /** The stop reported on attach: SIGTRAP (default), an interrupt, or none yet (the test reports it). */
  attach?: 'trap' | 'interrupt' | 'later';
  monitor?: MonitorHandlers;
  rangeStepping?: boolean;
}

/** Mapped: [0, 0x8000) and [0x9000, 0x10000). Unmapped: [0x8000, 0x9000) and everything from 0x10000. */
export const MEM_SIZE = 0x10000;
export const HOLE_START = 0x8000, HOLE_END = 0x9000;

export function mapped(addr: number): boolean {
  return addr >= 0 && addr < MEM_SIZE && !(addr >= HOLE_START && addr < HOLE_END);
}

export class FakeTarget implements DebugTarget {
  readonly capabilities: TargetCapabilities;
  readonly mem = new Uint8Array(MEM_SIZE);
  readonly regs: number[][] = [];
  readonly effects = new Map<number, Effect>();
  readonly bps = new Map<string, { kind: BreakpointKind; addr: number; length: number }>();
  readonly monitor?: MonitorHandlers;
  /** Every call the session made, for assertions. */
  readonly calls: string[] = [];
  listener: StopListener | null = null;
  running = false;
  detached = false;
  killed = false;
  private interruptPending = false;
  private readonly opts: FakeOptions;
  /** Instructions executed in total. */
  icount = 0;

  constructor(opts: FakeOptions = {}) {
    this.opts = opts;
    this.capabilities = {
      swBreakpoints: true, hwBreakpoints: true, watchpoints: true,
      ...(opts.rangeStepping === true ? { rangeStepping: true } : {}),
      ...opts.capabilities,
    };
    if (opts.monitor !== undefined) this.monitor = opts.monitor;
    for (let t = 0; t < (opts.threads ?? 1); t++) {
      const r = new Array<number>(39).fill(0);
      r[Reg.EIP] = 0x800;
      r[Reg.ESP] = 0x7000 - t * 0x100;
      r[Reg.EFLAGS] = 0x202;
      r[Reg.CS] = 0xe019; r[Reg.SS] = 0xe021; r[Reg.DS] = r[Reg.ES] = 0xe021;
      r[Reg.CR0] = 0x80050033; r[Reg.CR3] = 0x3000; r[Reg.CR4] = 0x20; r[Reg.CPL] = 1;
      r[Reg.EAX] = 0x11111111 * (t + 1);
      this.regs.push(r);
    }
  }

  threads(): readonly ThreadInfo[] {
    return this.regs.map((_, i) => ({ id: i + 1, name: `vcpu${i}` }));
  }

  private r(thread: ThreadId): number[] {
    const r = this.regs[thread - 1];
    if (r === undefined) throw new Error(`no thread ${thread}`);
    return r;
  }

  attach(listener: StopListener): void {
    this.calls.push('attach');
    this.listener = listener;
    this.detached = false;
    if (this.opts.attach === 'later') return;
    const reason: StopReason = this.opts.attach === 'interrupt'
      ? { kind: 'interrupt', thread: 1 } : { kind: 'signal', thread: 1, signal: Signal.TRAP };
    listener.stopped(reason);
  }

  detach(): void {
    this.calls.push('detach');
    this.listener = null;
    this.detached = true;
  }

  kill(): void {
    this.calls.push('kill');
    this.listener = null;
    this.killed = true;
  }

  readRegisters(thread: ThreadId): RegisterValues {
    const r = this.r(thread);
    // No FPU model: st0-7 and the x87 control registers stay unavailable.
    const out: (RegValue | undefined)[] = r.slice(0, 16);
    for (let n = 16; n < 32; n++) out.push(undefined);
    out.push(...r.slice(32));
    return out;
  }

  writeRegister(thread: ThreadId, reg: number, value: RegValue): boolean {
    this.calls.push(`P${reg}`);
    if (reg === Reg.CPL || (reg >= 16 && reg < 32) || typeof value !== 'number') return false;
    this.r(thread)[reg] = value >>> 0;
    return true;
  }

  readMemory(_thread: ThreadId, addr: number, length: number): Uint8Array | null {
    let n = 0;
    while (n < length && mapped(addr + n)) n++;
    return n === 0 ? null : this.mem.slice(addr, addr + n);
  }

  writeMemory(_thread: ThreadId, addr: number, data: Uint8Array): boolean {
    for (let i = 0; i < data.length; i++) if (!mapped(addr + i)) return false;
    this.mem.set(data, addr);
    return true;
  }

  addBreakpoint(kind: BreakpointKind, addr: number, length: number): boolean {
    this.calls.push(`Z ${kind} ${addr.toString(16)} ${length}`);
    const key = `${kind}@${addr}/${length}`;
    if (this.bps.has(key)) throw new Error(`duplicate breakpoint ${key}`); // the session must dedupe
    this.bps.set(key, { kind, addr, length });
    return true;
  }

  removeBreakpoint(kind: BreakpointKind, addr: number, length: number): boolean {
    this.calls.push(`z ${kind} ${addr.toString(16)} ${length}`);
    return this.bps.delete(`${kind}@${addr}/${length}`);
  }

  interrupt(): void {
    this.calls.push('interrupt');
    if (this.running) this.interruptPending = true;
  }

  resume(actions: ReadonlyMap<ThreadId, ResumeAction>): void {
    this.calls.push(`resume ${[...actions].map(([t, a]) => `${t}:${a.kind}`).join(',')}`);
    if (this.listener === null) throw new Error('resume without a listener');
    this.running = true;
    const stepping = [...actions].filter(([, a]) => a.kind !== 'continue');
    if (stepping.length > 0) {
      // Steps (and native range steps) run alone: one thread, one instruction at a time.
      const [thread, a] = stepping[0]!;
      let first = true;
      for (;;) {
        const stop = this.exec(thread, first);
        first = false;
        if (stop !== null) return this.stop(stop);
        const eip = this.r(thread)[Reg.EIP]!;
        if (a.kind === 'range' && eip >= a.start && eip < a.end) continue;
        return this.stop({ kind: 'step', thread });
      }
    }
    const threads = [...actions.keys()];
    let first = true;
    const slice = (): void => {
      for (let n = 0; n < (this.opts.slice ?? 100_000); n++) {
        if (this.interruptPending) return this.stop({ kind: 'interrupt', thread: threads[0]! });
        for (const t of threads) {
          const stop = this.exec(t, first);
          if (stop !== null) return this.stop(stop);
        }
        first = false;
      }
      if (this.opts.async === true) setImmediate(slice);
      else this.stop({ kind: 'signal', thread: threads[0]!, signal: Signal.ABRT, message: 'fake: instruction budget exhausted\n' });
    };
    if (this.opts.async === true) setImmediate(slice);
    else slice();
  }

  /** Report a stop now (what the VMM does on a reboot, a crash found between slices, …). */
  stop(reason: StopReason): void {
    this.running = false;
    this.interruptPending = false;
    this.listener?.stopped(reason);
  }

  /** Execute one instruction of `thread`; a stop reason or null. */
  private exec(thread: ThreadId, first: boolean): StopReason | null {
    const r = this.r(thread);
    const eip = r[Reg.EIP]!;
    if (!first) {
      for (const b of this.bps.values()) {
        if ((b.kind === 'sw' || b.kind === 'hw') && b.addr === eip) return { kind: 'breakpoint', thread, type: b.kind };
      }
    }
    const e = this.effects.get(eip);
    this.icount++;
    if (e?.op === 'crash') return { kind: 'signal', thread, signal: Signal.SEGV, message: 'fake: guest crashed\n' };
    if (e?.op === 'poweroff') return { kind: 'exited', code: e.code };
    r[Reg.EIP] = e?.op === 'loop' ? eip : e?.op === 'jump' ? e.to : (eip + 1) >>> 0;
    if (e?.op === 'store' || e?.op === 'load') {
      if (e.op === 'store') {
        for (let i = 0; i < e.size; i++) if (mapped(e.addr + i)) this.mem[e.addr + i] = (e.value >>> (8 * i)) & 0xff;
      }
      for (const b of this.bps.values()) {
        const hit = e.addr < b.addr + b.length && b.addr < e.addr + e.size;
        if (!hit) continue;
        if (b.kind === 'access' || (b.kind === 'write' && e.op === 'store') || (b.kind === 'read' && e.op === 'load')) {
          return { kind: 'watch', thread, access: b.kind, addr: b.addr };
        }
      }
    }
    return null;
  }
}
