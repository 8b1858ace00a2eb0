/**
 * The dependency rules of docs/architecture.md, checked on the import
 * statements of every source file: dependencies point one way along the
 * data flow (memory ← cpu ← xen ← devices; loader → memory only; gdbstub
 * knows nothing of the VMM; nothing imports the CLI), and nothing below
 * src/cli touches `process` or the file system by itself.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Repository-relative paths of the xenkit modules a file imports. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/g)) {
    const spec = m[1]!;
    if (!spec.startsWith('.')) continue;
    out.push(relative(root, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return out;
}

const all = files(join(root, 'src')).map((f) => ({ file: relative(root, f), deps: imports(f) }));

/** Which folders each area may import from (besides itself). */
const ALLOWED: [area: string, may: string[]][] = [
  ['src/vmm/memory/', []],
  ['src/vmm/cpu/', ['src/vmm/memory/']],
  ['src/loader/', ['src/vmm/memory/']],
  ['src/vmm/xen/', ['src/vmm/cpu/', 'src/vmm/memory/']],
  ['src/vmm/devices/', ['src/vmm/xen/', 'src/vmm/cpu/', 'src/vmm/memory/']],
  ['src/gdbstub/', []],
  ['src/vmm/report/', ['src/vmm/cpu/', 'src/vmm/memory/', 'src/vmm/xen/', 'src/loader/', 'src/vmm/machine.ts']],
];

describe('dependency rules (docs/architecture.md)', () => {
  it('finds the sources', () => {
    expect(all.length).toBeGreaterThan(40);
  });

  for (const [area, may] of ALLOWED) {
    it(`${area} imports only ${may.length ? may.join(', ') : 'itself'}`, () => {
      const bad: string[] = [];
      for (const { file, deps } of all.filter((f) => f.file.startsWith(area))) {
        for (const d of deps) if (!d.startsWith(area) && !may.some((m) => d.startsWith(m))) bad.push(`${file} → ${d}`);
      }
      expect(bad).toEqual([]);
    });
  }

  it('nothing imports the CLI', () => {
    const bad = all.filter((f) => !f.file.startsWith('src/cli/')).flatMap((f) => f.deps.filter((d) => d.startsWith('src/cli/')).map((d) => `${f.file} → ${d}`));
    expect(bad).toEqual([]);
  });

  it('nothing below src/cli reads process, the file system or the network by itself', () => {
    const bad: string[] = [];
    for (const { file } of all.filter((f) => !f.file.startsWith('src/cli/'))) {
      const src = readFileSync(join(root, file), 'utf8');
      if (/from 'node:(fs|net|child_process|fs\/promises)'/.test(src) || /\bprocess\.(stdout|stdin|argv|exit|env)\b/.test(src)) bad.push(file);
    }
    expect(bad).toEqual([]);
  });
});
