/**
 * Event channels (src/vmm/xen/events.ts, hypercalls/evtchn.ts) against
 * Xen's rules (reference §3.2, §3.3, §4 "Two-level event channel rules",
 * "Upcall delivery"; Xen's event_channel.c, event_2l.c):
 *  - the 2-level bits: set_pending masked and unmasked, selector bits,
 *    upcall_pending, unmask re-raising, the hooks that kick and wake;
 *  - every EVTCHNOP with its errors: bad ports, double binds, closing bound
 *    ports, reset, the struct copy-back, the compat wrapper;
 *  - backends as dom0: the toolstack's channels, binding either way round,
 *    notifications both ways, closing either end;
 *  - upcall delivery on a whole Machine: the PV bounce to the event
 *    callback (frame, mask), right after the iret hypercall that unmasks,
 *    within EVENT_CHECK_INTERVAL after the mask is cleared behind Xen's
 *    back, the crash without a callback, the failsafe callback; PVH vector
 *    injection through the IDT (CALLBACK_IRQ and the per-vCPU vector),
 *    gated by IF, waking `hlt`; debugger steps that never enter a handler.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu } from '../../src/vmm/cpu/index.js';
import { CR0_PG, CR0_WP } from '../../src/vmm/cpu/cpu.js';
import { Domain, type GuestType } from '../../src/vmm/xen/domain.js';
import { DOM0, EventChannels, NR_EVENT_CHANNELS, type BackendChannel } from '../../src/vmm/xen/events.js';
import { registerHypercalls } from '../../src/vmm/xen/hypercalls/index.js';
import { XEN_ERRNO } from '../../src/vmm/xen/abi/errno.js';
import { DOMID, HYPERCALL, VIRQ } from '../../src/vmm/xen/abi/xen.js';
import { EVENT_CHECK_INTERVAL } from '../../src/vmm/machine.js';
import { HC, pvRig, pvhRig, regs, runTo, setGate } from './rig.js';

const E = XEN_ERRNO;
const SI = 0x5000;
const PENDING = SI + 2048, MASK = SI + 2176, SEL = SI + 4, UPCALL = SI;

/** An events core over bare memory, with hook counters. */
function core() {
  const mem = new PhysMemory(64 * 4096, 0);
  const ev = new EventChannels(mem, () => SI, 1);
  const kicks: number[] = [];
  const raised: number[] = [];
  ev.onUpcall = () => kicks.push(1);
  ev.onPending = (p) => raised.push(p);
  const word = (base: number, w = 0) => mem.read32(base + w * 4) >>> 0;
  return { mem, ev, kicks, raised, word, upcall: () => mem.read8(UPCALL), sel: () => mem.read32(SEL) >>> 0 };
}

describe('2-level bits (event_2l.c)', () => {
  it('set_pending on an unmasked port sets pending, the selector bit and upcall_pending, and kicks once', () => {
    const t = core();
    t.ev.setPending(5);
    expect(t.word(PENDING)).toBe(1 << 5);
    expect(t.sel()).toBe(1);
    expect(t.upcall()).toBe(1);
    expect(t.kicks).toHaveLength(1);
    expect(t.raised).toEqual([5]);
    // Already pending: nothing at all (no poller wake either).
    t.ev.setPending(5);
    expect(t.raised).toEqual([5]);
    // Same word, selector already set: only the pending bit.
    t.ev.setPending(7);
    expect(t.word(PENDING)).toBe((1 << 5) | (1 << 7));
    expect(t.kicks).toHaveLength(1);
    expect(t.raised).toEqual([5, 7]);
    // Another word: its selector bit; upcall_pending already set, so no kick.
    t.ev.setPending(33);
    expect(t.word(PENDING, 1)).toBe(2);
    expect(t.sel()).toBe(3);
    expect(t.kicks).toHaveLength(1);
  });

  it('set_pending on a masked port sets only the pending bit (pollers still hear it)', () => {
    const t = core();
    t.ev.mask(40);
    t.ev.setPending(40);
    expect(t.word(PENDING, 1)).toBe(1 << 8);
    expect([t.sel(), t.upcall(), t.kicks.length]).toEqual([0, 0, 0]);
    expect(t.raised).toEqual([40]);
  });

  it('kicks again only after the guest cleared upcall_pending', () => {
    const t = core();
    t.ev.setPending(1);
    t.mem.write8(UPCALL, 0); t.mem.write32(SEL, 0); t.mem.write32(PENDING, 0);
    t.ev.setPending(2);
    expect(t.kicks).toHaveLength(2);
    // Selector clear but upcall_pending still set: selector bit only.
    t.mem.write32(SEL, 0); t.mem.write32(PENDING, 0);
    t.ev.setPending(3);
    expect([t.sel(), t.kicks.length]).toEqual([1, 2]);
  });

  it('unmask re-raises a pending port: selector bit and upcall_pending', () => {
    const t = core();
    const p = t.ev.bindIpi(0);
    t.ev.mask(p);
    t.ev.setPending(p);
    expect(t.upcall()).toBe(0);
    expect(t.ev.unmask(p)).toBe(0);
    expect(t.ev.isMasked(p)).toBe(false);
    expect([t.sel(), t.upcall(), t.kicks.length]).toEqual([1, 1, 1]);
    // Unmasking again (bit already clear) does nothing.
    t.mem.write8(UPCALL, 0); t.mem.write32(SEL, 0);
    expect(t.ev.unmask(p)).toBe(0);
    expect([t.sel(), t.upcall()]).toEqual([0, 0]);
  });

  it('unmask: selector bit already set → no new upcall; not pending → only the mask clears', () => {
    const t = core();
    const a = t.ev.bindIpi(0), b = t.ev.bindIpi(0);
    t.ev.mask(a); t.ev.setPending(a);
    t.mem.write32(SEL, 1);
    t.ev.unmask(a);
    expect([t.upcall(), t.kicks.length]).toEqual([0, 0]);
    t.mem.write32(SEL, 0);
    t.ev.mask(b);
    t.ev.unmask(b);
    expect([t.ev.isMasked(b), t.sel(), t.upcall()]).toEqual([false, 0, 0]);
  });

  it('unmask of a free or reserved port succeeds and changes nothing; ≥ 1024 is -EINVAL', () => {
    const t = core();
    t.ev.mask(9); t.ev.mask(0);
    expect(t.ev.unmask(9)).toBe(0);
    expect(t.ev.unmask(0)).toBe(0);
    expect(t.word(MASK)).toBe((1 << 9) | 1);
    expect(t.ev.unmask(NR_EVENT_CHANNELS)).toBe(-E.EINVAL);
    expect(t.ev.unmask(-1)).toBe(-E.EINVAL);
  });

  it('raiseWouldKick predicts a kick exactly', () => {
    const t = core();
    expect(t.ev.raiseWouldKick(4)).toBe(true);
    t.ev.mask(4);
    expect(t.ev.raiseWouldKick(4)).toBe(false);
    t.ev.setPending(6);
    expect(t.ev.raiseWouldKick(8)).toBe(false); // upcall already pending
  });
});

describe('EVTCHNOP rules (event_channel.c)', () => {
  it('allocates the lowest free port and runs out at 1023 (-ENOSPC)', () => {
    const t = core();
    expect(t.ev.allocUnbound(0)).toBe(1);
    expect(t.ev.allocUnbound(DOMID.SELF)).toBe(2);
    expect(t.ev.ports[2]!.remoteDom).toBe(1); // DOMID_SELF means the domain itself
    expect(t.ev.close(1)).toBe(0);
    expect(t.ev.bindIpi(0)).toBe(1);
    for (let i = 3; i < NR_EVENT_CHANNELS; i++) expect(t.ev.allocUnbound(0)).toBe(i);
    expect(t.ev.allocUnbound(0)).toBe(-E.ENOSPC);
    expect(t.ev.bindIpi(0)).toBe(-E.ENOSPC);
    expect(t.ev.bindVirq(VIRQ.TIMER, 0)).toBe(-E.ENOSPC);
  });

  it('bind_virq: range, global VIRQs on vCPU 0 only, one port per VIRQ; sendVirq raises it', () => {
    const t = core();
    expect(t.ev.bindVirq(24, 0)).toBe(-E.EINVAL);
    expect(t.ev.bindVirq(0xffffffff, 0)).toBe(-E.EINVAL);
    expect(t.ev.bindVirq(VIRQ.CONSOLE, 1)).toBe(-E.EINVAL); // global
    expect(t.ev.bindVirq(VIRQ.TIMER, 1)).toBe(-E.ENOENT); // per-vCPU, no vCPU 1
    const p = t.ev.bindVirq(VIRQ.TIMER, 0);
    expect(p).toBe(1);
    expect(t.ev.bindVirq(VIRQ.TIMER, 0)).toBe(-E.EEXIST);
    expect(t.ev.bindVirq(VIRQ.DEBUG, 0)).toBe(2);
    expect(t.ev.bindVirq(VIRQ.CONSOLE, 0)).toBe(3);
    t.ev.sendVirq(VIRQ.CONSOLE);
    expect(t.raised).toEqual([3]);
    t.ev.sendVirq(VIRQ.DOM_EXC); // not bound: nothing
    expect(t.raised).toEqual([3]);
    expect(t.ev.send(p)).toBe(-E.EINVAL); // a VIRQ port cannot be sent on
    expect(t.ev.close(p)).toBe(0);
    t.ev.sendVirq(VIRQ.TIMER);
    expect(t.raised).toEqual([3]);
    expect(t.ev.bindVirq(VIRQ.TIMER, 0)).toBe(1);
  });

  it('bind_ipi: send raises the port itself', () => {
    const t = core();
    expect(t.ev.bindIpi(2)).toBe(-E.ENOENT);
    const p = t.ev.bindIpi(0);
    expect(t.ev.send(p)).toBe(0);
    expect(t.ev.isPending(p)).toBe(true);
  });

  it('loopback interdomain channels: bind, conservative notify, send both ways, close', () => {
    const t = core();
    const a = t.ev.allocUnbound(DOMID.SELF);
    expect(t.ev.bindInterdomain(DOMID.SELF, a + 5)).toBe(-E.EINVAL); // not unbound
    expect(t.ev.bindInterdomain(7, a)).toBe(-E.ESRCH); // no such domain
    const b = t.ev.bindInterdomain(1, a);
    expect(b).toBe(a + 1);
    expect(t.ev.isPending(b)).toBe(true); // Xen marks the new local port pending
    expect(t.ev.isPending(a)).toBe(false);
    expect(t.ev.ports[a]).toMatchObject({ state: 'interdomain', remoteDom: 1, remotePort: b });
    expect(t.ev.bindInterdomain(DOMID.SELF, a)).toBe(-E.EINVAL); // already bound
    t.ev.clearPending(b);
    expect(t.ev.send(a)).toBe(0);
    expect([t.ev.isPending(b), t.ev.isPending(a)]).toEqual([true, false]);
    expect(t.ev.send(b)).toBe(0);
    expect(t.ev.isPending(a)).toBe(true);
    expect(t.ev.close(a)).toBe(0);
    expect(t.ev.isPending(a)).toBe(false); // close clears pending
    expect(t.ev.ports[b]).toMatchObject({ state: 'unbound', remoteDom: 1 });
    expect(t.ev.send(b)).toBe(0); // unbound: dropped silently
  });

  it('a port unbound for another domain cannot be bound by this one', () => {
    const t = core();
    const p = t.ev.allocUnbound(0); // for dom0
    expect(t.ev.bindInterdomain(DOMID.SELF, p)).toBe(-E.EINVAL);
    expect(t.ev.ports[p + 1]!.state).toBe('free'); // the local port was not taken
  });

  it('close: free, reserved and out-of-range ports -EINVAL; the mask bit survives', () => {
    const t = core();
    expect(t.ev.close(0)).toBe(-E.EINVAL);
    expect(t.ev.close(3)).toBe(-E.EINVAL);
    expect(t.ev.close(1024)).toBe(-E.EINVAL);
    const p = t.ev.bindIpi(0);
    t.ev.mask(p); t.ev.setPending(p);
    expect(t.ev.close(p)).toBe(0);
    expect([t.ev.isPending(p), t.ev.isMasked(p), t.ev.ports[p]!.state]).toEqual([false, true, 'free']);
    expect(t.ev.close(p)).toBe(-E.EINVAL);
  });

  it('send: free, reserved, virq and bad ports -EINVAL; unbound 0', () => {
    const t = core();
    expect(t.ev.send(0)).toBe(-E.EINVAL);
    expect(t.ev.send(4)).toBe(-E.EINVAL);
    expect(t.ev.send(5000)).toBe(-E.EINVAL);
    expect(t.ev.send(t.ev.allocUnbound(0))).toBe(0);
  });

  it('bind_vcpu: vCPU 0 only; unbound, interdomain and global VIRQs', () => {
    const t = core();
    const u = t.ev.allocUnbound(0), ipi = t.ev.bindIpi(0);
    const timer = t.ev.bindVirq(VIRQ.TIMER, 0), cons = t.ev.bindVirq(VIRQ.CONSOLE, 0);
    expect(t.ev.bindVcpu(u, 1)).toBe(-E.ENOENT);
    expect(t.ev.bindVcpu(5000, 1)).toBe(-E.ENOENT); // the vCPU is checked first
    expect(t.ev.bindVcpu(5000, 0)).toBe(-E.EINVAL);
    expect(t.ev.bindVcpu(u, 0)).toBe(0);
    expect(t.ev.bindVcpu(cons, 0)).toBe(0);
    expect(t.ev.bindVcpu(timer, 0)).toBe(-E.EINVAL);
    expect(t.ev.bindVcpu(ipi, 0)).toBe(-E.EINVAL);
    expect(t.ev.bindVcpu(99, 0)).toBe(-E.EINVAL);
  });

  it('reset closes every port, VIRQ bindings and backends included', () => {
    const t = core();
    const u = t.ev.allocUnbound(0);
    const ch = t.ev.bindBackend(u) as BackendChannel;
    t.ev.bindVirq(VIRQ.TIMER, 0);
    t.ev.bindIpi(0);
    t.ev.setPending(u);
    expect(t.ev.reset()).toBe(0);
    for (let p = 1; p < 8; p++) expect(t.ev.ports[p]!.state).toBe('free');
    expect(t.ev.virqToPort[VIRQ.TIMER]).toBe(0);
    expect(t.ev.isPending(u)).toBe(false);
    expect(ch.connected).toBe(false);
    expect(ch.notify()).toBe(false);
  });
});

describe('backends as domain 0', () => {
  it('bindBackend connects to a port the guest allocated for dom0; sends run the handler, notify raises the guest', () => {
    const t = core();
    const p = t.ev.allocUnbound(DOM0);
    const seen: number[] = [];
    const ch = t.ev.bindBackend(p, (c) => seen.push(c.guestPort)) as BackendChannel;
    expect(typeof ch).toBe('object');
    expect(seen).toEqual([p]); // Xen's conservative notification of the binder
    expect(ch.backendPort).toBe(1);
    expect(t.ev.ports[p]).toMatchObject({ state: 'interdomain', remoteDom: 0, remotePort: 1 });
    expect(t.ev.send(p)).toBe(0);
    expect(seen).toEqual([p, p]);
    expect(ch.notify()).toBe(true);
    expect(t.ev.isPending(p)).toBe(true);
    expect(t.ev.backendOf(p)).toBe(ch);
    expect(t.ev.notifyGuest(p)).toBe(true);
    expect(t.ev.notifyGuest(p + 1)).toBe(false);
  });

  it('bindBackend refuses ports that are not unbound for dom0', () => {
    const t = core();
    expect(t.ev.bindBackend(3)).toBe(-E.EINVAL);
    expect(t.ev.bindBackend(t.ev.allocUnbound(DOMID.SELF))).toBe(-E.EINVAL);
    const p = t.ev.allocUnbound(0);
    t.ev.bindBackend(p);
    expect(t.ev.bindBackend(p)).toBe(-E.EINVAL);
    expect(t.ev.bindBackend(5000)).toBe(-E.EINVAL);
  });

  it('the guest closing its end leaves dom0 unbound for it, and it can bind again', () => {
    const t = core();
    const p = t.ev.allocUnbound(0);
    const seen: string[] = [];
    const ch = t.ev.bindBackend(p, () => seen.push('send')) as BackendChannel;
    expect(t.ev.close(p)).toBe(0);
    expect(ch.connected).toBe(false);
    expect(ch.notify()).toBe(false);
    const q = t.ev.bindInterdomain(0, ch.backendPort);
    expect(q).toBe(p);
    expect(ch.guestPort).toBe(q);
    expect(t.ev.isPending(q)).toBe(true);
    expect(t.ev.bindInterdomain(0, ch.backendPort)).toBe(-E.EINVAL); // bound now
    expect(t.ev.bindInterdomain(0, 99)).toBe(-E.EINVAL); // no such dom0 port
  });

  it('allocBackendUnbound: the guest binds to dom0’s port with bind_interdomain', () => {
    const t = core();
    let sends = 0;
    const ch = t.ev.allocBackendUnbound(() => { sends++; });
    expect(ch.connected).toBe(false);
    const p = t.ev.bindInterdomain(0, ch.backendPort);
    expect(p).toBe(1);
    expect(ch.connected).toBe(true);
    t.ev.send(p);
    expect(sends).toBe(1);
  });

  it('dom0 closing its end leaves the guest port unbound for dom0', () => {
    const t = core();
    const p = t.ev.allocUnbound(0);
    const ch = t.ev.bindBackend(p) as BackendChannel;
    ch.close();
    expect(t.ev.ports[p]).toMatchObject({ state: 'unbound', remoteDom: 0 });
    expect(ch.notify()).toBe(false);
    expect(t.ev.send(p)).toBe(0);
    const again = t.ev.bindBackend(p) as BackendChannel;
    expect(again.backendPort).toBe(2); // dom0 ports are not reused
  });
});

// --- through the hypercall table -------------------------------------------------------

const ARG = 0x10000;

function hyper(type: GuestType = 'pv') {
  const RAM = 1024;
  const mem = new PhysMemory(RAM * 4096, Domain.extraFramesFor(RAM));
  const cpu = createCpu(mem);
  const dom = new Domain({ type, cpu, mem, nrPages: RAM, console: { write() {} }, cmdline: '' });
  registerHypercalls(dom);
  const chans = dom.bindToolstackChannels();
  const op = (cmd: number, ...words: number[]): number => {
    words.forEach((w, i) => mem.write32(ARG + i * 4, w >>> 0));
    return dom.hypercalls.dispatch(type, { nr: HYPERCALL.event_channel_op, args: [cmd, ARG, 0, 0, 0, 0], cpl: type === 'pv' ? 1 : 0, guest: dom.guest });
  };
  const r32 = (i: number) => mem.read32(ARG + i * 4) >>> 0;
  return { dom, mem, cpu, op, r32, chans };
}

describe('event_channel_op', () => {
  it('alloc_unbound writes the port back; dom0 -EPERM, unknown -ESRCH', () => {
    const t = hyper();
    expect(t.op(6, DOMID.SELF | (0 << 16), 0xdead)).toBe(0);
    expect(t.r32(1)).toBe(3); // after the toolstack's 1 and 2
    expect(t.op(6, 1 | (DOMID.SELF << 16))).toBe(0); // own id; remote DOMID_SELF
    expect(t.dom.events.ports[4]).toMatchObject({ state: 'unbound', remoteDom: 1 });
    expect(t.op(6, 0)).toBe(-E.EPERM);
    expect(t.op(6, 9)).toBe(-E.ESRCH);
    expect(t.dom.hypercalls.dispatch('pv', { nr: 32, args: [6, 0xfffff000, 0, 0, 0, 0], cpl: 1, guest: t.dom.guest })).toBe(-E.EFAULT);
  });

  it('a failed copy-back is -EFAULT and the port stays allocated (Xen: "cleaning up would be a mess")', () => {
    const t = hyper();
    // Identity-map the first 4 MiB with the page of ARG read-only.
    const pd = 0x1000, pt = 0x2000;
    t.mem.write32(pd, pt | 7);
    for (let i = 0; i < 1024; i++) t.mem.write32(pt + i * 4, (i << 12) | (i === ARG >>> 12 ? 5 : 7));
    t.mem.write32(ARG, DOMID.SELF);
    t.cpu.cr3 = pd; t.cpu.cr0 = (t.cpu.cr0 | CR0_PG | CR0_WP) | 0; t.cpu.tlbFlushAll();
    expect(t.dom.hypercalls.dispatch('pv', { nr: 32, args: [6, ARG, 0, 0, 0, 0], cpl: 1, guest: t.dom.guest })).toBe(-E.EFAULT);
    expect(t.dom.events.ports[3]!.state).toBe('unbound');
  });

  it('bind_virq, bind_ipi and bind_interdomain write their ports; status reports every state', () => {
    const t = hyper('pvh');
    expect(t.op(1, VIRQ.TIMER, 0, 0)).toBe(0);
    const timer = t.r32(2);
    expect(t.op(1, VIRQ.TIMER, 0)).toBe(-E.EEXIST);
    expect(t.op(7, 0, 0)).toBe(0);
    const ipi = t.r32(1);
    expect(t.op(6, DOMID.SELF | (DOMID.SELF << 16))).toBe(0);
    const unbound = t.r32(1);
    expect(t.op(0, DOMID.SELF, unbound, 0)).toBe(0);
    const loop = t.r32(2);
    expect([timer, ipi, unbound, loop]).toEqual([3, 4, 5, 6]);
    const status = (port: number) => {
      t.mem.fill(ARG, 24, 0xaa);
      t.mem.write16(ARG, DOMID.SELF); t.mem.write32(ARG + 4, port);
      const rc = t.op(5, ...[0, 1, 2, 3, 4, 5].map((i) => t.r32(i)));
      return rc === 0 ? [t.r32(2), t.r32(3), t.r32(4), t.r32(5)] : rc;
    };
    expect(status(timer)).toEqual([4, 0, VIRQ.TIMER, 0xaaaaaaaa]);
    expect(status(ipi)).toEqual([5, 0, 0xaaaaaaaa, 0xaaaaaaaa]);
    expect(status(loop)).toEqual([2, 0, 0xaaaa0001, unbound]);
    expect(status(1)).toEqual([2, 0, 0xaaaa0000, 1]); // xenstore: interdomain to dom0, dom0 port 1
    expect(status(2)).toEqual([2, 0, 0xaaaa0000, 2]);
    expect(t.op(3, loop)).toBe(0);
    expect(status(unbound)).toEqual([1, 0, 0xaaaa0001, 0xaaaaaaaa]); // unbound for dom 1
    expect(status(loop)).toEqual([0, 0, 0xaaaaaaaa, 0xaaaaaaaa]);
    expect(status(0)).toEqual([0, 0, 0xaaaaaaaa, 0xaaaaaaaa]);
    expect(status(1024)).toBe(-E.EINVAL);
    t.mem.write16(ARG, 0); t.mem.write32(ARG + 4, 1024);
    expect(t.op(5, t.r32(0), 1024)).toBe(-E.EINVAL); // dom0: the port is checked before XSM
    expect(t.op(5, 0, 1)).toBe(-E.EPERM);
    expect(t.op(5, 3, 1)).toBe(-E.ESRCH);
  });

  it('reset: own domain only; reset_cont without a reset in progress -EBUSY', () => {
    const t = hyper();
    expect(t.op(10, 0)).toBe(-E.EPERM);
    expect(t.op(10, 5)).toBe(-E.ESRCH);
    expect(t.op(14, DOMID.SELF)).toBe(-E.EBUSY);
    expect(t.op(10, DOMID.SELF)).toBe(0);
    expect(t.dom.events.ports[1]!.state).toBe('free');
    expect(t.chans.store.connected).toBe(false);
    expect(t.op(4, 2)).toBe(-E.EINVAL);
  });

  it('send reaches the backend; init_control, expand_array, set_priority; bind_pirq -EPERM', () => {
    const t = hyper();
    let got = 0;
    t.chans.console.onSend = () => { got++; };
    expect(t.op(4, 2)).toBe(0);
    expect(got).toBe(1);
    // No FIFO ABI: what a Xen built without it answers (XTF's xsa-188 checks for it).
    expect(t.op(11, 0, 0, 0, 0, 0, 0)).toBe(-E.EOPNOTSUPP);
    expect(t.op(12, 0, 0)).toBe(-E.EOPNOTSUPP);
    expect(t.op(13, 5, 0)).toBe(-E.ENOSYS);
    expect(t.op(13, 5000, 0)).toBe(-E.EINVAL);
    expect(t.op(2, 1, 0, 0)).toBe(-E.EPERM);
    expect(t.op(99)).toBe(-E.ENOSYS);
  });

  it('event_channel_op_compat runs alloc_unbound on the union and writes the port back there', () => {
    const t = hyper();
    t.mem.write32(ARG, 6); t.mem.write32(ARG + 4, DOMID.SELF); t.mem.write32(ARG + 8, 0);
    expect(t.dom.hypercalls.dispatch('pv', { nr: HYPERCALL.event_channel_op_compat, args: [ARG, 0, 0, 0, 0, 0], cpl: 1, guest: t.dom.guest })).toBe(0);
    expect(t.mem.read32(ARG + 8)).toBe(3);
  });

  it('trace describers decode the new commands', () => {
    const t = hyper();
    const d = (cmd: number, ...w: number[]) => {
      w.forEach((v, i) => t.mem.write32(ARG + i * 4, v));
      return t.dom.hypercalls.get(32)!.describe!([cmd, ARG, 0, 0, 0, 0], t.dom.guest);
    };
    expect(d(7, 0)).toBe('bind_ipi vcpu=0');
    expect(d(6, DOMID.SELF)).toBe('alloc_unbound dom=0x7ff0 remote_dom=0x0');
    expect(d(10, DOMID.SELF)).toBe('reset dom=0x7ff0');
    expect(d(14, DOMID.SELF)).toBe('reset_cont dom=0x7ff0');
  });
});

// --- upcall delivery on a Machine ---------------------------------------------------------

/** PV snippet: set_callbacks(0xe019, event, 0xe019, failsafe). */
const CALLBACKS = `
    movl $${HC.set_callbacks}, %eax
    movl $0xe019, %ebx
    movl $event, %ecx
    movl $0xe019, %edx
    movl $failsafe, %esi
    int $0x82`;

/** PV snippet: bind an IPI port (into %esi), send on it (events still masked). */
const IPI_PENDING = `
    movl $${HC.event_channel_op}, %eax
    movl $7, %ebx
    movl $ipi_arg, %ecx
    int $0x82
    movl ipi_arg + 4, %esi
    movl %esi, send_arg
    movl $${HC.event_channel_op}, %eax
    movl $4, %ebx
    movl $send_arg, %ecx
    int $0x82`;

const DATA = `
    .p2align 2
ipi_arg: .long 0, 0
send_arg: .long 0
poll_ports: .long 0
poll_arg: .long poll_ports, 1, 0, 0`;

describe('PV upcall delivery', () => {
  it('bounces to the event callback with mask set, no error code, after block re-enables events', () => {
    const r = pvRig(`${CALLBACKS}${IPI_PENDING}
      movl $${HC.sched_op}, %eax
      movl $1, %ebx          /* SCHEDOP_block: clears the mask; an event is pending */
      xorl %ecx, %ecx
      int $0x82
    after_block: jmp after_block
    event: jmp event
    failsafe: jmp failsafe
    ${DATA}`);
    const sp0 = regs(r.m).esp;
    runTo(r, 'event');
    const sp = regs(r.m).esp;
    expect(sp).toBe(sp0 - 12); // EIP, CS, EFLAGS: no error code, no stack switch
    expect(r.rd(sp)).toBe(r.at('after_block')); // returns behind the hypercall
    expect(r.rd(sp + 4)).toBe(0xe019); // saved mask 0 in bits 16+
    expect(r.rd(sp + 8) & 0x200).toBe(0x200); // IF image = !saved mask
    expect(r.m.domain.upcallMask).toBe(1); // the event callback masks events
    expect(r.m.cpu.eip >>> 0).toBe(r.at('event'));
    expect(r.m.domain.sleep).toBeNull(); // block returned at once: an event was pending
    expect(r.m.mem.read8(r.si())).toBe(1); // the guest clears upcall_pending itself
  });

  it('delivers right after the iret hypercall that unmasks, with the iret target in the frame', () => {
    const r = pvRig(`${CALLBACKS}${IPI_PENDING}
      pushl $0x202             /* EFLAGS: IF → unmask */
      pushl $0xe019
      pushl $target
      pushl $0x77              /* EAX */
      movl $${HC.iret}, %eax
      int $0x82
    target: jmp target
    event: jmp event
    failsafe: jmp failsafe
    ${DATA}`);
    const icount0 = r.m.cpu.icount;
    runTo(r, 'event');
    const sp = regs(r.m).esp;
    expect(r.rd(sp)).toBe(r.at('target'));
    expect(regs(r.m).eax).toBe(0x77);
    expect(r.m.cpu.icount - icount0).toBeLessThan(40); // no instruction of `target` ran first
  });

  it('keeps a masked upcall pending, and delivers within EVENT_CHECK_INTERVAL once the mask is cleared', () => {
    const r = pvRig(`${CALLBACKS}${IPI_PENDING}
    spin: jmp spin
    event: jmp event
    failsafe: jmp failsafe
    ${DATA}`);
    runTo(r, 'spin');
    r.m.step(100_000);
    expect(r.m.cpu.eip >>> 0).toBe(r.at('spin')); // masked: nothing delivered
    expect(r.m.mem.read8(r.si())).toBe(1);
    // The guest clears evtchn_upcall_mask itself (a store Xen does not see).
    r.m.domain.upcallMask = 0;
    const before = r.m.cpu.icount;
    for (let i = 0; i < EVENT_CHECK_INTERVAL + 10 && (r.m.cpu.eip >>> 0) !== r.at('event'); i++) r.m.step(1);
    expect(r.m.cpu.eip >>> 0).toBe(r.at('event'));
    expect(r.m.cpu.icount - before).toBeLessThanOrEqual(EVENT_CHECK_INTERVAL);
  });

  it('EVTCHNOP_unmask of a pending port delivers at the hypercall return', () => {
    const r = pvRig(`${CALLBACKS}
      movl $${HC.event_channel_op}, %eax
      movl $7, %ebx
      movl $ipi_arg, %ecx
      int $0x82
      movl ipi_arg + 4, %esi
      movl %esi, send_arg
    ready:
      movl $${HC.event_channel_op}, %eax
      movl $9, %ebx            /* EVTCHNOP_unmask */
      movl $send_arg, %ecx
      int $0x82
    after_unmask: jmp after_unmask
    event: jmp event
    failsafe: jmp failsafe
    ${DATA}`);
    runTo(r, 'ready');
    // Events enabled, the port masked and raised: nothing to deliver yet.
    const port = r.rd(r.at('send_arg'));
    expect(port).toBe(3);
    r.m.domain.events.mask(port);
    r.m.domain.events.setPending(port);
    r.m.domain.upcallMask = 0;
    expect(r.m.mem.read8(r.si())).toBe(0);
    runTo(r, 'event');
    expect(r.rd(regs(r.m).esp)).toBe(r.at('after_unmask'));
    expect(r.m.domain.events.isMasked(port)).toBe(false);
  });

  it('crashes the domain when an upcall is due and no event callback is registered', () => {
    const r = pvRig(`
      movl $${HC.event_channel_op}, %eax
      movl $7, %ebx
      movl $ipi_arg, %ecx
      int $0x82
      movl ipi_arg + 4, %esi
      movl %esi, send_arg
      movl $${HC.event_channel_op}, %eax
      movl $4, %ebx
      movl $send_arg, %ecx
      int $0x82
      movl $${HC.sched_op}, %eax
      movl $1, %ebx
      int $0x82
    spin: jmp spin
    ${DATA}`);
    const e = r.m.runToEnd(10_000);
    expect(e).toMatchObject({ kind: 'crash' });
    expect(e && e.kind === 'crash' ? e.message : '').toMatch(/no event callback registered/);
  });

  it('enters the failsafe callback when the iret hypercall cannot load CS: DS, ES, FS, GS, EIP, CS, EFLAGS', () => {
    const r = pvRig(`${CALLBACKS}
      pushl $0x202
      pushl $0x1231            /* no such descriptor, RPL 1 */
      pushl $0xabcd
      pushl $0x55
      movl $${HC.iret}, %eax
      int $0x82
    spin: jmp spin
    event: jmp event
    failsafe: jmp failsafe
    ${DATA}`);
    const sp0 = regs(r.m).esp;
    runTo(r, 'failsafe');
    const sp = regs(r.m).esp;
    expect(sp).toBe(sp0 - 28); // the 16-byte iret frame is consumed, 7 words pushed
    expect([r.rd(sp), r.rd(sp + 4), r.rd(sp + 8), r.rd(sp + 12)]).toEqual([0xe021, 0xe021, 0xe021, 0xe021]);
    expect(r.rd(sp + 16)).toBe(0xabcd);
    expect(r.rd(sp + 20)).toBe(0x1231); // mask 0 (the frame's IF) in bits 16+
    expect(r.rd(sp + 24) & 0x200).toBe(0x200);
    expect(regs(r.m).eax).toBe(0x55);
    expect(r.m.domain.upcallMask).toBe(0); // failsafe registered without CALLBACKF_mask_events
  });

  it('a bad iret frame without a failsafe callback still crashes the domain', () => {
    const r = pvRig(`
      pushl $0x202
      pushl $0x1231
      pushl $0xabcd
      pushl $0x55
      movl $${HC.iret}, %eax
      int $0x82
    spin: jmp spin`);
    const e = r.m.runToEnd(1000);
    expect(e && e.kind === 'crash' ? e.message : '').toMatch(/CS 0x00001231 is not a present ring-1 code segment/);
  });

  it('a debugger step never enters the event callback; the next step() delivers', () => {
    const r = pvRig(`${CALLBACKS}${IPI_PENDING}
    spin: nop
      jmp spin
    event: jmp event
    failsafe: jmp failsafe
    ${DATA}`);
    runTo(r, 'spin');
    r.m.domain.upcallMask = 0;
    for (let i = 0; i < 50; i++) {
      expect(r.m.stepInstruction()).toBeNull();
      expect([r.at('spin'), r.at('spin') + 1]).toContain(r.m.cpu.eip >>> 0);
    }
    r.m.step(1);
    expect(r.m.cpu.eip >>> 0).toBe(r.at('event'));
  });
});

describe('PVH upcall delivery (callback vector through the IDT)', () => {
  /** PVH: CALLBACK_IRQ = vector 0xf3, an IPI port pending; then `tail`. */
  const pvh = (tail: string, setup = 'callback_irq') => pvhRig(`
main:
    ${setGate(0xf3, 'handler')}
    movl $${HC.hvm_op}, %eax
    ${setup === 'callback_irq'
    ? 'xorl %ebx, %ebx\n    movl $param, %ecx   /* HVMOP_set_param CALLBACK_IRQ */'
    : 'movl $23, %ebx\n    movl $upcall_vec, %ecx   /* HVMOP_set_evtchn_upcall_vector */'}
    vmcall
    movl %eax, hvm_rc
    movl $${HC.event_channel_op}, %eax
    movl $7, %ebx
    movl $ipi_arg, %ecx
    vmcall
    movl ipi_arg + 4, %esi
    movl %esi, send_arg
    movl $${HC.event_channel_op}, %eax
    movl $4, %ebx
    movl $send_arg, %ecx
    vmcall
${tail}
handler:
    incl handled
    movl $0, %eax
    iret
    .p2align 3
param: .word 0x7ff0, 0
    .long 0            /* HVM_PARAM_CALLBACK_IRQ */
    .long 0xf3, 0x02000000
upcall_vec: .long 0
    .byte 0xf3, 0, 0, 0
hvm_rc: .long 1
handled: .long 0
ipi_arg: .long 0, 0
send_arg: .long 0
`);

  it('injects the vector only with IF=1, through the IDT; hlt with IF=1 wakes at once into the handler', () => {
    const r = pvh(`
    spin0: jmp spin0
    enable:
      sti
      hlt
    after_hlt: jmp after_hlt
`);
    runTo(r, 'spin0');
    expect(r.rd(r.at('hvm_rc'))).toBe(0);
    expect(r.m.mem.read8(r.si())).toBe(1); // upcall pending
    r.m.step(50_000);
    expect(r.rd(r.at('handled'))).toBe(0); // IF=0: nothing
    r.m.cpu.eip = r.at('enable');
    runTo(r, 'handler');
    const sp = regs(r.m).esp;
    expect(r.rd(sp)).toBe(r.at('after_hlt')); // EIP: behind the hlt
    expect(r.rd(sp + 4)).toBe(0x10);
    expect(r.rd(sp + 8) & 0x200).toBe(0x200);
    expect(r.m.cpu.interruptsEnabled).toBe(false); // an interrupt gate
    expect(r.m.cpu.halted).toBe(false);
    expect(r.m.domain.sleep).toBeNull();
    // Level-triggered: while upcall_pending stays set, every IF=1 window takes the vector again.
    r.m.step(EVENT_CHECK_INTERVAL + 10);
    expect(r.rd(r.at('handled'))).toBeGreaterThan(1);
    r.m.mem.write8(r.si(), 0);
    const n = r.rd(r.at('handled'));
    r.m.step(50_000);
    expect(r.rd(r.at('handled'))).toBe(n);
  });

  it('takes the vector at the interrupt window: right after the instruction STI shadows', () => {
    const r = pvh(`
    spin0: jmp spin0
    window:
      sti
      movl $1, %ebx            /* in the STI shadow */
    after_shadow:
      movl $2, %ebx
      movl $3, %ebx
    spin1: jmp spin1
`);
    runTo(r, 'spin0');
    r.m.step(EVENT_CHECK_INTERVAL * 2); // a check point with IF=0 arms the window
    expect(r.m.cpu.irqWindow).toBe(true);
    r.m.cpu.eip = r.at('window');
    runTo(r, 'handler');
    expect(r.rd(regs(r.m).esp)).toBe(r.at('after_shadow'));
    expect(regs(r.m).ebx).toBe(1);
  });

  it('HVMOP_set_evtchn_upcall_vector works the same way', () => {
    const r = pvh(`
      sti
      nop
    spin: jmp spin
`, 'upcall_vector');
    runTo(r, 'handler', 200_000);
    expect(r.m.domain.evtchnUpcallVector).toBe(0xf3);
  });

  it('cli; hlt with no NMI source ends the run: halted', () => {
    const r = pvh(`
      cli
      hlt
`);
    expect(r.m.runToEnd(100_000)).toEqual({ kind: 'halted', in: 'hlt' });
  });

  it('sti; hlt with nothing that could ever wake it ends the run instead of hanging', () => {
    const r = pvhRig(`
main:
      sti
      hlt
    spin: jmp spin
`);
    expect(r.m.runToEnd(100_000)).toEqual({ kind: 'halted', in: 'hlt' });
    expect(r.m.cpu.halted).toBe(true);
  });
});

