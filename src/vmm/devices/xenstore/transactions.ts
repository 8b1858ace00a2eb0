/**
 * Xenstore transactions (docs/misc/xenstore.txt, "Transactions"):
 * optimistic, node-granular, serialisable at commit.
 *
 * A Transaction is a NodeView over the live Store. Reads fall through to
 * the store and remember the generation they saw (or "absent"); writes go
 * to a private overlay of replaced or deleted nodes. Commit succeeds only
 * if every node the transaction looked at still has the generation it
 * saw — then the transaction's reads are exactly what the store holds at
 * the commit instant, so applying the overlay is as if the whole
 * transaction ran atomically then. Otherwise the commit fails and the
 * client gets EAGAIN and retries (as xenstore.txt's "intervening writes"
 * rule, restricted to nodes the transaction actually touched, as modern
 * xenstoreds do).
 *
 * Watch events produced inside the transaction are held back and fired
 * only after a successful commit.
 */
import { XsError } from './errors.js';
import { ownerOf } from './perms.js';
import type { ChangeEvent, NodeView, Store, XsNode } from './tree.js';

/** How a commit ended. */
export type CommitResult = 'committed' | 'conflict' | 'quota';

/** Generation recorded for a node the transaction saw absent. */
const ABSENT = -1;

export class Transaction implements NodeView {
  /** Replaced (node) or deleted (null) nodes, by path. */
  private readonly overlay = new Map<string, XsNode | null>();
  /** Live generation (or ABSENT) of every node the transaction looked at. */
  private readonly seen = new Map<string, number>();
  /** Change in nodes owned, per domid. */
  private readonly delta = new Map<number, number>();
  /** Watch events to fire on commit. */
  readonly events: ChangeEvent[] = [];

  constructor(
    private readonly store: Store,
    /** The transaction id the client uses in tx_id. */
    readonly id: number,
    /** Most distinct nodes it may look at (Infinity for dom0). */
    private readonly maxNodes: number,
  ) {}

  get(path: string): XsNode | undefined {
    const o = this.overlay.get(path);
    if (o !== undefined) return o ?? undefined;
    const n = this.store.get(path);
    if (!this.seen.has(path)) {
      if (this.seen.size >= this.maxNodes) throw new XsError('ENOSPC', `transaction touches more than ${this.maxNodes} nodes`);
      this.seen.set(path, n?.generation ?? ABSENT);
    }
    return n;
  }

  set(path: string, node: XsNode): void {
    const old = this.get(path);
    if (old !== undefined) this.bump(ownerOf(old.perms), -1);
    this.overlay.set(path, node);
    this.bump(ownerOf(node.perms), 1);
  }

  delete(path: string): void {
    const old = this.get(path);
    if (old === undefined) return;
    this.overlay.set(path, null);
    this.bump(ownerOf(old.perms), -1);
  }

  count(domid: number): number {
    return this.store.count(domid) + (this.delta.get(domid) ?? 0);
  }

  nextGeneration(): number {
    return this.store.nextGeneration();
  }

  /** Distinct nodes looked at so far. */
  get touched(): number {
    return this.seen.size;
  }

  /**
   * Apply the overlay to the store if nothing it saw has changed.
   * `quota`: re-check the node quota of an unprivileged committer against
   * the store as it is now (others may have created nodes meanwhile);
   * null for dom0.
   */
  commit(quota: { domid: number; maxNodes: number } | null): CommitResult {
    for (const [path, gen] of this.seen) {
      if ((this.store.get(path)?.generation ?? ABSENT) !== gen) return 'conflict';
    }
    if (quota !== null) {
      const d = this.delta.get(quota.domid) ?? 0;
      if (d > 0 && this.store.count(quota.domid) + d > quota.maxNodes) return 'quota';
    }
    // Fresh generations, so transactions that saw the old nodes conflict in turn.
    for (const [path, node] of this.overlay) {
      if (node === null) this.store.delete(path);
      else this.store.set(path, { ...node, generation: this.store.nextGeneration() });
    }
    return 'committed';
  }

  private bump(domid: number, by: number): void {
    this.delta.set(domid, (this.delta.get(domid) ?? 0) + by);
  }
}
