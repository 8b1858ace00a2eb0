/*
 * xen/io/ring.h - corresponds to Xen's public header io/ring.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). The shared-page layout (struct <name>_sring) is Xen's; the
 * helper API is xenkit's own (XENKIT_DEFINE_RING below), not Xen's macro
 * set, so read this file rather than Xen's documentation for it.
 *
 * The split-driver ring protocol, as both ends must follow it:
 *  - One page (or 2^order pages) starts with a 64-byte header: four
 *    free-running indices and 48 bytes of padding (pvt + __pad); the slots
 *    follow at offset 64. A slot is a union of one request and one response.
 *  - Slot count = (ring bytes - 64) / slot size, rounded DOWN to a power
 *    of two. Indices only ever increase (wrapping modulo 2^32); an index
 *    names slot (index & (count - 1)).
 *  - The front end initialises the page: producers 0, events 1.
 *  - Producer: write the slots, write barrier, publish the new producer
 *    index, full barrier, then notify the peer's event channel only if
 *    the peer's event index lies in (old, new]:
 *        (RING_IDX)(new - event) < (RING_IDX)(new - old)
 *  - Consumer: read the producer index, read barrier, consume up to it.
 *    Before sleeping, if nothing is left set event = cons + 1, full
 *    barrier, and check again (the producer may have published before it
 *    could see the new event index).
 */
#ifndef XENKIT_XEN_IO_RING_H
#define XENKIT_XEN_IO_RING_H

#include "../xen.h"

/* Bytes of the shared header before the first slot. */
#define XEN_SRING_HEADER_SIZE 64

#ifndef __ASSEMBLER__

typedef unsigned int RING_IDX;

/*
 * Barriers. x86 keeps loads in order and stores in order, so the read and
 * write barriers only stop the compiler; the full barrier also orders a
 * store before a later load. A guest may define its own first.
 */
#ifndef xen_mb
#define xen_mb()  __asm__ __volatile__("lock; addl $0, 0(%%esp)" ::: "memory", "cc")
#endif
#ifndef xen_rmb
#define xen_rmb() __asm__ __volatile__("" ::: "memory")
#endif
#ifndef xen_wmb
#define xen_wmb() __asm__ __volatile__("" ::: "memory")
#endif

/*
 * Largest power of two <= n (0 for 0), as an integer constant expression
 * so ring sizes can appear in array bounds and static assertions.
 */
#define XEN_RING__FLOOR_STEP(n, bit) ((n) >= (1u << (bit))) ? (1u << (bit)) :
#define XEN_RING_POW2_FLOOR(n) (                                              \
    XEN_RING__FLOOR_STEP(n, 20) XEN_RING__FLOOR_STEP(n, 19)                   \
    XEN_RING__FLOOR_STEP(n, 18) XEN_RING__FLOOR_STEP(n, 17)                   \
    XEN_RING__FLOOR_STEP(n, 16) XEN_RING__FLOOR_STEP(n, 15)                   \
    XEN_RING__FLOOR_STEP(n, 14) XEN_RING__FLOOR_STEP(n, 13)                   \
    XEN_RING__FLOOR_STEP(n, 12) XEN_RING__FLOOR_STEP(n, 11)                   \
    XEN_RING__FLOOR_STEP(n, 10) XEN_RING__FLOOR_STEP(n, 9)                    \
    XEN_RING__FLOOR_STEP(n, 8)  XEN_RING__FLOOR_STEP(n, 7)                    \
    XEN_RING__FLOOR_STEP(n, 6)  XEN_RING__FLOOR_STEP(n, 5)                    \
    XEN_RING__FLOOR_STEP(n, 4)  XEN_RING__FLOOR_STEP(n, 3)                    \
    XEN_RING__FLOOR_STEP(n, 2)  XEN_RING__FLOOR_STEP(n, 1)                    \
    XEN_RING__FLOOR_STEP(n, 0)  0u)

/* Slots in a ring area of `bytes` bytes with `slot`-byte slots. */
#define XEN_RING_ENTRIES(bytes, slot) \
    XEN_RING_POW2_FLOOR(((unsigned int)(bytes) - XEN_SRING_HEADER_SIZE) / (unsigned int)(slot))

/* The shared header, as the first members of every struct <name>_sring. */
#define XEN_SRING_HEADER                                                      \
    RING_IDX req_prod;      /* written by the front end */                    \
    RING_IDX req_event;     /* written by the back end */                     \
    RING_IDX rsp_prod;      /* written by the back end */                     \
    RING_IDX rsp_event;     /* written by the front end */                    \
    union {                                                                   \
        struct { uint8_t smartpoll_active; } netif;                           \
        struct { uint8_t msg; } tapif_user;                                   \
        uint8_t pvt_pad[4];                                                   \
    } pvt;                                                                    \
    uint8_t __pad[44]

/*
 * Publish new_prod as the producer index at *prod and report whether the
 * peer, whose event index is *event, must be notified.
 */
static inline int xen_ring_publish(volatile RING_IDX *prod,
                                   const volatile RING_IDX *event,
                                   RING_IDX new_prod)
{
    RING_IDX old_prod = *prod;
    xen_wmb();                  /* slots are visible before the index */
    *prod = new_prod;
    xen_mb();                   /* index is visible before we read event */
    return (RING_IDX)(new_prod - *event) < (RING_IDX)(new_prod - old_prod);
}

/*
 * The consumer's last look before sleeping: nonzero if entries up to the
 * producer index *prod remain unconsumed past cons. When none remain it
 * asks for a notification on the next one (event = cons + 1) and then
 * re-reads the producer index.
 */
static inline int xen_ring_final_check(const volatile RING_IDX *prod,
                                       volatile RING_IDX *event,
                                       RING_IDX cons)
{
    if (*prod != cons)
        return 1;
    *event = cons + 1;
    xen_mb();
    return *prod != cons;
}

/*
 * XENKIT_DEFINE_RING(name, req_t, rsp_t) declares
 *   union  name_sring_entry { req_t req; rsp_t rsp; };
 *   struct name_sring       the shared page (Xen's layout);
 *   struct name_front_ring  the front end's private cursor;
 *   struct name_back_ring   the back end's private cursor;
 * with _t typedefs, and these helpers (f = front ring, b = back ring):
 *   name_sring_init(s)              front end: reset a fresh shared page
 *   name_ring_entries(bytes)        slot count for a ring area
 *   name_front_init(f, s, bytes)    name_back_init(b, s, bytes)
 *   name_front_free(f)              request slots the front may still fill
 *   name_front_request(f, idx)      slot idx as a request
 *   name_front_push(f)              publish f->req_prod_pvt; 1 = notify
 *   name_front_responses(f)         producer index to consume up to
 *   name_front_response(f, idx)     slot idx as a response
 *   name_front_final_check(f)       1 if more responses are waiting
 *   name_back_requests(b)           requests the back may take now
 *   name_back_request(b, idx) / name_back_response(b, idx)
 *   name_back_push(b)               publish b->rsp_prod_pvt; 1 = notify
 *   name_back_final_check(b)        1 if more requests are waiting
 */
#define XENKIT_DEFINE_RING(name, req_t, rsp_t)                                \
union name##_sring_entry {                                                    \
    req_t req;                                                                \
    rsp_t rsp;                                                                \
};                                                                            \
struct name##_sring {                                                         \
    XEN_SRING_HEADER;                                                         \
    union name##_sring_entry ring[];                                          \
};                                                                            \
struct name##_front_ring {                                                    \
    RING_IDX req_prod_pvt;      /* next request slot to fill */               \
    RING_IDX rsp_cons;          /* next response to consume */                \
    unsigned int nr_ents;                                                     \
    struct name##_sring *sring;                                               \
};                                                                            \
struct name##_back_ring {                                                     \
    RING_IDX rsp_prod_pvt;      /* next response slot to fill */              \
    RING_IDX req_cons;          /* next request to consume */                 \
    unsigned int nr_ents;                                                     \
    struct name##_sring *sring;                                               \
};                                                                            \
typedef union name##_sring_entry name##_sring_entry_t;                        \
typedef struct name##_sring name##_sring_t;                                   \
typedef struct name##_front_ring name##_front_ring_t;                         \
typedef struct name##_back_ring name##_back_ring_t;                           \
_Static_assert(offsetof(struct name##_sring, ring) == XEN_SRING_HEADER_SIZE,  \
               #name " ring: slots must start at byte 64");                   \
                                                                              \
static inline void name##_sring_init(struct name##_sring *s)                  \
{                                                                             \
    volatile uint8_t *pad = s->__pad;                                         \
    unsigned int i;                                                           \
    s->req_prod = 0;                                                          \
    s->rsp_prod = 0;                                                          \
    s->req_event = 1;                                                         \
    s->rsp_event = 1;                                                         \
    for (i = 0; i < sizeof(s->pvt.pvt_pad); i++)                              \
        ((volatile uint8_t *)s->pvt.pvt_pad)[i] = 0;                          \
    for (i = 0; i < sizeof(s->__pad); i++)                                    \
        pad[i] = 0;                                                           \
}                                                                             \
static inline unsigned int name##_ring_entries(unsigned int bytes)            \
{                                                                             \
    return XEN_RING_ENTRIES(bytes, sizeof(union name##_sring_entry));         \
}                                                                             \
static inline void name##_front_init(struct name##_front_ring *f,             \
                                     struct name##_sring *s,                  \
                                     unsigned int bytes)                      \
{                                                                             \
    f->req_prod_pvt = 0;                                                      \
    f->rsp_cons = 0;                                                          \
    f->nr_ents = name##_ring_entries(bytes);                                  \
    f->sring = s;                                                             \
}                                                                             \
static inline void name##_back_init(struct name##_back_ring *b,               \
                                    struct name##_sring *s,                   \
                                    unsigned int bytes)                       \
{                                                                             \
    b->rsp_prod_pvt = 0;                                                      \
    b->req_cons = 0;                                                          \
    b->nr_ents = name##_ring_entries(bytes);                                  \
    b->sring = s;                                                             \
}                                                                             \
static inline unsigned int name##_front_free(const struct name##_front_ring *f) \
{                                                                             \
    return f->nr_ents - (RING_IDX)(f->req_prod_pvt - f->rsp_cons);            \
}                                                                             \
static inline req_t *name##_front_request(struct name##_front_ring *f,        \
                                          RING_IDX idx)                       \
{                                                                             \
    return &f->sring->ring[idx & (f->nr_ents - 1)].req;                       \
}                                                                             \
static inline int name##_front_push(struct name##_front_ring *f)              \
{                                                                             \
    return xen_ring_publish(&f->sring->req_prod, &f->sring->req_event,        \
                            f->req_prod_pvt);                                 \
}                                                                             \
static inline RING_IDX name##_front_responses(struct name##_front_ring *f)   \
{                                                                             \
    RING_IDX prod = ((volatile struct name##_sring *)f->sring)->rsp_prod;     \
    xen_rmb();                  /* read slots only after the index */         \
    return prod;                                                              \
}                                                                             \
static inline rsp_t *name##_front_response(struct name##_front_ring *f,       \
                                           RING_IDX idx)                      \
{                                                                             \
    return &f->sring->ring[idx & (f->nr_ents - 1)].rsp;                       \
}                                                                             \
static inline int name##_front_final_check(struct name##_front_ring *f)       \
{                                                                             \
    return xen_ring_final_check(&f->sring->rsp_prod, &f->sring->rsp_event,    \
                                f->rsp_cons);                                 \
}                                                                             \
static inline unsigned int name##_back_requests(struct name##_back_ring *b)   \
{                                                                             \
    RING_IDX prod = ((volatile struct name##_sring *)b->sring)->req_prod;     \
    RING_IDX waiting = prod - b->req_cons;                                    \
    RING_IDX room = b->nr_ents - (RING_IDX)(b->req_cons - b->rsp_prod_pvt);   \
    xen_rmb();                                                                \
    return waiting < room ? waiting : room;                                   \
}                                                                             \
static inline req_t *name##_back_request(struct name##_back_ring *b,          \
                                         RING_IDX idx)                        \
{                                                                             \
    return &b->sring->ring[idx & (b->nr_ents - 1)].req;                       \
}                                                                             \
static inline rsp_t *name##_back_response(struct name##_back_ring *b,         \
                                          RING_IDX idx)                       \
{                                                                             \
    return &b->sring->ring[idx & (b->nr_ents - 1)].rsp;                       \
}                                                                             \
static inline int name##_back_push(struct name##_back_ring *b)                \
{                                                                             \
    return xen_ring_publish(&b->sring->rsp_prod, &b->sring->rsp_event,        \
                            b->rsp_prod_pvt);                                 \
}                                                                             \
static inline int name##_back_final_check(struct name##_back_ring *b)         \
{                                                                             \
    return xen_ring_final_check(&b->sring->req_prod, &b->sring->req_event,    \
                                b->req_cons);                                 \
}                                                                             \
struct name##_sring

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_IO_RING_H */
