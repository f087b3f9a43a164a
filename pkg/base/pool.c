/*
 * pool.c - blocks in a list; each allocation bumps the newest block's offset.
 */
#include "pkg/base/pool.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"

#define FIRST_BLOCK (4u << 10)
#define ALIGN alignof(max_align_t)

struct block {
	struct block *prev;
	size_t size; /* bytes of data[] */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct base_pool {
	struct block *top;
	size_t footprint;
	size_t next_size; /* data bytes of the next block */
};

struct base_pool *base_pool_new(void)
{
	struct base_pool *p = xcalloc(1, sizeof(*p));

	p->next_size = FIRST_BLOCK - sizeof(struct block);
	return p;
}

/*
 * Large blocks are mappings of their own: from malloc they would be carved out
 * of any free hole in the heap that fits, before the mmap threshold applies.
 */
static struct block *block_alloc(size_t size)
{
	size_t total = sizeof(struct block) + size;

	return total < BASE_POOL_BLOCK_MAX ? xmalloc(total) : xmap(total);
}

static void block_free(struct block *b)
{
	size_t total = sizeof(*b) + b->size;

	if (total < BASE_POOL_BLOCK_MAX)
		free(b);
	else
		xunmap(b, total);
}

void base_pool_free(struct base_pool *p)
{
	struct block *b, *prev;

	if (!p)
		return;
	for (b = p->top; b; b = prev) {
		prev = b->prev;
		block_free(b);
	}
	free(p);
}

/* A new top block with room for n bytes. */
static void grow(struct base_pool *p, size_t n)
{
	size_t size = p->next_size;
	struct block *b;

	if (size < n)
		size = n;
	b = block_alloc(size);
	b->prev = p->top;
	b->size = size;
	b->used = 0;
	p->top = b;
	p->footprint += sizeof(*b) + size;
	if (p->next_size < BASE_POOL_BLOCK_MAX - sizeof(*b))
		p->next_size = 2 * (p->next_size + sizeof(*b)) - sizeof(*b);
}

/* n bytes at an offset that is a multiple of align (a power of two). */
static unsigned char *take(struct base_pool *p, size_t n, size_t align)
{
	struct block *b = p->top;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

	BUG_ON(n > SIZE_MAX / 2);
	if (!b || at > b->size || b->size - at < n) {
		grow(p, n);
		b = p->top;
		at = 0;
	}
	b->used = at + n;
	return b->data + at;
}

void *base_pool_alloc(struct base_pool *p, size_t n)
{
	void *out = take(p, n ? n : 1, ALIGN);

	memset(out, 0, n);
	return out;
}

char *base_pool_strndup(struct base_pool *p, const char *s, size_t n)
{
	char *out = (char *)take(p, n + 1, 1);

	if (n)
		memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

char *base_pool_strdup(struct base_pool *p, const char *s)
{
	return s ? base_pool_strndup(p, s, strlen(s)) : NULL;
}

size_t base_pool_footprint(const struct base_pool *p)
{
	return p ? p->footprint : 0;
}
