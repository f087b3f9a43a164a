/*
 * reconciler_int.h - private to the reconciler; not a manual for callers
 * (reconciler.h is).
 *
 * The reconciler is split over several files along its seams: the reconcile
 * loop and the per-key state (reconciler.c), the probe credentials
 * (probe_creds.c), the probe targets and the health built from their verdicts
 * (probe_targets.c), and the status writing (status_write.c). This header
 * holds what they share: the reconciler's and a key's state, and the helpers
 * one file defines and another calls. Nothing else includes it.
 */
#ifndef GDB_GLOBALDB_RECONCILER_INT_H
#define GDB_GLOBALDB_RECONCILER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "pkg/base/map.h"
#include "pkg/globaldb/cabundle.h"
#include "pkg/globaldb/object_metrics.h"
#include "pkg/globaldb/planner.h"
#include "pkg/globaldb/reconciler.h"
#include "pkg/probe/prober.h"

#define TARGET_BASE_MAX 80

struct key_state {
	char *key;
	/* the last action's outcome */
	struct gdb_obs_last_result last;
	char *last_region, *last_code, *last_message, *last_change_id;
	char *last_ecs_restarted, *last_ecs_unreachable;
	/* probe credentials (secret) */
	char *user, *password;
	int64_t creds_mono;	  /* 0 = never fetched */
	atomic_int creds_refused; /* a probe was refused for authentication: re-read them */
	unsigned creds_gen;
	char *creds_error;     /* why there are none, NULL when there are */
	struct gdb_ca_file ca; /* spec.healthCheck.caBundleRef, read with the credentials */
	char *ca_ref;	       /* the caBundleRef ca was read for ("kind/name/key"), NULL = none */
	/* probe targets */
	char base[TARGET_BASE_MAX + 1];
	char *writer_region;
	char *writer_sig;
	char *reader_region[GDB_MAX_REGIONS];
	char *reader_sig[GDB_MAX_REGIONS];
	/* the object's series (object_metrics.h) */
	struct gdb_object_metrics metrics;
	int64_t status_mono;		/* when this replica last wrote the status; 0 = never */
	int64_t first_status_wait_mono; /* when the first status began to wait for verdicts */
	/*
	 * The resourceVersions the last reconcile's writes replaced (a finalizer
	 * patch and a status write at most): while the informer still holds one
	 * of them, it has not seen our own write yet (see informer_behind).
	 */
	char *replaced_rv[2];
	int awaiting_informer; /* a reconcile waits for the informer's next version; under r->lock */
	/* Its entries in the reconciler's aws_names map (see watch_names). */
	char *aws_names[GDB_MAX_REGIONS + 2];
	size_t n_aws_names;
	struct key_state *next;
};

struct gdb_reconciler {
	struct gdb_reconciler_opts o;
	struct probe_prober *prober;
	struct gdb_obs_cache *cache;
	pthread_mutex_t lock;
	struct key_state *states; /* a list, and a map by key */
	struct base_map state_by_key;
	struct secret_entry *secrets; /* a list, and a map by "namespace/name" */
	struct base_map secret_by_key;
	/*
	 * "c/<region>/<cluster>" and "g/<global cluster>" (lower case) -> the
	 * key_state whose spec or status names it: where a round's changes go.
	 */
	struct base_map aws_names;
};

/*
 * The data of a probe credentials' Secret, shared by every object naming it:
 * a thousand objects naming one Secret read it once per GDB_CREDS_TTL_MS,
 * not a thousand times (at start-up those reads were a large part of the
 * apiserver's work). Only answers that carried data are kept.
 */
struct secret_entry {
	struct secret_entry *next;
	char *key;
	json_t *data;
	int64_t fetched_mono;
};

/* reconciler.c: the key state */
void forget_creds(struct key_state *s);

/* probe_creds.c */
int resolve_creds(struct gdb_reconciler *r, struct key_state *s, const char *ns,
		  const struct gdb_spec *spec);

/* probe_targets.c */
void sync_probes(struct gdb_reconciler *r, struct key_state *s, const struct gdb_spec *spec,
		 const struct gdb_status *st, const char *writer, const struct gdb_observation *ob);
void build_health(struct gdb_reconciler *r, const struct key_state *s, const struct gdb_spec *spec,
		  struct gdb_health *h);
void report_refused_login(struct gdb_reconciler *r, const struct key_state *s,
			  const struct gdb_spec *spec, struct gdb_plan *plan);

/* reconciler.c */
void observe_and_plan(struct gdb_reconciler *r, struct key_state *s, const struct gdb_spec *spec,
		      const struct gdb_status *status, json_t *obj, int deleting,
		      int64_t max_age_ms, struct gdb_observation *ob, struct gdb_health *health,
		      struct gdb_plan *plan);

/* reconciler_guard.c: the two-controller guard (r->o.guard set) */
struct guard_note {
	const char *event_reason; /* an Event to record after the status write, NULL = none */
	int warning;
	char message[256];
	int restart; /* the plan now restarts this cluster's workloads after a peer's move */
};
/*
 * Runs the guard round for plan: 1 when plan's call may be made, 0 when it was
 * held back (plan is then a wait on the old status). Sets the Guarded condition
 * and caps the requeue at the probe period. May re-observe (ob, plan replaced).
 */
int guard_gate(struct gdb_reconciler *r, struct key_state *s, const char *key,
	       const struct gdb_spec *spec, const struct gdb_status *old, json_t *obj, int64_t gen,
	       struct gdb_observation *ob, struct gdb_health *h, struct gdb_plan *plan,
	       struct guard_note *note);
void guard_record(struct gdb_reconciler *r, json_t *obj, const struct guard_note *note);

/* status_write.c */
enum status_diff { STATUS_SAME, STATUS_PROBE_TIMES, STATUS_PROBES, STATUS_CHANGED };
enum status_diff status_diff(json_t *a, json_t *b);
int first_status_waits(struct key_state *s, const struct gdb_spec *spec,
		       const struct gdb_status *old, const struct gdb_plan *plan,
		       const struct gdb_health *h, int64_t *wait_ms);
int informer_behind(struct key_state *s, json_t *obj);
int await_informer(struct gdb_reconciler *r, struct key_state *s, const char *key);
int persist_status(struct gdb_reconciler *r, struct key_state *s, json_t **obj,
		   const struct gdb_status *status, const char *ns, const char *name);
int has_finalizer(json_t *obj);
int patch_finalizer(struct gdb_reconciler *r, struct key_state *s, json_t **obj, int add,
		    const char *ns, const char *name);

#endif
