/*
 * pkg/aws/dynamodb against a scripted server: what goes on the wire (awsJson1_0,
 * the target, a consistent read, the condition and its placeholders), how
 * items decode, and how a lost race and throttling come back to the caller.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/dynamodb.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/harness.h"
#include "tests/check_main.h"

struct script {
	int status;
	const char *body;
	char target[256];
	char content_type[128];
	char body_seen[8192];
};

static struct script script;
static struct stub *stub;
static struct aws_creds_provider *creds;
static struct aws_client *client;

static void scripted(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	struct script *s = ud;

	stub_header(req, "X-Amz-Target", s->target, sizeof(s->target));
	stub_header(req, "Content-Type", s->content_type, sizeof(s->content_type));
	snprintf(s->body_seen, sizeof(s->body_seen), "%.*s", (int)req->body_len, req->body);
	resp->status = s->status ? s->status : 200;
	resp->content_type = "application/x-amz-json-1.0";
	resp->body = xstrdup(s->body ? s->body : "{}");
}

static void setup(void)
{
	char url[64];

	memset(&script, 0, sizeof(script));
	stub = stub_start(scripted, &script);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", stub_port(stub));
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	unsetenv("AWS_ENDPOINT_URL");
	setenv("AWS_ENDPOINT_URL_DYNAMODB", url, 1);
	creds = aws_creds_provider_new_static("AKIDEXAMPLE", "secret", NULL);
	client = aws_client_new(&(struct aws_client_config){
		.creds = creds, .max_attempts = 1, .retry_base_ms = 5, .attempt_timeout_ms = 2000});
}

static void teardown(void)
{
	aws_client_free(client);
	aws_creds_provider_free(creds);
	stub_stop(stub);
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
}

static json_t *sent(void)
{
	json_t *j = json_loads(script.body_seen, 0, NULL);

	ck_assert_msg(j != NULL, "request body is not JSON: %s", script.body_seen);
	return j;
}

START_TEST(test_get_item_is_a_consistent_read_and_decodes_s_n_m)
{
	struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT, out;
	const struct aws_dynamodb_item *cosign;
	struct aws_error err;
	int found = -1, rc;
	json_t *j;

	script.body = "{\"Item\":{\"pk\":{\"S\":\"lease/ns/db\"},\"epoch\":{\"N\":\"7\"},"
		      "\"big\":{\"N\":\"1e3\"},\"list\":{\"L\":[]},"
		      "\"cosign\":{\"M\":{\"east\":{\"N\":\"6\"}}}}}";
	aws_dynamodb_item_set_s(&key, "pk", "lease/ns/db");
	rc = aws_dynamodb_get_item(client, "us-east-2", "guard", &key, 1, &out, &found, &err);
	ck_assert_msg(rc == 0, "GetItem: %d %s", rc, err.message);
	ck_assert_str_eq(script.target, "DynamoDB_20120810.GetItem");
	ck_assert_str_eq(script.content_type, "application/x-amz-json-1.0");
	j = sent();
	ck_assert(json_is_true(json_object_get(j, "ConsistentRead")));
	ck_assert_str_eq(json_string_value(json_object_get(j, "TableName")), "guard");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_object_get(j, "Key"), "pk"), "S")),
			 "lease/ns/db");
	json_decref(j);

	ck_assert_int_eq(found, 1);
	ck_assert_str_eq(aws_dynamodb_item_s(&out, "pk"), "lease/ns/db");
	ck_assert_int_eq((int)aws_dynamodb_item_n(&out, "epoch", -1), 7);
	/* A number that is not an integer is kept as text, not misread. */
	ck_assert_int_eq((int)aws_dynamodb_item_n(&out, "big", -1), -1);
	ck_assert_str_eq(aws_dynamodb_item_get(&out, "big")->s, "1e3");
	/* A type the guard does not use is skipped. */
	ck_assert_ptr_null(aws_dynamodb_item_get(&out, "list"));
	cosign = aws_dynamodb_item_m(&out, "cosign");
	ck_assert_ptr_nonnull(cosign);
	ck_assert_int_eq((int)aws_dynamodb_item_n(cosign, "east", 0), 6);
	aws_dynamodb_item_release(&out);
	aws_dynamodb_item_release(&key);
}
END_TEST

START_TEST(test_get_item_of_a_missing_item_is_not_found_but_no_error)
{
	struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT, out;
	struct aws_error err;
	int found = -1;

	script.body = "{}";
	aws_dynamodb_item_set_s(&key, "pk", "lease/ns/none");
	ck_assert_int_eq(
		aws_dynamodb_get_item(client, "us-east-2", "guard", &key, 1, &out, &found, &err),
		0);
	ck_assert_int_eq(found, 0);
	ck_assert_uint_eq(out.n, 0);
	aws_dynamodb_item_release(&key);
}
END_TEST

START_TEST(test_conditional_write_that_lost_the_race_is_a_conflict)
{
	struct aws_dynamodb_item item = AWS_DYNAMODB_ITEM_INIT, vals = AWS_DYNAMODB_ITEM_INIT;
	static const char *const names[] = {"#e", "epoch", NULL};
	struct aws_dynamodb_cond cond = {"#e = :e", names, &vals};
	struct aws_error err;
	json_t *j;
	int rc;

	script.status = 400;
	script.body = "{\"__type\":\"com.amazonaws.dynamodb.v20120810#"
		      "ConditionalCheckFailedException\",\"message\":\"The conditional request "
		      "failed\"}";
	aws_dynamodb_item_set_s(&item, "pk", "lease/ns/db");
	aws_dynamodb_item_set_n(&item, "epoch", 8);
	aws_dynamodb_item_set_n(&vals, ":e", 7);
	rc = aws_dynamodb_put_item(client, "us-east-2", "guard", &item, &cond, &err);
	ck_assert_int_eq(rc, BASE_ECONFLICT);
	ck_assert_str_eq(err.code, "ConditionalCheckFailedException");
	ck_assert_str_eq(script.target, "DynamoDB_20120810.PutItem");
	j = sent();
	ck_assert_str_eq(json_string_value(json_object_get(j, "ConditionExpression")), "#e = :e");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "ExpressionAttributeNames"), "#e")),
			 "epoch");
	ck_assert_str_eq(
		json_string_value(json_object_get(
			json_object_get(json_object_get(j, "ExpressionAttributeValues"), ":e"),
			"N")),
		"7");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_object_get(j, "Item"), "epoch"), "N")),
			 "8");
	json_decref(j);
	aws_dynamodb_item_release(&item);
	aws_dynamodb_item_release(&vals);
}
END_TEST

START_TEST(test_update_item_sends_its_update_and_condition)
{
	struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT, vals = AWS_DYNAMODB_ITEM_INIT;
	static const char *const names[] = {"#v", "version", "#h", "holder", NULL};
	struct aws_dynamodb_cond cond = {"#h = :me", names, &vals};
	struct aws_error err;
	json_t *j;

	aws_dynamodb_item_set_s(&key, "pk", "lease/ns/db");
	aws_dynamodb_item_set_s(&vals, ":me", "east");
	aws_dynamodb_item_set_n(&vals, ":one", 1);
	ck_assert_int_eq(aws_dynamodb_update_item(client, "us-east-2", "guard", &key,
						  "SET #v = #v + :one", &cond, &err),
			 0);
	ck_assert_str_eq(script.target, "DynamoDB_20120810.UpdateItem");
	j = sent();
	ck_assert_str_eq(json_string_value(json_object_get(j, "UpdateExpression")),
			 "SET #v = #v + :one");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "ExpressionAttributeNames"), "#h")),
			 "holder");
	json_decref(j);
	aws_dynamodb_item_release(&key);
	aws_dynamodb_item_release(&vals);
}
END_TEST

START_TEST(test_throttling_codes_are_throttled_not_conflict)
{
	static const char *const codes[] = {"ProvisionedThroughputExceededException",
					    "ThrottlingException", "RequestLimitExceeded"};
	struct aws_dynamodb_item key = AWS_DYNAMODB_ITEM_INIT, out;
	struct aws_error err;
	char body[256];
	int found;

	aws_dynamodb_item_set_s(&key, "pk", "lease/ns/db");
	for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++) {
		snprintf(body, sizeof(body),
			 "{\"__type\":\"com.amazonaws.dynamodb.v20120810#%s\",\"message\":\"x\"}",
			 codes[i]);
		script.status = 400;
		script.body = body;
		ck_assert_int_eq(aws_dynamodb_get_item(client, "us-east-2", "guard", &key, 1, &out,
						       &found, &err),
				 BASE_ETHROTTLED);
		ck_assert_str_eq(err.code, codes[i]);
	}
	aws_dynamodb_item_release(&key);
}
END_TEST

START_TEST(test_item_setters_replace_and_encode_round_trips)
{
	struct aws_dynamodb_item it = AWS_DYNAMODB_ITEM_INIT, back;
	json_t *j;

	aws_dynamodb_item_set_s(&it, "holder", "east");
	aws_dynamodb_item_set_s(&it, "holder", "west");
	aws_dynamodb_item_set_n(&aws_dynamodb_item_set_m(&it, "cosign")[0], "west", -3);
	ck_assert_uint_eq(it.n, 2);
	j = aws_dynamodb_item_encode(&it);
	ck_assert_int_eq(aws_dynamodb_item_decode(j, &back), 0);
	ck_assert_str_eq(aws_dynamodb_item_s(&back, "holder"), "west");
	ck_assert_int_eq((int)aws_dynamodb_item_n(aws_dynamodb_item_m(&back, "cosign"), "west", 0),
			 -3);
	aws_dynamodb_item_release(&back);
	ck_assert_int_eq(aws_dynamodb_item_decode(json_array_get(j, 0), &back), BASE_EPARSE);
	json_decref(j);
	aws_dynamodb_item_release(&it);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("aws_dynamodb_unit", 60, setup, teardown,
		       test_get_item_is_a_consistent_read_and_decodes_s_n_m,
		       test_get_item_of_a_missing_item_is_not_found_but_no_error,
		       test_conditional_write_that_lost_the_race_is_a_conflict,
		       test_update_item_sends_its_update_and_condition,
		       test_throttling_codes_are_throttled_not_conflict,
		       test_item_setters_replace_and_encode_round_trips)
