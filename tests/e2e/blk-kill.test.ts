/**
 * "Nothing acknowledged is lost", end to end through the real CLI: `xenkit
 * run --disk IMG` boots tests/guests/rebootdev.c, which writes its mark to
 * the image, flushes, and (with `hold`) sleeps; the test kills the xenkit
 * process with SIGKILL as soon as the guest says the flush was
 * acknowledged. The image holds the mark, and the lock file the killed VMM
 * left behind does not stop the next run: it is taken over (its pid is
 * gone), and the next guest reads the mark back from its disk.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGuest, type GuestKernels } from './guests.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(root, 'dist', 'src', 'cli', 'main.js');

let guest: GuestKernels;
let work: string;
beforeAll(() => {
  guest = buildGuest('rebootdev.c');
  work = mkdtempSync(join(tmpdir(), 'xenkit-blkkill-'));
});
afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

describe('SIGKILL right after an acknowledged flush', () => {
  it('loses nothing, and the next run takes over the stale lock and reads the data back', async () => {
    const img = join(work, 'disk.img');
    writeFileSync(img, Buffer.alloc(1 << 20));
    const child = spawn(process.execPath, [MAIN, 'run', guest.pv, '--disk', img, '--net', 'switch:lan', '--cmdline', 'hold'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '', err = '';
    child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stderr.on('data', (d: string) => { err += d; });
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, signal) => res(signal)));
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no "wrote mark" within 20 s:\n${out}\n${err}`)), 20_000);
      child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
      child.stdout.on('data', (d: string) => {
        out += d;
        // Printed after blk_flush returned: the backend answered the flush.
        if (out.includes('rebootdev v1: wrote mark v1')) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          res();
        }
      });
      child.on('exit', () => { clearTimeout(timer); rej(new Error(`xenkit ended first:\n${out}\n${err}`)); });
    });
    expect(await exited).toBe('SIGKILL');
    const sector = readFileSync(img).subarray(8 * 512, 8 * 512 + 16);
    expect(sector.subarray(0, sector.indexOf(0)).toString('latin1')).toBe('mark v1');
    expect(existsSync(`${img}.lock`)).toBe(true); // left behind by the killed VMM

    const again = spawnSync(process.execPath, [MAIN, 'run', guest.pv, '--disk', img, '--net', 'switch:lan'], {
      encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' },
    });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('rebootdev v1: previous mark: mark v1');
    expect(again.stdout).toContain('Test result: SUCCESS');
    expect(existsSync(`${img}.lock`)).toBe(false);
  }, 60_000);
});
