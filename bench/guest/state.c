/*
 * xenkit CPU benchmark: state-machine kernel.
 *
 * Builds an input string of comma/space-separated tokens from a small
 * vocabulary of number-like words (decimal, signed, hexadecimal, fixed and
 * scientific notation, and malformed ones), corrupts a few characters at
 * random, then scans it with a table-free switch-based recognizer. Every
 * token ends in an accepting class or INVALID; the digest combines the
 * per-class counts, the per-state transition counts and the values of the
 * decimal and hexadecimal integers it recognised.
 */
#include "workload.h"

#define STATE_INPUT 1200

enum st {
	S_START, S_SIGN, S_ZERO, S_INT, S_HEXX, S_HEX, S_DOT, S_FRAC,
	S_EXP, S_EXPSIGN, S_EXPINT, S_INVALID, S_COUNT
};

enum cls { C_INT, C_HEX, C_FIXED, C_SCI, C_INVALID, C_COUNT };

static const char *const words[] = {
	"0", "7", "42", "-19", "+305", "0x1f", "0XBEEF", "0x", "3.25", "-0.5",
	".75", "5.", "6e3", "-2.5E-7", "1e+", "12a", "--3", "0x7g", "999999", "+",
	"8.0e12", "e5", "0755", "-", "314159", "0xdeadbeef",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static char input[STATE_INPUT + 32];

static uint32_t build_input(uint32_t *s)
{
	uint32_t n = 0;
	while (n < STATE_INPUT) {
		const char *w = words[bench_rand(s) % NWORDS];
		while (*w)
			input[n++] = *w++;
		input[n++] = (bench_rand(s) & 3) == 0 ? ' ' : ',';
	}
	/* A few random corruptions, from a printable alphabet. */
	for (int k = 0; k < 12; k++) {
		uint32_t r = bench_rand(s);
		input[r % n] = "0123456789.+-eEx, z"[(r >> 16) % 19u];
	}
	input[n] = 0;
	return n;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static uint32_t hex_val(char c)
{
	if (c <= '9')
		return (uint32_t)(c - '0');
	return (uint32_t)((c | 0x20) - 'a' + 10);
}

/* Transition function of the recognizer. */
static enum st step(enum st s, char c)
{
	switch (s) {
	case S_START:
		if (c == '+' || c == '-') return S_SIGN;
		if (c == '0') return S_ZERO;
		if (is_digit(c)) return S_INT;
		if (c == '.') return S_DOT;
		return S_INVALID;
	case S_SIGN:
		if (c == '0') return S_ZERO;
		if (is_digit(c)) return S_INT;
		if (c == '.') return S_DOT;
		return S_INVALID;
	case S_ZERO:
		if (c == 'x' || c == 'X') return S_HEXX;
		/* fall through */
	case S_INT:
		if (is_digit(c)) return S_INT;
		if (c == '.') return S_FRAC;
		if (c == 'e' || c == 'E') return S_EXP;
		return S_INVALID;
	case S_HEXX:
	case S_HEX:
		return is_hex(c) ? S_HEX : S_INVALID;
	case S_DOT:
		return is_digit(c) ? S_FRAC : S_INVALID;
	case S_FRAC:
		if (is_digit(c)) return S_FRAC;
		if (c == 'e' || c == 'E') return S_EXP;
		return S_INVALID;
	case S_EXP:
		if (c == '+' || c == '-') return S_EXPSIGN;
		return is_digit(c) ? S_EXPINT : S_INVALID;
	case S_EXPSIGN:
	case S_EXPINT:
		return is_digit(c) ? S_EXPINT : S_INVALID;
	default:
		return S_INVALID;
	}
}

static enum cls accept(enum st s)
{
	switch (s) {
	case S_ZERO: case S_INT: return C_INT;
	case S_HEX: return C_HEX;
	case S_FRAC: return C_FIXED;
	case S_EXPINT: return C_SCI;
	default: return C_INVALID;
	}
}

uint32_t bench_state(uint32_t seed)
{
	uint32_t s = seed | 1;
	uint32_t len = build_input(&s);
	uint32_t classes[C_COUNT] = { 0 };
	uint32_t visits[S_COUNT] = { 0 };
	uint32_t values = 0;

	const char *p = input;
	while (*p) {
		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		enum st st = S_START;
		uint32_t dec = 0, hex = 0;
		int negative = 0;
		for (; *p && *p != ',' && *p != ' '; p++) {
			st = step(st, *p);
			visits[st]++;
			if (st == S_SIGN)
				negative = *p == '-';
			else if (st == S_INT || st == S_ZERO)
				dec = dec * 10u + (uint32_t)(*p - '0');
			else if (st == S_HEX)
				hex = (hex << 4) | hex_val(*p);
		}
		enum cls c = accept(st);
		classes[c]++;
		if (c == C_INT)
			values += negative ? 0u - dec : dec;
		else if (c == C_HEX)
			values ^= hex;
	}

	uint32_t d = len;
	for (int i = 0; i < C_COUNT; i++)
		d = d * 131u + classes[i];
	for (int i = 0; i < S_COUNT; i++)
		d = (d << 3) ^ (d >> 29) ^ visits[i];
	return d + values;
}
