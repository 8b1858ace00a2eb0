/**
 * The paravirtual MMU hypercalls of a 32-bit PAE PV guest (reference §1.2,
 * §3.1-§3.3, §4 "Writable page tables", §8): mmu_update (1), set_gdt (2),
 * update_descriptor (10), update_va_mapping (14),
 * update_va_mapping_otherdomain (22) and mmuext_op (26). All are pv32-only
 * except mmuext_op, which a PVH caller may use for PIN_L*_TABLE and
 * UNPIN_TABLE only (every other command is -EOPNOTSUPP there).
 *
 * Address spaces: an identity p2m (MFN = PFN for RAM), so a machine address
 * is a PhysMemory address. Page-table frames must be domain RAM
 * (mfn < nrPages); a leaf may also map shared_info and the grant frames
 * (Domain.ownsFrame). Nothing here throws for guest input: guest pointers
 * go through GuestAccess (a bad one is -EFAULT), machine addresses are
 * checked against the domain's frames before PhysMemory is touched.
 *
 * Xen's page-type rules, as this module keeps them (PageTableTracker):
 *  - A frame is a *page table* of level 1, 2 or 3 while something
 *    references it as one: the current base (CR3's frame, an L3), a pin,
 *    or a present entry of a tracked table one level up. Each tracked
 *    frame has one level and a reference count; the children it references
 *    are remembered per slot, so dropping the last reference releases
 *    exactly what was taken even if memory changed meanwhile.
 *  - A frame becomes a page table only after every entry in it is
 *    validated (recursively for L3 → L2 → L1): the "type promotion" Xen
 *    does on pin, NEW_BASEPTR and on hooking a table into a parent. A
 *    frame that is mapped writable by a tracked L1, or is a GDT frame, or
 *    is already a table of another level, cannot become one (-EINVAL).
 *  - Entries: L1 entries that are present must name a frame the domain may
 *    map, have no bits 62:36 set other than NX (bit 63), and may be
 *    writable only if the frame is neither a page table nor a GDT frame.
 *    L2 entries may not be superpages (PSE is not offered to PV guests) and
 *    must reference domain RAM. L3 entries (only the four PAE slots) must
 *    reference domain RAM and may carry P, RW, U, A, D and the available
 *    bits; PWT, PCD, PS, G, NX and bits 62:36 are refused (Xen's compat L3
 *    mask). Non-present entries are free-form. L2 slots that cover the
 *    hypervisor hole are validated like the others; the walker never
 *    consults them (pv/hole.ts translates that range).
 *  - Writable L1 mappings held by tracked L1s are counted per target
 *    frame, so "is this frame mapped writable?" is exact for the active
 *    hierarchy and the pinned tables.
 *  - mmu_update on a frame that is not a page table (nor a GDT frame) is a
 *    plain checked-address 8-byte write, as Xen treats writable pages; its
 *    contents are validated when the frame is promoted later.
 *  - CR3 may also change through the emulated `mov %cr3` (pv/privop.ts);
 *    every call here first re-syncs the tracked base with CR3. If a base
 *    installed that way does not validate, it stays untracked (no
 *    protection until the next NEW_BASEPTR).
 *
 * Choices where the reference is silent:
 *  - No hypercall continuations: one mmu_update / mmuext_op call takes at
 *    most MAX_BATCH (65536) requests (-EINVAL above), and stops with
 *    -EAGAIN (done written) once WORK_BUDGET page-table entries have been
 *    validated; a retry from `done` makes progress. Requests are processed
 *    in order, the first failure stops the batch with its errno and `done`
 *    counts the requests completed before it. An unwritable `done` pointer
 *    turns an otherwise successful call into -EFAULT.
 *  - The command is ptr[2:0] (PTEs are 8 bytes); 4-7 are -ENOSYS.
 *    MMU_PT_UPDATE_NO_TRANSLATE is -EINVAL for a PV caller (nothing to
 *    translate). MMU_MACHPHYS_UPDATE stores `val` in the domain's M2P table
 *    (readable through the hole at 0xF5800000); the VMM itself never reads
 *    M2P, so the identity p2m is unaffected. `val` must fit 32 bits.
 *  - Foreign domains: DOMID_SELF or the domain's own id work; DOMID_IO and
 *    DOMID_XEN are -EPERM (an unprivileged domU); anything else -ESRCH.
 *  - update_va_mapping always drops the TLB entry of `va`; UVMF_TLB_FLUSH
 *    flushes everything. LOCAL and ALL are the same with one vCPU; a MULTI
 *    vCPU-mask pointer is read (-EFAULT if unreadable, after the PTE is
 *    written, as in Xen) and bit 0 selects this vCPU. mmu_update flushes
 *    the whole TLB after any successful request.
 *  - set_gdt validates every descriptor of each frame (Xen types whole
 *    pages), refuses frames that are page tables or mapped writable, writes
 *    the DPL fixups back and installs the frames only if all pass.
 *    update_descriptor refuses page-table frames. Descriptor rules
 *    (checkDescriptor): not-present descriptors are accepted as they are
 *    (loading one faults anyway); code/data with DPL 0 is raised to DPL 1;
 *    64-bit (L) code is refused; of the system descriptors only 32-bit call
 *    gates are accepted (DPL 0 raised to 1, target RPL 0 raised to 1, the
 *    target non-null and, in Xen's reserved GDT page, one of its flat
 *    ring-1/ring-3 code selectors). LDT and TSS descriptors are refused:
 *    PV guests cannot load LDTR/TR (Linux skips them in its GDT writes).
 *  - MMUEXT_SET_LDT: base page-aligned, at most 8192 entries, the table
 *    below the hypervisor hole. The CPU's LDTR cache is loaded with
 *    LDT_SELECTOR (Xen keeps the guest LDT descriptor in its reserved GDT
 *    page). LDT contents are not validated here (Xen checks them when it
 *    maps LDT pages on demand); that belongs to the descriptor-load path.
 *  - FLUSH_CACHE(_GLOBAL) are no-ops; MARK/UNMARK_SUPER are -EOPNOTSUPP
 *    (PV superpages are gone from Xen); NEW_USER_BASEPTR and PIN_L4_TABLE
 *    are -EINVAL (64-bit only); CLEAR_PAGE/COPY_PAGE need domain RAM and a
 *    destination that is neither a page table nor a GDT frame. For a PVH
 *    caller PIN/UNPIN of one of its own RAM frames are accepted as no-ops
 *    (its tables are not Xen-typed).
 */
import { SA, Seg } from '../../cpu/cpu.js';
import { XEN_ERRNO } from '../abi/errno.js';
import { nameOf } from '../abi/layout.js';
import { DOMID, MMU, MMUEXT, UVMF } from '../abi/xen.js';
import { HYPERVISOR_VIRT_START, type Domain } from '../domain.js';
import type { GuestAccess } from '../guest-access.js';
import { FIRST_RESERVED_GDT_ENTRY } from '../pv/gdt.js';

const PV = { pv: true, pvh: false } as const;
const BOTH = { pv: true, pvh: true } as const;
const { EAGAIN, EFAULT, EINVAL, ENOSYS, EOPNOTSUPP, EPERM, ESRCH } = XEN_ERRNO;

const PAGE = 4096;
/** Page-table entry bits (low dword). */
const PTE_P = 1, PTE_RW = 2, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80;
/** High dword: bits 62:36 (beyond MAXPHYADDR 36, or software bits Xen refuses). */
const HI_RSVD = 0x7ffffff0;
/** High dword: physical-address bits 35:32. */
const HI_ADDR = 0xf;
/** L3 entries of a 32-bit PV guest: PWT, PCD, PS and G are refused. */
const L3_BAD_LO = 0x198;
/** Guest-usable L3 slots (PAE PDPT). */
const L3_SLOTS = 4;
/** Most LDT entries (MMUEXT_SET_LDT). */
const MAX_LDT_ENTRIES = 8192;
/** Descriptors per GDT frame. */
const DESC_PER_FRAME = 512;

/** Requests one mmu_update / mmuext_op call takes at most (no continuations). */
export const MAX_BATCH = 1 << 16;
/** Page-table entries validated per call before a batch stops with -EAGAIN. */
export const WORK_BUDGET = 1 << 22;
/** LDTR selector while an LDT is set: Xen's LDT slot, the first entry of its reserved GDT page. */
export const LDT_SELECTOR = FIRST_RESERVED_GDT_ENTRY << 3;

type Level = 1 | 2 | 3;

/** A frame currently typed as a page table. */
interface PtFrame {
  level: Level;
  /** References: parents' entries, the base pointer, the pin. */
  refs: number;
  pinned: boolean;
  /** L2/L3: child table per slot; L1: frame mapped writable per slot; -1 for none. */
  slots: Int32Array;
}

/** Machine frame named by a PAE entry (address bits 35:12). */
function entryFrame(lo: number, hi: number): number {
  return (hi & HI_ADDR) * 0x100000 + (lo >>> 12);
}

/** Frame an L1 entry maps writable, or -1. */
function writableTarget(lo: number, hi: number): number {
  return (lo & (PTE_P | PTE_RW)) === (PTE_P | PTE_RW) ? entryFrame(lo, hi) : -1;
}

/**
 * The domain's page-type bookkeeping (see the header): which frames are
 * page tables, of which level, pinned or not, and how often each frame is
 * mapped writable by a tracked L1.
 */
export class PageTableTracker {
  readonly tables = new Map<number, PtFrame>();
  /** Frame → number of writable mappings of it in tracked L1 tables. */
  readonly writable = new Map<number, number>();
  /** Frame of the tracked base (the L3 CR3 names), or -1. */
  root = -1;
  /** CR3 value `root` was derived from (unsigned), or -1 before the first sync. */
  private rootCr3 = -1;
  /** Entries validated since the last reset (the per-call work budget). */
  work = 0;

  constructor(private readonly dom: Domain) {}

  /** Domain RAM: the only frames that may hold page tables. */
  isRam(mfn: number): boolean {
    return Number.isInteger(mfn) && mfn >= 0 && mfn < this.dom.nrPages;
  }

  /** A frame of the GDT installed with set_gdt. */
  isGdtFrame(mfn: number): boolean {
    const pv = this.dom.pv;
    const n = Math.min(pv.gdtFrames.length, Math.ceil(pv.gdtEntries / DESC_PER_FRAME));
    for (let i = 0; i < n; i++) if (pv.gdtFrames[i] === mfn) return true;
    return false;
  }

  /** May the guest write this frame as plain memory (not a page table, not a GDT frame)? */
  writableType(mfn: number): boolean {
    return !this.tables.has(mfn) && !this.isGdtFrame(mfn);
  }

  /** Writable mappings of `mfn` held by tracked L1 tables. */
  writableCount(mfn: number): number {
    return this.writable.get(mfn) ?? 0;
  }

  private addWritable(mfn: number, d: number): void {
    const n = (this.writable.get(mfn) ?? 0) + d;
    if (n > 0) this.writable.set(mfn, n);
    else this.writable.delete(mfn);
  }

  /** Bring the tracked base in line with CR3 (the emulated mov %cr3 changes it behind our back). */
  sync(): void {
    const cr3 = this.dom.cpu.cr3 >>> 0;
    if (cr3 === this.rootCr3) return;
    const old = this.root;
    const mfn = cr3 >>> 12;
    this.rootCr3 = cr3;
    this.root = this.get(mfn, 3) === 0 ? mfn : -1;
    if (old >= 0) this.put(old);
  }

  /** MMUEXT_NEW_BASEPTR: validate `mfn` as an L3 and make it the base. */
  setBase(mfn: number): number {
    if (!this.isRam(mfn)) return -EINVAL;
    const rc = this.get(mfn, 3);
    if (rc !== 0) return rc;
    const old = this.root;
    const cpu = this.dom.cpu;
    cpu.cr3 = (mfn * PAGE) | 0;
    this.root = mfn;
    this.rootCr3 = cpu.cr3 >>> 0;
    if (old >= 0) this.put(old);
    cpu.tlbFlushAll();
    cpu.brk = true;
    return 0;
  }

  /** Pin `mfn` as a table of `level` (one reference held until unpinned). */
  pin(mfn: number, level: Level): number {
    if (!this.isRam(mfn)) return -EINVAL;
    if (this.tables.get(mfn)?.pinned === true) return -EINVAL;
    const rc = this.get(mfn, level);
    if (rc !== 0) return rc;
    this.tables.get(mfn)!.pinned = true;
    return 0;
  }

  unpin(mfn: number): number {
    const t = this.tables.get(mfn);
    if (t === undefined || !t.pinned) return -EINVAL;
    t.pinned = false;
    this.put(mfn);
    return 0;
  }

  /** Take a reference on `mfn` as a table of `level`, validating it on first use. 0 or -errno. */
  get(mfn: number, level: Level): number {
    if (!this.isRam(mfn)) return -EINVAL;
    const cur = this.tables.get(mfn);
    if (cur !== undefined) {
      if (cur.level !== level) return -EINVAL;
      cur.refs++;
      return 0;
    }
    if (this.writableCount(mfn) > 0 || this.isGdtFrame(mfn)) return -EINVAL;
    const n = level === 3 ? L3_SLOTS : 512;
    const t: PtFrame = { level, refs: 1, pinned: false, slots: new Int32Array(n).fill(-1) };
    // Provisionally typed, so entries of its subtree cannot map it writable.
    this.tables.set(mfn, t);
    this.work += n;
    const mem = this.dom.mem, base = mfn * PAGE;
    for (let i = 0; i < n; i++) {
      const lo = mem.read32(base + i * 8) >>> 0, hi = mem.read32(base + i * 8 + 4) >>> 0;
      let rc: number;
      if (level === 1) {
        rc = this.checkL1(lo, hi);
        if (rc === 0) t.slots[i] = writableTarget(lo, hi);
      } else {
        rc = level === 2 ? checkL2(lo, hi) : checkL3(lo, hi);
        if (rc === 0 && (lo & PTE_P) !== 0) {
          const child = entryFrame(lo, hi);
          rc = this.get(child, level === 2 ? 1 : 2);
          if (rc === 0) t.slots[i] = child;
        }
      }
      if (rc !== 0) {
        this.tables.delete(mfn);
        if (level !== 1) for (let j = 0; j < i; j++) if (t.slots[j]! >= 0) this.put(t.slots[j]!);
        return rc;
      }
    }
    if (level === 1) for (const f of t.slots) if (f >= 0) this.addWritable(f, 1);
    return 0;
  }

  /** Drop a reference; the last one releases the table's own references. */
  put(mfn: number): void {
    const t = this.tables.get(mfn);
    if (t === undefined) return;
    if (--t.refs > 0) return;
    this.tables.delete(mfn);
    if (t.level === 1) {
      for (const f of t.slots) if (f >= 0) this.addWritable(f, -1);
    } else {
      for (const c of t.slots) if (c >= 0) this.put(c);
    }
  }

  /** Validate an L1 entry (present: mappable frame, no reserved bits, no writable page tables/GDT). */
  checkL1(lo: number, hi: number): number {
    if ((lo & PTE_P) === 0) return 0;
    if ((hi & HI_RSVD) !== 0) return -EINVAL;
    const f = entryFrame(lo, hi);
    if (!this.dom.ownsFrame(f)) return -EINVAL;
    if ((lo & PTE_RW) !== 0 && !this.writableType(f)) return -EINVAL;
    return 0;
  }

  /**
   * Write the 8-byte entry at machine address `pa` (8-aligned, domain RAM)
   * with the checks its frame's type calls for. `leaf` (update_va_mapping):
   * the frame is the L1 reached by a walk, so it is always checked as one.
   */
  writeEntry(pa: number, lo: number, hi: number, leaf: boolean): number {
    const mfn = pa >>> 12, slot = (pa & 0xfff) >>> 3;
    const t = this.tables.get(mfn);
    if (t === undefined) {
      if (this.isGdtFrame(mfn)) return -EINVAL;
      if (leaf) {
        const rc = this.checkL1(lo, hi);
        if (rc !== 0) return rc;
      }
    } else if (t.level === 1) {
      const rc = this.checkL1(lo, hi);
      if (rc !== 0) return rc;
      const nt = writableTarget(lo, hi), ot = t.slots[slot]!;
      if (nt >= 0) this.addWritable(nt, 1);
      if (ot >= 0) this.addWritable(ot, -1);
      t.slots[slot] = nt;
    } else {
      if (leaf) return -EINVAL;
      if (t.level === 3 && slot >= L3_SLOTS) return -EINVAL;
      const rc = t.level === 2 ? checkL2(lo, hi) : checkL3(lo, hi);
      if (rc !== 0) return rc;
      let child = -1;
      if ((lo & PTE_P) !== 0) {
        child = entryFrame(lo, hi);
        const r = this.get(child, t.level === 2 ? 1 : 2);
        if (r !== 0) return r;
      }
      const old = t.slots[slot]!;
      t.slots[slot] = child;
      if (old >= 0) this.put(old);
    }
    this.dom.mem.write32(pa, lo | 0);
    this.dom.mem.write32(pa + 4, hi | 0);
    return 0;
  }

  /** Machine address of the L1 entry for `va` in the current tables, or -1 (L3/L2 not present, superpage, not RAM). */
  l1EntryFor(va: number): number {
    const mem = this.dom.mem;
    const l3a = ((this.dom.cpu.cr3 & ~0x1f) >>> 0) + (va >>> 30) * 8;
    const l3 = mem.read32(l3a) >>> 0, l3h = mem.read32(l3a + 4) >>> 0;
    if ((l3 & PTE_P) === 0) return -1;
    const l2f = entryFrame(l3, l3h);
    if (!this.isRam(l2f)) return -1;
    const l2a = l2f * PAGE + ((va >>> 21) & 511) * 8;
    const l2 = mem.read32(l2a) >>> 0, l2h = mem.read32(l2a + 4) >>> 0;
    if ((l2 & PTE_P) === 0 || (l2 & PTE_PS) !== 0) return -1;
    const l1f = entryFrame(l2, l2h);
    if (!this.isRam(l1f)) return -1;
    return l1f * PAGE + ((va >>> 12) & 511) * 8;
  }
}

function checkL2(lo: number, hi: number): number {
  if ((lo & PTE_P) === 0) return 0;
  if ((hi & HI_RSVD) !== 0 || (lo & PTE_PS) !== 0) return -EINVAL;
  return 0;
}

function checkL3(lo: number, hi: number): number {
  if ((lo & PTE_P) === 0) return 0;
  if ((lo & L3_BAD_LO) !== 0 || (hi & ~HI_ADDR) !== 0) return -EINVAL;
  return 0;
}

const TRACKERS = new WeakMap<Domain, PageTableTracker>();

/** The domain's page-type bookkeeping (created on first use). */
export function pageTables(dom: Domain): PageTableTracker {
  let t = TRACKERS.get(dom);
  if (t === undefined) {
    t = new PageTableTracker(dom);
    TRACKERS.set(dom, t);
  }
  return t;
}

/** 0 when `id` names the calling domain; Xen's errno otherwise. */
function foreignDomain(dom: Domain, id: number): number {
  id &= 0xffff;
  if (id === DOMID.SELF || id === dom.domid) return 0;
  if (id === DOMID.IO || id === DOMID.XEN) return -EPERM;
  return -ESRCH;
}

/**
 * Xen's descriptor check for guest GDT/LDT entries (see the header):
 * the descriptor to store, possibly with fixups, or null when refused.
 */
export function checkDescriptor(lo: number, hi: number): [number, number] | null {
  lo >>>= 0;
  hi >>>= 0;
  if ((hi & 0x8000) === 0) return [lo, hi]; // not present: any load faults
  const raiseDpl = (h: number): number => ((h & 0x6000) === 0 ? (h | 0x2000) >>> 0 : h);
  if ((hi & 0x1000) !== 0) {
    if ((hi & 0x800) !== 0 && (hi & 0x200000) !== 0) return null; // 64-bit code
    return [lo, raiseDpl(hi)];
  }
  if (((hi >>> 8) & 0xf) !== 0xc) return null; // only 32-bit call gates among system descriptors
  let target = lo >>> 16;
  if ((target & 0xfffc) === 0) return null;
  if ((target & 4) === 0 && target >>> 3 >= FIRST_RESERVED_GDT_ENTRY) {
    const t = target & ~3;
    if (t !== 0xe018 && t !== 0xe028) return null; // only Xen's flat ring-1/ring-3 code
  }
  if ((target & 3) === 0) target |= 1;
  return [((lo & 0xffff) | (target << 16)) >>> 0, raiseDpl(hi)];
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16);
}

function hex64(lo: number, hi: number): string {
  return hi >>> 0 === 0 ? hex(lo) : '0x' + (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
}

function uvmfName(flags: number): string {
  const type = ['NONE', 'TLB_FLUSH', 'INVLPG', 'TLB_FLUSH|INVLPG'][flags & 3]!;
  const sel = (flags & ~3) >>> 0;
  return `${type}|${sel === 0 ? 'LOCAL' : sel === UVMF.ALL ? 'ALL' : `MULTI(${hex(sel)})`}`;
}

/** Guest VA of element `i` of an array at `base`, or -1 past the 4 GiB end. */
function element(base: number, i: number, size: number): number {
  const va = (base >>> 0) + i * size;
  return va + size > 0x1_0000_0000 ? -1 : va;
}

export function registerMmHypercalls(dom: Domain): void {
  const t = dom.hypercalls, cpu = dom.cpu, mem = dom.mem;
  const st = pageTables(dom);

  /** update_va_mapping proper (after the domain check). */
  const updateVaMapping = (guest: GuestAccess, va: number, lo: number, hi: number, flags: number): number => {
    va >>>= 0;
    if (va >= HYPERVISOR_VIRT_START) return -EINVAL;
    st.sync();
    const pa = st.l1EntryFor(va);
    if (pa < 0) return -EINVAL;
    const rc = st.writeEntry(pa, lo >>> 0, hi >>> 0, true);
    if (rc !== 0) return rc;
    cpu.tlbFlushPage(va);
    const sel = (flags & ~UVMF.FLUSHTYPE_MASK) >>> 0;
    let here = true;
    if (sel !== UVMF.LOCAL && sel !== UVMF.ALL) {
      const mask = guest.read32(sel);
      if (mask === null) return -EFAULT;
      here = (mask & 1) !== 0;
    }
    if (here && (flags & UVMF.TLB_FLUSH) !== 0) cpu.tlbFlushAll();
    return 0;
  };

  t.register({
    nr: 14, name: 'update_va_mapping', avail: PV,
    handler: ({ args, guest }) => updateVaMapping(guest, args[0]!, args[1]!, args[2]!, args[3]!),
    describe: (a) => `va=${hex(a[0]!)} pte=${hex64(a[1]!, a[2]!)} flags=${uvmfName(a[3]!)}`,
  });

  t.register({
    nr: 22, name: 'update_va_mapping_otherdomain', avail: PV,
    handler: ({ args, guest }) => {
      const rc = foreignDomain(dom, args[4]!);
      return rc !== 0 ? rc : updateVaMapping(guest, args[0]!, args[1]!, args[2]!, args[3]!);
    },
    describe: (a) => `va=${hex(a[0]!)} pte=${hex64(a[1]!, a[2]!)} flags=${uvmfName(a[3]!)} dom=${hex(a[4]!)}`,
  });

  /** One mmu_update request. */
  const mmuUpdateOne = (ptrLo: number, ptrHi: number, valLo: number, valHi: number): number => {
    const cmd = ptrLo & 7;
    switch (cmd) {
      case MMU.NORMAL_PT_UPDATE:
      case MMU.PT_UPDATE_PRESERVE_AD: {
        const pa = (ptrLo & ~7) >>> 0;
        if (ptrHi !== 0 || !st.isRam(pa >>> 12)) return -EINVAL;
        let lo = valLo;
        if (cmd === MMU.PT_UPDATE_PRESERVE_AD) lo = (lo | (mem.read32(pa) & (PTE_A | PTE_D))) >>> 0;
        return st.writeEntry(pa, lo, valHi, false);
      }
      case MMU.MACHPHYS_UPDATE: {
        const mfn = ptrLo >>> 12;
        if (ptrHi !== 0 || !st.isRam(mfn) || valHi !== 0) return -EINVAL;
        mem.write32(dom.m2pMfn * PAGE + mfn * 4, valLo | 0);
        return 0;
      }
      case MMU.PT_UPDATE_NO_TRANSLATE:
        return -EINVAL;
      default:
        return -ENOSYS;
    }
  };

  /** Write the `done` count back; turns success into -EFAULT when it cannot be written. */
  const finish = (guest: GuestAccess, doneVa: number, done: number, rc: number): number => {
    if (doneVa !== 0 && !guest.write32(doneVa, done) && rc === 0) return -EFAULT;
    return rc;
  };

  /** foreigndom of mmu_update: FD in bits 15:0, PFD + 1 in bits 31:16 (0 = self). */
  const checkForeign = (fd: number): number => {
    const rc = foreignDomain(dom, fd & 0xffff);
    if (rc !== 0) return rc;
    const pfd = fd >>> 16;
    return pfd === 0 ? 0 : foreignDomain(dom, pfd - 1);
  };

  t.register({
    nr: 1, name: 'mmu_update', avail: PV,
    handler: ({ args, guest }) => {
      const reqs = args[0]!, count = args[1]! >>> 0, doneVa = args[2]!;
      const frc = checkForeign(args[3]!);
      if (frc !== 0) return frc;
      if (count > MAX_BATCH) return -EINVAL;
      st.sync();
      st.work = 0;
      let i = 0, rc = 0;
      for (; i < count; i++) {
        if (st.work >= WORK_BUDGET) { rc = -EAGAIN; break; }
        const va = element(reqs, i, 16);
        const b = va < 0 ? null : guest.read(va, 16);
        if (b === null) { rc = -EFAULT; break; }
        const dv = new DataView(b.buffer);
        rc = mmuUpdateOne(dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true));
        if (rc !== 0) break;
      }
      if (i > 0) cpu.tlbFlushAll();
      return finish(guest, doneVa, i, rc);
    },
    describe: (a, guest) => {
      let s = `req=${hex(a[0]!)} count=${a[1]! >>> 0} done=${hex(a[2]!)} dom=${hex(a[3]!)}`;
      if ((a[1]! >>> 0) > 0) {
        const b = guest.read(a[0]!, 16);
        if (b === null) return s + ' (unreadable)';
        const dv = new DataView(b.buffer);
        const ptrLo = dv.getUint32(0, true);
        const cmd = nameOf(MMU, ptrLo & 7) ?? `cmd ${ptrLo & 7}`;
        s += ` [0] ${cmd} ptr=${hex64(ptrLo & ~7, dv.getUint32(4, true))} val=${hex64(dv.getUint32(8, true), dv.getUint32(12, true))}`;
      }
      return s;
    },
  });

  /** Read a vCPU bitmap (TLB_FLUSH_MULTI, INVLPG_MULTI): is vCPU 0 in it? null when unreadable. */
  const inMask = (guest: GuestAccess, ptr: number): boolean | null => {
    const m = guest.read32(ptr);
    return m === null ? null : (m & 1) !== 0;
  };

  /** One mmuext_op. */
  const mmuextOne = (guest: GuestAccess, cmd: number, arg1: number, arg2: number): number => {
    if (dom.type === 'pvh') {
      if (cmd <= MMUEXT.UNPIN_TABLE) return st.isRam(arg1) ? 0 : -EINVAL;
      return -EOPNOTSUPP;
    }
    switch (cmd) {
      case MMUEXT.PIN_L1_TABLE: return st.pin(arg1, 1);
      case MMUEXT.PIN_L2_TABLE: return st.pin(arg1, 2);
      case MMUEXT.PIN_L3_TABLE: return st.pin(arg1, 3);
      case MMUEXT.PIN_L4_TABLE: return -EINVAL;
      case MMUEXT.UNPIN_TABLE: return st.unpin(arg1);
      case MMUEXT.NEW_BASEPTR: return st.setBase(arg1);
      case MMUEXT.NEW_USER_BASEPTR: return -EINVAL;
      case MMUEXT.TLB_FLUSH_LOCAL:
      case MMUEXT.TLB_FLUSH_ALL:
        cpu.tlbFlushAll();
        return 0;
      case MMUEXT.TLB_FLUSH_MULTI: {
        const here = inMask(guest, arg2);
        if (here === null) return -EFAULT;
        if (here) cpu.tlbFlushAll();
        return 0;
      }
      case MMUEXT.INVLPG_LOCAL:
      case MMUEXT.INVLPG_ALL:
        cpu.tlbFlushPage(arg1 >>> 0);
        return 0;
      case MMUEXT.INVLPG_MULTI: {
        const here = inMask(guest, arg2);
        if (here === null) return -EFAULT;
        if (here) cpu.tlbFlushPage(arg1 >>> 0);
        return 0;
      }
      case MMUEXT.FLUSH_CACHE:
      case MMUEXT.FLUSH_CACHE_GLOBAL:
        return 0;
      case MMUEXT.SET_LDT: {
        const base = arg1 >>> 0, ents = arg2 >>> 0;
        if ((base & 0xfff) !== 0 || ents > MAX_LDT_ENTRIES) return -EINVAL;
        if (ents !== 0 && base + ents * 8 > HYPERVISOR_VIRT_START) return -EINVAL;
        dom.pv.ldtBase = base;
        dom.pv.ldtEntries = ents;
        if (ents === 0) cpu.loadSegCache(Seg.LDTR, 0, 0, 0, SA.NULL);
        else cpu.loadSegCache(Seg.LDTR, LDT_SELECTOR, base, ents * 8 - 1, SA.P | 0x2);
        return 0;
      }
      case MMUEXT.CLEAR_PAGE:
        if (!st.isRam(arg1) || !st.writableType(arg1)) return -EINVAL;
        mem.fill(arg1 * PAGE, PAGE, 0);
        return 0;
      case MMUEXT.COPY_PAGE:
        if (!st.isRam(arg1) || !st.writableType(arg1) || !st.isRam(arg2)) return -EINVAL;
        mem.writeBytes(arg1 * PAGE, mem.readBytes(arg2 * PAGE, PAGE));
        return 0;
      case MMUEXT.MARK_SUPER:
      case MMUEXT.UNMARK_SUPER:
        return -EOPNOTSUPP;
      default:
        return -ENOSYS;
    }
  };

  t.register({
    nr: 26, name: 'mmuext_op', avail: BOTH,
    handler: ({ args, guest }) => {
      const ops = args[0]!, count = args[1]! >>> 0, doneVa = args[2]!;
      const frc = foreignDomain(dom, args[3]!);
      if (frc !== 0) return frc;
      if (count > MAX_BATCH) return -EINVAL;
      if (dom.type === 'pv') st.sync();
      st.work = 0;
      let i = 0, rc = 0;
      for (; i < count; i++) {
        if (st.work >= WORK_BUDGET) { rc = -EAGAIN; break; }
        const va = element(ops, i, 12);
        const b = va < 0 ? null : guest.read(va, 12);
        if (b === null) { rc = -EFAULT; break; }
        const dv = new DataView(b.buffer);
        rc = mmuextOne(guest, dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true));
        if (rc !== 0) break;
      }
      return finish(guest, doneVa, i, rc);
    },
    describe: (a, guest) => {
      let s = `ops=${hex(a[0]!)} count=${a[1]! >>> 0} done=${hex(a[2]!)} dom=${hex(a[3]!)}`;
      if ((a[1]! >>> 0) > 0) {
        const b = guest.read(a[0]!, 12);
        if (b === null) return s + ' (unreadable)';
        const dv = new DataView(b.buffer);
        const cmd = dv.getUint32(0, true);
        s += ` [0] ${nameOf(MMUEXT, cmd) ?? `cmd ${cmd}`} ${hex(dv.getUint32(4, true))} ${hex(dv.getUint32(8, true))}`;
      }
      return s;
    },
  });

  t.register({
    nr: 2, name: 'set_gdt', avail: PV,
    handler: ({ args, guest }) => {
      const ptr = args[0]!, entries = args[1]! >>> 0;
      if (entries > FIRST_RESERVED_GDT_ENTRY) return -EINVAL;
      const nr = Math.ceil(entries / DESC_PER_FRAME);
      const frames: number[] = [];
      if (nr > 0) {
        const b = guest.read(ptr, nr * 4);
        if (b === null) return -EFAULT;
        const dv = new DataView(b.buffer);
        for (let i = 0; i < nr; i++) frames.push(dv.getUint32(i * 4, true));
      }
      st.sync();
      const fixups: number[] = [];
      for (const f of frames) {
        if (!st.isRam(f) || st.tables.has(f) || st.writableCount(f) > 0) return -EINVAL;
        for (let i = 0; i < DESC_PER_FRAME; i++) {
          const pa = f * PAGE + i * 8;
          const lo = mem.read32(pa) >>> 0, hi = mem.read32(pa + 4) >>> 0;
          const d = checkDescriptor(lo, hi);
          if (d === null) return -EINVAL;
          if (d[0] !== lo || d[1] !== hi) fixups.push(pa, d[0], d[1]);
        }
      }
      for (let i = 0; i < fixups.length; i += 3) {
        mem.write32(fixups[i]!, fixups[i + 1]! | 0);
        mem.write32(fixups[i]! + 4, fixups[i + 2]! | 0);
      }
      dom.pv.gdtFrames = frames;
      dom.pv.gdtEntries = entries;
      return 0;
    },
    describe: (a, guest) => {
      const entries = a[1]! >>> 0;
      const s = `frames=${hex(a[0]!)} entries=${entries}`;
      if (entries === 0) return s;
      const f = guest.read32(a[0]!);
      return f === null ? s + ' (unreadable)' : `${s} [0]=${hex(f)}`;
    },
  });

  t.register({
    nr: 10, name: 'update_descriptor', avail: PV,
    handler: ({ args }) => {
      const maLo = args[0]! >>> 0, maHi = args[1]! >>> 0;
      if (maHi !== 0 || (maLo & 7) !== 0 || !st.isRam(maLo >>> 12)) return -EINVAL;
      st.sync();
      if (st.tables.has(maLo >>> 12)) return -EINVAL;
      const d = checkDescriptor(args[2]!, args[3]!);
      if (d === null) return -EINVAL;
      mem.write32(maLo, d[0] | 0);
      mem.write32(maLo + 4, d[1] | 0);
      return 0;
    },
    describe: (a) => `ma=${hex64(a[0]!, a[1]!)} desc=${hex64(a[2]!, a[3]!)}`,
  });
}
