/**
 * Xen's public header io/ring.h: the shared-ring page layout and the rules
 * both ends follow, as data and pure functions for the VMM's backends.
 *
 * Mirrors the layout in templates/minios/include/xen/io/ring.h (whose
 * helper API is xenkit's own). The protocol:
 *  - a 64-byte header (req_prod, req_event, rsp_prod, rsp_event, then
 *    48 bytes of pvt/__pad), slots from offset 64;
 *  - slot count = (ring bytes − 64) / slot size rounded down to a power
 *    of two; indices are free-running uint32, slot = idx & (count − 1);
 *  - the front end initialises producers to 0 and events to 1;
 *  - a producer publishes its index (after a write barrier), then a full
 *    barrier, and notifies iff (u32)(new − event) < (u32)(new − old);
 *  - a consumer that finds nothing left sets event = cons + 1, issues a
 *    full barrier and checks again before sleeping.
 */
import { struct } from './layout.js';

/** Header offsets (plain data: the probe checks them via each struct <name>_sring). */
export const SRING_HEADER = Object.freeze({
  size: 64,
  req_prod: 0,
  req_event: 4,
  rsp_prod: 8,
  rsp_event: 12,
  pvt: 16,
  __pad: 20,
  ring: 64,
});

/** The layout of a `struct <name>_sring`; `ring` is its flexible slot array. */
export function sringLayout(cname: string) {
  return struct(cname, 64, {
    req_prod: [0, 'u32'],
    req_event: [4, 'u32'],
    rsp_prod: [8, 'u32'],
    rsp_event: [12, 'u32'],
    pvt: [16, 'blob[4]'],
    'pvt.netif.smartpoll_active': [16, 'u8'],
    'pvt.tapif_user.msg': [16, 'u8'],
    'pvt.pvt_pad': [16, 'u8[4]'],
    __pad: [20, 'u8[44]'],
    ring: [64, 'blob[0]'],
  });
}

/** Largest power of two ≤ n (0 for n < 1). */
export function pow2Floor(n: number): number {
  if (!(n >= 1)) return 0;
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

/** Slots in a ring area of `bytes` bytes (one page: 4096) with `slotSize`-byte slots. */
export function ringEntries(bytes: number, slotSize: number): number {
  return pow2Floor(Math.floor((bytes - SRING_HEADER.size) / slotSize));
}

/** Byte offset, within the ring area, of the slot free-running index `idx` names. */
export function slotOffset(idx: number, entries: number, slotSize: number): number {
  return SRING_HEADER.ring + ((idx >>> 0) & (entries - 1)) * slotSize;
}

/** Entries published but not yet consumed (indices wrap modulo 2^32). */
export function unconsumed(prod: number, cons: number): number {
  return (prod - cons) >>> 0;
}

/**
 * Requests a back end may take now: those published, but no more than
 * the slots whose responses it has already produced leave free.
 */
export function backRequestsAvailable(reqProd: number, reqCons: number, rspProdPvt: number, entries: number): number {
  const waiting = (reqProd - reqCons) >>> 0;
  const room = (entries - ((reqCons - rspProdPvt) >>> 0)) >>> 0;
  return Math.min(waiting, room);
}

/**
 * The producer's notify rule: after moving the producer index from
 * `oldProd` to `newProd`, notify iff the peer's event index lies in
 * (oldProd, newProd].
 */
export function needsNotify(oldProd: number, newProd: number, event: number): boolean {
  return ((newProd - event) >>> 0) < ((newProd - oldProd) >>> 0);
}

/**
 * The consumer's final check. `readProd` re-reads the shared producer
 * index, `writeEvent` stores the consumer's event index. Returns true if
 * there is more to consume (the caller should loop), false if it may
 * sleep until notified.
 */
export function finalCheck(readProd: () => number, writeEvent: (v: number) => void, cons: number): boolean {
  if ((readProd() >>> 0) !== (cons >>> 0)) return true;
  writeEvent((cons + 1) >>> 0);
  return (readProd() >>> 0) !== (cons >>> 0);
}

export interface SringIndices {
  req_prod: number;
  req_event: number;
  rsp_prod: number;
  rsp_event: number;
}

/** Read the four indices of the ring header at `at`. */
export function decodeSringHeader(buf: Uint8Array, at = 0): SringIndices {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, SRING_HEADER.size);
  return {
    req_prod: dv.getUint32(SRING_HEADER.req_prod, true),
    req_event: dv.getUint32(SRING_HEADER.req_event, true),
    rsp_prod: dv.getUint32(SRING_HEADER.rsp_prod, true),
    rsp_event: dv.getUint32(SRING_HEADER.rsp_event, true),
  };
}

/** Write any of the four indices of the ring header at `at`. */
export function encodeSringHeader(buf: Uint8Array, v: Partial<SringIndices>, at = 0): void {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, SRING_HEADER.size);
  for (const k of ['req_prod', 'req_event', 'rsp_prod', 'rsp_event'] as const) {
    const x = v[k];
    if (x !== undefined) dv.setUint32(SRING_HEADER[k], x >>> 0, true);
  }
}

/** Initialise a shared ring header the way a front end does: producers 0, events 1, padding 0. */
export function initSring(buf: Uint8Array, at = 0): void {
  buf.fill(0, at, at + SRING_HEADER.size);
  encodeSringHeader(buf, { req_prod: 0, req_event: 1, rsp_prod: 0, rsp_event: 1 }, at);
}
