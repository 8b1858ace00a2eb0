/**
 * A synchronous xenstore client for the VMM's own dom0 code (the
 * toolstack, backends) and for tests: it speaks the real protocol to a
 * XenstoreServer through `handle`, without a ring. Requests are encoded
 * exactly as a guest would send them, replies decoded; an XS_ERROR reply
 * is thrown as an XsError carrying the errno name.
 *
 * String values are UTF-8; `readBytes`/`write(path, bytes)` carry bytes.
 */
import { XS, type XsHeader } from '../../xen/abi/xs-wire.js';
import { XsError, type XsErrorName } from './errors.js';
import { binaryToBytes, bytesToBinary, splitStrings } from './paths.js';
import { formatPerm, type Perms } from './perms.js';
import type { Connection, XenstoreServer } from './server.js';

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** "a\0b\0" for ["a", "b"]. */
function strings(...s: string[]): Uint8Array {
  return binaryToBytes(s.map((x) => `${x}\0`).join(''));
}

/** A watch event as a client sees it. */
export interface XsWatchEvent {
  readonly path: string;
  readonly token: string;
}

export class XsClient {
  readonly conn: Connection;
  private reqId = 0;

  constructor(private readonly server: XenstoreServer, domid = 0) {
    this.conn = server.connect(domid);
  }

  /** Send one request; the reply payload, or an XsError. */
  request(type: number, payload: Uint8Array, tx = 0): Uint8Array {
    const h: XsHeader = { type, req_id: ++this.reqId >>> 0, tx_id: tx, len: payload.length };
    const [r] = this.server.handle(this.conn, h, payload);
    if (r === undefined) throw new XsError('EIO', `connection closed: ${this.conn.closed ?? '?'}`);
    if (r.type === XS.ERROR) throw new XsError(bytesToBinary(r.payload).replace(/\0$/, '') as XsErrorName, `request type ${type}`);
    return r.payload;
  }

  readBytes(path: string, tx = 0): Uint8Array {
    return this.request(XS.READ, strings(path), tx);
  }

  read(path: string, tx = 0): string {
    return fromUtf8.decode(this.readBytes(path, tx));
  }

  /** The value, or undefined if the node does not exist. */
  tryRead(path: string, tx = 0): string | undefined {
    try {
      return this.read(path, tx);
    } catch (e) {
      if (e instanceof XsError && e.code === 'ENOENT') return undefined;
      throw e;
    }
  }

  write(path: string, value: string | Uint8Array, tx = 0): void {
    const v = typeof value === 'string' ? utf8.encode(value) : value;
    this.request(XS.WRITE, concat(strings(path), v), tx);
  }

  mkdir(path: string, tx = 0): void {
    this.request(XS.MKDIR, strings(path), tx);
  }

  rm(path: string, tx = 0): void {
    this.request(XS.RM, strings(path), tx);
  }

  directory(path: string, tx = 0): string[] {
    return splitStrings(this.request(XS.DIRECTORY, strings(path), tx));
  }

  /** Permissions as strings, e.g. ["n0", "r5"]. */
  getPerms(path: string, tx = 0): string[] {
    return splitStrings(this.request(XS.GET_PERMS, strings(path), tx));
  }

  setPerms(path: string, perms: Perms | readonly string[], tx = 0): void {
    const list = perms.map((p) => (typeof p === 'string' ? p : formatPerm(p)));
    this.request(XS.SET_PERMS, strings(path, ...list), tx);
  }

  watch(path: string, token: string): void {
    this.request(XS.WATCH, strings(path, token));
  }

  unwatch(path: string, token: string): void {
    this.request(XS.UNWATCH, strings(path, token));
  }

  resetWatches(): void {
    this.request(XS.RESET_WATCHES, strings(''));
  }

  /** TRANSACTION_START: the new transaction id. */
  start(): number {
    return Number(splitStrings(this.request(XS.TRANSACTION_START, strings('')))[0]);
  }

  /** TRANSACTION_END: true if committed (or aborted as asked), false on EAGAIN. */
  end(tx: number, commit = true): boolean {
    try {
      this.request(XS.TRANSACTION_END, strings(commit ? 'T' : 'F'), tx);
      return true;
    } catch (e) {
      if (e instanceof XsError && e.code === 'EAGAIN') return false;
      throw e;
    }
  }

  domainPath(domid: number): string {
    return splitStrings(this.request(XS.GET_DOMAIN_PATH, strings(String(domid))))[0] ?? '';
  }

  /** Take every queued watch event. */
  events(): XsWatchEvent[] {
    const out: XsWatchEvent[] = [];
    for (let m = this.server.takeEvent(this.conn); m !== undefined; m = this.server.takeEvent(this.conn)) {
      const [path = '', token = ''] = splitStrings(m.payload);
      out.push({ path, token });
    }
    return out;
  }

  close(): void {
    this.server.disconnect(this.conn, 'client closed');
  }
}
