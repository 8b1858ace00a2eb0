/**
 * Ethernet helpers: header fields, VLAN tag skipping, the size rule (14 …
 * 1514, 1518 tagged), MAC text and keys.
 */
import { describe, expect, it } from 'vitest';
import {
  ETHERTYPE, checkFrame, dstMac, etherType, formatMac, isGroupMacAt, macBytes, macFromKey, macKey, macKeyAt,
  parseEthernet, parseMac, srcMac,
} from '../../src/vmm/devices/net/frame.js';
import { eth, hex } from './helpers.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';

describe('header fields', () => {
  it('untagged', () => {
    const f = eth(B, A, ETHERTYPE.IPV4, 46);
    expect(dstMac(f)).toBe(B);
    expect(srcMac(f)).toBe(A);
    expect(etherType(f)).toBe(0x0800);
    expect(parseEthernet(f)).toEqual({ dst: B, src: A, etherType: 0x0800, vlans: [], payloadOffset: 14 });
  });

  it('802.1Q and QinQ tags are skipped', () => {
    const q = eth(B, A, 0x8100, hex('a0 2a 86 dd 00 00'));
    expect(parseEthernet(q)).toMatchObject({ etherType: ETHERTYPE.IPV6, vlans: [42], payloadOffset: 18 });
    const qinq = eth(B, A, 0x88a8, hex('00 64 81 00 00 05 08 06'));
    expect(parseEthernet(qinq)).toMatchObject({ etherType: ETHERTYPE.ARP, vlans: [100, 5], payloadOffset: 22 });
  });

  it('a header cut short is null', () => {
    expect(parseEthernet(new Uint8Array(13))).toBeNull();
    expect(parseEthernet(eth(B, A, 0x8100, hex('00 01')))).toBeNull(); // tag without its EtherType
    expect(etherType(new Uint8Array(3))).toBeNull();
  });
});

describe('size rule', () => {
  it('14 … 1514 untagged', () => {
    expect(checkFrame(new Uint8Array(13))).toBe('too-short');
    expect(checkFrame(new Uint8Array(0))).toBe('too-short');
    expect(checkFrame(eth(B, A, 0x0800, 0))).toBeNull();
    expect(checkFrame(eth(B, A, 0x0800, 1500))).toBeNull();
    expect(checkFrame(eth(B, A, 0x0800, 1501))).toBe('too-long');
  });

  it('1518 with a VLAN tag (802.1Q or 802.1ad), not more', () => {
    expect(checkFrame(eth(B, A, 0x8100, 1504))).toBeNull();
    expect(checkFrame(eth(B, A, 0x88a8, 1504))).toBeNull();
    expect(checkFrame(eth(B, A, 0x8100, 1505))).toBe('too-long');
    expect(checkFrame(eth(B, A, 0x0800, 1504))).toBe('too-long');
  });
});

describe('MAC addresses', () => {
  it('parse and format', () => {
    expect(parseMac('02:AB:cd:00:11:ff')).toBe('02:ab:cd:00:11:ff');
    expect(parseMac('02-ab-cd-00-11-ff')).toBe('02:ab:cd:00:11:ff');
    for (const bad of ['', '02:ab:cd:00:11', '02:ab:cd:00:11:ff:00', '2:ab:cd:00:11:ff', '02ab.cd00.11ff', '02:ab-cd:00:11:ff']) expect(parseMac(bad)).toBeNull();
    expect(formatMac(macBytes('fe:dc:ba:98:76:54'))).toBe('fe:dc:ba:98:76:54');
  });

  it('keys round-trip, including the top bits', () => {
    for (const m of ['ff:ff:ff:ff:ff:ff', '00:00:00:00:00:01', '80:00:00:00:00:00', '02:16:3e:ff:80:7f']) {
      expect(macFromKey(macKey(m))).toBe(m);
      expect(macKeyAt(macBytes(m), 0)).toBe(macKey(m));
    }
    expect(macKey('ff:ff:ff:ff:ff:ff')).toBe(2 ** 48 - 1);
  });

  it('group bit', () => {
    expect(isGroupMacAt(macBytes('ff:ff:ff:ff:ff:ff'), 0)).toBe(true);
    expect(isGroupMacAt(macBytes('33:33:00:00:00:01'), 0)).toBe(true);
    expect(isGroupMacAt(macBytes('02:00:00:00:00:01'), 0)).toBe(false);
  });
});
