/**
 * Xen's public header io/netif.h, single-queue data path. These layouts
 * are the same on i386 and x86_64; one-page tx and rx rings have 256
 * slots each.
 *
 * Mirrors templates/minios/include/xen/io/netif.h.
 */
import { constants, struct } from './layout.js';
import { ringEntries, sringLayout } from './ring.js';

export const XEN_NETIF_NR_SLOTS_MIN = 18;
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;

export const NETTXF = constants('NETTXF_', {
  csum_blank: 1 << 0,
  data_validated: 1 << 1,
  more_data: 1 << 2,
  extra_info: 1 << 3,
});

export const NETRXF = constants('NETRXF_', {
  data_validated: 1 << 0,
  csum_blank: 1 << 1,
  more_data: 1 << 2,
  extra_info: 1 << 3,
  gso_prefix: 1 << 4,
});

export const NETIF_RSP = constants('NETIF_RSP_', { DROPPED: -2, ERROR: -1, OKAY: 0, NULL: 1 });

export const XEN_NETIF_EXTRA_TYPE = constants('XEN_NETIF_EXTRA_TYPE_', {
  NONE: 0,
  GSO: 1,
  MCAST_ADD: 2,
  MCAST_DEL: 3,
  HASH: 4,
  MAX: 5,
});
export const XEN_NETIF_EXTRA_FLAG_MORE = 1;

export const XEN_NETIF_GSO_TYPE = constants('XEN_NETIF_GSO_TYPE_', { NONE: 0, TCPV4: 1, TCPV6: 2 });

export const NETIF_TX_REQUEST = struct('struct netif_tx_request', 12, {
  gref: [0, 'u32'],
  offset: [4, 'u16'],
  flags: [6, 'u16'],
  id: [8, 'u16'],
  size: [10, 'u16'],
});

export const NETIF_EXTRA_INFO = struct('struct netif_extra_info', 8, {
  type: [0, 'u8'],
  flags: [1, 'u8'],
  u: [2, 'blob[6]'],
  'u.gso.size': [2, 'u16'],
  'u.gso.type': [4, 'u8'],
  'u.gso.pad': [5, 'u8'],
  'u.gso.features': [6, 'u16'],
  'u.mcast.addr': [2, 'u8[6]'],
  'u.hash.type': [2, 'u8'],
  'u.hash.algorithm': [3, 'u8'],
  'u.hash.value': [4, 'u8[4]'],
  'u.pad': [2, 'u16[3]'],
});

export const NETIF_TX_RESPONSE = struct('struct netif_tx_response', 4, {
  id: [0, 'u16'],
  status: [2, 'i16'],
});

export const NETIF_RX_REQUEST = struct('struct netif_rx_request', 8, {
  id: [0, 'u16'],
  pad: [2, 'u16'],
  gref: [4, 'u32'],
});

export const NETIF_RX_RESPONSE = struct('struct netif_rx_response', 8, {
  id: [0, 'u16'],
  offset: [2, 'u16'],
  flags: [4, 'u16'],
  status: [6, 'i16'],
});

export const NETIF_TX_SRING_ENTRY = struct('union netif_tx_sring_entry', 12, {
  req: [0, NETIF_TX_REQUEST],
  rsp: [0, NETIF_TX_RESPONSE],
});
export const NETIF_RX_SRING_ENTRY = struct('union netif_rx_sring_entry', 8, {
  req: [0, NETIF_RX_REQUEST],
  rsp: [0, NETIF_RX_RESPONSE],
});

export const NETIF_TX_SRING = sringLayout('struct netif_tx_sring');
export const NETIF_RX_SRING = sringLayout('struct netif_rx_sring');

/** One-page ring geometry (derived; no C constants). */
export const NETIF_TX_RING = Object.freeze({
  slotSize: NETIF_TX_SRING_ENTRY.size,
  entries: ringEntries(4096, NETIF_TX_SRING_ENTRY.size),
});
export const NETIF_RX_RING = Object.freeze({
  slotSize: NETIF_RX_SRING_ENTRY.size,
  entries: ringEntries(4096, NETIF_RX_SRING_ENTRY.size),
});
