/*
 * Today's restart (critical #1): the writer's probe address comes only from a
 * live Describe of the writer's region and the lag only from heartbeats seen
 * since the start. A restart during the outage never fails over. Expected:
 * SPIN finds an acceptance cycle for outage_ends (liveness, weak fairness).
 */
#define OLD_RESTART 1
#define CRASH_IN_OUTAGE 1
#define LIVE 1
#define F_PART 0
#define F_REPL 0
#define F_DENIED 0
#define F_SPEC 0
#define F_EXT 0
#define N_THROTTLE 0
#define N_STALE 0
#define N_TIMEOUT 0
#define N_WRITEFAIL 0
#include "failover.pml"
