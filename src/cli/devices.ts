/**
 * `--disk` and `--net` for `xenkit run`: parse the specs, open the host
 * resources (image files with their writer lock, UDP sockets, pcap files)
 * and attach a block or net backend per device to a Machine. Every mistake
 * (a bad spec, a locked or missing image, a port in use) is a one-line
 * CliError with status 2, raised before the guest starts; whatever was
 * opened before the failure is closed again.
 *
 * Backends own their host resources (Blkback its image, Netback its port):
 * `Machine.close()` releases them. Watch mode opens fresh devices for each
 * reboot after closing the previous machine (the image lock requires that
 * order).
 */
import { resolve } from 'node:path';
import { CliError } from './errors.js';
import { openBlockHost } from './block-host.js';
import { nodeNetHost } from './net-host.js';
import { assignDisks, parseDiskSpec, DiskConfigError, type DiskConfig } from '../vmm/devices/block/config.js';
import { BlockHostError, type BlockHost } from '../vmm/devices/block/disk.js';
import { createNetPort, parseNetSpecs, NetSpecError, type NetConfig, type NetHost, type NetPort } from '../vmm/devices/net/index.js';
import type { Machine } from '../vmm/machine.js';

export interface DeviceArgs {
  disk?: string[];
  net?: string[];
}

/** Devices opened on the host, ready to attach to one machine. */
export interface OpenDevices {
  /** Attach every device to `m` (the backends take over the host resources). */
  attach(m: Machine): void;
  /** Close whatever was not attached (attached devices close with `Machine.close()`). */
  close(): void;
  readonly count: number;
}

let sharedNetHost: NetHost | null = null;

function oneLine(e: unknown): never {
  if (e instanceof DiskConfigError || e instanceof NetSpecError || e instanceof BlockHostError) throw new CliError(e.message);
  if (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string') throw new CliError(e.message);
  throw e;
}

/** Validate the specs (no host resources touched): throws CliError. */
export function parseDevices(args: DeviceArgs, kernelPath: string): { disks: DiskConfig[]; nets: NetConfig[] } {
  try {
    const disks = assignDisks((args.disk ?? []).map(parseDiskSpec));
    const nets = parseNetSpecs(args.net ?? [], { kernelPath: resolve(kernelPath), guest: 0 });
    return { disks, nets };
  } catch (e) {
    return oneLine(e);
  }
}

/** Open the images and network ports for one machine. */
export async function openDevices(args: DeviceArgs, kernelPath: string, warn: (msg: string) => void): Promise<OpenDevices> {
  const { disks, nets } = parseDevices(args, kernelPath);
  const hosts: BlockHost[] = [];
  const ports: NetPort[] = [];
  const closeAll = (): void => {
    for (const h of hosts.splice(0)) { try { h.close(); } catch { /* best effort */ } }
    for (const p of ports.splice(0)) { try { p.close(); } catch { /* best effort */ } }
  };
  try {
    for (const d of disks) hosts.push(openBlockHost(d.path, d.readonly));
    if (nets.length > 0) {
      sharedNetHost ??= nodeNetHost({ warn });
      for (const c of nets) ports.push(await createNetPort(c, sharedNetHost));
    }
  } catch (e) {
    closeAll();
    return oneLine(e);
  }
  let attached = false;
  return {
    count: disks.length + nets.length,
    attach(m: Machine): void {
      if (attached) throw new Error('devices attached twice');
      attached = true;
      disks.forEach((d, i) => m.addDisk(d, hosts[i]!, (msg) => warn(`disk ${d.vdev}: ${msg}`)));
      nets.forEach((c, i) => m.addNic(c, ports[i]!, (msg) => warn(`vif${c.index}: ${msg}`)));
    },
    close(): void {
      if (!attached) closeAll();
    },
  };
}
