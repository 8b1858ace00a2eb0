/**
 * Seeded fuzz of a hostile netif frontend. Each seed drives one vif with
 * random ring contents — random tx slots, structured packets with random
 * mutations (flags, sizes, offsets, grefs valid / invalid / read-only,
 * extra chains, never-ending chains), random rx buffers, scribbles on both
 * ring headers, frames pouring in from the switch, random frontend states
 * and garbage xenstore keys, and reconnections — while an honest vif of
 * another guest on the same switch and xenstore keeps exchanging frames.
 *
 * Invariants: poll never throws; tx responses carry a valid status and
 * answer ids we sent; rx responses carry an error or a length in 14..1518
 * and answer buffers we posted; the rx queue stays bounded; the backend
 * state is one a backend may be in, with an error node whenever it closed
 * on its own; the honest vif never loses a frame.
 */
import { describe, expect, it } from 'vitest';
import { SRING_HEADER } from '../../../src/vmm/xen/abi/ring.js';
import { NETIF_RSP, NETTXF } from '../../../src/vmm/xen/abi/netif.js';
import { encodeRxRequest } from '../../../src/vmm/devices/net/request.js';
import { NetRig, PAGE, ST, eth, extraSlot, fakeHost, listener, newServer, pattern, rng, same, txReq, udp4 } from './helpers.js';

const H = SRING_HEADER;
const SEEDS = 16;
const STEPS = 300;
const A_MAC = '02:00:00:00:0a:0a', B_MAC = '02:00:00:00:0b:0b';
const QUEUE = 16;

async function fuzz(seed: number) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

  const host = fakeHost();
  const server = newServer();
  const hostile = await NetRig.create({
    server, host, domid: 1, spec: `switch:lan,mac=${A_MAC}`,
    extra: { txBudget: 1 + int(64), rxBudget: 1 + int(16), rxQueueLimit: QUEUE },
  });
  const honest = await NetRig.create({ server, host, domid: 2, spec: `switch:lan,mac=${B_MAC}` });
  const wire = await listener(host);

  // Hostile data pages 0..7 (some read-only): UDP frames on the even ones, garbage on the odd ones.
  const frameLen: number[] = [];
  for (let i = 0; i < 8; i++) {
    const data = i % 2 === 0 ? udp4(B_MAC, A_MAC, '10.0.0.1', 1000 + i, '10.0.0.2', 7, pattern(int(1400), i)) : Uint8Array.from({ length: PAGE }, () => int(256));
    frameLen.push(data.length);
    hostile.page(i, { readonly: i % 3 === 0, data });
  }
  const grefs = [100, 101, 102, 103, 104, 105, 106, 107, 0, 8, 9, 4242, 0xffffffff];
  const flagsOf = () => pick([0, 0, NETTXF.csum_blank, NETTXF.more_data, NETTXF.extra_info, NETTXF.data_validated, int(16), int(65536)]);
  const slot = (): Uint8Array => {
    const k = r();
    if (k < 0.1) return Uint8Array.from({ length: 12 }, () => int(256));
    if (k < 0.2) return extraSlot(int(7), r() < 0.3, [int(256), int(256)]);
    return txReq({
      gref: r() < 0.8 ? 100 + int(8) : pick(grefs), offset: r() < 0.8 ? int(64) : pick([0, 4095, 4096, int(65536)]),
      flags: flagsOf(), id: int(65536), size: r() < 0.8 ? 14 + int(1500) : pick([0, 1, 13, 14, 4096, 65535]),
    });
  };
  const packet = (): Uint8Array[] => {
    if (r() < 0.3) {
      // A well-formed checksum-offload packet (unless rx copies scribbled on its page meanwhile).
      const i = 2 * int(4);
      return [txReq({ gref: 100 + i, flags: NETTXF.csum_blank, id: int(65536), size: frameLen[i]! })];
    }
    const n = pick([1, 1, 1, 2, 3, 18, 19, 30]);
    const first = txReq({ gref: 100 + int(8), flags: (n > 1 ? NETTXF.more_data : 0) | (r() < 0.3 ? NETTXF.csum_blank : 0), id: int(65536), size: n * 60 });
    const rest = Array.from({ length: n - 1 }, (_, i) => txReq({ gref: 100 + int(8), flags: i < n - 2 ? NETTXF.more_data : 0, id: int(65536), size: 60 }));
    return [first, ...rest];
  };

  let ringPage = 1, port = 5;
  let txIds = new Set<number>();
  let rxIds = new Set<number>();
  /** The frontend itself broke a ring (scribbled indices, overfilled it): its view of responses is garbage. */
  let dirty = false;
  const reconnect = () => {
    hostile.setFrontState(ST.Closing);
    hostile.setFrontState(ST.Closed);
    hostile.setFrontState(ST.Initialising);
    ringPage = ringPage === 1 ? 3 : 1;
    hostile.connect({ ringPage, port, split: r() < 0.3 });
    txIds = new Set();
    rxIds = new Set();
    dirty = false;
  };
  hostile.connect({ ringPage, port });
  honest.connect();
  honest.postRx(200);

  let honestSeen = 0;
  let honestSent = 0;
  for (let step = 0; step < STEPS; step++) {
    const k = r();
    const tx = hostile.tx!, rx = hostile.rx!;
    if (k < 0.35 && hostile.nb.connected) {
      const slots = r() < 0.5 ? packet() : Array.from({ length: 1 + int(8) }, slot);
      if (slots.length > tx.room) dirty = true;
      for (const s of slots) {
        txIds.add(new DataView(s.buffer).getUint16(8, true));
        tx.put(s);
      }
      if (tx.publish() || r() < 0.3) hostile.events.send(hostile.evtchn);
    } else if (k < 0.5 && hostile.nb.connected) {
      const n = 1 + int(8);
      if (n > rx.room) dirty = true;
      for (let i = 0; i < n; i++) {
        const id = int(65536);
        rxIds.add(id);
        const gref = r() < 0.8 ? 100 + int(8) : pick(grefs);
        // A buffer on its own ring page: the frontend scribbles its ring with our frame.
        if (gref === hostile.txRef || gref === hostile.rxRef) dirty = true;
        rx.put(encodeRxRequest({ id, gref }));
      }
      if (rx.publish() || r() < 0.3) hostile.events.send(hostile.evtchnRx);
    } else if (k < 0.65) {
      // Frames for the hostile guest (and the honest one: broadcast), some bad sizes.
      for (let i = int(6); i > 0; i--) wire.port.send(eth(pick([A_MAC, 'ff:ff:ff:ff:ff:ff']), '02:00:00:00:00:99', 0x88b5, pick([0, 46, 500, 1500, 1600])));
    } else if (k < 0.72) {
      const which = pick([ringPage, ringPage + 1]);
      const field = pick([H.req_prod, H.req_event, H.rsp_prod, H.rsp_event]);
      hostile.mem.write32(hostile.pfn(which) * PAGE + field, pick([0, 1, tx.reqProdPvt + 300, 0xffffffff, int(2 ** 32)]));
      if (field === H.req_prod || field === H.rsp_prod) dirty = true;
      hostile.events.send(hostile.evtchn);
    } else if (k < 0.77) {
      hostile.gxs.write(`${hostile.frontend}/${pick(['state', 'tx-ring-ref', 'rx-ring-ref', 'event-channel', 'request-rx-copy', 'multi-queue-num-queues'])}`,
        pick(['0', '1', '3', '4', '5', '6', '9', 'x', '', '4294967296', String(hostile.txRef)]));
    } else if (k < 0.8) {
      reconnect();
    } else {
      hostile.events.send(hostile.evtchn);
    }
    expect(() => hostile.nb.poll()).not.toThrow();
    expect(hostile.nb.rxQueued).toBeLessThanOrEqual(QUEUE);

    if (hostile.nb.connected && !dirty) {
      for (const x of hostile.tx!.takeRaw()) {
        const v = new DataView(x.buffer, x.byteOffset);
        const id = v.getUint16(0, true), status = v.getInt16(2, true);
        expect([NETIF_RSP.OKAY, NETIF_RSP.ERROR, NETIF_RSP.NULL]).toContain(status);
        if (status !== NETIF_RSP.NULL) expect(txIds.has(id)).toBe(true);
      }
      for (const x of hostile.takeRx()) {
        expect(rxIds.has(x.id)).toBe(true);
        expect(x.offset).toBe(0);
        expect(x.status === NETIF_RSP.ERROR || (x.status >= 14 && x.status <= 1518)).toBe(true);
      }
    }
    const state = hostile.state;
    expect([ST.InitWait, ST.Connected, ST.Closing, ST.Closed]).toContain(state);
    if (state === ST.Closing && hostile.gxs.tryRead(`${hostile.frontend}/state`) === '4') {
      expect(hostile.back('error')).toBeDefined();
    }
    if (state !== ST.Connected && r() < 0.5) reconnect();

    // The honest neighbour: one frame out to the wire, every broadcast in; nothing lost.
    if (step % 10 === 0) {
      const before = wire.got.length;
      // Broadcast: the hostile guest may spoof the wire's MAC (it can echo received frames), so unicast could go astray.
      const f = udp4('ff:ff:ff:ff:ff:ff', B_MAC, '10.0.0.2', 7, '10.0.0.9', 9, pattern(100, step));
      const rsp = honest.send(...honest.packet(f, { id: step }));
      expect(rsp).toEqual([{ id: step, status: NETIF_RSP.OKAY }]);
      honestSent++;
      expect(wire.got.slice(before).some((g) => same(g, f))).toBe(true);
      honest.nb.poll();
      const got = honest.takeRx();
      honestSeen += got.length;
      honest.postRx(got.length);
      expect(got.every((g) => g.status > 0)).toBe(true);
      expect(honest.state).toBe(ST.Connected);
    }
  }
  // Every frame that reached the honest port was delivered or is still queued: none lost.
  honest.nb.poll();
  honestSeen += honest.takeRx().length;
  expect(honest.nb.stats.rx.dropped).toBe(0);
  expect(honest.nb.stats.rx.errors).toBe(0);
  expect(honestSeen).toBe(honest.nb.stats.rx.packets);
  expect(honest.nb.stats.rx.packets + honest.nb.rxQueued).toBe(honest.port.stats.rx.frames);
  return { hostile: hostile.nb.stats, honestSent };
}

describe('netback fuzz', () => {
  it(`survives ${SEEDS} seeds × ${STEPS} steps of hostile rings, next to an honest vif`, async () => {
    const total = { slots: 0, txErrors: 0, packets: 0, rxPackets: 0, rxErrors: 0, csum: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { hostile: s } = await fuzz(seed * 7919);
      total.slots += s.tx.slots;
      total.txErrors += s.tx.errors;
      total.packets += s.tx.packets;
      total.rxPackets += s.rx.packets;
      total.rxErrors += s.rx.errors;
      total.csum += s.tx.csumFilled;
    }
    // Both paths were reached in quantity.
    expect(total.slots).toBeGreaterThan(3000);
    expect(total.txErrors).toBeGreaterThan(300);
    expect(total.packets).toBeGreaterThan(100);
    expect(total.rxPackets).toBeGreaterThan(100);
    expect(total.rxErrors).toBeGreaterThan(10);
    expect(total.csum).toBeGreaterThan(30);
    if (process.env.FUZZ_STATS === '1') console.log(total);
  });

  it('random words anywhere in either ring page never throw, and the vif always comes back', async () => {
    const r = rng(42);
    const host = fakeHost();
    const rig = await NetRig.create({ host });
    const wire = await listener(host);
    rig.connect();
    for (let i = 0; i < 2000; i++) {
      const pa = (r() < 0.5 ? rig.tx! : rig.rx!).pa;
      rig.mem.write32(pa + (Math.floor(r() * PAGE) & ~3), Math.floor(r() * 2 ** 32));
      if (i % 7 === 0) wire.port.send(eth('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:99', 0x88b5, 60));
      rig.events.send(rig.evtchn);
      expect(() => rig.nb.poll()).not.toThrow();
      if (rig.state !== ST.Connected) {
        rig.setFrontState(ST.Initialising);
        rig.connect();
      }
    }
  });
});
