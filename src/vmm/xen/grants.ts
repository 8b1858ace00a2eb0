/**
 * Grant tables v1, the hypervisor side (reference §3.2 "Grant tables",
 * §3.3 "Grant-table op structs", §5.4): the engine Xen's
 * common/grant_table.c is, for the one guest domain xenkit runs.
 *
 * The guest publishes `grant_entry_v1 {flags u16 @0, domid u16 @2, frame
 * u32 @4}` records in its grant frames (`dom.grantFrames[i]`, physical frame
 * numbers: Xen-owned frames above RAM for PV, wherever XENMEM_add_to_physmap
 * put them for PVH — the entry address is computed from the current list on
 * every access, so a relocated frame is read where it lives now). Entry
 * `ref` sits in frame `ref >> 9` at byte `(ref & 511) * 8`; there are
 * `grantFrames.length * 512` entries.
 *
 * Two kinds of caller map and copy grants:
 *  - the in-VMM backends, which play domain 0 (`BACKEND_DOMID`): they use
 *    `mapGrant` / `unmapGrant` / `read` / `write` / `copy` below and never
 *    see physical addresses;
 *  - the guest itself through grant_table_op (hypercalls/gnttab.ts), which
 *    passes the arch hooks that install or remove its PTEs.
 * Each caller has its own maptrack table (handles are per mapping domain, as
 * in Xen), and each grant ref has one *active entry* (pin counts, the domain
 * that pinned it, the frame it resolved to).
 *
 * Xen's rules kept (function names are Xen's):
 *  - map_grant_ref: neither GNTMAP_host_map nor GNTMAP_device_map →
 *    GNTST_bad_gntref; a PVH caller asking for device_map, application_map
 *    or contains_pte → general_error; unknown granting domain (DOMID_SELF is
 *    not accepted here: rcu_lock_domain_by_id) → bad_domain; no free
 *    maptrack handle → GNTST_no_space; ref ≥ nr entries → bad_gntref; an
 *    entry already pinned by another domain, or whose pin counter of that
 *    kind has reached 128 (GNTPIN_incr2oflow_mask) → general_error.
 *  - _set_status_v1 (first pin, or first writable pin): when not pinned the
 *    entry must be GTF_permit_access (GTF_sub_page refused for maps) and
 *    name the mapping domain, else general_error; a writable pin of a
 *    GTF_readonly entry → general_error. Then GTF_reading (and GTF_writing
 *    for writable pins) is set. Xen does this with a bounded cmpxchg loop
 *    against a concurrently running guest; here the guest is stopped while
 *    the VMM runs, so check-then-set on a fresh read is the same thing.
 *  - get_paged_frame: the entry's frame must be guest RAM of the granting
 *    domain (PV: MFN < nrPages — the identity p2m; PVH: GFN < nrPages),
 *    else GNTST_bad_page, and the flags just set are reduced again.
 *  - The frame is resolved once, at the first pin; later pins of the same
 *    ref reuse it even if the guest rewrote `frame` meanwhile.
 *  - PV page types: a writable pin (host or device part, and a copy
 *    destination) needs the frame to be a plain writable page — a frame
 *    that is a validated page table or a GDT frame → general_error. A
 *    writable mapping holds a writable type reference until unmapped, so
 *    the guest cannot turn the frame into a page table meanwhile (counted
 *    in the PV MMU's PageTableTracker.writable). PVH frames have no types.
 *  - unmap: handle out of range or free → GNTST_bad_handle; a non-zero
 *    dev_bus_addr that differs from the mapped frame's → bad_dev_addr;
 *    only the parts named by a non-zero host_addr / dev_bus_addr are
 *    released; the handle is freed when no part is left. The last pin going
 *    clears GTF_reading, the last writable pin GTF_writing
 *    (reduce_status_for_pin).
 *  - copy (gnttab_copy_one): len 0 → okay before anything else; a side
 *    given by frame number must be DOMID_SELF (even the caller's own
 *    numeric id is refused) → permission_denied; unknown domain →
 *    bad_domain; the source is claimed read-only, then the destination
 *    writable (a GTF_readonly destination → general_error); then
 *    offset + len beyond the 4 KiB page on either side → bad_copy_arg. The
 *    grants are pinned only for the copy (GTF_reading / GTF_writing set and
 *    reduced again).
 *  - swap_grant_ref: either ref out of range → bad_gntref; the same ref →
 *    okay; either pinned → GNTST_eagain; else the two 8-byte entries swap.
 *
 * xenkit choices:
 *  - MAPTRACK_LIMIT handles per mapping domain (Xen grows its maptrack up
 *    to 1024 frames of 256); the handle numbers are opaque.
 *  - Domain 0 exists for the guest (it is where its backends live) but has
 *    no grant table entries of its own for it: a guest mapping or copying a
 *    dom0 grant gets bad_gntref for a ref beyond a table of the guest's size
 *    and general_error otherwise (no entry grants it access).
 *  - Backend buffers stand in for dom0's own pages in `copy`: their bound
 *    is the buffer's length instead of a page.
 *  - The backend's mappings are GNTMAP_host_map (+ readonly): what a dom0
 *    kernel uses; they create no PTE (the backend reads and writes the
 *    frame through this module).
 *
 * Nothing here throws for guest- or backend-supplied values: every ref,
 * handle, offset and length is checked, and guest memory is reached only
 * through PhysMemory's bounds-checked accessors.
 */
import { GNTMAP, GNTST, GTF } from './abi/grant-table.js';
import { DOMID } from './abi/xen.js';
import type { Domain } from './domain.js';
import { pageTables } from './hypercalls/mm.js';

const PAGE = 4096;
/** v1 entries per grant frame, and the entry size. */
const ENTRIES_PER_FRAME = 512, ENTRY_SIZE = 8;

/** The domain the in-VMM backends act as. */
export const BACKEND_DOMID = 0;
/** Maptrack handles per mapping domain. */
export const MAPTRACK_LIMIT = 1024;
/** A pin counter refuses to grow once it has reached this (Xen's 8-bit counters, top bit = overflow guard). */
export const PIN_LIMIT = 128;

// Active-entry pin counts, packed as in Xen (GNTPIN_*): four 8-bit counters.
const PIN_HSTW = 1, PIN_HSTR = 1 << 8, PIN_DEVW = 1 << 16, PIN_DEVR = 1 << 24;
const PIN_WRITE_MASK = 0x00ff00ff; // host-write | device-write counters

/** The active entry of a pinned grant ref. */
interface Active {
  /** Packed pin counters (see PIN_*). */
  pin: number;
  /** Domain holding the pins. */
  domid: number;
  /** Frame the entry resolved to at the first pin. */
  frame: number;
}

/** One maptrack slot: a mapping a mapping domain holds. */
interface Mapping {
  /** Granting domain's id (always the guest: nothing else grants). */
  rd: number;
  ref: number;
  /** GNTMAP_* parts still mapped (host_map / device_map) plus readonly and the rest of the request. */
  flags: number;
  frame: number;
}

/** A fixed-size table of maptrack handles (lowest free first on a fresh table). */
export class MapTrack {
  private readonly slots: (Mapping | null)[];
  private readonly free: number[] = [];

  constructor(readonly limit = MAPTRACK_LIMIT) {
    this.slots = new Array<Mapping | null>(limit).fill(null);
    for (let h = limit - 1; h >= 0; h--) this.free.push(h);
  }

  /** A free handle, or -1 when the table is full. */
  alloc(): number {
    return this.free.pop() ?? -1;
  }

  /** Record the mapping behind an allocated handle. */
  set(handle: number, m: Mapping): void {
    this.slots[handle] = m;
  }

  /** The mapping behind `handle`, or null for anything that is not a live handle. */
  get(handle: number): Mapping | null {
    if (!Number.isInteger(handle) || handle < 0 || handle >= this.limit) return null;
    return this.slots[handle] ?? null;
  }

  /** Return a handle (allocated, live or not) to the free list. */
  release(handle: number): void {
    this.slots[handle] = null;
    this.free.push(handle);
  }

  /** Handles in use. */
  get inUse(): number {
    return this.limit - this.free.length;
  }
}

/** Result of a map: the handle and frame are -1 unless `status` is GNTST_okay. */
export interface GrantMapResult {
  status: number;
  handle: number;
  /** Physical frame now mapped (PV: the MFN; PVH: the GFN — the same number with xenkit's identity p2m). */
  frame: number;
  readonly: boolean;
}

/** One side of a backend copy: a grant ref of the guest, or a backend-local buffer. */
export type GrantCopySide = { ref: number; offset?: number } | { buf: Uint8Array; offset?: number };

/** A backend copy (GNTTABOP_copy with the backend as caller). */
export interface GrantCopyOp {
  source: GrantCopySide;
  dest: GrantCopySide;
  len: number;
}

/** One side of a copy as the engine sees it (guest-issued copies use gref and gmfn). */
export type CopyPtr =
  | { kind: 'gref'; domid: number; ref: number; offset: number }
  | { kind: 'gmfn'; domid: number; gmfn: number; offset: number }
  | { kind: 'buf'; buf: Uint8Array; offset: number };

/**
 * Arch hooks a guest-issued map/unmap passes (Xen's create_grant_host_mapping
 * / replace_grant_host_mapping): install or remove the mapping at
 * `hostAddr`; both return a GNTST_* status.
 */
export interface HostMappingHooks {
  create(hostAddr: bigint, frame: number, flags: number): number;
  replace(hostAddr: bigint, frame: number, newAddr: bigint, flags: number): number;
}

/** Who is calling: the in-VMM backends (domain 0) or the guest itself. */
export type GrantCaller = 'backend' | 'guest';

/** What a guest-issued unmap names (unmap_grant_ref / unmap_and_replace). */
export interface UnmapRequest {
  hostAddr: bigint;
  devBusAddr: bigint;
  newAddr: bigint;
}

/** A claimed copy side: where the bytes are, and what to release afterwards. */
interface Claimed {
  read(off: number, len: number): Uint8Array;
  write(off: number, data: Uint8Array): void;
  /** Bytes addressable from offset 0 (a page, or the buffer's length). */
  size: number;
  /** The grant pinned for the copy, or -1. */
  ref: number;
  readonly: boolean;
}

/** The guest's grant table as the hypervisor sees it: active entries, the maptrack tables, the backend API. */
export class GrantTable {
  private readonly active = new Map<number, Active>();
  private readonly tracks: Record<GrantCaller, MapTrack> = { backend: new MapTrack(), guest: new MapTrack() };

  /** Holds only the reference: the domain's fields are read at each call (it is still being constructed). */
  constructor(private readonly dom: Domain) {}

  /** Grant entries the table holds (512 per v1 frame). */
  get nrEntries(): number {
    return this.dom.grantFrames.length * ENTRIES_PER_FRAME;
  }

  /** Handles the caller holds. */
  mappings(caller: GrantCaller): number {
    return this.tracks[caller].inUse;
  }

  /** The guest's entry `ref` as it is now in memory (null for a ref out of range). */
  entry(ref: number): { flags: number; domid: number; frame: number } | null {
    if (!this.validRef(ref)) return null;
    const pa = this.entryPa(ref), mem = this.dom.mem;
    return { flags: mem.read16(pa), domid: mem.read16(pa + 2), frame: mem.read32(pa + 4) >>> 0 };
  }

  // --- the backend API (domain 0) ---------------------------------------------

  /**
   * Map the guest's grant `ref` for a backend (GNTMAP_host_map, plus
   * GNTMAP_readonly when `readonly`). The entry must grant access to domain
   * 0; see the header for every status.
   */
  mapGrant(ref: number, opts: { readonly?: boolean } = {}): GrantMapResult {
    const ro = opts.readonly === true;
    const flags = GNTMAP.host_map | (ro ? GNTMAP.readonly : 0);
    const r = this.mapRef('backend', this.dom.domid, ref, flags, 0n, null);
    return { ...r, readonly: ro };
  }

  /** Unmap a backend mapping: GNTST_okay, or GNTST_bad_handle. */
  unmapGrant(handle: number): number {
    return this.unmapHandle('backend', handle, null, null);
  }

  /** Read `len` bytes at `offset` of a backend mapping; null for a bad handle or range. */
  read(handle: number, offset: number, len: number): Uint8Array | null {
    const m = this.tracks.backend.get(handle);
    if (m === null || !inPage(offset, len)) return null;
    return this.dom.mem.readBytes(m.frame * PAGE + offset, len);
  }

  /**
   * Write `data` at `offset` of a backend mapping: GNTST_okay, bad_handle,
   * bad_copy_arg (outside the page) or permission_denied (read-only mapping).
   */
  write(handle: number, offset: number, data: Uint8Array): number {
    const m = this.tracks.backend.get(handle);
    if (m === null) return GNTST.bad_handle;
    if (!inPage(offset, data.length)) return GNTST.bad_copy_arg;
    if ((m.flags & GNTMAP.readonly) !== 0) return GNTST.permission_denied;
    this.dom.mem.writeBytes(m.frame * PAGE + offset, data);
    return GNTST.okay;
  }

  /** Little-endian u32 at `offset` of a backend mapping (ring indices); null for a bad handle or range. */
  read32(handle: number, offset: number): number | null {
    const b = this.read(handle, offset, 4);
    return b === null ? null : (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }

  /** Store a little-endian u32 at `offset` of a backend mapping; a GNTST status as `write`. */
  write32(handle: number, offset: number, value: number): number {
    const v = value >>> 0;
    return this.write(handle, offset, Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24));
  }

  /**
   * GNTTABOP_copy for the backends: each op copies `len` bytes between a
   * guest grant ({ref, offset}) and a backend buffer ({buf, offset}), or
   * between two grants. Returns one GNTST status per op.
   */
  copy(ops: readonly GrantCopyOp[]): number[] {
    const side = (s: GrantCopySide): CopyPtr =>
      'buf' in s
        ? { kind: 'buf', buf: s.buf, offset: s.offset ?? 0 }
        : { kind: 'gref', domid: this.dom.domid, ref: s.ref, offset: s.offset ?? 0 };
    return ops.map((op) => this.copyOne('backend', side(op.source), side(op.dest), op.len));
  }

  // --- the engine (shared by the backend API and grant_table_op) ----------------

  /**
   * Xen's map_grant_ref for `caller`: pin guest grant `ref` of domain
   * `rdomid` with GNTMAP_* `flags`; `hooks` create the host mapping at
   * `hostAddr` for guest-issued GNTMAP_host_map (null for the backends).
   */
  mapRef(caller: GrantCaller, rdomid: number, ref: number, flags: number, hostAddr: bigint, hooks: HostMappingHooks | null): GrantMapResult {
    const fail = (status: number): GrantMapResult => ({ status, handle: -1, frame: -1, readonly: ro });
    const ro = (flags & GNTMAP.readonly) !== 0;
    let incr = 0;
    if ((flags & GNTMAP.device_map) !== 0) incr += ro ? PIN_DEVR : PIN_DEVW;
    if ((flags & GNTMAP.host_map) !== 0) incr += ro ? PIN_HSTR : PIN_HSTW;
    if (incr === 0) return fail(GNTST.bad_gntref);
    if (caller === 'guest' && this.dom.type === 'pvh' &&
        (flags & (GNTMAP.device_map | GNTMAP.application_map | GNTMAP.contains_pte)) !== 0) return fail(GNTST.general_error);
    const ldomid = this.callerDomid(caller);
    const rd = this.domainById(rdomid, ldomid);
    if (rd === null) return fail(GNTST.bad_domain);
    const track = this.tracks[caller];
    const handle = track.alloc();
    if (handle < 0) return fail(GNTST.no_space);
    const out = (status: number): GrantMapResult => {
      track.release(handle);
      return fail(status);
    };
    if (rd === 'dom0') return out(this.dom0EntryStatus(ref));
    if (!this.validRef(ref)) return out(GNTST.bad_gntref);

    let act = this.active.get(ref);
    if (act !== undefined && (act.domid !== ldomid || (act.pin & (incr << 7)) !== 0)) return out(GNTST.general_error);
    if (act === undefined || (!ro && (act.pin & PIN_WRITE_MASK) === 0)) {
      const rc = this.setStatus(ref, act, ro, true, ldomid);
      if (rc !== GNTST.okay) return out(rc);
      if (act === undefined) {
        const frame = this.pagedFrame(this.entry(ref)!.frame);
        if (frame < 0) {
          this.reduceStatusForPin(ref, 0, ro);
          return out(GNTST.bad_page);
        }
        act = { pin: 0, domid: ldomid, frame };
        this.active.set(ref, act);
      }
    }
    act.pin += incr;
    const frame = act.frame;

    // Page references: a writable part needs a writable PV page type.
    const typeParts = ro ? 0 : ((flags & GNTMAP.device_map) !== 0 ? 1 : 0) + ((flags & GNTMAP.host_map) !== 0 ? 1 : 0);
    let types = 0;
    let rc: number = GNTST.okay;
    for (; types < typeParts; types++) {
      if (!this.takeWritableType(frame)) {
        rc = GNTST.general_error;
        break;
      }
    }
    if (rc === GNTST.okay && (flags & GNTMAP.host_map) !== 0 && hooks !== null) rc = hooks.create(hostAddr, frame, flags);
    if (rc !== GNTST.okay) {
      // undo_out: drop what was taken, unpin, reduce the status flags.
      for (; types > 0; types--) this.dropWritableType(frame);
      this.unpin(ref, act, incr, ro);
      return out(rc);
    }
    track.set(handle, { rd: rdomid, ref, flags, frame });
    return { status: GNTST.okay, handle, frame, readonly: ro };
  }

  /**
   * Xen's unmap_common + unmap_common_complete for `caller`'s `handle`.
   * `req` null (the backends) releases every part; otherwise only the parts
   * named by a non-zero hostAddr / devBusAddr, the host part through
   * `hooks.replace`.
   */
  unmapHandle(caller: GrantCaller, handle: number, req: UnmapRequest | null, hooks: HostMappingHooks | null): number {
    const track = this.tracks[caller];
    const map = track.get(handle);
    if (map === null) return GNTST.bad_handle;
    const act = this.active.get(map.ref);
    // A live mapping always has its active entry; a missing one is a broken invariant.
    if (act === undefined) throw new Error(`grant maptrack handle ${handle} has no active entry for ref ${map.ref}`);
    const flags = map.flags;
    const host = (flags & GNTMAP.host_map) !== 0 && (req === null || req.hostAddr !== 0n);
    const device = (flags & GNTMAP.device_map) !== 0 && (req === null || req.devBusAddr !== 0n);
    if (req !== null && req.devBusAddr !== 0n && (flags & GNTMAP.device_map) !== 0 && req.devBusAddr !== BigInt(act.frame) * BigInt(PAGE)) {
      return GNTST.bad_dev_addr;
    }
    if (host && req !== null && hooks !== null) {
      const rc = hooks.replace(req.hostAddr, act.frame, req.newAddr, flags);
      if (rc !== GNTST.okay) return rc;
    }
    if (host) map.flags &= ~GNTMAP.host_map;
    if (device) map.flags &= ~GNTMAP.device_map;
    if ((map.flags & (GNTMAP.host_map | GNTMAP.device_map)) === 0) track.release(handle);
    // unmap_common_complete.
    const ro = (flags & GNTMAP.readonly) !== 0;
    let decr = 0;
    if (device) decr += ro ? PIN_DEVR : PIN_DEVW;
    if (host) decr += ro ? PIN_HSTR : PIN_HSTW;
    if (!ro) {
      if (device) this.dropWritableType(act.frame);
      if (host) this.dropWritableType(act.frame);
    }
    if (decr !== 0) this.unpin(map.ref, act, decr, ro);
    return GNTST.okay;
  }

  /** Xen's gnttab_copy_one for `caller` (see the header for the order of checks). */
  copyOne(caller: GrantCaller, src: CopyPtr, dst: CopyPtr, len: number): number {
    if (len === 0) return GNTST.okay;
    const ldomid = this.callerDomid(caller);
    for (const p of [src, dst]) {
      if (p.kind === 'buf') continue;
      if (p.kind === 'gmfn' && (p.domid & 0xffff) !== DOMID.SELF) return GNTST.permission_denied;
      if (this.domainByAnyId(p.domid, caller) === null) return GNTST.bad_domain;
    }
    const s = this.claim(caller, src, true, ldomid);
    if (typeof s === 'number') return s;
    const d = this.claim(caller, dst, false, ldomid);
    if (typeof d === 'number') {
      this.releaseClaim(s);
      return d;
    }
    let rc: number = GNTST.okay;
    if (!Number.isInteger(len) || len < 0 || len > 0xffff ||
        !inRange(src.offset, len, s.size) || !inRange(dst.offset, len, d.size)) {
      rc = GNTST.bad_copy_arg;
    } else {
      d.write(dst.offset, s.read(src.offset, len));
    }
    this.releaseClaim(s);
    this.releaseClaim(d);
    return rc;
  }

  /** Xen's swap_grant_ref (the guest's own table). */
  swap(refA: number, refB: number): number {
    if (!this.validRef(refA) || !this.validRef(refB)) return GNTST.bad_gntref;
    if (refA === refB) return GNTST.okay;
    if (this.active.has(refA) || this.active.has(refB)) return GNTST.eagain;
    const a = this.entryPa(refA), b = this.entryPa(refB), mem = this.dom.mem;
    const ea = mem.readBytes(a, ENTRY_SIZE), eb = mem.readBytes(b, ENTRY_SIZE);
    mem.writeBytes(a, eb);
    mem.writeBytes(b, ea);
    return GNTST.okay;
  }

  // --- internals ---------------------------------------------------------------

  private callerDomid(caller: GrantCaller): number {
    return caller === 'backend' ? BACKEND_DOMID : this.dom.domid;
  }

  /** rcu_lock_domain_by_id from `ldomid`'s view: 'guest', 'dom0' or null (no such domain; DOMID_SELF is not an id). */
  private domainById(domid: number, ldomid: number): 'guest' | 'dom0' | null {
    if (!Number.isInteger(domid)) return null;
    const id = domid & 0xffff;
    if (id === this.dom.domid) return 'guest';
    if (id === BACKEND_DOMID && ldomid !== BACKEND_DOMID) return 'dom0';
    return null;
  }

  /** rcu_lock_domain_by_any_id: DOMID_SELF names the caller. */
  private domainByAnyId(domid: number, caller: GrantCaller): 'guest' | 'dom0' | null {
    if (Number.isInteger(domid) && (domid & 0xffff) === DOMID.SELF) return caller === 'guest' ? 'guest' : 'dom0';
    if (caller === 'backend' && Number.isInteger(domid) && (domid & 0xffff) === BACKEND_DOMID) return 'dom0';
    return this.domainById(domid, this.callerDomid(caller));
  }

  /** A grant of domain 0 as the guest sees it (see the header): never granted. */
  private dom0EntryStatus(ref: number): number {
    return this.validRef(ref) ? GNTST.general_error : GNTST.bad_gntref;
  }

  private validRef(ref: number): boolean {
    return Number.isInteger(ref) && ref >= 0 && ref < this.nrEntries;
  }

  /** Physical address of entry `ref` (valid ref), in the frame where it lives now. */
  private entryPa(ref: number): number {
    return this.dom.grantFrames[Math.floor(ref / ENTRIES_PER_FRAME)]! * PAGE + (ref % ENTRIES_PER_FRAME) * ENTRY_SIZE;
  }

  /** get_paged_frame: the granted frame if it is RAM of the guest, else -1 (GNTST_bad_page). */
  private pagedFrame(gfn: number): number {
    return Number.isInteger(gfn) && gfn >= 0 && gfn < this.dom.nrPages ? gfn : -1;
  }

  /**
   * _set_status_v1: check the entry (type, domid — only when not pinned;
   * readonly for a writable pin) and set GTF_reading / GTF_writing.
   */
  private setStatus(ref: number, act: Active | undefined, ro: boolean, mapflag: boolean, ldomid: number): number {
    const pa = this.entryPa(ref), mem = this.dom.mem;
    // One read of flags and domid together, as Xen's 32-bit combo read.
    const flags = mem.read16(pa), domid = mem.read16(pa + 2);
    const mask = GTF.type_mask | (mapflag ? GTF.sub_page : 0);
    if (act === undefined && ((flags & mask) !== GTF.permit_access || domid !== ldomid)) return GNTST.general_error;
    let nflags = flags | GTF.reading;
    if (!ro) {
      if ((flags & GTF.readonly) !== 0) return GNTST.general_error;
      nflags |= GTF.writing;
    }
    // Xen's cmpxchg: the guest cannot run between the read and this write.
    mem.write16(pa, nflags);
    return GNTST.okay;
  }

  /** reduce_status_for_pin: clear GTF_reading when unpinned, GTF_writing when no writable pin is left. */
  private reduceStatusForPin(ref: number, pin: number, ro: boolean): void {
    let clear = pin === 0 ? GTF.reading : 0;
    if (!ro && (pin & PIN_WRITE_MASK) === 0) clear |= GTF.writing;
    if (clear === 0) return;
    const pa = this.entryPa(ref), mem = this.dom.mem;
    mem.write16(pa, mem.read16(pa) & ~clear);
  }

  /** Drop `decr` pins of `ref` and reduce its status flags; the entry goes away with its last pin. */
  private unpin(ref: number, act: Active, decr: number, ro: boolean): void {
    act.pin -= decr;
    if (act.pin === 0) this.active.delete(ref);
    this.reduceStatusForPin(ref, act.pin, ro);
  }

  /**
   * acquire_grant_for_copy: pin `ref` for reading (source) or writing
   * (destination) on behalf of `ldomid`; the frame, or a GNTST status (< 0).
   */
  private acquireForCopy(ref: number, ro: boolean, ldomid: number): number {
    if (!this.validRef(ref)) return GNTST.bad_gntref;
    const incr = ro ? PIN_HSTR : PIN_HSTW;
    let act = this.active.get(ref);
    if (act !== undefined && (act.domid !== ldomid || (act.pin & (incr << 7)) !== 0)) return GNTST.general_error;
    if (act === undefined || (!ro && (act.pin & PIN_WRITE_MASK) === 0)) {
      const rc = this.setStatus(ref, act, ro, false, ldomid);
      if (rc !== GNTST.okay) return rc;
      const frame = this.pagedFrame(this.entry(ref)!.frame);
      if (frame < 0 || (act !== undefined && act.frame !== frame)) {
        this.reduceStatusForPin(ref, act?.pin ?? 0, ro);
        return frame < 0 ? GNTST.bad_page : GNTST.general_error;
      }
      if (act === undefined) {
        act = { pin: 0, domid: ldomid, frame };
        this.active.set(ref, act);
      }
    }
    act.pin += incr;
    return act.frame;
  }

  /** gnttab_copy_claim_buf: make one side of a copy addressable, or a GNTST status. */
  private claim(caller: GrantCaller, p: CopyPtr, ro: boolean, ldomid: number): Claimed | number {
    const mem = this.dom.mem;
    if (p.kind === 'buf') {
      const buf = p.buf;
      return {
        read: (off, len) => buf.slice(off, off + len),
        write: (off, data) => buf.set(data, off),
        size: buf.length, ref: -1, readonly: ro,
      };
    }
    const rd = this.domainByAnyId(p.domid, caller)!;
    let frame: number, ref = -1;
    if (p.kind === 'gref') {
      if (rd === 'dom0') return this.dom0EntryStatus(p.ref);
      frame = this.acquireForCopy(p.ref, ro, ldomid);
      if (frame < 0) return frame;
      ref = p.ref;
    } else {
      // A frame of the caller's own (DOMID_SELF): the backends have none.
      if (rd === 'dom0') return GNTST.bad_page;
      frame = this.pagedFrame(p.gmfn);
      if (frame < 0) return GNTST.bad_page;
    }
    const claimed: Claimed = {
      read: (off, len) => mem.readBytes(frame * PAGE + off, len),
      write: (off, data) => mem.writeBytes(frame * PAGE + off, data),
      size: PAGE, ref, readonly: ro,
    };
    // A copy destination must be a writable page (PV page types).
    if (!ro && !this.writableType(frame)) {
      this.releaseClaim(claimed);
      return GNTST.general_error;
    }
    return claimed;
  }

  /** release_grant_for_copy. */
  private releaseClaim(c: Claimed): void {
    if (c.ref < 0) return;
    const act = this.active.get(c.ref);
    if (act !== undefined) this.unpin(c.ref, act, c.readonly ? PIN_HSTR : PIN_HSTW, c.readonly);
  }

  // PV page types live in the MMU's PageTableTracker: a frame is a plain
  // writable page unless it is a tracked page table or a GDT frame, and a
  // writable grant mapping counts as a writable mapping there, so the frame
  // cannot be promoted to a page table while the mapping exists.

  private writableType(frame: number): boolean {
    if (this.dom.type !== 'pv') return true;
    const pt = pageTables(this.dom);
    pt.sync();
    return pt.writableType(frame);
  }

  private takeWritableType(frame: number): boolean {
    if (this.dom.type !== 'pv') return true;
    if (!this.writableType(frame)) return false;
    const w = pageTables(this.dom).writable;
    w.set(frame, (w.get(frame) ?? 0) + 1);
    return true;
  }

  private dropWritableType(frame: number): void {
    if (this.dom.type !== 'pv') return;
    const w = pageTables(this.dom).writable;
    const n = (w.get(frame) ?? 0) - 1;
    if (n > 0) w.set(frame, n);
    else w.delete(frame);
  }
}

/** offset and len integers with [offset, offset+len) inside one page. */
function inPage(offset: number, len: number): boolean {
  return inRange(offset, len, PAGE);
}

function inRange(offset: number, len: number, size: number): boolean {
  return Number.isInteger(offset) && Number.isInteger(len) && offset >= 0 && len >= 0 && offset + len <= size;
}
