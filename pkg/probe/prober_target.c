/*
 * One target's probe on libpq: a state machine the prober thread advances
 * (see prober.c): connect (with a connection slot), set up the writer's
 * heartbeat table, send the probe statement, read its results, and finish
 * with a verdict. Classifies failures, guards the SCRAM exchange, and
 * publishes verdicts and notes.
 */
#include "pkg/probe/prober_int.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/probe/heartbeat.h"
#include "pkg/probe/resolve.h"
#include "pkg/probe/scram.h"
#include <sys/socket.h>

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

/* ---- probe lifecycle (prober thread) ---------------------------------- */

void close_conn(struct target *t)
{
	if (t->conn) {
		PQfinish(t->conn);
		t->conn = NULL;
	}
	t->conn_ready = 0;
	t->table_ready = 0;
}

void abort_probe(struct probe_prober *p, struct target *t)
{
	probe_resolve_release(p->resolver, t->rq);
	t->rq = NULL;
	slot_release(p, t);
	if (t->phase != PH_IDLE && !t->conn_ready)
		close_conn(t);
	t->phase = PH_IDLE;
}

/* The live target called name, in targets or incoming. Prober lock held. */
struct target *find_locked(struct probe_prober *p, const char *name)
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
	ALLOC_GROW(p->notes, p->nnotes + 1, p->notes_alloc);
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

void finish(struct probe_prober *p, struct target *t, int ok, enum probe_error err,
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
		base_metric_add(m_failures, 1, TARGET_LABELS(t), role_name(t->c.kind),
				probe_error_name(err));
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
			base_metric_set(m_lag, (double)t->pv.lag_ms / 1000.0, TARGET_LABELS(t));
		else
			base_metric_remove(m_lag, TARGET_LABELS(t));
		if (lag_moved(p, t)) {
			changes |= PROBE_CHANGED_LAG;
			t->lag_notified_ms = t->pv.lag_ms;
		}
	}

	if (changes & PROBE_CHANGED_HEALTH) {
		base_metric_set(m_healthy, t->pv.health == PROBE_HEALTHY ? 1 : 0, TARGET_LABELS(t),
				role_name(t->c.kind));
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
void grant_slots(struct probe_prober *p)
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

void start_probe(struct probe_prober *p, struct target *t, int64_t now)
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
void advance(struct probe_prober *p, struct target *t, short revents)
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

void expire(struct probe_prober *p, struct target *t)
{
	enum probe_error e = t->phase == PH_RESOLVING ? PROBE_ERR_RESOLVE : PROBE_ERR_TIMEOUT;

	/* Mid-statement or mid-handshake, the connection's state is unknown: drop it. */
	close_conn(t);
	finish(p, t, 0, e, NULL);
}

void check_resolution(struct probe_prober *p, struct target *t)
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
