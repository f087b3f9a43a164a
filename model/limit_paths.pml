/*
 * The limit of one vantage point (assumption A1 in docs/protocol.md): drop the
 * assumption that the controller's path to a live primary and every
 * replication path from it do not fail together. The shipped protocol then
 * fails over a live primary: no single controller can tell this from an
 * outage. Expected: SPIN finds it (this documents the assumption; it is not a
 * defect of the protocol). Check: safety.
 */
#define NO_PATH_ASSUMPTION 1
#define F_EXT 0
#define F_SPEC 0
#define F_DENIED 0
#define N_THROTTLE 0
#define N_STALE 0
#define N_TIMEOUT 0
#define N_WRITEFAIL 0
#define N_CRASH 0
#include "failover.pml"
