/**
 * The xenstore database and the operations on it (docs/misc/xenstore.txt,
 * "Database read, write and permissions operations").
 *
 * Nodes are immutable values keyed by absolute path in a flat map: a
 * change replaces the node with a copy carrying a fresh generation number.
 * That makes transactions cheap (transactions.ts keeps an overlay of
 * replaced nodes over the live store) and conflict detection exact (a
 * node changed since a transaction looked at it has another generation).
 *
 * The operations take a NodeView — the live Store or a Transaction — plus
 * the caller, check permissions and quotas, and report what they changed
 * as ChangeEvents for the watch machinery. They throw XsError for
 * anything the caller did wrong. Error choices follow C xenstored:
 *
 *   - no permission on an existing node → EACCES;
 *   - a missing node → ENOENT if the caller holds the needed access on its
 *     nearest existing ancestor, else EACCES (so a guest learns nothing
 *     about nodes it may not see);
 *   - creating nodes needs write access on the nearest existing ancestor;
 *     new nodes inherit that ancestor's permissions, and a guest becomes
 *     the owner of what it creates;
 *   - only the target path fires watches, not parents created on the way.
 */
import { XsError } from './errors.js';
import { PERM_OWNER, PERM_READ, PERM_WRITE, accessFor, inheritPerms, ownerOf, type Caller, type Perms } from './perms.js';
import { baseName, joinPath, parentOf } from './paths.js';
import type { XsLimits } from './limits.js';

/** One node: its value, the names of its children (in creation order), its permissions. */
export interface XsNode {
  readonly value: Uint8Array;
  readonly children: readonly string[];
  readonly perms: Perms;
  /** Changes whenever value, children or permissions change. */
  readonly generation: number;
}

/** Something that changed, for watches. */
export interface ChangeEvent {
  /** Absolute path (or a special "@name"). */
  readonly path: string;
  /** Permissions under which a watcher may see it (any one readable suffices). */
  readonly perms: readonly Perms[];
  /** True for nodes removed below an RM's target: only a watch on exactly this path fires. */
  readonly exact: boolean;
}

/** Read and replace nodes: the live store or a transaction's overlay. */
export interface NodeView {
  get(path: string): XsNode | undefined;
  /** Insert or replace; keeps per-owner node counts. */
  set(path: string, node: XsNode): void;
  delete(path: string): void;
  /** Nodes owned by `domid` as this view sees them. */
  count(domid: number): number;
  /** A fresh generation number. */
  nextGeneration(): number;
}

const EMPTY = new Uint8Array(0);

/** The live database. Starts with the root "/" owned by dom0 ("n0"). */
export class Store implements NodeView {
  private readonly nodes = new Map<string, XsNode>();
  private readonly owned = new Map<number, number>();
  private generation = 0;

  constructor() {
    this.set('/', { value: EMPTY, children: [], perms: [{ domid: 0, access: 'n' }], generation: this.nextGeneration() });
  }

  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  set(path: string, node: XsNode): void {
    const old = this.nodes.get(path);
    if (old !== undefined) this.bump(ownerOf(old.perms), -1);
    this.nodes.set(path, node);
    this.bump(ownerOf(node.perms), 1);
  }

  delete(path: string): void {
    const old = this.nodes.get(path);
    if (old === undefined) return;
    this.nodes.delete(path);
    this.bump(ownerOf(old.perms), -1);
  }

  count(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  nextGeneration(): number {
    return ++this.generation;
  }

  /** Total nodes. */
  get size(): number {
    return this.nodes.size;
  }

  /** Every path, in insertion order (tests and debugging). */
  paths(): IterableIterator<string> {
    return this.nodes.keys();
  }

  private bump(domid: number, by: number): void {
    const n = (this.owned.get(domid) ?? 0) + by;
    if (n === 0) this.owned.delete(domid);
    else this.owned.set(domid, n);
  }
}

/** Bytes a node occupies for the node-size quota: value plus each child name and its NUL. */
export function nodeSize(value: Uint8Array, children: readonly string[]): number {
  let n = value.length;
  for (const c of children) n += c.length + 1;
  return n;
}

/** The error for a node that does not exist (see the header): ENOENT or EACCES. */
function missing(v: NodeView, c: Caller, path: string, need: number): XsError {
  let p = path;
  do {
    p = parentOf(p);
    const n = v.get(p);
    if (n !== undefined) {
      return (accessFor(n.perms, c) & need) !== 0
        ? new XsError('ENOENT', `${path} does not exist`)
        : new XsError('EACCES', `no access to ${path}`);
    }
  } while (p !== '/');
  return new XsError('ENOENT', `${path} does not exist`);
}

/** The node at `path`, which the caller must hold `need` on. */
function existing(v: NodeView, c: Caller, path: string, need: number): XsNode {
  const n = v.get(path);
  if (n === undefined) throw missing(v, c, path, need);
  if ((accessFor(n.perms, c) & need) !== need) throw new XsError('EACCES', `no access to ${path}`);
  return n;
}

function checkSize(c: Caller, lim: XsLimits, path: string, value: Uint8Array, children: readonly string[]): void {
  if (!c.privileged && nodeSize(value, children) > lim.maxNodeSize) {
    throw new XsError('ENOSPC', `${path} would exceed ${lim.maxNodeSize} bytes`);
  }
}

/** READ: the value. */
export function readNode(v: NodeView, c: Caller, path: string): Uint8Array {
  return existing(v, c, path, PERM_READ).value;
}

/** DIRECTORY: child names. */
export function listChildren(v: NodeView, c: Caller, path: string): { children: readonly string[]; generation: number } {
  const n = existing(v, c, path, PERM_READ);
  return { children: n.children, generation: n.generation };
}

/** GET_PERMS. */
export function getPerms(v: NodeView, c: Caller, path: string): Perms {
  return existing(v, c, path, PERM_READ).perms;
}

/**
 * Create `path` (which must not exist) and any missing parents, giving
 * the target `value` and the parents empty values.
 */
function create(v: NodeView, c: Caller, lim: XsLimits, path: string, value: Uint8Array, ev: ChangeEvent[]): void {
  const chain = [path];
  let top = parentOf(path);
  let anc = v.get(top);
  while (anc === undefined) {
    chain.push(top);
    top = parentOf(top);
    anc = v.get(top);
  }
  if ((accessFor(anc.perms, c) & PERM_WRITE) === 0) throw new XsError('EACCES', `no write access to create ${path}`);
  if (!c.privileged && v.count(c.domid) + chain.length > lim.maxNodesPerDomain) {
    throw new XsError('ENOSPC', `domain ${c.domid} would own more than ${lim.maxNodesPerDomain} nodes`);
  }
  checkSize(c, lim, path, value, []);
  const first = chain[chain.length - 1]!;
  const siblings = [...anc.children, baseName(first)];
  checkSize(c, lim, top, anc.value, siblings);
  const perms = inheritPerms(anc.perms, c);
  v.set(top, { ...anc, children: siblings, generation: v.nextGeneration() });
  for (let i = chain.length - 1; i >= 0; i--) {
    const p = chain[i]!;
    const child = i > 0 ? [baseName(chain[i - 1]!)] : [];
    v.set(p, { value: i === 0 ? value : EMPTY, children: child, perms, generation: v.nextGeneration() });
  }
  ev.push({ path, perms: [perms], exact: false });
}

/** WRITE: set the value, creating the node and missing parents. */
export function writeNode(v: NodeView, c: Caller, lim: XsLimits, path: string, value: Uint8Array, ev: ChangeEvent[]): void {
  const n = v.get(path);
  if (n === undefined) {
    create(v, c, lim, path, value, ev);
    return;
  }
  if ((accessFor(n.perms, c) & PERM_WRITE) === 0) throw new XsError('EACCES', `no write access to ${path}`);
  checkSize(c, lim, path, value, n.children);
  v.set(path, { ...n, value, generation: v.nextGeneration() });
  ev.push({ path, perms: [n.perms], exact: false });
}

/** MKDIR: make sure the node exists (an existing one needs write access and is left alone). */
export function makeNode(v: NodeView, c: Caller, lim: XsLimits, path: string, ev: ChangeEvent[]): void {
  const n = v.get(path);
  if (n !== undefined) {
    if ((accessFor(n.perms, c) & PERM_WRITE) === 0) throw new XsError('EACCES', `no write access to ${path}`);
    return;
  }
  create(v, c, lim, path, EMPTY, ev);
}

/**
 * RM: delete the node and everything below it. A missing node is fine if
 * its parent exists. Watches fire for the target (and its ancestors'
 * watchers) and, exactly, for each removed descendant.
 */
export function removeNode(v: NodeView, c: Caller, path: string, ev: ChangeEvent[]): void {
  if (path === '/') throw new XsError('EINVAL', 'cannot remove the root');
  const n = v.get(path);
  if (n === undefined) {
    const err = missing(v, c, path, PERM_WRITE);
    if (err.code !== 'ENOENT' || v.get(parentOf(path)) === undefined) throw err;
    return;
  }
  if ((accessFor(n.perms, c) & PERM_WRITE) === 0) throw new XsError('EACCES', `no write access to ${path}`);
  const parentPath = parentOf(path);
  const parent = v.get(parentPath);
  if (parent === undefined) throw new Error(`xenstore: ${path} exists without its parent`);
  ev.push({ path, perms: [n.perms], exact: false });
  // Depth-first over the subtree, iteratively (paths may be ~1500 levels deep).
  const stack: string[] = [path];
  const doomed: string[] = [];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const node = p === path ? n : v.get(p);
    if (node === undefined) continue;
    doomed.push(p);
    if (p !== path) ev.push({ path: p, perms: [node.perms], exact: true });
    for (const child of node.children) stack.push(joinPath(p, child));
  }
  for (const p of doomed) v.delete(p);
  const name = baseName(path);
  v.set(parentPath, { ...parent, children: parent.children.filter((x) => x !== name), generation: v.nextGeneration() });
}

/**
 * SET_PERMS: the caller needs write access and must own the node (or be
 * privileged); a guest may not give a node away (EPERM) nor list more than
 * maxPermsPerNode grants (ENOSPC).
 */
export function setNodePerms(v: NodeView, c: Caller, lim: XsLimits, path: string, perms: Perms, ev: ChangeEvent[]): void {
  const n = existing(v, c, path, PERM_WRITE | PERM_OWNER);
  if (!c.privileged) {
    if (perms.length - 1 > lim.maxPermsPerNode) throw new XsError('ENOSPC', `more than ${lim.maxPermsPerNode} permission entries`);
    if (ownerOf(perms) !== ownerOf(n.perms)) throw new XsError('EPERM', 'only dom0 may change the owner');
  }
  v.set(path, { ...n, perms, generation: v.nextGeneration() });
  ev.push({ path, perms: [n.perms, perms], exact: false });
}
