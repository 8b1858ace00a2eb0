/**
 * blkback (src/vmm/devices/block/blkback.ts) against a fake guest: the
 * frontend's ring in PhysMemory, fake grants and event channels, an
 * in-memory disk, and the real XenstoreServer / XsClient for the
 * handshake. Then the same device over the real grant-table and
 * event-channel engines of a Domain.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu } from '../../../src/vmm/cpu/index.js';
import { Domain } from '../../../src/vmm/xen/domain.js';
import { GTF } from '../../../src/vmm/xen/abi/grant-table.js';
import { BLKIF_RSP, VDISK } from '../../../src/vmm/xen/abi/blkif.js';
import { SRING_HEADER } from '../../../src/vmm/xen/abi/ring.js';
import { eventBinderOf, grantAccessOf, ringMapperOf } from '../../../src/vmm/devices/ring.js';
import { Blkback, addBlockDevice } from '../../../src/vmm/devices/block/blkback.js';
import { assignDisks } from '../../../src/vmm/devices/block/config.js';
import { BlockHostError, MemoryBlockHost } from '../../../src/vmm/devices/block/disk.js';
import { XsClient } from '../../../src/vmm/devices/xenstore/index.js';
import { FrontRing, GUEST, OP, PAGE, RING_PFN, Rig, ST, discardReq, indirectReq, newServer, rw, same, segmentPage } from './helpers.js';

const OK = BLKIF_RSP.OKAY, ERR = BLKIF_RSP.ERROR, NOTSUPP = BLKIF_RSP.EOPNOTSUPP;
const H = SRING_HEADER;

function connected(o: ConstructorParameters<typeof Rig>[0] = {}): Rig {
  const r = new Rig(o);
  r.connect();
  expect(r.state).toBe(ST.Connected);
  return r;
}

function pattern(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed * 13 + (i >> 9)) & 0xff;
  return b;
}

describe('blkback handshake', () => {
  it('publishes the disk before InitWait', () => {
    const r = new Rig({ sectors: 2048 });
    expect(r.state).toBe(ST.InitWait);
    expect({
      sectors: r.back('sectors'), 'sector-size': r.back('sector-size'), info: r.back('info'), mode: r.back('mode'),
      flush: r.back('feature-flush-cache'), barrier: r.back('feature-barrier'), discard: r.back('feature-discard'),
      indirect: r.back('feature-max-indirect-segments'), phys: r.back('physical-sector-size'),
    }).toEqual({
      sectors: '2048', 'sector-size': '512', info: '0', mode: 'w', flush: '1', barrier: '1', discard: '1', indirect: '256', phys: '512',
    });
    // The guest can read its backend's nodes.
    expect(r.gxs.read(`${r.backend}/sectors`)).toBe('2048');
    expect(r.gxs.read(`${r.frontend}/virtual-device`)).toBe('51712');
  });

  it('read-only disks publish mode r, VDISK_READONLY and no discard', () => {
    const r = new Rig({ readonly: true });
    expect([r.back('mode'), r.back('info'), r.back('feature-discard')]).toEqual(['r', String(VDISK.READONLY), '0']);
  });

  it('connects when the frontend publishes its ring (Mini-OS order), maps the ring and binds the port', () => {
    const r = new Rig();
    r.connect();
    expect(r.state).toBe(ST.Connected);
    expect(r.blk.connected).toBe(true);
    expect(r.grants.maps).toBe(1);
    expect(r.events.bound.has(5)).toBe(true);
  });

  it('accepts Initialised (3) and a missing protocol (native x86_32)', () => {
    const r = new Rig();
    r.connect({ state: ST.Initialised, keys: { protocol: '' } });
    // An empty protocol is not x86_32-abi.
    expect(r.state).toBe(ST.Closing);
    const s = new Rig();
    s.gxs.write(`${s.frontend}/ring-ref`, '8');
    s.gxs.write(`${s.frontend}/event-channel`, '5');
    s.grants.grant(8, RING_PFN);
    s.events.alloc(5);
    s.front = new FrontRing(s.mem, RING_PFN * PAGE);
    s.port = 5;
    s.setFrontState(ST.Initialised);
    expect(s.state).toBe(ST.Connected);
  });

  it.each([
    [{ 'ring-ref': 'x8' }, /ring-ref/],
    [{ 'ring-ref': '4294967296' }, /ring-ref/],
    [{ 'ring-ref': '77' }, /mapping ring-ref 77 failed/],
    [{ 'event-channel': '-1' }, /event-channel/],
    [{ 'event-channel': '9' }, /binding event-channel 9 failed/],
    [{ protocol: 'x86_64-abi' }, /unsupported protocol "x86_64-abi"/],
    [{ 'ring-page-order': '2' }, /single-page/],
  ])('refuses to connect with %j → Closing + error node', (keys, msg) => {
    const r = new Rig();
    r.connect({ keys });
    expect(r.state).toBe(ST.Closing);
    expect(r.back('error')).toMatch(msg);
    expect(r.blk.connected).toBe(false);
    // Nothing left mapped or bound.
    expect(r.grants.maps).toBe(r.grants.unmaps);
    expect(r.events.bound.size).toBe(0);
  });

  it('a read-only ring grant cannot be mapped', () => {
    const r = new Rig();
    r.grants.grant(8, RING_PFN, true);
    r.gxs.write(`${r.frontend}/ring-ref`, '8');
    r.gxs.write(`${r.frontend}/event-channel`, '5');
    r.events.alloc(5);
    r.setFrontState(4);
    expect(r.back('error')).toMatch(/mapping ring-ref 8/);
  });

  it('disconnects on frontend Closing, and reconnects after Initialising with a fresh ring', () => {
    const r = connected();
    const p = r.page(0, { fill: 0x5a });
    expect(r.submit(rw(OP.WRITE, 1n, 0, [{ gref: p.ref }]))[0]!.status).toBe(OK);
    r.setFrontState(ST.Closing);
    expect(r.state).toBe(ST.Closing);
    expect(r.blk.connected).toBe(false);
    expect(r.grants.unmaps).toBe(1);
    expect(r.events.bound.size).toBe(0);
    r.setFrontState(ST.Closed);
    expect(r.state).toBe(ST.Closed);
    r.setFrontState(ST.Initialising);
    expect(r.state).toBe(ST.InitWait);
    r.connect({ ringPfn: RING_PFN + 1, ringRef: 9, port: 6 });
    expect(r.state).toBe(ST.Connected);
    const q = r.page(1, { fill: 0 });
    expect(r.submit(rw(OP.READ, 2n, 0, [{ gref: q.ref }]))).toEqual([{ id: 2n, operation: OP.READ, status: OK }]);
    expect(r.mem.readBytes(q.pa, PAGE)).toEqual(new Uint8Array(PAGE).fill(0x5a));
  });
});

describe('blkback requests', () => {
  it('WRITE then READ round-trips data through the disk, sector-exact', () => {
    const r = connected();
    const a = r.page(0), b = r.page(1);
    const data = pattern(2 * PAGE, 1);
    r.mem.writeBytes(a.pa, data.subarray(0, PAGE));
    r.mem.writeBytes(b.pa, data.subarray(PAGE));
    // Sectors 2..7 of page a, then 0..3 of page b → 10 sectors at disk sector 100.
    const rsp = r.submit(rw(OP.WRITE, 0xabcdef0123456789n, 100, [{ gref: a.ref, first: 2, last: 7 }, { gref: b.ref, first: 0, last: 3 }]));
    expect(rsp).toEqual([{ id: 0xabcdef0123456789n, operation: OP.WRITE, status: OK }]);
    const disk = (r.host as MemoryBlockHost).data;
    expect(disk.subarray(100 * 512, 106 * 512)).toEqual(data.subarray(1024, PAGE));
    expect(disk.subarray(106 * 512, 110 * 512)).toEqual(data.subarray(PAGE, PAGE + 2048));
    expect(disk[99 * 512 + 511]).toBe(0);
    expect(disk[110 * 512]).toBe(0);
    // Read back into fresh pages at other offsets.
    const c = r.page(2, { fill: 0xee });
    const back = r.submit(rw(OP.READ, 7n, 100, [{ gref: c.ref, first: 1, last: 7 }]));
    expect(back[0]!.status).toBe(OK);
    expect(r.mem.readBytes(c.pa, 512)).toEqual(new Uint8Array(512).fill(0xee)); // sector 0 untouched
    expect(r.mem.readBytes(c.pa + 512, 7 * 512)).toEqual(disk.subarray(100 * 512, 107 * 512));
  });

  it('serves a batch in order with one notification', () => {
    const r = connected();
    const p = r.page(0, { fill: 1 });
    const reqs = Array.from({ length: 10 }, (_, i) => rw(OP.WRITE, BigInt(i), i * 8, [{ gref: p.ref }]));
    const rsps = r.submit(...reqs);
    expect(rsps.map((x) => x.id)).toEqual(reqs.map((_, i) => BigInt(i)));
    expect(r.events.notifies(5)).toBe(1);
    expect(r.blk.stats).toMatchObject({ requests: 10, writes: 10, errors: 0, notifies: 1 });
    // req_event was re-armed: the next request notifies the backend.
    expect(r.front!.reqEvent).toBe(11);
  });

  it('INDIRECT writes and reads with many segments', () => {
    const r = connected({ sectors: 4096 });
    const n = 40;
    const pages = Array.from({ length: n }, (_, i) => r.page(i + 2));
    const data = pattern(n * PAGE, 3);
    pages.forEach((p, i) => r.mem.writeBytes(p.pa, data.subarray(i * PAGE, (i + 1) * PAGE)));
    const ind = r.page(0);
    r.mem.writeBytes(ind.pa, segmentPage(pages.map((p) => ({ gref: p.ref }))));
    expect(r.submit(indirectReq(OP.WRITE, 9n, 8, n, [ind.ref]))).toEqual([{ id: 9n, operation: OP.WRITE, status: OK }]);
    const disk = (r.host as MemoryBlockHost).data;
    expect(same(disk.subarray(8 * 512, 8 * 512 + n * PAGE), data)).toBe(true);
    pages.forEach((p) => r.mem.fill(p.pa, PAGE, 0));
    expect(r.submit(indirectReq(OP.READ, 10n, 8, n, [ind.ref]))[0]).toEqual({ id: 10n, operation: OP.READ, status: OK });
    expect(same(r.mem.readBytes(pages[n - 1]!.pa, PAGE), data.subarray((n - 1) * PAGE))).toBe(true);
  });

  it('DISCARD zeroes the range; a zero-length discard succeeds', () => {
    const r = connected();
    const disk = (r.host as MemoryBlockHost).data;
    disk.fill(0x77);
    expect(r.submit(discardReq(3n, 10, 20), discardReq(4n, 0, 0))).toEqual([
      { id: 3n, operation: OP.DISCARD, status: OK }, { id: 4n, operation: OP.DISCARD, status: OK },
    ]);
    expect(disk[10 * 512 - 1]).toBe(0x77);
    expect(disk.subarray(10 * 512, 30 * 512).every((x) => x === 0)).toBe(true);
    expect(disk[30 * 512]).toBe(0x77);
    expect((r.host as MemoryBlockHost).discards).toBe(1);
  });

  it('answers every invalid request with an error and keeps serving', () => {
    const r = connected({ sectors: 64 });
    const p = r.page(0), ro = r.page(1, { readonly: true });
    const rsps = r.submit(
      rw(OP.READ, 1n, 0, [{ gref: 4242 }]),                    // bad grant ref
      rw(OP.WRITE, 2n, 0, [{ gref: 4242 }]),                   // bad grant ref, nothing written
      rw(OP.READ, 3n, 60, [{ gref: p.ref }]),                  // beyond the disk
      rw(OP.READ, 4n, 0, [{ gref: p.ref, first: 5, last: 1 }]), // first_sect > last_sect
      rw(OP.WRITE, 5n, 0, [{ gref: p.ref }], 12),              // too many segments
      rw(OP.READ, 6n, 0, [{ gref: ro.ref }]),                  // read into a read-only grant
      rw(9, 7n, 0),                                            // unknown op
      indirectReq(OP.READ, 8n, 0, 1, [4242]),                  // bad indirect page
      discardReq(9n, 0, 8, 1),                                 // secure discard
      rw(OP.WRITE, 10n, 0, [{ gref: ro.ref }]),                // write from a read-only grant is fine
    );
    expect(rsps.map((x) => [x.id, x.status])).toEqual([
      [1n, ERR], [2n, ERR], [3n, ERR], [4n, ERR], [5n, ERR], [6n, ERR], [7n, NOTSUPP], [8n, ERR], [9n, NOTSUPP], [10n, OK],
    ]);
    expect(rsps[6]!.operation).toBe(9);
    expect(r.blk.stats.errors).toBe(9);
    expect((r.host as MemoryBlockHost).writes).toBe(1);
    expect(r.state).toBe(ST.Connected);
    expect(r.logs.length).toBeGreaterThan(0);
  });

  it('a WRITE with one bad grant among good ones writes nothing', () => {
    const r = connected();
    const p = r.page(0, { fill: 9 });
    expect(r.submit(rw(OP.WRITE, 1n, 0, [{ gref: p.ref }, { gref: 999 }]))[0]!.status).toBe(ERR);
    expect((r.host as MemoryBlockHost).data.every((x) => x === 0)).toBe(true);
  });

  it('host I/O errors become error responses', () => {
    const r = connected();
    const p = r.page(0);
    const host = r.host as MemoryBlockHost;
    host.failNext = new BlockHostError('EBLKIO', 'EIO: disk on fire');
    expect(r.submit(rw(OP.WRITE, 1n, 0, [{ gref: p.ref }]))[0]!.status).toBe(ERR);
    host.failNext = new Error('fsync failed');
    expect(r.submit(rw(OP.FLUSH_DISKCACHE, 2n, 0))[0]!.status).toBe(ERR);
    expect(r.submit(rw(OP.WRITE, 3n, 0, [{ gref: p.ref }]))[0]!.status).toBe(OK);
    expect(r.logs.some((l) => /disk on fire/.test(l))).toBe(true);
  });

  it('read-only disks refuse writes and discards with an error response, and still read', () => {
    const r = connected({ readonly: true });
    const p = r.page(0, { fill: 3 });
    const rsps = r.submit(
      rw(OP.WRITE, 1n, 0, [{ gref: p.ref }]),
      rw(OP.WRITE_BARRIER, 2n, 0, [{ gref: p.ref }]),
      rw(OP.FLUSH_DISKCACHE, 3n, 0, [{ gref: p.ref }]),
      discardReq(4n, 0, 8),
      indirectReq(OP.WRITE, 5n, 0, 1, [p.ref]),
      rw(OP.READ, 6n, 0, [{ gref: p.ref }]),
      rw(OP.FLUSH_DISKCACHE, 7n, 0),
    );
    expect(rsps.map((x) => x.status)).toEqual([ERR, ERR, ERR, NOTSUPP, ERR, OK, OK]);
    const host = r.host as MemoryBlockHost;
    expect([host.writes, host.discards, host.flushes]).toEqual([0, 0, 0]);
    expect(r.mem.readBytes(p.pa, 16)).toEqual(new Uint8Array(16));
  });

  it('bounds the work per poll and finishes on later polls', () => {
    const r = connected({ extra: { budget: 4 } });
    const p = r.page(0);
    const f = r.front!;
    for (let i = 0; i < 10; i++) f.put(rw(OP.READ, BigInt(i), 0, [{ gref: p.ref }]));
    f.publish();
    r.events.send(r.port);
    expect(r.blk.poll()).toBe(true);
    expect(f.take()).toHaveLength(4);
    expect(r.blk.poll()).toBe(true);
    expect(r.blk.poll()).toBe(false);
    expect(f.take()).toHaveLength(6);
  });

  it('serves only when kicked (or with work left over)', () => {
    const r = connected();
    const p = r.page(0);
    const f = r.front!;
    f.put(rw(OP.READ, 1n, 0, [{ gref: p.ref }]));
    // Published without the notification the ring asked for: nothing happens.
    expect(f.publish()).toBe(true);
    r.blk.poll();
    expect(f.rspProd).toBe(0);
    r.events.send(r.port);
    r.blk.poll();
    expect(f.rspProd).toBe(1);
  });
});

describe('flush ordering and durability', () => {
  it('fsyncs before a FLUSH response becomes visible, and covers every earlier write', () => {
    const r = connected();
    const host = r.host as MemoryBlockHost;
    const p = r.page(0, { fill: 0x42 });
    const f = r.front!;
    let rspProdAtFlush = -1;
    host.onFlush = () => { rspProdAtFlush = f.rspProd; };
    const rsps = r.submit(
      rw(OP.WRITE, 1n, 0, [{ gref: p.ref }]),
      rw(OP.WRITE, 2n, 8, [{ gref: p.ref }]),
      rw(OP.FLUSH_DISKCACHE, 3n, 0),
      rw(OP.WRITE, 4n, 16, [{ gref: p.ref }]),
    );
    expect(rsps.map((x) => x.status)).toEqual([OK, OK, OK, OK]);
    // At the fsync no response of the batch was published yet.
    expect(rspProdAtFlush).toBe(0);
    expect(host.flushes).toBe(1);
    // What a power cut would leave: the writes before the flush, not the one after.
    const stable = host.stable!;
    expect(stable.subarray(0, 16 * 512).every((x) => x === 0x42)).toBe(true);
    expect(stable.subarray(16 * 512, 24 * 512).every((x) => x === 0)).toBe(true);
  });

  it('a WRITE_BARRIER with data writes, then fsyncs, before answering', () => {
    const r = connected();
    const host = r.host as MemoryBlockHost;
    const p = r.page(0, { fill: 0x99 });
    const order: string[] = [];
    const w = host.write.bind(host);
    host.write = (o, b) => { order.push('write'); w(o, b); };
    host.onFlush = () => order.push(`flush@${r.front!.rspProd}`);
    const rsps = r.submit(rw(OP.WRITE_BARRIER, 1n, 40, [{ gref: p.ref }]));
    expect(rsps).toEqual([{ id: 1n, operation: OP.WRITE_BARRIER, status: OK }]);
    expect(order).toEqual(['write', 'flush@0']);
    expect(host.stable!.subarray(40 * 512, 48 * 512).every((x) => x === 0x99)).toBe(true);
  });

  it('a flush whose fsync fails answers ERROR, never OKAY', () => {
    const r = connected();
    (r.host as MemoryBlockHost).onFlush = () => { throw new Error('EIO'); };
    expect(r.submit(rw(OP.FLUSH_DISKCACHE, 1n, 0))[0]!.status).toBe(ERR);
  });

  it('close() flushes and closes the disk', () => {
    const r = connected();
    const host = r.host as MemoryBlockHost;
    r.blk.close();
    expect(host.flushes).toBe(1);
    expect(host.closed).toBe(true);
    expect(r.state).toBe(ST.Closed);
  });
});

describe('hostile frontends', () => {
  it('a corrupt ring index disconnects that device only', () => {
    const server = newServer();
    const mem = new PhysMemory(256 * PAGE);
    const a = new Rig({ server, mem, vdev: 'xvda' });
    const b = new Rig({ server, mem, vdev: 'xvdb', grants: a.grants, events: a.events });
    a.connect({ ringPfn: 1, ringRef: 8, port: 5 });
    b.connect({ ringPfn: 2, ringRef: 9, port: 6 });
    expect([a.state, b.state]).toEqual([ST.Connected, ST.Connected]);
    // Device a's frontend claims 1000 requests.
    mem.write32(PAGE + H.req_prod, 1000);
    a.events.send(5);
    a.blk.poll();
    expect(a.state).toBe(ST.Closing);
    expect(a.back('error')).toMatch(/ring corrupt: req_prod 1000/);
    expect(a.blk.connected).toBe(false);
    expect(a.front!.rspProd).toBe(0);
    // Device b keeps working.
    const p = b.page(0, { fill: 1 });
    expect(b.submit(rw(OP.WRITE, 1n, 0, [{ gref: p.ref }]))[0]!.status).toBe(OK);
    expect(b.state).toBe(ST.Connected);
    // a comes back only through a fresh handshake.
    a.events.send(5);
    a.blk.poll();
    expect(a.state).toBe(ST.Closing);
    a.setFrontState(ST.Initialising);
    a.connect({ ringPfn: 3, ringRef: 10, port: 7 });
    expect(a.state).toBe(ST.Connected);
    expect(a.submit(rw(OP.READ, 2n, 0, [{ gref: p.ref }]))[0]!.status).toBe(OK);
  });

  it('a ring page that goes dead under the backend reads as all-ones → corrupt, not a crash', () => {
    const r = connected();
    const f = r.front!;
    f.put(rw(OP.READ, 1n, 0, [{ gref: 1 }]));
    f.publish();
    r.grants.dead = true;
    r.events.send(r.port);
    expect(() => r.blk.poll()).not.toThrow();
    expect(r.state).toBe(ST.Closing);
    expect(r.back('error')).toMatch(/ring corrupt/);
  });

  it('garbage xenstore values from the frontend fail the handshake, not the VMM', () => {
    const r = new Rig();
    r.gxs.write(`${r.frontend}/ring-ref`, '\u0000\u00ff');
    r.gxs.write(`${r.frontend}/event-channel`, '5'.repeat(2000));
    r.setFrontState(4);
    expect(r.state).toBe(ST.Closing);
  });
});

describe('over the real grant-table and event-channel engines', () => {
  it('connects, serves READ/WRITE/FLUSH and notifies the guest port', () => {
    const RAM = 1024;
    const mem = new PhysMemory(RAM * PAGE, Domain.extraFramesFor(RAM));
    const dom = new Domain({ type: 'pv', cpu: createCpu(mem), mem, nrPages: RAM, console: { write() {} }, cmdline: '' });
    const server = newServer();
    const [disk] = assignDisks([{ path: 'mem', readonly: false }]);
    const { frontend, backend } = addBlockDevice(server, GUEST, disk!);
    const host = new MemoryBlockHost(1024 * 512);
    const blk = new Blkback({
      server, backendPath: backend, host, grants: grantAccessOf(dom.grants), rings: ringMapperOf(dom.grants),
      events: eventBinderOf(dom.events),
    });
    blk.start();
    // The guest: grant the ring page and two data pages to dom0, allocate a port for dom0.
    const entry = (ref: number) => dom.grantFrames[ref >> 9]! * PAGE + (ref & 511) * 8;
    const grant = (ref: number, frame: number, ro = false) => {
      mem.write16(entry(ref) + 2, 0);
      mem.write32(entry(ref) + 4, frame);
      mem.write16(entry(ref), GTF.permit_access | (ro ? GTF.readonly : 0));
    };
    const ringPfn = 0x100, dataPfn = 0x101, roPfn = 0x102;
    const front = new FrontRing(mem, ringPfn * PAGE);
    grant(8, ringPfn);
    grant(9, dataPfn);
    grant(10, roPfn, true);
    const port = dom.events.allocUnbound(0);
    expect(port).toBeGreaterThan(0);
    const g = new XsClient(server, GUEST);
    g.write(`${frontend}/ring-ref`, '8');
    g.write(`${frontend}/event-channel`, String(port));
    g.write(`${frontend}/protocol`, 'x86_32-abi');
    g.write(`${frontend}/state`, '4');
    blk.poll();
    expect(g.read(`${backend}/state`)).toBe('4');
    // The ring page is mapped: GTF_reading|GTF_writing set on its entry.
    expect(mem.read16(entry(8)) & (GTF.reading | GTF.writing)).toBe(GTF.reading | GTF.writing);
    mem.fill(roPfn * PAGE, PAGE, 0x3c);
    front.put(rw(OP.WRITE, 1n, 0, [{ gref: 10 }]));
    front.put(rw(OP.READ, 2n, 0, [{ gref: 9 }]));
    front.put(rw(OP.READ, 3n, 0, [{ gref: 10 }])); // reading into a read-only grant
    front.put(rw(OP.FLUSH_DISKCACHE, 4n, 0));
    dom.events.clearPending(port);
    if (front.publish()) dom.events.send(port);
    blk.poll();
    expect(front.take().map((x) => x.status)).toEqual([OK, OK, ERR, OK]);
    expect(mem.readBytes(dataPfn * PAGE, PAGE)).toEqual(new Uint8Array(PAGE).fill(0x3c));
    expect(dom.events.isPending(port)).toBe(true);
    // Data grants are not left pinned; teardown unmaps the ring and frees dom0's port.
    expect(mem.read16(entry(9)) & (GTF.reading | GTF.writing)).toBe(0);
    g.write(`${frontend}/state`, '5');
    blk.poll();
    expect(mem.read16(entry(8)) & (GTF.reading | GTF.writing)).toBe(0);
    expect(dom.events.backendOf(port)).toBeNull();
  });
});
