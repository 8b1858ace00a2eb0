/**
 * Type declarations for `elfy` (an untyped CommonJS ELF parser), covering
 * only the parts xenkit uses. elfy returns Node Buffers sliced from the
 * input; it does not validate bounds (slices are silently truncated), which
 * is why src/loader/elf.ts re-checks everything it reads.
 */
declare module 'elfy' {
  export interface ElfyHeader {
    class: string;
    endian: string;
    type: string;
    machine: string;
    version: number;
    entry: number;
    phoff: number;
    shoff: number;
    flags: number;
    ehsize: number;
    phentsize: number;
    phnum: number;
    shentsize: number;
    shnum: number;
    shstrndx: number;
  }
  export interface ElfyProgram {
    type: string | number;
    offset: number;
    vaddr: number;
    paddr: number;
    filesz: number;
    memsz: number;
    flags: Record<string, boolean>;
    align: number;
    data: Buffer;
  }
  export interface ElfySection {
    name: number | string;
    type: string | number;
    flags: Record<string, boolean>;
    addr: number;
    off: number;
    size: number;
    link: number;
    info: number;
    addralign: number;
    entsize: number;
    data: Buffer;
  }
  export class Parser {
    parseHeader(buf: Buffer): ElfyHeader;
    parseBody(buf: Buffer, header: ElfyHeader): { programs: ElfyProgram[]; sections: ElfySection[] };
  }
  const elfy: { Parser: typeof Parser; parse(buf: Buffer): unknown };
  export default elfy;
}
