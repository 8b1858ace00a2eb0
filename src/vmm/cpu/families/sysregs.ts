/**
 * System-register instructions, port I/O, MSRs and hypercall instructions.
 *
 *  - 0F 01: SGDT/SIDT/LGDT/LIDT, SMSW/LMSW, INVLPG, and the ModRM-decided
 *    register forms VMCALL (0F 01 C1) and VMMCALL (0F 01 D9), which leave
 *    the run loop with Exit.HYPERCALL. Every other mod=3 form (MONITOR,
 *    MWAIT, XGETBV, SWAPGS, RDTSCP, ...) is #UD on our 686.
 *  - 0F 00: SLDT/STR/LLDT/LTR/VERR/VERW; 0F 02 LAR, 0F 03 LSL.
 *  - 0F 20-23: MOV to/from CR0/CR2/CR3/CR4 and DR0-DR7; 0F 06 CLTS,
 *    0F 08 INVD, 0F 09 WBINVD.
 *  - 0F 30 WRMSR, 0F 32 RDMSR, 0F 33 RDPMC, 0F 34/35 SYSENTER/SYSEXIT (#UD).
 *  - E4-E7, EC-EF IN/OUT; 6C-6F INS/OUTS with REP.
 *
 * Specs followed: Intel SDM vol. 2 (the instruction pages); vol. 3A ch. 2
 * (§2.5 control registers, §2.6-2.8 system registers and instructions),
 * ch. 3 (LDTR/TR and their descriptors), ch. 4 (§4.10.4 TLB invalidation),
 * ch. 5 (§5.10.4 LAR/LSL/VERR/VERW pointer validation, privilege rules),
 * the "Task Management" chapter (32-bit TSS layout, I/O map base at 66h);
 * vol. 1 "Input/Output" chapter (I/O privilege level, I/O permission bit
 * map); vol. 3B "Debug Registers" (DR6/DR7 layout, general detect); AMD APM
 * vol. 2/3 where the host (an AMD EPYC) decides an SDM "undefined".
 *
 * Choices where the SDM leaves room or where we model a subset:
 *  - SMSW with a 32-bit register destination stores all of CR0 (what P6
 *    and later processors do; the SDM calls the upper half "undefined").
 *    SLDT/STR zero-extend into a 32-bit register (P6 and later).
 *  - LAR returns limit bits 19:16 in bits 19:16 (mask 00FFFF00h), as the
 *    host does; the SDM's mask is 00FxFF00h with x undefined.
 *  - SGDT/SIDT store the full 32-bit base for both operand sizes (current
 *    SDM); LGDT/LIDT with a 16-bit operand size load a 24-bit base.
 *  - No UMIP: CR4.UMIP is reserved, so SGDT/SIDT/SLDT/STR/SMSW work at CPL 3
 *    as on a 686.
 *  - Real mode is not modelled: a MOV to CR0 that would clear PE raises
 *    #GP(0) (LMSW cannot clear PE architecturally).
 *  - Reserved low bits of CR0 are ignored on write (SDM §2.5); reserved CR4
 *    bits raise #GP(0). CR4 accepts TSD, DE, PSE, PAE, PGE, PCE, OSFXSR and
 *    OSXMMEXCPT. VME/PVI need virtual-8086 mode and MCE machine checks,
 *    neither of which exists (CPUID reports neither).
 *  - MOV to CR3 in PAE mode does not preload PDPTEs: the page walker reads
 *    the top level at walk time (see mmu.ts), so no PDPTE checks happen here.
 *  - MOV CR/DR ignore ModRM.mod (D.MOD_REG): the operand is always a
 *    general register and no SIB/displacement bytes follow.
 *  - DR6/DR7 read back with a P6's fixed bits (DR6: 0xFFFF0FF0 | state,
 *    bit 12 clear; DR7: bit 10 set, bits 11, 12, 14, 15 clear). DR7
 *    breakpoints are stored but not yet enforced; DR7.GD (general detect)
 *    is, since it is part of MOV DR itself.
 *  - The I/O permission check of INS/OUTS happens even when a REP count is
 *    0 (observed on the host). INS checks its destination is writable
 *    before reading the port, so a fault never loses device data. REP
 *    INS/OUTS run at most REP_CHUNK iterations per execution and then
 *    restart themselves (EIP back, block ended), so a huge count cannot
 *    stall the run loop; registers advance per iteration, so any fault
 *    leaves a restartable state.
 *  - RDPMC follows the SDM rule (CPL 0 or CR4.PCE) and models the P6's two
 *    counters (ECX 0/1) as always reading 0.
 */
import type { Cpu } from '../cpu.js';
import {
  Exit, SA, Seg,
  CR0_PE, CR0_MP, CR0_EM, CR0_TS, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_NW, CR0_CD, CR0_PG,
  CR4_TSD, CR4_DE, CR4_PSE, CR4_PAE, CR4_PGE, CR4_PCE, CR4_OSFXSR, CR4_OSXMMEXCPT,
  EFER_NXE,
} from '../cpu.js';
import { CpuFault, Vec } from '../fault.js';
import { DF, IOPL, ZF } from '../flags.js';
import { D, Imm, type ExecFn, type Insn, type OpDef } from '../insn.js';
import { fetchDescriptor, decodeSegment, type RawDescriptor } from '../descriptor.js';
import { ea, laR, laW, rmRead16, segR, segW } from '../operands.js';
import type { OpTable } from '../table.js';

/** CR0 bits a MOV to CR0 can change; the others are reserved and ignored. */
export const CR0_WRITABLE = CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM |
  CR0_NW | CR0_CD | CR0_PG;

/** CR4 bits this 686 implements; setting any other bit raises #GP(0). */
export const CR4_SUPPORTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE |
  CR4_OSFXSR | CR4_OSXMMEXCPT;

/** MSR numbers handled inside the CPU. */
export const MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175,
  MSR_SYSENTER_EIP = 0x176, MSR_EFER = 0xc0000080 | 0;

/** DR6 bits that hold state (B0-B3, BD, BS, BT); the rest read as fixed values. */
const DR6_MASK = 0xe00f;
/** DR6 bits that read as 1 on a P6 (4-11, 16-31). */
const DR6_ONES = 0xffff0ff0 | 0;
/** DR7 bits that hold state (L0-G3, LE, GE, GD, R/W and LEN fields). */
const DR7_MASK = 0xffff23ff | 0;
/** DR7 bit 10 reads as 1. */
const DR7_ONES = 0x400;
const DR7_GD = 0x2000;
const DR6_BD = 0x2000;

/** Longest run of REP INS/OUTS iterations per execution before the instruction restarts. */
const REP_CHUNK = 1024;

function gp0(): never {
  throw new CpuFault(Vec.GP, 0);
}

function ud(): never {
  throw new CpuFault(Vec.UD);
}

/** Privileged instructions: #GP(0) unless CPL 0. */
function needCpl0(c: Cpu): void {
  if (c.cpl !== 0) gp0();
}

/** Set ZF alone, leaving the other (possibly lazy) arithmetic flags as they are. */
function setZF(c: Cpu, on: boolean): void {
  // ZF derives only from the lazy result, so dropping it from the lazy mask
  // does not disturb how CF/OF/AF/SF/PF are evaluated later.
  c.lfLazy &= ~ZF;
  c.flags = on ? c.flags | ZF : c.flags & ~ZF;
}

// --- time-stamp counter -------------------------------------------------------

/**
 * The current time-stamp counter, as RDTSC (misc.ts) and RDMSR(0x10) read
 * it: `cpu.tscHook()` when set (virtual time owns the counter), else the
 * retired-instruction count plus tscOffset, modulo 2^64.
 */
export function tscRead(c: Cpu): bigint {
  if (c.tscHook !== null) return BigInt.asUintN(64, c.tscHook());
  return BigInt.asUintN(64, BigInt(c.icount) + c.tscOffset);
}

/**
 * WRMSR(0x10): make the instruction-count-based counter read `value` now
 * by adjusting tscOffset. With a tscHook installed the hook keeps owning
 * the counter (the offset only applies to the built-in source).
 */
export function tscWrite(c: Cpu, value: bigint): void {
  c.tscOffset = BigInt.asUintN(64, value) - BigInt(c.icount);
}

// --- 0F 01: descriptor-table registers, MSW, INVLPG, hypercalls ---------------

/** SGDT/SIDT: 16-bit limit then 32-bit base; both stores are checked before either happens. */
function storeTableReg(c: Cpu, i: Insn, limit: number, base: number): void {
  const la = laW(c, i, 6);
  c.probeW(la, 6);
  c.wr16(la, limit);
  c.wr32((la + 2) | 0, base);
}

/**
 * LGDT/LIDT: read the 6-byte operand, then commit. A 16-bit operand size
 * loads only 24 bits of base (SDM vol. 2 LGDT/LIDT).
 */
function loadTableReg(c: Cpu, i: Insn, o16: boolean, idt: boolean): void {
  needCpl0(c);
  const la = laR(c, i, 6);
  const limit = c.rd16(la);
  let base = c.rd32((la + 2) | 0);
  if (o16) base &= 0xffffff;
  if (idt) {
    c.idtrLimit = limit;
    c.idtrBase = base >>> 0;
  } else {
    c.gdtrLimit = limit;
    c.gdtrBase = base >>> 0;
  }
}

const sgdt: OpDef = {
  name: 'sgdt', flags: D.MEM_ONLY,
  exec: (c, i) => { storeTableReg(c, i, c.gdtrLimit, c.gdtrBase); },
};
const sidt: OpDef = {
  name: 'sidt', flags: D.MEM_ONLY,
  exec: (c, i) => { storeTableReg(c, i, c.idtrLimit, c.idtrBase); },
};
const lgdt: OpDef = {
  name: 'lgdt', flags: D.MEM_ONLY,
  exec: (c, i) => { loadTableReg(c, i, false, false); },
  exec16: (c, i) => { loadTableReg(c, i, true, false); },
};
const lidt: OpDef = {
  name: 'lidt', flags: D.MEM_ONLY,
  exec: (c, i) => { loadTableReg(c, i, false, true); },
  exec16: (c, i) => { loadTableReg(c, i, true, true); },
};

/** CR0 as software reads it (ET is hard-wired to 1 on the P6 family). */
function readCr0(c: Cpu): number {
  return c.cr0 | CR0_ET;
}

const smsw: OpDef = {
  name: 'smsw',
  // A 32-bit register receives all of CR0; memory always receives 16 bits.
  exec: (c, i) => {
    if (i.mod === 3) c.r32[i.rm] = readCr0(c);
    else c.wr16(laW(c, i, 2), readCr0(c));
  },
  exec16: (c, i) => {
    if (i.mod === 3) c.r16[i.rm << 1] = readCr0(c);
    else c.wr16(laW(c, i, 2), readCr0(c));
  },
};

const lmsw: OpDef = {
  name: 'lmsw', flags: D.ENDS,
  exec: (c, i) => {
    needCpl0(c);
    const src = rmRead16(c, i);
    const old = c.cr0;
    // Only PE, MP, EM, TS are loaded; PE can be set but never cleared.
    const v = (old & ~0xf) | (src & 0xf) | (old & CR0_PE);
    c.cr0 = v;
    if (((old ^ v) & CR0_PE) !== 0) {
      c.tlbFlushAll();
      c.brk = true;
    }
  },
};

/**
 * INVLPG: drop the translation of the page holding the linear address
 * (segment base + offset; no limit check, SDM vol. 2 INVLPG). Cpu.tlbFlushPage
 * also drops the other cached pieces of a 2/4 MiB page (§4.10.4.1). The
 * instruction ends its block, so the next fetch translates afresh.
 */
const invlpgDef: OpDef = {
  name: 'invlpg', flags: D.MEM_ONLY | D.ENDS,
  exec: (c, i) => {
    needCpl0(c);
    c.tlbFlushPage((c.segBase[i.seg]! + ea(c, i)) | 0);
  },
};

/** VMCALL / VMMCALL: EIP already points past the instruction; the VMM services the call and resumes. */
const hypercall: ExecFn = (c) => { c.requestExit(Exit.HYPERCALL); };
const vmcall: OpDef = { name: 'vmcall', flags: D.ENDS, exec: hypercall };
const vmmcall: OpDef = { name: 'vmmcall', flags: D.ENDS, exec: hypercall };

/** 0F 01: decided by the whole ModRM byte. */
function resolve0f01(m: number): OpDef | null {
  const reg = (m >> 3) & 7;
  if ((m & 0xc0) !== 0xc0) {
    switch (reg) {
      case 0: return sgdt;
      case 1: return sidt;
      case 2: return lgdt;
      case 3: return lidt;
      case 4: return smsw;
      case 6: return lmsw;
      case 7: return invlpgDef;
      default: return null;
    }
  }
  if (m === 0xc1) return vmcall;
  if (m === 0xd9) return vmmcall;
  if (reg === 4) return smsw;
  if (reg === 6) return lmsw;
  return null;
}

// --- 0F 00, LAR, LSL: LDTR/TR and selector inspection --------------------------

/** SLDT/STR: a register receives the zero-extended selector (P6 and later), memory 16 bits. */
function storeSelector(seg: number, name: string): OpDef {
  return {
    name,
    exec: (c, i) => {
      if (i.mod === 3) c.r32[i.rm] = c.segSel[seg]!;
      else c.wr16(laW(c, i, 2), c.segSel[seg]!);
    },
    exec16: (c, i) => {
      if (i.mod === 3) c.r16[i.rm << 1] = c.segSel[seg]!;
      else c.wr16(laW(c, i, 2), c.segSel[seg]!);
    },
  };
}

/** Descriptor of a selector that must come from the GDT, or #GP(selector). */
function gdtDescriptor(c: Cpu, sel: number): RawDescriptor {
  const d = (sel & 4) !== 0 ? null : fetchDescriptor(c, sel);
  if (d === null) throw new CpuFault(Vec.GP, sel & 0xfffc);
  return d;
}

const lldt: OpDef = {
  name: 'lldt',
  exec: (c, i) => {
    needCpl0(c);
    const sel = rmRead16(c, i);
    if ((sel & 0xfffc) === 0) {
      // A null selector (bits 2-15 zero) leaves LDTR unusable.
      c.loadSegCache(Seg.LDTR, sel, 0, 0, SA.NULL);
      return;
    }
    const d = gdtDescriptor(c, sel);
    if (((d.hi >>> 8) & 0x1f) !== 0x02) throw new CpuFault(Vec.GP, sel & 0xfffc);
    if ((d.hi & 0x8000) === 0) throw new CpuFault(Vec.NP, sel & 0xfffc);
    const s = decodeSegment(d.lo, d.hi);
    c.loadSegCache(Seg.LDTR, sel, s.base, s.limit, s.attr);
  },
};

const ltr: OpDef = {
  name: 'ltr',
  exec: (c, i) => {
    needCpl0(c);
    const sel = rmRead16(c, i);
    if ((sel & 0xfffc) === 0) gp0();
    const d = gdtDescriptor(c, sel);
    const type = (d.hi >>> 8) & 0x1f;
    // Only an available 16-bit (1) or 32-bit (9) TSS; S must be 0.
    if (type !== 0x01 && type !== 0x09) throw new CpuFault(Vec.GP, sel & 0xfffc);
    if ((d.hi & 0x8000) === 0) throw new CpuFault(Vec.NP, sel & 0xfffc);
    // Mark it busy in the GDT first: that write is the only step that can
    // still fault (#PF on the GDT page), and TR must not change if it does.
    const hi = d.hi | 0x200;
    c.wrSys32((d.addr + 4) | 0, hi);
    const s = decodeSegment(d.lo, hi);
    c.loadSegCache(Seg.TR, sel, s.base, s.limit, s.attr);
  },
};

/**
 * The descriptor a LAR/LSL/VERR/VERW selector names, or null when it is
 * null or lies beyond its table (the instruction then clears ZF).
 */
function inspect(c: Cpu, sel: number): RawDescriptor | null {
  if ((sel & 0xfffc) === 0) return null;
  return fetchDescriptor(c, sel);
}

/** Privilege rule of LAR/LSL/VERR/VERW: conforming code is always visible, else DPL >= max(CPL, RPL). */
function visible(c: Cpu, sel: number, hi: number): boolean {
  if (((hi >>> 8) & 0x1c) === 0x1c) return true;
  const dpl = (hi >>> 13) & 3;
  return dpl >= c.cpl && dpl >= (sel & 3);
}

/** System-descriptor types LAR accepts: TSSs, LDT, call gates and task gates (not interrupt/trap gates). */
const LAR_SYSTEM = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 9) | (1 << 0xb) | (1 << 0xc);
/** System-descriptor types LSL accepts: TSSs and LDT (segments with a limit). */
const LSL_SYSTEM = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 0xb);

/** The descriptor LAR/LSL may report (ZF=1), else null (ZF=0). */
function larLslCheck(c: Cpu, sel: number, systemTypes: number): RawDescriptor | null {
  const d = inspect(c, sel);
  let ok = false;
  if (d !== null) {
    const hi = d.hi;
    const typeOk = (hi & 0x1000) !== 0 || ((systemTypes >> ((hi >>> 8) & 0xf)) & 1) !== 0;
    ok = typeOk && visible(c, sel, hi);
  }
  setZF(c, ok);
  return ok ? d : null;
}

/** LSL limit of a descriptor, granularity applied. */
function byteLimit(d: RawDescriptor): number {
  const raw = (d.lo & 0xffff) | (d.hi & 0xf0000);
  return (d.hi & 0x800000) !== 0 ? ((raw << 12) | 0xfff) : raw;
}

// LAR/LSL change their destination only when ZF is set. LAR reports the
// high dword masked with 00FxFF00h (FF00h for a 16-bit destination), where
// the SDM leaves x (limit bits 19:16) undefined; we return them as the host
// processor does (mask 00FFFF00h). LSL reports the byte-granular limit.
const lar: OpDef = {
  name: 'lar', modrm: true,
  exec: (c, i) => {
    const d = larLslCheck(c, rmRead16(c, i), LAR_SYSTEM);
    if (d !== null) c.r32[i.reg] = d.hi & 0x00ffff00;
  },
  exec16: (c, i) => {
    const d = larLslCheck(c, rmRead16(c, i), LAR_SYSTEM);
    if (d !== null) c.r16[i.reg << 1] = d.hi & 0xff00;
  },
};
const lsl: OpDef = {
  name: 'lsl', modrm: true,
  exec: (c, i) => {
    const d = larLslCheck(c, rmRead16(c, i), LSL_SYSTEM);
    if (d !== null) c.r32[i.reg] = byteLimit(d);
  },
  exec16: (c, i) => {
    const d = larLslCheck(c, rmRead16(c, i), LSL_SYSTEM);
    if (d !== null) c.r16[i.reg << 1] = byteLimit(d);
  },
};

/** VERR/VERW: ZF reports readability/writability at the current CPL; never faults on the selector. */
function verify(write: boolean): ExecFn {
  return (c, i) => {
    const sel = rmRead16(c, i);
    const d = inspect(c, sel);
    let ok = false;
    if (d !== null && (d.hi & 0x1000) !== 0 && visible(c, sel, d.hi)) {
      const type = (d.hi >>> 8) & 0xf;
      // Writable: data with W. Readable: any data, or code with R.
      ok = write ? (type & 0xa) === 0x2 : (type & 8) === 0 || (type & 2) !== 0;
    }
    setZF(c, ok);
  };
}

// --- MOV CR / MOV DR ---------------------------------------------------------------

function movFromCr(c: Cpu, i: Insn): void {
  const n = i.reg;
  // An invalid CR number is #UD even at CPL 3 (it outranks the privilege check, as on the host).
  if (n === 1 || n > 4) ud();
  needCpl0(c);
  let v: number;
  switch (n) {
    case 0: v = readCr0(c); break;
    case 2: v = c.cr2; break;
    case 3: v = c.cr3; break;
    default: v = c.cr4; break;
  }
  c.r32[i.rm] = v;
}

function movToCr(c: Cpu, i: Insn): void {
  const n = i.reg;
  if (n === 1 || n > 4) ud();
  needCpl0(c);
  const src = c.r32[i.rm]!;
  switch (n) {
    case 0: {
      const old = c.cr0;
      const v = (src & CR0_WRITABLE) | CR0_ET;
      if ((v & CR0_PG) !== 0 && (v & CR0_PE) === 0) gp0();
      if ((v & CR0_NW) !== 0 && (v & CR0_CD) === 0) gp0();
      // Real mode is not modelled (see header).
      if ((old & CR0_PE) !== 0 && (v & CR0_PE) === 0) gp0();
      c.cr0 = v;
      if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) !== 0) {
        c.tlbFlushAll();
        c.brk = true;
      }
      return;
    }
    case 2:
      c.cr2 = src;
      return;
    case 3:
      c.cr3 = src;
      c.tlbFlushNonGlobal();
      c.brk = true;
      return;
    default: {
      if ((src & ~CR4_SUPPORTED) !== 0) gp0();
      const old = c.cr4;
      c.cr4 = src;
      if (((old ^ src) & (CR4_PAE | CR4_PSE | CR4_PGE)) !== 0) {
        c.tlbFlushAll();
        c.brk = true;
      }
      return;
    }
  }
}

/** Checks common to both MOV DR directions; returns the debug register actually meant. */
function drAccess(c: Cpu, n: number): number {
  needCpl0(c);
  let r = n;
  if (n === 4 || n === 5) {
    // DR4/DR5 alias DR6/DR7 unless debug extensions are on.
    if ((c.cr4 & CR4_DE) !== 0) ud();
    r = n + 2;
  }
  if ((c.dr[7]! & DR7_GD) !== 0) {
    // General detect: #DB before the access, with BD set and GD cleared so
    // the handler itself can use the debug registers (SDM vol. 3B §18.2.4).
    c.dr[6] = c.dr[6]! | DR6_BD;
    c.dr[7] = c.dr[7]! & ~DR7_GD;
    throw new CpuFault(Vec.DB);
  }
  return r;
}

/**
 * The value DR`r` (0-3, 6 or 7) reads as when it holds `v`: DR6/DR7 with the
 * P6's fixed bits (see the header). Also what a Xen PV guest reads through
 * the emulated MOV DR (xen/pv/privop.ts), whose images Xen fixes the same
 * way (x86_adj_dr6_rsvd / x86_adj_dr7_rsvd without RTM or bus-lock detect).
 */
export function drImage(r: number, v: number): number {
  return r === 6 ? (v & DR6_MASK) | DR6_ONES : r === 7 ? (v & DR7_MASK) | DR7_ONES : v;
}

function movFromDr(c: Cpu, i: Insn): void {
  const r = drAccess(c, i.reg);
  c.r32[i.rm] = drImage(r, c.dr[r]!);
}

function movToDr(c: Cpu, i: Insn): void {
  const r = drAccess(c, i.reg);
  c.dr[r] = drImage(r, c.r32[i.rm]!);
}

// --- MSRs ----------------------------------------------------------------------------

function rdmsr(c: Cpu): void {
  needCpl0(c);
  const idx = c.r32[1]!;
  let lo: number, hi: number;
  switch (idx) {
    case MSR_TSC: {
      const t = tscRead(c);
      lo = Number(t & 0xffffffffn) | 0;
      hi = Number(t >> 32n) | 0;
      break;
    }
    case MSR_EFER: lo = c.efer; hi = 0; break;
    case MSR_SYSENTER_CS: lo = c.sysenterCs; hi = 0; break;
    case MSR_SYSENTER_ESP: lo = c.sysenterEsp; hi = 0; break;
    case MSR_SYSENTER_EIP: lo = c.sysenterEip; hi = 0; break;
    case MSR_APIC_BASE: gp0(); // no local APIC
    default: {
      const r = c.host.rdmsr(idx >>> 0);
      if (r === null) gp0();
      lo = r[0];
      hi = r[1];
    }
  }
  c.r32[0] = lo;
  c.r32[2] = hi;
}

function wrmsr(c: Cpu): void {
  needCpl0(c);
  const idx = c.r32[1]!, lo = c.r32[0]!, hi = c.r32[2]!;
  switch (idx) {
    case MSR_TSC:
      tscWrite(c, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
      return;
    case MSR_EFER:
      // Only NXE exists on this CPU (no SYSCALL, no long mode).
      if ((lo & ~EFER_NXE) !== 0 || hi !== 0) gp0();
      c.efer = lo;
      // NXE changes what the TLB's execute bits and the PAE reserved bits mean.
      c.tlbFlushAll();
      c.brk = true;
      return;
    case MSR_SYSENTER_CS: c.sysenterCs = lo; return;
    case MSR_SYSENTER_ESP: c.sysenterEsp = lo; return;
    case MSR_SYSENTER_EIP: c.sysenterEip = lo; return;
    case MSR_APIC_BASE: gp0();
    default:
      if (!c.host.wrmsr(idx >>> 0, lo >>> 0, hi >>> 0)) gp0();
  }
}

/** RDPMC: allowed at CPL 0 or with CR4.PCE; the P6's two counters (ECX 0/1) always read 0. */
function rdpmc(c: Cpu): void {
  if (c.cpl !== 0 && (c.cr4 & CR4_PCE) === 0) gp0();
  if ((c.r32[1]! >>> 0) > 1) gp0();
  c.r32[0] = 0;
  c.r32[2] = 0;
}

// --- port I/O ---------------------------------------------------------------------------

/**
 * The protected-mode I/O permission check (SDM vol. 1, "Input/Output":
 * I/O privilege level, I/O permission bit map): allowed when
 * CPL <= IOPL; otherwise every bit of the TSS I/O permission bit map that
 * covers the accessed ports must be 0. Only a 32-bit TSS has a bit map. The
 * processor reads the map two bytes at a time, so the second byte must lie
 * within the TSS limit too. Throws #GP(0); the map reads are supervisor
 * accesses and may raise #PF.
 */
export function checkIoPermission(c: Cpu, port: number, size: number): void {
  if (c.cpl <= ((c.flags & IOPL) >>> 12)) return;
  const attr = c.segAttr[Seg.TR]!;
  const type = attr & (SA.S | SA.TYPE);
  if ((attr & SA.NULL) !== 0 || (type !== 0x9 && type !== 0xb)) gp0();
  const limit = c.segLimit[Seg.TR]!;
  if (limit < 0x67) gp0();
  const base = c.segBase[Seg.TR]!;
  const off = c.rdSys16((base + 0x66) | 0) + (port >>> 3);
  if (off + 1 > limit) gp0();
  const bits = c.rdSys16((base + off) | 0);
  if ((bits & (((1 << size) - 1) << (port & 7))) !== 0) gp0();
}

function inAcc(size: number, fromDx: boolean): ExecFn {
  return (c, i) => {
    const port = fromDx ? c.r16[4]! : i.imm & 0xff;
    checkIoPermission(c, port, size);
    const v = c.host.ioIn(port, size);
    if (size === 1) c.r8[0] = v;
    else if (size === 2) c.r16[0] = v;
    else c.r32[0] = v;
  };
}

function outAcc(size: number, fromDx: boolean): ExecFn {
  return (c, i) => {
    const port = fromDx ? c.r16[4]! : i.imm & 0xff;
    checkIoPermission(c, port, size);
    const v = size === 1 ? c.r8[0]! : size === 2 ? c.r16[0]! : c.r32[0]! >>> 0;
    c.host.ioOut(port, size, v);
  };
}

/**
 * Iterations to run now for a string I/O instruction: 1 without REP, else
 * min(count, REP_CHUNK); 0 when a REP count is 0.
 */
function repCount(c: Cpu, i: Insn): number {
  if (i.rep === 0) return 1;
  const n = i.a16 ? c.r16[2]! : c.r32[1]! >>> 0;
  return n > REP_CHUNK ? REP_CHUNK : n;
}

/** After a REP chunk: restart the instruction when the count is not exhausted. */
function repContinue(c: Cpu, i: Insn): void {
  if (i.rep !== 0 && (i.a16 ? c.r16[2]! : c.r32[1]!) !== 0) {
    c.eip = i.eip;
    c.brk = true;
  }
}

/** INS: ES:(E)DI <- port DX. Registers advance per completed iteration, so a fault is restartable. */
function insExec(size: number): ExecFn {
  return (c, i) => {
    const port = c.r16[4]!;
    checkIoPermission(c, port, size);
    const step = (c.flags & DF) !== 0 ? -size : size;
    for (let n = repCount(c, i); n > 0; n--) {
      const di = i.a16 ? c.r16[14]! : c.r32[7]!;
      const la = segW(c, Seg.ES, di, size);
      c.probeW(la, size);
      const v = c.host.ioIn(port, size);
      if (size === 1) c.wr8(la, v); else if (size === 2) c.wr16(la, v); else c.wr32(la, v);
      if (i.a16) c.r16[14] = di + step; else c.r32[7] = di + step;
      if (i.rep !== 0) { if (i.a16) c.r16[2] = c.r16[2]! - 1; else c.r32[1] = c.r32[1]! - 1; }
      if (c.exitReason === Exit.WATCH) break; // a debugger watchpoint: stop after this element
    }
    repContinue(c, i);
  };
}

/** OUTS: port DX <- seg:(E)SI (DS unless overridden). */
function outsExec(size: number): ExecFn {
  return (c, i) => {
    const port = c.r16[4]!;
    checkIoPermission(c, port, size);
    const step = (c.flags & DF) !== 0 ? -size : size;
    for (let n = repCount(c, i); n > 0; n--) {
      const si = i.a16 ? c.r16[12]! : c.r32[6]!;
      const la = segR(c, i.seg, si, size);
      const v = size === 1 ? c.rd8(la) : size === 2 ? c.rd16(la) : c.rd32(la) >>> 0;
      c.host.ioOut(port, size, v);
      if (i.a16) c.r16[12] = si + step; else c.r32[6] = si + step;
      if (i.rep !== 0) { if (i.a16) c.r16[2] = c.r16[2]! - 1; else c.r32[1] = c.r32[1]! - 1; }
      if (c.exitReason === Exit.WATCH) break; // a debugger watchpoint: stop after this element
    }
    repContinue(c, i);
  };
}

// --- registration ----------------------------------------------------------------------

/** Register this family's opcodes. */
export function register(t: OpTable): void {
  t.resolver(0x0f01, resolve0f01);

  t.group(0x0f00, 0, storeSelector(Seg.LDTR, 'sldt'));
  t.group(0x0f00, 1, storeSelector(Seg.TR, 'str'));
  t.group(0x0f00, 2, lldt);
  t.group(0x0f00, 3, ltr);
  t.group(0x0f00, 4, { name: 'verr', exec: verify(false) });
  t.group(0x0f00, 5, { name: 'verw', exec: verify(true) });
  t.op(0x0f02, lar);
  t.op(0x0f03, lsl);

  t.op(0x0f20, { name: 'mov', modrm: true, flags: D.MOD_REG, exec: movFromCr });
  t.op(0x0f22, { name: 'mov', modrm: true, flags: D.MOD_REG | D.ENDS, exec: movToCr });
  t.op(0x0f21, { name: 'mov', modrm: true, flags: D.MOD_REG, exec: movFromDr });
  t.op(0x0f23, { name: 'mov', modrm: true, flags: D.MOD_REG, exec: movToDr });

  t.op(0x0f06, { name: 'clts', exec: (c) => { needCpl0(c); c.cr0 &= ~CR0_TS; } });
  // Caches are not modelled: both are privileged no-ops.
  t.op(0x0f08, { name: 'invd', exec: needCpl0 });
  t.op(0x0f09, { name: 'wbinvd', exec: needCpl0 });

  t.op(0x0f30, { name: 'wrmsr', flags: D.ENDS, exec: wrmsr });
  t.op(0x0f32, { name: 'rdmsr', exec: rdmsr });
  t.op(0x0f33, { name: 'rdpmc', exec: rdpmc });
  // CPUID reports no SEP: SYSENTER/SYSEXIT are invalid opcodes.
  t.op(0x0f34, { name: 'sysenter', exec: () => { ud(); } });
  t.op(0x0f35, { name: 'sysexit', exec: () => { ud(); } });

  t.op(0xe4, { name: 'in', imm: Imm.B, flags: D.BYTE, exec: inAcc(1, false) });
  t.op(0xe5, { name: 'in', imm: Imm.B, exec: inAcc(4, false), exec16: inAcc(2, false) });
  t.op(0xec, { name: 'in', flags: D.BYTE, exec: inAcc(1, true) });
  t.op(0xed, { name: 'in', exec: inAcc(4, true), exec16: inAcc(2, true) });
  t.op(0xe6, { name: 'out', imm: Imm.B, flags: D.BYTE, exec: outAcc(1, false) });
  t.op(0xe7, { name: 'out', imm: Imm.B, exec: outAcc(4, false), exec16: outAcc(2, false) });
  t.op(0xee, { name: 'out', flags: D.BYTE, exec: outAcc(1, true) });
  t.op(0xef, { name: 'out', exec: outAcc(4, true), exec16: outAcc(2, true) });
  t.op(0x6c, { name: 'insb', flags: D.BYTE, exec: insExec(1) });
  t.op(0x6d, { name: 'ins', exec: insExec(4), exec16: insExec(2) });
  t.op(0x6e, { name: 'outsb', flags: D.BYTE, exec: outsExec(1) });
  t.op(0x6f, { name: 'outs', exec: outsExec(4), exec16: outsExec(2) });
}
