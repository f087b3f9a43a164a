/*
 * Unit tests for pkg/globaldb/allow.h: what a GlobalDatabase may name. Every
 * list denies by default; each rule refuses with its own reason and names
 * the flag to change; "*", prefixes, {namespace} and SSM paths match as the
 * header says; workloads in other namespaces need the target's opt-in; bad
 * flag values are refused.
 */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/globaldb/allow.h"

/* A spec that names one of everything the allowlists govern. */
static const char *full =
	"{\"globalClusterIdentifier\":\"orders-global\",\"primaryRegion\":\"us-east-1\","
	"\"regions\":[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"},"
	"{\"name\":\"us-west-2\",\"dbClusterIdentifier\":\"orders-west\","
	"\"probeEndpoint\":{\"host\":\"Proxy.Internal\"}}],"
	"\"healthCheck\":{\"awsSecretsManagerSecretId\":\"globaldb/a/probe\"},"
	"\"dns\":{\"hostedZoneId\":\"/hostedzone/Z0123456789ABC\","
	"\"writerRecordName\":\"writer.orders.example.com\"},"
	"\"ssm\":{\"parameterPrefix\":\"/globaldb/a/orders\"},"
	"\"workloads\":{\"deployments\":[{\"namespace\":\"a\",\"name\":\"api\"}],"
	"\"statefulSets\":[{\"namespace\":\"shared\",\"name\":\"cache\"}],"
	"\"ecsServices\":[{\"region\":\"us-west-2\",\"cluster\":\"shop\",\"service\":\"w\"}]}}";

static void decode(const char *text, struct gdb_spec *spec)
{
	char err[GDB_ERRLEN];
	json_t *j = json_loads(text, 0, NULL);

	ck_assert_ptr_nonnull(j);
	ck_assert_msg(gdb_spec_decode(j, spec, err, sizeof(err)) == 0, "%s", err);
	json_decref(j);
}

/* A policy that allows everything in `full` for namespace a. */
static void permit_all(struct gdb_allow *a)
{
	char err[256];

	ck_assert_int_eq(gdb_allow_set(a, GDB_ALLOW_SECRETS, "globaldb/{namespace}/*", err, 256),
			 0);
	ck_assert_int_eq(gdb_allow_set(a, GDB_ALLOW_PROBE_HOSTS, "proxy.internal", err, 256), 0);
	ck_assert_int_eq(gdb_allow_set(a, GDB_ALLOW_ROUTE53_ZONES, "Z0123456789ABC", err, 256), 0);
	ck_assert_int_eq(
		gdb_allow_set(a, GDB_ALLOW_SSM_PREFIXES, "/globaldb/{namespace}", err, 256), 0);
	ck_assert_int_eq(gdb_allow_set(a, GDB_ALLOW_ECS_CLUSTERS, "other, shop", err, 256), 0);
}

static const struct gdb_ns_optin shared_allows_a[] = {{"shared", "b, a"}};

START_TEST(an_empty_policy_refuses_every_kind_in_order)
{
	struct gdb_allow a = {0};
	struct gdb_spec s;
	char msg[GDB_ERRLEN];
	const char *r;

	decode(full, &s);
	r = gdb_allow_check(NULL, "a", &s, shared_allows_a, 1, msg, sizeof(msg));
	ck_assert_str_eq(r, "SecretNotAllowed");
	ck_assert_ptr_nonnull(strstr(msg, "--allowed-secrets"));
	ck_assert_ptr_nonnull(strstr(msg, "spec.healthCheck.awsSecretsManagerSecretId"));

	/* Allow each in turn: the next rule refuses, naming its own flag. */
	permit_all(&a);
	gdb_allow_set(&a, GDB_ALLOW_PROBE_HOSTS, "", msg, sizeof(msg));
	r = gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg));
	ck_assert_str_eq(r, "ProbeEndpointNotAllowed");
	ck_assert_ptr_nonnull(strstr(msg, "spec.regions[1].probeEndpoint.host"));
	ck_assert_ptr_nonnull(strstr(msg, "--allowed-probe-hosts"));

	permit_all(&a);
	gdb_allow_set(&a, GDB_ALLOW_ROUTE53_ZONES, "", msg, sizeof(msg));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)),
			 "Route53ZoneNotAllowed");
	permit_all(&a);
	gdb_allow_set(&a, GDB_ALLOW_SSM_PREFIXES, "", msg, sizeof(msg));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)),
			 "SsmPrefixNotAllowed");
	permit_all(&a);
	gdb_allow_set(&a, GDB_ALLOW_ECS_CLUSTERS, "", msg, sizeof(msg));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)),
			 "EcsClusterNotAllowed");
	ck_assert_ptr_nonnull(strstr(msg, "spec.workloads.ecsServices[0].cluster"));

	permit_all(&a);
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)));
	gdb_allow_release(&a);
	gdb_spec_release(&s);
}
END_TEST

START_TEST(namespace_placeholder_keeps_each_tenant_to_its_own)
{
	struct gdb_allow a = {0};
	struct gdb_spec s;
	char msg[GDB_ERRLEN];
	static const struct gdb_ns_optin shared_allows_b[] = {{"shared", "b"}};

	decode(full, &s);
	permit_all(&a);
	/* The same spec from namespace b names a's secret: refused. */
	ck_assert_str_eq(gdb_allow_check(&a, "b", &s, shared_allows_b, 1, msg, sizeof(msg)),
			 "SecretNotAllowed");
	gdb_allow_release(&a);
	gdb_spec_release(&s);
}
END_TEST

START_TEST(matching_rules)
{
	struct gdb_allow a = {0};
	struct gdb_spec s;
	char msg[GDB_ERRLEN];

	decode(full, &s);
	permit_all(&a);
	/* SSM matches by path: /globaldb/a allows /globaldb/a/orders, /globaldb/a/ord does not. */
	gdb_allow_set(&a, GDB_ALLOW_SSM_PREFIXES, "/globaldb/a/ord", msg, sizeof(msg));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)),
			 "SsmPrefixNotAllowed");
	gdb_allow_set(&a, GDB_ALLOW_SSM_PREFIXES, "/globaldb/a/ord*", msg, sizeof(msg));
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)));
	gdb_allow_set(&a, GDB_ALLOW_SSM_PREFIXES, "/globaldb/", msg, sizeof(msg));
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)));
	/* A zone allowed as /hostedzone/Z… matches Z…; another zone does not. */
	gdb_allow_set(&a, GDB_ALLOW_ROUTE53_ZONES, "/hostedzone/Z0123456789ABC", msg, sizeof(msg));
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)));
	gdb_allow_set(&a, GDB_ALLOW_ROUTE53_ZONES, "Z0123456789AB", msg, sizeof(msg));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)),
			 "Route53ZoneNotAllowed");
	/* "*" allows anything; an exact secret id is not a prefix. */
	gdb_allow_set(&a, GDB_ALLOW_ROUTE53_ZONES, "*", msg, sizeof(msg));
	gdb_allow_set(&a, GDB_ALLOW_SECRETS, "globaldb/a/pro", msg, sizeof(msg));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)),
			 "SecretNotAllowed");
	gdb_allow_set(&a, GDB_ALLOW_SECRETS, "globaldb/a/probe", msg, sizeof(msg));
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)));
	gdb_allow_release(&a);
	gdb_spec_release(&s);
}
END_TEST

START_TEST(restarts_in_another_namespace_need_its_opt_in)
{
	struct gdb_allow a = {0};
	struct gdb_spec s;
	char msg[GDB_ERRLEN];
	const char *names[4];
	static const struct gdb_ns_optin none[] = {{"shared", NULL}};
	static const struct gdb_ns_optin others[] = {{"shared", "ab,b"}};
	static const struct gdb_ns_optin any[] = {{"shared", "*"}};

	decode(full, &s);
	permit_all(&a);
	ck_assert_uint_eq(gdb_allow_foreign_namespaces(&s, "a", names, 4), 1);
	ck_assert_str_eq(names[0], "shared");
	ck_assert_uint_eq(gdb_allow_foreign_namespaces(&s, "shared", names, 4), 1);
	ck_assert_str_eq(names[0], "a");

	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, NULL, 0, msg, sizeof(msg)),
			 "RestartNotAllowed");
	ck_assert_ptr_nonnull(strstr(msg, "spec.workloads.statefulSets[0]"));
	ck_assert_ptr_nonnull(strstr(msg, GDB_ANNOTATION_ALLOW_RESTARTS_FROM));
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, none, 1, msg, sizeof(msg)),
			 "RestartNotAllowed");
	ck_assert_str_eq(gdb_allow_check(&a, "a", &s, others, 1, msg, sizeof(msg)),
			 "RestartNotAllowed");
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, any, 1, msg, sizeof(msg)));
	ck_assert_ptr_null(gdb_allow_check(&a, "a", &s, shared_allows_a, 1, msg, sizeof(msg)));
	gdb_allow_release(&a);
	gdb_spec_release(&s);
}
END_TEST

START_TEST(bad_flag_values_are_refused)
{
	static const char *const bad[] = {"a,,b", "a,", ",a", "a b", "a*b", "*a", "a\tb"};
	struct gdb_allow a = {0};
	char err[256], big[GDB_ALLOW_MAX_ENTRY + 2];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(gdb_allow_set(&a, GDB_ALLOW_SECRETS, bad[i], err, sizeof(err)),
				 BASE_EINVAL);
		ck_assert_msg(err[0], "no reason for %s", bad[i]);
		ck_assert_uint_eq(a.n[GDB_ALLOW_SECRETS], 0);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(gdb_allow_set(&a, GDB_ALLOW_SECRETS, big, err, sizeof(err)), BASE_EINVAL);
	ck_assert_int_eq(gdb_allow_set(&a, GDB_ALLOW_SECRETS, " x , y* ", err, sizeof(err)), 0);
	ck_assert_uint_eq(a.n[GDB_ALLOW_SECRETS], 2);
	ck_assert_str_eq(a.entries[GDB_ALLOW_SECRETS][0], "x");
	ck_assert_str_eq(a.entries[GDB_ALLOW_SECRETS][1], "y*");
	ck_assert_int_eq(gdb_allow_set(&a, GDB_ALLOW_SECRETS, "", err, sizeof(err)), 0);
	ck_assert_uint_eq(a.n[GDB_ALLOW_SECRETS], 0);
	gdb_allow_release(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("allow");
	TCase *tc = tcase_create("allow");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, an_empty_policy_refuses_every_kind_in_order);
	tcase_add_test(tc, namespace_placeholder_keeps_each_tenant_to_its_own);
	tcase_add_test(tc, matching_rules);
	tcase_add_test(tc, restarts_in_another_namespace_need_its_opt_in);
	tcase_add_test(tc, bad_flag_values_are_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
