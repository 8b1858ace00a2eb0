/**
 * The decoded-block cache (src/vmm/cpu/blocks.ts) and self-modifying code.
 *
 * x86 guarantees that a write to code is seen by instructions fetched after
 * the writing instruction (Intel SDM vol. 3A §11.6, "self-modifying code":
 * the processor detects the write and invalidates prefetched code), even
 * when the store targets the same linear address or another linear alias of
 * the same frame. The block cache must therefore drop blocks whose bytes
 * change — by guest stores, by VMM writes through PhysMemory, and on either
 * page of a block whose last instruction straddles a page boundary — and a
 * block ends before (not at) an instruction that cannot be fetched, so the
 * fault is raised only when execution reaches it.
 */
import { describe, expect, it } from 'vitest';
import { Exit } from '../../src/vmm/cpu/cpu.js';
import { run } from '../../src/vmm/cpu/exec.js';
import { PFE_I, PFE_P } from '../../src/vmm/cpu/mmu.js';
import { D, NX_HI, P, Pt32, PtPae, RW, asm, load, machine, type PageTables } from './system/fixture.js';

const CODE = 0x100000;

describe('self-modifying code', () => {
  it('sees a patched immediate of a later instruction in the same block', () => {
    const m = machine();
    load(m.cpu, asm(`
  movl $0x1234, 1f+1
  movl $0x1111, %eax
1:
  movl $0, %ecx
  hlt`, CODE), CODE);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.r32[1]).toBe(0x1234);
    expect(m.cpu.r32[0]).toBe(0x1111);
    expect(m.cpu.icount).toBe(4);
    expect(m.cpu.blocks.invalidations).toBeGreaterThan(0);
  });

  it('sees byte patches made on every iteration of a loop (cached blocks re-decoded)', () => {
    const m = machine();
    load(m.cpu, asm(`
  xorl %esi, %esi
  xorl %edi, %edi
2:
  movl %esi, %eax
  movb %al, 1f+1
1:
  movl $0, %ecx
  addl %ecx, %edi
  incl %esi
  cmpl $50, %esi
  jne 2b
  hlt`, CODE), CODE);
    expect(run(m.cpu, 10_000)).toBe(Exit.HLT);
    expect(m.cpu.r32[7]).toBe((49 * 50) / 2);
  });

  it('sees a patch made through a different linear alias of the same frame', () => {
    for (const Mode of [Pt32, PtPae]) {
      const m = machine();
      const pt = new Mode(m.mem);
      pt.map(CODE, CODE, P | RW | D);
      pt.map(0x700000, CODE, P | RW | D); // writable alias
      pt.enable(m.cpu);
      m.cpu.wr32(0x700ffc, 0); // warm the alias's TLB entry with write permission first
      load(m.cpu, asm(`
  movl $0x4321, 1f+0x600001
1:
  movl $0, %ecx
  hlt`, CODE), CODE);
      expect(run(m.cpu, 100)).toBe(Exit.HLT);
      expect(m.cpu.r32[1]).toBe(0x4321);
    }
  });

  it('sees a store that straddles into the next page of code (both frames checked)', () => {
    const m = machine();
    m.cpu.r32[4] = 0x8000;
    load(m.cpu, asm(`
  call 0x101000
  movl %eax, %esi
  movl $0x05b80000, %edx
  movl %edx, 0x100ffe
  call 0x101000
  hlt`, CODE), CODE);
    m.mem.writeBytes(0x101000, asm('  movl $1, %eax\n  ret', 0x101000));
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.r32[6]).toBe(1);
    expect(m.cpu.r32[0]).toBe(5);
  });

  it('sees new code in a subroutine that earlier blocks were linked to', () => {
    // The loop stores i into f's immediate, then calls f: the link from the
    // call block to f must not survive the invalidation.
    const m = machine();
    m.cpu.r32[4] = 0x8000;
    load(m.cpu, asm(`
  xorl %esi, %esi
  xorl %edi, %edi
2:
  movl %esi, f+1
  call f
  addl %eax, %edi
  incl %esi
  cmpl $100, %esi
  jne 2b
  hlt
  .balign 64
f:
  movl $0, %eax
  ret`, CODE), CODE);
    expect(run(m.cpu, 100_000)).toBe(Exit.HLT);
    expect(m.cpu.r32[7]).toBe((99 * 100) / 2);
  });

  it('sees VMM writes through PhysMemory (writeBytes, write8/16/32, fill)', () => {
    const m = machine();
    const code = asm('  movl $0x11111111, %eax\n  hlt', CODE);
    const again = (): number => {
      m.cpu.eip = CODE;
      m.cpu.halted = false;
      expect(run(m.cpu, 10)).toBe(Exit.HLT);
      return m.cpu.r32[0]! >>> 0;
    };
    load(m.cpu, code, CODE);
    expect(again()).toBe(0x11111111);
    expect(again()).toBe(0x11111111);
    m.mem.writeBytes(CODE + 1, new Uint8Array([0x22, 0x22]));
    expect(again()).toBe(0x11112222);
    m.mem.write8(CODE + 4, 0x33);
    expect(again()).toBe(0x33112222);
    m.mem.write16(CODE + 2, 0x4444);
    expect(again()).toBe(0x33444422);
    m.mem.write32(CODE + 1, 0x55555555);
    expect(again()).toBe(0x55555555);
    m.mem.fill(CODE + 1, 4, 0x66);
    expect(again()).toBe(0x66666666);
  });
});

/**
 * Code laid out across the 0x100000/0x101000 page boundary:
 *   0x100ff8  bb 05 00 00 00   movl $5, %ebx
 *   0x100ffd  b8 44 33 | 22 11 movl $0x11223344, %eax   (straddles)
 *   0x101002  f4               hlt
 * The second page's bytes come from frame 0x101000 or, remapped, 0x102000.
 */
function straddle(Mode: typeof Pt32 | typeof PtPae, second: 'present' | 'absent' | 'nx') {
  const m = machine();
  const pt: PageTables = new Mode(m.mem);
  pt.map(0x100000, 0x100000, P | RW);
  if (second === 'present') pt.map(0x101000, 0x101000, P | RW);
  if (second === 'nx') pt.map(0x101000, 0x101000, P | RW, NX_HI);
  pt.enable(m.cpu, { nxe: true });
  m.mem.writeBytes(0x100ff8, new Uint8Array([0xbb, 0x05, 0, 0, 0, 0xb8, 0x44, 0x33]));
  m.mem.writeBytes(0x101000, new Uint8Array([0x22, 0x11, 0xf4]));
  m.mem.writeBytes(0x102000, new Uint8Array([0x66, 0x55, 0xf4]));
  m.cpu.eip = 0x100ff8;
  return { ...m, pt };
}

function rerun(m: ReturnType<typeof straddle>): Exit {
  m.cpu.eip = 0x100ff8;
  m.cpu.halted = false;
  m.cpu.r32[0] = 0;
  m.cpu.r32[3] = 0;
  return run(m.cpu, 100);
}

describe('blocks straddling a page boundary', () => {
  for (const Mode of [Pt32, PtPae]) {
    const name = Mode === Pt32 ? '32-bit' : 'PAE';
    it(`${name}: notices the second page being remapped`, () => {
      const m = straddle(Mode, 'present');
      expect(rerun(m)).toBe(Exit.HLT);
      expect(m.cpu.r32[0]).toBe(0x11223344);
      expect(rerun(m)).toBe(Exit.HLT);
      const decoded = m.cpu.blocks.decodedBlocks;
      m.pt.map(0x101000, 0x102000, P | RW);
      m.cpu.tlbFlushPage(0x101000);
      expect(rerun(m)).toBe(Exit.HLT);
      expect(m.cpu.r32[0]).toBe(0x55663344);
      expect(m.cpu.blocks.decodedBlocks).toBeGreaterThan(decoded);
    });

    it(`${name}: notices a write to the second frame`, () => {
      const m = straddle(Mode, 'present');
      expect(rerun(m)).toBe(Exit.HLT);
      m.mem.write8(0x101001, 0x99);
      expect(rerun(m)).toBe(Exit.HLT);
      expect(m.cpu.r32[0]).toBe(0x99223344 | 0);
    });

    it(`${name}: faults on the straddling instruction only after the ones before it ran`, () => {
      const m = straddle(Mode, 'absent');
      expect(run(m.cpu, 100)).toBe(Exit.STOPPED);
      expect(m.cpu.r32[3]).toBe(5);
      expect(m.cpu.icount).toBe(1);
      expect(m.rec.events).toHaveLength(1);
      expect(m.rec.last).toMatchObject({ vector: 14, eip: 0x100ffd, cr2: 0x101000, errorCode: Mode === PtPae ? PFE_I : 0 });
    });

    it(`${name}: a second page that becomes not-present later faults at the straddling instruction`, () => {
      const m = straddle(Mode, 'present');
      expect(rerun(m)).toBe(Exit.HLT);
      m.pt.map(0x101000, 0, 0);
      m.cpu.tlbFlushPage(0x101000);
      expect(rerun(m)).toBe(Exit.STOPPED);
      expect(m.cpu.r32[3]).toBe(5);
      expect(m.rec.last).toMatchObject({ vector: 14, eip: 0x100ffd, cr2: 0x101000 });
    });
  }

  it('PAE: an NX second page faults with I/D at the straddling instruction', () => {
    const m = straddle(PtPae, 'nx');
    expect(run(m.cpu, 100)).toBe(Exit.STOPPED);
    expect(m.cpu.r32[3]).toBe(5);
    expect(m.rec.last).toMatchObject({ vector: 14, eip: 0x100ffd, cr2: 0x101000, errorCode: PFE_P | PFE_I });
  });
});

describe('fetch faults inside a block', () => {
  it('instructions ending right before a not-present page all run before the #PF', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.map(0x100000, 0x100000, P | RW);
    pt.enable(m.cpu);
    // 0x100ff9: movl $7, %eax (5 bytes), incl %ebx, incl %ebx; then page 0x101000 is absent.
    m.mem.writeBytes(0x100ff9, new Uint8Array([0xb8, 7, 0, 0, 0, 0x43, 0x43]));
    m.cpu.eip = 0x100ff9;
    expect(run(m.cpu, 100)).toBe(Exit.STOPPED);
    expect(m.cpu.r32[0]).toBe(7);
    expect(m.cpu.r32[3]).toBe(2);
    expect(m.cpu.icount).toBe(3);
    expect(m.rec.last).toMatchObject({ vector: 14, errorCode: 0, eip: 0x101000, cr2: 0x101000 });
  });

  it('a fault on a later instruction of a block does not fire before the earlier ones', () => {
    // #UD (an undefined opcode) in the middle of a block.
    const m = machine();
    load(m.cpu, asm('  movl $1, %eax\n  movl $2, %ebx\n  .byte 0x0f, 0x0b\n  movl $3, %ecx\n  hlt', CODE), CODE);
    expect(run(m.cpu, 100)).toBe(Exit.STOPPED);
    expect(m.rec.last).toMatchObject({ vector: 6, eip: CODE + 10 });
    expect([m.cpu.r32[0], m.cpu.r32[3], m.cpu.r32[1]]).toEqual([1, 2, 0]);
    expect(m.cpu.icount).toBe(2);
  });
});

describe('block reuse', () => {
  it('decodes each block of a hot loop once', () => {
    const m = machine();
    m.cpu.r32[4] = 0x8000;
    load(m.cpu, asm(`
  movl $1000, %ecx
1:
  call 2f
  addl %eax, %edx
  decl %ecx
  jnz 1b
  hlt
2:
  movl (0x9000), %eax
  incl %eax
  movl %eax, (0x9000)
  ret`, CODE), CODE);
    expect(run(m.cpu, 1_000_000)).toBe(Exit.HLT);
    expect(m.mem.read32(0x9000)).toBe(1000);
    expect(m.cpu.r32[2]).toBe((1000 * 1001) / 2);
    // movl+call, call (the loop head), addl..jnz, hlt, the subroutine: five blocks.
    expect(m.cpu.blocks.decodedBlocks).toBe(5);
    expect(m.cpu.blocks.size).toBe(5);
  });

  it('keeps blocks of two linear aliases of one frame without re-decoding either', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x100000, 0x100000, P | RW);
    pt.map(0x400000, 0x100000, P | RW); // alias of the code frame
    pt.map(0x9000, 0x9000, P | RW);
    pt.enable(m.cpu);
    m.cpu.r32[4] = 0xa000;
    // Position-independent subroutine called at both addresses.
    m.mem.writeBytes(0x100000, asm('  incl %eax\n  ret', 0));
    m.mem.writeBytes(0x101000 - 0x100, asm(`
  movl $200, %ecx
1:
  call 0x100000
  call 0x400000
  decl %ecx
  jnz 1b
  hlt`, 0x100f00));
    m.cpu.eip = 0x100f00;
    expect(run(m.cpu, 100_000)).toBe(Exit.HLT);
    expect(m.cpu.r32[0]).toBe(400);
    expect(m.cpu.blocks.decodedBlocks).toBeLessThanOrEqual(7);
  });

  it('stays correct with more linear aliases of one frame than it keeps blocks for, also after a code write', () => {
    const m = machine();
    const pt = new PtPae(m.mem);
    pt.map(0x100000, 0x100000, P | RW);
    pt.map(0x9000, 0x9000, P | RW);
    const ALIASES = 9;
    for (let k = 0; k < ALIASES; k++) pt.map(0x800000 + k * 0x1000, 0x200000, P | RW);
    pt.enable(m.cpu);
    m.cpu.r32[4] = 0xa000;
    m.mem.writeBytes(0x200000, asm('  addl $1, %eax\n  ret', 0));
    const calls = Array.from({ length: ALIASES }, (_, k) => `  call ${0x800000 + k * 0x1000}`).join('\n');
    load(m.cpu, asm(`  movl $20, %ecx\n1:\n${calls}\n  decl %ecx\n  jnz 1b\n  hlt`, CODE), CODE);
    expect(run(m.cpu, 100_000)).toBe(Exit.HLT);
    expect(m.cpu.r32[0]).toBe(20 * ALIASES);
    m.mem.write8(0x200002, 3); // addl $3 from now on, whichever alias runs it
    m.cpu.eip = CODE;
    m.cpu.halted = false;
    m.cpu.r32[0] = 0;
    expect(run(m.cpu, 100_000)).toBe(Exit.HLT);
    expect(m.cpu.r32[0]).toBe(3 * 20 * ALIASES);
  });

  it('clear() kills every block and link: new bytes written afterwards are executed', () => {
    const m = machine();
    m.cpu.r32[4] = 0x8000;
    load(m.cpu, asm('  movl $5, %ecx\n1:\n  call 2f\n  decl %ecx\n  jnz 1b\n  hlt\n2:\n  movl $1, %eax\n  ret', CODE), CODE);
    expect(run(m.cpu, 1000)).toBe(Exit.HLT);
    const sub = CODE + 14; // movl $5 (5), call (5), decl (1), jnz (2), hlt (1)
    expect(m.mem.read8(sub)).toBe(0xb8);
    m.cpu.blocks.clear();
    expect(m.cpu.blocks.size).toBe(0);
    expect(m.mem.codePages.every((c) => c === 0)).toBe(true);
    m.mem.write8(sub + 1, 7); // no code marks now: nobody is told
    m.cpu.eip = CODE;
    m.cpu.halted = false;
    expect(run(m.cpu, 1000)).toBe(Exit.HLT);
    expect(m.cpu.r32[0]).toBe(7);
  });

  it('clear() from a host callback in the middle of a run leaves no stale block reachable', () => {
    const m = machine();
    m.cpu.r32[4] = 0x8000;
    load(m.cpu, asm(`
  movl $3, %ecx
  xorl %edi, %edi
1:
  call 2f
  addl %eax, %edi
  outb %al, $0x80
  decl %ecx
  jnz 1b
  hlt
2:
  movl $1, %eax
  ret`, CODE), CODE);
    const sub = CODE + 0x14; // b9.. 31ff e8.. 01c7 e680 49 75f4 f4 | b8 01000000 c3
    expect(m.mem.read8(sub)).toBe(0xb8);
    let outs = 0;
    m.cpu.host = {
      ...m.cpu.host,
      ioOut: () => {
        if (++outs !== 2) return;
        // A VMM reset of the block cache, then a write nobody is told about.
        m.cpu.blocks.clear();
        m.mem.write8(sub + 1, 7);
      },
    };
    expect(run(m.cpu, 1000)).toBe(Exit.HLT);
    expect(m.cpu.r32[7]).toBe(1 + 1 + 7);
  });
});

