/*
 * pkg/aws/sts against a real moto server: STS: the caller identity.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/sts.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/moto_suite.h"

START_TEST(test_caller_identity)
{
	struct aws_sts_identity id;
	struct aws_error err;
	int rc = aws_sts_get_caller_identity(client, REGION, &id, &err);

	ck_assert_msg(rc == 0, "GetCallerIdentity: %s %s", err.code, err.message);
	ck_assert_str_eq(id.account, "123456789012");
	ck_assert_ptr_nonnull(id.arn);
	ck_assert_ptr_nonnull(strstr(id.arn, "arn:aws:"));
	ck_assert_ptr_nonnull(id.user_id);
	aws_sts_identity_release(&id);
}
END_TEST

MOTO_CHECK_MAIN("aws_sts_moto", test_caller_identity)
