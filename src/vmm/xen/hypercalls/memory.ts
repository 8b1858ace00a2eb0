/**
 * memory_op (hypercall 12, PV and PVH): reservation queries, the guest
 * memory map, the M2P description for PV, and add_to_physmap, which places
 * shared_info and the grant-table frames in a PVH guest's physical address
 * space (reference §2.3, §3.2 "Memory", §3.3 "Memory structs", §8.2).
 *
 * Also home of two helpers every core hypercall module uses: `lookupDomid`
 * (Xen's rcu_lock_domain_by_any_id plus the default XSM policy for an
 * unprivileged domU) and `handleOkay` (guest_handle_okay).
 *
 * Command encoding (public memory.h): the low 6 bits of `cmd` are the op
 * (MEMOP_CMD_MASK); the bits above (cmd >> MEMOP_EXTENT_SHIFT) are the
 * "start extent" Xen uses to continue a preempted call.
 *
 * Xen's rules (common/memory.c, arch/x86/mm.c, x86_64/compat/mm.c,
 * hvm/hypercall.c) kept here:
 *  - increase/decrease_reservation and populate_physmap return the number
 *    of extents done, counted from the start extent; every failure before
 *    the work (unreadable struct, too many extents, start ≥ nr_extents, bad
 *    domain) just returns the start extent. xenkit's memory is fixed, so no
 *    extent is ever done: they all return the start extent (0 for a fresh
 *    call). A balloon driver sees "nothing done" and stops.
 *  - maximum_ram_page → Xen's max_page: one past the highest machine frame
 *    (RAM plus Xen's own frames here).
 *  - current_reservation / maximum_reservation / maximum_gpfn take a
 *    domid_t*: the caller's own domain → nrPages / nrPages / nrPages − 1;
 *    an unreadable pointer → -EFAULT; dom0 → -EPERM; unknown → -ESRCH.
 *    These and maximum_ram_page refuse a non-zero start extent (-EINVAL).
 *  - add_to_physmap: start extent ≥ 2^16 → -EDOM; unreadable → -EFAULT;
 *    XENMAPSPACE_gmfn_foreign → -ENOSYS; domain lookup as above; a PV
 *    (non-translated) guest → -EACCES; gpfn ~0 → -EINVAL; shared_info
 *    needs idx 0, grant_table idx < GRANT_FRAMES (the v2 status-frame bit
 *    is refused: v1 only), otherwise -EINVAL; dev_mmio → -EACCES.
 *  - remove_from_physmap on PV → -EACCES.
 *  - memory_map(xen_memory_map*): Xen copies min(capacity, entries) e820
 *    records and writes the count back: a small buffer truncates, it is not
 *    an error. An unreadable struct or unwritable buffer → -EFAULT.
 *  - machphys_mapping (PV) → {v_start, v_end, max_mfn} of the read-only M2P;
 *    PVH → -ENOSYS (hvm_memory_op refuses it).
 *  - machphys_mfn_list (PV) fills up to max_extents MFNs, one per 2 MiB of
 *    M2P, and writes nr_extents back.
 *  - machine_memory_map is for privileged domains → -EPERM.
 *  - The arch ops (memory_map, machphys_*) with start-extent bits set match
 *    no command in Xen → -ENOSYS, like every other unknown op.
 *
 * xenkit choices:
 *  - The PV memory map is one RAM record covering nrPages (a default libxl
 *    PV domU has no map and gets -ENOSYS, after which guests assume exactly
 *    that). The PVH map is the one the PVH builder puts in hvm_start_info:
 *    RAM up to the xenstore frame, then the 2 special frames reserved
 *    (src/loader/builder-pvh.ts places them in the last two RAM frames).
 *  - add_to_physmap moves an object onto a guest frame by copying its
 *    current contents there (Xen remaps the page; the RAM frame that was
 *    there is lost to the guest either way) and recording the new frame
 *    (dom.sharedInfoPa, dom.grantFrames[i]). The frame must be guest RAM
 *    (gpfn < nrPages): xenkit has no unpopulated space to map into. Placing
 *    two objects on one frame leaves the later one's contents there.
 *  - gmfn / gmfn_range (moving RAM frames) and exchange are not supported
 *    → -ENOSYS; remove_from_physmap on PVH → -ENOSYS.
 *  - machphys_mapping reports the M2P range xenkit actually backs
 *    (dom.m2pFrames pages from HYPERVISOR_VIRT_START), so max_mfn covers
 *    every machine frame.
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import {
  E820, E820ENTRY, XENMAPIDX_grant_table_status, XENMAPSPACE, XENMEM, XEN_ADD_TO_PHYSMAP,
  XEN_MACHPHYS_MAPPING, XEN_MACHPHYS_MFN_LIST, XEN_MEMORY_MAP, XEN_MEMORY_RESERVATION,
} from '../abi/memory.js';
import { DOMID } from '../abi/xen.js';
import { GRANT_FRAMES, HYPERVISOR_VIRT_START, type Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';

const BOTH = { pv: true, pvh: true } as const;
const { EACCES, EDOM, EFAULT, EINVAL, ENOSYS, EPERM, ESRCH } = XEN_ERRNO;

/** memory.h: the op is cmd & MEMOP_CMD_MASK, the start extent cmd >> MEMOP_EXTENT_SHIFT. */
export const MEMOP_EXTENT_SHIFT = 6;
export const MEMOP_CMD_MASK = (1 << MEMOP_EXTENT_SHIFT) - 1;
const PAGE = 4096;
/** M2P entries per 2 MiB extent reported by machphys_mfn_list (512 frames). */
const M2P_EXTENT_FRAMES = 512;

/**
 * Xen's rcu_lock_domain_by_any_id() followed by the default (dummy) XSM
 * check for an unprivileged domU: 0 when `domid` names the caller
 * (DOMID_SELF or its own id), -EPERM for dom0 (it exists, but the caller
 * may not act on it), -ESRCH for any other id.
 */
export function lookupDomid(dom: Domain, domid: number): number {
  const id = domid & 0xffff;
  if (id === DOMID.SELF || id === dom.domid) return 0;
  return id === 0 ? -EPERM : -ESRCH;
}

/**
 * Xen's guest_handle_okay() for `count` elements of `size` bytes at `va`.
 * A PV guest's (compat) handle must lie below the hypervisor hole and the
 * byte count must not overflow; for PVH (an external-paging guest) Xen does
 * not range-check at all. The copy itself still goes through GuestAccess.
 */
export function handleOkay(dom: Domain, va: number, count: number, size = 1): boolean {
  if (dom.type !== 'pv') return true;
  if (!Number.isInteger(count) || count < 0 || (size > 0 && count >= Math.floor(0xffffffff / size))) return false;
  const bytes = count * size;
  return (va >>> 0) + (bytes > 0 ? bytes - 1 : 0) < HYPERVISOR_VIRT_START;
}

function u32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** The domain's e820 map as [addr, size, type] records (see the header). */
export function domainE820(dom: Domain): [number, number, number][] {
  const ramTop = dom.nrPages * PAGE;
  if (dom.type === 'pv') return [[0, ramTop, E820.RAM]];
  // PVH: the xenstore and console frames are the last two RAM frames (builder-pvh.ts).
  const usableTop = Math.max(0, dom.nrPages - 2) * PAGE;
  return [[0, usableTop, E820.RAM], [usableTop, ramTop - usableTop, E820.RESERVED]];
}

function memoryMap(dom: Domain, guest: GuestAccess, arg: number): number {
  const b = guest.read(arg, XEN_MEMORY_MAP.size);
  if (b === null) return -EFAULT;
  const capacity = u32(b, XEN_MEMORY_MAP.fields.nr_entries);
  const buffer = u32(b, XEN_MEMORY_MAP.fields.buffer);
  const map = domainE820(dom);
  const n = Math.min(capacity, map.length);
  const out = new Uint8Array(n * E820ENTRY.size);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const [addr, size, type] = map[i]!;
    const at = i * E820ENTRY.size;
    dv.setBigUint64(at + E820ENTRY.fields.addr, BigInt(addr), true);
    dv.setBigUint64(at + E820ENTRY.fields.size, BigInt(size), true);
    dv.setUint32(at + E820ENTRY.fields.type, type, true);
  }
  if (!guest.write(buffer, out)) return -EFAULT;
  return guest.write32(arg + XEN_MEMORY_MAP.fields.nr_entries, n) ? 0 : -EFAULT;
}

/** Move a 4 KiB object from physical address `fromPa` onto guest frame `gpfn` (copying it). */
function placeFrame(dom: Domain, fromPa: number, gpfn: number): void {
  const to = gpfn * PAGE;
  if (to === fromPa) return;
  dom.mem.writeBytes(to, dom.mem.readBytes(fromPa, PAGE));
}

function addToPhysmap(dom: Domain, guest: GuestAccess, arg: number, start: number): number {
  if (start > 0xffff) return -EDOM;
  const b = guest.read(arg, XEN_ADD_TO_PHYSMAP.size);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const space = dv.getUint32(XEN_ADD_TO_PHYSMAP.fields.space, true);
  const idx = dv.getUint32(XEN_ADD_TO_PHYSMAP.fields.idx, true);
  const gpfn = dv.getUint32(XEN_ADD_TO_PHYSMAP.fields.gpfn, true);
  if (space === XENMAPSPACE.gmfn_foreign) return -ENOSYS;
  const rc = lookupDomid(dom, dv.getUint16(XEN_ADD_TO_PHYSMAP.fields.domid, true));
  if (rc !== 0) return rc;
  // PV guests are not translated: their "physical" frames are machine frames.
  if (dom.type === 'pv') return -EACCES;
  if (space === XENMAPSPACE.dev_mmio) return -EACCES;
  if (gpfn === 0xffffffff) return -EINVAL;
  switch (space) {
    case XENMAPSPACE.shared_info:
      if (idx !== 0 || gpfn >= dom.nrPages) return -EINVAL;
      placeFrame(dom, dom.sharedInfoPa, gpfn);
      dom.sharedInfoPa = gpfn * PAGE;
      return 0;
    case XENMAPSPACE.grant_table: {
      // Status frames (XENMAPIDX_grant_table_status) exist only for grant v2.
      if ((idx & XENMAPIDX_grant_table_status) !== 0 || idx >= GRANT_FRAMES || gpfn >= dom.nrPages) return -EINVAL;
      const from = dom.grantFrames[idx]!;
      placeFrame(dom, from * PAGE, gpfn);
      dom.grantFrames[idx] = gpfn;
      return 0;
    }
    case XENMAPSPACE.gmfn:
    case XENMAPSPACE.gmfn_range:
      // Moving RAM frames needs a real p2m; xenkit's is the identity.
      return -ENOSYS;
    default:
      return -EINVAL;
  }
}

function machphysMfnList(dom: Domain, guest: GuestAccess, arg: number): number {
  const b = guest.read(arg, XEN_MACHPHYS_MFN_LIST.size);
  if (b === null) return -EFAULT;
  const max = u32(b, XEN_MACHPHYS_MFN_LIST.fields.max_extents);
  const list = u32(b, XEN_MACHPHYS_MFN_LIST.fields.extent_start);
  const extents = Math.ceil(dom.m2pFrames / M2P_EXTENT_FRAMES);
  let i = 0;
  for (; i < max && i < extents; i++) {
    if (!guest.write32(list + i * 4, dom.m2pMfn + i * M2P_EXTENT_FRAMES)) return -EFAULT;
  }
  return guest.write32(arg + XEN_MACHPHYS_MFN_LIST.fields.nr_extents, i) ? 0 : -EFAULT;
}

/** One memory_op call. */
function memoryOp(dom: Domain, guest: GuestAccess, cmd: number, arg: number): number {
  const op = cmd & MEMOP_CMD_MASK;
  const start = cmd >>> MEMOP_EXTENT_SHIFT;
  switch (op) {
    case XENMEM.increase_reservation:
    case XENMEM.decrease_reservation:
    case XENMEM.populate_physmap:
      // Xen returns the start extent for every early failure, and the number
      // of extents done otherwise; with fixed memory none is ever done.
      return start;
    case XENMEM.maximum_ram_page:
      if (start !== 0) return -EINVAL;
      return dom.mem.ramPages + dom.mem.extraPages;
    case XENMEM.current_reservation:
    case XENMEM.maximum_reservation:
    case XENMEM.maximum_gpfn: {
      if (start !== 0) return -EINVAL;
      const b = guest.read(arg, 2);
      if (b === null) return -EFAULT;
      const rc = lookupDomid(dom, b[0]! | (b[1]! << 8));
      if (rc !== 0) return rc;
      return op === XENMEM.maximum_gpfn ? dom.nrPages - 1 : dom.nrPages;
    }
    case XENMEM.add_to_physmap:
      return addToPhysmap(dom, guest, arg, start);
    case XENMEM.remove_from_physmap: {
      if (start !== 0) return -EINVAL;
      const b = guest.read(arg, 8);
      if (b === null) return -EFAULT;
      const rc = lookupDomid(dom, b[0]! | (b[1]! << 8));
      if (rc !== 0) return rc;
      return dom.type === 'pv' ? -EACCES : -ENOSYS;
    }
    case XENMEM.exchange:
      return start !== 0 ? -EINVAL : -ENOSYS;
  }
  // Xen's arch_memory_op switches on the whole cmd: start-extent bits match nothing.
  if (start !== 0) return -ENOSYS;
  switch (op) {
    case XENMEM.memory_map:
      return memoryMap(dom, guest, arg);
    case XENMEM.machine_memory_map:
      return -EPERM;
    case XENMEM.machphys_mapping: {
      if (dom.type !== 'pv') return -ENOSYS;
      const out = new Uint8Array(XEN_MACHPHYS_MAPPING.size);
      const dv = new DataView(out.buffer);
      dv.setUint32(XEN_MACHPHYS_MAPPING.fields.v_start, HYPERVISOR_VIRT_START, true);
      dv.setUint32(XEN_MACHPHYS_MAPPING.fields.v_end, HYPERVISOR_VIRT_START + dom.m2pFrames * PAGE, true);
      dv.setUint32(XEN_MACHPHYS_MAPPING.fields.max_mfn, dom.m2pFrames * (PAGE / 4) - 1, true);
      return guest.write(arg, out) ? 0 : -EFAULT;
    }
    case XENMEM.machphys_mfn_list:
    case XENMEM.machphys_compat_mfn_list:
      return dom.type === 'pv' ? machphysMfnList(dom, guest, arg) : -ENOSYS;
    default:
      return -ENOSYS;
  }
}

export function describeMemoryOp(args: readonly number[], guest: GuestAccess): string {
  try {
    const cmd = args[0]! >>> 0, arg = args[1]! >>> 0;
    const op = cmd & MEMOP_CMD_MASK, start = cmd >>> MEMOP_EXTENT_SHIFT;
    const name = (nameOf(XENMEM, op) ?? `op ${op}`) + (start !== 0 ? `@${start}` : '');
    switch (op) {
      case XENMEM.increase_reservation:
      case XENMEM.decrease_reservation:
      case XENMEM.populate_physmap: {
        const b = guest.read(arg, XEN_MEMORY_RESERVATION.size);
        if (b === null) return `${name} ${hex(arg)} (unreadable)`;
        return `${name} nr_extents=${u32(b, 4)} order=${u32(b, 8)} dom=${hex(u32(b, 16) & 0xffff)}`;
      }
      case XENMEM.current_reservation:
      case XENMEM.maximum_reservation:
      case XENMEM.maximum_gpfn: {
        const b = guest.read(arg, 2);
        return b === null ? `${name} ${hex(arg)} (unreadable)` : `${name} dom=${hex(b[0]! | (b[1]! << 8))}`;
      }
      case XENMEM.add_to_physmap: {
        const b = guest.read(arg, XEN_ADD_TO_PHYSMAP.size);
        if (b === null) return `${name} ${hex(arg)} (unreadable)`;
        const space = u32(b, 4);
        return `${name} dom=${hex(u32(b, 0) & 0xffff)} space=${nameOf(XENMAPSPACE, space) ?? space} idx=${hex(u32(b, 8))} gpfn=${hex(u32(b, 12))}`;
      }
      case XENMEM.memory_map: {
        const b = guest.read(arg, XEN_MEMORY_MAP.size);
        return b === null ? `${name} ${hex(arg)} (unreadable)` : `${name} capacity=${u32(b, 0)} buffer=${hex(u32(b, 4))}`;
      }
      default:
        return `${name} arg=${hex(arg)}`;
    }
  } catch {
    return 'memory_op (undecodable)';
  }
}

export function registerMemoryHypercalls(dom: Domain): void {
  dom.hypercalls.register({
    nr: 12, name: 'memory_op', avail: BOTH,
    handler: ({ args, guest }) => memoryOp(dom, guest, args[0]! >>> 0, args[1]! >>> 0),
    describe: describeMemoryOp,
  });
}
