/*
 * cimap.h - a case-insensitive multimap from strings to item numbers.
 *
 * Built once over a list (say the clusters of one Describe answer) so that a
 * caller with a few names finds their items without comparing each name with
 * every item: AWS identifiers compare case-insensitively, and at scale a
 * region holds thousands of clusters while a reconcile runs every few
 * milliseconds. A lookup yields candidates, the items whose key has the same
 * case-folded hash; the caller still compares them exactly. One key may map
 * to several items, and one item may be added under several keys.
 *
 *   struct base_cimap m;
 *   base_cimap_init(&m, list->n);            // sized for about n keys
 *   for (size_t i = 0; i < list->n; i++)
 *           base_cimap_add(&m, list->items[i].id, strlen(list->items[i].id), i);
 *   for (uint32_t e = base_cimap_first(&m, "Orders", &h); e; e = base_cimap_next(&m, e, h))
 *           if (!strcasecmp(list->items[base_cimap_item(&m, e)].id, "Orders"))
 *                   ...;
 *   base_cimap_release(&m);
 *
 * Items are numbered below 2^32. Not thread-safe while it is built; once
 * built, any number of threads may look up in it concurrently.
 */
#ifndef BASE_CIMAP_H
#define BASE_CIMAP_H

#include <stddef.h>
#include <stdint.h>

struct base_cimap {
	uint32_t *head; /* per bucket: 1 + its first entry, 0 = none */
	uint32_t *next; /* per entry: 1 + the next entry of its chain */
	uint32_t *item; /* per entry: the item number */
	uint64_t *hash; /* per entry */
	size_t mask, n, cap;
};

/* An empty map for about n keys (more are fine: the chains grow). */
void base_cimap_init(struct base_cimap *m, size_t n);
/* Adds the key s[0..len) (compared case-insensitively) for item. */
void base_cimap_add(struct base_cimap *m, const char *s, size_t len, size_t item);
/*
 * The first candidate entry for key, 0 when there is none (also for a NULL
 * key or a map never initialised); *h receives the key's hash for
 * base_cimap_next. Entries are 1-based cursors, not item numbers.
 */
uint32_t base_cimap_first(const struct base_cimap *m, const char *key, uint64_t *h);
/* The candidate after entry e for the key whose hash is h, 0 at the end. */
uint32_t base_cimap_next(const struct base_cimap *m, uint32_t e, uint64_t h);
/* The item number of candidate entry e (e != 0). */
static inline uint32_t base_cimap_item(const struct base_cimap *m, uint32_t e)
{
	return m->item[e - 1];
}
/* Frees the map's memory; it is zeroed (an empty map that finds nothing). */
void base_cimap_release(struct base_cimap *m);

#endif
