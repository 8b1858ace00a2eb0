/*
 * xenkit CPU benchmark: linked-list kernel.
 *
 * Nodes come from a static pool (no allocator). One pass builds a list of
 * random keys, reverses it, looks keys up, unlinks the nodes that match a
 * predicate onto a free list and re-inserts them in order, and merge-sorts
 * the list (bottom-up, stable) by key then value. The digest covers the
 * list contents in order and the search results, never node addresses, so
 * 32- and 64-bit builds agree.
 */
#include "workload.h"

#define LIST_NODES 300
#define LIST_FINDS 40

struct node {
	struct node *next;
	uint32_t key;
	uint32_t val;
};

static struct node pool[LIST_NODES];

static struct node *list_build(uint32_t *s, int n)
{
	struct node *head = 0;
	for (int i = 0; i < n; i++) {
		struct node *e = &pool[i];
		e->key = bench_rand(s) & 0x3ff;
		e->val = (uint32_t)i ^ (e->key << 4);
		e->next = head;
		head = e;
	}
	return head;
}

static struct node *list_reverse(struct node *h)
{
	struct node *prev = 0;
	while (h) {
		struct node *n = h->next;
		h->next = prev;
		prev = h;
		h = n;
	}
	return prev;
}

/* Position of the first node with `key`, or -1. */
static int list_find(const struct node *h, uint32_t key)
{
	for (int pos = 0; h; h = h->next, pos++)
		if (h->key == key)
			return pos;
	return -1;
}

static int node_less(const struct node *a, const struct node *b)
{
	return a->key < b->key || (a->key == b->key && a->val < b->val);
}

/* Bottom-up merge sort: merge runs of width 1, 2, 4, ... until one run is left. */
static struct node *list_sort(struct node *list)
{
	for (int width = 1;; width *= 2) {
		struct node *p = list, *head = 0, *tail = 0;
		int merges = 0;
		while (p) {
			merges++;
			struct node *q = p;
			int psize = 0;
			for (int i = 0; i < width && q; i++) {
				psize++;
				q = q->next;
			}
			int qsize = width;
			while (psize > 0 || (qsize > 0 && q)) {
				struct node *e;
				if (psize == 0) {
					e = q; q = q->next; qsize--;
				} else if (qsize == 0 || !q) {
					e = p; p = p->next; psize--;
				} else if (!node_less(q, p)) {
					e = p; p = p->next; psize--;
				} else {
					e = q; q = q->next; qsize--;
				}
				if (tail)
					tail->next = e;
				else
					head = e;
				tail = e;
			}
			p = q;
		}
		if (tail)
			tail->next = 0;
		list = head;
		if (merges <= 1)
			return list;
	}
}

/* Unlink every node whose key has `bit` set; return them (in list order) via *out. */
static struct node *list_extract(struct node *h, uint32_t bit, struct node **out)
{
	struct node keep = { 0, 0, 0 }, take = { 0, 0, 0 };
	struct node *kt = &keep, *tt = &take;
	for (; h; h = h->next) {
		if (h->key & bit) {
			tt->next = h;
			tt = h;
		} else {
			kt->next = h;
			kt = h;
		}
	}
	kt->next = 0;
	tt->next = 0;
	*out = take.next;
	return keep.next;
}

/* Insert `e` into the sorted list `h`, keeping it sorted. */
static struct node *list_insert_sorted(struct node *h, struct node *e)
{
	if (!h || node_less(e, h)) {
		e->next = h;
		return e;
	}
	struct node *p = h;
	while (p->next && !node_less(e, p->next))
		p = p->next;
	e->next = p->next;
	p->next = e;
	return h;
}

static uint32_t list_digest(const struct node *h, uint32_t acc)
{
	uint32_t i = 0;
	for (; h; h = h->next, i++)
		acc = (acc * 31u) ^ (h->key + (h->val << 11)) ^ i;
	return acc;
}

uint32_t bench_list(uint32_t seed)
{
	uint32_t s = seed | 1;
	struct node *h = list_build(&s, LIST_NODES);
	uint32_t d = list_digest(h, 0);
	h = list_reverse(h);
	d = list_digest(h, d);

	for (int k = 0; k < LIST_FINDS; k++) {
		int pos = list_find(h, bench_rand(&s) & 0x3ff);
		d += (uint32_t)(pos + 1) * (uint32_t)(k + 1);
	}

	h = list_sort(h);
	d = list_digest(h, d);

	struct node *taken;
	h = list_extract(h, 1u << (seed & 7), &taken);
	d ^= (uint32_t)list_find(h, taken ? taken->key : 0);
	while (taken) {
		struct node *n = taken->next;
		taken->val ^= 0x155;
		h = list_insert_sorted(h, taken);
		taken = n;
	}
	d = list_digest(h, d);
	h = list_reverse(h);
	return list_digest(h, d);
}
