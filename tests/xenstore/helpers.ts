/**
 * Test helpers for the xenstore server: a raw wire client that sends
 * exact payloads through `handle` and shows replies as strings, and a
 * guest-side model of the xenstore ring (the guest's half of
 * xenstore_domain_interface) for the transport tests.
 */
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import {
  XENSTORE_DOMAIN_INTERFACE, XENSTORE_RING_SIZE, XS, decodeXsHeader, encodeXsMessage,
} from '../../src/vmm/xen/abi/xs-wire.js';
import { XenstoreServer, type Connection, type XsMessage } from '../../src/vmm/devices/xenstore/index.js';

export const F = XENSTORE_DOMAIN_INTERFACE.fields;

/** Bytes of a string written with '|' for NUL (as xenstore.txt does). */
export function b(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s[i] === '|' ? 0 : s.charCodeAt(i) & 0xff;
  return out;
}

/** A payload shown with '|' for NUL. */
export function show(p: Uint8Array): string {
  let s = '';
  for (const x of p) s += x === 0 ? '|' : String.fromCharCode(x);
  return s;
}

/** The name of a message type. */
export function typeName(t: number): string {
  for (const [k, v] of Object.entries(XS)) if (v === t && k !== 'DEBUG') return k;
  return String(t);
}

export interface Reply {
  type: string;
  req_id: number;
  tx_id: number;
  body: string;
}

export function toReply(m: XsMessage): Reply {
  return { type: typeName(m.type), req_id: m.req_id, tx_id: m.tx_id, body: show(m.payload) };
}

/** A connection driven with raw requests: `q('READ', 'name|')`. */
export class Wire {
  readonly conn: Connection;
  private reqId = 100;
  constructor(readonly server: XenstoreServer, domid: number) {
    this.conn = server.connect(domid);
  }
  /** Send one request; '|' in `payload` is NUL. */
  q(type: keyof typeof XS | number, payload: string | Uint8Array = '', tx = 0): Reply {
    const t = typeof type === 'number' ? type : XS[type];
    const p = typeof payload === 'string' ? b(payload) : payload;
    const req_id = ++this.reqId;
    const replies = this.server.handle(this.conn, { type: t, req_id, tx_id: tx, len: p.length }, p);
    if (replies.length !== 1) throw new Error(`expected one reply, got ${replies.length} (closed: ${this.conn.closed})`);
    const r = toReply(replies[0]!);
    if (r.req_id !== req_id || r.tx_id !== tx >>> 0) throw new Error(`ids not echoed: ${JSON.stringify(r)}`);
    return r;
  }
  /** The reply body of a request that must succeed. */
  ok(type: keyof typeof XS, payload: string | Uint8Array = '', tx = 0): string {
    const r = this.q(type, payload, tx);
    if (r.type === 'ERROR') throw new Error(`${type} ${typeof payload === 'string' ? payload : '<bytes>'}: ${r.body}`);
    return r.body;
  }
  /** The error name of a request that must fail. */
  err(type: keyof typeof XS | number, payload: string | Uint8Array = '', tx = 0): string {
    const r = this.q(type, payload, tx);
    if (r.type !== 'ERROR') throw new Error(`expected an error, got ${r.type} ${r.body}`);
    return r.body.replace(/\|$/, '');
  }
  /** Queued watch events as "path token". */
  events(): string[] {
    const out: string[] = [];
    for (let m = this.server.takeEvent(this.conn); m; m = this.server.takeEvent(this.conn)) {
      if (m.type !== XS.WATCH_EVENT || m.req_id !== 0 || m.tx_id !== 0) throw new Error('bad event header');
      const [path, token, rest] = show(m.payload).split('|');
      if (rest !== '') throw new Error(`bad event payload ${show(m.payload)}`);
      out.push(`${path} ${token}`);
    }
    return out;
  }
}

/** Page address of the xenstore page in ring tests. */
export const PAGE = 0x1000;

/** The guest's side of a xenstore ring. */
export class GuestRing {
  private outbox: Uint8Array = new Uint8Array(0);
  private inbox: number[] = [];
  constructor(readonly mem: PhysMemory, readonly pa = PAGE) {}

  u32(field: keyof typeof F): number {
    return this.mem.read32(this.pa + F[field]) >>> 0;
  }
  set(field: keyof typeof F, v: number): void {
    this.mem.write32(this.pa + F[field], v | 0);
  }

  /** Queue bytes to send (written to req as space allows by `pump`). */
  queue(bytes: Uint8Array): void {
    const n = new Uint8Array(this.outbox.length + bytes.length);
    n.set(this.outbox);
    n.set(bytes, this.outbox.length);
    this.outbox = n;
  }
  /** Queue a message. */
  send(type: number, payload: string | Uint8Array, req_id = 1, tx_id = 0): void {
    this.queue(encodeXsMessage({ type, req_id, tx_id }, typeof payload === 'string' ? b(payload) : payload));
  }
  /** Bytes not yet written to the ring. */
  get unsent(): number {
    return this.outbox.length;
  }
  /** Write up to `max` queued bytes into req; returns bytes written. */
  pump(max = Infinity): number {
    const prod = this.u32('req_prod'), cons = this.u32('req_cons');
    const used = (prod - cons) >>> 0;
    if (used > XENSTORE_RING_SIZE) return 0;
    const space = XENSTORE_RING_SIZE - used;
    const n = Math.min(space, this.outbox.length, max);
    for (let i = 0; i < n; i++) this.mem.write8(this.pa + F.req + ((prod + i) & 1023), this.outbox[i]!);
    this.set('req_prod', (prod + n) >>> 0);
    this.outbox = this.outbox.slice(n);
    return n;
  }
  /** Take everything in rsp; returns bytes read. */
  drain(max = Infinity): number {
    const prod = this.u32('rsp_prod'), cons = this.u32('rsp_cons');
    const avail = (prod - cons) >>> 0;
    if (avail > XENSTORE_RING_SIZE) return 0; // corrupt (the tests do that on purpose): read nothing
    const n = Math.min(avail, max);
    for (let i = 0; i < n; i++) this.inbox.push(this.mem.read8(this.pa + F.rsp + ((cons + i) & 1023)));
    this.set('rsp_cons', (cons + n) >>> 0);
    return n;
  }
  /** Complete messages received so far. */
  messages(): Reply[] {
    const out: Reply[] = [];
    for (;;) {
      if (this.inbox.length < 16) return out;
      const h = decodeXsHeader(Uint8Array.from(this.inbox.slice(0, 16)));
      if (h.len > 4096) throw new Error(`server sent len ${h.len}`);
      if (this.inbox.length < 16 + h.len) return out;
      const payload = Uint8Array.from(this.inbox.slice(16, 16 + h.len));
      this.inbox.splice(0, 16 + h.len);
      out.push({ type: typeName(h.type), req_id: h.req_id, tx_id: h.tx_id, body: show(payload) });
    }
  }
  /** Bytes received but not yet parsed into a message. */
  get partial(): number {
    return this.inbox.length;
  }
}

/** Memory with one xenstore page at PAGE, indices starting at `start`. */
export function ringMemory(start = 0): PhysMemory {
  const mem = new PhysMemory(4 * 4096);
  for (const f of ['req_cons', 'req_prod', 'rsp_cons', 'rsp_prod'] as const) mem.write32(PAGE + F[f], start | 0);
  return mem;
}

/** A seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
