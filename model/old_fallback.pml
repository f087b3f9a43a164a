/*
 * Today's fallback (high #7): DeleteOldGlobalCluster waits for every old
 * member's region to answer, also one the operator removed from the spec.
 * Expected: SPIN finds an acceptance cycle for fallback_ends.
 */
#define OLD_FALLBACK 1
#define LIVE 1
#define F_PART 0
#define F_REPL 0
#define F_DENIED 0
#define F_EXT 0
#define N_THROTTLE 0
#define N_STALE 0
#define N_TIMEOUT 0
#define N_WRITEFAIL 0
#define N_CRASH 0
#include "failover.pml"
