/**
 * grant_table_op (hypercall 20, PV and PVH), minimal version: the table
 * queries and set-up a guest needs to publish grants (reference §3.2
 * "Grant tables", §3.3 "Grant-table op structs", §5.4). Mapping and copying
 * grants (the backend side) arrive with the grant-table work.
 *
 * The domain owns GRANT_FRAMES v1 frames from the start (dom.grantFrames;
 * Xen grows the table on demand up to max_grant_frames, xenkit simply has
 * them all), so nr_frames = max_nr_frames = GRANT_FRAMES.
 *
 * Xen's rules (common/grant_table.c, compat/grant_table.c,
 * arch/x86/hvm/hypercall.c) kept here:
 *  - count as a signed int < 0 → -EINVAL; bits above the low 12 of cmd
 *    (continuation arguments) → -EINVAL.
 *  - A PVH (HVM) guest may use only query_size, setup_table, set_version,
 *    get_version, copy, map_grant_ref, unmap_grant_ref and swap_grant_ref;
 *    anything else → -ENOSYS.
 *  - setup_table(count must be 1, else -EINVAL): unreadable → -EFAULT; a PV
 *    frame_list outside the guest range → -EFAULT; then the result is in
 *    `status`: unknown domain → GNTST_bad_domain, dom0 →
 *    GNTST_permission_denied, nr_frames > GRANT_FRAMES →
 *    GNTST_general_error, a frame that cannot be written →
 *    GNTST_bad_virt_addr, else GNTST_okay with the frames written (PV: the
 *    MFNs; PVH: the GFN each frame was placed at with add_to_physmap, or ~0
 *    for a frame not placed yet). The call returns 0 unless `status` cannot
 *    be written back (-EFAULT).
 *  - query_size(count must be 1): fills nr_frames, max_nr_frames and status
 *    (bad_domain / permission_denied as above) and writes the struct back.
 *  - set_version: unreadable → -EFAULT; version 1 → 0; version 2 → -ENOSYS
 *    (Xen's answer when the domain's max version is 1: "behave as before
 *    set_version was introduced"; XTF then skips its v2 tests); any other
 *    version → -EINVAL. The struct is written back with the version in use
 *    (1) in every case that read it.
 *  - get_version: unreadable → -EFAULT; domain lookup → -ESRCH / -EPERM;
 *    writes version 1.
 *  - Other commands → -ENOSYS for now (map/unmap/copy/transfer/... come with
 *    the grant-table work).
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import { GNTST, GNTTABOP, GNTTAB_GET_VERSION, GNTTAB_QUERY_SIZE, GNTTAB_SETUP_TABLE } from '../abi/grant-table.js';
import { GRANT_FRAMES, type Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { handleOkay, lookupDomid } from './memory.js';

const BOTH = { pv: true, pvh: true } as const;
const { EFAULT, EINVAL, ENOSYS, EPERM } = XEN_ERRNO;

/** Low bits of cmd are the op; the rest carries continuation state (GNTTABOP_CMD_MASK). */
const GNTTABOP_CMD_MASK = 0xfff;
/** Commands Xen lets an HVM/PVH guest use (hvm_grant_table_op). */
const HVM_ALLOWED = new Set<number>([
  GNTTABOP.query_size, GNTTABOP.setup_table, GNTTABOP.set_version, GNTTABOP.get_version,
  GNTTABOP.copy, GNTTABOP.map_grant_ref, GNTTABOP.unmap_grant_ref, GNTTABOP.swap_grant_ref,
]);

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** The grant-table status for a domain lookup result (0 = the caller). */
function domainStatus(rc: number): number {
  if (rc === 0) return GNTST.okay;
  return rc === -EPERM ? GNTST.permission_denied : GNTST.bad_domain;
}

function setupTable(dom: Domain, guest: GuestAccess, arg: number, count: number): number {
  if (count !== 1) return -EINVAL;
  const b = guest.read(arg, GNTTAB_SETUP_TABLE.size);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const nrFrames = dv.getUint32(GNTTAB_SETUP_TABLE.fields.nr_frames, true);
  const list = dv.getUint32(GNTTAB_SETUP_TABLE.fields.frame_list, true);
  if (!handleOkay(dom, list, nrFrames, 4)) return -EFAULT;
  let status = domainStatus(lookupDomid(dom, dv.getUint16(GNTTAB_SETUP_TABLE.fields.dom, true)));
  if (status === GNTST.okay && nrFrames > GRANT_FRAMES) status = GNTST.general_error;
  if (status === GNTST.okay) {
    for (let i = 0; i < nrFrames; i++) {
      const f = dom.grantFrames[i]!;
      // PVH: the GFN the frame was placed at; a frame still in Xen's space has none.
      const frame = dom.type === 'pv' || f < dom.nrPages ? f : 0xffffffff;
      if (!guest.write32((list + i * 4) >>> 0, frame)) {
        status = GNTST.bad_virt_addr;
        break;
      }
    }
  }
  const st = new Uint8Array(2);
  new DataView(st.buffer).setInt16(0, status, true);
  return guest.write((arg + GNTTAB_SETUP_TABLE.fields.status) >>> 0, st) ? 0 : -EFAULT;
}

function querySize(dom: Domain, guest: GuestAccess, arg: number, count: number): number {
  if (count !== 1) return -EINVAL;
  const b = guest.read(arg, GNTTAB_QUERY_SIZE.size);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const status = domainStatus(lookupDomid(dom, dv.getUint16(GNTTAB_QUERY_SIZE.fields.dom, true)));
  if (status === GNTST.okay) {
    dv.setUint32(GNTTAB_QUERY_SIZE.fields.nr_frames, GRANT_FRAMES, true);
    dv.setUint32(GNTTAB_QUERY_SIZE.fields.max_nr_frames, GRANT_FRAMES, true);
  }
  dv.setInt16(GNTTAB_QUERY_SIZE.fields.status, status, true);
  return guest.write(arg, b) ? 0 : -EFAULT;
}

function gnttabOp(dom: Domain, guest: GuestAccess, cmd: number, arg: number, count: number): number {
  if (dom.type === 'pvh' && !HVM_ALLOWED.has(cmd)) return -ENOSYS;
  if ((count | 0) < 0) return -EINVAL;
  if ((cmd & ~GNTTABOP_CMD_MASK) !== 0) return -EINVAL;
  switch (cmd) {
    case GNTTABOP.setup_table:
      return setupTable(dom, guest, arg, count);
    case GNTTABOP.query_size:
      return querySize(dom, guest, arg, count);
    case GNTTABOP.set_version: {
      const version = guest.read32(arg);
      if (version === null) return -EFAULT;
      const rc = version === 1 ? 0 : version === 2 ? -ENOSYS : -EINVAL;
      return guest.write32(arg, 1) ? rc : -EFAULT;
    }
    case GNTTABOP.get_version: {
      const b = guest.read(arg, GNTTAB_GET_VERSION.size);
      if (b === null) return -EFAULT;
      const rc = lookupDomid(dom, b[0]! | (b[1]! << 8));
      if (rc !== 0) return rc;
      return guest.write32((arg + GNTTAB_GET_VERSION.fields.version) >>> 0, 1) ? 0 : -EFAULT;
    }
    default:
      // Grant-table work: map_grant_ref, unmap_grant_ref, copy, transfer, ...
      return -ENOSYS;
  }
}

export function describeGrantTableOp(args: readonly number[], guest: GuestAccess): string {
  try {
    const cmd = args[0]! >>> 0, arg = args[1]! >>> 0, count = args[2]! >>> 0;
    const name = nameOf(GNTTABOP, cmd) ?? `cmd ${hex(cmd)}`;
    if (cmd === GNTTABOP.setup_table) {
      const b = guest.read(arg, GNTTAB_SETUP_TABLE.size);
      if (b === null) return `${name} ${hex(arg)} (unreadable)`;
      const dv = new DataView(b.buffer);
      return `${name} dom=${hex(dv.getUint16(0, true))} nr_frames=${dv.getUint32(4, true)} frame_list=${hex(dv.getUint32(12, true))}`;
    }
    if (cmd === GNTTABOP.set_version) {
      const v = guest.read32(arg);
      return v === null ? `${name} ${hex(arg)} (unreadable)` : `${name} version=${v}`;
    }
    return `${name} uop=${hex(arg)} count=${count}`;
  } catch {
    return 'grant_table_op (undecodable)';
  }
}

export function registerGnttabHypercalls(dom: Domain): void {
  dom.hypercalls.register({
    nr: 20, name: 'grant_table_op', avail: BOTH,
    handler: ({ args, guest }) => gnttabOp(dom, guest, args[0]! >>> 0, args[1]! >>> 0, args[2]! >>> 0),
    describe: describeGrantTableOp,
  });
}
