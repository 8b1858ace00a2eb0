/**
 * The guest's symbol table (.symtab + its string table), for crash
 * reports, hypercall traces and the gdb stub: address → "function+offset"
 * and name → address.
 */
import { LoaderError } from './errors.js';
import { SHT_SYMTAB, cString, type ElfImage } from './elf.js';

export interface GuestSymbol {
  name: string;
  addr: number;
  size: number;
  /** STT_* type: 0 NOTYPE, 1 OBJECT, 2 FUNC. */
  type: number;
}

export class SymbolTable {
  /** Code-ish symbols sorted by address (for lookups). */
  private readonly sorted: GuestSymbol[];
  private readonly byName = new Map<string, GuestSymbol>();

  constructor(symbols: GuestSymbol[]) {
    for (const s of symbols) if (!this.byName.has(s.name)) this.byName.set(s.name, s);
    this.sorted = symbols.filter((s) => s.type === 2 || s.type === 0 || s.type === 1).sort((a, b) => a.addr - b.addr);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Address of a symbol by name. */
  address(name: string): number | undefined {
    return this.byName.get(name)?.addr;
  }

  /** The symbol containing (or preceding, within 64 KiB) `addr`. */
  lookup(addr: number): { sym: GuestSymbol; offset: number } | null {
    const a = addr >>> 0;
    let lo = 0, hi = this.sorted.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid]!.addr <= a) {
        best = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (best < 0) return null;
    // Prefer a FUNC among symbols at the same address.
    let k = best;
    while (k > 0 && this.sorted[k - 1]!.addr === this.sorted[best]!.addr && this.sorted[k]!.type !== 2) k--;
    const sym = this.sorted[k]!;
    const offset = a - sym.addr;
    if (sym.size > 0 ? offset >= sym.size && offset > 0x10000 : offset > 0x10000) return null;
    return { sym, offset };
  }

  /** "name+0x12", or the hex address when no symbol covers it. */
  format(addr: number): string {
    const hit = this.lookup(addr);
    const h = `0x${(addr >>> 0).toString(16).padStart(8, '0')}`;
    if (hit === null) return h;
    return hit.offset === 0 ? hit.sym.name : `${hit.sym.name}+0x${hit.offset.toString(16)}`;
  }

  static empty(): SymbolTable {
    return new SymbolTable([]);
  }
}

/** Read the symbol table; an image without one yields an empty table. */
export function parseSymbols(elf: ElfImage): SymbolTable {
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) return SymbolTable.empty();
  const strtab = elf.sections[symtab.link];
  if (!strtab) throw new LoaderError('ESYMTAB', elf.file, `symbol table links to missing string table ${symtab.link}`);
  if (symtab.entsize !== 16 && symtab.entsize !== 0) {
    throw new LoaderError('ESYMTAB', elf.file, `symbol table entry size ${symtab.entsize} (expected 16)`);
  }
  if (symtab.data.length !== symtab.size || symtab.size % 16 !== 0) {
    throw new LoaderError('ESYMTAB', elf.file, `truncated symbol table (${symtab.data.length} of ${symtab.size} bytes)`);
  }
  const dv = new DataView(symtab.data.buffer, symtab.data.byteOffset, symtab.data.byteLength);
  const out: GuestSymbol[] = [];
  for (let off = 16; off + 16 <= symtab.data.length; off += 16) {
    const nameOff = dv.getUint32(off, true);
    const value = dv.getUint32(off + 4, true);
    const size = dv.getUint32(off + 8, true);
    const info = dv.getUint8(off + 12);
    const shndx = dv.getUint16(off + 14, true);
    const type = info & 0xf;
    if (shndx === 0 || type > 2) continue; // undefined, sections, files
    if (nameOff >= strtab.data.length) {
      throw new LoaderError('ESYMTAB', elf.file, `symbol name offset ${nameOff} outside the string table`);
    }
    const name = cString(strtab.data, nameOff);
    if (name === '') continue;
    out.push({ name, addr: value, size, type });
  }
  return new SymbolTable(out);
}
