/**
 * The `xenkit` command line (commander): commands, options, help text and
 * the exit-status table. What a command does lives elsewhere; the action
 * handlers given here only receive the parsed values.
 */
import { Command, Option } from 'commander';
import { exitStatusHelp } from './exit-codes.js';

/** Parsed options of `xenkit run`. */
export interface RunOptions {
  memory: string;
  cmdline: string;
  trace?: 'hypercalls';
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

const RUN_NOTES = `Guest console output goes to stdout; traces, crash reports and xenkit's own
messages go to stderr. On a guest crash (SHUTDOWN_crash, an exception with no
handler, a triple fault) xenkit prints a crash report: registers, the faulting
instruction, a symbolized backtrace and the last hypercalls.`;

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
      outputError: (str, write) => write(`xenkit: ${str.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ').trim()}\n`),
    })
    .addHelpText('after', `\n${exitStatusHelp()}\n\n${ENVIRONMENT}`);

  program
    .command('run')
    .description('boot a guest kernel and run it until it shuts down')
    .argument('<kernel.elf>', 'the guest kernel: a 32-bit Xen PV (PAE) or PVH ELF file')
    .option('-m, --memory <size>', `guest RAM: a number with K, M or G (binary units; a bare number is MiB), from ${MEMORY_RANGE_HELP}`, '64M')
    .option('-c, --cmdline <str>', 'the guest kernel command line', '')
    .addOption(new Option('-t, --trace <what>', 'trace to stderr; "hypercalls": each hypercall with its decoded arguments, result and symbolized caller')
      .choices(['hypercalls']))
    .addHelpText('after', `\n${RUN_NOTES}\n\n${exitStatusHelp()}\n\n${ENVIRONMENT}`)
    .action(async (kernel: string, opts: RunOptions) => {
      result.status = await h.run(kernel, opts);
    });

  program
    .command('demo')
    .description('boot the template mini-OS demo kernel (what `npm start` runs)')
    .option('-m, --memory <size>', `guest RAM (as for run), from ${MEMORY_RANGE_HELP}`, '64M')
    .option('-c, --cmdline <str>', 'the guest kernel command line ("crash" makes the demo crash on purpose)', '')
    .addOption(new Option('-t, --trace <what>', 'trace to stderr (as for run)').choices(['hypercalls']))
    .addHelpText('after', `
The demo is templates/minios/build/kernel.elf when \`npm install\` could build it
with gcc, otherwise the prebuilt assets/demo/kernel.elf made from the same sources.

Examples:
  npm start
  npx xenkit demo --cmdline crash      # see a crash report`)
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
