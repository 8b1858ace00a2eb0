/**
 * `xenkit run <kernel.elf>`: read and inspect the kernel, build a Machine
 * whose console writes to stdout, and run it in slices until it stops,
 * yielding to the event loop between slices (SIGINT, and later console
 * input and the gdb stub, are served there). Then map the exit to a status
 * and tell the user what happened: nothing for a poweroff, a crash report
 * for a crash, one line otherwise.
 *
 * Wiring only: the loop, the machine and the formatters live in src/vmm;
 * the statuses in exit-codes.ts. The formatters (and the disassembler the
 * crash report needs) are imported only when used, to keep the start-up
 * of a run that just powers off short.
 */
import { readFileSync } from 'node:fs';
import { inspectKernel } from '../loader/kernel.js';
import { MAX_MEMORY, MIN_MEMORY, Machine, type MachineExit } from '../vmm/machine.js';
import { recordExceptions } from '../vmm/report/exceptions.js';
import { ANSI, PLAIN, type Palette } from '../vmm/report/style.js';
import { CliError, reportInternalError } from './errors.js';
import { EXIT, statusForExit, wantsCrashReport } from './exit-codes.js';
import { OrderedOutput, type OutStream } from './output.js';
import type { RunOptions } from './program.js';
import { parseSize } from './size.js';

/** Guest instructions per slice between event-loop turns (a few milliseconds). */
export const SLICE = 500_000;

/** What `run` needs from the process (fakes in tests). */
export interface RunHost {
  stdout: OutStream;
  stderr: OutStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Call `handler` on SIGINT until the returned function is called. */
  onInterrupt(handler: () => void): () => void;
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
  };
}

/** Colours on stderr only for a terminal, and never with NO_COLOR set (no-color.org). */
export function wantColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

/** Read the kernel file; a one-line CliError (status 2) when that fails. */
function readKernel(file: string): Uint8Array {
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

/** Run the machine in slices until it stops or SIGINT arrives. */
function runLoop(machine: Machine, out: OrderedOutput, host: RunHost): Promise<MachineExit | 'interrupted'> {
  return new Promise((resolve, reject) => {
    let interrupted = false;
    const off = host.onInterrupt(() => { interrupted = true; });
    const slice = (): void => {
      try {
        if (interrupted) {
          off();
          machine.pollDevices(); // what the guest left in its console ring
          out.flush();
          resolve('interrupted');
          return;
        }
        const exit = machine.step(SLICE);
        // Backends consume the rings at every slice end (Machine.pollDevices), so output never waits for a hypercall.
        if (exit === null) machine.pollDevices();
        out.flush();
        if (exit !== null) {
          off();
          resolve(exit);
          return;
        }
        setImmediate(slice);
      } catch (e) {
        off();
        reject(e);
      }
    };
    slice();
  });
}

/** `xenkit run`: resolves to the exit status; throws CliError / LoaderError for bad input. */
export async function runCommand(file: string, opts: RunOptions, host: RunHost = processHost()): Promise<number> {
  const memory = parseSize(opts.memory, '--memory', { min: MIN_MEMORY, max: MAX_MEMORY });
  const kernel = inspectKernel(readKernel(file), file);
  const out = new OrderedOutput(host.stdout, host.stderr);
  const palette: Palette = wantColour(host.stderr, host.env) ? ANSI : PLAIN;
  const machine = new Machine({ kernel, memory, cmdline: opts.cmdline, console: { write: (b) => out.stdout(b) } });
  const exceptions = recordExceptions(machine.cpu);
  const symbols = kernel.symbols;
  // A hook, even a silent one, makes the machine decode each call's arguments for the crash report's log.
  if (opts.trace === 'hypercalls') {
    const { formatTraceLine } = await import('../vmm/report/trace.js');
    machine.domain.onHypercall = (rec) => out.stderr(formatTraceLine(rec, symbols, palette) + '\n');
  } else {
    machine.domain.onHypercall = () => undefined;
  }

  const say = (line: string): void => {
    if (out.stdoutMidLine) out.stderr('\n');
    out.stderr(line);
  };
  let exit: MachineExit | 'interrupted';
  try {
    exit = await runLoop(machine, out, host);
  } catch (e) {
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

  const status = exit === 'interrupted' ? EXIT.INTERRUPTED : statusForExit(exit);
  if (status !== EXIT.POWEROFF) {
    const { describeExit, formatCrashReport, whereIs } = await import('../vmm/report/crash.js');
    if (exit === 'interrupted') {
      say(`xenkit: interrupted (SIGINT) after ${machine.cpu.icount} guest instructions, at ${whereIs(machine)}\n`);
    } else if (wantsCrashReport(status)) {
      say(formatCrashReport(machine, { exit, exceptions: exceptions.records, palette }));
    } else if (exit.kind === 'halted') {
      say(`xenkit: ${describeExit(exit)} (no event channel or timer can fire yet); stopped at hlt, ${whereIs(machine)}\n`);
    } else if (status === EXIT.REBOOT) {
      say(`xenkit: ${describeExit(exit)}; xenkit does not restart guests\n`);
    } else {
      say(`xenkit: ${describeExit(exit)}\n`);
    }
  }
  out.flush();
  return status;
}
