/**
 * NetPort, the interface the netback uses, over a fake host: two guests'
 * vifs on one switch, a vxlan vif over the in-memory UDP network, the
 * capture of both directions, size checks, frames without a receiver,
 * close, start-up failures that leave nothing open, and a switch's VXLAN
 * uplink.
 */
import { describe, expect, it } from 'vitest';
import { attachVxlanUplink, createNetPort } from '../../src/vmm/devices/net/port.js';
import { NetSpecError, parseNetSpec, type VxlanBackend } from '../../src/vmm/devices/net/spec.js';
import { vxlanDecap, vxlanEncap } from '../../src/vmm/devices/net/vxlan.js';
import { eth, fakeHost, readPcap, toHex } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const cfg = (spec: string, index = 0, guest = 0): ReturnType<typeof parseNetSpec> => parseNetSpec(spec, { index, kernelPath: '/k.elf', guest });

describe('switch ports: guests of one process on one segment', () => {
  it('two vifs exchange frames; the switch learns; stats count both ways', async () => {
    const host = fakeHost();
    const p0 = await createNetPort(cfg(`switch:lan,mac=${A}`), host);
    const p1 = await createNetPort(cfg(`switch:lan,mac=${B}`, 0, 1), host);
    const in0: Uint8Array[] = [];
    const in1: Uint8Array[] = [];
    p0.onReceive((f) => in0.push(f));
    p1.onReceive((f) => in1.push(f));
    const hello = eth(BCAST, A, 0x0806, 28);
    const reply = eth(A, B, 0x0806, 28);
    expect(p0.send(hello)).toBe(true);
    expect(p1.send(reply)).toBe(true);
    expect(in1).toEqual([hello]);
    expect(in0).toEqual([reply]);
    expect(p0.stats).toMatchObject({ tx: { frames: 1, bytes: 42 }, rx: { frames: 1, bytes: 42 }, vxlan: null, pcapRecords: null });
    expect(p0.local).toBeNull();
    expect(host.switches.get('lan')!.entries().map((e) => [e.mac, e.label])).toEqual([[A, `vif 0 (${A})`], [B, `vif 0 (${B})`]]);
  });

  it('ports on different switches do not meet', async () => {
    const host = fakeHost();
    const p0 = await createNetPort(cfg('switch:one'), host);
    const p1 = await createNetPort(cfg('switch:two', 0, 1), host);
    let got = 0;
    p1.onReceive(() => { got++; });
    p0.send(eth(BCAST, p0.mac, 0x0806));
    expect(got).toBe(0);
    expect([...host.switches.keys()]).toEqual(['one', 'two']);
  });

  it('generated MACs of the same kernel differ between guests; a clash on a switch is a one-line error', async () => {
    const host = fakeHost();
    const p0 = await createNetPort(cfg('switch:lan', 0, 0), host);
    const p1 = await createNetPort(cfg('switch:lan', 0, 1), host);
    expect(p0.mac).not.toBe(p1.mac);
    const clash = cfg('switch:lan', 0, 0);
    await expect(createNetPort(clash, host)).rejects.toThrow(NetSpecError);
    await expect(createNetPort(clash, host)).rejects.toThrow(new RegExp(`^--net switch:lan: switch lan: MAC ${p0.mac} is already on this switch`));
    p0.close();
    await expect(createNetPort(clash, host)).resolves.toBeDefined();
  });
});

describe('checks, receivers and close', () => {
  it('bad sizes are dropped both ways; rx without a receiver is dropped', async () => {
    const host = fakeHost();
    const p = await createNetPort(cfg(`switch:lan,mac=${A}`), host);
    const peer = host.switches.get('lan')!.attach('peer', () => undefined);
    expect(p.send(new Uint8Array(10))).toBe(false);
    expect(p.send(eth(B, A, 0x0800, 1501))).toBe(false);
    peer.input(eth(A, B, 0x0800)); // nobody listening yet
    const got: Uint8Array[] = [];
    p.onReceive((f) => got.push(f));
    peer.input(eth(A, B, 0x0800));
    p.onReceive(null);
    peer.input(eth(A, B, 0x0800));
    expect(got.length).toBe(1);
    expect(p.stats.dropped).toEqual({ tooShort: 1, tooLong: 1, noReceiver: 2, closed: 0 });
    expect(p.stats.tx.frames).toBe(0);
  });

  it('close: leaves the switch, closes the capture, refuses later frames; idempotent', async () => {
    const host = fakeHost();
    const p = await createNetPort(cfg(`switch:lan,mac=${A},pcap=cap`), host);
    p.onReceive(() => undefined);
    p.close();
    p.close();
    expect(host.switches.get('lan')!.portCount).toBe(0);
    expect(host.files.get('cap')!.closed).toBe(true);
    expect(p.send(eth(B, A, 0x0800))).toBe(false);
    expect(p.stats.dropped.closed).toBe(1);
  });
});

describe('capture', () => {
  it('every frame, both ways, in order, with the host clock', async () => {
    const host = fakeHost(1_700_000_000_000);
    const p = await createNetPort(cfg(`switch:lan,mac=${A},pcap=vif0.pcap`), host);
    const peer = host.switches.get('lan')!.attach('peer', () => undefined);
    p.onReceive(() => undefined);
    const frames = [eth(BCAST, A, 0x0806, 28), eth(A, B, 0x0806, 28), eth(B, A, 0x0800, 100)];
    p.send(frames[0]!);
    host.clock.t += 1.5;
    peer.input(frames[1]!);
    host.clock.t += 1000;
    p.send(frames[2]!);
    p.send(new Uint8Array(5)); // dropped: not captured
    p.close();
    const r = readPcap(host.files.get('vif0.pcap')!.bytes());
    expect(r.records.map((x) => toHex(x.data))).toEqual(frames.map(toHex));
    expect(r.records.map((x) => [x.sec, x.usec])).toEqual([[1_700_000_000, 0], [1_700_000_000, 1500], [1_700_000_001, 1500]]);
    expect(p.stats.pcapRecords).toBe(3);
  });

  it('a capture file that cannot be created fails start-up and releases the socket', async () => {
    const host = fakeHost();
    await expect(createNetPort(cfg('vxlan:10.0.0.2,vni=1,local=10.0.0.1,pcap=/nonexistent/x.pcap'), host)).rejects.toThrow(/cannot create/);
    expect(() => host.net.bind({ address: '10.0.0.1', port: 4789 })).not.toThrow(); // the port is free again
  });

  it('a capture that fails later is reported once through warn; frames keep flowing', async () => {
    const host = fakeHost();
    let writes = 0;
    host.openPcap = () => ({ write: () => { if (++writes > 2) throw new Error('EIO: i/o error'); }, close: () => undefined });
    const p = await createNetPort(cfg(`switch:lan,mac=${A},pcap=bad.pcap`), host);
    const peer: Uint8Array[] = [];
    host.switches.get('lan')!.attach('peer', (f) => peer.push(f));
    for (let i = 0; i < 4; i++) expect(p.send(eth(BCAST, A, 0x0800))).toBe(true);
    expect(peer.length).toBe(4);
    expect(host.warnings).toEqual(['--net switch:lan,mac=02:00:00:00:00:0a,pcap=bad.pcap: capture to bad.pcap stopped: EIO: i/o error']);
    expect(p.stats.pcapRecords).toBe(1);
  });
});

describe('vxlan ports', () => {
  it('tx goes to the remote encapsulated with the VNI; rx from any source with that VNI', async () => {
    const host = fakeHost();
    const p = await createNetPort(cfg(`vxlan:10.0.0.2:4790,vni=99,local=10.0.0.1:4791,mac=${A}`), host);
    expect(p.local).toEqual({ address: '10.0.0.1', port: 4791 });
    const got: Uint8Array[] = [];
    p.onReceive((f) => got.push(f));
    const out = eth(B, A, 0x0800, 60);
    p.send(out);
    expect(host.net.log).toEqual([{ from: { address: '10.0.0.1', port: 4791 }, to: { address: '10.0.0.2', port: 4790 }, data: vxlanEncap(out, 99) }]);
    const back = eth(A, B, 0x0800, 60);
    host.net.inject({ address: '10.9.9.9', port: 12345 }, { address: '10.0.0.1', port: 4791 }, vxlanEncap(back, 99));
    host.net.inject({ address: '10.0.0.2', port: 4790 }, { address: '10.0.0.1', port: 4791 }, vxlanEncap(back, 98));
    expect(got.map(toHex)).toEqual([toHex(back)]);
    expect(p.stats.vxlan).toEqual({ sent: 1, received: 1, malformed: 0, otherVni: 1, inner: { tooShort: 0, tooLong: 0 } });
    p.close();
    expect(() => host.net.bind({ address: '10.0.0.1', port: 4791 })).not.toThrow();
  });

  it('without local=, binds the wildcard at the remote port (as Linux does)', async () => {
    const host = fakeHost();
    const p = await createNetPort(cfg('vxlan:10.0.0.2,vni=1'), host);
    expect(p.local).toEqual({ address: '0.0.0.0', port: 4789 });
  });

  it('a port that cannot be bound rejects (the host\'s one-line error)', async () => {
    const host = fakeHost();
    host.net.bind({ address: '0.0.0.0', port: 4789 });
    await expect(createNetPort(cfg('vxlan:10.0.0.2,vni=1'), host)).rejects.toThrow(/address already in use/);
  });
});

describe('a switch with a VXLAN uplink', () => {
  const uplink: VxlanBackend = { kind: 'vxlan', remote: { address: '10.0.0.2', port: 4789 }, family: 4, vni: 5, local: { address: '10.0.0.1', port: 4789 } };

  it('guests reach stations behind the uplink and back; the switch learns them', async () => {
    const host = fakeHost();
    const up = await attachVxlanUplink('lan', uplink, host, 'uplink.pcap');
    const g0 = await createNetPort(cfg(`switch:lan,mac=${A}`), host);
    const g1 = await createNetPort(cfg(`switch:lan,mac=${B}`, 0, 1), host);
    const in0: Uint8Array[] = [];
    const in1: Uint8Array[] = [];
    g0.onReceive((f) => in0.push(f));
    g1.onReceive((f) => in1.push(f));

    // A station C behind the remote broadcasts: both guests see it.
    const fromC = eth(BCAST, C, 0x0806, 28);
    host.net.inject({ address: '10.0.0.2', port: 33333 }, { address: '10.0.0.1', port: 4789 }, vxlanEncap(fromC, 5));
    expect(in0.length + in1.length).toBe(2);
    // g0 answers C: exactly one datagram to the remote, not g1.
    const toC = eth(C, A, 0x0806, 28);
    g0.send(toC);
    const sent = host.net.log.filter((d) => d.from.port === 4789 && d.to.address === '10.0.0.2');
    expect(sent.length).toBe(1);
    expect(vxlanDecap(sent[0]!.data)).toEqual({ kind: 'frame', vni: 5, frame: toC });
    expect(in1.length).toBe(1);
    // Guest-to-guest unicast stays off the uplink once learned.
    const before = in0.length;
    g1.send(eth(A, B, 0x0800));
    expect(in0.length).toBe(before + 1);
    expect(host.net.log.filter((d) => d.to.address === '10.0.0.2').length).toBe(1);
    expect(up.stats).toMatchObject({ received: 1 });
    expect(up.pcapRecords).toBe(up.stats.sent + up.stats.received);
    up.close();
    expect(host.files.get('uplink.pcap')!.closed).toBe(true);
  });
});
