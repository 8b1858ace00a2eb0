/**
 * blkif requests, x86_32 ABI ("x86_32-abi"; reference §5.5,
 * src/vmm/xen/abi/blkif.ts): pure parsing and validation of one request
 * copied out of the ring, and response encoding. No host I/O; the only
 * thing reached outside the request bytes is an INDIRECT request's
 * segment pages, through the injected `readIndirect` grant reader.
 *
 * Layouts (x86_32: `id` at 4, `sector_number` at 12 — not 8/16 as on
 * x86_64):
 *   rw        op u8 @0, nr_segments u8 @1, handle u16 @2, id u64 @4,
 *             sector_number u64 @12, seg[11] @20 (8 bytes each:
 *             gref u32 @0, first_sect u8 @4, last_sect u8 @5)
 *   discard   op @0, flag u8 @1 (BLKIF_DISCARD_SECURE 1), handle @2, id @4,
 *             sector_number @12, nr_sectors u64 @20
 *   indirect  op @0, indirect_op u8 @1, nr_segments u16 @2, id @4,
 *             sector_number @12, handle u16 @20, indirect_grefs u32[8] @24;
 *             the segments live in the granted pages, 512 per page
 *   response  id u64 @0, operation u8 @8, status i16 @10 (12 bytes)
 *
 * Validation (what Linux's xen-blkback refuses, with its statuses):
 *  - READ / WRITE: 1..11 segments; INDIRECT: indirect_op READ or WRITE,
 *    1..maxIndirectSegments segments (the feature-max-indirect-segments we
 *    publish), every indirect page readable — else BLKIF_RSP_ERROR.
 *  - WRITE_BARRIER / FLUSH_DISKCACHE: 0..11 segments; with segments they
 *    carry data to write before the flush (a FUA write, as Linux's
 *    blkfront sends); without, sector_number is ignored (Mini-OS sends 0).
 *  - every segment: first_sect ≤ last_sect ≤ 7 (sectors of a 4 KiB page).
 *  - the sector range [sector, sector + total) lies within the disk
 *    (computed without overflow) — else ERROR.
 *  - a read-only disk refuses anything that writes data (WRITE, a
 *    barrier or flush carrying data, DISCARD) with ERROR; empty barriers
 *    and flushes succeed (there is nothing to make durable).
 *  - DISCARD: EOPNOTSUPP unless feature-discard was published; the
 *    secure flag is EOPNOTSUPP (we publish no discard-secure).
 *  - any other operation (RESERVED_1, unknown) → EOPNOTSUPP.
 * A refused request is answered with its `id` (always at offset 4) and
 * its operation (for INDIRECT: the indirect_op, as Linux answers).
 */
import { BLKIF_DISCARD_SECURE, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST, BLKIF_MAX_SEGMENTS_PER_REQUEST, BLKIF_OP, BLKIF_REQUEST, BLKIF_REQUEST_DISCARD, BLKIF_REQUEST_INDIRECT, BLKIF_RESPONSE, BLKIF_RSP } from '../../xen/abi/blkif.js';

/** blkif's sector unit, whatever the disk's sector-size. */
export const SECTOR_SIZE = 512;
/** Sectors in one granted 4 KiB page: last_sect ≤ 7. */
export const SECTORS_PER_PAGE = 8;
/** `struct blkif_request_segment`s in one indirect page (8 bytes each). */
export const SEGMENTS_PER_INDIRECT_PAGE = 512;
/** What we publish as feature-max-indirect-segments by default (Linux's MAX_INDIRECT_SEGMENTS). */
export const DEFAULT_MAX_INDIRECT_SEGMENTS = 256;
/** The most any frontend can name: 8 indirect pages × 512. */
export const INDIRECT_SEGMENTS_LIMIT = BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * SEGMENTS_PER_INDIRECT_PAGE;
/** Bytes of a request on the x86_32 ring. */
export const REQUEST_SIZE = BLKIF_REQUEST.size;
/** Bytes of a response. */
export const RESPONSE_SIZE = BLKIF_RESPONSE.size;

/** One data segment: sectors first..last (inclusive) of granted page `gref`. */
export interface BlkSegment {
  readonly gref: number;
  readonly firstSect: number;
  readonly lastSect: number;
}

interface Answerable {
  /** The frontend's id, echoed verbatim. */
  readonly id: bigint;
  /** The operation to answer with. */
  readonly operation: number;
}

/** A data transfer. flush/barrier with no segments is a pure flush. */
export interface BlkIo extends Answerable {
  readonly kind: 'read' | 'write' | 'flush' | 'barrier';
  /** First 512-byte sector (0 when there are no segments). */
  readonly sector: number;
  readonly segments: readonly BlkSegment[];
  /** Sum of the segments' sectors. */
  readonly sectors: number;
  /** Came as BLKIF_OP_INDIRECT. */
  readonly indirect: boolean;
}

export interface BlkDiscard extends Answerable {
  readonly kind: 'discard';
  readonly sector: number;
  readonly nrSectors: number;
}

/** A request refused before any I/O: answer `status`. */
export interface BlkReject extends Answerable {
  readonly kind: 'reject';
  /** BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP. */
  readonly status: number;
  readonly reason: string;
}

export type BlkRequest = BlkIo | BlkDiscard;

/** What the parser needs to know about the disk and the features published. */
export interface ParseOptions {
  /** Disk size in 512-byte sectors. */
  readonly diskSectors: number;
  readonly readonly: boolean;
  /** feature-discard was published. */
  readonly discard: boolean;
  /** feature-max-indirect-segments published (0: INDIRECT unsupported). */
  readonly maxIndirectSegments: number;
  /** Reads an indirect page's bytes (a grant reader); null for a bad grant. */
  readonly readIndirect: (gref: number, offset: number, len: number) => Uint8Array | null;
}

const RQ = BLKIF_REQUEST.fields;
const DQ = BLKIF_REQUEST_DISCARD.fields;
const IQ = BLKIF_REQUEST_INDIRECT.fields;
const SEG = 8;

/** Parse and validate one request copied out of the ring (`bytes`: its REQUEST_SIZE bytes). */
export function parseRequest(bytes: Uint8Array, o: ParseOptions): BlkRequest | BlkReject {
  // Work on a private, full-size copy: short input reads as zeros.
  const b = new Uint8Array(REQUEST_SIZE);
  b.set(bytes.subarray(0, REQUEST_SIZE));
  const dv = new DataView(b.buffer);
  const op = b[RQ.operation]!;
  const id = dv.getBigUint64(RQ.id, true);
  const reject = (status: number, reason: string, operation = op): BlkReject => ({ kind: 'reject', id, operation, status, reason });
  const error = (reason: string, operation = op): BlkReject => reject(BLKIF_RSP.ERROR, reason, operation);

  switch (op) {
    case BLKIF_OP.READ:
    case BLKIF_OP.WRITE:
    case BLKIF_OP.WRITE_BARRIER:
    case BLKIF_OP.FLUSH_DISKCACHE: {
      const n = b[RQ.nr_segments]!;
      const data = op === BLKIF_OP.READ || op === BLKIF_OP.WRITE;
      if (n > BLKIF_MAX_SEGMENTS_PER_REQUEST) return error(`${n} segments (at most ${BLKIF_MAX_SEGMENTS_PER_REQUEST})`);
      if (n === 0 && data) return error('no segments');
      const segs: BlkSegment[] = [];
      for (let i = 0; i < n; i++) segs.push(readSegment(dv, RQ.seg + i * SEG));
      const kind = op === BLKIF_OP.READ ? 'read' : op === BLKIF_OP.WRITE ? 'write' : op === BLKIF_OP.FLUSH_DISKCACHE ? 'flush' : 'barrier';
      return io(kind, id, op, dv.getBigUint64(RQ.sector_number, true), segs, false, o, error);
    }
    case BLKIF_OP.DISCARD: {
      if (!o.discard) return reject(BLKIF_RSP.EOPNOTSUPP, 'discard not offered');
      if ((b[DQ.flag]! & BLKIF_DISCARD_SECURE) !== 0) return reject(BLKIF_RSP.EOPNOTSUPP, 'secure discard not offered');
      if (o.readonly) return error('discard on a read-only disk');
      const sector = dv.getBigUint64(DQ.sector_number, true);
      const count = dv.getBigUint64(DQ.nr_sectors, true);
      if (sector + count > BigInt(o.diskSectors)) return error(`discard of sectors ${sector}+${count} beyond the disk's ${o.diskSectors}`);
      return { kind: 'discard', id, operation: op, sector: Number(sector), nrSectors: Number(count) };
    }
    case BLKIF_OP.INDIRECT: {
      const iop = b[IQ.indirect_op]!;
      if (o.maxIndirectSegments <= 0) return reject(BLKIF_RSP.EOPNOTSUPP, 'indirect requests not offered', iop);
      if (iop !== BLKIF_OP.READ && iop !== BLKIF_OP.WRITE) return error(`indirect operation ${iop}`, iop);
      const n = dv.getUint16(IQ.nr_segments, true);
      const max = Math.min(o.maxIndirectSegments, INDIRECT_SEGMENTS_LIMIT);
      if (n === 0 || n > max) return error(`${n} indirect segments (1..${max})`, iop);
      const segs: BlkSegment[] = [];
      for (let page = 0; page * SEGMENTS_PER_INDIRECT_PAGE < n; page++) {
        const gref = dv.getUint32(IQ.indirect_grefs + page * 4, true);
        const count = Math.min(SEGMENTS_PER_INDIRECT_PAGE, n - page * SEGMENTS_PER_INDIRECT_PAGE);
        const raw = o.readIndirect(gref, 0, count * SEG);
        if (raw === null || raw.length < count * SEG) return error(`indirect page ${page} (gref ${gref}) is not readable`, iop);
        // Copy, then parse: the page stays the guest's.
        const pdv = new DataView(Uint8Array.from(raw.subarray(0, count * SEG)).buffer);
        for (let i = 0; i < count; i++) segs.push(readSegment(pdv, i * SEG));
      }
      const kind = iop === BLKIF_OP.READ ? 'read' : 'write';
      return io(kind, id, iop, dv.getBigUint64(IQ.sector_number, true), segs, true, o, error);
    }
    default:
      return reject(BLKIF_RSP.EOPNOTSUPP, `operation ${op} not supported`);
  }
}

function readSegment(dv: DataView, at: number): BlkSegment {
  return { gref: dv.getUint32(at, true), firstSect: dv.getUint8(at + 4), lastSect: dv.getUint8(at + 5) };
}

/** The checks common to every transfer (segments, range, read-only). */
function io(
  kind: BlkIo['kind'], id: bigint, operation: number, sector: bigint, segments: BlkSegment[], indirect: boolean,
  o: ParseOptions, error: (reason: string, operation?: number) => BlkReject,
): BlkIo | BlkReject {
  let sectors = 0;
  for (const [i, s] of segments.entries()) {
    if (s.lastSect >= SECTORS_PER_PAGE || s.firstSect > s.lastSect) {
      return error(`segment ${i}: sectors ${s.firstSect}..${s.lastSect} (need first ≤ last ≤ ${SECTORS_PER_PAGE - 1})`, operation);
    }
    sectors += s.lastSect - s.firstSect + 1;
  }
  if (sectors === 0) return { kind, id, operation, sector: 0, segments, sectors, indirect };
  if (o.readonly && kind !== 'read') return error('write to a read-only disk', operation);
  if (sector + BigInt(sectors) > BigInt(o.diskSectors)) {
    return error(`sectors ${sector}+${sectors} beyond the disk's ${o.diskSectors}`, operation);
  }
  return { kind, id, operation, sector: Number(sector), segments, sectors, indirect };
}

const RS = BLKIF_RESPONSE.fields;

/** A `struct blkif_response` (12 bytes; the pad byte at 9 is zero). */
export function encodeResponse(id: bigint, operation: number, status: number): Uint8Array {
  const out = new Uint8Array(RESPONSE_SIZE);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(RS.id, BigInt.asUintN(64, id), true);
  dv.setUint8(RS.operation, operation & 0xff);
  dv.setInt16(RS.status, status, true);
  return out;
}

/** The response fields (tests, traces). */
export function decodeResponse(bytes: Uint8Array): { id: bigint; operation: number; status: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, RESPONSE_SIZE);
  return { id: dv.getBigUint64(RS.id, true), operation: dv.getUint8(RS.operation), status: dv.getInt16(RS.status, true) };
}
