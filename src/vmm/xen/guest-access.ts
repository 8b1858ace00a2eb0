/**
 * Checked access to guest memory through guest virtual addresses — the one
 * boundary every hypercall argument pointer crosses (Solo5's "check once at
 * the boundary").
 *
 * Hypercall pointers are guest-virtual for PV and PVH alike; they are
 * translated with the guest's current page tables as a supervisor access
 * (Xen's copy_{from,to}_guest run with the guest's mappings and honour
 * CR0.WP). A pointer that does not translate, or would be written through
 * a read-only mapping, yields `null`/`false`, which the caller turns into
 * -EFAULT for the guest. Nothing here throws for guest-controlled input.
 */
import { Acc, type Cpu } from '../cpu/cpu.js';
import { CpuFault } from '../cpu/fault.js';

/** Largest single copy a hypercall may ask for (bounds hostile lengths). */
export const MAX_COPY = 1 << 20;

export class GuestAccess {
  constructor(private readonly cpu: Cpu) {}

  /** Physical address of `va` for access `acc`, or -1 when it faults. */
  private phys(va: number, acc: Acc): number {
    try {
      return this.cpu.xlate(va | 0, acc, true);
    } catch (e) {
      if (e instanceof CpuFault) return -1;
      throw e;
    }
  }

  /** Copy `len` bytes in from guest VA; null on a bad pointer or length. */
  read(va: number, len: number): Uint8Array | null {
    if (!Number.isInteger(len) || len < 0 || len > MAX_COPY) return null;
    if (va >>> 0 !== va && (va | 0) !== va) return null;
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const cur = (va + done) >>> 0;
      const n = Math.min(len - done, 4096 - (cur & 0xfff));
      const pa = this.phys(cur, Acc.READ);
      if (pa < 0 || !this.cpu.mem.contains(pa, n)) return null;
      out.set(this.cpu.mem.u8.subarray(pa, pa + n), done);
      done += n;
    }
    return out;
  }

  /** Copy bytes out to guest VA; false on a bad pointer (nothing is written then). */
  write(va: number, data: Uint8Array): boolean {
    if (data.length > MAX_COPY) return false;
    // Translate every page first so a failure leaves guest memory untouched.
    const pas: number[] = [];
    for (let done = 0; done < data.length;) {
      const cur = (va + done) >>> 0;
      const n = Math.min(data.length - done, 4096 - (cur & 0xfff));
      const pa = this.phys(cur, Acc.WRITE);
      if (pa < 0 || !this.cpu.mem.contains(pa, n)) return false;
      pas.push(pa, n, done);
      done += n;
    }
    for (let i = 0; i < pas.length; i += 3) this.cpu.mem.writeBytes(pas[i]!, data.subarray(pas[i + 2]!, pas[i + 2]! + pas[i + 1]!));
    return true;
  }

  read32(va: number): number | null {
    const b = this.read(va, 4);
    return b === null ? null : new DataView(b.buffer).getUint32(0, true);
  }

  write32(va: number, v: number): boolean {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    return this.write(va, b);
  }

  /** A NUL-terminated string of at most `max` bytes; null when unreadable or unterminated. */
  readCString(va: number, max: number): string | null {
    let s = '';
    for (let i = 0; i < max; i++) {
      const b = this.read(va + i, 1);
      if (b === null) return null;
      if (b[0] === 0) return s;
      s += String.fromCharCode(b[0]!);
    }
    return null;
  }
}
