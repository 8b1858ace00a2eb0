/**
 * Guests as peers of each other and of Linux, end to end:
 *  1. Two guests (tests/guests/netping.c) in one process, two Machines on
 *     one NetHost's `switch:lan`, each with its own MAC and IP: each pings
 *     the other and answers the other's pings; the machines are stepped
 *     alternately on the host clock.
 *  2. A `pcap=` capture on one vif of that run, read back by tshark: ARP
 *     requests and replies, ICMP echo requests and replies, nothing
 *     malformed. Skipped (with the reason) without tshark.
 *  3. Linux as the peer: app/netdemo.c run by the real CLI (`xenkit run
 *     --net vxlan:…`), and inside a network namespace made here (veth
 *     underlay + a Linux vxlan interface, as tests/net/linux-vxlan.test.ts)
 *     `ping` and a UDP datagram to the echo port, answered by the guest.
 *     The namespace's vxlan device gets tx checksum offload turned off
 *     (ethtool): otherwise Linux leaves the inner UDP checksum unfinished
 *     (the VXLAN underlay would finish it, not the guest) and the guest
 *     rightly counts the datagram as bad. Skipped (with the reason)
 *     without root, iproute2, ethtool or ping. Bounded in time; afterAll
 *     removes the namespace and the veth pair whatever happened.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostClock } from '../../src/cli/host-clock.js';
import { nodeNetHost } from '../../src/cli/net-host.js';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine, type MachineExit } from '../../src/vmm/machine.js';
import { createNetPort, parseNetSpec, type NetPort } from '../../src/vmm/devices/net/index.js';
import type { Netback } from '../../src/vmm/devices/net/netback.js';
import { GUEST_MEMORY, SHUTDOWN, buildGuest, verdict, type GuestKernels } from './guests.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let pinger: GuestKernels;
let demo: GuestKernels;
let work: string;
beforeAll(() => {
  pinger = buildGuest('netping.c');
  demo = buildGuest(join('..', '..', 'templates', 'minios', 'app', 'netdemo.c'));
  work = mkdtempSync(join(tmpdir(), 'xenkit-netpeers-'));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function has(cmd: string, ...args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined;
}

interface Guest { name: string; machine: Machine; nb: Netback; port: NetPort; out: () => string; exit: MachineExit | null }

/** Two netping guests on switch "lan" of one host; returns their consoles and the capture path. */
async function runPair(pcap: string): Promise<{ a: Guest; b: Guest }> {
  const host = nodeNetHost();
  const clock = hostClock();
  const make = async (name: string, index: number, mac: string, cmdline: string, extra: string): Promise<Guest> => {
    const kernel = inspectKernel(new Uint8Array(readFileSync(pinger.pv)), pinger.pv);
    const decoder = new TextDecoder();
    let text = '';
    const machine = new Machine({
      kernel, memory: GUEST_MEMORY, cmdline, clock,
      console: { write: (bytes) => { text += decoder.decode(bytes, { stream: true }); } },
    });
    const config = parseNetSpec(`switch:lan,mac=${mac}${extra}`, { index: 0, kernelPath: `/${name}`, guest: index });
    const port = await createNetPort(config, host);
    const nb = machine.addNic(config, port);
    return { name, machine, nb, port, out: () => text.replace(/\r\n/g, '\n'), exit: null };
  };
  const a = await make('a', 0, '02:16:3e:00:00:0a', 'ip=10.0.0.10 peer=10.0.0.11 count=3 expect=3', `,pcap=${pcap}`);
  const b = await make('b', 1, '02:16:3e:00:00:0b', 'ip=10.0.0.11 peer=10.0.0.10 count=3 expect=3', '');
  const deadline = Date.now() + 40_000;
  try {
    // Step both alternately; when both sleep, wait (briefly) for the nearer deadline.
    while ((a.exit === null || b.exit === null) && Date.now() < deadline) {
      let waitNs: bigint | null = null;
      for (const g of [a, b]) {
        if (g.exit !== null) continue;
        const r = g.machine.step(200_000);
        if (r === null) { waitNs = 0n; continue; }
        if (r.kind === 'idle') {
          const w = r.waitNs ?? 1_000_000n;
          waitNs = waitNs === null || w < waitNs ? w : waitNs;
        } else {
          g.exit = r;
        }
      }
      if (waitNs !== null && waitNs > 0n) {
        const ms = Math.min(5, Number(waitNs / 1_000_000n));
        if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      }
    }
  } finally {
    for (const g of [a, b]) {
      g.machine.close();
      g.port.close();
    }
  }
  return { a, b };
}

describe('two guests on one switch', () => {
  let pcap = '';
  let ran = false;

  it('ping each other: ARP, 3 echo requests each way, all answered', async () => {
    pcap = join(work, 'a.pcap');
    const { a, b } = await runPair(pcap);
    ran = true;
    for (const g of [a, b]) {
      const why = `guest ${g.name}: exit ${JSON.stringify(g.exit)}\n${g.out()}`;
      expect(g.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });
      expect(verdict(g.out()), why).toBe('SUCCESS');
      const [me, peer, peerMac] = g.name === 'a' ? ['10.0.0.10', '10.0.0.11', '02:16:3e:00:00:0b'] : ['10.0.0.11', '10.0.0.10', '02:16:3e:00:00:0a'];
      expect(g.out(), why).toContain(`netping: ${me} (`);
      expect(g.out(), why).toContain(`netping: ARP: ${peer} is at ${peerMac}\n`);
      for (const seq of [1, 2, 3]) expect(g.out(), why).toContain(`netping: reply from ${peer}: seq ${seq}, 56 bytes, ttl 64\n`);
      expect(g.out(), why).toMatch(/^netping: 3\/3 replies; answered [1-9]\d* ARP, 3 ping; ignored \d+, bad 0$/m);
      expect(g.nb.stats.tx.errors + g.nb.stats.rx.errors, why).toBe(0);
    }
  }, 60_000);

  it('the pcap capture of guest A\'s vif: well-formed ARP and ICMP, read by tshark', (ctx) => {
    if (!ran || !existsSync(pcap)) ctx.skip('the two-guest run did not produce a capture');
    if (!has('tshark', '-v')) ctx.skip('tshark is not installed');
    const tshark = (...args: string[]): string =>
      execFileSync('tshark', ['-n', '-r', pcap, ...args], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const rows = tshark('-T', 'fields', '-E', 'separator=|', '-e', 'frame.protocols', '-e', 'arp.opcode', '-e', 'icmp.type',
      '-e', 'icmp.checksum.status', '-e', 'ip.src', '-e', 'ip.dst').trim().split('\n').map((l) => l.split('|'));
    const why = rows.map((r) => r.join(' ')).join('\n');
    expect(rows.length, why).toBeGreaterThanOrEqual(2 + 12);
    const arps = rows.filter((r) => r[0] === 'eth:ethertype:arp');
    expect(arps.some((r) => r[1] === '1'), why).toBe(true);
    expect(arps.some((r) => r[1] === '2'), why).toBe(true);
    const icmp = rows.filter((r) => r[0] === 'eth:ethertype:ip:icmp:data');
    // A pings B (requests out, replies in) and B pings A (requests in, replies out): 3 of each at least.
    for (const [type, src, dst] of [['8', '10.0.0.10', '10.0.0.11'], ['0', '10.0.0.11', '10.0.0.10'],
      ['8', '10.0.0.11', '10.0.0.10'], ['0', '10.0.0.10', '10.0.0.11']]) {
      expect(icmp.filter((r) => r[2] === type && r[4] === src && r[5] === dst).length, why).toBeGreaterThanOrEqual(3);
    }
    // Nothing else on the wire, and every checksum good (tshark's status 1 = good).
    expect(rows.filter((r) => r[0] !== 'eth:ethertype:arp' && r[0] !== 'eth:ethertype:ip:icmp:data'), why).toEqual([]);
    expect(icmp.every((r) => r[3] === '1'), why).toBe(true);
    expect(tshark('-Y', '_ws.malformed || _ws.expert.severity >= warning').trim(), why).toBe('');
  });
});

// ---- Linux as the peer -------------------------------------------------------------------------

const GUEST_MAC = '02:16:3e:00:00:42';
const GUEST_IP = '198.19.0.1';
const LINUX_IP = '198.19.0.2';
const VNI = 4343;
const tag = (process.pid + 7777) % 16384;
const NS = `xenkit-np-${process.pid}`;
const VA = `xkna${tag}`;
const VB = `xknb${tag}`;
const base = tag * 4;
const U1 = `198.18.${base >> 8}.${(base & 255) + 1}`;
const U2 = `198.18.${base >> 8}.${(base & 255) + 2}`;
const VXPORT = 20000 + (process.pid % 20000);

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

function linuxUnavailable(): string | null {
  if (process.platform !== 'linux') return 'Linux only';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, veth and vxlan interfaces)';
  if (!has('ip', '-V')) return 'iproute2 (`ip`) is not installed';
  if (!has('ethtool', '--version')) return 'ethtool is not installed (needed to turn off tx checksum offload on the vxlan device)';
  if (!has('ping', '-V')) return '`ping` (iputils-ping) is not installed';
  if (!existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) return 'the CLI is not built (npm run build)';
  return null;
}

describe('Linux pings the guest over VXLAN', () => {
  let skipReason = linuxUnavailable();
  let rig = false;

  beforeAll(() => {
    if (skipReason !== null) return;
    try {
      rig = true;
      ip('netns', 'add', NS);
      ip('link', 'add', VA, 'type', 'veth', 'peer', 'name', VB, 'netns', NS);
      ip('addr', 'add', `${U1}/30`, 'dev', VA);
      ip('link', 'set', VA, 'up');
      ip('-n', NS, 'link', 'set', 'lo', 'up');
      ip('-n', NS, 'addr', 'add', `${U2}/30`, 'dev', VB);
      ip('-n', NS, 'link', 'set', VB, 'up');
      ip('-n', NS, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'remote', U1, 'local', U2, 'dstport', String(VXPORT));
      ip('-n', NS, 'addr', 'add', `${LINUX_IP}/24`, 'dev', 'vx0');
      ip('-n', NS, 'link', 'set', 'vx0', 'up');
      // The inner UDP checksum must be complete when it leaves vx0: nothing between Linux and the guest fills it in.
      execFileSync('ip', ['netns', 'exec', NS, 'ethtool', '-K', 'vx0', 'tx', 'off'], { timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const msg = ((e as { stderr?: string }).stderr || (e as Error).message).toString().trim().split('\n')[0];
      skipReason = `cannot build the namespace rig: ${msg}`;
    }
  });

  afterAll(() => {
    if (rig) {
      spawnSync('ip', ['link', 'del', VA], { stdio: 'ignore' });
      spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    }
  });

  it('ping -c 3 and a UDP datagram to the echo port, from a Linux vxlan interface to netdemo run by the CLI', async (ctx) => {
    if (skipReason !== null) ctx.skip(skipReason);
    const cli = spawn(process.execPath, [join(root, 'dist', 'src', 'cli', 'main.js'), 'run', demo.pv,
      '--net', `vxlan:${U2}:${VXPORT},vni=${VNI},local=${U1}:${VXPORT},mac=${GUEST_MAC}`,
      '--cmdline', `ip=${GUEST_IP}/24 port=7 seconds=20`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    cli.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
    cli.stdout.on('data', (d: string) => { out = (out + d).replace(/\r\n/g, '\n'); });
    cli.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    cli.stderr.on('data', (d: string) => { err += d; });
    const closed = new Promise<number | null>((r) => cli.on('close', r));
    const killer = setTimeout(() => cli.kill('SIGKILL'), 30_000);
    const ctxText = (): string => `CLI stdout:\n${out}\nCLI stderr:\n${err}`;
    try {
      // Wait until the guest answers.
      const start = Date.now();
      while (!out.includes('netdemo: answering') && Date.now() - start < 15_000 && cli.exitCode === null) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(out, ctxText()).toContain('netdemo: answering ARP, ping and UDP echo on port 7');

      const pingRun = spawnSync('ip', ['netns', 'exec', NS, 'ping', '-n', '-c', '3', '-i', '0.3', '-W', '2', '-w', '10', GUEST_IP],
        { encoding: 'utf8', timeout: 15_000 });
      const pingText = `ping: status ${pingRun.status}\n${pingRun.stdout}\n${pingRun.stderr}\n${ctxText()}`;
      expect(pingRun.status, pingText).toBe(0);
      expect(pingRun.stdout, pingText).toMatch(/3 packets transmitted, 3 received, 0% packet loss/);

      const child = `
const s = require('node:dgram').createSocket('udp4');
const stop = (o, c) => { console.log(JSON.stringify(o)); process.exit(c); };
setTimeout(() => stop({ error: 'timeout' }, 1), 5000);
s.on('message', (m, r) => stop({ reply: m.toString(), from: r.address + ':' + r.port }, 0));
s.bind(0, '${LINUX_IP}', () => { const send = () => s.send('hello from linux', 7, '${GUEST_IP}'); send(); setInterval(send, 500); });
`;
      const udp = spawnSync('ip', ['netns', 'exec', NS, process.execPath, '-e', child], { encoding: 'utf8', timeout: 10_000 });
      const udpText = `udp child: status ${udp.status}\n${udp.stdout}\n${udp.stderr}\n${ctxText()}`;
      expect(udp.status, udpText).toBe(0);
      expect(JSON.parse(udp.stdout), udpText).toEqual({ reply: 'hello from linux', from: `${GUEST_IP}:7` });
      // Linux learned the guest: its neighbour entry holds the guest's MAC.
      expect(ip('-n', NS, 'neigh', 'show', GUEST_IP, 'dev', 'vx0'), ctxText()).toContain(GUEST_MAC);
    } finally {
      cli.stdin.end('quit\n');
    }
    const code = await closed;
    clearTimeout(killer);
    const why = `exit ${code}\n${ctxText()}`;
    expect(out, why).toContain('netdemo: quit\n');
    expect(out, why).toMatch(/ping from 198\.19\.0\.2: id \d+ seq 1, 56 bytes: answered\n/);
    expect(out, why).toMatch(/UDP from 198\.19\.0\.2:\d+, 16 bytes: echoed\n/);
    // No bad packets: the UDP checksum from Linux was complete. Linux may ARP more than once.
    expect(out, why).toMatch(/netdemo: answered [1-9]\d* ARP, 3 ping, [1-9]\d* UDP; ignored \d+, bad 0\n/);
    expect(code, why).toBe(0);
  }, 60_000);
});
