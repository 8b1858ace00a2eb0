/**
 * Watches (xenstore.txt "Watches"): the initial event, events for the node
 * and its descendants, relative paths staying relative, RM semantics,
 * permission filtering, UNWATCH, RESET_WATCHES and the special
 * @introduceDomain/@releaseDomain watches.
 */
import { describe, expect, it } from 'vitest';
import {
  XenstoreServer, buildDom0Tree, buildDomainTree, removeDomainTree,
} from '../../src/vmm/devices/xenstore/index.js';
import { Wire } from './helpers.js';

function setup() {
  const server = new XenstoreServer();
  buildDom0Tree(server);
  buildDomainTree(server, { domid: 1, name: 'one', memoryKiB: 65536 });
  buildDomainTree(server, { domid: 2, name: 'two', memoryKiB: 65536 });
  return { server, dom0: new Wire(server, 0), g1: new Wire(server, 1), g2: new Wire(server, 2) };
}

describe('watches', () => {
  it('WATCH answers OK| and then fires once with the path as registered', () => {
    const { dom0 } = setup();
    expect(dom0.q('WATCH', '/w|tok|')).toMatchObject({ type: 'WATCH', body: 'OK|' });
    expect(dom0.events()).toEqual(['/w tok']);
    expect(dom0.events()).toEqual([]);
  });

  it('fires for the node and every descendant, not for siblings or parents', () => {
    const { dom0 } = setup();
    dom0.ok('WATCH', '/a/b|t|');
    dom0.events();
    dom0.ok('WRITE', '/a/b|1');
    dom0.ok('WRITE', '/a/b/c/d|2');
    dom0.ok('WRITE', '/a/bc|3');
    dom0.ok('WRITE', '/a|4');
    dom0.ok('WRITE', '/x|5');
    expect(dom0.events()).toEqual(['/a/b t', '/a/b/c/d t']);
  });

  it('a watch on a node that does not exist yet fires when it is created', () => {
    const { dom0 } = setup();
    dom0.ok('WATCH', '/later/node|t|');
    dom0.events();
    dom0.ok('WRITE', '/later/node/x|1');
    expect(dom0.events()).toEqual(['/later/node/x t']);
  });

  it('a watch on / sees every change', () => {
    const { dom0, g1 } = setup();
    dom0.ok('WATCH', '/|all|');
    dom0.events();
    g1.ok('WRITE', 'data/k|v');
    expect(dom0.events()).toEqual(['/local/domain/1/data/k all']);
  });

  it('relative watches get relative paths, absolute ones absolute paths', () => {
    const { g1, dom0 } = setup();
    g1.ok('WATCH', 'data|rel|');
    g1.ok('WATCH', '/local/domain/1/data|abs|');
    expect(g1.events()).toEqual(['data rel', '/local/domain/1/data abs']);
    dom0.ok('WRITE', '/local/domain/1/data/x|1');
    expect(g1.events()).toEqual(['data/x rel', '/local/domain/1/data/x abs']);
  });

  it('MKDIR fires only when it creates; SET_PERMS fires; a write fires even if the value is unchanged', () => {
    const { dom0 } = setup();
    dom0.ok('WATCH', '/m|t|');
    dom0.events();
    dom0.ok('MKDIR', '/m/d|');
    dom0.ok('MKDIR', '/m/d|');
    dom0.ok('SET_PERMS', '/m/d|n0|r1|');
    dom0.ok('WRITE', '/m/d|');
    expect(dom0.events()).toEqual(['/m/d t', '/m/d t', '/m/d t']);
  });

  it('RM fires the removed root for watches at or above it and each removed node for watches on exactly it', () => {
    const { dom0 } = setup();
    dom0.ok('WRITE', '/r/a/b/c|1');
    for (const [p, t] of [['/r', 'top'], ['/r/a', 'root'], ['/r/a/b', 'mid'], ['/r/a/b/c', 'leaf'], ['/r/a/zz', 'absent']]) {
      dom0.ok('WATCH', `${p}|${t}|`);
    }
    dom0.events();
    dom0.ok('RM', '/r/a|');
    expect(dom0.events().sort()).toEqual(['/r/a root', '/r/a top', '/r/a/b mid', '/r/a/b/c leaf'].sort());
    dom0.ok('RM', '/r/a|');
    expect(dom0.events()).toEqual([]);
  });

  it('guests only hear about nodes they may read', () => {
    const { dom0, g1, g2 } = setup();
    g1.ok('WATCH', '/local/domain|t|');
    g1.events();
    dom0.ok('WRITE', '/local/domain/2/data/secret|x');
    g2.ok('WRITE', 'data/mine|y');
    dom0.ok('WRITE', '/local/domain/1/data/ok|z');
    expect(g1.events()).toEqual(['/local/domain/1/data/ok t']);
  });

  it('an RM of a readable node is seen, and a permission change that makes a node readable is seen', () => {
    const { dom0, g1 } = setup();
    dom0.ok('WRITE', '/p|');
    g1.ok('WATCH', '/p|t|');
    g1.events();
    dom0.ok('SET_PERMS', '/p|n0|r1|');
    dom0.ok('SET_PERMS', '/p|n0|');
    dom0.ok('WRITE', '/p|hidden');
    dom0.ok('SET_PERMS', '/p|r0|');
    dom0.ok('RM', '/p|');
    expect(g1.events()).toEqual(['/p t', '/p t', '/p t', '/p t']);
  });

  it('watch events have req_id 0, tx_id 0 and payload <path>|<token>|', () => {
    const { dom0, server } = setup();
    dom0.ok('WATCH', '/e|tok|');
    const m = server.takeEvent(dom0.conn)!;
    expect([m.type, m.req_id, m.tx_id]).toEqual([15, 0, 0]);
    expect(Buffer.from(m.payload).toString('latin1')).toBe('/e\0tok\0');
  });

  it('tokens are arbitrary bytes and are echoed exactly', () => {
    const { dom0 } = setup();
    const token = '\x01\xff\x80 space';
    dom0.ok('WATCH', `/tk|${token}|`);
    expect(dom0.events()).toEqual([`/tk ${token}`]);
  });

  it('UNWATCH stops events and drops undelivered ones; an unknown watch is ENOENT', () => {
    const { dom0 } = setup();
    dom0.ok('WATCH', '/u|t|');
    dom0.ok('WRITE', '/u/x|1');
    expect(dom0.ok('UNWATCH', '/u|t|')).toBe('OK|');
    dom0.ok('WRITE', '/u/y|1');
    expect(dom0.events()).toEqual([]);
    expect(dom0.err('UNWATCH', '/u|t|')).toBe('ENOENT');
    expect(dom0.err('UNWATCH', '/u|other|')).toBe('ENOENT');
  });

  it('UNWATCH matches relative and absolute spellings of the same path', () => {
    const { g1 } = setup();
    g1.ok('WATCH', 'data|t|');
    expect(g1.ok('UNWATCH', '/local/domain/1/data|t|')).toBe('OK|');
  });

  it('the same path and token twice is EEXIST; another token is a second watch', () => {
    const { dom0 } = setup();
    dom0.ok('WATCH', '/d|t|');
    expect(dom0.err('WATCH', '/d|t|')).toBe('EEXIST');
    dom0.ok('WATCH', '/d|t2|');
    dom0.events();
    dom0.ok('WRITE', '/d|');
    expect(dom0.events()).toEqual(['/d t', '/d t2']);
  });

  it('invalid watch paths are EINVAL', () => {
    const { g1 } = setup();
    expect(g1.err('WATCH', '/a//b|t|')).toBe('EINVAL');
    expect(g1.err('WATCH', '|t|')).toBe('EINVAL');
    expect(g1.err('WATCH', `@${'x'.repeat(2048)}|t|`)).toBe('EINVAL');
  });

  it('RESET_WATCHES drops all watches, pending events and transactions', () => {
    const { dom0 } = setup();
    dom0.ok('WATCH', '/a|t|');
    dom0.ok('WATCH', '/b|t|');
    const tx = Number(dom0.ok('TRANSACTION_START', '|').replace('|', ''));
    expect(dom0.ok('RESET_WATCHES', '|')).toBe('OK|');
    dom0.ok('WRITE', '/a|1');
    expect(dom0.events()).toEqual([]);
    expect(dom0.conn.watches).toEqual([]);
    expect(dom0.err('READ', '/a|', tx)).toBe('ENOENT');
    dom0.ok('WATCH', '/a|t|');
    expect(dom0.events()).toEqual(['/a t']);
  });

  it('@introduceDomain and @releaseDomain fire for dom0 when domains come and go', () => {
    const { server, dom0, g1 } = setup();
    dom0.ok('WATCH', '@introduceDomain|intro|');
    dom0.ok('WATCH', '@releaseDomain|rel|');
    g1.ok('WATCH', '@releaseDomain|g|');
    expect(dom0.events()).toEqual(['@introduceDomain intro', '@releaseDomain rel']);
    expect(g1.events()).toEqual(['@releaseDomain g']);
    buildDomainTree(server, { domid: 3, name: 'three', memoryKiB: 1024 });
    removeDomainTree(server, 3);
    expect(dom0.events()).toEqual(['@introduceDomain intro', '@releaseDomain rel']);
    // Guests see special events only if the special node's permissions allow.
    expect(g1.events()).toEqual([]);
    dom0.ok('SET_PERMS', '@releaseDomain|n0|r1|');
    server.fireSpecial('@releaseDomain');
    expect(g1.events()).toEqual(['@releaseDomain g']);
  });

  it('node paths never match special watches and vice versa', () => {
    const { dom0, server } = setup();
    dom0.ok('WATCH', '/|root|');
    dom0.ok('WATCH', '@custom|c|');
    dom0.events();
    server.fireSpecial('@releaseDomain');
    dom0.ok('WRITE', '/n|');
    expect(dom0.events()).toEqual(['/n root']);
  });

  it('watchers on other connections, including the writer itself, all get the event', () => {
    const { dom0, g1 } = setup();
    const other = new Wire(dom0.server, 0);
    g1.ok('WATCH', 'data|mine|');
    other.ok('WATCH', '/local/domain/1/data|theirs|');
    g1.events();
    other.events();
    g1.ok('WRITE', 'data/z|1');
    expect(g1.events()).toEqual(['data/z mine']);
    expect(other.events()).toEqual(['/local/domain/1/data/z theirs']);
  });

  it('onEvent is called when an event is queued', () => {
    const { g1, dom0 } = setup();
    let calls = 0;
    g1.conn.onEvent = () => calls++;
    g1.ok('WATCH', 'data|t|');
    dom0.ok('WRITE', '/local/domain/1/data/q|1');
    expect(calls).toBe(2);
  });
});
