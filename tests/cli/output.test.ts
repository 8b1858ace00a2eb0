/**
 * The CLI's buffered output (src/cli/output.ts): few writes, stdout and
 * stderr kept in order, a failing stream dropped without an exception.
 */
import { describe, expect, it } from 'vitest';
import { OrderedOutput, type OutStream } from '../../src/cli/output.js';

function fake(log: string[], name: string, fail = false): OutStream {
  return {
    write(chunk) {
      if (fail) throw Object.assign(new Error('EPIPE'), { code: 'EPIPE' });
      log.push(`${name}:${typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk)}`);
      return true;
    },
  };
}

describe('OrderedOutput', () => {
  it('joins small writes into one until flushed', () => {
    const log: string[] = [];
    const o = new OrderedOutput(fake(log, 'out'), fake(log, 'err'));
    for (const c of 'hello\n') o.stdout(new TextEncoder().encode(c));
    expect(log).toEqual([]);
    o.flush();
    expect(log).toEqual(['out:hello\n']);
  });

  it('keeps stdout and stderr in order', () => {
    const log: string[] = [];
    const o = new OrderedOutput(fake(log, 'out'), fake(log, 'err'));
    o.stdout('a');
    o.stdout('b');
    o.stderr('[hcall] x\n');
    o.stdout('c');
    o.flush();
    expect(log).toEqual(['out:ab', 'err:[hcall] x\n', 'out:c']);
  });

  it('copies console bytes (the caller may reuse its buffer)', () => {
    const log: string[] = [];
    const o = new OrderedOutput(fake(log, 'out'), fake(log, 'err'));
    const buf = new TextEncoder().encode('xy');
    o.stdout(buf);
    buf[0] = 0x7a;
    o.flush();
    expect(log).toEqual(['out:xy']);
  });

  it('writes when the buffer fills', () => {
    const log: string[] = [];
    const o = new OrderedOutput(fake(log, 'out'), fake(log, 'err'), 8);
    o.stdout('12345');
    o.stdout('6789');
    expect(log).toEqual(['out:123456789']);
  });

  it('tells whether the guest left a line unfinished', () => {
    const o = new OrderedOutput(fake([], 'out'), fake([], 'err'));
    expect(o.stdoutMidLine).toBe(false);
    o.stdout('PANIC');
    expect(o.stdoutMidLine).toBe(true);
    o.stdout('\n');
    expect(o.stdoutMidLine).toBe(false);
  });

  it('drops a stream that fails, and keeps the other', () => {
    const log: string[] = [];
    const o = new OrderedOutput(fake(log, 'out', true), fake(log, 'err'));
    o.stdout('lost');
    o.stderr('kept\n');
    o.stdout('lost too');
    o.flush();
    expect(log).toEqual(['err:kept\n']);
  });
});
