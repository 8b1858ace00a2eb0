/**
 * The real gdb against xenkit's gdb stub on template guests
 * (tests/guests/gdb.c, crash.c): what a user types in a debugging session
 * — break at a function and hit it, `bt` through several frames,
 * `info registers`, `x/8x`, `print` and `set var` on a global, `stepi`,
 * `next`, `finish`, `watch` with old and new values, the monitor
 * commands, Ctrl-C on a busy guest, detach and attach again, `kill`, a
 * crash stopping in gdb with SIGSEGV, a poweroff ending the inferior —
 * and what xenkit does around it (status, messages, the guest running on
 * after a detach). Every run is bounded in time; ports are ephemeral,
 * on loopback only.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGuest, type GuestKernels } from '../e2e/guests.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { BAD, HAVE_GDB, runGdb, startXenkit, statusWithin, until } from './harness.js';

let gdbGuest: GuestKernels;
let crashGuest: GuestKernels;

beforeAll(() => {
  if (!HAVE_GDB) return;
  gdbGuest = buildGuest('gdb.c');
  crashGuest = buildGuest('crash.c');
});

describe.runIf(HAVE_GDB)('gdb on a PV guest', () => {
  it('break, bt, info registers, x/8x, print and set var, stepi, next, finish, watch, monitor, then the guest powers off', async () => {
    const x = await startXenkit(gdbGuest.pv, { gdbWait: true });
    const r = await runGdb(x.port, [
      'break leaf', 'continue', 'bt', 'info registers', 'x/8x $esp', 'print magic', 'set var magic = 100', 'print magic',
      'print/x counter', 'stepi', 'info registers eip', 'next', 'finish', 'delete',
      'watch watched', 'continue', 'delete',
      'x/4x 0', 'monitor help', 'monitor regs', 'monitor pt 0x108000', 'monitor pt 0', 'monitor xs ls /local/domain/1',
      'monitor evtchn', 'info threads', 'monitor trace hypercalls on', 'monitor trace xenstore on', 'continue',
    ], { elf: gdbGuest.pv });
    const out = r.text;
    expect(out, out).not.toMatch(BAD);
    expect(r.status).toBe(0);
    // --gdb-wait: connected before the first instruction.
    expect(out).toMatch(/^_start \(\) at arch\/x86\/head-pv\.S:\d+/m);
    // break at a function, continue, hit.
    expect(out).toMatch(/Breakpoint 1 at 0x[0-9a-f]+: file .*gdb\.c, line \d+\./);
    expect(out).toMatch(/Breakpoint 1, leaf \(x=x@entry=1\) at .*gdb\.c:\d+/);
    // bt through several frames.
    expect(out).toMatch(/#0 +leaf \(x=x@entry=1\) at .*gdb\.c:\d+\n#1 +0x[0-9a-f]+ in middle \(x=x@entry=0\) at .*gdb\.c:\d+\n#2 +0x[0-9a-f]+ in outer \(x=x@entry=0\) at .*gdb\.c:\d+\n#3 +0x[0-9a-f]+ in app_main \(\) at .*gdb\.c:\d+\n#4 +0x[0-9a-f]+ in start_kernel/);
    // info registers: general, segment (PV selectors at ring 1) and system registers.
    expect(out).toMatch(/^eax +0x1 +1$/m);
    expect(out).toMatch(/^eip +0x[0-9a-f]+ +0x[0-9a-f]+ <leaf>$/m);
    expect(out).toMatch(/^cs +0xe019 +57369$/m);
    expect(out).toMatch(/^cr0 +0x80050033 +\[ PE MP ET NE WP AM PG \]$/m);
    expect(out).toMatch(/^cr4 +0x20 +\[ PAE \]$/m);
    expect(out).toMatch(/^cpl +0x1 +1$/m);
    expect(out).toMatch(/^upcall_mask +0x[01] +[01]$/m);
    // x/8x at the stack: the return address into middle, then leaf's argument.
    expect(out).toMatch(/^0x[0-9a-f]+:\t0x[0-9a-f]{8}\t0x00000001\t0x[0-9a-f]{8}\t0x[0-9a-f]{8}\n0x[0-9a-f]+:(\t0x[0-9a-f]{8}){4}$/m);
    // print and set var on a global.
    expect(out).toContain('$1 = 42');
    expect(out).toContain('$2 = 100');
    expect(out).toContain('$3 = 0x0');
    // stepi: one instruction; next: to the end of leaf and back into middle.
    expect(out).toMatch(/^0x[0-9a-f]+\t\d+\t {4}(counter\+\+|return x \* 2 \+ magic);$/m);
    expect(out).toMatch(/^eip +0x[0-9a-f]+ +0x[0-9a-f]+ <leaf\+\d+>$/m);
    expect(out).toMatch(/\nmiddle \(x=x@entry=0\) at .*gdb\.c:\d+\n\d+\t {4}return r \+ 1;\n/);
    // finish (from middle): back in outer with middle's value, leaf's 1*2+100 plus one.
    expect(out).toMatch(/\nouter \(x=x@entry=0\) at .*gdb\.c:\d+\n\d+\t {4}watched = \(unsigned int\)r;\nValue returned is \$\d+ = 103\n/);
    // watch: old and new value, stopped after the store in outer.
    expect(out).toContain('Hardware watchpoint 2: watched');
    expect(out).toMatch(/Old value = 0\nNew value = 103\nouter \(x=x@entry=0\) at .*gdb\.c:\d+/);
    // Unmapped memory is an error, not a crash.
    expect(out).toContain('Cannot access memory at address 0x0');
    // monitor commands.
    expect(out).toContain('xenkit monitor commands:');
    expect(out).toMatch(/eip=[0-9a-f]{8} outer\+0x[0-9a-f]+/);
    expect(out).toMatch(/segments \(selector base limit attributes\):\n {2}cs {3}e019 00000000 ffffffff/);
    expect(out).toMatch(/vCPU: PV guest, cpl=1, \d+ instructions retired/);
    expect(out).toMatch(/0x00108000: cr3=0x[0-9a-f]{8}, PAE paging/);
    expect(out).toMatch(/ {2}L3\[0\] +@0x[0-9a-f]{8} = 0x[0-9a-f]{16} {2}P.*→ L2 table 0x[0-9a-f]+ \(Xen: L2 table/);
    expect(out).toMatch(/ {2}L1\[264\] +@0x[0-9a-f]{8} = 0x[0-9a-f]{16} {2}P .*→ frame 0x108\n {2}→ physical 0x00108000\n {2}supervisor: read write execute; user: none/);
    expect(out).toMatch(/0x00000000: cr3=[\s\S]*?L1\[0\] +@0x[0-9a-f]{8} = 0x0{16} {2}not present\n {2}supervisor: none; user: none/);
    expect(out).toMatch(/\/local\/domain\/1:\n {2}vm = "\/vm\/[0-9a-f-]+"\n {2}name = "xenkit-guest"/);
    expect(out).toMatch(/event channels \(upcall_pending=\d, upcall_mask=\d\):\n {2}port +1: interdomain → dom0 port 1\n {2}port +2: interdomain → dom0 port 2/);
    expect(out).toMatch(/\* 1 +Thread 1 "vcpu0" \(vCPU 0\)/);
    expect(out).toContain("hypercall trace on (on xenkit's stderr)");
    expect(out).toContain("xenstore trace on (on xenkit's stderr)");
    // The last continue: the guest prints and powers off; gdb hears the exit, xenkit ends with the guest's status.
    expect(out).toContain('[Inferior 1 (Remote target) exited normally]');
    expect(await statusWithin(x)).toBe(EXIT.POWEROFF);
    expect(x.out()).toContain('gdb guest v1: sum=333 magic=100 counter=3 watched=115');
    expect(x.err()).toMatch(/gdb: connected from 127\.0\.0\.1:\d+/);
    // The trace turned on from gdb: the hypercalls after it, up to the shutdown.
    expect(x.err()).toMatch(/^\[hcall\] sched_op\(shutdown reason=poweroff\)/m);
    // Breakpoints lived in the emulator: the code at leaf is the ELF's (gcc's push/mov, not int3).
    const m = x.target.machine;
    const leaf = m.kernel.symbols.address('leaf')!;
    expect(m.cpu.peekLinear(leaf, 1)![0]).not.toBe(0xcc);
    expect(x.target.breakpoints).toEqual([]);
  });

  it('Ctrl-C stops a busy guest; detach lets it run on; a second gdb attaches; kill ends the run', async () => {
    const x = await startXenkit(gdbGuest.pv, { cmdline: 'spin' });
    // Let the guest get busy first (no --gdb-wait: gdb's connection stops it wherever it is).
    await until(() => x.out().includes('spinning'));
    let spinsBefore = 0;
    const r1 = await runGdb(x.port, ['continue', 'bt', 'print spins', 'detach'], {
      elf: gdbGuest.pv,
      // Ctrl-C once the guest has run for a while under gdb.
      sigintWhen: () => {
        if (x.target.state !== 'running' || !x.target.attached) return false;
        spinsBefore ||= x.target.machine.cpu.icount;
        return x.target.machine.cpu.icount > spinsBefore + 2_000_000;
      },
    });
    expect(r1.text, r1.text).not.toMatch(BAD);
    expect(r1.text).toContain('Program received signal SIGINT, Interrupt.');
    expect(r1.text).toMatch(/#0 +(0x[0-9a-f]+ in )?spin \(\) at .*gdb\.c:\d+\n#1 +0x[0-9a-f]+ in app_main \(\)/);
    const spins1 = Number(/\$1 = (\d+)/.exec(r1.stdout)?.[1]);
    expect(spins1).toBeGreaterThan(0);
    expect(r1.text).toContain('[Inferior 1 (Remote target) detached]');
    // Detached: the guest keeps running, xenkit keeps serving.
    await until(() => x.target.state === 'running');
    const icount = x.target.machine.cpu.icount;
    await until(() => x.target.machine.cpu.icount > icount + 1_000_000);
    const r2 = await runGdb(x.port, ['print spins', 'kill'], { elf: gdbGuest.pv });
    expect(r2.text, r2.text).not.toMatch(BAD);
    expect(Number(/\$1 = (\d+)/.exec(r2.stdout)?.[1])).toBeGreaterThan(spins1);
    expect(r2.text).toContain('[Inferior 1 (Remote target) killed]');
    expect(await statusWithin(x)).toBe(EXIT.INTERRUPTED);
    expect(x.err()).toMatch(/xenkit: killed from gdb after \d+ guest instructions/);
    expect(x.err().match(/gdb: connected from/g)).toHaveLength(2);
  });

  it('a second debugger is refused while one is attached', async () => {
    const x = await startXenkit(gdbGuest.pv, { gdbWait: true });
    const first = runGdb(x.port, ['shell sleep 3', 'detach']); // long enough for the second gdb to start on a loaded machine
    await until(() => x.target.attached);
    const second = await runGdb(x.port, ['info registers eip']);
    expect(second.text).toMatch(/Remote connection closed|Connection reset|not responding|Remote communication error/i);
    expect((await first).text).toContain('[Inferior 1 (Remote target) detached]');
    expect(x.err()).toMatch(/gdb: refused 127\.0\.0\.1:\d+: a debugger is already connected/);
    expect(await statusWithin(x)).toBe(EXIT.POWEROFF); // detached from --gdb-wait: the guest ran to its end
  });

  it('a guest crash stops in gdb with SIGSEGV (crash report on the console); continuing ends the run', async () => {
    const x = await startXenkit(crashGuest.pv, { cmdline: 'panic', gdbWait: true });
    const r = await runGdb(x.port, ['continue', 'bt 2', 'continue'], { elf: crashGuest.pv });
    expect(r.text, r.text).not.toMatch(BAD);
    expect(r.text).toMatch(/xenkit: the guest shut down with SHUTDOWN_crash \(SCHEDOP_shutdown: its own panic\) \(the crash report is on xenkit's stderr\)/);
    expect(r.text).toContain('Program received signal SIGSEGV, Segmentation fault.');
    // Stopped where the guest asked Xen to crash it: in its shutdown hypercall.
    expect(r.text).toMatch(/#0 +0x[0-9a-f]+ in hypercall_page \(\)\n#1 +0x[0-9a-f]+ in hypercall_sched_op \(/);
    expect(r.text).toContain('Program terminated with signal SIGSEGV, Segmentation fault.');
    expect(await statusWithin(x)).toBe(EXIT.GUEST_CRASH);
    expect(x.err()).toContain('=== xenkit crash report ===');
    expect(x.out()).toContain('crash: panic');
  });

  it('a domain crash (no trap handler) is inspectable too; detach ends the run with its status', async () => {
    const x = await startXenkit(crashGuest.pv, { cmdline: 'ud2', gdbWait: true });
    const r = await runGdb(x.port, ['continue', 'x/2xb $pc', 'detach'], { elf: crashGuest.pv });
    expect(r.text, r.text).not.toMatch(BAD);
    expect(r.text).toContain('Program received signal SIGSEGV, Segmentation fault.');
    expect(r.text).toMatch(/:\t0x0f\t0x0b/); // stopped on the ud2
    expect(await statusWithin(x)).toBe(EXIT.DOMAIN_CRASH);
    expect(x.err()).toMatch(/reason: +domain crashed:/);
  });
});

describe.runIf(HAVE_GDB)('gdb on a PVH guest', () => {
  it('break, bt, registers (CPL 0, paging as the kernel set it up), hbreak, rwatch, detach', async () => {
    const x = await startXenkit(gdbGuest.pvh, { gdbWait: true });
    const r = await runGdb(x.port, [
      'info registers cpl', 'hbreak middle', 'continue', 'bt 2', 'delete', 'rwatch magic', 'continue', 'delete', 'detach',
    ], { elf: gdbGuest.pvh });
    expect(r.text, r.text).not.toMatch(BAD);
    expect(r.text).toMatch(/^cpl +0x0 +0$/m);
    expect(r.text).toMatch(/Hardware assisted breakpoint 1 at 0x[0-9a-f]+: file .*gdb\.c/);
    expect(r.text).toMatch(/Breakpoint 1, middle \(x=x@entry=0\) at .*gdb\.c:\d+/);
    expect(r.text).toMatch(/#1 +0x[0-9a-f]+ in outer \(x=x@entry=0\)/);
    expect(r.text).toMatch(/Hardware read watchpoint 2: magic\n\nValue = 42\n/);
    expect(await statusWithin(x)).toBe(EXIT.POWEROFF);
  });
});

describe.skipIf(HAVE_GDB)('without gdb', () => {
  it('skips the gdb suite (install gdb to run it; .ci/run does)', () => {
    expect(HAVE_GDB).toBe(false);
  });
});
