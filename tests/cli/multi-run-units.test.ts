/**
 * The pure parts of a multi-guest `xenkit run` (the CLI runs are in
 * multi-run.test.ts): splitting the arguments at `--and`, parsing each
 * group with the run command's options (errors naming the guest), the
 * guests' names, and the console line prefixer with partial lines of
 * several guests interleaved.
 */
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.js';
import { LinePrefixer } from '../../src/cli/line-prefix.js';
import { guestNames } from '../../src/cli/multi-run.js';
import { parseGuestArgs, splitGuestArgs } from '../../src/cli/program.js';

const enc = new TextEncoder(), dec = new TextDecoder();

describe('splitGuestArgs', () => {
  it('splits at every --and, keeping each group\'s order', () => {
    expect(splitGuestArgs(['a.elf', '-m', '32M', '--and', 'b.elf', '--net', 'switch:x', '--and', 'c.elf']))
      .toEqual([['a.elf', '-m', '32M'], ['b.elf', '--net', 'switch:x'], ['c.elf']]);
    expect(splitGuestArgs(['a.elf', '--cmdline=--and'])).toEqual([['a.elf', '--cmdline=--and']]);
    expect(splitGuestArgs([])).toEqual([[]]); // no --and: one group, commander reports what is missing
  });

  it('refuses a guest with nothing: --and first, last or doubled', () => {
    for (const args of [['--and', 'b.elf'], ['a.elf', '--and'], ['a.elf', '--and', '--and', 'b.elf'], ['--and']]) {
      expect(() => splitGuestArgs(args), args.join(' ')).toThrow(CliError);
    }
    expect(() => splitGuestArgs(['--and', 'b.elf'])).toThrow(/not first/);
    expect(() => splitGuestArgs(['a.elf', '--and'])).toThrow(/must be followed by a kernel/);
  });
});

describe('parseGuestArgs', () => {
  const parse = (args: string[]): { guests?: ReturnType<typeof parseGuestArgs>; err: string; out: string; error?: unknown } => {
    let err = '', out = '';
    try {
      const guests = parseGuestArgs(args, { writeOut: (s) => { out += s; }, writeErr: (s) => { err += s; } });
      return { guests, err, out };
    } catch (error) {
      return { err, out, error };
    }
  };

  it('gives every guest the run command\'s options and defaults', () => {
    const r = parse(['a.elf', '--net', 'switch:lan', '--net', 'switch:wan', '-c', 'ip=10.0.0.2', '--and', 'b.elf', '--deterministic']);
    expect(r.error).toBeUndefined();
    expect(r.guests).toEqual([
      { kernel: 'a.elf', opts: { memory: '64M', cmdline: 'ip=10.0.0.2', console: 'stdio', net: ['switch:lan', 'switch:wan'] } },
      { kernel: 'b.elf', opts: { memory: '64M', cmdline: '', console: 'stdio', deterministic: true } },
    ]);
  });

  it('names the guest in commander\'s one-line errors', () => {
    const r = parse(['a.elf', '--and', 'b.elf', '--foo']);
    expect(r.error).toBeInstanceOf(CommanderError);
    expect(r.err).toBe("xenkit: guest 2: unknown option '--foo'\n");
    const t = parse(['a.elf', '--trace', 'everything', '--and', 'b.elf']);
    expect(t.err).toMatch(/^xenkit: guest 1: option '-t, --trace <what>' argument 'everything' is invalid/);
    expect(t.err.trimEnd().split('\n')).toHaveLength(1);
    const m = parse(['a.elf', '--and', '-m', '32M']);
    expect(m.err).toBe("xenkit: guest 2: missing required argument 'kernel.elf'\n");
  });
});

describe('guestNames', () => {
  it('takes the file name, or the directory for generic names, made unique', () => {
    expect(guestNames(['build/a/kernel.elf', 'build/b/kernel.elf'])).toEqual(['a', 'b']);
    expect(guestNames(['x/netdemo/kernel.elf', 'x/netdemo/kernel.elf', 'y/netdemo/kernel-pvh.elf'])).toEqual(['netdemo', 'netdemo-2', 'netdemo-3']);
    expect(guestNames(['mykernel/build/kernel.elf', 'pv-min.elf', 'tests/pv-min.elf'])).toEqual(['mykernel', 'pv-min', 'pv-min-2']);
    expect(guestNames(['a.ELF', 'a', 'a-2.elf'])).toEqual(['a', 'a-2', 'a-2-2']);
  });
});

describe('LinePrefixer', () => {
  /** Two guests writing into one stream through their prefixers. */
  function pair(maxLine?: number): { a: LinePrefixer; b: LinePrefixer; text: () => string; writes: () => number } {
    let text = '', writes = 0;
    const sink = (bytes: Uint8Array): void => { text += dec.decode(bytes); writes++; };
    return { a: new LinePrefixer('[a] ', sink, maxLine), b: new LinePrefixer('[b] ', sink, maxLine), text: () => text, writes: () => writes };
  }

  it('prefixes every line, keeping whole lines together when guests interleave partial lines', () => {
    const p = pair();
    p.a.write(enc.encode('hel'));
    p.b.write(enc.encode('one\ntw'));
    p.a.write(enc.encode('lo\r\nwor'));
    expect(p.a.midLine).toBe(true);
    p.b.write(enc.encode('o\n'));
    expect(p.b.midLine).toBe(false);
    p.a.write(enc.encode('ld\n\nx'));
    expect(p.text()).toBe('[b] one\n[a] hello\r\n[b] two\n[a] world\n[a] \n');
    p.a.flush(); // the guest stopped mid-line: the line is ended
    p.b.flush(); // nothing pending: nothing written
    expect(p.text()).toBe('[b] one\n[a] hello\r\n[b] two\n[a] world\n[a] \n[a] x\n');
  });

  it('writes several complete lines of one write at once, and nothing for a partial line', () => {
    const p = pair();
    p.a.write(enc.encode('1\n2\n3\n4'));
    expect(p.writes()).toBe(1);
    expect(p.text()).toBe('[a] 1\n[a] 2\n[a] 3\n');
    p.a.write(enc.encode('5'));
    expect(p.writes()).toBe(1);
  });

  it('cuts a line that grows past maxLine, and goes on with a prefixed line', () => {
    const p = pair(8);
    p.a.write(enc.encode('abcde'));
    p.a.write(enc.encode('fghijklmnopqrs'));
    expect(p.text()).toBe('[a] abcdefgh\n[a] ijklmnop\n');
    p.a.write(enc.encode('t\n'));
    expect(p.text()).toBe('[a] abcdefgh\n[a] ijklmnop\n[a] qrst\n');
  });

  it('copies what it keeps: the caller may reuse its buffer', () => {
    const p = pair();
    const buf = enc.encode('abc');
    p.a.write(buf);
    buf.set(enc.encode('xyz'));
    p.a.write(enc.encode('\n'));
    expect(p.text()).toBe('[a] abc\n');
  });
});
