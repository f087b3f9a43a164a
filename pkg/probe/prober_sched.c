/*
 * The prober thread's scheduling: the connection slots per host and their
 * queue, the due heap of idle targets and the active list of probes in
 * flight, taking over new and changed targets, and the loop itself (run).
 */
#include "pkg/probe/prober_int.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/probe/heartbeat.h"

/*
 * Connection slots. New connections to one host:port are limited to
 * max_connects_per_host at a time, granted in the order probes asked for
 * them. Without the limit, a thousand targets on a few servers connect all
 * at once, the servers fork and authenticate more sessions than they can
 * finish before the deadlines, every attempt times out, is retried the
 * next period, and none ever completes. Waiting for a slot counts against
 * the probe's deadline, so a host that hangs its slots still has each of
 * its probes fail on time.
 */
static struct slot *slot_find(struct probe_prober *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->nslots; i++)
		if (!strcmp(p->slots[i].key, key))
			return &p->slots[i];
	return NULL;
}

int slot_acquire(struct probe_prober *p, struct target *t)
{
	char *key = xasprintf("%s:%d", t->c.host, t->c.port);
	struct slot *s = slot_find(p, key);

	if (s && s->inflight >= p->max_per_host) {
		free(key);
		return 0;
	}
	if (!s) {
		ALLOC_GROW(p->slots, p->nslots + 1, p->slots_alloc);
		s = &p->slots[p->nslots++];
		s->key = xstrdup(key);
		s->inflight = 0;
	}
	s->inflight++;
	t->slot_key = key;
	return 1;
}

void slot_release(struct probe_prober *p, struct target *t)
{
	struct slot *s;

	if (!t->slot_key)
		return;
	s = slot_find(p, t->slot_key);
	BUG_ON(!s || s->inflight <= 0);
	if (--s->inflight == 0) {
		free(s->key);
		*s = p->slots[--p->nslots];
	}
	free(t->slot_key);
	t->slot_key = NULL;
}

void fifo_push(struct probe_prober *p, struct target *t)
{
	if (t->in_fifo)
		return;
	ALLOC_GROW(p->fifo, p->nfifo + 1, p->fifo_alloc);
	p->fifo[p->nfifo++] = t;
	t->in_fifo = 1;
}

static void fifo_forget(struct probe_prober *p, struct target *t)
{
	size_t i, j = 0;

	if (!t->in_fifo)
		return;
	for (i = 0; i < p->nfifo; i++)
		if (p->fifo[i] != t)
			p->fifo[j++] = p->fifo[i];
	p->nfifo = j;
	t->in_fifo = 0;
}

/* ---- the due heap and the active list (prober thread only) ---------- */

static void heap_set(struct probe_prober *p, size_t i, struct target *t)
{
	p->heap[i] = t;
	t->heap_pos = i + 1;
}

static void heap_up(struct probe_prober *p, size_t i)
{
	struct target *t = p->heap[i];

	while (i > 0 && p->heap[(i - 1) / 2]->next_due_ms > t->next_due_ms) {
		heap_set(p, i, p->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(p, i, t);
}

static void heap_down(struct probe_prober *p, size_t i)
{
	struct target *t = p->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= p->nheap)
			break;
		if (c + 1 < p->nheap && p->heap[c + 1]->next_due_ms < p->heap[c]->next_due_ms)
			c++;
		if (p->heap[c]->next_due_ms >= t->next_due_ms)
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, t);
}

static void heap_push(struct probe_prober *p, struct target *t)
{
	ALLOC_GROW(p->heap, p->nheap + 1, p->heap_alloc);
	p->heap[p->nheap++] = t;
	heap_up(p, p->nheap - 1);
}

static void heap_remove(struct probe_prober *p, struct target *t)
{
	size_t i = t->heap_pos - 1;
	struct target *last = p->heap[--p->nheap];

	t->heap_pos = 0;
	if (last == t)
		return;
	heap_set(p, i, last);
	heap_up(p, i);
	heap_down(p, last->heap_pos - 1);
}

static void active_add(struct probe_prober *p, struct target *t)
{
	ALLOC_GROW(p->active, p->nactive + 1, p->active_alloc);
	p->active[p->nactive++] = t;
	t->active_pos = p->nactive;
}

static void active_remove(struct probe_prober *p, struct target *t)
{
	size_t i = t->active_pos - 1;

	p->active[i] = p->active[--p->nactive];
	p->active[i]->active_pos = i + 1;
	t->active_pos = 0;
}

/* Files t where its phase says: idle in the heap, else in the active list. */
static void file_target(struct probe_prober *p, struct target *t)
{
	if (t->phase == PH_IDLE) {
		if (t->active_pos)
			active_remove(p, t);
		if (!t->heap_pos)
			heap_push(p, t);
	} else {
		if (t->heap_pos)
			heap_remove(p, t);
		if (!t->active_pos)
			active_add(p, t);
	}
}

static void unfile_target(struct probe_prober *p, struct target *t)
{
	if (t->heap_pos)
		heap_remove(p, t);
	if (t->active_pos)
		active_remove(p, t);
}

/* Removes the target's series, as labelled by its current configuration. */
static void remove_series(struct target *t)
{
	base_metric_remove(m_lag, TARGET_LABELS(t));
	base_metric_remove(m_healthy, TARGET_LABELS(t), role_name(t->c.kind));
	for (int e = PROBE_ERR_NONE; e <= PROBE_ERR_QUERY; e++)
		base_metric_remove(m_failures, TARGET_LABELS(t), role_name(t->c.kind),
				   probe_error_name(e));
}

static int labels_differ(const struct config *a, const struct config *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(a->labels); i++)
		if (strcmp(a->labels[i], b->labels[i]))
			return 1;
	return a->kind != b->kind;
}

void free_target(struct probe_prober *p, struct target *t)
{
	abort_probe(p, t);
	close_conn(t);
	fifo_forget(p, t);
	remove_series(t);
	config_release(&t->c);
	free(t->hb);
	if (t->pending) {
		config_release(t->pending);
		free(t->pending);
	}
	free(t->name);
	free(t);
}

/* Takes over a configuration from probe_prober_set. Prober thread, lock held. */
static void apply_pending(struct probe_prober *p, struct target *t, int64_t now)
{
	struct config *nc = t->pending;
	int relabel = labels_differ(&t->c, nc);

	t->pending = NULL;
	/* The writer target follows the writer to another region: its series move too. */
	if (relabel)
		remove_series(t);
	if (connection_differs(&t->c, nc)) {
		abort_probe(p, t);
		close_conn(t);
	}
	if (heartbeat_differs(&t->c, nc)) {
		free(t->hb);
		t->hb = NULL;
		t->pv.lag_ms = t->v.lag_ms = -1;
	}
	config_release(&t->c);
	t->c = *nc;
	free(nc);
	t->pv.kind = t->v.kind = t->c.kind;
	if (relabel && t->pv.probes > 0)
		base_metric_set(m_healthy, t->pv.health == PROBE_HEALTHY ? 1 : 0, TARGET_LABELS(t),
				role_name(t->c.kind));
	if (t->phase == PH_IDLE && t->next_due_ms > now + t->c.policy.period_ms) {
		t->next_due_ms = now + t->c.policy.period_ms;
		if (t->heap_pos)
			heap_up(p, t->heap_pos - 1);
	}
	file_target(p, t);
}

/*
 * The start of a pass: takes over new targets and new configurations,
 * unlinks removed targets (freed after the lock is dropped), publishes the
 * counters. Only what changed is visited. Returns 1 when the prober is
 * stopping.
 */
static int sync_targets(struct probe_prober *p, int64_t now)
{
	size_t i, ndead = 0;
	int stopping;

	pthread_mutex_lock(&p->lock);
	stopping = p->stopping;
	ALLOC_GROW(p->targets, p->ntargets + p->nincoming, p->alloc);
	for (i = 0; i < p->nincoming; i++) {
		struct target *t = p->incoming[i];

		t->pos = p->ntargets;
		p->targets[p->ntargets++] = t;
		file_target(p, t);
	}
	p->nincoming = 0;
	for (i = 0; i < p->nchanged; i++) {
		struct target *t = p->changed[i];

		t->changed = 0;
		if (t->removed) {
			ALLOC_GROW(p->dead, ndead + 1, p->dead_alloc);
			p->dead[ndead++] = t;
			unfile_target(p, t);
			p->targets[t->pos] = p->targets[--p->ntargets];
			p->targets[t->pos]->pos = t->pos;
			continue;
		}
		if (t->pending)
			apply_pending(p, t, now);
	}
	p->nchanged = 0;
	p->stats = p->pstats;
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < ndead; i++)
		free_target(p, p->dead[i]);
	return stopping;
}

static void add_pollfd(struct probe_prober *p, size_t *n, int fd, short events, struct target *t)
{
	if (*n == p->pfd_alloc) {
		ALLOC_GROW(p->pfds, *n + 1, p->pfd_alloc);
		REALLOC_ARRAY(p->pfd_targets, p->pfd_alloc);
	}
	p->pfds[*n].fd = fd;
	p->pfds[*n].events = events;
	p->pfds[*n].revents = 0;
	p->pfd_targets[*n] = t;
	(*n)++;
}

static void deliver_notes(struct probe_prober *p)
{
	size_t i;

	if (p->opt.notify)
		for (i = 0; i < p->nnotes; i++)
			p->opt.notify(p->opt.notify_arg, &p->notes[i].v, p->notes[i].changes);
	p->nnotes = 0;
}

void *run(void *arg)
{
	struct probe_prober *p = arg;
	int64_t now, next, pass_start;
	uint64_t count;
	size_t i, j, n, k;
	int fd;

	for (;;) {
		now = base_now_mono_ms();
		if (sync_targets(p, now))
			break;
		n = 0;
		add_pollfd(p, &n, p->wake_fd, POLLIN, NULL);
		next = now + 60000;
		grant_slots(p);
		while (p->nheap && p->heap[0]->next_due_ms <= now) {
			struct target *t = p->heap[0];

			heap_remove(p, t);
			start_probe(p, t, now);
			file_target(p, t);
		}
		for (i = 0; i < p->nactive;) {
			struct target *t = p->active[i];

			if (t->phase == PH_RESOLVING)
				check_resolution(p, t);
			if (t->phase != PH_IDLE && now >= t->deadline_ms)
				expire(p, t);
			if (t->phase == PH_IDLE) {
				file_target(p, t); /* out of the list: i now holds another */
				continue;
			}
			i++;
			if (t->deadline_ms < next)
				next = t->deadline_ms;
			fd = t->phase == PH_RESOLVING || t->phase == PH_QUEUED ? -1
									       : PQsocket(t->conn);
			if (fd >= 0)
				add_pollfd(p, &n, fd, t->events, t);
		}
		if (p->nheap && p->heap[0]->next_due_ms < next)
			next = p->heap[0]->next_due_ms;
		deliver_notes(p);
		now = base_now_mono_ms();
		if (poll(p->pfds, n, next > now ? (int)(next - now) : 0) < 0 && errno != EINTR)
			base_sleep_ms(1); /* EINVAL/ENOMEM: do not spin */
		p->pstats.wakeups++;
		if (p->pfds[0].revents & POLLIN) {
			if (read(p->wake_fd, &count, sizeof(count)) < 0)
				count = 0; /* EAGAIN: nothing was pending after all */
		}
		/*
		 * Advance the ready sockets, starting at a rotating position, for
		 * at most PASS_BUDGET_MS: a connection storm (SCRAM's key
		 * derivation costs milliseconds per connect) must not delay the
		 * deadline checks at the top of the loop. Sockets left over are
		 * still ready at the next poll.
		 */
		pass_start = base_now_mono_ms();
		k = n > 1 ? p->rotor++ % (n - 1) : 0;
		for (j = 0; j + 1 < n; j++) {
			struct target *t;

			i = 1 + (k + j) % (n - 1);
			t = p->pfd_targets[i];
			if (!p->pfds[i].revents || !t->conn || PQsocket(t->conn) != p->pfds[i].fd ||
			    (t->phase != PH_CONNECTING && t->phase != PH_SETUP &&
			     t->phase != PH_QUERY && t->phase != PH_UPSTREAM))
				continue;
			advance(p, t, p->pfds[i].revents);
			if (base_now_mono_ms() - pass_start >= PASS_BUDGET_MS)
				break;
		}
	}
	deliver_notes(p);
	return NULL;
}
