/*
 * xenkit CPU benchmark, guest side: main() as called by start.S, and the
 * two libc routines GCC may emit calls to even in freestanding code (it
 * turns struct copies and zeroing loops into memcpy/memset). This file is
 * compiled with -fno-tree-loop-distribute-patterns so these loops are not
 * themselves turned back into calls to memset/memcpy.
 */
#include <stddef.h>
#include "workload.h"

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *p = d;
	const unsigned char *q = s;
	while (n--)
		*p++ = *q++;
	return d;
}

int main(void);

/* start.S sends the return value, the checksum, to the report port. */
int main(void)
{
	return (int)bench_run(BENCH_ITERATIONS);
}
