/*
 * The controller runtime. Start order: Kubernetes client, Event recorder,
 * AWS client, workqueue, reconciler (its prober), the store's handlers, the
 * reflector; then either the elector (workers start in on_started_leading)
 * or the workers directly. Stop order is the reverse, with the queue drained
 * before the Lease is released so that no reconcile runs without it.
 *
 * A worker loops: get a key, reconcile, then requeue it after the planner's
 * interval (forget its failures), at once after a conflict, or rate-limited
 * after an error; done. Keys added while a key is processing are queued
 * again when it is done (the workqueue's dirty set), so a verdict change
 * that arrives during a reconcile is never lost.
 */
#include "pkg/globaldb/controller.h"
#include "pkg/globaldb/guard_io.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/globaldb/reconciler.h"
#include "pkg/kube/config.h"
#include "pkg/kube/leader.h"
#include "pkg/kube/reflector.h"

#define MAX_WORKERS 64

struct gdb_controller {
	struct gdb_controller_opts o;
	char *identity;
	struct kube_client *kube;
	struct kube_recorder *recorder;
	struct aws_creds_provider *creds;
	struct aws_client *aws;
	struct aws_client
		*guard_aws; /* the guard's: short deadlines, so a lost region is skipped */
	struct gdb_guard *guard;
	struct kube_workqueue *queue;
	struct kube_store *store;
	struct kube_reflector *reflector;
	struct gdb_reconciler *rec;
	struct kube_leader *leader;
	pthread_mutex_t lock; /* workers[] and n_workers */
	pthread_t workers[MAX_WORKERS];
	int n_workers;
	atomic_int stopping;
};

/* ---- informer handlers ---- */

static void enqueue_obj(struct gdb_controller *c, json_t *obj)
{
	char *key = kube_object_key(obj);

	if (key)
		kube_workqueue_add(c->queue, key);
	free(key);
}

static void on_add(void *ud, json_t *obj)
{
	enqueue_obj(ud, obj);
}

static int same_field(json_t *a, json_t *b, const char *field)
{
	return json_equal(json_object_get(a, field), json_object_get(b, field)) ||
	       (!json_object_get(a, field) && !json_object_get(b, field));
}

/*
 * Status-only updates (our own writes) do not trigger a reconcile; the requeue
 * does, unless a reconcile waits for just this update (the informer was
 * behind our own last write).
 */
static void on_update(void *ud, json_t *old_obj, json_t *new_obj)
{
	struct gdb_controller *c = ud;
	json_t *om = json_object_get(old_obj, "metadata"),
	       *nm = json_object_get(new_obj, "metadata");
	char *key;

	if (same_field(om, nm, "generation") && same_field(om, nm, "annotations") &&
	    same_field(om, nm, "deletionTimestamp") && same_field(om, nm, "finalizers") &&
	    same_field(om, nm, "labels")) {
		key = kube_object_key(new_obj);
		if (key && c->rec && gdb_reconciler_wants_update(c->rec, key))
			kube_workqueue_add(c->queue, key);
		free(key);
		return;
	}
	enqueue_obj(c, new_obj);
}

static void on_delete(void *ud, json_t *obj)
{
	enqueue_obj(ud, obj);
}

/* ---- workers ---- */

static void *worker(void *arg)
{
	struct gdb_controller *c = arg;
	char *key;

	while (kube_workqueue_get(c->queue, -1, &key) == 0) {
		char ns[256], id[40];
		const char *slash = strchr(key, '/');
		uint64_t a = base_rand64(), b = base_rand64();
		int64_t after = 0;
		int rc;

		/* Every line of this reconcile names the object and the pass (a UUID v4). */
		snprintf(ns, sizeof(ns), "%.*s", slash ? (int)(slash - key) : 0, key);
		snprintf(id, sizeof(id), "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(a >> 32),
			 (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff,
			 (unsigned)(0x8000 | ((b >> 48) & 0x3fff)), b & (uint64_t)0xffffffffffff);
		base_log_context_set("namespace", ns, "name", slash ? slash + 1 : key,
				     "reconcileID", id, NULL);
		rc = gdb_reconcile(c->rec, key, &after);

		if (rc == 0) {
			kube_workqueue_forget(c->queue, key);
			if (after > 0)
				kube_workqueue_add_after(c->queue, key, after);
		} else if (rc == BASE_ECONFLICT) {
			kube_workqueue_add(c->queue, key);
		} else {
			base_log(BASE_LOG_WARN, "reconcile failed, retrying", "error",
				 base_strerror(rc), NULL);
			kube_workqueue_add_rate_limited(c->queue, key);
		}
		base_log_context_clear();
		kube_workqueue_done(c->queue, key);
		free(key);
	}
	return NULL;
}

static void start_workers(struct gdb_controller *c)
{
	int n = c->o.concurrency > 0 ? c->o.concurrency : 1;
	char buf[16];

	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	pthread_mutex_lock(&c->lock);
	if (c->n_workers == 0 && !atomic_load(&c->stopping)) {
		for (int i = 0; i < n; i++)
			if (pthread_create(&c->workers[c->n_workers], NULL, worker, c) == 0)
				c->n_workers++;
		/* Everything cached is reconciled once by the new leader. */
		json_t *all = kube_store_list(c->store);
		size_t i;
		json_t *obj;

		json_array_foreach(all, i, obj) enqueue_obj(c, obj);
		json_decref(all);
	}
	pthread_mutex_unlock(&c->lock);
	base_log(BASE_LOG_INFO, "starting workers", "controller", GDB_CONTROLLER_NAME, "workers",
		 base_fmt(buf, sizeof(buf), "%d", n), NULL);
}

static void on_started_leading(void *ud)
{
	struct gdb_controller *c = ud;

	base_log(BASE_LOG_INFO, "became leader", "identity", c->identity, NULL);
	start_workers(c);
}

static void on_stopped_leading(void *ud)
{
	struct gdb_controller *c = ud;

	if (atomic_load(&c->stopping))
		return;
	base_log(BASE_LOG_ERROR, "leader election lost", "identity", c->identity, NULL);
	/* No reconcile may start without the Lease; those running finish. */
	kube_workqueue_shutdown(c->queue);
	if (c->o.on_fatal)
		c->o.on_fatal(c->o.ud, "leader election lost");
}

static void on_new_leader(void *ud, const char *identity)
{
	struct gdb_controller *c = ud;

	if (identity && *identity && strcmp(identity, c->identity) != 0)
		base_log(BASE_LOG_INFO, "new leader elected", "leader", identity, NULL);
}

/*
 * The readyz flag outlives any one controller: the health registry keeps the
 * check's argument until it is freed, after the controller stopped.
 */
static atomic_int informer_synced;

/* ---- start / stop ---- */

static int load_kube_config(const char *path, struct kube_config **cfg)
{
	char *msg = NULL;
	int rc;

	rc = kube_config_load_default(path, cfg, &msg);
	if (rc < 0)
		base_log(BASE_LOG_ERROR, "cannot load the kubernetes config", "error",
			 msg ? msg : base_strerror(rc), NULL);
	else if (kube_config_warning(*cfg))
		base_log(BASE_LOG_WARN, kube_config_warning(*cfg), NULL);
	free(msg);
	return rc;
}

static char *make_identity(void)
{
	char host[256] = "";
	const char *pod = getenv("POD_NAME");

	if (!pod || !*pod) {
		if (gethostname(host, sizeof(host) - 1) < 0 || !*host)
			snprintf(host, sizeof(host), "globaldb-controller");
		pod = host;
	}
	return xasprintf("%s_%08x", pod, (unsigned)base_rand64());
}

static const struct kube_resource res_nodes = {"", "v1", "nodes", 0};

/* The region label of the Node named by $NODE_NAME (caller frees), or NULL. */
static char *node_region(struct kube_client *kube)
{
	const char *node = getenv("NODE_NAME");
	json_t *obj = NULL, *v;
	char *region = NULL;

	if (!node || !*node)
		return NULL;
	if (kube_get(kube, &res_nodes, NULL, node, &obj, NULL) < 0)
		return NULL;
	v = json_object_get(json_object_get(json_object_get(obj, "metadata"), "labels"),
			    "topology.kubernetes.io/region");
	if (json_is_string(v) && *json_string_value(v))
		region = xstrdup(json_string_value(v));
	json_decref(obj);
	return region;
}

static int start_guard(struct gdb_controller *c, const struct gdb_controller_opts *opts,
		       const struct aws_client_config *ac)
{
	struct aws_client_config gc = *ac;
	struct gdb_guard_config cfg = {0};
	char *region = opts->region && *opts->region ? xstrdup(opts->region) : node_region(c->kube);

	if (!region) {
		base_log(BASE_LOG_ERROR,
			 "the guard needs this controller's region: --region, or $NODE_NAME of a "
			 "Node with the topology.kubernetes.io/region label",
			 NULL);
		return BASE_EINVAL;
	}
	gc.connect_timeout_ms = 2000;
	gc.attempt_timeout_ms = 3000;
	gc.call_timeout_ms = 5000;
	gc.max_attempts = 2;
	c->guard_aws = aws_client_new(&gc);
	cfg.table = opts->guard_table;
	cfg.regions = opts->guard_regions;
	cfg.n_regions = opts->n_guard_regions;
	cfg.region = region;
	cfg.lease_ms = opts->guard_lease_ms;
	cfg.controller_id =
		opts->controller_id && *opts->controller_id ? opts->controller_id : region;
	c->guard = gdb_guard_new(c->guard_aws, &cfg);
	if (c->guard)
		base_log(BASE_LOG_INFO, "two-controller guard on", "table", cfg.table, "controller",
			 cfg.controller_id, "region", region, NULL);
	else
		base_log(BASE_LOG_ERROR, "invalid guard configuration", "table", cfg.table, NULL);
	free(region);
	return c->guard ? 0 : BASE_EINVAL;
}

int gdb_controller_start(const struct gdb_controller_opts *opts, struct gdb_controller **out)
{
	struct gdb_controller *c = xcalloc(1, sizeof(*c));
	struct kube_config *cfg = NULL;
	struct kube_recorder_opts ro = {0};
	struct kube_workqueue_opts qo = {0};
	struct aws_client_config ac = {0};
	struct kube_reflector_opts fo = {0};
	struct gdb_reconciler_opts rco = {0};
	struct kube_handlers h = {on_add, on_update, on_delete, NULL};
	int rc;

	c->o = *opts;
	pthread_mutex_init(&c->lock, NULL);
	c->identity = make_identity();
	*out = NULL;

	if ((rc = load_kube_config(opts->kubeconfig, &cfg)) < 0)
		goto fail;
	if ((rc = kube_client_new(cfg, NULL, &c->kube)) < 0) {
		base_log(BASE_LOG_ERROR, "cannot create the kubernetes client", "error",
			 base_strerror(rc), NULL);
		goto fail;
	}
	ro.reporting_controller = "globaldb.io/controller";
	ro.reporting_instance = c->identity;
	/*
	 * Every decision and every AWS action is an Event, so one fallback alone
	 * is a few dozen: client-go's default budget (25, then one per 5 min)
	 * would drop the end of the story.
	 */
	ro.spam_burst = 200;
	ro.spam_refill_ms = 2000;
	if ((rc = kube_recorder_new(c->kube, &ro, &c->recorder)) < 0)
		goto fail;

	c->creds = aws_creds_provider_new_chain(NULL);
	ac.creds = c->creds;
	ac.connect_timeout_ms = 3000;
	ac.attempt_timeout_ms = 5000;
	ac.call_timeout_ms = opts->aws_call_timeout_ms > 0 ? opts->aws_call_timeout_ms : 15000;
	ac.retry_base_ms = 200;
	ac.retry_cap_ms = 5000;
	c->aws = aws_client_new(&ac);

	qo.name = GDB_CONTROLLER_NAME;
	c->queue = kube_workqueue_new(&qo);
	c->store = kube_store_new();

	rco.kube = c->kube;
	rco.store = c->store;
	rco.recorder = c->recorder;
	rco.queue = c->queue;
	rco.aws = c->aws;
	rco.allow = opts->allow;
	if (opts->guard_table && *opts->guard_table) {
		if ((rc = start_guard(c, opts, &ac)) < 0)
			goto fail;
		rco.guard = c->guard;
		rco.guard_call_timeout_ms = ac.call_timeout_ms;
	}
	if ((rc = gdb_reconciler_new(&rco, &c->rec)) < 0) {
		base_log(BASE_LOG_ERROR, "cannot start the prober", "error", base_strerror(rc),
			 NULL);
		goto fail;
	}

	h.ud = c;
	kube_store_add_handlers(c->store, &h);
	fo.res = &gdb_res_globaldatabases;
	fo.ns = opts->namespace_;
	fo.name = "globaldatabases";
	fo.strip_managed_fields = 1; /* ~3 KB of an object nobody here reads */
	fo.strip_last_applied = 1;   /* ~1 KB more; written by /status and patches only */
	if ((rc = kube_reflector_start(c->kube, c->store, &fo, &c->reflector)) < 0)
		goto fail;
	atomic_store(&informer_synced, 0);
	if (opts->health && server_health_add(opts->health, SERVER_READYZ, "informer-sync",
					      server_check_flag, &informer_synced) < 0)
		base_log(BASE_LOG_WARN, "cannot register the informer-sync readyz check", NULL);
	/* As controller-runtime's CacheSyncTimeout: no sync, no start. */
	if ((rc = kube_reflector_wait_synced(c->reflector, GDB_SYNC_TIMEOUT_MS)) < 0) {
		base_log(BASE_LOG_ERROR,
			 "timed out waiting for the globaldatabases informer to sync", NULL);
		goto fail;
	}
	atomic_store(&informer_synced, 1);
	base_log(BASE_LOG_INFO, "informer synced", "resource", "globaldatabases", NULL);

	if (opts->leader_elect) {
		struct kube_leader_opts lo = {0};

		lo.ns = opts->leader_election_namespace;
		lo.name = opts->leader_election_id;
		lo.identity = c->identity;
		lo.lease_duration_ms = opts->lease_duration_ms;
		lo.renew_deadline_ms = opts->renew_deadline_ms;
		lo.retry_period_ms = opts->retry_period_ms;
		lo.on_started_leading = on_started_leading;
		lo.on_stopped_leading = on_stopped_leading;
		lo.on_new_leader = on_new_leader;
		lo.ud = c;
		base_log(BASE_LOG_INFO, "attempting to acquire leader lease", "lease",
			 opts->leader_election_id, "namespace", opts->leader_election_namespace,
			 "identity", c->identity, NULL);
		if ((rc = kube_leader_start(c->kube, &lo, &c->leader)) < 0) {
			base_log(BASE_LOG_ERROR, "cannot start leader election", "error",
				 base_strerror(rc), NULL);
			goto fail;
		}
	} else {
		start_workers(c);
	}
	*out = c;
	return 0;
fail:
	gdb_controller_stop(c);
	return rc < 0 ? rc : BASE_EINVAL;
}

void gdb_controller_stop(struct gdb_controller *c)
{
	if (!c)
		return;
	atomic_store(&c->stopping, 1);
	atomic_store(&informer_synced, 0);
	if (c->queue && kube_workqueue_shutdown_drain(c->queue, GDB_DRAIN_TIMEOUT_MS) < 0)
		base_log(BASE_LOG_WARN, "reconciles still running after the drain timeout", NULL);
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < c->n_workers; i++)
		pthread_join(c->workers[i], NULL);
	c->n_workers = 0;
	pthread_mutex_unlock(&c->lock);
	kube_leader_free(c->leader); /* releases the Lease */
	kube_reflector_free(c->reflector);
	gdb_reconciler_free(c->rec);
	if (c->recorder)
		kube_recorder_flush(c->recorder, 2000);
	kube_recorder_free(c->recorder);
	kube_store_free(c->store);
	kube_workqueue_free(c->queue);
	aws_client_free(c->aws);
	gdb_guard_free(c->guard);
	aws_client_free(c->guard_aws);
	aws_creds_provider_free(c->creds);
	kube_client_free(c->kube);
	pthread_mutex_destroy(&c->lock);
	free(c->identity);
	free(c);
}
