/**
 * Leases of host resources across reboots (src/vmm/devices/lease.ts):
 * the newest lease works like the resource, older ones fail like a closed
 * one, revoking flushes a writable image, closing a lease releases
 * nothing, and closing the shared resource releases it once.
 */
import { describe, expect, it } from 'vitest';
import { BlockHostError, MemoryBlockHost } from '../../src/vmm/devices/block/disk.js';
import { SharedBlockHost, SharedNetPort } from '../../src/vmm/devices/lease.js';
import { createNetPort, parseNetSpec } from '../../src/vmm/devices/net/index.js';
import { eth, fakeHost } from '../net/helpers.js';

const BCAST = 'ff:ff:ff:ff:ff:ff';
const cfg = (spec: string, guest = 0): ReturnType<typeof parseNetSpec> => parseNetSpec(spec, { index: 0, kernelPath: '/k.elf', guest });

describe('SharedBlockHost', () => {
  it('hands the image to the newest machine; the old view fails, its data stays', () => {
    const disk = new MemoryBlockHost(4096, false, { trackStable: true });
    const shared = new SharedBlockHost(disk);
    const a = shared.lease();
    expect(a.size).toBe(4096);
    a.write(0, new Uint8Array([1, 2, 3]));
    expect(disk.stable![0]).toBe(0); // not flushed yet
    const b = shared.lease();
    // Revoking flushed what the first guest wrote.
    expect(disk.stable!.subarray(0, 3)).toEqual(new Uint8Array([1, 2, 3]));
    expect(() => a.read(0, 3)).toThrow(BlockHostError);
    expect(() => a.write(0, new Uint8Array(1))).toThrow(/handed over to a rebooted guest/);
    expect(() => a.discard(0, 512)).toThrow(BlockHostError);
    const flushes = disk.flushes;
    a.flush(); // a no-op: already durable
    expect(disk.flushes).toBe(flushes);
    a.close(); // releases nothing
    expect(disk.closed).toBe(false);
    expect(b.read(0, 3)).toEqual(new Uint8Array([1, 2, 3]));
    b.write(512, new Uint8Array([9]));
    b.close();
    expect(() => b.read(0, 1)).toThrow(BlockHostError); // a closed lease is closed
    expect(disk.closed).toBe(false);
    shared.close();
    shared.close();
    expect(disk.closed).toBe(true);
    expect(disk.stable![512]).toBe(9); // flushed on the final close
    expect(() => shared.lease()).toThrow(BlockHostError);
  });

  it('read-only images are never flushed', () => {
    const disk = new MemoryBlockHost(1024, true);
    const shared = new SharedBlockHost(disk);
    shared.lease();
    shared.lease();
    shared.close();
    expect(disk.flushes).toBe(0);
    expect(disk.closed).toBe(true);
  });
});

describe('SharedNetPort', () => {
  it('frames reach only the newest lease; the old one neither sends nor receives', async () => {
    const host = fakeHost();
    const peer = await createNetPort(cfg('switch:lan', 1), host);
    const shared = new SharedNetPort(await createNetPort(cfg('switch:lan', 0), host));
    const got: string[] = [];
    const a = shared.lease();
    a.onReceive(() => got.push('a'));
    peer.send(eth(BCAST, peer.mac, 0x0806));
    expect(got).toEqual(['a']);

    const b = shared.lease();
    // Until the new netback registers, frames are dropped (a NIC during a reboot).
    peer.send(eth(BCAST, peer.mac, 0x0806));
    expect(got).toEqual(['a']);
    expect(b.stats.dropped.noReceiver).toBe(1);
    a.onReceive(() => got.push('a-late')); // the old netback cannot take the port back
    b.onReceive(() => got.push('b'));
    peer.send(eth(BCAST, peer.mac, 0x0806));
    expect(got).toEqual(['a', 'b']);

    const seen: number[] = [];
    peer.onReceive((f) => seen.push(f.length));
    expect(a.send(eth(BCAST, a.mac, 0x0806))).toBe(false);
    expect(b.stats.dropped.closed).toBe(1);
    expect(b.send(eth(BCAST, b.mac, 0x0806))).toBe(true);
    expect(seen).toHaveLength(1);
    a.close(); // an old lease's close leaves the new receiver alone
    peer.send(eth(BCAST, peer.mac, 0x0806));
    expect(got).toEqual(['a', 'b', 'b']);
    b.close();
    peer.send(eth(BCAST, peer.mac, 0x0806));
    expect(got).toEqual(['a', 'b', 'b']);
    // The port is still on the switch until the run ends.
    expect(host.switches.get('lan')!.entries()).toHaveLength(2);
    shared.close();
    shared.close();
    expect(host.switches.get('lan')!.entries()).toHaveLength(1);
  });
});
