/**
 * The real `NetHost` of `--net` (src/vmm/devices/net/port.ts): UDP sockets
 * from node:dgram, capture files through node:fs, the clock from
 * `performance`. The only place the paravirtual network touches Node's
 * APIs; everything it serves is an injected interface below src/cli.
 *
 * - `udp(local)` binds a udp4 or udp6 socket (by the address) and resolves
 *   once it is listening, or rejects with a one-line CliError (address in
 *   use, address not on this host). Bound sockets are `unref`ed: the run
 *   loop keeps the process alive while a guest runs, and an open vif never
 *   keeps a finished one from exiting. A udp6 socket bound to `::` is
 *   dual-stack where the host allows it. Later socket errors go to `warn`.
 * - `openPcap(path)` creates (truncates) the file at once, so a bad path is
 *   a start-up error, and writes each record synchronously: the capture is
 *   complete on disk whenever the guest stops, however it stops.
 */
import { createSocket, type Socket } from 'node:dgram';
import { closeSync, openSync, writeSync } from 'node:fs';
import type { NetHost } from '../vmm/devices/net/port.js';
import type { PcapSink } from '../vmm/devices/net/pcap.js';
import type { UdpAddress } from '../vmm/devices/net/spec.js';
import type { NetSwitch } from '../vmm/devices/net/switch.js';
import type { UdpSocket } from '../vmm/devices/net/vxlan.js';
import { CliError } from './errors.js';

/** Options of the real host. */
export interface NodeNetHostOptions {
  /** Where one-line warnings go (stderr in the CLI); dropped without it. */
  warn?: (message: string) => void;
}

/** The host of one xenkit process: share it between the guests whose vifs meet on a switch. */
export function nodeNetHost(options: NodeNetHostOptions = {}): NetHost {
  const warn = options.warn ?? (() => undefined);
  return {
    udp: (local) => bindUdp(local ?? { address: '0.0.0.0', port: 0 }, warn),
    openPcap: (path) => openPcapFile(path),
    now: () => performance.timeOrigin + performance.now(),
    switches: new Map<string, NetSwitch>(),
    warn,
  };
}

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EADDRINUSE': return 'address already in use (another process, or another vif, has this port)';
    case 'EADDRNOTAVAIL': return 'address not available (no interface of this host has it)';
    case 'EACCES': return 'permission denied';
    case 'ENOENT': return 'no such directory';
    case 'EISDIR': return 'is a directory';
    default: return (err.message ?? String(e)).split('\n')[0]!;
  }
}

function show(a: UdpAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function bindUdp(local: UdpAddress, warn: (message: string) => void): Promise<UdpSocket> {
  const sock: Socket = createSocket({ type: local.address.includes(':') ? 'udp6' : 'udp4' });
  return new Promise<UdpSocket>((resolve, reject) => {
    const onBindError = (e: Error): void => {
      sock.close();
      reject(new CliError(`cannot bind UDP ${show(local)}: ${why(e)}`));
    };
    sock.once('error', onBindError);
    sock.once('listening', () => {
      sock.off('error', onBindError);
      const bound = sock.address();
      const me: UdpAddress = { address: bound.address, port: bound.port };
      sock.on('error', (e) => warn(`UDP ${show(me)}: ${why(e)}`));
      sock.unref();
      let closed = false;
      resolve({
        local: me,
        send(data, port, address) {
          if (closed) return;
          sock.send(data, port, address, (err) => {
            if (err) warn(`UDP ${show(me)} → ${show({ address, port })}: ${why(err)}`);
          });
        },
        onMessage(cb) {
          sock.removeAllListeners('message');
          sock.on('message', (msg: Buffer, rinfo) => cb(msg, { address: rinfo.address, port: rinfo.port }));
        },
        close() {
          if (closed) return;
          closed = true;
          sock.close();
        },
      });
    });
    sock.bind({ address: local.address, port: local.port, exclusive: true });
  });
}

function openPcapFile(path: string): PcapSink {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new CliError(`pcap=${path}: cannot create the capture file: ${why(e)}`);
  }
  let open = true;
  return {
    write(bytes) {
      if (!open) return;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    },
    close() {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}
