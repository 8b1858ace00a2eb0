/**
 * xen_version (hypercall 17) and vm_assist (21), both for PV and PVH
 * (reference §3.1, §3.2 "Version", "Features", "VM assists").
 *
 * xen_version follows Xen's do_xen_version (common/kernel.c) as an
 * unprivileged domU sees it under the default XSM policy:
 *  - version → major << 16 | minor (platform.ts: 4.19).
 *  - extraversion (16-byte buffer), compile_info (144 bytes), capabilities
 *    (1024 bytes), changeset (64 bytes): NUL-padded strings copied out;
 *    -EFAULT when the buffer is not writable.
 *  - capabilities is the *hypervisor's* list of guest types it can run, the
 *    same string for every guest (Xen: "xen-3.0-x86_64 xen-3.0-x86_32p
 *    hvm-3.0-x86_32 ..."); xenkit runs PAE PV32 and 32-bit PVH/HVM guests:
 *    "xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p " (Xen's trailing blank).
 *  - platform_parameters → {virt_start}: HYPERVISOR_VIRT_START (0xF5800000)
 *    for PV, 0 for PVH.
 *  - get_features({submap_idx, submap}): only submap 0 exists, any other
 *    index → -EINVAL; the whole struct is written back. Reported bits:
 *      PV:  pae_pgdir_above_4gb (only while VMASST pae_extended_cr3 is on),
 *           mmu_pt_update_preserve_ad, highmem_assist,
 *           gnttab_map_avail_bits, direct_mapped;
 *      PVH: writable_page_tables, auto_translated_physmap,
 *           hvm_callback_vector, hvm_safe_pvclock, not_direct_mapped.
 *    Xen also reports memory_op_vnode_supported, runstate_phys_area,
 *    vcpu_time_phys_area and dm_msix_all_writes; xenkit implements none of
 *    those interfaces, so it does not advertise them.
 *  - pagesize → 4096, but -EINVAL when the argument is not NULL (Xen's rule).
 *  - guest_handle → the 16-byte domain handle (UUID): zeros.
 *  - commandline: a domU is denied the hypervisor's command line, so Xen
 *    copies the 9 bytes "<denied>\0" and returns 0.
 *  - build_id and commandline2 are denied to a domU → -EPERM.
 *  - extraversion2 / capabilities2 / changeset2 (xen_varbuf {len; buf[]}):
 *    a NULL argument asks for the length; otherwise a buffer smaller than the
 *    string → -ENOBUFS; the string (no NUL) goes to buf and its length is
 *    returned.
 *  - Unknown commands → -ENOSYS.
 *
 * vm_assist(cmd, type) follows do_vm_assist (common/domain.c): the type is
 * checked first against the guest type's valid set (PV32: 4gb_segments,
 * 4gb_segments_notify, writable_pagetables, pae_extended_cr3,
 * runstate_update_flag; HVM/PVH: runstate_update_flag only) → -EINVAL;
 * then enable/disable set or clear the bit in dom.vmAssist; any other cmd
 * → -ENOSYS.
 *
 * Xen (4.7+) also accepts architectural_iopl for PV32. That assist changes
 * what the guest may do: the kernel runs at virtual CPL 0, iret and bounce
 * frames carry a virtual IOPL, and cli/sti/in/out at vCPL <= vIOPL are
 * emulated instead of faulting. xenkit has no virtual IOPL, so it refuses
 * the type with -EINVAL, the answer of a Xen that predates it: a guest
 * that asks learns the assist is absent instead of faulting on cli later.
 */
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import {
  XENFEAT, XENVER, XEN_CAPABILITIES_INFO_LEN, XEN_CHANGESET_INFO_LEN, XEN_COMPILE_INFO, XEN_EXTRAVERSION_LEN,
  XEN_FEATURE_INFO, XEN_PLATFORM_PARAMETERS,
} from '../abi/version.js';
import { VMASST_CMD, VMASST_TYPE } from '../abi/xen.js';
import { HYPERVISOR_VIRT_START, type Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { XEN_VERSION_MAJOR, XEN_VERSION_MINOR } from '../platform.js';

const BOTH = { pv: true, pvh: true } as const;
const { E2BIG, EFAULT, EINVAL, ENOBUFS, ENOSYS, EPERM } = XEN_ERRNO;

/** The strings xenkit reports as "the hypervisor". */
export const XENKIT_VERSION_STRINGS = Object.freeze({
  extraversion: '-xenkit',
  capabilities: 'xen-3.0-x86_32p hvm-3.0-x86_32 hvm-3.0-x86_32p ',
  changeset: 'xenkit',
  compiler: 'xenkit (TypeScript)',
  compileBy: 'xenkit',
  compileDomain: '',
  compileDate: '',
  denied: '<denied>',
});

/** VM assists a PV32 guest may set: Xen's PV32_VM_ASSIST_MASK minus architectural_iopl (see the header). */
const PV32_VM_ASSIST_MASK =
  (1 << VMASST_TYPE['4gb_segments']) | (1 << VMASST_TYPE['4gb_segments_notify']) |
  (1 << VMASST_TYPE.writable_pagetables) | (1 << VMASST_TYPE.pae_extended_cr3) |
  (1 << VMASST_TYPE.runstate_update_flag);
/** VM assists an HVM/PVH guest may set (Xen's HVM_VM_ASSIST_MASK). */
const HVM_VM_ASSIST_MASK = 1 << VMASST_TYPE.runstate_update_flag;
/** Xen's limit for varbuf replies ("avoid long-running operations"). */
const VARBUF_MAX = 64 * 1024;

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

/** `s` as a NUL-padded C char array of `len` bytes (truncated to len − 1 characters). */
function cString(s: string, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const bytes = new TextEncoder().encode(s);
  out.set(bytes.subarray(0, Math.max(0, len - 1)));
  return out;
}

/** XENVER_get_features submap 0 for this domain. */
export function featureSubmap0(dom: Domain): number {
  const bit = (n: number): number => (1 << n) >>> 0;
  let f = 0;
  if ((dom.vmAssist & (1 << VMASST_TYPE.pae_extended_cr3)) !== 0) f |= bit(XENFEAT.pae_pgdir_above_4gb);
  if (dom.type === 'pv') {
    f |= bit(XENFEAT.mmu_pt_update_preserve_ad) | bit(XENFEAT.highmem_assist) |
      bit(XENFEAT.gnttab_map_avail_bits) | bit(XENFEAT.direct_mapped);
  } else {
    f |= bit(XENFEAT.writable_page_tables) | bit(XENFEAT.auto_translated_physmap) |
      bit(XENFEAT.hvm_callback_vector) | bit(XENFEAT.hvm_safe_pvclock) | bit(XENFEAT.not_direct_mapped);
  }
  return f >>> 0;
}

/** The xen_varbuf protocol of the *2 sub-ops. */
function varbuf(guest: GuestAccess, arg: number, str: string): number {
  const bytes = new TextEncoder().encode(str);
  if (bytes.length > VARBUF_MAX) return -E2BIG;
  if (arg === 0) return bytes.length;
  const len = guest.read32(arg);
  if (len === null) return -EFAULT;
  if (bytes.length > len) return -ENOBUFS;
  return guest.write((arg + 4) >>> 0, bytes) ? bytes.length : -EFAULT;
}

function xenVersion(dom: Domain, guest: GuestAccess, cmd: number, arg: number): number {
  const S = XENKIT_VERSION_STRINGS;
  const put = (data: Uint8Array): number => (guest.write(arg, data) ? 0 : -EFAULT);
  switch (cmd) {
    case XENVER.version:
      return ((XEN_VERSION_MAJOR << 16) | XEN_VERSION_MINOR) >>> 0;
    case XENVER.extraversion:
      return put(cString(S.extraversion, XEN_EXTRAVERSION_LEN));
    case XENVER.compile_info: {
      const out = new Uint8Array(XEN_COMPILE_INFO.size);
      const f = XEN_COMPILE_INFO.fields;
      out.set(cString(S.compiler, 64), f.compiler);
      out.set(cString(S.compileBy, 16), f.compile_by);
      out.set(cString(S.compileDomain, 32), f.compile_domain);
      out.set(cString(S.compileDate, 32), f.compile_date);
      return put(out);
    }
    case XENVER.capabilities:
      return put(cString(S.capabilities, XEN_CAPABILITIES_INFO_LEN));
    case XENVER.changeset:
      return put(cString(S.changeset, XEN_CHANGESET_INFO_LEN));
    case XENVER.platform_parameters: {
      const out = new Uint8Array(XEN_PLATFORM_PARAMETERS.size);
      new DataView(out.buffer).setUint32(XEN_PLATFORM_PARAMETERS.fields.virt_start, dom.type === 'pv' ? HYPERVISOR_VIRT_START : 0, true);
      return put(out);
    }
    case XENVER.get_features: {
      const b = guest.read(arg, XEN_FEATURE_INFO.size);
      if (b === null) return -EFAULT;
      const dv = new DataView(b.buffer);
      if (dv.getUint32(XEN_FEATURE_INFO.fields.submap_idx, true) !== 0) return -EINVAL;
      dv.setUint32(XEN_FEATURE_INFO.fields.submap, featureSubmap0(dom), true);
      return put(b);
    }
    case XENVER.pagesize:
      return arg !== 0 ? -EINVAL : 4096;
    case XENVER.guest_handle:
      return put(new Uint8Array(16));
    case XENVER.commandline:
      // Denied to a domU: Xen copies just "<denied>" and its NUL.
      return put(cString(S.denied, S.denied.length + 1));
    case XENVER.build_id:
    case XENVER.commandline2:
      return -EPERM;
    case XENVER.extraversion2:
      return varbuf(guest, arg, S.extraversion);
    case XENVER.capabilities2:
      return varbuf(guest, arg, S.capabilities);
    case XENVER.changeset2:
      return varbuf(guest, arg, S.changeset);
    default:
      return -ENOSYS;
  }
}

export function describeXenVersion(args: readonly number[], guest: GuestAccess): string {
  try {
    const cmd = args[0]! >>> 0, arg = args[1]! >>> 0;
    const name = nameOf(XENVER, cmd) ?? `cmd ${cmd}`;
    if (cmd === XENVER.get_features) {
      const idx = guest.read32(arg);
      return idx === null ? `${name} ${hex(arg)} (unreadable)` : `${name} submap_idx=${idx}`;
    }
    return cmd === XENVER.version ? name : `${name} arg=${hex(arg)}`;
  } catch {
    return 'xen_version (undecodable)';
  }
}

export function describeVmAssist(args: readonly number[]): string {
  const cmd = args[0]! >>> 0, type = args[1]! >>> 0;
  return `${nameOf(VMASST_CMD, cmd) ?? `cmd ${cmd}`} ${nameOf(VMASST_TYPE, type) ?? `type ${type}`}`;
}

export function registerVersionHypercalls(dom: Domain): void {
  const t = dom.hypercalls;

  t.register({
    nr: 17, name: 'xen_version', avail: BOTH,
    handler: ({ args, guest }) => xenVersion(dom, guest, args[0]! >>> 0, args[1]! >>> 0),
    describe: describeXenVersion,
  });

  t.register({
    nr: 21, name: 'vm_assist', avail: BOTH,
    handler: ({ args }) => {
      const cmd = args[0]! >>> 0, type = args[1]! >>> 0;
      const valid = dom.type === 'pv' ? PV32_VM_ASSIST_MASK : HVM_VM_ASSIST_MASK;
      if (type >= 32 || ((valid >>> type) & 1) === 0) return -EINVAL;
      switch (cmd) {
        case VMASST_CMD.enable:
          dom.vmAssist = (dom.vmAssist | (1 << type)) >>> 0;
          return 0;
        case VMASST_CMD.disable:
          dom.vmAssist = (dom.vmAssist & ~(1 << type)) >>> 0;
          return 0;
        default:
          return -ENOSYS;
      }
    },
    describe: (a) => describeVmAssist(a),
  });
}
