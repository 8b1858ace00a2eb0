/**
 * Xen's public header io/blkif.h (and the protocol names of
 * io/protocols.h), x86_32 ABI ("x86_32-abi"): id sits at 4 and
 * sector_number at 12, so a request is 108 bytes and a response 12; a
 * one-page ring has 32 slots.
 *
 * Mirrors templates/minios/include/xen/io/blkif.h.
 */
import { constants, struct } from './layout.js';
import { ringEntries, sringLayout } from './ring.js';

export const XEN_IO_PROTO_ABI_X86_32 = 'x86_32-abi';
export const XEN_IO_PROTO_ABI_X86_64 = 'x86_64-abi';

export const BLKIF_OP = constants('BLKIF_OP_', {
  READ: 0,
  WRITE: 1,
  WRITE_BARRIER: 2,
  FLUSH_DISKCACHE: 3,
  RESERVED_1: 4,
  DISCARD: 5,
  INDIRECT: 6,
});

export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
export const BLKIF_DISCARD_SECURE = 1;

export const BLKIF_RSP = constants('BLKIF_RSP_', { EOPNOTSUPP: -2, ERROR: -1, OKAY: 0 });

/** Bits of the backend's "info" node. */
export const VDISK = constants('VDISK_', { CDROM: 0x1, REMOVABLE: 0x2, READONLY: 0x4 });

export const BLKIF_REQUEST_SEGMENT = struct('struct blkif_request_segment', 8, {
  gref: [0, 'u32'],
  first_sect: [4, 'u8'],
  last_sect: [5, 'u8'],
});

export const BLKIF_REQUEST = struct('struct blkif_request', 108, {
  operation: [0, 'u8'],
  nr_segments: [1, 'u8'],
  handle: [2, 'u16'],
  id: [4, 'u64'],
  sector_number: [12, 'u64'],
  seg: [20, BLKIF_REQUEST_SEGMENT, 11],
});

export const BLKIF_REQUEST_DISCARD = struct('struct blkif_request_discard', 28, {
  operation: [0, 'u8'],
  flag: [1, 'u8'],
  handle: [2, 'u16'],
  id: [4, 'u64'],
  sector_number: [12, 'u64'],
  nr_sectors: [20, 'u64'],
});

export const BLKIF_REQUEST_INDIRECT = struct('struct blkif_request_indirect', 64, {
  operation: [0, 'u8'],
  indirect_op: [1, 'u8'],
  nr_segments: [2, 'u16'],
  id: [4, 'u64'],
  sector_number: [12, 'u64'],
  handle: [20, 'u16'],
  indirect_grefs: [24, 'u32[8]'],
  pad: [56, 'u64'],
});

export const BLKIF_RESPONSE = struct('struct blkif_response', 12, {
  id: [0, 'u64'],
  operation: [8, 'u8'],
  status: [10, 'i16'],
});

export const BLKIF_SRING_ENTRY = struct('union blkif_sring_entry', 108, {
  req: [0, BLKIF_REQUEST],
  rsp: [0, BLKIF_RESPONSE],
});

export const BLKIF_SRING = sringLayout('struct blkif_sring');

/** One-page ring geometry (derived; no C constant). */
export const BLKIF_RING = Object.freeze({
  slotSize: BLKIF_SRING_ENTRY.size,
  entries: ringEntries(4096, BLKIF_SRING_ENTRY.size),
});
