/**
 * The hypercall trace (`xenkit run --trace hypercalls`) and the "last
 * hypercalls" section of crash reports: one line per `HypercallRecord`,
 *
 *   [hcall] console_io(write, count=21, buf=0xc0012345) = 21  <- print+0x1c (0xc0001234)
 *
 * The arguments are the handler's own decoding (`HypercallDef.describe`)
 * when the record carries one; otherwise the raw argument registers
 * EBX, ECX, EDX, ESI, EDI, EBP in hex with trailing zero registers left
 * out (Xen does not tell how many arguments a call takes). The result is
 * decimal below 0x10000, hex above, and a Xen errno name when negative
 * (-38 ENOSYS); the iret hypercall, which sets the registers itself, has
 * no result ("= -"). The caller is the return address of the
 * hypercall-page call, symbolized.
 *
 * Pure: records and a symbol table in, a string out.
 */
import type { SymbolTable } from '../../loader/symbols.js';
import type { HypercallRecord } from '../xen/domain.js';
import { XEN_ERRNO } from '../xen/abi/errno.js';
import { nameOf } from '../xen/abi/layout.js';
import { PLAIN, type Palette } from './style.js';
import { hex, hex8, symbolForReturn } from './symbolize.js';

/** Prefix of every trace line. */
export const TRACE_PREFIX = '[hcall] ';

/** The raw argument registers, trailing zeros left out. */
export function formatRawArgs(args: readonly number[]): string {
  let n = args.length;
  while (n > 0 && (args[n - 1]! >>> 0) === 0) n--;
  return args.slice(0, n).map((a) => hex(a)).join(', ');
}

/** A hypercall result: decimal, hex when large, errno name when negative. */
export function formatResult(result: number | null, p: Palette = PLAIN): string {
  if (result === null) return '-';
  const r = result | 0;
  if (r < 0 && r > -4096) {
    const name = nameOf(XEN_ERRNO, -r);
    return p.error(name !== undefined ? `${r} (${name})` : String(r));
  }
  const u = result >>> 0;
  return u < 0x10000 ? String(u) : hex(u);
}

/** "print+0x1c (0xc0001234)", or just the address when no symbol covers it. */
export function formatCaller(symbols: SymbolTable, caller: number, p: Palette = PLAIN): string {
  const sym = symbolForReturn(symbols, caller);
  return sym === null ? p.dim(hex8(caller)) : `${p.symbol(sym)} ${p.dim(`(${hex8(caller)})`)}`;
}

/** One hypercall without the trace prefix: `name(args) = result  <- caller`. */
export function formatHypercall(rec: HypercallRecord, symbols: SymbolTable, p: Palette = PLAIN): string {
  const args = rec.detail ?? formatRawArgs(rec.args);
  return `${rec.name}(${args}) = ${formatResult(rec.result, p)}  <- ${formatCaller(symbols, rec.caller, p)}`;
}

/** One trace line (no newline): `[hcall] name(args) = result  <- caller`. */
export function formatTraceLine(rec: HypercallRecord, symbols: SymbolTable, p: Palette = PLAIN): string {
  return p.dim(TRACE_PREFIX) + formatHypercall(rec, symbols, p);
}
