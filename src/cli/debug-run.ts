/**
 * `xenkit run` with `--gdb` and/or `--watch`: a run that can outlive its
 * guest. The guest runs under a `MachineTarget` (src/vmm/debug-target.ts),
 * which drives the machine in slices and is the gdb stub's `DebugTarget`;
 * the stub (src/gdbstub) listens on `--gdb [HOST:]PORT`; watch mode
 * (watch.ts) rebuilds the kernel on changes and reboots the guest from the
 * new ELF in this process, with gdb still attached.
 *
 * When the run ends:
 *  - SIGINT (Ctrl-C in xenkit's terminal), the console's escape key, or
 *    gdb's `kill`: at once, status 130;
 *  - without watch mode, when the guest ends (poweroff, crash, …): at once
 *    when no debugger is attached, else when it detaches or disconnects
 *    (gdb hears `exited` for a poweroff, SIGSEGV for a crash so the crash
 *    can be inspected first); the status is the guest's, as for a plain run;
 *  - in watch mode, never by itself: an ended guest waits for the next
 *    successful build (or `monitor reset`), only Ctrl-C ends the run.
 *
 * Messages (all on stderr, prefixed `xenkit:`): where the stub listens and
 * the gdb command line to use, connections, what the watcher is doing
 * (rebuilding…, build errors, rebooted into …), and how the guest ended
 * (the same crash report and lines as a plain run).
 */
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { isAbsolute, relative, resolve } from 'node:path';
import {
  GdbServer, GdbStubError, exposureWarning, formatAddress, parseGdbAddress,
  type CreateListener, type GdbAddress,
} from '../gdbstub/index.js';
import { LoaderError } from '../loader/errors.js';
import { inspectKernel, type KernelImage } from '../loader/kernel.js';
import { MachineTarget } from '../vmm/debug-target.js';
import { MAX_MEMORY, MIN_MEMORY, Machine, type MachineExit } from '../vmm/machine.js';
import { describeExit, formatCrashReport, whereIs } from '../vmm/report/crash.js';
import { recordExceptions, type ExceptionLog } from '../vmm/report/exceptions.js';
import { ANSI, PLAIN, type Palette } from '../vmm/report/style.js';
import { formatTraceLine } from '../vmm/report/trace.js';
import { formatXsTrace } from '../vmm/devices/xenstore/trace.js';
import { formatEventTrace } from '../vmm/report/events-trace.js';
import { ESCAPE_KEY_NAME, createConsoleHost, parseConsoleSpec } from './console-host.js';
import type { OpenDevices } from './devices.js';
import { CliError, reportInternalError } from './errors.js';
import { EXIT, statusForExit, wantsCrashReport } from './exit-codes.js';
import { hostClock } from './host-clock.js';
import { OrderedOutput } from './output.js';
import type { RunOptions } from './program.js';
import { SLICE, readKernel, wantColour, type RunHost } from './run.js';
import { parseSize } from './size.js';
import { KernelWatcher, findProjectDir } from './watch.js';

/** Test and benchmark hooks; the CLI passes none. */
export interface DebugRunDeps {
  /** Relative paths are resolved here (default process.cwd()). */
  cwd?: string;
  /** The gdb listener factory (default net.createServer). */
  createListener?: CreateListener;
  /** Watch-mode debounce in milliseconds. */
  debounceMs?: number;
  /** Instructions per slice. */
  slice?: number;
  /** Everything is set up: the bound gdb address, the target, the watcher. */
  onReady?(info: { gdb: GdbAddress | null; target: MachineTarget; watcher: KernelWatcher | null }): void;
  /** The guest was rebooted into a new machine (watch mode or `monitor reset`). */
  onReboot?(machine: Machine): void;
}

/** Is this run one for debug-run rather than the plain loop? */
export function wantsDebugRun(opts: RunOptions): boolean {
  return opts.gdb !== undefined || opts.gdbWait === true || opts.watch === true ||
    opts.build !== undefined || (opts.watchPath !== undefined && opts.watchPath.length > 0);
}

/** `xenkit run` with --gdb / --watch: resolves to the exit status; throws CliError / LoaderError for bad input. */
export async function debugRunCommand(file: string, opts: RunOptions, host: RunHost, deps: DebugRunDeps = {}): Promise<number> {
  // Option combinations first: one line, status 2.
  if (opts.gdbWait === true && opts.gdb === undefined) throw new CliError('--gdb-wait needs --gdb [HOST:]PORT (where gdb connects)');
  if (opts.watch !== true) {
    if (opts.build !== undefined) throw new CliError('--build is for watch mode: add --watch');
    if (opts.watchPath !== undefined && opts.watchPath.length > 0) throw new CliError('--watch-path is for watch mode: add --watch');
  }
  const cwd = deps.cwd ?? process.cwd();
  const memory = parseSize(opts.memory, '--memory', { min: MIN_MEMORY, max: MAX_MEMORY });
  const consoleSpec = parseConsoleSpec(opts.console ?? 'stdio');
  let addr: GdbAddress | null = null;
  if (opts.gdb !== undefined) {
    try {
      addr = parseGdbAddress(opts.gdb);
    } catch (e) {
      if (e instanceof GdbStubError) throw new CliError(e.message);
      throw e;
    }
  }
  const kernelPath = isAbsolute(file) ? file : resolve(cwd, file);
  const watch = opts.watch === true;
  const project = watch ? findProjectDir(kernelPath) : cwd;
  if (watch && opts.build === undefined && !['GNUmakefile', 'makefile', 'Makefile'].some((m) => {
    try { readFileSync(resolve(project, m)); return true; } catch { return false; }
  })) {
    throw new CliError(`--watch: no Makefile in ${relative(cwd, project) || '.'} or above; say how to build the kernel with --build CMD`);
  }
  const firstBytes = readKernel(kernelPath);
  let kernel: KernelImage = inspectKernel(firstBytes, file);

  const out = new OrderedOutput(host.stdout, host.stderr);
  const palette: Palette = wantColour(host.stderr, host.env) ? ANSI : PLAIN;
  const clock = opts.deterministic === true ? undefined : host.clock ?? hostClock();
  const say = (text: string): void => {
    if (out.stdoutMidLine) out.stderr('\n');
    out.stderr(text);
    out.flush();
  };
  const consoleHost = await createConsoleHost(consoleSpec, {
    stdout: (b) => out.stdout(b), ...(host.stdin !== undefined ? { stdin: host.stdin() } : {}), info: (l) => say(`${l}\n`),
  });
  // Disks and NICs are opened once for the whole run and lent to each machine in turn
  // (a reboot keeps the image lock and the switch port or VXLAN socket; see src/vmm/devices/lease.ts).
  let devices: OpenDevices | null = null;
  if ((opts.disk?.length ?? 0) + (opts.net?.length ?? 0) > 0) {
    try {
      devices = await (await import('./devices.js')).openDevices(opts, kernelPath, (m) => say(`xenkit: ${m}\n`));
    } catch (e) {
      await consoleHost.close();
      throw e;
    }
  }

  let traceOn = opts.trace?.includes('hypercalls') === true;
  let traceXs = opts.trace?.includes('xenstore') === true;
  let traceEv = opts.trace?.includes('events') === true;
  let exceptions: ExceptionLog | null = null;
  let inputOpen = false;
  const setTrace = (m: Machine): void => {
    const symbols = m.kernel.symbols;
    // A hook, even a silent one, makes the machine decode each call's arguments for the crash report's log.
    m.domain.onHypercall = traceOn ? (rec) => out.stderr(formatTraceLine(rec, symbols, palette) + '\n') : () => undefined;
    m.xenstore.onTrace = traceXs ? (rec) => out.stderr(formatXsTrace(rec) + '\n') : null;
    m.domain.events.onTrace = traceEv ? (rec) => out.stderr(formatEventTrace(rec) + '\n') : null;
  };
  const makeMachine = (k: KernelImage): Machine => {
    const m = new Machine({
      kernel: k, memory, cmdline: opts.cmdline, console: { write: (b) => consoleHost.write(b) }, ...(clock !== undefined ? { clock } : {}),
    });
    devices?.lend(m);
    exceptions = recordExceptions(m.cpu);
    setTrace(m);
    if (inputOpen) m.asyncEventSources++;
    return m;
  };

  /** Disks flushed and unlocked, sockets and capture files closed (the current machine's backends first). */
  const closeDevices = (): void => {
    target.machine.close();
    devices?.close();
  };

  let finish: (status: number, line?: string) => void = () => undefined;
  const done = new Promise<number>((resolveDone) => {
    let finished = false;
    finish = (status, line) => {
      if (finished) return;
      finished = true;
      target.shutdown();
      offInterrupt();
      void (async () => {
        await server?.close();
        await watcher?.close();
        closeDevices();
        out.flush();
        await consoleHost.close();
        if (line !== undefined) say(line);
        out.flush();
        resolveDone(status);
      })();
    };
  });

  /** What a plain run prints when the guest ends (nothing for a poweroff). */
  const reportEnd = (exit: MachineExit, m: Machine): void => {
    const status = statusForExit(exit);
    if (status === EXIT.POWEROFF) return;
    if (wantsCrashReport(status)) say(formatCrashReport(m, { exit, exceptions: exceptions?.records ?? [], palette }));
    else if (exit.kind === 'halted') say(`xenkit: ${describeExit(exit)}; ${whereIs(m)}\n`);
    else say(`xenkit: ${describeExit(exit)}\n`);
  };

  const rebootMessage = (): string =>
    `xenkit: rebooted into the rebuilt ${file}. Unless gdb reads its symbols again by itself (the .gdbinit of \`xenkit new\` does), load them with\n  file ${kernelPath}\n`;

  const target: MachineTarget = new MachineTarget({
    machine: makeMachine(kernel),
    slice: deps.slice ?? SLICE,
    waitForDebugger: opts.gdbWait === true,
    keepAlive: watch,
    exitCode: (exit) => statusForExit(exit),
    hooks: {
      afterSlice: () => out.flush(),
      ended: (exit) => {
        const m = target.machine;
        reportEnd(exit, m);
        if (watch) {
          say(`xenkit: the guest has ended; waiting for a change to rebuild and reboot it (${target.attached ? 'gdb stays attached; ' : ''}Ctrl-C or Ctrl-] quits)\n`);
        } else if (!target.attached) {
          finish(statusForExit(exit));
        }
      },
      detached: () => {
        const exit = target.exit;
        // On the next turn: the server finishes its own bookkeeping (and its "disconnected" line) first.
        if (!watch && exit !== null) setImmediate(() => finish(statusForExit(exit)));
      },
      killed: () => finish(EXIT.INTERRUPTED, `xenkit: killed from gdb after ${target.machine.cpu.icount} guest instructions\n`),
      error: (e) => {
        out.flush();
        const status = reportInternalError(e, (s) => out.stderr(s), host.env);
        if (host.env.XENKIT_DEBUG === '1') {
          try {
            out.stderr(formatCrashReport(target.machine, { exit: null, exceptions: exceptions?.records ?? [], palette }));
          } catch { /* the state may be what is broken */ }
        }
        finish(status);
      },
      reset: () => {
        const m = makeMachine(kernel);
        deps.onReboot?.(m);
        return { machine: m, message: `xenkit: reset: rebooted ${file}` };
      },
      retired: (m) => m.close(),
      eventTrace: (on) => {
        traceEv = on;
        setTrace(target.machine);
        return `event trace ${on ? 'on' : 'off'} (on xenkit's stderr)`;
      },
      xenstoreTrace: (on) => {
        traceXs = on;
        setTrace(target.machine);
        return `xenstore trace ${on ? 'on' : 'off'} (on xenkit's stderr)`;
      },
      hypercallTrace: (on) => {
        traceOn = on;
        setTrace(target.machine);
        return `hypercall trace ${on ? 'on' : 'off'} (on xenkit's stderr)`;
      },
    },
  });

  // Console input goes to whichever machine runs now.
  inputOpen = true;
  target.machine.asyncEventSources++;
  const hasInput = consoleHost.onInput((b) => target.machine.consoleInput(b), () => {
    inputOpen = false;
    target.machine.asyncEventSources--; // end of input: a vCPU waiting only for it can never wake
    target.machine.onWake?.();
  });
  if (!hasInput) {
    inputOpen = false;
    target.machine.asyncEventSources--;
  }

  const interruptLine = (how: string): string =>
    `xenkit: ${how} after ${target.machine.cpu.icount} guest instructions, at ${whereIs(target.machine)}\n`;
  const offSigint = host.onInterrupt(() => finish(EXIT.INTERRUPTED, interruptLine('interrupted (SIGINT)')));
  consoleHost.onQuit(() => finish(EXIT.INTERRUPTED, interruptLine(`quit with the console escape key (${ESCAPE_KEY_NAME})`)));
  const offInterrupt = (): void => { offSigint(); consoleHost.onQuit(() => undefined); };

  let server: GdbServer | null = null;
  let bound: GdbAddress | null = null;
  let watcher: KernelWatcher | null = null;
  try {
    if (addr !== null) {
      server = new GdbServer({
        target,
        createListener: deps.createListener ?? ((cb) => net.createServer(cb)),
        log: (l) => say(`xenkit: ${l}\n`),
        session: { onError: (e) => say(`xenkit: internal error in the gdb target: ${e instanceof Error ? e.message : String(e)}\n`) },
      });
      try {
        bound = await server.listen(addr);
      } catch (e) {
        server = null;
        if (e instanceof GdbStubError) throw new CliError(e.message);
        throw e;
      }
      const warning = exposureWarning(bound);
      if (warning !== null) say(`xenkit: ${warning}\n`);
      const where = formatAddress(bound);
      say(`xenkit: gdb stub listening on ${where}: gdb ${file} -ex 'target remote ${where}'\n`);
      if (opts.gdbWait === true) say('xenkit: the guest waits for gdb before its first instruction\n');
    }
    if (watch) {
      watcher = new KernelWatcher({
        kernel: kernelPath, project, build: opts.build ?? null, paths: opts.watchPath ?? [], cwd,
        // What the run writes itself is no source change: images and their locks, captures, a console log.
        ignore: [...(consoleSpec.kind === 'file' ? [resolve(cwd, consoleSpec.path)] : []), ...(devices?.files ?? [])],
        ...(deps.debounceMs !== undefined ? { debounceMs: deps.debounceMs } : {}),
      }, {
        log: (l) => say(`xenkit: ${l}\n`),
        buildOutput: (text) => say(text),
        kernel: (bytes) => {
          let k: KernelImage;
          try {
            k = inspectKernel(bytes, file);
          } catch (e) {
            if (!(e instanceof LoaderError)) throw e;
            say(`xenkit: ${e.message}; the guest keeps running the old kernel\n`);
            return false;
          }
          kernel = k;
          const m = makeMachine(k);
          const how = target.reboot(m, rebootMessage());
          if (how === 'running') say(`xenkit: rebooted into ${file}\n`);
          else if (how === 'stopped') {
            say(`xenkit: rebooted into ${file}; ${target.attached ? 'gdb was told (the guest is stopped before its first instruction)' : 'the guest waits for gdb'}\n`);
          } else {
            say(`xenkit: ${file} was rebuilt; the guest reboots into it on gdb's next \`continue\` or on \`monitor reset\`\n`);
          }
          deps.onReboot?.(m);
          return true;
        },
      }, firstBytes);
      await watcher.start();
      say(`xenkit: ${watcher.describe()}\n`);
    }
  } catch (e) {
    offInterrupt();
    await server?.close();
    await watcher?.close();
    closeDevices();
    await consoleHost.close();
    throw e;
  }
  deps.onReady?.({ gdb: bound, target, watcher });
  target.start();
  return done;
}
