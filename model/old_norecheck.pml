/*
 * Today's re-issue without a re-check (high #5): a human fails over to C (or
 * the source recovers) while the call to B had no effect yet; the planner calls
 * FailoverGlobalCluster(B) again. Expected: SPIN finds a data-losing call
 * against a live writer. Check: safety.
 */
#define OLD_NORECHECK 1
#define F_PART 0
#define F_REPL 0
#define F_DENIED 0
#define F_SPEC 0
#define N_THROTTLE 0
#define N_STALE 0
#define N_WRITEFAIL 0
#define N_CRASH 0
#include "failover.pml"
