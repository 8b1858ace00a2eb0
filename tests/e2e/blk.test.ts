/**
 * The template's block frontend (kernel/blkfront.c) against the VMM's
 * blkback, end to end, as a PV and as a PVH guest, on disks held in
 * memory (MemoryBlockHost) and attached with Machine.addDisk:
 *  - tests/guests/blk.c: a writable disk written whole through every
 *    kind of buffer and call size, flushed, read back, discarded, closed
 *    and reopened; a read-only disk read and refused writes. Then the
 *    image itself must hold what the guest wrote (the same pattern
 *    function on both sides), the flushes must have reached the host,
 *    and both devices must be Closed (the guest closed them).
 *  - the same guest when the backend refuses the connection (its reason
 *    is printed) or does not exist (blk_open times out);
 *  - app/blkdemo.c: the demo's verdict on a writable and a read-only
 *    disk, the disk left as it was; with no disk, SKIP.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { inspectKernel } from '../../src/loader/kernel.js';
import { Machine } from '../../src/vmm/machine.js';
import { assignDisks, type DiskConfig } from '../../src/vmm/devices/block/config.js';
import { MemoryBlockHost } from '../../src/vmm/devices/block/disk.js';
import { XsClient } from '../../src/vmm/devices/xenstore/index.js';
import { addBlockDevice } from '../../src/vmm/devices/block/blkback.js';
import {
  GUEST_MEMORY, MAX_INSTRUCTIONS, buildGuest, expectSuccess, explain, verdict, type BootResult,
  type GuestKernels,
} from './guests.js';

const RW_SEED = 0x5eed0001, RO_SEED = 0x0b5e55ed;
const RW_SECTORS = 2048, RO_SECTORS = 256;
const DISCARD_AT = 300, DISCARD_COUNT = 50;

/** The word at byte `offset` of a disk filled with `seed` (tests/guests/blk.c: pattern_word). */
function patternWord(offset: number, seed: number): number {
  return (Math.imul(offset >>> 2, 0x9e3779b1) ^ seed) >>> 0;
}

function patternDisk(sectors: number, seed: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  const dv = new DataView(b.buffer);
  for (let o = 0; o < b.length; o += 4) dv.setUint32(o, patternWord(o, seed), true);
  return b;
}

interface DeviceStates { front?: string | undefined; ringRef?: string | undefined; back?: string | undefined }

interface Disk { spec: { path: string; readonly: boolean }; host: MemoryBlockHost }

/** Boot `elf` with `disks` attached (Machine.addDisk) and run it to its end. */
function bootWithDisks(
  elf: string, disks: Disk[], cmdline = '', setup?: (m: Machine, frontends: string[]) => void,
): BootResult & { states: DeviceStates[] } {
  const kernel = inspectKernel(new Uint8Array(readFileSync(elf)), elf);
  const decoder = new TextDecoder();
  let text = '';
  const machine = new Machine({
    kernel, memory: GUEST_MEMORY, cmdline, console: { write: (bytes) => { text += decoder.decode(bytes, { stream: true }); } },
  });
  const configs: DiskConfig[] = assignDisks(disks.map((d) => d.spec));
  const logs: string[] = [];
  const frontends = configs.map((c, i) => {
    machine.addDisk(c, disks[i]!.host, (m) => logs.push(m));
    return `/local/domain/${machine.domain.domid}/device/vbd/${c.devid}`;
  });
  setup?.(machine, frontends);
  const start = machine.cpu.icount;
  const exit = machine.runToEnd(MAX_INSTRUCTIONS);
  text += decoder.decode();
  // The device states as the guest left them (closing the machine closes the backends).
  const xs = new XsClient(machine.xenstore, 0);
  const states = frontends.map((f) => ({
    front: xs.tryRead(`${f}/state`), ringRef: xs.tryRead(`${f}/ring-ref`),
    back: xs.tryRead(`${xs.tryRead(`${f}/backend`) ?? '/nowhere'}/state`),
  }));
  xs.close();
  machine.close();
  const out = text.replace(/\r\n/g, '\n') + (logs.length > 0 ? `\n[backend log]\n${logs.join('\n')}\n` : '');
  return { exit, out, machine, instructions: machine.cpu.icount - start, states };
}

let blk: GuestKernels;
let demo: GuestKernels;
beforeAll(() => {
  blk = buildGuest('blk.c');
  demo = buildGuest(join('..', '..', 'templates', 'minios', 'app', 'blkdemo.c'));
});

describe('blkfront guest (tests/guests/blk.c)', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: handshake, every buffer shape, flush, discard, reopen, read-only disk`, () => {
      const rw = new MemoryBlockHost(RW_SECTORS * 512, false, { trackStable: true });
      const ro = new MemoryBlockHost(patternDisk(RO_SECTORS, RO_SEED), true);
      const r = bootWithDisks(blk[type], [
        { spec: { path: 'rw.img', readonly: false }, host: rw },
        { spec: { path: 'ro.img', readonly: true }, host: ro },
      ]);
      const why = explain(r);
      expectSuccess(r);
      expect(r.out, why).toMatch(/^blk: device\/vbd\/51712: devid 51712, backend \/local\/domain\/0\/backend\/vbd\/1\/51712 \(domain 0\), 2048 sectors of 512, info 0, rw, flush 1 barrier 1 discard 1$/m);
      expect(r.out, why).toMatch(/^blk: device\/vbd\/51728: devid 51728, 256 sectors, info 0x4, ro, discard 0$/m);
      expect(r.out, why).toContain('blk: wrote, flushed and verified 2048 sectors\n');
      expect(r.out, why).toContain('blk: closed, reopened and closed again\n');

      // The image holds the pattern, except the discarded sectors (zeros) — and, flushed, so does stable storage.
      const want = patternDisk(RW_SECTORS, RW_SEED);
      want.fill(0, (DISCARD_AT + 1) * 512, (DISCARD_AT + DISCARD_COUNT) * 512);
      const firstDiff = (a: Uint8Array) => a.findIndex((b, i) => b !== want[i]);
      expect(firstDiff(rw.data), why).toBe(-1);
      expect(firstDiff(rw.stable!), why).toBe(-1);
      expect(rw.flushes, why).toBeGreaterThanOrEqual(2);
      expect(rw.discards, why).toBe(1);
      // The read-only image is untouched.
      expect(ro.writes + ro.discards, why).toBe(0);
      expect(ro.data).toEqual(patternDisk(RO_SECTORS, RO_SEED));

      // Both devices were closed (Closed on both sides, the ring keys gone).
      expect(r.states, why).toEqual([
        { front: '6', ringRef: undefined, back: '6' },
        { front: '6', ringRef: undefined, back: '6' },
      ]);
    });
  }
});

describe('blkfront when the backend fails', () => {
  it('a backend that refuses the connection: blk_open is -EIO and prints the backend\'s reason', () => {
    const r = bootWithDisks(blk.pv, [{ spec: { path: 'rw.img', readonly: false }, host: new MemoryBlockHost(64 * 512) }], 'refused', (m, fronts) => {
      // A multi-page ring the frontend never asked for: blkback refuses it.
      const xs = new XsClient(m.xenstore, 0);
      xs.write(`${fronts[0]}/ring-page-order`, '2');
      xs.close();
    });
    const why = explain(r);
    expectSuccess(r);
    expect(r.out, why).toContain('blkfront: device/vbd/51712: the backend refused to connect (state 5)\n');
    expect(r.out, why).toMatch(/^blkfront: device\/vbd\/51712: the backend says: ring-page-order "2": only single-page rings are supported$/m);
    expect(r.states, why).toEqual([{ front: '6', ringRef: undefined, back: '6' }]);
  });

  it('no backend at all: blk_open gives up after BLK_TIMEOUT_NS with -ETIMEDOUT', () => {
    const r = bootWithDisks(blk.pvh, [], 'silent', (m) => {
      // The toolstack's entries, with no backend behind them.
      addBlockDevice(m.xenstore, m.domain.domid, assignDisks([{ path: 'x', readonly: false }])[0]!);
    });
    const why = explain(r);
    expectSuccess(r);
    expect(r.out, why).toMatch(/^blkfront: device\/vbd\/51712: the backend \/local\/domain\/0\/backend\/vbd\/1\/51712 is not ready \(-110\)$/m);
  });
});

describe('blkdemo (app/blkdemo.c)', () => {
  for (const type of ['pv', 'pvh'] as const) {
    it(`${type.toUpperCase()}: writes, flushes, reads back and verifies, and restores the disk`, () => {
      const before = patternDisk(512, 0x1234);
      const rw = new MemoryBlockHost(before.slice(), false, { trackStable: true });
      const ro = new MemoryBlockHost(new Uint8Array(64 * 512).fill(0x41), true);
      const r = bootWithDisks(demo[type], [
        { spec: { path: 'rw.img', readonly: false }, host: rw },
        { spec: { path: 'ro.img', readonly: true }, host: ro },
      ]);
      const why = explain(r);
      expectSuccess(r);
      expect(r.out, why).toContain('blkdemo: 2 disks\n');
      expect(r.out, why).toContain('blkdemo: device/vbd/51712 (backend /local/domain/0/backend/vbd/1/51712, domain 0): 512 sectors (0 MiB), 512-byte sectors, read-write\n');
      expect(r.out, why).toContain('blkdemo: device/vbd/51712: info 0, flush yes, barrier yes, discard yes\n');
      expect(r.out, why).toContain('blkdemo: device/vbd/51712: exercising sectors 224-287 (saved first, restored at the end)\n');
      expect(r.out, why).toMatch(/^blkdemo: device\/vbd\/51712: wrote, flushed and read back 64 sectors \(32 KiB\) in \d+ us: verified$/m);
      expect(r.out, why).toContain('blkdemo:   0000  62 6c 6b 64 65 6d 6f 20 73 65 63 74 6f 72 20 32  |blkdemo sector 2|\n');
      expect(r.out, why).toContain('blkdemo: device/vbd/51712: the saved sectors are back\n');
      expect(r.out, why).toContain('blkdemo: device/vbd/51728: read-only: writing is refused (-EROFS), as it should be\n');
      expect(r.out, why).toContain('blkdemo:   0000  41 41 41 41');
      // The disk is as it was, and the pattern did go through the disk (3 writes: pattern, restore).
      expect(rw.data).toEqual(before);
      expect(rw.writes, why).toBeGreaterThanOrEqual(2);
      expect(rw.flushes, why).toBeGreaterThanOrEqual(2);
    });
  }

  it('says SKIP with no disk (and does not wait)', () => {
    const r = bootWithDisks(demo.pv, []);
    const why = explain(r);
    expect(r.out, why).toContain('blkdemo: 0 disks\n');
    expect(verdict(r.out), why).toBe('SKIP');
    expect(r.exit, why).toEqual({ kind: 'shutdown', reason: 0 });
  });
});
