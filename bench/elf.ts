/**
 * Minimal ELF32 (i386, executable) loader for benchmark guests: copies each
 * PT_LOAD segment to its physical address in guest memory and zero-fills
 * the rest of its memory size (.bss). The full domain loader lives in
 * src/loader; benchmarks need only this much, and a malformed file is a
 * host error, reported as a plain Error.
 */
import type { PhysMemory } from '../src/vmm/memory/phys.js';

const PT_LOAD = 1;
const EM_386 = 3;

export interface LoadedElf {
  entry: number;
  /** Loaded [start, end) physical ranges, one per PT_LOAD. */
  segments: { start: number; end: number }[];
}

export function loadElf32(elf: Uint8Array, mem: PhysMemory): LoadedElf {
  if (elf.length < 52 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw new Error('not an ELF file');
  }
  if (elf[4] !== 1 || elf[5] !== 1) throw new Error('not a little-endian ELF32 file');
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint16(18, true) !== EM_386) throw new Error('not an i386 ELF file');
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true), phentsize = dv.getUint16(42, true), phnum = dv.getUint16(44, true);
  if (phoff + phnum * phentsize > elf.length) throw new Error('ELF program headers out of bounds');
  const segments: { start: number; end: number }[] = [];
  for (let k = 0; k < phnum; k++) {
    const p = phoff + k * phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const off = dv.getUint32(p + 4, true), paddr = dv.getUint32(p + 12, true);
    const filesz = dv.getUint32(p + 16, true), memsz = dv.getUint32(p + 20, true);
    if (off + filesz > elf.length || filesz > memsz) throw new Error(`ELF segment ${k} is malformed`);
    if (!mem.contains(paddr, memsz)) throw new Error(`ELF segment ${k} (0x${paddr.toString(16)}+0x${memsz.toString(16)}) lies outside guest RAM`);
    mem.fill(paddr, memsz, 0);
    mem.writeBytes(paddr, elf.subarray(off, off + filesz));
    segments.push({ start: paddr, end: paddr + memsz });
  }
  if (segments.length === 0) throw new Error('ELF file has no PT_LOAD segment');
  return { entry, segments };
}
