/**
 * The PVH32 domain builder (docs/misc/pvh.pandoc): segments copied to
 * p_paddr, an `hvm_start_info` (v1) with its memory map and command line in
 * one page after the kernel, EBX = its physical address, flat 32-bit
 * protected mode at CPL 0 with paging off.
 *
 * The console and xenstore rings live in the last two RAM frames, which the
 * memory map reports as reserved; the guest learns their frames from
 * HVM_PARAM_CONSOLE_PFN / HVM_PARAM_STORE_PFN, never from fixed addresses.
 */
import type { PhysMemory } from '../vmm/memory/phys.js';
import { LoaderError, hex } from './errors.js';
import type { KernelImage } from './kernel.js';
import type { BootState, PvhBootInfo } from './boot-state.js';

export const XEN_HVM_START_MAGIC_VALUE = 0x336ec578;
const PAGE = 4096;
/** hvm_start_info (56 bytes) and hvm_memmap_table_entry (24 bytes) offsets. */
const HSI = { magic: 0, version: 4, flags: 8, nr_modules: 12, modlist_paddr: 16, cmdline_paddr: 24, rsdp_paddr: 32, memmap_paddr: 40, memmap_entries: 48, size: 56 } as const;
const MEMMAP_ENTRY = 24;
export const E820_RAM = 1, E820_RESERVED = 2;

export interface PvhBuildOptions {
  nrPages: number;
  cmdline: string;
}

/** Write the image and start info; return the start state. */
export function applyPvh(k: KernelImage, mem: PhysMemory, opts: PvhBuildOptions): { boot: BootState; pvh: PvhBootInfo } {
  const ramTop = opts.nrPages * PAGE;
  const storePfn = opts.nrPages - 2, consolePfn = opts.nrPages - 1;
  const usableTop = storePfn * PAGE;
  const infoPa = Math.ceil(k.kend / PAGE) * PAGE;
  const cmd = new TextEncoder().encode(opts.cmdline);
  if (cmd.length > 2047) throw new LoaderError('ELAYOUT', k.file, 'command line longer than 2047 bytes');
  if (k.kend > usableTop || infoPa + PAGE > usableTop) {
    throw new LoaderError('ELAYOUT', k.file, `kernel ${hex(k.kstart)}-${hex(k.kend)} does not fit in ${ramTop >> 20} MiB of guest memory; raise --memory`);
  }
  for (const c of k.chunks) {
    mem.writeBytes(c.dest, c.data);
    if (c.memsz > c.data.length) mem.fill(c.dest + c.data.length, c.memsz - c.data.length, 0);
  }
  mem.fill(infoPa, PAGE, 0);
  mem.fill(storePfn * PAGE, 2 * PAGE, 0);
  const memmap = infoPa + 64;
  const entries: [number, number, number][] = [
    [0, usableTop, E820_RAM],
    [usableTop, ramTop - usableTop, E820_RESERVED],
  ];
  entries.forEach(([addr, size, type], i) => {
    const e = memmap + i * MEMMAP_ENTRY;
    mem.write32(e, addr); mem.write32(e + 4, 0);
    mem.write32(e + 8, size); mem.write32(e + 12, 0);
    mem.write32(e + 16, type); mem.write32(e + 20, 0);
  });
  const cmdPa = memmap + entries.length * MEMMAP_ENTRY;
  mem.writeBytes(cmdPa, cmd);
  mem.write8(cmdPa + cmd.length, 0);
  mem.write32(infoPa + HSI.magic, XEN_HVM_START_MAGIC_VALUE);
  mem.write32(infoPa + HSI.version, 1);
  mem.write32(infoPa + HSI.flags, 0);
  mem.write32(infoPa + HSI.nr_modules, 0);
  mem.write32(infoPa + HSI.cmdline_paddr, cmd.length > 0 ? cmdPa : 0);
  mem.write32(infoPa + HSI.memmap_paddr, memmap);
  mem.write32(infoPa + HSI.memmap_entries, entries.length);
  const boot: BootState = {
    type: 'pvh',
    eip: k.entry,
    esp: 0,
    esi: 0,
    ebx: infoPa,
    eflags: 0x2,
    cpl: 0,
    csSel: 0x10,
    dsSel: 0x18,
    cr0: 0x11, // PE | ET
    cr3: 0,
    cr4: 0,
    efer: 0,
    layout: { kernel: k.kstart, hvm_start_info: infoPa, xenstore: storePfn * PAGE, console: consolePfn * PAGE },
  };
  return { boot, pvh: { startInfoPa: infoPa, consolePfn, storePfn, ramTop: usableTop } };
}
