/**
 * hvm_op (hypercall 34, available to PV and PVH): HVM parameters, the
 * per-vCPU upcall vector, TLB flush, pagetable_dying and get_time
 * (reference §2.3 "Console and xenstore", "Event callback", §3.2 "HVM ops").
 *
 * Xen's rules (arch/x86/hvm/hvm.c do_hvm_op, hvmop_{set,get}_param,
 * hvm_allow_{set,get}_param) kept here:
 *  - set_param / get_param on xen_hvm_param {domid u16 @0, index u32 @4,
 *    value u64 @8}: unreadable → -EFAULT; index ≥ HVM_NR_PARAMS → -EINVAL;
 *    domid DOMID_SELF or the own id (unknown → -ESRCH, dom0 → -EPERM); a PV
 *    domain → -EINVAL (the parameters belong to HVM domains).
 *  - What a guest may touch on itself:
 *      set: CALLBACK_IRQ, VM86_TSS, VM86_TSS_SIZED, ACPI_IOPORTS_LOCATION,
 *           VM_GENERATION_ID_ADDR, STORE_EVTCHN, CONSOLE_EVTCHN,
 *           X87_FIP_WIDTH (value 0, 4 or 8, else -EINVAL);
 *      get: the same plus STORE_PFN, CONSOLE_PFN and ALTP2M;
 *    ALTP2M is read-only (set → -EEXIST); the deprecated indexes
 *    (PAE_ENABLED, DM_DOMAIN, MEMORY_EVENT_*, NESTEDHVM, BUFIOREQ_EVTCHN)
 *    → -EINVAL; every other index → -EPERM ("should not be touched by the
 *    guest").
 *  - get_param writes the whole struct back (-EFAULT if read-only).
 *  - set_evtchn_upcall_vector({vcpu, vector}): PV → -EINVAL; unreadable →
 *    -EFAULT; vector < 0x10 → -EINVAL; vcpu ≠ 0 → -ENOENT.
 *  - flush_tlbs: the argument must be NULL (else -EINVAL); PV → -EINVAL.
 *  - pagetable_dying: unreadable → -EFAULT; domain lookup as above; another
 *    domain → -EOPNOTSUPP; itself → -EINVAL (only shadow-paged HVM guests
 *    use it; PVH under xenkit is like HAP).
 *  - get_time → {now u64}, system time in ns (-EFAULT if read-only).
 *  - Other sub-ops → -ENOSYS.
 *
 * Values: STORE_PFN / STORE_EVTCHN / CONSOLE_PFN / CONSOLE_EVTCHN read the
 * domain builder's values (dom.storePfn, ...) unless the guest set the
 * parameter itself; everything set goes to dom.hvmParams; unset parameters
 * read 0. CALLBACK_IRQ and the upcall vector are stored here; the machine
 * injects event upcalls through them (Domain.upcallVector: the per-vCPU
 * vector wins, else a CALLBACK_IRQ of type "vector"; GSI and PCI INTx
 * callbacks have no interrupt controller behind them and deliver nothing).
 * get_time reads the domain's clock (time.ts).
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { HVMOP, HVM_NR_PARAMS, HVM_PARAM, XEN_HVM_EVTCHN_UPCALL_VECTOR, XEN_HVM_PAGETABLE_DYING, XEN_HVM_PARAM, decodeCallbackVia } from '../abi/hvm.js';
import { nameOf } from '../abi/layout.js';
import type { Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { lookupDomid } from './memory.js';

const BOTH = { pv: true, pvh: true } as const;
const { EEXIST, EFAULT, EINVAL, ENOENT, ENOSYS, EOPNOTSUPP, EPERM } = XEN_ERRNO;

/** Retired parameter indexes (params.h, under __XEN_INTERFACE_VERSION__ < 0x40500 etc.): -EINVAL. */
const DEPRECATED_PARAMS = new Set([4, 13, 20, 21, 22, 23, 24, 25, 26, 30]);

const GUEST_SETTABLE = new Set<number>([
  HVM_PARAM.CALLBACK_IRQ, HVM_PARAM.VM86_TSS, HVM_PARAM.VM86_TSS_SIZED, HVM_PARAM.ACPI_IOPORTS_LOCATION,
  HVM_PARAM.VM_GENERATION_ID_ADDR, HVM_PARAM.STORE_EVTCHN, HVM_PARAM.CONSOLE_EVTCHN, HVM_PARAM.X87_FIP_WIDTH,
]);

const GUEST_READABLE = new Set<number>([
  ...GUEST_SETTABLE, HVM_PARAM.STORE_PFN, HVM_PARAM.CONSOLE_PFN, HVM_PARAM.ALTP2M,
]);

function hex(v: number | bigint): string {
  return '0x' + v.toString(16);
}

/** Current value of parameter `index` as the guest reads it. */
export function hvmParamValue(dom: Domain, index: number): bigint {
  const set = dom.hvmParams.get(index);
  if (set !== undefined) return set;
  switch (index) {
    case HVM_PARAM.STORE_PFN: return BigInt(dom.storePfn);
    case HVM_PARAM.STORE_EVTCHN: return BigInt(dom.storeEvtchn);
    case HVM_PARAM.CONSOLE_PFN: return BigInt(dom.consolePfn);
    case HVM_PARAM.CONSOLE_EVTCHN: return BigInt(dom.consoleEvtchn);
    default: return 0n;
  }
}

function permission(index: number, set: boolean): number {
  if (set && index === HVM_PARAM.ALTP2M) return -EEXIST;
  if (DEPRECATED_PARAMS.has(index)) return -EINVAL;
  return (set ? GUEST_SETTABLE : GUEST_READABLE).has(index) ? 0 : -EPERM;
}

function param(dom: Domain, guest: GuestAccess, arg: number, set: boolean): number {
  const b = guest.read(arg, XEN_HVM_PARAM.size);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const index = dv.getUint32(XEN_HVM_PARAM.fields.index, true);
  if (index >= HVM_NR_PARAMS) return -EINVAL;
  const rc = lookupDomid(dom, dv.getUint16(XEN_HVM_PARAM.fields.domid, true));
  if (rc !== 0) return rc;
  if (dom.type !== 'pvh') return -EINVAL;
  const perm = permission(index, set);
  if (perm !== 0) return perm;
  if (set) {
    const value = dv.getBigUint64(XEN_HVM_PARAM.fields.value, true);
    if (index === HVM_PARAM.X87_FIP_WIDTH && value !== 0n && value !== 4n && value !== 8n) return -EINVAL;
    dom.hvmParams.set(index, value);
    return 0;
  }
  dv.setBigUint64(XEN_HVM_PARAM.fields.value, hvmParamValue(dom, index), true);
  return guest.write(arg, b) ? 0 : -EFAULT;
}

function hvmOp(dom: Domain, guest: GuestAccess, op: number, arg: number): number {
  switch (op) {
    case HVMOP.set_param:
      return param(dom, guest, arg, true);
    case HVMOP.get_param:
      return param(dom, guest, arg, false);
    case HVMOP.set_evtchn_upcall_vector: {
      if (dom.type !== 'pvh') return -EINVAL;
      const b = guest.read(arg, XEN_HVM_EVTCHN_UPCALL_VECTOR.size);
      if (b === null) return -EFAULT;
      const vector = b[XEN_HVM_EVTCHN_UPCALL_VECTOR.fields.vector]!;
      const vcpu = new DataView(b.buffer).getUint32(XEN_HVM_EVTCHN_UPCALL_VECTOR.fields.vcpu, true);
      if (vector < 0x10) return -EINVAL;
      if (vcpu !== 0) return -ENOENT;
      dom.evtchnUpcallVector = vector;
      return 0;
    }
    case HVMOP.flush_tlbs:
      if (arg !== 0 || dom.type !== 'pvh') return -EINVAL;
      dom.cpu.tlbFlushAll();
      return 0;
    case HVMOP.pagetable_dying: {
      const b = guest.read(arg, XEN_HVM_PAGETABLE_DYING.size);
      if (b === null) return -EFAULT;
      const domid = b[0]! | (b[1]! << 8);
      const rc = lookupDomid(dom, domid);
      if (rc === -EPERM) return -EOPNOTSUPP; // dom0 exists but is not the caller
      if (rc !== 0) return rc;
      return -EINVAL;
    }
    case HVMOP.get_time: {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, dom.systemTimeNs()), true);
      return guest.write(arg, out) ? 0 : -EFAULT;
    }
    default:
      return -ENOSYS;
  }
}

export function describeHvmOp(args: readonly number[], guest: GuestAccess): string {
  try {
    const op = args[0]! >>> 0, arg = args[1]! >>> 0;
    const name = nameOf(HVMOP, op) ?? `op ${op}`;
    if (op === HVMOP.set_param || op === HVMOP.get_param) {
      const b = guest.read(arg, XEN_HVM_PARAM.size);
      if (b === null) return `${name} ${hex(arg)} (unreadable)`;
      const dv = new DataView(b.buffer);
      const index = dv.getUint32(XEN_HVM_PARAM.fields.index, true);
      const pname = nameOf(HVM_PARAM, index) ?? `param ${index}`;
      const dom = `dom=${hex(dv.getUint16(0, true))}`;
      if (op === HVMOP.get_param) return `${name} ${dom} ${pname}`;
      const value = dv.getBigUint64(XEN_HVM_PARAM.fields.value, true);
      if (index === HVM_PARAM.CALLBACK_IRQ) {
        const via = decodeCallbackVia(value);
        return `${name} ${dom} ${pname}=${hex(value)} (type ${via.type}${via.vector !== undefined ? ` vector ${hex(via.vector)}` : ''})`;
      }
      return `${name} ${dom} ${pname}=${hex(value)}`;
    }
    if (op === HVMOP.set_evtchn_upcall_vector) {
      const b = guest.read(arg, XEN_HVM_EVTCHN_UPCALL_VECTOR.size);
      if (b === null) return `${name} ${hex(arg)} (unreadable)`;
      return `${name} vcpu=${new DataView(b.buffer).getUint32(0, true)} vector=${hex(b[4]!)}`;
    }
    return `${name} arg=${hex(arg)}`;
  } catch {
    return 'hvm_op (undecodable)';
  }
}

export function registerHvmHypercalls(dom: Domain): void {
  dom.hypercalls.register({
    nr: 34, name: 'hvm_op', avail: BOTH,
    handler: ({ args, guest }) => hvmOp(dom, guest, args[0]! >>> 0, args[1]! >>> 0),
    describe: describeHvmOp,
  });
}
