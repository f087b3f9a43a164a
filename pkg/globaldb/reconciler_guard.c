/*
 * The two-controller guard's part of a reconcile (reconciler.h; the guard is
 * guard.h and guard_io.h). With the guard configured, every reconcile runs a
 * guard round after planning: it publishes this controller's verdict on the
 * primary and, when the plan makes a call of an operation (the switchover,
 * failover or detach itself, and the operation's later AWS calls: Route 53,
 * SSM, ECS, the fence), asks the guard first. A call the guard holds back is
 * not made: the round persists the old status with the Guarded condition
 * instead of the plan's (so the operation is not recorded as started here),
 * and observes again soon. Provisioning outside an operation, deletion and
 * Kubernetes-only workload restarts are not guarded: each controller
 * restarts its own cluster's workloads.
 *
 * A call the guard allows is made on a fresh re-check: the regions are
 * observed again, uncached, and planned again; only when the new plan asks
 * for the same call is it made.
 */
#include "pkg/globaldb/reconciler_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The operation a plan's call belongs to, or GDB_GUARD_OP_NONE when it needs no guard. */
static void intent_of(const struct gdb_spec *spec, const struct gdb_status *old,
		      const struct gdb_plan *plan, int64_t call_timeout_ms,
		      struct gdb_guard_intent *in)
{
	enum gdb_action_kind k = plan->action.kind;
	const struct gdb_operation *op = plan->status.operation.type != GDB_OP_NONE
						 ? &plan->status.operation
						 : &old->operation;

	memset(in, 0, sizeof(*in));
	in->promote = promotes(k);
	if (!in->promote) {
		if (!gdb_action_calls_aws(k) || k == GDB_ACT_WAIT_DNS_INSYNC ||
		    op->type == GDB_OP_NONE)
			return;
		if (k == GDB_ACT_RESTART_WORKLOADS && spec->n_ecs_services == 0)
			return;
	}
	if (k == GDB_ACT_SWITCHOVER)
		in->op = GDB_GUARD_OP_SWITCHOVER;
	else if (k == GDB_ACT_FAILOVER_MANAGED)
		in->op = GDB_GUARD_OP_FAILOVER_MANAGED;
	else if (k == GDB_ACT_DETACH_AND_PROMOTE)
		in->op = GDB_GUARD_OP_DETACH;
	else if (op->type == GDB_OP_FAILOVER)
		in->op = op->method == GDB_OPM_DETACH ? GDB_GUARD_OP_DETACH
						      : GDB_GUARD_OP_FAILOVER_MANAGED;
	else
		in->op = GDB_GUARD_OP_SWITCHOVER;
	in->target = op->target_region ? op->target_region : plan->action.region;
	in->source = op->source_region ? op->source_region : old->current_primary_region;
	in->call_timeout_ms = call_timeout_ms;
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

/* Turns plan into "no call": the old status, no Events of the planner's, a quick requeue. */
static void hold_back(const struct gdb_status *old, struct gdb_plan *plan, int64_t requeue_ms)
{
	for (size_t i = 0; i < plan->n_events; i++) {
		free(plan->events[i].reason);
		free(plan->events[i].message);
	}
	plan->n_events = 0;
	gdb_status_release(&plan->status);
	gdb_status_copy(&plan->status, old);
	plan->action.kind = GDB_ACT_WAIT;
	plan->requeue_after_ms = requeue_ms;
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
	int64_t period =
		(spec->health_check.period_seconds > 0 ? spec->health_check.period_seconds : 5) *
		1000;

	(void)s;
	memset(note, 0, sizeof(*note));
	g.key = key;
	g.mine = my_verdict(spec, old, ob, h, plan);
	g.freshness_ms = 2 * period + GDB_REQUEUE_FAST_MS;
	intent_of(spec, old, plan, r->o.guard_call_timeout_ms, &g.intent);
	gdb_guard_run(r->o.guard, &g);

	if (g.intent.op != GDB_GUARD_OP_NONE && g.allow) {
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
			gdb_plan_release(&plan2);
			gdb_observation_release(&ob2);
			g.held_back = 1;
			g.reason = "LeaseHeld";
			hold_back(old, plan, GDB_REQUEUE_NOW_MS);
		}
	} else if (g.held_back) {
		hold_back(old, plan, GDB_REQUEUE_FAST_MS);
	}
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
	return g.held_back ? 0 : 1;
}

void guard_record(struct gdb_reconciler *r, json_t *obj, const struct guard_note *note)
{
	if (r->o.recorder && note->event_reason)
		kube_recorder_event(r->o.recorder, obj, note->warning ? "Warning" : "Normal",
				    note->event_reason, "Guard", "%s", note->message);
}
