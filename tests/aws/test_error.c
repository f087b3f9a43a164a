/*
 * The decoded AWS error (pkg/aws/error.h): the error bodies of each protocol
 * as AWS sends them, hostile bodies, and the classification that decides
 * whether a call is retried, refreshed or reported (and as which base code).
 * No server: the same bodies through a real call are in test_client.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/error.h"
#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

START_TEST(test_error_decoders_handle_variants)
{
	struct aws_error e;
	const char *old_r53 =
		"<?xml version=\"1.0\"?><InvalidChangeBatch xmlns=\"https://route53.amazonaws"
		".com/doc/2013-04-01/\"><Messages><Message>Tried to create resource record "
		"set but it already exists</Message></Messages><RequestId>r9</RequestId>"
		"</InvalidChangeBatch>";
	const char *r53 =
		"<ErrorResponse xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Error>"
		"<Type>Sender</Type><Code>PriorRequestNotComplete</Code><Message>busy"
		"</Message></Error><RequestId>r1</RequestId></ErrorResponse>";

	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_xml(old_r53, strlen(old_r53), &e), 0);
	ck_assert_str_eq(e.code, "InvalidChangeBatch");
	ck_assert_str_eq(e.message, "Tried to create resource record set but it already exists");
	ck_assert_str_eq(e.request_id, "r9");
	ck_assert_int_eq(aws_error_decode_xml(r53, strlen(r53), &e), 0);
	ck_assert_str_eq(e.code, "PriorRequestNotComplete");
	ck_assert(aws_error_is_throttling(e.code));
	ck_assert_int_eq(aws_error_decode_xml("not xml", 7, &e), BASE_EPARSE);
	ck_assert_int_eq(aws_error_decode_json("{}", 2, "ThrottlingException:extra", &e), 0);
	ck_assert_str_eq(e.code, "ThrottlingException");
	ck_assert_int_eq(aws_error_decode_json("[1]", 3, NULL, &e), BASE_EPARSE);

	ck_assert_int_eq(aws_error_to_base(400, "InvalidGlobalClusterStateFault"), BASE_ECONFLICT);
	ck_assert_int_eq(aws_error_to_base(404, "GlobalClusterNotFoundFault"), BASE_ENOTFOUND);
	ck_assert_int_eq(aws_error_to_base(400, "DBClusterAlreadyExistsFault"), BASE_EEXIST);
	ck_assert_int_eq(aws_error_to_base(403, "SignatureDoesNotMatch"), BASE_EUNAUTHORIZED);
	ck_assert_int_eq(aws_error_to_base(503, "ServiceUnavailable"), BASE_ESERVER);
	ck_assert_int_eq(aws_error_to_base(400, "ThrottlingException"), BASE_ETHROTTLED);
}
END_TEST

START_TEST(test_xml_entities_are_not_expanded)
{
	struct aws_error e;
	const char *xxe =
		"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">"
		"<!ENTITY y \"expanded\">]><ErrorResponse><Error><Code>C&y;</Code><Message>&x;"
		"</Message></Error></ErrorResponse>";

	struct aws_xml_doc *doc;

	/* AWS never sends a DTD: a document with one is refused, entities and all. */
	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_xml(xxe, strlen(xxe), &e), BASE_EPARSE);
	ck_assert_str_eq(e.code, "");
	ck_assert_int_eq(aws_xml_parse(xxe, strlen(xxe), &doc), BASE_EPARSE);
	ck_assert_ptr_null(doc);
}
END_TEST

START_TEST(test_query_error_body_yields_code_message_and_request_id)
{
	struct aws_error e;
	const char *rds = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
			  "<Error><Type>Sender</Type><Code>DBClusterNotFoundFault</Code>"
			  "<Message>DBCluster orders-east not found.</Message></Error>"
			  "<RequestId>5e4c-req</RequestId></ErrorResponse>";
	const char *ec2_style = "<Response><Errors><Error><Code>AuthFailure</Code>"
				"<Message>denied</Message></Error></Errors>"
				"<RequestID>ec2-req</RequestID></Response>";

	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_xml(rds, strlen(rds), &e), 0);
	ck_assert_str_eq(e.code, "DBClusterNotFoundFault");
	ck_assert_str_eq(e.message, "DBCluster orders-east not found.");
	ck_assert_str_eq(e.request_id, "5e4c-req");
	ck_assert_int_eq(aws_error_to_base(404, e.code), BASE_ENOTFOUND);

	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_xml(ec2_style, strlen(ec2_style), &e), 0);
	ck_assert_str_eq(e.code, "AuthFailure");
	ck_assert_str_eq(e.message, "denied");
	ck_assert_str_eq(e.request_id, "ec2-req");
}
END_TEST

/* A body without a code is not an AWS error: the caller reports the HTTP status instead. */
START_TEST(test_bodies_without_a_code_are_not_decoded)
{
	struct aws_error e;
	const char *empty_code = "<ErrorResponse><Error><Code></Code><Message>m</Message></Error>"
				 "</ErrorResponse>";
	const char *no_type = "{\"message\":\"no type\"}";
	const char *no_name = "{\"__type\":\"ns#:x\"}";

	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_xml(empty_code, strlen(empty_code), &e), BASE_EPARSE);
	ck_assert_int_eq(aws_error_decode_xml("", 0, &e), BASE_EPARSE);
	ck_assert_int_eq(aws_error_decode_json("", 0, NULL, &e), BASE_EPARSE);
	ck_assert_int_eq(aws_error_decode_json(no_type, strlen(no_type), NULL, &e), BASE_EPARSE);
	ck_assert_int_eq(aws_error_decode_json(no_name, strlen(no_name), NULL, &e), BASE_EPARSE);
	ck_assert_str_eq(e.code, "");
}
END_TEST

START_TEST(test_json_error_code_is_normalised_and_message_taken_either_case)
{
	struct aws_error e;
	const char *ecs = "{\"__type\":\"com.amazonaws.ecs#ServiceNotFoundException:http://x/\","
			  "\"message\":\"Service not found.\"}";
	const char *sm = "{\"__type\":\"ResourceNotFoundException\",\"Message\":\"no secret\"}";
	const char *dup = "{\"__type\":\"A\",\"__type\":\"B\"}";

	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_json(ecs, strlen(ecs), "Ignored", &e), 0);
	ck_assert_str_eq(e.code, "ServiceNotFoundException");
	ck_assert_str_eq(e.message, "Service not found.");
	ck_assert_int_eq(aws_error_decode_json(sm, strlen(sm), NULL, &e), 0);
	ck_assert_str_eq(e.code, "ResourceNotFoundException");
	ck_assert_str_eq(e.message, "no secret");
	/* A duplicated key is refused (JSON smuggling), then the header names the error. */
	ck_assert_int_eq(aws_error_decode_json(dup, strlen(dup), "aws#InternalFailure", &e), 0);
	ck_assert_str_eq(e.code, "InternalFailure");
	ck_assert_str_eq(e.message, "");
}
END_TEST

/* Error bodies are capped: a huge one is not parsed. */
START_TEST(test_oversized_error_bodies_are_refused)
{
	struct aws_error e;
	size_t n = (1u << 20) + 1;
	char *big = xmalloc(n);

	/* A well-formed document that would decode, were it not so large. */
	memset(big, ' ', n);
	memcpy(big, "<ErrorResponse><Error><Code>Throttling</Code></Error>", 53);
	memcpy(big + n - 16, "</ErrorResponse>", 16);
	aws_error_clear(&e);
	ck_assert_int_eq(aws_error_decode_xml(big, n, &e), BASE_ETOOBIG);
	ck_assert_int_eq(aws_error_decode_json(big, n, "Throttling", &e), BASE_ETOOBIG);
	ck_assert_str_eq(e.code, "");
	free(big);
}
END_TEST

/* Long server messages are truncated into the fixed fields, never overflowed. */
START_TEST(test_long_fields_are_truncated)
{
	struct aws_error e;
	char body[2048], msg[1200];

	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"__type\":\"Throttling\",\"message\":\"%s\"}", msg);
	ck_assert_int_eq(aws_error_decode_json(body, strlen(body), NULL, &e), 0);
	ck_assert_uint_eq(strlen(e.message), sizeof(e.message) - 1);
	aws_error_set(&e, 0, "Transport", "%s", msg);
	ck_assert_uint_eq(strlen(e.message), sizeof(e.message) - 1);
	ck_assert_str_eq(e.code, "Transport");
	aws_error_set(NULL, 0, "x", "NULL is fine");
	aws_error_clear(NULL);
}
END_TEST

/* What each wire code becomes for the caller (error.h's table). */
static const struct {
	int http_status;
	const char *code;
	int base;
} to_base[] = {
	{400, "Throttling", BASE_ETHROTTLED},
	{400, "PriorRequestNotComplete", BASE_ETHROTTLED},
	{429, "", BASE_ETHROTTLED},
	{403, "AccessDenied", BASE_EFORBIDDEN},
	{400, "AccessDeniedException", BASE_EFORBIDDEN},
	{403, "", BASE_EFORBIDDEN},
	{403, "InvalidClientTokenId", BASE_EUNAUTHORIZED},
	{400, "ExpiredToken", BASE_EUNAUTHORIZED},
	{404, "DBClusterNotFoundFault", BASE_ENOTFOUND},
	{404, "NoSuchHostedZone", BASE_ENOTFOUND},
	{400, "ParameterNotFound", BASE_ENOTFOUND},
	{404, "", BASE_ENOTFOUND},
	{400, "GlobalClusterAlreadyExistsFault", BASE_EEXIST},
	{400, "InvalidDBClusterStateFault", BASE_ECONFLICT},
	{400, "InvalidParameterValue", BASE_EINVAL},
	{400, "ValidationException", BASE_EINVAL},
	{400, "InvalidChangeBatch", BASE_EINVAL},
	{400, "RequestTimeout", BASE_ESERVER},
	{500, "InternalFailure", BASE_ESERVER},
	{503, "", BASE_ESERVER},
	{400, "SomethingNew", BASE_EINTERNAL},
	{0, NULL, BASE_EINTERNAL},
};

START_TEST(test_wire_codes_map_to_base_codes)
{
	ck_assert_msg(
		aws_error_to_base(to_base[_i].http_status, to_base[_i].code) == to_base[_i].base,
		"%d %s: %d, want %d", to_base[_i].http_status,
		to_base[_i].code ? to_base[_i].code : "(null)",
		aws_error_to_base(to_base[_i].http_status, to_base[_i].code), to_base[_i].base);
}
END_TEST

/* Which failures are retried, and how: the SDKs' standard retry mode. */
START_TEST(test_retry_classes)
{
	ck_assert(aws_error_is_throttling("Throttling"));
	ck_assert(aws_error_is_throttling("ThrottlingException"));
	ck_assert(aws_error_is_throttling("TooManyRequestsException"));
	ck_assert(aws_error_is_throttling("RequestLimitExceeded"));
	ck_assert(!aws_error_is_throttling("throttling"));
	ck_assert(!aws_error_is_throttling("AccessDenied"));
	ck_assert(!aws_error_is_throttling(""));
	ck_assert(!aws_error_is_throttling(NULL));

	ck_assert(aws_error_is_transient(500, ""));
	ck_assert(aws_error_is_transient(502, NULL));
	ck_assert(aws_error_is_transient(503, "ServiceUnavailable"));
	ck_assert(aws_error_is_transient(504, ""));
	ck_assert(aws_error_is_transient(400, "RequestTimeout"));
	ck_assert(aws_error_is_transient(400, "IDPCommunicationError"));
	ck_assert(!aws_error_is_transient(501, ""));
	ck_assert(!aws_error_is_transient(400, "InvalidParameterValue"));
	ck_assert(!aws_error_is_transient(404, "DBClusterNotFoundFault"));
	ck_assert(!aws_error_is_transient(0, NULL));

	ck_assert(aws_error_is_expired_token("ExpiredToken"));
	ck_assert(aws_error_is_expired_token("ExpiredTokenException"));
	ck_assert(!aws_error_is_expired_token("InvalidClientTokenId"));
	ck_assert(!aws_error_is_expired_token(NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_error");
	TCase *tc = tcase_create("error");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_error_decoders_handle_variants);
	tcase_add_test(tc, test_xml_entities_are_not_expanded);
	tcase_add_test(tc, test_query_error_body_yields_code_message_and_request_id);
	tcase_add_test(tc, test_bodies_without_a_code_are_not_decoded);
	tcase_add_test(tc, test_json_error_code_is_normalised_and_message_taken_either_case);
	tcase_add_test(tc, test_oversized_error_bodies_are_refused);
	tcase_add_test(tc, test_long_fields_are_truncated);
	tcase_add_loop_test(tc, test_wire_codes_map_to_base_codes, 0, (int)ARRAY_SIZE(to_base));
	tcase_add_test(tc, test_retry_classes);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
