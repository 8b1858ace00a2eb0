/**
 * `monitor pt <va>`: the page-table walk for one linear address, level by
 * level, as text — every entry's address and value with its flag bits,
 * the frame it names (and, for a Xen PV guest, what Xen's page-type
 * bookkeeping says that frame is: an L1/L2/L3 table, pinned or not), then
 * the physical address and the rights a supervisor and a user access
 * would have.
 *
 * Read-only and side-effect free: entries are read from PhysMemory (no
 * accessed/dirty bits set, no TLB fill); the rights come from the CPU's
 * own walker in peek mode, so they are exactly what the guest would get.
 * Xen's hypervisor range of a PV guest (HYPERVISOR_VIRT_START and up) is
 * not described by the guest's tables and is reported as such.
 */
import { Acc, CR0_PG, CR0_WP, CR4_PAE, CR4_PSE, EFER_NXE, type Cpu } from '../cpu/cpu.js';
import { translate } from '../cpu/mmu.js';
import { pageTables } from '../xen/hypercalls/mm.js';
import type { Domain } from '../xen/domain.js';
import { hex8 } from './symbolize.js';

const BITS: readonly [number, string][] = [
  [0x1, 'P'], [0x2, 'RW'], [0x4, 'US'], [0x8, 'PWT'], [0x10, 'PCD'], [0x20, 'A'], [0x40, 'D'], [0x80, 'PS'], [0x100, 'G'],
];

function flags(lo: number, hi: number, pae: boolean): string {
  const f = BITS.filter(([b]) => (lo & b) !== 0).map(([, n]) => n);
  if (pae && hi < 0) f.push('NX');
  return f.join(' ');
}

function hexN(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/** What Xen's bookkeeping says frame `mfn` is (PV guests only). */
function frameKind(dom: Domain | null, mfn: number): string {
  if (dom === null || dom.type !== 'pv') return '';
  const t = pageTables(dom).tables.get(mfn);
  if (t === undefined) return '';
  return ` (Xen: L${t.level} table${t.pinned ? ', pinned' : ''})`;
}

/** The rights of an access to `la` as the walker would grant them. */
function rights(cpu: Cpu, la: number, user: boolean): string {
  const r: string[] = [];
  if (translate(cpu, la, Acc.READ, user, true) >= 0) r.push('read');
  if (translate(cpu, la, Acc.WRITE, user, true) >= 0) r.push('write');
  if (translate(cpu, la, Acc.EXEC, user, true) >= 0) r.push('execute');
  return r.length === 0 ? 'none' : r.join(' ');
}

/** The walk for linear address `va` through the CPU's current CR3, as text (ending in a newline). */
export function formatPageWalk(cpu: Cpu, va: number, dom: Domain | null = null): string {
  const la = va >>> 0;
  const mem = cpu.mem;
  const out: string[] = [];
  const pae = (cpu.cr4 & CR4_PAE) !== 0;
  if ((cpu.cr0 & CR0_PG) === 0) {
    out.push(`${hex8(la)}: paging is off (CR0.PG=0): physical ${hex8(la)}`);
    return `${out.join('\n')}\n`;
  }
  const mode = pae ? `PAE paging${(cpu.efer & EFER_NXE) !== 0 ? ', NX on' : ''}` : `32-bit paging${(cpu.cr4 & CR4_PSE) !== 0 ? ', PSE on' : ''}`;
  out.push(`${hex8(la)}: cr3=${hex8(cpu.cr3)}, ${mode}, CR0.WP=${(cpu.cr0 & CR0_WP) !== 0 ? 1 : 0}`);
  const finish = (): string => {
    const pa = translate(cpu, la, Acc.READ, false, true);
    if (pa >= 0) {
      out.push(`  → physical ${hex8(pa)}${pa >= mem.size ? ' (outside memory: reads give all-ones)' : ''}`);
    }
    out.push(`  supervisor: ${rights(cpu, la, false)}; user: ${rights(cpu, la, true)}`);
    return `${out.join('\n')}\n`;
  };
  if (la >= cpu.holeStart && cpu.holeTranslate !== null) {
    out.push('  Xen\'s hypervisor range (not in the guest\'s page tables; the M2P table at its start is read-only)');
    return finish();
  }
  const entry = (name: string, index: number, addr: number, size: 4 | 8): { lo: number; hi: number } => {
    const lo = mem.read32(addr) >>> 0, hi = size === 8 ? mem.read32(addr + 4) | 0 : 0;
    const value = size === 8 ? `0x${(hi >>> 0).toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}` : hex8(lo);
    out.push(`  ${`${name}[${index}]`.padEnd(8)} @${hex8(addr)} = ${value}  ${(lo & 1) === 0 ? 'not present' : flags(lo, hi, size === 8)}`);
    return { lo, hi };
  };
  if (pae) {
    const l3i = la >>> 30, l3a = ((cpu.cr3 & ~0x1f) >>> 0) + l3i * 8;
    const l3 = entry('L3', l3i, l3a, 8);
    if ((l3.lo & 1) === 0) return finish();
    const l2t = ((l3.hi & 0xf) * 0x100000 + (l3.lo >>> 12));
    out[out.length - 1] += `  → L2 table ${hexN(l2t)}${frameKind(dom, l2t)}`;
    const l2i = (la >>> 21) & 0x1ff, l2a = l2t * 4096 + l2i * 8;
    const l2 = entry('L2', l2i, l2a, 8);
    if ((l2.lo & 1) === 0) return finish();
    if ((l2.lo & 0x80) !== 0) {
      out[out.length - 1] += `  → 2 MiB page at ${hex8(((l2.hi & 0xf) * 0x100000 + (l2.lo >>> 12)) * 4096 & ~0x1fffff)}`;
      return finish();
    }
    const l1t = ((l2.hi & 0xf) * 0x100000 + (l2.lo >>> 12));
    out[out.length - 1] += `  → L1 table ${hexN(l1t)}${frameKind(dom, l1t)}`;
    const l1i = (la >>> 12) & 0x1ff, l1a = l1t * 4096 + l1i * 8;
    const l1 = entry('L1', l1i, l1a, 8);
    if ((l1.lo & 1) === 0) return finish();
    const f = (l1.hi & 0xf) * 0x100000 + (l1.lo >>> 12);
    out[out.length - 1] += `  → frame ${hexN(f)}${frameKind(dom, f)}`;
    return finish();
  }
  const l2i = la >>> 22, l2a = ((cpu.cr3 & ~0xfff) >>> 0) + l2i * 4;
  const pde = entry('PDE', l2i, l2a, 4);
  if ((pde.lo & 1) === 0) return finish();
  if ((pde.lo & 0x80) !== 0 && (cpu.cr4 & CR4_PSE) !== 0) {
    out[out.length - 1] += `  → 4 MiB page at ${hex8(pde.lo & 0xffc00000)}`;
    return finish();
  }
  const ptt = pde.lo >>> 12;
  out[out.length - 1] += `  → page table ${hexN(ptt)}`;
  const pti = (la >>> 12) & 0x3ff;
  const pte = entry('PTE', pti, ptt * 4096 + pti * 4, 4);
  if ((pte.lo & 1) === 0) return finish();
  out[out.length - 1] += `  → frame ${hexN(pte.lo >>> 12)}`;
  return finish();
}
