/*
 * The two-controller guard's decision (pkg/globaldb/guard.h): one row per
 * rule of docs/protocol.md ("Two controllers, one decision", "Corroboration"),
 * each named by the rule it checks. Controller "b" runs in us-west-2 and "c"
 * in eu-west-1; the writer's region us-east-1 has none.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "pkg/globaldb/guard.h"

#define LEASE 60000
#define MARGIN 10000
#define FRESH 10000
#define EXPIRED (LEASE + MARGIN + 1)

enum { NO_LEASE = 0, EMPTY, HELD_B, HELD_C };

struct row {
	const char *rule;
	const char *me;		   /* "b" or "c" */
	int lease;		   /* NO_LEASE: the guard did not answer */
	enum gdb_guard_op held_op; /* the running operation (HELD_*) */
	const char *held_target;
	int64_t unchanged_ms;
	int64_t cosign_epoch_b, cosign_epoch_c, approval;
	enum gdb_guard_seen peer_seen; /* the other controller's verdict */
	const char *peer_primary;      /* the writer region it is about; NULL: the source */
	int64_t peer_age_ms;
	enum gdb_guard_seen mine;
	enum gdb_guard_op want;
	const char *target;
	int promote;
	int tail; /* a later call of a switchover or failover */
	int64_t call_timeout_ms;
	/* the operation the lease records as completed by "b" (source us-east-1) */
	enum gdb_guard_op ended_op;
	const char *ended_target;
	/* the operation my own record says completed (source us-east-1) */
	enum gdb_guard_op done_op;
	const char *done_target;
	/* expected */
	enum gdb_guard_verb verb;
	enum gdb_guard_write write;
	enum gdb_guard_wait wait;
	int record_ended;
};

#define B "us-west-2"
#define C "eu-west-1"
#define SW GDB_GUARD_OP_SWITCHOVER
#define MAN GDB_GUARD_OP_FAILOVER_MANAGED
#define DET GDB_GUARD_OP_DETACH
#define UP GDB_GUARD_REACHABLE
#define DOWN GDB_GUARD_UNREACHABLE

static const struct row rows[] = {
	{.rule = "no replica region answers: never act alone",
	 .me = "b",
	 .lease = NO_LEASE,
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_UNAVAILABLE},
	{.rule = "no replica region answers and nothing to call: idle",
	 .me = "b",
	 .lease = NO_LEASE,
	 .verb = GDB_GUARD_IDLE},
	{.rule = "a planned switchover needs only the lease",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = UP,
	 .want = SW,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a managed failover acquires when no peer reaches the primary",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = DOWN,
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a reachable verdict about another writer is no veto",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = UP,
	 .peer_primary = "us-west-2",
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a later call of a failover is not vetoed (the promotion happened)",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = UP,
	 .want = DET,
	 .target = B,
	 .promote = 0,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a managed failover goes ahead when the peer is silent",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = UP,
	 .peer_age_ms = FRESH + 1,
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a managed failover is vetoed by a fresh reachable verdict of a peer",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = UP,
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_VETOED},
	{.rule = "the holder's managed call is vetoed at every round",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .peer_seen = UP,
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_VETOED},
	{.rule = "a detach is not acquired against a fresh reachable verdict",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = UP,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_VETOED},
	{.rule = "a detach acquires the lease and waits for a co-signature of that epoch",
	 .me = "b",
	 .lease = EMPTY,
	 .peer_seen = DOWN,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .write = GDB_GUARD_WRITE_ACQUIRE,
	 .wait = GDB_GUARD_WAIT_AWAITING_CORROBORATION},
	{.rule = "a detach waits when the peer is silent",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .peer_seen = DOWN,
	 .peer_age_ms = FRESH + 1,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .write = GDB_GUARD_WRITE_RENEW,
	 .wait = GDB_GUARD_WAIT_AWAITING_CORROBORATION},
	{.rule = "a detach acts with a co-signature of the current epoch from another region",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .cosign_epoch_c = 5,
	 .peer_seen = DOWN,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_RENEW},
	{.rule = "a co-signature of an older epoch does not count",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .cosign_epoch_c = 4,
	 .peer_seen = DOWN,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .write = GDB_GUARD_WRITE_RENEW,
	 .wait = GDB_GUARD_WAIT_AWAITING_CORROBORATION},
	{.rule = "my own co-signature does not count",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .cosign_epoch_b = 5,
	 .peer_seen = DOWN,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .write = GDB_GUARD_WRITE_RENEW,
	 .wait = GDB_GUARD_WAIT_AWAITING_CORROBORATION},
	{.rule = "a detach acts with the operator's approval of the current epoch",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .approval = 5,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_RENEW},
	{.rule = "a later call of a detach needs only the lease",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .want = DET,
	 .target = B,
	 .promote = 0,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_RENEW},
	{.rule = "a peer that sees the primary down from another region co-signs the detach",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .mine = DOWN,
	 .want = DET,
	 .target = C,
	 .promote = 1,
	 .verb = GDB_GUARD_COSIGN,
	 .write = GDB_GUARD_WRITE_COSIGN},
	{.rule = "a peer co-signs even when its planner wants no call",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .mine = DOWN,
	 .verb = GDB_GUARD_COSIGN,
	 .write = GDB_GUARD_WRITE_COSIGN},
	{.rule = "a peer co-signs an epoch once",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .cosign_epoch_c = 5,
	 .mine = DOWN,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_HELD_BY_PEER},
	{.rule = "a peer that still reaches the primary does not co-sign",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .mine = UP,
	 .verb = GDB_GUARD_IDLE},
	{.rule = "a running operation held by a live peer is waited for",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = SW,
	 .held_target = B,
	 .want = SW,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_HELD_BY_PEER},
	{.rule = "no new operation over a running one: another target waits",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .want = MAN,
	 .target = C,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_TARGET_MISMATCH},
	{.rule = "no new operation over a running one, even when its lease expired",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .want = MAN,
	 .target = C,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_TARGET_MISMATCH},
	{.rule = "takeover of an expired lease continues the same operation and target",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .want = MAN,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_TAKEOVER},
	{.rule = "takeover of a later step needs only the same target",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .want = MAN,
	 .target = B,
	 .promote = 0,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_TAKEOVER},
	{.rule = "a taken-over detach needs a co-signature of the new epoch",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .cosign_epoch_b = 5,
	 .want = DET,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .write = GDB_GUARD_WRITE_TAKEOVER,
	 .wait = GDB_GUARD_WAIT_AWAITING_CORROBORATION},
	{.rule = "a lease unchanged for exactly the lease and margin is not expired yet",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = SW,
	 .held_target = B,
	 .unchanged_ms = LEASE + MARGIN,
	 .want = SW,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_HELD_BY_PEER},
	{.rule = "the holder renews before every call",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = SW,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .want = SW,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_RENEW},
	{.rule = "a call that could outlive the lease is not started",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = SW,
	 .held_target = B,
	 .want = SW,
	 .target = B,
	 .promote = 1,
	 .call_timeout_ms = LEASE - MARGIN + 1,
	 .verb = GDB_GUARD_WAIT,
	 .wait = GDB_GUARD_WAIT_LEASE_TOO_SHORT},
	{.rule = "the holder whose operation ended releases it",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = SW,
	 .held_target = B,
	 .verb = GDB_GUARD_RELEASE,
	 .write = GDB_GUARD_WRITE_RELEASE},
	{.rule = "the holder whose planner moved to another target releases the old operation",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .want = MAN,
	 .target = C,
	 .promote = 1,
	 .verb = GDB_GUARD_RELEASE,
	 .write = GDB_GUARD_WRITE_RELEASE},
	{.rule = "an expired failover is cancelled when the primary answers me",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .mine = UP,
	 .verb = GDB_GUARD_RELEASE,
	 .write = GDB_GUARD_WRITE_CLEAR},
	{.rule = "an expired failover my plan does not have is adopted while the primary is down",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .mine = DOWN,
	 .verb = GDB_GUARD_ADOPT,
	 .write = GDB_GUARD_WRITE_TAKEOVER},
	{.rule = "an expired switchover my plan does not have is adopted and finished",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = SW,
	 .held_target = B,
	 .unchanged_ms = EXPIRED,
	 .mine = UP,
	 .verb = GDB_GUARD_ADOPT,
	 .write = GDB_GUARD_WRITE_TAKEOVER},
	{.rule = "a live peer's operation my view does not need is left alone",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = MAN,
	 .held_target = B,
	 .verb = GDB_GUARD_IDLE},
	{.rule = "a later call of a failover the holder completed is not made again",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .ended_op = DET,
	 .ended_target = B,
	 .want = DET,
	 .target = B,
	 .tail = 1,
	 .verb = GDB_GUARD_DONE,
	 .wait = GDB_GUARD_WAIT_DONE_BY_PEER},
	{.rule = "a promotion is never done by a completed record: it acquires",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .ended_op = SW,
	 .ended_target = B,
	 .want = SW,
	 .target = B,
	 .promote = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a later call of another target than the completed one is acquired",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .ended_op = DET,
	 .ended_target = C,
	 .want = DET,
	 .target = B,
	 .tail = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a failover completed under the other method is the same failover: done",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .ended_op = MAN,
	 .ended_target = B,
	 .want = DET,
	 .target = B,
	 .tail = 1,
	 .verb = GDB_GUARD_DONE,
	 .wait = GDB_GUARD_WAIT_DONE_BY_PEER},
	{.rule = "a later call of another kind of operation is acquired",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .ended_op = SW,
	 .ended_target = B,
	 .want = DET,
	 .target = B,
	 .tail = 1,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "a fallback's rebuild call is no tail: a completed switchover does not cover it",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .ended_op = SW,
	 .ended_target = B,
	 .want = SW,
	 .target = B,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
	{.rule = "the holder's release records the operation its own record says completed",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .done_op = DET,
	 .done_target = B,
	 .verb = GDB_GUARD_RELEASE,
	 .write = GDB_GUARD_WRITE_RELEASE,
	 .record_ended = 1},
	{.rule = "a release whose own record completed another operation records nothing",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .done_op = SW,
	 .done_target = B,
	 .verb = GDB_GUARD_RELEASE,
	 .write = GDB_GUARD_WRITE_RELEASE},
	{.rule = "a release of an operation that did not complete records nothing",
	 .me = "b",
	 .lease = HELD_B,
	 .held_op = DET,
	 .held_target = B,
	 .verb = GDB_GUARD_RELEASE,
	 .write = GDB_GUARD_WRITE_RELEASE},
	{.rule = "a free lease held by nobody's operation is acquired for a later call",
	 .me = "c",
	 .lease = HELD_B,
	 .held_op = GDB_GUARD_OP_NONE,
	 .want = SW,
	 .target = B,
	 .promote = 0,
	 .verb = GDB_GUARD_ACT,
	 .write = GDB_GUARD_WRITE_ACQUIRE},
};

static void run_row(const struct row *r)
{
	struct gdb_guard_lease l = {0};
	struct gdb_guard_verdict peer = {0};
	struct gdb_guard_input in = {0};
	struct gdb_guard_decision d;
	int me_b = strcmp(r->me, "b") == 0;

	if (r->lease != NO_LEASE) {
		l.exists = 1;
		l.epoch = 5;
		l.version = 42;
		if (r->lease == HELD_B || r->lease == HELD_C) {
			l.holder = r->lease == HELD_B ? "b" : "c";
			l.holder_region = r->lease == HELD_B ? B : C;
			l.op = r->held_op;
			l.source = r->held_op ? "us-east-1" : NULL;
			l.target = r->held_op ? r->held_target : NULL;
		}
		l.unchanged_ms = r->unchanged_ms;
		l.approval = r->approval;
		l.ended_op = r->ended_op;
		l.ended_source = r->ended_op ? "us-east-1" : NULL;
		l.ended_target = r->ended_target;
		l.ended_by = r->ended_op ? "b" : NULL;
		if (r->cosign_epoch_b)
			l.cosigns[l.n_cosigns++] =
				(struct gdb_guard_cosign){"b", r->cosign_epoch_b};
		if (r->cosign_epoch_c)
			l.cosigns[l.n_cosigns++] =
				(struct gdb_guard_cosign){"c", r->cosign_epoch_c};
		in.lease = &l;
	}
	peer.controller = me_b ? "c" : "b";
	peer.region = me_b ? C : B;
	peer.seen = r->peer_seen;
	peer.primary = r->peer_primary ? r->peer_primary : "us-east-1";
	peer.age_ms = r->peer_age_ms;
	in.me = r->me;
	in.my_region = me_b ? B : C;
	in.peers = &peer;
	in.n_peers = 1;
	in.mine = r->mine;
	in.intent.op = r->want;
	in.intent.source = r->want ? "us-east-1" : NULL;
	in.intent.target = r->target;
	in.intent.promote = r->promote;
	in.intent.tail = r->tail;
	in.done.op = r->done_op;
	in.done.source = r->done_op ? "us-east-1" : NULL;
	in.done.target = r->done_target;
	in.intent.call_timeout_ms = r->call_timeout_ms;
	in.lease_ms = LEASE;
	in.margin_ms = MARGIN;
	in.freshness_ms = FRESH;
	gdb_guard_decide(&in, &d);
	ck_assert_msg(d.verb == r->verb && d.write == r->write && d.wait == r->wait,
		      "%s: got %s/%s/%s, want %s/%s/%s", r->rule, gdb_guard_verb_name(d.verb),
		      gdb_guard_write_name(d.write), gdb_guard_wait_reason(d.wait),
		      gdb_guard_verb_name(r->verb), gdb_guard_write_name(r->write),
		      gdb_guard_wait_reason(r->wait));
	ck_assert_msg(d.record_ended == r->record_ended, "%s: record_ended %d", r->rule,
		      d.record_ended);
	if (d.verb == GDB_GUARD_DONE)
		ck_assert_str_eq(d.peer, "b");
	if (in.lease)
		ck_assert_int_eq((int)d.epoch, 5);
}

START_TEST(test_guard_rules)
{
	run_row(&rows[_i]);
}
END_TEST

START_TEST(test_guard_names_round_trip)
{
	for (int op = GDB_GUARD_OP_SWITCHOVER; op < GDB_GUARD_OP__COUNT; op++)
		ck_assert_int_eq(gdb_guard_op_parse(gdb_guard_op_name((enum gdb_guard_op)op)), op);
	ck_assert_int_eq(gdb_guard_op_parse(""), GDB_GUARD_OP_NONE);
	ck_assert_int_eq(gdb_guard_seen_parse("unreachable"), GDB_GUARD_UNREACHABLE);
	ck_assert_int_eq(gdb_guard_seen_parse("bogus"), GDB_GUARD_UNKNOWN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("globaldb_guard");
	TCase *tc = tcase_create("rules");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_guard_rules, 0, (int)(sizeof(rows) / sizeof(*rows)));
	tcase_add_test(tc, test_guard_names_round_trip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
