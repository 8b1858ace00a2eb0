/**
 * Debugger support inside the emulator, for a gdb stub on top: execution
 * breakpoints, single-step and data watchpoints, all by *linear* address
 * (CS base + EIP for code, segment base + offset for data), and none of
 * them touching guest memory (no INT3 patching), so they survive kernel
 * reloads and self-checksumming code.
 *
 * Everything here costs nothing while no breakpoint or watchpoint is set
 * and no step is requested: `run` (exec.ts) tests two fields once per call
 * and takes the ordinary loop; the memory fast paths are unchanged.
 *
 * Breakpoints (`addBreakpoint(la)`). `run` returns Exit.BREAKPOINT when EIP's
 * linear address equals a breakpoint at an instruction boundary, before the
 * instruction executes (icount unchanged; also before a fetch fault of that
 * instruction, the priority of a code breakpoint in SDM vol. 3A table 6-2).
 * The debugger loop (`runDebug`) checks at every block start, and blocks
 * never hold a breakpoint address except as their first instruction:
 * `BlockCache.build` ends a block before one, and adding or removing a
 * breakpoint drops the cached blocks whose linear range covers it. Budget
 * cuts, faults and `cpu.brk` all restart at a block start, so every
 * instruction boundary is checked.
 * To continue from a breakpoint, set `resumeFrom = la` (one-shot): the
 * instruction at `la` then executes once without stopping and the flag is
 * cleared — after that instruction completes or faults, or at once when the
 * next boundary is somewhere else. A REP string instruction that yields with
 * iterations left (EIP still at `la`) keeps the flag, so a long copy is not
 * stopped again at every chunk.
 *
 * Single step (`stepping = true`): `run` executes exactly one instruction,
 * whatever breakpoint sits at EIP, and returns Exit.STEP. The instruction's
 * own events belong to the step: a fault (including a fetch fault) is
 * delivered and the step ends at the handler's first instruction; INT n
 * enters its handler; with the guest's EFLAGS.TF the architectural #DB trap
 * follows. Nothing else is delivered (the VMM delivers events between run
 * calls). Other results of a step:
 *  - Exit.HYPERCALL when the instruction is a hypercall (VMCALL, PV int
 *    0x82): the step is complete; the VMM services the call and reports
 *    the step as done without running again;
 *  - Exit.WATCH when the instruction hit a watchpoint (the step is complete
 *    too; the watchpoint is the more useful stop reason);
 *  - Exit.STEP after HLT, with `cpu.halted` set; stepping a CPU that is
 *    already halted executes nothing and returns Exit.HLT;
 *  - Exit.TRIPLE_FAULT / STOPPED as usual; Exit.BUDGET with a budget of 0.
 * A step retires at most one instruction (one REP chunk counts as one, as
 * for the budget), so icount stays independent of how execution is cut.
 *
 * Watchpoints (`addWatchpoint(la, len, kind)`, any number, 1 <= len <= 1 MiB,
 * ranges may overlap and straddle pages): after an instruction whose data
 * access (read, write, or either) overlaps a watched byte completes, `run`
 * returns Exit.WATCH with `hit` describing the first match; EIP names the
 * next instruction (trap semantics, like the x86 debug registers). A REP
 * string instruction stops after the iteration that hit (EIP stays on it
 * while iterations remain). An instruction that hits and then faults does
 * not report the hit (it did not complete; it hits again when re-executed).
 * Mechanism: linear pages holding a watched byte never get TLB entries
 * (`Cpu.tlbSet` refuses them, and adding a watchpoint drops the existing
 * ones), so every access to such a page takes the slow path (`rdSlow`,
 * `wrSlow`), which knows the address and size and calls `access`; the
 * string fast paths leave watched pages to the per-element path. Explicit
 * operands, stack pushes and pops, string elements and the implicit
 * descriptor-table and TSS accesses of instructions are checked;
 * instruction fetches, accesses made while an event is being delivered
 * (IDT frames, PV bounce frames), probes that write nothing, and every VMM
 * access (GuestAccess, hypercall copies, peekLinear, PhysMemory) are not.
 *
 * State is plain data: the breakpoint set, the watchpoint list and the
 * three fields the stub drives (`stepping`, `resumeFrom`, `hit`). Change
 * breakpoints and watchpoints through the methods (they keep the block
 * cache and the TLB consistent), between `run` calls. `clear()` removes
 * everything and returns to the fast path.
 */
import { Exit, Seg, type Cpu, type IntKind } from './cpu.js';
import { CpuFault } from './fault.js';
import { TF } from './flags.js';
import { raiseException, stepOne, CONTINUE } from './exec.js';
import type { Block } from './blocks.js';
import type { Insn } from './insn.js';

/** What a watchpoint reacts to. */
export type WatchKind = 'write' | 'read' | 'access';

/** Largest watched range, in bytes. */
export const MAX_WATCH_LEN = 1 << 20;

/** A watched linear range [addr, addr + len). */
export interface Watchpoint {
  /** Linear start address (unsigned). */
  readonly addr: number;
  readonly len: number;
  readonly kind: WatchKind;
}

/** Why `run` returned Exit.WATCH. */
export interface WatchHit {
  /** The watchpoint's kind. */
  kind: WatchKind;
  /** The watchpoint's start address (unsigned linear). */
  addr: number;
  /** The watchpoint's length. */
  len: number;
  /** Linear address of the first byte of the access that hit (unsigned). */
  accessAddr: number;
  /** Size of that access in bytes. */
  accessLen: number;
  /** The access was a write (else a read). */
  write: boolean;
}

/** Per-CPU debugger state (`cpu.debug`). */
export class CpuDebug {
  /** Execute one instruction per `run` and return Exit.STEP (see the header). */
  stepping = false;
  /**
   * One-shot: let the instruction at this linear address execute once
   * without stopping at a breakpoint there; -1 when none (any other value
   * is taken modulo 2^32, so a signed address works too).
   */
  resumeFrom = -1;
  /** The watchpoint hit reported by the last Exit.WATCH (reset as `run` starts). */
  hit: WatchHit | null = null;
  /**
   * Breakpoints or watchpoints exist: `run` takes the debugger loop. Kept by
   * the methods below; read-only for everyone else.
   */
  armed = false;
  /**
   * Linear pages holding a watched byte (1 = watched); null when there are
   * no watchpoints. `Cpu.tlbSet` never caches such a page.
   */
  watchPages: Uint8Array | null = null;
  /** Accesses are being checked: inside `runDebug`, outside event delivery. */
  watchLive = false;

  private readonly bps = new Set<number>();
  private readonly wps: Watchpoint[] = [];

  constructor(private readonly cpu: Cpu) {}

  /** The breakpoint addresses (unsigned linear). */
  get breakpoints(): ReadonlySet<number> {
    return this.bps;
  }

  /** The watchpoints, in the order they were added (the first match is reported). */
  get watchpoints(): readonly Watchpoint[] {
    return this.wps;
  }

  /** Is there a breakpoint at linear address `la` (unsigned)? */
  hasBreakpoint(la: number): boolean {
    return this.bps.has(la >>> 0);
  }

  /** Add an execution breakpoint at linear address `la`; false when it already exists. */
  addBreakpoint(la: number): boolean {
    la >>>= 0;
    if (this.bps.has(la)) return false;
    this.bps.add(la);
    // Blocks that run through `la` must be rebuilt to end before it.
    this.cpu.blocks.invalidateLinear(la);
    this.update();
    return true;
  }

  /** Remove the breakpoint at `la`; false when there is none. */
  removeBreakpoint(la: number): boolean {
    la >>>= 0;
    if (!this.bps.delete(la)) return false;
    // Blocks cut at `la` are rebuilt whole on their next use.
    this.cpu.blocks.invalidateLinear(la);
    this.update();
    return true;
  }

  /**
   * Watch [la, la + len) (linear, may wrap at 4 GiB) for `kind` accesses.
   * Returns false when the same watchpoint already exists; throws
   * RangeError for a bad length or kind.
   */
  addWatchpoint(la: number, len: number, kind: WatchKind): boolean {
    la >>>= 0;
    if (!Number.isInteger(len) || len < 1 || len > MAX_WATCH_LEN) {
      throw new RangeError(`watchpoint length ${len} is not an integer in [1, ${MAX_WATCH_LEN}]`);
    }
    if (kind !== 'write' && kind !== 'read' && kind !== 'access') throw new RangeError(`bad watchpoint kind ${String(kind)}`);
    if (this.findWatch(la, len, kind) >= 0) return false;
    this.wps.push({ addr: la, len, kind });
    this.rebuildPages();
    // Cached translations of the watched pages must go: every access to them now walks.
    const tlb = this.cpu.tlb;
    const first = la >>> 12, count = ((((la & 0xfff) + len - 1) >>> 12) + 1);
    for (let k = 0; k < count; k++) tlb[(first + k) & 0xfffff] = 0;
    this.update();
    return true;
  }

  /** Remove a watchpoint added with the same arguments; false when there is none. */
  removeWatchpoint(la: number, len: number, kind: WatchKind): boolean {
    const k = this.findWatch(la >>> 0, len, kind);
    if (k < 0) return false;
    this.wps.splice(k, 1);
    this.rebuildPages();
    this.update();
    return true;
  }

  /** Remove every breakpoint. */
  clearBreakpoints(): void {
    for (const la of [...this.bps]) this.removeBreakpoint(la);
  }

  /** Remove every watchpoint. */
  clearWatchpoints(): void {
    this.wps.length = 0;
    this.rebuildPages();
    this.update();
  }

  /** Remove everything and stop stepping: `run` is back on its fast path. */
  clear(): void {
    this.clearBreakpoints();
    this.clearWatchpoints();
    this.stepping = false;
    this.resumeFrom = -1;
    this.hit = null;
  }

  /**
   * A data access by the running instruction of `size` bytes at linear
   * `la`, already known to be permitted (it will happen). Called from the
   * CPU's slow paths only while `watchLive`.
   */
  access(la: number, size: number, write: boolean): void {
    const a = la >>> 0;
    const pages = this.watchPages;
    if (pages === null || (pages[a >>> 12] === 0 && pages[((a + size - 1) >>> 12) & 0xfffff] === 0)) return;
    for (const w of this.wps) {
      if (w.kind === 'write' ? !write : w.kind === 'read' && write) continue;
      // Overlap modulo 2^32: one range starts inside the other.
      if (((a - w.addr) >>> 0) < w.len || ((w.addr - a) >>> 0) < size) {
        this.post(w, a, size, write);
        return;
      }
    }
  }

  /** Record the first hit of the current instruction and end the run after it. */
  private post(w: Watchpoint, a: number, size: number, write: boolean): void {
    if (this.hit !== null) return;
    this.hit = { kind: w.kind, addr: w.addr, len: w.len, accessAddr: a, accessLen: size, write };
    const cpu = this.cpu;
    if (cpu.exitReason === Exit.BUDGET) cpu.requestExit(Exit.WATCH);
  }

  /** Forget a hit posted by an instruction that then faulted (it did not complete). */
  dropHit(): void {
    if (this.cpu.exitReason === Exit.WATCH) this.cpu.exitReason = Exit.BUDGET;
    this.hit = null;
  }

  private findWatch(la: number, len: number, kind: WatchKind): number {
    return this.wps.findIndex((w) => w.addr === la && w.len === len && w.kind === kind);
  }

  private rebuildPages(): void {
    if (this.wps.length === 0) {
      this.watchPages = null;
      return;
    }
    const pages = this.watchPages ?? new Uint8Array(1 << 20);
    pages.fill(0);
    for (const w of this.wps) {
      const first = w.addr >>> 12, count = (((w.addr & 0xfff) + w.len - 1) >>> 12) + 1;
      for (let k = 0; k < count; k++) pages[(first + k) & 0xfffff] = 1;
    }
    this.watchPages = pages;
  }

  private update(): void {
    this.armed = this.bps.size !== 0 || this.wps.length !== 0;
  }
}

/**
 * Deliver an event raised by an instruction itself (INT n, INT3, INTO,
 * INT1) without checking watchpoints: the delivery's own accesses (the
 * frame it pushes) are not the instruction's data accesses. May throw
 * CpuFault like any delivery.
 */
export function deliverUnwatched(cpu: Cpu, vector: number, kind: IntKind): void {
  const d = cpu.debug;
  if (!d.watchLive) {
    cpu.delivery.deliver(cpu, vector, kind, -1);
    return;
  }
  d.watchLive = false;
  try {
    cpu.delivery.deliver(cpu, vector, kind, -1);
  } finally {
    d.watchLive = true;
  }
}

// --- the debugger run loop -----------------------------------------------------------

/** REP-prefixed string instruction (MOVS..SCAS, INS/OUTS): it may yield with EIP on itself. */
function isRepString(i: Insn): boolean {
  if (i.rep === 0) return false;
  const op = i.op;
  return (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf) || (op >= 0x6c && op <= 0x6f);
}

/**
 * After the instruction at `la` ran under `resumeFrom`: keep the flag only
 * while a REP string instruction there still has iterations left.
 */
function consumeResume(cpu: Cpu, i: Insn, la: number): void {
  const d = cpu.debug;
  if ((d.resumeFrom >>> 0) === la && cpu.eip === i.eip && isRepString(i) &&
    ((cpu.segBase[Seg.CS]! + cpu.eip) >>> 0) === la) return;
  d.resumeFrom = -1;
}

/**
 * `run` while the debugger is armed or stepping (same contract as `run`,
 * plus Exit.BREAKPOINT, STEP and WATCH).
 */
export function runDebug(cpu: Cpu, budget: number): Exit {
  const d = cpu.debug;
  cpu.exitReason = Exit.BUDGET;
  cpu.brk = false;
  d.hit = null;
  d.watchLive = d.watchPages !== null;
  try {
    return d.stepping ? step(cpu, budget) : loop(cpu, budget);
  } finally {
    d.watchLive = false;
  }
}

/** Deliver a fault caught in the debugger loop; returns CONTINUE or an Exit. */
function deliver(cpu: Cpu, e: unknown): number {
  if (!(e instanceof CpuFault)) throw e;
  cpu.debug.dropHit();
  cpu.brk = false;
  if (!raiseException(cpu, e)) return Exit.TRIPLE_FAULT;
  if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
  cpu.brk = false;
  return CONTINUE;
}

/** One instruction, then Exit.STEP (see the header). */
function step(cpu: Cpu, budget: number): Exit {
  if (cpu.halted) return Exit.HLT;
  if (budget <= 0) return Exit.BUDGET;
  const d = cpu.debug;
  const la = (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
  let block: Block;
  try {
    block = cpu.blocks.lookup();
  } catch (e) {
    // The instruction cannot be fetched: its fault is the step.
    d.resumeFrom = -1;
    cpu.intShadow = false;
    const r = deliver(cpu, e);
    return r === CONTINUE ? Exit.STEP : (r as Exit);
  }
  const i = block.insns[0]!;
  const r = stepOne(cpu, block);
  consumeResume(cpu, i, la);
  if (r === CONTINUE || r === Exit.HLT) return Exit.STEP;
  return r as Exit;
}

/** The run loop with breakpoint checks at every block start. */
function loop(cpu: Cpu, budget: number): Exit {
  const blocks = cpu.blocks;
  const d = cpu.debug;
  let left = budget;
  let prev: Block | null = null;
  while (left > 0) {
    if (cpu.halted) return Exit.HLT;
    // Instruction boundary: a code breakpoint wins over the fetch (SDM 3A table 6-2).
    const la = (cpu.segBase[Seg.CS]! + cpu.eip) >>> 0;
    let single = false;
    if (d.resumeFrom !== -1) {
      if ((d.resumeFrom >>> 0) === la) single = true;
      else d.resumeFrom = -1;
    }
    if (!single && d.hasBreakpoint(la)) return Exit.BREAKPOINT;

    let block: Block;
    try {
      block = prev !== null ? blocks.next(prev) : blocks.lookup();
    } catch (e) {
      prev = null;
      cpu.intShadow = false;
      if (single) d.resumeFrom = -1;
      const r = deliver(cpu, e);
      if (r !== CONTINUE) return r as Exit;
      continue;
    }

    const insns = block.insns;
    if ((cpu.flags & TF) !== 0 || cpu.intShadow) {
      const icount = cpu.icount;
      const r = stepOne(cpu, block);
      if (single) consumeResume(cpu, insns[0]!, la);
      left -= cpu.icount - icount;
      prev = null;
      if (r !== CONTINUE) return r as Exit;
      continue;
    }

    const len = insns.length;
    let n = len < left ? len : left;
    if (single) n = 1;
    let k = 0;
    try {
      while (k < n) {
        const i = insns[k]!;
        cpu.eip = i.next;
        k++;
        i.exec(cpu, i);
        if (cpu.brk) break;
      }
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      k--;
      cpu.eip = insns[k]!.eip;
      cpu.icount += k;
      left -= k;
      prev = null;
      if (single) d.resumeFrom = -1;
      const r = deliver(cpu, e);
      if (r !== CONTINUE) return r as Exit;
      continue;
    }
    cpu.icount += k;
    left -= k;
    if (single) consumeResume(cpu, insns[0]!, la);
    if (cpu.brk) {
      prev = null;
      cpu.brk = false;
      if (cpu.exitReason !== Exit.BUDGET) return cpu.exitReason;
    } else {
      prev = k === len ? block : null;
    }
  }
  return Exit.BUDGET;
}
