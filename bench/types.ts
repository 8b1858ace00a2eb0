/**
 * The benchmark runner's plug-in interface: what one benchmark is, what it
 * is given, and what it reports. bench/index.ts runs every benchmark of its
 * list in order and merges their metrics into one JSON object.
 */

/** One reported figure: a number (ms, MIPS, counts) or a short string (a checksum). */
export type Metric = number | string;

export interface BenchContext {
  /** Repository root (the folder holding package.json and bench/). */
  root: string;
  /** Timed runs after the warm-up; the best one is reported. */
  runs: number;
  /** Skip the comparison against a native build (no host compiler). */
  verify: boolean;
  /** Progress messages (stderr, so `--json` output stays clean). */
  progress(msg: string): void;
}

export interface BenchResult {
  /** Figures by key (e.g. cpu_mips); keys are unique across all benchmarks. */
  metrics: Record<string, Metric>;
  /** Human-readable lines, headline first ("cpu_mips: 123.4  (...)"). */
  lines: string[];
}

export interface Benchmark {
  /** Short name, used by `--only`. */
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}

/** A benchmark that could not produce a trustworthy figure (wrong checksum, guest fault, ...). */
export class BenchFailure extends Error {
  override readonly name = 'BenchFailure';
}
