/*
 * pkg/aws/ssm against a real moto server: SSM Parameter Store: a parameter written, overwritten and read back.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/ssm.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/moto_suite.h"

START_TEST(test_ssm_parameter_round_trip)
{
	struct aws_ssm_parameter p;
	struct aws_ssm_put_parameter_input in = {
		.name = "/app/active-region",
		.value = "us-east-1",
		.type = "String",
	};
	struct aws_error err;
	int64_t version = 0;
	int rc;

	rc = aws_ssm_put_parameter(client, REGION, &in, &version, &err);
	ck_assert_msg(rc == 0, "PutParameter: %s %s", err.code, err.message);
	ck_assert_int_eq((int)version, 1);

	/* Without Overwrite an existing parameter is refused. */
	in.value = "eu-west-1";
	rc = aws_ssm_put_parameter(client, REGION, &in, &version, &err);
	ck_assert_int_eq(rc, BASE_EEXIST);
	ck_assert_str_eq(err.code, "ParameterAlreadyExists");

	in.overwrite = AWS_TRUE;
	ck_assert_int_eq(aws_ssm_put_parameter(client, REGION, &in, &version, &err), 0);
	ck_assert_int_eq((int)version, 2);

	rc = aws_ssm_get_parameter(client, REGION, "/app/active-region", 1, &p, &err);
	ck_assert_msg(rc == 0, "GetParameter: %s %s", err.code, err.message);
	ck_assert_str_eq(p.name, "/app/active-region");
	ck_assert_str_eq(p.value, "eu-west-1");
	ck_assert_str_eq(p.type, "String");
	ck_assert_int_eq((int)p.version, 2);
	ck_assert_int_gt((int)(p.last_modified_ms / 1000000), 0);
	ck_assert_ptr_nonnull(p.arn);
	aws_ssm_parameter_release(&p);

	rc = aws_ssm_get_parameter(client, REGION, "/app/missing", 0, &p, &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "ParameterNotFound");
}
END_TEST

MOTO_CHECK_MAIN("aws_ssm_moto", test_ssm_parameter_round_trip)
