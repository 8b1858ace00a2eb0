/**
 * Permissions as xenstored enforces them, over the tree the toolstack
 * writes: guests read their own home but not other domains', write only
 * where libxl lets them, own what they create, and cannot give nodes
 * away; missing nodes under unreadable parents answer EACCES, not ENOENT.
 */
import { describe, expect, it } from 'vitest';
import { XenstoreServer, addDevice, buildDom0Tree, buildDomainTree } from '../../src/vmm/devices/xenstore/index.js';
import { Wire } from './helpers.js';

function setup() {
  const server = new XenstoreServer();
  buildDom0Tree(server);
  buildDomainTree(server, { domid: 1, name: 'one', memoryKiB: 65536, console: { mfn: 0x3ff, port: 2 } });
  buildDomainTree(server, { domid: 2, name: 'two', memoryKiB: 65536 });
  return { server, dom0: new Wire(server, 0), g1: new Wire(server, 1), g2: new Wire(server, 2) };
}

describe('permissions', () => {
  it('a guest reads its own home, by absolute and relative path', () => {
    const { g1 } = setup();
    expect(g1.ok('READ', '/local/domain/1/name|')).toBe('one');
    expect(g1.ok('READ', 'domid|')).toBe('1');
    expect(g1.ok('READ', 'console/ring-ref|')).toBe(String(0x3ff));
  });

  it("a guest reading another domain's node gets EACCES", () => {
    const { g1, g2 } = setup();
    expect(g1.err('READ', '/local/domain/2/name|')).toBe('EACCES');
    expect(g2.err('READ', '/local/domain/1/name|')).toBe('EACCES');
    expect(g1.err('DIRECTORY', '/local/domain/2|')).toBe('EACCES');
    expect(g1.err('GET_PERMS', '/local/domain/2|')).toBe('EACCES');
    expect(g1.err('READ', '/local/domain/0/name|')).toBe('EACCES');
    expect(g1.err('DIRECTORY', '/local/domain|')).toBe('EACCES');
  });

  it('a missing node is EACCES under an unreadable parent and ENOENT under a readable one', () => {
    const { g1 } = setup();
    expect(g1.err('READ', '/local/domain/2/nothing/here|')).toBe('EACCES');
    expect(g1.err('READ', 'nothing/here|')).toBe('ENOENT');
    expect(g1.err('READ', '/nothing|')).toBe('EACCES');
  });

  it('guests cannot write the read-only parts of their home', () => {
    const { g1 } = setup();
    for (const p of ['name', 'domid', 'foo', 'console/ring-ref', 'memory/target', 'device/vbd']) {
      expect(g1.err('WRITE', `${p}|x`), p).toBe('EACCES');
    }
    expect(g1.err('MKDIR', 'newdir|')).toBe('EACCES');
    expect(g1.err('RM', 'name|')).toBe('EACCES');
    expect(g1.err('RM', 'console/ring-ref|')).toBe('EACCES');
    expect(g1.err('WRITE', '/local/domain/2/data/x|1')).toBe('EACCES');
  });

  it('guests write where libxl allows and own what they create', () => {
    const { g1, dom0 } = setup();
    expect(g1.ok('WRITE', 'data/x/y|1')).toBe('OK|');
    expect(g1.ok('GET_PERMS', 'data/x/y|')).toBe('n1|');
    expect(g1.ok('WRITE', 'control/feature-poweroff|1')).toBe('OK|');
    expect(g1.ok('WRITE', 'control/shutdown|poweroff')).toBe('OK|');
    expect(g1.ok('WRITE', 'device/suspend/event-channel|5')).toBe('OK|');
    expect(g1.ok('WRITE', 'console/tty|x')).toBe('OK|');
    expect(dom0.ok('READ', '/local/domain/1/control/shutdown|')).toBe('poweroff');
    expect(g1.ok('RM', 'data/x|')).toBe('OK|');
  });

  it('inherited ACLs keep their grants and change the owner to the creating guest', () => {
    const { dom0, g1, g2 } = setup();
    dom0.ok('WRITE', '/shared|');
    dom0.ok('SET_PERMS', '/shared|n0|b1|r2|');
    g1.ok('WRITE', '/shared/k|v');
    expect(g1.ok('GET_PERMS', '/shared/k|')).toBe('n1|b1|r2|');
    expect(g2.ok('READ', '/shared/k|')).toBe('v');
    expect(g2.err('WRITE', '/shared/k|w')).toBe('EACCES');
    expect(g2.err('WRITE', '/shared/k2|w')).toBe('EACCES');
  });

  it('the default access in the first entry applies to unlisted domains', () => {
    const { dom0, g1, g2 } = setup();
    dom0.ok('WRITE', '/pub|hello');
    dom0.ok('SET_PERMS', '/pub|r0|n2|');
    expect(g1.ok('READ', '/pub|')).toBe('hello');
    expect(g2.err('READ', '/pub|')).toBe('EACCES');
    expect(g1.err('WRITE', '/pub|x')).toBe('EACCES');
  });

  it('write-only access allows writes but not reads', () => {
    const { dom0, g1 } = setup();
    dom0.ok('WRITE', '/drop|');
    dom0.ok('SET_PERMS', '/drop|n0|w1|');
    expect(g1.ok('WRITE', '/drop|x')).toBe('OK|');
    expect(g1.err('READ', '/drop|')).toBe('EACCES');
  });

  it('SET_PERMS needs ownership; a guest cannot give a node away', () => {
    const { dom0, g1, g2 } = setup();
    g1.ok('WRITE', 'data/mine|1');
    expect(g1.ok('SET_PERMS', 'data/mine|n1|r2|')).toBe('OK|');
    expect(g2.ok('READ', '/local/domain/1/data/mine|')).toBe('1');
    expect(g1.err('SET_PERMS', 'data/mine|n2|')).toBe('EPERM');
    expect(g1.ok('GET_PERMS', 'data/mine|')).toBe('n1|r2|');
    // Write access through an ACL is not ownership.
    dom0.ok('WRITE', '/acl|');
    dom0.ok('SET_PERMS', '/acl|n0|b1|');
    expect(g1.err('SET_PERMS', '/acl|n0|b1|b2|')).toBe('EACCES');
    expect(g1.err('SET_PERMS', 'name|n1|')).toBe('EACCES');
    expect(dom0.ok('SET_PERMS', '/local/domain/1/data/mine|n2|')).toBe('OK|');
    expect(dom0.server.store.get('/local/domain/1/data/mine')!.perms[0].domid).toBe(2);
  });

  it('special nodes have permissions too', () => {
    const { dom0, g1 } = setup();
    expect(g1.err('GET_PERMS', '@releaseDomain|')).toBe('EACCES');
    expect(g1.err('SET_PERMS', '@releaseDomain|n1|')).toBe('EACCES');
    dom0.ok('SET_PERMS', '@releaseDomain|n0|r1|');
    expect(g1.ok('GET_PERMS', '@releaseDomain|')).toBe('n0|r1|');
  });

  it('device frontends are guest-owned and backends guest-readable', () => {
    const { server, g1, g2 } = setup();
    const { frontend, backend } = addDevice(server, { type: 'vbd', devid: 51712, frontendDomid: 1, back: { params: 'disk.img' } });
    expect(g1.ok('GET_PERMS', `${frontend}|`)).toBe('n1|r0|');
    expect(g1.ok('WRITE', `${frontend}/ring-ref|8`)).toBe('OK|');
    expect(g1.ok('WRITE', `${frontend}/state|3`)).toBe('OK|');
    expect(g1.ok('READ', `${backend}/state|`)).toBe('1');
    expect(g1.ok('READ', `${backend}/params|`)).toBe('disk.img');
    expect(g1.err('WRITE', `${backend}/state|4`)).toBe('EACCES');
    expect(g2.err('READ', `${frontend}/state|`)).toBe('EACCES');
    expect(g2.err('READ', `${backend}/state|`)).toBe('EACCES');
  });

  it('dom0 may do anything', () => {
    const { dom0 } = setup();
    expect(dom0.ok('READ', '/local/domain/1/name|')).toBe('one');
    expect(dom0.ok('WRITE', '/local/domain/2/name|renamed')).toBe('OK|');
    expect(dom0.ok('RM', '/local/domain/2/console|')).toBe('OK|');
  });
});
