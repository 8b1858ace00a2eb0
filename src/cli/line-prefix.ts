/**
 * Line prefixes for the consoles of several guests sharing one stdout
 * (`xenkit run A.elf --and B.elf`, multi-run.ts): every line a guest
 * prints comes out as "[name] line".
 *
 * Guests print a few bytes at a time and their output interleaves, so a
 * line is only written once it is whole: bytes after the last newline
 * wait in the guest's own buffer until the newline comes (another guest's
 * complete lines go out meanwhile, never in the middle of this one), and
 * `flush()` ends a last unfinished line with a newline when the guest
 * stops. A line longer than `maxLine` bytes is cut there (a newline is
 * added and the rest continues on a new prefixed line), so a guest that
 * never prints a newline cannot make the buffer grow without bound.
 * Bytes are passed through as they are ("\r\n" stays "\r\n": the
 * prefix follows the "\n"); nothing is decoded, so a UTF-8 character is
 * never split except by that length cut.
 */
import { concat } from './output.js';

const NL = 0x0a;

/** Prefixes whole lines of one guest's console output (see the file comment). */
export class LinePrefixer {
  private readonly prefix: Uint8Array;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  /**
   * @param prefix written before every line, e.g. "[netdemo] "
   * @param sink where prefixed lines go (called once per line, or once per write for several lines)
   * @param maxLine longest unfinished line kept before it is cut (bytes)
   */
  constructor(prefix: string, private readonly sink: (bytes: Uint8Array) => void, private readonly maxLine = 64 * 1024) {
    this.prefix = new TextEncoder().encode(prefix);
  }

  /** A line has been started and not finished yet. */
  get midLine(): boolean {
    return this.pendingBytes > 0;
  }

  /** Console bytes of this guest (not kept: copied as needed). */
  write(bytes: Uint8Array): void {
    let start = 0;
    const lines: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const nl = bytes.indexOf(NL, start);
      if (nl < 0) break;
      const line = this.line(bytes.subarray(start, nl + 1), false);
      lines.push(line);
      total += line.length;
      start = nl + 1;
    }
    if (lines.length > 0) this.sink(lines.length === 1 ? lines[0]! : concat(lines, total));
    let rest = bytes.subarray(start);
    while (rest.length > 0) {
      const room = this.maxLine - this.pendingBytes;
      if (rest.length < room) {
        this.pending.push(rest.slice());
        this.pendingBytes += rest.length;
        return;
      }
      // Too long without a newline: cut it here.
      this.sink(this.line(rest.subarray(0, room), true));
      rest = rest.subarray(room);
    }
  }

  /** End an unfinished line (with a newline): the guest has stopped, or output must be complete now. */
  flush(): void {
    if (this.pendingBytes > 0) this.sink(this.line(new Uint8Array(0), true));
  }

  /** The prefix, the pending bytes and `tail` as one line (`addNewline`: end it with "\n"); clears the pending bytes. */
  private line(tail: Uint8Array, addNewline: boolean): Uint8Array {
    const n = this.prefix.length + this.pendingBytes + tail.length + (addNewline ? 1 : 0);
    const out = new Uint8Array(n);
    out.set(this.prefix, 0);
    let at = this.prefix.length;
    for (const p of this.pending) {
      out.set(p, at);
      at += p.length;
    }
    out.set(tail, at);
    if (addNewline) out[n - 1] = NL;
    this.pending = [];
    this.pendingBytes = 0;
    return out;
  }
}
