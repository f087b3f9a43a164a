/*
 * pkg/globaldb/controller: the runtime wiring (informer -> workqueue ->
 * workers -> reconciler, readiness, leader election, drain) against the
 * shared real kube-apiserver (ctest fixture testenv). AWS is a closed
 * loopback port: these tests watch what the controller does in Kubernetes.
 * Each test works in a fresh namespace and waits for conditions, never for
 * fixed times.
 */
#include <check.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/controller.h"
#include "pkg/globaldb/reconciler.h"
#include "pkg/kube/kube.h"
#include "pkg/server/health.h"
#include "tests/check_main.h"

#define DEADLINE_MS 60000

static json_t *state;
static struct kube_client *kube;
static char *ns;

static const char *kubeconfig(void)
{
	const char *v = json_string_value(json_object_get(state, "kubeconfig"));

	ck_assert_msg(v != NULL, "testenv state has no kubeconfig");
	return v;
}

static void setup(void)
{
	const char *path = getenv("GDB_TESTENV_STATE");
	struct kube_config *cfg;
	struct kube_status st;
	json_error_t jerr;
	char *msg = NULL;
	json_t *obj;

	ck_assert_msg(path != NULL, "GDB_TESTENV_STATE is not set");
	state = json_load_file(path, 0, &jerr);
	ck_assert_msg(state != NULL, "cannot read %s: %s", path, jerr.text);
	ck_assert_msg(kube_config_load_kubeconfig(kubeconfig(), NULL, &cfg, &msg) == 0, "%s", msg);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &kube), 0);
	ns = xasprintf("ctl-%llx", (unsigned long long)(base_rand64() & 0xffffffff));
	obj = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
			"name", ns);
	ck_assert_msg(kube_create(kube, &kube_res_namespaces, NULL, obj, NULL, &st) == 0, "%s",
		      st.message);
	json_decref(obj);
	/* Nothing may reach real AWS: a closed port, static dummy keys, no metadata service. */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKIDTESTONLY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "test-only", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_REGION", "us-east-1", 1);
}

static void teardown(void)
{
	struct kube_status st;

	kube_delete(kube, &kube_res_namespaces, NULL, ns, NULL, &st);
	kube_client_free(kube);
	free(ns);
	json_decref(state);
}

/* A GlobalDatabase whose probe credentials Secret does not exist. */
static void create_globaldatabase(const char *name)
{
	struct kube_status st;
	json_t *obj = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:{s:s}}}}",
		"apiVersion", "globaldb.io/v1alpha1", "kind", "GlobalDatabase", "metadata", "name",
		name, "namespace", ns, "spec", "globalClusterIdentifier", "orders-global",
		"primaryRegion", "us-east-1", "regions", "name", "us-east-1", "dbClusterIdentifier",
		"orders-east", "name", "us-west-2", "dbClusterIdentifier", "orders-west",
		"healthCheck", "credentialsSecretRef", "name", "no-such-secret");

	ck_assert_msg(kube_create(kube, &gdb_res_globaldatabases, ns, obj, NULL, &st) == 0, "%s",
		      st.message);
	json_decref(obj);
}

/* The object, or NULL when it does not exist. Caller decrefs. */
static json_t *get_globaldatabase(const char *name)
{
	struct kube_status st;
	json_t *obj = NULL;
	int rc = kube_get(kube, &gdb_res_globaldatabases, ns, name, &obj, &st);

	ck_assert_msg(rc == 0 || rc == BASE_ENOTFOUND, "get %s: %s", name, st.message);
	return rc == 0 ? obj : NULL;
}

/* The reason of condition type in obj's status, or NULL. */
static const char *condition_reason(json_t *obj, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && !strcmp(t, type))
			return json_string_value(json_object_get(c, "reason"));
	}
	return NULL;
}

static int reconciled(const char *name)
{
	json_t *obj = get_globaldatabase(name);
	const char *reason = obj ? condition_reason(obj, "Ready") : NULL;
	json_t *fin = obj ? json_object_get(json_object_get(obj, "metadata"), "finalizers") : NULL;
	const char *f = json_string_value(json_array_get(fin, 0));
	int ok = reason && !strcmp(reason, "ProbeCredentialsUnavailable") &&
		 json_array_size(fin) == 1 && f && !strcmp(f, GDB_FINALIZER);

	json_decref(obj);
	return ok;
}

static int gone(const char *name)
{
	json_t *obj = get_globaldatabase(name);

	json_decref(obj);
	return obj == NULL;
}

/* Polls cond until it holds (1) or DEADLINE_MS passes (0). */
static int eventually(int (*cond)(const char *), const char *arg)
{
	int64_t end = base_now_mono_ms() + DEADLINE_MS;

	while (base_now_mono_ms() < end) {
		if (cond(arg))
			return 1;
		base_sleep_ms(100);
	}
	return cond(arg);
}

static int ready(struct server_health *h)
{
	struct base_buf out = BASE_BUF_INIT(0);
	int code = server_health_eval_one(h, SERVER_READYZ, "informer-sync", &out);

	base_buf_release(&out);
	return code == 200;
}

static struct gdb_controller_opts opts(struct server_health *h)
{
	return (struct gdb_controller_opts){.kubeconfig = kubeconfig(),
					    .namespace_ = ns,
					    .concurrency = 2,
					    .health = h,
					    .aws_call_timeout_ms = 2000};
}

START_TEST(a_new_globaldatabase_is_reconciled_and_its_deletion_is_not_stuck)
{
	struct server_health *h = server_health_new();
	struct gdb_controller_opts o = opts(h);
	struct gdb_controller *c;
	struct kube_status st;

	ck_assert_int_eq(gdb_controller_start(&o, &c), 0);
	/* Start returns once the first list is stored: the replica is ready. */
	ck_assert(ready(h));
	create_globaldatabase("orders");
	/* Picked up by the watch, reconciled by a worker: the finalizer is added and the
	 * status says why nothing is probed yet. */
	ck_assert_msg(eventually(reconciled, "orders"), "orders was never reconciled");
	/* Retain (the default): deleting the object removes the finalizer, never waits on AWS. */
	ck_assert_int_eq(kube_delete(kube, &gdb_res_globaldatabases, ns, "orders", NULL, &st), 0);
	ck_assert_msg(eventually(gone, "orders"), "orders is stuck deleting");
	gdb_controller_stop(c);
	server_health_free(h);
}
END_TEST

START_TEST(objects_that_exist_before_start_are_reconciled)
{
	struct server_health *h = server_health_new();
	struct gdb_controller_opts o = opts(h);
	struct gdb_controller *c;

	create_globaldatabase("early-a");
	create_globaldatabase("early-b");
	ck_assert_int_eq(gdb_controller_start(&o, &c), 0);
	ck_assert(eventually(reconciled, "early-a"));
	ck_assert(eventually(reconciled, "early-b"));
	gdb_controller_stop(c);
	server_health_free(h);
}
END_TEST

static int lease_holder_is(const char *want)
{
	struct kube_status st;
	json_t *lease = NULL;
	const char *holder;
	int ok;

	if (kube_get(kube, &kube_res_leases, ns, "globaldb-test", &lease, &st) < 0)
		return 0;
	holder = json_string_value(
		json_object_get(json_object_get(lease, "spec"), "holderIdentity"));
	ok = want ? holder && *holder : !holder || !*holder;
	json_decref(lease);
	return ok;
}

static int lease_held(const char *unused)
{
	(void)unused;
	return lease_holder_is("any");
}

static atomic_int fatal_calls;

static void on_fatal(void *ud, const char *why)
{
	(void)ud;
	(void)why;
	atomic_fetch_add(&fatal_calls, 1);
}

START_TEST(with_leader_election_the_leader_reconciles_and_stop_releases_the_lease)
{
	struct gdb_controller_opts o = opts(NULL);
	struct gdb_controller *c;

	o.leader_elect = 1;
	o.leader_election_namespace = ns;
	o.leader_election_id = "globaldb-test";
	o.lease_duration_ms = 6000;
	o.renew_deadline_ms = 4000;
	o.retry_period_ms = 500;
	o.on_fatal = on_fatal;
	ck_assert_int_eq(gdb_controller_start(&o, &c), 0);
	ck_assert_msg(eventually(lease_held, NULL), "the Lease was never taken");
	create_globaldatabase("orders");
	ck_assert(eventually(reconciled, "orders"));
	gdb_controller_stop(c);
	/* Released on stop, so that a new replica takes over at once, not after the lease. */
	ck_assert(lease_holder_is(NULL));
	ck_assert_int_eq(atomic_load(&fatal_calls), 0);
}
END_TEST

START_TEST(start_fails_with_an_unreadable_kubeconfig)
{
	struct server_health *h = server_health_new();
	struct gdb_controller_opts o = opts(h);
	struct gdb_controller *c = (struct gdb_controller *)1;

	o.kubeconfig = "/nonexistent/kubeconfig";
	ck_assert_int_lt(gdb_controller_start(&o, &c), 0);
	ck_assert_ptr_null(c);
	ck_assert(!ready(h));
	server_health_free(h);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("globaldb_controller", 120, setup, teardown,
		       a_new_globaldatabase_is_reconciled_and_its_deletion_is_not_stuck,
		       objects_that_exist_before_start_are_reconciled,
		       with_leader_election_the_leader_reconciles_and_stop_releases_the_lease,
		       start_fails_with_an_unreadable_kubeconfig)
