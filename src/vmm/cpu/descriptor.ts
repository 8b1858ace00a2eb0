/**
 * Segment descriptors: fetching them from the GDT/LDT and decoding them
 * (Intel SDM vol. 3A §3.4.5, §5.2-5.5).
 *
 * Descriptor-table reads are implicit supervisor accesses: they go through
 * paging as CPL 0 whatever the current CPL. A selector whose index lies
 * beyond the table limit raises #GP(selector & ~3) — or the fault the caller
 * asks for (#TS during task switches / IRET, #NP for not-present checks
 * are the caller's business).
 */
import { Cpu, SA, Seg } from './cpu.js';
import { CpuFault, Vec } from './fault.js';

/** A raw descriptor and where it was read from. */
export interface RawDescriptor {
  lo: number;
  hi: number;
  /** Linear address of the 8-byte entry (for setting the accessed bit). */
  addr: number;
}

/** Decoded code/data or system segment descriptor. */
export interface SegDescriptor {
  base: number;
  /** Effective byte limit (granularity applied). */
  limit: number;
  /** Access byte (bits 0-7) | SA.DB | SA.G, as kept in Cpu.segAttr. */
  attr: number;
  type: number;
  /** S bit: code/data (true) or system (false). */
  s: boolean;
  dpl: number;
  present: boolean;
}

/** Gate descriptor (call, interrupt, trap, task gates). */
export interface GateDescriptor {
  selector: number;
  offset: number;
  type: number;
  dpl: number;
  present: boolean;
  /** Call gates: dword/word parameter count. */
  paramCount: number;
}

/**
 * Read the descriptor for `sel` from the GDT (TI=0) or LDT (TI=1).
 * Returns null when the index is beyond the table limit (or the LDT is
 * null), so the caller raises the fault appropriate to its context.
 */
export function fetchDescriptor(cpu: Cpu, sel: number): RawDescriptor | null {
  const index = sel & ~7;
  let base: number, limit: number;
  if ((sel & 4) !== 0) {
    if ((cpu.segAttr[Seg.LDTR]! & SA.NULL) !== 0 || cpu.segSel[Seg.LDTR] === 0) return null;
    base = cpu.segBase[Seg.LDTR]!;
    limit = cpu.segLimit[Seg.LDTR]!;
  } else {
    if (cpu.gdtHook !== null) {
      const d = { lo: 0, hi: 0, addr: 0 };
      return cpu.gdtHook.read(cpu, index, d) ? d : null;
    }
    base = cpu.gdtrBase;
    limit = cpu.gdtrLimit;
  }
  if (index + 7 > limit) return null;
  const addr = (base + index) | 0;
  return { lo: cpu.rdSys32(addr), hi: cpu.rdSys32((addr + 4) | 0), addr };
}

/** Fetch or raise #GP(sel & ~3) (or `vector`). */
export function fetchDescriptorOrFault(cpu: Cpu, sel: number, vector: number = Vec.GP): RawDescriptor {
  const d = fetchDescriptor(cpu, sel);
  if (d === null) throw new CpuFault(vector, sel & 0xfffc);
  return d;
}

export function decodeSegment(lo: number, hi: number): SegDescriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  const g = (hi & 0x800000) !== 0;
  if (g) limit = ((limit << 12) | 0xfff) >>> 0;
  const access = (hi >>> 8) & 0xff;
  let attr = access;
  if ((hi & 0x400000) !== 0) attr |= SA.DB;
  if (g) attr |= SA.G;
  return {
    base, limit, attr,
    type: access & 0xf,
    s: (access & 0x10) !== 0,
    dpl: (access >>> 5) & 3,
    present: (access & 0x80) !== 0,
  };
}

export function decodeGate(lo: number, hi: number): GateDescriptor {
  return {
    selector: lo >>> 16,
    offset: ((lo & 0xffff) | (hi & 0xffff0000)) | 0,
    type: (hi >>> 8) & 0xf,
    dpl: (hi >>> 13) & 3,
    present: (hi & 0x8000) !== 0,
    paramCount: hi & 0x1f,
  };
}

/** Set the accessed bit of a code/data descriptor in memory (if not already set). */
export function setAccessed(cpu: Cpu, d: RawDescriptor): void {
  if ((d.hi & 0x100) === 0) {
    d.hi |= 0x100;
    cpu.wrSys32((d.addr + 4) | 0, d.hi);
  }
}

/** Encode a descriptor (tests, domain builders): returns [lo, hi]. */
export function encodeSegment(base: number, limit: number, access: number, flags4: number): [number, number] {
  const lo = ((limit & 0xffff) | ((base & 0xffff) << 16)) | 0;
  const hi = (((base >>> 16) & 0xff) | ((access & 0xff) << 8) | (limit & 0xf0000) | ((flags4 & 0xf) << 20) | (base & 0xff000000)) | 0;
  return [lo, hi];
}
