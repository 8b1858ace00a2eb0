/**
 * Xen ELF notes: the boot contract between a guest kernel and the domain
 * builder (Xen's public elfnote.h; libelf-dominfo.c decides precedence).
 *
 * Sources, in the order Xen consults them: PT_NOTE segments, else SHT_NOTE
 * sections, else (PV only) the legacy `__xen_guest` section holding one
 * "KEY=VALUE,KEY=VALUE" string. Only notes named "Xen" count; other notes
 * (GNU build-id, ...) are skipped. Numeric descriptors are little-endian
 * of 1, 2, 4 or 8 bytes; string descriptors are NUL-terminated.
 *
 * Pure: bytes in, a `XenNotes` value out, or a one-line LoaderError.
 */
import { LoaderError, hex } from './errors.js';
import { PT_NOTE, SHT_NOTE, cString, type ElfImage } from './elf.js';

/** XEN_ELFNOTE_* numbers (elfnote.h). */
export const enum XenNote {
  INFO = 0, ENTRY = 1, HYPERCALL_PAGE = 2, VIRT_BASE = 3, PADDR_OFFSET = 4, XEN_VERSION = 5,
  GUEST_OS = 6, GUEST_VERSION = 7, LOADER = 8, PAE_MODE = 9, FEATURES = 10, BSD_SYMTAB = 11,
  HV_START_LOW = 12, L1_MFN_VALID = 13, SUSPEND_CANCEL = 14, INIT_P2M = 15, MOD_START_PFN = 16,
  SUPPORTED_FEATURES = 17, PHYS32_ENTRY = 18, PHYS32_RELOC = 19,
}

const STRING_NOTES = new Set([0, 5, 6, 7, 8, 9, 10, 11]);
const NOTE_NAMES: Record<number, string> = {
  0: 'INFO', 1: 'ENTRY', 2: 'HYPERCALL_PAGE', 3: 'VIRT_BASE', 4: 'PADDR_OFFSET', 5: 'XEN_VERSION', 6: 'GUEST_OS',
  7: 'GUEST_VERSION', 8: 'LOADER', 9: 'PAE_MODE', 10: 'FEATURES', 11: 'BSD_SYMTAB', 12: 'HV_START_LOW',
  13: 'L1_MFN_VALID', 14: 'SUSPEND_CANCEL', 15: 'INIT_P2M', 16: 'MOD_START_PFN', 17: 'SUPPORTED_FEATURES',
  18: 'PHYS32_ENTRY', 19: 'PHYS32_RELOC',
};

export interface XenNotes {
  /** Where the notes came from. */
  source: 'PT_NOTE' | 'SHT_NOTE' | '__xen_guest' | 'none';
  entry?: number;
  hypercallPage?: number;
  virtBase?: number;
  paddrOffset?: number;
  xenVersion?: string;
  guestOs?: string;
  guestVersion?: string;
  loader?: string;
  paeMode?: string;
  features?: string;
  hvStartLow?: number;
  phys32Entry?: number;
  suspendCancel?: number;
  modStartPfn?: number;
  /** Every Xen note seen: number → descriptor bytes (for traces and gdb monitor). */
  raw: Map<number, Uint8Array>;
}

/** Human name of a note number. */
export function noteName(n: number): string {
  return NOTE_NAMES[n] ?? `note ${n}`;
}

/** Parse the Xen notes of an image. */
export function parseXenNotes(elf: ElfImage): XenNotes {
  const notes: XenNotes = { source: 'none', raw: new Map() };
  const segs = elf.segments.filter((s) => s.type === PT_NOTE);
  for (const s of segs) walkNotes(s.data, elf.file, notes);
  if (notes.raw.size > 0) {
    notes.source = 'PT_NOTE';
  } else {
    for (const s of elf.sections.filter((x) => x.type === SHT_NOTE)) walkNotes(s.data, elf.file, notes);
    if (notes.raw.size > 0) {
      notes.source = 'SHT_NOTE';
    } else {
      const legacy = elf.sections.find((x) => x.name === '__xen_guest');
      if (legacy) parseLegacy(cString(legacy.data, 0), elf.file, notes);
    }
  }
  return notes;
}

function walkNotes(data: Uint8Array, file: string, out: XenNotes): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off < data.length) {
    if (off + 12 > data.length) throw new LoaderError('ENOTES', file, `truncated note header at note offset ${hex(off)}`);
    const namesz = dv.getUint32(off, true), descsz = dv.getUint32(off + 4, true), type = dv.getUint32(off + 8, true);
    const nameOff = off + 12;
    const descOff = nameOff + align4(namesz);
    const end = descOff + align4(descsz);
    if (namesz > data.length || descsz > data.length || descOff + descsz > data.length) {
      throw new LoaderError('ENOTES', file, `truncated note (type ${type}, name ${namesz} bytes, desc ${descsz} bytes) at note offset ${hex(off)}`);
    }
    const name = cString(data.subarray(nameOff, nameOff + namesz), 0);
    if (name === 'Xen') {
      const desc = data.slice(descOff, descOff + descsz);
      record(type, desc, file, out);
    }
    off = end;
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function num(desc: Uint8Array, type: number, file: string): number {
  const dv = new DataView(desc.buffer, desc.byteOffset, desc.byteLength);
  switch (desc.length) {
    case 1: return dv.getUint8(0);
    case 2: return dv.getUint16(0, true);
    case 4: return dv.getUint32(0, true);
    case 8: {
      const v = dv.getBigUint64(0, true);
      if (v > 0xffff_ffffn) {
        throw new LoaderError('ENOTES', file, `Xen note ${noteName(type)} value ${v.toString(16)} does not fit a 32-bit guest`);
      }
      return Number(v);
    }
    default:
      throw new LoaderError('ENOTES', file, `Xen note ${noteName(type)} has a ${desc.length}-byte value (must be 1, 2, 4 or 8)`);
  }
}

function str(desc: Uint8Array): string {
  return cString(desc, 0);
}

function record(type: number, desc: Uint8Array, file: string, out: XenNotes): void {
  if (out.raw.has(type) && type !== XenNote.INFO) {
    const prev = out.raw.get(type)!;
    if (Buffer.compare(Buffer.from(prev), Buffer.from(desc)) !== 0) {
      throw new LoaderError('ENOTES', file, `contradictory Xen notes: ${noteName(type)} appears twice with different values`);
    }
  }
  out.raw.set(type, desc);
  if (STRING_NOTES.has(type) && desc.length > 0 && desc.indexOf(0) < 0) {
    throw new LoaderError('ENOTES', file, `Xen note ${noteName(type)} string is not NUL-terminated`);
  }
  switch (type) {
    case XenNote.ENTRY: out.entry = num(desc, type, file); break;
    case XenNote.HYPERCALL_PAGE: out.hypercallPage = num(desc, type, file); break;
    case XenNote.VIRT_BASE: out.virtBase = num(desc, type, file); break;
    case XenNote.PADDR_OFFSET: out.paddrOffset = num(desc, type, file); break;
    case XenNote.XEN_VERSION: out.xenVersion = str(desc); break;
    case XenNote.GUEST_OS: out.guestOs = str(desc); break;
    case XenNote.GUEST_VERSION: out.guestVersion = str(desc); break;
    case XenNote.LOADER: out.loader = str(desc); break;
    case XenNote.PAE_MODE: out.paeMode = str(desc); break;
    case XenNote.FEATURES: out.features = str(desc); break;
    case XenNote.HV_START_LOW: out.hvStartLow = num(desc, type, file); break;
    case XenNote.PHYS32_ENTRY: out.phys32Entry = num(desc, type, file); break;
    case XenNote.SUSPEND_CANCEL: out.suspendCancel = num(desc, type, file); break;
    case XenNote.MOD_START_PFN: out.modStartPfn = num(desc, type, file); break;
    default: break;
  }
}

/** The legacy `__xen_guest` string: KEY=VALUE pairs separated by commas. */
function parseLegacy(s: string, file: string, out: XenNotes): void {
  out.source = '__xen_guest';
  const kv = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) kv.set(part.trim(), '');
    else kv.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const n = (k: string): number | undefined => {
    const v = kv.get(k);
    if (v === undefined) return undefined;
    const x = Number(v.startsWith('0x') || v.startsWith('0X') ? v : v);
    if (!Number.isFinite(x) || x < 0 || x > 0xffffffff) throw new LoaderError('ENOTES', file, `__xen_guest: bad number ${k}=${v}`);
    return x;
  };
  const set = (k: string, f: (v: string) => void): void => {
    const v = kv.get(k);
    if (v !== undefined) f(v);
  };
  set('GUEST_OS', (v) => { out.guestOs = v; });
  set('GUEST_VER', (v) => { out.guestVersion = v; });
  set('XEN_VER', (v) => { out.xenVersion = v; });
  set('LOADER', (v) => { out.loader = v; });
  set('PAE', (v) => { out.paeMode = v.startsWith('yes') ? 'yes' : v; });
  set('FEATURES', (v) => { out.features = v; });
  const vb = n('VIRT_BASE');
  if (vb !== undefined) out.virtBase = vb;
  const entry = n('VIRT_ENTRY');
  if (entry !== undefined) out.entry = entry;
  // Legacy default: PADDR_OFFSET = VIRT_BASE.
  out.paddrOffset = n('ELF_PADDR_OFFSET') ?? out.virtBase;
  const hp = n('HYPERCALL_PAGE');
  if (hp !== undefined) out.hypercallPage = ((out.virtBase ?? 0) + hp * 4096) >>> 0;
  out.raw.set(-1, new TextEncoder().encode(s));
}
