/**
 * End-to-end harness: guest kernels built from the template
 * (templates/minios) and booted on a whole `Machine`.
 *
 * A test guest is one C file in tests/guests/ providing app_main(); it is
 * built with the template's own Makefile (`make APP=<file>`), so it boots
 * like any user's kernel. `null` stands for the template's demo app.
 * Builds go to tests/.build/guests/<name>-<hash>/ (git-ignored), where the
 * hash covers every template file, the guest sources and the make
 * arguments: a guest is rebuilt only when one of them changes. Builds land
 * in a temporary directory renamed into place, so test files running in
 * parallel never see half a build.
 *
 * `boot` runs a kernel to its end with the console collected in a string
 * (ring output's "\r\n" turned back into "\n"), optionally typing console
 * input, and returns the MachineExit; `explain` turns a run into the text a failed assertion
 * prints: exit, console, registers and the last hypercalls.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine, type MachineExit } from '../../src/vmm/machine.js';
import { R } from '../../src/vmm/cpu/cpu.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TEMPLATE_DIR = join(root, 'templates', 'minios');
export const GUESTS_DIR = join(root, 'tests', 'guests');
const CACHE_DIR = join(root, 'tests', '.build', 'guests');

/** Xen's SHUTDOWN_* reasons (sched.h). */
export const SHUTDOWN = { poweroff: 0, reboot: 1, suspend: 2, crash: 3, watchdog: 4, soft_reset: 5 } as const;

/** Default guest RAM: enough for the builders, small enough to set up fast. */
export const GUEST_MEMORY = 32 << 20;
/** Instruction budget of one boot: far above what any test guest needs. */
export const MAX_INSTRUCTIONS = 200_000_000;

export interface GuestKernels {
  /** build/kernel.elf: PV32 PAE. */
  pv: string;
  /** build/kernel-pvh.elf: PVH32. */
  pvh: string;
}

/** Every file under `dir` except build products, sorted, as [relative path, contents]. */
function sourceFiles(dir: string): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        if (name !== 'build' && name !== '.build') walk(p);
      } else if (!name.endsWith('.o') && !name.endsWith('.d')) {
        out.push([relative(dir, p), readFileSync(p)]);
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Build a test guest (`app`: a file name in tests/guests/, e.g.
 * "pagefault.c") or, with `null`, the template's demo. Returns the paths
 * of both kernels; reuses a cached build when nothing changed.
 */
export function buildGuest(app: string | null): GuestKernels {
  const name = app === null ? 'demo' : basename(app, '.c');
  const appPath = app === null ? null : join(GUESTS_DIR, app);
  const makeArgs = ['-s', '-C', TEMPLATE_DIR, ...(appPath !== null ? [`APP=${appPath}`] : []), 'all'];
  const h = createHash('sha256');
  h.update(makeArgs.slice(3).join('\n'));
  for (const [p, data] of sourceFiles(TEMPLATE_DIR)) h.update(`\0template/${p}\0`).update(data);
  if (appPath !== null) {
    h.update(`\0app\0`).update(readFileSync(appPath));
    for (const f of readdirSync(GUESTS_DIR).sort()) {
      if (f.endsWith('.h')) h.update(`\0guests/${f}\0`).update(readFileSync(join(GUESTS_DIR, f)));
    }
  }
  const dir = join(CACHE_DIR, `${name}-${h.digest('hex').slice(0, 16)}`);
  const kernels = { pv: join(dir, 'kernel.elf'), pvh: join(dir, 'kernel-pvh.elf') };
  if (existsSync(kernels.pv) && existsSync(kernels.pvh)) return kernels;

  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    execFileSync('make', [...makeArgs, `O=${tmp}`, 'EXTRA_CFLAGS=-Werror'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: Buffer; stderr?: Buffer };
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`building guest ${name} failed:\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`);
  }
  try {
    renameSync(tmp, dir);
  } catch {
    // Another worker finished the same build first: theirs is as good.
    rmSync(tmp, { recursive: true, force: true });
  }
  return kernels;
}

export interface BootOptions {
  cmdline?: string;
  memory?: number;
  maxInstructions?: number;
  /** Console input queued before the guest starts (the backend feeds it into in[] as the guest reads). */
  input?: string;
  /**
   * Console input typed later: each string is given once the guest waits
   * for input with no deadline (the vCPU sleeps and only a host event can
   * wake it), in order.
   */
  lateInput?: readonly string[];
}

export interface BootResult {
  /** How the machine stopped; null when the instruction budget ran out first. */
  exit: MachineExit | null;
  /** Everything the guest printed (console_io and the console ring), "\r\n" as "\n". */
  out: string;
  machine: Machine;
  instructions: number;
}

/** Boot the kernel at `elf` and run it until it stops (or the budget runs out). */
export function boot(elf: string, o: BootOptions = {}): BootResult {
  const kernel = inspectKernel(new Uint8Array(readFileSync(elf)), elf);
  const decoder = new TextDecoder();
  let text = '';
  const machine = new Machine({
    kernel,
    memory: o.memory ?? GUEST_MEMORY,
    cmdline: o.cmdline ?? '',
    console: { write: (bytes) => { text += decoder.decode(bytes, { stream: true }); } },
  });
  const encoder = new TextEncoder();
  if (o.input !== undefined) machine.consoleInput(encoder.encode(o.input));
  const late = [...(o.lateInput ?? [])];
  // While late input remains, the console counts as a host event source: a guest waiting
  // for input with no deadline makes runToEnd return null instead of ending 'halted'.
  machine.asyncEventSources = late.length > 0 ? 1 : 0;
  const start = machine.cpu.icount, budget = o.maxInstructions ?? MAX_INSTRUCTIONS;
  let exit = machine.runToEnd(budget);
  while (exit === null && late.length > 0 && machine.cpu.icount - start < budget) {
    machine.consoleInput(encoder.encode(late.shift()!));
    if (late.length === 0) machine.asyncEventSources = 0;
    exit = machine.runToEnd(budget - (machine.cpu.icount - start));
  }
  text += decoder.decode();
  return { exit, out: text.replace(/\r\n/g, '\n'), machine, instructions: machine.cpu.icount - start };
}

function hex(v: number): string {
  return '0x' + (v >>> 0).toString(16).padStart(8, '0');
}

/** A readable account of a run, for assertion messages. */
export function explain(r: BootResult): string {
  const cpu = r.machine.cpu;
  const regs = (['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const)
    .map((n, i) => `${n}=${hex(cpu.r32[i as R]!)}`).join(' ');
  const log = r.machine.domain.log
    .map((c) => `  ${c.name}(${c.args.slice(0, 4).map(hex).join(', ')}) = ${c.result ?? '-'} from ${hex(c.caller)}${c.detail !== undefined ? ` [${c.detail}]` : ''}`)
    .join('\n');
  const out = r.out.length > 6000 ? `[...]${r.out.slice(-6000)}` : r.out;
  return [
    `exit: ${JSON.stringify(r.exit)} after ${r.instructions} instructions`,
    `eip=${hex(cpu.eip)} cpl=${cpu.cpl} ${regs}`,
    `last hypercalls:\n${log || '  (none)'}`,
    `console:\n${out}`,
  ].join('\n');
}

/** The verdict line ("Test result: ...") a guest printed, or null. */
export function verdict(out: string): string | null {
  const m = /^Test result: (.*)$/m.exec(out);
  return m ? m[1]!.trim() : null;
}

/**
 * Assert an XTF-style pass: the verdict line says SUCCESS, no check printed
 * FAILURE or ERROR, and the guest powered off.
 */
export function expectSuccess(r: BootResult): void {
  const why = explain(r);
  expect(r.out, why).not.toMatch(/^(FAILURE|ERROR): /m);
  expect(verdict(r.out), why).toBe('SUCCESS');
  expect(r.exit, why).toEqual({ kind: 'shutdown', reason: SHUTDOWN.poweroff });
}
