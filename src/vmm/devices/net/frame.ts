/**
 * Ethernet II frames as the paravirtual network moves them (IEEE 802.3
 * framing without preamble and FCS, which is what netif carries and what
 * VXLAN encapsulates: RFC 7348 §5, "the inner Ethernet frame … without the
 * FCS"). Pure helpers: MAC addresses (text and 48-bit keys), the header
 * fields (destination, source, EtherType after any 802.1Q / 802.1ad tags)
 * and the size check every path applies before it forwards a frame.
 *
 * Sizes. A frame is at least its 14-byte header (destination, source,
 * EtherType; netfront pads nothing and Linux hands us runts below 60 bytes
 * freely, so the 60-byte Ethernet minimum is *not* enforced) and at most
 * 1514 bytes: a 1500-byte MTU payload plus the header. A frame whose first
 * EtherType is a VLAN tag (0x8100, 0x88a8) may be 4 bytes longer (1518).
 * Anything else is dropped by the caller, which counts it (`FrameDrops`).
 *
 * Frames are plain `Uint8Array`s and are treated as immutable once handed
 * over: whoever passes a frame on never writes into it again, so a receiver
 * may keep it without copying, and must not modify it.
 */

/** Bytes of the Ethernet header: destination MAC, source MAC, EtherType. */
export const ETH_HEADER_LEN = 14;
/** Largest untagged frame: a 1500-byte payload plus the header (no FCS). */
export const ETH_MAX_LEN = 1514;
/** Bytes of one 802.1Q / 802.1ad tag (TPID + TCI). */
export const VLAN_TAG_LEN = 4;
/** Largest frame whose first EtherType is a VLAN tag. */
export const ETH_MAX_TAGGED_LEN = ETH_MAX_LEN + VLAN_TAG_LEN;

/** EtherTypes the helpers know by name. */
export const ETHERTYPE = {
  IPV4: 0x0800,
  ARP: 0x0806,
  /** IEEE 802.1Q customer VLAN tag. */
  VLAN: 0x8100,
  IPV6: 0x86dd,
  /** IEEE 802.1ad service VLAN tag (QinQ outer tag). */
  QINQ: 0x88a8,
} as const;

/** Why a frame was refused. */
export type FrameProblem = 'too-short' | 'too-long';

/** Counters of frames refused by `checkFrame`, one per problem. */
export interface FrameDrops {
  tooShort: number;
  tooLong: number;
}

/** Fresh zeroed drop counters. */
export function frameDrops(): FrameDrops {
  return { tooShort: 0, tooLong: 0 };
}

/** Count a problem in `drops`. */
export function countDrop(drops: FrameDrops, problem: FrameProblem): void {
  switch (problem) {
    case 'too-short': drops.tooShort++; break;
    case 'too-long': drops.tooLong++; break;
  }
}

function isVlanTpid(t: number): boolean {
  return t === ETHERTYPE.VLAN || t === ETHERTYPE.QINQ;
}

/**
 * Null when `frame` may be forwarded, else why not: shorter than the
 * header, or longer than 1514 bytes (1518 when it starts with a VLAN tag).
 */
export function checkFrame(frame: Uint8Array): FrameProblem | null {
  if (frame.length < ETH_HEADER_LEN) return 'too-short';
  if (frame.length <= ETH_MAX_LEN) return null;
  const tagged = isVlanTpid(((frame[12]! << 8) | frame[13]!));
  return tagged && frame.length <= ETH_MAX_TAGGED_LEN ? null : 'too-long';
}

/** The parsed Ethernet header of a frame. */
export interface EthernetHeader {
  /** Destination MAC, canonical text. */
  dst: string;
  /** Source MAC, canonical text. */
  src: string;
  /** The EtherType after every VLAN tag (the payload's protocol). */
  etherType: number;
  /** VLAN ids (12-bit VID) of the tags, outermost first; empty when untagged. */
  vlans: number[];
  /** Offset of the payload (14 plus 4 per tag). */
  payloadOffset: number;
}

/**
 * The header of `frame`, skipping any number of 802.1Q / 802.1ad tags; null
 * when the frame is shorter than its header (including a tag cut short).
 */
export function parseEthernet(frame: Uint8Array): EthernetHeader | null {
  if (frame.length < ETH_HEADER_LEN) return null;
  let off = 12;
  let type = (frame[off]! << 8) | frame[off + 1]!;
  const vlans: number[] = [];
  while (isVlanTpid(type)) {
    if (frame.length < off + VLAN_TAG_LEN + 2) return null;
    vlans.push(((frame[off + 2]! << 8) | frame[off + 3]!) & 0x0fff);
    off += VLAN_TAG_LEN;
    type = (frame[off]! << 8) | frame[off + 1]!;
  }
  return { dst: formatMac(frame, 0), src: formatMac(frame, 6), etherType: type, vlans, payloadOffset: off + 2 };
}

/** The destination MAC of a frame (at least 6 bytes), canonical text. */
export function dstMac(frame: Uint8Array): string {
  return formatMac(frame, 0);
}

/** The source MAC of a frame (at least 12 bytes), canonical text. */
export function srcMac(frame: Uint8Array): string {
  return formatMac(frame, 6);
}

/** The EtherType of a frame after its VLAN tags; null when the header is cut short. */
export function etherType(frame: Uint8Array): number | null {
  return parseEthernet(frame)?.etherType ?? null;
}

/** The broadcast address. */
export const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

/**
 * A MAC address as a number (48 bits fit a double exactly): the key of the
 * switch's table, cheaper than text on the forwarding path.
 */
export function macKeyAt(bytes: Uint8Array, off: number): number {
  return (bytes[off]! * 2 ** 40) + (bytes[off + 1]! * 2 ** 32)
    + ((bytes[off + 2]! << 24) >>> 0) + (bytes[off + 3]! << 16) + (bytes[off + 4]! << 8) + bytes[off + 5]!;
}

/** Key of a canonical MAC text (see `macKeyAt`). */
export function macKey(mac: string): number {
  return macKeyAt(macBytes(mac), 0);
}

/** Canonical text of a MAC key. */
export function macFromKey(key: number): string {
  const b = new Uint8Array(6);
  let k = key;
  for (let i = 5; i >= 0; i--) { b[i] = k % 256; k = Math.floor(k / 256); }
  return formatMac(b, 0);
}

/**
 * True for group addresses (the I/G bit, bit 0 of the first octet):
 * broadcast and every multicast. Switches flood them; a station never has one.
 */
export function isGroupMacAt(bytes: Uint8Array, off: number): boolean {
  return (bytes[off]! & 1) !== 0;
}

/** True when the six bytes at `off` are all zero (not a valid station address). */
export function isZeroMacAt(bytes: Uint8Array, off: number): boolean {
  for (let i = 0; i < 6; i++) if (bytes[off + i] !== 0) return false;
  return true;
}

const HEX = '0123456789abcdef';

/** The six bytes at `off` as canonical text: lower-case hex pairs joined by ':'. */
export function formatMac(bytes: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) {
    const x = bytes[off + i]!;
    if (i > 0) s += ':';
    s += HEX[x >> 4]! + HEX[x & 15]!;
  }
  return s;
}

/**
 * Parse `xx:xx:xx:xx:xx:xx` (hex pairs, either case, ':' or '-' between);
 * the canonical text, or null when it is not a MAC address.
 */
export function parseMac(text: string): string | null {
  if (!/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/.test(text)) return null;
  const sep = text[2]!;
  if (text.split(sep).length !== 6) return null; // mixed separators
  return text.toLowerCase().replaceAll('-', ':');
}

/** The six bytes of a canonical MAC text (as `formatMac` writes it). */
export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6) throw new Error(`not a canonical MAC address: ${mac}`);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}
