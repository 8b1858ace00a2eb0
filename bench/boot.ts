/**
 * Boot benchmark: how long `xenkit run hello.elf` takes as a whole process,
 * as a user would time it.
 *
 *  - boot_ms: from spawning the process to the first byte the guest prints
 *    on stdout (Node start-up, loading the kernel, building the domain,
 *    booting to the first console_io);
 *  - run_hello_ms: the whole process, spawn to exit (the guest powers off).
 *
 * The hello guest is the template mini-OS with its smallest application
 * (templates/minios/app/hello.c: boot, print one line, power off), built
 * into bench/.build with `make APP=app/hello.c` — the kernel `xenkit new`
 * gives a user, minus the demo. The command is `node bin/xenkit.js`, what
 * `npx xenkit` runs (the CLI must be built: `npm run bench` builds first). Each figure
 * is the best of the timed runs after one warm-up; a run that exits with
 * a non-zero status or prints nothing fails the benchmark.
 */
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BenchFailure, type BenchContext, type BenchResult, type Benchmark } from './types.js';

interface Timing {
  firstByteMs: number;
  totalMs: number;
}

function timeRun(node: string, cli: string, kernel: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let first = -1;
    let out = '';
    const child = spawn(node, [cli, 'run', kernel], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => {
      if (first < 0) first = Number(process.hrtime.bigint() - t0) / 1e6;
      out += b.toString('latin1');
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const total = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new BenchFailure(`xenkit run exited with ${code}: ${err.trim().split('\n')[0] ?? ''}`));
      else if (first < 0 || out.length === 0) reject(new BenchFailure('the hello guest printed nothing'));
      else resolve({ firstByteMs: first, totalMs: total });
    });
  });
}

/** Build the hello kernel into bench/.build/minios; returns the PV kernel path. */
export function helloKernel(ctx: BenchContext): string {
  const dir = join(ctx.root, 'bench', '.build', 'minios');
  const elf = join(dir, 'build', 'kernel.elf');
  ctx.progress('building the hello kernel (make APP=app/hello.c)');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(join(ctx.root, 'templates', 'minios'), dir, { recursive: true, filter: (s) => !/[/\\]build$/.test(s) });
  try {
    execFileSync('make', ['-s', '-C', dir, 'APP=app/hello.c'], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new BenchFailure(`cannot build the template demo (gcc -m32 and make needed; try \`xenkit doctor\`): ${(e as Error).message.split('\n')[0]}`);
  }
  return elf;
}

export const bootBenchmark: Benchmark = {
  name: 'boot',
  description: 'xenkit run of the hello guest: time to first console byte and whole process',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const cli = join(ctx.root, 'bin', 'xenkit.js');
    if (!existsSync(join(ctx.root, 'dist', 'xenkit.cjs'))) throw new BenchFailure('dist/xenkit.cjs is missing: run `npm run build`');
    const kernel = helloKernel(ctx);
    const runs = Math.max(ctx.runs, 5);
    await timeRun(process.execPath, cli, kernel); // warm-up (file cache)
    let best: Timing = { firstByteMs: Infinity, totalMs: Infinity };
    for (let i = 0; i < runs; i++) {
      const t = await timeRun(process.execPath, cli, kernel);
      ctx.progress(`run ${i + 1}/${runs}: first byte ${t.firstByteMs.toFixed(1)} ms, exit ${t.totalMs.toFixed(1)} ms`);
      best = { firstByteMs: Math.min(best.firstByteMs, t.firstByteMs), totalMs: Math.min(best.totalMs, t.totalMs) };
    }
    const boot = Math.round(best.firstByteMs * 10) / 10, total = Math.round(best.totalMs * 10) / 10;
    return {
      metrics: { boot_ms: boot, run_hello_ms: total },
      lines: [
        `boot_ms: ${boot}  (spawn of \`xenkit run hello.elf\` to the guest's first console byte, best of ${runs})`,
        `run_hello_ms: ${total}  (whole \`xenkit run hello.elf\` process, best of ${runs}; target < 150)`,
      ],
    };
  },
};
