/**
 * The CPU's public face: build a CPU over guest memory, put it in a known
 * mode, run it. Everything the VMM needs from the CPU is exported here.
 */
import { Cpu, CR0_PE, NULL_HOST, SA, Seg, type CpuHost, type Delivery } from './cpu.js';
import { BlockCache } from './blocks.js';
import { OPCODES } from './opcodes.js';
import { IdtDelivery } from './interrupts.js';
import { FIXED1 } from './flags.js';
import type { PhysMemory } from '../memory/phys.js';

export { Cpu, Exit, IntKind, Seg, R, SA, Acc, type CpuHost, type Delivery } from './cpu.js';
export { run, raiseException, raiseInterrupt } from './exec.js';
export { CpuFault, Vec, VECTOR_NAMES } from './fault.js';
export { readEflags, materialize } from './flags.js';
export { CpuDebug, MAX_WATCH_LEN, type Watchpoint, type WatchHit, type WatchKind } from './debug.js';

export interface CpuOptions {
  host?: CpuHost;
  /** Exception delivery; defaults to the protected-mode IDT. */
  delivery?: Delivery;
}

/** Create a CPU attached to `mem`, in flat 32-bit protected mode at CPL 0, paging off. */
export function createCpu(mem: PhysMemory, opts: CpuOptions = {}): Cpu {
  const cpu = new Cpu(mem, opts.delivery ?? new IdtDelivery(), opts.host ?? NULL_HOST);
  cpu.blocks = new BlockCache(cpu, OPCODES);
  enterFlatMode(cpu, 0, { cs: 0x08, ds: 0x10 });
  return cpu;
}

/** Attribute word of a flat 4 GiB, 32-bit code (execute/read) or data (read/write) segment. */
export function flatAttr(code: boolean, dpl: number): number {
  const type = code ? 0xb : 0x3; // accessed bit set, as after a load
  return type | SA.S | (dpl << 5) | SA.P | SA.DB | SA.G;
}

/**
 * Put the CPU in flat protected mode at `cpl`: CS and all data segments
 * base 0, limit 4 GiB, 32-bit. Selectors are only labels here (descriptor
 * tables are not consulted), which is what domain builders need.
 */
export function enterFlatMode(cpu: Cpu, cpl: number, sel: { cs: number; ds: number }): void {
  cpu.cr0 |= CR0_PE;
  cpu.loadSegCache(Seg.CS, sel.cs, 0, 0xffffffff, flatAttr(true, cpl));
  for (const s of [Seg.ES, Seg.SS, Seg.DS, Seg.FS, Seg.GS]) cpu.loadSegCache(s, sel.ds, 0, 0xffffffff, flatAttr(false, cpl));
  cpu.setCpl(cpl);
  cpu.flags = FIXED1;
  cpu.lfLazy = 0;
  cpu.tlbFlushAll();
}
