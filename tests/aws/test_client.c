/*
 * The call engine against a scripted loopback HTTP server: request encoding
 * for the three protocols, decoding of answers and errors in the real wire
 * format, retries (throttling at 30 % and 100 %, the retry budget, 5xx,
 * timeouts, transport errors), the response cap, and secrets kept out of
 * errors. Error bodies and their classification alone are in test_error.c,
 * the awsQuery encoding alone in test_proto.c, RDS's own bodies and answers
 * in test_rds_wire.c (and against moto in test_rds.c).
 * Size: over 800 lines, because one scripted server and its fixtures serve every case.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/ecs.h"
#include "pkg/aws/proto.h"
#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/aws/secretsmanager.h"
#include "pkg/aws/sigv4.h"
#include "pkg/aws/ssm.h"
#include "pkg/aws/xml.h"
#include "pkg/aws/sts.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "tests/aws/harness.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define TOKEN "FQoGZXIvYXdzEXAMPLETOKEN"

/* ---- scripted answers ---- */

struct script {
	/* per request index, cycling: 'T' throttle, '5' 500, 'Q' bare 429, 'S' slow, 'B' big,
	 * 'E' the scripted error, else ok */
	const char *status_pattern;
	int ok_status;
	const char *ok_type;
	const char *ok_body;
	int err_status;
	const char *err_body;
	const char *err_type;
	struct stub_request last; /* copy of the last request (body truncated) */
	char last_body[8192];
};

static void scripted(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	struct script *s = ud;
	size_t plen = s->status_pattern ? strlen(s->status_pattern) : 0;
	char c = plen ? s->status_pattern[req->index % plen] : '.';

	s->last = *req;
	snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)req->body_len, req->body);
	switch (c) {
	case 'T':
		resp->status = 400;
		resp->content_type = "text/xml";
		resp->body =
			xstrdup("<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
				"<Error><Type>Sender</Type><Code>Throttling</Code>"
				"<Message>Rate exceeded</Message></Error>"
				"<RequestId>req-throttled</RequestId></ErrorResponse>");
		return;
	case '5':
		resp->status = 500;
		resp->content_type = "text/xml";
		resp->body =
			xstrdup("<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure"
				"</Code><Message>oops</Message></Error></ErrorResponse>");
		return;
	case 'S':
		resp->delay_ms = 1500;
		break;
	case 'Q':
		resp->status = 429;
		return;
	case 'B': {
		size_t n = 3 << 20;
		char *b = xmalloc(n + 1);

		memset(b, 'x', n);
		b[n] = '\0';
		resp->body = b;
		resp->status = 200;
		return;
	}
	case 'E':
		resp->status = s->err_status;
		resp->content_type = s->err_type;
		resp->body = xstrdup(s->err_body);
		return;
	default:
		break;
	}
	resp->status = s->ok_status ? s->ok_status : 200;
	resp->content_type = s->ok_type ? s->ok_type : "text/xml";
	resp->body = xstrdup(s->ok_body ? s->ok_body : "");
}

static const char *describe_clusters_ok =
	"<DescribeDBClustersResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
	"<DescribeDBClustersResult><DBClusters/></DescribeDBClustersResult>"
	"<ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>"
	"</DescribeDBClustersResponse>";

static struct stub *stub;
static struct script script;
static struct aws_creds_provider *creds;
static char url[64];

static void setup(void)
{
	memset(&script, 0, sizeof(script));
	script.ok_body = describe_clusters_ok;
	stub = stub_start(scripted, &script);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", stub_port(stub));
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	creds = aws_creds_provider_new_static("AKIDEXAMPLE", SECRET, TOKEN);
}

static void teardown(void)
{
	stub_stop(stub);
	aws_creds_provider_free(creds);
}

static struct aws_client *new_client(int max_attempts, int quota)
{
	return stub_client(creds, url, max_attempts, quota);
}

static const char *hdr(const char *name)
{
	static char v[4096];

	return stub_header(&script.last, name, v, sizeof(v));
}

/* ---- encoding ---- */

START_TEST(test_query_request_is_encoded_and_signed)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_global_cluster_list l;
	char authz[4096], host[128], date[32], tok[256], ctype[128];
	struct aws_sigv4_header h[4];
	struct aws_sigv4_request req;
	struct aws_sigv4_result res;
	const struct aws_sigv4_key key = {"AKIDEXAMPLE", SECRET, "eu-west-1", "rds"};

	script.ok_body =
		"<DescribeGlobalClustersResponse><DescribeGlobalClustersResult>"
		"<GlobalClusters/></DescribeGlobalClustersResult></DescribeGlobalClustersResponse>";
	ck_assert_int_eq(aws_rds_describe_global_clusters(c, "eu-west-1", "orders-gdb", "eu-west-1",
							  &l, NULL),
			 0);
	ck_assert_str_eq(script.last.method, "POST");
	ck_assert_str_eq(script.last.target, "/");
	ck_assert_str_eq(script.last_body,
			 "Action=DescribeGlobalClusters&Version=2014-10-31&GlobalClusterIdentifier="
			 "orders-gdb&Filters.Filter.1.Name=region&Filters.Filter.1.Values.Value.1="
			 "eu-west-1");
	snprintf(ctype, sizeof(ctype), "%s", hdr("Content-Type"));
	ck_assert_str_eq(ctype, "application/x-www-form-urlencoded; charset=utf-8");
	snprintf(tok, sizeof(tok), "%s", hdr("X-Amz-Security-Token"));
	ck_assert_str_eq(tok, TOKEN);
	snprintf(authz, sizeof(authz), "%s", hdr("Authorization"));
	snprintf(host, sizeof(host), "%s", hdr("Host"));
	snprintf(date, sizeof(date), "%s", hdr("X-Amz-Date"));
	ck_assert_ptr_nonnull(strstr(authz, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
	ck_assert_ptr_nonnull(strstr(authz, "/eu-west-1/rds/aws4_request, SignedHeaders="
					    "content-type;host;x-amz-date;x-amz-security-token, "));
	ck_assert_ptr_null(strstr(authz, SECRET));
	/* What arrived is what was signed: recompute from the received request. */
	h[0] = (struct aws_sigv4_header){"content-type", ctype};
	h[1] = (struct aws_sigv4_header){"host", host};
	h[2] = (struct aws_sigv4_header){"x-amz-date", date};
	h[3] = (struct aws_sigv4_header){"x-amz-security-token", tok};
	req = (struct aws_sigv4_request){
		"POST", "/", NULL, h, 4, script.last_body, strlen(script.last_body)};
	ck_assert_int_eq(aws_sigv4_sign(&req, &key, date, &res), 0);
	ck_assert_str_eq(res.authorization, authz);
	aws_sigv4_result_release(&res);
	aws_rds_global_cluster_list_release(&l);
	aws_client_free(c);
}
END_TEST

START_TEST(test_override_base_path_is_sent_and_signed)
{
	char u[96], authz[4096], host[128], date[32], tok[256], ctype[128];
	struct aws_client *c;
	struct aws_rds_db_cluster_list l;
	struct aws_sigv4_header h[4];
	struct aws_sigv4_request req;
	struct aws_sigv4_result res;
	const struct aws_sigv4_key key = {"AKIDEXAMPLE", SECRET, "us-east-1", "rds"};

	snprintf(u, sizeof(u), "%s/prefix/", url);
	c = aws_client_new(&(struct aws_client_config){.creds = creds, .endpoint_url = u});
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, NULL), 0);
	ck_assert_str_eq(script.last.target, "/prefix/");
	snprintf(ctype, sizeof(ctype), "%s", hdr("Content-Type"));
	snprintf(tok, sizeof(tok), "%s", hdr("X-Amz-Security-Token"));
	snprintf(authz, sizeof(authz), "%s", hdr("Authorization"));
	snprintf(host, sizeof(host), "%s", hdr("Host"));
	snprintf(date, sizeof(date), "%s", hdr("X-Amz-Date"));
	h[0] = (struct aws_sigv4_header){"content-type", ctype};
	h[1] = (struct aws_sigv4_header){"host", host};
	h[2] = (struct aws_sigv4_header){"x-amz-date", date};
	h[3] = (struct aws_sigv4_header){"x-amz-security-token", tok};
	req = (struct aws_sigv4_request){
		"POST", "/prefix/", NULL, h, 4, script.last_body, strlen(script.last_body)};
	ck_assert_int_eq(aws_sigv4_sign(&req, &key, date, &res), 0);
	ck_assert_str_eq(res.authorization, authz);
	aws_sigv4_result_release(&res);
	aws_rds_db_cluster_list_release(&l);
	aws_client_free(c);
}
END_TEST

START_TEST(test_json_request_has_target_and_type)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_ecs_service s;
	char target[256], authz[1024];

	script.ok_type = "application/x-amz-json-1.1";
	script.ok_body =
		"{\"service\":{\"serviceName\":\"api\",\"status\":\"ACTIVE\","
		"\"desiredCount\":2,\"runningCount\":1,\"deployments\":[{\"id\":\"ecs-svc/1\","
		"\"status\":\"PRIMARY\",\"rolloutState\":\"IN_PROGRESS\",\"runningCount\":0,"
		"\"desiredCount\":2,\"createdAt\":1767322000.123}]}}";
	ck_assert_int_eq(aws_ecs_update_service(c, "eu-west-1", "apps", "api", 1, &s, NULL), 0);
	snprintf(target, sizeof(target), "%s", hdr("X-Amz-Target"));
	ck_assert_str_eq(target, "AmazonEC2ContainerServiceV20141113.UpdateService");
	ck_assert_str_eq(hdr("Content-Type"), "application/x-amz-json-1.1");
	ck_assert_str_eq(script.last_body,
			 "{\"cluster\":\"apps\",\"service\":\"api\",\"forceNewDeployment\":true}");
	snprintf(authz, sizeof(authz), "%s", hdr("Authorization"));
	ck_assert_ptr_nonnull(strstr(authz,
				     "/eu-west-1/ecs/aws4_request, SignedHeaders=content-type;"
				     "host;x-amz-date;x-amz-security-token;x-amz-target, "));
	ck_assert_str_eq(s.deployments[0].rollout_state, "IN_PROGRESS");
	ck_assert(s.deployments[0].created_at_ms == 1767322000123LL);
	ck_assert_int_eq((int)s.running_count, 1);
	aws_ecs_service_release(&s);
	aws_client_free(c);
}
END_TEST

START_TEST(test_route53_requests_use_global_signing)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_r53_record_list l;
	char authz[1024];

	script.ok_body =
		"<?xml version=\"1.0\"?><ListResourceRecordSetsResponse xmlns=\"https://"
		"route53.amazonaws.com/doc/2013-04-01/\"><ResourceRecordSets><ResourceRecordSet>"
		"<Name>\\052.example.com.</Name><Type>CNAME</Type><TTL>60</TTL>"
		"<ResourceRecords><ResourceRecord><Value>a.example.com</Value></ResourceRecord>"
		"</ResourceRecords></ResourceRecordSet><ResourceRecordSet><Name>alias.example."
		"com.</Name><Type>A</Type><AliasTarget><HostedZoneId>Z2</HostedZoneId><DNSName>"
		"lb.example.</DNSName><EvaluateTargetHealth>true</EvaluateTargetHealth>"
		"</AliasTarget></ResourceRecordSet></ResourceRecordSets><IsTruncated>true"
		"</IsTruncated><NextRecordName>b.example.com.</NextRecordName><NextRecordType>A"
		"</NextRecordType><MaxItems>2</MaxItems></ListResourceRecordSetsResponse>";
	ck_assert_int_eq(aws_route53_list_resource_record_sets(c, "/hostedzone/Z123",
							       "*.example.com.", "CNAME", NULL, 2,
							       &l, NULL),
			 0);
	ck_assert_str_eq(script.last.method, "GET");
	ck_assert_str_eq(
		script.last.target,
		"/2013-04-01/hostedzone/Z123/rrset?maxitems=2&name=%2A.example.com.&type=CNAME");
	snprintf(authz, sizeof(authz), "%s", hdr("Authorization"));
	/* Route 53 is global: signed for us-east-1 whatever region the caller is in. */
	ck_assert_ptr_nonnull(strstr(authz, "/us-east-1/route53/aws4_request"));
	ck_assert_int_eq((int)l.n, 2);
	ck_assert_str_eq(l.items[0].name, "\\052.example.com.");
	ck_assert_str_eq(l.items[0].values[0], "a.example.com");
	ck_assert_str_eq(l.items[1].alias_dns_name, "lb.example.");
	ck_assert_int_eq(l.items[1].alias_evaluate_target_health, 1);
	ck_assert_int_eq(l.is_truncated, 1);
	ck_assert_str_eq(l.next_name, "b.example.com.");
	aws_r53_record_list_release(&l);
	aws_client_free(c);
}
END_TEST

START_TEST(test_web_identity_call_is_unsigned)
{
	struct aws_client *c = aws_client_new(&(struct aws_client_config){.endpoint_url = url});
	struct aws_sts_assumed a;
	struct aws_error err;

	script.ok_body =
		"<AssumeRoleWithWebIdentityResponse "
		"xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
		"<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAEXAMPLE</"
		"AccessKeyId>"
		"<SecretAccessKey>sk</SecretAccessKey><SessionToken>st</SessionToken>"
		"<Expiration>2026-11-27T05:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>"
		"arn:aws:sts::1:assumed-role/r/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId>"
		"</AssumedRoleUser></AssumeRoleWithWebIdentityResult></"
		"AssumeRoleWithWebIdentityResponse>";
	ck_assert_int_eq(aws_sts_assume_role_with_web_identity(c, "eu-west-1",
							       "arn:aws:iam::1:role/r", "s",
							       "jwt.token.here", 0, &a, &err),
			 0);
	ck_assert_str_eq(hdr("Authorization"), "");
	ck_assert_str_eq(hdr("X-Amz-Date"), "");
	ck_assert_str_eq(
		script.last_body,
		"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam"
		"%3A%3A1%3Arole%2Fr&RoleSessionName=s&WebIdentityToken=jwt.token.here");
	ck_assert_str_eq(a.creds.access_key_id, "ASIAEXAMPLE");
	ck_assert_str_eq(a.creds.session_token, "st");
	ck_assert(a.creds.expiration_ms == 1795755600000LL);
	ck_assert_str_eq(a.assumed_role_arn, "arn:aws:sts::1:assumed-role/r/s");
	aws_sts_assumed_release(&a);
	aws_client_free(c);
}
END_TEST

/* ---- decoding ---- */

START_TEST(test_query_error_wire_code)
{
	struct aws_client *c = new_client(3, 0);
	struct aws_rds_db_instance_list l;
	struct aws_error err;

	script.status_pattern = "E";
	script.err_status = 404;
	script.err_type = "text/xml";
	script.err_body =
		"<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error>"
		"<Type>Sender</Type><Code>DBInstanceNotFound</Code><Message>DBInstance x "
		"not found.</Message></Error><RequestId>abc-123</RequestId></ErrorResponse>";
	ck_assert_int_eq(aws_rds_describe_db_instances(c, "us-east-1", "x", NULL, &l, &err),
			 BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "DBInstanceNotFound");
	ck_assert_str_eq(err.message, "DBInstance x not found.");
	ck_assert_str_eq(err.request_id, "abc-123");
	ck_assert_int_eq(err.http_status, 404);
	ck_assert_int_eq(err.attempts, 1);
	aws_client_free(c);
}
END_TEST

START_TEST(test_json_error_type_is_normalised)
{
	struct aws_client *c = new_client(3, 0);
	struct aws_ssm_parameter p;
	struct aws_secret_value v;
	struct aws_error err;

	script.status_pattern = "E";
	script.err_status = 400;
	script.err_type = "application/x-amz-json-1.1";
	script.err_body = "{\"__type\":\"com.amazonaws.ssm#ParameterNotFound:http://internal/\","
			  "\"message\":\"Parameter /x not found\"}";
	ck_assert_int_eq(aws_ssm_get_parameter(c, "eu-west-1", "/x", 0, &p, &err), BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "ParameterNotFound");
	ck_assert_str_eq(err.message, "Parameter /x not found");

	script.err_body = "{\"__type\":\"AccessDeniedException\",\"Message\":\"no\"}";
	ck_assert_int_eq(
		aws_secretsmanager_get_secret_value(c, "eu-west-1", "s", NULL, NULL, &v, &err),
		BASE_EFORBIDDEN);
	ck_assert_str_eq(err.code, "AccessDeniedException");
	ck_assert_str_eq(err.message, "no");
	aws_client_free(c);
}
END_TEST

START_TEST(test_secret_binary_is_base64_decoded)
{
	json_t *a = json_loads("{\"ARN\":\"arn:s\",\"Name\":\"n\",\"SecretBinary\":\"AAECAw==\","
			       "\"VersionStages\":[\"AWSCURRENT\"],\"CreatedDate\":1.5}",
			       0, NULL);
	struct aws_secret_value v;

	ck_assert_int_eq(aws_secretsmanager_decode(a, &v), 0);
	ck_assert_int_eq((int)v.secret_binary_len, 4);
	ck_assert_int_eq(v.secret_binary[3], 3);
	ck_assert(v.created_ms == 1500);
	aws_secret_value_release(&v);
	json_decref(a);
	a = json_loads("{\"SecretBinary\":\"not base64!\"}", 0, NULL);
	ck_assert_int_eq(aws_secretsmanager_decode(a, &v), BASE_EPARSE);
	json_decref(a);
}
END_TEST

/* ---- retries ---- */

START_TEST(test_throttling_at_30_percent_succeeds_after_retries)
{
	/* 3 throttles in every 10 requests, never 3 in a row. */
	struct aws_client *c = new_client(3, 0);
	struct base_metric *m =
		base_metric_counter("globaldb_aws_requests_total",
				    "AWS API HTTP requests by service, operation and outcome",
				    "service,operation,code");
	int calls = 50;

	script.status_pattern = "T..T..T...";
	for (int i = 0; i < calls; i++) {
		struct aws_rds_db_cluster_list l;
		struct aws_error err;
		int rc = aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err);

		ck_assert_msg(rc == 0, "call %d: %s", i, err.message);
		aws_rds_db_cluster_list_release(&l);
	}
	/* Every throttled request was retried; the answers were 30 % throttles. */
	ck_assert_int_gt(stub_count(stub), calls);
	ck_assert(base_metric_value(m, "rds", "DescribeDBClusters", "ok") == calls);
	ck_assert(base_metric_value(m, "rds", "DescribeDBClusters", "Throttling") ==
		  stub_count(stub) - calls);
	ck_assert_int_ge((stub_count(stub) - calls) * 10, stub_count(stub) * 3 - 10);
	/* Successful retries refund their cost: the budget is whole again. */
	ck_assert_int_eq(aws_client_retry_tokens(c), 500);
	aws_client_free(c);
}
END_TEST

START_TEST(test_throttling_at_100_percent_fails_bounded_when_budget_spent)
{
	/* A budget of 20 tokens pays for 4 retries (5 each). */
	struct aws_client *c = new_client(3, 20);
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	int64_t start = base_now_mono_ms();
	int rc;

	script.status_pattern = "T";
	rc = aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err);
	ck_assert_int_eq(rc, BASE_ETHROTTLED);
	ck_assert_int_eq(err.attempts, 3);
	ck_assert_str_eq(err.code, "Throttling");
	ck_assert_msg(strstr(err.message, "gave up after 3 attempts") != NULL, "%s", err.message);
	ck_assert_int_eq(aws_client_retry_tokens(c), 10);

	rc = aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err);
	ck_assert_int_eq(rc, BASE_ETHROTTLED);
	ck_assert_int_eq(err.attempts, 3);
	ck_assert_int_eq(aws_client_retry_tokens(c), 0);

	/* Budget spent: one attempt, and the error says why. */
	for (int i = 0; i < 5; i++) {
		rc = aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err);
		ck_assert_int_eq(rc, BASE_ETHROTTLED);
		ck_assert_int_eq(err.attempts, 1);
		ck_assert_msg(strstr(err.message, "retry budget spent") != NULL, "%s", err.message);
	}
	ck_assert_int_eq(stub_count(stub), 3 + 3 + 5);
	ck_assert_int_lt((int)(base_now_mono_ms() - start), 5000);
	aws_client_free(c);
}
END_TEST

START_TEST(test_server_errors_and_bare_429_are_retried)
{
	struct aws_client *c = new_client(3, 0);
	struct aws_rds_db_cluster_list l;
	struct aws_error err;

	script.status_pattern = "5Q.";
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err), 0);
	ck_assert_int_eq(err.attempts, 3);
	aws_rds_db_cluster_list_release(&l);
	aws_client_free(c);
}
END_TEST

START_TEST(test_timeouts_are_bounded)
{
	struct aws_client *c = new_client(2, 0);
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	int64_t start = base_now_mono_ms();

	script.status_pattern = "S";
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err),
			 BASE_ETIMEDOUT);
	ck_assert_int_eq(err.attempts, 2);
	ck_assert_int_lt((int)(base_now_mono_ms() - start), 4000);
	aws_client_free(c);
}
END_TEST

/*
 * Virtual time for the deadline tests: only the client's backoff sleeps move
 * it, and the random source is fixed, so the count of attempts is exact on any
 * machine. (On real time, ten full-jitter waits of 0-400 ms fit in 1 s about
 * once in a hundred runs, so "fewer than 10" was a bet, not a check.)
 */
struct vclock {
	int64_t now;
	uint64_t rand;
	int n_sleeps;
	int64_t slept_ms;
};

static int64_t vclock_now(void *ud)
{
	return ((struct vclock *)ud)->now;
}

static void vclock_sleep(void *ud, int64_t ms)
{
	struct vclock *v = ud;

	v->now += ms;
	v->slept_ms += ms;
	v->n_sleeps++;
}

static uint64_t vclock_rand(void *ud)
{
	return ((struct vclock *)ud)->rand;
}

/*
 * One DescribeDBClusters against a server that always throttles, on virtual
 * time whose random source always answers rand: up to 10 attempts, waits of
 * 400 ms at most (full jitter: rand mod 401), a 1 s deadline.
 */
static void throttled_call(uint64_t rand, struct vclock *v, struct aws_error *err)
{
	struct base_clock clk = {vclock_now, vclock_sleep, vclock_rand, v};
	struct aws_client_config cfg = {.creds = creds,
					.endpoint_url = url,
					.max_attempts = 10,
					.retry_base_ms = 400,
					.retry_cap_ms = 400,
					.call_timeout_ms = 1000,
					.clock = &clk};
	struct aws_client *c;
	struct aws_rds_db_cluster_list l;

	*v = (struct vclock){.now = 1000000, .rand = rand};
	c = aws_client_new(&cfg);
	script.status_pattern = "T";
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, err),
			 BASE_ETHROTTLED);
	aws_client_free(c);
}

/*
 * A call that changes RDS is sent once when its answer times out: the first
 * request may have been applied, and a second RemoveFromGlobalCluster or
 * CreateDBCluster is not the same request again (the planner re-reads RDS
 * and decides). A Describe is still retried (test_timeouts_are_bounded).
 */
#define SENT_ONCE(call)                                                                            \
	do {                                                                                       \
		struct aws_error err_;                                                             \
		int before_ = stub_count(stub);                                                    \
		int rc_;                                                                           \
                                                                                                   \
		aws_error_clear(&err_);                                                            \
		rc_ = (call);                                                                      \
		ck_assert_msg(rc_ == BASE_ETIMEDOUT && err_.attempts == 1,                         \
			      "%s: rc %d after %d attempts, want a timeout after 1", #call, rc_,   \
			      err_.attempts);                                                      \
		/* the slow stub answers the request it got, and no other */                       \
		while (stub_count(stub) == before_)                                                \
			base_sleep_ms(50);                                                         \
		ck_assert_int_eq(stub_count(stub), before_ + 1);                                   \
	} while (0)

START_TEST(test_mutating_rds_calls_are_sent_once_after_a_timeout)
{
	struct aws_client *c = new_client(3, 0);
	const char *arn = "arn:aws:rds:us-west-2:111122223333:cluster:b";
	struct aws_rds_global_cluster g;
	struct aws_rds_db_cluster cl;
	struct aws_rds_db_instance in;
	struct aws_rds_cluster_snapshot sn;
	struct aws_rds_create_global_cluster_input gin = {.global_cluster_identifier = "gdb-2",
							  .source_db_cluster_arn = arn};
	struct aws_rds_create_db_cluster_input cin = {.db_cluster_identifier = "a",
						      .engine = "aurora-postgresql",
						      .global_cluster_identifier = "gdb-2"};
	struct aws_rds_create_db_instance_input iin = {.db_instance_identifier = "a-1",
						       .db_instance_class = "db.r6g.large",
						       .engine = "aurora-postgresql",
						       .db_cluster_identifier = "a",
						       .promotion_tier = -1};

	script.status_pattern = "S";
	SENT_ONCE(aws_rds_remove_from_global_cluster(c, "us-west-2", "gdb", arn, &g, &err_));
	SENT_ONCE(aws_rds_failover_global_cluster(c, "us-west-2", "gdb", arn, 1, &g, &err_));
	SENT_ONCE(aws_rds_switchover_global_cluster(c, "us-east-1", "gdb", arn, &g, &err_));
	SENT_ONCE(aws_rds_create_global_cluster(c, "us-west-2", &gin, &g, &err_));
	SENT_ONCE(aws_rds_delete_global_cluster(c, "us-west-2", "gdb", &g, &err_));
	SENT_ONCE(aws_rds_create_db_cluster(c, "us-east-1", &cin, &cl, &err_));
	SENT_ONCE(aws_rds_delete_db_cluster(c, "us-east-1", "a", 0, "a-final", &cl, &err_));
	SENT_ONCE(aws_rds_create_db_instance(c, "us-east-1", &iin, &in, &err_));
	SENT_ONCE(aws_rds_delete_db_instance(c, "us-east-1", "a-1", 1, &in, &err_));
	SENT_ONCE(aws_rds_copy_db_cluster_snapshot(c, "us-east-1", "rds:x", "x-copy", NULL,
						   AWS_UNSET, &sn, &err_));
	aws_client_free(c);
}
END_TEST

START_TEST(test_call_deadline_caps_retries)
{
	struct vclock v;
	struct aws_error err;

	/* Every wait is the longest full jitter allows: 400 ms. Attempts at 0, 400
	 * and 800 ms; a third wait would end past the 1 s deadline. */
	throttled_call(400, &v, &err);
	ck_assert_int_eq(err.attempts, 3);
	ck_assert_int_eq(v.n_sleeps, 2);
	ck_assert_int_eq(v.slept_ms, 800);
	ck_assert_msg(strstr(err.message, "call deadline reached after 3 attempts") != NULL, "%s",
		      err.message);
	ck_assert_int_eq(stub_count(stub), 3);
}
END_TEST

START_TEST(test_max_attempts_caps_retries_inside_the_deadline)
{
	struct vclock v;
	struct aws_error err;

	/* Every wait is the shortest full jitter allows: 0 ms. */
	throttled_call(0, &v, &err);
	ck_assert_int_eq(err.attempts, 10);
	ck_assert_int_eq(v.n_sleeps, 9);
	ck_assert_msg(strstr(err.message, "gave up after 10 attempts") != NULL, "%s", err.message);
	ck_assert_int_eq(stub_count(stub), 10);
}
END_TEST

START_TEST(test_unreachable_endpoint_is_a_transport_error)
{
	struct aws_client_config cfg = {.creds = creds,
					.endpoint_url = "http://127.0.0.1:1",
					.max_attempts = 2,
					.retry_base_ms = 5};
	struct aws_client *c = aws_client_new(&cfg);
	struct aws_rds_db_cluster_list l;
	struct aws_error err;

	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err),
			 BASE_ETRANSPORT);
	ck_assert_int_eq(err.attempts, 2);
	ck_assert_int_eq(err.http_status, 0);
	aws_client_free(c);
}
END_TEST

START_TEST(test_response_body_is_capped)
{
	struct aws_client_config cfg = {
		.creds = creds, .endpoint_url = url, .max_response_bytes = 1 << 20};
	struct aws_client *c = aws_client_new(&cfg);
	struct aws_rds_db_cluster_list l;
	struct aws_error err;

	script.status_pattern = "B";
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err),
			 BASE_ETOOBIG);
	ck_assert_int_eq(err.attempts, 1);
	aws_client_free(c);
}
END_TEST

START_TEST(test_expired_token_refreshes_credentials_once)
{
	struct aws_creds_provider *env;
	struct aws_client *c;
	struct aws_rds_db_cluster_list l;
	struct aws_error err;

	setenv("AWS_ACCESS_KEY_ID", "ASIAOLD", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "old", 1);
	setenv("AWS_SESSION_TOKEN", "old-token", 1);
	env = aws_creds_provider_new_chain(NULL);
	c = aws_client_new(
		&(struct aws_client_config){.creds = env, .endpoint_url = url, .max_attempts = 1});
	script.status_pattern = "E.";
	script.err_status = 400;
	script.err_type = "text/xml";
	script.err_body =
		"<ErrorResponse><Error><Code>ExpiredToken</Code><Message>The security "
		"token included in the request is expired</Message></Error></ErrorResponse>";
	/* Meanwhile the environment was updated with fresh credentials. */
	setenv("AWS_ACCESS_KEY_ID", "ASIANEW", 1);
	setenv("AWS_SESSION_TOKEN", "new-token", 1);
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err), 0);
	ck_assert_int_eq(err.attempts, 2);
	ck_assert_str_eq(hdr("X-Amz-Security-Token"), "new-token");
	aws_rds_db_cluster_list_release(&l);

	/* Expired again right after a refresh: reported, not looped on. */
	script.status_pattern = "E";
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err),
			 BASE_EUNAUTHORIZED);
	ck_assert_str_eq(err.code, "ExpiredToken");
	ck_assert_int_eq(err.attempts, 2);
	aws_client_free(c);
	aws_creds_provider_free(env);
}
END_TEST

static void skewed(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	char date[64], *seen = ud;
	time_t ahead = time(NULL) + 3600;
	struct tm tm;

	gmtime_r(&ahead, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	stub_header(req, "X-Amz-Date", seen + req->index * 32, 32);
	resp->headers = req->index == 0 ? xasprintf("Date: %s\r\n", date) : NULL;
	resp->content_type = "text/xml";
	if (req->index == 0) {
		resp->status = 400;
		resp->body =
			xstrdup("<ErrorResponse><Error><Code>RequestExpired</Code><Message>Request "
				"has expired.</Message></Error></ErrorResponse>");
	} else {
		resp->body = xstrdup(describe_clusters_ok);
	}
}

START_TEST(test_clock_skew_is_corrected_from_the_date_header)
{
	char seen[4 * 32] = {0};
	struct stub *s = stub_start(skewed, seen);
	char u[64];
	struct aws_client *c;
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	struct tm tm = {0};
	int64_t first, second;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d", stub_port(s));
	c = aws_client_new(
		&(struct aws_client_config){.creds = creds, .endpoint_url = u, .max_attempts = 1});
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, &err), 0);
	ck_assert_int_eq(err.attempts, 2);
	aws_rds_db_cluster_list_release(&l);
	ck_assert_ptr_nonnull(strptime(seen, "%Y%m%dT%H%M%SZ", &tm));
	first = (int64_t)timegm(&tm);
	ck_assert_ptr_nonnull(strptime(seen + 32, "%Y%m%dT%H%M%SZ", &tm));
	second = (int64_t)timegm(&tm);
	/* The retry was signed an hour ahead, as the server's clock is. */
	ck_assert_int_ge((int)(second - first), 3590);
	ck_assert_int_le((int)(second - first), 3610);
	aws_client_free(c);
	stub_stop(s);
}
END_TEST

START_TEST(test_secrets_stay_out_of_errors)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_db_cluster cl;
	struct aws_error err;
	struct aws_rds_create_db_cluster_input in = {
		.db_cluster_identifier = "x",
		.engine = "aurora-postgresql",
		.master_username = "postgres",
		.master_user_password = "hunter2-very-secret",
	};

	script.status_pattern = "E";
	script.err_status = 403;
	script.err_type = "text/xml";
	script.err_body = "<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code><Message>The "
			  "request signature we calculated does not match</Message></Error>"
			  "</ErrorResponse>";
	ck_assert_int_eq(aws_rds_create_db_cluster(c, "us-east-1", &in, &cl, &err),
			 BASE_EUNAUTHORIZED);
	ck_assert_ptr_null(strstr(err.message, SECRET));
	ck_assert_ptr_null(strstr(err.message, TOKEN));
	ck_assert_ptr_null(strstr(err.message, "hunter2"));
	ck_assert_int_eq(err.attempts, 1);
	aws_client_free(c);
}
END_TEST

START_TEST(test_bad_region_and_override_are_refused)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_db_cluster_list l;
	char *u = NULL;
	const char *sr;

	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1/../x", NULL, NULL, &l, NULL),
			 BASE_EINVAL);
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, NULL, NULL, NULL, &l, NULL), BASE_EINVAL);
	ck_assert_int_eq(stub_count(stub), 0);
	aws_client_free(c);

	/* Without an override: https on the real host; with a bad override: refused. */
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_RDS");
	c = aws_client_new(&(struct aws_client_config){.creds = creds});
	ck_assert_int_eq(aws_client_endpoint(c, &aws_svc_rds, "eu-west-1", &u, &sr), 0);
	ck_assert_str_eq(u, "https://rds.eu-west-1.amazonaws.com");
	free(u);
	ck_assert_int_eq(aws_client_endpoint(c, &aws_svc_route53, "eu-west-1", &u, &sr), 0);
	ck_assert_str_eq(u, "https://route53.amazonaws.com");
	ck_assert_str_eq(sr, "us-east-1");
	free(u);
	setenv("AWS_ENDPOINT_URL_RDS", "ftp://127.0.0.1:5000", 1);
	ck_assert_int_eq(aws_client_endpoint(c, &aws_svc_rds, "eu-west-1", &u, &sr), BASE_EINVAL);
	setenv("AWS_ENDPOINT_URL_RDS", "http://user:pw@127.0.0.1:5000", 1);
	ck_assert_int_eq(aws_client_endpoint(c, &aws_svc_rds, "eu-west-1", &u, &sr), BASE_EINVAL);
	unsetenv("AWS_ENDPOINT_URL_RDS");
	aws_client_free(c);
}
END_TEST

/* An https override to a server whose certificate is not trusted fails; nothing is sent. */
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
	rc = aws_rds_describe_db_clusters(c, "eu-west-1", NULL, NULL, &l, &err);
	ck_assert_int_eq(rc, BASE_ETRANSPORT);
	ck_assert_msg(strstr(err.message, "certificate") != NULL, "%s", err.message);
	aws_client_free(c);
	moto_stop(&tls);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_client");
	TCase *enc = tcase_create("encoding");
	TCase *dec = tcase_create("decoding");
	TCase *ret = tcase_create("retries");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(enc, setup, teardown);
	tcase_add_checked_fixture(dec, setup, teardown);
	tcase_add_checked_fixture(ret, setup, teardown);
	tcase_set_timeout(ret, 30);
	tcase_add_test(enc, test_query_request_is_encoded_and_signed);
	tcase_add_test(enc, test_override_base_path_is_sent_and_signed);
	tcase_add_test(enc, test_json_request_has_target_and_type);
	tcase_add_test(enc, test_route53_requests_use_global_signing);
	tcase_add_test(enc, test_web_identity_call_is_unsigned);
	tcase_add_test(enc, test_bad_region_and_override_are_refused);
	tcase_add_test(dec, test_query_error_wire_code);
	tcase_add_test(dec, test_json_error_type_is_normalised);
	tcase_add_test(dec, test_secret_binary_is_base64_decoded);
	tcase_add_test(ret, test_throttling_at_30_percent_succeeds_after_retries);
	tcase_add_test(ret, test_throttling_at_100_percent_fails_bounded_when_budget_spent);
	tcase_add_test(ret, test_server_errors_and_bare_429_are_retried);
	tcase_add_test(ret, test_timeouts_are_bounded);
	tcase_add_test(ret, test_call_deadline_caps_retries);
	tcase_add_test(ret, test_max_attempts_caps_retries_inside_the_deadline);
	tcase_add_test(ret, test_mutating_rds_calls_are_sent_once_after_a_timeout);
	tcase_add_test(ret, test_unreachable_endpoint_is_a_transport_error);
	tcase_add_test(ret, test_response_body_is_capped);
	tcase_add_test(ret, test_expired_token_refreshes_credentials_once);
	tcase_add_test(ret, test_clock_skew_is_corrected_from_the_date_header);
	tcase_add_test(ret, test_secrets_stay_out_of_errors);
	tcase_add_test(ret, test_tls_is_verified);
	suite_add_tcase(s, enc);
	suite_add_tcase(s, dec);
	suite_add_tcase(s, ret);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
