/*
 * workqueue.h - client-go's rate-limited, delaying work queue of string keys.
 *
 * Semantics (client-go util/workqueue):
 *  - a key is "dirty" from add until a worker gets it, and "processing" from
 *    get until done. Adding a dirty key is a no-op (bursts collapse into one
 *    reconcile); adding a processing key marks it dirty and it is queued again
 *    only when the worker calls done, so one key is never handled by two
 *    workers at once;
 *  - add_after(key, d): the key is added after d ms (the earliest pending
 *    time wins when added again);
 *  - add_rate_limited: add_after by the larger of a per-key exponential delay
 *    (base_delay_ms * 2^failures, capped at max_delay_ms; failures counts
 *    these calls since the last forget) and an overall token bucket (qps,
 *    burst); forget resets a key's failures;
 *  - shutdown: adds are ignored, delayed keys dropped, get hands out what is
 *    still queued and then returns BASE_ECANCELED; shutdown_drain also waits
 *    until every queued key has been handed out and every key handed out is
 *    done (so workers must keep running while it waits).
 *
 * Defaults are controller-runtime's: 5 ms .. 1000 s per key, 10 qps burst 100.
 * Metrics (label name): workqueue_depth, workqueue_adds_total,
 * workqueue_queue_duration_seconds, workqueue_work_duration_seconds,
 * workqueue_retries_total.
 *
 * Thread-safety: every function is thread-safe; get blocks the caller.
 * Keys are copied in; a key returned by get belongs to the caller (free it
 * after done).
 */
#ifndef KUBE_WORKQUEUE_H
#define KUBE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

#define KUBE_WQ_BASE_DELAY_MS 5
#define KUBE_WQ_MAX_DELAY_MS 1000000
#define KUBE_WQ_QPS 10.0
#define KUBE_WQ_BURST 100

struct kube_workqueue_opts {
	const char *name;      /* metrics label; required */
	int64_t base_delay_ms; /* 0 = KUBE_WQ_BASE_DELAY_MS */
	int64_t max_delay_ms;  /* 0 = KUBE_WQ_MAX_DELAY_MS */
	double qps;	       /* 0 = KUBE_WQ_QPS */
	int burst;	       /* 0 = KUBE_WQ_BURST */
};

struct kube_workqueue;

struct kube_workqueue *kube_workqueue_new(const struct kube_workqueue_opts *opts);
/* Frees the queue. Call after shutdown, when no thread uses it. NULL is fine. */
void kube_workqueue_free(struct kube_workqueue *q);

void kube_workqueue_add(struct kube_workqueue *q, const char *key);
void kube_workqueue_add_after(struct kube_workqueue *q, const char *key, int64_t delay_ms);
void kube_workqueue_add_rate_limited(struct kube_workqueue *q, const char *key);
/* The delay add_rate_limited would use now, and counts it as a failure (for tests/logs). */
int64_t kube_workqueue_when(struct kube_workqueue *q, const char *key);
void kube_workqueue_forget(struct kube_workqueue *q, const char *key);
int kube_workqueue_num_requeues(struct kube_workqueue *q, const char *key);

/*
 * Waits for a key: 0 with *key set (caller frees, after calling done),
 * BASE_ECANCELED after shutdown once nothing is left, BASE_ETIMEDOUT after
 * timeout_ms (< 0 waits forever).
 */
int kube_workqueue_get(struct kube_workqueue *q, int64_t timeout_ms, char **key);
/* Marks key finished; re-queues it if it was added while processing. */
void kube_workqueue_done(struct kube_workqueue *q, const char *key);

void kube_workqueue_shutdown(struct kube_workqueue *q);
/* Shuts down and waits up to timeout_ms until nothing is queued or processing. 0 or BASE_ETIMEDOUT. */
int kube_workqueue_shutdown_drain(struct kube_workqueue *q, int64_t timeout_ms);
int kube_workqueue_shutting_down(struct kube_workqueue *q);

/* Keys queued (ready), not counting delayed or processing ones. */
size_t kube_workqueue_len(struct kube_workqueue *q);

#endif
