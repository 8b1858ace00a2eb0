/**
 * Protected-mode segmentation: segment-register loads with every check,
 * multi-slot stack frames that are validated before they are written, the
 * far control transfers (JMP/CALL far, call gates, RET far) and hardware
 * task switches.
 *
 * Specs followed (Intel SDM):
 *  - vol. 3A §3.4.2-3.4.5 (selectors, segment registers, descriptors),
 *    §5.5-5.8 (privilege checks: data segments, SS, conforming and
 *    non-conforming code, call gates and the inner-stack switch through the
 *    TSS, §5.8.5-5.8.6 returns to an outer level);
 *  - vol. 3A ch. 7 (TSS layout §7.2, task switching §7.3, task linking §7.4);
 *  - vol. 2 "MOV", "POP", "LDS/LES/LFS/LGS/LSS", "JMP", "CALL", "RET",
 *    "IRET" operation sections, whose check order (and error codes) we keep.
 *
 * Precise faults: every check happens before any architectural change.
 * Far transfers gather the new state (descriptors read into module-level
 * scratch records, stack slots described by a `StackFrame`), check segment
 * limits, then probe every stack page they will write, and only then commit
 * (set accessed bits, write the stack, load the caches, change CPL and EIP).
 * Nothing on these paths allocates unless it throws.
 *
 * Error codes are selector error codes (§6.13): index | TI, with the RPL
 * bits cleared; the EXT and IDT bits are added by interrupt delivery
 * (interrupts.ts), never here.
 *
 * Task switches (SDM §7.3, vol. 2 "JMP"/"CALL"/"IRET" TASK-GATE and
 * TASK-STATE-SEGMENT) are implemented for 32-bit TSSs: checks and reads of
 * the new TSS and write probes of everything the switch stores happen in
 * the old task's context; the new task's LDTR, CS, SS and data segments are
 * then qualified in the new task's context (table 7-1), so such a fault is
 * delivered with the new task's state.
 *
 * Not supported (documented deviations): 16-bit (286) TSSs as the source or
 * target of a task switch (#GP(selector)); virtual-8086 mode, which is never
 * entered (a task whose EFLAGS image has VM set is #GP(selector); segment
 * loads have a V86 path only for completeness).
 */
import { Acc, CR0_PE, CR0_PG, CR0_TS, Cpu, Exit, R, SA, Seg, TLB } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import { FIXED1, NT, VM, readEflags } from './flags.js';
import { setAccessed, type RawDescriptor } from './descriptor.js';
import { raiseException } from './exec.js';
import { translate } from './mmu.js';
import { peekStack16, peekStack32, push32 } from './operands.js';

// --- descriptor access (allocation-free) ------------------------------------

/**
 * A raw 8-byte descriptor and the linear address it was read from. Same
 * shape as descriptor.ts's RawDescriptor (so `setAccessed` accepts it), but
 * preallocated and reused instead of created per load.
 */
export class Desc implements RawDescriptor {
  lo = 0;
  hi = 0;
  addr = 0;
}

/** Supervisor ("implicit") 32-bit read: TLB hit path, else the walker. */
export function sysRead32(cpu: Cpu, la: number): number {
  const e = cpu.tlb[la >>> 12]!;
  if ((e & TLB.VALID) !== 0 && (la & 0xfff) <= 0xffc) return cpu.mem.dv.getInt32((e & ~0xfff) | (la & 0xfff), true);
  return cpu.rdSys32(la);
}

/** Supervisor 16-bit read. */
export function sysRead16(cpu: Cpu, la: number): number {
  const e = cpu.tlb[la >>> 12]!;
  if ((e & TLB.VALID) !== 0 && (la & 0xfff) <= 0xffe) return cpu.mem.dv.getUint16((e & ~0xfff) | (la & 0xfff), true);
  return cpu.rdSys16(la);
}

/**
 * Read the GDT/LDT entry for `sel` into `d` (the semantics of
 * descriptor.ts's fetchDescriptor, without allocating). Returns false when
 * the index lies beyond the table limit or TI=1 with a null LDTR; the
 * caller raises the fault its context calls for.
 */
export function readDesc(cpu: Cpu, sel: number, d: Desc): boolean {
  const index = sel & 0xfff8;
  let base: number, limit: number;
  if ((sel & 4) !== 0) {
    if ((cpu.segAttr[Seg.LDTR]! & SA.NULL) !== 0 || cpu.segSel[Seg.LDTR] === 0) return false;
    base = cpu.segBase[Seg.LDTR]!;
    limit = cpu.segLimit[Seg.LDTR]!;
  } else {
    if (cpu.gdtHook !== null) return cpu.gdtHook.read(cpu, index, d);
    base = cpu.gdtrBase;
    limit = cpu.gdtrLimit;
  }
  if (index + 7 > limit >>> 0) return false;
  const addr = (base + index) | 0;
  d.addr = addr;
  d.lo = sysRead32(cpu, addr);
  d.hi = sysRead32(cpu, (addr + 4) | 0);
  return true;
}

/** Descriptor privilege level. */
export function descDpl(d: Desc): number { return (d.hi >>> 13) & 3; }
/** Type field (4 bits). */
export function descType(d: Desc): number { return (d.hi >>> 8) & 0xf; }
/** P bit. */
export function descPresent(d: Desc): boolean { return (d.hi & 0x8000) !== 0; }
/** S bit: code/data (true) versus system descriptor. */
export function descCodeData(d: Desc): boolean { return (d.hi & 0x1000) !== 0; }
/** A code segment (S=1, type bit 3). */
export function descIsCode(d: Desc): boolean { return (d.hi & 0x1800) === 0x1800; }
/** A conforming code segment. */
export function descConforming(d: Desc): boolean { return (d.hi & 0x1c00) === 0x1c00; }
/** A writable data segment (S=1, type 0W1x with bit 3 clear): what SS needs. */
export function descWritableData(d: Desc): boolean { return (d.hi & 0x1a00) === 0x1200; }
/** Segment base. */
export function descBase(d: Desc): number {
  return ((d.lo >>> 16) | ((d.hi & 0xff) << 16) | (d.hi & 0xff000000)) | 0;
}
/** Effective byte limit (granularity applied), unsigned. */
export function descLimit(d: Desc): number {
  const raw = (d.lo & 0xffff) | (d.hi & 0xf0000);
  return (d.hi & 0x800000) !== 0 ? ((raw << 12) | 0xfff) >>> 0 : raw;
}
/** Cache attribute word (Cpu.segAttr): access byte | SA.DB | SA.G. */
export function descAttr(d: Desc): number {
  return (d.hi >>> 8) & 0xc0ff;
}

/** Load a segment register's hidden cache from a validated descriptor. */
export function loadCacheFrom(cpu: Cpu, seg: number, sel: number, d: Desc): void {
  cpu.loadSegCache(seg, sel, descBase(d), descLimit(d), descAttr(d));
}

/** Protected mode proper (CR0.PE set, not virtual-8086): selectors index descriptor tables. */
export function protectedMode(cpu: Cpu): boolean {
  return (cpu.cr0 & CR0_PE) !== 0 && (cpu.flags & VM) === 0;
}

function gp(ec: number): CpuFault { return new CpuFault(Vec.GP, ec); }
function np(ec: number): CpuFault { return new CpuFault(Vec.NP, ec); }
function ssf(ec: number): CpuFault { return new CpuFault(Vec.SS, ec); }
function tsf(ec: number): CpuFault { return new CpuFault(Vec.TS, ec); }

// Scratch descriptors, one per role so nested uses never alias.
const D_DATA = new Desc();
const D_SS = new Desc();
const D_CS = new Desc();
const D_GATE = new Desc();
const D_RSS = new Desc();

// --- segment-register loads ---------------------------------------------------

/**
 * Real-address / virtual-8086 load: selector and base = selector * 16. In
 * real mode the limit and attributes are left as they are (so "unreal"
 * limits survive), except that the register becomes usable; in V86 mode
 * they are the fixed 64 KiB, DPL 3 read/write values (SDM §20.1.1).
 */
function loadRealMode(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if ((cpu.flags & VM) !== 0) {
    cpu.loadSegCache(seg, sel, sel << 4, 0xffff, seg === Seg.CS ? 0xfb : 0xf3);
    return;
  }
  const old = cpu.segAttr[seg]!;
  const type = seg === Seg.CS ? 0xb : 0x3;
  let limit = cpu.segLimit[seg]!;
  if ((old & SA.NULL) !== 0) limit = 0xffff;
  cpu.loadSegCache(seg, sel, sel << 4, limit, (old & (SA.DB | SA.G | SA.DPL)) | SA.P | SA.S | type);
}

/**
 * Validate a non-null selector for DS/ES/FS/GS (SDM vol. 2 "MOV"
 * operation): #GP(sel) beyond the table limit, for system descriptors and
 * execute-only code, and — for data and non-conforming code — unless
 * DPL >= max(CPL, RPL); then #NP(sel) when not present. Leaves the
 * descriptor in `d`.
 */
export function checkDataSelector(cpu: Cpu, sel: number, d: Desc): void {
  const ec = sel & 0xfffc;
  if (!readDesc(cpu, sel, d)) throw gp(ec);
  const hi = d.hi;
  // System descriptors, and code without the readable bit.
  if ((hi & 0x1000) === 0 || (hi & 0xa00) === 0x800) throw gp(ec);
  if ((hi & 0xc00) !== 0xc00) {
    const dpl = (hi >>> 13) & 3;
    if (dpl < cpu.cpl || dpl < (sel & 3)) throw gp(ec);
  }
  if ((hi & 0x8000) === 0) throw np(ec);
}

/**
 * Validate a selector for SS (SDM vol. 2 "MOV"/"POP"): a null selector is
 * #GP(0); beyond the table limit, RPL != CPL, not a writable data segment
 * or DPL != CPL is #GP(sel); not present is #SS(sel).
 */
export function checkStackSelector(cpu: Cpu, sel: number, d: Desc): void {
  const ec = sel & 0xfffc;
  if (ec === 0) throw gp(0);
  if (!readDesc(cpu, sel, d)) throw gp(ec);
  if ((sel & 3) !== cpu.cpl || !descWritableData(d) || descDpl(d) !== cpu.cpl) throw gp(ec);
  if (!descPresent(d)) throw ssf(ec);
}

/** True for the four null selectors (GDT index 0, any RPL). */
export function isNullSelector(sel: number): boolean {
  return (sel & 0xfffc) === 0;
}

/**
 * Load ES, SS, DS, FS or GS from `sel` with all protected-mode checks
 * (throws CpuFault; nothing changes unless it succeeds), or the real/V86
 * rule outside protected mode. A null selector is allowed in DS/ES/FS/GS:
 * the register becomes unusable and any access through it raises #GP(0).
 * Sets the descriptor's accessed bit. CS is never loaded here: it changes
 * only through far transfers and interrupts.
 */
export function loadSegment(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!protectedMode(cpu)) {
    loadRealMode(cpu, seg, sel);
    return;
  }
  if (seg === Seg.SS) {
    const d = D_SS;
    checkStackSelector(cpu, sel, d);
    setAccessed(cpu, d);
    loadCacheFrom(cpu, Seg.SS, sel, d);
    return;
  }
  if (isNullSelector(sel)) {
    cpu.loadSegCache(seg, sel, 0, 0, SA.NULL);
    return;
  }
  const d = D_DATA;
  checkDataSelector(cpu, sel, d);
  setAccessed(cpu, d);
  loadCacheFrom(cpu, seg, sel, d);
}

/**
 * On a return to an outer privilege level (RET far, IRET), DS/ES/FS/GS
 * that refer to data or non-conforming code segments more privileged than
 * the new CPL become null, so the outer level cannot use them
 * (SDM §5.8.6, vol. 2 "RET"/"IRET").
 */
export function nullInaccessibleSegments(cpu: Cpu, cpl: number): void {
  nullIfInaccessible(cpu, Seg.ES, cpl);
  nullIfInaccessible(cpu, Seg.DS, cpl);
  nullIfInaccessible(cpu, Seg.FS, cpl);
  nullIfInaccessible(cpu, Seg.GS, cpl);
}

function nullIfInaccessible(cpu: Cpu, seg: number, cpl: number): void {
  const a = cpu.segAttr[seg]!;
  if ((a & SA.NULL) !== 0) return;
  const conformingCode = (a & (SA.S | 0xc)) === (SA.S | 0xc);
  if (!conformingCode && ((a & SA.DPL) >>> SA.DPL_SHIFT) < cpl) cpu.loadSegCache(seg, 0, 0, 0, SA.NULL);
}

/**
 * Load CS from a validated code descriptor, with RPL := `cpl`, and make
 * `cpl` the current privilege level (TLB permission masks follow).
 */
export function commitCS(cpu: Cpu, sel: number, d: Desc, cpl: number): void {
  // A paravirtualised kernel never reaches the hypervisor's ring (Xen PV: ring 0
  // is Xen's). Every path to a new CPL passes here; the guest gets #GP.
  if (cpl < cpu.cplFloor) throw gp(sel & 0xfffc);
  loadCacheFrom(cpu, Seg.CS, (sel & 0xfffc) | cpl, d);
  cpu.setCpl(cpl);
}

// --- stack frames ---------------------------------------------------------------

/**
 * A sequence of pushes onto some stack (the current one, or a new inner
 * stack from the TSS that is not loaded yet), checked completely before
 * anything is written:
 *
 *   frame.begin(...) / beginCurrent(cpu); frame.push32(v)...;
 *   frame.checkLimits();   // #SS(ec) when a slot is outside the segment
 *   ...other checks...
 *   frame.probe(cpu);      // #PF when a slot's page is not writable
 *   frame.write(cpu);      // cannot fault any more
 *   // then set ESP := frame.sp
 *
 * Accesses are made with user privilege when `user` is set (CPL 3 pushes
 * onto the current stack) and as supervisor otherwise; a user frame is
 * only written while CPL is still 3.
 */
export class StackFrame {
  private base = 0;
  private limit = 0;
  private attr = 0;
  private sp0 = 0;
  private big = true;
  private user = false;
  private ec = 0;
  private n = 0;
  private readonly vals = new Int32Array(40);
  private readonly sizes = new Uint8Array(40);
  private readonly las = new Int32Array(40);
  /** The stack pointer after all pushes (full ESP value), valid after checkLimits. */
  sp = 0;

  /** Start a frame on the stack segment described by base/limit/attr, at `sp`. */
  begin(base: number, limit: number, attr: number, sp: number, user: boolean, ec: number): this {
    this.base = base;
    this.limit = limit >>> 0;
    this.attr = attr;
    this.sp0 = sp | 0;
    this.big = (attr & SA.DB) !== 0;
    this.user = user;
    this.ec = ec;
    this.n = 0;
    return this;
  }

  /** Start a frame on the current SS:ESP at the current privilege. */
  beginCurrent(cpu: Cpu, ec: number): this {
    return this.begin(cpu.segBase[Seg.SS]!, cpu.segLimit[Seg.SS]!, cpu.segAttr[Seg.SS]!, cpu.r32[R.ESP]!, cpu.cpl === 3, ec);
  }

  /** Queue a dword slot. */
  push32(v: number): this {
    this.vals[this.n] = v;
    this.sizes[this.n++] = 4;
    return this;
  }

  /** Queue a word slot. */
  push16(v: number): this {
    this.vals[this.n] = v & 0xffff;
    this.sizes[this.n++] = 2;
    return this;
  }

  /** Push a 32-bit (`wide`) or 16-bit value. */
  push(v: number, wide: boolean): this {
    return wide ? this.push32(v) : this.push16(v);
  }

  /** Segment-limit (and expand-down) checks for every slot: #SS(ec). */
  checkLimits(): void {
    const attr = this.attr;
    if ((attr & SA.NULL) !== 0) throw ssf(this.ec);
    const expandDown = (attr & 0xc) === 4;
    const upper = this.big ? 0xffffffff : 0xffff;
    let sp = this.sp0;
    for (let k = 0; k < this.n; k++) {
      const size = this.sizes[k]!;
      sp = this.big ? (sp - size) | 0 : (sp - size) & 0xffff;
      const o = sp >>> 0, last = o + size - 1;
      if (expandDown ? o <= this.limit || last > upper : last > this.limit) throw ssf(this.ec);
      this.las[k] = (this.base + sp) | 0;
    }
    this.sp = this.big ? sp : (this.sp0 & ~0xffff) | sp;
  }

  /** Make sure every slot can be written (page presence and permissions): #PF. */
  probe(cpu: Cpu): void {
    const need = this.user ? TLB.VALID | TLB.UR | TLB.UW : TLB.VALID | TLB.SW;
    for (let k = 0; k < this.n; k++) {
      const la = this.las[k]!, size = this.sizes[k]!;
      const e = cpu.tlb[la >>> 12]!;
      if ((e & need) === need && (la & 0xfff) <= 0x1000 - size) continue;
      translate(cpu, la >>> 0, Acc.WRITE, this.user);
      const end = (la + size - 1) | 0;
      if (((end ^ la) >>> 12) !== 0) translate(cpu, end >>> 0, Acc.WRITE, this.user);
    }
  }

  /** Write every slot (after checkLimits and probe, this cannot fault). */
  write(cpu: Cpu): void {
    const need = this.user ? TLB.VALID | TLB.UR | TLB.UW : TLB.VALID | TLB.SW;
    const dv = cpu.mem.dv;
    for (let k = 0; k < this.n; k++) {
      const la = this.las[k]!, size = this.sizes[k]!, v = this.vals[k]!;
      const e = cpu.tlb[la >>> 12]!;
      if ((e & need) === need && (la & 0xfff) <= 0x1000 - size) {
        const pa = (e & ~0xfff) | (la & 0xfff);
        if (size === 4) dv.setInt32(pa, v, true);
        else dv.setUint16(pa, v, true);
      } else {
        // wrSlow's user/supervisor choice: sys => supervisor, else by CPL (3 here).
        cpu.wrSlow(la, size, v, !this.user);
      }
    }
  }
}

const FRAME = new StackFrame();

/** Set ESP (or SP for a 16-bit stack) to the frame's final value. */
function setSp(cpu: Cpu, sp: number): void {
  cpu.r32[R.ESP] = sp;
}

/**
 * Load the stack pointer popped by a return to an outer level: all of ESP
 * for a 32-bit stack (a 16-bit pop zero-extends), SP alone for a 16-bit one.
 */
export function setOuterSp(cpu: Cpu, sp: number): void {
  if (cpu.stack32) cpu.r32[R.ESP] = sp;
  else cpu.r16[R.ESP << 1] = sp;
}

/** Add `n` to ESP or SP according to the current stack size. */
export function addSp(cpu: Cpu, n: number): void {
  if (cpu.stack32) cpu.r32[R.ESP] = (cpu.r32[R.ESP]! + n) | 0;
  else cpu.r16[R.ESP << 1] = (cpu.r16[R.ESP << 1]! + n) & 0xffff;
}

// --- the TSS inner-stack pointers --------------------------------------------------

/** Result of `readTssStack` (module-level to avoid allocating). */
export const tssStack = { ss: 0, esp: 0 };

/**
 * Read SSn:ESPn for privilege level `dpl` from the current TSS (32-bit TSS:
 * ESPn at 4 + 8n, SSn at 8 + 8n; 16-bit TSS: SPn at 2 + 4n, SSn at 4 + 4n),
 * into `tssStack`. #TS(TR selector | ext) when the entry lies beyond the
 * TSS limit (SDM §5.8.5, §7.2.1 and vol. 2 "INT n"/"CALL").
 */
export function readTssStack(cpu: Cpu, dpl: number, ext: number): void {
  const type = cpu.segAttr[Seg.TR]! & 0xf;
  const base = cpu.segBase[Seg.TR]!, limit = cpu.segLimit[Seg.TR]!;
  if (type === 1 || type === 3) {
    const off = dpl * 4 + 2;
    if (off + 3 > limit) throw tsf((cpu.segSel[Seg.TR]! & 0xfffc) | ext);
    tssStack.esp = sysRead16(cpu, (base + off) | 0);
    tssStack.ss = sysRead16(cpu, (base + off + 2) | 0);
  } else {
    const off = dpl * 8 + 4;
    if (off + 5 > limit) throw tsf((cpu.segSel[Seg.TR]! & 0xfffc) | ext);
    tssStack.esp = sysRead32(cpu, (base + off) | 0);
    tssStack.ss = sysRead16(cpu, (base + off + 4) | 0);
  }
}

/**
 * Validate the inner stack selector read from the TSS for a transfer to
 * privilege `dpl` (SDM vol. 2 "CALL" MORE-PRIVILEGE, "INT n"
 * INTER-PRIVILEGE-LEVEL-INTERRUPT): #TS(sel | ext) for a null selector,
 * an index beyond the table, RPL != dpl, DPL != dpl or a segment that is
 * not writable data; #SS(sel | ext) when not present.
 */
export function checkInnerStack(cpu: Cpu, sel: number, dpl: number, ext: number, d: Desc): void {
  const ec = (sel & 0xfffc) | ext;
  if ((sel & 0xfffc) === 0) throw tsf(ext);
  if (!readDesc(cpu, sel, d)) throw tsf(ec);
  if ((sel & 3) !== dpl) throw tsf(ec);
  if (descDpl(d) !== dpl || !descWritableData(d)) throw tsf(ec);
  if (!descPresent(d)) throw ssf(ec);
}

// --- far JMP / CALL / RET -------------------------------------------------------------

/**
 * Check the target of a direct far JMP/CALL to a code segment (SDM vol. 2
 * "JMP"/"CALL": CONFORMING-/NONCONFORMING-CODE-SEGMENT): conforming needs
 * DPL <= CPL, non-conforming RPL <= CPL and DPL == CPL (#GP(sel)); then
 * #NP(sel) when not present.
 */
function checkDirectCode(cpu: Cpu, sel: number, d: Desc): void {
  const ec = sel & 0xfffc;
  const dpl = descDpl(d);
  if (descConforming(d)) {
    if (dpl > cpu.cpl) throw gp(ec);
  } else if ((sel & 3) > cpu.cpl || dpl !== cpu.cpl) {
    throw gp(ec);
  }
  if (!descPresent(d)) throw np(ec);
}

/**
 * Read the target descriptor of a far JMP/CALL (null is #GP(0), beyond the
 * table #GP(sel)) and classify it: 1 code segment, 2 call gate (16/32-bit),
 * 3 task gate or available TSS; anything else is #GP(sel).
 */
function farTarget(cpu: Cpu, sel: number, d: Desc): number {
  if (isNullSelector(sel)) throw gp(0);
  if (!readDesc(cpu, sel, d)) throw gp(sel & 0xfffc);
  if (descIsCode(d)) return 1;
  if (descCodeData(d)) throw gp(sel & 0xfffc);
  switch (descType(d)) {
    case 4: case 0xc: return 2;
    case 5: case 1: case 9: return 3;
    // Busy TSSs, LDTs and interrupt/trap gates are not JMP/CALL targets.
    default: throw gp(sel & 0xfffc);
  }
}

/**
 * Validate the code segment named by a call gate (SDM "JMP"/"CALL"
 * CALL-GATE): null is #GP(0); beyond the table, not code, or DPL > CPL is
 * #GP(sel); a JMP additionally needs DPL == CPL for non-conforming code;
 * not present is #NP(sel). Leaves the descriptor in `d`.
 */
function checkGateTarget(cpu: Cpu, csSel: number, d: Desc, jump: boolean): void {
  const ec = csSel & 0xfffc;
  if (ec === 0 && (csSel & 4) === 0) throw gp(0);
  if (!readDesc(cpu, csSel, d)) throw gp(ec);
  if (!descIsCode(d)) throw gp(ec);
  const dpl = descDpl(d);
  if (dpl > cpu.cpl) throw gp(ec);
  if (jump && !descConforming(d) && dpl !== cpu.cpl) throw gp(ec);
  if (!descPresent(d)) throw np(ec);
}

/** Gate checks shared by JMP and CALL: DPL >= max(CPL, RPL) else #GP(gate); present else #NP(gate). */
function checkGate(cpu: Cpu, sel: number, g: Desc): void {
  const dpl = descDpl(g);
  if (dpl < cpu.cpl || dpl < (sel & 3)) throw gp(sel & 0xfffc);
  if (!descPresent(g)) throw np(sel & 0xfffc);
}

/** Gate offset (16-bit gates use only the low word). */
function gateOffset(g: Desc): number {
  return (descType(g) & 8) !== 0 ? ((g.lo & 0xffff) | (g.hi & 0xffff0000)) | 0 : g.lo & 0xffff;
}

/**
 * JMP far to `sel`:`off` (EA ptr16:16/32, FF /5 m16:16/32). `o16` truncates
 * the offset to 16 bits. Targets: code segments (same privilege only),
 * call gates (no privilege change for JMP), task gates/TSS (unsupported).
 */
export function farJump(cpu: Cpu, sel: number, off: number, o16: boolean): void {
  sel &= 0xffff;
  if (o16) off &= 0xffff;
  if (!protectedMode(cpu)) {
    if ((off >>> 0) > cpu.segLimit[Seg.CS]!) throw gp(0);
    loadRealMode(cpu, Seg.CS, sel);
    cpu.eip = off;
    return;
  }
  const d = D_CS;
  const kind = farTarget(cpu, sel, d);
  if (kind === 1) {
    checkDirectCode(cpu, sel, d);
    if ((off >>> 0) > descLimit(d)) throw gp(0);
    setAccessed(cpu, d);
    commitCS(cpu, sel, d, cpu.cpl);
    cpu.eip = off;
    return;
  }
  if (kind === 3) {
    farTask(cpu, sel, d, TaskSrc.JMP);
    return;
  }
  // Call gate: copy it out of D_CS, which now receives the code segment.
  const g = D_GATE;
  g.lo = d.lo; g.hi = d.hi; g.addr = d.addr;
  checkGate(cpu, sel, g);
  const csSel = g.lo >>> 16;
  checkGateTarget(cpu, csSel, d, true);
  const eip = gateOffset(g);
  if ((eip >>> 0) > descLimit(d)) throw gp(0);
  setAccessed(cpu, d);
  commitCS(cpu, csSel, d, cpu.cpl);
  cpu.eip = eip;
}

/** Parameters copied through a call gate (at most 31). */
const PARAMS = new Int32Array(32);

/**
 * CALL far to `sel`:`off` (9A ptr16:16/32, FF /3 m16:16/32); the return
 * address is the current `cpu.eip` (already past the instruction). Direct
 * calls to code segments stay at the current privilege; call gates to a
 * more privileged non-conforming segment switch to the inner stack from
 * the TSS, copy the gate's parameter count of dwords (32-bit gate) or words
 * (16-bit gate) from the caller's stack, and push the caller's SS:ESP,
 * the parameters and CS:EIP (SDM §5.8.5, vol. 2 "CALL").
 */
export function farCall(cpu: Cpu, sel: number, off: number, o16: boolean): void {
  sel &= 0xffff;
  if (o16) off &= 0xffff;
  const retEip = cpu.eip;
  const oldCs = cpu.segSel[Seg.CS]!;
  if (!protectedMode(cpu)) {
    const f = FRAME.beginCurrent(cpu, 0).push(oldCs, !o16).push(retEip, !o16);
    f.checkLimits();
    if ((off >>> 0) > cpu.segLimit[Seg.CS]!) throw gp(0);
    f.probe(cpu);
    f.write(cpu);
    setSp(cpu, f.sp);
    loadRealMode(cpu, Seg.CS, sel);
    cpu.eip = off;
    return;
  }
  const d = D_CS;
  const kind = farTarget(cpu, sel, d);
  if (kind === 1) {
    checkDirectCode(cpu, sel, d);
    const f = FRAME.beginCurrent(cpu, 0).push(oldCs, !o16).push(retEip, !o16);
    f.checkLimits();
    if ((off >>> 0) > descLimit(d)) throw gp(0);
    f.probe(cpu);
    setAccessed(cpu, d);
    f.write(cpu);
    setSp(cpu, f.sp);
    commitCS(cpu, sel, d, cpu.cpl);
    cpu.eip = off;
    return;
  }
  if (kind === 3) {
    farTask(cpu, sel, d, TaskSrc.CALL);
    return;
  }
  const g = D_GATE;
  g.lo = d.lo; g.hi = d.hi; g.addr = d.addr;
  checkGate(cpu, sel, g);
  const csSel = g.lo >>> 16;
  checkGateTarget(cpu, csSel, d, false);
  const gate32 = (descType(g) & 8) !== 0;
  const eip = gateOffset(g);
  const dpl = descDpl(d);
  if (descConforming(d) || dpl === cpu.cpl) {
    // SAME-PRIVILEGE through the gate: pushes have the gate's size.
    const f = FRAME.beginCurrent(cpu, 0).push(oldCs, gate32).push(retEip, gate32);
    f.checkLimits();
    if ((eip >>> 0) > descLimit(d)) throw gp(0);
    f.probe(cpu);
    setAccessed(cpu, d);
    f.write(cpu);
    setSp(cpu, f.sp);
    commitCS(cpu, csSel, d, cpu.cpl);
    cpu.eip = eip;
    return;
  }
  // MORE-PRIVILEGE: new stack from the TSS for the target ring.
  readTssStack(cpu, dpl, 0);
  const newSs = tssStack.ss & 0xffff, newEsp = tssStack.esp;
  const s = D_SS;
  checkInnerStack(cpu, newSs, dpl, 0, s);
  // Parameters come from the caller's stack, read at the caller's privilege.
  const count = g.hi & 0x1f;
  for (let k = 0; k < count; k++) PARAMS[k] = gate32 ? peekStack32(cpu, k * 4) : peekStack16(cpu, k * 2);
  const f = FRAME.begin(descBase(s), descLimit(s), descAttr(s), newEsp, false, newSs & 0xfffc);
  f.push(cpu.segSel[Seg.SS]!, gate32).push(cpu.r32[R.ESP]!, gate32);
  for (let k = count - 1; k >= 0; k--) f.push(PARAMS[k]!, gate32);
  f.push(oldCs, gate32).push(retEip, gate32);
  f.checkLimits();
  if ((eip >>> 0) > descLimit(d)) throw gp(0);
  f.probe(cpu);
  setAccessed(cpu, d);
  setAccessed(cpu, s);
  f.write(cpu);
  loadCacheFrom(cpu, Seg.SS, newSs, s);
  setSp(cpu, f.sp);
  commitCS(cpu, csSel, d, dpl);
  cpu.eip = eip;
}

/**
 * Check the code segment a RET far / IRET returns to (SDM vol. 2 "RET",
 * "IRET" PROTECTED-MODE-RETURN): null is #GP(0); beyond the table, not
 * code, RPL < CPL, conforming with DPL > RPL, or non-conforming with
 * DPL != RPL is #GP(sel); not present is #NP(sel).
 */
export function checkReturnCode(cpu: Cpu, sel: number, d: Desc): void {
  const ec = sel & 0xfffc;
  if (ec === 0) throw gp(0);
  if (!readDesc(cpu, sel, d)) throw gp(ec);
  if (!descIsCode(d)) throw gp(ec);
  const rpl = sel & 3, dpl = descDpl(d);
  if (rpl < cpu.cpl) throw gp(ec);
  if (descConforming(d) ? dpl > rpl : dpl !== rpl) throw gp(ec);
  if (!descPresent(d)) throw np(ec);
}

/**
 * Check the stack segment popped by a return to an outer privilege level
 * (RET far, IRET): null is #GP(0); beyond the table, RPL != the return
 * CS's RPL, not writable data, or DPL != that RPL is #GP(sel); not present
 * is #SS(sel).
 */
export function checkReturnStack(cpu: Cpu, sel: number, rpl: number, d: Desc): void {
  const ec = sel & 0xfffc;
  if (ec === 0) throw gp(0);
  if (!readDesc(cpu, sel, d)) throw gp(ec);
  if ((sel & 3) !== rpl || !descWritableData(d) || descDpl(d) !== rpl) throw gp(ec);
  if (!descPresent(d)) throw ssf(ec);
}

/**
 * RET far (CB; CA imm16 releases `imm` bytes of parameters): pop EIP and
 * CS; when the return CS's RPL is outer, also pop ESP and SS, release
 * `imm` bytes on both stacks, and null data segment registers the outer
 * level may not use (SDM §5.8.6, vol. 2 "RET").
 */
export function farReturn(cpu: Cpu, o16: boolean, imm: number): void {
  const size = o16 ? 2 : 4;
  // All stack reads come first: #SS(0) when the frame is outside SS.
  const eipRaw = o16 ? peekStack16(cpu, 0) : peekStack32(cpu, 0);
  const csSel = (o16 ? peekStack16(cpu, 2) : peekStack32(cpu, 4)) & 0xffff;
  if (!protectedMode(cpu)) {
    if ((eipRaw >>> 0) > cpu.segLimit[Seg.CS]!) throw gp(0);
    addSp(cpu, 2 * size + imm);
    loadRealMode(cpu, Seg.CS, csSel);
    cpu.eip = eipRaw;
    return;
  }
  const d = D_CS;
  checkReturnCode(cpu, csSel, d);
  const rpl = csSel & 3;
  if (rpl === cpu.cpl) {
    if ((eipRaw >>> 0) > descLimit(d)) throw gp(0);
    setAccessed(cpu, d);
    addSp(cpu, 2 * size + imm);
    commitCS(cpu, csSel, d, rpl);
    cpu.eip = eipRaw;
    return;
  }
  // RETURN-TO-OUTER-PRIVILEGE-LEVEL: the caller's SS:ESP sit above the parameters.
  const espRaw = o16 ? peekStack16(cpu, 4 + imm) : peekStack32(cpu, 8 + imm);
  const ssSel = (o16 ? peekStack16(cpu, 6 + imm) : peekStack32(cpu, 12 + imm)) & 0xffff;
  const s = D_RSS;
  checkReturnStack(cpu, ssSel, rpl, s);
  if ((eipRaw >>> 0) > descLimit(d)) throw gp(0);
  setAccessed(cpu, d);
  setAccessed(cpu, s);
  commitCS(cpu, csSel, d, rpl);
  loadCacheFrom(cpu, Seg.SS, ssSel, s);
  setOuterSp(cpu, espRaw);
  addSp(cpu, imm);
  nullInaccessibleSegments(cpu, rpl);
  cpu.eip = eipRaw;
}

// --- task switches ------------------------------------------------------------------

/** What started a task switch: decides the busy-flag, NT and link rules (SDM §7.3, table 7-2). */
export const enum TaskSrc { JMP = 0, CALL = 1, IRET = 2, INT = 3 }

/** 32-bit TSS layout (SDM §7.2.1, figure 7-2): byte offsets. */
const TSS_LINK = 0x00, TSS_CR3 = 0x1c, TSS_EIP = 0x20, TSS_EFLAGS = 0x24, TSS_GPRS = 0x28, TSS_SEGS = 0x48,
  TSS_LDT = 0x60, TSS_TRAP = 0x64;
/** EFLAGS bits a task switch loads (all defined bits but RF and VM, see the header). */
const TASK_EFLAGS = 0x3c7fd5;

const D_TSS = new Desc();
const D_TSEG = new Desc();
const TASK_GPRS = new Int32Array(8);
const TASK_SEGS = new Uint16Array(6);

/** A 32-bit TSS descriptor, available (type 9) or busy (type 0xB). */
function isTss32(d: Desc): boolean { return (d.hi & 0x1d00) === 0x0900; }
/** Any TSS descriptor (16- or 32-bit), available or busy. */
function isTss(d: Desc): boolean { return (d.hi & 0x1500) === 0x0100; }
/** The busy bit of a TSS descriptor (type bit 1). */
function tssBusy(d: Desc): boolean { return (d.hi & 0x200) !== 0; }

/** Make sure [la, la+len) can be written as supervisor (len <= 4096): #PF. */
function probeSys(cpu: Cpu, la: number, len: number): void {
  translate(cpu, la >>> 0, Acc.WRITE, false);
  const end = (la + len - 1) | 0;
  if (((end ^ la) >>> 12) !== 0) translate(cpu, (end & ~0xfff) >>> 0, Acc.WRITE, false);
}

/**
 * Resolve a task gate (JMP/CALL through a gate, or an IDT task gate) to
 * its TSS, left in D_TSS: the TSS selector must index the GDT within its
 * limit, the descriptor must be an available TSS (#GP(tss | ext)), and
 * present (#NP(tss | ext)). Returns the TSS selector.
 */
export function taskGateTarget(cpu: Cpu, gateLo: number, ext: number): number {
  const tss = gateLo >>> 16;
  const ec = (tss & 0xfffc) | ext;
  if ((tss & 4) !== 0 || !readDesc(cpu, tss, D_TSS)) throw gp(ec);
  if (!isTss(D_TSS) || tssBusy(D_TSS)) throw gp(ec);
  if (!descPresent(D_TSS)) throw np(ec);
  return tss;
}

/**
 * JMP/CALL far whose target is a TSS or a task gate (`d` holds it): the
 * descriptor's DPL must be >= max(CPL, RPL) (#GP(sel)) and it must be
 * present (#NP(sel)); a gate then names the TSS.
 */
function farTask(cpu: Cpu, sel: number, d: Desc, src: TaskSrc): void {
  checkGate(cpu, sel, d);
  let tss = sel;
  if (descType(d) === 5) {
    tss = taskGateTarget(cpu, d.lo, 0);
  } else {
    D_TSS.lo = d.lo;
    D_TSS.hi = d.hi;
    D_TSS.addr = d.addr;
  }
  switchTask(cpu, tss, src, -1, 0, true);
}

/**
 * IRET with NT set: return to the task named by the current TSS's link
 * field (SDM vol. 2 "IRET" TASK-RETURN). The link must index the GDT
 * within its limit and name a busy TSS (#TS(link)), present (#NP(link)).
 */
export function taskReturn(cpu: Cpu): void {
  const link = sysRead16(cpu, (cpu.segBase[Seg.TR]! + TSS_LINK) | 0);
  const ec = link & 0xfffc;
  if ((link & 4) !== 0 || !readDesc(cpu, link, D_TSS)) throw tsf(ec);
  if (!isTss(D_TSS) || !tssBusy(D_TSS)) throw tsf(ec);
  if (!descPresent(D_TSS)) throw np(ec);
  switchTask(cpu, link, TaskSrc.IRET, -1, 0, true);
}

/**
 * SWITCH-TASKS to the TSS `sel` whose descriptor is in D_TSS (the caller
 * has applied its own type/privilege/presence checks). Steps, SDM §7.3:
 *
 *  1. (old context) both TSSs must be 32-bit; the new TSS limit must be
 *     at least 0x67 (#TS(new | ext)); the new task's state is read and every
 *     location the switch writes (old TSS state area, new link field, both
 *     descriptors' busy bits) is probed, so a #PF happens before any change;
 *  2. (commit) clear the old busy bit (JMP, IRET); save EIP, EFLAGS (NT
 *     cleared for IRET), the general and segment registers in the old TSS;
 *     CALL/INT: link the new TSS to the old one and set NT in the new
 *     EFLAGS; set the new busy bit (all but IRET); load TR, set CR0.TS,
 *     load CR3, EFLAGS, EIP, the general registers and the selectors;
 *     CPL := CS.RPL;
 *  3. (new context) qualify LDTR, CS, SS, DS, ES, FS, GS (table 7-1: #TS,
 *     or #NP / #SS when not present), push `errorCode` (an exception through
 *     a task gate), check EIP against the CS limit (#GP(0)) and raise the
 *     TSS's debug trap (T flag) as #DB.
 *
 * Faults of step 3 belong to the new task: from an instruction (`inExec`)
 * they are delivered here, with the new task's EIP; from interrupt delivery
 * they propagate as faults raised while delivering.
 */
export function switchTask(cpu: Cpu, sel: number, src: TaskSrc, errorCode: number, ext: number, inExec: boolean): void {
  const d = D_TSS;
  const ec = (sel & 0xfffc) | ext;
  const oldSel = cpu.segSel[Seg.TR]!;
  // 16-bit TSSs are not supported (see the header).
  if (!isTss32(d)) throw gp(ec);
  if (descLimit(d) < 0x67) throw tsf(ec);
  if ((cpu.segAttr[Seg.TR]! & 0x1d) !== 0x09 || cpu.segLimit[Seg.TR]! < TSS_LDT - 1) throw tsf((oldSel & 0xfffc) | ext);
  const base = descBase(d), oldBase = cpu.segBase[Seg.TR]!;

  // Step 1: read the new task's state; probe every write.
  const cr3 = sysRead32(cpu, (base + TSS_CR3) | 0);
  const eip = sysRead32(cpu, (base + TSS_EIP) | 0);
  let eflags = sysRead32(cpu, (base + TSS_EFLAGS) | 0);
  for (let k = 0; k < 8; k++) TASK_GPRS[k] = sysRead32(cpu, (base + TSS_GPRS + 4 * k) | 0);
  for (let k = 0; k < 6; k++) TASK_SEGS[k] = sysRead16(cpu, (base + TSS_SEGS + 4 * k) | 0);
  const ldt = sysRead16(cpu, (base + TSS_LDT) | 0);
  const trap = (sysRead16(cpu, (base + TSS_TRAP) | 0) & 1) !== 0;
  if ((eflags & VM) !== 0) throw gp(ec); // virtual-8086 tasks: not supported
  const nest = src === TaskSrc.CALL || src === TaskSrc.INT;
  const oldDescAddr = (cpu.gdtrBase + (oldSel & 0xfff8) + 4) | 0;
  const clearOld = (src === TaskSrc.JMP || src === TaskSrc.IRET) && (oldSel & 0xfff8) + 7 <= cpu.gdtrLimit;
  probeSys(cpu, (oldBase + TSS_EIP) | 0, TSS_LDT - TSS_EIP);
  if (nest) probeSys(cpu, (base + TSS_LINK) | 0, 2);
  if (src !== TaskSrc.IRET) probeSys(cpu, (d.addr + 4) | 0, 4);
  if (clearOld) probeSys(cpu, oldDescAddr, 4);

  // Step 2: commit. Nothing below faults until the new-context checks.
  let oldFlags = readEflags(cpu);
  if (src === TaskSrc.IRET) oldFlags &= ~NT;
  if (clearOld) cpu.wrSys32(oldDescAddr, cpu.rdSys32(oldDescAddr) & ~0x200);
  cpu.wrSys32((oldBase + TSS_EIP) | 0, cpu.eip);
  cpu.wrSys32((oldBase + TSS_EFLAGS) | 0, oldFlags);
  for (let k = 0; k < 8; k++) cpu.wrSys32((oldBase + TSS_GPRS + 4 * k) | 0, cpu.r32[k]!);
  for (let k = 0; k < 6; k++) cpu.wrSys16((oldBase + TSS_SEGS + 4 * k) | 0, cpu.segSel[k]!);
  if (nest) {
    cpu.wrSys16((base + TSS_LINK) | 0, oldSel);
    eflags |= NT;
  }
  if (src !== TaskSrc.IRET) {
    d.hi |= 0x200;
    cpu.wrSys32((d.addr + 4) | 0, d.hi);
  }
  loadCacheFrom(cpu, Seg.TR, sel, d);
  cpu.cr0 |= CR0_TS;
  // CR3 is part of the task state whether or not paging is on (§7.2.1).
  cpu.cr3 = cr3;
  if ((cpu.cr0 & CR0_PG) !== 0) cpu.tlbFlushNonGlobal();
  cpu.flags = (eflags & TASK_EFLAGS) | FIXED1;
  cpu.lfLazy = 0;
  cpu.eip = eip;
  for (let k = 0; k < 8; k++) cpu.r32[k] = TASK_GPRS[k]!;
  // Selectors are loaded before their descriptors are qualified: the data
  // registers are unusable until then; CS and SS keep their old caches.
  for (let k = 0; k < 6; k++) {
    if (k === Seg.CS || k === Seg.SS) cpu.segSel[k] = TASK_SEGS[k]!;
    else cpu.loadSegCache(k, TASK_SEGS[k]!, 0, 0, SA.NULL);
  }
  cpu.segSel[Seg.LDTR] = ldt;
  cpu.setCpl(TASK_SEGS[Seg.CS]! & 3);
  cpu.brk = true;

  // Step 3: the new task's context.
  if (!inExec) {
    loadTaskSegments(cpu, ldt, ext, errorCode, trap);
    return;
  }
  try {
    loadTaskSegments(cpu, ldt, ext, errorCode, trap);
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    if (!raiseException(cpu, e)) cpu.requestExit(Exit.TRIPLE_FAULT);
  }
}

/** Step 3 of a task switch: qualify and load the new task's segments (table 7-1). */
function loadTaskSegments(cpu: Cpu, ldt: number, ext: number, errorCode: number, trap: boolean): void {
  const d = D_TSEG;
  // LDTR: null, or a present LDT descriptor in the GDT.
  if ((ldt & 0xfffc) === 0) {
    cpu.loadSegCache(Seg.LDTR, ldt, 0, 0, SA.NULL);
  } else {
    const lec = (ldt & 0xfffc) | ext;
    if ((ldt & 4) !== 0 || !readDesc(cpu, ldt, d) || (d.hi & 0x1f00) !== 0x0200 || !descPresent(d)) throw tsf(lec);
    loadCacheFrom(cpu, Seg.LDTR, ldt, d);
  }
  const cpl = cpu.cpl;
  // CS: a code segment; non-conforming needs DPL == CPL, conforming DPL <= CPL.
  const cs = TASK_SEGS[Seg.CS]!;
  const cec = (cs & 0xfffc) | ext;
  if ((cs & 0xfffc) === 0 || !readDesc(cpu, cs, d) || !descIsCode(d)) throw tsf(cec);
  if (descConforming(d) ? descDpl(d) > cpl : descDpl(d) !== cpl) throw tsf(cec);
  if (!descPresent(d)) throw np(cec);
  setAccessed(cpu, d);
  loadCacheFrom(cpu, Seg.CS, cs, d);
  // SS: writable data with RPL == DPL == CPL.
  const ss = TASK_SEGS[Seg.SS]!;
  const sec = (ss & 0xfffc) | ext;
  if ((ss & 0xfffc) === 0 || !readDesc(cpu, ss, d) || !descWritableData(d) || descDpl(d) !== cpl || (ss & 3) !== cpl) {
    throw tsf(sec);
  }
  if (!descPresent(d)) throw ssf(sec);
  setAccessed(cpu, d);
  loadCacheFrom(cpu, Seg.SS, ss, d);
  // Data segment registers: as for MOV, with #TS for the descriptor checks.
  for (let k = 0; k < 6; k++) {
    if (k === Seg.CS || k === Seg.SS) continue;
    const sel = TASK_SEGS[k]!;
    if ((sel & 0xfffc) === 0) continue;
    const dec = (sel & 0xfffc) | ext;
    if (!readDesc(cpu, sel, d)) throw tsf(dec);
    const hi = d.hi;
    if ((hi & 0x1000) === 0 || (hi & 0xa00) === 0x800) throw tsf(dec);
    if ((hi & 0xc00) !== 0xc00 && (((hi >>> 13) & 3) < cpl || ((hi >>> 13) & 3) < (sel & 3))) throw tsf(dec);
    if (!descPresent(d)) throw np(dec);
    setAccessed(cpu, d);
    loadCacheFrom(cpu, k, sel, d);
  }
  if (errorCode >= 0) push32(cpu, errorCode);
  if ((cpu.eip >>> 0) > cpu.segLimit[Seg.CS]!) throw gp(0);
  if (trap) {
    // DR6.BT: the T flag of the new TSS.
    cpu.dr[6] = cpu.dr[6]! | 0x8000;
    throw new CpuFault(Vec.DB);
  }
}
