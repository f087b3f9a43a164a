/*
 * Two controllers without a guard (issue #18): the same GlobalDatabase applied
 * in two regions, each controller deciding alone with its own status and the
 * one-controller rules of failover.pml. Both see the regional outage of A;
 * each fails over to a target of its own. Expected: SPIN finds a second
 * promotion (two detaches of different members: RDS serializes neither).
 * Check: safety.
 */
#define OLD_ALONE 1
#define N_CRASH 0
#define N_SKEW 0
#define N_TIMEOUT 0
#define F_PART 0
#define F_GPART 0
#define F_FOOL 0
#define F_APPROVE 0
#include "two_controllers.pml"
