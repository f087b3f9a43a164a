/*
 * map.h - a hash map from C strings to pointers, and the string hash it uses.
 *
 * The controller keeps per-object and per-target tables (reconcile state,
 * probe targets, metric series) that are looked up by name thousands of
 * times a second at scale; a list with strcmp made each lookup cost the
 * whole table.
 *
 *   struct base_map m = BASE_MAP_INIT;
 *   base_map_put(&m, t->name, t);       // key borrowed: it must outlive the entry
 *   t = base_map_get(&m, "ns/orders");
 *   base_map_remove(&m, t->name);
 *   base_map_release(&m);              // the values are the caller's
 *
 * Chained buckets, doubled when the entries outnumber them. Not thread-safe:
 * callers lock.
 */
#ifndef BASE_MAP_H
#define BASE_MAP_H

#include <stddef.h>
#include <stdint.h>

struct base_map_entry;

struct base_map {
	struct base_map_entry **buckets; /* nbuckets of them, a power of two */
	size_t nbuckets, n;
};

#define BASE_MAP_INIT                                                                              \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* FNV-1a of s[0..n); with fold_case, of its ASCII-lower-cased bytes. */
uint64_t base_hash(const char *s, size_t n, int fold_case);

/* The value stored under key, or NULL. */
void *base_map_get(const struct base_map *m, const char *key);
/* Stores value under key (borrowed), replacing any value there. */
void base_map_put(struct base_map *m, const char *key, void *value);
/* Removes key; returns the value it had, or NULL. */
void *base_map_remove(struct base_map *m, const char *key);
/* Frees the map's own memory; it is empty and usable again. */
void base_map_release(struct base_map *m);

#endif
