/*
 * Our signatures checked by a real verifier: moto started with
 * INITIAL_NO_AUTH_ACTION_COUNT recomputes SigV4 with botocore for every
 * request after the first few, which we use to create an IAM user, its access
 * key and an allow-all policy. Then signed POSTs of all three protocols must
 * pass, a wrong secret must fail with SignatureDoesNotMatch, and temporary
 * credentials must pass only with their X-Amz-Security-Token
 * (docs/aws-protocols.md §9.3; moto cannot verify signed GETs, so only POSTs
 * are checked here).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/proto.h"
#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/aws/ssm.h"
#include "pkg/aws/sts.h"
#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/harness.h"

static const struct aws_service iam = {"iam",		"IAM",	      "iam", 1,
				       AWS_PROTO_QUERY, "2010-05-08", NULL,  NULL};
static struct moto moto;
static char akid[64], secret[128];

/* The three unauthenticated requests: user, access key, allow-all policy. */
static int bootstrap(void)
{
	struct aws_creds_provider *boot =
		aws_creds_provider_new_static("AKIDBOOTSTRAP", "boot", NULL);
	struct aws_client *c = aws_client_new(&(struct aws_client_config){
		.creds = boot, .endpoint_url = moto.url, .max_attempts = 1});
	struct aws_params p = AWS_PARAMS_INIT;
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res;
	char *a = NULL, *s = NULL;
	int rc;

	aws_params_add(&p, "UserName", "gdb-controller");
	rc = aws_query_call(c, &iam, NULL, "CreateUser", &p, 0, &doc, &res, NULL);
	aws_params_release(&p);
	aws_xml_free(doc);
	if (rc == 0) {
		aws_params_add(&p, "UserName", "gdb-controller");
		rc = aws_query_call(c, &iam, NULL, "CreateAccessKey", &p, 0, &doc, &res, NULL);
		aws_params_release(&p);
		if (rc == 0) {
			a = aws_xml_get(res, "AccessKey/AccessKeyId");
			s = aws_xml_get(res, "AccessKey/SecretAccessKey");
		}
		aws_xml_free(doc);
	}
	if (rc == 0) {
		aws_params_add(&p, "UserName", "gdb-controller");
		aws_params_add(&p, "PolicyName", "all");
		aws_params_add(&p, "PolicyDocument",
			       "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
			       "\"Action\":\"*\",\"Resource\":\"*\"}]}");
		rc = aws_query_call(c, &iam, NULL, "PutUserPolicy", &p, 0, &doc, &res, NULL);
		aws_params_release(&p);
		aws_xml_free(doc);
	}
	if (rc == 0 && a && s) {
		snprintf(akid, sizeof(akid), "%s", a);
		snprintf(secret, sizeof(secret), "%s", s);
	}
	free(a);
	base_free_secret(s);
	aws_client_free(c);
	aws_creds_provider_free(boot);
	return rc == 0 && akid[0] ? 0 : -1;
}

static struct aws_client *client_with(struct aws_creds_provider *p)
{
	return aws_client_new(&(struct aws_client_config){
		.creds = p, .endpoint_url = moto.url, .max_attempts = 1});
}

START_TEST(test_signed_posts_pass_verification)
{
	struct aws_creds_provider *p = aws_creds_provider_new_static(akid, secret, NULL);
	struct aws_client *c = client_with(p);
	struct aws_rds_db_cluster_list l;
	struct aws_ssm_put_parameter_input in = {
		.name = "/sig/check", .value = "a b+c=d&e", .type = "String"};
	struct aws_sts_identity id;
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root;
	struct aws_error err;
	int rc;

	rc = aws_rds_describe_db_clusters(c, "eu-west-1", NULL, NULL, &l, &err);
	ck_assert_msg(rc == 0, "query: %s %s", err.code, err.message);
	aws_rds_db_cluster_list_release(&l);

	rc = aws_ssm_put_parameter(c, "eu-west-1", &in, NULL, &err);
	ck_assert_msg(rc == 0, "json: %s %s", err.code, err.message);

	rc = aws_rest_xml_call(
		c, &aws_svc_route53, "CreateHostedZone", "POST", "/2013-04-01/hostedzone", NULL,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><CreateHostedZoneRequest "
		"xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\"><Name>sig.example."
		"</Name><CallerReference>sig-1</CallerReference></CreateHostedZoneRequest>",
		&doc, &root, &err);
	ck_assert_msg(rc == 0, "rest-xml: %s %s", err.code, err.message);
	aws_xml_free(doc);

	rc = aws_sts_get_caller_identity(c, "eu-west-1", &id, &err);
	ck_assert_msg(rc == 0, "sts: %s %s", err.code, err.message);
	ck_assert_str_eq(id.arn, "arn:aws:iam::123456789012:user/gdb-controller");
	aws_sts_identity_release(&id);
	aws_client_free(c);
	aws_creds_provider_free(p);
}
END_TEST

START_TEST(test_wrong_secret_is_rejected)
{
	struct aws_creds_provider *p = aws_creds_provider_new_static(akid, "not-the-secret", NULL);
	struct aws_client *c = client_with(p);
	struct aws_rds_db_cluster_list l;
	struct aws_error err;

	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "eu-west-1", NULL, NULL, &l, &err),
			 BASE_EUNAUTHORIZED);
	ck_assert_str_eq(err.code, "SignatureDoesNotMatch");
	ck_assert_int_eq(err.http_status, 403);
	ck_assert_ptr_null(strstr(err.message, "not-the-secret"));
	aws_client_free(c);
	aws_creds_provider_free(p);
}
END_TEST

START_TEST(test_temporary_credentials_need_their_token)
{
	struct aws_creds_provider *p = aws_creds_provider_new_static(akid, secret, NULL);
	struct aws_client *c = client_with(p);
	struct aws_sts_assumed a;
	struct aws_sts_identity id;
	struct aws_error err;
	int rc;

	rc = aws_sts_assume_role(c, "eu-west-1", "arn:aws:iam::123456789012:role/ops", "sig-test",
				 NULL, 900, &a, &err);
	ck_assert_msg(rc == 0, "AssumeRole: %s %s", err.code, err.message);
	aws_client_free(c);
	aws_creds_provider_free(p);

	p = aws_creds_provider_new_static(a.creds.access_key_id, a.creds.secret_access_key,
					  a.creds.session_token);
	c = client_with(p);
	rc = aws_sts_get_caller_identity(c, "eu-west-1", &id, &err);
	ck_assert_msg(rc == 0, "with token: %s %s", err.code, err.message);
	ck_assert_str_eq(id.arn, "arn:aws:sts::123456789012:assumed-role/ops/sig-test");
	aws_sts_identity_release(&id);
	aws_client_free(c);
	aws_creds_provider_free(p);

	p = aws_creds_provider_new_static(a.creds.access_key_id, a.creds.secret_access_key, NULL);
	c = client_with(p);
	ck_assert_int_eq(aws_sts_get_caller_identity(c, "eu-west-1", &id, &err),
			 BASE_EUNAUTHORIZED);
	ck_assert_str_eq(err.code, "InvalidClientTokenId");
	aws_client_free(c);
	aws_creds_provider_free(p);
	aws_sts_assumed_release(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_sigv4_moto");
	TCase *tc = tcase_create("verified");
	SRunner *sr;
	int failed;

	setenv("INITIAL_NO_AUTH_ACTION_COUNT", "3", 1);
	if (moto_start(&moto) != 0) {
		fprintf(stderr, "cannot start moto_server\n");
		return 1;
	}
	unsetenv("INITIAL_NO_AUTH_ACTION_COUNT");
	if (bootstrap() != 0) {
		fprintf(stderr, "cannot create the IAM user in moto\n");
		moto_stop(&moto);
		return 1;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_signed_posts_pass_verification);
	tcase_add_test(tc, test_wrong_secret_is_rejected);
	tcase_add_test(tc, test_temporary_credentials_need_their_token);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	moto_stop(&moto);
	return failed ? 1 : 0;
}
