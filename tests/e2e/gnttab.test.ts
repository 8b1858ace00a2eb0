/**
 * tests/guests/gnttab.c booted end to end as a PV and as a PVH guest: the
 * template's grant table (kernel/gnttab.c: setup_table and mapped frames
 * on PV, add_to_physmap on PVH; grant_access / end_access) checked
 * through the VMM's grant engine — the entry layout, GNTTABOP_copy from
 * and into the domain's own grants, and on PV a map_grant_ref of one.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('gnttab.c');
});

describe('gnttab guest', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: the table, grants, copies${type === 'pv' ? ' and a mapping' : ''}`, () => {
      const r = boot(k[type]);
      expectSuccess(r);
      expect(r.out, explain(r)).toMatch(/^gnttab: 2048 entries in 4 frames/m);
    });
  }
});
