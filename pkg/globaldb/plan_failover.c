/*
 * plan_failover.c - the unplanned failover: its steps, when an outage is confirmed,
 * and how the target is chosen.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"

/* ---- failover ---- */

/*
 * The chosen target vanished before any call reached it (its region stopped
 * answering): choose again by the same rules. 1 when another target was taken.
 * Never once the operation has called AWS, in this step or an earlier one: a
 * detach or failover of the first target may have taken effect where nobody
 * can see it (its Describe throttled or timing out), and a second target
 * would be a second promotion.
 */
static int retarget(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *target;

	if (op_called(op))
		return 0;
	target = quiet_failover_target(c);
	if (!target || streq(target, op->target_region))
		return 0;
	event(c, GDB_EVENT_WARNING, "FailoverRetargeted", "target %s is gone; failing over to %s",
	      op->target_region, target);
	gdb_set_str(&op->target_region, target);
	/* The same step afresh; not recorded as a finished step (that would mean a call). */
	op->step_started_ms = c->now;
	gdb_set_str(&op->message, NULL);
	return 1;
}

/* Why the target's own Describe shows nothing, for messages. */
static const char *invisible_why(const struct ctx *c, const char *region)
{
	const struct gdb_obs_region *o = obs_region(c, region);

	if (!o)
		return "not observed";
	if (o->api != GDB_CALL_OK)
		return call_name(o->api);
	return o->cluster_exists ? "global cluster not observed" : "cluster not found";
}

/*
 * The failover target is not visible: before any call, choose again or wait
 * for it; after one, wait for it, whatever it takes.
 */
static int target_unavailable(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *target = op->target_region;

	if (op_called(op)) {
		degraded(c, "FailoverTargetUnobservable",
			 "%s was called for %s, whose RDS API shows nothing (%s): whether it took "
			 "effect cannot be seen; waiting for %s, no other target is taken",
			 op->last_action ? op->last_action : "the failover", target,
			 invisible_why(c, target), target);
		wait_for(c, GDB_REQUEUE_WAIT_MS, "called for %s; waiting to see it (%s)", target,
			 invisible_why(c, target));
		return DONE;
	}
	if (retarget(c))
		return CONTINUE;
	degraded(c, "FailoverTargetUnavailable", "the target %s is not visible", target);
	wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for the target %s", target);
	return DONE;
}

static int has_tail(const struct gdb_spec *s)
{
	return s->has_dns || s->ssm_parameter_prefix || has_workloads(s);
}

/*
 * The writer is neither the failed source nor our target: someone (a person,
 * ARC, another controller) moved it. Nothing is failed over again; the
 * operation ends Cancelled, and DNS, SSM and the workloads follow the real
 * writer as after a failover to it.
 */
static int writer_moved_externally(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	char *source = xstrdup(op->source_region);
	const char *to = c->writer;
	char msg[256];

	event(c, GDB_EVENT_WARNING, "WriterMovedExternally",
	      "the writer moved to %s outside the controller; the failover from %s to %s is "
	      "cancelled, nothing is failed over again%s",
	      to, source, op->target_region,
	      has_tail(c->spec) ? "; DNS, SSM and workloads follow the writer" : "");
	snprintf(msg, sizeof(msg), "the writer moved to %s outside the controller", to);
	finish_op(c, GDB_RESULT_CANCELLED, msg);
	if (has_tail(c->spec)) {
		start_op(c, GDB_OP_FAILOVER, GDB_OPM_MANAGED, source, to, GDB_STEP_NONE);
		writer_moved(c, to);
		next_tail(c, GDB_STEP_WAIT_FAILOVER);
	}
	free(source);
	return CONTINUE;
}

/* The operation ends here: hold_call's report on its last call is moot. */
static void forget_call_error(struct ctx *c, const struct gdb_obs_last_result *l)
{
	if (l && streq(c->degraded_reason, aws_reason(l->call)))
		c->degraded_reason[0] = '\0';
}

/*
 * Before a failover call goes out (the first time or again): the writer must
 * still be the failed source. A writer elsewhere ends the operation; a source
 * whose write probes succeed again withdraws it, once the last call had its
 * settle window to show (whatever its answer: an earlier attempt may have
 * timed out after reaching AWS). Returns DONE or CONTINUE when the step ends
 * here, -1 when the call may go out.
 */
static int recheck_source(struct ctx *c, enum gdb_action_kind kind)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_health_region *hs = health_region(c, op->source_region);
	const struct gdb_obs_last_result *l = last_result(c, kind);
	int called = op_called(op);

	if (c->writer && !streq(c->writer, op->source_region) &&
	    !streq(c->writer, op->target_region)) {
		forget_call_error(c, l);
		return writer_moved_externally(c);
	}
	/* Only a verdict of health withdraws; an unknown one (a restart) does not. */
	if (!hs || hs->writer_healthy != 1)
		return -1;
	if (called && since_last_call(c) < GDB_SETTLE_MS) {
		wait_for(c, GDB_REQUEUE_FAST_MS,
			 "the writer in %s is healthy again; waiting to see whether %s took effect",
			 op->source_region, gdb_action_name(kind));
		return DONE;
	}
	forget_call_error(c, l);
	event(c, GDB_EVENT_NORMAL, "FailoverWithdrawn",
	      "the writer in %s is healthy again; the failover to %s is withdrawn %s",
	      op->source_region, op->target_region,
	      called ? "(its call did not take effect)" : "before any call");
	finish_op(c, GDB_RESULT_CANCELLED, "the writer recovered");
	return CONTINUE;
}

/*
 * A FailoverGlobalCluster refusal no retry changes: the request itself is
 * unsupported (engine version, parameters). InvalidGlobalClusterStateFault
 * (another operation in progress, the global cluster modifying) and
 * InvalidDBClusterStateFault pass; detaching then would split the cluster
 * under Aurora's own failover.
 */
static int refused_for_good(const struct gdb_obs_last_result *l)
{
	return l->call == GDB_CALL_INVALID_STATE && l->aws_code &&
	       (streq(l->aws_code, "InvalidParameterCombination") ||
		streq(l->aws_code, "InvalidParameterValue"));
}

int step_failover_managed(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_last_result *l = last_result(c, GDB_ACT_FAILOVER_MANAGED);
	const struct gdb_obs_region *t = cluster_seen(c, op->target_region);
	struct gdb_action *a;
	int rc;

	if (streq(c->writer, op->target_region) || (c->global && c->global->failover_status)) {
		set_step(c, GDB_STEP_WAIT_FAILOVER);
		return CONTINUE;
	}
	if (l && refused_for_good(l) && c->spec->failover.method == GDB_METHOD_AUTO) {
		event(c, GDB_EVENT_WARNING, "ManagedFailoverRefused",
		      "FailoverGlobalCluster was refused (%s); detaching %s instead",
		      l->aws_code ? l->aws_code : call_name(l->call), op->target_region);
		op->method = GDB_OPM_DETACH;
		set_step(c, GDB_STEP_DETACH);
		return CONTINUE;
	}
	if (hold_call(c, GDB_ACT_FAILOVER_MANAGED) == DONE)
		return DONE;
	if ((rc = recheck_source(c, GDB_ACT_FAILOVER_MANAGED)) >= 0)
		return rc;
	if (!t || !c->global)
		return target_unavailable(c);
	a = issue(c, GDB_ACT_FAILOVER_MANAGED, op->target_region);
	a->global_cluster_identifier = xstrdup(c->global->identifier);
	a->db_cluster_identifier = xstrdup(cluster_id(c, op->target_region));
	a->target_arn = xstrdup(t->cluster_arn ? t->cluster_arn : "");
	xsetf(&a->reason, "the writer in %s failed; FailoverGlobalCluster AllowDataLoss to %s",
	      op->source_region, op->target_region);
	event(c, GDB_EVENT_WARNING, "FailoverStarted",
	      "FailoverGlobalCluster --allow-data-loss %s to %s, called in %s",
	      c->global->identifier, op->target_region, op->target_region);
	return DONE;
}

/*
 * The data-loss window: an upper bound on the acknowledged writes the target
 * lacks, from the evidence (lag_bound_ms) while the source is the writer and
 * known to fail. Set when the target is chosen (fresh: -1 when there is no
 * bound) and raised, never lowered, by a later bound (after the target
 * changed, the larger of two sound bounds is still one); once the writer has
 * moved it stays as it is.
 */
static void update_data_loss(struct ctx *c, int fresh)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_region_status *w = c->writer ? gdb_status_region(c->st, c->writer) : NULL;
	int64_t bound = -1;

	if (streq(c->writer, op->source_region) && w && w->writer_failing_since_ms > 0)
		bound = ceil_seconds(lag_bound_ms(c, op->target_region));
	if (fresh || bound > op->data_loss_window_seconds)
		op->data_loss_window_seconds = bound;
}

static void promoted(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;

	update_data_loss(c, 0);
	writer_moved(c, op->target_region);
	if (op->data_loss_window_seconds >= 0)
		event(c, GDB_EVENT_WARNING, "DataLossWindow",
		      "acknowledged writes of at most the last %" PRId64
		      "s before %s stopped answering may be lost",
		      op->data_loss_window_seconds, op->source_region);
	else
		event(c, GDB_EVENT_WARNING, "DataLossWindow",
		      "the writes %s acknowledged that %s lacks are unknown (approved without "
		      "a lag bound)",
		      op->source_region, op->target_region);
	event(c, GDB_EVENT_NORMAL, "WriterMoved", "the writer is in %s", op->target_region);
}

int step_wait_failover(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	int64_t since = c->now - op->step_started_ms;

	if (c->global && c->global->failover_status) {
		wait_for(c, GDB_REQUEUE_FAST_MS, "FailoverState is %s", c->global->failover_status);
		return DONE;
	}
	if (streq(c->writer, op->target_region)) {
		const struct gdb_obs_region *t = cluster_seen(c, op->target_region);

		if (!t || !streq(t->cluster_status, "available")) {
			wait_for(c, GDB_REQUEUE_FAST_MS, "waiting for %s to be available",
				 op->target_region);
			return DONE;
		}
		/* Reached from Detach too: the managed failover won, Aurora re-adds the old
		 * primary, so the fallback is the managed one. */
		op->method = GDB_OPM_MANAGED;
		promoted(c);
		next_tail(c, GDB_STEP_WAIT_FAILOVER);
		return CONTINUE;
	}
	if (since < GDB_SETTLE_MS) {
		wait_for(c, GDB_REQUEUE_FAST_MS, "waiting for FailoverState");
		return DONE;
	}
	/* Nothing happened: back to the call (which re-checks the source first). */
	set_step(c, op->method == GDB_OPM_DETACH ? GDB_STEP_DETACH : GDB_STEP_FAILOVER_MANAGED);
	return CONTINUE;
}

/*
 * The target left the global cluster: its own Describe shows it standalone,
 * or, when it shows nothing (throttled, timing out), the global cluster's
 * member list as a region that answers reports it no longer has it, after
 * this operation called RemoveFromGlobalCluster.
 */
static int target_detached(const struct ctx *c, const char *region)
{
	const struct gdb_obs_region *t = cluster_seen(c, region);

	if (t)
		return !t->global_cluster_identifier && !member_in(c, c->global, region);
	return c->global && !member_in(c, c->global, region) && op_called(&c->st->operation);
}

/*
 * Detach or WaitPromoted finds the managed failover won after all (the target
 * writes in the global cluster), or one under way (FailoverState): removing
 * the target now would tear the new primary out of its global cluster.
 */
static int managed_failover_seen(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;

	if (!streq(c->writer, op->target_region) && !(c->global && c->global->failover_status))
		return 0;
	event(c, GDB_EVENT_WARNING, "DetachSkipped", "RemoveFromGlobalCluster of %s skipped: %s",
	      op->target_region,
	      c->global && c->global->failover_status ? "the global cluster has a FailoverState"
						      : "it already writes in the global cluster");
	set_step(c, GDB_STEP_WAIT_FAILOVER);
	return 1;
}

int step_detach(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_region *t = cluster_seen(c, op->target_region);
	struct gdb_action *a;
	int rc;

	if (managed_failover_seen(c))
		return CONTINUE;
	if (target_detached(c, op->target_region)) {
		set_step(c, GDB_STEP_WAIT_PROMOTED);
		return CONTINUE;
	}
	if (hold_call(c, GDB_ACT_DETACH_AND_PROMOTE) == DONE)
		return DONE;
	if ((rc = recheck_source(c, GDB_ACT_DETACH_AND_PROMOTE)) >= 0)
		return rc;
	if (!t || !c->global)
		return target_unavailable(c);
	a = issue(c, GDB_ACT_DETACH_AND_PROMOTE, op->target_region);
	a->global_cluster_identifier = xstrdup(c->global->identifier);
	a->db_cluster_identifier = xstrdup(cluster_id(c, op->target_region));
	a->target_arn = xstrdup(t->cluster_arn ? t->cluster_arn : "");
	xsetf(&a->reason, "the writer in %s failed; RemoveFromGlobalCluster promotes %s",
	      op->source_region, op->target_region);
	event(c, GDB_EVENT_WARNING, "FailoverStarted",
	      "RemoveFromGlobalCluster %s from %s (detach and promote), called in %s",
	      cluster_id(c, op->target_region), c->global->identifier, op->target_region);
	return DONE;
}

int step_wait_promoted(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_region *t = cluster_seen(c, op->target_region);

	if (managed_failover_seen(c))
		return CONTINUE;
	if (!target_detached(c, op->target_region)) {
		set_step(c, GDB_STEP_DETACH);
		return CONTINUE;
	}
	if (!t) {
		degraded(c, "FailoverTargetUnobservable",
			 "%s left the global cluster, but its RDS API shows nothing (%s); waiting "
			 "to see it promoted, no other target is taken",
			 op->target_region, invisible_why(c, op->target_region));
		wait_for(c, GDB_REQUEUE_WAIT_MS,
			 "%s left the global cluster; waiting to see it (%s)", op->target_region,
			 invisible_why(c, op->target_region));
		return DONE;
	}
	if (!streq(t->cluster_status, "available")) {
		wait_for(c, GDB_REQUEUE_FAST_MS, "waiting for %s to be promoted (%s)",
			 op->target_region, t->cluster_status ? t->cluster_status : "?");
		return DONE;
	}
	promoted(c);
	c->writer_standalone = 1;
	next_tail(c, GDB_STEP_WAIT_PROMOTED);
	return CONTINUE;
}

/* Cluster statuses that say the cluster cannot serve and will not by itself (ACK's terminal set). */
static int cluster_failed(const char *status)
{
	static const char *const failed[] = {"failed", "inaccessible-encryption-credentials",
					     "incompatible-network", "incompatible-restore"};

	for (size_t i = 0; i < ARRAY_SIZE(failed); i++)
		if (streq(status, failed[i]))
			return 1;
	return 0;
}

/*
 * The writer's region's RDS API confirms the outage (confirmation
 * ControlPlane). Only an API that does not answer confirms (connection
 * failure, 5xx, timeout), or one that reports the cluster failed for good or
 * failing over within its region for longer than inRegionGraceSeconds. An
 * API that answers anything else is alive and sees its cluster: maintenance
 * (modifying, upgrading, backing-up, ...), a cluster it does not list,
 * AccessDenied, NotFound and unknown errors confirm nothing. Refuses and
 * returns 0 when unconfirmed.
 */
static int outage_confirmed(struct ctx *c, const struct gdb_health_region *hw)
{
	const struct gdb_failover_spec *f = &c->spec->failover;
	const struct gdb_obs_region *ow = obs_region(c, c->writer);
	const struct gdb_region_status *rw = gdb_status_region(c->st, c->writer);

	if (!ow || ow->api == GDB_CALL_UNKNOWN || ow->api == GDB_CALL_THROTTLED) {
		refuse(c, "AwaitingConfirmation",
		       "the writer in %s fails its probes; waiting for its RDS API to confirm",
		       c->writer);
		return 0;
	}
	if (ow->api == GDB_CALL_UNREACHABLE || ow->api == GDB_CALL_TIMEOUT)
		return 1;
	if (ow->api != GDB_CALL_OK) {
		refuse(c, "OutageNotConfirmed",
		       "the writer in %s fails its probes, but its RDS API answers (%s): only an "
		       "API that does not answer confirms an outage; not failing over",
		       c->writer, call_name(ow->api));
		return 0;
	}
	if (!ow->cluster_exists) {
		refuse(c, "OutageNotConfirmed",
		       "the writer in %s fails its probes, but its RDS API answers and does not "
		       "list %s: only an API that does not answer confirms an outage; not "
		       "failing over",
		       c->writer, cluster_id(c, c->writer));
		return 0;
	}
	if (streq(ow->cluster_status, "available")) {
		refuse(c, "PrimaryAvailableInControlPlane",
		       "the writer in %s fails %d probes but RDS reports the cluster available; "
		       "not failing over",
		       c->writer, hw->consecutive_failures);
		return 0;
	}
	if (streq(ow->cluster_status, "failing-over")) {
		if (rw && c->now - rw->cluster_status_since_ms <
				  (int64_t)f->in_region_grace_seconds * 1000) {
			refuse(c, "InRegionFailoverInProgress",
			       "the cluster in %s is failing over within its region; waiting up "
			       "to %ds",
			       c->writer, f->in_region_grace_seconds);
			return 0;
		}
		return 1;
	}
	if (cluster_failed(ow->cluster_status))
		return 1;
	refuse(c, "OutageNotConfirmed",
	       "the writer in %s fails its probes, but its RDS API answers and reports the "
	       "cluster %s: a region whose API answers is not down; not failing over",
	       c->writer, ow->cluster_status ? ow->cluster_status : "without a status");
	return 0;
}

/*
 * How long before its last probe a secondary last heard the writer's region
 * (GDB_UPSTREAM_NEVER: not at all), or -1 when its view is unknown: no probe,
 * a failed one, or one older than the writer's verdict may be.
 */
static int64_t secondary_view(const struct ctx *c, const struct gdb_health_region *h)
{
	int64_t fresh = (int64_t)(3 * c->spec->health_check.period_seconds +
				  c->spec->health_check.timeout_seconds) *
			1000;

	if (!h || h->upstream_age_ms < 0 || h->last_probe_ms <= 0 ||
	    c->now - h->last_probe_ms > fresh)
		return -1;
	return h->upstream_age_ms;
}

/*
 * The secondaries' own view of the writer's region. Each one's reader says
 * (aurora_global_db_status) how long ago it last received replication from
 * it; that path does not pass through the controller's network, so it tells
 * a dead primary from a controller cut off from a live one. Every member
 * secondary with instances must have been silent for GDB_PRIMARY_SILENT_MS:
 * one that still hears the writer proves it alive (a failover would make a
 * second writer), and one that cannot say is not counted as silent. A
 * headless secondary has no instance to ask and is no target. Refuses and
 * returns 0 otherwise; while a secondary hears the writer, the next plan is
 * due when its silence could first reach the threshold.
 */
static int secondaries_silent(struct ctx *c)
{
	const char *hears = NULL, *unknown = NULL;
	int64_t hears_age = 0, hears_since = 0;

	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const char *name = c->spec->regions[i].name;
		const struct gdb_obs_region *o = cluster_seen(c, name);
		const struct gdb_health_region *h = health_region(c, name);
		int64_t age;

		if (streq(name, c->writer) || !member_in(c, c->global, name) ||
		    (o && o->n_instances == 0))
			continue;
		age = secondary_view(c, h);
		if (age < 0) {
			if (!unknown)
				unknown = name;
		} else if (age <= GDB_PRIMARY_SILENT_MS && (!hears || age < hears_age)) {
			hears = name;
			hears_age = age;
			hears_since = c->now - h->last_probe_ms;
		}
	}
	if (hears) {
		int64_t due = GDB_PRIMARY_SILENT_MS - hears_age - hears_since;

		refuse(c, "SecondaryHearsPrimary",
		       "the writer in %s fails its probes, but the secondary in %s received "
		       "replication from it %" PRId64 ".%" PRId64 "s before its last probe: the "
		       "primary is alive and only this controller cannot reach it; not failing "
		       "over (that would make a second writer)",
		       c->writer, hears, hears_age / 1000, hears_age % 1000 / 100);
		if (due < GDB_REQUEUE_FAST_MS)
			due = GDB_REQUEUE_FAST_MS;
		if (c->out->requeue_after_ms > due)
			c->out->requeue_after_ms = due;
		return 0;
	}
	if (unknown) {
		refuse(c, "SecondaryViewUnknown",
		       "the writer in %s fails its probes; the secondary in %s cannot say whether "
		       "it still hears it (its probe fails or is stale), and silence is not "
		       "assumed; not failing over",
		       c->writer, unknown);
		if (c->out->requeue_after_ms > GDB_REQUEUE_WAIT_MS)
			c->out->requeue_after_ms = GDB_REQUEUE_WAIT_MS;
		return 0;
	}
	return 1;
}

/*
 * Whether to fail over now. Returns the target region (spec-owned) when every
 * rule holds, else NULL with the refusal noted. *failing is set when the
 * writer is unhealthy at all.
 */
const char *failover_target(struct ctx *c, int *failing, int approved_manually)
{
	const struct gdb_failover_spec *f = &c->spec->failover;
	const struct gdb_health_region *hw = health_region(c, c->writer);
	const char *best = NULL, *unknown = NULL;
	int64_t best_lag = -1, lag;
	int any_candidate = 0;

	*failing = 0;
	c->lag_unknown = 0;
	if (!c->writer || !hw || hw->writer_healthy != 0 ||
	    hw->consecutive_failures < c->spec->health_check.failure_threshold)
		return NULL;
	*failing = 1;
	/* A verdict the prober has not refreshed lately says nothing about now. */
	if (hw->last_probe_ms <= 0 ||
	    c->now - hw->last_probe_ms > (int64_t)(3 * c->spec->health_check.period_seconds +
						   c->spec->health_check.timeout_seconds) *
						 1000) {
		refuse(c, "ProbeVerdictStale",
		       "the writer in %s was last probed %" PRId64 "s ago; not failing over on "
		       "a stale verdict",
		       c->writer, hw->last_probe_ms > 0 ? (c->now - hw->last_probe_ms) / 1000 : -1);
		return NULL;
	}
	{
		int64_t window = (int64_t)c->spec->health_check.failure_threshold *
				 c->spec->health_check.period_seconds * 1000;

		if (c->st->last_paused_ms > 0 && c->now - c->st->last_paused_ms < window) {
			refuse(c, "ResumingFromPause",
			       "the writer in %s fails its probes, but the object was paused "
			       "%" PRId64 "s ago; waiting a detection window of %" PRId64
			       "s for fresh evidence",
			       c->writer, (c->now - c->st->last_paused_ms) / 1000, window / 1000);
			return NULL;
		}
	}
	if (c->writer_standalone || !c->global) {
		refuse(c, "NoFailoverTarget",
		       "the writer in %s fails its probes and has no secondary to fail over to",
		       c->writer);
		return NULL;
	}
	if (f->confirmation == GDB_CONFIRM_CONTROL_PLANE && !outage_confirmed(c, hw))
		return NULL;
	if (!secondaries_silent(c))
		return NULL;
	if (!approved_manually && c->st->last_failover_ms > 0 &&
	    c->now - c->st->last_failover_ms < (int64_t)f->cooldown_seconds * 1000) {
		refuse(c, "CooldownActive",
		       "the last failover finished %" PRId64 "s ago; cooldown is %ds",
		       (c->now - c->st->last_failover_ms) / 1000, f->cooldown_seconds);
		return NULL;
	}
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const char *name = c->spec->regions[i].name;
		const struct gdb_obs_region *o = cluster_seen(c, name);
		const struct gdb_health_region *h = health_region(c, name);

		const struct gdb_obs_member *m = member_in(c, c->global, name);

		if (streq(name, c->writer) || !o || !streq(o->cluster_status, "available") ||
		    o->n_instances == 0 || !m || !h || h->reader_healthy != 1)
			continue;
		/* A member being re-synchronized holds no consistent copy to promote. */
		if (m->synchronization_status && !streq(m->synchronization_status, "connected"))
			continue;
		any_candidate = 1;
		lag = lag_bound_ms(c, name);
		if (lag < 0) {
			if (!unknown)
				unknown = name;
			continue;
		}
		if (!best || lag < best_lag) {
			best = name;
			best_lag = lag;
		}
	}
	if (!any_candidate) {
		refuse(c, "NoFailoverTarget",
		       "the writer in %s failed; no secondary is available with instances and "
		       "healthy readers",
		       c->writer);
		return NULL;
	}
	if (!best && f->mode == GDB_MODE_MANUAL) {
		/*
		 * Nothing bounds what a failover would lose. In Manual mode a person
		 * may still accept that: the recommendation says so, and only the
		 * approval annotation acts on it (docs/api.md).
		 */
		c->lag_unknown = 1;
		return unknown;
	}
	if (!best) {
		refuse(c, "ReplicationLagUnknown",
		       "the writer in %s failed; the replication lag of every candidate is "
		       "unknown, refusing to fail over (in Manual mode an approval may accept "
		       "an unknown data loss)",
		       c->writer);
		return NULL;
	}
	if (best_lag > (int64_t)f->max_data_loss_seconds * 1000) {
		refuse(c, "ReplicationLagOverBudget",
		       "the writer in %s failed; the best target %s lags %" PRId64
		       "ms, over the budget of %ds",
		       c->writer, best, best_lag, f->max_data_loss_seconds);
		return NULL;
	}
	return best;
}

void begin_failover(struct ctx *c, const char *target)
{
	struct gdb_operation *op = &c->st->operation;
	int detach = c->spec->failover.method == GDB_METHOD_DETACH;

	if (op->type != GDB_OP_FAILOVER)
		start_op(c, GDB_OP_FAILOVER, detach ? GDB_OPM_DETACH : GDB_OPM_MANAGED, c->writer,
			 target, GDB_STEP_NONE);
	op->method = detach ? GDB_OPM_DETACH : GDB_OPM_MANAGED;
	gdb_set_str(&op->target_region, target);
	update_data_loss(c, 1);
	set_step(c, detach ? GDB_STEP_DETACH : GDB_STEP_FAILOVER_MANAGED);
}

int step_awaiting_failover_approval(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	int failing, ok = approved(c, c->obs->approve_failover, GDB_ANNOTATION_APPROVE_FAILOVER);
	const char *target = failover_target(c, &failing, ok == 1);
	struct gdb_action *a;

	if (!failing) {
		event(c, GDB_EVENT_NORMAL, "FailoverRecommendationWithdrawn",
		      "the writer in %s is healthy again", c->writer ? c->writer : "?");
		finish_op(c, GDB_RESULT_CANCELLED, "the writer recovered before approval");
		return CONTINUE;
	}
	if (!target) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "failover refused: %s", c->degraded_reason);
		return DONE;
	}
	if (ok == 1) {
		event(c, GDB_EVENT_WARNING, "FailoverApproved", "failover to %s approved by %s%s",
		      target, GDB_ANNOTATION_APPROVE_FAILOVER,
		      c->lag_unknown ? ", accepting a data loss no heartbeat bounds" : "");
		begin_failover(c, target);
		return CONTINUE;
	}
	if (!streq(op->target_region, target))
		gdb_set_str(&op->target_region, target);
	degraded(c, "AwaitingFailoverApproval",
		 "the writer in %s failed; failover to %s is recommended%s: kubectl annotate "
		 "gdb <name> %s=$(date -u +%%FT%%TZ)",
		 c->writer, target,
		 c->lag_unknown ? " (its replication lag is unknown: approving accepts a data "
				  "loss no heartbeat bounds)"
				: "",
		 GDB_ANNOTATION_APPROVE_FAILOVER);
	a = act(c, GDB_ACT_RECOMMEND_FAILOVER, target, GDB_REQUEUE_WAIT_MS);
	xsetf(&a->reason, "failover to %s recommended; waiting for %s", target,
	      GDB_ANNOTATION_APPROVE_FAILOVER);
	gdb_set_str(&op->message, "waiting for the approve-failover annotation");
	return DONE;
}
