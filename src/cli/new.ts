/**
 * `xenkit new <dir>`: scaffold a kernel project from the guest template —
 * its sources and Makefile, a `.gdbinit` that connects to xenkit, a
 * `.gitignore`, and node_modules/.bin/xenkit pointing at this installation
 * so that `npx xenkit` works in the project — and say what to type next. Refuses a directory that
 * exists and is not empty.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { CliError } from './errors.js';
import { packageRoot } from './paths.js';

/** The port the scaffolded .gdbinit and the printed commands use. */
export const DEFAULT_GDB_PORT = 1234;

export interface NewResult {
  dir: string;
  files: number;
}

/**
 * gdb Python for watch mode (docs/gdb.md): at every stop, when the symbol
 * file changed on disk since gdb read it (xenkit rebooted the guest into a
 * rebuilt kernel), read it again, so breakpoints and backtraces follow the
 * new kernel. The gdb protocol has no way for the stub to ask for this.
 */
export const GDB_RELOAD_PYTHON = `import os
import gdb

def _xenkit_mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None

_xenkit_mtimes = {}
if gdb.current_progspace().filename:
    _xenkit_mtimes[gdb.current_progspace().filename] = _xenkit_mtime(gdb.current_progspace().filename)

def _xenkit_reload(event):
    path = gdb.current_progspace().filename
    mtime = _xenkit_mtime(path) if path else None
    if mtime is None:
        return
    if _xenkit_mtimes.setdefault(path, mtime) != mtime:
        _xenkit_mtimes[path] = mtime
        gdb.write("xenkit: %s changed: reading its symbols again\\n" % path)
        confirm = gdb.parameter("confirm")
        gdb.execute("set confirm off")
        try:
            gdb.execute("file " + path)
        finally:
            gdb.execute("set confirm " + ("on" if confirm else "off"))

gdb.events.stop.connect(_xenkit_reload)
`;

function gdbinit(port: number): string {
  return `# gdb settings for this kernel (gdb reads ./.gdbinit when it is allowed to:
# add "add-auto-load-safe-path ${'$'}PWD/.gdbinit" to ~/.gdbinit, or run
# "gdb -x .gdbinit").
#
# Start the kernel under xenkit with a gdb server first:
#   npx xenkit run build/kernel.elf --gdb ${port} --watch
set architecture i386
file build/kernel.elf
target remote 127.0.0.1:${port}

# Watch mode: after xenkit reboots into a rebuilt kernel, read its symbols again.
python
${GDB_RELOAD_PYTHON}end
`;
}

const GITIGNORE = 'build/\nnode_modules/\n';

/** Copy the template into `target`; throws CliError for a non-empty target. */
export function scaffold(target: string, cwd: string): NewResult {
  const dir = resolve(cwd, target);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new CliError(`${target} exists and is not a directory`);
    if (readdirSync(dir).length > 0) throw new CliError(`${target} is not empty; choose a new directory (xenkit new never overwrites files)`);
  }
  const root = packageRoot();
  if (root === null) throw new CliError('cannot find the xenkit installation (package.json) to copy the template from', 1);
  const template = join(root, 'templates', 'minios');
  if (!existsSync(template)) throw new CliError(`the guest template is missing from the xenkit installation (${template})`, 1);
  mkdirSync(dir, { recursive: true });
  let files = 0;
  cpSync(template, dir, {
    recursive: true,
    filter: (src) => {
      const rel = relative(template, src);
      if (rel === 'build' || rel.startsWith(`build/`)) return false;
      if (!statSync(src).isDirectory()) files++;
      return true;
    },
  });
  writeFileSync(join(dir, '.gdbinit'), gdbinit(DEFAULT_GDB_PORT));
  writeFileSync(join(dir, '.gitignore'), GITIGNORE);
  // `npx xenkit` inside the project runs this installation: npx looks in the
  // project's node_modules/.bin first (xenkit need not be published or global).
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(join(root, 'bin', 'xenkit.js'), join(dir, 'node_modules', '.bin', 'xenkit'));
  return { dir, files: files + 2 };
}

/** What to print after scaffolding. */
export function nextSteps(target: string, r: NewResult): string {
  const name = basename(r.dir);
  return `Created ${target} (${r.files} files) from the xenkit guest template.

Next:
  cd ${target}
  make                                   # build/kernel.elf (PV) and build/kernel-pvh.elf (PVH)
  npx xenkit run build/kernel.elf        # boot it
  npx xenkit run build/kernel.elf --gdb ${DEFAULT_GDB_PORT} --watch
                                         # debug it (gdb -x .gdbinit in another terminal);
                                         # every saved change rebuilds and reboots it

Your code goes in app/demo.c (app_main); README.md explains the rest.
If make fails for want of a compiler, run: npx xenkit doctor
(${name} builds with gcc -m32 and GNU ld; no 32-bit libc is needed.)
`;
}
