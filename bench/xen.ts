/**
 * Xen-layer benchmark: the cost of talking to xenkit's backends from a
 * guest built with the template (bench/xen/xenbench.c, built into
 * bench/.build/xenbench with the template's Makefile).
 *
 *  - evtchn_roundtrip_us: one guest → backend → guest round trip: the guest
 *    writes a byte into the console ring and sends on the console event
 *    channel; the console backend consumes it and notifies; the upcall
 *    wakes the guest from SCHEDOP_block.
 *  - xenstore_ops_per_s: xenstore requests per second when the guest does
 *    WRITE + READ pairs on data/bench through its xenbus client.
 *
 * Each figure is differential: the same guest runs a short loop (100
 * iterations) and a long one (20000), in-process on a Machine with the
 * deterministic clock (idle time costs nothing), and the difference in
 * wall time is divided by the difference in iterations, so boot and power
 * off cancel out. Best of the timed runs after one warm-up.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { inspectKernel, type KernelImage } from '../src/loader/kernel.js';
import { Machine } from '../src/vmm/machine.js';
import { BenchFailure, type BenchContext, type BenchResult, type Benchmark } from './types.js';

const SHORT = 100, LONG = 20000;

function build(ctx: BenchContext): KernelImage {
  const out = join(ctx.root, 'bench', '.build', 'xenbench');
  ctx.progress('building the Xen benchmark guest (make APP=bench/xen/xenbench.c)');
  rmSync(out, { recursive: true, force: true });
  try {
    execFileSync('make', ['-s', '-C', join(ctx.root, 'templates', 'minios'), `APP=${join(ctx.root, 'bench', 'xen', 'xenbench.c')}`, `O=${out}`, 'pv'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new BenchFailure(`cannot build the benchmark guest (gcc -m32 and make needed; try \`xenkit doctor\`): ${(e as Error).message.split('\n')[0]}`);
  }
  return inspectKernel(new Uint8Array(readFileSync(join(out, 'kernel.elf'))), 'xenbench.elf');
}

/** Wall time (ms) of one whole run with `cmdline`; fails unless the guest finished its loop and powered off. */
function timeRun(k: KernelImage, cmdline: string): number {
  let tail = '';
  const m = new Machine({ kernel: k, cmdline, console: { write: (b) => { tail = (tail + Buffer.from(b).toString('latin1')).slice(-200); } } });
  const t0 = process.hrtime.bigint();
  const e = m.runToEnd(4_000_000_000);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (e === null || e.kind !== 'shutdown' || e.reason !== 0 || !tail.includes('xenbench: done')) {
    throw new BenchFailure(`benchmark guest (${cmdline}) did not finish: ${JSON.stringify(e)} ${JSON.stringify(tail.slice(-80))}`);
  }
  return ms;
}

/** Best per-iteration time (ms) of `mode` over the runs. */
function perIteration(ctx: BenchContext, k: KernelImage, mode: string): number {
  timeRun(k, `${mode} short`);
  timeRun(k, mode); // warm-up
  let best = Infinity;
  for (let i = 0; i < ctx.runs; i++) {
    const d = (timeRun(k, mode) - timeRun(k, `${mode} short`)) / (LONG - SHORT);
    ctx.progress(`${mode}: run ${i + 1}/${ctx.runs}: ${(d * 1000).toFixed(2)} µs per iteration`);
    best = Math.min(best, d);
  }
  return best;
}

export const xenBenchmark: Benchmark = {
  name: 'xen',
  description: 'guest ↔ backend event-channel round trips and xenstore operations',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const k = build(ctx);
    const rt = perIteration(ctx, k, 'evtchn');
    const pair = perIteration(ctx, k, 'xs');
    const us = Math.round(rt * 1000 * 100) / 100;
    const ops = Math.round(2 / (pair / 1000));
    return {
      metrics: { evtchn_roundtrip_us: us, xenstore_ops_per_s: ops },
      lines: [
        `evtchn_roundtrip_us: ${us}  (guest send on the console channel → backend → upcall back into the guest; best of ${ctx.runs})`,
        `xenstore_ops_per_s: ${ops}  (guest xenstore WRITE + READ pairs through the store ring; best of ${ctx.runs})`,
      ],
    };
  },
};
