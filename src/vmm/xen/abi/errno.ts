/**
 * Xen's public header errno.h: the error numbers hypercalls return
 * (negated). XEN_ERRNO.EINVAL is C's XEN_EINVAL.
 *
 * Mirrors templates/minios/include/xen/errno.h.
 */
import { constants, nameOf } from './layout.js';

export const XEN_ERRNO = constants('XEN_', {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  EWOULDBLOCK: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOSPC: 28,
  EROFS: 30,
  EMLINK: 31,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  EDEADLOCK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ENODATA: 61,
  ETIME: 62,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EILSEQ: 84,
  ENOTSOCK: 88,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
});

/**
 * Values Xen uses internally but never returns to a guest (its public
 * header hides them from guests, so the C header omits them too).
 */
export const XEN_INTERNAL_ERRNO = Object.freeze({ EINTR: 4, ERESTART: 85 });

/** "EINVAL" for 22 or -22; undefined for unknown values. */
export function errnoName(value: number): string | undefined {
  return nameOf(XEN_ERRNO, Math.abs(value));
}
