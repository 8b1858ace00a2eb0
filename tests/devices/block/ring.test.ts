/**
 * The generic back-ring helper (src/vmm/devices/ring.ts) against a
 * frontend that follows io/ring.h (helpers.ts FrontRing): copy-out,
 * response publication, the notify rules both ways, index wrap at 2^32,
 * corrupt indices, the budget, and the three ring shapes blkif and netif
 * use.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { SRING_HEADER } from '../../../src/vmm/xen/abi/ring.js';
import { BackRing, physRingPage } from '../../../src/vmm/devices/ring.js';
import { FrontRing, PAGE } from './helpers.js';

const H = SRING_HEADER;
const BLK = { slotSize: 108, requestSize: 108, responseSize: 12 };
const PA = 2 * PAGE;

function setup(shape = BLK, start = 0) {
  const mem = new PhysMemory(8 * PAGE);
  const front = new FrontRing(mem, PA, shape.slotSize);
  const back = new BackRing(physRingPage(mem, PA), shape);
  if (start !== 0) {
    front.reqProdPvt = front.rspCons = start;
    for (const k of ['req_prod', 'rsp_prod'] as const) mem.write32(PA + H[k], start);
    mem.write32(PA + H.req_event, start + 1);
    mem.write32(PA + H.rsp_event, start + 1);
    back.attach(start);
  }
  return { mem, front, back };
}

/** A request whose first 4 bytes are `n`. */
function req(n: number, size = 108): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
const num = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

/** Echo server: response = first 4 bytes of the request. */
function echo(back: BackRing) {
  return (r: Uint8Array) => back.putResponse(r.subarray(0, 4));
}

describe('BackRing', () => {
  it('sizes rings as io/ring.h does (blkif 32, netif tx 256, netif rx 256)', () => {
    expect(setup().back.entries).toBe(32);
    expect(setup({ slotSize: 12, requestSize: 12, responseSize: 4 }).back.entries).toBe(256);
    expect(setup({ slotSize: 8, requestSize: 8, responseSize: 8 }).back.entries).toBe(256);
    expect(() => new BackRing(physRingPage(new PhysMemory(PAGE), 0), { slotSize: 8, requestSize: 12, responseSize: 4 })).toThrow(RangeError);
  });

  it('copies requests out, answers them in order and publishes rsp_prod after the data', () => {
    const { mem, front, back } = setup();
    for (let i = 0; i < 5; i++) front.put(req(i + 100));
    expect(back.available()).toBe(0); // not yet published
    front.publish();
    expect(back.available()).toBe(5);
    const seen: number[] = [];
    const r = back.poll((q) => {
      // The guest scribbling on the slot after the copy changes nothing.
      const slot = PA + H.ring + ((back.reqCons - 1) & 31) * 108;
      mem.write32(slot, 0xdead);
      mem.write8(slot + 50, 0xee);
      seen.push(num(q));
      expect(q[50]).toBe(0);
      back.putResponse(q.subarray(0, 4));
    });
    expect(seen).toEqual([100, 101, 102, 103, 104]);
    expect(r).toEqual({ taken: 5, notify: true, more: false });
    expect(front.rspProd).toBe(5);
    const rsps = front.take();
    expect(rsps.map((x) => Number(x.id & 0xffffffffn))).toEqual([100, 101, 102, 103, 104]);
    // Responses are zero-padded to responseSize.
    expect(mem.readBytes(PA + H.ring + 4, 8)).toEqual(new Uint8Array(8));
  });

  it('notifies only when rsp_event lies in (old, new]', () => {
    const { mem, front, back } = setup();
    front.put(req(1));
    front.publish();
    // Frontend is not waiting for responses yet: rsp_event far ahead.
    mem.write32(PA + H.rsp_event, 10);
    expect(back.poll(echo(back)).notify).toBe(false);
    for (let i = 0; i < 9; i++) front.put(req(i));
    front.publish();
    expect(back.poll(echo(back)).notify).toBe(true); // 1 → 10 crosses 10
    // rsp_event behind: already passed, no notify.
    front.put(req(0));
    front.publish();
    mem.write32(PA + H.rsp_event, 5);
    expect(back.poll(echo(back)).notify).toBe(false);
    // pushResponses with nothing new never notifies.
    expect(back.pushResponses()).toBe(false);
  });

  it('final check sets req_event = req_cons + 1 so the frontend notifies again', () => {
    const { front, back } = setup();
    expect(back.finalCheck()).toBe(false);
    expect(front.reqEvent).toBe(1);
    front.put(req(7));
    expect(front.publish()).toBe(true); // 0 → 1 crosses req_event 1
    back.poll(echo(back));
    expect(front.reqEvent).toBe(2);
    front.put(req(8));
    front.put(req(9));
    expect(front.publish()).toBe(true);
    // If the backend had not yet consumed (req_event still 2), a further request does not need a notify.
    front.put(req(10));
    expect(front.publish()).toBe(false);
    expect(back.poll(echo(back)).taken).toBe(3);
    expect(front.reqEvent).toBe(5);
  });

  it('bounds the work per poll and reports more', () => {
    const { front, back } = setup();
    for (let i = 0; i < 20; i++) front.put(req(i));
    front.publish();
    const evBefore = front.reqEvent;
    expect(back.poll(echo(back), 8)).toMatchObject({ taken: 8, more: true });
    // No final check while work is left: req_event untouched.
    expect(front.reqEvent).toBe(evBefore);
    expect(front.rspProd).toBe(8);
    expect(back.poll(echo(back), 8)).toMatchObject({ taken: 8, more: true });
    expect(back.poll(echo(back), 8)).toMatchObject({ taken: 4, more: false });
    expect(front.take()).toHaveLength(20);
  });

  it('never takes more requests than it has response room for', () => {
    const { front, back } = setup();
    for (let i = 0; i < 32; i++) front.put(req(i));
    front.publish();
    // Take all 32 without answering (an asynchronous backend).
    for (let i = 0; i < 32; i++) {
      expect(back.available()).toBe(32 - i);
      back.takeRequest();
    }
    expect(back.available()).toBe(0);
    expect(back.corrupt).toBeNull();
    back.putResponse(req(0, 12));
    back.pushResponses();
    front.take();
    front.put(req(99));
    front.publish();
    expect(back.available()).toBe(1);
  });

  it('wraps the free-running indices at 2^32', () => {
    const start = 0xffff_fff0;
    const { front, back } = setup(BLK, start);
    const seen: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 12; i++) front.put(req(round * 100 + i));
      front.publish();
      back.poll((q) => {
        seen.push(num(q));
        back.putResponse(q.subarray(0, 4));
      });
      expect(front.take()).toHaveLength(12);
    }
    expect(seen).toHaveLength(36);
    expect(back.reqCons).toBe((start + 36) >>> 0);
    expect(back.reqCons).toBeLessThan(start);
    expect(front.rspProd).toBe((start + 36) >>> 0);
    expect(back.corrupt).toBeNull();
    expect(front.reqEvent).toBe((start + 37) >>> 0);
  });

  it('calls a req_prod more than a ring ahead corrupt, and stops', () => {
    const { mem, back } = setup();
    mem.write32(PA + H.req_prod, 33);
    expect(back.available()).toBe(0);
    expect(back.corrupt).toMatch(/req_prod 33/);
    // Sticky: nothing else happens, not even a response write.
    mem.write32(PA + H.req_prod, 1);
    expect(back.available()).toBe(0);
    back.putResponse(req(1, 12));
    expect(back.pushResponses()).toBe(false);
    expect(mem.read32(PA + H.rsp_prod)).toBe(0);
    expect(back.poll(() => { throw new Error('must not run'); })).toEqual({ taken: 0, notify: false, more: false });
  });

  it('calls a req_prod that went backwards corrupt', () => {
    const { mem, front, back } = setup();
    for (let i = 0; i < 4; i++) front.put(req(i));
    front.publish();
    back.takeRequest();
    back.takeRequest(); // req_cons 2, rsp_prod_pvt 0
    mem.write32(PA + H.req_prod, 1);
    expect(back.available()).toBe(0);
    expect(back.corrupt).toMatch(/went back/);
  });

  it('calls req_prod corrupt when it wrapped behind near 2^32', () => {
    const { mem, back } = setup(BLK, 0xffff_fffe);
    mem.write32(PA + H.req_prod, 0xffff_fff0);
    expect(back.available()).toBe(0);
    expect(back.corrupt).not.toBeNull();
  });

  it('accepts exactly a full ring at the wrap point', () => {
    const { front, back } = setup(BLK, 0xffff_fff0);
    for (let i = 0; i < 32; i++) front.put(req(i));
    front.publish();
    expect(back.available()).toBe(32);
    expect(back.corrupt).toBeNull();
  });

  it('lets the device mark a ring corrupt', () => {
    const { front, back } = setup();
    front.put(req(1));
    front.put(req(2));
    front.publish();
    const r = back.poll((q) => {
      back.putResponse(q.subarray(0, 4));
      back.markCorrupt('device says so');
    });
    expect(r).toEqual({ taken: 1, notify: false, more: false });
    expect(back.corrupt).toBe('device says so');
  });

  it('works for the netif tx shape (12-byte slots, 4-byte responses)', () => {
    const shape = { slotSize: 12, requestSize: 12, responseSize: 4 };
    const { front, back } = setup(shape, 0xffff_ff00);
    for (let i = 0; i < 256; i++) front.put(req(i, 12));
    front.publish();
    const seen: number[] = [];
    while (back.poll((q) => { seen.push(num(q)); back.putResponse(q.subarray(0, 4)); }, 64).more);
    expect(seen).toEqual(Array.from({ length: 256 }, (_, i) => i));
    expect(front.rspProd).toBe((0xffff_ff00 + 256) >>> 0);
  });

  it('physRingPage keeps accesses inside its page', () => {
    const mem = new PhysMemory(2 * PAGE);
    mem.fill(PAGE, PAGE, 0x11);
    const p = physRingPage(mem, 0);
    expect(p.read32(4094)).toBe(0xffffffff);
    expect(p.read(4090, 10)).toEqual(new Uint8Array(10).fill(0xff));
    p.write(4090, new Uint8Array(10));
    p.write32(4093, 0);
    p.write32(-1, 0);
    expect(mem.read8(PAGE)).toBe(0x11);
    expect(p.read(0, -3)).toHaveLength(0);
  });
});
