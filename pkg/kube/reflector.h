/*
 * reflector.h - keeps a store in sync with the apiserver (list, then watch).
 *
 * client-go's Reflector on one thread:
 *  1. LIST (paginated, KUBE_DEFAULT_PAGE_SIZE per page, a consistent read)
 *     and replace the store atomically with the result (see
 *     kube_store_replace: handlers see exactly the differences);
 *  2. WATCH from the list's resourceVersion with allowWatchBookmarks and a
 *     random timeoutSeconds in [KUBE_WATCH_MIN_TIMEOUT_S, 2x]; apply each
 *     ADDED/MODIFIED/DELETED to the store, BOOKMARKs only advance the RV;
 *  3. a watch that ends normally is re-opened at once from the last RV; a 410
 *     (an ERROR event or HTTP status) means the RV is too old: relist; a
 *     transport failure or 429 re-watches from the same RV after a backoff
 *     (0.8 s doubling to 30 s, jittered, reset after 2 min of health; at least
 *     Retry-After); other errors relist after the backoff. A watch that ends
 *     in under a second without events counts as a failure.
 *
 * has_synced becomes true after the first successful list and stays true.
 *
 * Thread-safety: start/stop from the owning thread; has_synced, wait_synced
 * and stats from any thread. Handlers run on the reflector's thread.
 */
#ifndef KUBE_REFLECTOR_H
#define KUBE_REFLECTOR_H

#include "pkg/kube/rest.h"
#include "pkg/kube/store.h"

#define KUBE_WATCH_MIN_TIMEOUT_S 300
/* kubectl apply's (and Argo CD's client-side apply's) copy of the applied object. */
#define KUBE_LAST_APPLIED_ANNOTATION "kubectl.kubernetes.io/last-applied-configuration"
#define KUBE_REFLECTOR_BACKOFF_BASE_MS 800
#define KUBE_REFLECTOR_BACKOFF_CAP_MS 30000
#define KUBE_REFLECTOR_BACKOFF_RESET_MS 120000

struct kube_reflector_opts {
	const struct kube_resource *res; /* borrowed; must outlive the reflector */
	const char *ns;			 /* NULL/"" = all namespaces (copied) */
	const char *label_selector;	 /* copied; may be NULL */
	const char *field_selector;	 /* copied; may be NULL */
	long page_size;			 /* 0 = KUBE_DEFAULT_PAGE_SIZE */
	int min_watch_timeout_s;	 /* 0 = KUBE_WATCH_MIN_TIMEOUT_S (tests shorten it) */
	const char *name;		 /* for logs; copied; may be NULL */
	int strip_managed_fields;	 /* store objects without metadata.managedFields */
	/*
	 * Store objects without KUBE_LAST_APPLIED_ANNOTATION. An update (PUT) of
	 * such a copy would remove it on the server: only for objects written
	 * through a subresource or a patch.
	 */
	int strip_last_applied;
};

struct kube_reflector_stats {
	unsigned long lists;	/* successful lists (1 + relists) */
	unsigned long watches;	/* watches opened */
	unsigned long events;	/* watch events applied (bookmarks included) */
	unsigned long gone;	/* 410 answers that forced a relist */
	unsigned long failures; /* failed lists or watches (each followed by a backoff) */
	int last_error;		/* the most recent failure code, 0 if none */
};

struct kube_reflector;

/*
 * Starts the reflector's thread. client and store are borrowed and must
 * outlive it. Handlers are the store's (kube_store_add_handlers).
 */
int kube_reflector_start(struct kube_client *client, struct kube_store *store,
			 const struct kube_reflector_opts *opts, struct kube_reflector **out);

/* Stops the thread (interrupting a watch or a backoff within ~1 s), joins, frees. NULL is fine. */
void kube_reflector_free(struct kube_reflector *r);

/* True once the first list has been stored. */
int kube_reflector_has_synced(struct kube_reflector *r);
/* Waits up to timeout_ms for has_synced. 0 or BASE_ETIMEDOUT. */
int kube_reflector_wait_synced(struct kube_reflector *r, int64_t timeout_ms);
/* A copy of the counters. */
void kube_reflector_stats(struct kube_reflector *r, struct kube_reflector_stats *out);
/* The last resourceVersion seen (caller frees), or NULL before the first list. */
char *kube_reflector_last_rv(struct kube_reflector *r);

#endif
