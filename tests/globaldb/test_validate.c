/*
 * The controller's own check of a spec (pkg/globaldb/validate.h): the rules
 * the CRD's schema and CEL also enforce, repeated because the controller must
 * never act on a spec it does not understand. Each refusal names the field and
 * says what is wrong, as the user reads it in the Ready condition. The
 * invalid manifests of tests/globaldb/invalid/ go through the same code in
 * test_validate_offline.py; decoding (types that do not even parse) is in
 * test_types.c.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/globaldb/types.h"
#include "pkg/globaldb/validate.h"

static const char *minimal =
	"{\"globalClusterIdentifier\":\"orders-global\",\"primaryRegion\":\"us-east-1\","
	"\"regions\":[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"},"
	"{\"name\":\"us-west-2\",\"dbClusterIdentifier\":\"orders-west\"}],"
	"\"healthCheck\":{\"credentialsSecretRef\":{\"name\":\"probe\"}}}";

/*
 * Validates minimal with the top-level member key replaced by value (JSON; key
 * NULL: unchanged). The spec must decode: these are refusals of validation.
 */
static int validate_with(const char *key, const char *value, char *err, size_t errlen)
{
	json_t *j = json_loads(minimal, 0, NULL);
	struct gdb_spec spec;
	char derr[GDB_ERRLEN];
	int rc;

	ck_assert_ptr_nonnull(j);
	if (key) {
		json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);

		ck_assert_msg(v != NULL, "bad test JSON %s", value);
		json_object_set_new(j, key, v);
	}
	rc = gdb_spec_decode(j, &spec, derr, sizeof(derr));
	ck_assert_msg(rc == 0, "%s does not decode: %s", value, derr);
	rc = gdb_spec_validate(&spec, err, errlen);
	gdb_spec_release(&spec);
	json_decref(j);
	return rc;
}

START_TEST(test_a_minimal_spec_is_valid)
{
	char err[GDB_ERRLEN] = "left over";

	ck_assert_int_eq(validate_with(NULL, NULL, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
}
END_TEST

#define HC(extra) "{\"credentialsSecretRef\":{\"name\":\"probe\"}" extra "}"
#define TWO_REGIONS(r2) "[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"}," r2 "]"

static const struct {
	const char *key, *value;
	const char *error; /* the whole message, or its start when it ends in "..." */
} refusals[] = {
	{"globalClusterIdentifier", "\"orders--global\"",
	 "spec.globalClusterIdentifier: must be 1-59 letters, digits or single hyphens, starting "
	 "with a letter, not ending with a hyphen"},
	{"globalClusterIdentifier",
	 "\"g23456789012345678901234567890123456789012345678901234567890\"",
	 "spec.globalClusterIdentifier: must be 1-59 ..."},
	{"regions", "[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"}]",
	 "spec.regions: must have 2 to 6 regions"},
	{"regions", TWO_REGIONS("{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-2\"}"),
	 "spec.regions[1].name: duplicate region us-east-1"},
	{"regions", TWO_REGIONS("{\"name\":\"mars-north-1a\",\"dbClusterIdentifier\":\"o\"}"),
	 "spec.regions[1].name: not an AWS region name"},
	{"primaryRegion", "\"eu-west-1\"",
	 "spec.primaryRegion: must be the name of one of spec.regions"},
	{"healthCheck", HC(",\"periodSeconds\":5,\"timeoutSeconds\":6"),
	 "spec.healthCheck.timeoutSeconds: must be at least 1 and at most periodSeconds"},
	{"healthCheck", HC(",\"awsSecretsManagerSecretId\":\"probe-login\""),
	 "spec.healthCheck: exactly one of credentialsSecretRef and awsSecretsManagerSecretId "
	 "must be set"},
	{"healthCheck", "{}",
	 "spec.healthCheck: exactly one of credentialsSecretRef and awsSecretsManagerSecretId "
	 "must be set"},
	{"healthCheck", HC(",\"sslMode\":\"verify-full\""),
	 "spec.healthCheck.caBundleRef: verify-full needs the CA bundle ..."},
	{"healthCheck", HC(",\"sslMode\":\"disable\""),
	 "spec.healthCheck.sslMode: disable sends the probe's login without TLS, ..."},
	{"healthCheck", HC(",\"database\":\"1db\""),
	 "spec.healthCheck.database: not a database name"},
	{"dns",
	 "{\"hostedZoneId\":\"Z123\",\"writerRecordName\":\"db.example.com\","
	 "\"readerRecordName\":\"db.example.com\"}",
	 "spec.dns.readerRecordName: must differ from writerRecordName"},
	{"dns", "{\"hostedZoneId\":\"Z123\",\"writerRecordName\":\"db\"}",
	 "spec.dns.writerRecordName: not a DNS name"},
	{"workloads",
	 "{\"ecsServices\":[{\"region\":\"eu-west-1\",\"cluster\":\"apps\",\"service\":\"api\"}]}",
	 "spec.workloads.ecsServices[0].region: must be one of spec.regions"},
	{"workloads",
	 "{\"deployments\":[{\"namespace\":\"apps\",\"name\":\"api\"},"
	 "{\"namespace\":\"apps\",\"name\":\"api\"}]}",
	 "spec.workloads.deployments[1]: duplicate"},
	{"ssm", "{\"parameterPrefix\":\"orders/db\"}",
	 "spec.ssm.parameterPrefix: must start with a slash, ..."},
};

START_TEST(test_refusals_name_the_field_and_the_rule)
{
	char err[GDB_ERRLEN];
	const char *want = refusals[_i].error;
	size_t n = strlen(want);

	ck_assert_int_eq(validate_with(refusals[_i].key, refusals[_i].value, err, sizeof(err)),
			 BASE_EINVAL);
	if (n > 3 && !strcmp(want + n - 3, "..."))
		ck_assert_msg(!strncmp(err, want, n - 3), "got %s", err);
	else
		ck_assert_str_eq(err, want);
}
END_TEST

/* Insecure transport is allowed only when the user says so, in the spec. */
START_TEST(test_plaintext_probe_login_needs_an_explicit_opt_in)
{
	char err[GDB_ERRLEN];

	ck_assert_int_eq(
		validate_with("healthCheck",
			      HC(",\"sslMode\":\"disable\",\"allowInsecurePassword\":true"), err,
			      sizeof(err)),
		0);
	ck_assert_int_eq(validate_with("healthCheck",
				       HC(",\"sslMode\":\"verify-full\",\"caBundleRef\":"
					  "{\"name\":\"rds-ca\",\"key\":\"ca.pem\"}"),
				       err, sizeof(err)),
			 0);
}
END_TEST

/* The first problem is reported; a short or absent buffer still gets the verdict. */
START_TEST(test_the_first_problem_is_reported_and_buffers_are_respected)
{
	json_t *j = json_loads(minimal, 0, NULL);
	struct gdb_spec spec;
	char err[GDB_ERRLEN], small[16];

	json_object_set_new(j, "primaryRegion", json_string("eu-west-1"));
	json_object_set_new(j, "globalClusterIdentifier", json_string("9lives"));
	ck_assert_int_eq(gdb_spec_decode(j, &spec, err, sizeof(err)), 0);
	ck_assert_int_eq(gdb_spec_validate(&spec, err, sizeof(err)), BASE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "spec.globalClusterIdentifier: "));
	ck_assert_int_eq(gdb_spec_validate(&spec, small, sizeof(small)), BASE_EINVAL);
	ck_assert_str_eq(small, "spec.globalClus");
	ck_assert_int_eq(gdb_spec_validate(&spec, NULL, 0), BASE_EINVAL);
	gdb_spec_release(&spec);
	json_decref(j);
}
END_TEST

static const struct {
	const char *id;
	int ok;
} identifiers[] = {
	{"orders", 1},
	{"a", 1},
	{"orders-east-1", 1},
	{"A1-b2", 1},
	{"", 0},
	{"1orders", 0},
	{"orders-", 0},
	{"orders--east", 0},
	{"orders_east", 0},
	{"-orders", 0},
	{"orders.east", 0},
};

START_TEST(test_rds_identifiers)
{
	ck_assert_int_eq(gdb_valid_rds_identifier(identifiers[_i].id, 63), identifiers[_i].ok);
}
END_TEST

static const struct {
	const char *name;
	int ok;
} region_names[] = {
	{"us-east-1", 1},  {"us-gov-west-1", 1}, {"ap-southeast-2", 1}, {"eu-central-12", 1},
	{"us-east", 0},	   {"US-EAST-1", 0},	 {"useast1", 0},	{"us-east-123", 0},
	{"us--east-1", 0}, {"u-east-1", 0},	 {"us-east-1-", 0},	{NULL, 0},
};

START_TEST(test_region_names)
{
	ck_assert_int_eq(gdb_valid_region_name(region_names[_i].name), region_names[_i].ok);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("globaldb_validate");
	TCase *tc = tcase_create("validate");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_a_minimal_spec_is_valid);
	tcase_add_loop_test(tc, test_refusals_name_the_field_and_the_rule, 0,
			    (int)ARRAY_SIZE(refusals));
	tcase_add_test(tc, test_plaintext_probe_login_needs_an_explicit_opt_in);
	tcase_add_test(tc, test_the_first_problem_is_reported_and_buffers_are_respected);
	tcase_add_loop_test(tc, test_rds_identifiers, 0, (int)ARRAY_SIZE(identifiers));
	tcase_add_loop_test(tc, test_region_names, 0, (int)ARRAY_SIZE(region_names));
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
