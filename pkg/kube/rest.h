/*
 * rest.h - a thin Kubernetes REST client on libcurl and jansson.
 *
 * Verbs on any group/version/resource, namespaced or cluster-scoped, objects
 * as jansson values. Paths are /api/v1/... for the core group and
 * /apis/<group>/<version>/... otherwise.
 *
 * Every call returns 0 or a negative base error code; a failed call fills an
 * optional struct kube_status with the server's Status (see status.h), and a
 * 429 carries Retry-After in st->retry_after_s. A 401 makes the client
 * refresh its credentials (token file, exec plugin) and retry once.
 * Transport problems are BASE_ETRANSPORT, deadlines BASE_ETIMEDOUT, bodies
 * larger than KUBE_MAX_RESPONSE_BYTES BASE_ETOOBIG, unparsable bodies
 * BASE_EPARSE.
 *
 * Connections: libcurl easy handles are kept in a small pool and reused, so
 * keep-alive connections and TLS sessions survive across calls; a call
 * borrows one handle for its duration. Watches hold their own handle.
 *
 * Metrics (controller-runtime's names): rest_client_requests_total{code,
 * method,host} and rest_client_request_duration_seconds{verb,host}.
 *
 * Thread-safety: a client is shared by all threads; every call is
 * thread-safe. Objects passed in are borrowed and not modified; objects
 * returned through json_t **out are new references the caller decrefs.
 */
#ifndef KUBE_REST_H
#define KUBE_REST_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pkg/kube/config.h"
#include "pkg/kube/status.h"
#include "pkg/kube/watch.h"

/* Caps and defaults. */
#define KUBE_MAX_RESPONSE_BYTES (64u << 20) /* a response body (a list page) */
#define KUBE_DEFAULT_TIMEOUT_MS 30000	    /* a whole non-watch request */
#define KUBE_CONNECT_TIMEOUT_MS 10000
#define KUBE_DEFAULT_PAGE_SIZE 500 /* client-go's pager */
#define KUBE_HANDLE_POOL 8	   /* idle easy handles kept */

/* A resource kind as the API addresses it. Static data in practice. */
struct kube_resource {
	const char *group;    /* "" for the core group */
	const char *version;  /* "v1" */
	const char *resource; /* lower-case plural: "configmaps" */
	int namespaced;
};

extern const struct kube_resource kube_res_configmaps;
extern const struct kube_resource kube_res_namespaces;
extern const struct kube_resource kube_res_leases; /* coordination.k8s.io/v1 */
extern const struct kube_resource kube_res_events; /* events.k8s.io/v1 */
extern const struct kube_resource kube_res_crds;   /* apiextensions.k8s.io/v1 */

struct kube_client;

struct kube_client_opts {
	int64_t timeout_ms;	/* per request; 0 = KUBE_DEFAULT_TIMEOUT_MS */
	const char *user_agent; /* NULL = "globaldb-controller" */
};

/*
 * Creates a client. Takes ownership of cfg (freed with the client, also on
 * failure). opts may be NULL. Calls curl_global_init once per process.
 */
int kube_client_new(struct kube_config *cfg, const struct kube_client_opts *opts,
		    struct kube_client **out);
/* Frees the client and its handles. No call may be in progress. NULL is fine. */
void kube_client_free(struct kube_client *c);
/* The client's config (borrowed). */
struct kube_config *kube_client_config(struct kube_client *c);

/*
 * Caps the timeout of requests made by the calling thread at ms (0 = the
 * client's own). Leader election uses it so that a hanging renew cannot
 * outlast the renew deadline. Thread-local; no locking.
 */
void kube_set_thread_timeout(int64_t ms);

/*
 * The object's URL path, e.g. "/apis/g/v1/namespaces/ns/widgets/x/status".
 * ns is ignored for cluster-scoped resources; name and sub may be NULL.
 * Caller frees.
 */
char *kube_path(const struct kube_resource *res, const char *ns, const char *name, const char *sub);

/* GET one object. */
int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, json_t **out, struct kube_status *st);

struct kube_list_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version; /* NULL/"" = most recent (consistent read) */
	const char *continue_token;
	long limit; /* 0 = no limit */
};

/* One LIST page as the server returns it (a *List with items and metadata.continue). */
int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
	      const struct kube_list_opts *opts, json_t **out, struct kube_status *st);

/*
 * A whole LIST, following `continue` with pages of opts->limit (0 =
 * KUBE_DEFAULT_PAGE_SIZE). *out is the first page's List object with all
 * items and the list's resourceVersion. A continue token that expires (410)
 * mid-way fails the call with BASE_EGONE; the caller relists.
 */
int kube_list_all(struct kube_client *c, const struct kube_resource *res, const char *ns,
		  const struct kube_list_opts *opts, json_t **out, struct kube_status *st);

/* POST obj (borrowed). out may be NULL. */
int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns, json_t *obj,
		json_t **out, struct kube_status *st);

/*
 * PUT obj to the object (sub NULL) or a subresource (sub "status"). A
 * metadata.resourceVersion in obj makes it conditional: stale -> BASE_ECONFLICT.
 */
int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *sub, json_t *obj, json_t **out,
		struct kube_status *st);

/*
 * Read-modify-write with optimistic concurrency (client-go's
 * RetryOnConflict with DefaultRetry: 5 tries, ~10 ms apart, jittered):
 * GET the object, call fn on a private copy, PUT it (to sub, e.g. "status",
 * or the object when sub is NULL). A 409 starts over with a fresh GET.
 * fn returns 0 to write, 1 when nothing needs writing (no PUT; the call
 * returns 0 with *out the current object), or a negative code to abort with
 * it. out may be NULL. Returns BASE_ECONFLICT if every try conflicted.
 */
#define KUBE_CONFLICT_TRIES 5
typedef int (*kube_mutate_fn)(void *ud, json_t *obj);
int kube_update_retry(struct kube_client *c, const struct kube_resource *res, const char *ns,
		      const char *name, const char *sub, kube_mutate_fn fn, void *ud, json_t **out,
		      struct kube_status *st);

enum kube_patch_type {
	KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
	KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902), patch is an array */
	KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in kinds only) */
	KUBE_PATCH_APPLY,     /* application/apply-patch+yaml: server-side apply */
};

struct kube_patch_opts {
	enum kube_patch_type type;
	const char *field_manager; /* required for APPLY */
	int force;		   /* APPLY: take ownership of conflicting fields */
	const char *subresource;   /* NULL or "status" */
};

/* PATCH the object with patch (borrowed). */
int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const char *name, const struct kube_patch_opts *opts, json_t *patch, json_t **out,
	       struct kube_status *st);

/* DELETE; precondition_rv (may be NULL) guards against deleting a newer version. */
int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *precondition_rv, struct kube_status *st);

struct kube_watch_opts {
	const char *resource_version; /* start after this version ("" = now + synthetic ADDs) */
	int timeout_s;		      /* server-side timeoutSeconds; 0 = none */
	const char *label_selector;
	const char *field_selector;
	int bookmarks;	 /* allowWatchBookmarks=true */
	size_t max_line; /* event cap; 0 = KUBE_WATCH_MAX_LINE */
};

/*
 * Runs one watch and blocks until it ends, calling fn for each event from
 * this thread. Returns 0 when the server ended the stream cleanly (timeout),
 * BASE_ECANCELED once *stop becomes non-zero (checked on every chunk and
 * about once a second while the stream is idle),
 * the ERROR event's code (BASE_EGONE for 410 Expired), BASE_ETRANSPORT when
 * the stream is cut mid-event or the connection fails, BASE_ETOOBIG for an
 * event over the cap, or what fn returned. stop may be NULL.
 */
int kube_watch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const struct kube_watch_opts *opts, kube_watch_fn fn, void *ud,
	       const atomic_int *stop, struct kube_status *st);

/*
 * A raw request for what the helpers above do not cover: method, path with
 * query ("/api/v1/..."), optional body (borrowed, sent as content_type, NULL =
 * application/json). Same error handling; out may be NULL.
 */
int kube_request(struct kube_client *c, const char *method, const char *path_query,
		 const char *content_type, json_t *body, json_t **out, struct kube_status *st);

#endif
