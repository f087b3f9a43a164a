/*
 * object_metrics.h - the metrics about one GlobalDatabase, labelled with its
 * namespace and name so an alert can say which database:
 *
 *   globaldb_current_primary_info{namespace,name,region,global_cluster}
 *       1 for the region that holds the writer
 *   globaldb_data_loss_budget_seconds{namespace,name}
 *       spec.failover.maxDataLossSeconds
 *   globaldb_condition{namespace,name,type,status}
 *       1 for each condition's current status, 0 for its other two
 *       (status is "True", "False" or "Unknown"; kube-state-metrics' shape)
 *   globaldb_operation_in_progress{namespace,name,type,step}
 *       1 while an operation runs, labelled with its current step
 *   globaldb_operation_start_time_seconds{namespace,name,type}
 *       when the running operation started (Unix seconds)
 *   globaldb_operations_total{namespace,name,type,result}
 *       operations finished, by type and result
 *   globaldb_failovers_total{namespace,name,method,result}
 *       unplanned failovers finished, by method and result
 *   globaldb_operation_step_duration_seconds{operation,step}
 *       histogram of finished steps' durations (all databases)
 *
 * The reconciler calls gdb_object_metrics_update after each status it
 * writes and gdb_object_metrics_forget when the object is gone; a series is
 * removed when what it describes ends (the operation finishes, the writer
 * moves), so a query never sees a stale one. The replication lag and probe
 * health of each region come from the prober (probe/prober.h).
 *
 * Not thread-safe per object: the reconciler calls these for one key from one
 * worker at a time (the workqueue's guarantee). The registry is thread-safe.
 */
#ifndef GDB_OBJECT_METRICS_H
#define GDB_OBJECT_METRICS_H

#include "pkg/globaldb/types.h"

/* What this process published for one object, to remove it later. */
struct gdb_object_metrics {
	char *primary_region, *primary_global; /* current_primary_info labels */
	char *op_type, *op_step;	       /* operation_in_progress labels */
	int have_budget;
	char *cond_types[GDB_MAX_CONDITIONS];
	size_t n_cond_types;
};

/* Registers the families (idempotent). */
void gdb_object_metrics_init(void);

/*
 * Publishes the object's state after a reconcile: old is the status it
 * started from, cur the one written; spec NULL leaves the budget as it was
 * (a spec that does not decode). A lastOperation that finished in this
 * step (cur's differs from old's) counts in operations_total and its steps'
 * durations are observed.
 */
void gdb_object_metrics_update(struct gdb_object_metrics *m, const char *ns, const char *name,
			       const struct gdb_spec *spec, const struct gdb_status *old,
			       const struct gdb_status *cur);

/* Removes every series of the object and frees m's strings. */
void gdb_object_metrics_forget(struct gdb_object_metrics *m, const char *ns, const char *name);

/* Frees m's strings and leaves the series (the process is stopping). */
void gdb_object_metrics_release(struct gdb_object_metrics *m);

#endif
