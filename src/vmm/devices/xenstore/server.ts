/**
 * The xenstore protocol engine: one XS_* request in, one reply out, plus
 * watch events queued per connection (docs/misc/xenstore.txt; message
 * types and layouts from io/xs_wire.h, src/vmm/xen/abi/xs-wire.ts).
 *
 * It knows nothing of rings or memory: a transport (ring.ts for a guest's
 * xenstore page, client.ts for the VMM's own dom0 code) frames messages,
 * calls `handle(conn, header, payload)` and sends back what it returns,
 * then drains `takeEvent(conn)` for WATCH_EVENTs. Replies echo `req_id`
 * and `tx_id`; a failure is an XS_ERROR reply whose payload is the errno
 * name ("ENOENT\0"). Handlers are a table keyed by message type; unknown
 * and unsupported types answer ENOSYS, and the domain-management requests
 * a guest may not make (INTRODUCE, RELEASE, RESUME, SET_TARGET, CONTROL,
 * SET_QUOTA, SET_FEATURE, IS_DOMAIN_INTRODUCED) answer EACCES, as
 * xenstored does.
 *
 * Watches (xenstore.txt "Watches"): a new watch fires once at once with
 * its own path; afterwards a change to the watched node or any node below
 * it fires it with the changed path. RM of a subtree fires the removed
 * root for watches at or above it, and each removed node for a watch on
 * exactly that node. A watch registered with a relative path gets
 * relative event paths. Guests only hear about nodes they may read.
 * `@introduceDomain` and `@releaseDomain` are special watch paths fired
 * by `fireSpecial` (any other "@..." path is accepted and never fires).
 * Events are held back inside transactions until the commit.
 */
import { XS, XSD_SOCKMSG, type XsHeader } from '../../xen/abi/xs-wire.js';
import { XsError } from './errors.js';
import { DEFAULT_LIMITS, type XsLimits } from './limits.js';
import {
  binaryToBytes, bytesToBinary, canonicalize, homePath, isWithin, oneArg, parseDomid, splitStrings,
} from './paths.js';
import {
  PERM_OWNER, PERM_READ, PERM_WRITE, accessFor, formatPerm, ownerOf, parsePerms, type Caller, type Perms,
} from './perms.js';
import {
  Store, getPerms, listChildren, makeNode, readNode, removeNode, setNodePerms, writeNode,
  type ChangeEvent, type NodeView,
} from './tree.js';
import { Transaction } from './transactions.js';

/** A message either way: header fields (without len) and payload. */
export interface XsMessage {
  readonly type: number;
  readonly req_id: number;
  readonly tx_id: number;
  readonly payload: Uint8Array;
}

/** A registered watch. */
export interface Watch {
  /** Canonical absolute path, or a special "@name". */
  readonly path: string;
  /** The client's token, byte-exact (one char per byte). */
  readonly token: string;
  /** Registered as a relative path: events are reported relative to the home path. */
  readonly relative: boolean;
}

/** The special watch paths xenstored invents events for. */
export type SpecialPath = '@introduceDomain' | '@releaseDomain';

/** One client of the server: a guest's ring, or the VMM's own dom0 code. */
export class Connection implements Caller {
  readonly watches: Watch[] = [];
  readonly transactions = new Map<number, Transaction>();
  /** Next transaction id to try (never 0). */
  nextTxId = 1;
  /** Undelivered watch events, oldest first. */
  readonly pending: { readonly msg: XsMessage; readonly watch: Watch }[] = [];
  /** Wire bytes (header + payload) of `pending`. */
  pendingBytes = 0;
  /** Why the connection was closed; null while open. */
  closed: string | null = null;
  /** Called after a watch event is queued (lets a transport schedule a poll). */
  onEvent: (() => void) | null = null;

  constructor(
    /** Unique per server. */
    readonly id: number,
    readonly domid: number,
    /** dom0: bypasses permissions and quotas. */
    readonly privileged: boolean,
  ) {}

  /** /local/domain/<domid>: the base of relative paths. */
  get home(): string {
    return homePath(this.domid);
  }
}

/** A handler: validates, acts on `view`, reports changes in `ev`, returns the reply payload. */
type Handler = (conn: Connection, view: NodeView, h: XsHeader, payload: Uint8Array, ev: ChangeEvent[]) => Uint8Array;

interface Op {
  /** Uses the header's tx_id (DB operations); other types ignore it. */
  readonly tx: boolean;
  readonly run: Handler;
}

const NUL = 0;
const OK = Uint8Array.of(0x4f, 0x4b, NUL);

/** "a\0" — a string and its NUL, as bytes. */
function str0(s: string): Uint8Array {
  return binaryToBytes(`${s}\0`);
}

export interface ServerOptions {
  limits?: Partial<XsLimits>;
}

/** What `onTrace` hears: one request with its reply (null: the connection was closed), or one watch event taken for delivery. */
export type XsTraceRecord =
  | { kind: 'request'; domid: number; type: number; txId: number; payload: Uint8Array; reply: XsMessage | null }
  | { kind: 'event'; domid: number; payload: Uint8Array };

export class XenstoreServer {
  readonly store = new Store();
  readonly limits: XsLimits;
  /** Watch events dropped because they would not fit in one message (hostile tokens). */
  droppedEvents = 0;
  private readonly conns = new Set<Connection>();
  private nextConnId = 1;
  /** Permissions of the special watch paths (GET_PERMS/SET_PERMS work on them). */
  private readonly specials = new Map<string, Perms>([
    ['@introduceDomain', [{ domid: 0, access: 'n' }]],
    ['@releaseDomain', [{ domid: 0, access: 'n' }]],
  ]);
  private readonly ops: ReadonlyMap<number, Op>;
  /** Every request and its reply, and every watch event delivered (`xenkit run --trace xenstore`); null: off. */
  onTrace: ((r: XsTraceRecord) => void) | null = null;

  constructor(opts: ServerOptions = {}) {
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...opts.limits });
    this.ops = this.table();
  }

  /** A new connection for `domid` (privileged by default only for dom0). */
  connect(domid: number, opts: { privileged?: boolean } = {}): Connection {
    if (!Number.isInteger(domid) || domid < 0 || domid > 0xffff) throw new RangeError(`bad domid ${domid}`);
    const conn = new Connection(this.nextConnId++, domid, opts.privileged ?? domid === 0);
    this.conns.add(conn);
    return conn;
  }

  /** Close `conn`: its watches, transactions and queued events are dropped. */
  disconnect(conn: Connection, reason = 'disconnected'): void {
    if (conn.closed === null) conn.closed = reason;
    conn.watches.length = 0;
    conn.transactions.clear();
    conn.pending.length = 0;
    conn.pendingBytes = 0;
    this.conns.delete(conn);
  }

  /** Open connections. */
  connections(): readonly Connection[] {
    return [...this.conns];
  }

  /** Is some open connection serving `domid` (IS_DOMAIN_INTRODUCED)? */
  isIntroduced(domid: number): boolean {
    for (const c of this.conns) if (c.domid === domid) return true;
    return false;
  }

  /** Fire a special watch (the toolstack calls this when a domain appears or goes away). */
  fireSpecial(path: SpecialPath): void {
    const p = this.specials.get(path)!;
    this.fire([{ path, perms: [p], exact: true }]);
  }

  /**
   * Serve one request. Returns the reply (one message), or nothing if
   * the connection is closed — including when this request closed it (a
   * payload over the limit, which xenstored answers by killing the
   * connection). Throws only on VMM bugs.
   */
  handle(conn: Connection, h: XsHeader, payload: Uint8Array): XsMessage[] {
    const out = this.serve(conn, h, payload);
    this.onTrace?.({ kind: 'request', domid: conn.domid, type: h.type, txId: h.tx_id >>> 0, payload, reply: out[0] ?? null });
    return out;
  }

  private serve(conn: Connection, h: XsHeader, payload: Uint8Array): XsMessage[] {
    if (conn.closed !== null) return [];
    if (payload.length > this.limits.maxPayload) {
      this.disconnect(conn, `request payload of ${payload.length} bytes exceeds ${this.limits.maxPayload}`);
      return [];
    }
    const reply = (type: number, p: Uint8Array): XsMessage => ({ type, req_id: h.req_id >>> 0, tx_id: h.tx_id >>> 0, payload: p });
    try {
      const op = this.ops.get(h.type);
      if (op === undefined) throw new XsError('ENOSYS', `unsupported message type ${h.type}`);
      let view: NodeView = this.store;
      let tx: Transaction | undefined;
      if (op.tx && h.tx_id !== 0) {
        tx = conn.transactions.get(h.tx_id >>> 0);
        if (tx === undefined) throw new XsError('ENOENT', `no transaction ${h.tx_id >>> 0}`);
        view = tx;
      }
      const ev: ChangeEvent[] = [];
      const out = op.run(conn, view, h, payload, ev);
      if (tx !== undefined) tx.events.push(...ev);
      else this.fire(ev);
      if (out.length > this.limits.maxPayload) throw new XsError('E2BIG', `reply of ${out.length} bytes`);
      return [reply(h.type, out)];
    } catch (e) {
      if (!(e instanceof XsError)) throw e;
      return [reply(XS.ERROR, str0(e.code))];
    }
  }

  /** The oldest undelivered watch event of `conn`, removed from its queue. */
  takeEvent(conn: Connection): XsMessage | undefined {
    const e = conn.pending.shift();
    if (e === undefined) return undefined;
    this.onTrace?.({ kind: 'event', domid: conn.domid, payload: e.msg.payload });
    conn.pendingBytes -= XSD_SOCKMSG.size + e.msg.payload.length;
    return e.msg;
  }

  /** Wire size of the oldest undelivered event (0 if none). */
  peekEventSize(conn: Connection): number {
    const e = conn.pending[0];
    return e === undefined ? 0 : XSD_SOCKMSG.size + e.msg.payload.length;
  }

  // ------------------------------------------------------------------
  // Watches

  private fire(events: readonly ChangeEvent[]): void {
    if (events.length === 0) return;
    for (const conn of [...this.conns]) {
      for (const e of events) {
        for (const w of [...conn.watches]) {
          if (conn.closed !== null) break;
          if (!watchMatches(w, e)) continue;
          if (!conn.privileged && !e.perms.some((p) => (accessFor(p, conn) & PERM_READ) !== 0)) continue;
          this.queueEvent(conn, w, w.relative ? e.path.slice(conn.home.length + 1) : e.path);
        }
      }
    }
  }

  private queueEvent(conn: Connection, watch: Watch, path: string): void {
    const payload = binaryToBytes(`${path}\0${watch.token}\0`);
    if (payload.length > this.limits.maxPayload) {
      this.droppedEvents++;
      return;
    }
    conn.pending.push({ msg: { type: XS.WATCH_EVENT, req_id: 0, tx_id: 0, payload }, watch });
    conn.pendingBytes += XSD_SOCKMSG.size + payload.length;
    if (conn.pendingBytes > this.limits.maxPendingEventBytes) {
      this.disconnect(conn, `more than ${this.limits.maxPendingEventBytes} bytes of watch events not consumed`);
      return;
    }
    conn.onEvent?.();
  }

  /** Drop the undelivered events of `watch` (after UNWATCH). */
  private purge(conn: Connection, watch: Watch): void {
    for (let i = conn.pending.length - 1; i >= 0; i--) {
      const e = conn.pending[i]!;
      if (e.watch === watch) {
        conn.pendingBytes -= XSD_SOCKMSG.size + e.msg.payload.length;
        conn.pending.splice(i, 1);
      }
    }
  }

  /** A watch path from a request: "@special" as is, else canonical. */
  private watchPath(conn: Connection, raw: string): { path: string; relative: boolean } {
    if (raw.startsWith('@')) {
      if (raw.length > this.limits.maxRelPath) throw new XsError('EINVAL', 'special watch path too long');
      return { path: raw, relative: false };
    }
    return canonicalize(raw, conn, this.limits);
  }

  // ------------------------------------------------------------------
  // The handlers

  private table(): ReadonlyMap<number, Op> {
    const lim = this.limits;
    const path = (conn: Connection, payload: Uint8Array): string => canonicalize(oneArg(payload), conn, lim).path;
    const dom0Only = (name: string): Op => ({
      tx: false,
      run: (conn) => {
        if (!conn.privileged) throw new XsError('EACCES', `${name} is for dom0 only`);
        throw new XsError('ENOSYS', `${name} is not supported; the VMM wires domains itself`);
      },
    });
    const t = new Map<number, Op>();

    t.set(XS.READ, { tx: true, run: (c, v, _h, p) => readNode(v, c, path(c, p)) });

    t.set(XS.DIRECTORY, {
      tx: true,
      run: (c, v, _h, p) => binaryToBytes(listChildren(v, c, path(c, p)).children.map((n) => `${n}\0`).join('')),
    });

    t.set(XS.DIRECTORY_PART, {
      tx: true,
      run: (c, v, _h, p) => {
        const args = splitStrings(p);
        if (args.length < 2 || !/^\d{1,10}$/.test(args[1]!)) throw new XsError('EINVAL', 'expected <path>|<offset>');
        const { children, generation } = listChildren(v, c, canonicalize(args[0]!, c, lim).path);
        const all = children.map((n) => `${n}\0`).join('');
        const offset = Number(args[1]);
        if (offset > all.length) throw new XsError('EINVAL', `offset ${offset} beyond the list`);
        const head = `${generation}\0`;
        const room = lim.maxPayload - head.length - 1;
        let chunk = all.slice(offset);
        let end = '\0'; // an empty string marks the end of the list
        if (chunk.length > room) {
          chunk = chunk.slice(0, chunk.lastIndexOf('\0', room - 1) + 1);
          end = '';
        }
        return binaryToBytes(head + chunk + end);
      },
    });

    t.set(XS.GET_PERMS, {
      tx: true,
      run: (c, v, _h, p) => {
        const raw = oneArg(p);
        let ps: Perms;
        if (raw.startsWith('@')) {
          const sp = this.specials.get(raw);
          if (sp === undefined) throw new XsError('ENOENT', `no special node ${raw.slice(0, 32)}`);
          if ((accessFor(sp, c) & PERM_READ) === 0) throw new XsError('EACCES', `no access to ${raw}`);
          ps = sp;
        } else {
          ps = getPerms(v, c, canonicalize(raw, c, lim).path);
        }
        return binaryToBytes(ps.map((x) => `${formatPerm(x)}\0`).join(''));
      },
    });

    t.set(XS.SET_PERMS, {
      tx: true,
      run: (c, v, _h, p, ev) => {
        const args = splitStrings(p);
        if (args.length < 2) throw new XsError('EINVAL', 'expected <path>|<perm>|+');
        const ps = parsePerms(args.slice(1));
        const raw = args[0]!;
        if (raw.startsWith('@')) {
          const sp = this.specials.get(raw);
          if (sp === undefined) throw new XsError('ENOENT', `no special node ${raw.slice(0, 32)}`);
          if ((accessFor(sp, c) & (PERM_WRITE | PERM_OWNER)) !== (PERM_WRITE | PERM_OWNER)) throw new XsError('EACCES', `no access to ${raw}`);
          if (!c.privileged && ownerOf(ps) !== ownerOf(sp)) throw new XsError('EPERM', 'only dom0 may change the owner');
          this.specials.set(raw, ps);
        } else {
          setNodePerms(v, c, lim, canonicalize(raw, c, lim).path, ps, ev);
        }
        return OK;
      },
    });

    t.set(XS.WRITE, {
      tx: true,
      run: (c, v, _h, p, ev) => {
        const nul = p.indexOf(NUL);
        if (nul < 0) throw new XsError('EINVAL', 'expected <path>|<value>');
        const target = canonicalize(bytesToBinary(p.subarray(0, nul)), c, lim).path;
        writeNode(v, c, lim, target, p.slice(nul + 1), ev);
        return OK;
      },
    });

    t.set(XS.MKDIR, { tx: true, run: (c, v, _h, p, ev) => (makeNode(v, c, lim, path(c, p), ev), OK) });
    t.set(XS.RM, { tx: true, run: (c, v, _h, p, ev) => (removeNode(v, c, path(c, p), ev), OK) });

    t.set(XS.WATCH, {
      tx: false,
      run: (c, _v, _h, p) => {
        const args = splitStrings(p);
        if (args.length < 2) throw new XsError('EINVAL', 'expected <path>|<token>|');
        const { path: wpath, relative } = this.watchPath(c, args[0]!);
        const token = args[1]!;
        if (c.watches.some((w) => w.path === wpath && w.token === token)) throw new XsError('EEXIST', 'watch already set');
        if (!c.privileged && c.watches.length >= lim.maxWatches) throw new XsError('E2BIG', `more than ${lim.maxWatches} watches`);
        const w: Watch = { path: wpath, token, relative };
        c.watches.push(w);
        // Fires once straight away, with the path as registered; queued
        // after this reply is produced, so the ack goes out first.
        this.queueEvent(c, w, args[0]!);
        return OK;
      },
    });

    t.set(XS.UNWATCH, {
      tx: false,
      run: (c, _v, _h, p) => {
        const args = splitStrings(p);
        if (args.length < 2) throw new XsError('EINVAL', 'expected <path>|<token>|');
        const { path: wpath } = this.watchPath(c, args[0]!);
        const i = c.watches.findIndex((w) => w.path === wpath && w.token === args[1]);
        if (i < 0) throw new XsError('ENOENT', 'no such watch');
        const [w] = c.watches.splice(i, 1);
        this.purge(c, w!);
        return OK;
      },
    });

    t.set(XS.RESET_WATCHES, {
      tx: false,
      run: (c) => {
        c.watches.length = 0;
        c.transactions.clear();
        c.pending.length = 0;
        c.pendingBytes = 0;
        return OK;
      },
    });

    t.set(XS.TRANSACTION_START, {
      tx: false,
      run: (c, _v, h) => {
        const cur = h.tx_id >>> 0;
        if (cur !== 0) throw c.transactions.has(cur) ? new XsError('EBUSY', 'already in a transaction') : new XsError('ENOENT', `no transaction ${cur}`);
        if (!c.privileged && c.transactions.size >= lim.maxTransactions) throw new XsError('ENOSPC', `more than ${lim.maxTransactions} transactions`);
        let id = c.nextTxId;
        while (id === 0 || c.transactions.has(id)) id = (id + 1) >>> 0;
        c.nextTxId = (id + 1) >>> 0;
        c.transactions.set(id, new Transaction(this.store, id, c.privileged ? Infinity : lim.maxTransactionNodes));
        return str0(String(id));
      },
    });

    t.set(XS.TRANSACTION_END, {
      tx: true,
      run: (c, v, _h, p) => {
        if (!(v instanceof Transaction)) throw new XsError('ENOENT', 'not in a transaction');
        const arg = oneArg(p);
        if (arg !== 'T' && arg !== 'F') throw new XsError('EINVAL', 'expected T or F');
        c.transactions.delete(v.id);
        if (arg === 'F') return OK;
        const r = v.commit(c.privileged ? null : { domid: c.domid, maxNodes: lim.maxNodesPerDomain });
        if (r === 'conflict') throw new XsError('EAGAIN', 'transaction conflicts with a later change');
        if (r === 'quota') throw new XsError('ENOSPC', `domain ${c.domid} would own more than ${lim.maxNodesPerDomain} nodes`);
        this.fire(v.events);
        return OK;
      },
    });

    t.set(XS.GET_DOMAIN_PATH, { tx: false, run: (_c, _v, _h, p) => str0(homePath(parseDomid(oneArg(p)))) });

    t.set(XS.IS_DOMAIN_INTRODUCED, {
      tx: false,
      run: (c, _v, _h, p) => {
        if (!c.privileged) throw new XsError('EACCES', 'IS_DOMAIN_INTRODUCED is for dom0 only');
        return str0(this.isIntroduced(parseDomid(oneArg(p))) ? 'T' : 'F');
      },
    });

    t.set(XS.CONTROL, dom0Only('CONTROL'));
    t.set(XS.INTRODUCE, dom0Only('INTRODUCE'));
    t.set(XS.RELEASE, dom0Only('RELEASE'));
    t.set(XS.RESUME, dom0Only('RESUME'));
    t.set(XS.SET_TARGET, dom0Only('SET_TARGET'));
    t.set(XS.SET_QUOTA, dom0Only('SET_QUOTA'));
    t.set(XS.SET_FEATURE, dom0Only('SET_FEATURE'));
    return t;
  }
}

/** Does change `e` fire watch `w`? */
function watchMatches(w: Watch, e: ChangeEvent): boolean {
  if (w.path.startsWith('@') || e.path.startsWith('@')) return w.path === e.path;
  return e.exact ? w.path === e.path : isWithin(e.path, w.path);
}
