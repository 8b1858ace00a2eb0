/**
 * The guest template's pure helpers, unit-tested on the host: lib/printf.c
 * against the host C library's snprintf (hundreds of thousands of
 * format/argument combinations, truncation included) and lib/div64.c
 * against native 64-bit division (edge values and a million random
 * pairs). `make check` in templates/minios builds and runs both drivers
 * (templates/minios/tests/host/*.c); each prints "<name>: N cases,
 * M failures" and exits non-zero on a failure.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const template = join(root, 'templates', 'minios');
const out = mkdtempSync(join(tmpdir(), 'xenkit-template-host-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

let report = '';

beforeAll(() => {
  try {
    report = execFileSync('make', ['-s', '-C', template, `O=${out}`, 'check'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    // Keep the drivers' FAIL lines: they name the format or the operands.
    report = `${err.stdout ?? ''}\n${err.stderr ?? ''}`;
  }
});

function summary(name: string): { cases: number; failures: number } | null {
  const m = new RegExp(`^${name}: (\\d+) cases, (\\d+) failures$`, 'm').exec(report);
  return m ? { cases: Number(m[1]), failures: Number(m[2]) } : null;
}

describe('template helpers on the host', () => {
  it('printf matches the host snprintf byte for byte', () => {
    const s = summary('printf');
    expect(s, report).not.toBeNull();
    expect(s!.cases).toBeGreaterThan(300);
    expect(s!.failures, report).toBe(0);
  });

  it('the 64-bit division helpers match native division', () => {
    const s = summary('div64');
    expect(s, report).not.toBeNull();
    expect(s!.cases).toBeGreaterThan(100000);
    expect(s!.failures, report).toBe(0);
  });
});
