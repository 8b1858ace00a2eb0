/*
 * What the kernel knows about its domain after boot, the same for PV and
 * PVH: arch/x86/setup.c reads it from start_info (PV) or hvm_start_info
 * plus HVM parameters (PVH), maps shared_info, and finds the console and
 * xenstore rings. Everything above arch/x86 uses these, not start_info.
 */
#ifndef MINIOS_SETUP_H
#define MINIOS_SETUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/hvm/start_info.h>
#include <xen/io/console.h>

struct boot_info {
    /** PV only: start_info as the builder left it (ESI at entry). */
    start_info_t *start_info;
    /** PVH only: hvm_start_info (EBX at entry; physical = virtual). */
    struct hvm_start_info *hvm_start_info;
    /** The domain's command line; "" when there is none. */
    const char *cmdline;
    /** Guest RAM in pages (PV: nr_pages; PVH: top of RAM in the memory map). */
    unsigned long nr_pages;
    /** PV console ring and its event channel; NULL / 0 when unknown. */
    struct xencons_interface *console;
    evtchn_port_t console_evtchn;
    /** Xenstore ring page and event channel (for kernel/xenbus.c); NULL / 0 when unknown. */
    void *xenstore;
    evtchn_port_t xenstore_evtchn;
};

/** Filled in by arch_setup(). */
extern struct boot_info boot_info;

/** True in the PVH kernel. A byte: arch/x86/entry.S tests it. */
extern bool xen_pvh;

/** The shared_info page once arch_setup() mapped it, else NULL. */
extern shared_info_t *xen_shared_info;

/** PVH: the CPUID base of Xen's leaves (set by arch/x86/head-pvh.S). */
extern uint32_t xen_cpuid_base;

/** C entry from arch/x86/head-*.S: PV passes start_info (ESI), PVH hvm_start_info (EBX). */
void start_kernel(void *boot_info, int pvh) __attribute__((noreturn));

/**
 * Read the boot information, unmap page 0 (PV, so NULL pointers fault),
 * map shared_info, find the console and xenstore rings. Warnings are
 * printed; nothing here is fatal.
 */
void arch_setup(void *info);

/** Is `word` one of the space-separated words of the command line? */
bool cmdline_has(const char *word);

/**
 * The value of the first `key=value` word of the command line, copied to
 * `buf` (NUL-terminated, cut to `size` - 1 bytes). Returns the value's
 * full length, or -1 when there is no such word.
 */
long cmdline_get(const char *key, char *buf, size_t size);

/** PVH: HVMOP_get_param for this domain; returns 0 or -XEN_Exxx. */
long hvm_get_param(uint32_t index, uint64_t *value);

/** PVH: HVMOP_set_param for this domain; returns 0 or -XEN_Exxx. */
long hvm_set_param(uint32_t index, uint64_t value);

#endif /* MINIOS_SETUP_H */
