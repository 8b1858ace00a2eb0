/*
 * The demo application (the default APP of the Makefile): what a Xen
 * guest can learn about its world, then a little exercise of the kernel.
 *
 * app_main() prints the Xen version, capabilities and features, the boot
 * information (start_info for PV, hvm_start_info for PVH) and the command
 * line; does 64-bit arithmetic through lib/div64.c; executes a breakpoint
 * that kernel/traps.c reports and returns from; and, with `crash` on the
 * command line, executes ud2 to show the fault report and SHUTDOWN_crash.
 *
 * Then the services of the kernel: the domain's own xenstore tree
 * (/local/domain/<domid>, as `xenstore-ls` would print it, bounded to
 * TREE_MAX_DEPTH levels and TREE_MAX_NODES nodes), how many disks and
 * vifs it has if it has any (app/blkdemo.c and app/netdemo.c use them;
 * this demo only counts them, so it never waits for a backend), the wall
 * clock, three timer ticks TICK_MS apart with the uptime, and an echo of
 * console input lines. The echo ends at "quit", at Ctrl-D (end of input), or after
 * ECHO_IDLE_S seconds without a line — so a run with nobody typing, like
 * `npm start` in CI, finishes on its own; `noecho` on the command line
 * skips it. Returning from app_main powers the domain off.
 *
 * Replace this file (or build with `make APP=yours.c`) to write your own
 * kernel: see include/minios/app.h.
 */
#include <minios/app.h>
#include <minios/arch.h>
#include <minios/blkfront.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/lib.h>
#include <minios/netfront.h>
#include <minios/setup.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/errno.h>
#include <xen/version.h>

#define TREE_MAX_DEPTH 6
#define TREE_MAX_NODES 80
#define TREE_VALUE_MAX 60
#define TICKS 3
#define TICK_MS 100
#define ECHO_IDLE_S 5

static const char *const xen_feature_names[] = {
    [XENFEAT_writable_page_tables] = "writable_page_tables",
    [XENFEAT_writable_descriptor_tables] = "writable_descriptor_tables",
    [XENFEAT_auto_translated_physmap] = "auto_translated_physmap",
    [XENFEAT_supervisor_mode_kernel] = "supervisor_mode_kernel",
    [XENFEAT_pae_pgdir_above_4gb] = "pae_pgdir_above_4gb",
    [XENFEAT_mmu_pt_update_preserve_ad] = "mmu_pt_update_preserve_ad",
    [XENFEAT_highmem_assist] = "highmem_assist",
    [XENFEAT_gnttab_map_avail_bits] = "gnttab_map_avail_bits",
    [XENFEAT_hvm_callback_vector] = "hvm_callback_vector",
    [XENFEAT_hvm_safe_pvclock] = "hvm_safe_pvclock",
    [XENFEAT_hvm_pirqs] = "hvm_pirqs",
    [XENFEAT_dom0] = "dom0",
    [XENFEAT_memory_op_vnode_supported] = "memory_op_vnode_supported",
    [XENFEAT_ARM_SMCCC_supported] = "ARM_SMCCC_supported",
    [XENFEAT_linux_rsdp_unrestricted] = "linux_rsdp_unrestricted",
    [XENFEAT_not_direct_mapped] = "not_direct_mapped",
    [XENFEAT_direct_mapped] = "direct_mapped",
    [XENFEAT_runstate_phys_area] = "runstate_phys_area",
    [XENFEAT_vcpu_time_phys_area] = "vcpu_time_phys_area",
    [XENFEAT_dm_msix_all_writes] = "dm_msix_all_writes",
};

static void show_xen(void)
{
    static xen_capabilities_info_t caps;
    xen_extraversion_t extra;
    struct xen_feature_info fi = { .submap_idx = 0 };
    long v = hypercall_xen_version(XENVER_version, NULL);

    memset(extra, 0, sizeof(extra));
    if (hypercall_xen_version(XENVER_extraversion, extra) < 0)
        extra[0] = 0;
    extra[sizeof(extra) - 1] = 0;
    if (v < 0)
        printf("Xen: XENVER_version failed (%ld)\n", v);
    else
        printf("Xen %ld.%ld%s\n", v >> 16, v & 0xffff, extra);

    memset(caps, 0, sizeof(caps));
    if (hypercall_xen_version(XENVER_capabilities, caps) == 0) {
        caps[sizeof(caps) - 1] = 0;
        printf("  capabilities: %s\n", caps);
    }
    if (hypercall_xen_version(XENVER_get_features, &fi) == 0) {
        printf("  features:");
        for (unsigned int b = 0; b < 32; b++) {
            if (!(fi.submap & (1u << b)))
                continue;
            if (b < ARRAY_SIZE(xen_feature_names) && xen_feature_names[b])
                printf(" %s", xen_feature_names[b]);
            else
                printf(" %u", b);
        }
        printf("\n");
    }
}

static void show_pv_start_info(const start_info_t *si)
{
    printf("start_info at %p:\n", (const void *)si);
    printf("  magic         \"%.32s\"\n", si->magic);
    printf("  nr_pages      %lu (%lu MiB)\n", si->nr_pages, si->nr_pages >> (20 - PAGE_SHIFT));
    printf("  shared_info   machine address %#lx%s\n", si->shared_info, xen_shared_info ? "" : " (not mapped)");
    printf("  flags         %#x\n", si->flags);
    printf("  xenstore      mfn %#lx, event channel %u\n", si->store_mfn, si->store_evtchn);
    printf("  console       mfn %#lx, event channel %u\n", si->console.domU.mfn, si->console.domU.evtchn);
    printf("  pt_base       %#lx (%lu frames)\n", si->pt_base, si->nr_pt_frames);
    printf("  mfn_list      %#lx\n", si->mfn_list);
    printf("  modules       %#lx (%lu bytes)\n", si->mod_start, si->mod_len);
    printf("  first_p2m_pfn %#lx (%lu frames)\n", si->first_p2m_pfn, si->nr_p2m_frames);
}

static const char *memmap_type(uint32_t type)
{
    switch (type) {
    case XEN_HVM_MEMMAP_TYPE_RAM: return "RAM";
    case XEN_HVM_MEMMAP_TYPE_RESERVED: return "reserved";
    case XEN_HVM_MEMMAP_TYPE_ACPI: return "ACPI";
    case XEN_HVM_MEMMAP_TYPE_NVS: return "ACPI NVS";
    case XEN_HVM_MEMMAP_TYPE_UNUSABLE: return "unusable";
    case XEN_HVM_MEMMAP_TYPE_DISABLED: return "disabled";
    case XEN_HVM_MEMMAP_TYPE_PMEM: return "persistent";
    default: return "?";
    }
}

static void show_pvh_start_info(const struct hvm_start_info *hsi)
{
    struct cpuid_regs r = cpuid(xen_cpuid_base + 1, 0);

    printf("Xen CPUID leaves at %#x (version %u.%u)\n", xen_cpuid_base, r.eax >> 16, r.eax & 0xffff);
    printf("hvm_start_info at %p:\n", (const void *)hsi);
    printf("  magic         %#x, version %u, flags %#x\n", hsi->magic, hsi->version, hsi->flags);
    printf("  modules       %u at %#llx\n", hsi->nr_modules, (unsigned long long)hsi->modlist_paddr);
    printf("  rsdp          %#llx\n", (unsigned long long)hsi->rsdp_paddr);
    if (hsi->version >= 1 && hsi->memmap_paddr < (1ULL << 32)) {
        const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)hsi->memmap_paddr;

        for (uint32_t i = 0; i < hsi->memmap_entries; i++)
            printf("  memmap[%u]     0x%08llx-0x%08llx %s\n", i, (unsigned long long)e[i].addr,
                   (unsigned long long)(e[i].addr + e[i].size - 1), memmap_type(e[i].type));
    }
    printf("  RAM           %lu pages (%lu MiB)\n", boot_info.nr_pages, boot_info.nr_pages >> (20 - PAGE_SHIFT));
    if (boot_info.console)
        printf("  console ring  %p, event channel %u\n", (void *)boot_info.console, boot_info.console_evtchn);
    if (boot_info.xenstore)
        printf("  xenstore ring %p, event channel %u\n", boot_info.xenstore, boot_info.xenstore_evtchn);
}

static void demo(void)
{
    /* volatile: make the compiler divide at run time, through lib/div64.c. */
    volatile uint64_t uptime_ns = 1234567890123456789ULL;
    volatile int64_t delta = -9876543210LL;
    uint64_t ns = uptime_ns;
    int64_t d = delta;

    printf("demo: %llu ns is %llu s + %09llu ns; %lld / 7 = %lld rem %lld\n", (unsigned long long)ns,
           (unsigned long long)(ns / 1000000000u), (unsigned long long)(ns % 1000000000u), (long long)d,
           (long long)(d / 7), (long long)(d % 7));

    /* A breakpoint: kernel/traps.c reports it and execution resumes here. */
    __asm__ __volatile__("int3");
    printf("demo: back from the breakpoint handler\n");

    if (cmdline_has("crash")) {
        printf("demo: \"crash\" is on the command line: executing ud2\n");
        __asm__ __volatile__("ud2");
    }
}

/* ---- The xenstore tree ---- */

static char tree_path[256];
static char tree_value[256];
static char tree_children[TREE_MAX_DEPTH][1024];
static unsigned int tree_nodes;

/* Print the node at tree_path (named `name`) and, below it, its children. */
static void show_node(const char *name, unsigned int depth)
{
    size_t end = strlen(tree_path);
    long n, len;

    if (++tree_nodes > TREE_MAX_NODES) {
        if (tree_nodes == TREE_MAX_NODES + 1)
            printf("%*s...\n", (int)(2 * depth), "");
        return;
    }
    len = xenbus_read(XBT_NIL, tree_path, tree_value, sizeof(tree_value));
    if (len == -XEN_E2BIG)
        printf("%*s%s = (long value)\n", (int)(2 * depth), "", name);
    else if (len < 0)
        printf("%*s%s (unreadable: %ld)\n", (int)(2 * depth), "", name, len);
    else if (len > TREE_VALUE_MAX)
        printf("%*s%s = \"%.*s...\"\n", (int)(2 * depth), "", name, TREE_VALUE_MAX, tree_value);
    else
        printf("%*s%s = \"%s\"\n", (int)(2 * depth), "", name, tree_value);

    if (depth + 1 >= TREE_MAX_DEPTH)
        return;
    n = xenbus_directory(XBT_NIL, tree_path, tree_children[depth], sizeof(tree_children[depth]));
    if (n < 0) {
        if (n != -XEN_EACCES)
            printf("%*s(children unreadable: %ld)\n", (int)(2 * depth + 2), "", n);
        return;
    }
    for (const char *c = tree_children[depth]; n-- > 0; c += strlen(c) + 1) {
        size_t clen = strlen(c);

        if (end + 1 + clen >= sizeof(tree_path))
            continue;
        tree_path[end] = '/';
        memcpy(tree_path + end + 1, c, clen + 1);
        show_node(c, depth + 1);
        tree_path[end] = 0;
    }
}

static void show_xenstore(void)
{
    unsigned long domid;
    long rc;

    if (!xenbus_available()) {
        printf("xenstore: not available\n");
        return;
    }
    rc = xenbus_read_ulong(XBT_NIL, "domid", &domid);
    if (rc) {
        printf("xenstore: cannot read my domid (%ld)\n", rc);
        return;
    }
    snprintf(tree_path, sizeof(tree_path), "/local/domain/%lu", domid);
    printf("xenstore: the tree of domain %lu\n", domid);
    tree_nodes = 0;
    show_node(tree_path, 0);
}

/* ---- Devices ---- */

/* Only counted (nothing waits for a backend): the demos in app/ use them. */
static void show_devices(void)
{
    unsigned int disks = blk_count(), vifs = net_count();

    if (disks || vifs)
        printf("devices: %u disk%s, %u vif%s (make APP=app/blkdemo.c / APP=app/netdemo.c to use them)\n", disks,
               disks == 1 ? "" : "s", vifs, vifs == 1 ? "" : "s");
}

/* ---- Time ---- */

static void show_time(void)
{
    struct wall_time now;
    struct utc_time t;
    uint64_t start;

    wall_clock(&now);
    unix_to_utc(now.sec, &t);
    printf("wall clock: %04u-%02u-%02u %02u:%02u:%02u UTC\n", t.year, t.month, t.day, t.hour, t.min, t.sec);

    start = monotonic_clock();
    for (unsigned int i = 1; i <= TICKS; i++) {
        uint64_t up;

        sleep_until(start + MILLISECS(TICK_MS) * i);
        up = monotonic_clock();
        printf("tick %u: uptime %llu.%06llu s\n", i, (unsigned long long)(up / NSEC_PER_SEC),
               (unsigned long long)(up % NSEC_PER_SEC / 1000));
    }
}

/* ---- Console input ---- */

static void echo_input(void)
{
    char line[128];

    if (cmdline_has("noecho")) {
        printf("echo: skipped (noecho)\n");
        return;
    }
    printf("echo: type a line and press Enter; \"quit\", Ctrl-D or %u s without a line end it\n", ECHO_IDLE_S);
    for (;;) {
        long n = console_readline(line, sizeof(line), monotonic_clock() + SECONDS(ECHO_IDLE_S), true);

        if (n == -XEN_ETIMEDOUT) {
            printf("%secho: no input for %u s, done\n", line[0] ? "\n" : "", ECHO_IDLE_S);
            return;
        }
        if (n == -XEN_ENODATA) {
            printf("echo: end of input, done\n");
            return;
        }
        if (n < 0) {
            printf("echo: no console input (%ld)\n", n);
            return;
        }
        if (strcmp(line, "quit") == 0) {
            printf("echo: quit, done\n");
            return;
        }
        printf("echo: \"%s\"\n", line);
    }
}

void app_main(void)
{
    show_xen();
    if (xen_pvh)
        show_pvh_start_info(boot_info.hvm_start_info);
    else
        show_pv_start_info(boot_info.start_info);
    printf("command line: \"%s\"\n", boot_info.cmdline);

    demo();

    show_xenstore();
    show_devices();
    show_time();
    echo_input();
}
