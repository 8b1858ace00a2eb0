/**
 * `NetPort`: the host side of one vif, what the netback (the ring backend
 * that copies frames out of and into the guest's netif rings) plugs into.
 * A port is built from a parsed `NetConfig` (spec.ts) by `createNetPort`,
 * over an injected `NetHost` (UDP sockets, capture files, the clock, the
 * process's switches; real ones in src/cli/net-host.ts, fakes in tests).
 *
 * Directions are named from the guest, as netif names its rings:
 *
 *   tx  guest → network   the netback calls `port.send(frame)` for each
 *                         packet the guest transmitted (netif tx ring)
 *   rx  network → guest   the port calls the `onReceive` callback; the
 *                         netback copies the frame into a buffer the guest
 *                         posted on its rx ring (or drops it: no buffer)
 *
 * Every frame that crosses the port, both ways, is checked (frame.ts
 * `checkFrame`: 14 … 1514 bytes, 1518 with a VLAN tag; others are dropped
 * and counted) and, with `pcap=`, written to the capture file. A frame
 * arriving while nobody listens (no `onReceive` yet: the frontend has not
 * connected) is dropped and counted (`noReceiver`), as a NIC with its link
 * down would. The port does not filter by destination MAC: like a Xen vif
 * on a bridge, the guest sees what the segment delivers to it (flooded
 * unknown unicast included) and its stack discards what is not its own.
 *
 * Frames are immutable once handed over (frame.ts): `send` keeps no
 * ownership, and a receiver may keep a received frame without copying.
 */
import { checkFrame, countDrop, frameDrops, type FrameDrops } from './frame.js';
import { PcapWriter, type PcapSink } from './pcap.js';
import { NetSpecError, type NetConfig, type UdpAddress, type VxlanBackend } from './spec.js';
import { NetSwitch, SwitchError, type SwitchPort } from './switch.js';
import { VxlanLink, type UdpSocket, type VxlanStats } from './vxlan.js';

/** What a port needs from the host. One per xenkit process (the switches are shared). */
export interface NetHost {
  /**
   * A UDP socket bound to `local` (IPv4 or IPv6 by the address), or to
   * 0.0.0.0 and an ephemeral port without it. Rejects (one-line message)
   * when the address cannot be bound.
   */
  udp(local?: UdpAddress): Promise<UdpSocket>;
  /** A new capture file at `path` (truncated). Throws (one-line message) when it cannot be created. */
  openPcap(path: string): PcapSink;
  /** Milliseconds since the Unix epoch (fractions give the capture's microseconds); drives switch ageing too. */
  now(): number;
  /** The process's switches by name; `switch:NAME` ports create theirs on first use. */
  switches: Map<string, NetSwitch>;
  /** One-line reports of host trouble after start-up (a capture file that failed, a socket error). */
  warn?(message: string): void;
}

/** Counters of a port. Plain data. */
export interface NetPortStats {
  /** Frames (and their bytes) the guest sent that went out. */
  tx: { frames: number; bytes: number };
  /** Frames (and bytes) handed to the receiver. */
  rx: { frames: number; bytes: number };
  /** Frames refused: bad size (either way), no receiver (rx), port closed (tx). */
  dropped: FrameDrops & { noReceiver: number; closed: number };
  /** The VXLAN link's own counters (vxlan ports), else null. */
  vxlan: VxlanStats | null;
  /** Records in the capture file (with `pcap=`), else null. */
  pcapRecords: number | null;
}

/** The host side of one vif: what the netback talks to. */
export interface NetPort {
  readonly config: NetConfig;
  /** The vif's MAC, canonical text: the netback writes it to xenstore `mac` (backend and frontend dirs). */
  readonly mac: string;
  /** Where the port is bound: the UDP address for vxlan, null for a switch port. */
  readonly local: UdpAddress | null;
  readonly stats: NetPortStats;
  /**
   * tx: a frame the guest sent, toward the network. False when it was
   * dropped (bad size, port closed); the netback still answers the
   * guest's request with NETIF_RSP_OKAY (a NIC does not report loss), or
   * NETIF_RSP_ERROR for a malformed request of its own finding.
   */
  send(frame: Uint8Array): boolean;
  /**
   * rx: register the receiver of frames from the network (null: none, and
   * frames are dropped as `noReceiver`). Called synchronously from host
   * events (a UDP datagram) or from another port's `send` (a switch); the
   * receiver queues, it must not call `send` on another port of the same
   * switch from inside the callback.
   */
  onReceive(cb: ((frame: Uint8Array) => void) | null): void;
  /** Leave the switch / close the socket, close the capture file. Idempotent. */
  close(): void;
}

/** Options of `createNetPort`. */
export interface NetPortOptions {
  /** How the port shows in switch tables and messages (default "vif N (MAC)"). */
  label?: string;
  /**
   * The capture's clock (milliseconds since the Unix epoch; default the
   * host's `now`): a deterministic guest's own time makes its capture
   * reproducible.
   */
  captureClock?: () => number;
}

/** The switch called `name` in the host's map, created (with the host's clock) on first use. */
export function getSwitch(host: NetHost, name: string): NetSwitch {
  let sw = host.switches.get(name);
  if (sw === undefined) {
    sw = new NetSwitch(name, { now: () => host.now() });
    host.switches.set(name, sw);
  }
  return sw;
}

/**
 * Build the port of `config`: bind its UDP socket (vxlan) or attach it to
 * its switch, and open its capture file. Rejects with the host's one-line
 * error (bind, capture file) or a NetSpecError (a MAC already on the
 * switch); nothing stays open on failure.
 */
export async function createNetPort(config: NetConfig, host: NetHost, options: NetPortOptions = {}): Promise<NetPort> {
  const label = options.label ?? `vif ${config.index} (${config.mac})`;
  const stats: NetPortStats = {
    tx: { frames: 0, bytes: 0 },
    rx: { frames: 0, bytes: 0 },
    dropped: { ...frameDrops(), noReceiver: 0, closed: 0 },
    vxlan: null,
    pcapRecords: null,
  };
  let receiver: ((frame: Uint8Array) => void) | null = null;
  let pcap: PcapWriter | null = null;
  let closed = false;

  // rx: the backend's frames toward the guest.
  const deliver = (frame: Uint8Array): void => {
    if (closed) return;
    const problem = checkFrame(frame);
    if (problem !== null) {
      countDrop(stats.dropped, problem);
      return;
    }
    if (receiver === null) {
      stats.dropped.noReceiver++;
      return;
    }
    capture(frame);
    stats.rx.frames++;
    stats.rx.bytes += frame.length;
    receiver(frame);
  };
  const capture = (frame: Uint8Array): void => {
    if (pcap === null) return;
    pcap.write(frame);
    stats.pcapRecords = pcap.records;
  };

  let out: (frame: Uint8Array) => void;
  let release: () => void;
  let local: UdpAddress | null = null;
  const backend = config.backend;
  switch (backend.kind) {
    case 'vxlan': {
      const link = new VxlanLink(await host.udp(backend.local), { remote: backend.remote, vni: backend.vni });
      link.onFrame(deliver);
      stats.vxlan = link.stats;
      local = link.local;
      out = (frame) => link.send(frame);
      release = () => link.close();
      break;
    }
    case 'switch': {
      let sp: SwitchPort;
      try {
        sp = getSwitch(host, backend.name).attach(label, deliver, config.mac);
      } catch (e) {
        if (e instanceof SwitchError) throw new NetSpecError('duplicate-mac', config.spec, e.message);
        throw e;
      }
      out = (frame) => sp.input(frame);
      release = () => sp.detach();
      break;
    }
    default:
      return assertNever(backend);
  }

  if (config.pcap !== null) {
    try {
      pcap = openCapture(host, config.pcap, `--net ${config.spec}`, options.captureClock);
    } catch (e) {
      release();
      throw e;
    }
    stats.pcapRecords = 0;
  }

  return {
    config,
    mac: config.mac,
    local,
    stats,
    send(frame) {
      if (closed) {
        stats.dropped.closed++;
        return false;
      }
      const problem = checkFrame(frame);
      if (problem !== null) {
        countDrop(stats.dropped, problem);
        return false;
      }
      capture(frame);
      stats.tx.frames++;
      stats.tx.bytes += frame.length;
      out(frame);
      return true;
    },
    onReceive(cb) {
      receiver = cb;
    },
    close() {
      if (closed) return;
      closed = true;
      receiver = null;
      release();
      pcap?.close();
    },
  };
}

/** A VXLAN uplink of a switch (see `attachVxlanUplink`). */
export interface NetUplink {
  readonly local: UdpAddress;
  readonly stats: VxlanStats;
  /** Records in the capture file, or null without one. */
  readonly pcapRecords: number | null;
  close(): void;
}

/**
 * Connect switch `switchName` (created on first use) to a VXLAN segment:
 * the link becomes one more switch port, so the guests on the switch and
 * whatever sits behind the remote (a Linux vxlan interface, another
 * xenkit) share one L2 segment, with the switch learning which MACs are
 * behind the uplink. `pcap`, when given, captures the uplink's frames both
 * ways. Rejects with the host's error when the socket cannot be bound.
 */
export async function attachVxlanUplink(switchName: string, backend: VxlanBackend, host: NetHost, pcap: string | null = null): Promise<NetUplink> {
  const sw = getSwitch(host, switchName);
  const link = new VxlanLink(await host.udp(backend.local), { remote: backend.remote, vni: backend.vni });
  let writer: PcapWriter | null = null;
  if (pcap !== null) {
    try {
      writer = openCapture(host, pcap, `switch ${switchName} uplink`);
    } catch (e) {
      link.close();
      throw e;
    }
  }
  const sp = sw.attach(`uplink vxlan ${backend.remote.address}:${backend.remote.port} vni ${backend.vni}`, (frame) => {
    writer?.write(frame);
    link.send(frame);
  });
  link.onFrame((frame) => {
    writer?.write(frame);
    sp.input(frame);
  });
  let closed = false;
  return {
    local: link.local,
    stats: link.stats,
    get pcapRecords() { return writer === null ? null : writer.records; },
    close() {
      if (closed) return;
      closed = true;
      sp.detach();
      link.close();
      writer?.close();
    },
  };
}

function openCapture(host: NetHost, path: string, what: string, clock?: () => number): PcapWriter {
  return new PcapWriter(host.openPcap(path), clock ?? (() => host.now()), (e) => {
    host.warn?.(`${what}: capture to ${path} stopped: ${e.message.split('\n')[0]}`);
  });
}

function assertNever(x: never): never {
  throw new Error(`unexpected ${JSON.stringify(x)}`);
}
