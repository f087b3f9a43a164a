/*
 * events.h - recording events.k8s.io/v1 Events, best-effort and non-blocking.
 *
 * kube_recorder_event() never blocks a reconcile: it applies a per-object
 * spam filter (a token bucket: KUBE_EVENTS_SPAM_BURST events, then one per
 * KUBE_EVENTS_SPAM_REFILL_MS), then puts the event on a bounded queue
 * (KUBE_EVENTS_QUEUE) and returns; a full queue drops the event and counts it.
 * A background thread drains the queue:
 *  - an event isomorphic to one sent within KUBE_EVENTS_SERIES_WINDOW_MS (same
 *    regarding object, type, reason, action and note) is not sent again: the
 *    existing Event gets series.count incremented and series.lastObservedTime
 *    set (a merge patch), as client-go's events recorder does;
 *  - otherwise a new Event "<name>.<hex nanoseconds>" is created in the
 *    regarding object's namespace ("default" for cluster-scoped objects);
 *  - failed writes are retried up to KUBE_EVENTS_TRIES times with backoff.
 * The aggregation cache keeps KUBE_EVENTS_CACHE entries (least recently seen
 * evicted).
 *
 * Thread-safety: kube_recorder_event and kube_recorder_stats from any thread.
 */
#ifndef KUBE_EVENTS_H
#define KUBE_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "pkg/kube/rest.h"

#define KUBE_EVENTS_QUEUE 1000
#define KUBE_EVENTS_CACHE 4096
#define KUBE_EVENTS_SERIES_WINDOW_MS (6 * 60 * 1000)
#define KUBE_EVENTS_SPAM_BURST 25
#define KUBE_EVENTS_SPAM_REFILL_MS (300 * 1000)
#define KUBE_EVENTS_TRIES 12
#define KUBE_EVENTS_NOTE_MAX 1024 /* the API's limit on note */

struct kube_recorder_opts {
	const char *reporting_controller; /* e.g. "globaldb.io/controller"; required */
	const char *reporting_instance;	  /* e.g. the pod name; required */
	int queue_size;			  /* 0 = KUBE_EVENTS_QUEUE */
	int spam_burst;			  /* 0 = KUBE_EVENTS_SPAM_BURST */
	int64_t spam_refill_ms;		  /* 0 = KUBE_EVENTS_SPAM_REFILL_MS */
	int64_t series_window_ms;	  /* 0 = KUBE_EVENTS_SERIES_WINDOW_MS */
};

struct kube_recorder_stats {
	unsigned long created;	    /* Events created */
	unsigned long series;	    /* series updates (isomorphic repeats) */
	unsigned long dropped_full; /* dropped: queue full */
	unsigned long dropped_spam; /* dropped: spam filter */
	unsigned long failed;	    /* given up after all tries */
};

struct kube_recorder;

/* Starts the background thread. client is borrowed and must outlive the recorder. */
int kube_recorder_new(struct kube_client *client, const struct kube_recorder_opts *opts,
		      struct kube_recorder **out);
/* Stops the thread (pending events are dropped; an in-flight write is waited for, at most the
 * client timeout) and frees. NULL is fine. */
void kube_recorder_free(struct kube_recorder *r);

/*
 * Records an event about obj (borrowed; its apiVersion, kind, metadata
 * name/namespace/uid are copied). type is "Normal" or "Warning"; reason
 * (CamelCase) and action are required; note is printf-formatted and cut to
 * KUBE_EVENTS_NOTE_MAX bytes. Returns 0 when queued, BASE_ETHROTTLED when
 * the spam filter or a full queue dropped it, BASE_EINVAL for bad arguments.
 * Never blocks on the network.
 */
int kube_recorder_event(struct kube_recorder *r, json_t *obj, const char *type, const char *reason,
			const char *action, const char *note_fmt, ...)
	__attribute__((format(printf, 6, 7)));

void kube_recorder_stats(struct kube_recorder *r, struct kube_recorder_stats *out);

/* Waits up to timeout_ms until everything queued has been handled. 0 or BASE_ETIMEDOUT. */
int kube_recorder_flush(struct kube_recorder *r, int64_t timeout_ms);

#endif
