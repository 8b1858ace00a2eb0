/**
 * Seeded fuzz of a hostile blkif frontend. Each seed drives one device
 * with random ring contents — random bytes, structured requests with
 * random mutations (ops, segment counts, grefs valid / invalid /
 * read-only, sector bounds, indirect pages), scribbles on the ring header
 * (req_prod, events), random frontend states and garbage xenstore keys,
 * and reconnections — while a second, honest device on the same xenstore
 * and guest keeps doing write/read round trips.
 *
 * Invariants: poll never throws; every response has a valid status and
 * echoes a request id; the disk is never asked for a range outside it;
 * a read-only disk is never written; the backend state is always a
 * XenbusState a backend may be in, with an error node whenever it closed
 * on its own; the honest device never fails.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { SRING_HEADER } from '../../../src/vmm/xen/abi/ring.js';
import { MemoryBlockHost } from '../../../src/vmm/devices/block/disk.js';
import { OP, PAGE, Rig, ST, discardReq, indirectReq, newServer, rng, rw, same, segmentPage, type Seg } from './helpers.js';

const H = SRING_HEADER;
const SEEDS = 24;
const STEPS = 250;

function fuzz(seed: number, readonly: boolean) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

  const server = newServer();
  const mem = new PhysMemory(256 * PAGE);
  const sectors = pick([0, 1, 8, 64, 257]);
  const hostile = new Rig({ server, mem, vdev: 'xvda', readonly, sectors, extra: { budget: 1 + int(40), maxIndirectSegments: pick([0, 8, 256, 4096]) } });
  const honest = new Rig({ server, mem, vdev: 'xvdb', grants: hostile.grants, events: hostile.events, sectors: 64 });
  const host = hostile.host as MemoryBlockHost;

  // Hostile device pages: 0..9 data (some read-only), 10 and 11 indirect pages.
  for (let i = 0; i < 10; i++) hostile.page(i, { readonly: i % 3 === 0, fill: i });
  const grefs = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 0, 8, 4242, 0xffffffff];
  const randomSeg = (): Seg => ({ gref: pick(grefs), first: r() < 0.9 ? int(8) : int(256), last: r() < 0.9 ? int(8) : int(256) });
  const fillIndirect = () => {
    for (const i of [10, 11]) {
      const p = hostile.page(i);
      if (r() < 0.5) mem.writeBytes(p.pa, segmentPage(Array.from({ length: 512 }, randomSeg)));
      else mem.writeBytes(p.pa, Uint8Array.from({ length: PAGE }, () => int(256)));
    }
  };
  fillIndirect();
  const sector = () => pick([0, 1, sectors - 1, sectors, sectors + 1, int(Math.max(1, sectors)), 2 ** 32, 2 ** 53]);

  const request = (): Uint8Array => {
    const k = r();
    const id = BigInt(int(2 ** 30)) * BigInt(int(2 ** 30));
    if (k < 0.1) return Uint8Array.from({ length: 108 }, () => int(256));
    if (k < 0.35) {
      // Mostly valid: good grefs, sane segments, in range (when the disk has room).
      const nseg = 1 + int(3);
      const segs = Array.from({ length: nseg }, () => {
        const first = int(8);
        return { gref: 101 + int(8), first, last: first + int(8 - first) };
      });
      const total = segs.reduce((a, x) => a + x.last - x.first + 1, 0);
      const op = pick([OP.READ, OP.WRITE, OP.FLUSH_DISKCACHE, OP.WRITE_BARRIER]);
      return rw(op, id, int(Math.max(1, sectors - total + 1)), op === OP.FLUSH_DISKCACHE && r() < 0.5 ? [] : segs);
    }
    if (k < 0.55) {
      const segs = Array.from({ length: int(12) }, randomSeg);
      const req = rw(pick([OP.READ, OP.WRITE, OP.READ, OP.WRITE, OP.FLUSH_DISKCACHE, OP.WRITE_BARRIER, 4, 7]), id, sector(), segs, r() < 0.9 ? segs.length : int(256));
      return req;
    }
    if (k < 0.7) return discardReq(id, sector(), pick([0, 1, 8, sectors, 2 ** 40]), pick([0, 0, 1, 2, 255]));
    const n = pick([0, 1, 2, 8, 9, 256, 257, 513, 4096, 0xffff]);
    return indirectReq(pick([OP.READ, OP.WRITE, OP.WRITE, 2, 3, 200]), id, sector(), n, [110, 111, pick(grefs)]);
  };

  let ringPfn = 1, port = 5, ref = 8;
  const reconnect = () => {
    hostile.setFrontState(ST.Closing);
    hostile.setFrontState(ST.Closed);
    hostile.setFrontState(ST.Initialising);
    ringPfn = ringPfn === 1 ? 3 : 1;
    hostile.connect({ ringPfn, ringRef: ref, port });
  };
  hostile.connect({ ringPfn, ringRef: ref, port });
  honest.connect({ ringPfn: 2, ringRef: 9, port: 6 });
  const honestPage = honest.page(20);
  const honestRead = honest.page(21);

  let ids = new Set<bigint>();
  /** The frontend itself broke the ring (scribbled indices, overfilled it): its view of responses is garbage. */
  let dirty = false;
  for (let step = 0; step < STEPS; step++) {
    const f = hostile.front!;
    const k = r();
    if (k < 0.6 && hostile.blk.connected) {
      // Submit a few requests, respecting the ring's free space most of the time.
      const room = f.entries - ((f.reqProdPvt - f.rspCons) >>> 0);
      const count = r() < 0.95 ? Math.min(room, 1 + int(8)) : 1 + int(40);
      if (count > room) dirty = true;
      for (let i = 0; i < count; i++) {
        const q = request();
        ids.add(new DataView(q.buffer).getBigUint64(4, true));
        f.put(q);
      }
      if (f.publish() || r() < 0.3) hostile.events.send(port);
    } else if (k < 0.7) {
      // Scribble on the ring header.
      const field = pick([H.req_prod, H.req_event, H.rsp_prod, H.rsp_event]);
      mem.write32(ringPfn * PAGE + field, pick([0, 1, f.reqProdPvt + 33, 0xffffffff, int(2 ** 32)]));
      if (field === H.req_prod || field === H.rsp_prod) dirty = true;
      hostile.events.send(port);
    } else if (k < 0.75) {
      fillIndirect();
    } else if (k < 0.8) {
      hostile.gxs.write(`${hostile.frontend}/${pick(['state', 'ring-ref', 'event-channel', 'protocol', 'ring-page-order'])}`,
        pick(['0', '1', '3', '4', '5', '6', '9', 'x', '', '4294967296', 'x86_64-abi', String(ref)]));
    } else if (k < 0.85) {
      reconnect();
      ids = new Set();
      dirty = false;
    } else {
      hostile.events.send(port);
    }
    expect(() => hostile.blk.poll()).not.toThrow();

    // Responses the frontend can see are well-formed and answer requests we made.
    if (hostile.blk.connected && !dirty) {
      for (const rsp of hostile.front!.take()) {
        expect([0, -1, -2]).toContain(rsp.status);
        expect(ids.has(rsp.id)).toBe(true);
      }
    }
    const state = hostile.state;
    expect([ST.InitWait, ST.Connected, ST.Closing, ST.Closed]).toContain(state);
    if (state === ST.Closing && hostile.gxs.tryRead(`${hostile.frontend}/state`) === '4') {
      expect(hostile.back('error')).toBeDefined();
    }
    // If the device is down for good, bring it back as a well-behaved guest would.
    if (state !== ST.Connected && r() < 0.5) {
      reconnect();
      ids = new Set();
      dirty = false;
    }

    // The honest neighbour is unaffected.
    if (step % 25 === 0) {
      const data = Uint8Array.from({ length: PAGE }, (_, i) => (i + step) & 0xff);
      mem.writeBytes(honestPage.pa, data);
      const w = honest.submit(rw(OP.WRITE, BigInt(step), 8, [{ gref: honestPage.ref }]));
      const rd = honest.submit(rw(OP.READ, BigInt(step + 1), 8, [{ gref: honestRead.ref }]));
      expect([w[0]?.status, rd[0]?.status]).toEqual([0, 0]);
      expect(same(mem.readBytes(honestRead.pa, PAGE), data)).toBe(true);
      expect(honest.state).toBe(ST.Connected);
    }
  }
  // The parser kept every range inside the disk; a read-only disk was never modified.
  expect(hostile.logs.filter((l) => /outside a disk/.test(l))).toEqual([]);
  if (readonly) expect([host.writes, host.discards]).toEqual([0, 0]);
  return hostile.blk.stats;
}

describe('blkback fuzz', () => {
  it(`survives ${SEEDS} seeds × ${STEPS} steps of hostile ring contents`, () => {
    const total = { requests: 0, errors: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const s = fuzz(seed * 7919, seed % 4 === 0);
      total.requests += s.requests;
      total.errors += s.errors;
    }
    // The fuzz reached both paths in quantity.
    expect(total.requests).toBeGreaterThan(2000);
    expect(total.errors).toBeGreaterThan(500);
    expect(total.requests - total.errors).toBeGreaterThan(100);
    if (process.env.FUZZ_STATS === '1') console.log(total);
  });

  it('random words anywhere in the ring page never throw, and the device always comes back', () => {
    const r = rng(42);
    const hostileRig = new Rig({ mem: new PhysMemory(256 * PAGE) });
    hostileRig.connect();
    for (let i = 0; i < 2000; i++) {
      const pa = hostileRig.front!.pa;
      const off = Math.floor(r() * PAGE) & ~3;
      hostileRig.mem.write32(pa + off, Math.floor(r() * 2 ** 32));
      hostileRig.events.send(hostileRig.port);
      expect(() => hostileRig.blk.poll()).not.toThrow();
      if (hostileRig.state !== ST.Connected) {
        hostileRig.setFrontState(ST.Initialising);
        hostileRig.connect();
      }
    }
  });
});
