/**
 * Completing the transport checksum of a packet a frontend sent with
 * NETTXF_csum_blank (checksum offload: "the checksum field is blank, fill
 * it in"). Nothing on the way to the peer does it for us — a VXLAN peer or
 * another guest expects a finished packet — so the netback computes it,
 * as Linux's netback does (skb_checksum_setup) before the host stack.
 *
 * netif carries no csum_start / csum_offset, so the packet is parsed:
 * Ethernet (with any 802.1Q / 802.1ad tags), then IPv4 (not a fragment)
 * or IPv6 (hop-by-hop, routing and destination-options headers skipped; a
 * fragment header is not), then TCP or UDP. The checksum (RFC 1071 over
 * the pseudo-header and the transport segment: RFC 793 / RFC 768 for IPv4,
 * RFC 8200 §8.1 for IPv6) is computed from scratch with the field zeroed,
 * so it does not matter whether the frontend left zero or the
 * pseudo-header sum there. UDP's zero result is sent as 0xffff.
 *
 * Pure; mutates only the buffer it is given (the netback's own copy,
 * before the frame is handed over and becomes immutable).
 */

/** Why a checksum could not be filled, or null when it was. */
export type ChecksumProblem =
  | 'not-ip' | 'truncated' | 'fragment' | 'not-tcp-udp' | 'bad-header';

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const TPIDS = new Set([0x8100, 0x88a8]);
const PROTO_TCP = 6;
const PROTO_UDP = 17;
/** IPv6 extension headers with the generic (next header, length in 8-octet units − 1) form that we step over. */
const IPV6_SKIPPABLE = new Set([0, 43, 60]);

function be16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

/** One's-complement sum of `len` bytes at `at` (big-endian 16-bit words, odd byte padded), added to `sum`, unfolded. */
function sum16(b: Uint8Array, at: number, len: number, sum: number): number {
  const end = at + len;
  let i = at;
  for (; i + 1 < end; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if (i < end) sum += b[i]! << 8;
  // No folding needed: 32768 words of 0xffff stay far below 2^53.
  return sum;
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Fill in the TCP or UDP checksum of the Ethernet frame `frame`, in
 * place. Returns null on success, else why the frame has no checksum we
 * can complete (it is then left unchanged).
 */
export function fillChecksum(frame: Uint8Array): ChecksumProblem | null {
  let off = 12;
  let type = be16(frame, off);
  if (frame.length < 14) return 'truncated';
  while (TPIDS.has(type)) {
    if (off + 6 > frame.length) return 'truncated';
    off += 4;
    type = be16(frame, off);
  }
  const l3 = off + 2;
  let proto: number, l4: number, l4len: number, pseudo: number;
  if (type === ETHERTYPE_IPV4) {
    if (l3 + 20 > frame.length) return 'truncated';
    const vihl = frame[l3]!;
    const ihl = (vihl & 0xf) * 4;
    if (vihl >> 4 !== 4 || ihl < 20) return 'bad-header';
    const total = be16(frame, l3 + 2);
    if (total < ihl) return 'bad-header';
    if (l3 + total > frame.length) return 'truncated';
    const frag = be16(frame, l3 + 6);
    if ((frag & 0x3fff) !== 0) return 'fragment'; // MF set or a non-zero offset
    proto = frame[l3 + 9]!;
    l4 = l3 + ihl;
    l4len = total - ihl;
    // Pseudo-header: source, destination, zero, protocol, transport length.
    pseudo = sum16(frame, l3 + 12, 8, 0) + proto + l4len;
  } else if (type === ETHERTYPE_IPV6) {
    if (l3 + 40 > frame.length) return 'truncated';
    if (frame[l3]! >> 4 !== 6) return 'bad-header';
    const payload = be16(frame, l3 + 4);
    if (l3 + 40 + payload > frame.length) return 'truncated';
    const end = l3 + 40 + payload;
    let next = frame[l3 + 6]!;
    l4 = l3 + 40;
    while (IPV6_SKIPPABLE.has(next)) {
      if (l4 + 8 > end) return 'truncated';
      const len = (frame[l4 + 1]! + 1) * 8;
      next = frame[l4]!;
      l4 += len;
      if (l4 > end) return 'truncated';
    }
    if (next === 44) return 'fragment';
    proto = next;
    l4len = end - l4;
    // Pseudo-header: source, destination, 32-bit upper-layer length, zeros, next header.
    pseudo = sum16(frame, l3 + 8, 32, 0) + Math.floor(l4len / 0x10000) + (l4len & 0xffff) + proto;
  } else {
    return 'not-ip';
  }
  let field: number;
  if (proto === PROTO_TCP) {
    if (l4len < 20) return 'truncated';
    field = l4 + 16;
  } else if (proto === PROTO_UDP) {
    if (l4len < 8) return 'truncated';
    const ulen = be16(frame, l4 + 4);
    // The UDP length names the datagram (IPv6 jumbograms aside); it must fit the IP payload.
    if (ulen < 8 || ulen > l4len) return 'bad-header';
    if (ulen !== l4len) {
      pseudo += ulen - l4len; // the pseudo-header carries the UDP length
      l4len = ulen;
    }
    field = l4 + 6;
  } else {
    return 'not-tcp-udp';
  }
  frame[field] = 0;
  frame[field + 1] = 0;
  let c = (~fold(sum16(frame, l4, l4len, pseudo))) & 0xffff;
  if (proto === PROTO_UDP && c === 0) c = 0xffff;
  frame[field] = c >> 8;
  frame[field + 1] = c & 0xff;
  return null;
}

/**
 * Check the TCP or UDP checksum of `frame` (tests, traces): true when it
 * is correct, false when wrong, null when the frame has none we parse.
 */
export function checksumOk(frame: Uint8Array): boolean | null {
  const copy = frame.slice();
  if (fillChecksum(copy) !== null) return null;
  return copy.every((x, i) => x === frame[i]);
}
