/*
 * Integration tests for pkg/kube against the shared real kube-apiserver
 * (ctest fixture testenv; the environment is described by the JSON file in
 * $GDB_TESTENV_STATE). Each test works in a fresh namespace. Tests that
 * disrupt the environment (apiserver restart, etcd compaction) leave it
 * running and ready when they finish.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"

extern char **environ;

static const struct kube_resource widgets = {"test.globaldb.io", "v1", "widgets", 1};

static json_t *state;

static const char *state_str(const char *key)
{
	const char *v = json_string_value(json_object_get(state, key));

	ck_assert_msg(v != NULL, "testenv state has no %s", key);
	return v;
}

static void load_state(void)
{
	const char *path = getenv("GDB_TESTENV_STATE");
	json_error_t err;

	ck_assert_msg(path != NULL, "GDB_TESTENV_STATE is not set");
	state = json_load_file(path, 0, &err);
	ck_assert_msg(state != NULL, "cannot read %s: %s", path, err.text);
}

static struct kube_client *client_from(const char *kubeconfig)
{
	struct kube_config *cfg;
	struct kube_client *c;
	char *msg = NULL;

	ck_assert_msg(kube_config_load_kubeconfig(kubeconfig, NULL, &cfg, &msg) == 0, "%s", msg);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c), 0);
	return c;
}

static struct kube_client *admin(void)
{
	return client_from(state_str("kubeconfig"));
}

/* Creates a fresh namespace and returns its name (caller frees). */
static char *fresh_namespace(struct kube_client *c, const char *prefix)
{
	char *name = xasprintf("%s-%llx", prefix, (unsigned long long)(base_rand64() & 0xffffffff));
	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", name);
	struct kube_status st;

	ck_assert_msg(kube_create(c, &kube_res_namespaces, NULL, ns, NULL, &st) == 0, "%s",
		      st.message);
	json_decref(ns);
	return name;
}

/* A ConfigMap as `kubectl apply` leaves it: with its last-applied annotation beside another. */
static json_t *configmap(const char *ns, const char *name, const char *k, const char *v)
{
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s}}", "apiVersion", "v1",
			 "kind", "ConfigMap", "metadata", "name", name, "namespace", ns,
			 "annotations", KUBE_LAST_APPLIED_ANNOTATION, "{\"kind\":\"ConfigMap\"}",
			 "example.com/kept", "yes", "data", k, v);
}

static const char *rv_of(json_t *o)
{
	return json_string_value(
		json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

/* Runs testenv.py with a command (restart-apiserver, compact); asserts success. */
static void testenv(const char *cmd)
{
	const char *py = getenv("GDB_PYTHON"), *src = getenv("GDB_SOURCE_DIR");
	const char *st = getenv("GDB_TESTENV_STATE");
	char *script, *argv[6];
	pid_t pid;
	int status;

	ck_assert(py && src && st);
	script = xasprintf("%s/tests/env/testenv.py", src);
	argv[0] = (char *)py;
	argv[1] = script;
	argv[2] = (char *)cmd;
	argv[3] = "--state";
	argv[4] = (char *)st;
	argv[5] = NULL;
	ck_assert_int_eq(posix_spawn(&pid, py, NULL, NULL, argv, environ), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "testenv.py %s failed", cmd);
	free(script);
}

START_TEST(configmap_crud_pagination_and_every_patch_kind)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-crud");
	struct kube_status st;
	struct kube_list_opts lo = {.limit = 3};
	json_t *o, *got, *page, *all, *patch;
	struct kube_patch_opts merge = {KUBE_PATCH_MERGE, NULL, 0, NULL};
	struct kube_patch_opts jpatch = {KUBE_PATCH_JSON, NULL, 0, NULL};
	struct kube_patch_opts apply_a = {KUBE_PATCH_APPLY, "manager-a", 0, NULL};
	struct kube_patch_opts apply_b = {KUBE_PATCH_APPLY, "manager-b", 0, NULL};
	char *stale;
	const char *cont;

	for (int i = 0; i < 7; i++) {
		char name[16];

		snprintf(name, sizeof(name), "cm-%d", i);
		o = configmap(ns, name, "i", name);
		ck_assert_int_eq(kube_create(c, &kube_res_configmaps, ns, o, NULL, &st), 0);
		json_decref(o);
	}
	/* Creating again is AlreadyExists. */
	o = configmap(ns, "cm-0", "i", "x");
	ck_assert_int_eq(kube_create(c, &kube_res_configmaps, ns, o, NULL, &st), BASE_EEXIST);
	ck_assert_int_eq(st.code, 409);
	ck_assert_str_eq(st.reason, "AlreadyExists");
	json_decref(o);

	/* One page of 3 with a continue token, then everything via list_all. */
	ck_assert_int_eq(kube_list(c, &kube_res_configmaps, ns, &lo, &page, &st), 0);
	ck_assert_int_eq(json_array_size(json_object_get(page, "items")), 3);
	cont = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
	ck_assert_ptr_nonnull(cont);
	ck_assert_int_gt(strlen(cont), 0);
	json_decref(page);
	ck_assert_int_eq(kube_list_all(c, &kube_res_configmaps, ns, &lo, &all, &st), 0);
	/* 7 and the namespace's kube-root-ca.crt if a controller made one (none here). */
	ck_assert_int_ge(json_array_size(json_object_get(all, "items")), 7);
	ck_assert_ptr_nonnull(rv_of(all));
	json_decref(all);

	/* Update with a stale resourceVersion conflicts. */
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, ns, "cm-1", &got, &st), 0);
	stale = xstrdup(rv_of(got));
	json_object_set_new(json_object_get(got, "data"), "i", json_string("updated"));
	ck_assert_int_eq(kube_update(c, &kube_res_configmaps, ns, "cm-1", NULL, got, NULL, &st), 0);
	json_object_set_new(json_object_get(got, "metadata"), "resourceVersion",
			    json_string(stale));
	json_object_set_new(json_object_get(got, "data"), "i", json_string("lost update"));
	ck_assert_int_eq(kube_update(c, &kube_res_configmaps, ns, "cm-1", NULL, got, NULL, &st),
			 BASE_ECONFLICT);
	ck_assert_str_eq(st.reason, "Conflict");
	json_decref(got);

	/* Merge patch. */
	patch = json_pack("{s:{s:s}}", "data", "merged", "yes");
	ck_assert_int_eq(kube_patch(c, &kube_res_configmaps, ns, "cm-1", &merge, patch, &got, &st),
			 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "merged")),
			 "yes");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "i")),
			 "updated");
	json_decref(got);
	json_decref(patch);

	/* JSON patch: a failing test op is rejected, a good one applies. */
	patch = json_pack("[{s:s, s:s, s:s}]", "op", "test", "path", "/data/i", "value", "nope");
	ck_assert_int_eq(kube_patch(c, &kube_res_configmaps, ns, "cm-1", &jpatch, patch, NULL, &st),
			 BASE_EINVAL);
	json_decref(patch);
	patch = json_pack("[{s:s, s:s}, {s:s, s:s, s:s}]", "op", "remove", "path", "/data/merged",
			  "op", "add", "path", "/data/json", "value", "patched");
	ck_assert_int_eq(kube_patch(c, &kube_res_configmaps, ns, "cm-1", &jpatch, patch, &got, &st),
			 0);
	ck_assert_ptr_null(json_object_get(json_object_get(got, "data"), "merged"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "json")),
			 "patched");
	json_decref(got);
	json_decref(patch);

	/* Server-side apply: two managers contend for a field; force takes it. */
	patch = configmap(ns, "applied", "owner", "a");
	ck_assert_int_eq(
		kube_patch(c, &kube_res_configmaps, ns, "applied", &apply_a, patch, NULL, &st), 0);
	json_decref(patch);
	patch = configmap(ns, "applied", "owner", "b");
	ck_assert_int_eq(
		kube_patch(c, &kube_res_configmaps, ns, "applied", &apply_b, patch, NULL, &st),
		BASE_ECONFLICT);
	apply_b.force = 1;
	ck_assert_int_eq(
		kube_patch(c, &kube_res_configmaps, ns, "applied", &apply_b, patch, &got, &st), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "owner")),
			 "b");
	json_decref(got);
	json_decref(patch);
	apply_a.field_manager = NULL;
	ck_assert_int_eq(
		kube_patch(c, &kube_res_configmaps, ns, "applied", &apply_a, patch, NULL, &st),
		BASE_EINVAL);

	/* Delete with a stale precondition conflicts; then delete; then not found. */
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, ns, "cm-1", stale, &st),
			 BASE_ECONFLICT);
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, ns, "cm-1", NULL, &st), 0);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, ns, "cm-1", &got, &st), BASE_ENOTFOUND);
	ck_assert_int_eq(st.code, 404);
	ck_assert_str_eq(st.reason, "NotFound");
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, ns, "cm-1", NULL, &st),
			 BASE_ENOTFOUND);
	free(stale);
	free(ns);
	kube_client_free(c);
}
END_TEST

/* Installs the test CRD (once per environment) and waits until widgets are served. */
static void ensure_widget_crd(struct kube_client *c)
{
	const char *crd_text =
		"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		"\"metadata\":{\"name\":\"widgets.test.globaldb.io\"},"
		"\"spec\":{\"group\":\"test.globaldb.io\",\"scope\":\"Namespaced\","
		"\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\","
		"\"listKind\":\"WidgetList\"},"
		"\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
		"\"subresources\":{\"status\":{}},"
		"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
		"\"spec\":{\"type\":\"object\",\"properties\":{\"size\":{\"type\":\"integer\"}}},"
		"\"status\":{\"type\":\"object\",\"properties\":{"
		"\"observedGeneration\":{\"type\":\"integer\"},"
		"\"phaseNote\":{\"type\":\"string\"},"
		"\"writer\":{\"type\":\"string\"},"
		"\"conditions\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
		"\"x-kubernetes-list-map-keys\":[\"type\"],\"items\":{\"type\":\"object\","
		"\"required\":[\"type\",\"status\",\"lastTransitionTime\",\"reason\",\"message\"],"
		"\"properties\":{\"type\":{\"type\":\"string\"},\"status\":{\"type\":\"string\"},"
		"\"observedGeneration\":{\"type\":\"integer\"},"
		"\"lastTransitionTime\":{\"type\":\"string\",\"format\":\"date-time\"},"
		"\"reason\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}}"
		"}}}}}}]}}";
	json_t *crd = json_loads(crd_text, 0, NULL), *got;
	struct kube_status st;
	int64_t deadline = base_now_mono_ms() + 60000;
	int rc;

	ck_assert_ptr_nonnull(crd);
	rc = kube_create(c, &kube_res_crds, NULL, crd, NULL, &st);
	ck_assert_msg(rc == 0 || rc == BASE_EEXIST, "create CRD: %s", st.message);
	json_decref(crd);
	for (;;) {
		int established = 0;

		if (kube_get(c, &kube_res_crds, NULL, "widgets.test.globaldb.io", &got, &st) == 0) {
			json_t *conds =
				json_object_get(json_object_get(got, "status"), "conditions");

			established = kube_condition_is_true(conds, "Established");
			json_decref(got);
		}
		if (established && kube_list(c, &widgets, "default", NULL, &got, &st) == 0) {
			json_decref(got);
			return;
		}
		ck_assert_msg(base_now_mono_ms() < deadline, "CRD never became Established");
		base_sleep_ms(100);
	}
}

/* Sets status.writer; on its first call, another writer sneaks in between read and write. */
struct writer_race {
	struct kube_client *c;
	const char *ns, *name, *writer;
	int calls;
};

static int set_writer(void *ud, json_t *obj)
{
	struct writer_race *w = ud;
	json_t *status = json_object_get(obj, "status");

	if (w->calls++ == 0) {
		struct kube_patch_opts po = {KUBE_PATCH_MERGE, NULL, 0, "status"};
		json_t *p = json_pack("{s:{s:s}}", "status", "writer", "interloper");
		struct kube_status st;

		ck_assert_int_eq(kube_patch(w->c, &widgets, w->ns, w->name, &po, p, NULL, &st), 0);
		json_decref(p);
	}
	if (!status) {
		status = json_object();
		json_object_set_new(obj, "status", status);
	}
	if (json_string_value(json_object_get(status, "writer")) &&
	    !strcmp(json_string_value(json_object_get(status, "writer")), w->writer))
		return 1; /* already so: no write */
	json_object_set_new(status, "writer", json_string(w->writer));
	return 0;
}

START_TEST(custom_resource_crud_status_subresource_and_conflict_retry)
{
	struct kube_client *c = admin();
	char *ns;
	struct kube_status st;
	json_t *w, *got, *stale, *patch, *conds;
	struct kube_patch_opts status_merge = {KUBE_PATCH_MERGE, NULL, 0, "status"};
	struct kube_patch_opts apply = {KUBE_PATCH_APPLY, "kube-it", 1, NULL};
	struct kube_condition ready = {"Ready", "False", "Provisioning", "creating", 1};
	int64_t now = base_now_real_ms();
	char ltt[40];

	ensure_widget_crd(c);
	ns = fresh_namespace(c, "kube-crd");
	w = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}, s:{s:s}}", "apiVersion", "test.globaldb.io/v1",
		      "kind", "Widget", "metadata", "name", "w1", "spec", "size", 1, "status",
		      "phaseNote", "ignored on create");
	ck_assert_msg(kube_create(c, &widgets, ns, w, &got, &st) == 0, "%s", st.message);
	/* The main resource ignores status. */
	ck_assert_ptr_null(json_object_get(json_object_get(got, "status"), "phaseNote"));
	json_decref(w);

	/* Status through the subresource, with conditions. */
	json_object_set_new(got, "status",
			    json_pack("{s:i, s:[]}", "observedGeneration", 1, "conditions"));
	conds = json_object_get(json_object_get(got, "status"), "conditions");
	ck_assert_int_eq(kube_condition_set(conds, &ready, now), 1);
	ck_assert_int_eq(kube_update(c, &widgets, ns, "w1", "status", got, &w, &st), 0);
	json_decref(got);
	conds = json_object_get(json_object_get(w, "status"), "conditions");
	ck_assert(!kube_condition_is_true(conds, "Ready"));
	snprintf(ltt, sizeof(ltt), "%s",
		 json_string_value(json_object_get(kube_condition_find(conds, "Ready"),
						   "lastTransitionTime")));
	/* Same condition again: nothing changed, the caller skips the write. */
	ck_assert_int_eq(kube_condition_set(conds, &ready, now + 5000), 0);
	json_decref(w);

	/* Spec update bumps generation; status merge patch via the subresource. */
	ck_assert_int_eq(kube_get(c, &widgets, ns, "w1", &got, &st), 0);
	json_object_set_new(json_object_get(got, "spec"), "size", json_integer(3));
	ck_assert_int_eq(kube_update(c, &widgets, ns, "w1", NULL, got, &w, &st), 0);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_object_get(w, "metadata"), "generation")),
		2);
	json_decref(got);
	json_decref(w);
	patch = json_pack("{s:{s:i, s:s}}", "status", "observedGeneration", 2, "phaseNote", "ok");
	ck_assert_int_eq(kube_patch(c, &widgets, ns, "w1", &status_merge, patch, &got, &st), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "status"),
							    "observedGeneration")),
			 2);
	ck_assert_str_eq(json_string_value(json_object_get(
				 kube_condition_find(json_object_get(json_object_get(got, "status"),
								     "conditions"),
						     "Ready"),
				 "lastTransitionTime")),
			 ltt);
	json_decref(patch);

	/* A stale status update (someone wrote in between) is a conflict... */
	stale = got;
	patch = json_pack("{s:{s:s}}", "status", "writer", "other");
	ck_assert_int_eq(kube_patch(c, &widgets, ns, "w1", &status_merge, patch, NULL, &st), 0);
	json_decref(patch);
	json_object_set_new(json_object_get(stale, "status"), "writer", json_string("stale"));
	ck_assert_int_eq(kube_update(c, &widgets, ns, "w1", "status", stale, NULL, &st),
			 BASE_ECONFLICT);
	json_decref(stale);
	/* ...handled by re-read and retry, here with a writer racing the first try. */
	{
		struct writer_race wr = {c, ns, "w1", "me", 0};

		ck_assert_int_eq(kube_update_retry(c, &widgets, ns, "w1", "status", set_writer, &wr,
						   &got, &st),
				 0);
		ck_assert_int_eq(wr.calls, 2);
		ck_assert_str_eq(json_string_value(
					 json_object_get(json_object_get(got, "status"), "writer")),
				 "me");
		json_decref(got);
		/* Nothing to change: no write at all. */
		ck_assert_int_eq(kube_update_retry(c, &widgets, ns, "w1", "status", set_writer, &wr,
						   &got, &st),
				 0);
		ck_assert_int_eq(wr.calls, 3);
		json_decref(got);
	}
	ck_assert_int_eq(kube_get(c, &widgets, ns, "w1", &got, &st), 0);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(got, "status"), "writer")), "me");
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(got, "status"), "phaseNote")),
		"ok");
	json_decref(got);

	/* Server-side apply on the custom resource. */
	patch = json_pack("{s:s, s:s, s:{s:s}, s:{s:i}}", "apiVersion", "test.globaldb.io/v1",
			  "kind", "Widget", "metadata", "name", "w2", "spec", "size", 9);
	ck_assert_int_eq(kube_patch(c, &widgets, ns, "w2", &apply, patch, &got, &st), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(got, "spec"), "size")),
			 9);
	json_decref(got);
	json_decref(patch);
	ck_assert_int_eq(kube_delete(c, &widgets, ns, "w2", NULL, &st), 0);
	ck_assert_int_eq(kube_get(c, &widgets, ns, "w2", &got, &st), BASE_ENOTFOUND);
	free(ns);
	kube_client_free(c);
}
END_TEST

/* Handler log per key: "a" add, "u" update, "d" delete, appended in order. */
struct tally {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	json_t *by_key;
	const char *gate_name; /* on_add of this name blocks until released */
	int gate_blocked, gate_open;
};

static void tally_note(struct tally *t, json_t *o, const char *what)
{
	char *k = kube_object_key(o);
	json_t *cur;

	pthread_mutex_lock(&t->mu);
	cur = json_object_get(t->by_key, k);
	json_object_set_new(t->by_key, k,
			    json_sprintf("%s%s", cur ? json_string_value(cur) : "", what));
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	free(k);
}

static void t_add(void *ud, json_t *o)
{
	struct tally *t = ud;
	const char *name =
		json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));

	tally_note(t, o, "a");
	if (t->gate_name && name && !strcmp(name, t->gate_name)) {
		/* A slow consumer: the reflector thread stalls here. */
		pthread_mutex_lock(&t->mu);
		t->gate_blocked = 1;
		pthread_cond_broadcast(&t->cond);
		while (!t->gate_open)
			pthread_cond_wait(&t->cond, &t->mu);
		pthread_mutex_unlock(&t->mu);
	}
}

static void t_update(void *ud, json_t *o, json_t *n)
{
	(void)o;
	tally_note(ud, n, "u");
}

static void t_delete(void *ud, json_t *o)
{
	tally_note(ud, o, "d");
}

static void tally_init(struct tally *t)
{
	pthread_condattr_t ca;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	t->by_key = json_object();
}

static char *tally_get(struct tally *t, const char *key)
{
	char *s;

	pthread_mutex_lock(&t->mu);
	s = json_string_value(json_object_get(t->by_key, key))
		    ? xstrdup(json_string_value(json_object_get(t->by_key, key)))
		    : xstrdup("");
	pthread_mutex_unlock(&t->mu);
	return s;
}

/* Polls until the store has (want=1) or lacks (want=0) key. */
static void await_key(struct kube_store *s, const char *key, int want, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms;

	for (;;) {
		json_t *o = kube_store_get(s, key);
		int have = o != NULL;

		json_decref(o);
		if (have == want)
			return;
		ck_assert_msg(base_now_mono_ms() < deadline, "store never %s %s",
			      want ? "got" : "dropped", key);
		base_sleep_ms(20);
	}
}

/* Create, retrying while the apiserver is still coming back. */
static void create_cm_retry(struct kube_client *c, const char *ns, const char *name)
{
	int64_t deadline = base_now_mono_ms() + 60000;
	struct kube_status st;
	json_t *o = configmap(ns, name, "k", "v");

	for (;;) {
		int rc = kube_create(c, &kube_res_configmaps, ns, o, NULL, &st);

		if (rc == 0 || rc == BASE_EEXIST)
			break;
		ck_assert_msg(base_now_mono_ms() < deadline, "create %s: %s", name, st.message);
		base_sleep_ms(200);
	}
	json_decref(o);
}

/*
 * Creates ConfigMap `listed`, starts a reflector into s, and once it has
 * synced creates `watched` and waits for the watch to bring it.
 */
static struct kube_reflector *start_listed_then_watched(struct kube_client *c, struct kube_store *s,
							const struct kube_reflector_opts *ro,
							const char *ns, const char *listed,
							const char *watched)
{
	struct kube_reflector *r;
	char *k;

	create_cm_retry(c, ns, listed);
	ck_assert_int_eq(kube_reflector_start(c, s, ro, &r), 0);
	ck_assert_int_eq(kube_reflector_wait_synced(r, 30000), 0);
	create_cm_retry(c, ns, watched);
	k = xasprintf("%s/%s", ns, watched);
	await_key(s, k, 1, 30000);
	free(k);
	return r;
}

/* The store must equal a fresh list of the namespace. */
static void assert_store_matches_server(struct kube_client *c, struct kube_store *s, const char *ns)
{
	struct kube_status st;
	json_t *all, *v;
	size_t i;

	ck_assert_int_eq(kube_list_all(c, &kube_res_configmaps, ns, NULL, &all, &st), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(all, "items")), kube_store_len(s));
	json_array_foreach(json_object_get(all, "items"), i, v)
	{
		char *k = kube_object_key(v);
		json_t *mine = kube_store_get(s, k);

		ck_assert_msg(mine != NULL, "store lacks %s", k);
		ck_assert_str_eq(rv_of(mine), rv_of(v));
		json_decref(mine);
		free(k);
	}
	json_decref(all);
}

START_TEST(watch_survives_an_apiserver_restart)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-restart"), *k, *log;
	struct kube_store *s = kube_store_new();
	struct tally t;
	struct kube_handlers h = {t_add, t_update, t_delete, &t};
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = ns};
	struct kube_reflector *r;
	struct kube_reflector_stats rs;

	tally_init(&t);
	kube_store_add_handlers(s, &h);
	r = start_listed_then_watched(c, s, &ro, ns, "before", "during");

	testenv("restart-apiserver");
	create_cm_retry(c, ns, "after");
	k = xasprintf("%s/after", ns);
	await_key(s, k, 1, 60000);
	free(k);
	kube_reflector_stats(r, &rs);
	ck_assert_uint_ge(rs.watches, 2);
	assert_store_matches_server(c, s, ns);
	/* Every object was announced exactly once: no loss, no duplicate adds. */
	for (int i = 0; i < 3; i++) {
		static const char *const names[] = {"before", "during", "after"};

		k = xasprintf("%s/%s", ns, names[i]);
		log = tally_get(&t, k);
		ck_assert_msg(!strcmp(log, "a"), "%s saw \"%s\"", k, log);
		free(log);
		free(k);
	}
	kube_reflector_free(r);
	kube_store_free(s);
	json_decref(t.by_key);
	free(ns);
	kube_client_free(c);
}
END_TEST

START_TEST(gone_after_compaction_relists_without_loss_or_duplicates)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-gone"), *k, *log;
	struct kube_store *s = kube_store_new();
	struct tally t;
	struct kube_handlers h = {t_add, t_update, t_delete, &t};
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = ns};
	struct kube_reflector *r;
	struct kube_reflector_stats rs;
	struct kube_status st;
	struct kube_patch_opts merge = {KUBE_PATCH_MERGE, NULL, 0, NULL};
	json_t *patch;
	int64_t deadline;

	tally_init(&t);
	t.gate_name = "gate";
	kube_store_add_handlers(s, &h);
	create_cm_retry(c, ns, "keep");
	create_cm_retry(c, ns, "change");
	create_cm_retry(c, ns, "remove");
	ck_assert_int_eq(kube_reflector_start(c, s, &ro, &r), 0);
	ck_assert_int_eq(kube_reflector_wait_synced(r, 30000), 0);

	/* Stall the reflector inside a handler, so it misses what follows. */
	create_cm_retry(c, ns, "gate");
	pthread_mutex_lock(&t.mu);
	while (!t.gate_blocked)
		pthread_cond_wait(&t.cond, &t.mu);
	pthread_mutex_unlock(&t.mu);
	/* Its watch connection dies and the watch cache restarts past its RV... */
	testenv("restart-apiserver");
	/* ...the world changes while it is away... */
	patch = json_pack("{s:{s:s}}", "data", "k", "changed");
	for (deadline = base_now_mono_ms() + 60000;
	     kube_patch(c, &kube_res_configmaps, ns, "change", &merge, patch, NULL, &st) != 0;)
		ck_assert(base_now_mono_ms() < deadline);
	json_decref(patch);
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, ns, "remove", NULL, &st), 0);
	create_cm_retry(c, ns, "new");
	/* ...and etcd forgets the history. */
	testenv("compact");
	pthread_mutex_lock(&t.mu);
	t.gate_open = 1;
	pthread_cond_broadcast(&t.cond);
	pthread_mutex_unlock(&t.mu);

	k = xasprintf("%s/new", ns);
	await_key(s, k, 1, 60000);
	free(k);
	k = xasprintf("%s/remove", ns);
	await_key(s, k, 0, 60000);
	free(k);
	kube_reflector_stats(r, &rs);
	ck_assert_uint_ge(rs.gone, 1);
	ck_assert_uint_ge(rs.lists, 2);
	assert_store_matches_server(c, s, ns);
	{
		static const char *const names[] = {"keep", "change", "remove", "gate", "new"};
		static const char *const want[] = {"a", "au", "ad", "a", "a"};

		for (int i = 0; i < 5; i++) {
			k = xasprintf("%s/%s", ns, names[i]);
			log = tally_get(&t, k);
			ck_assert_msg(!strcmp(log, want[i]), "%s saw \"%s\", want \"%s\"", k, log,
				      want[i]);
			free(log);
			free(k);
		}
	}
	kube_reflector_free(r);
	kube_store_free(s);
	json_decref(t.by_key);
	free(ns);
	kube_client_free(c);
}
END_TEST

/*
 * A store that strips managedFields and the last-applied annotation (what the
 * controller runs with) holds objects without them, from the list and from
 * the watch, with their other annotations; an update made from such a copy
 * keeps the server's managed fields.
 */
START_TEST(stripped_store_drops_managed_fields_and_updates_keep_the_servers)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-strip"), *k;
	struct kube_store *s = kube_store_new();
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps,
					 .ns = ns,
					 .strip_managed_fields = 1,
					 .strip_last_applied = 1};
	struct kube_reflector *r;
	struct kube_status st;
	json_t *o, *ann, *server = NULL;

	r = start_listed_then_watched(c, s, &ro, ns, "listed", "watched");
	for (int i = 0; i < 2; i++) {
		k = xasprintf("%s/%s", ns, i ? "watched" : "listed");
		o = kube_store_get(s, k);
		ck_assert_ptr_nonnull(o);
		ck_assert_ptr_null(
			json_object_get(json_object_get(o, "metadata"), "managedFields"));
		ann = json_object_get(json_object_get(o, "metadata"), "annotations");
		ck_assert_ptr_null(json_object_get(ann, KUBE_LAST_APPLIED_ANNOTATION));
		ck_assert_str_eq(json_string_value(json_object_get(ann, "example.com/kept")),
				 "yes");
		ck_assert_str_eq(
			json_string_value(json_object_get(json_object_get(o, "data"), "k")), "v");
		free(k);
		if (i == 0) {
			json_object_set_new(json_object_get(o, "data"), "k",
					    json_string("updated"));
			ck_assert_int_eq(kube_update(c, &kube_res_configmaps, ns, "listed", NULL, o,
						     &server, &st),
					 0);
		}
		json_decref(o);
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(server, "data"), "k")),
			 "updated");
	ck_assert_int_gt(json_array_size(json_object_get(json_object_get(server, "metadata"),
							 "managedFields")),
			 0);
	json_decref(server);
	kube_reflector_free(r);
	kube_store_free(s);
	free(ns);
	kube_client_free(c);
}
END_TEST

START_TEST(service_account_is_forbidden_what_it_was_not_granted)
{
	struct kube_client *c = client_from(state_str("controller_kubeconfig"));
	struct kube_status st;
	json_t *review, *out = NULL, *crb;

	/* Authenticated as the ServiceAccount (token from the kubeconfig). */
	review = json_pack("{s:s, s:s}", "apiVersion", "authentication.k8s.io/v1", "kind",
			   "SelfSubjectReview");
	ck_assert_msg(kube_request(c, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
				   NULL, review, &out, &st) == 0,
		      "%s", st.message);
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_object_get(out, "status"), "userInfo"), "username")),
		"system:serviceaccount:globaldb-system:globaldb-controller");
	json_decref(out);
	json_decref(review);

	/* A controller is never granted cluster-admin powers. */
	crb = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}", "apiVersion",
			"rbac.authorization.k8s.io/v1", "kind", "ClusterRoleBinding", "metadata",
			"name", "kube-it-escalation", "roleRef", "apiGroup",
			"rbac.authorization.k8s.io", "kind", "ClusterRole", "name", "cluster-admin",
			"subjects", "kind", "ServiceAccount", "name", "globaldb-controller",
			"namespace", "globaldb-system");
	ck_assert_int_eq(kube_request(c, "POST",
				      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
				      NULL, crb, NULL, &st),
			 BASE_EFORBIDDEN);
	ck_assert_int_eq(st.code, 403);
	ck_assert_str_eq(st.reason, "Forbidden");
	ck_assert_ptr_nonnull(strstr(st.message, "globaldb-controller"));
	json_decref(crb);
	ck_assert_int_eq(kube_get(c, &kube_res_namespaces, NULL, "kube-system", &out, &st),
			 BASE_EFORBIDDEN);
	kube_client_free(c);
}
END_TEST

START_TEST(events_are_created_aggregated_and_spam_limited)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-events");
	struct kube_recorder_opts ro = {.reporting_controller = "test.globaldb.io/kube-it",
					.reporting_instance = "kube-it-0",
					.spam_burst = 6};
	struct kube_recorder *rec;
	struct kube_recorder_stats rs;
	struct kube_status st;
	json_t *cm = configmap(ns, "subject", "k", "v"), *obj, *list, *e;
	int found_series = 0, found_single = 0;
	size_t i;

	ck_assert_int_eq(kube_create(c, &kube_res_configmaps, ns, cm, &obj, &st), 0);
	json_decref(cm);
	ck_assert_int_eq(kube_recorder_new(c, &ro, &rec), 0);
	for (int j = 0; j < 3; j++)
		ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "ProbeFailed", "Probe",
						     "primary %s unreachable", "us-east-1"),
				 0);
	ck_assert_int_eq(kube_recorder_flush(rec, 30000), 0);
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Normal", "SwitchoverStarted", "Switchover",
					     "to %s", "us-west-2"),
			 0);
	/* Burst of 6 per object: 4 used, 2 left, the rest is dropped without blocking. */
	for (int j = 0; j < 5; j++)
		kube_recorder_event(rec, obj, "Normal", "Spam", "Spam", "message %d", j);
	ck_assert_int_eq(kube_recorder_flush(rec, 30000), 0);
	kube_recorder_stats(rec, &rs);
	ck_assert_uint_eq(rs.dropped_spam, 3);
	ck_assert_uint_eq(rs.created, 4); /* ProbeFailed, SwitchoverStarted, Spam x2 */
	ck_assert_uint_eq(rs.series, 2);
	ck_assert_uint_eq(rs.failed, 0);
	kube_recorder_free(rec);

	ck_assert_int_eq(kube_list_all(c, &kube_res_events, ns, NULL, &list, &st), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 4);
	json_array_foreach(json_object_get(list, "items"), i, e)
	{
		const char *reason = json_string_value(json_object_get(e, "reason"));

		ck_assert_str_eq(
			json_string_value(json_object_get(json_object_get(e, "regarding"), "name")),
			"subject");
		ck_assert_str_eq(json_string_value(json_object_get(e, "reportingController")),
				 "test.globaldb.io/kube-it");
		if (!strcmp(reason, "ProbeFailed")) {
			ck_assert_int_eq(json_integer_value(json_object_get(
						 json_object_get(e, "series"), "count")),
					 3);
			ck_assert_str_eq(json_string_value(json_object_get(e, "note")),
					 "primary us-east-1 unreachable");
			found_series = 1;
		} else if (!strcmp(reason, "SwitchoverStarted")) {
			ck_assert_ptr_null(json_object_get(e, "series"));
			found_single = 1;
		}
	}
	ck_assert(found_series && found_single);
	json_decref(list);
	json_decref(obj);
	free(ns);
	kube_client_free(c);
}
END_TEST

/* A running contender process and what it printed. */
struct contender {
	pid_t pid;
	int fd;
	char buf[4096];
	size_t len;
	json_t *lines; /* [[ms, "word", "arg"], ...] */
};

static void contender_start(struct contender *p, const char *ns, const char *identity)
{
	const char *bindir = getenv("GDB_BINARY_DIR");
	char *prog = xasprintf("%s/tests/kube/kube_lease_contender", bindir);
	char *argv[] = {prog,
			(char *)state_str("kubeconfig"),
			(char *)ns,
			"kube-it-lease",
			(char *)identity,
			"6000",
			"4000",
			"1000",
			NULL};
	posix_spawn_file_actions_t fa;
	int pfd[2];

	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	ck_assert_int_eq(posix_spawn(&p->pid, prog, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	p->fd = pfd[0];
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	p->lines = json_array();
	free(prog);
}

static void contender_pump(struct contender *p)
{
	ssize_t r;
	char *nl;

	while ((r = read(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len)) > 0) {
		p->len += (size_t)r;
		p->buf[p->len] = '\0';
		while ((nl = strchr(p->buf, '\n'))) {
			long long ms;
			char word[32] = "", arg[128] = "";

			*nl = '\0';
			if (sscanf(p->buf, "%lld %31s %127s", &ms, word, arg) >= 2)
				json_array_append_new(
					p->lines, json_pack("[Iss]", (json_int_t)ms, word, arg));
			p->len -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->len + 1);
		}
	}
}

/* The time of the first line with word, or -1. */
static int64_t contender_when(struct contender *p, const char *word)
{
	size_t i;
	json_t *l;

	contender_pump(p);
	json_array_foreach(p->lines, i, l)
	{
		if (!strcmp(json_string_value(json_array_get(l, 1)), word))
			return json_integer_value(json_array_get(l, 0));
	}
	return -1;
}

static int64_t await_word(struct contender *p, const char *word, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms, t;

	while ((t = contender_when(p, word)) < 0) {
		if (base_now_mono_ms() >= deadline)
			return -1;
		base_sleep_ms(10);
	}
	return t;
}

static int contender_wait(struct contender *p)
{
	int status;

	waitpid(p->pid, &status, 0);
	contender_pump(p);
	close(p->fd);
	return status;
}

START_TEST(lease_has_one_leader_and_fails_over_after_sigkill)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-lease");
	struct contender a, b, d;
	int64_t a_start, b_start, killed, b_stop, d_start, takeover, handover;
	int status;
	json_t *lease;
	struct kube_status st;

	contender_start(&a, ns, "alpha");
	a_start = await_word(&a, "started", 20000);
	ck_assert_int_ge(a_start, 0);
	contender_start(&b, ns, "beta");
	/* beta sees alpha as leader and stays a candidate while alpha renews. */
	ck_assert_int_ge(await_word(&b, "running", 10000), 0);
	ck_assert_int_eq(await_word(&b, "started", 8000), -1);

	kill(a.pid, SIGKILL);
	killed = base_now_mono_ms();
	contender_wait(&a);
	b_start = await_word(&b, "started", 30000);
	ck_assert_int_ge(b_start, 0);
	takeover = b_start - killed;
	/* Never two leaders: beta started only after alpha was dead... */
	ck_assert_int_gt(b_start, killed);
	/*
	 * ...and within lease (6 s) + one jittered retry period (1.2 s: the
	 * candidate may see the last renew that late) + request time.
	 */
	ck_assert_int_le(takeover, 6000 + 1200 + 1000);
	printf("lease takeover after SIGKILL: %lld ms (lease 6000 ms, retry 1000 ms)\n",
	       (long long)takeover);

	/* A graceful stop releases the lease: the next candidate does not wait for expiry. */
	contender_start(&d, ns, "delta");
	ck_assert_int_ge(await_word(&d, "running", 10000), 0);
	ck_assert_int_ge(await_word(&d, "leader", 10000), 0);
	kill(b.pid, SIGTERM);
	status = contender_wait(&b);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	b_stop = contender_when(&b, "stopped");
	ck_assert_int_ge(b_stop, 0);
	d_start = await_word(&d, "started", 20000);
	ck_assert_int_ge(d_start, 0);
	ck_assert_int_gt(d_start, b_stop);
	handover = d_start - b_stop;
	ck_assert_int_le(handover, 2 * 1200 + 1000);
	printf("lease handover after release: %lld ms\n", (long long)handover);
	ck_assert_int_eq(contender_when(&d, "lost"), -1);
	ck_assert_int_eq(contender_when(&b, "lost"), -1);

	ck_assert_int_eq(kube_get(c, &kube_res_leases, ns, "kube-it-lease", &lease, &st), 0);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_object_get(lease, "spec"), "holderIdentity")),
			 "delta");
	ck_assert_int_ge(json_integer_value(json_object_get(json_object_get(lease, "spec"),
							    "leaseTransitions")),
			 2);
	json_decref(lease);
	kill(d.pid, SIGTERM);
	contender_wait(&d);
	ck_assert_int_eq(kube_get(c, &kube_res_leases, ns, "kube-it-lease", &lease, &st), 0);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_object_get(lease, "spec"), "holderIdentity")),
			 "");
	json_decref(lease);
	json_decref(a.lines);
	json_decref(b.lines);
	json_decref(d.lines);
	free(ns);
	kube_client_free(c);
}
END_TEST

START_TEST(lease_contended_from_the_start_has_exactly_one_leader)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-lease3");
	static const char *const ids[] = {"one", "two", "three"};
	struct contender p[3];
	int64_t deadline = base_now_mono_ms() + 20000;
	int leaders = 0;

	/* All three race to create the Lease. */
	for (int i = 0; i < 3; i++)
		contender_start(&p[i], ns, ids[i]);
	while (leaders == 0) {
		for (int i = 0; i < 3; i++)
			leaders += contender_when(&p[i], "started") >= 0;
		ck_assert_msg(base_now_mono_ms() < deadline, "nobody became leader");
		base_sleep_ms(20);
	}
	/* Longer than a lease duration: the others must stay candidates. */
	base_sleep_ms(8000);
	leaders = 0;
	for (int i = 0; i < 3; i++) {
		leaders += contender_when(&p[i], "started") >= 0;
		ck_assert_int_eq(contender_when(&p[i], "lost"), -1);
	}
	ck_assert_int_eq(leaders, 1);
	for (int i = 0; i < 3; i++) {
		int status;

		kill(p[i].pid, SIGTERM);
		status = contender_wait(&p[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		json_decref(p[i].lines);
	}
	free(ns);
	kube_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_integration");
	TCase *tc = tcase_create("apiserver");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, load_state, NULL);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, configmap_crud_pagination_and_every_patch_kind);
	tcase_add_test(tc, custom_resource_crud_status_subresource_and_conflict_retry);
	tcase_add_test(tc, service_account_is_forbidden_what_it_was_not_granted);
	tcase_add_test(tc, events_are_created_aggregated_and_spam_limited);
	tcase_add_test(tc, lease_has_one_leader_and_fails_over_after_sigkill);
	tcase_add_test(tc, lease_contended_from_the_start_has_exactly_one_leader);
	tcase_add_test(tc, watch_survives_an_apiserver_restart);
	tcase_add_test(tc, gone_after_compaction_relists_without_loss_or_duplicates);
	tcase_add_test(tc, stripped_store_drops_managed_fields_and_updates_keep_the_servers);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
