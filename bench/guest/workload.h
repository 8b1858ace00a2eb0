/*
 * xenkit CPU benchmark workload: shared declarations.
 *
 * An integer-only workload in the spirit of CoreMark (but our own code):
 * linked-list handling in a static pool, a state machine scanning input
 * strings, integer matrix arithmetic, CRC-16/CRC-32 and array sorting.
 * The same sources build two ways: freestanding for the emulated i686 guest
 * (start.S + guest_main.c) and natively for the host (native_main.c), and
 * both must compute the same checksum. Everything is therefore written with
 * fixed-width 32-bit arithmetic: no `long`, no 64-bit types (the guest has
 * no libgcc for 64-bit division), no addresses folded into results.
 */
#ifndef XENKIT_BENCH_WORKLOAD_H
#define XENKIT_BENCH_WORKLOAD_H

#include <stdint.h>

/* Outer iterations of one run; about 0.84 M guest instructions each (~170 M in all). */
#ifndef BENCH_ITERATIONS
#define BENCH_ITERATIONS 200
#endif

/* Deterministic pseudo-random numbers (xorshift32); *state must be non-zero. */
static inline uint32_t bench_rand(uint32_t *state)
{
	uint32_t x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/* crc.c */
uint16_t crc16_ccitt(uint16_t crc, const uint8_t *p, uint32_t n);
uint32_t crc32_update(uint32_t crc, const uint8_t *p, uint32_t n);
uint32_t crc32_word(uint32_t crc, uint32_t w);
uint32_t bench_crc(uint32_t seed);

/* The kernels: each takes a seed and returns a 32-bit digest of its work. */
uint32_t bench_list(uint32_t seed);
uint32_t bench_state(uint32_t seed);
uint32_t bench_matrix(uint32_t seed);
uint32_t bench_sort(uint32_t seed);

/* workload.c: run every kernel `iterations` times; the checksum. */
uint32_t bench_run(uint32_t iterations);

#endif
