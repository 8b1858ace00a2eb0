/*
 * xenkit CPU benchmark: CRC-16/CCITT (bitwise, polynomial 0x1021) and
 * CRC-32 (reflected, polynomial 0xEDB88320, table-driven with the table
 * built at run time), plus the CRC kernel that checksums a generated buffer
 * with both. CRC-32 also chains the results of every other kernel.
 */
#include "workload.h"

uint16_t crc16_ccitt(uint16_t crc, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		crc ^= (uint16_t)(p[i] << 8);
		for (int b = 0; b < 8; b++) {
			if (crc & 0x8000)
				crc = (uint16_t)((crc << 1) ^ 0x1021);
			else
				crc = (uint16_t)(crc << 1);
		}
	}
	return crc;
}

static uint32_t crc32_table[256];
static int crc32_ready;

static void crc32_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
		crc32_table[i] = c;
	}
	crc32_ready = 1;
}

uint32_t crc32_update(uint32_t crc, const uint8_t *p, uint32_t n)
{
	if (!crc32_ready)
		crc32_init();
	crc = ~crc;
	for (uint32_t i = 0; i < n; i++)
		crc = crc32_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t crc32_word(uint32_t crc, uint32_t w)
{
	uint8_t b[4];
	b[0] = (uint8_t)w;
	b[1] = (uint8_t)(w >> 8);
	b[2] = (uint8_t)(w >> 16);
	b[3] = (uint8_t)(w >> 24);
	return crc32_update(crc, b, 4);
}

#define CRC_BUF 1024

static uint8_t crc_buf[CRC_BUF];

uint32_t bench_crc(uint32_t seed)
{
	uint32_t s = seed | 1;
	/* Text-like bytes with runs, so both CRCs see varied input. */
	for (uint32_t i = 0; i < CRC_BUF; i++) {
		uint32_t r = bench_rand(&s);
		crc_buf[i] = (r & 7) == 0 ? (uint8_t)' ' : (uint8_t)('a' + (r >> 8) % 26u);
	}
	uint16_t c16 = crc16_ccitt(0xffff, crc_buf, CRC_BUF);
	uint32_t c32 = crc32_update(0, crc_buf, CRC_BUF);
	/* Incremental CRC over halves must equal the one-shot CRC. */
	uint32_t half = crc32_update(crc32_update(0, crc_buf, CRC_BUF / 2), crc_buf + CRC_BUF / 2, CRC_BUF / 2);
	return (c32 ^ ((uint32_t)c16 << 7)) + (half == c32 ? 0x5a5a : 0);
}
