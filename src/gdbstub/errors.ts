/**
 * Errors of the gdb stub. Protocol problems (garbage on the wire, a bad
 * packet) are never thrown: they become nacks, error replies or empty
 * replies. What is thrown is a `GdbStubError` for the host side: a listen
 * address that cannot be used, a port already taken.
 */

export type GdbStubErrorCode =
  | 'EGDBADDR'     // a `--gdb [HOST:]PORT` that does not parse
  | 'EGDBLISTEN';  // the TCP listener could not be opened (port in use, no such address)

/** A host-side gdb stub error, with a one-line message suitable for the CLI. */
export class GdbStubError extends Error {
  readonly code: GdbStubErrorCode;
  constructor(code: GdbStubErrorCode, message: string) {
    super(message);
    this.name = 'GdbStubError';
    this.code = code;
  }
}

/** Exhaustiveness check for switches over unions. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
