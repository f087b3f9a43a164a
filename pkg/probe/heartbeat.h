/*
 * heartbeat.h - replication lag from heartbeat writes, without trusting clocks
 * across machines.
 *
 * The writer probe upserts one row (id, written_at, seq): the server adds one
 * to seq on every write and returns it, and written_at is the prober's own
 * wall clock when it sent the write. The prober keeps, per writer, a ring of
 * the writes the server acknowledged: (seq, local monotonic time the write was
 * sent). A reader probe reads the row on a secondary and gets the seq S the
 * secondary has replayed. Then:
 *
 *   - S >= the newest acknowledged seq: the secondary has every write the
 *     prober knows of; lag 0.
 *   - write S+1 is in the ring: the secondary is missing everything committed
 *     since that write was sent; lag = now - sent(S+1), both on this process's
 *     monotonic clock. Using the send time (not the acknowledgement) errs
 *     towards a larger lag, which is the safe side for a data-loss budget.
 *   - S+1 is older than the ring (or another writer wrote in between): lag is
 *     the larger of now - sent(oldest newer write in the ring) and, if the row
 *     carries it, now(wall) - written_at(S): write S+1 was sent after S, so
 *     this over-estimates, never under-estimates. written_at came from this
 *     process's wall clock, so no clock of another machine enters.
 *   - nothing acknowledged since the prober started: lag unknown (-1). A
 *     controller gating a failover on lag must treat unknown as too much.
 *
 * When the writer stops acknowledging, a secondary that lacks some of its
 * writes shows a lag that keeps growing: the prober cannot tell a dead
 * writer from one cut off from the prober but still taking writes from its
 * clients, so the estimate stays on the safe side. A secondary that has
 * every acknowledged write stays at 0. Neither is what a failover decision
 * wants (a clock, or a 0 while the writer may have acknowledged writes after
 * its last heartbeat): the controller bounds the loss from the heartbeats'
 * own written_at instead (prober.h's verdict fields, docs/api.md).
 *
 * Plain data, no locking: the owner (the prober, under its lock) serialises
 * access.
 */
#ifndef PROBE_HEARTBEAT_H
#define PROBE_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

/*
 * At the default 5 s period, 5 minutes of writes; at 1 s, a minute (1 KB a
 * writer). A lag older than that is estimated from the row's written_at, over
 * by about a period: far beyond any failover's lag budget either way.
 */
#define PROBE_HEARTBEAT_HISTORY 64

struct probe_heartbeat {
	struct {
		int64_t seq;
		int64_t sent_mono_ms;
	} ring[PROBE_HEARTBEAT_HISTORY];
	size_t head;  /* index of the next slot to write */
	size_t count; /* valid entries, oldest at head - count */
};

/* Empties hb. */
void probe_heartbeat_init(struct probe_heartbeat *hb);

/*
 * Records an acknowledged write: the server returned seq for a write sent at
 * sent_mono_ms. A seq not above the newest recorded one means the row was
 * reset (table recreated, another writer): the history restarts from it.
 */
void probe_heartbeat_record(struct probe_heartbeat *hb, int64_t seq, int64_t sent_mono_ms);

/*
 * The lag of a secondary that has replayed replica_seq, whose row says
 * written_at = replica_written_real_ms (0 if unknown), observed at now_mono_ms
 * / now_real_ms. Milliseconds >= 0, or -1 when unknown.
 */
int64_t probe_heartbeat_lag_ms(const struct probe_heartbeat *hb, int64_t replica_seq,
			       int64_t replica_written_real_ms, int64_t now_mono_ms,
			       int64_t now_real_ms);

#endif
