/**
 * Loader errors: one typed class whose message is a single line naming the
 * file and the problem, suitable for printing as-is by the CLI (exit 2).
 */

export type LoaderErrorCode =
  | 'ENOTELF'      // not an ELF file at all
  | 'EELFCLASS'    // not 32-bit little-endian x86
  | 'EELFTYPE'     // not an executable
  | 'EELFTRUNC'    // a header, segment, section or table lies outside the file
  | 'ENOLOAD'      // no loadable segment
  | 'EOVERLAP'     // loadable segments overlap
  | 'ELAYOUT'      // a segment outside guest memory, inside the Xen hole, bad entry point
  | 'ENOTES'       // missing, contradictory or malformed Xen notes
  | 'ESYMTAB';     // malformed symbol table

export class LoaderError extends Error {
  readonly code: LoaderErrorCode;
  readonly file: string;
  constructor(code: LoaderErrorCode, file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'LoaderError';
    this.code = code;
    this.file = file;
  }
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}
