/*
 * The two-controller guard's part of a reconcile (reconciler.h; the guard is
 * guard.h and guard_io.h). With the guard configured, every reconcile runs a
 * guard round after planning: it publishes this controller's verdict on the
 * primary and, when the plan makes a call of an operation (the switchover,
 * failover or detach itself, and the operation's later AWS calls: Route 53,
 * SSM, ECS, the fence), asks the guard first. A call the guard holds back is
 * not made: the round persists the plan's view of AWS but the old operation
 * record, with the Guarded condition (so the operation is not recorded as
 * started here), and observes again soon. Provisioning outside an operation, deletion and
 * Kubernetes-only workload restarts are not guarded: each controller
 * restarts its own cluster's workloads.
 *
 * A round of an operation that makes no call (AWS is working) names the
 * operation too: the holder renews its lease there, and a controller whose
 * peer holds it does not record the operation as its own. A controller that
 * takes over an expired lease its own plan has no operation for (its holder
 * died mid-way) records the lease's operation and continues it. When the
 * writer moved under a peer's operation, this controller restarts its own
 * cluster's Deployments and StatefulSets (the peer restarts its own and the
 * ECS services).
 *
 * The approve-failover annotation reaches the guard too: a detach waiting for
 * corroboration is approved by it (guard_io.h).
 *
 * A call the guard allows is made on a fresh re-check: the regions are
 * observed again, uncached, and planned again; only when the new plan asks
 * for the same call is it made.
 *
 * When the holder released the operation as completed (every AWS call of it
 * made) and this controller's record of it still has later calls to make (a
 * follower of a peer's detach), those are not made again: the plan is made
 * again with the tail taken as done by the peer, leaving this cluster's
 * Deployments and StatefulSets to restart and the record to end.
 */
#include "pkg/globaldb/reconciler_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/log.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/executor.h"
#include "pkg/globaldb/guard_io.h"

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int promotes(enum gdb_action_kind k)
{
	return k == GDB_ACT_SWITCHOVER || k == GDB_ACT_FAILOVER_MANAGED ||
	       k == GDB_ACT_DETACH_AND_PROMOTE;
}

/*
 * Whether the action is an AWS call the guard must allow (see the top of this
 * file): a restart is one when it forces an ECS service.
 */
static int guarded_call(const struct gdb_spec *spec, const struct gdb_action *a)
{
	if (promotes(a->kind))
		return 1;
	if (!gdb_action_calls_aws(a->kind) || a->kind == GDB_ACT_WAIT_DNS_INSYNC)
		return 0;
	if (a->kind != GDB_ACT_RESTART_WORKLOADS)
		return 1;
	for (size_t i = 0; i < spec->n_ecs_services && i < 64; i++)
		if (!(a->ecs_skip >> i & 1))
			return 1;
	return 0;
}

/* The guard's name of an operation record (GDB_GUARD_OP_NONE for none or a fallback). */
static enum gdb_guard_op guard_op_of(const struct gdb_operation *op)
{
	if (op->type == GDB_OP_FAILOVER)
		return op->method == GDB_OPM_DETACH ? GDB_GUARD_OP_DETACH
						    : GDB_GUARD_OP_FAILOVER_MANAGED;
	return op->type == GDB_OP_SWITCHOVER ? GDB_GUARD_OP_SWITCHOVER : GDB_GUARD_OP_NONE;
}

/* The operation my last record says completed: what a release records as ended. */
static void done_of(const struct gdb_status *old, struct gdb_guard_intent *done)
{
	const struct gdb_operation *last = &old->last_operation;

	memset(done, 0, sizeof(*done));
	if (last->result != GDB_RESULT_SUCCEEDED)
		return;
	done->op = guard_op_of(last);
	done->source = last->source_region;
	done->target = last->target_region;
}

/*
 * The operator's approval (globaldb.io/approve-failover), unix ms; 0 when
 * absent or not a time the planner accepts (it says why in a condition).
 */
static int64_t approval_of(const struct gdb_observation *ob)
{
	int64_t t;

	if (!ob->obs.approve_failover ||
	    gdb_approval_time(ob->obs.approve_failover, base_now_real_ms(), &t) < 0)
		return 0;
	return t;
}

/*
 * The operation the plan is in (or starts with its call; or, in the round
 * that ends it, the one it ends), GDB_GUARD_OP_NONE when none: then a lease
 * this controller holds is released. A round of an
 * operation that makes no call still names it, so the holder renews the
 * lease while AWS works instead of releasing it.
 */
static void intent_of(const struct gdb_spec *spec, const struct gdb_status *old,
		      const struct gdb_plan *plan, int64_t call_timeout_ms,
		      struct gdb_guard_intent *in, int *calls)
{
	enum gdb_action_kind k = plan->action.kind;
	const struct gdb_operation *op = plan->status.operation.type != GDB_OP_NONE
						 ? &plan->status.operation
						 : &old->operation;

	memset(in, 0, sizeof(*in));
	in->promote = promotes(k);
	*calls = guarded_call(spec, &plan->action) && (in->promote || op->type != GDB_OP_NONE);
	if (!in->promote && op->type == GDB_OP_NONE)
		return;
	if (k == GDB_ACT_SWITCHOVER)
		in->op = GDB_GUARD_OP_SWITCHOVER;
	else if (k == GDB_ACT_FAILOVER_MANAGED)
		in->op = GDB_GUARD_OP_FAILOVER_MANAGED;
	else if (k == GDB_ACT_DETACH_AND_PROMOTE)
		in->op = GDB_GUARD_OP_DETACH;
	else if (guard_op_of(op) != GDB_GUARD_OP_NONE)
		in->op = guard_op_of(op);
	else
		in->op = GDB_GUARD_OP_SWITCHOVER; /* a fallback's calls */
	in->tail = !in->promote && guard_op_of(op) != GDB_GUARD_OP_NONE;
	in->target = op->target_region ? op->target_region : plan->action.region;
	in->source = op->source_region ? op->source_region : old->current_primary_region;
	in->call_timeout_ms = *calls ? call_timeout_ms : 0;
}

/*
 * My verdict on the primary, by the one-controller rules: reachable while the
 * writer's probes succeed; unreachable when my plan fails it over, or when its
 * probes fail, its region's RDS API does not answer and no secondary still
 * hears it; unknown otherwise.
 */
static enum gdb_guard_seen my_verdict(const struct gdb_spec *spec, const struct gdb_status *old,
				      const struct gdb_observation *ob, const struct gdb_health *h,
				      const struct gdb_plan *plan)
{
	const char *writer =
		old->current_primary_region ? old->current_primary_region : spec->primary_region;
	int probe_down = 0, api_down = 0;

	if (plan->action.kind == GDB_ACT_FAILOVER_MANAGED ||
	    plan->action.kind == GDB_ACT_DETACH_AND_PROMOTE)
		return GDB_GUARD_UNREACHABLE;
	for (size_t i = 0; i < h->n_regions; i++) {
		const struct gdb_health_region *hr = &h->regions[i];

		if (streq(hr->name, writer)) {
			if (hr->writer_healthy == 1)
				return GDB_GUARD_REACHABLE;
			probe_down = hr->writer_healthy == 0;
		} else if (hr->upstream_age_ms >= 0 &&
			   hr->upstream_age_ms < GDB_PRIMARY_SILENT_MS) {
			return GDB_GUARD_UNKNOWN; /* a secondary still hears it */
		}
	}
	for (size_t i = 0; i < ob->obs.n_regions; i++)
		if (streq(ob->obs.regions[i].name, writer))
			api_down = ob->obs.regions[i].api == GDB_CALL_UNREACHABLE ||
				   ob->obs.regions[i].api == GDB_CALL_TIMEOUT;
	return probe_down && api_down ? GDB_GUARD_UNREACHABLE : GDB_GUARD_UNKNOWN;
}

/*
 * Turns plan into "no call": the plan's view of AWS stays (the writer, the
 * regions), but the operation is the old one (the plan's is not recorded
 * here), with no Events of the planner's and a quick requeue.
 */
static void hold_back(const struct gdb_status *old, struct gdb_plan *plan, int64_t requeue_ms)
{
	for (size_t i = 0; i < plan->n_events; i++) {
		free(plan->events[i].reason);
		free(plan->events[i].message);
	}
	plan->n_events = 0;
	gdb_operation_release(&plan->status.operation);
	gdb_operation_copy(&plan->status.operation, &old->operation);
	gdb_operation_release(&plan->status.last_operation);
	gdb_operation_copy(&plan->status.last_operation, &old->last_operation);
	plan->action.kind = GDB_ACT_WAIT;
	plan->requeue_after_ms = requeue_ms;
}

/*
 * The status with the operation the lease names, at its first step: what a
 * controller that took over an expired lease continues. The steps decide from
 * observation (planner.h), so starting at the first one repeats nothing that
 * already took effect: a promotion that shows moves on to the tail.
 */
static void adopt(const struct gdb_status *old, const struct gdb_guard_round *g,
		  struct gdb_plan *plan, int64_t requeue_ms)
{
	struct gdb_operation *op;
	int64_t prev = old->operation.id > old->last_operation.id ? old->operation.id
								  : old->last_operation.id;

	hold_back(old, plan, requeue_ms);
	op = &plan->status.operation;
	gdb_operation_release(op);
	op->id = prev + 1;
	switch (g->lease_op) {
	case GDB_GUARD_OP_FAILOVER_MANAGED:
		op->type = GDB_OP_FAILOVER;
		op->method = GDB_OPM_MANAGED;
		op->step = GDB_STEP_FAILOVER_MANAGED;
		break;
	case GDB_GUARD_OP_DETACH:
		op->type = GDB_OP_FAILOVER;
		op->method = GDB_OPM_DETACH;
		op->step = GDB_STEP_DETACH;
		break;
	default:
		op->type = GDB_OP_SWITCHOVER;
		op->method = GDB_OPM_SWITCHOVER;
		op->step = GDB_STEP_SWITCHOVER;
		break;
	}
	op->source_region = g->lease_source[0] ? xstrdup(g->lease_source) : NULL;
	op->target_region = g->lease_target[0] ? xstrdup(g->lease_target) : NULL;
	op->started_ms = op->step_started_ms = base_now_real_ms();
}

/*
 * The writer moved under an operation of a peer's: this cluster's
 * Deployments and StatefulSets are restarted here, by this controller (the
 * peer restarts its own cluster's, and the ECS services once).
 */
static int restart_for_peer(const struct gdb_spec *spec, const struct gdb_status *old,
			    struct gdb_plan *plan)
{
	const char *from = old->current_primary_region;
	const char *to = plan->status.current_primary_region;
	struct gdb_action *a = &plan->action;
	char iso[40];

	if ((a->kind != GDB_ACT_NONE && a->kind != GDB_ACT_WAIT) ||
	    plan->status.operation.type != GDB_OP_NONE || old->operation.type != GDB_OP_NONE ||
	    !from || !to || streq(from, to) || spec->n_deployments + spec->n_stateful_sets == 0)
		return 0;
	base_time_format(base_now_real_ms(), iso, sizeof(iso));
	a->kind = GDB_ACT_RESTART_WORKLOADS;
	gdb_set_str(&a->region, to);
	gdb_set_str(&a->restart_stamp, iso);
	a->ecs_skip = ~(uint64_t)0;
	xsetf(&a->reason, "the writer moved from %s to %s under another controller's operation",
	      from, to);
	return 1;
}

/*
 * The lease records my operation as completed by peer: plan again with the
 * tail's AWS calls taken as made (planner.h, tail_done_by). What is left is
 * this cluster's restart, or the end of the record. 1 when the plan still
 * wants a guarded call (it is then held back), 0 otherwise.
 */
static int done_by_peer(const struct gdb_spec *spec, const struct gdb_status *old,
			struct gdb_observation *ob, const struct gdb_health *h,
			struct gdb_plan *plan, const char *peer)
{
	struct gdb_plan again;

	ob->obs.tail_done_by = peer;
	gdb_plan(spec, old, &ob->obs, h, base_now_real_ms(), &again);
	ob->obs.tail_done_by = NULL;
	if (guarded_call(spec, &again.action)) {
		gdb_plan_release(&again);
		hold_back(old, plan, GDB_REQUEUE_FAST_MS);
		return 1;
	}
	gdb_plan_release(plan);
	*plan = again;
	return 0;
}

static int same_call(const struct gdb_action *a, const struct gdb_action *b)
{
	return a->kind == b->kind && (a->region == b->region || streq(a->region, b->region)) &&
	       (a->target_arn == b->target_arn || streq(a->target_arn, b->target_arn));
}

int guard_gate(struct gdb_reconciler *r, struct key_state *s, const char *key,
	       const struct gdb_spec *spec, const struct gdb_status *old, json_t *obj, int64_t gen,
	       struct gdb_observation *ob, struct gdb_health *h, struct gdb_plan *plan,
	       struct guard_note *note)
{
	struct gdb_guard_round g = {0};
	int calls, held = 0;
	int64_t period =
		(spec->health_check.period_seconds > 0 ? spec->health_check.period_seconds : 5) *
		1000;

	(void)s;
	memset(note, 0, sizeof(*note));
	g.key = key;
	g.mine = my_verdict(spec, old, ob, h, plan);
	g.primary =
		old->current_primary_region ? old->current_primary_region : spec->primary_region;
	g.freshness_ms = 2 * period + GDB_REQUEUE_FAST_MS;
	intent_of(spec, old, plan, r->o.guard_call_timeout_ms, &g.intent, &calls);
	done_of(old, &g.done);
	g.approved_ms = approval_of(ob);
	gdb_guard_run(r->o.guard, &g);

	if (calls && g.allow) {
		/* The fresh re-check: the call goes ahead only if a fresh plan still asks for it. */
		struct gdb_observation ob2;
		struct gdb_plan plan2;

		memset(&ob2, 0, sizeof(ob2));
		memset(&plan2, 0, sizeof(plan2));
		for (size_t i = 0; i < spec->n_regions; i++)
			gdb_obs_cache_invalidate(r->cache, spec->regions[i].name);
		observe_and_plan(r, s, spec, old, obj, 0, 0, &ob2, h, &plan2);
		if (same_call(&plan->action, &plan2.action)) {
			gdb_plan_release(plan);
			gdb_observation_release(ob);
			*plan = plan2;
			*ob = ob2;
		} else {
			/* The picture changed since the plan: plan again next round, at once. */
			gdb_plan_release(&plan2);
			gdb_observation_release(&ob2);
			hold_back(old, plan, GDB_REQUEUE_NOW_MS);
			held = 1;
		}
	} else if (g.held_back && g.lease_op == GDB_GUARD_OP_DETACH &&
		   old->operation.type == GDB_OP_NONE && strcmp(g.reason, "HeldByPeer") == 0) {
		/*
		 * A peer's detach is followed here: the promoted cluster stands alone,
		 * outside the global cluster, and only an operation record tells the
		 * plan it is the writer now. Its calls stay the holder's.
		 */
		adopt(old, &g, plan, GDB_REQUEUE_FAST_MS);
		held = 1;
	} else if (g.held_back) {
		/* Not even a wait round: the operation is not recorded here while a peer has it. */
		hold_back(old, plan, GDB_REQUEUE_FAST_MS);
		held = 1;
	} else if (g.decision.verb == GDB_GUARD_DONE) {
		held = done_by_peer(spec, old, ob, h, plan, g.done_by);
	} else if (g.decision.verb == GDB_GUARD_ADOPT && strcmp(g.reason, "LeaseHeld") == 0) {
		/* Recorded now; the next round (at once) renews, re-checks and calls. */
		adopt(old, &g, plan, GDB_REQUEUE_NOW_MS);
		held = 1;
	}
	if (restart_for_peer(spec, old, plan))
		note->restart = 1;
	gdb_status_set_condition(&plan->status, "Guarded",
				 g.held_back ? GDB_COND_FALSE : GDB_COND_TRUE, g.reason, g.message,
				 gen, base_now_real_ms());
	if (plan->requeue_after_ms <= 0 || plan->requeue_after_ms > period)
		plan->requeue_after_ms = period;
	note->event_reason = g.event_reason;
	note->warning = g.event_warning;
	snprintf(note->message, sizeof(note->message), "%s", g.event_message);
	if (g.event_reason || g.held_back)
		base_log(g.held_back ? BASE_LOG_INFO : BASE_LOG_DEBUG, "guard", "key", key,
			 "decision", gdb_guard_verb_name(g.decision.verb), "reason", g.reason,
			 "message", g.message, NULL);
	return held ? 0 : 1;
}

void guard_record(struct gdb_reconciler *r, json_t *obj, const struct guard_note *note)
{
	if (r->o.recorder && note->restart)
		kube_recorder_event(r->o.recorder, obj, "Normal", "RestartingWorkloads", "Guard",
				    "the writer moved under another controller's operation: "
				    "restarting this cluster's deployments and statefulsets");
	if (r->o.recorder && note->event_reason)
		kube_recorder_event(r->o.recorder, obj, note->warning ? "Warning" : "Normal",
				    note->event_reason, "Guard", "%s", note->message);
}
