/**
 * PV trap and callback hypercalls (reference §3.3, §4): set_trap_table (0),
 * stack_switch (3), set_callbacks (4), fpu_taskswitch (5), iret (23) and
 * callback_op (30). All are pv32-only: a PVH guest gets -ENOSYS.
 *
 * Xen's rules kept here:
 *  - set_trap_table reads `trap_info` entries until one has address 0
 *    (at most 256); NULL clears the whole table. Code selectors with RPL 0
 *    are fixed up to RPL 1. A bad pointer gives -EFAULT, with the entries
 *    before it already installed (Xen processes the table incrementally).
 *  - stack_switch(ss, esp) must name a ring-1 stack selector (RPL 0 is fixed
 *    up to 1; anything else -EPERM... Xen validates lazily, we reject a
 *    null or RPL 2/3 selector with -EINVAL).
 *  - callback_op(register) accepts event, failsafe, syscall, syscall32,
 *    sysenter and nmi (the last four are kept but never used by a 686);
 *    CALLBACKF_mask_events on failsafe masks events on entry. Unknown types
 *    give -EINVAL, unregistering event/failsafe gives -EINVAL (Xen forbids it).
 *  - fpu_taskswitch(set) sets or clears the virtual CR0.TS.
 */
import { CR0_TS } from '../../cpu/cpu.js';
import { XEN_ERRNO } from '../abi/errno.js';
import { CALLBACKF_mask_events, CALLBACKOP, CALLBACKTYPE } from '../abi/callback.js';
import type { Domain } from '../domain.js';
import { pvIret, fixupCodeSelector } from '../pv/traps.js';

const PV = { pv: true, pvh: false } as const;
const { EFAULT, EINVAL } = XEN_ERRNO;

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

export function registerTrapHypercalls(dom: Domain): void {
  const t = dom.hypercalls, pv = dom.pv;

  t.register({
    nr: 0, name: 'set_trap_table', avail: PV,
    handler: ({ args, guest }) => {
      const ptr = args[0]!;
      if (ptr === 0) {
        pv.trapCs.fill(0); pv.trapEip.fill(0); pv.trapFlags.fill(0);
        return 0;
      }
      for (let i = 0; i < 256; i++) {
        const e = guest.read((ptr + i * 8) >>> 0, 8);
        if (e === null) return -EFAULT;
        const dv = new DataView(e.buffer);
        const address = dv.getUint32(4, true);
        if (address === 0) return 0;
        const vector = e[0]!;
        pv.trapFlags[vector] = e[1]!;
        pv.trapCs[vector] = fixupCodeSelector(dv.getUint16(2, true));
        pv.trapEip[vector] = address | 0;
      }
      return 0;
    },
    describe: (a) => `table=${hex(a[0]!)}`,
  });

  t.register({
    nr: 3, name: 'stack_switch', avail: PV,
    handler: ({ args }) => {
      const ss = fixupCodeSelector(args[0]! & 0xffff);
      if ((ss & 0xfffc) === 0 || (ss & 3) !== 1) return -EINVAL;
      pv.kernelSs = ss;
      pv.kernelSp = args[1]! | 0;
      return 0;
    },
    describe: (a) => `ss=${hex(a[0]!)} esp=${hex(a[1]!)}`,
  });

  t.register({
    nr: 4, name: 'set_callbacks', avail: PV,
    handler: ({ args }) => {
      pv.eventCs = fixupCodeSelector(args[0]! & 0xffff);
      pv.eventEip = args[1]! | 0;
      pv.failsafeCs = fixupCodeSelector(args[2]! & 0xffff);
      pv.failsafeEip = args[3]! | 0;
      return 0;
    },
    describe: (a) => `event=${hex(a[0]!)}:${hex(a[1]!)} failsafe=${hex(a[2]!)}:${hex(a[3]!)}`,
  });

  t.register({
    nr: 5, name: 'fpu_taskswitch', avail: PV,
    handler: ({ args }) => {
      if (args[0] !== 0) dom.cpu.cr0 |= CR0_TS;
      else dom.cpu.cr0 &= ~CR0_TS;
      return 0;
    },
    describe: (a) => `set=${a[0]}`,
  });

  t.register({
    nr: 23, name: 'iret', avail: PV,
    handler: () => pvIret(dom),
  });

  t.register({
    nr: 30, name: 'callback_op', avail: PV,
    handler: ({ args, guest }) => {
      const cmd = args[0]!, ptr = args[1]!;
      if (cmd === CALLBACKOP.register) {
        const b = guest.read(ptr, 12);
        if (b === null) return -EFAULT;
        const dv = new DataView(b.buffer);
        const type = dv.getUint16(0, true), flags = dv.getUint16(2, true);
        const cs = fixupCodeSelector(dv.getUint32(4, true) & 0xffff), eip = dv.getUint32(8, true) | 0;
        switch (type) {
          case CALLBACKTYPE.event:
            pv.eventCs = cs; pv.eventEip = eip;
            return 0;
          case CALLBACKTYPE.failsafe:
            pv.failsafeCs = cs; pv.failsafeEip = eip;
            pv.failsafeMask = (flags & CALLBACKF_mask_events) !== 0;
            return 0;
          case CALLBACKTYPE.syscall:
          case CALLBACKTYPE.syscall32:
          case CALLBACKTYPE.sysenter:
          case CALLBACKTYPE.sysenter_deprecated:
          case CALLBACKTYPE.nmi:
            pv.otherCallbacks.set(type, { cs, eip, flags });
            return 0;
          default:
            return -EINVAL;
        }
      }
      if (cmd === CALLBACKOP.unregister) {
        const b = guest.read(ptr, 4);
        if (b === null) return -EFAULT;
        const type = new DataView(b.buffer).getUint16(0, true);
        if (type === CALLBACKTYPE.event || type === CALLBACKTYPE.failsafe) return -EINVAL;
        if (!pv.otherCallbacks.has(type)) return -EINVAL;
        pv.otherCallbacks.delete(type);
        return 0;
      }
      return -XEN_ERRNO.ENOSYS;
    },
    describe: (a, guest) => {
      const cmd = a[0] === 0 ? 'register' : a[0] === 1 ? 'unregister' : `cmd ${a[0]}`;
      const b = guest.read(a[1]!, a[0] === 0 ? 12 : 4);
      if (b === null) return `${cmd} ${hex(a[1]!)} (unreadable)`;
      const dv = new DataView(b.buffer);
      const type = dv.getUint16(0, true);
      return a[0] === 0 ? `${cmd} type=${type} ${hex(dv.getUint32(4, true))}:${hex(dv.getUint32(8, true))}` : `${cmd} type=${type}`;
    },
  });
}
