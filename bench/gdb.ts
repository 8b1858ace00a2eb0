/**
 * The debugging benchmark: the waits a user feels in the debug-edit-rebuild
 * loop (docs/gdb.md). A socket client in this process speaks the packets
 * gdb sends (qSupported, QStartNoAckMode, `?`, ...; no-ack mode as gdb uses
 * it) to xenkit's stub (GdbServer over a MachineTarget) on a loopback port.
 * The guest is the template's hello kernel.
 *
 *  - stepi_roundtrip_us: one `s` packet to its stop reply (`T05…`), in
 *    microseconds; the median of STEPS steps from the first instruction,
 *    best run.
 *  - mem_read_mb_s: reading 2 MiB of guest memory (virtual addresses,
 *    through the guest's page tables) with `m` packets as large as the
 *    stub's PacketSize allows; best run.
 *  - reboot_ms: watch mode (`xenkit run --watch --build true`, in this
 *    process): from the watcher's change detection to the rebooted guest's
 *    first instruction, build time excluded — i.e. from the end of the
 *    build to the first instruction (reading and checking the ELF, building
 *    the new machine). Median of the reboots.
 *  - watch_reboot_ms: the whole wait from the kernel ELF changing on disk to
 *    the first instruction, debounce (50 ms) and the no-op build included;
 *    best of the reboots.
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

/** Undo the stub's run-length encoding: `X*n` repeats X (n - 29) more times (as gdb does). */
function unRle(p: string): string {
  if (!p.includes('*')) return p;
  let out = '';
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*' && out.length > 0 && i + 1 < p.length) {
      out += out[out.length - 1]!.repeat(p.charCodeAt(i + 1) - 29);
      i++;
    } else {
      out += p[i];
    }
  }
  return out;
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
      const payload = unRle(this.buf.slice(start + 1, hash));
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

/** Median µs per `s` round trip over STEPS steps of a fresh machine, and the `m` read rate (MB/s). */
async function stepRun(kernelFile: string): Promise<{ stepUs: number; mbs: number }> {
  const kernel = inspectKernel(new Uint8Array(readFileSync(kernelFile)), kernelFile);
  const machine = new Machine({ kernel, memory: 32 << 20, console: { write: () => undefined } });
  const target = new MachineTarget({ machine, waitForDebugger: true });
  target.start();
  const server = new GdbServer({ target, createListener: (cb) => net.createServer(cb) });
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const sock = await connect(port);
  try {
    const c = new RspClient(sock);
    const features = await c.request('qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;vContSupported+');
    const ps = /PacketSize=([0-9a-fA-F]+)/.exec(features);
    const packetSize = ps === null ? 4096 : parseInt(ps[1]!, 16);
    if (await c.request('QStartNoAckMode') !== 'OK') throw new BenchFailure('the stub refused QStartNoAckMode');
    c.noAck = true;
    const first = await c.request('?');
    if (!first.startsWith('T05')) throw new BenchFailure(`unexpected first stop reply ${first}`);
    const start = machine.cpu.icount;
    const times: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t0 = process.hrtime.bigint();
      const r = await c.request('s');
      times.push(Number(process.hrtime.bigint() - t0) / 1e3);
      if (!r.startsWith('T05')) throw new BenchFailure(`step ${i}: unexpected reply ${r}`);
    }
    if (machine.cpu.icount - start !== STEPS) throw new BenchFailure(`${STEPS} steps retired ${machine.cpu.icount - start} instructions`);
    times.sort((a, b) => a - b);
    const stepUs = times[Math.floor(times.length / 2)]!;
    // Memory: 2 MiB from the kernel's start with the largest `m` the stub allows.
    const base = kernel.kstart >>> 0, total = 2 << 20;
    const chunk = Math.floor((packetSize - 16) / 2);
    const t1 = process.hrtime.bigint();
    for (let off = 0; off < total; off += chunk) {
      const len = Math.min(chunk, total - off);
      const r = await c.request(`m${(base + off).toString(16)},${len.toString(16)}`);
      if (r.length !== len * 2) throw new BenchFailure(`m at 0x${(base + off).toString(16)}: got ${r.slice(0, 8)}… (${r.length / 2} bytes)`);
    }
    const mbs = total / 1e6 / (Number(process.hrtime.bigint() - t1) / 1e9);
    return { stepUs, mbs };
  } finally {
    sock.destroy();
    await server.close();
    target.shutdown();
  }
}

/** Called when the watcher reports a finished build (set by rebootRuns). */
let onBuilt: (() => void) | null = null;

/** A fake terminal for the in-process `xenkit run --watch`. */
function quietHost(): RunHost & { stop(): void; err: () => string } {
  let handler: (() => void) | null = null;
  let err = '';
  return {
    stdout: { write: () => true },
    stderr: {
      write: (c) => {
        const text = typeof c === 'string' ? c : Buffer.from(c).toString();
        if (text.includes('build ok')) onBuilt?.();
        err += text;
        return true;
      },
    },
    env: {},
    onInterrupt(f) { handler = f; return () => { handler = null; }; },
    stop: () => handler?.(),
    err: () => err,
  };
}

/** Reboot latencies (ms) of `runs` ELF changes, after one warm-up change. */
async function rebootRuns(ctx: BenchContext, pv: string, pvh: string, runs: number): Promise<{ total: number[]; afterBuild: number[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'xenkit-bench-watch-'));
  const kernel = join(dir, 'kernel.elf');
  copyFileSync(pv, kernel);
  const images = [readFileSync(pvh), readFileSync(pv)];
  const host = quietHost();
  onBuilt = () => { builtAt = process.hrtime.bigint(); };
  let changedAt = 0n;
  let builtAt = 0n;
  let onFirst: ((ms: number, sinceBuild: number) => void) | null = null;
  const status = debugRunCommand('kernel.elf', { memory: '32M', cmdline: '', watch: true, build: 'true', console: 'stdio' }, host, {
    cwd: dir,
    slice: 10_000,
    onReboot: (m) => {
      // The rebooted guest's first instruction runs in its machine's first step().
      const step = m.step.bind(m);
      m.step = (budget) => {
        m.step = step;
        const now = process.hrtime.bigint();
        onFirst?.(Number(now - changedAt) / 1e6, Number(now - builtAt) / 1e6);
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
  const out: number[] = [], after: number[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      const got = new Promise<[number, number]>((resolve, reject) => {
        const t = setTimeout(() => reject(new BenchFailure(`no reboot within 10 s:\n${host.err()}`)), 10_000);
        onFirst = (ms, sinceBuild) => { clearTimeout(t); resolve([ms, sinceBuild]); };
      });
      // Let the previous guest run a little first (a user saves while the guest runs).
      await new Promise((r) => setTimeout(r, 100));
      changedAt = process.hrtime.bigint();
      writeFileSync(kernel, images[i % 2]!);
      const [ms, sinceBuild] = await got;
      if (i > 0) {
        out.push(ms);
        after.push(sinceBuild);
        ctx.progress(`reboot ${i}/${runs}: ${sinceBuild.toFixed(1)} ms after the build, ${ms.toFixed(1)} ms after the change on disk`);
      }
    }
  } finally {
    host.stop();
    await status;
    rmSync(dir, { recursive: true, force: true });
    onBuilt = null;
  }
  return { total: out, afterBuild: after };
}

export const gdbBenchmark: Benchmark = {
  name: 'gdb',
  description: 'gdb stub: stepi round trip, memory reads; watch-mode reboot latency',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const pv = helloKernel(ctx);
    const pvh = join(pv, '..', 'kernel-pvh.elf');
    await stepRun(pv); // warm-up (JIT)
    let step = Infinity, mbs = 0;
    for (let i = 0; i < ctx.runs; i++) {
      const r = await stepRun(pv);
      ctx.progress(`run ${i + 1}/${ctx.runs}: ${r.stepUs.toFixed(1)} µs per stepi (median), m reads ${r.mbs.toFixed(1)} MB/s`);
      step = Math.min(step, r.stepUs);
      mbs = Math.max(mbs, r.mbs);
    }
    const { total, afterBuild } = await rebootRuns(ctx, pv, pvh, Math.max(ctx.runs, 5));
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const r1 = (x: number): number => Math.round(x * 10) / 10;
    const stepUs = r1(step), memMbs = r1(mbs), rebootMs = r1(med(afterBuild)), watchMs = r1(Math.min(...total));
    return {
      metrics: { stepi_roundtrip_us: stepUs, mem_read_mb_s: memMbs, reboot_ms: rebootMs, watch_reboot_ms: watchMs },
      lines: [
        `stepi_roundtrip_us: ${stepUs}  (one \`s\` packet to its stop reply over loopback TCP, median of ${STEPS}, best of ${ctx.runs}; target < 150)`,
        `mem_read_mb_s: ${memMbs}  (2 MiB of guest memory with the largest \`m\` packets, best of ${ctx.runs}; target >= 30)`,
        `reboot_ms: ${rebootMs}  (watch mode: change detected and built → rebooted guest's first instruction, build time excluded, median of ${afterBuild.length}; target < 50)`,
        `watch_reboot_ms: ${watchMs}  (kernel ELF changed on disk → first instruction, 50 ms debounce and the no-op build included, best of ${total.length})`,
      ],
    };
  },
};
