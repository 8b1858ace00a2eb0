/**
 * The hypervisor's part of a 32-bit PV guest's address space (reference
 * §8.2): linear addresses from HYPERVISOR_VIRT_START (0xF5800000) up belong
 * to Xen and ignore the guest's page tables. The read-only machine-to-phys
 * table (M2P, `machine_to_phys_mapping`) sits at its start, readable from
 * rings 1 and 3; writing it raises #PF (XTF checks this), executing it
 * raises #PF with I/D, and everything else in the range is not present.
 */
import { Acc, TLB, EFER_NXE, type Cpu } from '../../cpu/cpu.js';
import { CpuFault, Vec } from '../../cpu/fault.js';
import { PFE_I, PFE_P, PFE_U, PFE_W } from '../../cpu/mmu.js';
import { HYPERVISOR_VIRT_START, type Domain } from '../domain.js';

/** Install the hole translation on the domain's CPU. */
export function installHypervisorHole(dom: Domain): void {
  const cpu = dom.cpu;
  cpu.holeStart = HYPERVISOR_VIRT_START;
  cpu.holeTranslate = (c: Cpu, la: number, acc: Acc, user: boolean, peek: boolean): number => {
    const page = (la - HYPERVISOR_VIRT_START) >>> 12;
    const m2p = page < dom.m2pFrames;
    if (m2p && acc === Acc.READ) {
      const pa = (dom.m2pMfn + page) * 4096 + (la & 0xfff);
      if (!peek) c.tlbSet(la >>> 12, ((dom.m2pMfn + page) * 4096) | TLB.VALID | TLB.UR);
      return pa;
    }
    if (peek) return -1;
    let ec = m2p ? PFE_P : 0;
    if (acc === Acc.WRITE) ec |= PFE_W;
    if (user) ec |= PFE_U;
    if (acc === Acc.EXEC && (c.efer & EFER_NXE) !== 0) ec |= PFE_I;
    throw new CpuFault(Vec.PF, ec, la | 0);
  };
}
