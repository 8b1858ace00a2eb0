/**
 * Xen's public header io/xs_wire.h: xenstore message types, the message
 * header, the shared xenstore page and the protocol's error names.
 *
 * Mirrors templates/minios/include/xen/io/xs_wire.h. A message is a
 * 16-byte xsd_sockmsg header plus `len` payload bytes, streamed through
 * 1024-byte rings that the stream may wrap around.
 */
import { constants, nameOf, struct } from './layout.js';
import { XEN_ERRNO } from './errno.js';

export const XS = constants('XS_', {
  CONTROL: 0,
  DEBUG: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
  GET_FEATURE: 23,
  SET_FEATURE: 24,
  GET_QUOTA: 25,
  SET_QUOTA: 26,
  TYPE_COUNT: 27,
  INVALID: 0xffff,
});

/** Field order of an XS_WATCH_EVENT payload. */
export const XS_WATCH = constants('XS_WATCH_', { PATH: 0, TOKEN: 1 });

export const XENSTORE_RING_SIZE = 1024;
export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;
export const XENSTORE_REL_PATH_MAX = 2048;

export const XENSTORE_SERVER_FEATURE = constants('XENSTORE_SERVER_FEATURE_', {
  RECONNECTION: 1,
  ERROR: 2,
  WATCHDEPTH: 4,
  DOMID_ANY: 8,
});

export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;

export const XENSTORE_ERROR = constants('XENSTORE_ERROR_', { NONE: 0, COMM: 1, RINGIDX: 2, PROTO: 3 });

/** The error names an XS_ERROR reply may carry, in the protocol's order. */
export const XSD_ERRORS: readonly string[] = Object.freeze([
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
  'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
]);

/**
 * The name to send in an XS_ERROR reply for Xen errno `errno` (sign
 * ignored); undefined when the protocol has no name for it.
 */
export function xsdErrorName(errno: number): string | undefined {
  const name = nameOf(XEN_ERRNO, Math.abs(errno));
  return name !== undefined && XSD_ERRORS.includes(name) ? name : undefined;
}

export const XSD_SOCKMSG = struct('struct xsd_sockmsg', 16, {
  type: [0, 'u32'],
  req_id: [4, 'u32'],
  tx_id: [8, 'u32'],
  len: [12, 'u32'],
});

export const XENSTORE_DOMAIN_INTERFACE = struct('struct xenstore_domain_interface', 2080, {
  req: [0, 'char[1024]'],
  rsp: [1024, 'char[1024]'],
  req_cons: [2048, 'u32'],
  req_prod: [2052, 'u32'],
  rsp_cons: [2056, 'u32'],
  rsp_prod: [2060, 'u32'],
  server_features: [2064, 'u32'],
  connection: [2068, 'u32'],
  error: [2072, 'u32'],
  evtchn_port: [2076, 'u32'],
});

export interface XsHeader {
  type: number;
  req_id: number;
  tx_id: number;
  len: number;
}

/** Decode a 16-byte message header at `at`. */
export function decodeXsHeader(buf: Uint8Array, at = 0): XsHeader {
  const dv = new DataView(buf.buffer, buf.byteOffset + at, XSD_SOCKMSG.size);
  return {
    type: dv.getUint32(0, true),
    req_id: dv.getUint32(4, true),
    tx_id: dv.getUint32(8, true),
    len: dv.getUint32(12, true),
  };
}

/** Header plus payload as one byte string; `len` is taken from the payload. */
export function encodeXsMessage(h: Omit<XsHeader, 'len'>, payload: Uint8Array): Uint8Array {
  if (payload.length > XENSTORE_PAYLOAD_MAX) {
    throw new RangeError(`xenstore payload of ${payload.length} bytes exceeds ${XENSTORE_PAYLOAD_MAX}`);
  }
  const out = new Uint8Array(XSD_SOCKMSG.size + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, h.type >>> 0, true);
  dv.setUint32(4, h.req_id >>> 0, true);
  dv.setUint32(8, h.tx_id >>> 0, true);
  dv.setUint32(12, payload.length, true);
  out.set(payload, XSD_SOCKMSG.size);
  return out;
}

/** Ring offset of free-running index idx. */
export function xenstoreRingIndex(idx: number): number {
  return (idx >>> 0) & (XENSTORE_RING_SIZE - 1);
}
