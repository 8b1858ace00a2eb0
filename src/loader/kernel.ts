/**
 * A guest kernel, inspected: ELF + Xen notes + symbols, the guest type it
 * boots as, and where each loadable segment goes.
 *
 * PV rules follow Xen's libelf (libelf-dominfo.c): notes (or `__xen_guest`)
 * are required with LOADER "generic" (or a GUEST_OS starting "linux") and a
 * XEN_VERSION starting "xen-3.0"; 64-bit Xen runs 32-bit PV guests only in
 * PAE mode, so PAE_MODE must be "yes"/"bimodal". Kernel virtual addresses
 * are `p_paddr + (VIRT_BASE - PADDR_OFFSET)` and must satisfy
 * `virt_base <= kstart <= entry < kend`.
 *
 * PVH needs only XEN_ELFNOTE_PHYS32_ENTRY; segments load at p_paddr and
 * every other note is ignored (docs/misc/pvh.pandoc).
 *
 * Pure: nothing is loaded anywhere; the domain builders apply the plan.
 */
import { LoaderError, hex } from './errors.js';
import { PT_LOAD, parseElf, type ElfImage } from './elf.js';
import { parseXenNotes, type XenNotes } from './notes.js';
import { parseSymbols, type SymbolTable } from './symbols.js';

export type GuestType = 'pv' | 'pvh';

/** Start of the Xen-reserved linear range of a 32-bit PAE PV guest. */
export const HYPERVISOR_VIRT_START = 0xf5800000;

export interface LoadChunk {
  /** Destination: kernel virtual address (PV) or guest-physical address (PVH). */
  dest: number;
  data: Uint8Array;
  memsz: number;
  flags: number;
}

export interface KernelImage {
  file: string;
  type: GuestType;
  elf: ElfImage;
  notes: XenNotes;
  symbols: SymbolTable;
  /** Entry: virtual (PV) or physical (PVH). */
  entry: number;
  /** PV: VIRT_BASE (0 for PVH). */
  virtBase: number;
  /** Lowest and highest (exclusive) destination addresses of the image. */
  kstart: number;
  kend: number;
  /** Hypercall page address (virtual for PV), when the kernel names one. */
  hypercallPage: number | null;
  /** Start of the hypervisor hole for PV (HV_START_LOW or the default). */
  hvStart: number;
  chunks: LoadChunk[];
}

/** Parse, validate and plan a kernel. `want` 'auto' picks PV when PV notes exist, else PVH. */
export function inspectKernel(bytes: Uint8Array, file: string, want: GuestType | 'auto' = 'auto'): KernelImage {
  const elf = parseElf(bytes, file);
  const notes = parseXenNotes(elf);
  const symbols = parseSymbols(elf);
  const hasPv = notes.source !== 'none' && (notes.loader !== undefined || notes.xenVersion !== undefined || notes.source === '__xen_guest');
  const hasPvh = notes.phys32Entry !== undefined;
  let type: GuestType;
  if (want === 'auto') {
    if (hasPv) type = 'pv';
    else if (hasPvh) type = 'pvh';
    else if (notes.source === 'none') {
      throw new LoaderError('ENOTES', file, 'no Xen ELF notes: a PV kernel needs LOADER, XEN_VERSION and PAE_MODE notes, a PVH kernel a PHYS32_ENTRY note');
    } else {
      throw new LoaderError('ENOTES', file, 'Xen notes name neither a PV kernel (LOADER/XEN_VERSION) nor a PVH entry (PHYS32_ENTRY)');
    }
  } else {
    type = want;
  }
  return type === 'pv' ? planPv(elf, notes, symbols) : planPvh(elf, notes, symbols);
}

function loads(elf: ElfImage): ElfImage['segments'] {
  return elf.segments.filter((s) => s.type === PT_LOAD && s.memsz > 0);
}

function planPv(elf: ElfImage, notes: XenNotes, symbols: SymbolTable): KernelImage {
  const f = elf.file;
  const isLinux = (notes.guestOs ?? '').toLowerCase().startsWith('linux');
  if (notes.source === 'none') throw new LoaderError('ENOTES', f, 'not a Xen PV kernel: no Xen ELF notes (and no __xen_guest section)');
  if (notes.loader === undefined && !isLinux) throw new LoaderError('ENOTES', f, 'missing Xen note LOADER (must be "generic")');
  if (notes.loader !== undefined && notes.loader !== 'generic' && !isLinux) {
    throw new LoaderError('ENOTES', f, `Xen note LOADER is "${notes.loader}", must be "generic"`);
  }
  if (notes.xenVersion === undefined) throw new LoaderError('ENOTES', f, 'missing Xen note XEN_VERSION (must start with "xen-3.0")');
  if (!notes.xenVersion.startsWith('xen-3.0')) {
    throw new LoaderError('ENOTES', f, `Xen note XEN_VERSION is "${notes.xenVersion}", must start with "xen-3.0"`);
  }
  const pae = notes.paeMode;
  if (pae === undefined) throw new LoaderError('ENOTES', f, 'missing Xen note PAE_MODE: 32-bit PV guests must be PAE ("yes")');
  if (!['yes', 'bimodal', 'yes,bimodal'].includes(pae)) {
    throw new LoaderError('ENOTES', f, `Xen note PAE_MODE is "${pae}": xenkit, like 64-bit Xen, runs only PAE 32-bit PV guests ("yes")`);
  }
  const virtBase = notes.virtBase ?? 0;
  const paddrOffset = notes.paddrOffset ?? 0;
  const voff = (virtBase - paddrOffset) >>> 0;
  const segs = loads(elf);
  const chunks: LoadChunk[] = segs.map((s) => ({ dest: (s.paddr + voff) >>> 0, data: s.data, memsz: s.memsz, flags: s.flags }));
  const kstart = Math.min(...chunks.map((c) => c.dest));
  const kend = Math.max(...chunks.map((c) => c.dest + c.memsz));
  const entry = (notes.entry ?? elf.entry) >>> 0;
  const hvStart = notes.hvStartLow ?? HYPERVISOR_VIRT_START;
  if (kstart < virtBase) throw new LoaderError('ELAYOUT', f, `kernel starts at ${hex(kstart)}, below VIRT_BASE ${hex(virtBase)}`);
  if (kend > hvStart) {
    throw new LoaderError('ELAYOUT', f, `kernel ${hex(kstart)}-${hex(kend)} reaches into the Xen hole at ${hex(hvStart)}`);
  }
  checkEntry(f, entry, chunks, 'virtual');
  let hypercallPage: number | null = notes.hypercallPage ?? null;
  if (hypercallPage !== null) {
    if ((hypercallPage & 0xfff) !== 0 || hypercallPage < kstart || hypercallPage + 4096 > kend) {
      throw new LoaderError('ENOTES', f, `Xen note HYPERCALL_PAGE ${hex(hypercallPage)} is not a page inside the kernel image`);
    }
  }
  return { file: f, type: 'pv', elf, notes, symbols, entry, virtBase, kstart, kend, hypercallPage, hvStart, chunks };
}

function planPvh(elf: ElfImage, notes: XenNotes, symbols: SymbolTable): KernelImage {
  const f = elf.file;
  if (notes.phys32Entry === undefined) throw new LoaderError('ENOTES', f, 'not a PVH kernel: missing Xen note PHYS32_ENTRY');
  const chunks: LoadChunk[] = loads(elf).map((s) => ({ dest: s.paddr >>> 0, data: s.data, memsz: s.memsz, flags: s.flags }));
  const kstart = Math.min(...chunks.map((c) => c.dest));
  const kend = Math.max(...chunks.map((c) => c.dest + c.memsz));
  const entry = notes.phys32Entry >>> 0;
  checkEntry(f, entry, chunks, 'physical');
  return { file: f, type: 'pvh', elf, notes, symbols, entry, virtBase: 0, kstart, kend, hypercallPage: null, hvStart: 0, chunks };
}

function checkEntry(f: string, entry: number, chunks: LoadChunk[], kind: string): void {
  const inCode = chunks.some((c) => entry >= c.dest && entry < c.dest + Math.max(c.data.length, 1) && (c.flags & 1) !== 0);
  const inAny = chunks.some((c) => entry >= c.dest && entry < c.dest + c.memsz);
  if (!inAny || !inCode) {
    throw new LoaderError('ELAYOUT', f, `entry point ${hex(entry)} (${kind}) is outside the loaded code`);
  }
}
