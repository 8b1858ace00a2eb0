/**
 * Watch mode (`xenkit run kernel.elf --watch [--build CMD] [--watch-path GLOB…]`):
 * watch the kernel's sources with chokidar, and after a change (debounced)
 * run the build command; when it succeeds and the kernel file changed,
 * hand the new kernel to the caller, which reboots the guest from it.
 *
 * What is watched:
 *  - the sources: the `--watch-path` globs or paths (relative to the
 *    current directory), or by default the project directory, recursively;
 *  - the kernel file itself, so a kernel rebuilt by something else (an
 *    editor's build task) is picked up too: the build command then runs as
 *    usual (a no-op for an up-to-date `make`) before the reboot.
 * Never the build output: the kernel's own directory when it is not the
 * project directory (e.g. build/), object and dependency files, editor
 * backups and swap files, .git and node_modules — otherwise every build
 * would trigger the next one. Nor what the run writes itself (`ignore`):
 * a disk image in the project directory changes whenever the guest
 * writes to it.
 *
 * The project directory, where the build runs, is the nearest directory
 * at or above the kernel's that has a Makefile (the template's layout:
 * build/kernel.elf under the project), else the kernel's own directory.
 * The default build is `make` there.
 *
 * Editors and `sed -i` save by writing a temporary file and renaming it
 * over the original: a file that appears and vanishes again within two
 * seconds is not a change, and the log names only files that still exist
 * (or were really removed).
 *
 * A build that fails prints its output and keeps the old guest; a build
 * that leaves the kernel unchanged (same bytes as the running one) does
 * not reboot. Changes during a build start one more build afterwards. When
 * the output shows a missing tool (status 127, "not found"), the message
 * points to `xenkit doctor`.
 *
 * chokidar is loaded when watching starts, never by a plain run.
 *
 * Globs: `*` and `?` within one path segment, `**` across segments,
 * `[abc]` classes and `{a,b}` alternatives (chokidar 4 has no globs of its
 * own: the directory before the first wildcard is watched and events are
 * matched here).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import type { FSWatcher } from 'chokidar';

/** Quiet time after the last change before a build starts. */
export const DEBOUNCE_MS = 50;
/** Build output kept for the error message (the tail). */
const OUTPUT_LIMIT = 64 * 1024;
/** A file that is added and removed again within this time was an editor's temporary file. */
const TRANSIENT_MS = 2000;

/** The Makefile names GNU make looks for. */
const MAKEFILES = ['GNUmakefile', 'makefile', 'Makefile'];

/** The directory the build runs in: the nearest one at or above the kernel's with a Makefile, else the kernel's. */
export function findProjectDir(kernel: string): string {
  const start = dirname(resolve(kernel));
  for (let dir = start; ; dir = dirname(dir)) {
    if (MAKEFILES.some((m) => existsSync(resolve(dir, m)))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

const GLOB_CHARS = /[*?[{]/;

/** Does this path contain glob syntax? */
export function isGlob(p: string): boolean {
  return GLOB_CHARS.test(p);
}

/** The directory to watch for a glob: its leading segments without wildcards. */
export function globBase(glob: string): string {
  const parts = glob.split(/[\\/]/);
  const base: string[] = [];
  for (const p of parts) {
    if (isGlob(p)) break;
    base.push(p);
  }
  const joined = base.join('/');
  return joined === '' ? (glob.startsWith('/') ? '/' : '.') : joined;
}

/** A glob as a regular expression over `/`-separated absolute paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  let i = 0;
  let braces = 0;
  while (i < glob.length) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing `**` anything.
        i += 2;
        if (glob[i] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      re += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      re += ')';
    } else if (c === ',' && braces > 0) {
      re += '|';
    } else {
      re += c.replace(/[.+^$()|\\]/g, '\\$&');
    }
    i++;
  }
  return new RegExp(`^${re}$`);
}

/** Paths a build writes or editors leave around: never a reason to rebuild. */
function isNoise(p: string): boolean {
  const name = basename(p);
  return /\.(o|d|a|so|tmp|swp|swx|swo|orig|rej)$/.test(name) || name.endsWith('~') || name.startsWith('.#') ||
    name === '4913' || name === '.git' || name === 'node_modules' || name === '.DS_Store';
}

export interface WatchConfig {
  /** The kernel file (absolute). */
  kernel: string;
  /** Where the build runs (absolute). */
  project: string;
  /** The build command (run by /bin/sh); null: `make`. */
  build: string | null;
  /** `--watch-path` values; empty: the project directory. */
  paths: readonly string[];
  /** Relative paths and globs are resolved here. */
  cwd: string;
  /**
   * Files the run itself writes — disk images and their locks, capture
   * files, a console log — never a reason to rebuild (absolute paths).
   */
  ignore?: readonly string[];
  debounceMs?: number;
}

export interface WatchEvents {
  /** One line for the user (without "xenkit: " and the newline). */
  log(line: string): void;
  /** The output of a failed build. */
  buildOutput(text: string): void;
  /** A rebuilt kernel (different bytes from the running one). Returns false when it could not boot (keep the old). */
  kernel(bytes: Uint8Array): boolean;
}

interface BuildResult {
  ok: boolean;
  status: number | null;
  output: string;
  error?: string;
}

function hashOf(b: Uint8Array): string {
  return createHash('sha1').update(b).digest('hex');
}

/** Does a failed build's output say a tool is missing? */
export function missingTool(status: number | null, output: string): string | null {
  // make could not run a program: "make: gcc: No such file or directory" / "make: gcc: Command not found".
  const make = /^make(?:\[\d+\])?: (\S+): (?:No such file or directory|Command not found)$/m.exec(output);
  if (make !== null) return make[1]!;
  // The shell could not find one: "/bin/sh: 1: gcc: not found", "bash: gcc: command not found".
  const sh = /^(?:\S*sh: )?(?:\d+: |line \d+: )?(\S+): (?:command )?not found$/m.exec(output);
  if (sh !== null) return sh[1]!;
  if (/unrecognized command[- ]line option '-m32'|cannot find (?:crt|-lgcc)|gnu\/stubs-32\.h/i.test(output)) return 'a 32-bit toolchain';
  if (status === 127) return 'the build command';
  return null;
}

/** Watches, debounces, builds, and hands over rebuilt kernels (see the file comment). */
export class KernelWatcher {
  private sources: FSWatcher | null = null;
  private kernelWatch: FSWatcher | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Source paths changed since the last cycle began, and how. */
  private readonly pending = new Map<string, 'added' | 'changed' | 'removed'>();
  /** The kernel file itself changed since the last cycle began. */
  private kernelTouched = false;
  /** When each recently added file appeared: an unlink soon after is an editor's temporary file, not a change. */
  private readonly born = new Map<string, number>();
  private building = false;
  private child: ChildProcess | null = null;
  private current: string;
  private closed = false;
  private readonly matchers: ((slashed: string) => boolean)[] = [];
  private readonly outputDir: string | null;
  /** Resolves when the cycle in progress (if any) and any follow-up are done (tests, bench). */
  idle: Promise<void> = Promise.resolve();

  constructor(private readonly cfg: WatchConfig, private readonly ev: WatchEvents, running: Uint8Array) {
    this.current = hashOf(running);
    const kdir = dirname(cfg.kernel);
    this.outputDir = kdir !== cfg.project && (kdir + sep).startsWith(cfg.project + sep) ? kdir : null;
  }

  /** The build command as shown to the user. */
  get command(): string {
    return this.cfg.build ?? 'make';
  }

  /** What is watched, for the start-up line. */
  describe(): string {
    const shown = this.cfg.paths.length > 0 ? this.cfg.paths.join(', ') : `${this.rel(this.cfg.project) || '.'}/`;
    return `watching ${shown} and ${this.rel(this.cfg.kernel)}; on a change: ${this.command} (in ${this.rel(this.cfg.project) || '.'})`;
  }

  /** Start watching; resolves once the initial scan is done. */
  async start(): Promise<void> {
    // Loaded here: a plain `xenkit run` (and its start-up time) never loads chokidar.
    // require, not import(): the bundle bin/xenkit.js runs is CommonJS in a vm.Script, where a
    // dynamic import() of a package has no loader (chokidar 4 ships both module formats).
    const { watch } = createRequire(import.meta.url)('chokidar') as typeof import('chokidar');
    const roots: string[] = [];
    if (this.cfg.paths.length === 0) {
      roots.push(this.cfg.project);
    } else {
      for (const p of this.cfg.paths) {
        const abs = isAbsolute(p) ? p : resolve(this.cfg.cwd, p);
        if (isGlob(p)) {
          roots.push(resolve(this.cfg.cwd, globBase(p)));
          const re = globToRegExp(abs.split(sep).join('/'));
          this.matchers.push((s) => re.test(s));
        } else {
          roots.push(abs);
          const prefix = abs.split(sep).join('/');
          this.matchers.push((s) => s === prefix || s.startsWith(`${prefix}/`));
        }
      }
    }
    const out = this.outputDir, kernel = this.cfg.kernel;
    const own = new Set<string>();
    for (const f of this.cfg.ignore ?? []) {
      own.add(f);
      try { own.add(realpathSync(f)); } catch { /* not there yet */ }
    }
    this.sources = watch(roots, {
      ignoreInitial: true,
      ignored: (p: string) => isNoise(p) || p === kernel || own.has(p) || (out !== null && (p === out || p.startsWith(out + sep))),
    });
    this.sources.on('all', (event, path) => {
      if (event === 'addDir' || event === 'unlinkDir') return;
      this.onSource(event, resolve(this.cfg.cwd, path));
    });
    this.sources.on('error', (e) => { this.ev.log(`watch: ${(e as Error).message}`); });
    this.kernelWatch = watch(kernel, { ignoreInitial: true });
    this.kernelWatch.on('all', (event) => {
      if (event === 'add' || event === 'change') this.onKernelFile();
    });
    this.kernelWatch.on('error', (e) => { this.ev.log(`watch: ${(e as Error).message}`); });
    await Promise.all([ready(this.sources), ready(this.kernelWatch)]);
  }

  /** Stop watching (and stop a build in progress). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.child?.kill('SIGTERM');
    await Promise.all([this.sources?.close(), this.kernelWatch?.close()]);
  }

  private rel(p: string): string {
    const r = relative(this.cfg.cwd, p);
    return r.startsWith('..') || isAbsolute(r) ? p : r;
  }

  private onSource(event: string, abs: string): void {
    if (this.matchers.length > 0) {
      const slashed = abs.split(sep).join('/');
      if (!this.matchers.some((m) => m(slashed))) return;
    }
    const was = this.pending.get(abs);
    if (event === 'add') {
      this.born.set(abs, Date.now());
      if (this.born.size > 256) this.born.delete(this.born.keys().next().value!);
      this.pending.set(abs, was === 'removed' ? 'changed' : 'added');
    } else if (event === 'change') {
      if (was !== 'added') this.pending.set(abs, 'changed');
    } else if (event === 'unlink') {
      // `sed -i`, vim and many editors write a temporary file and rename it over
      // the real one: the temporary file comes and goes; only the rename target changed.
      const bornAt = this.born.get(abs);
      this.born.delete(abs);
      if (was === 'added' || (bornAt !== undefined && Date.now() - bornAt < TRANSIENT_MS)) {
        this.pending.delete(abs);
        if (this.pending.size === 0 && !this.kernelTouched) this.disarm();
        return;
      }
      this.pending.set(abs, 'removed');
    } else return;
    this.arm();
  }

  private onKernelFile(): void {
    this.kernelTouched = true;
    this.arm();
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** (Re)start the debounce timer; during a build, the changes wait for it to end. */
  private arm(): void {
    if (this.closed || this.building) return;
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.idle = this.cycle();
    }, this.cfg.debounceMs ?? DEBOUNCE_MS);
  }

  /** The changed sources still worth naming (a file that vanished again was an editor's temporary file). */
  private takeChanges(): string[] {
    const names: string[] = [];
    for (const [path, kind] of this.pending) {
      const exists = existsSync(path);
      if (kind === 'removed' ? !exists : exists) names.push(kind === 'removed' ? `${this.rel(path)} (removed)` : this.rel(path));
    }
    this.pending.clear();
    return names;
  }

  private readKernel(): Uint8Array | null {
    try {
      return new Uint8Array(readFileSync(this.cfg.kernel));
    } catch {
      return null;
    }
  }

  /** One build, and the reboot if the kernel changed; then one more if changes came in meanwhile. */
  private async cycle(): Promise<void> {
    if (this.closed) return;
    const changed = this.takeChanges();
    const kernelTouched = this.kernelTouched;
    this.kernelTouched = false;
    if (changed.length === 0) {
      // Only the kernel file changed: nothing to do if it is what runs (e.g. our own build wrote it).
      if (!kernelTouched) return;
      const k = this.readKernel();
      if (k === null || hashOf(k) === this.current) return;
    }
    this.building = true;
    const what = changed.length === 0 ? this.rel(this.cfg.kernel)
      : changed.length <= 3 ? changed.join(', ') : `${changed.slice(0, 2).join(', ')} and ${changed.length - 2} more files`;
    this.ev.log(`${what} changed; rebuilding (${this.command})…`);
    const t0 = Date.now();
    const r = await this.runBuild();
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (this.closed) return;
    if (r.ok) {
      const k = this.readKernel();
      if (k === null) {
        this.ev.log(`build ok (${secs} s), but ${this.rel(this.cfg.kernel)} cannot be read; the guest keeps running the old kernel`);
      } else if (hashOf(k) === this.current) {
        this.ev.log(`build ok (${secs} s); ${this.rel(this.cfg.kernel)} is unchanged, the guest keeps running`);
      } else {
        this.ev.log(`build ok (${secs} s)`);
        if (this.ev.kernel(k)) this.current = hashOf(k);
      }
    } else {
      if (r.output.trim() !== '') this.ev.buildOutput(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
      const how = r.error ?? `${this.command} exited with status ${r.status ?? 'unknown'}`;
      this.ev.log(`build failed (${how}); the guest keeps running the old kernel`);
      const tool = missingTool(r.status, r.output);
      if (tool !== null) this.ev.log(`${tool} seems to be missing: \`xenkit doctor\` checks the toolchain and says how to install it`);
    }
    this.building = false;
    if ((this.pending.size > 0 || this.kernelTouched) && !this.closed) this.arm();
  }

  private runBuild(): Promise<BuildResult> {
    return new Promise((resolvePromise) => {
      let output = '';
      const add = (b: Buffer): void => {
        output += b.toString();
        if (output.length > OUTPUT_LIMIT * 2) output = output.slice(-OUTPUT_LIMIT);
      };
      let child: ChildProcess;
      try {
        child = spawn(this.command, { shell: true, cwd: this.cfg.project, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        resolvePromise({ ok: false, status: null, output: '', error: `cannot run ${this.command}: ${(e as Error).message}` });
        return;
      }
      this.child = child;
      child.stdout?.on('data', add);
      child.stderr?.on('data', add);
      child.on('error', (e) => {
        this.child = null;
        resolvePromise({ ok: false, status: null, output, error: `cannot run ${this.command}: ${e.message}` });
      });
      child.on('close', (status, signal) => {
        this.child = null;
        if (output.length > OUTPUT_LIMIT) output = `[…]\n${output.slice(-OUTPUT_LIMIT)}`;
        if (signal !== null) resolvePromise({ ok: false, status, output, error: `${this.command} was killed by ${signal}` });
        else resolvePromise({ ok: status === 0, status, output });
      });
    });
  }
}

function ready(w: FSWatcher): Promise<void> {
  return new Promise((r) => { w.once('ready', () => r()); });
}
