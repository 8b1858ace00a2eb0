/**
 * Test rig for the net backend: a fake guest (its memory, a netfront's
 * halves of the tx and rx rings, the grant and event-channel fakes of the
 * block rig), slot encoders, and a whole vif — the real XenstoreServer /
 * XsClient for the handshake, a real NetPort over the fake NetHost of
 * tests/net (in-memory switches, UDP and capture files).
 */
import { PhysMemory } from '../../../src/vmm/memory/phys.js';
import { SRING_HEADER, initSring, needsNotify } from '../../../src/vmm/xen/abi/ring.js';
import { NETTXF, XEN_NETIF_EXTRA_FLAG_MORE } from '../../../src/vmm/xen/abi/netif.js';
import { XenbusState } from '../../../src/vmm/xen/abi/xenbus.js';
import { XenstoreServer, XsClient, buildDom0Tree, buildDomainTree } from '../../../src/vmm/devices/xenstore/index.js';
import { createNetPort, parseNetSpec, type NetHost, type NetPort } from '../../../src/vmm/devices/net/index.js';
import { Netback, addNetDevice, type NetbackOptions } from '../../../src/vmm/devices/net/netback.js';
import {
  decodeRxResponse, decodeTxResponse, encodeRxRequest, encodeTxRequest,
} from '../../../src/vmm/devices/net/request.js';
import { FakeEvents, FakeGrants } from '../block/helpers.js';
import { fakeHost } from '../../net/helpers.js';

export { FakeEvents, FakeGrants, rng, same } from '../block/helpers.js';
export { arp, eth, parseArp, parseUdp4, pattern, readPcap, udp4, fakeHost } from '../../net/helpers.js';

export const PAGE = 4096;
export const ST = XenbusState;
const H = SRING_HEADER;

/** The frontend's half of one shared ring in guest memory (FRONT_RING_* macros). */
export class FrontRing {
  reqProdPvt = 0;
  rspCons = 0;
  readonly entries: number;

  constructor(readonly mem: PhysMemory, readonly pa: number, readonly slotSize: number, readonly rspSize: number) {
    this.entries = 1 << Math.floor(Math.log2((PAGE - 64) / slotSize));
    initSring(mem.u8, pa);
  }

  put(req: Uint8Array): void {
    this.mem.writeBytes(this.pa + H.ring + (this.reqProdPvt & (this.entries - 1)) * this.slotSize, req);
    this.reqProdPvt = (this.reqProdPvt + 1) >>> 0;
  }

  /** RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. */
  publish(): boolean {
    const old = this.mem.read32(this.pa + H.req_prod) >>> 0;
    this.mem.write32(this.pa + H.req_prod, this.reqProdPvt);
    return needsNotify(old, this.reqProdPvt, this.reqEvent);
  }

  get rspProd(): number {
    return this.mem.read32(this.pa + H.rsp_prod) >>> 0;
  }

  get reqEvent(): number {
    return this.mem.read32(this.pa + H.req_event) >>> 0;
  }

  /** Free request slots from the frontend's view. */
  get room(): number {
    return this.entries - ((this.reqProdPvt - this.rspCons) >>> 0);
  }

  /** Consume the published responses (raw bytes), then rsp_event = cons + 1. */
  takeRaw(): Uint8Array[] {
    const out: Uint8Array[] = [];
    const prod = this.rspProd;
    while (this.rspCons !== prod) {
      out.push(this.mem.readBytes(this.pa + H.ring + (this.rspCons & (this.entries - 1)) * this.slotSize, this.rspSize));
      this.rspCons = (this.rspCons + 1) >>> 0;
    }
    this.mem.write32(this.pa + H.rsp_event, (this.rspCons + 1) >>> 0);
    return out;
  }
}

/** One tx slot: a request, or an extra-info slot. */
export type Slot = Uint8Array;

export function txReq(o: { gref: number; offset?: number; flags?: number; id: number; size: number }): Slot {
  return encodeTxRequest({ gref: o.gref, offset: o.offset ?? 0, flags: o.flags ?? 0, id: o.id, size: o.size });
}

/** A netif_extra_info slot (12 bytes: the union's 8 and padding). */
export function extraSlot(type: number, more = false, body: number[] = []): Slot {
  const b = new Uint8Array(12);
  b[0] = type;
  b[1] = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
  b.set(body.slice(0, 6), 2);
  return b;
}

export interface RigOptions {
  server?: XenstoreServer;
  host?: NetHost;
  /** The guest's domain id (default 1); its xenstore tree is built when missing. */
  domid?: number;
  /** --net spec of the vif (default switch:lan). */
  spec?: string;
  /** vif index (default 0). */
  index?: number;
  mem?: PhysMemory;
  grants?: FakeGrants;
  events?: FakeEvents;
  /** Where this rig's pages start (several rigs on one guest memory). */
  base?: number;
  extra?: Partial<NetbackOptions>;
}

/** A guest with one vif: the real xenstore, a fake guest, a real NetPort, a Netback. */
export class NetRig {
  tx: FrontRing | null = null;
  rx: FrontRing | null = null;
  txRef = 0;
  rxRef = 0;
  evtchn = 0;
  /** The rx channel when split. */
  evtchnRx = 0;
  private nextRxId = 0;
  /** Posted rx buffers by id: their page. */
  readonly posted = new Map<number, { ref: number; pa: number }>();

  private constructor(
    readonly server: XenstoreServer,
    readonly host: NetHost,
    readonly domid: number,
    readonly mem: PhysMemory,
    readonly grants: FakeGrants,
    readonly events: FakeEvents,
    readonly port: NetPort,
    readonly nb: Netback,
    readonly frontend: string,
    readonly backend: string,
    readonly base: number,
    /** The guest's own xenstore connection. */
    readonly gxs: XsClient,
    /** dom0's (reads only). */
    readonly dxs: XsClient,
    readonly logs: string[],
  ) {}

  static async create(o: RigOptions = {}): Promise<NetRig> {
    const server = o.server ?? newServer();
    const domid = o.domid ?? 1;
    if (new XsClient(server, 0).tryRead(`/local/domain/${domid}/domid`) === undefined) {
      buildDomainTree(server, { domid, name: `guest${domid}`, memoryKiB: 1024 });
    }
    const host = o.host ?? fakeHost();
    const mem = o.mem ?? new PhysMemory(512 * PAGE);
    const grants = o.grants ?? new FakeGrants(mem);
    const events = o.events ?? new FakeEvents();
    const config = parseNetSpec(o.spec ?? 'switch:lan', { index: o.index ?? 0, kernelPath: '/k.elf', guest: domid });
    const port = await createNetPort(config, host);
    const paths = addNetDevice(server, domid, config);
    const logs: string[] = [];
    const nb = new Netback({
      server, backendPath: paths.backend, port, grants, rings: grants, events, log: (m) => logs.push(m), ...o.extra,
    });
    const rig = new NetRig(server, host, domid, mem, grants, events, port, nb, paths.frontend, paths.backend, o.base ?? 0,
      new XsClient(server, domid), new XsClient(server, 0), logs);
    nb.start();
    return rig;
  }

  back(key: string): string | undefined {
    return this.dxs.tryRead(`${this.backend}/${key}`);
  }

  get state(): number {
    return Number(this.back('state'));
  }

  setFrontState(s: number): void {
    this.gxs.write(`${this.frontend}/state`, String(s));
    this.nb.poll();
  }

  /** pfn of the rig's page i (rings at 1 and 2, tx data from 16, rx buffers from 64). */
  pfn(i: number): number {
    return this.base + i;
  }

  /**
   * What Mini-OS's netfront does: two ring pages, grants, an unbound port,
   * the keys and Connected in one transaction. `keys` override or add
   * (an undefined value removes the key).
   */
  connect(o: { txRef?: number; rxRef?: number; port?: number; rxPort?: number; split?: boolean; ringPage?: number;
    keys?: Record<string, string | undefined>; state?: number } = {}): void {
    const txPfn = this.pfn(o.ringPage ?? 1), rxPfn = this.pfn((o.ringPage ?? 1) + 1);
    this.txRef = o.txRef ?? this.base + 8;
    this.rxRef = o.rxRef ?? this.base + 9;
    this.evtchn = o.port ?? 5;
    this.evtchnRx = o.split === true ? o.rxPort ?? this.evtchn + 1 : this.evtchn;
    this.mem.fill(txPfn * PAGE, 2 * PAGE, 0);
    this.tx = new FrontRing(this.mem, txPfn * PAGE, 12, 4);
    this.rx = new FrontRing(this.mem, rxPfn * PAGE, 8, 8);
    this.posted.clear();
    this.grants.grant(this.txRef, txPfn);
    this.grants.grant(this.rxRef, rxPfn);
    this.events.alloc(this.evtchn);
    if (o.split === true) this.events.alloc(this.evtchnRx);
    const keys: Record<string, string | undefined> = {
      'tx-ring-ref': String(this.txRef), 'rx-ring-ref': String(this.rxRef), 'request-rx-copy': '1',
      'feature-rx-notify': '1', 'feature-sg': '1',
      ...(o.split === true
        ? { 'event-channel-tx': String(this.evtchn), 'event-channel-rx': String(this.evtchnRx) }
        : { 'event-channel': String(this.evtchn) }),
      ...o.keys,
    };
    const t = this.gxs.start();
    for (const [k, v] of Object.entries(keys)) {
      if (v === undefined) {
        if (this.gxs.tryRead(`${this.frontend}/${k}`, t) !== undefined) this.gxs.rm(`${this.frontend}/${k}`, t);
      } else {
        this.gxs.write(`${this.frontend}/${k}`, v, t);
      }
    }
    this.gxs.write(`${this.frontend}/state`, String(o.state ?? ST.Connected), t);
    if (!this.gxs.end(t)) throw new Error('transaction failed');
    this.nb.poll();
  }

  /** A tx data page of the guest, granted as `ref` (base + 100 + i), optionally filled. */
  page(i: number, o: { readonly?: boolean; data?: Uint8Array; at?: number } = {}): { ref: number; pa: number } {
    const ref = this.base + 100 + i, pfn = this.pfn(16 + i);
    this.grants.grant(ref, pfn, o.readonly ?? false);
    if (o.data !== undefined) this.mem.writeBytes(pfn * PAGE + (o.at ?? 0), o.data);
    return { ref, pa: pfn * PAGE };
  }

  /**
   * The slots of one packet carrying `frame`: fragments of the given
   * sizes (default: one), each on its own data page (from page `firstPage`)
   * at `offset`; extras after the first slot.
   */
  packet(frame: Uint8Array, o: { id?: number; sizes?: number[]; offset?: number; flags?: number; firstPage?: number;
    extras?: Slot[] } = {}): Slot[] {
    const sizes = o.sizes ?? [frame.length];
    if (sizes.reduce((a, b) => a + b, 0) !== frame.length) throw new Error('sizes do not add up');
    const id0 = o.id ?? 0;
    const slots: Slot[] = [];
    let at = 0;
    sizes.forEach((n, i) => {
      const p = this.page((o.firstPage ?? 0) + i, { data: frame.subarray(at, at + n), at: o.offset ?? 0 });
      at += n;
      const more = i < sizes.length - 1 ? NETTXF.more_data : 0;
      if (i === 0) {
        const extra = (o.extras?.length ?? 0) > 0 ? NETTXF.extra_info : 0;
        slots.push(txReq({ gref: p.ref, offset: o.offset ?? 0, flags: (o.flags ?? 0) | more | extra, id: id0, size: frame.length }));
        slots.push(...(o.extras ?? []));
      } else {
        slots.push(txReq({ gref: p.ref, offset: o.offset ?? 0, flags: more, id: id0 + i, size: n }));
      }
    });
    return slots;
  }

  /** Put tx slots, publish, notify if the ring says so, poll; return the new tx responses. */
  send(...slots: Slot[]): { id: number; status: number }[] {
    const f = this.tx!;
    for (const s of slots) f.put(s);
    if (f.publish()) this.events.send(this.evtchn);
    this.nb.poll();
    return f.takeRaw().map(decodeTxResponse);
  }

  /** Post `n` rx buffers (pages from 64, refs base + 300 + id), publish, notify per the ring. */
  postRx(n: number, o: { gref?: number; notify?: boolean } = {}): void {
    const f = this.rx!;
    for (let i = 0; i < n; i++) {
      const id = this.nextRxId;
      this.nextRxId = (this.nextRxId + 1) % 256;
      const slot = id % 32;
      const ref = o.gref ?? this.base + 300 + slot, pfn = this.pfn(64 + slot);
      if (o.gref === undefined) this.grants.grant(ref, pfn);
      this.mem.fill(pfn * PAGE, PAGE, 0xee);
      this.posted.set(id, { ref, pa: pfn * PAGE });
      f.put(encodeRxRequest({ id, gref: ref }));
    }
    if (f.publish() && o.notify !== false) this.events.send(this.evtchnRx);
  }

  /** Consume rx responses; each with the frame read out of its buffer (when status > 0). */
  takeRx(): { id: number; offset: number; flags: number; status: number; frame: Uint8Array | null }[] {
    return this.rx!.takeRaw().map(decodeRxResponse).map((r) => {
      const b = this.posted.get(r.id);
      const frame = r.status > 0 && b !== undefined ? this.mem.readBytes(b.pa + r.offset, r.status) : null;
      return { ...r, frame };
    });
  }
}

export function newServer(): XenstoreServer {
  const server = new XenstoreServer();
  buildDom0Tree(server);
  return server;
}

/** A raw listener on switch `name`: a NetPort whose received frames are collected. */
export async function listener(host: NetHost, name = 'lan', mac = '02:00:00:00:00:99'): Promise<{ port: NetPort; got: Uint8Array[] }> {
  const port = await createNetPort(parseNetSpec(`switch:${name},mac=${mac}`, { index: 9, kernelPath: '/listener' }), host);
  const got: Uint8Array[] = [];
  port.onReceive((f) => got.push(f));
  return { port, got };
}
