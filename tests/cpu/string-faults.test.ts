/**
 * String instructions, emulator-only: what the host cannot show from user
 * mode.
 *
 *  - Precise, restartable faults in the middle of a repeat (Intel SDM vol.
 *    2B REP/REPE/REPNE: "a repeating string operation can be suspended by
 *    an exception or interrupt ... the state of the registers is preserved
 *    to allow the string operation to be resumed upon a return"): a #PF on
 *    a not-present page (CR2, error code, ESI/EDI/ECX at the faulting
 *    element, EIP at the instruction), then the page is mapped and the
 *    instruction resumes to completion; the same for segment-limit #GP.
 *  - Segment rules (SDM MOVS/CMPS/...: "the DS segment may be overridden
 *    with a segment override prefix, but the ES segment cannot"), with
 *    segments whose bases differ so a wrong choice is visible.
 *  - 16-bit address size (SI/DI/CX, 64 KiB wrap, upper halves preserved),
 *    which needs offsets below 64 KiB.
 *  - The page-run fast paths against a one-element-at-a-time reference
 *    model, with scattered (non-identity) page mappings, page-crossing
 *    elements, overlap and both directions.
 *  - Writes through an alias mapping of a frame that holds cached code.
 *  - Accesses beyond guest RAM (reads 0xff, writes dropped).
 *  - Long repeats yield between chunks; with TF set each iteration traps
 *    (one element per single-step, EIP kept at the instruction until the
 *    last iteration).
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu, enterFlatMode } from '../../src/vmm/cpu/index.js';
import { Cpu, CR0_PG, Exit, Seg, type Delivery, type IntKind } from '../../src/vmm/cpu/cpu.js';
import { run } from '../../src/vmm/cpu/exec.js';
import { readEflags } from '../../src/vmm/cpu/flags.js';
import { REP_CHUNK } from '../../src/vmm/cpu/families/string.js';
import { rng } from './diff/harness.js';

class Stop implements Delivery {
  vector = -1;
  err = -1;
  count = 0;
  deliver(cpu: Cpu, vector: number, _kind: IntKind, errorCode: number): void {
    this.vector = vector;
    this.err = errorCode;
    this.count++;
    cpu.requestExit(Exit.STOPPED);
  }
}

const CODE = 0x1000;
const HLT = 0xf4;
const PD = 0x700000, PT = 0x701000;

interface Env { cpu: Cpu; mem: PhysMemory; stop: Stop; go: (budget?: number) => Exit }

/** CPL-0 flat CPU over 8 MiB with `bytes` then HLT at CODE. */
function emu(bytes: number[]): Env {
  const mem = new PhysMemory(8 << 20);
  const stop = new Stop();
  const cpu = createCpu(mem, { delivery: stop });
  mem.writeBytes(CODE, new Uint8Array([...bytes, HLT]));
  cpu.eip = CODE;
  cpu.r32[4] = 0x8000;
  const go = (budget = 1_000_000): Exit => {
    stop.vector = -1;
    return run(cpu, budget);
  };
  return { cpu, mem, stop, go };
}

/** 32-bit paging over the low 4 MiB: linear page lp -> frame map(lp), or not present when null. */
function enablePaging(e: Env, map: (lp: number) => number | null): void {
  e.mem.write32(PD, PT | 7);
  for (let lp = 0; lp < 1024; lp++) {
    const f = map(lp);
    e.mem.write32(PT + lp * 4, f === null ? 0 : (f << 12) | 7);
  }
  e.cpu.cr3 = PD;
  e.cpu.cr0 |= CR0_PG;
  e.cpu.tlbFlushAll();
}

const identity = (lp: number): number => lp;

function setPte(e: Env, lp: number, frame: number | null): void {
  e.mem.write32(PT + lp * 4, frame === null ? 0 : (frame << 12) | 7);
  e.cpu.tlbFlushPage(lp << 12);
}

function fillPattern(mem: PhysMemory, pa: number, len: number, seed: number): void {
  const r = rng(seed);
  for (let k = 0; k < len; k++) mem.write8(pa + k, r() & 0xff);
}

describe('REP string faults are precise and restartable', () => {
  it('REP MOVSD into a not-present page: #PF(W) at the first element of that page, then resumes', () => {
    const e = emu([0xf3, 0xa5]);
    enablePaging(e, (lp) => (lp === 0x31 ? null : lp));
    fillPattern(e.mem, 0x20000, 64, 1);
    e.cpu.r32[6] = 0x20000;
    e.cpu.r32[7] = 0x30ff0;
    e.cpu.r32[1] = 16;
    e.go();
    expect(e.stop.vector).toBe(14);
    expect(e.stop.err).toBe(2); // write, not present, supervisor
    expect(e.cpu.cr2 >>> 0).toBe(0x31000);
    expect(e.cpu.eip).toBe(CODE);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x20010, 0x31000, 12]);
    expect(e.mem.readBytes(0x30ff0, 16)).toEqual(e.mem.readBytes(0x20000, 16));
    // "Handler": map the page, return to the instruction.
    setPte(e, 0x31, 0x31);
    expect(e.go()).toBe(Exit.HLT);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x20040, 0x31030, 0]);
    expect(e.mem.readBytes(0x30ff0, 64)).toEqual(e.mem.readBytes(0x20000, 64));
  });

  it('a dword straddling into the missing page faults before any of its bytes are written', () => {
    const e = emu([0xf3, 0xa5]);
    enablePaging(e, (lp) => (lp === 0x31 ? null : lp));
    fillPattern(e.mem, 0x20000, 64, 2);
    e.cpu.r32[6] = 0x20000;
    e.cpu.r32[7] = 0x30ff2; // the 4th element covers 0x30ffe..0x31001
    e.cpu.r32[1] = 8;
    e.go();
    expect(e.stop.vector).toBe(14);
    expect(e.cpu.cr2 >>> 0).toBe(0x31000);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x2000c, 0x30ffe, 5]);
    expect(e.mem.read16(0x30ffe)).toBe(0);
  });

  it('a long REP MOVSD whose source runs into a missing page (fast path) stops exactly there', () => {
    const e = emu([0xf3, 0xa5]);
    enablePaging(e, (lp) => (lp === 0x42 ? null : lp));
    fillPattern(e.mem, 0x40000, 0x2000, 3);
    e.cpu.r32[6] = 0x40000;
    e.cpu.r32[7] = 0x100000;
    e.cpu.r32[1] = 0x1000;
    e.go();
    expect(e.stop.vector).toBe(14);
    expect(e.stop.err).toBe(0); // read, not present
    expect(e.cpu.cr2 >>> 0).toBe(0x42000);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x42000, 0x102000, 0x800]);
    expect(e.mem.readBytes(0x100000, 0x2000)).toEqual(e.mem.readBytes(0x40000, 0x2000));
    expect(e.mem.read32(0x102000)).toBe(0);
    fillPattern(e.mem, 0x42000, 0x2000, 4);
    setPte(e, 0x42, 0x42);
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[1]).toBe(0);
    expect(e.mem.readBytes(0x100000, 0x4000)).toEqual(e.mem.readBytes(0x40000, 0x4000));
  });

  it('a backward (DF = 1) REP MOVSD run into a missing page stops at its first element there', () => {
    const e = emu([0xf3, 0xa5]);
    enablePaging(e, (lp) => (lp === 0x42 ? null : lp));
    fillPattern(e.mem, 0x40000, 0x4000, 5);
    e.cpu.flags |= 0x400;
    e.cpu.r32[6] = 0x43ffc;
    e.cpu.r32[7] = 0x103ffc;
    e.cpu.r32[1] = 0x800;
    e.go();
    expect([e.stop.vector, e.stop.err, e.cpu.cr2 >>> 0]).toEqual([14, 0, 0x42ffc]);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x42ffc, 0x102ffc, 0x400]);
    expect(e.mem.readBytes(0x103000, 0x1000)).toEqual(e.mem.readBytes(0x43000, 0x1000));
    expect(e.mem.read32(0x102ffc)).toBe(0);
    setPte(e, 0x42, 0x42);
    expect(e.go()).toBe(Exit.HLT);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x41ffc, 0x101ffc, 0]);
    expect(e.mem.readBytes(0x102000, 0x2000)).toEqual(e.mem.readBytes(0x42000, 0x2000));
  });

  it('REP STOSB/STOSD and REPNE SCASB fault on the missing page with the right state', () => {
    const s = emu([0xf3, 0xab]);
    enablePaging(s, (lp) => (lp === 0x53 ? null : lp));
    s.cpu.r32[0] = 0x11223344;
    s.cpu.r32[7] = 0x50008;
    s.cpu.r32[1] = 0x10000;
    s.go();
    expect([s.stop.vector, s.stop.err, s.cpu.cr2 >>> 0]).toEqual([14, 2, 0x53000]);
    expect([s.cpu.r32[7], s.cpu.r32[1]]).toEqual([0x53000, 0x10000 - (0x53000 - 0x50008) / 4]);
    expect(s.mem.read32(0x52ffc)).toBe(0x11223344);
    const b = emu([0xf2, 0xae]);
    enablePaging(b, (lp) => (lp === 0x53 ? null : lp));
    b.cpu.r32[0] = 0x5a; // not present in the zero-filled pages
    b.cpu.r32[7] = 0x50001;
    b.cpu.r32[1] = -1;
    b.cpu.flags |= 0x40;
    b.go();
    expect([b.stop.vector, b.stop.err, b.cpu.cr2 >>> 0]).toEqual([14, 0, 0x53000]);
    expect([b.cpu.r32[7], b.cpu.r32[1]! >>> 0]).toEqual([0x53000, 0xffffffff - (0x53000 - 0x50001)]);
    // Flags are those of the last compare that completed (0x5a - 0: ZF clear).
    expect(readEflags(b.cpu) & 0x40).toBe(0);
  });

  it('at CPL 3, REP STOSD into a supervisor page raises #PF(P|W|U) there; a read-only page too', () => {
    for (const pteFlags of [0x3, 0x5]) {
      const e = emu([0xf3, 0xab]);
      enterFlatMode(e.cpu, 3, { cs: 0x1b, ds: 0x23 });
      e.cpu.eip = CODE;
      enablePaging(e, identity);
      e.mem.write32(PT + 0x31 * 4, 0x31000 | pteFlags);
      e.cpu.r32[0] = 0x77;
      e.cpu.r32[7] = 0x30f00;
      e.cpu.r32[1] = 0x100;
      e.go();
      expect([e.stop.vector, e.stop.err, e.cpu.cr2 >>> 0]).toEqual([14, 7, 0x31000]);
      expect([e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x31000, 0xc0]);
    }
  });

  it('a segment limit mid-REP raises #GP(0) with ESI/ECX at the element that crosses it', () => {
    const e = emu([0xf3, 0xa5]);
    e.cpu.loadSegCache(Seg.DS, 0x10, 0, 0x2005, 0x93 | 0x4000);
    e.cpu.r32[6] = 0x2000;
    e.cpu.r32[7] = 0x3000;
    e.cpu.r32[1] = 10;
    e.go();
    expect([e.stop.vector, e.stop.err, e.cpu.eip]).toEqual([13, 0, CODE]);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x2004, 0x3004, 9]);
    // Raise the limit ("handler") and resume.
    e.cpu.loadSegCache(Seg.DS, 0x10, 0, 0xffff, 0x93 | 0x4000);
    expect(e.go()).toBe(Exit.HLT);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x2028, 0x3028, 0]);
  });

  it('ES limit stops REP STOSB; a read-only ES faults on the first STOS element', () => {
    const e = emu([0xf3, 0xaa]);
    e.cpu.loadSegCache(Seg.ES, 0x10, 0x10000, 0x0fff, 0x93 | 0x4000);
    e.cpu.r32[7] = 0xff0;
    e.cpu.r32[1] = 100;
    e.go();
    expect([e.stop.vector, e.cpu.r32[7], e.cpu.r32[1]]).toEqual([13, 0x1000, 84]);
    const ro = emu([0xf3, 0xaa]);
    ro.cpu.loadSegCache(Seg.ES, 0x10, 0, 0xffffffff, 0x91 | 0x4000 | 0x8000); // read-only data
    ro.cpu.r32[7] = 0x5000;
    ro.cpu.r32[1] = 3;
    ro.go();
    expect([ro.stop.vector, ro.cpu.r32[7], ro.cpu.r32[1]]).toEqual([13, 0x5000, 3]);
  });

  it('a null ES faults even with a DS override, and REP with ECX = 0 touches nothing', () => {
    const e = emu([0x3e, 0xa4]);
    e.cpu.loadSegCache(Seg.ES, 0, 0, 0, 0x10000);
    e.go();
    expect(e.stop.vector).toBe(13);
    const z = emu([0xf3, 0xa5]);
    enablePaging(z, (lp) => (lp >= 0x100 ? null : lp));
    z.cpu.r32[6] = 0x200000;
    z.cpu.r32[7] = 0x300000;
    z.cpu.r32[1] = 0;
    expect(z.go()).toBe(Exit.HLT);
  });

  it('an expand-down ES limits STOS from below', () => {
    const e = emu([0xf3, 0xab]);
    // Expand-down, B = 1: valid offsets (0x4fff, 0xffffffff].
    e.cpu.loadSegCache(Seg.ES, 0x10, 0, 0x4fff, 0x97 | 0x4000);
    e.cpu.flags |= 0x400; // DF: walk down into the limit
    e.cpu.r32[7] = 0x500c;
    e.cpu.r32[1] = 10;
    e.go();
    expect([e.stop.vector, e.cpu.r32[7], e.cpu.r32[1]]).toEqual([13, 0x4ffc, 6]);
  });
});

describe('segment overrides and 16-bit addresses', () => {
  function segs(e: Env): void {
    e.cpu.loadSegCache(Seg.DS, 0x10, 0x100000, 0xfffff, 0x93 | 0x4000);
    e.cpu.loadSegCache(Seg.ES, 0x18, 0x200000, 0xfffff, 0x93 | 0x4000);
    e.cpu.loadSegCache(Seg.FS, 0x20, 0x300000, 0xfffff, 0x93 | 0x4000);
    e.cpu.loadSegCache(Seg.SS, 0x28, 0x000000, 0xffffffff, 0x93 | 0x4000 | 0x8000);
  }

  it('MOVS reads DS:ESI by default, FS:ESI with 0x64, and always writes ES:EDI', () => {
    for (const [prefix, srcBase] of [[[], 0x100000], [[0x64], 0x300000], [[0x26], 0x200000], [[0x36], 0]] as const) {
      const e = emu([...prefix, 0xf3, 0xa4]);
      segs(e);
      fillPattern(e.mem, srcBase + 0x40, 8, srcBase);
      e.cpu.r32[6] = 0x40;
      e.cpu.r32[7] = 0x80;
      e.cpu.r32[1] = 8;
      expect(e.go()).toBe(Exit.HLT);
      expect(e.mem.readBytes(0x200080, 8)).toEqual(e.mem.readBytes(srcBase + 0x40, 8));
    }
  });

  it('CMPS compares override:[ESI] with ES:[EDI]; SCAS and STOS ignore an override', () => {
    const c = emu([0x64, 0xf3, 0xa6]); // repe cmpsb fs:[esi], es:[edi]
    segs(c);
    c.mem.writeBytes(0x300010, new Uint8Array([1, 2, 3, 4]));
    c.mem.writeBytes(0x200020, new Uint8Array([1, 2, 9, 4]));
    c.mem.writeBytes(0x100010, new Uint8Array([1, 2, 3, 4])); // DS copy: must not be used
    c.cpu.r32[6] = 0x10;
    c.cpu.r32[7] = 0x20;
    c.cpu.r32[1] = 4;
    expect(c.go()).toBe(Exit.HLT);
    expect([c.cpu.r32[6], c.cpu.r32[7], c.cpu.r32[1]]).toEqual([0x13, 0x23, 1]);
    expect(readEflags(c.cpu) & 0x41).toBe(0x01); // 3 - 9: ZF clear, CF set
    const s = emu([0x64, 0xf2, 0xae]); // repne scasb with a (meaningless) fs prefix
    segs(s);
    s.mem.writeBytes(0x200030, new Uint8Array([7, 7, 0x42]));
    s.mem.writeBytes(0x300030, new Uint8Array([0x42]));
    s.cpu.r32[0] = 0x42;
    s.cpu.r32[7] = 0x30;
    s.cpu.r32[1] = 10;
    expect(s.go()).toBe(Exit.HLT);
    expect([s.cpu.r32[7], s.cpu.r32[1]]).toEqual([0x33, 7]);
    const t = emu([0x64, 0xaa]); // fs stosb
    segs(t);
    t.cpu.r32[0] = 0x99;
    t.cpu.r32[7] = 0x50;
    expect(t.go()).toBe(Exit.HLT);
    expect([t.mem.read8(0x200050), t.mem.read8(0x300050)]).toEqual([0x99, 0]);
  });

  it('LODS with an override loads from the override segment', () => {
    const e = emu([0x64, 0xad]);
    segs(e);
    e.mem.write32(0x300100, 0x12345678);
    e.mem.write32(0x100100, 0x0badbad0);
    e.cpu.r32[6] = 0x100;
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[0]).toBe(0x12345678);
    expect(e.cpu.r32[6]).toBe(0x104);
  });

  it('0x67: SI/DI/CX wrap at 64 KiB and the upper halves stay', () => {
    const e = emu([0x67, 0xf3, 0xa4]); // rep movsb with SI/DI/CX
    e.cpu.loadSegCache(Seg.DS, 0x10, 0x50000, 0xffff, 0x93 | 0x4000);
    e.cpu.loadSegCache(Seg.ES, 0x18, 0x70000, 0xffff, 0x93 | 0x4000);
    e.mem.writeBytes(0x5fffe, new Uint8Array([1, 2]));
    e.mem.writeBytes(0x50000, new Uint8Array([3, 4]));
    e.cpu.r32[6] = 0x1234fffe;
    e.cpu.r32[7] = 0x5678fffd;
    e.cpu.r32[1] = 0xabcd0004 | 0;
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[6]! >>> 0).toBe(0x12340002);
    expect(e.cpu.r32[7]! >>> 0).toBe(0x56780001);
    expect(e.cpu.r32[1]! >>> 0).toBe(0xabcd0000);
    expect(Array.from(e.mem.readBytes(0x7fffd, 3))).toEqual([1, 2, 3]);
    expect(e.mem.read8(0x70000)).toBe(4);
  });

  it('0x67 with DF set walks SI/DI down through 0 to 0xffff', () => {
    const e = emu([0x67, 0xf3, 0x66, 0xab]); // rep stosw, DF=1
    e.cpu.loadSegCache(Seg.ES, 0x18, 0x70000, 0xffff, 0x93 | 0x4000);
    e.cpu.flags |= 0x400;
    e.cpu.r32[0] = 0xbeef;
    e.cpu.r32[7] = 0x77770002;
    e.cpu.r32[1] = 3;
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[7]! >>> 0).toBe(0x7777fffc);
    expect([e.mem.read16(0x70002), e.mem.read16(0x70000), e.mem.read16(0x7fffe)]).toEqual([0xbeef, 0xbeef, 0xbeef]);
  });

  it('0x67 REPNE SCASB wraps DI and keeps the upper half of EDI', () => {
    const e = emu([0x67, 0xf2, 0xae]); // flat ES: only the address size limits DI
    e.mem.writeBytes(0xfffe, new Uint8Array([1, 2]));
    e.mem.writeBytes(0x0000, new Uint8Array([3, 0x42]));
    e.cpu.r32[0] = 0x42;
    e.cpu.r32[7] = 0x0010fffe; // ES.base + EDI stays inside RAM, so using EDI would be visible
    e.cpu.r32[1] = 0x00990010;
    expect(e.go()).toBe(Exit.HLT);
    expect([e.cpu.r32[7]! >>> 0, e.cpu.r32[1]! >>> 0]).toEqual([0x00100002, 0x0099000c]);
    expect(readEflags(e.cpu) & 0x40).toBe(0x40);
  });

  it('0x67 with a segment override reads override:[SI]', () => {
    const e = emu([0x64, 0x67, 0xf3, 0xa4]);
    e.cpu.loadSegCache(Seg.FS, 0x20, 0x300000, 0xffff, 0x93 | 0x4000);
    e.mem.writeBytes(0x300010, new Uint8Array([5, 6, 7]));
    e.mem.writeBytes(0x000010, new Uint8Array([9, 9, 9]));
    e.cpu.r32[6] = 0x55550010;
    e.cpu.r32[7] = 0x66660100;
    e.cpu.r32[1] = 3;
    expect(e.go()).toBe(Exit.HLT);
    expect(Array.from(e.mem.readBytes(0x100, 3))).toEqual([5, 6, 7]);
    expect([e.cpu.r32[6]! >>> 0, e.cpu.r32[7]! >>> 0]).toEqual([0x55550013, 0x66660103]);
  });

  it('0x67 REPE CMPSW and LODSB count CX only', () => {
    const e = emu([0x67, 0xf3, 0x66, 0xa7]);
    e.mem.writeBytes(0x100, new Uint8Array([1, 0, 2, 0, 3, 0]));
    e.mem.writeBytes(0x200, new Uint8Array([1, 0, 2, 0, 4, 0]));
    e.cpu.r32[6] = 0x100;
    e.cpu.r32[7] = 0x200;
    e.cpu.r32[1] = 0x70005;
    expect(e.go()).toBe(Exit.HLT);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x106, 0x206, 0x70002]);
    const l = emu([0x67, 0xac]);
    l.mem.write8(0xffff, 0x66);
    l.cpu.r32[6] = 0x2ffff;
    expect(l.go()).toBe(Exit.HLT);
    expect([l.cpu.r8[0], l.cpu.r32[6]]).toEqual([0x66, 0x20000]);
  });
});

// --- fast paths against a one-element-at-a-time reference --------------------------

type OpName = 'movs' | 'stos' | 'lods' | 'cmps' | 'scas';
const OPC: Record<OpName, number> = { movs: 0xa4, cmps: 0xa6, stos: 0xaa, lods: 0xac, scas: 0xae };

interface RefState { esi: number; edi: number; ecx: number; eax: number; zf: boolean; cf: boolean; sf: boolean }

/** Architectural reference: one element at a time through `phys(la)`. */
function reference(op: OpName, n: number, rep: number, df: boolean, st: RefState, mem: Uint8Array, phys: (la: number) => number): RefState {
  const s = { ...st };
  const rdE = (la: number): number => {
    let v = 0;
    for (let b = 0; b < n; b++) v += mem[phys(la + b)]! * 2 ** (8 * b);
    return v;
  };
  const wrE = (la: number, v: number): void => {
    for (let b = 0; b < n; b++) mem[phys(la + b)] = Math.floor(v / 2 ** (8 * b)) & 0xff;
  };
  const step = df ? -n : n;
  const accMask = n === 4 ? 0xffffffff : n === 2 ? 0xffff : 0xff;
  const one = (): boolean => {
    switch (op) {
      case 'movs': wrE(s.edi, rdE(s.esi)); s.esi += step; s.edi += step; return true;
      case 'stos': wrE(s.edi, s.eax & accMask); s.edi += step; return true;
      case 'lods': s.eax = n === 4 ? rdE(s.esi) : (s.eax & ~accMask) | rdE(s.esi); s.esi += step; return true;
      case 'cmps': case 'scas': {
        const a = op === 'cmps' ? rdE(s.esi) : (s.eax & accMask) >>> 0;
        const b = rdE(s.edi);
        if (op === 'cmps') s.esi += step;
        s.edi += step;
        const d = (a - b) & accMask;
        s.zf = a === b;
        s.cf = a < b;
        s.sf = (d >>> (8 * n - 1) & 1) === 1;
        return s.zf;
      }
    }
  };
  if (rep === 0) { one(); return s; }
  while (s.ecx !== 0) {
    const eq = one();
    s.ecx--;
    if ((op === 'cmps' || op === 'scas') && eq !== (rep === 0xf3)) break;
  }
  return s;
}

describe('string fast paths equal the element-by-element definition', () => {
  const AREA = 0x100000, AREA_PAGES = 64;

  // One machine per mode, reset between scenarios (a fresh 8 MiB machine each time is slow).
  const machines = new Map<boolean, Env>();
  /** Model window of physical memory: covers the area in both modes plus strays just below it. */
  const W0 = 0x0f0000, W1 = 0x250000;

  function machine(paged: boolean, code: number[]): Env {
    let e = machines.get(paged);
    if (e === undefined) {
      e = emu([]);
      machines.set(paged, e);
    }
    const c = e.cpu;
    c.cr0 &= ~CR0_PG;
    c.tlbFlushAll();
    e.mem.writeBytes(CODE, new Uint8Array([...code, HLT]));
    c.r32.fill(0);
    c.r32[4] = 0x8000;
    c.flags = 0x2;
    c.lfLazy = 0;
    c.eip = CODE;
    c.halted = false;
    return e;
  }

  function scenario(seed: number, paged: boolean): void {
    const r = rng(seed);
    const ops: OpName[] = ['movs', 'stos', 'cmps', 'scas', 'lods', 'movs', 'stos', 'movs'];
    const op = ops[r() % ops.length]!;
    const n = [1, 2, 4][r() % 3]!;
    const rep = [0xf3, 0xf3, 0xf2, 0][r() % 4]!;
    const df = r() % 4 === 0;
    const cnt = r() % 3 === 0 ? r() % 64 : r() % 6000;
    const bytes = new Uint8Array([rep, ...(n === 2 ? [0x66] : []), OPC[op] + (n === 1 ? 0 : 1)].filter((_b, k) => k > 0 || rep !== 0));
    const e = machine(paged, Array.from(bytes));
    // Linear area pages map to shuffled frames (or identity without paging).
    const frames = Array.from({ length: AREA_PAGES }, (_v, k) => 0x200 + k);
    for (let k = frames.length - 1; k > 0; k--) { const j = r() % (k + 1); [frames[k], frames[j]] = [frames[j]!, frames[k]!]; }
    const lpFrame = (lp: number): number => (lp >= 0x100 && lp < 0x100 + AREA_PAGES ? frames[lp - 0x100]! : lp);
    const phys = paged
      ? (la: number): number => ((lpFrame(la >>> 12) << 12) | (la & 0xfff)) - W0
      : (la: number): number => la - W0;
    if (paged) enablePaging(e, lpFrame);
    // Contents: a constant byte with sparse random bytes (so REPE/REPNE runs are long but end).
    const fill = r() & 0xff;
    const base = paged ? 0x200000 : AREA;
    e.mem.fill(base, AREA_PAGES * 4096, fill);
    for (let k = 0; k < 200; k++) e.mem.write8(base + (r() % (AREA_PAGES * 4096)), r() & 0xff);
    const span = Math.max(cnt, 1) * n + 8;
    const pick = (): number => {
      const lo = df ? AREA + span : AREA;
      return lo + (r() % (AREA_PAGES * 4096 - span - 8));
    };
    const esi = pick();
    const edi = r() % 3 === 0 ? esi + ((r() % 24) - 12) : pick(); // may stray just outside the area
    const eaxChoices = [fill * 0x01010101, r(), (fill * 0x01010101) ^ 0x100];
    const st: RefState = { esi, edi, ecx: cnt, eax: eaxChoices[r() % 3]! >>> 0, zf: false, cf: false, sf: false };
    const model = e.mem.u8.slice(W0, W1);
    const want = reference(op, n, rep, df, st, model, phys);
    e.cpu.r32[6] = st.esi;
    e.cpu.r32[7] = st.edi;
    e.cpu.r32[1] = st.ecx;
    e.cpu.r32[0] = st.eax;
    if (df) e.cpu.flags |= 0x400;
    const exit = e.go();
    const tag = `seed ${seed} ${op}${n} rep=${rep.toString(16)} df=${df} cnt=${cnt} esi=${esi.toString(16)} edi=${edi.toString(16)} paged=${paged}`;
    expect(exit, tag).toBe(Exit.HLT);
    expect([e.cpu.r32[6]! >>> 0, e.cpu.r32[7]! >>> 0, e.cpu.r32[1]! >>> 0, e.cpu.r32[0]! >>> 0], tag)
      .toEqual([want.esi >>> 0, want.edi >>> 0, want.ecx >>> 0, want.eax >>> 0]);
    if (op === 'cmps' || op === 'scas') {
      if (rep === 0 || cnt > 0) {
        const f = readEflags(e.cpu);
        expect([(f & 0x40) !== 0, (f & 1) !== 0, (f & 0x80) !== 0], tag).toEqual([want.zf, want.cf, want.sf]);
      }
    }
    const lo = base, hi = base + AREA_PAGES * 4096;
    const got = e.mem.u8.subarray(lo, hi), exp = model.subarray(lo - W0, hi - W0);
    let bad = -1;
    for (let k = 0; k < got.length; k++) if (got[k] !== exp[k]) { bad = k; break; }
    expect(bad, `${tag}: memory differs at +${bad.toString(16)}`).toBe(-1);
  }

  it('600 random repeats over identity memory', () => {
    for (let s = 1; s <= 600; s++) scenario(s, false);
  });
  it('600 random repeats over shuffled page mappings', () => {
    for (let s = 1001; s <= 1600; s++) scenario(s, true);
  });
});

describe('fast-path side conditions', () => {
  it('REP STOSB through an alias mapping of a cached code frame invalidates the code', () => {
    // Code at linear 0x1000 (frame 1); linear 0x5000 is an alias of frame 1.
    // mov edi, 0x5000+off ; mov ecx, 5 ; mov al, 0x90 ; rep stosb ; <mov ebx, 0x11111111> ; hlt
    const code = [0xbf, 0, 0, 0, 0, 0xb9, 5, 0, 0, 0, 0xb0, 0x90, 0xf3, 0xaa, 0xbb, 0x11, 0x11, 0x11, 0x11];
    const off = 14;
    code[1] = (0x5000 + off) & 0xff;
    code[2] = ((0x5000 + off) >>> 8) & 0xff;
    const e = emu(code);
    enablePaging(e, (lp) => (lp === 5 ? 1 : lp));
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[3]).toBe(0); // the MOV EBX was overwritten by NOPs before it ran
    expect(e.cpu.blocks.invalidations).toBeGreaterThan(0);
  });

  it('REP MOVSB and STOSD across the end of guest RAM: reads 0xff, writes dropped, no fault', () => {
    const e = emu([0xf3, 0xa4]);
    const top = e.mem.size;
    fillPattern(e.mem, top - 16, 16, 9);
    e.cpu.r32[6] = top - 16;
    e.cpu.r32[7] = 0x10000;
    e.cpu.r32[1] = 48;
    expect(e.go()).toBe(Exit.HLT);
    const out = e.mem.readBytes(0x10000, 48);
    expect(out.subarray(0, 16)).toEqual(e.mem.readBytes(top - 16, 16));
    expect(Array.from(out.subarray(16))).toEqual(new Array<number>(32).fill(0xff));
    const s = emu([0xf3, 0xab]);
    s.cpu.r32[0] = 0x01020304;
    s.cpu.r32[7] = s.mem.size - 8;
    s.cpu.r32[1] = 1000;
    expect(s.go()).toBe(Exit.HLT);
    expect(s.mem.read32(s.mem.size - 4)).toBe(0x01020304);
    expect(s.cpu.r32[1]).toBe(0);
  });

  it('a very long REP STOSD completes across chunk boundaries; each chunk retires as one instruction', () => {
    const e = emu([0xf3, 0xab]);
    const count = REP_CHUNK * 3 + 5;
    e.cpu.r32[0] = 0x5a5aa5a5 | 0;
    e.cpu.r32[7] = 0x100000;
    e.cpu.r32[1] = count;
    const before = e.cpu.icount;
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[1]).toBe(0);
    expect(e.cpu.r32[7]).toBe(0x100000 + count * 4);
    expect(e.mem.read32(0x100000 + (count - 1) * 4) >>> 0).toBe(0x5a5aa5a5);
    expect(e.mem.read32(0x100000 + count * 4)).toBe(0);
    expect(e.cpu.icount - before).toBe(4 + 1); // four chunks, then HLT
  });

  it('a chunk boundary leaves EIP at the instruction with registers consistent (budget of one)', () => {
    const e = emu([0xf3, 0xa5]);
    e.cpu.r32[6] = 0x100000;
    e.cpu.r32[7] = 0x300000;
    e.cpu.r32[1] = REP_CHUNK + 10;
    expect(e.go(1)).toBe(Exit.BUDGET);
    expect(e.cpu.eip).toBe(CODE);
    expect([e.cpu.r32[6], e.cpu.r32[7], e.cpu.r32[1]]).toEqual([0x100000 + REP_CHUNK * 4, 0x300000 + REP_CHUNK * 4, 10]);
    expect(e.go()).toBe(Exit.HLT);
    expect(e.cpu.r32[1]).toBe(0);
  });

  it('with TF set, each iteration single-steps with EIP at the instruction until the last one', () => {
    const e = emu([0xf3, 0xa4, 0x90]);
    e.cpu.r32[6] = 0x2000;
    e.cpu.r32[7] = 0x3000;
    e.cpu.r32[1] = 3;
    e.cpu.flags |= 0x100;
    const seen: number[][] = [];
    for (let k = 0; k < 3; k++) {
      e.go();
      expect(e.stop.vector).toBe(1);
      seen.push([e.cpu.eip, e.cpu.r32[1]!, e.cpu.r32[6]!]);
    }
    expect(seen).toEqual([[CODE, 2, 0x2001], [CODE, 1, 0x2002], [CODE + 2, 0, 0x2003]]);
  });
});
