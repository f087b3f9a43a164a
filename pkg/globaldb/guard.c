/*
 * The guard's decision, rule by rule as docs/protocol.md states them:
 *
 *  - no replica region answered: never act alone (WAIT unavailable);
 *  - a call that could outlive the lease is not started (WAIT lease too short);
 *  - a running operation is continued only with its own target: a holder
 *    renews, anyone else takes over only an expired lease, and nobody starts
 *    a new operation over a running one (WAIT target mismatch / held by peer);
 *  - a peer that sees the running detach's primary down from another region
 *    co-signs its epoch (COSIGN);
 *  - with no operation running, the lease is acquired; a failover's
 *    promotion (either method) is vetoed by a fresh "reachable" verdict of a
 *    peer about the same primary, at acquisition and at every round;
 *  - a detach's call needs, for the epoch it is made under, a co-signature by
 *    a controller in another region or the operator's approval; until then
 *    the lease is taken (or renewed) and the call waits;
 *  - a planned switchover needs only the lease;
 *  - an operation that ended for its holder is cleared (RELEASE), and
 *    recorded as ended when the holder's own record says it completed; one
 *    whose holder's lease expired is taken over and continued (ADOPT), or,
 *    when it is a failover and the primary answers this controller, cancelled
 *    (RELEASE: "the source is healthy from here");
 *  - a later call of a switchover or failover the lease records as ended is
 *    not made again: the holder made it (DONE). A promotion is never DONE: it
 *    goes through the rules above, so a stale record can delay no failover.
 */
#include "pkg/globaldb/guard.h"

#include <string.h>

static int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int gdb_guard_expired(const struct gdb_guard_lease *l, int64_t lease_ms, int64_t margin_ms)
{
	if (lease_ms <= 0)
		lease_ms = GDB_GUARD_LEASE_MS;
	if (margin_ms <= 0)
		margin_ms = GDB_GUARD_MARGIN_MS;
	return l->holder && *l->holder && l->unchanged_ms > lease_ms + margin_ms;
}

static int failover(enum gdb_guard_op op)
{
	return op == GDB_GUARD_OP_FAILOVER_MANAGED || op == GDB_GUARD_OP_DETACH;
}

/*
 * Whether the lease's operation (kind, source, target) is the one in a. A
 * failover is one operation whichever method a record names: a controller
 * that saw the target already writing records its detach as managed.
 */
static int same_op(enum gdb_guard_op op, const char *source, const char *target,
		   const struct gdb_guard_intent *a)
{
	return op != GDB_GUARD_OP_NONE && (op == a->op || (failover(op) && failover(a->op))) &&
	       streq(source, a->source) && streq(target, a->target);
}

/* A release of my operation; it records the operation as ended when my record says it completed. */
static void release(const struct gdb_guard_input *in, struct gdb_guard_decision *d)
{
	const struct gdb_guard_lease *l = in->lease;

	d->verb = GDB_GUARD_RELEASE;
	d->write = GDB_GUARD_WRITE_RELEASE;
	d->record_ended = same_op(l->op, l->source, l->target, &in->done);
}

static const char *peer_region(const struct gdb_guard_input *in, const char *controller)
{
	for (size_t i = 0; i < in->n_peers; i++)
		if (streq(in->peers[i].controller, controller))
			return in->peers[i].region;
	return NULL;
}

/*
 * A peer whose fresh verdict says the primary answers it, or NULL. A verdict
 * about another writer (the peer already sees the promotion) is no veto.
 */
static const char *vetoer(const struct gdb_guard_input *in)
{
	for (size_t i = 0; i < in->n_peers; i++) {
		const struct gdb_guard_verdict *v = &in->peers[i];

		if (!streq(v->controller, in->me) && v->seen == GDB_GUARD_REACHABLE &&
		    v->age_ms < in->freshness_ms &&
		    !(v->primary && in->intent.source && !streq(v->primary, in->intent.source)))
			return v->controller;
	}
	return NULL;
}

static int corroborated(const struct gdb_guard_input *in, int64_t epoch)
{
	const struct gdb_guard_lease *l = in->lease;

	if (epoch > 0 && l->approval == epoch)
		return 1;
	for (size_t i = 0; i < l->n_cosigns; i++) {
		const char *region = peer_region(in, l->cosigns[i].controller);

		if (l->cosigns[i].epoch == epoch && !streq(l->cosigns[i].controller, in->me) &&
		    region && *region && !streq(region, in->my_region))
			return 1;
	}
	return 0;
}

/* Whether I should co-sign the running detach: I see its primary down, from another region. */
static int should_cosign(const struct gdb_guard_input *in)
{
	const struct gdb_guard_lease *l = in->lease;

	if (l->op != GDB_GUARD_OP_DETACH || in->mine != GDB_GUARD_UNREACHABLE ||
	    streq(l->holder, in->me) || streq(l->holder_region, in->my_region))
		return 0;
	for (size_t i = 0; i < l->n_cosigns; i++)
		if (streq(l->cosigns[i].controller, in->me) && l->cosigns[i].epoch == l->epoch)
			return 0;
	return 1;
}

static void set(struct gdb_guard_decision *d, enum gdb_guard_verb v, enum gdb_guard_write w,
		enum gdb_guard_wait why)
{
	d->verb = v;
	d->write = w;
	d->wait = why;
}

/* No call wanted: release, clear, co-sign or nothing. */
static void decide_idle(const struct gdb_guard_input *in, int expired, struct gdb_guard_decision *d)
{
	const struct gdb_guard_lease *l = in->lease;

	if (l->op == GDB_GUARD_OP_NONE)
		set(d, GDB_GUARD_IDLE, GDB_GUARD_WRITE_NONE, GDB_GUARD_WAIT_NONE);
	else if (streq(l->holder, in->me))
		release(in, d);
	else if (expired && l->op != GDB_GUARD_OP_SWITCHOVER && in->mine == GDB_GUARD_REACHABLE)
		set(d, GDB_GUARD_RELEASE, GDB_GUARD_WRITE_CLEAR, GDB_GUARD_WAIT_NONE);
	else if (expired)
		set(d, GDB_GUARD_ADOPT, GDB_GUARD_WRITE_TAKEOVER, GDB_GUARD_WAIT_NONE);
	else if (should_cosign(in))
		set(d, GDB_GUARD_COSIGN, GDB_GUARD_WRITE_COSIGN, GDB_GUARD_WAIT_NONE);
	else
		set(d, GDB_GUARD_IDLE, GDB_GUARD_WRITE_NONE, GDB_GUARD_WAIT_NONE);
}

void gdb_guard_decide(const struct gdb_guard_input *in, struct gdb_guard_decision *d)
{
	const struct gdb_guard_lease *l = in->lease;
	const struct gdb_guard_intent *want = &in->intent;
	int64_t lease_ms = in->lease_ms > 0 ? in->lease_ms : GDB_GUARD_LEASE_MS;
	int64_t margin_ms = in->margin_ms > 0 ? in->margin_ms : GDB_GUARD_MARGIN_MS;
	enum gdb_guard_write w;
	int64_t epoch_after;
	const char *veto;
	int expired;

	memset(d, 0, sizeof(*d));
	if (!l) {
		if (want->op != GDB_GUARD_OP_NONE)
			set(d, GDB_GUARD_WAIT, GDB_GUARD_WRITE_NONE, GDB_GUARD_WAIT_UNAVAILABLE);
		return;
	}
	d->epoch = l->epoch;
	expired = gdb_guard_expired(l, lease_ms, margin_ms);
	if (want->op == GDB_GUARD_OP_NONE) {
		decide_idle(in, expired, d);
		return;
	}
	if (want->tail && l->op == GDB_GUARD_OP_NONE &&
	    same_op(l->ended_op, l->ended_source, l->ended_target, want)) {
		d->peer = l->ended_by;
		set(d, GDB_GUARD_DONE, GDB_GUARD_WRITE_NONE, GDB_GUARD_WAIT_DONE_BY_PEER);
		return;
	}
	if (want->call_timeout_ms + margin_ms > lease_ms) {
		set(d, GDB_GUARD_WAIT, GDB_GUARD_WRITE_NONE, GDB_GUARD_WAIT_LEASE_TOO_SHORT);
		return;
	}
	if (l->op != GDB_GUARD_OP_NONE) {
		int same = streq(l->target, want->target) && (!want->promote || l->op == want->op);

		if (!same && streq(l->holder, in->me)) {
			/* My own planner moved on: the old operation ends before another starts. */
			release(in, d);
			return;
		}
		if (!same) {
			/* My view picks another target; it still confirms the primary is down. */
			d->peer = l->holder;
			if (should_cosign(in))
				set(d, GDB_GUARD_COSIGN, GDB_GUARD_WRITE_COSIGN,
				    GDB_GUARD_WAIT_NONE);
			else
				set(d, GDB_GUARD_WAIT, GDB_GUARD_WRITE_NONE,
				    GDB_GUARD_WAIT_TARGET_MISMATCH);
			return;
		}
		if (!streq(l->holder, in->me) && !expired) {
			d->peer = l->holder;
			if (should_cosign(in))
				set(d, GDB_GUARD_COSIGN, GDB_GUARD_WRITE_COSIGN,
				    GDB_GUARD_WAIT_NONE);
			else
				set(d, GDB_GUARD_WAIT, GDB_GUARD_WRITE_NONE,
				    GDB_GUARD_WAIT_HELD_BY_PEER);
			return;
		}
		w = streq(l->holder, in->me) ? GDB_GUARD_WRITE_RENEW : GDB_GUARD_WRITE_TAKEOVER;
		epoch_after = w == GDB_GUARD_WRITE_RENEW ? l->epoch : l->epoch + 1;
	} else {
		w = GDB_GUARD_WRITE_ACQUIRE;
		epoch_after = l->epoch + 1;
	}

	veto = vetoer(in);
	if (veto &&
	    (want->op == GDB_GUARD_OP_FAILOVER_MANAGED || want->op == GDB_GUARD_OP_DETACH) &&
	    want->promote) {
		d->peer = veto;
		set(d, GDB_GUARD_WAIT, GDB_GUARD_WRITE_NONE, GDB_GUARD_WAIT_VETOED);
		return;
	}
	if (want->promote && want->op == GDB_GUARD_OP_DETACH && !corroborated(in, epoch_after)) {
		set(d, GDB_GUARD_WAIT, w, GDB_GUARD_WAIT_AWAITING_CORROBORATION);
		return;
	}
	set(d, GDB_GUARD_ACT, w, GDB_GUARD_WAIT_NONE);
}

const char *gdb_guard_op_name(enum gdb_guard_op op)
{
	switch (op) {
	case GDB_GUARD_OP_SWITCHOVER:
		return "Switchover";
	case GDB_GUARD_OP_FAILOVER_MANAGED:
		return "FailoverManaged";
	case GDB_GUARD_OP_DETACH:
		return "Detach";
	default:
		return "";
	}
}

enum gdb_guard_op gdb_guard_op_parse(const char *s)
{
	for (int op = GDB_GUARD_OP_SWITCHOVER; op < GDB_GUARD_OP__COUNT; op++)
		if (streq(s, gdb_guard_op_name((enum gdb_guard_op)op)))
			return (enum gdb_guard_op)op;
	return GDB_GUARD_OP_NONE;
}

const char *gdb_guard_seen_name(enum gdb_guard_seen s)
{
	return s == GDB_GUARD_REACHABLE	    ? "reachable"
	       : s == GDB_GUARD_UNREACHABLE ? "unreachable"
					    : "unknown";
}

enum gdb_guard_seen gdb_guard_seen_parse(const char *s)
{
	return streq(s, "reachable")	 ? GDB_GUARD_REACHABLE
	       : streq(s, "unreachable") ? GDB_GUARD_UNREACHABLE
					 : GDB_GUARD_UNKNOWN;
}

const char *gdb_guard_wait_reason(enum gdb_guard_wait w)
{
	switch (w) {
	case GDB_GUARD_WAIT_HELD_BY_PEER:
		return "HeldByPeer";
	case GDB_GUARD_WAIT_TARGET_MISMATCH:
		return "TargetMismatch";
	case GDB_GUARD_WAIT_AWAITING_CORROBORATION:
		return "AwaitingCorroboration";
	case GDB_GUARD_WAIT_VETOED:
		return "VetoedByPeer";
	case GDB_GUARD_WAIT_LEASE_TOO_SHORT:
		return "LeaseTooShort";
	case GDB_GUARD_WAIT_UNAVAILABLE:
		return "GuardUnavailable";
	case GDB_GUARD_WAIT_DONE_BY_PEER:
		return "DoneByPeer";
	default:
		return "NoOperation";
	}
}

const char *gdb_guard_verb_name(enum gdb_guard_verb v)
{
	static const char *const names[] = {"idle",    "act",	"wait", "cosign",
					    "release", "adopt", "done"};

	return (unsigned)v < sizeof(names) / sizeof(*names) ? names[v] : "?";
}

const char *gdb_guard_write_name(enum gdb_guard_write w)
{
	static const char *const names[] = {"none",   "acquire", "renew", "takeover",
					    "cosign", "release", "clear"};

	return (unsigned)w < sizeof(names) / sizeof(*names) ? names[w] : "?";
}
