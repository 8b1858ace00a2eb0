/**
 * The value a domain builder returns and the VMM starts the vCPU from:
 * registers, segment selectors, control registers and the addresses of the
 * boot-time structures (for traces, the Xen layer and the gdb stub).
 */
import type { GuestType } from './kernel.js';

export interface BootState {
  type: GuestType;
  /** Initial general registers. */
  eip: number;
  esp: number;
  esi: number;
  ebx: number;
  eflags: number;
  /** Privilege level the vCPU starts in (PV: 1, PVH: 0). */
  cpl: number;
  csSel: number;
  dsSel: number;
  cr0: number;
  cr3: number;
  cr4: number;
  efer: number;
  /** Guest-physical layout facts, by name (for `--trace` and crash reports). */
  layout: Record<string, number>;
}

/** PV-specific results of the builder. */
export interface PvBootInfo {
  startInfoVa: number;
  startInfoPa: number;
  consolePfn: number;
  storePfn: number;
  ptBaseVa: number;
  nrPtFrames: number;
  p2mVa: number;
  /** Physical address of the hypercall page, or -1. */
  hypercallPagePa: number;
  /** [virtBase, bootstrapEnd): the region mapped 1:1 to pfns by the initial page tables. */
  virtBase: number;
  bootstrapEnd: number;
  /** First frame that is a page table (read-only in the guest's mapping) and their count. */
  firstPtPfn: number;
}

/** PVH-specific results. */
export interface PvhBootInfo {
  startInfoPa: number;
  consolePfn: number;
  storePfn: number;
  /** Usable RAM top reported in the memory map. */
  ramTop: number;
}
