/**
 * A machine: one domain with one vCPU, built from a kernel image, and the
 * vCPU run loop as an explicit state machine whose exits are values
 * (Firecracker style).
 *
 *   KernelImage → PhysMemory (+ Xen frames) → domain builder (BootState)
 *     → Cpu (+ PV delivery / Xen platform) → run(cpu, slice) → Exit
 *       HYPERCALL → hypercall table → EAX
 *       STOPPED   → the domain shut down or crashed
 *       HLT       → PVH idle (nothing can wake it yet: reported)
 *       TRIPLE_FAULT
 *
 * `step(budget)` runs at most `budget` instructions and returns either
 * `null` (still running) or the final `MachineExit`. Callers that must
 * serve sockets between slices (the CLI, the gdb stub) call it in a loop
 * with small budgets; tests call `runToEnd`.
 */
import { PhysMemory } from './memory/phys.js';
import { Cpu, Exit, R, Seg } from './cpu/cpu.js';
import { createCpu, run } from './cpu/index.js';
import { applyPv } from '../loader/builder-pv.js';
import { applyPvh } from '../loader/builder-pvh.js';
import type { KernelImage } from '../loader/kernel.js';
import type { BootState } from '../loader/boot-state.js';
import { Domain, type ConsoleSink, type DomainStop } from './xen/domain.js';
import { NO_RESULT } from './xen/hypercalls.js';
import { PvDelivery } from './xen/pv/traps.js';
import { PvGdt } from './xen/pv/gdt.js';
import { installHypervisorHole } from './xen/pv/hole.js';
import { XenPlatform } from './xen/platform.js';
import { registerHypercalls } from './xen/hypercalls/index.js';
import { XEN_ERRNO } from './xen/abi/errno.js';
import { ConsoleBackend, ConsoleMux } from './devices/console.js';
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
}

/** How a machine stopped. */
export type MachineExit =
  | DomainStop
  | { kind: 'triple-fault' }
  /** The vCPU halted with nothing that could ever wake it. */
  | { kind: 'halted' };

export class Machine {
  readonly kernel: KernelImage;
  readonly mem: PhysMemory;
  readonly cpu: Cpu;
  readonly domain: Domain;
  readonly boot: BootState;
  exit: MachineExit | null = null;
  /** The PV console page's backend (output side). */
  readonly consoleBackend: ConsoleBackend;
  /** The in-VMM xenstored and this domain's connection to it (the xenstore ring). */
  readonly xenstore: XenstoreServer;
  readonly storeRing: XenstoreRing;

  constructor(o: MachineOptions) {
    this.kernel = o.kernel;
    const bytes = o.memory ?? DEFAULT_MEMORY;
    const nrPages = bytes / 4096;
    const extra = Domain.extraFramesFor(nrPages);
    this.mem = new PhysMemory(bytes, extra);
    const cmdline = o.cmdline ?? '';
    this.cpu = createCpu(this.mem);
    this.domain = new Domain({ type: o.kernel.type, cpu: this.cpu, mem: this.mem, nrPages, console: o.console, cmdline });
    const dom = this.domain;
    this.cpu.host = new XenPlatform(dom);
    registerHypercalls(dom);
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
    dom.consoleEvtchn = CONSOLE_EVTCHN;
    dom.storeEvtchn = STORE_EVTCHN;
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
   * machine has stopped (and every later call returns it again), or null.
   */
  step(budget: number): MachineExit | null {
    if (this.exit !== null) return this.exit;
    const cpu = this.cpu, dom = this.domain;
    let left = budget;
    while (left > 0 && this.exit === null) {
      const before = cpu.icount;
      const why = run(cpu, left);
      left -= cpu.icount - before;
      switch (why) {
        case Exit.HYPERCALL:
          this.hypercall();
          break;
        case Exit.STOPPED:
          break;
        case Exit.TRIPLE_FAULT:
          this.exit = { kind: 'triple-fault' };
          break;
        case Exit.HLT:
          // Nothing can wake a halted vCPU until event delivery exists (issue 4).
          this.exit = { kind: 'halted' };
          break;
        case Exit.BUDGET:
          left = 0;
          break;
        default:
          // Debug exits (breakpoint, step, watch) belong to the gdb layer.
          left = 0;
          break;
      }
      if (dom.stop !== null) this.exit = dom.stop;
    }
    this.pollDevices();
    return this.exit;
  }

  /** Run until the machine stops or `maxInstructions` retire (then null). */
  runToEnd(maxInstructions = 2_000_000_000): MachineExit | null {
    const start = this.cpu.icount;
    while (this.exit === null && this.cpu.icount - start < maxInstructions) {
      const r = this.step(Math.min(1_000_000, maxInstructions - (this.cpu.icount - start)));
      if (r !== null) return r;
    }
    return this.exit;
  }

  /**
   * Backend work: consume what the guest put in its rings. Run after every
   * hypercall (yield, poll, block and EVTCHNOP_send are where guests wait
   * for backends), at every slice end, and when the machine stops, so
   * nothing the guest printed is lost.
   */
  pollDevices(): void {
    this.consoleBackend.drain();
    if (this.storeRing.poll()) this.raiseGuestEvent(STORE_EVTCHN);
  }

  /**
   * Mark `port` pending for the guest with the 2-level rules (reference §4
   * "set_pending"): pending bit, then — if the port is unmasked and its
   * selector bit was clear — the selector bit and upcall_pending.
   */
  raiseGuestEvent(port: number): void {
    const mem = this.mem, si = this.domain.sharedInfoPa;
    const word = port >>> 5, bit = 1 << (port & 31);
    const pend = si + 2048 + word * 4, mask = si + 2176 + word * 4;
    const p = mem.read32(pend);
    if ((p & bit) !== 0) return;
    mem.write32(pend, p | bit);
    if ((mem.read32(mask) & bit) !== 0) return;
    const sel = mem.read32(si + 4);
    if ((sel & (1 << word)) !== 0) return;
    mem.write32(si + 4, sel | (1 << word));
    mem.write8(si, 1);
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
    this.pollDevices();
    dom.record({
      nr, name: dom.hypercalls.name(nr), args, result: result === NO_RESULT ? null : result, caller,
      ...(detail !== undefined ? { detail } : {}),
    });
  }
}
