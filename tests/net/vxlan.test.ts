/**
 * VXLAN (RFC 7348): the 8-byte header byte for byte, decapsulation of
 * what Linux sends (reserved bits ignored), VNI filtering, malformed
 * datagrams, and a VxlanLink over the in-memory UDP network: frames to the
 * remote only, accepted from any source. When tshark is installed,
 * Wireshark's own VXLAN dissector reads one of our datagrams.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pcapGlobalHeader, pcapRecord } from '../../src/vmm/devices/net/pcap.js';
import { VxlanLink, vxlanDecap, vxlanEncap, type UdpSocket } from '../../src/vmm/devices/net/vxlan.js';
import { FakeUdpNet, eth, hex, toHex, udp4 } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

describe('encapsulation (RFC 7348 §5 layout)', () => {
  it('flags 0x08 (I), 24 reserved bits, VNI big-endian, 8 reserved bits, then the frame', () => {
    const f = eth(B, A, 0x0800, 4);
    expect(toHex(vxlanEncap(f, 0x123456))).toBe('08000000' + '12345600' + toHex(f));
    expect(toHex(vxlanEncap(f, 0)).slice(0, 16)).toBe('0800000000000000');
    expect(toHex(vxlanEncap(f, 0xffffff)).slice(0, 16)).toBe('08000000ffffff00');
  });

  it('refuses a VNI that does not fit 24 bits', () => {
    const f = eth(B, A, 0x0800, 4);
    expect(() => vxlanEncap(f, 0x1000000)).toThrow(RangeError);
    expect(() => vxlanEncap(f, -1)).toThrow(RangeError);
  });

  it('round-trips', () => {
    const f = eth(B, A, 0x86dd, 1500);
    expect(vxlanDecap(vxlanEncap(f, 4242))).toEqual({ kind: 'frame', vni: 4242, frame: f });
  });
});

describe('decapsulation', () => {
  const inner = toHex(eth(B, A, 0x0806, 28));

  it('a datagram as Linux sends it (VNI 42)', () => {
    const d = vxlanDecap(hex('08000000 00002a00' + inner));
    expect(d.kind).toBe('frame');
    if (d.kind === 'frame') {
      expect(d.vni).toBe(42);
      expect(toHex(d.frame)).toBe(inner);
    }
  });

  it('reserved bits are ignored on receipt', () => {
    const d = vxlanDecap(hex('ff ffffff 00002a ff' + inner));
    expect(d).toMatchObject({ kind: 'frame', vni: 42 });
  });

  it('malformed: shorter than the header, or without the I flag', () => {
    expect(vxlanDecap(hex('080000000000'))).toEqual({ kind: 'malformed', reason: 'short' });
    expect(vxlanDecap(new Uint8Array(0))).toEqual({ kind: 'malformed', reason: 'short' });
    expect(vxlanDecap(hex('f7000000 00002a00' + inner))).toEqual({ kind: 'malformed', reason: 'no-i-flag' });
  });

  it('a good header over a bad frame', () => {
    expect(vxlanDecap(hex('08000000 00002a00'))).toEqual({ kind: 'bad-frame', vni: 42, problem: 'too-short' });
    expect(vxlanDecap(hex('08000000 00002a00 0200000000'))).toEqual({ kind: 'bad-frame', vni: 42, problem: 'too-short' });
    expect(vxlanDecap(vxlanEncap(eth(B, A, 0x0800, 1501), 42))).toEqual({ kind: 'bad-frame', vni: 42, problem: 'too-long' });
  });
});

describe('VxlanLink', () => {
  function setup(vni = 42): { net: FakeUdpNet; link: VxlanLink; got: Uint8Array[]; sock: UdpSocket } {
    const net = new FakeUdpNet();
    const sock = net.bind({ address: '10.0.0.1', port: 4789 });
    const link = new VxlanLink(sock, { remote: { address: '10.0.0.2', port: 4789 }, vni });
    const got: Uint8Array[] = [];
    link.onFrame((f) => got.push(f));
    return { net, link, got, sock };
  }

  it('sends every frame to the remote, encapsulated', () => {
    const { net, link } = setup();
    const f = eth(B, A, 0x0800, 10);
    link.send(f);
    expect(net.log).toEqual([{ from: { address: '10.0.0.1', port: 4789 }, to: { address: '10.0.0.2', port: 4789 }, data: vxlanEncap(f, 42) }]);
    expect(link.stats.sent).toBe(1);
  });

  it('accepts frames with its VNI from any source address and port', () => {
    const { net, link, got } = setup();
    const f = eth(A, B, 0x0800, 10);
    net.inject({ address: '10.0.0.2', port: 51234 }, { address: '10.0.0.1', port: 4789 }, vxlanEncap(f, 42));
    net.inject({ address: '192.0.2.99', port: 4789 }, { address: '10.0.0.1', port: 4789 }, vxlanEncap(f, 42));
    expect(got.map(toHex)).toEqual([toHex(f), toHex(f)]);
    expect(link.stats.received).toBe(2);
  });

  it('drops other VNIs and malformed datagrams, counting each', () => {
    const { net, link, got } = setup(7);
    const to = { address: '10.0.0.1', port: 4789 };
    const from = { address: '10.0.0.2', port: 4789 };
    const f = eth(A, B, 0x0800, 10);
    net.inject(from, to, vxlanEncap(f, 8));
    net.inject(from, to, vxlanEncap(f, 7 << 8)); // VNI bytes shifted: not ours
    net.inject(from, to, vxlanEncap(new Uint8Array(3), 8)); // bad frame, other VNI: otherVni
    net.inject(from, to, hex('0800'));
    net.inject(from, to, hex('00000000 00000700' + toHex(f)));
    net.inject(from, to, vxlanEncap(new Uint8Array(13), 7));
    net.inject(from, to, vxlanEncap(eth(A, B, 0x0800, 1600), 7));
    net.inject(from, to, vxlanEncap(f, 7));
    expect(got.length).toBe(1);
    expect(link.stats).toEqual({ sent: 0, received: 1, malformed: 2, otherVni: 3, inner: { tooShort: 1, tooLong: 1 } });
  });

  it('close releases the socket; nothing moves afterwards', () => {
    const { net, link, got, sock } = setup();
    link.close();
    link.close();
    expect((sock as unknown as { closed: boolean }).closed).toBe(true);
    link.send(eth(B, A, 0x0800, 10));
    net.inject({ address: '10.0.0.2', port: 1 }, { address: '10.0.0.1', port: 4789 }, vxlanEncap(eth(A, B, 0x0800, 10), 42));
    expect(net.log.length).toBe(1); // only the injection
    expect(got.length).toBe(0);
  });
});

describe('Wireshark\'s VXLAN dissector agrees', () => {
  const tshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
  it('tshark reads the I flag, the VNI and the inner frame of our datagram on UDP 4789', (ctx) => {
    if (!tshark) ctx.skip('tshark is not installed (apt-get install tshark); the layout was checked byte for byte only');
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-vxlan-'));
    try {
      const inner = eth(B, A, 0x0806, 28);
      const outer = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '192.0.2.1', 50000, '192.0.2.2', 4789, vxlanEncap(inner, 0x123456));
      const file = join(dir, 'vxlan.pcap');
      writeFileSync(file, Uint8Array.from([...pcapGlobalHeader(), ...pcapRecord(outer, 0)]));
      const out = execFileSync('tshark', ['-r', file, '-n', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
        '-e', 'vxlan.flag_i', '-e', 'vxlan.vni', '-e', 'eth.src', '-e', 'eth.type', '-e', '_ws.expert'],
      { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
      const [valid, vni, srcs, types, expert] = out.trim().split('\t');
      expect(valid).toMatch(/^(1|True)$/);
      expect(Number(vni)).toBe(0x123456);
      expect(srcs).toBe(`02:00:00:00:00:01,${A}`);
      expect(types).toBe('0x0800,0x0806');
      expect(expert ?? '').toBe(''); // no malformed-packet warnings
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
