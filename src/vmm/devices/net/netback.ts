/**
 * The PV network backend (netback) for one vif: Xen's io/netif.h protocol,
 * single queue, copy mode (reference §5.6), over the shared ring helper
 * (../ring.ts, one BackRing per direction), the xenbus handshake
 * (../xenbus-backend.ts), the pure slot parser (request.ts), the checksum
 * filler (checksum.ts) and the vif's host side, a `NetPort` (port.ts).
 * Directions are named from the guest: tx = guest → network, rx =
 * network → guest.
 *
 * Handshake. Before InitWait it publishes feature-rx-copy 1,
 * feature-rx-flip 0, feature-sg 1, feature-gso-tcpv4 0, feature-gso-tcpv6
 * 0, feature-ipv6-csum-offload 1, feature-split-event-channels 1 and the
 * vif's `mac` (no multi-queue-max-queues: one queue). When the frontend
 * publishes its rings (state 3 or 4) it reads tx-ring-ref, rx-ring-ref,
 * event-channel (or event-channel-tx and event-channel-rx), requires
 * request-rx-copy ≠ 0 (page flipping is refused with an error node, as
 * Linux's netback does), refuses multi-queue-num-queues other than 1, and
 * notes feature-rx-notify / feature-sg / feature-no-csum-offload. The
 * netif layouts are the same on every ABI, so `protocol` is not read:
 * the x86_32 rings are 256 tx slots of 12 bytes and 256 rx slots of 8.
 *
 * TX. Slots are copied out of the ring one by one and fed to the
 * `TxAssembler`: a packet is its first request, any extra-info slots
 * (skipped, answered NETIF_RSP_NULL) and its more_data fragments (at
 * most 18 data slots). A complete packet's fragments are fetched with
 * grant copies into one host buffer; with NETTXF_csum_blank its TCP/UDP
 * checksum is filled in (checksum.ts); then `port.send`. Every slot is
 * answered in ring order: OKAY (also when the port drops the frame: a NIC
 * does not report loss), ERROR for a packet the backend finds malformed
 * (request.ts lists the rules), a grant it cannot read, or a csum_blank
 * packet whose checksum it cannot fill. A chain published in pieces is
 * kept across polls.
 *
 * RX. `port.onReceive` runs synchronously inside host events and other
 * vifs' sends, so it only queues the frame (bounded: `rxQueueLimit`
 * frames, later ones dropped and counted) and calls `onWork`. The poll
 * copies queued frames into the buffers the guest posted (one frame per
 * request, at offset 0: a frame is at most 1518 bytes), answers {id,
 * offset 0, flags 0, status = length} and notifies per rsp_event. Flags
 * stay 0: the frames carry complete checksums, and the guest verifies them
 * itself. A buffer that cannot be written (bad grant, read-only) is
 * answered NETIF_RSP_ERROR and its frame dropped. While the queue is not
 * empty and the guest has no buffers posted, req_event is armed so the
 * guest notifies when it posts one; the ring is also looked at on every
 * poll, so frontends without feature-rx-notify work too. The receiver is
 * attached only while connected: before that the port counts frames as
 * `noReceiver`, like a NIC whose link is down.
 *
 * Hostile frontends: malformed packets and bad grants get error responses;
 * a corrupt ring index (either ring) disconnects this vif (Closing, the
 * reason in <backend>/error) until the frontend starts over; bad xenstore
 * values fail the handshake. Nothing here throws for guest input, so the
 * VMM and the other devices keep running. Work per poll is bounded
 * (`txBudget` slots, `rxBudget` frames).
 */
import { NETIF_RSP, NETIF_RX_REQUEST, NETIF_RX_RESPONSE, NETIF_TX_REQUEST, NETIF_TX_RESPONSE, NETTXF } from '../../xen/abi/netif.js';
import { addDevice, type XenstoreServer } from '../xenstore/index.js';
import {
  BackRing, type EventBinder, type EventLink, type GrantAccess, type MappedRing, type RingMapper, type RingShape,
} from '../ring.js';
import { XenbusBackend, type XenbusContext } from '../xenbus-backend.js';
import { fillChecksum } from './checksum.js';
import type { NetPort } from './port.js';
import {
  NET_PAGE_SIZE, TxAssembler, decodeRxRequest, encodeRxResponse, encodeTxResponse, slotStatus, type TxPacket,
} from './request.js';
import type { NetBackend, NetConfig } from './spec.js';

/** The tx ring: 12-byte slots (request 12, response 4), 256 per page. */
export const TX_RING_SHAPE: RingShape = Object.freeze({
  slotSize: NETIF_TX_REQUEST.size, requestSize: NETIF_TX_REQUEST.size, responseSize: NETIF_TX_RESPONSE.size,
});
/** The rx ring: 8-byte slots (request 8, response 8), 256 per page. */
export const RX_RING_SHAPE: RingShape = Object.freeze({
  slotSize: NETIF_RX_REQUEST.size, requestSize: NETIF_RX_REQUEST.size, responseSize: NETIF_RX_RESPONSE.size,
});
/** Frames queued for the guest at most (default of `rxQueueLimit`). */
export const DEFAULT_RX_QUEUE_LIMIT = 256;
/** tx slots served per poll (default of `txBudget`): one ring's worth. */
export const DEFAULT_TX_BUDGET = 256;
/** Frames delivered per poll (default of `rxBudget`). */
export const DEFAULT_RX_BUDGET = 64;
/** Error messages logged per device before the rest are only counted. */
const LOG_LIMIT = 20;

export interface NetbackOptions {
  /** The in-VMM xenstored (the backend opens its own dom0 connection). */
  server: XenstoreServer;
  /** /local/domain/0/backend/vif/<domid>/<devid>, as created by `addNetDevice`. */
  backendPath: string;
  /** The vif's host side; netback owns it from now on (closes it in `close`). */
  port: NetPort;
  /** The guest's granted packet pages. */
  grants: GrantAccess;
  /** Maps the two ring pages. */
  rings: RingMapper;
  /** Binds the frontend's event channel(s). */
  events: EventBinder;
  /** tx slots served per poll (default 256). */
  txBudget?: number;
  /** Frames copied to the guest per poll (default 64). */
  rxBudget?: number;
  /** Frames waiting for guest buffers at most (default 256); later ones are dropped. */
  rxQueueLimit?: number;
  /**
   * Called, synchronously from inside the port's receive callback, when a
   * frame was queued for the guest: the machine should poll this backend
   * soon (a frame from a socket may arrive while the vCPU sleeps).
   */
  onWork?: () => void;
  /** Diagnostics (protocol errors, state changes). */
  log?: (message: string) => void;
}

/** What the backend has done (plain data, for traces and tests). */
export interface NetbackStats {
  tx: {
    /** Packets handed to the port (whether or not it forwarded them). */
    packets: number;
    bytes: number;
    /** Slots consumed (data and extra). */
    slots: number;
    /** Packets answered NETIF_RSP_ERROR. */
    errors: number;
    /** Checksums filled in (NETTXF_csum_blank). */
    csumFilled: number;
    /** Packets the port refused (bad size, closed); the guest still got OKAY. */
    dropped: number;
  };
  rx: {
    /** Frames copied into guest buffers. */
    packets: number;
    bytes: number;
    /** Buffers answered NETIF_RSP_ERROR (bad grant): their frames are lost. */
    errors: number;
    /** Frames dropped because the queue was full. */
    dropped: number;
    /** Frames still queued when the frontend disconnected. */
    flushed: number;
  };
  /** Notifications sent to the frontend (both directions). */
  notifies: number;
}

/** What the frontend said it can do (read at connect). */
export interface NetFrontendInfo {
  /** Two event channels (event-channel-tx / -rx) instead of one. */
  split: boolean;
  /** feature-rx-notify: it notifies when it posts rx buffers. */
  rxNotify: boolean;
  /** feature-sg: it accepts multi-slot rx packets (we never send any). */
  sg: boolean;
  /** feature-no-csum-offload: it wants complete checksums (we always deliver those). */
  noCsumOffload: boolean;
}

/** The backend of one vif. */
export class Netback {
  readonly xenbus: XenbusBackend;
  readonly stats: NetbackStats = {
    tx: { packets: 0, bytes: 0, slots: 0, errors: 0, csumFilled: 0, dropped: 0 },
    rx: { packets: 0, bytes: 0, errors: 0, dropped: 0, flushed: 0 },
    notifies: 0,
  };
  /** The frontend's features while connected, else null. */
  frontend: NetFrontendInfo | null = null;
  readonly port: NetPort;
  private readonly grants: GrantAccess;
  private readonly txBudget: number;
  private readonly rxBudget: number;
  private readonly rxQueueLimit: number;
  private readonly log: (message: string) => void;
  private readonly assembler = new TxAssembler();
  private tx: BackRing | null = null;
  private rx: BackRing | null = null;
  private txPage: MappedRing | null = null;
  private rxPage: MappedRing | null = null;
  private txLink: EventLink | null = null;
  /** The rx channel: the tx one when not split. */
  private rxLink: EventLink | null = null;
  /** Frames waiting for guest buffers, oldest first. */
  private queue: Uint8Array[] = [];
  /** The frontend notified (or we just connected): look at the tx ring. */
  private txKicked = false;
  private txMore = false;
  private rxMore = false;
  private logged = 0;
  private readonly receive = (frame: Uint8Array): void => this.enqueue(frame);

  constructor(private readonly o: NetbackOptions) {
    this.port = o.port;
    this.grants = o.grants;
    this.txBudget = Math.max(1, o.txBudget ?? DEFAULT_TX_BUDGET);
    this.rxBudget = Math.max(1, o.rxBudget ?? DEFAULT_RX_BUDGET);
    this.rxQueueLimit = Math.max(1, o.rxQueueLimit ?? DEFAULT_RX_QUEUE_LIMIT);
    this.log = o.log ?? (() => {});
    this.xenbus = new XenbusBackend(o.server, o.backendPath, {
      publish: (ctx) => this.publish(ctx),
      connect: (ctx) => this.connect(ctx),
      disconnect: () => this.disconnect(),
      connected: () => {
        this.txKicked = true;
        this.serve();
      },
    }, this.log);
  }

  /** Publish the vif and go to InitWait. */
  start(): void {
    this.xenbus.start();
  }

  /** Both rings and the event channel(s) are live. */
  get connected(): boolean {
    return this.tx !== null;
  }

  /** One line for `monitor devices`: where, the handshake, the counters both ways. */
  describe(): string {
    const { tx, rx } = this.stats;
    return `vif ${this.xenbus.backendPath} (${this.port.mac}): ${this.xenbus.describe()}; ` +
      `tx ${tx.packets} packets ${tx.bytes} bytes (${tx.errors} errors, ${tx.dropped} dropped), ` +
      `rx ${rx.packets} packets ${rx.bytes} bytes (${rx.errors} errors, ${rx.dropped} dropped, ${this.queue.length} queued)`;
  }

  /** Frames waiting for guest buffers. */
  get rxQueued(): number {
    return this.queue.length;
  }

  /** The frontend notified (event-channel send): look at the tx ring at the next poll. */
  kick(): void {
    this.txKicked = true;
  }

  /**
   * Device work: follow the frontend's xenstore state, serve the tx ring
   * if it was kicked or work was left over, and deliver queued frames
   * into posted rx buffers. Returns true when work is still waiting that
   * the next poll can do at once (a budget ran out): poll again soon.
   */
  poll(): boolean {
    this.xenbus.poll();
    this.serve();
    return this.txMore || this.rxMore;
  }

  /** Tear down: disconnect, state Closed, close the port. */
  close(): void {
    this.xenbus.close();
    this.port.close();
  }

  // --- handshake hooks ----------------------------------------------------------

  private publish(ctx: XenbusContext): void {
    const keys: [string, string][] = [
      ['feature-rx-copy', '1'],
      ['feature-rx-flip', '0'],
      ['feature-sg', '1'],
      ['feature-gso-tcpv4', '0'],
      ['feature-gso-tcpv6', '0'],
      ['feature-ipv6-csum-offload', '1'],
      ['feature-split-event-channels', '1'],
      ['mac', this.port.mac],
    ];
    for (const [k, v] of keys) ctx.publish(k, v);
  }

  private connect(ctx: XenbusContext): string | null {
    this.disconnect();
    const show = (key: string): string => `${key} ${JSON.stringify(ctx.front(key) ?? null)}`;
    const queues = ctx.front('multi-queue-num-queues');
    if (queues !== undefined && parseU32(queues) !== 1) return `${show('multi-queue-num-queues')}: only one queue is supported`;
    const copy = parseU32(ctx.front('request-rx-copy'));
    if (copy === null || copy === 0) {
      return `${show('request-rx-copy')}: only copy mode is supported (feature-rx-copy 1, feature-rx-flip 0)`;
    }
    const txRef = parseU32(ctx.front('tx-ring-ref'));
    if (txRef === null) return `bad or missing ${show('tx-ring-ref')} in ${ctx.frontendPath}`;
    const rxRef = parseU32(ctx.front('rx-ring-ref'));
    if (rxRef === null) return `bad or missing ${show('rx-ring-ref')} in ${ctx.frontendPath}`;
    if (txRef === rxRef) return `tx-ring-ref and rx-ring-ref are the same grant (${txRef})`;
    const split = ctx.front('event-channel-tx') !== undefined;
    const txKey = split ? 'event-channel-tx' : 'event-channel';
    const txPort = parseU32(ctx.front(txKey));
    if (txPort === null) return `bad or missing ${show(txKey)} in ${ctx.frontendPath}`;
    const rxPort = split ? parseU32(ctx.front('event-channel-rx')) : txPort;
    if (rxPort === null) return `bad or missing ${show('event-channel-rx')} in ${ctx.frontendPath}`;
    const flag = (key: string): boolean => {
      const v = parseU32(ctx.front(key));
      return v !== null && v !== 0;
    };
    const info: NetFrontendInfo = {
      split, rxNotify: flag('feature-rx-notify'), sg: flag('feature-sg'), noCsumOffload: flag('feature-no-csum-offload'),
    };

    const txPage = this.o.rings.map(txRef);
    if (txPage === null) return `mapping tx-ring-ref ${txRef} failed`;
    this.txPage = txPage;
    const rxPage = this.o.rings.map(rxRef);
    if (rxPage === null) {
      this.disconnect();
      return `mapping rx-ring-ref ${rxRef} failed`;
    }
    this.rxPage = rxPage;
    this.tx = new BackRing(txPage, TX_RING_SHAPE);
    this.rx = new BackRing(rxPage, RX_RING_SHAPE);
    // Binding may kick at once (Xen's conservative notification): the rings are ready for it.
    const txLink = this.o.events.bind(txPort, () => this.kick());
    if (txLink === null) {
      this.disconnect();
      return `binding ${split ? 'event-channel-tx' : 'event-channel'} ${txPort} failed`;
    }
    this.txLink = this.rxLink = txLink;
    if (split) {
      // An rx kick means new buffers: the poll looks at the rx ring whenever frames wait.
      const rxLink = this.o.events.bind(rxPort, () => {});
      if (rxLink === null) {
        this.disconnect();
        return `binding event-channel-rx ${rxPort} failed`;
      }
      this.rxLink = rxLink;
    }
    this.frontend = info;
    this.txMore = this.rxMore = false;
    this.port.onReceive(this.receive);
    return null;
  }

  private disconnect(): void {
    this.port.onReceive(null);
    this.tx = this.rx = null;
    this.frontend = null;
    this.assembler.reset();
    this.stats.rx.flushed += this.queue.length;
    this.queue = [];
    this.txKicked = this.txMore = this.rxMore = false;
    if (this.rxLink !== null && this.rxLink !== this.txLink) this.rxLink.close();
    this.txLink?.close();
    this.txLink = this.rxLink = null;
    this.txPage?.unmap();
    this.rxPage?.unmap();
    this.txPage = this.rxPage = null;
  }

  // --- the rings --------------------------------------------------------------------

  private serve(): void {
    if (this.tx !== null && (this.txKicked || this.txMore)) this.serveTx(this.tx);
    if (this.rx !== null && this.queue.length > 0) this.serveRx(this.rx);
    else this.rxMore = false;
  }

  private serveTx(ring: BackRing): void {
    this.txKicked = false;
    const r = ring.poll((req) => this.txSlot(ring, req), this.txBudget);
    if (ring.corrupt !== null) {
      this.txMore = false;
      this.xenbus.fail(`tx ring corrupt: ${ring.corrupt}`);
      return;
    }
    this.txMore = r.more;
    if (r.notify) this.notify(this.txLink);
  }

  /** One tx slot (already copied out of the ring). */
  private txSlot(ring: BackRing, bytes: Uint8Array): void {
    this.stats.tx.slots++;
    const step = this.assembler.push(bytes);
    if (step.refused !== null) {
      this.stats.tx.errors++;
      this.note(`tx packet refused: ${step.refused}`);
    }
    for (const a of step.answers) ring.putResponse(encodeTxResponse(a.id, a.status));
    if (step.packet !== null) {
      const status = this.transmit(step.packet);
      if (status !== NETIF_RSP.OKAY) this.stats.tx.errors++;
      for (const s of step.packet.slots) {
        const a = slotStatus(s, status);
        ring.putResponse(encodeTxResponse(a.id, a.status));
      }
    }
  }

  /** Fetch a packet's fragments, complete its checksum, send it. Returns the slots' status. */
  private transmit(p: TxPacket): number {
    const frame = new Uint8Array(p.size);
    let at = 0;
    for (const f of p.fragments) {
      if (f.size === 0) continue;
      const data = this.grants.read(f.gref, f.offset, f.size);
      if (data === null || data.length !== f.size) {
        this.note(`tx: gref ${f.gref} (offset ${f.offset}, ${f.size} bytes) is not readable`);
        return NETIF_RSP.ERROR;
      }
      frame.set(data, at);
      at += f.size;
    }
    if ((p.flags & NETTXF.csum_blank) !== 0) {
      const problem = fillChecksum(frame);
      if (problem !== null) {
        this.note(`tx: csum_blank on a packet whose checksum cannot be filled (${problem})`);
        return NETIF_RSP.ERROR;
      }
      this.stats.tx.csumFilled++;
    }
    this.stats.tx.packets++;
    this.stats.tx.bytes += frame.length;
    // The frame is the port's now: never written again.
    if (!this.port.send(frame)) this.stats.tx.dropped++;
    return NETIF_RSP.OKAY;
  }

  /** The port's receive callback: queue only (it runs inside host events and other vifs' sends). */
  private enqueue(frame: Uint8Array): void {
    if (this.rx === null) return;
    if (this.queue.length >= this.rxQueueLimit || frame.length > NET_PAGE_SIZE) {
      this.stats.rx.dropped++;
      return;
    }
    this.queue.push(frame);
    this.o.onWork?.();
  }

  /** Copy queued frames into posted rx buffers. */
  private serveRx(ring: BackRing): void {
    let done = 0;
    let notify = false;
    let head = 0;
    const q = this.queue;
    for (;;) {
      while (head < q.length && done < this.rxBudget && ring.available() > 0) {
        const req = decodeRxRequest(ring.takeRequest());
        const frame = q[head++]!;
        done++;
        if (this.grants.write(req.gref, 0, frame)) {
          ring.putResponse(encodeRxResponse(req.id, 0, 0, frame.length));
          this.stats.rx.packets++;
          this.stats.rx.bytes += frame.length;
        } else {
          ring.putResponse(encodeRxResponse(req.id, 0, 0, NETIF_RSP.ERROR));
          this.stats.rx.errors++;
          this.note(`rx: buffer ${req.id} (gref ${req.gref}) is not writable; frame dropped`);
        }
      }
      if (ring.pushResponses()) notify = true;
      if (ring.corrupt !== null || head >= q.length || done >= this.rxBudget) break;
      // Out of buffers with frames waiting: ask to be told of the next one, then look once more.
      if (!ring.finalCheck()) break;
    }
    this.queue = head === 0 ? q : q.slice(head);
    if (ring.corrupt !== null) {
      this.rxMore = false;
      this.xenbus.fail(`rx ring corrupt: ${ring.corrupt}`);
      return;
    }
    this.rxMore = this.queue.length > 0 && done >= this.rxBudget && ring.available() > 0;
    if (notify) this.notify(this.rxLink);
  }

  private notify(link: EventLink | null): void {
    if (link === null) return;
    link.notify();
    this.stats.notifies++;
  }

  private note(message: string): void {
    if (this.logged < LOG_LIMIT) this.log(`${this.o.backendPath}: ${message}`);
    else if (this.logged === LOG_LIMIT) this.log(`${this.o.backendPath}: further errors are only counted`);
    this.logged++;
  }
}

/** A strict decimal u32 (xenstore values are guest-written), or null. */
function parseU32(s: string | undefined): number | null {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s)) return null;
  const n = Number(s);
  return n <= 0xffff_ffff ? n : null;
}

/** What a vif is attached to, as the backend's `bridge` node names it: the switch, or `vxlan<VNI>`. */
export function bridgeName(backend: NetBackend): string {
  return backend.kind === 'switch' ? backend.name : `vxlan${backend.vni}`;
}

/**
 * The toolstack's part (libxl's vif device add): the frontend and backend
 * directories of vif `config.index` in state Initialising, with the keys
 * libxl writes (frontend: handle, mac — Mini-OS reads the MAC there;
 * backend: handle, mac, bridge, type "vif"). Returns both paths; pass
 * `backend` to `new Netback`.
 */
export function addNetDevice(
  server: XenstoreServer, frontendDomid: number, config: Pick<NetConfig, 'index' | 'mac' | 'backend'>,
): { frontend: string; backend: string } {
  const handle = String(config.index);
  return addDevice(server, {
    type: 'vif',
    devid: config.index,
    frontendDomid,
    front: { handle, mac: config.mac },
    back: { handle, mac: config.mac, bridge: bridgeName(config.backend), type: 'vif' },
  });
}
