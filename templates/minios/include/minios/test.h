/*
 * Test results in the style of the Xen Test Framework (kernel/test.c).
 *
 * A test kernel checks things, says what went wrong as it goes, and ends
 * with one verdict line that tools look for:
 *
 *     Test result: SUCCESS          nothing went wrong
 *     Test result: SKIP             the test does not apply here
 *     Test result: ERROR            the test itself could not do its job
 *     Test result: FAILURE          what was tested is wrong
 *
 * Each test_failure/test_error/test_skip prints its message at once, as
 * "FAILURE: ...", "ERROR: ..." or "SKIP: ...", and raises the verdict to
 * at least that level (FAILURE > ERROR > SKIP > SUCCESS). Telling error
 * from failure matters: an ERROR means "fix the test or its set-up", a
 * FAILURE "fix the thing under test".
 */
#ifndef MINIOS_TEST_H
#define MINIOS_TEST_H

#include <minios/lib.h>

enum test_status {
    TEST_SUCCESS,
    TEST_SKIP,
    TEST_ERROR,
    TEST_FAILURE,
};

/** What was tested is wrong: print "FAILURE: <message>". */
void test_failure(const char *fmt, ...) __printf(1, 2);

/** The test could not run as intended: print "ERROR: <message>". */
void test_error(const char *fmt, ...) __printf(1, 2);

/** The test does not apply: print "SKIP: <message>". */
void test_skip(const char *fmt, ...) __printf(1, 2);

/** test_failure(...) unless `cond` holds; returns `cond`. */
#define test_check(cond, ...) ({                \
    bool ok_ = (cond);                          \
    if (!ok_)                                   \
        test_failure(__VA_ARGS__);              \
    ok_;                                        \
})

/** The verdict so far. */
enum test_status test_status(void);

/** Print the verdict line, "Test result: <STATUS>". Call it once, at the end. */
void test_report(void);

#endif /* MINIOS_TEST_H */
