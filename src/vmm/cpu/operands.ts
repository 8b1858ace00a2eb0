/**
 * Operand access for instruction semantics: effective addresses, segment
 * checks, and ModRM register-or-memory reads and writes.
 *
 * Segmentation (Intel SDM vol. 3A §3.4, §5.3): a linear address is the
 * segment base plus the offset, after the limit and type checks. Flat 4 GiB
 * segments skip the checks through the per-segment fast bits computed by
 * `Cpu.loadSegCache`; anything else takes `segCheck`, which raises #GP(0)
 * (#SS(0) for the stack segment) exactly as the SDM describes, including
 * expand-down segments and null selectors.
 */
import { Cpu, SA, Seg, SF_ } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import type { Insn } from './insn.js';

/** Effective address (offset within the segment) of a memory operand. */
export function ea(cpu: Cpu, i: Insn): number {
  let o = i.disp;
  if (i.base >= 0) o += cpu.r32[i.base]!;
  if (i.index >= 0) o += cpu.r32[i.index]! << i.scale;
  return i.a16 ? o & 0xffff : o | 0;
}

/** Linear address for reading `size` bytes at offset `off` of segment `seg`. */
export function segR(cpu: Cpu, seg: number, off: number, size: number): number {
  if ((cpu.segFast[seg]! & SF_.READ) !== 0) return (cpu.segBase[seg]! + off) | 0;
  return segCheck(cpu, seg, off, size, false);
}

/** Linear address for writing `size` bytes at offset `off` of segment `seg`. */
export function segW(cpu: Cpu, seg: number, off: number, size: number): number {
  if ((cpu.segFast[seg]! & SF_.WRITE) !== 0) return (cpu.segBase[seg]! + off) | 0;
  return segCheck(cpu, seg, off, size, true);
}

/** Linear address of a memory operand for a read. */
export function laR(cpu: Cpu, i: Insn, size: number): number {
  return segR(cpu, i.seg, ea(cpu, i), size);
}

/** Linear address of a memory operand for a write (or read-modify-write). */
export function laW(cpu: Cpu, i: Insn, size: number): number {
  return segW(cpu, i.seg, ea(cpu, i), size);
}

/** The full segment check (slow path). Returns the linear address. */
export function segCheck(cpu: Cpu, seg: number, off: number, size: number, write: boolean): number {
  const attr = cpu.segAttr[seg]!;
  const vec = seg === Seg.SS ? Vec.SS : Vec.GP;
  if ((attr & SA.NULL) !== 0) throw new CpuFault(vec, 0);
  const type = attr & 0xf;
  if ((attr & SA.S) !== 0) {
    if ((type & 8) !== 0) {
      // Code: never writable; readable only with the R bit.
      if (write || (type & 2) === 0) throw new CpuFault(vec, 0);
    } else if (write && (type & 2) === 0) {
      throw new CpuFault(vec, 0);
    }
  }
  const o = off >>> 0;
  const last = o + size - 1;
  const limit = cpu.segLimit[seg]!;
  if ((attr & SA.S) !== 0 && (type & 0xc) === 4) {
    // Expand-down data: valid offsets are (limit, upper], upper = 4G-1 or 64K-1 by B.
    const upper = (attr & SA.DB) !== 0 ? 0xffffffff : 0xffff;
    if (o <= limit || last > upper) throw new CpuFault(vec, 0);
  } else if (last > limit) {
    throw new CpuFault(vec, 0);
  }
  return (cpu.segBase[seg]! + off) | 0;
}

// --- ModRM operand helpers (r/m operand: register when mod == 3) -----------

export function rmRead8(cpu: Cpu, i: Insn): number {
  return i.mod === 3 ? cpu.r8[i.rmb]! : cpu.rd8(laR(cpu, i, 1));
}
export function rmRead16(cpu: Cpu, i: Insn): number {
  return i.mod === 3 ? cpu.r16[i.rm << 1]! : cpu.rd16(laR(cpu, i, 2));
}
export function rmRead32(cpu: Cpu, i: Insn): number {
  return i.mod === 3 ? cpu.r32[i.rm]! : cpu.rd32(laR(cpu, i, 4));
}
export function rmWrite8(cpu: Cpu, i: Insn, v: number): void {
  if (i.mod === 3) cpu.r8[i.rmb] = v;
  else cpu.wr8(laW(cpu, i, 1), v);
}
export function rmWrite16(cpu: Cpu, i: Insn, v: number): void {
  if (i.mod === 3) cpu.r16[i.rm << 1] = v;
  else cpu.wr16(laW(cpu, i, 2), v);
}
export function rmWrite32(cpu: Cpu, i: Insn, v: number): void {
  if (i.mod === 3) cpu.r32[i.rm] = v;
  else cpu.wr32(laW(cpu, i, 4), v);
}

/** 16-bit register n (low word of r32[n]). */
export function getR16(cpu: Cpu, n: number): number {
  return cpu.r16[n << 1]!;
}
export function setR16(cpu: Cpu, n: number, v: number): void {
  cpu.r16[n << 1] = v;
}

// --- stack ------------------------------------------------------------------

/** Push a 32-bit value on SS:ESP (or SS:SP for a 16-bit stack). */
export function push32(cpu: Cpu, v: number): void {
  if (cpu.stack32) {
    const sp = (cpu.r32[4]! - 4) | 0;
    cpu.wr32(segW(cpu, Seg.SS, sp, 4), v);
    cpu.r32[4] = sp;
  } else {
    const sp = (cpu.r16[8]! - 4) & 0xffff;
    cpu.wr32(segW(cpu, Seg.SS, sp, 4), v);
    cpu.r16[8] = sp;
  }
}

export function push16(cpu: Cpu, v: number): void {
  if (cpu.stack32) {
    const sp = (cpu.r32[4]! - 2) | 0;
    cpu.wr16(segW(cpu, Seg.SS, sp, 2), v);
    cpu.r32[4] = sp;
  } else {
    const sp = (cpu.r16[8]! - 2) & 0xffff;
    cpu.wr16(segW(cpu, Seg.SS, sp, 2), v);
    cpu.r16[8] = sp;
  }
}

export function pop32(cpu: Cpu): number {
  if (cpu.stack32) {
    const sp = cpu.r32[4]!;
    const v = cpu.rd32(segR(cpu, Seg.SS, sp, 4));
    cpu.r32[4] = (sp + 4) | 0;
    return v;
  }
  const sp = cpu.r16[8]!;
  const v = cpu.rd32(segR(cpu, Seg.SS, sp, 4));
  cpu.r16[8] = (sp + 4) & 0xffff;
  return v;
}

export function pop16(cpu: Cpu): number {
  if (cpu.stack32) {
    const sp = cpu.r32[4]!;
    const v = cpu.rd16(segR(cpu, Seg.SS, sp, 2));
    cpu.r32[4] = (sp + 2) | 0;
    return v;
  }
  const sp = cpu.r16[8]!;
  const v = cpu.rd16(segR(cpu, Seg.SS, sp, 2));
  cpu.r16[8] = (sp + 2) & 0xffff;
  return v;
}

/** Read the value `depth` bytes above the stack pointer without popping. */
export function peekStack32(cpu: Cpu, depth: number): number {
  const sp = cpu.stack32 ? (cpu.r32[4]! + depth) | 0 : (cpu.r16[8]! + depth) & 0xffff;
  return cpu.rd32(segR(cpu, Seg.SS, sp, 4));
}
export function peekStack16(cpu: Cpu, depth: number): number {
  const sp = cpu.stack32 ? (cpu.r32[4]! + depth) | 0 : (cpu.r16[8]! + depth) & 0xffff;
  return cpu.rd16(segR(cpu, Seg.SS, sp, 2));
}
