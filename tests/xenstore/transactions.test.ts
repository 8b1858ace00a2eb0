/**
 * Transactions: isolation until commit, commit and abort, conflicts
 * answered EAGAIN, watch events only after a successful commit, id
 * handling and the per-connection limits.
 */
import { describe, expect, it } from 'vitest';
import { XenstoreServer, XsClient, buildDom0Tree, buildDomainTree } from '../../src/vmm/devices/xenstore/index.js';
import { Wire } from './helpers.js';

function setup(limits = {}) {
  const server = new XenstoreServer({ limits });
  buildDom0Tree(server);
  buildDomainTree(server, { domid: 1, name: 'one', memoryKiB: 65536 });
  return { server, dom0: new Wire(server, 0), other: new Wire(server, 0), g1: new Wire(server, 1) };
}

const start = (w: Wire): number => Number(w.ok('TRANSACTION_START', '|').replace(/\|$/, ''));

describe('transactions', () => {
  it('TRANSACTION_START returns a decimal id; changes stay private until END T', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/t/a|old');
    const r = dom0.q('TRANSACTION_START', '|');
    expect(r).toMatchObject({ type: 'TRANSACTION_START', tx_id: 0 });
    expect(r.body).toMatch(/^[1-9]\d*\|$/);
    const tx = Number(r.body.slice(0, -1));
    expect(dom0.q('WRITE', '/t/a|new', tx)).toMatchObject({ type: 'WRITE', tx_id: tx, body: 'OK|' });
    dom0.ok('WRITE', '/t/b/c|1', tx);
    expect(dom0.ok('READ', '/t/a|', tx)).toBe('new');
    expect(dom0.ok('DIRECTORY', '/t|', tx)).toBe('a|b|');
    expect(other.ok('READ', '/t/a|')).toBe('old');
    expect(other.ok('DIRECTORY', '/t|')).toBe('a|');
    expect(dom0.q('TRANSACTION_END', 'T|', tx)).toMatchObject({ type: 'TRANSACTION_END', tx_id: tx, body: 'OK|' });
    expect(other.ok('READ', '/t/a|')).toBe('new');
    expect(other.ok('READ', '/t/b/c|')).toBe('1');
    expect(dom0.err('READ', '/t/a|', tx)).toBe('ENOENT');
  });

  it('END F discards everything', () => {
    const { server, dom0 } = setup();
    dom0.ok('WRITE', '/k|v');
    const size = server.store.size;
    const tx = start(dom0);
    dom0.ok('WRITE', '/k|changed', tx);
    dom0.ok('WRITE', '/new/node|x', tx);
    dom0.ok('RM', '/k|', tx);
    expect(dom0.ok('TRANSACTION_END', 'F|', tx)).toBe('OK|');
    expect(dom0.ok('READ', '/k|')).toBe('v');
    expect(dom0.err('READ', '/new|')).toBe('ENOENT');
    expect(server.store.size).toBe(size);
  });

  it('RM, MKDIR and SET_PERMS inside a transaction', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/s/a/b|1');
    const tx = start(dom0);
    dom0.ok('RM', '/s/a|', tx);
    dom0.ok('MKDIR', '/s/m|', tx);
    dom0.ok('SET_PERMS', '/s/m|n0|r1|', tx);
    expect(dom0.err('READ', '/s/a/b|', tx)).toBe('ENOENT');
    expect(dom0.ok('DIRECTORY', '/s|', tx)).toBe('m|');
    expect(other.ok('DIRECTORY', '/s|')).toBe('a|');
    dom0.ok('TRANSACTION_END', 'T|', tx);
    expect(other.ok('DIRECTORY', '/s|')).toBe('m|');
    expect(other.ok('GET_PERMS', '/s/m|')).toBe('n0|r1|');
  });

  it('a change to a node the transaction read makes the commit fail with EAGAIN', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/c/a|1');
    const tx = start(dom0);
    expect(dom0.ok('READ', '/c/a|', tx)).toBe('1');
    dom0.ok('WRITE', '/c/b|2', tx);
    other.ok('WRITE', '/c/a|changed');
    expect(dom0.err('TRANSACTION_END', 'T|', tx)).toBe('EAGAIN');
    expect(other.err('READ', '/c/b|')).toBe('ENOENT');
    // The transaction is gone either way.
    expect(dom0.err('TRANSACTION_END', 'T|', tx)).toBe('ENOENT');
  });

  it('two transactions creating the same node: the second commit fails', () => {
    const { dom0, other } = setup();
    const t1 = start(dom0), t2 = start(other);
    dom0.ok('WRITE', '/same|1', t1);
    other.ok('WRITE', '/same|2', t2);
    expect(dom0.ok('TRANSACTION_END', 'T|', t1)).toBe('OK|');
    expect(other.err('TRANSACTION_END', 'T|', t2)).toBe('EAGAIN');
    expect(dom0.ok('READ', '/same|')).toBe('1');
  });

  it('a removal under a directory the transaction listed conflicts', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/dir/x|1');
    const tx = start(dom0);
    dom0.ok('DIRECTORY', '/dir|', tx);
    other.ok('RM', '/dir/x|');
    expect(dom0.err('TRANSACTION_END', 'T|', tx)).toBe('EAGAIN');
  });

  it('changes to nodes the transaction never looked at do not conflict', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/i/a|1');
    dom0.ok('WRITE', '/i/b|1');
    const tx = start(dom0);
    dom0.ok('WRITE', '/i/a|2', tx);
    other.ok('WRITE', '/i/b|2');
    other.ok('WRITE', '/elsewhere|2');
    expect(dom0.ok('TRANSACTION_END', 'T|', tx)).toBe('OK|');
    expect(other.ok('READ', '/i/a|')).toBe('2');
  });

  it('a committed transaction makes others that saw its nodes conflict', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/g|0');
    const t1 = start(dom0), t2 = start(other);
    other.ok('READ', '/g|', t2);
    dom0.ok('WRITE', '/g|1', t1);
    dom0.ok('TRANSACTION_END', 'T|', t1);
    other.ok('WRITE', '/h|1', t2);
    expect(other.err('TRANSACTION_END', 'T|', t2)).toBe('EAGAIN');
  });

  it('watch events fire only after a successful commit, in order', () => {
    const { dom0, other } = setup();
    other.ok('WATCH', '/w|t|');
    other.events();
    const tx = start(dom0);
    dom0.ok('WRITE', '/w/a|1', tx);
    dom0.ok('WRITE', '/w/b|1', tx);
    expect(other.events()).toEqual([]);
    dom0.ok('TRANSACTION_END', 'T|', tx);
    expect(other.events()).toEqual(['/w/a t', '/w/b t']);
  });

  it('no watch events for an aborted or failed transaction', () => {
    const { dom0, other } = setup();
    dom0.ok('WRITE', '/w/x|0');
    other.ok('WATCH', '/w/y|t|');
    other.events();
    const t1 = start(dom0);
    dom0.ok('WRITE', '/w/y|1', t1);
    dom0.ok('TRANSACTION_END', 'F|', t1);
    const t2 = start(dom0);
    dom0.ok('READ', '/w/x|', t2);
    dom0.ok('WRITE', '/w/y|2', t2);
    other.ok('WRITE', '/w/x|conflict');
    dom0.err('TRANSACTION_END', 'T|', t2);
    expect(other.events()).toEqual([]);
  });

  it('TRANSACTION_START inside a transaction is EBUSY; with an unknown id ENOENT', () => {
    const { dom0 } = setup();
    const tx = start(dom0);
    expect(dom0.err('TRANSACTION_START', '|', tx)).toBe('EBUSY');
    expect(dom0.err('TRANSACTION_START', '|', tx + 1000)).toBe('ENOENT');
  });

  it('TRANSACTION_END needs a transaction and T or F; a bad argument keeps the transaction', () => {
    const { dom0 } = setup();
    expect(dom0.err('TRANSACTION_END', 'T|')).toBe('ENOENT');
    const tx = start(dom0);
    expect(dom0.err('TRANSACTION_END', 'X|', tx)).toBe('EINVAL');
    expect(dom0.err('TRANSACTION_END', 'TT|', tx)).toBe('EINVAL');
    expect(dom0.err('TRANSACTION_END', '', tx)).toBe('EINVAL');
    expect(dom0.ok('TRANSACTION_END', 'T|', tx)).toBe('OK|');
  });

  it('ids are distinct and never 0, and belong to their connection', () => {
    const { dom0, other } = setup();
    const ids = [start(dom0), start(dom0), start(dom0)];
    expect(new Set(ids).size).toBe(3);
    expect(ids).not.toContain(0);
    expect(other.err('READ', '/|', ids[0])).toBe('ENOENT');
  });

  it('an error inside a transaction leaves it usable', () => {
    const { g1 } = setup();
    const tx = start(g1);
    expect(g1.err('WRITE', 'name|x', tx)).toBe('EACCES');
    g1.ok('WRITE', 'data/a|1', tx);
    expect(g1.ok('TRANSACTION_END', 'T|', tx)).toBe('OK|');
    expect(g1.ok('READ', 'data/a|')).toBe('1');
  });

  it('a guest may hold at most 10 transactions (ENOSPC); dom0 is not limited', () => {
    const { dom0, g1 } = setup();
    for (let i = 0; i < 10; i++) start(g1);
    expect(g1.err('TRANSACTION_START', '|')).toBe('ENOSPC');
    for (let i = 0; i < 50; i++) start(dom0);
  });

  it('a guest transaction may touch at most maxTransactionNodes nodes (ENOSPC)', () => {
    const { g1 } = setup({ maxTransactionNodes: 8 });
    const tx = start(g1);
    let code = '';
    for (let i = 0; i < 20 && code === ''; i++) {
      const r = g1.q('WRITE', `data/n${i}|x`, tx);
      if (r.type === 'ERROR') code = r.body;
    }
    expect(code).toBe('ENOSPC|');
    expect(g1.ok('TRANSACTION_END', 'T|', tx)).toBe('OK|');
  });

  it('the node quota is checked again at commit', () => {
    const { server, g1 } = setup({ maxNodesPerDomain: 20 });
    const base = server.store.count(1);
    const tx = start(g1);
    for (let i = base; i < 20; i++) g1.ok('WRITE', `data/t${i}|x`, tx);
    g1.ok('WRITE', 'attr/outside|x'); // a node the transaction never saw: no conflict
    expect(g1.err('TRANSACTION_END', 'T|', tx)).toBe('ENOSPC');
    expect(server.store.count(1)).toBe(base + 1);
  });

  it('the dom0 client retries on EAGAIN', () => {
    const { server, other } = setup();
    const xs = new XsClient(server);
    xs.write('/ctr', '0');
    const tx = xs.start();
    xs.write('/ctr', String(Number(xs.read('/ctr', tx)) + 1), tx);
    other.ok('WRITE', '/ctr|10');
    expect(xs.end(tx)).toBe(false);
    const tx2 = xs.start();
    xs.write('/ctr', String(Number(xs.read('/ctr', tx2)) + 1), tx2);
    expect(xs.end(tx2)).toBe(true);
    expect(xs.read('/ctr')).toBe('11');
  });
});
