/*
 * planner_int.h - private to the planner; not a manual for callers (planner.h is).
 *
 * The planner is one pure function, gdb_plan() (planner.c), split over several
 * files along its seams. This header holds what they share: the per-call
 * context, the step table's row type, the handlers' return codes and the
 * helpers one file defines and another calls. Nothing outside pkg/globaldb's
 * planner files includes it.
 */
#ifndef GDB_GLOBALDB_PLANNER_INT_H
#define GDB_GLOBALDB_PLANNER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/globaldb/planner.h"

/* What a step handler or a consider_* returns: run again, or decided. */
enum { CONTINUE = 0, DONE = 1 };

struct ctx {
	const struct gdb_spec *spec;
	const struct gdb_status *old;
	const struct gdb_observed *obs;
	const struct gdb_health *health;
	int64_t now;
	struct gdb_plan *out;
	struct gdb_status *st;

	const struct gdb_obs_global *global; /* the current global cluster, NULL if not seen */
	const char *writer;		     /* the writer's region (spec name), NULL unknown */
	int writer_standalone;		     /* the writer is not in any global cluster */

	char degraded_reason[64];
	char degraded_msg[512];
	char progressing_reason[64];
	char progressing_msg[512];
	/* failover_target chose a target whose lag is unknown (Manual mode only). */
	int lag_unknown;
};

/* One row of the step table (planner.c): its meaning (planner.h) and its handler. */
struct step_row {
	struct gdb_step_def def;
	int (*run)(struct ctx *c);
};
extern const struct step_row step_table[GDB_STEP__COUNT];

/* planner.c: frees an action's strings and zeroes it (a decided action withdrawn). */
void action_release(struct gdb_action *a);

/* plan_context.c: helpers over the inputs, deriving the current picture, annotations */
int streq(const char *a, const char *b);
const struct gdb_obs_region *obs_region(const struct ctx *c, const char *name);
const struct gdb_health_region *health_region(const struct ctx *c, const char *name);
const char *cluster_id(const struct ctx *c, const char *region);
const struct gdb_obs_region *cluster_seen(const struct ctx *c, const char *region);
int api_ok(const struct ctx *c, const char *region);
const struct gdb_obs_global *find_global(const struct ctx *c, const char *id);
const struct gdb_obs_member *member_in(const struct ctx *c, const struct gdb_obs_global *g,
				       const char *region);
const char *region_of_arn(const struct ctx *c, const char *arn);
const char *global_of(const struct ctx *c, const struct gdb_obs_region *o);
int in_current_global(const struct ctx *c, const struct gdb_obs_region *o);
int is_connected(const struct ctx *c, const char *region);
int64_t ceil_seconds(int64_t ms);
int64_t backoff_ms(int attempts);
void stamp(int64_t ms, char *buf, size_t n);
void derive_global(struct ctx *c);
void derive_writer(struct ctx *c);
int64_t lag_bound_ms(struct ctx *c, const char *region);
void update_regions(struct ctx *c);
int is_paused(const struct ctx *c);
int approved(struct ctx *c, const char *value, const char *annotation);

/* plan_status.c: output helpers, operation bookkeeping, conditions */
void degraded(struct ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void progressing(struct ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void event(struct ctx *c, enum gdb_event_type type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int old_degraded_is(const struct ctx *c, const char *reason);
void refuse(struct ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct gdb_action *act(struct ctx *c, enum gdb_action_kind kind, const char *region,
		       int64_t requeue_ms);
void wait_for(struct ctx *c, int64_t requeue_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void set_step(struct ctx *c, enum gdb_step step);
void start_op(struct ctx *c, enum gdb_op_type type, enum gdb_op_method method, const char *source,
	      const char *target, enum gdb_step step);
void finish_op(struct ctx *c, enum gdb_op_result result, const char *message);
int64_t since_last_call(const struct ctx *c);
int op_called(const struct gdb_operation *op);
const struct gdb_obs_last_result *last_result(const struct ctx *c, enum gdb_action_kind kind);
const char *call_name(enum gdb_call call);
const char *aws_reason(enum gdb_call call);
int hold_call(struct ctx *c, enum gdb_action_kind kind);
struct gdb_action *issue(struct ctx *c, enum gdb_action_kind kind, const char *region);
void finalize_conditions(struct ctx *c);

/* plan_tail.c: the tail every writer move shares: DNS, SSM, workloads */
int has_workloads(const struct gdb_spec *s);
void next_tail(struct ctx *c, enum gdb_step after);
void writer_moved(struct ctx *c, const char *region);
int step_update_dns(struct ctx *c);
int step_wait_dns(struct ctx *c);
int step_idempotent(struct ctx *c, enum gdb_action_kind kind, enum gdb_step step);
int step_restart(struct ctx *c, enum gdb_step step);

/* plan_switchover.c: switchover */
const char *switchover_blocker(struct ctx *c, const char *target, char *buf, size_t n);
int step_switchover(struct ctx *c);
int step_wait_switchover(struct ctx *c);

/* plan_failover.c: failover */
int step_failover_managed(struct ctx *c);
int step_wait_failover(struct ctx *c);
int step_detach(struct ctx *c);
int step_wait_promoted(struct ctx *c);
const char *failover_target(struct ctx *c, int *failing, int approved_manually);
void begin_failover(struct ctx *c, const char *target);
int step_awaiting_failover_approval(struct ctx *c);

/* plan_fallback.c: fallback */
const char *stale_region(struct ctx *c);
int any_region_unreachable(struct ctx *c);
int step_fence(struct ctx *c);
int step_delete_old_global(struct ctx *c);
int step_create_global(struct ctx *c);
struct gdb_action *create_secondary(struct ctx *c, const char *r);
struct gdb_action *create_instance(struct ctx *c, const char *r, const struct gdb_obs_region *o);
int step_create_secondary(struct ctx *c);
int step_create_instances(struct ctx *c);
int step_wait_connected(struct ctx *c);
int step_wait_readded(struct ctx *c);
int step_copy_snapshot(struct ctx *c);
int step_awaiting_fallback_approval(struct ctx *c);

/* plan_inventory.c: the decisions without an operation in flight, deletion */
int consider_failover(struct ctx *c);
int consider_fallback(struct ctx *c);
int consider_provisioning(struct ctx *c);
int consider_switchover(struct ctx *c);
const char *quiet_failover_target(struct ctx *c);
void preempt_for_failover(struct ctx *c);
int plan_delete(struct ctx *c);

/* plan_ownership.c: ownership tags (ownership.h): adoption, the gate, deletion, the check */
int own_adoptable(const struct ctx *c, const struct gdb_obs_global *g);
int own_gate(struct ctx *c);
int own_deletable_cluster(const struct ctx *c, const struct gdb_obs_region *o);
int own_deletable_global(const struct ctx *c, const struct gdb_obs_global *g);
void own_check(struct ctx *c);

#endif
