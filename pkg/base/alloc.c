/*
 * Allocation wrappers. Each checks the libc result and aborts with a message
 * on failure; callers never test for NULL.
 */
#include "pkg/base/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

_Noreturn void base_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static _Noreturn void oom(size_t size)
{
	fprintf(stderr, "fatal: out of memory allocating %zu bytes\n", size);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom(size);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom(nmemb * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		oom(size);
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		fprintf(stderr, "fatal: size overflow allocating %zu items of %zu bytes\n", n,
			size);
		abort();
	}
	return xrealloc(p, n * size);
}

void *base_alloc_grow(void *p, size_t nr, size_t *alloc, size_t size)
{
	size_t a = *alloc, grown = nr;

	/* (a + 16) * 3 / 2 unless it would overflow, never less than nr. */
	if (a < SIZE_MAX / 2 - 16 && a + 16 + (a + 16) / 2 > nr)
		grown = a + 16 + (a + 16) / 2;
	/* A growth step past what size_t can address falls back to exactly nr. */
	if (size && grown > SIZE_MAX / size)
		grown = nr;
	p = xreallocarray(p, grown, size);
	*alloc = grown;
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		oom(strlen(s) + 1);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		oom(n + 1);
	return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p;

	if (vasprintf(&p, fmt, ap) < 0)
		oom(0);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void xsetf(char **slot, const char *fmt, ...)
{
	va_list ap;

	free(*slot);
	va_start(ap, fmt);
	*slot = xvasprintf(fmt, ap);
	va_end(ap);
}

void base_memzero(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
}

void base_free_secret(char *s)
{
	if (!s)
		return;
	base_memzero(s, strlen(s));
	free(s);
}

void *xmap(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		BUG("cannot map %zu bytes", size);
	return p;
}

void *xremap(void *p, size_t old_size, size_t new_size)
{
	p = mremap(p, old_size, new_size, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		BUG("cannot remap %zu bytes to %zu", old_size, new_size);
	return p;
}

void xunmap(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}
