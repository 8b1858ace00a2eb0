/**
 * The event-channel trace (`xenkit run --trace events`): one line per
 * guest EVTCHNOP_send and where it went, per backend notification of a
 * guest port, and per VIRQ raised — whether a frontend and its backend
 * really signal each other:
 *
 *   [ev] dom1 send port 4 -> dom0 port 7
 *   [ev] dom0 port 7 -> dom1 port 4 (upcall)
 *   [ev] dom0 port 7 -> dom1 port 4 (already pending)
 *   [ev] VIRQ_TIMER -> dom1 port 3 (masked: no upcall)
 *
 * After the arrow, what the raise did to the guest's port: set it pending
 * and so call for an upcall, nothing (it was pending already), or set it
 * pending without an upcall (the port is masked). A send on an unbound
 * port is dropped, as Xen drops it.
 *
 * Pure: a record in, a string out.
 */
import type { EventTraceRecord, PortWas } from '../xen/events.js';
import { VIRQ } from '../xen/abi/xen.js';
import { nameOf } from '../xen/abi/layout.js';

/** Prefix of every event trace line. */
export const EVENT_TRACE_PREFIX = '[ev] ';

function effect(was: PortWas): string {
  return was === 'pending' ? 'already pending' : was === 'masked' ? 'masked: no upcall' : 'upcall';
}

/** One trace line (without its newline). */
export function formatEventTrace(r: EventTraceRecord): string {
  switch (r.kind) {
    case 'send': {
      const where = r.to === 'dom0' ? `dom0 port ${r.remotePort}`
        : r.to === 'local' ? `dom${r.domid} port ${r.remotePort}`
          : r.to === 'self' ? 'itself (IPI)' : 'nowhere (unbound: dropped)';
      return `${EVENT_TRACE_PREFIX}dom${r.domid} send port ${r.port} -> ${where}`;
    }
    case 'notify':
      return `${EVENT_TRACE_PREFIX}dom0 port ${r.dom0Port} -> dom${r.domid} port ${r.port} (${effect(r.was)})`;
    case 'virq': {
      const name = nameOf(VIRQ, r.virq);
      return `${EVENT_TRACE_PREFIX}${name !== undefined ? `VIRQ_${name}` : `VIRQ ${r.virq}`} -> dom${r.domid} port ${r.port} (${effect(r.was)})`;
    }
  }
}
