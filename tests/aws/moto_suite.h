/*
 * moto_suite.h - a Check program against one moto server on a free loopback
 * port, started for the program (tests/aws/harness.h). Each test gets a fresh
 * `client` of it; fixtures moto needs but the controller never creates are
 * made through the same protocol layer (json_ok), so no other client is
 * involved.
 *
 *	START_TEST(test_ssm_parameter_round_trip) { ... client ... } END_TEST
 *	MOTO_CHECK_MAIN("aws_ssm_moto", test_ssm_parameter_round_trip)
 */
#ifndef TESTS_AWS_MOTO_SUITE_H
#define TESTS_AWS_MOTO_SUITE_H

#include <check.h>
#include <jansson.h>
#include <stdio.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/proto.h"
#include "tests/aws/harness.h"
#include "tests/check_main.h"

#define REGION "eu-west-1"

static struct moto moto;
static struct aws_creds_provider *creds;
static struct aws_client *client;

static void moto_setup(void)
{
	client = test_client_open(&moto, &creds);
}

static void moto_teardown(void)
{
	test_client_close(client, creds);
}

/* Calls op of a JSON-protocol service with body; the test fails unless it succeeds. */
static inline void json_ok(const struct aws_service *svc, const char *op, const char *body)
{
	json_t *in = json_loads(body, 0, NULL), *out = NULL;
	struct aws_error err;
	int rc;

	ck_assert_ptr_nonnull(in);
	rc = aws_json_call(client, svc, REGION, op, in, &out, &err);
	ck_assert_msg(rc == 0, "%s: %s %s", op, err.code, err.message);
	json_decref(in);
	json_decref(out);
}

#define MOTO_CHECK_MAIN(name, ...)                                                                 \
	int main(void)                                                                             \
	{                                                                                          \
		const TTest *const tests[] = {__VA_ARGS__};                                        \
		int rc;                                                                            \
                                                                                                   \
		if (moto_start(&moto) != 0) {                                                      \
			fprintf(stderr, "cannot start moto_server\n");                             \
			return 1;                                                                  \
		}                                                                                  \
		rc = gdb_check_run(name, 60, moto_setup, moto_teardown, tests,                     \
				   sizeof(tests) / sizeof(*tests));                                \
		moto_stop(&moto);                                                                  \
		return rc;                                                                         \
	}

#endif
