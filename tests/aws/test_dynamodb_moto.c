/*
 * pkg/aws/dynamodb against a real moto server: the guard's table (partition
 * key pk), a lease item created once, renewed under its epoch, and a stale
 * conditional write refused as a conflict.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/dynamodb.h"
#include "pkg/base/err.h"
#include "tests/aws/moto_suite.h"

static const char *const epoch_names[] = {"#e", "epoch", NULL};

static void create_table(void)
{
	json_ok(&aws_svc_dynamodb, "CreateTable",
		"{\"TableName\":\"guard\",\"BillingMode\":\"PAY_PER_REQUEST\","
		"\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
		"\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]}");
}

START_TEST(test_lease_item_conditional_writes)
{
	struct aws_dynamodb_item item = AWS_DYNAMODB_ITEM_INIT, key = AWS_DYNAMODB_ITEM_INIT;
	struct aws_dynamodb_item vals = AWS_DYNAMODB_ITEM_INIT, out;
	struct aws_dynamodb_cond create = {"attribute_not_exists(pk)", NULL, NULL};
	struct aws_dynamodb_cond at_epoch = {"#e = :e", epoch_names, &vals};
	struct aws_error err;
	int found, rc;

	create_table();
	aws_dynamodb_item_set_s(&key, "pk", "lease/ns/db");
	rc = aws_dynamodb_get_item(client, REGION, "guard", &key, 1, &out, &found, &err);
	ck_assert_msg(rc == 0, "GetItem: %s %s", err.code, err.message);
	ck_assert_int_eq(found, 0);

	aws_dynamodb_item_set_s(&item, "pk", "lease/ns/db");
	aws_dynamodb_item_set_n(&item, "epoch", 1);
	aws_dynamodb_item_set_s(&item, "holder", "east");
	aws_dynamodb_item_set_n(aws_dynamodb_item_set_m(&item, "cosign"), "west", 0);
	rc = aws_dynamodb_put_item(client, REGION, "guard", &item, &create, &err);
	ck_assert_msg(rc == 0, "PutItem: %s %s", err.code, err.message);
	/* The second creator loses. */
	ck_assert_int_eq(aws_dynamodb_put_item(client, REGION, "guard", &item, &create, &err),
			 BASE_ECONFLICT);
	ck_assert_str_eq(err.code, "ConditionalCheckFailedException");

	/* A takeover at the epoch read wins once; the holder's stale write then fails. */
	aws_dynamodb_item_set_n(&vals, ":e", 1);
	aws_dynamodb_item_set_n(&vals, ":next", 2);
	aws_dynamodb_item_set_s(&vals, ":me", "west");
	{
		static const char *const names[] = {"#e", "epoch", "#h", "holder", NULL};
		struct aws_dynamodb_cond c = {"#e = :e", names, &vals};

		rc = aws_dynamodb_update_item(client, REGION, "guard", &key,
					      "SET #e = :next, #h = :me", &c, &err);
		ck_assert_msg(rc == 0, "UpdateItem: %s %s", err.code, err.message);
	}
	aws_dynamodb_item_set_n(&item, "epoch", 2);
	ck_assert_int_eq(aws_dynamodb_put_item(client, REGION, "guard", &item, &at_epoch, &err),
			 BASE_ECONFLICT);

	rc = aws_dynamodb_get_item(client, REGION, "guard", &key, 1, &out, &found, &err);
	ck_assert_msg(rc == 0, "GetItem: %s %s", err.code, err.message);
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq((int)aws_dynamodb_item_n(&out, "epoch", 0), 2);
	ck_assert_str_eq(aws_dynamodb_item_s(&out, "holder"), "west");
	ck_assert_int_eq((int)aws_dynamodb_item_n(aws_dynamodb_item_m(&out, "cosign"), "west", -1),
			 0);
	aws_dynamodb_item_release(&out);
	aws_dynamodb_item_release(&item);
	aws_dynamodb_item_release(&key);
	aws_dynamodb_item_release(&vals);
}
END_TEST

START_TEST(test_missing_table_is_not_found)
{
	struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT, out;
	struct aws_error err;
	int found;

	aws_dynamodb_item_set_s(&key, "pk", "lease/ns/db");
	ck_assert_int_eq(
		aws_dynamodb_get_item(client, REGION, "no-such-table", &key, 1, &out, &found, &err),
		BASE_ENOTFOUND);
	aws_dynamodb_item_release(&key);
}
END_TEST

MOTO_CHECK_MAIN("aws_dynamodb_moto", test_lease_item_conditional_writes,
		test_missing_table_is_not_found)
