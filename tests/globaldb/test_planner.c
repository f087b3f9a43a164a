/*
 * The planner's table: each row is a named situation (a few modifiers applied
 * to a healthy two-region world) and what the planner must decide in it: the
 * action and the region to call it in, the operation step it records first,
 * the refusal or Degraded reason, the Ready reason, and an Event it must emit.
 * Every row also checks the invariants of a pure planner: the same inputs give
 * the same plan, the new status survives encode/decode, and a non-idempotent
 * AWS call is only planned while the status records it (the write-ahead rule).
 * A few sequence tests then walk whole operations step by step.
 * Size: the table is one file so that a reader sees every situation in order.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/planner.h"
#include "pkg/globaldb/types.h"

#define T0 1795752000000LL /* 2026-11-27T04:00:00Z */
#define SEC 1000LL
/*
 * A failing writer's first failed write probe ended here (writerFailingSince).
 * A secondary's lag L is modelled as both the prober's live measurement and a
 * heartbeat seen there written at FAIL_END - L, so that the evidence-based
 * bound of a failing writer (FAIL_END - heartbeat) is L too.
 */
#define FAIL_END (T0 - 3 * SEC)

#define EAST "us-east-1"
#define WEST "us-west-2"
#define EU "eu-west-1"
#define EAST_ARN "arn:aws:rds:us-east-1:123456789012:cluster:orders-east"
#define WEST_ARN "arn:aws:rds:us-west-2:123456789012:cluster:orders-west"
#define EU_ARN "arn:aws:rds:eu-west-1:123456789012:cluster:orders-eu"
#define GLOBAL_ARN "arn:aws:rds::123456789012:global-cluster:orders-global"
/* The object's identity, and the owner tags of what it owns (ownership.h). */
#define OWNER "shop/orders"
#define OWNER_UID "6f1c2a3e-0000-4000-8000-000000000001"
#define OURS ((struct gdb_obs_owner){OWNER, OWNER_UID})

static const char *base_spec =
	"{\"globalClusterIdentifier\":\"orders-global\",\"primaryRegion\":\"us-east-1\","
	"\"regions\":["
	"{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\","
	"\"template\":{\"instanceClass\":\"db.r6g.large\",\"instances\":2}},"
	"{\"name\":\"us-west-2\",\"dbClusterIdentifier\":\"orders-west\","
	"\"template\":{\"instanceClass\":\"db.r6g.large\",\"instances\":2}}],"
	"\"healthCheck\":{\"credentialsSecretRef\":{\"name\":\"probe\"}},"
	"\"dns\":{\"hostedZoneId\":\"Z0123456789ABC\",\"writerRecordName\":\"writer.orders.example."
	"com\","
	"\"readerRecordName\":\"reader.orders.example.com\"},"
	"\"ssm\":{\"parameterPrefix\":\"/orders/db\"},"
	"\"workloads\":{\"deployments\":[{\"namespace\":\"shop\",\"name\":\"api\"}]}}";

static struct {
	struct gdb_spec spec;
	struct gdb_status st;
	struct gdb_observed obs;
	struct gdb_health h;
	int64_t now;
} W;

static struct gdb_obs_region *R(const char *name)
{
	for (size_t i = 0; i < W.obs.n_regions; i++)
		if (strcmp(W.obs.regions[i].name, name) == 0)
			return &W.obs.regions[i];
	ck_abort_msg("no region %s", name);
	return NULL;
}

static struct gdb_health_region *H(const char *name)
{
	for (size_t i = 0; i < W.h.n_regions; i++)
		if (strcmp(W.h.regions[i].name, name) == 0)
			return &W.h.regions[i];
	ck_abort_msg("no health %s", name);
	return NULL;
}

static struct gdb_obs_global *G(void)
{
	return &W.obs.globals[0];
}

static void set_members(struct gdb_obs_global *g, const char *writer_arn, const char *sec_arn,
			const char *sync)
{
	memset(g->members, 0, sizeof(g->members));
	g->n_members = 0;
	if (writer_arn) {
		g->members[g->n_members].db_cluster_arn = writer_arn;
		g->members[g->n_members++].is_writer = 1;
	}
	if (sec_arn) {
		g->members[g->n_members].db_cluster_arn = sec_arn;
		g->members[g->n_members++].synchronization_status = sync;
	}
}

static void region_obs(struct gdb_obs_region *o, const char *name, const char *arn, const char *ep,
		       const char *rep, const char *i1, const char *i2)
{
	memset(o, 0, sizeof(*o));
	o->name = name;
	o->api = GDB_CALL_OK;
	o->cluster_exists = 1;
	o->cluster_arn = arn;
	o->cluster_status = "available";
	o->endpoint = ep;
	o->reader_endpoint = rep;
	o->global_cluster_identifier = "orders-global";
	o->instance_ids[0] = i1;
	o->instance_ids[1] = i2;
	o->n_instances = 2;
	o->owner = OURS;
}

static void world_init(void)
{
	json_error_t jerr;
	json_t *j = json_loads(base_spec, 0, &jerr);
	char err[GDB_ERRLEN];

	ck_assert_msg(j, "spec json: %s", jerr.text);
	memset(&W, 0, sizeof(W));
	ck_assert_msg(gdb_spec_decode(j, &W.spec, err, sizeof(err)) == 0, "%s", err);
	json_decref(j);
	W.now = T0;
	gdb_status_decode(NULL, &W.st, NULL, 0);
	gdb_set_str(&W.st.global_cluster_identifier, "orders-global");
	W.st.generation = 1;
	gdb_set_str(&W.st.current_primary_region, EAST);

	W.obs.generation = 1;
	W.obs.owner = OWNER;
	W.obs.owner_uid = OWNER_UID;
	W.obs.n_regions = 2;
	region_obs(&W.obs.regions[0], EAST, EAST_ARN,
		   "orders-east.cluster-x.us-east-1.rds.amazonaws.com",
		   "orders-east.cluster-ro-x.us-east-1.rds.amazonaws.com", "orders-east-1",
		   "orders-east-2");
	region_obs(&W.obs.regions[1], WEST, WEST_ARN,
		   "orders-west.cluster-y.us-west-2.rds.amazonaws.com",
		   "orders-west.cluster-ro-y.us-west-2.rds.amazonaws.com", "orders-west-1",
		   "orders-west-2");
	W.obs.n_globals = 1;
	G()->identifier = "orders-global";
	G()->status = "available";
	G()->endpoint = "orders-global.global-abc.global.rds.amazonaws.com";
	G()->arn = GLOBAL_ARN;
	G()->owner = OURS;
	set_members(G(), EAST_ARN, WEST_ARN, "connected");

	W.h.n_regions = 2;
	W.h.regions[0] = (struct gdb_health_region){.name = EAST,
						    .writer_healthy = 1,
						    .reader_healthy = 1,
						    .lag_ms = -1,
						    .last_probe_ms = T0 - 1000,
						    .heartbeat_ms = T0 - 1000,
						    .heartbeat_seq = 100};
	W.h.regions[1] = (struct gdb_health_region){.name = WEST,
						    .writer_healthy = -1,
						    .reader_healthy = 1,
						    .lag_ms = 500,
						    .last_probe_ms = T0 - 1000,
						    .heartbeat_ms = FAIL_END - 500,
						    .heartbeat_seq = 99,
						    .upstream_age_ms = 800};
}

static void world_release(void)
{
	gdb_spec_release(&W.spec);
	gdb_status_release(&W.st);
}

/* ---- modifiers ---- */

typedef void (*mod_fn)(void);

static void op(enum gdb_op_type type, enum gdb_op_method method, enum gdb_step step,
	       const char *source, const char *target, int attempts, int64_t age_ms)
{
	struct gdb_operation *o = &W.st.operation;

	gdb_operation_release(o);
	o->type = type;
	o->method = method;
	o->step = step;
	gdb_set_str(&o->source_region, source);
	gdb_set_str(&o->target_region, target);
	o->attempts = attempts;
	o->id = 12;
	o->started_ms = W.now - age_ms - 60 * SEC;
	o->step_started_ms = W.now - age_ms;
}

static void last_op(enum gdb_op_type type, enum gdb_op_method method, enum gdb_op_result res,
		    const char *source, const char *target, int64_t age_ms)
{
	struct gdb_operation *o = &W.st.last_operation;

	gdb_operation_release(o);
	o->type = type;
	o->method = method;
	o->result = res;
	o->id = 11;
	gdb_set_str(&o->source_region, source);
	gdb_set_str(&o->target_region, target);
	o->started_ms = W.now - age_ms - 120 * SEC;
	o->finished_ms = W.now - age_ms;
}

static void last_call(enum gdb_action_kind kind, const char *region, enum gdb_call call,
		      const char *code)
{
	W.obs.last.action = kind;
	W.obs.last.region = region;
	W.obs.last.call = call;
	W.obs.last.aws_code = code;
}

static void m_none(void)
{
}
static void m_status_empty(void)
{
	gdb_status_release(&W.st);
	gdb_status_decode(NULL, &W.st, NULL, 0);
}
static void m_spec_west(void)
{
	gdb_set_str(&W.spec.primary_region, WEST);
}
static void m_no_tail(void)
{
	W.spec.has_dns = 0;
	free(W.spec.ssm_parameter_prefix);
	W.spec.ssm_parameter_prefix = NULL;
	for (size_t i = 0; i < W.spec.n_deployments; i++) {
		free(W.spec.deployments[i].namespace_);
		free(W.spec.deployments[i].name);
	}
	W.spec.n_deployments = 0;
}
static void m_no_globals(void)
{
	W.obs.n_globals = 0;
	R(EAST)->global_cluster_identifier = NULL;
	R(WEST)->global_cluster_identifier = NULL;
}
static void m_global_3(void)
{
	G()->identifier = "orders-global-3";
	R(EAST)->global_cluster_identifier = "orders-global-3";
	R(WEST)->global_cluster_identifier = "orders-global-3";
}
static void m_east_creating(void)
{
	R(EAST)->cluster_status = "creating";
}
static void m_east_missing(void)
{
	R(EAST)->cluster_exists = 0;
}
static void m_east_api_down(void)
{
	R(EAST)->api = GDB_CALL_UNREACHABLE;
}
static void m_east_api_timeout(void)
{
	R(EAST)->api = GDB_CALL_TIMEOUT;
}
static void m_east_api_throttled(void)
{
	R(EAST)->api = GDB_CALL_THROTTLED;
}
static void m_east_api_unknown(void)
{
	R(EAST)->api = GDB_CALL_UNKNOWN;
}
static void m_east_foreign(void)
{
	R(EAST)->global_cluster_identifier = "someone-else";
}
static void m_east_in_our_global(void)
{
	R(EAST)->global_cluster_identifier = "orders-global";
}
static void m_east_one_instance(void)
{
	R(EAST)->n_instances = 1;
}
static void m_east_unavailable(void)
{
	R(EAST)->cluster_status = "inaccessible-encryption-credentials";
}
static void m_east_not_found(void)
{
	R(EAST)->cluster_exists = 0;
}
static void m_east_failing_over_since(int64_t age)
{
	struct gdb_region_status *r;

	R(EAST)->cluster_status = "failing-over";
	W.st.n_regions = 1;
	r = &W.st.regions[0];
	memset(r, 0, sizeof(*r));
	r->name = xstrdup(EAST);
	r->cluster_status = xstrdup("failing-over");
	r->cluster_status_since_ms = W.now - age;
	r->replication_lag_seconds = -1;
	r->writer_healthy = 0;
}
static void m_east_failing_over_30s(void)
{
	m_east_failing_over_since(30 * SEC);
}
static void m_east_failing_over_200s(void)
{
	m_east_failing_over_since(200 * SEC);
}
static void m_west_missing(void)
{
	R(WEST)->cluster_exists = 0;
	set_members(G(), EAST_ARN, NULL, NULL);
}
static void m_west_no_template(void)
{
	W.spec.regions[1].has_template = 0;
}
static void m_east_no_template(void)
{
	W.spec.regions[0].has_template = 0;
}
static void m_west_one_instance(void)
{
	R(WEST)->n_instances = 1;
	R(WEST)->instance_ids[1] = NULL;
}
static void m_west_headless(void)
{
	R(WEST)->n_instances = 0;
}
static void m_west_standalone(void)
{
	R(WEST)->global_cluster_identifier = NULL;
	set_members(G(), EAST_ARN, NULL, NULL);
}
static void m_west_creating_joining(void)
{
	R(WEST)->cluster_status = "creating";
	R(WEST)->n_instances = 0;
	set_members(G(), EAST_ARN, NULL, NULL);
}
static void m_west_no_global_id(void)
{
	R(WEST)->global_cluster_identifier = NULL;
	R(EAST)->global_cluster_identifier = NULL;
}
static void m_west_api_down(void)
{
	R(WEST)->api = GDB_CALL_UNREACHABLE;
}
static void m_west_pending_resync(void)
{
	G()->members[1].synchronization_status = "pending-resync";
}
static void m_west_modifying(void)
{
	R(WEST)->cluster_status = "modifying";
}
static void m_west_reader_unhealthy(void)
{
	H(WEST)->reader_healthy = 0;
}
/* A secondary's lag, measured and as heartbeat evidence (see FAIL_END); -1 unknown. */
static void set_lag(const char *region, int64_t lag_ms)
{
	H(region)->lag_ms = lag_ms;
	H(region)->heartbeat_ms = lag_ms >= 0 ? FAIL_END - lag_ms : 0;
}
static void m_west_lag_unknown(void)
{
	set_lag(WEST, -1);
}
static void m_west_lag_40s(void)
{
	set_lag(WEST, 40 * SEC);
}
static void m_west_lag_30s(void)
{
	set_lag(WEST, 30 * SEC);
}
static void m_west_lag_0_budget_0(void)
{
	set_lag(WEST, 0);
	W.spec.failover.max_data_loss_seconds = 0;
}
static void m_global_modifying(void)
{
	G()->status = "modifying";
}
static void m_global_pending(void)
{
	G()->failover_status = "pending";
	G()->failover_from_arn = EAST_ARN;
	G()->failover_to_arn = WEST_ARN;
}
static void m_global_switching(void)
{
	G()->failover_status = "switching-over";
}
static void m_global_cancelling(void)
{
	G()->failover_status = "cancelling";
}
static void m_global_failing_over(void)
{
	G()->failover_status = "failing-over";
	G()->failover_data_loss_allowed = 1;
}
static void m_global_status_switching(void)
{
	G()->status = "switching-over";
}
static void m_writer_west(void)
{
	set_members(G(), WEST_ARN, EAST_ARN, "connected");
	H(WEST)->writer_healthy = 1;
	H(WEST)->lag_ms = -1;
	H(EAST)->writer_healthy = -1;
	set_lag(EAST, 400);
}
static void m_cur_west(void)
{
	gdb_set_str(&W.st.current_primary_region, WEST);
}
static void m_east_slow_probe(void)
{
	H(EAST)->writer_healthy = 0;
	H(EAST)->consecutive_failures = 1;
}
/* Every secondary stopped hearing the writer's region 12 s ago, as in a real outage. */
static void secondaries_silent(const char *writer)
{
	for (size_t i = 0; i < W.h.n_regions; i++)
		if (strcmp(W.h.regions[i].name, writer) != 0)
			W.h.regions[i].upstream_age_ms = 12 * SEC;
}
static void m_east_failing(void)
{
	H(EAST)->writer_healthy = 0;
	H(EAST)->consecutive_failures = 3;
	H(EAST)->heartbeat_ms = FAIL_END - 2 * SEC;
	H(EAST)->failing_since_ms = FAIL_END;
	secondaries_silent(EAST);
}
/* The controller is cut off from us-east-1, but us-west-2 still hears it. */
static void m_west_hears_east(void)
{
	H(WEST)->upstream_age_ms = 900;
}
static void m_west_heard_east_10s_ago(void)
{
	H(WEST)->upstream_age_ms = GDB_PRIMARY_SILENT_MS;
}
static void m_west_heard_east_just_over_10s_ago(void)
{
	H(WEST)->upstream_age_ms = GDB_PRIMARY_SILENT_MS + 1;
}
static void m_west_never_heard_east(void)
{
	H(WEST)->upstream_age_ms = GDB_UPSTREAM_NEVER;
}
/* us-west-2's reader cannot say (its probe failed, or the query did). */
static void m_west_view_unknown(void)
{
	H(WEST)->upstream_age_ms = -1;
}
/* us-west-2 said it was silent, but that probe is a minute old. */
static void m_west_view_stale(void)
{
	H(WEST)->last_probe_ms = W.now - 60 * SEC;
}
static void m_east_modifying(void)
{
	R(EAST)->cluster_status = "modifying";
}
static void m_east_upgrading(void)
{
	R(EAST)->cluster_status = "upgrading";
}
static void m_east_backing_up(void)
{
	R(EAST)->cluster_status = "backing-up";
}
static void m_east_failed(void)
{
	R(EAST)->cluster_status = "failed";
}
static void m_east_api_forbidden(void)
{
	R(EAST)->api = GDB_CALL_FORBIDDEN;
}
static void m_east_api_other(void)
{
	R(EAST)->api = GDB_CALL_OTHER;
}
static void m_east_api_not_found(void)
{
	R(EAST)->api = GDB_CALL_NOT_FOUND;
}
static void m_west_failing(void)
{
	H(WEST)->writer_healthy = 0;
	H(WEST)->consecutive_failures = 5;
	H(WEST)->failing_since_ms = FAIL_END;
	secondaries_silent(WEST);
}
static void m_east_probe_stale(void)
{
	H(EAST)->last_probe_ms = W.now - 60 * SEC;
}
static void m_east_not_probed(void)
{
	H(EAST)->writer_healthy = -1;
}
/* The last plan saw the paused annotation; it is gone now. */
static void m_was_paused(void)
{
	struct gdb_condition *cd = &W.st.conditions[W.st.n_conditions++];

	memset(cd, 0, sizeof(*cd));
	cd->type = xstrdup("Progressing");
	cd->status = GDB_COND_FALSE;
	cd->reason = xstrdup("Paused");
	cd->message = xstrdup("paused");
	cd->last_transition_ms = W.now - 60 * SEC;
	W.st.last_paused_ms = W.now - 1 * SEC;
}
static void m_paused_20s_ago(void)
{
	W.st.last_paused_ms = W.now - 20 * SEC;
}
/*
 * Ten minutes after the writer failed (a Manual decision taken late): the
 * prober's live measurement reads the time since the first missing heartbeat
 * (the clock), the heartbeat evidence is what it was.
 */
static void m_east_dead_10min(void)
{
	W.now = T0 + 600 * SEC;
	H(EAST)->last_probe_ms = W.now - 1 * SEC;
	H(EAST)->consecutive_failures = 300;
	H(WEST)->last_probe_ms = W.now - 1 * SEC;
	H(WEST)->lag_ms = W.now - H(WEST)->heartbeat_ms;
}
static void m_east_failing_2(void)
{
	H(EAST)->writer_healthy = 0;
	H(EAST)->consecutive_failures = 2;
}
static void m_confirm_none(void)
{
	W.spec.failover.confirmation = GDB_CONFIRM_NONE;
}
static void m_cooldown_recent(void)
{
	W.st.last_failover_ms = W.now - 100 * SEC;
}
static void m_cooldown_passed(void)
{
	W.st.last_failover_ms = W.now - 1000 * SEC;
}
static void m_paused(void)
{
	W.obs.paused = "true";
}
static void m_paused_false(void)
{
	W.obs.paused = "false";
}
static void m_manual(void)
{
	W.spec.failover.mode = GDB_MODE_MANUAL;
}
static void m_fallback_manual(void)
{
	W.spec.fallback_mode = GDB_MODE_MANUAL;
}
static void m_method_detach(void)
{
	W.spec.failover.method = GDB_METHOD_DETACH;
}
static void m_method_managed(void)
{
	W.spec.failover.method = GDB_METHOD_MANAGED;
}
static void m_deleting(void)
{
	W.obs.deleting = 1;
}
static void m_delete_policy(void)
{
	W.spec.deletion_policy = GDB_DELETION_DELETE;
}

static char approve_now[40], approve_old[40];
static void m_approve_failover_now(void)
{
	base_time_format(W.now, approve_now, sizeof(approve_now));
	W.obs.approve_failover = approve_now;
}
static void m_approve_failover_stale(void)
{
	base_time_format(W.now - 86400 * SEC, approve_old, sizeof(approve_old));
	W.obs.approve_failover = approve_old;
}
static char approve_future[40];
static void m_approve_failover_future(void)
{
	/* Set last night for "any failover until tomorrow": Manual would act like Automatic. */
	base_time_format(W.now + 86400 * SEC, approve_future, sizeof(approve_future));
	W.obs.approve_failover = approve_future;
}
static void m_approve_failover_skewed(void)
{
	/* The operator's laptop runs a minute ahead. */
	base_time_format(W.now + 60 * SEC, approve_future, sizeof(approve_future));
	W.obs.approve_failover = approve_future;
}
static void m_approve_fallback_future(void)
{
	base_time_format(W.now + 86400 * SEC, approve_future, sizeof(approve_future));
	W.obs.approve_fallback = approve_future;
}
static void m_approve_failover_garbage(void)
{
	W.obs.approve_failover = "yes please";
}
static void m_approve_fallback_now(void)
{
	base_time_format(W.now, approve_now, sizeof(approve_now));
	W.obs.approve_fallback = approve_now;
}

static void m_approve_fallback_stale(void)
{
	base_time_format(W.now - 7 * 86400 * SEC, approve_old, sizeof(approve_old));
	W.obs.approve_fallback = approve_old;
}

/* A third region, eu-west-1, after the other two. */
static void m_three_regions(void)
{
	struct gdb_region_spec *r = &W.spec.regions[2];
	struct gdb_obs_global *g = G();

	memset(r, 0, sizeof(*r));
	r->name = xstrdup(EU);
	r->db_cluster_identifier = xstrdup("orders-eu");
	r->probe_port = 5432;
	W.spec.n_regions = 3;
	region_obs(&W.obs.regions[2], EU, EU_ARN, "orders-eu.cluster-z.eu-west-1.rds.amazonaws.com",
		   "orders-eu.cluster-ro-z.eu-west-1.rds.amazonaws.com", "orders-eu-1",
		   "orders-eu-2");
	W.obs.n_regions = 3;
	g->members[g->n_members].db_cluster_arn = EU_ARN;
	g->members[g->n_members++].synchronization_status = "connected";
	W.h.regions[2] = (struct gdb_health_region){.name = EU,
						    .writer_healthy = -1,
						    .reader_healthy = 1,
						    .lag_ms = 500,
						    .heartbeat_ms = FAIL_END - 500,
						    .last_probe_ms = W.now - 1000,
						    .upstream_age_ms = H(WEST)->upstream_age_ms};
	W.h.n_regions = 3;
}
static void m_eu_lag_100(void)
{
	set_lag(EU, 100);
}
static void m_eu_lag_800(void)
{
	set_lag(EU, 800);
}
static void m_eu_reader_unhealthy(void)
{
	H(EU)->reader_healthy = 0;
}
static void m_west_api_throttled(void)
{
	R(WEST)->api = GDB_CALL_THROTTLED;
}
/* us-west-2 left the member list, as eu-west-1 reports it (three regions). */
static void m_west_left_global(void)
{
	set_members(G(), EAST_ARN, EU_ARN, "connected");
}
/* Someone else failed over to eu-west-1 (three regions). */
static void m_writer_eu(void)
{
	struct gdb_obs_global *g = G();

	set_members(g, EU_ARN, EAST_ARN, "pending-resync");
	g->members[g->n_members].db_cluster_arn = WEST_ARN;
	g->members[g->n_members++].synchronization_status = "connected";
	H(EU)->writer_healthy = 1;
	H(EU)->lag_ms = -1;
}
static void m_eu_hears_east(void)
{
	H(EU)->upstream_age_ms = 1500;
}
static void m_eu_view_unknown(void)
{
	H(EU)->upstream_age_ms = -1;
}
static void m_eu_headless(void)
{
	R(EU)->n_instances = 0;
	H(EU)->reader_healthy = -1;
	H(EU)->upstream_age_ms = -1;
}

/* Operations in flight. */
static void m_op_switchover(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_SWITCHOVER, EAST, WEST, 1, 5 * SEC);
}
static void m_op_switchover_40s(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_SWITCHOVER, EAST, WEST, 1, 40 * SEC);
}
static void m_op_switchover_fresh(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_SWITCHOVER, EAST, WEST, 0, 0);
}
static void m_op_switchover_1s(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_SWITCHOVER, EAST, WEST, 1, 1 * SEC);
}
static void m_op_switchover_5_attempts(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_SWITCHOVER, EAST, WEST, 5, 100 * SEC);
}
static void m_op_wait_switchover(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_WAIT_SWITCHOVER, EAST, WEST, 0,
	   10 * SEC);
}
static void m_op_wait_switchover_60s(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_WAIT_SWITCHOVER, EAST, WEST, 0,
	   60 * SEC);
}
static void m_op_update_dns(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_UPDATE_DNS, EAST, WEST, 0, 0);
}
static void m_op_update_dns_sent(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_UPDATE_DNS, EAST, WEST, 1, 1 * SEC);
}
static void m_op_wait_dns(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_WAIT_DNS_INSYNC, EAST, WEST, 0, 2 * SEC);
	gdb_set_str(&W.st.operation.dns_change_id, "/change/C123");
}
static void m_op_wait_dns_no_id(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_WAIT_DNS_INSYNC, EAST, WEST, 0, 2 * SEC);
}
static void m_op_publish(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_PUBLISH_SSM, EAST, WEST, 0, 0);
}
static void m_op_publish_sent(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_PUBLISH_SSM, EAST, WEST, 1, 1 * SEC);
}
static void m_op_restart_sent(void)
{
	op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_STEP_RESTART_WORKLOADS, EAST, WEST, 1,
	   1 * SEC);
}
static void m_op_failover_restart_sent(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_RESTART_WORKLOADS, EAST, WEST, 1, 1 * SEC);
}
static void m_dns_pending(void)
{
	W.obs.dns_change_status = "PENDING";
}
static void m_dns_insync(void)
{
	W.obs.dns_change_status = "INSYNC";
}

static void m_op_failover(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_FAILOVER_MANAGED, EAST, WEST, 1, 5 * SEC);
}
static void m_op_failover_40s(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_FAILOVER_MANAGED, EAST, WEST, 1, 40 * SEC);
}
static void m_op_failover_1s(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_FAILOVER_MANAGED, EAST, WEST, 1, 1 * SEC);
}
static void m_op_target_eu(void)
{
	gdb_set_str(&W.st.operation.target_region, EU);
}
static void m_op_failover_fresh(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_FAILOVER_MANAGED, EAST, WEST, 0, 0);
}
static void m_op_wait_failover(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_WAIT_FAILOVER, EAST, WEST, 0, 10 * SEC);
	W.st.operation.last_call_ms = W.now - 12 * SEC;
}
static void m_op_wait_failover_60s(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_WAIT_FAILOVER, EAST, WEST, 0, 60 * SEC);
	W.st.operation.last_call_ms = W.now - 62 * SEC;
}
static void m_op_detach(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_DETACH, GDB_STEP_DETACH, EAST, WEST, 1, 5 * SEC);
}
static void m_op_detach_fresh(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_DETACH, GDB_STEP_DETACH, EAST, WEST, 0, 0);
}
static void m_op_awaiting_failover(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_NONE, GDB_STEP_AWAITING_APPROVAL, EAST, WEST, 0, 30 * SEC);
}
/* RemoveFromGlobalCluster was issued 40 s ago, past the settle window. */
static void m_op_detach_40s(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_DETACH, GDB_STEP_DETACH, EAST, WEST, 1, 40 * SEC);
	gdb_set_str(&W.st.operation.last_action, "DetachAndPromote");
}
static void m_op_wait_promoted(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_DETACH, GDB_STEP_WAIT_PROMOTED, EAST, WEST, 0, 10 * SEC);
}
static void add_step_record(const char *name, int64_t seconds)
{
	struct gdb_operation *o = &W.st.operation;

	o->steps[o->n_steps].name = xstrdup(name);
	o->steps[o->n_steps++].duration_seconds = seconds;
}
/* Back in Detach after WaitPromoted lost sight of the detach: attempts start at 0 again. */
static void m_op_detach_reentered(void)
{
	op(GDB_OP_FAILOVER, GDB_OPM_DETACH, GDB_STEP_DETACH, EAST, WEST, 0, 0);
	add_step_record("Detach", 2);
	add_step_record("WaitPromoted", 4);
}

static void m_last_switchover_refused(void)
{
	last_call(GDB_ACT_SWITCHOVER, EAST, GDB_CALL_INVALID_STATE,
		  "InvalidGlobalClusterStateFault");
}
static void m_last_switchover_throttled(void)
{
	last_call(GDB_ACT_SWITCHOVER, EAST, GDB_CALL_THROTTLED, "Throttling");
}
static void m_last_failover_refused(void)
{
	last_call(GDB_ACT_FAILOVER_MANAGED, WEST, GDB_CALL_INVALID_STATE,
		  "InvalidGlobalClusterStateFault");
}
static void m_last_failover_throttled(void)
{
	last_call(GDB_ACT_FAILOVER_MANAGED, WEST, GDB_CALL_THROTTLED, "Throttling");
}
static void m_last_failover_unreachable(void)
{
	last_call(GDB_ACT_FAILOVER_MANAGED, WEST, GDB_CALL_UNREACHABLE, NULL);
}
static void m_last_failover_forbidden(void)
{
	last_call(GDB_ACT_FAILOVER_MANAGED, WEST, GDB_CALL_FORBIDDEN, "AccessDenied");
}
static void m_last_detach_not_found(void)
{
	last_call(GDB_ACT_DETACH_AND_PROMOTE, WEST, GDB_CALL_NOT_FOUND,
		  "GlobalClusterNotFoundFault");
}
static void m_last_detach_timeout(void)
{
	last_call(GDB_ACT_DETACH_AND_PROMOTE, WEST, GDB_CALL_TIMEOUT, NULL);
}
static void m_last_failover_timeout(void)
{
	last_call(GDB_ACT_FAILOVER_MANAGED, WEST, GDB_CALL_TIMEOUT, NULL);
}
/* A refusal no retry can change: the engine version does not support it. */
static void m_last_failover_invalid_param(void)
{
	last_call(GDB_ACT_FAILOVER_MANAGED, WEST, GDB_CALL_INVALID_STATE,
		  "InvalidParameterCombination");
}
static void m_last_dns_ok(void)
{
	last_call(GDB_ACT_UPSERT_DNS, WEST, GDB_CALL_OK, NULL);
	W.obs.last.change_id = "/change/C123";
}
static void m_last_dns_throttled(void)
{
	last_call(GDB_ACT_UPSERT_DNS, WEST, GDB_CALL_THROTTLED, "Throttling");
}
static void m_last_ssm_ok(void)
{
	last_call(GDB_ACT_PUBLISH_SSM, WEST, GDB_CALL_OK, NULL);
}
static void m_last_ssm_forbidden(void)
{
	last_call(GDB_ACT_PUBLISH_SSM, WEST, GDB_CALL_FORBIDDEN, "AccessDeniedException");
}
static void m_last_restart_ok(void)
{
	last_call(GDB_ACT_RESTART_WORKLOADS, WEST, GDB_CALL_OK, NULL);
}

/* The guard: the controller "east" completed the operation, every AWS call of it made. */
static void m_done_by_peer(void)
{
	W.obs.tail_done_by = "east";
}
static void m_no_deployments(void)
{
	for (size_t i = 0; i < W.spec.n_deployments; i++) {
		free(W.spec.deployments[i].namespace_);
		free(W.spec.deployments[i].name);
	}
	W.spec.n_deployments = 0;
}

/* ECS services in both regions: us-west-2's first, us-east-1's second. */
static void m_ecs_two_regions(void)
{
	const char *regions[2] = {WEST, EAST};

	for (size_t i = 0; i < 2; i++) {
		W.spec.ecs_services[i].region = xstrdup(regions[i]);
		W.spec.ecs_services[i].cluster = xstrdup("orders");
		W.spec.ecs_services[i].service = xstrdup("api");
	}
	W.spec.n_ecs_services = 2;
}
/* The restart forced us-west-2's service; us-east-1's ECS API did not answer. */
static void m_last_restart_east_ecs_unreachable(void)
{
	last_call(GDB_ACT_RESTART_WORKLOADS, WEST, GDB_CALL_OK, NULL);
	W.obs.last.ecs_restarted = "us-west-2/orders/api";
	W.obs.last.ecs_unreachable = "us-east-1/orders/api (ServiceUnavailableException)";
}
/* The restart forced us-west-2's service; us-east-1's was throttled. */
static void m_last_restart_ecs_throttled(void)
{
	last_call(GDB_ACT_RESTART_WORKLOADS, WEST, GDB_CALL_THROTTLED, "ThrottlingException");
	W.obs.last.ecs_restarted = "us-west-2/orders/api";
	W.obs.last.message =
		"ECS services not restarted: us-east-1/orders/api (ThrottlingException)";
}

static void m_last_switchover_failed_10s(void)
{
	last_op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_RESULT_FAILED, EAST, WEST, 10 * SEC);
}
static void m_last_switchover_failed_2m(void)
{
	last_op(GDB_OP_SWITCHOVER, GDB_OPM_SWITCHOVER, GDB_RESULT_FAILED, EAST, WEST, 120 * SEC);
}

/* After a managed failover east -> west: west writes, east is being re-added. */
static void m_after_managed(void)
{
	m_writer_west();
	m_cur_west();
	last_op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_RESULT_SUCCEEDED, EAST, WEST, 300 * SEC);
	W.st.last_failover_ms = W.now - 300 * SEC;
	G()->members[1].synchronization_status = "pending-resync";
}
static void m_east_readded(void)
{
	G()->members[1].synchronization_status = "connected";
}
static void m_east_aurora_snapshot(void)
{
	R(EAST)->snapshot_ids[0] = "rds:unplanned-global-failover-orders-east-2026-11-27-03-50";
	R(EAST)->n_snapshots = 1;
}
static void m_op_wait_readded(void)
{
	op(GDB_OP_FALLBACK, GDB_OPM_MANAGED, GDB_STEP_WAIT_READDED, WEST, EAST, 0, 10 * SEC);
}
static void m_op_copy_snapshot(void)
{
	op(GDB_OP_FALLBACK, GDB_OPM_MANAGED, GDB_STEP_COPY_SNAPSHOT, WEST, EAST, 0, 60 * SEC);
}
static void m_op_copy_snapshot_11m(void)
{
	op(GDB_OP_FALLBACK, GDB_OPM_MANAGED, GDB_STEP_COPY_SNAPSHOT, WEST, EAST, 0, 660 * SEC);
}
static char copy_name[80];
static void m_east_copy_exists(void)
{
	char ts[20] = "";
	char iso[40];
	size_t j = 0;

	base_time_format(W.st.operation.started_ms, iso, sizeof(iso));
	for (size_t i = 0; iso[i]; i++)
		if (iso[i] >= '0' && iso[i] <= '9')
			ts[j++] = iso[i];
	ts[j] = '\0';
	snprintf(copy_name, sizeof(copy_name), "orders-east-lost-writes-%s", ts);
	R(EAST)->snapshot_ids[1] = copy_name;
	R(EAST)->n_snapshots = 2;
}

/* After a detach east -> west: west is standalone and writes; east is stale in orders-global. */
static void m_after_detach(void)
{
	m_cur_west();
	last_op(GDB_OP_FAILOVER, GDB_OPM_DETACH, GDB_RESULT_SUCCEEDED, EAST, WEST, 300 * SEC);
	W.st.last_failover_ms = W.now - 300 * SEC;
	R(WEST)->global_cluster_identifier = NULL;
	set_members(G(), EAST_ARN, NULL, NULL);
	H(WEST)->writer_healthy = 1;
	H(WEST)->lag_ms = -1;
	H(EAST)->writer_healthy = -1;
}
static void m_east_stale_standalone(void)
{
	R(EAST)->global_cluster_identifier = NULL;
	set_members(G(), NULL, NULL, NULL);
}
static void m_east_no_instances(void)
{
	R(EAST)->n_instances = 0;
}
static void m_east_deleting(void)
{
	R(EAST)->cluster_status = "deleting";
}
static void m_old_global_gone(void)
{
	W.obs.n_globals = 0;
}
static void m_fallback_op(enum gdb_step step, int attempts, int64_t age)
{
	op(GDB_OP_FALLBACK, GDB_OPM_DETACH, step, WEST, EAST, attempts, age);
	gdb_set_str(&W.st.operation.global_cluster_identifier, "orders-global-2");
}
static void m_op_fence(void)
{
	m_fallback_op(GDB_STEP_FENCE_OLD_WRITER, 0, 0);
}
static void m_op_delete_old_global(void)
{
	m_fallback_op(GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER, 0, 0);
}
static void m_op_create_global(void)
{
	m_fallback_op(GDB_STEP_CREATE_GLOBAL_CLUSTER, 0, 0);
}
static void m_op_create_global_sent(void)
{
	m_fallback_op(GDB_STEP_CREATE_GLOBAL_CLUSTER, 1, 5 * SEC);
}
static void m_op_create_secondary(void)
{
	m_fallback_op(GDB_STEP_CREATE_SECONDARY, 0, 0);
}
static void m_op_create_instances(void)
{
	m_fallback_op(GDB_STEP_CREATE_INSTANCES, 0, 0);
}
static void m_op_wait_connected(void)
{
	m_fallback_op(GDB_STEP_WAIT_CONNECTED, 0, 10 * SEC);
}
static void m_op_fallback_publish_sent(void)
{
	m_fallback_op(GDB_STEP_PUBLISH_SSM, 1, 1 * SEC);
}
static void m_op_fence_sent(void)
{
	m_fallback_op(GDB_STEP_FENCE_OLD_WRITER, 1, 1 * SEC);
}
static void m_op_fence_sent_5s(void)
{
	m_fallback_op(GDB_STEP_FENCE_OLD_WRITER, 1, 5 * SEC);
}
/* The fence issued RemoveFromGlobalCluster a second ago. */
static void m_op_fence_removed_1s(void)
{
	m_fallback_op(GDB_STEP_FENCE_OLD_WRITER, 1, 1 * SEC);
	gdb_set_str(&W.st.operation.last_action, "RemoveFromGlobalCluster");
}
/* The fence issued DeleteDBInstances a second ago. */
static void m_op_fence_instances_1s(void)
{
	m_fallback_op(GDB_STEP_FENCE_OLD_WRITER, 1, 1 * SEC);
	gdb_set_str(&W.st.operation.last_action, "DeleteInstances");
}
/* The fence issued DeleteDBCluster (with the final snapshot) a second ago. */
static void m_op_fence_cluster_1s(void)
{
	m_fallback_op(GDB_STEP_FENCE_OLD_WRITER, 1, 1 * SEC);
	gdb_set_str(&W.st.operation.last_action, "FenceOldWriter");
}
static void m_op_create_global_1s(void)
{
	m_fallback_op(GDB_STEP_CREATE_GLOBAL_CLUSTER, 1, 1 * SEC);
}
static void m_op_create_secondary_1s(void)
{
	m_fallback_op(GDB_STEP_CREATE_SECONDARY, 1, 1 * SEC);
}
static void m_op_copy_snapshot_sent(void)
{
	op(GDB_OP_FALLBACK, GDB_OPM_MANAGED, GDB_STEP_COPY_SNAPSHOT, WEST, EAST, 1, 1 * SEC);
}
static void m_last_fence_invalid(void)
{
	last_call(GDB_ACT_FENCE_OLD_WRITER, EAST, GDB_CALL_INVALID_STATE,
		  "InvalidDBClusterStateFault");
}
static void m_last_create_global_throttled(void)
{
	last_call(GDB_ACT_CREATE_GLOBAL_CLUSTER, WEST, GDB_CALL_THROTTLED, "Throttling");
}
static void m_last_create_secondary_denied(void)
{
	last_call(GDB_ACT_CREATE_SECONDARY_CLUSTER, EAST, GDB_CALL_FORBIDDEN, "AccessDenied");
}
static void m_last_copy_not_found(void)
{
	last_call(GDB_ACT_COPY_FAILOVER_SNAPSHOT, EAST, GDB_CALL_NOT_FOUND,
		  "DBClusterSnapshotNotFoundFault");
}
/* The second generation exists and holds the standalone writer. */
static void m_gen2_global(void)
{
	W.obs.n_globals = 1;
	G()->identifier = "orders-global-2";
	G()->status = "available";
	set_members(G(), WEST_ARN, NULL, NULL);
	R(WEST)->global_cluster_identifier = "orders-global-2";
}
static void m_gen2_in_status(void)
{
	gdb_set_str(&W.st.global_cluster_identifier, "orders-global-2");
	W.st.generation = 2;
}
static void m_east_rebuilt_creating(void)
{
	R(EAST)->cluster_exists = 1;
	R(EAST)->cluster_status = "creating";
	R(EAST)->global_cluster_identifier = "orders-global-2";
	R(EAST)->n_instances = 0;
	R(EAST)->n_snapshots = 0;
}
static void m_east_rebuilt_two(void)
{
	m_east_rebuilt_creating();
	R(EAST)->cluster_status = "available";
	R(EAST)->n_instances = 2;
	set_members(G(), WEST_ARN, EAST_ARN, "pending-resync");
}
static void m_east_rebuilt_connected(void)
{
	m_east_rebuilt_two();
	G()->members[1].synchronization_status = "connected";
}
static void m_name_taken(void)
{
	/* Someone else's orders-global-2 exists, without our writer. */
	W.obs.n_globals = 1;
	G()->identifier = "orders-global-2";
	set_members(G(), NULL, NULL, NULL);
}
/*
 * Three regions after a detach east -> west (apply after m_after_detach and
 * m_three_regions): eu-west-1 is still a secondary of the old global cluster,
 * whose primary is the stale east writer.
 */
static void m_eu_api_down(void)
{
	R(EU)->api = GDB_CALL_UNREACHABLE;
}
/* eu-west-1 has left the old global cluster: a standalone stale copy. */
static void m_eu_left_old_global(void)
{
	struct gdb_obs_global *g = G();

	R(EU)->global_cluster_identifier = NULL;
	for (size_t i = 0; i < g->n_members; i++)
		if (strcmp(g->members[i].db_cluster_arn, EU_ARN) == 0) {
			g->members[i] = g->members[--g->n_members];
			memset(&g->members[g->n_members], 0, sizeof(g->members[0]));
			break;
		}
}
/* The spec lists eu-west-1 first and us-east-1 last. */
static void m_spec_eu_first(void)
{
	struct gdb_region_spec t = W.spec.regions[0];

	W.spec.regions[0] = W.spec.regions[2];
	W.spec.regions[2] = t;
}
/*
 * us-east-1 never came back: the operator replaced it by eu-west-1 in the spec (and made it
 * the primary region). The old global cluster still lists the dead us-east-1 cluster, and the
 * fallback rebuilding eu-west-1 is at DeleteOldGlobalCluster.
 */
static void m_east_replaced_by_eu_deleting_old_global(void)
{
	gdb_set_str(&W.spec.regions[0].name, EU);
	gdb_set_str(&W.spec.regions[0].db_cluster_identifier, "orders-eu");
	gdb_set_str(&W.spec.primary_region, EU);
	region_obs(R(EAST), EU, EU_ARN, NULL, NULL, NULL, NULL);
	R(EU)->cluster_exists = 0;
	R(EU)->global_cluster_identifier = NULL;
	R(EU)->n_instances = 0;
	set_members(G(), EAST_ARN, NULL, NULL);
	op(GDB_OP_FALLBACK, GDB_OPM_DETACH, GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER, WEST, EU, 0, 0);
	gdb_set_str(&W.st.operation.global_cluster_identifier, "orders-global-2");
}
static void m_old_global_member_unreachable(void)
{
	/* The old global still lists the stale east cluster, and east does not answer. */
	set_members(G(), EAST_ARN, NULL, NULL);
	R(EAST)->api = GDB_CALL_UNREACHABLE;
}

/* Bad specs that only the controller's own validation can catch (no CEL). */
static void m_bad_primary(void)
{
	gdb_set_str(&W.spec.primary_region, "eu-central-1");
}
static void m_bad_dup_region(void)
{
	gdb_set_str(&W.spec.regions[1].name, EAST);
}
static void m_bad_timeout(void)
{
	W.spec.health_check.timeout_seconds = W.spec.health_check.period_seconds + 1;
}
static void m_bad_both_creds(void)
{
	gdb_set_str(&W.spec.health_check.secrets_manager_secret_id, "orders/probe");
}
static void m_bad_cluster_id(void)
{
	gdb_set_str(&W.spec.regions[0].db_cluster_identifier, "orders--east");
}
static void m_bad_one_region(void)
{
	struct gdb_spec one = W.spec;

	/* Release the second region by releasing a spec that holds only it. */
	memset(&one, 0, sizeof(one));
	one.regions[0] = W.spec.regions[1];
	one.n_regions = 1;
	gdb_spec_release(&one);
	memset(&W.spec.regions[1], 0, sizeof(W.spec.regions[1]));
	W.spec.n_regions = 1;
}

/* ---- ownership (ownership.h) ---- */

#define NO_TAGS ((struct gdb_obs_owner){NULL, NULL})
#define FOREIGN ((struct gdb_obs_owner){"billing/ledger", "0b9d1c7e-0000-4000-8000-000000000002"})
#define STALE ((struct gdb_obs_owner){OWNER, "6f1c2a3e-0000-4000-8000-0000000000aa"})

static void m_adopt_untagged(void)
{
	W.spec.adoption_policy = GDB_ADOPT_UNTAGGED;
}
static void m_global_untagged(void)
{
	G()->owner = NO_TAGS;
}
static void m_global_foreign(void)
{
	G()->owner = FOREIGN;
}
static void m_global_stale(void)
{
	G()->owner = STALE;
}
static void m_global_no_uid(void)
{
	G()->owner.uid = NULL;
}
static void m_east_untagged(void)
{
	R(EAST)->owner = NO_TAGS;
}
static void m_west_untagged(void)
{
	R(WEST)->owner = NO_TAGS;
}
static void m_west_foreign(void)
{
	R(WEST)->owner = FOREIGN;
}
static void m_all_untagged(void)
{
	m_global_untagged();
	m_east_untagged();
	m_west_untagged();
}
static void m_no_identity(void)
{
	W.obs.owner = NULL;
}

/* ---- the table ---- */

#define ANY (-1)
#define NOOP 0 /* expect no operation in flight */

struct row {
	const char *name;
	mod_fn mods[8];
	int action;	      /* enum gdb_action_kind */
	const char *region;   /* where to call; NULL = don't check */
	int step;	      /* operation step after planning; ANY; NOOP = none */
	const char *degraded; /* Degraded reason when True, NULL = don't check, "" = False */
	const char *ready;    /* Ready reason, NULL = don't check */
	const char *event;    /* an Event reason the plan must emit, NULL = don't check */
	const char *refusal;  /* plan->refusal, NULL = don't check */
};

#define A(k) GDB_ACT_##k
#define S(k) GDB_STEP_##k

/* One row per line reads as a table; the formatter would scatter it. */
/* clang-format off */
static const struct row rows[] = {
	/* -- steady state, adoption, provisioning -- */
	{"steady state does nothing", {m_none}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", NULL, NULL},
	{"paused=false is not paused", {m_paused_false}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", NULL, NULL},
	{"adopts an existing global cluster", {m_status_empty}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "Adopted", NULL},
	{"adopts a later generation", {m_status_empty, m_global_3}, A(NONE), NULL, NOOP, "", NULL, "Adopted", NULL},
	{"creates the missing global cluster from the primary", {m_status_empty, m_no_globals}, A(CREATE_GLOBAL_CLUSTER), EAST, NOOP, "", NULL, "CreatingGlobalCluster", NULL},
	{"waits for a creating primary before creating the global cluster", {m_status_empty, m_no_globals, m_east_creating}, A(NONE), NULL, NOOP, "", NULL, NULL, NULL},
	{"reports a missing primary cluster without AWS writes", {m_status_empty, m_no_globals, m_east_missing}, A(NONE), NULL, NOOP, "PrimaryClusterNotFound", NULL, NULL, NULL},
	{"reports an unreachable primary region before creating", {m_status_empty, m_no_globals, m_east_api_down}, A(NONE), NULL, NOOP, "AwsUnreachable", NULL, NULL, NULL},
	{"never takes a cluster from a foreign global cluster", {m_status_empty, m_no_globals, m_east_foreign}, A(NONE), NULL, NOOP, "ClusterInForeignGlobalCluster", NULL, NULL, NULL},
	{"creates a missing secondary in its own region", {m_west_missing}, A(CREATE_SECONDARY_CLUSTER), WEST, NOOP, NULL, NULL, "CreatingSecondary", NULL},
	{"a missing secondary without template is reported", {m_west_missing, m_west_no_template}, A(NONE), NULL, NOOP, "TemplateMissing", "TemplateMissing", NULL, NULL},
	{"creates a missing secondary instance", {m_west_one_instance}, A(CREATE_INSTANCE), WEST, NOOP, NULL, NULL, "CreatingInstance", NULL},
	{"creates a missing writer instance", {m_east_one_instance}, A(CREATE_INSTANCE), EAST, NOOP, NULL, NULL, "CreatingInstance", NULL},
	{"a headless secondary without template is reported", {m_west_headless, m_west_no_template}, A(NONE), NULL, NOOP, "SecondaryHeadless", NULL, NULL, NULL},
	{"a writer without template keeps its instances", {m_east_one_instance, m_east_no_template}, A(NONE), NULL, NOOP, "", NULL, NULL, NULL},
	{"a standalone cluster is not adopted into the global cluster", {m_west_standalone}, A(NONE), NULL, NOOP, "ClusterNotInGlobalCluster", NULL, NULL, NULL},
	{"membership alone makes a secondary (no GlobalClusterIdentifier on the cluster)", {m_west_no_global_id}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", NULL, NULL},
	{"a creating secondary that joins is awaited", {m_west_creating_joining}, A(NONE), NULL, NOOP, "", NULL, NULL, NULL},
	{"an unreachable secondary region is reported", {m_west_api_down}, A(NONE), NULL, NOOP, "RegionUnreachable", "RegionUnreachable", NULL, NULL},
	{"not Ready before the first writer verdict", {m_east_not_probed}, A(NONE), NULL, NOOP, "", "PrimaryHealthUnknown", NULL, NULL},
	{"a slow writer probe alone changes nothing", {m_east_slow_probe}, A(NONE), NULL, NOOP, "", "PrimaryUnhealthy", NULL, NULL},

	/* -- ownership: tags decide what the object may touch (ownership.h) -- */
	{"own: a global cluster tagged for another object is never adopted", {m_status_empty, m_global_foreign}, A(NONE), NULL, NOOP, "OwnedByAnother", NULL, "OwnedByAnother", "OwnedByAnother"},
	{"own: not even with AdoptUntagged", {m_status_empty, m_global_foreign, m_adopt_untagged}, A(NONE), NULL, NOOP, "OwnedByAnother", NULL, "OwnedByAnother", "OwnedByAnother"},
	{"own: an untagged global cluster needs the opt-in", {m_status_empty, m_all_untagged}, A(NONE), NULL, NOOP, "AdoptionNotAllowed", NULL, "AdoptionNotAllowed", "AdoptionNotAllowed"},
	{"own: AdoptUntagged tags the global cluster before any other call", {m_status_empty, m_all_untagged, m_adopt_untagged}, A(TAG_RESOURCE), EAST, NOOP, NULL, NULL, "OwnerTagged", NULL},
	{"own: then each untagged cluster in its region", {m_west_untagged, m_adopt_untagged}, A(TAG_RESOURCE), WEST, NOOP, NULL, NULL, "OwnerTagged", NULL},
	{"own: AdoptUntagged tags before it switches over", {m_spec_west, m_east_untagged, m_adopt_untagged}, A(TAG_RESOURCE), EAST, NOOP, NULL, NULL, "OwnerTagged", NULL},
	{"own: an untagged cluster needs the opt-in even in our global cluster", {m_west_untagged}, A(NONE), NULL, NOOP, "AdoptionNotAllowed", NULL, "AdoptionNotAllowed", NULL},
	{"own: a recreated object (same name, other uid) does not take over", {m_global_stale}, A(NONE), NULL, NOOP, "AdoptionNotAllowed", NULL, "AdoptionNotAllowed", NULL},
	{"own: an owner tag without the uid tag is not ours", {m_global_no_uid}, A(NONE), NULL, NOOP, "AdoptionNotAllowed", NULL, NULL, NULL},
	{"own: a recreated object takes over with the opt-in", {m_global_stale, m_adopt_untagged}, A(TAG_RESOURCE), EAST, NOOP, NULL, NULL, "OwnerTagged", NULL},
	{"own: a foreign secondary stops a switchover before the call", {m_spec_west, m_west_foreign}, A(NONE), NULL, NOOP, "OwnedByAnother", NULL, "OwnedByAnother", NULL},
	{"own: a foreign secondary is never failed over to", {m_east_failing, m_west_foreign}, A(NONE), NULL, NOOP, "OwnedByAnother", NULL, "OwnedByAnother", NULL},
	{"own: a foreign secondary holds an operation in flight", {m_spec_west, m_op_switchover, m_west_foreign}, A(NONE), NULL, ANY, "OwnedByAnother", NULL, NULL, NULL},
	{"own: an untagged primary is not made global without the opt-in", {m_status_empty, m_no_globals, m_east_untagged, m_west_missing}, A(NONE), NULL, NOOP, "AdoptionNotAllowed", NULL, NULL, NULL},
	{"own: an object without an identity touches nothing", {m_no_identity}, A(NONE), NULL, NOOP, "AdoptionNotAllowed", NULL, NULL, NULL},
	{"own: delete leaves an untagged secondary and keeps the global cluster", {m_deleting, m_delete_policy, m_west_untagged}, A(REMOVE_FINALIZER), NULL, NOOP, NULL, NULL, "NotOwnedRetained", NULL},
	{"own: delete leaves a foreign global cluster and its members", {m_deleting, m_delete_policy, m_global_foreign}, A(REMOVE_FINALIZER), NULL, NOOP, NULL, NULL, "NotOwnedRetained", NULL},
	{"own: delete removes a tagged standalone secondary, leaves an untagged writer", {m_deleting, m_delete_policy, m_west_standalone, m_east_untagged}, A(DELETE_INSTANCES), WEST, NOOP, NULL, NULL, NULL, NULL},
	{"own: delete of a recreated object leaves its predecessor's resources", {m_deleting, m_delete_policy, m_global_stale, m_east_untagged, m_west_untagged}, A(REMOVE_FINALIZER), NULL, NOOP, NULL, NULL, "NotOwnedRetained", NULL},

	/* -- planned switchover -- */
	{"switchover starts in the current primary's region", {m_spec_west}, A(SWITCHOVER), EAST, S(SWITCHOVER), "", "OperationInProgress", "SwitchoverStarted", NULL},
	{"switchover waits for a modifying global cluster", {m_spec_west, m_global_modifying}, A(NONE), NULL, NOOP, "SwitchoverBlocked", "WriterNotInDesiredRegion", NULL, NULL},
	{"switchover waits for pending-resync", {m_spec_west, m_west_pending_resync}, A(NONE), NULL, NOOP, "SwitchoverBlocked", NULL, NULL, NULL},
	{"switchover waits while the target gets instances", {m_spec_west, m_west_one_instance}, A(CREATE_INSTANCE), WEST, NOOP, NULL, NULL, NULL, NULL},
	{"switchover waits for an unreachable primary region", {m_spec_west, m_east_api_down}, A(NONE), NULL, NOOP, "RegionUnreachable", NULL, NULL, NULL},
	{"switchover waits while the writer misses probes", {m_spec_west, m_east_slow_probe}, A(NONE), NULL, NOOP, "SwitchoverBlocked", NULL, NULL, NULL},
	{"switchover waits for someone else's failover state", {m_spec_west, m_global_pending}, A(NONE), NULL, NOOP, "SwitchoverBlocked", NULL, NULL, NULL},
	{"switchover to a modifying target waits", {m_spec_west, m_west_modifying}, A(NONE), NULL, NOOP, "SwitchoverBlocked", NULL, NULL, NULL},
	{"crash after switchover persisted: no second call within settle", {m_spec_west, m_op_switchover}, A(WAIT), NULL, S(SWITCHOVER), "", NULL, NULL, NULL},
	{"switchover re-issued when nothing happened after settle", {m_spec_west, m_op_switchover_40s}, A(SWITCHOVER), EAST, S(SWITCHOVER), "", NULL, "Retrying", NULL},
	{"switchover persisted, not yet called: call it", {m_spec_west, m_op_switchover_fresh}, A(SWITCHOVER), EAST, S(SWITCHOVER), "", NULL, "SwitchoverStarted", NULL},
	{"crash after switchover call: failover state seen", {m_spec_west, m_op_switchover, m_global_pending}, A(WAIT), NULL, S(WAIT_SWITCHOVER), "", NULL, NULL, NULL},
	{"crash after a switchover that already finished", {m_spec_west, m_op_switchover, m_writer_west}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), NULL, NULL, "WriterMoved", NULL},
	{"switchover throttled: back off", {m_spec_west, m_op_switchover_1s, m_last_switchover_throttled}, A(WAIT), NULL, S(SWITCHOVER), "AwsThrottled", NULL, NULL, NULL},
	{"switchover throttled: retried after the backoff", {m_spec_west, m_op_switchover, m_last_switchover_throttled}, A(SWITCHOVER), EAST, S(SWITCHOVER), "AwsThrottled", NULL, NULL, NULL},
	{"switchover invalid state: retried after the backoff", {m_spec_west, m_op_switchover, m_last_switchover_refused}, A(SWITCHOVER), EAST, S(SWITCHOVER), "AwsInvalidState", NULL, NULL, NULL},
	{"switchover gives up after 5 attempts", {m_spec_west, m_op_switchover_5_attempts, m_last_switchover_refused}, A(NONE), NULL, NOOP, "AwsInvalidState", NULL, "SwitchoverFailed", NULL},
	{"a failed switchover is retried only after a pause", {m_spec_west, m_last_switchover_failed_10s}, A(NONE), NULL, NOOP, "SwitchoverFailed", NULL, NULL, NULL},
	{"a failed switchover is retried after the pause", {m_spec_west, m_last_switchover_failed_2m}, A(SWITCHOVER), EAST, S(SWITCHOVER), "", NULL, "SwitchoverStarted", NULL},
	{"switchover cancelled when the spec flips back before the call", {m_op_switchover_fresh}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "SwitchoverCancelled", NULL},
	{"wait through FailoverState switching-over", {m_spec_west, m_op_wait_switchover, m_global_switching}, A(WAIT), NULL, S(WAIT_SWITCHOVER), "", NULL, NULL, NULL},
	{"wait through FailoverState cancelling", {m_spec_west, m_op_wait_switchover, m_global_cancelling}, A(WAIT), NULL, S(WAIT_SWITCHOVER), "", NULL, NULL, NULL},
	{"new writer seen: DNS first", {m_spec_west, m_op_wait_switchover, m_writer_west}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), "", NULL, "WriterMoved", NULL},
	{"new writer but global still switching: wait", {m_spec_west, m_op_wait_switchover, m_writer_west, m_global_status_switching}, A(WAIT), NULL, S(WAIT_SWITCHOVER), NULL, NULL, NULL, NULL},
	{"writer never moved: switchover failed", {m_spec_west, m_op_wait_switchover_60s}, A(NONE), NULL, NOOP, "SwitchoverCancelled", NULL, "SwitchoverCancelled", NULL},
	{"writer not moved yet within settle: wait", {m_spec_west, m_op_wait_switchover}, A(WAIT), NULL, S(WAIT_SWITCHOVER), NULL, NULL, NULL, NULL},
	{"DNS upsert points at the new writer", {m_spec_west, m_writer_west, m_op_update_dns}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), "", NULL, "UpdatingDns", NULL},
	{"DNS change accepted: wait for INSYNC", {m_spec_west, m_writer_west, m_op_update_dns_sent, m_last_dns_ok}, A(WAIT_DNS_INSYNC), WEST, S(WAIT_DNS_INSYNC), "", NULL, NULL, NULL},
	{"DNS change accepted and already INSYNC: on at once", {m_spec_west, m_writer_west, m_op_update_dns_sent, m_last_dns_ok, m_dns_insync}, A(PUBLISH_SSM), WEST, S(PUBLISH_SSM), "", NULL, "DnsInSync", NULL},
	{"crash after DNS upsert: upsert again (idempotent)", {m_spec_west, m_writer_west, m_op_update_dns_sent}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), "", NULL, NULL, NULL},
	{"DNS upsert throttled: back off", {m_spec_west, m_writer_west, m_op_update_dns_sent, m_last_dns_throttled}, A(WAIT), NULL, S(UPDATE_DNS), "AwsThrottled", NULL, NULL, NULL},
	{"DNS pending: keep polling", {m_spec_west, m_writer_west, m_op_wait_dns, m_dns_pending}, A(WAIT_DNS_INSYNC), WEST, S(WAIT_DNS_INSYNC), "", NULL, NULL, NULL},
	{"DNS change id lost: upsert again", {m_spec_west, m_writer_west, m_op_wait_dns_no_id}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), "", NULL, NULL, NULL},
	{"DNS INSYNC: publish to SSM", {m_spec_west, m_writer_west, m_op_wait_dns, m_dns_insync}, A(PUBLISH_SSM), WEST, S(PUBLISH_SSM), "", NULL, "DnsInSync", NULL},
	{"SSM publish runs", {m_spec_west, m_writer_west, m_op_publish}, A(PUBLISH_SSM), WEST, S(PUBLISH_SSM), "", NULL, NULL, NULL},
	{"SSM published: restart workloads", {m_spec_west, m_writer_west, m_op_publish_sent, m_last_ssm_ok}, A(RESTART_WORKLOADS), WEST, S(RESTART_WORKLOADS), "", NULL, "RestartingWorkloads", NULL},
	{"SSM access denied: degraded, back off", {m_spec_west, m_writer_west, m_op_publish_sent, m_last_ssm_forbidden}, A(WAIT), NULL, S(PUBLISH_SSM), "AwsAccessDenied", NULL, NULL, NULL},
	{"crash during restarts: restart again (same stamp)", {m_spec_west, m_writer_west, m_op_restart_sent}, A(RESTART_WORKLOADS), WEST, S(RESTART_WORKLOADS), "", NULL, NULL, NULL},
	{"restarts done: switchover completed, Ready", {m_spec_west, m_writer_west, m_op_restart_sent, m_last_restart_ok}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "SwitchoverCompleted", NULL},
	{"a peer completed the switchover: from UpdateDns to this cluster's restart", {m_spec_west, m_writer_west, m_op_update_dns, m_done_by_peer}, A(RESTART_WORKLOADS), WEST, S(RESTART_WORKLOADS), "", NULL, "RestartingWorkloads", NULL},
	{"a peer completed the switchover: from WaitDnsInsync to this cluster's restart", {m_spec_west, m_writer_west, m_op_wait_dns, m_done_by_peer}, A(RESTART_WORKLOADS), WEST, S(RESTART_WORKLOADS), "", NULL, "RestartingWorkloads", NULL},
	{"a peer completed the switchover, restarted here: completed, Ready", {m_spec_west, m_writer_west, m_op_restart_sent, m_last_restart_ok, m_done_by_peer}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "SwitchoverCompleted", NULL},
	{"without DNS, SSM, workloads the switchover ends at the new writer", {m_spec_west, m_no_tail, m_op_wait_switchover, m_writer_west}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "SwitchoverCompleted", NULL},
	{"paused holds an operation in flight", {m_spec_west, m_op_switchover_40s, m_paused}, A(NONE), NULL, S(SWITCHOVER), NULL, NULL, "Paused", NULL},
	{"paused does not start a switchover", {m_spec_west, m_paused}, A(NONE), NULL, NOOP, NULL, "WriterNotInDesiredRegion", "Paused", NULL},

	/* -- unplanned failover: when it fires -- */
	{"failover: region down, probes failed, lag in budget", {m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, "PrimaryUnhealthy", "FailoverStarted", NULL},
	{"failover: primary API times out", {m_east_failing, m_east_api_timeout}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "FailoverStarted", NULL},
	{"failover: cluster not available in RDS", {m_east_failing, m_east_unavailable}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: RDS reports the cluster failed", {m_east_failing, m_east_failed}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: in-region failover past its grace", {m_east_failing, m_east_failing_over_200s}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: confirmation None trusts the probes", {m_east_failing, m_confirm_none}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: lag exactly at the budget", {m_east_failing, m_east_api_down, m_west_lag_30s}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"refuse: zero budget: a failed writer may have acknowledged writes after any heartbeat", {m_east_failing, m_east_api_down, m_west_lag_0_budget_0}, A(NONE), NULL, NOOP, "ReplicationLagOverBudget", NULL, NULL, "ReplicationLagOverBudget"},
	{"failover: a writer dead for 10 minutes: the lag bound does not grow with the clock", {m_east_failing, m_east_api_down, m_east_dead_10min}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "FailoverStarted", NULL},
	{"failover: cooldown passed", {m_east_failing, m_east_api_down, m_cooldown_passed}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: method DetachAndPromote detaches in the target region", {m_east_failing, m_east_api_down, m_method_detach}, A(DETACH_AND_PROMOTE), WEST, S(DETACH), NULL, NULL, "FailoverStarted", NULL},
	{"failover: method Managed calls FailoverGlobalCluster", {m_east_failing, m_east_api_down, m_method_managed}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: us-west-2 silent for just over 10 s", {m_east_failing, m_east_api_down, m_west_heard_east_just_over_10s_ago}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "FailoverStarted", NULL},
	{"failover: us-west-2 reports no replication at all", {m_east_failing, m_east_api_down, m_west_never_heard_east}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: a headless third region has no view to wait for", {m_three_regions, m_eu_headless, m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: lowest lag wins", {m_three_regions, m_eu_lag_100, m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), EU, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: equal lag goes to list order", {m_three_regions, m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: unknown lag candidate skipped for a measured one", {m_three_regions, m_west_lag_unknown, m_eu_lag_800, m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), EU, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover: unhealthy readers are no target", {m_three_regions, m_eu_reader_unhealthy, m_eu_lag_100, m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},

	/* -- unplanned failover: refusals -- */
	{"refuse: fewer failures than the threshold", {m_east_failing_2, m_east_api_down}, A(NONE), NULL, NOOP, "RegionUnreachable", "PrimaryUnhealthy", NULL, NULL},
	{"refuse: a stale writer verdict", {m_east_failing, m_east_api_down, m_east_probe_stale}, A(NONE), NULL, NOOP, "ProbeVerdictStale", NULL, "ProbeVerdictStale", "ProbeVerdictStale"},
	{"refuse: RDS says the primary is available", {m_east_failing}, A(NONE), NULL, NOOP, "PrimaryAvailableInControlPlane", "PrimaryUnhealthy", "PrimaryAvailableInControlPlane", "PrimaryAvailableInControlPlane"},
	{"refuse: cut off from the primary, API down, us-west-2 still hears it", {m_east_failing, m_east_api_down, m_west_hears_east}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", "PrimaryUnhealthy", "SecondaryHearsPrimary", "SecondaryHearsPrimary"},
	{"refuse: cut off, API timing out, us-west-2 still hears it", {m_east_failing, m_east_api_timeout, m_west_hears_east}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"refuse: us-west-2 heard the primary exactly 10 s ago", {m_east_failing, m_east_api_down, m_west_heard_east_10s_ago}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"refuse: confirmation None still heeds a secondary that hears the primary", {m_east_failing, m_confirm_none, m_west_hears_east}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"refuse: us-west-2 cannot say whether it hears the primary", {m_east_failing, m_east_api_down, m_west_view_unknown}, A(NONE), NULL, NOOP, "SecondaryViewUnknown", NULL, "SecondaryViewUnknown", "SecondaryViewUnknown"},
	{"refuse: us-west-2's silence is a stale probe", {m_east_failing, m_east_api_down, m_west_view_stale}, A(NONE), NULL, NOOP, "SecondaryViewUnknown", NULL, NULL, "SecondaryViewUnknown"},
	{"refuse: a third region still hears the primary", {m_three_regions, m_east_failing, m_east_api_down, m_eu_hears_east}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"refuse: a third region's view is unknown", {m_three_regions, m_east_failing, m_east_api_down, m_eu_view_unknown}, A(NONE), NULL, NOOP, "SecondaryViewUnknown", NULL, NULL, "SecondaryViewUnknown"},
	{"refuse: hearing outranks unknown", {m_three_regions, m_east_failing, m_east_api_down, m_eu_view_unknown, m_west_hears_east}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"refuse: RDS says modifying (maintenance) is no confirmation", {m_east_failing, m_east_modifying}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, "OutageNotConfirmed", "OutageNotConfirmed"},
	{"refuse: RDS says upgrading is no confirmation", {m_east_failing, m_east_upgrading}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, NULL, "OutageNotConfirmed"},
	{"refuse: RDS says backing-up is no confirmation", {m_east_failing, m_east_backing_up}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, NULL, "OutageNotConfirmed"},
	{"refuse: a cluster RDS does not list is no confirmation", {m_east_failing, m_east_not_found}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, NULL, "OutageNotConfirmed"},
	{"refuse: AccessDenied from the primary's API is no confirmation", {m_east_failing, m_east_api_forbidden}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, NULL, "OutageNotConfirmed"},
	{"refuse: an unknown API error is no confirmation", {m_east_failing, m_east_api_other}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, NULL, "OutageNotConfirmed"},
	{"refuse: a NotFound fault is no confirmation", {m_east_failing, m_east_api_not_found}, A(NONE), NULL, NOOP, "OutageNotConfirmed", NULL, NULL, "OutageNotConfirmed"},
	{"manual: no recommendation while us-west-2 hears the primary", {m_manual, m_east_failing, m_east_api_down, m_west_hears_east}, A(NONE), NULL, NOOP, "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"manual: approval does not override a secondary that hears the primary", {m_manual, m_east_failing, m_east_api_down, m_west_hears_east, m_op_awaiting_failover, m_approve_failover_now}, A(WAIT), NULL, S(AWAITING_APPROVAL), "SecondaryHearsPrimary", NULL, NULL, "SecondaryHearsPrimary"},
	{"refuse: primary API throttled is no confirmation", {m_east_failing, m_east_api_throttled}, A(NONE), NULL, NOOP, "AwaitingConfirmation", NULL, NULL, "AwaitingConfirmation"},
	{"refuse: primary API not observed", {m_east_failing, m_east_api_unknown}, A(NONE), NULL, NOOP, "AwaitingConfirmation", NULL, NULL, "AwaitingConfirmation"},
	{"refuse: in-region failover within its grace", {m_east_failing, m_east_failing_over_30s}, A(NONE), NULL, NOOP, "InRegionFailoverInProgress", NULL, NULL, "InRegionFailoverInProgress"},
	{"refuse: unknown lag", {m_east_failing, m_east_api_down, m_west_lag_unknown}, A(NONE), NULL, NOOP, "ReplicationLagUnknown", NULL, "ReplicationLagUnknown", "ReplicationLagUnknown"},
	{"refuse: lag over the budget", {m_east_failing, m_east_api_down, m_west_lag_40s}, A(NONE), NULL, NOOP, "ReplicationLagOverBudget", NULL, "ReplicationLagOverBudget", "ReplicationLagOverBudget"},
	{"refuse: best of three over the budget", {m_three_regions, m_eu_reader_unhealthy, m_west_lag_40s, m_east_failing, m_east_api_down}, A(NONE), NULL, NOOP, "ReplicationLagOverBudget", NULL, NULL, "ReplicationLagOverBudget"},
	{"refuse: target readers unhealthy", {m_east_failing, m_east_api_down, m_west_reader_unhealthy}, A(NONE), NULL, NOOP, "NoFailoverTarget", NULL, NULL, "NoFailoverTarget"},
	{"refuse: target not available", {m_east_failing, m_east_api_down, m_west_modifying}, A(NONE), NULL, NOOP, "NoFailoverTarget", NULL, NULL, "NoFailoverTarget"},
	{"refuse: target is pending-resync", {m_east_failing, m_east_api_down, m_west_pending_resync}, A(NONE), NULL, NOOP, "NoFailoverTarget", NULL, NULL, "NoFailoverTarget"},
	{"refuse: headless target", {m_east_failing, m_east_api_down, m_west_headless}, A(NONE), NULL, NOOP, "NoFailoverTarget", NULL, NULL, "NoFailoverTarget"},
	{"refuse: target region unreachable too", {m_east_failing, m_east_api_down, m_west_api_down}, A(NONE), NULL, NOOP, "NoFailoverTarget", NULL, NULL, "NoFailoverTarget"},
	{"refuse: cooldown", {m_east_failing, m_east_api_down, m_cooldown_recent}, A(NONE), NULL, NOOP, "CooldownActive", NULL, "CooldownActive", "CooldownActive"},
	{"refuse: paused", {m_east_failing, m_east_api_down, m_paused}, A(NONE), NULL, NOOP, NULL, NULL, "Paused", NULL},
	{"refuse: just resumed from a pause, failures seen while paused", {m_east_failing, m_east_api_down, m_was_paused}, A(NONE), NULL, NOOP, "ResumingFromPause", NULL, "ResumingFromPause", "ResumingFromPause"},
	{"failover once a detection window passed after the pause", {m_east_failing, m_east_api_down, m_paused_20s_ago}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"refuse: a standalone writer has no failover target", {m_after_detach, m_east_api_down, m_west_failing}, A(NONE), NULL, NOOP, "NoFailoverTarget", "PrimaryUnhealthy", NULL, "NoFailoverTarget"},

	/* -- manual mode -- */
	{"manual: recommend and wait", {m_manual, m_east_failing, m_east_api_down}, A(RECOMMEND_FAILOVER), WEST, S(AWAITING_APPROVAL), "AwaitingFailoverApproval", NULL, "FailoverRecommended", NULL},
	{"manual: approved now fails over", {m_manual, m_east_failing, m_east_api_down, m_op_awaiting_failover, m_approve_failover_now}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "FailoverApproved", NULL},
	{"manual: a stale approval approves nothing", {m_manual, m_east_failing, m_east_api_down, m_op_awaiting_failover, m_approve_failover_stale}, A(RECOMMEND_FAILOVER), WEST, S(AWAITING_APPROVAL), "AwaitingFailoverApproval", NULL, NULL, NULL},
	{"manual: a future-dated approval approves nothing", {m_manual, m_east_failing, m_east_api_down, m_op_awaiting_failover, m_approve_failover_future}, A(RECOMMEND_FAILOVER), WEST, S(AWAITING_APPROVAL), "ApprovalInFuture", NULL, "ApprovalInFuture", "ApprovalInFuture"},
	{"manual: a future-dated approval held over from before the failure approves nothing", {m_manual, m_east_failing, m_east_api_down, m_approve_failover_future}, A(RECOMMEND_FAILOVER), WEST, S(AWAITING_APPROVAL), "ApprovalInFuture", NULL, "ApprovalInFuture", "ApprovalInFuture"},
	{"manual: an approval a minute ahead (clock skew) counts", {m_manual, m_east_failing, m_east_api_down, m_op_awaiting_failover, m_approve_failover_skewed}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "FailoverApproved", NULL},
	{"manual: a malformed approval is reported", {m_manual, m_east_failing, m_east_api_down, m_op_awaiting_failover, m_approve_failover_garbage}, A(RECOMMEND_FAILOVER), WEST, S(AWAITING_APPROVAL), "InvalidApproval", NULL, "InvalidApproval", NULL},
	{"manual: recommendation withdrawn when the writer recovers", {m_manual, m_op_awaiting_failover}, A(NONE), NULL, NOOP, "", NULL, "FailoverRecommendationWithdrawn", NULL},
	{"manual: approval overrides the cooldown", {m_manual, m_east_failing, m_east_api_down, m_cooldown_recent, m_op_awaiting_failover, m_approve_failover_now}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"manual: unknown lag is still recommended, saying so", {m_manual, m_east_failing, m_east_api_down, m_west_lag_unknown}, A(RECOMMEND_FAILOVER), WEST, S(AWAITING_APPROVAL), "AwaitingFailoverApproval", NULL, "FailoverRecommended", NULL},
	{"manual: an approval accepts an unknown lag", {m_manual, m_east_failing, m_east_api_down, m_west_lag_unknown, m_op_awaiting_failover, m_approve_failover_now}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "FailoverApproved", NULL},
	{"manual: approval does not override the lag budget", {m_manual, m_east_failing, m_east_api_down, m_west_lag_40s, m_op_awaiting_failover, m_approve_failover_now}, A(WAIT), NULL, S(AWAITING_APPROVAL), "ReplicationLagOverBudget", NULL, NULL, "ReplicationLagOverBudget"},

	/* -- failover in flight -- */
	{"crash after failover persisted: no second call within settle", {m_east_failing, m_east_api_down, m_op_failover}, A(WAIT), NULL, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover re-issued when nothing happened after settle", {m_east_failing, m_east_api_down, m_op_failover_40s}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "Retrying", NULL},
	{"managed failover refused for good (InvalidParameterCombination), Auto detaches instead", {m_east_failing, m_east_api_down, m_op_failover_1s, m_last_failover_invalid_param}, A(DETACH_AND_PROMOTE), WEST, S(DETACH), NULL, NULL, "ManagedFailoverRefused", NULL},
	{"managed failover refused as busy (InvalidGlobalClusterStateFault): Auto backs off, never detaches", {m_east_failing, m_east_api_down, m_op_failover_1s, m_last_failover_refused}, A(WAIT), NULL, S(FAILOVER_MANAGED), "AwsInvalidState", NULL, NULL, NULL},
	{"managed failover refused as busy: retried as managed after the backoff", {m_east_failing, m_east_api_down, m_op_failover, m_last_failover_refused}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), "AwsInvalidState", NULL, "Retrying", NULL},
	{"managed failover refused, Managed retries with backoff", {m_method_managed, m_east_failing, m_east_api_down, m_op_failover_1s, m_last_failover_refused}, A(WAIT), NULL, S(FAILOVER_MANAGED), "AwsInvalidState", NULL, NULL, NULL},
	{"failover throttled: back off", {m_east_failing, m_east_api_down, m_op_failover_1s, m_last_failover_throttled}, A(WAIT), NULL, S(FAILOVER_MANAGED), "AwsThrottled", NULL, NULL, NULL},
	{"failover target region unreachable: retried after backoff", {m_east_failing, m_east_api_down, m_op_failover, m_last_failover_unreachable}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), "AwsUnreachable", NULL, NULL, NULL},
	{"failover access denied: back off", {m_east_failing, m_east_api_down, m_op_failover_1s, m_last_failover_forbidden}, A(WAIT), NULL, S(FAILOVER_MANAGED), "AwsAccessDenied", NULL, NULL, NULL},
	{"crash after failover call: failing-over seen", {m_east_failing, m_east_api_down, m_op_failover, m_global_failing_over}, A(WAIT), NULL, S(WAIT_FAILOVER), NULL, NULL, NULL, NULL},
	{"managed failover done: DNS next, data loss recorded", {m_east_failing, m_east_api_down, m_op_wait_failover, m_writer_west}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), NULL, NULL, "DataLossWindow", NULL},
	{"managed failover stalled: issued again", {m_east_failing, m_east_api_down, m_op_wait_failover_60s}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"crash after detach persisted: no second call", {m_east_failing, m_east_api_down, m_op_detach}, A(WAIT), NULL, S(DETACH), NULL, NULL, NULL, NULL},
	{"crash after detach call: target standalone, promoting", {m_east_failing, m_east_api_down, m_op_detach, m_west_standalone, m_west_modifying}, A(WAIT), NULL, S(WAIT_PROMOTED), NULL, NULL, NULL, NULL},
	{"detach done: DNS next", {m_east_failing, m_east_api_down, m_op_detach, m_west_standalone}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), NULL, NULL, "WriterMoved", NULL},
	{"a peer completed the detach: no DNS or SSM here, this cluster's restart", {m_east_failing, m_east_api_down, m_op_detach, m_west_standalone, m_done_by_peer}, A(RESTART_WORKLOADS), WEST, S(RESTART_WORKLOADS), NULL, NULL, "RestartingWorkloads", NULL},
	{"a peer completed the detach, no deployments here: the record ends", {m_east_failing, m_east_api_down, m_op_detach, m_west_standalone, m_done_by_peer, m_no_deployments}, A(NONE), NULL, NOOP, NULL, NULL, "FailoverCompleted", NULL},
	{"detach not found: retried after backoff", {m_east_failing, m_east_api_down, m_op_detach, m_last_detach_not_found}, A(DETACH_AND_PROMOTE), WEST, S(DETACH), "AwsNotFound", NULL, NULL, NULL},
	{"failover target gone before the call: the next best is taken", {m_three_regions, m_east_failing, m_east_api_down, m_op_failover_fresh, m_west_api_down}, A(FAILOVER_MANAGED), EU, S(FAILOVER_MANAGED), NULL, NULL, "FailoverRetargeted", NULL},
	{"detach target invisible: wait", {m_east_failing, m_east_api_down, m_op_detach_fresh, m_west_api_down}, A(WAIT), NULL, S(DETACH), "FailoverTargetUnavailable", NULL, NULL, NULL},

	/* -- after a call: the target is never replaced (a second promotion) -- */
	{"detach issued, target API throttled past the settle window: wait, never a second target", {m_three_regions, m_east_failing, m_east_api_down, m_op_detach_40s, m_west_api_throttled}, A(WAIT), NULL, S(DETACH), "FailoverTargetUnobservable", NULL, NULL, NULL},
	{"detach timed out, target API throttled: wait, never a second target", {m_three_regions, m_east_failing, m_east_api_down, m_op_detach, m_last_detach_timeout, m_west_api_throttled}, A(WAIT), NULL, S(DETACH), NULL, NULL, NULL, NULL},
	{"detach issued, target invisible but gone from the member list: detached, wait to see it", {m_three_regions, m_east_failing, m_east_api_down, m_op_detach_40s, m_west_api_throttled, m_west_left_global}, A(WAIT), NULL, S(WAIT_PROMOTED), "FailoverTargetUnobservable", NULL, NULL, NULL},
	{"detach re-entered from WaitPromoted, target invisible: wait, never a second target", {m_three_regions, m_east_failing, m_east_api_down, m_op_detach_reentered, m_west_api_throttled}, A(WAIT), NULL, S(DETACH), "FailoverTargetUnobservable", NULL, NULL, NULL},
	{"managed failover issued, target invisible past the settle window: wait, never a second target", {m_three_regions, m_east_failing, m_east_api_down, m_op_failover_40s, m_west_api_throttled}, A(WAIT), NULL, S(FAILOVER_MANAGED), "FailoverTargetUnobservable", NULL, NULL, NULL},

	/* -- Detach when the managed failover took effect after all -- */
	{"detach step, the target already writes (managed failover won): no detach, DNS next", {m_east_failing, m_east_api_down, m_op_detach_40s, m_writer_west}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), NULL, NULL, "WriterMoved", NULL},
	{"detach step while FailoverState is failing-over: wait for it, no detach", {m_east_failing, m_east_api_down, m_op_detach_40s, m_global_failing_over}, A(WAIT), NULL, S(WAIT_FAILOVER), NULL, NULL, NULL, NULL},
	{"wait-promoted finds the target writing in the global cluster: managed failover won", {m_east_failing, m_east_api_down, m_op_wait_promoted, m_writer_west}, A(UPSERT_DNS), WEST, S(UPDATE_DNS), NULL, NULL, "WriterMoved", NULL},

	/* -- before any (re)issue: the writer is still the failed source -- */
	{"failover stalled, the writer moved to a third region: cancelled, DNS follows it", {m_three_regions, m_east_failing, m_east_api_down, m_op_wait_failover_60s, m_writer_eu}, A(UPSERT_DNS), EU, S(UPDATE_DNS), NULL, NULL, "WriterMovedExternally", NULL},
	{"detach not yet called, the writer moved to a third region: cancelled, DNS follows it", {m_three_regions, m_east_failing, m_east_api_down, m_op_detach_fresh, m_writer_eu}, A(UPSERT_DNS), EU, S(UPDATE_DNS), NULL, NULL, "WriterMovedExternally", NULL},
	{"writer moved to a third region, no DNS, SSM or workloads: the failover just ends", {m_three_regions, m_no_tail, m_east_failing, m_east_api_down, m_op_wait_failover_60s, m_writer_eu}, A(NONE), NULL, NOOP, NULL, NULL, "WriterMovedExternally", NULL},
	{"failover persisted, not yet called, the writer recovered: withdrawn", {m_op_failover_fresh}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "FailoverWithdrawn", NULL},
	{"detach persisted, not yet called, the writer recovered: withdrawn", {m_method_detach, m_op_detach_fresh}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "FailoverWithdrawn", NULL},
	{"failover throttled, the writer recovered: no AllowDataLoss on a healthy primary, settle first", {m_op_failover, m_last_failover_throttled}, A(WAIT), NULL, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover throttled, the writer recovered, no effect after the settle window: withdrawn", {m_op_failover_40s, m_last_failover_throttled}, A(NONE), NULL, NOOP, "", NULL, "FailoverWithdrawn", NULL},
	{"failover timed out, the writer recovered: wait out the settle window first", {m_op_failover, m_last_failover_timeout}, A(WAIT), NULL, S(FAILOVER_MANAGED), NULL, NULL, NULL, NULL},
	{"failover timed out, the writer recovered, no effect after the settle window: withdrawn", {m_op_failover_40s, m_last_failover_timeout}, A(NONE), NULL, NOOP, "", NULL, "FailoverWithdrawn", NULL},
	{"no verdict on the source yet (a restart): only health withdraws, the stalled call is issued again", {m_east_api_down, m_east_not_probed, m_op_failover_40s}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "Retrying", NULL},
	{"managed failover stalled, the writer recovered: withdrawn, not issued again", {m_op_wait_failover_60s}, A(NONE), NULL, NOOP, "", NULL, "FailoverWithdrawn", NULL},
	{"failover tail done: fallback waits for the lost region", {m_east_failing, m_east_api_down, m_writer_west, m_op_failover_restart_sent, m_last_restart_ok}, A(WAIT), NULL, S(WAIT_READDED), NULL, NULL, "FailoverCompleted", NULL},
	{"restarts: an ECS service in the dead region does not hold the failover", {m_east_failing, m_east_api_down, m_writer_west, m_ecs_two_regions, m_op_failover_restart_sent, m_last_restart_east_ecs_unreachable}, A(WAIT), NULL, S(WAIT_READDED), NULL, NULL, "WorkloadsNotRestarted", NULL},
	{"restarts: a failed ECS service is named and retried", {m_spec_west, m_writer_west, m_ecs_two_regions, m_op_restart_sent, m_last_restart_ecs_throttled}, A(WAIT), NULL, S(RESTART_WORKLOADS), "WorkloadsNotRestarted", NULL, NULL, NULL},

	{"failover preempts a switchover that has not taken effect", {m_spec_west, m_op_switchover_fresh, m_east_failing, m_east_api_down}, A(FAILOVER_MANAGED), WEST, S(FAILOVER_MANAGED), NULL, NULL, "OperationPreempted", NULL},
	{"a switchover in Aurora's hands is not preempted", {m_spec_west, m_op_switchover, m_global_pending, m_east_failing, m_east_api_down}, A(WAIT), NULL, S(WAIT_SWITCHOVER), NULL, NULL, NULL, NULL},
	{"failover preempts a fallback waiting for Aurora's re-add", {m_after_managed, m_cooldown_passed, m_three_regions, m_op_wait_readded, m_west_failing, m_west_api_down}, A(FAILOVER_MANAGED), EU, S(FAILOVER_MANAGED), NULL, NULL, "OperationPreempted", NULL},
	{"no target: the fallback keeps waiting", {m_after_managed, m_op_wait_readded, m_west_failing, m_west_api_down}, A(WAIT), NULL, S(WAIT_READDED), NULL, NULL, NULL, NULL},
	{"our global cluster not observed: create nothing", {m_no_globals, m_east_in_our_global}, A(NONE), NULL, NOOP, "GlobalClusterNotObserved", NULL, NULL, NULL},

	/* -- fallback after a managed failover -- */
	{"managed fallback waits for Aurora's re-add", {m_after_managed}, A(WAIT), NULL, S(WAIT_READDED), NULL, NULL, "FallbackStarted", NULL},
	{"managed fallback in Manual mode waits for approval", {m_after_managed, m_fallback_manual}, A(WAIT), NULL, S(AWAITING_APPROVAL), "AwaitingFallbackApproval", NULL, NULL, NULL},
	{"managed fallback approved", {m_after_managed, m_fallback_manual, m_approve_fallback_now}, A(WAIT), NULL, S(WAIT_READDED), NULL, NULL, "FallbackApproved", NULL},
	{"managed fallback: a future-dated approval approves nothing", {m_after_managed, m_fallback_manual, m_approve_fallback_future}, A(WAIT), NULL, S(AWAITING_APPROVAL), "ApprovalInFuture", NULL, "ApprovalInFuture", "ApprovalInFuture"},
	{"managed fallback: a stale approval approves nothing", {m_after_managed, m_fallback_manual, m_approve_fallback_stale}, A(WAIT), NULL, S(AWAITING_APPROVAL), "AwaitingFallbackApproval", NULL, NULL, NULL},
	{"re-added and connected: copy Aurora's failover snapshot", {m_after_managed, m_east_readded, m_east_aurora_snapshot, m_op_wait_readded}, A(COPY_FAILOVER_SNAPSHOT), EAST, S(COPY_SNAPSHOT), NULL, NULL, "CopyingFailoverSnapshot", NULL},
	{"snapshot copy exists: fallback done, switch back", {m_after_managed, m_east_readded, m_east_aurora_snapshot, m_op_copy_snapshot, m_east_copy_exists}, A(SWITCHOVER), WEST, S(SWITCHOVER), NULL, NULL, "LostWritesSnapshotKept", NULL},
	{"no failover snapshot yet: wait", {m_after_managed, m_east_readded, m_op_copy_snapshot}, A(WAIT), NULL, S(COPY_SNAPSHOT), NULL, NULL, NULL, NULL},
	{"no failover snapshot after 10 minutes: go on and switch back", {m_after_managed, m_east_readded, m_op_copy_snapshot_11m}, A(SWITCHOVER), WEST, S(SWITCHOVER), NULL, NULL, "NoFailoverSnapshot", NULL},
	{"managed fallback does not switch back when the spec wants west", {m_after_managed, m_east_readded, m_spec_west, m_op_copy_snapshot_11m}, A(NONE), NULL, NOOP, "", "WriterInDesiredRegion", "FallbackCompleted", NULL},

	/* -- fallback after a detach -- */
	{"detached: lost region still down, wait", {m_after_detach, m_east_api_down}, A(NONE), NULL, NOOP, "RegionUnreachable", "WriterNotInDesiredRegion", NULL, NULL},
	{"detached: region back, stale member removed first", {m_after_detach}, A(REMOVE_FROM_GLOBAL_CLUSTER), EAST, S(FENCE_OLD_WRITER), NULL, NULL, "FallbackStarted", NULL},
	{"detached in Manual fallback mode: wait for approval", {m_after_detach, m_fallback_manual}, A(WAIT), NULL, S(AWAITING_APPROVAL), "AwaitingFallbackApproval", NULL, NULL, NULL},
	{"fence: delete the stale writer's instances", {m_after_detach, m_east_stale_standalone, m_op_fence}, A(DELETE_INSTANCES), EAST, S(FENCE_OLD_WRITER), NULL, NULL, "FencingOldWriter", NULL},
	{"fence: delete the stale writer with a final snapshot", {m_after_detach, m_east_stale_standalone, m_east_no_instances, m_op_fence}, A(FENCE_OLD_WRITER), EAST, S(FENCE_OLD_WRITER), NULL, NULL, "FencingOldWriter", NULL},
	{"fence: wait while it is deleting", {m_after_detach, m_east_stale_standalone, m_east_no_instances, m_east_deleting, m_op_fence}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"fence: region down again, wait", {m_after_detach, m_op_fence, m_east_api_down}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"fenced: delete the old global cluster", {m_after_detach, m_east_stale_standalone, m_east_missing, m_op_fence}, A(DELETE_OLD_GLOBAL_CLUSTER), WEST, S(DELETE_OLD_GLOBAL_CLUSTER), NULL, NULL, "DeletingOldGlobalCluster", NULL},
	{"old global still lists an unreachable member: wait", {m_after_detach, m_op_delete_old_global, m_old_global_member_unreachable}, A(WAIT), NULL, S(DELETE_OLD_GLOBAL_CLUSTER), NULL, NULL, NULL, NULL},
	{"old global lists a member in a region removed from the spec: build the next generation", {m_after_detach, m_east_replaced_by_eu_deleting_old_global}, A(CREATE_GLOBAL_CLUSTER), WEST, S(CREATE_GLOBAL_CLUSTER), "OldGlobalClusterNotDeleted", NULL, "OldGlobalClusterNotDeleted", NULL},
	{"old global gone: create the next generation from the writer", {m_after_detach, m_east_missing, m_old_global_gone, m_op_delete_old_global}, A(CREATE_GLOBAL_CLUSTER), WEST, S(CREATE_GLOBAL_CLUSTER), NULL, NULL, "CreatingGlobalCluster", NULL},
	{"crash after create global: no second call", {m_after_detach, m_east_missing, m_old_global_gone, m_op_create_global_sent}, A(WAIT), NULL, S(CREATE_GLOBAL_CLUSTER), NULL, NULL, NULL, NULL},
	{"generation name taken: use the next one", {m_after_detach, m_east_missing, m_name_taken, m_op_create_global}, A(CREATE_GLOBAL_CLUSTER), WEST, S(CREATE_GLOBAL_CLUSTER), NULL, NULL, "GlobalClusterNameTaken", NULL},
	{"next generation holds the writer: rebuild the lost region", {m_after_detach, m_east_missing, m_gen2_global, m_op_create_global}, A(CREATE_SECONDARY_CLUSTER), EAST, S(CREATE_SECONDARY), NULL, NULL, "GlobalClusterCreated", NULL},
	{"rebuild without template: reported", {m_after_detach, m_east_missing, m_gen2_global, m_gen2_in_status, m_east_no_template, m_op_create_secondary}, A(WAIT), NULL, S(CREATE_SECONDARY), "TemplateMissing", NULL, NULL, NULL},
	{"rebuilt cluster creating: add instances", {m_after_detach, m_gen2_global, m_gen2_in_status, m_east_rebuilt_creating, m_op_create_secondary}, A(CREATE_INSTANCE), EAST, S(CREATE_INSTANCES), NULL, NULL, "CreatingInstance", NULL},
	{"instances complete: wait for connected", {m_after_detach, m_gen2_global, m_gen2_in_status, m_east_rebuilt_two, m_op_create_instances}, A(WAIT), NULL, S(WAIT_CONNECTED), NULL, NULL, NULL, NULL},
	{"connected: publish the new global cluster name", {m_after_detach, m_gen2_global, m_gen2_in_status, m_east_rebuilt_connected, m_op_wait_connected}, A(PUBLISH_SSM), WEST, S(PUBLISH_SSM), NULL, NULL, "FallbackReady", NULL},
	{"fallback done: switch back to the desired region", {m_after_detach, m_gen2_global, m_gen2_in_status, m_east_rebuilt_connected, m_op_fallback_publish_sent, m_last_ssm_ok}, A(SWITCHOVER), WEST, S(SWITCHOVER), NULL, NULL, "FallbackCompleted", NULL},

	/* -- fallback after a detach with three regions: eu-west-1 is a secondary of the old global -- */
	{"3 regions, lost region down: the third region's secondary is left alone", {m_after_detach, m_three_regions, m_east_api_down}, A(NONE), NULL, NOOP, "RegionUnreachable", NULL, NULL, NULL},
	{"3 regions, region back: the stale writer's secondary leaves the old global first", {m_after_detach, m_three_regions}, A(REMOVE_FROM_GLOBAL_CLUSTER), EU, S(FENCE_OLD_WRITER), NULL, NULL, "FallbackStarted", NULL},
	{"3 regions, fence: the third region does not answer: wait, never remove a primary with secondaries", {m_after_detach, m_three_regions, m_op_fence, m_eu_api_down}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"3 regions, fence: the secondary's removal issued, not yet seen: hold", {m_after_detach, m_three_regions, m_op_fence_removed_1s}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"3 regions, fence: the secondary has left: the stale writer leaves next", {m_after_detach, m_three_regions, m_eu_left_old_global, m_op_fence}, A(REMOVE_FROM_GLOBAL_CLUSTER), EAST, S(FENCE_OLD_WRITER), NULL, NULL, "RemovingStaleMember", NULL},
	{"3 regions, spec lists eu first: the stale writer is still fenced first", {m_after_detach, m_three_regions, m_spec_eu_first}, A(REMOVE_FROM_GLOBAL_CLUSTER), EU, S(FENCE_OLD_WRITER), NULL, NULL, "FallbackStarted", NULL},
	{"3 regions: the lost region rebuilt, the third region is rebuilt next", {m_after_detach, m_three_regions, m_eu_left_old_global, m_gen2_global, m_gen2_in_status, m_east_rebuilt_connected, m_op_wait_connected}, A(DELETE_INSTANCES), EU, S(FENCE_OLD_WRITER), NULL, NULL, "FallbackReady", NULL},
	{"fence: removal issued, not yet seen: hold", {m_after_detach, m_op_fence_removed_1s}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"fence: removal seen: delete the instances at once", {m_after_detach, m_east_stale_standalone, m_op_fence_removed_1s}, A(DELETE_INSTANCES), EAST, S(FENCE_OLD_WRITER), NULL, NULL, "FencingOldWriter", NULL},
	{"fence: instance deletion issued, not yet seen: hold", {m_after_detach, m_east_stale_standalone, m_op_fence_instances_1s}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"fence: instances gone: delete the cluster at once", {m_after_detach, m_east_stale_standalone, m_east_no_instances, m_op_fence_instances_1s}, A(FENCE_OLD_WRITER), EAST, S(FENCE_OLD_WRITER), NULL, NULL, "FencingOldWriter", NULL},
	{"fence: cluster deletion issued, not yet seen: hold", {m_after_detach, m_east_stale_standalone, m_east_no_instances, m_op_fence_cluster_1s}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"fence: status without lastAction (older controller): hold", {m_after_detach, m_east_stale_standalone, m_op_fence_sent}, A(WAIT), NULL, S(FENCE_OLD_WRITER), NULL, NULL, NULL, NULL},
	{"fence call refused (invalid state): back off", {m_after_detach, m_east_stale_standalone, m_east_no_instances, m_op_fence_sent, m_last_fence_invalid}, A(WAIT), NULL, S(FENCE_OLD_WRITER), "AwsInvalidState", NULL, NULL, NULL},
	{"fence call refused: retried after the backoff", {m_after_detach, m_east_stale_standalone, m_east_no_instances, m_op_fence_sent_5s, m_last_fence_invalid}, A(FENCE_OLD_WRITER), EAST, S(FENCE_OLD_WRITER), "AwsInvalidState", NULL, "Retrying", NULL},
	{"create global throttled: back off", {m_after_detach, m_east_missing, m_old_global_gone, m_op_create_global_1s, m_last_create_global_throttled}, A(WAIT), NULL, S(CREATE_GLOBAL_CLUSTER), "AwsThrottled", NULL, NULL, NULL},
	{"create secondary in an unreachable region: wait", {m_after_detach, m_gen2_global, m_gen2_in_status, m_east_missing, m_op_create_secondary, m_east_api_down}, A(WAIT), NULL, S(CREATE_SECONDARY), NULL, NULL, NULL, NULL},
	{"create secondary access denied: back off", {m_after_detach, m_gen2_global, m_gen2_in_status, m_east_missing, m_op_create_secondary_1s, m_last_create_secondary_denied}, A(WAIT), NULL, S(CREATE_SECONDARY), "AwsAccessDenied", NULL, NULL, NULL},
	{"snapshot copy not found: back off", {m_after_managed, m_east_readded, m_east_aurora_snapshot, m_op_copy_snapshot_sent, m_last_copy_not_found}, A(WAIT), NULL, S(COPY_SNAPSHOT), "AwsNotFound", NULL, NULL, NULL},

	{"an operation for a region no longer in the spec is abandoned", {m_spec_west, m_op_switchover, m_op_target_eu}, A(NONE), NULL, NOOP, NULL, NULL, "OperationAbandoned", NULL},

	/* -- deletion -- */
	{"delete with Retain touches no AWS", {m_deleting}, A(REMOVE_FINALIZER), NULL, NOOP, NULL, NULL, "Retained", NULL},
	{"delete with Retain during an operation", {m_deleting, m_spec_west, m_op_switchover}, A(REMOVE_FINALIZER), NULL, ANY, NULL, NULL, "Retained", NULL},
	{"delete: secondaries leave the global cluster first", {m_deleting, m_delete_policy}, A(REMOVE_FROM_GLOBAL_CLUSTER), WEST, NOOP, NULL, NULL, NULL, NULL},
	{"delete: then their instances", {m_deleting, m_delete_policy, m_west_standalone}, A(DELETE_INSTANCES), WEST, NOOP, NULL, NULL, NULL, NULL},
	{"delete: then the writer leaves the global cluster", {m_deleting, m_delete_policy, m_west_missing}, A(REMOVE_FROM_GLOBAL_CLUSTER), EAST, NOOP, NULL, NULL, NULL, NULL},
	{"delete: everything gone, remove the finalizer", {m_deleting, m_delete_policy, m_west_missing, m_east_missing, m_old_global_gone}, A(REMOVE_FINALIZER), NULL, NOOP, NULL, NULL, NULL, NULL},
	{"delete with Retain while paused still releases the object", {m_deleting, m_paused}, A(REMOVE_FINALIZER), NULL, NOOP, NULL, NULL, "Retained", NULL},
	{"delete with Delete waits while paused", {m_deleting, m_delete_policy, m_paused}, A(NONE), NULL, NOOP, NULL, NULL, NULL, NULL},

	/* -- invalid specs the API server did not stop -- */
	{"invalid: primaryRegion not among regions", {m_bad_primary}, A(NONE), NULL, NOOP, "InvalidSpec", "InvalidSpec", "InvalidSpec", NULL},
	{"invalid: duplicate regions", {m_bad_dup_region}, A(NONE), NULL, NOOP, "InvalidSpec", "InvalidSpec", NULL, NULL},
	{"invalid: timeout over period", {m_bad_timeout}, A(NONE), NULL, NOOP, "InvalidSpec", NULL, NULL, NULL},
	{"invalid: two credential sources", {m_bad_both_creds}, A(NONE), NULL, NOOP, "InvalidSpec", NULL, NULL, NULL},
	{"invalid: RDS identifier with two hyphens", {m_bad_cluster_id}, A(NONE), NULL, NOOP, "InvalidSpec", NULL, NULL, NULL},
	{"invalid: a single region", {m_bad_one_region}, A(NONE), NULL, NOOP, "InvalidSpec", NULL, NULL, NULL},
	{"invalid spec holds an operation in flight", {m_bad_primary, m_op_switchover_40s}, A(NONE), NULL, S(SWITCHOVER), "InvalidSpec", NULL, NULL, NULL},
	{"invalid spec on delete removes the finalizer", {m_bad_primary, m_deleting}, A(REMOVE_FINALIZER), NULL, ANY, NULL, NULL, NULL, NULL},
};
/* clang-format on */

static int is_paused_world(void)
{
	return W.obs.paused && strcmp(W.obs.paused, "true") == 0;
}

static const char *cond_reason(const struct gdb_status *st, const char *type, int *status)
{
	const struct gdb_condition *c = gdb_status_condition(st, type);

	*status = c ? (int)c->status : -1;
	return c ? c->reason : NULL;
}

static int non_idempotent(enum gdb_action_kind k)
{
	return k == GDB_ACT_SWITCHOVER || k == GDB_ACT_FAILOVER_MANAGED ||
	       k == GDB_ACT_DETACH_AND_PROMOTE || k == GDB_ACT_FENCE_OLD_WRITER ||
	       k == GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER || k == GDB_ACT_COPY_FAILOVER_SNAPSHOT;
}

static void same_plan(const struct gdb_plan *a, const struct gdb_plan *b)
{
	json_t *ja = gdb_status_encode(&a->status), *jb = gdb_status_encode(&b->status);

	ck_assert_int_eq(a->action.kind, b->action.kind);
	ck_assert_int_eq(a->requeue_after_ms, b->requeue_after_ms);
	ck_assert_int_eq(a->n_events, b->n_events);
	ck_assert_msg(json_equal(ja, jb), "planning twice gave different statuses");
	json_decref(ja);
	json_decref(jb);
}

static void roundtrip(const struct gdb_status *st)
{
	json_t *j = gdb_status_encode(st), *j2;
	struct gdb_status back;
	char err[GDB_ERRLEN];

	ck_assert_msg(gdb_status_decode(j, &back, err, sizeof(err)) == 0, "decode: %s", err);
	j2 = gdb_status_encode(&back);
	ck_assert_msg(json_equal(j, j2), "status does not round-trip");
	json_decref(j);
	json_decref(j2);
	gdb_status_release(&back);
}

START_TEST(test_table)
{
	const struct row *r = &rows[_i];
	struct gdb_plan p, p2;
	int cs;
	const char *reason;

	world_init();
	for (size_t m = 0; m < ARRAY_SIZE(r->mods) && r->mods[m]; m++)
		r->mods[m]();
	gdb_plan(&W.spec, &W.st, &W.obs, &W.h, W.now, &p);

	ck_assert_msg(p.action.kind == (enum gdb_action_kind)r->action,
		      "[%s] action %s, want %s (op step %s, message %s)", r->name,
		      gdb_action_name(p.action.kind), gdb_action_name(r->action),
		      gdb_step_name(p.status.operation.step),
		      p.status.operation.message ? p.status.operation.message : "-");
	if (r->region)
		ck_assert_msg(p.action.region && strcmp(p.action.region, r->region) == 0,
			      "[%s] region %s, want %s", r->name,
			      p.action.region ? p.action.region : "(none)", r->region);
	if (r->step == NOOP)
		ck_assert_msg(p.status.operation.type == GDB_OP_NONE,
			      "[%s] unexpected operation in %s", r->name,
			      gdb_step_name(p.status.operation.step));
	else if (r->step != ANY)
		ck_assert_msg(p.status.operation.step == (enum gdb_step)r->step,
			      "[%s] step %s, want %s", r->name,
			      gdb_step_name(p.status.operation.step), gdb_step_name(r->step));
	reason = cond_reason(&p.status, "Degraded", &cs);
	if (r->degraded && !*r->degraded && !W.obs.deleting)
		ck_assert_msg(cs == GDB_COND_FALSE, "[%s] Degraded is %s (%s)", r->name,
			      reason ? reason : "-",
			      gdb_status_condition(&p.status, "Degraded")->message);
	else if (r->degraded && *r->degraded)
		ck_assert_msg(cs == GDB_COND_TRUE && reason && strcmp(reason, r->degraded) == 0,
			      "[%s] Degraded reason %s, want %s", r->name, reason ? reason : "-",
			      r->degraded);
	if (r->ready) {
		reason = cond_reason(&p.status, "Ready", &cs);
		ck_assert_msg(reason && strcmp(reason, r->ready) == 0,
			      "[%s] Ready reason %s, want %s", r->name, reason ? reason : "-",
			      r->ready);
		ck_assert_int_eq(cs, strcmp(r->ready, "WriterInDesiredRegion") == 0
					     ? GDB_COND_TRUE
					     : GDB_COND_FALSE);
	}
	if (r->event) {
		int found = 0;

		for (size_t i = 0; i < p.n_events; i++)
			found |= strcmp(p.events[i].reason, r->event) == 0;
		ck_assert_msg(found, "[%s] no %s event (%zu events, first %s)", r->name, r->event,
			      p.n_events, p.n_events ? p.events[0].reason : "-");
	}
	if (r->refusal)
		ck_assert_msg(p.refusal && strcmp(p.refusal, r->refusal) == 0,
			      "[%s] refusal %s, want %s", r->name, p.refusal ? p.refusal : "-",
			      r->refusal);

	/* Invariants of every plan. */
	if (p.status.operation.type != GDB_OP_NONE) {
		/* Every operation has a number of its own: a new one takes the next. */
		const struct gdb_operation *in = &W.st.operation;
		int64_t prev = in->id > W.st.last_operation.id ? in->id : W.st.last_operation.id;

		if (in->type == GDB_OP_NONE || p.status.operation.started_ms != in->started_ms)
			ck_assert_int_eq(p.status.operation.id, prev + 1);
		else
			ck_assert_int_eq(p.status.operation.id, in->id);
	}
	ck_assert_int_ge(p.requeue_after_ms, 0);
	ck_assert_int_le(p.requeue_after_ms, GDB_REQUEUE_MAX_MS);
	if (non_idempotent(p.action.kind))
		ck_assert_msg(
			p.status.operation.type != GDB_OP_NONE && p.status.operation.attempts > 0 &&
				p.status.operation.last_call_ms == W.now,
			"[%s] a non-idempotent call must be recorded before it is made", r->name);
	if (p.action.kind > GDB_ACT_WAIT && p.action.kind != GDB_ACT_RECOMMEND_FAILOVER &&
	    p.action.kind != GDB_ACT_REMOVE_FINALIZER)
		ck_assert_msg(p.action.region != NULL, "[%s] an AWS call needs a region", r->name);
	if (W.obs.deleting && W.spec.deletion_policy == GDB_DELETION_RETAIN)
		ck_assert_msg(p.action.kind == GDB_ACT_REMOVE_FINALIZER ||
				      p.action.kind == GDB_ACT_NONE,
			      "[%s] Retain must never call AWS", r->name);
	if (is_paused_world())
		ck_assert_msg(p.action.kind == GDB_ACT_NONE ||
				      p.action.kind == GDB_ACT_REMOVE_FINALIZER,
			      "[%s] paused must not call AWS", r->name);
	gdb_plan(&W.spec, &W.st, &W.obs, &W.h, W.now, &p2);
	same_plan(&p, &p2);
	roundtrip(&p.status);
	gdb_plan_release(&p2);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* ---- details the table does not show ---- */

static void plan_once(struct gdb_plan *p)
{
	gdb_plan(&W.spec, &W.st, &W.obs, &W.h, W.now, p);
}

static int must_not_repeat(enum gdb_action_kind k)
{
	return non_idempotent(k) || k == GDB_ACT_CREATE_GLOBAL_CLUSTER ||
	       k == GDB_ACT_CREATE_SECONDARY_CLUSTER || k == GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER ||
	       k == GDB_ACT_DELETE_INSTANCES;
}

/*
 * The crash point after every step: the status was persisted, the executor
 * died (before or after calling AWS) and a new leader plans a second later
 * from the same observation, knowing nothing of the call. It must not issue
 * the same non-idempotent call again.
 */
static void crash_and_resume(const struct gdb_plan *p)
{
	struct gdb_obs_last_result saved = W.obs.last;
	struct gdb_plan again;

	memset(&W.obs.last, 0, sizeof(W.obs.last));
	gdb_plan(&W.spec, &p->status, &W.obs, &W.h, W.now + 1000, &again);
	if (must_not_repeat(p->action.kind))
		ck_assert_msg(again.action.kind != p->action.kind,
			      "after a crash in step %s, %s was planned again",
			      gdb_step_name(p->status.operation.step),
			      gdb_action_name(p->action.kind));
	gdb_plan_release(&again);
	W.obs.last = saved;
}

/* The executor's side of the loop: persist the new status, report the call's result. */
static void persist(struct gdb_plan *p, enum gdb_call call)
{
	crash_and_resume(p);
	gdb_status_release(&W.st);
	gdb_status_copy(&W.st, &p->status);
	memset(&W.obs.last, 0, sizeof(W.obs.last));
	if (p->action.kind > GDB_ACT_WAIT) {
		W.obs.last.action = p->action.kind;
		W.obs.last.region = WEST;
		W.obs.last.call = call;
		if (p->action.kind == GDB_ACT_UPSERT_DNS)
			W.obs.last.change_id = "/change/C42";
	}
	gdb_plan_release(p);
}

/*
 * One step of a sequence: the planner runs on the world as it now is and must
 * plan want, called in region (any region when NULL). The plan stays in *p for
 * the step's own checks; persist() it then.
 */
static void expect_plan(struct gdb_plan *p, enum gdb_action_kind want, const char *region)
{
	plan_once(p);
	ck_assert_msg(p->action.kind == want, "in step %s: planned %s, want %s",
		      gdb_step_name(p->status.operation.step), gdb_action_name(p->action.kind),
		      gdb_action_name(want));
	if (region)
		ck_assert_msg(p->action.region && !strcmp(p->action.region, region),
			      "%s called in %s, want %s", gdb_action_name(want),
			      p->action.region ? p->action.region : "(none)", region);
}

/* A step with nothing more to check: planned as expected, persisted, the call succeeded. */
static void step(struct gdb_plan *p, enum gdb_action_kind want, const char *region)
{
	expect_plan(p, want, region);
	persist(p, GDB_CALL_OK);
}

static const struct gdb_event *event_of(const struct gdb_plan *p, const char *reason)
{
	for (size_t i = 0; i < p->n_events; i++)
		if (!strcmp(p->events[i].reason, reason))
			return &p->events[i];
	return NULL;
}

/*
 * The demo's 0 s window with a write lost: the secondary held the writer's
 * newest acknowledged heartbeat, so the prober measured lag 0, yet the writer
 * acknowledged client writes after that heartbeat. The window reported is the
 * bound from the evidence, decided with the target and kept to the end.
 */
START_TEST(test_data_loss_window_is_a_bound_not_a_lag_sample)
{
	struct gdb_plan p;
	const struct gdb_event *e;

	world_init();
	m_east_failing();
	m_east_api_down();
	H(WEST)->lag_ms = 0;
	H(WEST)->heartbeat_ms = H(EAST)->heartbeat_ms;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_FAILOVER_MANAGED);
	/* acknowledged at FAIL_END - 2 s, failed at FAIL_END: 2 s, never 0 */
	ck_assert_int_eq(p.status.operation.data_loss_window_seconds, 2);
	ck_assert_int_eq(gdb_status_region(&p.status, WEST)->replication_lag_seconds, 2);
	gdb_status_release(&W.st);
	gdb_status_copy(&W.st, &p.status);
	gdb_plan_release(&p);

	/* The writer moved (a later round, the prober now on the new writer): the window stays. */
	W.st.operation.step = GDB_STEP_WAIT_FAILOVER;
	W.now += 20 * SEC;
	m_writer_west();
	plan_once(&p);
	ck_assert_str_eq(p.status.current_primary_region, WEST);
	ck_assert_int_eq(p.status.operation.data_loss_window_seconds, 2);
	e = event_of(&p, "DataLossWindow");
	ck_assert_msg(e && strstr(e->message, "last 2s"), "DataLossWindow: %s",
		      e ? e->message : "(none)");
	ck_assert_str_eq(p.status.writer_endpoint,
			 "orders-west.cluster-y.us-west-2.rds.amazonaws.com");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/*
 * Critical 1, in the planner: a controller started during the outage has no
 * acknowledged heartbeat of its own and its lag measurement is unknown. The
 * status its predecessor wrote holds when the writer's failures began; with
 * the heartbeat the secondary's own row shows, that bounds the loss.
 */
START_TEST(test_restart_during_outage_bounds_lag_from_the_status)
{
	struct gdb_plan p;
	const struct gdb_region_status *r;

	/* The old controller: one failure seen and recorded, below the threshold. */
	world_init();
	m_east_api_down();
	H(EAST)->writer_healthy = 1;
	H(EAST)->consecutive_failures = 1;
	H(EAST)->heartbeat_ms = FAIL_END - 2 * SEC;
	H(EAST)->failing_since_ms = FAIL_END;
	set_lag(WEST, 2500);
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_NONE);
	r = gdb_status_region(&p.status, EAST);
	ck_assert_int_eq(r->writer_failing_since_ms, FAIL_END);
	ck_assert_int_eq(r->heartbeat_time_ms, FAIL_END - 2 * SEC);
	ck_assert_int_eq(gdb_status_region(&p.status, WEST)->heartbeat_time_ms, FAIL_END - 2500);
	gdb_status_release(&W.st);
	gdb_status_copy(&W.st, &p.status);
	gdb_plan_release(&p);

	/* Killed; its successor starts 40 s later and probes for itself. */
	W.now += 40 * SEC;
	H(EAST)->writer_healthy = 0;
	H(EAST)->consecutive_failures = 3;
	H(EAST)->last_probe_ms = W.now - 1 * SEC;
	H(EAST)->heartbeat_ms = 0;
	H(EAST)->failing_since_ms = W.now - 7 * SEC;
	H(WEST)->lag_ms = -1;
	H(WEST)->last_probe_ms = W.now - 1 * SEC;
	secondaries_silent(EAST); /* a real outage: us-west-2 no longer hears us-east-1 either */
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_FAILOVER_MANAGED);
	ck_assert_str_eq(p.action.region, WEST);
	ck_assert_int_eq(p.status.operation.data_loss_window_seconds, 3);
	ck_assert_int_eq(gdb_status_region(&p.status, EAST)->writer_failing_since_ms, FAIL_END);
	gdb_plan_release(&p);

	/*
	 * Had the secondary since seen a heartbeat written after that recorded
	 * failure, the writer was alive after it: only the successor's own first
	 * failure bounds the loss (32 s here, over the 30 s budget).
	 */
	H(WEST)->heartbeat_ms = FAIL_END + 1 * SEC;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_NONE);
	ck_assert_str_eq(p.refusal, "ReplicationLagOverBudget");
	ck_assert_int_eq(gdb_status_region(&p.status, EAST)->writer_failing_since_ms,
			 W.now - 7 * SEC);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* After several failovers the cluster has several of Aurora's snapshots: copy this failover's. */
START_TEST(test_copy_takes_the_newest_failover_snapshot)
{
	struct gdb_plan p;

	world_init();
	m_after_managed();
	m_east_readded();
	m_op_copy_snapshot();
	R(EAST)->snapshot_ids[0] = "rds:unplanned-global-failover-orders-east-2026-11-27-09-10";
	R(EAST)->snapshot_created_ms[0] = W.now - 120 * SEC;
	R(EAST)->snapshot_ids[1] = "rds:unplanned-global-failover-orders-east-2026-11-27-08-05";
	R(EAST)->snapshot_created_ms[1] =
		W.now - 3600 * SEC; /* an earlier failover's, listed last */
	R(EAST)->n_snapshots = 2;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_COPY_FAILOVER_SNAPSHOT);
	ck_assert_str_eq(p.action.source_snapshot_id,
			 "rds:unplanned-global-failover-orders-east-2026-11-27-09-10");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_what_it_creates_or_adopts_carries_the_owner_tags)
{
	struct gdb_plan p;

	/* The global cluster it creates from the primary. */
	world_init();
	m_status_empty();
	m_no_globals();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_CREATE_GLOBAL_CLUSTER);
	ck_assert_str_eq(p.action.owner, OWNER);
	ck_assert_str_eq(p.action.owner_uid, OWNER_UID);
	gdb_plan_release(&p);
	world_release();

	/* A secondary it creates. */
	world_init();
	m_west_missing();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_CREATE_SECONDARY_CLUSTER);
	ck_assert_str_eq(p.action.owner, OWNER);
	ck_assert_str_eq(p.action.owner_uid, OWNER_UID);
	gdb_plan_release(&p);
	world_release();

	/* An untagged global cluster it adopts: tagged by ARN, and recorded. */
	world_init();
	m_status_empty();
	m_all_untagged();
	m_adopt_untagged();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_TAG_RESOURCE);
	ck_assert_str_eq(p.action.target_arn, GLOBAL_ARN);
	ck_assert_str_eq(p.action.owner, OWNER);
	ck_assert_str_eq(p.action.owner_uid, OWNER_UID);
	ck_assert_str_eq(p.status.global_cluster_identifier, "orders-global");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_a_refused_global_cluster_is_never_recorded)
{
	struct gdb_plan p;

	/* Status never names a global cluster the object may not touch. */
	world_init();
	m_status_empty();
	m_global_foreign();
	plan_once(&p);
	ck_assert_ptr_null(p.status.global_cluster_identifier);
	ck_assert_int_eq(p.action.kind, GDB_ACT_NONE);
	gdb_plan_release(&p);
	world_release();

	world_init();
	m_status_empty();
	m_all_untagged();
	plan_once(&p);
	ck_assert_ptr_null(p.status.global_cluster_identifier);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_restart_stamp_is_stable)
{
	struct gdb_plan p1, p2;

	world_init();
	m_spec_west();
	m_writer_west();
	m_op_restart_sent();
	plan_once(&p1);
	W.now += 45 * SEC;
	plan_once(&p2);
	ck_assert_int_eq(p1.action.kind, GDB_ACT_RESTART_WORKLOADS);
	ck_assert_int_eq(p2.action.kind, GDB_ACT_RESTART_WORKLOADS);
	/* the same restartedAt value: re-applying it does not roll the pods again */
	ck_assert_str_eq(p1.action.restart_stamp, p2.action.restart_stamp);
	gdb_plan_release(&p1);
	gdb_plan_release(&p2);
	world_release();
}
END_TEST

/*
 * Every forceNewDeployment rolls a service again: a retry skips the services
 * this operation already forced, also after a controller restart (status only).
 */
/*
 * The guard's peer completed the operation (it made the Route 53, SSM and ECS
 * calls): this controller forces no ECS service and restarts its own
 * cluster's Deployments; the record ends saying who made the calls.
 */
static int has_event(const struct gdb_plan *p, const char *reason);

START_TEST(test_a_peer_completed_the_tail)
{
	struct gdb_plan p, done;

	world_init();
	m_spec_west();
	m_writer_west();
	m_ecs_two_regions();
	m_op_update_dns();
	m_done_by_peer();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_RESTART_WORKLOADS);
	ck_assert_uint_eq(p.action.ecs_skip, 3); /* both services: the peer forced them */
	ck_assert_uint_eq(p.status.operation.n_restarted_ecs, 0);
	ck_assert(has_event(&p, "RestartingWorkloads"));
	roundtrip(&p.status);

	W.obs.last = (struct gdb_obs_last_result){
		.action = GDB_ACT_RESTART_WORKLOADS, .region = WEST, .call = GDB_CALL_OK};
	gdb_plan(&W.spec, &p.status, &W.obs, &W.h, W.now + SEC, &done);
	ck_assert_int_eq(done.status.operation.type, GDB_OP_NONE);
	ck_assert_int_eq(done.status.last_operation.result, GDB_RESULT_SUCCEEDED);
	ck_assert_str_eq(done.status.last_operation.message,
			 "completed; controller east made its AWS calls");
	gdb_plan_release(&p);
	gdb_plan_release(&done);
	world_release();
}
END_TEST

START_TEST(test_restart_skips_ecs_services_already_forced)
{
	struct gdb_plan p, again;

	world_init();
	m_spec_west();
	m_writer_west();
	m_ecs_two_regions();
	m_op_restart_sent();
	m_last_restart_ecs_throttled();
	W.now += 45 * SEC;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_RESTART_WORKLOADS);
	ck_assert_uint_eq(p.action.ecs_skip, 1); /* us-west-2's, not us-east-1's */
	ck_assert_uint_eq(p.status.operation.n_restarted_ecs, 1);
	ck_assert_str_eq(p.status.operation.restarted_ecs[0], "us-west-2/orders/api");
	roundtrip(&p.status);

	/* A new leader knows only the status: it skips the same service. */
	memset(&W.obs.last, 0, sizeof(W.obs.last));
	gdb_plan(&W.spec, &p.status, &W.obs, &W.h, W.now + 60 * SEC, &again);
	ck_assert_int_eq(again.action.kind, GDB_ACT_RESTART_WORKLOADS);
	ck_assert_uint_eq(again.action.ecs_skip, 1);
	gdb_plan_release(&again);
	gdb_plan_release(&p);
	world_release();

	/* The dead region's service is given up and named in lastOperation. */
	world_init();
	m_east_failing();
	m_east_api_down();
	m_writer_west();
	m_ecs_two_regions();
	m_op_failover_restart_sent();
	m_last_restart_east_ecs_unreachable();
	plan_once(&p);
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FAILOVER);
	ck_assert_int_eq(p.status.last_operation.result, GDB_RESULT_SUCCEEDED);
	ck_assert_ptr_nonnull(strstr(p.status.last_operation.message, "us-east-1/orders/api"));
	ck_assert_uint_eq(p.status.last_operation.n_restarted_ecs, 1);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_fence_keeps_lost_writes_snapshot)
{
	struct gdb_plan p;

	world_init();
	m_after_detach();
	m_east_stale_standalone();
	m_east_no_instances();
	m_op_fence();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_FENCE_OLD_WRITER);
	ck_assert_str_eq(p.action.db_cluster_identifier, "orders-east");
	ck_assert_ptr_nonnull(strstr(p.action.snapshot_id, "orders-east-lost-writes-"));
	ck_assert_str_eq(p.status.operation.lost_writes_snapshot, p.action.snapshot_id);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/*
 * A controller restart: only the persisted status survives (through its JSON
 * encoding); the executor's report on the last call is gone.
 */
static void restart_plan(const struct gdb_status *st, int64_t now, struct gdb_plan *p)
{
	json_t *j = gdb_status_encode(st);
	struct gdb_status back;
	struct gdb_obs_last_result saved = W.obs.last;
	char err[GDB_ERRLEN];

	ck_assert_msg(gdb_status_decode(j, &back, err, sizeof(err)) == 0, "decode: %s", err);
	memset(&W.obs.last, 0, sizeof(W.obs.last));
	gdb_plan(&W.spec, &back, &W.obs, &W.h, now, p);
	W.obs.last = saved;
	gdb_status_release(&back);
	json_decref(j);
}

static int has_event(const struct gdb_plan *p, const char *reason)
{
	for (size_t i = 0; i < p->n_events; i++)
		if (strcmp(p->events[i].reason, reason) == 0)
			return 1;
	return 0;
}

/* One fence call was issued: it is held, also after a restart, until settled. */
static void check_fence_call_held(const struct gdb_plan *issued, enum gdb_action_kind kind)
{
	struct gdb_plan p;

	ck_assert_int_eq(issued->action.kind, kind);
	ck_assert_int_eq(issued->status.operation.attempts, 1);
	ck_assert_int_eq(issued->status.operation.step_started_ms, W.now);
	ck_assert_str_eq(issued->status.operation.last_action, gdb_action_name(kind));
	ck_assert(!has_event(issued, "Retrying"));
	/* a restart anywhere inside the settle window does not call again */
	for (int64_t t = 1 * SEC; t < 30 * SEC; t += 7 * SEC) {
		restart_plan(&issued->status, W.now + t, &p);
		ck_assert_msg(p.action.kind == GDB_ACT_WAIT,
			      "%s re-planned %lld ms after a restart", gdb_action_name(kind),
			      (long long)t);
		gdb_plan_release(&p);
	}
	/* past the settle window with the effect still unseen: the same call, retried */
	restart_plan(&issued->status, W.now + 31 * SEC, &p);
	ck_assert_int_eq(p.action.kind, kind);
	ck_assert_int_eq(p.status.operation.attempts, 2);
	ck_assert(has_event(&p, "Retrying"));
	gdb_plan_release(&p);
}

/*
 * The fence issues three different calls in one step. Each follows the previous
 * one as soon as RDS shows it took effect, with its own attempt count and timer
 * (no settle wait, no "Retrying"), also when a restart came in between; a call
 * whose effect is not yet seen is never issued twice inside the settle window.
 */
START_TEST(test_fence_calls_follow_without_settle_wait)
{
	struct gdb_plan p, r;

	world_init();
	m_after_detach();
	m_op_fence();
	plan_once(&p);
	check_fence_call_held(&p, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER);
	persist(&p, GDB_CALL_OK);

	W.now += 2 * SEC;
	m_east_stale_standalone();
	restart_plan(&W.st, W.now, &r);
	ck_assert_int_eq(r.action.kind, GDB_ACT_DELETE_INSTANCES);
	gdb_plan_release(&r);
	plan_once(&p);
	check_fence_call_held(&p, GDB_ACT_DELETE_INSTANCES);
	persist(&p, GDB_CALL_OK);

	W.now += 2 * SEC;
	m_east_no_instances();
	restart_plan(&W.st, W.now, &r);
	ck_assert_int_eq(r.action.kind, GDB_ACT_FENCE_OLD_WRITER);
	gdb_plan_release(&r);
	plan_once(&p);
	check_fence_call_held(&p, GDB_ACT_FENCE_OLD_WRITER);
	ck_assert_int_eq(p.status.operation.step, GDB_STEP_FENCE_OLD_WRITER);
	persist(&p, GDB_CALL_OK);

	W.now += 2 * SEC;
	m_east_missing();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER);
	ck_assert_int_eq(p.status.operation.attempts, 1);
	ck_assert_str_eq(p.status.operation.last_action, "DeleteOldGlobalCluster");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_generation_names_come_from_status)
{
	struct gdb_plan p;

	world_init();
	m_after_detach();
	m_east_missing();
	m_name_taken();
	m_op_create_global();
	plan_once(&p);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global-3");
	ck_assert_str_eq(p.action.target_arn, WEST_ARN);
	gdb_plan_release(&p);

	/* A fallback after generation 3 creates generation 4, whatever the spec says. */
	world_release();
	world_init();
	m_after_detach();
	gdb_set_str(&W.st.global_cluster_identifier, "orders-global-3");
	W.st.generation = 3;
	G()->identifier = "orders-global-3";
	R(EAST)->global_cluster_identifier = "orders-global-3";
	plan_once(&p);
	ck_assert_str_eq(p.status.operation.global_cluster_identifier, "orders-global-4");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* The seed runbook's world: the base name itself ends in "-1". */
static void m_runbook_names(const char *global)
{
	gdb_set_str(&W.spec.global_cluster_identifier, "demo-global-cluster-1");
	gdb_set_str(&W.st.global_cluster_identifier, global);
	G()->identifier = global;
	R(EAST)->global_cluster_identifier = global;
	if (R(WEST)->global_cluster_identifier)
		R(WEST)->global_cluster_identifier = global;
}

/* Runbook step 8.2: demo-global-cluster-1 is rebuilt as demo-global-cluster-2, not ...-1-2. */
START_TEST(test_generation_names_follow_the_runbook)
{
	struct gdb_plan p;

	world_init();
	m_after_detach();
	m_runbook_names("demo-global-cluster-1");
	plan_once(&p);
	ck_assert_int_eq(p.status.operation.type, GDB_OP_FALLBACK);
	ck_assert_str_eq(p.status.operation.global_cluster_identifier, "demo-global-cluster-2");
	gdb_plan_release(&p);
	world_release();

	/* Someone else holds demo-global-cluster-2: the next free generation is -3. */
	world_init();
	m_after_detach();
	m_east_missing();
	m_runbook_names("demo-global-cluster-1");
	m_name_taken();
	G()->identifier = "demo-global-cluster-2";
	m_op_create_global();
	gdb_set_str(&W.st.operation.global_cluster_identifier, "demo-global-cluster-2");
	plan_once(&p);
	ck_assert_str_eq(p.status.operation.global_cluster_identifier, "demo-global-cluster-3");
	gdb_plan_release(&p);
	world_release();

	/* Adopting demo-global-cluster-2 without a status: generation 2, and the next is -3. */
	world_init();
	m_status_empty();
	gdb_set_str(&W.st.current_primary_region, EAST);
	m_runbook_names("demo-global-cluster-2");
	gdb_set_str(&W.st.global_cluster_identifier, NULL);
	plan_once(&p);
	ck_assert_str_eq(p.status.global_cluster_identifier, "demo-global-cluster-2");
	ck_assert_int_eq(p.status.generation, 2);
	gdb_plan_release(&p);
	world_release();

	world_init();
	m_after_detach();
	m_runbook_names("demo-global-cluster-2");
	W.st.generation = 2;
	plan_once(&p);
	ck_assert_str_eq(p.status.operation.global_cluster_identifier, "demo-global-cluster-3");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/*
 * docs/api.md: a template's engineVersion left empty means the global cluster's. RDS
 * would otherwise take the region's default and refuse the secondary (review finding 9).
 */
START_TEST(test_secondary_takes_the_global_engine_version)
{
	struct gdb_plan p;

	/* Provisioning a missing secondary whose template names no version. */
	world_init();
	m_west_missing();
	G()->engine_version = "15.4";
	free(W.spec.regions[1].template.engine_version);
	W.spec.regions[1].template.engine_version = NULL;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_CREATE_SECONDARY_CLUSTER);
	ck_assert_str_eq(p.action.engine_version, "15.4");
	gdb_plan_release(&p);

	/* A version in the template is the operator's choice and is passed as written. */
	W.spec.regions[1].template.engine_version = xstrdup("15.5");
	plan_once(&p);
	ck_assert_str_eq(p.action.engine_version, "15.5");
	gdb_plan_release(&p);
	world_release();

	/* The fallback's rebuild joins the new generation with that generation's version. */
	world_init();
	m_after_detach();
	m_east_missing();
	m_gen2_global();
	G()->engine_version = "15.4";
	m_op_create_global();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_CREATE_SECONDARY_CLUSTER);
	ck_assert_str_eq(p.action.engine_version, "15.4");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_instance_names_fill_gaps)
{
	struct gdb_plan p;

	world_init();
	R(WEST)->instance_ids[0] = "orders-west-2";
	R(WEST)->instance_ids[1] = NULL;
	R(WEST)->n_instances = 1;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_CREATE_INSTANCE);
	ck_assert_str_eq(p.action.instance_id, "orders-west-1");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* While a secondary hears the writer, the next plan is due when its silence could reach 10 s. */
START_TEST(test_secondary_hears_primary_requeue)
{
	struct gdb_plan p;

	world_init();
	m_east_failing();
	m_east_api_down();
	m_west_hears_east(); /* 0.9 s before a probe that ended 1 s ago */
	plan_once(&p);
	ck_assert_str_eq(p.refusal, "SecondaryHearsPrimary");
	ck_assert_int_eq(p.requeue_after_ms, GDB_PRIMARY_SILENT_MS - 900 - 1000);
	gdb_plan_release(&p);
	world_release();

	world_init();
	m_east_failing();
	m_east_api_down();
	H(WEST)->upstream_age_ms = GDB_PRIMARY_SILENT_MS - 100;
	plan_once(&p);
	ck_assert_str_eq(p.refusal, "SecondaryHearsPrimary");
	ck_assert_int_eq(p.requeue_after_ms, GDB_REQUEUE_FAST_MS);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_refusal_event_only_on_change)
{
	struct gdb_plan p;

	world_init();
	m_east_failing();
	m_east_api_down();
	m_west_lag_40s();
	plan_once(&p);
	ck_assert_uint_eq(p.n_events, 1);
	ck_assert_str_eq(p.events[0].reason, "ReplicationLagOverBudget");
	persist(&p, GDB_CALL_OK);
	W.now += 5 * SEC;
	plan_once(&p);
	ck_assert_uint_eq(p.n_events, 0); /* the same refusal again: no new Event */
	ck_assert_str_eq(gdb_status_condition(&p.status, "Degraded")->reason,
			 "ReplicationLagOverBudget");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* The status row reports news of the lag, not its jitter (the metric has every value). */
START_TEST(test_reported_lag_ignores_jitter)
{
	static const struct {
		int64_t lag_ms, want;
	} seq[] = {
		{500, 1},    /* the first measurement */
		{1500, 1},   /* a second more: jitter */
		{0, 0},	     /* caught up */
		{900, 0},    /* jitter again */
		{2500, 3},   /* two seconds more: news */
		{29000, 29}, /* news */
		{31000, 31}, /* two seconds, under a quarter, but across the 30 s budget */
		{33000, 31}, /* two seconds, under a quarter */
		{-1, -1},    /* unknown */
	};
	struct gdb_plan p;

	world_init();
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		H(WEST)->lag_ms = seq[i].lag_ms;
		plan_once(&p);
		ck_assert_msg(
			gdb_status_region(&p.status, WEST)->replication_lag_seconds == seq[i].want,
			"step %zu: lag %lld ms reported as %lld s, want %lld s", i,
			(long long)seq[i].lag_ms,
			(long long)gdb_status_region(&p.status, WEST)->replication_lag_seconds,
			(long long)seq[i].want);
		persist(&p, GDB_CALL_OK);
		W.now += 5 * SEC;
	}
	world_release();
}
END_TEST

START_TEST(test_condition_transition_time_kept)
{
	struct gdb_plan p;
	int64_t t;

	world_init();
	plan_once(&p);
	t = gdb_status_condition(&p.status, "Ready")->last_transition_ms;
	ck_assert_int_eq(t, W.now);
	persist(&p, GDB_CALL_OK);
	W.now += 60 * SEC;
	plan_once(&p);
	ck_assert_int_eq(gdb_status_condition(&p.status, "Ready")->last_transition_ms, t);
	ck_assert_int_eq(p.status.observed_generation, 1);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* The whole planned switchover, observation by observation. */
START_TEST(test_sequence_switchover)
{
	struct gdb_plan p;

	world_init();
	m_spec_west();
	expect_plan(&p, GDB_ACT_SWITCHOVER, EAST);
	ck_assert_str_eq(p.action.target_arn, WEST_ARN);
	persist(&p, GDB_CALL_OK);

	W.now += 3 * SEC;
	m_global_pending();
	expect_plan(&p, GDB_ACT_WAIT, NULL);
	ck_assert_int_eq(p.status.operation.step, GDB_STEP_WAIT_SWITCHOVER);
	persist(&p, GDB_CALL_OK);

	W.now += 20 * SEC;
	G()->failover_status = NULL;
	m_writer_west();
	expect_plan(&p, GDB_ACT_UPSERT_DNS, NULL);
	ck_assert_str_eq(p.action.writer_endpoint,
			 "orders-west.cluster-y.us-west-2.rds.amazonaws.com");
	persist(&p, GDB_CALL_OK);

	W.now += 1 * SEC;
	W.obs.dns_change_status = "PENDING";
	expect_plan(&p, GDB_ACT_WAIT_DNS_INSYNC, NULL);
	ck_assert_str_eq(p.action.change_id, "/change/C42");
	persist(&p, GDB_CALL_OK);

	W.now += 30 * SEC;
	W.obs.dns_change_status = "INSYNC";
	step(&p, GDB_ACT_PUBLISH_SSM, NULL);

	W.now += 1 * SEC;
	step(&p, GDB_ACT_RESTART_WORKLOADS, NULL);

	W.now += 1 * SEC;
	expect_plan(&p, GDB_ACT_NONE, NULL);
	ck_assert_int_eq(p.status.operation.type, GDB_OP_NONE);
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_SWITCHOVER);
	ck_assert_int_eq(p.status.last_operation.result, GDB_RESULT_SUCCEEDED);
	ck_assert_uint_eq(p.status.last_operation.n_steps, 6);
	ck_assert_str_eq(p.status.last_operation.steps[1].name, "WaitSwitchover");
	ck_assert_int_eq(p.status.last_operation.steps[1].duration_seconds, 20);
	ck_assert_str_eq(p.status.last_operation.steps[3].name, "WaitDnsInsync");
	ck_assert_int_eq(p.status.last_operation.steps[3].duration_seconds, 30);
	ck_assert_int_eq(gdb_status_condition(&p.status, "Ready")->status, GDB_COND_TRUE);
	ck_assert_str_eq(p.status.current_primary_region, WEST);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* Outage -> managed failover refused -> detach -> DNS -> restarts, then the region returns. */
START_TEST(test_sequence_detach_and_fallback)
{
	struct gdb_plan p;

	world_init();
	m_east_failing();
	m_east_api_down();
	expect_plan(&p, GDB_ACT_FAILOVER_MANAGED, WEST);
	persist(&p, GDB_CALL_INVALID_STATE);
	W.obs.last.aws_code = "InvalidParameterCombination"; /* this engine cannot */

	W.now += 1 * SEC;
	expect_plan(&p, GDB_ACT_DETACH_AND_PROMOTE, WEST);
	ck_assert_int_eq(p.status.operation.method, GDB_OPM_DETACH);
	persist(&p, GDB_CALL_OK);

	W.now += 10 * SEC;
	R(WEST)->global_cluster_identifier = NULL;
	set_members(G(), EAST_ARN, NULL, NULL);
	step(&p, GDB_ACT_UPSERT_DNS, NULL);
	W.obs.dns_change_status = "INSYNC";
	step(&p, GDB_ACT_PUBLISH_SSM, NULL);
	step(&p, GDB_ACT_RESTART_WORKLOADS, NULL);
	H(WEST)->writer_healthy = 1;
	H(EAST)->writer_healthy = -1;
	expect_plan(&p, GDB_ACT_NONE, NULL);
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FAILOVER);
	ck_assert_int_eq(p.status.last_operation.method, GDB_OPM_DETACH);
	ck_assert_int_ge(p.status.last_operation.data_loss_window_seconds, 0);
	ck_assert_str_eq(p.status.current_primary_region, WEST);
	ck_assert_int_eq(p.status.last_failover_ms, W.now);
	persist(&p, GDB_CALL_OK);

	/* East answers again, its stale writer still in the old global cluster. */
	W.now += 600 * SEC;
	R(EAST)->api = GDB_CALL_OK;
	expect_plan(&p, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, EAST);
	ck_assert_str_eq(p.status.operation.global_cluster_identifier, "orders-global-2");
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	m_east_stale_standalone();
	step(&p, GDB_ACT_DELETE_INSTANCES, NULL);
	W.now += 31 * SEC;
	m_east_no_instances();
	step(&p, GDB_ACT_FENCE_OLD_WRITER, NULL);
	W.now += 31 * SEC;
	m_east_missing();
	expect_plan(&p, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, NULL);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global");
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	m_old_global_gone();
	expect_plan(&p, GDB_ACT_CREATE_GLOBAL_CLUSTER, NULL);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global-2");
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	m_gen2_global();
	expect_plan(&p, GDB_ACT_CREATE_SECONDARY_CLUSTER, EAST);
	ck_assert_str_eq(p.action.source_region, WEST);
	ck_assert_str_eq(p.status.global_cluster_identifier, "orders-global-2");
	ck_assert_int_eq(p.status.generation, 2);
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	m_east_rebuilt_creating();
	step(&p, GDB_ACT_CREATE_INSTANCE, NULL);
	m_east_rebuilt_connected();
	expect_plan(&p, GDB_ACT_PUBLISH_SSM, NULL);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global-2");
	persist(&p, GDB_CALL_OK);
	plan_once(&p);
	/* Fallback done; the spec still wants us-east-1: switch back, called in us-west-2. */
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FALLBACK);
	ck_assert_int_eq(p.action.kind, GDB_ACT_SWITCHOVER);
	ck_assert_str_eq(p.action.region, WEST);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global-2");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/*
 * Three regions after a detach east -> west, east back: the stale writer is
 * fenced first, but only after its secondary in eu-west-1 has left the old
 * global cluster (AWS refuses to remove a primary that has secondaries); eu
 * is rebuilt into the next generation after east, never before it exists.
 */
START_TEST(test_sequence_three_region_detach_fallback)
{
	struct gdb_region_spec *eu;
	struct gdb_plan p;

	world_init();
	m_after_detach();
	m_three_regions();
	m_spec_eu_first();
	eu = &W.spec.regions[0];
	eu->has_template = 1;
	eu->template.instance_class = xstrdup("db.r6g.large");
	eu->template.instances = 2;

	expect_plan(&p, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, EU);
	ck_assert_str_eq(p.action.target_arn, EU_ARN);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global");
	ck_assert_str_eq(p.status.operation.target_region, EAST);
	persist(&p, GDB_CALL_OK);

	/* The removal is not visible yet: nothing else is called. */
	W.now += 1 * SEC;
	step(&p, GDB_ACT_WAIT, NULL);

	W.now += 31 * SEC;
	m_eu_left_old_global();
	expect_plan(&p, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, EAST);
	ck_assert_str_eq(p.action.target_arn, EAST_ARN);
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	m_east_stale_standalone();
	step(&p, GDB_ACT_DELETE_INSTANCES, EAST);
	W.now += 31 * SEC;
	m_east_no_instances();
	step(&p, GDB_ACT_FENCE_OLD_WRITER, EAST);
	W.now += 31 * SEC;
	m_east_missing();
	step(&p, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, NULL);
	W.now += 31 * SEC;
	m_old_global_gone();
	step(&p, GDB_ACT_CREATE_GLOBAL_CLUSTER, NULL);
	W.now += 31 * SEC;
	m_gen2_global();
	step(&p, GDB_ACT_CREATE_SECONDARY_CLUSTER, EAST);
	W.now += 31 * SEC;
	m_east_rebuilt_connected();
	plan_once(&p);
	/* East is connected; eu's standalone copy of the old timeline is rebuilt next. */
	ck_assert_int_eq(p.action.kind, GDB_ACT_DELETE_INSTANCES);
	ck_assert_str_eq(p.action.region, EU);
	ck_assert_str_eq(p.status.operation.target_region, EU);
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	R(EU)->n_instances = 0;
	expect_plan(&p, GDB_ACT_FENCE_OLD_WRITER, EU);
	/* Its final snapshot keeps its copy; the lost writes are the stale writer's. */
	ck_assert_int_eq(strncmp(p.action.snapshot_id, "orders-eu-lost-writes-", 22), 0);
	ck_assert_int_eq(strncmp(p.status.operation.lost_writes_snapshot, "orders-east-", 12), 0);
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	R(EU)->cluster_exists = 0;
	expect_plan(&p, GDB_ACT_CREATE_SECONDARY_CLUSTER, EU);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global-2");
	persist(&p, GDB_CALL_OK);
	W.now += 31 * SEC;
	R(EU)->cluster_exists = 1;
	R(EU)->n_instances = 2;
	R(EU)->global_cluster_identifier = "orders-global-2";
	G()->members[G()->n_members].db_cluster_arn = EU_ARN;
	G()->members[G()->n_members++].synchronization_status = "connected";
	step(&p, GDB_ACT_PUBLISH_SSM, NULL);
	plan_once(&p);
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FALLBACK);
	ck_assert_int_eq(p.status.last_operation.result, GDB_RESULT_SUCCEEDED);
	ck_assert_int_eq(p.action.kind, GDB_ACT_SWITCHOVER);
	ck_assert_str_eq(p.action.global_cluster_identifier, "orders-global-2");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

static enum gdb_role role_of(struct gdb_plan *p, const char *region)
{
	struct gdb_region_status *r = gdb_status_region(&p->status, region);

	ck_assert_ptr_nonnull(r);
	return r->role;
}

START_TEST(test_region_roles)
{
	struct gdb_plan p;

	world_init();
	plan_once(&p);
	ck_assert_int_eq(role_of(&p, EAST), GDB_ROLE_PRIMARY);
	ck_assert_int_eq(role_of(&p, WEST), GDB_ROLE_SECONDARY);
	ck_assert_str_eq(gdb_status_region(&p.status, WEST)->synchronization_status, "connected");
	ck_assert_int_eq(gdb_status_region(&p.status, WEST)->replication_lag_seconds, 1);
	ck_assert_int_eq(gdb_status_region(&p.status, EAST)->writer_healthy, 1);
	ck_assert_int_eq(p.status.max_replication_lag_seconds, 1);
	ck_assert_uint_eq(p.status.n_reader_endpoints, 2);
	ck_assert_str_eq(p.status.global_writer_endpoint,
			 "orders-global.global-abc.global.rds.amazonaws.com");
	gdb_plan_release(&p);
	world_release();

	world_init();
	m_after_detach();
	m_east_api_down();
	plan_once(&p);
	ck_assert_int_eq(role_of(&p, WEST), GDB_ROLE_PRIMARY);
	ck_assert_int_eq(role_of(&p, EAST), GDB_ROLE_LOST);
	gdb_plan_release(&p);
	R(EAST)->api = GDB_CALL_OK;
	plan_once(&p); /* east is back, still in the old global cluster: stale */
	ck_assert_int_eq(role_of(&p, EAST), GDB_ROLE_REBUILDING);
	gdb_plan_release(&p);
	world_release();

	world_init();
	m_west_standalone();
	plan_once(&p);
	ck_assert_int_eq(role_of(&p, WEST), GDB_ROLE_DETACHED);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* Outage -> managed failover -> DNS -> restarts; Aurora re-adds the region; snapshot kept; back. */
START_TEST(test_sequence_managed_failover_and_fallback)
{
	struct gdb_plan p;

	world_init();
	m_east_failing();
	m_east_api_down();
	expect_plan(&p, GDB_ACT_FAILOVER_MANAGED, NULL);
	ck_assert_str_eq(p.action.target_arn, WEST_ARN);
	persist(&p, GDB_CALL_OK);

	W.now += 5 * SEC;
	m_global_failing_over();
	expect_plan(&p, GDB_ACT_WAIT, NULL);
	ck_assert_int_eq(p.status.operation.step, GDB_STEP_WAIT_FAILOVER);
	persist(&p, GDB_CALL_OK);

	W.now += 60 * SEC;
	G()->failover_status = NULL;
	m_writer_west();
	H(EAST)->writer_healthy = 0; /* the prober still cannot reach the old writer */
	expect_plan(&p, GDB_ACT_UPSERT_DNS, NULL);
	ck_assert_int_eq(role_of(&p, EAST), GDB_ROLE_LOST);
	persist(&p, GDB_CALL_OK);
	W.obs.dns_change_status = "INSYNC";
	W.now += 20 * SEC;
	plan_once(&p);
	persist(&p, GDB_CALL_OK); /* PublishSsm */
	step(&p, GDB_ACT_RESTART_WORKLOADS, NULL);
	plan_once(&p);
	/* The failover is done; the fallback starts and waits for the region. */
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FAILOVER);
	ck_assert_int_eq(p.status.last_operation.method, GDB_OPM_MANAGED);
	ck_assert_int_eq(p.status.operation.type, GDB_OP_FALLBACK);
	ck_assert_int_eq(p.status.operation.step, GDB_STEP_WAIT_READDED);
	ck_assert_int_eq(gdb_status_condition(&p.status, "Ready")->status, GDB_COND_FALSE);
	/* The region's return is looked for every 10 s, not at the steady 30 s. */
	ck_assert_int_le(p.requeue_after_ms, GDB_REQUEUE_WAIT_MS);
	persist(&p, GDB_CALL_OK);

	/* An hour later us-east-1 is back and Aurora re-adds it. */
	W.now += 3600 * SEC;
	R(EAST)->api = GDB_CALL_OK;
	H(EAST)->writer_healthy = -1;
	H(EAST)->consecutive_failures = 0;
	G()->members[1].synchronization_status = "pending-resync";
	step(&p, GDB_ACT_WAIT, NULL);
	W.now += 600 * SEC;
	m_east_readded();
	m_east_aurora_snapshot();
	expect_plan(&p, GDB_ACT_COPY_FAILOVER_SNAPSHOT, NULL);
	ck_assert_str_eq(p.action.source_snapshot_id,
			 "rds:unplanned-global-failover-orders-east-2026-11-27-03-50");
	ck_assert_str_eq(p.action.region, EAST);
	persist(&p, GDB_CALL_OK);
	W.now += 40 * SEC;
	R(EAST)->snapshot_ids[1] = W.st.operation.lost_writes_snapshot;
	R(EAST)->n_snapshots = 2;
	plan_once(&p);
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FALLBACK);
	ck_assert_ptr_nonnull(p.status.last_operation.lost_writes_snapshot);
	/* The spec still wants us-east-1: switch back, called in the writer's region. */
	ck_assert_int_eq(p.action.kind, GDB_ACT_SWITCHOVER);
	ck_assert_str_eq(p.action.region, WEST);
	ck_assert_str_eq(p.action.target_arn, EAST_ARN);
	persist(&p, GDB_CALL_OK);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/*
 * A failover step that waited before its first call (the target was not
 * visible for a minute) still holds that call for the settle window: 2 s
 * later, with no FailoverState visible yet, nothing is issued again, also
 * after a restart; 31 s after the call it is.
 */
START_TEST(test_first_call_after_a_wait_gets_the_settle_window)
{
	struct gdb_plan p, r;

	world_init();
	m_east_failing();
	m_east_api_down();
	op(GDB_OP_FAILOVER, GDB_OPM_MANAGED, GDB_STEP_FAILOVER_MANAGED, EAST, WEST, 0, 60 * SEC);
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_FAILOVER_MANAGED);
	persist(&p, GDB_CALL_OK);

	W.now += 2 * SEC;
	plan_once(&p);
	ck_assert_msg(p.action.kind == GDB_ACT_WAIT, "%s issued again 2 s after the first call",
		      gdb_action_name(p.action.kind));
	ck_assert(!has_event(&p, "Retrying"));
	gdb_plan_release(&p);
	restart_plan(&W.st, W.now + 10 * SEC, &r);
	ck_assert_msg(r.action.kind == GDB_ACT_WAIT, "%s issued again after a restart",
		      gdb_action_name(r.action.kind));
	gdb_plan_release(&r);

	restart_plan(&W.st, W.now + 29 * SEC, &r);
	ck_assert_int_eq(r.action.kind, GDB_ACT_FAILOVER_MANAGED);
	ck_assert(has_event(&r, "Retrying"));
	gdb_plan_release(&r);
	world_release();
}
END_TEST

/*
 * Three regions; us-east-1 dies and us-west-2 is detached. Its RDS API then
 * throttles every Describe for minutes (everyone fails over into it). The
 * planner must never pick eu-west-1 as well, and must not remove us-west-2
 * twice; once us-west-2 answers again, standalone, DNS moves there.
 */
START_TEST(test_throttled_target_after_detach_is_never_replaced)
{
	struct gdb_plan p;
	int detaches = 0;

	world_init();
	m_three_regions();
	m_method_detach();
	m_east_failing();
	m_east_api_down();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_DETACH_AND_PROMOTE);
	ck_assert_str_eq(p.action.region, WEST);
	persist(&p, GDB_CALL_TIMEOUT); /* applied, but the answer never came */

	m_west_api_throttled();
	for (int i = 0; i < 60; i++) {
		W.now += 3 * SEC;
		if (i == 20)
			m_west_left_global(); /* eu-west-1 sees us-west-2 leave */
		plan_once(&p);
		ck_assert_msg(p.action.kind != GDB_ACT_DETACH_AND_PROMOTE &&
				      p.action.kind != GDB_ACT_FAILOVER_MANAGED,
			      "round %d: %s in %s after the detach of us-west-2", i,
			      gdb_action_name(p.action.kind), p.action.region);
		ck_assert_str_eq(p.status.operation.target_region, WEST);
		detaches += has_event(&p, "FailoverRetargeted");
		persist(&p, GDB_CALL_OK);
	}
	ck_assert_int_eq(detaches, 0);

	W.now += 3 * SEC;
	R(WEST)->api = GDB_CALL_OK;
	R(WEST)->global_cluster_identifier = NULL;
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_UPSERT_DNS);
	ck_assert_str_eq(p.status.current_primary_region, WEST);
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* The managed failover won while the operation was detaching: it counts as managed. */
START_TEST(test_managed_failover_won_at_detach_counts_as_managed)
{
	struct gdb_plan p;

	world_init();
	m_east_failing();
	m_east_api_down();
	m_op_detach_40s();
	m_writer_west();
	plan_once(&p);
	ck_assert_int_eq(p.action.kind, GDB_ACT_UPSERT_DNS);
	ck_assert_int_eq(p.status.operation.method, GDB_OPM_MANAGED);
	ck_assert(has_event(&p, "DetachSkipped"));
	gdb_plan_release(&p);
	world_release();
}
END_TEST

/* A writer someone moved to eu-west-1: the failover is Cancelled, the tail follows eu-west-1. */
START_TEST(test_writer_moved_externally_cancels_and_follows)
{
	struct gdb_plan p;

	world_init();
	m_three_regions();
	m_east_failing();
	m_east_api_down();
	m_op_wait_failover_60s();
	m_writer_eu();
	plan_once(&p);
	ck_assert_int_eq(p.status.last_operation.type, GDB_OP_FAILOVER);
	ck_assert_int_eq(p.status.last_operation.result, GDB_RESULT_CANCELLED);
	ck_assert_str_eq(p.status.last_operation.target_region, WEST);
	ck_assert_int_eq(p.status.operation.type, GDB_OP_FAILOVER);
	ck_assert_str_eq(p.status.operation.target_region, EU);
	ck_assert_str_eq(p.status.current_primary_region, EU);
	ck_assert_int_eq(p.action.kind, GDB_ACT_UPSERT_DNS);
	ck_assert_str_eq(p.action.writer_endpoint,
			 "orders-eu.cluster-z.eu-west-1.rds.amazonaws.com");
	gdb_plan_release(&p);
	world_release();
}
END_TEST

START_TEST(test_arn_parsing)
{
	char r[32], id[80];

	ck_assert_int_eq(gdb_parse_cluster_arn(EAST_ARN, r, sizeof(r), id, sizeof(id)), 0);
	ck_assert_str_eq(r, EAST);
	ck_assert_str_eq(id, "orders-east");
	ck_assert_int_eq(gdb_parse_cluster_arn("arn:aws-cn:rds:cn-north-1:1:cluster:x", r,
					       sizeof(r), id, sizeof(id)),
			 0);
	ck_assert_int_lt(
		gdb_parse_cluster_arn("arn:aws:rds:us-east-1:1:db:x", r, sizeof(r), id, sizeof(id)),
		0);
	ck_assert_int_lt(gdb_parse_cluster_arn("orders-east", r, sizeof(r), id, sizeof(id)), 0);
	ck_assert_int_lt(gdb_parse_cluster_arn(NULL, r, sizeof(r), id, sizeof(id)), 0);
	ck_assert_int_lt(
		gdb_parse_cluster_arn("arn:aws:rds::1:cluster:x", r, sizeof(r), id, sizeof(id)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("planner");
	TCase *tc = tcase_create("table");
	TCase *seq = tcase_create("details");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_table, 0, (int)ARRAY_SIZE(rows));
	tcase_set_timeout(tc, 30);
	tcase_add_test(seq, test_data_loss_window_is_a_bound_not_a_lag_sample);
	tcase_add_test(seq, test_restart_during_outage_bounds_lag_from_the_status);
	tcase_add_test(seq, test_copy_takes_the_newest_failover_snapshot);
	tcase_add_test(seq, test_what_it_creates_or_adopts_carries_the_owner_tags);
	tcase_add_test(seq, test_a_refused_global_cluster_is_never_recorded);
	tcase_add_test(seq, test_restart_stamp_is_stable);
	tcase_add_test(seq, test_restart_skips_ecs_services_already_forced);
	tcase_add_test(seq, test_a_peer_completed_the_tail);
	tcase_add_test(seq, test_fence_keeps_lost_writes_snapshot);
	tcase_add_test(seq, test_generation_names_come_from_status);
	tcase_add_test(seq, test_generation_names_follow_the_runbook);
	tcase_add_test(seq, test_secondary_takes_the_global_engine_version);
	tcase_add_test(seq, test_instance_names_fill_gaps);
	tcase_add_test(seq, test_fence_calls_follow_without_settle_wait);
	tcase_add_test(seq, test_secondary_hears_primary_requeue);
	tcase_add_test(seq, test_refusal_event_only_on_change);
	tcase_add_test(seq, test_condition_transition_time_kept);
	tcase_add_test(seq, test_reported_lag_ignores_jitter);
	tcase_add_test(seq, test_sequence_switchover);
	tcase_add_test(seq, test_sequence_detach_and_fallback);
	tcase_add_test(seq, test_sequence_three_region_detach_fallback);
	tcase_add_test(seq, test_arn_parsing);
	tcase_add_test(seq, test_managed_failover_won_at_detach_counts_as_managed);
	tcase_add_test(seq, test_writer_moved_externally_cancels_and_follows);
	tcase_add_test(seq, test_first_call_after_a_wait_gets_the_settle_window);
	tcase_add_test(seq, test_throttled_target_after_detach_is_never_replaced);
	tcase_add_test(seq, test_region_roles);
	tcase_add_test(seq, test_sequence_managed_failover_and_fallback);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, seq);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
