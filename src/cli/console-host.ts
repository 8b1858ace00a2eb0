/**
 * Where `xenkit run` connects the guest's console (`--console`): the
 * `ConsoleHost` implementations behind the interface in
 * src/vmm/devices/console.ts.
 *
 *  - `stdio` (the default): guest output to stdout (through the CLI's
 *    ordered buffer). When stdin is a terminal it is put in raw mode while
 *    the guest runs: every key goes to the guest as typed (Ctrl-C too);
 *    the escape key Ctrl-] (0x1d, as in telnet and `virsh console`) quits
 *    xenkit. The terminal is restored on every way out: the guest stopping,
 *    the escape key, SIGINT, SIGTERM, SIGHUP, SIGQUIT (restored, then the
 *    signal's default action) and an exception (process 'exit'). When stdin
 *    is not a terminal (a pipe, a file), its bytes go to the guest as they
 *    are and end of file means "nothing more"; there is no escape key.
 *    Reading stdin never keeps the process alive: `close()` pauses and
 *    unrefs it.
 *  - `file:PATH`: guest output written to PATH (created or truncated, as a
 *    shell's `>`); no input.
 *  - `tcp:PORT`: a server on 127.0.0.1:PORT (loopback only), one client at
 *    a time (a second connection is closed at once). Output produced while
 *    no client is connected is kept (the last BACKLOG_LIMIT bytes) and sent
 *    when one connects, then streamed; the client's bytes are the guest's
 *    input.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { ConsoleHost } from '../vmm/devices/console.js';
import { CliError } from './errors.js';

/** The escape key of a raw-mode terminal console: Ctrl-] (GS, 0x1d). */
export const ESCAPE_KEY = 0x1d;
/** How the escape key is spelled in messages and docs. */
export const ESCAPE_KEY_NAME = 'Ctrl-]';
/** Output kept for a TCP console while no client is connected (the most recent bytes). */
export const BACKLOG_LIMIT = 1 << 20;
/** Buffered file output is written when it reaches this size (and between run slices). */
const FILE_CHUNK = 64 * 1024;
/** Signals whose default action would end the process with the terminal still raw. */
const RESTORE_SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;

/** A parsed `--console` value. */
export type ConsoleSpec =
  | { kind: 'stdio' }
  | { kind: 'file'; path: string }
  | { kind: 'tcp'; port: number };

/** Parse `--console`: `stdio`, `file:PATH` or `tcp:PORT` (1–65535); a one-line CliError otherwise. */
export function parseConsoleSpec(value: string): ConsoleSpec {
  if (value === 'stdio') return { kind: 'stdio' };
  if (value.startsWith('file:')) {
    const path = value.slice(5);
    if (path === '') throw new CliError('--console file: needs a path, e.g. --console file:console.log');
    return { kind: 'file', path };
  }
  if (value.startsWith('tcp:')) {
    const p = value.slice(4);
    if (!/^[0-9]+$/.test(p)) throw new CliError(`--console "${value}": the port must be a number from 1 to 65535, e.g. tcp:4555`);
    const port = Number(p);
    if (port < 1 || port > 65535) throw new CliError(`--console "${value}": port ${p} is out of range (1 to 65535)`);
    return { kind: 'tcp', port };
  }
  throw new CliError(`--console "${value}" is not a console: use stdio, file:PATH or tcp:PORT`);
}

/** The part of process.stdin the stdio console uses (a fake in tests). */
export interface StdinLike {
  isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end' | 'error', listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  resume(): unknown;
  pause(): unknown;
  unref?(): unknown;
}

/** The part of `process` the stdio console uses to restore the terminal (a fake in tests). */
export interface ProcessLike {
  readonly pid: number;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  listenerCount(event: string): number;
  kill(pid: number, signal: string): unknown;
}

export interface ConsoleHostDeps {
  /** stdio: where guest output goes (the CLI's ordered stdout). */
  stdout(bytes: Uint8Array): void;
  /** stdio: the input stream; omitted: no input. */
  stdin?: StdinLike;
  /** stdio: signal and exit hooks (default: the real process). */
  proc?: ProcessLike;
  /** One line for the user on stderr (without the newline). */
  info(line: string): void;
}

/** Create the console host for a parsed `--console` (TCP: once listening). CliError when that fails. */
export async function createConsoleHost(spec: ConsoleSpec, deps: ConsoleHostDeps): Promise<ConsoleHost> {
  switch (spec.kind) {
    case 'stdio':
      return new StdioConsole(deps.stdout, deps.stdin ?? null, deps.proc ?? (process as unknown as ProcessLike), deps.info);
    case 'file':
      return new FileConsole(spec.path);
    case 'tcp':
      return TcpConsole.listen(spec.port, deps.info);
  }
}

/** Guest output to stdout; input from stdin (raw mode on a terminal, with the escape key). */
export class StdioConsole implements ConsoleHost {
  private input: ((bytes: Uint8Array) => void) | null = null;
  private ended: (() => void) | null = null;
  private quit: (() => void) | null = null;
  private reading = false;
  private raw = false;
  private closed = false;
  private quitting = false;
  private readonly signalHandlers = new Map<string, () => void>();

  constructor(
    private readonly out: (bytes: Uint8Array) => void,
    private readonly stdin: StdinLike | null,
    private readonly proc: ProcessLike,
    private readonly info: (line: string) => void,
  ) {}

  write(bytes: Uint8Array): void {
    this.out(bytes);
  }

  onQuit(cb: () => void): void {
    this.quit = cb;
  }

  /** Start reading stdin (raw mode when it is a terminal); false without a stdin. */
  onInput(cb: (bytes: Uint8Array) => void, ended?: () => void): boolean {
    this.input = cb;
    this.ended = ended ?? null;
    const stdin = this.stdin;
    if (stdin === null || this.closed) return false;
    if (this.reading) return true;
    this.reading = true;
    if (stdin.isTTY === true && typeof stdin.setRawMode === 'function' && this.enterRawMode(stdin)) {
      this.proc.on('exit', this.restoreTerminal);
      for (const sig of RESTORE_SIGNALS) {
        const h = (): void => this.onFatalSignal(sig);
        this.signalHandlers.set(sig, h);
        this.proc.on(sig, h);
      }
      this.info(`xenkit: the terminal is the guest's console (raw mode: keys go to the guest); ${ESCAPE_KEY_NAME} quits`);
    }
    stdin.on('data', this.onData);
    stdin.on('end', this.onEnd);
    stdin.on('error', this.onEnd);
    stdin.resume();
    return true;
  }

  /** Raw mode on; false (and a line-mode console) when the terminal refuses. */
  private enterRawMode(stdin: StdinLike): boolean {
    try {
      stdin.setRawMode!(true);
    } catch {
      return false;
    }
    this.raw = true;
    return true;
  }

  private readonly onData = (chunk: Buffer | string): void => {
    if (this.closed || this.quitting) return;
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.raw) {
      const at = bytes.indexOf(ESCAPE_KEY);
      if (at >= 0) {
        if (at > 0) this.input?.(bytes.subarray(0, at));
        this.quitting = true;
        this.quit?.();
        return;
      }
    }
    if (bytes.length > 0) this.input?.(bytes);
  };

  /** End of input (or a read error): nothing more will come. */
  private readonly onEnd = (): void => {
    this.stopReading();
    const ended = this.ended;
    this.ended = null;
    ended?.();
  };

  /** Put the terminal back the way it was (safe to call any number of times, from any exit path). */
  private readonly restoreTerminal = (): void => {
    if (!this.raw) return;
    this.raw = false;
    try { this.stdin?.setRawMode?.(false); } catch { /* the terminal is gone */ }
  };

  /** SIGTERM and friends: restore the terminal, then let the signal do what it would have done. */
  private onFatalSignal(sig: string): void {
    this.restoreTerminal();
    this.removeHooks();
    this.stopReading();
    if (this.proc.listenerCount(sig) === 0) this.proc.kill(this.proc.pid, sig);
  }

  private removeHooks(): void {
    this.proc.off('exit', this.restoreTerminal);
    for (const [sig, h] of this.signalHandlers) this.proc.off(sig, h);
    this.signalHandlers.clear();
  }

  private stopReading(): void {
    const stdin = this.stdin;
    if (stdin === null || !this.reading) return;
    this.reading = false;
    stdin.off('data', this.onData);
    stdin.off('end', this.onEnd);
    stdin.off('error', this.onEnd);
    stdin.on('error', () => undefined); // a late error must not become an uncaught exception
    stdin.pause();
    stdin.unref?.();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.restoreTerminal();
    this.removeHooks();
    this.stopReading();
  }
}

/** Guest output to a file (created or truncated); no input. */
export class FileConsole implements ConsoleHost {
  private fd: number | null;
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  private scheduled = false;
  private failed = false;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such directory'
        : code === 'EACCES' ? 'permission denied'
          : code === 'EISDIR' ? 'is a directory'
            : (e as Error).message;
      throw new CliError(`--console file:${path}: cannot open the file: ${why}`);
    }
  }

  onInput(): boolean {
    return false; // a file has no input
  }
  onQuit(): void { /* and no escape key */ }

  write(bytes: Uint8Array): void {
    if (this.fd === null || bytes.length === 0) return;
    this.chunks.push(bytes.slice());
    this.bytes += bytes.length;
    if (this.bytes >= FILE_CHUNK) this.flush();
    else if (!this.scheduled) {
      // Many small guest writes become one write(2) between run slices.
      this.scheduled = true;
      setImmediate(() => { this.scheduled = false; this.flush(); });
    }
  }

  private flush(): void {
    if (this.fd === null || this.bytes === 0) return;
    const all = Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    if (this.failed) return;
    try {
      for (let at = 0; at < all.length;) at += writeSync(this.fd, all, at);
    } catch {
      this.failed = true; // a full disk: the guest keeps running, its output is lost
    }
  }

  async close(): Promise<void> {
    if (this.fd === null) return;
    this.flush();
    try { closeSync(this.fd); } catch { /* nothing to do */ }
    this.fd = null;
  }
}

/** A console served on 127.0.0.1:PORT to one client at a time. */
export class TcpConsole implements ConsoleHost {
  private client: Socket | null = null;
  private input: ((bytes: Uint8Array) => void) | null = null;
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  /** Output dropped from the backlog since the last client connected. */
  private dropped = 0;
  private closed = false;

  private constructor(private readonly server: Server, readonly port: number, private readonly info: (line: string) => void) {
    server.on('connection', (s) => this.accept(s));
    server.on('error', () => undefined);
  }

  /** Listen on 127.0.0.1:port; CliError when the port cannot be had. */
  static listen(port: number, info: (line: string) => void): Promise<TcpConsole> {
    const server = createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        const why = e.code === 'EADDRINUSE' ? 'the port is in use'
          : e.code === 'EACCES' ? 'permission denied'
            : e.message;
        reject(new CliError(`--console tcp:${port}: cannot listen on 127.0.0.1:${port}: ${why}`));
      };
      server.once('error', onError);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        server.off('error', onError);
        info(`xenkit: guest console on tcp 127.0.0.1:${port} (e.g. nc 127.0.0.1 ${port})`);
        resolve(new TcpConsole(server, port, info));
      });
    });
  }

  private accept(sock: Socket): void {
    sock.on('error', () => undefined);
    if (this.client !== null || this.closed) {
      sock.destroy(); // one client at a time
      return;
    }
    this.client = sock;
    if (this.dropped > 0) this.info(`xenkit: console client connected; ${this.dropped} earlier bytes of guest output were dropped`);
    this.dropped = 0;
    for (const b of this.backlog) sock.write(b);
    this.backlog = [];
    this.backlogBytes = 0;
    sock.on('data', (d: Buffer) => {
      if (this.client === sock && !this.closed) this.input?.(new Uint8Array(d.buffer, d.byteOffset, d.length));
    });
    sock.on('close', () => { if (this.client === sock) this.client = null; });
  }

  /** Input is whatever a client sends; clients may come and go, so it never ends. */
  onInput(cb: (bytes: Uint8Array) => void): boolean {
    this.input = cb;
    return true;
  }

  onQuit(): void { /* a socket client leaves by disconnecting */ }

  write(bytes: Uint8Array): void {
    if (bytes.length === 0 || this.closed) return;
    const c = this.client;
    if (c !== null && c.writable) {
      c.write(bytes.slice());
      return;
    }
    // No client: keep the most recent output.
    this.backlog.push(bytes.slice());
    this.backlogBytes += bytes.length;
    while (this.backlogBytes > BACKLOG_LIMIT) {
      const first = this.backlog[0]!;
      const over = this.backlogBytes - BACKLOG_LIMIT;
      if (first.length <= over) {
        this.backlog.shift();
        this.backlogBytes -= first.length;
        this.dropped += first.length;
      } else {
        this.backlog[0] = first.subarray(over);
        this.backlogBytes -= over;
        this.dropped += over;
      }
    }
  }

  /** Stop listening; send the connected client what is left, then hang up (waiting at most 2 s for a client that does not read). */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.server.close();
    this.server.unref();
    const c = this.client;
    this.client = null;
    if (c === null || c.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // 'finish': everything was handed to the kernel, which delivers it and the FIN; a client that does not read is cut off.
      const done = (): void => { clearTimeout(timer); c.unref(); resolve(); };
      const timer = setTimeout(() => { c.destroy(); }, 2000);
      timer.unref();
      c.once('finish', done);
      c.once('close', done);
      c.end();
    });
  }
}
