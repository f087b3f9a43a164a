/*
 * Heartbeat history: a ring of (seq, send time) in increasing seq order, so
 * the first write a secondary lacks is found by a scan from the oldest entry.
 */
#include "pkg/probe/heartbeat.h"

#include <string.h>

void probe_heartbeat_init(struct probe_heartbeat *hb)
{
	memset(hb, 0, sizeof(*hb));
}

static size_t slot(const struct probe_heartbeat *hb, size_t i)
{
	/* i-th entry from the oldest. */
	return (hb->head + PROBE_HEARTBEAT_HISTORY - hb->count + i) % PROBE_HEARTBEAT_HISTORY;
}

void probe_heartbeat_record(struct probe_heartbeat *hb, int64_t seq, int64_t sent_mono_ms)
{
	if (hb->count > 0 && seq <= hb->ring[slot(hb, hb->count - 1)].seq)
		hb->count = 0;
	hb->ring[hb->head].seq = seq;
	hb->ring[hb->head].sent_mono_ms = sent_mono_ms;
	hb->head = (hb->head + 1) % PROBE_HEARTBEAT_HISTORY;
	if (hb->count < PROBE_HEARTBEAT_HISTORY)
		hb->count++;
}

int64_t probe_heartbeat_lag_ms(const struct probe_heartbeat *hb, int64_t replica_seq,
			       int64_t replica_written_real_ms, int64_t now_mono_ms,
			       int64_t now_real_ms)
{
	int64_t lag;
	size_t i;

	if (hb->count == 0)
		return -1;
	if (replica_seq >= hb->ring[slot(hb, hb->count - 1)].seq)
		return 0;
	for (i = 0; i < hb->count; i++)
		if (hb->ring[slot(hb, i)].seq > replica_seq)
			break;
	/* i < count: the newest entry is above replica_seq. */
	lag = now_mono_ms - hb->ring[slot(hb, i)].sent_mono_ms;
	if (hb->ring[slot(hb, i)].seq != replica_seq + 1 && replica_written_real_ms > 0 &&
	    now_real_ms - replica_written_real_ms > lag)
		lag = now_real_ms - replica_written_real_ms;
	return lag < 0 ? 0 : lag;
}
