/**
 * A NetPort against Linux's own VXLAN driver, the peer the `--net vxlan:`
 * promise is about. Needs root and iproute2; skipped (with the reason)
 * otherwise.
 *
 * The rig: a network namespace joined to ours by a veth pair (the
 * underlay, a /30 in 198.18.0.0/15, the benchmarking range), and inside
 * it `vx0`, a Linux vxlan interface whose remote is our end of the veth
 * and whose dstport is the port our NetPort is bound to. vx0 has
 * 198.19.0.2/24; the test plays a station 198.19.0.1 behind the NetPort,
 * answering ARP and UDP. A Node child inside the namespace sends a UDP
 * datagram to 198.19.0.1 and waits for the answer: Linux ARPs (broadcast,
 * encapsulated to us), we answer, Linux sends the datagram, we answer
 * that. Everything is bounded in time, and afterAll removes the namespace
 * and the veth pair whatever happened.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeNetHost } from '../../src/cli/net-host.js';
import { createNetPort, type NetPort } from '../../src/vmm/devices/net/port.js';
import { parseNetSpec } from '../../src/vmm/devices/net/spec.js';
import type { UdpSocket } from '../../src/vmm/devices/net/vxlan.js';
import { arp, parseArp, parseUdp4, udp4 } from './helpers.js';

const OUR_MAC = '02:16:3e:00:00:01';
const OUR_IP = '198.19.0.1';
const LINUX_IP = '198.19.0.2';
const VNI = 4242;
const CHILD_TIMEOUT_MS = 8000;

const tag = process.pid % 16384;
const NS = `xenkit-vx-${process.pid}`;
const VA = `xkva${tag}`;
const VB = `xkvb${tag}`;
const base = tag * 4; // a /30 of 198.18.0.0/16 per test process
const U1 = `198.18.${base >> 8}.${(base & 255) + 1}`;
const U2 = `198.18.${base >> 8}.${(base & 255) + 2}`;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Why the rig cannot be built here, or null when it can. */
function unavailable(): string | null {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth and vxlan interfaces)';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'iproute2 (`ip`) is not installed';
  return null;
}

let skipReason = unavailable();
let sock: UdpSocket | null = null;
let port: NetPort | null = null;
let dstport = 0;

beforeAll(async () => {
  if (skipReason !== null) return;
  try {
    ip('netns', 'add', NS);
    ip('link', 'add', VA, 'type', 'veth', 'peer', 'name', VB, 'netns', NS);
    ip('addr', 'add', `${U1}/30`, 'dev', VA);
    ip('link', 'set', VA, 'up');
    ip('-n', NS, 'link', 'set', 'lo', 'up');
    ip('-n', NS, 'addr', 'add', `${U2}/30`, 'dev', VB);
    ip('-n', NS, 'link', 'set', VB, 'up');
    sock = await nodeNetHost().udp({ address: U1, port: 0 });
    dstport = sock.local.port;
    ip('-n', NS, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'remote', U1, 'local', U2, 'dstport', String(dstport));
    ip('-n', NS, 'addr', 'add', `${LINUX_IP}/24`, 'dev', 'vx0');
    ip('-n', NS, 'link', 'set', 'vx0', 'up');
  } catch (e) {
    const msg = ((e as { stderr?: string }).stderr || (e as Error).message).toString().trim().split('\n')[0];
    skipReason = `cannot build the namespace rig: ${msg}`;
  }
});

afterAll(() => {
  port?.close();
  sock?.close();
  spawnSync('ip', ['link', 'del', VA], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
});

/** The Node program run inside the namespace: one UDP exchange with 198.19.0.1, printed as JSON. */
const CHILD = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
const stop = (o, code) => { console.log(JSON.stringify(o)); process.exit(code); };
setTimeout(() => stop({ error: 'timeout' }, 1), ${CHILD_TIMEOUT_MS - 1000});
s.on('message', (m, r) => stop({ reply: m.toString(), from: r.address + ':' + r.port }, 0));
s.bind(0, '${LINUX_IP}', () => {
  const send = () => s.send('ping from linux', 7777, '${OUR_IP}');
  send();
  setInterval(send, 250); // the first may wait on ARP; Linux keeps a few
});
`;

describe('a Linux vxlan interface in a network namespace', () => {
  it('ARP and UDP both ways between Linux and a NetPort', async (ctx) => {
    if (skipReason !== null) ctx.skip(skipReason);
    const host = { ...nodeNetHost(), udp: async () => sock! };
    port = await createNetPort(parseNetSpec(`vxlan:${U2}:${dstport},vni=${VNI},local=${U1}:${dstport},mac=${OUR_MAC}`, { index: 0, kernelPath: '/k' }), host);
    const p = port;
    const pings: string[] = [];
    let arpRequests = 0;
    p.onReceive((f) => {
      const a = parseArp(f);
      if (a !== null && a.op === 1 && a.targetIp === OUR_IP) {
        arpRequests++;
        setImmediate(() => p.send(arp(2, OUR_MAC, OUR_IP, a.senderMac, a.senderIp)));
        return;
      }
      const u = parseUdp4(f);
      if (u !== null && u.dst === OUR_IP && u.dport === 7777) {
        pings.push(new TextDecoder().decode(u.data));
        const linuxMac = Array.from(f.subarray(6, 12), (x) => x.toString(16).padStart(2, '0')).join(':');
        setImmediate(() => p.send(udp4(linuxMac, OUR_MAC, OUR_IP, 7777, u.src, u.sport, new TextEncoder().encode('pong from xenkit'))));
      }
    });

    const child = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', CHILD], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stdout.on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stderr.on('data', (d: string) => { err += d; });
    const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    clearTimeout(killer);

    const context = `child exit ${code}, stdout ${out.trim()}, stderr ${err.trim()}; port stats ${JSON.stringify(p.stats)}`;
    expect(code, context).toBe(0);
    expect(JSON.parse(out)).toEqual({ reply: 'pong from xenkit', from: `${OUR_IP}:7777` });
    expect(arpRequests, context).toBeGreaterThanOrEqual(1);
    expect(pings[0]).toBe('ping from linux');
    expect(p.stats.vxlan).toMatchObject({ malformed: 0, otherVni: 0, inner: { tooShort: 0, tooLong: 0 } });
    // Linux learned our station: in its neighbour table and in vx0's forwarding database, behind our VTEP.
    expect(ip('-n', NS, 'neigh', 'show', OUR_IP, 'dev', 'vx0')).toContain(OUR_MAC);
    const fdb = execFileSync('bridge', ['-n', NS, 'fdb', 'show', 'dev', 'vx0'], { encoding: 'utf8', timeout: 10_000 });
    expect(fdb).toMatch(new RegExp(`${OUR_MAC} dst ${U1.replaceAll('.', '\\.')}`));
  }, 20_000);

  it('our VNI field is the one Linux reads: 4242 reaches vx0, 4243 does not', async (ctx) => {
    if (skipReason !== null) ctx.skip(skipReason);
    const before = ip('-n', NS, '-s', 'link', 'show', 'vx0');
    const rxPackets = (s: string): number => Number(/RX:[^\n]*\n\s*(\d+)\s+(\d+)/.exec(s)![2]);
    const other = await nodeNetHost().udp({ address: U1, port: 0 });
    try {
      const { vxlanEncap } = await import('../../src/vmm/devices/net/vxlan.js');
      const f = udp4('ff:ff:ff:ff:ff:ff', OUR_MAC, OUR_IP, 7777, LINUX_IP, 9, new Uint8Array(4));
      other.send(vxlanEncap(f, VNI + 1), dstport, U2);
      other.send(vxlanEncap(f, VNI), dstport, U2);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      other.close();
    }
    const after = ip('-n', NS, '-s', 'link', 'show', 'vx0');
    expect(rxPackets(after) - rxPackets(before)).toBe(1); // only the one with VNI 4242, from any source port
  }, 20_000);
});
