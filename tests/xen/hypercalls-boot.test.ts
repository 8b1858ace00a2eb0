/**
 * The core hypercalls inside a running Machine: the loader fixture
 * pv-min.elf prints through console_io (via its hypercall page) and powers
 * off with SCHEDOP_shutdown, so the machine must end with exactly that
 * output and a poweroff stop; `--trace hypercalls` decodes both calls.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';

describe('core hypercalls in a booted PV guest', () => {
  it('pv-min prints through console_io and shuts down with poweroff', () => {
    const bytes = new Uint8Array(readFileSync(new URL('../fixtures/loader/pv-min.elf', import.meta.url)));
    const out: number[] = [];
    const m = new Machine({ kernel: inspectKernel(bytes, 'pv-min.elf'), memory: 16 << 20, console: { write: (b) => out.push(...b) } });
    const details: (string | undefined)[] = [];
    m.domain.onHypercall = (rec) => details.push(rec.detail);
    const exit = m.runToEnd(1_000_000);
    expect(exit).toEqual({ kind: 'shutdown', reason: 0 });
    expect(new TextDecoder().decode(Uint8Array.from(out))).toBe('hello from pv-min\n');
    expect(m.domain.log.map((r) => [r.name, r.result])).toEqual([['console_io', 0], ['sched_op', 0]]);
    expect(details).toEqual(['write count=18 "hello from pv-min\\n"', 'shutdown reason=poweroff']);
  });
});
