/**
 * The real `BlockHost` (src/vmm/devices/block/disk.ts): a raw disk image
 * file opened with node:fs, for `--disk PATH[,ro]`.
 *
 * - Opened O_RDWR (or O_RDONLY with `ro`); all I/O is synchronous
 *   positional readSync / writeSync straight to the host kernel, nothing is
 *   buffered in the VMM: a write that returned survives SIGKILL of the VMM.
 *   `flush` is fsyncSync: after it returns, every write is on stable storage.
 * - Sparse images are fine: holes read as zeros.
 * - The size is the file's size at open; floor(size / 512) sectors.
 * - Only regular files (not directories, devices or pipes).
 *
 * Exclusive writer lock. Node has no flock(2)/fcntl locks, so a writable
 * open creates a lock file next to the image — `<realpath>.lock`, with
 * O_CREAT|O_EXCL ('wx'), holding "<pid> <hostname>" — and removes it on
 * close. A second writer finds the file and is refused (EBLKLOCKED), naming
 * the pid that holds it. The realpath makes symlinks and relative paths to
 * one image share one lock (hard links do not). A lock left behind by a
 * VMM that was killed is *stale*: it is taken over when its pid is not
 * alive on this host (`process.kill(pid, 0)` → ESRCH) or when it is empty
 * and older than a few seconds (a writer killed between creating and
 * filling it). A lock written on another host, or whose pid is alive (or
 * reused by an unrelated process), is respected: remove it by hand if no
 * VMM uses the image. Taking over a stale lock is unlink-then-create, not
 * atomic: two VMMs starting at the same instant over the same stale lock
 * could both succeed — the lock protects against accidents, not against
 * a determined race. Read-only opens take no lock (any number of readers;
 * a reader of an image a writer is using may see its writes in progress).
 *
 * Discard. Node has no fallocate(FALLOC_FL_PUNCH_HOLE), so a discarded
 * range is zero-filled: read 1 MiB at a time, zeros written only over the
 * 4 KiB blocks that hold data (so discarding holes does not allocate
 * them; the blocks it zeroes stay allocated — space is not given back). The ftruncate
 * trick (truncate then extend, which frees the tail) is not used even for
 * ranges reaching the end of the image: a VMM killed between the two
 * calls would leave a shorter image, i.e. a disk that changed size.
 */
import {
  closeSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, realpathSync, statSync, unlinkSync, writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { BlockHostError, checkRange, type BlockHost } from '../vmm/devices/block/disk.js';

/** How long an empty lock file is presumed to be in the middle of its creation. */
const EMPTY_LOCK_GRACE_MS = 5_000;
/** Discard reads and zero-fills in chunks of this size… */
const ZERO_CHUNK = 1 << 20;
/** …writing zeros only over the blocks of this size (aligned in the file) that hold data. */
const ZERO_BLOCK = 4096;

export interface OpenImageOptions {
  readonly?: boolean;
  /** Is `pid` a live process on this host? (default: process.kill(pid, 0)). */
  isAlive?: (pid: number) => boolean;
  /** This process's pid (default: process.pid). */
  pid?: number;
  /** This host's name (default: os.hostname()). */
  host?: string;
}

/** Default liveness check: signal 0 tests for existence without sending anything. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** The lock file path of an image. */
export function lockPathOf(imagePath: string): string {
  return `${realpathSync(imagePath)}.lock`;
}

/** Take the writer lock of `image`, or throw EBLKLOCKED. Returns the lock path and the content we wrote. */
function acquireLock(image: string, o: Required<Pick<OpenImageOptions, 'isAlive' | 'pid' | 'host'>>): { path: string; content: string } {
  const path = lockPathOf(image);
  const content = `${o.pid} ${o.host}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      if (errno(e) !== 'EEXIST') {
        throw new BlockHostError('EBLKOPEN', `${image}: cannot create lock file ${path}: ${(e as Error).message}`);
      }
      const holder = lockHolder(path, o);
      if (holder !== null) {
        throw new BlockHostError('EBLKLOCKED',
          `${image} is in use by ${holder} (lock file ${path}); if no VMM uses it, remove the lock file`);
      }
      try {
        unlinkSync(path); // stale: take it over
      } catch (e2) {
        if (errno(e2) !== 'ENOENT') throw new BlockHostError('EBLKOPEN', `${image}: cannot remove stale lock ${path}: ${(e2 as Error).message}`);
      }
      continue;
    }
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return { path, content };
  }
  throw new BlockHostError('EBLKLOCKED', `${image}: lock file ${path} keeps reappearing`);
}

/** Who holds an existing lock ("pid 123 on host"), or null if the lock is stale. */
function lockHolder(path: string, o: Required<Pick<OpenImageOptions, 'isAlive' | 'pid' | 'host'>>): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errno(e) === 'ENOENT') return null; // gone meanwhile
    return `an unreadable lock (${(e as Error).message})`;
  }
  const m = /^([0-9]+) (\S+)\n?$/.exec(text);
  if (m === null) {
    let age = Infinity;
    try {
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      return null;
    }
    return age < EMPTY_LOCK_GRACE_MS ? 'a VMM that is starting' : null;
  }
  const pid = Number(m[1]), host = m[2]!;
  if (host !== o.host) return `pid ${pid} on host ${host}`;
  if (pid === o.pid) return `this VMM (pid ${pid})`;
  return o.isAlive(pid) ? `pid ${pid}` : null;
}

/** A raw image file as a BlockHost (see the header). */
export class FileBlockHost implements BlockHost {
  readonly size: number;
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    readonly readonly: boolean,
    private readonly lock: { path: string; content: string } | null,
  ) {
    this.fd = fd;
    this.size = fstatSync(fd).size;
  }

  /** Open `path` (taking the writer lock unless read-only). Throws BlockHostError with a user-facing message. */
  static open(path: string, opts: OpenImageOptions = {}): FileBlockHost {
    const ro = opts.readonly === true;
    let st;
    try {
      st = statSync(path);
    } catch (e) {
      throw new BlockHostError('EBLKOPEN', `${path}: ${errno(e) === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (!st.isFile()) throw new BlockHostError('EBLKOPEN', `${path}: not a regular file`);
    const lock = ro ? null : acquireLock(path, {
      isAlive: opts.isAlive ?? pidAlive, pid: opts.pid ?? process.pid, host: opts.host ?? hostname(),
    });
    let fd: number;
    try {
      fd = openSync(path, ro ? 'r' : 'r+');
    } catch (e) {
      if (lock !== null) releaseLock(lock);
      throw new BlockHostError('EBLKOPEN', `${path}: cannot open ${ro ? 'read-only' : 'read-write'}: ${(e as Error).message}`);
    }
    return new FileBlockHost(path, fd, ro, lock);
  }

  read(offset: number, length: number): Uint8Array {
    const fd = this.open();
    checkRange(this.size, offset, length);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break; // the file shrank under us: the rest reads as zeros
      done += n;
    }
    return buf;
  }

  write(offset: number, bytes: Uint8Array): void {
    const fd = this.open();
    if (this.readonly) throw new BlockHostError('EBLKRO', `${this.path}: write to a read-only disk`);
    checkRange(this.size, offset, bytes.length);
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
  }

  flush(): void {
    fsyncSync(this.open());
  }

  discard(offset: number, length: number): void {
    const fd = this.open();
    if (this.readonly) throw new BlockHostError('EBLKRO', `${this.path}: discard on a read-only disk`);
    checkRange(this.size, offset, length);
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK, length));
    const probe = new Uint8Array(zeros.length);
    for (let at = offset; at < offset + length;) {
      const n = Math.min(ZERO_CHUNK, offset + length - at);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, probe, got, n - got, at + got);
        if (r === 0) break;
        got += r;
      }
      if (got < n) probe.fill(1, got, n); // beyond the file's end (it shrank): write those
      // Zero only the 4 KiB blocks that hold data, so holes stay holes.
      for (let b = 0; b < n;) {
        const end = Math.min(b + ZERO_BLOCK - ((at + b) % ZERO_BLOCK), n);
        if (isZero(probe, b, end)) {
          b = end;
          continue;
        }
        let runEnd = end;
        while (runEnd < n) {
          const next = Math.min(runEnd + ZERO_BLOCK, n);
          if (isZero(probe, runEnd, next)) break;
          runEnd = next;
        }
        let done = 0;
        while (done < runEnd - b) done += writeSync(fd, zeros, 0, runEnd - b - done, at + b + done);
        b = runEnd;
      }
      at += n;
    }
  }

  close(): void {
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      closeSync(fd);
    } finally {
      if (this.lock !== null) releaseLock(this.lock);
    }
  }

  private open(): number {
    if (this.fd === null) throw new BlockHostError('EBLKCLOSED', `${this.path}: disk closed`);
    return this.fd;
  }
}

function isZero(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i] !== 0) return false;
  return true;
}

/** Remove our lock file — only if it is still ours (a takeover may have replaced it). */
function releaseLock(lock: { path: string; content: string }): void {
  try {
    if (readFileSync(lock.path, 'utf8') === lock.content) unlinkSync(lock.path);
  } catch {
    // Already gone: nothing to release.
  }
}

/** Open a `--disk` image (convenience for the CLI). */
export function openBlockHost(path: string, readonly: boolean): BlockHost {
  return FileBlockHost.open(path, { readonly });
}
