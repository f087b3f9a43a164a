/*
 * pkg/globaldb/reconciler.h: the reconciler's rules for writing the status
 * (status_write.c), through reconciler_int.h. A whole reconcile, with the
 * informer, the workqueue and the apiserver, is in test_controller.c.
 *
 * - status_diff: probe times alone are not worth a status write per object per
 *   reconcile, but any other change always is;
 * - first_status_waits: a new object's first status waits (bounded) for its
 *   probes' first verdicts, so it is not written "not probed yet" and again a
 *   moment later; never when the plan calls AWS (the write-ahead record is due);
 * - informer_behind: a reconcile does not plan on the status its own last write
 *   replaced.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/reconciler_int.h"
#include "pkg/globaldb/types.h"
#include "tests/check_main.h"

/* ---- status_diff ---- */

/* An encoded status of two regions; each %s/%d is a field the tests vary. */
static json_t *status_json(const char *probe_time, int heartbeat_seq, double lag,
			   const char *west_role, const char *ready)
{
	json_error_t e;
	json_t *j = json_pack_ex(
		&e, 0,
		"{s:s, s:f, s:[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:f, s:I}],"
		" s:[{s:s, s:s, s:s}]}",
		"currentPrimaryRegion", "us-east-1", "maxReplicationLagSeconds", lag, "regions",
		"name", "us-east-1", "role", "Primary", "lastProbeTime", probe_time, "heartbeatSeq",
		heartbeat_seq, "name", "us-west-2", "role", west_role, "lastProbeTime", probe_time,
		"replicationLagSeconds", lag, "heartbeatSeq", (json_int_t)heartbeat_seq,
		"conditions", "type", "Ready", "status", ready, "reason", "Available");

	ck_assert_msg(j != NULL, "%s", e.text);
	return j;
}

START_TEST(a_status_that_only_moved_its_probe_times_is_told_apart)
{
	json_t *base = status_json("2026-01-01T00:00:00Z", 7, 0.4, "Secondary", "True");
	json_t *same = status_json("2026-01-01T00:00:00Z", 7, 0.4, "Secondary", "True");
	json_t *later = status_json("2026-01-01T00:00:05Z", 8, 0.4, "Secondary", "True");
	json_t *lag = status_json("2026-01-01T00:00:05Z", 8, 1.9, "Secondary", "True");
	json_t *role = status_json("2026-01-01T00:00:05Z", 8, 0.4, "Primary", "True");
	json_t *ready = status_json("2026-01-01T00:00:00Z", 7, 0.4, "Secondary", "False");

	ck_assert_int_eq(status_diff(base, same), STATUS_SAME);
	ck_assert_int_eq(status_diff(base, later), STATUS_PROBE_TIMES);
	ck_assert_int_eq(status_diff(base, lag), STATUS_PROBES);
	/* A region's role or a condition changed: always a change, whatever the probes did. */
	ck_assert_int_eq(status_diff(base, role), STATUS_CHANGED);
	ck_assert_int_eq(status_diff(base, ready), STATUS_CHANGED);
	ck_assert_int_eq(status_diff(later, base), STATUS_PROBE_TIMES); /* symmetric */
	json_decref(base);
	json_decref(same);
	json_decref(later);
	json_decref(lag);
	json_decref(role);
	json_decref(ready);
}
END_TEST

START_TEST(a_region_added_or_removed_is_a_change)
{
	json_t *two = status_json("2026-01-01T00:00:00Z", 7, 0.4, "Secondary", "True");
	json_t *one = json_deep_copy(two);

	json_array_remove(json_object_get(one, "regions"), 1);
	ck_assert_int_eq(status_diff(two, one), STATUS_CHANGED);
	ck_assert_int_eq(status_diff(one, two), STATUS_CHANGED);
	json_decref(one);
	json_decref(two);
}
END_TEST

/* ---- first_status_waits ---- */

static struct gdb_spec spec;
static struct gdb_status old;
static struct gdb_plan plan;
static struct gdb_health health;
static struct key_state state;

static void setup(void)
{
	const char *js = "{\"globalClusterIdentifier\":\"orders-global\","
			 "\"primaryRegion\":\"us-east-1\",\"regions\":["
			 "{\"name\":\"us-east-1\",\"dbClusterIdentifier\":\"orders-east\"},"
			 "{\"name\":\"us-west-2\",\"dbClusterIdentifier\":\"orders-west\"}],"
			 "\"healthCheck\":{\"credentialsSecretRef\":{\"name\":\"pg\"},"
			 "\"periodSeconds\":5,\"timeoutSeconds\":3,\"failureThreshold\":3}}";
	json_t *j = json_loads(js, 0, NULL);
	char err[256];

	ck_assert_ptr_nonnull(j);
	ck_assert_msg(gdb_spec_decode(j, &spec, err, sizeof(err)) == 0, "%s", err);
	json_decref(j);
	memset(&old, 0, sizeof(old));
	memset(&plan, 0, sizeof(plan));
	memset(&state, 0, sizeof(state));
	/* A new object: never had a status; the plan reports the primary and calls nothing. */
	plan.status.current_primary_region = xstrdup("us-east-1");
	plan.action.kind = GDB_ACT_NONE;
	/* Nothing probed yet. */
	memset(&health, 0, sizeof(health));
	health.n_regions = 2;
	health.regions[0] = (struct gdb_health_region){
		.name = "us-east-1", .writer_healthy = -1, .reader_healthy = -1, .lag_ms = -1};
	health.regions[1] = (struct gdb_health_region){
		.name = "us-west-2", .writer_healthy = -1, .reader_healthy = -1, .lag_ms = -1};
}

static void teardown(void)
{
	free(plan.status.current_primary_region);
	gdb_spec_release(&spec);
	for (size_t i = 0; i < sizeof(state.replaced_rv) / sizeof(*state.replaced_rv); i++)
		free(state.replaced_rv[i]);
}

/* (failureThreshold x period + timeout) s: the time a writer has to be judged. */
#define BUDGET_MS ((3 * 5 + 3) * 1000)

START_TEST(a_new_objects_first_status_waits_for_the_first_verdicts)
{
	int64_t wait_ms = -1;

	ck_assert(first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	ck_assert_int_gt(wait_ms, 0);
	ck_assert_int_le(wait_ms, BUDGET_MS);
	/* The writer's verdict came, but the secondary has none: still waiting. */
	health.regions[0].writer_healthy = 1;
	ck_assert(first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	/* The secondary's reader answers but no lag is measured yet: still waiting. */
	health.regions[1].reader_healthy = 1;
	ck_assert(first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	/* Every region judged: the status is written now. */
	health.regions[1].lag_ms = 300;
	ck_assert(!first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
}
END_TEST

START_TEST(a_down_secondary_does_not_hold_the_first_status)
{
	int64_t wait_ms = -1;

	health.regions[0].writer_healthy = 1;
	health.regions[1].reader_healthy = 0; /* a verdict, if a bad one */
	ck_assert(!first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
}
END_TEST

START_TEST(the_first_status_waits_no_longer_than_a_writer_takes_to_be_judged)
{
	int64_t wait_ms = -1;

	ck_assert(first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	/* As if the wait had begun a whole budget ago: the status is written, unprobed. */
	state.first_status_wait_mono = base_now_mono_ms() - BUDGET_MS;
	ck_assert(!first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	state.first_status_wait_mono = base_now_mono_ms() - BUDGET_MS + 2000;
	ck_assert(first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	ck_assert_int_le(wait_ms, 2000);
}
END_TEST

START_TEST(a_plan_that_calls_aws_never_waits_for_the_first_status)
{
	int64_t wait_ms = -1;

	/* The status is the write-ahead record of the call: it must be persisted first. */
	plan.action.kind = GDB_ACT_CREATE_SECONDARY_CLUSTER;
	ck_assert(!first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	plan.action.kind = GDB_ACT_NONE;
	/* Not a new object: its status already exists and is kept current. */
	old.observed_generation = 1;
	ck_assert(!first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	old.observed_generation = 0;
	/* No primary known (nothing found in AWS): nothing a verdict would change. */
	free(plan.status.current_primary_region);
	plan.status.current_primary_region = NULL;
	ck_assert(!first_status_waits(&state, &spec, &old, &plan, &health, &wait_ms));
	ck_assert_int_eq(wait_ms, -1);
}
END_TEST

/* ---- informer_behind ---- */

static json_t *object_at(const char *rv)
{
	return json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", "db", "name", "orders",
			 "resourceVersion", rv);
}

START_TEST(a_reconcile_waits_while_the_informer_holds_the_version_it_replaced)
{
	json_t *v41 = object_at("41"), *v42 = object_at("42");

	/* Our last write replaced version 41. */
	state.replaced_rv[0] = xstrdup("41");
	ck_assert(informer_behind(&state, v41));
	ck_assert(informer_behind(&state, v41)); /* until the informer moves on */
	/* The watch delivered our write (42): plan on it, and forget 41. */
	ck_assert(!informer_behind(&state, v42));
	ck_assert_ptr_null(state.replaced_rv[0]);
	ck_assert(!informer_behind(&state, v41));
	json_decref(v41);
	json_decref(v42);
}
END_TEST

START_TEST(with_no_write_of_ours_the_informer_is_never_behind)
{
	json_t *v = object_at("7"), *no_rv = json_pack("{s:{}}", "metadata");

	ck_assert(!informer_behind(&state, v));
	state.replaced_rv[0] = xstrdup("7");
	ck_assert(!informer_behind(&state, no_rv)); /* an object without a version */
	json_decref(v);
	json_decref(no_rv);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("globaldb_status_write", 20, setup, teardown,
		       a_status_that_only_moved_its_probe_times_is_told_apart,
		       a_region_added_or_removed_is_a_change,
		       a_new_objects_first_status_waits_for_the_first_verdicts,
		       a_down_secondary_does_not_hold_the_first_status,
		       the_first_status_waits_no_longer_than_a_writer_takes_to_be_judged,
		       a_plan_that_calls_aws_never_waits_for_the_first_status,
		       a_reconcile_waits_while_the_informer_holds_the_version_it_replaced,
		       with_no_write_of_ours_the_informer_is_never_behind)
