#include "pkg/base/map.h"

#include <string.h>

#include "pkg/base/alloc.h"

struct base_map_entry {
	struct base_map_entry *next;
	uint64_t hash;
	const char *key;
	void *value;
};

uint64_t base_hash(const char *s, size_t n, int fold_case)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (fold_case && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		h = (h ^ c) * 1099511628211ULL;
	}
	return h;
}

static struct base_map_entry **slot(const struct base_map *m, const char *key, uint64_t h)
{
	struct base_map_entry **pp = &m->buckets[h & (m->nbuckets - 1)];

	while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key)))
		pp = &(*pp)->next;
	return pp;
}

void *base_map_get(const struct base_map *m, const char *key)
{
	struct base_map_entry *e;

	if (!m->n)
		return NULL;
	e = *slot(m, key, base_hash(key, strlen(key), 0));
	return e ? e->value : NULL;
}

static void grow(struct base_map *m)
{
	size_t n = m->nbuckets ? 2 * m->nbuckets : 16;
	struct base_map_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < m->nbuckets; i++) {
		struct base_map_entry *e, *next;

		for (e = m->buckets[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
}

void base_map_put(struct base_map *m, const char *key, void *value)
{
	uint64_t h = base_hash(key, strlen(key), 0);
	struct base_map_entry **pp, *e;

	if (m->n + 1 > m->nbuckets)
		grow(m);
	pp = slot(m, key, h);
	if (*pp) {
		(*pp)->key = key;
		(*pp)->value = value;
		return;
	}
	e = xmalloc(sizeof(*e));
	*e = (struct base_map_entry){NULL, h, key, value};
	*pp = e;
	m->n++;
}

void *base_map_remove(struct base_map *m, const char *key)
{
	struct base_map_entry **pp, *e;
	void *v;

	if (!m->n)
		return NULL;
	pp = slot(m, key, base_hash(key, strlen(key), 0));
	e = *pp;
	if (!e)
		return NULL;
	*pp = e->next;
	v = e->value;
	free(e);
	m->n--;
	return v;
}

void base_map_release(struct base_map *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct base_map_entry *e, *next;

		for (e = m->buckets[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	*m = (struct base_map)BASE_MAP_INIT;
}
