/**
 * The event-channel trace (`--trace events`, src/vmm/report/events-trace.ts)
 * over the real EventChannels: a guest's sends and where they go (dom0, an
 * IPI to itself, another port of its own, dropped on an unbound port), a
 * backend's notifications with what they did to the guest's port (an
 * upcall, nothing because it was pending, no upcall because it is masked),
 * and VIRQs by name.
 */
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { DOM0, EventChannels, type BackendChannel } from '../../src/vmm/xen/events.js';
import { VIRQ } from '../../src/vmm/xen/abi/xen.js';
import { formatEventTrace } from '../../src/vmm/report/events-trace.js';

describe('event trace', () => {
  it('sends, notifications and VIRQs, with their effect on the port', () => {
    const ev = new EventChannels(new PhysMemory(64 * 4096, 0), () => 0x5000, 1);
    const lines: string[] = [];
    ev.onTrace = (r) => lines.push(formatEventTrace(r));
    const front = ev.allocUnbound(DOM0);
    const ch = ev.bindBackend(front, () => undefined) as BackendChannel;
    ev.send(front);
    ch.notify();
    ch.notify();
    ev.clearPending(front);
    ev.mask(front);
    ch.notify();
    const ipi = ev.bindIpi(0);
    ev.send(ipi);
    const a = ev.allocUnbound(1);
    const b = ev.bindInterdomain(1, a);
    ev.send(b);
    const lonely = ev.allocUnbound(DOM0);
    ev.send(lonely);
    const t = ev.bindVirq(VIRQ.TIMER, 0);
    ev.sendVirq(VIRQ.TIMER);
    ev.sendVirq(VIRQ.CONSOLE); // not bound: nothing to trace
    expect(lines).toEqual([
      `[ev] dom1 send port ${front} -> dom0 port ${ch.backendPort}`,
      `[ev] dom0 port ${ch.backendPort} -> dom1 port ${front} (upcall)`,
      `[ev] dom0 port ${ch.backendPort} -> dom1 port ${front} (already pending)`,
      `[ev] dom0 port ${ch.backendPort} -> dom1 port ${front} (masked: no upcall)`,
      `[ev] dom1 send port ${ipi} -> itself (IPI)`,
      `[ev] dom1 send port ${b} -> dom1 port ${a}`,
      `[ev] dom1 send port ${lonely} -> nowhere (unbound: dropped)`,
      `[ev] VIRQ_TIMER -> dom1 port ${t} (upcall)`,
    ]);
  });
});
