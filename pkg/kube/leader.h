/*
 * leader.h - leader election on a coordination.k8s.io/v1 Lease.
 *
 * client-go's LeaderElector with controller-runtime's defaults (lease 15 s,
 * renew deadline 10 s, retry period 2 s):
 *  - candidates poll the Lease every retry period (jittered up to +20 %),
 *    and also right when the current holder's lease would lapse; a missing
 *    Lease is created; an empty holder is taken at once;
 *  - expiry is judged only by local monotonic time: a candidate remembers
 *    when it last saw the lease record *change*, and takes the lease when
 *    that is longer ago than the record's leaseDurationSeconds. Remote
 *    renewTime values are never compared with the local clock, so clock skew
 *    cannot produce two leaders;
 *  - every write is an update guarded by resourceVersion (a 409 means
 *    someone else wrote first: not leader this round);
 *  - the leader renews every retry period; each request's timeout is cut so
 *    it cannot run past the renew deadline; if no renew succeeded within the
 *    renew deadline (counted from the start of the last successful request),
 *    leadership is lost: on_stopped_leading runs and the elector stops (the
 *    binary is expected to exit, as controller-runtime does);
 *  - kube_leader_free while leading releases the lease (holderIdentity
 *    cleared, leaseDurationSeconds 1) so a successor need not wait.
 * Because lease duration > renew deadline, a leader always stops before any
 * other candidate can consider its lease expired.
 *
 * Metrics: leader_election_master_status{name} (1 while leading).
 *
 * Thread-safety: the elector runs its own thread; callbacks run on it.
 * kube_leader_is_leader may be called from any thread.
 */
#ifndef KUBE_LEADER_H
#define KUBE_LEADER_H

#include <stdint.h>

#include "pkg/kube/rest.h"

#define KUBE_LEASE_DURATION_MS 15000
#define KUBE_RENEW_DEADLINE_MS 10000
#define KUBE_RETRY_PERIOD_MS 2000

struct kube_leader_opts {
	const char *ns;		   /* the Lease's namespace; required */
	const char *name;	   /* the Lease's name; required */
	const char *identity;	   /* this candidate, unique (e.g. pod name + random); required */
	int64_t lease_duration_ms; /* 0 = default; whole seconds on the wire */
	int64_t renew_deadline_ms; /* 0 = default */
	int64_t retry_period_ms;   /* 0 = default */
	void (*on_started_leading)(void *ud);
	/* Leadership lost (renew deadline passed) or released on free. */
	void (*on_stopped_leading)(void *ud);
	/* The observed holder changed (NULL/"" = nobody). Optional. */
	void (*on_new_leader)(void *ud, const char *identity);
	void *ud;
};

struct kube_leader;

/*
 * Validates opts (lease > renew deadline > 1.2 x retry period; BASE_EINVAL
 * otherwise) and starts the elector thread. client is borrowed and must
 * outlive the elector. Strings are copied.
 */
int kube_leader_start(struct kube_client *client, const struct kube_leader_opts *opts,
		      struct kube_leader **out);

/* True while this candidate holds the lease. */
int kube_leader_is_leader(struct kube_leader *le);

/* Stops the elector; releases the lease if leading (calling on_stopped_leading). NULL is fine. */
void kube_leader_free(struct kube_leader *le);

#endif
