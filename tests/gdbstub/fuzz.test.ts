/**
 * Framing and packet fuzz, seeded (mulberry32) so a failure reproduces:
 * garbage, truncated, oversized and wrong-checksum packets and random
 * commands with random arguments never make the stub throw, never make it
 * hang (every call returns; the whole file runs in a couple of seconds),
 * never make it write a malformed frame, and never cost memory beyond the
 * fixed packet buffer. After each case the session must still answer a
 * well-formed packet (it resynchronises on the next `$`).
 */
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodePacket, decodeReplyPayload, type FrameEvent } from '../../src/gdbstub/framing.js';
import { parseCommand } from '../../src/gdbstub/commands.js';
import { latin1Bytes, latin1String } from '../../src/gdbstub/hex.js';
import { TestClient, frame, prng } from './client.js';
import { FakeTarget } from './fake-target.js';

const SEED = 0x5eed1234;

function randomBytes(rnd: () => number, n: number, alphabet?: string): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = alphabet === undefined ? Math.floor(rnd() * 256) : alphabet.charCodeAt(Math.floor(rnd() * alphabet.length));
  return out;
}

/** Bytes biased towards the protocol's special characters. */
const SPECIAL = '$#}*+-\x03\x03abcdef0123456789';

/** Events of a chunked stream; garbage runs (reported per `feed` call) merged, packets as strings. */
function events(d: FrameDecoder, chunks: Uint8Array[]): unknown[] {
  const out: unknown[] = [];
  let garbage = 0;
  for (const e of chunks.flatMap((c) => d.feed(c)) as FrameEvent[]) {
    if (e.type === 'garbage') { garbage += e.length; continue; }
    if (garbage > 0) out.push({ type: 'garbage', length: garbage });
    garbage = 0;
    out.push(e.type === 'packet' ? { packet: latin1String(e.payload) } : e);
  }
  if (garbage > 0) out.push({ type: 'garbage', length: garbage });
  return out;
}

describe('framing fuzz', () => {
  it('any split of a stream into chunks gives the same events as the whole, garbage runs merged (5000 streams)', () => {
    const rnd = prng(SEED);
    for (let n = 0; n < 5000; n++) {
      const parts: Uint8Array[] = [];
      for (let k = Math.floor(rnd() * 6); k >= 0; k--) {
        const r = rnd();
        if (r < 0.4) parts.push(encodePacket(randomBytes(rnd, Math.floor(rnd() * 80)), { rle: false }));
        else if (r < 0.7) parts.push(randomBytes(rnd, Math.floor(rnd() * 40), SPECIAL));
        else parts.push(randomBytes(rnd, Math.floor(rnd() * 40)));
      }
      const all = Uint8Array.from(parts.flatMap((p) => [...p]));
      const whole = events(new FrameDecoder(64), [all]);
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < all.length;) {
        const len = 1 + Math.floor(rnd() * 7);
        chunks.push(all.subarray(i, i + len));
        i += len;
      }
      expect(events(new FrameDecoder(64), chunks)).toEqual(whole);
    }
  });

  it('encode → decode is the identity for random payloads, with and without RLE (5000 payloads)', () => {
    const rnd = prng(SEED + 1);
    const d = new FrameDecoder(4096);
    const same = (a: Uint8Array | null | undefined, b: Uint8Array): boolean => a != null && Buffer.from(a).equals(b);
    const bad: number[] = [];
    for (let n = 0; n < 5000; n++) {
      const len = Math.floor(rnd() * 200);
      // Long runs make run-length encoding kick in.
      const p = rnd() < 0.5 ? randomBytes(rnd, len) : randomBytes(rnd, len, 'aaaaaaaa0000}*#b');
      const ev = d.feed(encodePacket(p, { rle: false }));
      const f = encodePacket(p, { rle: true });
      if (ev.length !== 1 || ev[0]!.type !== 'packet' || !same(ev[0]!.payload, p) ||
        !same(decodeReplyPayload(f.subarray(1, f.length - 3)), p)) bad.push(n);
    }
    expect(bad).toEqual([]);
  });

  it('an endless packet costs no memory: 16 MiB without # is skipped, then the stream recovers', () => {
    const d = new FrameDecoder();
    const chunk = new Uint8Array(1 << 16).fill(0x61);
    const t0 = Date.now();
    expect(d.feed(latin1Bytes('$'))).toEqual([]);
    for (let i = 0; i < 256; i++) expect(d.feed(chunk)).toEqual([]);
    expect(d.feed(latin1Bytes('#00$g#67'))).toEqual([
      { type: 'malformed', reason: 'oversized', length: 256 << 16 },
      { type: 'packet', payload: latin1Bytes('g') },
    ]);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});

describe('parser fuzz', () => {
  it('parseCommand never throws and always returns a command (20000 payloads)', () => {
    const rnd = prng(SEED + 2);
    const heads = ['?', 'g', 'G', 'p', 'P', 'm', 'M', 'X', 'c', 'C', 's', 'S', 'vCont', 'vCont;', 'vCont?', 'Z', 'z', 'H', 'T',
      'qSupported:', 'qXfer:', 'qRcmd,', 'qThreadExtraInfo,', 'qC', 'D', 'k', 'q', 'Q', 'v', ''];
    for (let n = 0; n < 20000; n++) {
      const head = heads[Math.floor(rnd() * heads.length)]!;
      const tail = latin1String(randomBytes(rnd, Math.floor(rnd() * 30), rnd() < 0.8 ? '0123456789abcdefx,;:=-p.rcsCS' : undefined));
      const cmd = parseCommand(head + tail);
      expect(typeof cmd.kind).toBe('string');
    }
  });
});

describe('session fuzz', () => {
  /** A random packet payload: a known command with random, mostly plausible arguments. */
  function randomPayload(rnd: () => number): string {
    const hexn = (max = 9): string => latin1String(randomBytes(rnd, Math.floor(rnd() * max), '0123456789abcdef'));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const r = rnd();
    if (r < 0.1) return latin1String(randomBytes(rnd, Math.floor(rnd() * 40)));
    const forms: (() => string)[] = [
      () => '?', () => 'g', () => `G${hexn(80)}`, () => `p${hexn(3)}`, () => `P${hexn(3)}=${hexn(24)}`,
      () => `m${hexn()},${hexn(5)}`, () => `M${hexn()},${hexn(2)}:${hexn(10)}`,
      () => `X${hexn()},${hexn(2)}:${latin1String(randomBytes(rnd, Math.floor(rnd() * 8)))}`,
      () => 'c', () => `c${hexn()}`, () => `C${hexn(3)}`, () => 's', () => `S${hexn(3)};${hexn()}`,
      () => 'vCont?', () => `vCont;${pick(['c', 's', 'C05', 'S0b', `r${hexn(4)},${hexn(4)}`, 't', 'x'])}${rnd() < 0.5 ? `:${pick(['1', '2', '-1', '0', '9', 'p1.1'])}` : ''}`,
      () => `${pick(['Z', 'z'])}${hexn(2)},${hexn()},${hexn(3)}`,
      () => `H${pick(['g', 'c', 'x'])}${pick(['0', '-1', '1', '2', '3', 'p1.2', 'zz'])}`, () => `T${hexn(2)}`,
      () => `qSupported:${pick(['swbreak+', 'hwbreak+;multiprocess+', 'x=y', ''])}`,
      () => `qXfer:${pick(['features', 'threads', 'libraries'])}:${pick(['read', 'write'])}:${pick(['target.xml', '', 'x'])}:${hexn(5)},${hexn(5)}`,
      () => 'qfThreadInfo', () => 'qsThreadInfo', () => 'qC', () => `qThreadExtraInfo,${hexn(2)}`,
      () => `qRcmd,${hexn(30)}`, () => `qRcmd,${Buffer.from(pick(['help', 'regs', 'pt 0x1000', 'pt', 'xs ls /a', 'trace hypercalls on', 'reset', 'evtchn', 'zzz'])).toString('hex')}`,
      () => 'qAttached', () => 'qOffsets', () => 'qSymbol::', () => 'vMustReplyEmpty', () => 'qTStatus',
      () => (rnd() < 0.1 ? 'QStartNoAckMode' : 'qC'), () => (rnd() < 0.02 ? pick(['D', 'k']) : 'g'),
    ];
    return pick(forms)();
  }

  /** One fuzz case as bytes on the wire. */
  function randomInput(rnd: () => number): string {
    let s = '';
    for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
      const r = rnd();
      const p = frame(randomPayload(rnd));
      if (r < 0.45) s += p;                                                      // well-formed
      else if (r < 0.6) s += p.slice(0, Math.floor(rnd() * p.length));           // truncated
      else if (r < 0.7) s += `${p.slice(0, -2)}${rnd() < 0.5 ? '00' : 'zz'}`;     // wrong checksum
      else if (r < 0.8) s += frame('m'.repeat(300 + Math.floor(rnd() * 300)));   // oversized (limit 256)
      else if (r < 0.9) s += latin1String(randomBytes(rnd, Math.floor(rnd() * 60), SPECIAL));
      else s += latin1String(randomBytes(rnd, Math.floor(rnd() * 60)));
    }
    return s;
  }

  it('random, truncated, oversized and wrong-checksum packets: no throw, no hang, valid frames out, resync (3000 cases)', () => {
    const rnd = prng(SEED + 3);
    const t0 = Date.now();
    let closed = 0, answered = 0;
    for (let n = 0; n < 3000; n++) {
      const t = new FakeTarget({
        threads: 2, slice: 200,
        monitor: { regs: () => 'r', pageWalk: () => 'w', xsList: () => 'x', evtchn: () => 'e', reset: () => 'z', hypercallTrace: () => 't' },
      });
      t.effects.set(0x805, { op: 'store', addr: 0x2000, size: 4, value: n });
      t.effects.set(0x900, { op: 'crash' });
      if (n % 7 === 0) t.effects.set(0x800, { op: 'loop' });
      const deferred: (() => void)[] = [];
      const c = new TestClient(t, { maxPacket: 256, defer: (fn) => deferred.push(fn) });
      const input = latin1Bytes(randomInput(rnd));
      // Deliver in random chunk sizes, as a socket would.
      for (let i = 0; i < input.length;) {
        const len = 1 + Math.floor(rnd() * 40);
        c.session.receive(input.subarray(i, i + len)); // a throw fails the test
        i += len;
      }
      // Leftover emulated range steps run too (bounded: they yield every 1000 steps).
      for (let k = 0; k < 3 && deferred.length > 0; k++) deferred.shift()!();
      c.out(); // throws on a malformed frame
      if (c.transcript.length > 1 << 20 || c.errors.length > 0) expect({ n, errors: c.errors, out: c.transcript.length }).toBe('bounded and error-free');
      if (c.session.state === 'closed') { closed++; continue; }
      // Resynchronise: a fresh packet is answered (a pending truncated one is cut off by its `$`).
      c.send('qC');
      const last = c.packets().at(-1);
      if (last === undefined || !/^QC[12]$/.test(last)) expect({ n, last }).toBe('answered');
      answered++;
    }
    expect(answered).toBeGreaterThan(2500);
    expect(closed).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
  });
});
