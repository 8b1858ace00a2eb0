/**
 * The debugging benchmark: the two waits a user feels in the
 * debug-edit-rebuild loop (docs/gdb.md).
 *
 *  - gdb_step_us: one `stepi` round trip over the gdb remote protocol, in
 *    microseconds: a socket client in this process speaks the packets gdb
 *    sends (qSupported, QStartNoAckMode, `?`, then `vCont;s:1` per step,
 *    no-ack mode as gdb uses it) to xenkit's stub (GdbServer over a
 *    MachineTarget) on a loopback port, and waits for each stop reply
 *    (`T05…`). The guest is the template's hello kernel, stepped from its
 *    first instruction. Reported: the average over STEPS steps, best of the
 *    runs.
 *  - watch_reboot_ms: from a kernel ELF changing on disk to the rebooted
 *    guest's first instruction, in watch mode (`xenkit run --watch --build
 *    true`, in this process, the default debounce): the kernel file is
 *    overwritten with another build (the PV and PVH hello kernels in
 *    turn), the watcher sees it, runs the no-op build, reads and checks the
 *    ELF, builds the new machine and the guest executes. Best of the runs.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debugRunCommand } from '../src/cli/debug-run.js';
import type { RunHost } from '../src/cli/run.js';
import { GdbServer } from '../src/gdbstub/index.js';
import { inspectKernel } from '../src/loader/kernel.js';
import { MachineTarget } from '../src/vmm/debug-target.js';
import { Machine } from '../src/vmm/machine.js';
import { helloKernel } from './boot.js';
import { BenchFailure, type BenchContext, type BenchResult, type Benchmark } from './types.js';

/** Steps per timed run. */
const STEPS = 2000;

function checksum(s: string): string {
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum = (sum + s.charCodeAt(i)) & 0xff;
  return sum.toString(16).padStart(2, '0');
}

/** A minimal gdb-side RSP client: send a packet, await the next reply packet. */
class RspClient {
  private buf = '';
  private waiting: ((payload: string) => void) | null = null;
  noAck = false;

  constructor(private readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString('latin1');
      this.pump();
    });
  }

  private pump(): void {
    for (;;) {
      while (this.buf.startsWith('+') || this.buf.startsWith('-')) this.buf = this.buf.slice(1);
      const start = this.buf.indexOf('$');
      if (start < 0) return;
      const hash = this.buf.indexOf('#', start);
      if (hash < 0 || this.buf.length < hash + 3) return;
      const payload = this.buf.slice(start + 1, hash);
      this.buf = this.buf.slice(hash + 3);
      if (!this.noAck) this.sock.write('+');
      const w = this.waiting;
      this.waiting = null;
      w?.(payload);
    }
  }

  request(payload: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.sock.write(`$${payload}#${checksum(payload)}`);
    });
  }
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}

/** Average µs per `vCont;s:1` round trip over STEPS steps of a fresh machine. */
async function stepRun(kernelFile: string): Promise<number> {
  const kernel = inspectKernel(new Uint8Array(readFileSync(kernelFile)), kernelFile);
  const machine = new Machine({ kernel, memory: 32 << 20, console: { write: () => undefined } });
  const target = new MachineTarget({ machine, waitForDebugger: true });
  target.start();
  const server = new GdbServer({ target, createListener: (cb) => net.createServer(cb) });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const sock = await connect(port);
  try {
    const c = new RspClient(sock);
    await c.request('qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+');
    if (await c.request('QStartNoAckMode') !== 'OK') throw new BenchFailure('the stub refused QStartNoAckMode');
    c.noAck = true;
    const first = await c.request('?');
    if (!first.startsWith('T05')) throw new BenchFailure(`unexpected first stop reply ${first}`);
    const start = machine.cpu.icount;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < STEPS; i++) {
      const r = await c.request('vCont;s:1');
      if (!r.startsWith('T05')) throw new BenchFailure(`step ${i}: unexpected reply ${r}`);
    }
    const us = Number(process.hrtime.bigint() - t0) / 1e3 / STEPS;
    if (machine.cpu.icount - start !== STEPS) throw new BenchFailure(`${STEPS} steps retired ${machine.cpu.icount - start} instructions`);
    return us;
  } finally {
    sock.destroy();
    await server.close();
    target.shutdown();
  }
}

/** A fake terminal for the in-process `xenkit run --watch`. */
function quietHost(): RunHost & { stop(): void; err: () => string } {
  let handler: (() => void) | null = null;
  let err = '';
  return {
    stdout: { write: () => true },
    stderr: { write: (c) => { err += typeof c === 'string' ? c : Buffer.from(c).toString(); return true; } },
    env: {},
    onInterrupt(f) { handler = f; return () => { handler = null; }; },
    stop: () => handler?.(),
    err: () => err,
  };
}

/** Reboot latencies (ms) of `runs` ELF changes, after one warm-up change. */
async function rebootRuns(ctx: BenchContext, pv: string, pvh: string, runs: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'xenkit-bench-watch-'));
  const kernel = join(dir, 'kernel.elf');
  copyFileSync(pv, kernel);
  const images = [readFileSync(pvh), readFileSync(pv)];
  const host = quietHost();
  let changedAt = 0n;
  let onFirst: ((ms: number) => void) | null = null;
  const status = debugRunCommand('kernel.elf', { memory: '32M', cmdline: '', watch: true, build: 'true', console: 'stdio' }, host, {
    cwd: dir,
    slice: 10_000,
    onReboot: (m) => {
      // The rebooted guest's first instruction runs in its machine's first step().
      const step = m.step.bind(m);
      m.step = (budget) => {
        m.step = step;
        const ms = Number(process.hrtime.bigint() - changedAt) / 1e6;
        onFirst?.(ms);
        return step(budget);
      };
    },
  });
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (host.err().includes('xenkit: watching')) { clearInterval(t); resolve(); }
    }, 5);
    status.then((s) => { clearInterval(t); reject(new BenchFailure(`xenkit run --watch ended (${s}):\n${host.err()}`)); }, reject);
  });
  await ready;
  const out: number[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      const got = new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new BenchFailure(`no reboot within 10 s:\n${host.err()}`)), 10_000);
        onFirst = (ms) => { clearTimeout(t); resolve(ms); };
      });
      // Let the previous guest run a little first (a user saves while the guest runs).
      await new Promise((r) => setTimeout(r, 100));
      changedAt = process.hrtime.bigint();
      writeFileSync(kernel, images[i % 2]!);
      const ms = await got;
      if (i > 0) {
        out.push(ms);
        ctx.progress(`reboot ${i}/${runs}: ${ms.toFixed(1)} ms`);
      }
    }
  } finally {
    host.stop();
    await status;
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export const gdbBenchmark: Benchmark = {
  name: 'gdb',
  description: 'gdb stub stepi round trip (gdb_step_us) and watch-mode reboot latency (watch_reboot_ms)',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const pv = helloKernel(ctx);
    const pvh = join(pv, '..', 'kernel-pvh.elf');
    await stepRun(pv); // warm-up (JIT)
    let step = Infinity;
    for (let i = 0; i < ctx.runs; i++) {
      const us = await stepRun(pv);
      ctx.progress(`run ${i + 1}/${ctx.runs}: ${us.toFixed(1)} µs per stepi`);
      step = Math.min(step, us);
    }
    const reboots = await rebootRuns(ctx, pv, pvh, Math.max(ctx.runs, 5));
    const sorted = [...reboots].sort((a, b) => a - b);
    const best = sorted[0]!, median = sorted[Math.floor(sorted.length / 2)]!;
    const stepUs = Math.round(step * 10) / 10, rebootMs = Math.round(best * 10) / 10;
    return {
      metrics: { gdb_step_us: stepUs, watch_reboot_ms: rebootMs },
      lines: [
        `gdb_step_us: ${stepUs}  (one stepi round trip, vCont;s:1 → T05 over loopback TCP, average of ${STEPS}, best of ${ctx.runs})`,
        `watch_reboot_ms: ${rebootMs}  (kernel ELF changed on disk → rebooted guest's first instruction, --build true, best of ${reboots.length}; median ${median.toFixed(1)})`,
      ],
    };
  },
};
