/*
 * The residual window of the guard (docs/protocol.md, "What the epoch can and
 * cannot fence"): drop assumption A9, so a call can stay on the wire while
 * its holder's lease runs out. The other controller takes over (same
 * operation, same target), region A returns, the new holder cancels, and
 * then AWS applies the old holder's detach: RDS does not check our epoch.
 * Expected: SPIN finds it (this documents the window that the lease margin
 * and the quarantine after a timed-out call shrink; it is why the holder never
 * starts a call with less than the call timeout left). Check: safety.
 */
#define IN_FLIGHT 1
#define F_METHODS 0
#define N_CRASH 0
#define N_STALE 0
#define N_TIMEOUT 0
#define F_PART 0
#define F_GPART 0
#define F_FOOL 0
#define F_APPROVE 0
#include "two_controllers.pml"
