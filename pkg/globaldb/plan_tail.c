/*
 * plan_tail.c - the tail every writer move shares: DNS, the SSM parameter and
 * the workload restarts, each a step of the step table.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/timeutil.h"

/* ---- the tail every writer move shares: DNS, SSM, workloads ---- */

int has_workloads(const struct gdb_spec *s)
{
	return s->n_deployments || s->n_stateful_sets || s->n_ecs_services;
}

/*
 * The workloads this controller restarts: all of them, or, when a peer
 * completed the operation (tail_done_by), its own cluster's only.
 */
static int restarts_here(const struct ctx *c)
{
	return c->obs->tail_done_by ? c->spec->n_deployments || c->spec->n_stateful_sets
				    : has_workloads(c->spec);
}

void next_tail(struct ctx *c, enum gdb_step after)
{
	const char *peer = c->obs->tail_done_by;

	if (after < GDB_STEP_UPDATE_DNS && c->spec->has_dns && !peer) {
		set_step(c, GDB_STEP_UPDATE_DNS);
		return;
	}
	if (after < GDB_STEP_PUBLISH_SSM && c->spec->ssm_parameter_prefix && !peer) {
		set_step(c, GDB_STEP_PUBLISH_SSM);
		return;
	}
	if (after < GDB_STEP_RESTART_WORKLOADS && restarts_here(c) &&
	    c->st->operation.type != GDB_OP_FALLBACK) {
		set_step(c, GDB_STEP_RESTART_WORKLOADS);
		return;
	}
	{
		struct gdb_operation *op = &c->st->operation;
		const char *type = gdb_op_type_name(op->type);
		char *by = peer ? xasprintf(" (its AWS calls by controller %s)", peer) : NULL;
		char *msg = peer ? xasprintf("completed; controller %s made its AWS calls", peer)
				 : NULL;

		event(c, GDB_EVENT_NORMAL,
		      op->type == GDB_OP_FAILOVER   ? "FailoverCompleted"
		      : op->type == GDB_OP_FALLBACK ? "FallbackCompleted"
						    : "SwitchoverCompleted",
		      "%s to %s completed in %" PRId64 "s%s", type,
		      op->target_region ? op->target_region : "-", (c->now - op->started_ms) / 1000,
		      by ? by : "");
		finish_op(c, GDB_RESULT_SUCCEEDED, msg ? msg : "completed");
		free(by);
		free(msg);
	}
}

void writer_moved(struct ctx *c, const char *region)
{
	const struct gdb_obs_region *o = cluster_seen(c, region);

	c->writer = gdb_spec_region(c->spec, region, NULL)->name;
	gdb_set_str(&c->st->current_primary_region, region);
	if (o && o->endpoint)
		gdb_set_str(&c->st->writer_endpoint, o->endpoint);
	for (size_t i = 0; i < c->st->n_regions; i++) {
		if (streq(c->st->regions[i].name, region)) {
			c->st->regions[i].role = GDB_ROLE_PRIMARY;
			c->st->regions[i].replication_lag_seconds = -1;
		} else if (c->st->regions[i].role == GDB_ROLE_PRIMARY) {
			c->st->regions[i].role = c->st->operation.type == GDB_OP_SWITCHOVER
							 ? GDB_ROLE_SECONDARY
							 : GDB_ROLE_LOST;
		}
	}
}

int step_update_dns(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_last_result *l = last_result(c, GDB_ACT_UPSERT_DNS);
	const struct gdb_obs_region *w = cluster_seen(c, c->writer);
	struct gdb_action *a;

	if (c->obs->tail_done_by) {
		next_tail(c, GDB_STEP_UPDATE_DNS);
		return CONTINUE;
	}
	if (l && l->call == GDB_CALL_OK && l->change_id) {
		gdb_set_str(&op->dns_change_id, l->change_id);
		set_step(c, GDB_STEP_WAIT_DNS_INSYNC);
		return CONTINUE;
	}
	if (l && hold_call(c, GDB_ACT_UPSERT_DNS) == DONE)
		return DONE;
	if (!w || !w->endpoint) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for the writer endpoint of %s",
			 c->writer ? c->writer : "the new writer");
		return DONE;
	}
	a = issue(c, GDB_ACT_UPSERT_DNS, c->writer);
	a->writer_endpoint = xstrdup(w->endpoint);
	a->reader_endpoint = w->reader_endpoint ? xstrdup(w->reader_endpoint) : NULL;
	xsetf(&a->reason, "point %s at %s", c->spec->dns.writer_record_name, w->endpoint);
	event(c, GDB_EVENT_NORMAL, "UpdatingDns", "UPSERT %s -> %s",
	      c->spec->dns.writer_record_name, w->endpoint);
	return DONE;
}

int step_wait_dns(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	struct gdb_action *a;

	if (c->obs->tail_done_by) {
		next_tail(c, GDB_STEP_WAIT_DNS_INSYNC);
		return CONTINUE;
	}
	if (!op->dns_change_id) {
		set_step(c, GDB_STEP_UPDATE_DNS);
		return CONTINUE;
	}
	if (streq(c->obs->dns_change_status, "INSYNC")) {
		event(c, GDB_EVENT_NORMAL, "DnsInSync", "Route 53 change %s is INSYNC",
		      op->dns_change_id);
		next_tail(c, GDB_STEP_WAIT_DNS_INSYNC);
		return CONTINUE;
	}
	a = act(c, GDB_ACT_WAIT_DNS_INSYNC, c->writer, GDB_REQUEUE_FAST_MS);
	a->change_id = xstrdup(op->dns_change_id);
	gdb_set_str(&op->message, "waiting for Route 53 to report INSYNC");
	return DONE;
}

/* PublishSsm: an idempotent call, done when the executor says ok. */
int step_idempotent(struct ctx *c, enum gdb_action_kind kind, enum gdb_step step)
{
	const struct gdb_obs_last_result *l = last_result(c, kind);
	const struct gdb_obs_region *w = cluster_seen(c, c->writer);
	struct gdb_action *a;

	if ((l && l->call == GDB_CALL_OK) || c->obs->tail_done_by) {
		next_tail(c, step);
		return CONTINUE;
	}
	if (l && hold_call(c, kind) == DONE)
		return DONE;
	a = issue(c, kind, c->writer);
	a->global_cluster_identifier =
		xstrdup(c->st->global_cluster_identifier ? c->st->global_cluster_identifier
							 : c->spec->global_cluster_identifier);
	if (w && w->endpoint)
		a->writer_endpoint = xstrdup(w->endpoint);
	xsetf(&a->reason, "publish the writer region %s under %s", c->writer,
	      c->spec->ssm_parameter_prefix);
	return DONE;
}

/* A RestartWorkloads action marks the services to skip in a 64-bit mask. */
_Static_assert(GDB_MAX_WORKLOADS <= 64, "ecs_skip holds one bit per ECS service");

static int ecs_restarted(const struct gdb_operation *op, const char *key)
{
	for (size_t i = 0; i < op->n_restarted_ecs; i++)
		if (streq(op->restarted_ecs[i], key))
			return 1;
	return 0;
}

/* Adds the services the last call forced (comma-separated keys) to the operation's record. */
static void record_ecs_restarted(struct ctx *c, const char *list)
{
	struct gdb_operation *op = &c->st->operation;

	while (list && *list && op->n_restarted_ecs < GDB_MAX_WORKLOADS) {
		size_t n = strcspn(list, ",");
		char *key = xasprintf("%.*s", (int)n, list);

		if (!ecs_restarted(op, key))
			op->restarted_ecs[op->n_restarted_ecs++] = key;
		else
			free(key);
		list += n + (list[n] == ',');
	}
}

/*
 * RestartWorkloads. Deployments and StatefulSets take the same restartedAt
 * stamp on every retry, so re-setting it rolls nothing out again; every ECS
 * forceNewDeployment does, so the services already forced in this operation
 * are recorded in its status and skipped by a retry. A service whose region
 * (not the writer's) does not answer does not hold the operation: it is
 * named in a Warning Event and in lastOperation.message, and the operation
 * ends (the fallback restarts it with the rest, or it is moot while its
 * region is down). Any other failure is retried with backoff.
 */
int step_restart(struct ctx *c, enum gdb_step step)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_last_result *l = last_result(c, GDB_ACT_RESTART_WORKLOADS);
	struct gdb_action *a;
	size_t skipped = 0;
	char iso[40] = "";

	if (l)
		record_ecs_restarted(c, l->ecs_restarted);
	if (l && l->call == GDB_CALL_OK) {
		char *gave_up =
			l->ecs_unreachable
				? xasprintf("ECS services not restarted, their region does not "
					    "answer: %s",
					    l->ecs_unreachable)
				: NULL;

		if (gave_up) {
			degraded(c, "WorkloadsNotRestarted", "%s", gave_up);
			event(c, GDB_EVENT_WARNING, "WorkloadsNotRestarted",
			      "%s; the fallback restarts them, or they are moot while the region "
			      "is down",
			      gave_up);
		}
		next_tail(c, step);
		if (gave_up && c->st->operation.type == GDB_OP_NONE)
			gdb_set_str(&c->st->last_operation.message, gave_up);
		free(gave_up);
		return CONTINUE;
	}
	if (l && l->message)
		degraded(c, "WorkloadsNotRestarted", "%s", l->message);
	if (l && hold_call(c, GDB_ACT_RESTART_WORKLOADS) == DONE)
		return DONE;
	a = issue(c, GDB_ACT_RESTART_WORKLOADS, c->writer);
	/* The same value on every retry: re-setting it does not roll out again. */
	base_time_format(op->started_ms, iso, sizeof(iso));
	a->restart_stamp = xstrdup(iso);
	for (size_t i = 0; i < c->spec->n_ecs_services && i < 64; i++) {
		char *key = gdb_ecs_service_key(&c->spec->ecs_services[i]);

		if (ecs_restarted(op, key) || c->obs->tail_done_by) {
			a->ecs_skip |= (uint64_t)1 << i;
			skipped++;
		}
		free(key);
	}
	xsetf(&a->reason, "restart workloads so no client keeps the old writer");
	event(c, GDB_EVENT_NORMAL, "RestartingWorkloads",
	      "restarting %zu deployments, %zu statefulsets, %zu ECS services%s",
	      c->spec->n_deployments, c->spec->n_stateful_sets, c->spec->n_ecs_services - skipped,
	      !skipped		     ? ""
	      : c->obs->tail_done_by ? " (the ECS services by the controller that made the "
				       "operation's AWS calls)"
				     : " (the others were restarted earlier in this operation)");
	return DONE;
}
