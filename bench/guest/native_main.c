/*
 * xenkit CPU benchmark, host side: runs the same workload natively and
 * prints its checksum (8 hex digits) and iteration count, which the bench
 * runner compares with the checksum the emulated guest reports.
 */
#include <stdio.h>
#include "workload.h"

int main(void)
{
	printf("%08x %u\n", (unsigned)bench_run(BENCH_ITERATIONS), (unsigned)BENCH_ITERATIONS);
	return 0;
}
