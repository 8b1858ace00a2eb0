/**
 * netif slots (io/netif.h, single queue, copy mode; reference §5.6,
 * src/vmm/xen/abi/netif.ts): pure parsing of the tx ring's slots into
 * packets, and the codecs of the four ring records. No host I/O: the
 * netback (netback.ts) fetches the data through grant copies, sends it,
 * and answers the slots this module tells it to.
 *
 * Layouts (the same on i386 and x86_64, so the "x86_32-abi" rings are the
 * native ones: tx 12-byte slots, 256 of them; rx 8-byte slots, 256):
 *   netif_tx_request   gref u32 @0, offset u16 @4, flags u16 @6, id u16 @8, size u16 @10
 *   netif_extra_info   type u8 @0, flags u8 @1, union @2 (6 bytes), in a tx slot
 *   netif_tx_response  id u16 @0, status i16 @2
 *   netif_rx_request   id u16 @0, pad u16 @2, gref u32 @4
 *   netif_rx_response  id u16 @0, offset u16 @2, flags u16 @4, status i16 @6
 *
 * A tx packet occupies consecutive slots, in this order:
 *   1. the first request: its `size` is the *whole packet's* length; its
 *      flags carry csum_blank / data_validated for the packet, more_data
 *      when fragments follow, extra_info when extra slots follow;
 *   2. with NETTXF_extra_info: netif_extra_info slots, chained by
 *      XEN_NETIF_EXTRA_FLAG_MORE (GSO, multicast, hash: all skipped, we
 *      offer none of them);
 *   3. with NETTXF_more_data: further requests, each `size` being its own
 *      fragment's length, the chain ending at the first without more_data.
 * The first fragment's length is the packet size less the others
 * (Linux's xenvif_count_requests subtracts them the same way).
 *
 * Every slot is answered exactly once, in ring order: data slots with
 * their own id and the packet's status, extra slots with NETIF_RSP_NULL
 * (netfront skips those; Linux's make_tx_response does the same).
 *
 * What refuses a packet (every slot answered NETIF_RSP_ERROR, extras
 * NULL), where Linux's netback would often declare the frontend fatal:
 *  - a packet size below an Ethernet header (14 bytes);
 *  - more than XEN_NETIF_NR_SLOTS_MIN (18) data slots, or more than 4
 *    extra slots;
 *  - an extra of type 0 (NONE) or ≥ XEN_NETIF_EXTRA_TYPE_MAX;
 *  - a fragment crossing its page (offset + size > 4096), fragments
 *    longer than the packet, or a first fragment that crosses its page.
 * Once a packet is refused its held slots are answered at once and every
 * further slot of its chain as it arrives, so a frontend that never ends
 * a chain cannot make the backend hold more than a packet's worth.
 */
import {
  NETIF_EXTRA_INFO, NETIF_RSP, NETIF_RX_REQUEST, NETIF_RX_RESPONSE, NETIF_TX_REQUEST, NETIF_TX_RESPONSE, NETTXF,
  XEN_NETIF_EXTRA_FLAG_MORE, XEN_NETIF_EXTRA_TYPE, XEN_NETIF_NR_SLOTS_MIN,
} from '../../xen/abi/netif.js';

/** Bytes of a granted page: a fragment or an rx buffer never crosses it. */
export const NET_PAGE_SIZE = 4096;
/** The most data slots one tx packet may use (XEN_NETIF_NR_SLOTS_MIN). */
export const MAX_TX_SLOTS = XEN_NETIF_NR_SLOTS_MIN;
/** The most extra-info slots one tx packet may carry (one per extra type). */
export const MAX_TX_EXTRAS = XEN_NETIF_EXTRA_TYPE.MAX - 1;
/** The smallest packet: an Ethernet header. */
export const MIN_TX_SIZE = 14;

const TXQ = NETIF_TX_REQUEST.fields;
const EXT = NETIF_EXTRA_INFO.fields;
const TXR = NETIF_TX_RESPONSE.fields;
const RXQ = NETIF_RX_REQUEST.fields;
const RXR = NETIF_RX_RESPONSE.fields;

/** One netif_tx_request. */
export interface TxRequest {
  readonly gref: number;
  readonly offset: number;
  readonly flags: number;
  readonly id: number;
  readonly size: number;
}

/** One netif_rx_request: an empty page the guest posted. */
export interface RxRequest {
  readonly id: number;
  readonly gref: number;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Decode a tx slot as a request (the slot must hold ≥ 12 bytes). */
export function decodeTxRequest(b: Uint8Array): TxRequest {
  const v = dv(b);
  return {
    gref: v.getUint32(TXQ.gref, true),
    offset: v.getUint16(TXQ.offset, true),
    flags: v.getUint16(TXQ.flags, true),
    id: v.getUint16(TXQ.id, true),
    size: v.getUint16(TXQ.size, true),
  };
}

/** Encode a netif_tx_request (frontends, tests). */
export function encodeTxRequest(r: TxRequest): Uint8Array {
  const b = new Uint8Array(NETIF_TX_REQUEST.size);
  const v = dv(b);
  v.setUint32(TXQ.gref, r.gref >>> 0, true);
  v.setUint16(TXQ.offset, r.offset & 0xffff, true);
  v.setUint16(TXQ.flags, r.flags & 0xffff, true);
  v.setUint16(TXQ.id, r.id & 0xffff, true);
  v.setUint16(TXQ.size, r.size & 0xffff, true);
  return b;
}

/** The header of a netif_extra_info slot. */
export function decodeExtraInfo(b: Uint8Array): { type: number; flags: number } {
  return { type: b[EXT.type] ?? 0, flags: b[EXT.flags] ?? 0 };
}

/** A netif_tx_response. */
export function encodeTxResponse(id: number, status: number): Uint8Array {
  const b = new Uint8Array(NETIF_TX_RESPONSE.size);
  const v = dv(b);
  v.setUint16(TXR.id, id & 0xffff, true);
  v.setInt16(TXR.status, status, true);
  return b;
}

export function decodeTxResponse(b: Uint8Array): { id: number; status: number } {
  const v = dv(b);
  return { id: v.getUint16(TXR.id, true), status: v.getInt16(TXR.status, true) };
}

export function decodeRxRequest(b: Uint8Array): RxRequest {
  const v = dv(b);
  return { id: v.getUint16(RXQ.id, true), gref: v.getUint32(RXQ.gref, true) };
}

export function encodeRxRequest(r: RxRequest): Uint8Array {
  const b = new Uint8Array(NETIF_RX_REQUEST.size);
  const v = dv(b);
  v.setUint16(RXQ.id, r.id & 0xffff, true);
  v.setUint32(RXQ.gref, r.gref >>> 0, true);
  return b;
}

/** A netif_rx_response: `status` is the byte length when positive, else a NETIF_RSP_* error. */
export function encodeRxResponse(id: number, offset: number, flags: number, status: number): Uint8Array {
  const b = new Uint8Array(NETIF_RX_RESPONSE.size);
  const v = dv(b);
  v.setUint16(RXR.id, id & 0xffff, true);
  v.setUint16(RXR.offset, offset & 0xffff, true);
  v.setUint16(RXR.flags, flags & 0xffff, true);
  v.setInt16(RXR.status, status, true);
  return b;
}

export function decodeRxResponse(b: Uint8Array): { id: number; offset: number; flags: number; status: number } {
  const v = dv(b);
  return {
    id: v.getUint16(RXR.id, true), offset: v.getUint16(RXR.offset, true),
    flags: v.getUint16(RXR.flags, true), status: v.getInt16(RXR.status, true),
  };
}

/** One fragment of a packet: `size` bytes at `offset` of granted page `gref`. */
export interface TxFragment {
  readonly gref: number;
  readonly offset: number;
  readonly size: number;
}

/** A slot of a packet, in ring order: a data slot (answered with `id`) or an extra slot (answered NULL). */
export interface TxSlot {
  readonly id: number;
  readonly extra: boolean;
}

/** A well-formed packet: fetch its fragments (in order), then answer its slots. */
export interface TxPacket {
  /** The packet's length: the sum of the fragments. */
  readonly size: number;
  /** The first request's flags (NETTXF_csum_blank, data_validated). */
  readonly flags: number;
  readonly fragments: readonly TxFragment[];
  readonly slots: readonly TxSlot[];
}

/** A slot answer decided by the parser. */
export interface TxAnswer {
  readonly id: number;
  readonly status: number;
}

/** What one slot led to. */
export interface TxStep {
  /** Slots to answer now, in ring order (those of a refused packet). */
  readonly answers: readonly TxAnswer[];
  /** A packet whose last slot this was, or null. */
  readonly packet: TxPacket | null;
  /** Why the packet was refused, reported once (on the step that refused it). */
  readonly refused: string | null;
}

/** The answer of a slot in a refused or sent packet. */
export function slotStatus(slot: TxSlot, status: number): TxAnswer {
  return { id: slot.extra ? 0 : slot.id, status: slot.extra ? NETIF_RSP.NULL : status };
}

const NONE: TxStep = Object.freeze({ answers: [], packet: null, refused: null });

/**
 * Turns the tx ring's slots, one at a time and in ring order, into
 * packets and answers. The state (a packet whose chain has not ended) may
 * span polls: a frontend may publish a chain in pieces.
 */
export class TxAssembler {
  /** The packet being assembled: its first request, or null between packets. */
  private first: TxRequest | null = null;
  private phase: 'extras' | 'frags' = 'frags';
  private slots: TxSlot[] = [];
  private frags: TxFragment[] = [];
  private fragBytes = 0;
  private dataSlots = 0;
  private extras = 0;
  /** The current packet was refused: its later slots are answered as they come. */
  private failed = false;

  /** Slots taken but not yet answered (a partial packet). */
  get held(): number {
    return this.slots.length;
  }

  /** Forget any partial packet (the ring went away). */
  reset(): void {
    this.first = null;
    this.slots = [];
    this.frags = [];
    this.fragBytes = this.dataSlots = this.extras = 0;
    this.failed = false;
    this.phase = 'frags';
  }

  /** Take the next slot's bytes (as copied out of the ring). */
  push(bytes: Uint8Array): TxStep {
    const first = this.first;
    if (first === null) return this.begin(decodeTxRequest(bytes));
    if (this.phase === 'extras') {
      const ex = decodeExtraInfo(bytes);
      this.extras++;
      const more = (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE) !== 0;
      if (!more) this.phase = 'frags';
      const ends = !more && (first.flags & NETTXF.more_data) === 0;
      const slot: TxSlot = { id: 0, extra: true };
      if (this.failed) return this.drained(slot, ends);
      this.slots.push(slot);
      if (ex.type === XEN_NETIF_EXTRA_TYPE.NONE || ex.type >= XEN_NETIF_EXTRA_TYPE.MAX) {
        return this.refuse(`extra info of type ${ex.type}`, ends);
      }
      if (this.extras > MAX_TX_EXTRAS) return this.refuse(`more than ${MAX_TX_EXTRAS} extra info slots`, ends);
      return ends ? this.finish() : NONE;
    }
    const req = decodeTxRequest(bytes);
    const ends = (req.flags & NETTXF.more_data) === 0;
    this.dataSlots++;
    const slot: TxSlot = { id: req.id, extra: false };
    if (this.failed) return this.drained(slot, ends);
    this.slots.push(slot);
    if (this.dataSlots > MAX_TX_SLOTS) return this.refuse(`packet ${first.id} uses more than ${MAX_TX_SLOTS} slots`, ends);
    if (req.offset + req.size > NET_PAGE_SIZE) {
      return this.refuse(`fragment ${req.id} crosses its page (offset ${req.offset} + size ${req.size})`, ends);
    }
    this.fragBytes += req.size;
    if (this.fragBytes > first.size) {
      return this.refuse(`packet ${first.id}: fragments (${this.fragBytes} bytes so far) exceed its size ${first.size}`, ends);
    }
    this.frags.push({ gref: req.gref, offset: req.offset, size: req.size });
    return ends ? this.finish() : NONE;
  }

  private begin(req: TxRequest): TxStep {
    this.reset();
    this.first = req;
    this.dataSlots = 1;
    this.slots.push({ id: req.id, extra: false });
    const hasExtras = (req.flags & NETTXF.extra_info) !== 0;
    const ends = !hasExtras && (req.flags & NETTXF.more_data) === 0;
    this.phase = hasExtras ? 'extras' : 'frags';
    if (req.size < MIN_TX_SIZE) return this.refuse(`packet ${req.id} of ${req.size} bytes is shorter than an Ethernet header`, ends);
    return ends ? this.finish() : NONE;
  }

  /** The chain ended: the packet is well-formed if its first fragment fits its page. */
  private finish(): TxStep {
    const first = this.first!;
    const firstSize = first.size - this.fragBytes;
    if (first.offset + firstSize > NET_PAGE_SIZE) {
      return this.refuse(`packet ${first.id}: first fragment crosses its page (offset ${first.offset} + size ${firstSize})`, true);
    }
    const packet: TxPacket = {
      size: first.size,
      flags: first.flags,
      fragments: [{ gref: first.gref, offset: first.offset, size: firstSize }, ...this.frags],
      slots: this.slots,
    };
    this.reset();
    return { answers: [], packet, refused: null };
  }

  /** Refuse the current packet: answer what is held now, the rest of its chain as it comes. */
  private refuse(reason: string, ends: boolean): TxStep {
    const answers = this.slots.map((s) => slotStatus(s, NETIF_RSP.ERROR));
    this.slots = [];
    this.frags = [];
    this.failed = true;
    if (ends) this.reset();
    return { answers, packet: null, refused: reason };
  }

  /** A slot of an already refused packet. */
  private drained(slot: TxSlot, ends: boolean): TxStep {
    if (ends) this.reset();
    return { answers: [slotStatus(slot, NETIF_RSP.ERROR)], packet: null, refused: null };
  }
}
