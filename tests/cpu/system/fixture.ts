/**
 * Test fixture for the paging, TLB, block-cache and run-loop tests: a small
 * machine (PhysMemory + Cpu) with a recording exception delivery, page-table
 * builders for 32-bit and PAE paging (Intel SDM vol. 3A §4.3, §4.4), and an
 * assembler wrapper (GNU as/ld, `--32`, flat binary at a given address,
 * cached under tests/.build/asm).
 *
 * The CPU's paging registers are set directly (cr0/cr3/cr4/efer, then
 * tlbFlushAll, as MOV CR would), so these tests depend only on the MMU, the
 * TLB, the block cache, the run loop and the ALU/MOV/branch families.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { createCpu } from '../../../src/vmm/cpu/index.js';
import { Cpu, Exit, IntKind, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_NXE, type Delivery } from '../../../src/vmm/cpu/cpu.js';
import { CpuFault } from '../../../src/vmm/cpu/fault.js';

export const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
/** High dword of a PAE entry with XD (bit 63). */
export const NX_HI = 0x80000000 | 0;

const here = dirname(fileURLToPath(import.meta.url));
const asmCache = join(here, '..', '..', '.build', 'asm');

/**
 * Assemble AT&T source into a flat binary linked at `org`. Labels are
 * absolute (`movl $label, %eax` gets the linked address).
 */
export function asm(src: string, org: number): Uint8Array {
  const text = `  .text\n  .globl _start\n_start:\n${src}\n`;
  const hash = createHash('sha256').update(`${org}\n${text}`).digest('hex').slice(0, 20);
  const bin = join(asmCache, `${hash}.bin`);
  if (!existsSync(bin)) {
    mkdirSync(asmCache, { recursive: true });
    const s = join(asmCache, `${hash}.s`), o = join(asmCache, `${hash}.o`);
    writeFileSync(s, text);
    execFileSync('as', ['--32', '-o', o, s], { stdio: ['ignore', 'pipe', 'pipe'] });
    execFileSync('ld', ['-m', 'elf_i386', `-Ttext=0x${org.toString(16)}`, '-e', `0x${org.toString(16)}`,
      '--oformat=binary', '-o', bin, o], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
  return new Uint8Array(readFileSync(bin));
}

/** One delivered event as the recorder saw it. */
export interface Event {
  vector: number;
  kind: IntKind;
  errorCode: number;
  /** EIP at delivery (the faulting instruction for faults, the next one for traps). */
  eip: number;
  cr2: number;
}

/**
 * Records every event. By default it stops the run (requestExit STOPPED);
 * `onEvent` can instead act (e.g. fix EIP) and return true to continue.
 */
export class Recorder implements Delivery {
  events: Event[] = [];
  onEvent: ((cpu: Cpu, e: Event) => boolean) | null = null;
  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
    const e: Event = { vector, kind, errorCode, eip: cpu.eip >>> 0, cr2: cpu.cr2 >>> 0 };
    // A run loop that keeps delivering without progress must fail, not hang.
    if (this.events.length >= 100_000) throw new Error('runaway event delivery (livelock?)');
    this.events.push(e);
    if (this.onEvent !== null && this.onEvent(cpu, e)) return;
    cpu.requestExit(Exit.STOPPED);
  }
  get last(): Event | undefined {
    return this.events[this.events.length - 1];
  }
}

/** A CPU over `memBytes` of RAM with a Recorder, flat 32-bit protected mode, CPL 0. */
export function machine(memBytes = 16 << 20): { mem: PhysMemory; cpu: Cpu; rec: Recorder } {
  const mem = new PhysMemory(memBytes);
  const rec = new Recorder();
  const cpu = createCpu(mem, { delivery: rec });
  return { mem, cpu, rec };
}

/** Page-table builder interface shared by the two formats. */
export interface PageTables {
  /** Map the 4 KiB page at `la` to `pa`; `hi` is the PAE high dword (ignored for 32-bit). */
  map(la: number, pa: number, flags: number, hi?: number): void;
  /** Map a large page (4 MiB for 32-bit, 2 MiB for PAE) at `la`. */
  mapLarge(la: number, pa: number, flags: number, hi?: number): void;
  /** Physical address of the leaf entry (PTE) for `la`; the PDE for a large page. */
  leaf(la: number): number;
  /** Physical address of the PDE for `la`. */
  pde(la: number): number;
  /** Load CR3/CR4/CR0 and flush, as the guest's MOV CR sequence would. */
  enable(cpu: Cpu, opts?: { wp?: boolean; pse?: boolean; pge?: boolean; nxe?: boolean }): void;
}

/** 32-bit two-level tables (§4.3): page directory at `base`, page tables allocated after it. */
export class Pt32 implements PageTables {
  private next: number;
  constructor(private readonly mem: PhysMemory, readonly base = 0x10000) {
    mem.fill(base, 0x1000, 0);
    this.next = base + 0x1000;
  }
  pde(la: number): number {
    return this.base + ((la >>> 22) << 2);
  }
  leaf(la: number): number {
    const pde = this.mem.read32(this.pde(la));
    if ((pde & PS) !== 0) return this.pde(la);
    return ((pde & ~0xfff) >>> 0) + (((la >>> 12) & 0x3ff) << 2);
  }
  map(la: number, pa: number, flags: number): void {
    const pdeAddr = this.pde(la);
    let pde = this.mem.read32(pdeAddr);
    if ((pde & P) === 0) {
      const pt = this.next;
      this.next += 0x1000;
      this.mem.fill(pt, 0x1000, 0);
      pde = pt | P | RW | US;
      this.mem.write32(pdeAddr, pde);
    }
    this.mem.write32(((pde & ~0xfff) >>> 0) + (((la >>> 12) & 0x3ff) << 2), (pa & ~0xfff) | flags);
  }
  mapLarge(la: number, pa: number, flags: number): void {
    this.mem.write32(this.pde(la), (pa & 0xffc00000) | flags | PS);
  }
  enable(cpu: Cpu, opts: { wp?: boolean; pse?: boolean; pge?: boolean } = {}): void {
    cpu.cr3 = this.base;
    cpu.cr4 = (cpu.cr4 & ~(CR4_PAE | CR4_PSE | CR4_PGE)) | (opts.pse ? CR4_PSE : 0) | (opts.pge ? CR4_PGE : 0);
    cpu.cr0 = (cpu.cr0 | CR0_PG) & ~CR0_WP | (opts.wp ? CR0_WP : 0);
    cpu.tlbFlushAll();
  }
}

/**
 * PAE three-level tables (§4.4): PDPT at `base`, directories and tables
 * allocated after it. L3 entries get `l3Flags` (P only by default; Xen
 * guests' L3 entries also carry RW/U/A/D).
 */
export class PtPae implements PageTables {
  private next: number;
  constructor(private readonly mem: PhysMemory, readonly base = 0x10000, private readonly l3Flags = P) {
    mem.fill(base, 0x1000, 0);
    this.next = base + 0x1000;
  }
  /** Physical address of the L3 entry (PDPTE) for `la`. */
  l3(la: number): number {
    return this.base + ((la >>> 30) << 3);
  }
  private table(addr: number, flags: number): number {
    let e = this.mem.read32(addr);
    if ((e & P) === 0) {
      const t = this.next;
      this.next += 0x1000;
      this.mem.fill(t, 0x1000, 0);
      e = t | flags;
      this.mem.write32(addr, e);
      this.mem.write32(addr + 4, 0);
    }
    return (e & ~0xfff) >>> 0;
  }
  pde(la: number): number {
    return this.table(this.l3(la), this.l3Flags) + (((la >>> 21) & 0x1ff) << 3);
  }
  leaf(la: number): number {
    const pdeAddr = this.pde(la);
    if ((this.mem.read32(pdeAddr) & PS) !== 0) return pdeAddr;
    return this.table(pdeAddr, P | RW | US) + (((la >>> 12) & 0x1ff) << 3);
  }
  map(la: number, pa: number, flags: number, hi = 0): void {
    const a = this.leaf(la);
    this.mem.write32(a, (pa & ~0xfff) | flags);
    this.mem.write32(a + 4, hi);
  }
  mapLarge(la: number, pa: number, flags: number, hi = 0): void {
    const a = this.pde(la);
    this.mem.write32(a, (pa & 0xffe00000) | flags | PS);
    this.mem.write32(a + 4, hi);
  }
  enable(cpu: Cpu, opts: { wp?: boolean; pge?: boolean; nxe?: boolean } = {}): void {
    cpu.cr3 = this.base;
    cpu.cr4 = (cpu.cr4 & ~(CR4_PSE | CR4_PGE)) | CR4_PAE | (opts.pge ? CR4_PGE : 0);
    cpu.efer = (cpu.efer & ~EFER_NXE) | (opts.nxe ? EFER_NXE : 0);
    cpu.cr0 = (cpu.cr0 | CR0_PG) & ~CR0_WP | (opts.wp ? CR0_WP : 0);
    cpu.tlbFlushAll();
  }
}

/** Run `fn` and return the CpuFault it throws (fails the test if it does not). */
export function faultOf(fn: () => unknown): CpuFault {
  try {
    fn();
  } catch (e) {
    if (e instanceof CpuFault) return e;
    throw e;
  }
  throw new Error('expected a CpuFault, none was thrown');
}

/** Load code at physical `pa` and point EIP at linear `la` (defaults to pa). */
export function load(cpu: Cpu, code: Uint8Array, pa: number, la = pa): void {
  cpu.mem.writeBytes(pa, code);
  cpu.eip = la;
}
