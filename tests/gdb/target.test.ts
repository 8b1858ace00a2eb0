/**
 * The VMM's DebugTarget (src/vmm/debug-target.ts) on a whole Machine
 * running the gdb test guest, driven directly (no gdb, no sockets): the
 * guarantees gdb relies on, each checked where gdb could not tell —
 * a single step never enters the event upcall while `continue` does;
 * breakpoint stops leave EIP on the breakpoint and are not reported again
 * when resuming from there; breakpoints and watchpoints move to the new
 * machine on a reboot and never touch guest memory; memory access goes
 * through the guest's page tables without faulting, refuses Xen's page
 * tables, and a code write is seen by the CPU (decoded blocks dropped);
 * registers gdb must not change are refused.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Reg, Signal, type ResumeAction, type StopReason } from '../../src/gdbstub/index.js';
import { inspectKernel } from '../../src/loader/kernel.js';
import { MachineTarget } from '../../src/vmm/debug-target.js';
import { Machine } from '../../src/vmm/machine.js';
import { buildGuest, GUEST_MEMORY, type GuestKernels } from '../e2e/guests.js';
import { until } from './harness.js';

let kernels: GuestKernels;

beforeAll(() => {
  kernels = buildGuest('gdb.c');
});

function machine(elf = kernels.pv, cmdline = ''): Machine {
  const kernel = inspectKernel(new Uint8Array(readFileSync(elf)), elf);
  return new Machine({ kernel, memory: GUEST_MEMORY, cmdline, console: { write: () => undefined } });
}

const CONT = new Map<number, ResumeAction>([[1, { kind: 'continue' }]]);
const STEP = new Map<number, ResumeAction>([[1, { kind: 'step' }]]);

/** A target paused before the first instruction, attached to a listener that records stops. */
function attached(m: Machine, opts: { keepAlive?: boolean } = {}): { t: MachineTarget; stops: StopReason[]; next(): Promise<StopReason> } {
  const t = new MachineTarget({ machine: m, waitForDebugger: true, slice: 50_000, ...opts });
  const stops: StopReason[] = [];
  t.start();
  t.attach({ stopped: (r) => stops.push(r) });
  let seen = stops.length;
  return {
    t, stops,
    async next() {
      await until(() => stops.length > seen, 10_000);
      return stops[seen++]!;
    },
  };
}

function sym(m: Machine, name: string): number {
  const a = m.kernel.symbols.address(name);
  if (a === undefined) throw new Error(`no symbol ${name}`);
  return a;
}

describe('MachineTarget', () => {
  it('reports the first stop of --gdb-wait as SIGTRAP before any instruction', () => {
    const m = machine();
    const { stops } = attached(m);
    expect(stops).toEqual([{ kind: 'signal', thread: 1, signal: Signal.TRAP }]);
    expect(m.cpu.icount).toBe(0);
  });

  it('stops at a breakpoint with EIP on it, and does not report it again when continuing from there', async () => {
    const m = machine();
    const { t, next } = attached(m);
    const leaf = sym(m, 'leaf');
    expect(t.addBreakpoint('sw', leaf, 1)).toBe(true);
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'breakpoint', thread: 1, type: 'sw' });
    expect(m.cpu.eip >>> 0).toBe(leaf);
    const counter = sym(m, 'counter');
    const before = m.cpu.icount;
    t.resume(CONT); // leaf is called 3 times: the next stop is its second call, not the same one again
    expect(await next()).toEqual({ kind: 'breakpoint', thread: 1, type: 'sw' });
    expect(m.cpu.eip >>> 0).toBe(leaf);
    expect(m.cpu.icount).toBeGreaterThan(before + 10);
    expect(t.readMemory(1, counter, 4)![0]).toBe(1);
    // hw and sw at the same address share the CPU's breakpoint; removing one keeps the other.
    expect(t.addBreakpoint('hw', leaf, 1)).toBe(true);
    expect(t.removeBreakpoint('sw', leaf, 1)).toBe(true);
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'breakpoint', thread: 1, type: 'hw' });
    expect(t.readMemory(1, counter, 4)![0]).toBe(2);
  });

  it('a single step never enters the event upcall; continue delivers it', async () => {
    const m = machine();
    const { t, next } = attached(m);
    const leaf = sym(m, 'leaf');
    t.addBreakpoint('sw', leaf, 1);
    t.resume(CONT);
    await next();
    t.removeBreakpoint('sw', leaf, 1);
    // An event is pending and deliverable (the kernel runs with events unmasked here).
    expect(m.domain.upcallMask).toBe(0);
    const port = m.storeChannel.guestPort;
    m.domain.events.setPending(port);
    expect(m.domain.eventsNeedDelivery()).toBe(true);
    const callback = m.domain.pv.eventEip >>> 0;
    expect(callback).not.toBe(0);
    for (let i = 0; i < 3; i++) {
      t.resume(STEP);
      expect(await next()).toEqual({ kind: 'step', thread: 1 });
      const eip = m.cpu.eip >>> 0;
      expect(eip).not.toBe(callback);
      expect(m.kernel.symbols.lookup(eip)?.sym.name).toBe('leaf');
    }
    expect(m.domain.eventsNeedDelivery()).toBe(true);
    t.addBreakpoint('hw', callback, 1);
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'breakpoint', thread: 1, type: 'hw' });
    expect(m.cpu.eip >>> 0).toBe(callback);
  });

  // PV: SCHEDOP_block sleeps. (A PVH guest's `sti; hlt` here finds the console's event pending — held back
  // by the steps — so it does not sleep, as Xen's hvm_hlt would not.)
  for (const type of ['pv'] as const) {
    it(`${type}: a step of a sleeping vCPU waits for its wake-up and still enters no handler`, async () => {
      const m = machine(kernels.pv, 'sleep');
      const { t, next } = attached(m);
      t.addBreakpoint('sw', sym(m, 'block_domain'), 1);
      t.resume(CONT);
      expect(await next()).toMatchObject({ kind: 'breakpoint' });
      t.removeBreakpoint('sw', sym(m, 'block_domain'), 1);
      // Step until the step that put the vCPU to sleep (SCHEDOP_block / sti; hlt).
      let steps = 0;
      while (m.domain.sleep === null) {
        t.resume(STEP);
        expect(await next()).toEqual({ kind: 'step', thread: 1 });
        if (++steps > 2000) throw new Error('the guest never slept');
      }
      const asleepAt = m.cpu.eip >>> 0;
      const icount = m.cpu.icount;
      t.resume(STEP);
      expect(await next()).toEqual({ kind: 'step', thread: 1 });
      // Woken (its timer fired), one instruction executed, and it is still in block_domain's path: no handler.
      expect(m.domain.sleep).toBeNull();
      expect(m.cpu.icount).toBe(icount + 1);
      const after = m.kernel.symbols.lookup(m.cpu.eip >>> 0)?.sym.name;
      expect(['hypercall_page', 'block_domain']).toContain(after);
      expect(m.cpu.eip >>> 0).not.toBe(asleepAt);
      // The timer's event that woke it is still pending: the next continue delivers it.
      expect(m.domain.upcallPending).toBe(1);
    });
  }

  it('watchpoints stop after the access with the watched address; breakpoints and watchpoints move to a rebooted machine', async () => {
    const m = machine();
    const { t, next } = attached(m);
    const watched = sym(m, 'watched');
    expect(t.addBreakpoint('write', watched, 4)).toBe(true);
    expect(t.addBreakpoint('write', watched, 0)).toBe(false); // a length the CPU cannot watch
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'watch', thread: 1, access: 'write', addr: watched });
    expect(m.kernel.symbols.lookup(m.cpu.eip >>> 0)?.sym.name).toBe('outer');
    expect(t.readMemory(1, watched, 4)).toEqual(new Uint8Array([45, 0, 0, 0]));
    const leaf = sym(m, 'leaf');
    t.addBreakpoint('sw', leaf, 1);
    const bytes = m.cpu.peekLinear(leaf, 8);
    // Reboot (watch mode): a new machine, gdb waiting for a stop.
    const m2 = machine();
    t.resume(CONT);
    await next(); // leaf's second call
    expect(t.reboot(m2, 'rebooted')).toBe('pending'); // paused under gdb: the reboot waits for the next continue
    // A step (gdb stepping off the breakpoint, or stepi) still runs the old kernel.
    const before = m.cpu.icount;
    t.resume(STEP);
    expect(await next()).toEqual({ kind: 'step', thread: 1 });
    expect(t.machine).toBe(m);
    expect(m.cpu.icount).toBe(before + 1);
    expect(t.rebootPending).toBe(true);
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'signal', thread: 1, signal: Signal.TRAP, message: 'rebooted' });
    expect(t.machine).toBe(m2);
    expect(m2.cpu.icount).toBe(0);
    expect([...m2.cpu.debug.breakpoints]).toEqual([leaf]);
    expect(m2.cpu.debug.watchpoints).toEqual([{ addr: watched, len: 4, kind: 'write' }]);
    expect([...m.cpu.debug.breakpoints]).toEqual([]);
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'breakpoint', thread: 1, type: 'sw' });
    expect(m2.cpu.eip >>> 0).toBe(leaf);
    t.resume(CONT);
    expect(await next()).toEqual({ kind: 'watch', thread: 1, access: 'write', addr: watched });
    // Guest memory was never patched.
    expect(m2.cpu.peekLinear(leaf, 8)).toEqual(bytes);
  });

  it('memory: unmapped reads fail or come back short, Xen\'s page tables are read-only, code writes reach the CPU', async () => {
    const m = machine();
    const { t, next } = attached(m);
    // Once the kernel has set itself up (page 0 unmapped), at leaf's first call.
    const leaf = sym(m, 'leaf');
    t.addBreakpoint('sw', leaf, 1);
    t.resume(CONT);
    await next();
    expect(t.readMemory(1, 0, 16)).toBeNull();
    expect(t.writeMemory(1, 0, new Uint8Array([1]))).toBe(false);
    // A read that runs into an unmapped page stops there.
    let end = sym(m, 'spins') & ~0xfff;
    while (t.readMemory(1, end, 1) !== null) end += 0x1000;
    expect(t.readMemory(1, end - 2, 8)).toHaveLength(2);
    // The page-table frames are Xen-validated: not writable from gdb (the template maps them at virt = phys).
    const ptVa = (m.cpu.cr3 >>> 0) & ~0xfff;
    expect(t.readMemory(1, ptVa, 8)).not.toBeNull();
    expect(t.writeMemory(1, ptVa, new Uint8Array(8))).toBe(false);
    // Ordinary data is.
    expect(t.writeMemory(1, sym(m, 'magic'), new Uint8Array([7, 0, 0, 0]))).toBe(true);
    // Patch leaf to `mov $0x1234,%eax; ret` once it has run (its block is cached): the next call runs the new code.
    t.resume(CONT);
    await next();
    expect(t.writeMemory(1, leaf, new Uint8Array([0xb8, 0x34, 0x12, 0x00, 0x00, 0xc3]))).toBe(true);
    t.resume(STEP);
    await next();
    expect(t.readRegisters(1)[Reg.EAX]).toBe(0x1234);
  });

  it('registers: general ones and EFLAGS are writable, selectors, control registers and CPL are not', () => {
    const m = machine();
    const { t } = attached(m);
    const r = t.readRegisters(1);
    expect(r[Reg.EIP]).toBe(m.boot.eip >>> 0);
    expect(r[Reg.CS]).toBe(m.boot.csSel);
    expect(r[Reg.CPL]).toBe(1);
    expect(r[Reg.ST0]).toBeUndefined();
    expect(t.writeRegister(1, Reg.EAX, 0xdeadbeef)).toBe(true);
    expect(t.readRegisters(1)[Reg.EAX]).toBe(0xdeadbeef);
    expect(t.writeRegister(1, Reg.EFLAGS, 0x246)).toBe(true);
    expect(t.readRegisters(1)[Reg.EFLAGS]).toBe(0x246);
    expect(t.writeRegister(1, Reg.CS, 0x10)).toBe(false);
    expect(t.writeRegister(1, Reg.CR3, 0)).toBe(false);
    expect(t.writeRegister(1, Reg.CPL, 0)).toBe(false);
    expect(t.writeRegister(1, Reg.UPCALL_MASK, 0)).toBe(true);
    expect(m.domain.upcallMask).toBe(0);
  });

  it('without keepAlive a poweroff is `exited`; with it, a SIGTRAP stop and a resume that waits for the next kernel', async () => {
    const a = attached(machine());
    a.t.resume(CONT);
    expect(await a.next()).toEqual({ kind: 'exited', code: 0, message: 'xenkit: the guest shut down with SHUTDOWN_poweroff\n' });

    const b = attached(machine(), { keepAlive: true });
    b.t.resume(CONT);
    const end = await b.next();
    expect(end).toMatchObject({ kind: 'signal', signal: Signal.TRAP });
    expect((end as { message: string }).message).toMatch(/SHUTDOWN_poweroff; the guest stays here until a rebuilt kernel boots/);
    b.t.resume(CONT);
    expect(b.t.state).toBe('waiting');
    b.t.interrupt();
    expect(await b.next()).toMatchObject({ kind: 'interrupt' });
    b.t.resume(CONT);
    const m2 = machine();
    expect(b.t.reboot(m2, 'new kernel')).toBe('stopped');
    expect(await b.next()).toEqual({ kind: 'signal', thread: 1, signal: Signal.TRAP, message: 'new kernel' });
    expect(b.t.machine).toBe(m2);

    // A rebuilt kernel waiting for gdb boots when gdb detaches instead of resuming.
    const c = attached(machine(), { keepAlive: true });
    c.t.resume(CONT);
    await c.next();
    const m3 = machine();
    expect(c.t.reboot(m3, 'new kernel')).toBe('pending');
    c.t.detach();
    expect(c.t.machine).toBe(m3);
    expect(c.t.state).toBe('running');
    await until(() => m3.exit !== null);
    expect(m3.exit).toEqual({ kind: 'shutdown', reason: 0 });
  });
});
