/*
 * xen/io/console.h - corresponds to Xen's public header io/console.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * The PV console page: the guest writes bytes into out[] at out_prod,
 * advances out_prod (after a write barrier) and signals the console event
 * channel; the backend consumes from out_cons. in[] runs the other way.
 * Indices are free-running and masked with the array size minus one.
 * PV guests find the page at start_info.console.domU.mfn, PVH guests at
 * HVM_PARAM_CONSOLE_PFN.
 */
#ifndef XENKIT_XEN_IO_CONSOLE_H
#define XENKIT_XEN_IO_CONSOLE_H

#define XENCONSOLE_CONNECTED     0
#define XENCONSOLE_DISCONNECTED  1

#ifndef __ASSEMBLER__

#include <stdint.h>

typedef uint32_t XENCONS_RING_IDX;

/* Slot of free-running index idx in console array ring (in or out). */
#define MASK_XENCONS_IDX(idx, ring) ((idx) & (sizeof(ring) - 1))

/* 3092 bytes (3089 used, padded to 4-byte alignment). */
struct xencons_interface {
    char             in[1024];  /* backend -> guest */
    char             out[2048]; /* guest -> backend */
    XENCONS_RING_IDX in_cons, in_prod;
    XENCONS_RING_IDX out_cons, out_prod;
    uint8_t          connection; /* XENCONSOLE_* */
};

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_IO_CONSOLE_H */
