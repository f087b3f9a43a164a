/*
 * JSON <-> structs: defaults, error messages that name the field, hostile
 * input, and a status that survives encode/decode unchanged.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/globaldb/types.h"
#include "pkg/globaldb/validate.h"

static const char *minimal =
	"{\"globalClusterIdentifier\":\"orders-global\",\"primaryRegion\":\"us-east-1\","
	"\"regions\":[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"},"
	"{\"name\":\"us-west-2\",\"dbClusterIdentifier\":\"orders-west\"}],"
	"\"healthCheck\":{\"credentialsSecretRef\":{\"name\":\"probe\"}}}";

/* Decodes minimal with one member replaced (path is a top-level key, value JSON). */
static int decode_with(const char *key, const char *value, struct gdb_spec *spec, char *err)
{
	json_t *j = json_loads(minimal, 0, NULL);
	int rc;

	if (key) {
		json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

		ck_assert_ptr_nonnull(v);
		json_object_set_new(j, key, v);
	}
	rc = gdb_spec_decode(j, spec, err, GDB_ERRLEN);
	json_decref(j);
	return rc;
}

START_TEST(test_minimal_spec_gets_defaults)
{
	struct gdb_spec s;
	char err[GDB_ERRLEN];

	ck_assert_int_eq(decode_with(NULL, NULL, &s, err), 0);
	ck_assert_int_eq(gdb_spec_validate(&s, err, sizeof(err)), 0);
	ck_assert_int_eq(s.health_check.period_seconds, 5);
	ck_assert_int_eq(s.health_check.timeout_seconds, 3);
	ck_assert_int_eq(s.health_check.failure_threshold, 3);
	ck_assert_int_eq(s.health_check.success_threshold, 1);
	ck_assert_str_eq(s.health_check.database, "postgres");
	ck_assert_str_eq(s.health_check.ssl_mode, "require");
	ck_assert_int_eq(s.health_check.allow_insecure_password, 0);
	ck_assert_str_eq(s.health_check.username_key, "username");
	ck_assert_str_eq(s.health_check.password_key, "password");
	ck_assert_int_eq(s.failover.mode, GDB_MODE_AUTOMATIC);
	ck_assert_int_eq(s.failover.method, GDB_METHOD_AUTO);
	ck_assert_int_eq(s.failover.max_data_loss_seconds, 30);
	ck_assert_int_eq(s.failover.confirmation, GDB_CONFIRM_CONTROL_PLANE);
	ck_assert_int_eq(s.failover.in_region_grace_seconds, 120);
	ck_assert_int_eq(s.failover.cooldown_seconds, 900);
	ck_assert_int_eq(s.fallback_mode, GDB_MODE_AUTOMATIC);
	ck_assert_int_eq(s.deletion_policy, GDB_DELETION_RETAIN);
	ck_assert_int_eq(s.has_dns, 0);
	ck_assert_ptr_null(s.ssm_parameter_prefix);
	ck_assert_int_eq(s.regions[0].probe_port, 5432);
	gdb_spec_release(&s);
}
END_TEST

static const struct {
	const char *key, *value, *error;
} bad_specs[] = {
	{"regions", "[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"a\"},{\"name\":7}]",
	 "spec.regions[1].name: must be a string"},
	{"regions", "[1,2]", "spec.regions[0]: must be an object"},
	{"regions", "{}", "spec.regions: must be an array"},
	{"regions", "[{},{},{},{},{},{},{}]", "spec.regions: must have at most 6 items"},
	{"healthCheck", "null", "spec.healthCheck: required"},
	{"healthCheck", "[]", "spec.healthCheck: must be an object"},
	{"healthCheck", "{\"periodSeconds\":1.5}",
	 "spec.healthCheck.periodSeconds: must be an integer"},
	{"healthCheck", "{\"periodSeconds\":99999999999999}",
	 "spec.healthCheck.periodSeconds: must be between 1 and 300"},
	{"healthCheck", "{\"credentialsSecretRef\":{}}",
	 "spec.healthCheck.credentialsSecretRef.name: required"},
	{"failover", "{\"mode\":\"Sometimes\"}",
	 "spec.failover.mode: must be one of Automatic Manual"},
	{"failover", "{\"method\":3}", "spec.failover.method: must be a string"},
	{"fallback", "\"Manual\"", "spec.fallback: must be an object"},
	{"dns", "{\"hostedZoneId\":\"Z1\"}", "spec.dns.writerRecordName: required"},
	{"workloads", "{\"deployments\":[{\"namespace\":\"a\"}]}",
	 "spec.workloads.deployments[0].name: required"},
	{"workloads", "{\"ecsServices\":[\"x\"]}",
	 "spec.workloads.ecsServices[0]: must be an object"},
	{"ssm", "{\"parameterPrefix\":\"\"}", "spec.ssm.parameterPrefix: must not be empty"},
	{"deletionPolicy", "\"Orphan\"", "spec.deletionPolicy: must be one of Retain Delete"},
	{"globalClusterIdentifier", "\"a\\u0000b\"",
	 "spec.globalClusterIdentifier: must not contain NUL bytes"},
	{"primaryRegion", "null", "spec.primaryRegion: required"},
};

START_TEST(test_decode_errors_name_the_field)
{
	struct gdb_spec s;
	char err[GDB_ERRLEN];

	ck_assert_int_lt(decode_with(bad_specs[_i].key, bad_specs[_i].value, &s, err), 0);
	ck_assert_str_eq(err, bad_specs[_i].error);
	gdb_spec_release(&s);
}
END_TEST

START_TEST(test_hostile_sizes_are_refused)
{
	struct gdb_spec s;
	char err[GDB_ERRLEN];
	char *big = xmalloc(GDB_MAX_STRING + 16);
	char *json;

	memset(big, 'a', GDB_MAX_STRING + 8);
	big[GDB_MAX_STRING + 8] = '\0';
	json = xasprintf("\"%s\"", big);
	ck_assert_int_lt(decode_with("globalClusterIdentifier", json, &s, err), 0);
	ck_assert_str_eq(err, "spec.globalClusterIdentifier: too long");
	gdb_spec_release(&s);
	free(json);
	free(big);

	/* A spec that is not an object, and the empty object. */
	ck_assert_int_lt(gdb_spec_decode(json_null(), &s, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "spec: must be an object");
	gdb_spec_release(&s);
	{
		json_t *o = json_object();

		ck_assert_int_lt(gdb_spec_decode(o, &s, err, sizeof(err)), 0);
		ck_assert_str_eq(err, "spec.globalClusterIdentifier: required");
		gdb_spec_release(&s);
		json_decref(o);
	}
	/* A zero-length error buffer is fine. */
	ck_assert_int_lt(gdb_spec_decode(NULL, &s, NULL, 0), 0);
	gdb_spec_release(&s);
}
END_TEST

static const char *rich_status =
	"{\"observedGeneration\":7,\"globalClusterIdentifier\":\"orders-global-2\",\"generation\":"
	"2,"
	"\"currentPrimaryRegion\":\"us-west-2\","
	"\"writerEndpoint\":\"orders-west.cluster-y.us-west-2.rds.amazonaws.com\","
	"\"globalWriterEndpoint\":\"orders-global-2.global-abc.global.rds.amazonaws.com\","
	"\"readerEndpoints\":[{\"region\":\"us-west-2\",\"endpoint\":\"ro-west\"},"
	"{\"region\":\"us-east-1\",\"endpoint\":\"ro-east\"}],"
	"\"maxReplicationLagSeconds\":2,\"lastFailoverTime\":\"2026-11-27T03:00:00Z\","
	"\"regions\":[{\"name\":\"us-east-1\",\"role\":\"Rebuilding\",\"dbClusterIdentifier\":"
	"\"orders-"
	"east\","
	"\"clusterStatus\":\"creating\",\"clusterStatusSince\":\"2026-11-27T03:40:00Z\","
	"\"consecutiveFailures\":0,\"replicationLagSeconds\":2},"
	"{\"name\":\"us-west-2\",\"role\":\"Primary\",\"dbClusterIdentifier\":\"orders-west\","
	"\"clusterStatus\":\"available\",\"synchronizationStatus\":\"connected\",\"writerHealthy\":"
	"true,"
	"\"consecutiveFailures\":0,\"lastProbeTime\":\"2026-11-27T03:59:59Z\"}],"
	"\"operation\":{\"id\":8,\"type\":\"Fallback\",\"method\":\"DetachAndPromote\","
	"\"targetRegion\":"
	"\"us-"
	"east-1\","
	"\"sourceRegion\":\"us-west-2\",\"step\":\"CreateInstances\",\"startedTime\":\"2026-11-"
	"27T03:"
	"30:00Z\","
	"\"stepStartedTime\":\"2026-11-27T03:45:00Z\",\"attempts\":1,\"message\":\"creating\","
	"\"lastAction\":\"CreateInstance\",\"lastCallTime\":\"2026-11-27T03:45:10Z\","
	"\"globalClusterIdentifier\":\"orders-global-2\",\"lostWritesSnapshot\":\"orders-east-lost-"
	"writes-1\","
	"\"steps\":[{\"name\":\"FenceOldWriter\",\"durationSeconds\":300}]},"
	"\"lastOperation\":{\"id\":7,\"type\":\"Failover\",\"method\":\"DetachAndPromote\","
	"\"targetRegion\":"
	"\"us-west-2\","
	"\"sourceRegion\":\"us-east-1\",\"startedTime\":\"2026-11-27T02:58:00Z\",\"message\":"
	"\"completed\","
	"\"dataLossWindowSeconds\":3,\"steps\":[{\"name\":\"Detach\",\"durationSeconds\":12},"
	"{\"name\":\"WaitPromoted\",\"durationSeconds\":40}],\"result\":\"Succeeded\","
	"\"finishedTime\":\"2026-11-27T03:00:00Z\"},"
	"\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"observedGeneration\":7,"
	"\"lastTransitionTime\":\"2026-11-27T02:58:10Z\",\"reason\":\"OperationInProgress\","
	"\"message\":\"m\"}]}";

START_TEST(test_status_round_trips)
{
	json_t *in = json_loads(rich_status, 0, NULL), *out;
	struct gdb_status st, copy;
	char err[GDB_ERRLEN];

	ck_assert_ptr_nonnull(in);
	ck_assert_msg(gdb_status_decode(in, &st, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(st.operation.step, GDB_STEP_CREATE_INSTANCES);
	ck_assert_int_eq(st.last_operation.result, GDB_RESULT_SUCCEEDED);
	ck_assert_int_eq(st.operation.id, 8);
	ck_assert_int_eq(st.last_operation.id, 7);
	ck_assert_int_eq(st.regions[1].writer_healthy, 1);
	ck_assert_int_eq(st.regions[0].writer_healthy, -1);
	out = gdb_status_encode(&st);
	ck_assert_msg(json_equal(in, out), "encode(decode(x)) != x:\n%s",
		      json_dumps(out, JSON_SORT_KEYS));
	gdb_status_copy(&copy, &st);
	gdb_status_release(&st);
	json_decref(out);
	out = gdb_status_encode(&copy);
	ck_assert(json_equal(in, out));
	gdb_status_release(&copy);
	gdb_status_release(&copy); /* release leaves it reusable */
	json_decref(out);
	json_decref(in);
}
END_TEST

static const struct {
	const char *json, *error;
} bad_status[] = {
	{"{\"operation\":{\"type\":\"Switchover\",\"step\":\"Teleport\"}}",
	 "status.operation.step: unknown step"},
	{"{\"operation\":{\"type\":\"Switchover\"}}",
	 "status.operation.step: required when type is set"},
	{"{\"regions\":[{\"name\":\"x\",\"lastProbeTime\":\"yesterday\"}]}",
	 "status.regions[0].lastProbeTime: must be an RFC 3339 time"},
	{"{\"regions\":[{\"role\":\"Primary\"}]}", "status.regions[0].name: required"},
	{"{\"conditions\":[{\"type\":\"Ready\",\"status\":\"Maybe\"}]}",
	 "status.conditions[0].status: must be one of Unknown True False"},
	{"{\"lastOperation\":{\"steps\":[{\"name\":\"x\",\"durationSeconds\":-1}]}}",
	 "status.lastOperation.steps[0].durationSeconds: must be between 0 and "
	 "4611686018427387903"},
	{"{\"generation\":\"2\"}", "status.generation: must be an integer"},
	{"[]", "status: must be an object"},
};

START_TEST(test_status_errors_name_the_field)
{
	json_t *in = json_loads(bad_status[_i].json, JSON_DECODE_ANY, NULL);
	struct gdb_status st;
	char err[GDB_ERRLEN];

	ck_assert_ptr_nonnull(in);
	ck_assert_int_lt(gdb_status_decode(in, &st, err, sizeof(err)), 0);
	ck_assert_str_eq(err, bad_status[_i].error);
	gdb_status_release(&st);
	json_decref(in);
}
END_TEST

START_TEST(test_steps_parse_back)
{
	for (int s = 1; s < GDB_STEP__COUNT; s++)
		ck_assert_int_eq(gdb_step_parse(gdb_step_name(s)), s);
	ck_assert_int_eq(gdb_step_parse("Nope"), -1);
	ck_assert_int_eq(gdb_step_parse(NULL), -1);
}
END_TEST

/* Generations: the runbook's base "demo-global-cluster-1" is followed by "-2", not "-1-2". */
static const struct {
	const char *base, *id;
	int64_t generation; /* gdb_generation_of(base, id) */
	const char *next;   /* gdb_generation_name(base, generation + 1); NULL: not ours */
} generations[] = {
	{"demo-global-cluster-1", "demo-global-cluster-1", 1, "demo-global-cluster-2"},
	{"demo-global-cluster-1", "demo-global-cluster-2", 2, "demo-global-cluster-3"},
	{"demo-global-cluster-1", "DEMO-GLOBAL-CLUSTER-7", 7, "demo-global-cluster-8"},
	{"demo-global-cluster-1", "demo-global-cluster-1-2", 0, NULL},
	{"demo-global-cluster-1", "demo-global-cluster", 0, NULL},
	{"orders", "orders", 1, "orders-2"},
	{"orders", "orders-2", 2, "orders-3"},
	{"orders", "orders-10", 10, "orders-11"},
	{"orders", "orders-1", 0, NULL},
	{"orders", "orders-02", 0, NULL},
	{"orders", "orders-", 0, NULL},
	{"orders", "orders-2x", 0, NULL},
	{"orders", "orders-1234567", 0, NULL},
	{"orders", "orders2", 0, NULL},
	{"orders", "other-2", 0, NULL},
	{"app-3", "app-3", 3, "app-4"},
	{"app-3", "app-2", 0, NULL},
	{"app-3", "app-4", 4, "app-5"},
	{"app-0", "app-0", 1, "app-0-2"},
	{"a-1", "a-2", 2, "a-3"},
	{"x9", "x9", 1, "x9-2"},
};

START_TEST(test_generation_names)
{
	int64_t g = gdb_generation_of(generations[_i].base, generations[_i].id);
	char *next;

	ck_assert_msg(g == generations[_i].generation, "%s in %s: generation %lld, want %lld",
		      generations[_i].id, generations[_i].base, (long long)g,
		      (long long)generations[_i].generation);
	if (!generations[_i].next)
		return;
	next = gdb_generation_name(generations[_i].base, g + 1);
	ck_assert_str_eq(next, generations[_i].next);
	/* What the fallback creates is recognised as ours, one generation on. */
	ck_assert_int_eq(gdb_generation_of(generations[_i].base, next), g + 1);
	free(next);
}
END_TEST

START_TEST(test_generation_of_nothing)
{
	char *name = gdb_generation_name("orders", 1);

	ck_assert_int_eq(gdb_generation_of(NULL, "orders"), 0);
	ck_assert_int_eq(gdb_generation_of("orders", NULL), 0);
	ck_assert_str_eq(name, "orders");
	free(name);
	ck_assert_uint_eq(gdb_generation_stem_len("demo-global-cluster-1"), 19);
	ck_assert_uint_eq(gdb_generation_stem_len("orders"), 6);
	ck_assert_uint_eq(gdb_generation_stem_len("-1"), 2);
}
END_TEST

/*
 * Conditions follow meta.SetStatusCondition: a new type is added with the
 * transition time now; an unchanged status keeps its lastTransitionTime while
 * reason, message and observedGeneration follow; a changed status moves it.
 */
START_TEST(test_condition_keeps_its_transition_time_until_the_status_changes)
{
	struct gdb_status st;
	const struct gdb_condition *cd;

	gdb_status_decode(NULL, &st, NULL, 0);
	gdb_status_set_condition(&st, "Ready", GDB_COND_FALSE, "Pending", "not yet", 1, 1000);
	cd = gdb_status_condition(&st, "Ready");
	ck_assert_ptr_nonnull(cd);
	ck_assert_int_eq(cd->status, GDB_COND_FALSE);
	ck_assert_int_eq(cd->last_transition_ms, 1000);

	gdb_status_set_condition(&st, "Ready", GDB_COND_FALSE, "StillPending", "soon", 2, 5000);
	cd = gdb_status_condition(&st, "Ready");
	ck_assert_int_eq(cd->last_transition_ms, 1000);
	ck_assert_str_eq(cd->reason, "StillPending");
	ck_assert_str_eq(cd->message, "soon");
	ck_assert_int_eq(cd->observed_generation, 2);

	gdb_status_set_condition(&st, "Ready", GDB_COND_TRUE, "AsExpected", "ready", 2, 9000);
	cd = gdb_status_condition(&st, "Ready");
	ck_assert_int_eq(cd->status, GDB_COND_TRUE);
	ck_assert_int_eq(cd->last_transition_ms, 9000);
	ck_assert_uint_eq(st.n_conditions, 1);

	/* A condition decoded without a transition time gets one. */
	st.conditions[0].last_transition_ms = 0;
	gdb_status_set_condition(&st, "Ready", GDB_COND_TRUE, "AsExpected", "ready", 2, 9500);
	ck_assert_int_eq(gdb_status_condition(&st, "Ready")->last_transition_ms, 9500);
	gdb_status_release(&st);
}
END_TEST

START_TEST(test_condition_beyond_the_cap_is_dropped_not_overflowed)
{
	struct gdb_status st;
	char type[16];

	gdb_status_decode(NULL, &st, NULL, 0);
	for (int i = 0; i < GDB_MAX_CONDITIONS + 3; i++) {
		snprintf(type, sizeof(type), "Type%d", i);
		gdb_status_set_condition(&st, type, GDB_COND_TRUE, "Reason", NULL, 1, 1000);
	}
	ck_assert_uint_eq(st.n_conditions, GDB_MAX_CONDITIONS);
	ck_assert_ptr_null(gdb_status_condition(&st, "Type8"));
	ck_assert_ptr_nonnull(gdb_status_condition(&st, "Type7"));
	gdb_status_release(&st);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("types");
	TCase *tc = tcase_create("types");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_minimal_spec_gets_defaults);
	tcase_add_loop_test(tc, test_decode_errors_name_the_field, 0, (int)ARRAY_SIZE(bad_specs));
	tcase_add_test(tc, test_hostile_sizes_are_refused);
	tcase_add_test(tc, test_status_round_trips);
	tcase_add_loop_test(tc, test_status_errors_name_the_field, 0, (int)ARRAY_SIZE(bad_status));
	tcase_add_test(tc, test_steps_parse_back);
	tcase_add_loop_test(tc, test_generation_names, 0, (int)ARRAY_SIZE(generations));
	tcase_add_test(tc, test_generation_of_nothing);
	tcase_add_test(tc, test_condition_keeps_its_transition_time_until_the_status_changes);
	tcase_add_test(tc, test_condition_beyond_the_cap_is_dropped_not_overflowed);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
