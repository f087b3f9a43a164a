/*
 * format.c - the plugin's output, from the objects the apiserver returned.
 *
 * The status is decoded with gdb_status_decode() and printed from the
 * structs; a few things the structs do not carry (metadata, the spec's
 * failover settings, the paused annotation, Events) are read from the JSON.
 * Tables are laid out like kubectl's: upper-case headers, columns padded to
 * the widest cell, three spaces apart. Times are shown as ages ("5s ago")
 * where a person judges freshness, and as RFC 3339 where they correlate with
 * logs.
 */
#include "cmd/kubectl-globaldb/format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/types.h"

#define TABLE_MAX_COLS 8
#define TABLE_MAX_ROWS 64
#define CELL 160

struct table {
	size_t ncols, nrows;
	char cells[TABLE_MAX_ROWS][TABLE_MAX_COLS][CELL];
};

/*
 * Control characters from [from, len) become '?', newlines too unless
 * keep_newlines: a message or an Event note (which anyone allowed to create
 * Events can write) must not move the cursor or recolour the terminal.
 */
static void sanitize(struct base_buf *b, size_t from, int keep_newlines)
{
	for (size_t i = from; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f)
			b->data[i] = '?';
	}
}

static void table_row(struct table *t, ...)
{
	va_list ap;

	if (t->nrows >= TABLE_MAX_ROWS)
		return;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		snprintf(t->cells[t->nrows][i], CELL, "%s", s ? s : "");
		for (char *p = t->cells[t->nrows][i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
	}
	va_end(ap);
	t->nrows++;
}

static void table_print(struct base_buf *out, const struct table *t, const char *indent)
{
	size_t w[TABLE_MAX_COLS] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++)
			if (strlen(t->cells[r][c]) > w[c])
				w[c] = strlen(t->cells[r][c]);
	for (size_t r = 0; r < t->nrows; r++) {
		base_buf_adds(out, indent);
		for (size_t c = 0; c < t->ncols; c++) {
			if (c + 1 == t->ncols)
				base_buf_adds(out, t->cells[r][c]);
			else
				base_buf_addf(out, "%-*s   ", (int)w[c], t->cells[r][c]);
		}
		while (out->len && out->data[out->len - 1] == ' ')
			out->data[--out->len] = '\0';
		base_buf_addch(out, '\n');
	}
}

void kgdb_duration(int64_t s, char *out, size_t n)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, n, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(out, n, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, n, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(out, n, "%" PRId64 "d%" PRId64 "h", s / 86400, s % 86400 / 3600);
}

/* "5s ago" from a unix-ms time; "-" when absent. */
static void ago(int64_t ms, int64_t now_ms, char *out, size_t n)
{
	char d[32];

	if (ms <= 0) {
		snprintf(out, n, "-");
		return;
	}
	kgdb_duration((now_ms - ms) / 1000, d, sizeof(d));
	snprintf(out, n, "%s ago", d);
}

static void rfc3339(int64_t ms, char *out, size_t n)
{
	if (ms <= 0 || base_time_format(ms, out, n) < 0)
		snprintf(out, n, "-");
}

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(obj, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static int64_t int_at(const json_t *obj, const char *a, const char *b, int64_t dflt)
{
	const json_t *v = json_object_get(json_object_get(obj, a), b);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void steps_line(struct base_buf *out, const struct gdb_operation *op)
{
	char d[32];

	if (!op->n_steps)
		return;
	base_buf_adds(out, "  steps:     ");
	for (size_t i = 0; i < op->n_steps; i++) {
		kgdb_duration(op->steps[i].duration_seconds, d, sizeof(d));
		base_buf_addf(out, "%s%s %s", i ? ", " : "", or_dash(op->steps[i].name), d);
	}
	base_buf_addch(out, '\n');
}

static void op_title(struct base_buf *out, const struct gdb_operation *op)
{
	base_buf_addf(out, "#%" PRId64 " %s %s -> %s", op->id, gdb_op_type_name(op->type),
		      or_dash(op->source_region), or_dash(op->target_region));
	if (op->method != GDB_OPM_NONE && op->type != GDB_OP_SWITCHOVER)
		base_buf_addf(out, " (%s)", gdb_op_method_name(op->method));
}

static void op_extras(struct base_buf *out, const struct gdb_operation *op)
{
	if (op->data_loss_window_seconds >= 0)
		base_buf_addf(out,
			      "  data-loss window: at most %" PRId64 "s of acknowledged writes\n",
			      op->data_loss_window_seconds);
	if (op->lost_writes_snapshot)
		base_buf_addf(out, "  lost writes kept in snapshot: %s\n",
			      op->lost_writes_snapshot);
	if (op->message)
		base_buf_addf(out, "  message:   %s\n", op->message);
}

static void format_operation(struct base_buf *out, const struct gdb_operation *op, const char *name,
			     int64_t now_ms)
{
	char a[48], b[48], d[32];

	if (op->type == GDB_OP_NONE) {
		base_buf_adds(out, "Operation in flight: none\n");
		return;
	}
	base_buf_adds(out, "Operation in flight: ");
	op_title(out, op);
	base_buf_addch(out, '\n');
	rfc3339(op->started_ms, a, sizeof(a));
	ago(op->started_ms, now_ms, b, sizeof(b));
	base_buf_addf(out, "  started:   %s (%s)\n", a, b);
	kgdb_duration(op->step_started_ms > 0 ? (now_ms - op->step_started_ms) / 1000 : 0, d,
		      sizeof(d));
	base_buf_addf(out, "  step:      %s for %s", gdb_step_name(op->step), d);
	if (op->attempts > 0)
		base_buf_addf(out, ", attempt %d", op->attempts);
	if (op->last_action) {
		ago(op->last_call_ms, now_ms, a, sizeof(a));
		base_buf_addf(out, ", last call %s %s", op->last_action, a);
	}
	base_buf_addch(out, '\n');
	steps_line(out, op);
	op_extras(out, op);
	if (op->step == GDB_STEP_AWAITING_APPROVAL)
		base_buf_addf(out, "  approve:   kubectl globaldb approve-%s %s\n",
			      op->type == GDB_OP_FALLBACK ? "fallback" : "failover", name);
}

static void format_last_operation(struct base_buf *out, const struct gdb_operation *op)
{
	char a[48], b[48], d[32];

	if (op->type == GDB_OP_NONE) {
		base_buf_adds(out, "Last operation: none\n");
		return;
	}
	base_buf_adds(out, "Last operation: ");
	op_title(out, op);
	base_buf_addf(out, ": %s\n", gdb_op_result_name(op->result));
	rfc3339(op->started_ms, a, sizeof(a));
	rfc3339(op->finished_ms, b, sizeof(b));
	base_buf_addf(out, "  started:   %s, finished %s", a, b);
	if (op->started_ms > 0 && op->finished_ms >= op->started_ms) {
		kgdb_duration((op->finished_ms - op->started_ms) / 1000, d, sizeof(d));
		base_buf_addf(out, ", took %s", d);
	}
	base_buf_addch(out, '\n');
	steps_line(out, op);
	op_extras(out, op);
}

static const char *health_cell(const struct gdb_region_status *r, char *buf, size_t n)
{
	if (r->role == GDB_ROLE_PRIMARY) {
		if (r->writer_healthy == 1)
			return "healthy";
		if (r->writer_healthy == 0) {
			snprintf(buf, n, "FAILING (%d in a row)", r->consecutive_failures);
			return buf;
		}
		return "unknown";
	}
	if (r->consecutive_failures > 0) {
		snprintf(buf, n, "reader failing (%d)", r->consecutive_failures);
		return buf;
	}
	return "-";
}

static const char *lag_cell(const struct gdb_region_status *r, int64_t budget, char *buf, size_t n)
{
	if (r->role == GDB_ROLE_PRIMARY)
		return "-";
	if (r->replication_lag_seconds < 0)
		return r->role == GDB_ROLE_SECONDARY ? "unknown" : "-";
	if (budget < 0)
		snprintf(buf, n, "%" PRId64 "s", r->replication_lag_seconds);
	else
		snprintf(buf, n, "%" PRId64 "s/%" PRId64 "s%s", r->replication_lag_seconds, budget,
			 r->replication_lag_seconds > budget ? " OVER BUDGET" : "");
	return buf;
}

static void format_regions(struct base_buf *out, const struct gdb_status *st, int64_t budget,
			   int64_t now_ms)
{
	struct table *t = xcalloc(1, sizeof(*t));
	char h[64], l[64], p[48];

	t->ncols = 8;
	table_row(t, "REGION", "ROLE", "CLUSTER", "STATUS", "SYNC", "WRITER", "LAG/BUDGET",
		  "PROBED");
	for (size_t i = 0; i < st->n_regions; i++) {
		const struct gdb_region_status *r = &st->regions[i];

		ago(r->last_probe_ms, now_ms, p, sizeof(p));
		table_row(t, or_dash(r->name), gdb_role_name(r->role),
			  or_dash(r->db_cluster_identifier), or_dash(r->cluster_status),
			  or_dash(r->synchronization_status), health_cell(r, h, sizeof(h)),
			  lag_cell(r, budget, l, sizeof(l)), p);
	}
	base_buf_adds(out, "Regions:\n");
	if (st->n_regions)
		table_print(out, t, "  ");
	else
		base_buf_adds(out, "  none observed yet\n");
	free(t);
}

static void format_conditions(struct base_buf *out, const struct gdb_status *st, int64_t now_ms)
{
	struct table *t = xcalloc(1, sizeof(*t));
	char a[48];

	t->ncols = 5;
	table_row(t, "CONDITION", "STATUS", "REASON", "SINCE", "MESSAGE");
	for (size_t i = 0; i < st->n_conditions; i++) {
		const struct gdb_condition *c = &st->conditions[i];

		ago(c->last_transition_ms, now_ms, a, sizeof(a));
		table_row(t, or_dash(c->type), gdb_cond_status_name(c->status), or_dash(c->reason),
			  a, c->message ? c->message : "");
	}
	base_buf_adds(out, "Conditions:\n");
	if (st->n_conditions)
		table_print(out, t, "  ");
	else
		base_buf_adds(out, "  none yet: the controller has not written a status\n");
	free(t);
}

int kgdb_format_status(struct base_buf *out, const json_t *obj, int64_t now_ms)
{
	const json_t *spec = json_object_get(obj, "spec");
	const char *name = or_dash(str_at(obj, "metadata", "name"));
	const char *paused = json_string_value(
		json_object_get(json_object_get(json_object_get(obj, "metadata"), "annotations"),
				GDB_ANNOTATION_PAUSED));
	struct gdb_status st = {0};
	struct gdb_spec sp = {0};
	char err[GDB_ERRLEN], a[48];
	int64_t budget = -1;
	size_t start = out->len;

	if (gdb_status_decode(json_object_get(obj, "status"), &st, err, sizeof(err)) < 0) {
		base_buf_addf(out, "error: the status of %s cannot be read: %s\n", name, err);
		gdb_status_release(&st);
		return BASE_EINVAL;
	}
	if (gdb_spec_decode(spec, &sp, err, sizeof(err)) == 0)
		budget = sp.failover.max_data_loss_seconds;

	base_buf_addf(out, "GlobalDatabase %s/%s\n", or_dash(str_at(obj, "metadata", "namespace")),
		      name);
	base_buf_addf(out, "  global cluster:  %s", or_dash(st.global_cluster_identifier));
	if (st.generation > 0)
		base_buf_addf(out, " (generation %" PRId64 ")", st.generation);
	base_buf_addch(out, '\n');
	base_buf_addf(out, "  writer:          %s (desired %s)\n",
		      or_dash(st.current_primary_region),
		      or_dash(str_at(spec, "primaryRegion", NULL)));
	if (st.writer_endpoint)
		base_buf_addf(out, "  writer endpoint: %s\n", st.writer_endpoint);
	if (budget >= 0)
		snprintf(a, sizeof(a), "%" PRId64 "s", budget);
	else
		snprintf(a, sizeof(a), "unknown");
	base_buf_addf(
		out,
		"  failover:        %s, method %s, data-loss budget %s, cooldown %" PRId64 "s\n",
		str_at(spec, "failover", "mode") ? str_at(spec, "failover", "mode") : "Automatic",
		str_at(spec, "failover", "method") ? str_at(spec, "failover", "method") : "Auto", a,
		int_at(spec, "failover", "cooldownSeconds", 900));
	ago(st.last_failover_ms, now_ms, a, sizeof(a));
	base_buf_addf(out, "  last failover:   %s\n", st.last_failover_ms > 0 ? a : "never");
	if (paused && strcmp(paused, "true") == 0)
		base_buf_addf(out,
			      "  PAUSED:          no AWS calls; resume with `kubectl globaldb "
			      "resume %s`\n",
			      name);
	else
		base_buf_adds(out, "  paused:          no\n");
	base_buf_addch(out, '\n');
	format_conditions(out, &st, now_ms);
	base_buf_addch(out, '\n');
	format_regions(out, &st, budget, now_ms);
	base_buf_addch(out, '\n');
	format_operation(out, &st.operation, name, now_ms);
	format_last_operation(out, &st.last_operation);
	sanitize(out, start, 1);
	gdb_spec_release(&sp);
	gdb_status_release(&st);
	return 0;
}

/* ---- history ---- */

struct ev {
	int64_t ms;
	uint64_t rv;
	const json_t *e;
};

static int64_t event_ms(const json_t *e)
{
	const char *keys[] = {"eventTime", "deprecatedFirstTimestamp", NULL};
	int64_t ms;

	for (size_t i = 0; keys[i]; i++)
		if (str_at(e, keys[i], NULL) && base_time_parse(str_at(e, keys[i], NULL), &ms) == 0)
			return ms;
	if (str_at(e, "metadata", "creationTimestamp") &&
	    base_time_parse(str_at(e, "metadata", "creationTimestamp"), &ms) == 0)
		return ms;
	return 0;
}

static int ev_cmp(const void *pa, const void *pb)
{
	const struct ev *a = pa, *b = pb;

	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	return a->rv < b->rv ? -1 : a->rv > b->rv;
}

static int regards(const json_t *e, const json_t *obj)
{
	const json_t *reg = json_object_get(e, "regarding");
	const char *kind = str_at(reg, "kind", NULL), *name = str_at(reg, "name", NULL);
	const char *uid = str_at(reg, "uid", NULL), *ouid = str_at(obj, "metadata", "uid");

	if (!kind || strcmp(kind, "GlobalDatabase") != 0 || !name ||
	    strcmp(name, or_dash(str_at(obj, "metadata", "name"))) != 0)
		return 0;
	/* An object of the same name deleted and created again has other Events. */
	return !uid || !ouid || strcmp(uid, ouid) == 0;
}

void kgdb_format_history(struct base_buf *out, const json_t *obj, const json_t *events,
			 int64_t now_ms)
{
	size_t n = json_array_size(events), k = 0;
	struct ev *evs = xcalloc(n ? n : 1, sizeof(*evs));
	struct gdb_status st = {0};
	char err[GDB_ERRLEN], t[48];

	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(events, i);
		const char *rv = str_at(e, "metadata", "resourceVersion");

		if (!regards(e, obj))
			continue;
		evs[k].e = e;
		evs[k].ms = event_ms(e);
		evs[k].rv = rv ? strtoull(rv, NULL, 10) : 0;
		k++;
	}
	qsort(evs, k, sizeof(*evs), ev_cmp);
	base_buf_addf(out, "Events of GlobalDatabase %s/%s, oldest first:\n",
		      or_dash(str_at(obj, "metadata", "namespace")),
		      or_dash(str_at(obj, "metadata", "name")));
	if (!k)
		base_buf_adds(out, "  none (Events expire after an hour by default)\n");
	for (size_t i = 0; i < k; i++) {
		const json_t *e = evs[i].e;
		int64_t count = int_at(e, "series", "count", 1);

		size_t from = out->len;

		rfc3339(evs[i].ms, t, sizeof(t));
		base_buf_addf(out, "  %s  %-7s  %-28s  %s", t, or_dash(str_at(e, "type", NULL)),
			      or_dash(str_at(e, "reason", NULL)),
			      str_at(e, "note", NULL) ? str_at(e, "note", NULL) : "");
		if (count > 1)
			base_buf_addf(out, " (x%" PRId64 ", last %s)", count,
				      or_dash(str_at(e, "series", "lastObservedTime")));
		sanitize(out, from, 0);
		base_buf_addch(out, '\n');
	}
	free(evs);
	base_buf_addch(out, '\n');
	if (gdb_status_decode(json_object_get(obj, "status"), &st, err, sizeof(err)) < 0)
		base_buf_addf(out, "Last operation: the status cannot be read: %s\n", err);
	else
		format_last_operation(out, &st.last_operation);
	sanitize(out, 0, 1);
	(void)now_ms;
	gdb_status_release(&st);
}

/* ---- decisions before a write ---- */

/* Managers whose writes are one-off commands: nothing re-applies what they set. */
static const char *const imperative_managers[] = {KGDB_FIELD_MANAGER, "kubectl-patch",
						  "kubectl-edit",     "kubectl-annotate",
						  "kubectl-label",    NULL};

static const struct {
	const char *prefix, *tool;
} gitops_managers[] = {
	{"argocd", "Argo CD"},
	{"kustomize-controller", "Flux"},
	{"helm-controller", "Flux"},
	{"flux", "Flux"},
	{"helm", "Helm"},
	{NULL, NULL},
};

const char *kgdb_primary_region_owner(const json_t *obj, const char **gitops)
{
	const json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	const char *owner = NULL;

	*gitops = NULL;
	for (size_t i = 0; i < json_array_size(mf); i++) {
		const json_t *m = json_array_get(mf, i);
		const char *mgr = str_at(m, "manager", NULL);
		int skip = 0;

		if (!mgr ||
		    !json_object_get(json_object_get(json_object_get(m, "fieldsV1"), "f:spec"),
				     "f:primaryRegion"))
			continue;
		for (size_t j = 0; imperative_managers[j]; j++)
			skip |= strcmp(mgr, imperative_managers[j]) == 0;
		if (skip)
			continue;
		owner = mgr;
		for (size_t j = 0; gitops_managers[j].prefix; j++)
			if (strncmp(mgr, gitops_managers[j].prefix,
				    strlen(gitops_managers[j].prefix)) == 0) {
				*gitops = gitops_managers[j].tool;
				return owner;
			}
	}
	return owner;
}

/*
 * With the two-controller guard, a detach waiting for a co-signature
 * (condition Guarded False, AwaitingCorroboration): since when, or NULL.
 */
static const char *guard_awaits(const json_t *obj)
{
	const json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions");
	size_t i;
	json_t *c;

	json_array_foreach(conds, i, c)
	{
		if (streq(str_at(c, "type", NULL), "Guarded") &&
		    streq(str_at(c, "status", NULL), "False") &&
		    streq(str_at(c, "reason", NULL), "AwaitingCorroboration"))
			return str_at(c, "lastTransitionTime", NULL);
	}
	return NULL;
}

int kgdb_approval_value(const json_t *obj, const char *type, int64_t now_ms, char *value,
			size_t value_len, char *why, size_t why_len)
{
	const json_t *op = json_object_get(json_object_get(obj, "status"), "operation");
	const char *otype = str_at(op, "type", NULL), *step = str_at(op, "step", NULL);
	const char *started = str_at(op, "startedTime", NULL);
	const char *guarded = strcmp(type, "Failover") == 0 ? guard_awaits(obj) : NULL;
	int64_t started_ms = 0, t;

	if (guarded) {
		/* The guard's detach: the approval must be newer than its wait. */
		started = guarded;
	} else if (!otype || strcmp(otype, type) != 0 || !step ||
		   strcmp(step, "AwaitingApproval") != 0) {
		if (otype)
			snprintf(
				why, why_len,
				"no %s awaits approval: the operation in flight is a %s at step %s",
				type, otype, or_dash(step));
		else
			snprintf(why, why_len, "no %s awaits approval: no operation is in flight",
				 type);
		return KGDB_EXIT_REFUSED;
	}
	if (started && base_time_parse(started, &started_ms) < 0)
		started_ms = 0;
	t = now_ms;
	if (started_ms > now_ms) {
		/* This clock is behind the controller's: the controller allows two minutes. */
		if (started_ms - now_ms > 120000) {
			snprintf(why, why_len,
				 "the %s was recommended at %s, more than 2 minutes ahead of this "
				 "machine's clock: fix the clock, or annotate by hand",
				 type, started);
			return KGDB_EXIT_REFUSED;
		}
		t = started_ms;
	}
	if (base_time_format(t, value, value_len) < 0) {
		snprintf(why, why_len, "cannot format the time");
		return KGDB_EXIT_REFUSED;
	}
	return 0;
}
