/**
 * `--net SPEC` parsing: every accepted form and its defaults, each kind of
 * mistake rejected with a one-line message naming the spec, and the stable
 * generated MACs.
 */
import { describe, expect, it } from 'vitest';
import {
  NetSpecError, generateMac, isIPv4, isIPv6, parseNetSpec, parseNetSpecs, type NetSpecErrorCode,
} from '../../src/vmm/devices/net/spec.js';

const ctx = { index: 0, kernelPath: '/home/me/kernel.elf' };

function err(spec: string): NetSpecError {
  try {
    parseNetSpec(spec, ctx);
  } catch (e) {
    if (e instanceof NetSpecError) return e;
    throw e;
  }
  throw new Error(`${spec} parsed`);
}

describe('good specs', () => {
  it('vxlan with defaults: port 4789, local = wildcard at the remote port, generated MAC', () => {
    const c = parseNetSpec('vxlan:192.0.2.7,vni=42', ctx);
    expect(c).toEqual({
      index: 0,
      mac: generateMac('/home/me/kernel.elf', 0),
      macGenerated: true,
      backend: { kind: 'vxlan', remote: { address: '192.0.2.7', port: 4789 }, family: 4, vni: 42, local: { address: '0.0.0.0', port: 4789 } },
      pcap: null,
      spec: 'vxlan:192.0.2.7,vni=42',
    });
  });

  it('vxlan with every key', () => {
    const c = parseNetSpec('vxlan:10.1.2.3:8472,vni=16777215,local=10.1.2.4:9000,mac=02:AA:bb:CC:dd:EE,pcap=/tmp/a b.pcap', { ...ctx, index: 3 });
    expect(c.index).toBe(3);
    expect(c.mac).toBe('02:aa:bb:cc:dd:ee');
    expect(c.macGenerated).toBe(false);
    expect(c.pcap).toBe('/tmp/a b.pcap');
    expect(c.backend).toEqual({ kind: 'vxlan', remote: { address: '10.1.2.3', port: 8472 }, family: 4, vni: 16777215, local: { address: '10.1.2.4', port: 9000 } });
  });

  it('vxlan: local ADDR alone takes the remote port; :0 is ephemeral; vni 0 is valid', () => {
    expect(parseNetSpec('vxlan:10.0.0.1:5000,vni=0,local=127.0.0.1', ctx).backend).toMatchObject({ vni: 0, local: { address: '127.0.0.1', port: 5000 } });
    expect(parseNetSpec('vxlan:10.0.0.1,vni=1,local=127.0.0.1:0', ctx).backend).toMatchObject({ local: { address: '127.0.0.1', port: 0 } });
  });

  it('vxlan over IPv6 (bracketed), default local ::', () => {
    expect(parseNetSpec('vxlan:[2001:db8::1],vni=5', ctx).backend).toEqual({
      kind: 'vxlan', remote: { address: '2001:db8::1', port: 4789 }, family: 6, vni: 5, local: { address: '::', port: 4789 },
    });
    expect(parseNetSpec('vxlan:[::1]:4790,vni=5,local=[::1]:4791', ctx).backend).toMatchObject({
      remote: { address: '::1', port: 4790 }, local: { address: '::1', port: 4791 },
    });
  });

  it('switch, with mac and pcap', () => {
    expect(parseNetSpec('switch:lan', ctx).backend).toEqual({ kind: 'switch', name: 'lan' });
    const c = parseNetSpec('switch:lab-1.a_b,pcap=x.pcap,mac=02-00-00-00-00-01', ctx);
    expect(c).toMatchObject({ backend: { kind: 'switch', name: 'lab-1.a_b' }, pcap: 'x.pcap', mac: '02:00:00:00:00:01' });
  });

  it('several vifs: index is the position', () => {
    const cs = parseNetSpecs(['switch:a', 'vxlan:10.0.0.2,vni=1'], { kernelPath: '/k' });
    expect(cs.map((c) => c.index)).toEqual([0, 1]);
    expect(cs[0]!.mac).not.toBe(cs[1]!.mac);
  });
});

describe('bad specs: one line each, naming the spec', () => {
  const cases: [string, NetSpecErrorCode, RegExp][] = [
    ['', 'empty', /empty spec/],
    ['tap:xk0', 'unknown-kind', /unknown kind "tap" \(expected vxlan:REMOTE\[:PORT\],vni=N or switch:NAME\)/],
    ['mac=02:00:00:00:00:01,switch:a', 'unknown-kind', /must start with its kind/],
    ['vxlan', 'bad-address', /missing address/],
    ['vxlan:example.com,vni=1', 'bad-address', /hostnames are not resolved/],
    ['vxlan:256.1.1.1,vni=1', 'bad-address', /not an IP address/],
    ['vxlan:2001:db8::1,vni=1', 'bad-address', /in brackets/],
    ['vxlan:[2001:db8::g],vni=1', 'bad-address', /not an IPv6 address/],
    ['vxlan:[::1,vni=1', 'bad-address', /missing '\]'/],
    ['vxlan:0.0.0.0,vni=1', 'bad-address', /unspecified/],
    ['vxlan:239.1.1.1,vni=1', 'bad-address', /multicast group/],
    ['vxlan:10.0.0.1:0,vni=1', 'bad-port', /port "0" is not a number from 1 to 65535/],
    ['vxlan:10.0.0.1:65536,vni=1', 'bad-port', /port "65536"/],
    ['vxlan:10.0.0.1:http,vni=1', 'bad-port', /port "http"/],
    ['vxlan:10.0.0.1,vni=1,local=10.0.0.2:70000', 'bad-port', /local=10.0.0.2:70000: port "70000" is not a number from 0 to 65535/],
    ['vxlan:10.0.0.1,vni=1,local=[::1]:5', 'bad-address', /an IPv6 address for an IPv4 remote/],
    ['vxlan:10.0.0.1', 'missing-vni', /missing vni=N/],
    ['vxlan:10.0.0.1,vni=16777216', 'bad-vni', /vni=16777216: not an integer from 0 to 16777215/],
    ['vxlan:10.0.0.1,vni=-1', 'bad-vni', /vni=-1/],
    ['vxlan:10.0.0.1,vni=0x10', 'bad-vni', /vni=0x10/],
    ['vxlan:10.0.0.1,vni=', 'bad-vni', /vni=:/],
    ['vxlan:10.0.0.1,vni=1,mac=02:00:00:00:00', 'bad-mac', /not a MAC address/],
    ['vxlan:10.0.0.1,vni=1,mac=02:00:00:00:00:0g', 'bad-mac', /not a MAC address/],
    ['vxlan:10.0.0.1,vni=1,mac=02:00-00:00:00:00', 'bad-mac', /not a MAC address/],
    ['switch:a,mac=01:00:5e:00:00:01', 'bad-mac', /multicast address/],
    ['switch:a,mac=ff:ff:ff:ff:ff:ff', 'bad-mac', /multicast address/],
    ['switch:a,mac=00:00:00:00:00:00', 'bad-mac', /zero address/],
    ['switch:', 'bad-name', /switch name ""/],
    ['switch:a/b', 'bad-name', /switch name "a\/b"/],
    ['switch:a,vni=3', 'unknown-key', /unknown key "vni" for switch \(vni= applies to vxlan only\)/],
    ['vxlan:10.0.0.1,vni=1,mtu=9000', 'unknown-key', /unknown key "mtu" for vxlan; keys: mac, pcap, vni, local/],
    ['vxlan:10.0.0.1,vni=1,vni=2', 'duplicate-key', /vni= given twice/],
    ['switch:a,pcap=a,pcap=b', 'duplicate-key', /pcap= given twice/],
    ['switch:a,pcap=', 'bad-path', /pcap= needs a file name/],
    ['switch:a,,pcap=x', 'bad-item', /"" is not KEY=VALUE/],
    ['switch:a,pcap', 'bad-item', /"pcap" is not KEY=VALUE/],
  ];
  for (const [spec, code, message] of cases) {
    it(`${JSON.stringify(spec)} → ${code}`, () => {
      const e = err(spec);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(e.message.startsWith(`--net ${spec}: `)).toBe(true);
      expect(e.message).not.toContain('\n');
    });
  }

  it('two vifs of one guest with the same MAC', () => {
    expect(() => parseNetSpecs(['switch:a,mac=02:00:00:00:00:01', 'switch:b,mac=02:00:00:00:00:01'], { kernelPath: '/k' }))
      .toThrow(/^--net switch:b,mac=02:00:00:00:00:01: mac 02:00:00:00:00:01 is also vif 0's \(switch:a,mac=02:00:00:00:00:01\)$/);
  });
});

describe('generated MACs', () => {
  it('are stable, locally administered unicast under 02:16:3e', () => {
    const a = generateMac('/home/me/kernel.elf', 0);
    expect(a).toBe(generateMac('/home/me/kernel.elf', 0));
    expect(a).toMatch(/^02:16:3e(:[0-9a-f]{2}){3}$/);
    const first = parseInt(a.slice(0, 2), 16);
    expect(first & 1).toBe(0); // unicast
    expect(first & 2).toBe(2); // locally administered
  });

  it('differ by vif index, guest ordinal and kernel path', () => {
    const macs = new Set<string>();
    for (const path of ['/a.elf', '/b.elf']) {
      for (let guest = 0; guest < 4; guest++) for (let i = 0; i < 16; i++) macs.add(generateMac(path, i, guest));
    }
    expect(macs.size).toBe(2 * 4 * 16);
  });

  it('guard: the value for a fixed input (changing it changes every user\'s MACs)', () => {
    expect(generateMac('/work/kernel.elf', 0)).toBe(generateMac('/work/kernel.elf', 0, 0));
    expect(generateMac('/work/kernel.elf', 0)).toBe('02:16:3e:91:70:f1');
  });
});

describe('address literals', () => {
  it('IPv4', () => {
    for (const a of ['0.0.0.0', '127.0.0.1', '255.255.255.255', '10.0.0.1']) expect(isIPv4(a)).toBe(true);
    for (const a of ['1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '', 'a.b.c.d']) expect(isIPv4(a)).toBe(false);
  });

  it('IPv6', () => {
    for (const a of ['::', '::1', '1::', 'fe80::1:2', '2001:db8:0:0:0:0:0:1', '::ffff:192.0.2.1', '1:2:3:4:5:6:1.2.3.4']) expect(isIPv6(a)).toBe(true);
    for (const a of ['', ':', ':::', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', '12345::', '::ffff:1.2.3', 'g::1', '1:2:3:4:5:6:7::8']) expect(isIPv6(a)).toBe(false);
  });
});
