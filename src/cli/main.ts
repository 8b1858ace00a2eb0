/**
 * The `xenkit` executable (bin/xenkit.js imports this module).
 *
 * Wires the command line to the commands and turns every error into an
 * exit status: bad usage and unreadable or invalid kernels give one line
 * and status 2; anything else is a bug in xenkit and gives one line,
 * "xenkit: internal error: ...", a hint to report it, and status 1 (the
 * stack only with XENKIT_DEBUG=1). Nothing here calls process.exit: the
 * status is set and the event loop drains, so buffered output is written.
 *
 * Start-up is kept lean for `xenkit run` (the run_hello_ms benchmark):
 * the VMM is imported only when a command needs it, and for `run` its
 * import starts before the command line is parsed, so module loading
 * overlaps with commander's. A `run` with `--and` (several guests) is
 * split into one argument group per guest here, each parsed with the run
 * command's options, and goes to multi-run.ts; plain runs never load it.
 */
import { CommanderError } from 'commander';
import { packageVersion } from './paths.js';
import { CliError, reportInternalError } from './errors.js';
import { EXIT } from './exit-codes.js';
import { AND, buildProgram, parseGuestArgs, type RunOptions } from './program.js';
import { LoaderError } from '../loader/errors.js';

type RunModule = typeof import('./run.js');
type MultiRunModule = typeof import('./multi-run.js');

// A reader that goes away (`xenkit help | head`) must not end in an unhandled 'error' event.
for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined);

const argv = process.argv.slice(2);
// `xenkit run A.elf ... --and B.elf ...`: several guests (multi-run.ts), split and parsed per guest.
const multi = argv[0] === 'run' && argv.includes(AND);
const preload: Promise<RunModule> | null = argv[0] === 'run' && !multi ? import('./run.js') : null;
preload?.catch(() => undefined); // awaited (and reported) below
const preloadMulti: Promise<MultiRunModule> | null = multi ? import('./multi-run.js') : null;
preloadMulti?.catch(() => undefined);

async function main(): Promise<number> {
  const writeErr = (s: string): void => { process.stderr.write(s); };
  const { program, result } = buildProgram({
    version: packageVersion(),
    writeOut: (s) => { process.stdout.write(s); },
    writeErr,
    run: async (kernel: string, opts: RunOptions) => (await (preload ?? import('./run.js'))).runCommand(kernel, opts),
    demo: async (opts: RunOptions) => {
      const { demoKernel, packageRoot } = await import('./paths.js');
      const root = packageRoot();
      const k = root === null ? null : demoKernel(root);
      if (k === null) throw new CliError('no demo kernel: build one with `make -C templates/minios` (see `npx xenkit doctor`)');
      writeErr(`xenkit: booting the demo kernel ${k.path}${k.source === 'prebuilt' ? ' (the prebuilt copy: templates/minios/build/kernel.elf is missing or older than its sources; make -C templates/minios rebuilds it)' : ''}\n`);
      return (await import('./run.js')).runCommand(k.path, opts);
    },
    newProject: async (dir: string) => {
      const { scaffold, nextSteps } = await import('./new.js');
      const r = scaffold(dir, process.cwd());
      process.stdout.write(nextSteps(dir, r));
      return EXIT.POWEROFF;
    },
    doctor: async () => {
      const { runChecks, formatChecks } = await import('./doctor.js');
      const { text, ok } = formatChecks(runChecks());
      process.stdout.write(text);
      return ok ? EXIT.POWEROFF : 1;
    },
  });
  try {
    if (preloadMulti !== null) {
      const guests = parseGuestArgs(argv.slice(1), { writeOut: (s) => { process.stdout.write(s); }, writeErr });
      return await (await preloadMulti).multiRunCommand(guests);
    }
    await program.parseAsync(argv, { from: 'user' });
    return result.status;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT.USAGE;
    if (e instanceof CliError) {
      writeErr(`xenkit: ${e.message}\n`);
      return e.status;
    }
    if (e instanceof LoaderError) {
      writeErr(`xenkit: ${e.message}\n`);
      return EXIT.USAGE;
    }
    return reportInternalError(e, writeErr, process.env);
  }
}

void main().then((status) => { process.exitCode = status; });
