/*
 * Helpers shared by xenkit's end-to-end test guests. Each guest is one C
 * file in tests/guests/ providing app_main(), built from the template
 * with `make -C templates/minios APP=<this dir>/<name>.c` (see
 * tests/e2e/guests.ts), so it boots exactly like a user's kernel: traps,
 * shared_info, the console ring, then app_main(). A guest ends with
 * test_report() — "Test result: SUCCESS" or FAILURE, with a "FAILURE:
 * <why>" line per broken check — and returns, which powers it off.
 *
 * PROBE runs one instruction that may fault, in any ring, without
 * touching memory to do so: ESI holds PROBE_MAGIC and EDI the address
 * after the instruction. probe_fixup(), installed as a trap handler,
 * recognises the magic, logs the fault (in kernel memory: the handler
 * runs in the kernel's ring even when the probe ran in ring 3), clears
 * ESI and resumes at EDI. So PROBE tells whether the instruction faulted,
 * and probe_log how.
 */
#ifndef XENKIT_TEST_GUEST_H
#define XENKIT_TEST_GUEST_H

#include <minios/app.h>
#include <minios/arch.h>
#include <minios/console.h>
#include <minios/hypercall.h>
#include <minios/lib.h>
#include <minios/mm.h>
#include <minios/setup.h>
#include <minios/test.h>
#include <minios/traps.h>

#define PROBE_MAGIC 0x50524f42u /* "PROB" */

/* One fault taken by a probe. */
struct probe_fault {
    uint32_t vector;
    uint32_t error_code;
    uint32_t eip;
    uint32_t cs;        /* the interrupted CS: its low bits are the ring */
    uint32_t esp, ss;   /* from an outer ring only */
    unsigned long cr2;  /* #PF only: fault_address() */
};

#define PROBE_LOG 32
static struct probe_fault probe_log[PROBE_LOG];
static unsigned int probe_count;

/*
 * Execute `insn` (asm text, operands written %%reg) with EAX = `a` (an
 * lvalue, updated from EAX afterwards) and ECX = `c`. EDX is free for the
 * instruction to clobber. Evaluates to true when it faulted.
 */
#define PROBE(insn, a, c) ({                                                  \
    uint32_t s_ = PROBE_MAGIC, d_, c_ = (uint32_t)(c);                        \
    __asm__ __volatile__("mov $1f, %%edi\n\t" insn "\n1:"                     \
                         : "+S"(s_), "=&D"(d_), "+a"(a)                       \
                         : "c"(c_)                                            \
                         : "memory", "cc", "edx");                            \
    (void)d_;                                                                 \
    s_ != PROBE_MAGIC;                                                        \
})

/* The trap handler behind PROBE; false for faults that are not a probe's. */
static bool probe_fixup(struct trap_frame *f)
{
    struct probe_fault *p;

    if (f->esi != PROBE_MAGIC)
        return false;
    if (probe_count < PROBE_LOG) {
        p = &probe_log[probe_count];
        p->vector = f->vector;
        p->error_code = f->error_code;
        p->eip = f->eip;
        p->cs = f->cs & 0xffff;
        p->cr2 = f->vector == 14 ? fault_address() : 0;
        if ((f->cs & 3) != (xen_pvh ? 0u : 1u)) {
            p->esp = f->esp;
            p->ss = f->ss & 0xffff;
        } else {
            p->esp = p->ss = 0;
        }
    }
    probe_count++;
    f->esi = 0;
    f->eip = f->edi;
    return true;
}

/* Route the usual fault vectors to probe_fixup. */
static inline void probe_install(void)
{
    static const unsigned int vecs[] = { 0, 3, 4, 5, 6, 13, 14 };

    for (unsigned int i = 0; i < ARRAY_SIZE(vecs); i++)
        trap_set_handler(vecs[i], probe_fixup);
}

/* The last probe fault, or NULL when none was logged since probe_reset(). */
static inline const struct probe_fault *probe_last(void)
{
    return probe_count && probe_count <= PROBE_LOG ? &probe_log[probe_count - 1] : NULL;
}

static inline void probe_reset(void)
{
    probe_count = 0;
}

/*
 * Check that the last probe faulted with `vector` and `error_code`;
 * `what` names the probe in failure messages. Returns the fault (or NULL).
 */
static inline const struct probe_fault *expect_fault(const char *what, bool faulted, uint32_t vector,
                                                     uint32_t error_code)
{
    const struct probe_fault *p = probe_last();

    if (!faulted) {
        test_failure("%s: no fault (expected vector %u, error code %#x)", what, vector, error_code);
        return NULL;
    }
    if (!p) {
        test_error("%s: faulted but nothing was logged", what);
        return NULL;
    }
    if (p->vector != vector || p->error_code != error_code)
        test_failure("%s: vector %u error code %#x, expected vector %u error code %#x", what, p->vector,
                     p->error_code, vector, error_code);
    return p;
}

#endif /* XENKIT_TEST_GUEST_H */
