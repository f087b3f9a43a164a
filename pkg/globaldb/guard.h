/*
 * guard.h - the two-controller guard's decision (docs/protocol.md, "Two
 * controllers, one decision"; model/two_controllers.pml).
 *
 * When a GlobalDatabase is applied in the clusters of several regions, each
 * with its own controller, the AWS calls of an operation must be made once.
 * The controllers agree through a lease item in a DynamoDB table with
 * multi-Region strong consistency: an epoch (the fencing token), the holder,
 * a version the holder raises every round, the operation being decided
 * (kind, source, target: the target never changes within an operation), the
 * co-signatures of other controllers and the operator's approval. Each
 * controller also publishes its own verdict on the primary (guard_io.c).
 *
 * gdb_guard_decide() is the pure part: no I/O, no clock. Times come in as
 * ages measured by the caller's monotonic clock, so no two controllers'
 * clocks are ever compared. It answers one of
 *
 *   ACT      make the conditional write (acquire / renew / takeover), then,
 *            if it succeeded, the call;
 *   WAIT     make no call (the reason says why); a write may still come with
 *            it: a detach acquires (or takes over) the lease first and then
 *            waits for the co-signature of that epoch;
 *   COSIGN   write my co-signature for the running detach's epoch;
 *   ADOPT    take over the expired lease of a running operation my own plan
 *            does not have (its holder stopped mid-way) and continue it: same
 *            operation, same target;
 *   RELEASE  clear the operation (I held it and it ended; or its holder's
 *            lease expired, it is a failover and the primary answers me).
 *            A holder whose operation completed records it in the lease as
 *            ended (decision.record_ended);
 *   DONE     the later call I want belongs to an operation the lease records
 *            as completed by its holder: its calls are not made again here
 *            (the caller ends its own record of the operation, restarting
 *            only its own cluster's workloads);
 *   IDLE     nothing to write, nothing to call.
 *
 * Ownership: every pointer in the inputs is borrowed; the decision's strings
 * point into the inputs. Thread-safe (no state).
 */
#ifndef GDB_GUARD_H
#define GDB_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GDB_GUARD_MAX_PEERS 8
/* The default lease: a holder that has not renewed for this long (plus the margin) is replaced. */
#define GDB_GUARD_LEASE_MS 60000
#define GDB_GUARD_MARGIN_MS 10000
/*
 * The shortest lease a controller accepts: one AWS call (15 s, retries
 * included) and the margin fit in it, or the holder would never call
 * (GDB_GUARD_WAIT_LEASE_TOO_SHORT).
 */
#define GDB_GUARD_LEASE_MIN_MS 30000

/* The operation in the lease item, or the one the planner wants to make a call of. */
enum gdb_guard_op {
	GDB_GUARD_OP_NONE = 0,
	GDB_GUARD_OP_SWITCHOVER, /* planned: SwitchoverGlobalCluster, a fallback's switch back */
	GDB_GUARD_OP_FAILOVER_MANAGED, /* FailoverGlobalCluster, AllowDataLoss */
	GDB_GUARD_OP_DETACH, /* RemoveFromGlobalCluster and promote: loses data, not fenced */
	GDB_GUARD_OP__COUNT
};

/* A controller's verdict on the primary, as it published it. */
enum gdb_guard_seen { GDB_GUARD_UNKNOWN = 0, GDB_GUARD_REACHABLE, GDB_GUARD_UNREACHABLE };

struct gdb_guard_cosign {
	const char *controller;
	int64_t epoch; /* the epoch whose detach it confirmed */
};

/* The lease item as read (strongly consistent). */
struct gdb_guard_lease {
	int exists; /* 0: no item yet (epoch 0, no holder, no operation) */
	int64_t epoch;
	const char *holder;	   /* controller id, NULL = none */
	const char *holder_region; /* its region */
	int64_t version;
	/* How long, by the reader's monotonic clock, epoch and version have not changed. */
	int64_t unchanged_ms;
	enum gdb_guard_op op;
	const char *source, *target;
	struct gdb_guard_cosign cosigns[GDB_GUARD_MAX_PEERS];
	size_t n_cosigns;
	int64_t approval; /* the epoch whose detach the operator approved; 0 none */
	/*
	 * The operation the last holder released as completed (every call of it
	 * made), until the next acquisition, takeover or clear removes it.
	 * GDB_GUARD_OP_NONE: none recorded.
	 */
	enum gdb_guard_op ended_op;
	const char *ended_source, *ended_target;
	const char *ended_by; /* the controller that completed it */
};

/* A peer's verdict item. */
struct gdb_guard_verdict {
	const char *controller;
	const char *region;
	enum gdb_guard_seen seen;
	const char *primary; /* the writer region the verdict is about; NULL unknown */
	int64_t age_ms;	     /* since its version last changed, by the reader's clock */
};

/* What the planner wants to call now. */
struct gdb_guard_intent {
	enum gdb_guard_op op; /* NONE: no call of an operation this round */
	const char *source, *target;
	/* 1: the call is the operation's promotion (the switchover, failover or detach itself); 0:
	 * a later call of the same operation (DNS, SSM, ECS, the fence). */
	int promote;
	int64_t call_timeout_ms; /* how long the call may take */
	/*
	 * 1: a later call (or a round without one) of a switchover or failover,
	 * whose holder makes its calls: DONE when the lease records the operation
	 * as completed. 0 for a promotion and for a fallback's rebuild.
	 */
	int tail;
};

struct gdb_guard_input {
	const char *me;			     /* my controller id */
	const char *my_region;		     /* my region */
	const struct gdb_guard_lease *lease; /* NULL: no replica region of the guard answered */
	const struct gdb_guard_verdict *peers;
	size_t n_peers;
	enum gdb_guard_seen mine; /* my own verdict this round */
	struct gdb_guard_intent intent;
	/*
	 * The operation my own record says completed last (op NONE when it did
	 * not succeed): a release of that operation records it as ended.
	 */
	struct gdb_guard_intent done;
	int64_t lease_ms;     /* 0 -> GDB_GUARD_LEASE_MS */
	int64_t margin_ms;    /* 0 -> GDB_GUARD_MARGIN_MS */
	int64_t freshness_ms; /* a verdict counts while younger than this (two probe periods) */
};

enum gdb_guard_verb {
	GDB_GUARD_IDLE = 0,
	GDB_GUARD_ACT,
	GDB_GUARD_WAIT,
	GDB_GUARD_COSIGN,
	GDB_GUARD_RELEASE,
	GDB_GUARD_ADOPT,
	GDB_GUARD_DONE,
};

/* The conditional write to make (each names its condition in guard_io.c). */
enum gdb_guard_write {
	GDB_GUARD_WRITE_NONE = 0,
	GDB_GUARD_WRITE_ACQUIRE, /* no operation at the read epoch -> epoch+1, me, the intent's op */
	GDB_GUARD_WRITE_RENEW,	 /* epoch = mine AND holder = me -> version+1 */
	GDB_GUARD_WRITE_TAKEOVER, /* epoch and version as read -> epoch+1, me, the same op */
	GDB_GUARD_WRITE_COSIGN,	  /* epoch as read -> cosign.<me> = epoch */
	GDB_GUARD_WRITE_RELEASE,  /* epoch = mine AND holder = me -> no operation */
	GDB_GUARD_WRITE_CLEAR,	  /* epoch and version as read (expired) -> epoch+1, me, no op */
};

enum gdb_guard_wait {
	GDB_GUARD_WAIT_NONE = 0,
	GDB_GUARD_WAIT_HELD_BY_PEER,	       /* a live peer holds the running operation */
	GDB_GUARD_WAIT_TARGET_MISMATCH,	       /* the running operation is another one */
	GDB_GUARD_WAIT_AWAITING_CORROBORATION, /* a detach without co-signature or approval */
	GDB_GUARD_WAIT_VETOED,		/* a peer's fresh verdict still reaches the primary */
	GDB_GUARD_WAIT_LEASE_TOO_SHORT, /* the call could outlive the lease */
	GDB_GUARD_WAIT_UNAVAILABLE,	/* no replica region of the guard answered */
	GDB_GUARD_WAIT_DONE_BY_PEER,	/* DONE: the holder completed the operation */
};

struct gdb_guard_decision {
	enum gdb_guard_verb verb;
	enum gdb_guard_write write;
	enum gdb_guard_wait wait;
	int64_t epoch;	  /* the epoch the write's condition names (the one read) */
	const char *peer; /* borrowed: the holder waited for, the peer that vetoed or completed */
	int record_ended; /* RELEASE: the write records the operation as ended (completed) */
};

void gdb_guard_decide(const struct gdb_guard_input *in, struct gdb_guard_decision *out);

/* Whether the lease in l is expired for a reader with these settings. */
int gdb_guard_expired(const struct gdb_guard_lease *l, int64_t lease_ms, int64_t margin_ms);

/* Names: the lease item's operation ("Switchover", "FailoverManaged", "Detach", "" for none). */
const char *gdb_guard_op_name(enum gdb_guard_op op);
enum gdb_guard_op gdb_guard_op_parse(const char *s);
const char *gdb_guard_seen_name(enum gdb_guard_seen s); /* "unknown", "reachable", ... */
enum gdb_guard_seen gdb_guard_seen_parse(const char *s);
/* The Guarded condition's reason for a wait, a write or idleness (docs/api.md). */
const char *gdb_guard_wait_reason(enum gdb_guard_wait w);
const char *gdb_guard_verb_name(enum gdb_guard_verb v);
const char *gdb_guard_write_name(enum gdb_guard_write w);

#endif
