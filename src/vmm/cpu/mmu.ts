/**
 * The page walker: linear → physical translation with protection checks.
 *
 * Implements the three IA-32 modes (Intel SDM vol. 3A ch. 4):
 *  - paging off (CR0.PG = 0): identity;
 *  - 32-bit paging: 2 levels, 4 KiB pages and, with CR4.PSE, 4 MiB pages;
 *  - PAE paging (CR4.PAE): 3 levels, 4 KiB and 2 MiB pages, NX when EFER.NXE.
 *
 * Protection (§4.6): user accesses (CPL 3) need U/S set at every level;
 * writes need R/W at every level for user accesses, and for supervisor
 * accesses only when CR0.WP is set; instruction fetches from NX pages fault.
 * Accessed bits are set at every level walked, the dirty bit on the leaf on a
 * write (§4.8). A failed walk throws #PF with the error code of §4.7 and the
 * faulting address, which the delivery path writes to CR2.
 *
 * PAE top level (PDPTEs): Xen runs 32-bit PV guests under 64-bit paging, so
 * their L3 entries carry RW/U/A/D bits that native PAE PDPTEs reserve. We
 * treat the L3 like a long-mode PDPTE: only P (and reserved address bits)
 * are honoured, and PDPTEs are read at walk time rather than cached at CR3
 * load. See reference §1.2.
 *
 * A successful walk fills the CPU's TLB with the permissions the walk
 * proved, except write permission on a frame that is not yet dirty (so the
 * first write walks again and sets D) or that holds cached code (so the
 * write is seen by the block cache).
 */
import { CpuFault, Vec } from './fault.js';
import type { Cpu } from './cpu.js';
import { Acc, TLB, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, CR4_PGE, EFER_NXE } from './cpu.js';

/** #PF error-code bits. */
export const PFE_P = 1, PFE_W = 2, PFE_U = 4, PFE_RSVD = 8, PFE_I = 16;

const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;

/**
 * Translate `la` (unsigned) for access `acc` as user (CPL 3) or supervisor.
 * With `peek`, nothing is written (no A/D bits, no TLB fill) and an
 * unmapped or forbidden address returns -1 instead of throwing.
 */
export function translate(cpu: Cpu, la: number, acc: Acc, user: boolean, peek = false): number {
  if ((cpu.cr0 & CR0_PG) === 0) {
    if (!peek) {
      const pfn = la >>> 12;
      let e = (la & ~0xfff) | TLB.VALID | TLB.UR | TLB.X;
      if (cpu.mem.codePages[pfn] === undefined || cpu.mem.codePages[pfn] === 0) e |= TLB.SW | TLB.UW;
      if (pfn < cpu.mem.codePages.length) cpu.tlbSet(pfn, e);
    }
    return la;
  }
  return (cpu.cr4 & CR4_PAE) !== 0 ? walkPae(cpu, la, acc, user, peek) : walk32(cpu, la, acc, user, peek);
}

function pageFault(cpu: Cpu, la: number, acc: Acc, user: boolean, code: number): CpuFault {
  let ec = code;
  if (acc === Acc.WRITE) ec |= PFE_W;
  if (user) ec |= PFE_U;
  if (acc === Acc.EXEC && (cpu.efer & EFER_NXE) !== 0 && (cpu.cr4 & CR4_PAE) !== 0) ec |= PFE_I;
  return new CpuFault(Vec.PF, ec, la | 0);
}

/** Check the combined permissions; return the #PF "present" code or 0. */
function permitted(cpu: Cpu, acc: Acc, user: boolean, rw: boolean, us: boolean, nx: boolean): boolean {
  if (user && !us) return false;
  if (acc === Acc.WRITE && !rw && (user || (cpu.cr0 & CR0_WP) !== 0)) return false;
  if (acc === Acc.EXEC && nx) return false;
  return true;
}

function fill(cpu: Cpu, la: number, pa: number, rw: boolean, us: boolean, nx: boolean, dirty: boolean, global: boolean): void {
  const pfn = pa >>> 12;
  const mem = cpu.mem;
  if (pfn >= mem.codePages.length) return; // outside memory: always slow path
  let e = (pa & ~0xfff) | TLB.VALID;
  const code = mem.codePages[pfn] !== 0;
  if (!nx) e |= TLB.X;
  if (us) e |= TLB.UR;
  if (dirty && !code) {
    if (rw || (cpu.cr0 & CR0_WP) === 0) e |= TLB.SW;
    if (us && rw) e |= TLB.UW;
  }
  if (global && (cpu.cr4 & CR4_PGE) !== 0) e |= TLB.GLOBAL;
  cpu.tlbSet(la >>> 12, e);
}

function walk32(cpu: Cpu, la: number, acc: Acc, user: boolean, peek: boolean): number {
  const mem = cpu.mem;
  const pdeAddr = (cpu.cr3 & ~0xfff) + ((la >>> 22) << 2);
  const pde = mem.read32(pdeAddr);
  if ((pde & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  if ((pde & PTE_PS) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) {
    const rw = (pde & PTE_RW) !== 0, us = (pde & PTE_US) !== 0;
    if (!permitted(cpu, acc, user, rw, us, false)) {
      if (peek) return -1;
      throw pageFault(cpu, la, acc, user, PFE_P);
    }
    const pa = ((pde & 0xffc00000) | (la & 0x3fffff)) >>> 0;
    if (peek) return pa;
    const want = PTE_A | (acc === Acc.WRITE ? PTE_D : 0);
    if ((pde & want) !== want) mem.write32(pdeAddr, pde | want);
    fill(cpu, la, pa, rw, us, false, ((pde | want) & PTE_D) !== 0, (pde & PTE_G) !== 0);
    return pa;
  }
  const pteAddr = (pde & ~0xfff) + (((la >>> 12) & 0x3ff) << 2);
  const pte = mem.read32(pteAddr >>> 0);
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
  if ((pde & PTE_A) === 0) mem.write32(pdeAddr, pde | PTE_A);
  const want = PTE_A | (acc === Acc.WRITE ? PTE_D : 0);
  if ((pte & want) !== want) mem.write32(pteAddr >>> 0, pte | want);
  fill(cpu, la, pa, rw, us, false, ((pte | want) & PTE_D) !== 0, (pte & PTE_G) !== 0);
  return pa;
}

/**
 * Reserved-bit mask of the high dword of a PAE PDE/PTE: physical address
 * bits 36-62 (MAXPHYADDR = 36 on our 686) and bit 63 unless EFER.NXE.
 */
function paeHighReserved(cpu: Cpu): number {
  return (cpu.efer & EFER_NXE) !== 0 ? 0x7ffffff0 : (0xfffffff0 | 0);
}

function walkPae(cpu: Cpu, la: number, acc: Acc, user: boolean, peek: boolean): number {
  const mem = cpu.mem;
  const rsvdHi = paeHighReserved(cpu);
  const l3Addr = ((cpu.cr3 & ~0x1f) >>> 0) + ((la >>> 30) << 3);
  const l3 = mem.read32(l3Addr);
  const l3hi = mem.read32(l3Addr + 4);
  if ((l3 & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  if ((l3hi & 0x7ffffff0) !== 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
  }
  // Xen-style L3: permissions of the L3 entry are not consulted (see header).
  const l2Addr = ((l3 & ~0xfff) >>> 0) + (((la >>> 21) & 0x1ff) << 3);
  const l2 = mem.read32(l2Addr);
  const l2hi = mem.read32(l2Addr + 4);
  if ((l2 & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  if ((l2hi & rsvdHi) !== 0 || ((l2 & PTE_PS) !== 0 && (l2 & 0x1fe000) !== 0)) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
  }
  const nxEnabled = (cpu.efer & EFER_NXE) !== 0;
  if ((l2 & PTE_PS) !== 0) {
    const rw = (l2 & PTE_RW) !== 0, us = (l2 & PTE_US) !== 0, nx = nxEnabled && l2hi < 0;
    if (!permitted(cpu, acc, user, rw, us, nx)) {
      if (peek) return -1;
      throw pageFault(cpu, la, acc, user, PFE_P);
    }
    const pa = ((l2 & 0xffe00000) | (la & 0x1fffff)) >>> 0;
    if (peek) return pa;
    const want = PTE_A | (acc === Acc.WRITE ? PTE_D : 0);
    if ((l2 & want) !== want) mem.write32(l2Addr, l2 | want);
    fill(cpu, la, pa, rw, us, nx, ((l2 | want) & PTE_D) !== 0, (l2 & PTE_G) !== 0);
    return pa;
  }
  const l1Addr = ((l2 & ~0xfff) >>> 0) + (((la >>> 12) & 0x1ff) << 3);
  const l1 = mem.read32(l1Addr);
  const l1hi = mem.read32(l1Addr + 4);
  if ((l1 & PTE_P) === 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, 0);
  }
  if ((l1hi & rsvdHi) !== 0) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P | PFE_RSVD);
  }
  const rw = (l2 & l1 & PTE_RW) !== 0, us = (l2 & l1 & PTE_US) !== 0;
  const nx = nxEnabled && (l2hi < 0 || l1hi < 0);
  if (!permitted(cpu, acc, user, rw, us, nx)) {
    if (peek) return -1;
    throw pageFault(cpu, la, acc, user, PFE_P);
  }
  const pa = ((l1 & ~0xfff) | (la & 0xfff)) >>> 0;
  if (peek) return pa;
  if ((l2 & PTE_A) === 0) mem.write32(l2Addr, l2 | PTE_A);
  const want = PTE_A | (acc === Acc.WRITE ? PTE_D : 0);
  if ((l1 & want) !== want) mem.write32(l1Addr, l1 | want);
  fill(cpu, la, pa, rw, us, nx, ((l1 | want) & PTE_D) !== 0, (l1 & PTE_G) !== 0);
  return pa;
}
