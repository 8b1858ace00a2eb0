/**
 * The template itself, booted end to end: the demo app (app/demo.c) of
 * both the PV32 PAE kernel and the PVH32 kernel prints the banner with the
 * console on the PV ring, the boot information and the command line, does
 * its 64-bit arithmetic, returns from a breakpoint, prints its domain's
 * xenstore tree, the wall clock and three timer ticks 100 ms apart,
 * echoes console input lines and powers off; with `crash` on the command
 * line its ud2 gives the fault report and SHUTDOWN_crash. The echo ends at
 * "quit", at Ctrl-D, or after 5 s without input (free on the
 * deterministic clock: idle time is skipped); `noecho` skips it.
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

    it('prints its xenstore tree, the wall clock and three ticks, then echoes until 5 s pass without input', () => {
      const r = boot(k[type]);
      const why = explain(r);
      expect(r.out, why).toContain('xenstore: the tree of domain 1\n/local/domain/1 = ""\n');
      expect(r.out, why).toContain('  name = "xenkit-guest"\n  domid = "1"\n');
      expect(r.out, why).toContain('  cpu = ""\n    0 = ""\n      availability = "online"\n');
      expect(r.out, why).toMatch(/^ {2}console = ""\n {4}backend-id = "0"\n {4}ring-ref = "\d+"\n {4}port = "2"\n/m);
      // The deterministic clock starts at 2024-01-01T00:00:00Z.
      expect(r.out, why).toContain('wall clock: 2024-01-01 00:00:00 UTC');
      expect(r.out, why).toMatch(/^tick 1: uptime 0\.1\d{5} s\ntick 2: uptime 0\.2\d{5} s\ntick 3: uptime 0\.3\d{5} s$/m);
      expect(r.out, why).toContain('echo: type a line and press Enter; "quit", Ctrl-D or 5 s without a line end it\n' +
        'echo: no input for 5 s, done\nxenkit-minios: done, powering off');
      expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });
    });

    it('echoes console input lines until "quit"; Ctrl-D ends input; "noecho" skips the echo', () => {
      let r = boot(k[type], { input: 'hello there\r\nsecond line\nquit\nnot read\n' });
      let why = explain(r);
      // Typed characters are echoed as they arrive, then the line is printed back.
      expect(r.out, why).toContain('hello there\necho: "hello there"\nsecond line\necho: "second line"\nquit\necho: quit, done\n');
      expect(r.out, why).not.toContain('not read');
      expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });

      r = boot(k[type], { input: 'one\n\x04' });
      why = explain(r);
      expect(r.out, why).toContain('echo: "one"\necho: end of input, done\n');

      r = boot(k[type], { cmdline: 'noecho', input: 'ignored\n' });
      why = explain(r);
      expect(r.out, why).toContain('tick 3: uptime');
      expect(r.out, why).toContain('echo: skipped (noecho)\nxenkit-minios: done, powering off');
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
