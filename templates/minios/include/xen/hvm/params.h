/*
 * xen/hvm/params.h - corresponds to Xen's public header hvm/params.h (the
 * guest-visible parameters).
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Read and written with HVMOP_get_param / HVMOP_set_param.
 */
#ifndef XENKIT_XEN_HVM_PARAMS_H
#define XENKIT_XEN_HVM_PARAMS_H

#include "hvm_op.h"

/*
 * How event-channel upcalls reach an HVM/PVH guest. The value's top byte
 * (bits 63:56) is the type; for HVM_PARAM_CALLBACK_TYPE_VECTOR bits 7:0
 * are the IDT vector, injected while vcpu_info.evtchn_upcall_pending is
 * set and EFLAGS.IF=1, with no APIC and no EOI involved.
 */
#define HVM_PARAM_CALLBACK_IRQ              0
#define HVM_PARAM_CALLBACK_IRQ_TYPE_MASK    XENKIT_ULL(0xFF00000000000000)
#define HVM_PARAM_CALLBACK_TYPE_GSI         0   /* value = GSI */
#define HVM_PARAM_CALLBACK_TYPE_PCI_INTX    1   /* value = domain:bus:dev:intx */
#define HVM_PARAM_CALLBACK_TYPE_VECTOR      2   /* value = vector */

#define HVM_PARAM_STORE_PFN                 1
#define HVM_PARAM_STORE_EVTCHN              2
#define HVM_PARAM_IOREQ_PFN                 5
#define HVM_PARAM_BUFIOREQ_PFN              6
#define HVM_PARAM_VIRIDIAN                  9
#define HVM_PARAM_TIMER_MODE               10
#define HVM_PARAM_HPET_ENABLED             11
#define HVM_PARAM_IDENT_PT                 12
#define HVM_PARAM_ACPI_S_STATE             14
#define HVM_PARAM_VM86_TSS                 15
#define HVM_PARAM_VPT_ALIGN                16
#define HVM_PARAM_CONSOLE_PFN              17
#define HVM_PARAM_CONSOLE_EVTCHN           18
#define HVM_PARAM_ACPI_IOPORTS_LOCATION    19
#define HVM_PARAM_PAGING_RING_PFN          27
#define HVM_PARAM_MONITOR_RING_PFN         28
#define HVM_PARAM_SHARING_RING_PFN         29
#define HVM_PARAM_TRIPLE_FAULT_REASON      31
#define HVM_PARAM_IOREQ_SERVER_PFN         32
#define HVM_PARAM_NR_IOREQ_SERVER_PAGES    33
#define HVM_PARAM_VM_GENERATION_ID_ADDR    34
#define HVM_PARAM_ALTP2M                   35
#define HVM_PARAM_X87_FIP_WIDTH            36
#define HVM_PARAM_VM86_TSS_SIZED           37
#define HVM_PARAM_MCA_CAP                  38
#define HVM_NR_PARAMS                      39

/* HVM_PARAM_TIMER_MODE values */
#define HVMPTM_delay_for_missed_ticks     0
#define HVMPTM_no_delay_for_missed_ticks  1
#define HVMPTM_no_missed_ticks_pending    2
#define HVMPTM_one_missed_tick_pending    3

#endif /* XENKIT_XEN_HVM_PARAMS_H */
