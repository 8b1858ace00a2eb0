/**
 * A small protected-mode machine for system tests: hand-built GDT, LDT,
 * IDT and 32-bit TSS in guest memory, ring-0 exception stubs that record
 * the vector and halt, and an assembler helper (GNU as/ld, flat binaries,
 * cached under tests/.build/sys) for test code.
 *
 * Memory map (physical = linear, paging off unless a test turns it on):
 *   0x0500  vector recorded by the stub handlers (-1 before any delivery)
 *   0x1000  GDT (32 entries)         0x2000  LDT (16 entries)
 *   0x3000  IDT (256 gates)          0x4000  TSS (32-bit, 0x68 bytes)
 *   0x7000-0x8000  ring-3 stack      0x8000-0x9000  ring-0 stack
 *   0x9000-0xa000  ring-1 stack
 *   0x10000 ring-0 code   0x20000 ring-3 code   0x30000 exception stubs
 */
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, SA, Seg } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { decodeSegment, encodeSegment } from '../../../src/vmm/cpu/descriptor.js';

export const GDT = 0x1000, LDT = 0x2000, IDT = 0x3000, TSS = 0x4000;
export const STACK3 = 0x8000, STACK0 = 0x9000, STACK1 = 0xa000;
export const CODE0 = 0x10000, CODE3 = 0x20000, STUBS = 0x30000;
export const VEC_ADDR = 0x500;

/** Standard selectors. */
export const SEL = {
  CODE0: 0x08, DATA0: 0x10, CODE3: 0x1b, DATA3: 0x23, TSS: 0x28, LDT: 0x38,
  CODE1: 0x41, DATA1: 0x49,
} as const;

/** Access bytes. */
export const ACC = {
  CODE0: 0x9a, DATA0: 0x92, CODE3: 0xfa, DATA3: 0xf2, TSS32: 0x89, TSS32_BUSY: 0x8b, LDT: 0x82,
  CODE1: 0xba, DATA1: 0xb2,
} as const;

/** Gate types. */
export const GATE = { CALL16: 4, TASK: 5, INT16: 6, TRAP16: 7, CALL32: 0xc, INT32: 0xe, TRAP32: 0xf } as const;

/** Assemble source linked at `origin` (the shared, cached assembler). */
import { asm } from './fixture.js';
export { asm };

/** Encode a gate descriptor: [lo, hi]. */
export function gateDesc(sel: number, offset: number, type: number, dpl: number, params = 0, present = true): [number, number] {
  const lo = ((offset & 0xffff) | (sel << 16)) | 0;
  const hi = ((offset & 0xffff0000) | (present ? 0x8000 : 0) | (dpl << 13) | (type << 8) | (params & 0x1f)) | 0;
  return [lo, hi];
}

export class SysEnv {
  readonly mem = new PhysMemory(4 << 20);
  readonly cpu: Cpu;

  constructor() {
    this.cpu = createCpu(this.mem);
    const c = this.cpu;
    c.gdtrBase = GDT;
    c.gdtrLimit = 32 * 8 - 1;
    c.idtrBase = IDT;
    c.idtrLimit = 256 * 8 - 1;
    this.seg(1, 0, 0xfffff, ACC.CODE0, 0xc);
    this.seg(2, 0, 0xfffff, ACC.DATA0, 0xc);
    this.seg(3, 0, 0xfffff, ACC.CODE3, 0xc);
    this.seg(4, 0, 0xfffff, ACC.DATA3, 0xc);
    this.seg(5, TSS, 0x67, ACC.TSS32_BUSY, 0);
    this.seg(7, LDT, 16 * 8 - 1, ACC.LDT, 0);
    this.seg(8, 0, 0xfffff, ACC.CODE1, 0xc);
    this.seg(9, 0, 0xfffff, ACC.DATA1, 0xc);
    // TSS: ESP0/SS0, ESP1/SS1.
    this.mem.write32(TSS + 4, STACK0);
    this.mem.write32(TSS + 8, SEL.DATA0);
    this.mem.write32(TSS + 12, STACK1);
    this.mem.write32(TSS + 16, SEL.DATA1);
    this.loadSys(Seg.TR, SEL.TSS);
    this.loadSys(Seg.LDTR, SEL.LDT);
    // Exception stubs: "movl $v, %ss:0x500; hlt", one per vector, through 32-bit interrupt gates.
    for (let v = 0; v < 256; v++) {
      const a = STUBS + v * 16;
      this.mem.writeBytes(a, new Uint8Array([0x36, 0xc7, 0x05, 0x00, 0x05, 0x00, 0x00, v, 0, 0, 0, 0xf4]));
      this.gate(v, SEL.CODE0, a, GATE.INT32, 0);
    }
    this.mem.write32(VEC_ADDR, -1);
    this.enter(0);
  }

  /** Write GDT entry `index` from base/limit/access/flags nibble (G D/B L AVL). */
  seg(index: number, base: number, limit: number, access: number, flags4: number): void {
    const [lo, hi] = encodeSegment(base, limit, access, flags4);
    this.raw(GDT + index * 8, lo, hi);
  }

  /** Write LDT entry `index`. */
  ldtSeg(index: number, base: number, limit: number, access: number, flags4: number): void {
    const [lo, hi] = encodeSegment(base, limit, access, flags4);
    this.raw(LDT + index * 8, lo, hi);
  }

  /** Write an IDT gate for `vector`. */
  gate(vector: number, sel: number, offset: number, type: number, dpl: number, present = true): void {
    const [lo, hi] = gateDesc(sel, offset, type, dpl, 0, present);
    this.raw(IDT + vector * 8, lo, hi);
  }

  /** Write a call gate into GDT entry `index`. */
  callGate(index: number, sel: number, offset: number, dpl: number, params: number, type: number = GATE.CALL32, present = true): void {
    const [lo, hi] = gateDesc(sel, offset, type, dpl, params, present);
    this.raw(GDT + index * 8, lo, hi);
  }

  raw(addr: number, lo: number, hi: number): void {
    this.mem.write32(addr, lo);
    this.mem.write32(addr + 4, hi);
  }

  /** Descriptor high dword of GDT entry for `sel`. */
  gdtHi(sel: number): number {
    return this.mem.read32(GDT + (sel & ~7) + 4);
  }

  /** Load a segment cache straight from the GDT (test setup; no checks). */
  loadSys(seg: number, sel: number): void {
    const table = (sel & 4) !== 0 ? LDT : GDT;
    const lo = this.mem.read32(table + (sel & ~7)), hi = this.mem.read32(table + (sel & ~7) + 4);
    const d = decodeSegment(lo, hi);
    this.cpu.loadSegCache(seg, sel, d.base, d.limit, d.attr);
  }

  /** Put the CPU at `cpl` with that ring's flat code, data and stack. */
  enter(cpl: 0 | 1 | 3): void {
    const code = cpl === 0 ? SEL.CODE0 : cpl === 1 ? SEL.CODE1 : SEL.CODE3;
    const data = cpl === 0 ? SEL.DATA0 : cpl === 1 ? SEL.DATA1 : SEL.DATA3;
    this.loadSys(Seg.CS, code);
    for (const s of [Seg.SS, Seg.DS, Seg.ES, Seg.FS, Seg.GS]) this.loadSys(s, data);
    this.cpu.setCpl(cpl);
    this.cpu.r32[4] = cpl === 0 ? STACK0 : cpl === 1 ? STACK1 : STACK3;
    this.cpu.flags = 0x202;
    this.cpu.lfLazy = 0;
  }

  /** Put `code` (assembled at its address) in memory and point EIP at it. */
  load(source: string, at: number): void {
    this.mem.writeBytes(at, asm(source, at));
    this.cpu.eip = at;
  }

  /** Run until HLT (or another exit); returns the exit. */
  run(budget = 10_000): Exit {
    return run(this.cpu, budget);
  }

  /** The vector recorded by the stub handlers (-1: none). */
  get vector(): number {
    return this.mem.read32(VEC_ADDR);
  }

  /** Dword `k` of the current (handler's) stack. */
  stack(k: number): number {
    return this.mem.read32((this.cpu.segBase[Seg.SS]! + this.cpu.r32[4]! + 4 * k) >>> 0) >>> 0;
  }

  /** Selector, null flag and DPL of segment register `seg`. */
  segState(seg: number): { sel: number; isNull: boolean } {
    return { sel: this.cpu.segSel[seg]!, isNull: (this.cpu.segAttr[seg]! & SA.NULL) !== 0 };
  }
}
