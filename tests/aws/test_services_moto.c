/*
 * Route 53, ECS, SSM, Secrets Manager and STS operations against a real moto
 * server on a free loopback port. Fixtures moto needs but the controller
 * never calls (a hosted zone, an ECS cluster and service, a secret) are
 * created through the same protocol layer (aws_rest_xml_call /
 * aws_json_call), so no other client is involved.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/ecs.h"
#include "pkg/aws/proto.h"
#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/aws/secretsmanager.h"
#include "pkg/aws/ssm.h"
#include "pkg/aws/sts.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/harness.h"

static struct moto moto;
static struct aws_creds_provider *creds;
static struct aws_client *client;

#define REGION "eu-west-1"

static void setup(void)
{
	client = test_client_open(&moto, &creds);
}

static void teardown(void)
{
	test_client_close(client, creds);
}

/* Creates a hosted zone and returns its bare id (caller frees). */
static char *create_zone(const char *name)
{
	char *body =
		xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			  "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/"
			  "2013-04-01/\"><Name>%s</Name><CallerReference>%s-ref</CallerReference>"
			  "</CreateHostedZoneRequest>",
			  name, name);
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root;
	struct aws_error err;
	char *id, *bare;
	int rc = aws_rest_xml_call(client, &aws_svc_route53, "CreateHostedZone", "POST",
				   "/2013-04-01/hostedzone", NULL, body, &doc, &root, &err);

	ck_assert_msg(rc == 0, "CreateHostedZone: %s %s", err.code, err.message);
	id = aws_xml_get(root, "HostedZone/Id");
	ck_assert_ptr_nonnull(id);
	bare = xstrdup(strrchr(id, '/') ? strrchr(id, '/') + 1 : id);
	free(id);
	free(body);
	aws_xml_free(doc);
	return bare;
}

START_TEST(test_route53_upsert_cname_and_read_it_back)
{
	char *zone = create_zone("example.com.");
	char *hz = xasprintf("/hostedzone/%s", zone);
	const char *v1[] = {"orders.cluster-abc.us-east-1.rds.amazonaws.com"};
	const char *v2[] = {"orders.cluster-def.eu-west-1.rds.amazonaws.com"};
	struct aws_r53_change ch = {"UPSERT", "db.example.com.", "CNAME", 30, v1, 1, NULL, -1};
	struct aws_r53_change_info ci, ci2;
	struct aws_r53_record_list l;
	struct aws_error err;
	int rc;

	/* The zone id is accepted with its /hostedzone/ prefix. */
	rc = aws_route53_change_resource_record_sets(client, hz, "primary us-east-1", &ch, 1, &ci,
						     &err);
	ck_assert_msg(rc == 0, "ChangeResourceRecordSets: %s %s", err.code, err.message);
	ck_assert_ptr_nonnull(ci.id);
	ck_assert_ptr_null(strchr(ci.id, '/'));
	ck_assert_ptr_nonnull(ci.status);

	rc = aws_route53_get_change(client, ci.id, &ci2, &err);
	ck_assert_msg(rc == 0, "GetChange: %s %s", err.code, err.message);
	ck_assert_str_eq(ci2.id, ci.id);
	ck_assert_str_eq(ci2.status, "INSYNC");
	aws_r53_change_info_release(&ci);
	aws_r53_change_info_release(&ci2);

	/* Flip it (the DNS half of a switchover), then read the one record. */
	ch.values = v2;
	ck_assert_int_eq(
		aws_route53_change_resource_record_sets(client, zone, NULL, &ch, 1, &ci, &err), 0);
	aws_r53_change_info_release(&ci);
	rc = aws_route53_list_resource_record_sets(client, zone, "db.example.com.", "CNAME", NULL,
						   1, &l, &err);
	ck_assert_msg(rc == 0, "ListResourceRecordSets: %s %s", err.code, err.message);
	ck_assert_int_eq((int)l.n, 1);
	ck_assert_str_eq(l.items[0].name, "db.example.com.");
	ck_assert_str_eq(l.items[0].type, "CNAME");
	ck_assert_int_eq((int)l.items[0].ttl, 30);
	ck_assert_int_eq((int)l.items[0].nvalues, 1);
	ck_assert_str_eq(l.items[0].values[0], v2[0]);
	aws_r53_record_list_release(&l);

	/* The whole zone, paged two records at a time (SOA, NS, CNAME). */
	{
		char *name = NULL, *type = NULL;
		int total = 0, pages = 0;

		do {
			rc = aws_route53_list_resource_record_sets(client, zone, name, type, NULL,
								   2, &l, &err);
			ck_assert_int_eq(rc, 0);
			total += (int)l.n;
			pages++;
			free(name);
			free(type);
			name = l.next_name ? xstrdup(l.next_name) : NULL;
			type = l.next_type ? xstrdup(l.next_type) : NULL;
			ck_assert(!l.is_truncated || name);
			aws_r53_record_list_release(&l);
		} while (name && pages < 10);
		ck_assert_int_eq(total, 3);
		ck_assert_int_eq(pages, 2);
	}
	free(zone);
	free(hz);
}
END_TEST

START_TEST(test_route53_errors_carry_their_codes)
{
	char *zone = create_zone("errors.example.");
	const char *v[] = {"x.example."};
	struct aws_r53_change del = {"DELETE", "nothing.errors.example.", "CNAME", 30, v, 1, NULL,
				     -1};
	struct aws_r53_change_info ci;
	struct aws_r53_record_list l;
	struct aws_error err;
	int rc;

	rc = aws_route53_list_resource_record_sets(client, "ZNOSUCHZONE1", NULL, NULL, NULL, 0, &l,
						   &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "NoSuchHostedZone");
	ck_assert_int_eq(err.http_status, 404);

	/*
	 * DELETE of a record that does not exist: the batch is refused as a caller
	 * error and not retried (AWS says InvalidChangeBatch, moto InvalidInput).
	 */
	rc = aws_route53_change_resource_record_sets(client, zone, NULL, &del, 1, &ci, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	ck_assert_msg(strcmp(err.code, "InvalidChangeBatch") == 0 ||
			      strcmp(err.code, "InvalidInput") == 0,
		      "%s: %s", err.code, err.message);
	ck_assert_int_eq(err.attempts, 1);

	/* Ids that would change the path or query never reach the wire. */
	rc = aws_route53_get_change(client, "C1?maxitems=1", &ci, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	rc = aws_route53_get_change(client, "/change/", &ci, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	free(zone);
}
END_TEST

static void json_ok(const struct aws_service *svc, const char *op, const char *body)
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

START_TEST(test_ecs_force_new_deployment)
{
	struct aws_ecs_service svc;
	struct aws_ecs_services l;
	const char *names[] = {"api", "ghost"};
	struct aws_error err;
	int rc;

	json_ok(&aws_svc_ecs, "CreateCluster", "{\"clusterName\":\"apps\"}");
	json_ok(&aws_svc_ecs, "RegisterTaskDefinition",
		"{\"family\":\"api\",\"containerDefinitions\":[{\"name\":\"api\","
		"\"image\":\"api:1\",\"memory\":128}]}");
	json_ok(&aws_svc_ecs, "CreateService",
		"{\"cluster\":\"apps\",\"serviceName\":\"api\",\"taskDefinition\":\"api\","
		"\"desiredCount\":2}");

	rc = aws_ecs_update_service(client, REGION, "apps", "api", 1, &svc, &err);
	ck_assert_msg(rc == 0, "UpdateService: %s %s", err.code, err.message);
	ck_assert_str_eq(svc.name, "api");
	ck_assert_str_eq(svc.status, "ACTIVE");
	ck_assert_int_eq((int)svc.desired_count, 2);
	ck_assert_int_ge((int)svc.ndeployments, 1);
	ck_assert_ptr_nonnull(svc.deployments[0].status);
	ck_assert_int_gt((int)(svc.deployments[0].created_at_ms / 1000000), 0);
	ck_assert_ptr_nonnull(strstr(svc.arn, ":service/"));
	aws_ecs_service_release(&svc);

	rc = aws_ecs_describe_services(client, REGION, "apps", names, 2, &l, &err);
	ck_assert_msg(rc == 0, "DescribeServices: %s", err.message);
	ck_assert_int_eq((int)l.n, 1);
	ck_assert_str_eq(l.items[0].name, "api");
	ck_assert_ptr_nonnull(strstr(l.items[0].task_definition, "task-definition/api:1"));
	ck_assert_int_eq((int)l.nfailures, 1);
	ck_assert_str_eq(l.failures[0].reason, "MISSING");
	aws_ecs_services_release(&l);

	rc = aws_ecs_update_service(client, REGION, "apps", "ghost", 1, &svc, &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "ServiceNotFoundException");
}
END_TEST

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

START_TEST(test_tls_is_verified)
{
	struct moto tls;
	struct aws_client *c;
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	int rc;

	/* An https override to a server with a self-signed certificate must fail. */
	ck_assert_int_eq(tls_server_start(&tls), 0);
	c = aws_client_new(&(struct aws_client_config){
		.creds = creds, .endpoint_url = tls.url, .max_attempts = 1});
	rc = aws_rds_describe_db_clusters(c, REGION, NULL, NULL, &l, &err);
	ck_assert_int_eq(rc, BASE_ETRANSPORT);
	ck_assert_msg(strstr(err.message, "certificate") != NULL, "%s", err.message);
	aws_client_free(c);
	moto_stop(&tls);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_services_moto");
	TCase *tc = tcase_create("services");
	SRunner *sr;
	int failed;

	if (moto_start(&moto) != 0) {
		fprintf(stderr, "cannot start moto_server\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_route53_upsert_cname_and_read_it_back);
	tcase_add_test(tc, test_route53_errors_carry_their_codes);
	tcase_add_test(tc, test_ecs_force_new_deployment);
	tcase_add_test(tc, test_ssm_parameter_round_trip);
	tcase_add_test(tc, test_secret_value_is_read);
	tcase_add_test(tc, test_caller_identity);
	tcase_add_test(tc, test_tls_is_verified);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	moto_stop(&moto);
	return failed ? 1 : 0;
}
