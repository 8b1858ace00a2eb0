/**
 * Layer 1, framing: the decoder's events (packets, acks, Ctrl-C, garbage,
 * malformed vs incomplete), `}` escapes, run-length encoding with its
 * forbidden counts, checksums, the size bound, and PacketLink's ack / no-ack
 * policy and retransmission.
 */
import { describe, expect, it } from 'vitest';
import {
  FrameDecoder, PacketLink, checksum, decodeReplyPayload, encodePacket, type FrameEvent,
} from '../../src/gdbstub/framing.js';
import { latin1Bytes, latin1String } from '../../src/gdbstub/hex.js';
import { frame } from './client.js';

const b = (s: string): Uint8Array => latin1Bytes(s);
const s = (u: Uint8Array): string => latin1String(u);

/** Events with payloads as strings, for readable expectations. */
function feed(d: FrameDecoder, input: string): unknown[] {
  return d.feed(b(input)).map((e: FrameEvent) => (e.type === 'packet' ? { packet: s(e.payload) } : e));
}

describe('checksum', () => {
  it('is the modulo-256 sum of the payload bytes', () => {
    expect(checksum(b(''))).toBe(0);
    expect(checksum(b('g'))).toBe(0x67);
    expect(checksum(b('qSupported'))).toBe(0x37);
    expect(checksum(new Uint8Array(300).fill(0xff))).toBe((300 * 0xff) & 0xff);
  });
});

describe('FrameDecoder', () => {
  it('decodes a packet, acks, nacks and the interrupt byte between packets', () => {
    const d = new FrameDecoder();
    expect(feed(d, '+$g#67-\x03$?#3f')).toEqual([
      { type: 'ack' }, { packet: 'g' }, { type: 'nack' }, { type: 'interrupt' }, { packet: '?' },
    ]);
  });

  it('accepts upper-case checksum digits', () => {
    expect(feed(new FrameDecoder(), '$qC#B4')).toEqual([{ packet: 'qC' }]);
  });

  it('keeps a packet split across chunks as incomplete, with no event', () => {
    const d = new FrameDecoder();
    const whole = frame('m1000,40');
    for (let i = 0; i < whole.length - 1; i++) {
      expect(feed(d, whole[i]!)).toEqual([]);
      expect(d.incomplete).toBe(true);
    }
    expect(feed(d, whole[whole.length - 1]!)).toEqual([{ packet: 'm1000,40' }]);
    expect(d.incomplete).toBe(false);
  });

  it('tells a wrong checksum (malformed) from a missing one (incomplete)', () => {
    const d = new FrameDecoder();
    expect(feed(d, '$g#6')).toEqual([]);
    expect(d.incomplete).toBe(true);
    expect(feed(d, '8')).toEqual([{ type: 'malformed', reason: 'checksum', length: 1 }]);
    expect(feed(d, '$g#zz')).toEqual([{ type: 'malformed', reason: 'checksum', length: 1 }]);
    expect(d.incomplete).toBe(false);
  });

  it('unescapes } sequences and checksums the escaped form', () => {
    const d = new FrameDecoder();
    // X payload bytes 0x23 0x24 0x7d 0x2a: gdb escapes the first three, not `*`.
    const raw = 'X0,4:}\x03}\x04}]*';
    const framed = `$${raw}#${checksum(b(raw)).toString(16).padStart(2, '0')}`;
    expect(feed(d, framed)).toEqual([{ packet: 'X0,4:#$}*' }]);
  });

  it('never run-length decodes incoming packets (X data carries raw `*`)', () => {
    expect(feed(new FrameDecoder(), frame('X0,3:a*!'))).toEqual([{ packet: 'X0,3:a*!' }]);
  });

  it('keeps a dangling } before # as a literal byte', () => {
    const raw = 'ab}';
    expect(feed(new FrameDecoder(), `$${raw}#${checksum(b(raw)).toString(16)}`)).toEqual([{ packet: 'ab}' }]);
  });

  it('treats 0x03 inside a packet as data, and between packets as Ctrl-C', () => {
    const raw = 'X0,1:\x03';
    const framed = `$${raw}#${checksum(b(raw)).toString(16).padStart(2, '0')}`;
    expect(feed(new FrameDecoder(), `${framed}\x03${framed}`)).toEqual([
      { packet: 'X0,1:\x03' }, { type: 'interrupt' }, { packet: 'X0,1:\x03' },
    ]);
  });

  it('reports noise between packets as garbage, coalesced', () => {
    expect(feed(new FrameDecoder(), 'hello$g#67xx')).toEqual([
      { type: 'garbage', length: 5 }, { packet: 'g' }, { type: 'garbage', length: 2 },
    ]);
  });

  it('a $ inside a packet restarts: the cut-off packet is garbage, not malformed', () => {
    expect(feed(new FrameDecoder(), '$abc$g#67')).toEqual([{ type: 'garbage', length: 4 }, { packet: 'g' }]);
    expect(feed(new FrameDecoder(), '$abc#1$g#67')).toEqual([{ type: 'garbage', length: 6 }, { packet: 'g' }]);
  });

  it('skips an oversized packet without storing it, then recovers', () => {
    const d = new FrameDecoder(64);
    const big = 'x'.repeat(65);
    expect(feed(d, frame(big))).toEqual([{ type: 'malformed', reason: 'oversized', length: 65 }]);
    expect(feed(d, frame('y'.repeat(64)))).toEqual([{ packet: 'y'.repeat(64) }]);
  });

  it('bounds the escaped (raw) size, not the unescaped one', () => {
    const d = new FrameDecoder(64);
    // 40 escaped bytes are 80 raw bytes: over the bound.
    expect(feed(d, frame('}'.repeat(40)))).toEqual([{ type: 'malformed', reason: 'oversized', length: 80 }]);
  });

  it('refuses a silly bound', () => {
    expect(() => new FrameDecoder(10)).toThrow(RangeError);
  });
});

describe('encodePacket', () => {
  it('frames with $, # and the checksum', () => {
    expect(s(encodePacket('OK'))).toBe('$OK#9a');
    expect(s(encodePacket(''))).toBe('$#00');
  });

  it('escapes # $ } and * in replies', () => {
    expect(s(encodePacket('a#b$c}d*e', { rle: false }))).toBe(`$a}\x03b}\x04c}]d}\x0ae#${checksum(b('a}\x03b}\x04c}]d}\x0ae')).toString(16).padStart(2, '0')}`);
  });

  it('run-length encodes runs of 4 or more', () => {
    expect(s(encodePacket('0000', { rle: true })).slice(0, -3)).toBe('$0* ');
    expect(s(encodePacket('000', { rle: true })).slice(0, -3)).toBe('$000');
    expect(s(encodePacket('x000000000y', { rle: true })).slice(0, -3)).toBe('$x0*%y'); // 9 = 1 + 8 (29 + 8 = '%')
    // 7 and 8 would need counts 6 ('#') and 7 ('$'): 5 extra and literals instead.
    expect(s(encodePacket('0000000', { rle: true })).slice(0, -3)).toBe('$0*"0');
    expect(s(encodePacket('00000000', { rle: true })).slice(0, -3)).toBe('$0*"00');
  });

  it('never uses the run counts that would read as # or $', () => {
    for (let n = 1; n <= 300; n++) {
      const framed = s(encodePacket('a'.repeat(n)));
      const body = framed.slice(1, -3);
      expect(body.includes('#') || body.includes('$')).toBe(false);
      expect(s(decodeReplyPayload(b(body))!)).toBe('a'.repeat(n));
    }
  });

  it('does not run-length encode escaped bytes', () => {
    const body = s(encodePacket('}}}}}}')).slice(1, -3);
    expect(body).toBe('}]}]}]}]}]}]');
  });

  it('round-trips every byte value through the decoder (no RLE) and the client decoder (RLE)', () => {
    const all = new Uint8Array(512);
    for (let i = 0; i < 512; i++) all[i] = i < 256 ? i : 0x30;
    const plain = new FrameDecoder(2048).feed(encodePacket(all, { rle: false }));
    expect(plain).toHaveLength(1);
    expect(plain[0]).toEqual({ type: 'packet', payload: all });
    const framed = encodePacket(all, { rle: true });
    expect(decodeReplyPayload(framed.subarray(1, framed.length - 3))).toEqual(all);
  });
});

describe('decodeReplyPayload', () => {
  it('rejects malformed run-lengths and escapes', () => {
    expect(decodeReplyPayload(b('*!'))).toBeNull();
    expect(decodeReplyPayload(b('a*'))).toBeNull();
    expect(decodeReplyPayload(b('a*\x1f'))).toBeNull();
    expect(decodeReplyPayload(b('a}'))).toBeNull();
    expect(s(decodeReplyPayload(b('a}]* '))!)).toBe('a}}}}');
  });
});

describe('PacketLink', () => {
  function link(): { l: PacketLink; wire: string[]; got: string[]; ints: number } {
    const wire: string[] = [];
    const got: string[] = [];
    const r = { l: null as unknown as PacketLink, wire, got, ints: 0 };
    r.l = new PacketLink((x) => wire.push(s(x)), { packet: (p) => got.push(s(p)), interrupt: () => { r.ints++; } }, { maxPacket: 64 });
    return r;
  }

  it('in ack mode: + before handling a good packet, - for a bad checksum or an oversized one', () => {
    const r = link();
    r.l.receive(b('$g#67$g#00'));
    r.l.receive(b(frame('z'.repeat(100))));
    expect(r.wire).toEqual(['+', '-', '-']);
    expect(r.got).toEqual(['g']);
    expect(r.l.stats).toMatchObject({ packets: 1, malformed: 2 });
  });

  it('in no-ack mode: no acks, malformed packets silently dropped, +/- ignored', () => {
    const r = link();
    r.l.noAck = true;
    r.l.send('OK');
    r.l.receive(b('$g#67$g#00-+-'));
    expect(r.wire).toEqual(['$OK#9a']);
    expect(r.got).toEqual(['g']);
  });

  it('resends the last reply on -, a bounded number of times', () => {
    const r = link();
    r.l.send('OK');
    r.l.receive(b('------'));
    expect(r.wire).toEqual(['$OK#9a', '$OK#9a', '$OK#9a', '$OK#9a']);
    expect(r.l.stats.retransmits).toBe(3);
    r.l.receive(b('+-'));
    expect(r.wire).toHaveLength(4); // acknowledged: nothing left to resend
  });

  it('passes Ctrl-C up and counts garbage', () => {
    const r = link();
    r.l.receive(b('noise\x03'));
    expect(r.ints).toBe(1);
    expect(r.l.stats.garbageBytes).toBe(5);
  });

  it('delivers nothing after close, even from the same chunk', () => {
    const wire: string[] = [];
    const got: string[] = [];
    const l: PacketLink = new PacketLink((x) => wire.push(s(x)), { packet: (p) => { got.push(s(p)); l.close(); }, interrupt: () => undefined });
    l.receive(b('$g#67$g#67'));
    expect(got).toEqual(['g']);
  });
});
