/**
 * tests/guests/time.c booted end to end as a PV and as a PVH guest: the
 * template's clock (vcpu_time_info with the version protocol and the
 * scaled TSC, the wall clock) and its sleeping (set_timer_op plus
 * SCHEDOP_block on PV, `sti; hlt` on PVH) on the VMM's deterministic
 * clock — timers fire at their deadlines, the PV default periodic timer
 * is stopped, block wakes for other events too, SCHEDOP_poll times out.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('time.c');
});

describe('time guest', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: the clock, timers, block and poll`, () => {
      const r = boot(k[type]);
      expectSuccess(r);
      // The deterministic clock: 1 ns per instruction plus skipped idle time, so a 10 ms sleep is 10 ms and a bit.
      expect(r.out, explain(r)).toMatch(/^time: msleep\(10\) took 10\.\d{6} ms$/m);
    });
  }
});
