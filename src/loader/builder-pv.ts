/**
 * The 32-bit PAE PV domain builder: real Xen's layout (libxc
 * xc_dom_build_image for x86_32p), with an identity p2m (MFN = PFN).
 *
 * Inside the bootstrap region VA = virt_base + pfn * 4096. Allocation
 * order, each item page aligned (reference §1.2): kernel image, p2m list,
 * start_info, xenstore ring, console ring, initial page tables (one L3,
 * four L2s, one L1 per 2 MiB of the region), boot stack. The region is then
 * padded to a 4 MiB boundary with at least 512 KiB of slack, and mapped
 * read-write except the page-table frames themselves, which are read-only.
 *
 * `planPv` is pure (sizes and addresses); `applyPv` writes the plan into
 * guest memory and returns the BootState the vCPU starts from.
 */
import type { PhysMemory } from '../vmm/memory/phys.js';
import { LoaderError, hex } from './errors.js';
import type { KernelImage } from './kernel.js';
import type { BootState, PvBootInfo } from './boot-state.js';

export const FLAT_RING1_CS = 0xe019;
export const FLAT_RING1_DS = 0xe021;
export const FLAT_RING3_CS = 0xe02b;
export const FLAT_RING3_DS = 0xe033;

const PAGE = 4096;
const MB = 1 << 20;
/** PAE entry flags the builder uses (reference §1.2). */
const L3_FLAGS = 0x67, L2_FLAGS = 0x67, L1_RW = 0x23, L1_RO = 0x21;
/** start_info_t (x86_32) field offsets; see src/vmm/xen/abi for the full layout. */
const SI = {
  magic: 0, nr_pages: 32, shared_info: 36, flags: 40, store_mfn: 44, store_evtchn: 48, console_mfn: 52,
  console_evtchn: 56, pt_base: 60, nr_pt_frames: 64, mfn_list: 68, mod_start: 72, mod_len: 76, cmd_line: 80,
  first_p2m_pfn: 1104, nr_p2m_frames: 1108,
} as const;
export const MAX_GUEST_CMDLINE = 1024;

export interface PvBuildOptions {
  /** Guest RAM pages (nr_pages). */
  nrPages: number;
  cmdline: string;
  /** Machine frame of the shared_info page (Xen-owned, above RAM). */
  sharedInfoMfn: number;
  consoleEvtchn: number;
  storeEvtchn: number;
}

export interface PvPlan {
  virtBase: number;
  kernelPfn: number;
  p2mVa: number;
  p2mPages: number;
  startInfoVa: number;
  storeVa: number;
  consoleVa: number;
  ptVa: number;
  nrPt: number;
  nrL1: number;
  stackVa: number;
  bootstrapEnd: number;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** Compute the layout (pure). Throws a LoaderError when the guest does not fit its memory. */
export function planPv(k: KernelImage, opts: PvBuildOptions): PvPlan {
  const vb = k.virtBase;
  const ram = opts.nrPages * PAGE;
  if (k.kend - vb > ram) {
    throw new LoaderError('ELAYOUT', k.file, `kernel ends at ${hex(k.kend)}, beyond guest memory (${ram / MB} MiB from VIRT_BASE ${hex(vb)}); raise --memory`);
  }
  let va = alignUp(k.kend, PAGE);
  const p2mVa = va;
  const p2mPages = Math.ceil((opts.nrPages * 4) / PAGE);
  va += p2mPages * PAGE;
  const startInfoVa = va; va += PAGE;
  const storeVa = va; va += PAGE;
  const consoleVa = va; va += PAGE;
  const ptVa = va;
  // The number of L1 tables depends on the region size, which depends on
  // the number of page tables: iterate to a fixed point (as libxc does).
  let nrL1 = 1;
  for (;;) {
    const nrPt = 1 + 4 + nrL1;
    const stackVa = ptVa + nrPt * PAGE;
    const end = alignUp(stackVa + PAGE + 512 * 1024, 4 * MB);
    const need = ((end - 1) >>> 21) - (vb >>> 21) + 1;
    if (need <= nrL1) {
      if (end - vb > ram) {
        throw new LoaderError('ELAYOUT', k.file, `the boot region (${hex(vb)}-${hex(end)}) needs ${Math.ceil((end - vb) / MB)} MiB; the guest has ${ram / MB} MiB`);
      }
      if (end > k.hvStart) throw new LoaderError('ELAYOUT', k.file, `the boot region reaches the Xen hole at ${hex(k.hvStart)}`);
      return { virtBase: vb, kernelPfn: (k.kstart - vb) >>> 12, p2mVa, p2mPages, startInfoVa, storeVa, consoleVa, ptVa, nrPt, nrL1, stackVa, bootstrapEnd: end };
    }
    nrL1 = need;
  }
}

/** The PV32 hypercall page: `mov $n,%eax; int $0x82; ret`, slot 23 (iret) without ret. */
export function pvHypercallPage(): Uint8Array {
  const p = new Uint8Array(PAGE).fill(0xcc);
  for (let n = 0; n < 128; n++) {
    const o = n * 32;
    if (n === 23) {
      p.set([0x50, 0xb8, 23, 0, 0, 0, 0xcd, 0x82], o); // push %eax; mov $23,%eax; int $0x82
    } else {
      p.set([0xb8, n & 0xff, 0, 0, 0, 0xcd, 0x82, 0xc3], o);
    }
  }
  return p;
}

/** Write the plan into guest memory and return the start state. */
export function applyPv(k: KernelImage, mem: PhysMemory, opts: PvBuildOptions): { boot: BootState; pv: PvBootInfo; plan: PvPlan } {
  const plan = planPv(k, opts);
  const vb = plan.virtBase;
  const pa = (v: number): number => (v - vb) >>> 0;
  mem.fill(0, plan.bootstrapEnd - vb, 0);
  for (const c of k.chunks) {
    mem.writeBytes(pa(c.dest), c.data);
    if (c.memsz > c.data.length) mem.fill(pa(c.dest) + c.data.length, c.memsz - c.data.length, 0);
  }
  // p2m: identity; entries past nr_pages in the last page read as invalid.
  const p2m = pa(plan.p2mVa);
  mem.fill(p2m, plan.p2mPages * PAGE, 0xff);
  for (let pfn = 0; pfn < opts.nrPages; pfn++) mem.write32(p2m + pfn * 4, pfn);

  // start_info
  const si = pa(plan.startInfoVa);
  mem.writeBytes(si + SI.magic, new TextEncoder().encode('xen-3.0-x86_32p'));
  mem.write32(si + SI.nr_pages, opts.nrPages);
  mem.write32(si + SI.shared_info, opts.sharedInfoMfn * PAGE);
  mem.write32(si + SI.flags, 0);
  mem.write32(si + SI.store_mfn, pa(plan.storeVa) >>> 12);
  mem.write32(si + SI.store_evtchn, opts.storeEvtchn);
  mem.write32(si + SI.console_mfn, pa(plan.consoleVa) >>> 12);
  mem.write32(si + SI.console_evtchn, opts.consoleEvtchn);
  mem.write32(si + SI.pt_base, plan.ptVa);
  mem.write32(si + SI.nr_pt_frames, plan.nrPt);
  mem.write32(si + SI.mfn_list, plan.p2mVa);
  mem.write32(si + SI.mod_start, 0);
  mem.write32(si + SI.mod_len, 0);
  const cmd = new TextEncoder().encode(opts.cmdline).subarray(0, MAX_GUEST_CMDLINE - 1);
  mem.writeBytes(si + SI.cmd_line, cmd);
  mem.write32(si + SI.first_p2m_pfn, pa(plan.p2mVa) >>> 12);
  mem.write32(si + SI.nr_p2m_frames, plan.p2mPages);

  // Page tables: L3, 4 x L2, nrL1 x L1, all inside the region.
  const l3 = pa(plan.ptVa);
  const l2 = (i: number): number => l3 + (1 + i) * PAGE;
  const l1 = (i: number): number => l3 + (5 + i) * PAGE;
  for (let i = 0; i < 4; i++) mem.write32(l3 + i * 8, l2(i) | L3_FLAGS);
  const ptFirst = l3 >>> 12, ptLast = ptFirst + plan.nrPt - 1;
  const firstChunk = vb >>> 21;
  for (let v = vb; v < plan.bootstrapEnd; v += PAGE) {
    const chunk = (v >>> 21) - firstChunk;
    const l2i = v >>> 30, l2e = (v >>> 21) & 511, l1e = (v >>> 12) & 511;
    mem.write32(l2(l2i) + l2e * 8, l1(chunk) | L2_FLAGS);
    const pfn = (v - vb) >>> 12;
    const ro = pfn >= ptFirst && pfn <= ptLast;
    mem.write32(l1(chunk) + l1e * 8, (pfn * PAGE) | (ro ? L1_RO : L1_RW));
  }

  let hypercallPagePa = -1;
  if (k.hypercallPage !== null) {
    hypercallPagePa = pa(k.hypercallPage);
    mem.writeBytes(hypercallPagePa, pvHypercallPage());
  }

  const boot: BootState = {
    type: 'pv',
    eip: k.entry,
    esp: plan.stackVa + PAGE,
    esi: plan.startInfoVa,
    ebx: 0,
    eflags: 0x202,
    cpl: 1,
    csSel: FLAT_RING1_CS,
    dsSel: FLAT_RING1_DS,
    cr0: 0x80050033 | 0, // PG | AM | WP | NE | ET | MP | PE, as Xen runs PV guests
    cr3: l3,
    cr4: 0x20, // PAE
    efer: 0x800, // NXE
    layout: {
      kernel: pa(k.kstart), p2m: p2m, start_info: si, xenstore: pa(plan.storeVa), console: pa(plan.consoleVa),
      page_tables: l3, boot_stack: pa(plan.stackVa), bootstrap_end: pa(plan.bootstrapEnd),
    },
  };
  const pv: PvBootInfo = {
    startInfoVa: plan.startInfoVa, startInfoPa: si, consolePfn: pa(plan.consoleVa) >>> 12, storePfn: pa(plan.storeVa) >>> 12,
    ptBaseVa: plan.ptVa, nrPtFrames: plan.nrPt, p2mVa: plan.p2mVa, hypercallPagePa, virtBase: vb,
    bootstrapEnd: plan.bootstrapEnd, firstPtPfn: ptFirst,
  };
  return { boot, pv, plan };
}
