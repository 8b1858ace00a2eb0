/**
 * The PV console backend, output side (io/console.h, reference §5.2): the
 * guest writes bytes into `out[]` of its console page, advances `out_prod`
 * and notifies; we copy out_cons..out_prod to the console sink and publish
 * the new `out_cons`. Indices are free-running u32s masked by the ring
 * size; a producer more than a ring ahead of the consumer is corrupt and
 * resynchronised (out_cons := out_prod) rather than trusted.
 *
 * Two channels, one screen. A guest can print through the ring (what
 * release builds of Xen require) and through `console_io` (what debug
 * builds allow), and some guests (XTF) write every line to both. A user
 * wants to see each line once, so the two are merged: bytes from one
 * channel that repeat what the other channel has already printed are
 * dropped. Each channel keeps a bounded queue of what the other printed
 * and it has not yet repeated; a guest that uses one channel only just
 * fills the other's queue, which is then discarded.
 *
 * Input (in[]) and event notifications back to the guest come with the
 * event-channel work.
 */
import type { ConsoleSink } from '../xen/domain.js';
import { XENCONS_INTERFACE, XENCONS_RING } from '../xen/abi/console.js';
import type { PhysMemory } from '../memory/phys.js';

/** Most bytes one channel remembers of the other's output. */
const DEDUP_LIMIT = 1 << 16;

/** Merges the ring and console_io channels onto one sink without printing duplicates. */
export class ConsoleMux {
  /** Bytes printed from console_io that the ring has not repeated yet, and vice versa. */
  private readonly owed: [number[], number[]] = [[], []];

  constructor(private readonly sink: ConsoleSink) {}

  /** Channel 0: the PV ring; channel 1: console_io. */
  write(channel: 0 | 1, bytes: Uint8Array): void {
    const mine = this.owed[channel], theirs = this.owed[channel ^ 1]!;
    let i = 0;
    // Skip what the other channel already printed.
    while (i < bytes.length && mine!.length > 0 && mine![0] === bytes[i]) {
      mine!.shift();
      i++;
    }
    if (i < bytes.length && mine!.length > 0) mine!.length = 0; // diverged: stop matching
    if (i === bytes.length) return;
    const rest = bytes.subarray(i);
    this.sink.write(rest);
    if (theirs.length + rest.length > DEDUP_LIMIT) theirs.length = 0;
    else for (const b of rest) theirs.push(b);
  }
}

/** The backend of one console page. */
export class ConsoleBackend {
  constructor(
    private readonly mem: PhysMemory,
    /** Physical address of the console page. */
    private readonly pagePa: number,
    private readonly out: (bytes: Uint8Array) => void,
  ) {}

  /** Consume everything the guest produced; returns the number of bytes. */
  drain(): number {
    const f = XENCONS_INTERFACE.fields, size = XENCONS_RING.outSize;
    const base = this.pagePa;
    const prod = this.mem.read32(base + f.out_prod) >>> 0;
    let cons = this.mem.read32(base + f.out_cons) >>> 0;
    const avail = (prod - cons) >>> 0;
    if (avail === 0) return 0;
    if (avail > size) {
      // Corrupt indices: never read more than a ring; drop what cannot be trusted.
      this.mem.write32(base + f.out_cons, prod);
      return 0;
    }
    const bytes = new Uint8Array(avail);
    for (let i = 0; i < avail; i++, cons = (cons + 1) >>> 0) bytes[i] = this.mem.read8(base + f.out + (cons & (size - 1)));
    // Publish the consumer index only after the bytes were read.
    this.mem.write32(base + f.out_cons, cons);
    this.out(bytes);
    return avail;
  }
}
