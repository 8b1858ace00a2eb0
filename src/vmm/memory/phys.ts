/**
 * Guest physical memory: one flat, bounds-checked RAM buffer.
 *
 * This is the single narrow interface through which the VMM touches guest
 * RAM (rust-vmm `vm-memory` style). Every accessor is bounds-checked:
 * reads beyond RAM return all-ones (as unbacked bus cycles do on real
 * hardware) and writes beyond RAM are dropped. Nothing a guest does can make
 * these functions throw: an address that is not a non-negative integer below
 * 2^32 (negative, NaN, fractional, huge) is treated as unbacked, and byte
 * counts are clamped (see `readBytes`).
 *
 * Besides RAM the buffer may hold `extraPages` frames above `ramPages` that
 * belong to the hypervisor (shared_info, grant frames, M2P, ...): they are
 * addressable by the VMM and can be mapped into a PV guest, but they are not
 * reported to the guest as RAM.
 *
 * Self-modifying code: every write path consults `codePages` first and
 * reports writes to frames holding decoded code through `codeListener`
 * *before* the bytes change (see cpu/blocks.ts).
 */

/** A guest-physical byte address. */
export type Gpa = number & { readonly __brand?: 'Gpa' };
/** A guest page frame number (physical address >> 12). */
export type Pfn = number & { readonly __brand?: 'Pfn' };

/** Bytes per page frame. */
export const PAGE_SIZE = 4096;
/** log2(PAGE_SIZE). */
export const PAGE_SHIFT = 12;

/** Thrown only for VMM programming errors (a host error, never a guest one). */
export class MemoryConfigError extends Error {
  readonly code = 'EMEMCONFIG';
}

/**
 * Listener told about writes that hit pages registered as holding decoded
 * code, so the CPU can drop its cached blocks (self-modifying code).
 */
export interface CodeWriteListener {
  onCodePageWrite(pfn: number): void;
}

/** Guest RAM plus hypervisor-owned frames, with bounds-checked accessors. */
export class PhysMemory {
  /** Total bytes (RAM plus hypervisor-owned frames). */
  readonly size: number;
  /** Frames reported to the guest as RAM. */
  readonly ramPages: number;
  /** Frames above RAM owned by the hypervisor. */
  readonly extraPages: number;
  /** The whole buffer as bytes (the CPU's TLB fast paths index it directly). */
  readonly u8: Uint8Array;
  /** The whole buffer as a little-endian DataView over the same bytes. */
  readonly dv: DataView;
  /**
   * Per-frame mark (0/1): the CPU holds decoded blocks from that frame. A
   * write to a marked frame goes through `noteWrite` first, so the blocks
   * are invalidated before the new bytes can be executed.
   */
  readonly codePages: Uint8Array;
  /** Who to tell about writes to code frames (the CPU's block cache). */
  codeListener: CodeWriteListener | null = null;

  constructor(ramBytes: number, extraPages = 0) {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes % PAGE_SIZE !== 0) {
      throw new MemoryConfigError(`guest RAM size must be a positive multiple of 4096 bytes, got ${ramBytes}`);
    }
    if (!Number.isInteger(extraPages) || extraPages < 0) {
      throw new MemoryConfigError(`extra page count must be a non-negative integer, got ${extraPages}`);
    }
    const total = ramBytes + extraPages * PAGE_SIZE;
    if (total > 0x7000_0000) {
      throw new MemoryConfigError(`guest memory too large: ${total} bytes (limit 1792 MiB)`);
    }
    this.size = total;
    this.ramPages = ramBytes / PAGE_SIZE;
    this.extraPages = extraPages;
    this.u8 = new Uint8Array(total);
    this.dv = new DataView(this.u8.buffer);
    this.codePages = new Uint8Array(total / PAGE_SIZE);
  }

  /** True when [pa, pa+len) lies entirely inside the buffer. */
  contains(pa: number, len: number): boolean {
    return Number.isSafeInteger(pa) && Number.isSafeInteger(len) && pa >= 0 && len >= 0 && pa + len <= this.size;
  }

  /** True when pfn is a frame of the buffer (RAM or hypervisor-owned). */
  validPfn(pfn: number): boolean {
    return Number.isInteger(pfn) && pfn >= 0 && pfn < this.size / PAGE_SIZE;
  }

  // The scalar accessors test `(pa >>> 0) === pa`: true exactly for integers
  // in [0, 2^32), so one compare rejects negative, NaN, fractional and huge
  // addresses before the upper-bound check (size < 2^31, so `pa + n` cannot
  // overflow the safe-integer range either). Multi-byte accesses that fail
  // the fast check go byte by byte — only for integer addresses: a
  // fractional one could round onto RAM (5e-324 + 1 === 1).

  /** Read a byte; 0xff outside memory. */
  read8(pa: number): number {
    return (pa >>> 0) === pa && pa < this.size ? this.u8[pa]! : 0xff;
  }
  /** Read a little-endian 16-bit value (unsigned); missing bytes read 0xff. */
  read16(pa: number): number {
    if ((pa >>> 0) === pa && pa + 2 <= this.size) return this.dv.getUint16(pa, true);
    return Number.isSafeInteger(pa) ? this.read8(pa) | (this.read8(pa + 1) << 8) : 0xffff;
  }
  /** Read a little-endian 32-bit value (as a signed int32); missing bytes read 0xff. */
  read32(pa: number): number {
    if ((pa >>> 0) === pa && pa + 4 <= this.size) return this.dv.getInt32(pa, true);
    return Number.isSafeInteger(pa) ? this.read16(pa) | (this.read16(pa + 2) << 16) : -1;
  }
  /** 64-bit read as a bigint (page-table entries, hypercall structs). */
  read64(pa: number): bigint {
    if (!Number.isSafeInteger(pa)) return 0xffff_ffff_ffff_ffffn;
    const lo = BigInt(this.read32(pa) >>> 0);
    const hi = BigInt(this.read32(pa + 4) >>> 0);
    return (hi << 32n) | lo;
  }

  /** Write a byte; dropped outside memory. */
  write8(pa: number, v: number): void {
    if ((pa >>> 0) === pa && pa < this.size) {
      if (this.codePages[pa >>> 12] !== 0) this.noteWrite(pa >>> 12);
      this.u8[pa] = v;
    }
  }
  /** Write a little-endian 16-bit value; bytes outside memory are dropped. */
  write16(pa: number, v: number): void {
    if ((pa >>> 0) === pa && pa + 2 <= this.size && (pa & 0xfff) <= 0xffe) {
      if (this.codePages[pa >>> 12] !== 0) this.noteWrite(pa >>> 12);
      this.dv.setUint16(pa, v, true);
    } else if (Number.isSafeInteger(pa)) {
      // Crosses a frame (both frames' code marks must be checked) or memory's end.
      this.write8(pa, v & 0xff);
      this.write8(pa + 1, (v >>> 8) & 0xff);
    }
  }
  /** Write a little-endian 32-bit value; bytes outside memory are dropped. */
  write32(pa: number, v: number): void {
    if ((pa >>> 0) === pa && pa + 4 <= this.size && (pa & 0xfff) <= 0xffc) {
      if (this.codePages[pa >>> 12] !== 0) this.noteWrite(pa >>> 12);
      this.dv.setInt32(pa, v, true);
    } else if (Number.isSafeInteger(pa)) {
      this.write16(pa, v & 0xffff);
      this.write16(pa + 2, (v >>> 16) & 0xffff);
    }
  }
  /** Write a 64-bit value given as a bigint (low 64 bits are used). */
  write64(pa: number, v: bigint): void {
    if (!Number.isSafeInteger(pa)) return;
    this.write32(pa, Number(v & 0xffff_ffffn) | 0);
    this.write32(pa + 4, Number((v >> 32n) & 0xffff_ffffn) | 0);
  }

  /**
   * Copy out `len` bytes; bytes beyond memory read as 0xff. Never throws:
   * a `len` that is not a non-negative integer copies nothing, and a length
   * above the memory size is clamped to it (no request can usefully read
   * more), so the result's length is the clamped `len`.
   */
  readBytes(pa: number, len: number): Uint8Array {
    const n = clampLen(len, this.size);
    const out = new Uint8Array(n).fill(0xff);
    if (!Number.isSafeInteger(pa)) return out;
    if (pa < this.size && pa + n > 0) {
      const start = Math.max(pa, 0);
      const end = Math.min(pa + n, this.size);
      out.set(this.u8.subarray(start, end), start - pa);
    }
    return out;
  }

  /** Copy `data` in; bytes beyond memory (or at a non-integer address) are dropped. Never throws. */
  writeBytes(pa: number, data: Uint8Array): void {
    if (!Number.isSafeInteger(pa) || pa >= this.size || pa + data.length <= 0) return;
    const start = Math.max(pa, 0);
    const end = Math.min(pa + data.length, this.size);
    // Invalidate decoded code before the bytes change.
    for (let p = start >>> 12; p <= (end - 1) >>> 12; p++) if (this.codePages[p] !== 0) this.noteWrite(p);
    this.u8.set(data.subarray(start - pa, end - pa), start);
  }

  /** Fill a range with `value` (default 0), clipped to memory. Never throws. */
  fill(pa: number, len: number, value = 0): void {
    if (!Number.isSafeInteger(pa) || !Number.isSafeInteger(len)) return;
    const start = Math.max(pa, 0);
    const end = Math.min(pa + len, this.size);
    if (end <= start) return;
    for (let p = start >>> 12; p <= (end - 1) >>> 12; p++) if (this.codePages[p] !== 0) this.noteWrite(p);
    this.u8.fill(value, start, end);
  }

  /** A write is about to hit a frame with cached code: invalidate it. */
  noteWrite(pfn: number): void {
    this.codeListener?.onCodePageWrite(pfn);
  }
}

/** A byte count as a usable length: 0 unless a non-negative integer, at most `max`. */
function clampLen(len: number, max: number): number {
  if (!Number.isSafeInteger(len) || len <= 0) return 0;
  return len > max ? max : len;
}
