/*
 * guard_io.h - the two-controller guard's I/O: the lease and verdict items
 * in a DynamoDB table (multi-Region strong consistency), read and written
 * around the pure decision of guard.h.
 *
 * The table has a partition key `pk` (S) only; the operator creates it
 * (docs/deploy.md). Items:
 *
 *   lease/<namespace>/<name>   epoch, holder, holderRegion, version,
 *                              operation ("" = none), source, target,
 *                              cosign {controller: epoch}, approval (the
 *                              epoch of the detach the operator approved:
 *                              written by a round that saw the approval
 *                              annotation, or by the operator),
 *                              peers {controller: region}: who publishes a
 *                              verdict for this object (each controller adds
 *                              itself, so the others know which items to read),
 *                              ended {operation, source, target, by}: the
 *                              operation the last holder released as
 *                              completed (removed by the next acquisition,
 *                              takeover or clear)
 *   verdict/<namespace>/<name>/<controller>
 *                              controller, region, seen (reachable,
 *                              unreachable, unknown), primary (the writer
 *                              region it is about), version
 *
 * One round (gdb_guard_run): publish my verdict (version + 1), read the lease
 * with a strongly consistent GetItem, record the operator's approval of a
 * running detach (approved_ms), read the peers' verdicts, decide, and make the
 * decision's conditional write. The replica regions are tried in
 * the configured order: a region that does not answer (transport, timeout,
 * 5xx, throttling, no table there, denied) is skipped for the next one; when
 * none answers the guard is unavailable and no guarded call is made. A write
 * that loses its condition is a lost race (LeaseLost / held by a peer); a
 * write without an answer is "no answer": no call this round.
 *
 * Ages are kept per object by this process's monotonic clock: when the
 * lease's epoch or version, or a peer's verdict version, was first seen
 * with its current value.
 *
 * Metrics: globaldb_guard_calls_total{operation,result} (one per DynamoDB
 * call; result "ok", "conflict" or the error's name) and
 * globaldb_guard_decisions_total{decision,reason}.
 *
 * Thread-safety: gdb_guard_run may run concurrently for different keys (the
 * per-key state is behind a lock); one key is never run twice at once (the
 * workqueue's rule). The aws client is borrowed and must outlive the guard.
 */
#ifndef GDB_GUARD_IO_H
#define GDB_GUARD_IO_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/aws/client.h"
#include "pkg/globaldb/guard.h"

#define GDB_GUARD_MAX_REGIONS 6

struct gdb_guard_config {
	const char *table;	     /* required */
	const char *const *regions;  /* the table's replica regions, nearest first */
	size_t n_regions;	     /* 1..GDB_GUARD_MAX_REGIONS */
	const char *controller_id;   /* required, unique per controller */
	const char *region;	     /* this controller's region, required */
	int64_t lease_ms, margin_ms; /* 0 = the defaults of guard.h */
};

struct gdb_guard;

/* A guard (copies cfg) using aws (borrowed). NULL when cfg lacks a required member. */
struct gdb_guard *gdb_guard_new(struct aws_client *aws, const struct gdb_guard_config *cfg);
void gdb_guard_free(struct gdb_guard *g);
/* Drops key's state (the object is gone). */
void gdb_guard_forget(struct gdb_guard *g, const char *key);
const char *gdb_guard_controller_id(const struct gdb_guard *g);
/*
 * The globaldb.io/owner-uid every controller of the guard tags with:
 * "guard:<table>". The objects in the clusters are one GlobalDatabase; each
 * cluster's metadata.uid differs, and tags naming one of them would make the
 * other controller's objects foreign (or the two re-tag each other). Borrowed
 * from g.
 */
const char *gdb_guard_owner_uid(const struct gdb_guard *g);

struct gdb_guard_round {
	/* in */
	const char *key; /* "namespace/name" */
	enum gdb_guard_seen mine;
	const char *primary; /* the writer region my verdict is about */
	struct gdb_guard_intent intent;
	struct gdb_guard_intent done; /* the operation my record says completed (guard.h) */
	int64_t freshness_ms;
	/*
	 * The operator's approval (globaldb.io/approve-failover: unix ms; 0 none).
	 * It approves the running detach when newer than this process's first
	 * sight of it: the round writes approval = <epoch> into the lease item.
	 */
	int64_t approved_ms;
	/* out */
	struct gdb_guard_decision decision;
	int allow;		  /* the intent's call may be made this round */
	const char *reason;	  /* the Guarded condition's reason (static string) */
	int held_back;		  /* 1: a wanted call was held back (condition False) */
	char message[256];	  /* the condition's message */
	const char *event_reason; /* an Event to record (static), NULL = none */
	int event_warning;
	char event_message[256];
	/* The operation the lease names (as read; GDB_GUARD_OP_NONE when none or unread). */
	enum gdb_guard_op lease_op;
	char lease_source[64], lease_target[64];
	/* DONE: the controller that completed the operation (the Guarded reason DoneByPeer). */
	char done_by[64];
};

/* One round for r->key (see above). Always fills the outputs; returns 0. */
int gdb_guard_run(struct gdb_guard *g, struct gdb_guard_round *r);

#endif
