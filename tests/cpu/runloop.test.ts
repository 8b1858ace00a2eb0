/**
 * The run loop (src/vmm/cpu/exec.ts): exact instruction budgets and
 * deterministic icount, single-step traps (Intel SDM vol. 3A §17.3.1.4),
 * HLT, interrupt shadows, and exception escalation to #DF / triple fault
 * (SDM vol. 3A §6.15, tables 6-4 and 6-5).
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu } from '../../src/vmm/cpu/index.js';
import { Cpu, Exit, IntKind, type Delivery } from '../../src/vmm/cpu/cpu.js';
import { raiseException, run } from '../../src/vmm/cpu/exec.js';
import { CpuFault } from '../../src/vmm/cpu/fault.js';
import { readEflags, TF } from '../../src/vmm/cpu/flags.js';
import { rng } from './diff/harness.js';
import { P, Pt32, RW, asm, load, machine } from './system/fixture.js';

const CODE = 0x100000;

/** 20 one-byte `incl %eax`, then a jump back: 21 instructions per lap. */
const LAP = `1:\n${'  incl %eax\n'.repeat(20)}  jmp 1b`;

describe('instruction budget', () => {
  it('retires exactly n instructions, also in the middle of a block', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    const expectEax = (n: number): number => n - Math.floor(n / 21);
    let total = 0;
    for (const n of [7, 1, 30, 13, 21, 64, 2, 100]) {
      expect(run(m.cpu, n)).toBe(Exit.BUDGET);
      total += n;
      expect(m.cpu.icount).toBe(total);
      expect(m.cpu.r32[0]).toBe(expectEax(total));
      const pos = total % 21;
      expect(m.cpu.eip).toBe(CODE + pos);
    }
  });

  it('a budget of 0 runs nothing', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    expect(run(m.cpu, 0)).toBe(Exit.BUDGET);
    expect(m.cpu.icount).toBe(0);
    expect(m.cpu.eip).toBe(CODE);
  });

  it('faulting instructions and delivered events do not count against the budget', () => {
    const m = machine();
    // ud2 in the middle of the lap; the "handler" skips it.
    load(m.cpu, asm(`1:\n${'  incl %eax\n'.repeat(5)}  ud2\n${'  incl %eax\n'.repeat(5)}  jmp 1b`, CODE), CODE);
    m.rec.onEvent = (cpu, e) => { if (e.vector !== 6) return false; cpu.eip += 2; return true; };
    expect(run(m.cpu, 10)).toBe(Exit.BUDGET);
    expect(m.cpu.icount).toBe(10);
    expect(m.cpu.r32[0]).toBe(10);
    expect(m.rec.events.map((e) => [e.vector, e.eip])).toEqual([[6, CODE + 5]]);
  });
});

/** Everything architectural the programs below can change. */
function snapshot(m: ReturnType<typeof machine>) {
  return {
    regs: Array.from(m.cpu.r32),
    eip: m.cpu.eip,
    eflags: readEflags(m.cpu),
    icount: m.cpu.icount,
    cr2: m.cpu.cr2,
    halted: m.cpu.halted,
    events: m.rec.events.length,
    data: Buffer.from(m.mem.readBytes(0x9000, 0x100)).toString('hex'),
    code: Buffer.from(m.mem.readBytes(CODE, 0x100)).toString('hex'),
  };
}

/** A program with loops, calls, memory, flags, a #UD every 8 laps and self-modifying code, under paging. */
function busyMachine() {
  const m = machine();
  const pt = new Pt32(m.mem);
  for (let a = 0; a < 0x200000; a += 0x1000) pt.map(a, a, P | RW);
  pt.enable(m.cpu);
  load(m.cpu, asm(`
  movl $0x8000, %esp
  xorl %edi, %edi
  movl $300, %ecx
1:
  movl %ecx, %eax
  andl $7, %eax
  addl %eax, %edi
  call 4f
  movl %edi, 0x9000(,%eax,4)
  cmpl $5, %eax
  jne 2f
  ud2
2:
  movb %cl, 3f+1
3:
  movl $0, %edx
  addl %edx, %esi
  adcl $0, %ebp
  decl %ecx
  jnz 1b
  hlt
4:
  leal 1(%edi,%ecx,2), %ebx
  xorl %ebx, %edi
  ret`, CODE), CODE);
  m.rec.onEvent = (cpu, e) => { if (e.vector !== 6) return false; cpu.eip += 2; return true; };
  return m;
}

describe('determinism', () => {
  it('identical CPUs end in identical states whatever the budget slicing', () => {
    const ref = busyMachine();
    expect(run(ref.cpu, 1_000_000)).toBe(Exit.HLT);
    const total = ref.cpu.icount;
    expect(total).toBeGreaterThan(4000);
    const r = rng(0x5eed);
    for (const target of [1, 17, 999, 2500, total - 1, total]) {
      const one = busyMachine();
      expect(run(one.cpu, target)).toBe(target === total ? Exit.HLT : Exit.BUDGET);
      const sliced = busyMachine();
      let left = target;
      while (left > 0) {
        const n = Math.min(left, 1 + (r() % 40));
        run(sliced.cpu, n);
        left -= n;
      }
      expect(snapshot(sliced)).toEqual(snapshot(one));
      expect(one.cpu.icount).toBe(target);
    }
    const stepped = busyMachine();
    for (let k = 0; k < total; k++) run(stepped.cpu, 1);
    expect(snapshot(stepped)).toEqual(snapshot(ref));
  });
});

describe('single-step (EFLAGS.TF, SDM 3A §17.3.1.4)', () => {
  it('raises #DB after each instruction with DR6.BS set and EIP at the next instruction', () => {
    const m = machine();
    load(m.cpu, asm('  movl $1, %eax\n  movl $2, %ebx\n  addl %eax, %ebx\n  hlt', CODE), CODE);
    m.cpu.flags |= TF;
    m.rec.onEvent = (_c, e) => e.vector === 1;
    expect(run(m.cpu, 3)).toBe(Exit.BUDGET);
    expect(m.rec.events.map((e) => [e.vector, e.kind, e.eip])).toEqual([
      [1, IntKind.EXCEPTION, CODE + 5], [1, IntKind.EXCEPTION, CODE + 10], [1, IntKind.EXCEPTION, CODE + 12],
    ]);
    expect(m.cpu.dr[6]! & 0x4000).toBe(0x4000);
    expect(m.cpu.icount).toBe(3);
    expect(m.cpu.r32[3]).toBe(3);
  });

  it('a faulting instruction gets its fault, not a #DB; the next one is trapped again', () => {
    const m = machine();
    load(m.cpu, asm('  movl $1, %eax\n  ud2\n  movl $2, %ebx\n  hlt', CODE), CODE);
    m.cpu.flags |= TF;
    m.rec.onEvent = (cpu, e) => {
      if (e.vector === 6) cpu.eip += 2;
      return e.vector === 1 || e.vector === 6;
    };
    expect(run(m.cpu, 2)).toBe(Exit.BUDGET);
    expect(m.rec.events.map((e) => [e.vector, e.eip])).toEqual([[1, CODE + 5], [6, CODE + 5], [1, CODE + 12]]);
    expect(m.cpu.r32[3]).toBe(2);
  });

  it('no #DB after an instruction that delivered an event itself (INT n): entering the handler discards it', () => {
    const m = machine();
    load(m.cpu, asm('  int $0x80\n  movl $1, %eax\n  hlt', CODE), CODE);
    m.cpu.flags |= TF;
    m.rec.onEvent = () => true; // "deliver" and carry on at the next instruction
    expect(run(m.cpu, 2)).toBe(Exit.BUDGET);
    expect(m.rec.events.map((e) => [e.vector, e.kind, e.eip])).toEqual([
      [0x80, IntKind.SOFTWARE, CODE + 2], [1, IntKind.EXCEPTION, CODE + 7],
    ]);
    expect(m.cpu.delivery).toBe(m.rec);
  });

  it('steps one instruction per run when the delivery stops the loop', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    m.cpu.flags |= TF;
    for (let k = 1; k <= 25; k++) {
      expect(run(m.cpu, 1000)).toBe(Exit.STOPPED);
      expect(m.cpu.icount).toBe(k);
    }
    expect(m.cpu.r32[0]).toBe(24);
  });
});

describe('HLT', () => {
  it('at CPL 0 returns Exit.HLT, sets halted, and stays halted until cleared', () => {
    const m = machine();
    load(m.cpu, asm('  movl $1, %eax\n  hlt\n  movl $2, %eax\n  hlt', CODE), CODE);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.halted).toBe(true);
    expect(m.cpu.eip).toBe(CODE + 6);
    expect(m.cpu.icount).toBe(2);
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.icount).toBe(2);
    m.cpu.halted = false; // an interrupt would do this
    expect(run(m.cpu, 100)).toBe(Exit.HLT);
    expect(m.cpu.r32[0]).toBe(2);
    expect(m.cpu.icount).toBe(4);
  });
});

describe('interrupt shadow', () => {
  it('covers exactly the next instruction and is then cleared', () => {
    const m = machine();
    load(m.cpu, asm(LAP, CODE), CODE);
    m.cpu.intShadow = true;
    expect(run(m.cpu, 1)).toBe(Exit.BUDGET);
    expect(m.cpu.intShadow).toBe(false);
    expect(m.cpu.icount).toBe(1);
    m.cpu.intShadow = true;
    expect(run(m.cpu, 50)).toBe(Exit.BUDGET);
    expect(m.cpu.intShadow).toBe(false);
    expect(m.cpu.icount).toBe(51);
  });
});

/** A delivery that plays a script: each call either accepts or throws the given fault. */
class Scripted implements Delivery {
  log: { vector: number; errorCode: number; cr2: number }[] = [];
  constructor(private readonly script: (CpuFault | null)[]) {}
  deliver(cpu: Cpu, vector: number, _kind: IntKind, errorCode: number): void {
    this.log.push({ vector, errorCode, cr2: cpu.cr2 });
    const f = this.script[this.log.length - 1] ?? null;
    if (f !== null) throw f;
  }
}

function scripted(script: (CpuFault | null)[]) {
  const d = new Scripted(script);
  const cpu = createCpu(new PhysMemory(1 << 20), { delivery: d });
  return { cpu, d };
}

describe('exception escalation (SDM 3A §6.15, table 6-5)', () => {
  const GP = (ec = 0): CpuFault => new CpuFault(13, ec);
  const PF = (ec: number, cr2: number): CpuFault => new CpuFault(14, ec, cr2);
  const cases: { name: string; first: CpuFault; script: (CpuFault | null)[]; delivered: number[]; ok: boolean }[] = [
    { name: 'contributory then contributory → #DF', first: GP(8), script: [new CpuFault(11, 0x10)], delivered: [13, 8], ok: true },
    { name: '#DE then #TS → #DF', first: new CpuFault(0), script: [new CpuFault(10, 4)], delivered: [0, 8], ok: true },
    { name: '#PF then #PF → #DF', first: PF(2, 0x1000), script: [PF(0, 0x2000)], delivered: [14, 8], ok: true },
    { name: '#PF then #GP → #DF', first: PF(2, 0x1000), script: [GP()], delivered: [14, 8], ok: true },
    { name: '#GP then #PF → #PF handled serially', first: GP(), script: [PF(4, 0x3000)], delivered: [13, 14], ok: true },
    { name: 'benign #UD then #GP → #GP handled serially', first: new CpuFault(6), script: [GP(0x18)], delivered: [6, 13], ok: true },
    { name: 'benign #DB then #PF → #PF handled serially', first: new CpuFault(1), script: [PF(0, 0x5000)], delivered: [1, 14], ok: true },
    { name: 'a fault while delivering #DF → triple fault', first: GP(), script: [GP(), GP()], delivered: [13, 8], ok: false },
    { name: '#PF, #PF → #DF, then #PF → triple fault', first: PF(0, 1), script: [PF(0, 2), PF(0, 3)], delivered: [14, 8], ok: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { cpu, d } = scripted(c.script);
      expect(raiseException(cpu, c.first)).toBe(c.ok);
      expect(d.log.map((e) => e.vector)).toEqual(c.delivered);
      const last = d.log[d.log.length - 1]!;
      if (last.vector === 8) expect(last.errorCode).toBe(0);
      expect(cpu.deliveringVector).toBe(-1);
    });
  }

  it('writes CR2 for the #PF being delivered, and for a second #PF that escalates', () => {
    let t = scripted([PF(4, 0x3000)]);
    raiseException(t.cpu, GP());
    expect(t.d.log[1]).toEqual({ vector: 14, errorCode: 4, cr2: 0x3000 });
    t = scripted([PF(0, 0x2000)]);
    raiseException(t.cpu, PF(2, 0x1000));
    expect(t.d.log.map((e) => e.cr2)).toEqual([0x1000, 0x2000]);
  });

  it('run() returns Exit.TRIPLE_FAULT when every delivery faults', () => {
    const always: Delivery = { deliver: () => { throw new CpuFault(13, 0); } };
    const mem = new PhysMemory(2 << 20);
    const cpu = createCpu(mem, { delivery: always });
    load(cpu, asm('  movl $1, %eax\n  ud2', CODE), CODE);
    expect(run(cpu, 100)).toBe(Exit.TRIPLE_FAULT);
    expect(cpu.r32[0]).toBe(1);
    expect(cpu.eip).toBe(CODE + 5);
  });

  it('run() escalates a #PF whose delivery faults to #DF and reports the delivery order', () => {
    const m = machine();
    const pt = new Pt32(m.mem);
    pt.map(CODE, CODE, P | RW);
    pt.enable(m.cpu);
    load(m.cpu, asm('  movl (0x500000), %eax', CODE), CODE);
    const seen: number[] = [];
    m.cpu.delivery = {
      deliver: (cpu, v) => {
        seen.push(v);
        if (v === 14) throw new CpuFault(14, 2, 0x7000); // pushing the frame faults
        cpu.requestExit(Exit.STOPPED);
      },
    };
    expect(run(m.cpu, 10)).toBe(Exit.STOPPED);
    expect(seen).toEqual([14, 8]);
    expect(m.cpu.cr2).toBe(0x7000);
  });

  it('host errors thrown by a delivery propagate out of run()', () => {
    const m = machine();
    load(m.cpu, asm('  ud2', CODE), CODE);
    m.cpu.delivery = { deliver: () => { throw new Error('VMM bug'); } };
    expect(() => run(m.cpu, 10)).toThrow('VMM bug');
  });
});

describe('fetch faults at block entry', () => {
  it('deliver once and return when the delivery asks to stop (no livelock)', () => {
    const m = machine();
    new Pt32(m.mem).enable(m.cpu);
    m.cpu.eip = 0x40000000;
    expect(run(m.cpu, 1000)).toBe(Exit.STOPPED);
    expect(m.rec.events).toHaveLength(1);
    expect(m.rec.last).toMatchObject({ vector: 14, errorCode: 0, cr2: 0x40000000, eip: 0x40000000 });
  });

  it('raise #GP(0), not #PF, when EIP is beyond the CS limit of an unmapped page', () => {
    const m = machine();
    new Pt32(m.mem).enable(m.cpu);
    m.cpu.segLimit[1] = 0xfffff;
    m.cpu.eip = 0x40000000;
    expect(run(m.cpu, 1000)).toBe(Exit.STOPPED);
    expect(m.rec.last).toMatchObject({ vector: 13, errorCode: 0 });
  });
});
