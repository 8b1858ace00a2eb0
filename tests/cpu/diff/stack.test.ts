/**
 * Stack family against the host CPU: PUSH/POP of registers (ESP/SP
 * included), immediates, register and memory r/m operands (ESP-based
 * addresses, segment overrides), PUSHA/POPA, PUSHF/POPF (privilege rules at
 * CPL 3: IF and IOPL unchanged; AC, ID, NT writable; reserved bits fixed;
 * a TF set by POPF traps after the following instruction), ENTER with
 * nesting levels 0, 1, > 1 and >= 32 (masked), LEAVE, all in both operand
 * sizes, plus random instruction sequences.
 *
 * The host stack is 32-bit and flat, so 16-bit stacks and 16-bit
 * addressing are covered by emulator-only tests (stack-emu section at the
 * end of this file).
 */
import { describe, expect, it } from 'vitest';
import { buildAndRunNative, diffSuite, rng, SCRATCH, SCRATCH_SIZE, type DiffCase, type RegName } from './harness.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu, enterFlatMode } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, Seg, type Delivery, type IntKind } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';

const REGS32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const REGS16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const VALUES = [0, 1, 0x7f, 0x80, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678];
/** Everything but TF (tested separately) and RF (set in fault frames on some hosts). */
const EFLAGS_MOST = 0xffffffff & ~0x10100;

function randomImage(r: () => number): Uint8Array {
  const m = new Uint8Array(SCRATCH_SIZE);
  for (let k = 0; k < m.length; k++) m[k] = r() & 0xff;
  return m;
}

function put32(m: Uint8Array, off: number, v: number): void {
  new DataView(m.buffer).setUint32(off, v >>> 0, true);
}

function randRegs(r: () => number): Partial<Record<RegName, number>> {
  return { eax: r(), ecx: r(), edx: r(), ebx: r(), ebp: r(), esi: r(), edi: r() };
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0x57ac);

  // PUSH/POP registers, both sizes, all registers (ESP/SP included).
  for (let k = 0; k < 8; k++) {
    for (const v of VALUES) {
      const regs = { ...randRegs(r), [REGS32[k]!]: v };
      if (k !== 4) {
        out.push({ name: `push %${REGS32[k]} ${v}`, code: `  pushl %${REGS32[k]}`, regs });
        out.push({ name: `pushw %${REGS16[k]} ${v}`, code: `  pushw %${REGS16[k]}`, regs });
      }
      const img = randomImage(r);
      put32(img, 448, v);
      out.push({ name: `pop %${REGS32[k]} ${v}`, code: `  popl %${REGS32[k]}`, regs: randRegs(r), mem: img });
      out.push({ name: `popw %${REGS16[k]} ${v}`, code: `  popw %${REGS16[k]}`, regs: randRegs(r), mem: img });
      // 8F /0 with a register operand.
      out.push({ name: `8f/0 pop %${REGS32[k]} ${v}`, code: `  .byte 0x8f, ${0xc0 + k}`, regs: randRegs(r), mem: img });
      out.push({ name: `66 8f/0 pop %${REGS16[k]} ${v}`, code: `  .byte 0x66, 0x8f, ${0xc0 + k}`, regs: randRegs(r), mem: img });
      // FF /6 with a register operand.
      out.push({ name: `ff/6 push %${REGS32[k]} ${v}`, code: `  .byte 0xff, ${0xf0 + k}`, regs: { ...randRegs(r), [REGS32[k]!]: k === 4 ? undefined : v } });
      out.push({ name: `66 ff/6 push %${REGS16[k]} ${v}`, code: `  .byte 0x66, 0xff, ${0xf0 + k}`, regs: randRegs(r) });
    }
    out.push({ name: `push %esp/%sp`, code: `  pushl %esp\n  pushw %sp\n  .byte 0xff, 0xf4\n  .byte 0x66, 0xff, 0xf4` });
  }
  // SP arithmetic that crosses 64 KiB boundaries in the 32-bit ESP.
  out.push({ name: 'pushw/popw near an ESP boundary', code: '  pushw %ax\n  pushl %ebx\n  popw %cx\n  popl %edx', regs: { eax: 0x1234, ebx: 0x89abcdef } });

  // PUSH imm.
  for (const v of [0, 1, -1, 127, -128, 128, -129, 0x7fff, -0x8000, 0x12345678, -0x7fffffff - 1]) {
    out.push({ name: `pushl $${v}`, code: `  pushl $${v}` });
    if (v >= -0x8000 && v <= 0xffff) out.push({ name: `pushw $${v}`, code: `  pushw $${v}` });
  }
  for (const v of [0, 1, -1, 127, -128, 0x55, -0x56]) {
    out.push({ name: `6a ${v}`, code: `  .byte 0x6a, ${v & 0xff}` });
    out.push({ name: `66 6a ${v}`, code: `  .byte 0x66, 0x6a, ${v & 0xff}` });
    out.push({ name: `68 ${v}`, code: `  .byte 0x68\n  .long ${v}` });
  }

  // PUSH/POP memory, with ESP-relative addresses and overrides.
  const mems = [
    'scratch+8', '(%esp)', '4(%esp)', '-4(%esp)', '8(%esp,%ecx,4)', '(%esi)', '%cs:(%esi)', '%ss:4(%esi)', '%es:scratch+2',
    '%ds:-8(%esp)', '(%esp,%ecx,1)', '12(%ebp)', '%ss:scratch+301',
  ];
  for (const m of mems) {
    for (let k = 0; k < 6; k++) {
      const img = randomImage(r);
      const regs = { ecx: k, esi: SCRATCH + 64 + k * 3, ebp: SCRATCH + 100 + k };
      out.push({ name: `pushl ${m} ${k}`, code: `  pushl ${m}`, regs, mem: img });
      out.push({ name: `pushw ${m} ${k}`, code: `  pushw ${m}`, regs, mem: img });
      out.push({ name: `popl ${m} ${k}`, code: `  popl ${m}`, regs, mem: img });
      out.push({ name: `popw ${m} ${k}`, code: `  popw ${m}`, regs, mem: img });
    }
  }

  // PUSHA/POPA.
  for (let k = 0; k < 40; k++) {
    const img = randomImage(r);
    const regs = randRegs(r);
    out.push({ name: `pushal ${k}`, code: '  pushal', regs, mem: img });
    out.push({ name: `pushaw ${k}`, code: '  pushaw', regs, mem: img });
    out.push({ name: `popal ${k}`, code: '  popal', regs, mem: img });
    out.push({ name: `popaw ${k}`, code: '  popaw', regs, mem: img });
    out.push({ name: `pushal;popaw ${k}`, code: '  pushal\n  popaw\n  popaw', regs, mem: img });
  }

  // PUSHF/POPF.
  for (let k = 0; k < 64; k++) {
    const fl = r() & 0xcd5;
    out.push({ name: `pushfl ${k}`, code: '  pushfl', eflags: fl, regs: randRegs(r) });
    out.push({ name: `pushfw ${k}`, code: '  pushfw', eflags: fl });
    const img = randomImage(r);
    // Random images with TF cleared: everything else (IF, IOPL, NT, AC, ID, VM, VIF, VIP, RF, reserved bits).
    put32(img, 448, r() & ~0x100);
    put32(img, 452, r() & ~0x100);
    out.push({ name: `popfl ${k}`, code: '  popfl', eflags: fl, mem: img, flagsMask: EFLAGS_MOST });
    out.push({ name: `popfw ${k}`, code: '  popfw', eflags: fl, mem: img, flagsMask: EFLAGS_MOST });
    out.push({ name: `popfl;pushfl ${k}`, code: '  popfl\n  pushfl', eflags: fl, mem: img, flagsMask: EFLAGS_MOST });
    out.push({ name: `popfw;pushfl ${k}`, code: '  popfw\n  pushfl', eflags: fl, mem: img, flagsMask: EFLAGS_MOST });
  }
  for (const v of [0, 0xffffffff & ~0x100, 0x00240000, 0x4000, 0x3000, 0x200, 0, 0x8d5, 0x28]) {
    const img = new Uint8Array(SCRATCH_SIZE);
    put32(img, 448, v);
    out.push({ name: `popfl ${v.toString(16)}`, code: '  popfl\n  pushfl', eflags: 0x8d5, mem: img, flagsMask: EFLAGS_MOST });
    out.push({ name: `popfw ${v.toString(16)}`, code: '  popfw\n  pushfl', eflags: 0x8d5, mem: img, flagsMask: EFLAGS_MOST });
  }
  // AC/ID set then cleared again by a 32-bit POPF, and left alone by a 16-bit one.
  out.push({ name: 'popfl sets AC|ID, popfw keeps them', code: '  pushl $0x240000\n  popfl\n  pushw $0\n  popfw\n  pushfl\n  pushl $0\n  popfl', flagsMask: EFLAGS_MOST });
  // A TF set by POPF traps after the next instruction.
  out.push({ name: 'popf TF traps after the next instruction', code: '  pushl $0x302\n  popfl\n  movl $5, %eax\n  movl $6, %ebx' });
  out.push({ name: 'popfw TF traps after the next instruction', code: '  pushw $0x302\n  popfw\n  incl %eax\n  incl %eax' });

  // ENTER / LEAVE.
  for (const level of [0, 1, 2, 3, 5, 8, 31, 32, 33, 34, 255]) {
    for (const alloc of [0, 4, 0x10, 0x123]) {
      for (const o16 of [false, true]) {
        const img = randomImage(r);
        // On a 32-bit stack the frame-pointer walk uses all of EBP, so EBP addresses the scratch area.
        const regs = { ...randRegs(r), ebp: SCRATCH + 0x100 + (r() % 32) * (o16 ? 2 : 4) };
        out.push({ name: `enter${o16 ? 'w' : 'l'} $${alloc}, $${level}`, code: `  enter${o16 ? 'w' : 'l'} $${alloc}, $${level}`, regs, mem: img });
        out.push({
          name: `enter${o16 ? 'w' : 'l'} $${alloc}, $${level}; leave`,
          code: `  enter${o16 ? 'w' : 'l'} $${alloc}, $${level}\n  leave${o16 ? 'w' : 'l'}`,
          regs, mem: img,
        });
      }
    }
  }
  for (let k = 0; k < 30; k++) {
    const img = randomImage(r);
    const regs = { ...randRegs(r), ebp: SCRATCH + 200 + (r() % 100) };
    out.push({ name: `leavel ${k}`, code: '  leavel', regs, mem: img });
    out.push({ name: `leavew ${k}`, code: '  leavew', regs, mem: img });
  }
  // 16-bit ENTER with BP's upper EBP half set: only BP is written.
  out.push({ name: 'enterw keeps the upper half of EBP', code: '  enterw $8, $0', regs: { ebp: 0x12340000 } });

  // Random sequences.
  const ops = [
    () => `pushl %${REGS32[r() % 8]}`, () => `popl %${REGS32[[0, 1, 2, 3, 5, 6, 7][r() % 7]!]}`,
    () => `pushw %${REGS16[r() % 8]}`, () => `popw %${REGS16[[0, 1, 2, 3, 5, 6, 7][r() % 7]!]}`,
    () => `pushl $${(r() | 0)}`, () => `pushw $${r() & 0xffff}`, () => `pushl $${(r() & 0xff) - 128}`,
    () => `pushl ${4 * (r() % 4)}(%esp)`, () => `popl ${4 * (r() % 4)}(%esp)`, () => `popw ${2 * (r() % 4)}(%esp)`,
    () => 'pushal', () => 'popal', () => 'pushaw', () => 'popaw', () => 'pushfl', () => 'pushfw',
    // Levels 0 and 1 only: POPA/POP EBP may leave EBP anywhere, and deeper levels read through it.
    () => `enterl $${r() % 32}, $${r() % 2}`, () => `enterw $${r() % 32}, $${r() % 2}`,
  ];
  for (let k = 0; k < 600; k++) {
    const len = 2 + (r() % 4);
    const seq: string[] = [];
    for (let j = 0; j < len; j++) seq.push(`  ${ops[r() % ops.length]!()}`);
    out.push({
      name: `rnd ${k}: ${seq.map((x) => x.trim()).join('; ')}`,
      code: seq.join('\n'),
      regs: { ...randRegs(r), ebp: SCRATCH + 150 + (r() % 40) * 2 },
      eflags: r() & 0xcd5,
      mem: randomImage(r),
    });
  }
  return out;
}

/** Cases that legitimately end in a fault natively rather than at the final hlt (vector). */
const EXPECTED_FAULTS: [RegExp, number][] = [[/TF traps/, 1], [/^pop[lw] %cs:/, 13]];

describe('stack family vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('stack', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('stack', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  it('every case runs to its final hlt natively (or traps where it should)', () => {
    const b = buildAndRunNative('stack', all);
    const bad = all.filter((c, k) => {
      const n = b.native[k]!;
      const done = n.vector === 13 && n.eip === b.addrs[k]!.end;
      const expected = EXPECTED_FAULTS.find(([re]) => re.test(c.name));
      return expected !== undefined ? n.vector !== expected[1] : !done;
    });
    expect(bad.map((c) => c.name).slice(0, 20)).toEqual([]);
  });
});

// --- emulator-only: 16-bit stacks, faults, privilege rules the host cannot show ---

class Stop implements Delivery {
  vector = -1;
  err = -1;
  deliver(cpu: Cpu, vector: number, _kind: IntKind, errorCode: number): void {
    this.vector = vector;
    this.err = errorCode;
    cpu.requestExit(Exit.STOPPED);
  }
}

const CODE = 0x1000;

/** A flat CPL-0 CPU with `bytes` at CODE followed by HLT. */
function emu(bytes: number[], cpl = 0): { cpu: Cpu; mem: PhysMemory; stop: Stop; go: () => Exit } {
  const mem = new PhysMemory(1 << 20);
  const stop = new Stop();
  const cpu = createCpu(mem, { delivery: stop });
  if (cpl !== 0) enterFlatMode(cpu, cpl, { cs: 0x1b, ds: 0x23 });
  mem.writeBytes(CODE, new Uint8Array([...bytes, 0xf4]));
  cpu.eip = CODE;
  return { cpu, mem, stop, go: () => run(cpu, 1000) };
}

/** Make SS a 16-bit expand-up data segment (B = 0) with the given base and limit. */
function stack16(cpu: Cpu, base: number, limit: number): void {
  cpu.loadSegCache(Seg.SS, 0x30, base, limit, 0x93 | (cpu.cpl << 5));
}

describe('stack family, emulator-only rules', () => {
  it('PUSH/POP on a 16-bit stack use SP and keep the upper half of ESP (SDM PUSH/POP: StackAddrSize = 16)', () => {
    // push eax; push bx; pop ecx; pop dx
    const { cpu, mem, go } = emu([0x50, 0x66, 0x53, 0x59, 0x66, 0x5a]);
    stack16(cpu, 0x20000, 0xffff);
    cpu.r32[4] = 0xabcd0010 | 0;
    cpu.r32[0] = 0x11223344;
    cpu.r32[3] = 0x5566;
    expect(go()).toBe(Exit.HLT);
    expect(mem.read32(0x2000c) >>> 0).toBe(0x11223344); // eax at SS:0x0c
    expect(mem.read16(0x2000a)).toBe(0x5566); // bx at SS:0x0a
    expect(cpu.r32[1]! >>> 0).toBe(0x33445566);
    expect(cpu.r16[4]).toBe(0x1122);
    expect(cpu.r32[4]! >>> 0).toBe(0xabcd0010);
  });

  it('SP wraps from 0 to 0xfffe on a 16-bit stack', () => {
    const { cpu, mem, go } = emu([0x66, 0x53, 0x66, 0x5a]); // push bx; pop dx
    stack16(cpu, 0x20000, 0xffff);
    cpu.r32[4] = 0xabcd0000 | 0;
    cpu.r32[3] = 0xbeef;
    expect(go()).toBe(Exit.HLT);
    expect(mem.read16(0x2fffe)).toBe(0xbeef);
    expect(cpu.r16[4]).toBe(0xbeef);
    expect(cpu.r32[4]! >>> 0).toBe(0xabcd0000);
  });

  it('a push beyond the SS limit raises #SS(0) and leaves ESP alone (SDM PUSH exceptions)', () => {
    const { cpu, stop, go } = emu([0x50]);
    stack16(cpu, 0x20000, 0x7fff);
    cpu.r32[4] = 2; // SP - 4 wraps to 0xfffe, beyond the limit
    go();
    expect(stop.vector).toBe(12);
    expect(stop.err).toBe(0);
    expect(cpu.r32[4]).toBe(2);
    expect(cpu.eip).toBe(CODE);
  });

  it('PUSHA checks all eight slots first: a fault on the last one changes nothing (SDM PUSHA #SS)', () => {
    const { cpu, mem, stop, go } = emu([0x60]);
    stack16(cpu, 0x20000, 0x7fff);
    cpu.r32[4] = 0x10; // slots 0xc .. 0x0 fit, 0xfffc does not
    cpu.r32[0] = 0x11111111;
    go();
    expect(stop.vector).toBe(12);
    expect(cpu.r32[4]).toBe(0x10);
    expect(mem.read32(0x2000c)).toBe(0); // EAX's slot was not written
  });

  it('POPA reads every slot before writing: a fault leaves all registers (SDM POPA #SS)', () => {
    const { cpu, stop, go } = emu([0x61]);
    stack16(cpu, 0x20000, 0x7fff);
    cpu.r32[4] = 0x7ff0; // the top slots lie beyond the limit
    cpu.r32[7] = 0x77;
    go();
    expect(stop.vector).toBe(12);
    expect(cpu.r32[7]).toBe(0x77);
    expect(cpu.r32[4]).toBe(0x7ff0);
  });

  it('POP r/m with a faulting destination leaves ESP unchanged (faults are precise)', () => {
    // pop dword [0x5000] with DS limited to 0xfff
    const { cpu, stop, go } = emu([0x8f, 0x05, 0x00, 0x50, 0x00, 0x00]);
    cpu.loadSegCache(Seg.DS, 0x10, 0, 0xfff, 0x93 | 0x4000);
    cpu.r32[4] = 0x8000;
    go();
    expect(stop.vector).toBe(13);
    expect(stop.err).toBe(0);
    expect(cpu.r32[4]).toBe(0x8000);
  });

  it('POP r/m computes an ESP-based address after the increment, on a 16-bit stack too', () => {
    // pop dword ds:[esp] (3e 8f 04 24) on a 16-bit stack at SP = 0xfffc: SP wraps to 0 and the ESP-based
    // address uses the new ESP, 0x10000 (through DS: the default SS would be beyond its 64 KiB limit).
    const { cpu, mem, stop, go } = emu([0x3e, 0x8f, 0x04, 0x24]);
    stack16(cpu, 0, 0xffff);
    cpu.r32[4] = 0x1fffc;
    mem.write32(0xfffc, 0x12345678);
    go();
    expect(stop.vector).toBe(-1);
    expect(cpu.r32[4]).toBe(0x10000);
    expect(mem.read32(0x10000)).toBe(0x12345678);
  });

  it('POP r/m through SS:[ESP] beyond a 16-bit stack limit raises #SS(0) with ESP unchanged', () => {
    const { cpu, mem, stop, go } = emu([0x8f, 0x04, 0x24]);
    stack16(cpu, 0, 0xffff);
    cpu.r32[4] = 0x1fffc;
    mem.write32(0xfffc, 0x12345678);
    go();
    expect(stop.vector).toBe(12);
    expect(cpu.r32[4]).toBe(0x1fffc);
  });

  it('POPF at CPL 0 loads IOPL and IF; at CPL 1 with IOPL 0 neither (SDM POPF operation)', () => {
    const a = emu([0x9d]);
    a.cpu.r32[4] = 0x8000;
    a.mem.write32(0x8000, 0x3000 | 0x200 | 0x4000);
    a.cpu.flags = 0x2;
    a.go();
    expect(readEflags(a.cpu)).toBe(0x7202);
    const b = emu([0x9d], 1);
    b.cpu.r32[4] = 0x8000;
    b.mem.write32(0x8000, 0x3000 | 0x0 | 0x4000);
    b.cpu.flags = 0x202;
    b.go();
    expect(readEflags(b.cpu)).toBe(0x4202); // IF stays set (CPL 1 > IOPL 0), IOPL stays 0
  });

  it('POPF at CPL 3 with IOPL 3 loads IF but not IOPL', () => {
    const c = emu([0x9d], 3);
    c.cpu.r32[4] = 0x8000;
    c.mem.write32(0x8000, 0x0);
    c.cpu.flags = 0x3202;
    c.go();
    expect(readEflags(c.cpu)).toBe(0x3002);
  });

  it('32-bit POPF clears RF and keeps VIF/VIP; 16-bit POPF keeps RF (SDM POPF)', () => {
    const a = emu([0x9d]);
    a.cpu.r32[4] = 0x8000;
    a.mem.write32(0x8000, 0xffffffff);
    a.cpu.flags = 0x2 | 0x10000 | 0x80000;
    a.go();
    // loaded: CF PF AF ZF SF TF IF DF OF IOPL NT AC ID; fixed: bit 1; kept: VIF; cleared: RF, VIP (was 0).
    expect(readEflags(a.cpu) >>> 0).toBe((0x7fd7 | 0x40000 | 0x200000 | 0x80000) >>> 0);
    const b = emu([0x66, 0x9d]);
    b.cpu.r32[4] = 0x8000;
    b.mem.write32(0x8000, 0x0000);
    b.cpu.flags = 0x2 | 0x10000 | 0x40000;
    b.go();
    expect(readEflags(b.cpu) >>> 0).toBe(0x2 | 0x10000 | 0x40000);
  });

  it('POPF/PUSHF in virtual-8086 mode with IOPL < 3 raise #GP(0) (SDM POPF/PUSHF, CR4.VME = 0)', () => {
    for (const op of [0x9d, 0x9c]) {
      const a = emu([op]);
      a.cpu.r32[4] = 0x8000;
      a.cpu.flags = 0x20002;
      a.go();
      expect(a.stop.vector).toBe(13);
      expect(a.cpu.r32[4]).toBe(0x8000);
    }
  });

  it('PUSHF stores VM and RF as 0 (SDM PUSHF)', () => {
    const a = emu([0x9c]);
    a.cpu.r32[4] = 0x8000;
    a.cpu.flags = 0x2 | 0x3000 | 0x10000 | 0x20000 | 0x1;
    a.go();
    expect(a.mem.read32(0x7ffc)).toBe(0x3003);
  });

  it('ENTER on a 16-bit stack with nesting level 2 (SDM ENTER, StackSize = 16)', () => {
    // enterw $0x10, $2
    const { cpu, mem, go } = emu([0x66, 0xc8, 0x10, 0x00, 0x02]);
    stack16(cpu, 0x20000, 0xffff);
    cpu.r32[4] = 0x99990100 | 0;
    cpu.r32[5] = 0x77770200;
    mem.write16(0x201fe, 0xbeef);
    expect(go()).toBe(Exit.HLT);
    expect(mem.read16(0x200fe)).toBe(0x0200);
    expect(mem.read16(0x200fc)).toBe(0xbeef);
    expect(mem.read16(0x200fa)).toBe(0x00fe);
    expect(cpu.r32[5]! >>> 0).toBe(0x777700fe);
    expect(cpu.r32[4]! >>> 0).toBe(0x999900ea);
  });

  it('ENTER that would overflow the stack segment faults before any write', () => {
    // enter $0, $3 needs 4 pushes (16 bytes); only 12 fit above the limit of an expand-down stack
    const { cpu, mem, stop, go } = emu([0xc8, 0x00, 0x00, 0x03]);
    // Expand-down, 32-bit (B = 1): valid offsets are (0x8000, 0xffffffff].
    cpu.loadSegCache(Seg.SS, 0x30, 0, 0x8000, 0x97 | 0x4000);
    cpu.r32[4] = 0x800c;
    cpu.r32[5] = 0x9000;
    mem.write32(0x8ffc, 0x1234);
    mem.write32(0x8ff8, 0x5678);
    go();
    expect(stop.vector).toBe(12);
    expect(cpu.r32[4]).toBe(0x800c);
    expect(cpu.r32[5]).toBe(0x9000);
    expect(mem.read32(0x8008)).toBe(0);
  });

  it('ENTER checks the final ESP against the SS limit (SDM ENTER #SS)', () => {
    // enter $0x100, $0 on an expand-down stack: the push fits, ESP - 0x100 does not
    const { cpu, stop, go } = emu([0xc8, 0x00, 0x01, 0x00]);
    cpu.loadSegCache(Seg.SS, 0x30, 0, 0x8000, 0x97 | 0x4000);
    cpu.r32[4] = 0x8080;
    go();
    expect(stop.vector).toBe(12);
    expect(cpu.r32[4]).toBe(0x8080);
  });

  it('ENTER probes the final ESP for writing: #PF(W) there, nothing changed (host behaviour)', () => {
    // enter $0x1000, $0 at ESP 0x8000: the push fits, ESP - 0x1004 = 0x6ffc is on a not-present page.
    const { cpu, mem, stop, go } = emu([0xc8, 0x00, 0x10, 0x00]);
    const pd = 0x70000, pt = 0x71000;
    mem.write32(pd, pt | 7);
    for (let lp = 0; lp < 256; lp++) mem.write32(pt + lp * 4, lp === 6 ? 0 : (lp << 12) | 7);
    cpu.cr3 = pd;
    cpu.cr0 |= 0x80000000 | 0;
    cpu.tlbFlushAll();
    cpu.r32[4] = 0x8000;
    cpu.r32[5] = 0x1234;
    go();
    expect([stop.vector, stop.err, cpu.cr2]).toEqual([14, 2, 0x6ffc]);
    expect([cpu.r32[4], cpu.r32[5], mem.read32(0x7ffc)]).toEqual([0x8000, 0x1234, 0]);
  });

  it('LEAVE on a 16-bit stack copies BP to SP and keeps ESP\'s upper half', () => {
    const { cpu, mem, go } = emu([0xc9]); // leave (32-bit operand): EBP <- dword at SS:BP
    stack16(cpu, 0x20000, 0xffff);
    cpu.r32[4] = 0x55550010;
    cpu.r32[5] = 0x66660100;
    mem.write32(0x20100, 0xcafebabe | 0);
    expect(go()).toBe(Exit.HLT);
    expect(cpu.r32[4]! >>> 0).toBe(0x55550104);
    expect(cpu.r32[5]! >>> 0).toBe(0xcafebabe);
  });

  it('LEAVE whose pop faults leaves ESP unchanged', () => {
    const { cpu, stop, go } = emu([0xc9]);
    stack16(cpu, 0x20000, 0x0fff);
    cpu.r32[4] = 0x10;
    cpu.r32[5] = 0x2000; // beyond the limit
    go();
    expect(stop.vector).toBe(12);
    expect(cpu.r32[4]).toBe(0x10);
  });

  it('PUSH r/m with a 16-bit address and a segment override', () => {
    // push dword fs:[bx+si]  (64 67 ff 30)
    const { cpu, mem, go } = emu([0x64, 0x67, 0xff, 0x30]);
    cpu.loadSegCache(Seg.FS, 0x40, 0x30000, 0xffff, 0x93 | 0x4000);
    cpu.r32[3] = 0xffff0100 | 0;
    cpu.r32[6] = 0xffff0023 | 0;
    cpu.r32[4] = 0x8000;
    mem.write32(0x30123, 0x0badf00d);
    expect(go()).toBe(Exit.HLT);
    expect(mem.read32(0x7ffc)).toBe(0x0badf00d);
  });
});
