/**
 * tests/guests/console.c booted end to end as a PV and as a PVH guest:
 * console input through the PV console ring. The test types INPUT before
 * boot (the backend feeds it into in[] as the guest consumes, so a line
 * longer than the ring arrives whole) and "late\n" once the guest sleeps
 * waiting for input with no deadline (the backend's notification wakes
 * it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('console.c');
});

const INPUT = 'hello\na\r\nb\nab\x7fc\n\x01\x02tab\n' + 'x'.repeat(1500) + '\n' + 'y'.repeat(200) + '\n' + '\x04after\n';

describe('console guest', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: lines, rub-out, end of input, timeouts and input that wakes a sleeping guest`, () => {
      const r = boot(k[type], { input: INPUT, lateInput: ['late\n'] });
      expectSuccess(r);
      // The late line was echoed (console_readline with echo) after the guest said it waits.
      expect(r.out, explain(r)).toMatch(/console: waiting for input, no deadline\nlate\n/);
    });
  }
});
