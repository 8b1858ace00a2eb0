/**
 * The PV block backend (blkback) for one virtual disk: Xen's io/blkif.h
 * protocol, x86_32 ABI (reference §5.5), over the shared ring helper
 * (../ring.ts), the xenbus handshake (../xenbus-backend.ts), the pure
 * request parser (request.ts) and an injected disk (disk.ts).
 *
 * Handshake: before InitWait it publishes, in its backend directory,
 *   feature-flush-cache 1, feature-barrier 1, feature-discard (0 when
 *   read-only) with discard-granularity 512 / discard-alignment 0 /
 *   discard-secure 0, feature-max-indirect-segments (256 by default),
 *   sectors, sector-size 512, physical-sector-size 512, info (VDISK_READONLY
 *   when read-only) and mode ("r" / "w") — all of them up front, because
 *   Mini-OS's blkfront reads `mode` before the backend is Connected.
 *   When the frontend publishes its ring (state 3 or 4) it reads ring-ref,
 *   event-channel and protocol (absent or "x86_32-abi"; anything else, or a
 *   multi-page ring-page-order, refuses the connection), maps the ring and
 *   binds the channel, and goes Connected.
 *
 * Requests are served synchronously, in ring order, a bounded number per
 * poll. Each is copied out of the ring, parsed, executed against the
 * disk, and answered; responses are published at the end of the batch and
 * the frontend notified per the rsp_event rule.
 *
 * Ordering and durability (the promise of the "Paravirtual block" issue):
 *  - every request completes (its host call returned) before the next one
 *    starts, so a barrier's "earlier requests first" holds by construction;
 *  - WRITE data goes to the host kernel at once (BlockHost.write), so an
 *    acknowledged write survives the VMM being SIGKILLed;
 *  - FLUSH_DISKCACHE and WRITE_BARRIER (with or without data: data is
 *    written first) call BlockHost.flush (fsync) and are answered only
 *    after it returned — an acknowledged flush means every write
 *    acknowledged before it is on stable storage.
 *  - A WRITE whose grants cannot all be read writes nothing; a READ whose
 *    grant cannot be written answers ERROR (the other pages may have been
 *    filled).
 *
 * Hostile frontends: anything invalid in a request (bad grant ref, range
 * outside the disk, first_sect > last_sect, too many segments, unknown
 * operation, writes to a read-only disk) gets an error response; a corrupt
 * ring index disconnects this device (Closing, with the reason in
 * <backend>/error); host I/O errors answer ERROR. Nothing here throws for
 * guest input, so the VMM and the other devices keep running.
 */
import { BLKIF_OP, BLKIF_RSP, VDISK, XEN_IO_PROTO_ABI_X86_32 } from '../../xen/abi/blkif.js';
import { addDevice, type XenstoreServer } from '../xenstore/index.js';
import { BackRing, type EventBinder, type EventLink, type GrantAccess, type MappedRing, type RingMapper } from '../ring.js';
import { XenbusBackend, type XenbusContext } from '../xenbus-backend.js';
import type { DiskConfig } from './config.js';
import type { BlockHost } from './disk.js';
import {
  DEFAULT_MAX_INDIRECT_SEGMENTS, INDIRECT_SEGMENTS_LIMIT, REQUEST_SIZE, RESPONSE_SIZE, SECTOR_SIZE, encodeResponse,
  parseRequest, type BlkDiscard, type BlkIo, type ParseOptions,
} from './request.js';

/** Slot size of the blkif ring on x86_32 (the request/response union). */
const SLOT_SIZE = 108;
/** Error messages logged per device before the rest are only counted. */
const LOG_LIMIT = 20;

export interface BlkbackOptions {
  /** The in-VMM xenstored (the backend opens its own dom0 connection). */
  server: XenstoreServer;
  /** /local/domain/0/backend/vbd/<domid>/<devid>, as created by `addBlockDevice`. */
  backendPath: string;
  /** The disk; blkback owns it from now on (closes it in `close`). */
  host: BlockHost;
  /** The guest's granted data and indirect pages. */
  grants: GrantAccess;
  /** Maps the ring page. */
  rings: RingMapper;
  /** Binds the frontend's event channel. */
  events: EventBinder;
  /** feature-max-indirect-segments to offer (default 256; 0: no indirect requests). */
  maxIndirectSegments?: number;
  /** Requests served per poll (default 32: one ring's worth). */
  budget?: number;
  /** Diagnostics (protocol errors, host I/O errors, state changes). */
  log?: (message: string) => void;
}

/** What the backend has done (for traces and tests). */
export interface BlkbackStats {
  requests: number;
  /** Requests answered with an error status. */
  errors: number;
  reads: number;
  writes: number;
  flushes: number;
  discards: number;
  /** Notifications sent to the frontend. */
  notifies: number;
}

/** The backend of one virtual disk. */
export class Blkback {
  readonly xenbus: XenbusBackend;
  readonly stats: BlkbackStats = { requests: 0, errors: 0, reads: 0, writes: 0, flushes: 0, discards: 0, notifies: 0 };
  /** Disk size in 512-byte sectors. */
  readonly sectors: number;
  readonly maxIndirectSegments: number;
  private readonly host: BlockHost;
  private readonly grants: GrantAccess;
  private readonly budget: number;
  private readonly log: (message: string) => void;
  private readonly parseOptions: ParseOptions;
  private ring: BackRing | null = null;
  private page: MappedRing | null = null;
  private evtchn: EventLink | null = null;
  /** The frontend notified us (or we just connected). */
  private kicked = false;
  /** The last poll stopped at its budget with requests left. */
  private more = false;
  private logged = 0;

  constructor(private readonly o: BlkbackOptions) {
    this.host = o.host;
    this.grants = o.grants;
    this.budget = Math.max(1, o.budget ?? 32);
    this.log = o.log ?? (() => {});
    this.sectors = Math.floor(o.host.size / SECTOR_SIZE);
    this.maxIndirectSegments = Math.max(0, Math.min(o.maxIndirectSegments ?? DEFAULT_MAX_INDIRECT_SEGMENTS, INDIRECT_SEGMENTS_LIMIT));
    this.parseOptions = {
      diskSectors: this.sectors,
      readonly: o.host.readonly,
      discard: !o.host.readonly,
      maxIndirectSegments: this.maxIndirectSegments,
      readIndirect: (gref, offset, len) => this.grants.read(gref, offset, len),
    };
    this.xenbus = new XenbusBackend(o.server, o.backendPath, {
      publish: (ctx) => this.publish(ctx),
      connect: (ctx) => this.connect(ctx),
      disconnect: () => this.disconnect(),
      connected: () => {
        this.kicked = true;
        this.serve();
      },
    }, this.log);
  }

  /** Publish the disk and go to InitWait. */
  start(): void {
    this.xenbus.start();
  }

  /** Ring and event channel are live. */
  get connected(): boolean {
    return this.ring !== null;
  }

  /** One line for `monitor devices`: where, the handshake, the counters. */
  describe(): string {
    const s = this.stats;
    return `vbd ${this.xenbus.backendPath}: ${this.xenbus.describe()}; ${s.requests} requests (${s.reads} reads, ${s.writes} writes, ` +
      `${s.flushes} flushes, ${s.discards} discards), ${s.errors} errors, ${s.notifies} notifications`;
  }

  /** The frontend notified (event-channel send): serve at the next poll. */
  kick(): void {
    this.kicked = true;
  }

  /**
   * Device work: follow the frontend's xenstore state, then serve the
   * ring if it was kicked or work was left over. Returns true when
   * requests are still waiting (budget exhausted): poll again soon.
   */
  poll(): boolean {
    this.xenbus.poll();
    if (this.ring !== null && (this.kicked || this.more)) this.serve();
    return this.more;
  }

  /** Tear down: disconnect, state Closed, flush and close the disk. */
  close(): void {
    this.xenbus.close();
    try {
      if (!this.host.readonly) this.host.flush();
    } catch (e) {
      this.note(`final flush failed: ${String(e)}`);
    }
    this.host.close();
  }

  // --- handshake hooks ----------------------------------------------------------

  private publish(ctx: XenbusContext): void {
    const ro = this.host.readonly;
    const keys: [string, string][] = [
      ['feature-flush-cache', '1'],
      ['feature-barrier', '1'],
      ['feature-discard', ro ? '0' : '1'],
      ['discard-granularity', String(SECTOR_SIZE)],
      ['discard-alignment', '0'],
      ['discard-secure', '0'],
      ['sectors', String(this.sectors)],
      ['sector-size', String(SECTOR_SIZE)],
      ['physical-sector-size', String(SECTOR_SIZE)],
      ['info', String(ro ? VDISK.READONLY : 0)],
      ['mode', ro ? 'r' : 'w'],
    ];
    if (this.maxIndirectSegments > 0) keys.push(['feature-max-indirect-segments', String(this.maxIndirectSegments)]);
    for (const [k, v] of keys) ctx.publish(k, v);
  }

  private connect(ctx: XenbusContext): string | null {
    this.disconnect();
    const order = ctx.front('ring-page-order');
    if (order !== undefined && order !== '0') return `ring-page-order ${JSON.stringify(order)}: only single-page rings are supported`;
    const ref = parseU32(ctx.front('ring-ref'));
    if (ref === null) return `bad or missing ring-ref ${JSON.stringify(ctx.front('ring-ref') ?? null)} in ${ctx.frontendPath}`;
    const port = parseU32(ctx.front('event-channel'));
    if (port === null) return `bad or missing event-channel ${JSON.stringify(ctx.front('event-channel') ?? null)} in ${ctx.frontendPath}`;
    const proto = ctx.front('protocol');
    if (proto !== undefined && proto !== XEN_IO_PROTO_ABI_X86_32) return `unsupported protocol ${JSON.stringify(proto)} (only ${XEN_IO_PROTO_ABI_X86_32})`;
    const page = this.o.rings.map(ref);
    if (page === null) return `mapping ring-ref ${ref} failed`;
    this.page = page;
    this.ring = new BackRing(page, { slotSize: SLOT_SIZE, requestSize: REQUEST_SIZE, responseSize: RESPONSE_SIZE });
    // Binding may kick at once (Xen's conservative notification): the ring is ready for it.
    const link = this.o.events.bind(port, () => this.kick());
    if (link === null) {
      this.disconnect();
      return `binding event-channel ${port} failed`;
    }
    this.evtchn = link;
    this.more = false;
    return null;
  }

  private disconnect(): void {
    this.ring = null;
    this.more = false;
    this.kicked = false;
    this.evtchn?.close();
    this.evtchn = null;
    this.page?.unmap();
    this.page = null;
  }

  // --- the ring ---------------------------------------------------------------------

  private serve(): void {
    const ring = this.ring;
    if (ring === null) return;
    this.kicked = false;
    const r = ring.poll((req) => this.handle(ring, req), this.budget);
    if (ring.corrupt !== null) {
      this.more = false;
      this.xenbus.fail(`ring corrupt: ${ring.corrupt}`);
      return;
    }
    this.more = r.more;
    if (r.notify && this.evtchn !== null) {
      this.evtchn.notify();
      this.stats.notifies++;
    }
  }

  /** Serve one request (its bytes already copied out of the ring) and put its response. */
  private handle(ring: BackRing, bytes: Uint8Array): void {
    this.stats.requests++;
    const req = parseRequest(bytes, this.parseOptions);
    let status: number;
    if (req.kind === 'reject') {
      status = req.status;
      this.note(`request ${req.id} (op ${req.operation}) refused: ${req.reason}`);
    } else {
      try {
        status = req.kind === 'discard' ? this.discard(req) : this.io(req);
      } catch (e) {
        // A host failure (EIO, ENOSPC…): the guest sees an I/O error, the VMM carries on.
        status = BLKIF_RSP.ERROR;
        this.note(`request ${req.id} (op ${req.operation}): host error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (status !== BLKIF_RSP.OKAY) this.stats.errors++;
    ring.putResponse(encodeResponse(req.id, req.operation, status));
  }

  private io(req: BlkIo): number {
    const offset = req.sector * SECTOR_SIZE;
    if (req.kind === 'read') {
      this.stats.reads++;
      const data = this.host.read(offset, req.sectors * SECTOR_SIZE);
      let at = 0;
      for (const s of req.segments) {
        const len = (s.lastSect - s.firstSect + 1) * SECTOR_SIZE;
        if (!this.grants.write(s.gref, s.firstSect * SECTOR_SIZE, data.subarray(at, at + len))) {
          this.note(`request ${req.id}: read into gref ${s.gref} refused`);
          return BLKIF_RSP.ERROR;
        }
        at += len;
      }
      return BLKIF_RSP.OKAY;
    }
    // write, or flush / barrier carrying data: gather everything before touching the disk.
    if (req.sectors > 0) {
      const data = new Uint8Array(req.sectors * SECTOR_SIZE);
      let at = 0;
      for (const s of req.segments) {
        const len = (s.lastSect - s.firstSect + 1) * SECTOR_SIZE;
        const chunk = this.grants.read(s.gref, s.firstSect * SECTOR_SIZE, len);
        if (chunk === null || chunk.length !== len) {
          this.note(`request ${req.id}: gref ${s.gref} is not readable`);
          return BLKIF_RSP.ERROR;
        }
        data.set(chunk, at);
        at += len;
      }
      this.stats.writes++;
      this.host.write(offset, data);
    }
    if (req.kind === 'flush' || req.kind === 'barrier') {
      // fsync before the response exists: it is published only after this returns.
      this.stats.flushes++;
      if (!this.host.readonly) this.host.flush();
    }
    return BLKIF_RSP.OKAY;
  }

  private discard(req: BlkDiscard): number {
    this.stats.discards++;
    if (req.nrSectors > 0) this.host.discard(req.sector * SECTOR_SIZE, req.nrSectors * SECTOR_SIZE);
    return BLKIF_RSP.OKAY;
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

/**
 * The toolstack's part (libxl's vbd device add): the frontend and backend
 * directories of a disk in state Initialising, with the keys libxl writes
 * (frontend: virtual-device, device-type; backend: params, type, mode, dev,
 * device-type, removable, bootable). Returns both paths; pass `backend` to
 * `new Blkback`.
 */
export function addBlockDevice(server: XenstoreServer, frontendDomid: number, disk: DiskConfig): { frontend: string; backend: string } {
  return addDevice(server, {
    type: 'vbd',
    devid: disk.devid,
    frontendDomid,
    front: { 'virtual-device': String(disk.devid), 'device-type': 'disk' },
    back: {
      params: disk.path, type: 'file', mode: disk.readonly ? 'r' : 'w', dev: disk.vdev, 'device-type': 'disk',
      removable: '0', bootable: '1',
    },
  });
}

/** The operations blkback understands (for docs and traces). */
export const BLKBACK_OPERATIONS = Object.freeze([
  BLKIF_OP.READ, BLKIF_OP.WRITE, BLKIF_OP.WRITE_BARRIER, BLKIF_OP.FLUSH_DISKCACHE, BLKIF_OP.DISCARD, BLKIF_OP.INDIRECT,
]);
