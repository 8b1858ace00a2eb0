/**
 * tests/guests/events.c booted end to end as a PV and as a PVH guest: the
 * template's event channels (kernel/events.c) on the VMM's 2-level event
 * channels — the boot bindings (VIRQ_TIMER, the xenstore port), a
 * loopback channel, the mask rules, delivery when events are enabled
 * again, re-raising within one upcall, IPIs and closing. PV takes events
 * through the callback_op event callback and returns with the iret
 * hypercall; PVH through HVM_PARAM_CALLBACK_IRQ's vector and iret.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { boot, buildGuest, expectSuccess, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest('events.c');
});

describe('events guest', () => {
  it('PV: bind, send, mask, unmask, close; upcalls through the event callback', () => {
    const r = boot(k.pv);
    expectSuccess(r);
    expect(r.out, explain(r)).toContain('events: PV kernel, upcall via the event callback');
  });

  it('PVH: the same through the callback vector', () => {
    const r = boot(k.pvh);
    expectSuccess(r);
    expect(r.out, explain(r)).toContain('events: PVH kernel, upcall via the callback vector');
  });
});
