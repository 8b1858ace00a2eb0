/**
 * Seeded wire fuzz. Thousands of random, malformed and hostile messages
 * go through the ring transport (random chunking, a guest that sometimes
 * stops reading, corrupt indices, oversized headers, reconnections) while
 * dom0 keeps changing watched nodes. The server must never throw, must
 * answer every complete request exactly once and in order with a
 * well-formed reply, and every queue, count and tree must stay within its
 * limit. A second fuzz drives `handle` directly from several domains with
 * transactions and checks the tree's structure after every request.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS, HIGH_WATER, XenstoreRing, XenstoreServer, XsClient, buildDom0Tree, buildDomainTree,
  type Connection, type Store,
} from '../../src/vmm/devices/xenstore/index.js';
import { XENSTORE_ERROR, XSD_ERRORS, XS, encodeXsMessage } from '../../src/vmm/xen/abi/xs-wire.js';
import { GuestRing, PAGE, ringMemory, rng, typeName, type Reply } from './helpers.js';

const REQUEST_TYPES = [
  XS.READ, XS.WRITE, XS.MKDIR, XS.RM, XS.DIRECTORY, XS.DIRECTORY_PART, XS.GET_PERMS, XS.SET_PERMS, XS.WATCH,
  XS.UNWATCH, XS.TRANSACTION_START, XS.TRANSACTION_END, XS.GET_DOMAIN_PATH, XS.RESET_WATCHES,
  XS.IS_DOMAIN_INTRODUCED, XS.INTRODUCE, XS.CONTROL,
];
const PATHS = [
  'data', 'data/a', 'data/a/b', 'data/b', 'data/a/b/c/d', 'name', 'domid', 'control/shutdown', 'control',
  'device/suspend/event-channel', 'console', 'attr/x', '/local/domain/1/data/z', '/local/domain/2/name',
  '/local/domain/2', '/', '/local', '/vm', '@releaseDomain', '@introduceDomain', '@x', '', '/', '//', 'a//b',
  'data/', 'data/sp ace', 'data/ünï', '/local/domain/1', 'memory/target',
];

function makeGen(r: () => number) {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const int = (n: number): number => Math.floor(r() * n);
  const seg = (): string => pick(['a', 'b', 'c', 'x1', 'long-name_', '@', 'q']);
  const path = (): string => {
    const k = r();
    if (k < 0.45) return pick(PATHS);
    if (k < 0.9) return `data/${Array.from({ length: 1 + int(6) }, seg).join('/')}`;
    if (k < 0.95) return `data/${'p'.repeat(int(2200))}`;
    return String.fromCharCode(...Array.from({ length: int(40) }, () => int(256)));
  };
  const bytes = (s: string): number[] => [...s].map((c) => c.charCodeAt(0) & 0xff);
  const strings = (...s: string[]): number[] => s.flatMap((x) => [...bytes(x), 0]);
  const perm = (): string => pick(['n', 'r', 'w', 'b', 'x', '']) + pick(['0', '1', '2', '65535', '70000', 'z', '']);
  return {
    pick, int,
    payload(type: number): Uint8Array {
      const k = r();
      if (k < 0.1) return Uint8Array.from({ length: int(r() < 0.9 ? 64 : 4097) }, () => int(256));
      let p: number[];
      switch (type) {
        case XS.WRITE: p = [...strings(path()), ...Array.from({ length: int(r() < 0.9 ? 40 : 2600) }, () => int(256))]; break;
        case XS.SET_PERMS: p = strings(path(), ...Array.from({ length: int(9) }, perm)); break;
        case XS.WATCH: case XS.UNWATCH: p = strings(path(), pick(['t', 'tok', '', 'x'.repeat(int(300))])); break;
        case XS.TRANSACTION_END: p = strings(pick(['T', 'F', 'TF', ''])); break;
        case XS.GET_DOMAIN_PATH: case XS.IS_DOMAIN_INTRODUCED: p = strings(pick(['0', '1', '2', '65535', '65536', '-1', 'x', ''])); break;
        case XS.DIRECTORY_PART: p = strings(path(), String(int(20))); break;
        default: p = strings(path());
      }
      // Sometimes drop the final NUL or add junk strings.
      if (r() < 0.1) p.pop();
      if (r() < 0.05) p.push(...strings('junk'));
      return Uint8Array.from(p.slice(0, 4096));
    },
    type(): number {
      const k = r();
      if (k < 0.8) return pick(REQUEST_TYPES);
      if (k < 0.9) return int(32);
      if (k < 0.95) return 0xffff;
      return int(0x1_0000_0000);
    },
  };
}

/** Structural invariants of the tree: parents list children, children exist, owner counts are right. */
function checkStore(store: Store): void {
  const owners = new Map<number, number>();
  for (const p of store.paths()) {
    const n = store.get(p)!;
    owners.set(n.perms[0].domid, (owners.get(n.perms[0].domid) ?? 0) + 1);
    for (const c of n.children) {
      if (store.get(p === '/' ? `/${c}` : `${p}/${c}`) === undefined) throw new Error(`${p} lists missing child ${c}`);
    }
    if (p === '/') continue;
    const i = p.lastIndexOf('/');
    const parent = store.get(i === 0 ? '/' : p.slice(0, i));
    if (parent === undefined || !parent.children.includes(p.slice(i + 1))) throw new Error(`${p} is not listed by its parent`);
    if (new Set(n.children).size !== n.children.length) throw new Error(`${p} lists a child twice`);
  }
  for (const [d, n] of owners) if (store.count(d) !== n) throw new Error(`count(${d}) = ${store.count(d)}, nodes = ${n}`);
}

function checkConn(conn: Connection): void {
  expect(conn.watches.length).toBeLessThanOrEqual(DEFAULT_LIMITS.maxWatches);
  expect(conn.transactions.size).toBeLessThanOrEqual(DEFAULT_LIMITS.maxTransactions);
  expect(conn.pendingBytes).toBeLessThanOrEqual(DEFAULT_LIMITS.maxPendingEventBytes);
}

const ERROR_BODIES = new Set(XSD_ERRORS.map((e) => `${e}|`));

describe('xenstore wire fuzz', () => {
  it('survives thousands of random and malformed messages through the ring', () => {
    const r = rng(0x5eed1);
    const gen = makeGen(r);
    const server = new XenstoreServer();
    buildDom0Tree(server);
    buildDomainTree(server, { domid: 1, name: 'fuzz', memoryKiB: 65536 });
    buildDomainTree(server, { domid: 2, name: 'other', memoryKiB: 65536 });
    const dom0 = new XsClient(server);
    dom0.watch('/local/domain/1', 'dom0');
    const mem = ringMemory(0xfffffe00);
    const ring = new XenstoreRing(mem, PAGE, server, 1);
    let guest = new GuestRing(mem);
    let reqId = 0;
    let expected: number[] = []; // req_ids awaiting replies, in order
    let txs: number[] = [];
    const stats = { requests: 0, replies: 0, errors: 0, events: 0, closes: 0, reconnects: 0, dom0Writes: 0 };

    const receive = (msgs: Reply[]): void => {
      for (const m of msgs) {
        if (m.type === 'WATCH_EVENT') {
          stats.events++;
          expect(m.req_id).toBe(0);
          expect(m.body.split('|')).toHaveLength(3);
          continue;
        }
        stats.replies++;
        expect(m.req_id).toBe(expected.shift());
        if (m.type === 'ERROR') {
          stats.errors++;
          expect(ERROR_BODIES.has(m.body), m.body).toBe(true);
        } else {
          expect(REQUEST_TYPES.map(typeName)).toContain(m.type);
          if (m.type === 'TRANSACTION_START') txs.push(Number(m.body.slice(0, -1)));
        }
      }
    };
    const step = (pumpMax: number, drainMax: number): void => {
      guest.pump(pumpMax);
      ring.poll();
      guest.drain(drainMax);
      receive(guest.messages());
      expect(ring.queuedBytes).toBeLessThanOrEqual(HIGH_WATER + 16 + 4096);
      expect(ring.partialBytes).toBeLessThanOrEqual(16 + 4096);
      expect(server.store.count(1)).toBeLessThanOrEqual(DEFAULT_LIMITS.maxNodesPerDomain);
      checkConn(ring.connection);
    };
    /** Run until nothing moves; then every complete request must have been answered. */
    const quiesce = (): void => {
      for (let i = 0; i < 200 && (guest.unsent > 0 || ring.queuedBytes > 0 || server.peekEventSize(ring.connection) > 0); i++) {
        step(Infinity, Infinity);
      }
      step(Infinity, Infinity);
      if (ring.closed === null) {
        expect(guest.unsent).toBe(0);
        expect(expected).toEqual([]);
      }
    };
    const reconnect = (): void => {
      expect(guest.u32('error')).not.toBe(0);
      guest.set('connection', 1);
      expect(ring.poll()).toBe(true);
      expect(guest.u32('connection')).toBe(0);
      expect(guest.u32('error')).toBe(0);
      expect(ring.closed).toBeNull();
      guest = new GuestRing(mem);
      expected = [];
      txs = [];
      stats.reconnects++;
    };

    for (let n = 0; n < 5000; n++) {
      const k = r();
      if (k < 0.04) {
        // dom0 changes something a guest may be watching, and gives the
        // guest back its data/ directory if it removed it.
        const p = gen.pick(['/local/domain/1/data/a', '/local/domain/1/control/shutdown', '/local/domain/1/data/a/b', '/local/domain/2/data/q']);
        dom0.write(p, String(n));
        dom0.mkdir('/local/domain/1/data');
        dom0.setPerms('/local/domain/1/data', ['n1']);
        stats.dom0Writes++;
        dom0.events();
      } else if (k < 0.05) {
        // Hostile ring manipulation: the connection must close, then reconnect.
        quiesce();
        if (ring.closed === null) {
          const how = gen.int(3);
          if (how === 0) guest.set('req_prod', (guest.u32('req_cons') + 1025 + gen.int(1 << 30)) >>> 0);
          else if (how === 1) {
            guest.set('rsp_cons', (guest.u32('rsp_prod') + 1 + gen.int(1 << 20)) >>> 0);
            guest.send(XS.READ, 'domid|', ++reqId);
          } else {
            const h = new Uint8Array(16);
            new DataView(h.buffer).setUint32(12, 4097 + gen.int(0x7fff_0000), true);
            guest.queue(h);
          }
          for (let i = 0; i < 5 && ring.closed === null; i++) step(Infinity, Infinity);
          expect(ring.closed).not.toBeNull();
          expect([XENSTORE_ERROR.RINGIDX, XENSTORE_ERROR.PROTO]).toContain(guest.u32('error'));
          stats.closes++;
        }
        reconnect();
      } else {
        const type = gen.type();
        const tx = r() < 0.7 ? 0 : r() < 0.85 && txs.length > 0 ? gen.pick(txs) : gen.int(0x1_0000_0000);
        const id = ++reqId;
        guest.queue(encodeXsMessage({ type, req_id: id, tx_id: tx }, gen.payload(type)));
        expected.push(id);
        stats.requests++;
      }
      // Random chunking; sometimes the guest stops reading for a while.
      const reading = r() < 0.7;
      step(1 + gen.int(r() < 0.5 ? 64 : 1100), reading ? gen.int(3000) : 0);
      if (ring.closed !== null) {
        // Only the event backlog can close a well-framed connection.
        expect(ring.closed).toMatch(/watch events/);
        stats.closes++;
        reconnect();
      }
      if (n % 500 === 499) {
        quiesce();
        checkStore(server.store);
      }
    }
    quiesce();
    checkStore(server.store);
    expect(server.store.size).toBeLessThan(5000);
    expect(stats.requests).toBeGreaterThan(4000);
    expect(stats.replies).toBeGreaterThan(3000);
    expect(stats.errors).toBeGreaterThan(500);
    expect(stats.events).toBeGreaterThan(10);
    expect(stats.reconnects).toBeGreaterThan(10);
  });

  it('keeps the tree consistent under random requests from several domains', () => {
    const r = rng(0xfeed);
    const gen = makeGen(r);
    const server = new XenstoreServer({ limits: { maxNodesPerDomain: 200 } });
    buildDom0Tree(server);
    for (const d of [1, 2]) buildDomainTree(server, { domid: d, name: `d${d}`, memoryKiB: 1024 });
    const conns = [server.connect(0), server.connect(1), server.connect(2), server.connect(1)];
    const txs = new Map<Connection, number[]>();
    for (let n = 0; n < 4000; n++) {
      const conn = gen.pick(conns.filter((c) => c.closed === null));
      const type = gen.type();
      const mine = txs.get(conn) ?? [];
      const tx = r() < 0.5 ? 0 : mine.length > 0 && r() < 0.9 ? gen.pick(mine) : gen.int(100);
      const payload = gen.payload(type);
      const replies = server.handle(conn, { type, req_id: n, tx_id: tx, len: payload.length }, payload);
      if (conn.closed !== null) {
        // Only an over-long payload or an event backlog may close it.
        expect(payload.length > 4096 || /watch events/.test(conn.closed)).toBe(true);
        conns[conns.indexOf(conn)] = server.connect(conn.domid);
        continue;
      }
      expect(replies).toHaveLength(1);
      const m = replies[0]!;
      expect(m.req_id).toBe(n);
      expect(m.payload.length).toBeLessThanOrEqual(4096);
      if (m.type === XS.TRANSACTION_START) txs.set(conn, [...mine, Number(Buffer.from(m.payload).toString('latin1').slice(0, -1))]);
      // Drain events now and then, as a transport would.
      if (r() < 0.5) while (server.takeEvent(conn) !== undefined);
      checkConn(conn);
      if (n % 50 === 0) checkStore(server.store);
      for (const d of [1, 2]) expect(server.store.count(d)).toBeLessThanOrEqual(200);
    }
    checkStore(server.store);
  });
});
