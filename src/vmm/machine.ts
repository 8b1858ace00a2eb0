/**
 * A machine: one domain with one vCPU, built from a kernel image, and the
 * vCPU run loop as an explicit state machine whose exits are values
 * (Firecracker style).
 *
 *   KernelImage → PhysMemory (+ Xen frames) → domain builder (BootState)
 *     → Cpu (+ PV delivery / Xen platform) → run(cpu, chunk) → Exit
 *       HYPERCALL → hypercall table → EAX (block/poll may put the vCPU to sleep)
 *       STOPPED   → the domain shut down or crashed
 *       HLT       → PVH: with IF=1 the vCPU sleeps like SCHEDOP_block;
 *                   with IF=0 nothing can wake it: the 'halted' exit
 *       TRIPLE_FAULT
 *
 * `step(budget)` runs at most `budget` instructions and returns null (still
 * running), the final `MachineExit`, or `MachineIdle` when the vCPU sleeps
 * and only time or a host event can wake it: `{ kind: 'idle', untilNs,
 * waitNs }` asks the caller to come back after `waitNs` nanoseconds of host
 * time (null: only when `onWake` fires). Callers that serve sockets
 * between slices (the CLI, the gdb stub) call it in a loop with small
 * budgets, waiting (not spinning) on idle results; tests call `runToEnd`.
 *
 * Check points. Events, timers and backends are looked at between
 * instructions, at *check points*: after every hypercall (Xen checks on
 * every return to the guest; iret, block, unmask and send all land here),
 * every EVENT_CHECK_INTERVAL retired instructions (at icount multiples, so
 * a guest that clears its mask or sets IF itself waits at most that long),
 * at every timer deadline in deterministic mode (exactly at the deadline's
 * instruction), and when the vCPU wakes. A check point
 *   1. fires due timers (time.ts) and republishes vcpu_time_info when one
 *      fired, on a wake-up, or after a second of guest time;
 *   2. runs the backends (console, xenstore, added ones: `pollDevices`);
 *   3. wakes a sleeping vCPU whose wake condition now holds;
 *   4. delivers a pending upcall to a running vCPU: PV, when
 *      evtchn_upcall_pending && !evtchn_upcall_mask, a bounce to the event
 *      callback with the mask set (pv/traps.ts); PVH, when a callback
 *      vector is configured and EFLAGS.IF=1 with no interrupt shadow, the
 *      vector as an external interrupt through the IDT (which wakes HLT);
 *      while IF=0 the CPU is asked to stop at the interrupt window
 *      (cpu.irqWindow), which is a check point too: after STI the vector
 *      goes in after the next instruction, as on hardware.
 * Check points depend only on the instruction count and the guest's own
 * actions, never on how the caller slices `step`, so the deterministic
 * clock gives the same run for any budgets.
 *
 * Sleeping. While the vCPU sleeps (Domain.sleep) nothing executes. The
 * machine looks for the earliest deadline that could end the sleep (a
 * timer whose VIRQ_TIMER would wake it, the poll timeout, a watchdog): in
 * deterministic mode time jumps there at once; with a host clock step()
 * returns an idle result. With no such deadline and no host event source
 * (`asyncEventSources`), nothing can ever wake the vCPU: the run ends with
 * the 'halted' exit (status 10) instead of hanging.
 *
 * Debugger steps. `stepInstruction()` runs exactly one instruction with
 * event delivery, timers and wake-ups held back (the next step() does
 * them), so a single step never lands in an event handler; step() also
 * holds back delivery while `cpu.debug.stepping` is set.
 */
import { PhysMemory } from './memory/phys.js';
import { Cpu, Exit, R, Seg } from './cpu/cpu.js';
import { IntKind, createCpu, raiseInterrupt, run } from './cpu/index.js';
import { applyPv } from '../loader/builder-pv.js';
import { applyPvh } from '../loader/builder-pvh.js';
import type { KernelImage } from '../loader/kernel.js';
import type { BootState } from '../loader/boot-state.js';
import { Domain, type ConsoleSink, type DomainStop } from './xen/domain.js';
import { NO_RESULT } from './xen/hypercalls.js';
import { PvDelivery, deliverEventUpcall } from './xen/pv/traps.js';
import { PvGdt } from './xen/pv/gdt.js';
import { installHypervisorHole } from './xen/pv/hole.js';
import { XenPlatform } from './xen/platform.js';
import { registerHypercalls } from './xen/hypercalls/index.js';
import { XEN_ERRNO } from './xen/abi/errno.js';
import type { BackendChannel } from './xen/events.js';
import {
  TIME_INFO_REFRESH_NS, fireDueTimers, nextDeadline, publishTimeInfo, publishWallClock, type Clock,
} from './xen/time.js';
import { runstateInfo } from './xen/hypercalls/vcpu.js';
import { ConsoleBackend, ConsoleMux } from './devices/console.js';
import { Blkback, addBlockDevice } from './devices/block/blkback.js';
import type { DiskConfig } from './devices/block/config.js';
import type { BlockHost } from './devices/block/disk.js';
import { Netback, addNetDevice } from './devices/net/netback.js';
import type { NetConfig, NetPort } from './devices/net/index.js';
import { eventBinderOf, grantAccessOf, ringMapperOf } from './devices/ring.js';
import { XenstoreRing, XenstoreServer, buildDom0Tree, buildDomainTree } from './devices/xenstore/index.js';

/** Default guest memory: 64 MiB. */
export const DEFAULT_MEMORY = 64 << 20;
/** Smallest guest memory the builders accept. */
export const MIN_MEMORY = 4 << 20;
/** Largest guest memory (PhysMemory's limit less the Xen frames). */
export const MAX_MEMORY = 1536 << 20;

/** Event channels libxl usually gives xenstore and the console (reference §8.5). */
export const STORE_EVTCHN = 1, CONSOLE_EVTCHN = 2;

export interface MachineOptions {
  kernel: KernelImage;
  /** Guest RAM in bytes (multiple of 4 KiB). */
  memory?: number;
  cmdline?: string;
  console: ConsoleSink;
  /** The domain's name in xenstore (default "xenkit-guest"). */
  name?: string;
  /** The domain's id (default 1): guests of one process get distinct ids, as on Xen. */
  domid?: number;
  /**
   * Host clock for guest time (the CLI passes the process clock). Omitted:
   * the deterministic clock, 1 ns per retired instruction with idle time
   * skipped (xen/time.ts).
   */
  clock?: Clock;
}

/** Retired instructions between two event check points (see the header). */
export const EVENT_CHECK_INTERVAL = 16384;

/** How a machine stopped. */
export type MachineExit =
  | DomainStop
  | { kind: 'triple-fault' }
  /**
   * The vCPU stopped with nothing that could ever wake it: `hlt` with
   * IF=0, or a sleep (PVH `hlt`, SCHEDOP_block, SCHEDOP_poll) with no
   * timer that could end it and no host event source.
   */
  | { kind: 'halted'; in?: 'hlt' | 'block' | 'poll' };

/**
 * The vCPU sleeps: nothing happens before system time `untilNs` (null: only
 * an event from a host source can wake it, see Machine.onWake). `waitNs` is
 * how long that is from now. Only returned with a host clock (in
 * deterministic mode time jumps), or when waiting for host events alone.
 */
export interface MachineIdle {
  kind: 'idle';
  untilNs: bigint | null;
  waitNs: bigint | null;
}

/** What `step` returns: null while running, the idle request, or the final exit. */
export type StepResult = MachineExit | MachineIdle | null;

/** A device backend the machine services at every check point, after every hypercall and when it stops. */
export interface Backend {
  /** Do the work queued for the device; true when a budget ran out and it should run again soon. */
  poll(): void | boolean;
}

/** A backend the machine owns: closed (flushed, released) when the machine is. */
interface OwnedDevice extends Backend {
  close(): void;
  /** One line: the device, its xenbus handshake, its counters. */
  describe(): string;
}

export class Machine {
  readonly kernel: KernelImage;
  readonly mem: PhysMemory;
  readonly cpu: Cpu;
  readonly domain: Domain;
  readonly boot: BootState;
  exit: MachineExit | null = null;
  /** The PV console page's backend (output to the console sink, host input through `consoleInput`). */
  readonly consoleBackend: ConsoleBackend;
  /** The in-VMM xenstored and this domain's connection to it (the xenstore ring). */
  readonly xenstore: XenstoreServer;
  readonly storeRing: XenstoreRing;
  /** dom0's ends of the toolstack's channels (ports 1 and 2): `notify()` raises the guest's port. */
  readonly storeChannel: BackendChannel;
  readonly consoleChannel: BackendChannel;
  /**
   * Host-side sources that can raise events while the vCPU sleeps (console
   * input, sockets). With none, a sleep that no timer can end is final.
   */
  asyncEventSources = 0;
  /**
   * Deterministic clock only: how far (system time, ns) an idle vCPU may
   * sleep through time. null (the default): to its next deadline at once.
   * Set by a scheduler that keeps several deterministic machines in
   * lockstep (xenkit run --and): a sleeping guest's time then follows the
   * common horizon, and `step` reports it idle there.
   */
  skipLimitNs: bigint | null = null;
  /**
   * Called when something outside `step` (a host event source) woke the
   * sleeping vCPU: an idle caller should call `step` again now.
   */
  onWake: (() => void) | null = null;
  /**
   * Debugger (src/vmm/debug-target.ts): why the vCPU's last `run` in `step`
   * returned. After a step() that ended early, Exit.BREAKPOINT / WATCH say
   * it stopped at a breakpoint or watchpoint (step() returns at once then,
   * with EIP untouched: no check point runs after a debug exit).
   */
  lastCpuExit: Exit = Exit.BUDGET;
  private readonly backends: Backend[] = [];
  private readonly devices: OwnedDevice[] = [];
  /** describeDevices() as it was when the machine was closed. */
  private closedDevices: string[] = [];
  /** A backend had more work than its budget at the last poll: don't sleep yet. */
  private devicesBusy = false;
  /** A check point is due before the next instruction. */
  private checkDue = true;
  private inStep = false;
  private lastTimeInfoNs = 0n;

  constructor(o: MachineOptions) {
    this.kernel = o.kernel;
    const bytes = o.memory ?? DEFAULT_MEMORY;
    const nrPages = bytes / 4096;
    const extra = Domain.extraFramesFor(nrPages);
    this.mem = new PhysMemory(bytes, extra);
    const cmdline = o.cmdline ?? '';
    this.cpu = createCpu(this.mem);
    this.domain = new Domain({
      type: o.kernel.type, cpu: this.cpu, mem: this.mem, nrPages, console: o.console, cmdline, clock: o.clock ?? null,
      ...(o.domid !== undefined ? { domid: o.domid } : {}),
    });
    const dom = this.domain;
    this.cpu.host = new XenPlatform(dom);
    registerHypercalls(dom);
    // The toolstack's channels first (libxl: xenstore, then console), so the builders can name them.
    const chans = dom.bindToolstackChannels();
    if (dom.storeEvtchn !== STORE_EVTCHN || dom.consoleEvtchn !== CONSOLE_EVTCHN) throw new Error('toolstack ports moved');
    this.storeChannel = chans.store;
    this.consoleChannel = chans.console;
    if (o.kernel.type === 'pv') {
      const { boot, pv } = applyPv(o.kernel, this.mem, {
        nrPages, cmdline, sharedInfoMfn: dom.sharedInfoMfn, consoleEvtchn: CONSOLE_EVTCHN, storeEvtchn: STORE_EVTCHN,
      });
      this.boot = boot;
      dom.consolePfn = pv.consolePfn;
      dom.storePfn = pv.storePfn;
      this.cpu.delivery = new PvDelivery(dom);
      this.cpu.gdtHook = new PvGdt(dom);
      this.cpu.cplFloor = 1;
      installHypervisorHole(dom);
      dom.vmAssist = 1 << 3; // VMASST_TYPE_pae_extended_cr3
      dom.pv.kernelSs = boot.dsSel;
      dom.pv.kernelSp = boot.esp;
      dom.upcallMask = 1;
    } else {
      const { boot, pvh } = applyPvh(o.kernel, this.mem, { nrPages, cmdline });
      this.boot = boot;
      dom.consolePfn = pvh.consolePfn;
      dom.storePfn = pvh.storePfn;
    }
    // One screen for both console channels: the ring and console_io (see devices/console.ts).
    const mux = new ConsoleMux(o.console);
    dom.console = { write: (b) => mux.write(1, b) };
    this.consoleBackend = new ConsoleBackend(this.mem, dom.consolePfn * 4096, (b) => mux.write(0, b));
    // xenstore: the tree a toolstack (libxl) writes for the domain, served on the store ring.
    this.xenstore = new XenstoreServer();
    buildDom0Tree(this.xenstore);
    buildDomainTree(this.xenstore, {
      domid: dom.domid, name: o.name ?? 'xenkit-guest', memoryKiB: bytes >>> 10,
      console: { mfn: dom.consolePfn, port: CONSOLE_EVTCHN },
      store: { mfn: dom.storePfn, port: STORE_EVTCHN },
    });
    this.storeRing = new XenstoreRing(this.mem, dom.storePfn * 4096, this.xenstore, dom.domid);
    // Backends hear the guest's EVTCHNOP_send synchronously.
    this.consoleChannel.onSend = () => this.serviceConsole();
    this.storeChannel.onSend = () => this.serviceStore();
    // Time: RDTSC reads the domain's clock; shared_info carries the wall clock and vcpu_time_info.
    this.cpu.tscHook = () => dom.time.tsc();
    publishWallClock(this.mem, dom.sharedInfoPa, dom.time.bootWallNs);
    this.publishTime(dom.time.nowNs());
    dom.onWake = () => this.woken();
    this.enter(this.boot);
  }

  /** Load the boot state into the vCPU. */
  private enter(b: BootState): void {
    const cpu = this.cpu;
    cpu.cr0 = b.cr0;
    cpu.cr3 = b.cr3;
    cpu.cr4 = b.cr4;
    cpu.efer = b.efer;
    // Flat segments straight from the boot contract (descriptors are Xen's reserved ones for PV).
    const code = 0xb | 0x10 | (b.cpl << 5) | 0x80 | 0x4000 | 0x8000;
    const data = 0x3 | 0x10 | (b.cpl << 5) | 0x80 | 0x4000 | 0x8000;
    cpu.loadSegCache(Seg.CS, b.csSel, 0, 0xffffffff, code);
    for (const s of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) cpu.loadSegCache(s, b.dsSel, 0, 0xffffffff, data);
    cpu.setCpl(b.cpl);
    if (b.type === 'pvh') {
      // PVH: TR must be usable (a busy 32-bit TSS) per the boot contract; base 0, limit 0x67.
      cpu.loadSegCache(Seg.TR, 0x20, 0, 0x67, 0xb | 0x80);
    }
    cpu.r32.fill(0);
    cpu.r32[R.ESP] = b.esp;
    cpu.r32[R.ESI] = b.esi;
    cpu.r32[R.EBX] = b.ebx;
    cpu.eip = b.eip;
    cpu.flags = b.eflags;
    cpu.lfLazy = 0;
    cpu.tlbFlushAll();
  }

  /**
   * Run up to `budget` instructions. Returns the final exit once the
   * machine has stopped (and every later call returns it again), an idle
   * request while the vCPU sleeps (host clock), or null.
   */
  step(budget: number): StepResult {
    if (this.exit !== null) return this.exit;
    const cpu = this.cpu, dom = this.domain, time = dom.time;
    let left = budget;
    this.inStep = true;
    try {
      while (this.exit === null) {
        let checked = false;
        if (this.checkDue) {
          this.checkDue = false;
          checked = true;
          this.checkpoint();
          if (dom.stop !== null) this.exit = dom.stop;
          if (this.exit !== null) break;
        }
        if (dom.sleep !== null) {
          const idle = this.idle();
          if (idle !== null) return idle;
          continue;
        }
        if (left <= 0) break;
        // Run to the next check point at most: an icount multiple of the interval, or a deadline.
        let n = Math.min(left, EVENT_CHECK_INTERVAL - (cpu.icount % EVENT_CHECK_INTERVAL));
        let deadline: bigint | null = null;
        if (time.deterministic && (deadline = nextDeadline(dom)) !== null) {
          const k = time.instructionsUntil(deadline);
          if (k === 0 && !checked) {
            this.checkDue = true;
            continue;
          }
          n = Math.max(1, Math.min(n, k));
        }
        if (this.skipLimitNs !== null && time.deterministic) {
          // Lockstep: not past the common horizon (a woken sleeper's budget is time, not instructions).
          const k = time.instructionsUntil(this.skipLimitNs);
          if (k === 0) break;
          n = Math.min(n, k);
        }
        const before = cpu.icount;
        const why = run(cpu, n);
        this.lastCpuExit = why;
        const ran = cpu.icount - before;
        left -= ran;
        if (ran > 0 && cpu.icount % EVENT_CHECK_INTERVAL === 0) this.checkDue = true;
        if (deadline !== null && time.instructionsUntil(deadline) === 0) this.checkDue = true;
        switch (why) {
          case Exit.HYPERCALL:
            this.hypercall();
            break;
          case Exit.STOPPED:
            // The interrupt window opened (cpu.irqWindow): a check point injects the vector. If one
            // just ran and could not (its delivery faulted), let the guest run to the next one.
            if (dom.stop === null && cpu.irqWindow) {
              if (ran === 0 && checked) cpu.irqWindow = false;
              else this.checkDue = true;
            }
            break;
          case Exit.BUDGET:
            break;
          case Exit.TRIPLE_FAULT:
            this.exit = { kind: 'triple-fault' };
            break;
          case Exit.HLT:
            this.halt();
            break;
          default:
            // Debug exits (breakpoint, step, watch) belong to the gdb layer: return now, before a
            // check point could deliver an event and move EIP off the breakpoint (debug-target.ts).
            if (dom.stop !== null) this.exit = dom.stop;
            if (this.exit !== null) this.pollDevices();
            return this.exit;
        }
        if (dom.stop !== null) this.exit = dom.stop;
      }
    } finally {
      this.inStep = false;
    }
    if (this.exit !== null) this.pollDevices();
    return this.exit;
  }

  /**
   * Execute exactly one guest instruction, for a debugger's single step
   * (cpu.debug.stepping semantics: breakpoints at EIP do not stop it). No
   * event is delivered, no timer fires and no backend runs before it; a
   * hypercall it makes is serviced. The held-back check point runs at the
   * next `step`. A sleeping vCPU executes nothing: the idle request is
   * returned.
   */
  stepInstruction(): StepResult {
    if (this.exit !== null) return this.exit;
    const cpu = this.cpu, dom = this.domain;
    if (dom.sleep !== null) {
      const until = nextDeadline(dom, true), now = dom.time.nowNs();
      return { kind: 'idle', untilNs: until, waitNs: until === null ? null : until > now ? until - now : 0n };
    }
    const dbg = cpu.debug, was = dbg.stepping;
    dbg.stepping = true;
    let why: Exit;
    try {
      why = run(cpu, 1);
    } finally {
      dbg.stepping = was;
    }
    this.checkDue = true;
    if (why === Exit.HYPERCALL) {
      this.hypercall();
      this.pollDevices();
    } else if (why === Exit.TRIPLE_FAULT) this.exit = { kind: 'triple-fault' };
    else if (why === Exit.HLT || cpu.halted) this.halt();
    if (dom.stop !== null) this.exit = dom.stop;
    if (this.exit !== null) this.pollDevices();
    return this.exit;
  }

  /**
   * Run until the machine stops or `maxInstructions` retire (then null).
   * Meant for the deterministic clock, where idle time is skipped; with a
   * host clock it busy-waits through idle periods. A vCPU left waiting for
   * host events alone returns null.
   */
  runToEnd(maxInstructions = 2_000_000_000): MachineExit | null {
    const start = this.cpu.icount;
    while (this.exit === null && this.cpu.icount - start < maxInstructions) {
      const r = this.step(Math.min(1_000_000, maxInstructions - (this.cpu.icount - start)));
      if (r === null) continue;
      if (r.kind === 'idle') {
        if (r.waitNs === null) return null;
        continue;
      }
      return r;
    }
    return this.exit;
  }

  /** Have `b.poll()` run with the machine's own backends (see `pollDevices`). */
  addBackend(b: Backend): void {
    this.backends.push(b);
  }

  /**
   * Backend work: consume what the guest put in its rings and notify it
   * when there is something for it. Runs at every check point (after every
   * hypercall: yield, poll, block and EVTCHNOP_send are where guests wait
   * for backends), and when the machine stops, so nothing the guest
   * printed is lost.
   */
  pollDevices(): void {
    this.serviceConsole();
    this.serviceStore();
    for (const b of this.backends) if (b.poll() === true) this.devicesBusy = true;
  }

  /**
   * A host-side device event (a frame from a socket): run a check point
   * soon, so the backend moves it into the guest's ring and notifies; wake
   * an idle caller.
   */
  deviceEvent(): void {
    this.checkDue = true;
    if (!this.inStep) this.onWake?.();
  }

  /**
   * Add a paravirtual disk (`--disk`): the toolstack's xenstore entries, then
   * a block backend over `host` (an image file in the CLI) that walks the
   * xenbus handshake with the guest's blkfront. Call before the first step.
   */
  addDisk(d: DiskConfig, host: BlockHost, log?: (msg: string) => void): Blkback {
    const { backend } = addBlockDevice(this.xenstore, this.domain.domid, d);
    const blk = new Blkback({
      server: this.xenstore, backendPath: backend, host,
      grants: grantAccessOf(this.domain.grants), rings: ringMapperOf(this.domain.grants),
      events: eventBinderOf(this.domain.events), ...(log !== undefined ? { log } : {}),
    });
    blk.start();
    this.addBackend(blk);
    this.devices.push(blk);
    return blk;
  }

  /**
   * Add a paravirtual NIC (`--net`) connected to `port` (a switch port or a
   * VXLAN tunnel). Only VXLAN ports can receive frames while the guest
   * sleeps (a lone guest's switch port never does), so only they count as
   * asynchronous event sources. Call before the first step.
   */
  addNic(c: NetConfig, port: NetPort, log?: (msg: string) => void): Netback {
    const { backend } = addNetDevice(this.xenstore, this.domain.domid, c);
    const nb = new Netback({
      server: this.xenstore, backendPath: backend, port,
      grants: grantAccessOf(this.domain.grants), rings: ringMapperOf(this.domain.grants),
      events: eventBinderOf(this.domain.events), onWork: () => this.deviceEvent(), ...(log !== undefined ? { log } : {}),
    });
    nb.start();
    this.addBackend(nb);
    this.devices.push(nb);
    if (c.backend.kind === 'vxlan') this.asyncEventSources++;
    return nb;
  }

  /** One line per paravirtual disk and NIC (`monitor devices`, crash reports); after `close`, as they were then. */
  describeDevices(): string[] {
    return this.devices.length > 0 ? this.devices.map((d) => d.describe()) : this.closedDevices;
  }

  /** Close the devices: disks flushed and unlocked, sockets and capture files closed. Idempotent. */
  close(): void {
    if (this.devices.length > 0) {
      try { this.closedDevices = this.devices.map((d) => d.describe()); } catch { /* a report detail only */ }
    }
    for (const d of this.devices.splice(0)) {
      try { d.close(); } catch { /* closing one device must not keep the others open */ }
    }
  }

  /** xenconsoled: copy out the console ring, move queued host input into in[]; tell the guest when either changed. */
  private serviceConsole(): void {
    const drained = this.consoleBackend.drain();
    if (this.consoleBackend.pumpInput() || drained > 0) this.consoleChannel.notify();
  }

  /**
   * Host bytes for the guest's console (a keyboard, a socket): queued in
   * the backend, copied into in[] as far as it has room, and the guest
   * notified on its console channel (which wakes a vCPU blocked or polling
   * on it). The rest follows as the guest consumes (serviceConsole). Call
   * from the host's event loop, between `step`s.
   */
  consoleInput(bytes: Uint8Array): void {
    if (this.consoleBackend.input(bytes)) this.consoleChannel.notify();
  }

  /** xenstored: serve the store ring; notify when it answered. */
  private serviceStore(): void {
    if (this.storeRing.poll()) this.storeChannel.notify();
  }

  // --- check points, sleeping, delivery ---------------------------------------------

  /** The work of a check point (see the header). */
  private checkpoint(): void {
    const dom = this.domain;
    const sleeping = dom.sleep !== null;
    const now = dom.time.nowNs();
    const fired = fireDueTimers(dom, now);
    this.pollDevices();
    if (dom.stop !== null) return;
    if (fired || (sleeping && dom.sleep === null) || now - this.lastTimeInfoNs >= TIME_INFO_REFRESH_NS) this.publishTime(now);
    if (dom.sleep === null && !this.cpu.debug.stepping) this.deliverUpcall();
    // PVH: an upcall still waiting for IF=1 (or the end of an interrupt shadow) asks the CPU
    // to stop at the interrupt window, so it goes in right there, as on hardware.
    this.cpu.irqWindow = dom.type === 'pvh' && dom.sleep === null && !this.cpu.debug.stepping &&
      dom.upcallPending !== 0 && dom.upcallVector() !== 0;
  }

  /** Deliver a pending event upcall if the vCPU can take it now (Xen's local_events_need_delivery). */
  private deliverUpcall(): void {
    const dom = this.domain;
    if (!dom.eventsNeedDelivery()) return;
    if (dom.type === 'pv') {
      deliverEventUpcall(dom);
      return;
    }
    // PVH: the callback vector, like an external interrupt, through the IDT (no LAPIC, no EOI).
    if (!raiseInterrupt(this.cpu, dom.upcallVector(), IntKind.EXTERNAL)) this.exit = { kind: 'triple-fault' };
  }

  /** The sleeping vCPU: skip time (deterministic), ask the caller to wait (host clock), or end the run. */
  private idle(): MachineIdle | null {
    const dom = this.domain, time = dom.time;
    if (this.devicesBusy) {
      // A backend still has queued work: poll again before sleeping.
      this.devicesBusy = false;
      this.checkDue = true;
      return time.deterministic ? null : { kind: 'idle', untilNs: time.nowNs(), waitNs: 0n };
    }
    const deadline = nextDeadline(dom, true);
    if (deadline === null && this.asyncEventSources === 0) {
      const s = dom.sleep!;
      this.exit = { kind: 'halted', in: s.kind === 'poll' ? 'poll' : s.hlt ? 'hlt' : 'block' };
      if (s.kind === 'block' && s.hlt) this.cpu.halted = true;
      return null;
    }
    this.checkDue = true;
    if (time.deterministic && this.skipLimitNs !== null) {
      // Lockstep with other machines: sleep through time only up to the common horizon.
      const limit = this.skipLimitNs;
      time.skipTo(deadline !== null && deadline < limit ? deadline : limit);
      if (deadline !== null && deadline <= time.nowNs()) return null;
      return { kind: 'idle', untilNs: deadline, waitNs: deadline === null ? null : deadline - time.nowNs() };
    }
    if (deadline === null) return { kind: 'idle', untilNs: null, waitNs: null };
    if (time.deterministic) {
      time.skipTo(deadline);
      return null;
    }
    const now = time.nowNs();
    if (deadline <= now) return null;
    return { kind: 'idle', untilNs: deadline, waitNs: deadline - now };
  }

  /** HLT exit (PVH): IF=1 sleeps like SCHEDOP_block (Xen's hvm_hlt); IF=0 can never wake. */
  private halt(): void {
    const cpu = this.cpu;
    if (!cpu.halted) return;
    if (this.domain.type === 'pvh' && cpu.interruptsEnabled) {
      cpu.halted = false; // it resumes after the hlt once woken
      this.domain.block(true);
      this.checkDue = true;
    } else {
      this.exit = { kind: 'halted', in: 'hlt' };
    }
  }

  /** The vCPU was woken (Domain.wake): refresh its runstate area; tell an idle caller. */
  private woken(): void {
    const dom = this.domain;
    this.checkDue = true;
    if (dom.runstateAreaVa !== null) dom.guest.write(dom.runstateAreaVa, runstateInfo(dom)); // best effort, as Xen
    if (!this.inStep) this.onWake?.();
  }

  /** Publish vcpu_time_info for system time `now`. */
  private publishTime(now: bigint): void {
    publishTimeInfo(this.mem, this.domain.sharedInfoPa, now, now);
    this.lastTimeInfoNs = now;
  }

  /** Service the hypercall the vCPU trapped with. */
  private hypercall(): void {
    const cpu = this.cpu, dom = this.domain;
    const nr = cpu.r32[R.EAX]! >>> 0;
    const args = [cpu.r32[R.EBX]! >>> 0, cpu.r32[R.ECX]! >>> 0, cpu.r32[R.EDX]! >>> 0, cpu.r32[R.ESI]! >>> 0,
      cpu.r32[R.EDI]! >>> 0, cpu.r32[R.EBP]! >>> 0];
    // The caller: the return address the hypercall-page stub will `ret` to.
    const caller = nr === 23 ? cpu.eip >>> 0 : (dom.guest.read32((cpu.segBase[Seg.SS]! + cpu.r32[R.ESP]!) >>> 0) ?? cpu.eip) >>> 0;
    const def = dom.hypercalls.get(nr);
    // Decode the arguments before the call: handlers write results into the same structs.
    let detail: string | undefined;
    if (dom.onHypercall !== null && def?.describe !== undefined) {
      try { detail = def.describe(args, dom.guest); } catch { detail = undefined; }
    }
    let result: number;
    if (dom.type === 'pvh' && cpu.cpl !== 0) result = -XEN_ERRNO.EPERM;
    else result = dom.hypercalls.dispatch(dom.type, { nr, args, cpl: cpu.cpl, guest: dom.guest });
    if (result !== NO_RESULT) cpu.r32[R.EAX] = result;
    // Xen checks for events on every return to the guest: a check point (which also runs the backends).
    this.checkDue = true;
    dom.record({
      nr, name: dom.hypercalls.name(nr), args, result: result === NO_RESULT ? null : result, caller,
      ...(detail !== undefined ? { detail } : {}),
    });
  }
}
