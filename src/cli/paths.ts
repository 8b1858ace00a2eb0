/**
 * Where xenkit's own files are: the package root (the nearest package.json
 * named "xenkit" above the running module — dist/src/cli/*.js or the
 * bundle dist/xenkit.cjs), the guest template, and the demo kernel that
 * `npm start` / `xenkit demo` boots.
 *
 * The demo kernel is templates/minios/build/kernel.elf when `npm install`
 * could build it (gcc present) and it is newer than every template source;
 * otherwise the prebuilt assets/demo/kernel.elf, built from the same
 * sources (assets/demo/SOURCES records their hash; a test fails when it is
 * stale; `npm run demo:update` rebuilds it).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The xenkit package root, or null when it cannot be found. */
export function packageRoot(from: string = import.meta.url): string | null {
  let url = new URL('.', from);
  for (let i = 0; i < 8; i++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', url), 'utf8')) as { name?: string };
      if (pkg.name === 'xenkit') return fileURLToPath(url);
    } catch {
      // not here: one level up
    }
    const up = new URL('..', url);
    if (up.href === url.href) break;
    url = up;
  }
  return null;
}

/** package.json's version. */
export function packageVersion(): string {
  const root = packageRoot();
  if (root === null) return 'unknown';
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The folders of the template whose contents make the kernel (what the demo hash covers). */
export const TEMPLATE_SOURCE_DIRS = ['app', 'arch', 'include', 'kernel', 'lib'] as const;

/** Every source file of the template that goes into a kernel, sorted (relative paths). */
export function templateSources(template: string): string[] {
  const out: string[] = ['Makefile'];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(template, rel)).sort()) {
      const r = `${rel}/${name}`;
      if (statSync(join(template, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  for (const d of TEMPLATE_SOURCE_DIRS) if (existsSync(join(template, d))) walk(d);
  return out.sort();
}

export interface DemoKernel {
  path: string;
  /** 'built': from the template during install; 'prebuilt': the committed fallback. */
  source: 'built' | 'prebuilt';
}

/** The kernel `xenkit demo` boots, or null when neither exists. */
export function demoKernel(root: string): DemoKernel | null {
  const template = join(root, 'templates', 'minios');
  const built = join(template, 'build', 'kernel.elf');
  if (existsSync(built)) {
    const t = statSync(built).mtimeMs;
    const fresh = templateSources(template).every((f) => statSync(join(template, f)).mtimeMs <= t);
    if (fresh) return { path: built, source: 'built' };
  }
  const prebuilt = join(root, 'assets', 'demo', 'kernel.elf');
  return existsSync(prebuilt) ? { path: prebuilt, source: 'prebuilt' } : null;
}

/** sha256 over the template's kernel sources (names and contents): what assets/demo/SOURCES records. */
export function templateSourceHash(template: string): string {
  const h = createHash('sha256');
  for (const f of templateSources(template)) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(template, f)));
    h.update('\0');
  }
  return h.digest('hex');
}
