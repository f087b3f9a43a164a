/*
 * The planner: one pure decision per call.
 *
 * gdb_plan() first copies the old status, validates the spec and derives the
 * facts everything else needs from the observation: which global cluster is
 * ours (adopting one on the first call), which region holds the writer (a
 * member with IsWriter, or a standalone cluster promoted by a detach), and the
 * per-region status rows. Then it asks, in priority order, and stops at the
 * first question that yields an action:
 *
 *   deletion -> invalid spec -> paused -> ownership (plan_ownership.c) ->
 *   operation in flight (its step) -> unplanned failover -> fallback ->
 *   provisioning -> planned switchover -> steady
 *
 * and checks the chosen call once more against the ownership tags of what it
 * changes (own_check).
 *
 * An operation in flight is a small state machine over status.operation.step
 * (types.h lists the steps). A step handler either returns an action (and
 * maybe a step change recorded before the action runs: the write-ahead rule)
 * or moves to the next step and asks to be dispatched again, so one call can
 * pass several steps that need no AWS call. Handlers decide from observation,
 * never from "I asked for it": a step that issued a call (attempts > 0) only
 * re-issues it when the effect is still not visible GDB_SETTLE_MS later, or
 * after the executor reported an error with a backoff. A step that issues
 * several different calls in turn (the fence: RemoveFromGlobalCluster, then
 * DeleteDBInstances, then DeleteDBCluster) counts attempts and the settle
 * window per call: operation.lastAction (persisted before the call, like
 * attempts) names the call issued last, and a different call, whose
 * precondition shows the previous one took effect, starts afresh.
 *
 * Conditions are computed last from what the handlers noted (degraded and
 * progressing reasons), keeping lastTransitionTime when a status is unchanged.
 *
 * This file holds the entry point, the step table and run_step; the rest is
 * split along its seams (planner_int.h lists what the files share):
 * plan_context.c (helpers over the inputs, the derived picture, annotations),
 * plan_status.c (output helpers, operation bookkeeping, conditions),
 * plan_tail.c (DNS, SSM, workloads), plan_switchover.c, plan_failover.c,
 * plan_fallback.c, and plan_inventory.c (the decisions without an operation in
 * flight: provisioning, starting a move; deletion).
 */
#include "pkg/globaldb/planner.h"
#include "pkg/globaldb/planner_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/validate.h"

static const char *const action_names[GDB_ACT__COUNT] = {
	[GDB_ACT_NONE] = "None",
	[GDB_ACT_WAIT] = "Wait",
	[GDB_ACT_CREATE_GLOBAL_CLUSTER] = "CreateGlobalCluster",
	[GDB_ACT_CREATE_SECONDARY_CLUSTER] = "CreateSecondaryCluster",
	[GDB_ACT_CREATE_INSTANCE] = "CreateInstance",
	[GDB_ACT_SWITCHOVER] = "Switchover",
	[GDB_ACT_FAILOVER_MANAGED] = "FailoverManaged",
	[GDB_ACT_DETACH_AND_PROMOTE] = "DetachAndPromote",
	[GDB_ACT_UPSERT_DNS] = "UpsertDns",
	[GDB_ACT_WAIT_DNS_INSYNC] = "WaitDnsInsync",
	[GDB_ACT_PUBLISH_SSM] = "PublishSsm",
	[GDB_ACT_RESTART_WORKLOADS] = "RestartWorkloads",
	[GDB_ACT_DELETE_INSTANCES] = "DeleteInstances",
	[GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER] = "RemoveFromGlobalCluster",
	[GDB_ACT_FENCE_OLD_WRITER] = "FenceOldWriter",
	[GDB_ACT_DELETE_CLUSTER] = "DeleteCluster",
	[GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER] = "DeleteOldGlobalCluster",
	[GDB_ACT_COPY_FAILOVER_SNAPSHOT] = "CopyFailoverSnapshot",
	[GDB_ACT_RECOMMEND_FAILOVER] = "RecommendFailover",
	[GDB_ACT_REMOVE_FINALIZER] = "RemoveFinalizer",
	[GDB_ACT_TAG_RESOURCE] = "TagResource",
};

const char *gdb_action_name(enum gdb_action_kind kind)
{
	return (unsigned)kind < GDB_ACT__COUNT ? action_names[kind] : "Unknown";
}

int gdb_parse_cluster_arn(const char *arn, char *region, size_t region_len, char *id, size_t id_len)
{
	/* arn:<partition>:rds:<region>:<account>:cluster:<id> */
	const char *f[7];
	const char *p = arn;
	size_t n = 0, rl, il;

	if (!arn)
		return BASE_EINVAL;
	f[n++] = p;
	while (*p && n < 7) {
		if (*p == ':')
			f[n++] = p + 1;
		p++;
	}
	if (n < 7 || strncmp(f[0], "arn:", 4) != 0 || strncmp(f[2], "rds:", 4) != 0 ||
	    strncmp(f[5], "cluster:", 8) != 0)
		return BASE_EINVAL;
	rl = (size_t)(f[4] - f[3] - 1);
	il = strlen(f[6]);
	if (rl == 0 || rl >= region_len || il == 0 || il >= id_len || strchr(f[6], ':'))
		return BASE_EINVAL;
	memcpy(region, f[3], rl);
	region[rl] = '\0';
	memcpy(id, f[6], il + 1);
	return 0;
}

static int run_step(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;

	/* The spec lost a region the operation is about (or the record is corrupt). */
	if (!gdb_spec_region(c->spec, op->target_region, NULL) ||
	    (op->source_region && !gdb_spec_region(c->spec, op->source_region, NULL))) {
		event(c, GDB_EVENT_WARNING, "OperationAbandoned",
		      "%s in step %s names a region that is not in spec.regions",
		      gdb_op_type_name(op->type), gdb_step_name(op->step));
		finish_op(c, GDB_RESULT_FAILED, "a region of the operation left spec.regions");
		return CONTINUE;
	}

	if ((unsigned)op->step >= GDB_STEP__COUNT || !step_table[op->step].run ||
	    !(step_table[op->step].def.op_types & GDB_OP_BIT(op->type))) {
		/* A step from a newer controller, or none: drop the record rather than guess. */
		event(c, GDB_EVENT_WARNING, "UnknownStep", "abandoning an operation in step %s",
		      gdb_step_name(op->step));
		finish_op(c, GDB_RESULT_FAILED, "unknown step");
		return CONTINUE;
	}
	return step_table[op->step].run(c);
}

static int step_awaiting_approval(struct ctx *c)
{
	return c->st->operation.type == GDB_OP_FAILOVER ? step_awaiting_failover_approval(c)
							: step_awaiting_fallback_approval(c);
}

static int step_publish_ssm(struct ctx *c)
{
	return step_idempotent(c, GDB_ACT_PUBLISH_SSM, GDB_STEP_PUBLISH_SSM);
}

static int step_restart_workloads(struct ctx *c)
{
	return step_restart(c, GDB_STEP_RESTART_WORKLOADS);
}

/*
 * The step table (planner.h). Rows follow docs/api.md's state machine; the
 * tail every writer move shares (UpdateDns, PublishSsm, RestartWorkloads)
 * skips what the spec does not configure, so each step that ends a move may
 * go to any later tail step or end. A writer moved by someone else ends the
 * operation and starts a tail-only one (writer_moved_externally).
 */
#define S(x) GDB_STEP_BIT(GDB_STEP_##x)
#define T(x) GDB_OP_BIT(GDB_OP_##x)
#define END S(NONE)
#define TAIL_DNS (S(UPDATE_DNS) | S(PUBLISH_SSM) | S(RESTART_WORKLOADS) | END)
#define MOVES (T(SWITCHOVER) | T(FAILOVER))
#define ALL (T(SWITCHOVER) | T(FAILOVER) | T(FALLBACK))

const struct step_row step_table[GDB_STEP__COUNT] = {
	/* where an operation starts: a recommendation, a switchover, a failover, a fallback */
	[GDB_STEP_NONE] = {{ALL | T(NONE),
			    S(AWAITING_APPROVAL) | S(SWITCHOVER) | S(FAILOVER_MANAGED) | S(DETACH) |
				    (TAIL_DNS & ~END),
			    0},
			   NULL},
	[GDB_STEP_AWAITING_APPROVAL] = {{T(FAILOVER) | T(FALLBACK),
					 S(FAILOVER_MANAGED) | S(DETACH) | S(WAIT_READDED) |
						 S(FENCE_OLD_WRITER) | END,
					 T(FALLBACK)},
					step_awaiting_approval},
	[GDB_STEP_SWITCHOVER] = {{T(SWITCHOVER), S(WAIT_SWITCHOVER) | END, T(SWITCHOVER)},
				 step_switchover},
	[GDB_STEP_WAIT_SWITCHOVER] = {{T(SWITCHOVER), TAIL_DNS, 0}, step_wait_switchover},
	[GDB_STEP_FAILOVER_MANAGED] = {{T(FAILOVER), S(WAIT_FAILOVER) | S(DETACH) | END, 0},
				       step_failover_managed},
	[GDB_STEP_WAIT_FAILOVER] = {{T(FAILOVER), S(FAILOVER_MANAGED) | S(DETACH) | TAIL_DNS, 0},
				    step_wait_failover},
	[GDB_STEP_DETACH] = {{T(FAILOVER), S(WAIT_PROMOTED) | S(WAIT_FAILOVER) | END, 0},
			     step_detach},
	[GDB_STEP_WAIT_PROMOTED] = {{T(FAILOVER), S(DETACH) | S(WAIT_FAILOVER) | TAIL_DNS, 0},
				    step_wait_promoted},
	/* A peer that made the tail's calls (tail_done_by) leaves only the restart. */
	[GDB_STEP_UPDATE_DNS] = {{MOVES, S(WAIT_DNS_INSYNC) | S(RESTART_WORKLOADS) | END, 0},
				 step_update_dns},
	[GDB_STEP_WAIT_DNS_INSYNC] = {{MOVES, TAIL_DNS, 0}, step_wait_dns},
	[GDB_STEP_PUBLISH_SSM] = {{ALL, S(RESTART_WORKLOADS) | END, 0}, step_publish_ssm},
	[GDB_STEP_RESTART_WORKLOADS] = {{MOVES, END, 0}, step_restart_workloads},
	[GDB_STEP_FENCE_OLD_WRITER] = {{T(FALLBACK), S(DELETE_OLD_GLOBAL_CLUSTER) | END, 0},
				       step_fence},
	[GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER] = {{T(FALLBACK), S(CREATE_GLOBAL_CLUSTER) | END, 0},
						step_delete_old_global},
	[GDB_STEP_CREATE_GLOBAL_CLUSTER] = {{T(FALLBACK), S(CREATE_SECONDARY) | END, 0},
					    step_create_global},
	[GDB_STEP_CREATE_SECONDARY] = {{T(FALLBACK),
					S(CREATE_INSTANCES) | S(FENCE_OLD_WRITER) | END, 0},
				       step_create_secondary},
	[GDB_STEP_CREATE_INSTANCES] = {{T(FALLBACK), S(WAIT_CONNECTED) | END, 0},
				       step_create_instances},
	[GDB_STEP_WAIT_CONNECTED] = {{T(FALLBACK), S(FENCE_OLD_WRITER) | S(PUBLISH_SSM) | END,
				      T(FALLBACK)},
				     step_wait_connected},
	[GDB_STEP_WAIT_READDED] = {{T(FALLBACK), S(COPY_SNAPSHOT) | END, T(FALLBACK)},
				   step_wait_readded},
	[GDB_STEP_COPY_SNAPSHOT] = {{T(FALLBACK), END, T(FALLBACK)}, step_copy_snapshot},
};

#undef S
#undef T
#undef END
#undef TAIL_DNS
#undef MOVES
#undef ALL

const struct gdb_step_def *gdb_step_def(enum gdb_step step)
{
	return (unsigned)step < GDB_STEP__COUNT ? &step_table[step].def : NULL;
}

/* ---- the entry point ---- */

void gdb_plan(const struct gdb_spec *spec, const struct gdb_status *status,
	      const struct gdb_observed *observed, const struct gdb_health *health, int64_t now_ms,
	      struct gdb_plan *out)
{
	static const struct gdb_health no_health;
	struct ctx c = {
		.spec = spec,
		.old = status,
		.obs = observed,
		.health = health ? health : &no_health,
		.now = now_ms,
		.out = out,
		.st = &out->status,
	};
	char err[GDB_ERRLEN];
	int rc = CONTINUE;

	memset(out, 0, sizeof(*out));
	gdb_status_copy(&out->status, status);
	out->requeue_after_ms = GDB_REQUEUE_STEADY_MS;

	out->status.observed_generation = observed->generation;
	if (gdb_spec_validate(spec, err, sizeof(err)) < 0) {
		if (observed->deleting) {
			struct gdb_action *a = act(&c, GDB_ACT_REMOVE_FINALIZER, NULL, 0);

			xsetf(&a->reason, "invalid spec: nothing to delete in AWS");
			return;
		}
		degraded(&c, "InvalidSpec", "%s", err);
		if (!old_degraded_is(&c, "InvalidSpec"))
			event(&c, GDB_EVENT_WARNING, "InvalidSpec", "%s", err);
		act(&c, GDB_ACT_NONE, NULL, GDB_REQUEUE_MAX_MS);
		finalize_conditions(&c);
		return;
	}
	derive_global(&c);
	derive_writer(&c);
	update_regions(&c);

	if (observed->deleting) {
		plan_delete(&c);
		own_check(&c);
		finalize_conditions(&c);
		return;
	}
	if (is_paused(&c) || (gdb_status_condition(status, "Progressing") &&
			      streq(gdb_status_condition(status, "Progressing")->reason, "Paused")))
		out->status.last_paused_ms = now_ms; /* paused now, or resumed just now */
	if (is_paused(&c)) {
		act(&c, GDB_ACT_NONE, NULL, GDB_REQUEUE_STEADY_MS);
		if (!gdb_status_condition(status, "Progressing") ||
		    !streq(gdb_status_condition(status, "Progressing")->reason, "Paused"))
			event(&c, GDB_EVENT_NORMAL, "Paused", "%s is true: no AWS calls",
			      GDB_ANNOTATION_PAUSED);
		finalize_conditions(&c);
		return;
	}
	if (own_gate(&c) == DONE) {
		finalize_conditions(&c);
		return;
	}

	preempt_for_failover(&c);
	/* Each pass either decides (DONE) or changed the step and runs again. */
	for (int pass = 0; pass < 16 && rc == CONTINUE; pass++) {
		if (out->status.operation.type != GDB_OP_NONE) {
			rc = run_step(&c);
			continue;
		}
		if (pass > 8)
			break;
		if ((rc = consider_failover(&c)) == DONE)
			break;
		if (out->status.operation.type != GDB_OP_NONE)
			continue;
		if ((rc = consider_fallback(&c)) == DONE)
			break;
		if (out->status.operation.type != GDB_OP_NONE)
			continue;
		if ((rc = consider_provisioning(&c)) == DONE)
			break;
		if ((rc = consider_switchover(&c)) == DONE)
			break;
		if (out->status.operation.type != GDB_OP_NONE)
			continue;
		/* Steady state: observe again at a leisurely pace (probes requeue sooner). */
		act(&c, GDB_ACT_NONE, NULL, GDB_REQUEUE_STEADY_MS);
		rc = DONE;
	}
	if (rc == CONTINUE)
		act(&c, GDB_ACT_NONE, NULL, GDB_REQUEUE_FAST_MS); /* more steps next round */
	own_check(&c);
	/* The rows again, so roles reflect this call's decision (a rebuild, a new writer). */
	update_regions(&c);
	finalize_conditions(&c);
}

void action_release(struct gdb_action *a)
{
	free(a->region);
	free(a->global_cluster_identifier);
	free(a->db_cluster_identifier);
	free(a->target_arn);
	free(a->instance_id);
	free(a->snapshot_id);
	free(a->source_snapshot_id);
	free(a->source_region);
	free(a->engine_version);
	free(a->writer_endpoint);
	free(a->reader_endpoint);
	free(a->change_id);
	free(a->restart_stamp);
	free(a->owner);
	free(a->owner_uid);
	free(a->reason);
	memset(a, 0, sizeof(*a));
}

void gdb_plan_release(struct gdb_plan *p)
{
	if (!p)
		return;
	action_release(&p->action);
	gdb_status_release(&p->status);
	for (size_t i = 0; i < p->n_events; i++) {
		free(p->events[i].reason);
		free(p->events[i].message);
	}
	free(p->refusal);
	memset(p, 0, sizeof(*p));
}
