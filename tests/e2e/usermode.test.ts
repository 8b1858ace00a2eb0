/**
 * tests/guests/usermode.c booted end to end as a PV guest: see that file for
 * what the guest checks. It prints "FAILURE: <why>" for each broken check
 * and "Test result: SUCCESS" when all pass, then powers off.
 */
import { beforeAll, describe, it } from 'vitest';
import { boot, buildGuest, expectSuccess, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('usermode.c');
});

describe('usermode guest (PV)', () => {
  it('passes its checks and powers off', () => {
    expectSuccess(boot(k.pv));
  });
});
