/**
 * --memory parsing (src/cli/size.ts): the spellings users type, and a
 * one-line error naming the option for everything else.
 */
import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from '../../src/cli/size.js';
import { CliError } from '../../src/cli/errors.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { MEMORY_RANGE_HELP } from '../../src/cli/program.js';
import { DEFAULT_MEMORY, MAX_MEMORY, MIN_MEMORY } from '../../src/vmm/machine.js';

const LIMITS = { min: MIN_MEMORY, max: MAX_MEMORY };
const parse = (s: string): number => parseSize(s, '--memory', LIMITS);

function error(s: string): CliError {
  try {
    parse(s);
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error(`"${s}" was accepted`);
}

describe('parseSize', () => {
  it('accepts K, M and G in any case and spelling, binary units', () => {
    expect(parse('64M')).toBe(64 << 20);
    expect(parse('64m')).toBe(64 << 20);
    expect(parse('64MiB')).toBe(64 << 20);
    expect(parse('64MB')).toBe(64 << 20);
    expect(parse('1G')).toBe(1 << 30);
    expect(parse('1.5G')).toBe(1536 << 20);
    expect(parse('65536K')).toBe(64 << 20);
    expect(parse('65536kib')).toBe(64 << 20);
    expect(parse(' 128 M ')).toBe(128 << 20);
    expect(parse(`${8 << 20}B`)).toBe(8 << 20);
  });

  it('reads a bare number as MiB', () => {
    expect(parse('64')).toBe(64 << 20);
  });

  it('takes the limits it is given, inclusive', () => {
    expect(parse('4M')).toBe(4 << 20);
    expect(parse('1536M')).toBe(1536 << 20);
  });

  it('rejects what is not a size, naming the option and value', () => {
    for (const bad of ['', 'abc', '64X', '-64M', '1e3M', '64 MM', 'M']) {
      const e = error(bad);
      expect(e.message).toContain('--memory');
      expect(e.message).toMatch(/not a size/);
      expect(e.status).toBe(EXIT.USAGE);
    }
  });

  it('rejects sizes out of range with the limit in the message', () => {
    expect(error('3M').message).toBe('--memory 3M is too small: the guest needs at least 4M');
    expect(error('0').message).toMatch(/too small/);
    expect(error('2G').message).toBe('--memory 2G is too large: at most 1536M');
    expect(error('99999999999999999999G').message).toMatch(/not a whole number|too large/);
  });

  it('rejects sizes that are not whole pages', () => {
    expect(error('4097K').message).toBe('--memory 4097K is not a multiple of 4K (the page size)');
    expect(error('64.0001M').message).toMatch(/whole number of bytes|multiple of 4K/);
  });

  it('messages are one line', () => {
    for (const bad of ['x', '3M', '2G', '4097K']) expect(error(bad).message).not.toContain('\n');
  });
});

describe('formatSize', () => {
  it('prints the shortest exact unit', () => {
    expect(formatSize(1 << 30)).toBe('1G');
    expect(formatSize(1536 << 20)).toBe('1536M');
    expect(formatSize(4100 << 10)).toBe('4100K');
    expect(formatSize(1000)).toBe('1000B');
  });
});

describe('--memory help', () => {
  it('states the Machine\'s limits and default', () => {
    expect(MEMORY_RANGE_HELP).toBe(`${formatSize(MIN_MEMORY)} to ${formatSize(MAX_MEMORY)}`);
    expect(parse('64M')).toBe(DEFAULT_MEMORY); // the option's default, '64M'
  });
});
