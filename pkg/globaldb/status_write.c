/*
 * The status writing: what the reconciler writes to the object, and when.
 *
 * A status is written only when it differs from the object's in more than
 * the probe times, or when those are older than GDB_STATUS_REPORT_MS; a new
 * object's first status waits for its probes' first verdicts. A write of
 * ours replaces the version the informer holds: until the informer sees a
 * newer one, a reconcile would plan on the status before the write, so it
 * waits (informer_behind). The finalizer is added and removed here too.
 */
#include "pkg/globaldb/reconciler_int.h"

#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/timeutil.h"

/* A copy of the encoded status without the fields the probes fill: times, and lags if lag. */
static json_t *without_probe_fields(json_t *status, int lag)
{
	json_t *c = json_deep_copy(status), *v;
	size_t i;

	json_array_foreach(json_object_get(c, "regions"), i, v)
	{
		json_object_del(v, "lastProbeTime");
		/* The heartbeat watermark moves every period; an older one only widens a bound. */
		json_object_del(v, "heartbeatSeq");
		json_object_del(v, "heartbeatTime");
		if (lag)
			json_object_del(v, "replicationLagSeconds");
	}
	if (lag)
		json_object_del(c, "maxReplicationLagSeconds");
	return c;
}

/*
 * How two encoded statuses differ: not at all, only in the probe times, only
 * in what the probes measure (times and lags), or in more.
 */
enum status_diff status_diff(json_t *a, json_t *b)
{
	enum status_diff d = STATUS_CHANGED;

	if (json_equal(a, b))
		return STATUS_SAME;
	for (int lag = 0; lag < 2 && d == STATUS_CHANGED; lag++) {
		json_t *x = without_probe_fields(a, lag), *y = without_probe_fields(b, lag);

		if (json_equal(x, y))
			d = lag ? STATUS_PROBES : STATUS_PROBE_TIMES;
		json_decref(x);
		json_decref(y);
	}
	return d;
}

/* Appends ",item" (or "item" first) to the list in out[0..n). */
static void list_add(char *out, size_t n, const char *prefix, const char *item)
{
	size_t len = strlen(out);

	if (len + 1 < n)
		snprintf(out + len, n - len, "%s%s%s", len ? "," : "", prefix, item);
}

/* The element of array a whose "name" is name's. */
static json_t *named_element(json_t *a, json_t *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) if (json_equal(json_object_get(v, "name"), name)) return v;
	return NULL;
}

/*
 * What differs between two encoded statuses, for the debug log: top-level
 * fields, each region's fields ("regions[us-west-2].role"), and the types of
 * the conditions whose status or reason changed ("Ready").
 */
static void describe_diff(json_t *a, json_t *b, char *out, size_t n)
{
	json_t *v, *w, *old, *x;
	const char *key, *field, *type;
	char prefix[96];
	size_t i, j;

	out[0] = '\0';
	json_object_foreach(a, key, v)
	{
		if (!strcmp(key, "conditions") || json_equal(v, json_object_get(b, key)))
			continue;
		if (strcmp(key, "regions")) {
			list_add(out, n, "", key);
			continue;
		}
		json_array_foreach(v, i, w)
		{
			const char *region = json_string_value(json_object_get(w, "name"));

			old = named_element(json_object_get(b, key), json_object_get(w, "name"));
			snprintf(prefix, sizeof(prefix), "regions[%.64s].", region ? region : "?");
			json_object_foreach(w, field,
					    x) if (!old ||
						   !json_equal(x, json_object_get(old, field)))
				list_add(out, n, prefix, field);
		}
	}
	json_array_foreach(json_object_get(a, "conditions"), i, v)
	{
		type = json_string_value(json_object_get(v, "type"));
		old = NULL;
		json_array_foreach(json_object_get(b, "conditions"), j,
				   w) if (json_equal(json_object_get(w, "type"),
						     json_object_get(v, "type"))) old = w;
		if (!type)
			continue;
		if (!old ||
		    !json_equal(json_object_get(old, "status"), json_object_get(v, "status")) ||
		    !json_equal(json_object_get(old, "reason"), json_object_get(v, "reason")))
			list_add(out, n, "", type);
	}
}

/*
 * Whether a new object's first status waits for its probes' first verdicts
 * (*wait_ms is the time left): it has never had a status, the plan calls
 * nothing (so no write-ahead record is due) or only tags what it adopts, and
 * some region has no verdict yet, or a secondary no lag. Written at once, that
 * status would say "pending" and be written again within a second or two: at
 * start-up with many objects, half of the apiserver's writes. The verdicts
 * enqueue the key; the wait ends after failureThreshold x period + timeout,
 * the time a writer has to be declared healthy or not.
 */
int first_status_waits(struct key_state *s, const struct gdb_spec *spec,
		       const struct gdb_status *old, const struct gdb_plan *plan,
		       const struct gdb_health *h, int64_t *wait_ms)
{
	const struct gdb_health_check_spec *hc = &spec->health_check;
	int64_t budget =
		((int64_t)hc->failure_threshold * hc->period_seconds + hc->timeout_seconds) * 1000;
	int64_t now = base_now_mono_ms();
	int pending = 0;

	/* Adoption's tagging (idempotent, no record) may wait for the verdicts too. */
	if (old->observed_generation != 0 ||
	    (plan->action.kind != GDB_ACT_NONE && plan->action.kind != GDB_ACT_TAG_RESOURCE) ||
	    !plan->status.current_primary_region)
		return 0;
	for (size_t i = 0; i < h->n_regions; i++) {
		const struct gdb_health_region *hr = &h->regions[i];

		if (hr->writer_healthy < 0 &&
		    (hr->reader_healthy < 0 || (hr->reader_healthy == 1 && hr->lag_ms < 0)))
			pending = 1;
	}
	if (!pending)
		return 0;
	if (!s->first_status_wait_mono)
		s->first_status_wait_mono = now;
	if (now - s->first_status_wait_mono >= budget)
		return 0;
	*wait_ms = s->first_status_wait_mono + budget - now;
	return 1;
}

/* ---- our own writes, and an informer that has not seen them yet ---- */

static const char *rv_of(json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* A write of ours succeeded: obj (what it was based on) is now out of date. */
static void note_replaced(struct key_state *s, json_t *obj)
{
	const size_t n = ARRAY_SIZE(s->replaced_rv);
	const char *rv = rv_of(obj);
	size_t i = 0;

	if (!rv)
		return;
	while (i < n && s->replaced_rv[i])
		i++;
	if (i == n) { /* keep the newest */
		free(s->replaced_rv[0]);
		memmove(&s->replaced_rv[0], &s->replaced_rv[1], (n - 1) * sizeof(char *));
		i = n - 1;
	}
	s->replaced_rv[i] = xstrdup(rv);
}

/* Whether obj, the informer's copy, is a version the last reconcile's own writes replaced. */
static int replaced(const struct key_state *s, json_t *obj)
{
	const char *rv = rv_of(obj);

	for (size_t i = 0; rv && i < ARRAY_SIZE(s->replaced_rv) && s->replaced_rv[i]; i++)
		if (!strcmp(s->replaced_rv[i], rv))
			return 1;
	return 0;
}

/*
 * Whether the informer has not yet seen the last reconcile's own writes: obj,
 * its copy, is a version they replaced. A plan made on it would start from the
 * status before those writes, and its status write would be refused (409)
 * for the old resourceVersion. Once the informer holds any other version, the
 * replaced versions are forgotten.
 */
int informer_behind(struct key_state *s, json_t *obj)
{
	if (replaced(s, obj))
		return 1;
	for (size_t i = 0; i < ARRAY_SIZE(s->replaced_rv); i++) {
		free(s->replaced_rv[i]);
		s->replaced_rv[i] = NULL;
	}
	return 0;
}

/*
 * Asks for the informer's next version of key (gdb_reconciler_wants_update).
 * Returns 0 when the store already moved on meanwhile: reconcile again now.
 */
int await_informer(struct gdb_reconciler *r, struct key_state *s, const char *key)
{
	json_t *now;
	int behind;

	pthread_mutex_lock(&r->lock);
	s->awaiting_informer = 1;
	pthread_mutex_unlock(&r->lock);
	now = kube_store_get(r->o.store, key); /* an event that came before the flag was set */
	behind = now && replaced(s, now);
	json_decref(now);
	return behind;
}

int gdb_reconciler_wants_update(struct gdb_reconciler *r, const char *key)
{
	struct key_state *s;
	int wants = 0;

	pthread_mutex_lock(&r->lock);
	s = base_map_get(&r->state_by_key, key);
	if (s && s->awaiting_informer) {
		s->awaiting_informer = 0;
		wants = 1;
	}
	pthread_mutex_unlock(&r->lock);
	return wants;
}

/*
 * Writes status to the status subresource of obj unless it already says so,
 * or differs only in probe times that s wrote less than GDB_STATUS_REPORT_MS
 * ago. On success *obj is replaced by the server's answer (new
 * resourceVersion).
 */
int persist_status(struct gdb_reconciler *r, struct key_state *s, json_t **obj,
		   const struct gdb_status *status, const char *ns, const char *name)
{
	json_t *enc = gdb_status_encode(status), *body, *updated = NULL;
	enum status_diff d = status_diff(enc, json_object_get(*obj, "status"));
	struct kube_status st;
	int rc;

	if (d == STATUS_SAME || (d == STATUS_PROBE_TIMES && s->status_mono &&
				 base_now_mono_ms() - s->status_mono < GDB_STATUS_REPORT_MS)) {
		json_decref(enc);
		return 0;
	}
	body = json_deep_copy(*obj);
	json_object_set_new(body, "status", enc);
	kube_status_clear(&st);
	rc = kube_update(r->o.kube, &gdb_res_globaldatabases, ns, name, "status", body, &updated,
			 &st);
	json_decref(body);
	if (rc < 0) {
		if (rc != BASE_ECONFLICT)
			base_log(BASE_LOG_WARN, "status update failed", "error", base_strerror(rc),
				 "message", st.message, NULL);
		return rc;
	}
	s->status_mono = base_now_mono_ms();
	note_replaced(s, *obj);
	if (base_log_enabled(BASE_LOG_DEBUG)) {
		char what[512];

		describe_diff(json_object_get(updated, "status"), json_object_get(*obj, "status"),
			      what, sizeof(what));
		base_log(BASE_LOG_DEBUG, "status written", "changed", what, NULL);
	}
	json_decref(*obj);
	*obj = updated;
	return 0;
}

int has_finalizer(json_t *obj)
{
	json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers");
	size_t i;
	json_t *v;

	json_array_foreach(f, i, v) if (json_is_string(v) &&
					!strcmp(json_string_value(v), GDB_FINALIZER)) return 1;
	return 0;
}

/* Adds (add != 0) or removes our finalizer; *obj is replaced by the answer. */
int patch_finalizer(struct gdb_reconciler *r, struct key_state *s, json_t **obj, int add,
		    const char *ns, const char *name)
{
	json_t *meta = json_object_get(*obj, "metadata");
	json_t *old = json_object_get(meta, "finalizers"), *list = json_array(), *patch, *v;
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE};
	struct kube_status st;
	json_t *updated = NULL;
	size_t i;
	int rc;

	json_array_foreach(old, i, v) if (!json_is_string(v) ||
					  strcmp(json_string_value(v), GDB_FINALIZER) != 0)
		json_array_append(list, v);
	if (add)
		json_array_append_new(list, json_string(GDB_FINALIZER));
	/* The resourceVersion makes the merge patch conditional: no finalizer of another is lost. */
	patch = json_pack("{s:{s:o,s:O}}", "metadata", "finalizers", list, "resourceVersion",
			  json_object_get(meta, "resourceVersion"));
	kube_status_clear(&st);
	rc = kube_patch(r->o.kube, &gdb_res_globaldatabases, ns, name, &po, patch, &updated, &st);
	json_decref(patch);
	if (rc < 0) {
		if (rc != BASE_ECONFLICT && rc != BASE_ENOTFOUND)
			base_log(BASE_LOG_WARN, "finalizer update failed", "error",
				 base_strerror(rc), "message", st.message, NULL);
		return rc;
	}
	note_replaced(s, *obj);
	json_decref(*obj);
	*obj = updated;
	return 0;
}
