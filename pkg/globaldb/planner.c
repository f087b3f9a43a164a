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
 *   deletion -> invalid spec -> paused -> operation in flight (its step) ->
 *   unplanned failover -> fallback -> provisioning -> planned switchover -> steady
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
 */
#include "pkg/globaldb/planner.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/validate.h"

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

/* ---- small helpers over the inputs ---- */

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static const struct gdb_obs_region *obs_region(const struct ctx *c, const char *name)
{
	for (size_t i = 0; name && i < c->obs->n_regions; i++)
		if (streq(c->obs->regions[i].name, name))
			return &c->obs->regions[i];
	return NULL;
}

static const struct gdb_health_region *health_region(const struct ctx *c, const char *name)
{
	for (size_t i = 0; name && i < c->health->n_regions; i++)
		if (streq(c->health->regions[i].name, name))
			return &c->health->regions[i];
	return NULL;
}

static const char *cluster_id(const struct ctx *c, const char *region)
{
	const struct gdb_region_spec *r = gdb_spec_region(c->spec, region, NULL);

	return r && r->db_cluster_identifier ? r->db_cluster_identifier : "";
}

/* The region's API answered and its cluster exists. */
static const struct gdb_obs_region *cluster_seen(const struct ctx *c, const char *region)
{
	const struct gdb_obs_region *o = obs_region(c, region);

	return o && o->api == GDB_CALL_OK && o->cluster_exists ? o : NULL;
}

static int api_ok(const struct ctx *c, const char *region)
{
	const struct gdb_obs_region *o = obs_region(c, region);

	return o && o->api == GDB_CALL_OK;
}

static const struct gdb_obs_global *find_global(const struct ctx *c, const char *id)
{
	for (size_t i = 0; id && i < c->obs->n_globals; i++)
		if (streq(c->obs->globals[i].identifier, id))
			return &c->obs->globals[i];
	return NULL;
}

/* The member of g that is the spec's cluster in region, or NULL. */
static const struct gdb_obs_member *member_in(const struct ctx *c, const struct gdb_obs_global *g,
					      const char *region)
{
	char r[64], id[128];
	const char *want = cluster_id(c, region);

	for (size_t i = 0; g && *want && i < g->n_members; i++) {
		if (gdb_parse_cluster_arn(g->members[i].db_cluster_arn, r, sizeof(r), id,
					  sizeof(id)) == 0 &&
		    strcmp(r, region) == 0 && strcmp(id, want) == 0)
			return &g->members[i];
	}
	return NULL;
}

/* The spec region of a member ARN, or NULL when it is none of ours. */
static const char *region_of_arn(const struct ctx *c, const char *arn)
{
	char r[64], id[128];
	const struct gdb_region_spec *rs;

	if (gdb_parse_cluster_arn(arn, r, sizeof(r), id, sizeof(id)) < 0)
		return NULL;
	rs = gdb_spec_region(c->spec, r, NULL);
	return rs && streq(rs->db_cluster_identifier, id) ? rs->name : NULL;
}

/*
 * The global cluster the region's cluster belongs to: its own
 * GlobalClusterIdentifier when DescribeDBClusters said so, else the observed
 * global cluster that lists it as a member, else NULL (standalone or unknown).
 */
static const char *global_of(const struct ctx *c, const struct gdb_obs_region *o)
{
	if (o->global_cluster_identifier)
		return o->global_cluster_identifier;
	for (size_t i = 0; i < c->obs->n_globals; i++)
		if (member_in(c, &c->obs->globals[i], o->name))
			return c->obs->globals[i].identifier;
	return NULL;
}

/* The region's cluster is part of the global cluster in status. */
static int in_current_global(const struct ctx *c, const struct gdb_obs_region *o)
{
	return member_in(c, c->global, o->name) ||
	       (o->global_cluster_identifier &&
		streq(o->global_cluster_identifier, c->st->global_cluster_identifier));
}

static int is_connected(const struct ctx *c, const char *region)
{
	const struct gdb_obs_member *m = member_in(c, c->global, region);

	return m && streq(m->synchronization_status, "connected");
}

static int64_t ceil_seconds(int64_t ms)
{
	return ms < 0 ? -1 : (ms + 999) / 1000;
}

static int64_t backoff_ms(int attempts)
{
	int64_t ms = 2000;

	for (int i = 1; i < attempts && ms < GDB_REQUEUE_MAX_MS; i++)
		ms *= 2;
	return ms < GDB_REQUEUE_MAX_MS ? ms : GDB_REQUEUE_MAX_MS;
}

static void stamp(int64_t ms, char *buf, size_t n)
{
	/* 20261127035801: a time that fits into RDS identifiers. */
	char iso[40];
	size_t j = 0;

	buf[0] = '\0';
	if (base_time_format(ms, iso, sizeof(iso)) < 0)
		return;
	for (size_t i = 0; iso[i] && j + 1 < n; i++)
		if (iso[i] >= '0' && iso[i] <= '9')
			buf[j++] = iso[i];
	buf[j] = '\0';
}

/* ---- output helpers ---- */

static void note(char *dst, size_t n, const char *fmt, va_list ap)
{
	vsnprintf(dst, n, fmt, ap);
}

static void degraded(struct ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void degraded(struct ctx *c, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (c->degraded_reason[0])
		return; /* the first problem found is the one reported */
	snprintf(c->degraded_reason, sizeof(c->degraded_reason), "%s", reason);
	va_start(ap, fmt);
	note(c->degraded_msg, sizeof(c->degraded_msg), fmt, ap);
	va_end(ap);
}

static void progressing(struct ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void progressing(struct ctx *c, const char *reason, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->progressing_reason, sizeof(c->progressing_reason), "%s", reason);
	va_start(ap, fmt);
	note(c->progressing_msg, sizeof(c->progressing_msg), fmt, ap);
	va_end(ap);
}

static void event(struct ctx *c, enum gdb_event_type type, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void event(struct ctx *c, enum gdb_event_type type, const char *reason, const char *fmt, ...)
{
	struct gdb_event *e;
	va_list ap;

	if (c->out->n_events >= GDB_MAX_EVENTS)
		return;
	e = &c->out->events[c->out->n_events++];
	e->type = type;
	e->reason = xstrdup(reason);
	va_start(ap, fmt);
	e->message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* The old Degraded reason, to emit refusal Events only when the reason changes. */
static int old_degraded_is(const struct ctx *c, const char *reason)
{
	const struct gdb_condition *cd = gdb_status_condition(c->old, "Degraded");

	return cd && cd->status == GDB_COND_TRUE && streq(cd->reason, reason);
}

static void refuse(struct ctx *c, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void refuse(struct ctx *c, const char *reason, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	degraded(c, reason, "%s", msg);
	if (!c->out->refusal)
		c->out->refusal = xstrdup(reason);
	if (!old_degraded_is(c, reason))
		event(c, GDB_EVENT_WARNING, reason, "%s", msg);
}

static struct gdb_action *act(struct ctx *c, enum gdb_action_kind kind, const char *region,
			      int64_t requeue_ms)
{
	struct gdb_action *a = &c->out->action;

	a->kind = kind;
	gdb_set_str(&a->region, region);
	c->out->requeue_after_ms = requeue_ms;
	return a;
}

static void wait_for(struct ctx *c, int64_t requeue_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void wait_for(struct ctx *c, int64_t requeue_ms, const char *fmt, ...)
{
	struct gdb_operation *op = &c->st->operation;
	va_list ap;

	act(c, op->type != GDB_OP_NONE ? GDB_ACT_WAIT : GDB_ACT_NONE, NULL, requeue_ms);
	if (op->type != GDB_OP_NONE) {
		free(op->message);
		va_start(ap, fmt);
		op->message = xvasprintf(fmt, ap);
		va_end(ap);
	}
}

/* ---- operation bookkeeping ---- */

static void record_step(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	struct gdb_step_record *r;

	if (op->step == GDB_STEP_NONE || op->step == GDB_STEP_AWAITING_APPROVAL)
		return;
	if (op->n_steps == GDB_MAX_STEPS) {
		free(op->steps[0].name);
		memmove(&op->steps[0], &op->steps[1], sizeof(op->steps[0]) * (GDB_MAX_STEPS - 1));
		op->n_steps--;
	}
	r = &op->steps[op->n_steps++];
	r->name = xstrdup(gdb_step_name(op->step));
	r->duration_seconds = op->step_started_ms > 0 && c->now > op->step_started_ms
				      ? (c->now - op->step_started_ms) / 1000
				      : 0;
}

struct step_row {
	struct gdb_step_def def;
	int (*run)(struct ctx *c);
};
static const struct step_row step_table[GDB_STEP__COUNT];

/* Moves the operation to step along an edge of the step table. */
static void set_step(struct ctx *c, enum gdb_step step)
{
	struct gdb_operation *op = &c->st->operation;

	if ((unsigned)op->step >= GDB_STEP__COUNT || (unsigned)step >= GDB_STEP__COUNT ||
	    !(step_table[op->step].def.next & GDB_STEP_BIT(step)) ||
	    !(step_table[step].def.op_types & GDB_OP_BIT(op->type)))
		BUG("planner: no edge %s -> %s in a %s", gdb_step_name(op->step),
		    gdb_step_name(step), gdb_op_type_name(op->type));
	record_step(c);
	op->step = step;
	op->step_started_ms = c->now;
	op->attempts = 0;
	gdb_set_str(&op->last_action, NULL);
	gdb_set_str(&op->message, NULL);
}

static void start_op(struct ctx *c, enum gdb_op_type type, enum gdb_op_method method,
		     const char *source, const char *target, enum gdb_step step)
{
	struct gdb_operation *op = &c->st->operation;
	int64_t prev = op->id > c->st->last_operation.id ? op->id : c->st->last_operation.id;

	/* GDB_STEP_NONE: the caller moves to the first step (set_step checks that edge). */
	if (step != GDB_STEP_NONE && (!(step_table[GDB_STEP_NONE].def.next & GDB_STEP_BIT(step)) ||
				      !(step_table[step].def.op_types & GDB_OP_BIT(type))))
		BUG("planner: a %s cannot start in step %s", gdb_op_type_name(type),
		    gdb_step_name(step));
	gdb_operation_release(op);
	op->id = prev + 1;
	op->type = type;
	op->method = method;
	op->source_region = source ? xstrdup(source) : NULL;
	op->target_region = target ? xstrdup(target) : NULL;
	op->started_ms = c->now;
	op->step = step;
	op->step_started_ms = c->now;
}

static void finish_op(struct ctx *c, enum gdb_op_result result, const char *message)
{
	struct gdb_operation *op = &c->st->operation;
	struct gdb_operation *last = &c->st->last_operation;

	record_step(c);
	gdb_operation_release(last);
	*last = *op;
	last->step = GDB_STEP_NONE;
	last->attempts = 0;
	last->step_started_ms = 0;
	free(last->last_action);
	last->last_action = NULL;
	last->last_call_ms = 0;
	free(last->dns_change_id);
	last->dns_change_id = NULL;
	gdb_set_str(&last->message, message);
	last->result = result;
	last->finished_ms = c->now;
	if (result == GDB_RESULT_SUCCEEDED && last->type == GDB_OP_FAILOVER)
		c->st->last_failover_ms = c->now;
	memset(op, 0, sizeof(*op));
	op->data_loss_window_seconds = -1;
}

/*
 * Whether kind is the call this step issued last (attempts counts it). A step
 * without lastAction (written by an older controller) counts as having issued
 * kind: holding once too often is safe, calling twice is not.
 */
static int same_call(const struct gdb_operation *op, enum gdb_action_kind kind)
{
	return op->attempts > 0 &&
	       (!op->last_action || streq(op->last_action, gdb_action_name(kind)));
}

/*
 * How long ago the operation issued its last call: from lastCallTime, stamped
 * at every issue, or (a status from an older controller) from the step's start.
 */
static int64_t since_last_call(const struct ctx *c)
{
	const struct gdb_operation *op = &c->st->operation;

	return c->now - (op->last_call_ms > 0 ? op->last_call_ms : op->step_started_ms);
}

/*
 * Whether the operation has issued an AWS call in any step. A status from an
 * older controller (no lastCallTime) counts as called when its step has
 * attempts or lastAction, or when a step before this one finished: every
 * failover step after the first one follows a call or Aurora's own move.
 * Counting a call too often only makes a failover wait; too rarely, it can
 * promote a second target.
 */
static int op_called(const struct gdb_operation *op)
{
	return op->last_call_ms > 0 || op->attempts > 0 || op->last_action || op->n_steps > 0;
}

/* The executor's report on the call this step issued last, or NULL. */
static const struct gdb_obs_last_result *last_result(const struct ctx *c, enum gdb_action_kind kind)
{
	const struct gdb_obs_last_result *l = &c->obs->last;

	return l->action == (int)kind && same_call(&c->st->operation, kind) ? l : NULL;
}

static const char *call_name(enum gdb_call call)
{
	switch (call) {
	case GDB_CALL_OK:
		return "ok";
	case GDB_CALL_UNKNOWN:
		return "unknown";
	case GDB_CALL_THROTTLED:
		return "throttled";
	case GDB_CALL_UNREACHABLE:
		return "region unreachable";
	case GDB_CALL_TIMEOUT:
		return "timed out";
	case GDB_CALL_INVALID_STATE:
		return "invalid state";
	case GDB_CALL_NOT_FOUND:
		return "not found";
	case GDB_CALL_ALREADY_EXISTS:
		return "already exists";
	case GDB_CALL_FORBIDDEN:
		return "access denied";
	default:
		return "failed";
	}
}

static const char *aws_reason(enum gdb_call call)
{
	switch (call) {
	case GDB_CALL_THROTTLED:
		return "AwsThrottled";
	case GDB_CALL_UNREACHABLE:
	case GDB_CALL_TIMEOUT:
		return "AwsUnreachable";
	case GDB_CALL_FORBIDDEN:
		return "AwsAccessDenied";
	case GDB_CALL_INVALID_STATE:
		return "AwsInvalidState";
	case GDB_CALL_NOT_FOUND:
		return "AwsNotFound";
	default:
		return "AwsCallFailed";
	}
}

/*
 * Common retry logic for a step that issues a non-idempotent call. Returns
 * DONE with a WAIT when the step must not call now (the call may be in flight,
 * or the backoff after an error runs), CONTINUE when it may call.
 */
static int hold_call(struct ctx *c, enum gdb_action_kind kind)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_last_result *l = last_result(c, kind);
	int64_t since = since_last_call(c);

	/* Not issued yet, or the step moved on from another call: nothing in flight. */
	if (!same_call(op, kind))
		return CONTINUE;
	if (l && l->call != GDB_CALL_OK) {
		int64_t wait = backoff_ms(op->attempts);

		degraded(c, aws_reason(l->call), "%s in %s: %s%s%s", gdb_action_name(kind),
			 l->region ? l->region : "?", call_name(l->call), l->aws_code ? ": " : "",
			 l->aws_code ? l->aws_code : "");
		if (since < wait) {
			wait_for(c, wait - since, "%s %s (%s), retrying", gdb_action_name(kind),
				 call_name(l->call), l->aws_code ? l->aws_code : "no code");
			return DONE;
		}
		return CONTINUE;
	}
	if (since < GDB_SETTLE_MS) {
		wait_for(c,
			 GDB_SETTLE_MS - since < GDB_REQUEUE_WAIT_MS ? GDB_SETTLE_MS - since
								     : GDB_REQUEUE_WAIT_MS,
			 "%s issued, waiting for RDS to show it", gdb_action_name(kind));
		return DONE;
	}
	return CONTINUE;
}

static struct gdb_action *issue(struct ctx *c, enum gdb_action_kind kind, const char *region)
{
	struct gdb_operation *op = &c->st->operation;

	if (op->type != GDB_OP_NONE) {
		if (op->attempts > 0 && !same_call(op, kind)) {
			/* The previous call of this step took effect: this one starts afresh. */
			op->attempts = 0;
			op->step_started_ms = c->now;
		}
		if (op->attempts > 0)
			event(c, GDB_EVENT_WARNING, "Retrying", "%s in %s: attempt %d",
			      gdb_action_name(kind), region ? region : "-", op->attempts + 1);
		op->attempts++;
		if (op->step_started_ms == 0 || op->attempts > 1)
			op->step_started_ms = c->now;
		/* The settle window runs from every call, also the first after a wait. */
		op->last_call_ms = c->now;
		gdb_set_str(&op->last_action, gdb_action_name(kind));
	}
	return act(c, kind, region,
		   kind == GDB_ACT_UPSERT_DNS || kind == GDB_ACT_PUBLISH_SSM ||
				   kind == GDB_ACT_RESTART_WORKLOADS
			   ? GDB_REQUEUE_NOW_MS
			   : GDB_REQUEUE_FAST_MS);
}

/* ---- deriving the current picture ---- */

static void derive_global(struct ctx *c)
{
	const char *base = c->spec->global_cluster_identifier;

	if (c->st->global_cluster_identifier) {
		c->global = find_global(c, c->st->global_cluster_identifier);
		return;
	}
	/* Adopt: a global cluster holding one of our clusters (a writer first), else <base>. */
	for (int pass = 0; pass < 2 && !c->global; pass++) {
		for (size_t i = 0; i < c->obs->n_globals && !c->global; i++) {
			const struct gdb_obs_global *g = &c->obs->globals[i];

			for (size_t m = 0; m < g->n_members; m++) {
				if ((pass == 1 || g->members[m].is_writer) &&
				    region_of_arn(c, g->members[m].db_cluster_arn)) {
					c->global = g;
					break;
				}
			}
		}
	}
	if (!c->global)
		c->global = find_global(c, base);
	if (c->global) {
		int64_t gen = gdb_generation_of(base, c->global->identifier);

		gdb_set_str(&c->st->global_cluster_identifier, c->global->identifier);
		c->st->generation = gen > 0 ? gen : 1;
		event(c, GDB_EVENT_NORMAL, "Adopted", "adopted global cluster %s",
		      c->global->identifier);
	}
}

static void derive_writer(struct ctx *c)
{
	const char *cur = c->st->current_primary_region;
	const struct gdb_obs_region *o = cluster_seen(c, cur);

	/* A standalone writer promoted by a detach stays the writer until a fallback. */
	if (o && !o->global_cluster_identifier && !member_in(c, c->global, cur)) {
		c->writer = gdb_spec_region(c->spec, cur, NULL)->name;
		c->writer_standalone = 1;
		return;
	}
	for (size_t i = 0; c->global && i < c->global->n_members; i++) {
		if (c->global->members[i].is_writer) {
			c->writer = region_of_arn(c, c->global->members[i].db_cluster_arn);
			if (c->writer)
				return;
		}
	}
	if (!c->global) {
		/* Before a global cluster exists the spec's primary cluster is the writer. */
		o = cluster_seen(c, c->spec->primary_region);
		if (o && !o->global_cluster_identifier) {
			c->writer = c->spec->primary_region;
			c->writer_standalone = 1;
			return;
		}
	}
	if (cur && gdb_spec_region(c->spec, cur, NULL))
		c->writer = gdb_spec_region(c->spec, cur, NULL)->name;
}

/*
 * The lag a region's status row reports, given what it said (old, -1 unknown)
 * and the new measurement (now, seconds rounded up, -1 unknown): the
 * measurement when it is news — known or unknown for the first time, caught
 * up (0), across the data-loss budget, or at least GDB_LAG_REPORT_STEP_S and
 * a quarter away from what the row says — else the row's value. A lag that jitters by a
 * second would otherwise rewrite the status of every object at every
 * reconcile; decisions use the measurement itself, and so does the metric.
 */
static int64_t reported_lag(int64_t old, int64_t now, int64_t budget)
{
	int64_t step = old / 4 > GDB_LAG_REPORT_STEP_S ? old / 4 : GDB_LAG_REPORT_STEP_S;

	if (old < 0 || now <= 0 || (old > budget) != (now > budget))
		return now;
	return now - old >= step || old - now >= step ? now : old;
}

/*
 * The heartbeat watermark of a status row (docs/api.md "Replication lag"):
 * the newest heartbeat time known from the row and this process's prober.
 * Only the Primary's and the Secondaries' rows carry one, and only for the
 * writer they had: a writer that moved clears every row (what a secondary
 * held of the old writer says nothing of what it holds of the new one).
 */
static void merge_heartbeat(struct gdb_region_status *r, const struct gdb_health_region *h,
			    int writer_moved)
{
	if (writer_moved || (r->role != GDB_ROLE_PRIMARY && r->role != GDB_ROLE_SECONDARY)) {
		r->heartbeat_seq = r->heartbeat_time_ms = r->writer_failing_since_ms = 0;
		return;
	}
	if (h && h->heartbeat_ms > r->heartbeat_time_ms) {
		r->heartbeat_time_ms = h->heartbeat_ms;
		r->heartbeat_seq = h->heartbeat_seq;
	}
	if (r->role != GDB_ROLE_PRIMARY)
		r->writer_failing_since_ms = 0;
}

/*
 * The writer row's writerFailingSince: the last moment the writer is taken to
 * have accepted writes. This process's prober knows when its own run of
 * failures began (h->failing_since_ms); the row may hold an earlier start
 * recorded by a controller that ran before this one (a restart or a new
 * leader during the outage). That earlier time is kept only while it is later
 * than every heartbeat known to have been written (acknowledged or seen
 * replicated): a writer heard from after it was not dead then.
 */
static void update_failing_since(struct ctx *c)
{
	struct gdb_region_status *w = c->writer ? gdb_status_region(c->st, c->writer) : NULL;
	const struct gdb_health_region *h = c->writer ? health_region(c, c->writer) : NULL;
	int64_t newest = 0, kept;

	if (!w || !h || h->last_probe_ms <= 0)
		return; /* no verdict of this process yet: keep what the status says */
	if (h->failing_since_ms <= 0) {
		w->writer_failing_since_ms = 0;
		return;
	}
	for (size_t i = 0; i < c->st->n_regions; i++)
		if (c->st->regions[i].heartbeat_time_ms > newest)
			newest = c->st->regions[i].heartbeat_time_ms;
	kept = w->writer_failing_since_ms;
	w->writer_failing_since_ms =
		kept > newest && kept < h->failing_since_ms ? kept : h->failing_since_ms;
}

/*
 * The replication lag of a secondary in ms, -1 unknown. While the writer
 * acknowledges its heartbeats, the prober's measurement. Once it fails them,
 * an evidence-based bound that no longer grows with the wall clock: the
 * writer's last moment alive (writerFailingSince) minus when the newest
 * heartbeat seen replicated in the region was written. Never 0 then: the
 * writer may have acknowledged writes after that heartbeat.
 */
static int64_t lag_bound_ms(struct ctx *c, const char *region)
{
	const struct gdb_region_status *w = c->writer ? gdb_status_region(c->st, c->writer) : NULL;
	const struct gdb_region_status *r = gdb_status_region(c->st, region);
	const struct gdb_health_region *h = health_region(c, region);
	int64_t until = w ? w->writer_failing_since_ms : 0, lag;

	if (until <= 0)
		return h ? h->lag_ms : -1;
	if (!r || r->heartbeat_time_ms <= 0)
		return -1;
	lag = until - r->heartbeat_time_ms;
	return lag > 0 ? lag : 1;
}

static void update_regions(struct ctx *c)
{
	struct gdb_status *st = c->st;
	struct gdb_status prev;
	const struct gdb_operation *op = &st->operation;
	int64_t max_lag = -1;
	int writer_moved = !streq(c->old->current_primary_region, c->writer);

	/* Rebuild the rows in spec order, keeping what the old rows knew. */
	prev = *st;
	st->n_regions = 0;
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const char *name = c->spec->regions[i].name;
		const struct gdb_obs_region *o = obs_region(c, name);
		const struct gdb_health_region *h = health_region(c, name);
		const struct gdb_obs_member *m = member_in(c, c->global, name);
		struct gdb_region_status *r = &st->regions[st->n_regions++];
		struct gdb_region_status *old = gdb_status_region(&prev, name);

		memset(r, 0, sizeof(*r));
		r->writer_healthy = -1;
		r->replication_lag_seconds = -1;
		if (old) {
			*r = *old;
			old->name = old->db_cluster_identifier = old->cluster_status =
				old->synchronization_status = NULL;
		} else {
			r->name = xstrdup(name);
		}
		gdb_set_str(&r->db_cluster_identifier, c->spec->regions[i].db_cluster_identifier);
		if (o && o->api == GDB_CALL_OK) {
			const char *cs = o->cluster_exists ? o->cluster_status : NULL;

			if (!streq(cs, r->cluster_status)) {
				gdb_set_str(&r->cluster_status, cs);
				r->cluster_status_since_ms = c->now;
			}
			if (!o->cluster_exists)
				r->port = 0;
			else if (o->port > 0)
				r->port = o->port;
		}
		gdb_set_str(&r->synchronization_status,
			    m && !m->is_writer ? m->synchronization_status : NULL);
		if (streq(name, c->writer))
			r->role = GDB_ROLE_PRIMARY;
		else if (op->type == GDB_OP_FALLBACK && streq(op->target_region, name) &&
			 !is_connected(c, name))
			r->role = GDB_ROLE_REBUILDING;
		else if (!o || o->api != GDB_CALL_OK)
			r->role = o && o->api == GDB_CALL_UNKNOWN ? r->role : GDB_ROLE_LOST;
		else if (!o->cluster_exists)
			r->role = GDB_ROLE_UNKNOWN;
		else if (!c->writer_standalone && in_current_global(c, o))
			r->role = GDB_ROLE_SECONDARY;
		else if (!global_of(c, o))
			r->role = GDB_ROLE_DETACHED;
		else
			r->role = GDB_ROLE_LOST; /* a member of a stale global cluster */
		merge_heartbeat(r, h, writer_moved);
		if (h) {
			r->writer_healthy = streq(name, c->writer) ? h->writer_healthy : -1;
			r->consecutive_failures = h->consecutive_failures;
			if (h->last_probe_ms > 0)
				r->last_probe_ms = h->last_probe_ms;
		}
	}
	update_failing_since(c);
	for (size_t i = 0; i < st->n_regions; i++) {
		struct gdb_region_status *r = &st->regions[i];

		if (!health_region(c, r->name))
			continue;
		r->replication_lag_seconds =
			streq(r->name, c->writer)
				? -1
				: reported_lag(r->replication_lag_seconds,
					       ceil_seconds(lag_bound_ms(c, r->name)),
					       c->spec->failover.max_data_loss_seconds);
		if (r->replication_lag_seconds > max_lag)
			max_lag = r->replication_lag_seconds;
	}
	for (size_t i = 0; i < prev.n_regions; i++) {
		free(prev.regions[i].name);
		free(prev.regions[i].db_cluster_identifier);
		free(prev.regions[i].cluster_status);
		free(prev.regions[i].synchronization_status);
	}
	st->max_replication_lag_seconds = max_lag;

	if (c->writer) {
		const struct gdb_obs_region *w = cluster_seen(c, c->writer);

		gdb_set_str(&st->current_primary_region, c->writer);
		if (w && w->endpoint)
			gdb_set_str(&st->writer_endpoint, w->endpoint);
	}
	if (c->global && c->global->endpoint)
		gdb_set_str(&st->global_writer_endpoint, c->global->endpoint);
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const struct gdb_obs_region *o = cluster_seen(c, c->spec->regions[i].name);
		size_t j;

		if (!o || !o->reader_endpoint)
			continue;
		for (j = 0; j < st->n_reader_endpoints; j++)
			if (streq(st->reader_endpoints[j].region, o->name))
				break;
		if (j == st->n_reader_endpoints) {
			if (j == GDB_MAX_REGIONS)
				continue;
			st->reader_endpoints[j].region = xstrdup(o->name);
			st->reader_endpoints[j].endpoint = NULL;
			st->n_reader_endpoints++;
		}
		gdb_set_str(&st->reader_endpoints[j].endpoint, o->reader_endpoint);
	}
}

/* ---- annotations ---- */

static int is_paused(const struct ctx *c)
{
	return streq(c->obs->paused, "true");
}

/*
 * An approval is an RFC 3339 time between the start of the operation it
 * approves and now: a stale annotation from last month approves nothing, and
 * neither does one dated in the future, which would otherwise approve every
 * recommendation until that date and turn Manual into Automatic. Each
 * approval is thereby used once: the next recommendation starts after it.
 * Clocks may differ by up to GDB_APPROVAL_CLOCK_SKEW_MS.
 * 1 approved, 0 not, -1 malformed or refused.
 */
static int approved(struct ctx *c, const char *value, const char *annotation)
{
	int64_t t;

	if (!value)
		return 0;
	if (base_time_parse(value, &t) < 0) {
		refuse(c, "InvalidApproval",
		       "annotation %s must be an RFC 3339 time, not \"%.64s\"", annotation, value);
		return -1;
	}
	if (t > c->now + GDB_APPROVAL_CLOCK_SKEW_MS) {
		refuse(c, "ApprovalInFuture",
		       "annotation %s is dated %.40s, in the future: an approval counts only at a "
		       "time between the recommendation and now; set it to the current time",
		       annotation, value);
		return -1;
	}
	return t >= c->st->operation.started_ms / 1000 * 1000;
}

/* ---- the tail every writer move shares: DNS, SSM, workloads ---- */

static int has_workloads(const struct gdb_spec *s)
{
	return s->n_deployments || s->n_stateful_sets || s->n_ecs_services;
}

static void next_tail(struct ctx *c, enum gdb_step after)
{
	if (after < GDB_STEP_UPDATE_DNS && c->spec->has_dns) {
		set_step(c, GDB_STEP_UPDATE_DNS);
		return;
	}
	if (after < GDB_STEP_PUBLISH_SSM && c->spec->ssm_parameter_prefix) {
		set_step(c, GDB_STEP_PUBLISH_SSM);
		return;
	}
	if (after < GDB_STEP_RESTART_WORKLOADS && has_workloads(c->spec) &&
	    c->st->operation.type != GDB_OP_FALLBACK) {
		set_step(c, GDB_STEP_RESTART_WORKLOADS);
		return;
	}
	{
		struct gdb_operation *op = &c->st->operation;
		const char *type = gdb_op_type_name(op->type);

		event(c, GDB_EVENT_NORMAL,
		      op->type == GDB_OP_FAILOVER   ? "FailoverCompleted"
		      : op->type == GDB_OP_FALLBACK ? "FallbackCompleted"
						    : "SwitchoverCompleted",
		      "%s to %s completed in %" PRId64 "s", type,
		      op->target_region ? op->target_region : "-",
		      (c->now - op->started_ms) / 1000);
		finish_op(c, GDB_RESULT_SUCCEEDED, "completed");
	}
}

static void writer_moved(struct ctx *c, const char *region)
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

static int step_update_dns(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_last_result *l = last_result(c, GDB_ACT_UPSERT_DNS);
	const struct gdb_obs_region *w = cluster_seen(c, c->writer);
	struct gdb_action *a;

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

static int step_wait_dns(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	struct gdb_action *a;

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
static int step_idempotent(struct ctx *c, enum gdb_action_kind kind, enum gdb_step step)
{
	const struct gdb_obs_last_result *l = last_result(c, kind);
	const struct gdb_obs_region *w = cluster_seen(c, c->writer);
	struct gdb_action *a;

	if (l && l->call == GDB_CALL_OK) {
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
static int step_restart(struct ctx *c, enum gdb_step step)
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

		if (ecs_restarted(op, key)) {
			a->ecs_skip |= (uint64_t)1 << i;
			skipped++;
		}
		free(key);
	}
	xsetf(&a->reason, "restart workloads so no client keeps the old writer");
	event(c, GDB_EVENT_NORMAL, "RestartingWorkloads",
	      "restarting %zu deployments, %zu statefulsets, %zu ECS services%s",
	      c->spec->n_deployments, c->spec->n_stateful_sets, c->spec->n_ecs_services - skipped,
	      skipped ? " (the others were restarted earlier in this operation)" : "");
	return DONE;
}

/* ---- switchover ---- */

/* Why a switchover to target cannot start now, or NULL. */
static const char *switchover_blocker(struct ctx *c, const char *target, char *buf, size_t n)
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

static int step_switchover(struct ctx *c)
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

static int step_wait_switchover(struct ctx *c)
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

/* ---- failover ---- */

static const char *quiet_failover_target(struct ctx *c);

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

static int step_failover_managed(struct ctx *c)
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

static int step_wait_failover(struct ctx *c)
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

static int step_detach(struct ctx *c)
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

static int step_wait_promoted(struct ctx *c)
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
static const char *failover_target(struct ctx *c, int *failing, int approved_manually)
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

static void begin_failover(struct ctx *c, const char *target)
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

static int step_awaiting_failover_approval(struct ctx *c)
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

/* ---- fallback ---- */

/*
 * After a detach the writer is standalone and c->global is the stale global
 * cluster it left. Nothing of that cluster is touched while one of its
 * members sits in a spec region that does not answer: its primary cannot
 * leave while it has secondaries, and a healthy secondary of it (a third
 * region) keeps the old timeline until the lost region is back to be fenced
 * first. Members in regions outside the spec cannot be observed and do not
 * hold the fallback back.
 */
static int stale_global_unreachable(const struct ctx *c)
{
	const struct gdb_obs_global *g = c->global;

	for (size_t i = 0; c->writer_standalone && g && i < g->n_members; i++) {
		const char *r = region_of_arn(c, g->members[i].db_cluster_arn);

		if (r && !streq(r, c->writer) && !api_ok(c, r))
			return 1;
	}
	return 0;
}

/* The region's cluster is the primary of some observed global cluster. */
static int writes_in_a_global(const struct ctx *c, const char *region)
{
	for (size_t i = 0; i < c->obs->n_globals; i++) {
		const struct gdb_obs_member *m = member_in(c, &c->obs->globals[i], region);

		if (m && m->is_writer)
			return 1;
	}
	return 0;
}

static int is_stale(struct ctx *c, const char *name)
{
	const struct gdb_obs_region *o = obs_region(c, name);

	if (streq(name, c->writer) || !o || o->api != GDB_CALL_OK)
		return 0;
	/* Without a global cluster around the writer, a missing one is rebuilt by the
	 * fallback too (it creates the next generation first). */
	if (!o->cluster_exists)
		return c->writer_standalone;
	return c->writer_standalone || !in_current_global(c, o);
}

/*
 * A region whose cluster is stale (not part of the writer's global cluster):
 * a stale writer first, as it may still take writes, then in spec order.
 */
static const char *stale_region(struct ctx *c)
{
	if (stale_global_unreachable(c))
		return NULL;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->spec->n_regions; i++) {
			const char *name = c->spec->regions[i].name;

			if (is_stale(c, name) && (pass == 1 || writes_in_a_global(c, name)))
				return name;
		}
	return NULL;
}

static int any_region_unreachable(struct ctx *c)
{
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const struct gdb_obs_region *o = obs_region(c, c->spec->regions[i].name);

		if (!streq(c->spec->regions[i].name, c->writer) && (!o || o->api != GDB_CALL_OK))
			return 1;
	}
	return 0;
}

/*
 * RDS refuses to remove the primary of a global cluster that still has
 * secondaries. When the stale cluster in region r is the primary of g, its
 * secondaries (a third region's cluster) leave g first, one call at a time;
 * each becomes a standalone copy of the old timeline, rebuilt later like any
 * stale region. DONE with the call (or a wait), CONTINUE when r may leave.
 */
static int remove_secondaries_first(struct ctx *c, const struct gdb_obs_global *g, const char *r)
{
	const struct gdb_obs_member *own = member_in(c, g, r);
	struct gdb_action *a;
	char region[64], id[128];

	if (!own || !own->is_writer)
		return CONTINUE;
	for (size_t i = 0; i < g->n_members; i++) {
		const struct gdb_obs_member *m = &g->members[i];

		if (m == own || gdb_parse_cluster_arn(m->db_cluster_arn, region, sizeof(region), id,
						      sizeof(id)) < 0)
			continue;
		if (gdb_spec_region(c->spec, region, NULL) && !api_ok(c, region)) {
			wait_for(
				c, GDB_REQUEUE_STEADY_MS,
				"waiting for %s to answer: its cluster %s must leave %s before the "
				"stale writer in %s can",
				region, id, g->identifier, r);
			return DONE;
		}
		a = issue(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, region);
		a->global_cluster_identifier = xstrdup(g->identifier);
		a->db_cluster_identifier = xstrdup(id);
		a->target_arn = xstrdup(m->db_cluster_arn);
		xsetf(&a->reason,
		      "the stale writer in %s cannot leave %s while %s is its secondary: remove "
		      "%s first",
		      r, g->identifier, id, id);
		event(c, GDB_EVENT_NORMAL, "RemovingStaleMember",
		      "RemoveFromGlobalCluster %s %s (a secondary of the stale writer in %s)",
		      g->identifier, id, r);
		return DONE;
	}
	return CONTINUE;
}

static int step_fence(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = obs_region(c, r);
	const struct gdb_operation *last = &c->st->last_operation;
	struct gdb_action *a;
	char ts[20];

	if (!o || o->api != GDB_CALL_OK) {
		wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for the RDS API of %s", r);
		return DONE;
	}
	if (!o->cluster_exists) {
		set_step(c, GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER);
		return CONTINUE;
	}
	if (streq(o->cluster_status, "deleting")) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to be deleted", cluster_id(c, r));
		return DONE;
	}
	if (global_of(c, o)) {
		const char *g = global_of(c, o);

		if (hold_call(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER) == DONE)
			return DONE;
		if (remove_secondaries_first(c, find_global(c, g), r) == DONE)
			return DONE;
		a = issue(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, r);
		a->global_cluster_identifier = xstrdup(g);
		a->db_cluster_identifier = xstrdup(cluster_id(c, r));
		a->target_arn = xstrdup(o->cluster_arn ? o->cluster_arn : "");
		xsetf(&a->reason, "detach the stale cluster in %s from %s before deleting it", r,
		      g);
		event(c, GDB_EVENT_NORMAL, "RemovingStaleMember", "RemoveFromGlobalCluster %s %s",
		      g, cluster_id(c, r));
		return DONE;
	}
	if (o->n_instances > 0) {
		if (hold_call(c, GDB_ACT_DELETE_INSTANCES) == DONE)
			return DONE;
		a = issue(c, GDB_ACT_DELETE_INSTANCES, r);
		a->db_cluster_identifier = xstrdup(cluster_id(c, r));
		xsetf(&a->reason, "fence the stale writer in %s: delete its %zu instances", r,
		      o->n_instances);
		event(c, GDB_EVENT_WARNING, "FencingOldWriter",
		      "deleting the %zu instances of the stale cluster %s in %s", o->n_instances,
		      cluster_id(c, r), r);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_FENCE_OLD_WRITER) == DONE)
		return DONE;
	stamp(op->started_ms, ts, sizeof(ts));
	a = issue(c, GDB_ACT_FENCE_OLD_WRITER, r);
	a->db_cluster_identifier = xstrdup(cluster_id(c, r));
	a->snapshot_id = xasprintf("%s-lost-writes-%s", cluster_id(c, r), ts);
	if (last->type == GDB_OP_FAILOVER && streq(last->source_region, r))
		gdb_set_str(&op->lost_writes_snapshot, a->snapshot_id);
	xsetf(&a->reason, "delete the stale cluster in %s, keeping its writes in snapshot %s", r,
	      a->snapshot_id);
	event(c, GDB_EVENT_WARNING, "FencingOldWriter", "DeleteDBCluster %s with final snapshot %s",
	      cluster_id(c, r), a->snapshot_id);
	return DONE;
}

static int step_delete_old_global(struct ctx *c)
{
	const char *old_id = c->st->global_cluster_identifier;
	const struct gdb_obs_global *g = find_global(c, old_id);
	struct gdb_operation *op = &c->st->operation;
	struct gdb_action *a;
	char left[256] = "";
	size_t n_left = 0;

	if (!g || streq(old_id, op->global_cluster_identifier)) {
		set_step(c, GDB_STEP_CREATE_GLOBAL_CLUSTER);
		return CONTINUE;
	}
	for (size_t i = 0; i < g->n_members; i++) {
		char region[64], id[128];

		if (gdb_parse_cluster_arn(g->members[i].db_cluster_arn, region, sizeof(region), id,
					  sizeof(id)) < 0)
			continue;
		if (!gdb_spec_region(c->spec, region, NULL)) {
			/*
			 * The operator took this region out of the spec (it is not coming
			 * back): waiting for its API would block the fallback for good. The
			 * old global cluster keeps the member and is left in place.
			 */
			size_t k = strlen(left);

			snprintf(left + k, sizeof(left) - k, "%s%s in %s", n_left ? ", " : "", id,
				 region);
			n_left++;
			continue;
		}
		if (!api_ok(c, region)) {
			wait_for(c, GDB_REQUEUE_STEADY_MS,
				 "waiting for %s to answer: its cluster %s is still in %s", region,
				 id, g->identifier);
			return DONE;
		}
		if (hold_call(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER) == DONE)
			return DONE;
		a = issue(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, region);
		a->global_cluster_identifier = xstrdup(g->identifier);
		a->db_cluster_identifier = xstrdup(id);
		a->target_arn = xstrdup(g->members[i].db_cluster_arn);
		xsetf(&a->reason, "empty the old global cluster %s", g->identifier);
		return DONE;
	}
	if (n_left) {
		/* The next generation has another name: it does not need the old one gone. */
		degraded(c, "OldGlobalClusterNotDeleted",
			 "%s still lists %s (regions no longer in the spec); delete it by hand "
			 "once they answer",
			 g->identifier, left);
		event(c, GDB_EVENT_WARNING, "OldGlobalClusterNotDeleted",
		      "%s is left in place: it still lists %s, whose regions are no longer in the "
		      "spec; delete it by hand once they answer",
		      g->identifier, left);
		set_step(c, GDB_STEP_CREATE_GLOBAL_CLUSTER);
		return CONTINUE;
	}
	if (streq(g->status, "deleting")) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to be deleted", g->identifier);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER) == DONE)
		return DONE;
	a = issue(c, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, c->writer);
	a->global_cluster_identifier = xstrdup(g->identifier);
	xsetf(&a->reason, "delete the old global cluster %s", g->identifier);
	event(c, GDB_EVENT_NORMAL, "DeletingOldGlobalCluster", "DeleteGlobalCluster %s",
	      g->identifier);
	return DONE;
}

static int step_create_global(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_global *g = find_global(c, op->global_cluster_identifier);
	const struct gdb_obs_region *w = cluster_seen(c, c->writer);
	struct gdb_action *a;

	if (g && member_in(c, g, c->writer)) {
		gdb_set_str(&c->st->global_cluster_identifier, g->identifier);
		c->st->generation =
			gdb_generation_of(c->spec->global_cluster_identifier, g->identifier);
		c->global = g;
		c->writer_standalone = 0;
		event(c, GDB_EVENT_NORMAL, "GlobalClusterCreated",
		      "global cluster %s holds the writer in %s", g->identifier, c->writer);
		set_step(c, GDB_STEP_CREATE_SECONDARY);
		return CONTINUE;
	}
	if (g && op->attempts == 0) {
		/* The name is taken by a cluster we did not create: take the next generation. */
		int64_t gen = gdb_generation_of(c->spec->global_cluster_identifier, g->identifier);

		free(op->global_cluster_identifier);
		op->global_cluster_identifier =
			gdb_generation_name(c->spec->global_cluster_identifier, gen + 1);
		event(c, GDB_EVENT_WARNING, "GlobalClusterNameTaken",
		      "%s exists without our writer; using %s", g->identifier,
		      op->global_cluster_identifier);
		return CONTINUE;
	}
	if (g) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to hold the writer",
			 g->identifier);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_CREATE_GLOBAL_CLUSTER) == DONE)
		return DONE;
	if (!w || !streq(w->cluster_status, "available")) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for the writer in %s to be available",
			 c->writer);
		return DONE;
	}
	a = issue(c, GDB_ACT_CREATE_GLOBAL_CLUSTER, c->writer);
	a->global_cluster_identifier = xstrdup(op->global_cluster_identifier);
	a->db_cluster_identifier = xstrdup(cluster_id(c, c->writer));
	a->target_arn = xstrdup(w->cluster_arn ? w->cluster_arn : "");
	xsetf(&a->reason, "fallback: new global cluster %s from the writer in %s",
	      op->global_cluster_identifier, c->writer);
	event(c, GDB_EVENT_NORMAL, "CreatingGlobalCluster", "CreateGlobalCluster %s from %s",
	      op->global_cluster_identifier, cluster_id(c, c->writer));
	return DONE;
}

static struct gdb_action *create_secondary(struct ctx *c, const char *r)
{
	const struct gdb_region_spec *rs = gdb_spec_region(c->spec, r, NULL);
	struct gdb_action *a = issue(c, GDB_ACT_CREATE_SECONDARY_CLUSTER, r);

	a->global_cluster_identifier = xstrdup(c->st->global_cluster_identifier);
	a->db_cluster_identifier = xstrdup(rs->db_cluster_identifier);
	a->source_region = xstrdup(c->writer);
	/* Empty in the template means the global cluster's version (docs/api.md). */
	if (rs->has_template && rs->template.engine_version)
		a->engine_version = xstrdup(rs->template.engine_version);
	else if (c->global && c->global->engine_version)
		a->engine_version = xstrdup(c->global->engine_version);
	xsetf(&a->reason, "create the secondary %s in %s from its template",
	      rs->db_cluster_identifier, r);
	event(c, GDB_EVENT_NORMAL, "CreatingSecondary", "CreateDBCluster %s in %s joining %s",
	      rs->db_cluster_identifier, r, c->st->global_cluster_identifier);
	return a;
}

static struct gdb_action *create_instance(struct ctx *c, const char *r,
					  const struct gdb_obs_region *o)
{
	const char *cid = cluster_id(c, r);
	struct gdb_action *a;
	char want[160];
	int n;

	/* The smallest free "<cluster>-<n>": a retry asks for the same name again. */
	for (n = 1; n <= GDB_MAX_INSTANCES + 1; n++) {
		size_t i;

		snprintf(want, sizeof(want), "%s-%d", cid, n);
		for (i = 0; i < o->n_instances; i++)
			if (streq(o->instance_ids[i], want))
				break;
		if (i == o->n_instances)
			break;
	}
	a = issue(c, GDB_ACT_CREATE_INSTANCE, r);
	a->db_cluster_identifier = xstrdup(cid);
	a->instance_id = xstrdup(want);
	xsetf(&a->reason, "the cluster in %s has %zu of %d instances", r, o->n_instances,
	      gdb_spec_region(c->spec, r, NULL)->template.instances);
	event(c, GDB_EVENT_NORMAL, "CreatingInstance", "CreateDBInstance %s in %s", want, r);
	return a;
}

static int step_create_secondary(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = obs_region(c, r);
	const struct gdb_region_spec *rs = gdb_spec_region(c->spec, r, NULL);

	if (!o || o->api != GDB_CALL_OK) {
		wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for the RDS API of %s", r);
		return DONE;
	}
	if (o->cluster_exists) {
		if (in_current_global(c, o)) {
			set_step(c, GDB_STEP_CREATE_INSTANCES);
			return CONTINUE;
		}
		if (streq(o->cluster_status, "creating")) {
			wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to join",
				 rs->db_cluster_identifier);
			return DONE;
		}
		set_step(c, GDB_STEP_FENCE_OLD_WRITER);
		return CONTINUE;
	}
	if (!rs->has_template) {
		degraded(c, "TemplateMissing",
			 "cannot rebuild %s: spec.regions[%s].template is not set", r, r);
		wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for a template for %s", r);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_CREATE_SECONDARY_CLUSTER) == DONE)
		return DONE;
	create_secondary(c, r);
	return DONE;
}

static int step_create_instances(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = cluster_seen(c, r);
	const struct gdb_region_spec *rs = gdb_spec_region(c->spec, r, NULL);

	if (!o) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for the cluster in %s", r);
		return DONE;
	}
	if (rs->has_template && o->n_instances < (size_t)rs->template.instances) {
		create_instance(c, r, o);
		return DONE;
	}
	set_step(c, GDB_STEP_WAIT_CONNECTED);
	return CONTINUE;
}

static int step_wait_connected(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_region *o = cluster_seen(c, op->target_region);
	const char *next;

	if (!o || !streq(o->cluster_status, "available") || !is_connected(c, op->target_region)) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to be available and connected",
			 op->target_region);
		return DONE;
	}
	event(c, GDB_EVENT_NORMAL, "FallbackReady", "%s is connected to %s", op->target_region,
	      c->st->global_cluster_identifier);
	next = stale_region(c);
	if (next) {
		gdb_set_str(&op->target_region, next);
		set_step(c, GDB_STEP_FENCE_OLD_WRITER);
		return CONTINUE;
	}
	next_tail(c, GDB_STEP_WAIT_DNS_INSYNC);
	return CONTINUE;
}

static int step_wait_readded(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_region *o = cluster_seen(c, op->target_region);

	if (!o || !streq(o->cluster_status, "available") || !is_connected(c, op->target_region)) {
		/* Every 10 s, not the steady 30 s: the region's return starts the way home. */
		wait_for(c, GDB_REQUEUE_WAIT_MS,
			 "waiting for Aurora to re-add %s as a connected secondary",
			 op->target_region);
		return DONE;
	}
	set_step(c, GDB_STEP_COPY_SNAPSHOT);
	return CONTINUE;
}

static int step_copy_snapshot(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = cluster_seen(c, r);
	const char *source = NULL;
	int64_t source_ms = 0;
	struct gdb_action *a;
	char ts[20], target[200];

	stamp(op->started_ms, ts, sizeof(ts));
	snprintf(target, sizeof(target), "%s-lost-writes-%s", cluster_id(c, r), ts);
	for (size_t i = 0; o && i < o->n_snapshots; i++) {
		if (streq(o->snapshot_ids[i], target)) {
			gdb_set_str(&op->lost_writes_snapshot, target);
			event(c, GDB_EVENT_NORMAL, "LostWritesSnapshotKept",
			      "the writes lost in the failover are kept in snapshot %s", target);
			next_tail(c, GDB_STEP_PUBLISH_SSM);
			return CONTINUE;
		}
		/* The newest of Aurora's failover snapshots: this failover's, not an earlier one's. */
		if (o->snapshot_ids[i] &&
		    strncmp(o->snapshot_ids[i], "rds:unplanned-global-failover-", 30) == 0 &&
		    (!source || o->snapshot_created_ms[i] > source_ms ||
		     (o->snapshot_created_ms[i] == source_ms &&
		      strcmp(o->snapshot_ids[i], source) > 0))) {
			source = o->snapshot_ids[i];
			source_ms = o->snapshot_created_ms[i];
		}
	}
	if (!source) {
		if (c->now - op->step_started_ms < GDB_SNAPSHOT_WAIT_MS) {
			wait_for(c, GDB_REQUEUE_STEADY_MS,
				 "waiting for Aurora's rds:unplanned-global-failover snapshot");
			return DONE;
		}
		event(c, GDB_EVENT_WARNING, "NoFailoverSnapshot",
		      "no rds:unplanned-global-failover snapshot of %s appeared", cluster_id(c, r));
		next_tail(c, GDB_STEP_PUBLISH_SSM);
		return CONTINUE;
	}
	if (hold_call(c, GDB_ACT_COPY_FAILOVER_SNAPSHOT) == DONE)
		return DONE;
	gdb_set_str(&op->lost_writes_snapshot, target);
	a = issue(c, GDB_ACT_COPY_FAILOVER_SNAPSHOT, r);
	a->source_snapshot_id = xstrdup(source);
	a->snapshot_id = xstrdup(target);
	a->db_cluster_identifier = xstrdup(cluster_id(c, r));
	xsetf(&a->reason, "keep the writes lost in the failover: copy %s to %s", source, target);
	event(c, GDB_EVENT_NORMAL, "CopyingFailoverSnapshot", "CopyDBClusterSnapshot %s %s", source,
	      target);
	return DONE;
}

/*
 * The generation a fallback creates: one past the highest of the status'
 * generation, the generation its global cluster's name says and the base's
 * own (a base "demo-global-cluster-1" is generation 1, a status written
 * before the base's "-N" was understood may say less), so the new name never
 * repeats the one in use.
 */
static int64_t next_generation(const struct ctx *c)
{
	const char *base = c->spec->global_cluster_identifier;
	int64_t g = c->st->generation,
		named = gdb_generation_of(base, c->st->global_cluster_identifier),
		own = gdb_generation_of(base, base);

	if (named > g)
		g = named;
	if (own > g)
		g = own;
	return g + 1;
}

static void begin_fallback_steps(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *base = c->spec->global_cluster_identifier;

	if (op->method == GDB_OPM_MANAGED) {
		set_step(c, GDB_STEP_WAIT_READDED);
		return;
	}
	free(op->global_cluster_identifier);
	op->global_cluster_identifier = gdb_generation_name(base, next_generation(c));
	set_step(c, GDB_STEP_FENCE_OLD_WRITER);
}

static int step_awaiting_fallback_approval(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	int ok = approved(c, c->obs->approve_fallback, GDB_ANNOTATION_APPROVE_FALLBACK);

	if (ok == 1 || c->spec->fallback_mode == GDB_MODE_AUTOMATIC) {
		event(c, GDB_EVENT_NORMAL, "FallbackApproved", "fallback of %s %s",
		      op->target_region, ok == 1 ? "approved" : "automatic");
		begin_fallback_steps(c);
		return CONTINUE;
	}
	degraded(c, "AwaitingFallbackApproval",
		 "%s is back; fallback waits for: kubectl annotate gdb <name> %s=$(date -u "
		 "+%%FT%%TZ)",
		 op->target_region, GDB_ANNOTATION_APPROVE_FALLBACK);
	wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for the approve-fallback annotation");
	return DONE;
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

static const struct step_row step_table[GDB_STEP__COUNT] = {
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
	[GDB_STEP_UPDATE_DNS] = {{MOVES, S(WAIT_DNS_INSYNC) | END, 0}, step_update_dns},
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

/* ---- the decisions without an operation in flight ---- */

static int consider_failover(struct ctx *c)
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

static int consider_fallback(struct ctx *c)
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

static int consider_provisioning(struct ctx *c)
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

static int consider_switchover(struct ctx *c)
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
static const char *quiet_failover_target(struct ctx *c)
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
static void preempt_for_failover(struct ctx *c)
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

static int plan_delete(struct ctx *c)
{
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
		if (pass == 0 && c->global) {
			if (c->global->n_members > 1 || streq(c->global->status, "deleting")) {
				act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
				return DONE;
			}
			if (c->global->n_members == 0) {
				a = act(c, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, c->writer,
					GDB_REQUEUE_WAIT_MS);
				a->global_cluster_identifier = xstrdup(c->global->identifier);
				xsetf(&a->reason, "deletionPolicy Delete");
				return DONE;
			}
			/* The writer is the last member: detach it, then delete the global. */
		}
	}
	if (c->global) {
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_WAIT_MS);
		return DONE;
	}
	a = act(c, GDB_ACT_REMOVE_FINALIZER, NULL, 0);
	xsetf(&a->reason, "the AWS resources are deleted");
	return DONE;
}

/* ---- conditions ---- */

static void set_condition(struct ctx *c, const char *type, enum gdb_cond_status status,
			  const char *reason, const char *message)
{
	struct gdb_status *st = c->st;
	struct gdb_condition *cd = NULL;

	for (size_t i = 0; i < st->n_conditions; i++)
		if (streq(st->conditions[i].type, type))
			cd = &st->conditions[i];
	if (!cd) {
		if (st->n_conditions == GDB_MAX_CONDITIONS)
			return;
		cd = &st->conditions[st->n_conditions++];
		memset(cd, 0, sizeof(*cd));
		cd->type = xstrdup(type);
	}
	if (cd->status != status || cd->last_transition_ms == 0)
		cd->last_transition_ms = c->now;
	cd->status = status;
	cd->observed_generation = c->obs->generation;
	gdb_set_str(&cd->reason, reason);
	gdb_set_str(&cd->message, message);
}

static void finalize_conditions(struct ctx *c)
{
	const struct gdb_health_region *hw = health_region(c, c->writer);
	const struct gdb_operation *op = &c->st->operation;
	char msg[512];
	int ph;

	if (!c->writer || !hw || hw->writer_healthy < 0) {
		ph = GDB_COND_UNKNOWN;
		set_condition(c, "PrimaryHealthy", GDB_COND_UNKNOWN, "NotProbedYet",
			      "no probe verdict for the writer yet");
	} else if (hw->writer_healthy) {
		ph = GDB_COND_TRUE;
		snprintf(msg, sizeof(msg), "write probes to the writer in %s succeed", c->writer);
		set_condition(c, "PrimaryHealthy", GDB_COND_TRUE, "WriterProbesSucceeding", msg);
	} else {
		ph = GDB_COND_FALSE;
		snprintf(msg, sizeof(msg), "%d consecutive write probes to the writer in %s failed",
			 hw->consecutive_failures, c->writer);
		set_condition(c, "PrimaryHealthy", GDB_COND_FALSE, "WriterProbesFailing", msg);
	}

	if (is_paused(c) && !c->obs->deleting) {
		c->progressing_reason[0] = '\0';
	} else if (op->type != GDB_OP_NONE && !c->progressing_reason[0]) {
		snprintf(msg, sizeof(msg), "%s to %s: step %s%s%s", gdb_op_type_name(op->type),
			 op->target_region ? op->target_region : "-", gdb_step_name(op->step),
			 op->message ? ": " : "", op->message ? op->message : "");
		progressing(c,
			    op->type == GDB_OP_SWITCHOVER ? "SwitchoverInProgress"
			    : op->type == GDB_OP_FAILOVER ? "FailoverInProgress"
							  : "FallbackInProgress",
			    "%s", msg);
	}
	if (is_paused(c) && !c->obs->deleting)
		set_condition(c, "Progressing", GDB_COND_FALSE, "Paused",
			      "the globaldb.io/paused annotation is true: no AWS calls");
	else if (c->progressing_reason[0])
		set_condition(c, "Progressing", GDB_COND_TRUE, c->progressing_reason,
			      c->progressing_msg);
	else
		set_condition(c, "Progressing", GDB_COND_FALSE, "Idle", "no operation in flight");

	if (c->degraded_reason[0])
		set_condition(c, "Degraded", GDB_COND_TRUE, c->degraded_reason, c->degraded_msg);
	else
		set_condition(c, "Degraded", GDB_COND_FALSE, "AsExpected", "nothing is wrong");

	if (c->degraded_reason[0] && strcmp(c->degraded_reason, "InvalidSpec") == 0)
		set_condition(c, "Ready", GDB_COND_FALSE, "InvalidSpec", c->degraded_msg);
	else if (!c->writer)
		set_condition(c, "Ready", GDB_COND_FALSE, "WriterUnknown",
			      "no writer cluster observed yet");
	else if (ph == GDB_COND_FALSE)
		set_condition(c, "Ready", GDB_COND_FALSE, "PrimaryUnhealthy",
			      "the writer fails its probes");
	else if (op->type != GDB_OP_NONE)
		set_condition(c, "Ready", GDB_COND_FALSE, "OperationInProgress",
			      c->progressing_msg);
	else if (!streq(c->writer, c->spec->primary_region)) {
		snprintf(msg, sizeof(msg), "the writer is in %s, spec.primaryRegion is %s",
			 c->writer, c->spec->primary_region);
		set_condition(c, "Ready", GDB_COND_FALSE, "WriterNotInDesiredRegion", msg);
	} else if (c->degraded_reason[0]) {
		set_condition(c, "Ready", GDB_COND_FALSE, c->degraded_reason, c->degraded_msg);
	} else if (ph == GDB_COND_UNKNOWN) {
		set_condition(c, "Ready", GDB_COND_FALSE, "PrimaryHealthUnknown",
			      "no write probe verdict for the writer yet");
	} else {
		snprintf(msg, sizeof(msg), "the writer is in %s as desired", c->writer);
		set_condition(c, "Ready", GDB_COND_TRUE, "WriterInDesiredRegion", msg);
	}
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
	/* The rows again, so roles reflect this call's decision (a rebuild, a new writer). */
	update_regions(&c);
	finalize_conditions(&c);
}

void gdb_plan_release(struct gdb_plan *p)
{
	struct gdb_action *a;

	if (!p)
		return;
	a = &p->action;
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
	free(a->reason);
	gdb_status_release(&p->status);
	for (size_t i = 0; i < p->n_events; i++) {
		free(p->events[i].reason);
		free(p->events[i].message);
	}
	free(p->refusal);
	memset(p, 0, sizeof(*p));
}
