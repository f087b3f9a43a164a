/*
 * pkg/kube/rest: REST paths: core group, named groups and subresources; names that would change the
 * URL are refused before any request.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

START_TEST(rest_paths_for_core_group_and_subresources)
{
	static const struct kube_resource widgets = {"test.globaldb.io", "v1", "widgets", 1};
	char *p;

	p = kube_path(&kube_res_configmaps, "ns", "cm", NULL);
	ck_assert_str_eq(p, "/api/v1/namespaces/ns/configmaps/cm");
	free(p);
	p = kube_path(&widgets, "ns", "w", "status");
	ck_assert_str_eq(p, "/apis/test.globaldb.io/v1/namespaces/ns/widgets/w/status");
	free(p);
	p = kube_path(&kube_res_namespaces, "ignored", "ns1", NULL);
	ck_assert_str_eq(p, "/api/v1/namespaces/ns1");
	free(p);
	p = kube_path(&widgets, NULL, NULL, NULL);
	ck_assert_str_eq(p, "/apis/test.globaldb.io/v1/widgets");
	free(p);
}
END_TEST

START_TEST(rest_refuses_names_that_would_change_the_url)
{
	struct kube_config *cfg;
	struct kube_client *c;
	struct kube_status st;
	char *msg = NULL;
	const char *kc = "current-context: t\n"
			 "contexts: [{name: t, context: {cluster: t}}]\n"
			 "clusters: [{name: t, cluster: {server: 'http://127.0.0.1:9'}}]\n";
	json_t *out = NULL;

	ck_assert_int_eq(
		kube_config_load_kubeconfig_data(kc, strlen(kc), "t", NULL, NULL, &cfg, &msg), 0);
	ck_assert_int_eq(kube_client_new(cfg, NULL, &c), 0);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "../secrets/x", &out, &st),
			 BASE_EINVAL);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "a?watch=1", &out, &st),
			 BASE_EINVAL);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "..", "a", &out, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_list(c, &kube_res_configmaps, "a/b", NULL, &out, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_delete(c, &kube_res_configmaps, "ns", "", NULL, &st), BASE_EINVAL);
	ck_assert_ptr_null(out);
	kube_client_free(c);
}
END_TEST

GDB_CHECK_MAIN("kube_rest", 20, rest_paths_for_core_group_and_subresources,
	       rest_refuses_names_that_would_change_the_url)
