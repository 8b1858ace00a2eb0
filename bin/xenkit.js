#!/usr/bin/env node
// The xenkit command.
//
// `npm run build` compiles the CLI (dist/src/cli) and bundles it into one
// CommonJS file, dist/xenkit.cjs. Loading that one file with V8's code
// cache is the fastest start Node 20 offers (a plain `xenkit run` of a
// hello kernel takes about 25 ms less than loading the ES modules): the
// cache holds the functions the previous run of the same kind compiled, so
// V8 neither parses the 800 KB bundle again nor compiles them lazily.
//
// The cache lives in dist/.v8-cache/, one file per kind of command ("run"
// for run and demo, "cli" for the rest), named after the bundle's size and
// mtime: V8 itself only checks the source length, so a rebuilt bundle must
// never meet an old cache. A missing or rejected cache (another Node
// version, other V8 flags) is written at exit, through a temporary file
// and a rename, so parallel runs never read half a file. Every failure to
// read or write the cache is ignored: it only costs start-up time.
//
// The bundle has no dynamic import() of a package (a vm.Script has no
// module loader for it; esbuild turns xenkit's own into require calls).
// Without the bundle the unbundled ES modules (dist/src/cli/main.js) run.
import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const bundle = join(dist, 'xenkit.cjs');

function runBundle() {
  let source, st;
  try {
    st = statSync(bundle);
    source = readFileSync(bundle, 'utf8');
  } catch {
    return false;
  }
  const cacheDir = join(dist, '.v8-cache');
  const kind = process.argv[2] === 'run' || process.argv[2] === 'demo' ? 'run' : 'cli';
  const prefix = `${kind}-`;
  const cacheFile = join(cacheDir, `${prefix}${st.size}-${Math.trunc(st.mtimeMs)}.bin`);
  let cachedData;
  try {
    cachedData = readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once('exit', () => {
      try {
        mkdirSync(cacheDir, { recursive: true });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
        for (const f of readdirSync(cacheDir)) {
          if (f.startsWith(prefix) && join(cacheDir, f) !== cacheFile && !f.endsWith('.tmp')) unlinkSync(join(cacheDir, f));
        }
      } catch {
        // read-only install, full disk, a race with another run: no cache this time
      }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return true;
}

if (!runBundle()) {
  await import(new URL('../dist/src/cli/main.js', import.meta.url).href);
}
