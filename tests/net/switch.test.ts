/**
 * The learning switch: flooding of unknown, broadcast and multicast
 * destinations; learning and forwarding; no hairpin; station moves;
 * ageing on the injected clock; the bounded table; bad frames; detach;
 * one MAC per segment.
 */
import { describe, expect, it } from 'vitest';
import { NetSwitch, SwitchError, type SwitchPort } from '../../src/vmm/devices/net/switch.js';
import { eth } from './helpers.js';

const MAC = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
const BCAST = 'ff:ff:ff:ff:ff:ff';

function rig(n: number, opts: { agingMs?: number; maxEntries?: number } = {}): {
  sw: NetSwitch; ports: SwitchPort[]; got: string[][]; clock: { t: number };
} {
  const clock = { t: 0 };
  const sw = new NetSwitch('lan', { now: () => clock.t, ...opts });
  const got: string[][] = [];
  const ports: SwitchPort[] = [];
  for (let i = 0; i < n; i++) {
    const inbox: string[] = [];
    got.push(inbox);
    // Each delivered frame is recorded as "dst<src" (short MAC suffixes).
    ports.push(sw.attach(`p${i}`, (f) => inbox.push(`${f[5]!.toString(16)}<${f[11]!.toString(16)}`)));
  }
  return { sw, ports, got, clock };
}

const take = (got: string[][]): string[][] => got.map((inbox) => inbox.splice(0));

describe('flooding and learning', () => {
  it('unknown unicast floods to every other port; the reply goes to one port', () => {
    const { sw, ports, got } = rig(4);
    ports[0]!.input(eth(MAC(0xb), MAC(0xa), 0x0800));
    expect(take(got)).toEqual([[], ['b<a'], ['b<a'], ['b<a']]);
    ports[2]!.input(eth(MAC(0xa), MAC(0xb), 0x0800));
    expect(take(got)).toEqual([['a<b'], [], [], []]);
    ports[0]!.input(eth(MAC(0xb), MAC(0xa), 0x0800));
    expect(take(got)).toEqual([[], [], ['b<a'], []]);
    expect(sw.lookup(MAC(0xa))).toBe(ports[0]!.id);
    expect(sw.lookup(MAC(0xb))).toBe(ports[2]!.id);
    expect(sw.stats).toMatchObject({ input: 3, flooded: 1, forwarded: 2, learned: 2 });
  });

  it('broadcast and multicast always flood, even to learned MACs\' ports', () => {
    const { ports, got } = rig(3);
    ports[1]!.input(eth(MAC(0xa), MAC(0xb), 0x0800));
    ports[2]!.input(eth(MAC(0xb), MAC(0xa), 0x0800));
    take(got);
    ports[0]!.input(eth(BCAST, MAC(0xc), 0x0806));
    ports[0]!.input(eth('01:00:5e:00:00:fb', MAC(0xc), 0x0800));
    ports[0]!.input(eth('33:33:00:00:00:01', MAC(0xc), 0x86dd));
    expect(take(got)).toEqual([[], ['ff<c', 'fb<c', '1<c'], ['ff<c', 'fb<c', '1<c']]);
  });

  it('no hairpin: a frame for a MAC learned on its own ingress port is dropped', () => {
    const { sw, ports, got } = rig(3);
    ports[0]!.input(eth(BCAST, MAC(0xa), 0x0806));
    ports[0]!.input(eth(BCAST, MAC(0xd), 0x0806)); // two stations behind port 0 (an uplink)
    take(got);
    ports[0]!.input(eth(MAC(0xd), MAC(0xa), 0x0800));
    expect(take(got)).toEqual([[], [], []]);
    expect(sw.stats.dropped.hairpin).toBe(1);
  });

  it('a station that moves is relearned on its new port', () => {
    const { sw, ports, got } = rig(3);
    ports[0]!.input(eth(BCAST, MAC(0xa), 0x0806));
    ports[1]!.input(eth(BCAST, MAC(0xa), 0x0806));
    take(got);
    ports[2]!.input(eth(MAC(0xa), MAC(0xc), 0x0800));
    expect(take(got)).toEqual([[], ['a<c'], []]);
    expect(sw.lookup(MAC(0xa))).toBe(ports[1]!.id);
  });
});

describe('ageing (injected clock)', () => {
  it('an entry older than agingMs is forgotten: the next frame floods again', () => {
    const { sw, ports, got, clock } = rig(3, { agingMs: 1000 });
    ports[1]!.input(eth(BCAST, MAC(0xb), 0x0806));
    take(got);
    clock.t = 1000;
    ports[0]!.input(eth(MAC(0xb), MAC(0xa), 0x0800));
    expect(take(got)).toEqual([[], ['b<a'], []]); // exactly agingMs old: still known
    clock.t = 2001;
    ports[0]!.input(eth(MAC(0xb), MAC(0xa), 0x0800));
    expect(take(got)).toEqual([[], ['b<a'], ['b<a']]);
    expect(sw.stats.aged).toBe(1);
    expect(sw.lookup(MAC(0xb))).toBeUndefined();
  });

  it('traffic from a station refreshes its entry', () => {
    const { sw, ports, clock } = rig(2, { agingMs: 1000 });
    for (let t = 0; t <= 5000; t += 500) {
      clock.t = t;
      ports[1]!.input(eth(BCAST, MAC(0xb), 0x0806));
    }
    clock.t = 5900;
    expect(sw.lookup(MAC(0xb))).toBe(ports[1]!.id);
    expect(sw.entries()).toEqual([{ mac: MAC(0xb), port: ports[1]!.id, label: 'p1', age: 900 }]);
  });

  it('the default is 802.1D\'s 300 s', () => {
    expect(new NetSwitch('x', { now: () => 0 }).agingMs).toBe(300_000);
  });
});

describe('bounded table', () => {
  it('when full, the entry refreshed longest ago is evicted', () => {
    const { sw, ports, clock } = rig(2, { maxEntries: 4 });
    for (let i = 1; i <= 4; i++) { clock.t = i; ports[0]!.input(eth(BCAST, MAC(i), 0x0806)); }
    clock.t = 5;
    ports[0]!.input(eth(BCAST, MAC(1), 0x0806)); // refresh 1: now 2 is the oldest
    ports[0]!.input(eth(BCAST, MAC(5), 0x0806));
    expect(sw.entries().map((e) => e.mac)).toEqual([MAC(3), MAC(4), MAC(1), MAC(5)]);
    expect(sw.stats.evicted).toBe(1);
  });

  it('aged entries go before live ones are evicted', () => {
    const { sw, ports, clock } = rig(2, { maxEntries: 3, agingMs: 10 });
    ports[0]!.input(eth(BCAST, MAC(1), 0x0806));
    ports[0]!.input(eth(BCAST, MAC(2), 0x0806));
    clock.t = 8;
    ports[0]!.input(eth(BCAST, MAC(3), 0x0806));
    clock.t = 15;
    ports[0]!.input(eth(BCAST, MAC(4), 0x0806));
    expect(sw.entries().map((e) => e.mac)).toEqual([MAC(3), MAC(4)]);
    expect(sw.stats).toMatchObject({ aged: 2, evicted: 0 });
  });

  it('a flood of random sources stays within the bound', () => {
    const { sw, ports } = rig(2, { maxEntries: 64 });
    for (let i = 0; i < 5000; i++) ports[0]!.input(eth(BCAST, `02:00:00:${(i >> 16 & 255).toString(16).padStart(2, '0')}:${(i >> 8 & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, 0x0800));
    expect(sw.entries().length).toBe(64);
    expect(sw.stats.evicted).toBe(5000 - 64);
  });
});

describe('bad frames and ports', () => {
  it('drops runts, giants and group or zero source addresses, counting each', () => {
    const { sw, ports, got } = rig(2);
    ports[0]!.input(new Uint8Array(13));
    ports[0]!.input(eth(BCAST, MAC(1), 0x0800, 1501));
    ports[0]!.input(eth(MAC(2), BCAST, 0x0800));
    ports[0]!.input(eth(MAC(2), '01:00:5e:00:00:01', 0x0800));
    ports[0]!.input(eth(MAC(2), '00:00:00:00:00:00', 0x0800));
    expect(take(got)).toEqual([[], []]);
    expect(sw.stats.dropped).toEqual({ tooShort: 1, tooLong: 1, hairpin: 0, badSource: 3 });
    expect(sw.entries()).toEqual([]);
  });

  it('detach forgets the port\'s MACs and stops its traffic both ways', () => {
    const { sw, ports, got } = rig(3);
    ports[1]!.input(eth(BCAST, MAC(0xb), 0x0806));
    take(got);
    ports[1]!.detach();
    ports[1]!.detach();
    expect(sw.portCount).toBe(2);
    expect(sw.lookup(MAC(0xb))).toBeUndefined();
    ports[1]!.input(eth(BCAST, MAC(0xb), 0x0806));
    ports[0]!.input(eth(MAC(0xb), MAC(0xa), 0x0800));
    expect(take(got)).toEqual([[], [], ['b<a']]);
  });

  it('a receiver that detaches a port during a flood does not break it', () => {
    const clock = { t: 0 };
    const sw = new NetSwitch('x', { now: () => clock.t });
    const seen: string[] = [];
    let third: SwitchPort | null = null;
    const first = sw.attach('a', () => undefined);
    sw.attach('b', () => { seen.push('b'); third?.detach(); });
    third = sw.attach('c', () => seen.push('c'));
    sw.attach('d', () => seen.push('d'));
    first.input(eth(BCAST, MAC(1), 0x0806));
    expect(seen).toEqual(['b', 'd']);
  });

  it('one MAC per segment: a second port claiming a MAC is refused', () => {
    const sw = new NetSwitch('lan', { now: () => 0 });
    const a = sw.attach('vif 0 of guest 0', () => undefined, MAC(1));
    expect(() => sw.attach('vif 0 of guest 1', () => undefined, MAC(1))).toThrow(SwitchError);
    expect(() => sw.attach('x', () => undefined, MAC(1))).toThrow(/switch lan: MAC 02:00:00:00:00:01 is already on this switch \(vif 0 of guest 0\); give this vif another mac=/);
    a.detach();
    expect(() => sw.attach('vif 0 of guest 1', () => undefined, MAC(1))).not.toThrow();
  });
});
