/**
 * The README's set-up commands, tried as a new user would: a fresh copy of
 * the repository (every file git tracks, as in a clone, without
 * node_modules, dist or build products) in a temporary directory, then
 * the commands of the README's "Set-up" block run verbatim in it —
 * `npm install && npm start`, `npm test` — followed by `xenkit new`,
 * `make` and `xenkit run` on a new project, checking what each step
 * promises.
 *
 * Two concessions keep this bounded and off the network: npm runs with
 * `npm_config_offline=true` (packages come from the npm cache that the
 * outer install filled), and the nested `npm test` runs one test file
 * (XENKIT_TEST_FILTER, read by vitest.config.ts) instead of the whole
 * suite again.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'xenkit-readme-'));
const clone = join(work, 'xenkit');

/** The commands of the first ```sh block under "## Set-up", comments stripped. */
function setupCommands(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Set-up'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  if (block === null) throw new Error('README.md has no ```sh block under "## Set-up"');
  return block[1]!.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '');
}

function sh(cmd: string, cwd: string, env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const r = spawnSync('bash', ['-c', cmd], {
    cwd, encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', NO_COLOR: '1', ...env },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter((f) => f !== '');
  for (const f of files) {
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    try { copyFileSync(join(root, f), join(clone, f)); } catch { /* deleted in the working tree */ }
  }
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('README set-up, verbatim, in a fresh copy', () => {
  const cmds = setupCommands();

  it('has the two set-up commands', () => {
    expect(cmds).toEqual(['npm install && npm start', 'npm test']);
  });

  it('`npm install && npm start` installs, builds and boots the demo guest', () => {
    const r = sh(cmds[0]!, clone);
    expect(r.out).toMatch(/booting the demo kernel/);
    expect(r.out).toMatch(/xenkit-minios .*PV32 \(PAE\) kernel/);
    expect(r.out).toContain('powering off');
    expect(r.status, r.out.slice(-2000)).toBe(0);
  }, 600_000);

  it('`npm test` builds, typechecks and runs vitest', () => {
    const r = sh(cmds[1]!, clone, { XENKIT_TEST_FILTER: 'tests/cli/first-steps.test.ts' });
    expect(r.out).toMatch(/Test Files\s+1 passed \(1\)/);
    expect(r.status, r.out.slice(-2000)).toBe(0);
  }, 600_000);

  it('`npx xenkit new`, `make`, `npx xenkit run` work in the fresh copy as printed', () => {
    // In the repository the command is bin/xenkit.js (README, "Running a guest").
    const created = sh('node bin/xenkit.js new ../mykernel', clone);
    expect(created.status, created.out).toBe(0);
    expect(created.out).toContain('make');
    const proj = join(work, 'mykernel');
    const built = sh('make -s', proj);
    expect(built.status, built.out).toBe(0);
    // ...and inside the new project through the link `xenkit new` made to this installation.
    const run = sh('npx xenkit run build/kernel.elf --cmdline noecho', proj);
    expect(run.out).toContain('powering off');
    expect(run.status, run.out).toBe(0);
  }, 300_000);
});
