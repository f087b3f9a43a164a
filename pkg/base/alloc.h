/*
 * alloc.h - allocation that never returns NULL, and invariant checks.
 *
 * A restartable daemon gains nothing from half-handled out-of-memory paths, so
 * these wrappers abort on failure (git's xmalloc family) and every error path
 * elsewhere stays short. BUG() marks a broken invariant; it stays on in
 * release builds.
 */
#ifndef BASE_ALLOC_H
#define BASE_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Report a broken invariant with its location and abort. */
#define BUG(...) base_bug(__FILE__, __LINE__, __VA_ARGS__)
#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (cond)                                                                          \
			BUG("BUG_ON(%s)", #cond);                                                  \
	} while (0)

_Noreturn void base_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* malloc/calloc/realloc/strdup that abort on failure; free with free(). */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* Copies at most n bytes of s and terminates the copy. */
char *xstrndup(const char *s, size_t n);
/* A newly allocated formatted string. The caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);
/* Frees *slot and puts a newly allocated formatted string in its place. */
void xsetf(char **slot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Growing arrays (git's ALLOC_GROW). ALLOC_GROW(x, nr, alloc) makes the
 * array x, with room for alloc items (a size_t lvalue), hold at least nr:
 * when nr > alloc it reallocates x to the larger of nr and (alloc + 16) * 3 / 2
 * items and stores the new room in alloc; otherwise it does nothing. Appends
 * through it cost amortised O(1) each. x may start NULL with alloc 0.
 *
 *   ALLOC_GROW(q->items, q->n + 1, q->alloc);
 *   q->items[q->n++] = item;
 *
 * REALLOC_ARRAY(x, n) reallocates x to exactly n items: for a second array
 * kept in step with one ALLOC_GROW just grew. Both abort, like the rest of
 * this family, when the byte size would overflow size_t.
 */
#define ALLOC_GROW(x, nr, alloc)                                                                   \
	do {                                                                                       \
		if ((nr) > (alloc))                                                                \
			(x) = base_alloc_grow((x), (nr), &(alloc), sizeof(*(x)));                  \
	} while (0)
#define REALLOC_ARRAY(x, n) ((x) = xreallocarray((x), (n), sizeof(*(x))))

/* ALLOC_GROW's function: p has room for *alloc items of size bytes; returns it grown. */
void *base_alloc_grow(void *p, size_t nr, size_t *alloc, size_t size);
/* realloc to n items of size bytes; aborts when n * size overflows. */
void *xreallocarray(void *p, size_t n, size_t size);

/*
 * A private anonymous mapping of size bytes, zeroed: for a large block that
 * should go back to the kernel when freed instead of into a heap hole. Abort
 * on failure like the rest; free with xunmap (with the same size).
 *
 * BASE_MAP_MIN is where buffers, pools and XML documents switch to mappings
 * (the controller's mmap threshold too, cmd/globaldb-controller/main.c): a
 * large malloc is carved out of any free heap hole that fits before glibc's
 * threshold applies, bringing trimmed pages back into the RSS.
 */
#define BASE_MAP_MIN (64u << 10)
void *xmap(size_t size);
void *xremap(void *p, size_t old_size, size_t new_size);
void xunmap(void *p, size_t size);

/* Overwrite secret material before freeing it; the compiler may not elide it. */
void base_memzero(void *p, size_t n);
/* Zero the string's bytes and free it. NULL is fine. */
void base_free_secret(char *s);

#endif
