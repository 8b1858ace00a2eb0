/**
 * Guest time and the vCPU's timers and sleeps (src/vmm/xen/time.ts, the
 * sched/vcpu hypercalls, Machine's idle handling) against the reference
 * (§1.5 vcpu_time_info, §4 "Timers", "Time", "Scheduler ops"):
 *  - the clocks: deterministic (1 ns per instruction plus skipped idle
 *    time, fixed epoch) and host (an injected clock; a fake here);
 *  - vcpu_time_info's version protocol and its consistency with RDTSC;
 *    the wall clock;
 *  - timers: set_timer_op, VCPUOP single-shot (VCPU_SSHOTTMR_future) and
 *    periodic, PV's default 10 ms tick, all raising VIRQ_TIMER — exactly at
 *    the deadline's instruction in deterministic mode;
 *  - SCHEDOP_block sleeping until a timer without spinning (instructions
 *    counted), SCHEDOP_poll with a timeout, PVH `hlt` woken by a timer, the
 *    'halted' exit when nothing could wake the vCPU, the watchdog;
 *  - host mode: step() returns an idle request instead of spinning; a host
 *    event source wakes the vCPU through onWake;
 *  - deterministic runs are identical twice and for any slicing.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PhysMemory } from '../../src/vmm/memory/phys.js';
import { createCpu } from '../../src/vmm/cpu/index.js';
import { Domain } from '../../src/vmm/xen/domain.js';
import { registerHypercalls } from '../../src/vmm/xen/hypercalls/index.js';
import { XEN_ERRNO } from '../../src/vmm/xen/abi/errno.js';
import { HYPERCALL, VIRQ } from '../../src/vmm/xen/abi/xen.js';
import {
  DETERMINISTIC_EPOCH_NS, GuestTime, TSC_SHIFT, TSC_TO_SYSTEM_MUL, guestNowFromTimeInfo, nextDeadline, publishTimeInfo,
  publishWallClock,
} from '../../src/vmm/xen/time.js';
import type { Machine, StepResult } from '../../src/vmm/machine.js';
import { FakeClock, HC, pvRig, pvhRig, regs, runTo, setGate, type Rig } from './rig.js';

const E = XEN_ERRNO;
const TIME = 32; // vcpu_info.time

function time(r: Rig) {
  const si = r.si(), m = r.m.mem;
  return {
    version: m.read32(si + TIME) >>> 0,
    tsc: m.read64(si + TIME + 8),
    system: m.read64(si + TIME + 16),
    mul: m.read32(si + TIME + 24) >>> 0,
    shift: m.read8(si + TIME + 28),
    flags: m.read8(si + TIME + 29),
  };
}

/** Run until the VIRQ_TIMER port is pending (or `max` instructions). */
function runUntilPending(m: Machine, port: number, max: number): void {
  const start = m.cpu.icount;
  while (!m.domain.events.isPending(port) && m.cpu.icount - start < max) m.step(Math.min(1000, max - (m.cpu.icount - start)));
}

/** Clear the 2-level state the guest's handler would clear. */
function ack(m: Machine, port: number): void {
  m.domain.events.clearPending(port);
  m.mem.write32(m.domain.sharedInfoPa + 4, 0);
  m.mem.write8(m.domain.sharedInfoPa, 0);
}

// --- PV snippet pieces ----------------------------------------------------------------

const CALLBACKS = `
    movl $${HC.set_callbacks}, %eax
    movl $0xe019, %ebx
    movl $event, %ecx
    movl $0xe019, %edx
    movl $event, %esi
    int $0x82`;
const BIND_TIMER = `
    movl $${HC.event_channel_op}, %eax
    movl $1, %ebx
    movl $virq_arg, %ecx
    int $0x82`;
const STOP_PERIODIC = `
    movl $${HC.vcpu_op}, %eax
    movl $7, %ebx
    xorl %ecx, %ecx
    xorl %edx, %edx
    int $0x82`;
const setTimer = (ns: number): string => `
    movl $${HC.set_timer_op}, %eax
    movl $${ns}, %ebx
    xorl %ecx, %ecx
    int $0x82`;
const BLOCK = `
    movl $${HC.sched_op}, %eax
    movl $1, %ebx
    xorl %ecx, %ecx
    int $0x82`;
const DATA = `
    .p2align 2
virq_arg: .long 0, 0, 0
poll_ports: .long 0
poll_arg: .long poll_ports, 1
poll_timeout: .long 0, 0
runstate: .fill 44, 1, 0
wd_arg: .long 0, 0
tsc0: .long 0, 0`;

describe('GuestTime', () => {
  it('deterministic: 1 ns per instruction plus skipped idle time, fixed epoch', () => {
    const cpu = createCpu(new PhysMemory(4096, 0));
    const t = new GuestTime(cpu);
    expect(t.deterministic).toBe(true);
    expect(t.bootWallNs).toBe(DETERMINISTIC_EPOCH_NS);
    cpu.icount = 1234;
    expect(t.nowNs()).toBe(1234n);
    expect(t.tsc()).toBe(1234n);
    t.skipTo(5000n);
    expect(t.nowNs()).toBe(5000n);
    t.skipTo(10n); // never backwards
    expect(t.nowNs()).toBe(5000n);
    cpu.icount = 1300;
    expect(t.nowNs()).toBe(5066n);
    expect(t.instructionsUntil(5100n)).toBe(34);
    expect(t.instructionsUntil(1n)).toBe(0);
    expect(t.instructionsUntil(1n << 60n)).toBe(2 ** 52);
  });

  it('host: the injected clock since construction; skipTo is not allowed', () => {
    const c = new FakeClock();
    const cpu = createCpu(new PhysMemory(4096, 0));
    const t = new GuestTime(cpu, c);
    expect(t.deterministic).toBe(false);
    expect(t.bootWallNs).toBe(c.real);
    expect(t.nowNs()).toBe(0n);
    c.advance(7_000n);
    cpu.icount = 99;
    expect(t.nowNs()).toBe(7_000n);
    expect(() => t.skipTo(1n)).toThrow();
  });

  it('publishes vcpu_time_info with the version protocol: odd while the fields change, then even', () => {
    const mem = new PhysMemory(4 * 4096, 0);
    const si = 0x1000;
    const seen: number[] = [];
    const write64 = mem.write64.bind(mem);
    mem.write64 = (pa: number, v: bigint) => { seen.push(mem.read32(si + TIME) >>> 0); write64(pa, v); };
    publishTimeInfo(mem, si, 5000n, 5000n);
    publishTimeInfo(mem, si, 9000n, 9000n);
    expect(seen.every((v) => v % 2 === 1)).toBe(true);
    expect(mem.read32(si + TIME)).toBe(4);
    expect(mem.read64(si + TIME + 16)).toBe(9000n);
    expect(mem.read32(si + TIME + 24) >>> 0).toBe(TSC_TO_SYSTEM_MUL);
    expect(mem.read8(si + TIME + 28)).toBe(TSC_SHIFT);
    expect(mem.read8(si + TIME + 29)).toBe(1); // XEN_PVCLOCK_TSC_STABLE_BIT
    // The guest's formula maps the TSC 1:1 onto nanoseconds.
    expect(guestNowFromTimeInfo(mem, si, 9000n)).toBe(9000n);
    expect(guestNowFromTimeInfo(mem, si, 12_345_678_901n)).toBe(12_345_678_901n);
  });

  it('publishes the wall clock (wc_sec, wc_nsec, wc_sec_hi) under wc_version', () => {
    const mem = new PhysMemory(4 * 4096, 0);
    const ns = (0x1_2345_6789n * 1_000_000_000n) + 987_654_321n;
    publishWallClock(mem, 0, ns);
    expect(mem.read32(2304)).toBe(2);
    expect(mem.read32(2308) >>> 0).toBe(0x23456789);
    expect(mem.read32(2312)).toBe(987_654_321);
    expect(mem.read32(2340)).toBe(1);
  });
});

describe('time in a booted guest', () => {
  it('boot publishes the wall clock and vcpu_time_info (deterministic epoch)', () => {
    const r = pvRig('spin: jmp spin');
    const t = time(r);
    expect(t.version % 2).toBe(0);
    expect(t.version).toBeGreaterThan(0);
    expect([t.mul, t.shift, t.flags]).toEqual([0x80000000, 1, 1]);
    expect(r.m.mem.read32(r.si() + 2308) >>> 0).toBe(Number(DETERMINISTIC_EPOCH_NS / 1_000_000_000n));
    expect(r.m.domain.time.deterministic).toBe(true);
  });

  it('host clock: the wall clock is the clock’s time of day at boot', () => {
    const c = new FakeClock();
    const r = pvRig('spin: jmp spin', { clock: c });
    expect(r.m.mem.read32(r.si() + 2308) >>> 0).toBe(Number((c.real / 1_000_000_000n) & 0xffffffffn));
    expect(r.m.mem.read32(r.si() + 2312)).toBe(Number(c.real % 1_000_000_000n));
  });

  it('RDTSC agrees with vcpu_time_info: system_time + scaled (tsc − tsc_timestamp) is now', () => {
    const r = pvRig(`
      movl $5000, %ecx
    loop: decl %ecx
      jnz loop
      rdtsc
      movl %eax, tsc0
      movl %edx, tsc0 + 4
    spin: jmp spin
    ${DATA}`);
    runTo(r, 'spin');
    const tsc = r.m.mem.read64(r.at('tsc0'));
    const t = time(r);
    expect(tsc).toBeGreaterThanOrEqual(t.tsc);
    const now = guestNowFromTimeInfo(r.m.mem, r.si(), tsc);
    expect(now).toBe(tsc); // the 1 GHz TSC is system time
    expect(now).toBeLessThanOrEqual(r.m.domain.time.nowNs());
    expect(now).toBeGreaterThan(10_000n); // 5000 loop iterations of two instructions
  });

  it('RDTSC follows the host clock in host mode', () => {
    const c = new FakeClock();
    const r = pvRig(`
      rdtsc
      movl %eax, tsc0
      movl %edx, tsc0 + 4
    spin: jmp spin
    ${DATA}`, { clock: c });
    c.advance(123_456_789_000n);
    runTo(r, 'spin');
    expect(r.m.mem.read64(r.at('tsc0'))).toBe(123_456_789_000n);
  });
});

describe('timers', () => {
  it('set_timer_op raises VIRQ_TIMER at exactly the deadline instruction (deterministic)', () => {
    const r = pvRig(`${BIND_TIMER}${STOP_PERIODIC}${setTimer(200_000)}
    spin: jmp spin
    ${DATA}`);
    runTo(r, 'spin');
    const port = r.rd(r.at('virq_arg') + 8);
    expect(port).toBe(3);
    expect(r.m.domain.singleshotDeadlineNs).toBe(200_000n);
    r.m.step(200_000 - r.m.cpu.icount - 1);
    r.m.step(0);
    expect(r.m.domain.events.isPending(port)).toBe(false);
    r.m.step(1);
    expect(r.m.cpu.icount).toBe(200_000);
    r.m.step(0); // the check point due at the deadline
    expect(r.m.domain.events.isPending(port)).toBe(true);
    expect(r.m.domain.singleshotDeadlineNs).toBeNull();
    // vcpu_time_info was republished at the tick.
    expect(time(r).system).toBe(200_000n);
  });

  it('set_timer_op: 0 cancels; negative or > 2^50 ns ahead means 100 ms from now', () => {
    const mem = new PhysMemory(256 * 4096, Domain.extraFramesFor(256));
    const cpu = createCpu(mem);
    const dom = new Domain({ type: 'pv', cpu, mem, nrPages: 256, console: { write() {} }, cmdline: '' });
    registerHypercalls(dom);
    const call = (lo: number, hi: number) => dom.hypercalls.dispatch('pv', { nr: HYPERCALL.set_timer_op, args: [lo, hi, 0, 0, 0, 0], cpl: 1, guest: dom.guest });
    cpu.icount = 1000;
    expect(call(5000, 0)).toBe(0);
    expect(dom.singleshotDeadlineNs).toBe(5000n);
    expect(call(0, 0)).toBe(0);
    expect(dom.singleshotDeadlineNs).toBeNull();
    expect(call(0, 0x80000000)).toBe(0); // negative
    expect(dom.singleshotDeadlineNs).toBe(100_001_000n);
    expect(call(0, 1 << 20)).toBe(0); // 2^52 ns ahead
    expect(dom.singleshotDeadlineNs).toBe(100_001_000n);
    expect(call(0, 1 << 17)).toBe(0); // 2^49 ns ahead: fine
    expect(dom.singleshotDeadlineNs).toBe(1n << 49n);
    expect(call(10, 0)).toBe(0); // in the past: armed, fires at the next check
    expect(dom.singleshotDeadlineNs).toBe(10n);
    expect(dom.hypercalls.get(15)!.describe!([5, 1, 0, 0, 0, 0], dom.guest)).toBe('timeout=4294967301ns');
  });

  it('VCPUOP_set_singleshot_timer: past + VCPU_SSHOTTMR_future → -ETIME; past → VIRQ_TIMER at once', () => {
    const mem = new PhysMemory(256 * 4096, Domain.extraFramesFor(256));
    const cpu = createCpu(mem);
    const dom = new Domain({ type: 'pvh', cpu, mem, nrPages: 256, console: { write() {} }, cmdline: '' });
    registerHypercalls(dom);
    const port = dom.events.bindVirq(VIRQ.TIMER, 0);
    const ARG = 0x8000;
    const set = (ns: bigint, flags: number) => {
      mem.write64(ARG, ns); mem.write32(ARG + 8, flags);
      return dom.hypercalls.dispatch('pvh', { nr: HYPERCALL.vcpu_op, args: [8, 0, ARG, 0, 0, 0], cpl: 0, guest: dom.guest });
    };
    cpu.icount = 50_000;
    expect(set(40_000n, 1)).toBe(-E.ETIME);
    expect(dom.events.isPending(port)).toBe(false);
    expect(set(60_000n, 1)).toBe(0);
    expect(dom.singleshotDeadlineNs).toBe(60_000n);
    expect(set(40_000n, 0)).toBe(0);
    expect(dom.singleshotDeadlineNs).toBeNull();
    expect(dom.events.isPending(port)).toBe(true);
  });

  it('the periodic timer ticks every period exactly; stop_periodic_timer stops it', () => {
    const r = pvRig(`${BIND_TIMER}
      movl $${HC.vcpu_op}, %eax
      movl $6, %ebx            /* set_periodic_timer: 1 ms */
      xorl %ecx, %ecx
      movl $period, %edx
      int $0x82
    spin: jmp spin
    .p2align 3
    period: .long 1000000, 0
    ${DATA}`);
    runTo(r, 'spin');
    const port = r.rd(r.at('virq_arg') + 8);
    const armed = r.m.domain.periodicLastNs;
    const ticks: bigint[] = [];
    for (let i = 0; i < 3; i++) {
      runUntilPending(r.m, port, 2_000_000);
      ticks.push(r.m.domain.periodicLastNs); // the tick's system time
      ack(r.m, port);
    }
    expect(ticks).toEqual([1n, 2n, 3n].map((k) => armed + k * 1_000_000n));
    r.m.domain.periodicTimerNs = 0n; // what stop_periodic_timer does
    runUntilPending(r.m, port, 3_000_000);
    expect(r.m.domain.events.isPending(port)).toBe(false);
  });

  it('PV vCPUs start with Xen’s 10 ms periodic timer; PVH ones with none', () => {
    const r = pvRig(`${BIND_TIMER}
    spin: jmp spin
    ${DATA}`);
    runTo(r, 'spin');
    expect(nextDeadline(r.m.domain)).toBe(10_000_000n);
    const port = r.rd(r.at('virq_arg') + 8);
    runUntilPending(r.m, port, 11_000_000);
    expect(r.m.domain.events.isPending(port)).toBe(true);
    expect(time(r).system).toBe(10_000_000n); // republished at the tick, exactly at 10 ms
    const pvh = pvhRig('main: jmp main');
    expect(nextDeadline(pvh.m.domain)).toBeNull();
  });
});

describe('sleeping: block, poll, hlt', () => {
  it('SCHEDOP_block sleeps until the timer: virtual time jumps, no instruction spins', () => {
    const r = pvRig(`${CALLBACKS}${BIND_TIMER}${STOP_PERIODIC}${setTimer(2_000_000_000)}${BLOCK}
    after_block: jmp after_block
    event: jmp event
    ${DATA}`);
    runTo(r, 'event');
    expect(r.m.cpu.icount).toBeLessThan(100); // every instruction the guest ran, boot included
    expect(r.m.domain.time.nowNs()).toBeGreaterThanOrEqual(2_000_000_000n);
    expect(r.m.domain.time.skippedNs).toBeGreaterThan(1_999_999_000n);
    expect(r.rd(regs(r.m).esp)).toBe(r.at('after_block'));
    expect(r.m.domain.sleep).toBeNull();
    expect(time(r).system).toBe(2_000_000_000n); // republished at the wake-up
  });

  it('SCHEDOP_block with no timer that could wake the vCPU ends the run: halted in block', () => {
    // PV's default periodic timer runs, but VIRQ_TIMER is not bound: it cannot wake anything.
    const r = pvRig(`${CALLBACKS}${BLOCK}
    after_block: jmp after_block
    event: jmp event
    ${DATA}`);
    expect(r.m.runToEnd(100_000)).toEqual({ kind: 'halted', in: 'block' });
    expect(r.m.cpu.icount).toBeLessThan(50);
  });

  it('a masked VIRQ_TIMER port cannot wake a block either', () => {
    const r = pvRig(`${CALLBACKS}${BIND_TIMER}${setTimer(5_000_000)}
    masked:${BLOCK}
    after_block: jmp after_block
    event: jmp event
    ${DATA}`);
    runTo(r, 'masked');
    r.m.domain.events.mask(r.rd(r.at('virq_arg') + 8));
    expect(r.m.runToEnd(100_000)).toEqual({ kind: 'halted', in: 'block' });
  });

  it('SCHEDOP_poll returns at its timeout; EAX = 0', () => {
    const r = pvRig(`${STOP_PERIODIC}
      movl $7, poll_ports
      movl $3000000, poll_timeout
      movl $${HC.sched_op}, %eax
      movl $3, %ebx
      movl $poll_arg, %ecx
      int $0x82
    after_poll: jmp after_poll
    ${DATA}`);
    runTo(r, 'after_poll');
    expect(regs(r.m).eax).toBe(0);
    expect(r.m.domain.time.nowNs()).toBeGreaterThanOrEqual(3_000_000n);
    expect(r.m.cpu.icount).toBeLessThan(100);
  });

  it('SCHEDOP_poll is woken by its port even when the port is masked; a pending port returns at once', () => {
    const r = pvRig(`${BIND_TIMER}${STOP_PERIODIC}${setTimer(4_000_000)}
      movl virq_arg + 8, %eax
      movl %eax, poll_ports
    poll:
      movl $${HC.sched_op}, %eax
      movl $3, %ebx
      movl $poll_arg, %ecx
      int $0x82
    after_poll: jmp after_poll
    ${DATA}`);
    runTo(r, 'poll');
    const port = r.rd(r.at('virq_arg') + 8);
    r.m.domain.events.mask(port);
    runTo(r, 'after_poll');
    expect(r.m.domain.time.nowNs()).toBeGreaterThanOrEqual(4_000_000n);
    expect(r.m.domain.events.isPending(port)).toBe(true);
    // Polling again: the port is pending, no sleep, no time passes.
    const t0 = r.m.domain.time.skippedNs;
    r.m.cpu.eip = r.at('poll');
    runTo(r, 'after_poll');
    expect(r.m.domain.time.skippedNs).toBe(t0);
  });

  it('PVH `sti; hlt` sleeps until the timer and takes the callback vector', () => {
    const r = pvhRig(`
main:
    ${setGate(0xf3, 'handler')}
    movl $${HC.hvm_op}, %eax
    xorl %ebx, %ebx
    movl $param, %ecx
    vmcall
    movl $${HC.event_channel_op}, %eax
    movl $1, %ebx
    movl $virq_arg, %ecx
    vmcall
    movl $${HC.set_timer_op}, %eax
    movl $7000000, %ebx
    xorl %ecx, %ecx
    vmcall
    sti
    hlt
after_hlt: jmp after_hlt
handler: jmp handler
    .p2align 3
param: .word 0x7ff0, 0
    .long 0
    .long 0xf3, 0x02000000
virq_arg: .long 0, 0, 0
`);
    runTo(r, 'handler');
    expect(r.m.domain.time.nowNs()).toBeGreaterThanOrEqual(7_000_000n);
    expect(r.m.cpu.icount).toBeLessThan(200);
    expect(r.rd(regs(r.m).esp)).toBe(r.at('after_hlt'));
  });

  it('the watchdog shuts the domain down when it expires (time jumps while blocked)', () => {
    const r = pvRig(`${CALLBACKS}
      movl $2, wd_arg + 4      /* timeout: 2 s */
      movl $${HC.sched_op}, %eax
      movl $6, %ebx
      movl $wd_arg, %ecx
      int $0x82
      ${BLOCK}
    spin: jmp spin
    event: jmp event
    ${DATA}`);
    expect(r.m.runToEnd(100_000)).toEqual({ kind: 'shutdown', reason: 4 });
    expect(r.m.domain.time.nowNs()).toBeGreaterThanOrEqual(2_000_000_000n);
  });

  it('get_runstate_info accounts the blocked time', () => {
    const r = pvRig(`${CALLBACKS}${BIND_TIMER}${STOP_PERIODIC}${setTimer(50_000_000)}${BLOCK}
    after_block:
      movl $${HC.vcpu_op}, %eax
      movl $4, %ebx
      xorl %ecx, %ecx
      movl $runstate, %edx
      int $0x82
    spin: jmp spin
    event:
      addl $12, %esp
      jmp after_block
    ${DATA}`);
    runTo(r, 'spin');
    const rs = r.at('runstate'), mem = r.m.mem;
    const entry = mem.read64(rs + 4), running = mem.read64(rs + 12), blocked = mem.read64(rs + 28);
    expect(blocked).toBeGreaterThan(49_990_000n);
    expect(entry).toBeGreaterThanOrEqual(50_000_000n);
    expect(running + blocked).toBe(r.m.domain.time.nowNs());
  });
});

describe('host clock: idle instead of spinning', () => {
  it('step() returns an idle request until the deadline, then delivers the timer', () => {
    const c = new FakeClock();
    const r = pvRig(`${CALLBACKS}${BIND_TIMER}${STOP_PERIODIC}${setTimer(1_000_000)}${BLOCK}
    after_block: jmp after_block
    event: jmp event
    ${DATA}`, { clock: c });
    let res: StepResult = null;
    for (let i = 0; i < 100 && res === null; i++) res = r.m.step(10);
    expect(res).toEqual({ kind: 'idle', untilNs: 1_000_000n, waitNs: 1_000_000n });
    const icount = r.m.cpu.icount;
    c.advance(400_000n);
    expect(r.m.step(1000)).toEqual({ kind: 'idle', untilNs: 1_000_000n, waitNs: 600_000n });
    expect(r.m.cpu.icount).toBe(icount); // nothing ran
    c.advance(600_000n);
    expect(r.m.step(1)).toBeNull();
    expect(r.m.cpu.eip >>> 0).toBe(r.at('event'));
  });

  it('waits for host events alone when a source exists; notify() wakes it through onWake', () => {
    const c = new FakeClock();
    const r = pvRig(`${STOP_PERIODIC}
      movl $2, poll_ports      /* the console port */
    poll:
      movl $${HC.sched_op}, %eax
      movl $3, %ebx
      movl $poll_arg, %ecx
      int $0x82
    after_poll: jmp after_poll
    ${DATA}`, { clock: c });
    r.m.asyncEventSources = 1;
    runTo(r, 'poll');
    r.m.domain.events.clearPending(2);
    let res: StepResult = null;
    for (let i = 0; i < 10 && res === null; i++) res = r.m.step(10);
    expect(res).toEqual({ kind: 'idle', untilNs: null, waitNs: null });
    let woke = 0;
    r.m.onWake = () => { woke++; };
    expect(r.m.consoleChannel.notify()).toBe(true);
    expect(woke).toBe(1);
    runTo(r, 'after_poll');
  });

  it('with no host event source, a sleep nothing can end is the halted exit', () => {
    const r = pvRig(`${STOP_PERIODIC}${BLOCK}
    spin: jmp spin`, { clock: new FakeClock() });
    expect(r.m.runToEnd(10_000)).toEqual({ kind: 'halted', in: 'block' });
  });
});

describe('deterministic runs', () => {
  /** Maps shared_info at SI_VA, ticks at 1 ms, blocks 20 times summing RDTSC; the callback acks and irets. */
  const GUEST = `
      movl 36(%esi), %ebx      /* start_info.shared_info (machine address) */
      orl $0x63, %ebx
      movl %ebx, %ecx
      movl $14, %eax           /* update_va_mapping(SI_VA, pte, 0, UVMF_INVLPG) */
      movl $si_page, %ebx
      xorl %edx, %edx
      movl $2, %esi
      int $0x82
      ${CALLBACKS}${BIND_TIMER}
      movl $${HC.vcpu_op}, %eax
      movl $6, %ebx            /* 1 ms periodic */
      xorl %ecx, %ecx
      movl $period, %edx
      int $0x82
      movl $20, %edi
    again:
      ${BLOCK}
      rdtsc
      xorl %eax, acc
      addl %edx, acc
      decl %edi
      jnz again
      movl $${HC.sched_op}, %eax
      movl $2, %ebx
      movl $reason, %ecx
      int $0x82
    spin: jmp spin
    event:
      movb $0, si_page             /* evtchn_upcall_pending */
      movl $0, si_page + 4         /* evtchn_pending_sel */
      movl $0, si_page + 2048      /* evtchn_pending[0] */
      incl events
      pushl %eax
      movl $${HC.iret}, %eax
      int $0x82
    .p2align 3
    period: .long 1000000, 0
    reason: .long 0
    acc: .long 0
    events: .long 0
    ${DATA}
    .p2align 12
    si_page: .fill 4096, 1, 0`;

  function run(slice: number | null): { exit: unknown; icount: number; now: bigint; hash: string; acc: number; events: number } {
    const r = pvRig(GUEST);
    let exit: unknown = null;
    for (let i = 0; i < 1_000_000 && exit === null; i++) exit = r.m.step(slice ?? 1_000_000);
    const hash = createHash('sha256').update(r.m.mem.readBytes(r.code, 0x2000)).digest('hex');
    return { exit, icount: r.m.cpu.icount, now: r.m.domain.time.nowNs(), hash, acc: r.rd(r.at('acc')), events: r.rd(r.at('events')) };
  }

  it('the same guest gives the same result twice, and for any slicing', () => {
    const a = run(null), b = run(null);
    expect(a).toEqual(b);
    expect(a.exit).toEqual({ kind: 'shutdown', reason: 0 });
    expect(a.events).toBe(20); // one tick per block
    expect(a.now).toBeGreaterThanOrEqual(20_000_000n);
    expect(a.icount).toBeLessThan(2000);
    const c = run(777);
    expect(c).toEqual(a);
  });
});
