/**
 * The back end of an io/ring.h shared ring (reference §5.1;
 * src/vmm/xen/abi/ring.ts holds the layout and the index arithmetic): the
 * one helper every ring backend (blkif, netif tx and rx) is built on.
 *
 * The page is the frontend's: a 64-byte header (req_prod @0, req_event @4,
 * rsp_prod @8, rsp_event @12) and then slots of the union of request and
 * response, `entries` = (4096 − 64) / slotSize rounded down to a power of
 * two. Indices are free-running u32s; slot = idx & (entries − 1).
 *
 * Rules kept here (Xen's io/ring.h macros and Linux's backends):
 *  - The guest is hostile and runs "concurrently" (it may rewrite any byte
 *    of the page at any time). The backend's own indices (`reqCons`,
 *    `rspProdPvt`) are private and never read back from the page; the
 *    only shared value read is req_prod (and rsp_event for notification).
 *  - Sanity (RING_REQUEST_PROD_OVERFLOW, RING_REQUEST_CONS_OVERFLOW): a
 *    req_prod more than `entries` ahead of the responses produced, or
 *    behind the requests already consumed, is impossible for an honest
 *    frontend. The ring is then *corrupt*: `corrupt` records why, every
 *    operation becomes a no-op, and the caller disconnects the device.
 *  - A request is copied out of its slot once (`takeRequest`) and parsed
 *    from the copy only — the guest can change the slot after we looked.
 *  - Never take more requests than there are response slots left
 *    (RING_HAS_UNCONSUMED_REQUESTS's min with the free response room).
 *  - Responses are written into slots whose requests were already copied
 *    out, then published: rsp_prod is written only after the response
 *    bytes ("publish the producer index only after the data"), and the
 *    peer is notified iff its rsp_event lies in (old, new]
 *    (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY).
 *  - Before going idle, req_event = req_cons + 1, then req_prod is read
 *    again (RING_FINAL_CHECK_FOR_REQUESTS), so a request published
 *    meanwhile is not missed and the frontend knows to notify us.
 *  - Work per poll is bounded (`poll`'s budget): a frontend that keeps
 *    the ring full cannot starve the vCPU or the other devices.
 *
 * The page itself is reached through a `RingPage` (a mapped grant in the
 * VMM, a slice of PhysMemory in tests); see also the adapters at the end,
 * which connect backends to the grant-table and event-channel engines.
 */
import { SRING_HEADER, backRequestsAvailable, needsNotify, ringEntries } from '../xen/abi/ring.js';
import type { PhysMemory } from '../memory/phys.js';
import type { GrantTable } from '../xen/grants.js';
import type { BackendChannel, EventChannels } from '../xen/events.js';

/** Bytes in a ring page. */
export const RING_PAGE_SIZE = 4096;

/**
 * One page of guest memory the backend can read and write (offsets
 * 0..4095). Implementations never throw: bytes that cannot be read read
 * as 0xff, writes that cannot be done are dropped.
 */
export interface RingPage {
  /** Little-endian u32 at `offset` (unsigned). */
  read32(offset: number): number;
  write32(offset: number, value: number): void;
  /** A copy of `len` bytes at `offset`. */
  read(offset: number, len: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
}

/** A `RingPage` over the guest-physical page at `pa` (tests, and a VMM that resolved the frame itself). */
export function physRingPage(mem: PhysMemory, pa: number): RingPage {
  const inPage = (off: number, len: number): boolean =>
    Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= RING_PAGE_SIZE;
  return {
    read32: (off) => (inPage(off, 4) ? mem.read32(pa + off) >>> 0 : 0xffff_ffff),
    write32: (off, v) => { if (inPage(off, 4)) mem.write32(pa + off, v >>> 0); },
    read: (off, len) => (inPage(off, len) ? mem.readBytes(pa + off, len) : new Uint8Array(Math.max(0, len | 0)).fill(0xff)),
    write: (off, bytes) => { if (inPage(off, bytes.length)) mem.writeBytes(pa + off, bytes); },
  };
}

/** The shape of one ring: slot size (the request/response union) and the two record sizes. */
export interface RingShape {
  /** sizeof the union of request and response (blkif 108, netif tx 12, netif rx 8). */
  readonly slotSize: number;
  /** Bytes copied out per request (≤ slotSize). */
  readonly requestSize: number;
  /** Bytes written per response (≤ slotSize). */
  readonly responseSize: number;
}

/** Result of one `poll`. */
export interface RingPollResult {
  /** Requests taken this poll. */
  readonly taken: number;
  /** The frontend must be notified (responses crossed its rsp_event). */
  readonly notify: boolean;
  /** Requests are still waiting (budget exhausted): poll again soon. */
  readonly more: boolean;
}

const H = SRING_HEADER;

/** The back end of one shared ring (see the header for the rules). */
export class BackRing {
  /** Slots in the ring (a power of two). */
  readonly entries: number;
  /** Next request to take (private: never read back from the page). */
  reqCons = 0;
  /** Next response slot to fill (private); `rsp_prod` on the page lags until `pushResponses`. */
  rspProdPvt = 0;
  /** Why the ring was found corrupt, or null while it is sane. Sticky. */
  corrupt: string | null = null;
  /** rsp_prod as we last published it (the page's copy may have been scribbled on). */
  private published = 0;

  constructor(
    private readonly page: RingPage,
    readonly shape: RingShape,
  ) {
    const { slotSize, requestSize, responseSize } = shape;
    if (!(Number.isInteger(slotSize) && slotSize > 0 && requestSize > 0 && requestSize <= slotSize
      && responseSize > 0 && responseSize <= slotSize)) {
      throw new RangeError(`bad ring shape ${JSON.stringify(shape)}`);
    }
    this.entries = ringEntries(RING_PAGE_SIZE, slotSize);
  }

  /**
   * Start at `start` instead of 0 (BACK_RING_ATTACH: a backend resuming a
   * ring whose earlier requests were all answered).
   */
  attach(start: number): void {
    this.reqCons = this.rspProdPvt = this.published = start >>> 0;
  }

  /** The frontend's req_prod, as it is now. */
  reqProd(): number {
    return this.page.read32(H.req_prod);
  }

  /**
   * Requests that may be taken now (0 when none, or when the ring is
   * corrupt). Checks req_prod against the sanity rules first and marks the
   * ring corrupt when it breaks them.
   */
  available(): number {
    if (this.corrupt !== null) return 0;
    const prod = this.reqProd();
    // Outstanding = published but not yet answered: never more than the ring holds.
    const outstanding = (prod - this.rspProdPvt) >>> 0;
    if (outstanding > this.entries) {
      this.corrupt = `req_prod ${prod} is ${outstanding} requests past rsp_prod ${this.rspProdPvt} (ring of ${this.entries})`;
      return 0;
    }
    // req_prod moved backwards past what we already consumed.
    if (((prod - this.reqCons) >>> 0) > outstanding) {
      this.corrupt = `req_prod ${prod} went back behind req_cons ${this.reqCons}`;
      return 0;
    }
    return backRequestsAvailable(prod, this.reqCons, this.rspProdPvt, this.entries);
  }

  /** Copy out the next request (call only when `available()` > 0) and consume it. */
  takeRequest(): Uint8Array {
    const off = H.ring + (this.reqCons & (this.entries - 1)) * this.shape.slotSize;
    const req = this.page.read(off, this.shape.requestSize);
    this.reqCons = (this.reqCons + 1) >>> 0;
    return req;
  }

  /**
   * Write one response into the next private response slot (not yet
   * visible: `pushResponses` publishes). `bytes` may be shorter than
   * responseSize; the rest of the response is zeroed.
   */
  putResponse(bytes: Uint8Array): void {
    if (this.corrupt !== null) return;
    const out = new Uint8Array(this.shape.responseSize);
    out.set(bytes.subarray(0, out.length));
    this.page.write(H.ring + (this.rspProdPvt & (this.entries - 1)) * this.shape.slotSize, out);
    this.rspProdPvt = (this.rspProdPvt + 1) >>> 0;
  }

  /** Responses written but not yet published. */
  get unpublished(): number {
    return (this.rspProdPvt - this.published) >>> 0;
  }

  /**
   * RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: publish rsp_prod (after the
   * response bytes) and say whether the frontend must be notified (its
   * rsp_event lies in (old rsp_prod, new rsp_prod]).
   */
  pushResponses(): boolean {
    if (this.corrupt !== null) return false;
    const old = this.published;
    const now = this.rspProdPvt;
    if (old === now) return false;
    this.page.write32(H.rsp_prod, now);
    this.published = now;
    // Read the event only after publishing (the full barrier in the C macro).
    return needsNotify(old, now, this.page.read32(H.rsp_event));
  }

  /**
   * RING_FINAL_CHECK_FOR_REQUESTS: true if requests are waiting; otherwise
   * set req_event = req_cons + 1 (so the frontend notifies on its next
   * request), look again, and return whether one slipped in meanwhile.
   */
  finalCheck(): boolean {
    if (this.available() > 0) return true;
    if (this.corrupt !== null) return false;
    this.page.write32(H.req_event, (this.reqCons + 1) >>> 0);
    return this.available() > 0;
  }

  /**
   * Take up to `budget` requests, handing each copy to `handle` (which
   * answers through `putResponse`, at once or later), then publish the
   * responses. When all is consumed within the budget, do the final check
   * (so the frontend will notify again); otherwise report `more`. Returns
   * early, with nothing more to do, once the ring is corrupt — the caller
   * checks `corrupt` and disconnects.
   */
  poll(handle: (req: Uint8Array) => void, budget = this.entries): RingPollResult {
    let taken = 0;
    let notify = false;
    for (;;) {
      while (taken < budget && this.available() > 0) {
        handle(this.takeRequest());
        taken++;
        if (this.corrupt !== null) break;
      }
      if (this.pushResponses()) notify = true;
      if (this.corrupt !== null) return { taken, notify, more: false };
      if (taken >= budget) return { taken, notify, more: this.available() > 0 };
      if (!this.finalCheck()) return { taken, notify, more: false };
    }
  }

  /** Mark the ring corrupt from outside (the backend found a structural lie). */
  markCorrupt(reason: string): void {
    this.corrupt ??= reason;
  }
}

// --- where a backend's pages and events come from ---------------------------
//
// Small interfaces the device backends depend on, and adapters over the
// Xen layer's engines (src/vmm/xen/grants.ts, src/vmm/xen/events.ts), so a
// backend can be tested with fakes and the Machine wires the real ones.

/**
 * Access to the guest's granted data pages, by grant ref (dom0's
 * GNTTABOP_copy): `read` needs a grant to domain 0, `write` one that is not
 * GTF_readonly. Both fail (null / false) for anything that is not a valid
 * grant of a page to dom0, or a range outside the 4 KiB page.
 */
export interface GrantAccess {
  read(ref: number, offset: number, len: number): Uint8Array | null;
  write(ref: number, offset: number, bytes: Uint8Array): boolean;
}

/** A ring page mapped for the lifetime of a connection. */
export interface MappedRing extends RingPage {
  /** Release the mapping (idempotent). */
  unmap(): void;
}

/** Maps a frontend's ring page by grant ref (writable), or null if the grant is bad. */
export interface RingMapper {
  map(ref: number): MappedRing | null;
}

/** dom0's end of an event channel a backend bound. */
export interface EventLink {
  /** Notify the frontend (dom0's EVTCHNOP_send). */
  notify(): void;
  /** Close dom0's end (idempotent). */
  close(): void;
}

/**
 * Binds dom0's end to the port a frontend allocated unbound for dom0
 * (bind_interdomain); `onKick` runs whenever the frontend notifies. null
 * when the port cannot be bound.
 */
export interface EventBinder {
  bind(guestPort: number, onKick: () => void): EventLink | null;
}

/** `GrantAccess` over the grant-table engine: one GNTTABOP_copy per access. */
export function grantAccessOf(table: GrantTable): GrantAccess {
  return {
    read(ref, offset, len) {
      if (!Number.isInteger(len) || len < 0 || len > RING_PAGE_SIZE) return null;
      const buf = new Uint8Array(len);
      const [st] = table.copy([{ source: { ref, offset }, dest: { buf }, len }]);
      return st === 0 ? buf : null;
    },
    write(ref, offset, bytes) {
      if (bytes.length > RING_PAGE_SIZE) return false;
      const [st] = table.copy([{ source: { buf: bytes }, dest: { ref, offset }, len: bytes.length }]);
      return st === 0;
    },
  };
}

/** `RingMapper` over the grant-table engine: a writable GNTMAP_host_map held until `unmap`. */
export function ringMapperOf(table: GrantTable): RingMapper {
  return {
    map(ref) {
      const r = table.mapGrant(ref);
      if (r.status !== 0) return null;
      const handle = r.handle;
      let live = true;
      return {
        read32: (off) => (live ? table.read32(handle, off) ?? 0xffff_ffff : 0xffff_ffff),
        write32: (off, v) => { if (live) table.write32(handle, off, v); },
        read: (off, len) => (live ? table.read(handle, off, len) : null) ?? new Uint8Array(Math.max(0, len | 0)).fill(0xff),
        write: (off, bytes) => { if (live) table.write(handle, off, bytes); },
        unmap: () => {
          if (!live) return;
          live = false;
          table.unmapGrant(handle);
        },
      };
    },
  };
}

/** `EventBinder` over the event-channel engine (EventChannels.bindBackend). */
export function eventBinderOf(events: EventChannels): EventBinder {
  return {
    bind(guestPort, onKick) {
      const ch: BackendChannel | number = events.bindBackend(guestPort, () => onKick());
      if (typeof ch === 'number') return null;
      return { notify: () => { ch.notify(); }, close: () => ch.close() };
    },
  };
}
