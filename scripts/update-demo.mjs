// `npm run demo:update`: rebuild the prebuilt demo kernel
// (assets/demo/kernel.elf) from templates/minios and record the hash of
// the sources it was built from (assets/demo/SOURCES). A test fails when
// the template changes without this being run.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { templateSourceHash, templateSources } from '../dist/src/cli/paths.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const template = join(root, 'templates', 'minios');
const out = mkdtempSync(join(tmpdir(), 'xenkit-demo-'));
try {
  execFileSync('make', ['-s', '-C', template, `O=${out}`, 'pv'], { stdio: 'inherit' });
  copyFileSync(join(out, 'kernel.elf'), join(root, 'assets', 'demo', 'kernel.elf'));
} finally {
  rmSync(out, { recursive: true, force: true });
}
const hash = templateSourceHash(template);
writeFileSync(join(root, 'assets', 'demo', 'SOURCES'),
  `# The prebuilt demo kernel (kernel.elf) was built with \`npm run demo:update\`\n# from these templates/minios files; sha256 over names and contents:\n${hash}\n${templateSources(template).join('\n')}\n`);
process.stdout.write(`assets/demo/kernel.elf updated (sources ${hash.slice(0, 12)})\n`);
