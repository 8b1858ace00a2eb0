/**
 * The gdb suite's harness: xenkit's `run --gdb` (src/cli/debug-run.ts) in
 * this process with a fake terminal, on an ephemeral loopback port, and
 * Debian's gdb (`gdb --batch -nx`) in a child process against it, with a
 * hard time limit on everything.
 *
 * The guests are template kernels built like the end-to-end tests'
 * (tests/e2e/guests.ts `buildGuest`): tests/guests/gdb.c for the
 * debugging scenarios, crash.c for the crash ones.
 */
import { spawn, spawnSync } from 'node:child_process';
import { debugRunCommand, type DebugRunDeps } from '../../src/cli/debug-run.js';
import type { RunHost } from '../../src/cli/run.js';
import type { RunOptions } from '../../src/cli/program.js';
import type { MachineTarget } from '../../src/vmm/debug-target.js';
import type { KernelWatcher } from '../../src/cli/watch.js';

/** Is gdb installed? (`.ci/run` installs it.) */
export const HAVE_GDB = spawnSync('gdb', ['--version'], { stdio: 'ignore' }).status === 0;

/** Warnings that mean gdb misunderstood the stub. */
export const BAD = /Architecture rejected|Truncated register|packet reply is too long|Remote failure reply|Protocol error|Ignoring packet error|Bogus trace status|Remote connection closed|unexpected/i;

/** A `xenkit run --gdb …` in this process. */
export interface Xenkit {
  /** Where the stub listens (0 without --gdb). */
  port: number;
  target: MachineTarget;
  watcher: KernelWatcher | null;
  /** The run's exit status, once it ends. */
  status: Promise<number>;
  /** Guest console output so far. */
  out(): string;
  /** xenkit's messages so far. */
  err(): string;
  /** SIGINT (Ctrl-C in xenkit's terminal). */
  interrupt(): void;
  /** Resolves once `pred(err())` holds (polled), or rejects after `ms`. */
  waitErr(pred: (err: string) => boolean, ms?: number): Promise<void>;
}

/** Start `xenkit run <kernel> --gdb 127.0.0.1:0 [opts]` in-process. */
export async function startXenkit(kernel: string, opts: Partial<RunOptions> = {}, deps: DebugRunDeps = {}): Promise<Xenkit> {
  let out = '', err = '';
  let handler: (() => void) | null = null;
  // One streaming decoder per stream: a write may end inside a multi-byte character.
  const decOut = new TextDecoder(), decErr = new TextDecoder();
  const host: RunHost = {
    stdout: { write: (c) => { out += typeof c === 'string' ? c : decOut.decode(c, { stream: true }); return true; } },
    stderr: { isTTY: false, write: (c) => { err += typeof c === 'string' ? c : decErr.decode(c, { stream: true }); return true; } },
    env: {},
    onInterrupt(f) { handler = f; return () => { handler = null; }; },
  };
  let ready: { port: number; target: MachineTarget; watcher: KernelWatcher | null } | null = null;
  const status = debugRunCommand(kernel, {
    memory: '32M', cmdline: '', deterministic: true, gdb: '127.0.0.1:0', ...opts,
  }, host, {
    ...deps,
    onReady: (info) => {
      ready = { port: info.gdb?.port ?? 0, target: info.target, watcher: info.watcher };
      deps.onReady?.(info);
    },
  });
  // Set-up errors reject `status` before onReady.
  await Promise.race([status.then(() => undefined), until(() => ready !== null, 20_000)]);
  if (ready === null) throw new Error(`xenkit ended during set-up (status ${await status}):\n${err}`);
  const r = ready as { port: number; target: MachineTarget; watcher: KernelWatcher | null };
  const x: Xenkit = {
    port: r.port,
    target: r.target,
    watcher: r.watcher,
    status,
    out: () => out.replace(/\r\n/g, '\n'),
    err: () => err,
    interrupt: () => handler?.(),
    waitErr: async (pred, ms = 20_000) => {
      try {
        await until(() => pred(err), ms);
      } catch {
        throw new Error(`timed out waiting for xenkit's messages; so far:\n${err}`);
      }
    },
  };
  return x;
}

/** Poll `pred` every 10 ms; reject after `ms`. */
export function until(pred: () => boolean, ms = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (pred()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out'));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

/** The status of a run, or a rejection after `ms`. */
export function statusWithin(x: Xenkit, ms = 20_000): Promise<number> {
  return Promise.race([
    x.status,
    new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`xenkit did not end within ${ms} ms:\n${x.err()}`)), ms)),
  ]);
}

export interface GdbResult {
  stdout: string;
  stderr: string;
  status: number | null;
  /** stdout and stderr together. */
  text: string;
}

export interface GdbOptions {
  /** The symbol file (default: none). */
  elf?: string;
  /** Extra arguments before the commands (e.g. ['-x', 'file']). */
  args?: readonly string[];
  /** Connect with `target remote` first (default true). */
  connect?: boolean;
  cwd?: string;
  timeoutMs?: number;
  /** Send gdb SIGINT (its Ctrl-C) once this holds (polled every 10 ms). */
  sigintWhen?: () => boolean;
}

/** Run `gdb --batch -nx` with these commands against the stub on `port`. */
export function runGdb(port: number, commands: readonly string[], o: GdbOptions = {}): Promise<GdbResult> {
  const args = ['--batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off', '-ex', 'set width 0', ...(o.args ?? []),
    ...(o.connect === false ? [] : ['-ex', `target remote 127.0.0.1:${port}`]),
    ...commands.flatMap((c) => ['-ex', c]), ...(o.elf !== undefined ? [o.elf] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn('gdb', args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb', LC_ALL: 'C' } });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stdout.on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stderr.on('data', (d: string) => { stderr += d; });
    let poll: ReturnType<typeof setInterval> | null = null;
    if (o.sigintWhen !== undefined) {
      const when = o.sigintWhen;
      poll = setInterval(() => {
        if (when()) {
          clearInterval(poll!);
          poll = null;
          child.kill('SIGINT');
        }
      }, 10);
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gdb timed out\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, o.timeoutMs ?? 20_000);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (poll !== null) clearInterval(poll);
      resolve({ stdout, stderr, status, text: `${stdout}\n${stderr}` });
    });
  });
}
