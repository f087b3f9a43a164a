/*
 * The probe targets of each object, and the health the planner reads from
 * their verdicts.
 *
 * Probe targets: "<base>/writer" is the heartbeat write on the writer's
 * endpoint; it keeps its name when the writer moves (only its address
 * changes), so its heartbeat history survives a switchover and the lag of
 * the secondaries stays known. "<base>/reader/<region>" reads the heartbeat
 * on a secondary's reader endpoint with the writer target as lag source.
 * <base> is the key, or a hash of it when the key is too long for a target
 * name. While a region's API does not answer, its targets keep their last
 * address: a writer that vanished must keep failing its probes.
 */
#include "pkg/globaldb/reconciler_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/timeutil.h"

/*
 * Where to probe region i: spec.regions[].probeEndpoint, else the endpoints
 * RDS answered this round, else — the region's API did not answer — the ones
 * the status recorded (status.writerEndpoint for the writer's region,
 * readerEndpoints[] for the others, regions[].port). Without that last
 * source a controller started during an outage of the writer's region would
 * never probe the writer, and so never fail over.
 */
static void probe_address(const struct gdb_spec *spec, const struct gdb_status *st,
			  const struct gdb_observation *ob, size_t i, int reader, const char **host,
			  int *port)
{
	const struct gdb_region_spec *rs = &spec->regions[i];
	const struct gdb_obs_region *o = &ob->obs.regions[i];
	const struct gdb_region_status *r;

	*host = NULL;
	*port = 0;
	if (rs->probe_host) {
		*host = rs->probe_host;
		*port = rs->probe_port > 0 ? rs->probe_port : 5432;
		return;
	}
	if (o->api == GDB_CALL_OK) {
		if (!o->cluster_exists)
			return;
		*host = reader && o->reader_endpoint ? o->reader_endpoint : o->endpoint;
		*port = ob->port[i] > 0 ? ob->port[i] : 5432;
		return;
	}
	if (!reader && st->current_primary_region && st->writer_endpoint &&
	    !strcmp(st->current_primary_region, rs->name))
		*host = st->writer_endpoint;
	for (size_t k = 0; reader && k < st->n_reader_endpoints; k++)
		if (st->reader_endpoints[k].region &&
		    !strcmp(st->reader_endpoints[k].region, rs->name))
			*host = st->reader_endpoints[k].endpoint;
	r = gdb_status_region((struct gdb_status *)st, rs->name);
	*port = r && r->port > 0 ? r->port : 5432;
}

/* The metrics' labels of an object's targets: its namespace and name, and the region. */
struct target_labels {
	char ns[256], name[256];
	const char *region;
};

static void fill_target(struct probe_target *t, const struct gdb_spec *spec,
			const struct key_state *s, const char *name, enum probe_kind kind,
			const char *host, int port, const char *lag_source,
			const struct target_labels *l)
{
	const struct gdb_health_check_spec *hc = &spec->health_check;

	memset(t, 0, sizeof(*t));
	t->name = name;
	t->kind = kind;
	t->host = host;
	t->port = port;
	t->dbname = hc->database;
	t->user = s->user;
	t->password = s->password;
	t->sslmode = hc->ssl_mode;
	t->allow_insecure_auth = hc->allow_insecure_password;
	t->sslrootcert = s->ca.path[0] ? s->ca.path : NULL;
	t->lag_source = lag_source;
	t->label_namespace = l->ns;
	t->label_name = l->name;
	t->label_region = l->region;
	t->policy.period_ms = (int64_t)hc->period_seconds * 1000;
	t->policy.timeout_ms = (int64_t)hc->timeout_seconds * 1000;
	t->policy.failure_threshold = hc->failure_threshold;
	t->policy.success_threshold = hc->success_threshold > 0 ? hc->success_threshold : 1;
}

static char *signature(const struct probe_target *t, unsigned gen)
{
	return xasprintf("%s|%d|%s|%s|%d|%s|%s|%" PRId64 "|%" PRId64 "|%d|%d|%u|%s", t->host,
			 t->port, t->dbname ? t->dbname : "", t->sslmode ? t->sslmode : "",
			 t->allow_insecure_auth, t->sslrootcert ? t->sslrootcert : "",
			 t->lag_source ? t->lag_source : "", t->policy.period_ms,
			 t->policy.timeout_ms, t->policy.failure_threshold,
			 t->policy.success_threshold, gen, t->label_region);
}

/* Sets target t unless its signature *sig is unchanged. */
static void apply_target(struct gdb_reconciler *r, const struct probe_target *t, unsigned gen,
			 char **sig, const char *key)
{
	char *want = signature(t, gen);
	int rc;

	if (*sig && !strcmp(*sig, want)) {
		free(want);
		return;
	}
	rc = probe_prober_set(r->prober, t);
	if (rc < 0) {
		base_log(BASE_LOG_WARN, "cannot set probe target", "gdb", key, "target", t->name,
			 "error", base_strerror(rc), NULL);
		free(want);
		return;
	}
	pthread_mutex_lock(&r->lock);
	free(*sig);
	*sig = want;
	pthread_mutex_unlock(&r->lock);
}

/* Removes the reader target in slot k. */
static void drop_reader(struct gdb_reconciler *r, struct key_state *s, size_t k)
{
	char name[PROBE_NAME_MAX];

	snprintf(name, sizeof(name), "%s/reader/%s", s->base, s->reader_region[k]);
	probe_prober_remove(r->prober, name);
	pthread_mutex_lock(&r->lock);
	free(s->reader_region[k]);
	free(s->reader_sig[k]);
	s->reader_region[k] = s->reader_sig[k] = NULL;
	pthread_mutex_unlock(&r->lock);
}

void sync_probes(struct gdb_reconciler *r, struct key_state *s, const struct gdb_spec *spec,
		 const struct gdb_status *st, const char *writer, const struct gdb_observation *ob)
{
	char wname[PROBE_NAME_MAX], name[PROBE_NAME_MAX];
	const char *slash = strchr(s->key, '/');
	struct target_labels l;
	struct probe_target t;
	const char *host;
	int port;

	snprintf(l.ns, sizeof(l.ns), "%.*s", slash ? (int)(slash - s->key) : 0, s->key);
	snprintf(l.name, sizeof(l.name), "%s", slash ? slash + 1 : s->key);

	snprintf(wname, sizeof(wname), "%s/writer", s->base);
	/* A region removed from the spec loses its reader target. */
	for (size_t k = 0; k < GDB_MAX_REGIONS; k++)
		if (s->reader_region[k] && !gdb_spec_region(spec, s->reader_region[k], NULL))
			drop_reader(r, s, k);
	for (size_t i = 0; i < spec->n_regions && i < ob->obs.n_regions; i++) {
		const char *region = spec->regions[i].name;

		if (writer && !strcmp(region, writer)) {
			probe_address(spec, st, ob, i, 0, &host, &port);
			if (host) {
				l.region = region;
				fill_target(&t, spec, s, wname, PROBE_WRITER, host, port, NULL, &l);
				apply_target(r, &t, s->creds_gen, &s->writer_sig, s->key);
				if (!s->writer_region || strcmp(s->writer_region, region)) {
					pthread_mutex_lock(&r->lock);
					gdb_set_str(&s->writer_region, region);
					pthread_mutex_unlock(&r->lock);
				}
			}
		}
	}
	for (size_t i = 0; i < spec->n_regions && i < ob->obs.n_regions; i++) {
		const char *region = spec->regions[i].name;
		size_t slot = GDB_MAX_REGIONS, free_slot = GDB_MAX_REGIONS;

		for (size_t k = 0; k < GDB_MAX_REGIONS; k++) {
			if (s->reader_region[k] && !strcmp(s->reader_region[k], region))
				slot = k;
			else if (!s->reader_region[k] && free_slot == GDB_MAX_REGIONS)
				free_slot = k;
		}
		snprintf(name, sizeof(name), "%s/reader/%s", s->base, region);
		if (writer && !strcmp(region, writer)) {
			if (slot < GDB_MAX_REGIONS)
				drop_reader(r, s, slot);
			continue;
		}
		probe_address(spec, st, ob, i, 1, &host, &port);
		if (!host)
			continue; /* keep the last address while the region does not answer */
		if (slot == GDB_MAX_REGIONS) {
			slot = free_slot;
			pthread_mutex_lock(&r->lock);
			s->reader_region[slot] = xstrdup(region);
			pthread_mutex_unlock(&r->lock);
		}
		l.region = region;
		fill_target(&t, spec, s, name, PROBE_READER, host, port,
			    s->writer_sig ? wname : NULL, &l);
		apply_target(r, &t, s->creds_gen, &s->reader_sig[slot], s->key);
	}
}

/*
 * A probe the database refused to log in, or that refused the server's way
 * of logging in: a configuration problem (the password, the role, hba, the
 * authentication policy), which says the server is up and answering. It is
 * never evidence that a write failed.
 */
static int login_refused(const struct probe_verdict *v)
{
	return v->health == PROBE_UNHEALTHY &&
	       (v->last_error == PROBE_ERR_AUTH || v->last_error == PROBE_ERR_INSECURE_AUTH);
}

/* 1 healthy, 0 unhealthy, -1 unknown: not probed yet, or its login refused. */
static int health_of(const struct probe_verdict *v)
{
	if (login_refused(v))
		return -1;
	return v->health == PROBE_HEALTHY ? 1 : v->health == PROBE_UNHEALTHY ? 0 : -1;
}

void build_health(struct gdb_reconciler *r, const struct key_state *s, const struct gdb_spec *spec,
		  struct gdb_health *h)
{
	char name[PROBE_NAME_MAX];
	struct probe_verdict w, v;
	int have_w;

	memset(h, 0, sizeof(*h));
	snprintf(name, sizeof(name), "%s/writer", s->base);
	have_w = s->writer_sig && probe_prober_get(r->prober, name, &w) == 0;
	for (size_t i = 0; i < spec->n_regions; i++) {
		struct gdb_health_region *hr = &h->regions[h->n_regions++];
		const char *region = spec->regions[i].name;

		hr->name = region;
		hr->writer_healthy = -1;
		hr->reader_healthy = -1;
		hr->lag_ms = -1;
		hr->upstream_age_ms = -1;
		if (have_w && s->writer_region && !strcmp(s->writer_region, region)) {
			hr->writer_healthy = health_of(&w);
			hr->consecutive_failures = w.consecutive_failures;
			hr->last_probe_ms = w.last_probe_unix_ms;
			hr->heartbeat_ms = w.heartbeat_written_unix_ms;
			hr->heartbeat_seq = w.last_seq;
			hr->failing_since_ms = w.failing_since_unix_ms;
			continue;
		}
		snprintf(name, sizeof(name), "%s/reader/%s", s->base, region);
		if (probe_prober_get(r->prober, name, &v) < 0)
			continue;
		hr->reader_healthy = health_of(&v);
		hr->consecutive_failures = v.consecutive_failures;
		hr->last_probe_ms = v.last_probe_unix_ms;
		hr->lag_ms = v.lag_ms;
		hr->heartbeat_ms = v.heartbeat_written_unix_ms;
		hr->heartbeat_seq = v.last_seq;
		hr->upstream_age_ms = v.upstream_age_ms == PROBE_UPSTREAM_NEVER ? GDB_UPSTREAM_NEVER
										: v.upstream_age_ms;
	}
}

/*
 * Degraded=True, ProbeLoginRefused, while a probe's login is refused, unless
 * the plan already reports another reason. The health the planner saw for
 * that endpoint was unknown (health_of), so nothing was decided on it.
 */
void report_refused_login(struct gdb_reconciler *r, const struct key_state *s,
			  const struct gdb_spec *spec, struct gdb_plan *plan)
{
	char name[PROBE_NAME_MAX], msg[512];
	struct probe_verdict v;
	const char *where = NULL;

	for (size_t i = 0; i <= spec->n_regions && !where; i++) {
		if (i == 0)
			snprintf(name, sizeof(name), "%s/writer", s->base);
		else
			snprintf(name, sizeof(name), "%s/reader/%s", s->base,
				 spec->regions[i - 1].name);
		if (probe_prober_get(r->prober, name, &v) == 0 && login_refused(&v))
			where = i == 0 ? "the writer" : spec->regions[i - 1].name;
	}
	if (!where)
		return;
	for (size_t i = 0; i < plan->status.n_conditions; i++)
		if (!strcmp(plan->status.conditions[i].type, "Degraded") &&
		    plan->status.conditions[i].status == GDB_COND_TRUE)
			return;
	if (v.last_error == PROBE_ERR_INSECURE_AUTH)
		snprintf(msg, sizeof(msg),
			 "the probe of %s refused the server's login: it asked for a cleartext or "
			 "MD5 password, for none, or for SCRAM without TLS channel binding; store "
			 "the password as SCRAM and use TLS, or set "
			 "spec.healthCheck.allowInsecurePassword; its health counts as unknown",
			 where);
	else
		snprintf(msg, sizeof(msg),
			 "the database refused the probe's login at %s (SQLSTATE %s): check the "
			 "credentials, the role and pg_hba.conf; its health counts as unknown, "
			 "never as a failed write",
			 where, v.last_sqlstate[0] ? v.last_sqlstate : "none");
	gdb_status_set_condition(&plan->status, "Degraded", GDB_COND_TRUE, "ProbeLoginRefused", msg,
				 plan->status.observed_generation, base_now_real_ms());
}
