/**
 * The CLI's two output streams with one buffer: guest console output for
 * stdout and xenkit's own lines (traces, reports, messages) for stderr.
 *
 * Guests often write a few bytes at a time; one write(2) per console_io
 * would dominate a short run. Chunks are therefore collected and written
 * in one piece when the buffer fills, when the other stream is written
 * (so a terminal that shows both keeps their order: a trace line appears
 * after the console text that preceded it), and when the caller flushes
 * (after every run slice and before exiting). A stream that fails (EPIPE:
 * `xenkit run k | head`) is dropped silently.
 */

/** The part of a Node stream the output uses (a fake in tests). */
export interface OutStream {
  write(chunk: Uint8Array | string): unknown;
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

const enum Dest { NONE, OUT, ERR }

/** stdout and stderr behind one ordered buffer (see the file comment). */
export class OrderedOutput {
  private chunks: Uint8Array[] = [];
  private bytes = 0;
  private dest = Dest.NONE;
  private readonly enc = new TextEncoder();
  private outOk = true;
  private errOk = true;
  private lastOutByte = 0x0a;

  constructor(private readonly out: OutStream, private readonly err: OutStream, private readonly limit = 64 * 1024) {
    out.on?.('error', () => { this.outOk = false; });
    if (err !== out) err.on?.('error', () => { this.errOk = false; });
  }

  /** Guest console bytes (copied: the caller may reuse its buffer). */
  stdout(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? this.enc.encode(data) : data.slice();
    if (bytes.length === 0) return;
    this.lastOutByte = bytes[bytes.length - 1]!;
    this.add(Dest.OUT, bytes);
  }

  /** The last stdout byte written was not a newline (the guest left a line unfinished). */
  get stdoutMidLine(): boolean {
    return this.lastOutByte !== 0x0a;
  }

  /** Text for stderr. */
  stderr(text: string): void {
    this.add(Dest.ERR, this.enc.encode(text));
  }

  /** Write whatever is buffered. */
  flush(): void {
    if (this.bytes === 0) return;
    const all = this.chunks.length === 1 ? this.chunks[0]! : concat(this.chunks, this.bytes);
    const ok = this.dest === Dest.OUT ? this.outOk : this.errOk;
    const stream = this.dest === Dest.OUT ? this.out : this.err;
    this.chunks = [];
    this.bytes = 0;
    if (!ok) return;
    try {
      stream.write(all);
    } catch {
      if (this.dest === Dest.OUT) this.outOk = false;
      else this.errOk = false;
    }
  }

  private add(dest: Dest, data: Uint8Array): void {
    if (dest !== this.dest) {
      this.flush();
      this.dest = dest;
    }
    this.chunks.push(data);
    this.bytes += data.length;
    if (this.bytes >= this.limit) this.flush();
  }
}

/** The first `n` bytes of `chunks`, joined. */
export function concat(chunks: readonly Uint8Array[], n: number): Uint8Array {
  const all = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}
