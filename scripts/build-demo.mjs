// Part of `npm install` (the "prepare" script): build the template demo
// kernel (templates/minios/build/kernel.elf) that `npm start` boots. Without
// a working gcc -m32 this prints one line and leaves the prebuilt
// assets/demo/kernel.elf in charge; it never fails the install.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const template = fileURLToPath(new URL('../templates/minios', import.meta.url));
try {
  execFileSync('make', ['-s', '-C', template, 'pv'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
} catch {
  process.stderr.write('xenkit: could not build the demo kernel (gcc -m32/make missing?); `npm start` will boot the prebuilt one. `npx xenkit doctor` says what to install.\n');
}
