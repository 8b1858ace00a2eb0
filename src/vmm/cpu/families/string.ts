/**
 * String instructions: MOVS (A4/A5), CMPS (A6/A7), STOS (AA/AB), LODS
 * (AC/AD) and SCAS (AE/AF) in byte, word and dword forms, with the REP (F3),
 * REPE (F3 on CMPS/SCAS) and REPNE (F2) prefixes.
 *
 * Semantics follow Intel SDM vol. 2B (MOVS, CMPS, STOS, LODS, SCAS and
 * "REP/REPE/REPZ/REPNE/REPNZ"):
 *  - the source is seg:(E)SI with seg = DS unless a segment-override prefix
 *    names another; the destination is always ES:(E)DI and cannot be
 *    overridden;
 *  - the address size selects the registers: ESI/EDI/ECX with a 32-bit
 *    address size, SI/DI/CX with 0x67 (the upper halves are left alone and
 *    the 16-bit registers wrap at 64 KiB);
 *  - after each element the index registers move by the element size, up
 *    when EFLAGS.DF = 0 and down when DF = 1;
 *  - CMPS computes [src] - [dst] and SCAS computes accumulator - [dst], and
 *    both set the six arithmetic flags like CMP (they are kept lazy);
 *  - with a repeat prefix the count register is tested before every
 *    iteration (a count of 0 executes nothing and reads no memory) and
 *    decremented after it; CMPS/SCAS also stop after an iteration whose
 *    ZF disagrees with the prefix (F3: stop when ZF = 0, F2: stop when
 *    ZF = 1). On MOVS/STOS/LODS both F3 and F2 simply mean REP.
 *
 * Faults are precise and restartable (SDM vol. 2B REP: "a repeating string
 * operation can be suspended by an exception or interrupt ... the state of
 * the registers is preserved to allow the string operation to be resumed"):
 * ESI/EDI/ECX always describe the iterations completed so far, a fault on
 * an element leaves them at that element, and the run loop restores EIP to
 * the instruction, so returning from the fault handler resumes the copy.
 *
 * Long repeats are cut into chunks of REP_CHUNK elements: after a chunk,
 * if the count is not exhausted, the instruction leaves EIP pointing at
 * itself and ends the block, exactly as if an interrupt had been taken
 * between iterations. Each chunk therefore retires as one instruction for
 * the budget and icount. With EFLAGS.TF set a chunk is one element, which
 * is the documented single-step behaviour of repeated string instructions
 * (one iteration per trap; EIP left at the instruction while iterations
 * remain).
 *
 * Fast paths (32-bit address size, repeat prefix; MOVS and STOS in both
 * directions, CMPS and SCAS with DF = 0): instead of one
 * call per element, a run of whole elements that stays within one page on
 * each side and inside both segment limits is translated once per side
 * (TLB, else the page walker, which may raise the #PF the first element
 * would have raised) and moved, filled or scanned directly in guest
 * physical memory. A run either completes or does not start, so the
 * register state stays exact. Equivalence rules kept by the fast paths:
 *  - a MOVS whose destination overlaps the part of the source it has not
 *    read yet (ahead of it going up, below it going down) must replicate
 *    data element by element; the run is then cut at the distance between
 *    the two, so every run copies disjoint ranges (the other overlap
 *    direction is a plain memmove, which copyWithin does);
 *  - writes to a frame that holds decoded code go through
 *    PhysMemory.noteWrite first, which invalidates the frame's blocks and
 *    makes the run loop leave the current block (self-modifying code);
 *  - accesses that would fall outside guest memory (bus reads of 0xff,
 *    dropped writes) or straddle a page or limit are left to the
 *    per-element path, which handles every corner.
 *  - pages holding a debugger watchpoint (never in the TLB) are left to the
 *    per-element path, whose accesses the watchpoints see; a repeat stops
 *    after the element that hit one, like a chunk boundary.
 * Backward runs require flat (4 GiB, expand-up) segments; 16-bit-address
 * string operations, LODS, and backward CMPS/SCAS always take the
 * per-element path.
 *
 * No flags are undefined here: CMPS/SCAS set all of CF/PF/AF/ZF/SF/OF as
 * CMP does; the other instructions change no flag.
 */
import { Acc, Exit, SA, Seg, SF_, type Cpu } from '../cpu.js';
import { ARITH, DF, LF, TF } from '../flags.js';
import { D, type ExecFn, type Insn } from '../insn.js';
import { segR, segW } from '../operands.js';
import type { PhysMemory } from '../../memory/phys.js';
import type { OpTable } from '../table.js';

/** Elements executed by one invocation of a repeated string instruction before it yields. */
export const REP_CHUNK = 0x10000;

// Register indices: r32 (ECX, ESI, EDI) and the matching r16 word views.
const ECX = 1, ESI = 6, EDI = 7;
const CX16 = 2, SI16 = 12, DI16 = 14;

/** True when typed-array views of guest memory read little-endian (every host Node runs on today). */
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// Aligned word/dword views of the guest memory buffer, rebuilt only when a
// different PhysMemory shows up (so nothing is allocated per instruction).
let viewMem: PhysMemory | null = null;
let view16: Uint16Array = new Uint16Array(0);
let view32: Int32Array = new Int32Array(0);

function views(mem: PhysMemory): void {
  if (viewMem === mem) return;
  viewMem = mem;
  const u8 = mem.u8;
  view16 = new Uint16Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 1);
  view32 = new Int32Array(u8.buffer, u8.byteOffset, u8.byteLength >>> 2);
}

// --- element helpers -----------------------------------------------------------

function rd(c: Cpu, la: number, n: number): number {
  return n === 4 ? c.rd32(la) : n === 2 ? c.rd16(la) : c.rd8(la);
}

function wr(c: Cpu, la: number, v: number, n: number): void {
  if (n === 4) c.wr32(la, v);
  else if (n === 2) c.wr16(la, v);
  else c.wr8(la, v);
}

/** AL, AX or EAX (EAX as a signed int32, like rd32). */
function acc(c: Cpu, n: number): number {
  return n === 4 ? c.r32[0]! : n === 2 ? c.r16[0]! : c.r8[0]!;
}

/** Record CMP a, b (a - b) of element size n as lazy flags. */
function setCmp(c: Cpu, a: number, b: number, n: number): void {
  const m = n === 4 ? -1 : n === 2 ? 0xffff : 0xff;
  c.lfOp = LF.SUB;
  c.lfDst = a;
  c.lfSrc = b;
  c.lfRes = (a - b) & m;
  c.lfMask = m;
  c.lfSign = n === 4 ? 0x80000000 | 0 : n === 2 ? 0x8000 : 0x80;
  c.lfLazy = ARITH;
}

function getCount(c: Cpu, i: Insn): number {
  return i.a16 ? c.r16[CX16]! : c.r32[ECX]! >>> 0;
}

function setCount(c: Cpu, i: Insn, v: number): void {
  if (i.a16) c.r16[CX16] = v;
  else c.r32[ECX] = v;
}

/** Element step for the current DF. */
function stepOf(c: Cpu, n: number): number {
  return (c.flags & DF) !== 0 ? -n : n;
}

/** Leave EIP at the instruction and end the block: the repeat resumes on the next lookup. */
function yieldRep(c: Cpu, i: Insn): void {
  c.eip = i.eip;
  c.brk = true;
}

/** Iterations allowed in this invocation (one per single-step trap when TF is set). */
function chunk(c: Cpu): number {
  return (c.flags & TF) !== 0 ? 1 : REP_CHUNK;
}

// One iteration of each instruction, index registers included (count untouched).
// Every check and read happens before the first register or memory write.

function movsOnce(c: Cpu, i: Insn, n: number, step: number): void {
  if (i.a16) {
    const s = c.r16[SI16]!, d = c.r16[DI16]!;
    const v = rd(c, segR(c, i.seg, s, n), n);
    wr(c, segW(c, Seg.ES, d, n), v, n);
    c.r16[SI16] = s + step;
    c.r16[DI16] = d + step;
  } else {
    const s = c.r32[ESI]!, d = c.r32[EDI]!;
    const v = rd(c, segR(c, i.seg, s, n), n);
    wr(c, segW(c, Seg.ES, d, n), v, n);
    c.r32[ESI] = s + step;
    c.r32[EDI] = d + step;
  }
}

function stosOnce(c: Cpu, i: Insn, n: number, step: number): void {
  if (i.a16) {
    const d = c.r16[DI16]!;
    wr(c, segW(c, Seg.ES, d, n), acc(c, n), n);
    c.r16[DI16] = d + step;
  } else {
    const d = c.r32[EDI]!;
    wr(c, segW(c, Seg.ES, d, n), acc(c, n), n);
    c.r32[EDI] = d + step;
  }
}

function lodsOnce(c: Cpu, i: Insn, n: number, step: number): void {
  let v: number;
  if (i.a16) {
    const s = c.r16[SI16]!;
    v = rd(c, segR(c, i.seg, s, n), n);
    c.r16[SI16] = s + step;
  } else {
    const s = c.r32[ESI]!;
    v = rd(c, segR(c, i.seg, s, n), n);
    c.r32[ESI] = s + step;
  }
  if (n === 4) c.r32[0] = v;
  else if (n === 2) c.r16[0] = v;
  else c.r8[0] = v;
}

/** CMPS: compare seg:[SI] with ES:[DI]; returns ZF. */
function cmpsOnce(c: Cpu, i: Insn, n: number, step: number): boolean {
  let a: number, b: number;
  if (i.a16) {
    const s = c.r16[SI16]!, d = c.r16[DI16]!;
    a = rd(c, segR(c, i.seg, s, n), n);
    b = rd(c, segR(c, Seg.ES, d, n), n);
    c.r16[SI16] = s + step;
    c.r16[DI16] = d + step;
  } else {
    const s = c.r32[ESI]!, d = c.r32[EDI]!;
    a = rd(c, segR(c, i.seg, s, n), n);
    b = rd(c, segR(c, Seg.ES, d, n), n);
    c.r32[ESI] = s + step;
    c.r32[EDI] = d + step;
  }
  setCmp(c, a, b, n);
  return a === b;
}

/** SCAS: compare the accumulator with ES:[DI]; returns ZF. */
function scasOnce(c: Cpu, i: Insn, n: number, step: number): boolean {
  const a = acc(c, n);
  let b: number;
  if (i.a16) {
    const d = c.r16[DI16]!;
    b = rd(c, segR(c, Seg.ES, d, n), n);
    c.r16[DI16] = d + step;
  } else {
    const d = c.r32[EDI]!;
    b = rd(c, segR(c, Seg.ES, d, n), n);
    c.r32[EDI] = d + step;
  }
  setCmp(c, a, b, n);
  return a === b;
}

// --- fast-path support ------------------------------------------------------------

/**
 * Cap `bytes` to what segment `seg` allows from offset `off` without a
 * fault (the same rules as operands.segCheck); 0 when the first byte would
 * already fault, so the per-element path raises the fault.
 */
function segCap(c: Cpu, seg: number, off: number, bytes: number, write: boolean): number {
  if ((c.segFast[seg]! & (write ? SF_.WRITE : SF_.READ)) !== 0) return bytes;
  const attr = c.segAttr[seg]!;
  if ((attr & SA.NULL) !== 0 || (attr & SA.S) === 0) return 0;
  const type = attr & 0xf;
  if ((type & 8) !== 0) {
    if (write || (type & 2) === 0) return 0;
  } else if (write && (type & 2) === 0) {
    return 0;
  }
  const o = off >>> 0, limit = c.segLimit[seg]!;
  let room: number;
  if ((type & 0xc) === 4) {
    // Expand-down data: offsets (limit, upper] are valid.
    const upper = (attr & SA.DB) !== 0 ? 0xffffffff : 0xffff;
    if (o <= limit || o > upper) return 0;
    room = upper - o + 1;
  } else {
    if (o > limit) return 0;
    room = limit - o + 1;
  }
  return room < bytes ? room : bytes;
}

/**
 * Physical address of linear `la` for `acc` via the TLB, else the walker
 * (may throw #PF); -1 for a page holding a debugger watchpoint (never in
 * the TLB), which the per-element path must handle so every element is
 * checked.
 */
function physOf(c: Cpu, la: number, acc: Acc): number {
  const e = c.tlb[la >>> 12]!;
  const need = acc === Acc.WRITE ? c.needW : c.needR;
  if ((e & need) === need) return ((e & ~0xfff) >>> 0) + (la & 0xfff);
  const watched = c.debug.watchPages;
  if (watched !== null && watched[la >>> 12] !== 0) return -1;
  return c.xlate(la, acc);
}

/** A debugger watchpoint was hit by this element: stop after it (EIP stays while iterations remain). */
function watchStop(c: Cpu, i: Insn, cnt: number): boolean {
  if (c.exitReason !== Exit.WATCH) return false;
  if (cnt !== 0) yieldRep(c, i);
  return true;
}

/** Bytes left in the page of linear address `la`. */
function pageRoom(la: number): number {
  return 0x1000 - (la & 0xfff);
}

/** log2 of the element size. */
function shiftOf(n: number): number {
  return n === 4 ? 2 : n === 2 ? 1 : 0;
}

/** Forward MOVS run (32-bit addresses, DF = 0); returns elements moved, 0 to take the slow path. */
function movsRun(c: Cpu, i: Insn, n: number, max: number): number {
  const s = c.r32[ESI]!, d = c.r32[EDI]!;
  const sLa = (c.segBase[i.seg]! + s) | 0, dLa = (c.segBase[Seg.ES]! + d) | 0;
  let bytes = max * n;
  const sr = pageRoom(sLa), dr = pageRoom(dLa);
  if (sr < bytes) bytes = sr;
  if (dr < bytes) bytes = dr;
  bytes = segCap(c, i.seg, s, bytes, false);
  bytes = segCap(c, Seg.ES, d, bytes, true);
  bytes &= -n;
  if (bytes === 0) return 0;
  // Source before destination: the order in which the first element faults.
  const sPa = physOf(c, sLa, Acc.READ);
  if (sPa < 0) return 0;
  const dPa = physOf(c, dLa, Acc.WRITE);
  if (dPa < 0) return 0;
  const mem = c.mem;
  if (sPa + bytes > mem.size || dPa + bytes > mem.size) return 0;
  if (dPa > sPa && dPa < sPa + bytes) {
    // Destination ahead of the source inside the run: element-by-element
    // order would re-read freshly written bytes. Copy only up to the gap.
    bytes = (dPa - sPa) & -n;
    if (bytes === 0) return 0;
  }
  if (mem.codePages[dPa >>> 12] !== 0) mem.noteWrite(dPa >>> 12);
  mem.u8.copyWithin(dPa, sPa, sPa + bytes);
  c.r32[ESI] = s + bytes;
  c.r32[EDI] = d + bytes;
  return bytes >>> shiftOf(n);
}

/** Forward STOS run; returns elements stored, 0 to take the slow path. */
function stosRun(c: Cpu, n: number, max: number): number {
  const d = c.r32[EDI]!;
  const dLa = (c.segBase[Seg.ES]! + d) | 0;
  let bytes = max * n;
  const dr = pageRoom(dLa);
  if (dr < bytes) bytes = dr;
  bytes = segCap(c, Seg.ES, d, bytes, true);
  bytes &= -n;
  if (bytes === 0) return 0;
  const pa = physOf(c, dLa, Acc.WRITE);
  if (pa < 0) return 0;
  const mem = c.mem;
  if (pa + bytes > mem.size) return 0;
  if (mem.codePages[pa >>> 12] !== 0) mem.noteWrite(pa >>> 12);
  fillRun(mem, pa, bytes, c, n);
  c.r32[EDI] = d + bytes;
  return bytes >>> shiftOf(n);
}

/** Store the accumulator (element size n) over physical [pa, pa + bytes). */
function fillRun(mem: PhysMemory, pa: number, bytes: number, c: Cpu, n: number): void {
  const end = pa + bytes;
  if (n === 1) {
    mem.u8.fill(c.r8[0]!, pa, end);
  } else if (n === 2) {
    const v = c.r16[0]!;
    if ((v & 0xff) === v >>> 8) {
      mem.u8.fill(v & 0xff, pa, end);
    } else if (HOST_LE && (pa & 1) === 0) {
      views(mem);
      view16.fill(v, pa >>> 1, end >>> 1);
    } else {
      for (let p = pa; p < end; p += 2) mem.dv.setUint16(p, v, true);
    }
  } else {
    const v = c.r32[0]!;
    const b = v & 0xff;
    if (v === ((b * 0x01010101) | 0)) {
      mem.u8.fill(b, pa, end);
    } else if (HOST_LE && (pa & 3) === 0) {
      views(mem);
      view32.fill(v, pa >>> 2, end >>> 2);
    } else {
      for (let p = pa; p < end; p += 4) mem.dv.setInt32(p, v, true);
    }
  }
}

/**
 * Elements of size n that fit in the page of linear `la` going down from
 * `la` (the highest element) to the page start; 0 when the first element
 * straddles a page boundary.
 */
function downRoom(la: number, n: number): number {
  const off = la & 0xfff;
  return off + n > 0x1000 ? 0 : ((off >>> shiftOf(n)) + 1);
}

/**
 * Backward MOVS run (DF = 1, 32-bit addresses, flat source and ES): the
 * elements at ESI, ESI - n, ... down to the first page start on either
 * side. Returns elements moved, 0 to take the slow path.
 */
function movsRunDown(c: Cpu, i: Insn, n: number, max: number): number {
  if ((c.segFast[i.seg]! & SF_.READ) === 0 || (c.segFast[Seg.ES]! & SF_.WRITE) === 0) return 0;
  const s = c.r32[ESI]!, d = c.r32[EDI]!;
  const sLa = (c.segBase[i.seg]! + s) | 0, dLa = (c.segBase[Seg.ES]! + d) | 0;
  let k = max;
  const sr = downRoom(sLa, n), dr = downRoom(dLa, n);
  if (sr < k) k = sr;
  if (dr < k) k = dr;
  if (k === 0) return 0;
  const sPa = physOf(c, sLa, Acc.READ);
  if (sPa < 0) return 0;
  const dPa = physOf(c, dLa, Acc.WRITE);
  if (dPa < 0) return 0;
  const mem = c.mem;
  if (sPa + n > mem.size || dPa + n > mem.size) return 0;
  const dist = sPa - dPa;
  if (dist > 0 && dist < k * n) {
    // Destination below the source inside the run: going down, the highest
    // destination elements land on source elements not read yet. Cut the
    // run so source and destination ranges are disjoint.
    k = Math.floor(dist / n);
    if (k === 0) return 0;
  }
  const bytes = k * n;
  const sLo = sPa + n - bytes, dLo = dPa + n - bytes;
  if (mem.codePages[dPa >>> 12] !== 0) mem.noteWrite(dPa >>> 12);
  mem.u8.copyWithin(dLo, sLo, sLo + bytes);
  c.r32[ESI] = s - bytes;
  c.r32[EDI] = d - bytes;
  return k;
}

/** Backward STOS run (DF = 1, 32-bit addresses, flat ES); returns elements stored. */
function stosRunDown(c: Cpu, n: number, max: number): number {
  if ((c.segFast[Seg.ES]! & SF_.WRITE) === 0) return 0;
  const d = c.r32[EDI]!;
  const dLa = (c.segBase[Seg.ES]! + d) | 0;
  let k = downRoom(dLa, n);
  if (max < k) k = max;
  if (k === 0) return 0;
  const pa = physOf(c, dLa, Acc.WRITE);
  if (pa < 0) return 0;
  const mem = c.mem;
  if (pa + n > mem.size) return 0;
  const bytes = k * n;
  if (mem.codePages[pa >>> 12] !== 0) mem.noteWrite(pa >>> 12);
  fillRun(mem, pa + n - bytes, bytes, c, n);
  c.r32[EDI] = d - bytes;
  return k;
}

/** ZF of the last element compared by a CMPS/SCAS run. */
let runEq = false;

/**
 * Forward SCAS run under REPE (`repe`) or REPNE: scan until the
 * terminating element or the end of the run; flags come from the last
 * element compared. Returns elements done (0: slow path).
 */
function scasRun(c: Cpu, n: number, max: number, repe: boolean): number {
  const d = c.r32[EDI]!;
  const dLa = (c.segBase[Seg.ES]! + d) | 0;
  let bytes = max * n;
  const dr = pageRoom(dLa);
  if (dr < bytes) bytes = dr;
  bytes = segCap(c, Seg.ES, d, bytes, false);
  bytes &= -n;
  if (bytes === 0) return 0;
  const pa = physOf(c, dLa, Acc.READ);
  if (pa < 0) return 0;
  const mem = c.mem;
  if (pa + bytes > mem.size) return 0;
  const a = acc(c, n);
  const end = pa + bytes, u8 = mem.u8, dv = mem.dv;
  let b = 0, p = pa, eq = false;
  while (p < end) {
    b = n === 1 ? u8[p]! : n === 2 ? dv.getUint16(p, true) : dv.getInt32(p, true);
    p += n;
    eq = a === b;
    if (eq !== repe) break;
  }
  setCmp(c, a, b, n);
  runEq = eq;
  const done = p - pa;
  c.r32[EDI] = d + done;
  return done >>> shiftOf(n);
}

/** Forward CMPS run; like scasRun with a source stream. */
function cmpsRun(c: Cpu, i: Insn, n: number, max: number, repe: boolean): number {
  const s = c.r32[ESI]!, d = c.r32[EDI]!;
  const sLa = (c.segBase[i.seg]! + s) | 0, dLa = (c.segBase[Seg.ES]! + d) | 0;
  let bytes = max * n;
  const sr = pageRoom(sLa), dr = pageRoom(dLa);
  if (sr < bytes) bytes = sr;
  if (dr < bytes) bytes = dr;
  bytes = segCap(c, i.seg, s, bytes, false);
  bytes = segCap(c, Seg.ES, d, bytes, false);
  bytes &= -n;
  if (bytes === 0) return 0;
  const sPa = physOf(c, sLa, Acc.READ);
  if (sPa < 0) return 0;
  const dPa = physOf(c, dLa, Acc.READ);
  if (dPa < 0) return 0;
  const mem = c.mem;
  if (sPa + bytes > mem.size || dPa + bytes > mem.size) return 0;
  const u8 = mem.u8, dv = mem.dv;
  let a = 0, b = 0, k = 0, eq = false;
  while (k < bytes) {
    if (n === 1) { a = u8[sPa + k]!; b = u8[dPa + k]!; }
    else if (n === 2) { a = dv.getUint16(sPa + k, true); b = dv.getUint16(dPa + k, true); }
    else { a = dv.getInt32(sPa + k, true); b = dv.getInt32(dPa + k, true); }
    k += n;
    eq = a === b;
    if (eq !== repe) break;
  }
  setCmp(c, a, b, n);
  runEq = eq;
  c.r32[ESI] = s + k;
  c.r32[EDI] = d + k;
  return k >>> shiftOf(n);
}

// --- repeated forms -------------------------------------------------------------------

function repMovs(c: Cpu, i: Insn, n: number): void {
  let cnt = getCount(c, i);
  if (cnt === 0) return;
  const step = stepOf(c, n);
  let left = chunk(c);
  for (;;) {
    const max = cnt < left ? cnt : left;
    let done = i.a16 ? 0 : step > 0 ? movsRun(c, i, n, max) : movsRunDown(c, i, n, max);
    let slow = false;
    if (done === 0) {
      movsOnce(c, i, n, step);
      done = 1;
      slow = true;
    }
    cnt -= done;
    setCount(c, i, cnt);
    if (slow && watchStop(c, i, cnt)) return;
    if (cnt === 0) return;
    left -= done;
    if (left <= 0) { yieldRep(c, i); return; }
  }
}

function repStos(c: Cpu, i: Insn, n: number): void {
  let cnt = getCount(c, i);
  if (cnt === 0) return;
  const step = stepOf(c, n);
  let left = chunk(c);
  for (;;) {
    const max = cnt < left ? cnt : left;
    let done = i.a16 ? 0 : step > 0 ? stosRun(c, n, max) : stosRunDown(c, n, max);
    let slow = false;
    if (done === 0) {
      stosOnce(c, i, n, step);
      done = 1;
      slow = true;
    }
    cnt -= done;
    setCount(c, i, cnt);
    if (slow && watchStop(c, i, cnt)) return;
    if (cnt === 0) return;
    left -= done;
    if (left <= 0) { yieldRep(c, i); return; }
  }
}

function repLods(c: Cpu, i: Insn, n: number): void {
  let cnt = getCount(c, i);
  if (cnt === 0) return;
  const step = stepOf(c, n);
  let left = chunk(c);
  for (;;) {
    lodsOnce(c, i, n, step);
    cnt--;
    setCount(c, i, cnt);
    if (watchStop(c, i, cnt)) return;
    if (cnt === 0) return;
    if (--left <= 0) { yieldRep(c, i); return; }
  }
}

function repCmps(c: Cpu, i: Insn, n: number): void {
  let cnt = getCount(c, i);
  if (cnt === 0) return;
  const step = stepOf(c, n);
  const repe = i.rep === 1;
  const fast = step > 0 && !i.a16;
  let left = chunk(c);
  for (;;) {
    const max = cnt < left ? cnt : left;
    let done = fast ? cmpsRun(c, i, n, max, repe) : 0;
    let eq: boolean, slow = false;
    if (done === 0) {
      eq = cmpsOnce(c, i, n, step);
      done = 1;
      slow = true;
    } else {
      eq = runEq;
    }
    cnt -= done;
    setCount(c, i, cnt);
    if (cnt === 0 || eq !== repe) return;
    if (slow && watchStop(c, i, cnt)) return;
    left -= done;
    if (left <= 0) { yieldRep(c, i); return; }
  }
}

function repScas(c: Cpu, i: Insn, n: number): void {
  let cnt = getCount(c, i);
  if (cnt === 0) return;
  const step = stepOf(c, n);
  const repe = i.rep === 1;
  const fast = step > 0 && !i.a16;
  let left = chunk(c);
  for (;;) {
    const max = cnt < left ? cnt : left;
    let done = fast ? scasRun(c, n, max, repe) : 0;
    let eq: boolean, slow = false;
    if (done === 0) {
      eq = scasOnce(c, i, n, step);
      done = 1;
      slow = true;
    } else {
      eq = runEq;
    }
    cnt -= done;
    setCount(c, i, cnt);
    if (cnt === 0 || eq !== repe) return;
    if (slow && watchStop(c, i, cnt)) return;
    left -= done;
    if (left <= 0) { yieldRep(c, i); return; }
  }
}

// --- exec builders (one per instruction and element size, built at registration) ---

function makeMovs(n: number): ExecFn {
  return (c, i) => {
    if (i.rep !== 0) repMovs(c, i, n);
    else movsOnce(c, i, n, stepOf(c, n));
  };
}
function makeStos(n: number): ExecFn {
  return (c, i) => {
    if (i.rep !== 0) repStos(c, i, n);
    else stosOnce(c, i, n, stepOf(c, n));
  };
}
function makeLods(n: number): ExecFn {
  return (c, i) => {
    if (i.rep !== 0) repLods(c, i, n);
    else lodsOnce(c, i, n, stepOf(c, n));
  };
}
function makeCmps(n: number): ExecFn {
  return (c, i) => {
    if (i.rep !== 0) repCmps(c, i, n);
    else cmpsOnce(c, i, n, stepOf(c, n));
  };
}
function makeScas(n: number): ExecFn {
  return (c, i) => {
    if (i.rep !== 0) repScas(c, i, n);
    else scasOnce(c, i, n, stepOf(c, n));
  };
}

/** Register A4-A7 and AA-AF. */
export function register(t: OpTable): void {
  t.op(0xa4, { name: 'movsb', exec: makeMovs(1), flags: D.BYTE });
  t.op(0xa5, { name: 'movs', exec: makeMovs(4), exec16: makeMovs(2) });
  t.op(0xa6, { name: 'cmpsb', exec: makeCmps(1), flags: D.BYTE });
  t.op(0xa7, { name: 'cmps', exec: makeCmps(4), exec16: makeCmps(2) });
  t.op(0xaa, { name: 'stosb', exec: makeStos(1), flags: D.BYTE });
  t.op(0xab, { name: 'stos', exec: makeStos(4), exec16: makeStos(2) });
  t.op(0xac, { name: 'lodsb', exec: makeLods(1), flags: D.BYTE });
  t.op(0xad, { name: 'lods', exec: makeLods(4), exec16: makeLods(2) });
  t.op(0xae, { name: 'scasb', exec: makeScas(1), flags: D.BYTE });
  t.op(0xaf, { name: 'scas', exec: makeScas(4), exec16: makeScas(2) });
}
