/**
 * Paging: the page walker (src/vmm/cpu/mmu.ts) and the TLB-backed accessors
 * of cpu.ts, against Intel SDM vol. 3A chapter 4:
 *  - §4.3 32-bit paging (4 KiB pages, 4 MiB pages with CR4.PSE, PS ignored without it);
 *  - §4.4 PAE paging (4 KiB and 2 MiB pages, reserved bits, XD/NX with EFER.NXE);
 *  - §4.6 access rights (U/S at every level, CPL 0-2 supervisor; R/W with CR0.WP);
 *  - §4.7 #PF error codes (P, W/R, U/S, RSVD, I/D) and CR2;
 *  - §4.8 accessed and dirty flags;
 *  - the Xen-lenient PAE L3 (reference: Xen runs 32-bit PV guests under
 *    64-bit paging, so L3 entries carry RW/U/A/D bits).
 * Instruction-level cases (page-straddling accesses, read-modify-write on a
 * read-only page) run real code through run() with a recording delivery.
 */
import { describe, expect, it } from 'vitest';
import { Cpu, Exit, CR0_WP } from '../../../src/vmm/cpu/cpu.js';
import { enterFlatMode } from '../../../src/vmm/cpu/index.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';
import { PFE_I, PFE_P, PFE_RSVD, PFE_U, PFE_W } from '../../../src/vmm/cpu/mmu.js';
import { A, D, NX_HI, P, PS, Pt32, PtPae, RW, US, asm, faultOf, load, machine, type PageTables } from './fixture.js';

type Kind = 'read' | 'write' | 'exec';
const KINDS: Kind[] = ['read', 'write', 'exec'];

function access(cpu: Cpu, kind: Kind, la: number): void {
  if (kind === 'read') cpu.rd32(la);
  else if (kind === 'write') cpu.wr32(la, 0x5a5a5a5a);
  else cpu.fetch8(la);
}

/** The #PF error code of §4.7 for an access of `kind`. */
function ec(kind: Kind, bits: { p?: boolean; user?: boolean; rsvd?: boolean; id?: boolean }): number {
  return (bits.p ? PFE_P : 0) | (kind === 'write' ? PFE_W : 0) | (bits.user ? PFE_U : 0) |
    (bits.rsvd ? PFE_RSVD : 0) | (bits.id && kind === 'exec' ? PFE_I : 0);
}

function expectPf(cpu: Cpu, kind: Kind, la: number, code: number): void {
  const f = faultOf(() => access(cpu, kind, la));
  expect(f.vector).toBe(14);
  expect(f.errorCode).toBe(code);
  expect(f.cr2 >>> 0).toBe(la >>> 0);
}

const MODES = [
  { name: '32-bit', make: (m: ReturnType<typeof machine>): PageTables => new Pt32(m.mem) },
  { name: 'PAE', make: (m: ReturnType<typeof machine>): PageTables => new PtPae(m.mem) },
];

describe('32-bit paging (SDM 3A §4.3)', () => {
  it('translates 4 KiB pages through the PDE and PTE', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.map(0x40001000, 0x205000, P | RW);
    pt.enable(m.cpu);
    m.mem.write32(0x205abc, 0x12345678);
    expect(m.cpu.rd32(0x40001abc)).toBe(0x12345678);
    m.cpu.wr16(0x40001ffe, 0xbeef);
    expect(m.mem.read16(0x205ffe)).toBe(0xbeef);
    expect(m.cpu.xlate(0x40001abc, 0)).toBe(0x205abc);
  });

  it('maps 4 MiB pages when CR4.PSE=1 and PDE.PS=1 (table 4-4)', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.mapLarge(0x80000000, 0x800000, P | RW);
    pt.enable(m.cpu, { pse: true });
    m.mem.write32(0x800000 + 0x123454, 0xcafe0001);
    expect(m.cpu.rd32(0x80123454)).toBe(0xcafe0001 | 0);
    m.cpu.wr32(0x803ffff0, 7);
    expect(m.mem.read32(0x800000 + 0x3ffff0)).toBe(7);
  });

  it('ignores PDE.PS when CR4.PSE=0: the PDE references a page table (§4.3)', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    const la = 0x00c03000; // PDE 3, PTE 3
    // PDE: PS=1, address 0x400000. As a page-table pointer, PTE 3 is at 0x40000c.
    m.mem.write32(pt.pde(la), 0x400000 | P | RW | PS);
    m.mem.write32(0x40000c, 0x205000 | P | RW);
    m.mem.write32(0x205000, 0x11111111);
    m.mem.write32(0x403000, 0x22222222);
    pt.enable(m.cpu, { pse: false });
    expect(m.cpu.rd32(la)).toBe(0x11111111);
    pt.enable(m.cpu, { pse: true }); // now a 4 MiB page at 0x400000
    expect(m.cpu.rd32(la)).toBe(0x22222222);
  });

  it('raises a reserved-bit #PF for bits 21:17 of a 4 MiB PDE (MAXPHYADDR 36)', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    m.mem.write32(pt.pde(0x80000000), 0x800000 | P | RW | US | PS | (1 << 17));
    pt.enable(m.cpu, { pse: true });
    expectPf(m.cpu, 'read', 0x80000010, ec('read', { p: true, rsvd: true }));
    m.cpu.setCpl(3);
    expectPf(m.cpu, 'write', 0x80000010, ec('write', { p: true, rsvd: true, user: true }));
    // Without PSE the same PDE is a page-table pointer: no reserved bits, PTE not present.
    pt.enable(m.cpu, { pse: false });
    m.cpu.setCpl(0);
    expectPf(m.cpu, 'read', 0x80000010, 0);
  });

  it('sends PSE-36 addresses above 4 GiB (PDE bits 16:13) to unbacked memory, not onto RAM', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    m.mem.write32(pt.pde(0x80000000), 0x800000 | P | RW | PS | (1 << 13));
    pt.enable(m.cpu, { pse: true });
    m.mem.write32(0x800000, 0x33333333);
    expect(m.cpu.rd32(0x80000000)).toBe(-1);
    m.cpu.wr32(0x80000000, 0);
    expect(m.mem.read32(0x800000)).toBe(0x33333333);
  });
});

describe('PAE paging (SDM 3A §4.4)', () => {
  it('translates 4 KiB pages through L3, L2 and L1', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0xc0005000, 0x207000, P | RW);
    pt.enable(m.cpu);
    m.mem.write32(0x207010, 0xabcdef01);
    expect(m.cpu.rd32(0xc0005010)).toBe(0xabcdef01 | 0);
    expect(m.cpu.xlate(0xc0005010, 0)).toBe(0x207010);
  });

  it('maps 2 MiB pages with L2.PS=1 (table 4-9)', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.mapLarge(0x40200000, 0xa00000, P | RW);
    pt.enable(m.cpu);
    m.mem.write32(0xa00000 + 0x1ffffc, 0x5555aaaa);
    expect(m.cpu.rd32(0x403ffffc)).toBe(0x5555aaaa);
  });

  it('raises RSVD #PFs for reserved bits of PDEs and PTEs (tables 4-9..4-11)', () => {
    const cases: { name: string; set: (pt: PtPae, m: ReturnType<typeof machine>, la: number) => void }[] = [
      { name: 'PTE bit 36', set: (pt, _m, la) => pt.map(la, 0x300000, P | RW | US, 0x10) },
      { name: 'PTE bit 62', set: (pt, _m, la) => pt.map(la, 0x300000, P | RW | US, 0x40000000) },
      { name: 'PDE bit 40', set: (pt, m, la) => { pt.map(la, 0x300000, P | RW | US); m.mem.write32(pt.pde(la) + 4, 0x100); } },
      { name: '2 MiB PDE bit 13', set: (pt, _m, la) => pt.mapLarge(la, 0x400000, P | RW | US | 0x2000) },
      { name: '2 MiB PDE bit 20', set: (pt, _m, la) => pt.mapLarge(la, 0x400000, P | RW | US | 0x100000) },
    ];
    for (const c of cases) {
      for (const kind of KINDS) {
        for (const cpl of [0, 3]) {
          const m = machine();
          const pt = new PtPae(m.mem);
          const la = 0x40000000;
          c.set(pt, m, la);
          pt.enable(m.cpu, { nxe: true });
          m.cpu.setCpl(cpl);
          const f = faultOf(() => access(m.cpu, kind, la + 8));
          expect({ c: c.name, v: f.vector, ec: f.errorCode }).toEqual({
            c: c.name, v: 14, ec: ec(kind, { p: true, rsvd: true, user: cpl === 3, id: true }),
          });
        }
      }
    }
  });

  it('checks reserved bits level by level: a bad PDE wins over a non-present PTE', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    const la = 0x40000000;
    pt.map(la, 0, 0); // PTE not present
    m.mem.write32(pt.pde(la) + 4, 0x200); // reserved PDE bit 41
    pt.enable(m.cpu);
    expectPf(m.cpu, 'read', la, PFE_P | PFE_RSVD);
  });

  it('reports RSVD, not a protection fault, when both apply', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x40000000, 0x300000, P, 0x20); // supervisor, read-only, reserved bit 37
    pt.enable(m.cpu, { wp: true });
    m.cpu.setCpl(3);
    expectPf(m.cpu, 'write', 0x40000000, PFE_P | PFE_RSVD | PFE_W | PFE_U);
  });

  it('treats physical-address bits 35:32 as valid but unbacked (no aliasing onto RAM)', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x40000000, 0x300000, P | RW, 0x1); // PA 0x1_00300000
    pt.enable(m.cpu);
    m.mem.write32(0x300000, 0x44444444);
    expect(m.cpu.rd32(0x40000000)).toBe(-1);
    m.cpu.wr32(0x40000000, 0);
    expect(m.mem.read32(0x300000)).toBe(0x44444444);
  });

  it('honours only P and the address bits of Xen-style L3 entries (RW/U/A/D set)', () => {
    // Reference: 32-bit PV guests under 64-bit Xen have L3 entries with
    // RW/U/A/D set; native PAE reserves those bits. They must not fault.
    const m = machine();
    const pt = new PtPae(m.mem, 0x10000, P | RW | US | A | D);
    pt.map(0x00400000, 0x300000, P | RW | US);
    pt.map(0x80400000, 0x301000, P | RW | US);
    pt.enable(m.cpu, { wp: true, nxe: true });
    const l3a = m.mem.read64(pt.l3(0x00400000)), l3b = m.mem.read64(pt.l3(0x80400000));
    for (const cpl of [0, 1, 3]) {
      m.cpu.setCpl(cpl);
      for (const kind of KINDS) {
        access(m.cpu, kind, 0x00400000);
        access(m.cpu, kind, 0x80400ffc);
      }
    }
    // Nothing is written back to the L3 (no A/D update there).
    expect(m.mem.read64(pt.l3(0x00400000))).toBe(l3a);
    expect(m.mem.read64(pt.l3(0x80400000))).toBe(l3b);
  });

  it('ignores the permission bits of native L3 entries (P only): user writes pass', () => {
    const m = machine();
    const pt = new PtPae(m.mem, 0x10000, P);
    pt.map(0x00400000, 0x300000, P | RW | US);
    pt.enable(m.cpu, { wp: true });
    m.cpu.setCpl(3);
    m.cpu.wr32(0x00400000, 99);
    expect(m.mem.read32(0x300000)).toBe(99);
  });

  it('faults with P=0 on a non-present L3 entry', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.enable(m.cpu);
    m.cpu.setCpl(3);
    expectPf(m.cpu, 'write', 0xc0000000, PFE_W | PFE_U);
  });
});

describe('access rights (SDM 3A §4.6)', () => {
  for (const mode of MODES) {
    for (const level of ['PDE', 'PTE'] as const) {
      it(`${mode.name}: U/S=0 in the ${level} denies CPL 3 only; CPL 0-2 are supervisor`, () => {
        for (const cpl of [0, 1, 2, 3]) {
          for (const kind of KINDS) {
            const m = machine();
            const pt = mode.make(m);
            const la = 0x40002000;
            pt.map(la, 0x300000, P | RW | US | A | D);
            const a = level === 'PDE' ? pt.pde(la) : pt.leaf(la);
            m.mem.write32(a, m.mem.read32(a) & ~US);
            pt.enable(m.cpu, { wp: true });
            m.cpu.setCpl(cpl);
            if (cpl === 3) expectPf(m.cpu, kind, la + 0x10, ec(kind, { p: true, user: true }));
            else access(m.cpu, kind, la + 0x10);
          }
        }
      });

      it(`${mode.name}: R/W=0 in the ${level} denies user writes, and supervisor writes only with CR0.WP`, () => {
        for (const wp of [false, true]) {
          for (const cpl of [0, 1, 2, 3]) {
            const m = machine();
            const pt = mode.make(m);
            const la = 0x40002000;
            pt.map(la, 0x300000, P | RW | US);
            const a = level === 'PDE' ? pt.pde(la) : pt.leaf(la);
            m.mem.write32(a, m.mem.read32(a) & ~RW);
            pt.enable(m.cpu, { wp });
            m.cpu.setCpl(cpl);
            access(m.cpu, 'read', la); // reads are always allowed
            if (cpl === 3 || wp) {
              expectPf(m.cpu, 'write', la + 4, ec('write', { p: true, user: cpl === 3 }));
              expect(m.mem.read32(0x300004)).toBe(0);
              expect(m.mem.read32(pt.leaf(la)) & D).toBe(0);
            } else {
              m.cpu.wr32(la + 4, 0x77);
              expect(m.mem.read32(0x300004)).toBe(0x77);
              expect(m.mem.read32(pt.leaf(la)) & D).toBe(D); // D is set even on a read-only page
            }
          }
        }
      });
    }
  }

  it('32-bit 4 MiB pages: U/S and R/W come from the PDE alone', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.mapLarge(0x80000000, 0x800000, P | US);
    pt.enable(m.cpu, { pse: true, wp: true });
    m.cpu.setCpl(3);
    access(m.cpu, 'read', 0x80000000);
    expectPf(m.cpu, 'write', 0x80000000, PFE_P | PFE_W | PFE_U);
    m.cpu.setCpl(0);
    expectPf(m.cpu, 'write', 0x80000000, PFE_P | PFE_W);
  });

  it('NX with EFER.NXE: fetches from an XD page fault with I/D; reads and writes do not', () => {
    for (const where of ['PTE', 'PDE', '2 MiB PDE'] as const) {
      for (const cpl of [0, 3]) {
        const m = machine();
        const pt = new PtPae(m.mem);
        const la = 0x40000000;
        if (where === '2 MiB PDE') pt.mapLarge(la, 0x400000, P | RW | US, NX_HI);
        else pt.map(la, 0x300000, P | RW | US, where === 'PTE' ? NX_HI : 0);
        if (where === 'PDE') m.mem.write32(pt.pde(la) + 4, NX_HI);
        pt.enable(m.cpu, { nxe: true });
        m.cpu.setCpl(cpl);
        access(m.cpu, 'read', la);
        access(m.cpu, 'write', la);
        expectPf(m.cpu, 'exec', la + 5, PFE_P | PFE_I | (cpl === 3 ? PFE_U : 0));
      }
    }
  });

  it('reports I/D for any fetch fault when NX is enabled (also not-present), never without it', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.enable(m.cpu, { nxe: true });
    expectPf(m.cpu, 'exec', 0x50000000, PFE_I);
    pt.enable(m.cpu, { nxe: false });
    expectPf(m.cpu, 'exec', 0x50000000, 0);
    const m32 = machine();
    new Pt32(m32.mem).enable(m32.cpu);
    m32.cpu.efer = 0x800;
    expectPf(m32.cpu, 'exec', 0x50000000, 0); // 32-bit paging has no NX
  });

  it('the XD bit with EFER.NXE=0 is a reserved bit (RSVD, no I/D)', () => {
    for (const kind of KINDS) {
      const m = machine();
      const pt = new PtPae(m.mem);
      pt.map(0x40000000, 0x300000, P | RW | US, NX_HI);
      pt.enable(m.cpu, { nxe: false });
      expectPf(m.cpu, kind, 0x40000000, ec(kind, { p: true, rsvd: true }));
    }
  });

  it('executing code on an XD page delivers #PF(P|I/D) with CR2 = the fetch address', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    for (let a = 0; a < 0x400000; a += 0x1000) pt.map(a, a, P | RW);
    pt.map(0x500000, 0x500000, P | RW, NX_HI);
    pt.enable(m.cpu, { nxe: true });
    load(m.cpu, asm('  movl $1, %eax\n  jmp 0x500000', 0x100000), 0x100000);
    expect(run(m.cpu, 100)).toBe(Exit.STOPPED);
    expect(m.rec.last).toMatchObject({ vector: 14, errorCode: PFE_P | PFE_I, cr2: 0x500000, eip: 0x500000 });
    expect(m.cpu.cr2).toBe(0x500000);
    expect(m.cpu.r32[0]).toBe(1);
  });
});

describe('accessed and dirty flags (SDM 3A §4.8)', () => {
  for (const mode of MODES) {
    it(`${mode.name} 4 KiB: A at every level on any access, D only on the leaf and only on writes`, () => {
      for (const kind of KINDS) {
        const m = machine();
        const pt = mode.make(m);
        const la = 0x40003000;
        pt.map(la, 0x300000, P | RW);
        pt.enable(m.cpu);
        const l3 = pt instanceof PtPae ? m.mem.read64(pt.l3(la)) : 0n;
        access(m.cpu, kind, la);
        const pde = m.mem.read32(pt.pde(la)), pte = m.mem.read32(pt.leaf(la));
        expect(pde & (A | D)).toBe(A);
        expect(pte & (A | D)).toBe(kind === 'write' ? A | D : A);
        if (pt instanceof PtPae) expect(m.mem.read64(pt.l3(la))).toBe(l3);
      }
    });

    it(`${mode.name} large page: A and D live in the PDE`, () => {
      for (const kind of KINDS) {
        const m = machine();
        const pt = mode.make(m);
        const la = 0x40000000;
        pt.mapLarge(la, 0x800000, P | RW);
        pt.enable(m.cpu, { pse: true });
        access(m.cpu, kind, la + 0x1234);
        expect(m.mem.read32(pt.pde(la)) & (A | D)).toBe(kind === 'write' ? A | D : A);
      }
    });

    it(`${mode.name}: a write to a page first read still sets D (the TLB does not let it through)`, () => {
      const m = machine();
      const pt = mode.make(m);
      const la = 0x40003000;
      pt.map(la, 0x300000, P | RW | US);
      pt.enable(m.cpu);
      for (const cpl of [0, 3]) {
        m.cpu.setCpl(cpl);
        m.mem.write32(pt.leaf(la), m.mem.read32(pt.leaf(la)) & ~D);
        m.mem.fill(0x300000, 0x1000, 0);
        m.cpu.tlbFlushAll();
        expect(m.cpu.rd32(la)).toBe(0);
        expect(m.cpu.rd8(la + 1)).toBe(0);
        expect(m.mem.read32(pt.leaf(la)) & D).toBe(0);
        m.cpu.wr8(la + 2, 1);
        expect(m.mem.read32(pt.leaf(la)) & D).toBe(D);
      }
    });
  }

  it('sets D when executed code writes a page it read earlier in the same block', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    for (let a = 0; a < 0x200000; a += 0x1000) pt.map(a, a, P | RW | A | D);
    pt.map(0x600000, 0x300000, P | RW);
    pt.enable(m.cpu);
    load(m.cpu, asm(`
  movl $0x600000, %ebx
  movl (%ebx), %eax
  addl $1, %eax
  movl %eax, 8(%ebx)
  hlt`, 0x100000), 0x100000);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.mem.read32(pt.leaf(0x600000)) & (A | D)).toBe(A | D);
    expect(m.mem.read32(0x300008)).toBe(1);
  });
});

/** Identity-map code/stack (supervisor or user) and the data pages each test adds. */
function codeMachine(mode: 'pae' | '32', user: boolean) {
  const m = machine();
  const pt: PageTables = mode === 'pae' ? new PtPae(m.mem) : new Pt32(m.mem);
  for (let a = 0x100000; a < 0x110000; a += 0x1000) pt.map(a, a, P | RW | (user ? US : 0));
  return { ...m, pt };
}

/** Snapshot of everything an instruction could change. */
function state(cpu: Cpu) {
  return { regs: Array.from(cpu.r32), eflags: readEflags(cpu), eip: cpu.eip };
}

describe('page-straddling accesses (#PF on the second page, no partial write)', () => {
  const CASES = [
    { name: 'movl store', code: '  movl %eax, (%ebx)', off: 0xffe, write: true, len: 2 },
    { name: 'movw store', code: '  movw %ax, (%ebx)', off: 0xfff, write: true, len: 1 },
    { name: 'movl load', code: '  movl (%ebx), %ecx', off: 0xffd, write: false, len: 3 },
    { name: 'addl rmw', code: '  addl %eax, (%ebx)', off: 0xffc + 1, write: true, len: 3 },
  ];
  for (const mode of ['32', 'pae'] as const) {
    for (const cpl of [0, 3]) {
      for (const second of ['absent', 'read-only'] as const) {
        for (const c of CASES) {
          if (second === 'read-only' && !c.write) continue;
          it(`${mode} CPL${cpl} ${c.name}, second page ${second}`, () => {
            const m = codeMachine(mode, cpl === 3);
            m.pt.map(0x400000, 0x300000, P | RW | US);
            if (second === 'read-only') m.pt.map(0x401000, 0x301000, P | US);
            m.pt.enable(m.cpu, { wp: true });
            if (cpl === 3) enterFlatMode(m.cpu, 3, { cs: 0x1b, ds: 0x23 });
            m.mem.fill(0x300000, 0x2000, 0xa5);
            const code = asm(`  movl $0x11223344, %eax\n  movl $${0x400000 + c.off}, %ebx\n  movl $0x99, %ecx\n${c.code}\n  hlt`, 0x100000);
            load(m.cpu, code, 0x100000);
            expect(run(m.cpu, 3)).toBe(Exit.BUDGET);
            const before = state(m.cpu);
            expect(run(m.cpu, 10)).toBe(Exit.STOPPED);
            const present = second === 'read-only';
            expect(m.rec.last).toEqual({
              vector: 14, kind: 0, eip: 0x100000 + 15, cr2: 0x401000,
              errorCode: (present ? PFE_P : 0) | (c.write ? PFE_W : 0) | (cpl === 3 ? PFE_U : 0),
            });
            expect(state(m.cpu)).toEqual(before);
            expect(m.mem.readBytes(0x300000, 0x2000).every((b) => b === 0xa5)).toBe(true);
            expect(m.cpu.icount).toBe(3);
          });
        }
      }
    }
  }
});

describe('read-modify-write on a read-only page', () => {
  const RMW = ['  addl %eax, (%ebx)', '  incl (%ebx)', '  addb %al, 1(%ebx)', '  orw $0x7f, 2(%ebx)', '  negl (%ebx)', '  subl $1, (%ebx)'];
  for (const code of RMW) {
    for (const who of ['supervisor+WP', 'user'] as const) {
      it(`${code.trim()} (${who}) faults with W=1 and changes no flag, register or byte`, () => {
        const user = who === 'user';
        const m = codeMachine('pae', user);
        m.pt.map(0x400000, 0x300000, P | US | A | D);
        m.pt.enable(m.cpu, { wp: true });
        if (user) enterFlatMode(m.cpu, 3, { cs: 0x1b, ds: 0x23 });
        m.mem.write32(0x300000, 0x7fffffff);
        // cmp leaves CF/SF/OF/AF/PF/ZF in a recognisable state before the RMW.
        load(m.cpu, asm(`  movl $0x400000, %ebx\n  movl $0x01, %eax\n  cmpl $0x80000001, %eax\n${code}\n  hlt`, 0x100000), 0x100000);
        expect(run(m.cpu, 3)).toBe(Exit.BUDGET);
        const before = state(m.cpu);
        expect(run(m.cpu, 10)).toBe(Exit.STOPPED);
        expect(m.rec.last?.vector).toBe(14);
        expect(m.rec.last?.errorCode).toBe(PFE_P | PFE_W | (user ? PFE_U : 0));
        expect(state(m.cpu)).toEqual(before);
        expect(m.mem.read32(0x300000)).toBe(0x7fffffff);
      });
    }
  }

  it('a straddling RMW whose second page is read-only leaves the first page untouched', () => {
    const m = codeMachine('32', false);
    m.pt.map(0x400000, 0x300000, P | RW);
    m.pt.map(0x401000, 0x301000, P);
    m.pt.enable(m.cpu, { wp: true });
    m.mem.write32(0x300ffc, 0x01020304);
    load(m.cpu, asm('  movl $0x400ffe, %ebx\n  addl $0x10101010, (%ebx)\n  hlt', 0x100000), 0x100000);
    expect(run(m.cpu, 10)).toBe(Exit.STOPPED);
    expect(m.rec.last).toMatchObject({ vector: 14, errorCode: PFE_P | PFE_W, cr2: 0x401000 });
    expect(m.mem.read32(0x300ffc)).toBe(0x01020304);
  });

  it('supervisor RMW on a read-only page succeeds with CR0.WP=0', () => {
    const m = codeMachine('pae', false);
    m.pt.map(0x400000, 0x300000, P);
    m.pt.enable(m.cpu, { wp: false });
    expect(m.cpu.cr0 & CR0_WP).toBe(0);
    load(m.cpu, asm('  movl $0x400000, %ebx\n  addl $5, (%ebx)\n  hlt', 0x100000), 0x100000);
    expect(run(m.cpu, 10)).toBe(Exit.HLT);
    expect(m.mem.read32(0x300000)).toBe(5);
  });
});

describe('#PF delivery through the run loop', () => {
  it('sets CR2 to the faulting linear address and reports the error code', () => {
    const m = codeMachine('32', true);
    m.pt.map(0x400000, 0x300000, P | RW); // supervisor page
    m.pt.enable(m.cpu, { wp: true });
    enterFlatMode(m.cpu, 3, { cs: 0x1b, ds: 0x23 });
    load(m.cpu, asm('  movl $0x400123, %esi\n  movb (%esi), %al\n  hlt', 0x100000), 0x100000);
    expect(run(m.cpu, 10)).toBe(Exit.STOPPED);
    expect(m.rec.last).toEqual({ vector: 14, kind: 0, errorCode: PFE_P | PFE_U, eip: 0x100005, cr2: 0x400123 });
    expect(m.cpu.cr2).toBe(0x400123);
  });
});
