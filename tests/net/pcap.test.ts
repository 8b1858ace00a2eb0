/**
 * The pcap writer: byte-exact headers, records read back by an independent
 * reader, microsecond timestamps from the injected clock, snaplen, a sink
 * that fails; then a real file through the CLI's host, read back and, when
 * tshark is installed, by tshark.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeNetHost } from '../../src/cli/net-host.js';
import { PCAP_SNAPLEN, PcapWriter, pcapGlobalHeader, pcapRecord } from '../../src/vmm/devices/net/pcap.js';
import { createNetPort } from '../../src/vmm/devices/net/port.js';
import { parseNetSpec } from '../../src/vmm/devices/net/spec.js';
import { MemorySink, arp, eth, hex, readPcap, toHex, udp4 } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

describe('format', () => {
  it('global header: magic a1b2c3d4, 2.4, zone 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET (little-endian)', () => {
    expect(toHex(pcapGlobalHeader())).toBe('d4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000');
  });

  it('record header: seconds, microseconds, stored and original length', () => {
    const f = hex('ffffffffffff 02000000000a 0806 00');
    expect(toHex(pcapRecord(f, 1_700_000_000_123.456))).toBe(
      '00f15365' /* 1700000000 */ + '40e20100' /* 123456 µs */ + '0f000000' + '0f000000' + toHex(f),
    );
  });

  it('timestamps round to the microsecond, carry into seconds, and are never negative', () => {
    const r = readPcap(Uint8Array.from([...pcapGlobalHeader(), ...pcapRecord(new Uint8Array(14), 1999.9999996), ...pcapRecord(new Uint8Array(14), 1999.9994), ...pcapRecord(new Uint8Array(14), -5)]));
    expect(r.records.map((x) => [x.sec, x.usec])).toEqual([[2, 0], [1, 999999], [0, 0]]);
  });

  it('frames beyond the snaplen are cut, their original length kept', () => {
    const big = new Uint8Array(PCAP_SNAPLEN + 10).fill(7);
    const r = readPcap(Uint8Array.from([...pcapGlobalHeader(), ...pcapRecord(big, 0)]));
    expect(r.records[0]!.data.length).toBe(PCAP_SNAPLEN);
    expect(r.records[0]!.origLen).toBe(PCAP_SNAPLEN + 10);
  });
});

describe('PcapWriter', () => {
  it('header at once, one write per record, read back with clock times', () => {
    const sink = new MemorySink();
    let t = 1_000_000.5;
    const w = new PcapWriter(sink, () => t);
    expect(sink.chunks.length).toBe(1);
    const frames = [arp(1, A, '10.0.0.1', '00:00:00:00:00:00', '10.0.0.2'), eth(A, B, 0x0800, 1500), eth(B, A, 0x86dd, 0)];
    for (const f of frames) { w.write(f); t += 0.25; }
    expect(sink.chunks.length).toBe(4);
    expect(w.records).toBe(3);
    w.close();
    w.close();
    expect(sink.closed).toBe(true);
    w.write(frames[0]!); // after close: ignored
    const r = readPcap(sink.bytes());
    expect(r).toMatchObject({ linktype: 1, snaplen: 65535, version: '2.4' });
    expect(r.records.map((x) => toHex(x.data))).toEqual(frames.map(toHex));
    expect(r.records.map((x) => [x.sec, x.usec])).toEqual([[1000, 500], [1000, 750], [1000, 1000]]);
  });

  it('a failing sink stops the capture once, reports it, and never throws', () => {
    let n = 0;
    const errors: string[] = [];
    let closes = 0;
    const w = new PcapWriter({ write: () => { if (++n === 3) throw new Error('ENOSPC: no space left on device'); }, close: () => { closes++; } }, () => 0, (e) => errors.push(e.message));
    for (let i = 0; i < 5; i++) w.write(new Uint8Array(14));
    expect(w.records).toBe(1);
    expect(w.open).toBe(false);
    expect(w.error?.message).toMatch(/ENOSPC/);
    expect(errors).toEqual(['ENOSPC: no space left on device']);
    expect(closes).toBe(1);
  });
});

describe('a real capture file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xenkit-pcap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'vif0.pcap');
  const frames = [
    arp(1, A, '10.0.0.1', '00:00:00:00:00:00', '10.0.0.2'),
    arp(2, B, '10.0.0.2', A, '10.0.0.1'),
    udp4(B, A, '10.0.0.1', 1234, '10.0.0.2', 5678, new TextEncoder().encode('hello, tshark')),
  ];

  let records = 0;
  // One capture for the tests below: a switch port's traffic, both directions, through the CLI's host.
  beforeAll(async () => {
    const host = nodeNetHost();
    const cfg = parseNetSpec(`switch:cap,mac=${A},pcap=${file}`, { index: 0, kernelPath: '/k' });
    const port = await createNetPort(cfg, host);
    const peer = host.switches.get('cap')!.attach('peer', () => undefined, B);
    port.onReceive(() => undefined);
    port.send(frames[0]!); // tx: guest → network
    peer.input(frames[1]!); // rx: network → guest
    port.send(frames[2]!);
    port.close();
    records = port.stats.pcapRecords ?? -1;
  });

  it('written through the CLI host by a switch port, both directions, read back', () => {
    expect(records).toBe(3);
    const r = readPcap(new Uint8Array(readFileSync(file)));
    expect(r.linktype).toBe(1);
    expect(r.records.map((x) => toHex(x.data))).toEqual(frames.map(toHex));
    const now = Date.now() / 1000;
    for (const rec of r.records) expect(Math.abs(rec.sec - now)).toBeLessThan(60);
  });

  it('a capture file that cannot be created is a one-line start-up error', async () => {
    const host = nodeNetHost();
    const cfg = parseNetSpec(`switch:cap2,pcap=${join(dir, 'no/such/dir.pcap')}`, { index: 0, kernelPath: '/k' });
    await expect(createNetPort(cfg, host)).rejects.toThrow(/^pcap=.*dir\.pcap: cannot create the capture file: no such directory$/);
    expect(host.switches.get('cap2')!.portCount).toBe(0); // nothing left attached
  });

  const tshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
  it('tshark reads it: three Ethernet frames, ARP and UDP dissected', (ctx) => {
    if (!tshark) ctx.skip('tshark is not installed (apt-get install tshark); the file was checked by the built-in reader only');
    const out = execFileSync('tshark', ['-r', file, '-n', '-T', 'fields', '-e', 'frame.len', '-e', 'eth.src', '-e', 'eth.type', '-e', 'arp.opcode', '-e', 'udp.dstport', '-e', 'data.data'], { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const rows = out.trim().split('\n').map((l) => l.split('\t'));
    expect(rows.length).toBe(3);
    expect(rows[0]!.slice(0, 4)).toEqual(['42', A, '0x0806', '1']);
    expect(rows[1]!.slice(0, 4)).toEqual(['42', B, '0x0806', '2']);
    expect(rows[2]![4]).toBe('5678');
    expect(rows[2]![5]).toBe(Buffer.from('hello, tshark').toString('hex'));
  });
});
