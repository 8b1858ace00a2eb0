/**
 * The template itself, booted end to end: the demo app (app/demo.c) of
 * both the PV32 PAE kernel and the PVH32 kernel prints the banner with the
 * console on the PV ring, the boot information and the command line, does
 * its 64-bit arithmetic, returns from a breakpoint and powers off; with
 * `crash` on the command line its ud2 gives the fault report and
 * SHUTDOWN_crash.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN, boot, buildGuest, explain, type GuestKernels } from './guests.js';

let k: GuestKernels;
beforeAll(() => {
  k = buildGuest(null);
});

const DEMO_ARITH = 'demo: 1234567890123456789 ns is 1234567890 s + 123456789 ns; -9876543210 / 7 = -1410934744 rem -2';

for (const [type, banner, info] of [
  ['pv', 'xenkit-minios 0.1: PV32 (PAE) kernel, console on ring', 'magic         "xen-3.0-x86_32p"'],
  ['pvh', 'xenkit-minios 0.1: PVH32 kernel, console on ring', 'magic         0x336ec578, version 1'],
] as const) {
  describe(`template demo (${type})`, () => {
    it('prints its banner, the boot information and the command line, runs the demo and powers off', () => {
      const r = boot(k[type], { cmdline: 'hello world' });
      const why = explain(r);
      expect(r.out, why).toContain(banner);
      expect(r.out, why).toMatch(/^Xen \d+\.\d+/m);
      expect(r.out, why).toContain(info);
      expect(r.out, why).toContain('command line: "hello world"');
      expect(r.out, why).toContain(DEMO_ARITH);
      expect(r.out, why).toMatch(/traps: breakpoint \(#BP\) at 0x[0-9a-f]{8}, continuing/);
      expect(r.out, why).toContain('demo: back from the breakpoint handler');
      expect(r.out, why).toContain('xenkit-minios: done, powering off');
      expect(r.out, why).not.toContain('Fatal exception');
      expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });
    });

    it('with "crash" on the command line: reports the #UD and shuts down with SHUTDOWN_crash', () => {
      const r = boot(k[type], { cmdline: 'crash' });
      const why = explain(r);
      expect(r.out, why).toContain('demo: "crash" is on the command line: executing ud2');
      expect(r.out, why).toContain('*** Fatal exception: vector 6, invalid opcode (#UD)');
      expect(r.out, why).toMatch(new RegExp(`eip   0x[0-9a-f]{8}  cs 0x${type === 'pv' ? 'e019 \\(ring 1\\)' : '0008 \\(ring 0\\)'}`));
      expect(r.out, why).not.toContain('xenkit-minios: done');
      expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.crash });
    });
  });
}
