/**
 * The xenstore ring transport: serves one guest's xenstore page
 * (struct xenstore_domain_interface, io/xs_wire.h; reference §5.3 and
 * Xen's docs/misc/xenstore-ring.txt) with a XenstoreServer.
 *
 *   req[1024]  guest → server byte stream    req_cons (ours)  req_prod (guest's)
 *   rsp[1024]  server → guest byte stream    rsp_cons (guest's) rsp_prod (ours)
 *
 * Indices are free-running u32s; byte x of a stream lives at x & 1023,
 * so messages (16-byte xsd_sockmsg header + len payload bytes) may wrap
 * and arrive in pieces across any number of polls. The framing is a
 * small state machine: collect 16 header bytes, check len, collect len
 * payload bytes, dispatch.
 *
 * `poll()` does all the work the ring allows now and says whether the
 * guest should be notified (the caller sends the event on the store
 * event channel):
 *   1. copy queued output into rsp while there is space (a message may be
 *      written in pieces), then publish rsp_prod — after the bytes;
 *   2. move pending watch events of the connection into the output queue;
 *   3. consume requests and queue their replies, then publish req_cons —
 *      after reading the bytes.
 * Back-pressure: no new request is started while more than HIGH_WATER
 * bytes of output wait for ring space, so a guest that does not read its
 * replies stops being served instead of growing our memory; watch events
 * it does not take pile up in the server only up to its limit, past which
 * the server drops the connection.
 *
 * A broken ring closes the connection as xenstored does, recording the
 * reason in the page's `error` field (feature ERROR is advertised):
 *   - prod − cons > 1024 on either ring → XENSTORE_ERROR_RINGIDX;
 *   - a header with len > 4096 → XENSTORE_ERROR_PROTO;
 *   - the server dropped the connection → XENSTORE_ERROR_COMM.
 * Nothing is read or written outside the page's two arrays and index
 * words. The guest can recover with the reconnection feature (also
 * advertised): it sets `connection` to XENSTORE_RECONNECT; the next poll
 * forgets all state (watches, transactions, partial messages), zeroes the
 * four indices and `error`, sets `connection` back to XENSTORE_CONNECTED
 * and asks for a notification.
 */
import type { PhysMemory } from '../../memory/phys.js';
import {
  XENSTORE_CONNECTED, XENSTORE_DOMAIN_INTERFACE, XENSTORE_ERROR, XENSTORE_PAYLOAD_MAX, XENSTORE_RECONNECT,
  XENSTORE_RING_SIZE, XENSTORE_SERVER_FEATURE, XSD_SOCKMSG, decodeXsHeader, encodeXsMessage, type XsHeader,
} from '../../xen/abi/xs-wire.js';
import type { Connection, XenstoreServer } from './server.js';

const F = XENSTORE_DOMAIN_INTERFACE.fields;
const RING = XENSTORE_RING_SIZE;
const HDR = XSD_SOCKMSG.size;

/** Output bytes above which no new request is read. */
export const HIGH_WATER = XENSTORE_RING_SIZE;

export class XenstoreRing {
  private conn: Connection;
  private closedReason: string | null = null;
  // Input framing state.
  private readonly hdr = new Uint8Array(HDR);
  private hdrFill = 0;
  private header: XsHeader | null = null;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  // Output queue: whole encoded messages; the first may be partly sent.
  private readonly out: Uint8Array[] = [];
  private outSent = 0;
  private outBytes = 0;

  constructor(
    private readonly mem: PhysMemory,
    /** Guest-physical address of the xenstore page. */
    private readonly pagePa: number,
    private readonly server: XenstoreServer,
    /** The guest's domid (relative paths, permissions). */
    readonly domid: number,
  ) {
    this.conn = server.connect(domid);
    // Advertise before touching any data (xenstore-ring.txt); features are never withdrawn.
    const feat = this.mem.read32(pagePa + F.server_features) >>> 0;
    this.mem.write32(pagePa + F.server_features, feat | XENSTORE_SERVER_FEATURE.RECONNECTION | XENSTORE_SERVER_FEATURE.ERROR);
  }

  /** The server connection currently serving the ring (replaced on reconnection). */
  get connection(): Connection {
    return this.conn;
  }

  /** Why the ring stopped being served; null while it is. */
  get closed(): string | null {
    return this.closedReason;
  }

  /** Bytes of replies and events waiting for ring space. */
  get queuedBytes(): number {
    return this.outBytes - this.outSent;
  }

  /** Bytes of a partly received request. */
  get partialBytes(): number {
    return this.hdrFill + this.bodyFill;
  }

  /** Serve the ring as far as it goes now. True: notify the guest. */
  poll(): boolean {
    const base = this.pagePa;
    if ((this.mem.read32(base + F.connection) >>> 0) === XENSTORE_RECONNECT) {
      this.reconnect();
      return true;
    }
    if (this.closedReason !== null) return false;
    let notify = false;
    for (;;) {
      if (this.conn.closed !== null) return this.fail(XENSTORE_ERROR.COMM, this.conn.closed) || notify;
      let progress = false;
      const sent = this.flush();
      if (sent < 0) return this.fail(XENSTORE_ERROR.RINGIDX, 'response ring indices are corrupt') || notify;
      if (sent > 0) progress = notify = true;
      while (this.queuedBytes < HIGH_WATER && this.server.peekEventSize(this.conn) > 0) {
        this.push(this.server.takeEvent(this.conn)!);
        progress = true;
      }
      const got = this.consume();
      if (got === 'ringidx') return this.fail(XENSTORE_ERROR.RINGIDX, 'request ring indices are corrupt') || notify;
      if (got === 'proto') return this.fail(XENSTORE_ERROR.PROTO, 'request longer than XENSTORE_PAYLOAD_MAX') || notify;
      if (got > 0) progress = notify = true;
      if (!progress) return notify;
    }
  }

  private push(m: { type: number; req_id: number; tx_id: number; payload: Uint8Array }): void {
    const bytes = encodeXsMessage(m, m.payload);
    this.out.push(bytes);
    this.outBytes += bytes.length;
  }

  /** Copy output into rsp; bytes written, or -1 if the indices are corrupt. */
  private flush(): number {
    if (this.out.length === 0) return 0;
    const base = this.pagePa;
    const cons = this.mem.read32(base + F.rsp_cons) >>> 0;
    const prod = this.mem.read32(base + F.rsp_prod) >>> 0;
    const used = (prod - cons) >>> 0;
    if (used > RING) return -1;
    let space = RING - used;
    let p = prod;
    while (space > 0 && this.out.length > 0) {
      const msg = this.out[0]!;
      const off = p & (RING - 1);
      const n = Math.min(space, msg.length - this.outSent, RING - off);
      this.mem.writeBytes(base + F.rsp + off, msg.subarray(this.outSent, this.outSent + n));
      this.outSent += n;
      p = (p + n) >>> 0;
      space -= n;
      if (this.outSent === msg.length) {
        this.out.shift();
        this.outBytes -= msg.length;
        this.outSent = 0;
      }
    }
    // Publish the producer index only after the data.
    this.mem.write32(base + F.rsp_prod, p | 0);
    return (p - prod) >>> 0;
  }

  /** Consume request bytes; bytes consumed, or why the ring is broken. */
  private consume(): number | 'ringidx' | 'proto' {
    const base = this.pagePa;
    const prod = this.mem.read32(base + F.req_prod) >>> 0;
    let cons = this.mem.read32(base + F.req_cons) >>> 0;
    const avail = (prod - cons) >>> 0;
    if (avail > RING) return 'ringidx';
    const start = cons;
    let left = avail;
    let result: number | 'proto' = 0;
    while (left > 0) {
      // Back-pressure: start no new message while output is backed up.
      if (this.hdrFill === 0 && this.queuedBytes >= HIGH_WATER) break;
      const off = cons & (RING - 1);
      const contiguous = Math.min(left, RING - off);
      let n: number;
      if (this.header === null) {
        n = Math.min(contiguous, HDR - this.hdrFill);
        this.hdr.set(this.mem.readBytes(base + F.req + off, n), this.hdrFill);
        this.hdrFill += n;
      } else {
        n = Math.min(contiguous, this.body!.length - this.bodyFill);
        this.body!.set(this.mem.readBytes(base + F.req + off, n), this.bodyFill);
        this.bodyFill += n;
      }
      cons = (cons + n) >>> 0;
      left -= n;
      if (this.header === null && this.hdrFill === HDR) {
        const h = decodeXsHeader(this.hdr);
        if (h.len > XENSTORE_PAYLOAD_MAX) {
          result = 'proto';
          break;
        }
        this.header = h;
        this.body = new Uint8Array(h.len);
        this.bodyFill = 0;
      }
      if (this.header !== null && this.bodyFill === this.body!.length) this.dispatch();
      if (this.conn.closed !== null) break;
    }
    // Publish the consumer index only after the bytes were read.
    if (cons !== start) this.mem.write32(base + F.req_cons, cons | 0);
    return result === 'proto' ? result : (cons - start) >>> 0;
  }

  private dispatch(): void {
    const h = this.header!, body = this.body!;
    this.header = null;
    this.body = null;
    this.hdrFill = this.bodyFill = 0;
    for (const r of this.server.handle(this.conn, h, body)) this.push(r);
  }

  /** Stop serving: record `code` in the page, drop all state. Returns true (notify). */
  private fail(code: number, reason: string): boolean {
    this.closedReason = reason;
    this.mem.write32(this.pagePa + F.error, code);
    this.server.disconnect(this.conn, reason);
    this.resetBuffers();
    return true;
  }

  /** The guest asked for a fresh connection (xenstore-ring.txt, "ring reconnection"). */
  private reconnect(): void {
    const base = this.pagePa;
    this.server.disconnect(this.conn, 'guest reconnected');
    this.conn = this.server.connect(this.domid);
    this.resetBuffers();
    this.closedReason = null;
    for (const f of [F.req_cons, F.req_prod, F.rsp_cons, F.rsp_prod, F.error]) this.mem.write32(base + f, 0);
    // Connected again only once everything else is reset.
    this.mem.write32(base + F.connection, XENSTORE_CONNECTED);
  }

  private resetBuffers(): void {
    this.hdrFill = this.bodyFill = 0;
    this.header = null;
    this.body = null;
    this.out.length = 0;
    this.outSent = this.outBytes = 0;
  }
}
