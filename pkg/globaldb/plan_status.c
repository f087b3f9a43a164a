/*
 * plan_status.c - what the planner writes: output helpers (degraded, progressing,
 * events, refusals, the action), operation bookkeeping (set_step, start_op,
 * finish_op, the per-call settle and backoff rules) and the conditions.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

/* ---- output helpers ---- */

static void note(char *dst, size_t n, const char *fmt, va_list ap)
{
	vsnprintf(dst, n, fmt, ap);
}

void degraded(struct ctx *c, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (c->degraded_reason[0])
		return; /* the first problem found is the one reported */
	snprintf(c->degraded_reason, sizeof(c->degraded_reason), "%s", reason);
	va_start(ap, fmt);
	note(c->degraded_msg, sizeof(c->degraded_msg), fmt, ap);
	va_end(ap);
}

void progressing(struct ctx *c, const char *reason, const char *fmt, ...)
{
	va_list ap;

	snprintf(c->progressing_reason, sizeof(c->progressing_reason), "%s", reason);
	va_start(ap, fmt);
	note(c->progressing_msg, sizeof(c->progressing_msg), fmt, ap);
	va_end(ap);
}

void event(struct ctx *c, enum gdb_event_type type, const char *reason, const char *fmt, ...)
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
int old_degraded_is(const struct ctx *c, const char *reason)
{
	const struct gdb_condition *cd = gdb_status_condition(c->old, "Degraded");

	return cd && cd->status == GDB_COND_TRUE && streq(cd->reason, reason);
}

void refuse(struct ctx *c, const char *reason, const char *fmt, ...)
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

struct gdb_action *act(struct ctx *c, enum gdb_action_kind kind, const char *region,
		       int64_t requeue_ms)
{
	struct gdb_action *a = &c->out->action;

	a->kind = kind;
	gdb_set_str(&a->region, region);
	c->out->requeue_after_ms = requeue_ms;
	return a;
}

void wait_for(struct ctx *c, int64_t requeue_ms, const char *fmt, ...)
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

/* Moves the operation to step along an edge of the step table. */
void set_step(struct ctx *c, enum gdb_step step)
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

void start_op(struct ctx *c, enum gdb_op_type type, enum gdb_op_method method, const char *source,
	      const char *target, enum gdb_step step)
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

void finish_op(struct ctx *c, enum gdb_op_result result, const char *message)
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
int64_t since_last_call(const struct ctx *c)
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
int op_called(const struct gdb_operation *op)
{
	return op->last_call_ms > 0 || op->attempts > 0 || op->last_action || op->n_steps > 0;
}

/* The executor's report on the call this step issued last, or NULL. */
const struct gdb_obs_last_result *last_result(const struct ctx *c, enum gdb_action_kind kind)
{
	const struct gdb_obs_last_result *l = &c->obs->last;

	return l->action == (int)kind && same_call(&c->st->operation, kind) ? l : NULL;
}

const char *call_name(enum gdb_call call)
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

const char *aws_reason(enum gdb_call call)
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
int hold_call(struct ctx *c, enum gdb_action_kind kind)
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

struct gdb_action *issue(struct ctx *c, enum gdb_action_kind kind, const char *region)
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

/* ---- conditions ---- */

static void set_condition(struct ctx *c, const char *type, enum gdb_cond_status status,
			  const char *reason, const char *message)
{
	gdb_status_set_condition(c->st, type, status, reason, message, c->obs->generation, c->now);
}

void finalize_conditions(struct ctx *c)
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
