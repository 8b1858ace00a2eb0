/**
 * The descriptor tables a 32-bit PV guest sees (reference §1.3): its own
 * GDT frames registered with `set_gdt` (entries 0..7167, up to 14 frames),
 * then Xen's reserved page at entries 7168+ holding the flat ring-1 and
 * ring-3 segments behind FLAT_RING1_CS (0xe019), FLAT_RING1_DS (0xe021),
 * FLAT_RING3_CS (0xe02b) and FLAT_RING3_DS (0xe033). These exist even when
 * the guest never calls set_gdt (XTF's GDT is empty).
 *
 * Guest entries are read from the frames' machine addresses, not through
 * the guest's page tables (Xen maps them into its own per-vCPU area).
 * As Xen's check_descriptor does when the frames are registered, code and
 * data descriptors with DPL 0 are raised to DPL 1 (ring 0 is Xen's); the
 * accessed bit is set in the frame as the processor would on a load.
 */
import type { Cpu, GdtHook } from '../../cpu/cpu.js';
import type { Domain } from '../domain.js';

/** First GDT entry owned by Xen. */
export const FIRST_RESERVED_GDT_ENTRY = 7168;
/** Entries in a full PV GDT: 14 guest frames + Xen's page. */
export const GDT_ENTRIES = FIRST_RESERVED_GDT_ENTRY + 512;

/** Xen's reserved descriptors (boot_compat_gdt), by entry index. */
const RESERVED: ReadonlyMap<number, readonly [number, number]> = new Map([
  [0xe019 >>> 3, [0x0000ffff, 0x00cfbb00]], // ring-1 code
  [0xe021 >>> 3, [0x0000ffff, 0x00cfb300]], // ring-1 data
  [0xe02b >>> 3, [0x0000ffff, 0x00cffb00]], // ring-3 code
  [0xe033 >>> 3, [0x0000ffff, 0x00cff300]], // ring-3 data
] as const);

export class PvGdt implements GdtHook {
  constructor(private readonly dom: Domain) {}

  read(cpu: Cpu, offset: number, d: { lo: number; hi: number; addr: number }): boolean {
    const index = offset >>> 3;
    d.addr = 0;
    if (index >= GDT_ENTRIES) return false;
    if (index >= FIRST_RESERVED_GDT_ENTRY) {
      const e = RESERVED.get(index);
      d.lo = e === undefined ? 0 : e[0] | 0;
      d.hi = e === undefined ? 0 : e[1] | 0;
      return true;
    }
    const pv = this.dom.pv;
    if (index >= pv.gdtEntries) return false;
    const frame = pv.gdtFrames[index >>> 9];
    if (frame === undefined) return false;
    const pa = frame * 4096 + (index & 511) * 8;
    let lo = cpu.mem.read32(pa), hi = cpu.mem.read32(pa + 4);
    if ((hi & 0x1000) !== 0) {
      // Code/data: accessed bit as the processor sets it, DPL 0 → 1 as check_descriptor does.
      if ((hi & 0x100) === 0) {
        hi |= 0x100;
        cpu.mem.write32(pa + 4, hi);
      }
      if ((hi & 0x6000) === 0) hi |= 0x2000;
    }
    d.lo = lo | 0;
    d.hi = hi | 0;
    return true;
  }
}
