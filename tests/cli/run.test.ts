/**
 * `xenkit run` in-process (src/cli/run.ts with a fake RunHost): the paths
 * a spawned CLI cannot reach on demand — an exception inside the VMM (an
 * internal error: one line, a hint, a stack only with XENKIT_DEBUG=1), the
 * colour policy (a terminal, NO_COLOR), and SIGINT between slices.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand, wantColour, type RunHost } from '../../src/cli/run.js';
import { reportInternalError } from '../../src/cli/errors.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { Machine } from '../../src/vmm/machine.js';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PV_MIN = fileURLToPath(new URL('../fixtures/loader/pv-min.elf', import.meta.url));

interface Fake extends RunHost { out: string; err: string; interrupt(): void }

function host(env: NodeJS.ProcessEnv = {}, tty = false): Fake {
  let handler: (() => void) | null = null;
  const dec = new TextDecoder();
  const h: Fake = {
    out: '', err: '',
    stdout: { write: (c) => { h.out += typeof c === 'string' ? c : dec.decode(c); return true; } },
    stderr: { isTTY: tty, write: (c) => { h.err += typeof c === 'string' ? c : dec.decode(c); return true; } },
    env,
    onInterrupt(f) { handler = f; return () => { handler = null; }; },
    interrupt() { handler?.(); },
  };
  return h;
}

const OPTS = { memory: '16M', cmdline: '' };

afterEach(() => { vi.restoreAllMocks(); });

describe('runCommand', () => {
  it('runs pv-min to a poweroff', async () => {
    const h = host();
    expect(await runCommand(PV_MIN, OPTS, h)).toBe(0);
    expect(h.out).toBe('hello from pv-min\n');
    expect(h.err).toBe('');
  });

  it('reports an exception inside the VMM as one internal-error line and a hint', async () => {
    vi.spyOn(Machine.prototype, 'step').mockImplementation(() => { throw new TypeError('cannot read properties of undefined'); });
    const h = host();
    expect(await runCommand(PV_MIN, OPTS, h)).toBe(EXIT.INTERNAL);
    const lines = h.err.trimEnd().split('\n');
    expect(lines).toEqual([
      'xenkit: internal error: cannot read properties of undefined',
      'xenkit: this is a bug in xenkit; please report it with the kernel and the command line (XENKIT_DEBUG=1 shows the stack)',
    ]);
  });

  it('adds the stack and the machine state with XENKIT_DEBUG=1', async () => {
    vi.spyOn(Machine.prototype, 'step').mockImplementation(() => { throw new Error('broken invariant'); });
    const h = host({ XENKIT_DEBUG: '1' });
    expect(await runCommand(PV_MIN, OPTS, h)).toBe(EXIT.INTERNAL);
    expect(h.err).toContain('xenkit: internal error: broken invariant');
    expect(h.err).toMatch(/^\s+at /m);
    expect(h.err).toContain('=== xenkit crash report ===');
  });

  it('stops between slices on SIGINT with status 130', async () => {
    const h = host();
    // A machine that never ends: every slice returns "still running"; the second asks for SIGINT.
    let slices = 0;
    vi.spyOn(Machine.prototype, 'step').mockImplementation(() => { if (++slices === 2) h.interrupt(); return null; });
    expect(await runCommand(PV_MIN, OPTS, h)).toBe(EXIT.INTERRUPTED);
    expect(slices).toBe(2);
    expect(h.err).toMatch(/^xenkit: interrupted \(SIGINT\) after 0 guest instructions, at eip 0x00100000 \(_start\)\n$/);
  });

  it('colours the crash report only on a terminal without NO_COLOR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-run-'));
    const crash = join(dir, 'crash.elf');
    const b = readFileSync(PV_MIN);
    const at = b.indexOf(Buffer.from('hello from pv-min\n')) + 0x14; // shutdown_arg
    b.writeUInt32LE(3, at);
    writeFileSync(crash, b);
    const tty = host({}, true), noColour = host({ NO_COLOR: '1' }, true), pipe = host({}, false);
    for (const h of [tty, noColour, pipe]) expect(await runCommand(crash, OPTS, h)).toBe(EXIT.GUEST_CRASH);
    expect(tty.err).toContain('\x1b[');
    expect(noColour.err).not.toContain('\x1b[');
    expect(pipe.err).not.toContain('\x1b[');
    expect(tty.out).not.toContain('\x1b['); // guest output is never touched
  });
});

describe('wantColour', () => {
  it('follows isTTY and NO_COLOR (set and non-empty disables)', () => {
    expect(wantColour({ isTTY: true }, {})).toBe(true);
    expect(wantColour({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(wantColour({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(wantColour({ isTTY: false }, {})).toBe(false);
    expect(wantColour({}, {})).toBe(false);
  });
});

describe('reportInternalError', () => {
  it('prints a non-Error value and only its first line', () => {
    let s = '';
    expect(reportInternalError('line one\nline two', (x) => { s += x; }, {})).toBe(EXIT.INTERNAL);
    expect(s.split('\n')[0]).toBe('xenkit: internal error: line one');
    expect(s).not.toContain('line two');
  });
});
