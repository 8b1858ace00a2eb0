/**
 * An in-memory gdb for session tests: frames packets the way gdb does and
 * parses what the session writes back (acks, checksums, `}` escapes and
 * run-lengths expanded with the client-side decoder).
 */
import { GdbSession, type DebugTarget, type SessionOptions } from '../../src/gdbstub/index.js';
import { checksum, decodeReplyPayload } from '../../src/gdbstub/framing.js';
import { latin1Bytes, latin1String } from '../../src/gdbstub/hex.js';

/** What the session sent: `+`, `-`, or a packet payload (decoded). */
export type Out = { type: '+' } | { type: '-' } | { type: 'packet'; payload: string };

/** Frame a payload as gdb does (escaping `#$}` only; no run-length). */
export function frame(payload: string): string {
  const esc = payload.replace(/[#$}]/g, (c) => `}${String.fromCharCode(c.charCodeAt(0) ^ 0x20)}`);
  return `$${esc}#${checksum(latin1Bytes(esc)).toString(16).padStart(2, '0')}`;
}

export class TestClient {
  readonly session: GdbSession;
  private buf = '';
  closed = false;
  errors: unknown[] = [];
  /** Every byte the session wrote, in order (as a binary string). */
  transcript = '';

  constructor(readonly target: DebugTarget, opts: SessionOptions = {}) {
    this.session = new GdbSession(target, {
      write: (b) => { const t = latin1String(b); this.buf += t; this.transcript += t; },
      close: () => { this.closed = true; },
    }, { onError: (e) => this.errors.push(e), ...opts });
  }

  /** Raw bytes to the session. */
  raw(s: string | Uint8Array): void {
    this.session.receive(typeof s === 'string' ? latin1Bytes(s) : s);
  }

  /** One framed packet to the session. */
  send(payload: string): void {
    this.raw(frame(payload));
  }

  /** Everything the session wrote since the last call, parsed. Throws on a bad frame. */
  out(): Out[] {
    const res: Out[] = [];
    let s = this.buf;
    this.buf = '';
    while (s.length > 0) {
      if (s[0] === '+' || s[0] === '-') { res.push({ type: s[0] }); s = s.slice(1); continue; }
      if (s[0] !== '$') throw new Error(`unexpected output ${JSON.stringify(s)}`);
      const hash = s.indexOf('#');
      if (hash < 0 || s.length < hash + 3) throw new Error(`truncated packet ${JSON.stringify(s)}`);
      const raw = latin1Bytes(s.slice(1, hash));
      const sum = parseInt(s.slice(hash + 1, hash + 3), 16);
      if (sum !== checksum(raw)) throw new Error(`bad checksum in ${JSON.stringify(s.slice(0, hash + 3))}`);
      const dec = decodeReplyPayload(raw);
      if (dec === null) throw new Error(`undecodable ${JSON.stringify(s.slice(0, hash))}`);
      res.push({ type: 'packet', payload: latin1String(dec) });
      s = s.slice(hash + 3);
    }
    return res;
  }

  /** The packets (not acks) written since the last call. */
  packets(): string[] {
    return this.out().flatMap((o) => (o.type === 'packet' ? [o.payload] : []));
  }

  /** Send one packet and return the single reply packet (acks ignored). */
  ask(payload: string): string {
    this.send(payload);
    const p = this.packets();
    if (p.length !== 1) throw new Error(`expected one reply to ${payload}, got ${JSON.stringify(p)}`);
    return p[0]!;
  }

  /** Switch to no-ack mode as gdb does. */
  noAck(): void {
    if (this.ask('QStartNoAckMode') !== 'OK') throw new Error('no-ack refused');
    this.raw('+');
  }
}

/** Decode hex text from `O` packets. */
export function consoleText(packets: readonly string[]): string {
  return packets.filter((p) => p.startsWith('O') && p !== 'OK')
    .map((p) => Buffer.from(p.slice(1), 'hex').toString('utf8')).join('');
}

/** A seeded PRNG (mulberry32), for reproducible fuzzing. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
