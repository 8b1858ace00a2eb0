/**
 * Guest addresses as people read them: "function+0x1c (0xc0001234)".
 *
 * Return addresses are looked up one byte back, as gdb does in a
 * backtrace: a call that is the last instruction of a function (a call to
 * a noreturn function) returns to the first byte of the next function, so
 * the byte before the return address is the one inside the caller. The
 * printed offset is still from the return address itself.
 */
import type { SymbolTable } from '../../loader/symbols.js';

/** An address as 8 hex digits with 0x. */
export function hex8(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** Plain hex without padding. */
export function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** "name+0x1c" for the symbol covering `addr`, or null. */
export function symbolAt(symbols: SymbolTable, addr: number): string | null {
  const hit = symbols.lookup(addr >>> 0);
  if (hit === null) return null;
  return hit.offset === 0 ? hit.sym.name : `${hit.sym.name}+0x${hit.offset.toString(16)}`;
}

/** "name+0x1c" for a return address (looked up at `addr - 1`), or null. */
export function symbolForReturn(symbols: SymbolTable, addr: number): string | null {
  const a = addr >>> 0;
  if (a === 0) return null;
  const hit = symbols.lookup((a - 1) >>> 0);
  if (hit === null) return null;
  const off = a - hit.sym.addr;
  return off === 0 ? hit.sym.name : `${hit.sym.name}+0x${off.toString(16)}`;
}
