/*
 * Boot information for PV and PVH, made uniform (include/minios/setup.h).
 *
 * PV (Xen ABI reference §1.2-§1.5): start_info names machine frames. The
 * builder maps the whole boot region 1:1 (VA = VIRT_BASE + PFN * 4096,
 * VIRT_BASE = 0 here), and the console and xenstore pages lie inside it,
 * so their VAs follow from their PFNs. MFN -> PFN uses the p2m list
 * (start_info.mfn_list) searched backwards, rather than Xen's M2P table
 * at 0xF5800000: the p2m is the guest's own memory and needs nothing from
 * the hypervisor hole. shared_info is a Xen frame outside guest RAM: it is
 * mapped with update_va_mapping over a page reserved in .bss.
 *
 * PVH (§2.2, §2.3): paging is off, so physical = virtual. The console and
 * xenstore frames and ports come from HVM parameters; shared_info is
 * placed over a .bss page with XENMEM_add_to_physmap.
 */
#include <minios/setup.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/lib.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/memory.h>

struct boot_info boot_info;
bool xen_pvh;
uint32_t xen_cpuid_base;
shared_info_t *xen_shared_info;

/* The page that becomes shared_info (its own RAM frame is given up). */
static char shared_info_page[PAGE_SIZE] __aligned(PAGE_SIZE) __attribute__((section(".bss.page_aligned")));

#define INVALID_PFN (~0UL)

/* PV: the PFN whose p2m entry is `mfn`, or INVALID_PFN. */
static unsigned long pv_mfn_to_pfn(const start_info_t *si, unsigned long mfn)
{
    const unsigned long *p2m = (const unsigned long *)si->mfn_list;

    for (unsigned long pfn = 0; pfn < si->nr_pages; pfn++)
        if (p2m[pfn] == mfn)
            return pfn;
    return INVALID_PFN;
}

/* PV: the VA of machine frame `mfn` if it lies in the 1:1 boot region, else NULL. */
static void *pv_mfn_to_virt(const start_info_t *si, unsigned long mfn, const char *what)
{
    unsigned long pfn = pv_mfn_to_pfn(si, mfn);

    if (pfn == INVALID_PFN) {
        printf("setup: the %s frame (mfn %#lx) is not in the p2m\n", what, mfn);
        return NULL;
    }
    return (void *)(pfn << PAGE_SHIFT);
}

static void pv_setup(start_info_t *si)
{
    uint64_t pte;
    long rc;

    boot_info.start_info = si;
    boot_info.nr_pages = si->nr_pages;
    si->cmd_line[MAX_GUEST_CMDLINE - 1] = 0;
    boot_info.cmdline = (const char *)si->cmd_line;

    /* Page 0 is builder padding; unmapped, a NULL dereference faults. */
    rc = hypercall_update_va_mapping(0, 0, UVMF_INVLPG);
    if (rc)
        printf("setup: could not unmap page 0 (%ld)\n", rc);

    pte = (uint64_t)si->shared_info | _PAGE_PRESENT | _PAGE_RW | _PAGE_ACCESSED | _PAGE_DIRTY;
    rc = hypercall_update_va_mapping((unsigned long)shared_info_page, pte, UVMF_INVLPG);
    if (rc)
        printf("setup: could not map shared_info (ma %#lx): %ld\n", si->shared_info, rc);
    else
        xen_shared_info = (shared_info_t *)shared_info_page;

    boot_info.console = pv_mfn_to_virt(si, si->console.domU.mfn, "console");
    boot_info.console_evtchn = si->console.domU.evtchn;
    boot_info.xenstore = pv_mfn_to_virt(si, si->store_mfn, "xenstore");
    boot_info.xenstore_evtchn = si->store_evtchn;
}

long hvm_get_param(uint32_t index, uint64_t *value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
    long rc = hypercall_hvm_op(HVMOP_get_param, &p);

    if (rc == 0)
        *value = p.value;
    return rc;
}

long hvm_set_param(uint32_t index, uint64_t value)
{
    struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index, .value = value };

    return hypercall_hvm_op(HVMOP_set_param, &p);
}

/* PVH: a ring page named by a pair of HVM parameters, or NULL. */
static void *pvh_ring(uint32_t pfn_param, uint32_t evtchn_param, evtchn_port_t *port, const char *what)
{
    uint64_t pfn, evtchn;
    long rc;

    rc = hvm_get_param(pfn_param, &pfn);
    if (rc == 0)
        rc = hvm_get_param(evtchn_param, &evtchn);
    if (rc) {
        printf("setup: no %s ring (HVMOP_get_param: %ld)\n", what, rc);
        return NULL;
    }
    if (pfn == 0 || pfn >= (1ULL << (32 - PAGE_SHIFT))) {
        printf("setup: %s ring frame %#llx is not addressable\n", what, (unsigned long long)pfn);
        return NULL;
    }
    *port = (evtchn_port_t)evtchn;
    return (void *)(uintptr_t)(pfn << PAGE_SHIFT);
}

static void pvh_setup(struct hvm_start_info *hsi)
{
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF,
        .space = XENMAPSPACE_shared_info,
        .idx = 0,
        .gpfn = (uintptr_t)shared_info_page >> PAGE_SHIFT,
    };
    long rc;

    boot_info.hvm_start_info = hsi;
    boot_info.cmdline = "";
    if (hsi->magic != XEN_HVM_START_MAGIC_VALUE) {
        printf("setup: hvm_start_info magic is %#x, not %#x\n", hsi->magic, XEN_HVM_START_MAGIC_VALUE);
    } else {
        if (hsi->cmdline_paddr && hsi->cmdline_paddr < (1ULL << 32))
            boot_info.cmdline = (const char *)(uintptr_t)hsi->cmdline_paddr;
        if (hsi->version >= 1 && hsi->memmap_paddr && hsi->memmap_paddr < (1ULL << 32)) {
            const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)hsi->memmap_paddr;

            for (uint32_t i = 0; i < hsi->memmap_entries; i++)
                if (e[i].type == XEN_HVM_MEMMAP_TYPE_RAM && ((e[i].addr + e[i].size) >> PAGE_SHIFT) > boot_info.nr_pages)
                    boot_info.nr_pages = (unsigned long)((e[i].addr + e[i].size) >> PAGE_SHIFT);
        }
    }

    /* From here on, Xen's shared_info page appears at this frame. */
    rc = hypercall_memory_op(XENMEM_add_to_physmap, &xatp);
    if (rc)
        printf("setup: could not map shared_info (XENMEM_add_to_physmap: %ld)\n", rc);
    else
        xen_shared_info = (shared_info_t *)shared_info_page;

    boot_info.console = pvh_ring(HVM_PARAM_CONSOLE_PFN, HVM_PARAM_CONSOLE_EVTCHN, &boot_info.console_evtchn,
                                 "console");
    boot_info.xenstore = pvh_ring(HVM_PARAM_STORE_PFN, HVM_PARAM_STORE_EVTCHN, &boot_info.xenstore_evtchn,
                                  "xenstore");
}

bool cmdline_has(const char *word)
{
    size_t n = strlen(word);

    for (const char *p = boot_info.cmdline; *p;) {
        while (*p == ' ')
            p++;
        if (strncmp(p, word, n) == 0 && (p[n] == 0 || p[n] == ' '))
            return true;
        while (*p && *p != ' ')
            p++;
    }
    return false;
}

long cmdline_get(const char *key, char *buf, size_t size)
{
    size_t n = strlen(key);

    for (const char *p = boot_info.cmdline; *p;) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, n) == 0 && p[n] == '=') {
            size_t len = 0;

            for (p += n + 1; p[len] && p[len] != ' '; len++)
                if (len + 1 < size)
                    buf[len] = p[len];
            if (size)
                buf[MIN(len, size - 1)] = 0;
            return (long)len;
        }
        while (*p && *p != ' ')
            p++;
    }
    return -1;
}

void arch_setup(void *info)
{
    if (xen_pvh)
        pvh_setup(info);
    else
        pv_setup(info);
}
