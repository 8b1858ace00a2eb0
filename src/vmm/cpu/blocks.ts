/**
 * Decoded-block cache with self-modifying-code invalidation.
 *
 * A block is a straight run of decoded instructions starting at a physical
 * address, ending at the first control transfer or state-changing
 * instruction (D.ENDS), at a page boundary, or at MAX_BLOCK instructions.
 * Blocks are keyed by the physical address of their first byte and
 * validated on lookup against the CS base, EIP and code size they were
 * decoded for (the same frame can be mapped at several linear addresses).
 *
 * Invalidation (v86's scheme): every frame that contributed bytes to a
 * block is marked in `PhysMemory.codePages`, and TLB entries for such
 * frames lose their write permission. Any write to the frame therefore
 * takes the slow path, which reaches `onCodePageWrite`: all blocks of the
 * frame are dropped, the mark is cleared, and the CPU is told to leave its
 * current block after the writing instruction, so the next instruction is
 * decoded from the new bytes.
 *
 * An instruction that straddles two pages ends its block; the block records
 * the second frame and re-checks its translation on every lookup, since the
 * second page can be remapped independently of the first.
 */
import { Acc, Cpu, Seg, TLB } from './cpu.js';
import { CpuFault } from './fault.js';
import { decode } from './decoder.js';
import { D, type Insn } from './insn.js';
import type { OpTable } from './table.js';
import type { CodeWriteListener } from '../memory/phys.js';

/** Longest block, in instructions. */
export const MAX_BLOCK = 64;

export class Block {
  valid = true;
  /** Physical address of the first byte (first frame). */
  readonly pa: number;
  readonly csBase: number;
  readonly eip: number;
  readonly code32: boolean;
  readonly insns: Insn[];
  /** Offset just past the last instruction. */
  readonly endEip: number;
  /** Second frame for a block whose last instruction straddles a page; -1 when none. */
  readonly pa1: number;
  /** Linear page of the straddled second page (checked on lookup). */
  readonly la1: number;

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

export class BlockCache implements CodeWriteListener {
  private readonly map = new Map<number, Block>();
  private readonly byPage: (Block[] | undefined)[];
  /** Statistics for benchmarks and docs. */
  decodedBlocks = 0;
  invalidations = 0;

  constructor(private readonly cpu: Cpu, private readonly table: OpTable) {
    this.byPage = new Array<Block[] | undefined>(cpu.mem.codePages.length);
    cpu.mem.codeListener = this;
  }

  /** The block to execute at CS:EIP. Throws CpuFault when the first instruction cannot be fetched. */
  lookup(): Block {
    const cpu = this.cpu;
    const csBase = cpu.segBase[Seg.CS]!;
    const la = (csBase + cpu.eip) | 0;
    const e = cpu.tlb[la >>> 12]!;
    const pa = (e & cpu.needX) === cpu.needX ? ((e & ~0xfff) | (la & 0xfff)) >>> 0 : cpu.xlate(la, Acc.EXEC);
    const b = this.map.get(pa);
    if (b !== undefined && b.eip === cpu.eip && b.csBase === csBase && b.code32 === cpu.code32 &&
        (b.endEip - 1) >>> 0 <= cpu.segLimit[Seg.CS]! && (b.pa1 < 0 || this.secondPageOk(b))) {
      return b;
    }
    return this.build(pa);
  }

  private secondPageOk(b: Block): boolean {
    try {
      return (this.cpu.xlate(b.la1, Acc.EXEC) & ~0xfff) === b.pa1;
    } catch (f) {
      if (f instanceof CpuFault) return false;
      throw f;
    }
  }

  private build(pa: number): Block {
    const cpu = this.cpu;
    const csBase = cpu.segBase[Seg.CS]!;
    const startEip = cpu.eip;
    const insns: Insn[] = [];
    let eip = startEip;
    const page0 = (csBase + startEip) >>> 12;
    let pa1 = -1, la1 = -1;
    for (;;) {
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
      const lastByte = (csBase + insn.next - 1) >>> 12;
      if (lastByte !== page0) {
        la1 = (lastByte << 12) | 0;
        pa1 = cpu.xlate(la1, Acc.EXEC) & ~0xfff;
        break;
      }
      if ((insn.def.flags ?? 0) & D.ENDS || insns.length >= MAX_BLOCK) break;
      if (((csBase + eip) >>> 12) !== page0) break;
    }
    const block = new Block(pa, csBase, startEip, cpu.code32, insns, eip, pa1, la1);
    this.map.set(pa, block);
    this.track(pa >>> 12, block);
    if (pa1 >= 0) this.track(pa1 >>> 12, block);
    this.decodedBlocks++;
    return block;
  }

  private track(pfn: number, b: Block): void {
    if (pfn >= this.byPage.length) return;
    let list = this.byPage[pfn];
    if (list === undefined) {
      list = [];
      this.byPage[pfn] = list;
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
      for (const b of list) {
        b.valid = false;
        if (this.map.get(b.pa) === b) this.map.delete(b.pa);
      }
      this.byPage[pfn] = undefined;
    }
    this.cpu.mem.codePages[pfn] = 0;
    this.invalidations++;
    this.cpu.brk = true;
  }

  /** Drop everything (reset, new kernel). */
  clear(): void {
    this.map.clear();
    this.byPage.fill(undefined);
    this.cpu.mem.codePages.fill(0);
    this.cpu.tlbFlushAll();
  }

  get size(): number {
    return this.map.size;
  }
}

/** TLB bit re-exported for tests that inspect code protection. */
export const TLB_WRITE_BITS = TLB.SW | TLB.UW;
