/**
 * Guests that end badly (tests/guests/crash.c, one way per command-line
 * word): where real Xen would crash the domain — an exception with no
 * trap-table entry, or a bounce frame that cannot be written — the machine
 * stops with a `crash` exit naming the vector; the template's panic()
 * and its failsafe callback (entered when Xen cannot load the selectors
 * of an iret) instead shut down cleanly with SHUTDOWN_crash. Each guest announces
 * what it is about to do, and nothing runs after it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN, boot, buildGuest, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('crash.c');
});

function crashWith(word: string) {
  const r = boot(k.pv, { cmdline: word });
  const why = explain(r);
  expect(r.out, why).toContain(`crash: ${word}\n`);
  expect(r.out, why).not.toMatch(/survived|Test result:/);
  return { r, why };
}

describe('crash guest (PV): Xen crashes the domain', () => {
  it('int3 with the trap table cleared', () => {
    const { r, why } = crashWith('int3');
    expect(r.exit, why).toMatchObject({ kind: 'crash', vector: 3 });
  });

  it('ud2 with the trap table cleared', () => {
    const { r, why } = crashWith('ud2');
    expect(r.exit, why).toMatchObject({ kind: 'crash', vector: 6 });
  });

  it('a page fault with the trap table cleared', () => {
    const { r, why } = crashWith('pf');
    expect(r.exit, why).toMatchObject({ kind: 'crash', vector: 14, errorCode: 0 });
    // Xen writes vcpu_info.arch.cr2 before it finds there is no handler.
    expect(r.machine.domain.mem.read32(r.machine.domain.sharedInfoPa + 8) >>> 0, why).toBe(0x40000000);
  });

  it('an exception whose bounce frame cannot be written (ESP on an unmapped page)', () => {
    const { r, why } = crashWith('badstack');
    expect(r.exit, why).toMatchObject({ kind: 'crash' });
  });
});

describe('crash guest (PV): the guest gives up', () => {
  it('an iret to a selector Xen cannot load: the failsafe callback reports it and shuts down with SHUTDOWN_crash', () => {
    const { r, why } = crashWith('failsafe');
    expect(r.out, why).toContain('*** Failsafe callback: Xen could not load a segment register on return\n' +
      '    to eip 0x12345678 cs 0x0009: ds 0xe021 es 0xe021 fs 0xe021 gs 0xe021\n');
    expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.crash });
  });

  it('panic() prints PANIC and shuts down with SHUTDOWN_crash', () => {
    const { r, why } = crashWith('panic');
    expect(r.out, why).toContain('PANIC: the crash guest panics on purpose');
    expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.crash });
  });
});
