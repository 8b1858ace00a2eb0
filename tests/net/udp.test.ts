/**
 * Two NetPorts over real UDP sockets (the CLI's host, node:dgram) on the
 * loopback interface exchange frames through VXLAN, both ways, bounded in
 * count and in time; the real host's bind errors are one line.
 */
import { describe, expect, it } from 'vitest';
import { nodeNetHost } from '../../src/cli/net-host.js';
import { createNetPort, type NetHost, type NetPort } from '../../src/vmm/devices/net/port.js';
import { parseNetSpec, type UdpAddress } from '../../src/vmm/devices/net/spec.js';
import type { UdpSocket } from '../../src/vmm/devices/net/vxlan.js';
import { eth, pattern, toHex } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const COUNT = 64;
const DEADLINE_MS = 5000;

/**
 * The real host, but `udp()` hands out sockets bound beforehand, so two
 * ports can name each other's ephemeral port in their specs.
 */
async function prebound(host: NetHost, address: string, n: number): Promise<{ host: NetHost; ports: number[] }> {
  const socks = new Map<number, UdpSocket>();
  for (let i = 0; i < n; i++) {
    const s = await host.udp({ address, port: 0 });
    socks.set(s.local.port, s);
  }
  return {
    host: { ...host, udp: async (local?: UdpAddress) => socks.get(local!.port)! },
    ports: [...socks.keys()],
  };
}

function frames(src: string, dst: string, seed: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < COUNT; i++) {
    const len = i === 0 ? 1500 : i === 1 ? 0 : (i * 37) % 1500;
    out.push(i === 2 ? eth(dst, src, 0x8100, pattern(1504, seed)) : eth(dst, src, 0x0800, pattern(len, seed + i)));
  }
  return out;
}

function until(cond: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const tick = (): void => {
      if (cond()) resolve(true);
      else if (Date.now() - t0 > ms) resolve(false);
      else setTimeout(tick, 5);
    };
    tick();
  });
}

async function exchange(address: string): Promise<void> {
  const { host, ports: [pa, pb] } = await prebound(nodeNetHost(), address, 2);
  const lit = address.includes(':') ? `[${address}]` : address;
  const ports: NetPort[] = [];
  try {
    const a = await createNetPort(parseNetSpec(`vxlan:${lit}:${pb},vni=4242,local=${lit}:${pa},mac=${A}`, { index: 0, kernelPath: '/k' }), host);
    ports.push(a);
    const b = await createNetPort(parseNetSpec(`vxlan:${lit}:${pa},vni=4242,local=${lit}:${pb},mac=${B}`, { index: 0, kernelPath: '/k' }), host);
    ports.push(b);
    expect(a.local).toEqual({ address, port: pa });
    const atA: Uint8Array[] = [];
    const atB: Uint8Array[] = [];
    a.onReceive((f) => atA.push(f));
    b.onReceive((f) => atB.push(f));
    const ab = frames(A, B, 1);
    const ba = frames(B, A, 2);
    for (let i = 0; i < COUNT; i++) {
      expect(a.send(ab[i]!)).toBe(true);
      expect(b.send(ba[i]!)).toBe(true);
    }
    const done = await until(() => atA.length >= COUNT && atB.length >= COUNT, DEADLINE_MS);
    expect(done, `received ${atB.length}/${COUNT} at B, ${atA.length}/${COUNT} at A within ${DEADLINE_MS} ms`).toBe(true);
    // Loopback neither loses nor reorders; compare as sets anyway, exactly.
    expect(atB.map(toHex).sort()).toEqual(ab.map(toHex).sort());
    expect(atA.map(toHex).sort()).toEqual(ba.map(toHex).sort());
    expect(a.stats.vxlan).toEqual({ sent: COUNT, received: COUNT, malformed: 0, otherVni: 0, inner: { tooShort: 0, tooLong: 0 } });
    expect(b.stats.tx).toEqual({ frames: COUNT, bytes: ba.reduce((s, f) => s + f.length, 0) });
  } finally {
    for (const p of ports) p.close();
  }
}

describe('VXLAN over real UDP sockets', () => {
  it(`IPv4 loopback: ${COUNT} frames each way, 14 to 1518 bytes`, async () => {
    await exchange('127.0.0.1');
  });

  it('IPv6 loopback', async (ctx) => {
    try {
      const s = await nodeNetHost().udp({ address: '::1', port: 0 });
      s.close();
    } catch (e) {
      ctx.skip(`no IPv6 loopback on this host: ${(e as Error).message}`);
    }
    await exchange('::1');
  });

  it('binding a port in use is a one-line error; closing frees the port', async () => {
    const host = nodeNetHost();
    const first = await host.udp({ address: '127.0.0.1', port: 0 });
    const port = first.local.port;
    await expect(host.udp({ address: '127.0.0.1', port })).rejects.toThrow(
      new RegExp(`^cannot bind UDP 127\\.0\\.0\\.1:${port}: address already in use`),
    );
    first.close();
    first.close();
    const again = await host.udp({ address: '127.0.0.1', port });
    again.close();
  });

  it('an address this host does not have is a one-line error', async () => {
    await expect(nodeNetHost().udp({ address: '192.0.2.1', port: 0 })).rejects.toThrow(/^cannot bind UDP 192\.0\.2\.1:0: address not available/);
  });
});
