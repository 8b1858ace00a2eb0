/**
 * The xenkit benchmark runner (`npm run bench`).
 *
 * Runs every benchmark registered in BENCHMARKS, in order, and prints
 * either human-readable lines or, with --json, one JSON object whose keys
 * are the figures (cpu_mips, ...). A benchmark whose result cannot be
 * trusted (wrong checksum, guest fault) fails the whole run: exit status 1
 * and the reason on stderr, and no JSON.
 *
 * Adding a benchmark: write a `Benchmark` (bench/types.ts) in its own file
 * under bench/ and append it to BENCHMARKS. Its metric keys must be new
 * (boot_ms, run_hello_ms, evtchn_roundtrip_us, ...).
 *
 *   node dist/bench/index.js [--json] [--runs N] [--only cpu,...] [--no-verify]
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuBenchmark } from './cpu.js';
import { bootBenchmark } from './boot.js';
import { gdbBenchmark } from './gdb.js';
import { xenBenchmark } from './xen.js';
import { devicesBenchmark } from './devices.js';
import { BenchFailure, type BenchContext, type Benchmark, type Metric } from './types.js';

/** Every benchmark, in the order they run. */
export const BENCHMARKS: readonly Benchmark[] = [cpuBenchmark, bootBenchmark, xenBenchmark, gdbBenchmark, devicesBenchmark];

const USAGE = `usage: npm run bench -- [options]
  --json          print one JSON object of all figures (progress goes to stderr)
  --runs N        timed runs per benchmark after the warm-up (default 3; the best is kept)
  --only A,B      run only the named benchmarks (${BENCHMARKS.map((b) => b.name).join(', ')})
  --no-verify     do not check results against a native build (no host compiler)
  --quiet         no progress messages
  -h, --help      this text`;

/** The repository root: the nearest ancestor holding package.json and bench/guest. */
export function findRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'guest'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the xenkit repository above ${from}`);
    dir = up;
  }
}

async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        json: { type: 'boolean', default: false },
        runs: { type: 'string', default: '3' },
        only: { type: 'string' },
        'no-verify': { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const runs = Number(args.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write(`--runs must be a positive integer\n${USAGE}\n`);
    return 2;
  }
  let selected = BENCHMARKS;
  if (args.only !== undefined) {
    const names = args.only.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
    if (unknown.length > 0) {
      process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}\n${USAGE}\n`);
      return 2;
    }
    selected = BENCHMARKS.filter((b) => names.includes(b.name));
  }

  const ctx: BenchContext = {
    root: findRoot(resolve(dirname(fileURLToPath(import.meta.url)))),
    runs,
    verify: !args['no-verify'],
    progress: (msg) => { if (!args.quiet) process.stderr.write(`[bench] ${msg}\n`); },
  };
  const all: Record<string, Metric> = {};
  for (const b of selected) {
    let result;
    try {
      result = await b.run(ctx);
    } catch (e) {
      const msg = e instanceof BenchFailure ? e.message : (e as Error).stack ?? String(e);
      process.stderr.write(`\nbench ${b.name} FAILED: ${msg}\n`);
      return 1;
    }
    for (const [k, v] of Object.entries(result.metrics)) {
      if (k in all) throw new Error(`metric ${k} reported by two benchmarks`);
      all[k] = v;
    }
    if (!args.json) process.stdout.write(`${result.lines.join('\n')}\n`);
  }
  if (args.json) process.stdout.write(`${JSON.stringify(all)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
