/**
 * `xenkit run A.elf [options] --and B.elf [options] ...`: several guests in
 * one process, each a Machine with its own devices and console, their vifs
 * meeting on `--net switch:NAME` (the switches live in the process's one
 * NetHost, src/cli/devices.ts). main.ts comes here only when the command
 * line has `--and`; a plain run never loads this file.
 *
 * Set-up, all before any guest starts: every group's options are checked
 * (--gdb/--watch and their companions take one guest), every kernel read,
 * every device opened (guest i gets ordinal i for its generated MACs, so
 * two guests booting one kernel differ), the machines built and the
 * consoles opened. Any failure is one line naming the guest ("xenkit:
 * guest 2: ...", status 2), after closing whatever was already opened.
 *
 * Names. Each guest is named after its kernel file ("netdemo.elf" →
 * netdemo), or its directory for the template's generic names
 * (build/netdemo/kernel.elf → netdemo), made unique with "-2", "-3"...
 * Guest i (from 1, in command-line order) is domain i, as a toolstack
 * numbers domains; each has the xenstore of its own machine.
 * The name is the domain's `name` in xenstore and the prefix of its
 * console lines ("[netdemo] ...", line-prefix.ts) and of what xenkit says
 * about it on stderr ("xenkit: [netdemo] powered off").
 *
 * Scheduling: one loop over the live machines on Node's event loop, like
 * run.ts's runLoop. A round steps each runnable machine for SLICE
 * instructions; setImmediate separates rounds (SIGINT, console input and
 * sockets are served there). A machine that reports idle is skipped until
 * its deadline passes or its onWake fires; when every live machine is
 * idle the loop sleeps on one timer, to the earliest deadline, or until a
 * wake or SIGINT. A frame one guest sends over a switch is queued at once
 * in the other guest's netback, whose onWork makes that machine's onWake
 * fire: the receiver is stepped in the same or the next round. While a
 * guest shares a switch with another live guest, that peer counts as a
 * host event source of its machine (asyncEventSources): a guest waiting
 * for a frame with no timer is waiting, not halted. When its last peer
 * ends, that source goes and such a guest ends 'halted', as alone; so do
 * all of them when every live guest sleeps with no deadline and none has
 * a real host source (each waits for another: nothing can ever come).
 * The rhythm itself (turns, timers, SIGINT, keeping Node alive while
 * only host events can wake a guest) is pacer.ts, as for one guest.
 *
 * Lockstep: when every guest runs on the deterministic clock, they share
 * one guest time. Each round moves a horizon LOCKSTEP_QUANTUM_NS forward;
 * every live guest runs, or sleeps (Machine.skipLimitNs), up to it and no
 * further, so a guest that sleeps until a far timer cannot leave its peers
 * behind. When every guest sleeps the horizon jumps to the earliest
 * deadline; no host time is waited for. The order of everything depends
 * only on the guests and their input: the run is reproducible.
 *
 * Ending: each guest ends on its own; a line on stderr says how, as it
 * happens (run.ts's endReport, with the guest's name). SIGINT or the
 * console escape key ends all that still run (status 130 each). The run
 * ends when every guest has; its status is 0 when every guest powered
 * off, else the first guest's, in command-line order, that did not.
 * stdin is the console input of the first guest whose console is stdio.
 */
import { basename, dirname, resolve } from 'node:path';
import { inspectKernel, type KernelImage } from '../loader/kernel.js';
import { LoaderError } from '../loader/errors.js';
import { MAX_MEMORY, MIN_MEMORY, Machine, type MachineExit } from '../vmm/machine.js';
import type { ConsoleHost } from '../vmm/devices/console.js';
import { recordExceptions, type ExceptionLog } from '../vmm/report/exceptions.js';
import { ANSI, PLAIN, type Palette } from '../vmm/report/style.js';
import { CliError, reportInternalError } from './errors.js';
import { EXIT, statusForExit } from './exit-codes.js';
import { OrderedOutput } from './output.js';
import type { GuestArgs } from './program.js';
import { parseSize } from './size.js';
import { hostClock } from './host-clock.js';
import { createConsoleHost, parseConsoleSpec, type ConsoleSpec } from './console-host.js';
import { LinePrefixer } from './line-prefix.js';
import { SLICE, endReport, processHost, readKernel, waitMs, wantColour, type RunHost } from './run.js';
import type { OpenDevices } from './devices.js';
import { Pacer } from './pacer.js';

/**
 * Lockstep (every guest --deterministic): guest time added to the common
 * horizon per round. A frame reaches its receiver at most this much guest
 * time late; the same as SLICE in instructions, so rounds cost the same.
 */
const LOCKSTEP_QUANTUM_NS = BigInt(SLICE);

/** File names too generic to tell guests apart: the directory names the guest instead. */
const GENERIC_NAMES = new Set(['kernel', 'kernel-pvh', 'vmlinux', 'vmlinuz']);
/** Directory names skipped when looking for a guest's name (build/netdemo/kernel.elf → netdemo). */
const BUILD_DIRS = new Set(['build', 'out', 'dist', 'bin', 'obj']);

/**
 * The guests' names, unique, in order: the kernel file's name without
 * ".elf", or for generic names (kernel.elf, kernel-pvh.elf) the nearest
 * directory that is not a build directory; repeats get "-2", "-3", ...
 */
export function guestNames(files: readonly string[]): string[] {
  const used = new Set<string>();
  return files.map((file) => {
    let base = basename(file).replace(/\.elf$/i, '');
    if (GENERIC_NAMES.has(base)) {
      let dir = dirname(resolve(file));
      while (BUILD_DIRS.has(basename(dir)) && dirname(dir) !== dir) dir = dirname(dir);
      if (basename(dir) !== '') base = basename(dir);
    }
    if (base === '') base = 'guest';
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}-${n}`;
    used.add(name);
    return name;
  });
}

/** One guest of the run. */
interface Guest {
  /** 1-based position on the command line. */
  readonly n: number;
  readonly name: string;
  readonly machine: Machine;
  readonly console: ConsoleHost;
  readonly prefixer: LinePrefixer;
  readonly exceptions: ExceptionLog;
  /** The switches its vifs are on. */
  readonly switches: ReadonlySet<string>;
  exit: MachineExit | 'interrupted' | null;
  /** Skipped by the loop until `wakeAt` (performance.now() ms; null: until woken). */
  idle: boolean;
  wakeAt: number | null;
  /** onWake fired since it went idle. */
  woken: boolean;
  /** Lockstep: the system time its sleep ends (null: when woken). */
  untilNs: bigint | null;
  /** A peer on one of its switches counts as a host event source (see the header). */
  peerSource: boolean;
}

/** What one guest's options became, before anything is opened. */
interface Plan {
  n: number;
  file: string;
  name: string;
  opts: GuestArgs['opts'];
  memory: number;
  consoleSpec: ConsoleSpec;
  kernel: KernelImage;
  switches: Set<string>;
  wantDevices: boolean;
}

/** Rethrow a user error as one line naming the guest. */
function forGuest<T>(n: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw tagged(n, e);
  }
}

function tagged(n: number, e: unknown): unknown {
  if (e instanceof CliError) return new CliError(`guest ${n}: ${e.message}`, e.status);
  if (e instanceof LoaderError) return new CliError(`guest ${n}: ${e.message}`, EXIT.USAGE);
  return e;
}

/** The options that make a run outlive its guest, which only a single guest may use. */
function debugOption(opts: GuestArgs['opts']): string | null {
  if (opts.gdb !== undefined) return '--gdb';
  if (opts.gdbWait === true) return '--gdb-wait';
  if (opts.watch === true) return '--watch';
  if (opts.build !== undefined) return '--build';
  if ((opts.watchPath?.length ?? 0) > 0) return '--watch-path';
  return null;
}

/** Validate every guest's options and read every kernel (nothing opened yet). */
async function plan(guests: readonly GuestArgs[]): Promise<Plan[]> {
  guests.forEach((g, i) => {
    const d = debugOption(g.opts);
    if (d !== null) throw new CliError(`guest ${i + 1}: ${d}: debugging and watch mode take one guest (run it without --and)`);
  });
  const names = guestNames(guests.map((g) => g.kernel));
  const wantDevices = guests.some((g) => (g.opts.disk?.length ?? 0) + (g.opts.net?.length ?? 0) > 0);
  const devices = wantDevices ? await import('./devices.js') : null;
  const files = new Map<string, number>();
  return guests.map((g, i) => forGuest(i + 1, () => {
    const memory = parseSize(g.opts.memory, '--memory', { min: MIN_MEMORY, max: MAX_MEMORY });
    const consoleSpec = parseConsoleSpec(g.opts.console ?? 'stdio');
    if (consoleSpec.kind === 'file') {
      const other = files.get(resolve(consoleSpec.path));
      if (other !== undefined) throw new CliError(`--console file:${consoleSpec.path}: guest ${other} writes its console there already`);
      files.set(resolve(consoleSpec.path), i + 1);
    }
    const kernel = inspectKernel(readKernel(g.kernel), g.kernel);
    const switches = new Set<string>();
    if (devices !== null) {
      for (const c of devices.parseDevices(g.opts, g.kernel, i).nets) if (c.backend.kind === 'switch') switches.add(c.backend.name);
    }
    return {
      n: i + 1, file: g.kernel, name: names[i]!, opts: g.opts, memory, consoleSpec, kernel, switches,
      wantDevices: (g.opts.disk?.length ?? 0) + (g.opts.net?.length ?? 0) > 0,
    };
  }));
}

/** `xenkit run ... --and ...`: resolves to the exit status; throws CliError for bad input (see the header). */
export async function multiRunCommand(args: readonly GuestArgs[], host: RunHost = processHost()): Promise<number> {
  const plans = await plan(args);
  const out = new OrderedOutput(host.stdout, host.stderr);
  const palette: Palette = wantColour(host.stderr, host.env) ? ANSI : PLAIN;
  const say = (line: string): void => { out.stderr(line); };
  const tag = (name: string, line: string): string => line.replace(/^xenkit: /, `xenkit: [${name}] `);

  // Open everything, in order; on a failure close what was opened.
  const opened: OpenDevices[] = [];
  const consoles: ConsoleHost[] = [];
  const guests: Guest[] = [];
  const closeAll = async (): Promise<void> => {
    for (const d of opened) d.close();
    for (const g of guests) g.machine.close();
    for (const c of consoles) await c.close();
  };
  let stdinTaken = false;
  try {
    const devices: (OpenDevices | null)[] = [];
    for (const p of plans) {
      const warn = (m: string): void => say(`xenkit: [${p.name}] ${m}\n`);
      const d = p.wantDevices
        ? await (await import('./devices.js')).openDevices(p.opts, p.file, warn, p.n - 1, (m) => say(`xenkit: ${m}\n`)).catch((e: unknown) => { throw tagged(p.n, e); })
        : null;
      if (d !== null) opened.push(d);
      devices.push(d);
    }
    const clock = host.clock ?? hostClock();
    for (const p of plans) {
      const prefixer = new LinePrefixer(`[${p.name}] `, (b) => out.stdout(b));
      const holder: { console: ConsoleHost | null } = { console: null };
      const machine = forGuest(p.n, () => new Machine({
        kernel: p.kernel, memory: p.memory, cmdline: p.opts.cmdline, name: p.name, domid: p.n,
        console: { write: (b) => holder.console?.write(b) },
        ...(p.opts.deterministic === true ? {} : { clock }),
      }));
      const d = devices[p.n - 1];
      if (d !== null && d !== undefined) {
        d.attach(machine);
        opened.splice(opened.indexOf(d), 1); // the machine owns them now
      }
      // stdin is the first stdio console's input; the other stdio consoles only print.
      const giveStdin = p.consoleSpec.kind === 'stdio' && !stdinTaken && host.stdin !== undefined;
      if (giveStdin) stdinTaken = true;
      const console = await createConsoleHost(p.consoleSpec, {
        stdout: (b) => prefixer.write(b),
        ...(giveStdin ? { stdin: host.stdin!() } : {}),
        info: (l) => say(`${tag(p.name, l)}\n`),
      }).catch((e: unknown) => { machine.close(); throw tagged(p.n, e); });
      holder.console = console;
      consoles.push(console);
      guests.push({
        n: p.n, name: p.name, machine, console, prefixer, exceptions: recordExceptions(machine.cpu), switches: p.switches,
        exit: null, idle: false, wakeAt: null, woken: false, untilNs: null, peerSource: false,
      });
    }
  } catch (e) {
    await closeAll();
    out.flush();
    throw e;
  }

  // Hypercall hooks: traces (--trace hypercalls) with the guest's name; a silent hook otherwise (the crash report's log).
  const traces = (g: Guest, kind: 'hypercalls' | 'xenstore' | 'events'): boolean => plans[g.n - 1]!.opts.trace?.includes(kind) === true;
  if (guests.some((g) => traces(g, 'hypercalls'))) {
    const { formatTraceLine } = await import('../vmm/report/trace.js');
    for (const g of guests) {
      const symbols = g.machine.kernel.symbols;
      g.machine.domain.onHypercall = traces(g, 'hypercalls')
        ? (rec) => out.stderr(`[${g.name}] ${formatTraceLine(rec, symbols, palette)}\n`)
        : () => undefined;
    }
  } else {
    for (const g of guests) g.machine.domain.onHypercall = () => undefined;
  }
  if (guests.some((g) => traces(g, 'xenstore'))) {
    const { formatXsTrace } = await import('../vmm/devices/xenstore/trace.js');
    for (const g of guests) {
      if (traces(g, 'xenstore')) g.machine.xenstore.onTrace = (rec) => out.stderr(`[${g.name}] ${formatXsTrace(rec)}\n`);
    }
  }
  if (guests.some((g) => traces(g, 'events'))) {
    const { formatEventTrace } = await import('../vmm/report/events-trace.js');
    for (const g of guests) {
      if (traces(g, 'events')) g.machine.domain.events.onTrace = (rec) => out.stderr(`[${g.name}] ${formatEventTrace(rec)}\n`);
    }
  }

  // Console input, and peers on a switch as host event sources.
  for (const g of guests) {
    const m = g.machine;
    m.asyncEventSources++;
    const hasInput = g.console.onInput((b) => m.consoleInput(b), () => {
      m.asyncEventSources--; // end of input: a vCPU waiting only for it can never wake
      m.onWake?.();
    });
    if (!hasInput) m.asyncEventSources--;
  }
  let peersCount = true;
  updatePeers(guests);

  // How each guest ended, told in the order they end (reports may need the crash formatters: async, chained).
  const statuses = new Map<Guest, number>();
  let reports: Promise<void> = Promise.resolve();
  let escaped = false;
  const closing: Promise<void>[] = [];
  const ended = (g: Guest): void => {
    g.prefixer.flush();
    g.machine.close(); // disks flushed and unlocked, switch ports and captures closed
    closing.push(g.console.close());
    const exit = g.exit!;
    const status = exit === 'interrupted' ? EXIT.INTERRUPTED : statusForExit(exit);
    statuses.set(g, status);
    reports = reports.then(async () => {
      say(status === EXIT.POWEROFF
        ? `xenkit: [${g.name}] powered off\n`
        : await endReport(g.machine, exit, status, { escaped, exceptions: g.exceptions.records, palette, name: g.name }));
      out.flush();
    });
    updatePeers(guests, peersCount);
  };
  // Every live guest sleeps with no deadline, waiting for the others, and no host event can come: none ever will.
  const stuck = (): void => {
    peersCount = false;
    updatePeers(guests, false);
  };

  const loopHost: RunHost = {
    ...host,
    onInterrupt(handler) {
      const off = host.onInterrupt(handler);
      for (const g of guests) g.console.onQuit(() => { escaped = true; handler(); });
      return () => {
        off();
        for (const g of guests) g.console.onQuit(() => undefined);
      };
    },
  };
  try {
    const interrupted = await roundRobin(guests, out, loopHost, ended, stuck);
    if (interrupted) {
      for (const g of guests) {
        if (g.exit !== null) continue;
        g.machine.pollDevices(); // what the guest left in its console ring
        g.exit = 'interrupted';
        ended(g);
      }
    }
  } catch (e) {
    for (const g of guests) g.prefixer.flush();
    await closeAll();
    out.flush();
    const status = reportInternalError(e, (s) => out.stderr(s), host.env);
    out.flush();
    return status;
  }
  await reports;
  await Promise.all(closing);
  out.flush();
  for (const g of guests) {
    const s = statuses.get(g) ?? EXIT.INTERNAL;
    if (s !== EXIT.POWEROFF) return s;
  }
  return EXIT.POWEROFF;
}

/**
 * Count a live peer on a shared switch as a host event source of each
 * live guest (see the header); a guest that lost its last peer is woken
 * so that a sleep nothing can end now ends it. `enabled` false: peers
 * count no more (they are all asleep for good).
 */
function updatePeers(guests: readonly Guest[], enabled = true): void {
  for (const g of guests) {
    if (g.exit !== null) continue;
    const peer = enabled && guests.some((o) => o !== g && o.exit === null && [...o.switches].some((s) => g.switches.has(s)));
    if (peer === g.peerSource) continue;
    g.peerSource = peer;
    g.machine.asyncEventSources += peer ? 1 : -1;
    if (!peer) g.machine.onWake?.();
  }
}

/**
 * Step the live guests round-robin until all have ended (resolves false)
 * or SIGINT / the escape key (true); `ended` hears of each guest as its
 * machine stops. See the header for the rules.
 */
function roundRobin(
  guests: readonly Guest[], out: OrderedOutput, host: RunHost, ended: (g: Guest) => void, stuck: () => void,
): Promise<boolean> {
  // Every guest on the deterministic clock: one common guest time (see the header).
  const lockstep = guests.every((g) => g.machine.domain.time.deterministic);
  let horizon = 0n;
  return new Promise((resolvePromise, reject) => {
    const pacer = new Pacer(round, host.onInterrupt);
    const schedule = pacer.now;
    for (const g of guests) g.machine.onWake = () => { g.woken = true; schedule(); };
    const finish = (): void => {
      pacer.stop();
      for (const g of guests) g.machine.onWake = null;
    };
    function round(): void {
      try {
        if (pacer.interrupted) {
          finish();
          resolvePromise(true);
          return;
        }
        if (lockstep) horizon += LOCKSTEP_QUANTUM_NS;
        for (const g of guests) {
          if (g.exit !== null) continue;
          let budget = SLICE;
          if (lockstep) {
            // Each guest runs (or sleeps) up to the horizon, no further.
            g.machine.skipLimitNs = horizon;
            const ahead = horizon - g.machine.domain.time.nowNs();
            if (ahead <= 0n) continue;
            budget = ahead > 1n << 30n ? 2 ** 30 : Number(ahead);
          } else if (g.idle && !g.woken && (g.wakeAt === null || g.wakeAt > performance.now())) continue;
          g.idle = false;
          g.woken = false;
          const r = g.machine.step(budget);
          if (r === null) continue;
          if (r.kind === 'idle') {
            g.idle = true;
            g.untilNs = r.untilNs;
            g.wakeAt = r.waitNs === null ? null : performance.now() + waitMs(r.waitNs);
            continue;
          }
          g.exit = r;
          ended(g);
        }
        out.flush();
        if (guests.every((g) => g.exit !== null)) {
          finish();
          resolvePromise(false);
          return;
        }
        if (pacer.pending) return; // a wake during the round already asked for the next one
        if (lockstep) {
          const live = guests.filter((g) => g.exit === null);
          if (live.some((g) => !g.idle || g.woken)) {
            schedule();
            return;
          }
          // All asleep: the horizon jumps to the earliest deadline (no host time is waited for).
          let next: bigint | null = null;
          for (const g of live) if (g.untilNs !== null && (next === null || g.untilNs < next)) next = g.untilNs;
          if (next !== null) {
            if (next - LOCKSTEP_QUANTUM_NS > horizon) horizon = next - LOCKSTEP_QUANTUM_NS;
            schedule();
            return;
          }
          // No deadline at all: as below, stuck or waiting for host events.
        }
        // Another round at once if any guest can run; else sleep until the earliest deadline (or a wake).
        const now = performance.now();
        let earliest = Infinity;
        for (const g of guests) {
          if (g.exit !== null) continue;
          if (!g.idle || g.woken) earliest = now;
          else if (g.wakeAt !== null && g.wakeAt < earliest) earliest = g.wakeAt;
        }
        if (earliest <= now) {
          schedule();
        } else if (earliest !== Infinity) {
          pacer.after(Math.ceil(earliest - now));
        } else if (guests.every((g) => g.exit !== null || g.machine.asyncEventSources === (g.peerSource ? 1 : 0))) {
          stuck(); // wakes them (onWake → schedule): each then ends 'halted'
        }
        // Otherwise waiting for host events only (console input, a VXLAN frame): a wake or SIGINT ends the wait.
      } catch (e) {
        finish();
        reject(e);
      }
    }
    round();
  });
}
