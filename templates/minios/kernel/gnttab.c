/*
 * Grant tables v1 (Xen ABI reference §3.2 "Grant tables", §3.3 grant-table
 * structs, §5.4; include/minios/gnttab.h for the interface).
 *
 * Where the table lives. It is Xen's memory, shared with the guest:
 *  - PV: GNTTABOP_setup_table(nr_frames) returns the machine frames of the
 *    table; each is mapped with update_va_mapping over a page of
 *    `table_pages` (the RAM frame that was there is simply not used).
 *  - PVH: XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx = i, gpfn)
 *    puts table frame i at a guest frame of our choosing: the frames of
 *    `table_pages`, whose RAM Xen replaces. Paging is off, so the table is
 *    then at `table_pages`.
 * GNTTABOP_query_size first says how many frames Xen allows; the kernel
 * asks for NR_GRANT_FRAMES or fewer. v1 is the table format a domain
 * starts with, so no GNTTABOP_set_version is needed.
 *
 * Entries (grant_entry_v1: flags, domid, frame). Granting: write domid
 * and frame, a write barrier, then flags (GTF_permit_access, maybe
 * GTF_readonly) — Xen must never see the flags before the rest. Revoking:
 * clear flags with a 16-bit compare-and-swap that fails if Xen has set
 * GTF_reading or GTF_writing meanwhile (the peer still uses the page).
 *
 * Free references form a linked list threaded through `next_free`
 * (next_free[ref] = the next free ref), guarded by disabling events so
 * that handlers may grant and revoke too. References below
 * GNTTAB_NR_RESERVED_ENTRIES are never on the list.
 */
#include <minios/gnttab.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/setup.h>
#include <xen/errno.h>
#include <xen/memory.h>

#define ENTRIES_PER_FRAME (PAGE_SIZE / sizeof(grant_entry_v1_t))
#define MAX_ENTRIES (NR_GRANT_FRAMES * ENTRIES_PER_FRAME)
#define LIST_END ((grant_ref_t)~0U)

static char table_pages[NR_GRANT_FRAMES][PAGE_SIZE] __aligned(PAGE_SIZE)
    __attribute__((section(".bss.page_aligned")));

static volatile grant_entry_v1_t *table;
static unsigned int nr_entries;
static grant_ref_t next_free[MAX_ENTRIES];
static grant_ref_t free_head = LIST_END;
static unsigned int free_count;

static void put_free(grant_ref_t ref)
{
    unsigned long flags = local_irq_save();

    next_free[ref] = free_head;
    free_head = ref;
    free_count++;
    local_irq_restore(flags);
}

static grant_ref_t get_free(void)
{
    unsigned long flags = local_irq_save();
    grant_ref_t ref = free_head;

    if (ref != LIST_END) {
        free_head = next_free[ref];
        free_count--;
    }
    local_irq_restore(flags);
    return ref;
}

long gnttab_grant_access(domid_t domid, unsigned long frame, bool readonly)
{
    grant_ref_t ref;

    if (!table)
        return -XEN_ENODEV;
    ref = get_free();
    if (ref == LIST_END)
        return -XEN_ENOSPC;
    table[ref].domid = domid;
    table[ref].frame = (uint32_t)frame;
    wmb();      /* domid and frame before the flags that make them valid */
    table[ref].flags = (uint16_t)(GTF_permit_access | (readonly ? GTF_readonly : 0));
    return ref;
}

long gnttab_grant_page(domid_t domid, const void *va, bool readonly)
{
    return gnttab_grant_access(domid, virt_to_mfn(va), readonly);
}

long gnttab_end_access(grant_ref_t ref)
{
    uint16_t flags, seen;

    if (!table || ref < GNTTAB_NR_RESERVED_ENTRIES || ref >= nr_entries)
        return -XEN_EINVAL;
    flags = table[ref].flags;
    do {
        if ((flags & GTF_type_mask) == GTF_invalid)
            return -XEN_EINVAL;
        if (flags & (GTF_reading | GTF_writing))
            return -XEN_EBUSY;
        seen = flags;
        flags = cmpxchg16(&table[ref].flags, seen, 0);
    } while (flags != seen);
    put_free(ref);
    return 0;
}

const volatile grant_entry_v1_t *gnttab_entry(grant_ref_t ref)
{
    return table && ref < nr_entries ? &table[ref] : NULL;
}

unsigned int gnttab_nr_entries(void)
{
    return nr_entries;
}

unsigned int gnttab_free_count(void)
{
    return free_count;
}

/* PV: map the frames setup_table hands out; returns how many are mapped. */
static unsigned int pv_map_table(unsigned int frames)
{
    xen_pfn_t mfns[NR_GRANT_FRAMES];
    struct gnttab_setup_table op = { .dom = DOMID_SELF, .nr_frames = frames, .frame_list = mfns };
    long rc = hypercall_grant_table_op(GNTTABOP_setup_table, &op, 1);
    unsigned int i;

    if (rc || op.status != GNTST_okay) {
        printf("gnttab: setup_table failed (rc %ld, status %d)\n", rc, op.status);
        return 0;
    }
    for (i = 0; i < frames; i++) {
        rc = map_frame((unsigned long)table_pages[i], mfns[i], _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY);
        if (rc) {
            printf("gnttab: could not map grant frame %u (mfn %#lx): %ld\n", i, mfns[i], rc);
            break;
        }
    }
    return i;
}

/* PVH: place the table's frames over table_pages; returns how many are placed. */
static unsigned int pvh_map_table(unsigned int frames)
{
    unsigned int i;

    for (i = 0; i < frames; i++) {
        struct xen_add_to_physmap xatp = {
            .domid = DOMID_SELF,
            .space = XENMAPSPACE_grant_table,
            .idx = i,
            .gpfn = (uintptr_t)table_pages[i] >> PAGE_SHIFT,
        };
        long rc = hypercall_memory_op(XENMEM_add_to_physmap, &xatp);

        if (rc) {
            printf("gnttab: could not place grant frame %u (add_to_physmap: %ld)\n", i, rc);
            break;
        }
    }
    return i;
}

void gnttab_init(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    unsigned int frames = NR_GRANT_FRAMES;

    if (hypercall_grant_table_op(GNTTABOP_query_size, &q, 1) == 0 && q.status == GNTST_okay &&
        q.max_nr_frames < frames)
        frames = q.max_nr_frames;
    frames = xen_pvh ? pvh_map_table(frames) : pv_map_table(frames);
    if (!frames)
        return;

    table = (volatile grant_entry_v1_t *)table_pages;
    nr_entries = frames * ENTRIES_PER_FRAME;
    /*
     * Free list in ascending order: the first grant gets reference 8.
     * Built directly (no put_free): this runs once at boot before events
     * are enabled, and 2000 irq save/restore pairs would cost more than
     * the rest of boot together.
     */
    for (grant_ref_t ref = nr_entries; ref-- > GNTTAB_NR_RESERVED_ENTRIES;) {
        next_free[ref] = free_head;
        free_head = ref;
        free_count++;
    }
}
