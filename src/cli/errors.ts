/**
 * Errors the CLI reports as one line, `xenkit: <message>`, and exits with
 * `status` (no stack trace): bad options, unreadable kernel files.
 */
import { EXIT } from './exit-codes.js';

/** A user-facing error: printed as `xenkit: <message>`, exit `status` (default 2). */
export class CliError extends Error {
  readonly status: number;
  constructor(message: string, status: number = EXIT.USAGE) {
    super(message);
    this.name = 'CliError';
    this.status = status;
  }
}

/**
 * Print an error that is xenkit's fault: one line, a hint to report it,
 * and the stack only when XENKIT_DEBUG=1. Returns the exit status (1).
 */
export function reportInternalError(e: unknown, write: (s: string) => void, env: NodeJS.ProcessEnv): number {
  const debug = env.XENKIT_DEBUG === '1';
  const msg = e instanceof Error ? e.message : String(e);
  write(`xenkit: internal error: ${msg.split('\n')[0]}\n`);
  write(`xenkit: this is a bug in xenkit; please report it with the kernel and the command line${debug ? '' : ' (XENKIT_DEBUG=1 shows the stack)'}\n`);
  if (debug && e instanceof Error && e.stack !== undefined) write(`${e.stack}\n`);
  return EXIT.INTERNAL;
}
