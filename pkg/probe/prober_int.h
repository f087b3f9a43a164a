/*
 * prober_int.h - private to the prober; not a manual for callers (prober.h is).
 *
 * The prober is split over three files: the public API and the targets'
 * configuration (prober.c), one target's probe on libpq (prober_target.c), and
 * the thread's scheduling and loop (prober_sched.c). This header holds what
 * they share: the prober's and a target's state, the metrics, and the helpers
 * one file defines and another calls.
 */
#ifndef GDB_PROBE_PROBER_INT_H
#define GDB_PROBE_PROBER_INT_H

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "pkg/base/map.h"
#include "pkg/base/metrics.h"
#include "pkg/probe/heartbeat.h"
#include "pkg/probe/prober.h"
#include "pkg/probe/resolve.h"

#define DEFAULT_TABLE "globaldb_heartbeat"
#define DEFAULT_HEARTBEAT_ID "globaldb-controller"
#define DEFAULT_APPLICATION "globaldb-controller"
#define MAX_STRING 4096	  /* any configured string: host, user, statement... */
#define PASS_BUDGET_MS 20 /* socket work per pass before deadlines are checked again */

enum phase {
	PH_IDLE = 0,
	PH_QUEUED, /* waiting for a connection slot for its host */
	PH_RESOLVING,
	PH_CONNECTING,
	PH_SETUP,
	PH_QUERY,
	PH_UPSTREAM, /* reader: the secondary's view of its primary region */
};

/* A target's configuration: owned copies, plus the statements built from it. */
struct config {
	char *host, *dbname, *user, *password, *sslmode, *sslrootcert;
	char *table, *heartbeat_id, *statement, *lag_source;
	char *labels[3]; /* the metrics' namespace, name, region; never NULL */
	int port;
	int allow_insecure_auth;
	enum probe_kind kind;
	struct probe_policy policy;
};

/*
 * Ownership: name is immutable. removed, pending and v are shared, under the
 * prober lock. Everything else belongs to the prober thread, which alone
 * touches it, without the lock (connection calls included: SCRAM's key
 * derivation alone takes milliseconds, so they must not run under the lock).
 */
/* The metric labels of a target: namespace, name, region. */
#define TARGET_LABELS(t) (t)->c.labels[0], (t)->c.labels[1], (t)->c.labels[2]

struct target {
	char *name;
	int removed;		/* shared: probe_prober_remove was called */
	int changed;		/* shared: listed in the prober's changed list */
	struct config *pending; /* shared: a new configuration from probe_prober_set */
	struct probe_verdict v; /* shared: the published verdict */

	struct config c;

	size_t pos; /* its index in targets */
	/* Where the prober thread keeps it: idle in the due heap, else in the active list. */
	size_t heap_pos;   /* 1 + its index in the due heap, 0 = not there */
	size_t active_pos; /* 1 + its index in the active list, 0 = not there */

	/* The probe in flight. */
	enum phase phase;
	int64_t next_due_ms;  /* monotonic */
	int64_t started_ms;   /* monotonic */
	int64_t deadline_ms;  /* monotonic */
	int64_t sent_ms;      /* monotonic: probe statement sent */
	int64_t sent_real_ms; /* wall clock: the heartbeat's written_at */
	struct probe_resolve_req *rq;
	char *slot_key; /* "host:port" while holding a connection slot */
	int in_fifo;	/* listed in the prober's slot queue */
	PGconn *conn;
	int conn_ready;	 /* connected: reusable for the next probe */
	int table_ready; /* writer: the heartbeat table exists on this connection */
	short events;	 /* what the socket waits for */
	int failed;	 /* a result of the statement was an error */
	enum probe_error err;
	char sqlstate[6];
	int got_row;
	int64_t row_seq, row_written_ms;
	int64_t upstream_age_ms; /* reader: this probe's answer, -1 none */

	/* Results. */
	/* Writer: acknowledged heartbeats (1 KB), from its first write on; NULL before and for
	 * readers. */
	struct probe_heartbeat *hb;
	struct probe_state st;
	struct probe_verdict pv; /* the prober thread's copy, published into v */
	int64_t lag_notified_ms; /* lag at the last lag notification, -1 unknown */
};

struct note {
	struct probe_verdict v;
	unsigned changes;
};

struct probe_prober {
	pthread_mutex_t lock;
	pthread_t thread;
	int wake_fd;
	int stopping;
	struct probe_options opt;
	char *application_name;
	int max_per_host;
	struct probe_resolver *resolver;

	/*
	 * targets: written by the prober thread only, under the lock, so it
	 * reads them without. New targets wait in incoming (under the lock)
	 * until the prober thread's next pass takes them over.
	 */
	struct target **targets;
	size_t ntargets, alloc;
	struct target **incoming;
	size_t nincoming, incoming_alloc;
	/* Targets removed or given a new configuration since the last pass (under the lock). */
	struct target **changed;
	size_t nchanged, changed_alloc;
	struct probe_stats stats; /* under the lock, published once per pass */
	/*
	 * The live (not removed) targets by name, under the lock: a reconcile
	 * reading a verdict and a reader's probe finding its writer look up
	 * one of thousands.
	 */
	struct base_map index;

	/* Prober thread only. */
	struct probe_stats pstats;
	unsigned rotor;
	struct target **dead;
	size_t dead_alloc;
	/* Connection attempts in flight per "host:port", and the targets waiting for one. */
	struct slot {
		char *key;
		int inflight;
	} * slots;
	size_t nslots, slots_alloc;
	struct target **fifo;
	size_t nfifo, fifo_alloc;
	/*
	 * Idle targets wait in a min-heap on next_due_ms, the others in the
	 * active list: a pass visits the probes in flight (a handful) and the
	 * due ones, not every target, though thousands are idle.
	 */
	struct target **heap;
	size_t nheap, heap_alloc;
	struct target **active;
	size_t nactive, active_alloc;
	struct pollfd *pfds;
	struct target **pfd_targets;
	size_t pfd_alloc;
	struct note *notes;
	size_t nnotes, notes_alloc;
};

extern struct base_metric *m_failures, *m_duration, *m_lag, *m_healthy;

/* prober.c */
const char *role_name(enum probe_kind k);
void config_release(struct config *c);
int connection_differs(const struct config *a, const struct config *b);
int heartbeat_differs(const struct config *a, const struct config *b);

/* prober_target.c */
void close_conn(struct target *t);
void abort_probe(struct probe_prober *p, struct target *t);
struct target *find_locked(struct probe_prober *p, const char *name);
void finish(struct probe_prober *p, struct target *t, int ok, enum probe_error err,
	    const char *sqlstate);
void grant_slots(struct probe_prober *p);
void start_probe(struct probe_prober *p, struct target *t, int64_t now);
void advance(struct probe_prober *p, struct target *t, short revents);
void expire(struct probe_prober *p, struct target *t);
void check_resolution(struct probe_prober *p, struct target *t);

/* prober_sched.c */
int slot_acquire(struct probe_prober *p, struct target *t);
void slot_release(struct probe_prober *p, struct target *t);
void fifo_push(struct probe_prober *p, struct target *t);
void free_target(struct probe_prober *p, struct target *t);
void *run(void *arg);

#endif
