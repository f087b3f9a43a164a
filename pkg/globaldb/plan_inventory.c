/*
 * plan_inventory.c - the decisions without an operation in flight (failover,
 * fallback, provisioning, switchover, pre-emption) and deletion.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/globaldb/ownership.h"

/* ---- the decisions without an operation in flight ---- */

int consider_failover(struct ctx *c)
{
	int failing;
	const char *target = failover_target(c, &failing, 0);
	struct gdb_action *a;

	if (!target)
		return failing ? DONE : CONTINUE;
	if (c->spec->failover.mode == GDB_MODE_MANUAL) {
		const char *why = c->lag_unknown ? " (its replication lag is unknown: approving "
						   "accepts a data loss no heartbeat bounds)"
						 : "";

		start_op(c, GDB_OP_FAILOVER, GDB_OPM_NONE, c->writer, target,
			 GDB_STEP_AWAITING_APPROVAL);
		event(c, GDB_EVENT_WARNING, "FailoverRecommended",
		      "the writer in %s failed %d probes and RDS confirms; failover to %s is "
		      "recommended%s; approve with annotation %s",
		      c->writer, health_region(c, c->writer)->consecutive_failures, target, why,
		      GDB_ANNOTATION_APPROVE_FAILOVER);
		/* An approval held over and dated in the future is refused now, not a round later. */
		approved(c, c->obs->approve_failover, GDB_ANNOTATION_APPROVE_FAILOVER);
		degraded(c, "AwaitingFailoverApproval",
			 "failover to %s is recommended%s: kubectl annotate gdb <name> "
			 "%s=$(date -u +%%FT%%TZ)",
			 target, why, GDB_ANNOTATION_APPROVE_FAILOVER);
		a = act(c, GDB_ACT_RECOMMEND_FAILOVER, target, GDB_REQUEUE_WAIT_MS);
		xsetf(&a->reason, "failover to %s recommended", target);
		return DONE;
	}
	begin_failover(c, target);
	return CONTINUE; /* the caller runs the new step */
}

int consider_fallback(struct ctx *c)
{
	const struct gdb_operation *last = &c->st->last_operation;
	const char *r = NULL;
	enum gdb_op_method method = GDB_OPM_DETACH;

	if (c->writer_standalone && c->st->global_cluster_identifier) {
		/* After a detach: a returning region's stale cluster is rebuilt. */
		r = stale_region(c);
		if (!r) {
			if (any_region_unreachable(c))
				degraded(c, "RegionUnreachable",
					 "waiting for the lost region to answer before falling "
					 "back");
			return CONTINUE;
		}
	} else if (last->type == GDB_OP_FAILOVER && last->result == GDB_RESULT_SUCCEEDED &&
		   last->method == GDB_OPM_MANAGED) {
		r = last->source_region;
		method = GDB_OPM_MANAGED;
		if (!gdb_spec_region(c->spec, r, NULL))
			return CONTINUE;
	} else {
		return CONTINUE;
	}
	start_op(c, GDB_OP_FALLBACK, method, c->writer, r, GDB_STEP_AWAITING_APPROVAL);
	event(c, GDB_EVENT_NORMAL, "FallbackStarted", "%s answers again; fallback to rebuild it",
	      r);
	return CONTINUE;
}

int consider_provisioning(struct ctx *c)
{
	const char *p = c->spec->primary_region;
	const struct gdb_obs_region *op = obs_region(c, p);
	struct gdb_action *a;

	if (!c->global) {
		const char *id = c->st->global_cluster_identifier
					 ? c->st->global_cluster_identifier
					 : c->spec->global_cluster_identifier;

		if (!op || op->api != GDB_CALL_OK) {
			degraded(c, "AwsUnreachable", "the RDS API of %s does not answer (%s)", p,
				 call_name(op ? op->api : GDB_CALL_UNKNOWN));
			act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
			return DONE;
		}
		if (!op->cluster_exists) {
			degraded(c, "PrimaryClusterNotFound",
				 "the DB cluster %s does not exist in %s; create it, or fix "
				 "spec.regions",
				 cluster_id(c, p), p);
			act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_STEADY_MS);
			return DONE;
		}
		if (op->global_cluster_identifier && streq(op->global_cluster_identifier, id)) {
			degraded(c, "GlobalClusterNotObserved",
				 "the DB cluster %s is in %s, but DescribeGlobalClusters did not "
				 "show it; not creating anything",
				 cluster_id(c, p), id);
			act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
			return DONE;
		}
		if (op->global_cluster_identifier) {
			degraded(c, "ClusterInForeignGlobalCluster",
				 "the DB cluster %s belongs to global cluster %s, not %s",
				 cluster_id(c, p), op->global_cluster_identifier, id);
			act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_STEADY_MS);
			return DONE;
		}
		progressing(c, "Provisioning", "creating global cluster %s", id);
		if (!streq(op->cluster_status, "available")) {
			act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
			return DONE;
		}
		a = act(c, GDB_ACT_CREATE_GLOBAL_CLUSTER, p, GDB_REQUEUE_FAST_MS);
		a->global_cluster_identifier = xstrdup(id);
		a->db_cluster_identifier = xstrdup(cluster_id(c, p));
		a->target_arn = xstrdup(op->cluster_arn ? op->cluster_arn : "");
		xsetf(&a->reason, "no global cluster %s yet", id);
		event(c, GDB_EVENT_NORMAL, "CreatingGlobalCluster",
		      "CreateGlobalCluster %s from %s", id, cluster_id(c, p));
		return DONE;
	}
	if (c->writer_standalone)
		return CONTINUE; /* nothing joins a global cluster the writer is not in */
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const struct gdb_region_spec *rs = &c->spec->regions[i];
		const struct gdb_obs_region *o = obs_region(c, rs->name);

		if (!o || o->api != GDB_CALL_OK) {
			degraded(c, "RegionUnreachable", "the RDS API of %s does not answer (%s)",
				 rs->name, call_name(o ? o->api : GDB_CALL_UNKNOWN));
			continue;
		}
		if (!o->cluster_exists) {
			if (streq(rs->name, c->writer))
				continue;
			if (!rs->has_template) {
				degraded(c, "TemplateMissing",
					 "the secondary %s does not exist in %s and "
					 "spec.regions[%zu].template is not set",
					 rs->db_cluster_identifier, rs->name, i);
				continue;
			}
			if (!c->writer)
				continue;
			progressing(c, "Provisioning", "creating the secondary in %s", rs->name);
			create_secondary(c, rs->name);
			return DONE;
		}
		if (!in_current_global(c, o)) {
			degraded(c, "ClusterNotInGlobalCluster",
				 "the DB cluster %s in %s is not a member of %s; not touching it",
				 rs->db_cluster_identifier, rs->name, c->global->identifier);
			continue;
		}
		if (rs->has_template && o->n_instances < (size_t)rs->template.instances &&
		    !streq(o->cluster_status, "creating")) {
			progressing(c, "Provisioning", "creating instances in %s", rs->name);
			create_instance(c, rs->name, o);
			return DONE;
		}
		if (o->n_instances == 0 && !streq(rs->name, c->writer) &&
		    !streq(o->cluster_status, "creating"))
			degraded(c, "SecondaryHeadless",
				 "the secondary in %s has no instances and cannot take over",
				 rs->name);
	}
	return CONTINUE;
}

int consider_switchover(struct ctx *c)
{
	const char *p = c->spec->primary_region;
	const struct gdb_operation *last = &c->st->last_operation;
	char buf[256];
	const char *why;

	if (!c->writer || streq(c->writer, p) || !c->global || c->writer_standalone)
		return CONTINUE;
	if (last->type == GDB_OP_SWITCHOVER && last->result == GDB_RESULT_FAILED &&
	    c->now - last->finished_ms < GDB_REQUEUE_MAX_MS) {
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_MAX_MS - (c->now - last->finished_ms));
		degraded(c, "SwitchoverFailed", "the last switchover to %s failed; retrying soon",
			 last->target_region ? last->target_region : p);
		return DONE;
	}
	why = switchover_blocker(c, p, buf, sizeof(buf));
	if (why) {
		degraded(c, "SwitchoverBlocked", "spec.primaryRegion is %s but %s", p, why);
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
		return DONE;
	}
	start_op(c, GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, c->writer, p, GDB_STEP_SWITCHOVER);
	return CONTINUE;
}

/*
 * The failover rules' answer without their side effects (refusal Events and
 * conditions), for callers that only ask whether a target qualifies.
 */
const char *quiet_failover_target(struct ctx *c)
{
	char *saved_reason = xstrdup(c->degraded_reason);
	char *saved_msg = xstrdup(c->degraded_msg);
	char *saved_refusal = c->out->refusal;
	size_t saved_events = c->out->n_events;
	const char *target;
	int failing;

	c->out->refusal = NULL;
	target = failover_target(c, &failing, 0);
	while (c->out->n_events > saved_events) {
		struct gdb_event *e = &c->out->events[--c->out->n_events];

		free(e->reason);
		free(e->message);
	}
	free(c->out->refusal);
	c->out->refusal = saved_refusal;
	snprintf(c->degraded_reason, sizeof(c->degraded_reason), "%s", saved_reason);
	snprintf(c->degraded_msg, sizeof(c->degraded_msg), "%s", saved_msg);
	free(saved_reason);
	free(saved_msg);
	return target;
}

/*
 * A failing writer outranks an operation that is only waiting: a fallback
 * waiting for approval, for Aurora's re-add, for a snapshot or for a rebuilt
 * region, or a switchover whose call has not taken effect. Those are cancelled
 * when a failover target qualifies, and the failover rules run as usual.
 */
void preempt_for_failover(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	enum gdb_step s = op->step;

	/* The step table says where; a switchover Aurora already runs is not ours to cancel. */
	if ((unsigned)s >= GDB_STEP__COUNT || !(step_table[s].def.preempt & GDB_OP_BIT(op->type)) ||
	    (op->type == GDB_OP_SWITCHOVER && c->global && c->global->failover_status))
		return;
	if (!quiet_failover_target(c))
		return;
	event(c, GDB_EVENT_WARNING, "OperationPreempted",
	      "%s to %s cancelled: the writer in %s failed", gdb_op_type_name(op->type),
	      op->target_region ? op->target_region : "-", c->writer);
	finish_op(c, GDB_RESULT_CANCELLED, "preempted by a failover");
}

/* ---- deletion ---- */

int plan_delete(struct ctx *c)
{
	/* Only what carries our owner tags is deleted (plan_ownership.c); the rest stays. */
	const struct gdb_obs_global *gl = own_deletable_global(c, c->global) ? c->global : NULL;
	int left = c->global && !gl;
	struct gdb_action *a;

	if (c->spec->deletion_policy == GDB_DELETION_RETAIN) {
		a = act(c, GDB_ACT_REMOVE_FINALIZER, NULL, 0);
		xsetf(&a->reason, "deletionPolicy Retain: the AWS resources stay");
		event(c, GDB_EVENT_NORMAL, "Retained",
		      "deletionPolicy is Retain; global cluster and clusters are left in AWS");
		return DONE;
	}
	if (is_paused(c)) {
		progressing(c, "Paused", "deletion waits while %s is true", GDB_ANNOTATION_PAUSED);
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_STEADY_MS);
		return DONE;
	}
	progressing(c, "Deleting", "deleting the AWS resources (deletionPolicy Delete)");
	/* Secondaries first (reverse spec order), the writer last. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = c->spec->n_regions; k-- > 0;) {
			const char *r = c->spec->regions[k].name;
			const struct gdb_obs_region *o = obs_region(c, r);

			if ((pass == 0) == streq(r, c->writer))
				continue;
			if (!o || o->api != GDB_CALL_OK) {
				degraded(c, "RegionUnreachable", "deletion waits for %s", r);
				act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_STEADY_MS);
				return DONE;
			}
			if (!o->cluster_exists)
				continue;
			if (!own_deletable_cluster(c, o) ||
			    (global_of(c, o) && (!gl || !streq(global_of(c, o), gl->identifier)))) {
				left = 1;
				continue;
			}
			if (streq(o->cluster_status, "deleting")) {
				act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
				return DONE;
			}
			if (global_of(c, o)) {
				a = act(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, r,
					GDB_REQUEUE_WAIT_MS);
				a->global_cluster_identifier = xstrdup(global_of(c, o));
				a->db_cluster_identifier = xstrdup(cluster_id(c, r));
				a->target_arn = xstrdup(o->cluster_arn ? o->cluster_arn : "");
				xsetf(&a->reason, "deletionPolicy Delete");
				return DONE;
			}
			if (o->n_instances > 0) {
				a = act(c, GDB_ACT_DELETE_INSTANCES, r, GDB_REQUEUE_WAIT_MS);
				a->db_cluster_identifier = xstrdup(cluster_id(c, r));
				xsetf(&a->reason, "deletionPolicy Delete");
				return DONE;
			}
			a = act(c, GDB_ACT_DELETE_CLUSTER, r, GDB_REQUEUE_WAIT_MS);
			a->db_cluster_identifier = xstrdup(cluster_id(c, r));
			a->snapshot_id = xasprintf("%s-final", cluster_id(c, r));
			xsetf(&a->reason, "deletionPolicy Delete: final snapshot %s",
			      a->snapshot_id);
			event(c, GDB_EVENT_NORMAL, "DeletingCluster",
			      "DeleteDBCluster %s with final snapshot %s", cluster_id(c, r),
			      a->snapshot_id);
			return DONE;
		}
		if (pass == 0 && gl) {
			if (gl->n_members > 1 || streq(gl->status, "deleting")) {
				act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
				return DONE;
			}
			if (gl->n_members == 0) {
				a = act(c, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, c->writer,
					GDB_REQUEUE_WAIT_MS);
				a->global_cluster_identifier = xstrdup(gl->identifier);
				xsetf(&a->reason, "deletionPolicy Delete");
				return DONE;
			}
			/* The writer is the last member: detach it, then delete the global. */
		}
	}
	if (gl) {
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
		return DONE;
	}
	a = act(c, GDB_ACT_REMOVE_FINALIZER, NULL, 0);
	xsetf(&a->reason, "the AWS resources are deleted");
	if (left)
		event(c, GDB_EVENT_WARNING, "NotOwnedRetained",
		      "deletionPolicy Delete left in AWS what does not carry the tags %s=%s and "
		      "its uid",
		      GDB_TAG_OWNER, c->obs->owner ? c->obs->owner : "-");
	return DONE;
}
