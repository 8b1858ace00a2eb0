/**
 * VXLAN (RFC 7348, "Virtual eXtensible Local Area Network"): Ethernet
 * frames carried in UDP datagrams, each behind an 8-byte header (§5):
 *
 *    0                   1                   2                   3
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |R|R|R|R|I|R|R|R|            Reserved                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                VXLAN Network Identifier (VNI) |   Reserved    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * followed by the inner Ethernet frame without FCS. The I flag (0x08 in
 * the first byte) "MUST be set to 1 for a valid VNI"; the reserved fields
 * "MUST be set to zero on transmission and ignored on receipt". Linux's
 * vxlan driver speaks exactly this (`ip link add … type vxlan id N`).
 *
 * Encapsulation and decapsulation are pure functions; `VxlanLink` puts
 * them on an injected UDP socket (`UdpSocket`, real in src/cli/net-host.ts):
 *
 * - Point to point. Every frame goes to the one configured remote; there is
 *   no flood-and-learn of VTEPs and no multicast group (a switch behind the
 *   link does the L2 learning).
 * - Any source. A datagram is accepted from any address and port, as long
 *   as it parses and carries our VNI: Linux sends from a source port hashed
 *   over the inner flow (RFC 7348 §5, "Source Port"), a peer behind NAT
 *   shows up with another address, and a second peer may join the segment
 *   by sending to us (it receives only if it is the remote). Like any
 *   VXLAN endpoint, this trusts the underlay: use it on networks you
 *   control, or across a tunnel.
 * - Filtering. Datagrams with another VNI are dropped (`otherVni`); ones
 *   too short for the header and a frame header, without the I flag, or
 *   with an inner frame larger than Ethernet allows are malformed
 *   (`malformed`, `inner.tooShort`, `inner.tooLong`) and dropped. Inner
 *   VLAN tags are passed through (§6.1 says such frames SHOULD be
 *   discarded "unless configured otherwise"; a guest that tags is the
 *   configuration).
 * - Our datagrams leave from the one bound socket, so their UDP source port
 *   is fixed rather than hashed; receivers accept any source port (Linux
 *   does). The UDP checksum is the host stack's business.
 */
import { ETH_HEADER_LEN, checkFrame, countDrop, frameDrops, type FrameDrops } from './frame.js';
import type { UdpAddress } from './spec.js';

/** Bytes of the VXLAN header. */
export const VXLAN_HEADER_LEN = 8;
/** The I flag ("valid VNI"), in the header's first byte. */
export const VXLAN_FLAG_I = 0x08;

/**
 * A bound UDP socket, as the host provides it. Datagrams handed to the
 * message callback are the receiver's (not reused by the host).
 */
export interface UdpSocket {
  /** Send one datagram; errors go to the host's log, not to the caller. */
  send(data: Uint8Array, port: number, address: string): void;
  /** Register the receiver of datagrams (replaces the previous one). */
  onMessage(cb: (data: Uint8Array, from: UdpAddress) => void): void;
  /** The address actually bound (the real port when 0 was asked for). */
  readonly local: UdpAddress;
  /** Stop receiving and release the port. Idempotent. */
  close(): void;
}

/** `frame` behind a VXLAN header carrying `vni` (0 … 2^24 − 1). */
export function vxlanEncap(frame: Uint8Array, vni: number): Uint8Array {
  if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) throw new RangeError(`VNI ${vni} is not a 24-bit number`);
  const out = new Uint8Array(VXLAN_HEADER_LEN + frame.length);
  out[0] = VXLAN_FLAG_I; // bytes 1..3 reserved: zero
  out[4] = vni >>> 16;
  out[5] = (vni >>> 8) & 0xff;
  out[6] = vni & 0xff; // byte 7 reserved: zero
  out.set(frame, VXLAN_HEADER_LEN);
  return out;
}

/** What a received datagram is. */
export type VxlanDecap =
  | { kind: 'frame'; vni: number; frame: Uint8Array }
  | { kind: 'malformed'; reason: 'short' | 'no-i-flag' }
  | { kind: 'bad-frame'; vni: number; problem: 'too-short' | 'too-long' };

/**
 * Parse a datagram. The frame is a view into `packet` (no copy). Reserved
 * bits are ignored, as §5 asks. `bad-frame` is a well-formed header whose
 * inner frame Ethernet would refuse.
 */
export function vxlanDecap(packet: Uint8Array): VxlanDecap {
  if (packet.length < VXLAN_HEADER_LEN) return { kind: 'malformed', reason: 'short' };
  if ((packet[0]! & VXLAN_FLAG_I) === 0) return { kind: 'malformed', reason: 'no-i-flag' };
  const vni = (packet[4]! << 16) | (packet[5]! << 8) | packet[6]!;
  const frame = packet.subarray(VXLAN_HEADER_LEN);
  const problem = checkFrame(frame);
  if (problem !== null) return { kind: 'bad-frame', vni, problem };
  return { kind: 'frame', vni, frame };
}

/** Smallest datagram that can carry a frame. */
export const VXLAN_MIN_DATAGRAM = VXLAN_HEADER_LEN + ETH_HEADER_LEN;

/** Counters of a VXLAN link. Plain data. */
export interface VxlanStats {
  /** Datagrams sent. */
  sent: number;
  /** Frames accepted from datagrams with our VNI. */
  received: number;
  /** Datagrams too short for a header or without the I flag. */
  malformed: number;
  /** Well-formed datagrams for another VNI. */
  otherVni: number;
  /** Datagrams with our VNI whose inner frame is not a valid Ethernet frame. */
  inner: FrameDrops;
}

/** Where a link sends, and what it accepts. */
export interface VxlanLinkOptions {
  remote: UdpAddress;
  vni: number;
}

/**
 * One end of a point-to-point VXLAN segment over a bound UDP socket. The
 * link owns the socket. Frames are not validated on the way out (the port
 * in front of the link does that).
 */
export class VxlanLink {
  readonly stats: VxlanStats = { sent: 0, received: 0, malformed: 0, otherVni: 0, inner: frameDrops() };
  private receiver: ((frame: Uint8Array) => void) | null = null;
  private closed = false;

  constructor(private readonly socket: UdpSocket, readonly options: VxlanLinkOptions) {
    socket.onMessage((data) => this.receive(data));
  }

  /** The bound local address. */
  get local(): UdpAddress {
    return this.socket.local;
  }

  /** Encapsulate `frame` and send it to the remote. */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.socket.send(vxlanEncap(frame, this.options.vni), this.options.remote.port, this.options.remote.address);
    this.stats.sent++;
  }

  /** Register the receiver of decapsulated frames (null: drop them). */
  onFrame(cb: ((frame: Uint8Array) => void) | null): void {
    this.receiver = cb;
  }

  /** Close the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.receiver = null;
    this.socket.close();
  }

  private receive(data: Uint8Array): void {
    if (this.closed) return;
    const d = vxlanDecap(data);
    switch (d.kind) {
      case 'malformed':
        this.stats.malformed++;
        return;
      case 'bad-frame':
        if (d.vni !== this.options.vni) this.stats.otherVni++;
        else countDrop(this.stats.inner, d.problem);
        return;
      case 'frame':
        if (d.vni !== this.options.vni) {
          this.stats.otherVni++;
          return;
        }
        this.stats.received++;
        this.receiver?.(d.frame);
        return;
      default:
        assertNever(d);
    }
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
