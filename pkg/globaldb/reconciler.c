/*
 * The reconciler: the glue between the informer's cache, the prober, the
 * observation, the pure planner and the executor.
 *
 * Per key it keeps a little in-memory state (struct key_state): the outcome
 * of the action it ran last (the planner's obs.last; lost on restart, which
 * the planner tolerates), the probe credentials with their fetch time, the
 * names and configuration signatures of the key's probe targets, and the
 * labels of its current-primary metric. The workqueue hands a key to one
 * worker at a time, so a state is only changed by that worker; the lock
 * guards the list and the target names the prober's notify callback reads.
 *
 * This file holds the key state, the callbacks and reconcile() itself; the
 * probe credentials are in probe_creds.c, the probe targets and the health
 * read from them in probe_targets.c, and the status writing in
 * status_write.c (reconciler_int.h is what they share).
 */
#include "pkg/globaldb/reconciler_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/executor.h"
#include "pkg/globaldb/guard_io.h"

const struct kube_resource gdb_res_globaldatabases = {"globaldb.io", "v1alpha1", "globaldatabases",
						      1};

static struct base_metric *m_total, *m_errors, *m_time, *m_drift;

static void metrics_init(void)
{
	m_total = base_metric_counter("controller_runtime_reconcile_total",
				      "Total number of reconciliations per controller",
				      "controller,result");
	m_errors = base_metric_counter("controller_runtime_reconcile_errors_total",
				       "Total number of reconciliation errors per controller",
				       "controller");
	m_time = base_metric_histogram("controller_runtime_reconcile_time_seconds",
				       "Length of time per reconciliation per controller",
				       "controller", base_metric_default_buckets,
				       base_metric_default_nbuckets);
	m_drift = base_metric_counter(
		"globaldb_aws_changes_total",
		"Changes the regions' Describe rounds found in the clusters and "
		"global clusters a GlobalDatabase names (each enqueues it)",
		"kind");
	gdb_object_metrics_init();
}

/* ---- key state ---- */

static struct key_state *state_get(struct gdb_reconciler *r, const char *key)
{
	struct key_state *s;

	pthread_mutex_lock(&r->lock);
	s = base_map_get(&r->state_by_key, key);
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->ca = (struct gdb_ca_file)GDB_CA_FILE_INIT;
		s->key = xstrdup(key);
		if (strlen(key) <= TARGET_BASE_MAX)
			snprintf(s->base, sizeof(s->base), "%s", key);
		else
			snprintf(s->base, sizeof(s->base), "gdb-%016" PRIx64,
				 base_hash(key, strlen(key), 0));
		s->next = r->states;
		r->states = s;
		base_map_put(&r->state_by_key, s->key, s);
	}
	pthread_mutex_unlock(&r->lock);
	return s;
}

static void set_last(struct key_state *s, enum gdb_action_kind kind, const char *region,
		     const struct gdb_exec_result *res)
{
	gdb_set_str(&s->last_region, region);
	gdb_set_str(&s->last_code, res && *res->aws_code ? res->aws_code : NULL);
	gdb_set_str(&s->last_message, res && *res->message ? res->message : NULL);
	gdb_set_str(&s->last_change_id, res ? res->change_id : NULL);
	gdb_set_str(&s->last_ecs_restarted, res ? res->ecs_restarted : NULL);
	gdb_set_str(&s->last_ecs_unreachable, res ? res->ecs_unreachable : NULL);
	s->last.action = (int)kind;
	s->last.call = res ? res->call : GDB_CALL_OK;
	s->last.region = s->last_region;
	s->last.aws_code = s->last_code;
	s->last.message = s->last_message;
	s->last.change_id = s->last_change_id;
	s->last.ecs_restarted = s->last_ecs_restarted;
	s->last.ecs_unreachable = s->last_ecs_unreachable;
}

void forget_creds(struct key_state *s)
{
	base_free_secret(s->password);
	free(s->user);
	s->user = s->password = NULL;
	s->creds_mono = 0;
}

static void remove_targets(struct gdb_reconciler *r, struct key_state *s)
{
	char name[PROBE_NAME_MAX];

	if (s->writer_sig) {
		snprintf(name, sizeof(name), "%s/writer", s->base);
		probe_prober_remove(r->prober, name);
	}
	for (size_t i = 0; i < GDB_MAX_REGIONS; i++) {
		if (!s->reader_region[i])
			continue;
		snprintf(name, sizeof(name), "%s/reader/%s", s->base, s->reader_region[i]);
		probe_prober_remove(r->prober, name);
	}
	pthread_mutex_lock(&r->lock);
	free(s->writer_sig);
	free(s->writer_region);
	s->writer_sig = s->writer_region = NULL;
	for (size_t i = 0; i < GDB_MAX_REGIONS; i++) {
		free(s->reader_region[i]);
		free(s->reader_sig[i]);
		s->reader_region[i] = s->reader_sig[i] = NULL;
	}
	pthread_mutex_unlock(&r->lock);
}

static void state_free(struct key_state *s)
{
	free(s->key);
	free(s->last_region);
	free(s->last_code);
	free(s->last_message);
	free(s->last_change_id);
	free(s->last_ecs_restarted);
	free(s->last_ecs_unreachable);
	forget_creds(s);
	free(s->creds_error);
	gdb_ca_file_release(&s->ca);
	free(s->ca_ref);
	free(s->writer_region);
	free(s->writer_sig);
	for (size_t i = 0; i < GDB_MAX_REGIONS; i++) {
		free(s->reader_region[i]);
		free(s->reader_sig[i]);
	}
	for (size_t i = 0; i < s->n_aws_names; i++)
		free(s->aws_names[i]);
	for (size_t i = 0; i < ARRAY_SIZE(s->replaced_rv); i++)
		free(s->replaced_rv[i]);
	gdb_object_metrics_release(&s->metrics);
	free(s);
}

/* "c/<region>/<id>" or "g/<id>", lower case: the aws_names key of a cluster or global cluster. */
static char *aws_name(const char *region, const char *id)
{
	char *n = region ? xasprintf("c/%s/%s", region, id) : xasprintf("g/%s", id);

	for (char *p = n; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return n;
}

static void unwatch_names(struct gdb_reconciler *r, struct key_state *s)
{
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < s->n_aws_names; i++) {
		if (base_map_get(&r->aws_names, s->aws_names[i]) == s)
			base_map_remove(&r->aws_names, s->aws_names[i]);
		free(s->aws_names[i]);
	}
	s->n_aws_names = 0;
	pthread_mutex_unlock(&r->lock);
}

/*
 * Files s under the AWS names its object is about — its clusters, the global
 * cluster its spec names, and the one its status names (a fallback's) — so
 * a round that sees one of them change enqueues it: a settled object does
 * not have to reconcile to notice a change made behind the controller's back.
 */
static void watch_names(struct gdb_reconciler *r, struct key_state *s, const struct gdb_spec *spec,
			const struct gdb_status *st)
{
	char *want[GDB_MAX_REGIONS + 2];
	size_t n = 0, same = 0;

	for (size_t i = 0; i < spec->n_regions && i < GDB_MAX_REGIONS; i++)
		want[n++] = aws_name(spec->regions[i].name, spec->regions[i].db_cluster_identifier);
	want[n++] = aws_name(NULL, spec->global_cluster_identifier);
	if (st->global_cluster_identifier &&
	    strcasecmp(st->global_cluster_identifier, spec->global_cluster_identifier))
		want[n++] = aws_name(NULL, st->global_cluster_identifier);
	for (size_t i = 0; n == s->n_aws_names && i < n; i++)
		same += !strcmp(want[i], s->aws_names[i]);
	if (same == n && n == s->n_aws_names) {
		for (size_t i = 0; i < n; i++)
			free(want[i]);
		return;
	}
	unwatch_names(r, s);
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < n; i++) {
		s->aws_names[i] = want[i];
		base_map_put(&r->aws_names, want[i], s);
	}
	s->n_aws_names = n;
	pthread_mutex_unlock(&r->lock);
}

/* The observation cache's callback: a round saw a cluster or global cluster change. */
static void on_aws_change(void *arg, const char *region, int global, const char *id)
{
	struct gdb_reconciler *r = arg;
	char *name = aws_name(global ? NULL : region, id), key[512] = "";
	struct key_state *s;

	pthread_mutex_lock(&r->lock);
	s = base_map_get(&r->aws_names, name);
	if (s)
		snprintf(key, sizeof(key), "%s", s->key);
	pthread_mutex_unlock(&r->lock);
	free(name);
	if (!*key)
		return;
	base_metric_add(m_drift, 1, global ? "global_cluster" : "cluster");
	kube_workqueue_add(r->o.queue, key);
}

/* The object is gone: its probes, metrics and state go too. */
static void forget_key(struct gdb_reconciler *r, const char *key)
{
	struct key_state **pp, *s = NULL;
	char ns[256], name[256];
	const char *slash = strchr(key, '/');

	pthread_mutex_lock(&r->lock);
	s = base_map_get(&r->state_by_key, key);
	pthread_mutex_unlock(&r->lock);
	if (!s)
		return;
	remove_targets(r, s);
	unwatch_names(r, s);
	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - key) : 0, key);
	snprintf(name, sizeof(name), "%s", slash ? slash + 1 : key);
	gdb_object_metrics_forget(&s->metrics, ns, name);
	gdb_guard_forget(r->o.guard, key);
	pthread_mutex_lock(&r->lock);
	base_map_remove(&r->state_by_key, s->key);
	for (pp = &r->states; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	state_free(s);
}

/* The prober's callback: enqueue the key that owns the target. */
static void on_verdict(void *arg, const struct probe_verdict *v, unsigned changes)
{
	struct gdb_reconciler *r = arg;
	char key[512] = "";
	size_t n;

	(void)changes;
	pthread_mutex_lock(&r->lock);
	for (struct key_state *s = r->states; s; s = s->next) {
		n = strlen(s->base);
		if (!strncmp(v->name, s->base, n) && v->name[n] == '/') {
			snprintf(key, sizeof(key), "%s", s->key);
			if (v->health == PROBE_UNHEALTHY && v->last_error == PROBE_ERR_AUTH)
				atomic_store(&s->creds_refused, 1);
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (*key)
		kube_workqueue_add(r->o.queue, key);
}

static void record_events(struct gdb_reconciler *r, json_t *obj, const struct gdb_plan *plan)
{
	for (size_t i = 0; r->o.recorder && i < plan->n_events; i++)
		kube_recorder_event(r->o.recorder, obj,
				    plan->events[i].type == GDB_EVENT_WARNING ? "Warning"
									      : "Normal",
				    plan->events[i].reason, gdb_action_name(plan->action.kind),
				    "%s", plan->events[i].message ? plan->events[i].message : "");
}

/* ---- the reconcile ---- */

/* The spec does not decode: say so in the conditions; no AWS call. */
static int report_bad_spec(struct gdb_reconciler *r, struct key_state *s, json_t **obj,
			   const char *ns, const char *name, const char *err, int64_t gen)
{
	struct gdb_status st;
	int64_t now = base_now_real_ms();
	int rc;

	gdb_status_decode(json_object_get(*obj, "status"), &st, NULL, 0);
	st.observed_generation = gen;
	gdb_status_set_condition(&st, "Ready", GDB_COND_FALSE, "InvalidSpec", err, gen, now);
	gdb_status_set_condition(&st, "Degraded", GDB_COND_TRUE, "InvalidSpec", err, gen, now);
	rc = persist_status(r, s, obj, &st, ns, name);
	if (rc == 0)
		gdb_object_metrics_update(&s->metrics, ns, name, NULL, &st, &st);
	gdb_status_release(&st);
	if (r->o.recorder)
		kube_recorder_event(r->o.recorder, *obj, "Warning", "InvalidSpec", "Reconcile",
				    "%s", err);
	return rc;
}

/* No probe credentials: the status says why; nothing is planned or done. */
static int report_no_creds(struct gdb_reconciler *r, struct key_state *s, json_t **obj,
			   const char *ns, const char *name, int64_t gen)
{
	const char *why = s->creds_error ? s->creds_error : "no probe credentials";
	struct gdb_status st;
	int64_t now = base_now_real_ms();
	int rc;

	gdb_status_decode(json_object_get(*obj, "status"), &st, NULL, 0);
	st.observed_generation = gen;
	gdb_status_set_condition(&st, "Ready", GDB_COND_FALSE, "ProbeCredentialsUnavailable", why,
				 gen, now);
	gdb_status_set_condition(&st, "Degraded", GDB_COND_TRUE, "ProbeCredentialsUnavailable", why,
				 gen, now);
	gdb_status_set_condition(&st, "PrimaryHealthy", GDB_COND_UNKNOWN, "NotProbedYet",
				 "no probe credentials, so no probes", gen, now);
	rc = persist_status(r, s, obj, &st, ns, name);
	if (rc == 0)
		gdb_object_metrics_update(&s->metrics, ns, name, NULL, &st, &st);
	gdb_status_release(&st);
	if (r->o.recorder)
		kube_recorder_event(r->o.recorder, *obj, "Warning", "ProbeCredentialsUnavailable",
				    "Reconcile", "%s", why);
	return rc;
}

/*
 * The allowlists (allow.h), before any call: a spec naming what the
 * controller's flags or the target namespaces do not allow is refused whole,
 * its probes stopped. 1 when refused (reported, *rc the write's result), 0
 * when allowed, or a negative code when a namespace could not be read.
 */
static int refuse_disallowed(struct gdb_reconciler *r, struct key_state *s, json_t **obj,
			     const char *ns, const char *name, const struct gdb_spec *spec,
			     int64_t gen, int *rc)
{
	struct gdb_ns_optin *optins;
	struct gdb_status st;
	const char *reason;
	char msg[GDB_ERRLEN];
	size_t n;

	*rc = 0;
	reason = gdb_allow_check(r->o.allow, ns, spec, NULL, 0, msg, sizeof(msg));
	/* The workload rule is checked last: only it needs the other namespaces read. */
	if (reason && !strcmp(reason, "RestartNotAllowed")) {
		if ((*rc = gdb_allow_read_namespaces(r->o.kube, spec, ns, &optins, &n)) < 0)
			return *rc;
		reason = gdb_allow_check(r->o.allow, ns, spec, optins, n, msg, sizeof(msg));
		gdb_allow_optins_free(optins, n);
	}
	if (!reason)
		return 0;
	remove_targets(r, s);
	forget_creds(s);
	gdb_status_decode(json_object_get(*obj, "status"), &st, NULL, 0);
	st.observed_generation = gen;
	gdb_status_set_condition(&st, "Ready", GDB_COND_FALSE, reason, msg, gen,
				 base_now_real_ms());
	gdb_status_set_condition(&st, "Degraded", GDB_COND_TRUE, reason, msg, gen,
				 base_now_real_ms());
	*rc = persist_status(r, s, obj, &st, ns, name);
	if (*rc == 0)
		gdb_object_metrics_update(&s->metrics, ns, name, NULL, &st, &st);
	gdb_status_release(&st);
	if (r->o.recorder)
		kube_recorder_event(r->o.recorder, *obj, "Warning", reason, "Reconcile", "%s", msg);
	return 1;
}

/* What a reconcile may plan on: see observe_max_age. */
enum freshness { FRESH, SETTLED, TAIL };

/*
 * How old an answer of the regions this reconcile may plan on (observe.h).
 * FRESH (the cache's 1.5 s) while deleting or a probe fails. Else SETTLED
 * when no operation is in flight and the object is Ready: its reconcile
 * looks for drift, or starts what an edit of the spec asks for (see
 * reconcile); and TAIL in the steps after the writer moved (DNS, SSM,
 * workloads) with the spec observed: they wait on Route 53 and the
 * workloads, not on RDS, the answer that showed the move is the newest there
 * is, and no RDS call was made since. Both may use answers up to
 * GDB_OBS_SETTLED_MS old that no action of ours made stale.
 */
static enum freshness observe_freshness(const struct gdb_status *st, const struct gdb_health *h,
					int64_t gen, int deleting)
{
	enum gdb_step step = st->operation.step;
	const struct gdb_condition *ready = gdb_status_condition(st, "Ready");

	if (deleting)
		return FRESH;
	for (size_t i = 0; i < h->n_regions; i++)
		if (h->regions[i].writer_healthy == 0 || h->regions[i].reader_healthy == 0 ||
		    h->regions[i].consecutive_failures > 0)
			return FRESH;
	if (st->operation.type != GDB_OP_NONE)
		return st->observed_generation == gen && (step == GDB_STEP_UPDATE_DNS ||
							  step == GDB_STEP_WAIT_DNS_INSYNC ||
							  step == GDB_STEP_PUBLISH_SSM ||
							  step == GDB_STEP_RESTART_WORKLOADS)
			       ? TAIL
			       : FRESH;
	return ready && ready->status == GDB_COND_TRUE ? SETTLED : FRESH;
}

/* Whether the action changes what RDS answers (so the region's cached answer is stale). */
static int changes_rds(enum gdb_action_kind k)
{
	return k != GDB_ACT_UPSERT_DNS && k != GDB_ACT_PUBLISH_SSM &&
	       k != GDB_ACT_RESTART_WORKLOADS;
}

/*
 * Whether the plan changes anything an RDS answer could have decided: an
 * action, an Event, or the status beyond what the probes measure.
 */
static int plan_changes(const struct gdb_status *status, const struct gdb_plan *plan)
{
	json_t *a, *b;
	int changed;

	if (plan->action.kind != GDB_ACT_NONE || plan->n_events > 0)
		return 1;
	a = gdb_status_encode(status);
	b = gdb_status_encode(&plan->status);
	changed = status_diff(a, b) == STATUS_CHANGED;
	json_decref(a);
	json_decref(b);
	return changed;
}

/* Observes AWS (answers up to max_age_ms old; 0 = fresh), points the probes, and plans. */
void observe_and_plan(struct gdb_reconciler *r, struct key_state *s, const struct gdb_spec *spec,
		      const struct gdb_status *status, json_t *obj, int deleting,
		      int64_t max_age_ms, struct gdb_observation *ob, struct gdb_health *health,
		      struct gdb_plan *plan)
{
	gdb_observe(r->cache, spec, status, obj, s->last.action ? &s->last : NULL, max_age_ms, ob);
	/* With the guard, the objects in every cluster own the resources together. */
	if (r->o.guard && ob->obs.owner_uid)
		ob->obs.owner_uid = gdb_guard_owner_uid(r->o.guard);
	if (!deleting)
		sync_probes(r, s, spec, status,
			    status->current_primary_region ? status->current_primary_region
							   : spec->primary_region,
			    ob);
	build_health(r, s, spec, health);
	gdb_plan(spec, status, &ob->obs, health, base_now_real_ms(), plan);
	report_refused_login(r, s, spec, plan);
}

static int reconcile(struct gdb_reconciler *r, const char *key, int64_t *requeue)
{
	char ns[256], name[256], err[GDB_ERRLEN];
	const char *slash = strchr(key, '/');
	struct gdb_spec spec;
	struct gdb_status status;
	struct gdb_observation ob;
	struct gdb_health health;
	struct gdb_plan plan;
	struct guard_note gnote = {0};
	struct key_state *s;
	enum freshness fresh;
	json_t *obj, *meta;
	int64_t gen;
	int deleting, rc = 0;

	memset(&spec, 0, sizeof(spec));
	memset(&status, 0, sizeof(status));
	memset(&ob, 0, sizeof(ob));
	memset(&plan, 0, sizeof(plan));
	*requeue = 0;
	snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - key) : 0, key);
	snprintf(name, sizeof(name), "%s", slash ? slash + 1 : key);

	obj = kube_store_get(r->o.store, key);
	if (!obj) {
		forget_key(r, key);
		return 0;
	}
	meta = json_object_get(obj, "metadata");
	gen = json_integer_value(json_object_get(meta, "generation"));
	deleting = json_object_get(meta, "deletionTimestamp") &&
		   !json_is_null(json_object_get(meta, "deletionTimestamp"));
	if (deleting && !has_finalizer(obj)) {
		forget_key(r, key);
		goto out;
	}
	s = state_get(r, key);
	if (informer_behind(s, obj)) {
		base_log(BASE_LOG_DEBUG, "waiting for the informer to see our last write", "gdb",
			 key, NULL);
		*requeue = await_informer(r, s, key) ? GDB_INFORMER_BEHIND_MS : GDB_REQUEUE_NOW_MS;
		goto out;
	}

	if (gdb_spec_decode(json_object_get(obj, "spec"), &spec, err, sizeof(err)) < 0) {
		rc = report_bad_spec(r, s, &obj, ns, name, err, gen);
		*requeue = GDB_REQUEUE_MAX_MS;
		goto out;
	}
	if (!deleting && !has_finalizer(obj)) {
		rc = patch_finalizer(r, s, &obj, 1, ns, name);
		if (rc < 0)
			goto out;
	}
	if (gdb_status_decode(json_object_get(obj, "status"), &status, err, sizeof(err)) < 0) {
		base_log(BASE_LOG_WARN, "status does not decode, starting from an empty one", "gdb",
			 key, "error", err, NULL);
		gdb_status_release(&status);
		gdb_status_decode(NULL, &status, NULL, 0);
	}
	if (!deleting && refuse_disallowed(r, s, &obj, ns, name, &spec, gen, &rc) != 0) {
		*requeue = GDB_REQUEUE_STEADY_MS;
		goto out;
	}
	if (!deleting && resolve_creds(r, s, ns, &spec) < 0) {
		remove_targets(r, s);
		rc = report_no_creds(r, s, &obj, ns, name, gen);
		*requeue = GDB_REQUEUE_STEADY_MS;
		goto out;
	}

	/*
	 * A settled object plans on the regions' answer of the last 30 s; a plan
	 * that would change anything is made again on a fresh answer, so nothing
	 * is done or recorded on an old one — except the switchover an edit of
	 * spec.primaryRegion asks for: it starts at once (a Describe round would
	 * cost more than the rest of the path), SwitchoverGlobalCluster itself
	 * refuses a target that is not a healthy secondary, and its wait step
	 * observes fresh.
	 */
	if (!deleting)
		watch_names(r, s, &spec, &status);
	build_health(r, s, &spec, &health);
	fresh = observe_freshness(&status, &health, gen, deleting);
	for (;;) {
		observe_and_plan(r, s, &spec, &status, obj, deleting,
				 fresh == FRESH ? 0 : GDB_OBS_SETTLED_MS, &ob, &health, &plan);
		if (fresh != SETTLED || !plan_changes(&status, &plan) ||
		    (status.observed_generation != gen && plan.action.kind == GDB_ACT_SWITCHOVER))
			break;
		gdb_plan_release(&plan);
		gdb_observation_release(&ob);
		fresh = FRESH;
	}
	if (r->o.guard && !deleting)
		guard_gate(r, s, key, &spec, &status, obj, gen, &ob, &health, &plan, &gnote);
	if (plan.action.kind != GDB_ACT_NONE && plan.action.kind != GDB_ACT_WAIT)
		base_log(BASE_LOG_INFO, "planned", "action", gdb_action_name(plan.action.kind),
			 "region", plan.action.region ? plan.action.region : "-", "step",
			 gdb_step_name(plan.status.operation.step), "reason",
			 plan.action.reason ? plan.action.reason : "", NULL);

	if (!deleting && first_status_waits(s, &spec, &status, &plan, &health, requeue)) {
		sync_probes(r, s, &spec, &plan.status, plan.status.current_primary_region, &ob);
		goto out;
	}

	/* The write-ahead record: the status names the step before the call is made. */
	rc = persist_status(r, s, &obj, &plan.status, ns, name);
	if (rc == BASE_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	record_events(r, obj, &plan);
	guard_record(r, obj, &gnote);
	gdb_object_metrics_update(&s->metrics, ns, name, &spec, &status, &plan.status);

	if (plan.action.kind == GDB_ACT_REMOVE_FINALIZER) {
		rc = patch_finalizer(r, s, &obj, 0, ns, name);
		if (rc == 0 || rc == BASE_ENOTFOUND) {
			forget_key(r, key);
			rc = 0;
		}
		goto out;
	}
	if (gdb_action_calls_aws(plan.action.kind)) {
		struct gdb_exec_ctx x = {r->o.aws, r->o.kube, r->o.recorder, obj, &spec};
		struct gdb_exec_result res;

		gdb_execute(&x, &plan.action, &res);
		set_last(s, plan.action.kind, plan.action.region, &res);
		gdb_exec_result_release(&res);
		if (changes_rds(plan.action.kind))
			gdb_obs_cache_invalidate(r->cache, plan.action.region);
	}

	/* The probes follow the writer the plan just recorded. */
	if (!deleting && plan.status.current_primary_region &&
	    (!status.current_primary_region ||
	     strcmp(plan.status.current_primary_region, status.current_primary_region)))
		sync_probes(r, s, &spec, &plan.status, plan.status.current_primary_region, &ob);
	*requeue = plan.requeue_after_ms > 0 ? plan.requeue_after_ms : GDB_REQUEUE_STEADY_MS;
	/* Settled, and this plan changed nothing: the rounds will tell of drift (not with the
	 * guard: its verdict is published every probe period). */
	if (!r->o.guard && fresh == SETTLED && plan.action.kind == GDB_ACT_NONE &&
	    *requeue == GDB_REQUEUE_STEADY_MS && r->o.queue)
		*requeue = GDB_REQUEUE_SETTLED_MS;
out:
	gdb_plan_release(&plan);
	gdb_observation_release(&ob);
	gdb_status_release(&status);
	gdb_spec_release(&spec);
	json_decref(obj);
	return rc;
}

int gdb_reconcile(struct gdb_reconciler *r, const char *key, int64_t *requeue_after_ms)
{
	int64_t t0 = base_now_mono_ms();
	int rc = reconcile(r, key, requeue_after_ms);

	base_metric_observe(m_time, (double)(base_now_mono_ms() - t0) / 1000.0,
			    GDB_CONTROLLER_NAME);
	if (rc == 0) {
		base_metric_add(m_total, 1, GDB_CONTROLLER_NAME,
				*requeue_after_ms > 0 ? "requeue_after" : "success");
	} else if (rc == BASE_ECONFLICT) {
		base_metric_add(m_total, 1, GDB_CONTROLLER_NAME, "requeue");
	} else {
		base_metric_add(m_total, 1, GDB_CONTROLLER_NAME, "error");
		base_metric_add(m_errors, 1, GDB_CONTROLLER_NAME);
	}
	return rc;
}

int gdb_reconciler_new(const struct gdb_reconciler_opts *opts, struct gdb_reconciler **out)
{
	struct gdb_reconciler *r = xcalloc(1, sizeof(*r));
	struct probe_options po = {0};
	int rc;

	metrics_init();
	r->o = *opts;
	pthread_mutex_init(&r->lock, NULL);
	po.notify = on_verdict;
	po.notify_arg = r;
	po.lag_notify_step_ms = 1000;
	rc = probe_prober_new(&po, &r->prober);
	if (rc < 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return rc;
	}
	r->cache = gdb_obs_cache_new(opts->aws, opts->obs_ttl_ms);
	if (opts->queue)
		gdb_obs_cache_watch(r->cache, on_aws_change, r);
	*out = r;
	return 0;
}

void gdb_reconciler_free(struct gdb_reconciler *r)
{
	struct key_state *s, *next;

	if (!r)
		return;
	probe_prober_free(r->prober);
	gdb_obs_cache_free(r->cache); /* first: its round watcher calls on_aws_change */
	for (s = r->states; s; s = next) {
		next = s->next;
		state_free(s);
	}
	base_map_release(&r->state_by_key);
	base_map_release(&r->aws_names);
	while (r->secrets) {
		struct secret_entry *e = r->secrets;

		r->secrets = e->next;
		json_decref(e->data);
		free(e->key);
		free(e);
	}
	base_map_release(&r->secret_by_key);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
