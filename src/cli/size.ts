/**
 * Memory sizes on the command line: `64M`, `1G`, `65536K`, `1.5G`, or a
 * bare number of MiB (as `xl`'s `memory =` and QEMU's `-m`). Suffixes are
 * binary (K = 1024) and case-insensitive, and may be spelt K/KB/KiB, M/MB/MiB,
 * G/GB/GiB; `B` means bytes. The result must be a whole number of 4 KiB
 * pages within the limits the caller gives (the Machine's MIN/MAX_MEMORY).
 */
import { CliError } from './errors.js';

const UNITS: Readonly<Record<string, number>> = { b: 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 };

/** "64M", "1536M", "4100K": the shortest exact spelling of a byte count. */
export function formatSize(bytes: number): string {
  if (bytes % (1 << 30) === 0) return `${bytes / (1 << 30)}G`;
  if (bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}M`;
  if (bytes % (1 << 10) === 0) return `${bytes / (1 << 10)}K`;
  return `${bytes}B`;
}

/**
 * Parse a size for option `what` (e.g. "--memory"); throws a one-line
 * CliError naming the option, the value and what is accepted.
 */
export function parseSize(text: string, what: string, limits: { min: number; max: number; align?: number }): number {
  const align = limits.align ?? 4096;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgb])(?:i?b)?)?\s*$/i.exec(text);
  if (m === null) {
    throw new CliError(`${what} ${JSON.stringify(text)} is not a size: use a number with K, M or G, e.g. 64M, 1G or 65536K (a bare number is MiB)`);
  }
  const unit = UNITS[(m[2] ?? 'm').toLowerCase()]!;
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new CliError(`${what} ${text.trim()} is not a whole number of bytes`);
  if (bytes < limits.min) throw new CliError(`${what} ${text.trim()} is too small: the guest needs at least ${formatSize(limits.min)}`);
  if (bytes > limits.max) throw new CliError(`${what} ${text.trim()} is too large: at most ${formatSize(limits.max)}`);
  if (bytes % align !== 0) throw new CliError(`${what} ${text.trim()} is not a multiple of ${formatSize(align)} (the page size)`);
  return bytes;
}
