/*
 * The reconciler: the glue between the informer's cache, the prober, the
 * observation, the pure planner and the executor.
 *
 * Size: over the house's 800 lines; its seams are the reconcile loop, the
 * probe credentials, the probe targets and the status writing, each to get a
 * file of its own (issue 22, open).
 *
 * Per key it keeps a little in-memory state (struct key_state): the outcome
 * of the action it ran last (the planner's obs.last; lost on restart, which
 * the planner tolerates), the probe credentials with their fetch time, the
 * names and configuration signatures of the key's probe targets, and the
 * labels of its current-primary metric. The workqueue hands a key to one
 * worker at a time, so a state is only changed by that worker; the lock
 * guards the list and the target names the prober's notify callback reads.
 *
 * Probe targets: "<base>/writer" is the heartbeat write on the writer's
 * endpoint; it keeps its name when the writer moves (only its address
 * changes), so its heartbeat history survives a switchover and the lag of
 * the secondaries stays known. "<base>/reader/<region>" reads the heartbeat
 * on a secondary's reader endpoint with the writer target as lag source.
 * <base> is the key, or a hash of it when the key is too long for a target
 * name. While a region's API does not answer, its targets keep their last
 * address: a writer that vanished must keep failing its probes.
 */
#include "pkg/globaldb/reconciler.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "pkg/aws/secretsmanager.h"
#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/executor.h"
#include "pkg/globaldb/cabundle.h"
#include "pkg/globaldb/planner.h"
#include "pkg/probe/prober.h"

const struct kube_resource gdb_res_globaldatabases = {"globaldb.io", "v1alpha1", "globaldatabases",
						      1};
static const struct kube_resource res_secrets = {"", "v1", "secrets", 1};

#define TARGET_BASE_MAX 80

struct key_state {
	char *key;
	/* the last action's outcome */
	struct gdb_obs_last_result last;
	char *last_region, *last_code, *last_message, *last_change_id;
	char *last_ecs_restarted, *last_ecs_unreachable;
	/* probe credentials (secret) */
	char *user, *password;
	int64_t creds_mono;	  /* 0 = never fetched */
	atomic_int creds_refused; /* a probe was refused for authentication: re-read them */
	unsigned creds_gen;
	char *creds_error;     /* why there are none, NULL when there are */
	struct gdb_ca_file ca; /* spec.healthCheck.caBundleRef, read with the credentials */
	char *ca_ref;	       /* the caBundleRef ca was read for ("kind/name/key"), NULL = none */
	/* probe targets */
	char base[TARGET_BASE_MAX + 1];
	char *writer_region;
	char *writer_sig;
	char *reader_region[GDB_MAX_REGIONS];
	char *reader_sig[GDB_MAX_REGIONS];
	/* globaldb_current_primary_info labels */
	char *info_region, *info_global;
	int64_t status_mono;		/* when this replica last wrote the status; 0 = never */
	int64_t first_status_wait_mono; /* when the first status began to wait for verdicts */
	/*
	 * The resourceVersions the last reconcile's writes replaced (a finalizer
	 * patch and a status write at most): while the informer still holds one
	 * of them, it has not seen our own write yet (see informer_behind).
	 */
	char *replaced_rv[2];
	int awaiting_informer; /* a reconcile waits for the informer's next version; under r->lock */
	/* Its entries in the reconciler's aws_names map (see watch_names). */
	char *aws_names[GDB_MAX_REGIONS + 2];
	size_t n_aws_names;
	struct key_state *next;
};

struct gdb_reconciler {
	struct gdb_reconciler_opts o;
	struct probe_prober *prober;
	struct gdb_obs_cache *cache;
	pthread_mutex_t lock;
	struct key_state *states; /* a list, and a map by key */
	struct base_map state_by_key;
	struct secret_entry *secrets; /* a list, and a map by "namespace/name" */
	struct base_map secret_by_key;
	/*
	 * "c/<region>/<cluster>" and "g/<global cluster>" (lower case) -> the
	 * key_state whose spec or status names it: where a round's changes go.
	 */
	struct base_map aws_names;
};

/*
 * The data of a probe credentials' Secret, shared by every object naming it:
 * a thousand objects naming one Secret read it once per GDB_CREDS_TTL_MS,
 * not a thousand times (at start-up those reads were a large part of the
 * apiserver's work). Only answers that carried data are kept.
 */
struct secret_entry {
	struct secret_entry *next;
	char *key;
	json_t *data;
	int64_t fetched_mono;
};

static struct base_metric *m_total, *m_errors, *m_time, *m_failovers, *m_steps, *m_primary,
	*m_drift;

static void metrics_init(void)
{
	static const double step_buckets[] = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800};

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
	m_failovers =
		base_metric_counter("globaldb_failovers_total",
				    "Unplanned failovers by method and result", "method,result");
	m_steps = base_metric_histogram("globaldb_operation_step_duration_seconds",
					"Duration of each finished operation step",
					"operation,step", step_buckets, ARRAY_SIZE(step_buckets));
	m_primary =
		base_metric_gauge("globaldb_current_primary_info",
				  "1 for the region that holds the writer of each GlobalDatabase",
				  "namespace,name,region,global_cluster");
	m_drift = base_metric_counter(
		"globaldb_aws_changes_total",
		"Changes the regions' Describe rounds found in the clusters and "
		"global clusters a GlobalDatabase names (each enqueues it)",
		"kind");
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

static void forget_creds(struct key_state *s)
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

static void set_primary_info(struct key_state *s, const char *ns, const char *name,
			     const char *region, const char *global)
{
	if (s->info_region && (!region || strcmp(region, s->info_region) ||
			       strcmp(global ? global : "", s->info_global))) {
		base_metric_remove(m_primary, ns, name, s->info_region, s->info_global);
		free(s->info_region);
		free(s->info_global);
		s->info_region = s->info_global = NULL;
	}
	if (region && !s->info_region) {
		s->info_region = xstrdup(region);
		s->info_global = xstrdup(global ? global : "");
		base_metric_set(m_primary, 1, ns, name, s->info_region, s->info_global);
	}
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
	free(s->info_region);
	free(s->info_global);
	for (size_t i = 0; i < s->n_aws_names; i++)
		free(s->aws_names[i]);
	for (size_t i = 0; i < ARRAY_SIZE(s->replaced_rv); i++)
		free(s->replaced_rv[i]);
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
	set_primary_info(s, ns, name, NULL, NULL);
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

/* ---- probe credentials ---- */

/* Decodes Secret data into a C string; NULL when malformed. Caller frees (a secret). */
static char *b64decode(const char *in)
{
	char *out;
	size_t len;

	if (base_base64_decode(in, &out, &len) < 0)
		return NULL;
	if (strlen(out) != len) { /* an embedded NUL is no password */
		base_free_secret(out);
		return NULL;
	}
	return out;
}

/*
 * The Secret's data: the shared copy while it is fresh and reread is 0, else
 * read now. *fetched_mono is when it was read (0 if not kept).
 */
static int read_secret_data(struct gdb_reconciler *r, const char *ns, const char *name, int reread,
			    json_t **data, int64_t *fetched_mono)
{
	struct kube_status st;
	struct secret_entry *e;
	json_t *secret = NULL;
	char *key = xasprintf("%s/%s", ns, name);
	int rc;

	*data = NULL;
	pthread_mutex_lock(&r->lock);
	e = base_map_get(&r->secret_by_key, key);
	*fetched_mono = 0;
	if (e && !reread && base_now_mono_ms() - e->fetched_mono < GDB_CREDS_TTL_MS) {
		*data = json_incref(e->data);
		*fetched_mono = e->fetched_mono;
	}
	pthread_mutex_unlock(&r->lock);
	if (*data) {
		free(key);
		return 0;
	}
	kube_status_clear(&st);
	rc = kube_get(r->o.kube, &res_secrets, ns, name, &secret, &st);
	if (rc == 0 && json_is_object(json_object_get(secret, "data"))) {
		*data = json_incref(json_object_get(secret, "data"));
		pthread_mutex_lock(&r->lock);
		e = base_map_get(&r->secret_by_key, key);
		if (!e) {
			e = xcalloc(1, sizeof(*e));
			e->key = key;
			key = NULL;
			e->next = r->secrets;
			r->secrets = e;
			base_map_put(&r->secret_by_key, e->key, e);
		}
		json_decref(e->data);
		e->data = json_incref(*data);
		e->fetched_mono = *fetched_mono = base_now_mono_ms();
		pthread_mutex_unlock(&r->lock);
	} else if (rc == 0) {
		*data = json_object(); /* no data: the caller names the missing key */
	}
	json_decref(secret);
	free(key);
	return rc;
}

/* The probe credentials from the spec's Secret; *fetched_mono as read_secret_data's. */
static int creds_from_secret(struct gdb_reconciler *r, struct key_state *s, const char *ns,
			     const struct gdb_health_check_spec *hc, int reread,
			     int64_t *fetched_mono)
{
	json_t *data;
	const char *u, *p;
	int rc;

	rc = read_secret_data(r, ns, hc->secret_name, reread, &data, fetched_mono);
	if (rc == BASE_ENOTFOUND) {
		xsetf(&s->creds_error, "Secret %.63s/%.253s does not exist", ns, hc->secret_name);
		return rc;
	}
	if (rc < 0) {
		xsetf(&s->creds_error, "cannot read Secret %.63s/%.253s: %s", ns, hc->secret_name,
		      base_strerror(rc));
		return rc;
	}
	u = json_string_value(json_object_get(data, hc->username_key));
	p = json_string_value(json_object_get(data, hc->password_key));
	if (!u || !p) {
		xsetf(&s->creds_error, "Secret %.63s/%.253s has no key %.100s", ns, hc->secret_name,
		      !u ? hc->username_key : hc->password_key);
		json_decref(data);
		return BASE_EINVAL;
	}
	forget_creds(s);
	s->user = b64decode(u);
	s->password = b64decode(p);
	json_decref(data);
	if (!s->user || !s->password || !*s->user) {
		forget_creds(s);
		xsetf(&s->creds_error, "Secret %.63s/%.253s: %s or %s is not valid base64 text", ns,
		      hc->secret_name, hc->username_key, hc->password_key);
		return BASE_EINVAL;
	}
	return 0;
}

static int creds_from_secrets_manager(struct gdb_reconciler *r, struct key_state *s,
				      const struct gdb_spec *spec)
{
	const char *id = spec->health_check.secrets_manager_secret_id;
	int rc = BASE_EINVAL;

	for (size_t i = 0; i < spec->n_regions; i++) {
		struct aws_secret_value v;
		struct aws_error err;
		json_t *j;

		memset(&v, 0, sizeof(v));
		aws_error_clear(&err);
		rc = aws_secretsmanager_get_secret_value(r->o.aws, spec->regions[i].name, id, NULL,
							 NULL, &v, &err);
		if (rc < 0) {
			xsetf(&s->creds_error, "Secrets Manager secret %s in %s: %s", id,
			      spec->regions[i].name, *err.code ? err.code : base_strerror(rc));
			aws_secret_value_release(&v);
			if (rc == BASE_ETRANSPORT || rc == BASE_ETIMEDOUT || rc == BASE_ESERVER ||
			    rc == BASE_ETHROTTLED)
				continue;
			return rc;
		}
		j = v.secret_string ? json_loads(v.secret_string, 0, NULL) : NULL;
		aws_secret_value_release(&v);
		if (!json_is_string(json_object_get(j, "username")) ||
		    !json_is_string(json_object_get(j, "password"))) {
			xsetf(&s->creds_error,
			      "Secrets Manager secret %s is not a JSON object with username and "
			      "password",
			      id);
			if (j) {
				json_t *pw = json_object_get(j, "password");

				if (json_is_string(pw))
					base_memzero((void *)json_string_value(pw),
						     json_string_length(pw));
			}
			json_decref(j);
			return BASE_EINVAL;
		}
		forget_creds(s);
		s->user = xstrdup(json_string_value(json_object_get(j, "username")));
		s->password = xstrdup(json_string_value(json_object_get(j, "password")));
		base_memzero((void *)json_string_value(json_object_get(j, "password")),
			     json_string_length(json_object_get(j, "password")));
		json_decref(j);
		return 0;
	}
	return rc;
}

/* 0 when s->user/password hold current credentials; else s->creds_error says why. */
static int resolve_creds(struct gdb_reconciler *r, struct key_state *s, const char *ns,
			 const struct gdb_spec *spec)
{
	char *old_user = s->user ? xstrdup(s->user) : NULL;
	char *old_pw = s->password ? xstrdup(s->password) : NULL;
	int refused = atomic_exchange(&s->creds_refused, 0), rc;
	int64_t fetched = 0;
	const struct gdb_health_check_spec *hc = &spec->health_check;
	char *ca_ref = hc->ca_name
			       ? xasprintf("%s/%s/%s", hc->ca_from_secret ? "Secret" : "ConfigMap",
					   hc->ca_name, hc->ca_key)
			       : NULL;
	/* A caBundleRef the spec changed (or added) is read now, not at the next refresh. */
	int ca_changed = (!ca_ref != !s->ca_ref) || (ca_ref && strcmp(ca_ref, s->ca_ref));

	if (s->creds_mono && base_now_mono_ms() - s->creds_mono < GDB_CREDS_TTL_MS && !refused &&
	    !ca_changed) {
		free(ca_ref);
		free(old_user);
		base_free_secret(old_pw);
		return 0;
	}
	free(s->ca_ref);
	s->ca_ref = ca_ref;
	free(s->creds_error);
	s->creds_error = NULL;
	if (spec->health_check.secret_name)
		rc = creds_from_secret(r, s, ns, &spec->health_check, refused, &fetched);
	else if (spec->health_check.secrets_manager_secret_id)
		rc = creds_from_secrets_manager(r, s, spec);
	else {
		xsetf(&s->creds_error, "spec.healthCheck names no credentials");
		rc = BASE_EINVAL;
	}
	if (rc == 0 && spec->health_check.ca_name) {
		char *why = NULL;

		rc = gdb_ca_file_load(r->o.kube, ns, &spec->health_check, &s->ca, &why);
		if (rc < 0) {
			free(s->creds_error);
			s->creds_error = why;
		}
	} else if (rc == 0) {
		gdb_ca_file_release(&s->ca);
	}
	if (rc == 0) {
		/* As old as the shared Secret read: no copy is older than the TTL. */
		s->creds_mono = fetched ? fetched : base_now_mono_ms();
		if (!old_user || !old_pw || strcmp(old_user, s->user) ||
		    strcmp(old_pw, s->password))
			s->creds_gen++;
	} else {
		forget_creds(s);
	}
	free(old_user);
	base_free_secret(old_pw);
	return rc;
}

/* ---- probes ---- */

/*
 * Where to probe region i: spec.regions[].probeEndpoint, else the endpoints
 * RDS answered this round, else — the region's API did not answer — the ones
 * the status recorded (status.writerEndpoint for the writer's region,
 * readerEndpoints[] for the others, regions[].port). Without that last
 * source a controller started during an outage of the writer's region would
 * never probe the writer, and so never fail over.
 */
static void probe_address(const struct gdb_spec *spec, const struct gdb_status *st,
			  const struct gdb_observation *ob, size_t i, int reader, const char **host,
			  int *port)
{
	const struct gdb_region_spec *rs = &spec->regions[i];
	const struct gdb_obs_region *o = &ob->obs.regions[i];
	const struct gdb_region_status *r;

	*host = NULL;
	*port = 0;
	if (rs->probe_host) {
		*host = rs->probe_host;
		*port = rs->probe_port > 0 ? rs->probe_port : 5432;
		return;
	}
	if (o->api == GDB_CALL_OK) {
		if (!o->cluster_exists)
			return;
		*host = reader && o->reader_endpoint ? o->reader_endpoint : o->endpoint;
		*port = ob->port[i] > 0 ? ob->port[i] : 5432;
		return;
	}
	if (!reader && st->current_primary_region && st->writer_endpoint &&
	    !strcmp(st->current_primary_region, rs->name))
		*host = st->writer_endpoint;
	for (size_t k = 0; reader && k < st->n_reader_endpoints; k++)
		if (st->reader_endpoints[k].region &&
		    !strcmp(st->reader_endpoints[k].region, rs->name))
			*host = st->reader_endpoints[k].endpoint;
	r = gdb_status_region((struct gdb_status *)st, rs->name);
	*port = r && r->port > 0 ? r->port : 5432;
}

static void fill_target(struct probe_target *t, const struct gdb_spec *spec,
			const struct key_state *s, const char *name, enum probe_kind kind,
			const char *host, int port, const char *lag_source)
{
	const struct gdb_health_check_spec *hc = &spec->health_check;

	memset(t, 0, sizeof(*t));
	t->name = name;
	t->kind = kind;
	t->host = host;
	t->port = port;
	t->dbname = hc->database;
	t->user = s->user;
	t->password = s->password;
	t->sslmode = hc->ssl_mode;
	t->allow_insecure_auth = hc->allow_insecure_password;
	t->sslrootcert = s->ca.path[0] ? s->ca.path : NULL;
	t->lag_source = lag_source;
	t->policy.period_ms = (int64_t)hc->period_seconds * 1000;
	t->policy.timeout_ms = (int64_t)hc->timeout_seconds * 1000;
	t->policy.failure_threshold = hc->failure_threshold;
	t->policy.success_threshold = hc->success_threshold > 0 ? hc->success_threshold : 1;
}

static char *signature(const struct probe_target *t, unsigned gen)
{
	return xasprintf("%s|%d|%s|%s|%d|%s|%s|%" PRId64 "|%" PRId64 "|%d|%d|%u", t->host, t->port,
			 t->dbname ? t->dbname : "", t->sslmode ? t->sslmode : "",
			 t->allow_insecure_auth, t->sslrootcert ? t->sslrootcert : "",
			 t->lag_source ? t->lag_source : "", t->policy.period_ms,
			 t->policy.timeout_ms, t->policy.failure_threshold,
			 t->policy.success_threshold, gen);
}

/* Sets target t unless its signature *sig is unchanged. */
static void apply_target(struct gdb_reconciler *r, const struct probe_target *t, unsigned gen,
			 char **sig, const char *key)
{
	char *want = signature(t, gen);
	int rc;

	if (*sig && !strcmp(*sig, want)) {
		free(want);
		return;
	}
	rc = probe_prober_set(r->prober, t);
	if (rc < 0) {
		base_log(BASE_LOG_WARN, "cannot set probe target", "gdb", key, "target", t->name,
			 "error", base_strerror(rc), NULL);
		free(want);
		return;
	}
	pthread_mutex_lock(&r->lock);
	free(*sig);
	*sig = want;
	pthread_mutex_unlock(&r->lock);
}

/* Removes the reader target in slot k. */
static void drop_reader(struct gdb_reconciler *r, struct key_state *s, size_t k)
{
	char name[PROBE_NAME_MAX];

	snprintf(name, sizeof(name), "%s/reader/%s", s->base, s->reader_region[k]);
	probe_prober_remove(r->prober, name);
	pthread_mutex_lock(&r->lock);
	free(s->reader_region[k]);
	free(s->reader_sig[k]);
	s->reader_region[k] = s->reader_sig[k] = NULL;
	pthread_mutex_unlock(&r->lock);
}

static void sync_probes(struct gdb_reconciler *r, struct key_state *s, const struct gdb_spec *spec,
			const struct gdb_status *st, const char *writer,
			const struct gdb_observation *ob)
{
	char wname[PROBE_NAME_MAX], name[PROBE_NAME_MAX];
	struct probe_target t;
	const char *host;
	int port;

	snprintf(wname, sizeof(wname), "%s/writer", s->base);
	/* A region removed from the spec loses its reader target. */
	for (size_t k = 0; k < GDB_MAX_REGIONS; k++)
		if (s->reader_region[k] && !gdb_spec_region(spec, s->reader_region[k], NULL))
			drop_reader(r, s, k);
	for (size_t i = 0; i < spec->n_regions && i < ob->obs.n_regions; i++) {
		const char *region = spec->regions[i].name;

		if (writer && !strcmp(region, writer)) {
			probe_address(spec, st, ob, i, 0, &host, &port);
			if (host) {
				fill_target(&t, spec, s, wname, PROBE_WRITER, host, port, NULL);
				apply_target(r, &t, s->creds_gen, &s->writer_sig, s->key);
				if (!s->writer_region || strcmp(s->writer_region, region)) {
					pthread_mutex_lock(&r->lock);
					gdb_set_str(&s->writer_region, region);
					pthread_mutex_unlock(&r->lock);
				}
			}
		}
	}
	for (size_t i = 0; i < spec->n_regions && i < ob->obs.n_regions; i++) {
		const char *region = spec->regions[i].name;
		size_t slot = GDB_MAX_REGIONS, free_slot = GDB_MAX_REGIONS;

		for (size_t k = 0; k < GDB_MAX_REGIONS; k++) {
			if (s->reader_region[k] && !strcmp(s->reader_region[k], region))
				slot = k;
			else if (!s->reader_region[k] && free_slot == GDB_MAX_REGIONS)
				free_slot = k;
		}
		snprintf(name, sizeof(name), "%s/reader/%s", s->base, region);
		if (writer && !strcmp(region, writer)) {
			if (slot < GDB_MAX_REGIONS)
				drop_reader(r, s, slot);
			continue;
		}
		probe_address(spec, st, ob, i, 1, &host, &port);
		if (!host)
			continue; /* keep the last address while the region does not answer */
		if (slot == GDB_MAX_REGIONS) {
			slot = free_slot;
			pthread_mutex_lock(&r->lock);
			s->reader_region[slot] = xstrdup(region);
			pthread_mutex_unlock(&r->lock);
		}
		fill_target(&t, spec, s, name, PROBE_READER, host, port,
			    s->writer_sig ? wname : NULL);
		apply_target(r, &t, s->creds_gen, &s->reader_sig[slot], s->key);
	}
}

/*
 * A probe the database refused to log in, or that refused the server's way
 * of logging in: a configuration problem (the password, the role, hba, the
 * authentication policy), which says the server is up and answering. It is
 * never evidence that a write failed.
 */
static int login_refused(const struct probe_verdict *v)
{
	return v->health == PROBE_UNHEALTHY &&
	       (v->last_error == PROBE_ERR_AUTH || v->last_error == PROBE_ERR_INSECURE_AUTH);
}

/* 1 healthy, 0 unhealthy, -1 unknown: not probed yet, or its login refused. */
static int health_of(const struct probe_verdict *v)
{
	if (login_refused(v))
		return -1;
	return v->health == PROBE_HEALTHY ? 1 : v->health == PROBE_UNHEALTHY ? 0 : -1;
}

static void build_health(struct gdb_reconciler *r, const struct key_state *s,
			 const struct gdb_spec *spec, struct gdb_health *h)
{
	char name[PROBE_NAME_MAX];
	struct probe_verdict w, v;
	int have_w;

	memset(h, 0, sizeof(*h));
	snprintf(name, sizeof(name), "%s/writer", s->base);
	have_w = s->writer_sig && probe_prober_get(r->prober, name, &w) == 0;
	for (size_t i = 0; i < spec->n_regions; i++) {
		struct gdb_health_region *hr = &h->regions[h->n_regions++];
		const char *region = spec->regions[i].name;

		hr->name = region;
		hr->writer_healthy = -1;
		hr->reader_healthy = -1;
		hr->lag_ms = -1;
		hr->upstream_age_ms = -1;
		if (have_w && s->writer_region && !strcmp(s->writer_region, region)) {
			hr->writer_healthy = health_of(&w);
			hr->consecutive_failures = w.consecutive_failures;
			hr->last_probe_ms = w.last_probe_unix_ms;
			hr->heartbeat_ms = w.heartbeat_written_unix_ms;
			hr->heartbeat_seq = w.last_seq;
			hr->failing_since_ms = w.failing_since_unix_ms;
			continue;
		}
		snprintf(name, sizeof(name), "%s/reader/%s", s->base, region);
		if (probe_prober_get(r->prober, name, &v) < 0)
			continue;
		hr->reader_healthy = health_of(&v);
		hr->consecutive_failures = v.consecutive_failures;
		hr->last_probe_ms = v.last_probe_unix_ms;
		hr->lag_ms = v.lag_ms;
		hr->heartbeat_ms = v.heartbeat_written_unix_ms;
		hr->heartbeat_seq = v.last_seq;
		hr->upstream_age_ms = v.upstream_age_ms == PROBE_UPSTREAM_NEVER ? GDB_UPSTREAM_NEVER
										: v.upstream_age_ms;
	}
}

/* ---- status helpers ---- */

static void cond_set(struct gdb_status *st, const char *type, enum gdb_cond_status status,
		     const char *reason, const char *message, int64_t gen, int64_t now)
{
	struct gdb_condition *cd = NULL;

	for (size_t i = 0; i < st->n_conditions; i++)
		if (!strcmp(st->conditions[i].type, type))
			cd = &st->conditions[i];
	if (!cd) {
		if (st->n_conditions == GDB_MAX_CONDITIONS)
			return;
		cd = &st->conditions[st->n_conditions++];
		memset(cd, 0, sizeof(*cd));
		cd->type = xstrdup(type);
	}
	if (cd->status != status || cd->last_transition_ms == 0)
		cd->last_transition_ms = now;
	cd->status = status;
	cd->observed_generation = gen;
	gdb_set_str(&cd->reason, reason);
	gdb_set_str(&cd->message, message);
}

enum status_diff { STATUS_SAME, STATUS_PROBE_TIMES, STATUS_PROBES, STATUS_CHANGED };

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
static enum status_diff status_diff(json_t *a, json_t *b)
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
 * nothing (so no write-ahead record is due), and some region has no verdict
 * yet, or a secondary no lag. Written at once, that status would say
 * "pending" and be written again within a second or two: at start-up with
 * many objects, half of the apiserver's writes. The verdicts enqueue the key;
 * the wait ends after failureThreshold x period + timeout, the time a writer
 * has to be declared healthy or not.
 */
static int first_status_waits(struct key_state *s, const struct gdb_spec *spec,
			      const struct gdb_status *old, const struct gdb_plan *plan,
			      const struct gdb_health *h, int64_t *wait_ms)
{
	const struct gdb_health_check_spec *hc = &spec->health_check;
	int64_t budget =
		((int64_t)hc->failure_threshold * hc->period_seconds + hc->timeout_seconds) * 1000;
	int64_t now = base_now_mono_ms();
	int pending = 0;

	if (old->observed_generation != 0 || plan->action.kind != GDB_ACT_NONE ||
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
static int informer_behind(struct key_state *s, json_t *obj)
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
static int await_informer(struct gdb_reconciler *r, struct key_state *s, const char *key)
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
static int persist_status(struct gdb_reconciler *r, struct key_state *s, json_t **obj,
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
			base_log(BASE_LOG_WARN, "status update failed", "gdb", name, "namespace",
				 ns, "error", base_strerror(rc), "message", st.message, NULL);
		return rc;
	}
	s->status_mono = base_now_mono_ms();
	note_replaced(s, *obj);
	if (base_log_enabled(BASE_LOG_DEBUG)) {
		char what[512];

		describe_diff(json_object_get(updated, "status"), json_object_get(*obj, "status"),
			      what, sizeof(what));
		base_log(BASE_LOG_DEBUG, "status written", "gdb", name, "namespace", ns, "changed",
			 what, NULL);
	}
	json_decref(*obj);
	*obj = updated;
	return 0;
}

static int has_finalizer(json_t *obj)
{
	json_t *f = json_object_get(json_object_get(obj, "metadata"), "finalizers");
	size_t i;
	json_t *v;

	json_array_foreach(f, i, v) if (json_is_string(v) &&
					!strcmp(json_string_value(v), GDB_FINALIZER)) return 1;
	return 0;
}

/* Adds (add != 0) or removes our finalizer; *obj is replaced by the answer. */
static int patch_finalizer(struct gdb_reconciler *r, struct key_state *s, json_t **obj, int add,
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
			base_log(BASE_LOG_WARN, "finalizer update failed", "gdb", name, "namespace",
				 ns, "error", base_strerror(rc), "message", st.message, NULL);
		return rc;
	}
	note_replaced(s, *obj);
	json_decref(*obj);
	*obj = updated;
	return 0;
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

static void record_operation_metrics(const struct gdb_status *old, const struct gdb_status *cur)
{
	const struct gdb_operation *l = &cur->last_operation;

	if (l->finished_ms == 0 || l->finished_ms == old->last_operation.finished_ms)
		return;
	if (l->type == GDB_OP_FAILOVER)
		base_metric_add(m_failovers, 1, gdb_op_method_name(l->method),
				gdb_op_result_name(l->result));
	for (size_t i = 0; i < l->n_steps; i++)
		base_metric_observe(m_steps, (double)l->steps[i].duration_seconds,
				    gdb_op_type_name(l->type), l->steps[i].name);
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
	cond_set(&st, "Ready", GDB_COND_FALSE, "InvalidSpec", err, gen, now);
	cond_set(&st, "Degraded", GDB_COND_TRUE, "InvalidSpec", err, gen, now);
	rc = persist_status(r, s, obj, &st, ns, name);
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
	cond_set(&st, "Ready", GDB_COND_FALSE, "ProbeCredentialsUnavailable", why, gen, now);
	cond_set(&st, "Degraded", GDB_COND_TRUE, "ProbeCredentialsUnavailable", why, gen, now);
	cond_set(&st, "PrimaryHealthy", GDB_COND_UNKNOWN, "NotProbedYet",
		 "no probe credentials, so no probes", gen, now);
	rc = persist_status(r, s, obj, &st, ns, name);
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
	cond_set(&st, "Ready", GDB_COND_FALSE, reason, msg, gen, base_now_real_ms());
	cond_set(&st, "Degraded", GDB_COND_TRUE, reason, msg, gen, base_now_real_ms());
	*rc = persist_status(r, s, obj, &st, ns, name);
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
/*
 * Degraded=True, ProbeLoginRefused, while a probe's login is refused, unless
 * the plan already reports another reason. The health the planner saw for
 * that endpoint was unknown (health_of), so nothing was decided on it.
 */
static void report_refused_login(struct gdb_reconciler *r, const struct key_state *s,
				 const struct gdb_spec *spec, struct gdb_plan *plan)
{
	char name[PROBE_NAME_MAX], msg[512];
	struct probe_verdict v;
	const char *where = NULL;

	for (size_t i = 0; i <= spec->n_regions && !where; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s/writer", s->base);
		else
			snprintf(name, sizeof(name), "%s/reader/%s", s->base,
				 spec->regions[i - 1].name);
		if (probe_prober_get(r->prober, name, &v) == 0 && login_refused(&v))
			where = i == 0 ? "the writer" : spec->regions[i - 1].name;
	}
	if (!where)
		return;
	for (size_t i = 0; i < plan->status.n_conditions; i++)
		if (!strcmp(plan->status.conditions[i].type, "Degraded") &&
		    plan->status.conditions[i].status == GDB_COND_TRUE)
			return;
	if (v.last_error == PROBE_ERR_INSECURE_AUTH)
		snprintf(msg, sizeof(msg),
			 "the probe of %s refused the server's login: it asked for a cleartext or "
			 "MD5 password, for none, or for SCRAM without TLS channel binding; store "
			 "the password as SCRAM and use TLS, or set "
			 "spec.healthCheck.allowInsecurePassword; its health counts as unknown",
			 where);
	else
		snprintf(msg, sizeof(msg),
			 "the database refused the probe's login at %s (SQLSTATE %s): check the "
			 "credentials, the role and pg_hba.conf; its health counts as unknown, "
			 "never as a failed write",
			 where, v.last_sqlstate[0] ? v.last_sqlstate : "none");
	cond_set(&plan->status, "Degraded", GDB_COND_TRUE, "ProbeLoginRefused", msg,
		 plan->status.observed_generation, base_now_real_ms());
}

static void observe_and_plan(struct gdb_reconciler *r, struct key_state *s,
			     const struct gdb_spec *spec, const struct gdb_status *status,
			     json_t *obj, int deleting, int64_t max_age_ms,
			     struct gdb_observation *ob, struct gdb_health *health,
			     struct gdb_plan *plan)
{
	gdb_observe(r->cache, spec, status, obj, s->last.action ? &s->last : NULL, max_age_ms, ob);
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
	if (plan.action.kind != GDB_ACT_NONE && plan.action.kind != GDB_ACT_WAIT)
		base_log(BASE_LOG_INFO, "planned", "gdb", key, "action",
			 gdb_action_name(plan.action.kind), "region",
			 plan.action.region ? plan.action.region : "-", "step",
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
	record_operation_metrics(&status, &plan.status);

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
	set_primary_info(s, ns, name, plan.status.current_primary_region,
			 plan.status.global_cluster_identifier);
	*requeue = plan.requeue_after_ms > 0 ? plan.requeue_after_ms : GDB_REQUEUE_STEADY_MS;
	/* Settled, and this plan changed nothing: the rounds will tell of drift. */
	if (fresh == SETTLED && plan.action.kind == GDB_ACT_NONE &&
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
