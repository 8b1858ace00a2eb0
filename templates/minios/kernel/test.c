/*
 * Test results in the style of the Xen Test Framework: see
 * include/minios/test.h. The verdict line is exactly XTF's
 * ("Test result: SUCCESS"), which is what xtf-runner and xenkit's own
 * tests search the console for.
 */
#include <minios/test.h>
#include <minios/console.h>

static enum test_status status = TEST_SUCCESS;

static const char *const status_names[] = {
    [TEST_SUCCESS] = "SUCCESS",
    [TEST_SKIP] = "SKIP",
    [TEST_ERROR] = "ERROR",
    [TEST_FAILURE] = "FAILURE",
};

static void record(enum test_status s, const char *fmt, va_list ap)
{
    if (s > status)
        status = s;
    printf("%s: ", status_names[s]);
    vprintf(fmt, ap);
    printf("\n");
}

void test_failure(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(TEST_FAILURE, fmt, ap);
    va_end(ap);
}

void test_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(TEST_ERROR, fmt, ap);
    va_end(ap);
}

void test_skip(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    record(TEST_SKIP, fmt, ap);
    va_end(ap);
}

enum test_status test_status(void)
{
    return status;
}

void test_report(void)
{
    printf("Test result: %s\n", status_names[status]);
}
