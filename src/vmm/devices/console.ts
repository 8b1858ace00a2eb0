/**
 * The PV console backend (io/console.h, reference §5.2). Output: the
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
 * Input (in[], backend → guest). Host bytes (a keyboard, a socket) are
 * queued in the backend and copied into in[] at in_prod as far as the
 * guest's in_cons leaves room; in_prod is published after the bytes. The
 * queue is bounded (INPUT_QUEUE_LIMIT): bytes beyond it are dropped and
 * counted (`droppedInput`), so a guest that never reads its console cannot
 * make the VMM grow without limit. What is still queued moves on whenever
 * the machine polls its devices (at every check point): a guest
 * that consumed in[] and signalled gets the rest. The guest owns in_cons;
 * an in_cons that puts more than a ring between the indices (or ahead of
 * in_prod) is corrupt, and the backend resynchronises (in_prod := in_cons,
 * counted in `inputResyncs`) instead of trusting it.
 *
 * Notifications (xenconsoled's behaviour): `drain()` returning a non-zero
 * count and `input()` / `pumpInput()` returning true mean the backend
 * changed the ring and the guest's console event channel should be
 * signalled; the Machine does that through the event channels.
 *
 * Host side: a `ConsoleHost` (below) is what the CLI connects the console
 * to — a terminal, a file, a socket. It is an injected interface; the
 * implementations live in src/cli/console-host.ts.
 */
import type { ConsoleSink } from '../xen/domain.js';
import { XENCONS_INTERFACE, XENCONS_RING } from '../xen/abi/console.js';
import type { PhysMemory } from '../memory/phys.js';

/** Most host bytes queued for in[] beyond what the ring holds; more are dropped. */
export const INPUT_QUEUE_LIMIT = 64 * 1024;

/**
 * Where a console is connected on the host (stdio, a file, a TCP socket):
 * guest output goes to `write`, host input arrives through `onInput`.
 */
export interface ConsoleHost extends ConsoleSink {
  /**
   * Register the receiver of host input (bytes for the guest) and start
   * reading; at most once. Returns false when this host has no input at
   * all (a file). `ended` runs once if the input ends for good (end of
   * file on a pipe): no more bytes can come.
   */
  onInput(cb: (bytes: Uint8Array) => void, ended?: () => void): boolean;
  /** Register what to do when the user asks to leave (a terminal's escape key); hosts without one never call it. */
  onQuit(cb: () => void): void;
  /** Stop reading input, flush output, give back what the host took (terminal mode, sockets, files). Idempotent. */
  close(): Promise<void>;
}

/** Most bytes one channel remembers of the other's output. */
const DEDUP_LIMIT = 1 << 16;

/** Merges the ring and console_io channels onto one sink without printing duplicates. */
export class ConsoleMux {
  /**
   * Per channel: bytes the *other* channel printed that this one has not
   * repeated yet, as `buf[start, end)` (a bounded queue without per-byte
   * array shifting).
   */
  private readonly owed = [new OwedBytes(), new OwedBytes()] as const;

  constructor(private readonly sink: ConsoleSink) {}

  /** Channel 0: the PV ring; channel 1: console_io. */
  write(channel: 0 | 1, bytes: Uint8Array): void {
    const mine = this.owed[channel], theirs = this.owed[channel ^ 1]!;
    // Skip what the other channel already printed.
    const i = mine.match(bytes);
    if (i === bytes.length) return;
    mine.clear(); // diverged (or nothing was owed): stop matching
    const rest = bytes.subarray(i);
    this.sink.write(rest);
    theirs.append(rest);
  }
}

/** A bounded FIFO of bytes for ConsoleMux; past DEDUP_LIMIT it is dropped whole. */
class OwedBytes {
  private buf = new Uint8Array(256);
  private start = 0;
  private end = 0;

  /** Consume the longest prefix of `bytes` that matches the queue's head; returns its length. */
  match(bytes: Uint8Array): number {
    let i = 0;
    while (i < bytes.length && this.start < this.end && this.buf[this.start] === bytes[i]) {
      this.start++;
      i++;
    }
    return i;
  }

  clear(): void {
    this.start = this.end = 0;
  }

  append(bytes: Uint8Array): void {
    const len = this.end - this.start;
    if (len + bytes.length > DEDUP_LIMIT) {
      this.clear();
      return;
    }
    if (this.end + bytes.length > this.buf.length) {
      const next = this.buf.length >= len + bytes.length ? this.buf : new Uint8Array(Math.min(DEDUP_LIMIT, 2 * (len + bytes.length)));
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = next;
      this.start = 0;
      this.end = len;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }
}

/** The backend of one console page. */
export class ConsoleBackend {
  /** Host input not yet copied into in[] (chunks; the first one from `headAt`). */
  private readonly queue: Uint8Array[] = [];
  private headAt = 0;
  private queued = 0;
  /** Host input bytes dropped because the queue was full. */
  droppedInput = 0;
  /** Times a corrupt in_cons made the backend resynchronise in_prod. */
  inputResyncs = 0;

  constructor(
    private readonly mem: PhysMemory,
    /** Physical address of the console page. */
    private readonly pagePa: number,
    private readonly out: (bytes: Uint8Array) => void,
  ) {}

  /** Consume everything the guest produced; returns the number of bytes (non-zero: notify the guest). */
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

  /** Host input still waiting for room in in[]. */
  get pendingInput(): number {
    return this.queued;
  }

  /**
   * Host bytes for the guest: queued (up to INPUT_QUEUE_LIMIT; the rest is
   * dropped and counted) and copied into in[] as far as it has room.
   * Returns true when bytes were published: signal the guest.
   */
  input(bytes: Uint8Array): boolean {
    if (bytes.length > 0) {
      const room = INPUT_QUEUE_LIMIT - this.queued;
      const take = Math.max(0, Math.min(room, bytes.length));
      if (take > 0) {
        this.queue.push(bytes.slice(0, take)); // a copy: the caller may reuse its buffer
        this.queued += take;
      }
      this.droppedInput += bytes.length - take;
    }
    return this.pumpInput();
  }

  /** Copy queued input into in[] as far as it has room; true when bytes were published (signal the guest). */
  pumpInput(): boolean {
    const f = XENCONS_INTERFACE.fields, size = XENCONS_RING.inSize;
    const base = this.pagePa;
    const cons = this.mem.read32(base + f.in_cons) >>> 0;
    let prod = this.mem.read32(base + f.in_prod) >>> 0;
    let used = (prod - cons) >>> 0;
    if (used > size) {
      // The guest's in_cons makes no sense: what in[] holds cannot be trusted; start over from it.
      prod = cons;
      used = 0;
      this.mem.write32(base + f.in_prod, prod);
      this.inputResyncs++;
    }
    let n = Math.min(size - used, this.queued);
    if (n === 0) return false;
    const start = prod;
    while (n > 0) {
      const chunk = this.queue[0]!;
      const k = Math.min(n, chunk.length - this.headAt);
      for (let i = 0; i < k; i++, prod = (prod + 1) >>> 0) this.mem.write8(base + f.in + (prod & (size - 1)), chunk[this.headAt + i]!);
      this.headAt += k;
      this.queued -= k;
      n -= k;
      if (this.headAt === chunk.length) {
        this.queue.shift();
        this.headAt = 0;
      }
    }
    // Publish the producer index only after the bytes are in place.
    this.mem.write32(base + f.in_prod, prod);
    return prod !== start;
  }
}
