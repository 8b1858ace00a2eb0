/**
 * The ring transport against a model of the guest's half of the xenstore
 * page: framing across the ring boundary and across polls, responses that
 * must wait for space, back-pressure, corrupt indices, oversized headers,
 * the error field and ring reconnection.
 */
import { describe, expect, it } from 'vitest';
import { HIGH_WATER, XenstoreRing, XenstoreServer, buildDom0Tree, buildDomainTree, XsClient } from '../../src/vmm/devices/xenstore/index.js';
import { XENSTORE_ERROR, XS } from '../../src/vmm/xen/abi/xs-wire.js';
import { GuestRing, PAGE, ringMemory } from './helpers.js';

function setup(start = 0, limits = {}) {
  const server = new XenstoreServer({ limits });
  buildDom0Tree(server);
  buildDomainTree(server, { domid: 1, name: 'guest-one', memoryKiB: 65536 });
  const mem = ringMemory(start);
  const ring = new XenstoreRing(mem, PAGE, server, 1);
  const guest = new GuestRing(mem);
  /** Pump, poll and drain until quiet. */
  const run = (): void => {
    for (let i = 0; i < 100; i++) {
      const moved = guest.pump() + (ring.poll() ? 1 : 0) + guest.drain();
      if (moved === 0) return;
    }
  };
  return { server, mem, ring, guest, run };
}

describe('xenstore ring transport', () => {
  it('advertises reconnection and the error indicator', () => {
    const { guest } = setup();
    expect(guest.u32('server_features')).toBe(1 | 2);
  });

  it('answers a request and asks for a notification; an idle poll does not', () => {
    const { ring, guest } = setup();
    expect(ring.poll()).toBe(false);
    guest.send(XS.READ, 'name|', 7);
    guest.pump();
    expect(ring.poll()).toBe(true);
    guest.drain();
    expect(guest.messages()).toEqual([{ type: 'READ', req_id: 7, tx_id: 0, body: 'guest-one' }]);
    expect(guest.u32('req_cons')).toBe(guest.u32('req_prod'));
    expect(ring.poll()).toBe(false);
  });

  it('serves several requests queued at once, in order', () => {
    const { guest, run } = setup();
    guest.send(XS.WRITE, 'data/a|1', 1);
    guest.send(XS.READ, 'data/a|', 2);
    guest.send(XS.READ, '/local/domain/0/name|', 3);
    guest.send(XS.DIRECTORY, 'data|', 4);
    run();
    expect(guest.messages()).toEqual([
      { type: 'WRITE', req_id: 1, tx_id: 0, body: 'OK|' },
      { type: 'READ', req_id: 2, tx_id: 0, body: '1' },
      { type: 'ERROR', req_id: 3, tx_id: 0, body: 'EACCES|' },
      { type: 'DIRECTORY', req_id: 4, tx_id: 0, body: 'a|' },
    ]);
  });

  for (const start of [1000, 1016 - 3, 0xfffffff8, 0xfffffc10]) {
    it(`messages wrap the ring boundary and the 32-bit index wrap (indices from ${start >>> 0})`, () => {
      const { guest, run } = setup(start);
      const value = 'v'.repeat(1500);
      for (let i = 0; i < 6; i++) {
        guest.send(XS.WRITE, `data/k${i}|${value}${i}`, i);
        guest.send(XS.READ, `data/k${i}|`, 100 + i);
      }
      run();
      const msgs = guest.messages();
      expect(msgs).toHaveLength(12);
      for (let i = 0; i < 6; i++) {
        expect(msgs[2 * i]).toEqual({ type: 'WRITE', req_id: i, tx_id: 0, body: 'OK|' });
        expect(msgs[2 * i + 1]).toEqual({ type: 'READ', req_id: 100 + i, tx_id: 0, body: `${value}${i}` });
      }
    });
  }

  it('a request split across many polls is served once complete', () => {
    const { ring, guest } = setup(1020);
    guest.send(XS.WRITE, 'data/split|abcdef', 9);
    let polls = 0;
    while (guest.unsent > 0) {
      guest.pump(1);
      ring.poll();
      polls++;
      guest.drain();
      if (guest.unsent > 0) expect(guest.messages()).toEqual([]);
    }
    expect(polls).toBe(16 + 'data/split\0abcdef'.length);
    expect(guest.messages()).toEqual([{ type: 'WRITE', req_id: 9, tx_id: 0, body: 'OK|' }]);
    expect(ring.partialBytes).toBe(0);
  });

  it('a zero-length request is answered', () => {
    const { ring, guest } = setup();
    guest.send(XS.READ, '', 3);
    guest.pump();
    ring.poll();
    guest.drain();
    expect(guest.messages()).toEqual([{ type: 'ERROR', req_id: 3, tx_id: 0, body: 'EINVAL|' }]);
  });

  it('responses that do not fit wait for the guest, which gets them in pieces', () => {
    const { ring, guest, server } = setup();
    new XsClient(server).write('/local/domain/1/data/big', 'B'.repeat(4000));
    guest.send(XS.READ, 'data/big|', 5);
    guest.pump();
    ring.poll();
    expect(guest.u32('rsp_prod') - guest.u32('rsp_cons')).toBe(1024);
    let rounds = 0;
    let got: ReturnType<GuestRing['messages']> = [];
    while (got.length === 0 && rounds++ < 50) {
      expect(guest.drain(300)).toBeGreaterThan(0);
      ring.poll();
      got = guest.messages();
    }
    expect(rounds).toBe(Math.ceil(4016 / 300));
    expect(got).toEqual([{ type: 'READ', req_id: 5, tx_id: 0, body: 'B'.repeat(4000) }]);
    // The stream stays in sync for the next request.
    guest.send(XS.READ, 'domid|', 6);
    guest.pump();
    ring.poll();
    guest.drain();
    expect(guest.messages()).toEqual([{ type: 'READ', req_id: 6, tx_id: 0, body: '1' }]);
  });

  it('stops reading requests while replies are backed up, and resumes when the guest reads', () => {
    const { ring, guest, server } = setup();
    new XsClient(server).write('/local/domain/1/data/big', 'B'.repeat(2000));
    for (let i = 0; i < 20; i++) guest.send(XS.READ, 'data/big|', i);
    guest.pump();
    ring.poll();
    ring.poll();
    const consumed = guest.u32('req_cons');
    expect(consumed).toBeLessThan(guest.u32('req_prod'));
    expect(ring.queuedBytes).toBeLessThanOrEqual(HIGH_WATER + 16 + 4096);
    let got = 0;
    for (let i = 0; i < 200 && got < 20; i++) {
      guest.pump();
      ring.poll();
      guest.drain();
      got += guest.messages().filter((m) => m.type === 'READ' && m.body.length === 2000).length;
    }
    expect(got).toBe(20);
  });

  it('delivers watch events queued by other connections', () => {
    const { ring, guest, server, run } = setup();
    guest.send(XS.WATCH, 'control/shutdown|sd|', 1);
    run();
    expect(guest.messages()).toEqual([
      { type: 'WATCH', req_id: 1, tx_id: 0, body: 'OK|' },
      { type: 'WATCH_EVENT', req_id: 0, tx_id: 0, body: 'control/shutdown|sd|' },
    ]);
    new XsClient(server).write('/local/domain/1/control/shutdown', 'poweroff');
    expect(ring.poll()).toBe(true);
    guest.drain();
    expect(guest.messages()).toEqual([{ type: 'WATCH_EVENT', req_id: 0, tx_id: 0, body: 'control/shutdown|sd|' }]);
  });

  it('corrupt request indices close the connection with XENSTORE_ERROR_RINGIDX', () => {
    const { ring, guest, server } = setup();
    guest.send(XS.WATCH, 'data|t|', 1);
    guest.pump();
    ring.poll();
    guest.set('req_prod', guest.u32('req_cons') + 1025);
    expect(ring.poll()).toBe(true);
    expect(ring.closed).toMatch(/request ring indices/);
    expect(guest.u32('error')).toBe(XENSTORE_ERROR.RINGIDX);
    expect(server.connections()).not.toContain(ring.connection);
    expect(ring.connection.watches).toEqual([]);
    // Nothing more is served.
    const cons = guest.u32('req_cons'), rsp = guest.u32('rsp_prod');
    expect(ring.poll()).toBe(false);
    expect([guest.u32('req_cons'), guest.u32('rsp_prod')]).toEqual([cons, rsp]);
  });

  it('corrupt response indices close the connection too', () => {
    const { ring, guest } = setup();
    guest.set('rsp_cons', guest.u32('rsp_prod') + 5);
    guest.send(XS.READ, 'name|', 1);
    guest.pump();
    ring.poll();
    expect(guest.u32('error')).toBe(XENSTORE_ERROR.RINGIDX);
    expect(ring.closed).toMatch(/response ring indices/);
  });

  it('a header with len > 4096 closes the connection with XENSTORE_ERROR_PROTO, reading no further', () => {
    const { ring, guest } = setup();
    const h = new Uint8Array(16);
    new DataView(h.buffer).setUint32(0, XS.READ, true);
    new DataView(h.buffer).setUint32(12, 4097, true);
    guest.queue(h);
    guest.queue(new Uint8Array(100).fill(0x41));
    guest.pump();
    expect(ring.poll()).toBe(true);
    expect(guest.u32('error')).toBe(XENSTORE_ERROR.PROTO);
    expect(guest.u32('req_cons')).toBe(16);
    expect(ring.closed).toMatch(/XENSTORE_PAYLOAD_MAX/);
  });

  it('a header with len = 4096 is fine (and the request answered)', () => {
    const { guest, run } = setup();
    const payload = new Uint8Array(4096).fill(0x61);
    payload.set([0x64, 0x61, 0x74, 0x61, 0x2f], 0); // "data/"
    payload[2000] = 0;
    guest.send(XS.WRITE, payload, 4);
    run();
    expect(guest.messages()).toEqual([{ type: 'ERROR', req_id: 4, tx_id: 0, body: 'ENOSPC|' }]);
  });

  it('a connection dropped by the server (unread events) is reported as XENSTORE_ERROR_COMM', () => {
    const { ring, guest, server, run } = setup(0, { maxPendingEventBytes: 1500 });
    guest.send(XS.WATCH, 'data|t|', 1);
    run();
    guest.messages();
    // The guest stops reading: replies and events pile up.
    const xs = new XsClient(server);
    for (let i = 0; i < 200 && ring.closed === null; i++) {
      xs.write(`/local/domain/1/data/n${i}`, 'x');
      ring.poll();
    }
    expect(ring.closed).toMatch(/watch events/);
    expect(guest.u32('error')).toBe(XENSTORE_ERROR.COMM);
  });

  it('reconnection resets the ring and forgets watches, transactions and partial messages', () => {
    const { ring, guest, server, run } = setup(500);
    guest.send(XS.WATCH, 'data|t|', 1);
    guest.send(XS.TRANSACTION_START, '|', 2);
    run();
    expect(guest.messages()).toHaveLength(3);
    const old = ring.connection;
    // Break the ring, then ask to reconnect.
    guest.set('req_prod', guest.u32('req_cons') + 4000);
    ring.poll();
    expect(guest.u32('error')).not.toBe(0);
    guest.set('connection', 1);
    expect(ring.poll()).toBe(true);
    expect(['req_cons', 'req_prod', 'rsp_cons', 'rsp_prod', 'error', 'connection'].map((f) => guest.u32(f as 'error'))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(ring.closed).toBeNull();
    expect(ring.connection).not.toBe(old);
    expect(server.connections()).not.toContain(old);
    expect(ring.connection.watches).toEqual([]);
    const fresh = new GuestRing(guest.mem);
    fresh.send(XS.READ, 'domid|', 3);
    fresh.send(XS.READ, 'data|', 4, 1);
    fresh.pump();
    ring.poll();
    fresh.drain();
    expect(fresh.messages()).toEqual([
      { type: 'READ', req_id: 3, tx_id: 0, body: '1' },
      { type: 'ERROR', req_id: 4, tx_id: 1, body: 'ENOENT|' },
    ]);
  });

  it('reconnection in the middle of a message drops the partial message', () => {
    const { ring, guest } = setup();
    guest.send(XS.READ, 'domid|', 1);
    guest.pump(10);
    ring.poll();
    expect(ring.partialBytes).toBe(10);
    guest.set('connection', 1);
    ring.poll();
    expect(ring.partialBytes).toBe(0);
  });

  it('never writes outside the page\'s rings and index words', () => {
    const { mem, guest, run } = setup(1000);
    const before = mem.u8.slice();
    guest.send(XS.WRITE, `data/x|${'z'.repeat(3000)}`, 1);
    guest.send(XS.READ, 'data/x|', 2);
    run();
    for (let i = 0; i < mem.size; i++) {
      const inPage = i >= PAGE && i < PAGE + 2080;
      if (!inPage && mem.u8[i] !== before[i]) throw new Error(`byte ${i.toString(16)} changed`);
    }
  });
});
