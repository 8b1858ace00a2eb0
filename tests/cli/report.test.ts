/**
 * The crash report and the hypercall trace (src/vmm/report/*.ts) on a real
 * machine built from the pv-min fixture, with states forced by hand: the
 * registers, the instruction at CS:EIP, the frame-pointer walk and its
 * stack-scan fallback, the hypercall-page frame, the exception log, and
 * the last hypercalls.
 *
 * pv-min's _start (tests/fixtures/loader/pv-min.S):
 *   0x100000 mov eax, 0x12 ... 0x100011 call hypercall_page+0x240 (returns to 0x100016)
 *   ... 0x100020 call hypercall_page+0x3a0 (returns to 0x100025), 0x100025 jmp $
 */
import { readFileSync } from 'node:fs';
import { beforeEach, describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';
import { R } from '../../src/vmm/cpu/cpu.js';
import {
  backtrace, decodeEflags, describeExit, followsCall, formatCrashReport, formatRegisters,
} from '../../src/vmm/report/crash.js';
import { recordExceptions } from '../../src/vmm/report/exceptions.js';
import { disassembleAt, disassembleBytes } from '../../src/vmm/report/insn.js';
import { formatRawArgs, formatResult, formatTraceLine, TRACE_PREFIX } from '../../src/vmm/report/trace.js';
import { ANSI } from '../../src/vmm/report/style.js';
import { MemoryBlockHost } from '../../src/vmm/devices/block/disk.js';
import type { HypercallRecord } from '../../src/vmm/xen/domain.js';

const FIXTURE = new URL('../fixtures/loader/pv-min.elf', import.meta.url);
const bytes = new Uint8Array(readFileSync(FIXTURE));

const START = 0x100000, RET1 = 0x100016, RET2 = 0x100025, HCALL_PAGE = 0x102000;

let m: Machine;
let console_: Uint8Array[];

beforeEach(() => {
  console_ = [];
  m = new Machine({ kernel: inspectKernel(bytes, 'pv-min.elf'), memory: 16 << 20, console: { write: (b) => console_.push(b) } });
});

/** Write a 32-bit word at a guest-virtual address (the boot stack is mapped and writable). */
function poke(va: number, v: number): void {
  expect(m.domain.guest.write32(va, v)).toBe(true);
}

describe('instruction decoding for reports', () => {
  it('disassembles the instruction at CS:EIP without touching the vCPU', () => {
    const icount = m.cpu.icount, eip = m.cpu.eip;
    const d = disassembleAt(m.cpu, START);
    expect(d?.text).toBe('mov eax, 0x12');
    expect(Array.from(d!.bytes)).toEqual([0xb8, 0x12, 0, 0, 0]);
    expect(m.cpu.icount).toBe(icount);
    expect(m.cpu.eip).toBe(eip);
  });

  it('prints relative targets as the guest\'s own addresses', () => {
    expect(disassembleAt(m.cpu, RET2)?.text).toBe('jmp 0x100025');
    expect(disassembleAt(m.cpu, 0x100011)?.text).toBe('call 0x102240');
    expect(disassembleBytes(Uint8Array.of(0xeb, 0xfe), 0xc0001000).text).toBe('jmp 0xc0001000');
  });

  it('says so when the instruction is unmapped or cut short', () => {
    expect(disassembleAt(m.cpu, 0x40000000)).toBeNull();
    expect(disassembleBytes(Uint8Array.of(0xb8, 0x12), 0).text).toMatch(/unreadable/);
    expect(disassembleBytes(Uint8Array.of(0x0f, 0x0b), 0).text).toBe('ud2');
  });

  it('recognises return addresses by the call before them', () => {
    expect(followsCall(m.cpu, RET1)).toBe(true);
    expect(followsCall(m.cpu, RET2)).toBe(true);
    expect(followsCall(m.cpu, START + 5)).toBe(false);
    expect(followsCall(m.cpu, 0x40000000)).toBe(false);
  });
});

describe('registers', () => {
  it('names every register, symbolizes EIP and decodes EFLAGS', () => {
    m.cpu.r32[R.EAX] = 0x12345678;
    m.cpu.flags = 0x246;
    m.cpu.lfLazy = 0;
    const text = formatRegisters(m.cpu, m.kernel.symbols).join('\n');
    expect(text).toContain('eax=12345678');
    for (const r of ['ebx=', 'ecx=', 'edx=', 'esi=', 'edi=', 'ebp=', 'esp=', 'eip=00100000 _start', 'eflags=00000246',
      'cs=', 'ss=', 'ds=', 'es=', 'fs=', 'gs=', 'cr0=', 'cr2=', 'cr3=', 'cr4=', 'cpl=1']) expect(text).toContain(r);
    expect(decodeEflags(0x246)).toBe('[PF ZF IF] iopl=0');
    expect(decodeEflags(0x3002)).toBe('[] iopl=3');
  });
});

describe('backtrace', () => {
  it('follows the EBP chain', () => {
    const esp = m.cpu.r32[R.ESP]! >>> 0;
    const f1 = (esp - 0x40) >>> 0, f2 = (esp - 0x20) >>> 0;
    m.cpu.r32[R.ESP] = esp - 0x50;
    m.cpu.r32[R.EBP] = f1;
    poke(f1, f2); poke(f1 + 4, RET1);
    poke(f2, 0); poke(f2 + 4, RET2);
    m.cpu.eip = 0x100007;
    const bt = backtrace(m.cpu, m.kernel);
    expect(bt.method).toBe('frame pointers');
    expect(bt.frames.map((f) => [f.addr, f.how])).toEqual([[0x100007, 'eip'], [RET1, 'frame'], [RET2, 'frame']]);
  });

  it('stops at a non-increasing frame and at a word no call precedes', () => {
    const esp = m.cpu.r32[R.ESP]! >>> 0;
    const f1 = (esp - 0x40) >>> 0;
    m.cpu.r32[R.ESP] = esp - 0x50;
    m.cpu.r32[R.EBP] = f1;
    poke(f1, f1); poke(f1 + 4, RET1); // loops onto itself
    expect(backtrace(m.cpu, m.kernel).frames.length).toBe(2);
    poke(f1 + 4, START + 5); // not a return address: falls back to scanning
    expect(backtrace(m.cpu, m.kernel).method).toBe('stack scan');
  });

  it('takes [esp] as the caller inside the hypercall page', () => {
    const esp = m.cpu.r32[R.ESP]! >>> 0;
    m.cpu.r32[R.ESP] = esp - 16;
    poke(esp - 16, RET2);
    m.cpu.r32[R.EBP] = 0;
    m.cpu.eip = HCALL_PAGE + 29 * 32 + 7;
    const bt = backtrace(m.cpu, m.kernel);
    expect(bt.frames[0]).toEqual({ addr: HCALL_PAGE + 29 * 32 + 7, how: 'eip' });
    expect(bt.frames[1]).toEqual({ addr: RET2, how: 'hypercall' });
  });

  it('scans the stack for return addresses when there is no frame chain', () => {
    const esp = m.cpu.r32[R.ESP]! >>> 0;
    const sp = esp - 32;
    m.cpu.r32[R.ESP] = sp;
    m.cpu.r32[R.EBP] = 0x1234; // below ESP: not a frame pointer
    poke(sp, 7); poke(sp + 4, START + 5); poke(sp + 8, RET1); poke(sp + 12, 0xdeadbeef);
    const bt = backtrace(m.cpu, m.kernel);
    expect(bt.method).toBe('stack scan');
    expect(bt.frames.map((f) => f.addr)).toContain(RET1);
    expect(bt.frames.map((f) => f.addr)).not.toContain(START + 5);
  });

  it('is bounded on a cyclic chain', () => {
    const esp = m.cpu.r32[R.ESP]! >>> 0;
    m.cpu.r32[R.ESP] = esp - 0x100;
    let f = (esp - 0xf0) >>> 0;
    m.cpu.r32[R.EBP] = f;
    for (let i = 0; i < 40; i++) { poke(f, f + 8); poke(f + 4, RET1); f += 8; }
    expect(backtrace(m.cpu, m.kernel, 10).frames.length).toBe(10);
  });
});

describe('the crash report', () => {
  const rec = (over: Partial<HypercallRecord>): HypercallRecord => ({
    nr: 18, name: 'console_io', args: [0, 18, 0x101000, 0, 0, 0], result: 0, caller: RET1, ...over,
  });

  it('has every section for a domain crash (exception with no handler)', () => {
    m.cpu.eip = 0x100005;
    m.domain.record(rec({ detail: 'write count=18 "hello from pv-min\\n"' }));
    m.domain.record(rec({ nr: 29, name: 'sched_op', args: [2, 0x101014, 0, 0, 0, 0], result: -38, caller: RET2 }));
    const text = formatCrashReport(m, {
      exit: { kind: 'crash', message: 'unhandled #UD invalid opcode (no trap-table entry for vector 6)', vector: 6 },
      exceptions: [],
    });
    expect(text).toContain('=== xenkit crash report ===');
    expect(text).toContain('reason:  domain crashed: unhandled #UD invalid opcode');
    expect(text).toContain('pv-min.elf (PV), 16 MiB');
    expect(text).toContain('eip=00100005 _start+0x5');
    expect(text).toMatch(/faulting instruction \(0x00100005, _start\+0x5\):\n {2}31 db +xor ebx, ebx/);
    expect(text).toMatch(/backtrace \(.*\):\n {2}#0 {2}0x00100005 {2}_start\+0x5/);
    expect(text).toContain('stack (ss:esp = ');
    expect(text).toContain('last hypercalls (oldest first, 2):');
    expect(text).toContain('  console_io(write count=18 "hello from pv-min\\n") = 0  <- _start+0x16 (0x00100016)');
    expect(text).toContain('  sched_op(0x2, 0x101014) = -38 (ENOSYS)  <- _start+0x25 (0x00100025)');
    expect(text).toContain('recent exceptions (oldest first):\n  (none delivered)');
    expect(text.endsWith('\n')).toBe(true);
    expect(text).not.toContain('\x1b[');
  });

  it('ends with the devices and where their handshakes stood, when there are any', () => {
    const exit = { kind: 'crash' as const, message: 'x' };
    expect(formatCrashReport(m, { exit })).not.toContain('devices:');
    m.addDisk({ path: 'disk.img', readonly: false, vdev: 'xvda', devid: 51712 } as Parameters<Machine['addDisk']>[0], new MemoryBlockHost(1 << 20));
    const text = formatCrashReport(m, { exit });
    expect(text).toMatch(/\ndevices:\n {2}vbd \/local\/domain\/0\/backend\/vbd\/1\/51712: InitWait, frontend Initialising; 0 requests \(0 reads, 0 writes, 0 flushes, 0 discards\), 0 errors, 0 notifications\n$/);
  });

  it('prints a run of identical hypercalls once, with a count', () => {
    for (let i = 0; i < 3; i++) m.domain.record(rec({ nr: 32, name: 'event_channel_op', detail: 'send port=2' }));
    m.domain.record(rec({ detail: 'write count=1 "x"' }));
    m.domain.record(rec({ nr: 32, name: 'event_channel_op', detail: 'send port=2' }));
    const text = formatCrashReport(m, { exit: { kind: 'shutdown', reason: 3 } });
    expect(text).toContain([
      'last hypercalls (oldest first, 5):',
      '  event_channel_op(send port=2) = 0  <- _start+0x16 (0x00100016)  (3 times)',
      '  console_io(write count=1 "x") = 0  <- _start+0x16 (0x00100016)',
      '  event_channel_op(send port=2) = 0  <- _start+0x16 (0x00100016)',
    ].join('\n'));
  });

  it('shows the fault that led to a SHUTDOWN_crash, disassembled', () => {
    m.cpu.eip = HCALL_PAGE + 29 * 32 + 7;
    const text = formatCrashReport(m, {
      exit: { kind: 'shutdown', reason: 3 },
      exceptions: [{ vector: 6, kind: 'exception', errorCode: -1, cs: 0xe019, eip: 0x100005, linear: 0x100005, cr2: 0, icount: 0 },
        { vector: 14, kind: 'exception', errorCode: 2, cs: 0xe019, eip: 0x100007, linear: 0x100007, cr2: 0xdead0000, icount: 0 }],
    });
    expect(text).toContain('reason:  the guest shut down with SHUTDOWN_crash');
    expect(text).toContain('instruction at cs:eip (0x001023a7, hypercall_page+0x3a7)');
    expect(text).toMatch(/#UD invalid opcode at 0x00100005 _start\+0x5.*\n {4}31 db +xor ebx, ebx/);
    expect(text).toContain('#PF page fault at 0x00100007 _start+0x7 error=0x2 cr2=0xdead0000');
  });

  it('describes triple faults and shutdown reasons', () => {
    expect(describeExit({ kind: 'triple-fault' })).toMatch(/^triple fault/);
    expect(describeExit({ kind: 'shutdown', reason: 1 })).toBe('the guest shut down with SHUTDOWN_reboot');
    expect(describeExit({ kind: 'shutdown', reason: 9 })).toBe('the guest shut down with shutdown reason 9');
    expect(describeExit({ kind: 'crash', message: 'x', errorCode: 0x18 })).toBe('domain crashed: x, error code 0x18');
    expect(describeExit({ kind: 'halted' })).toMatch(/halted/);
  });

  it('says when EIP or the stack is unmapped, and never throws', () => {
    m.cpu.eip = 0x40000000;
    m.cpu.r32[R.ESP] = 0x40000000;
    m.cpu.r32[R.EBP] = 0x40000010;
    const text = formatCrashReport(m, { exit: { kind: 'triple-fault' } });
    expect(text).toContain('(0x40000000 is not mapped)');
    expect(text).toContain('last hypercalls (oldest first, 0):\n  (none)');
    expect(text).not.toContain('recent exceptions');
  });

  it('colours only with the ANSI palette', () => {
    const text = formatCrashReport(m, { exit: { kind: 'triple-fault' }, palette: ANSI });
    expect(text).toContain('\x1b[31m');
  });
});

describe('the exception log', () => {
  it('records exceptions delivered while the machine runs, not hypercall traps', () => {
    const log = recordExceptions(m.cpu);
    const exit = m.runToEnd(1_000_000);
    expect(exit).not.toBeNull();
    // pv-min makes two hypercalls (int $0x82 through the page) and no exception.
    expect(log.records).toEqual([]);
    expect(m.cpu.delivery).toBe(log);
  });
});

describe('the hypercall trace', () => {
  it('prints one line with decoded arguments, the result and the symbolized caller', () => {
    const line = formatTraceLine({ nr: 18, name: 'console_io', args: [0, 21, 0xc0012345, 0, 0, 0], result: 0,
      caller: RET1, detail: 'write, count=21, buf=0xc0012345' }, m.kernel.symbols);
    expect(line).toBe('[hcall] console_io(write, count=21, buf=0xc0012345) = 0  <- _start+0x16 (0x00100016)');
    expect(line.startsWith(TRACE_PREFIX)).toBe(true);
  });

  it('falls back to raw registers, errno names and bare addresses', () => {
    expect(formatRawArgs([2, 0x101014, 0, 0, 0, 0])).toBe('0x2, 0x101014');
    expect(formatRawArgs([0, 0, 0, 0, 0, 0])).toBe('');
    expect(formatResult(-38)).toBe('-38 (ENOSYS)');
    expect(formatResult(-14)).toBe('-14 (EFAULT)');
    expect(formatResult(0x40011)).toBe('0x40011');
    expect(formatResult(21)).toBe('21');
    expect(formatResult(null)).toBe('-');
    const line = formatTraceLine({ nr: 99, name: 'hypercall 99', args: [1, 0, 0, 0, 0, 0], result: -38, caller: 0x40000000 },
      m.kernel.symbols);
    expect(line).toBe('[hcall] hypercall 99(0x1) = -38 (ENOSYS)  <- 0x40000000');
  });

  it('reports the fixture\'s hypercalls through the domain hook', () => {
    const lines: string[] = [];
    m.domain.onHypercall = (r) => lines.push(formatTraceLine(r, m.kernel.symbols));
    const exit = m.runToEnd(1_000_000);
    expect(exit).toEqual({ kind: 'shutdown', reason: 0 });
    expect(new TextDecoder().decode(Buffer.concat(console_))).toBe('hello from pv-min\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[hcall\] console_io\(.*\) = 0 {2}<- _start\+0x16 \(0x00100016\)$/);
    expect(lines[1]).toMatch(/^\[hcall\] sched_op\(.*\) = .* {2}<- _start\+0x25 \(0x00100025\)$/);
  });
});
