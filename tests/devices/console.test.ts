/**
 * The PV console backend (src/vmm/devices/console.ts) on a bare console
 * page, and on whole machines:
 *  - output: out[] drained with free-running indices that wrap (the array
 *    and the u32), a full ring, corrupt indices resynchronised;
 *  - input: in[] filled at in_prod and published after the bytes, wrap,
 *    a full ring with the rest queued until the guest consumes, the
 *    bounded queue dropping (and counting) beyond INPUT_QUEUE_LIMIT, a
 *    corrupt in_cons resynchronised;
 *  - ConsoleMux: a line printed on both channels shows once, whichever
 *    comes first; a guest using one channel only is never held back;
 *  - Machine: consoleInput writes the ring and raises the console port;
 *    the ring-only fixture guest (tests/fixtures/console, no console_io)
 *    prints, sleeps in SCHEDOP_poll, is woken by input and echoes it.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConsoleBackend, ConsoleMux, INPUT_QUEUE_LIMIT } from '../../src/vmm/devices/console.js';
import { XENCONS_INTERFACE } from '../../src/vmm/xen/abi/console.js';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { inspectKernel } from '../../src/loader/kernel.js';
import { CONSOLE_EVTCHN, Machine } from '../../src/vmm/machine.js';

const F = XENCONS_INTERFACE.fields;
const PAGE = 0x3000;
const enc = new TextEncoder(), dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

/** A console page in a small memory, its backend and everything it printed. */
function page(): { mem: PhysMemory; be: ConsoleBackend; out: Uint8Array[]; text(): string } {
  const mem = new PhysMemory(0x10000);
  const out: Uint8Array[] = [];
  const be = new ConsoleBackend(mem, PAGE, (b) => out.push(b));
  return { mem, be, out, text: () => out.map((b) => dec.decode(b)).join('') };
}

/** The guest's side of out[]: write at out_prod, publish. */
function guestWrite(mem: PhysMemory, s: string): void {
  let prod = mem.read32(PAGE + F.out_prod) >>> 0;
  for (const b of bytes(s)) {
    mem.write8(PAGE + F.out + (prod & 2047), b);
    prod = (prod + 1) >>> 0;
  }
  mem.write32(PAGE + F.out_prod, prod);
}

/** The guest's side of in[]: read in_cons..in_prod (at most `max`), publish in_cons. */
function guestRead(mem: PhysMemory, max = Infinity): string {
  let cons = mem.read32(PAGE + F.in_cons) >>> 0;
  const prod = mem.read32(PAGE + F.in_prod) >>> 0;
  const got: number[] = [];
  while (cons !== prod && got.length < max) {
    got.push(mem.read8(PAGE + F.in + (cons & 1023)));
    cons = (cons + 1) >>> 0;
  }
  mem.write32(PAGE + F.in_cons, cons);
  return dec.decode(new Uint8Array(got));
}

describe('ConsoleBackend output (out[])', () => {
  it('copies out_cons..out_prod to the sink and publishes out_cons', () => {
    const { mem, be, text } = page();
    expect(be.drain()).toBe(0);
    guestWrite(mem, 'hello\r\n');
    expect(be.drain()).toBe(7);
    expect(text()).toBe('hello\r\n');
    expect(mem.read32(PAGE + F.out_cons)).toBe(7);
    expect(be.drain()).toBe(0);
  });

  it('wraps around the array and the 32-bit indices', () => {
    const { mem, be, text } = page();
    const start = 0xffffffff - 5; // 2^32 - 6: the u32 wraps 6 bytes in; & 2047 puts it at the array's end
    mem.write32(PAGE + F.out_cons, start);
    mem.write32(PAGE + F.out_prod, start);
    guestWrite(mem, 'abcdefghijklmnop');
    expect(mem.read32(PAGE + F.out_prod) >>> 0).toBe(10);
    expect(be.drain()).toBe(16);
    expect(text()).toBe('abcdefghijklmnop');
    expect(mem.read32(PAGE + F.out_cons) >>> 0).toBe(10);
  });

  it('drains a full ring (2048 bytes) in one go', () => {
    const { mem, be, text } = page();
    const s = 'x'.repeat(2047) + 'y';
    mem.write32(PAGE + F.out_cons, 100);
    mem.write32(PAGE + F.out_prod, 100);
    guestWrite(mem, s);
    expect(be.drain()).toBe(2048);
    expect(text()).toBe(s);
  });

  it('resynchronises corrupt indices (more than a ring, or prod behind cons) without reading', () => {
    for (const [cons, prod] of [[0, 2049], [0x10, 0x8], [0x80000000, 0]]) {
      const { mem, be, out } = page();
      mem.write32(PAGE + F.out_cons, cons!);
      mem.write32(PAGE + F.out_prod, prod!);
      expect(be.drain()).toBe(0);
      expect(out).toEqual([]);
      expect(mem.read32(PAGE + F.out_cons) >>> 0).toBe(prod);
      // From there on the ring works again.
      guestWrite(mem, 'ok');
      expect(be.drain()).toBe(2);
      expect(dec.decode(out[0])).toBe('ok');
    }
  });
});

describe('ConsoleBackend input (in[])', () => {
  it('copies host bytes into in[] and publishes in_prod after them', () => {
    const { mem, be } = page();
    const order: string[] = [];
    const w8 = mem.write8.bind(mem), w32 = mem.write32.bind(mem);
    mem.write8 = (pa, v) => { order.push(pa - PAGE < 1024 ? 'data' : `8@${pa - PAGE}`); w8(pa, v); };
    mem.write32 = (pa, v) => { order.push(pa - PAGE === F.in_prod ? 'in_prod' : `32@${pa - PAGE}`); w32(pa, v); };
    expect(be.input(bytes('ls\r'))).toBe(true);
    expect(order).toEqual(['data', 'data', 'data', 'in_prod']);
    expect(mem.read32(PAGE + F.in_prod)).toBe(3);
    expect(guestRead(mem)).toBe('ls\r');
    expect(be.pendingInput).toBe(0);
    expect(be.input(new Uint8Array(0))).toBe(false); // nothing new: no notification
  });

  it('copies the caller\'s bytes (the buffer may be reused)', () => {
    const { mem, be } = page();
    mem.write32(PAGE + F.in_prod, 1024); // ring full: the bytes stay queued
    const buf = bytes('abc');
    expect(be.input(buf)).toBe(false);
    buf.fill(0x7a);
    mem.write32(PAGE + F.in_cons, 1024);
    expect(be.pumpInput()).toBe(true);
    expect(guestRead(mem)).toBe('abc');
  });

  it('wraps around the array and the 32-bit indices', () => {
    const { mem, be } = page();
    const start = 0xfffffffd;
    mem.write32(PAGE + F.in_cons, start);
    mem.write32(PAGE + F.in_prod, start);
    expect(be.input(bytes('wrap-around'))).toBe(true);
    expect(mem.read32(PAGE + F.in_prod) >>> 0).toBe(8);
    // 0xfffffffd & 1023 = 1021: "wra" at the end of in[], "p-around" from its start.
    expect(dec.decode(new Uint8Array([1021, 1022, 1023, 0, 1].map((i) => mem.read8(PAGE + F.in + i))))).toBe('wrap-');
    expect(guestRead(mem)).toBe('wrap-around');
  });

  it('fills the ring to 1024 bytes, queues the rest and moves it as the guest consumes', () => {
    const { mem, be } = page();
    const s = Array.from({ length: 3000 }, (_, i) => String.fromCharCode(0x41 + (i % 26))).join('');
    expect(be.input(bytes(s))).toBe(true);
    expect(mem.read32(PAGE + F.in_prod)).toBe(1024);
    expect(be.pendingInput).toBe(3000 - 1024);
    expect(be.pumpInput()).toBe(false); // no room: nothing published, no notification
    let got = guestRead(mem, 100);
    expect(be.pumpInput()).toBe(true);
    expect(mem.read32(PAGE + F.in_prod)).toBe(1124);
    while (be.pendingInput > 0 || mem.read32(PAGE + F.in_cons) !== mem.read32(PAGE + F.in_prod)) {
      got += guestRead(mem, 333);
      be.pumpInput();
    }
    expect(got).toBe(s);
    expect(be.droppedInput).toBe(0);
  });

  it('keeps at most INPUT_QUEUE_LIMIT bytes queued and counts what it drops', () => {
    const { mem, be } = page();
    mem.write32(PAGE + F.in_prod, 1024); // a guest that never reads: in[] is full
    be.input(new Uint8Array(INPUT_QUEUE_LIMIT - 10).fill(0x61));
    expect(be.droppedInput).toBe(0);
    be.input(new Uint8Array(25).fill(0x62));
    expect(be.pendingInput).toBe(INPUT_QUEUE_LIMIT);
    expect(be.droppedInput).toBe(15);
    be.input(bytes('more'));
    expect(be.droppedInput).toBe(19);
    // The guest starts reading: the kept bytes come in order, the dropped ones never.
    mem.write32(PAGE + F.in_cons, 1024);
    let got = '';
    while (be.pumpInput()) got += guestRead(mem);
    expect(got).toBe('a'.repeat(INPUT_QUEUE_LIMIT - 10) + 'b'.repeat(10));
  });

  it('resynchronises a corrupt in_cons (in_prod := in_cons) and goes on', () => {
    for (const [cons, prod] of [[0, 1025], [10, 5], [0x7fffffff, 0xffffffff]]) {
      const { mem, be } = page();
      mem.write32(PAGE + F.in_cons, cons!);
      mem.write32(PAGE + F.in_prod, prod!);
      expect(be.input(bytes('ok'))).toBe(true);
      expect(be.inputResyncs).toBe(1);
      expect(mem.read32(PAGE + F.in_prod) >>> 0).toBe((cons! + 2) >>> 0);
      expect(guestRead(mem)).toBe('ok');
    }
  });

  it('never writes outside in[] and its index, whatever the indices say', () => {
    const { mem, be } = page();
    mem.write32(PAGE + F.in_cons, 0x12345678);
    mem.write32(PAGE + F.in_prod, 0x12345678 + 1000);
    const before = mem.u8.slice();
    be.input(new Uint8Array(5000).fill(0x55));
    for (let i = 0; i < mem.size; i++) {
      if (mem.u8[i] !== before[i]) {
        const off = i - PAGE;
        expect(off >= 0 && (off < 1024 || (off >= F.in_prod && off < F.in_prod + 4))).toBe(true);
      }
    }
  });
});

describe('ConsoleMux: one screen for the ring and console_io', () => {
  function mux(): { m: ConsoleMux; text(): string } {
    let s = '';
    const m = new ConsoleMux({ write: (b) => { s += dec.decode(b); } });
    return { m, text: () => s };
  }

  it('prints a line written on both channels once, whichever comes first', () => {
    const a = mux();
    a.m.write(1, bytes('Test result: SUCCESS\n'));
    a.m.write(0, bytes('Test result: SUCCESS\n'));
    expect(a.text()).toBe('Test result: SUCCESS\n');
    const b = mux();
    b.m.write(0, bytes('line one\n'));
    b.m.write(1, bytes('line '));
    b.m.write(1, bytes('one\nline two\n')); // the repeat split across writes, then new text
    expect(b.text()).toBe('line one\nline two\n');
  });

  it('prints what differs once the channels diverge', () => {
    const { m, text } = mux();
    m.write(1, bytes('abc\n'));
    m.write(0, bytes('abX\n')); // "ab" repeated, then different: the rest is new output
    expect(text()).toBe('abc\nX\n');
  });

  it('never holds back a guest that uses one channel only', () => {
    for (const ch of [0, 1] as const) {
      const { m, text } = mux();
      let want = '';
      for (let i = 0; i < 5000; i++) {
        const line = `line ${i} ${'-'.repeat(i % 40)}\n`;
        m.write(ch, bytes(line));
        want += line;
      }
      expect(text()).toBe(want);
    }
  });

  it('interleaved output of both channels, each line once', () => {
    const { m, text } = mux();
    m.write(1, bytes('A\n'));
    m.write(0, bytes('A\n'));
    m.write(0, bytes('B\n'));
    m.write(1, bytes('B\n'));
    m.write(1, bytes('C\n'));
    m.write(0, bytes('C\n'));
    expect(text()).toBe('A\nB\nC\n');
  });
});

// --- whole machines ------------------------------------------------------------------

const PV_MIN = fileURLToPath(new URL('../fixtures/loader/pv-min.elf', import.meta.url));
const ECHO = fileURLToPath(new URL('../fixtures/console/console-echo.elf', import.meta.url));

function machine(elf: string): { m: Machine; text(): string } {
  let s = '';
  const m = new Machine({
    kernel: inspectKernel(new Uint8Array(readFileSync(elf)), elf), memory: 16 << 20,
    console: { write: (b) => { s += dec.decode(b); } },
  });
  return { m, text: () => s };
}

/** pending[port] in shared_info. */
function pending(m: Machine, port: number): boolean {
  return m.domain.events.isPending(port);
}

describe('Machine: console input', () => {
  it('consoleInput writes in[] of the console page, publishes in_prod and raises the console port', () => {
    const { m } = machine(PV_MIN);
    const pa = m.domain.consolePfn * 4096;
    expect(m.domain.consoleEvtchn).toBe(CONSOLE_EVTCHN);
    expect(pending(m, CONSOLE_EVTCHN)).toBe(false);
    m.consoleInput(bytes('xyz'));
    expect(m.mem.read32(pa + F.in_prod)).toBe(3);
    expect(m.mem.read32(pa + F.in_cons)).toBe(0);
    expect([0, 1, 2].map((i) => m.mem.read8(pa + F.in + i))).toEqual([0x78, 0x79, 0x7a]);
    expect(pending(m, CONSOLE_EVTCHN)).toBe(true);
  });

  it('moves queued input on at the next device poll once the guest consumed in[]', () => {
    const { m } = machine(PV_MIN);
    const pa = m.domain.consolePfn * 4096;
    m.consoleInput(new Uint8Array(1500).fill(0x31));
    expect(m.mem.read32(pa + F.in_prod)).toBe(1024);
    m.domain.events.clearPending(CONSOLE_EVTCHN);
    m.pollDevices();
    expect(pending(m, CONSOLE_EVTCHN)).toBe(false); // nothing moved: no notification
    m.mem.write32(pa + F.in_cons, 1024); // the guest read everything
    m.pollDevices();
    expect(m.mem.read32(pa + F.in_prod)).toBe(1500);
    expect(pending(m, CONSOLE_EVTCHN)).toBe(true);
  });

  it('a ring-only guest prints, sleeps in SCHEDOP_poll, and is woken by input, which it echoes', () => {
    const { m, text } = machine(ECHO);
    m.asyncEventSources = 1; // console input may come
    let wakes = 0;
    m.onWake = () => { wakes++; };
    let r = m.step(1_000_000);
    expect(r).toMatchObject({ kind: 'idle' });
    expect(text()).toBe('console-echo: ready\r\n');
    expect(m.domain.sleep).toMatchObject({ kind: 'poll', port: CONSOLE_EVTCHN });
    // Nothing went through console_io: the ring alone carried the output.
    expect(m.domain.log.map((c) => c.name)).not.toContain('console_io');

    m.consoleInput(bytes('hello'));
    expect(wakes).toBe(1);
    expect(m.domain.sleep).toBe(null);
    r = m.step(1_000_000);
    expect(r).toMatchObject({ kind: 'idle' });
    expect(text()).toBe('console-echo: ready\r\nHELLO');

    m.consoleInput(bytes(', world!'));
    r = m.step(1_000_000);
    expect(r).toEqual({ kind: 'shutdown', reason: 0 });
    expect(text()).toBe('console-echo: ready\r\nHELLO, WORLD\r\nconsole-echo: bye\r\n');
  });

  it('feeds input larger than in[] through as the guest consumes it', () => {
    const { m, text } = machine(ECHO);
    m.asyncEventSources = 1;
    const s = 'abcdefghij'.repeat(700); // 7000 bytes: about seven rings' worth
    m.consoleInput(bytes(s + '!'));
    const r = m.runToEnd(200_000_000);
    expect(r).toEqual({ kind: 'shutdown', reason: 0 });
    expect(text()).toBe(`console-echo: ready\r\n${s.toUpperCase()}\r\nconsole-echo: bye\r\n`);
    expect(m.consoleBackend.droppedInput).toBe(0);
  });

  it('without a host input source, a guest waiting for input ends halted in SCHEDOP_poll', () => {
    const { m, text } = machine(ECHO);
    expect(m.runToEnd(10_000_000)).toEqual({ kind: 'halted', in: 'poll' });
    expect(text()).toBe('console-echo: ready\r\n');
  });
});
