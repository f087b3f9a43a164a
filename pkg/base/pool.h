/*
 * pool.h - a bump allocator whose memory is given back all at once.
 *
 * For data made in one go and dropped in one go, such as a decoded Describe
 * answer of thousands of items: one string per field is thousands of small
 * heap chunks, which outlive the answer before them in the heap's holes and
 * keep its pages resident until a trim. A pool takes blocks instead, 4 KiB
 * at first and doubling up to BASE_POOL_BLOCK_MAX; blocks of that size and
 * larger are mappings of their own, returned to the kernel the moment the
 * pool is freed.
 *
 * base_pool_alloc's memory is zeroed and aligned for any type; strings are
 * packed without alignment. Nothing is freed before the pool. A pool is not thread-safe: one owner at a time.
 */
#ifndef BASE_POOL_H
#define BASE_POOL_H

#include <stddef.h>

#include "pkg/base/alloc.h"

/* The largest block a pool takes, except for a single larger allocation. */
#define BASE_POOL_BLOCK_MAX BASE_MAP_MIN

struct base_pool;

/* A new, empty pool (no block yet). Never NULL. */
struct base_pool *base_pool_new(void);
/* Frees the pool and everything allocated from it. NULL is fine. */
void base_pool_free(struct base_pool *p);

/* n zeroed bytes, aligned for any type; n == 0 gives a unique pointer too. */
void *base_pool_alloc(struct base_pool *p, size_t n);
/* A copy of s[0..n) with a terminating NUL (s need not be terminated). */
char *base_pool_strndup(struct base_pool *p, const char *s, size_t n);
/* A copy of s; NULL for NULL. */
char *base_pool_strdup(struct base_pool *p, const char *s);

/* Bytes of the blocks the pool holds (what it costs, headers included). */
size_t base_pool_footprint(const struct base_pool *p);

#endif
