/**
 * The page walker: linear → physical translation with protection checks.
 *
 * Implements the three IA-32 modes (Intel SDM vol. 3A ch. 4):
 *  - paging off (CR0.PG = 0): identity;
 *  - 32-bit paging (§4.3): 2 levels, 4 KiB pages and, with CR4.PSE, 4 MiB
 *    pages (without CR4.PSE the PDE's PS bit is ignored and the entry always
 *    references a page table);
 *  - PAE paging (§4.4): 3 levels, 4 KiB and 2 MiB pages, NX when EFER.NXE.
 *
 * MAXPHYADDR is 36 (a PAE/PSE-36 686). Physical addresses at or above 4 GiB
 * can be named by an entry but never hold memory (guest memory is below
 * 1.75 GiB), so translations to them are sent to `UNBACKED`, where reads
 * return all-ones and writes are dropped, rather than being truncated onto
 * RAM.
 *
 * Protection (§4.6): user accesses (CPL 3) need U/S set at every level;
 * CPL 0-2 accesses are supervisor accesses (Xen PV kernels run at CPL 1).
 * Writes need R/W at every level for user accesses, and for supervisor
 * accesses only when CR0.WP is set. Instruction fetches from NX pages fault.
 *
 * Reserved bits (§4.3 table 4-4, §4.4.2 tables 4-8..4-11) are checked in
 * every present entry as it is reached, so a reserved-bit fault at an upper
 * level wins over a non-present lower level, and any reserved-bit fault
 * wins over a protection fault. Error code: P=1 with RSVD.
 *
 * Accessed bits (§4.8) are set at every level walked and the dirty bit on
 * the leaf on a write, only once the access is known to be permitted. A
 * failed walk throws #PF with the error code of §4.7 (P, W/R, U/S, RSVD,
 * I/D — I/D only with PAE + NXE) and the faulting linear address, which the
 * delivery path writes to CR2.
 *
 * The hypervisor's range (Cpu.holeStart and up, Xen PV) is translated by
 * the VMM's hook instead of the guest's tables.
 *
 * PAE top level (PDPTEs): Xen runs 32-bit PV guests under 64-bit paging, so
 * their L3 entries carry RW/U/A/D bits that native PAE PDPTEs reserve. We
 * treat the L3 like a long-mode PDPTE without its permissions: only P and
 * the reserved physical-address bits 62:36 are honoured; RW, U/S, A, D, PS
 * and bit 63 are ignored, and nothing is written back. A native PAE kernel
 * (whose PDPTEs hold only P and the address) sees no difference. PDPTEs are
 * read at walk time rather than cached at CR3 load.
 *
 * A successful walk fills the CPU's TLB with the permissions the walk
 * proved, except write permission on a frame that is not yet dirty (so the
 * first write walks again and sets D) or that holds cached code (so the
 * write is seen by the block cache). Frames outside memory are never cached
 * (every access to them walks).
 */
import { CpuFault, Vec } from './fault.js';
import type { Cpu } from './cpu.js';
import { Acc, TLB, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_PGE, EFER_NXE } from './cpu.js';

/** #PF error-code bits (SDM vol. 3A §4.7). */
export const PFE_P = 1, PFE_W = 2, PFE_U = 4, PFE_RSVD = 8, PFE_I = 16;

/** Paging-structure entry bits. */
export const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_PWT = 8, PTE_PCD = 0x10, PTE_A = 0x20, PTE_D = 0x40,
  PTE_PS = 0x80, PTE_G = 0x100;

/**
 * Where translations to physical addresses at or above 4 GiB go: an
 * address above any possible guest memory (PhysMemory caps it at 1.75 GiB),
 * 4 MiB-aligned so a large-page offset still fits below 2^32.
 */
export const UNBACKED = 0xffc00000;

/** 32-bit paging 4 MiB PDE: bits 21:17 are reserved with MAXPHYADDR 36 (table 4-4). */
const PDE4M_RSVD = 0x003e0000;
/** 32-bit paging 4 MiB PDE: bits 16:13 are physical-address bits 35:32 (PSE-36). */
const PDE4M_HIGH = 0x0001e000;
/** PAE 2 MiB PDE: bits 20:13 are reserved (bit 12 is PAT). */
const PDE2M_RSVD = 0x001fe000;
/** PAE entry, high dword: bits 62:36 are reserved (MAXPHYADDR 36). */
const PAE_HI_RSVD = 0x7ffffff0;
/** PAE entry, high dword: physical-address bits 35:32. */
const PAE_HI_ADDR = 0x0000000f;

/**
 * Translate `la` (unsigned) for access `acc` as user (CPL 3) or supervisor.
 * With `peek`, nothing is written (no A/D bits, no TLB fill) and an
 * unmapped or forbidden address returns -1 instead of throwing.
 * Returns an unsigned physical address, possibly outside memory.
 */
export function translate(cpu: Cpu, la: number, acc: Acc, user: boolean, peek = false): number {
  if ((cpu.cr0 & CR0_PG) === 0) {
    if (!peek) {
      const pfn = la >>> 12;
      const code = cpu.mem.codePages[pfn];
      // Outside memory (code undefined): never cached, always the slow path.
      if (code !== undefined) {
        let e = (la & ~0xfff) | TLB.VALID | TLB.UR | TLB.X;
        if (code === 0) e |= TLB.SW | TLB.UW;
        cpu.tlbSet(pfn, e);
      }
    }
    return la;
  }
  if (la >= cpu.holeStart && cpu.holeTranslate !== null) return cpu.holeTranslate(cpu, la, acc, user, peek);
  return (cpu.cr4 & CR4_PAE) !== 0 ? walkPae(cpu, la, acc, user, peek) : walk32(cpu, la, acc, user, peek);
}

/** Build the #PF for a failed walk; `code` carries P and RSVD. */
function pageFault(cpu: Cpu, la: number, acc: Acc, user: boolean, code: number): CpuFault {
  let ec = code;
  if (acc === Acc.WRITE) ec |= PFE_W;
  if (user) ec |= PFE_U;
  // I/D is reported only when NX exists (PAE + EFER.NXE; no SMEP on a 686).
  if (acc === Acc.EXEC && (cpu.efer & EFER_NXE) !== 0 && (cpu.cr4 & CR4_PAE) !== 0) ec |= PFE_I;
  return new CpuFault(Vec.PF, ec, la | 0);
}

/** May this access proceed given the combined R/W, U/S and NX of the walk (§4.6)? */
function permitted(cpu: Cpu, acc: Acc, user: boolean, rw: boolean, us: boolean, nx: boolean): boolean {
  if (user && !us) return false;
  if (acc === Acc.WRITE && !rw && (user || (cpu.cr0 & CR0_WP) !== 0)) return false;
  if (acc === Acc.EXEC && nx) return false;
  return true;
}

/**
 * Cache a translation proved by a walk. Write permission is granted only
 * when the leaf is already dirty (a later first write must walk to set D)
 * and the frame holds no decoded code (writes to it must reach the block
 * cache). SW reflects CR0.WP at fill time: MOV CR0 must flush the TLB when
 * WP changes.
 */
function fill(cpu: Cpu, la: number, pa: number, rw: boolean, us: boolean, nx: boolean, dirty: boolean,
  global: boolean, large: boolean): void {
  const code = cpu.mem.codePages[pa >>> 12];
  if (code === undefined) return; // outside memory (UNBACKED included): always the slow path
  let e = (pa & ~0xfff) | TLB.VALID;
  if (!nx) e |= TLB.X;
  if (us) e |= TLB.UR;
  if (dirty && code === 0) {
    if (rw || (cpu.cr0 & CR0_WP) === 0) e |= TLB.SW;
    if (us && rw) e |= TLB.UW;
  }
  if (global && (cpu.cr4 & CR4_PGE) !== 0) e |= TLB.GLOBAL;
  if (large) e |= TLB.LARGE;
  cpu.tlbSet(la >>> 12, e);
}

function walk32(cpu: Cpu, la: number, acc: Acc, user: boolean, peek: boolean): number {
  const mem = cpu.mem;
  const pdeAddr = ((cpu.cr3 & ~0xfff) >>> 0) + ((la >>> 22) << 2);
  const pde = mem.read32(pdeAddr);
  if ((pde & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  const want = acc === Acc.WRITE ? PTE_A | PTE_D : PTE_A;
  if ((pde & PTE_PS) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) {
    // 4 MiB page (§4.3, table 4-4).
    if ((pde & PDE4M_RSVD) !== 0) {
      if (peek) return -1;
      throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
    }
    const rw = (pde & PTE_RW) !== 0, us = (pde & PTE_US) !== 0;
    if (!permitted(cpu, acc, user, rw, us, false)) {
      if (peek) return -1;
      throw pageFault(cpu, la, acc, user, PFE_P);
    }
    const base = (pde & PDE4M_HIGH) !== 0 ? UNBACKED : pde & 0xffc00000;
    const pa = (base | (la & 0x3fffff)) >>> 0;
    if (peek) return pa;
    if ((pde & want) !== want) mem.write32(pdeAddr, pde | want);
    fill(cpu, la, pa, rw, us, false, ((pde | want) & PTE_D) !== 0, (pde & PTE_G) !== 0, true);
    return pa;
  }
  // PDE references a page table (PS ignored without CR4.PSE). Its D bit is ignored.
  const pteAddr = ((pde & ~0xfff) >>> 0) + (((la >>> 12) & 0x3ff) << 2);
  const pte = mem.read32(pteAddr);
  if ((pte & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  const rw = (pde & pte & PTE_RW) !== 0, us = (pde & pte & PTE_US) !== 0;
  if (!permitted(cpu, acc, user, rw, us, false)) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P);
  }
  const pa = ((pte & ~0xfff) | (la & 0xfff)) >>> 0;
  if (peek) return pa;
  // A bits top-down, then D on the leaf (§4.8).
  if ((pde & PTE_A) === 0) mem.write32(pdeAddr, pde | PTE_A);
  if ((pte & want) !== want) mem.write32(pteAddr, pte | want);
  fill(cpu, la, pa, rw, us, false, ((pte | want) & PTE_D) !== 0, (pte & PTE_G) !== 0, false);
  return pa;
}

/** Physical base of the frame or page table named by a PAE entry (UNBACKED above 4 GiB). */
function paeBase(lo: number, hi: number, mask: number): number {
  return (hi & PAE_HI_ADDR) !== 0 ? UNBACKED : (lo & mask) >>> 0;
}

function walkPae(cpu: Cpu, la: number, acc: Acc, user: boolean, peek: boolean): number {
  const mem = cpu.mem;
  const nxe = (cpu.efer & EFER_NXE) !== 0;
  // Bit 63 (XD) is reserved unless EFER.NXE (§4.4.2).
  const rsvdHi = nxe ? PAE_HI_RSVD : PAE_HI_RSVD | 0x80000000;

  // L3 (PDPTE), Xen-lenient: P and address bits only (see header).
  const l3Addr = ((cpu.cr3 & ~0x1f) >>> 0) + ((la >>> 30) << 3);
  const l3 = mem.read32(l3Addr);
  if ((l3 & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  const l3hi = mem.read32(l3Addr + 4);
  if ((l3hi & PAE_HI_RSVD) !== 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
  }

  // L2 (PDE).
  const l2Addr = paeBase(l3, l3hi, ~0xfff) + (((la >>> 21) & 0x1ff) << 3);
  const l2 = mem.read32(l2Addr);
  if ((l2 & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  const l2hi = mem.read32(l2Addr + 4);
  const large = (l2 & PTE_PS) !== 0;
  if ((l2hi & rsvdHi) !== 0 || (large && (l2 & PDE2M_RSVD) !== 0)) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
  }
  const want = acc === Acc.WRITE ? PTE_A | PTE_D : PTE_A;
  if (large) {
    // 2 MiB page (table 4-9).
    const rw = (l2 & PTE_RW) !== 0, us = (l2 & PTE_US) !== 0, nx = nxe && l2hi < 0;
    if (!permitted(cpu, acc, user, rw, us, nx)) {
      if (peek) return -1;
      throw pageFault(cpu, la, acc, user, PFE_P);
    }
    const pa = (paeBase(l2, l2hi, 0xffe00000) | (la & 0x1fffff)) >>> 0;
    if (peek) return pa;
    if ((l2 & want) !== want) mem.write32(l2Addr, l2 | want);
    fill(cpu, la, pa, rw, us, nx, ((l2 | want) & PTE_D) !== 0, (l2 & PTE_G) !== 0, true);
    return pa;
  }

  // L1 (PTE).
  const l1Addr = paeBase(l2, l2hi, ~0xfff) + (((la >>> 12) & 0x1ff) << 3);
  const l1 = mem.read32(l1Addr);
  if ((l1 & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  const l1hi = mem.read32(l1Addr + 4);
  if ((l1hi & rsvdHi) !== 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
  }
  const rw = (l2 & l1 & PTE_RW) !== 0, us = (l2 & l1 & PTE_US) !== 0;
  const nx = nxe && (l2hi < 0 || l1hi < 0);
  if (!permitted(cpu, acc, user, rw, us, nx)) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P);
  }
  const pa = (paeBase(l1, l1hi, ~0xfff) | (la & 0xfff)) >>> 0;
  if (peek) return pa;
  if ((l2 & PTE_A) === 0) mem.write32(l2Addr, l2 | PTE_A);
  if ((l1 & want) !== want) mem.write32(l1Addr, l1 | want);
  fill(cpu, la, pa, rw, us, nx, ((l1 | want) & PTE_D) !== 0, (l1 & PTE_G) !== 0, false);
  return pa;
}
