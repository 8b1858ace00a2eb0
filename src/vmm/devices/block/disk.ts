/**
 * The host side of a virtual disk, as the block backend sees it: an
 * injected interface (style guideline 10), so blkback runs on an
 * in-memory disk in tests and on an image file in the CLI
 * (src/cli/block-host.ts).
 *
 * The contract, which blkback's durability promise rests on:
 *  - `read`, `write`, `flush`, `discard` are synchronous and complete
 *    when they return. `write` hands the bytes to the host kernel (no
 *    buffering in the VMM), so a write that returned survives the VMM
 *    being killed (SIGKILL); it survives a host crash or power loss only
 *    after the next `flush` returned (fsync). blkback answers a
 *    FLUSH_DISKCACHE or WRITE_BARRIER only after `flush` returned.
 *  - Offsets and lengths are byte counts the backend has already checked
 *    against `size`; an implementation may still refuse (throw).
 *  - Host failures (EIO, ENOSPC…) are thrown as errors; blkback answers
 *    the request with BLKIF_RSP_ERROR and carries on.
 *  - `discard` makes the range read as zeros (hole punching where the host
 *    can, zero-filling otherwise).
 */

/** A disk image as blkback uses it (see the header for the contract). */
export interface BlockHost {
  /** Size in bytes (the disk has floor(size / 512) sectors). */
  readonly size: number;
  /** Opened read-only: `write` and `discard` will not be called. */
  readonly readonly: boolean;
  /** `length` bytes at `offset`. */
  read(offset: number, length: number): Uint8Array;
  write(offset: number, bytes: Uint8Array): void;
  /** Make every completed write durable (fsync). */
  flush(): void;
  /** The range reads as zeros afterwards. */
  discard(offset: number, length: number): void;
  /** Release the image (and its lock). Idempotent. */
  close(): void;
}

/** A host-side block I/O failure or misuse. */
export class BlockHostError extends Error {
  constructor(
    readonly code: 'EBLKRANGE' | 'EBLKRO' | 'EBLKCLOSED' | 'EBLKLOCKED' | 'EBLKOPEN' | 'EBLKIO',
    message: string,
  ) {
    super(message);
  }
}

/** Throws unless [offset, offset + length) lies within a disk of `size` bytes. */
export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new BlockHostError('EBLKRANGE', `range ${offset}+${length} outside a disk of ${size} bytes`);
  }
}

/**
 * A disk in memory (tests, scratch disks). Counts what it was asked to do;
 * `stable` holds the contents as of the last flush — what a power cut
 * would leave — so tests can check blkback's ordering rules.
 */
export class MemoryBlockHost implements BlockHost {
  readonly data: Uint8Array;
  /** Contents as of the last `flush` (null when not tracked). */
  stable: Uint8Array | null;
  reads = 0;
  writes = 0;
  flushes = 0;
  discards = 0;
  closed = false;
  /** Called at the start of each flush (lets tests watch the ring at that moment). */
  onFlush: (() => void) | null = null;
  /** When set, the next operation throws it (simulated host failure), then it is cleared. */
  failNext: Error | null = null;

  constructor(
    sizeOrData: number | Uint8Array,
    readonly readonly = false,
    opts: { trackStable?: boolean } = {},
  ) {
    this.data = typeof sizeOrData === 'number' ? new Uint8Array(sizeOrData) : sizeOrData;
    this.stable = opts.trackStable === true ? this.data.slice() : null;
  }

  get size(): number {
    return this.data.length;
  }

  read(offset: number, length: number): Uint8Array {
    this.check();
    checkRange(this.size, offset, length);
    this.reads++;
    return this.data.slice(offset, offset + length);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.check();
    if (this.readonly) throw new BlockHostError('EBLKRO', 'write to a read-only disk');
    checkRange(this.size, offset, bytes.length);
    this.writes++;
    this.data.set(bytes, offset);
  }

  flush(): void {
    this.check();
    this.onFlush?.();
    this.flushes++;
    if (this.stable !== null) this.stable.set(this.data);
  }

  discard(offset: number, length: number): void {
    this.check();
    if (this.readonly) throw new BlockHostError('EBLKRO', 'discard on a read-only disk');
    checkRange(this.size, offset, length);
    this.discards++;
    this.data.fill(0, offset, offset + length);
  }

  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new BlockHostError('EBLKCLOSED', 'disk closed');
    const e = this.failNext;
    if (e !== null) {
      this.failNext = null;
      throw e;
    }
  }
}
