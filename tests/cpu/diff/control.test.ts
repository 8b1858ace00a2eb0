/**
 * Near control transfers against the host CPU: Jcc rel8/rel32 for all 16
 * conditions over every combination of CF/PF/ZF/SF/OF and after real
 * compares and arithmetic (the lazy-flag paths), forward and backward; JMP
 * and CALL direct, register-indirect and memory-indirect (with segment
 * overrides and ESP-relative operands); RET and RET imm16; LOOP, LOOPE,
 * LOOPNE and JECXZ/JCXZ with ECX and CX (0x67) counters.
 *
 * 16-bit operand-size branches truncate EIP to 16 bits, which cannot run in
 * a Linux process; they, and the CS-limit checks, are tested in the
 * emulator only (second describe block).
 */
import { describe, expect, it } from 'vitest';
import { buildAndRunNative, diffSuite, EDGE32, rng, SCRATCH, type DiffCase } from './harness.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, Seg, type Delivery, type IntKind } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const FLAG_BITS = [0x1, 0x4, 0x40, 0x80, 0x800]; // CF PF ZF SF OF

/** `jcc` forward (taken: EAX = 2, else 1). */
function forward(jump: string): string {
  return `  ${jump} 1f
  movl $1, %eax
  jmp 2f
1:
  movl $2, %eax
2:`;
}

/** `jcc` backward over a block. */
function backward(jump: string): string {
  return `  jmp 3f
1:
  movl $2, %eax
  jmp 2f
3:
  ${jump} 1b
  movl $1, %eax
2:`;
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0xc0de);

  // Every condition over every flag combination, rel8 and rel32, both directions.
  for (let cc = 0; cc < 16; cc++) {
    for (let combo = 0; combo < 32; combo++) {
      let fl = 0;
      FLAG_BITS.forEach((b, k) => { if (combo & (1 << k)) fl |= b; });
      fl |= r() & 0x10; // AF is irrelevant to every condition
      const j = `j${CC[cc]}`;
      out.push({ name: `${j} rel8 fwd flags=${fl.toString(16)}`, code: forward(j), eflags: fl });
      out.push({ name: `${j} rel32 fwd flags=${fl.toString(16)}`, code: forward(`{disp32} ${j}`), eflags: fl });
      if (combo % 3 === 0) {
        out.push({ name: `${j} rel8 back flags=${fl.toString(16)}`, code: backward(j), eflags: fl });
        out.push({ name: `${j} rel32 back flags=${fl.toString(16)}`, code: backward(`{disp32} ${j}`), eflags: fl });
      }
    }
  }

  // Conditions after real flag producers (lazy evaluation paths).
  const producers = [
    (a: string, b: string) => `cmpl ${b}, ${a}`, (a: string, b: string) => `subl ${b}, ${a}`,
    (a: string, b: string) => `addl ${b}, ${a}`, (a: string, b: string) => `adcl ${b}, ${a}`,
    (a: string, b: string) => `sbbl ${b}, ${a}`, (a: string, b: string) => `testl ${b}, ${a}`,
    (a: string) => `incl ${a}`, (a: string) => `decl ${a}`, (a: string) => `negl ${a}`,
    (a: string, b: string) => `xorl ${b}, ${a}`,
  ];
  for (let cc = 0; cc < 16; cc++) {
    const j = `j${CC[cc]}`;
    for (const [size, ra, rb] of [['l', '%esi', '%edi'], ['w', '%si', '%di'], ['b', '%dh', '%bl']] as const) {
      for (let k = 0; k < 24; k++) {
        const a = k < 12 ? EDGE32[r() % EDGE32.length]! : r();
        const b = k % 3 === 0 ? a : k < 12 ? EDGE32[r() % EDGE32.length]! : r();
        const p = producers[k % producers.length]!(ra, rb).replace(/l /, `${size} `);
        out.push({
          name: `${p}; ${j} (${a.toString(16)}, ${b.toString(16)})`,
          code: `  ${p}\n${forward(j)}`,
          regs: { esi: a, edi: b, edx: a << 8, ebx: b },
          eflags: r() & 0x8d5,
        });
      }
    }
  }

  // JMP and CALL: direct, register, memory; RET and RET imm16.
  out.push({ name: 'jmp rel8 fwd', code: forward('jmp') });
  out.push({ name: 'jmp rel32 fwd', code: forward('{disp32} jmp') });
  out.push({ name: 'jmp rel8 back', code: backward('jmp') });
  out.push({ name: 'jmp rel32 back', code: backward('{disp32} jmp') });
  for (const reg of ['eax', 'ecx', 'edx', 'ebx', 'ebp', 'esi', 'edi']) {
    out.push({ name: `jmp *%${reg}`, code: `  movl $1f, %${reg}\n  jmp *%${reg}\n  movl $1, %eax\n1:` });
    out.push({ name: `call *%${reg}`, code: `  movl $1f, %${reg}\n  call *%${reg}\n  movl $1, %eax\n1:\n  popl %ecx` });
  }
  for (const m of ['scratch+8', '%cs:scratch+8', '%ss:scratch+8', '%es:8(%esi)', '(%esi,%ebx,4)', '8(%esi)']) {
    out.push({ name: `jmp *${m}`, code: `  movl $1f, scratch+8\n  jmp *${m}\n  movl $1, %eax\n1:`, regs: { esi: SCRATCH, ebx: 2 } });
    out.push({ name: `call *${m}`, code: `  movl $1f, scratch+8\n  call *${m}\n  movl $1, %eax\n1:`, regs: { esi: SCRATCH, ebx: 2 } });
  }
  // The target is read with the old ESP, then the return address is pushed.
  out.push({ name: 'call *(%esp)', code: '  pushl $1f\n  call *(%esp)\n  movl $1, %eax\n1:' });
  out.push({ name: 'call *4(%esp)', code: '  pushl $1f\n  pushl $0\n  call *4(%esp)\n  movl $1, %eax\n1:' });
  out.push({ name: 'jmp *(%esp)', code: '  pushl $1f\n  jmp *(%esp)\n  movl $1, %eax\n1:' });
  out.push({ name: 'call rel32 / ret', code: '  call 1f\n  movl $3, %ebx\n  jmp 2f\n1:\n  movl $5, %ecx\n  ret\n2:' });
  out.push({ name: 'call rel32 backward', code: '  jmp 2f\n1:\n  popl %edx\n  jmp 3f\n2:\n  call 1b\n3:' });
  for (const n of [0, 4, 8, 12, 0x7ffc, 0x8000, 0xfffc, 0xffff, 1]) {
    out.push({ name: `ret $${n}`, code: `  pushl $0x11\n  pushl $0x22\n  call 1f\n  jmp 2f\n1:\n  ret $${n}\n2:` });
  }
  // Nested calls.
  out.push({ name: 'nested calls', code: '  call 1f\n  jmp 3f\n1:\n  call 2f\n  incl %eax\n  ret\n2:\n  addl $10, %eax\n  ret\n3:' });

  // LOOP family and JECXZ/JCXZ: one decision each (forward target, so 0 does not spin).
  const COUNTS = [0, 1, 2, 0x10000, 0x10001, 0xffffffff, 0x80000000, 0xffff];
  for (const ecx of COUNTS) {
    for (const zf of [0, 0x40]) {
      for (const [name, j] of [['loop', 'loop'], ['loope', 'loope'], ['loopne', 'loopne'], ['jecxz', 'jecxz'], ['jcxz', 'jcxz']]) {
        out.push({ name: `${name} ecx=${ecx.toString(16)} zf=${zf ? 1 : 0}`, code: forward(j!), regs: { ecx }, eflags: zf | (r() & 0x895) });
        if (name!.startsWith('loop')) {
          out.push({ name: `addr16 ${name} ecx=${ecx.toString(16)} zf=${zf ? 1 : 0}`, code: forward(`addr16 ${j}`), regs: { ecx }, eflags: zf });
          out.push({ name: `${name} back ecx=${ecx.toString(16)} zf=${zf ? 1 : 0}`, code: backward(j!), regs: { ecx }, eflags: zf });
        }
      }
    }
  }
  // Real loops.
  for (const n of [1, 2, 5, 100, 257]) {
    out.push({ name: `loop sum ${n}`, code: '1:\n  addl %ecx, %eax\n  loop 1b', regs: { ecx: n } });
    out.push({ name: `addr16 loop sum ${n}`, code: '1:\n  addl %ecx, %eax\n  addr16 loop 1b', regs: { ecx: 0x50000 + n } });
    out.push({ name: `jecxz-guarded loop ${n}`, code: '  jecxz 2f\n1:\n  incl %ebx\n  decl %ecx\n  jnz 1b\n2:', regs: { ecx: n } });
  }
  for (let k = 0; k < 40; k++) {
    // LOOPNE scanning for a byte / LOOPE skipping equal bytes through the scratch area.
    const img = new Uint8Array(512);
    for (let b = 0; b < 512; b++) img[b] = r() % 4;
    out.push({
      name: `loopne scan ${k}`,
      code: '1:\n  movb (%esi), %al\n  incl %esi\n  cmpb $3, %al\n  loopne 1b',
      regs: { esi: SCRATCH, ecx: 1 + (r() % 100) }, mem: img,
    });
    out.push({
      name: `loope skip ${k}`,
      code: '1:\n  movb (%esi), %al\n  incl %esi\n  testb $2, %al\n  loope 1b',
      regs: { esi: SCRATCH, ecx: 1 + (r() % 100) }, mem: img,
    });
  }
  return out;
}

describe('near control transfers vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('control', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('control', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
  it('every case runs to its final hlt natively', () => {
    const b = buildAndRunNative('control', all);
    const bad = all.filter((_c, k) => !(b.native[k]!.vector === 13 && b.native[k]!.eip === b.addrs[k]!.end));
    expect(bad.map((c) => c.name).slice(0, 20)).toEqual([]);
  });
});

// --- emulator-only ------------------------------------------------------------------

class Stop implements Delivery {
  vector = -1;
  err = -1;
  deliver(cpu: Cpu, vector: number, _kind: IntKind, errorCode: number): void {
    this.vector = vector;
    this.err = errorCode;
    cpu.requestExit(Exit.STOPPED);
  }
}

/** Flat CPL-0 CPU; `code` maps address -> bytes. Ends when a HLT is reached or a fault is delivered. */
function emu(code: Record<number, number[]>): { cpu: Cpu; mem: PhysMemory; stop: Stop; go: () => Exit } {
  const mem = new PhysMemory(1 << 20);
  const stop = new Stop();
  const cpu = createCpu(mem, { delivery: stop });
  for (const [addr, bytes] of Object.entries(code)) mem.writeBytes(Number(addr), new Uint8Array(bytes));
  cpu.r32[4] = 0x8000;
  return { cpu, mem, stop, go: () => run(cpu, 1000) };
}

const HLT = 0xf4;

describe('near control transfers, emulator-only (16-bit operand size, CS limit)', () => {
  // SDM JMP/CALL/RET/Jcc/LOOP: with a 16-bit operand size, "EIP <- tempEIP AND 0000FFFFH".
  it('JMP rel8 with 0x66 wraps IP to 16 bits', () => {
    const { cpu, go } = emu({ 0xfffc: [0x66, 0xeb, 0x10], 0x000f: [HLT] });
    cpu.eip = 0xfffc;
    expect(go()).toBe(Exit.HLT);
    expect(cpu.eip).toBe(0x10);
  });

  it('JMP rel16 (66 E9) and Jcc rel16 (66 0F 8x) truncate the target', () => {
    const a = emu({ 0x1fff0: [0x66, 0xe9, 0x20, 0x00], 0x0014: [HLT] });
    a.cpu.eip = 0x1fff0;
    expect(a.go()).toBe(Exit.HLT);
    expect(a.cpu.eip).toBe(0x15); // (0x1fff4 + 0x20) & 0xffff = 0x14
    const b = emu({ 0x1fff0: [0x66, 0x0f, 0x84, 0x20, 0x00], 0x0015: [HLT] });
    b.cpu.eip = 0x1fff0;
    b.cpu.flags |= 0x40; // ZF: je taken
    expect(b.go()).toBe(Exit.HLT);
    expect(b.cpu.eip).toBe(0x16);
  });

  it('CALL rel16 pushes a 16-bit IP and RET (66 C3) pops 16 bits', () => {
    // 0x1000: 66 e8 0b 00  call +0xb -> 0x100f (IP); 0x1004: hlt; 0x100f: 66 c3 (retw)
    const { cpu, mem, go } = emu({ 0x1000: [0x66, 0xe8, 0x0b, 0x00, HLT], 0x100f: [0x66, 0xc3] });
    cpu.eip = 0x1000;
    expect(go()).toBe(Exit.HLT);
    expect(cpu.eip).toBe(0x1005);
    expect(mem.read16(0x7ffe)).toBe(0x1004);
    expect(cpu.r32[4]).toBe(0x8000);
  });

  it('RET imm16 with 0x66 pops IP then releases imm16 bytes', () => {
    const { cpu, mem, go } = emu({ 0x1000: [0x66, 0xc2, 0x06, 0x00], 0x2345: [HLT] });
    cpu.eip = 0x1000;
    mem.write32(0x8000, 0xabcd2345 | 0); // only the low word is the return IP
    expect(go()).toBe(Exit.HLT);
    expect(cpu.eip).toBe(0x2346);
    expect(cpu.r32[4]).toBe(0x8008);
  });

  it('JMP/CALL r/m16 use the low 16 bits of the operand', () => {
    const a = emu({ 0x1000: [0x66, 0xff, 0xe0], 0x2345: [HLT] }); // jmp ax
    a.cpu.eip = 0x1000;
    a.cpu.r32[0] = 0x77772345;
    expect(a.go()).toBe(Exit.HLT);
    expect(a.cpu.eip).toBe(0x2346);
    const b = emu({ 0x1000: [0x66, 0xff, 0x13], 0x2345: [HLT] }); // call word [ebx]
    b.cpu.eip = 0x1000;
    b.cpu.r32[3] = 0x5000;
    b.mem.write32(0x5000, 0x99992345 | 0);
    expect(b.go()).toBe(Exit.HLT);
    expect(b.cpu.eip).toBe(0x2346);
    expect(b.mem.read16(0x7ffe)).toBe(0x1003);
    expect(b.cpu.r32[4]).toBe(0x7ffe);
  });

  it('LOOP with 0x66 truncates its target; with 0x67 it counts CX only', () => {
    const a = emu({ 0xfffc: [0x66, 0xe2, 0x10], 0x000f: [HLT] });
    a.cpu.eip = 0xfffc;
    a.cpu.r32[1] = 5;
    expect(a.go()).toBe(Exit.HLT);
    expect(a.cpu.eip).toBe(0x10);
    expect(a.cpu.r32[1]).toBe(4);
    const b = emu({ 0x1000: [0x67, 0xe2, 0x10, HLT] });
    b.cpu.eip = 0x1000;
    b.cpu.r32[1] = 0x30001; // CX = 1 -> 0: not taken, upper half kept
    expect(b.go()).toBe(Exit.HLT);
    expect(b.cpu.eip).toBe(0x1004);
    expect(b.cpu.r32[1]).toBe(0x30000);
  });

  it('a branch beyond the CS limit raises #GP(0) before anything changes (SDM JMP/CALL/RET/LOOP #GP)', () => {
    const limit = 0x1fff;
    const setLimit = (cpu: Cpu): void => { cpu.loadSegCache(Seg.CS, 0x08, 0, limit, 0x9b | 0x4000); };
    // jmp rel32 to 0x3000
    const j = emu({ 0x1000: [0xe9, 0xfb, 0x1f, 0x00, 0x00] });
    setLimit(j.cpu); j.cpu.eip = 0x1000;
    j.go();
    expect([j.stop.vector, j.stop.err, j.cpu.eip]).toEqual([13, 0, 0x1000]);
    // call rel32: ESP unchanged, nothing pushed
    const c = emu({ 0x1000: [0xe8, 0xfb, 0x1f, 0x00, 0x00] });
    setLimit(c.cpu); c.cpu.eip = 0x1000;
    c.go();
    expect([c.stop.vector, c.cpu.r32[4], c.mem.read32(0x7ffc)]).toEqual([13, 0x8000, 0]);
    // ret to 0x3000: ESP unchanged
    const r = emu({ 0x1000: [0xc3] });
    setLimit(r.cpu); r.cpu.eip = 0x1000;
    r.mem.write32(0x8000, 0x3000);
    r.go();
    expect([r.stop.vector, r.cpu.r32[4]]).toEqual([13, 0x8000]);
    // loop to a target past the limit: ECX not decremented
    const l = emu({ 0x1ff0: [0xe2, 0x7f] });
    setLimit(l.cpu); l.cpu.eip = 0x1ff0;
    l.cpu.r32[1] = 5;
    l.go();
    expect([l.stop.vector, l.cpu.r32[1], l.cpu.eip]).toEqual([13, 5, 0x1ff0]);
    // jecxz taken past the limit
    const z = emu({ 0x1ff0: [0xe3, 0x7f] });
    setLimit(z.cpu); z.cpu.eip = 0x1ff0;
    z.go();
    expect([z.stop.vector, z.cpu.eip]).toEqual([13, 0x1ff0]);
  });

  it('a branch not taken never checks its target', () => {
    const l = emu({ 0x1ff0: [0xe2, 0x7f, HLT] });
    l.cpu.loadSegCache(Seg.CS, 0x08, 0, 0x1fff, 0x9b | 0x4000);
    l.cpu.eip = 0x1ff0;
    l.cpu.r32[1] = 1;
    expect(l.go()).toBe(Exit.HLT);
    expect(l.cpu.r32[1]).toBe(0);
    const z = emu({ 0x1ff0: [0xe3, 0x7f, HLT] });
    z.cpu.loadSegCache(Seg.CS, 0x08, 0, 0x1fff, 0x9b | 0x4000);
    z.cpu.eip = 0x1ff0;
    z.cpu.r32[1] = 1;
    expect(z.go()).toBe(Exit.HLT);
  });
});
