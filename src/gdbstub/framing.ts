/**
 * Layer 1 of the gdb stub: framing of the GDB Remote Serial Protocol.
 *
 * Spec: GDB manual, Appendix E "Remote Protocol": "Overview" (packets
 * `$payload#cc`, the two-digit modulo-256 checksum of the raw payload,
 * `}` escapes XORed with 0x20, run-length encoding `X*n`), "Packet
 * Acknowledgment" (`+`/`-`, and `QStartNoAckMode`), "Interrupts" (a lone
 * 0x03 byte between packets).
 *
 * Two pieces, in the style of QEMU's gdbstub.c byte pump:
 *  - `FrameDecoder`: a pure state machine. `feed(bytes)` returns events
 *    (packet, interrupt, ack, nack, malformed, garbage). A packet split
 *    across chunks is *incomplete* (state kept, no event); a finished
 *    packet that cannot be accepted is *malformed* (bad checksum, too
 *    long). Memory is bounded: payloads longer than `maxPayload` are
 *    skipped, not buffered.
 *  - `PacketLink`: the decoder plus the acknowledgement policy and the
 *    encoder, on an injected `write`. In ack mode a good packet is
 *    answered `+` before it is handled, a malformed one `-`; in no-ack mode
 *    malformed packets are dropped and `+`/`-` from gdb are ignored.
 *
 * Quirks kept on purpose:
 *  - Incoming packets are never run-length decoded: gdb does not compress
 *    what it sends, and `X` payloads carry raw `*` bytes (only `#$}` are
 *    escaped by gdb). Replies escape `*` as well, as the spec requires.
 *  - `#` always ends a packet (as in gdbserver); a `}` right before it is
 *    kept as a literal byte, so the command layer answers it rather than
 *    gdb waiting forever.
 *  - A `$` inside a packet starts a new packet; the cut-off one is garbage,
 *    not nacked (a nack would make gdb resend the *new* packet).
 *  - 0x03 inside a packet is data (`X` payloads may carry it).
 */

/** The interrupt byte (Ctrl-C) gdb sends between packets. */
export const INTERRUPT_BYTE = 0x03;

/** Default bound on a received packet's payload (raw, escaped bytes); also announced as PacketSize. */
export const DEFAULT_MAX_PACKET = 0x4000;

const DOLLAR = 0x24, HASH = 0x23, ESCAPE = 0x7d, STAR = 0x2a, PLUS = 0x2b, MINUS = 0x2d;

/** Why a finished packet was refused. */
export type MalformedReason =
  | 'checksum'   // the two digits after `#` are not hex or do not match
  | 'oversized'; // the payload is longer than maxPayload (it was skipped, not stored)

/** What `FrameDecoder.feed` finds in the byte stream. */
export type FrameEvent =
  /** A complete packet with a good checksum; `payload` is unescaped. */
  | { readonly type: 'packet'; readonly payload: Uint8Array }
  /** A lone 0x03 between packets. */
  | { readonly type: 'interrupt' }
  /** `+` between packets. */
  | { readonly type: 'ack' }
  /** `-` between packets. */
  | { readonly type: 'nack' }
  /** A finished packet that cannot be accepted. */
  | { readonly type: 'malformed'; readonly reason: MalformedReason; readonly length: number }
  /** Bytes that belong to no packet (noise between packets, or a packet cut short by a new `$`). */
  | { readonly type: 'garbage'; readonly length: number };

const enum St { IDLE, DATA, SKIP, CSUM1, CSUM2 }

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Modulo-256 sum of bytes: the RSP checksum. */
export function checksum(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i++) s = (s + bytes[i]!) & 0xff;
  return s;
}

/**
 * The byte-pump decoder. Feed it whatever the socket delivers; it keeps at
 * most `maxPayload` bytes of one packet in a buffer allocated once.
 */
export class FrameDecoder {
  readonly maxPayload: number;
  private readonly buf: Uint8Array;
  private state = St.IDLE;
  private len = 0;          // unescaped bytes in buf
  private raw = 0;          // raw payload bytes seen (what the checksum and the bound count)
  private sum = 0;          // running checksum of raw bytes
  private escaped = false;  // the previous raw byte was `}`
  private csumHi = 0;
  private csumBad = false;  // a checksum digit was not hex

  constructor(maxPayload = DEFAULT_MAX_PACKET) {
    if (!Number.isInteger(maxPayload) || maxPayload < 64) throw new RangeError(`maxPayload ${maxPayload} too small`);
    this.maxPayload = maxPayload;
    this.buf = new Uint8Array(maxPayload);
  }

  /** True while a packet has started but not finished (more bytes needed). */
  get incomplete(): boolean {
    return this.state !== St.IDLE;
  }

  /** Forget any partial packet. */
  reset(): void {
    this.state = St.IDLE;
  }

  /** Consume bytes; return what they completed, in order. */
  feed(chunk: Uint8Array): FrameEvent[] {
    const out: FrameEvent[] = [];
    let garbage = 0;
    const flushGarbage = (): void => {
      if (garbage > 0) out.push({ type: 'garbage', length: garbage });
      garbage = 0;
    };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      switch (this.state) {
        case St.IDLE:
          if (c === DOLLAR) { flushGarbage(); this.start(); }
          else if (c === PLUS) { flushGarbage(); out.push({ type: 'ack' }); }
          else if (c === MINUS) { flushGarbage(); out.push({ type: 'nack' }); }
          else if (c === INTERRUPT_BYTE) { flushGarbage(); out.push({ type: 'interrupt' }); }
          else garbage++;
          break;
        case St.DATA:
        case St.SKIP:
          if (c === HASH) { this.state = St.CSUM1; this.csumBad = false; break; }
          if (c === DOLLAR) { garbage += this.raw + 1; flushGarbage(); this.start(); break; }
          this.sum = (this.sum + c) & 0xff;
          this.raw++;
          if (this.state === St.SKIP) break;
          if (this.raw > this.maxPayload) { this.state = St.SKIP; break; }
          if (this.escaped) { this.buf[this.len++] = c ^ 0x20; this.escaped = false; }
          else if (c === ESCAPE) this.escaped = true;
          else this.buf[this.len++] = c;
          break;
        case St.CSUM1:
        case St.CSUM2: {
          if (c === DOLLAR) { garbage += this.raw + 2 + (this.state === St.CSUM2 ? 1 : 0); flushGarbage(); this.start(); break; }
          const v = hexVal(c);
          if (v < 0) this.csumBad = true;
          if (this.state === St.CSUM1) { this.csumHi = v; this.state = St.CSUM2; break; }
          this.state = St.IDLE;
          if (this.raw > this.maxPayload) { out.push({ type: 'malformed', reason: 'oversized', length: this.raw }); break; }
          if (this.csumBad || ((this.csumHi << 4) | v) !== this.sum) { out.push({ type: 'malformed', reason: 'checksum', length: this.raw }); break; }
          if (this.escaped) this.buf[this.len++] = ESCAPE; // dangling `}` kept literally (see the header)
          out.push({ type: 'packet', payload: this.buf.slice(0, this.len) });
          break;
        }
      }
    }
    flushGarbage();
    return out;
  }

  private start(): void {
    this.state = St.DATA;
    this.len = 0;
    this.raw = 0;
    this.sum = 0;
    this.escaped = false;
  }
}

/** Bytes a reply must escape: `#`, `$`, `}` always, and `*` (else it would read as run-length). */
function mustEscape(c: number): boolean {
  return c === HASH || c === DOLLAR || c === ESCAPE || c === STAR;
}

/** Options for `encodePacket`. */
export interface EncodeOptions {
  /** Run-length encode runs of 4 or more identical bytes (default true). */
  readonly rle?: boolean;
}

/**
 * Frame a payload: `$` + escaped (and optionally run-length encoded)
 * payload + `#` + checksum. A run `b` × n is sent as `b*c` with
 * c = n - 1 + 29, a printable char; the counts that would give `#` or `$`
 * (6 and 7 extra repeats) are avoided, as the spec asks. Strings are
 * binary strings (one char per byte).
 */
/** A string's characters as bytes (low 8 bits each), natively when Buffer exists. */
function latin1Bytes(s: string): Uint8Array {
  if (typeof Buffer !== 'undefined') return Buffer.from(s, 'latin1');
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

export function encodePacket(payload: Uint8Array | string, opts: EncodeOptions = {}): Uint8Array {
  const rle = opts.rle ?? true;
  const bytes = typeof payload === 'string' ? latin1Bytes(payload) : payload;
  const n = bytes.length;
  // Worst case: every byte escaped, plus `$`, `#` and two digits.
  const out = new Uint8Array(2 * n + 4);
  let o = 0;
  out[o++] = DOLLAR;
  let i = 0;
  while (i < n) {
    const c = bytes[i]!;
    if (mustEscape(c)) {
      out[o++] = ESCAPE;
      out[o++] = c ^ 0x20;
      i++;
      continue;
    }
    let run = 1;
    if (rle) while (i + run < n && bytes[i + run] === c) run++;
    i += run;
    while (run > 0) {
      out[o++] = c;
      run--;
      if (run >= 3) {
        let extra = Math.min(run, 97);
        if (extra === 6 || extra === 7) extra = 5;
        out[o++] = STAR;
        out[o++] = extra + 29;
        run -= extra;
      }
    }
  }
  const sum = checksum(out.subarray(1, o));
  out[o++] = HASH;
  out[o++] = '0123456789abcdef'.charCodeAt(sum >> 4);
  out[o++] = '0123456789abcdef'.charCodeAt(sum & 15);
  return out.slice(0, o);
}

/**
 * The client side of decoding: expand `}` escapes and `*` run-lengths in
 * a reply payload (between `$` and `#`), as gdb does. Used by tests and
 * tools; the stub itself never run-length decodes what it receives.
 * Returns null when the payload is malformed (dangling `}`, `*` first or
 * last, a count below 3 extra).
 */
export function decodeReplyPayload(raw: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === ESCAPE) {
      if (i + 1 >= raw.length) return null;
      out.push(raw[++i]! ^ 0x20);
    } else if (c === STAR) {
      if (out.length === 0 || i + 1 >= raw.length) return null;
      const extra = raw[++i]! - 29;
      if (extra < 3) return null;
      const prev = out[out.length - 1]!;
      for (let k = 0; k < extra; k++) out.push(prev);
    } else out.push(c);
  }
  return Uint8Array.from(out);
}

/** What a `PacketLink` delivers upward. */
export interface LinkHandlers {
  /** A good packet (already acknowledged in ack mode). */
  packet(payload: Uint8Array): void;
  /** gdb's Ctrl-C. */
  interrupt(): void;
}

/** `PacketLink` options. */
export interface LinkOptions {
  /** Bound on received payloads (default DEFAULT_MAX_PACKET). */
  readonly maxPacket?: number;
  /** Run-length encode replies (default true). */
  readonly rle?: boolean;
  /** Protocol trace: every packet in (`<-`) and out (`->`), as text. */
  readonly trace?: (dir: '<-' | '->', text: string) => void;
}

/** Counters, for tests and `--gdb` diagnostics. */
export interface LinkStats {
  packets: number;
  malformed: number;
  garbageBytes: number;
  retransmits: number;
}

/** How often one reply is resent on `-` before the link gives up on it. */
const MAX_RETRANSMITS = 3;

/**
 * Framing plus acknowledgements over an injected byte sink. Starts in ack
 * mode; `noAck = true` (after answering `QStartNoAckMode`) switches it off
 * for good. In ack mode the last reply is kept and resent on `-` (at most
 * MAX_RETRANSMITS times; over TCP this never happens in practice).
 */
export class PacketLink {
  private readonly decoder: FrameDecoder;
  private readonly rle: boolean;
  private ackMode = true;
  private last: Uint8Array | null = null;
  private resent = 0;
  private closed = false;
  readonly stats: LinkStats = { packets: 0, malformed: 0, garbageBytes: 0, retransmits: 0 };

  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly handlers: LinkHandlers,
    private readonly opts: LinkOptions = {},
  ) {
    this.decoder = new FrameDecoder(opts.maxPacket ?? DEFAULT_MAX_PACKET);
    this.rle = opts.rle ?? true;
  }

  /** The receive bound (announced to gdb as PacketSize). */
  get maxPacket(): number {
    return this.decoder.maxPayload;
  }

  /** True once no-ack mode is on. */
  get noAck(): boolean {
    return !this.ackMode;
  }

  set noAck(on: boolean) {
    this.ackMode = !on;
    if (on) this.last = null;
  }

  /** Stop delivering anything (the connection is gone). */
  close(): void {
    this.closed = true;
  }

  /** Bytes from gdb. */
  receive(chunk: Uint8Array): void {
    for (const ev of this.decoder.feed(chunk)) {
      if (this.closed) return;
      switch (ev.type) {
        case 'packet':
          this.stats.packets++;
          if (this.ackMode) this.write(Uint8Array.of(PLUS));
          this.opts.trace?.('<-', printable(ev.payload));
          this.handlers.packet(ev.payload);
          break;
        case 'interrupt':
          this.opts.trace?.('<-', '^C');
          this.handlers.interrupt();
          break;
        case 'ack':
          this.last = null;
          break;
        case 'nack':
          if (this.ackMode && this.last !== null && this.resent < MAX_RETRANSMITS) {
            this.resent++;
            this.stats.retransmits++;
            this.write(this.last);
          }
          break;
        case 'malformed':
          this.stats.malformed++;
          if (this.ackMode) this.write(Uint8Array.of(MINUS));
          break;
        case 'garbage':
          this.stats.garbageBytes += ev.length;
          break;
      }
    }
  }

  /** Frame and send one reply (a binary string or bytes). */
  send(payload: string | Uint8Array): void {
    if (this.closed) return;
    const frame = encodePacket(payload, { rle: this.rle });
    if (this.opts.trace !== undefined) this.opts.trace('->', typeof payload === 'string' ? printableString(payload) : printable(payload));
    if (this.ackMode) {
      this.last = frame;
      this.resent = 0;
    }
    this.write(frame);
  }
}

function printableString(s: string): string {
  const t = s.length > 200 ? `${s.slice(0, 200)}…(${s.length})` : s;
  return t.replace(/[^\x20-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function printable(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < Math.min(b.length, 200); i++) s += String.fromCharCode(b[i]!);
  return printableString(s) + (b.length > 200 ? `…(${b.length})` : '');
}
