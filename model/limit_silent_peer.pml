/*
 * The limit of the managed fast path (docs/protocol.md, "Two controllers, one
 * decision"): a managed failover needs no co-signature, only the absence of a
 * fresh contrary verdict. One controller is cut off from a live A while
 * replication from A breaks (assumption A1 dropped for its vantage point) and
 * the other controller is silent (it has published no verdict yet, or it is
 * cut off from the guard). The managed failover then goes ahead against a live
 * primary: AWS fences A (never two writers), but the writes A took after the
 * replication broke are lost. Expected: SPIN finds it (this documents the
 * assumption, as limit_paths.pml does for one controller). Check: safety.
 */
#define N_CRASH 0
#define N_SKEW 0
#define N_STALE 0
#define N_TIMEOUT 0
#define F_PART 0
#define F_GPART 0
#define F_APPROVE 0
#include "two_controllers.pml"
