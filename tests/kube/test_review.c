/*
 * pkg/kube/review.c against the shared real kube-apiserver: TokenReview and
 * SubjectAccessReview decide, the cache answers again without asking (a
 * binding made after a denial does not count until the denial expires), bad
 * tokens are refused without a call, and a reviewer without the right to ask
 * says why.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"
#include "pkg/kube/review.h"

static const struct kube_resource serviceaccounts = {"", "v1", "serviceaccounts", 1};
static const struct kube_resource clusterroles = {"rbac.authorization.k8s.io", "v1", "clusterroles",
						  0};
static const struct kube_resource clusterrolebindings = {"rbac.authorization.k8s.io", "v1",
							 "clusterrolebindings", 0};

static json_t *state;

static struct kube_client *client_from(const char *key)
{
	const char *path = json_string_value(json_object_get(state, key));
	struct kube_config *cfg;
	struct kube_client *c;
	char *msg = NULL;

	ck_assert_msg(path != NULL, "testenv state has no %s", key);
	ck_assert_msg(kube_config_load_kubeconfig(path, NULL, &cfg, &msg) == 0, "%s", msg);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c), 0);
	return c;
}

static void create(struct kube_client *c, const struct kube_resource *res, const char *ns,
		   json_t *obj)
{
	struct kube_status st;

	ck_assert_msg(kube_create(c, res, ns, obj, NULL, &st) == 0, "%s", st.message);
	json_decref(obj);
}

/* A fresh namespace with a ServiceAccount "reader"; returns a token for it (caller frees). */
static char *reader_token(struct kube_client *c, char **ns_out)
{
	char *ns = xasprintf("review-%llx", (unsigned long long)(base_rand64() & 0xffffffff));
	char *path = xasprintf("/api/v1/namespaces/%s/serviceaccounts/reader/token", ns);
	json_t *req, *out = NULL;
	struct kube_status st;
	char *token;

	create(c, &kube_res_namespaces, NULL,
	       json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
			 "name", ns));
	create(c, &serviceaccounts, ns,
	       json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
			 "metadata", "name", "reader"));
	req = json_pack("{s:s, s:s, s:{s:i}}", "apiVersion", "authentication.k8s.io/v1", "kind",
			"TokenRequest", "spec", "expirationSeconds", 600);
	ck_assert_msg(kube_request(c, "POST", path, NULL, req, &out, &st) == 0, "%s", st.message);
	token = xstrdup(
		json_string_value(json_object_get(json_object_get(out, "status"), "token")));
	json_decref(req);
	json_decref(out);
	free(path);
	*ns_out = ns;
	return token;
}

/* Grants ns:reader get on /metrics; returns the binding's name (caller frees). */
static char *grant(struct kube_client *c, const char *ns)
{
	char *name = xasprintf("%s-metrics", ns);

	create(c, &clusterroles, NULL,
	       json_pack("{s:s, s:s, s:{s:s}, s:[{s:[s], s:[s]}]}", "apiVersion",
			 "rbac.authorization.k8s.io/v1", "kind", "ClusterRole", "metadata", "name",
			 name, "rules", "nonResourceURLs", "/metrics", "verbs", "get"));
	create(c, &clusterrolebindings, NULL,
	       json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s}]}",
			 "apiVersion", "rbac.authorization.k8s.io/v1", "kind", "ClusterRoleBinding",
			 "metadata", "name", name, "roleRef", "apiGroup",
			 "rbac.authorization.k8s.io", "kind", "ClusterRole", "name", name,
			 "subjects", "kind", "ServiceAccount", "name", "reader", "namespace", ns));
	return name;
}

START_TEST(tokens_are_reviewed_and_decisions_cached)
{
	struct kube_client *c = client_from("kubeconfig");
	struct kube_reviewer *first = kube_reviewer_new(c, "/metrics", "get"), *fresh;
	char user[256], *ns, *token = reader_token(c, &ns), *want, *binding;
	struct kube_status st;
	int64_t deadline;
	int rc;

	ck_assert_int_eq(kube_review(first, NULL, user, sizeof(user)), KUBE_REVIEW_UNAUTHENTICATED);
	ck_assert_int_eq(kube_review(first, "", user, sizeof(user)), KUBE_REVIEW_UNAUTHENTICATED);
	ck_assert_int_eq(kube_review(first, "not-a-token", user, sizeof(user)),
			 KUBE_REVIEW_UNAUTHENTICATED);
	ck_assert_int_eq(kube_review(first, "\xff\xfe", user, sizeof(user)),
			 KUBE_REVIEW_UNAUTHENTICATED);

	want = xasprintf("system:serviceaccount:%s:reader", ns);
	ck_assert_int_eq(kube_review(first, token, user, sizeof(user)), KUBE_REVIEW_DENIED);
	ck_assert_str_eq(user, want);

	binding = grant(c, ns);
	/* A fresh reviewer asks, and is allowed once the apiserver's RBAC has the binding. */
	deadline = base_now_mono_ms() + 30000;
	do {
		fresh = kube_reviewer_new(c, "/metrics", "get");
		rc = kube_review(fresh, token, user, sizeof(user));
		kube_reviewer_free(fresh);
	} while (rc != KUBE_REVIEW_ALLOWED && base_now_mono_ms() < deadline);
	ck_assert_int_eq(rc, KUBE_REVIEW_ALLOWED);
	ck_assert_str_eq(user, want);
	/* The first still answers from its cache: denied for KUBE_REVIEW_DENY_TTL_MS. */
	ck_assert_int_eq(kube_review(first, token, user, sizeof(user)), KUBE_REVIEW_DENIED);
	ck_assert_str_eq(user, want);

	ck_assert_int_eq(kube_delete(c, &clusterrolebindings, NULL, binding, NULL, &st), 0);
	ck_assert_int_eq(kube_delete(c, &clusterroles, NULL, binding, NULL, &st), 0);
	ck_assert_int_eq(kube_delete(c, &kube_res_namespaces, NULL, ns, NULL, &st), 0);
	kube_reviewer_free(first);
	kube_client_free(c);
	free(want);
	free(binding);
	free(token);
	free(ns);
}
END_TEST

START_TEST(oversized_tokens_are_refused_without_asking)
{
	struct kube_client *c = client_from("kubeconfig");
	struct kube_reviewer *r = kube_reviewer_new(c, "/metrics", "get");
	char user[64], *big = xmalloc(KUBE_REVIEW_MAX_TOKEN + 2);

	memset(big, 'a', KUBE_REVIEW_MAX_TOKEN + 1);
	big[KUBE_REVIEW_MAX_TOKEN + 1] = '\0';
	ck_assert_int_eq(kube_review(r, big, user, sizeof(user)), KUBE_REVIEW_UNAUTHENTICATED);
	ck_assert_str_eq(user, "");
	free(big);
	kube_reviewer_free(r);
	kube_client_free(c);
}
END_TEST

START_TEST(a_reviewer_without_the_right_to_ask_says_why)
{
	/* The controller's ServiceAccount as manifests/rbac grants it: no tokenreviews. */
	struct kube_client *c = client_from("controller_kubeconfig");
	struct kube_reviewer *r = kube_reviewer_new(c, "/metrics", "get");
	char why[512];
	int rc = kube_review(r, "some-token", why, sizeof(why));

	ck_assert_int_eq(rc, BASE_EFORBIDDEN);
	ck_assert_msg(strstr(why, "TokenReview") && strstr(why, "tokenreviews"), "%s", why);
	/* A failure is not cached: the next call asks (and fails) again. */
	ck_assert_int_eq(kube_review(r, "some-token", why, sizeof(why)), BASE_EFORBIDDEN);
	kube_reviewer_free(r);
	kube_client_free(c);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("kube_review");
	TCase *tc = tcase_create("review");
	const char *path = getenv("GDB_TESTENV_STATE");
	json_error_t err;
	SRunner *sr;
	int failed;

	if (!path || !(state = json_load_file(path, 0, &err))) {
		fprintf(stderr, "GDB_TESTENV_STATE does not name a test environment\n");
		return EXIT_FAILURE;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tokens_are_reviewed_and_decisions_cached);
	tcase_add_test(tc, oversized_tokens_are_refused_without_asking);
	tcase_add_test(tc, a_reviewer_without_the_right_to_ask_says_why);
	suite_add_tcase(suite, tc);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	json_decref(state);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
