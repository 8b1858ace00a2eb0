/*
 * xen/errno.h - corresponds to Xen's public header errno.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * Hypercalls return 0 or a positive value on success and -XEN_Exxx on
 * failure. The values are Xen's own (they follow Linux's numbering) and do
 * not depend on any libc; a freestanding guest has none.
 *
 * Xen keeps EINTR (4) and ERESTART (85) internal: a guest never sees them,
 * so they are not declared here.
 */
#ifndef XENKIT_XEN_ERRNO_H
#define XENKIT_XEN_ERRNO_H

#ifndef __ASSEMBLER__

enum xen_errno {
    XEN_EPERM         =   1,  /* operation not permitted */
    XEN_ENOENT        =   2,  /* no such entry */
    XEN_ESRCH         =   3,  /* no such domain / vCPU */
    XEN_EIO           =   5,
    XEN_ENXIO         =   6,
    XEN_E2BIG         =   7,
    XEN_ENOEXEC       =   8,
    XEN_EBADF         =   9,
    XEN_ECHILD        =  10,
    XEN_EAGAIN        =  11,  /* try again */
    XEN_EWOULDBLOCK   =  11,  /* same as EAGAIN */
    XEN_ENOMEM        =  12,
    XEN_EACCES        =  13,
    XEN_EFAULT        =  14,  /* a guest pointer did not translate */
    XEN_EBUSY         =  16,
    XEN_EEXIST        =  17,
    XEN_EXDEV         =  18,
    XEN_ENODEV        =  19,
    XEN_ENOTDIR       =  20,
    XEN_EISDIR        =  21,
    XEN_EINVAL        =  22,
    XEN_ENFILE        =  23,
    XEN_EMFILE        =  24,
    XEN_ENOSPC        =  28,
    XEN_EROFS         =  30,
    XEN_EMLINK        =  31,
    XEN_EDOM          =  33,
    XEN_ERANGE        =  34,
    XEN_EDEADLK       =  35,
    XEN_EDEADLOCK     =  35,  /* same as EDEADLK */
    XEN_ENAMETOOLONG  =  36,
    XEN_ENOLCK        =  37,
    XEN_ENOSYS        =  38,  /* hypercall or sub-op not implemented */
    XEN_ENOTEMPTY     =  39,
    XEN_ENODATA       =  61,
    XEN_ETIME         =  62,  /* e.g. single-shot timer already expired */
    XEN_EBADMSG       =  74,
    XEN_EOVERFLOW     =  75,
    XEN_EILSEQ        =  84,
    XEN_ENOTSOCK      =  88,
    XEN_EMSGSIZE      =  90,
    XEN_EOPNOTSUPP    =  95,
    XEN_EADDRINUSE    =  98,
    XEN_EADDRNOTAVAIL =  99,
    XEN_ENOBUFS       = 105,
    XEN_EISCONN       = 106,
    XEN_ENOTCONN      = 107,
    XEN_ETIMEDOUT     = 110,
    XEN_ECONNREFUSED  = 111
};

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_ERRNO_H */
