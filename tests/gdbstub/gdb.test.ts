/**
 * End to end with the real peer: Debian's gdb (`gdb --batch -nx`) connects
 * over loopback TCP to a GdbServer driving the fake target, and we check
 * what gdb prints. This is what proves the target description is accepted
 * by gdb's i386 architecture (no "Architecture rejected" warning, no
 * "Truncated register" / "'g' packet reply is too long"), that stop replies
 * are understood (breakpoint, watchpoint values, SIGSEGV, exit), that
 * software breakpoints inside the emulator can be stepped over and hit
 * again, and that X writes with escaped bytes land.
 *
 * Every gdb run has a hard time limit (runGdb kills it).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Reg } from '../../src/gdbstub/index.js';
import { FakeTarget } from './fake-target.js';
import { HAVE_GDB, runGdb, type GdbRun } from './gdb.js';

/** Warnings that mean gdb misunderstood the stub. */
const BAD = /Architecture rejected|Truncated register|packet reply is too long|Remote failure reply|Protocol error|Ignoring packet error|Bogus trace status|unexpected/i;

function text(r: GdbRun): string {
  return `${r.stdout}\n${r.stderr}`;
}

function expectClean(r: GdbRun): void {
  expect(text(r)).not.toMatch(BAD);
  expect(r.status).toBe(0);
}

/** The scenario of the brief: a fake CPU with a breakpoint target, a store, a hole in memory. */
function scenario(): FakeTarget {
  const t = new FakeTarget({
    monitor: {
      regs: () => 'eax=11111111 cr3=00003000',
      pageWalk: (_t, va) => `va ${va.toString(16)}: L2 -> L1 -> frame 0x42`,
      xsList: (p) => `${p}: local domain`,
      hypercallTrace: (on) => `hypercall trace ${on ? 'on' : 'off'}`,
    },
  });
  t.mem.set([0x78, 0x56, 0x34, 0x12], 0x2000);
  t.effects.set(0x1010, { op: 'store', addr: 0x2000, size: 4, value: 0xcafe });
  return t;
}

describe.runIf(HAVE_GDB)('the real gdb against the fake target', () => {
  it('registers, memory, break, continue, stepi, watch, monitor, threads, detach', async () => {
    const t = scenario();
    const r = await runGdb(t, [
      'info registers', 'x/4xw 0x2000', 'x/4xw 0x8000', 'break *0x1000', 'continue', 'stepi', 'info registers eip',
      'watch *(int*)0x2000', 'continue', 'p/x $cr3', 'p $cr0', 'p $cpl', 'p $st0', 'monitor help', 'monitor pt 0xc0001000',
      'monitor xs ls', 'monitor trace hypercalls on', 'info threads', 'detach',
    ]);
    expectClean(r);
    const out = text(r);
    expect(out).toMatch(/^eax {12}0x11111111 {10}286331153$/m);
    expect(out).toMatch(/^esp {12}0x7000 {14}0x7000$/m);
    expect(out).toMatch(/^eip {12}0x800 {15}0x800$/m);
    expect(out).toMatch(/^eflags {9}0x202 {15}\[ IF \]$/m);
    expect(out).toMatch(/^cs {13}0xe019/m);
    expect(out).toMatch(/^cr0 {12}0x80050033 {10}\[ PE MP ET NE WP AM PG \]$/m);
    expect(out).toMatch(/^cr4 {12}0x20 {16}\[ PAE \]$/m);
    expect(out).toContain('0x2000:\t0x12345678\t0x00000000\t0x00000000\t0x00000000');
    expect(out).toContain('Cannot access memory at address 0x8000');
    expect(out).toContain('Breakpoint 1 at 0x1000');
    expect(out).toContain('Breakpoint 1, 0x00001000 in ?? ()');
    expect(out).toContain('0x00001001 in ?? ()');
    expect(out).toMatch(/^eip {12}0x1001 {14}0x1001$/m);
    expect(out).toContain('Hardware watchpoint 2: *(int*)0x2000');
    expect(out).toMatch(/Old value = 305419896\nNew value = 51966\n0x00001011 in \?\? \(\)/);
    expect(out).toContain('$1 = 0x3000');
    expect(out).toContain('$2 = [ PE MP ET NE WP AM PG ]');
    expect(out).toContain('$3 = 1');
    expect(out).toContain('$4 = <unavailable>');
    expect(out).toContain('xenkit monitor commands:');
    expect(out).toMatch(/monitor pt <va> +walk the page tables/);
    expect(out).toContain('va c0001000: L2 -> L1 -> frame 0x42');
    expect(out).toContain('/: local domain');
    expect(out).toContain('hypercall trace on');
    expect(out).toMatch(/\* 1 +Thread 1 "vcpu0" \(vCPU 0\) 0x00001011 in \?\? \(\)/);
    expect(out).toContain('[Inferior 1 (Remote target) detached]');
    expect(t.detached).toBe(true);
    expect(t.bps.size).toBe(0);
    // Software breakpoints live in the emulator: guest memory was never patched with int3.
    expect(t.mem[0x1000]).toBe(0);
    expect(t.calls).toContain('Z sw 1000 1');
    expect(t.calls).toContain('Z write 2000 4');
  });

  it('writes memory (X with escaped bytes) and registers; unmapped writes fail cleanly', async () => {
    const t = scenario();
    const r = await runGdb(t, [
      'set {int}0x2100 = 0x2a7d2324', 'x/xw 0x2100', 'set $eax = 7', 'p $eax', 'set $eip = 0x1234', 'p/x $pc',
      'set {int}0x8000 = 1', 'p/x *(int*)0x2000',
    ]);
    expectClean(r);
    const out = text(r);
    expect(out).toContain('0x2100:\t0x2a7d2324');
    expect([...t.mem.subarray(0x2100, 0x2104)]).toEqual([0x24, 0x23, 0x7d, 0x2a]);
    expect(out).toContain('$1 = 7');
    expect(out).toContain('$2 = 0x1234');
    expect(t.regs[0]![Reg.EAX]).toBe(7);
    expect(t.regs[0]![Reg.EIP]).toBe(0x1234);
    expect(out).toContain('Cannot access memory at address 0x8000');
    expect(out).toContain('$3 = 0x12345678');
  });

  it('a breakpoint in a loop is stepped over and hit again', async () => {
    const t = scenario();
    t.effects.set(0x1003, { op: 'jump', to: 0x1000 });
    const r = await runGdb(t, ['break *0x1001', 'continue', 'continue', 'continue', 'info breakpoints', 'stepi', 'stepi', 'p/x $pc']);
    expectClean(r);
    const out = text(r);
    expect(out.match(/Breakpoint 1, 0x00001001 in \?\? \(\)/g)).toHaveLength(3);
    expect(out).toContain('breakpoint already hit 3 times');
    expect(out).toContain('$1 = 0x1003');
  });

  it('hardware breakpoints, read and access watchpoints', async () => {
    const t = scenario();
    t.effects.set(0x1020, { op: 'load', addr: 0x3000, size: 4 });
    t.effects.set(0x1030, { op: 'store', addr: 0x4000, size: 1, value: 0x5a });
    const r = await runGdb(t, [
      'hbreak *0x900', 'continue', 'delete', 'rwatch *(int*)0x3000', 'continue', 'delete', 'awatch *(char*)0x4000', 'continue',
    ]);
    expectClean(r);
    const out = text(r);
    expect(out).toContain('Hardware assisted breakpoint 1 at 0x900');
    expect(out).toContain('Breakpoint 1, 0x00000900 in ?? ()');
    expect(out).toMatch(/Hardware read watchpoint 2: \*\(int\*\)0x3000\n\nValue = 0\n0x00001021 in \?\? \(\)/);
    expect(out).toMatch(/Hardware access \(read\/write\) watchpoint 3: \*\(char\*\)0x4000\n\nOld value = 0 '\\000'\nNew value = 90 'Z'\n0x00001031 in \?\? \(\)/);
    expect(t.calls).toContain('Z hw 900 1');
    expect(t.calls).toContain('Z read 3000 4');
    expect(t.calls).toContain('Z access 4000 1');
  });

  it('a guest crash stops in gdb with SIGSEGV and the crash message', async () => {
    const t = scenario();
    t.effects.set(0x810, { op: 'crash' });
    const r = await runGdb(t, ['continue', 'p/x $pc']);
    expectClean(r);
    const out = text(r);
    expect(out).toContain('fake: guest crashed');
    expect(out).toContain('Program received signal SIGSEGV, Segmentation fault.');
    expect(out).toContain('0x00000810 in ?? ()');
    expect(out).toContain('$1 = 0x810');
  });

  it('a poweroff ends the inferior with its status', async () => {
    const t = scenario();
    t.effects.set(0x805, { op: 'poweroff', code: 3 });
    const r = await runGdb(t, ['continue']);
    expect(text(r)).not.toMatch(BAD);
    expect(text(r)).toContain('[Inferior 1 (Remote target) exited with code 03]');
  });

  it('vCPUs are threads', async () => {
    const t = new FakeTarget({ threads: 2 });
    t.regs[1]![Reg.EIP] = 0x900;
    const r = await runGdb(t, ['info threads', 'thread 2', 'p/x $eax', 'p/x $pc', 'thread 1', 'p/x $eax']);
    expectClean(r);
    const out = text(r);
    expect(out).toMatch(/\* 1 +Thread 1 "vcpu0" \(vCPU 0\) 0x00000800 in \?\? \(\)\n +2 +Thread 2 "vcpu1" \(vCPU 1\) 0x00000900 in \?\? \(\)/);
    expect(out).toContain('[Switching to thread 2 (Thread 2)]');
    expect(out).toContain('$1 = 0x22222222');
    expect(out).toContain('$2 = 0x900');
    expect(out).toContain('$3 = 0x11111111');
  });

  it('kill', async () => {
    const t = scenario();
    const r = await runGdb(t, ['kill']);
    expect(text(r)).not.toMatch(BAD);
    expect(text(r)).toContain('[Inferior 1 (Remote target) killed]');
    expect(t.killed).toBe(true);
  });

  it('stays in ack mode when gdb is told not to use no-ack, without run-length encoding', async () => {
    const t = scenario();
    const r = await runGdb(t, ['info registers eip', 'break *0x1000', 'continue', 'x/xw 0x2000', 'detach'], {
      before: ['set remote noack-packet off'],
      session: { rle: false },
    });
    expectClean(r);
    const out = text(r);
    expect(out).toContain('Breakpoint 1, 0x00001000 in ?? ()');
    expect(out).toContain('0x2000:\t0x12345678');
    expect(t.calls.filter((x) => x.startsWith('resume'))).toEqual(['resume 1:continue']);
  });

  it('bulk writes and reads respect the PacketSize we announce (regression: escaped X data at the bound)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-gdb-'));
    try {
      // 12 KiB with many bytes gdb must escape (# $ }), so X packets are full right up to the bound.
      const data = Buffer.alloc(12288);
      for (let i = 0; i < data.length; i++) data[i] = i % 3 === 0 ? 0x7d : i % 3 === 1 ? (i * 7) & 0xff : 0x23;
      writeFileSync(join(dir, 'in.bin'), data);
      const t = scenario();
      const r = await runGdb(t, [
        `restore ${join(dir, 'in.bin')} binary 0x3000`,
        `dump binary memory ${join(dir, 'out.bin')} 0x3000 ${0x3000 + data.length}`,
      ], { session: { maxPacket: 0x400 } });
      expectClean(r);
      expect(Buffer.from(t.mem.subarray(0x3000, 0x3000 + data.length)).equals(data)).toBe(true);
      expect(readFileSync(join(dir, 'out.bin')).equals(data)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gdb reads and uses the target description (regression: x87 registers must be in the core feature)', async () => {
    const t = scenario();
    const r = await runGdb(t, ['show architecture', 'maint print remote-registers', 'info registers float']);
    expectClean(r);
    const out = text(r);
    expect(out).toContain('(currently "i386")');
    // Our registers at our remote numbers and g-packet offsets (columns: name, gdb nr, rel, offset,
    // size, type, remote nr, g offset; gdb keeps its own numbers 32-73 for SSE and friends).
    expect(out).toMatch(/^ eip +8 +8 +32 +4 +\S+ +8 +32$/m);
    expect(out).toMatch(/^ st0 +16 +16 +64 +10 +\S+ +16 +64$/m);
    expect(out).toMatch(/^ cr0 +\d+ +\d+ +176 +4 +xenkit_cr0 +32 +176$/m);
    expect(out).toMatch(/^ cr3 +\d+ +\d+ +184 +4 +uint32_t +34 +184$/m);
    expect(out).toMatch(/^ upcall_pending +\d+ +\d+ +200 +4 +uint32_t +38 +200$/m);
    expect(out).toMatch(/^st0 +<unavailable>/m);
  });
});

describe.skipIf(HAVE_GDB)('without gdb', () => {
  it('skips the end-to-end tests (install gdb to run them)', () => {
    expect(HAVE_GDB).toBe(false);
  });
});
