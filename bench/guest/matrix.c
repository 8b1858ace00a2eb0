/*
 * xenkit CPU benchmark: integer matrix kernel.
 *
 * Fills two N x N matrices of small signed 16-bit values, multiplies them
 * into a 32-bit matrix, multiplies by a vector, adds and scales by
 * constants, extracts bit fields and reduces everything to a CRC-16. All
 * products stay far below 2^31, so signed arithmetic never overflows.
 */
#include "workload.h"

#define MN 20

static int16_t ma[MN][MN], mb[MN][MN];
static int32_t mc[MN][MN];
static int32_t vec[MN], vout[MN];

uint32_t bench_matrix(uint32_t seed)
{
	uint32_t s = seed | 1;
	for (int i = 0; i < MN; i++) {
		for (int j = 0; j < MN; j++) {
			uint32_t r = bench_rand(&s);
			ma[i][j] = (int16_t)((int32_t)(r & 0x3ff) - 512);
			mb[i][j] = (int16_t)((int32_t)((r >> 10) & 0x3ff) - 512);
		}
		vec[i] = (int32_t)(bench_rand(&s) & 0xff) - 128;
	}

	/* C = A * B */
	for (int i = 0; i < MN; i++)
		for (int j = 0; j < MN; j++) {
			int32_t acc = 0;
			for (int k = 0; k < MN; k++)
				acc += (int32_t)ma[i][k] * (int32_t)mb[k][j];
			mc[i][j] = acc;
		}

	/* A += constant, then v_out = A * vec. */
	int16_t add = (int16_t)(seed & 0x7f);
	for (int i = 0; i < MN; i++)
		for (int j = 0; j < MN; j++)
			ma[i][j] = (int16_t)(ma[i][j] + add);
	for (int i = 0; i < MN; i++) {
		int32_t acc = 0;
		for (int j = 0; j < MN; j++)
			acc += (int32_t)ma[i][j] * vec[j];
		vout[i] = acc;
	}

	/* Reduce: bit fields of C, the vector, and a scaled trace. */
	uint16_t crc = 0;
	int32_t trace = 0;
	for (int i = 0; i < MN; i++) {
		for (int j = 0; j < MN; j++) {
			uint32_t v = (uint32_t)mc[i][j];
			uint8_t b[2];
			b[0] = (uint8_t)((v >> 2) & 0xff);
			b[1] = (uint8_t)(((v >> 12) & 0x0f) | ((mc[i][j] < 0) << 7));
			crc = crc16_ccitt(crc, b, 2);
		}
		trace += mc[i][i] / 8;
		uint8_t vb[4] = { (uint8_t)vout[i], (uint8_t)(vout[i] >> 8), (uint8_t)(vout[i] >> 16), (uint8_t)(vout[i] >> 24) };
		crc = crc16_ccitt(crc, vb, 4);
	}
	return ((uint32_t)crc << 16) ^ (uint32_t)trace;
}
