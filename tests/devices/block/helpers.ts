/**
 * Test rig for the block backend: a fake guest (its memory, a frontend's
 * half of the blkif ring, grant and event-channel fakes that behave like
 * the engines' backend APIs), request encoders for the x86_32 layouts, and
 * a whole device wired to the real XenstoreServer / XsClient.
 */
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { SRING_HEADER, initSring, needsNotify } from '../../../src/vmm/xen/abi/ring.js';
import { BLKIF_OP } from '../../../src/vmm/xen/abi/blkif.js';
import { XenbusState } from '../../../src/vmm/xen/abi/xenbus.js';
import {
  physRingPage, type EventBinder, type EventLink, type GrantAccess, type MappedRing, type RingMapper,
} from '../../../src/vmm/devices/ring.js';
import { XenstoreServer, XsClient, buildDom0Tree, buildDomainTree } from '../../../src/vmm/devices/xenstore/index.js';
import { Blkback, addBlockDevice, type BlkbackOptions } from '../../../src/vmm/devices/block/blkback.js';
import { assignDisks } from '../../../src/vmm/devices/block/config.js';
import { MemoryBlockHost, type BlockHost } from '../../../src/vmm/devices/block/disk.js';
import { decodeResponse } from '../../../src/vmm/devices/block/request.js';

export const PAGE = 4096;
export const GUEST = 1;
const H = SRING_HEADER;

/** A deterministic PRNG (mulberry32) in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- request encoders (x86_32 layouts) ------------------------------------------------

export interface Seg { gref: number; first?: number; last?: number }

/** READ / WRITE / WRITE_BARRIER / FLUSH_DISKCACHE (or any op byte) in the rw layout. */
export function rw(op: number, id: bigint, sector: bigint | number, segs: readonly Seg[] = [], nr = segs.length): Uint8Array {
  const b = new Uint8Array(108);
  const dv = new DataView(b.buffer);
  b[0] = op;
  b[1] = nr;
  dv.setUint16(2, 0xca00, true);
  dv.setBigUint64(4, id, true);
  dv.setBigUint64(12, BigInt(sector), true);
  segs.forEach((s, i) => {
    if (i >= 11) return;
    dv.setUint32(20 + i * 8, s.gref, true);
    b[24 + i * 8] = s.first ?? 0;
    b[25 + i * 8] = s.last ?? 7;
  });
  return b;
}

export function discardReq(id: bigint, sector: bigint | number, count: bigint | number, flag = 0): Uint8Array {
  const b = new Uint8Array(108);
  const dv = new DataView(b.buffer);
  b[0] = BLKIF_OP.DISCARD;
  b[1] = flag;
  dv.setBigUint64(4, id, true);
  dv.setBigUint64(12, BigInt(sector), true);
  dv.setBigUint64(20, BigInt(count), true);
  return b;
}

export function indirectReq(iop: number, id: bigint, sector: bigint | number, nseg: number, grefs: readonly number[]): Uint8Array {
  const b = new Uint8Array(108);
  const dv = new DataView(b.buffer);
  b[0] = BLKIF_OP.INDIRECT;
  b[1] = iop;
  dv.setUint16(2, nseg, true);
  dv.setBigUint64(4, id, true);
  dv.setBigUint64(12, BigInt(sector), true);
  dv.setUint16(20, 0xca00, true);
  grefs.forEach((g, i) => dv.setUint32(24 + i * 4, g, true));
  return b;
}

/** The bytes of an indirect page holding `segs`. */
export function segmentPage(segs: readonly Seg[]): Uint8Array {
  const b = new Uint8Array(PAGE);
  const dv = new DataView(b.buffer);
  segs.forEach((s, i) => {
    dv.setUint32(i * 8, s.gref, true);
    b[i * 8 + 4] = s.first ?? 0;
    b[i * 8 + 5] = s.last ?? 7;
  });
  return b;
}

// --- the guest's side ---------------------------------------------------------------------

/** The frontend's half of a shared ring in guest memory (FRONT_RING_* macros). */
export class FrontRing {
  reqProdPvt = 0;
  rspCons = 0;
  readonly entries: number;

  constructor(readonly mem: PhysMemory, readonly pa: number, readonly slotSize = 108, init = true) {
    this.entries = 1 << Math.floor(Math.log2((PAGE - 64) / slotSize));
    if (init) initSring(mem.u8, pa);
  }

  /** Write a request into the next private slot. */
  put(req: Uint8Array): void {
    this.mem.writeBytes(this.pa + H.ring + (this.reqProdPvt & (this.entries - 1)) * this.slotSize, req);
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
  publish(): boolean {
    const old = this.mem.read32(this.pa + H.req_prod) >>> 0;
    this.mem.write32(this.pa + H.req_prod, this.reqProdPvt);
    return needsNotify(old, this.reqProdPvt, this.mem.read32(this.pa + H.req_event) >>> 0);
  }

  get rspProd(): number {
    return this.mem.read32(this.pa + H.rsp_prod) >>> 0;
  }

  get reqEvent(): number {
    return this.mem.read32(this.pa + H.req_event) >>> 0;
  }

  /** Consume published responses, then RING_FINAL_CHECK_FOR_RESPONSES (rsp_event = cons + 1). */
  take(): { id: bigint; operation: number; status: number }[] {
    const out = [];
    const prod = this.rspProd;
    while (this.rspCons !== prod) {
      out.push(decodeResponse(this.mem.readBytes(this.pa + H.ring + (this.rspCons & (this.entries - 1)) * this.slotSize, 12)));
      this.rspCons = (this.rspCons + 1) >>> 0;
    }
    this.mem.write32(this.pa + H.rsp_event, (this.rspCons + 1) >>> 0);
    return out;
  }
}

/** Grants as a table ref → page, with the engines' rules: dom0 may read any valid one, write only writable ones. */
export class FakeGrants implements GrantAccess, RingMapper {
  readonly table = new Map<number, { pfn: number; readonly: boolean }>();
  maps = 0;
  unmaps = 0;
  /** Every live ring mapping goes dead (reads all-ones, drops writes), like a revoked frame. */
  dead = false;
  reads = 0;
  writes = 0;

  constructor(readonly mem: PhysMemory) {}

  grant(ref: number, pfn: number, readonly = false): void {
    this.table.set(ref, { pfn, readonly });
  }

  revoke(ref: number): void {
    this.table.delete(ref);
  }

  read(ref: number, offset: number, len: number): Uint8Array | null {
    const g = this.table.get(ref);
    if (g === undefined || !inPage(offset, len)) return null;
    this.reads++;
    return this.mem.readBytes(g.pfn * PAGE + offset, len);
  }

  write(ref: number, offset: number, bytes: Uint8Array): boolean {
    const g = this.table.get(ref);
    if (g === undefined || g.readonly || !inPage(offset, bytes.length)) return false;
    this.writes++;
    this.mem.writeBytes(g.pfn * PAGE + offset, bytes);
    return true;
  }

  map(ref: number): MappedRing | null {
    const g = this.table.get(ref);
    if (g === undefined || g.readonly) return null;
    this.maps++;
    let mapped = true;
    const live = () => mapped && !this.dead;
    const page = physRingPage(this.mem, g.pfn * PAGE);
    return {
      read32: (o) => (live() ? page.read32(o) : 0xffffffff),
      write32: (o, v) => { if (live()) page.write32(o, v); },
      read: (o, n) => (live() ? page.read(o, n) : new Uint8Array(n).fill(0xff)),
      write: (o, b) => { if (live()) page.write(o, b); },
      unmap: () => {
        if (mapped) this.unmaps++;
        mapped = false;
      },
    };
  }
}

function inPage(off: number, len: number): boolean {
  return Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= PAGE;
}

/** Event channels: the guest allocates unbound ports for dom0; `send` is the guest's EVTCHNOP_send. */
export class FakeEvents implements EventBinder {
  readonly unbound = new Set<number>();
  readonly bound = new Map<number, { kick: () => void; notifies: number; closed: boolean }>();

  alloc(port: number): number {
    this.unbound.add(port);
    return port;
  }

  bind(guestPort: number, onKick: () => void): EventLink | null {
    if (!this.unbound.has(guestPort)) return null;
    this.unbound.delete(guestPort);
    const b = { kick: onKick, notifies: 0, closed: false };
    this.bound.set(guestPort, b);
    onKick(); // Xen's conservative notification on bind
    return {
      notify: () => { if (!b.closed) b.notifies++; },
      close: () => {
        if (b.closed) return;
        b.closed = true;
        this.bound.delete(guestPort);
        this.unbound.add(guestPort);
      },
    };
  }

  send(port: number): void {
    this.bound.get(port)?.kick();
  }

  notifies(port: number): number {
    return this.bound.get(port)?.notifies ?? 0;
  }
}

// --- a whole device ----------------------------------------------------------------------------

export interface RigOptions {
  sectors?: number;
  readonly?: boolean;
  host?: BlockHost;
  vdev?: string;
  /** Shared pieces, for several devices on one guest. */
  server?: XenstoreServer;
  mem?: PhysMemory;
  grants?: FakeGrants;
  events?: FakeEvents;
  extra?: Partial<BlkbackOptions>;
}

/** Pages of the fake guest: ring at RING_PFN(+n), data pages from DATA_PFN. */
export const RING_PFN = 1, DATA_PFN = 16;

/** A guest with one vbd: the real xenstore, a fake guest, a Blkback. */
export class Rig {
  readonly server: XenstoreServer;
  readonly mem: PhysMemory;
  readonly grants: FakeGrants;
  readonly events: FakeEvents;
  readonly host: BlockHost;
  readonly blk: Blkback;
  readonly frontend: string;
  readonly backend: string;
  /** The guest's own xenstore connection. */
  readonly gxs: XsClient;
  /** The backend's view from dom0 (reads only). */
  readonly dxs: XsClient;
  readonly logs: string[] = [];
  front: FrontRing | null = null;
  ringRef = 0;
  port = 0;

  constructor(o: RigOptions = {}) {
    this.server = o.server ?? newServer();
    this.mem = o.mem ?? new PhysMemory(256 * PAGE);
    this.grants = o.grants ?? new FakeGrants(this.mem);
    this.events = o.events ?? new FakeEvents();
    this.host = o.host ?? new MemoryBlockHost((o.sectors ?? 2048) * 512, o.readonly ?? false, { trackStable: true });
    const [disk] = assignDisks([{ path: 'mem', readonly: this.host.readonly, ...(o.vdev !== undefined ? { vdev: o.vdev } : {}) }]);
    const paths = addBlockDevice(this.server, GUEST, disk!);
    this.frontend = paths.frontend;
    this.backend = paths.backend;
    this.blk = new Blkback({
      server: this.server, backendPath: this.backend, host: this.host, grants: this.grants, rings: this.grants,
      events: this.events, log: (m) => this.logs.push(m), ...o.extra,
    });
    this.gxs = new XsClient(this.server, GUEST);
    this.dxs = new XsClient(this.server, 0);
    this.blk.start();
  }

  back(key: string): string | undefined {
    return this.dxs.tryRead(`${this.backend}/${key}`);
  }

  get state(): number {
    return Number(this.back('state'));
  }

  setFrontState(s: number): void {
    this.gxs.write(`${this.frontend}/state`, String(s));
    this.blk.poll();
  }

  /** What Mini-OS's init_blkfront does: ring page, grant, port, keys and Connected in one transaction. */
  connect(o: { ringPfn?: number; ringRef?: number; port?: number; keys?: Record<string, string>; state?: number } = {}): void {
    const pfn = o.ringPfn ?? RING_PFN;
    this.ringRef = o.ringRef ?? 8;
    this.port = o.port ?? 5;
    this.mem.fill(pfn * PAGE, PAGE, 0);
    this.front = new FrontRing(this.mem, pfn * PAGE);
    this.grants.grant(this.ringRef, pfn);
    this.events.alloc(this.port);
    const t = this.gxs.start();
    const keys = { 'ring-ref': String(this.ringRef), 'event-channel': String(this.port), protocol: 'x86_32-abi', ...o.keys };
    for (const [k, v] of Object.entries(keys)) this.gxs.write(`${this.frontend}/${k}`, v, t);
    this.gxs.write(`${this.frontend}/state`, String(o.state ?? XenbusState.Connected), t);
    if (!this.gxs.end(t)) throw new Error('transaction failed');
    this.blk.poll();
  }

  /** Put requests, publish, notify if the ring says so, poll; return the new responses. */
  submit(...reqs: Uint8Array[]): { id: bigint; operation: number; status: number }[] {
    const f = this.front!;
    for (const r of reqs) f.put(r);
    if (f.publish()) this.events.send(this.port);
    this.blk.poll();
    return f.take();
  }

  /** A data page of the guest, granted as `ref` (ref = 100 + page index by default). */
  page(i: number, o: { readonly?: boolean; fill?: number } = {}): { ref: number; pa: number } {
    const ref = 100 + i, pfn = DATA_PFN + i;
    this.grants.grant(ref, pfn, o.readonly ?? false);
    if (o.fill !== undefined) this.mem.fill(pfn * PAGE, PAGE, o.fill);
    return { ref, pa: pfn * PAGE };
  }
}

/** Byte-equality without vitest's slow element-wise diff on large arrays. */
export function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

export function newServer(): XenstoreServer {
  const server = new XenstoreServer();
  buildDom0Tree(server);
  buildDomainTree(server, { domid: GUEST, name: 'guest', memoryKiB: 1024 });
  return server;
}

export const OP = BLKIF_OP;
export const ST = XenbusState;
