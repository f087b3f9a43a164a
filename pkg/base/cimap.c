/*
 * The case-insensitive multimap: chained buckets over parallel arrays of
 * entries (next, item, hash), linked by 1-based indexes so that 0 ends a
 * chain. Entries are only ever added, so the arrays grow at their end. The
 * bucket count is fixed at init, a power of two at least twice the expected
 * keys: a map is built once over a list whose size is known, and more keys
 * than that only make the chains longer.
 */
#include "pkg/base/cimap.h"

#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/map.h"

void base_cimap_init(struct base_cimap *m, size_t n)
{
	size_t buckets = 16;

	while (buckets < 2 * n)
		buckets *= 2;
	m->head = xcalloc(buckets, sizeof(*m->head));
	m->mask = buckets - 1;
	m->n = 0;
	/* Sized once: doubling from small would leave a trail of freed arrays in the heap. */
	m->cap = n ? n : 1;
	m->next = xreallocarray(NULL, m->cap, sizeof(*m->next));
	m->item = xreallocarray(NULL, m->cap, sizeof(*m->item));
	m->hash = xreallocarray(NULL, m->cap, sizeof(*m->hash));
}

void base_cimap_add(struct base_cimap *m, const char *s, size_t len, size_t item)
{
	uint64_t h = base_hash(s, len, 1);

	BUG_ON(item > UINT32_MAX || m->n >= UINT32_MAX);
	if (m->n == m->cap) {
		ALLOC_GROW(m->next, m->n + 1, m->cap);
		REALLOC_ARRAY(m->item, m->cap);
		REALLOC_ARRAY(m->hash, m->cap);
	}
	m->item[m->n] = (uint32_t)item;
	m->hash[m->n] = h;
	m->next[m->n] = m->head[h & m->mask];
	m->head[h & m->mask] = (uint32_t)++m->n;
}

uint32_t base_cimap_next(const struct base_cimap *m, uint32_t e, uint64_t h)
{
	for (e = m->next[e - 1]; e && m->hash[e - 1] != h; e = m->next[e - 1])
		;
	return e;
}

uint32_t base_cimap_first(const struct base_cimap *m, const char *key, uint64_t *h)
{
	uint32_t e;

	if (!m->head || !key)
		return 0;
	*h = base_hash(key, strlen(key), 1);
	e = m->head[*h & m->mask];
	return e && m->hash[e - 1] != *h ? base_cimap_next(m, e, *h) : e;
}

void base_cimap_release(struct base_cimap *m)
{
	free(m->head);
	free(m->next);
	free(m->item);
	free(m->hash);
	memset(m, 0, sizeof(*m));
}
