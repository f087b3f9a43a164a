/*
 * plan_context.c - the planner's reading of its inputs: small helpers over the spec,
 * observation and health; deriving the current picture (our global cluster,
 * the writer, the per-region status rows); the annotations an operator sets.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/timeutil.h"

/* ---- small helpers over the inputs ---- */

int streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

const struct gdb_obs_region *obs_region(const struct ctx *c, const char *name)
{
	for (size_t i = 0; name && i < c->obs->n_regions; i++)
		if (streq(c->obs->regions[i].name, name))
			return &c->obs->regions[i];
	return NULL;
}

const struct gdb_health_region *health_region(const struct ctx *c, const char *name)
{
	for (size_t i = 0; name && i < c->health->n_regions; i++)
		if (streq(c->health->regions[i].name, name))
			return &c->health->regions[i];
	return NULL;
}

const char *cluster_id(const struct ctx *c, const char *region)
{
	const struct gdb_region_spec *r = gdb_spec_region(c->spec, region, NULL);

	return r && r->db_cluster_identifier ? r->db_cluster_identifier : "";
}

/* The region's API answered and its cluster exists. */
const struct gdb_obs_region *cluster_seen(const struct ctx *c, const char *region)
{
	const struct gdb_obs_region *o = obs_region(c, region);

	return o && o->api == GDB_CALL_OK && o->cluster_exists ? o : NULL;
}

int api_ok(const struct ctx *c, const char *region)
{
	const struct gdb_obs_region *o = obs_region(c, region);

	return o && o->api == GDB_CALL_OK;
}

const struct gdb_obs_global *find_global(const struct ctx *c, const char *id)
{
	for (size_t i = 0; id && i < c->obs->n_globals; i++)
		if (streq(c->obs->globals[i].identifier, id))
			return &c->obs->globals[i];
	return NULL;
}

/* The member of g that is the spec's cluster in region, or NULL. */
const struct gdb_obs_member *member_in(const struct ctx *c, const struct gdb_obs_global *g,
				       const char *region)
{
	char r[64], id[128];
	const char *want = cluster_id(c, region);

	for (size_t i = 0; g && *want && i < g->n_members; i++) {
		if (gdb_parse_cluster_arn(g->members[i].db_cluster_arn, r, sizeof(r), id,
					  sizeof(id)) == 0 &&
		    strcmp(r, region) == 0 && strcmp(id, want) == 0)
			return &g->members[i];
	}
	return NULL;
}

/* The spec region of a member ARN, or NULL when it is none of ours. */
const char *region_of_arn(const struct ctx *c, const char *arn)
{
	char r[64], id[128];
	const struct gdb_region_spec *rs;

	if (gdb_parse_cluster_arn(arn, r, sizeof(r), id, sizeof(id)) < 0)
		return NULL;
	rs = gdb_spec_region(c->spec, r, NULL);
	return rs && streq(rs->db_cluster_identifier, id) ? rs->name : NULL;
}

/*
 * The global cluster the region's cluster belongs to: its own
 * GlobalClusterIdentifier when DescribeDBClusters said so, else the observed
 * global cluster that lists it as a member, else NULL (standalone or unknown).
 */
const char *global_of(const struct ctx *c, const struct gdb_obs_region *o)
{
	if (o->global_cluster_identifier)
		return o->global_cluster_identifier;
	for (size_t i = 0; i < c->obs->n_globals; i++)
		if (member_in(c, &c->obs->globals[i], o->name))
			return c->obs->globals[i].identifier;
	return NULL;
}

/* The region's cluster is part of the global cluster in status. */
int in_current_global(const struct ctx *c, const struct gdb_obs_region *o)
{
	return member_in(c, c->global, o->name) ||
	       (o->global_cluster_identifier &&
		streq(o->global_cluster_identifier, c->st->global_cluster_identifier));
}

int is_connected(const struct ctx *c, const char *region)
{
	const struct gdb_obs_member *m = member_in(c, c->global, region);

	return m && streq(m->synchronization_status, "connected");
}

int64_t ceil_seconds(int64_t ms)
{
	return ms < 0 ? -1 : (ms + 999) / 1000;
}

int64_t backoff_ms(int attempts)
{
	int64_t ms = 2000;

	for (int i = 1; i < attempts && ms < GDB_REQUEUE_MAX_MS; i++)
		ms *= 2;
	return ms < GDB_REQUEUE_MAX_MS ? ms : GDB_REQUEUE_MAX_MS;
}

void stamp(int64_t ms, char *buf, size_t n)
{
	/* 20261127035801: a time that fits into RDS identifiers. */
	char iso[40];
	size_t j = 0;

	buf[0] = '\0';
	if (base_time_format(ms, iso, sizeof(iso)) < 0)
		return;
	for (size_t i = 0; iso[i] && j + 1 < n; i++)
		if (iso[i] >= '0' && iso[i] <= '9')
			buf[j++] = iso[i];
	buf[j] = '\0';
}

/* ---- deriving the current picture ---- */

void derive_global(struct ctx *c)
{
	const char *base = c->spec->global_cluster_identifier;

	if (c->st->global_cluster_identifier) {
		c->global = find_global(c, c->st->global_cluster_identifier);
		return;
	}
	/* Adopt: a global cluster holding one of our clusters (a writer first), else <base>. */
	for (int pass = 0; pass < 2 && !c->global; pass++) {
		for (size_t i = 0; i < c->obs->n_globals && !c->global; i++) {
			const struct gdb_obs_global *g = &c->obs->globals[i];

			for (size_t m = 0; m < g->n_members; m++) {
				if ((pass == 1 || g->members[m].is_writer) &&
				    region_of_arn(c, g->members[m].db_cluster_arn)) {
					c->global = g;
					break;
				}
			}
		}
	}
	if (!c->global)
		c->global = find_global(c, base);
	if (c->global && !own_adoptable(c, c->global))
		return; /* seen, never recorded: the ownership gate refuses it */
	if (c->global) {
		int64_t gen = gdb_generation_of(base, c->global->identifier);

		gdb_set_str(&c->st->global_cluster_identifier, c->global->identifier);
		c->st->generation = gen > 0 ? gen : 1;
		event(c, GDB_EVENT_NORMAL, "Adopted", "adopted global cluster %s",
		      c->global->identifier);
	}
}

void derive_writer(struct ctx *c)
{
	const char *cur = c->st->current_primary_region;
	const struct gdb_obs_region *o = cluster_seen(c, cur);

	/* A standalone writer promoted by a detach stays the writer until a fallback. */
	if (o && !o->global_cluster_identifier && !member_in(c, c->global, cur)) {
		c->writer = gdb_spec_region(c->spec, cur, NULL)->name;
		c->writer_standalone = 1;
		return;
	}
	for (size_t i = 0; c->global && i < c->global->n_members; i++) {
		if (c->global->members[i].is_writer) {
			c->writer = region_of_arn(c, c->global->members[i].db_cluster_arn);
			if (c->writer)
				return;
		}
	}
	if (!c->global) {
		/* Before a global cluster exists the spec's primary cluster is the writer. */
		o = cluster_seen(c, c->spec->primary_region);
		if (o && !o->global_cluster_identifier) {
			c->writer = c->spec->primary_region;
			c->writer_standalone = 1;
			return;
		}
	}
	if (cur && gdb_spec_region(c->spec, cur, NULL))
		c->writer = gdb_spec_region(c->spec, cur, NULL)->name;
}

/*
 * The lag a region's status row reports, given what it said (old, -1 unknown)
 * and the new measurement (now, seconds rounded up, -1 unknown): the
 * measurement when it is news — known or unknown for the first time, caught
 * up (0), across the data-loss budget, or at least GDB_LAG_REPORT_STEP_S and
 * a quarter away from what the row says — else the row's value. A lag that jitters by a
 * second would otherwise rewrite the status of every object at every
 * reconcile; decisions use the measurement itself, and so does the metric.
 */
static int64_t reported_lag(int64_t old, int64_t now, int64_t budget)
{
	int64_t step = old / 4 > GDB_LAG_REPORT_STEP_S ? old / 4 : GDB_LAG_REPORT_STEP_S;

	if (old < 0 || now <= 0 || (old > budget) != (now > budget))
		return now;
	return now - old >= step || old - now >= step ? now : old;
}

/*
 * The heartbeat watermark of a status row (docs/api.md "Replication lag"):
 * the newest heartbeat time known from the row and this process's prober.
 * Only the Primary's and the Secondaries' rows carry one, and only for the
 * writer they had: a writer that moved clears every row (what a secondary
 * held of the old writer says nothing of what it holds of the new one).
 */
static void merge_heartbeat(struct gdb_region_status *r, const struct gdb_health_region *h,
			    int writer_moved)
{
	if (writer_moved || (r->role != GDB_ROLE_PRIMARY && r->role != GDB_ROLE_SECONDARY)) {
		r->heartbeat_seq = r->heartbeat_time_ms = r->writer_failing_since_ms = 0;
		return;
	}
	if (h && h->heartbeat_ms > r->heartbeat_time_ms) {
		r->heartbeat_time_ms = h->heartbeat_ms;
		r->heartbeat_seq = h->heartbeat_seq;
	}
	if (r->role != GDB_ROLE_PRIMARY)
		r->writer_failing_since_ms = 0;
}

/*
 * The writer row's writerFailingSince: the last moment the writer is taken to
 * have accepted writes. This process's prober knows when its own run of
 * failures began (h->failing_since_ms); the row may hold an earlier start
 * recorded by a controller that ran before this one (a restart or a new
 * leader during the outage). That earlier time is kept only while it is later
 * than every heartbeat known to have been written (acknowledged or seen
 * replicated): a writer heard from after it was not dead then.
 */
static void update_failing_since(struct ctx *c)
{
	struct gdb_region_status *w = c->writer ? gdb_status_region(c->st, c->writer) : NULL;
	const struct gdb_health_region *h = c->writer ? health_region(c, c->writer) : NULL;
	int64_t newest = 0, kept;

	if (!w || !h || h->last_probe_ms <= 0)
		return; /* no verdict of this process yet: keep what the status says */
	if (h->failing_since_ms <= 0) {
		w->writer_failing_since_ms = 0;
		return;
	}
	for (size_t i = 0; i < c->st->n_regions; i++)
		if (c->st->regions[i].heartbeat_time_ms > newest)
			newest = c->st->regions[i].heartbeat_time_ms;
	kept = w->writer_failing_since_ms;
	w->writer_failing_since_ms =
		kept > newest && kept < h->failing_since_ms ? kept : h->failing_since_ms;
}

/*
 * The replication lag of a secondary in ms, -1 unknown. While the writer
 * acknowledges its heartbeats, the prober's measurement. Once it fails them,
 * an evidence-based bound that no longer grows with the wall clock: the
 * writer's last moment alive (writerFailingSince) minus when the newest
 * heartbeat seen replicated in the region was written. Never 0 then: the
 * writer may have acknowledged writes after that heartbeat.
 */
int64_t lag_bound_ms(struct ctx *c, const char *region)
{
	const struct gdb_region_status *w = c->writer ? gdb_status_region(c->st, c->writer) : NULL;
	const struct gdb_region_status *r = gdb_status_region(c->st, region);
	const struct gdb_health_region *h = health_region(c, region);
	int64_t until = w ? w->writer_failing_since_ms : 0, lag;

	if (until <= 0)
		return h ? h->lag_ms : -1;
	if (!r || r->heartbeat_time_ms <= 0)
		return -1;
	lag = until - r->heartbeat_time_ms;
	return lag > 0 ? lag : 1;
}

void update_regions(struct ctx *c)
{
	struct gdb_status *st = c->st;
	struct gdb_status prev;
	const struct gdb_operation *op = &st->operation;
	int64_t max_lag = -1;
	int writer_moved = !streq(c->old->current_primary_region, c->writer);

	/* Rebuild the rows in spec order, keeping what the old rows knew. */
	prev = *st;
	st->n_regions = 0;
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const char *name = c->spec->regions[i].name;
		const struct gdb_obs_region *o = obs_region(c, name);
		const struct gdb_health_region *h = health_region(c, name);
		const struct gdb_obs_member *m = member_in(c, c->global, name);
		struct gdb_region_status *r = &st->regions[st->n_regions++];
		struct gdb_region_status *old = gdb_status_region(&prev, name);

		memset(r, 0, sizeof(*r));
		r->writer_healthy = -1;
		r->replication_lag_seconds = -1;
		if (old) {
			*r = *old;
			old->name = old->db_cluster_identifier = old->cluster_status =
				old->synchronization_status = NULL;
		} else {
			r->name = xstrdup(name);
		}
		gdb_set_str(&r->db_cluster_identifier, c->spec->regions[i].db_cluster_identifier);
		if (o && o->api == GDB_CALL_OK) {
			const char *cs = o->cluster_exists ? o->cluster_status : NULL;

			if (!streq(cs, r->cluster_status)) {
				gdb_set_str(&r->cluster_status, cs);
				r->cluster_status_since_ms = c->now;
			}
			if (!o->cluster_exists)
				r->port = 0;
			else if (o->port > 0)
				r->port = o->port;
		}
		gdb_set_str(&r->synchronization_status,
			    m && !m->is_writer ? m->synchronization_status : NULL);
		if (streq(name, c->writer))
			r->role = GDB_ROLE_PRIMARY;
		else if (op->type == GDB_OP_FALLBACK && streq(op->target_region, name) &&
			 !is_connected(c, name))
			r->role = GDB_ROLE_REBUILDING;
		else if (!o || o->api != GDB_CALL_OK)
			r->role = o && o->api == GDB_CALL_UNKNOWN ? r->role : GDB_ROLE_LOST;
		else if (!o->cluster_exists)
			r->role = GDB_ROLE_UNKNOWN;
		else if (!c->writer_standalone && in_current_global(c, o))
			r->role = GDB_ROLE_SECONDARY;
		else if (!global_of(c, o))
			r->role = GDB_ROLE_DETACHED;
		else
			r->role = GDB_ROLE_LOST; /* a member of a stale global cluster */
		merge_heartbeat(r, h, writer_moved);
		if (h) {
			r->writer_healthy = streq(name, c->writer) ? h->writer_healthy : -1;
			r->consecutive_failures = h->consecutive_failures;
			if (h->last_probe_ms > 0)
				r->last_probe_ms = h->last_probe_ms;
		}
	}
	update_failing_since(c);
	for (size_t i = 0; i < st->n_regions; i++) {
		struct gdb_region_status *r = &st->regions[i];

		if (!health_region(c, r->name))
			continue;
		r->replication_lag_seconds =
			streq(r->name, c->writer)
				? -1
				: reported_lag(r->replication_lag_seconds,
					       ceil_seconds(lag_bound_ms(c, r->name)),
					       c->spec->failover.max_data_loss_seconds);
		if (r->replication_lag_seconds > max_lag)
			max_lag = r->replication_lag_seconds;
	}
	for (size_t i = 0; i < prev.n_regions; i++) {
		free(prev.regions[i].name);
		free(prev.regions[i].db_cluster_identifier);
		free(prev.regions[i].cluster_status);
		free(prev.regions[i].synchronization_status);
	}
	st->max_replication_lag_seconds = max_lag;

	if (c->writer) {
		const struct gdb_obs_region *w = cluster_seen(c, c->writer);

		gdb_set_str(&st->current_primary_region, c->writer);
		if (w && w->endpoint)
			gdb_set_str(&st->writer_endpoint, w->endpoint);
	}
	if (c->global && c->global->endpoint)
		gdb_set_str(&st->global_writer_endpoint, c->global->endpoint);
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const struct gdb_obs_region *o = cluster_seen(c, c->spec->regions[i].name);
		size_t j;

		if (!o || !o->reader_endpoint)
			continue;
		for (j = 0; j < st->n_reader_endpoints; j++)
			if (streq(st->reader_endpoints[j].region, o->name))
				break;
		if (j == st->n_reader_endpoints) {
			if (j == GDB_MAX_REGIONS)
				continue;
			st->reader_endpoints[j].region = xstrdup(o->name);
			st->reader_endpoints[j].endpoint = NULL;
			st->n_reader_endpoints++;
		}
		gdb_set_str(&st->reader_endpoints[j].endpoint, o->reader_endpoint);
	}
}

/* ---- annotations ---- */

int is_paused(const struct ctx *c)
{
	return streq(c->obs->paused, "true");
}

/*
 * An approval is an RFC 3339 time between the start of the operation it
 * approves and now: a stale annotation from last month approves nothing, and
 * neither does one dated in the future, which would otherwise approve every
 * recommendation until that date and turn Manual into Automatic. Each
 * approval is thereby used once: the next recommendation starts after it.
 * Clocks may differ by up to GDB_APPROVAL_CLOCK_SKEW_MS.
 * 1 approved, 0 not, -1 malformed or refused.
 */
int gdb_approval_time(const char *value, int64_t now_ms, int64_t *t_ms)
{
	if (base_time_parse(value, t_ms) < 0)
		return -1;
	return *t_ms > now_ms + GDB_APPROVAL_CLOCK_SKEW_MS ? -2 : 0;
}

int approved(struct ctx *c, const char *value, const char *annotation)
{
	int64_t t;
	int rc;

	if (!value)
		return 0;
	rc = gdb_approval_time(value, c->now, &t);
	if (rc == -1) {
		refuse(c, "InvalidApproval",
		       "annotation %s must be an RFC 3339 time, not \"%.64s\"", annotation, value);
		return -1;
	}
	if (rc == -2) {
		refuse(c, "ApprovalInFuture",
		       "annotation %s is dated %.40s, in the future: an approval counts only at a "
		       "time between the recommendation and now; set it to the current time",
		       annotation, value);
		return -1;
	}
	return t >= c->st->operation.started_ms / 1000 * 1000;
}
