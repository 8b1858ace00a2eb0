/**
 * The real BlockHost (src/cli/block-host.ts) on temporary image files:
 * positional I/O, sparse images, discard, read-only refusal, the writer
 * lock file (exclusivity, stale-lock takeover, foreign hosts, symlinks),
 * and the durability promise end to end: a child process running blkback
 * over an image is SIGKILLed right after its writes were acknowledged,
 * and none of them is lost.
 */
import { spawn } from 'node:child_process';
import {
  existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, mkdirSync,
} from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { FileBlockHost, lockPathOf, pidAlive } from '../../../src/cli/block-host.js';
import { BlockHostError } from '../../../src/vmm/devices/block/disk.js';

const dir = mkdtempSync(join(tmpdir(), 'xenkit-blk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A fresh sparse image of `size` bytes. */
function image(size = 1 << 20): string {
  const p = join(dir, `disk${n++}.img`);
  writeFileSync(p, '');
  truncateSync(p, size);
  return p;
}

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof BlockHostError ? e.code : `not a BlockHostError: ${String(e)}`;
  }
  return undefined;
}

describe('FileBlockHost I/O', () => {
  it('reads holes as zeros, writes and reads back at byte offsets, flushes', () => {
    const p = image();
    const h = FileBlockHost.open(p);
    expect(h.size).toBe(1 << 20);
    expect(h.readonly).toBe(false);
    expect(h.read(4096, 16)).toEqual(new Uint8Array(16));
    const data = Uint8Array.from({ length: 1536 }, (_, i) => i & 0xff);
    h.write(512 * 9, data);
    h.flush();
    expect(h.read(512 * 9, 1536)).toEqual(data);
    h.close();
    expect(readFileSync(p).subarray(512 * 9, 512 * 12)).toEqual(Buffer.from(data));
  });

  it('refuses ranges outside the image and use after close', () => {
    const h = FileBlockHost.open(image(8192));
    expect(code(() => h.read(8000, 200))).toBe('EBLKRANGE');
    expect(code(() => h.write(-1, new Uint8Array(1)))).toBe('EBLKRANGE');
    expect(code(() => h.discard(0, 8193))).toBe('EBLKRANGE');
    h.close();
    h.close();
    expect(code(() => h.read(0, 1))).toBe('EBLKCLOSED');
  });

  it('discard zero-fills the range and leaves holes unallocated', () => {
    const p = image(4 << 20);
    const h = FileBlockHost.open(p);
    h.write(0, new Uint8Array(8192).fill(0xab));
    h.write((3 << 20) - 512, new Uint8Array(1024).fill(0xcd));
    const blocksBefore = statSync(p).blocks;
    h.discard(4096, (3 << 20) - 4096);
    h.flush();
    expect(h.read(0, 4096).every((x) => x === 0xab)).toBe(true);
    expect(h.read(4096, 4096).every((x) => x === 0)).toBe(true);
    expect(h.read((3 << 20) - 512, 512).every((x) => x === 0)).toBe(true);
    expect(h.read(3 << 20, 512).every((x) => x === 0xcd)).toBe(true);
    // Zero-filling only touched blocks that had data: no growth.
    expect(statSync(p).blocks).toBeLessThanOrEqual(blocksBefore);
    // Unaligned ranges inside a block zero exactly that range.
    h.write(0, new Uint8Array(4096).fill(0xab));
    h.discard(512, 1024);
    const b = h.read(0, 4096);
    expect([b[511], b[512], b[1535], b[1536]]).toEqual([0xab, 0, 0, 0xab]);
    h.close();
  });

  it('read-only opens refuse writes and discards', () => {
    const p = image();
    const h = FileBlockHost.open(p, { readonly: true });
    expect(h.readonly).toBe(true);
    expect(code(() => h.write(0, new Uint8Array(512)))).toBe('EBLKRO');
    expect(code(() => h.discard(0, 512))).toBe('EBLKRO');
    expect(h.read(0, 512)).toEqual(new Uint8Array(512));
    h.close();
  });

  it('refuses missing files and non-regular files', () => {
    expect(code(() => FileBlockHost.open(join(dir, 'nope.img')))).toBe('EBLKOPEN');
    const d = join(dir, 'adir');
    mkdirSync(d);
    expect(code(() => FileBlockHost.open(d))).toBe('EBLKOPEN');
  });
});

describe('the writer lock', () => {
  it('a second writer is refused while the first holds the image; the lock names the pid', () => {
    const p = image();
    const a = FileBlockHost.open(p);
    const lock = `${p}.lock`;
    expect(readFileSync(lock, 'utf8')).toBe(`${process.pid} ${hostname()}\n`);
    let msg = '';
    try {
      FileBlockHost.open(p);
    } catch (e) {
      msg = (e as Error).message;
      expect((e as BlockHostError).code).toBe('EBLKLOCKED');
    }
    expect(msg).toMatch(/in use by this VMM/);
    expect(code(() => FileBlockHost.open(p, { pid: 1234567, isAlive: () => true }))).toBe('EBLKLOCKED');
    // Readers take no lock.
    const r = FileBlockHost.open(p, { readonly: true });
    r.close();
    a.close();
    expect(existsSync(lock)).toBe(false);
    FileBlockHost.open(p).close();
  });

  it('a lock held by another live pid is respected; a dead pid is taken over', () => {
    const p = image();
    writeFileSync(`${p}.lock`, `4242 ${hostname()}\n`);
    expect(code(() => FileBlockHost.open(p, { isAlive: (pid) => pid === 4242 }))).toBe('EBLKLOCKED');
    const h = FileBlockHost.open(p, { isAlive: () => false });
    expect(readFileSync(`${p}.lock`, 'utf8')).toBe(`${process.pid} ${hostname()}\n`);
    h.close();
  });

  it('a lock from another host is respected whatever its pid', () => {
    const p = image();
    writeFileSync(`${p}.lock`, '1 some-other-host\n');
    expect(() => FileBlockHost.open(p, { isAlive: () => false })).toThrow(/pid 1 on host some-other-host/);
  });

  it('an empty lock is a writer starting up, until it is old', () => {
    const p = image();
    writeFileSync(`${p}.lock`, '');
    expect(code(() => FileBlockHost.open(p))).toBe('EBLKLOCKED');
    const old = (Date.now() - 60_000) / 1000;
    utimesSync(`${p}.lock`, old, old);
    FileBlockHost.open(p).close();
  });

  it('symlinks and relative spellings share one lock', () => {
    const p = image();
    const link = join(dir, `link${n++}.img`);
    symlinkSync(p, link);
    expect(lockPathOf(link)).toBe(`${p}.lock`);
    const a = FileBlockHost.open(p);
    expect(code(() => FileBlockHost.open(link))).toBe('EBLKLOCKED');
    a.close();
  });

  it('closing does not remove a lock that is no longer ours', () => {
    const p = image();
    const a = FileBlockHost.open(p);
    writeFileSync(`${p}.lock`, `77 ${hostname()}\n`); // someone took it over
    a.close();
    expect(readFileSync(`${p}.lock`, 'utf8')).toBe(`77 ${hostname()}\n`);
  });

  it('pidAlive knows this process and a dead one', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(0x3fff_fff0)).toBe(false);
  });
});

describe('durability across SIGKILL', () => {
  it('keeps every acknowledged write when the VMM is killed right after, and the stale lock is taken over', async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const bundle = join(dir, 'kill-child.mjs');
    buildSync({
      entryPoints: [join(here, 'fixtures/kill-child.ts')], bundle: true, platform: 'node', format: 'esm',
      outfile: bundle, logLevel: 'silent',
    });
    const p = image();
    const child = spawn(process.execPath, [bundle, p], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stderr.setEncoding('utf8'); // whole characters, however the chunks fall
    child.stderr.on('data', (d: string) => { err += d; });
    const acked = await new Promise<[number, number][]>((resolve, reject) => {
      child.stdout.setEncoding('utf8'); // whole characters, however the chunks fall
      child.stdout.on('data', (d: string) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve((JSON.parse(out.slice(0, nl)) as { acked: [number, number][] }).acked);
      });
      child.on('exit', (c) => reject(new Error(`child exited ${c}: ${err}`)));
    });
    const exited = new Promise((res) => child.on('exit', res));
    child.kill('SIGKILL');
    await exited;
    expect(acked).toHaveLength(12);
    const img = readFileSync(p);
    for (const [sector, fill] of acked) {
      expect(img.subarray(sector * 512, sector * 512 + 4096).every((x) => x === fill), `sector ${sector}`).toBe(true);
    }
    // The killed VMM's lock is stale: a new VMM takes the image.
    expect(existsSync(`${p}.lock`)).toBe(true);
    FileBlockHost.open(p).close();
  });
});
