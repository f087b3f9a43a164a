/*
 * controller.h - the GlobalDatabase controller runtime: informer, workqueue,
 * workers, leader election.
 *
 * controller-runtime's shape in one object:
 *
 *   reflector (list+watch GlobalDatabases, one namespace or all) -> store
 *     -> handlers enqueue "namespace/name" keys (status-only updates are
 *        ignored, as GenerationChangedPredicate + annotation changes would)
 *   prober verdict changes -> the same queue (reconciler.h)
 *   N workers: key -> gdb_reconcile -> requeue after / rate-limited / now
 *
 * gdb_controller_start() loads the Kubernetes config, starts the reflector,
 * the Event recorder and the prober on every replica, and registers the
 * readyz check "informer-sync" (a process-wide flag: one controller per process)
 * that passes once the first list is stored; start fails when it is not within
 * GDB_SYNC_TIMEOUT_MS
 * (HTTP and caches run on every replica). With leader election the workers
 * start only when this replica holds the Lease; losing it calls
 * opts.on_fatal (the binary exits, as controller-runtime's does). Without
 * leader election the workers start at once.
 *
 * gdb_controller_stop() drains: the queue stops handing out keys, in-flight
 * reconciles finish (up to GDB_DRAIN_TIMEOUT_MS), the workers are joined,
 * the Lease is released, then everything else stops.
 *
 * AWS: credentials from the SDKs' default chain, endpoints from
 * AWS_ENDPOINT_URL(_<SERVICE>) when set (tests, the demo), else the real
 * regional endpoints; every call has a deadline, so a hanging region only
 * costs that region's reconciles a timeout.
 *
 * Thread-safety: start and stop from one thread; on_fatal may be called from
 * the elector's thread.
 */
#ifndef GDB_CONTROLLER_H
#define GDB_CONTROLLER_H

#include <stdint.h>

#include "pkg/globaldb/allow.h"
#include "pkg/server/health.h"

#define GDB_DRAIN_TIMEOUT_MS 20000
#define GDB_SYNC_TIMEOUT_MS 60000

struct gdb_controller_opts {
	const char *kubeconfig; /* "" or NULL: in-cluster, then $KUBECONFIG, ~/.kube/config */
	const char *namespace_; /* "" or NULL: every namespace */
	int concurrency;	/* workers; 0 = 1 */
	int leader_elect;
	const char *leader_election_namespace;
	const char *leader_election_id;
	int64_t lease_duration_ms; /* 0 = client-go's defaults (15 s, 10 s, 2 s) */
	int64_t renew_deadline_ms;
	int64_t retry_period_ms;
	struct server_health *health;  /* borrowed; readyz "informer-sync" is added; may be NULL */
	int64_t aws_call_timeout_ms;   /* 0 = 15000 per call, retries included */
	const struct gdb_allow *allow; /* borrowed, outlives the controller; NULL: deny all */
	/*
	 * The two-controller guard (guard_io.h), on when guard_table is set:
	 * region ("" = the topology.kubernetes.io/region label of the Node named
	 * by $NODE_NAME, read once at start; start fails without one),
	 * controller_id ("" = the region), the table's replica regions nearest
	 * first, the lease's duration (0 = GDB_GUARD_LEASE_MS). All borrowed for
	 * the call to start.
	 */
	const char *guard_table;
	const char *const *guard_regions;
	size_t n_guard_regions;
	int64_t guard_lease_ms;
	const char *region;
	const char *controller_id;
	void (*on_fatal)(void *ud,
			 const char *why); /* leadership lost; required with leader_elect */
	void *ud;
};

struct gdb_controller;

/* Starts everything above. 0, or a negative code (the reason is logged). */
int gdb_controller_start(const struct gdb_controller_opts *opts, struct gdb_controller **out);
/* Drains and stops; releases the Lease. NULL is fine. */
void gdb_controller_stop(struct gdb_controller *c);

#endif
