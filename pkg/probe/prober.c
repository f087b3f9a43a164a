/*
 * The prober thread: one loop over every target.
 *
 * Each target is a small state machine: IDLE until its next probe is due;
 * QUEUED while it waits for a connection slot for its host; RESOLVING while the resolver pool looks up its host; CONNECTING through
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
 *
 * This file holds the metrics, the targets' configuration and the public
 * API; a target's state machine on libpq is in prober_target.c, and the
 * scheduling (connection slots, the due heap, the active list) and the loop
 * in prober_sched.c (prober_int.h is what they share).
 */
#include "pkg/probe/prober_int.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/map.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/probe/resolve.h"

struct base_metric *m_failures, *m_duration, *m_lag, *m_healthy;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
	static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
					 0.25,	0.5,	1,     2.5,  5,	    10};

	m_failures =
		base_metric_counter("globaldb_probe_failures_total",
				    "Failed database probes by database, region, role and reason",
				    "namespace,name,region,role,reason");
	m_duration = base_metric_histogram("globaldb_probe_duration_seconds",
					   "Duration of database probes (connect included)", "role",
					   buckets, ARRAY_SIZE(buckets));
	m_lag = base_metric_gauge("globaldb_replication_lag_seconds",
				  "Replication lag measured by heartbeat, per database and region",
				  "namespace,name,region");
	m_healthy =
		base_metric_gauge("globaldb_probe_healthy",
				  "1 when the probe verdict of the database's writer or reader in "
				  "the region is healthy",
				  "namespace,name,region,role");
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

const char *role_name(enum probe_kind k)
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

void config_release(struct config *c)
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
	for (size_t i = 0; i < ARRAY_SIZE(c->labels); i++)
		free(c->labels[i]);
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
	c->labels[0] = dup_or(t->label_namespace, "");
	c->labels[1] = dup_or(t->label_name, "");
	c->labels[2] = dup_or(t->label_region, "");
}

/*
 * The heartbeat statements, made when sent rather than kept per target (2,000
 * targets are 2,000 copies). The table name is a validated identifier of at
 * most 63 bytes, so it can be spliced in, and the statement fits buf.
 */
static int str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

/* True when going from a to b needs a new connection. */
int connection_differs(const struct config *a, const struct config *b)
{
	return str_differs(a->host, b->host) || a->port != b->port ||
	       str_differs(a->user, b->user) || str_differs(a->password, b->password) ||
	       str_differs(a->dbname, b->dbname) || str_differs(a->sslmode, b->sslmode) ||
	       str_differs(a->sslrootcert, b->sslrootcert) || str_differs(a->table, b->table) ||
	       str_differs(a->statement, b->statement) || a->kind != b->kind ||
	       a->allow_insecure_auth != b->allow_insecure_auth;
}

/* True when going from a to b makes the heartbeat history meaningless. */
int heartbeat_differs(const struct config *a, const struct config *b)
{
	return a->kind != b->kind || str_differs(a->table, b->table) ||
	       str_differs(a->heartbeat_id, b->heartbeat_id);
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
	ALLOC_GROW(p->changed, p->nchanged + 1, p->changed_alloc);
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
		ALLOC_GROW(p->incoming, p->nincoming + 1, p->incoming_alloc);
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
