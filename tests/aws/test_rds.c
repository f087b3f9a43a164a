/*
 * RDS operations against a real moto server started on a free loopback port.
 * Every test builds what it reads through our own calls and asserts the
 * decoded fields, so the encoder, the signer's headers, the endpoint override
 * and the decoders are exercised together on moto's wire format (which moto
 * generates from the same botocore models AWS uses).
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/rds.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "tests/aws/harness.h"

static struct moto moto;
static struct aws_creds_provider *creds;
static struct aws_client *client;

#define PRIMARY "us-east-1"
#define SECONDARY "eu-west-1"

static void setup(void)
{
	client = test_client_open(&moto, &creds);
}

static void teardown(void)
{
	test_client_close(client, creds);
}

static void create_cluster(const char *region, const char *id, const char *gc,
			   struct aws_rds_db_cluster *out)
{
	struct aws_rds_create_db_cluster_input in = {
		.db_cluster_identifier = id,
		.engine = "aurora-postgresql",
		.engine_version = "15.4",
		.global_cluster_identifier = gc,
		.master_username = gc && strcmp(region, PRIMARY) != 0 ? NULL : "postgres",
		.master_user_password = gc && strcmp(region, PRIMARY) != 0 ? NULL : "s3cret-pass",
		.port = 5432,
		.storage_encrypted = AWS_TRUE,
	};
	struct aws_error err;
	int rc = aws_rds_create_db_cluster(client, region, &in, out, &err);

	ck_assert_msg(rc == 0, "CreateDBCluster %s: %d %s %s", id, rc, err.code, err.message);
}

static const struct aws_rds_global_cluster *find_gc(const struct aws_rds_global_cluster_list *l,
						    const char *id)
{
	/* moto ignores GlobalClusterIdentifier in DescribeGlobalClusters: filter here. */
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].identifier && strcmp(l->items[i].identifier, id) == 0)
			return &l->items[i];
	return NULL;
}

static const struct aws_rds_global_cluster_member *
find_member(const struct aws_rds_global_cluster *g, const char *arn)
{
	for (size_t i = 0; i < g->nmembers; i++)
		if (strcmp(g->members[i].db_cluster_arn, arn) == 0)
			return &g->members[i];
	return NULL;
}

START_TEST(test_global_database_is_built_and_described)
{
	struct aws_rds_db_cluster prim, sec;
	struct aws_rds_global_cluster gc;
	struct aws_rds_global_cluster_list gcs;
	struct aws_rds_db_cluster_list cl;
	const struct aws_rds_global_cluster *g;
	const struct aws_rds_global_cluster_member *mp, *ms;
	struct aws_error err;
	int rc;

	/* An empty global database first; the first member to join becomes the writer. */
	rc = aws_rds_create_global_cluster(client, PRIMARY,
					   &(struct aws_rds_create_global_cluster_input){
						   .global_cluster_identifier = "orders-gdb",
						   .engine = "aurora-postgresql",
						   .engine_version = "15.4",
						   .storage_encrypted = AWS_TRUE,
					   },
					   &gc, &err);
	ck_assert_msg(rc == 0, "CreateGlobalCluster: %d %s %s", rc, err.code, err.message);
	ck_assert_str_eq(gc.identifier, "orders-gdb");
	ck_assert_str_eq(gc.engine, "aurora-postgresql");
	ck_assert_str_eq(gc.engine_version, "15.4");
	ck_assert_int_eq(gc.storage_encrypted, 1);
	ck_assert_str_eq(gc.arn, "arn:aws:rds::123456789012:global-cluster:orders-gdb");
	aws_rds_global_cluster_release(&gc);

	create_cluster(PRIMARY, "orders-use1", "orders-gdb", &prim);
	ck_assert_str_eq(prim.identifier, "orders-use1");
	ck_assert_ptr_nonnull(prim.arn);
	ck_assert_ptr_nonnull(strstr(prim.arn, ":us-east-1:"));
	ck_assert_int_eq(prim.port, 5432);
	ck_assert_str_eq(prim.engine, "aurora-postgresql");
	ck_assert_ptr_nonnull(prim.endpoint);
	ck_assert_ptr_nonnull(prim.reader_endpoint);
	ck_assert_int_eq(prim.storage_encrypted, 1);

	create_cluster(SECONDARY, "orders-euw1", "orders-gdb", &sec);
	ck_assert_ptr_nonnull(strstr(sec.arn, ":eu-west-1:"));

	rc = aws_rds_describe_global_clusters(client, PRIMARY, "orders-gdb", NULL, &gcs, &err);
	ck_assert_msg(rc == 0, "DescribeGlobalClusters: %d %s", rc, err.message);
	g = find_gc(&gcs, "orders-gdb");
	ck_assert_ptr_nonnull(g);
	ck_assert_str_eq(g->status, "available");
	ck_assert_int_eq((int)g->nmembers, 2);
	ck_assert_int_eq(g->failover_state.present, 0);
	mp = find_member(g, prim.arn);
	ms = find_member(g, sec.arn);
	ck_assert_ptr_nonnull(mp);
	ck_assert_ptr_nonnull(ms);
	ck_assert_int_eq(mp->is_writer, 1);
	ck_assert_int_eq(ms->is_writer, 0);
	ck_assert_int_eq((int)mp->nreaders, 1);
	ck_assert_str_eq(mp->readers[0], sec.arn);
	ck_assert_str_eq(ms->global_write_forwarding_status, "disabled");
	aws_rds_global_cluster_list_release(&gcs);

	/* The secondary region sees its own cluster only, with its status. */
	rc = aws_rds_describe_db_clusters(client, SECONDARY, NULL, "aurora-postgresql", &cl, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq((int)cl.n, 1);
	ck_assert_str_eq(cl.items[0].identifier, "orders-euw1");
	ck_assert_ptr_nonnull(cl.items[0].status);
	aws_rds_db_cluster_list_release(&cl);

	/* Membership can also be read back from the cluster. */
	rc = aws_rds_describe_db_clusters(client, SECONDARY, "orders-euw1", NULL, &cl, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq((int)cl.n, 1);
	ck_assert_ptr_nonnull(cl.items[0].global_cluster_identifier);
	aws_rds_db_cluster_list_release(&cl);

	/* A global cluster with members cannot be deleted: a conflict with the wire code. */
	rc = aws_rds_delete_global_cluster(client, PRIMARY, "orders-gdb", &gc, &err);
	ck_assert_int_eq(rc, BASE_ECONFLICT);
	ck_assert_str_eq(err.code, "InvalidGlobalClusterStateFault");
	ck_assert_int_eq(err.http_status, 400);

	aws_rds_db_cluster_release(&prim);
	aws_rds_db_cluster_release(&sec);
}
END_TEST

START_TEST(test_existing_cluster_is_promoted_into_a_global_database)
{
	struct aws_rds_db_cluster src;
	struct aws_rds_global_cluster gc;
	struct aws_error err;
	int rc;

	create_cluster(PRIMARY, "crm-use1", NULL, &src);
	rc = aws_rds_create_global_cluster(client, PRIMARY,
					   &(struct aws_rds_create_global_cluster_input){
						   .global_cluster_identifier = "crm-gdb",
						   .source_db_cluster_arn = src.arn,
					   },
					   &gc, &err);
	ck_assert_msg(rc == 0, "CreateGlobalCluster: %d %s %s", rc, err.code, err.message);
	/* Engine and version are inherited from the source cluster. */
	ck_assert_str_eq(gc.engine, "aurora-postgresql");
	ck_assert_str_eq(gc.engine_version, "15.4");
	ck_assert_int_eq((int)gc.nmembers, 1);
	ck_assert_str_eq(gc.members[0].db_cluster_arn, src.arn);
	aws_rds_global_cluster_release(&gc);

	/* Sending Engine with a source is refused, with the common wire code. */
	rc = aws_rds_create_global_cluster(client, PRIMARY,
					   &(struct aws_rds_create_global_cluster_input){
						   .global_cluster_identifier = "crm-gdb2",
						   .source_db_cluster_arn = src.arn,
						   .engine = "aurora-postgresql",
					   },
					   &gc, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	ck_assert_str_eq(err.code, "InvalidParameterCombination");
	aws_rds_db_cluster_release(&src);
}
END_TEST

START_TEST(test_cluster_tags_are_sent_added_and_decoded)
{
	const struct aws_tag owner[] = {{"globaldb.io/owner", "shop/orders"}};
	const struct aws_tag uid[] = {{"globaldb.io/owner-uid", "6f1c2a3e"}};
	struct aws_rds_create_db_cluster_input in = {
		.db_cluster_identifier = "tagged-use1",
		.engine = "aurora-postgresql",
		.engine_version = "15.4",
		.master_username = "postgres",
		.master_user_password = "s3cret-pass",
		.tags = owner,
		.ntags = 1,
	};
	struct aws_rds_db_cluster cl;
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	int rc = aws_rds_create_db_cluster(client, PRIMARY, &in, &cl, &err);

	ck_assert_msg(rc == 0, "CreateDBCluster: %d %s %s", rc, err.code, err.message);
	/* A single result owns its tags (released below). */
	ck_assert_int_eq((int)cl.ntags, 1);
	ck_assert_str_eq(cl.tags[0].key, "globaldb.io/owner");
	ck_assert_str_eq(cl.tags[0].value, "shop/orders");
	rc = aws_rds_add_tags_to_resource(client, PRIMARY, cl.arn, uid, 1, &err);
	ck_assert_msg(rc == 0, "AddTagsToResource: %d %s %s", rc, err.code, err.message);
	rc = aws_rds_add_tags_to_resource(client, PRIMARY, cl.arn, uid, 0, &err);
	ck_assert_int_eq(rc, BASE_EINVAL); /* no tags: refused before any call */

	/* A list's items keep their tags in the list's pool. */
	rc = aws_rds_describe_db_clusters(client, PRIMARY, "tagged-use1", NULL, &l, &err);
	ck_assert_msg(rc == 0, "DescribeDBClusters: %d %s %s", rc, err.code, err.message);
	ck_assert_int_eq((int)l.n, 1);
	ck_assert_int_eq((int)l.items[0].ntags, 2);
	ck_assert_str_eq(l.items[0].tags[1].key, "globaldb.io/owner-uid");
	ck_assert_str_eq(l.items[0].tags[1].value, "6f1c2a3e");
	aws_rds_db_cluster_list_release(&l);
	aws_rds_db_cluster_release(&cl);
}
END_TEST

START_TEST(test_detach_then_delete_global_cluster)
{
	struct aws_rds_db_cluster prim, other, del;
	struct aws_rds_global_cluster gc;
	struct aws_rds_global_cluster_list gcs;
	const struct aws_rds_global_cluster *g;
	struct aws_error err;
	int rc;

	create_cluster(PRIMARY, "pay-a", NULL, &prim);
	rc = aws_rds_create_global_cluster(client, PRIMARY,
					   &(struct aws_rds_create_global_cluster_input){
						   .global_cluster_identifier = "pay-gdb",
						   .source_db_cluster_arn = prim.arn,
						   .deletion_protection = AWS_FALSE,
					   },
					   &gc, &err);
	ck_assert_int_eq(rc, 0);
	aws_rds_global_cluster_release(&gc);
	/* moto detaches only within us-east-1, so the second member lives there too. */
	create_cluster(PRIMARY, "pay-b", "pay-gdb", &other);

	rc = aws_rds_remove_from_global_cluster(client, PRIMARY, "pay-gdb", other.arn, &gc, &err);
	ck_assert_msg(rc == 0, "RemoveFromGlobalCluster: %s", err.message);
	aws_rds_global_cluster_release(&gc);
	rc = aws_rds_describe_global_clusters(client, PRIMARY, NULL, NULL, &gcs, &err);
	ck_assert_int_eq(rc, 0);
	g = find_gc(&gcs, "pay-gdb");
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq((int)g->nmembers, 1);
	ck_assert_str_eq(g->members[0].db_cluster_arn, prim.arn);
	aws_rds_global_cluster_list_release(&gcs);

	rc = aws_rds_remove_from_global_cluster(client, PRIMARY, "pay-gdb", prim.arn, &gc, &err);
	ck_assert_int_eq(rc, 0);
	aws_rds_global_cluster_release(&gc);
	rc = aws_rds_delete_global_cluster(client, PRIMARY, "pay-gdb", &gc, &err);
	ck_assert_msg(rc == 0, "DeleteGlobalCluster: %s %s", err.code, err.message);
	ck_assert_str_eq(gc.identifier, "pay-gdb");
	aws_rds_global_cluster_release(&gc);
	rc = aws_rds_describe_global_clusters(client, PRIMARY, NULL, NULL, &gcs, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_null(find_gc(&gcs, "pay-gdb"));
	aws_rds_global_cluster_list_release(&gcs);

	rc = aws_rds_delete_db_cluster(client, PRIMARY, "pay-b", 1, NULL, &del, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(del.identifier, "pay-b");
	aws_rds_db_cluster_release(&del);
	aws_rds_db_cluster_release(&prim);
	aws_rds_db_cluster_release(&other);
}
END_TEST

START_TEST(test_instances_modify_and_final_snapshot)
{
	struct aws_rds_db_cluster cl, mod, del;
	struct aws_rds_db_cluster_list cls;
	struct aws_rds_db_instance inst, dinst;
	struct aws_rds_db_instance_list insts;
	struct aws_rds_cluster_snapshot_list snaps;
	struct aws_rds_cluster_snapshot copy;
	struct aws_error err;
	int rc;

	create_cluster(PRIMARY, "inv-a", NULL, &cl);
	rc = aws_rds_create_db_instance(client, PRIMARY,
					&(struct aws_rds_create_db_instance_input){
						.db_instance_identifier = "inv-a-1",
						.db_instance_class = "db.r6g.large",
						.engine = "aurora-postgresql",
						.db_cluster_identifier = "inv-a",
						.promotion_tier = 1,
					},
					&inst, &err);
	ck_assert_msg(rc == 0, "CreateDBInstance: %s %s", err.code, err.message);
	ck_assert_str_eq(inst.identifier, "inv-a-1");
	ck_assert_str_eq(inst.db_instance_class, "db.r6g.large");
	ck_assert_str_eq(inst.db_cluster_identifier, "inv-a");
	aws_rds_db_instance_release(&inst);

	rc = aws_rds_describe_db_instances(client, PRIMARY, NULL, "inv-a", &insts, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq((int)insts.n, 1);
	ck_assert_str_eq(insts.items[0].status, "available");
	ck_assert_ptr_nonnull(insts.items[0].endpoint_address);
	ck_assert_int_gt(insts.items[0].endpoint_port, 0);
	aws_rds_db_instance_list_release(&insts);

	rc = aws_rds_describe_db_clusters(client, PRIMARY, "inv-a", NULL, &cls, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq((int)cls.items[0].nmembers, 1);
	ck_assert_str_eq(cls.items[0].members[0].db_instance_identifier, "inv-a-1");
	ck_assert_int_eq(cls.items[0].members[0].is_cluster_writer, 1);
	aws_rds_db_cluster_list_release(&cls);

	rc = aws_rds_modify_db_cluster(client, PRIMARY,
				       &(struct aws_rds_modify_db_cluster_input){
					       .db_cluster_identifier = "inv-a",
					       .apply_immediately = AWS_TRUE,
					       .deletion_protection = AWS_TRUE,
				       },
				       &mod, &err);
	ck_assert_msg(rc == 0, "ModifyDBCluster: %s", err.message);
	ck_assert_str_eq(mod.identifier, "inv-a");
	aws_rds_db_cluster_release(&mod);
	rc = aws_rds_describe_db_clusters(client, PRIMARY, "inv-a", NULL, &cls, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(cls.items[0].deletion_protection, 1);
	aws_rds_db_cluster_list_release(&cls);
	rc = aws_rds_modify_db_cluster(client, PRIMARY,
				       &(struct aws_rds_modify_db_cluster_input){
					       .db_cluster_identifier = "inv-a",
					       .apply_immediately = AWS_TRUE,
					       .deletion_protection = AWS_FALSE,
				       },
				       &mod, &err);
	ck_assert_int_eq(rc, 0);
	aws_rds_db_cluster_release(&mod);

	/* A cluster with instances cannot go; delete the instance first. */
	rc = aws_rds_delete_db_cluster(client, PRIMARY, "inv-a", 0, "inv-a-final", &del, &err);
	ck_assert_int_lt(rc, 0);
	rc = aws_rds_delete_db_instance(client, PRIMARY, "inv-a-1", 1, &dinst, &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(dinst.identifier, "inv-a-1");
	aws_rds_db_instance_release(&dinst);

	rc = aws_rds_delete_db_cluster(client, PRIMARY, "inv-a", 0, "inv-a-final", &del, &err);
	ck_assert_msg(rc == 0, "DeleteDBCluster: %s %s", err.code, err.message);
	aws_rds_db_cluster_release(&del);
	rc = aws_rds_describe_db_clusters(client, PRIMARY, "inv-a", NULL, &cls, &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "DBClusterNotFoundFault");

	rc = aws_rds_describe_db_cluster_snapshots(client, PRIMARY, NULL, "inv-a-final", NULL,
						   &snaps, &err);
	ck_assert_msg(rc == 0, "DescribeDBClusterSnapshots: %s", err.message);
	ck_assert_int_eq((int)snaps.n, 1);
	ck_assert_str_eq(snaps.items[0].identifier, "inv-a-final");
	ck_assert_str_eq(snaps.items[0].db_cluster_identifier, "inv-a");
	ck_assert_str_eq(snaps.items[0].status, "available");
	ck_assert_int_gt((int)(snaps.items[0].create_time_ms / 1000000), 0);
	aws_rds_cluster_snapshot_list_release(&snaps);

	rc = aws_rds_copy_db_cluster_snapshot(client, PRIMARY, "inv-a-final", "inv-a-final-copy",
					      NULL, AWS_TRUE, &copy, &err);
	ck_assert_msg(rc == 0, "CopyDBClusterSnapshot: %s %s", err.code, err.message);
	ck_assert_str_eq(copy.identifier, "inv-a-final-copy");
	aws_rds_cluster_snapshot_release(&copy);
	rc = aws_rds_describe_db_cluster_snapshots(client, PRIMARY, "inv-a", NULL, "manual", &snaps,
						   &err);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq((int)snaps.n, 2);
	aws_rds_cluster_snapshot_list_release(&snaps);
	aws_rds_db_cluster_release(&cl);
}
END_TEST

START_TEST(test_missing_instance_reports_wire_code)
{
	struct aws_rds_db_instance_list l;
	struct aws_error err;
	int rc = aws_rds_describe_db_instances(client, PRIMARY, "no-such-instance", NULL, &l, &err);

	/* The model's shape is DBInstanceNotFoundFault; the wire code is DBInstanceNotFound. */
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "DBInstanceNotFound");
	ck_assert_int_eq(err.http_status, 404);
	ck_assert_int_eq(err.attempts, 1);
	ck_assert_int_eq((int)l.n, 0);
}
END_TEST

START_TEST(test_failover_is_not_retried_when_the_server_fails)
{
	struct aws_rds_global_cluster gc;
	struct aws_error err;
	int rc;

	/*
	 * Plain moto has no FailoverGlobalCluster and answers HTTP 500. A 500 is
	 * retried for ordinary calls, but a failover must not be re-sent blindly:
	 * one attempt, and the caller re-reads the global cluster.
	 */
	rc = aws_rds_failover_global_cluster(client, SECONDARY, "orders-gdb",
					     "arn:aws:rds:eu-west-1:123456789012:cluster:x", 1, &gc,
					     &err);
	ck_assert_int_lt(rc, 0);
	ck_assert_int_eq(err.attempts, 1);
	ck_assert_int_eq(err.http_status, 500);
}
END_TEST

START_TEST(test_service_endpoint_variable_wins)
{
	struct aws_rds_db_cluster_list l;
	struct aws_error err;
	int rc;

	/* AWS_ENDPOINT_URL points nowhere; AWS_ENDPOINT_URL_RDS at moto must win. */
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
	setenv("AWS_ENDPOINT_URL_RDS", moto.url, 1);
	rc = aws_rds_describe_db_clusters(client, "ap-southeast-2", NULL, NULL, &l, &err);
	ck_assert_msg(rc == 0, "%s", err.message);
	aws_rds_db_cluster_list_release(&l);
	unsetenv("AWS_ENDPOINT_URL_RDS");
	rc = aws_rds_describe_db_clusters(client, "ap-southeast-2", NULL, NULL, &l, &err);
	ck_assert_int_eq(rc, BASE_ETRANSPORT);
}
END_TEST

START_TEST(test_requests_are_counted_per_operation)
{
	struct aws_rds_db_cluster_list l;
	struct base_metric *m =
		base_metric_counter("globaldb_aws_requests_total",
				    "AWS API HTTP requests by service, operation and outcome",
				    "service,operation,code");
	double before = base_metric_value(m, "rds", "DescribeDBClusters", "ok");

	ck_assert_int_eq(aws_rds_describe_db_clusters(client, PRIMARY, NULL, NULL, &l, NULL), 0);
	aws_rds_db_cluster_list_release(&l);
	ck_assert(aws_rds_describe_db_clusters(client, PRIMARY, "nope", NULL, &l, NULL) ==
		  BASE_ENOTFOUND);
	ck_assert(base_metric_value(m, "rds", "DescribeDBClusters", "ok") == before + 1);
	ck_assert(base_metric_value(m, "rds", "DescribeDBClusters", "DBClusterNotFoundFault") == 1);
}
END_TEST

static void *describe_loop(void *arg)
{
	int *ok = arg;

	for (int i = 0; i < 10; i++) {
		struct aws_rds_db_cluster_list l;

		if (aws_rds_describe_db_clusters(client, i % 2 ? PRIMARY : SECONDARY, NULL, NULL,
						 &l, NULL) == 0)
			(*ok)++;
		aws_rds_db_cluster_list_release(&l);
	}
	return NULL;
}

START_TEST(test_one_client_serves_many_threads)
{
	pthread_t t[6];
	int ok[6] = {0};

	for (int i = 0; i < 6; i++)
		pthread_create(&t[i], NULL, describe_loop, &ok[i]);
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(ok[i], 10);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_rds_moto");
	TCase *tc = tcase_create("rds");
	SRunner *sr;
	int failed;

	if (moto_start(&moto) != 0) {
		fprintf(stderr, "cannot start moto_server\n");
		return 1;
	}
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_global_database_is_built_and_described);
	tcase_add_test(tc, test_existing_cluster_is_promoted_into_a_global_database);
	tcase_add_test(tc, test_cluster_tags_are_sent_added_and_decoded);
	tcase_add_test(tc, test_detach_then_delete_global_cluster);
	tcase_add_test(tc, test_instances_modify_and_final_snapshot);
	tcase_add_test(tc, test_missing_instance_reports_wire_code);
	tcase_add_test(tc, test_failover_is_not_retried_when_the_server_fails);
	tcase_add_test(tc, test_service_endpoint_variable_wins);
	tcase_add_test(tc, test_requests_are_counted_per_operation);
	tcase_add_test(tc, test_one_client_serves_many_threads);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	moto_stop(&moto);
	return failed ? 1 : 0;
}
