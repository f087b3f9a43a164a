/*
 * health.h - named health and readiness checks, evaluated as
 * controller-runtime's healthz package does.
 *
 * A registry holds two independent sets of checks: liveness (/healthz) and
 * readiness (/readyz). Callers register named checks; a probe request runs
 * every check of its set and the answer is
 *
 *   all pass, plain request       200 "ok"
 *   all pass, ?verbose            200 "[+]name ok\n" per check, then
 *                                 "healthz check passed\n"
 *   any fails                     500, always verbose, failing checks as
 *                                 "[-]name failed: reason withheld\n", then
 *                                 "healthz check failed\n"
 *
 * Checks are listed in name order. "?exclude=name" (repeatable) skips a check
 * ("[+]name excluded: ok"); excluding a name that does not exist adds a "warn:"
 * line. A set with no checks answers as if it held one passing "ping" check.
 * One check alone is served at /healthz/<name> and /readyz/<name>: 200 "ok",
 * 500 "internal server error: <reason>", or 404 for an unknown name.
 *
 * Thread-safe: registration and evaluation take the registry's mutex, and
 * checks run while it is held, so a check must be quick and non-blocking (read
 * an atomic flag, compare a timestamp) and must not call back into the
 * registry. Registered checks live until the registry is freed.
 */
#ifndef SERVER_HEALTH_H
#define SERVER_HEALTH_H

#include <stdatomic.h>

#include "pkg/base/buf.h"

enum server_probe {
	SERVER_HEALTHZ = 0, /* liveness: restart the process when it fails */
	SERVER_READYZ = 1,  /* readiness: do not send traffic / not ready yet */
};

/*
 * A check: 0 when healthy, else a negative error code (pkg/base/err.h). On
 * failure it may append a short reason to reason ("informers not synced"),
 * shown only at /healthz/<name>; without one the code's description is shown.
 * Reasons must not hold secrets: the endpoints are unauthenticated. arg is
 * the pointer given at registration.
 */
typedef int (*server_check_fn)(void *arg, struct base_buf *reason);

struct server_health;

/* A new empty registry. Never NULL. */
struct server_health *server_health_new(void);
/* Frees the registry. No request may be using it (stop servers first). NULL is fine. */
void server_health_free(struct server_health *h);

/*
 * Registers a check under name in the probe's set. name is copied; it must be
 * 1-63 characters of [a-zA-Z0-9._-] (it appears in URLs). arg is borrowed and
 * must outlive the registry. Returns 0, BASE_EINVAL for a bad name, or
 * BASE_EEXIST when the set already has a check of that name.
 */
int server_health_add(struct server_health *h, enum server_probe probe, const char *name,
		      server_check_fn fn, void *arg);

/*
 * A ready-made check: healthy while the atomic_int that arg points to is
 * non-zero, else BASE_EINVAL with the reason "not ready yet". The owner sets the flag, e.g. when
 * caches have synced:
 *
 *   static atomic_int synced;
 *   server_health_add(h, SERVER_READYZ, "informer-sync", server_check_flag, &synced);
 *   ...
 *   atomic_store(&synced, 1);
 */
int server_check_flag(void *arg, struct base_buf *reason);

/* The options of one aggregated probe request. */
struct server_probe_query {
	int verbose;		     /* ?verbose was given */
	const char *const *excludes; /* ?exclude= values, borrowed */
	size_t nexcludes;
};

/*
 * Evaluates the probe's whole set with the query's options and appends the
 * response body to out. Returns the HTTP status: 200 or 500.
 */
int server_health_eval(struct server_health *h, enum server_probe probe,
		       const struct server_probe_query *q, struct base_buf *out);

/*
 * Evaluates the one check called name and appends the body to out. Returns
 * the HTTP status: 200, 500, or 404 when the set has no such check.
 */
int server_health_eval_one(struct server_health *h, enum server_probe probe, const char *name,
			   struct base_buf *out);

#endif
