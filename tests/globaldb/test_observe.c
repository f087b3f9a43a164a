/*
 * The observation cache against a scripted loopback RDS: one round of
 * Describe calls per region serves every reconcile; while one reconcile
 * refreshes a region, the others take the previous answer, unless an action
 * invalidated it.
 */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"
#include "pkg/base/buf.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/observe.h"
#include "tests/aws/harness.h"

/* The scripted server answers one request at a time: a round of three slow answers takes 1.2 s,
 * within the client's 2 s attempt timeout; a hanging answer is beyond it. */
#define SLOW_MS 400
#define HANG_MS 3000

static atomic_int slow;	   /* answer after this many ms */
static atomic_int arrived; /* requests seen */

/* A region of many clusters (test_a_busy_region...): its answers, when set. */
static char *big[3]; /* clusters, instances, global clusters */

/* What gdb_obs_cache_watch reported: "c/<id>" and "g/<id>", joined by spaces. */
static char reported[1024];
static pthread_mutex_t reported_lock = PTHREAD_MUTEX_INITIALIZER;

/* What was reported since the last call (and forget it): the callback runs on other threads. */
static const char *take_reported(void)
{
	static char copy[sizeof(reported)];

	pthread_mutex_lock(&reported_lock);
	snprintf(copy, sizeof(copy), "%s", reported);
	reported[0] = '\0';
	pthread_mutex_unlock(&reported_lock);
	return copy;
}

static const char *answer(const char *body)
{
	if (big[0])
		return strstr(body, "Action=DescribeDBClusters")    ? big[0]
		       : strstr(body, "Action=DescribeDBInstances") ? big[1]
								    : big[2];
	if (strstr(body, "Action=DescribeDBClusters"))
		return "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters>"
		       "<DBCluster><DBClusterIdentifier>orders-east</DBClusterIdentifier>"
		       "<DBClusterArn>arn:aws:rds:us-east-1:123456789012:cluster:orders-east</"
		       "DBClusterArn>"
		       "<Status>available</Status><Endpoint>e.example</Endpoint><Port>5432</Port>"
		       "</DBCluster></DBClusters></DescribeDBClustersResult></"
		       "DescribeDBClustersResponse>";
	if (strstr(body, "Action=DescribeDBInstances"))
		return "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances/>"
		       "</DescribeDBInstancesResult></DescribeDBInstancesResponse>";
	return "<DescribeGlobalClustersResponse><DescribeGlobalClustersResult><GlobalClusters/>"
	       "</DescribeGlobalClustersResult></DescribeGlobalClustersResponse>";
}

static atomic_int get_changes; /* Route 53 GetChange requests seen */
static atomic_int failing;     /* answer every Describe with a 500 */

static void rds(const struct stub_request *req, struct stub_response *resp, void *ud)
{
	(void)ud;
	resp->status = 200;
	resp->content_type = "text/xml";
	if (strstr(req->target, "/change/")) {
		atomic_fetch_add(&get_changes, 1);
		resp->body = strdup("<GetChangeResponse><ChangeInfo><Id>/change/C1</Id>"
				    "<Status>INSYNC</Status></ChangeInfo></GetChangeResponse>");
		return;
	}
	atomic_fetch_add(&arrived, 1);
	if (atomic_load(&failing)) {
		resp->status = 500;
		resp->body = strdup("<ErrorResponse><Error><Code>InternalFailure</Code></Error>"
				    "</ErrorResponse>");
		return;
	}
	resp->body = strdup(answer(req->body ? req->body : ""));
	resp->delay_ms = atomic_load(&slow);
}

static struct stub *stub;
static struct aws_creds_provider *creds;
static struct aws_client *aws;
static struct gdb_obs_cache *cache;
static struct gdb_spec spec;
static struct gdb_status status;
static json_t *obj;

static const char *spec_json =
	"{\"globalClusterIdentifier\":\"orders-global\",\"primaryRegion\":\"us-east-1\","
	"\"regions\":[{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"}],"
	"\"healthCheck\":{\"credentialsSecretRef\":{\"name\":\"pg\"}}}";

static void setup(void)
{
	char url[64], err[256];
	json_error_t jerr;
	json_t *js;

	atomic_store(&slow, 0);
	atomic_store(&arrived, 0);
	atomic_store(&get_changes, 0);
	atomic_store(&failing, 0);
	stub = stub_start(rds, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", stub_port(stub));
	creds = aws_creds_provider_new_static("AKIDEXAMPLE", "secret-not-logged", NULL);
	aws = aws_client_new(&(struct aws_client_config){.creds = creds,
							 .endpoint_url = url,
							 .max_attempts = 1,
							 .attempt_timeout_ms = 2000});
	ck_assert_ptr_nonnull(aws);
	cache = gdb_obs_cache_new(aws, 50);
	js = json_loads(spec_json, 0, &jerr);
	ck_assert_ptr_nonnull(js);
	ck_assert_int_eq(gdb_spec_decode(js, &spec, err, sizeof(err)), 0);
	json_decref(js);
	memset(&status, 0, sizeof(status));
	obj = json_pack("{s:{s:s,s:s,s:i}}", "metadata", "name", "orders", "namespace", "db",
			"generation", 1);
}

static void teardown(void)
{
	reported[0] = '\0';
	for (int i = 0; i < 3; i++) {
		free(big[i]);
		big[i] = NULL;
	}
	json_decref(obj);
	gdb_spec_release(&spec);
	gdb_obs_cache_free(cache);
	aws_client_free(aws);
	aws_creds_provider_free(creds);
	stub_stop(stub);
}

/*
 * One observation that accepts answers up to max_age_ms old (0: the cache's
 * TTL); returns how long it took (ms) and whether the region answered.
 */
static int64_t observe_aged(int64_t max_age_ms, int *api_ok)
{
	struct gdb_observation o;
	int64_t t0 = base_now_mono_ms();

	gdb_observe(cache, &spec, &status, obj, NULL, max_age_ms, &o);
	*api_ok = o.obs.n_regions == 1 && o.obs.regions[0].api == GDB_CALL_OK &&
		  o.obs.regions[0].cluster_exists;
	gdb_observation_release(&o);
	return base_now_mono_ms() - t0;
}

static int64_t observe_once(int *api_ok)
{
	return observe_aged(0, api_ok);
}

static void *observe_thread(void *arg)
{
	int ok;

	*(int64_t *)arg = observe_once(&ok);
	return NULL;
}

/* Waits (bounded) until n requests reached the stub. */
static void await_arrivals(int n)
{
	for (int i = 0; i < 1000 && atomic_load(&arrived) < n; i++)
		base_sleep_ms(5);
	ck_assert_int_ge(atomic_load(&arrived), n);
}

#define ARN "arn:aws:rds:us-east-1:123456789012:cluster:"

/*
 * 300 other clusters, instances and global clusters around ours: the
 * observation finds ours whatever the case AWS spells them in, its instances
 * in list order, the fallback's renamed global cluster, and nothing of a
 * cluster that only shares our name in another region or a look-alike name.
 */
START_TEST(test_a_busy_region_yields_exactly_our_items)
{
	struct base_buf b[3] = {BASE_BUF_INIT(0), BASE_BUF_INIT(0), BASE_BUF_INIT(0)};
	struct gdb_observation o;
	const struct gdb_obs_region *r;

	base_buf_addf(&b[0], "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters>");
	base_buf_addf(&b[1],
		      "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>");
	base_buf_addf(
		&b[2],
		"<DescribeGlobalClustersResponse><DescribeGlobalClustersResult><GlobalClusters>");
	for (int i = 0; i < 300; i++) {
		base_buf_addf(&b[0],
			      "<DBCluster><DBClusterIdentifier>c%03d-east</DBClusterIdentifier>"
			      "<DBClusterArn>" ARN
			      "c%03d-east</DBClusterArn><Status>available</Status>"
			      "</DBCluster>",
			      i, i);
		base_buf_addf(
			&b[1],
			"<DBInstance><DBInstanceIdentifier>c%03d-east-1</DBInstanceIdentifier>"
			"<DBClusterIdentifier>c%03d-east</DBClusterIdentifier></DBInstance>",
			i, i);
		base_buf_addf(&b[2],
			      "<GlobalClusterMember><GlobalClusterIdentifier>g%03d</"
			      "GlobalClusterIdentifier>"
			      "<GlobalClusterMembers><GlobalClusterMember><DBClusterArn>" ARN
			      "c%03d-east"
			      "</DBClusterArn></GlobalClusterMember></GlobalClusterMembers></"
			      "GlobalClusterMember>",
			      i, i);
		if (i == 150)
			base_buf_addf(
				&b[0],
				"<DBCluster><DBClusterIdentifier>Orders-East</DBClusterIdentifier>"
				"<DBClusterArn>" ARN
				"Orders-East</DBClusterArn><Status>available</Status>"
				"<Endpoint>orders.example</Endpoint></DBCluster>");
		if (i == 100 || i == 200)
			base_buf_addf(&b[1],
				      "<DBInstance><DBInstanceIdentifier>orders-east-%d"
				      "</DBInstanceIdentifier><DBClusterIdentifier>ORDERS-east"
				      "</DBClusterIdentifier></DBInstance>",
				      i == 100 ? 2 : 1);
		if (i == 50)
			base_buf_addf(&b[2],
				      "<GlobalClusterMember><GlobalClusterIdentifier>orders-global"
				      "</"
				      "GlobalClusterIdentifier><GlobalClusterMembers><"
				      "GlobalClusterMember>"
				      "<DBClusterArn>" ARN
				      "Orders-East</DBClusterArn></GlobalClusterMember>"
				      "</GlobalClusterMembers></GlobalClusterMember>");
		if (i == 250)
			base_buf_addf(
				&b[2],
				"<GlobalClusterMember><GlobalClusterIdentifier>ORDERS-GLOBAL-2"
				"</GlobalClusterIdentifier></GlobalClusterMember>"
				"<GlobalClusterMember><GlobalClusterIdentifier>orders-global-02"
				"</GlobalClusterIdentifier></GlobalClusterMember>"
				"<GlobalClusterMember><GlobalClusterIdentifier>elsewhere</"
				"GlobalClusterIdentifier>"
				"<GlobalClusterMembers><GlobalClusterMember><DBClusterArn>"
				"arn:aws:rds:eu-west-1:123456789012:cluster:orders-east</"
				"DBClusterArn>"
				"</GlobalClusterMember></GlobalClusterMembers></"
				"GlobalClusterMember>");
	}
	base_buf_addf(&b[0],
		      "</DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>");
	base_buf_addf(&b[1],
		      "</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>");
	base_buf_addf(&b[2], "</GlobalClusters></DescribeGlobalClustersResult></"
			     "DescribeGlobalClustersResponse>");
	for (int i = 0; i < 3; i++)
		big[i] = base_buf_detach(&b[i], NULL);

	gdb_observe(cache, &spec, &status, obj, NULL, 0, &o);
	ck_assert_uint_eq(o.obs.n_regions, 1);
	r = &o.obs.regions[0];
	ck_assert_int_eq(r->api, GDB_CALL_OK);
	ck_assert(r->cluster_exists);
	ck_assert_str_eq(r->endpoint, "orders.example");
	ck_assert_str_eq(r->global_cluster_identifier, "orders-global");
	ck_assert_uint_eq(r->n_instances, 2);
	ck_assert_str_eq(r->instance_ids[0], "orders-east-2");
	ck_assert_str_eq(r->instance_ids[1], "orders-east-1");
	ck_assert_uint_eq(o.obs.n_globals, 2);
	ck_assert_str_eq(o.obs.globals[0].identifier, "orders-global");
	ck_assert_str_eq(o.obs.globals[1].identifier, "ORDERS-GLOBAL-2");
	gdb_observation_release(&o);
}
END_TEST

/*
 * The seed runbook's base "demo-global-cluster-1" is followed by
 * "demo-global-cluster-2": without a status (adoption) the observation finds
 * that generation by name, and not "demo-global-cluster-1-2", which the base
 * never names.
 */
START_TEST(test_a_runbook_base_finds_its_later_generations)
{
	struct gdb_observation o;
	int found2 = 0, found12 = 0;

	gdb_set_str(&spec.global_cluster_identifier, "demo-global-cluster-1");
	big[1] = strdup(answer("Action=DescribeDBInstances"));
	big[0] = strdup(answer("Action=DescribeDBClusters"));
	big[2] = strdup("<DescribeGlobalClustersResponse><DescribeGlobalClustersResult>"
			"<GlobalClusters>"
			"<GlobalClusterMember><GlobalClusterIdentifier>demo-global-cluster-1-2"
			"</GlobalClusterIdentifier></GlobalClusterMember>"
			"<GlobalClusterMember><GlobalClusterIdentifier>demo-global-cluster-2"
			"</GlobalClusterIdentifier></GlobalClusterMember>"
			"</GlobalClusters></DescribeGlobalClustersResult>"
			"</DescribeGlobalClustersResponse>");
	gdb_observe(cache, &spec, &status, obj, NULL, 0, &o);
	for (size_t i = 0; i < o.obs.n_globals; i++) {
		found2 |= strcmp(o.obs.globals[i].identifier, "demo-global-cluster-2") == 0;
		found12 |= strcmp(o.obs.globals[i].identifier, "demo-global-cluster-1-2") == 0;
	}
	ck_assert_msg(found2, "demo-global-cluster-2 not observed (%zu globals)", o.obs.n_globals);
	ck_assert_msg(!found12, "demo-global-cluster-1-2 taken for ours");
	gdb_observation_release(&o);
}
END_TEST

/*
 * Route 53 is asked about the change the operation waits for, and, at
 * UpdateDns, about the change the upsert just made (an INSYNC change then
 * needs no poll); at no other step.
 */
START_TEST(test_route53_is_asked_about_the_change_just_made)
{
	struct gdb_obs_last_result last = {.action = GDB_ACT_UPSERT_DNS,
					   .region = "us-east-1",
					   .call = GDB_CALL_OK,
					   .change_id = "/change/C1"};
	struct gdb_observation o;

	status.operation.step = GDB_STEP_UPDATE_DNS;
	gdb_observe(cache, &spec, &status, obj, &last, 0, &o);
	ck_assert_str_eq(o.obs.dns_change_status, "INSYNC");
	gdb_observation_release(&o);
	ck_assert_int_eq(atomic_load(&get_changes), 1);

	status.operation.step = GDB_STEP_PUBLISH_SSM;
	gdb_observe(cache, &spec, &status, obj, &last, 0, &o);
	ck_assert_ptr_null(o.obs.dns_change_status);
	gdb_observation_release(&o);
	ck_assert_int_eq(atomic_load(&get_changes), 1);
	memset(&status, 0, sizeof(status));
}
END_TEST

static void on_change(void *arg, const char *region, int global, const char *id)
{
	(void)arg;
	ck_assert_str_eq(region, "us-east-1");
	pthread_mutex_lock(&reported_lock);
	snprintf(reported + strlen(reported), sizeof(reported) - strlen(reported), "%s%s/%s",
		 *reported ? " " : "", global ? "g" : "c", id);
	pthread_mutex_unlock(&reported_lock);
}

/* One region answer: clusters c0..c3, each with an instance, and global clusters g0..g1. */
static void set_region(const char *c1_status, int c2_instances, const char *g1_failover,
		       int with_c3)
{
	struct base_buf b[3] = {BASE_BUF_INIT(0), BASE_BUF_INIT(0), BASE_BUF_INIT(0)};

	base_buf_addf(&b[0], "<DescribeDBClustersResponse><DescribeDBClustersResult><DBClusters>");
	base_buf_addf(&b[1],
		      "<DescribeDBInstancesResponse><DescribeDBInstancesResult><DBInstances>");
	base_buf_addf(&b[2], "<DescribeGlobalClustersResponse><DescribeGlobalClustersResult>"
			     "<GlobalClusters>");
	for (int i = 0; i < 4; i++) {
		if (i == 3 && !with_c3)
			continue;
		base_buf_addf(&b[0],
			      "<DBCluster><DBClusterIdentifier>c%d</DBClusterIdentifier>"
			      "<Status>%s</Status><Endpoint>c%d.example</Endpoint></DBCluster>",
			      i, i == 1 ? c1_status : "available", i);
		for (int k = 0; k < (i == 2 ? c2_instances : 1); k++)
			base_buf_addf(&b[1],
				      "<DBInstance><DBInstanceIdentifier>c%d-%d"
				      "</DBInstanceIdentifier><DBClusterIdentifier>c%d"
				      "</DBClusterIdentifier><DBInstanceStatus>available"
				      "</DBInstanceStatus></DBInstance>",
				      i, k, i);
	}
	for (int i = 0; i < 2; i++) {
		base_buf_addf(&b[2],
			      "<GlobalClusterMember><GlobalClusterIdentifier>g%d"
			      "</GlobalClusterIdentifier><Status>available</Status>",
			      i);
		if (i == 1 && g1_failover)
			base_buf_addf(&b[2], "<FailoverState><Status>%s</Status></FailoverState>",
				      g1_failover);
		base_buf_addf(&b[2], "</GlobalClusterMember>");
	}
	base_buf_addf(&b[0],
		      "</DBClusters></DescribeDBClustersResult></DescribeDBClustersResponse>");
	base_buf_addf(&b[1],
		      "</DBInstances></DescribeDBInstancesResult></DescribeDBInstancesResponse>");
	base_buf_addf(&b[2], "</GlobalClusters></DescribeGlobalClustersResult>"
			     "</DescribeGlobalClustersResponse>");
	for (int i = 0; i < 3; i++) {
		free(big[i]);
		big[i] = base_buf_detach(&b[i], NULL);
	}
}

static void observe_past_ttl(void)
{
	int ok;

	base_sleep_ms(60); /* past the 50 ms TTL */
	observe_once(&ok); /* ours is not among them: only the round matters here */
}

/*
 * Each round is compared with the one before: a cluster whose status
 * changed, one that gained an instance, one that is gone, and a global
 * cluster whose failover began are reported, each once; a round that
 * changed nothing reports nothing.
 */
START_TEST(test_a_round_reports_what_changed_since_the_last)
{
	const char *r;

	gdb_obs_cache_watch(cache, on_change, NULL);
	set_region("available", 1, NULL, 1);
	observe_past_ttl();
	ck_assert_str_eq(take_reported(), ""); /* the first answer is no change */
	set_region("available", 1, NULL, 1);
	observe_past_ttl();
	ck_assert_str_eq(take_reported(), "");
	set_region("modifying", 2, "switching-over", 0);
	observe_past_ttl();
	ck_assert_str_eq(take_reported(), "c/c1 c/c2 c/c3 g/g1");
	observe_past_ttl();
	ck_assert_str_eq(take_reported(), "");
	ck_assert_uint_eq(gdb_obs_cache_rounds(cache), 4);

	/* The region's API stops answering, then answers again: everything it holds changed. */
	atomic_store(&failing, 1);
	observe_past_ttl();
	ck_assert_str_eq(take_reported(), "c/c0 c/c1 c/c2 g/g0 g/g1");
	atomic_store(&failing, 0);
	r = "";
	for (int i = 0; i < 100 && !*r; i++) { /* the failure is served until a refresh */
		observe_past_ttl();
		r = take_reported();
	}
	ck_assert_str_eq(r, "c/c0 c/c1 c/c2 g/g0 g/g1");
}
END_TEST

START_TEST(test_one_round_serves_every_reconcile_within_the_ttl)
{
	int ok;

	observe_once(&ok);
	ck_assert(ok);
	ck_assert_int_eq(atomic_load(&arrived), 3); /* clusters, instances, global clusters */
	observe_once(&ok);
	ck_assert(ok);
	ck_assert_int_eq(atomic_load(&arrived), 3);
	ck_assert_uint_eq(gdb_obs_cache_rounds(cache), 1);
}
END_TEST

START_TEST(test_a_settled_object_plans_on_an_older_answer)
{
	int ok;

	observe_once(&ok);
	base_sleep_ms(60); /* past the 50 ms TTL, well inside the settled window */
	observe_aged(GDB_OBS_SETTLED_MS, &ok);
	ck_assert(ok);
	ck_assert_int_eq(atomic_load(&arrived), 3); /* no new round */
	observe_once(&ok);			    /* a busy object asks again */
	ck_assert(ok);
	ck_assert_int_eq(atomic_load(&arrived), 6);
	ck_assert_uint_eq(gdb_obs_cache_rounds(cache), 2);
}
END_TEST

START_TEST(test_others_take_the_previous_answer_while_one_refreshes)
{
	pthread_t t;
	int64_t refresher_ms = 0, mine_ms;
	int ok;

	observe_once(&ok);
	base_sleep_ms(60); /* past the 50 ms TTL */
	atomic_store(&slow, SLOW_MS);
	ck_assert_int_eq(pthread_create(&t, NULL, observe_thread, &refresher_ms), 0);
	await_arrivals(4); /* the refresh is in flight */
	mine_ms = observe_once(&ok);
	ck_assert(ok);
	ck_assert_int_lt(mine_ms, SLOW_MS / 2);
	pthread_join(t, NULL);
	ck_assert_int_ge(refresher_ms, SLOW_MS);
	ck_assert_uint_eq(gdb_obs_cache_rounds(cache), 2);
}
END_TEST

START_TEST(test_after_an_action_everyone_waits_for_fresh_answers)
{
	pthread_t t;
	int64_t refresher_ms = 0, mine_ms;
	int ok;

	observe_once(&ok);
	gdb_obs_cache_invalidate(cache, "us-east-1");
	atomic_store(&slow, SLOW_MS);
	ck_assert_int_eq(pthread_create(&t, NULL, observe_thread, &refresher_ms), 0);
	await_arrivals(4);
	mine_ms = observe_once(&ok);
	ck_assert(ok);
	ck_assert_int_ge(mine_ms, SLOW_MS / 2);
	pthread_join(t, NULL);
	ck_assert_uint_eq(gdb_obs_cache_rounds(cache), 2); /* it waited for that one round */
}
END_TEST

START_TEST(test_a_hanging_region_is_reported_at_once_and_asked_again_in_the_background)
{
	int64_t deadline, took;
	int ok = 0;

	atomic_store(&slow, HANG_MS); /* the client gives up after 2 s */
	took = observe_once(&ok);
	ck_assert(!ok);
	ck_assert_int_ge(took, 1900); /* the first round had to wait for its timeout */
	atomic_store(&slow, 0);
	deadline = base_now_mono_ms() + 20000;
	do {
		base_sleep_ms(60); /* past the 50 ms TTL each time */
		took = observe_once(&ok);
		ck_assert_int_lt(took, 500); /* never the call timeout again */
	} while (!ok && base_now_mono_ms() < deadline);
	ck_assert_msg(ok, "the region's recovery was never seen");
	ck_assert_uint_ge(gdb_obs_cache_rounds(cache), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("observe");
	TCase *tc = tcase_create("cache");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_one_round_serves_every_reconcile_within_the_ttl);
	tcase_add_test(tc, test_a_busy_region_yields_exactly_our_items);
	tcase_add_test(tc, test_a_runbook_base_finds_its_later_generations);
	tcase_add_test(tc, test_route53_is_asked_about_the_change_just_made);
	tcase_add_test(tc, test_a_round_reports_what_changed_since_the_last);
	tcase_add_test(tc, test_a_settled_object_plans_on_an_older_answer);
	tcase_add_test(tc, test_others_take_the_previous_answer_while_one_refreshes);
	tcase_add_test(tc, test_after_an_action_everyone_waits_for_fresh_answers);
	tcase_add_test(tc,
		       test_a_hanging_region_is_reported_at_once_and_asked_again_in_the_background);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
