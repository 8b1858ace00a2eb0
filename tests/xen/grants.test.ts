/**
 * Grant tables v1 (src/vmm/xen/grants.ts and hypercalls/gnttab.ts) against
 * Xen's rules: the backend API the in-VMM devices use (domain 0 mapping,
 * reading, writing and copying the guest's grants), the guest's own
 * grant_table_op map/unmap/copy/swap, PVH add_to_physmap relocation, every
 * GNTST_* path, and a seeded fuzz of hostile entries and ops that must
 * never throw.
 *
 * Domains are built directly over flat memory (paging off, VA = PA) as in
 * hypercalls-core.test.ts; the PV host-mapping tests boot the pv-min
 * fixture so that real, validated page tables exist.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu } from '../../src/vmm/cpu/index.js';
import { EFER_NXE } from '../../src/vmm/cpu/cpu.js';
import { Domain, GRANT_FRAMES, type GuestType } from '../../src/vmm/xen/domain.js';
import { registerHypercalls } from '../../src/vmm/xen/hypercalls/index.js';
import { pageTables } from '../../src/vmm/xen/hypercalls/mm.js';
import { MAX_GNTTAB_BATCH } from '../../src/vmm/xen/hypercalls/gnttab.js';
import { MAPTRACK_LIMIT, PIN_LIMIT } from '../../src/vmm/xen/grants.js';
import { XEN_ERRNO } from '../../src/vmm/xen/abi/errno.js';
import { DOMID, HYPERCALL } from '../../src/vmm/xen/abi/xen.js';
import { GNTCOPY, GNTMAP, GNTST, GNTTABOP, GTF } from '../../src/vmm/xen/abi/grant-table.js';

const E = XEN_ERRNO;
const GNTTAB = HYPERCALL.grant_table_op;
const ARG = 0x10000, BUF = 0x20000;
const RAM_PAGES = 4096;
/** RAM frames granted in the tests. */
const P1 = 0x300, P2 = 0x301, P3 = 0x302;
const RW = GTF.permit_access;
const RO = GTF.permit_access | GTF.readonly;
const STATUSES = new Set<number>(Object.values(GNTST));

function setup(type: GuestType = 'pv') {
  const mem = new PhysMemory(RAM_PAGES * 4096, Domain.extraFramesFor(RAM_PAGES));
  const cpu = createCpu(mem);
  const dom = new Domain({ type, cpu, mem, nrPages: RAM_PAGES, console: { write() {} }, cmdline: '' });
  registerHypercalls(dom);
  return harness(dom);
}

/** Helpers over any domain (flat test domains and the booted PV machine). */
/** `arg`: a free, writable guest address for argument structs (VA = PA). */
function harness(dom: Domain, arg = ARG) {
  const mem = dom.mem, g = dom.grants;
  const call = (nr: number, ...a: number[]): number => {
    const args = [0, 0, 0, 0, 0, 0].map((z, i) => (a[i] ?? z) >>> 0);
    return dom.hypercalls.dispatch(dom.type, { nr, args, cpl: dom.type === 'pv' ? 1 : 0, guest: dom.guest });
  };
  const entryPa = (ref: number) => dom.grantFrames[ref >> 9]! * 4096 + (ref & 511) * 8;
  /** Publish a grant as a guest does: domid and frame first, then flags. */
  const grant = (ref: number, frame: number, flags: number = RW, domid = 0) => {
    mem.write16(entryPa(ref) + 2, domid);
    mem.write32(entryPa(ref) + 4, frame);
    mem.write16(entryPa(ref), flags);
  };
  const flags = (ref: number) => mem.read16(entryPa(ref));
  const r16s = (pa: number) => (mem.read16(pa) << 16) >> 16;
  const r32 = (pa: number) => mem.read32(pa) >>> 0;

  /** Guest-issued map_grant_ref of one op at `at`. */
  const gmap = (ref: number, fl: number, o: { dom?: number; host?: bigint; at?: number } = {}) => {
    const at = o.at ?? arg;
    mem.write64(at, o.host ?? 0n);
    mem.write32(at + 8, fl);
    mem.write32(at + 12, ref);
    mem.write16(at + 16, o.dom ?? dom.domid);
    mem.write16(at + 18, 0x7777);
    mem.write32(at + 20, 0xdeadbeef);
    mem.write64(at + 24, 0x1234n);
    const rc = call(GNTTAB, GNTTABOP.map_grant_ref, at, 1);
    return { rc, status: r16s(at + 18), handle: r32(at + 20), bus: mem.read64(at + 24) };
  };
  /** Guest-issued unmap_grant_ref (or unmap_and_replace with `replace`). */
  const gunmap = (handle: number, o: { host?: bigint; bus?: bigint; replace?: bigint } = {}) => {
    mem.write64(arg, o.host ?? 0n);
    mem.write64(arg + 8, o.replace ?? o.bus ?? 0n);
    mem.write32(arg + 16, handle);
    mem.write16(arg + 20, 0x7777);
    const rc = call(GNTTAB, o.replace !== undefined ? GNTTABOP.unmap_and_replace : GNTTABOP.unmap_grant_ref, arg, 1);
    return { rc, status: r16s(arg + 20) };
  };
  type Side = { ref: number; dom?: number; off?: number } | { gmfn: number; dom?: number; off?: number };
  /** Write one guest gnttab_copy op at `at`. */
  const copyOp = (at: number, src: Side, dst: Side, len: number) => {
    const side = (base: number, s: Side) => {
      mem.write32(base, 'ref' in s ? s.ref : s.gmfn);
      mem.write16(base + 4, s.dom ?? ('ref' in s ? dom.domid : DOMID.SELF));
      mem.write16(base + 6, s.off ?? 0);
    };
    side(at, src);
    side(at + 8, dst);
    mem.write16(at + 16, len);
    mem.write16(at + 18, ('ref' in src ? GNTCOPY.source_gref : 0) | ('ref' in dst ? GNTCOPY.dest_gref : 0));
    mem.write16(at + 20, 0x7777);
  };
  const gcopy = (src: Side, dst: Side, len: number) => {
    copyOp(arg, src, dst, len);
    const rc = call(GNTTAB, GNTTABOP.copy, arg, 1);
    return { rc, status: r16s(arg + 20) };
  };
  return { dom, mem, g, call, entryPa, grant, flags, r16s, r32, gmap, gunmap, copyOp, gcopy };
}

type T = ReturnType<typeof harness>;

/** Place grant frame `idx` of a PVH domain at `gpfn` (XENMEM_add_to_physmap). */
function addToPhysmap(t: T, idx: number, gpfn: number): number {
  t.mem.write16(ARG, DOMID.SELF);
  t.mem.write16(ARG + 2, 0);
  t.mem.write32(ARG + 4, 1); // XENMAPSPACE_grant_table
  t.mem.write32(ARG + 8, idx);
  t.mem.write32(ARG + 12, gpfn);
  return t.call(HYPERCALL.memory_op, 7, ARG);
}

function fillPage(t: T, pfn: number, seed: number): void {
  for (let o = 0; o < 4096; o++) t.mem.write8(pfn * 4096 + o, (o * 7 + seed) & 0xff);
}

// ---------------------------------------------------------------------------

describe('backend map/unmap (domain 0)', () => {
  it('maps a writable grant: reading and writing set while mapped, cleared after unmap', () => {
    const t = setup();
    t.grant(8, P1);
    const m = t.g.mapGrant(8);
    expect(m).toEqual({ status: GNTST.okay, handle: expect.any(Number), frame: P1, readonly: false });
    expect(t.flags(8)).toBe(RW | GTF.reading | GTF.writing);
    expect(t.g.mappings('backend')).toBe(1);
    expect(t.g.unmapGrant(m.handle)).toBe(GNTST.okay);
    expect(t.flags(8)).toBe(RW);
    expect(t.g.mappings('backend')).toBe(0);
  });

  it('reads and writes the granted frame by handle, bounds-checked', () => {
    const t = setup();
    t.grant(9, P1);
    fillPage(t, P1, 3);
    const m = t.g.mapGrant(9);
    expect(t.g.read(m.handle, 0, 4)).toEqual(t.mem.readBytes(P1 * 4096, 4));
    expect(t.g.write(m.handle, 4090, Uint8Array.of(1, 2, 3, 4, 5, 6))).toBe(GNTST.okay);
    expect([...t.mem.readBytes(P1 * 4096 + 4090, 6)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.g.write32(m.handle, 16, 0xcafebabe)).toBe(GNTST.okay);
    expect(t.g.read32(m.handle, 16)).toBe(0xcafebabe);
    expect(t.r32(P1 * 4096 + 16)).toBe(0xcafebabe);
    // Outside the page, negative, fractional: refused, memory untouched.
    expect(t.g.read(m.handle, 4093, 4)).toBeNull();
    expect(t.g.read(m.handle, -1, 1)).toBeNull();
    expect(t.g.read(m.handle, 0.5, 1)).toBeNull();
    expect(t.g.read(m.handle, 0, 4097)).toBeNull();
    expect(t.g.read32(m.handle, 4094)).toBeNull();
    expect(t.g.write(m.handle, 4095, Uint8Array.of(1, 2))).toBe(GNTST.bad_copy_arg);
    expect(t.g.write32(m.handle, -4, 1)).toBe(GNTST.bad_copy_arg);
    expect(t.r32((P1 + 1) * 4096)).toBe(0);
    expect(t.g.read(m.handle, 4096, 0)).toEqual(new Uint8Array(0));
  });

  it('a read-only map sets only GTF_reading and refuses writes', () => {
    const t = setup();
    t.grant(10, P1);
    const m = t.g.mapGrant(10, { readonly: true });
    expect(m.status).toBe(GNTST.okay);
    expect(m.readonly).toBe(true);
    expect(t.flags(10)).toBe(RW | GTF.reading);
    expect(t.g.write(m.handle, 0, Uint8Array.of(1))).toBe(GNTST.permission_denied);
    expect(t.g.read(m.handle, 0, 1)).not.toBeNull();
    t.g.unmapGrant(m.handle);
    expect(t.flags(10)).toBe(RW);
  });

  it('GTF_readonly grants: a writable map is general_error (flags untouched), a read-only map works', () => {
    const t = setup();
    t.grant(11, P1, RO);
    expect(t.g.mapGrant(11)).toEqual({ status: GNTST.general_error, handle: -1, frame: -1, readonly: false });
    expect(t.flags(11)).toBe(RO);
    const m = t.g.mapGrant(11, { readonly: true });
    expect(m.status).toBe(GNTST.okay);
    expect(t.flags(11)).toBe(RO | GTF.reading);
    // Pinned read-only: a writable pin still checks GTF_readonly.
    expect(t.g.mapGrant(11).status).toBe(GNTST.general_error);
    expect(t.flags(11)).toBe(RO | GTF.reading);
    t.g.unmapGrant(m.handle);
    expect(t.flags(11)).toBe(RO);
    expect(t.g.mappings('backend')).toBe(0);
  });

  it('bad refs are GNTST_bad_gntref', () => {
    const t = setup();
    const n = t.g.nrEntries;
    expect(n).toBe(GRANT_FRAMES * 512);
    for (const ref of [n, n + 1, -1, 0.5, NaN, Infinity, 2 ** 32, 0xffffffff]) {
      expect(t.g.mapGrant(ref).status).toBe(GNTST.bad_gntref);
    }
    expect(t.g.mappings('backend')).toBe(0);
    // The last entry is a valid ref.
    t.grant(n - 1, P1);
    expect(t.g.mapGrant(n - 1).status).toBe(GNTST.okay);
  });

  it('an entry for another domain, or not GTF_permit_access, is general_error', () => {
    const t = setup();
    t.grant(12, P1, RW, 5);
    expect(t.g.mapGrant(12).status).toBe(GNTST.general_error);
    t.grant(12, P1, RW, t.dom.domid); // the guest granting itself, not dom0
    expect(t.g.mapGrant(12).status).toBe(GNTST.general_error);
    for (const fl of [GTF.invalid, GTF.accept_transfer, GTF.transitive, RW | GTF.sub_page, GTF.readonly]) {
      t.grant(12, P1, fl);
      expect(t.g.mapGrant(12).status).toBe(GNTST.general_error);
      expect(t.flags(12)).toBe(fl);
    }
    expect(t.g.mappings('backend')).toBe(0);
  });

  it('frames outside the domain are GNTST_bad_page and leave the flags as they were', () => {
    const t = setup();
    const d = t.dom;
    for (const frame of [RAM_PAGES, d.sharedInfoMfn, d.grantFrames[0]!, d.m2pMfn, 0xfffff, 0xffffffff]) {
      t.grant(13, frame);
      expect(t.g.mapGrant(13).status).toBe(GNTST.bad_page);
      expect(t.flags(13)).toBe(RW);
    }
    t.grant(13, RAM_PAGES - 1);
    expect(t.g.mapGrant(13).status).toBe(GNTST.okay);
  });

  it('two mappings of one ref: per-ref pin counts decide when GTF_writing and GTF_reading go', () => {
    const t = setup();
    t.grant(14, P1);
    const w = t.g.mapGrant(14);
    const r = t.g.mapGrant(14, { readonly: true });
    expect(w.handle).not.toBe(r.handle);
    expect(t.flags(14)).toBe(RW | GTF.reading | GTF.writing);
    expect(t.g.unmapGrant(w.handle)).toBe(GNTST.okay);
    expect(t.flags(14)).toBe(RW | GTF.reading);
    expect(t.g.unmapGrant(r.handle)).toBe(GNTST.okay);
    expect(t.flags(14)).toBe(RW);

    // Read-only first, then writable: the writable pin adds GTF_writing.
    const r2 = t.g.mapGrant(14, { readonly: true });
    expect(t.flags(14)).toBe(RW | GTF.reading);
    const w2 = t.g.mapGrant(14);
    const w3 = t.g.mapGrant(14);
    expect(t.flags(14)).toBe(RW | GTF.reading | GTF.writing);
    t.g.unmapGrant(w2.handle);
    expect(t.flags(14)).toBe(RW | GTF.reading | GTF.writing);
    t.g.unmapGrant(w3.handle);
    expect(t.flags(14)).toBe(RW | GTF.reading);
    t.g.unmapGrant(r2.handle);
    expect(t.flags(14)).toBe(RW);
  });

  it('a pinned entry keeps its frame and skips the type/domid check, as in Xen', () => {
    const t = setup();
    t.grant(15, P1);
    const a = t.g.mapGrant(15, { readonly: true });
    // The guest rewrites the entry under the mapping (it may not revoke: reading is set).
    t.mem.write32(t.entryPa(15) + 4, P2);
    t.mem.write16(t.entryPa(15) + 2, 7);
    const b = t.g.mapGrant(15, { readonly: true });
    expect(b.status).toBe(GNTST.okay);
    expect(b.frame).toBe(P1);
    t.g.unmapGrant(a.handle);
    t.g.unmapGrant(b.handle);
    expect(t.flags(15)).toBe(RW);
    // Unpinned again: the checks are back.
    expect(t.g.mapGrant(15).status).toBe(GNTST.general_error);
  });

  it('pin counters stop at PIN_LIMIT per kind (general_error, like Xen overflow guard)', () => {
    const t = setup();
    t.grant(16, P1);
    const hs: number[] = [];
    for (let i = 0; i < PIN_LIMIT; i++) {
      const m = t.g.mapGrant(16, { readonly: true });
      expect(m.status).toBe(GNTST.okay);
      hs.push(m.handle);
    }
    expect(t.g.mapGrant(16, { readonly: true }).status).toBe(GNTST.general_error);
    // The writable counter is a separate one.
    const w = t.g.mapGrant(16);
    expect(w.status).toBe(GNTST.okay);
    t.g.unmapGrant(w.handle);
    for (const h of hs) expect(t.g.unmapGrant(h)).toBe(GNTST.okay);
    expect(t.flags(16)).toBe(RW);
  });

  it('bad handles are GNTST_bad_handle: never issued, already unmapped, out of range', () => {
    const t = setup();
    t.grant(17, P1);
    const m = t.g.mapGrant(17);
    for (const h of [-1, MAPTRACK_LIMIT, MAPTRACK_LIMIT + 5, 0.5, NaN, m.handle + 1]) {
      expect(t.g.unmapGrant(h)).toBe(GNTST.bad_handle);
      expect(t.g.read(h, 0, 1)).toBeNull();
      expect(t.g.write(h, 0, Uint8Array.of(1))).toBe(GNTST.bad_handle);
    }
    expect(t.g.unmapGrant(m.handle)).toBe(GNTST.okay);
    expect(t.g.unmapGrant(m.handle)).toBe(GNTST.bad_handle);
    expect(t.g.read(m.handle, 0, 1)).toBeNull();
    expect(t.flags(17)).toBe(RW);
  });

  it('the maptrack table holds MAPTRACK_LIMIT handles, then GNTST_no_space', () => {
    const t = setup();
    const hs: number[] = [];
    for (let ref = 0; ref < MAPTRACK_LIMIT; ref++) {
      t.grant(ref, P1 + (ref % 64), RW);
      const m = t.g.mapGrant(ref, { readonly: true });
      expect(m.status).toBe(GNTST.okay);
      hs.push(m.handle);
    }
    expect(new Set(hs).size).toBe(MAPTRACK_LIMIT);
    t.grant(MAPTRACK_LIMIT, P1);
    expect(t.g.mapGrant(MAPTRACK_LIMIT).status).toBe(GNTST.no_space);
    // No_space comes before the ref is even looked at; nothing got pinned.
    expect(t.flags(MAPTRACK_LIMIT)).toBe(RW);
    expect(t.g.mapGrant(0xffffffff).status).toBe(GNTST.no_space);
    expect(t.g.unmapGrant(hs[100]!)).toBe(GNTST.okay);
    const again = t.g.mapGrant(MAPTRACK_LIMIT);
    expect(again.status).toBe(GNTST.okay);
    expect(again.handle).toBe(hs[100]);
  });

  it('a backend handle is not the guest\'s: separate maptrack tables', () => {
    const t = setup();
    t.grant(18, P1);
    const m = t.g.mapGrant(18);
    expect(t.gunmap(m.handle, { bus: BigInt(P1) * 4096n }).status).toBe(GNTST.bad_handle);
    expect(t.flags(18)).toBe(RW | GTF.reading | GTF.writing);
  });
});

describe('backend copy', () => {
  it('copies between a backend buffer and a grant, both directions, with offsets', () => {
    const t = setup();
    t.grant(20, P1);
    fillPage(t, P1, 9);
    const out = new Uint8Array(64);
    expect(t.g.copy([{ source: { ref: 20, offset: 100 }, dest: { buf: out, offset: 8 }, len: 32 }])).toEqual([GNTST.okay]);
    expect(out.subarray(8, 40)).toEqual(t.mem.readBytes(P1 * 4096 + 100, 32));
    expect(out[7]).toBe(0);
    expect(out[40]).toBe(0);
    const data = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    expect(t.g.copy([{ source: { buf: data }, dest: { ref: 20, offset: 4080 }, len: 16 }])).toEqual([GNTST.okay]);
    expect(t.mem.readBytes(P1 * 4096 + 4080, 16)).toEqual(data);
    // Transient pins: the flags are back as they were.
    expect(t.flags(20)).toBe(RW);
  });

  it('offset + len beyond the page (or the buffer) is GNTST_bad_copy_arg', () => {
    const t = setup();
    t.grant(21, P1);
    const buf = new Uint8Array(4096);
    const st = t.g.copy([
      { source: { ref: 21, offset: 4095 }, dest: { buf }, len: 2 },
      { source: { buf }, dest: { ref: 21, offset: 4000 }, len: 97 },
      { source: { buf, offset: 4090 }, dest: { ref: 21 }, len: 7 },
      { source: { ref: 21 }, dest: { buf: new Uint8Array(8), offset: 4 }, len: 5 },
      { source: { ref: 21, offset: -1 }, dest: { buf }, len: 1 },
      { source: { ref: 21 }, dest: { buf }, len: 4097 },
      { source: { ref: 21 }, dest: { buf }, len: -3 },
      { source: { ref: 21 }, dest: { buf }, len: 1.5 },
      { source: { ref: 21, offset: 4000 }, dest: { buf }, len: 96 },
    ]);
    expect(st).toEqual([...new Array<number>(8).fill(GNTST.bad_copy_arg), GNTST.okay]);
    expect(t.flags(21)).toBe(RW);
    expect(t.r32(P1 * 4096 + 4000)).toBe(0);
  });

  it('a read-only grant cannot be a copy destination; it can be a source', () => {
    const t = setup();
    t.grant(22, P1, RO);
    fillPage(t, P1, 1);
    const before = t.mem.readBytes(P1 * 4096, 4096);
    expect(t.g.copy([{ source: { buf: new Uint8Array(8).fill(0xee) }, dest: { ref: 22 }, len: 8 }])).toEqual([GNTST.general_error]);
    expect(t.mem.readBytes(P1 * 4096, 4096)).toEqual(before);
    expect(t.flags(22)).toBe(RO);
    const out = new Uint8Array(8);
    expect(t.g.copy([{ source: { ref: 22 }, dest: { buf: out }, len: 8 }])).toEqual([GNTST.okay]);
    expect(out).toEqual(before.subarray(0, 8));
    expect(t.flags(22)).toBe(RO);
  });

  it('statuses follow Xen\'s order: len 0 first, then refs (source before dest), then bounds', () => {
    const t = setup();
    t.grant(23, P1);
    t.grant(24, P2, RW, 3);
    t.grant(25, RAM_PAGES + 2);
    const buf = new Uint8Array(16);
    expect(t.g.copy([
      { source: { ref: 99999 }, dest: { buf }, len: 0 },
      { source: { ref: 99999 }, dest: { ref: 23, offset: 4095 }, len: 16 },
      { source: { ref: 24 }, dest: { ref: 99999 }, len: 16 },
      { source: { ref: 23 }, dest: { ref: 24 }, len: 16 },
      { source: { ref: 25 }, dest: { buf }, len: 4 },
      { source: { ref: 23, offset: 4090 }, dest: { ref: 99999 }, len: 16 },
    ])).toEqual([GNTST.okay, GNTST.bad_gntref, GNTST.general_error, GNTST.general_error, GNTST.bad_page, GNTST.bad_gntref]);
    // A failed destination releases the source it had already pinned.
    expect(t.flags(23)).toBe(RW);
  });

  it('copies grant to grant (guest frame to guest frame)', () => {
    const t = setup();
    t.grant(26, P1, RO);
    t.grant(27, P2);
    fillPage(t, P1, 5);
    expect(t.g.copy([{ source: { ref: 26, offset: 10 }, dest: { ref: 27, offset: 20 }, len: 100 }])).toEqual([GNTST.okay]);
    expect(t.mem.readBytes(P2 * 4096 + 20, 100)).toEqual(t.mem.readBytes(P1 * 4096 + 10, 100));
    expect([t.flags(26), t.flags(27)]).toEqual([RO, RW]);
  });

  it('copy keeps the flags of a ref the backend also has mapped', () => {
    const t = setup();
    t.grant(28, P1);
    const m = t.g.mapGrant(28, { readonly: true });
    expect(t.g.copy([{ source: { buf: Uint8Array.of(1, 2) }, dest: { ref: 28 }, len: 2 }])).toEqual([GNTST.okay]);
    expect(t.flags(28)).toBe(RW | GTF.reading);
    t.g.unmapGrant(m.handle);
    expect(t.flags(28)).toBe(RW);
  });
});

describe('PV page types', () => {
  it('a frame that is a page table or a GDT frame cannot be mapped writable or copied into', () => {
    const t = setup();
    const pt = pageTables(t.dom);
    expect(pt.pin(P1, 1)).toBe(0);
    t.grant(30, P1);
    expect(t.g.mapGrant(30).status).toBe(GNTST.general_error);
    expect(t.flags(30)).toBe(RW);
    expect(t.g.copy([{ source: { buf: new Uint8Array(4) }, dest: { ref: 30 }, len: 4 }])).toEqual([GNTST.general_error]);
    const ro = t.g.mapGrant(30, { readonly: true });
    expect(ro.status).toBe(GNTST.okay);
    t.g.unmapGrant(ro.handle);
    t.dom.pv.gdtFrames = [P3];
    t.dom.pv.gdtEntries = 512;
    t.grant(31, P3);
    expect(t.g.mapGrant(31).status).toBe(GNTST.general_error);
  });

  it('a writable mapping keeps the frame from becoming a page table until unmapped', () => {
    const t = setup();
    const pt = pageTables(t.dom);
    t.grant(32, P2);
    const m = t.g.mapGrant(32);
    expect(pt.writableCount(P2)).toBe(1);
    expect(pt.pin(P2, 1)).toBe(-E.EINVAL);
    t.g.unmapGrant(m.handle);
    expect(pt.writableCount(P2)).toBe(0);
    expect(pt.pin(P2, 1)).toBe(0);
    // A read-only mapping takes no writable type.
    const r = t.g.mapGrant(32, { readonly: true });
    expect(pt.writableCount(P2)).toBe(0);
    t.g.unmapGrant(r.handle);
  });

  it('PVH frames have no page types', () => {
    const t = setup('pvh');
    t.grant(33, P1);
    const m = t.g.mapGrant(33);
    expect(m.status).toBe(GNTST.okay);
    expect(pageTables(t.dom).writableCount(P1)).toBe(0);
  });
});

describe('grant frames: setup_table and PVH add_to_physmap', () => {
  it('PV setup_table lists the MFNs the engine reads entries from', () => {
    const t = setup();
    t.mem.write16(ARG, DOMID.SELF);
    t.mem.write32(ARG + 4, GRANT_FRAMES);
    t.mem.write32(ARG + 12, BUF);
    expect(t.call(GNTTAB, GNTTABOP.setup_table, ARG, 1)).toBe(0);
    expect(t.r16s(ARG + 8)).toBe(GNTST.okay);
    const frames = Array.from({ length: GRANT_FRAMES }, (_, i) => t.r32(BUF + i * 4));
    expect(frames).toEqual(t.dom.grantFrames);
    // The guest writes ref 512 + 3 through frame 1 of the list.
    const pa = frames[1]! * 4096 + 3 * 8;
    t.mem.write16(pa + 2, 0);
    t.mem.write32(pa + 4, P1);
    t.mem.write16(pa, RW);
    const m = t.g.mapGrant(515);
    expect(m.status).toBe(GNTST.okay);
    expect(m.frame).toBe(P1);
    expect(t.mem.read16(pa)).toBe(RW | GTF.reading | GTF.writing);
    expect(t.call(GNTTAB, GNTTABOP.setup_table, ARG, 0)).toBe(0);
  });

  it('PVH: entries are read where add_to_physmap moved the frame, and setup_table reports the GFNs', () => {
    const t = setup('pvh');
    // An entry published before the move travels with the frame.
    t.grant(40, P1);
    expect(addToPhysmap(t, 0, 0x200)).toBe(0);
    expect(t.dom.grantFrames[0]).toBe(0x200);
    expect(t.mem.read16(0x200000 + 40 * 8)).toBe(RW);
    const a = t.g.mapGrant(40);
    expect(a.status).toBe(GNTST.okay);
    expect(t.mem.read16(0x200000 + 40 * 8)).toBe(RW | GTF.reading | GTF.writing);
    // A new entry written at the new GPFN (as the guest does after the move).
    t.mem.write16(0x200000 + 41 * 8 + 2, 0);
    t.mem.write32(0x200000 + 41 * 8 + 4, P2);
    t.mem.write16(0x200000 + 41 * 8, RO);
    const b = t.g.mapGrant(41, { readonly: true });
    expect(b).toMatchObject({ status: GNTST.okay, frame: P2 });
    // Frame 1 placed elsewhere: ref 512 lives there.
    expect(addToPhysmap(t, 1, 0x210)).toBe(0);
    t.mem.write16(0x210000 + 2, 0);
    t.mem.write32(0x210000 + 4, P3);
    t.mem.write16(0x210000, RW);
    expect(t.g.mapGrant(512).frame).toBe(P3);
    t.mem.write16(ARG, DOMID.SELF);
    t.mem.write32(ARG + 4, 3);
    t.mem.write32(ARG + 12, BUF);
    expect(t.call(GNTTAB, GNTTABOP.setup_table, ARG, 1)).toBe(0);
    expect([t.r32(BUF), t.r32(BUF + 4), t.r32(BUF + 8)]).toEqual([0x200, 0x210, 0xffffffff]);
    t.g.unmapGrant(a.handle);
    expect(t.mem.read16(0x200000 + 40 * 8)).toBe(RW);
    // PVH: the entry's frame is a GFN; beyond RAM it is bad_page.
    t.mem.write32(0x200000 + 40 * 8 + 4, RAM_PAGES);
    expect(t.g.mapGrant(40).status).toBe(GNTST.bad_page);
  });
});

describe('grant_table_op from the guest', () => {
  it('PV device_map of its own grant: handle, dev_bus_addr, flags; unmap by bus address', () => {
    const t = setup();
    t.grant(50, P1, RW, t.dom.domid);
    const m = t.gmap(50, GNTMAP.device_map);
    expect(m).toEqual({ rc: 0, status: GNTST.okay, handle: expect.any(Number), bus: BigInt(P1) * 4096n });
    expect(t.flags(50)).toBe(RW | GTF.reading | GTF.writing);
    expect(t.g.mappings('guest')).toBe(1);
    // Nothing named: okay, nothing released.
    expect(t.gunmap(m.handle)).toEqual({ rc: 0, status: GNTST.okay });
    expect(t.g.mappings('guest')).toBe(1);
    expect(t.gunmap(m.handle, { bus: 0x999000n })).toEqual({ rc: 0, status: GNTST.bad_dev_addr });
    expect(t.gunmap(m.handle, { bus: BigInt(P1) * 4096n })).toEqual({ rc: 0, status: GNTST.okay });
    expect(t.flags(50)).toBe(RW);
    expect(t.gunmap(m.handle, { bus: BigInt(P1) * 4096n }).status).toBe(GNTST.bad_handle);
  });

  it('map statuses: no map kind, unknown domain (DOMID_SELF too), dom0, bad ref, foreign pin', () => {
    const t = setup();
    t.grant(51, P1, RW, t.dom.domid);
    expect(t.gmap(51, 0).status).toBe(GNTST.bad_gntref);
    expect(t.gmap(51, GNTMAP.readonly).status).toBe(GNTST.bad_gntref);
    expect(t.gmap(51, GNTMAP.device_map, { dom: DOMID.SELF }).status).toBe(GNTST.bad_domain);
    expect(t.gmap(51, GNTMAP.device_map, { dom: 9 }).status).toBe(GNTST.bad_domain);
    expect(t.gmap(51, GNTMAP.device_map, { dom: 0 }).status).toBe(GNTST.general_error);
    expect(t.gmap(0xffff0, GNTMAP.device_map, { dom: 0 }).status).toBe(GNTST.bad_gntref);
    expect(t.gmap(t.g.nrEntries, GNTMAP.device_map).status).toBe(GNTST.bad_gntref);
    // A grant to dom0 that a backend has mapped: the guest may not pin it too.
    t.grant(52, P2);
    const b = t.g.mapGrant(52);
    t.grant(52, P2, RW | GTF.reading | GTF.writing, t.dom.domid);
    expect(t.gmap(52, GNTMAP.device_map).status).toBe(GNTST.general_error);
    t.g.unmapGrant(b.handle);
    expect(t.gmap(52, GNTMAP.device_map).status).toBe(GNTST.okay);
    // ... and the backend may not pin a ref the guest holds.
    t.grant(52, P2, t.flags(52), 0);
    expect(t.g.mapGrant(52, { readonly: true }).status).toBe(GNTST.general_error);
    // The failed map leaves the struct's handle alone.
    const f = t.gmap(51, 0);
    expect(f.handle).toBe(0xdeadbeef);
    expect(f.bus).toBe(0x1234n);
    expect(t.g.mappings('guest')).toBe(1);
  });

  it('PVH: device/application/contains_pte maps are general_error; host maps need a p2m xenkit lacks', () => {
    const t = setup('pvh');
    t.grant(53, P1, RW, t.dom.domid);
    for (const fl of [GNTMAP.device_map, GNTMAP.host_map | GNTMAP.application_map, GNTMAP.host_map | GNTMAP.contains_pte]) {
      expect(t.gmap(53, fl, { host: 0x400000n }).status).toBe(GNTST.general_error);
    }
    expect(t.gmap(53, GNTMAP.host_map, { host: 0x400000n }).status).toBe(GNTST.general_error);
    expect(t.flags(53)).toBe(RW);
    expect(t.gmap(9999, GNTMAP.host_map, { host: 0x400000n }).status).toBe(GNTST.bad_gntref);
    expect(t.gmap(53, GNTMAP.host_map, { dom: 4 }).status).toBe(GNTST.bad_domain);
    expect(t.gunmap(0, { host: 0x400000n }).status).toBe(GNTST.bad_handle);
    expect(t.g.mappings('guest')).toBe(0);
  });

  it('guest copy: DOMID_SELF frames and own grants; frames need DOMID_SELF; unknown domains', () => {
    for (const type of ['pv', 'pvh'] as const) {
      const t = setup(type);
      t.grant(54, P1, RW, t.dom.domid);
      fillPage(t, P2, 11);
      expect(t.gcopy({ gmfn: P2, off: 8 }, { ref: 54, off: 16 }, 64)).toEqual({ rc: 0, status: GNTST.okay });
      expect(t.mem.readBytes(P1 * 4096 + 16, 64)).toEqual(t.mem.readBytes(P2 * 4096 + 8, 64));
      expect(t.flags(54)).toBe(RW);
      expect(t.gcopy({ ref: 54, dom: DOMID.SELF }, { gmfn: P3 }, 4).status).toBe(GNTST.okay);
      expect(t.gcopy({ gmfn: P2, dom: t.dom.domid }, { ref: 54 }, 4).status).toBe(GNTST.permission_denied);
      expect(t.gcopy({ gmfn: P2 }, { ref: 54, dom: 9 }, 4).status).toBe(GNTST.bad_domain);
      expect(t.gcopy({ gmfn: P2 }, { ref: 54, dom: 0 }, 4).status).toBe(GNTST.general_error);
      expect(t.gcopy({ gmfn: RAM_PAGES }, { ref: 54 }, 4).status).toBe(GNTST.bad_page);
      expect(t.gcopy({ gmfn: P2, off: 4093 }, { ref: 54 }, 4).status).toBe(GNTST.bad_copy_arg);
      expect(t.gcopy({ gmfn: P2 }, { ref: 54, off: 0xffff }, 4).status).toBe(GNTST.bad_copy_arg);
      expect(t.gcopy({ gmfn: P2 }, { ref: 54, off: 0xffff }, 0).status).toBe(GNTST.okay);
      // A grant to dom0 is not one the guest may copy through.
      t.grant(55, P1, RW, 0);
      expect(t.gcopy({ gmfn: P2 }, { ref: 55 }, 4).status).toBe(GNTST.general_error);
    }
  });

  it('guest copy batches: statuses per op; an unreadable op fails its batch before any op runs', () => {
    const t = setup();
    t.grant(56, P1, RW, t.dom.domid);
    fillPage(t, P2, 2);
    t.copyOp(ARG, { gmfn: P2 }, { ref: 56 }, 8);
    t.copyOp(ARG + 24, { gmfn: P2 }, { ref: 56, off: 4090 }, 8);
    t.copyOp(ARG + 48, { gmfn: P2 }, { ref: 9999 }, 8);
    expect(t.call(GNTTAB, GNTTABOP.copy, ARG, 3)).toBe(0);
    expect([t.r16s(ARG + 20), t.r16s(ARG + 44), t.r16s(ARG + 68)]).toEqual([GNTST.okay, GNTST.bad_copy_arg, GNTST.bad_gntref]);
    // An op running off the end of memory: nothing of the batch is done.
    const at = t.mem.size - 30;
    t.mem.fill(P1 * 4096, 4096, 0);
    t.copyOp(at, { gmfn: P2 }, { ref: 56 }, 8);
    expect(t.call(GNTTAB, GNTTABOP.copy, at, 2)).toBe(-E.EFAULT);
    expect(t.r32(P1 * 4096)).toBe(0);
    expect(t.call(GNTTAB, GNTTABOP.copy, 0xfffff000, 1)).toBe(-E.EFAULT); // PV range check
    expect(t.call(GNTTAB, GNTTABOP.copy, ARG, 0)).toBe(0);
  });

  it('swap_grant_ref swaps entries; pinned refs are GNTST_eagain', () => {
    const t = setup();
    t.grant(60, P1, RW, 0);
    t.grant(61, P2, RO, 3);
    const swap = (a: number, b: number) => {
      t.mem.write32(ARG, a);
      t.mem.write32(ARG + 4, b);
      t.mem.write16(ARG + 8, 0x7777);
      return { rc: t.call(GNTTAB, GNTTABOP.swap_grant_ref, ARG, 1), status: t.r16s(ARG + 8) };
    };
    expect(swap(60, 61)).toEqual({ rc: 0, status: GNTST.okay });
    expect(t.g.entry(60)).toEqual({ flags: RO, domid: 3, frame: P2 });
    expect(t.g.entry(61)).toEqual({ flags: RW, domid: 0, frame: P1 });
    expect(swap(60, 60).status).toBe(GNTST.okay);
    expect(swap(60, t.g.nrEntries).status).toBe(GNTST.bad_gntref);
    const m = t.g.mapGrant(61);
    expect(swap(60, 61).status).toBe(GNTST.eagain);
    t.g.unmapGrant(m.handle);
    expect(swap(61, 60).status).toBe(GNTST.okay);
  });

  it('other commands: transfer -EOPNOTSUPP, get_status_frames on v1, dump_table -ENOSYS, batch bound', () => {
    const t = setup();
    expect(t.call(GNTTAB, GNTTABOP.transfer, ARG, 1)).toBe(-E.EOPNOTSUPP);
    expect(t.call(GNTTAB, GNTTABOP.transfer, ARG, 0)).toBe(0);
    expect(t.call(GNTTAB, GNTTABOP.transfer, t.mem.size - 8, 1)).toBe(-E.EFAULT);
    const gsf = (nr: number, dom: number = DOMID.SELF, count = 1) => {
      t.mem.write32(ARG, nr);
      t.mem.write16(ARG + 4, dom);
      t.mem.write16(ARG + 6, 0x7777);
      t.mem.write32(ARG + 8, BUF);
      return { rc: t.call(GNTTAB, GNTTABOP.get_status_frames, ARG, count), status: t.r16s(ARG + 6) };
    };
    expect(gsf(0)).toEqual({ rc: 0, status: GNTST.okay });
    expect(gsf(1)).toEqual({ rc: 0, status: GNTST.general_error });
    expect(gsf(1, 0).status).toBe(GNTST.permission_denied);
    expect(gsf(1, 8).status).toBe(GNTST.bad_domain);
    expect(gsf(1, DOMID.SELF, 2).rc).toBe(-E.EINVAL);
    expect(t.call(GNTTAB, GNTTABOP.dump_table, ARG, 1)).toBe(-E.ENOSYS);
    for (const op of [GNTTABOP.map_grant_ref, GNTTABOP.unmap_grant_ref, GNTTABOP.copy, GNTTABOP.swap_grant_ref]) {
      expect(t.call(GNTTAB, op, ARG, MAX_GNTTAB_BATCH + 1)).toBe(-E.E2BIG);
      expect(t.call(GNTTAB, op, 0xfffff000, 1)).toBe(-E.EFAULT);
      expect(t.call(GNTTAB, op, ARG, 0x80000000)).toBe(-E.EINVAL);
      expect(t.call(GNTTAB, op, ARG, 0)).toBe(0);
    }
    const pvh = setup('pvh');
    for (const op of [GNTTABOP.transfer, GNTTABOP.get_status_frames, GNTTABOP.unmap_and_replace]) {
      expect(pvh.call(GNTTAB, op, ARG, 1)).toBe(-E.ENOSYS);
    }
  });

  it('map and unmap ops run one by one: earlier ops stay done when a later one faults', () => {
    const t = setup();
    t.grant(62, P1, RW, t.dom.domid);
    t.gmap(62, GNTMAP.device_map | GNTMAP.readonly, { at: t.mem.size - 32 });
    t.mem.write16(t.mem.size - 32 + 18, 0);
    expect(t.call(GNTTAB, GNTTABOP.map_grant_ref, t.mem.size - 32, 2)).toBe(-E.EFAULT);
    // The first op ran and wrote its result back.
    expect(t.g.mappings('guest')).toBe(2);
    expect(t.flags(62)).toBe(RW | GTF.reading);
  });
});

describe('PV host mappings from the guest (booted pv-min)', () => {
  const X = 0x200000, Y = 0x201000, F = 0x800;
  function boot() {
    const k = inspectKernel(readFileSync('tests/fixtures/loader/pv-min.elf'), 'pv-min.elf');
    const m = new Machine({ kernel: k, console: { write() {} } });
    return { m, t: harness(m.domain, 0x120000) };
  }
  /** Physical address of the L1 entry for `va` (independent walk). */
  function ptePa(m: Machine, va: number): number {
    const l2 = (m.mem.read32((m.cpu.cr3 >>> 0) + (va >>> 30) * 8) & ~0xfff) >>> 0;
    const l1 = (m.mem.read32(l2 + ((va >>> 21) & 511) * 8) & ~0xfff) >>> 0;
    return l1 + ((va >>> 12) & 511) * 8;
  }

  it('installs the PTE at host_addr and removes it on unmap', () => {
    const { m, t } = boot();
    t.grant(70, F, RW, t.dom.domid);
    fillPage(t, F, 4);
    const r = t.gmap(70, GNTMAP.host_map, { host: BigInt(X) });
    expect(r.status).toBe(GNTST.okay);
    expect(r.bus).toBe(BigInt(F) * 4096n);
    const pa = ptePa(m, X);
    expect(t.r32(pa)).toBe((F << 12) | 0x63); // P | RW | A | D
    expect(t.r32(pa + 4)).toBe((m.cpu.efer & EFER_NXE) !== 0 ? 0x80000000 : 0); // NX, as Xen's _PAGE_NX when usable
    expect(t.dom.guest.read(X + 8, 4)).toEqual(t.mem.readBytes(F * 4096 + 8, 4));
    expect(t.dom.guest.write32(X, 0x11223344)).toBe(true);
    expect(t.r32(F * 4096)).toBe(0x11223344);
    expect(t.flags(70)).toBe(RW | GTF.reading | GTF.writing);
    // Unmapping at an address that does not map the frame fails and keeps the mapping.
    expect(t.gunmap(r.handle, { host: BigInt(Y) }).status).toBe(GNTST.general_error);
    expect(t.gunmap(r.handle, { host: BigInt(X) }).status).toBe(GNTST.okay);
    expect(t.r32(pa)).toBe(0);
    expect(t.dom.guest.read(X, 4)).toBeNull();
    expect(t.flags(70)).toBe(RW);
  });

  it('read-only, application_map and guest-available bits shape the PTE; contains_pte takes the PTE address', () => {
    const { m, t } = boot();
    t.grant(71, F, RW, t.dom.domid);
    const fl = GNTMAP.host_map | GNTMAP.readonly | GNTMAP.application_map | (5 << 16);
    const r = t.gmap(71, fl, { host: BigInt(X) });
    expect(r.status).toBe(GNTST.okay);
    expect(t.r32(ptePa(m, X))).toBe((F << 12) | 0x65 | (5 << 9)); // P | US | A | D | avail
    expect(t.dom.guest.write32(X, 1)).toBe(false);
    expect(t.flags(71)).toBe(RW | GTF.reading);
    const c = t.gmap(71, GNTMAP.host_map | GNTMAP.contains_pte | GNTMAP.readonly, { host: BigInt(ptePa(m, Y)) });
    expect(c.status).toBe(GNTST.okay);
    expect(t.r32(ptePa(m, Y))).toBe((F << 12) | 0x61);
    expect(t.gmap(71, GNTMAP.host_map | GNTMAP.contains_pte | GNTMAP.readonly, { host: BigInt(ptePa(m, Y) + 4) }).status)
      .toBe(GNTST.general_error);
    expect(t.gunmap(c.handle, { host: BigInt(ptePa(m, Y)) }).status).toBe(GNTST.okay);
    expect(t.gunmap(r.handle, { host: BigInt(X) }).status).toBe(GNTST.okay);
    expect(t.flags(71)).toBe(RW);
  });

  it('host addresses without a validated L1, in the hole or above 4 GiB are general_error; flags restored', () => {
    const { m, t } = boot();
    t.grant(72, F, RW, t.dom.domid);
    for (const host of [0x40000000n, 0xf5800000n, 0x1_0000_0000n]) {
      expect(t.gmap(72, GNTMAP.host_map, { host }).status).toBe(GNTST.general_error);
      expect(t.flags(72)).toBe(RW);
    }
    // A PTE in a frame that is not an L1 table.
    expect(t.gmap(72, GNTMAP.host_map | GNTMAP.contains_pte, { host: BigInt(F * 4096) }).status).toBe(GNTST.general_error);
    expect(pageTables(m.domain).writableCount(F)).toBe(0);
    expect(t.g.mappings('guest')).toBe(0);
  });

  it('unmap_and_replace moves the PTE from new_addr to host_addr', () => {
    const { m, t } = boot();
    t.grant(73, F, RW, t.dom.domid);
    const r = t.gmap(73, GNTMAP.host_map, { host: BigInt(X) });
    const yPte = t.r32(ptePa(m, Y));
    expect(yPte & 1).toBe(1);
    expect(t.gunmap(r.handle, { host: BigInt(X), replace: BigInt(Y) })).toEqual({ rc: 0, status: GNTST.okay });
    expect(t.r32(ptePa(m, X))).toBe(yPte);
    expect(t.r32(ptePa(m, Y))).toBe(0);
    expect(t.flags(73)).toBe(RW);
    expect(pageTables(m.domain).writableCount(F)).toBe(0);
  });

  it('a writable host mapping blocks pinning the frame as a page table', () => {
    const { m, t } = boot();
    t.grant(74, F, RW, t.dom.domid);
    const r = t.gmap(74, GNTMAP.host_map, { host: BigInt(X) });
    const pt = pageTables(m.domain);
    expect(pt.writableCount(F)).toBe(2); // the PTE and the grant's type reference
    expect(pt.pin(F, 1)).toBe(-E.EINVAL);
    t.gunmap(r.handle, { host: BigInt(X) });
    expect(pt.writableCount(F)).toBe(0);
  });
});

describe('hostile input never crashes the VMM', () => {
  /** mulberry32: a small seeded PRNG. */
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let x = a;
      x = Math.imul(x ^ (x >>> 15), x | 1);
      x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
      return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
    };
  }

  for (const type of ['pv', 'pvh'] as const) {
    it(`random entries, refs, handles and ops (${type})`, () => {
      const t = setup(type);
      const rand = rng(type === 'pv' ? 0x5eed : 0xbeef);
      const int = (n: number) => Math.floor(rand() * n);
      const pick = <X>(xs: readonly X[]): X => xs[int(xs.length)]!;
      const n = t.g.nrEntries;
      const refOf = () => pick([int(64), int(n), n + int(8), 0xffffffff, -1, int(64) + 0.5]);
      const frameOf = () => pick([P1 + int(8), int(RAM_PAGES * 2), 0xffffffff, t.dom.sharedInfoMfn]);
      const flagsOf = () => pick([RW, RO, int(0x10000), GTF.permit_access | GTF.sub_page, 0]);
      const domOf = () => pick([0, 0, t.dom.domid, DOMID.SELF, int(0x10000)]);
      const handles: number[] = [];
      for (let i = 0; i < 64; i++) t.grant(i, frameOf(), flagsOf(), domOf());
      for (let step = 0; step < 3000; step++) {
        const op = int(10);
        if (op === 0) t.grant(int(64), frameOf(), flagsOf(), domOf());
        else if (op === 1) {
          const r = t.g.mapGrant(refOf(), { readonly: rand() < 0.5 });
          expect(STATUSES.has(r.status)).toBe(true);
          if (r.status === GNTST.okay) handles.push(r.handle);
        } else if (op === 2) {
          const h = rand() < 0.7 && handles.length > 0 ? handles.splice(int(handles.length), 1)[0]! : int(2000) - 10;
          expect(STATUSES.has(t.g.unmapGrant(h))).toBe(true);
        } else if (op === 3) {
          const side = () => (rand() < 0.5 ? { ref: refOf(), offset: int(5000) - 100 } : { buf: new Uint8Array(int(5000)), offset: int(5000) });
          for (const s of t.g.copy([{ source: side(), dest: side(), len: pick([0, int(5000), -1, 0.5]) }])) expect(STATUSES.has(s)).toBe(true);
        } else if (op === 4) {
          const h = handles.length > 0 && rand() < 0.8 ? pick(handles) : int(3000) - 5;
          t.g.read(h, int(5000) - 100, int(5000));
          expect(STATUSES.has(t.g.write(h, int(5000) - 100, new Uint8Array(int(64))))).toBe(true);
        } else {
          // Guest-issued ops with random struct bytes (some pointing off the end of memory).
          const at = pick([ARG, ARG + int(4096), t.mem.size - int(64), 0xfffff000]);
          for (let b = 0; b < 64; b++) t.mem.write8(at + b, int(256));
          if (rand() < 0.5) t.mem.write32(at + 12, refOf() >>> 0);
          const cmd = pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, int(0x2000)]);
          const rc = t.call(GNTTAB, cmd, at, pick([0, 1, 2, 3, int(8), 0xffffffff]));
          expect(Number.isInteger(rc)).toBe(true);
          expect(rc).toBeLessThanOrEqual(0);
        }
      }
      // Everything the backend and the guest hold can be released, and the table still works afterwards.
      for (const h of handles) expect(t.g.unmapGrant(h)).toBe(GNTST.okay);
      expect(t.g.mappings('backend')).toBe(0);
      for (let h = 0; h < MAPTRACK_LIMIT; h++) t.g.unmapHandle('guest', h, null, null);
      expect(t.g.mappings('guest')).toBe(0);
      t.grant(7, P1, RW, 0);
      const m = t.g.mapGrant(7);
      expect(m.status).toBe(GNTST.okay);
      t.g.unmapGrant(m.handle);
      expect(t.flags(7)).toBe(RW);
    });
  }
});
