/**
 * `--console` (src/cli/console-host.ts and its wiring in `xenkit run`):
 *  - parseConsoleSpec: stdio, file:PATH, tcp:PORT, and one-line errors;
 *  - StdioConsole with a fake stdin and process: raw mode on a terminal
 *    and restored on every way out (close, the escape key, SIGTERM, exit),
 *    the escape key splitting a chunk, plain bytes from a pipe, EOF;
 *  - FileConsole and TcpConsole in-process: output to a file, the TCP
 *    backlog before a client connects (bounded), one client at a time;
 *  - the compiled CLI spawned as a user runs it: piped input echoed by
 *    the ring-only fixture guest (tests/fixtures/console), EOF, an open
 *    stdin that must not keep the process alive, `--console file:` with
 *    the template demo, `--console tcp:` with a client on a free port, bad
 *    values and a busy port (status 2, one line), and — when util-linux
 *    `script` can give it a terminal — raw mode, the Ctrl-] escape key and
 *    the terminal restored after the escape key and after SIGTERM.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BACKLOG_LIMIT, ESCAPE_KEY, FileConsole, StdioConsole, TcpConsole, parseConsoleSpec, type ProcessLike, type StdinLike,
} from '../../src/cli/console-host.js';
import { CliError } from '../../src/cli/errors.js';
import { EXIT } from '../../src/cli/exit-codes.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(root, 'dist', 'src', 'cli', 'main.js');
const PV_MIN = join(root, 'tests', 'fixtures', 'loader', 'pv-min.elf');
const ECHO = join(root, 'tests', 'fixtures', 'console', 'console-echo.elf');
const work = mkdtempSync(join(tmpdir(), 'xenkit-console-'));
const enc = new TextEncoder(), dec = new TextDecoder();

beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -p tsconfig.json)`);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

/** Wait until `pred()` holds (polling), or fail after `ms`. */
async function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('parseConsoleSpec', () => {
  it('accepts stdio, file:PATH and tcp:PORT', () => {
    expect(parseConsoleSpec('stdio')).toEqual({ kind: 'stdio' });
    expect(parseConsoleSpec('file:out/console.log')).toEqual({ kind: 'file', path: 'out/console.log' });
    expect(parseConsoleSpec('file:a:b')).toEqual({ kind: 'file', path: 'a:b' });
    expect(parseConsoleSpec('tcp:4555')).toEqual({ kind: 'tcp', port: 4555 });
    expect(parseConsoleSpec('tcp:1')).toEqual({ kind: 'tcp', port: 1 });
    expect(parseConsoleSpec('tcp:65535')).toEqual({ kind: 'tcp', port: 65535 });
  });

  it('refuses anything else with one line', () => {
    const cases: [string, RegExp][] = [
      ['tcp:', /the port must be a number/],
      ['tcp:http', /the port must be a number from 1 to 65535/],
      ['tcp:-1', /the port must be a number/],
      ['tcp:12.5', /the port must be a number/],
      ['tcp:0', /port 0 is out of range \(1 to 65535\)/],
      ['tcp:65536', /port 65536 is out of range/],
      ['tcp:0x50', /the port must be a number/],
      ['file:', /file: needs a path/],
      ['udp:53', /is not a console: use stdio, file:PATH or tcp:PORT/],
      ['', /is not a console/],
      ['STDIO', /is not a console/],
    ];
    for (const [v, re] of cases) {
      let err: unknown;
      try { parseConsoleSpec(v); } catch (e) { err = e; }
      expect(err, v).toBeInstanceOf(CliError);
      expect((err as CliError).message, v).toMatch(re);
      expect((err as CliError).message).not.toContain('\n');
      expect((err as CliError).status).toBe(EXIT.USAGE);
    }
  });
});

// --- the stdio console with fakes --------------------------------------------------------

class FakeStdin extends EventEmitter implements StdinLike {
  modes: boolean[] = [];
  paused = true;
  unrefed = false;
  setRawMode?: (mode: boolean) => void;
  constructor(readonly isTTY: boolean) {
    super();
    if (isTTY) this.setRawMode = (m) => { this.modes.push(m); };
  }
  get raw(): boolean { return this.modes.at(-1) === true; }
  resume(): void { this.paused = false; }
  pause(): void { this.paused = true; }
  unref(): void { this.unrefed = true; }
}

class FakeProc extends EventEmitter implements ProcessLike {
  readonly pid = 4242;
  killed: [number, string][] = [];
  kill(pid: number, signal: string): void { this.killed.push([pid, signal]); }
}

function stdio(tty: boolean): { con: StdioConsole; stdin: FakeStdin; proc: FakeProc; got: string[]; out: string[]; info: string[]; quits: number[]; ends: number[] } {
  const stdin = new FakeStdin(tty), proc = new FakeProc();
  const got: string[] = [], out: string[] = [], info: string[] = [], quits: number[] = [], ends: number[] = [];
  const con = new StdioConsole((b) => out.push(dec.decode(b)), stdin, proc, (l) => info.push(l));
  con.onQuit(() => quits.push(1));
  expect(con.onInput((b) => got.push(dec.decode(b)), () => ends.push(1))).toBe(true);
  return { con, stdin, proc, got, out, info, quits, ends };
}

describe('StdioConsole on a terminal', () => {
  it('puts the terminal in raw mode, says how to quit, forwards keys and restores it on close', async () => {
    const t = stdio(true);
    expect(t.stdin.modes).toEqual([true]);
    expect(t.stdin.paused).toBe(false);
    expect(t.info).toEqual(['xenkit: the terminal is the guest\'s console (raw mode: keys go to the guest); Ctrl-] quits']);
    t.stdin.emit('data', Buffer.from('ls -l\r\x03\x04'));
    expect(t.got).toEqual(['ls -l\r\x03\x04']); // Ctrl-C and Ctrl-D are the guest's
    t.con.write(enc.encode('out'));
    expect(t.out).toEqual(['out']);
    await t.con.close();
    expect(t.stdin.modes).toEqual([true, false]);
    expect(t.stdin.paused).toBe(true);
    expect(t.stdin.unrefed).toBe(true);
    expect(t.stdin.listenerCount('data')).toBe(0);
    expect(t.proc.eventNames()).toEqual([]); // exit and signal hooks removed
    await t.con.close(); // idempotent
    expect(t.stdin.modes).toEqual([true, false]);
  });

  it('the escape key Ctrl-] quits: bytes before it go to the guest, nothing after it', () => {
    const t = stdio(true);
    t.stdin.emit('data', Buffer.from([0x61, 0x62, ESCAPE_KEY, 0x63]));
    expect(t.got).toEqual(['ab']);
    expect(t.quits).toEqual([1]);
    t.stdin.emit('data', Buffer.from('late'));
    expect(t.got).toEqual(['ab']);
    expect(t.quits).toEqual([1]);
  });

  it('restores the terminal on process exit (an exception) and on SIGTERM, then lets the signal act', () => {
    const a = stdio(true);
    a.proc.emit('exit', 1);
    expect(a.stdin.modes).toEqual([true, false]);

    const b = stdio(true);
    expect(b.proc.listenerCount('SIGTERM')).toBe(1);
    expect(b.proc.listenerCount('SIGHUP')).toBe(1);
    b.proc.emit('SIGTERM');
    expect(b.stdin.modes).toEqual([true, false]);
    expect(b.proc.killed).toEqual([[4242, 'SIGTERM']]); // re-raised: the default action ends the process
    expect(b.proc.listenerCount('SIGTERM')).toBe(0);
    expect(b.stdin.paused).toBe(true);
  });
});

describe('StdioConsole on a terminal that refuses raw mode', () => {
  it('stays in line mode: no hooks, no escape key, input still forwarded', async () => {
    const stdin = new FakeStdin(true), proc = new FakeProc();
    stdin.setRawMode = () => { throw new Error('EIO'); };
    const got: string[] = [];
    const con = new StdioConsole(() => undefined, stdin, proc, () => undefined);
    expect(con.onInput((b) => got.push(dec.decode(b)))).toBe(true);
    expect(proc.eventNames()).toEqual([]);
    stdin.emit('data', Buffer.from('line\x1d\n'));
    expect(got).toEqual(['line\x1d\n']);
    await con.close();
    expect(stdin.paused).toBe(true);
  });
});

describe('StdioConsole on a pipe', () => {
  it('forwards bytes as they are (0x1d too), no raw mode, and reports EOF once', async () => {
    const t = stdio(false);
    expect(t.stdin.modes).toEqual([]);
    expect(t.info).toEqual([]);
    expect(t.proc.eventNames()).toEqual([]);
    t.stdin.emit('data', Buffer.from([0x68, ESCAPE_KEY, 0x69]));
    expect(t.got).toEqual(['h\x1di']);
    expect(t.quits).toEqual([]);
    t.stdin.emit('end');
    expect(t.ends).toEqual([1]);
    expect(t.stdin.paused).toBe(true);
    expect(t.stdin.unrefed).toBe(true);
    t.stdin.emit('data', Buffer.from('after EOF'));
    expect(t.got).toEqual(['h\x1di']);
    await t.con.close();
    expect(t.ends).toEqual([1]);
  });

  it('has no input without a stdin', () => {
    const con = new StdioConsole(() => undefined, null, new FakeProc(), () => undefined);
    expect(con.onInput(() => undefined)).toBe(false);
  });
});

describe('FileConsole and TcpConsole', () => {
  it('file: output written (truncating) to the file, no input', async () => {
    const path = join(work, 'unit.log');
    writeFileSync(path, 'old contents\n');
    const con = new FileConsole(path);
    expect(con.onInput()).toBe(false);
    for (let i = 0; i < 1000; i++) con.write(enc.encode(`line ${i}\r\n`));
    con.write(new Uint8Array(100_000).fill(0x2e));
    await con.close();
    const text = readFileSync(path, 'utf8');
    expect(text.startsWith('line 0\r\nline 1\r\n')).toBe(true);
    expect(text).not.toContain('old contents');
    expect(text.length).toBe(Array.from({ length: 1000 }, (_, i) => `line ${i}\r\n`).join('').length + 100_000);
  });

  it('file: a path that cannot be opened is one line', () => {
    expect(() => new FileConsole(join(work, 'no', 'such', 'dir', 'x.log'))).toThrow(/^--console file:.*: cannot open the file: no such directory$/);
    expect(() => new FileConsole(work)).toThrow(/is a directory/);
  });

  it('tcp: keeps output until a client connects, streams it, takes its input, one client at a time', async () => {
    const port = await freePort();
    const info: string[] = [];
    const con = await TcpConsole.listen(port, (l) => info.push(l));
    expect(info).toEqual([`xenkit: guest console on tcp 127.0.0.1:${port} (e.g. nc 127.0.0.1 ${port})`]);
    const input: string[] = [];
    expect(con.onInput((b) => input.push(dec.decode(b)))).toBe(true);
    con.write(enc.encode('before '));
    con.write(enc.encode('connect\r\n'));
    let got = '';
    const c1 = connect(port, '127.0.0.1');
    c1.on('data', (d) => { got += d.toString(); });
    await until(() => got === 'before connect\r\n', 'the backlog');
    con.write(enc.encode('live'));
    await until(() => got.endsWith('live'), 'live output');
    // A second client is hung up on at once.
    const c2 = connect(port, '127.0.0.1');
    let c2closed = false;
    c2.on('error', () => undefined).on('close', () => { c2closed = true; });
    await until(() => c2closed, 'the second client to be closed');
    c1.write('typed');
    await until(() => input.join('') === 'typed', 'client input');
    const ended = new Promise<void>((r) => c1.on('end', () => r()));
    con.write(enc.encode(' last'));
    await con.close();
    await ended;
    expect(got).toBe('before connect\r\nlive last');
    c1.destroy();
  });

  it('tcp: the backlog keeps the most recent BACKLOG_LIMIT bytes and says how much it dropped', async () => {
    const port = await freePort();
    const info: string[] = [];
    const con = await TcpConsole.listen(port, (l) => info.push(l));
    con.write(new Uint8Array(1000).fill(0x61));
    con.write(new Uint8Array(BACKLOG_LIMIT).fill(0x62));
    con.write(enc.encode('end'));
    const chunks: Buffer[] = [];
    const c = connect(port, '127.0.0.1');
    c.on('data', (d) => chunks.push(d));
    await until(() => chunks.reduce((n, b) => n + b.length, 0) >= BACKLOG_LIMIT, 'the backlog');
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(BACKLOG_LIMIT);
    expect(all.subarray(all.length - 3).toString()).toBe('end');
    expect(all.subarray(0, BACKLOG_LIMIT - 3).every((b) => b === 0x62)).toBe(true);
    expect(info[1]).toBe(`xenkit: console client connected; ${1003} earlier bytes of guest output were dropped`);
    c.destroy();
    await con.close();
  });

  it('tcp: a port in use is one line', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    await expect(TcpConsole.listen(port, () => undefined)).rejects.toThrow(`--console tcp:${port}: cannot listen on 127.0.0.1:${port}: the port is in use`);
    blocker.close();
  });
});

// --- the compiled CLI ----------------------------------------------------------------

interface Result { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** Spawn `node dist/src/cli/main.js ...args`; `feed` gets the child to drive. */
function xenkit(args: string[], feed?: (c: ChildProcess, io: { out(): string; err(): string }) => void | Promise<void>): Promise<Result> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, NO_COLOR: '', XENKIT_DEBUG: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString('latin1'); });
  child.stderr!.setEncoding('utf8'); // whole characters, however the chunks fall
  child.stderr!.on('data', (d: string) => { stderr += d; });
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<Result>((done) => child.on('close', (status, signal) => done({ status, signal, stdout, stderr, ms: Date.now() - t0 })));
  void feed?.(child, { out: () => stdout, err: () => stderr });
  return exited;
}

/** A one-line error: status 2, "xenkit: ..." on stderr, nothing on stdout. */
function expectOneLineError(r: Result, ...fragments: string[]): void {
  expect(r.status).toBe(EXIT.USAGE);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^xenkit: /);
  for (const f of fragments) expect(r.stderr).toContain(f);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}

describe('xenkit run --console stdio (stdin not a terminal)', () => {
  it('piped input reaches a ring-only guest, which echoes it and powers off', async () => {
    const r = await xenkit(['run', ECHO], (c) => { c.stdin!.write('hello, world!'); });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('console-echo: ready\r\nHELLO, WORLD\r\nconsole-echo: bye\r\n');
    expect(r.status).toBe(0);
  });

  it('end of input means nothing more: a guest waiting for it ends halted (status 10)', async () => {
    const r = await xenkit(['run', ECHO], (c) => { c.stdin!.end('abc'); });
    expect(r.stdout).toBe('console-echo: ready\r\nABC');
    expect(r.status).toBe(EXIT.HALTED);
    expect(r.stderr).toMatch(/^\nxenkit: the vCPU halted .*blocked in SCHEDOP_poll/);
  });

  it('the template demo reads piped lines', async () => {
    const r = await xenkit(['demo'], (c) => { c.stdin!.end('hello there\nquit\n'); });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('hello there');
    expect(r.stdout).toContain('powering off');
  });

  it('an open stdin does not keep xenkit alive once the guest powers off', async () => {
    // The child's stdin pipe stays open (never written, never closed) for the whole run.
    const r = await xenkit(['run', PV_MIN]);
    expect(r).toMatchObject({ status: 0, stdout: 'hello from pv-min\n', stderr: '' });
    expect(r.ms).toBeLessThan(10_000);
  });

  it('keeps waiting for input while stdin is open, and SIGINT still stops it', async () => {
    const r = await xenkit(['run', ECHO], async (c, io) => {
      await until(() => io.out().includes('ready'), 'the greeting');
      await new Promise((res) => setTimeout(res, 300));
      c.kill('SIGINT');
    });
    expect(r.status).toBe(EXIT.INTERRUPTED);
    expect(r.stderr).toMatch(/^xenkit: interrupted \(SIGINT\)/);
  });
});

describe('xenkit run --console file:PATH', () => {
  it('the template demo prints into the file, nothing on stdout', async () => {
    const path = join(work, 'demo.log');
    // --deterministic: the demo's wait for input (none can come from a file console) takes no host time.
    const r = await xenkit(['demo', '--deterministic', '--console', `file:${path}`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^xenkit: booting the demo kernel /);
    const text = readFileSync(path, 'latin1');
    expect(text).toContain('xenkit-minios');
    expect(text).toContain('powering off');
  });

  it('pv-min (console_io) goes to the file too', async () => {
    const path = join(work, 'pv-min.log');
    const r = await xenkit(['run', PV_MIN, '--console', `file:${path}`]);
    expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(readFileSync(path, 'utf8')).toBe('hello from pv-min\n');
  });

  it('a file console has no input: a guest waiting for input ends halted', async () => {
    const path = join(work, 'echo.log');
    const r = await xenkit(['run', ECHO, '--console', `file:${path}`], (c) => { c.stdin!.write('ignored!'); });
    expect(r.status).toBe(EXIT.HALTED);
    expect(readFileSync(path, 'latin1')).toBe('console-echo: ready\r\n');
  });
});

describe('xenkit run --console tcp:PORT', () => {
  it('serves the console on 127.0.0.1: output kept for the client, its input to the guest', async () => {
    const port = await freePort();
    let got = '';
    let sock: Socket | null = null;
    const r = await xenkit(['run', ECHO, '--console', `tcp:${port}`], async (_c, io) => {
      await until(() => io.err().includes('guest console on tcp'), 'the listening line');
      await new Promise((res) => setTimeout(res, 200)); // the guest has printed and waits for input
      sock = connect(port, '127.0.0.1');
      sock.on('data', (d) => { got += d.toString('latin1'); });
      await until(() => got.includes('ready\r\n'), 'the greeting');
      sock.write('over tcp!');
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`xenkit: guest console on tcp 127.0.0.1:${port} (e.g. nc 127.0.0.1 ${port})\n`);
    await until(() => got.endsWith('bye\r\n'), 'the farewell');
    expect(got).toBe('console-echo: ready\r\nOVER TCP\r\nconsole-echo: bye\r\n');
    (sock as Socket | null)?.destroy();
  });

  it('listens on loopback only', async () => {
    const port = await freePort();
    const outside = Object.values(networkInterfaces()).flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;
    let refused: string | null = null;
    const r = await xenkit(['run', ECHO, '--console', `tcp:${port}`], async (c, io) => {
      await until(() => io.err().includes('guest console on tcp'), 'the listening line');
      if (outside !== undefined) {
        refused = await new Promise<string>((res) => {
          const s = connect(port, outside);
          s.on('connect', () => { s.destroy(); res('connected'); });
          s.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
        });
      }
      c.kill('SIGINT');
    });
    expect(r.status).toBe(EXIT.INTERRUPTED);
    if (outside !== undefined) expect(refused).toBe('ECONNREFUSED');
  });

  it('refuses bad ports and a busy port with one line', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', () => res()));
    const busy = (blocker.address() as { port: number }).port;
    const [a, b, c, d] = await Promise.all([
      xenkit(['run', PV_MIN, '--console', 'tcp:telnet']),
      xenkit(['run', PV_MIN, '--console', 'tcp:99999']),
      xenkit(['run', PV_MIN, '--console', `tcp:${busy}`]),
      xenkit(['run', PV_MIN, '--console', 'serial']),
    ]);
    blocker.close();
    expectOneLineError(a!, '--console "tcp:telnet": the port must be a number from 1 to 65535');
    expectOneLineError(b!, 'port 99999 is out of range');
    expectOneLineError(c!, `--console tcp:${busy}: cannot listen on 127.0.0.1:${busy}: the port is in use`);
    expectOneLineError(d!, '--console "serial" is not a console: use stdio, file:PATH or tcp:PORT');
  });

  it('run and demo document --console', async () => {
    for (const cmd of ['run', 'demo']) {
      const r = await new Promise<string>((res) => execFile(process.execPath, [MAIN, cmd, '--help'], (_e, out) => res(out)));
      expect(r).toContain('--console <where>');
      expect(r).toMatch(/file:PATH/);
    }
  });
});

// --- a real terminal, through util-linux script(1) ---------------------------------------------

const haveScript = ((): boolean => {
  try {
    execFileSync('script', ['--version'], { stdio: 'pipe' });
    execFileSync('stty', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

/** Run `body` (sh) on a pseudo-terminal; `drive` writes keys to it. */
function onTerminal(body: string, drive: (keys: (s: string) => void, out: () => string) => Promise<void>): Promise<string> {
  const sh = join(work, `tty-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(sh, body);
  const child = spawn('script', ['-qec', `sh ${sh}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString('latin1'); });
  child.stdin.on('error', () => undefined);
  const done = new Promise<string>((res) => child.on('close', () => res(out)));
  void drive((s) => child.stdin.write(s), () => out).finally(() => setTimeout(() => child.stdin.end(), 500));
  return done;
}

describe.skipIf(!haveScript)('xenkit run on a terminal (raw mode)', () => {
  it('keys reach the guest without Enter, Ctrl-] quits with status 130, the terminal is restored', async () => {
    const before = join(work, 'stty-before'), after = join(work, 'stty-after');
    const out = await onTerminal(
      `stty -g > ${before}\n"${process.execPath}" "${MAIN}" run "${ECHO}"\necho "status=$?"\nstty -g > ${after}\n`,
      async (keys, o) => {
        await until(() => o().includes('console-echo: ready'), 'the greeting');
        keys('abc'); // no newline: only raw mode delivers it now
        await until(() => o().includes('ABC'), 'the echo');
        keys('\x1d');
        await until(() => o().includes('status='), 'the exit');
      });
    expect(out).toContain('Ctrl-] quits');
    expect(out).toContain('ABC');
    expect(out).toMatch(/xenkit: quit with the console escape key \(Ctrl-\]\) after \d+ guest instructions/);
    expect(out).toContain(`status=${EXIT.INTERRUPTED}`);
    expect(readFileSync(after, 'utf8')).toBe(readFileSync(before, 'utf8'));
  });

  it('SIGTERM restores the terminal before the process ends', async () => {
    const before = join(work, 'stty-before2'), during = join(work, 'stty-during2'), after = join(work, 'stty-after2');
    const flag = join(work, 'greeted');
    // fd 3: the terminal, for the background job (sh gives those /dev/null otherwise).
    const out = await onTerminal(
      `stty -g > ${before}\nexec 3<&0\n"${process.execPath}" "${MAIN}" run "${ECHO}" <&3 &\npid=$!\n` +
      `while ! [ -e ${flag} ]; do sleep 0.05; done\nstty -g > ${during}\nkill -TERM $pid\nwait $pid\necho "status=$?"\nstty -g > ${after}\n`,
      async (_keys, o) => {
        await until(() => o().includes('console-echo: ready'), 'the greeting');
        writeFileSync(flag, ''); // raw mode is on: the script records the terminal, then sends SIGTERM
        await until(() => o().includes('status='), 'the exit');
      });
    expect(out).toContain('status=143');
    expect(readFileSync(during, 'utf8')).not.toBe(readFileSync(before, 'utf8'));
    expect(readFileSync(after, 'utf8')).toBe(readFileSync(before, 'utf8'));
  });
});
