/*
 * The global-cluster operations plain moto lacks, against our moto extension
 * (tests/env/awsemu, docs/awsemu.md) on a free loopback port: switchover and
 * managed failover with their FailoverState sequence, detach in a secondary
 * region, DescribeGlobalClusters' identifier and region filter; and the retry
 * policy under the extension's throttling injection (30 % and 100 %) and
 * region outages (5xx and hang).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/rds.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "tests/aws/harness.h"

static struct moto emu;
static struct aws_creds_provider *creds;
static struct aws_client *client;

#define PRIMARY "us-east-1"
#define SECONDARY "eu-west-1"

static void setup(void)
{
	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/reset", "{}"), 200);
	client = test_client_open(&emu, &creds);
}

static void teardown(void)
{
	test_client_close(client, creds);
}

static void add_cluster(const char *region, const char *id, const char *gc, int primary,
			struct aws_rds_db_cluster *out)
{
	struct aws_rds_create_db_cluster_input in = {
		.db_cluster_identifier = id,
		.engine = "aurora-postgresql",
		.engine_version = "15.4",
		.global_cluster_identifier = gc,
		.master_username = primary ? "postgres" : NULL,
		.master_user_password = primary ? "s3cret-pass" : NULL,
	};
	struct aws_rds_create_db_instance_input inst = {
		.db_instance_class = "db.r6g.large",
		.engine = "aurora-postgresql",
		.db_cluster_identifier = id,
		.promotion_tier = -1,
	};
	struct aws_rds_db_instance i;
	struct aws_error err;
	char iid[64];
	int rc = aws_rds_create_db_cluster(client, region, &in, out, &err);

	ck_assert_msg(rc == 0, "CreateDBCluster %s: %s %s", id, err.code, err.message);
	snprintf(iid, sizeof(iid), "%s-1", id);
	inst.db_instance_identifier = iid;
	rc = aws_rds_create_db_instance(client, region, &inst, &i, &err);
	ck_assert_msg(rc == 0, "CreateDBInstance %s: %s %s", iid, err.code, err.message);
	aws_rds_db_instance_release(&i);
}

static void wait_cluster_available(const char *region, const char *id)
{
	int64_t deadline = base_now_mono_ms() + 30000;

	while (base_now_mono_ms() < deadline) {
		struct aws_rds_db_cluster_list l;
		int ok;

		ck_assert_int_eq(aws_rds_describe_db_clusters(client, region, id, NULL, &l, NULL),
				 0);
		ok = l.n == 1 && strcmp(l.items[0].status, "available") == 0;
		aws_rds_db_cluster_list_release(&l);
		if (ok)
			return;
		base_sleep_ms(100);
	}
	ck_abort_msg("cluster %s did not become available", id);
}

static int member_is_writer(const struct aws_rds_global_cluster *g, const char *arn)
{
	for (size_t i = 0; i < g->nmembers; i++)
		if (strcmp(g->members[i].db_cluster_arn, arn) == 0)
			return g->members[i].is_writer;
	return -1;
}

/*
 * Polls DescribeGlobalClusters until no operation is in progress and arn is
 * the writer. Returns a bitmask of what was seen: 1 pending, 2 running
 * (switching-over / failing-over), 4 data loss allowed.
 */
static int wait_global_op(const char *region, const char *gid, const char *arn)
{
	int64_t deadline = base_now_mono_ms() + 30000;
	int seen = 0;

	while (base_now_mono_ms() < deadline) {
		struct aws_rds_global_cluster_list l;
		struct aws_error err;
		int done;

		ck_assert_int_eq(
			aws_rds_describe_global_clusters(client, region, gid, NULL, &l, &err), 0);
		ck_assert_int_eq((int)l.n, 1);
		if (l.items[0].failover_state.present) {
			const char *st = l.items[0].failover_state.status;

			seen |= strcmp(st, "pending") == 0 ? 1 : 0;
			seen |= strcmp(st, "switching-over") == 0 || strcmp(st, "failing-over") == 0
					? 2
					: 0;
			seen |= l.items[0].failover_state.is_data_loss_allowed ? 4 : 0;
			ck_assert_str_eq(l.items[0].failover_state.to_db_cluster_arn, arn);
		}
		done = !l.items[0].failover_state.present &&
		       member_is_writer(&l.items[0], arn) == 1 &&
		       strcmp(l.items[0].status, "available") == 0;
		aws_rds_global_cluster_list_release(&l);
		if (done)
			return seen;
		base_sleep_ms(50);
	}
	ck_abort_msg("global operation on %s did not finish", gid);
	return seen;
}

START_TEST(test_switchover_failover_and_detach)
{
	struct aws_rds_db_cluster prim, sec;
	struct aws_rds_global_cluster gc;
	struct aws_rds_global_cluster_list l;
	struct aws_error err;
	int rc, seen;

	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/config",
				      "{\"delays\":{\"failover_pending\":0.3,\"failover_run\":0.5,"
				      "\"failover_finish\":0.3}}"),
			 200);
	rc = aws_rds_create_global_cluster(client, PRIMARY,
					   &(struct aws_rds_create_global_cluster_input){
						   .global_cluster_identifier = "orders",
						   .engine = "aurora-postgresql",
						   .engine_version = "15.4",
					   },
					   &gc, &err);
	ck_assert_msg(rc == 0, "CreateGlobalCluster: %s %s", err.code, err.message);
	aws_rds_global_cluster_release(&gc);
	add_cluster(PRIMARY, "orders-use1", "orders", 1, &prim);
	add_cluster(SECONDARY, "orders-euw1", "orders", 0, &sec);
	wait_cluster_available(PRIMARY, "orders-use1");
	wait_cluster_available(SECONDARY, "orders-euw1");

	/* Both regions' members, with their synchronisation status. */
	ck_assert_int_eq(
		aws_rds_describe_global_clusters(client, SECONDARY, "orders", SECONDARY, &l, &err),
		0);
	ck_assert_int_eq((int)l.n, 1);
	ck_assert_int_eq((int)l.items[0].nmembers, 2);
	ck_assert_int_eq(member_is_writer(&l.items[0], prim.arn), 1);
	ck_assert_int_eq(member_is_writer(&l.items[0], sec.arn), 0);
	for (size_t i = 0; i < l.items[0].nmembers; i++)
		ck_assert_str_eq(l.items[0].members[i].synchronization_status, "connected");
	aws_rds_global_cluster_list_release(&l);

	/* Planned switchover, called in the current primary's region. */
	rc = aws_rds_switchover_global_cluster(client, PRIMARY, "orders", sec.arn, &gc, &err);
	ck_assert_msg(rc == 0, "SwitchoverGlobalCluster: %s %s", err.code, err.message);
	ck_assert_int_eq(gc.failover_state.present, 1);
	ck_assert_str_eq(gc.failover_state.status, "pending");
	ck_assert_str_eq(gc.failover_state.from_db_cluster_arn, prim.arn);
	ck_assert_str_eq(gc.failover_state.to_db_cluster_arn, sec.arn);
	ck_assert_int_eq(gc.failover_state.is_data_loss_allowed, 0);
	ck_assert_str_eq(gc.status, "switching-over");
	aws_rds_global_cluster_release(&gc);

	/* A second operation while one runs is a conflict, with the wire code. */
	rc = aws_rds_failover_global_cluster(client, SECONDARY, "orders", sec.arn, 1, &gc, &err);
	ck_assert_int_eq(rc, BASE_ECONFLICT);
	ck_assert_str_eq(err.code, "InvalidGlobalClusterStateFault");
	ck_assert_int_eq(err.attempts, 1);

	seen = wait_global_op(SECONDARY, "orders", sec.arn);
	ck_assert_msg(seen & 2, "switching-over never observed (seen %d)", seen);
	ck_assert_int_eq(seen & 4, 0);

	/* Managed failover back, called in the target's region. */
	rc = aws_rds_failover_global_cluster(client, PRIMARY, "orders", prim.arn, 1, &gc, &err);
	ck_assert_msg(rc == 0, "FailoverGlobalCluster: %s %s", err.code, err.message);
	ck_assert_str_eq(gc.status, "failing-over");
	ck_assert_int_eq(gc.failover_state.is_data_loss_allowed, 1);
	aws_rds_global_cluster_release(&gc);
	seen = wait_global_op(PRIMARY, "orders", prim.arn);
	ck_assert_msg(seen & 4, "IsDataLossAllowed never observed (seen %d)", seen);

	/* Detach the secondary in its own region. */
	rc = aws_rds_remove_from_global_cluster(client, SECONDARY, "orders", sec.arn, &gc, &err);
	ck_assert_msg(rc == 0, "RemoveFromGlobalCluster: %s %s", err.code, err.message);
	aws_rds_global_cluster_release(&gc);
	wait_cluster_available(SECONDARY, "orders-euw1");
	ck_assert_int_eq(
		aws_rds_describe_global_clusters(client, PRIMARY, "orders", NULL, &l, &err), 0);
	ck_assert_int_eq((int)l.items[0].nmembers, 1);
	ck_assert_str_eq(l.items[0].members[0].db_cluster_arn, prim.arn);
	aws_rds_global_cluster_list_release(&l);
	/* No member in eu-west-1 any more: the region filter drops it. */
	ck_assert_int_eq(
		aws_rds_describe_global_clusters(client, PRIMARY, NULL, SECONDARY, &l, &err), 0);
	ck_assert_int_eq((int)l.n, 0);
	aws_rds_global_cluster_list_release(&l);

	rc = aws_rds_describe_global_clusters(client, PRIMARY, "nope", NULL, &l, &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "GlobalClusterNotFoundFault");
	aws_rds_db_cluster_release(&prim);
	aws_rds_db_cluster_release(&sec);
}
END_TEST

START_TEST(test_describe_global_clusters_pages)
{
	struct aws_rds_global_cluster_list l;
	struct aws_rds_global_cluster gc;
	struct aws_error err;
	char id[32];

	/* More global clusters than one page holds (100). */
	for (int i = 0; i < 105; i++) {
		snprintf(id, sizeof(id), "page-%03d", i);
		ck_assert_int_eq(
			aws_rds_create_global_cluster(client, PRIMARY,
						      &(struct aws_rds_create_global_cluster_input){
							      .global_cluster_identifier = id,
							      .engine = "aurora-postgresql",
						      },
						      &gc, &err),
			0);
		aws_rds_global_cluster_release(&gc);
	}
	ck_assert_int_eq(aws_rds_describe_global_clusters(client, PRIMARY, NULL, NULL, &l, &err),
			 0);
	ck_assert_int_eq((int)l.n, 105);
	ck_assert_str_eq(l.items[104].identifier, "page-104");
	aws_rds_global_cluster_list_release(&l);
}
END_TEST

static double metric(const char *op, const char *code)
{
	struct base_metric *m =
		base_metric_counter("globaldb_aws_requests_total",
				    "AWS API HTTP requests by service, operation and outcome",
				    "service,operation,code");

	return base_metric_value(m, "rds", op, code);
}

START_TEST(test_throttling_30_percent_is_absorbed)
{
	struct aws_client *c = aws_client_new(&(struct aws_client_config){
		.creds = creds, .max_attempts = 8, .retry_base_ms = 5, .retry_cap_ms = 50});
	int calls = 40;
	double ok, throttled;

	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/throttle",
				      "{\"fraction\":0.3,\"seed\":7,\"services\":[\"rds\"]}"),
			 200);
	for (int i = 0; i < calls; i++) {
		struct aws_rds_db_cluster_list l;
		struct aws_error err;
		int rc = aws_rds_describe_db_clusters(c, PRIMARY, NULL, NULL, &l, &err);

		ck_assert_msg(rc == 0, "call %d: %s %s", i, err.code, err.message);
		aws_rds_db_cluster_list_release(&l);
	}
	ok = metric("DescribeDBClusters", "ok");
	throttled = metric("DescribeDBClusters", "Throttling");
	ck_assert(ok == calls);
	/* The injected share, as the client saw it, is about 30 %. */
	ck_assert_msg(throttled / (ok + throttled) > 0.15 && throttled / (ok + throttled) < 0.45,
		      "throttled %.0f of %.0f", throttled, ok + throttled);
	aws_client_free(c);
}
END_TEST

START_TEST(test_throttling_100_percent_fails_clearly)
{
	struct aws_client *c = aws_client_new(&(struct aws_client_config){
		.creds = creds, .retry_base_ms = 5, .retry_cap_ms = 50, .retry_quota = 25});
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	int64_t start = base_now_mono_ms();
	int attempts = 0;

	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/throttle", "{\"fraction\":1.0}"), 200);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(aws_rds_describe_db_clusters(c, PRIMARY, NULL, NULL, &l, &err),
				 BASE_ETHROTTLED);
		ck_assert_str_eq(err.code, "Throttling");
		attempts += err.attempts;
	}
	/* 25 tokens pay for 5 retries: 3 + 3 + 2 attempts, then one each. */
	ck_assert_int_eq(attempts, 3 + 3 + 2 + 1 + 1 + 1);
	ck_assert_msg(strstr(err.message, "retry budget spent") != NULL, "%s", err.message);
	ck_assert_int_lt((int)(base_now_mono_ms() - start), 10000);
	aws_client_free(c);
}
END_TEST

START_TEST(test_region_outages)
{
	struct aws_client *c = aws_client_new(&(struct aws_client_config){.creds = creds,
									  .retry_base_ms = 5,
									  .retry_cap_ms = 20,
									  .attempt_timeout_ms = 500,
									  .call_timeout_ms = 2000});
	struct aws_rds_db_cluster_list l;
	struct aws_rds_global_cluster gc;
	struct aws_error err;
	int64_t start;

	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/outage",
				      "{\"region\":\"us-east-1\",\"mode\":\"5xx\"}"),
			 200);
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, PRIMARY, NULL, NULL, &l, &err),
			 BASE_ESERVER);
	ck_assert_int_eq(err.attempts, 3);
	ck_assert_int_eq(err.http_status, 503);
	/* Other regions still answer. */
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, SECONDARY, NULL, NULL, &l, &err), 0);
	aws_rds_db_cluster_list_release(&l);

	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/outage",
				      "{\"region\":\"us-east-1\",\"mode\":\"hang\"}"),
			 200);
	start = base_now_mono_ms();
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, PRIMARY, NULL, NULL, &l, &err),
			 BASE_ETIMEDOUT);
	ck_assert_int_lt((int)(base_now_mono_ms() - start), 3000);
	/* A failover that timed out is never re-sent blindly. */
	ck_assert_int_eq(aws_rds_failover_global_cluster(c, PRIMARY, "g",
							 "arn:aws:rds:us-east-1:1:cluster:x", 1,
							 &gc, &err),
			 BASE_ETIMEDOUT);
	ck_assert_int_eq(err.attempts, 1);
	ck_assert_int_eq(awsemu_admin(&emu, "/_awsemu/outage",
				      "{\"region\":\"us-east-1\",\"mode\":\"off\"}"),
			 200);
	aws_client_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_awsemu");
	TCase *tc = tcase_create("awsemu");
	SRunner *sr;
	int failed;

	if (awsemu_start(&emu) != 0) {
		fprintf(stderr, "cannot start awsemu\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_switchover_failover_and_detach);
	tcase_add_test(tc, test_describe_global_clusters_pages);
	tcase_add_test(tc, test_throttling_30_percent_is_absorbed);
	tcase_add_test(tc, test_throttling_100_percent_fails_clearly);
	tcase_add_test(tc, test_region_outages);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	moto_stop(&emu);
	return failed ? 1 : 0;
}
