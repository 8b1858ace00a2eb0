/**
 * `--disk` and `--net` for `xenkit run`: parse the specs, open the host
 * resources (image files with their writer lock, UDP sockets, pcap files)
 * and attach a block or net backend per device to a Machine. Every mistake
 * (a bad spec, a locked or missing image, a port in use) is a one-line
 * CliError with status 2, raised before the guest starts; whatever was
 * opened before the failure is closed again.
 *
 * Two ways to hand them over:
 *  - `attach(m)`: the backends own the host resources (Blkback its image,
 *    Netback its port) and `Machine.close()` releases them — a plain run;
 *  - `lend(m)`, as often as the guest reboots (watch mode, `monitor
 *    reset`): the backends get leases (src/vmm/devices/lease.ts), each new
 *    machine revoking the previous one's, and the images and ports stay
 *    open (the image lock held) until `close()` at the end of the run.
 */
import { resolve } from 'node:path';
import { CliError } from './errors.js';
import { lockPathOf, openBlockHost } from './block-host.js';
import { nodeNetHost } from './net-host.js';
import { assignDisks, parseDiskSpec, DiskConfigError, type DiskConfig } from '../vmm/devices/block/config.js';
import { BlockHostError, type BlockHost } from '../vmm/devices/block/disk.js';
import { createNetPort, parseNetSpecs, NetSpecError, type NetConfig, type NetHost, type NetPort } from '../vmm/devices/net/index.js';
import { SharedBlockHost, SharedNetPort } from '../vmm/devices/lease.js';
import type { Machine } from '../vmm/machine.js';

export interface DeviceArgs {
  disk?: string[];
  net?: string[];
}

/** Devices opened on the host, ready to attach to one machine. */
export interface OpenDevices {
  /** Attach every device to `m` (the backends take over the host resources). */
  attach(m: Machine): void;
  /** Attach every device to `m` on a lease; the previous machine lent to loses its own. Repeatable. */
  lend(m: Machine): void;
  /** Close whatever no machine owns: all of it unless `attach` was called (attached devices close with `Machine.close()`). */
  close(): void;
  /** The host files the devices write (absolute): images, their lock files, captures. Watch mode ignores them. */
  readonly files: readonly string[];
}

let sharedNetHost: NetHost | null = null;

function oneLine(e: unknown): never {
  if (e instanceof DiskConfigError || e instanceof NetSpecError || e instanceof BlockHostError) throw new CliError(e.message);
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string') throw new CliError(e.message);
  throw e;
}

/** Validate the specs (no host resources touched): throws CliError. `guest`: the guest's ordinal in this process (keeps generated MACs apart). */
export function parseDevices(args: DeviceArgs, kernelPath: string, guest = 0): { disks: DiskConfig[]; nets: NetConfig[] } {
  try {
    const disks = assignDisks((args.disk ?? []).map(parseDiskSpec));
    const nets = parseNetSpecs(args.net ?? [], { kernelPath: resolve(kernelPath), guest });
    return { disks, nets };
  } catch (e) {
    return oneLine(e);
  }
}

/**
 * Open the images and network ports for one machine (`guest`: as for
 * parseDevices). `warn` hears about this machine's devices; `hostWarn`
 * about the process's sockets, which several guests share (the first call
 * that needs them sets it).
 */
export async function openDevices(
  args: DeviceArgs, kernelPath: string, warn: (msg: string) => void, guest = 0, hostWarn: (msg: string) => void = warn,
): Promise<OpenDevices> {
  const { disks, nets } = parseDevices(args, kernelPath, guest);
  const hosts: BlockHost[] = [];
  const ports: NetPort[] = [];
  // Captures follow the guest's own clock when it is deterministic (reproducible pcap files), else the host's.
  let captureClock: (() => number) | null = null;
  const closeAll = (): void => {
    for (const h of hosts.splice(0)) { try { h.close(); } catch { /* best effort */ } }
    for (const p of ports.splice(0)) { try { p.close(); } catch { /* best effort */ } }
  };
  try {
    for (const d of disks) hosts.push(openBlockHost(d.path, d.readonly));
    if (nets.length > 0) {
      sharedNetHost ??= nodeNetHost({ warn: hostWarn });
      const host = sharedNetHost;
      for (const c of nets) {
        ports.push(await createNetPort(c, host, { captureClock: () => (captureClock !== null ? captureClock() : host.now()) }));
      }
    }
  } catch (e) {
    closeAll();
    return oneLine(e);
  }
  let attached = false;
  let shared: { disks: SharedBlockHost[]; ports: SharedNetPort[] } | null = null;
  const add = (m: Machine, blockHosts: BlockHost[], netPorts: NetPort[]): void => {
    captureClock = m.domain.time.deterministic ? () => guestWallMs(m) : null;
    disks.forEach((d, i) => m.addDisk(d, blockHosts[i]!, (msg) => warn(`disk ${d.vdev}: ${msg}`)));
    nets.forEach((c, i) => m.addNic(c, netPorts[i]!, (msg) => warn(`vif${c.index}: ${msg}`)));
  };
  return {
    files: [
      ...disks.flatMap((d) => (d.readonly ? [resolve(d.path)] : [resolve(d.path), lockPathOf(d.path)])),
      ...nets.flatMap((c) => (c.pcap !== null ? [resolve(c.pcap)] : [])),
    ],
    attach(m: Machine): void {
      if (attached || shared !== null) throw new Error('devices attached twice');
      attached = true;
      add(m, hosts, ports);
    },
    lend(m: Machine): void {
      if (attached) throw new Error('devices already given away');
      shared ??= { disks: hosts.map((h) => new SharedBlockHost(h)), ports: ports.map((p) => new SharedNetPort(p)) };
      add(m, shared.disks.map((d) => d.lease()), shared.ports.map((p) => p.lease()));
    },
    close(): void {
      if (attached) return;
      if (shared === null) return closeAll();
      for (const d of shared.disks) { try { d.close(); } catch { /* best effort: the others must still close */ } }
      for (const p of shared.ports) { try { p.close(); } catch { /* best effort */ } }
      hosts.length = 0;
      ports.length = 0;
    },
  };
}

/** A deterministic guest's wall-clock time in milliseconds (µs exact: the epoch in ns exceeds a double's integers). */
function guestWallMs(m: Machine): number {
  const t = m.domain.time;
  return Number(t.bootWallNs / 1000n + t.nowNs() / 1000n) / 1000;
}
