/*
 * Today's decision rule (critical #3): a controller cut off from a healthy
 * primary sees its probes fail and the primary's RDS API not answer, and fails
 * over. No regional outage happens in this model at all. Expected: SPIN finds a
 * data-losing call against a live primary (and two writers with detach).
 * Check: safety.
 */
#define OLD_PARTITION 1
#define F_OUTAGE 0
#define F_EXT 0
#define F_SPEC 0
#define N_THROTTLE 0
#define N_STALE 0
#define N_TIMEOUT 0
#define N_WRITEFAIL 0
#define N_CRASH 0
#include "failover.pml"
