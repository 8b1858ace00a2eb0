/**
 * Quotas and limits with xenstored's error names: nodes per domain and
 * node size (ENOSPC), ACL entries (ENOSPC), watches (E2BIG), path lengths
 * (EINVAL), the 4096-byte payload (connection closed), and the bound on
 * undelivered watch events (connection dropped). dom0 is exempt from the
 * per-domain quotas.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, XenstoreServer, buildDom0Tree, buildDomainTree } from '../../src/vmm/devices/xenstore/index.js';
import { XS } from '../../src/vmm/xen/abi/xs-wire.js';
import { Wire } from './helpers.js';

function setup(limits = {}) {
  const server = new XenstoreServer({ limits });
  buildDom0Tree(server);
  buildDomainTree(server, { domid: 1, name: 'one', memoryKiB: 65536 });
  return { server, dom0: new Wire(server, 0), g1: new Wire(server, 1) };
}

describe('quotas', () => {
  it('the defaults are C xenstored\'s', () => {
    expect(DEFAULT_LIMITS).toMatchObject({
      maxPayload: 4096, maxAbsPath: 3072, maxRelPath: 2048, maxNodesPerDomain: 1000, maxNodeSize: 2048,
      maxPermsPerNode: 5, maxWatches: 128, maxTransactions: 10,
    });
  });

  it('a guest owns at most 1000 nodes (ENOSPC); removing some frees quota', () => {
    const { server, g1 } = setup();
    let i = 0;
    let code = '';
    for (; i < 2000; i++) {
      const r = g1.q('WRITE', `data/d${i >> 5}/n${i}|`);
      if (r.type === 'ERROR') {
        code = r.body;
        break;
      }
    }
    expect(code).toBe('ENOSPC|');
    expect(server.store.count(1)).toBe(1000);
    expect(g1.err('MKDIR', 'data/more|')).toBe('ENOSPC');
    g1.ok('RM', 'data/d0|');
    expect(g1.ok('WRITE', 'data/again|')).toBe('OK|');
  });

  it('creating several parents at once counts each of them', () => {
    const { server, g1 } = setup({ maxNodesPerDomain: 30 });
    const left = 30 - server.store.count(1);
    expect(g1.err('WRITE', `data/${Array.from({ length: left + 1 }, (_, i) => `p${i}`).join('/')}|`)).toBe('ENOSPC');
    expect(g1.ok('WRITE', `data/${Array.from({ length: left }, (_, i) => `p${i}`).join('/')}|`)).toBe('OK|');
    expect(server.store.count(1)).toBe(30);
  });

  it('dom0 is not bound by the node quota, and nodes it gives a guest count for the guest', () => {
    const { server, dom0 } = setup({ maxNodesPerDomain: 5 });
    for (let i = 0; i < 50; i++) dom0.ok('WRITE', `/local/domain/1/data/z${i}|`);
    expect(server.store.count(1)).toBeGreaterThan(5);
  });

  it('a guest value may not exceed the node size (ENOSPC); dom0\'s may', () => {
    const { g1, dom0 } = setup();
    expect(g1.ok('WRITE', `data/v|${'x'.repeat(2048)}`)).toBe('OK|');
    expect(g1.err('WRITE', `data/v|${'x'.repeat(2049)}`)).toBe('ENOSPC');
    expect(g1.err('WRITE', `data/w|${'x'.repeat(2049)}`)).toBe('ENOSPC');
    expect(g1.ok('READ', 'data/v|').length).toBe(2048);
    expect(dom0.ok('WRITE', `/local/domain/1/data/v|${'y'.repeat(4000)}`)).toBe('OK|');
  });

  it('a node\'s child list counts towards its size', () => {
    const { g1 } = setup();
    const name = 'c'.repeat(99);
    let code = '';
    let n = 0;
    for (; n < 100 && code === ''; n++) {
      const r = g1.q('WRITE', `data/many/${name}${String(n).padStart(2, '0')}|`);
      if (r.type === 'ERROR') code = r.body;
    }
    expect(code).toBe('ENOSPC|');
    expect(n - 1).toBe(Math.floor(2048 / 102));
  });

  it('a guest may list at most 5 grants after the owner (ENOSPC)', () => {
    const { g1 } = setup();
    g1.ok('WRITE', 'data/p|');
    expect(g1.ok('SET_PERMS', 'data/p|n1|r2|r3|r4|r5|r6|')).toBe('OK|');
    expect(g1.err('SET_PERMS', 'data/p|n1|r2|r3|r4|r5|r6|r7|')).toBe('ENOSPC');
  });

  it('a guest may hold at most 128 watches (E2BIG); dom0 more', () => {
    const { g1, dom0 } = setup();
    for (let i = 0; i < 128; i++) g1.ok('WATCH', `data|t${i}|`);
    expect(g1.err('WATCH', 'data|one-more|')).toBe('E2BIG');
    g1.ok('UNWATCH', 'data|t0|');
    expect(g1.ok('WATCH', 'data|one-more|')).toBe('OK|');
    for (let i = 0; i < 200; i++) dom0.ok('WATCH', `/x|t${i}|`);
  });

  it('paths: 2048 bytes relative, 2048 below a domain for guests, 3072 absolute', () => {
    const { g1, dom0 } = setup();
    const rel = (n: number) => `data/${'a'.repeat(n - 5)}`;
    expect(g1.ok('WRITE', `${rel(2048)}|`)).toBe('OK|');
    expect(g1.err('WRITE', `${rel(2049)}|`)).toBe('EINVAL');
    expect(g1.err('READ', `/local/domain/1/${rel(2049)}|`)).toBe('EINVAL');
    expect(g1.err('READ', `/${'b'.repeat(2048)}|`)).toBe('EINVAL');
    expect(g1.err('READ', `/${'b'.repeat(2046)}|`)).toBe('EACCES');
    const abs = (n: number) => `/${'q/'.repeat((n - 2) / 2)}q`;
    expect(abs(3072).length).toBe(3072);
    expect(dom0.ok('WRITE', `${abs(3072)}|`)).toBe('OK|');
    expect(dom0.err('WRITE', `${abs(3074)}|`)).toBe('EINVAL');
    expect(dom0.err('WRITE', `${abs(3072)}x|`)).toBe('EINVAL');
    expect(dom0.err('READ', `${rel(2049)}|`)).toBe('EINVAL');
  });

  it('a payload over 4096 bytes closes the connection', () => {
    const { server, g1 } = setup();
    const p = new Uint8Array(4097);
    expect(server.handle(g1.conn, { type: XS.READ, req_id: 1, tx_id: 0, len: p.length }, p)).toEqual([]);
    expect(g1.conn.closed).toMatch(/4097 bytes exceeds 4096/);
    expect(server.handle(g1.conn, { type: XS.READ, req_id: 2, tx_id: 0, len: 5 }, new Uint8Array(5))).toEqual([]);
    expect(server.connections()).not.toContain(g1.conn);
  });

  it('a connection that leaves too many watch events unread is dropped, with its watches', () => {
    const { server, g1, dom0 } = setup({ maxPendingEventBytes: 2000 });
    g1.ok('WATCH', 'data|t|');
    for (let i = 0; i < 200 && g1.conn.closed === null; i++) dom0.ok('WRITE', `/local/domain/1/data/e${i}|`);
    expect(g1.conn.closed).toMatch(/more than 2000 bytes of watch events/);
    expect(g1.conn.watches).toEqual([]);
    expect(g1.conn.pendingBytes).toBe(0);
    expect(server.connections()).not.toContain(g1.conn);
  });

  it('a watch event too big for one message is dropped and counted', () => {
    const { server, dom0 } = setup();
    const token = 't'.repeat(4000);
    dom0.ok('WATCH', `/a|${token}|`);
    dom0.events();
    dom0.ok('WRITE', `/a/${'long/'.repeat(30)}x|`);
    expect(dom0.events()).toEqual([]);
    expect(server.droppedEvents).toBe(1);
  });
});
