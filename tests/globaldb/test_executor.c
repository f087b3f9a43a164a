/*
 * pkg/globaldb/executor: each action the planner chooses becomes the AWS
 * call it names, in the region it names, with the identifiers it names; the
 * outcome comes back as the planner's enum gdb_call with the AWS code and
 * message. Against tests/aws/harness.c's scripted loopback server, which
 * records every request (region from the signature, action, decoded
 * parameters) and answers success unless the test scripts a failure for a
 * region or an action.
 *
 * Kubernetes workload restarts are covered by the e2e tier (real apiserver);
 * the specs here name ECS services only.
 */
#include <check.h>
#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/base/alloc.h"
#include "pkg/globaldb/executor.h"
#include "pkg/globaldb/types.h"
#include "tests/aws/harness.h"

#define MAX_SEEN 32

/* One request as the server saw it: "<region> <Action>" and its decoded parameters. */
struct seen {
	char call[128];
	char params[4096];
};

static struct {
	pthread_mutex_t lock;
	struct seen seen[MAX_SEEN];
	int n;
	/* Scripted failures: every request signed for dead_region gets a 503; the first
	 * request whose action is fail_action gets fail_status with fail_body. */
	char dead_region[32];
	char fail_action[64];
	int fail_status;
	const char *fail_body;
	/* The DescribeDBInstances answer, when set. */
	const char *instances;
} script = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* "a%3Ab+c" -> "a:b c" (form encoding, for readable assertions). */
static void url_decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (in[i] == '%' && i + 2 < n && isxdigit((unsigned char)in[i + 1]) &&
		    isxdigit((unsigned char)in[i + 2])) {
			char hex[3] = {in[i + 1], in[i + 2], 0};

			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = in[i] == '+' ? ' ' : in[i];
		}
	}
	out[o] = '\0';
}

/* The region of the SigV4 credential scope: Credential=AKID/<date>/<region>/<svc>/aws4_request. */
static void signed_region(const struct stub_request *req, char *out, size_t n)
{
	char authz[1024];
	const char *p =
		strstr(stub_header(req, "Authorization", authz, sizeof(authz)), "Credential=");
	int slash = 0;
	size_t o = 0;

	for (p = p ? p : ""; *p && *p != ',' && o + 1 < n; p++) {
		if (*p == '/')
			slash++;
		else if (slash == 2)
			out[o++] = *p;
	}
	out[o] = '\0';
}

/* The API action: Action= for the query protocol, X-Amz-Target for JSON, the path for Route 53. */
static void action_of(const struct stub_request *req, char *out, size_t n)
{
	char target[256];
	const char *a;

	if (*stub_header(req, "X-Amz-Target", target, sizeof(target))) {
		a = strchr(target, '.');
		snprintf(out, n, "%.63s", a ? a + 1 : target);
	} else if (strstr(req->target, "/rrset")) {
		snprintf(out, n, "ChangeResourceRecordSets");
	} else if (req->body && (a = strstr(req->body, "Action="))) {
		snprintf(out, n, "%.*s", (int)strcspn(a + 7, "&"), a + 7);
	} else {
		snprintf(out, n, "%.15s %.40s", req->method, req->target);
	}
}

static void answer(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	char region[32], action[64], target[128];
	struct seen *s;

	(void)ud;
	signed_region(req, region, sizeof(region));
	action_of(req, action, sizeof(action));
	pthread_mutex_lock(&script.lock);
	if (script.n < MAX_SEEN) {
		s = &script.seen[script.n++];
		snprintf(s->call, sizeof(s->call), "%s %s", region, action);
		url_decode(req->body ? req->body : "", req->body_len, s->params, sizeof(s->params));
	}
	resp->status = 200;
	if (*script.dead_region && !strcmp(region, script.dead_region)) {
		resp->status = 503;
		resp->content_type = "text/plain";
		resp->body = xstrdup("service unavailable");
	} else if (*script.fail_action && !strcmp(action, script.fail_action)) {
		script.fail_action[0] = '\0';
		resp->status = script.fail_status;
		resp->content_type = strchr(script.fail_body, '{') == script.fail_body
					     ? "application/x-amz-json-1.1"
					     : "text/xml";
		resp->body = xstrdup(script.fail_body);
	} else if (*stub_header(req, "X-Amz-Target", target, sizeof(target))) {
		resp->content_type = "application/x-amz-json-1.1";
		resp->body = xstrdup(
			strstr(target, "UpdateService")
				? "{\"service\":{\"serviceName\":\"s\",\"status\":\"ACTIVE\"}}"
				: "{\"Version\":2,\"Tier\":\"Standard\"}");
	} else if (strstr(req->target, "/rrset")) {
		resp->content_type = "text/xml";
		resp->body = xstrdup("<ChangeResourceRecordSetsResponse><ChangeInfo>"
				     "<Id>/change/C0123456789</Id><Status>PENDING</Status>"
				     "</ChangeInfo></ChangeResourceRecordSetsResponse>");
	} else if (!strcmp(action, "DescribeDBInstances") && script.instances) {
		resp->content_type = "text/xml";
		resp->body = xstrdup(script.instances);
	} else {
		const char *el = strstr(action, "GlobalCluster") ? "GlobalCluster"
				 : strstr(action, "Snapshot")	 ? "DBClusterSnapshot"
				 : strstr(action, "DBInstances") ? "DBInstances"
				 : strstr(action, "Instance")	 ? "DBInstance"
								 : "DBCluster";

		resp->content_type = "text/xml";
		resp->body = xasprintf("<%sResponse><%sResult><%s><Status>ok</Status></%s>"
				       "</%sResult></%sResponse>",
				       action, action, el, el, action, action);
	}
	pthread_mutex_unlock(&script.lock);
}

static struct stub *stub;
static struct aws_creds_provider *creds;
static struct aws_client *aws;
static struct gdb_spec spec;
static struct gdb_exec_ctx ctx;

/* Two regions (us-east-1 writes), a template for us-west-2, DNS, SSM and three ECS services. */
static const char *spec_json =
	"{\"globalClusterIdentifier\":\"orders-global\",\"primaryRegion\":\"us-east-1\","
	"\"regions\":[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"},"
	"{\"name\":\"us-west-2\",\"dbClusterIdentifier\":\"orders-west\","
	"\"template\":{\"instanceClass\":\"db.r6g.xlarge\",\"dbSubnetGroupName\":\"db-west\","
	"\"vpcSecurityGroupIds\":[\"sg-0a1b2c3d\"],\"kmsKeyId\":\"alias/orders-west\"}}],"
	"\"healthCheck\":{\"credentialsSecretRef\":{\"name\":\"pg\"}},"
	"\"dns\":{\"hostedZoneId\":\"Z0123456789ABC\",\"writerRecordName\":\"db.orders.internal\","
	"\"readerRecordName\":\"ro.orders.internal\",\"ttlSeconds\":5},"
	"\"ssm\":{\"parameterPrefix\":\"/orders/db\"},"
	"\"workloads\":{\"ecsServices\":["
	"{\"region\":\"us-east-1\",\"cluster\":\"apps\",\"service\":\"api\"},"
	"{\"region\":\"us-west-2\",\"cluster\":\"apps\",\"service\":\"api\"},"
	"{\"region\":\"us-east-1\",\"cluster\":\"apps\",\"service\":\"worker\"}]}}";

static void setup(void)
{
	char url[64], err[256];
	json_error_t jerr;
	json_t *js;

	pthread_mutex_lock(&script.lock);
	script.n = 0;
	script.dead_region[0] = script.fail_action[0] = '\0';
	script.instances = NULL;
	pthread_mutex_unlock(&script.lock);
	stub = stub_start(answer, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", stub_port(stub));
	creds = aws_creds_provider_new_static("AKIDEXAMPLE", "secret-not-logged", NULL);
	aws = aws_client_new(&(struct aws_client_config){.creds = creds,
							 .endpoint_url = url,
							 .max_attempts = 1,
							 .attempt_timeout_ms = 5000});
	ck_assert_ptr_nonnull(aws);
	js = json_loads(spec_json, 0, &jerr);
	ck_assert_msg(js != NULL, "%s", jerr.text);
	ck_assert_msg(gdb_spec_decode(js, &spec, err, sizeof(err)) == 0, "%s", err);
	json_decref(js);
	ctx = (struct gdb_exec_ctx){.aws = aws, .spec = &spec};
}

static void teardown(void)
{
	stub_stop(stub);
	aws_client_free(aws);
	aws_creds_provider_free(creds);
	gdb_spec_release(&spec);
}

static int n_seen(void)
{
	int n;

	pthread_mutex_lock(&script.lock);
	n = script.n;
	pthread_mutex_unlock(&script.lock);
	return n;
}

static const struct seen *seen(int i)
{
	ck_assert_int_lt(i, n_seen());
	return &script.seen[i];
}

static void fail_next(const char *action, int status, const char *body)
{
	pthread_mutex_lock(&script.lock);
	snprintf(script.fail_action, sizeof(script.fail_action), "%s", action);
	script.fail_status = status;
	script.fail_body = body;
	pthread_mutex_unlock(&script.lock);
}

static void kill_region(const char *region)
{
	pthread_mutex_lock(&script.lock);
	snprintf(script.dead_region, sizeof(script.dead_region), "%s", region);
	pthread_mutex_unlock(&script.lock);
}

static void run(const struct gdb_action *a, struct gdb_exec_result *out)
{
	gdb_execute(&ctx, a, out);
}

#define ARN_EAST "arn:aws:rds:us-east-1:123456789012:cluster:orders-east"
#define ARN_WEST "arn:aws:rds:us-west-2:123456789012:cluster:orders-west"

/* ---- each RDS action: the call, its region, its parameters ---- */

static const struct {
	const char *name;
	struct gdb_action action;
	const char *call;      /* "<region> <Action>" */
	const char *params[4]; /* each must appear in the decoded body */
	const char *absent;    /* must not appear, or NULL */
} rds_rows[] = {
	{"switchover moves the writer to the target",
	 {.kind = GDB_ACT_SWITCHOVER,
	  .region = "us-west-2",
	  .global_cluster_identifier = "orders-global",
	  .target_arn = ARN_WEST},
	 "us-west-2 SwitchoverGlobalCluster",
	 {"GlobalClusterIdentifier=orders-global", "TargetDbClusterIdentifier=" ARN_WEST},
	 "AllowDataLoss"},
	{"a managed failover allows the data loss the planner accepted",
	 {.kind = GDB_ACT_FAILOVER_MANAGED,
	  .region = "us-west-2",
	  .global_cluster_identifier = "orders-global",
	  .target_arn = ARN_WEST},
	 "us-west-2 FailoverGlobalCluster",
	 {"GlobalClusterIdentifier=orders-global", "TargetDbClusterIdentifier=" ARN_WEST,
	  "AllowDataLoss=true"},
	 NULL},
	{"detach-and-promote removes the target from the global cluster",
	 {.kind = GDB_ACT_DETACH_AND_PROMOTE,
	  .region = "us-west-2",
	  .global_cluster_identifier = "orders-global",
	  .target_arn = ARN_WEST},
	 "us-west-2 RemoveFromGlobalCluster",
	 {"GlobalClusterIdentifier=orders-global", "DbClusterIdentifier=" ARN_WEST},
	 NULL},
	{"a secondary leaves the global cluster",
	 {.kind = GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER,
	  .region = "us-west-2",
	  .global_cluster_identifier = "orders-global",
	  .target_arn = ARN_WEST},
	 "us-west-2 RemoveFromGlobalCluster",
	 {"DbClusterIdentifier=" ARN_WEST},
	 NULL},
	{"fencing the old writer keeps a final snapshot of its lost writes",
	 {.kind = GDB_ACT_FENCE_OLD_WRITER,
	  .region = "us-east-1",
	  .db_cluster_identifier = "orders-east",
	  .snapshot_id = "orders-east-fenced"},
	 "us-east-1 DeleteDBCluster",
	 {"DBClusterIdentifier=orders-east", "FinalDBSnapshotIdentifier=orders-east-fenced"},
	 "SkipFinalSnapshot"},
	{"deleting a cluster without a snapshot name skips the snapshot",
	 {.kind = GDB_ACT_DELETE_CLUSTER,
	  .region = "us-west-2",
	  .db_cluster_identifier = "orders-west"},
	 "us-west-2 DeleteDBCluster",
	 {"DBClusterIdentifier=orders-west", "SkipFinalSnapshot=true"},
	 "FinalDBSnapshotIdentifier"},
	{"an old global cluster is deleted by name",
	 {.kind = GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER,
	  .region = "us-east-1",
	  .global_cluster_identifier = "orders-global"},
	 "us-east-1 DeleteGlobalCluster",
	 {"GlobalClusterIdentifier=orders-global"},
	 NULL},
	{"a new global cluster is created from the writer cluster",
	 {.kind = GDB_ACT_CREATE_GLOBAL_CLUSTER,
	  .region = "us-east-1",
	  .global_cluster_identifier = "orders-global-2",
	  .target_arn = ARN_EAST},
	 "us-east-1 CreateGlobalCluster",
	 {"GlobalClusterIdentifier=orders-global-2", "SourceDBClusterIdentifier=" ARN_EAST},
	 NULL},
	{"a secondary is created from its region's template, encrypted with its key",
	 {.kind = GDB_ACT_CREATE_SECONDARY_CLUSTER,
	  .region = "us-west-2",
	  .global_cluster_identifier = "orders-global",
	  .db_cluster_identifier = "orders-west",
	  .engine_version = "15.4"},
	 "us-west-2 CreateDBCluster",
	 {"DBClusterIdentifier=orders-west&Engine=aurora-postgresql",
	  "GlobalClusterIdentifier=orders-global", "DBSubnetGroupName=db-west",
	  "KmsKeyId=alias/orders-west"},
	 NULL},
	{"an instance takes its class from the region's template",
	 {.kind = GDB_ACT_CREATE_INSTANCE,
	  .region = "us-west-2",
	  .db_cluster_identifier = "orders-west",
	  .instance_id = "orders-west-1"},
	 "us-west-2 CreateDBInstance",
	 {"DBInstanceIdentifier=orders-west-1", "DBInstanceClass=db.r6g.xlarge",
	  "DBClusterIdentifier=orders-west", "Engine=aurora-postgresql"},
	 NULL},
	{"an instance in a region without a template gets the default class",
	 {.kind = GDB_ACT_CREATE_INSTANCE,
	  .region = "us-east-1",
	  .db_cluster_identifier = "orders-east",
	  .instance_id = "orders-east-1"},
	 "us-east-1 CreateDBInstance",
	 {"DBInstanceClass=db.r6g.large"},
	 NULL},
	{"the failover snapshot is copied under its new name",
	 {.kind = GDB_ACT_COPY_FAILOVER_SNAPSHOT,
	  .region = "us-east-1",
	  .source_snapshot_id = "orders-east-fenced",
	  .snapshot_id = "orders-east-lost-writes"},
	 "us-east-1 CopyDBClusterSnapshot",
	 {"SourceDBClusterSnapshotIdentifier=orders-east-fenced",
	  "TargetDBClusterSnapshotIdentifier=orders-east-lost-writes"},
	 NULL},
};

START_TEST(each_rds_action_makes_its_call_in_its_region)
{
	struct gdb_exec_result r;

	run(&rds_rows[_i].action, &r);
	ck_assert_msg(r.call == GDB_CALL_OK, "%s: call %d (%s: %s)", rds_rows[_i].name, r.call,
		      r.aws_code, r.message);
	ck_assert_int_eq(n_seen(), 1);
	ck_assert_str_eq(seen(0)->call, rds_rows[_i].call);
	for (int p = 0; p < 4 && rds_rows[_i].params[p]; p++)
		ck_assert_msg(strstr(seen(0)->params, rds_rows[_i].params[p]), "%s: no %s in %s",
			      rds_rows[_i].name, rds_rows[_i].params[p], seen(0)->params);
	if (rds_rows[_i].absent)
		ck_assert_msg(!strstr(seen(0)->params, rds_rows[_i].absent), "%s: %s in %s",
			      rds_rows[_i].name, rds_rows[_i].absent, seen(0)->params);
	gdb_exec_result_release(&r);
}
END_TEST

START_TEST(actions_without_a_call_touch_nothing)
{
	static const enum gdb_action_kind quiet[] = {
		GDB_ACT_NONE, GDB_ACT_WAIT, GDB_ACT_WAIT_DNS_INSYNC, GDB_ACT_RECOMMEND_FAILOVER,
		GDB_ACT_REMOVE_FINALIZER};
	struct gdb_exec_result r;

	for (size_t i = 0; i < sizeof(quiet) / sizeof(*quiet); i++) {
		struct gdb_action a = {.kind = quiet[i], .region = "us-east-1"};

		ck_assert(!gdb_action_calls_aws(quiet[i]));
		run(&a, &r);
		ck_assert_int_eq(r.call, GDB_CALL_OK);
		gdb_exec_result_release(&r);
	}
	ck_assert_int_eq(n_seen(), 0);
	for (size_t i = 0; i < sizeof(rds_rows) / sizeof(*rds_rows); i++)
		ck_assert(gdb_action_calls_aws(rds_rows[i].action.kind));
	ck_assert(gdb_action_calls_aws(GDB_ACT_UPSERT_DNS));
	ck_assert(gdb_action_calls_aws(GDB_ACT_PUBLISH_SSM));
	ck_assert(gdb_action_calls_aws(GDB_ACT_RESTART_WORKLOADS));
	ck_assert(gdb_action_calls_aws(GDB_ACT_DELETE_INSTANCES));
}
END_TEST

/* ---- outcomes: what the planner reads back next round ---- */

START_TEST(aws_refusals_come_back_with_their_code_and_message)
{
	struct gdb_action a = {.kind = GDB_ACT_SWITCHOVER,
			       .region = "us-west-2",
			       .global_cluster_identifier = "orders-global",
			       .target_arn = ARN_WEST};
	struct gdb_exec_result r;

	fail_next("SwitchoverGlobalCluster", 400,
		  "<ErrorResponse><Error><Type>Sender</Type>"
		  "<Code>InvalidGlobalClusterStateFault</Code>"
		  "<Message>Global cluster orders-global is modifying</Message>"
		  "</Error></ErrorResponse>");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_INVALID_STATE);
	ck_assert_str_eq(r.aws_code, "InvalidGlobalClusterStateFault");
	ck_assert_str_eq(r.message, "Global cluster orders-global is modifying");
	gdb_exec_result_release(&r);

	fail_next("SwitchoverGlobalCluster", 400,
		  "<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded</Message>"
		  "</Error></ErrorResponse>");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_THROTTLED);
	ck_assert_str_eq(r.aws_code, "Throttling");
	gdb_exec_result_release(&r);

	fail_next("SwitchoverGlobalCluster", 403,
		  "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not authorized to "
		  "perform rds:SwitchoverGlobalCluster</Message></Error></ErrorResponse>");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_FORBIDDEN);
	ck_assert_ptr_nonnull(strstr(r.message, "rds:SwitchoverGlobalCluster"));
	gdb_exec_result_release(&r);

	fail_next("SwitchoverGlobalCluster", 404,
		  "<ErrorResponse><Error><Code>GlobalClusterNotFoundFault</Code>"
		  "<Message>gone</Message></Error></ErrorResponse>");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_NOT_FOUND);
	gdb_exec_result_release(&r);

	/* A region whose API does not answer: unreachable, with a message, no code. */
	kill_region("us-west-2");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_UNREACHABLE);
	ck_assert_str_eq(r.aws_code, "");
	ck_assert_str_ne(r.message, "");
	gdb_exec_result_release(&r);
	ck_assert_int_eq(n_seen(), 5);
}
END_TEST

/* ---- DNS ---- */

START_TEST(dns_upsert_points_both_records_at_the_new_region_and_returns_the_change)
{
	struct gdb_action a = {.kind = GDB_ACT_UPSERT_DNS,
			       .region = "us-west-2",
			       .writer_endpoint = "orders-west.cluster-x.rds.amazonaws.com",
			       .reader_endpoint = "orders-west.cluster-ro-x.rds.amazonaws.com"};
	struct gdb_exec_result r;
	const char *p;

	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_OK);
	ck_assert_str_eq(r.change_id, "C0123456789");
	ck_assert_int_eq(n_seen(), 1);
	/* Route 53 is global: signed for us-east-1 whatever the writer's region. */
	ck_assert_str_eq(seen(0)->call, "us-east-1 ChangeResourceRecordSets");
	p = seen(0)->params;
	ck_assert_ptr_nonnull(strstr(p, "<Name>db.orders.internal</Name>"));
	ck_assert_ptr_nonnull(strstr(p, "<Name>ro.orders.internal</Name>"));
	ck_assert_ptr_nonnull(strstr(p, "<Value>orders-west.cluster-x.rds.amazonaws.com</Value>"));
	ck_assert_ptr_nonnull(strstr(p, "<Value>orders-west.cluster-ro-x.rds.amazonaws.com"));
	ck_assert_ptr_nonnull(strstr(p, "<Action>UPSERT</Action>"));
	ck_assert_ptr_nonnull(strstr(p, "<TTL>5</TTL>"));
	gdb_exec_result_release(&r);
}
END_TEST

/* ---- SSM ---- */

START_TEST(ssm_is_published_in_every_region_and_a_dead_other_region_is_skipped)
{
	struct gdb_action a = {.kind = GDB_ACT_PUBLISH_SSM,
			       .region = "us-west-2",
			       .global_cluster_identifier = "orders-global",
			       .writer_endpoint = "orders-west.cluster-x.rds.amazonaws.com"};
	struct gdb_exec_result r;

	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_OK);
	ck_assert_int_eq(n_seen(), 6); /* three parameters in each of two regions */
	ck_assert_str_eq(seen(0)->call, "us-east-1 PutParameter");
	ck_assert_str_eq(seen(5)->call, "us-west-2 PutParameter");
	ck_assert_ptr_nonnull(strstr(seen(1)->params, "\"Name\":\"/orders/db/primaryRegion\""));
	ck_assert_ptr_nonnull(strstr(seen(1)->params, "\"Value\":\"us-west-2\""));
	ck_assert_ptr_nonnull(strstr(seen(1)->params, "\"Overwrite\":true"));
	gdb_exec_result_release(&r);

	/* The old writer's region is down: the new writer's parameters still get written. */
	script.n = 0;
	kill_region("us-east-1");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_OK);
	ck_assert_int_eq(n_seen(), 4); /* one try in the dead region, three in the live one */
	ck_assert_str_eq(seen(3)->call, "us-west-2 PutParameter");
	gdb_exec_result_release(&r);

	/* The writer's own region is down: that fails the call, to be retried. */
	script.n = 0;
	kill_region("us-west-2");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_UNREACHABLE);
	gdb_exec_result_release(&r);
}
END_TEST

/* ---- ECS restarts ---- */

START_TEST(ecs_restarts_go_on_past_a_dead_region_and_say_which_were_done)
{
	struct gdb_action a = {.kind = GDB_ACT_RESTART_WORKLOADS,
			       .region = "us-east-1",
			       .restart_stamp = "2026-01-01T00:00:00Z"};
	struct gdb_exec_result r;

	kill_region("us-west-2");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_OK);
	ck_assert_str_eq(r.ecs_restarted, "us-east-1/apps/api,us-east-1/apps/worker");
	ck_assert_ptr_nonnull(r.ecs_unreachable);
	ck_assert_ptr_nonnull(strstr(r.ecs_unreachable, "us-west-2/apps/api"));
	ck_assert_int_eq(n_seen(), 3);
	ck_assert_ptr_nonnull(strstr(seen(0)->params, "\"forceNewDeployment\":true"));
	gdb_exec_result_release(&r);
}
END_TEST

START_TEST(ecs_services_restarted_earlier_in_the_operation_are_not_forced_again)
{
	struct gdb_action a = {.kind = GDB_ACT_RESTART_WORKLOADS,
			       .region = "us-east-1",
			       .restart_stamp = "2026-01-01T00:00:00Z",
			       .ecs_skip = (1u << 0) | (1u << 2)};
	struct gdb_exec_result r;

	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_OK);
	ck_assert_str_eq(r.ecs_restarted, "us-west-2/apps/api");
	ck_assert_ptr_null(r.ecs_unreachable);
	ck_assert_int_eq(n_seen(), 1);
	ck_assert_str_eq(seen(0)->call, "us-west-2 UpdateService");
	gdb_exec_result_release(&r);
}
END_TEST

START_TEST(an_ecs_failure_in_the_writers_region_fails_the_call_but_not_the_others)
{
	struct gdb_action a = {.kind = GDB_ACT_RESTART_WORKLOADS,
			       .region = "us-east-1",
			       .restart_stamp = "2026-01-01T00:00:00Z"};
	struct gdb_exec_result r;

	fail_next("UpdateService", 400,
		  "{\"__type\":\"AccessDeniedException\",\"message\":\"not authorized to perform "
		  "ecs:UpdateService\"}");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_FORBIDDEN);
	ck_assert_str_eq(r.aws_code, "AccessDeniedException");
	ck_assert_ptr_nonnull(strstr(r.message, "ECS services not restarted: us-east-1/apps/api"));
	/* The two others were still forced, and are listed so a retry skips them. */
	ck_assert_str_eq(r.ecs_restarted, "us-west-2/apps/api,us-east-1/apps/worker");
	ck_assert_int_eq(n_seen(), 3);
	gdb_exec_result_release(&r);
}
END_TEST

START_TEST(a_missing_ecs_service_is_skipped)
{
	struct gdb_action a = {.kind = GDB_ACT_RESTART_WORKLOADS,
			       .region = "us-east-1",
			       .restart_stamp = "2026-01-01T00:00:00Z"};
	struct gdb_exec_result r;

	fail_next("UpdateService", 400,
		  "{\"__type\":\"ServiceNotFoundException\",\"message\":\"Service not found.\"}");
	run(&a, &r);
	ck_assert_int_eq(r.call, GDB_CALL_OK);
	ck_assert_str_eq(r.ecs_restarted, "us-west-2/apps/api,us-east-1/apps/worker");
	gdb_exec_result_release(&r);
}
END_TEST

/* ---- instances ---- */

START_TEST(deleting_instances_skips_those_already_deleting)
{
	struct gdb_action a = {.kind = GDB_ACT_DELETE_INSTANCES,
			       .region = "us-west-2",
			       .db_cluster_identifier = "orders-west"};
	struct gdb_exec_result r;

	script.instances =
		"<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>"
		"<DBInstance><DBInstanceIdentifier>orders-west-1</DBInstanceIdentifier>"
		"<DBInstanceStatus>available</DBInstanceStatus>"
		"<DBClusterIdentifier>orders-west</DBClusterIdentifier></DBInstance>"
		"<DBInstance><DBInstanceIdentifier>orders-west-2</DBInstanceIdentifier>"
		"<DBInstanceStatus>deleting</DBInstanceStatus>"
		"<DBClusterIdentifier>orders-west</DBClusterIdentifier></DBInstance>"
		"<DBInstance><DBInstanceIdentifier>orders-west-3</DBInstanceIdentifier>"
		"<DBInstanceStatus>available</DBInstanceStatus>"
		"<DBClusterIdentifier>orders-west</DBClusterIdentifier></DBInstance>"
		"</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>";
	/* orders-west-1 vanished between the describe and the delete: not an error. */
	fail_next("DeleteDBInstance", 404,
		  "<ErrorResponse><Error><Code>DBInstanceNotFound</Code><Message>gone</Message>"
		  "</Error></ErrorResponse>");
	run(&a, &r);
	ck_assert_msg(r.call == GDB_CALL_OK, "call %d: %s", r.call, r.message);
	ck_assert_int_eq(n_seen(), 3);
	ck_assert_str_eq(seen(0)->call, "us-west-2 DescribeDBInstances");
	ck_assert_ptr_nonnull(strstr(seen(0)->params, "orders-west"));
	ck_assert_str_eq(seen(1)->call, "us-west-2 DeleteDBInstance");
	ck_assert_ptr_nonnull(strstr(seen(1)->params, "DBInstanceIdentifier=orders-west-1&"));
	ck_assert_str_eq(seen(2)->call, "us-west-2 DeleteDBInstance");
	ck_assert_ptr_nonnull(strstr(seen(2)->params, "DBInstanceIdentifier=orders-west-3&"));
	gdb_exec_result_release(&r);
}
END_TEST

static Suite *executor_suite(void)
{
	Suite *s = suite_create("globaldb_executor");
	TCase *tc = tcase_create("all");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, each_rds_action_makes_its_call_in_its_region, 0,
			    (int)(sizeof(rds_rows) / sizeof(*rds_rows)));
	tcase_add_test(tc, actions_without_a_call_touch_nothing);
	tcase_add_test(tc, aws_refusals_come_back_with_their_code_and_message);
	tcase_add_test(tc, dns_upsert_points_both_records_at_the_new_region_and_returns_the_change);
	tcase_add_test(tc, ssm_is_published_in_every_region_and_a_dead_other_region_is_skipped);
	tcase_add_test(tc, ecs_restarts_go_on_past_a_dead_region_and_say_which_were_done);
	tcase_add_test(tc, ecs_services_restarted_earlier_in_the_operation_are_not_forced_again);
	tcase_add_test(tc, an_ecs_failure_in_the_writers_region_fails_the_call_but_not_the_others);
	tcase_add_test(tc, a_missing_ecs_service_is_skipped);
	tcase_add_test(tc, deleting_instances_skips_those_already_deleting);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(executor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
