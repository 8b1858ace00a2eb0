/**
 * Test helpers for the host side of the network: frame builders (Ethernet,
 * ARP, IPv4/UDP with real checksums, so Linux accepts what we build), a
 * reader of classic pcap files (independent of the writer under test), an
 * in-memory UDP network, a capture sink in memory, and a fake NetHost with
 * a hand-driven clock.
 */
import type { NetHost } from '../../src/vmm/devices/net/port.js';
import type { PcapSink } from '../../src/vmm/devices/net/pcap.js';
import type { UdpAddress } from '../../src/vmm/devices/net/spec.js';
import type { NetSwitch } from '../../src/vmm/devices/net/switch.js';
import type { UdpSocket } from '../../src/vmm/devices/net/vxlan.js';
import { macBytes } from '../../src/vmm/devices/net/frame.js';

/** An Ethernet frame: dst, src (canonical MACs), EtherType, payload. */
export function eth(dst: string, src: string, type: number, payload: Uint8Array | number = 46): Uint8Array {
  const body = typeof payload === 'number' ? pattern(payload) : payload;
  const f = new Uint8Array(14 + body.length);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(body, 14);
  return f;
}

/** `n` bytes 0, 1, 2, … (mod 256). */
export function pattern(n: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);
}

/** Bytes of a hex string (spaces ignored). */
export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, '');
  return Uint8Array.from({ length: t.length / 2 }, (_, i) => parseInt(t.slice(2 * i, 2 * i + 2), 16));
}

/** Hex text of bytes. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function ip4(a: string): number[] {
  return a.split('.').map(Number);
}

/** An ARP packet (RFC 826, Ethernet/IPv4) in its frame: op 1 request, 2 reply. */
export function arp(op: 1 | 2, senderMac: string, senderIp: string, targetMac: string, targetIp: string, dst?: string): Uint8Array {
  const p = new Uint8Array(28);
  p.set([0, 1, 8, 0, 6, 4, 0, op]);
  p.set(macBytes(senderMac), 8);
  p.set(ip4(senderIp), 14);
  p.set(macBytes(targetMac), 18);
  p.set(ip4(targetIp), 24);
  return eth(dst ?? (op === 1 ? 'ff:ff:ff:ff:ff:ff' : targetMac), senderMac, 0x0806, p);
}

/** The fields of an ARP frame (null when it is not one). */
export function parseArp(f: Uint8Array): { op: number; senderMac: string; senderIp: string; targetIp: string } | null {
  if (f.length < 42 || f[12] !== 0x08 || f[13] !== 0x06) return null;
  const mac = (o: number): string => Array.from(f.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
  const ip = (o: number): string => Array.from(f.subarray(o, o + 4)).join('.');
  return { op: (f[20]! << 8) | f[21]!, senderMac: mac(22), senderIp: ip(28), targetIp: ip(38) };
}

function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An IPv4/UDP frame with correct IP and UDP checksums. */
export function udp4(dstMac: string, srcMac: string, src: string, sport: number, dst: string, dport: number, data: Uint8Array): Uint8Array {
  const udpLen = 8 + data.length;
  const ip = new Uint8Array(20 + udpLen);
  ip.set([0x45, 0, (20 + udpLen) >> 8, (20 + udpLen) & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0]);
  ip.set(ip4(src), 12);
  ip.set(ip4(dst), 16);
  const c = checksum(ip.subarray(0, 20));
  ip[10] = c >> 8; ip[11] = c & 0xff;
  const u = ip.subarray(20);
  u.set([sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, udpLen >> 8, udpLen & 0xff, 0, 0]);
  u.set(data, 8);
  const pseudo = new Uint8Array(12 + udpLen);
  pseudo.set(ip4(src), 0); pseudo.set(ip4(dst), 4); pseudo[9] = 17; pseudo[10] = udpLen >> 8; pseudo[11] = udpLen & 0xff;
  pseudo.set(u, 12);
  const uc = checksum(pseudo) || 0xffff;
  u[6] = uc >> 8; u[7] = uc & 0xff;
  return eth(dstMac, srcMac, 0x0800, ip);
}

/** The UDP payload of an IPv4/UDP frame to `dport` (null otherwise). */
export function parseUdp4(f: Uint8Array): { src: string; dst: string; sport: number; dport: number; data: Uint8Array } | null {
  if (f.length < 42 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 17) return null;
  const ihl = (f[14]! & 0xf) * 4;
  const u = 14 + ihl;
  const len = (f[u + 4]! << 8) | f[u + 5]!;
  return {
    src: Array.from(f.subarray(26, 30)).join('.'),
    dst: Array.from(f.subarray(30, 34)).join('.'),
    sport: (f[u]! << 8) | f[u + 1]!,
    dport: (f[u + 2]! << 8) | f[u + 3]!,
    data: f.slice(u + 8, u + len),
  };
}

/** One record of a pcap file. */
export interface PcapRecordRead {
  sec: number;
  usec: number;
  origLen: number;
  data: Uint8Array;
}

/** Read a classic pcap file (either byte order); throws on anything malformed. */
export function readPcap(bytes: Uint8Array): { linktype: number; snaplen: number; version: string; records: PcapRecordRead[] } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new Error('short global header');
  const m = v.getUint32(0, true);
  const le = m === 0xa1b2c3d4 ? true : m === 0xd4c3b2a1 ? false : null;
  if (le === null) throw new Error(`bad magic ${m.toString(16)}`);
  const records: PcapRecordRead[] = [];
  let off = 24;
  while (off < bytes.length) {
    if (off + 16 > bytes.length) throw new Error('short record header');
    const incl = v.getUint32(off + 8, le);
    if (off + 16 + incl > bytes.length) throw new Error('short record');
    records.push({ sec: v.getUint32(off, le), usec: v.getUint32(off + 4, le), origLen: v.getUint32(off + 12, le), data: bytes.slice(off + 16, off + 16 + incl) });
    off += 16 + incl;
  }
  return { linktype: v.getUint32(20, le), snaplen: v.getUint32(16, le), version: `${v.getUint16(4, le)}.${v.getUint16(6, le)}`, records };
}

/** A capture sink in memory. */
export class MemorySink implements PcapSink {
  chunks: Uint8Array[] = [];
  closed = false;
  write(bytes: Uint8Array): void {
    if (this.closed) throw new Error('write after close');
    this.chunks.push(bytes.slice());
  }
  close(): void {
    this.closed = true;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks.flatMap((c) => [...c]));
  }
}

/** An in-memory UDP network: sockets find each other by address and port. */
export class FakeUdpNet {
  private readonly bound = new Map<string, FakeSocket>();
  private nextPort = 40000;
  /** Every datagram sent, in order (for byte-exact checks). */
  readonly log: { from: UdpAddress; to: UdpAddress; data: Uint8Array }[] = [];

  bind(local: UdpAddress = { address: '0.0.0.0', port: 0 }): FakeSocket {
    const port = local.port === 0 ? this.nextPort++ : local.port;
    const key = `${local.address}:${port}`;
    if (this.bound.has(key)) throw new Error(`cannot bind UDP ${key}: address already in use`);
    const s = new FakeSocket(this, { address: local.address, port }, () => this.bound.delete(key));
    this.bound.set(key, s);
    return s;
  }

  /** Deliver to the socket bound at to (or at the wildcard address with its port). */
  route(from: UdpAddress, to: UdpAddress, data: Uint8Array): void {
    this.log.push({ from, to, data });
    const s = this.bound.get(`${to.address}:${to.port}`) ?? this.bound.get(`0.0.0.0:${to.port}`);
    s?.receive(data.slice(), from);
  }

  /** Inject a datagram as if from `from`. */
  inject(from: UdpAddress, to: UdpAddress, data: Uint8Array): void {
    this.route(from, to, data);
  }
}

export class FakeSocket implements UdpSocket {
  private cb: ((data: Uint8Array, from: UdpAddress) => void) | null = null;
  closed = false;
  constructor(private readonly net: FakeUdpNet, readonly local: UdpAddress, private readonly unbind: () => void) {}
  send(data: Uint8Array, port: number, address: string): void {
    if (this.closed) throw new Error('send after close');
    const from = this.local.address === '0.0.0.0' ? { address: '127.0.0.1', port: this.local.port } : this.local;
    this.net.route(from, { address, port }, data);
  }
  onMessage(cb: (data: Uint8Array, from: UdpAddress) => void): void {
    this.cb = cb;
  }
  receive(data: Uint8Array, from: UdpAddress): void {
    if (!this.closed) this.cb?.(data, from);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unbind();
  }
}

/** A fake NetHost: in-memory UDP, in-memory capture files, a clock the test moves. */
export function fakeHost(start = 1_700_000_000_000): NetHost & {
  net: FakeUdpNet; files: Map<string, MemorySink>; clock: { t: number }; warnings: string[];
} {
  const net = new FakeUdpNet();
  const files = new Map<string, MemorySink>();
  const clock = { t: start };
  const warnings: string[] = [];
  return {
    net, files, clock, warnings,
    udp: async (local) => net.bind(local),
    openPcap: (path) => {
      if (path.startsWith('/nonexistent/')) throw new Error(`pcap=${path}: cannot create the capture file: no such directory`);
      const s = new MemorySink();
      files.set(path, s);
      return s;
    },
    now: () => clock.t,
    switches: new Map<string, NetSwitch>(),
    warn: (m) => { warnings.push(m); },
  };
}
