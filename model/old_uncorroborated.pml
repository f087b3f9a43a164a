/*
 * The guard without corroboration (issue #18): one decision, but a
 * detach-and-promote on the acting controller's own view. One controller is
 * cut off from a live A while replication from A breaks (A1 dropped for that
 * vantage point only); the other still sees A, yet its verdict, if it has not
 * published one yet, cannot stop the detach. Expected: SPIN finds a
 * data-losing detach of a live writer. Check: safety.
 */
#define OLD_UNCORROBORATED 1
#define F_METHODS 0
#define N_CRASH 0
#define N_SKEW 0
#define N_STALE 0
#define N_TIMEOUT 0
#define F_PART 0
#define F_GPART 0
#define F_APPROVE 0
#include "two_controllers.pml"
