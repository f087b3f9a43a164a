/*
 * prober.h - database health and replication-lag probes, all on one thread.
 *
 * A prober owns one thread that drives every probe target with libpq's
 * non-blocking API (PQconnectStartParams/PQconnectPoll, PQsendQueryParams,
 * PQconsumeInput/PQisBusy) and poll(2), so a thousand targets cost one thread
 * and a few hundred kilobytes, not a thread each.
 *
 * Targets. A writer target upserts a heartbeat row every period:
 *
 *   CREATE TABLE IF NOT EXISTS globaldb_heartbeat
 *     (id text PRIMARY KEY, written_at timestamptz NOT NULL, seq bigint NOT NULL)
 *   INSERT ... ON CONFLICT (id) DO UPDATE SET written_at = ..., seq = seq + 1 RETURNING seq
 *
 * (the table is created once per connection, if missing), or runs the
 * caller's own statement instead (then no lag can be measured against it). A
 * writer that lands on a read-only server (a standby) fails with
 * PROBE_ERR_READ_ONLY. A reader target reads that row on a secondary; with
 * lag_source naming the writer target, its verdict carries the measured
 * replication lag (see heartbeat.h for how, and why no clock of another
 * machine is trusted). Each verdict also carries the heartbeat's own
 * written_at (the writer's newest acknowledged one, the one a reader saw) and
 * when the current run of failures began: the evidence from which the
 * controller bounds the data a failover can lose (docs/api.md).
 *
 * A reader also asks the secondary how it hears its primary region, in a
 * second statement on the same connection within the same deadline:
 *
 *   SELECT age of max(last_lag_calculation_time) FROM aurora_global_db_status()
 *   WHERE durability_lag_in_msec IS DISTINCT FROM -1      (the primary's row is -1)
 *
 * Aurora keeps that row current from its storage-level replication, which
 * does not pass through the prober's network path: a secondary that heard
 * its primary a moment ago shows the primary alive even when the prober
 * cannot reach it. The age is taken on the secondary's own clock. A server
 * without the function (plain PostgreSQL) or a refused statement leaves the
 * view unknown and does not fail the probe.
 *
 * Deadlines. A probe never outlives policy.timeout_ms: not when the host drops
 * packets (no RST), not when the server accepts and never answers (SIGSTOP),
 * not when name resolution hangs. Names are resolved off the prober thread
 * (resolve.h) and libpq gets the numeric address as hostaddr, with host kept
 * for TLS verification. A name is resolved again for every new connection,
 * so a DNS change (a failover's CNAME flip) is followed; of several
 * addresses the first IPv4 one is used. On the deadline the probe's connection is closed
 * (PQfinish: a Terminate message into the socket buffer and close(2), neither
 * of which waits for the peer); no CancelRequest is sent, because that needs
 * a new, blocking connection to the very server that is not answering.
 *
 * Connections are kept between probes and re-established after any transport
 * error or timeout. At most max_connects_per_host new connections to one
 * host:port are in flight at once; further probes wait for a slot, oldest
 * first, and the wait counts against their deadline. (Without the limit a
 * thousand targets on a few servers connect at once, the servers cannot
 * finish the sessions before the deadlines, and every retry repeats it.) An idle connection the
 * server closed (restart, failover) is noticed when the next probe starts and replaced within that
 * probe.
 *
 * TLS and logins: sslmode defaults to "require"; "verify-full" with
 * sslrootcert (a CA bundle path) checks the server's certificate and name.
 * Unless allow_insecure_auth, every connection asks libpq for
 * channel_binding=require: SCRAM-SHA-256-PLUS bound to the TLS session is
 * the only login answered, so a host on the path that asks for a cleartext or
 * MD5 password, or for none, gets nothing and cannot pass for the server
 * (the probe fails with PROBE_ERR_INSECURE_AUTH); and sslmode disable and
 * allow, which start without TLS, are refused by probe_prober_set. With
 * allow_insecure_auth, libpq's defaults apply (channel_binding=prefer).
 * Either way a SCRAM iteration count above PROBE_SCRAM_MAX_ITERATIONS is
 * refused before libpq derives the key on this thread (scram.h).
 *
 * Each session runs with statement_timeout and lock_timeout below the probe's
 * timeout (policy.h), sent in the startup packet.
 *
 * Verdicts. Each result runs through the target's policy (policy.h). When the
 * health verdict changes, when a run of failures begins or ends (long before
 * the verdict changes: a controller records when a writer began to fail), and
 * (optionally) when the lag moves by lag_notify_step_ms or between known and
 * unknown, the notify callback runs
 * at once on the prober thread, outside the prober's lock, with a copy of the
 * verdict: it must be quick (enqueue a key) and may call probe_prober_get but
 * must not call probe_prober_free. The verdict table can be read from any
 * thread with probe_prober_get.
 *
 * Secrets. Passwords are copied, zeroed when freed, and never appear in a log
 * line, a verdict or a metric. libpq's error text (which can carry host
 * names and user names) is not passed on: a failure is reported as a class
 * (enum probe_error) plus the server's SQLSTATE when there is one.
 *
 * Metrics (pkg/base/metrics.h):
 *   globaldb_probe_failures_total{target,reason}  counter, reason = probe_error_name()
 *   globaldb_probe_duration_seconds{role}         histogram, role = writer|reader
 *   globaldb_replication_lag_seconds{target}      gauge, reader targets with a known lag
 *   globaldb_probe_healthy{target}                gauge, 1 healthy, 0 unhealthy or unknown
 * A removed target's series are removed.
 *
 * Logging: one line per health change (info when healthy, warn otherwise:
 * target, role, verdict, reason, sqlstate, lag).
 *
 * Cost: one thread for any number of targets, plus the resolver pool; an idle
 * target costs no wake-ups. A new connection costs the prober thread a SCRAM
 * key derivation (milliseconds of CPU), so a thousand targets warm up over a
 * few periods; established connections are reused.
 *
 * Thread-safety: every function may be called from any thread except the
 * notify callback's restriction above. No libpq call runs under the lock
 * that probe_prober_get takes.
 */
#ifndef PROBE_PROBER_H
#define PROBE_PROBER_H

#include <stdint.h>

#include "pkg/probe/policy.h"

#define PROBE_NAME_MAX 128 /* target names are at most 127 bytes */

enum probe_kind {
	PROBE_WRITER = 0,
	PROBE_READER = 1,
};

/* Why the last failed probe failed. */
enum probe_error {
	PROBE_ERR_NONE = 0,
	PROBE_ERR_RESOLVE,	 /* the host name did not resolve, or not before the deadline */
	PROBE_ERR_CONNECT,	 /* refused, reset, unreachable, or the server closed the session */
	PROBE_ERR_TLS,		 /* TLS handshake or certificate verification failed */
	PROBE_ERR_AUTH,		 /* the server refused the session: password, role, database, hba */
	PROBE_ERR_TIMEOUT,	 /* the deadline passed: server or network silent */
	PROBE_ERR_UNAVAILABLE,	 /* starting up, shutting down, too many connections */
	PROBE_ERR_READ_ONLY,	 /* the writer probe reached a read-only server */
	PROBE_ERR_QUERY,	 /* any other SQL error */
	PROBE_ERR_INSECURE_AUTH, /* the server asked for authentication the policy refuses */
};

/*
 * "none", "resolve", "connect", "tls", "auth", "timeout", "unavailable",
 * "read_only", "query", "insecure_auth".
 */
const char *probe_error_name(enum probe_error e);

/* A target's configuration. Every string is copied by probe_prober_set. */
struct probe_target {
	const char *name; /* unique key, 1..127 bytes; also the metrics label */
	enum probe_kind kind;
	const char *host;	      /* IP literal or DNS name */
	int port;		      /* 1..65535 */
	const char *dbname;	      /* NULL = "postgres" */
	const char *user;	      /* required */
	const char *password;	      /* NULL = none */
	const char *sslmode;	      /* NULL = "require" */
	const char *sslrootcert;      /* CA bundle file for verify-ca/verify-full, or NULL */
	int allow_insecure_auth;      /* 1: also cleartext, MD5, trust, and no TLS (below) */
	const char *heartbeat_table;  /* NULL = "globaldb_heartbeat"; [a-z_][a-z0-9_]{0,62} */
	const char *heartbeat_id;     /* row key, NULL = "globaldb-controller" */
	const char *writer_statement; /* writer: run this instead of the heartbeat, or NULL */
	const char *lag_source;	      /* reader: name of the writer target to measure lag against */
	struct probe_policy policy;
	/* The metrics' labels: the database and region this target probes (NULL = ""). */
	const char *label_namespace, *label_name, *label_region;
};

/* A snapshot of one target's verdict. */
struct probe_verdict {
	char name[PROBE_NAME_MAX];
	enum probe_kind kind;
	enum probe_health health;
	int consecutive_failures;
	int consecutive_successes;
	uint64_t probes;	      /* finished probes */
	int last_ok;		      /* the last finished probe succeeded */
	int64_t last_probe_unix_ms;   /* when the last probe finished, 0 = none yet */
	int64_t last_success_unix_ms; /* 0 = never */
	enum probe_error last_error;  /* class of the most recent failure (kept after recovery) */
	char last_sqlstate[6];	      /* the server's SQLSTATE for it, "" if none */
	int64_t last_duration_ms;     /* of the last finished probe */
	int64_t lag_ms;		      /* reader with lag_source: replication lag, -1 = unknown */
	int64_t lag_unix_ms;	      /* when lag_ms was measured, 0 = never */
	int64_t last_seq;	      /* writer: seq of the last heartbeat; reader: seq it saw */
	/*
	 * The heartbeat's written_at (this or an earlier prober's wall clock, unix
	 * ms): writer, of its newest acknowledged heartbeat; reader, of the row it
	 * read last (kept while later probes fail). 0 = none seen.
	 */
	int64_t heartbeat_written_unix_ms;
	/*
	 * When the first failed probe after the last successful one ended (wall
	 * clock, unix ms); 0 while the last probe succeeded or before any probe.
	 * For a writer: the last moment it may still have acknowledged writes,
	 * as far as this prober can tell.
	 */
	int64_t failing_since_unix_ms;
	/*
	 * Reader: how long before its last probe ended the secondary last heard
	 * its primary region (aurora_global_db_status, above), in ms;
	 * PROBE_UPSTREAM_NEVER when it reports no replication at all; -1
	 * unknown (the last probe failed, or the statement did).
	 */
	int64_t upstream_age_ms;
};

#define PROBE_UPSTREAM_NEVER INT64_MAX

/* Bits of the notify callback's changes argument. */
#define PROBE_CHANGED_HEALTH 1u
#define PROBE_CHANGED_LAG 2u
/* A run of failures began (failing_since_unix_ms was set) or ended (cleared). */
#define PROBE_CHANGED_FAILING 4u

typedef void (*probe_notify_fn)(void *arg, const struct probe_verdict *v, unsigned changes);

struct probe_options {
	probe_notify_fn notify; /* may be NULL */
	void *notify_arg;
	int64_t lag_notify_step_ms;   /* > 0: also notify lag moves of this much; 0: never */
	int resolver_threads;	      /* 0 = 2 */
	int max_connects_per_host;    /* new connections in flight per host:port; 0 = 8 */
	const char *application_name; /* NULL = "globaldb-controller" */
};

struct probe_prober;

/* Starts the prober thread. 0, BASE_EINVAL, or BASE_EIO. */
int probe_prober_new(const struct probe_options *opt, struct probe_prober **out);

/* Stops the thread, closes every connection, frees everything. NULL is fine. */
void probe_prober_free(struct probe_prober *p);

/*
 * Adds a target, or replaces the configuration of the target with the same
 * name (its verdict and history stay; a changed address or credential closes
 * its connection so that the next probe uses the new one). The first probe of
 * a new target starts within one period, spread by name so that many targets
 * added at once do not all connect at once. 0 or BASE_EINVAL.
 */
int probe_prober_set(struct probe_prober *p, const struct probe_target *t);

/* Removes a target (closing its connection). 0 or BASE_ENOTFOUND. */
int probe_prober_remove(struct probe_prober *p, const char *name);

/* Copies the verdict of target name into *out. 0 or BASE_ENOTFOUND. */
int probe_prober_get(struct probe_prober *p, const char *name, struct probe_verdict *out);

/* Counters for benchmarks and tests. */
struct probe_stats {
	uint64_t probes;   /* finished probes, all targets */
	uint64_t connects; /* connections started */
	uint64_t wakeups;  /* poll(2) returns of the prober thread */
	int targets;
};
void probe_prober_stats(struct probe_prober *p, struct probe_stats *out);

#endif
