/**
 * The pure pieces of netback: netif slot codecs and ring geometry
 * (request.ts, the x86_32 sizes), the tx slot assembler, and the checksum
 * filler (checksum.ts) against an independent RFC 1071 sum.
 */
import { describe, expect, it } from 'vitest';
import { NETIF_RSP, NETTXF, XEN_NETIF_EXTRA_TYPE } from '../../../src/vmm/xen/abi/netif.js';
import { BackRing, physRingPage } from '../../../src/vmm/devices/ring.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { RX_RING_SHAPE, TX_RING_SHAPE } from '../../../src/vmm/devices/net/netback.js';
import {
  MAX_TX_EXTRAS, MAX_TX_SLOTS, TxAssembler, decodeRxRequest, decodeRxResponse, decodeTxRequest, decodeTxResponse,
  encodeRxRequest, encodeRxResponse, encodeTxRequest, encodeTxResponse, type TxStep,
} from '../../../src/vmm/devices/net/request.js';
import { checksumOk, fillChecksum } from '../../../src/vmm/devices/net/checksum.js';
import { eth, extraSlot, pattern, txReq, udp4 } from './helpers.js';

const OK = NETIF_RSP.OKAY, ERR = NETIF_RSP.ERROR, NULL = NETIF_RSP.NULL;
const MORE = NETTXF.more_data, EXTRA = NETTXF.extra_info;

describe('netif records (x86_32-abi)', () => {
  it('encode and decode at the header offsets', () => {
    const t = encodeTxRequest({ gref: 0xdeadbeef, offset: 0x123, flags: 0x5, id: 0xabcd, size: 1514 });
    expect(Array.from(t)).toEqual([0xef, 0xbe, 0xad, 0xde, 0x23, 0x01, 0x05, 0x00, 0xcd, 0xab, 0xea, 0x05]);
    expect(decodeTxRequest(t)).toEqual({ gref: 0xdeadbeef, offset: 0x123, flags: 5, id: 0xabcd, size: 1514 });
    expect(Array.from(encodeTxResponse(0x1234, -1))).toEqual([0x34, 0x12, 0xff, 0xff]);
    expect(decodeTxResponse(encodeTxResponse(7, NULL))).toEqual({ id: 7, status: 1 });
    const q = encodeRxRequest({ id: 0x102, gref: 0x11223344 });
    expect(Array.from(q)).toEqual([0x02, 0x01, 0, 0, 0x44, 0x33, 0x22, 0x11]);
    expect(decodeRxRequest(q)).toEqual({ id: 0x102, gref: 0x11223344 });
    const s = encodeRxResponse(3, 0, 1, 1514);
    expect(Array.from(s)).toEqual([3, 0, 0, 0, 1, 0, 0xea, 0x05]);
    expect(decodeRxResponse(encodeRxResponse(9, 2, 0, -1))).toEqual({ id: 9, offset: 2, flags: 0, status: -1 });
  });

  it('one-page rings hold 256 tx slots of 12 bytes and 256 rx slots of 8', () => {
    const mem = new PhysMemory(4 * 4096);
    expect(new BackRing(physRingPage(mem, 0), TX_RING_SHAPE).entries).toBe(256);
    expect(new BackRing(physRingPage(mem, 4096), RX_RING_SHAPE).entries).toBe(256);
    expect(TX_RING_SHAPE).toEqual({ slotSize: 12, requestSize: 12, responseSize: 4 });
    expect(RX_RING_SHAPE).toEqual({ slotSize: 8, requestSize: 8, responseSize: 8 });
    expect([MAX_TX_SLOTS, MAX_TX_EXTRAS]).toEqual([18, 4]);
  });
});

/** Push slots; collect every answer and packet in order. */
function run(a: TxAssembler, slots: Uint8Array[]): { steps: TxStep[]; answers: [number, number][]; packets: TxStep['packet'][] } {
  const steps = slots.map((s) => a.push(s));
  return {
    steps,
    answers: steps.flatMap((s) => s.answers.map((x) => [x.id, x.status] as [number, number])),
    packets: steps.map((s) => s.packet).filter((p) => p !== null),
  };
}

describe('TxAssembler', () => {
  it('a single slot is a packet of one fragment', () => {
    const { steps } = run(new TxAssembler(), [txReq({ gref: 9, offset: 10, flags: NETTXF.csum_blank, id: 4, size: 60 })]);
    expect(steps[0]).toEqual({
      answers: [], refused: null,
      packet: { size: 60, flags: NETTXF.csum_blank, fragments: [{ gref: 9, offset: 10, size: 60 }], slots: [{ id: 4, extra: false }] },
    });
  });

  it('the first fragment is the total less the others; extras are slots of their own', () => {
    const a = new TxAssembler();
    const { steps, packets } = run(a, [
      txReq({ gref: 1, id: 10, size: 1000, flags: MORE | EXTRA }),
      extraSlot(XEN_NETIF_EXTRA_TYPE.GSO, true),
      extraSlot(XEN_NETIF_EXTRA_TYPE.HASH),
      txReq({ gref: 2, offset: 96, id: 11, size: 400, flags: MORE }),
      txReq({ gref: 3, id: 12, size: 0, flags: MORE }),
      txReq({ gref: 4, id: 13, size: 100 }),
    ]);
    expect(steps.slice(0, 5).every((s) => s.packet === null && s.answers.length === 0)).toBe(true);
    expect(packets[0]).toEqual({
      size: 1000, flags: MORE | EXTRA,
      fragments: [{ gref: 1, offset: 0, size: 500 }, { gref: 2, offset: 96, size: 400 }, { gref: 3, offset: 0, size: 0 }, { gref: 4, offset: 0, size: 100 }],
      slots: [{ id: 10, extra: false }, { id: 0, extra: true }, { id: 0, extra: true }, { id: 11, extra: false }, { id: 12, extra: false }, { id: 13, extra: false }],
    });
    expect(a.held).toBe(0);
  });

  it('extras without more_data end the packet', () => {
    const { packets } = run(new TxAssembler(), [txReq({ gref: 1, id: 1, size: 60, flags: EXTRA }), extraSlot(XEN_NETIF_EXTRA_TYPE.MCAST_DEL)]);
    expect(packets[0]!.slots).toEqual([{ id: 1, extra: false }, { id: 0, extra: true }]);
  });

  it.each([
    ['too short', [txReq({ gref: 1, id: 1, size: 13 })], [[1, ERR]]],
    ['first fragment crosses the page', [txReq({ gref: 1, offset: 4000, id: 1, size: 97 })], [[1, ERR]]],
    ['first fragment ends the page exactly', [txReq({ gref: 1, offset: 4000, id: 1, size: 96 })], []],
    ['fragment crosses its page', [txReq({ gref: 1, id: 1, size: 100, flags: MORE }), txReq({ gref: 2, offset: 4095, id: 2, size: 2 })], [[1, ERR], [2, ERR]]],
    ['fragments exceed the packet', [txReq({ gref: 1, id: 1, size: 100, flags: MORE }), txReq({ gref: 2, id: 2, size: 60, flags: MORE }), txReq({ gref: 2, id: 3, size: 41 })],
      [[1, ERR], [2, ERR], [3, ERR]]],
    ['extra type NONE', [txReq({ gref: 1, id: 1, size: 60, flags: EXTRA | MORE }), extraSlot(0), txReq({ gref: 2, id: 2, size: 10 })], [[1, ERR], [0, NULL], [2, ERR]]],
    ['extra type past MAX', [txReq({ gref: 1, id: 1, size: 60, flags: EXTRA }), extraSlot(XEN_NETIF_EXTRA_TYPE.MAX)], [[1, ERR], [0, NULL]]],
  ] as const)('refuses: %s', (_name, slots, answers) => {
    const a = new TxAssembler();
    const r = run(a, [...slots]);
    expect(r.answers).toEqual(answers);
    expect(r.packets).toHaveLength(answers.length === 0 ? 1 : 0);
    expect(r.steps.filter((s) => s.refused !== null)).toHaveLength(answers.length === 0 ? 0 : 1);
    expect(a.held).toBe(0);
    // The assembler is back between packets.
    expect(a.push(txReq({ gref: 7, id: 99, size: 60 })).packet?.slots).toEqual([{ id: 99, extra: false }]);
  });

  it('a refused chain is answered as it goes, in order, and holds nothing', () => {
    const a = new TxAssembler();
    const slots = Array.from({ length: 40 }, (_, i) => txReq({ gref: 1, id: i, size: i === 0 ? 2400 : 60, flags: i < 39 ? MORE : 0 }));
    const { steps, answers } = run(a, slots);
    expect(steps.slice(0, 18).every((s) => s.answers.length === 0)).toBe(true);
    expect(steps[18]!.answers).toHaveLength(19);
    expect(steps[18]!.refused).toMatch(/more than 18 slots/);
    expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => [i, ERR]));
    expect(a.held).toBe(0);
  });

  it('reset() forgets a partial packet', () => {
    const a = new TxAssembler();
    a.push(txReq({ gref: 1, id: 1, size: 100, flags: MORE }));
    expect(a.held).toBe(1);
    a.reset();
    expect(a.held).toBe(0);
    expect(a.push(txReq({ gref: 1, id: 2, size: 60 })).packet).not.toBeNull();
  });

  it('random slots never throw and every slot is answered exactly once, in order', () => {
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const a = new TxAssembler();
    const answered: number[] = [];
    let slotsSeen = 0;
    for (let i = 0; i < 20000; i++) {
      const b = Uint8Array.from({ length: 12 }, () => Math.floor(rnd() * 256));
      // Keep chains reasonably short so packets complete.
      if (rnd() < 0.7) b[6] = b[6]! & ~MORE;
      b[9] = (i >> 8) & 0xff;
      b[8] = i & 0xff;
      slotsSeen++;
      const s = a.push(b);
      for (const x of s.answers) answered.push(x.status);
      if (s.packet !== null) {
        expect(s.packet.fragments.every((f) => f.offset + f.size <= 4096)).toBe(true);
        expect(s.packet.fragments.reduce((n, f) => n + f.size, 0)).toBe(s.packet.size);
        answered.push(...s.packet.slots.map(() => OK));
      }
    }
    expect(answered.length + a.held).toBe(slotsSeen);
  });
});

describe('checksum filling', () => {
  it('matches an independently built UDP/IPv4 frame from a zero, a pseudo-header sum or garbage', () => {
    const u = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '192.0.2.1', 5353, '192.0.2.2', 5353, pattern(201));
    for (const v of [0, 0x1234, 0xffff]) {
      const f = u.slice();
      f[40] = v >> 8; f[41] = v & 0xff;
      expect(fillChecksum(f)).toBeNull();
      expect(Array.from(f)).toEqual(Array.from(u));
    }
  });

  it('UDP whose sum is zero is sent as 0xffff', () => {
    // Search a payload whose checksum computes to 0.
    for (let x = 0; x < 0x10000; x++) {
      const f = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, Uint8Array.of(x >> 8, x & 0xff));
      if (f[40] === 0xff && f[41] === 0xff) {
        f[40] = f[41] = 0;
        expect(fillChecksum(f)).toBeNull();
        expect([f[40], f[41]]).toEqual([0xff, 0xff]);
        return;
      }
    }
    throw new Error('no zero-sum payload found');
  });

  it('ignores Ethernet padding after the IP datagram', () => {
    const u = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(4));
    const padded = new Uint8Array(60);
    padded.set(u);
    padded.fill(0xaa, u.length);
    const want = padded.slice();
    padded[40] = padded[41] = 0;
    expect(fillChecksum(padded)).toBeNull();
    expect(Array.from(padded)).toEqual(Array.from(want));
  });

  it.each([
    ['ARP', eth('ff:ff:ff:ff:ff:ff', '02:00:00:00:00:01', 0x0806, 28), 'not-ip'],
    ['IPv4 ICMP', (() => { const f = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(8)); f[23] = 1; return f; })(), 'not-tcp-udp'],
    ['IPv4 fragment', (() => { const f = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(8)); f[21] = 1; return f; })(), 'fragment'],
    ['truncated IPv4', udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(8)).subarray(0, 30), 'truncated'],
    ['IPv4 total length past the frame', (() => { const f = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(8)); f[17] = 200; return f; })(), 'truncated'],
    ['bad IHL', (() => { const f = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(8)); f[14] = 0x44; return f; })(), 'bad-header'],
    ['UDP length past the datagram', (() => { const f = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(8)); f[39] = 99; return f; })(), 'bad-header'],
    ['header only', eth('02:00:00:00:00:02', '02:00:00:00:00:01', 0x0800, 0), 'truncated'],
    ['tags only', eth('02:00:00:00:00:02', '02:00:00:00:00:01', 0x8100, 2), 'truncated'],
  ])('leaves %s alone and says why', (_name, frame, why) => {
    const f = frame.slice();
    expect(fillChecksum(f)).toBe(why);
    expect(Array.from(f)).toEqual(Array.from(frame));
    expect(checksumOk(frame)).toBeNull();
  });

  it('checksumOk tells a damaged datagram', () => {
    const u = udp4('02:00:00:00:00:02', '02:00:00:00:00:01', '10.0.0.1', 1, '10.0.0.2', 2, pattern(30));
    expect(checksumOk(u)).toBe(true);
    u[50] = u[50]! ^ 1;
    expect(checksumOk(u)).toBe(false);
  });
});
