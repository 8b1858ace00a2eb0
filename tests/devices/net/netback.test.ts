/**
 * netback (src/vmm/devices/net/netback.ts) against a fake guest: the
 * netfront's tx and rx rings in PhysMemory, fake grants and event
 * channels, a real NetPort on an in-memory switch, and the real
 * XenstoreServer / XsClient for the handshake. Then two vifs on one
 * switch, captures, hostile frontends, and the same device over the real
 * grant-table and event-channel engines of a Domain.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu } from '../../../src/vmm/cpu/index.js';
import { Domain } from '../../../src/vmm/xen/domain.js';
import { GTF } from '../../../src/vmm/xen/abi/grant-table.js';
import { NETIF_RSP, NETTXF, XEN_NETIF_EXTRA_TYPE } from '../../../src/vmm/xen/abi/netif.js';
import { SRING_HEADER } from '../../../src/vmm/xen/abi/ring.js';
import { eventBinderOf, grantAccessOf, ringMapperOf } from '../../../src/vmm/devices/ring.js';
import { XsClient, buildDomainTree } from '../../../src/vmm/devices/xenstore/index.js';
import { createNetPort, parseNetSpec } from '../../../src/vmm/devices/net/index.js';
import { Netback, addNetDevice } from '../../../src/vmm/devices/net/netback.js';
import { checksumOk } from '../../../src/vmm/devices/net/checksum.js';
import {
  decodeRxResponse, decodeTxResponse, encodeRxRequest, encodeTxRequest,
} from '../../../src/vmm/devices/net/request.js';
import {
  FrontRing, NetRig, PAGE, ST, arp, eth, extraSlot, fakeHost, listener, newServer, parseArp, pattern, readPcap, same,
  txReq, udp4,
} from './helpers.js';

const OK = NETIF_RSP.OKAY, ERR = NETIF_RSP.ERROR, NULL = NETIF_RSP.NULL;
const H = SRING_HEADER;
const A_MAC = '02:00:00:00:00:0a', B_MAC = '02:00:00:00:00:0b', BCAST = 'ff:ff:ff:ff:ff:ff';

async function connected(o: Parameters<typeof NetRig.create>[0] = {}): Promise<NetRig> {
  const r = await NetRig.create(o);
  r.connect();
  expect(r.state).toBe(ST.Connected);
  return r;
}

/** A rig and a raw listener on its switch. */
async function withListener(o: Parameters<typeof NetRig.create>[0] = {}) {
  const host = o.host ?? fakeHost();
  const r = await connected({ spec: `switch:lan,mac=${A_MAC}`, ...o, host });
  const l = await listener(host);
  return { r, l, host };
}

// --- independent checksum reference (RFC 1071) -----------------------------------------

function ocSum(parts: Uint8Array[]): number {
  let s = 0;
  for (const b of parts) for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

const be16 = (n: number) => [n >> 8, n & 0xff];

/** An IPv4/TCP frame with a correct checksum (and IP header checksum). */
function tcp4(payload: Uint8Array): Uint8Array {
  const tcp = new Uint8Array(20 + payload.length);
  tcp.set([0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
  tcp.set(payload, 20);
  const src = [10, 0, 0, 1], dst = [10, 0, 0, 2];
  const c = ocSum([Uint8Array.from([...src, ...dst, 0, 6, ...be16(tcp.length)]), tcp]);
  tcp[16] = c >> 8; tcp[17] = c & 0xff;
  const ip = new Uint8Array(20 + tcp.length);
  ip.set([0x45, 0, ...be16(ip.length), 0, 7, 0x40, 0, 64, 6, 0, 0, ...src, ...dst]);
  const ic = ocSum([ip.subarray(0, 20)]);
  ip[10] = ic >> 8; ip[11] = ic & 0xff;
  ip.set(tcp, 20);
  return eth(B_MAC, A_MAC, 0x0800, ip);
}

/** An IPv6/UDP frame with a correct checksum, optionally behind an 802.1Q tag and a hop-by-hop header. */
function udp6(payload: Uint8Array, o: { vlan?: boolean; hbh?: boolean } = {}): Uint8Array {
  const udp = new Uint8Array(8 + payload.length);
  udp.set([0x12, 0x34, 0x00, 0x35, ...be16(udp.length), 0, 0]);
  udp.set(payload, 8);
  const src = Array.from({ length: 16 }, (_, i) => (i === 0 ? 0xfe : i === 1 ? 0x80 : i)), dst = Array.from({ length: 16 }, (_, i) => 0x20 + i);
  const c = ocSum([Uint8Array.from([...src, ...dst, 0, 0, ...be16(udp.length), 0, 0, 0, 17]), udp]) || 0xffff;
  udp[6] = c >> 8; udp[7] = c & 0xff;
  const hbh = o.hbh === true ? [17, 0, 1, 4, 0, 0, 0, 0] : [];
  const ip = new Uint8Array(40 + hbh.length + udp.length);
  ip.set([0x60, 0, 0, 0, ...be16(hbh.length + udp.length), o.hbh === true ? 0 : 17, 64, ...src, ...dst]);
  ip.set(hbh, 40);
  ip.set(udp, 40 + hbh.length);
  if (o.vlan !== true) return eth(B_MAC, A_MAC, 0x86dd, ip);
  return eth(B_MAC, A_MAC, 0x8100, Uint8Array.from([0, 42, 0x86, 0xdd, ...ip]));
}

/** The frame with its transport checksum field overwritten (what a csum_blank frontend sends). */
function blanked(frame: Uint8Array, field: number, value = 0): Uint8Array {
  const f = frame.slice();
  f[field] = value >> 8;
  f[field + 1] = value & 0xff;
  return f;
}

describe('netback handshake', () => {
  it('the toolstack writes both directories, the backend publishes its features before InitWait', async () => {
    const r = await NetRig.create({ spec: `switch:br0,mac=${A_MAC}`, index: 0 });
    expect(r.state).toBe(ST.InitWait);
    const keys = ['feature-rx-copy', 'feature-rx-flip', 'feature-sg', 'feature-gso-tcpv4', 'feature-gso-tcpv6',
      'feature-ipv6-csum-offload', 'feature-split-event-channels', 'mac', 'handle', 'bridge', 'type', 'frontend-id', 'online'];
    expect(Object.fromEntries(keys.map((k) => [k, r.back(k)]))).toEqual({
      'feature-rx-copy': '1', 'feature-rx-flip': '0', 'feature-sg': '1', 'feature-gso-tcpv4': '0', 'feature-gso-tcpv6': '0',
      'feature-ipv6-csum-offload': '1', 'feature-split-event-channels': '1', mac: A_MAC, handle: '0', bridge: 'br0',
      type: 'vif', 'frontend-id': '1', online: '1',
    });
    expect(r.back('multi-queue-max-queues')).toBeUndefined();
    // The guest reads its MAC in its own directory (Mini-OS) and the backend's features.
    expect(r.gxs.read(`${r.frontend}/mac`)).toBe(A_MAC);
    expect(r.gxs.read(`${r.frontend}/handle`)).toBe('0');
    expect(r.gxs.read(`${r.backend}/feature-rx-copy`)).toBe('1');
    expect(r.frontend).toBe('/local/domain/1/device/vif/0');
    expect(r.backend).toBe('/local/domain/0/backend/vif/1/0');
  });

  it('vxlan vifs name their VNI as the bridge', async () => {
    const r = await NetRig.create({ spec: 'vxlan:127.0.0.1:4790,vni=42,local=127.0.0.1:0' });
    expect(r.back('bridge')).toBe('vxlan42');
  });

  it('connects on Mini-OS keys: maps both rings, binds the port, attaches the receiver', async () => {
    const host = fakeHost();
    const r = await NetRig.create({ host });
    const l = await listener(host);
    // Before the frontend connects the link is down: the port counts frames as noReceiver.
    l.port.send(eth(BCAST, B_MAC, 0x88b5, 50));
    expect(r.port.stats.dropped.noReceiver).toBe(1);
    r.connect({ keys: { 'feature-rx-notify': undefined, 'feature-sg': undefined } });
    expect(r.state).toBe(ST.Connected);
    expect(r.nb.connected).toBe(true);
    expect(r.grants.maps).toBe(2);
    expect(r.events.bound.has(5)).toBe(true);
    expect(r.nb.frontend).toEqual({ split: false, rxNotify: false, sg: false, noCsumOffload: false });
    l.port.send(eth(BCAST, B_MAC, 0x88b5, 50));
    expect(r.nb.rxQueued).toBe(1);
  });

  it('accepts Initialised (3) and split event channels', async () => {
    const r = await NetRig.create();
    r.connect({ split: true, port: 5, rxPort: 7, state: ST.Initialised });
    expect(r.state).toBe(ST.Connected);
    expect(r.nb.frontend?.split).toBe(true);
    expect([...r.events.bound.keys()].sort()).toEqual([5, 7]);
    // tx responses notify the tx port, rx responses the rx port.
    const p = r.page(0, { data: pattern(60) });
    expect(r.send(txReq({ gref: p.ref, id: 1, size: 60 }))).toEqual([{ id: 1, status: OK }]);
    expect([r.events.notifies(5), r.events.notifies(7)]).toEqual([1, 0]);
    r.postRx(1);
    await deliver(r, eth(A_MAC, B_MAC, 0x88b5, 40));
    expect(r.takeRx()).toHaveLength(1);
    expect([r.events.notifies(5), r.events.notifies(7)]).toEqual([1, 1]);
  });

  it.each([
    [{ 'request-rx-copy': undefined }, /request-rx-copy null: only copy mode/],
    [{ 'request-rx-copy': '0' }, /request-rx-copy "0": only copy mode/],
    [{ 'request-rx-copy': 'yes' }, /request-rx-copy "yes"/],
    [{ 'tx-ring-ref': 'x8' }, /tx-ring-ref "x8"/],
    [{ 'rx-ring-ref': undefined }, /rx-ring-ref null/],
    [{ 'rx-ring-ref': '4294967296' }, /rx-ring-ref/],
    [{ 'rx-ring-ref': '8' }, /same grant \(8\)/],
    [{ 'tx-ring-ref': '77' }, /mapping tx-ring-ref 77 failed/],
    [{ 'rx-ring-ref': '78' }, /mapping rx-ring-ref 78 failed/],
    [{ 'event-channel': '-1' }, /event-channel "-1"/],
    [{ 'event-channel': '9' }, /binding event-channel 9 failed/],
    [{ 'event-channel-tx': '5', 'event-channel': undefined }, /event-channel-rx null/],
    [{ 'multi-queue-num-queues': '4' }, /multi-queue-num-queues "4": only one queue/],
    [{ 'multi-queue-num-queues': '0' }, /only one queue/],
  ])('refuses to connect with %j → Closing + error node, nothing left mapped', async (keys, msg) => {
    const r = await NetRig.create();
    r.connect({ keys });
    expect(r.state).toBe(ST.Closing);
    expect(r.back('error')).toMatch(msg);
    expect(r.nb.connected).toBe(false);
    expect(r.grants.maps).toBe(r.grants.unmaps);
    expect(r.events.bound.size).toBe(0);
  });

  it('accepts multi-queue-num-queues 1 (keys at the top level)', async () => {
    const r = await NetRig.create();
    r.connect({ keys: { 'multi-queue-num-queues': '1' } });
    expect(r.state).toBe(ST.Connected);
  });

  it('disconnects on Closing, flushes the rx queue, and reconnects after Initialising with fresh rings', async () => {
    const { r, l } = await withListener();
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 50));
    expect(r.nb.rxQueued).toBe(1);
    r.setFrontState(ST.Closing);
    expect(r.state).toBe(ST.Closing);
    expect(r.nb.connected).toBe(false);
    expect(r.nb.stats.rx.flushed).toBe(1);
    expect(r.grants.unmaps).toBe(2);
    expect(r.events.bound.size).toBe(0);
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 50));
    expect(r.port.stats.dropped.noReceiver).toBe(1);
    r.setFrontState(ST.Closed);
    expect(r.state).toBe(ST.Closed);
    r.setFrontState(ST.Initialising);
    expect(r.state).toBe(ST.InitWait);
    r.connect({ ringPage: 3, txRef: 20, rxRef: 21, port: 6 });
    expect(r.state).toBe(ST.Connected);
    const p = r.page(0, { data: eth(B_MAC, A_MAC, 0x88b5, 46) });
    expect(r.send(txReq({ gref: p.ref, id: 3, size: 60 }))).toEqual([{ id: 3, status: OK }]);
    expect(l.got).toHaveLength(1);
  });
});

/** Hand a frame to the rig's port as the network would, then poll. */
async function deliver(r: NetRig, frame: Uint8Array): Promise<void> {
  const l = await listener(r.host, 'lan', '02:00:00:00:00:77');
  l.port.send(frame);
  l.port.close();
  r.nb.poll();
}

describe('netback tx', () => {
  it('sends a single-slot packet to the port and answers OKAY once, with one notification', async () => {
    const { r, l } = await withListener();
    const frame = eth(B_MAC, A_MAC, 0x88b5, 100);
    const p = r.page(0, { data: frame, at: 200 });
    expect(r.send(txReq({ gref: p.ref, offset: 200, id: 17, size: frame.length }))).toEqual([{ id: 17, status: OK }]);
    expect(l.got).toHaveLength(1);
    expect(same(l.got[0]!, frame)).toBe(true);
    expect(r.nb.stats.tx).toMatchObject({ packets: 1, bytes: frame.length, slots: 1, errors: 0 });
    expect(r.events.notifies(5)).toBe(1);
    // req_event re-armed: the next request notifies the backend.
    expect(r.tx!.reqEvent).toBe(2);
  });

  it('reassembles a more_data chain (size = total in the first slot) and answers every slot in order', async () => {
    const { r, l } = await withListener();
    const frame = eth(B_MAC, A_MAC, 0x88b5, 1500);
    const slots = r.packet(frame, { id: 40, sizes: [100, 1000, 1, 413], offset: 3000 - 1000 });
    expect(slots).toHaveLength(4);
    expect(r.send(...slots)).toEqual([{ id: 40, status: OK }, { id: 41, status: OK }, { id: 42, status: OK }, { id: 43, status: OK }]);
    expect(l.got).toHaveLength(1);
    expect(same(l.got[0]!, frame)).toBe(true);
  });

  it('a packet in 18 slots passes; 19 slots are refused, every slot answered ERROR', async () => {
    const { r, l } = await withListener();
    const f18 = eth(B_MAC, A_MAC, 0x88b5, 18 * 20 - 14);
    const ok = r.send(...r.packet(f18, { id: 0, sizes: Array(18).fill(20) }));
    expect(ok.map((x) => x.status)).toEqual(Array(18).fill(OK));
    const f19 = eth(B_MAC, A_MAC, 0x88b5, 19 * 20 - 14);
    const bad = r.send(...r.packet(f19, { id: 100, sizes: Array(19).fill(20) }));
    expect(bad.map((x) => x.id)).toEqual(Array.from({ length: 19 }, (_, i) => 100 + i));
    expect(bad.map((x) => x.status)).toEqual(Array(19).fill(ERR));
    expect(l.got).toHaveLength(1);
    expect(r.logs.some((m) => /more than 18 slots/.test(m))).toBe(true);
    // The next packet is fine.
    expect(r.send(...r.packet(eth(B_MAC, A_MAC, 0x88b5, 50), { id: 7 }))).toEqual([{ id: 7, status: OK }]);
  });

  it('skips extra-info slots (answered NULL), chained with EXTRA_FLAG_MORE, before the fragments', async () => {
    const { r, l } = await withListener();
    const frame = eth(B_MAC, A_MAC, 0x88b5, 600);
    const extras = [extraSlot(XEN_NETIF_EXTRA_TYPE.GSO, true, [0xb4, 0x05, 1, 0, 0, 0]), extraSlot(XEN_NETIF_EXTRA_TYPE.MCAST_ADD, false, [1, 0, 0x5e, 0, 0, 1])];
    const slots = r.packet(frame, { id: 9, sizes: [300, 314], extras });
    expect(slots).toHaveLength(4);
    expect(r.send(...slots)).toEqual([{ id: 9, status: OK }, { id: 0, status: NULL }, { id: 0, status: NULL }, { id: 10, status: OK }]);
    expect(l.got).toHaveLength(1);
    expect(same(l.got[0]!, frame)).toBe(true);
    expect(r.nb.stats.tx.slots).toBe(4);
  });

  it('refuses a packet with a bad extra type, but still skips its extras as NULL', async () => {
    const { r, l } = await withListener();
    const frame = eth(B_MAC, A_MAC, 0x88b5, 100);
    const rsp = r.send(...r.packet(frame, { id: 1, sizes: [50, 64], extras: [extraSlot(0, true), extraSlot(XEN_NETIF_EXTRA_TYPE.GSO)] }));
    expect(rsp).toEqual([{ id: 1, status: ERR }, { id: 0, status: NULL }, { id: 0, status: NULL }, { id: 2, status: ERR }]);
    const rsp2 = r.send(...r.packet(frame, { id: 5, extras: Array.from({ length: 5 }, (_, i) => extraSlot(1 + (i % 4), i < 4)) }));
    expect(rsp2.map((x) => x.status)).toEqual([ERR, NULL, NULL, NULL, NULL, NULL]);
    expect(l.got).toHaveLength(0);
    expect(r.send(...r.packet(frame, { id: 8 }))).toEqual([{ id: 8, status: OK }]);
    expect(l.got).toHaveLength(1);
  });

  it('answers ERROR for malformed packets and keeps serving', async () => {
    const { r, l } = await withListener();
    const p = r.page(0, { data: pattern(4096) });
    const ro = r.page(1, { readonly: true, data: eth(B_MAC, A_MAC, 0x88b5, 46) });
    const rsp = r.send(
      txReq({ gref: 4242, id: 1, size: 60 }),                                  // bad grant ref
      txReq({ gref: p.ref, offset: 4000, id: 2, size: 200 }),                  // first fragment crosses the page
      txReq({ gref: p.ref, id: 3, size: 13 }),                                 // shorter than an Ethernet header
      txReq({ gref: p.ref, id: 4, size: 100, flags: NETTXF.more_data }),       // fragments longer than the packet
      txReq({ gref: p.ref, id: 5, size: 101 }),
      txReq({ gref: p.ref, id: 6, size: 100, flags: NETTXF.more_data }),       // a fragment crossing its page
      txReq({ gref: p.ref, offset: 4090, id: 7, size: 10 }),
      txReq({ gref: p.ref, id: 8, size: 60, flags: NETTXF.more_data }),        // a bad grant among good ones
      txReq({ gref: 999, id: 9, size: 20 }),
      txReq({ gref: ro.ref, id: 10, size: 60 }),                               // a read-only grant is fine for tx
    );
    expect(rsp.map((x) => [x.id, x.status])).toEqual([
      [1, ERR], [2, ERR], [3, ERR], [4, ERR], [5, ERR], [6, ERR], [7, ERR], [8, ERR], [9, ERR], [10, OK],
    ]);
    expect(r.nb.stats.tx.errors).toBe(6);
    expect(l.got).toHaveLength(1);
    expect(r.state).toBe(ST.Connected);
  });

  it('keeps a chain published in pieces across polls', async () => {
    const { r, l } = await withListener();
    const frame = eth(B_MAC, A_MAC, 0x88b5, 500);
    const slots = r.packet(frame, { id: 20, sizes: [200, 200, 114] });
    expect(r.send(slots[0]!, slots[1]!)).toEqual([]);
    expect(l.got).toHaveLength(0);
    // The backend asked to be notified of the rest.
    expect(r.tx!.reqEvent).toBe(3);
    expect(r.send(slots[2]!)).toEqual([{ id: 20, status: OK }, { id: 21, status: OK }, { id: 22, status: OK }]);
    expect(same(l.got[0]!, frame)).toBe(true);
  });

  it('a chain that never ends is answered slot by slot once it is too long (the ring never jams)', async () => {
    const { r } = await withListener();
    const p = r.page(0, { data: pattern(100) });
    let answered = 0;
    for (let round = 0; round < 4; round++) {
      const slots = Array.from({ length: 200 }, (_, i) => txReq({ gref: p.ref, id: round * 200 + i, size: round + i === 0 ? 65535 : 10, flags: NETTXF.more_data }));
      const rsp = r.send(...slots);
      answered += rsp.length;
      expect(rsp.every((x) => x.status === ERR)).toBe(true);
    }
    expect(answered).toBe(800);
    expect(r.logs.filter((m) => /refused/.test(m))).toEqual([expect.stringMatching(/more than 18 slots/)]);
    expect(r.state).toBe(ST.Connected);
  });

  it('fills blank IPv4 UDP and TCP checksums before sending', async () => {
    const { r, l } = await withListener();
    const u = udp4(B_MAC, A_MAC, '10.0.0.1', 1234, '10.0.0.2', 53, pattern(333));
    const t = tcp4(pattern(1000, 5));
    expect(checksumOk(u)).toBe(true);
    expect(checksumOk(t)).toBe(true);
    // Linux leaves the pseudo-header sum in the field; a zero or garbage must work too.
    const rsp = r.send(
      ...r.packet(blanked(u, 14 + 20 + 6), { id: 1, flags: NETTXF.csum_blank }),
      ...r.packet(blanked(t, 14 + 20 + 16, 0x1234), { id: 2, flags: NETTXF.csum_blank | NETTXF.data_validated, sizes: [54, 1000], firstPage: 2 }),
    );
    expect(rsp.map((x) => x.status)).toEqual([OK, OK, OK]);
    expect(l.got).toHaveLength(2);
    expect([same(l.got[0]!, u), same(l.got[1]!, t)]).toEqual([true, true]);
    expect(r.nb.stats.tx.csumFilled).toBe(2);
  });

  it('fills IPv6 UDP checksums behind a VLAN tag and a hop-by-hop header', async () => {
    const { r, l } = await withListener();
    const v6 = udp6(pattern(77), { vlan: true, hbh: true });
    expect(checksumOk(v6)).toBe(true);
    const field = 14 + 4 + 40 + 8 + 6;
    expect(r.send(...r.packet(blanked(v6, field), { id: 3, flags: NETTXF.csum_blank }))).toEqual([{ id: 3, status: OK }]);
    expect(same(l.got[0]!, v6)).toBe(true);
  });

  it('csum_blank on a packet without a TCP/UDP checksum is refused', async () => {
    const { r, l } = await withListener();
    const a = arp(1, A_MAC, '10.0.0.1', '00:00:00:00:00:00', '10.0.0.2');
    const frag = udp4(B_MAC, A_MAC, '10.0.0.1', 1, '10.0.0.2', 2, pattern(20));
    frag[14 + 6] = 0x20; // more fragments
    expect(r.send(...r.packet(a, { id: 1, flags: NETTXF.csum_blank }), ...r.packet(frag, { id: 2, flags: NETTXF.csum_blank, firstPage: 1 })))
      .toEqual([{ id: 1, status: ERR }, { id: 2, status: ERR }]);
    expect(l.got).toHaveLength(0);
    // Without csum_blank the same frames go out untouched.
    expect(r.send(...r.packet(a, { id: 3 }))).toEqual([{ id: 3, status: OK }]);
  });

  it('frames the port refuses are still answered OKAY (a NIC does not report loss)', async () => {
    const { r, l } = await withListener();
    const big = eth(B_MAC, A_MAC, 0x88b5, 3000);
    expect(r.send(...r.packet(big, { id: 1, sizes: [1500, 1514] }))).toEqual([{ id: 1, status: OK }, { id: 2, status: OK }]);
    expect(l.got).toHaveLength(0);
    expect(r.nb.stats.tx.dropped).toBe(1);
    expect(r.port.stats.dropped.tooLong).toBe(1);
  });

  it('bounds the slots served per poll and finishes on later polls', async () => {
    const { r, l } = await withListener({ extra: { txBudget: 4 } });
    const f = r.tx!;
    const p = r.page(0, { data: eth(B_MAC, A_MAC, 0x88b5, 46) });
    for (let i = 0; i < 10; i++) f.put(txReq({ gref: p.ref, id: i, size: 60 }));
    f.publish();
    r.events.send(r.evtchn);
    expect(r.nb.poll()).toBe(true);
    expect(f.takeRaw()).toHaveLength(4);
    expect(r.nb.poll()).toBe(true);
    expect(r.nb.poll()).toBe(false);
    expect(f.takeRaw()).toHaveLength(6);
    expect(l.got).toHaveLength(10);
  });

  it('serves the tx ring only when kicked (or with work left over)', async () => {
    const { r } = await withListener();
    const p = r.page(0, { data: eth(B_MAC, A_MAC, 0x88b5, 46) });
    r.tx!.put(txReq({ gref: p.ref, id: 1, size: 60 }));
    expect(r.tx!.publish()).toBe(true);
    r.nb.poll();
    expect(r.tx!.rspProd).toBe(0);
    r.events.send(r.evtchn);
    r.nb.poll();
    expect(r.tx!.rspProd).toBe(1);
  });
});

describe('netback rx', () => {
  it('copies a frame into a posted buffer: {id, offset 0, flags 0, status = length}, and notifies', async () => {
    const { r, l } = await withListener();
    r.postRx(2);
    const frame = eth(A_MAC, B_MAC, 0x88b5, 1000);
    l.port.send(frame);
    expect(r.nb.rxQueued).toBe(1);
    r.nb.poll();
    const rsp = r.takeRx();
    expect(rsp).toHaveLength(1);
    expect(rsp[0]).toMatchObject({ id: 0, offset: 0, flags: 0, status: frame.length });
    expect(same(rsp[0]!.frame!, frame)).toBe(true);
    expect(r.events.notifies(5)).toBe(1);
    expect(r.nb.stats.rx).toMatchObject({ packets: 1, bytes: frame.length, errors: 0, dropped: 0 });
    // The second buffer stays posted for the next frame.
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 50));
    r.nb.poll();
    expect(r.takeRx().map((x) => x.id)).toEqual([1]);
  });

  it('queues frames until buffers are posted, arming req_event; takes nothing without frames', async () => {
    const { r, l } = await withListener();
    const frames = [0, 1, 2].map((i) => eth(A_MAC, B_MAC, 0x88b5, 100 + i));
    r.nb.poll();
    frames.forEach((f) => l.port.send(f));
    r.nb.poll();
    expect(r.nb.rxQueued).toBe(3);
    // Out of buffers: the backend asked to be told of the next one.
    expect(r.rx!.reqEvent).toBe(1);
    r.postRx(2);
    r.nb.poll();
    expect(r.takeRx().map((x) => x.status)).toEqual([100 + 14, 101 + 14]);
    expect(r.nb.rxQueued).toBe(1);
    expect(r.rx!.reqEvent).toBe(3);
    // Posted buffers without frames stay posted.
    r.postRx(5);
    r.nb.poll();
    const got = r.takeRx();
    expect(got.map((x) => x.status)).toEqual([102 + 14]);
    expect(same(got[0]!.frame!, frames[2]!)).toBe(true);
    expect(r.nb.rxQueued).toBe(0);
  });

  it('a frontend without feature-rx-notify (no kick on posting) still gets its frames', async () => {
    const { r, l } = await withListener();
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60));
    r.nb.poll();
    r.postRx(1, { notify: false });
    r.nb.poll();
    expect(r.takeRx()).toHaveLength(1);
  });

  it('bounds the queue: later frames are dropped and counted', async () => {
    const { r, l } = await withListener({ extra: { rxQueueLimit: 8 } });
    for (let i = 0; i < 20; i++) l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60 + i));
    expect(r.nb.rxQueued).toBe(8);
    expect(r.nb.stats.rx.dropped).toBe(12);
    r.postRx(20);
    r.nb.poll();
    // The oldest eight, in order.
    expect(r.takeRx().map((x) => x.status)).toEqual(Array.from({ length: 8 }, (_, i) => 74 + i));
  });

  it('bounds the frames delivered per poll', async () => {
    const { r, l } = await withListener({ extra: { rxBudget: 3 } });
    r.postRx(10);
    for (let i = 0; i < 7; i++) l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60));
    expect(r.nb.poll()).toBe(true);
    expect(r.takeRx()).toHaveLength(3);
    expect(r.nb.poll()).toBe(true);
    expect(r.nb.poll()).toBe(false);
    expect(r.takeRx()).toHaveLength(4);
  });

  it('a buffer that cannot be written is answered ERROR and its frame dropped; the next buffer gets the next frame', async () => {
    const { r, l } = await withListener();
    r.postRx(1, { gref: 4242 });
    const ro = r.page(5, { readonly: true });
    r.postRx(1, { gref: ro.ref });
    r.postRx(1);
    const frames = [0, 1, 2].map((i) => eth(A_MAC, B_MAC, 0x88b5, 60 + i));
    frames.forEach((f) => l.port.send(f));
    r.nb.poll();
    const rsp = r.takeRx();
    expect(rsp.map((x) => x.status)).toEqual([ERR, ERR, 62 + 14]);
    expect(same(rsp[2]!.frame!, frames[2]!)).toBe(true);
    expect(r.nb.stats.rx.errors).toBe(2);
    expect(r.state).toBe(ST.Connected);
  });

  it('calls onWork when a frame is queued', async () => {
    let work = 0;
    const { l, r } = await withListener({ extra: { onWork: () => { work++; } } });
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60));
    expect(work).toBe(1);
    expect(r.nb.rxQueued).toBe(1);
  });
});

describe('two vifs on one switch', () => {
  it('exchange an ARP broadcast and its unicast reply; captures record both directions', async () => {
    const host = fakeHost();
    const server = newServer();
    const a = await NetRig.create({ server, host, domid: 1, spec: `switch:lan,mac=${A_MAC},pcap=/a.pcap` });
    const b = await NetRig.create({ server, host, domid: 2, spec: `switch:lan,mac=${B_MAC},pcap=/b.pcap` });
    a.connect();
    b.connect();
    a.postRx(4);
    b.postRx(4);
    // A asks who has 10.0.0.2.
    const req = arp(1, A_MAC, '10.0.0.1', '00:00:00:00:00:00', '10.0.0.2');
    expect(a.send(...a.packet(req, { id: 1 }))).toEqual([{ id: 1, status: OK }]);
    b.nb.poll();
    const atB = b.takeRx();
    expect(atB).toHaveLength(1);
    expect(parseArp(atB[0]!.frame!)).toMatchObject({ op: 1, senderMac: A_MAC, targetIp: '10.0.0.2' });
    // B answers A directly.
    const reply = arp(2, B_MAC, '10.0.0.2', A_MAC, '10.0.0.1');
    expect(b.send(...b.packet(reply, { id: 1 }))).toEqual([{ id: 1, status: OK }]);
    a.nb.poll();
    const atA = a.takeRx();
    expect(atA).toHaveLength(1);
    expect(parseArp(atA[0]!.frame!)).toMatchObject({ op: 2, senderMac: B_MAC, senderIp: '10.0.0.2' });
    // Each capture holds the request and the reply, in order: one sent, one received.
    for (const name of ['/a.pcap', '/b.pcap']) {
      const cap = readPcap((host as ReturnType<typeof fakeHost>).files.get(name)!.bytes());
      expect(cap.records.map((x) => parseArp(x.data)?.op)).toEqual([1, 2]);
      expect(same(cap.records[0]!.data, req)).toBe(true);
      expect(same(cap.records[1]!.data, reply)).toBe(true);
    }
    // The switch learned both.
    expect(host.switches.get('lan')!.lookup(A_MAC)).toBeDefined();
    expect(host.switches.get('lan')!.lookup(B_MAC)).toBeDefined();
  });

  it('a UDP exchange with offloaded checksums arrives complete at the other guest', async () => {
    const host = fakeHost();
    const server = newServer();
    const a = await NetRig.create({ server, host, domid: 1, spec: `switch:lan,mac=${A_MAC}` });
    const b = await NetRig.create({ server, host, domid: 2, spec: `switch:lan,mac=${B_MAC}` });
    a.connect();
    b.connect({ split: true });
    b.postRx(1);
    const u = udp4(B_MAC, A_MAC, '10.0.0.1', 999, '10.0.0.2', 7, pattern(1400));
    expect(a.send(...a.packet(blanked(u, 40), { id: 4, flags: NETTXF.csum_blank, sizes: [700, 742] })).map((x) => x.status)).toEqual([OK, OK]);
    b.nb.poll();
    const got = b.takeRx();
    expect(got[0]!.flags).toBe(0);
    expect(same(got[0]!.frame!, u)).toBe(true);
    expect(checksumOk(got[0]!.frame!)).toBe(true);
  });
});

describe('hostile frontends', () => {
  it('a corrupt tx ring index disconnects that vif only', async () => {
    const host = fakeHost();
    const server = newServer();
    const a = await NetRig.create({ server, host, domid: 1, spec: `switch:lan,mac=${A_MAC}` });
    const b = await NetRig.create({ server, host, domid: 2, spec: `switch:lan,mac=${B_MAC}` });
    a.connect();
    b.connect();
    a.mem.write32(a.pfn(1) * PAGE + H.req_prod, 1000);
    a.events.send(a.evtchn);
    a.nb.poll();
    expect(a.state).toBe(ST.Closing);
    expect(a.back('error')).toMatch(/tx ring corrupt: req_prod 1000/);
    expect(a.nb.connected).toBe(false);
    expect(a.tx!.rspProd).toBe(0);
    // b keeps exchanging frames with the segment; a's link is down.
    const l = await listener(host);
    const p = b.page(0, { data: eth(BCAST, B_MAC, 0x88b5, 46) });
    expect(b.send(txReq({ gref: p.ref, id: 1, size: 60 }))).toEqual([{ id: 1, status: OK }]);
    expect(l.got).toHaveLength(1);
    expect(a.port.stats.dropped.noReceiver).toBe(1);
    expect(b.state).toBe(ST.Connected);
    // a comes back only through a fresh handshake.
    a.events.send(a.evtchn);
    a.nb.poll();
    expect(a.state).toBe(ST.Closing);
    a.setFrontState(ST.Initialising);
    a.connect({ ringPage: 3, txRef: 30, rxRef: 31, port: 8 });
    expect(a.state).toBe(ST.Connected);
  });

  it('a corrupt rx ring index disconnects when frames are delivered', async () => {
    const { r, l } = await withListener();
    r.mem.write32(r.pfn(2) * PAGE + H.req_prod, 0x8000_0000);
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60));
    r.nb.poll();
    expect(r.state).toBe(ST.Closing);
    expect(r.back('error')).toMatch(/rx ring corrupt/);
    expect(r.nb.stats.rx.flushed).toBe(1);
  });

  it('rx req_prod moved backwards is corrupt', async () => {
    const { r, l } = await withListener();
    r.postRx(4);
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60));
    r.nb.poll();
    expect(r.takeRx()).toHaveLength(1);
    r.mem.write32(r.pfn(2) * PAGE + H.req_prod, 0);
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 60));
    r.nb.poll();
    expect(r.back('error')).toMatch(/rx ring corrupt: req_prod 0 /);
  });

  it('ring pages that go dead under the backend read as all-ones → corrupt, not a crash', async () => {
    const { r } = await withListener();
    r.grants.dead = true;
    r.events.send(r.evtchn);
    expect(() => r.nb.poll()).not.toThrow();
    expect(r.state).toBe(ST.Closing);
  });

  it('garbage xenstore values from the frontend fail the handshake, not the VMM', async () => {
    const r = await NetRig.create();
    r.gxs.write(`${r.frontend}/tx-ring-ref`, '\u0000\u00ff');
    r.gxs.write(`${r.frontend}/event-channel`, '5'.repeat(2000));
    r.gxs.write(`${r.frontend}/request-rx-copy`, '1');
    r.setFrontState(4);
    expect(r.state).toBe(ST.Closing);
    r.gxs.write(`${r.frontend}/state`, 'banana');
    expect(() => r.nb.poll()).not.toThrow();
  });
});

describe('over the real grant-table and event-channel engines', () => {
  it('connects, sends and receives frames, and notifies the guest port', async () => {
    const RAM = 1024;
    const mem = new PhysMemory(RAM * PAGE, Domain.extraFramesFor(RAM));
    const dom = new Domain({ type: 'pv', cpu: createCpu(mem), mem, nrPages: RAM, console: { write() {} }, cmdline: '' });
    const server = newServer();
    buildDomainTree(server, { domid: dom.domid, name: 'g', memoryKiB: 4096 });
    const host = fakeHost();
    const config = parseNetSpec(`switch:lan,mac=${A_MAC}`, { index: 0, kernelPath: '/k' });
    const port = await createNetPort(config, host);
    const { frontend, backend } = addNetDevice(server, dom.domid, config);
    const nb = new Netback({
      server, backendPath: backend, port, grants: grantAccessOf(dom.grants), rings: ringMapperOf(dom.grants), events: eventBinderOf(dom.events),
    });
    nb.start();
    const l = await listener(host);
    const entry = (ref: number) => dom.grantFrames[ref >> 9]! * PAGE + (ref & 511) * 8;
    const grant = (ref: number, frame: number, ro = false) => {
      mem.write16(entry(ref) + 2, 0);
      mem.write32(entry(ref) + 4, frame);
      mem.write16(entry(ref), GTF.permit_access | (ro ? GTF.readonly : 0));
    };
    const txPfn = 0x100, rxPfn = 0x101, dataPfn = 0x102, bufPfn = 0x103, roPfn = 0x104;
    const tx = new FrontRing(mem, txPfn * PAGE, 12, 4);
    const rx = new FrontRing(mem, rxPfn * PAGE, 8, 8);
    grant(8, txPfn);
    grant(9, rxPfn);
    grant(10, dataPfn, true);
    grant(11, bufPfn);
    grant(12, roPfn, true);
    const evt = dom.events.allocUnbound(0);
    const g = new XsClient(server, dom.domid);
    for (const [k, v] of Object.entries({ 'tx-ring-ref': '8', 'rx-ring-ref': '9', 'event-channel': String(evt), 'request-rx-copy': '1', state: '4' })) {
      g.write(`${frontend}/${k}`, v);
    }
    nb.poll();
    expect(g.read(`${backend}/state`)).toBe('4');
    expect(mem.read16(entry(8)) & (GTF.reading | GTF.writing)).toBe(GTF.reading | GTF.writing);
    // tx: a frame from a read-only grant, at an offset.
    const frame = eth(B_MAC, A_MAC, 0x88b5, 200);
    mem.writeBytes(dataPfn * PAGE + 64, frame);
    tx.put(encodeTxRequest({ gref: 10, offset: 64, flags: 0, id: 77, size: frame.length }));
    tx.put(encodeTxRequest({ gref: 13, offset: 0, flags: 0, id: 78, size: 60 })); // not granted
    dom.events.clearPending(evt);
    if (tx.publish()) dom.events.send(evt);
    nb.poll();
    expect(tx.takeRaw().map(decodeTxResponse)).toEqual([{ id: 77, status: OK }, { id: 78, status: ERR }]);
    expect(same(l.got[0]!, frame)).toBe(true);
    expect(dom.events.isPending(evt)).toBe(true);
    // rx: into a writable buffer; a read-only one is refused.
    rx.put(encodeRxRequest({ id: 3, gref: 12 }));
    rx.put(encodeRxRequest({ id: 4, gref: 11 }));
    rx.publish();
    const back = eth(A_MAC, B_MAC, 0x88b5, 300);
    l.port.send(eth(A_MAC, B_MAC, 0x88b5, 100));
    l.port.send(back);
    dom.events.clearPending(evt);
    nb.poll();
    const rsp = rx.takeRaw().map(decodeRxResponse);
    expect(rsp).toEqual([{ id: 3, offset: 0, flags: 0, status: ERR }, { id: 4, offset: 0, flags: 0, status: back.length }]);
    expect(same(mem.readBytes(bufPfn * PAGE, back.length), back)).toBe(true);
    expect(dom.events.isPending(evt)).toBe(true);
    // No data grant left pinned; teardown unmaps both rings and frees dom0's port.
    expect(mem.read16(entry(10)) & (GTF.reading | GTF.writing)).toBe(0);
    expect(mem.read16(entry(11)) & (GTF.reading | GTF.writing)).toBe(0);
    g.write(`${frontend}/state`, '5');
    nb.poll();
    expect(mem.read16(entry(8)) & (GTF.reading | GTF.writing)).toBe(0);
    expect(mem.read16(entry(9)) & (GTF.reading | GTF.writing)).toBe(0);
    expect(dom.events.backendOf(evt)).toBeNull();
    nb.close();
    expect(g.read(`${backend}/state`)).toBe('6');
    port.send(frame);
    expect(port.stats.dropped.closed).toBe(1);
  });
});
