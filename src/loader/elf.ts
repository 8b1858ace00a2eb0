/**
 * ELF32 parsing and validation for guest kernels.
 *
 * elfy does the field decoding (header, program headers, section headers);
 * this module drives its stages itself — elfy's one-shot `parse` asserts on
 * files without section headers — and validates every offset and size
 * against the file before anything is used, turning each problem into a
 * one-line LoaderError. Parsing is pure: it returns an `ElfImage` value and
 * writes nothing anywhere.
 *
 * References: System V ABI (gABI) ch. 4 "Object Files", i386 psABI.
 */
import elfy from 'elfy';
import { LoaderError, hex } from './errors.js';

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;

export interface ElfSegment {
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  /** PF_X 1, PF_W 2, PF_R 4. */
  flags: number;
  /** File bytes of the segment (filesz long). */
  data: Uint8Array;
}

export interface ElfSection {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
  /** File bytes (empty for SHT_NOBITS). */
  data: Uint8Array;
}

export interface ElfImage {
  file: string;
  entry: number;
  segments: ElfSegment[];
  sections: ElfSection[];
}

/** Parse and validate an ELF32 i386 executable. */
export function parseElf(bytes: Uint8Array, file: string): ElfImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    throw new LoaderError('ENOTELF', file, 'not an ELF file (bad magic)');
  }
  if (buf.length < 52) throw new LoaderError('EELFTRUNC', file, `truncated ELF header (${buf.length} bytes, need 52)`);
  if (buf[4] !== 1) throw new LoaderError('EELFCLASS', file, `not a 32-bit ELF (class ${buf[4]}); xenkit runs 32-bit x86 guests`);
  if (buf[5] !== 1) throw new LoaderError('EELFCLASS', file, 'not a little-endian ELF');
  const parser = new elfy.Parser();
  let header;
  try {
    header = parser.parseHeader(buf);
  } catch (e) {
    throw new LoaderError('ENOTELF', file, `unreadable ELF header: ${(e as Error).message}`);
  }
  const machine = buf.readUInt16LE(18);
  if (machine !== 3) throw new LoaderError('EELFCLASS', file, `not an x86 (i386) ELF (e_machine ${machine})`);
  const etype = buf.readUInt16LE(16);
  if (etype !== 2) throw new LoaderError('EELFTYPE', file, `not an executable ELF (e_type ${etype}; link with -static, not -shared or -r)`);

  // Program and section header tables must lie inside the file.
  if (header.phnum > 0) {
    if (header.phentsize < 32) throw new LoaderError('EELFTRUNC', file, `bad program header size ${header.phentsize}`);
    if (header.phoff + header.phnum * header.phentsize > buf.length) {
      throw new LoaderError('EELFTRUNC', file, `program headers at ${hex(header.phoff)} extend past the end of the file`);
    }
  }
  let shnum = header.shnum;
  if (header.shoff === 0) shnum = 0;
  if (shnum > 0) {
    if (header.shentsize < 40) throw new LoaderError('EELFTRUNC', file, `bad section header size ${header.shentsize}`);
    if (header.shoff + shnum * header.shentsize > buf.length) {
      throw new LoaderError('EELFTRUNC', file, `section headers at ${hex(header.shoff)} extend past the end of the file`);
    }
  }
  let body;
  try {
    body = parser.parseBody(buf, { ...header, shnum });
  } catch (e) {
    throw new LoaderError('EELFTRUNC', file, `malformed headers: ${(e as Error).message}`);
  }

  // elfy maps p_type/p_flags/sh_type to names; read the raw numbers instead.
  const segments: ElfSegment[] = body.programs.map((p, k) => {
    const type = buf.readUInt32LE(header.phoff + k * header.phentsize);
    const flags = buf.readUInt32LE(header.phoff + k * header.phentsize + 24);
    if (type === PT_LOAD || type === PT_NOTE) {
      if (p.offset + p.filesz > buf.length) {
        throw new LoaderError('EELFTRUNC', file, `segment ${k} (file ${hex(p.offset)}+${hex(p.filesz)}) lies outside the file (${buf.length} bytes)`);
      }
      if (type === PT_LOAD && p.filesz > p.memsz) {
        throw new LoaderError('EELFTRUNC', file, `segment ${k} has filesz ${hex(p.filesz)} > memsz ${hex(p.memsz)}`);
      }
    }
    return {
      type, offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz, flags,
      data: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength),
    };
  });

  // Section names come from the section-header string table.
  let shstr: Uint8Array | null = null;
  if (shnum > 0) {
    const s = body.sections[header.shstrndx];
    if (s !== undefined && buf.readUInt32LE(header.shoff + header.shstrndx * header.shentsize + 4) === SHT_STRTAB &&
        s.off + s.size <= buf.length) {
      shstr = new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    }
  }
  const sections: ElfSection[] = body.sections.map((s, k) => {
    const type = buf.readUInt32LE(header.shoff + k * header.shentsize + 4);
    if (type !== SHT_NOBITS && type !== 0 && s.off + s.size > buf.length) {
      throw new LoaderError('EELFTRUNC', file, `section ${k} (file ${hex(s.off)}+${hex(s.size)}) lies outside the file`);
    }
    const nameOff = typeof s.name === 'number' ? s.name : 0;
    return {
      name: shstr ? cString(shstr, nameOff) : '',
      type, addr: s.addr, offset: s.off, size: s.size, link: s.link, entsize: s.entsize,
      data: type === SHT_NOBITS ? new Uint8Array(0) : new Uint8Array(s.data.buffer, s.data.byteOffset, s.data.byteLength),
    };
  });

  const loads = segments.filter((s) => s.type === PT_LOAD && s.memsz > 0);
  if (loads.length === 0) throw new LoaderError('ENOLOAD', file, 'no loadable (PT_LOAD) segment');
  const sorted = [...loads].sort((a, b) => a.paddr - b.paddr);
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1]!, b = sorted[k]!;
    if (a.paddr + a.memsz > b.paddr) {
      throw new LoaderError('EOVERLAP', file, `loadable segments overlap: ${hex(a.paddr)}+${hex(a.memsz)} and ${hex(b.paddr)}+${hex(b.memsz)}`);
    }
  }
  for (const s of loads) {
    if (s.vaddr + s.memsz > 0x1_0000_0000 || s.paddr + s.memsz > 0x1_0000_0000) {
      throw new LoaderError('ELAYOUT', file, `segment ${hex(s.vaddr)}+${hex(s.memsz)} wraps past 4 GiB`);
    }
  }
  return { file, entry: header.entry >>> 0, segments, sections };
}

/** NUL-terminated string at `off` (bounded by the buffer). */
export function cString(b: Uint8Array, off: number): string {
  if (off < 0 || off >= b.length) return '';
  let end = off;
  while (end < b.length && b[end] !== 0) end++;
  return Buffer.from(b.buffer, b.byteOffset + off, end - off).toString('latin1');
}
