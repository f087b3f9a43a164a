/*
 * One mutex and one condition variable (on the monotonic clock) protect all
 * state. The ready queue is a FIFO of owned strings; the sets are jansson
 * objects used as hash maps: dirty (key -> time added, ns), processing (key
 * -> time handed out, ns), waiting (key -> ready time, ms), failures (key ->
 * count). The waiting keys are also in a min-heap by ready time (client-go's
 * delaying queue keeps one too), so that finding the due ones costs
 * O(log n), not a scan of every key a steady requeue left waiting; an entry
 * whose time no longer matches `waiting` (an earlier add_after replaced it)
 * is dropped when it surfaces. There is no timer thread: get waits until the
 * earliest waiting key is due and promotes due keys itself, and add_after
 * wakes the waiters when it brings that time forward.
 */
#include "pkg/kube/workqueue.h"

#include <jansson.h>
#include <pthread.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"

struct kube_workqueue {
	char *name;
	int64_t base_delay_ms, max_delay_ms;
	double qps;
	int burst;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	char **queue;
	size_t head, len, cap; /* queue[head .. head+len) */
	json_t *dirty, *processing, *waiting, *failures;
	struct delayed {
		int64_t when;
		char *key;
	} * heap; /* min-heap on when; may hold stale entries (see above) */
	size_t heap_len, heap_cap;
	double tokens;
	int64_t tokens_ms;
	int shutting_down;
};

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static struct base_metric *m_depth, *m_adds, *m_queue_dur, *m_work_dur, *m_retries;

static void metrics_init(void)
{
	/* controller-runtime: prometheus.ExponentialBuckets(10e-9, 10, 12). */
	static const double b[] = {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3,
				   1e-2, 1e-1, 1,    10,   100,	 1000};

	m_depth = base_metric_gauge("workqueue_depth", "Current depth of workqueue", "name");
	m_adds = base_metric_counter("workqueue_adds_total",
				     "Total number of adds handled by workqueue", "name");
	m_queue_dur = base_metric_histogram("workqueue_queue_duration_seconds",
					    "How long in seconds an item stays in workqueue "
					    "before being requested",
					    "name", b, ARRAY_SIZE(b));
	m_work_dur = base_metric_histogram("workqueue_work_duration_seconds",
					   "How long in seconds processing an item from "
					   "workqueue takes",
					   "name", b, ARRAY_SIZE(b));
	m_retries = base_metric_counter("workqueue_retries_total",
					"Total number of retries handled by workqueue", "name");
}

struct kube_workqueue *kube_workqueue_new(const struct kube_workqueue_opts *opts)
{
	struct kube_workqueue *q = xcalloc(1, sizeof(*q));

	pthread_once(&metrics_once, metrics_init);
	q->name = xstrdup(opts->name);
	q->base_delay_ms = opts->base_delay_ms > 0 ? opts->base_delay_ms : KUBE_WQ_BASE_DELAY_MS;
	q->max_delay_ms = opts->max_delay_ms > 0 ? opts->max_delay_ms : KUBE_WQ_MAX_DELAY_MS;
	q->qps = opts->qps > 0 ? opts->qps : KUBE_WQ_QPS;
	q->burst = opts->burst > 0 ? opts->burst : KUBE_WQ_BURST;
	q->tokens = q->burst;
	q->tokens_ms = base_now_mono_ms();
	pthread_mutex_init(&q->mu, NULL);
	base_cond_init_monotonic(&q->cond);
	q->dirty = json_object();
	q->processing = json_object();
	q->waiting = json_object();
	q->failures = json_object();
	base_metric_set(m_depth, 0, q->name);
	return q;
}

void kube_workqueue_free(struct kube_workqueue *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->len; i++)
		free(q->queue[q->head + i]);
	free(q->queue);
	json_decref(q->dirty);
	json_decref(q->processing);
	json_decref(q->waiting);
	json_decref(q->failures);
	for (size_t i = 0; i < q->heap_len; i++)
		free(q->heap[i].key);
	free(q->heap);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q->name);
	free(q);
}

static void push(struct kube_workqueue *q, const char *key)
{
	if (q->head + q->len == q->cap) {
		if (q->head > 0) {
			memmove(q->queue, q->queue + q->head, q->len * sizeof(char *));
			q->head = 0;
		}
		ALLOC_GROW(q->queue, q->len + 1, q->cap);
	}
	q->queue[q->head + q->len++] = xstrdup(key);
	base_metric_set(m_depth, (double)q->len, q->name);
}

/* The add itself; caller holds mu. */
static void add_locked(struct kube_workqueue *q, const char *key)
{
	if (q->shutting_down || json_object_get(q->dirty, key))
		return;
	base_metric_add(m_adds, 1, q->name);
	json_object_set_new(q->dirty, key, json_integer(base_now_mono_ns()));
	if (json_object_get(q->processing, key))
		return;
	push(q, key);
	pthread_cond_signal(&q->cond);
}

void kube_workqueue_add(struct kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	add_locked(q, key);
	pthread_mutex_unlock(&q->mu);
}

static void heap_swap(struct kube_workqueue *q, size_t a, size_t b)
{
	struct delayed t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
}

static void heap_push(struct kube_workqueue *q, int64_t when, const char *key)
{
	size_t i;

	ALLOC_GROW(q->heap, q->heap_len + 1, q->heap_cap);
	i = q->heap_len++;
	q->heap[i].when = when;
	q->heap[i].key = xstrdup(key);
	while (i > 0 && q->heap[(i - 1) / 2].when > q->heap[i].when) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

/* Removes the earliest entry; the caller owns its key. */
static struct delayed heap_pop(struct kube_workqueue *q)
{
	struct delayed top = q->heap[0];
	size_t i = 0;

	q->heap[0] = q->heap[--q->heap_len];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->heap_len && q->heap[l].when < q->heap[m].when)
			m = l;
		if (r < q->heap_len && q->heap[r].when < q->heap[m].when)
			m = r;
		if (m == i)
			break;
		heap_swap(q, i, m);
		i = m;
	}
	return top;
}

/* Whether the heap entry is the key's current ready time (not replaced by an earlier one). */
static int heap_entry_live(struct kube_workqueue *q, const struct delayed *d)
{
	json_t *cur = json_object_get(q->waiting, d->key);

	return cur && json_integer_value(cur) == d->when;
}

void kube_workqueue_add_after(struct kube_workqueue *q, const char *key, int64_t delay_ms)
{
	int64_t when;
	json_t *cur;

	pthread_mutex_lock(&q->mu);
	if (q->shutting_down)
		goto out;
	if (delay_ms <= 0) {
		add_locked(q, key);
		goto out;
	}
	when = base_now_mono_ms() + delay_ms;
	cur = json_object_get(q->waiting, key);
	if (cur && json_integer_value(cur) <= when)
		goto out;
	json_object_set_new(q->waiting, key, json_integer(when));
	heap_push(q, when, key);
	/* Waiters recompute their deadline when this key is the earliest now. */
	if (q->heap[0].when == when)
		pthread_cond_broadcast(&q->cond);
out:
	pthread_mutex_unlock(&q->mu);
}

/* Caller holds mu. */
static int64_t when_locked(struct kube_workqueue *q, const char *key)
{
	json_t *f = json_object_get(q->failures, key);
	json_int_t n = f ? json_integer_value(f) : 0;
	int64_t item = q->base_delay_ms, now = base_now_mono_ms(), bucket = 0;

	json_object_set_new(q->failures, key, json_integer(n + 1));
	for (json_int_t i = 0; i < n && item < q->max_delay_ms; i++)
		item *= 2;
	if (item > q->max_delay_ms)
		item = q->max_delay_ms;
	/* Token bucket: refill, then reserve one token even if that means waiting. */
	q->tokens += (double)(now - q->tokens_ms) * q->qps / 1000.0;
	if (q->tokens > q->burst)
		q->tokens = q->burst;
	q->tokens_ms = now;
	q->tokens -= 1;
	if (q->tokens < 0)
		bucket = (int64_t)(-q->tokens * 1000.0 / q->qps + 0.5);
	return item > bucket ? item : bucket;
}

int64_t kube_workqueue_when(struct kube_workqueue *q, const char *key)
{
	int64_t d;

	pthread_mutex_lock(&q->mu);
	d = when_locked(q, key);
	pthread_mutex_unlock(&q->mu);
	return d;
}

void kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key)
{
	int64_t d;

	pthread_mutex_lock(&q->mu);
	if (q->shutting_down) {
		pthread_mutex_unlock(&q->mu);
		return;
	}
	d = when_locked(q, key);
	base_metric_add(m_retries, 1, q->name);
	pthread_mutex_unlock(&q->mu);
	kube_workqueue_add_after(q, key, d);
}

void kube_workqueue_forget(struct kube_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	json_object_del(q->failures, key);
	pthread_mutex_unlock(&q->mu);
}

int kube_workqueue_num_requeues(struct kube_workqueue *q, const char *key)
{
	int n;

	pthread_mutex_lock(&q->mu);
	n = (int)json_integer_value(json_object_get(q->failures, key));
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Moves due waiting keys to the queue; returns the earliest remaining due time or -1. */
static int64_t promote_locked(struct kube_workqueue *q)
{
	int64_t now = base_now_mono_ms();

	while (q->heap_len > 0) {
		struct delayed d;

		if (heap_entry_live(q, &q->heap[0]) && q->heap[0].when > now)
			return q->heap[0].when;
		d = heap_pop(q);
		if (heap_entry_live(q, &d)) {
			json_object_del(q->waiting, d.key);
			add_locked(q, d.key);
		}
		free(d.key);
	}
	return -1;
}

static void timed_wait(struct kube_workqueue *q, int64_t until_ms)
{
	base_cond_wait_ms(&q->cond, &q->mu, until_ms - base_now_mono_ms());
}

int kube_workqueue_get(struct kube_workqueue *q, int64_t timeout_ms, char **key)
{
	int64_t deadline = timeout_ms >= 0 ? base_now_mono_ms() + timeout_ms : -1;
	int rc = 0;
	json_t *added;

	*key = NULL;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		int64_t next = q->shutting_down ? -1 : promote_locked(q), until;

		if (q->len > 0)
			break;
		if (q->shutting_down) {
			rc = BASE_ECANCELED;
			goto out;
		}
		if (deadline >= 0 && base_now_mono_ms() >= deadline) {
			rc = BASE_ETIMEDOUT;
			goto out;
		}
		until = deadline;
		if (next >= 0 && (until < 0 || next < until))
			until = next;
		if (until < 0)
			pthread_cond_wait(&q->cond, &q->mu);
		else
			timed_wait(q, until);
	}
	*key = q->queue[q->head++];
	q->len--;
	if (q->len == 0)
		q->head = 0;
	base_metric_set(m_depth, (double)q->len, q->name);
	added = json_object_get(q->dirty, *key);
	if (added)
		base_metric_observe(m_queue_dur,
				    (double)(base_now_mono_ns() - json_integer_value(added)) / 1e9,
				    q->name);
	json_object_set_new(q->processing, *key, json_integer(base_now_mono_ns()));
	json_object_del(q->dirty, *key);
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void kube_workqueue_done(struct kube_workqueue *q, const char *key)
{
	json_t *started;

	pthread_mutex_lock(&q->mu);
	started = json_object_get(q->processing, key);
	if (started) {
		base_metric_observe(
			m_work_dur,
			(double)(base_now_mono_ns() - json_integer_value(started)) / 1e9, q->name);
		json_object_del(q->processing, key);
		if (json_object_get(q->dirty, key)) {
			push(q, key);
			pthread_cond_signal(&q->cond);
		}
		if (json_object_size(q->processing) == 0)
			pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
}

void kube_workqueue_shutdown(struct kube_workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutting_down = 1;
	json_object_clear(q->waiting);
	for (size_t i = 0; i < q->heap_len; i++)
		free(q->heap[i].key);
	q->heap_len = 0;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

int kube_workqueue_shutdown_drain(struct kube_workqueue *q, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms;
	int rc = 0;

	kube_workqueue_shutdown(q);
	pthread_mutex_lock(&q->mu);
	while (json_object_size(q->processing) > 0 || q->len > 0) {
		if (base_now_mono_ms() >= deadline) {
			rc = BASE_ETIMEDOUT;
			break;
		}
		timed_wait(q, deadline);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int kube_workqueue_shutting_down(struct kube_workqueue *q)
{
	int s;

	pthread_mutex_lock(&q->mu);
	s = q->shutting_down;
	pthread_mutex_unlock(&q->mu);
	return s;
}

size_t kube_workqueue_len(struct kube_workqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}
