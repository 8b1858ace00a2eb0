/**
 * Every xenstore request type against the protocol engine, with the exact
 * reply bytes (docs/misc/xenstore.txt): payload formats, ids echoed,
 * error names, malformed requests, relative paths.
 */
import { describe, expect, it } from 'vitest';
import { XenstoreServer } from '../../src/vmm/devices/xenstore/index.js';
import { XS } from '../../src/vmm/xen/abi/xs-wire.js';
import { Wire, b } from './helpers.js';

function setup() {
  const server = new XenstoreServer();
  const setup0 = new Wire(server, 0);
  setup0.ok('WRITE', '/local/domain/1|');
  setup0.ok('SET_PERMS', '/local/domain/1|n1|');
  const dom0 = new Wire(server, 0);
  const guest = new Wire(server, 1);
  return { server, dom0, guest };
}

describe('database operations', () => {
  it('WRITE answers OK| and READ returns the raw value without a NUL', () => {
    const { dom0 } = setup();
    expect(dom0.q('WRITE', '/a/b|hello')).toEqual({ type: 'WRITE', req_id: 101, tx_id: 0, body: 'OK|' });
    expect(dom0.q('READ', '/a/b|')).toEqual({ type: 'READ', req_id: 102, tx_id: 0, body: 'hello' });
  });

  it('WRITE creates missing parents with empty values', () => {
    const { dom0 } = setup();
    dom0.ok('WRITE', '/x/y/z|v');
    expect(dom0.ok('READ', '/x|')).toBe('');
    expect(dom0.ok('READ', '/x/y|')).toBe('');
    expect(dom0.ok('DIRECTORY', '/x|')).toBe('y|');
  });

  it('values are binary: NULs and high bytes survive', () => {
    const { dom0 } = setup();
    const value = Uint8Array.of(0, 1, 0xff, 0x80, 0);
    const p = new Uint8Array([...b('/bin|'), ...value]);
    dom0.ok('WRITE', p);
    const r = dom0.server.handle(dom0.conn, { type: XS.READ, req_id: 1, tx_id: 0, len: 5 }, b('/bin|'));
    expect([...r[0]!.payload]).toEqual([...value]);
  });

  it('an empty value is allowed', () => {
    const { dom0 } = setup();
    dom0.ok('WRITE', '/e|');
    expect(dom0.ok('READ', '/e|')).toBe('');
  });

  it('READ of a missing node is ENOENT', () => {
    const { dom0 } = setup();
    expect(dom0.err('READ', '/nope|')).toBe('ENOENT');
  });

  it('MKDIR creates an empty node and leaves an existing one unchanged', () => {
    const { dom0 } = setup();
    expect(dom0.q('MKDIR', '/m/n|').body).toBe('OK|');
    expect(dom0.ok('READ', '/m/n|')).toBe('');
    dom0.ok('WRITE', '/m/n|keep');
    dom0.ok('MKDIR', '/m/n|');
    expect(dom0.ok('READ', '/m/n|')).toBe('keep');
  });

  it('RM removes the subtree; a missing node is fine if its parent exists', () => {
    const { server, dom0 } = setup();
    dom0.ok('WRITE', '/r/a/b/c|1');
    dom0.ok('WRITE', '/r/a/d|2');
    const before = server.store.size;
    expect(dom0.q('RM', '/r/a|').body).toBe('OK|');
    expect(server.store.size).toBe(before - 4);
    expect(dom0.err('READ', '/r/a/b/c|')).toBe('ENOENT');
    expect(dom0.ok('DIRECTORY', '/r|')).toBe('');
    expect(dom0.ok('RM', '/r/a|')).toBe('OK|');
    expect(dom0.err('RM', '/r/a/b|')).toBe('ENOENT');
    expect(dom0.err('RM', '/|')).toBe('EINVAL');
  });

  it('DIRECTORY lists children in creation order, each NUL-terminated', () => {
    const { dom0 } = setup();
    for (const n of ['c', 'a', 'b']) dom0.ok('WRITE', `/d/${n}|`);
    expect(dom0.ok('DIRECTORY', '/d|')).toBe('c|a|b|');
    expect(dom0.ok('DIRECTORY', '/d/a|')).toBe('');
    expect(dom0.err('DIRECTORY', '/d/zz|')).toBe('ENOENT');
  });

  it('DIRECTORY_PART returns the generation, a chunk of children, and an empty string at the end', () => {
    const { dom0 } = setup();
    for (const n of ['one', 'two']) dom0.ok('WRITE', `/dp/${n}|`);
    const whole = dom0.ok('DIRECTORY_PART', '/dp|0|');
    const [gen, ...rest] = whole.split('|');
    expect(gen).toMatch(/^\d+$/);
    expect(rest.join('|')).toBe('one|two||');
    expect(dom0.ok('DIRECTORY_PART', '/dp|4|')).toBe(`${gen}|two||`);
    expect(dom0.ok('DIRECTORY_PART', '/dp|8|')).toBe(`${gen}||`);
    expect(dom0.err('DIRECTORY_PART', '/dp|9|')).toBe('EINVAL');
    expect(dom0.err('DIRECTORY_PART', '/dp|x|')).toBe('EINVAL');
    expect(dom0.err('DIRECTORY_PART', '/dp|')).toBe('EINVAL');
  });

  it('DIRECTORY_PART pages through a list too long for DIRECTORY', () => {
    const { dom0 } = setup();
    const names = Array.from({ length: 300 }, (_, i) => `child-number-${String(i).padStart(4, '0')}`);
    for (const n of names) dom0.ok('WRITE', `/big/${n}|`);
    expect(dom0.err('DIRECTORY', '/big|')).toBe('E2BIG');
    const got: string[] = [];
    let offset = 0;
    for (let guard = 0; guard < 10; guard++) {
      const body = dom0.ok('DIRECTORY_PART', `/big|${offset}|`);
      expect(body.length).toBeLessThanOrEqual(4096);
      const parts = body.split('|').slice(1);
      const done = body.endsWith('||');
      const chunk = parts.slice(0, done ? -2 : -1);
      got.push(...chunk);
      offset += chunk.reduce((n, c) => n + c.length + 1, 0);
      if (done) break;
    }
    expect(got).toEqual(names);
  });

  it('GET_PERMS and SET_PERMS use the <letter><domid> strings', () => {
    const { dom0 } = setup();
    dom0.ok('WRITE', '/p|');
    expect(dom0.ok('GET_PERMS', '/p|')).toBe('n0|');
    expect(dom0.q('SET_PERMS', '/p|r5|b1|w2|n3|').body).toBe('OK|');
    expect(dom0.ok('GET_PERMS', '/p|')).toBe('r5|b1|w2|n3|');
    expect(dom0.err('SET_PERMS', '/p|x5|')).toBe('EINVAL');
    expect(dom0.err('SET_PERMS', '/p|r|')).toBe('EINVAL');
    expect(dom0.err('SET_PERMS', '/p|r65536|')).toBe('EINVAL');
    expect(dom0.err('SET_PERMS', '/p|')).toBe('EINVAL');
    expect(dom0.err('SET_PERMS', '/nope|n0|')).toBe('ENOENT');
    expect(dom0.ok('GET_PERMS', '@releaseDomain|')).toBe('n0|');
    expect(dom0.err('GET_PERMS', '@nothing|')).toBe('ENOENT');
  });

  it('GET_DOMAIN_PATH normalises the domid', () => {
    const { guest } = setup();
    expect(guest.q('GET_DOMAIN_PATH', '7|')).toEqual({ type: 'GET_DOMAIN_PATH', req_id: 101, tx_id: 0, body: '/local/domain/7|' });
    expect(guest.ok('GET_DOMAIN_PATH', '007|')).toBe('/local/domain/7|');
    expect(guest.err('GET_DOMAIN_PATH', 'x|')).toBe('EINVAL');
    expect(guest.err('GET_DOMAIN_PATH', '65536|')).toBe('EINVAL');
    expect(guest.err('GET_DOMAIN_PATH', '|')).toBe('EINVAL');
  });

  it('relative paths are below /local/domain/<domid>', () => {
    const { dom0, guest } = setup();
    guest.ok('WRITE', 'data/x|1');
    expect(dom0.ok('READ', '/local/domain/1/data/x|')).toBe('1');
    expect(guest.ok('READ', 'data/x|')).toBe('1');
    dom0.ok('WRITE', 'mine|0');
    expect(dom0.ok('READ', '/local/domain/0/mine|')).toBe('0');
  });
});

describe('replies and errors', () => {
  it('errors are XS_ERROR with the errno name and the request ids echoed', () => {
    const { dom0 } = setup();
    expect(dom0.q('READ', '/missing|', 0)).toEqual({ type: 'ERROR', req_id: 101, tx_id: 0, body: 'ENOENT|' });
    expect(dom0.q('READ', '/x|', 77)).toEqual({ type: 'ERROR', req_id: 102, tx_id: 77, body: 'ENOENT|' });
  });

  it('unknown and server-to-client types are ENOSYS', () => {
    const { dom0, guest } = setup();
    for (const t of [20, 27, 99, 0xffff, 0xffffffff, XS.WATCH_EVENT, XS.ERROR, XS.GET_FEATURE, XS.GET_QUOTA]) {
      expect(guest.err(t, 'x|')).toBe('ENOSYS');
      expect(dom0.err(t, 'x|')).toBe('ENOSYS');
    }
  });

  it('domain management is dom0-only (EACCES) and not offered over the wire (ENOSYS)', () => {
    const { dom0, guest } = setup();
    for (const t of ['CONTROL', 'INTRODUCE', 'RELEASE', 'RESUME', 'SET_TARGET', 'SET_QUOTA', 'SET_FEATURE'] as const) {
      expect(guest.err(t, '1|2|3|')).toBe('EACCES');
      expect(dom0.err(t, '1|2|3|')).toBe('ENOSYS');
    }
    expect(guest.err('IS_DOMAIN_INTRODUCED', '1|')).toBe('EACCES');
    expect(dom0.ok('IS_DOMAIN_INTRODUCED', '1|')).toBe('T|');
    expect(dom0.ok('IS_DOMAIN_INTRODUCED', '5|')).toBe('F|');
  });

  it('malformed arguments are EINVAL', () => {
    const { dom0 } = setup();
    expect(dom0.err('READ', '/a|/b|')).toBe('EINVAL');
    expect(dom0.err('READ', '')).toBe('EINVAL');
    expect(dom0.err('READ', '|')).toBe('EINVAL');
    expect(dom0.err('WRITE', '/novalue')).toBe('EINVAL');
    expect(dom0.err('WATCH', '/onlypath|')).toBe('EINVAL');
    expect(dom0.err('UNWATCH', '')).toBe('EINVAL');
    expect(dom0.err('TRANSACTION_END', 'X|', 0)).toBe('ENOENT');
  });

  it('invalid paths are EINVAL', () => {
    const { dom0 } = setup();
    for (const p of ['/a b', '/a//b', '/a/', '//', '/a\x01', '/ä', '/a.b', '/a:b']) {
      expect(dom0.err('WRITE', `${p}|v`), p).toBe('EINVAL');
      expect(dom0.err('READ', `${p}|`), p).toBe('EINVAL');
    }
    expect(dom0.ok('READ', '/|')).toBe('');
    expect(dom0.ok('WRITE', '/with-all_chars@0|ok')).toBe('OK|');
  });

  it('a missing final NUL is tolerated on single-argument requests', () => {
    const { dom0 } = setup();
    dom0.ok('WRITE', '/t|v');
    expect(dom0.ok('READ', '/t')).toBe('v');
  });

  it('a tx_id naming no transaction is ENOENT for database requests and ignored by others', () => {
    const { dom0 } = setup();
    dom0.ok('WRITE', '/t|v');
    for (const t of ['READ', 'DIRECTORY', 'GET_PERMS', 'MKDIR', 'RM'] as const) expect(dom0.err(t, '/t|', 42)).toBe('ENOENT');
    expect(dom0.err('WRITE', '/t|v', 42)).toBe('ENOENT');
    expect(dom0.err('SET_PERMS', '/t|n0|', 42)).toBe('ENOENT');
    expect(dom0.q('WATCH', '/t|tok|', 42)).toMatchObject({ type: 'WATCH', tx_id: 42, body: 'OK|' });
    expect(dom0.q('GET_DOMAIN_PATH', '3|', 42).body).toBe('/local/domain/3|');
  });
});
