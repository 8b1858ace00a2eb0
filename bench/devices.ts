/**
 * Device benchmark: the paravirtual block and network paths, from a guest
 * built with the template (bench/devices/blkbench.c and netbench.c, built
 * into bench/.build/ with the template's Makefile) to xenkit's backends.
 *
 *  - blk_read_mb_s / blk_write_mb_s: the guest reads (writes) its disk
 *    sequentially, 64 KiB per blk_read (blk_write), through the blkif ring
 *    to Blkback over the CLI's file BlockHost. The image is a temporary
 *    file written just before, so it is in the host's page cache.
 *  - net_pps / net_mb_s: two domains in one process, each a Machine with a
 *    vif on the same in-process switch (`switch:`, one shared NetHost);
 *    guest A sends K Ethernet frames of 64 (net_pps) or 1500 bytes
 *    (net_mb_s, frame bytes) to guest B, which counts them and
 *    acknowledges every 16 (A keeps at most 128 unacknowledged, so no
 *    queue overflows and nothing is lost). The two machines are stepped
 *    alternately in slices until both powered off.
 *
 * Every figure is differential like bench/xen.ts: the same run with a
 * short and a long amount, deterministic clock (idle time costs nothing),
 * and the wall-time difference divided by the difference in work, so boot,
 * handshakes and power-off cancel out. Best of the timed runs after one
 * warm-up.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlockHost } from '../src/cli/block-host.js';
import { inspectKernel, type KernelImage } from '../src/loader/kernel.js';
import { Machine } from '../src/vmm/machine.js';
import { assignDisks } from '../src/vmm/devices/block/config.js';
import { NetSwitch, createNetPort, parseNetSpec, type NetHost } from '../src/vmm/devices/net/index.js';
import { BenchFailure, type BenchContext, type BenchResult, type Benchmark } from './types.js';

/** MiB moved by the short and the long block run; the image is IMAGE_MB (the guest wraps around). */
const BLK_SHORT_MB = 8, BLK_LONG_MB = 72, IMAGE_MB = 64;
/** Frames sent by the short and the long network run, per frame size. */
const NET_FRAMES: Record<number, { short: number; long: number }> = {
  64: { short: 500, long: 10500 },
  1500: { short: 500, long: 6500 },
};
/** Instructions per machine per turn when two machines are stepped alternately. */
const SLICE = 200_000;
const MAX_TURNS = 20_000;
const SINK_MAC = '02:00:00:00:00:0b', SENDER_MAC = '02:00:00:00:00:0a';

function build(ctx: BenchContext, app: string): KernelImage {
  const out = join(ctx.root, 'bench', '.build', app);
  ctx.progress(`building the device benchmark guest (make APP=bench/devices/${app}.c)`);
  rmSync(out, { recursive: true, force: true });
  try {
    execFileSync('make', ['-s', '-C', join(ctx.root, 'templates', 'minios'), `APP=${join(ctx.root, 'bench', 'devices', `${app}.c`)}`, `O=${out}`, 'pv'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new BenchFailure(`cannot build the benchmark guest (gcc -m32 and make needed; try \`xenkit doctor\`): ${(e as Error).message.split('\n')[0]}`);
  }
  return inspectKernel(new Uint8Array(readFileSync(join(out, 'kernel.elf'))), `${app}.elf`);
}

/** A console sink keeping the last bytes. */
function consoleTail(): { write(b: Uint8Array): void; text(): string } {
  let tail = '';
  return { write: (b) => { tail = (tail + Buffer.from(b).toString('latin1')).slice(-300); }, text: () => tail };
}

/** An image of IMAGE_MB whose 64 KiB chunks start with their number (little-endian), written now (page cache). */
function makeImage(path: string): void {
  const chunk = Buffer.alloc(64 * 1024, 0xc3);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < IMAGE_MB * 16; i++) {
      chunk.writeUInt32LE(i, 0);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
}

/** Wall time (ms) of one block run. */
function timeBlk(k: KernelImage, image: string, mode: 'read' | 'write', mb: number): number {
  const con = consoleTail();
  const m = new Machine({ kernel: k, cmdline: `${mode} mb=${mb}`, console: con });
  const [disk] = assignDisks([{ path: image, readonly: false }]);
  const host = openBlockHost(image, false);
  try {
    m.addDisk(disk!, host);
    const t0 = process.hrtime.bigint();
    const e = m.runToEnd(20_000_000_000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (e === null || e.kind !== 'shutdown' || e.reason !== 0 || !con.text().includes('blkbench: done')) {
      throw new BenchFailure(`block benchmark guest (${mode} mb=${mb}) did not finish: ${JSON.stringify(e)} ${JSON.stringify(con.text().slice(-120))}`);
    }
    return ms;
  } finally {
    m.close();
  }
}

/** A NetHost for in-process switches only (no sockets, no capture files). */
function switchHost(): NetHost {
  return {
    udp: () => Promise.reject(new Error('the device benchmark uses no sockets')),
    openPcap: () => { throw new Error('the device benchmark writes no capture files'); },
    now: () => Date.now(),
    switches: new Map<string, NetSwitch>(),
  };
}

/** Wall time (ms) of one network run: `frames` frames of `size` bytes from one guest to the other. */
async function timeNet(k: KernelImage, size: number, frames: number): Promise<number> {
  const host = switchHost();
  const sinkCon = consoleTail(), sendCon = consoleTail();
  const sink = new Machine({ kernel: k, cmdline: `sink n=${frames}`, console: sinkCon, name: 'netbench-sink' });
  const sender = new Machine({
    kernel: k, cmdline: `send n=${frames} size=${size} peer=${SINK_MAC}`, console: sendCon, name: 'netbench-send',
  });
  try {
    for (const [m, mac, guest] of [[sink, SINK_MAC, 0], [sender, SENDER_MAC, 1]] as const) {
      const config = parseNetSpec(`switch:bench,mac=${mac}`, { index: 0, kernelPath: '/bench/netbench', guest });
      m.addNic(config, await createNetPort(config, host));
    }
    const t0 = process.hrtime.bigint();
    let turns = 0;
    while ((sink.exit === null || sender.exit === null) && turns++ < MAX_TURNS) {
      sender.step(SLICE);
      sink.step(SLICE);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    for (const [m, con, what] of [[sink, sinkCon, 'sink'], [sender, sendCon, 'sender']] as const) {
      const e = m.exit;
      if (e === null || e.kind !== 'shutdown' || e.reason !== 0 || !con.text().includes('netbench: done')) {
        throw new BenchFailure(`network benchmark ${what} (${frames} frames of ${size} bytes) did not finish: ${JSON.stringify(e)} ${JSON.stringify(con.text().slice(-120))}`);
      }
    }
    if (!sinkCon.text().includes(`netbench: received ${frames} frames`)) {
      throw new BenchFailure(`network benchmark sink did not count ${frames} frames: ${JSON.stringify(sinkCon.text().slice(-120))}`);
    }
    return ms;
  } finally {
    sink.close();
    sender.close();
  }
}

/** Best differential rate (work units per second) over the runs. */
async function bestRate(
  ctx: BenchContext, label: string, short: number, long: number, unit: string, time: (amount: number) => Promise<number> | number,
): Promise<number> {
  await time(short);
  await time(long); // warm-up
  let best = 0;
  for (let i = 0; i < ctx.runs; i++) {
    const dms = (await time(long)) - (await time(short));
    const rate = dms > 0 ? (long - short) / (dms / 1000) : Infinity;
    ctx.progress(`${label}: run ${i + 1}/${ctx.runs}: ${rate.toFixed(1)} ${unit}`);
    best = Math.max(best, rate);
  }
  if (!Number.isFinite(best)) throw new BenchFailure(`${label}: the long run was not slower than the short one`);
  return best;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export const devicesBenchmark: Benchmark = {
  name: 'devices',
  description: 'guest block I/O through blkif and guest-to-guest frames through netif and the in-process switch',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const blk = build(ctx, 'blkbench');
    const net = build(ctx, 'netbench');
    const dir = mkdtempSync(join(tmpdir(), 'xenkit-bench-'));
    let read: number, write: number;
    try {
      const image = join(dir, 'disk.img');
      makeImage(image);
      read = await bestRate(ctx, 'blk read', BLK_SHORT_MB, BLK_LONG_MB, 'MiB/s', (mb) => timeBlk(blk, image, 'read', mb));
      write = await bestRate(ctx, 'blk write', BLK_SHORT_MB, BLK_LONG_MB, 'MiB/s', (mb) => timeBlk(blk, image, 'write', mb));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const small = NET_FRAMES[64]!, big = NET_FRAMES[1500]!;
    const pps = await bestRate(ctx, 'net 64-byte', small.short, small.long, 'frames/s', (n) => timeNet(net, 64, n));
    const bigPps = await bestRate(ctx, 'net 1500-byte', big.short, big.long, 'frames/s', (n) => timeNet(net, 1500, n));
    // MB/s in decimal megabytes for the network (frame bytes), MiB-based MB/s for the disk (64 KiB requests).
    const metrics = {
      blk_read_mb_s: round1(read), blk_write_mb_s: round1(write),
      net_pps: Math.round(pps), net_mb_s: round1((bigPps * 1500) / 1e6),
    };
    return {
      metrics,
      lines: [
        `blk_read_mb_s: ${metrics.blk_read_mb_s}  (guest sequential 64 KiB blk_read through the ring, image in the page cache, MiB/s; best of ${ctx.runs})`,
        `blk_write_mb_s: ${metrics.blk_write_mb_s}  (guest sequential 64 KiB blk_write through the ring, image in the page cache, MiB/s; best of ${ctx.runs})`,
        `net_pps: ${metrics.net_pps}  (guest-to-guest 64-byte frames over an in-process switch; best of ${ctx.runs})`,
        `net_mb_s: ${metrics.net_mb_s}  (guest-to-guest 1500-byte frames over an in-process switch, 10^6 bytes/s; best of ${ctx.runs})`,
      ],
    };
  },
};
