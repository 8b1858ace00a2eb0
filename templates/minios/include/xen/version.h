/*
 * xen/version.h - corresponds to Xen's public header version.h.
 *
 * Written for xenkit from the Xen ABI facts (interface version 0x00041300,
 * x86_32). Call as HYPERVISOR_xen_version(XENVER_xxx, arg). XENVER_version
 * returns (major << 16 | minor) and XENVER_pagesize the page size; the
 * other commands return 0 and fill *arg.
 */
#ifndef XENKIT_XEN_VERSION_H
#define XENKIT_XEN_VERSION_H

#include "xen.h"
#include "features.h"

#define XENVER_version              0   /* arg: NULL */
#define XENVER_extraversion         1   /* arg: xen_extraversion_t */
#define XENVER_compile_info         2   /* arg: struct xen_compile_info * */
#define XENVER_capabilities         3   /* arg: xen_capabilities_info_t */
#define XENVER_changeset            4   /* arg: xen_changeset_info_t */
#define XENVER_platform_parameters  5   /* arg: struct xen_platform_parameters * */
#define XENVER_get_features         6   /* arg: struct xen_feature_info * */
#define XENVER_pagesize             7   /* arg: NULL */
#define XENVER_guest_handle         8   /* arg: xen_domain_handle_t */
#define XENVER_commandline          9   /* arg: xen_commandline_t */
#define XENVER_build_id            10   /* arg: struct xen_build_id * */
#define XENVER_extraversion2       11   /* arg: struct xen_varbuf * */
#define XENVER_capabilities2       12   /* arg: struct xen_varbuf * */
#define XENVER_changeset2          13   /* arg: struct xen_varbuf * */
#define XENVER_commandline2        14   /* arg: struct xen_varbuf * */

#ifndef __ASSEMBLER__

typedef char xen_extraversion_t[16];
typedef char xen_capabilities_info_t[1024];
typedef char xen_changeset_info_t[64];
typedef char xen_commandline_t[1024];
typedef uint8_t xen_domain_handle_t[16];

#define XEN_EXTRAVERSION_LEN       (sizeof(xen_extraversion_t))
#define XEN_CAPABILITIES_INFO_LEN  (sizeof(xen_capabilities_info_t))
#define XEN_CHANGESET_INFO_LEN     (sizeof(xen_changeset_info_t))

struct xen_compile_info {
    char compiler[64];
    char compile_by[16];
    char compile_domain[32];
    char compile_date[32];
};
typedef struct xen_compile_info xen_compile_info_t;

struct xen_platform_parameters {
    xen_ulong_t virt_start;     /* start of the hypervisor hole */
};
typedef struct xen_platform_parameters xen_platform_parameters_t;

/* IN: which 32-bit submap; OUT: its XENFEAT_* bits. */
struct xen_feature_info {
    uint32_t submap_idx;
    uint32_t submap;
};
typedef struct xen_feature_info xen_feature_info_t;

/* IN: len = room in buf; OUT: the data. */
struct xen_build_id {
    uint32_t      len;
    unsigned char buf[];
};
typedef struct xen_build_id xen_build_id_t;

struct xen_varbuf {
    uint32_t      len;
    unsigned char buf[];
};
typedef struct xen_varbuf xen_varbuf_t;

#endif /* !__ASSEMBLER__ */

#endif /* XENKIT_XEN_VERSION_H */
