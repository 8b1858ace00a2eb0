/*
 * xen/io/xenbus.h - corresponds to Xen's public header io/xenbus.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300).
 * The value of a device's "state" node in xenstore, written as a decimal
 * string by frontend and backend. Usual connect sequence: both start at
 * Initialising; the backend goes to InitWait; the frontend publishes its
 * ring and goes to Initialised (or straight to Connected); the backend
 * connects; the frontend sees Connected. Teardown: Closing, then Closed.
 */
#ifndef XENKIT_XEN_IO_XENBUS_H
#define XENKIT_XEN_IO_XENBUS_H

#ifndef __ASSEMBLER__

enum xenbus_state {
    XenbusStateUnknown       = 0,
    XenbusStateInitialising  = 1,
    XenbusStateInitWait      = 2,   /* backend: waiting for the frontend's details */
    XenbusStateInitialised   = 3,   /* frontend: ring published, waiting for backend */
    XenbusStateConnected     = 4,
    XenbusStateClosing       = 5,
    XenbusStateClosed        = 6,
    XenbusStateReconfiguring = 7,
    XenbusStateReconfigured  = 8
};
typedef enum xenbus_state XenbusState;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_IO_XENBUS_H */
