/*
 * The two-controller guard's rounds (pkg/globaldb/guard_io.h) against moto's
 * DynamoDB: two controllers, "b" in us-west-2 and "c" in ap-south-1, share a
 * table that exists only in eu-west-1, the second of their guard regions
 * (the first, us-east-2, has no table: every round skips it, as it would
 * skip a lost region). What a user relies on: an operation is acted on by
 * one controller; a detach waits for the other's co-signature; a peer that
 * reaches the primary vetoes a managed failover; a holder that stops
 * renewing is replaced on the same target, and finds out; a completed
 * operation's later calls are not made again by the other; no answer from any
 * region means no call.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/timeutil.h"
#include "pkg/globaldb/guard_io.h"
#include "tests/aws/moto_suite.h"

static const char *const regions[] = {"us-east-2", REGION};
static struct gdb_guard *b, *c;
static int64_t call_timeout_ms = 1000;

static struct gdb_guard *guard(const char *id, const char *region, int64_t lease_ms)
{
	struct gdb_guard_config cfg = {
		.table = "guard",
		.regions = regions,
		.n_regions = 2,
		.controller_id = id,
		.region = region,
		.lease_ms = lease_ms,
		.margin_ms = lease_ms / 2,
	};
	struct gdb_guard *g = gdb_guard_new(client, &cfg);

	ck_assert_ptr_nonnull(g);
	return g;
}

static void setup(void)
{
	moto_setup();
	moto_admin(&moto, "/moto-api/reset");
	json_ok(&aws_svc_dynamodb, "CreateTable",
		"{\"TableName\":\"guard\",\"BillingMode\":\"PAY_PER_REQUEST\","
		"\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
		"\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}]}");
	b = guard("b", "us-west-2", 0);
	c = guard("c", "ap-south-1", 0);
}

static void teardown(void)
{
	gdb_guard_free(b);
	gdb_guard_free(c);
	moto_teardown();
}

static struct gdb_guard_round run(struct gdb_guard *g, enum gdb_guard_op op, const char *target,
				  int promote, enum gdb_guard_seen mine)
{
	struct gdb_guard_round r = {
		.key = "team-a/orders",
		.mine = mine,
		.intent = {op, op ? "us-east-1" : NULL, target, promote, call_timeout_ms},
		.freshness_ms = 60000,
	};

	gdb_guard_run(g, &r);
	return r;
}

/* A later call of a switchover to target (the tail), with my record's completed operation. */
static struct gdb_guard_round tail(struct gdb_guard *g, const char *target, enum gdb_guard_op done,
				   const char *done_target)
{
	struct gdb_guard_round r = {
		.key = "team-a/orders",
		.intent = {.op = GDB_GUARD_OP_SWITCHOVER,
			   .source = "us-east-1",
			   .target = target,
			   .call_timeout_ms = call_timeout_ms,
			   .tail = 1},
		.done = {.op = done, .source = "us-east-1", .target = done_target},
		.freshness_ms = 60000,
	};

	gdb_guard_run(g, &r);
	return r;
}

#define SW GDB_GUARD_OP_SWITCHOVER
#define MAN GDB_GUARD_OP_FAILOVER_MANAGED
#define DET GDB_GUARD_OP_DETACH

static void expect(const struct gdb_guard_round *r, int allow, const char *reason,
		   const char *event)
{
	ck_assert_msg(r->allow == allow && strcmp(r->reason, reason) == 0,
		      "allow %d reason %s (%s), want %d %s", r->allow, r->reason, r->message, allow,
		      reason);
	if (event)
		ck_assert_msg(r->event_reason && strcmp(r->event_reason, event) == 0,
			      "event %s, want %s", r->event_reason ? r->event_reason : "(none)",
			      event);
}

START_TEST(test_a_switchover_is_acted_on_by_one_controller)
{
	struct gdb_guard_round r;

	r = run(b, SW, "us-west-2", 1, GDB_GUARD_UNKNOWN);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
	r = run(c, SW, "us-west-2", 1, GDB_GUARD_UNKNOWN);
	expect(&r, 0, "HeldByPeer", "HeldByPeer");
	ck_assert_int_eq(r.held_back, 1);
	/* The holder renews at every call; the later calls of its operation need no promotion. */
	r = run(b, SW, "us-west-2", 0, GDB_GUARD_UNKNOWN);
	expect(&r, 1, "LeaseHeld", NULL);
	ck_assert_ptr_null(r.event_reason);
	/* Done: the holder clears the operation, and the other may start the next one. */
	r = run(b, GDB_GUARD_OP_NONE, NULL, 0, GDB_GUARD_UNKNOWN);
	expect(&r, 0, "LeaseReleased", "LeaseReleased");
	r = run(c, SW, "ap-south-1", 1, GDB_GUARD_UNKNOWN);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
}
END_TEST

START_TEST(test_a_detach_waits_for_the_co_signature_of_another_region)
{
	struct gdb_guard_round r;

	/* c registers itself and publishes its view first. */
	r = run(c, GDB_GUARD_OP_NONE, NULL, 0, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "NoOperation", NULL);
	r = run(b, DET, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "AwaitingCorroboration", "AwaitingCorroboration");
	r = run(b, DET, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "AwaitingCorroboration", NULL);
	r = run(c, DET, "ap-south-1", 1, GDB_GUARD_UNREACHABLE);
	ck_assert_int_eq(r.decision.verb, GDB_GUARD_COSIGN);
	ck_assert_str_eq(r.event_reason, "CoSigned");
	ck_assert_int_eq(r.allow, 0);
	r = run(b, DET, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 1, "LeaseHeld", NULL);
}
END_TEST

/* A detach of b's with the operator's approval dated approved_ms. */
static struct gdb_guard_round approved_detach(int64_t approved_ms)
{
	struct gdb_guard_round r = {
		.key = "team-a/orders",
		.mine = GDB_GUARD_UNREACHABLE,
		.intent = {DET, "us-east-1", "us-west-2", 1, call_timeout_ms},
		.freshness_ms = 60000,
		.approved_ms = approved_ms,
	};

	gdb_guard_run(b, &r);
	return r;
}

START_TEST(test_the_operators_approval_stands_in_for_a_co_signature)
{
	struct gdb_guard_round r;
	int64_t last_month = base_now_real_ms() - 30LL * 24 * 3600 * 1000;

	/* No other controller runs: nobody can co-sign. */
	r = run(b, DET, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "AwaitingCorroboration", "AwaitingCorroboration");
	/* An approval from before this detach approves nothing. */
	r = approved_detach(last_month);
	expect(&r, 0, "AwaitingCorroboration", NULL);
	/* One given now is recorded for this epoch, and the detach goes ahead in the same round. */
	r = approved_detach(base_now_real_ms());
	expect(&r, 1, "LeaseHeld", "DetachApproved");
	r = approved_detach(base_now_real_ms());
	expect(&r, 1, "LeaseHeld", NULL);
}
END_TEST

START_TEST(test_a_peer_that_reaches_the_primary_vetoes_a_managed_failover)
{
	struct gdb_guard_round r;

	r = run(c, GDB_GUARD_OP_NONE, NULL, 0, GDB_GUARD_REACHABLE);
	r = run(b, MAN, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "VetoedByPeer", "VetoedByPeer");
	/* Its view changes: the veto is gone with the next verdict. */
	r = run(c, GDB_GUARD_OP_NONE, NULL, 0, GDB_GUARD_UNREACHABLE);
	r = run(b, MAN, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
}
END_TEST

START_TEST(test_an_expired_lease_is_taken_over_on_the_same_target)
{
	struct gdb_guard *fast_b = guard("b", "us-west-2", 400),
			 *fast_c = guard("c", "ap-south-1", 400);
	struct gdb_guard_round r;
	int64_t deadline;

	call_timeout_ms = 50; /* a short call fits the short lease */
	r = run(fast_b, MAN, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
	/* Another target is never started over it, expired or not. */
	r = run(fast_c, MAN, "ap-south-1", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "TargetMismatch", "TargetMismatch");
	/* b stops renewing: c sees the version unchanged for the lease and margin, by its clock. */
	deadline = base_now_mono_ms() + 20000;
	do {
		r = run(fast_c, MAN, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	} while (!r.allow && base_now_mono_ms() < deadline);
	expect(&r, 1, "LeaseHeld", "LeaseTakenOver");
	r = run(fast_b, MAN, "us-west-2", 1, GDB_GUARD_UNREACHABLE);
	expect(&r, 0, "LeaseLost", "LeaseLost");
	gdb_guard_free(fast_b);
	gdb_guard_free(fast_c);
	call_timeout_ms = 1000;
}
END_TEST

START_TEST(test_a_completed_operation_is_not_repeated_by_the_other)
{
	struct gdb_guard_round r;

	r = run(b, SW, "us-west-2", 1, GDB_GUARD_UNKNOWN);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
	r = tail(c, "us-west-2", GDB_GUARD_OP_NONE, NULL);
	expect(&r, 0, "HeldByPeer", "HeldByPeer");
	/* b completed it: its release records the operation as ended, by b. */
	r = (struct gdb_guard_round){.key = "team-a/orders",
				     .done = {SW, "us-east-1", "us-west-2"},
				     .freshness_ms = 60000};
	gdb_guard_run(b, &r);
	expect(&r, 0, "LeaseReleased", "LeaseReleased");
	ck_assert(r.decision.record_ended);
	/* c's own record still has the tail to do: it is not done again, nothing is held back. */
	r = tail(c, "us-west-2", GDB_GUARD_OP_NONE, NULL);
	expect(&r, 0, "DoneByPeer", "DoneByPeer");
	ck_assert_int_eq(r.held_back, 0);
	ck_assert_str_eq(r.done_by, "b");
	r = tail(c, "us-west-2", GDB_GUARD_OP_NONE, NULL);
	expect(&r, 0, "DoneByPeer", NULL);
	/* Another operation's tail is not covered by it. */
	r = tail(c, "ap-south-1", GDB_GUARD_OP_NONE, NULL);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
	/* That acquisition removed the record: released without success, nothing is ended. */
	r = (struct gdb_guard_round){.key = "team-a/orders", .freshness_ms = 60000};
	gdb_guard_run(c, &r);
	expect(&r, 0, "LeaseReleased", "LeaseReleased");
	ck_assert(!r.decision.record_ended);
	r = tail(b, "us-west-2", GDB_GUARD_OP_NONE, NULL);
	expect(&r, 1, "LeaseHeld", "LeaseAcquired");
}
END_TEST

START_TEST(test_no_region_answering_means_no_call)
{
	static const char *const nowhere[] = {"us-east-2", "sa-east-1"};
	struct gdb_guard_config cfg = {"guard", nowhere, 2, "b", "us-west-2", 0, 0};
	struct gdb_guard *g = gdb_guard_new(client, &cfg);
	struct gdb_guard_round r;

	r = run(g, SW, "us-west-2", 1, GDB_GUARD_UNKNOWN);
	expect(&r, 0, "GuardUnavailable", "GuardUnavailable");
	ck_assert_int_eq(r.held_back, 1);
	gdb_guard_free(g);
}
END_TEST

int main(void)
{
	const TTest *const tests[] = {
		test_a_switchover_is_acted_on_by_one_controller,
		test_a_detach_waits_for_the_co_signature_of_another_region,
		test_the_operators_approval_stands_in_for_a_co_signature,
		test_a_peer_that_reaches_the_primary_vetoes_a_managed_failover,
		test_an_expired_lease_is_taken_over_on_the_same_target,
		test_a_completed_operation_is_not_repeated_by_the_other,
		test_no_region_answering_means_no_call,
	};
	int rc;

	if (moto_start(&moto) != 0) {
		fprintf(stderr, "cannot start moto_server\n");
		return 1;
	}
	rc = gdb_check_run("globaldb_guard_moto", 120, setup, teardown, tests,
			   sizeof(tests) / sizeof(*tests));
	moto_stop(&moto);
	return rc;
}
