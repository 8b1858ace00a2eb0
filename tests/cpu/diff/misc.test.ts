/**
 * Miscellaneous integer instructions (families/misc.ts).
 *
 * Against the host CPU: XCHG (86/87/91-97), NOP/PAUSE and the hint-NOP
 * space (0F 18-0F 1F, 0F 0D), CMPXCHG, CMPXCHG8B, XADD, LAHF/SAHF, XLAT,
 * CLC/STC/CMC/CLD/STD, UD1/UD2, LOCK legality — 8/16/32-bit operand sizes,
 * register and memory forms, segment overrides, edge values and random
 * cases from a fixed seed, flat and with PAE paging.
 *
 * Emulator only (the host cannot show them from user mode, or is a
 * different CPU): CPUID, RDTSC, 16-bit addressing (the low 64 KiB is
 * unmapped under Linux), segment bases, and fault precision on read-only
 * pages and segment limits.
 */
import { describe, expect, it } from 'vitest';
import { diffSuite, EDGE32, rng, type DiffCase } from './harness.js';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu, enterFlatMode, flatAttr } from '../../../src/vmm/cpu/index.js';
import { Cpu, CR0_PG, CR4_TSD, Exit, Seg, type CpuHost, type Delivery } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { readEflags } from '../../../src/vmm/cpu/flags.js';
import { CPUID_BRAND, CPUID_LEAVES } from '../../../src/vmm/cpu/families/misc.js';

const ARITH = 0x8d5;

function le32(...ws: number[]): Uint8Array {
  const b = new Uint8Array(ws.length * 4);
  const dv = new DataView(b.buffer);
  ws.forEach((w, k) => dv.setUint32(k * 4, w >>> 0, true));
  return b;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function cases(): DiffCase[] {
  const out: DiffCase[] = [];
  const r = rng(0x315c);
  const add = (name: string, code: string, o: Partial<DiffCase> = {}): void => { out.push({ name, code, ...o }); };

  // --- XCHG ------------------------------------------------------------------------
  for (const a of EDGE32.slice(0, 8)) {
    const b = r();
    add(`xchg 93 ${hex(a)}`, '  xchgl %ebx, %eax', { regs: { eax: a, ebx: b } });
    add(`xchg 87 reg32 ${hex(a)}`, '  .byte 0x87, 0xd1', { regs: { ecx: a, edx: b } });
    add(`xchg 87 eax,eax`, '  .byte 0x87, 0xc0', { regs: { eax: a } });
    add(`xchgw 66 93 ${hex(a)}`, '  xchgw %bx, %ax', { regs: { eax: a, ebx: b } });
    add(`xchgw 66 87 ${hex(a)}`, '  .byte 0x66, 0x87, 0xd1', { regs: { ecx: a, edx: b } });
    add(`xchgb ah,bl ${hex(a)}`, '  xchgb %ah, %bl', { regs: { eax: a, ebx: b } });
    add(`xchgb ch,ch ${hex(a)}`, '  xchgb %ch, %ch', { regs: { ecx: a } });
    add(`xchgb 86 dl,bh ${hex(a)}`, '  .byte 0x86, 0xfa', { regs: { edx: a, ebx: b } });
  }
  for (let op = 0x91; op <= 0x97; op++) {
    const regs = { eax: r(), ecx: r(), edx: r(), ebx: r(), ebp: r(), esi: r(), edi: r() };
    // 94 swaps ESP: keep it pointing into the scratch area either way.
    const esp = op === 0x94 ? { esp: 0x80100, eax: 0x80180 } : {};
    add(`xchg ${op.toString(16)}`, `  .byte ${op}`, { regs: { ...regs, ...esp } });
    add(`xchgw 66 ${op.toString(16)}`, `  .byte 0x66, ${op}`, { regs: { ...regs, ...esp } });
  }
  for (let k = 0; k < 24; k++) {
    const a = r(), m = r(), fl = r() & 0xcd5;
    const mem = le32(r(), r(), m, r(), r());
    add(`xchgl mem ${k}`, '  xchgl %ecx, 8(%esi)', { regs: { ecx: a, esi: 0x80000 }, mem, eflags: fl });
    add(`xchgl mem,reg ${k}`, '  xchgl 8(%esi), %ecx', { regs: { ecx: a, esi: 0x80000 }, mem, eflags: fl });
    add(`lock xchgl sib ${k}`, '  lock xchgl %eax, (%ebx,%edi,4)', { regs: { eax: a, ebx: 0x80000, edi: 2 }, mem });
    add(`xchgw mem ${k}`, '  xchgw %dx, scratch+6', { regs: { edx: a }, mem });
    add(`xchgb mem bh ${k}`, '  xchgb %bh, scratch+3', { regs: { ebx: a }, mem });
    add(`xchgb mem al ss: ${k}`, '  xchgb %al, %ss:-4(%ebp)', { regs: { eax: a, ebp: 0x80010 }, mem });
    add(`xchgl es: ${k}`, '  xchgl %es:scratch+12, %edi', { regs: { edi: a }, mem });
  }
  add('xchgl esp,eax', '  xchgl %eax, %esp', { regs: { eax: 0x80120 } });
  add('xchg cs: write -> #GP', '  xchgl %eax, %cs:scratch', { regs: { eax: 5 }, mem: le32(7) });
  add('xchgb cs: write -> #GP', '  xchgb %al, %cs:4(%esi)', { regs: { eax: 5, esi: 0x80000 }, mem: le32(7, 9) });
  add('lock xchg reg -> #UD', '  .byte 0xf0, 0x87, 0xc3', { regs: { eax: 1, ebx: 2 } });
  add('lock 93 -> #UD', '  .byte 0xf0, 0x93', { regs: { eax: 1, ebx: 2 } });

  // --- NOPs ------------------------------------------------------------------------
  add('nop', '  nop', { regs: { eax: 1 }, eflags: 0x8d5 });
  add('pause', '  pause', { eflags: 0x45 });
  add('66 90', '  .byte 0x66, 0x90', { regs: { eax: 0x12345678 } });
  add('f2 90', '  .byte 0xf2, 0x90');
  add('lock nop -> #UD', '  .byte 0xf0, 0x90');
  // Multi-byte/hint NOPs never touch memory: an unmapped address is fine.
  add('nopl unmapped', '  nopl 0x12345678(%eax,%ebx,4)', { regs: { eax: r(), ebx: r() } });
  add('nopw', '  nopw (%eax)', { regs: { eax: 0x7000000 } });
  add('nopl cs: override', '  nopl %cs:0x10(%esi)', { regs: { esi: 0xfffffff0 } });
  add('0f 1f reg', '  .byte 0x0f, 0x1f, 0xc0');
  add('0f 1f /7 mem', '  .byte 0x0f, 0x1f, 0x38', { regs: { eax: 0xdead0000 } });
  add('0f 1f 16-bit addr', '  .byte 0x67, 0x0f, 0x1f, 0x00');
  for (let op = 0x19; op <= 0x1f; op++) {
    for (const m of [0xc0 + (r() & 0x3f), r() & 0x3f & ~4 & ~5 | (op & 0x38)]) {
      add(`0f ${op.toString(16)} modrm ${hex(m)}`, `  .byte 0x0f, ${op}, ${m}`, { regs: { eax: 0xdead0000, ecx: 0xbeef0000, ebx: 0x1000, edx: 4, esi: 8, edi: 12 } });
    }
    add(`f3 0f ${op.toString(16)}`, `  .byte 0xf3, 0x0f, ${op}, 0x00`, { regs: { eax: 0xdead0000 } });
    add(`66 0f ${op.toString(16)}`, `  .byte 0x66, 0x0f, ${op}, 0xc1`);
    add(`f2 0f ${op.toString(16)}`, `  .byte 0xf2, 0x0f, ${op}, 0x01`, { regs: { ecx: 0xdead0000 } });
  }
  add('endbr32', '  .byte 0xf3, 0x0f, 0x1e, 0xfb');
  add('lock 0f 1f -> #UD', '  .byte 0xf0, 0x0f, 0x1f, 0x00');
  for (let reg = 0; reg < 8; reg++) {
    add(`0f 18 /${reg} mem`, `  .byte 0x0f, 0x18, ${(reg << 3) | 0x00}`, { regs: { eax: 0xdead0000 } });
    add(`0f 18 /${reg} disp32`, `  .byte 0x0f, 0x18, ${(reg << 3) | 0x05}, 0x78, 0x56, 0x34, 0x12`);
    add(`0f 18 /${reg} reg`, `  .byte 0x0f, 0x18, ${0xc0 | (reg << 3) | reg}`);
    add(`0f 0d /${reg} mem`, `  .byte 0x0f, 0x0d, ${(reg << 3) | 0x03}`, { regs: { ebx: 0xdead0000 } });
    add(`0f 0d /${reg} reg -> #UD`, `  .byte 0x0f, 0x0d, ${0xc0 | (reg << 3) | 1}`);
  }
  add('prefetchnta', '  prefetchnta scratch+64');
  add('prefetchw', '  prefetchw (%esi)', { regs: { esi: 0x80000 } });

  // --- CMPXCHG -----------------------------------------------------------------------
  const sizes = [
    { sfx: 'l', acc: '%eax', src: '%ecx', dst: '%edx', mask: 0xffffffff },
    { sfx: 'w', acc: '%ax', src: '%cx', dst: '%dx', mask: 0xffff },
    { sfx: 'b', acc: '%al', src: '%ch', dst: '%dl', mask: 0xff },
  ];
  for (const s of sizes) {
    for (const a of EDGE32) {
      for (const d of [a, 0, 0x80, 0x8000, 0x80000000, 0xffffffff, (a + 1) >>> 0]) {
        const fl = r() & 0xcd5;
        const src = r();
        add(`cmpxchg${s.sfx} reg ${hex(a)},${hex(d)}`, `  cmpxchg${s.sfx} ${s.src}, ${s.dst}`,
          { regs: { eax: a, ecx: src, edx: d }, eflags: fl });
      }
      const d = r();
      add(`cmpxchg${s.sfx} mem eq ${hex(a)}`, `  cmpxchg${s.sfx} ${s.src}, 4(%esi)`,
        { regs: { eax: a, ecx: r(), esi: 0x80000 }, mem: le32(r(), a, r()), eflags: r() & 0xcd5 });
      add(`cmpxchg${s.sfx} mem ne ${hex(a)}`, `  cmpxchg${s.sfx} ${s.src}, 4(%esi)`,
        { regs: { eax: a, ecx: r(), esi: 0x80000 }, mem: le32(r(), d, r()), eflags: r() & 0xcd5 });
      add(`lock cmpxchg${s.sfx} mem eq ${hex(a)}`, `  lock cmpxchg${s.sfx} ${s.src}, scratch+9`,
        { regs: { eax: a, ecx: r() }, mem: le32(r(), 0, a << 8 | 0xaa, 0x12345678) });
    }
    add(`cmpxchg${s.sfx} cs: eq -> #GP`, `  cmpxchg${s.sfx} ${s.src}, %cs:(%esi)`,
      { regs: { eax: 0x11223344, ecx: 9, esi: 0x80000 }, mem: le32(0x11223344), eflags: 0x8d5 });
    add(`cmpxchg${s.sfx} cs: ne -> #GP (written back)`, `  cmpxchg${s.sfx} ${s.src}, %cs:(%esi)`,
      { regs: { eax: 0x11223344, ecx: 9, esi: 0x80000 }, mem: le32(0x55667788), eflags: 0x8d5 });
  }
  // Accumulator as destination or source.
  for (const a of [0, 1, 0x80000000, 0xffffffff]) {
    add(`cmpxchgl ecx,eax ${hex(a)}`, '  cmpxchgl %ecx, %eax', { regs: { eax: a, ecx: 0x1234 } });
    add(`cmpxchgl eax,ecx eq ${hex(a)}`, '  cmpxchgl %eax, %ecx', { regs: { eax: a, ecx: a } });
    add(`cmpxchgl eax,ecx ne ${hex(a)}`, '  cmpxchgl %eax, %ecx', { regs: { eax: a, ecx: a ^ 5 } });
    add(`cmpxchgb ah,al ${hex(a)}`, '  cmpxchgb %ah, %al', { regs: { eax: a } });
    add(`cmpxchgb al,ah ${hex(a)}`, '  cmpxchgb %al, %ah', { regs: { eax: a } });
    add(`cmpxchgw ax,ax ${hex(a)}`, '  cmpxchgw %ax, %ax', { regs: { eax: a } });
  }
  add('lock cmpxchg reg -> #UD', '  .byte 0xf0, 0x0f, 0xb1, 0xc8', { regs: { eax: 1, ecx: 2 } });
  for (let k = 0; k < 60; k++) {
    const eq = (k & 1) === 0;
    const a = r(), d = eq ? a : r();
    const s = sizes[k % 3]!;
    add(`cmpxchg rnd ${k}`, `  cmpxchg${s.sfx} ${s.src}, (%ebx,%esi,2)`,
      { regs: { eax: a, ecx: r(), ebx: 0x80010, esi: 6 }, mem: le32(0, 0, 0, 0, 0, 0, d, r()), eflags: r() & 0xcd5 });
  }

  // --- CMPXCHG8B ---------------------------------------------------------------------
  for (let k = 0; k < 30; k++) {
    const lo = r(), hi = r();
    const variants = [[lo, hi], [lo ^ 1, hi], [lo, hi ^ 0x80000000], [lo ^ 1, hi ^ 1]];
    const [eax, edx] = variants[k & 3]!;
    const fl = r() & 0xcd5;
    add(`cmpxchg8b ${k}`, '  cmpxchg8b scratch+8', { regs: { eax, edx, ebx: r(), ecx: r() }, mem: le32(r(), r(), lo, hi, r()), eflags: fl });
    add(`lock cmpxchg8b ${k}`, '  lock cmpxchg8b (%esi,%edi,1)',
      { regs: { eax, edx, ebx: r(), ecx: r(), esi: 0x80001, edi: 3 }, mem: le32(lo, hi), eflags: fl });
  }
  add('cmpxchg8b 66 prefix', '  .byte 0x66, 0x0f, 0xc7, 0x0e', { regs: { eax: 1, edx: 2, ebx: 3, ecx: 4, esi: 0x80000 }, mem: le32(1, 2) });
  add('cmpxchg8b keeps other flags (lazy OF/CF)', '  addl %edi, %ebp\n  cmpxchg8b (%esi)',
    { regs: { ebp: 0x7fffffff, edi: 1, eax: 1, edx: 2, esi: 0x80000 }, mem: le32(1, 2) });
  add('cmpxchg8b keeps other flags (ne)', '  subl %edi, %ebp\n  cmpxchg8b (%esi)',
    { regs: { ebp: 0, edi: 1, eax: 1, edx: 2, esi: 0x80000 }, mem: le32(1, 3) });
  add('cmpxchg8b reg -> #UD', '  .byte 0x0f, 0xc7, 0xc8');
  add('lock cmpxchg8b reg -> #UD', '  .byte 0xf0, 0x0f, 0xc7, 0xc8');
  add('0f c7 /0 -> #UD', '  .byte 0x0f, 0xc7, 0x00', { regs: { eax: 0x80000 } });
  add('cmpxchg8b cs: -> #GP', '  cmpxchg8b %cs:(%esi)', { regs: { eax: 1, edx: 2, esi: 0x80000 }, mem: le32(5, 6) });
  add('cmpxchg8b ss:', '  cmpxchg8b %ss:4(%ebp)', { regs: { eax: 1, edx: 2, ebx: 7, ecx: 8, ebp: 0x80000 }, mem: le32(0, 1, 2) });

  // --- XADD --------------------------------------------------------------------------
  for (const a of EDGE32) for (const b of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff]) {
    const fl = r() & 0xcd5;
    add(`xaddl ${hex(a)},${hex(b)}`, '  xaddl %ecx, %edx', { regs: { ecx: b, edx: a }, eflags: fl });
    add(`xaddw ${hex(a)},${hex(b)}`, '  xaddw %cx, %dx', { regs: { ecx: b, edx: a }, eflags: fl });
    add(`xaddb ${hex(a)},${hex(b)}`, '  xaddb %ch, %dl', { regs: { ecx: b << 8, edx: a }, eflags: fl });
  }
  for (const a of [1, 0x80000000, 0xc0000000]) {
    add(`xaddl same reg ${hex(a)}`, '  xaddl %eax, %eax', { regs: { eax: a } });
    add(`xaddb ah,al ${hex(a)}`, '  xaddb %ah, %al', { regs: { eax: a | 0x3c00 } });
    add(`xaddb al,ah ${hex(a)}`, '  xaddb %al, %ah', { regs: { eax: a | 0x3c81 } });
  }
  for (let k = 0; k < 40; k++) {
    const a = r(), b = r(), fl = r() & 0xcd5;
    const s = sizes[k % 3]!;
    add(`xadd${s.sfx} mem ${k}`, `  xadd${s.sfx} ${s.src}, 2(%esi)`, { regs: { ecx: b, esi: 0x80000 }, mem: le32(a, r()), eflags: fl });
    add(`lock xadd${s.sfx} mem ${k}`, `  lock xadd${s.sfx} ${s.src}, scratch+32`, { regs: { ecx: b }, mem: le32(0, 0, 0, 0, 0, 0, 0, 0, a), eflags: fl });
  }
  add('xadd cs: -> #GP', '  xaddl %ecx, %cs:(%esi)', { regs: { ecx: 1, esi: 0x80000 }, eflags: 0x801 });
  add('lock xadd reg -> #UD', '  .byte 0xf0, 0x0f, 0xc1, 0xc8');

  // --- LAHF / SAHF -------------------------------------------------------------------
  for (let k = 0; k < 40; k++) {
    const fl = r() & 0xcd5;
    add(`lahf ${k}`, '  lahf', { regs: { eax: r() }, eflags: fl });
    add(`sahf ${k}`, '  sahf', { regs: { eax: r() }, eflags: fl });
    add(`sahf;lahf ${k}`, '  sahf\n  movb $0, %ah\n  lahf', { regs: { eax: r() }, eflags: fl });
    const a = r(), b = r();
    add(`add;lahf ${k}`, '  addl %ebx, %ecx\n  lahf', { regs: { ecx: a, ebx: k < 20 ? b : (0x80000000 - a) >>> 0 }, eflags: fl });
    add(`sub;sahf ${k}`, '  subl %ebx, %ecx\n  sahf', { regs: { eax: r(), ecx: a, ebx: k < 20 ? b : (a ^ 0x80000000) >>> 0 }, eflags: fl });
    add(`sahf;adc ${k}`, '  sahf\n  adcl %ebx, %ecx', { regs: { eax: r(), ecx: a, ebx: b } });
  }
  add('lock lahf -> #UD', '  .byte 0xf0, 0x9f');

  // --- XLAT --------------------------------------------------------------------------
  const table = new Uint8Array(512);
  for (let k = 0; k < 512; k++) table[k] = r() & 0xff;
  for (let k = 0; k < 40; k++) {
    const al = r() & 0xff;
    const base = 0x80000 + (r() & 0xff);
    add(`xlat ${k}`, '  xlat', { regs: { eax: r() & ~0xff | al, ebx: base }, mem: table });
  }
  add('xlat al=ff', '  xlat', { regs: { eax: 0xff, ebx: 0x80100 }, mem: table });
  add('xlat al=80 (zero-extended)', '  xlat', { regs: { eax: 0xffffff80, ebx: 0x80000 }, mem: table });
  add('xlat cs:', '  xlat %cs:(%ebx)', { regs: { eax: 0x22, ebx: 0x80000 }, mem: table });
  add('xlat ss:', '  xlat %ss:(%ebx)', { regs: { eax: 0x33, ebx: 0x80010 }, mem: table });
  add('xlat es:', '  xlat %es:(%ebx)', { regs: { eax: 0x7f, ebx: 0x80001 }, mem: table });
  add('xlat 66', '  .byte 0x66, 0xd7', { regs: { eax: 0x12345644, ebx: 0x80000 }, mem: table });

  // --- CLC/STC/CMC/CLD/STD ---------------------------------------------------------------
  for (const op of ['clc', 'stc', 'cmc', 'cld', 'std']) {
    for (let k = 0; k < 8; k++) {
      const a = r(), b = k < 4 ? r() : (0 - r()) >>> 0;
      add(`${op} ${k}`, `  ${op}`, { eflags: r() & 0xcd5 });
      add(`add;${op} ${k}`, `  addl %ebx, %eax\n  ${op}`, { regs: { eax: a, ebx: b }, eflags: r() & 0xcd5 });
      add(`sub;${op};adc ${k}`, `  subl %ebx, %eax\n  ${op}\n  adcl $0, %ecx`, { regs: { eax: a, ebx: b } });
    }
  }
  add('cmc;cmc', '  cmc\n  cmc', { eflags: 1 });

  // --- UD1 / UD2 ---------------------------------------------------------------------
  add('ud2', '  ud2');
  add('ud1 reg', '  .byte 0x0f, 0xb9, 0xc0');
  add('ud1 mem', '  .byte 0x0f, 0xb9, 0x05, 0, 0, 0, 0');
  add('66 ud2', '  .byte 0x66, 0x0f, 0x0b');
  return out;
}

describe('misc family vs host CPU', () => {
  const all = cases();
  it(`matches the host on ${all.length} cases (flat)`, () => {
    expect(diffSuite('misc', all).slice(0, 20)).toEqual([]);
  });
  it('matches the host with PAE paging on', () => {
    expect(diffSuite('misc', all, { paging: true }).slice(0, 20)).toEqual([]);
  });
});

// --- emulator-only ------------------------------------------------------------------------

/** Records the first event and stops the run loop. */
class Rec implements Delivery {
  vector = -1;
  err = -1;
  deliver(cpu: Cpu, vector: number, _kind: unknown, errorCode: number): void {
    this.vector = vector;
    this.err = errorCode;
    cpu.requestExit(Exit.STOPPED);
  }
}

const CODE = 0x2000;

interface Machine { cpu: Cpu; mem: PhysMemory; rec: Rec }

function machine(host?: CpuHost): Machine {
  const mem = new PhysMemory(4 << 20);
  const rec = new Rec();
  const cpu = createCpu(mem, host ? { delivery: rec, host } : { delivery: rec });
  return { cpu, mem, rec };
}

/** Run `code` (followed by HLT) at CODE; returns the exit. */
function exec(m: Machine, code: number[]): Exit {
  m.mem.writeBytes(CODE, new Uint8Array([...code, 0xf4]));
  m.cpu.blocks.clear();
  m.cpu.eip = CODE;
  m.cpu.halted = false;
  m.rec.vector = -1;
  return run(m.cpu, 1000);
}

/** 32-bit paging: identity-map the first 4 MiB as user/writable, except `ro` pages. */
function paging(m: Machine, ro: number[]): void {
  const pd = 0x100000, pt = 0x101000;
  m.mem.write32(pd, pt | 7);
  for (let k = 0; k < 1024; k++) m.mem.write32(pt + 4 * k, (k << 12) | (ro.includes(k << 12) ? 5 : 7));
  m.cpu.cr3 = pd;
  m.cpu.cr0 |= CR0_PG;
  m.cpu.tlbFlushAll();
}

describe('CPUID (emulator only)', () => {
  const str = (...ws: number[]): string => ws.map((w) => String.fromCharCode(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24)).join('');
  const cpuid = (m: Machine, leaf: number, sub = 0): number[] => {
    m.cpu.r32[0] = leaf;
    m.cpu.r32[1] = sub;
    m.cpu.r32[6] = 0x5151;
    expect(exec(m, [0x0f, 0xa2])).toBe(Exit.HLT);
    expect(m.cpu.r32[6]).toBe(0x5151);
    return [0, 3, 1, 2].map((k) => m.cpu.r32[k]! >>> 0);
  };

  it('leaf 0: max basic leaf 2, GenuineIntel', () => {
    const m = machine();
    const [eax, ebx, ecx, edx] = cpuid(m, 0);
    expect(eax).toBe(2);
    expect(str(ebx!, edx!, ecx!)).toBe('GenuineIntel');
  });

  it('leaf 1: family 6, a P6 model, the documented feature set', () => {
    const m = machine();
    const [eax, ebx, ecx, edx] = cpuid(m, 1);
    expect((eax! >>> 8) & 0xf).toBe(6);
    expect(eax! & 0xfff00000).toBe(0);
    expect([3, 5, 6]).toContain((eax! >>> 4) & 0xf);
    expect(ebx).toBe(0);
    expect(ecx).toBe(0);
    const bit = (n: number): boolean => ((edx! >>> n) & 1) === 1;
    // Set: DE PSE TSC MSR PAE CX8 PGE CMOV. Clear: FPU VME MCE APIC SEP MTRR MCA PAT PSE36 MMX FXSR SSE SSE2.
    for (const n of [2, 3, 4, 5, 6, 8, 13, 15]) expect(bit(n), `bit ${n}`).toBe(true);
    for (const n of [0, 1, 7, 9, 11, 12, 14, 16, 17, 23, 24, 25, 26]) expect(bit(n), `bit ${n}`).toBe(false);
  });

  it('extended leaves: max 0x80000008, NX, brand string', () => {
    const m = machine();
    expect(cpuid(m, 0x80000000)[0]).toBe(0x80000008);
    expect(cpuid(m, 0x80000001)[3]).toBe(1 << 20);
    let brand = '';
    for (let l = 0x80000002; l <= 0x80000004; l++) brand += str(...cpuid(m, l));
    expect(brand.length).toBe(48);
    expect(brand.replace(/\0+$/, '')).toBe(CPUID_BRAND);
    expect(brand.endsWith('\0')).toBe(true);
    expect(cpuid(m, 0x80000008)[0]! & 0xff).toBe(36);
  });

  it('out-of-range leaves return the highest basic leaf (Intel rule), subleaf ignored', () => {
    const m = machine();
    const leaf2 = cpuid(m, 2);
    expect(leaf2).not.toEqual([0, 0, 0, 0]);
    for (const l of [3, 4, 7, 0xb, 0x0d, 0x40000000, 0x7fffffff, 0x80000009, 0xffffffff]) {
      expect(cpuid(m, l, 1), `leaf ${hex(l)}`).toEqual(leaf2);
    }
    expect(cpuid(m, 1, 0x1234)).toEqual(cpuid(m, 1, 0));
  });

  it('the host is asked first, with the leaf and subleaf', () => {
    const seen: number[][] = [];
    const host: CpuHost = {
      ioIn: () => 0, ioOut: () => {}, rdmsr: () => null, wrmsr: () => false,
      cpuid: (leaf, sub, out) => {
        seen.push([leaf, sub]);
        if (leaf !== 0x40000000) return false;
        out[0] = 0x40000002; out[1] = 0x566e6558; out[2] = 0x65584d4d; out[3] = 0x4d4d566e;
        return true;
      },
    };
    const m = machine(host);
    expect(cpuid(m, 0x40000000, 7)).toEqual([0x40000002, 0x566e6558, 0x65584d4d, 0x4d4d566e]);
    expect(cpuid(m, 0x80000001, 3)[3]).toBe(1 << 20);
    expect(seen).toEqual([[0x40000000, 7], [0x80000001, 3]]);
  });

  it('the documented table is consistent', () => {
    const leaves = CPUID_LEAVES.map((l) => l.leaf >>> 0);
    expect(new Set(leaves).size).toBe(leaves.length);
    for (const l of [0, 1, 2, 0x80000000, 0x80000001, 0x80000002, 0x80000003, 0x80000004, 0x80000008]) expect(leaves).toContain(l);
  });
});

describe('RDTSC (emulator only)', () => {
  const rdtsc = (m: Machine): bigint => {
    expect(exec(m, [0x0f, 0x31])).toBe(Exit.HLT);
    return (BigInt(m.cpu.r32[2]! >>> 0) << 32n) | BigInt(m.cpu.r32[0]! >>> 0);
  };

  it('returns icount + tscOffset, carrying into EDX and wrapping mod 2^64', () => {
    const m = machine();
    m.cpu.icount = 1234;
    expect(rdtsc(m)).toBe(1234n);
    m.cpu.icount = 0xffffffff;
    m.cpu.tscOffset = 1n;
    expect(rdtsc(m)).toBe(0x100000000n);
    m.cpu.icount = 0x1_2345_6789;
    m.cpu.tscOffset = 0xffff_ffff_0000_0000n + 0xffff_ffffn;
    expect(rdtsc(m)).toBe((0x1_2345_6789n + 0xffff_ffff_ffff_ffffn) & 0xffff_ffff_ffff_ffffn);
    m.cpu.icount = 100;
    m.cpu.tscOffset = -1n;
    expect(rdtsc(m)).toBe(99n);
    m.cpu.icount = 100;
    m.cpu.tscOffset = 1n << 40n;
    expect(rdtsc(m)).toBe((1n << 40n) + 100n);
  });

  it('uses tscHook when set', () => {
    const m = machine();
    m.cpu.tscHook = () => 0x1122_3344_5566_7788n;
    expect(rdtsc(m)).toBe(0x1122_3344_5566_7788n);
  });

  it('successive reads strictly increase (RDTSC ends its block)', () => {
    const m = machine();
    expect(exec(m, [0x0f, 0x31, 0x89, 0xc6, 0x0f, 0x31])).toBe(Exit.HLT); // rdtsc; mov esi,eax; rdtsc
    expect(m.cpu.r32[0]! >>> 0).toBeGreaterThan(m.cpu.r32[6]! >>> 0);
  });

  it('CR4.TSD: #GP(0) at CPL 3, nothing changed (SDM vol. 3B §17.17.1)', () => {
    const m = machine();
    m.cpu.cr4 |= CR4_TSD;
    enterFlatMode(m.cpu, 3, { cs: 0x1b, ds: 0x23 });
    m.cpu.r32[0] = 0x1111; m.cpu.r32[2] = 0x2222;
    exec(m, [0x0f, 0x31]);
    expect([m.rec.vector, m.rec.err, m.cpu.eip]).toEqual([13, 0, CODE]);
    expect([m.cpu.r32[0], m.cpu.r32[2]]).toEqual([0x1111, 0x2222]);
  });

  it('CR4.TSD is ignored at CPL 0', () => {
    const m = machine();
    m.cpu.cr4 |= CR4_TSD;
    m.cpu.icount = 77;
    expect(rdtsc(m)).toBe(77n);
  });
});

describe('16-bit addressing and segment bases (emulator only)', () => {
  it('XLAT with 0x67 uses BX + AL wrapped to 16 bits', () => {
    const m = machine();
    m.mem.write8(0x0001, 0xa5);
    m.mem.write8(0x10001, 0x5a);
    m.cpu.r32[3] = 0x1234ffff; // BX = 0xffff
    m.cpu.r32[0] = 0x02;
    exec(m, [0x67, 0xd7]);
    expect(m.cpu.r32[0]).toBe(0xa5);
    m.cpu.r32[0] = 0x02;
    exec(m, [0xd7]); // 32-bit: EBX + AL = 0x12350001 is outside RAM, reads float high
    expect(m.cpu.r32[0]! & 0xff).toBe(0xff);
  });

  it('XLAT honours a segment override with a non-zero base', () => {
    const m = machine();
    m.cpu.loadSegCache(Seg.FS, 0x33, 0x50000, 0xffff, flatAttr(false, 0) & ~0x8000);
    m.mem.write8(0x50000 + 0x110, 0x77);
    m.cpu.r32[3] = 0x100;
    m.cpu.r32[0] = 0x10;
    exec(m, [0x64, 0xd7]);
    expect(m.cpu.r32[0]).toBe(0x77);
    // Beyond the FS limit: #GP(0), AL unchanged.
    m.cpu.r32[3] = 0xfff8;
    m.cpu.r32[0] = 0x10;
    exec(m, [0x64, 0xd7]);
    expect([m.rec.vector, m.rec.err, m.cpu.r32[0]]).toEqual([13, 0, 0x10]);
  });

  it('XLAT with a 32-bit address wraps at 4 GiB', () => {
    const m = machine();
    m.mem.write8(0x8, 0x3c);
    m.cpu.r32[3] = 0xfffffff8 | 0;
    m.cpu.r32[0] = 0x10;
    exec(m, [0xd7]);
    expect(m.cpu.r32[0]).toBe(0x3c);
  });

  it('XCHG, CMPXCHG, XADD with [bx+si] addressing wrap at 64 KiB', () => {
    const m = machine();
    m.mem.write32(0x0001, 0x11111111);
    m.cpu.r32[3] = 0xffff; m.cpu.r32[6] = 2; // BX + SI = 0x10001 -> 0x0001
    m.cpu.r32[0] = 0xaaaaaaaa;
    exec(m, [0x67, 0x87, 0x00]); // xchg [bx+si], eax
    expect([m.cpu.r32[0]! >>> 0, m.mem.read32(1) >>> 0]).toEqual([0x11111111, 0xaaaaaaaa]);
    m.cpu.r32[0] = 0xaaaaaaaa | 0; m.cpu.r32[1] = 0x12345678;
    exec(m, [0x67, 0x0f, 0xb1, 0x08]); // cmpxchg [bx+si], ecx (equal)
    expect(m.mem.read32(1)).toBe(0x12345678);
    exec(m, [0x67, 0x0f, 0xc1, 0x08]); // xadd [bx+si], ecx
    expect([m.mem.read32(1), m.cpu.r32[1]]).toEqual([0x2468acf0, 0x12345678]);
    m.cpu.r32[5] = 0xfffe; // [bp+di] defaults to SS
    m.cpu.r32[7] = 3;
    m.cpu.r32[0] = 5;
    m.cpu.loadSegCache(Seg.SS, 0x10, 0x1000, 0xffffffff, flatAttr(false, 0));
    exec(m, [0x67, 0x87, 0x03]); // xchg [bp+di], eax -> SS:0x0001
    expect(m.mem.read32(0x1001)).toBe(5);
  });

  it('CMPXCHG8B with a 16-bit address and DS base', () => {
    const m = machine();
    m.cpu.loadSegCache(Seg.DS, 0x10, 0x30000, 0xffffffff, flatAttr(false, 0));
    m.mem.write32(0x30010, 1); m.mem.write32(0x30014, 2);
    m.cpu.r32[0] = 1; m.cpu.r32[2] = 2; m.cpu.r32[3] = 0x33; m.cpu.r32[1] = 0x44;
    m.cpu.r32[6] = 0x0010;
    exec(m, [0x67, 0x0f, 0xc7, 0x0c]); // cmpxchg8b [si]
    expect([m.mem.read32(0x30010), m.mem.read32(0x30014)]).toEqual([0x33, 0x44]);
    expect(readEflags(m.cpu) & 0x40).toBe(0x40);
  });
});

describe('fault precision (emulator only)', () => {
  // SDM vol. 2 CMPXCHG: "the destination operand is written back if the
  // comparison fails", so a read-only destination #PFs either way; and no
  // register or flag may change before the fault (vol. 3A §6.5: faults are
  // reported with the state before the instruction).
  const RO = 0x5000;
  const setup = (): Machine => {
    const m = machine();
    enterFlatMode(m.cpu, 3, { cs: 0x1b, ds: 0x23 });
    paging(m, [RO]);
    m.mem.write32(RO, 0x1234);
    m.cpu.r32[3] = RO;
    m.cpu.flags = 0x2 | 0x8d5;
    return m;
  };
  const check = (m: Machine, regs: number[]): void => {
    expect([m.rec.vector, m.rec.err, m.cpu.eip]).toEqual([14, 7, CODE]);
    expect(m.cpu.cr2 >>> 0).toBe(RO);
    expect(Array.from(m.cpu.r32.slice(0, 4))).toEqual(regs);
    expect(readEflags(m.cpu) & ARITH).toBe(0x8d5);
    expect(m.mem.read32(RO)).toBe(0x1234);
  };

  it('CMPXCHG fails on a read-only page: #PF, accumulator and flags unchanged', () => {
    const m = setup();
    m.cpu.r32[0] = 0x9999; m.cpu.r32[1] = 7;
    exec(m, [0x0f, 0xb1, 0x0b]);
    check(m, [0x9999, 7, 0, RO]);
  });

  it('CMPXCHG succeeds on a read-only page: #PF', () => {
    const m = setup();
    m.cpu.r32[0] = 0x1234; m.cpu.r32[1] = 7;
    exec(m, [0x0f, 0xb1, 0x0b]);
    check(m, [0x1234, 7, 0, RO]);
  });

  it('XADD and XCHG on a read-only page: #PF, nothing changed', () => {
    const m = setup();
    m.cpu.r32[1] = 7;
    exec(m, [0x0f, 0xc1, 0x0b]);
    check(m, [0, 7, 0, RO]);
    exec(m, [0x87, 0x0b]);
    check(m, [0, 7, 0, RO]);
    exec(m, [0x86, 0x2b]);
    check(m, [0, 7, 0, RO]);
  });

  it('CMPXCHG8B straddling into a read-only page: #PF, first page untouched', () => {
    const m = setup();
    m.mem.write32(RO - 4, 0xaaaa);
    m.cpu.r32[3] = RO - 4;
    m.cpu.r32[0] = 0xaaaa; m.cpu.r32[2] = 0x1234; m.cpu.r32[1] = 1; m.cpu.r32[3] = RO - 4;
    exec(m, [0x0f, 0xc7, 0x0b]);
    expect([m.rec.vector, m.rec.err]).toEqual([14, 7]);
    expect(m.mem.read32(RO - 4)).toBe(0xaaaa);
    expect(readEflags(m.cpu) & ARITH).toBe(0x8d5);
  });

  it('a failed CMPXCHG is still a write access: it sets the dirty bit, XLAT does not', () => {
    // SDM vol. 2 CMPXCHG ("the destination operand is written back") and
    // vol. 3A §4.8 (the processor sets D on a write through the entry).
    const m = machine();
    enterFlatMode(m.cpu, 3, { cs: 0x1b, ds: 0x23 });
    paging(m, []);
    const pte = (la: number): number => m.mem.read32(0x101000 + 4 * (la >>> 12));
    m.mem.write32(0x6000, 0x1234);
    m.cpu.r32[3] = 0x6000; m.cpu.r32[0] = 0x9999; m.cpu.r32[1] = 7;
    exec(m, [0x0f, 0xb1, 0x0b, 0xd7]); // cmpxchg [ebx], ecx (fails); xlat
    expect([m.cpu.r32[0]! & 0xffffff00, m.mem.read32(0x6000)]).toEqual([0x1200, 0x1234]);
    expect(pte(0x6000) & 0x60).toBe(0x60);
    m.cpu.r32[3] = 0x7000; m.cpu.r32[0] = 0;
    exec(m, [0xd7]);
    expect(pte(0x7000) & 0x60).toBe(0x20);
  });

  it('XCHG beyond the SS limit via EBP: #SS(0), nothing changed', () => {
    const m = machine();
    m.cpu.loadSegCache(Seg.SS, 0x10, 0, 0xfff, flatAttr(false, 0) & ~0x8000);
    m.cpu.r32[5] = 0xffe;
    m.cpu.r32[0] = 42;
    m.mem.write32(0xffe, 0x01020304);
    exec(m, [0x87, 0x45, 0x00]);
    expect([m.rec.vector, m.rec.err, m.cpu.r32[0]]).toEqual([12, 0, 42]);
    expect(m.mem.read32(0xffe)).toBe(0x01020304);
  });
});
