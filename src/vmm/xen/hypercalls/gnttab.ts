/**
 * grant_table_op (hypercall 20, PV and PVH): the guest's side of grant
 * tables v1 (reference §3.2 "Grant tables", §3.3 "Grant-table op structs",
 * §5.4). The table queries and set-up a guest needs to publish grants,
 * plus map / unmap / copy / swap issued by the guest itself; the grant
 * engine they share with the in-VMM backends is ../grants.ts.
 *
 * The domain owns GRANT_FRAMES v1 frames from the start (dom.grantFrames;
 * Xen grows the table on demand up to max_grant_frames, xenkit simply has
 * them all), so nr_frames = max_nr_frames = GRANT_FRAMES.
 *
 * 32-bit guests (PV and PVH alike) enter Xen's compat_grant_table_op:
 * setup_table, transfer, copy and get_status_frames are translated there
 * (their guest array is range-checked first, a count of 0 does nothing and
 * returns 0, copy and transfer read their ops in batches before running
 * any), the rest go to do_grant_table_op unchanged.
 *
 * Xen's rules (common/grant_table.c, compat/grant_table.c,
 * arch/x86/hvm/hypercall.c, arch/x86/pv/grant_table.c) kept here:
 *  - count as a signed int < 0 → -EINVAL; bits above the low 12 of cmd
 *    (continuation arguments) → -EINVAL, except for cache_flush (which x86
 *    does not have: -ENOSYS).
 *  - A PVH (HVM) guest may use only query_size, setup_table, set_version,
 *    get_version, copy, map_grant_ref, unmap_grant_ref and swap_grant_ref;
 *    anything else (also any cmd with high bits) → -ENOSYS.
 *  - setup_table (count 0 → 0; > 1 → -EINVAL): unreadable → -EFAULT; a PV
 *    frame_list outside the guest range → -EFAULT; then the result is in
 *    `status`: unknown domain → GNTST_bad_domain, dom0 →
 *    GNTST_permission_denied, nr_frames > GRANT_FRAMES →
 *    GNTST_general_error, a frame that cannot be written →
 *    GNTST_bad_virt_addr, else GNTST_okay with the frames written (PV: the
 *    MFNs; PVH: the GFN each frame was placed at with add_to_physmap, or ~0
 *    for a frame not placed yet). The call returns 0 unless `status` cannot
 *    be written back (-EFAULT).
 *  - query_size (count must be 1): fills nr_frames, max_nr_frames and status
 *    (bad_domain / permission_denied as above) and writes the struct back.
 *  - set_version: unreadable → -EFAULT; version 1 → 0; version 2 → -ENOSYS
 *    (Xen's answer when the domain's max version is 1: "behave as before
 *    set_version was introduced"; XTF then skips its v2 tests); any other
 *    version → -EINVAL. The struct is written back with the version in use
 *    (1) in every case that read it.
 *  - get_version: unreadable → -EFAULT; domain lookup → -ESRCH / -EPERM;
 *    writes version 1.
 *  - map_grant_ref, unmap_grant_ref, unmap_and_replace (PV only),
 *    swap_grant_ref: op by op, each read (unreadable → -EFAULT, earlier ops
 *    stay done), run, and its result written back (map: the whole struct
 *    with status, handle and dev_bus_addr; the others: status only;
 *    unwritable → -EFAULT). The per-op statuses are grants.ts's.
 *    The granting domain of a map is looked up by id: the guest's own id
 *    (DOMID_SELF is not accepted → GNTST_bad_domain).
 *  - Host mappings a PV guest asks for (create_grant_pv_mapping): host_addr
 *    is a linear address (or, with GNTMAP_contains_pte, the machine address
 *    of the PTE, 8-aligned); its L1 must be present and a validated L1 page
 *    table (PageTableTracker in mm.ts), else GNTST_general_error. The PTE
 *    becomes frame | P | A | D | RW unless GNTMAP_readonly | US with
 *    GNTMAP_application_map | the guest-available bits 16-18 of the flags in
 *    PTE bits 9-11 (XENFEAT_gnttab_map_avail_bits) | NX when EFER.NXE is on.
 *    Unmapping (replace_grant_pv_mapping) requires the PTE there to still
 *    map the frame with the same P/RW, and zaps it; unmap_and_replace moves
 *    the PTE found at new_addr there instead (zapping new_addr first, as
 *    Xen does, even when the second half fails).
 *  - copy: each op is translated from the compat struct; GNTCOPY_source_gref
 *    / dest_gref pick ref or frame for each side; ops are read 204 at a time
 *    (COMPAT_ARG_XLAT_SIZE / sizeof native gnttab_copy) and an unreadable op
 *    ends the call with -EFAULT before any op of its batch runs; every
 *    status of a batch is written back.
 *  - get_status_frames (PV; count 0 → 0, else must be 1): a v1 table has no
 *    status frames: nr_frames > 0 → GNTST_general_error, 0 → GNTST_okay.
 *  - dump_table has no implementation in Xen → -ENOSYS; so has cache_flush
 *    on x86.
 *
 * xenkit choices:
 *  - A PVH guest's own host mappings would need a p2m that can put another
 *    frame at host_addr; xenkit's is the identity, so such a map ends with
 *    GNTST_general_error after Xen's checks ran (bad refs etc. still get
 *    their own status). A PVH guest copies instead (GNTTABOP_copy works).
 *  - Linear host addresses in the hypervisor hole (≥ 0xF5800000) have no
 *    guest L1 → GNTST_general_error.
 *  - transfer needs page ownership to move between domains (no real p2m):
 *    it answers as Xen booted with gnttab=no-transfer, -EOPNOTSUPP (after
 *    reading its first batch of ops, as the compat layer does).
 *  - No continuations: a batch of more than MAX_GNTTAB_BATCH ops is refused
 *    with -E2BIG before any op runs (Xen would preempt and continue).
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import {
  GNTCOPY, GNTMAP, GNTST, GNTTABOP, GNTTAB_COPY, GNTTAB_GET_STATUS_FRAMES, GNTTAB_GET_VERSION,
  GNTTAB_MAP_GRANT_REF, GNTTAB_QUERY_SIZE, GNTTAB_SETUP_TABLE, GNTTAB_SWAP_GRANT_REF, GNTTAB_TRANSFER,
  GNTTAB_UNMAP_AND_REPLACE, GNTTAB_UNMAP_GRANT_REF,
} from '../abi/grant-table.js';
import { EFER_NXE } from '../../cpu/cpu.js';
import { GRANT_FRAMES, HYPERVISOR_VIRT_START, type Domain } from '../domain.js';
import type { CopyPtr, HostMappingHooks } from '../grants.js';
import type { GuestAccess } from '../guest-access.js';
import { handleOkay, lookupDomid } from './memory.js';
import { pageTables } from './mm.js';

const BOTH = { pv: true, pvh: true } as const;
const { E2BIG, EFAULT, EINVAL, ENOSYS, EOPNOTSUPP, EPERM } = XEN_ERRNO;

/** Low bits of cmd are the op; the rest carries continuation state (GNTTABOP_CMD_MASK). */
const GNTTABOP_CMD_MASK = 0xfff;
/** Commands Xen lets an HVM/PVH guest use (hvm_grant_table_op). */
const HVM_ALLOWED = new Set<number>([
  GNTTABOP.query_size, GNTTABOP.setup_table, GNTTABOP.set_version, GNTTABOP.get_version,
  GNTTABOP.copy, GNTTABOP.map_grant_ref, GNTTABOP.unmap_grant_ref, GNTTABOP.swap_grant_ref,
]);
/** Most ops one grant_table_op call runs (no continuations; see the header). */
export const MAX_GNTTAB_BATCH = 4096;
/** Ops the compat layer translates at a time: COMPAT_ARG_XLAT_SIZE (8 KiB) / native struct size. */
const COPY_XLAT_BATCH = Math.floor(8192 / 40), TRANSFER_XLAT_BATCH = Math.floor(8192 / 24);

const PAGE = 4096;
const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40;
/** PTE bits 9-11 (available to software) take GNTMAP_guest_avail0.. (flags bits 16-18). */
const GNTMAP_GUEST_AVAIL_SHIFT = 16, PTE_AVAIL_SHIFT = 9;
/** NX in the high dword of a PAE entry. */
const PTE_HI_NX = 0x80000000;

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

function i16(v: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, v, true);
  return b;
}

/** The grant-table status for a domain lookup result (0 = the caller). */
function domainStatus(rc: number): number {
  if (rc === 0) return GNTST.okay;
  return rc === -EPERM ? GNTST.permission_denied : GNTST.bad_domain;
}

// --- host mappings (arch/x86/pv/grant_table.c) --------------------------------

/** Machine frame named by a PAE entry (address bits 35:12). */
function entryFrame(lo: number, hi: number): number {
  return (hi & 0xf) * 0x100000 + (lo >>> 12);
}

/** The PV guest's create/replace_grant_pv_mapping (see the header). */
function pvHostHooks(dom: Domain): HostMappingHooks {
  const st = pageTables(dom), mem = dom.mem;
  /** Machine address of the L1 slot `addr` names, or -1 when there is none (or it is not a validated L1). */
  const l1Slot = (addr: bigint, containsPte: boolean): number => {
    st.sync();
    let pa: number;
    if (containsPte) {
      if ((addr & 7n) !== 0n || addr >= 1n << 36n) return -1;
      pa = Number(addr);
    } else {
      if (addr > 0xffffffffn || Number(addr) >= HYPERVISOR_VIRT_START) return -1;
      pa = st.l1EntryFor(Number(addr));
      if (pa < 0) return -1;
    }
    const l1 = Math.floor(pa / PAGE);
    return st.isRam(l1) && st.tables.get(l1)?.level === 1 ? pa : -1;
  };
  return {
    create(addr, frame, flags) {
      const pa = l1Slot(addr, (flags & GNTMAP.contains_pte) !== 0);
      if (pa < 0) return GNTST.general_error;
      let lo = (frame * PAGE + (PTE_P | PTE_A | PTE_D)) >>> 0;
      if ((flags & GNTMAP.readonly) === 0) lo |= PTE_RW;
      if ((flags & GNTMAP.application_map) !== 0) lo |= PTE_US;
      lo |= ((flags >>> GNTMAP_GUEST_AVAIL_SHIFT) & 7) << PTE_AVAIL_SHIFT;
      const hi = Math.floor(frame / 0x100000) | ((dom.cpu.efer & EFER_NXE) !== 0 ? PTE_HI_NX : 0);
      if (st.writeEntry(pa, lo >>> 0, hi >>> 0, true) !== 0) return GNTST.general_error;
      dom.cpu.tlbFlushAll();
      return GNTST.okay;
    },
    replace(addr, frame, newAddr, flags) {
      const containsPte = (flags & GNTMAP.contains_pte) !== 0;
      if (containsPte ? newAddr !== 0n : addr > 0xffffffffn || newAddr > 0xffffffffn) return GNTST.general_error;
      let nlo = 0, nhi = 0;
      if (newAddr !== 0n) {
        // steal_linear_address: zap the PTE at new_addr and move it here.
        const from = l1Slot(newAddr, false);
        if (from < 0) return GNTST.general_error;
        nlo = mem.read32(from) >>> 0;
        nhi = mem.read32(from + 4) >>> 0;
        if (st.writeEntry(from, 0, 0, true) !== 0) return GNTST.general_error;
        dom.cpu.tlbFlushAll();
      }
      // From here a failure loses the stolen PTE, as in Xen.
      const pa = l1Slot(addr, containsPte);
      if (pa < 0) return GNTST.general_error;
      const lo = mem.read32(pa) >>> 0, hi = mem.read32(pa + 4) >>> 0;
      const want = PTE_P | ((flags & GNTMAP.readonly) === 0 ? PTE_RW : 0);
      if (entryFrame(lo, hi) !== frame || ((lo ^ want) & (PTE_P | PTE_RW)) !== 0) return GNTST.general_error;
      if (st.writeEntry(pa, nlo, nhi, true) !== 0) return GNTST.general_error;
      dom.cpu.tlbFlushAll();
      return GNTST.okay;
    },
  };
}

/** A PVH guest's host mappings: xenkit's identity p2m cannot remap a GFN (see the header). */
const PVH_HOST_HOOKS: HostMappingHooks = {
  create: () => GNTST.general_error,
  replace: () => GNTST.general_error,
};

// --- table set-up and queries ---------------------------------------------------

function setupTable(dom: Domain, guest: GuestAccess, arg: number, count: number): number {
  if (count === 0) return 0;
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
  return guest.write((arg + GNTTAB_SETUP_TABLE.fields.status) >>> 0, i16(status)) ? 0 : -EFAULT;
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

function getStatusFrames(dom: Domain, guest: GuestAccess, arg: number, count: number): number {
  if (count === 0) return 0;
  if (count !== 1) return -EINVAL;
  const b = guest.read(arg, GNTTAB_GET_STATUS_FRAMES.size);
  if (b === null) return -EFAULT;
  const dv = new DataView(b.buffer);
  const nrFrames = dv.getUint32(GNTTAB_GET_STATUS_FRAMES.fields.nr_frames, true);
  if (!handleOkay(dom, dv.getUint32(GNTTAB_GET_STATUS_FRAMES.fields.frame_list, true), nrFrames, 8)) return -EFAULT;
  let status = domainStatus(lookupDomid(dom, dv.getUint16(GNTTAB_GET_STATUS_FRAMES.fields.dom, true)));
  // v1 has no status frames.
  if (status === GNTST.okay && nrFrames > 0) status = GNTST.general_error;
  return guest.write((arg + GNTTAB_GET_STATUS_FRAMES.fields.status) >>> 0, i16(status)) ? 0 : -EFAULT;
}

// --- map, unmap, copy, swap, transfer ---------------------------------------------

function mapGrantRefs(dom: Domain, guest: GuestAccess, uop: number, count: number): number {
  const F = GNTTAB_MAP_GRANT_REF.fields, size = GNTTAB_MAP_GRANT_REF.size;
  const hooks = dom.type === 'pv' ? pvHostHooks(dom) : PVH_HOST_HOOKS;
  for (let i = 0; i < count; i++) {
    const at = (uop + i * size) >>> 0;
    const b = guest.read(at, size);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    const r = dom.grants.mapRef('guest', dv.getUint16(F.dom, true), dv.getUint32(F.ref, true),
      dv.getUint32(F.flags, true), dv.getBigUint64(F.host_addr, true), hooks);
    dv.setInt16(F.status, r.status, true);
    if (r.status === GNTST.okay) {
      dv.setUint32(F.handle, r.handle, true);
      dv.setBigUint64(F.dev_bus_addr, BigInt(r.frame) * BigInt(PAGE), true);
    }
    if (!guest.write(at, b)) return -EFAULT;
  }
  return 0;
}

/** unmap_grant_ref (replace = false) and unmap_and_replace (replace = true). */
function unmapGrantRefs(dom: Domain, guest: GuestAccess, uop: number, count: number, replace: boolean): number {
  // Both structs: two u64 addresses, handle @16, status @20.
  const F = GNTTAB_UNMAP_GRANT_REF.fields, size = GNTTAB_UNMAP_GRANT_REF.size;
  const R = GNTTAB_UNMAP_AND_REPLACE.fields;
  const hooks = dom.type === 'pv' ? pvHostHooks(dom) : PVH_HOST_HOOKS;
  for (let i = 0; i < count; i++) {
    const at = (uop + i * size) >>> 0;
    const b = guest.read(at, size);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    const hostAddr = dv.getBigUint64(F.host_addr, true);
    const req = replace
      ? { hostAddr, devBusAddr: 0n, newAddr: dv.getBigUint64(R.new_addr, true) }
      : { hostAddr, devBusAddr: dv.getBigUint64(F.dev_bus_addr, true), newAddr: 0n };
    const status = dom.grants.unmapHandle('guest', dv.getUint32(F.handle, true), req, hooks);
    if (!guest.write((at + F.status) >>> 0, i16(status))) return -EFAULT;
  }
  return 0;
}

function copyPtr(dv: DataView, base: number, gref: boolean): CopyPtr {
  const u = dv.getUint32(base, true), domid = dv.getUint16(base + 4, true), offset = dv.getUint16(base + 6, true);
  return gref ? { kind: 'gref', domid, ref: u, offset } : { kind: 'gmfn', domid, gmfn: u, offset };
}

function copyOps(dom: Domain, guest: GuestAccess, uop: number, count: number): number {
  const F = GNTTAB_COPY.fields, size = GNTTAB_COPY.size;
  for (let start = 0; start < count; start += COPY_XLAT_BATCH) {
    const n = Math.min(COPY_XLAT_BATCH, count - start);
    const ops: DataView[] = [];
    for (let i = 0; i < n; i++) {
      const b = guest.read((uop + (start + i) * size) >>> 0, size);
      if (b === null) return -EFAULT;
      ops.push(new DataView(b.buffer));
    }
    const statuses = ops.map((dv) => {
      const flags = dv.getUint16(F.flags, true);
      return dom.grants.copyOne('guest',
        copyPtr(dv, F.source, (flags & GNTCOPY.source_gref) !== 0),
        copyPtr(dv, F.dest, (flags & GNTCOPY.dest_gref) !== 0),
        dv.getUint16(F.len, true));
    });
    let rc = 0;
    statuses.forEach((st, i) => {
      if (!guest.write((uop + (start + i) * size + F.status) >>> 0, i16(st))) rc = -EFAULT;
    });
    if (rc !== 0) return rc;
  }
  return 0;
}

function swapGrantRefs(dom: Domain, guest: GuestAccess, uop: number, count: number): number {
  const F = GNTTAB_SWAP_GRANT_REF.fields, size = GNTTAB_SWAP_GRANT_REF.size;
  for (let i = 0; i < count; i++) {
    const at = (uop + i * size) >>> 0;
    const b = guest.read(at, size);
    if (b === null) return -EFAULT;
    const dv = new DataView(b.buffer);
    const status = dom.grants.swap(dv.getUint32(F.ref_a, true), dv.getUint32(F.ref_b, true));
    if (!guest.write((at + F.status) >>> 0, i16(status))) return -EFAULT;
  }
  return 0;
}

function transfer(guest: GuestAccess, uop: number, count: number): number {
  if (count === 0) return 0;
  // The compat layer translates the first batch before gnttab_transfer refuses.
  for (let i = 0; i < Math.min(count, TRANSFER_XLAT_BATCH); i++) {
    if (guest.read((uop + i * GNTTAB_TRANSFER.size) >>> 0, GNTTAB_TRANSFER.size) === null) return -EFAULT;
  }
  return -EOPNOTSUPP;
}

/** Element size of each batched op's guest array (for the range check and the batch bound). */
const BATCHED: ReadonlyMap<number, number> = new Map([
  [GNTTABOP.map_grant_ref, GNTTAB_MAP_GRANT_REF.size],
  [GNTTABOP.unmap_grant_ref, GNTTAB_UNMAP_GRANT_REF.size],
  [GNTTABOP.unmap_and_replace, GNTTAB_UNMAP_AND_REPLACE.size],
  [GNTTABOP.copy, GNTTAB_COPY.size],
  [GNTTABOP.swap_grant_ref, GNTTAB_SWAP_GRANT_REF.size],
  [GNTTABOP.transfer, GNTTAB_TRANSFER.size],
]);
/** Batched ops the compat layer range-checks (the others are checked by the native handler, which a 32-bit pointer always passes). */
const COMPAT_CHECKED = new Set<number>([GNTTABOP.copy, GNTTABOP.transfer]);

function gnttabOp(dom: Domain, guest: GuestAccess, cmd: number, arg: number, count: number): number {
  if (dom.type === 'pvh' && !HVM_ALLOWED.has(cmd)) return -ENOSYS;
  if ((count | 0) < 0) return -EINVAL;
  const op = cmd & GNTTABOP_CMD_MASK;
  if (op !== GNTTABOP.cache_flush && op !== cmd) return -EINVAL;
  const elem = BATCHED.get(op);
  if (elem !== undefined) {
    if (COMPAT_CHECKED.has(op) && !handleOkay(dom, arg, count, elem)) return -EFAULT;
    if (count > MAX_GNTTAB_BATCH) return -E2BIG;
  }
  switch (op) {
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
    case GNTTABOP.map_grant_ref:
      return mapGrantRefs(dom, guest, arg, count);
    case GNTTABOP.unmap_grant_ref:
      return unmapGrantRefs(dom, guest, arg, count, false);
    case GNTTABOP.unmap_and_replace:
      return unmapGrantRefs(dom, guest, arg, count, true);
    case GNTTABOP.copy:
      return copyOps(dom, guest, arg, count);
    case GNTTABOP.swap_grant_ref:
      return swapGrantRefs(dom, guest, arg, count);
    case GNTTABOP.transfer:
      return transfer(guest, arg, count);
    case GNTTABOP.get_status_frames:
      return getStatusFrames(dom, guest, arg, count);
    default:
      // dump_table, cache_flush (ARM only) and unknown commands.
      return -ENOSYS;
  }
}

/** The `--trace hypercalls` line of a grant_table_op call (never throws). */
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
    if (cmd === GNTTABOP.map_grant_ref && count > 0) {
      const b = guest.read(arg, GNTTAB_MAP_GRANT_REF.size);
      if (b === null) return `${name} uop=${hex(arg)} count=${count} (unreadable)`;
      const dv = new DataView(b.buffer);
      return `${name} count=${count} [0]: dom=${hex(dv.getUint16(16, true))} ref=${dv.getUint32(12, true)} flags=${hex(dv.getUint32(8, true))} host_addr=0x${dv.getBigUint64(0, true).toString(16)}`;
    }
    if ((cmd === GNTTABOP.unmap_grant_ref || cmd === GNTTABOP.unmap_and_replace) && count > 0) {
      const b = guest.read(arg, GNTTAB_UNMAP_GRANT_REF.size);
      if (b === null) return `${name} uop=${hex(arg)} count=${count} (unreadable)`;
      return `${name} count=${count} [0]: handle=${new DataView(b.buffer).getUint32(16, true)}`;
    }
    if (cmd === GNTTABOP.copy && count > 0) {
      const b = guest.read(arg, GNTTAB_COPY.size);
      if (b === null) return `${name} uop=${hex(arg)} count=${count} (unreadable)`;
      const dv = new DataView(b.buffer);
      return `${name} count=${count} [0]: src=${dv.getUint32(0, true)}@${hex(dv.getUint16(4, true))}+${dv.getUint16(6, true)} dst=${dv.getUint32(8, true)}@${hex(dv.getUint16(12, true))}+${dv.getUint16(14, true)} len=${dv.getUint16(16, true)} flags=${dv.getUint16(18, true)}`;
    }
    return `${name} uop=${hex(arg)} count=${count}`;
  } catch {
    return 'grant_table_op (undecodable)';
  }
}

/** Register grant_table_op (20) in the domain's table. */
export function registerGnttabHypercalls(dom: Domain): void {
  dom.hypercalls.register({
    nr: 20, name: 'grant_table_op', avail: BOTH,
    handler: ({ args, guest }) => gnttabOp(dom, guest, args[0]! >>> 0, args[1]! >>> 0, args[2]! >>> 0),
    describe: describeGrantTableOp,
  });
}
