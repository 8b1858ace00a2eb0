/**
 * `xenkit run` with a guest that sleeps (src/cli/run.ts's idle waits): a
 * PV kernel that blocks in SCHEDOP_block until a single-shot timer 40 ms
 * after boot, then powers off from its event callback.
 *  - host clock (the default): the run takes the timer's real time, and
 *    the loop waits on a timer instead of spinning (few slices);
 *  - --deterministic: time jumps, the run is immediate;
 *  - SIGINT ends an idle wait at once.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand, waitMs, type RunHost } from '../../src/cli/run.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { Machine } from '../../src/vmm/machine.js';

const here = dirname(fileURLToPath(import.meta.url));
const build = join(here, '..', '.build', 'cli-idle');

/**
 * A PV kernel: callbacks, VIRQ_TIMER bound, periodic timer off,
 * set_timer_op(`ns`), block; the callback powers off. With `spin`, it
 * spins at `spin_here` instead, printing nothing.
 */
function sleeper(ns: number, spin = false): string {
  const src = `
#define NOTE(type, desc...) .p2align 2; .long 4, 2f - 1f, type; .asciz "Xen"; 1: desc; 2: .p2align 2
    .section .note.Xen, "a", @note
    NOTE(6, .asciz "xenkit-test")
    NOTE(8, .asciz "generic")
    NOTE(5, .asciz "xen-3.0")
    NOTE(9, .asciz "yes")
    NOTE(3, .long 0)
    NOTE(4, .long 0)
    NOTE(1, .long _start)
    NOTE(2, .long hypercall_page)
    .text
    .globl _start
_start:
${spin ? 'spin_here: jmp spin_here' : ''}
    mov $4, %eax                /* set_callbacks */
    mov $0xe019, %ebx
    mov $event, %ecx
    mov $0xe019, %edx
    mov $event, %esi
    int $0x82
    /* The 100 Hz tick off before VIRQ_TIMER is bound: on a loaded host the first
       instructions may run after a tick was due, and it must not wake the block. */
    mov $24, %eax               /* stop_periodic_timer */
    mov $7, %ebx
    xor %ecx, %ecx
    int $0x82
    mov $32, %eax               /* bind_virq(VIRQ_TIMER) */
    mov $1, %ebx
    mov $virq, %ecx
    int $0x82
    mov $15, %eax               /* set_timer_op */
    mov $${ns}, %ebx
    xor %ecx, %ecx
    int $0x82
    mov $29, %eax               /* block */
    mov $1, %ebx
    int $0x82
1:  jmp 1b
event:
    mov $29, %eax               /* shutdown(poweroff) */
    mov $2, %ebx
    mov $reason, %ecx
    int $0x82
2:  jmp 2b
    .data
    .p2align 2
virq: .long 0, 0, 0
reason: .long 0
    .p2align 12
    .globl hypercall_page
hypercall_page:
    .fill 4096, 1, 0xc3
`;
  // Cached by content: an edit of the source above builds afresh.
  const tag = createHash('sha256').update(src).digest('hex').slice(0, 12);
  const elf = join(build, `sleeper-${ns}${spin ? '-spin' : ''}-${tag}.elf`);
  if (existsSync(elf)) return elf;
  mkdirSync(build, { recursive: true });
  const s = join(build, `sleeper-${ns}${spin ? '-spin' : ''}-${tag}.S`);
  writeFileSync(s, src);
  execFileSync('gcc', ['-m32', '-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none',
    `-Wl,-T,${join(here, '..', 'fixtures', 'loader', 'link.ld')}`, '-o', elf, s], { stdio: ['ignore', 'pipe', 'pipe'] });
  return elf;
}

interface Fake extends RunHost { err: string; interrupt(): void }

function host(): Fake {
  let handler: (() => void) | null = null;
  const h: Fake = {
    err: '',
    stdout: { write: () => true },
    stderr: { write: (c) => { h.err += typeof c === 'string' ? c : new TextDecoder().decode(c); return true; } },
    env: {},
    onInterrupt(f) { handler = f; return () => { handler = null; }; },
    interrupt() { handler?.(); },
  };
  return h;
}

afterEach(() => { vi.restoreAllMocks(); });

describe('xenkit run: a sleeping guest', () => {
  it('waits for the timer in real time without spinning (host clock)', async () => {
    const elf = sleeper(40_000_000);
    const steps = vi.spyOn(Machine.prototype, 'step');
    const t0 = Date.now();
    expect(await runCommand(elf, { memory: '16M', cmdline: '' }, host())).toBe(EXIT.POWEROFF);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(35);
    expect(steps.mock.calls.length).toBeLessThan(20);
  });

  it('--deterministic: time jumps over the sleep', async () => {
    const elf = sleeper(5_000_000_000);
    const t0 = Date.now();
    expect(await runCommand(elf, { memory: '16M', cmdline: '', deterministic: true }, host())).toBe(EXIT.POWEROFF);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('SIGINT ends an idle wait at once: status 130', async () => {
    const elf = sleeper(60_000_000_000);
    const h = host();
    setTimeout(() => h.interrupt(), 30);
    const t0 = Date.now();
    expect(await runCommand(elf, { memory: '16M', cmdline: '' }, h)).toBe(EXIT.INTERRUPTED);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(h.err).toMatch(/^xenkit: interrupted \(SIGINT\)/);
  });

  it('on a terminal, a guest that prints nothing gets one line saying what it does; not in a pipe', async () => {
    const tty = (): Fake => { const h = host(); (h.stderr as { isTTY?: boolean }).isTTY = true; h.quietNoticeMs = 50; return h; };
    // Sleeping (a 60 s timer).
    const a = tty();
    const ra = runCommand(sleeper(60_000_000_000), { memory: '16M', cmdline: '' }, a);
    await vi.waitFor(() => { expect(a.err).toContain('printed nothing'); }, { timeout: 5000 });
    a.interrupt();
    expect(await ra).toBe(EXIT.INTERRUPTED);
    expect(a.err).toMatch(/^xenkit: the guest has printed nothing in 50 ms; it sleeps in SCHEDOP_block at eip 0x[0-9a-f]{8} \(_start\+0x[0-9a-f]+\), waiting for an event \(Ctrl-C stops it and says where\)\n/);
    // Running (a spin loop).
    const b = tty();
    const rb = runCommand(sleeper(60_000_000_000, true), { memory: '16M', cmdline: '' }, b);
    await vi.waitFor(() => { expect(b.err).toContain('printed nothing'); }, { timeout: 5000 });
    b.interrupt();
    expect(await rb).toBe(EXIT.INTERRUPTED);
    expect(b.err).toMatch(/^xenkit: the guest has printed nothing in 50 ms; it is running at eip 0x[0-9a-f]{8} \(spin_here\), [\d.]+ million instructions so far/);
    expect(b.err.match(/printed nothing/g)).toHaveLength(1); // once
    // Not a terminal: never.
    const c = host();
    c.quietNoticeMs = 50;
    const rc = runCommand(sleeper(60_000_000_000, true), { memory: '16M', cmdline: '' }, c);
    await new Promise((r) => setTimeout(r, 300));
    c.interrupt();
    expect(await rc).toBe(EXIT.INTERRUPTED);
    expect(c.err).not.toContain('printed nothing');
  });

  it('waitMs rounds guest nanoseconds up to host milliseconds', () => {
    expect([waitMs(0n), waitMs(-5n), waitMs(1n), waitMs(1_000_000n), waitMs(1_000_001n)]).toEqual([0, 0, 1, 1, 2]);
    expect(waitMs(1n << 60n)).toBe(2_000_000_000);
  });
});
