/**
 * PV domain builder: the layout must equal real Xen's (reference §1.2
 * worked example: XTF test-pv32pae-selftest with 128 MiB), and the written
 * page tables, p2m, start_info and hypercall page must follow the ABI.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyPv, planPv, pvHypercallPage } from '../../src/loader/builder-pv.js';
import { inspectKernel, type KernelImage } from '../../src/loader/kernel.js';
import { LoaderError } from '../../src/loader/errors.js';
import { PhysMemory } from '../../src/vmm/memory/phys.js';

const xtfLike = { file: 'xtf', virtBase: 0, kstart: 0x100000, kend: 0x111000, hvStart: 0xf5800000 } as KernelImage;

describe('PV builder layout', () => {
  it('matches Xen for the XTF pv32pae selftest at 128 MiB', () => {
    const p = planPv(xtfLike, { nrPages: 32768, cmdline: '', sharedInfoMfn: 40000, consoleEvtchn: 2, storeEvtchn: 1 });
    expect(p.p2mVa).toBe(0x111000);
    expect(p.p2mPages).toBe(32);
    expect(p.startInfoVa).toBe(0x131000);
    expect(p.storeVa).toBe(0x132000);
    expect(p.consoleVa).toBe(0x133000);
    expect(p.ptVa).toBe(0x134000);
    expect(p.nrPt).toBe(7);
    expect(p.stackVa + 4096).toBe(0x13c000);
    expect(p.bootstrapEnd).toBe(0x400000);
  });
  it('refuses a guest too small for its kernel, with a one-line error', () => {
    expect(() => planPv(xtfLike, { nrPages: 512, cmdline: '', sharedInfoMfn: 1000, consoleEvtchn: 2, storeEvtchn: 1 }))
      .toThrow(LoaderError);
    expect(() => planPv(xtfLike, { nrPages: 512, cmdline: '', sharedInfoMfn: 1000, consoleEvtchn: 2, storeEvtchn: 1 }))
      .toThrow(/beyond guest memory|boot region/);
  });
  it('writes start_info, p2m, page tables and the hypercall page', () => {
    const k = inspectKernel(new Uint8Array(readFileSync(new URL('../fixtures/loader/pv-min.elf', import.meta.url))), 'pv-min.elf');
    const mem = new PhysMemory(16 << 20, 4);
    const { boot, pv, plan } = applyPv(k, mem, { nrPages: 4096, cmdline: 'hello world', sharedInfoMfn: 4096, consoleEvtchn: 2, storeEvtchn: 1 });
    const si = pv.startInfoPa;
    expect(new TextDecoder().decode(mem.readBytes(si, 15))).toBe('xen-3.0-x86_32p');
    expect(mem.read32(si + 32)).toBe(4096);
    expect(mem.read32(si + 36)).toBe(4096 * 4096);
    expect(mem.read32(si + 44)).toBe(pv.storePfn);
    expect(mem.read32(si + 48)).toBe(1);
    expect(mem.read32(si + 52)).toBe(pv.consolePfn);
    expect(mem.read32(si + 56)).toBe(2);
    expect(mem.read32(si + 60)).toBe(plan.ptVa);
    expect(mem.read32(si + 64)).toBe(plan.nrPt);
    expect(mem.read32(si + 68)).toBe(plan.p2mVa);
    expect(new TextDecoder().decode(mem.readBytes(si + 80, 11))).toBe('hello world');
    expect(mem.read8(si + 80 + 11)).toBe(0);
    // identity p2m, invalid past nr_pages
    expect(mem.read32(plan.p2mVa + 4 * 123)).toBe(123);
    // entry state
    expect(boot.cpl).toBe(1);
    expect(boot.csSel).toBe(0xe019);
    expect(boot.dsSel).toBe(0xe021);
    expect(boot.esi).toBe(plan.startInfoVa);
    expect(boot.esp).toBe(plan.stackVa + 4096);
    expect(boot.cr3).toBe(plan.ptVa);
    // page tables: L3[0] → L2, flags 0x67; kernel page RW (0x23), PT page RO (0x21)
    const l3 = boot.cr3;
    expect(mem.read32(l3) & 0xfff).toBe(0x67);
    const l2 = mem.read32(l3) & ~0xfff;
    const l1 = mem.read32(l2) & ~0xfff;
    expect(mem.read32(l1 + (0x100000 >>> 12) * 8)).toBe(0x100000 | 0x23);
    expect(mem.read32(l1 + (plan.ptVa >>> 12) * 8)).toBe(plan.ptVa | 0x21);
    // hypercall page
    expect(Array.from(mem.readBytes(pv.hypercallPagePa + 18 * 32, 8))).toEqual([0xb8, 18, 0, 0, 0, 0xcd, 0x82, 0xc3]);
    expect(Array.from(mem.readBytes(pv.hypercallPagePa + 23 * 32, 8))).toEqual([0x50, 0xb8, 23, 0, 0, 0, 0xcd, 0x82]);
    expect(mem.read8(pv.hypercallPagePa)).not.toBe(0xc3);
  });
  it('fills 128 hypercall slots', () => {
    const p = pvHypercallPage();
    expect(p[127 * 32 + 1]).toBe(127);
    expect(p[127 * 32 + 7]).toBe(0xc3);
  });
});
