/**
 * The i686 CPU state and its hot memory-access paths.
 *
 * One `Cpu` object holds everything architectural: general registers (one
 * Int32Array with 16- and 8-bit views), EIP, EFLAGS (with lazily evaluated
 * arithmetic flags, see flags.ts), the six segment registers plus LDTR/TR
 * with their hidden descriptor caches, control/debug registers, GDTR/IDTR,
 * and a software TLB.
 *
 * Memory accessors take *linear* addresses. Segmentation (base + limit
 * checks) happens before them, in `segments.ts`/`Cpu.laR`/`laW`; paging and
 * protection happen here, through the TLB, falling back to the page walker
 * in mmu.ts on a miss. The TLB is one Int32Array indexed by linear page
 * number whose entries are `physical page base | permission bits`, so a hit
 * costs one load, one mask-compare and one DataView access.
 *
 * Debugger watchpoints (debug.ts) hook in at two places only: `tlbSet`
 * refuses to cache a linear page that holds a watched byte, so every access
 * to it reaches `rdSlow`/`wrSlow`, which check the ranges.
 *
 * State is plain data (typed arrays and numbers): snapshots, replay and a
 * future JavaScript translator can all read and write it directly.
 */
import { PhysMemory } from '../memory/phys.js';
import { CpuFault } from './fault.js';
import { LF, IF, FIXED1 } from './flags.js';
import { translate } from './mmu.js';
import type { BlockCache } from './blocks.js';
import { CpuDebug } from './debug.js';

/** Segment register numbers, in x86 encoding order. */
export const enum Seg { ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7 }
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;

/** General-register numbers, in x86 encoding order. */
export const enum R { EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7 }
export const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

/** Index into the byte view `r8` for 8-bit register encoding n (AL..BH). */
export const R8_INDEX: readonly number[] = [0, 4, 8, 12, 1, 5, 9, 13];

/** Segment cache attribute bits (`segAttr`): the descriptor's access byte plus flags. */
export const enum SA {
  /** Descriptor type field (bits 0-3 of the access byte). */
  TYPE = 0x0f,
  /** S: code/data (1) versus system (0). */
  S = 0x10,
  DPL_SHIFT = 5,
  DPL = 0x60,
  P = 0x80,
  /** D/B: 32-bit default size. */
  DB = 0x4000,
  G = 0x8000,
  /** The register holds a null selector (unusable). */
  NULL = 0x10000,
}

/** Per-segment fast-path bits (`segFast`): accesses that need no limit or type check. */
export const enum SF_ {
  /** Readable, expand-up, limit 4 GiB: any read offset is valid. */
  READ = 1,
  /** Writable, expand-up, limit 4 GiB: any write offset is valid. */
  WRITE = 2,
}

/** TLB entry permission bits (low 12 bits of an entry). */
export const enum TLB {
  VALID = 1,
  /** Supervisor write allowed without a walk (dirty already set, not code). */
  SW = 2,
  /** User read allowed. */
  UR = 4,
  /** User write allowed without a walk. */
  UW = 8,
  GLOBAL = 16,
  /** Execute allowed (not NX). */
  X = 32,
  /**
   * The entry is a 4 KiB piece of a 2 MiB / 4 MiB page: INVLPG of any
   * address in the large page must drop every cached piece (SDM vol. 3A §4.10.4.1).
   */
  LARGE = 64,
}

/** Access kinds for the MMU. */
export const enum Acc { READ = 0, WRITE = 1, EXEC = 2 }

/** CR0 bits. */
export const CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 0x10, CR0_NE = 0x20,
  CR0_WP = 0x10000, CR0_AM = 0x40000, CR0_NW = 0x20000000, CR0_CD = 0x40000000, CR0_PG = 0x80000000 | 0;
/** CR4 bits. */
export const CR4_VME = 1, CR4_PVI = 2, CR4_TSD = 4, CR4_DE = 8, CR4_PSE = 0x10, CR4_PAE = 0x20,
  CR4_MCE = 0x40, CR4_PGE = 0x80, CR4_PCE = 0x100, CR4_OSFXSR = 0x200, CR4_OSXMMEXCPT = 0x400;
/** EFER bits (MSR 0xC0000080). */
export const EFER_NXE = 0x800;

/**
 * Services the CPU asks of the VMM synchronously. These are the CPU's
 * "exits" for port I/O, MSRs and CPUID: the instruction completes with the
 * VMM's answer (or the fault it asks for).
 */
export interface CpuHost {
  /** IN: return the value read (size 1, 2 or 4 bytes). */
  ioIn(port: number, size: number): number;
  /** OUT. */
  ioOut(port: number, size: number, value: number): void;
  /** RDMSR: return [lo, hi] or null to raise #GP(0). */
  rdmsr(index: number): [number, number] | null;
  /** WRMSR: return false to raise #GP(0). */
  wrmsr(index: number, lo: number, hi: number): boolean;
  /**
   * CPUID override: fill out[0..3] = EAX, EBX, ECX, EDX and return true, or
   * return false to use the built-in 686-class leaves.
   */
  cpuid(leaf: number, subleaf: number, out: Int32Array): boolean;
}

/** A host that has no devices: reads float high, MSRs #GP, CPUID built in. */
export const NULL_HOST: CpuHost = {
  ioIn: (_p, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : -1),
  ioOut: () => {},
  rdmsr: () => null,
  wrmsr: () => false,
  cpuid: () => false,
};

/** How an interrupt or exception came to be delivered. */
export const enum IntKind {
  /** A fault or trap raised by the processor. */
  EXCEPTION = 0,
  /** INT n / INT3 / INTO / (INT1): DPL-checked against CPL. */
  SOFTWARE = 1,
  /** An external interrupt (PIC, event-channel callback vector). */
  EXTERNAL = 2,
}

/**
 * Exception/interrupt delivery policy. The default delivers through the
 * IDT (interrupts.ts); the Xen PV layer installs its own, which builds
 * bounce frames on the guest kernel stack and turns `int $0x82` into a
 * hypercall exit.
 */
export interface Delivery {
  /**
   * Deliver `vector`. `errorCode` is -1 when none. For software interrupts
   * `cpu.eip` already points past the INT instruction; for faults at the
   * faulting instruction. May throw CpuFault (e.g. a fault while pushing),
   * which the run loop escalates (double fault, triple fault).
   */
  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void;
}

/**
 * Replaces the GDT as the source of descriptors for TI=0 selectors (Xen PV:
 * the guest's `set_gdt` frames plus Xen's reserved entries). `offset` is
 * the selector's byte offset (sel & 0xfff8). Fill `d` and return true, or
 * return false when the entry lies beyond the table. The hook must return
 * code/data descriptors with the accessed bit already set (it sets it in
 * guest memory itself), so callers never write through `d.addr`.
 */
export interface GdtHook {
  read(cpu: Cpu, offset: number, d: { lo: number; hi: number; addr: number }): boolean;
}

/**
 * Translation of the hypervisor's linear range (Xen PV: at and above
 * HYPERVISOR_VIRT_START): the guest's page tables are not consulted there.
 * Returns a physical address, throws #PF, or (with `peek`) returns -1.
 */
export type HoleTranslate = (cpu: Cpu, la: number, acc: Acc, user: boolean, peek: boolean) => number;

/** Why `run` returned (see exec.ts). */
export const enum Exit {
  /** The instruction budget ran out. */
  BUDGET = 0,
  HLT = 1,
  /** VMCALL/VMMCALL, or a PV hypercall trap: the VMM must service it. */
  HYPERCALL = 2,
  /** A debugger breakpoint address was reached (before executing it). */
  BREAKPOINT = 3,
  /** A single step completed. */
  STEP = 4,
  /** A debugger watchpoint was hit. */
  WATCH = 5,
  /** Shutdown: a fault while delivering a double fault. */
  TRIPLE_FAULT = 6,
  /** Something asked the loop to stop (requestStop). */
  STOPPED = 7,
}

export class Cpu {
  // --- general registers -------------------------------------------------
  readonly r32 = new Int32Array(8);
  readonly r16 = new Uint16Array(this.r32.buffer);
  readonly r8 = new Uint8Array(this.r32.buffer);
  /** Offset of the current instruction (or the next, between instructions) within CS. */
  eip = 0;

  // --- EFLAGS ---------------------------------------------------------------
  /** Non-lazy EFLAGS bits (always includes bit 1). */
  flags = FIXED1;
  /** Which arithmetic flags must be derived from the lazy record. */
  lfLazy = 0;
  lfOp: LF = LF.RES;
  lfDst = 0;
  lfSrc = 0;
  lfRes = 0;
  lfMask = -1;
  lfSign = 0x80000000 | 0;

  // --- segments (index Seg.*) ----------------------------------------------
  readonly segSel = new Uint16Array(8);
  readonly segBase = new Int32Array(8);
  /** Effective byte limit (granularity already applied). */
  readonly segLimit = new Uint32Array(8);
  readonly segAttr = new Int32Array(8);
  readonly segFast = new Uint8Array(8);
  /** Current privilege level (0-3). */
  cpl = 0;
  /** Code-segment default size: true for 32-bit code. */
  code32 = true;
  /** Stack-segment size (SS.B): true for ESP, false for SP. */
  stack32 = true;

  // --- system registers -----------------------------------------------------
  cr0 = CR0_ET;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  efer = 0;
  /** IA32_SYSENTER_CS/ESP/EIP (MSRs 0x174-0x176): stored by WRMSR; unused while CPUID reports no SEP. */
  sysenterCs = 0;
  sysenterEsp = 0;
  sysenterEip = 0;
  readonly dr = new Int32Array(8);
  gdtrBase = 0;
  gdtrLimit = 0xffff;
  idtrBase = 0;
  idtrLimit = 0xffff;
  /** Time-stamp counter offset: RDTSC returns icount + tscOffset (overridable by tscHook). */
  tscOffset = 0n;
  /** Optional RDTSC source (virtual time); default derives from icount. */
  tscHook: (() => bigint) | null = null;

  // --- execution bookkeeping -------------------------------------------------
  /** Instructions retired since reset. Deterministic: the basis of virtual time and replay. */
  icount = 0;
  /** Set by anything that must end the current block early (mode change, SMC, exit). */
  brk = false;
  /** Exit reason posted by an instruction that ended the run (see Exit). */
  exitReason: Exit = Exit.BUDGET;
  /** The vCPU executed HLT and waits for an interrupt. */
  halted = false;
  /**
   * Interrupt-window request (VMX's "interrupt-window exiting"): the VMM
   * has an external interrupt waiting for EFLAGS.IF. While set, `run`
   * returns Exit.STOPPED at the first block boundary where IF=1 and no
   * interrupt shadow is active, so the VMM can inject it there.
   */
  irqWindow = false;
  /** Interrupt shadow after STI / MOV SS / POP SS: no external interrupt before the next instruction completes. */
  intShadow = false;
  /** Pending exception class for double-fault escalation (see exec.ts). */
  deliveringVector = -1;

  // --- memory ---------------------------------------------------------------
  readonly mem: PhysMemory;
  /** `mem.u8`, held directly so a TLB hit costs one dependent load less. */
  readonly ramU8: Uint8Array;
  /** `mem.dv` (little-endian multi-byte accesses on a TLB hit). */
  readonly ramDv: DataView;
  /** Software TLB: linear page → physical page base | TLB.* bits; 0 = not cached. */
  readonly tlb = new Int32Array(1 << 20);
  /**
   * Linear pages given a TLB entry since the last full flush, so flushes
   * touch only those (may hold duplicates and already-dropped pages; a full
   * list triggers a full flush).
   */
  readonly tlbPages = new Int32Array(4096);
  tlbCount = 0;
  /** Some entry may be a piece of a large page (INVLPG must then drop its siblings). */
  tlbLarge = false;
  /** Permission bits a read / write / fetch needs at the current CPL. */
  needR: number = TLB.VALID;
  needW: number = TLB.VALID | TLB.SW;
  needX: number = TLB.VALID | TLB.X;

  host: CpuHost;
  delivery: Delivery;
  blocks!: BlockCache;
  /**
   * Lowest CPL a control transfer may enter (Xen PV: 1, ring 0 belongs to
   * the hypervisor); a far call, interrupt or return that would go below it
   * raises #GP(selector) instead.
   */
  cplFloor = 0;
  /** Debugger state: breakpoints, watchpoints, single-step (debug.ts). */
  readonly debug: CpuDebug;
  /** Xen PV descriptor source (null: the architectural GDT). */
  gdtHook: GdtHook | null = null;
  /** Linear addresses at or above `holeStart` (unsigned) translate through `holeTranslate` when paging is on. */
  holeStart = 0x100000000;
  holeTranslate: HoleTranslate | null = null;

  constructor(mem: PhysMemory, delivery: Delivery, host: CpuHost = NULL_HOST) {
    this.mem = mem;
    this.ramU8 = mem.u8;
    this.ramDv = mem.dv;
    this.delivery = delivery;
    this.host = host;
    this.debug = new CpuDebug(this);
  }

  // --- register helpers ---------------------------------------------------------

  /** EAX.. as unsigned 32-bit. */
  reg(n: number): number {
    return this.r32[n]! >>> 0;
  }

  /** Set CPL and the TLB permission masks that depend on it. */
  setCpl(cpl: number): void {
    this.cpl = cpl;
    const user = cpl === 3;
    this.needR = user ? TLB.VALID | TLB.UR : TLB.VALID;
    this.needW = user ? TLB.VALID | TLB.UR | TLB.UW : TLB.VALID | TLB.SW;
    this.needX = user ? TLB.VALID | TLB.UR | TLB.X : TLB.VALID | TLB.X;
  }

  /** Virtual IF: hardware interrupts enabled. */
  get interruptsEnabled(): boolean {
    return (this.flags & IF) !== 0;
  }

  /** Ask the run loop to return at the next instruction boundary. */
  requestExit(reason: Exit): void {
    this.exitReason = reason;
    this.brk = true;
  }

  // --- TLB ------------------------------------------------------------------------

  /** Record a TLB entry for linear page `lp` (entry = physical page base | TLB.* bits). */
  tlbSet(lp: number, entry: number): void {
    // Pages holding a watched byte are never cached: every access to them takes the slow path.
    const watched = this.debug.watchPages;
    if (watched !== null && watched[lp] !== 0) return;
    if (this.tlb[lp] === 0) {
      if (this.tlbCount === this.tlbPages.length) this.tlbFlushAll();
      this.tlbPages[this.tlbCount++] = lp;
    }
    if ((entry & TLB.LARGE) !== 0) this.tlbLarge = true;
    this.tlb[lp] = entry;
  }

  /**
   * Flush every entry, global ones included. Required whenever a bit the
   * walker or the cached permissions depend on changes: CR0.PG and CR0.WP,
   * CR4.PSE/PAE/PGE, EFER.NXE (and a PDPTE reload).
   */
  tlbFlushAll(): void {
    const t = this.tlb, p = this.tlbPages;
    for (let i = 0; i < this.tlbCount; i++) t[p[i]!] = 0;
    this.tlbCount = 0;
    this.tlbLarge = false;
  }

  /** Flush non-global entries (a MOV to CR3). */
  tlbFlushNonGlobal(): void {
    const t = this.tlb, p = this.tlbPages;
    let keep = 0;
    for (let i = 0; i < this.tlbCount; i++) {
      const lp = p[i]!;
      if ((t[lp]! & TLB.GLOBAL) !== 0) p[keep++] = lp;
      else t[lp] = 0;
    }
    this.tlbCount = keep;
  }

  /**
   * INVLPG: drop the translation of the page containing `la`, global or
   * not. When it came from a 2 MiB / 4 MiB page the other cached 4 KiB
   * pieces of that page must go too (SDM vol. 3A §4.10.4.1): we drop every
   * large-page piece in the enclosing 4 MiB region (over-flushing is allowed).
   */
  tlbFlushPage(la: number): void {
    const t = this.tlb;
    t[la >>> 12] = 0; // stays in tlbPages; harmless, rewritten on next set
    if (this.tlbLarge) {
      const first = (la >>> 22) << 10;
      for (let lp = first; lp < first + 1024; lp++) if ((t[lp]! & TLB.LARGE) !== 0) t[lp] = 0;
    }
  }

  /** A frame now holds decoded code: take write permission off every mapping of it. */
  tlbProtectCode(pfn: number): void {
    const t = this.tlb, p = this.tlbPages;
    const mask = ~(TLB.SW | TLB.UW);
    for (let i = 0; i < this.tlbCount; i++) {
      const e = t[p[i]!]!;
      if (e !== 0 && (e >>> 12) === pfn) t[p[i]!] = e & mask;
    }
  }

  /**
   * Translate a linear address for an access by the current CPL (or as a
   * supervisor when `sys`), filling the TLB. Throws #PF. Returns a physical
   * address, which may lie outside RAM (the PhysMemory accessors cope).
   */
  xlate(la: number, acc: Acc, sys = false): number {
    return translate(this, la >>> 0, acc, sys ? false : this.cpl === 3);
  }

  // --- linear memory: hot paths --------------------------------------------------

  rd8(la: number): number {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needR) === this.needR) return this.ramU8[(e & ~0xfff) | (la & 0xfff)]!;
    return this.rdSlow(la, 1, false);
  }

  rd16(la: number): number {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needR) === this.needR && (la & 0xfff) <= 0xffe) {
      return this.ramDv.getUint16((e & ~0xfff) | (la & 0xfff), true);
    }
    return this.rdSlow(la, 2, false);
  }

  rd32(la: number): number {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needR) === this.needR && (la & 0xfff) <= 0xffc) {
      return this.ramDv.getInt32((e & ~0xfff) | (la & 0xfff), true);
    }
    return this.rdSlow(la, 4, false);
  }

  wr8(la: number, v: number): void {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needW) === this.needW) { this.ramU8[(e & ~0xfff) | (la & 0xfff)] = v; return; }
    this.wrSlow(la, 1, v, false);
  }

  wr16(la: number, v: number): void {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needW) === this.needW && (la & 0xfff) <= 0xffe) {
      this.ramDv.setUint16((e & ~0xfff) | (la & 0xfff), v, true);
      return;
    }
    this.wrSlow(la, 2, v, false);
  }

  wr32(la: number, v: number): void {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needW) === this.needW && (la & 0xfff) <= 0xffc) {
      this.ramDv.setInt32((e & ~0xfff) | (la & 0xfff), v, true);
      return;
    }
    this.wrSlow(la, 4, v, false);
  }

  /**
   * Check that [la, la+size) is writable (both pages when it straddles) so a
   * read-modify-write cannot fault after its flags or registers changed.
   */
  probeW(la: number, size: number): void {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needW) === this.needW && (la & 0xfff) <= 0x1000 - size) return;
    this.xlate(la, Acc.WRITE);
    // The second page is probed at its first byte, so a #PF there reports that address in CR2 (as wrSlow and the hardware do).
    if (((la + size - 1) ^ la) >>> 12 !== 0) this.xlate((la + size - 1) & ~0xfff, Acc.WRITE);
  }

  /**
   * Page-crossing or TLB-miss read (size 1, 2 or 4), byte-wise through the
   * walker when it straddles. The debugger's watchpoints are checked here,
   * once the access is known to be permitted.
   */
  rdSlow(la: number, size: number, sys: boolean): number {
    const end = (la + size - 1) | 0;
    if (((end ^ la) >>> 12) === 0) {
      const pa = this.xlate(la, Acc.READ, sys);
      if (this.debug.watchLive) this.debug.access(la, size, false);
      return size === 2 ? this.mem.read16(pa) : size === 4 ? this.mem.read32(pa) : this.mem.read8(pa);
    }
    // Straddles two pages: translate both before reading anything.
    const pa0 = this.xlate(la, Acc.READ, sys);
    const pa1 = this.xlate(end & ~0xfff, Acc.READ, sys);
    if (this.debug.watchLive) this.debug.access(la, size, false);
    let v = 0;
    for (let i = 0; i < size; i++) {
      const a = (la + i) | 0;
      const b = ((a ^ la) >>> 12) === 0 ? this.mem.read8(pa0 + i) : this.mem.read8(pa1 + (a & 0xfff));
      v |= b << (8 * i);
    }
    return size === 2 ? v & 0xffff : v;
  }

  /** Page-crossing or TLB-miss write (size 1, 2 or 4); checks watchpoints like rdSlow. */
  wrSlow(la: number, size: number, v: number, sys: boolean): void {
    const end = (la + size - 1) | 0;
    if (((end ^ la) >>> 12) === 0) {
      const pa = this.xlate(la, Acc.WRITE, sys);
      if (this.debug.watchLive) this.debug.access(la, size, true);
      if (size === 2) this.mem.write16(pa, v); else if (size === 4) this.mem.write32(pa, v); else this.mem.write8(pa, v);
      return;
    }
    const pa0 = this.xlate(la, Acc.WRITE, sys);
    const pa1 = this.xlate(end & ~0xfff, Acc.WRITE, sys);
    if (this.debug.watchLive) this.debug.access(la, size, true);
    for (let i = 0; i < size; i++) {
      const a = (la + i) | 0;
      const b = (v >>> (8 * i)) & 0xff;
      if (((a ^ la) >>> 12) === 0) this.mem.write8(pa0 + i, b); else this.mem.write8(pa1 + (a & 0xfff), b);
    }
  }

  /** Supervisor ("implicit system") accesses: descriptor tables, TSS, IDT. */
  rdSys8(la: number): number { return this.rdSlow(la, 1, true); }
  rdSys16(la: number): number { return this.rdSlow(la, 2, true); }
  rdSys32(la: number): number { return this.rdSlow(la, 4, true); }
  wrSys8(la: number, v: number): void { this.wrSlow(la, 1, v, true); }
  wrSys16(la: number, v: number): void { this.wrSlow(la, 2, v, true); }
  wrSys32(la: number, v: number): void { this.wrSlow(la, 4, v, true); }

  /** Fetch a code byte at a linear address (decoder only). */
  fetch8(la: number): number {
    const e = this.tlb[la >>> 12]!;
    if ((e & this.needX) === this.needX) return this.ramU8[(e & ~0xfff) | (la & 0xfff)]!;
    return this.mem.read8(this.xlate(la, Acc.EXEC));
  }

  // --- debugger/VMM helpers: never fault, never touch A/D bits --------------------

  /** Read a linear address without side effects; null when unmapped. */
  peekLinear(la: number, len: number): Uint8Array | null {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const pa = translate(this, (la + i) >>> 0, Acc.READ, false, true);
      if (pa < 0) return null;
      out[i] = this.mem.read8(pa);
    }
    return out;
  }

  /**
   * Fill a segment register's hidden cache (no checks: callers in
   * segments.ts validate descriptors first). `attr` holds the descriptor's
   * access byte in bits 0-7 and D/B, G in SA.DB/SA.G; `limit` is the
   * effective byte limit. Updates CPL/code size for CS and stack size for SS.
   */
  loadSegCache(seg: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[seg] = sel;
    this.segBase[seg] = base | 0;
    this.segLimit[seg] = limit >>> 0;
    this.segAttr[seg] = attr;
    let fast = 0;
    if ((attr & (SA.NULL | SA.P | SA.S)) === (SA.P | SA.S) && limit >>> 0 === 0xffffffff) {
      const type = attr & 0xf;
      if ((type & 8) === 0) {
        // Data segment: expand-up (bit 2 clear); writable when bit 1 is set.
        if ((type & 4) === 0) fast = (type & 2) !== 0 ? SF_.READ | SF_.WRITE : SF_.READ;
      } else if ((type & 2) !== 0) {
        // Readable code segment: readable, never writable.
        fast = SF_.READ;
      }
    }
    this.segFast[seg] = fast;
    if (seg === Seg.CS) {
      this.code32 = (attr & SA.DB) !== 0;
      this.brk = true;
    } else if (seg === Seg.SS) {
      this.stack32 = (attr & SA.DB) !== 0;
    }
  }

  /** Raise a fault from instruction semantics. */
  fault(vector: number, errorCode = -1): never {
    throw new CpuFault(vector, errorCode);
  }
}
