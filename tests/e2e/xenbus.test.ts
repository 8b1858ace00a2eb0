/**
 * tests/guests/xenbus.c booted end to end as a PV and as a PVH guest: the
 * template's xenstore client (kernel/xenbus.c) against the in-VMM
 * xenstored and the toolstack's tree — reads, writes, directories,
 * errors as errno values, messages bigger than the ring, watches (with
 * the initial event and events queued between replies) and transactions
 * with the -EAGAIN retry loop.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { XsClient } from '../../src/vmm/devices/xenstore/index.js';
import { boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('xenbus.c');
});

describe('xenbus guest', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: read, write, directory, watch and transactions`, () => {
      const r = boot(k[type]);
      expectSuccess(r);
      expect(r.out, explain(r)).toContain('xenbus: domid 1\nxenbus: name "xenkit-guest"');
      // What the guest's transactions committed is in the VMM's store, seen from dom0.
      const xs = new XsClient(r.machine.xenstore, 0);
      expect(xs.read('/local/domain/1/data/tx/a'), explain(r)).toBe('in-tx');
      expect(xs.read('/local/domain/1/data/counter'), explain(r)).toBe('21');
      expect(xs.tryRead('/local/domain/1/data/tx/b'), explain(r)).toBeUndefined();
      xs.close();
    });
  }
});
