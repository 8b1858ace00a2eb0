/*
 * xenkit CPU benchmark: sorting kernel.
 *
 * Sorts one random array of unsigned keys with a quicksort (median of
 * three, recursion on the smaller side, insertion sort for short ranges)
 * and a copy of it, reinterpreted as signed, with a heapsort. Both results
 * are checked for order; the digest covers the sorted contents, the
 * ordering checks and a binary search over the sorted array.
 */
#include "workload.h"

#define SORT_N 500

static uint32_t qa[SORT_N];
static int32_t ha[SORT_N];

static void insertion_sort(uint32_t *a, int n)
{
	for (int i = 1; i < n; i++) {
		uint32_t v = a[i];
		int j = i - 1;
		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

static void swap_u(uint32_t *a, int i, int j)
{
	uint32_t t = a[i];
	a[i] = a[j];
	a[j] = t;
}

static void quick_sort(uint32_t *a, int n)
{
	while (n > 12) {
		int m = n / 2;
		if (a[m] < a[0]) swap_u(a, m, 0);
		if (a[n - 1] < a[0]) swap_u(a, n - 1, 0);
		if (a[n - 1] < a[m]) swap_u(a, n - 1, m);
		uint32_t pivot = a[m];
		int i = 0, j = n - 1;
		for (;;) {
			while (a[i] < pivot) i++;
			while (a[j] > pivot) j--;
			if (i >= j) break;
			swap_u(a, i, j);
			i++;
			j--;
		}
		/* [0, j] <= pivot <= [j+1, n): recurse on the smaller part. */
		int left = j + 1, right = n - left;
		if (left < right) {
			quick_sort(a, left);
			a += left;
			n = right;
		} else {
			quick_sort(a + left, right);
			n = left;
		}
	}
	insertion_sort(a, n);
}

static void sift_down(int32_t *a, int root, int n)
{
	for (;;) {
		int child = 2 * root + 1;
		if (child >= n)
			return;
		if (child + 1 < n && a[child + 1] > a[child])
			child++;
		if (a[root] >= a[child])
			return;
		int32_t t = a[root];
		a[root] = a[child];
		a[child] = t;
		root = child;
	}
}

static void heap_sort(int32_t *a, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		sift_down(a, i, n);
	for (int end = n - 1; end > 0; end--) {
		int32_t t = a[0];
		a[0] = a[end];
		a[end] = t;
		sift_down(a, 0, end);
	}
}

/* Index of the first element >= key. */
static int lower_bound(const uint32_t *a, int n, uint32_t key)
{
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (a[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t bench_sort(uint32_t seed)
{
	uint32_t s = seed | 1;
	for (int i = 0; i < SORT_N; i++) {
		uint32_t r = bench_rand(&s);
		/* Some duplicates: keys from a range smaller than 2^32 for one in four. */
		qa[i] = (i & 3) == 0 ? (r & 0xff) : r;
		ha[i] = (int32_t)qa[i];
	}
	quick_sort(qa, SORT_N);
	heap_sort(ha, SORT_N);

	uint32_t d = 0, unordered = 0;
	for (int i = 0; i < SORT_N; i++) {
		if (i > 0 && qa[i - 1] > qa[i]) unordered++;
		if (i > 0 && ha[i - 1] > ha[i]) unordered++;
		d = crc32_word(d, qa[i] ^ (uint32_t)ha[i]);
	}
	for (int k = 0; k < 16; k++)
		d += (uint32_t)lower_bound(qa, SORT_N, bench_rand(&s)) << (k & 7);
	return d ^ (unordered << 24);
}
