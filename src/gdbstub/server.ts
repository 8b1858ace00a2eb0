/**
 * Layer 0 of the gdb stub: the TCP side. Parses and checks the listen
 * address (`--gdb [HOST:]PORT`), listens through an injected listener
 * factory (the CLI passes `net.createServer`; nothing here opens sockets by
 * itself, see docs/architecture.md rule 8), and gives each accepted
 * connection its own `GdbSession`.
 *
 * Policy:
 *  - The default host is 127.0.0.1. Any other host must be named, and
 *    `exposureWarning` returns the warning the CLI prints for one that is
 *    not a loopback address: the protocol has no authentication, and a
 *    debugger can read and change all of the guest.
 *  - One debugger at a time: while a session is open, a second connection
 *    is refused (closed at once, with a log line). It does not wait: gdb
 *    would otherwise hang in `target remote` with no hint why.
 */
import { GdbStubError } from './errors.js';
import { GdbSession, type SessionOptions } from './session.js';
import type { DebugTarget } from './target.js';

/** The host the stub listens on unless told otherwise. */
export const DEFAULT_GDB_HOST = '127.0.0.1';

/** Where to listen. */
export interface GdbAddress {
  readonly host: string;
  /** 0 asks the system for a free port (tests); `listen` resolves to the real one. */
  readonly port: number;
}

/**
 * Parse `--gdb [HOST:]PORT`: `1234`, `127.0.0.1:1234`, `localhost:1234`,
 * `0.0.0.0:1234`, `[::1]:1234`. Throws GdbStubError(EGDBADDR) with a
 * one-line message otherwise.
 */
export function parseGdbAddress(spec: string): GdbAddress {
  const bad = (why: string): never => {
    throw new GdbStubError('EGDBADDR', `--gdb ${JSON.stringify(spec)}: ${why}; use PORT or HOST:PORT, e.g. 1234 or 127.0.0.1:1234`);
  };
  let host = DEFAULT_GDB_HOST;
  let portText = spec;
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(spec);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2]!;
  } else if (spec.includes(':')) {
    const i = spec.lastIndexOf(':');
    host = spec.slice(0, i);
    portText = spec.slice(i + 1);
    if (host.includes(':')) bad('an IPv6 address needs brackets, e.g. [::1]:1234');
    if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) bad(`${JSON.stringify(host)} is not a host name or address`);
  }
  if (!/^\d{1,5}$/.test(portText)) bad('the port is not a number');
  const port = Number(portText);
  if (port > 65535) bad('the port is above 65535');
  return { host, port };
}

/** Is this host a loopback address (127.0.0.0/8, ::1, localhost)? */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** The warning to print when the stub would listen beyond this machine, or null. */
export function exposureWarning(addr: GdbAddress): string | null {
  if (isLoopback(addr.host)) return null;
  return `warning: the gdb stub listens on ${formatAddress(addr)}, not on loopback: anyone who can reach ` +
    'this port can read and change the guest (the gdb protocol has no authentication)';
}

/** `host:port`, with brackets around IPv6 hosts. */
export function formatAddress(addr: GdbAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** One accepted connection. node's `net.Socket` fits. */
export interface GdbSocket {
  write(data: Uint8Array): unknown;
  /** Close gracefully after pending writes. */
  end(): unknown;
  /** Close at once. */
  destroy(): unknown;
  setNoDelay?(noDelay?: boolean): unknown;
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
}

/** A TCP listener. node's `net.Server` fits. */
export interface GdbListener {
  listen(port: number, host: string, callback: () => void): unknown;
  address(): { address: string; port: number } | string | null;
  close(callback?: (err?: Error) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** Makes a listener that calls `onConnection` per accepted socket: `(cb) => net.createServer(cb)`. */
export type CreateListener = (onConnection: (socket: GdbSocket) => void) => GdbListener;

/** `GdbServer` options. */
export interface GdbServerOptions {
  readonly target: DebugTarget;
  /** Needed by `listen` (tests that only `accept` fake sockets can leave it out). */
  readonly createListener?: CreateListener;
  readonly session?: SessionOptions;
  /** One line per event: connected, refused, disconnected, listener errors. */
  readonly log?: (line: string) => void;
}

/** The gdb server: a listener and at most one session. */
export class GdbServer {
  private listener: GdbListener | null = null;
  private socket: GdbSocket | null = null;
  private current: GdbSession | null = null;

  constructor(private readonly opts: GdbServerOptions) {}

  /** The open session, if a debugger is connected. */
  get session(): GdbSession | null {
    return this.current;
  }

  /**
   * Start listening; resolves with the address actually bound (the real
   * port when 0 was asked). Rejects with GdbStubError(EGDBLISTEN).
   */
  listen(addr: GdbAddress): Promise<GdbAddress> {
    const create = this.opts.createListener;
    if (create === undefined) return Promise.reject(new GdbStubError('EGDBLISTEN', 'no listener factory given'));
    if (this.listener !== null) return Promise.reject(new GdbStubError('EGDBLISTEN', 'already listening'));
    const l = create((s) => { this.accept(s); });
    this.listener = l;
    return new Promise((resolve, reject) => {
      let listening = false;
      l.on('error', (err) => {
        if (!listening) {
          this.listener = null;
          const code = (err as { code?: string }).code;
          reject(new GdbStubError('EGDBLISTEN', `cannot listen for gdb on ${formatAddress(addr)}: ${code === 'EADDRINUSE' ? 'the port is in use' : err.message}`));
        } else this.opts.log?.(`gdb: listener error: ${err.message}`);
      });
      l.listen(addr.port, addr.host, () => {
        listening = true;
        const a = l.address();
        resolve({ host: addr.host, port: typeof a === 'object' && a !== null ? a.port : addr.port });
      });
    });
  }

  /**
   * Take a connection: it becomes the session, or is refused (closed at
   * once) when one is already open. Returns whether it was taken.
   */
  accept(socket: GdbSocket): boolean {
    const peer = socket.remoteAddress === undefined ? 'a client' : `${socket.remoteAddress}:${socket.remotePort ?? '?'}`;
    // A session that ended (D, k) frees the slot even before its socket reports `close`.
    if (this.current !== null && this.current.state !== 'closed') {
      this.opts.log?.(`gdb: refused ${peer}: a debugger is already connected (one at a time)`);
      socket.on('error', () => { /* the refused peer's errors are not ours */ });
      socket.destroy();
      return false;
    }
    socket.setNoDelay?.(true); // small packets, strictly request/reply: no Nagle delays
    this.socket = socket;
    const session = new GdbSession(this.opts.target, {
      write: (b) => { socket.write(b); },
      close: () => { socket.end(); },
    }, this.opts.session);
    this.current = session;
    this.opts.log?.(`gdb: connected from ${peer}`);
    socket.on('data', (chunk) => { session.receive(chunk); });
    socket.on('error', (err) => { this.opts.log?.(`gdb: connection error: ${err.message}`); });
    socket.on('close', () => {
      session.disconnect();
      if (this.current === session) {
        this.current = null;
        this.socket = null;
        this.opts.log?.('gdb: disconnected');
      }
    });
    return true;
  }

  /** Stop listening and drop the connection (the session detaches the target). */
  close(): Promise<void> {
    const s = this.socket, session = this.current;
    this.socket = null;
    this.current = null;
    session?.disconnect();
    s?.destroy();
    const l = this.listener;
    this.listener = null;
    if (l === null) return Promise.resolve();
    return new Promise((resolve) => { l.close(() => resolve()); });
  }
}
