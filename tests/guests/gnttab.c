/*
 * gnttab: the template's grant table (kernel/gnttab.c) against the VMM's
 * grant-table engine. The domain grants pages to itself (its own numeric
 * domid, read from xenstore) so that Xen's side — GNTTABOP_copy, and on
 * PV GNTTABOP_map_grant_ref — can be exercised without a second domain.
 *
 *  1. The table: as many entries as frames allow (512 per frame), sized
 *     by GNTTABOP_query_size; GNTTABOP_setup_table names the frames the
 *     kernel's table lies in (PV: the MFNs its PTEs map; PVH: the GFNs it
 *     placed them at).
 *  2. Entry layout: a grant is flags GTF_permit_access (| GTF_readonly),
 *     the domid, the frame (MFN for PV, GFN for PVH); references start
 *     at 8 and never touch the reserved 0-7.
 *  3. GNTTABOP_copy from a grant reads the granted page; a read-only
 *     grant cannot be a copy destination; a writable one can; a revoked
 *     grant cannot be copied from.
 *  4. PV: GNTTABOP_map_grant_ref maps the granted page at another address
 *     (the entry shows GTF_reading meanwhile); end_access is -EBUSY while
 *     it is mapped and succeeds after the unmap; a writable map of a
 *     read-only grant is refused.
 *  5. Bookkeeping: ending a grant twice or a reserved one is -EINVAL;
 *     every free reference can be granted (then -ENOSPC) and freed again.
 */
#include "guest.h"
#include <minios/gnttab.h>
#include <minios/xenbus.h>
#include <xen/errno.h>

static uint8_t src_page[PAGE_SIZE] __aligned(PAGE_SIZE);
static uint8_t dst_page[PAGE_SIZE] __aligned(PAGE_SIZE);
static uint8_t map_page[PAGE_SIZE] __aligned(PAGE_SIZE);
static uint8_t reserved_copy[GNTTAB_NR_RESERVED_ENTRIES * sizeof(grant_entry_v1_t)];

static domid_t self;

static void fill(uint8_t *p, uint8_t seed)
{
    for (unsigned int i = 0; i < PAGE_SIZE; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static int16_t copy_op(struct gnttab_copy *op)
{
    long rc = hypercall_grant_table_op(GNTTABOP_copy, op, 1);

    if (rc) {
        test_failure("GNTTABOP_copy: %ld", rc);
        return GNTST_general_error;
    }
    return op->status;
}

/* Copy a page from grant `ref` (source) into frame `frame` (dest). */
static int16_t copy_from_grant(grant_ref_t ref, unsigned long frame)
{
    struct gnttab_copy op = {
        .source = { .u.ref = ref, .domid = self, .offset = 0 },
        .dest = { .u.gmfn = frame, .domid = DOMID_SELF, .offset = 0 },
        .len = PAGE_SIZE,
        .flags = GNTCOPY_source_gref,
    };

    return copy_op(&op);
}

/* Copy a page from frame `frame` into grant `ref`. */
static int16_t copy_to_grant(unsigned long frame, grant_ref_t ref)
{
    struct gnttab_copy op = {
        .source = { .u.gmfn = frame, .domid = DOMID_SELF, .offset = 0 },
        .dest = { .u.ref = ref, .domid = self, .offset = 0 },
        .len = PAGE_SIZE,
        .flags = GNTCOPY_dest_gref,
    };

    return copy_op(&op);
}

static void test_table(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    xen_pfn_t frames[NR_GRANT_FRAMES];
    struct gnttab_setup_table st = { .dom = DOMID_SELF, .frame_list = frames };
    unsigned int n = gnttab_nr_entries(), nframes = n / 512;
    long rc;

    rc = hypercall_grant_table_op(GNTTABOP_query_size, &q, 1);
    test_check(rc == 0 && q.status == GNTST_okay, "query_size: rc %ld status %d", rc, q.status);
    printf("gnttab: %u entries in %u frames (Xen: %u of at most %u frames)\n", n, nframes, q.nr_frames,
           q.max_nr_frames);
    test_check(n % 512 == 0 && nframes >= 1 && nframes <= NR_GRANT_FRAMES, "the table has %u entries", n);
    test_check(nframes == MIN((unsigned int)NR_GRANT_FRAMES, q.max_nr_frames),
               "the kernel set up %u frames, expected min(%u, max_nr_frames %u)", nframes, NR_GRANT_FRAMES,
               q.max_nr_frames);
    test_check(gnttab_free_count() == n - GNTTAB_NR_RESERVED_ENTRIES, "%u free references, expected %u",
               gnttab_free_count(), n - GNTTAB_NR_RESERVED_ENTRIES);

    st.nr_frames = nframes;
    rc = hypercall_grant_table_op(GNTTABOP_setup_table, &st, 1);
    if (!test_check(rc == 0 && st.status == GNTST_okay, "setup_table: rc %ld status %d", rc, st.status))
        return;
    for (unsigned int i = 0; i < nframes; i++) {
        const volatile void *va = gnttab_entry(i * 512);
        unsigned long frame;

        if (xen_pvh) {
            frame = (uintptr_t)va >> PAGE_SHIFT;
        } else {
            const uint64_t *pte = pte_ptr((unsigned long)va);

            frame = pte ? (unsigned long)((*pte & PTE_ADDR_MASK) >> PAGE_SHIFT) : ~0UL;
        }
        test_check(frames[i] == frame, "grant frame %u: setup_table says %#lx, the kernel's table is at %#lx", i,
                   frames[i], frame);
    }
}

static void test_entries(void)
{
    const volatile grant_entry_v1_t *e;
    long ref, ref2;

    ref = gnttab_grant_page(self, src_page, true);
    if (!test_check(ref >= 0, "granting a page: %ld", ref))
        return;
    test_check(ref == GNTTAB_NR_RESERVED_ENTRIES, "the first grant is reference %ld, expected %u", ref,
               GNTTAB_NR_RESERVED_ENTRIES);
    e = gnttab_entry((grant_ref_t)ref);
    test_check(e->flags == (GTF_permit_access | GTF_readonly), "entry flags %#x, expected %#x", e->flags,
               GTF_permit_access | GTF_readonly);
    test_check(e->domid == self, "entry domid %u, expected %u", e->domid, self);
    test_check(e->frame == virt_to_mfn(src_page), "entry frame %#x, expected %#lx", e->frame, virt_to_mfn(src_page));

    ref2 = gnttab_grant_page(self, dst_page, false);
    test_check(ref2 == ref + 1, "the second grant is reference %ld", ref2);
    test_check(gnttab_entry((grant_ref_t)ref2)->flags == GTF_permit_access, "writable entry flags %#x",
               gnttab_entry((grant_ref_t)ref2)->flags);

    test_check(gnttab_end_access((grant_ref_t)ref) == 0, "ending the first grant failed");
    test_check(e->flags == 0, "an ended grant keeps flags %#x", e->flags);
    test_check(gnttab_end_access((grant_ref_t)ref2) == 0, "ending the second grant failed");
}

static void test_copy(void)
{
    long ro, rw;
    int16_t st;

    fill(src_page, 0x11);
    memset(dst_page, 0, PAGE_SIZE);
    ro = gnttab_grant_page(self, src_page, true);
    rw = gnttab_grant_page(self, dst_page, false);
    if (!test_check(ro >= 0 && rw >= 0, "granting: %ld, %ld", ro, rw))
        return;

    st = copy_from_grant((grant_ref_t)ro, virt_to_mfn(dst_page));
    test_check(st == GNTST_okay, "copy from a read-only grant: status %d", st);
    test_check(memcmp(src_page, dst_page, PAGE_SIZE) == 0, "the copy from the grant differs from the granted page");
    test_check(gnttab_entry((grant_ref_t)ro)->flags == (GTF_permit_access | GTF_readonly),
               "after the copy the entry has flags %#x (GTF_reading left set?)", gnttab_entry((grant_ref_t)ro)->flags);

    st = copy_to_grant(virt_to_mfn(dst_page), (grant_ref_t)ro);
    test_check(st == GNTST_general_error, "copy into a read-only grant: status %d, expected %d", st,
               GNTST_general_error);

    fill(src_page, 0x5a);
    st = copy_to_grant(virt_to_mfn(src_page), (grant_ref_t)rw);
    test_check(st == GNTST_okay, "copy into a writable grant: status %d", st);
    test_check(memcmp(src_page, dst_page, PAGE_SIZE) == 0, "the copy into the grant did not land in the page");

    test_check(gnttab_end_access((grant_ref_t)ro) == 0, "ending the read-only grant failed");
    st = copy_from_grant((grant_ref_t)ro, virt_to_mfn(dst_page));
    test_check(st != GNTST_okay, "a copy from a revoked grant succeeded");
    test_check(gnttab_end_access((grant_ref_t)rw) == 0, "ending the writable grant failed");
}

static void test_map(void)
{
    const volatile grant_entry_v1_t *e;
    struct gnttab_map_grant_ref map;
    struct gnttab_unmap_grant_ref unmap;
    long ref, rc;

    fill(src_page, 0x33);
    ref = gnttab_grant_page(self, src_page, true);
    if (!test_check(ref >= 0, "granting: %ld", ref))
        return;
    e = gnttab_entry((grant_ref_t)ref);

    map = (struct gnttab_map_grant_ref){
        .host_addr = (uintptr_t)map_page, .flags = GNTMAP_host_map, .ref = (grant_ref_t)ref, .dom = self,
    };
    rc = hypercall_grant_table_op(GNTTABOP_map_grant_ref, &map, 1);
    test_check(rc == 0 && map.status == GNTST_general_error,
               "a writable map of a read-only grant: rc %ld status %d, expected %d", rc, map.status,
               GNTST_general_error);

    map.flags = GNTMAP_host_map | GNTMAP_readonly;
    map.status = 0;
    rc = hypercall_grant_table_op(GNTTABOP_map_grant_ref, &map, 1);
    if (!test_check(rc == 0 && map.status == GNTST_okay, "map_grant_ref: rc %ld status %d", rc, map.status)) {
        gnttab_end_access((grant_ref_t)ref);
        return;
    }
    test_check(memcmp(map_page, src_page, PAGE_SIZE) == 0, "the mapped grant shows other contents");
    test_check(e->flags & GTF_reading, "a mapped grant's entry lacks GTF_reading (flags %#x)", e->flags);
    rc = gnttab_end_access((grant_ref_t)ref);
    test_check(rc == -XEN_EBUSY, "ending a mapped grant: %ld, expected -EBUSY", rc);

    unmap = (struct gnttab_unmap_grant_ref){ .host_addr = (uintptr_t)map_page, .handle = map.handle };
    rc = hypercall_grant_table_op(GNTTABOP_unmap_grant_ref, &unmap, 1);
    test_check(rc == 0 && unmap.status == GNTST_okay, "unmap_grant_ref: rc %ld status %d", rc, unmap.status);
    test_check(!(e->flags & (GTF_reading | GTF_writing)), "an unmapped grant's entry keeps flags %#x", e->flags);
    rc = gnttab_end_access((grant_ref_t)ref);
    test_check(rc == 0, "ending the grant after the unmap: %ld", rc);

    /* Put map_page's own frame back (the unmap left no mapping there). */
    rc = map_frame((unsigned long)map_page, virt_to_mfn(map_page), _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY);
    test_check(rc == 0, "remapping the page used for the grant map: %ld", rc);
}

static void test_bookkeeping(void)
{
    unsigned int n = 0, free_before = gnttab_free_count();
    long ref, rc;

    ref = gnttab_grant_page(self, src_page, false);
    test_check(gnttab_end_access((grant_ref_t)ref) == 0, "ending a grant failed");
    rc = gnttab_end_access((grant_ref_t)ref);
    test_check(rc == -XEN_EINVAL, "ending a grant twice: %ld, expected -EINVAL", rc);
    rc = gnttab_end_access(GNTTAB_RESERVED_XENSTORE);
    test_check(rc == -XEN_EINVAL, "ending reserved reference 1: %ld, expected -EINVAL", rc);

    for (;;) {
        ref = gnttab_grant_access(self, virt_to_mfn(src_page), true);
        if (ref < 0)
            break;
        if (ref < GNTTAB_NR_RESERVED_ENTRIES) {
            test_failure("reserved reference %ld was handed out", ref);
            break;
        }
        n++;
    }
    test_check(ref == -XEN_ENOSPC, "a grant with the table full: %ld, expected -ENOSPC", ref);
    test_check(n == free_before, "%u grants fitted, expected %u", n, free_before);
    for (grant_ref_t r = GNTTAB_NR_RESERVED_ENTRIES; r < gnttab_nr_entries(); r++)
        gnttab_end_access(r);
    test_check(gnttab_free_count() == free_before, "%u references free after ending them all, expected %u",
               gnttab_free_count(), free_before);
    test_check(memcmp((const void *)gnttab_entry(0), reserved_copy, sizeof(reserved_copy)) == 0,
               "the reserved entries 0-7 changed");
}

void app_main(void)
{
    unsigned long id;
    long rc;

    printf("gnttab: %s kernel\n", xen_pvh ? "PVH" : "PV");
    if (!gnttab_nr_entries()) {
        test_failure("the kernel has no grant table");
        test_report();
        return;
    }
    rc = xenbus_read_ulong(XBT_NIL, "domid", &id);
    if (rc) {
        test_error("reading domid from xenstore: %ld", rc);
        test_report();
        return;
    }
    self = (domid_t)id;
    memcpy(reserved_copy, (const void *)gnttab_entry(0), sizeof(reserved_copy));

    test_table();
    test_entries();
    test_copy();
    if (xen_pvh)
        printf("gnttab: no map_grant_ref test on PVH (xenkit's identity p2m cannot place a grant mapping)\n");
    else
        test_map();
    test_bookkeeping();
    test_report();
}
