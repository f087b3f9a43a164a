/*
 * The growable buffer. Growth doubles the allocation (at least +64 bytes), but
 * never lets len exceed max; the terminating NUL is always kept in place.
 *
 * From BASE_BUF_MAP_MIN bytes on, the storage is a private mapping of its own
 * (grown with mremap) instead of heap memory. A large buffer is usually a
 * response body that lives for one request: from the heap it would be carved
 * out of whatever free hole fits, bringing pages that a trim had given back
 * into the RSS until the next trim; a mapping is returned when released.
 */
#include "pkg/base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

char base_buf_empty[1];

void base_buf_init(struct base_buf *b, size_t max)
{
	b->data = base_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

static int mapped(const struct base_buf *b)
{
	return b->alloc >= BASE_BUF_MAP_MIN;
}

static void release_data(struct base_buf *b)
{
	if (mapped(b))
		xunmap(b->data, b->alloc);
	else if (b->alloc)
		free(b->data);
}

void base_buf_release(struct base_buf *b)
{
	if (!b)
		return;
	release_data(b);
	base_buf_init(b, b->max);
}

void base_buf_reset(struct base_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->data[0] = '\0';
}

char *base_buf_detach(struct base_buf *b, size_t *len)
{
	char *data = b->alloc ? b->data : xstrdup("");

	if (mapped(b)) { /* the caller frees with free() */
		data = xmalloc(b->len + 1);
		memcpy(data, b->data, b->len + 1);
		xunmap(b->data, b->alloc);
	}

	if (len)
		*len = b->len;
	base_buf_init(b, b->max);
	return data;
}

/* Storage of at least want bytes (>= BASE_BUF_MAP_MIN) in a mapping. */
static int grow_mapped(struct base_buf *b, size_t want)
{
	size_t page = 4096;
	char *p;

	want = (want + page - 1) & ~(page - 1);
	if (mapped(b)) {
		p = xremap(b->data, b->alloc, want);
	} else {
		p = xmap(want);
		memcpy(p, b->data, b->len + 1);
		if (b->alloc)
			free(b->data);
	}
	b->data = p;
	b->alloc = want;
	return 0;
}

static int grow(struct base_buf *b, size_t extra)
{
	size_t want;

	if (extra > SIZE_MAX / 2 - b->len)
		return BASE_ETOOBIG;
	if (b->max && b->len + extra > b->max)
		return BASE_ETOOBIG;
	want = b->len + extra + 1;
	if (want <= b->alloc)
		return 0;
	if (want < b->alloc * 2)
		want = b->alloc * 2;
	if (want < 64)
		want = 64;
	if (want >= BASE_BUF_MAP_MIN)
		return grow_mapped(b, want);
	if (b->alloc) {
		b->data = xrealloc(b->data, want);
	} else {
		b->data = xmalloc(want);
		b->data[0] = '\0';
	}
	b->alloc = want;
	return 0;
}

int base_buf_add(struct base_buf *b, const void *data, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = grow(b, n);
	if (rc < 0)
		return rc;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int base_buf_adds(struct base_buf *b, const char *s)
{
	return base_buf_add(b, s, strlen(s));
}

int base_buf_addch(struct base_buf *b, char c)
{
	return base_buf_add(b, &c, 1);
}

int base_buf_vaddf(struct base_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;
	int rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return BASE_EINVAL;
	rc = grow(b, (size_t)n);
	if (rc < 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int base_buf_addf(struct base_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = base_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void base_buf_consume(struct base_buf *b, size_t n)
{
	BUG_ON(n > b->len);
	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}
