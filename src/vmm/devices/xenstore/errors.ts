/**
 * The one error type of the xenstore server: a guest-visible failure that
 * becomes an XS_ERROR reply carrying the errno *name* (docs/misc/xenstore.txt,
 * "Error replies"; the names are those io/xs_wire.h lists in xsd_errors[]).
 *
 * Operations throw XsError deep inside path parsing, permission checks and
 * quota checks; the protocol engine (server.ts) catches it in exactly one
 * place and answers the request with it. Anything else that is thrown is a
 * VMM bug and propagates.
 */

/** The errno names an XS_ERROR reply may carry (io/xs_wire.h xsd_errors[]). */
export type XsErrorName =
  | 'EINVAL' | 'EACCES' | 'EEXIST' | 'EISDIR' | 'ENOENT' | 'ENOMEM' | 'ENOSPC' | 'EIO'
  | 'ENOTEMPTY' | 'ENOSYS' | 'EROFS' | 'EBUSY' | 'EAGAIN' | 'EISCONN' | 'E2BIG' | 'EPERM';

/** A request failed; `code` goes back to the client, `message` says why (for logs and tests). */
export class XsError extends Error {
  constructor(readonly code: XsErrorName, detail: string) {
    super(`${code}: ${detail}`);
    this.name = 'XsError';
  }
}
