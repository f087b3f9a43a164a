/*
 * plan_switchover.c - the planned switchover's steps and what blocks one.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"

/* ---- switchover ---- */

/* Why a switchover to target cannot start now, or NULL. */
const char *switchover_blocker(struct ctx *c, const char *target, char *buf, size_t n)
{
	const struct gdb_obs_region *t = cluster_seen(c, target);
	const struct gdb_health_region *hw = health_region(c, c->writer);

	if (!c->global)
		return "no global cluster";
	if (!streq(c->global->status, "available")) {
		snprintf(buf, n, "global cluster %s is %s", c->global->identifier,
			 c->global->status ? c->global->status : "in an unknown state");
		return buf;
	}
	if (c->global->failover_status) {
		snprintf(buf, n, "global cluster %s has a %s operation", c->global->identifier,
			 c->global->failover_status);
		return buf;
	}
	if (!api_ok(c, c->writer)) {
		snprintf(buf, n, "the RDS API of %s does not answer", c->writer);
		return buf;
	}
	if (hw && hw->writer_healthy == 0) {
		snprintf(buf, n, "the writer in %s fails its probes", c->writer);
		return buf;
	}
	if (!t) {
		snprintf(buf, n, "the cluster in %s is not visible", target);
		return buf;
	}
	if (!streq(t->cluster_status, "available")) {
		snprintf(buf, n, "the cluster in %s is %s", target,
			 t->cluster_status ? t->cluster_status : "in an unknown state");
		return buf;
	}
	if (t->n_instances == 0) {
		snprintf(buf, n, "the cluster in %s has no instances", target);
		return buf;
	}
	if (!is_connected(c, target)) {
		snprintf(buf, n, "the cluster in %s is not connected to the global cluster",
			 target);
		return buf;
	}
	return NULL;
}

int step_switchover(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_last_result *l = last_result(c, GDB_ACT_SWITCHOVER);
	const struct gdb_obs_region *t = cluster_seen(c, op->target_region);
	char buf[256];
	const char *why;
	struct gdb_action *a;

	if (streq(c->writer, op->target_region) || (c->global && c->global->failover_status)) {
		set_step(c, GDB_STEP_WAIT_SWITCHOVER);
		return CONTINUE;
	}
	if (hold_call(c, GDB_ACT_SWITCHOVER) == DONE)
		return DONE;
	if (!streq(c->spec->primary_region, op->target_region) && !(op->type == GDB_OP_FALLBACK)) {
		event(c, GDB_EVENT_NORMAL, "SwitchoverCancelled",
		      "spec.primaryRegion is now %s; switchover to %s cancelled",
		      c->spec->primary_region, op->target_region);
		finish_op(c, GDB_RESULT_CANCELLED, "spec.primaryRegion changed");
		return CONTINUE;
	}
	if (op->attempts >= GDB_MAX_SWITCHOVER_ATTEMPTS) {
		event(c, GDB_EVENT_WARNING, "SwitchoverFailed",
		      "switchover to %s failed after %d attempts", op->target_region, op->attempts);
		degraded(c, "SwitchoverFailed", "switchover to %s failed after %d attempts%s%s",
			 op->target_region, op->attempts, l && l->aws_code ? ": " : "",
			 l && l->aws_code ? l->aws_code : "");
		finish_op(c, GDB_RESULT_FAILED, l && l->message ? l->message : "too many attempts");
		return DONE;
	}
	why = switchover_blocker(c, op->target_region, buf, sizeof(buf));
	if (why) {
		degraded(c, "SwitchoverBlocked", "switchover to %s waits: %s", op->target_region,
			 why);
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting: %s", why);
		return DONE;
	}
	a = issue(c, GDB_ACT_SWITCHOVER, c->writer);
	a->global_cluster_identifier = xstrdup(c->global->identifier);
	a->db_cluster_identifier = xstrdup(cluster_id(c, op->target_region));
	a->target_arn = xstrdup(t->cluster_arn ? t->cluster_arn : "");
	xsetf(&a->reason, "spec.primaryRegion is %s, the writer is in %s", op->target_region,
	      c->writer);
	event(c, GDB_EVENT_NORMAL, "SwitchoverStarted",
	      "SwitchoverGlobalCluster %s to %s, called in %s", c->global->identifier,
	      op->target_region, c->writer);
	return DONE;
}

int step_wait_switchover(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	int64_t since = c->now - op->step_started_ms;

	if (c->global && c->global->failover_status) {
		wait_for(c, GDB_REQUEUE_FAST_MS, "FailoverState is %s", c->global->failover_status);
		if (since > 30 * 60 * 1000)
			degraded(c, "SwitchoverSlow",
				 "switchover to %s runs for %" PRId64 " minutes", op->target_region,
				 since / 60000);
		return DONE;
	}
	if (streq(c->writer, op->target_region) && c->global &&
	    streq(c->global->status, "available")) {
		writer_moved(c, op->target_region);
		event(c, GDB_EVENT_NORMAL, "WriterMoved", "the writer is in %s", op->target_region);
		next_tail(c, GDB_STEP_WAIT_SWITCHOVER);
		return CONTINUE;
	}
	if (streq(c->writer, op->target_region) || since < GDB_SETTLE_MS) {
		wait_for(c, GDB_REQUEUE_FAST_MS, "waiting for the global cluster to be available");
		return DONE;
	}
	event(c, GDB_EVENT_WARNING, "SwitchoverCancelled",
	      "the writer stayed in %s: Aurora cancelled or never started the switchover",
	      c->writer ? c->writer : "?");
	degraded(c, "SwitchoverCancelled", "the switchover to %s did not take effect",
		 op->target_region);
	finish_op(c, GDB_RESULT_FAILED, "the writer did not move");
	return DONE;
}
