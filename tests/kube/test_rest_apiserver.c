/*
 * pkg/kube/rest against the real apiserver: ConfigMap CRUD with pagination and every
 * patch kind, a custom resource with its status subresource and conflict retries, and
 * what a ServiceAccount was not granted is Forbidden.
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

#include "tests/check_main.h"
#include "tests/kube/kube_env.h"

static const struct kube_resource widgets = {"test.globaldb.io", "v1", "widgets", 1};

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
	/* Reading one Namespace is granted (the restart opt-in); CRDs are not. */
	ck_assert_int_eq(kube_get(c, &kube_res_namespaces, NULL, "kube-system", &out, &st), 0);
	json_decref(out);
	out = NULL;
	ck_assert_int_eq(
		kube_get(c, &kube_res_crds, NULL, "globaldatabases.globaldb.io", &out, &st),
		BASE_EFORBIDDEN);
	kube_client_free(c);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("kube_rest_apiserver", 180, load_state, NULL,
		       configmap_crud_pagination_and_every_patch_kind,
		       custom_resource_crud_status_subresource_and_conflict_retry,
		       service_account_is_forbidden_what_it_was_not_granted)
