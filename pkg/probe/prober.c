/*
 * The prober thread: one loop over every target.
 *
 * Size: over the house's 800 lines; the target state machine on libpq and the
 * scheduling (heap, slots, resolver) are the seam for its split (issue 22, open).
 *
 * Each target is a small state machine: IDLE until its next probe is due;
 * RESOLVING while the resolver pool looks up its host; CONNECTING through
 * libpq's PQconnectPoll; SETUP while the writer's CREATE TABLE IF NOT EXISTS
 * runs on a fresh connection; QUERY while the probe statement runs; UPSTREAM
 * while a reader asks aurora_global_db_status() after its heartbeat read.
 * Each pass starts due probes, fails the ones past their deadline, computes the
 * poll timeout from the earliest due time or deadline, polls, and advances the sockets that are
 * ready, for at most PASS_BUDGET_MS before checking deadlines again.
 *
 * Only probes in flight put their socket in the poll set: idle connections
 * are checked (PQconsumeInput) when the next probe starts, so an idle target
 * costs nothing between probes.
 *
 * Locking: libpq calls never run under the prober lock (a SCRAM exchange
 * spends milliseconds deriving keys), so readers of the verdict table wait
 * only for a copy. Other threads never touch a target's connection or
 * configuration: probe_prober_set queues new targets in `incoming` and new
 * configurations in `pending`, probe_prober_remove sets `removed`, and the
 * prober thread takes these over at the start of each pass. Each finished
 * probe publishes the thread's private verdict copy (pv) into the shared
 * one (v) under the lock. Only the prober thread frees targets, so the
 * pointers it holds across poll() stay valid.
 */
#include "pkg/probe/prober.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/probe/heartbeat.h"
#include "pkg/probe/resolve.h"
#include "pkg/probe/scram.h"
#include <sys/socket.h>

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

static struct base_metric *m_failures, *m_duration, *m_lag, *m_healthy;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
	static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					 0.25,	0.5,	1,     2.5,  5,	    10};

	m_failures =
		base_metric_counter("globaldb_probe_failures_total",
				    "Failed database probes by target and reason", "target,reason");
	m_duration = base_metric_histogram("globaldb_probe_duration_seconds",
					   "Duration of database probes (connect included)", "role",
					   buckets, ARRAY_SIZE(buckets));
	m_lag = base_metric_gauge("globaldb_replication_lag_seconds",
				  "Replication lag measured by heartbeat, per reader target",
				  "target");
	m_healthy = base_metric_gauge("globaldb_probe_healthy",
				      "1 when the target's probe verdict is healthy", "target");
}

const char *probe_error_name(enum probe_error e)
{
	switch (e) {
	case PROBE_ERR_NONE:
		return "none";
	case PROBE_ERR_RESOLVE:
		return "resolve";
	case PROBE_ERR_CONNECT:
		return "connect";
	case PROBE_ERR_TLS:
		return "tls";
	case PROBE_ERR_AUTH:
		return "auth";
	case PROBE_ERR_TIMEOUT:
		return "timeout";
	case PROBE_ERR_UNAVAILABLE:
		return "unavailable";
	case PROBE_ERR_INSECURE_AUTH:
		return "insecure_auth";
	case PROBE_ERR_READ_ONLY:
		return "read_only";
	case PROBE_ERR_QUERY:
		return "query";
	}
	return "unknown";
}

static const char *role_name(enum probe_kind k)
{
	return k == PROBE_WRITER ? "writer" : "reader";
}

static void wake(struct probe_prober *p)
{
	uint64_t one = 1;

	/* An eventfd only refuses to count when saturated: a wake-up is pending anyway. */
	if (write(p->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/* ---- configuration ----------------------------------------------------- */

static int valid_string(const char *s, int required)
{
	if (!s)
		return !required;
	return s[0] != '\0' && strnlen(s, MAX_STRING + 1) <= MAX_STRING;
}

static int valid_identifier(const char *s)
{
	size_t i;

	if (!s[0] || strlen(s) > 63 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

static int valid_sslmode(const char *s)
{
	static const char *const modes[] = {"disable", "allow",	    "prefer",
					    "require", "verify-ca", "verify-full"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(modes); i++)
		if (!strcmp(s, modes[i]))
			return 1;
	return 0;
}

static int validate(const struct probe_target *t)
{
	if (!t || !t->name || !t->name[0] || strnlen(t->name, PROBE_NAME_MAX) >= PROBE_NAME_MAX)
		return BASE_EINVAL;
	if (t->kind != PROBE_WRITER && t->kind != PROBE_READER)
		return BASE_EINVAL;
	if (!valid_string(t->host, 1) || t->port < 1 || t->port > 65535)
		return BASE_EINVAL;
	if (!valid_string(t->user, 1) || !valid_string(t->dbname, 0) ||
	    (t->password && strnlen(t->password, MAX_STRING + 1) > MAX_STRING) ||
	    !valid_string(t->sslrootcert, 0) || !valid_string(t->heartbeat_id, 0) ||
	    !valid_string(t->writer_statement, 0) || !valid_string(t->lag_source, 0))
		return BASE_EINVAL;
	if (t->sslmode && !valid_sslmode(t->sslmode))
		return BASE_EINVAL;
	/*
	 * disable and allow start without TLS, where channel binding cannot
	 * work: only where insecure authentication is allowed.
	 */
	if (t->sslmode && (!strcmp(t->sslmode, "disable") || !strcmp(t->sslmode, "allow")) &&
	    !t->allow_insecure_auth)
		return BASE_EINVAL;
	if (t->heartbeat_table && !valid_identifier(t->heartbeat_table))
		return BASE_EINVAL;
	if (t->kind == PROBE_READER && t->writer_statement)
		return BASE_EINVAL;
	return probe_policy_validate(&t->policy);
}

static char *dup_or(const char *s, const char *fallback)
{
	if (s)
		return xstrdup(s);
	return fallback ? xstrdup(fallback) : NULL;
}

static void config_release(struct config *c)
{
	free(c->host);
	free(c->dbname);
	free(c->user);
	base_free_secret(c->password);
	free(c->sslmode);
	free(c->sslrootcert);
	free(c->table);
	free(c->heartbeat_id);
	free(c->statement);
	free(c->lag_source);
	memset(c, 0, sizeof(*c));
}

static void config_init(struct config *c, const struct probe_target *t)
{
	c->kind = t->kind;
	c->port = t->port;
	c->allow_insecure_auth = !!t->allow_insecure_auth;
	c->policy = t->policy;
	c->host = xstrdup(t->host);
	c->dbname = dup_or(t->dbname, "postgres");
	c->user = xstrdup(t->user);
	c->password = dup_or(t->password, NULL);
	c->sslmode = dup_or(t->sslmode, "require");
	c->sslrootcert = dup_or(t->sslrootcert, NULL);
	c->table = dup_or(t->heartbeat_table, DEFAULT_TABLE);
	c->heartbeat_id = dup_or(t->heartbeat_id, DEFAULT_HEARTBEAT_ID);
	c->statement = dup_or(t->writer_statement, NULL);
	c->lag_source = dup_or(t->lag_source, NULL);
}

/*
 * The heartbeat statements, made when sent rather than kept per target (2,000
 * targets are 2,000 copies). The table name is a validated identifier of at
 * most 63 bytes, so it can be spliced in, and the statement fits buf.
 */
#define SQL_MAX 320
static const char *heartbeat_sql(const struct config *c, enum phase ph, char buf[SQL_MAX])
{
	if (ph == PH_SETUP)
		snprintf(buf, SQL_MAX,
			 "CREATE TABLE IF NOT EXISTS %s (id text PRIMARY KEY, "
			 "written_at timestamptz NOT NULL, seq bigint NOT NULL)",
			 c->table);
	else if (c->kind == PROBE_READER)
		snprintf(buf, SQL_MAX,
			 "SELECT seq, (extract(epoch FROM written_at) * 1000)::int8 "
			 "FROM %s WHERE id = $1",
			 c->table);
	else
		snprintf(buf, SQL_MAX,
			 "INSERT INTO %s AS h (id, written_at, seq) "
			 "VALUES ($1, to_timestamp($2::float8 / 1000), 1) "
			 "ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at, "
			 "seq = h.seq + 1 RETURNING seq",
			 c->table);
	return buf;
}

/*
 * A reader's second statement: how long ago (on the server's clock) the
 * secondary last received replication from its primary region. Aurora's
 * aurora_global_db_status() has a row per cluster of the global database; the
 * primary's has durability_lag_in_msec -1. NULL when no secondary row has a
 * time: the secondary reports no replication at all.
 */
static const char UPSTREAM_SQL[] =
	"SELECT (extract(epoch FROM clock_timestamp() - max(last_lag_calculation_time)) * "
	"1000)::int8 FROM aurora_global_db_status() "
	"WHERE durability_lag_in_msec IS DISTINCT FROM -1";

static int str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

/* True when going from a to b needs a new connection. */
static int connection_differs(const struct config *a, const struct config *b)
{
	return str_differs(a->host, b->host) || a->port != b->port ||
	       str_differs(a->user, b->user) || str_differs(a->password, b->password) ||
	       str_differs(a->dbname, b->dbname) || str_differs(a->sslmode, b->sslmode) ||
	       str_differs(a->sslrootcert, b->sslrootcert) || str_differs(a->table, b->table) ||
	       str_differs(a->statement, b->statement) || a->kind != b->kind ||
	       a->allow_insecure_auth != b->allow_insecure_auth;
}

/* True when going from a to b makes the heartbeat history meaningless. */
static int heartbeat_differs(const struct config *a, const struct config *b)
{
	return a->kind != b->kind || str_differs(a->table, b->table) ||
	       str_differs(a->heartbeat_id, b->heartbeat_id);
}

/* ---- probe lifecycle (prober thread) ---------------------------------- */

/*
 * Connection slots. New connections to one host:port are limited to
 * max_connects_per_host at a time, granted in the order probes asked for
 * them. Without the limit, a thousand targets on a few servers connect all
 * at once, the servers fork and authenticate more sessions than they can
 * finish before the deadlines, every attempt times out, is retried the
 * next period, and none ever completes. Waiting for a slot counts against
 * the probe's deadline, so a host that hangs its slots still has each of
 * its probes fail on time.
 */
static struct slot *slot_find(struct probe_prober *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->nslots; i++)
		if (!strcmp(p->slots[i].key, key))
			return &p->slots[i];
	return NULL;
}

static int slot_acquire(struct probe_prober *p, struct target *t)
{
	char *key = xasprintf("%s:%d", t->c.host, t->c.port);
	struct slot *s = slot_find(p, key);

	if (s && s->inflight >= p->max_per_host) {
		free(key);
		return 0;
	}
	if (!s) {
		if (p->nslots == p->slots_alloc) {
			p->slots_alloc = p->slots_alloc ? 2 * p->slots_alloc : 16;
			p->slots = xrealloc(p->slots, p->slots_alloc * sizeof(*p->slots));
		}
		s = &p->slots[p->nslots++];
		s->key = xstrdup(key);
		s->inflight = 0;
	}
	s->inflight++;
	t->slot_key = key;
	return 1;
}

static void slot_release(struct probe_prober *p, struct target *t)
{
	struct slot *s;

	if (!t->slot_key)
		return;
	s = slot_find(p, t->slot_key);
	BUG_ON(!s || s->inflight <= 0);
	if (--s->inflight == 0) {
		free(s->key);
		*s = p->slots[--p->nslots];
	}
	free(t->slot_key);
	t->slot_key = NULL;
}

static void fifo_push(struct probe_prober *p, struct target *t)
{
	if (t->in_fifo)
		return;
	if (p->nfifo == p->fifo_alloc) {
		p->fifo_alloc = p->fifo_alloc ? 2 * p->fifo_alloc : 64;
		p->fifo = xrealloc(p->fifo, p->fifo_alloc * sizeof(*p->fifo));
	}
	p->fifo[p->nfifo++] = t;
	t->in_fifo = 1;
}

static void fifo_forget(struct probe_prober *p, struct target *t)
{
	size_t i, j = 0;

	if (!t->in_fifo)
		return;
	for (i = 0; i < p->nfifo; i++)
		if (p->fifo[i] != t)
			p->fifo[j++] = p->fifo[i];
	p->nfifo = j;
	t->in_fifo = 0;
}

static void close_conn(struct target *t)
{
	if (t->conn) {
		PQfinish(t->conn);
		t->conn = NULL;
	}
	t->conn_ready = 0;
	t->table_ready = 0;
}

static void abort_probe(struct probe_prober *p, struct target *t)
{
	probe_resolve_release(p->resolver, t->rq);
	t->rq = NULL;
	slot_release(p, t);
	if (t->phase != PH_IDLE && !t->conn_ready)
		close_conn(t);
	t->phase = PH_IDLE;
}

/* The live target called name, in targets or incoming. Prober lock held. */
static struct target *find_locked(struct probe_prober *p, const char *name)
{
	return base_map_get(&p->index, name);
}

/*
 * The writer target called name. Prober thread: only this thread frees
 * targets, so the pointer stays good for the rest of the pass.
 */
static struct target *find_writer(struct probe_prober *p, const char *name)
{
	struct target *t;

	pthread_mutex_lock(&p->lock);
	t = find_locked(p, name);
	pthread_mutex_unlock(&p->lock);
	return t && t->c.kind == PROBE_WRITER ? t : NULL;
}

static void push_note(struct probe_prober *p, const struct target *t, unsigned changes)
{
	if (p->nnotes == p->notes_alloc) {
		p->notes_alloc = p->notes_alloc ? 2 * p->notes_alloc : 16;
		p->notes = xrealloc(p->notes, p->notes_alloc * sizeof(*p->notes));
	}
	p->notes[p->nnotes].v = t->pv;
	p->notes[p->nnotes].changes = changes;
	p->nnotes++;
}

static int lag_moved(const struct probe_prober *p, const struct target *t)
{
	int64_t step = p->opt.lag_notify_step_ms, d;

	if (step <= 0)
		return 0;
	if ((t->pv.lag_ms < 0) != (t->lag_notified_ms < 0))
		return 1;
	d = t->pv.lag_ms - t->lag_notified_ms;
	return d >= step || -d >= step;
}

static void finish(struct probe_prober *p, struct target *t, int ok, enum probe_error err,
		   const char *sqlstate)
{
	int64_t now = base_now_mono_ms(), now_real = base_now_real_ms();
	unsigned changes = 0;
	char lagbuf[32];

	t->phase = PH_IDLE;
	probe_resolve_release(p->resolver, t->rq);
	t->rq = NULL;
	slot_release(p, t);
	/* A transport failure or timeout leaves the connection unusable or suspect. */
	if (!ok && err != PROBE_ERR_READ_ONLY && err != PROBE_ERR_QUERY)
		close_conn(t);
	if (t->conn && PQstatus(t->conn) != CONNECTION_OK)
		close_conn(t);

	p->pstats.probes++;
	t->pv.probes++;
	t->pv.last_ok = ok;
	t->pv.last_probe_unix_ms = now_real;
	t->pv.last_duration_ms = now - t->started_ms;
	base_metric_observe(m_duration, (double)(now - t->started_ms) / 1000.0,
			    role_name(t->c.kind));
	if ((t->pv.failing_since_unix_ms == 0) != (ok != 0))
		changes |= PROBE_CHANGED_FAILING;
	if (ok) {
		t->pv.last_success_unix_ms = now_real;
		t->pv.failing_since_unix_ms = 0;
	} else {
		if (t->pv.failing_since_unix_ms == 0)
			t->pv.failing_since_unix_ms = now_real;
		t->pv.last_error = err;
		snprintf(t->pv.last_sqlstate, sizeof(t->pv.last_sqlstate), "%s",
			 sqlstate ? sqlstate : "");
		base_metric_add(m_failures, 1, t->name, probe_error_name(err));
	}
	if (probe_policy_record(&t->c.policy, &t->st, ok))
		changes |= PROBE_CHANGED_HEALTH;
	t->pv.health = t->st.health;
	t->pv.consecutive_failures = t->st.consecutive_failures;
	t->pv.consecutive_successes = t->st.consecutive_successes;

	if (ok && t->c.kind == PROBE_WRITER && t->got_row && !t->c.statement) {
		if (!t->hb) {
			t->hb = xmalloc(sizeof(*t->hb));
			probe_heartbeat_init(t->hb);
		}
		probe_heartbeat_record(t->hb, t->row_seq, t->sent_ms);
		t->pv.last_seq = t->row_seq;
		t->pv.heartbeat_written_unix_ms = t->sent_real_ms;
	}
	/* What a reader saw stays evidence of what its server holds, lag source or not. */
	if (ok && t->c.kind == PROBE_READER && t->got_row && t->row_written_ms > 0)
		t->pv.heartbeat_written_unix_ms = t->row_written_ms;
	if (t->c.kind == PROBE_READER)
		t->pv.upstream_age_ms = ok ? t->upstream_age_ms : -1;
	if (ok && t->c.kind == PROBE_READER && t->c.lag_source) {
		struct target *w = find_writer(p, t->c.lag_source);

		t->pv.lag_ms = -1;
		if (t->got_row) {
			t->pv.last_seq = t->row_seq;
			if (w && w->hb)
				t->pv.lag_ms = probe_heartbeat_lag_ms(
					w->hb, t->row_seq, t->row_written_ms, now, now_real);
		}
		t->pv.lag_unix_ms = now_real;
		if (t->pv.lag_ms >= 0)
			base_metric_set(m_lag, (double)t->pv.lag_ms / 1000.0, t->name);
		else
			base_metric_remove(m_lag, t->name);
		if (lag_moved(p, t)) {
			changes |= PROBE_CHANGED_LAG;
			t->lag_notified_ms = t->pv.lag_ms;
		}
	}

	if (changes & PROBE_CHANGED_HEALTH) {
		base_metric_set(m_healthy, t->pv.health == PROBE_HEALTHY ? 1 : 0, t->name);
		base_log(t->pv.health == PROBE_HEALTHY ? BASE_LOG_INFO : BASE_LOG_WARN,
			 "probe verdict changed", "target", t->name, "role", role_name(t->c.kind),
			 "verdict", probe_health_name(t->pv.health), "reason",
			 ok ? "ok" : probe_error_name(err), "sqlstate", t->pv.last_sqlstate,
			 "lag_ms", base_fmt(lagbuf, sizeof(lagbuf), "%" PRId64, t->pv.lag_ms),
			 NULL);
	}
	if (changes)
		push_note(p, t, changes);
	pthread_mutex_lock(&p->lock);
	t->v = t->pv;
	pthread_mutex_unlock(&p->lock);

	/*
	 * Keep the cadence of starts. timeout <= period, so only a probe that
	 * ran into its deadline reaches the next start, and then the next
	 * probe starts at once: a silent server costs one timeout per probe,
	 * and failure_threshold probes fail within threshold * period + timeout.
	 */
	t->next_due_ms = t->started_ms + t->c.policy.period_ms;
	if (t->next_due_ms < now)
		t->next_due_ms = now;
}

/*
 * The SQLSTATE of the server's refusal, from libpq's message: connections ask
 * for PQERRORS_SQLSTATE, so a server's error reads "FATAL:  28P01". Only the
 * code is kept: the rest of the text can carry host and user names.
 */
static void message_sqlstate(const char *m, char out[6])
{
	const char *q, *c;
	int i;

	out[0] = '\0';
	for (q = strstr(m, ":  "); q; q = strstr(q + 1, ":  ")) {
		c = q + 3;
		for (i = 0; i < 5 && ((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'A' && c[i] <= 'Z'));
		     i++)
			;
		if (i == 5 && (c[5] == '\0' || c[5] == '\n' || c[5] == ':')) {
			memcpy(out, c, 5);
			out[5] = '\0';
			return;
		}
	}
}

/*
 * Why a connection attempt failed. The server's SQLSTATE when it refused the
 * session; otherwise libpq's own message (English: it is built without NLS).
 */
static enum probe_error classify_connect(PGconn *conn, char state[6])
{
	const char *m = conn ? PQerrorMessage(conn) : "";

	message_sqlstate(m, state);
	if (state[0]) {
		if (!strncmp(state, "28", 2) || !strcmp(state, "42501") || !strcmp(state, "3D000"))
			return PROBE_ERR_AUTH;
		if (!strncmp(state, "57P", 3) || !strncmp(state, "53", 2) ||
		    !strncmp(state, "08", 2))
			return PROBE_ERR_UNAVAILABLE;
		return PROBE_ERR_CONNECT;
	}
	/* channel_binding=require refused what the server offered (policy.h of the probes). */
	if (strstr(m, "channel binding"))
		return PROBE_ERR_INSECURE_AUTH;
	if (strstr(m, "SSL") || strstr(m, "certificate") || strstr(m, "TLS"))
		return PROBE_ERR_TLS;
	if (strstr(m, "SCRAM") || strstr(m, "password") || strstr(m, "authentication"))
		return PROBE_ERR_AUTH;
	return PROBE_ERR_CONNECT;
}

/* A failed connection attempt: its class, and the SQLSTATE of the server's refusal if any. */
static void connect_failed(struct probe_prober *p, struct target *t)
{
	char state[6];
	enum probe_error e = classify_connect(t->conn, state);

	finish(p, t, 0, e, state[0] ? state : NULL);
}
static enum probe_error classify_sqlstate(const char *s)
{
	if (!s)
		return PROBE_ERR_QUERY;
	if (!strcmp(s, "25006"))
		return PROBE_ERR_READ_ONLY;
	if (!strncmp(s, "57P", 3) || !strcmp(s, "53300") || !strncmp(s, "08", 2))
		return PROBE_ERR_UNAVAILABLE;
	if (!strncmp(s, "28", 2) || !strcmp(s, "42501"))
		return PROBE_ERR_AUTH;
	return PROBE_ERR_QUERY;
}

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void send_statement(struct probe_prober *p, struct target *t, enum phase ph)
{
	const char *params[2];
	char ms[32], sql[SQL_MAX];
	int rc;

	t->phase = ph;
	if (ph == PH_SETUP) {
		rc = PQsendQuery(t->conn, heartbeat_sql(&t->c, ph, sql));
	} else if (ph == PH_UPSTREAM) {
		t->failed = 0;
		rc = PQsendQuery(t->conn, UPSTREAM_SQL);
	} else if (t->c.statement) {
		rc = PQsendQuery(t->conn, t->c.statement);
	} else if (t->c.kind == PROBE_READER) {
		params[0] = t->c.heartbeat_id;
		rc = PQsendQueryParams(t->conn, heartbeat_sql(&t->c, ph, sql), 1, NULL, params,
				       NULL, NULL, 0);
	} else {
		t->sent_ms = base_now_mono_ms();
		t->sent_real_ms = base_now_real_ms();
		snprintf(ms, sizeof(ms), "%" PRId64, t->sent_real_ms);
		params[0] = t->c.heartbeat_id;
		params[1] = ms;
		rc = PQsendQueryParams(t->conn, heartbeat_sql(&t->c, ph, sql), 2, NULL, params,
				       NULL, NULL, 0);
	}
	if (ph == PH_QUERY && (t->c.statement || t->c.kind == PROBE_READER))
		t->sent_ms = base_now_mono_ms();
	if (!rc) {
		finish(p, t, 0, PROBE_ERR_CONNECT, NULL);
		return;
	}
	/* Non-blocking: what the socket did not take is written when it can. */
	rc = PQflush(t->conn);
	if (rc < 0)
		finish(p, t, 0, PROBE_ERR_CONNECT, NULL);
	else
		t->events = rc ? (POLLIN | POLLOUT) : POLLIN;
}

/* Sends the next statement on an established connection. */
static void send_next(struct probe_prober *p, struct target *t)
{
	if (t->c.kind == PROBE_WRITER && !t->c.statement && !t->table_ready)
		send_statement(p, t, PH_SETUP);
	else
		send_statement(p, t, PH_QUERY);
}

static void begin_connect(struct probe_prober *p, struct target *t, const char *addr)
{
	const char *keys[16], *vals[16];
	char port[8], options[96];
	int64_t timeout = t->c.policy.timeout_ms;
	int n = 0;

	close_conn(t);
	snprintf(port, sizeof(port), "%d", t->c.port);
	/*
	 * Server-side limits below the probe's deadline: a statement the probe
	 * gave up on (a heartbeat write queued behind the row lock) ends on the
	 * server too, instead of piling up behind the next ones.
	 */
	snprintf(options, sizeof(options),
		 "-c statement_timeout=%" PRId64 " -c lock_timeout=%" PRId64,
		 probe_statement_timeout_ms(timeout), probe_lock_timeout_ms(timeout));
	keys[n] = "host", vals[n++] = t->c.host;
	keys[n] = "hostaddr", vals[n++] = addr;
	keys[n] = "port", vals[n++] = port;
	keys[n] = "dbname", vals[n++] = t->c.dbname;
	keys[n] = "user", vals[n++] = t->c.user;
	if (t->c.password)
		keys[n] = "password", vals[n++] = t->c.password;
	keys[n] = "sslmode", vals[n++] = t->c.sslmode;
	if (t->c.sslrootcert)
		keys[n] = "sslrootcert", vals[n++] = t->c.sslrootcert;
	/*
	 * The authentication policy (prober.h): SCRAM-SHA-256-PLUS only, bound to
	 * the TLS session, unless insecure authentication was allowed. libpq then
	 * refuses a cleartext or MD5 request, a server that skips authentication,
	 * and a connection without TLS, before anything is sent.
	 */
	keys[n] = "channel_binding", vals[n++] = t->c.allow_insecure_auth ? "prefer" : "require";
	keys[n] = "application_name", vals[n++] = p->application_name;
	keys[n] = "options", vals[n++] = options;
	/* GSSAPI negotiation would read Kerberos state on this thread; probes never use it. */
	keys[n] = "gssencmode", vals[n++] = "disable";
	keys[n] = NULL, vals[n] = NULL;

	p->pstats.connects++;
	/* expand_dbname = 0: a dbname is a name, never a connection string. */
	t->conn = PQconnectStartParams(keys, vals, 0);
	if (!t->conn || PQstatus(t->conn) == CONNECTION_BAD) {
		connect_failed(p, t);
		return;
	}
	PQsetNoticeProcessor(t->conn, quiet_notices, NULL);
	/* A server's refusal then reads "FATAL:  28P01", which classify_connect takes apart. */
	PQsetErrorVerbosity(t->conn, PQERRORS_SQLSTATE);
	t->phase = PH_CONNECTING;
	t->events = POLLOUT;
}

/* Resolves (off this thread) or connects; t holds a connection slot. */
static void connect_with_slot(struct probe_prober *p, struct target *t)
{
	if (probe_host_is_numeric(t->c.host)) {
		begin_connect(p, t, t->c.host);
		return;
	}
	t->rq = probe_resolve_submit(p->resolver, t->c.host);
	t->phase = PH_RESOLVING;
}

/* Hands free slots to waiting probes, oldest first. */
static void grant_slots(struct probe_prober *p)
{
	size_t i, j = 0;

	for (i = 0; i < p->nfifo; i++) {
		struct target *t = p->fifo[i];

		if (t->phase == PH_QUEUED && !slot_acquire(p, t)) {
			p->fifo[j++] = t;
			continue;
		}
		t->in_fifo = 0;
		if (t->phase == PH_QUEUED)
			connect_with_slot(p, t);
	}
	p->nfifo = j;
}

static void start_probe(struct probe_prober *p, struct target *t, int64_t now)
{
	t->started_ms = now;
	t->deadline_ms = now + t->c.policy.timeout_ms;
	t->failed = 0;
	t->err = PROBE_ERR_NONE;
	t->sqlstate[0] = '\0';
	t->got_row = 0;
	t->upstream_age_ms = -1;

	/* An idle connection the server closed is replaced, not blamed. */
	if (t->conn_ready && (!PQconsumeInput(t->conn) || PQstatus(t->conn) != CONNECTION_OK ||
			      PQtransactionStatus(t->conn) != PQTRANS_IDLE))
		close_conn(t);
	if (t->conn_ready) {
		send_next(p, t);
		return;
	}
	t->phase = PH_QUEUED;
	if (!slot_acquire(p, t)) {
		fifo_push(p, t);
		return;
	}
	connect_with_slot(p, t);
}

/*
 * The reader's view of its primary region. A failed statement (a server
 * without aurora_global_db_status, a permission) leaves it unknown without
 * failing the probe: the secondary answered its heartbeat read.
 */
static void take_upstream(struct target *t, PGresult *r)
{
	char *end;
	int64_t v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1 || PQnfields(r) < 1)
		return;
	if (PQgetisnull(r, 0, 0)) {
		t->upstream_age_ms = PROBE_UPSTREAM_NEVER;
		return;
	}
	errno = 0;
	v = strtoll(PQgetvalue(r, 0, 0), &end, 10);
	if (errno || *end)
		return;
	t->upstream_age_ms = v < 0 ? 0 : v; /* a time ahead of the server's clock: just now */
}

/* Takes one result of the statement: the probe's row, or its first error. */
static void take_result(struct target *t, PGresult *r)
{
	ExecStatusType st = PQresultStatus(r);
	const char *state;
	char *end;

	if (t->phase == PH_UPSTREAM) {
		take_upstream(t, r);
		return;
	}
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY) {
		if (t->phase != PH_QUERY || t->c.statement || PQntuples(r) < 1 ||
		    PQnfields(r) < 1 || PQgetisnull(r, 0, 0))
			return;
		errno = 0;
		t->row_seq = strtoll(PQgetvalue(r, 0, 0), &end, 10);
		if (errno || *end)
			return;
		t->row_written_ms = 0;
		if (PQnfields(r) >= 2 && !PQgetisnull(r, 0, 1)) {
			t->row_written_ms = strtoll(PQgetvalue(r, 0, 1), &end, 10);
			if (*end)
				t->row_written_ms = 0;
		}
		t->got_row = 1;
		return;
	}
	if (t->failed)
		return; /* the first error explains the failure */
	t->failed = 1;
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (st == PGRES_FATAL_ERROR && state && strlen(state) == 5)
		snprintf(t->sqlstate, sizeof(t->sqlstate), "%s", state);
	t->err = st == PGRES_FATAL_ERROR ? classify_sqlstate(t->sqlstate[0] ? t->sqlstate : NULL)
					 : PROBE_ERR_QUERY;
	if (st == PGRES_BAD_RESPONSE)
		t->err = PROBE_ERR_CONNECT;
}

/* The statement's results are all in. */
static void complete(struct probe_prober *p, struct target *t)
{
	if (t->phase == PH_UPSTREAM) {
		finish(p, t, 1, PROBE_ERR_NONE, NULL);
		return;
	}
	/*
	 * Two sessions running CREATE TABLE IF NOT EXISTS at once can both miss
	 * the table and one then fails on the catalog's unique index: the table
	 * exists either way.
	 */
	if (t->failed && t->phase == PH_SETUP &&
	    (!strcmp(t->sqlstate, "23505") || !strcmp(t->sqlstate, "42P07")))
		t->failed = 0;
	if (t->failed) {
		if (PQstatus(t->conn) != CONNECTION_OK && t->err == PROBE_ERR_QUERY)
			t->err = PROBE_ERR_CONNECT;
		if (!strcmp(t->sqlstate, "42P01")) {
			/* No heartbeat table: a reader is up but has nothing to measure (yet). */
			if (t->c.kind == PROBE_READER) {
				send_statement(p, t, PH_UPSTREAM);
				return;
			}
			t->table_ready = 0;
		}
		finish(p, t, 0, t->err, t->sqlstate);
		return;
	}
	if (t->phase == PH_SETUP) {
		t->table_ready = 1;
		send_statement(p, t, PH_QUERY);
		return;
	}
	if (t->c.kind == PROBE_READER) {
		send_statement(p, t, PH_UPSTREAM);
		return;
	}
	finish(p, t, 1, PROBE_ERR_NONE, NULL);
}

/*
 * An idle TLS connection keeps OpenSSL's read and write record buffers (some
 * 34 KB) unless told to free them whenever they are empty.
 */
static void release_tls_buffers(PGconn *conn)
{
	SSL *ssl = PQsslStruct(conn, "OpenSSL");

	if (ssl)
		SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
}

/*
 * While the server's authentication messages are awaited: what libpq will
 * read next, checked against the SCRAM iteration cap before libpq sees it
 * (scram.h). The bytes stay where they are: MSG_PEEK on the socket, SSL_peek
 * over TLS (OpenSSL keeps the record for libpq's SSL_read).
 */
static enum probe_scram_verdict scram_guard(PGconn *conn)
{
	unsigned char buf[PROBE_SCRAM_PEEK];
	SSL *ssl = PQsslStruct(conn, "OpenSSL");
	int n;

	if (ssl) {
		n = SSL_peek(ssl, buf, sizeof(buf));
		if (n <= 0)
			return SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ ? PROBE_SCRAM_WAIT
									    : PROBE_SCRAM_OK;
	} else {
		n = (int)recv(PQsocket(conn), buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return PROBE_SCRAM_WAIT;
		if (n <= 0)
			return PROBE_SCRAM_OK; /* end of stream or an error: libpq reports it */
	}
	return probe_scram_check(buf, (size_t)n, PROBE_SCRAM_MAX_ITERATIONS);
}

/*
 * Moves one probe on after poll(2) said its socket is ready. One call reads
 * at most what libpq takes in one go (its input buffer) and handles only
 * that, so a server that floods the connection costs each pass a bounded
 * amount of work; the rest waits in the socket for the next pass.
 */
static void advance(struct probe_prober *p, struct target *t, short revents)
{
	PostgresPollingStatusType ps;
	PGresult *r;
	int rc, i;

	if (t->phase == PH_CONNECTING) {
		if (PQstatus(t->conn) == CONNECTION_AWAITING_RESPONSE) {
			enum probe_scram_verdict g = scram_guard(t->conn);

			if (g == PROBE_SCRAM_WAIT) {
				t->events = POLLIN;
				return;
			}
			if (g == PROBE_SCRAM_REFUSE) {
				finish(p, t, 0, PROBE_ERR_INSECURE_AUTH, NULL);
				return;
			}
		}
		ps = PQconnectPoll(t->conn);
		if (ps == PGRES_POLLING_READING) {
			t->events = POLLIN;
		} else if (ps == PGRES_POLLING_WRITING) {
			t->events = POLLOUT;
		} else if (ps == PGRES_POLLING_OK) {
			if (PQsetnonblocking(t->conn, 1) != 0) {
				finish(p, t, 0, PROBE_ERR_CONNECT, NULL);
				return;
			}
			release_tls_buffers(t->conn);
			t->conn_ready = 1;
			slot_release(p, t);
			send_next(p, t);
		} else {
			connect_failed(p, t);
		}
		return;
	}
	if (revents & POLLOUT) {
		rc = PQflush(t->conn);
		if (rc < 0) {
			finish(p, t, 0, PROBE_ERR_CONNECT, NULL);
			return;
		}
		t->events = rc ? (POLLIN | POLLOUT) : POLLIN;
	}
	if ((revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(t->conn)) {
		/*
		 * The server hung up. One that said why first (57P01: an
		 * administrator's or a failover's shutdown) is believed: what it
		 * sent is still in libpq's buffer.
		 */
		for (i = 0; i < 4 && (r = PQgetResult(t->conn)); i++) {
			take_result(t, r);
			PQclear(r);
		}
		if (t->failed && t->err == PROBE_ERR_QUERY)
			t->err = PROBE_ERR_CONNECT;
		finish(p, t, 0, t->failed ? t->err : PROBE_ERR_CONNECT,
		       t->failed && t->sqlstate[0] ? t->sqlstate : NULL);
		return;
	}
	while (!PQisBusy(t->conn)) {
		r = PQgetResult(t->conn);
		if (!r) {
			complete(p, t);
			return;
		}
		take_result(t, r);
		PQclear(r);
	}
}

static void expire(struct probe_prober *p, struct target *t)
{
	enum probe_error e = t->phase == PH_RESOLVING ? PROBE_ERR_RESOLVE : PROBE_ERR_TIMEOUT;

	/* Mid-statement or mid-handshake, the connection's state is unknown: drop it. */
	close_conn(t);
	finish(p, t, 0, e, NULL);
}

static void check_resolution(struct probe_prober *p, struct target *t)
{
	char addr[INET6_ADDRSTRLEN];
	int rc = probe_resolve_result(p->resolver, t->rq, addr, sizeof(addr));

	if (rc == 0)
		return;
	probe_resolve_release(p->resolver, t->rq);
	t->rq = NULL;
	if (rc < 0)
		finish(p, t, 0, PROBE_ERR_RESOLVE, NULL);
	else
		begin_connect(p, t, addr);
}

/* ---- the due heap and the active list (prober thread only) ---------- */

static void heap_set(struct probe_prober *p, size_t i, struct target *t)
{
	p->heap[i] = t;
	t->heap_pos = i + 1;
}

static void heap_up(struct probe_prober *p, size_t i)
{
	struct target *t = p->heap[i];

	while (i > 0 && p->heap[(i - 1) / 2]->next_due_ms > t->next_due_ms) {
		heap_set(p, i, p->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(p, i, t);
}

static void heap_down(struct probe_prober *p, size_t i)
{
	struct target *t = p->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= p->nheap)
			break;
		if (c + 1 < p->nheap && p->heap[c + 1]->next_due_ms < p->heap[c]->next_due_ms)
			c++;
		if (p->heap[c]->next_due_ms >= t->next_due_ms)
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, t);
}

static void heap_push(struct probe_prober *p, struct target *t)
{
	if (p->nheap == p->heap_alloc) {
		p->heap_alloc = p->heap_alloc ? 2 * p->heap_alloc : 64;
		p->heap = xrealloc(p->heap, p->heap_alloc * sizeof(*p->heap));
	}
	p->heap[p->nheap++] = t;
	heap_up(p, p->nheap - 1);
}

static void heap_remove(struct probe_prober *p, struct target *t)
{
	size_t i = t->heap_pos - 1;
	struct target *last = p->heap[--p->nheap];

	t->heap_pos = 0;
	if (last == t)
		return;
	heap_set(p, i, last);
	heap_up(p, i);
	heap_down(p, last->heap_pos - 1);
}

static void active_add(struct probe_prober *p, struct target *t)
{
	if (p->nactive == p->active_alloc) {
		p->active_alloc = p->active_alloc ? 2 * p->active_alloc : 64;
		p->active = xrealloc(p->active, p->active_alloc * sizeof(*p->active));
	}
	p->active[p->nactive++] = t;
	t->active_pos = p->nactive;
}

static void active_remove(struct probe_prober *p, struct target *t)
{
	size_t i = t->active_pos - 1;

	p->active[i] = p->active[--p->nactive];
	p->active[i]->active_pos = i + 1;
	t->active_pos = 0;
}

/* Files t where its phase says: idle in the heap, else in the active list. */
static void file_target(struct probe_prober *p, struct target *t)
{
	if (t->phase == PH_IDLE) {
		if (t->active_pos)
			active_remove(p, t);
		if (!t->heap_pos)
			heap_push(p, t);
	} else {
		if (t->heap_pos)
			heap_remove(p, t);
		if (!t->active_pos)
			active_add(p, t);
	}
}

static void unfile_target(struct probe_prober *p, struct target *t)
{
	if (t->heap_pos)
		heap_remove(p, t);
	if (t->active_pos)
		active_remove(p, t);
}

static void free_target(struct probe_prober *p, struct target *t)
{
	int e;

	abort_probe(p, t);
	close_conn(t);
	fifo_forget(p, t);
	base_metric_remove(m_lag, t->name);
	base_metric_remove(m_healthy, t->name);
	for (e = PROBE_ERR_NONE; e <= PROBE_ERR_QUERY; e++)
		base_metric_remove(m_failures, t->name, probe_error_name(e));
	config_release(&t->c);
	free(t->hb);
	if (t->pending) {
		config_release(t->pending);
		free(t->pending);
	}
	free(t->name);
	free(t);
}

/* Takes over a configuration from probe_prober_set. Prober thread, lock held. */
static void apply_pending(struct probe_prober *p, struct target *t, int64_t now)
{
	struct config *nc = t->pending;

	t->pending = NULL;
	if (connection_differs(&t->c, nc)) {
		abort_probe(p, t);
		close_conn(t);
	}
	if (heartbeat_differs(&t->c, nc)) {
		free(t->hb);
		t->hb = NULL;
		t->pv.lag_ms = t->v.lag_ms = -1;
	}
	config_release(&t->c);
	t->c = *nc;
	free(nc);
	t->pv.kind = t->v.kind = t->c.kind;
	if (t->phase == PH_IDLE && t->next_due_ms > now + t->c.policy.period_ms) {
		t->next_due_ms = now + t->c.policy.period_ms;
		if (t->heap_pos)
			heap_up(p, t->heap_pos - 1);
	}
	file_target(p, t);
}

/*
 * The start of a pass: takes over new targets and new configurations,
 * unlinks removed targets (freed after the lock is dropped), publishes the
 * counters. Only what changed is visited. Returns 1 when the prober is
 * stopping.
 */
static int sync_targets(struct probe_prober *p, int64_t now)
{
	size_t i, ndead = 0;
	int stopping;

	pthread_mutex_lock(&p->lock);
	stopping = p->stopping;
	if (p->ntargets + p->nincoming > p->alloc) {
		p->alloc = 2 * (p->ntargets + p->nincoming);
		p->targets = xrealloc(p->targets, p->alloc * sizeof(*p->targets));
	}
	for (i = 0; i < p->nincoming; i++) {
		struct target *t = p->incoming[i];

		t->pos = p->ntargets;
		p->targets[p->ntargets++] = t;
		file_target(p, t);
	}
	p->nincoming = 0;
	for (i = 0; i < p->nchanged; i++) {
		struct target *t = p->changed[i];

		t->changed = 0;
		if (t->removed) {
			if (ndead == p->dead_alloc) {
				p->dead_alloc = p->dead_alloc ? 2 * p->dead_alloc : 16;
				p->dead = xrealloc(p->dead, p->dead_alloc * sizeof(*p->dead));
			}
			p->dead[ndead++] = t;
			unfile_target(p, t);
			p->targets[t->pos] = p->targets[--p->ntargets];
			p->targets[t->pos]->pos = t->pos;
			continue;
		}
		if (t->pending)
			apply_pending(p, t, now);
	}
	p->nchanged = 0;
	p->stats = p->pstats;
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < ndead; i++)
		free_target(p, p->dead[i]);
	return stopping;
}

static void add_pollfd(struct probe_prober *p, size_t *n, int fd, short events, struct target *t)
{
	if (*n == p->pfd_alloc) {
		p->pfd_alloc = p->pfd_alloc ? 2 * p->pfd_alloc : 64;
		p->pfds = xrealloc(p->pfds, p->pfd_alloc * sizeof(*p->pfds));
		p->pfd_targets = xrealloc(p->pfd_targets, p->pfd_alloc * sizeof(*p->pfd_targets));
	}
	p->pfds[*n].fd = fd;
	p->pfds[*n].events = events;
	p->pfds[*n].revents = 0;
	p->pfd_targets[*n] = t;
	(*n)++;
}

static void deliver_notes(struct probe_prober *p)
{
	size_t i;

	if (p->opt.notify)
		for (i = 0; i < p->nnotes; i++)
			p->opt.notify(p->opt.notify_arg, &p->notes[i].v, p->notes[i].changes);
	p->nnotes = 0;
}

static void *run(void *arg)
{
	struct probe_prober *p = arg;
	int64_t now, next, pass_start;
	uint64_t count;
	size_t i, j, n, k;
	int fd;

	for (;;) {
		now = base_now_mono_ms();
		if (sync_targets(p, now))
			break;
		n = 0;
		add_pollfd(p, &n, p->wake_fd, POLLIN, NULL);
		next = now + 60000;
		grant_slots(p);
		while (p->nheap && p->heap[0]->next_due_ms <= now) {
			struct target *t = p->heap[0];

			heap_remove(p, t);
			start_probe(p, t, now);
			file_target(p, t);
		}
		for (i = 0; i < p->nactive;) {
			struct target *t = p->active[i];

			if (t->phase == PH_RESOLVING)
				check_resolution(p, t);
			if (t->phase != PH_IDLE && now >= t->deadline_ms)
				expire(p, t);
			if (t->phase == PH_IDLE) {
				file_target(p, t); /* out of the list: i now holds another */
				continue;
			}
			i++;
			if (t->deadline_ms < next)
				next = t->deadline_ms;
			fd = t->phase == PH_RESOLVING || t->phase == PH_QUEUED ? -1
									       : PQsocket(t->conn);
			if (fd >= 0)
				add_pollfd(p, &n, fd, t->events, t);
		}
		if (p->nheap && p->heap[0]->next_due_ms < next)
			next = p->heap[0]->next_due_ms;
		deliver_notes(p);
		now = base_now_mono_ms();
		if (poll(p->pfds, n, next > now ? (int)(next - now) : 0) < 0 && errno != EINTR)
			base_sleep_ms(1); /* EINVAL/ENOMEM: do not spin */
		p->pstats.wakeups++;
		if (p->pfds[0].revents & POLLIN) {
			if (read(p->wake_fd, &count, sizeof(count)) < 0)
				count = 0; /* EAGAIN: nothing was pending after all */
		}
		/*
		 * Advance the ready sockets, starting at a rotating position, for
		 * at most PASS_BUDGET_MS: a connection storm (SCRAM's key
		 * derivation costs milliseconds per connect) must not delay the
		 * deadline checks at the top of the loop. Sockets left over are
		 * still ready at the next poll.
		 */
		pass_start = base_now_mono_ms();
		k = n > 1 ? p->rotor++ % (n - 1) : 0;
		for (j = 0; j + 1 < n; j++) {
			struct target *t;

			i = 1 + (k + j) % (n - 1);
			t = p->pfd_targets[i];
			if (!p->pfds[i].revents || !t->conn || PQsocket(t->conn) != p->pfds[i].fd ||
			    (t->phase != PH_CONNECTING && t->phase != PH_SETUP &&
			     t->phase != PH_QUERY && t->phase != PH_UPSTREAM))
				continue;
			advance(p, t, p->pfds[i].revents);
			if (base_now_mono_ms() - pass_start >= PASS_BUDGET_MS)
				break;
		}
	}
	deliver_notes(p);
	return NULL;
}

/* ---- public API -------------------------------------------------------- */

int probe_prober_new(const struct probe_options *opt, struct probe_prober **out)
{
	struct probe_prober *p;
	int nres, ret;

	if (!out || (opt && (opt->resolver_threads < 0 || opt->max_connects_per_host < 0)) ||
	    (opt && opt->application_name && !valid_string(opt->application_name, 1)))
		return BASE_EINVAL;
	pthread_once(&metrics_once, metrics_init);
	p = xcalloc(1, sizeof(*p));
	if (opt)
		p->opt = *opt;
	p->application_name =
		xstrdup(p->opt.application_name ? p->opt.application_name : DEFAULT_APPLICATION);
	p->opt.application_name = NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->wake_fd < 0) {
		ret = BASE_EIO;
		goto fail;
	}
	p->max_per_host = p->opt.max_connects_per_host ? p->opt.max_connects_per_host : 8;
	nres = p->opt.resolver_threads ? p->opt.resolver_threads : 2;
	ret = probe_resolver_new(nres, p->wake_fd, &p->resolver);
	if (ret < 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, run, p) != 0) {
		ret = BASE_EIO;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	probe_resolver_free(p->resolver);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	pthread_mutex_destroy(&p->lock);
	free(p->application_name);
	free(p);
	return ret;
}

void probe_prober_free(struct probe_prober *p)
{
	size_t i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_mutex_unlock(&p->lock);
	wake(p);
	pthread_join(p->thread, NULL);
	for (i = 0; i < p->ntargets; i++)
		free_target(p, p->targets[i]);
	for (i = 0; i < p->nincoming; i++)
		free_target(p, p->incoming[i]);
	free(p->targets);
	free(p->incoming);
	base_map_release(&p->index);
	free(p->changed);
	free(p->heap);
	free(p->active);
	free(p->dead);
	BUG_ON(p->nslots != 0);
	free(p->slots);
	free(p->fifo);
	probe_resolver_free(p->resolver);
	close(p->wake_fd);
	pthread_mutex_destroy(&p->lock);
	free(p->pfds);
	free(p->pfd_targets);
	free(p->notes);
	free(p->application_name);
	free(p);
}

/* Lists t for the prober thread's next pass. Prober lock held. */
static void mark_changed(struct probe_prober *p, struct target *t)
{
	if (t->changed)
		return;
	if (p->nchanged == p->changed_alloc) {
		p->changed_alloc = p->changed_alloc ? 2 * p->changed_alloc : 16;
		p->changed = xrealloc(p->changed, p->changed_alloc * sizeof(*p->changed));
	}
	p->changed[p->nchanged++] = t;
	t->changed = 1;
}

int probe_prober_set(struct probe_prober *p, const struct probe_target *c)
{
	struct target *t, *fresh;
	struct config *nc;

	if (!p || validate(c) < 0)
		return BASE_EINVAL;
	/* Build everything before taking the lock. */
	nc = xcalloc(1, sizeof(*nc));
	config_init(nc, c);
	fresh = xcalloc(1, sizeof(*fresh));
	fresh->name = xstrdup(c->name);
	fresh->c = *nc;
	fresh->st = (struct probe_state)PROBE_STATE_INIT;
	snprintf(fresh->pv.name, sizeof(fresh->pv.name), "%s", c->name);
	fresh->pv.kind = c->kind;
	fresh->pv.lag_ms = -1;
	fresh->pv.upstream_age_ms = -1;
	fresh->v = fresh->pv;
	fresh->lag_notified_ms = -1;
	/* Spread first probes over a period, so that many new targets do not connect at once. */
	fresh->next_due_ms = base_now_mono_ms() + (int64_t)(base_hash(c->name, strlen(c->name), 0) %
							    (uint64_t)c->policy.period_ms);

	pthread_mutex_lock(&p->lock);
	t = find_locked(p, c->name);
	if (!t) {
		if (p->nincoming == p->incoming_alloc) {
			p->incoming_alloc = p->incoming_alloc ? 2 * p->incoming_alloc : 16;
			p->incoming =
				xrealloc(p->incoming, p->incoming_alloc * sizeof(*p->incoming));
		}
		p->incoming[p->nincoming++] = fresh;
		base_map_put(&p->index, fresh->name, fresh);
		fresh = NULL;
		free(nc);
	} else {
		if (t->pending) {
			config_release(t->pending);
			free(t->pending);
		}
		t->pending = nc;
		mark_changed(p, t);
	}
	pthread_mutex_unlock(&p->lock);
	if (fresh) { /* an update: only its configuration was needed */
		free(fresh->name);
		free(fresh);
	}
	wake(p);
	return 0;
}

int probe_prober_remove(struct probe_prober *p, const char *name)
{
	struct target *t;

	if (!p || !name)
		return BASE_EINVAL;
	pthread_mutex_lock(&p->lock);
	t = find_locked(p, name);
	if (t) {
		t->removed = 1;
		base_map_remove(&p->index, t->name);
		mark_changed(p, t);
	}
	pthread_mutex_unlock(&p->lock);
	if (!t)
		return BASE_ENOTFOUND;
	wake(p);
	return 0;
}

int probe_prober_get(struct probe_prober *p, const char *name, struct probe_verdict *out)
{
	struct target *t;

	if (!p || !name || !out)
		return BASE_EINVAL;
	pthread_mutex_lock(&p->lock);
	t = find_locked(p, name);
	if (t)
		*out = t->v;
	pthread_mutex_unlock(&p->lock);
	return t ? 0 : BASE_ENOTFOUND;
}

void probe_prober_stats(struct probe_prober *p, struct probe_stats *out)
{
	pthread_mutex_lock(&p->lock);
	*out = p->stats;
	out->targets = (int)(p->ntargets + p->nincoming);
	pthread_mutex_unlock(&p->lock);
}
