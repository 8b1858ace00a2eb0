/*
 * xenkit CPU benchmark: the driver that runs every kernel once per
 * iteration, each with a seed derived from the iteration number, and chains
 * their digests through CRC-32 into the final checksum.
 */
#include "workload.h"

uint32_t bench_run(uint32_t iterations)
{
	uint32_t sum = 0;
	for (uint32_t it = 0; it < iterations; it++) {
		uint32_t seed = (it + 1) * 0x9E3779B9u;
		sum = crc32_word(sum, bench_list(seed));
		sum = crc32_word(sum, bench_state(seed ^ 0x5bd1e995u));
		sum = crc32_word(sum, bench_matrix(seed + 0x27d4eb2fu));
		sum = crc32_word(sum, bench_crc(seed ^ 0x165667b1u));
		sum = crc32_word(sum, bench_sort(seed * 3u + 1u));
	}
	return sum;
}
