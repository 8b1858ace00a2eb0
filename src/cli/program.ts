/**
 * The `xenkit` command line (commander): commands, options, help text and
 * the exit-status table. What a command does lives elsewhere; the action
 * handlers given here only receive the parsed values.
 */
import { Command, InvalidArgumentError } from 'commander';
import { exitStatusHelp } from './exit-codes.js';
import { CliError } from './errors.js';

/** Parsed options of `xenkit run`. */
export interface RunOptions {
  memory: string;
  cmdline: string;
  /** `--trace`, repeatable or comma-separated: what to trace to stderr. */
  trace?: TraceKind[];
  /** Guest time from the instruction count instead of the host clock. */
  deterministic?: boolean;
  /** Where the guest console goes: stdio (default), file:PATH or tcp:PORT (console-host.ts). */
  console?: string;
  /** `--gdb [HOST:]PORT`: serve gdb's remote protocol there (debug-run.ts). */
  gdb?: string;
  /** `--gdb-wait`: stop before the first guest instruction until gdb resumes the guest. */
  gdbWait?: boolean;
  /** `--watch`: rebuild on source changes and reboot into the new kernel (watch.ts). */
  watch?: boolean;
  /** `--build CMD`: the watch mode's build command (default `make` in the project directory). */
  build?: string;
  /** `--disk PATH[,ro][,vdev=xvdb]`, repeatable: paravirtual disks (devices.ts). */
  disk?: string[];
  /** `--net SPEC`, repeatable: paravirtual NICs (devices.ts). */
  net?: string[];
  /** `--watch-path GLOB`, repeatable: what watch mode watches (default the project directory). */
  watchPath?: string[];
}

export interface ProgramHooks {
  version: string;
  /** `xenkit run`: resolves to the exit status. */
  run(kernel: string, opts: RunOptions): Promise<number>;
  /** `xenkit new`: resolves to the exit status. */
  newProject(dir: string): Promise<number>;
  /** `xenkit doctor`: resolves to the exit status. */
  doctor(): Promise<number>;
  /** `xenkit demo`: boot the template demo kernel with `xenkit run`'s options. */
  demo(opts: RunOptions): Promise<number>;
  /** Where commander writes help (stdout) and errors (stderr). */
  writeOut(s: string): void;
  writeErr(s: string): void;
}

/**
 * The --memory range for help, written out so that help never loads the
 * VMM; a test keeps it equal to machine.ts's MIN_MEMORY and MAX_MEMORY.
 */
export const MEMORY_RANGE_HELP = '4M to 1536M';

const ENVIRONMENT = `Environment:
  NO_COLOR       set (non-empty) to disable colours on stderr
  XENKIT_DEBUG   set to 1 to print stack traces of internal errors`;

const RUN_NOTES = `Guest console output goes to stdout (or where --console says) and stdin is the
guest's console input; on a terminal every key goes to the guest, and Ctrl-]
quits. Traces, crash reports and xenkit's own messages go to stderr. On a
guest crash (SHUTDOWN_crash, an exception with no handler, a triple fault)
xenkit prints a crash report: registers, the faulting instruction, a
symbolized backtrace and the last hypercalls.`;

const DEBUG_NOTES = `Debugging and watch mode (docs/gdb.md):
  --gdb 1234 listens on 127.0.0.1:1234; any other host must be named (e.g.
  --gdb 0.0.0.0:1234) and prints a warning: the protocol has no authentication.
  Under gdb a guest crash stops with SIGSEGV instead of ending the run, and the
  run ends when gdb detaches. --watch rebuilds the kernel when a source changes
  and reboots the guest into it, gdb staying attached; a failed build keeps the
  old guest. In watch mode only Ctrl-C (Ctrl-] on a terminal console) ends it.

Examples:
  xenkit run build/kernel.elf --gdb 1234 --gdb-wait   # then: gdb build/kernel.elf -ex 'target remote :1234'
  xenkit run build/kernel.elf --watch                 # make and reboot on every change
  xenkit run build/kernel.elf --gdb 1234 --watch --build 'make pv' --watch-path 'kernel/**/*.c' --watch-path app`;

const MULTI_NOTES = `Several guests in one process (docs/cli.md, "Several guests"):
  --and separates guests: each group is a kernel and that guest's own options
  (--memory, --cmdline, --trace, --deterministic, --console, --disk, --net).
  The guests run side by side, their vifs meeting on --net switch:NAME. Each
  guest's console lines go to stdout prefixed with its name ("[netdemo] ...",
  the kernel file's name, or its directory's for kernel.elf; made unique with
  -2, -3, ...); stdin goes to the first guest whose console is stdio. Ctrl-C
  (or Ctrl-] on a terminal console) ends every guest; --gdb and --watch take
  one guest. With --deterministic on every guest they share one guest time
  (lockstep), and the same guests print the same bytes on every run. An
  option value that is literally --and is written --opt=--and.

Example (both end by themselves: netdemo's ping= and answer=):
  xenkit run build/netdemo/kernel.elf --net switch:lan --cmdline 'ip=10.0.0.2/24 answer=4' \\
         --and build/netdemo/kernel.elf --net switch:lan --cmdline 'ip=10.0.0.3/24 ping=10.0.0.2'`;

const MULTI_STATUS = `With several guests (--and), the exit status is 0 when every guest powered off,
else the status of the first guest, in command-line order, that did not (130
for guests still running at Ctrl-C); one line per guest on stderr says how it
ended ("xenkit: [name] powered off"; crash reports name the guest).`;

/** What `--trace` can trace. */
export const TRACE_KINDS = ['hypercalls', 'xenstore', 'events'] as const;
export type TraceKind = (typeof TRACE_KINDS)[number];

/** Collects `--trace` values: repeatable, each a comma-separated list of TRACE_KINDS. */
function collectTrace(value: string, previous: TraceKind[] | undefined): TraceKind[] {
  const out = [...(previous ?? [])];
  for (const v of value.split(',')) {
    if (!(TRACE_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`Allowed choices are ${TRACE_KINDS.join(', ')}.`);
    if (!out.includes(v as TraceKind)) out.push(v as TraceKind);
  }
  return out;
}

const TRACE_HELP = 'trace to stderr, repeatable or comma-separated: "hypercalls" (each hypercall with its decoded arguments, result and symbolized caller), "xenstore" (each xenstore request with its reply, and each watch event: the xenbus handshakes step by step), "events" (each event-channel send, backend notification and VIRQ, and whether it calls for an upcall)';

/** Collects the values of a repeatable option. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** commander's error text as one line: "xenkit: <prefix>unknown option '--foo' (Did you mean --memory?)". */
function oneLineError(prefix: string): (str: string, write: (s: string) => void) => void {
  return (str, write) => write(`xenkit: ${prefix}${str.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`);
}

/**
 * The kernel argument and the options of `xenkit run`, added to `cmd`: the
 * one option table behind both the \`run\` command and the per-guest groups
 * of a multi-guest run (parseGuestArgs), so help, validation and errors are
 * the same in both.
 */
function defineRun(cmd: Command): Command {
  return cmd
    .description('boot a guest kernel and run it until it shuts down (--and: several guests)')
    .usage('[options] <kernel.elf> [--and <kernel.elf> [options]]...')
    .argument('<kernel.elf>', 'the guest kernel: a 32-bit Xen PV (PAE) or PVH ELF file')
    .option('-m, --memory <size>', `guest RAM: a number with K, M or G (binary units; a bare number is MiB), from ${MEMORY_RANGE_HELP}`, '64M')
    .option('-c, --cmdline <str>', 'the guest kernel command line', '')
    .option('-t, --trace <what>', TRACE_HELP, collectTrace)
    .option('--deterministic', 'guest time follows the instruction count (1 ns each, idle time skipped) instead of the host clock: the same kernel and input give the same output on every run')
    .option('--console <where>', 'the guest console: "stdio" (stdout and stdin; on a terminal, raw mode with Ctrl-] to quit), "file:PATH" (output to PATH) or "tcp:PORT" (a server on 127.0.0.1:PORT)', 'stdio')
    .option('--disk <spec>', 'a paravirtual disk, repeatable: PATH[,ro][,vdev=xvdb] (a raw image; see docs/devices.md)', collect)
    .option('--net <spec>', 'a paravirtual NIC, repeatable: switch:NAME or vxlan:REMOTE[:PORT],vni=N[,local=ADDR[:PORT]], each with [,mac=MAC][,pcap=PATH] (see docs/devices.md)', collect)
    .option('--gdb <[host:]port>', 'serve gdb\'s remote protocol on this TCP port (on 127.0.0.1 unless a host is named); see docs/gdb.md')
    .option('--gdb-wait', 'with --gdb: stop before the first guest instruction until gdb continues')
    .option('--watch', 'rebuild the kernel when a source changes and reboot the guest into it (gdb stays attached)')
    .option('--build <cmd>', 'with --watch: the build command (default: make, in the nearest directory at or above the kernel with a Makefile)')
    .option('--watch-path <glob>', 'with --watch: what to watch, repeatable (default: that directory, minus the kernel\'s build directory)', collect)
    .addHelpText('after', `\n${MULTI_NOTES}\n\n${DEBUG_NOTES}`)
    .addHelpText('after', `\n${RUN_NOTES}\n\n${MULTI_STATUS}\n\n${exitStatusHelp()}\n\n${ENVIRONMENT}`);
}

/** The separator of guests on a `xenkit run` command line. */
export const AND = '--and';

/**
 * Split `xenkit run`'s arguments (after "run") at every `--and` into one
 * group per guest. Pure. A `--and` first, last or twice in a row leaves a
 * guest with nothing: a one-line CliError (status 2). Every `--and` token
 * separates, even where an option value was expected (`--cmdline=--and`
 * passes the literal).
 */
export function splitGuestArgs(args: readonly string[]): string[][] {
  const groups: string[][] = [[]];
  for (const a of args) {
    if (a === AND) groups.push([]);
    else groups[groups.length - 1]!.push(a);
  }
  if (groups.length > 1) {
    const empty = groups.findIndex((g) => g.length === 0);
    if (empty === 0) throw new CliError(`${AND} goes between guests, not first: xenkit run A.elf [options] ${AND} B.elf [options]`);
    if (empty > 0) throw new CliError(`${AND} must be followed by a kernel and its options: xenkit run A.elf [options] ${AND} B.elf [options]`);
  }
  return groups;
}

/** One guest of a `xenkit run`: its kernel and its parsed options. */
export interface GuestArgs {
  kernel: string;
  opts: RunOptions;
}

/**
 * Parse `xenkit run`'s arguments (after "run") into guests, one per
 * \`--and\` group, each group with the \`run\` command's own option table.
 * An error names the guest when there are several ("xenkit: guest 2:
 * unknown option '--foo'") and is thrown as commander's CommanderError
 * (status 2; 0 after --help) or a CliError.
 */
export function parseGuestArgs(args: readonly string[], h: Pick<ProgramHooks, 'writeOut' | 'writeErr'>): GuestArgs[] {
  const groups = splitGuestArgs(args);
  return groups.map((group, i) => {
    const out: { guest?: GuestArgs } = {};
    const cmd = defineRun(new Command('xenkit run'))
      .exitOverride()
      .helpOption('-h, --help', 'show help and exit')
      .showSuggestionAfterError(true)
      .configureOutput({ writeOut: h.writeOut, writeErr: h.writeErr, outputError: oneLineError(groups.length > 1 ? `guest ${i + 1}: ` : '') })
      .action((kernel: string, opts: RunOptions) => { out.guest = { kernel, opts }; });
    cmd.parse(group, { from: 'user' });
    if (out.guest === undefined) throw new Error('commander parsed a guest without calling its action');
    return out.guest;
  });
}

/** Build the program. `result.status` holds the action's exit status after parsing. */
export function buildProgram(h: ProgramHooks): { program: Command; result: { status: number } } {
  const result = { status: 0 };
  const program = new Command('xenkit')
    .description('Boot and debug Xen PV/PVH guest kernels in an emulated i686 CPU, with nothing but Node.')
    .version(h.version, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help and exit')
    .helpCommand('help [command]', 'show help for a command')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: h.writeOut,
      writeErr: h.writeErr,
      // One line: "xenkit: unknown option '--foo' (Did you mean --memory?)".
      outputError: oneLineError(''),
    })
    .addHelpText('after', `
Examples:
  npm start                                      # (in the xenkit repository) boot the demo guest
  xenkit new mykernel && cd mykernel && make     # a kernel project of your own
  npx xenkit run build/kernel.elf                # boot it
  npx xenkit run build/kernel.elf --gdb 1234 --watch   # debug it; rebuild and reboot on every save
  npx xenkit doctor                              # what this machine lacks

${exitStatusHelp()}\n\n${ENVIRONMENT}`);

  defineRun(program.command('run'))
    .action(async (kernel: string, opts: RunOptions) => {
      result.status = await h.run(kernel, opts);
    });

  program
    .command('demo')
    .description('boot the template mini-OS demo kernel (what `npm start` runs)')
    .option('-m, --memory <size>', `guest RAM (as for run), from ${MEMORY_RANGE_HELP}`, '64M')
    .option('-c, --cmdline <str>', 'the guest kernel command line ("crash" makes the demo crash on purpose)', '')
    .option('-t, --trace <what>', 'trace to stderr: hypercalls, xenstore, events (as for run)', collectTrace)
    .option('--deterministic', 'guest time from the instruction count (as for run)')
    .option('--console <where>', 'the guest console: stdio, file:PATH or tcp:PORT (as for run)', 'stdio')
    .option('--disk <spec>', 'a paravirtual disk, repeatable: PATH[,ro][,vdev=xvdb] (a raw image; see docs/devices.md)', collect)
    .option('--net <spec>', 'a paravirtual NIC, repeatable: switch:NAME or vxlan:REMOTE[:PORT],vni=N[,local=ADDR[:PORT]], each with [,mac=MAC][,pcap=PATH] (see docs/devices.md)', collect)
    .option('--gdb <[host:]port>', 'serve gdb\'s remote protocol on this TCP port (as for run)')
    .option('--gdb-wait', 'with --gdb: stop before the first guest instruction until gdb continues')
    .option('--watch', 'rebuild the demo kernel (make in templates/minios) on changes and reboot into it')
    .option('--build <cmd>', 'with --watch: the build command (default: make)')
    .option('--watch-path <glob>', 'with --watch: what to watch, repeatable', collect)
    .addHelpText('after', `
The demo is templates/minios/build/kernel.elf when \`npm install\` could build it
with gcc, otherwise the prebuilt assets/demo/kernel.elf made from the same sources.

Examples:
  npm start
  npx xenkit demo --cmdline crash      # see a crash report
  npx xenkit demo --gdb 1234 --gdb-wait   # then: gdb templates/minios/build/kernel.elf -ex 'target remote :1234'`)
    .action(async (opts: RunOptions) => {
      result.status = await h.demo(opts);
    });

  program
    .command('new')
    .description('create a kernel project from the guest template')
    .argument('<dir>', 'a new (or empty) directory')
    .addHelpText('after', `
Copies templates/minios (sources, Makefile, README) and adds a .gdbinit that
connects gdb to xenkit. Never overwrites: a non-empty directory is refused.

Example:
  npx xenkit new mykernel && cd mykernel && make && npx xenkit run build/kernel.elf`)
    .action(async (dir: string) => {
      result.status = await h.newProject(dir);
    });

  program
    .command('doctor')
    .description('check the tools xenkit needs (Node, gcc -m32, ld, make, gdb, tshark) and how to install them')
    .addHelpText('after', `
Exit status 0 when everything required is present, 1 otherwise.

Example:
  npx xenkit doctor`)
    .action(async () => {
      result.status = await h.doctor();
    });

  return { program, result };
}
