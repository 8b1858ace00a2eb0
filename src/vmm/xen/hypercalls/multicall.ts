/**
 * multicall (hypercall 13, PV and PVH): run a batch of hypercalls described
 * by an array of 32-byte multicall_entry {op, result, args[6]} (reference
 * §3.3 "PV core calls").
 *
 * Xen's rules (common/multicall.c, arch/x86/pv/hypercall.c) kept here:
 *  - A list outside the guest's range (guest_handle_okay) → -EFAULT before
 *    anything runs.
 *  - Entries run in order through the same table as trapped hypercalls
 *    (so PV-only calls from a PVH guest still give -ENOSYS); each result is
 *    stored into the entry's 32-bit `result` field (i386: the result is
 *    truncated to 32 bits). Xen's sub-call table passes args[0..4]; args[5]
 *    goes along here too, which no handler reads.
 *  - An entry that cannot be read, or whose result cannot be written back,
 *    ends the multicall with -EFAULT (earlier entries stay done).
 *  - A multicall inside a multicall fails that entry with -EINVAL
 *    ("reentry is disallowed") and the batch continues.
 *  - iret inside a PV multicall ends the batch (pv_do_multicall_call
 *    returns mc_exit for __HYPERVISOR_iret): Xen performs the iret, which
 *    loads the frame on the guest stack (EAX included), stores the entry's
 *    result (compat_iret returns the restored EAX) and makes it the
 *    multicall's return value, so EAX keeps the frame's value. The entries
 *    after it never run (XSA-213). A PVH guest has no iret hypercall: the
 *    entry gets -ENOSYS and the batch continues.
 *  - Otherwise the multicall returns 0 (the entries carry the results).
 *
 * xenkit bounds: Xen preempts a long batch with a continuation; xenkit
 * cannot restart a hypercall, so a batch of more than MAX_MULTICALL entries
 * is refused with -E2BIG before anything runs (Linux batches 32 entries,
 * Mini-OS a few hundred). A sub-call that stops the domain (shutdown,
 * crash) ends the batch: the vCPU will not run again.
 */
import { R } from '../../cpu/cpu.js';
import { XEN_ERRNO } from '../abi/errno.js';
import { MULTICALL_ENTRY } from '../abi/xen.js';
import type { Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { NO_RESULT } from '../hypercalls.js';
import { handleOkay } from './memory.js';

const BOTH = { pv: true, pvh: true } as const;
const { E2BIG, EFAULT, EINVAL } = XEN_ERRNO;

/** Largest batch one multicall runs. */
export const MAX_MULTICALL = 4096;
const MULTICALL_NR = 13, IRET_NR = 23;

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

export function registerMulticall(dom: Domain): void {
  const t = dom.hypercalls;

  t.register({
    nr: MULTICALL_NR, name: 'multicall', avail: BOTH,
    handler: ({ args, guest, cpl }) => {
      const list = args[0]! >>> 0, nr = args[1]! >>> 0;
      if (!handleOkay(dom, list, nr, MULTICALL_ENTRY.size)) return -EFAULT;
      if (nr > MAX_MULTICALL) return -E2BIG;
      for (let i = 0; i < nr; i++) {
        const at = (list + i * MULTICALL_ENTRY.size) >>> 0;
        const e = guest.read(at, MULTICALL_ENTRY.size);
        if (e === null) return -EFAULT;
        const dv = new DataView(e.buffer);
        const op = dv.getUint32(MULTICALL_ENTRY.fields.op, true);
        const sub: number[] = [];
        for (let k = 0; k < 6; k++) sub.push(dv.getUint32(MULTICALL_ENTRY.fields.args + k * 4, true));
        let result: number;
        if (op === MULTICALL_NR) result = -EINVAL;
        else result = t.dispatch(dom.type, { nr: op, args: sub, cpl, guest });
        if (op === IRET_NR && result === NO_RESULT) {
          // The iret ran: EAX holds the frame's value, the batch is over.
          // Xen stores the result best effort; a failed write changes nothing.
          if (dom.stop === null) guest.write32((at + MULTICALL_ENTRY.fields.result) >>> 0, dom.cpu.r32[R.EAX]!);
          return NO_RESULT;
        }
        // No other sub-call may leave EAX alone; treat a stray NO_RESULT as a refused call.
        if (result === NO_RESULT) result = -EINVAL;
        if (!guest.write32((at + MULTICALL_ENTRY.fields.result) >>> 0, result)) return -EFAULT;
        if (dom.stop !== null) break;
      }
      return 0;
    },
    describe: (a, guest) => describeMulticall(a, guest, (n) => t.name(n)),
  });
}

/** "nr=3 [update_va_mapping, mmuext_op, ...]" (first entries only). */
export function describeMulticall(args: readonly number[], guest: GuestAccess, name: (nr: number) => string): string {
  try {
    const list = args[0]! >>> 0, nr = args[1]! >>> 0;
    const shown: string[] = [];
    for (let i = 0; i < Math.min(nr, 8); i++) {
      const op = guest.read32((list + i * MULTICALL_ENTRY.size) >>> 0);
      shown.push(op === null ? '(unreadable)' : name(op));
      if (op === null) break;
    }
    return `list=${hex(list)} nr=${nr} [${shown.join(', ')}${nr > shown.length ? ', ...' : ''}]`;
  } catch {
    return 'multicall (undecodable)';
  }
}
