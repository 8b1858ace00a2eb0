/**
 * The CPU benchmark (`cpu_mips`): runs the integer workload of bench/guest
 * (bench.elf: linked lists, a state machine, matrices, CRC-16/32, sorting)
 * in the emulated CPU and reports guest instructions per second.
 *
 * The guest runs the way a kernel would: flat 32-bit protected mode at
 * CPL 0 with PAE paging on (an identity map of guest RAM built here, page 0
 * left unmapped to catch null pointers), in slices of run(cpu, 10_000_000)
 * until it executes HLT. It reports its checksum with an OUTL to port 0xE9,
 * and the runner checks that checksum against the same C sources compiled
 * natively for the host: a wrong answer fails the benchmark loudly instead
 * of producing a figure. Any exception the guest raises (an unimplemented
 * instruction is #UD) ends the run with the vector, EIP and code bytes.
 *
 * Every run starts from fresh memory and a fresh CPU (empty block cache),
 * so decoding is part of the measured time; all runs must retire the same
 * number of instructions (the CPU is deterministic).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PhysMemory } from '../src/vmm/memory/phys.js';
import { createCpu, run, Exit, IntKind, Seg, VECTOR_NAMES, type Cpu, type CpuHost, type Delivery } from '../src/vmm/cpu/index.js';
import { loadElf32 } from './elf.js';
import { BenchFailure, type BenchContext, type BenchResult, type Benchmark } from './types.js';

/** The port the guest writes its checksum to (the Bochs/QEMU debug-console port). */
export const REPORT_PORT = 0xe9;
/** Instructions per run() slice. */
export const SLICE = 10_000_000;
/** A guest that has not halted after this many instructions is considered hung. */
export const MAX_INSTRUCTIONS = 2_000_000_000;
const RAM_BYTES = 32 << 20;
/** Page tables live below the guest image (which starts at 1 MiB). */
const PT_BASE = 0x10000;

// Architectural control-register bits (Intel SDM vol. 3A §2.5).
const CR0_WP = 0x10000;
const CR0_PG = 0x80000000 | 0;
const CR4_PAE = 0x20;

export interface GuestRun {
  /** The value the guest wrote to REPORT_PORT (unsigned). */
  checksum: number;
  /** Guest instructions retired. */
  icount: number;
  /** Wall time of the run loop only (no loading, no page-table setup). */
  seconds: number;
  blocksDecoded: number;
  invalidations: number;
  liveBlocks: number;
}

/**
 * Build identity-mapped PAE tables for [0, ramBytes) at `base` (4 KiB
 * pages, supervisor, writable; page 0 not present) and return CR3.
 * Needs 2 + ramBytes / 2 MiB pages at `base`.
 */
export function identityMapPae(mem: PhysMemory, ramBytes: number, base = PT_BASE): number {
  const l1Count = Math.ceil(ramBytes / (2 << 20));
  if (l1Count > 512) throw new Error('identity map limited to 1 GiB');
  const l3 = base, l2 = base + 0x1000, l1 = base + 0x2000;
  mem.fill(base, (2 + l1Count) * 0x1000, 0);
  mem.write32(l3, l2 | 1); // PDPTE: present only (native PAE reserves RW/US there)
  for (let k = 0; k < l1Count; k++) {
    const table = l1 + k * 0x1000;
    mem.write32(l2 + k * 8, table | 3); // present, writable, supervisor
    for (let j = 0; j < 512; j++) {
      const pfn = k * 512 + j;
      if (pfn === 0 || pfn * 0x1000 >= ramBytes) continue;
      mem.write32(table + j * 8, (pfn * 0x1000) | 3);
    }
  }
  return l3;
}

/** Ends the run at the first exception: a benchmark guest never takes one. */
class FatalDelivery implements Delivery {
  deliver(cpu: Cpu, vector: number, kind: IntKind, errorCode: number): void {
    const name = VECTOR_NAMES[vector] ?? `vector ${vector}`;
    const la = (cpu.segBase[Seg.CS]! + cpu.eip) | 0;
    const bytes = cpu.peekLinear(la, 8);
    const code = bytes ? Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ') : '(unmapped)';
    const what = kind === IntKind.EXCEPTION ? 'raised' : kind === IntKind.SOFTWARE ? 'executed INT' : 'received';
    let msg = `guest ${what} ${name}${errorCode >= 0 ? ` (error code 0x${errorCode.toString(16)})` : ''} ` +
      `at eip 0x${(cpu.eip >>> 0).toString(16).padStart(8, '0')} after ${cpu.icount} instructions; code bytes: ${code}`;
    if (vector === 14) msg += `; cr2 0x${(cpu.cr2 >>> 0).toString(16)}`;
    if (vector === 6) msg += ' — an instruction the CPU does not implement yet? (objdump -d bench/guest/bench.elf)';
    // Thrown as a host error: it leaves run() at once, whatever the loop state.
    throw new BenchFailure(msg);
  }
}

/** Load `elf` into fresh memory and a fresh CPU, run it to HLT, and measure. */
export function runGuest(elf: Uint8Array, opts: { maxInstructions?: number } = {}): GuestRun {
  const max = opts.maxInstructions ?? MAX_INSTRUCTIONS;
  const mem = new PhysMemory(RAM_BYTES);
  const { entry } = loadElf32(elf, mem);
  const reports: number[] = [];
  const host: CpuHost = {
    ioIn: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : -1),
    ioOut: (port, size, value) => {
      if (port !== REPORT_PORT || size !== 4) {
        throw new BenchFailure(`guest wrote 0x${(value >>> 0).toString(16)} to port 0x${port.toString(16)} (size ${size}); only OUTL to 0x${REPORT_PORT.toString(16)} is expected`);
      }
      reports.push(value >>> 0);
    },
    rdmsr: () => null,
    wrmsr: () => false,
    cpuid: () => false,
  };
  const cpu = createCpu(mem, { host, delivery: new FatalDelivery() });
  cpu.cr4 |= CR4_PAE;
  cpu.cr3 = identityMapPae(mem, RAM_BYTES);
  cpu.cr0 |= CR0_PG | CR0_WP;
  cpu.tlbFlushAll();
  cpu.eip = entry; // start.S sets up its own stack

  const t0 = process.hrtime.bigint();
  let exit: Exit = Exit.BUDGET;
  while (cpu.icount < max) {
    exit = run(cpu, SLICE);
    if (exit !== Exit.BUDGET) break;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

  const at = `eip 0x${(cpu.eip >>> 0).toString(16)} after ${cpu.icount} instructions`;
  if (exit === Exit.BUDGET) throw new BenchFailure(`guest did not halt within ${max} instructions (${at})`);
  if (exit === Exit.TRIPLE_FAULT) throw new BenchFailure(`guest triple-faulted (${at})`);
  if (exit !== Exit.HLT) throw new BenchFailure(`unexpected exit ${exit} (${at})`);
  if (reports.length !== 1) throw new BenchFailure(`guest halted after reporting ${reports.length} values instead of one checksum (${at})`);
  return {
    checksum: reports[0]!,
    icount: cpu.icount,
    seconds,
    blocksDecoded: cpu.blocks.decodedBlocks,
    invalidations: cpu.blocks.invalidations,
    liveBlocks: cpu.blocks.size,
  };
}

/** Folder of the guest sources, the Makefile and the committed bench.elf. */
export function guestDir(root: string): string {
  return join(root, 'bench', 'guest');
}

/**
 * Build the workload natively (`make native`, cached in the system temp
 * folder by a hash of the sources) and return the checksum it prints.
 */
export function nativeChecksum(root: string, defs = ''): { checksum: number; iterations: number } {
  const dir = guestDir(root);
  const h = createHash('sha256').update(defs);
  for (const f of readdirSync(dir).sort()) {
    if (/\.(c|h|S|ld)$/.test(f) || f === 'Makefile') h.update(f).update(readFileSync(join(dir, f)));
  }
  const out = join(tmpdir(), `xenkit-bench-native-${h.digest('hex').slice(0, 16)}`);
  try {
    execFileSync('make', ['-s', '-C', dir, `O=${out}`, `DEFS=${defs}`, 'native'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new BenchFailure(`cannot build the native reference (needs make and gcc; see .ci/run, or pass --no-verify): ${err.stderr?.toString().trim() || err.message}`);
  }
  const text = execFileSync(join(out, 'bench-native'), { encoding: 'utf8' }).trim();
  const m = /^([0-9a-f]{8}) (\d+)$/.exec(text);
  if (!m) throw new BenchFailure(`native reference printed ${JSON.stringify(text)}`);
  return { checksum: parseInt(m[1]!, 16), iterations: Number(m[2]) };
}

export const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

export const cpuBenchmark: Benchmark = {
  name: 'cpu',
  description: 'integer workload (lists, state machine, matrices, CRC, sorting) on the emulated CPU, paging on',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const elf = new Uint8Array(readFileSync(join(guestDir(ctx.root), 'bench.elf')));
    let expected: number | null = null;
    if (ctx.verify) {
      ctx.progress('cpu: building the native reference');
      expected = nativeChecksum(ctx.root).checksum;
    }
    const check = (r: GuestRun, label: string): void => {
      if (expected !== null && r.checksum !== expected) {
        throw new BenchFailure(`WRONG RESULT: the emulated guest computed checksum ${hex32(r.checksum)} in the ${label}, ` +
          `the native build ${hex32(expected)} — the emulator executed something incorrectly ` +
          '(or bench/guest/bench.elf is stale: run `make -C bench/guest`)');
      }
    };
    ctx.progress('cpu: warm-up run');
    const warm = runGuest(elf);
    check(warm, 'warm-up run');
    const runs: GuestRun[] = [];
    for (let k = 0; k < ctx.runs; k++) {
      ctx.progress(`cpu: run ${k + 1}/${ctx.runs}`);
      const r = runGuest(elf);
      check(r, `run ${k + 1}`);
      if (r.icount !== warm.icount || r.checksum !== warm.checksum) {
        throw new BenchFailure(`non-deterministic guest: run ${k + 1} retired ${r.icount} instructions (checksum ${hex32(r.checksum)}), ` +
          `the warm-up run ${warm.icount} (${hex32(warm.checksum)})`);
      }
      runs.push(r);
    }
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const mips = best.icount / best.seconds / 1e6;
    const round = (x: number, d: number): number => Number(x.toFixed(d));
    return {
      metrics: {
        cpu_mips: round(mips, 2),
        cpu_instructions: best.icount,
        cpu_seconds: round(best.seconds, 4),
        cpu_blocks_decoded: best.blocksDecoded,
        cpu_block_invalidations: best.invalidations,
        cpu_checksum: hex32(best.checksum),
      },
      lines: [
        `cpu_mips: ${mips.toFixed(1)}  (workload: ${Math.round(best.icount / 1e6)} M instructions in ${best.seconds.toFixed(2)} s)`,
        `  checksum ${hex32(best.checksum)} ${expected === null ? '(not verified: --no-verify)' : 'matches the native build'}; ` +
          `best of ${runs.length} after a warm-up: ${runs.map((r) => r.seconds.toFixed(2)).join(' ')} s`,
        `  blocks decoded ${best.blocksDecoded} (${best.liveBlocks} live at the end), invalidations ${best.invalidations}`,
      ],
    };
  },
};
