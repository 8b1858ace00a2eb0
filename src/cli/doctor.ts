/**
 * `xenkit doctor`: check what the kit needs on this machine and, for each
 * missing piece, print the exact command that installs it on
 * Debian/Ubuntu, Fedora and macOS.
 *
 * Checks: Node.js >= 20; a C toolchain that builds `-m32 -ffreestanding`
 * code and links it with `ld -m elf_i386` (what the template's Makefile
 * does); make; gdb with i386 support (for `--gdb`); and, optionally,
 * tshark (to read the pcap files of `--net ...,pcap=`). The probes run
 * real commands in a temporary directory, each bounded in time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  detail: string;
  install?: { debian: string; fedora: string; macos: string };
}

const TIMEOUT = 20_000;

function run(cmd: string, args: string[], cwd?: string): { ok: boolean; out: string } {
  try {
    const out = execFileSync(cmd, args, { cwd, timeout: TIMEOUT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    return { ok: true, out };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    return { ok: false, out: (err.stderr ?? err.message).toString() };
  }
}

function firstLine(s: string): string {
  return s.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

/** Run every check. `nodeVersion` is injected for tests. */
export function runChecks(nodeVersion: string = process.versions.node): Check[] {
  const checks: Check[] = [];
  const major = Number(nodeVersion.split('.')[0]);
  checks.push({
    name: 'Node.js >= 20', ok: major >= 20, required: true, detail: `v${nodeVersion}`,
    install: { debian: 'see https://nodejs.org/en/download (or: sudo apt-get install nodejs)', fedora: 'sudo dnf install nodejs', macos: 'brew install node' },
  });

  const dir = mkdtempSync(join(tmpdir(), 'xenkit-doctor-'));
  try {
    writeFileSync(join(dir, 't.c'), 'void _start(void) { for (;;) ; }\n');
    const cc = run('gcc', ['-m32', '-march=i686', '-ffreestanding', '-fno-pic', '-nostdlib', '-c', '-o', 't.o', 't.c'], dir);
    const ld = cc.ok ? run('ld', ['-m', 'elf_i386', '-nostdlib', '-o', 't.elf', 't.o'], dir) : { ok: false, out: 'not tried (the compile failed)' };
    checks.push({
      name: 'C compiler for 32-bit freestanding code (gcc -m32)', ok: cc.ok, required: true,
      detail: cc.ok ? firstLine(run('gcc', ['--version']).out) : firstLine(cc.out),
      install: { debian: 'sudo apt-get install gcc libc6-dev', fedora: 'sudo dnf install gcc glibc-devel', macos: 'brew install i686-elf-gcc   (then: make CC=i686-elf-gcc LD=i686-elf-ld)' },
    });
    checks.push({
      name: 'linker for elf_i386 (GNU ld)', ok: ld.ok, required: true,
      detail: ld.ok ? firstLine(run('ld', ['--version']).out) : firstLine(ld.out),
      install: { debian: 'sudo apt-get install binutils', fedora: 'sudo dnf install binutils', macos: 'brew install i686-elf-binutils' },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const make = run('make', ['--version']);
  checks.push({
    name: 'make', ok: make.ok, required: true, detail: make.ok ? firstLine(make.out) : 'not found',
    install: { debian: 'sudo apt-get install make', fedora: 'sudo dnf install make', macos: 'xcode-select --install' },
  });
  const gdb = run('gdb', ['--batch', '-nx', '-ex', 'set architecture i386']);
  checks.push({
    name: 'gdb with i386 support (for --gdb)', ok: gdb.ok, required: false,
    detail: gdb.ok ? firstLine(run('gdb', ['--version']).out) : firstLine(gdb.out) || 'not found',
    install: { debian: 'sudo apt-get install gdb', fedora: 'sudo dnf install gdb', macos: 'brew install gdb   (or i386-elf-gdb)' },
  });
  const tshark = run('tshark', ['--version']);
  checks.push({
    name: 'tshark (optional: reads the pcap files of --net)', ok: tshark.ok, required: false,
    detail: tshark.ok ? firstLine(tshark.out) : 'not found',
    install: { debian: 'sudo apt-get install tshark', fedora: 'sudo dnf install wireshark-cli', macos: 'brew install wireshark' },
  });
  return checks;
}

/** The report and whether every required check passed. */
export function formatChecks(checks: Check[]): { text: string; ok: boolean } {
  const lines: string[] = [];
  for (const c of checks) {
    if (c.ok) lines.push(`ok       ${c.name}: ${c.detail}`);
    else lines.push(`${c.required ? 'MISSING ' : 'optional'} ${c.name}: ${c.detail}`);
    if (!c.ok && c.install !== undefined) {
      lines.push(`    Debian/Ubuntu: ${c.install.debian}`);
      lines.push(`    Fedora:        ${c.install.fedora}`);
      lines.push(`    macOS:         ${c.install.macos}`);
    }
  }
  const ok = checks.every((c) => c.ok || !c.required);
  lines.push('', ok ? 'Everything xenkit needs is here.' : 'Some required tools are missing: install them with the commands above.');
  return { text: `${lines.join('\n')}\n`, ok };
}
