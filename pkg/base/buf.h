/*
 * buf.h - a growable byte buffer with a size cap (git's strbuf, plus a limit).
 *
 * Every buffer fed from the network or a file has a named cap: appending past
 * it fails with BASE_ETOOBIG and leaves the buffer as it was, so a hostile
 * peer cannot make us allocate without bound. The data is always
 * NUL-terminated (data[len] == '\0'), so text can be used as a C string; it may
 * also hold binary bytes.
 *
 *   struct base_buf b = BASE_BUF_INIT(1 << 20);
 *   if (base_buf_add(&b, chunk, n) < 0) ...too big...
 *   base_buf_release(&b);
 *
 * Give the data back with base_buf_release(), or take it with
 * base_buf_detach() (then free() it): a large buffer's storage is a mapping,
 * so never free(b->data) yourself.
 *
 * Not thread-safe: one owner at a time.
 */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "pkg/base/alloc.h"

struct base_buf {
	char *data;   /* never NULL after init; "" when empty */
	size_t len;   /* bytes used, not counting the terminating NUL */
	size_t alloc; /* bytes allocated, 0 while data points at the shared "" */
	size_t max;   /* the cap on len; 0 means no cap (for our own output only) */
};

/* From this size on a buffer's storage is a mapping of its own (see buf.c). */
#define BASE_BUF_MAP_MIN BASE_MAP_MIN

extern char base_buf_empty[];
#define BASE_BUF_INIT(cap)                                                                         \
	{                                                                                          \
		base_buf_empty, 0, 0, (cap)                                                        \
	}

/* Initializes b as empty with the cap max (0 = uncapped). */
void base_buf_init(struct base_buf *b, size_t max);
/* Frees the data and leaves b empty and reusable with the same cap. NULL is fine. */
void base_buf_release(struct base_buf *b);
/* Empties b, keeping its allocation. */
void base_buf_reset(struct base_buf *b);
/* Takes the data out of b (caller frees it); b is left empty. *len may be NULL. */
char *base_buf_detach(struct base_buf *b, size_t *len);

/* Appends n bytes. 0, or BASE_ETOOBIG (b unchanged) past the cap. */
int base_buf_add(struct base_buf *b, const void *data, size_t n);
int base_buf_adds(struct base_buf *b, const char *s);
int base_buf_addch(struct base_buf *b, char c);
int base_buf_addf(struct base_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int base_buf_vaddf(struct base_buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes (n <= len), shifting the rest down. */
void base_buf_consume(struct base_buf *b, size_t n);

#endif
