/*
 * The check registry. Each probe's checks are a singly linked list kept in
 * name order, so a response lists them deterministically without sorting per
 * request. One mutex guards both lists; checks are evaluated while it is held
 * (they are required to be quick), which keeps registration and evaluation
 * trivially race-free and lets the lists be plain pointers.
 */
#include "pkg/server/health.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

#define CHECK_NAME_MAX 63
#define CHECK_REASON_MAX 512

struct check {
	struct check *next;
	char *name;
	server_check_fn fn;
	void *arg;
};

struct server_health {
	pthread_mutex_t lock;
	struct check *checks[2]; /* indexed by enum server_probe, sorted by name */
};

struct server_health *server_health_new(void)
{
	struct server_health *h = xcalloc(1, sizeof(*h));

	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void server_health_free(struct server_health *h)
{
	if (!h)
		return;
	for (size_t p = 0; p < ARRAY_SIZE(h->checks); p++) {
		struct check *c = h->checks[p], *next;

		for (; c; c = next) {
			next = c->next;
			free(c->name);
			free(c);
		}
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int valid_name(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (; name[n]; n++) {
		char ch = name[n];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';

		if (!ok || n >= CHECK_NAME_MAX)
			return 0;
	}
	return n > 0;
}

int server_health_add(struct server_health *h, enum server_probe probe, const char *name,
		      server_check_fn fn, void *arg)
{
	struct check **pos, *c;
	int ret = 0;

	BUG_ON(probe != SERVER_HEALTHZ && probe != SERVER_READYZ);
	BUG_ON(!fn);
	if (!valid_name(name))
		return BASE_EINVAL;

	pthread_mutex_lock(&h->lock);
	for (pos = &h->checks[probe]; *pos; pos = &(*pos)->next) {
		int cmp = strcmp((*pos)->name, name);

		if (cmp == 0) {
			ret = BASE_EEXIST;
			goto out;
		}
		if (cmp > 0)
			break;
	}
	c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(name);
	c->fn = fn;
	c->arg = arg;
	c->next = *pos;
	*pos = c;
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

int server_check_flag(void *arg, struct base_buf *reason)
{
	if (atomic_load((atomic_int *)arg))
		return 0;
	base_buf_adds(reason, "not ready yet");
	return BASE_EINVAL;
}

static int is_excluded(const struct server_probe_query *q, const char *name, unsigned char *used)
{
	int hit = 0;

	for (size_t i = 0; i < q->nexcludes; i++) {
		if (!strcmp(q->excludes[i], name)) {
			used[i] = 1;
			hit = 1;
		}
	}
	return hit;
}

int server_health_eval(struct server_health *h, enum server_probe probe,
		       const struct server_probe_query *q, struct base_buf *out)
{
	static const struct server_probe_query none;
	struct base_buf lines = BASE_BUF_INIT(0);
	struct base_buf reason = BASE_BUF_INIT(CHECK_REASON_MAX);
	unsigned char *used;
	int failed = 0, unknown = 0;

	BUG_ON(probe != SERVER_HEALTHZ && probe != SERVER_READYZ);
	if (!q)
		q = &none;
	used = xcalloc(q->nexcludes + 1, 1);

	pthread_mutex_lock(&h->lock);
	if (!h->checks[probe])
		base_buf_adds(&lines, "[+]ping ok\n");
	for (struct check *c = h->checks[probe]; c; c = c->next) {
		if (is_excluded(q, c->name, used)) {
			base_buf_addf(&lines, "[+]%s excluded: ok\n", c->name);
			continue;
		}
		base_buf_reset(&reason);
		if (c->fn(c->arg, &reason) == 0) {
			base_buf_addf(&lines, "[+]%s ok\n", c->name);
			continue;
		}
		/* The endpoint is unauthenticated: the reason stays at /<probe>/<name>. */
		base_buf_addf(&lines, "[-]%s failed: reason withheld\n", c->name);
		failed = 1;
	}
	pthread_mutex_unlock(&h->lock);

	for (size_t i = 0; i < q->nexcludes; i++)
		unknown |= !used[i];

	if (!failed && !q->verbose) {
		base_buf_adds(out, "ok");
		goto out;
	}
	base_buf_add(out, lines.data, lines.len);
	if (unknown) {
		base_buf_adds(out, "warn: some health checks cannot be excluded: no matches for");
		for (size_t i = 0; i < q->nexcludes; i++)
			if (!used[i])
				base_buf_addf(out, " \"%s\"", q->excludes[i]);
		base_buf_addch(out, '\n');
	}
	base_buf_adds(out, failed ? "healthz check failed\n" : "healthz check passed\n");
out:
	free(used);
	base_buf_release(&reason);
	base_buf_release(&lines);
	return failed ? 500 : 200;
}

int server_health_eval_one(struct server_health *h, enum server_probe probe, const char *name,
			   struct base_buf *out)
{
	struct base_buf reason = BASE_BUF_INIT(CHECK_REASON_MAX);
	int status = 404, err = 0;

	BUG_ON(probe != SERVER_HEALTHZ && probe != SERVER_READYZ);
	pthread_mutex_lock(&h->lock);
	for (struct check *c = h->checks[probe]; c; c = c->next) {
		if (!strcmp(c->name, name)) {
			err = c->fn(c->arg, &reason);
			status = err ? 500 : 200;
			break;
		}
	}
	/* The implicit ping of an empty set is addressable too, as in controller-runtime. */
	if (status == 404 && !h->checks[probe] && !strcmp(name, "ping"))
		status = 200;
	pthread_mutex_unlock(&h->lock);

	if (status == 200)
		base_buf_adds(out, "ok");
	else if (status == 500)
		base_buf_addf(out, "internal server error: %s\n",
			      reason.len ? reason.data : base_strerror(err));
	else
		base_buf_adds(out, "404 page not found\n");
	base_buf_release(&reason);
	return status;
}
