/**
 * x87 / MMX / SSE encodings on a CPU without those units (families/fpu.ts):
 * which of #UD and #NM each raises for every combination of CR0.EM, CR0.TS,
 * CR0.MP and CR4.OSFXSR, that nothing changes before the fault, that the
 * fault comes before any memory access, and that each instruction has its
 * exact length. Emulator only: the host has all of these units.
 *
 * The expected vector comes from this reference, written from the SDM
 * rules the family file cites:
 *  - x87 (vol. 3A §2.5 / table 2-2 "EM": ESC with EM or TS set -> #NM):
 *    #NM if EM or TS, else #UD (no FPU).
 *  - FWAIT (vol. 2 "WAIT/FWAIT": #NM if MP and TS): else no operation.
 *  - MMX (vol. 3A table 12-1, vol. 2 table 22-7): #UD if EM, #NM if TS.
 *  - SSE (vol. 3A table 13-1 ordering): #UD if EM or !OSFXSR, #NM if TS.
 *  - FXSAVE/FXRSTOR (vol. 2 "FXSAVE": #NM if TS, #UD if EM).
 *  - fences, CLFLUSH, XSAVE*, MOVBE, CRC32, VMREAD, UD0, unassigned slots,
 *    LOCK-prefixed forms: always #UD.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu, flatAttr } from '../../src/vmm/cpu/index.js';
import { Cpu, CR0_EM, CR0_MP, CR0_TS, CR4_OSFXSR, Exit, SA, Seg, type Delivery } from '../../src/vmm/cpu/cpu.js';
import { run } from '../../src/vmm/cpu/exec.js';
import { decode } from '../../src/vmm/cpu/decoder.js';
import { OPCODES } from '../../src/vmm/cpu/opcodes.js';

type Kind = 'x87' | 'fwait' | 'mmx' | 'sse' | 'fxsr' | 'ud';
const UD = 6, NM = 7, NONE = -1;

interface Env { em: boolean; ts: boolean; mp: boolean; osfxsr: boolean }

function expected(k: Kind, e: Env): number {
  switch (k) {
    case 'x87': return e.em || e.ts ? NM : UD;
    case 'fwait': return e.mp && e.ts ? NM : NONE;
    case 'mmx': return e.em ? UD : e.ts ? NM : UD;
    case 'sse': return e.em || !e.osfxsr ? UD : e.ts ? NM : UD;
    case 'fxsr': return e.em ? UD : e.ts ? NM : UD;
    case 'ud': return UD;
  }
}

const CASES: [string, Kind, number[]][] = [
  // x87, memory and register forms, with SIB/displacements and prefixes.
  ['fadd st,st(1)', 'x87', [0xd8, 0xc1]],
  ['fld dword [disp32]', 'x87', [0xd9, 0x05, 0x00, 0x10, 0x00, 0x00]],
  ['fld qword [eax+ebx*4+0x10]', 'x87', [0xdd, 0x44, 0x98, 0x10]],
  ['fild qword [sib+disp32]', 'x87', [0xdf, 0xac, 0x98, 0x78, 0x56, 0x34, 0x12]],
  ['fnstsw ax', 'x87', [0xdf, 0xe0]],
  ['fninit', 'x87', [0xdb, 0xe3]],
  ['fnop', 'x87', [0xd9, 0xd0]],
  ['fcompp', 'x87', [0xde, 0xd9]],
  ['reserved d9 d8 (fstp1)', 'x87', [0xd9, 0xd8]],
  ['reserved d9 e2', 'x87', [0xd9, 0xe2]],
  ['fnstenvw (66)', 'x87', [0x66, 0xd9, 0x30]],
  ['fld qword [bx+si] (67)', 'x87', [0x67, 0xdd, 0x00]],
  ['fisttp word', 'x87', [0xdf, 0x08]],
  ['fwait', 'fwait', [0x9b]],
  // MMX.
  ['movq mm0,mm1', 'mmx', [0x0f, 0x6f, 0xc1]],
  ['movq mm0,[eax]', 'mmx', [0x0f, 0x6f, 0x00]],
  ['emms', 'mmx', [0x0f, 0x77]],
  ['femms', 'mmx', [0x0f, 0x0e]],
  ['pfadd (3DNow!)', 'mmx', [0x0f, 0x0f, 0xc1, 0x9e]],
  ['pfmul [eax+disp8] (3DNow!)', 'mmx', [0x0f, 0x0f, 0x40, 0x08, 0xb4]],
  ['psrlw mm1,2', 'mmx', [0x0f, 0x71, 0xd1, 0x02]],
  ['pshufb mm0,mm1', 'mmx', [0x0f, 0x38, 0x00, 0xc1]],
  ['palignr mm0,mm1,3', 'mmx', [0x0f, 0x3a, 0x0f, 0xc1, 0x03]],
  ['pshufw', 'mmx', [0x0f, 0x70, 0xc1, 0x1b]],
  ['movntq [eax],mm0', 'mmx', [0x0f, 0xe7, 0x00]],
  ['pextrw eax,mm1,1', 'mmx', [0x0f, 0xc5, 0xc1, 0x01]],
  ['F3 on an MMX-only opcode is ignored', 'mmx', [0xf3, 0x0f, 0x60, 0xc1]],
  ['F3 ignored, 66 then selects the XMM form', 'sse', [0x66, 0xf3, 0x0f, 0x60, 0xc1]],
  // SSE.
  ['addps', 'sse', [0x0f, 0x58, 0xc1]],
  ['addss (F3)', 'sse', [0xf3, 0x0f, 0x58, 0xc1]],
  ['addpd (66)', 'sse', [0x66, 0x0f, 0x58, 0xc1]],
  ['addsd (F2)', 'sse', [0xf2, 0x0f, 0x58, 0xc1]],
  ['F3 wins over 66', 'sse', [0x66, 0xf3, 0x0f, 0x58, 0xc1]],
  ['movdqa (66 0f 6f)', 'sse', [0x66, 0x0f, 0x6f, 0xc1]],
  ['movdqu (f3 0f 6f)', 'sse', [0xf3, 0x0f, 0x6f, 0x04, 0x24]],
  ['movups [disp32]', 'sse', [0x0f, 0x10, 0x05, 0x00, 0x00, 0x00, 0x00]],
  ['pshufb xmm (66 0f 38 00)', 'sse', [0x66, 0x0f, 0x38, 0x00, 0xc1]],
  ['palignr xmm (66 0f 3a 0f)', 'sse', [0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x03]],
  ['pcmpistri [sib+disp8]', 'sse', [0x66, 0x0f, 0x3a, 0x63, 0x44, 0xc8, 0x10, 0x04]],
  ['ldmxcsr', 'sse', [0x0f, 0xae, 0x10]],
  ['stmxcsr', 'sse', [0x0f, 0xae, 0x5c, 0x24, 0x04]],
  ['psrlw xmm1,2 (66)', 'sse', [0x66, 0x0f, 0x71, 0xd1, 0x02]],
  ['pslldq xmm1,8 (66)', 'sse', [0x66, 0x0f, 0x73, 0xf9, 0x08]],
  ['cvtpi2ps (XMM destination)', 'sse', [0x0f, 0x2a, 0xc1]],
  ['movmskps (XMM source only)', 'sse', [0x0f, 0x50, 0xc1]],
  ['cmpps imm8', 'sse', [0x0f, 0xc2, 0xc1, 0x01]],
  ['aesenc', 'sse', [0x66, 0x0f, 0x38, 0xdc, 0xc1]],
  ['sha1rnds4', 'sse', [0x0f, 0x3a, 0xcc, 0xc1, 0x01]],
  // FXSAVE/FXRSTOR.
  ['fxsave', 'fxsr', [0x0f, 0xae, 0x00]],
  ['fxrstor [esp+4]', 'fxsr', [0x0f, 0xae, 0x4c, 0x24, 0x04]],
  // Always #UD.
  ['lfence', 'ud', [0x0f, 0xae, 0xe8]],
  ['mfence', 'ud', [0x0f, 0xae, 0xf0]],
  ['sfence', 'ud', [0x0f, 0xae, 0xf8]],
  ['clflush', 'ud', [0x0f, 0xae, 0x38]],
  ['xsave', 'ud', [0x0f, 0xae, 0x20]],
  ['xrstor', 'ud', [0x0f, 0xae, 0x28]],
  ['0f ae /0 register form', 'ud', [0x0f, 0xae, 0xc0]],
  ['movbe', 'ud', [0x0f, 0x38, 0xf0, 0x00]],
  ['crc32', 'ud', [0xf2, 0x0f, 0x38, 0xf0, 0xc1]],
  ['vmread', 'ud', [0x0f, 0x78, 0xc1]],
  ['ud0', 'ud', [0x0f, 0xff, 0xc1]],
  ['unassigned 0f 38 ff', 'ud', [0x0f, 0x38, 0xff, 0xc1]],
  ['unassigned 0f 3a ff (imm8)', 'ud', [0x0f, 0x3a, 0xff, 0xc1, 0x00]],
  ['unassigned 0f 7a', 'ud', [0x0f, 0x7a, 0xc1]],
  ['psrlw with a memory operand', 'ud', [0x0f, 0x71, 0x10, 0x02]],
  ['0f 71 /0 (unassigned, imm8)', 'ud', [0x0f, 0x71, 0xc1, 0x02]],
  ['pslldq without 66', 'ud', [0x0f, 0x73, 0xf9, 0x02]],
  ['pblendvb without 66', 'ud', [0x0f, 0x38, 0x10, 0xc1]],
  ['lock addps', 'ud', [0xf0, 0x0f, 0x58, 0x00]],
  ['lock fadd', 'ud', [0xf0, 0xd8, 0x00]],
];

/** 16-bit code: the 66 prefix toggles *to* 32-bit operands, but still selects the 66 column. */
const CASES16: [string, Kind, number[]][] = [
  ['movq mm0,mm1 (16-bit)', 'mmx', [0x0f, 0x6f, 0xc1]],
  ['movdqa (66, 16-bit)', 'sse', [0x66, 0x0f, 0x6f, 0xc1]],
  ['psrlw mm (16-bit)', 'mmx', [0x0f, 0x71, 0xd1, 0x02]],
  ['fld [bx+si+disp16] (16-bit)', 'x87', [0xdd, 0x80, 0x34, 0x12]],
];

class Rec implements Delivery {
  vector = NONE;
  deliver(cpu: Cpu, vector: number): void {
    this.vector = vector;
    cpu.requestExit(Exit.STOPPED);
  }
}

const CODE = 0x1000;

function machine(code16: boolean): { cpu: Cpu; mem: PhysMemory; rec: Rec } {
  const mem = new PhysMemory(1 << 20);
  const rec = new Rec();
  const cpu = createCpu(mem, { delivery: rec });
  if (code16) cpu.loadSegCache(Seg.CS, 0x08, 0, 0xffff, flatAttr(true, 0) & ~(SA.DB | SA.G));
  return { cpu, mem, rec };
}

const ENVS: Env[] = [];
for (let m = 0; m < 16; m++) ENVS.push({ em: (m & 1) !== 0, ts: (m & 2) !== 0, mp: (m & 4) !== 0, osfxsr: (m & 8) !== 0 });

function check(cases: [string, Kind, number[]][], code16: boolean): string[] {
  const { cpu, mem, rec } = machine(code16);
  const failures: string[] = [];
  for (const [name, kind, bytes] of cases) {
    // Exact length, and the next instruction starts right after.
    mem.writeBytes(CODE, new Uint8Array([...bytes, 0xf4]));
    cpu.blocks.clear();
    const i = decode(cpu, OPCODES, CODE);
    if (i.len !== bytes.length) failures.push(`${name}: length ${i.len}, expected ${bytes.length}`);
    const next = decode(cpu, OPCODES, CODE + i.len);
    if (next.op !== 0xf4) failures.push(`${name}: next instruction decoded as 0x${next.op.toString(16)}`);
    for (const e of ENVS) {
      cpu.cr0 = (cpu.cr0 & ~(CR0_EM | CR0_TS | CR0_MP)) | (e.em ? CR0_EM : 0) | (e.ts ? CR0_TS : 0) | (e.mp ? CR0_MP : 0);
      cpu.cr4 = e.osfxsr ? CR4_OSFXSR : 0;
      for (let r = 0; r < 8; r++) cpu.r32[r] = 0x11111111 * (r + 1);
      cpu.r32[4] = 0x8000;
      cpu.flags = 0x2 | 0x8d5;
      cpu.lfLazy = 0;
      cpu.eip = CODE;
      cpu.halted = false;
      rec.vector = NONE;
      const exit = run(cpu, 10);
      const want = expected(kind, e);
      const envName = `EM=${+e.em} TS=${+e.ts} MP=${+e.mp} OSFXSR=${+e.osfxsr}`;
      if (want === NONE) {
        if (exit !== Exit.HLT || rec.vector !== NONE) failures.push(`${name} ${envName}: expected no fault, got vector ${rec.vector}`);
        continue;
      }
      if (rec.vector !== want) failures.push(`${name} ${envName}: vector ${rec.vector}, expected ${want}`);
      if (cpu.eip !== CODE) failures.push(`${name} ${envName}: EIP ${cpu.eip.toString(16)} not at the instruction`);
      for (let r = 0; r < 8; r++) {
        const v = r === 4 ? 0x8000 : 0x11111111 * (r + 1);
        if (cpu.r32[r] !== (v | 0)) failures.push(`${name} ${envName}: register ${r} changed`);
      }
      if (cpu.flags !== (0x2 | 0x8d5)) failures.push(`${name} ${envName}: flags changed`);
    }
  }
  return failures;
}

describe('x87/MMX/SSE without the units: #UD vs #NM (emulator only)', () => {
  it(`${CASES.length} encodings x 16 CR0/CR4 combinations in 32-bit code`, () => {
    expect(check(CASES, false).slice(0, 20)).toEqual([]);
  });

  it(`${CASES16.length} encodings in 16-bit code (66 selects the 66 column)`, () => {
    expect(check(CASES16, true).slice(0, 20)).toEqual([]);
  });

  it('the fault is raised before the memory operand is checked (no #GP/#PF)', () => {
    // SDM vol. 3A table 6-2: #UD/#NM (decode-time faults) outrank memory faults.
    const { cpu, mem, rec } = machine(false);
    cpu.loadSegCache(Seg.DS, 0x10, 0, 0xff, flatAttr(false, 0) & ~SA.G);
    const run1 = (bytes: number[], cr0bits: number, cr4: number): number => {
      mem.writeBytes(CODE, new Uint8Array([...bytes, 0xf4]));
      cpu.blocks.clear();
      cpu.cr0 = (cpu.cr0 & ~(CR0_EM | CR0_TS | CR0_MP)) | cr0bits;
      cpu.cr4 = cr4;
      cpu.eip = CODE;
      rec.vector = NONE;
      run(cpu, 10);
      return rec.vector;
    };
    // fld dword [0x10000] is beyond the DS limit.
    expect(run1([0xd9, 0x05, 0x00, 0x00, 0x01, 0x00], CR0_TS, 0)).toBe(NM);
    expect(run1([0xd9, 0x05, 0x00, 0x00, 0x01, 0x00], 0, 0)).toBe(UD);
    // movups xmm0, [0x10000]
    expect(run1([0x0f, 0x10, 0x05, 0x00, 0x00, 0x01, 0x00], CR0_TS, CR4_OSFXSR)).toBe(NM);
    // fxsave [0x10000]
    expect(run1([0x0f, 0xae, 0x05, 0x00, 0x00, 0x01, 0x00], CR0_TS, 0)).toBe(NM);
    // clflush [0x10000]: #UD, not #GP.
    expect(run1([0x0f, 0xae, 0x3d, 0x00, 0x00, 0x01, 0x00], CR0_TS, CR4_OSFXSR)).toBe(UD);
  });

  it('FWAIT with TS=1, MP=0 is a no-op that lets the next instruction run', () => {
    const { cpu, mem } = machine(false);
    mem.writeBytes(CODE, new Uint8Array([0x9b, 0xb8, 0x78, 0x56, 0x34, 0x12, 0xf4])); // fwait; mov eax,0x12345678; hlt
    cpu.cr0 |= CR0_TS;
    cpu.eip = CODE;
    expect(run(cpu, 10)).toBe(Exit.HLT);
    expect(cpu.r32[0]).toBe(0x12345678);
  });
});
