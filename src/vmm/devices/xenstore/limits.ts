/**
 * The xenstore server's limits. Protocol limits come from io/xs_wire.h
 * (XENSTORE_PAYLOAD_MAX, XENSTORE_ABS_PATH_MAX, XENSTORE_REL_PATH_MAX);
 * the quotas take the defaults of Xen's C xenstored, which also decides
 * the error each one answers with:
 *
 *   nodes per domain 1000 ........ ENOSPC   (creating one more node)
 *   node size 2048 ............... ENOSPC   (value + child names of a node a guest writes)
 *   ACL entries per node 5 ....... ENOSPC   (SET_PERMS beyond the owner entry)
 *   watches per connection 128 ... E2BIG
 *   transactions per conn. 10 .... ENOSPC
 *   nodes touched per tx 1024 .... ENOSPC
 *   path too long ................ EINVAL   (like any invalid path)
 *   payload > 4096 ............... the connection is closed
 *
 * Quotas bind unprivileged domains only; dom0 (the VMM's own toolstack and
 * backends) is trusted. `maxPendingEventBytes` bounds the watch events
 * queued for any connection, privileged or not: a client that stops
 * reading is disconnected rather than allowed to grow the queue.
 */
import { XENSTORE_ABS_PATH_MAX, XENSTORE_PAYLOAD_MAX, XENSTORE_REL_PATH_MAX } from '../../xen/abi/xs-wire.js';

export interface XsLimits {
  /** Most bytes in one message payload, either direction. */
  readonly maxPayload: number;
  /** Longest absolute path. */
  readonly maxAbsPath: number;
  /** Longest relative path, and for guests the longest part below /local/domain/<id>/. */
  readonly maxRelPath: number;
  /** Most nodes an unprivileged domain may own. */
  readonly maxNodesPerDomain: number;
  /** Most bytes of value plus child names (each + NUL) in a node a guest writes. */
  readonly maxNodeSize: number;
  /** Most ACL entries after the owner entry in a guest's SET_PERMS. */
  readonly maxPermsPerNode: number;
  /** Most watches per unprivileged connection. */
  readonly maxWatches: number;
  /** Most open transactions per unprivileged connection. */
  readonly maxTransactions: number;
  /** Most distinct nodes one unprivileged transaction may read or write. */
  readonly maxTransactionNodes: number;
  /** Most bytes of undelivered watch events per connection before it is dropped. */
  readonly maxPendingEventBytes: number;
}

/** Xen's defaults (C xenstored), plus a 64 KiB watch-event backlog. */
export const DEFAULT_LIMITS: XsLimits = Object.freeze({
  maxPayload: XENSTORE_PAYLOAD_MAX,
  maxAbsPath: XENSTORE_ABS_PATH_MAX,
  maxRelPath: XENSTORE_REL_PATH_MAX,
  maxNodesPerDomain: 1000,
  maxNodeSize: 2048,
  maxPermsPerNode: 5,
  maxWatches: 128,
  maxTransactions: 10,
  maxTransactionNodes: 1024,
  maxPendingEventBytes: 64 * 1024,
});
