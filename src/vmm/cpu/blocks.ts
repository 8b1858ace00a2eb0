/**
 * Decoded-block cache with self-modifying-code invalidation.
 *
 * A block is a straight run of decoded instructions starting at a physical
 * address, ending at the first control transfer or state-changing
 * instruction (D.ENDS), at a page boundary, or at MAX_BLOCK instructions.
 * Blocks are keyed by the physical address of their first byte; each key
 * holds a short list of blocks (`sibling`) validated on lookup against the
 * CS base, EIP, code size and CS limit they were decoded for, since the same
 * frame can be mapped at several linear addresses.
 *
 * Invalidation (v86's scheme): every frame that contributed bytes to a
 * block is marked in `PhysMemory.codePages`, and TLB entries for such
 * frames lose their write permission. Any write to the frame therefore
 * takes the slow path, which reaches `onCodePageWrite` before the bytes
 * change: all blocks of the frame are marked invalid and dropped, the mark
 * is cleared, and the CPU is told (`cpu.brk`) to leave its current block
 * after the writing instruction, so the next instruction is decoded from
 * the new bytes. VMM writes (PhysMemory.writeBytes/fill) take the same path.
 *
 * An instruction that straddles two pages ends its block; the block records
 * the second page's linear and physical addresses and re-checks that
 * translation (through the TLB, like a real fetch) every time it is entered,
 * since the second page can be remapped independently of the first.
 *
 * Chaining: each block remembers the two blocks most recently executed
 * after it (`link0`, `link1`). Entering a linked successor skips the hash
 * lookup but performs every other check a lookup does — the TLB still has
 * to grant execute permission at the current CPL and translate to the
 * successor's physical address, and the successor must still be valid
 * (not invalidated by a code write) and match CS/EIP/code size — so a link
 * can never outlive a remap, a flush, a CPL change or an SMC write.
 */
import { Acc, Cpu, Seg } from './cpu.js';
import { CpuFault, Vec } from './fault.js';
import { decode } from './decoder.js';
import { D, type Insn } from './insn.js';
import type { OpTable } from './table.js';
import type { CodeWriteListener } from '../memory/phys.js';

/** Longest block, in instructions. */
export const MAX_BLOCK = 64;
/** Most blocks kept for one physical address (aliases); older ones are dropped. */
const MAX_SIBLINGS = 4;
/** Cache capacity in distinct physical addresses; beyond it everything is dropped. */
const MAX_KEYS = 1 << 16;

/** A decoded straight-line run of instructions. */
export class Block {
  /** False once dropped (code write, eviction): links to it are dead. */
  valid = true;
  /** Physical address of the first byte (first frame). */
  readonly pa: number;
  /** CS base the block was decoded for. */
  readonly csBase: number;
  /** EIP of the first instruction. */
  readonly eip: number;
  /** Decoded as 32-bit code (CS.D). */
  readonly code32: boolean;
  /** The instructions, in order. */
  readonly insns: Insn[];
  /** Offset just past the last instruction. */
  readonly endEip: number;
  /** Physical base of the second frame when the last instruction straddles a page; -1 when none. */
  readonly pa1: number;
  /** Linear address of the straddled second page (checked on entry); -1 when none. */
  readonly la1: number;
  /** Next block with the same `pa` (an alias), or undefined. */
  sibling: Block | undefined = undefined;
  /** Most recent successor (see the header: links are re-validated on use). */
  link0: Block | null = null;
  /** Second most recent successor. */
  link1: Block | null = null;

  constructor(pa: number, csBase: number, eip: number, code32: boolean, insns: Insn[], endEip: number, pa1: number, la1: number) {
    this.pa = pa;
    this.csBase = csBase;
    this.eip = eip;
    this.code32 = code32;
    this.insns = insns;
    this.endEip = endEip;
    this.pa1 = pa1;
    this.la1 = la1;
  }
}

/** The per-CPU cache of decoded blocks; also the SMC listener of its PhysMemory. */
export class BlockCache implements CodeWriteListener {
  private readonly map = new Map<number, Block>();
  /** Blocks that took bytes from each frame (may hold dropped blocks until compacted). */
  private readonly byPage: (Block[] | undefined)[];
  /** Statistics: blocks decoded so far (a re-decode counts again). */
  decodedBlocks = 0;
  /** Statistics: code-frame invalidations. */
  invalidations = 0;

  constructor(private readonly cpu: Cpu, private readonly table: OpTable) {
    this.byPage = new Array<Block[] | undefined>(cpu.mem.codePages.length);
    cpu.mem.codeListener = this;
  }

  /**
   * The block to execute at CS:EIP. Throws CpuFault when the first
   * instruction cannot be fetched (#GP beyond the CS limit, #PF).
   */
  lookup(): Block {
    const cpu = this.cpu;
    const csBase = cpu.segBase[Seg.CS]!;
    const eip = cpu.eip;
    const la = (csBase + eip) | 0;
    const e = cpu.tlb[la >>> 12]!;
    let pa: number;
    if ((e & cpu.needX) === cpu.needX) {
      pa = ((e & ~0xfff) | (la & 0xfff)) >>> 0;
    } else {
      // The CS limit check comes before paging (SDM vol. 3A §3.4, §5.3).
      if ((eip >>> 0) > cpu.segLimit[Seg.CS]!) throw new CpuFault(Vec.GP, 0);
      pa = cpu.xlate(la, Acc.EXEC);
    }
    for (let b = this.map.get(pa); b !== undefined; b = b.sibling) {
      if (this.fits(b, csBase, eip)) return b;
    }
    return this.build(pa);
  }

  /**
   * The block to execute after `prev` completed: one of prev's links when
   * it still fits, else a full lookup whose result becomes prev's newest link.
   */
  next(prev: Block): Block {
    const cpu = this.cpu;
    const csBase = cpu.segBase[Seg.CS]!;
    const eip = cpu.eip;
    const la = (csBase + eip) | 0;
    const e = cpu.tlb[la >>> 12]!;
    if ((e & cpu.needX) === cpu.needX) {
      const pa = ((e & ~0xfff) | (la & 0xfff)) >>> 0;
      let b = prev.link0;
      if (b !== null && b.pa === pa && b.valid && this.fits(b, csBase, eip)) return b;
      b = prev.link1;
      if (b !== null && b.pa === pa && b.valid && this.fits(b, csBase, eip)) {
        prev.link1 = prev.link0;
        prev.link0 = b;
        return b;
      }
    }
    const b = this.lookup();
    prev.link1 = prev.link0;
    prev.link0 = b;
    return b;
  }

  /** Does block `b` (at the right physical address) fit the current CS and EIP? */
  private fits(b: Block, csBase: number, eip: number): boolean {
    const cpu = this.cpu;
    return b.eip === eip && b.csBase === csBase && b.code32 === cpu.code32 &&
      ((b.endEip - 1) >>> 0) <= cpu.segLimit[Seg.CS]! && (b.pa1 < 0 || this.secondPageOk(b));
  }

  /** Does the straddled second page still translate to the frame decoded from? */
  private secondPageOk(b: Block): boolean {
    const cpu = this.cpu;
    const e = cpu.tlb[b.la1 >>> 12]!;
    if ((e & cpu.needX) === cpu.needX) return ((e & ~0xfff) >>> 0) === b.pa1;
    try {
      return ((cpu.xlate(b.la1, Acc.EXEC) & ~0xfff) >>> 0) === b.pa1;
    } catch (f) {
      // Not executable any more: rebuild, and let the decode raise the fault
      // at the instruction that needs the page.
      if (f instanceof CpuFault) return false;
      throw f;
    }
  }

  private build(pa: number): Block {
    const cpu = this.cpu;
    if (this.map.size >= MAX_KEYS) this.clear();
    const csBase = cpu.segBase[Seg.CS]!;
    const startEip = cpu.eip;
    const insns: Insn[] = [];
    let eip = startEip;
    const page0 = (csBase + startEip) >>> 12;
    let pa1 = -1, la1 = -1;
    // Debugger breakpoints: a block never holds one except as its first instruction.
    const debug = cpu.debug.breakpoints.size !== 0 ? cpu.debug : null;
    for (;;) {
      if (debug !== null && insns.length > 0 && debug.hasBreakpoint((csBase + eip) >>> 0)) break;
      let insn: Insn;
      try {
        insn = decode(cpu, this.table, eip);
      } catch (f) {
        // A fetch fault on a later instruction belongs to that instruction:
        // end the block before it and let it fault when it is reached.
        if (f instanceof CpuFault && insns.length > 0) break;
        throw f;
      }
      insns.push(insn);
      eip = insn.next;
      const lastPage = (csBase + insn.next - 1) >>> 12;
      if (lastPage !== page0) {
        // Straddles into the next page: end here and remember that page.
        la1 = (lastPage << 12) | 0;
        pa1 = (cpu.xlate(la1, Acc.EXEC) & ~0xfff) >>> 0;
        break;
      }
      if (((insn.def.flags ?? 0) & D.ENDS) !== 0 || insns.length >= MAX_BLOCK) break;
      if (((csBase + eip) >>> 12) !== page0) break;
    }
    const block = new Block(pa, csBase, startEip, cpu.code32, insns, eip, pa1, la1);
    // Newest first; an over-long alias list loses its oldest block.
    const head = this.map.get(pa);
    block.sibling = head;
    let n = 1;
    for (let b = head, last = block; b !== undefined; last = b, b = b.sibling) {
      if (++n > MAX_SIBLINGS) {
        last.sibling = undefined;
        for (let d: Block | undefined = b; d !== undefined; d = d.sibling) d.valid = false;
        break;
      }
    }
    this.map.set(pa, block);
    this.track(pa >>> 12, block);
    if (pa1 >= 0) this.track(pa1 >>> 12, block);
    this.decodedBlocks++;
    return block;
  }

  /** Record that `b` holds bytes of frame `pfn` and write-protect the frame. */
  private track(pfn: number, b: Block): void {
    if (pfn >= this.byPage.length) return; // outside memory: never written
    let list = this.byPage[pfn];
    if (list === undefined) {
      list = [];
      this.byPage[pfn] = list;
    } else if (list.length >= 64 && (list.length & (list.length - 1)) === 0) {
      // Amortised compaction: forget blocks dropped as excess aliases.
      const live = list.filter((x) => x.valid);
      list.length = 0;
      for (const x of live) list.push(x);
    }
    list.push(b);
    if (this.cpu.mem.codePages[pfn] === 0) {
      this.cpu.mem.codePages[pfn] = 1;
      this.cpu.tlbProtectCode(pfn);
    }
  }

  /** A write is about to modify frame `pfn`, which holds cached code. */
  onCodePageWrite(pfn: number): void {
    const list = this.byPage[pfn];
    if (list !== undefined) {
      for (const b of list) b.valid = false;
      for (const b of list) this.prune(b.pa);
      this.byPage[pfn] = undefined;
    }
    this.cpu.mem.codePages[pfn] = 0;
    this.invalidations++;
    this.cpu.brk = true;
  }

  /**
   * Drop every block whose linear range [CS base + EIP, CS base + end EIP]
   * contains linear address `la` (end included, so blocks cut short just
   * before `la` are rebuilt whole): a debugger breakpoint was added or
   * removed there. Code marks stay (at worst one spare invalidation later).
   */
  invalidateLinear(la: number): void {
    const keys: number[] = [];
    for (const [pa, head] of this.map) {
      let hit = false;
      for (let b: Block | undefined = head; b !== undefined; b = b.sibling) {
        const start = (b.csBase + b.eip) >>> 0;
        if (((la - start) >>> 0) <= ((b.endEip - b.eip) >>> 0)) {
          b.valid = false;
          hit = true;
        }
      }
      if (hit) keys.push(pa);
    }
    for (const pa of keys) this.prune(pa);
    if (keys.length > 0) this.cpu.brk = true;
  }

  /** Unlink invalid blocks from the list at `pa`. */
  private prune(pa: number): void {
    let head = this.map.get(pa);
    while (head !== undefined && !head.valid) head = head.sibling;
    if (head === undefined) {
      this.map.delete(pa);
      return;
    }
    this.map.set(pa, head);
    for (let b = head; b.sibling !== undefined;) {
      if (!b.sibling.valid) b.sibling = b.sibling.sibling;
      else b = b.sibling;
    }
  }

  /**
   * Drop every block (reset, new kernel, capacity). Code marks are cleared,
   * so later writes are no longer reported: every block is marked invalid
   * (links to it die) and the current block ends after the current
   * instruction. TLB entries that lost write permission regain it on their
   * next write walk.
   */
  clear(): void {
    for (const head of this.map.values()) {
      for (let b: Block | undefined = head; b !== undefined; b = b.sibling) b.valid = false;
    }
    this.map.clear();
    this.byPage.fill(undefined);
    this.cpu.mem.codePages.fill(0);
    this.cpu.brk = true;
  }

  /** Number of distinct physical addresses with cached blocks. */
  get size(): number {
    return this.map.size;
  }
}
