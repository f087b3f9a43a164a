/*
 * RDS on the wire, no moto: the awsQuery bodies of the calls that change a
 * global database (failover, switchover, create, delete with a final
 * snapshot) exactly as AWS must receive them, answers decoded from the
 * element layout of docs/aws-protocols.md, Marker paging (and a server that
 * repeats its Marker), and the decoders on partial answers. Against a
 * scripted loopback server (tests/aws/harness.h). The same operations
 * against moto are in test_rds.c (integration).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/aws/rds.h"
#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/pool.h"
#include "tests/aws/harness.h"
#include "tests/check_main.h"

/* ---- a server that answers every request with ok_body ---- */

struct script {
	const char *ok_body;
	char last_body[8192]; /* the last request's body (truncated) */
};

static struct stub *stub;
static struct script script;
static struct aws_creds_provider *creds;
static char url[64];

static void scripted(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	struct script *s = ud;

	snprintf(s->last_body, sizeof(s->last_body), "%.*s", (int)req->body_len, req->body);
	resp->status = 200;
	resp->content_type = "text/xml";
	resp->body = xstrdup(s->ok_body ? s->ok_body : "");
}

static void setup(void)
{
	memset(&script, 0, sizeof(script));
	stub = stub_start(scripted, &script);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", stub_port(stub));
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	creds = aws_creds_provider_new_static("AKIDEXAMPLE", "secret", NULL);
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

/* ---- request bodies ---- */

START_TEST(test_failover_and_switchover_bodies)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_global_cluster g;
	const char *arn = "arn:aws:rds:eu-west-1:111122223333:cluster:b";

	script.ok_body =
		"<FailoverGlobalClusterResponse><FailoverGlobalClusterResult><GlobalCluster>"
		"<GlobalClusterIdentifier>gdb</GlobalClusterIdentifier></GlobalCluster>"
		"</FailoverGlobalClusterResult></FailoverGlobalClusterResponse>";
	ck_assert_int_eq(aws_rds_failover_global_cluster(c, "eu-west-1", "gdb", arn, 1, &g, NULL),
			 0);
	ck_assert_str_eq(
		script.last_body,
		"Action=FailoverGlobalCluster&Version=2014-10-31&GlobalClusterIdentifier=gdb"
		"&TargetDbClusterIdentifier=arn%3Aaws%3Ards%3Aeu-west-1%3A111122223333%3A"
		"cluster%3Ab&AllowDataLoss=true");
	ck_assert_str_eq(g.identifier, "gdb");
	aws_rds_global_cluster_release(&g);
	ck_assert_int_eq(aws_rds_failover_global_cluster(c, "eu-west-1", "gdb", arn, 0, &g, NULL),
			 0);
	ck_assert_ptr_nonnull(strstr(script.last_body, "&Switchover=true"));
	ck_assert_ptr_null(strstr(script.last_body, "AllowDataLoss"));
	aws_rds_global_cluster_release(&g);

	script.ok_body = "<SwitchoverGlobalClusterResponse><SwitchoverGlobalClusterResult>"
			 "<GlobalCluster><GlobalClusterIdentifier>gdb</GlobalClusterIdentifier>"
			 "</GlobalCluster></SwitchoverGlobalClusterResult>"
			 "</SwitchoverGlobalClusterResponse>";
	ck_assert_int_eq(aws_rds_switchover_global_cluster(c, "us-east-1", "gdb", arn, &g, NULL),
			 0);
	ck_assert_str_eq(
		script.last_body,
		"Action=SwitchoverGlobalCluster&Version=2014-10-31&GlobalClusterIdentifier=gdb"
		"&TargetDbClusterIdentifier=arn%3Aaws%3Ards%3Aeu-west-1%3A111122223333%3A"
		"cluster%3Ab");
	aws_rds_global_cluster_release(&g);
	aws_client_free(c);
}
END_TEST

START_TEST(test_create_cluster_secondary_and_delete_with_snapshot)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_db_cluster cl;
	const char *sgs[] = {"sg-1", "sg-2"};
	struct aws_tag tags[] = {{"team", "db"}};
	struct aws_rds_create_db_cluster_input in = {
		.db_cluster_identifier = "orders-euw1",
		.engine = "aurora-postgresql",
		.engine_version = "15.4",
		.global_cluster_identifier = "gdb",
		.vpc_security_group_ids = sgs,
		.nvpc_security_group_ids = 2,
		.kms_key_id = "arn:aws:kms:eu-west-1:1:key/k",
		.tags = tags,
		.ntags = 1,
	};

	script.ok_body =
		"<CreateDBClusterResponse><CreateDBClusterResult><DBCluster>"
		"<DBClusterIdentifier>orders-euw1</DBClusterIdentifier><Status>creating</Status>"
		"</DBCluster></CreateDBClusterResult></CreateDBClusterResponse>";
	ck_assert_int_eq(aws_rds_create_db_cluster(c, "eu-west-1", &in, &cl, NULL), 0);
	ck_assert_str_eq(script.last_body,
			 "Action=CreateDBCluster&Version=2014-10-31&DBClusterIdentifier=orders-euw1"
			 "&Engine=aurora-postgresql&EngineVersion=15.4&GlobalClusterIdentifier=gdb"
			 "&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-1"
			 "&VpcSecurityGroupIds.VpcSecurityGroupId.2=sg-2"
			 "&KmsKeyId=arn%3Aaws%3Akms%3Aeu-west-1%3A1%3Akey%2Fk"
			 "&Tags.Tag.1.Key=team&Tags.Tag.1.Value=db");
	ck_assert_str_eq(cl.status, "creating");
	aws_rds_db_cluster_release(&cl);

	script.ok_body = "<DeleteDBClusterResponse><DeleteDBClusterResult><DBCluster>"
			 "<DBClusterIdentifier>old</DBClusterIdentifier><Status>deleting</Status>"
			 "</DBCluster></DeleteDBClusterResult></DeleteDBClusterResponse>";
	ck_assert_int_eq(
		aws_rds_delete_db_cluster(c, "us-east-1", "old", 0, "old-fenced-final", &cl, NULL),
		0);
	ck_assert_str_eq(script.last_body, "Action=DeleteDBCluster&Version=2014-10-31"
					   "&DBClusterIdentifier=old"
					   "&FinalDBSnapshotIdentifier=old-fenced-final");
	aws_rds_db_cluster_release(&cl);
	/* Neither or both snapshot choices are refused before anything is sent. */
	ck_assert_int_eq(aws_rds_delete_db_cluster(c, "us-east-1", "old", 0, NULL, &cl, NULL),
			 BASE_EINVAL);
	ck_assert_int_eq(aws_rds_delete_db_cluster(c, "us-east-1", "old", 1, "x", &cl, NULL),
			 BASE_EINVAL);
	ck_assert_int_eq(stub_count(stub), 2);
	aws_client_free(c);
}
END_TEST

/* ---- answers ---- */

START_TEST(test_global_cluster_with_failover_state_decodes)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_global_cluster_list l;
	const struct aws_rds_global_cluster *g;

	/* The element layout of docs/aws-protocols.md §2.2, during a switchover. */
	script.ok_body =
		"<DescribeGlobalClustersResponse "
		"xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">"
		"<DescribeGlobalClustersResult><GlobalClusters><GlobalClusterMember>"
		"<GlobalClusterIdentifier>gdb</GlobalClusterIdentifier>"
		"<GlobalClusterArn>arn:aws:rds::111122223333:global-cluster:gdb</GlobalClusterArn>"
		"<Status>switching-over</Status><Engine>aurora-postgresql</Engine>"
		"<Endpoint>gdb.global-abc123.global.rds.amazonaws.com</Endpoint>"
		"<GlobalClusterMembers><GlobalClusterMember>"
		"<DBClusterArn>arn:aws:rds:us-east-1:111122223333:cluster:a</DBClusterArn>"
		"<Readers><member>arn:aws:rds:eu-west-1:111122223333:cluster:b</member></Readers>"
		"<IsWriter>true</IsWriter><SynchronizationStatus>connected</SynchronizationStatus>"
		"</GlobalClusterMember><GlobalClusterMember>"
		"<DBClusterArn>arn:aws:rds:eu-west-1:111122223333:cluster:b</DBClusterArn>"
		"<Readers/><IsWriter>false</IsWriter>"
		"<GlobalWriteForwardingStatus>disabled</GlobalWriteForwardingStatus>"
		"<SynchronizationStatus>pending-resync</SynchronizationStatus>"
		"</GlobalClusterMember></GlobalClusterMembers>"
		"<FailoverState><Status>switching-over</Status>"
		"<FromDbClusterArn>arn:aws:rds:us-east-1:111122223333:cluster:a</FromDbClusterArn>"
		"<ToDbClusterArn>arn:aws:rds:eu-west-1:111122223333:cluster:b</ToDbClusterArn>"
		"<IsDataLossAllowed>false</IsDataLossAllowed></FailoverState>"
		"</GlobalClusterMember></GlobalClusters></DescribeGlobalClustersResult>"
		"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
		"</DescribeGlobalClustersResponse>";
	ck_assert_int_eq(aws_rds_describe_global_clusters(c, "us-east-1", NULL, NULL, &l, NULL), 0);
	ck_assert_int_eq((int)l.n, 1);
	g = &l.items[0];
	ck_assert_str_eq(g->endpoint, "gdb.global-abc123.global.rds.amazonaws.com");
	ck_assert_int_eq((int)g->nmembers, 2);
	ck_assert_int_eq(g->members[0].is_writer, 1);
	ck_assert_int_eq((int)g->members[0].nreaders, 1);
	ck_assert_str_eq(g->members[0].readers[0], "arn:aws:rds:eu-west-1:111122223333:cluster:b");
	ck_assert_str_eq(g->members[0].synchronization_status, "connected");
	ck_assert_int_eq(g->members[1].is_writer, 0);
	ck_assert_int_eq((int)g->members[1].nreaders, 0);
	ck_assert_str_eq(g->members[1].global_write_forwarding_status, "disabled");
	ck_assert_str_eq(g->members[1].synchronization_status, "pending-resync");
	ck_assert_int_eq(g->failover_state.present, 1);
	ck_assert_str_eq(g->failover_state.status, "switching-over");
	ck_assert_str_eq(g->failover_state.from_db_cluster_arn,
			 "arn:aws:rds:us-east-1:111122223333:cluster:a");
	ck_assert_str_eq(g->failover_state.to_db_cluster_arn,
			 "arn:aws:rds:eu-west-1:111122223333:cluster:b");
	ck_assert_int_eq(g->failover_state.is_data_loss_allowed, 0);
	aws_rds_global_cluster_list_release(&l);
	aws_client_free(c);
}
END_TEST

static int paged_handler_calls;

static void paged(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	(void)ud;
	paged_handler_calls++;
	resp->status = 200;
	resp->content_type = "text/xml";
	if (!memmem(req->body, req->body_len, "Marker=", 7))
		resp->body = xstrdup(
			"<DescribeDBClustersResponse><DescribeDBClustersResult>"
			"<DBClusters><DBCluster><DBClusterIdentifier>a</DBClusterIdentifier>"
			"<Status>available</Status><Port>5432</Port><DBClusterMembers>"
			"<DBClusterMember><DBInstanceIdentifier>a-1</DBInstanceIdentifier>"
			"<IsClusterWriter>true</IsClusterWriter><PromotionTier>1</PromotionTier>"
			"</DBClusterMember></DBClusterMembers></DBCluster></DBClusters>"
			"<Marker>page%2B2</Marker></DescribeDBClustersResult>"
			"</DescribeDBClustersResponse>");
	else if (memmem(req->body, req->body_len, "Marker=page%252B2", 17))
		resp->body = xstrdup(
			"<DescribeDBClustersResponse><DescribeDBClustersResult>"
			"<DBClusters><DBCluster><DBClusterIdentifier>b</DBClusterIdentifier>"
			"<Status>backing-up</Status></DBCluster></DBClusters>"
			"</DescribeDBClustersResult></DescribeDBClustersResponse>");
	else
		resp->status = 500;
}

START_TEST(test_describe_follows_marker)
{
	struct stub *s = stub_start(paged, NULL);
	char u[64];
	struct aws_client *c;
	struct aws_rds_db_cluster_list l;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d", stub_port(s));
	c = aws_client_new(&(struct aws_client_config){.creds = creds, .endpoint_url = u});
	ck_assert_int_eq(aws_rds_describe_db_clusters(c, "us-east-1", NULL, NULL, &l, NULL), 0);
	ck_assert_int_eq(paged_handler_calls, 2);
	ck_assert_int_eq((int)l.n, 2);
	ck_assert_str_eq(l.items[0].identifier, "a");
	ck_assert_int_eq(l.items[0].port, 5432);
	ck_assert_int_eq((int)l.items[0].nmembers, 1);
	ck_assert_int_eq(l.items[0].members[0].is_cluster_writer, 1);
	ck_assert_int_eq(l.items[0].members[0].promotion_tier, 1);
	ck_assert_str_eq(l.items[1].status, "backing-up");
	aws_rds_db_cluster_list_release(&l);
	aws_client_free(c);
	stub_stop(s);
}
END_TEST

static void h_same_marker(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	(void)req, (void)ud;
	resp->status = 200;
	resp->content_type = "text/xml";
	resp->body = xstrdup("<DescribeDBInstancesResponse><DescribeDBInstancesResult>"
			     "<DBInstances/><Marker>again</Marker></DescribeDBInstancesResult>"
			     "</DescribeDBInstancesResponse>");
}

/* A server that hands back the Marker it was sent would page forever: refused at once. */
START_TEST(test_a_repeated_marker_ends_the_describe)
{
	struct stub *s = stub_start(h_same_marker, NULL);
	char u[64];
	struct aws_client *c;
	struct aws_rds_db_instance_list l;
	struct aws_error err;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d", stub_port(s));
	c = aws_client_new(&(struct aws_client_config){.creds = creds, .endpoint_url = u});
	ck_assert_int_eq(aws_rds_describe_db_instances(c, "us-east-1", NULL, NULL, &l, &err),
			 BASE_EPARSE);
	ck_assert_ptr_nonnull(strstr(err.message, "the same Marker came back twice"));
	ck_assert_int_eq(stub_count(s), 2);
	aws_rds_db_instance_list_release(&l);
	aws_client_free(c);
	stub_stop(s);
}
END_TEST

/* An answer without the element the operation returns is an error, not an empty result. */
START_TEST(test_an_answer_without_its_result_element_is_refused)
{
	struct aws_client *c = new_client(1, 0);
	struct aws_rds_global_cluster g;
	struct aws_error err;

	script.ok_body = "<CreateGlobalClusterResponse><CreateGlobalClusterResult/>"
			 "</CreateGlobalClusterResponse>";
	ck_assert_int_eq(
		aws_rds_create_global_cluster(
			c, "us-east-1",
			&(struct aws_rds_create_global_cluster_input){
				.global_cluster_identifier = "gdb", .engine = "aurora-postgresql"},
			&g, &err),
		BASE_EPARSE);
	ck_assert_ptr_nonnull(strstr(err.message, "answer without GlobalCluster"));
	aws_client_free(c);
}
END_TEST

/* ---- decoders ---- */

static const struct aws_xml_node *parse(const char *xml, struct aws_xml_doc **doc)
{
	ck_assert_int_eq(aws_xml_parse(xml, strlen(xml), doc), 0);
	return aws_xml_root(*doc);
}

START_TEST(test_instance_and_snapshot_decode)
{
	struct aws_xml_doc *doc;
	struct aws_rds_db_instance i;
	struct aws_rds_cluster_snapshot sn;

	aws_rds_decode_db_instance(
		parse("<DBInstance><DBInstanceIdentifier>orders-east-1</DBInstanceIdentifier>"
		      "<DBInstanceStatus>available</DBInstanceStatus><DBInstanceClass>db.r6g.large"
		      "</DBInstanceClass><DBClusterIdentifier>orders-east</DBClusterIdentifier>"
		      "<Endpoint><Address>orders-east-1.abc.us-east-1.rds.amazonaws.com</Address>"
		      "<Port>5432</Port></Endpoint><PromotionTier>1</PromotionTier></DBInstance>",
		      &doc),
		&i, NULL);
	aws_xml_free(doc);
	ck_assert_str_eq(i.identifier, "orders-east-1");
	ck_assert_str_eq(i.status, "available");
	ck_assert_str_eq(i.db_cluster_identifier, "orders-east");
	ck_assert_str_eq(i.endpoint_address, "orders-east-1.abc.us-east-1.rds.amazonaws.com");
	ck_assert_int_eq(i.endpoint_port, 5432);
	ck_assert_int_eq(i.promotion_tier, 1);
	aws_rds_db_instance_release(&i);

	aws_rds_decode_cluster_snapshot(
		parse("<DBClusterSnapshot><DBClusterSnapshotIdentifier>orders-lost-writes"
		      "</DBClusterSnapshotIdentifier><DBClusterIdentifier>orders-east"
		      "</DBClusterIdentifier><Status>available</Status><SnapshotType>manual"
		      "</SnapshotType><StorageEncrypted>true</StorageEncrypted>"
		      "<SnapshotCreateTime>2026-01-02T03:04:05.678Z</SnapshotCreateTime>"
		      "</DBClusterSnapshot>",
		      &doc),
		&sn, NULL);
	aws_xml_free(doc);
	ck_assert_str_eq(sn.identifier, "orders-lost-writes");
	ck_assert_str_eq(sn.snapshot_type, "manual");
	ck_assert_int_eq(sn.storage_encrypted, 1);
	ck_assert(sn.create_time_ms == 1767323045678LL);
	aws_rds_cluster_snapshot_release(&sn);
}
END_TEST

/* What an answer leaves out is absent (NULL, 0), never a crash or a stale value. */
START_TEST(test_missing_fields_decode_as_absent)
{
	struct aws_xml_doc *doc;
	const struct aws_xml_node *n =
		parse("<DBCluster><Status>creating</Status></DBCluster>", &doc);
	struct aws_rds_db_cluster c;
	struct aws_rds_global_cluster g;
	struct base_pool *pool = base_pool_new();

	aws_rds_decode_db_cluster(n, &c, NULL);
	ck_assert_str_eq(c.status, "creating");
	ck_assert_ptr_null(c.identifier);
	ck_assert_ptr_null(c.endpoint);
	ck_assert_int_eq(c.port, 0);
	ck_assert_uint_eq(c.nmembers, 0);
	ck_assert_uint_eq(c.ntags, 0);
	aws_rds_db_cluster_release(&c);

	/* As a Describe list's item: strings in the list's pool. */
	aws_rds_decode_global_cluster(n, &g, pool);
	ck_assert_ptr_null(g.identifier);
	ck_assert_str_eq(g.status, "creating");
	ck_assert_uint_eq(g.nmembers, 0);
	ck_assert_int_eq(g.failover_state.present, 0);
	base_pool_free(pool);
	aws_xml_free(doc);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		test_failover_and_switchover_bodies,
		test_create_cluster_secondary_and_delete_with_snapshot,
		test_global_cluster_with_failover_state_decodes,
		test_describe_follows_marker,
		test_a_repeated_marker_ends_the_describe,
		test_an_answer_without_its_result_element_is_refused,
		test_instance_and_snapshot_decode,
		test_missing_fields_decode_as_absent,
	};

	return gdb_check_run("aws_rds_wire", 30, setup, teardown, tests,
			     sizeof(tests) / sizeof(*tests));
}
