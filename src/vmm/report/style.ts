/**
 * Text styling for reports and traces: a palette of wrappers that the
 * formatters apply to headings, addresses and errors. `PLAIN` leaves text
 * alone; `ANSI` adds SGR colour codes. The formatters never decide which
 * one to use: the caller (the CLI) picks ANSI only for a terminal with
 * NO_COLOR unset.
 */

/** How the formatters mark up their output. */
export interface Palette {
  /** Section headings and the report title. */
  heading(s: string): string;
  /** Errors: the crash reason, negative hypercall results. */
  error(s: string): string;
  /** Symbols (function+offset). */
  symbol(s: string): string;
  /** Secondary detail: raw addresses, bytes. */
  dim(s: string): string;
}

const id = (s: string): string => s;

/** No markup. */
export const PLAIN: Palette = { heading: id, error: id, symbol: id, dim: id };

const sgr = (on: string, off: string) => (s: string): string => `\x1b[${on}m${s}\x1b[${off}m`;

/** ANSI colours (bold headings, red errors, cyan symbols, dim detail). */
export const ANSI: Palette = {
  heading: sgr('1', '22'),
  error: sgr('31', '39'),
  symbol: sgr('36', '39'),
  dim: sgr('2', '22'),
};
