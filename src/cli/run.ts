/**
 * `xenkit run <kernel.elf>`: read and inspect the kernel, build a Machine
 * whose console writes to stdout and whose guest time comes from the host
 * clock (or, with --deterministic, from the instruction count), and run it
 * in slices until it stops, yielding to the event loop between slices
 * (SIGINT, and later console input and the gdb stub, are served there).
 * When the guest's vCPU sleeps (SCHEDOP_block, poll, PVH hlt) the machine
 * says until when, and the loop waits on a timer instead of spinning.
 * Then map the exit to a status and tell the user what happened: nothing
 * for a poweroff, a crash report for a crash, one line otherwise.
 *
 * Wiring only: the loop, the machine and the formatters live in src/vmm;
 * the statuses in exit-codes.ts. The formatters (and the disassembler the
 * crash report needs) are imported only when used, to keep the start-up
 * of a run that just powers off short. Several guests (`--and`) are
 * multi-run.ts's, which reuses this file's helpers (readKernel, waitMs,
 * endReport) but never the other way round.
 */
import { readFileSync } from 'node:fs';
import { inspectKernel } from '../loader/kernel.js';
import { MAX_MEMORY, MIN_MEMORY, Machine, type MachineExit } from '../vmm/machine.js';
import type { Clock } from '../vmm/xen/time.js';
import { recordExceptions, type ExceptionRecord } from '../vmm/report/exceptions.js';
import { ANSI, PLAIN, type Palette } from '../vmm/report/style.js';
import { CliError, reportInternalError } from './errors.js';
import { EXIT, statusForExit, wantsCrashReport } from './exit-codes.js';
import { OrderedOutput, type OutStream } from './output.js';
import type { RunOptions } from './program.js';
import { parseSize } from './size.js';
import { hostClock } from './host-clock.js';
import { ESCAPE_KEY_NAME, createConsoleHost, parseConsoleSpec, type StdinLike } from './console-host.js';
import { Pacer } from './pacer.js';

/** Guest instructions per slice between event-loop turns (a few milliseconds). */
export const SLICE = 500_000;

/** What `run` needs from the process (fakes in tests). */
export interface RunHost {
  stdout: OutStream;
  stderr: OutStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Call `handler` on SIGINT until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
  /** Host time for the guest (default: the process clock); unused with --deterministic. */
  clock?: Clock;
  /** The console's input for `--console stdio` (a function: stdin is opened only when used); omitted: no input. */
  stdin?: () => StdinLike;
  /** When a guest that has printed nothing gets its notice (default QUIET_NOTICE_MS; tests). */
  quietNoticeMs?: number;
}

/**
 * A guest that has printed nothing this long after start gets one line
 * on stderr saying what it does — running where, or sleeping in what —
 * when stderr is a terminal: a long boot does not look like a hang.
 */
export const QUIET_NOTICE_MS = 3000;

/** The quiet-guest notice: where the guest is and whether it runs or sleeps. */
export async function quietNotice(machine: Machine, afterMs: number): Promise<string> {
  const { whereIs } = await import('../vmm/report/crash.js');
  const dom = machine.domain;
  const secs = afterMs >= 1000 ? `${(afterMs / 1000).toFixed(afterMs % 1000 === 0 ? 0 : 1)} s` : `${afterMs} ms`;
  let what: string;
  if (dom.sleep !== null) {
    const how = dom.sleep.kind === 'poll' ? 'SCHEDOP_poll' : dom.sleep.hlt ? 'hlt' : 'SCHEDOP_block';
    what = `it sleeps in ${how} at ${whereIs(machine)}, waiting for an event`;
  } else {
    const m = machine.cpu.icount / 1e6;
    what = `it is running at ${whereIs(machine)}, ${m >= 10 ? Math.round(m) : m.toFixed(1)} million instructions so far`;
  }
  return `xenkit: the guest has printed nothing in ${secs}; ${what} (Ctrl-C stops it and says where)\n`;
}

/** The real process. */
export function processHost(): RunHost {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onInterrupt(handler) {
      process.on('SIGINT', handler);
      return () => { process.off('SIGINT', handler); };
    },
    clock: hostClock(),
    stdin: () => process.stdin,
  };
}

/** Host milliseconds to wait for `ns` of guest time (rounded up, so the deadline has passed on return). */
export function waitMs(ns: bigint): number {
  if (ns <= 0n) return 0;
  const ms = (ns + 999_999n) / 1_000_000n;
  return ms > 2_000_000_000n ? 2_000_000_000 : Number(ms);
}

/** Colours on stderr only for a terminal, and never with NO_COLOR set (no-color.org). */
export function wantColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** Read the kernel file; a one-line CliError (status 2) when that fails. */
export function readKernel(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file'
      : code === 'EACCES' ? 'permission denied'
        : code === 'EISDIR' ? 'is a directory, not a kernel file'
          : (e as Error).message;
    throw new CliError(`${file}: cannot read the kernel: ${why}`);
  }
}

/**
 * Run the machine in slices until it stops or SIGINT arrives. Between
 * slices the loop yields to the event loop (setImmediate); while the vCPU
 * sleeps it waits on a timer until the machine's deadline, or until the
 * machine's onWake (a host event source woke the vCPU) or SIGINT.
 */
function runLoop(machine: Machine, out: OrderedOutput, host: RunHost): Promise<MachineExit | 'interrupted'> {
  return new Promise((resolve, reject) => {
    const pacer = new Pacer(slice, host.onInterrupt);
    machine.onWake = pacer.now;
    const finish = (): void => {
      pacer.stop();
      machine.onWake = null;
    };
    function slice(): void {
      try {
        if (pacer.interrupted) {
          finish();
          machine.pollDevices(); // what the guest left in its console ring
          out.flush();
          resolve('interrupted');
          return;
        }
        const r = machine.step(SLICE);
        out.flush();
        if (r === null) {
          pacer.now();
          return;
        }
        if (r.kind === 'idle') {
          // Sleep until the deadline (or, with none, until onWake / SIGINT).
          if (r.waitNs !== null) pacer.after(waitMs(r.waitNs));
          return;
        }
        finish();
        resolve(r);
      } catch (e) {
        finish();
        reject(e);
      }
    }
    slice();
  });
}

/** How a guest's end is told (endReport). */
export interface EndContext {
  /** It was stopped with the console escape key (not SIGINT). */
  escaped: boolean;
  exceptions: readonly ExceptionRecord[];
  palette: Palette;
  /** Several guests (multi-run.ts): this guest's name, in "xenkit: [name] ..." and the crash report's heading. */
  name?: string;
}

/**
 * What stderr says when a guest ended with `status` other than poweroff:
 * one line, or a crash report. The formatters are imported here, only
 * when a guest did not power off.
 */
export async function endReport(machine: Machine, exit: MachineExit | 'interrupted', status: number, c: EndContext): Promise<string> {
  const { describeExit, formatCrashReport, whereIs } = await import('../vmm/report/crash.js');
  const xk = c.name === undefined ? 'xenkit:' : `xenkit: [${c.name}]`;
  if (exit === 'interrupted' && c.escaped) {
    return `${xk} quit with the console escape key (${ESCAPE_KEY_NAME}) after ${machine.cpu.icount} guest instructions, at ${whereIs(machine)}\n`;
  } else if (exit === 'interrupted') {
    return `${xk} interrupted (SIGINT) after ${machine.cpu.icount} guest instructions, at ${whereIs(machine)}\n`;
  } else if (wantsCrashReport(status)) {
    return formatCrashReport(machine, { exit, exceptions: c.exceptions, palette: c.palette, ...(c.name !== undefined ? { guest: c.name } : {}) });
  } else if (exit.kind === 'halted') {
    const how = exit.in === 'block' ? 'blocked in SCHEDOP_block' : exit.in === 'poll' ? 'blocked in SCHEDOP_poll' : 'stopped at hlt';
    const why = exit.in !== 'block' && exit.in !== 'poll' && !machine.cpu.interruptsEnabled
      ? 'interrupts disabled' : 'no timer armed and no event can arrive';
    return `${xk} ${describeExit(exit)} (${why}); ${how}, ${whereIs(machine)}\n`;
  } else if (status === EXIT.REBOOT) {
    return `${xk} ${describeExit(exit)}; xenkit does not restart guests\n`;
  }
  return `${xk} ${describeExit(exit)}\n`;
}

/** `xenkit run`: resolves to the exit status; throws CliError / LoaderError for bad input. */
export async function runCommand(file: string, opts: RunOptions, host: RunHost = processHost()): Promise<number> {
  // --gdb / --watch (and their companions): a run that outlives its guest, in debug-run.ts (loaded only then).
  if (opts.gdb !== undefined || opts.gdbWait === true || opts.watch === true || opts.build !== undefined || (opts.watchPath?.length ?? 0) > 0) {
    return (await import('./debug-run.js')).debugRunCommand(file, opts, host);
  }
  const memory = parseSize(opts.memory, '--memory', { min: MIN_MEMORY, max: MAX_MEMORY });
  const consoleSpec = parseConsoleSpec(opts.console ?? 'stdio');
  const kernel = inspectKernel(readKernel(file), file);
  const wantDevices = (opts.disk?.length ?? 0) + (opts.net?.length ?? 0) > 0;
  const devices = wantDevices
    ? await (await import('./devices.js')).openDevices(opts, file, (m) => { host.stderr.write(`xenkit: ${m}\n`); })
    : null;
  const out = new OrderedOutput(host.stdout, host.stderr);
  const palette: Palette = wantColour(host.stderr, host.env) ? ANSI : PLAIN;
  const clock = opts.deterministic === true ? undefined : host.clock ?? hostClock();
  let printed = false;
  const machine = new Machine({
    kernel, memory, cmdline: opts.cmdline, console: { write: (b) => { printed = true; consoleHost.write(b); } },
    ...(clock !== undefined ? { clock } : {}),
  });
  devices?.attach(machine);
  const exceptions = recordExceptions(machine.cpu);
  const symbols = kernel.symbols;
  // A hook, even a silent one, makes the machine decode each call's arguments for the crash report's log.
  if (opts.trace?.includes('hypercalls') === true) {
    const { formatTraceLine } = await import('../vmm/report/trace.js');
    machine.domain.onHypercall = (rec) => out.stderr(formatTraceLine(rec, symbols, palette) + '\n');
  } else {
    machine.domain.onHypercall = () => undefined;
  }
  if (opts.trace?.includes('xenstore') === true) {
    const { formatXsTrace } = await import('../vmm/devices/xenstore/trace.js');
    machine.xenstore.onTrace = (rec) => out.stderr(formatXsTrace(rec) + '\n');
  }
  if (opts.trace?.includes('events') === true) {
    const { formatEventTrace } = await import('../vmm/report/events-trace.js');
    machine.domain.events.onTrace = (rec) => out.stderr(formatEventTrace(rec) + '\n');
  }

  const say = (line: string): void => {
    if (out.stdoutMidLine) out.stderr('\n');
    out.stderr(line);
  };
  // The console (--console): guest output there, host input into the ring; the escape key stops the run like SIGINT.
  const consoleHost = await createConsoleHost(consoleSpec, {
    stdout: (b) => out.stdout(b), ...(host.stdin !== undefined ? { stdin: host.stdin() } : {}), info: (l) => say(`${l}\n`),
  });
  machine.asyncEventSources++;
  const hasInput = consoleHost.onInput((b) => machine.consoleInput(b), () => {
    machine.asyncEventSources--; // end of input: a vCPU waiting only for it can never wake
    machine.onWake?.();
  });
  if (!hasInput) machine.asyncEventSources--;
  let escaped = false;
  const loopHost: RunHost = {
    ...host,
    onInterrupt(handler) {
      const off = host.onInterrupt(handler);
      consoleHost.onQuit(() => { escaped = true; handler(); });
      return () => { off(); consoleHost.onQuit(() => undefined); };
    },
  };
  // On a terminal, a guest that stays silent gets one line saying what it does.
  const quietMs = host.quietNoticeMs ?? QUIET_NOTICE_MS;
  const quiet = host.stderr.isTTY === true
    ? setTimeout(() => {
      if (printed || machine.exit !== null) return;
      void quietNotice(machine, quietMs).then((line) => { if (!printed && machine.exit === null) { say(line); out.flush(); } });
    }, quietMs)
    : null;
  quiet?.unref();
  let exit: MachineExit | 'interrupted';
  try {
    exit = await runLoop(machine, out, loopHost);
  } catch (e) {
    if (quiet !== null) clearTimeout(quiet);
    machine.close();
    await consoleHost.close();
    out.flush();
    const status = reportInternalError(e, (s) => out.stderr(s), host.env);
    if (host.env.XENKIT_DEBUG === '1') {
      try {
        const { formatCrashReport } = await import('../vmm/report/crash.js');
        out.stderr(formatCrashReport(machine, { exit: null, exceptions: exceptions.records, palette }));
      } catch { /* the state may be what is broken */ }
    }
    out.flush();
    return status;
  }
  if (quiet !== null) clearTimeout(quiet);
  out.flush();
  machine.close(); // disks flushed and unlocked, sockets and capture files closed
  await consoleHost.close(); // the terminal back to normal before any report

  const status = exit === 'interrupted' ? EXIT.INTERRUPTED : statusForExit(exit);
  if (status !== EXIT.POWEROFF) say(await endReport(machine, exit, status, { escaped, exceptions: exceptions.records, palette }));
  out.flush();
  return status;
}
