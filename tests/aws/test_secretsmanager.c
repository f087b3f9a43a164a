/*
 * pkg/aws/secretsmanager against a real moto server: Secrets Manager: a secret's value is read; a missing one is NotFound.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/secretsmanager.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/moto_suite.h"

START_TEST(test_secret_value_is_read)
{
	struct aws_secret_value v;
	struct aws_error err;
	int found = 0, rc;

	json_ok(&aws_svc_secretsmanager, "CreateSecret",
		"{\"Name\":\"orders/master\",\"SecretString\":"
		"\"{\\\"username\\\":\\\"postgres\\\",\\\"password\\\":\\\"pw-123\\\"}\"}");
	rc = aws_secretsmanager_get_secret_value(client, REGION, "orders/master", NULL, NULL, &v,
						 &err);
	ck_assert_msg(rc == 0, "GetSecretValue: %s %s", err.code, err.message);
	ck_assert_str_eq(v.name, "orders/master");
	ck_assert_str_eq(v.secret_string, "{\"username\":\"postgres\",\"password\":\"pw-123\"}");
	ck_assert_ptr_null(v.secret_binary);
	ck_assert_ptr_nonnull(strstr(v.arn, ":secret:orders/master"));
	ck_assert_ptr_nonnull(v.version_id);
	for (size_t i = 0; i < v.nversion_stages; i++)
		found |= strcmp(v.version_stages[i], "AWSCURRENT") == 0;
	ck_assert(found);
	aws_secret_value_release(&v);

	rc = aws_secretsmanager_get_secret_value(client, REGION, "orders/none", NULL, NULL, &v,
						 &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "ResourceNotFoundException");
}
END_TEST

MOTO_CHECK_MAIN("aws_secretsmanager_moto", test_secret_value_is_read)
