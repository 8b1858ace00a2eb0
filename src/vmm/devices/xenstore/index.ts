/**
 * The in-VMM xenstored: public face. See docs/xenstore.md.
 *
 *   server.ts      protocol engine (handle → replies, watch events per connection)
 *   ring.ts        a guest's xenstore page as a transport
 *   client.ts      synchronous dom0 client for the VMM's own code
 *   toolstack.ts   the tree libxl would write for a domain
 *   tree.ts        the database and its operations; transactions.ts, perms.ts, paths.ts
 */
export { XenstoreServer, Connection, type XsMessage, type Watch, type SpecialPath, type ServerOptions, type XsTraceRecord } from './server.js';
export { formatXsTrace } from './trace.js';
export { XenstoreRing, HIGH_WATER } from './ring.js';
export { XsClient, type XsWatchEvent } from './client.js';
export {
  buildDomainTree, buildDom0Tree, removeDomainTree, addDevice, defaultUuid, XENCONSOLE_LIMIT,
  type DomainTreeOptions, type DeviceOptions,
} from './toolstack.js';
export { XsError, type XsErrorName } from './errors.js';
export { DEFAULT_LIMITS, type XsLimits } from './limits.js';
export { perms, parsePerms, formatPerm, type Perm, type Perms, type Access } from './perms.js';
export { Store, type XsNode, type ChangeEvent } from './tree.js';
export { Transaction } from './transactions.js';
