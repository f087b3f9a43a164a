/*
 * reconciler.h - one reconcile of one GlobalDatabase: observe, plan, persist
 * the status, act, requeue.
 *
 * gdb_reconcile(key) follows the executor contract of planner.h:
 *
 *  1. read the object from the informer's store (gone: forget the key, remove
 *     its probes and metrics); if the store still holds the version that this
 *     replica's last write replaced, wait for the watch event of that write
 *     instead of planning on the status before it (the informer's handler
 *     asks gdb_reconciler_wants_update; GDB_INFORMER_BEHIND_MS is the
 *     backstop);
 *  2. decode the spec (a spec that does not decode is reported in the Ready
 *     and Degraded conditions, no AWS call); add the finalizer
 *     globaldb.io/finalizer when missing (not while deleting);
 *  3. resolve the probe credentials (a Kubernetes Secret in the object's
 *     namespace via GET, one read shared by every object naming it, or
 *     Secrets Manager in the first region that answers; cached for
 *     GDB_CREDS_TTL_MS, re-read at once after a probe
 *     is refused for authentication (a rotated password), never logged) — without them the
 *     status says so (ProbeCredentialsUnavailable) and no AWS write is made;
 *  4. observe (observe.h), and read the prober's verdicts into struct
 *     gdb_health: the writer target (a heartbeat write on the writer's
 *     endpoint) and one reader target per secondary (the heartbeat read on
 *     its reader endpoint, which measures the lag). With no probe failing,
 *     a settled object (no operation, Ready) and an operation past the
 *     writer's move (DNS, SSM, workloads) are observed with answers up to
 *     GDB_OBS_SETTLED_MS old; if a settled object's plan would change
 *     anything, it is observed again fresh and planned again, except for the
 *     switchover an edit of spec.primaryRegion starts;
 *  5. gdb_plan(); a new object's first status waits for its probes' first
 *     verdicts while the plan calls nothing (at most failureThreshold x
 *     period + timeout: written at once it would say "not probed yet" and be
 *     written again a moment later); persist the new status with the status subresource,
 *     guarded by resourceVersion (a 409 returns BASE_ECONFLICT: requeue at
 *     once), BEFORE acting — skipped when nothing but
 *     regions[].lastProbeTime changed and this replica wrote the status less
 *     than GDB_STATUS_REPORT_MS ago (probe times alone would mean a write per
 *     object per reconcile; the metrics carry the live values); record the
 *     plan's Events;
 *  6. act (executor.h), remember the outcome for the next round, invalidate
 *     the observation cache of the region an RDS action was made in;
 *  7. point the probe targets at the (new) writer and secondaries: at the
 *     endpoints RDS answered, or — a region whose API does not answer — at
 *     those the status recorded (writerEndpoint, readerEndpoints[],
 *     regions[].port), so a controller started during a regional outage
 *     still probes the writer.
 *
 * The prober's verdict changes enqueue the key (the notify callback set up by
 * gdb_reconciler_new), so a failing writer is reconciled within a probe
 * period, not at the next requeue.
 *
 * Metrics: controller_runtime_reconcile_total{controller,result},
 * controller_runtime_reconcile_errors_total{controller},
 * controller_runtime_reconcile_time_seconds{controller},
 * globaldb_failovers_total{method,result},
 * globaldb_operation_step_duration_seconds{operation,step},
 * globaldb_current_primary_info{namespace,name,region,global_cluster}.
 *
 * Thread-safety: gdb_reconcile may run on many workers at once for
 * different keys (the workqueue never hands one key to two workers).
 */
#ifndef GDB_RECONCILER_H
#define GDB_RECONCILER_H

#include <stdint.h>

#include "pkg/aws/client.h"
#include "pkg/globaldb/allow.h"
#include "pkg/globaldb/observe.h"
#include "pkg/kube/events.h"
#include "pkg/kube/rest.h"
#include "pkg/kube/store.h"
#include "pkg/kube/workqueue.h"

#define GDB_FINALIZER "globaldb.io/finalizer"
#define GDB_CREDS_TTL_MS 300000
/* How often probe times alone justify a status write (cf. the kubelet's nodeStatusReportFrequency). */
#define GDB_STATUS_REPORT_MS 300000
/* The backstop requeue while the informer has not seen our own last write. */
#define GDB_INFORMER_BEHIND_MS 1000
#define GDB_CONTROLLER_NAME "globaldatabase"

extern const struct kube_resource gdb_res_globaldatabases;

struct gdb_guard;

struct gdb_reconciler_opts {
	struct kube_client *kube;	/* borrowed, all below must outlive the reconciler */
	struct kube_store *store;	/* the informer's cache of GlobalDatabases */
	struct kube_recorder *recorder; /* may be NULL */
	struct kube_workqueue *queue;	/* where probe verdict changes enqueue keys */
	struct aws_client *aws;
	int64_t obs_ttl_ms;	       /* 0 = GDB_OBS_TTL_MS */
	const struct gdb_allow *allow; /* what specs may name (allow.h); NULL: nothing */
	/*
	 * The two-controller guard (guard_io.h); NULL: this controller decides
	 * alone. With it, every AWS call of an operation waits for the guard's
	 * go-ahead and a fresh re-check (reconciler_guard.c), and the Guarded
	 * condition says why a call waits.
	 */
	struct gdb_guard *guard;
	int64_t guard_call_timeout_ms; /* the AWS client's per-call deadline */
};

struct gdb_reconciler;

/* Starts the prober (its thread). 0 or a negative code. */
int gdb_reconciler_new(const struct gdb_reconciler_opts *opts, struct gdb_reconciler **out);
/* Stops the prober and frees everything. No reconcile may be running. NULL is fine. */
void gdb_reconciler_free(struct gdb_reconciler *r);

/*
 * Reconciles key ("namespace/name"). Returns 0 with *requeue_after_ms set
 * (0 = no requeue), BASE_ECONFLICT when the status write met a newer object
 * (requeue at once), or another negative code (requeue rate-limited).
 */
int gdb_reconcile(struct gdb_reconciler *r, const char *key, int64_t *requeue_after_ms);

/*
 * Whether a reconcile of key waits for the informer's next version of the
 * object (it held one that our own last write replaced): the informer's update
 * handler enqueues such an update even when it changes nothing but the status.
 * Answers yes once per wait. Thread-safe.
 */
int gdb_reconciler_wants_update(struct gdb_reconciler *r, const char *key);

#endif
