/**
 * The PV MMU hypercalls (src/vmm/xen/hypercalls/mm.ts) on a real PV domain
 * built by the Machine from tests/fixtures/loader/pv-min.elf: its page
 * tables are the builder's (reference §1.2: L3, four L2s, two L1s; page
 * tables mapped read-only; VA = PA in the 4 MiB bootstrap region).
 *
 * Xen rules checked: update_va_mapping walks the current tables, refuses
 * the hypervisor hole, missing L2s and superpages, foreign frames, reserved
 * bits and writable mappings of page-table or GDT frames, and flushes per
 * UVMF_*; mmu_update stops at the first bad request with `done` counting
 * the completed ones, validates L2/L3 updates (type promotion of the new
 * table) and bounds its work; mmuext_op pins, unpins, switches base
 * pointers, flushes, sets the LDT, clears and copies pages; set_gdt and
 * update_descriptor validate descriptors (DPL fixups); wild pointers are
 * -EFAULT and describers never throw.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';
import { Seg } from '../../src/vmm/cpu/cpu.js';
import { createCpu } from '../../src/vmm/cpu/index.js';
import { loadSegment } from '../../src/vmm/cpu/segments.js';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { Domain } from '../../src/vmm/xen/domain.js';
import { XEN_ERRNO } from '../../src/vmm/xen/abi/errno.js';
import { DOMID, MMU, MMUEXT, UVMF } from '../../src/vmm/xen/abi/xen.js';
import { LDT_SELECTOR, MAX_BATCH, registerMmHypercalls } from '../../src/vmm/xen/hypercalls/mm.js';

const { EAGAIN, EFAULT, EINVAL, ENOSYS, EOPNOTSUPP, EPERM, ESRCH } = XEN_ERRNO;
const NR = { mmu_update: 1, set_gdt: 2, update_descriptor: 10, update_va_mapping: 14, uvm_other: 22, mmuext_op: 26 };
const SELF = DOMID.SELF;

/** Free, read-write pages of the bootstrap region (after the boot stack). */
const ARG = 0x120000, ARG2 = 0x121000, DONE = 0x122000, MASK = 0x123000;
/** A victim VA in the second 2 MiB chunk (second boot L1) and a neighbour. */
const X = 0x200000, Y = 0x201000;
/** Unmapped RAM frames used as mapping targets / new tables. */
const F = 0x800, F2 = 0x801;

function boot(): Machine {
  const k = inspectKernel(readFileSync('tests/fixtures/loader/pv-min.elf'), 'pv-min.elf');
  return new Machine({ kernel: k, console: { write() {} } });
}

function hc(m: Machine, nr: number, ...args: number[]): number {
  const a = args.map((v) => v >>> 0);
  while (a.length < 6) a.push(0);
  return m.domain.hypercalls.dispatch(m.domain.type, { nr, args: a, cpl: m.cpu.cpl, guest: m.domain.guest });
}

const uvm = (m: Machine, va: number, lo: number, hi: number, flags: number): number =>
  hc(m, NR.update_va_mapping, va, lo, hi, flags);

/** Physical address of the L1 entry for `va` in the current tables (independent walk). */
function ptePa(m: Machine, va: number): number {
  const mem = m.mem;
  const l2 = (mem.read32((m.cpu.cr3 >>> 0) + (va >>> 30) * 8) & ~0xfff) >>> 0;
  const l1 = (mem.read32(l2 + ((va >>> 21) & 511) * 8) & ~0xfff) >>> 0;
  return l1 + ((va >>> 12) & 511) * 8;
}

/** Write mmu_update requests at guest VA `at` (VA = PA in the region). */
function reqs(m: Machine, at: number, list: Array<[ptr: number, val: number, valHi?: number, ptrHi?: number]>): void {
  list.forEach(([ptr, val, valHi = 0, ptrHi = 0], i) => {
    m.mem.write32(at + i * 16, ptr);
    m.mem.write32(at + i * 16 + 4, ptrHi);
    m.mem.write32(at + i * 16 + 8, val);
    m.mem.write32(at + i * 16 + 12, valHi);
  });
}

/** Write mmuext ops at guest VA `at`. */
function ops(m: Machine, at: number, list: Array<[cmd: number, arg1?: number, arg2?: number]>): void {
  list.forEach(([cmd, a1 = 0, a2 = 0], i) => {
    m.mem.write32(at + i * 12, cmd);
    m.mem.write32(at + i * 12 + 4, a1);
    m.mem.write32(at + i * 12 + 8, a2);
  });
}

const mmuext = (m: Machine, list: Array<[number, number?, number?]>, done = 0, dom: number = SELF): number => {
  ops(m, ARG, list);
  return hc(m, NR.mmuext_op, ARG, list.length, done, dom);
};

/** Fill a frame with a recognisable pattern. */
function mark(m: Machine, pfn: number, v: number): void {
  for (let o = 0; o < 4096; o += 4) m.mem.write32(pfn * 4096 + o, v + o);
}

/** Layout facts of the booted domain. */
function layout(m: Machine): { l3: number; l2: number[]; l1: number[]; nrPt: number } {
  const l3 = m.boot.cr3 >>> 12;
  const nrPt = (m.boot.layout.boot_stack! - m.boot.layout.page_tables!) >>> 12;
  return { l3, l2: [l3 + 1, l3 + 2, l3 + 3, l3 + 4], l1: Array.from({ length: nrPt - 5 }, (_, i) => l3 + 5 + i), nrPt };
}

/**
 * Copy the boot page tables to fresh, unmapped frames starting at `at`
 * (new L3 at `at`), remapping the copies' internal references; returns the
 * new frames by old frame.
 */
function copyTables(m: Machine, at: number): Map<number, number> {
  const { l3, l2, l1 } = layout(m);
  const map = new Map<number, number>();
  [l3, ...l2, ...l1].forEach((f, i) => map.set(f, at + i));
  for (const [from, to] of map) m.mem.writeBytes(to * 4096, m.mem.readBytes(from * 4096, 4096));
  for (const f of [l3, ...l2]) {
    const to = map.get(f)!;
    for (let i = 0; i < (f === l3 ? 4 : 512); i++) {
      const e = m.mem.read32(to * 4096 + i * 8);
      if ((e & 1) === 0) continue;
      const child = map.get(e >>> 12);
      if (child !== undefined) m.mem.write32(to * 4096 + i * 8, (child << 12) | (e & 0xfff));
    }
  }
  return map;
}

describe('update_va_mapping', () => {
  it('remaps a VA: the CPU reads the new frame through its (flushed) TLB', () => {
    const m = boot();
    mark(m, F, 0x11110000);
    const before = m.cpu.rd32(X); // primes the TLB with the old translation
    expect(before).not.toBe(0x11110000);
    expect(uvm(m, X, (F << 12) | 0x23, 0, UVMF.INVLPG)).toBe(0);
    expect(m.cpu.rd32(X)).toBe(0x11110000);
    expect(m.cpu.rd32(X + 0x10)).toBe(0x11110010);
    expect(m.mem.read32(ptePa(m, X)) & ~0x60).toBe((F << 12) | 0x03);
    expect(m.mem.read32(ptePa(m, X) + 4)).toBe(0);
  });

  it('always drops the TLB entry of va, and honours UVMF_INVLPG / TLB_FLUSH / ALL / MULTI', () => {
    const m = boot();
    mark(m, F, 0x22220000);
    m.cpu.rd32(X); m.cpu.rd32(Y);
    expect(uvm(m, X, (F << 12) | 0x23, 0, UVMF.NONE)).toBe(0);
    expect(m.cpu.tlb[X >>> 12]).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).not.toBe(0);
    expect(m.cpu.rd32(X)).toBe(0x22220000);

    expect(uvm(m, X, (F2 << 12) | 0x23, 0, UVMF.INVLPG)).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).not.toBe(0);

    expect(uvm(m, X, (F << 12) | 0x23, 0, UVMF.TLB_FLUSH | UVMF.LOCAL)).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);

    m.cpu.rd32(Y);
    expect(uvm(m, X, (F << 12) | 0x23, 0, UVMF.TLB_FLUSH | UVMF.ALL)).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);

    // MULTI: a vCPU bitmap pointer in the upper bits; bit 0 clear → not this vCPU.
    m.mem.write32(MASK, 0);
    m.cpu.rd32(Y);
    expect(uvm(m, X, (F << 12) | 0x23, 0, MASK | UVMF.TLB_FLUSH)).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).not.toBe(0);
    m.mem.write32(MASK, 1);
    expect(uvm(m, X, (F << 12) | 0x23, 0, MASK | UVMF.TLB_FLUSH)).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);
    // An unreadable bitmap is -EFAULT.
    expect(uvm(m, X, (F << 12) | 0x23, 0, 0x10000000 | UVMF.TLB_FLUSH)).toBe(-EFAULT);
  });

  it('refuses writable mappings of page-table frames, allows read-only ones', () => {
    const m = boot();
    const { l3, l2, l1 } = layout(m);
    for (const f of [l3, l2[0]!, l2[3]!, l1[0]!, l1[1]!]) expect(uvm(m, X, (f << 12) | 0x23, 0, UVMF.INVLPG)).toBe(-EINVAL);
    expect(uvm(m, X, (l3 << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    expect(m.cpu.rd32(X)).toBe(m.mem.read32(l3 * 4096));
    // A refused update leaves the entry alone.
    expect(uvm(m, X, (l1[1]! << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    expect(m.mem.read32(ptePa(m, X)) & ~0x60).toBe((l3 << 12) | 0x01);
  });

  it('refuses frames outside the domain and reserved bits; allows shared_info, grant frames and NX', () => {
    const m = boot();
    const dom = m.domain;
    expect(uvm(m, X, (dom.m2pMfn << 12) | 0x21, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, X, ((dom.nrPages + 100) << 12) | 0x21, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, X, (F << 12) | 0x21, 1, 0)).toBe(-EINVAL); // frame beyond 4 GiB
    expect(uvm(m, X, (F << 12) | 0x21, 0x00100000, 0)).toBe(-EINVAL); // bit 52
    expect(uvm(m, X, (F << 12) | 0x21, 0x40000000, 0)).toBe(-EINVAL); // bit 62
    expect(uvm(m, X, (F << 12) | 0x23, 0x80000000, 0)).toBe(0); // NX
    expect(uvm(m, X, (dom.sharedInfoMfn << 12) | 0x23, 0, UVMF.INVLPG)).toBe(0);
    m.mem.write32(dom.sharedInfoMfn * 4096 + 64, 0x5a5a5a5a);
    expect(m.cpu.rd32(X + 64)).toBe(0x5a5a5a5a);
    expect(uvm(m, Y, (dom.grantFrames[0]! << 12) | 0x23, 0, UVMF.INVLPG)).toBe(0);
    // Non-present entries are free-form (swap entries and the like).
    expect(uvm(m, X, 0xfffff000 | 0x40, 0x7fffffff, UVMF.INVLPG)).toBe(0);
    expect(m.cpu.peekLinear(X, 4)).toBeNull();
  });

  it('refuses the hypervisor hole, missing L2 entries and superpages', () => {
    const m = boot();
    expect(uvm(m, 0xf5800000, (F << 12) | 0x21, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, 0xfffff000, (F << 12) | 0x21, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, 0x40000000, (F << 12) | 0x21, 0, 0)).toBe(-EINVAL); // L2 #1 is empty
    expect(uvm(m, 0x00600000, (F << 12) | 0x21, 0, 0)).toBe(-EINVAL); // beyond the region
    const { l2 } = layout(m);
    m.mem.write32(l2[0]! * 4096 + 3 * 8, 0x00800000 | 0xe7); // plant a 2 MiB superpage
    expect(uvm(m, 0x00600000, (F << 12) | 0x21, 0, 0)).toBe(-EINVAL);
  });

  it('update_va_mapping_otherdomain: self and own id work, others -EPERM / -ESRCH', () => {
    const m = boot();
    mark(m, F, 0x33330000);
    expect(hc(m, NR.uvm_other, X, (F << 12) | 0x23, 0, UVMF.INVLPG, SELF)).toBe(0);
    expect(m.cpu.rd32(X)).toBe(0x33330000);
    expect(hc(m, NR.uvm_other, X, (F2 << 12) | 0x23, 0, UVMF.INVLPG, m.domain.domid)).toBe(0);
    expect(hc(m, NR.uvm_other, X, (F << 12) | 0x23, 0, UVMF.INVLPG, DOMID.IO)).toBe(-EPERM);
    expect(hc(m, NR.uvm_other, X, (F << 12) | 0x23, 0, UVMF.INVLPG, 5)).toBe(-ESRCH);
    expect(m.mem.read32(ptePa(m, X)) >>> 12).toBe(F2);
  });
});

describe('mmu_update', () => {
  it('applies requests in order, stops at the first bad one and reports done', () => {
    const m = boot();
    mark(m, F, 0x44440000);
    mark(m, F2, 0x55550000);
    const old2 = m.mem.read32(ptePa(m, X + 0x2000));
    reqs(m, ARG, [
      [ptePa(m, X) | MMU.NORMAL_PT_UPDATE, (F << 12) | 0x21],
      [ptePa(m, X + 0x1000), (F2 << 12) | 0x23],
      [ptePa(m, X + 0x2000), (m.domain.m2pMfn << 12) | 0x21], // not the domain's
      [ptePa(m, X + 0x3000), (F << 12) | 0x21],
    ]);
    m.mem.write32(DONE, 0xdead);
    m.cpu.rd32(X);
    expect(hc(m, NR.mmu_update, ARG, 4, DONE, SELF)).toBe(-EINVAL);
    expect(m.mem.read32(DONE)).toBe(2);
    expect(m.cpu.rd32(X)).toBe(0x44440000); // TLB flushed after the batch
    expect(m.cpu.rd32(X + 0x1000)).toBe(0x55550000);
    expect(m.mem.read32(ptePa(m, X + 0x2000))).toBe(old2);
    expect(m.mem.read32(ptePa(m, X + 0x3000)) >>> 12).not.toBe(F);
    // count 0: nothing, done = 0.
    expect(hc(m, NR.mmu_update, ARG, 0, DONE, SELF)).toBe(0);
    expect(m.mem.read32(DONE)).toBe(0);
  });

  it('rejects writable page-table mappings, bad commands and bad addresses', () => {
    const m = boot();
    const { l3, l1 } = layout(m);
    const one = (ptr: number, val: number, valHi = 0, ptrHi = 0): number => {
      reqs(m, ARG, [[ptr, val, valHi, ptrHi]]);
      return hc(m, NR.mmu_update, ARG, 1, 0, SELF);
    };
    expect(one(ptePa(m, X), (l1[0]! << 12) | 0x23)).toBe(-EINVAL);
    expect(one(ptePa(m, X), (l3 << 12) | 0x21)).toBe(0);
    expect(one(ptePa(m, X) | MMU.PT_UPDATE_NO_TRANSLATE, (F << 12) | 0x21)).toBe(-EINVAL);
    expect(one(ptePa(m, X) | 4, (F << 12) | 0x21)).toBe(-ENOSYS);
    expect(one(ptePa(m, X) | 7, (F << 12) | 0x21)).toBe(-ENOSYS);
    expect(one(m.domain.nrPages * 4096, 0)).toBe(-EINVAL); // not domain RAM
    expect(one(m.domain.sharedInfoMfn * 4096, 0)).toBe(-EINVAL); // Xen frame, not a page table
    expect(one(ptePa(m, X), 0, 0, 1)).toBe(-EINVAL); // ptr above 4 GiB
    // Foreign domains.
    reqs(m, ARG, [[ptePa(m, X), (F << 12) | 0x21]]);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, 5)).toBe(-ESRCH);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, DOMID.XEN)).toBe(-EPERM);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, ((SELF + 1) << 16) | SELF)).toBe(0);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, (6 << 16) | SELF)).toBe(-ESRCH);
  });

  it('PRESERVE_AD keeps the accessed/dirty bits; MACHPHYS_UPDATE writes the M2P', () => {
    const m = boot();
    const pa = ptePa(m, X);
    m.cpu.wr32(X, 1); // sets A and D in the boot PTE
    expect(m.mem.read32(pa) & 0x60).toBe(0x60);
    reqs(m, ARG, [[pa | MMU.PT_UPDATE_PRESERVE_AD, (F << 12) | 0x03]]);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, SELF)).toBe(0);
    expect(m.mem.read32(pa)).toBe((F << 12) | 0x63);

    reqs(m, ARG, [[(F << 12) | MMU.MACHPHYS_UPDATE, 0x1234]]);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, SELF)).toBe(0);
    const e = m.cpu.peekLinear(0xf5800000 + F * 4, 4)!;
    expect(new DataView(e.buffer).getUint32(0, true)).toBe(0x1234);
    reqs(m, ARG, [[(m.domain.nrPages << 12) | MMU.MACHPHYS_UPDATE, 1]]);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, SELF)).toBe(-EINVAL);
  });

  it('hooks a new L1 into an L2 only once it is read-only and valid; unhooking frees it', () => {
    const m = boot();
    const { l2, l3 } = layout(m);
    const P = 0x140, P2 = 0x141, VA = 0x400000;
    mark(m, F, 0x66660000);
    m.mem.fill(P * 4096, 4096, 0);
    m.mem.write32(P * 4096, (F << 12) | 0x21);
    const l2e = l2[0]! * 4096 + ((VA >>> 21) & 511) * 8;
    const hook = (val: number): number => {
      reqs(m, ARG, [[l2e, val]]);
      return hc(m, NR.mmu_update, ARG, 1, 0, SELF);
    };
    expect(hook((P << 12) | 0x67)).toBe(-EINVAL); // P is still mapped writable
    expect(uvm(m, P << 12, (P << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    expect(hook((P << 12) | 0x67)).toBe(0);
    expect(m.cpu.rd32(VA)).toBe(0x66660000);
    // P is now a page table: no writable mapping; its entries are checked.
    expect(uvm(m, P << 12, (P << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, VA + 0x1000, (l3 << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, VA + 0x1000, (F2 << 12) | 0x23, 0, UVMF.INVLPG)).toBe(0);
    // Superpages and reserved bits in L2 entries are refused.
    expect(hook(0x00800000 | 0xe7)).toBe(-EINVAL);
    expect(hook((P << 12) | 0x67) || hook(0)).toBe(0); // unhook
    expect(m.cpu.peekLinear(VA, 4)).toBeNull();
    expect(uvm(m, P << 12, (P << 12) | 0x23, 0, 0)).toBe(0); // P is plain memory again

    // Raw writes into a non-table frame are accepted, but promotion validates them.
    expect(uvm(m, P2 << 12, (P2 << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    reqs(m, ARG, [[P2 << 12, (l3 << 12) | 0x23]]); // a writable mapping of the L3
    expect(hc(m, NR.mmu_update, ARG, 1, 0, SELF)).toBe(0);
    expect(hook((P2 << 12) | 0x67)).toBe(-EINVAL);
    expect(m.mem.read32(l2e)).toBe(0);
  });

  it('validates L3 entries', () => {
    const m = boot();
    const one = (ptr: number, val: number, valHi = 0): number => {
      reqs(m, ARG, [[ptr, val, valHi]]);
      return hc(m, NR.mmu_update, ARG, 1, 0, SELF);
    };
    const l3pa = m.cpu.cr3 >>> 0;
    const l2b = m.mem.read32(l3pa + 8) >>> 12;
    expect(one(l3pa + 8, (l2b << 12) | 0x08 | 1)).toBe(-EINVAL); // PWT
    expect(one(l3pa + 8, (l2b << 12) | 1, 0x80000000)).toBe(-EINVAL); // NX
    expect(one(l3pa + 4 * 8, (F << 12) | 1)).toBe(-EINVAL); // not one of the 4 PAE slots
    expect(one(l3pa + 8, ((m.domain.nrPages + 1) << 12) | 1)).toBe(-EINVAL);
    expect(one(l3pa + 8, 0)).toBe(0);
    expect(m.cpu.peekLinear(0x40000000, 4)).toBeNull();
    m.mem.fill(F * 4096, 4096, 0);
    expect(one(l3pa + 8, (F << 12) | 0x67)).toBe(0);
    // F is now an L2: it cannot be mapped writable, nor used as an L1.
    expect(uvm(m, X, (F << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, F]])).toBe(-EINVAL);
  });

  it('bounds huge counts and wild pointers', () => {
    const m = boot();
    expect(hc(m, NR.mmu_update, ARG, 0xffffffff, DONE, SELF)).toBe(-EINVAL);
    expect(hc(m, NR.mmu_update, ARG, MAX_BATCH + 1, DONE, SELF)).toBe(-EINVAL);
    m.mem.write32(DONE, 99);
    expect(hc(m, NR.mmu_update, 0xdead0000, 1, DONE, SELF)).toBe(-EFAULT);
    expect(m.mem.read32(DONE)).toBe(0);
    expect(hc(m, NR.mmu_update, 0xfffffff8, 1, 0, SELF)).toBe(-EFAULT);
    // The last 64 KiB of the region holds (zeroed) requests; the batch runs off the mapping.
    const t0 = Date.now();
    expect(hc(m, NR.mmu_update, 0x3f0000, MAX_BATCH, DONE, SELF)).toBe(-EFAULT);
    expect(m.mem.read32(DONE)).toBe(0x10000 / 16);
    expect(Date.now() - t0).toBeLessThan(5000);
    // An unwritable done pointer (a read-only page-table page, then an unmapped one).
    reqs(m, ARG, [[ptePa(m, X), (F << 12) | 0x21]]);
    expect(hc(m, NR.mmu_update, ARG, 1, m.boot.layout.page_tables!, SELF)).toBe(-EFAULT);
    expect(m.mem.read32(ptePa(m, X)) >>> 12).toBe(F); // the update itself happened
    expect(hc(m, NR.mmu_update, ARG, 1, 0xdead0000, SELF)).toBe(-EFAULT);
  });

  it('stops an expensive batch with -EAGAIN instead of hanging', () => {
    const m = boot();
    // An L2 at frame Q with 512 distinct (empty) L1s: promoting it validates 262 656 entries.
    const Q = 0x2000;
    for (let i = 0; i < 512; i++) m.mem.write32(Q * 4096 + i * 8, ((Q + 1 + i) << 12) | 0x67);
    const l3pa = m.cpu.cr3 >>> 0;
    const list: Array<[number, number]> = [];
    for (let i = 0; i < 64; i++) list.push([l3pa + 8, i % 2 === 0 ? (Q << 12) | 1 : 0]);
    reqs(m, ARG, list);
    const t0 = Date.now();
    expect(hc(m, NR.mmu_update, ARG, 64, DONE, SELF)).toBe(-EAGAIN);
    const done = m.mem.read32(DONE);
    expect(done).toBeGreaterThan(8);
    expect(done).toBeLessThan(64);
    expect(Date.now() - t0).toBeLessThan(10000);
    // A retry from `done` makes progress.
    expect(hc(m, NR.mmu_update, ARG + done * 16, 64 - done, DONE, SELF)).toBe(-EAGAIN);
    expect(m.mem.read32(DONE)).toBeGreaterThan(8);
  });
});

describe('mmuext_op', () => {
  it('NEW_BASEPTR switches to a copied set of tables', () => {
    const m = boot();
    const { l3, l1 } = layout(m);
    const N = 0x1000;
    const map = copyTables(m, N);
    mark(m, F, 0x77770000);
    const oldL1 = m.mem.read32(m.mem.read32((N + 1) * 4096) & ~0xfff) >>> 12; // sanity: copies reference copies
    expect(oldL1).not.toBe(l1[0]);
    // In the copy, X maps F.
    const n1 = map.get(l1[1]!)!;
    m.mem.write32(n1 * 4096 + ((X >>> 12) & 511) * 8, (F << 12) | 0x23);
    m.cpu.rd32(X);
    m.cpu.brk = false;
    expect(mmuext(m, [[MMUEXT.NEW_BASEPTR, N]])).toBe(0);
    expect(m.cpu.cr3 >>> 0).toBe(N << 12);
    expect(m.cpu.brk).toBe(true);
    expect(m.cpu.rd32(X)).toBe(0x77770000);
    // The old tables are no longer page tables; the new ones are.
    expect(uvm(m, Y, (l1[0]! << 12) | 0x23, 0, UVMF.INVLPG)).toBe(0);
    expect(uvm(m, Y, (n1 << 12) | 0x23, 0, UVMF.INVLPG)).toBe(-EINVAL);
    expect(uvm(m, Y, (N << 12) | 0x23, 0, UVMF.INVLPG)).toBe(-EINVAL);
    // Back to the builder's L3 would need its L1 mapped read-only again.
    expect(mmuext(m, [[MMUEXT.NEW_BASEPTR, l3]])).toBe(-EINVAL);
    expect(uvm(m, Y, (l1[0]! << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    expect(mmuext(m, [[MMUEXT.NEW_BASEPTR, l3]])).toBe(0);
    expect(m.cpu.cr3 >>> 0).toBe(l3 << 12);
    expect(m.cpu.rd32(X)).not.toBe(0x77770000);
  });

  it('NEW_BASEPTR refuses a table that maps itself writable, and non-RAM frames', () => {
    const m = boot();
    const { l1 } = layout(m);
    const N = 0x1000;
    const map = copyTables(m, N);
    const n1 = map.get(l1[1]!)!;
    m.mem.write32(n1 * 4096 + ((X >>> 12) & 511) * 8, (N << 12) | 0x23);
    const cr3 = m.cpu.cr3;
    m.mem.write32(DONE, 77);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_LOCAL], [MMUEXT.NEW_BASEPTR, N]], DONE)).toBe(-EINVAL);
    expect(m.mem.read32(DONE)).toBe(1);
    expect(m.cpu.cr3).toBe(cr3);
    expect(mmuext(m, [[MMUEXT.NEW_BASEPTR, m.domain.nrPages]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.NEW_BASEPTR, m.domain.sharedInfoMfn]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.NEW_USER_BASEPTR, N]])).toBe(-EINVAL);
    // After fixing the copy (read-only self mapping) it is accepted.
    m.mem.write32(n1 * 4096 + ((X >>> 12) & 511) * 8, (N << 12) | 0x21);
    expect(mmuext(m, [[MMUEXT.NEW_BASEPTR, N]])).toBe(0);
    expect(m.cpu.rd32(X)).toBe(m.mem.read32(N * 4096));
  });

  it('follows a CR3 changed behind its back (emulated mov %cr3)', () => {
    const m = boot();
    const { l1 } = layout(m);
    const N = 0x1000;
    const map = copyTables(m, N);
    m.cpu.cr3 = N << 12;
    m.cpu.tlbFlushAll();
    expect(uvm(m, Y, (map.get(l1[0]!)! << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    expect(uvm(m, Y, (l1[0]! << 12) | 0x23, 0, 0)).toBe(0);
  });

  it('pins and unpins with Xen errors', () => {
    const m = boot();
    const { l3 } = layout(m);
    m.mem.fill(0x900 * 4096, 3 * 4096, 0);
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, 0x900]])).toBe(0);
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, 0x900]])).toBe(-EINVAL); // already pinned
    expect(uvm(m, X, (0x900 << 12) | 0x23, 0, 0)).toBe(-EINVAL); // pinned table: no RW mapping
    expect(uvm(m, X, (0x900 << 12) | 0x21, 0, 0)).toBe(0);
    expect(mmuext(m, [[MMUEXT.UNPIN_TABLE, 0x900]])).toBe(0);
    expect(mmuext(m, [[MMUEXT.UNPIN_TABLE, 0x900]])).toBe(-EINVAL); // not pinned
    expect(uvm(m, X, (0x900 << 12) | 0x23, 0, 0)).toBe(0);
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, 0x900]])).toBe(-EINVAL); // now mapped writable
    expect(mmuext(m, [[MMUEXT.PIN_L4_TABLE, 0x901]])).toBe(-EINVAL); // 32-bit guest
    expect(mmuext(m, [[MMUEXT.PIN_L2_TABLE, ARG >>> 12]])).toBe(-EINVAL); // RW-mapped boot page
    expect(mmuext(m, [[MMUEXT.PIN_L2_TABLE, l3]])).toBe(-EINVAL); // already an L3
    expect(mmuext(m, [[MMUEXT.PIN_L3_TABLE, l3]])).toBe(0); // the current base may be pinned
    expect(mmuext(m, [[MMUEXT.UNPIN_TABLE, l3]])).toBe(0);
    expect(uvm(m, Y, (l3 << 12) | 0x23, 0, 0)).toBe(-EINVAL); // still the base
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, m.domain.nrPages]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.UNPIN_TABLE, 0xffffffff]])).toBe(-EINVAL);
    m.mem.write32(0x901 * 4096 + 8, (l3 << 12) | 0x23); // an L1 mapping the L3 writable
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, 0x901]])).toBe(-EINVAL);
    m.mem.write32(DONE, 0);
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, 0x902], [MMUEXT.PIN_L1_TABLE, 0x902]], DONE)).toBe(-EINVAL);
    expect(m.mem.read32(DONE)).toBe(1);
    // A pinned L2 takes its L1s with it.
    m.mem.write32(0x903 * 4096, (0x904 << 12) | 0x67);
    expect(mmuext(m, [[MMUEXT.PIN_L2_TABLE, 0x903]])).toBe(0);
    expect(uvm(m, X, (0x904 << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.UNPIN_TABLE, 0x903]])).toBe(0);
    expect(uvm(m, X, (0x904 << 12) | 0x23, 0, 0)).toBe(0);
  });

  it('flushes the TLB: LOCAL, ALL, MULTI, INVLPG', () => {
    const m = boot();
    m.cpu.rd32(X); m.cpu.rd32(Y);
    expect(mmuext(m, [[MMUEXT.INVLPG_LOCAL, X]])).toBe(0);
    expect(m.cpu.tlb[X >>> 12]).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).not.toBe(0);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_LOCAL]])).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);
    m.cpu.rd32(Y);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_ALL]])).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);
    m.cpu.rd32(Y);
    expect(mmuext(m, [[MMUEXT.INVLPG_ALL, Y]])).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);
    m.mem.write32(MASK, 1);
    m.cpu.rd32(X); m.cpu.rd32(Y);
    expect(mmuext(m, [[MMUEXT.INVLPG_MULTI, X, MASK]])).toBe(0);
    expect(m.cpu.tlb[X >>> 12]).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).not.toBe(0);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_MULTI, 0, MASK]])).toBe(0);
    expect(m.cpu.tlb[Y >>> 12]).toBe(0);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_MULTI, 0, 0xdead0000]])).toBe(-EFAULT);
    expect(mmuext(m, [[MMUEXT.INVLPG_MULTI, X, 0xdead0000]])).toBe(-EFAULT);
  });

  it('SET_LDT: a selector with TI=1 then loads through the LDT', () => {
    const m = boot();
    const LDT = 0x130000;
    // Entry 1: data, base 0x1000, limit 0xfff, DPL 1, 32-bit.
    m.mem.write32(LDT + 8, 0x10000fff);
    m.mem.write32(LDT + 12, 0x0040b300);
    expect(mmuext(m, [[MMUEXT.SET_LDT, LDT, 2]])).toBe(0);
    expect(m.domain.pv.ldtBase).toBe(LDT);
    expect(m.domain.pv.ldtEntries).toBe(2);
    expect(m.cpu.segSel[Seg.LDTR]).toBe(LDT_SELECTOR);
    expect(m.cpu.segBase[Seg.LDTR]! >>> 0).toBe(LDT);
    expect(m.cpu.segLimit[Seg.LDTR]).toBe(15);
    loadSegment(m.cpu, Seg.DS, 0x0d);
    expect(m.cpu.segSel[Seg.DS]).toBe(0x0d);
    expect(m.cpu.segBase[Seg.DS]).toBe(0x1000);
    expect(m.cpu.segLimit[Seg.DS]).toBe(0xfff);
    expect(() => loadSegment(m.cpu, Seg.ES, 0x15)).toThrow(); // index 2 is beyond the LDT
    expect(mmuext(m, [[MMUEXT.SET_LDT, LDT + 8, 2]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.SET_LDT, LDT, 8193]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.SET_LDT, 0xf57f1000, 8192]])).toBe(-EINVAL); // reaches the hole
    expect(mmuext(m, [[MMUEXT.SET_LDT, 0xf57f0000, 8192]])).toBe(0); // ends exactly at it
    expect(mmuext(m, [[MMUEXT.SET_LDT, 0, 0]])).toBe(0);
    expect(m.domain.pv.ldtEntries).toBe(0);
    expect(() => loadSegment(m.cpu, Seg.ES, 0x0d)).toThrow();
  });

  it('CLEAR_PAGE and COPY_PAGE work on plain RAM only', () => {
    const m = boot();
    const { l3 } = layout(m);
    mark(m, F, 0x12340000);
    expect(mmuext(m, [[MMUEXT.COPY_PAGE, F2, F]])).toBe(0);
    expect(m.mem.read32(F2 * 4096 + 0x100)).toBe(0x12340100);
    expect(mmuext(m, [[MMUEXT.CLEAR_PAGE, F]])).toBe(0);
    expect(m.mem.read32(F * 4096 + 0x100)).toBe(0);
    expect(mmuext(m, [[MMUEXT.CLEAR_PAGE, l3]])).toBe(-EINVAL);
    expect(m.mem.read32(l3 * 4096) & 1).toBe(1);
    expect(mmuext(m, [[MMUEXT.COPY_PAGE, l3, F]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.CLEAR_PAGE, m.domain.nrPages]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.COPY_PAGE, F, m.domain.m2pMfn]])).toBe(-EINVAL);
  });

  it('other commands, counts, domains and wild pointers', () => {
    const m = boot();
    expect(mmuext(m, [[MMUEXT.FLUSH_CACHE], [MMUEXT.FLUSH_CACHE_GLOBAL]])).toBe(0);
    expect(mmuext(m, [[MMUEXT.MARK_SUPER, F]])).toBe(-EOPNOTSUPP);
    expect(mmuext(m, [[MMUEXT.UNMARK_SUPER, F]])).toBe(-EOPNOTSUPP);
    expect(mmuext(m, [[14]])).toBe(-ENOSYS);
    expect(mmuext(m, [[0xffffffff]])).toBe(-ENOSYS);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_LOCAL]], 0, 9)).toBe(-ESRCH);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_LOCAL]], 0, DOMID.IO)).toBe(-EPERM);
    expect(mmuext(m, [[MMUEXT.TLB_FLUSH_LOCAL]], 0, m.domain.domid)).toBe(0);
    expect(hc(m, NR.mmuext_op, 0xdead0000, 1, 0, SELF)).toBe(-EFAULT);
    expect(hc(m, NR.mmuext_op, 0xfffffff8, 1, 0, SELF)).toBe(-EFAULT);
    expect(hc(m, NR.mmuext_op, ARG, 0x80000000, 0, SELF)).toBe(-EINVAL);
    expect(hc(m, NR.mmuext_op, ARG, MAX_BATCH + 1, 0, SELF)).toBe(-EINVAL);
    ops(m, ARG, [[MMUEXT.TLB_FLUSH_LOCAL]]);
    expect(hc(m, NR.mmuext_op, ARG, 1, 0xdead0000, SELF)).toBe(-EFAULT);
    // A full batch of cheap ops finishes quickly.
    for (let i = 0; i < MAX_BATCH; i++) m.mem.write32(0x200000 + i * 12, MMUEXT.TLB_FLUSH_LOCAL);
    const t0 = Date.now();
    expect(hc(m, NR.mmuext_op, 0x200000, MAX_BATCH, DONE, SELF)).toBe(0);
    expect(m.mem.read32(DONE)).toBe(MAX_BATCH);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('PVH: only PIN/UNPIN (as no-ops); the PV-only calls are -ENOSYS', () => {
    const nrPages = 1024;
    const mem = new PhysMemory(nrPages * 4096, Domain.extraFramesFor(nrPages));
    const cpu = createCpu(mem);
    const dom = new Domain({ type: 'pvh', cpu, mem, nrPages, console: { write() {} }, cmdline: '' });
    registerMmHypercalls(dom);
    const call = (nr: number, ...args: number[]): number => {
      while (args.length < 6) args.push(0);
      return dom.hypercalls.dispatch('pvh', { nr, args, cpl: 0, guest: dom.guest });
    };
    const op = (cmd: number, a1 = 0, a2 = 0): number => {
      mem.write32(0x1000, cmd); mem.write32(0x1004, a1); mem.write32(0x1008, a2);
      return call(NR.mmuext_op, 0x1000, 1, 0, SELF);
    };
    expect(op(MMUEXT.PIN_L1_TABLE, 5)).toBe(0);
    expect(op(MMUEXT.UNPIN_TABLE, 5)).toBe(0);
    expect(op(MMUEXT.PIN_L2_TABLE, nrPages)).toBe(-EINVAL);
    expect(op(MMUEXT.TLB_FLUSH_LOCAL)).toBe(-EOPNOTSUPP);
    expect(op(MMUEXT.NEW_BASEPTR, 5)).toBe(-EOPNOTSUPP);
    expect(op(MMUEXT.SET_LDT, 0x2000, 1)).toBe(-EOPNOTSUPP);
    for (const nr of [NR.mmu_update, NR.set_gdt, NR.update_descriptor, NR.update_va_mapping, NR.uvm_other]) {
      expect(call(nr, 0x1000, 1, 0, SELF)).toBe(-ENOSYS);
    }
  });
});

describe('set_gdt and update_descriptor', () => {
  const G = 0x131; // GDT frame (VA = PA in the region)

  function gdtMachine(): Machine {
    const m = boot();
    m.mem.fill(G * 4096, 4096, 0);
    // Entry 2: data, base 0x2000, limit 0xffff, DPL 0 (Xen raises it to 1).
    m.mem.write32(G * 4096 + 16, 0x2000ffff);
    m.mem.write32(G * 4096 + 20, 0x00409300);
    m.mem.write32(ARG2, G);
    return m;
  }

  it('installs validated frames; a selector load then works', () => {
    const m = gdtMachine();
    expect(hc(m, NR.set_gdt, ARG2, 3)).toBe(-EINVAL); // the frame is still mapped writable
    expect(uvm(m, G << 12, (G << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    expect(hc(m, NR.set_gdt, ARG2, 3)).toBe(0);
    expect(m.domain.pv.gdtFrames).toEqual([G]);
    expect(m.domain.pv.gdtEntries).toBe(3);
    expect(m.mem.read32(G * 4096 + 20)).toBe(0x0040b300); // DPL fixed up to 1 in the frame
    loadSegment(m.cpu, Seg.ES, 0x11);
    expect(m.cpu.segBase[Seg.ES]).toBe(0x2000);
    expect(m.cpu.segLimit[Seg.ES]).toBe(0xffff);
    expect(() => loadSegment(m.cpu, Seg.ES, 0x19)).toThrow(); // beyond `entries`
    // Xen's flat selectors still work.
    loadSegment(m.cpu, Seg.FS, 0xe021);
    expect(m.cpu.segLimit[Seg.FS]).toBe(0xffffffff);
    // A GDT frame cannot be mapped writable, written by mmu_update, cleared, or become a page table.
    expect(uvm(m, X, (G << 12) | 0x23, 0, 0)).toBe(-EINVAL);
    reqs(m, ARG, [[G << 12, 0]]);
    expect(hc(m, NR.mmu_update, ARG, 1, 0, SELF)).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.CLEAR_PAGE, G]])).toBe(-EINVAL);
    expect(mmuext(m, [[MMUEXT.PIN_L1_TABLE, G]])).toBe(-EINVAL);
    // An empty GDT releases it.
    expect(hc(m, NR.set_gdt, 0, 0)).toBe(0);
    expect(m.domain.pv.gdtEntries).toBe(0);
    expect(uvm(m, X, (G << 12) | 0x23, 0, 0)).toBe(0);
  });

  it('refuses bad arguments and bad descriptors, keeping the old GDT', () => {
    const m = gdtMachine();
    expect(uvm(m, G << 12, (G << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    expect(hc(m, NR.set_gdt, ARG2, 3)).toBe(0);
    expect(hc(m, NR.set_gdt, ARG2, 7169)).toBe(-EINVAL);
    expect(hc(m, NR.set_gdt, 0x10000000, 3)).toBe(-EFAULT);
    expect(hc(m, NR.set_gdt, 0xfffffffe, 3)).toBe(-EFAULT);
    const bad = (frame: number): number => {
      m.mem.write32(ARG2 + 4, frame);
      m.mem.write32(ARG2, frame);
      return hc(m, NR.set_gdt, ARG2, 1);
    };
    expect(bad(m.domain.nrPages)).toBe(-EINVAL);
    expect(bad(m.domain.sharedInfoMfn)).toBe(-EINVAL);
    expect(bad(layout(m).l3)).toBe(-EINVAL); // a page table
    // A present TSS descriptor anywhere in the frame.
    const H = 0x132;
    expect(uvm(m, H << 12, (H << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    m.mem.fill(H * 4096, 4096, 0);
    m.mem.write32(H * 4096 + 511 * 8, 0x00000067);
    m.mem.write32(H * 4096 + 511 * 8 + 4, 0x00008900);
    expect(bad(H)).toBe(-EINVAL);
    m.mem.write32(H * 4096 + 511 * 8 + 4, 0x00000900); // not present: accepted
    expect(bad(H)).toBe(0);
    expect(m.domain.pv.gdtFrames).toEqual([H]);
    expect(m.domain.pv.gdtEntries).toBe(1);
    // The 14-frame maximum is accepted.
    const frames = Array.from({ length: 14 }, (_, i) => 0x140 + i);
    for (const f of frames) {
      expect(uvm(m, f << 12, (f << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
      m.mem.fill(f * 4096, 4096, 0);
    }
    frames.forEach((f, i) => m.mem.write32(ARG2 + i * 4, f));
    expect(hc(m, NR.set_gdt, ARG2, 7168)).toBe(0);
    expect(m.domain.pv.gdtFrames.length).toBe(14);
  });

  it('update_descriptor validates and writes one descriptor', () => {
    const m = gdtMachine();
    const ma = G * 4096 + 3 * 8;
    const upd = (lo: number, hi: number, at = ma, atHi = 0): number => hc(m, NR.update_descriptor, at, atHi, lo, hi);
    expect(upd(0x0000ffff, 0x00cf9b00)).toBe(0); // flat code, DPL 0 → 1
    expect(m.mem.read32(ma)).toBe(0x0000ffff);
    expect(m.mem.read32(ma + 4)).toBe(0x00cfbb00);
    expect(upd(0x0000ffff, 0x00cffb00)).toBe(0); // DPL 3 stays
    expect(m.mem.read32(ma + 4)).toBe(0x00cffb00);
    expect(upd(0x0000ffff, 0x00af9b00)).toBe(-EINVAL); // 64-bit code
    expect(upd(0x00000067, 0x00008200)).toBe(-EINVAL); // LDT descriptor
    expect(upd(0x00000067, 0x00008900)).toBe(-EINVAL); // TSS
    expect(upd(0x00000067, 0x00008e00)).toBe(-EINVAL); // interrupt gate
    expect(upd(0xe0191000, 0x0000ec00)).toBe(0); // call gate to FLAT_RING1_CS
    expect(upd(0x00101000, 0x0000ec00)).toBe(0); // call gate to GDT entry 2, RPL 0 → 1
    expect(m.mem.read32(ma) >>> 16).toBe(0x11);
    expect(upd(0x00001000, 0x0000ec00)).toBe(-EINVAL); // null target
    expect(upd(0xe0001000, 0x0000ec00)).toBe(-EINVAL); // Xen's reserved page, not its flat code
    expect(upd(0x12345678, 0x00000f00)).toBe(0); // not present: anything goes
    expect(m.mem.read32(ma)).toBe(0x12345678);
    expect(upd(0, 0, ma + 4)).toBe(-EINVAL); // misaligned
    expect(upd(0, 0, ma, 1)).toBe(-EINVAL); // above 4 GiB
    expect(upd(0, 0, m.domain.nrPages * 4096)).toBe(-EINVAL);
    expect(upd(0, 0, m.boot.cr3 >>> 0)).toBe(-EINVAL); // a page table
    // Updating a live GDT entry takes effect on the next load.
    expect(uvm(m, G << 12, (G << 12) | 0x21, 0, UVMF.INVLPG)).toBe(0);
    expect(hc(m, NR.set_gdt, ARG2, 3)).toBe(0);
    expect(upd(0x3000ffff, 0x00409300, G * 4096 + 16)).toBe(0);
    loadSegment(m.cpu, Seg.GS, 0x11);
    expect(m.cpu.segBase[Seg.GS]).toBe(0x3000);
  });
});

describe('describers', () => {
  it('never throw, for good and wild arguments', () => {
    const m = boot();
    reqs(m, ARG, [[ptePa(m, X), (F << 12) | 0x23]]);
    ops(m, ARG2, [[MMUEXT.NEW_BASEPTR, 0x116]]);
    m.mem.write32(MASK, 0x131);
    const argSets: number[][] = [
      [0, 0, 0, 0, 0, 0],
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xdead0000, 5, 0xdead0000, SELF, 0, 0],
      [ARG, 1, DONE, SELF, 0, 0],
      [ARG2, 1, DONE, SELF, 0, 0],
      [MASK, 3, 0, 0, 0, 0],
      [X, (F << 12) | 0x23, 0x80000000, MASK | 1, SELF, 0],
    ];
    const seen: string[] = [];
    for (const nr of Object.values(NR)) {
      const def = m.domain.hypercalls.get(nr);
      expect(def?.describe).toBeDefined();
      for (const a of argSets) {
        const s = def!.describe!(a, m.domain.guest);
        expect(typeof s).toBe('string');
        seen.push(s);
      }
    }
    expect(seen.some((s) => s.includes('NORMAL_PT_UPDATE'))).toBe(true);
    expect(seen.some((s) => s.includes('NEW_BASEPTR'))).toBe(true);
    expect(seen.some((s) => s.includes('unreadable'))).toBe(true);
  });
});
