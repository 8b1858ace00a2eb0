/**
 * A learning Ethernet switch inside one xenkit process (`--net
 * switch:NAME`): the vifs of the guests that name the same switch, plus
 * optionally an uplink (a VXLAN link, port.ts `attachVxlanUplink`), share
 * one L2 segment. It behaves like an IEEE 802.1D transparent bridge
 * without spanning tree, and like Linux's bridge where 802.1D leaves room:
 *
 * - Learning: a frame's source MAC is recorded against the port it came in
 *   on, with the time (injected clock). A station that shows up on another
 *   port moves there.
 * - Forwarding: a unicast destination found in the table goes to that port
 *   only; unknown unicast, broadcast and multicast are flooded to every
 *   port but the one they came in on.
 * - No hairpin: a frame is never sent back out of its ingress port; a
 *   frame whose destination was learned on its own ingress port is dropped
 *   (`dropped.hairpin`), as the station already saw it on that segment.
 * - Ageing: an entry not refreshed for `agingMs` (802.1D's default, 300 s)
 *   is forgotten; expiry is checked on lookup and swept when the table fills.
 * - Bounded table: at most `maxEntries` MACs; when full, the entry
 *   refreshed longest ago is evicted (`evicted`), so a guest spraying
 *   random source addresses degrades to flooding instead of growing memory.
 * - Frames with a group (multicast/broadcast) or all-zero source address
 *   are invalid and dropped (`dropped.badSource`), as Linux's bridge does;
 *   frames Ethernet refuses (frame.ts `checkFrame`) are dropped too.
 *
 * Delivery is synchronous: `input` calls the receivers of the egress ports
 * before it returns, all with the same (immutable) frame. Receivers must
 * not feed frames straight back into the switch from inside the callback
 * (the netback queues into its rx ring; tests that answer use a queue).
 */
import {
  checkFrame, countDrop, frameDrops, isGroupMacAt, isZeroMacAt, macFromKey, macKey, macKeyAt, type FrameDrops,
} from './frame.js';

/** A port the switch refuses: its station MAC is already behind another port. */
export class SwitchError extends Error {
  readonly code = 'mac-in-use';
  constructor(message: string) {
    super(message);
    this.name = 'SwitchError';
  }
}

/** 802.1D's default ageing time. */
export const DEFAULT_AGING_MS = 300_000;
/** Default bound of the MAC table. */
export const DEFAULT_MAX_ENTRIES = 4096;

/** How a switch is built. */
export interface SwitchOptions {
  /** The clock, milliseconds (any origin, monotonic enough for ageing). */
  now: () => number;
  /** Forget a MAC not seen for this long (ms). */
  agingMs?: number;
  /** Most MACs remembered. */
  maxEntries?: number;
}

/** A port's attachment: what the port's owner holds. */
export interface SwitchPort {
  /** Unique among the switch's ports, never reused. */
  readonly id: number;
  /** What the port connects (for tables and messages): "vif 0 of guest 1", "uplink". */
  readonly label: string;
  /** A frame entering the switch from this port. */
  input(frame: Uint8Array): void;
  /** Leave the switch: its learned MACs are forgotten. Idempotent. */
  detach(): void;
}

/** One row of the MAC table. */
export interface MacEntry {
  mac: string;
  port: number;
  label: string;
  /** ms since the MAC was last seen. */
  age: number;
}

/** Counters of a switch. Plain data. */
export interface SwitchStats {
  /** Frames received on any port. */
  input: number;
  /** Frames sent to one known port. */
  forwarded: number;
  /** Frames flooded (unknown unicast, broadcast, multicast). */
  flooded: number;
  /** Table entries added or moved. */
  learned: number;
  /** Entries evicted because the table was full. */
  evicted: number;
  /** Entries forgotten because they aged out. */
  aged: number;
  dropped: FrameDrops & { hairpin: number; badSource: number };
}

interface PortRec {
  id: number;
  label: string;
  deliver: (frame: Uint8Array) => void;
  /** MACs that declare themselves as this port's (refused elsewhere, see `claim`). */
  claims: Set<number>;
}

interface Entry {
  port: number;
  seen: number;
}

/** A learning switch; create one per name (port.ts keeps them in the host's map). */
export class NetSwitch {
  readonly stats: SwitchStats = {
    input: 0, forwarded: 0, flooded: 0, learned: 0, evicted: 0, aged: 0,
    dropped: { ...frameDrops(), hairpin: 0, badSource: 0 },
  };
  readonly agingMs: number;
  readonly maxEntries: number;
  private readonly now: () => number;
  private readonly ports = new Map<number, PortRec>();
  /** MAC key → entry, in order of last refresh (oldest first). */
  private readonly table = new Map<number, Entry>();
  private nextId = 1;

  constructor(readonly name: string, options: SwitchOptions) {
    this.now = options.now;
    this.agingMs = options.agingMs ?? DEFAULT_AGING_MS;
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_MAX_ENTRIES);
  }

  /**
   * Connect a port; `deliver` receives the frames the switch sends out of
   * it. `mac`, when given, is the station address behind the port (a vif's
   * own MAC): a second port claiming the same MAC is refused with an Error,
   * since one segment cannot have two stations with one address (SwitchError).
   */
  attach(label: string, deliver: (frame: Uint8Array) => void, mac?: string): SwitchPort {
    const claims = new Set<number>();
    if (mac !== undefined) {
      const key = macKey(mac);
      for (const p of this.ports.values()) {
        if (p.claims.has(key)) throw new SwitchError(`switch ${this.name}: MAC ${mac} is already on this switch (${p.label}); give this vif another mac=`);
      }
      claims.add(key);
    }
    const rec: PortRec = { id: this.nextId++, label, deliver, claims };
    this.ports.set(rec.id, rec);
    let attached = true;
    return {
      id: rec.id,
      label,
      input: (frame) => { if (attached) this.input(rec.id, frame); },
      detach: () => {
        if (!attached) return;
        attached = false;
        this.ports.delete(rec.id);
        for (const [k, e] of this.table) if (e.port === rec.id) this.table.delete(k);
      },
    };
  }

  /** Number of attached ports. */
  get portCount(): number {
    return this.ports.size;
  }

  /** The port a MAC is learned on (id), or undefined when unknown or aged out. */
  lookup(mac: string): number | undefined {
    return this.live(macKey(mac))?.port;
  }

  /** The MAC table, oldest refresh first (aged-out entries are left out). */
  entries(): MacEntry[] {
    const t = this.now();
    const out: MacEntry[] = [];
    for (const [k, e] of this.table) {
      if (t - e.seen > this.agingMs) continue;
      out.push({ mac: macFromKey(k), port: e.port, label: this.ports.get(e.port)?.label ?? '?', age: t - e.seen });
    }
    return out;
  }

  private input(from: number, frame: Uint8Array): void {
    this.stats.input++;
    const problem = checkFrame(frame);
    if (problem !== null) {
      countDrop(this.stats.dropped, problem);
      return;
    }
    if (isGroupMacAt(frame, 6) || isZeroMacAt(frame, 6)) {
      this.stats.dropped.badSource++;
      return;
    }
    this.learn(macKeyAt(frame, 6), from);

    if (!isGroupMacAt(frame, 0)) {
      const e = this.live(macKeyAt(frame, 0));
      if (e !== undefined) {
        if (e.port === from) {
          this.stats.dropped.hairpin++;
          return;
        }
        const out = this.ports.get(e.port);
        if (out !== undefined) {
          this.stats.forwarded++;
          out.deliver(frame);
          return;
        }
      }
    }
    this.stats.flooded++;
    // A snapshot: a receiver that detaches a port mid-flood does not disturb the loop.
    for (const p of [...this.ports.values()]) if (p.id !== from && this.ports.has(p.id)) p.deliver(frame);
  }

  /** The entry for `key` if it has not aged out (an aged one is removed). */
  private live(key: number): Entry | undefined {
    const e = this.table.get(key);
    if (e === undefined) return undefined;
    if (this.now() - e.seen > this.agingMs) {
      this.table.delete(key);
      this.stats.aged++;
      return undefined;
    }
    return e;
  }

  private learn(key: number, port: number): void {
    const t = this.now();
    const e = this.table.get(key);
    if (e !== undefined) {
      if (e.port !== port) this.stats.learned++;
      this.table.delete(key); // re-insert: the map's order is refresh order
      this.table.set(key, { port, seen: t });
      return;
    }
    if (this.table.size >= this.maxEntries) {
      for (const [k, old] of this.table) {
        if (t - old.seen <= this.agingMs) break; // refresh order: the rest are younger
        this.table.delete(k);
        this.stats.aged++;
      }
      if (this.table.size >= this.maxEntries) {
        const oldest = this.table.keys().next().value as number;
        this.table.delete(oldest);
        this.stats.evicted++;
      }
    }
    this.table.set(key, { port, seen: t });
    this.stats.learned++;
  }
}
