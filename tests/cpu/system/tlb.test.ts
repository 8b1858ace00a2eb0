/**
 * The software TLB of cpu.ts (Int32Array by linear page: physical page base
 * | TLB.* permission bits) against Intel SDM vol. 3A §4.10:
 *  - translations are cached and really used: a PTE changed without an
 *    invalidation may keep its old translation (§4.10.4.3, "the processor
 *    may use the old entry"), which is what we do, until INVLPG
 *    (tlbFlushPage), a CR3 load (tlbFlushNonGlobal) or a full flush;
 *  - global pages (PTE.G with CR4.PGE) survive CR3 loads, not INVLPG or a
 *    full flush (§4.10.2.4);
 *  - INVLPG of any address in a 2/4 MiB page drops the whole page (§4.10.4.1);
 *  - an entry grants only what its walk proved (CPL, R/W, D, NX), never
 *    caches frames outside memory, and loses write permission while its
 *    frame holds decoded code;
 *  - block links honour the TLB: a CPL change or remap cannot reuse a stale link.
 */
import { describe, expect, it } from 'vitest';
import { Exit, TLB } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { PFE_I, PFE_P, PFE_U, PFE_W } from '../../../src/vmm/cpu/mmu.js';
import { D, G, NX_HI, P, Pt32, PtPae, RW, US, asm, faultOf, load, machine } from './fixture.js';

describe('TLB caching and invalidation (SDM 3A §4.10)', () => {
  for (const Mode of [Pt32, PtPae]) {
    const name = Mode === Pt32 ? '32-bit' : 'PAE';
    it(`${name}: a changed PTE is not seen until the page is invalidated`, () => {
      const m = machine();
      const pt = new Mode(m.mem);
      const la = 0x40005000;
      m.mem.write32(0x300000, 0xaaaa);
      m.mem.write32(0x301000, 0xbbbb);
      // D already set: the cached entry also serves writes (a clean page's
      // first write would walk again to set D, and see the new PTE).
      pt.map(la, 0x300000, P | RW | D);
      pt.enable(m.cpu);
      expect(m.cpu.rd32(la)).toBe(0xaaaa);
      pt.map(la, 0x301000, P | RW | D);
      expect(m.cpu.rd32(la)).toBe(0xaaaa); // stale but architecturally allowed
      m.cpu.wr32(la + 4, 1); // the write goes to the cached frame too
      expect(m.mem.read32(0x300004)).toBe(1);
      m.cpu.tlbFlushPage(la + 0x123); // any address in the page
      expect(m.cpu.rd32(la)).toBe(0xbbbb);
      pt.map(la, 0x300000, P | RW);
      expect(m.cpu.rd32(la)).toBe(0xbbbb);
      m.cpu.tlbFlushNonGlobal();
      expect(m.cpu.rd32(la)).toBe(0xaaaa);
      pt.map(la, 0x301000, P | RW);
      m.cpu.tlbFlushAll();
      expect(m.cpu.rd32(la)).toBe(0xbbbb);
    });

    it(`${name}: an unmapped page stays usable from the TLB until flushed, then faults`, () => {
      const m = machine();
      const pt = new Mode(m.mem);
      const la = 0x40005000;
      pt.map(la, 0x300000, P | RW);
      pt.enable(m.cpu);
      m.cpu.wr32(la, 5);
      pt.map(la, 0, 0);
      expect(m.cpu.rd32(la)).toBe(5);
      m.cpu.tlbFlushPage(la);
      expect(faultOf(() => m.cpu.rd32(la)).errorCode).toBe(0);
    });

    it(`${name}: global pages survive a non-global flush but not INVLPG or a full flush`, () => {
      const m = machine();
      const pt = new Mode(m.mem);
      const glob = 0x40000000, local = 0x40001000;
      for (let k = 0; k < 4; k++) m.mem.write32(0x300000 + k * 0x1000, 0x100 + k);
      pt.map(glob, 0x300000, P | RW | G);
      pt.map(local, 0x301000, P | RW);
      pt.enable(m.cpu, { pge: true });
      expect(m.cpu.rd32(glob)).toBe(0x100);
      expect(m.cpu.rd32(local)).toBe(0x101);
      pt.map(glob, 0x302000, P | RW | G);
      pt.map(local, 0x303000, P | RW);
      m.cpu.tlbFlushNonGlobal(); // MOV CR3
      expect(m.cpu.rd32(glob)).toBe(0x100);
      expect(m.cpu.rd32(local)).toBe(0x103);
      m.cpu.tlbFlushNonGlobal();
      expect(m.cpu.rd32(glob)).toBe(0x100);
      m.cpu.tlbFlushPage(glob); // INVLPG drops global entries too
      expect(m.cpu.rd32(glob)).toBe(0x102);
      pt.map(glob, 0x300000, P | RW | G);
      m.cpu.tlbFlushAll();
      expect(m.cpu.rd32(glob)).toBe(0x100);
    });

    it(`${name}: PTE.G without CR4.PGE is not global`, () => {
      const m = machine();
      const pt = new Mode(m.mem);
      m.mem.write32(0x300000, 1);
      m.mem.write32(0x301000, 2);
      pt.map(0x40000000, 0x300000, P | RW | G);
      pt.enable(m.cpu, { pge: false });
      expect(m.cpu.rd32(0x40000000)).toBe(1);
      expect(m.cpu.tlb[0x40000]! & TLB.GLOBAL).toBe(0);
      pt.map(0x40000000, 0x301000, P | RW | G);
      m.cpu.tlbFlushNonGlobal();
      expect(m.cpu.rd32(0x40000000)).toBe(2);
    });

    it(`${name}: INVLPG of one address drops every cached piece of a large page`, () => {
      const m = machine();
      const pt = new Mode(m.mem);
      const la = 0x40000000;
      const size = Mode === Pt32 ? 0x400000 : 0x200000;
      pt.mapLarge(la, 0x400000, P | RW);
      pt.enable(m.cpu, { pse: true });
      m.mem.write32(0x400000 + 0x5000, 0x5);
      m.mem.write32(0x800000 + 0x5000, 0x8);
      expect(m.cpu.rd32(la)).toBe(0);
      expect(m.cpu.rd32(la + 0x5000)).toBe(5);
      expect(m.cpu.rd32(la + size - 4)).toBe(0);
      pt.mapLarge(la, 0x800000, P | RW);
      expect(m.cpu.rd32(la + 0x5000)).toBe(5);
      m.cpu.tlbFlushPage(la + size - 1); // the last byte of the large page
      expect(m.cpu.rd32(la + 0x5000)).toBe(8);
    });
  }

  it('keeps 4 KiB entries of other pages when INVLPG hits a small page', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x40000000, 0x300000, P | RW);
    pt.map(0x40001000, 0x301000, P | RW);
    pt.enable(m.cpu);
    m.cpu.rd32(0x40000000);
    m.cpu.rd32(0x40001000);
    m.cpu.tlbFlushPage(0x40000000);
    expect(m.cpu.tlb[0x40000]).toBe(0);
    expect(m.cpu.tlb[0x40001]).not.toBe(0);
  });
});

describe('TLB entries grant only what the walk proved', () => {
  it('a supervisor-filled entry does not let CPL 3 touch a supervisor page', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x40000000, 0x300000, P | RW | D);
    pt.enable(m.cpu, { nxe: true });
    m.cpu.rd32(0x40000000);
    m.cpu.wr32(0x40000000, 1);
    m.cpu.fetch8(0x40000000);
    m.cpu.setCpl(3);
    expect(faultOf(() => m.cpu.rd32(0x40000000)).errorCode).toBe(PFE_P | PFE_U);
    expect(faultOf(() => m.cpu.wr8(0x40000000, 0)).errorCode).toBe(PFE_P | PFE_U | PFE_W);
    expect(faultOf(() => m.cpu.fetch8(0x40000000)).errorCode).toBe(PFE_P | PFE_U | PFE_I);
    m.cpu.setCpl(1);
    m.cpu.wr32(0x40000000, 2); // CPL 1 is supervisor
  });

  it('a read-filled entry of a read-only page does not allow writes (CR0.WP=1)', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.map(0x40000000, 0x300000, P | US | D);
    pt.enable(m.cpu, { wp: true });
    for (const cpl of [0, 3]) {
      m.cpu.setCpl(cpl);
      m.cpu.rd32(0x40000000);
      expect(faultOf(() => m.cpu.wr32(0x40000000, 1)).errorCode).toBe(PFE_P | PFE_W | (cpl === 3 ? PFE_U : 0));
    }
  });

  it('an entry of an NX page does not allow fetches', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x40000000, 0x300000, P | RW, NX_HI);
    pt.enable(m.cpu, { nxe: true });
    m.cpu.rd32(0x40000000);
    expect(m.cpu.tlb[0x40000]! & TLB.X).toBe(0);
    expect(faultOf(() => m.cpu.fetch8(0x40000000)).errorCode).toBe(PFE_P | PFE_I);
  });

  it('never caches frames outside memory; such accesses read all-ones and drop writes', () => {
    const m = machine(1 << 20);
    const pt = new Pt32(m.mem);
    pt.map(0x40000000, 0x2000000, P | RW | D);
    pt.enable(m.cpu);
    expect(m.cpu.rd32(0x40000000)).toBe(-1);
    m.cpu.wr32(0x40000000, 0);
    expect(m.cpu.tlb[0x40000]).toBe(0);
    // Paging off: the same for linear = physical addresses beyond memory.
    m.cpu.cr0 &= ~0x80000000;
    m.cpu.tlbFlushAll();
    expect(m.cpu.rd16(0x200000)).toBe(0xffff);
    expect(m.cpu.tlb[0x200]).toBe(0);
  });

  it('survives overflowing its page list (4096 live pages): a full flush, then correct refills', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    const N = 5000;
    for (let k = 0; k < 16; k++) m.mem.write32(0x300000 + k * 0x1000, k);
    for (let i = 0; i < N; i++) pt.map(0x40000000 + i * 0x1000, 0x300000 + (i % 16) * 0x1000, P | RW);
    pt.enable(m.cpu);
    for (let i = 0; i < N; i++) expect(m.cpu.rd32(0x40000000 + i * 0x1000)).toBe(i % 16);
    expect(m.cpu.tlbCount).toBeLessThanOrEqual(4096);
    for (let i = 0; i < N; i++) expect(m.cpu.rd32(0x40000000 + i * 0x1000)).toBe(i % 16);
  });

  it('removes write permission from every mapping of a frame that holds decoded code', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    for (let a = 0; a < 0x200000; a += 0x1000) pt.map(a, a, P | RW | D);
    pt.map(0x800000, 0x100000, P | RW | D); // writable alias of the code frame
    pt.enable(m.cpu);
    m.cpu.wr32(0x800ff0, 0);
    expect(m.cpu.tlb[0x800]! & (TLB.SW | TLB.UW)).not.toBe(0);
    load(m.cpu, asm('  movl $1, %eax\n  hlt', 0x100000), 0x100000);
    expect(run(m.cpu, 10)).toBe(Exit.HLT);
    expect(m.cpu.tlb[0x800]! & (TLB.SW | TLB.UW)).toBe(0);
    expect(m.cpu.tlb[0x100]! & (TLB.SW | TLB.UW)).toBe(0);
    // The next write walks, reaches the block cache, and the frame is writable again.
    m.cpu.wr32(0x800ff0, 7);
    expect(m.mem.codePages[0x100]).toBe(0);
    m.cpu.wr32(0x800ff4, 8);
    expect(m.cpu.tlb[0x800]! & TLB.SW).not.toBe(0);
  });
});

describe('block links and the TLB', () => {
  it('a link made at CPL 0 cannot carry CPL 3 into a supervisor-only page', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.map(0x100000, 0x100000, P | RW | US); // user code page
    pt.map(0x101000, 0x101000, P | RW); // supervisor code page
    pt.enable(m.cpu);
    load(m.cpu, asm('  movl $1, %eax\n  jmp 0x101000', 0x100000), 0x100000);
    m.mem.writeBytes(0x101000, asm('  movl $2, %ebx\n  jmp 0x100000', 0x101000));
    expect(run(m.cpu, 40)).toBe(Exit.BUDGET); // both blocks linked to each other
    // Only the CPL changes: the TLB stays warm, so the link itself must be re-checked.
    m.cpu.setCpl(3);
    m.cpu.eip = 0x100000;
    m.cpu.r32[3] = 0;
    expect(run(m.cpu, 40)).toBe(Exit.STOPPED);
    expect(m.rec.last).toMatchObject({ vector: 14, errorCode: PFE_P | PFE_U, cr2: 0x101000, eip: 0x101000 });
    expect(m.cpu.r32[3]).toBe(0);
  });

  it('fetches use the TLB: a remapped code page runs old code until INVLPG, new code after', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.map(0x100000, 0x100000, P | RW);
    pt.map(0x400000, 0x200000, P | RW);
    pt.map(0x500000, 0x250000, P | RW); // stack
    pt.enable(m.cpu);
    load(m.cpu, asm('1:\n  call 0x400000\n  jmp 1b', 0x100000), 0x100000);
    m.cpu.r32[4] = 0x501000;
    m.mem.writeBytes(0x200000, asm('  movl $0xaaaa, %eax\n  ret', 0x400000));
    m.mem.writeBytes(0x300000, asm('  movl $0xbbbb, %eax\n  ret', 0x400000));
    run(m.cpu, 30);
    expect(m.cpu.r32[0]).toBe(0xaaaa);
    pt.map(0x400000, 0x300000, P | RW);
    m.cpu.r32[0] = 0;
    run(m.cpu, 30);
    expect(m.cpu.r32[0]).toBe(0xaaaa);
    m.cpu.tlbFlushPage(0x400000);
    m.cpu.r32[0] = 0;
    run(m.cpu, 30);
    expect(m.cpu.r32[0]).toBe(0xbbbb);
  });
});
