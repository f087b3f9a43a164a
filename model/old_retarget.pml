/*
 * Today's retarget (critical #2 of the review): after RemoveFromGlobalCluster(B)
 * the target region's Describe is throttled, the planner cannot see the detach
 * and detaches C too. Expected: SPIN finds a second promotion (op_promos <= 1
 * fails). Check: safety.
 */
#define OLD_RETARGET 1
#define F_PART 0
#define F_REPL 0
#define F_DENIED 0
#define F_EXT 0
#define F_SPEC 0
#define N_STALE 0
#define N_TIMEOUT 0
#define N_WRITEFAIL 0
#define N_CRASH 0
#include "failover.pml"
