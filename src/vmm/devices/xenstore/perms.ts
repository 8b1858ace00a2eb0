/**
 * Xenstore node permissions (docs/misc/xenstore.txt GET_PERMS/SET_PERMS,
 * and the XenBus "Permissions" rules every xenstored follows).
 *
 * A node carries a list of at least one entry `<letter><domid>`:
 *
 *   - the first entry names the node's *owner* and the *default* access
 *     of every domain not listed further on ("n0" = owned by dom0, nobody
 *     else may touch it; "r5" = owned by dom5, everyone may read);
 *   - later entries grant one domain its own access ("b3": dom3 may read
 *     and write).
 *
 * Letters: n none, r read, w write, b both. The owner and privileged
 * callers (dom0) may do anything, including changing the permissions. An
 * ACL entry for the owner itself is ignored (ownership wins).
 */
import { XsError } from './errors.js';

/** One `<letter><domid>` entry. */
export type Access = 'n' | 'r' | 'w' | 'b';

export interface Perm {
  readonly domid: number;
  readonly access: Access;
}

/** A node's permission list: owner + default first, then per-domain grants. */
export type Perms = readonly [Perm, ...Perm[]];

/** Access bits a caller holds on a node. */
export const PERM_READ = 1, PERM_WRITE = 2, PERM_OWNER = 4;

/** Who is asking: a domain, and whether it is privileged (dom0). */
export interface Caller {
  readonly domid: number;
  readonly privileged: boolean;
}

const BITS: Readonly<Record<Access, number>> = { n: 0, r: PERM_READ, w: PERM_WRITE, b: PERM_READ | PERM_WRITE };

/** The PERM_* bits `caller` holds on a node with permissions `perms`. */
export function accessFor(perms: Perms, caller: Caller): number {
  if (caller.privileged || perms[0].domid === caller.domid) return PERM_READ | PERM_WRITE | PERM_OWNER;
  for (let i = 1; i < perms.length; i++) {
    const p = perms[i]!;
    if (p.domid === caller.domid) return BITS[p.access];
  }
  return BITS[perms[0].access];
}

/** "r5" for { domid: 5, access: 'r' }. */
export function formatPerm(p: Perm): string {
  return `${p.access}${p.domid}`;
}

/**
 * Parse one `<letter><domid>` string. Stricter than C xenstored (which lets
 * strtol ignore junk): the domid must be plain decimal, 0..65535.
 */
export function parsePerm(s: string): Perm {
  const m = /^([nrwb])(\d{1,5})$/.exec(s);
  const domid = m ? Number(m[2]) : NaN;
  if (!m || domid > 0xffff) throw new XsError('EINVAL', `bad permission '${s.slice(0, 16)}'`);
  return { domid, access: m[1] as Access };
}

/** Parse a whole list (at least one entry). */
export function parsePerms(list: readonly string[]): Perms {
  if (list.length === 0) throw new XsError('EINVAL', 'empty permission list');
  const [first, ...rest] = list.map(parsePerm);
  return [first!, ...rest];
}

/** Permissions literal helper for the VMM's own code: perms('n0', 'r5'). */
export function perms(first: string, ...rest: string[]): Perms {
  return parsePerms([first, ...rest]);
}

/** The owner's domid. */
export function ownerOf(p: Perms): number {
  return p[0].domid;
}

/** Inherited permissions for a node `creator` makes under a parent with `parent`: unprivileged creators own what they create. */
export function inheritPerms(parent: Perms, creator: Caller): Perms {
  if (creator.privileged || parent[0].domid === creator.domid) return parent;
  const [first, ...rest] = parent;
  return [{ domid: creator.domid, access: first.access }, ...rest];
}
