/**
 * The guest template (templates/minios) builds, from a copy of itself,
 * into kernels that xenkit's loader — and Xen's libelf rules it follows —
 * accept:
 * - build/kernel.elf is a PV32 PAE kernel: the Xen notes are in a PT_NOTE
 *   segment with the values the template promises, ENTRY is `_start`,
 *   HYPERCALL_PAGE is the `hypercall_page` symbol, page aligned and
 *   prefilled with `ret` (0xc3) so that an unfilled page is detected;
 * - build/kernel-pvh.elf is a PVH32 kernel: PHYS32_ENTRY is `_pvh_start`
 *   and no PV note makes the loader take it for a PV kernel;
 * - both link with no undefined symbols, use no x87/MMX/SSE instruction
 *   (the emulated CPU is an integer i686), and have no writable+executable
 *   segment;
 * - the domain builders fill the hypercall page the kernel checks.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPv } from '../../src/loader/builder-pv.js';
import { applyPvh } from '../../src/loader/builder-pvh.js';
import { PT_LOAD, PT_NOTE } from '../../src/loader/elf.js';
import { inspectKernel, type KernelImage } from '../../src/loader/kernel.js';
import { PhysMemory } from '../../src/vmm/memory/phys.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const template = join(root, 'templates', 'minios');
const work = mkdtempSync(join(tmpdir(), 'xenkit-template-'));
const copy = join(work, 'minios');

let pvBytes: Uint8Array;
let pvhBytes: Uint8Array;

beforeAll(() => {
  // Build a copy, as a user would: the template must need nothing outside itself.
  cpSync(template, copy, { recursive: true, filter: (src) => !/[/\\]build$/.test(src) });
  execFileSync('make', ['-s', '-C', copy], { stdio: ['ignore', 'pipe', 'pipe'] });
  pvBytes = new Uint8Array(readFileSync(join(copy, 'build', 'kernel.elf')));
  pvhBytes = new Uint8Array(readFileSync(join(copy, 'build', 'kernel-pvh.elf')));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function undefinedSymbols(file: string): string[] {
  return execFileSync('nm', ['-u', file], { encoding: 'utf8' }).split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** The file bytes at kernel address `addr` (PV: virtual, PVH: physical). */
function bytesAt(k: KernelImage, addr: number, len: number): Uint8Array {
  const c = k.chunks.find((x) => addr >= x.dest && addr + len <= x.dest + x.data.length);
  if (!c) throw new Error(`0x${addr.toString(16)} is not in the file image`);
  return c.data.subarray(addr - c.dest, addr - c.dest + len);
}

describe('template: PV kernel (build/kernel.elf)', () => {
  it('carries the Xen notes in a PT_NOTE segment', () => {
    const k = inspectKernel(pvBytes, 'kernel.elf');
    expect(k.type).toBe('pv');
    expect(k.notes.source).toBe('PT_NOTE');
    expect(k.elf.segments.some((s) => s.type === PT_NOTE)).toBe(true);
    expect(k.notes.guestOs).toBe('xenkit-minios');
    expect(k.notes.guestVersion).toMatch(/^\d/);
    expect(k.notes.xenVersion).toBe('xen-3.0');
    expect(k.notes.loader).toBe('generic');
    expect(k.notes.paeMode).toBe('yes');
    expect(k.notes.virtBase).toBe(0);
    expect(k.notes.paddrOffset).toBe(0);
    expect(k.notes.features).toBe('!writable_page_tables|pae_pgdir_above_4gb');
    expect(k.notes.phys32Entry).toBeUndefined();
  });

  it('enters at _start, linked at 1 MiB', () => {
    const k = inspectKernel(pvBytes, 'kernel.elf');
    expect(k.kstart).toBe(0x100000);
    expect(k.notes.entry).toBe(k.symbols.address('_start'));
    expect(k.entry).toBe(k.symbols.address('_start'));
    expect(k.elf.entry).toBe(k.entry);
  });

  it('names its hypercall_page in HYPERCALL_PAGE, page aligned and prefilled with ret', () => {
    const k = inspectKernel(pvBytes, 'kernel.elf');
    const hp = k.symbols.address('hypercall_page');
    expect(hp).toBeDefined();
    expect(k.hypercallPage).toBe(hp);
    expect(hp! % 4096).toBe(0);
    expect(bytesAt(k, hp!, 4096).every((b) => b === 0xc3)).toBe(true);
  });

  it('gets its hypercall page filled by the PV builder (what start_kernel checks)', () => {
    const k = inspectKernel(pvBytes, 'kernel.elf');
    const mem = new PhysMemory(32 << 20, 4);
    const { pv, boot } = applyPv(k, mem, { nrPages: 8192, cmdline: 'x', sharedInfoMfn: 8192, consoleEvtchn: 2, storeEvtchn: 1 });
    expect(mem.read8(pv.hypercallPagePa)).toBe(0xb8); // mov $0,%eax — no longer ret
    expect(boot.eip).toBe(k.symbols.address('_start'));
    // The kernel's own stack and bss lie below the builder's p2m and start_info.
    expect(k.symbols.address('_end')!).toBeLessThanOrEqual(pv.p2mVa);
  });
});

describe('template: PVH kernel (build/kernel-pvh.elf)', () => {
  it('is a PVH kernel entered at _pvh_start through PHYS32_ENTRY', () => {
    const k = inspectKernel(pvhBytes, 'kernel-pvh.elf');
    expect(k.type).toBe('pvh');
    expect(k.notes.source).toBe('PT_NOTE');
    expect(k.notes.phys32Entry).toBe(k.symbols.address('_pvh_start'));
    expect(k.entry).toBe(k.symbols.address('_pvh_start'));
    expect(k.notes.loader).toBeUndefined();
    expect(k.notes.xenVersion).toBeUndefined();
    expect(k.kstart).toBe(0x100000);
  });

  it('has a page-aligned hypercall_page prefilled with ret (filled by Xen after the wrmsr)', () => {
    const k = inspectKernel(pvhBytes, 'kernel-pvh.elf');
    const hp = k.symbols.address('hypercall_page');
    expect(hp).toBeDefined();
    expect(hp! % 4096).toBe(0);
    expect(bytesAt(k, hp!, 4096).every((b) => b === 0xc3)).toBe(true);
  });

  it('fits the PVH builder, which hands over hvm_start_info in EBX', () => {
    const k = inspectKernel(pvhBytes, 'kernel-pvh.elf');
    const mem = new PhysMemory(32 << 20, 4);
    const { boot, pvh } = applyPvh(k, mem, { nrPages: 8192, cmdline: 'hello' });
    expect(boot.eip).toBe(k.symbols.address('_pvh_start'));
    expect(boot.ebx).toBe(pvh.startInfoPa);
    expect(pvh.startInfoPa).toBeGreaterThanOrEqual(k.symbols.address('_end')!);
  });
});

describe('template: both kernels', () => {
  for (const [name, get] of [['kernel.elf', () => pvBytes], ['kernel-pvh.elf', () => pvhBytes]] as const) {
    it(`${name} links with no undefined symbols`, () => {
      expect(undefinedSymbols(join(copy, 'build', name))).toEqual([]);
    });

    it(`${name} has no segment both writable and executable`, () => {
      const k = inspectKernel(get(), name);
      const rwx = k.elf.segments.filter((s) => s.type === PT_LOAD && (s.flags & 3) === 3);
      expect(rwx).toEqual([]);
    });

    it(`${name} uses integer i686 instructions only (no x87, MMX, SSE or ENDBR32)`, () => {
      const dis = execFileSync('objdump', ['-d', '--no-show-raw-insn', join(copy, 'build', name)], { encoding: 'utf8' });
      const bad = dis.split('\n').filter((l) => /%(xmm|mm|st)\d?|\t(f[a-z]+|emms|ldmxcsr|stmxcsr|endbr32)\b/.test(l));
      expect(bad).toEqual([]);
    });
  }
});
