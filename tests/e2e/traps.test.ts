/**
 * tests/guests/traps.c booted end to end as a PV and as a PVH guest: the
 * template's trap_set_handler() gets #DE, #UD, #BP and #GP with the right
 * vector, error code and frame, and resumes after the instruction — on
 * Xen's trap table with the iret hypercall (PV), and on the IDT with iret
 * (PVH).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('traps.c');
});

describe('traps guest', () => {
  it('PV: handlers on the trap table see every exception and resume', () => {
    const r = boot(k.pv);
    expectSuccess(r);
    expect(r.out, explain(r)).toContain("traps: PV kernel, handlers on Xen's trap table");
  });

  it('PVH: handlers on the IDT see every exception and resume', () => {
    const r = boot(k.pvh);
    expectSuccess(r);
    expect(r.out, explain(r)).toContain('traps: PVH kernel, handlers on the IDT');
  });
});
