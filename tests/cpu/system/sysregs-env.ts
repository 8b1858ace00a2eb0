/**
 * Emulator-only test environment for the system-register and port-I/O
 * tests (tests/cpu/system/sysregs.test.ts, io.test.ts).
 *
 * Provides: a CPU over 8 MiB of RAM whose exceptions are recorded instead
 * of delivered (and stop the run), a hand-built GDT with the descriptor
 * kinds the tests need, a fake CpuHost that logs port and MSR accesses, and
 * a tiny assembler wrapper (GNU as/ld, cached under tests/.build) so test
 * programs read as assembly rather than byte lists.
 */
import { asm as fixtureAsm, Recorder, type Event } from './fixture.js';
export { Recorder, type Event };
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu, enterFlatMode } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, type CpuHost } from '../../../src/vmm/cpu/cpu.js';
import { run } from '../../../src/vmm/cpu/exec.js';
import { encodeSegment } from '../../../src/vmm/cpu/descriptor.js';

/** Where test code is assembled and loaded. */
export const CODE = 0x10000;
/** GDT, TSS and LDT locations. */
export const GDT = 0x1000;
export const TSS = 0x3000;
export const LDT = 0x8000;
/** Free data area. */
export const DATA = 0x20000;

/** Selectors of the standard GDT (see makeEnv). */
export const SEL = {
  CODE0: 0x08, DATA0: 0x10, CODE3: 0x18, DATA3: 0x20,
  TSS32: 0x28, LDT: 0x30, CONFORMING0: 0x38, XONLY3: 0x40, RODATA3: 0x48,
  TSS16: 0x50, TSS32_BUSY: 0x58, TSS_NP: 0x60, CALLGATE3: 0x68, INTGATE0: 0x70,
  LDT_NP: 0x78, DATA1_SMALL: 0x80, TASKGATE3: 0x88, TRAPGATE0: 0x90, RESERVED8: 0x98,
  LDT3: 0xa0, CODE0_NONCONF_RO: 0xa8,
} as const;
/** Byte limit of the standard GDT. */
export const GDT_LIMIT = 0xaf;

/** One port or MSR access seen by FakeHost. */
export interface Access {
  op: 'in' | 'out' | 'rdmsr' | 'wrmsr';
  port: number;
  size: number;
  value: number;
}

/** A CpuHost that logs every access; IN returns `inValue(port, size)`; MSRs live in `msrs`. */
export class FakeHost implements CpuHost {
  readonly log: Access[] = [];
  readonly msrs = new Map<number, [number, number]>();
  inValue: (port: number, size: number) => number = (port, size) => (size === 1 ? port & 0xff : size === 2 ? 0xa500 | (port & 0xff) : (0x5a5a0000 | port) >>> 0);
  ioIn(port: number, size: number): number {
    const v = this.inValue(port, size);
    this.log.push({ op: 'in', port, size, value: v });
    return v;
  }
  ioOut(port: number, size: number, value: number): void {
    this.log.push({ op: 'out', port, size, value });
  }
  rdmsr(index: number): [number, number] | null {
    this.log.push({ op: 'rdmsr', port: index, size: 8, value: 0 });
    return this.msrs.get(index) ?? null;
  }
  wrmsr(index: number, lo: number, hi: number): boolean {
    this.log.push({ op: 'wrmsr', port: index, size: 8, value: lo });
    if (!this.msrs.has(index)) return false;
    this.msrs.set(index, [lo, hi]);
    return true;
  }
  cpuid(): boolean {
    return false;
  }
}

export interface Env {
  mem: PhysMemory;
  cpu: Cpu;
  rec: Recorder;
  host: FakeHost;
}

/** Write GDT/LDT entry `index` at table `base`. */
export function setDesc(mem: PhysMemory, base: number, index: number, lo: number, hi: number): void {
  mem.write32(base + index * 8, lo);
  mem.write32(base + index * 8 + 4, hi);
}

/** A segment descriptor as [lo, hi] (access byte, flags nibble G|D/B|L|AVL). */
export function seg(baseAddr: number, limit: number, access: number, flags4: number): [number, number] {
  return encodeSegment(baseAddr, limit, access, flags4);
}

/** A gate descriptor as [lo, hi]. */
export function gate(selector: number, offset: number, access: number): [number, number] {
  return [((selector << 16) | (offset & 0xffff)) | 0, ((offset & 0xffff0000) | (access << 8)) | 0];
}

/**
 * A CPU in flat 32-bit protected mode at CPL 0, paging off, with the
 * standard GDT at GDT (selectors in SEL), an empty 32-bit TSS at TSS and a
 * 4-entry LDT at LDT (entry 0: DPL-3 data, entry 1: DPL-0 data).
 */
export function makeEnv(): Env {
  const mem = new PhysMemory(8 << 20);
  const rec = new Recorder();
  const host = new FakeHost();
  const cpu = createCpu(mem, { delivery: rec, host });
  const d = (sel: number, x: [number, number]): void => setDesc(mem, GDT, sel >> 3, x[0], x[1]);
  d(SEL.CODE0, seg(0, 0xfffff, 0x9b, 0xc));
  d(SEL.DATA0, seg(0, 0xfffff, 0x93, 0xc));
  d(SEL.CODE3, seg(0, 0xfffff, 0xfb, 0xc));
  d(SEL.DATA3, seg(0, 0xfffff, 0xf3, 0xc));
  d(SEL.TSS32, seg(TSS, 0x67 + 0x2000 + 1, 0x89, 0));
  d(SEL.LDT, seg(LDT, 0x1f, 0x82, 0));
  d(SEL.CONFORMING0, seg(0, 0xfffff, 0x9f, 0xc));
  d(SEL.XONLY3, seg(0x1000, 0xff, 0xf9, 0x4));
  d(SEL.RODATA3, seg(0x2000, 0xfff, 0xf1, 0x4));
  d(SEL.TSS16, seg(TSS, 0x2b, 0x81, 0));
  d(SEL.TSS32_BUSY, seg(TSS, 0x67, 0x8b, 0));
  d(SEL.TSS_NP, seg(TSS, 0x67, 0x09, 0));
  d(SEL.CALLGATE3, gate(SEL.CODE0, 0x12345678, 0xec));
  d(SEL.INTGATE0, gate(SEL.CODE0, 0x1000, 0x8e));
  d(SEL.LDT_NP, seg(LDT, 0x1f, 0x02, 0));
  d(SEL.DATA1_SMALL, seg(0x40000, 0x1234, 0xb3, 0x4));
  d(SEL.TASKGATE3, gate(SEL.TSS32, 0, 0xe5));
  d(SEL.TRAPGATE0, gate(SEL.CODE0, 0x1000, 0x8f));
  d(SEL.RESERVED8, seg(0, 0xffff, 0x88, 0));
  d(SEL.LDT3, seg(LDT, 0x1f, 0xe2, 0));
  d(SEL.CODE0_NONCONF_RO, seg(0, 0xfffff, 0x9b, 0xc));
  cpu.gdtrBase = GDT;
  cpu.gdtrLimit = GDT_LIMIT;
  setDesc(mem, LDT, 0, ...seg(0x6000, 0xfff, 0xf3, 0x4));
  setDesc(mem, LDT, 1, ...seg(0x7000, 0xfff, 0x93, 0x4));
  // TSS: I/O map base at 0x68, all ports allowed until a test says otherwise,
  // and the trailing all-ones byte the SDM asks for.
  mem.write16(TSS + 0x66, 0x68);
  mem.fill(TSS + 0x68, 0x2000, 0);
  mem.write8(TSS + 0x68 + 0x2000, 0xff);
  return { mem, cpu, rec, host };
}

/** Assemble source linked at `origin` (default CODE) with the shared, cached assembler. */
export function asm(src: string, origin = CODE): Uint8Array {
  return fixtureAsm(src, origin);
}

export interface RunResult {
  exit: Exit;
  /** The first recorded event, if any. */
  fault: Event | null;
  /** Address of the final `hlt` appended to the program. */
  end: number;
  /** The program reached its final `hlt` (CPL 0: Exit.HLT; CPL 3: #GP(0) at it). */
  done: boolean;
}

/**
 * Assemble `src` followed by `hlt`, load it at CODE and run it in flat mode
 * at `cpl` (EFLAGS IOPL from `iopl`). Stops at the first event or the hlt.
 */
export function runAsm(env: Env, src: string, opts: { cpl?: number; iopl?: number; budget?: number } = {}): RunResult {
  const cpl = opts.cpl ?? 0;
  const code = asm(`${src}\n  hlt`);
  env.mem.writeBytes(CODE, code);
  const end = CODE + code.length - 1;
  const { cpu } = env;
  if (cpu.cpl !== cpl) {
    enterFlatMode(cpu, cpl, cpl === 3 ? { cs: SEL.CODE3 | 3, ds: SEL.DATA3 | 3 } : { cs: SEL.CODE0, ds: SEL.DATA0 });
  }
  cpu.flags = (cpu.flags & ~0x3000) | ((opts.iopl ?? 0) << 12);
  cpu.eip = CODE;
  cpu.halted = false;
  env.rec.events.length = 0;
  let exit = Exit.BUDGET;
  for (let k = 0; k < 100 && exit === Exit.BUDGET; k++) exit = run(cpu, opts.budget ?? 100_000);
  const fault = env.rec.events[0] ?? null;
  const done = cpl === 0 ? exit === Exit.HLT : fault !== null && fault.vector === 13 && fault.errorCode === 0 && fault.eip === end;
  return { exit, fault, end, done };
}
