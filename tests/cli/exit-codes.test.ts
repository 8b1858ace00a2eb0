/**
 * Exit statuses (src/cli/exit-codes.ts): every SHUTDOWN_* reason and every
 * machine exit has its own documented status, and the help table lists
 * them all.
 */
import { describe, expect, it } from 'vitest';
import { EXIT, EXIT_STATUSES, exitStatusHelp, statusForExit, wantsCrashReport } from '../../src/cli/exit-codes.js';
import { SHUTDOWN } from '../../src/vmm/xen/abi/sched.js';

describe('exit statuses', () => {
  it('map each shutdown reason to its status', () => {
    const s = (reason: number): number => statusForExit({ kind: 'shutdown', reason });
    expect(s(SHUTDOWN.poweroff)).toBe(0);
    expect(s(SHUTDOWN.reboot)).toBe(EXIT.REBOOT);
    expect(s(SHUTDOWN.suspend)).toBe(EXIT.SUSPEND);
    expect(s(SHUTDOWN.crash)).toBe(EXIT.GUEST_CRASH);
    expect(s(SHUTDOWN.watchdog)).toBe(EXIT.WATCHDOG);
    expect(s(SHUTDOWN.soft_reset)).toBe(EXIT.SOFT_RESET);
    expect(s(6)).toBe(EXIT.UNKNOWN_SHUTDOWN);
    expect(s(255)).toBe(EXIT.UNKNOWN_SHUTDOWN);
  });

  it('map crashes, triple faults and halts', () => {
    expect(statusForExit({ kind: 'crash', message: 'x', vector: 6 })).toBe(EXIT.DOMAIN_CRASH);
    expect(statusForExit({ kind: 'triple-fault' })).toBe(EXIT.TRIPLE_FAULT);
    expect(statusForExit({ kind: 'halted' })).toBe(EXIT.HALTED);
  });

  it('are distinct, fit in a byte, and are all documented', () => {
    const values = Object.values(EXIT);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v >= 0 && v < 256).toBe(true);
    expect(EXIT_STATUSES.map(([n]) => n).sort((a, b) => a - b)).toEqual([...values].sort((a, b) => a - b));
    const help = exitStatusHelp();
    for (const [n, text] of EXIT_STATUSES) expect(help).toContain(`${n}`.padEnd(4) + ' ' + text);
  });

  it('ask for a crash report exactly for crashes', () => {
    expect([...Object.values(EXIT)].filter(wantsCrashReport).sort()).toEqual(
      [EXIT.GUEST_CRASH, EXIT.DOMAIN_CRASH, EXIT.TRIPLE_FAULT].sort());
  });
});
