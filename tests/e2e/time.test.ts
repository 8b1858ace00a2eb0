/**
 * tests/guests/time.c booted end to end as a PV and as a PVH guest: the
 * template's clock (vcpu_time_info with the version protocol and the
 * scaled TSC, the wall clock) and its sleeping (set_timer_op plus
 * SCHEDOP_block on PV, `sti; hlt` on PVH) on the VMM's deterministic
 * clock — timers fire at their deadlines, the PV default periodic timer
 * is stopped, block wakes for other events too, SCHEDOP_poll times out.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine, type MachineExit } from '../../src/vmm/machine.js';
import { GUEST_MEMORY, boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

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

describe('lockstep (Machine.skipLimitNs, as `xenkit run --and` uses it)', () => {
  it('PV: time never passes the horizon, sleeps end there, and the guest sees exactly what it sees alone', () => {
    const alone = boot(k.pv);
    expectSuccess(alone);
    const decoder = new TextDecoder();
    let out = '';
    const m = new Machine({
      kernel: inspectKernel(new Uint8Array(readFileSync(k.pv)), k.pv), memory: GUEST_MEMORY, cmdline: '',
      console: { write: (b) => { out += decoder.decode(b, { stream: true }); } },
    });
    const QUANTUM = 250_000n;
    let horizon = 0n, idles = 0, exit: MachineExit | null = null;
    for (let round = 0; round < 1_000_000 && exit === null; round++) {
      horizon += QUANTUM;
      m.skipLimitNs = horizon;
      const r = m.step(1 << 30);
      expect(m.domain.time.nowNs()).toBeLessThanOrEqual(horizon);
      if (r === null) continue;
      if (r.kind === 'idle') {
        idles++;
        expect(m.domain.time.nowNs()).toBe(horizon); // slept up to the horizon, not to its timer
        continue;
      }
      exit = r;
    }
    expect(exit).toEqual(alone.exit);
    expect(idles).toBeGreaterThan(10); // msleep(10) alone spans 40 quanta
    expect(out.replace(/\r\n/g, '\n')).toBe(alone.out);
  });
});
