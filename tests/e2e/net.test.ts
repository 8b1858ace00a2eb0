/**
 * The template's network frontend (kernel/netfront.c) and IPv4 toolkit
 * (lib/inet.c) against the VMM's netback, end to end, as a PV and as a
 * PVH guest: one vif (Machine.addNic) on an in-memory switch (the fake
 * NetHost of tests/net), where a peer written here — a raw port on the
 * same switch, at 10.0.0.1 — plays the rest of the network:
 *  - tests/guests/net.c: the handshake, ARP, UDP echoes of every size, a
 *    burst beyond the guest's buffers, answers to the peer's ARP request
 *    and pings (checked here, on the wire), close and reopen;
 *  - lib/inet.c's host unit test (built and run natively);
 *  - app/netdemo.c: the demo answers the peer's ARP request, ping and UDP
 *    datagram, announces itself, prints its counters; its address from the
 *    command line, from xenstore, or the default; "quit" on the console
 *    stops it; with no vif it says so and does not wait.
 *
 * The peer runs as a machine backend registered before the vif's netback,
 * so at every check point it answers what the guest sent and its frames
 * are in the guest's ring in the same device poll. It never sends from
 * inside the switch's receive callback (it queues; NetPort's rule).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';
import { createNetPort, parseNetSpec, type NetPort } from '../../src/vmm/devices/net/index.js';
import type { Netback } from '../../src/vmm/devices/net/netback.js';
import { XsClient } from '../../src/vmm/devices/xenstore/index.js';
import { arp, eth, fakeHost, parseArp, parseUdp4, udp4 } from '../net/helpers.js';
import {
  GUEST_MEMORY, MAX_INSTRUCTIONS, SHUTDOWN, TEMPLATE_DIR, buildGuest, expectSuccess, explain, type BootResult,
  type GuestKernels,
} from './guests.js';

const GUEST_MAC = '02:16:3e:00:00:02', PEER_MAC = '02:00:00:00:00:01';
const PEER_IP = '10.0.0.1', GUEST_IP = '10.0.0.2';

function ip4(a: string): number[] {
  return a.split('.').map(Number);
}

function csum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** An IPv4 ICMP echo request frame with correct checksums. */
function ping(dstMac: string, dst: string, id: number, seq: number, data: Uint8Array): Uint8Array {
  const icmp = new Uint8Array(8 + data.length);
  icmp.set([8, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff]);
  icmp.set(data, 8);
  const c = csum(icmp);
  icmp[2] = c >> 8; icmp[3] = c & 0xff;
  const ip = new Uint8Array(20 + icmp.length);
  ip.set([0x45, 0, ip.length >> 8, ip.length & 0xff, 0, 9, 0, 0, 64, 1, 0, 0, ...ip4(PEER_IP), ...ip4(dst)]);
  const ic = csum(ip.subarray(0, 20));
  ip[10] = ic >> 8; ip[11] = ic & 0xff;
  ip.set(icmp, 20);
  return eth(dstMac, PEER_MAC, 0x0800, ip);
}

/** An ICMP echo reply's fields, checksums verified (null when the frame is not one). */
function parseEchoReply(f: Uint8Array): { src: string; dst: string; id: number; seq: number; data: Uint8Array } | null {
  if (f.length < 42 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 1) return null;
  const ihl = (f[14]! & 0xf) * 4, total = (f[16]! << 8) | f[17]!;
  const icmp = f.subarray(14 + ihl, 14 + total);
  if (csum(f.subarray(14, 14 + ihl)) !== 0 || csum(icmp) !== 0 || icmp[0] !== 0) return null;
  return {
    src: Array.from(f.subarray(26, 30)).join('.'), dst: Array.from(f.subarray(30, 34)).join('.'),
    id: (icmp[4]! << 8) | icmp[5]!, seq: (icmp[6]! << 8) | icmp[7]!, data: icmp.slice(8),
  };
}

/** The peer at 10.0.0.1: answers ARP for itself, echoes UDP on port 7, and runs a script once the vif is up. */
class Peer {
  readonly inbox: Uint8Array[] = [];
  readonly seen: Uint8Array[] = [];
  private outbox: Uint8Array[] = [];
  private started = false;
  nb: Netback | null = null;

  constructor(readonly port: NetPort, private readonly onConnected: (p: Peer) => void = () => {}, private readonly onGuestArp: (p: Peer) => void = () => {}) {
    port.onReceive((f) => this.inbox.push(f));
  }

  send(f: Uint8Array): void {
    this.outbox.push(f);
  }

  /** A machine backend: react to what arrived, then send what is queued. */
  poll(): void {
    if (!this.started && this.nb?.connected === true) {
      this.started = true;
      this.onConnected(this);
    }
    for (const f of this.inbox.splice(0)) {
      this.seen.push(f);
      const a = parseArp(f);
      if (a !== null && a.op === 1 && a.targetIp === PEER_IP) {
        this.send(arp(2, PEER_MAC, PEER_IP, a.senderMac, a.senderIp));
        this.onGuestArp(this);
        continue;
      }
      const u = parseUdp4(f);
      if (u !== null && u.dst === PEER_IP && u.dport === 7) {
        const srcMac = Array.from(f.subarray(6, 12), (x) => x.toString(16).padStart(2, '0')).join(':');
        this.send(udp4(srcMac, PEER_MAC, PEER_IP, 7, u.src, u.sport, u.data));
      }
    }
    for (const f of this.outbox.splice(0)) this.port.send(f);
  }
}

interface NetBoot extends BootResult { peer: Peer; nb: Netback; states: { front?: string; back?: string } }

/** Boot `elf` with one vif (and the peer) on switch "lan". */
async function bootWithNic(elf: string, o: {
  cmdline?: string; input?: string; nic?: boolean; backendIp?: string;
  onConnected?: (p: Peer) => void; onGuestArp?: (p: Peer) => void;
} = {}): Promise<NetBoot> {
  const host = fakeHost();
  const kernel = inspectKernel(new Uint8Array(readFileSync(elf)), elf);
  const decoder = new TextDecoder();
  let text = '';
  const machine = new Machine({
    kernel, memory: GUEST_MEMORY, cmdline: o.cmdline ?? '',
    console: { write: (bytes) => { text += decoder.decode(bytes, { stream: true }); } },
  });
  const peerPort = await createNetPort(parseNetSpec(`switch:lan,mac=${PEER_MAC}`, { index: 9, kernelPath: '/peer' }), host);
  const peer = new Peer(peerPort, o.onConnected, o.onGuestArp);
  machine.addBackend(peer); // before the netback: its frames reach the ring in the same device poll
  const logs: string[] = [];
  let nb: Netback | null = null;
  if (o.nic !== false) {
    const config = parseNetSpec(`switch:lan,mac=${GUEST_MAC}`, { index: 0, kernelPath: elf, guest: 0 });
    const port = await createNetPort(config, host);
    nb = machine.addNic(config, port, (m) => logs.push(m));
    peer.nb = nb;
    if (o.backendIp !== undefined) {
      const xs = new XsClient(machine.xenstore, 0);
      xs.write(`/local/domain/0/backend/vif/${machine.domain.domid}/0/ip`, o.backendIp);
      xs.close();
    }
  }
  if (o.input !== undefined) machine.consoleInput(new TextEncoder().encode(o.input));
  const start = machine.cpu.icount;
  const exit = machine.runToEnd(MAX_INSTRUCTIONS);
  text += decoder.decode();
  const xs = new XsClient(machine.xenstore, 0);
  const dom = machine.domain.domid;
  const states = { front: xs.tryRead(`/local/domain/${dom}/device/vif/0/state`), back: xs.tryRead(`/local/domain/0/backend/vif/${dom}/0/state`) };
  xs.close();
  machine.close();
  peerPort.close();
  const out = text.replace(/\r\n/g, '\n') + (logs.length > 0 ? `\n[backend log]\n${logs.join('\n')}\n` : '');
  return { exit, out, machine, instructions: machine.cpu.icount - start, peer, nb: nb!, states };
}

let net: GuestKernels;
let demo: GuestKernels;
beforeAll(() => {
  net = buildGuest('net.c');
  demo = buildGuest(join('..', '..', 'templates', 'minios', 'app', 'netdemo.c'));
});

const PING_DATA = Uint8Array.from({ length: 56 }, (_, i) => i);

describe('the IPv4 toolkit (lib/inet.c)', () => {
  it('passes its host unit test (tests/host/inet-test.c, part of `make check`)', () => {
    const out = mkdtempSync(join(tmpdir(), 'xenkit-inet-'));
    try {
      execFileSync('make', ['-s', '-C', TEMPLATE_DIR, `O=${out}`, `${out}/host/inet-test`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let report: string;
      try {
        report = execFileSync(join(out, 'host', 'inet-test'), { encoding: 'utf8' });
      } catch (e) {
        report = String((e as { stdout?: string }).stdout ?? e);
      }
      const m = /^inet: (\d+) cases, (\d+) failures$/m.exec(report);
      expect(m, report).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(300);
      expect(Number(m![2]), report).toBe(0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('netfront guest (tests/guests/net.c)', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: handshake, ARP, UDP of every size, a burst, answers to the peer, reopen`, async () => {
      let pinged = false;
      const r = await bootWithNic(net[type], {
        // Once the guest has asked for us, ask for it and ping it three times.
        onGuestArp: (p) => {
          if (pinged) return;
          pinged = true;
          p.send(arp(1, PEER_MAC, PEER_IP, '00:00:00:00:00:00', GUEST_IP));
          for (let seq = 1; seq <= 3; seq++) p.send(ping(GUEST_MAC, GUEST_IP, 0x77, seq, PING_DATA));
        },
      });
      const why = explain(r);
      expectSuccess(r);
      expect(r.out, why).toContain(`net: device/vif/0: devid 0, backend /local/domain/0/backend/vif/1/0 (domain 0), mac ${GUEST_MAC}\n`);
      expect(r.out, why).toContain(`net: ARP: ${PEER_IP} is at ${PEER_MAC}\n`);
      expect(r.out, why).toContain('net: UDP: 4 datagrams of 0-1472 bytes echoed\n');
      expect(r.out, why).toContain('net: a burst of 40 datagrams, all echoed\n');
      expect(r.out, why).toContain('net: answered 1 ARP request(s) and 3 pings from the peer\n');
      expect(r.out, why).toContain('net: closed, reopened, and a datagram still comes back\n');
      // On the wire: the guest's ARP reply and echo replies, as RFC 826 / 792 want them.
      const arpReplies = r.peer.seen.map(parseArp).filter((a) => a?.op === 2);
      expect(arpReplies, why).toEqual([{ op: 2, senderMac: GUEST_MAC, senderIp: GUEST_IP, targetIp: PEER_IP }]);
      const echoes = r.peer.seen.map(parseEchoReply).filter((e) => e !== null);
      expect(echoes.map((e) => [e.src, e.dst, e.id, e.seq]), why).toEqual([1, 2, 3].map((s) => [GUEST_IP, PEER_IP, 0x77, s]));
      for (const e of echoes) expect(e.data).toEqual(PING_DATA);
      // 4 + 40 + 1 datagrams reached the peer; the largest was a full 1514-byte frame.
      const udp = r.peer.seen.filter((f) => parseUdp4(f)?.dport === 7);
      expect(udp.length, why).toBe(45);
      expect(Math.max(...udp.map((f) => f.length)), why).toBe(1514);
      expect(r.nb.stats.tx.errors + r.nb.stats.rx.errors + r.nb.stats.rx.dropped, why).toBe(0);
      // The guest closed the vif: Closed on both sides.
      expect(r.states, why).toEqual({ front: '6', back: '6' });
    });
  }
});

describe('netdemo (app/netdemo.c)', () => {
  /** The peer's questions: who has the guest's address, a ping, a UDP datagram to port 7. */
  const ask = (ip: string) => (p: Peer) => {
    p.send(arp(1, PEER_MAC, PEER_IP, '00:00:00:00:00:00', ip));
    p.send(ping(GUEST_MAC, ip, 0x4242, 1, PING_DATA));
    p.send(udp4(GUEST_MAC, PEER_MAC, PEER_IP, 5555, ip, 7, new TextEncoder().encode('hello, netdemo')));
  };

  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: answers ARP, ping and UDP echo, then prints its counters`, async () => {
      const r = await bootWithNic(demo[type], { cmdline: 'seconds=3', onConnected: ask(GUEST_IP) });
      const why = explain(r);
      expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });
      expect(r.out, why).toContain('netdemo: 1 vif\n');
      expect(r.out, why).toContain(`netdemo: device/vif/0 (backend /local/domain/0/backend/vif/1/0): mac ${GUEST_MAC}\n`);
      expect(r.out, why).toContain('netdemo: address 10.0.0.2/24 (from the default)\n');
      expect(r.out, why).toContain('netdemo: answering ARP, ping and UDP echo on port 7 for 3 s; type "quit" to stop sooner\n');
      expect(r.out, why).toContain(`netdemo: ARP: ${PEER_IP} (${PEER_MAC}) asks who has ${GUEST_IP}: told it\n`);
      expect(r.out, why).toContain(`netdemo: ping from ${PEER_IP}: id 16962 seq 1, 56 bytes: answered\n`);
      expect(r.out, why).toContain(`netdemo: UDP from ${PEER_IP}:5555, 14 bytes: echoed\n`);
      expect(r.out, why).toContain('netdemo: 3 s are up\n');
      expect(r.out, why).toMatch(/^netdemo: vif: rx 3 frames \(\d+ bytes, 0 errors\), tx 4 frames \(\d+ bytes, 0 errors\)$/m);
      expect(r.out, why).toContain('netdemo: answered 1 ARP, 1 ping, 1 UDP; ignored 0, bad 0\n');
      // On the wire: the announcement (a gratuitous ARP), the ARP reply, the echo reply, the UDP echo.
      const arps = r.peer.seen.map(parseArp).filter((a) => a !== null);
      expect(arps, why).toEqual([
        { op: 1, senderMac: GUEST_MAC, senderIp: GUEST_IP, targetIp: GUEST_IP },
        { op: 2, senderMac: GUEST_MAC, senderIp: GUEST_IP, targetIp: PEER_IP },
      ]);
      const echo = r.peer.seen.map(parseEchoReply).find((e) => e !== null);
      expect(echo, why).toEqual({ src: GUEST_IP, dst: PEER_IP, id: 0x4242, seq: 1, data: PING_DATA });
      const u = r.peer.seen.map(parseUdp4).find((x) => x !== null);
      expect(u && { ...u, data: new TextDecoder().decode(u.data) }, why).toEqual({ src: GUEST_IP, dst: PEER_IP, sport: 7, dport: 5555, data: 'hello, netdemo' });
      expect(r.states, why).toEqual({ front: '6', back: '6' });
    });
  }

  it('takes its address from the command line, or from the vif\'s xenstore `ip`', async () => {
    let r = await bootWithNic(demo.pv, { cmdline: 'seconds=1 ip=192.168.7.9/16 port=9', onConnected: ask('192.168.7.9') });
    let why = explain(r);
    expect(r.out, why).toContain('netdemo: address 192.168.7.9/16 (from the command line)\n');
    expect(r.out, why).toContain('netdemo: answering ARP, ping and UDP echo on port 9 for 1 s');
    // The UDP datagram went to port 7: not echoed.
    expect(r.out, why).toContain('netdemo: answered 1 ARP, 1 ping, 0 UDP; ignored 1, bad 0\n');

    r = await bootWithNic(demo.pv, { cmdline: 'seconds=1', backendIp: '10.1.2.3 10.1.2.4', onConnected: ask('10.1.2.3') });
    why = explain(r);
    expect(r.out, why).toContain('netdemo: address 10.1.2.3/24 (from xenstore)\n');
    expect(r.out, why).toContain('netdemo: answered 1 ARP, 1 ping, 1 UDP; ignored 0, bad 0\n');
  });

  it('stops at "quit" on the console; with no vif it says so and powers off', async () => {
    let r = await bootWithNic(demo.pvh, { cmdline: 'seconds=0', input: 'hi\nquit\n' });
    let why = explain(r);
    expect(r.out, why).toContain('answering ARP, ping and UDP echo on port 7; type "quit" to stop\n');
    expect(r.out, why).toContain('hi\nnetdemo: type "quit" to stop\nquit\nnetdemo: quit\n');
    expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });

    r = await bootWithNic(demo.pv, { nic: false });
    why = explain(r);
    expect(r.out, why).toContain('netdemo: 0 vifs\nnetdemo: nothing to do');
    expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });
  });
});
