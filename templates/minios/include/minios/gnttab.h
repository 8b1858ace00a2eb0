/*
 * Grant tables, v1 (kernel/gnttab.c): letting another domain — a backend —
 * map or copy pages of this one.
 *
 * A grant is an entry of the table this kernel shares with Xen: "domain
 * D may access frame F (read-only or not)". Its index, the grant
 * reference, is what a frontend tells the backend (through xenstore or a
 * ring). The backend's map or copy goes through Xen, which checks the
 * entry and marks it in use (GTF_reading / GTF_writing) meanwhile.
 *
 * Frames are machine frames for PV and guest frames for PVH;
 * gnttab_grant_page() takes a kernel address and works that out.
 * References 0-7 are reserved for the toolstack (0: console, 1: xenstore)
 * and never handed out.
 */
#ifndef MINIOS_GNTTAB_H
#define MINIOS_GNTTAB_H

#include <stdbool.h>
#include <xen/grant_table.h>

/** Frames of grant table the kernel asks for (512 v1 entries each). */
#define NR_GRANT_FRAMES 4

/**
 * Set up the table: PV maps the frames GNTTABOP_setup_table returns, PVH
 * places them with XENMEM_add_to_physmap. Called once by start_kernel.
 */
void gnttab_init(void);

/** Entries in the table (0 when gnttab_init() failed). */
unsigned int gnttab_nr_entries(void);

/**
 * Let domain `domid` access frame `frame` (MFN for PV, GFN for PVH),
 * read-only if asked. Returns the grant reference (>= 8) or -XEN_ENOSPC
 * when no entry is free (-XEN_ENODEV without a table).
 */
long gnttab_grant_access(domid_t domid, unsigned long frame, bool readonly);

/** gnttab_grant_access() for the page holding kernel address `va`. */
long gnttab_grant_page(domid_t domid, const void *va, bool readonly);

/**
 * Revoke grant `ref` and free it. -XEN_EBUSY while the other domain still
 * has the page mapped (try again later: the page must not be reused until
 * this succeeds); -XEN_EINVAL for a reference that is not granted.
 */
long gnttab_end_access(grant_ref_t ref);

/** The entry of `ref` as Xen sees it, or NULL for a reference outside the table. */
const volatile grant_entry_v1_t *gnttab_entry(grant_ref_t ref);

/** How many references are free now. */
unsigned int gnttab_free_count(void);

#endif /* MINIOS_GNTTAB_H */
