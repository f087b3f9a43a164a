/*
 * Today's downgrade (high #4): a stale view hides the FailoverState, the
 * re-issued call is refused with InvalidGlobalClusterStateFault, method Auto
 * turns it into a detach, and step_detach keeps detaching the new primary
 * (refused for ever): the operation never ends, the CNAME never moves.
 * Expected: SPIN finds an acceptance cycle for outage_ends.
 */
#define OLD_DOWNGRADE 1
#define LIVE 1
#define F_PART 0
#define F_REPL 0
#define F_DENIED 0
#define F_SPEC 0
#define F_EXT 0
#define F_METHODS 0
#define N_STALE 2
#define N_THROTTLE 0
#define N_TIMEOUT 0
#define N_WRITEFAIL 0
#define N_CRASH 0
#include "failover.pml"
