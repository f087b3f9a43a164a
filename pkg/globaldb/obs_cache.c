/*
 * The observation cache: a per-region cache of Describe answers, shared by
 * every reconcile.
 *
 * Each region has an entry with a fetch mutex (single flight) and a pointer to
 * its newest immutable snapshot. gdb_observe() starts one thread per spec
 * region whose snapshot is stale; each thread takes the entry's fetch mutex,
 * re-checks freshness (another reconcile may have refreshed it meanwhile),
 * makes the three Describe calls and publishes the new snapshot under the
 * cache mutex. The observation then takes a reference to each region's
 * snapshot and points the planner's struct into it.
 */
#include "pkg/globaldb/observe_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkg/aws/rds.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/ownership.h"

static uint64_t fp_add(uint64_t h, const char *v)
{
	return (h ^ (v ? base_hash(v, strlen(v), 0) : 0x9e3779b97f4a7c15ULL)) * 1099511628211ULL;
}

static uint64_t fp_int(uint64_t h, int64_t v)
{
	return (h ^ (uint64_t)v) * 1099511628211ULL;
}

/* The owner tags (ownership.h): someone retagging a resource is a change. */
static uint64_t fp_owner(uint64_t h, const struct aws_tag *tags, size_t n)
{
	struct gdb_obs_owner t = gdb_owner_from_tags(tags, n);

	return fp_add(fp_add(h, t.owner), t.uid);
}

/* After build_indexes: the fingerprints of every cluster and global cluster. */
static void build_fingerprints(struct gdb_region_snap *s)
{
	s->cluster_fp = xcalloc(s->clusters.n + 1, sizeof(*s->cluster_fp));
	for (size_t i = 0; i < s->clusters.n; i++) {
		const struct aws_rds_db_cluster *cl = &s->clusters.items[i];
		uint64_t h = 0, hi = 0, k;

		h = fp_add(h, cl->arn);
		h = fp_add(h, cl->status);
		h = fp_add(h, cl->endpoint);
		h = fp_add(h, cl->reader_endpoint);
		h = fp_int(h, cl->port);
		h = fp_add(h, cl->global_cluster_identifier);
		h = fp_owner(h, cl->tags, cl->ntags);
		/* Its instances, in any order. */
		for (uint32_t e = base_cimap_first(&s->instance_by_cluster, cl->identifier, &k); e;
		     e = base_cimap_next(&s->instance_by_cluster, e, k)) {
			const struct aws_rds_db_instance *in =
				&s->instances.items[base_cimap_item(&s->instance_by_cluster, e)];

			hi += fp_add(fp_add(0, in->identifier), in->status);
		}
		s->cluster_fp[i] = fp_int(h, (int64_t)hi);
	}
	s->global_fp = xcalloc(s->globals.n + 1, sizeof(*s->global_fp));
	for (size_t i = 0; i < s->globals.n; i++) {
		const struct aws_rds_global_cluster *g = &s->globals.items[i];
		uint64_t h = 0;

		h = fp_add(h, g->status);
		h = fp_add(h, g->endpoint);
		h = fp_add(h, g->engine_version);
		h = fp_int(h, g->failover_state.present);
		h = fp_add(h, g->failover_state.status);
		h = fp_add(h, g->failover_state.from_db_cluster_arn);
		h = fp_add(h, g->failover_state.to_db_cluster_arn);
		h = fp_int(h, g->failover_state.is_data_loss_allowed);
		h = fp_owner(h, g->tags, g->ntags);
		for (size_t m = 0; m < g->nmembers; m++) {
			h = fp_add(h, g->members[m].db_cluster_arn);
			h = fp_int(h, g->members[m].is_writer);
			h = fp_add(h, g->members[m].synchronization_status);
		}
		s->global_fp[i] = h;
	}
}

static void build_indexes(struct gdb_region_snap *s)
{
	base_cimap_init(&s->cluster_by_id, s->clusters.n);
	for (size_t i = 0; i < s->clusters.n; i++)
		if (s->clusters.items[i].identifier)
			base_cimap_add(&s->cluster_by_id, s->clusters.items[i].identifier,
				       strlen(s->clusters.items[i].identifier), i);
	base_cimap_init(&s->instance_by_cluster, s->instances.n);
	for (size_t i = 0; i < s->instances.n; i++)
		if (s->instances.items[i].db_cluster_identifier)
			base_cimap_add(&s->instance_by_cluster,
				       s->instances.items[i].db_cluster_identifier,
				       strlen(s->instances.items[i].db_cluster_identifier), i);
	base_cimap_init(&s->global_by_name, 2 * s->globals.n);
	base_cimap_init(&s->global_by_member, 4 * s->globals.n);
	for (size_t i = 0; i < s->globals.n; i++) {
		const struct aws_rds_global_cluster *g = &s->globals.items[i];

		if (g->identifier) {
			size_t n = strlen(g->identifier),
			       k = gdb_generation_stem_len(g->identifier);

			base_cimap_add(&s->global_by_name, g->identifier, n, i);
			if (k < n)
				base_cimap_add(&s->global_by_name, g->identifier, k, i);
		}
		for (size_t m = 0; m < g->nmembers; m++) {
			const char *arn = g->members[m].db_cluster_arn, *tail;

			if (!arn)
				continue;
			base_cimap_add(&s->global_by_member, arn, strlen(arn), i);
			tail = strrchr(arn, ':');
			if (tail)
				base_cimap_add(&s->global_by_member, tail + 1, strlen(tail + 1), i);
		}
	}
}

void snap_unref(struct gdb_region_snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	aws_rds_db_cluster_list_release(&s->clusters);
	aws_rds_db_instance_list_release(&s->instances);
	aws_rds_global_cluster_list_release(&s->globals);
	base_cimap_release(&s->cluster_by_id);
	base_cimap_release(&s->instance_by_cluster);
	base_cimap_release(&s->global_by_name);
	base_cimap_release(&s->global_by_member);
	free(s->cluster_fp);
	free(s->global_fp);
	free(s);
}

struct gdb_obs_cache *gdb_obs_cache_new(struct aws_client *aws, int64_t ttl_ms)
{
	struct gdb_obs_cache *c = xcalloc(1, sizeof(*c));

	c->aws = aws;
	c->ttl_ms = ttl_ms > 0 ? ttl_ms : GDB_OBS_TTL_MS;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	base_cond_init_monotonic(&c->stop);
	return c;
}

void gdb_obs_cache_free(struct gdb_obs_cache *c)
{
	struct cache_entry *e, *next;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_broadcast(&c->stop);
	pthread_mutex_unlock(&c->lock);
	if (c->watching)
		pthread_join(c->watcher, NULL);
	pthread_mutex_lock(&c->lock);
	while (c->background > 0)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	for (e = c->entries; e; e = next) {
		next = e->next;
		snap_unref(e->snap);
		snap_unref(e->seen);
		pthread_mutex_destroy(&e->fetch_lock);
		free(e->region);
		free(e);
	}
	pthread_cond_destroy(&c->idle);
	pthread_cond_destroy(&c->stop);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

unsigned long gdb_obs_cache_rounds(struct gdb_obs_cache *c)
{
	return atomic_load(&c->rounds);
}

struct cache_entry *entry_get(struct gdb_obs_cache *c, const char *region)
{
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	for (e = c->entries; e; e = e->next)
		if (!strcmp(e->region, region))
			break;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->region = xstrdup(region);
		pthread_mutex_init(&e->fetch_lock, NULL);
		e->next = c->entries;
		c->entries = e;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

void gdb_obs_cache_invalidate(struct gdb_obs_cache *c, const char *region)
{
	struct cache_entry *e;

	if (!c || !region)
		return;
	e = entry_get(c, region);
	pthread_mutex_lock(&c->lock);
	e->stale = 1;
	pthread_mutex_unlock(&c->lock);
}

/* A new reference to the entry's snapshot when it is younger than max_age_ms, else NULL. */
struct gdb_region_snap *fresh_snap(struct gdb_obs_cache *c, struct cache_entry *e,
				   int64_t max_age_ms)
{
	struct gdb_region_snap *s = NULL;

	pthread_mutex_lock(&c->lock);
	if (e->snap && !e->stale && base_now_mono_ms() - e->snap->fetched_mono < max_age_ms) {
		s = e->snap;
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

enum gdb_call gdb_call_from_error(int rc, const char *code)
{
	if (rc == 0)
		return GDB_CALL_OK;
	if (code && (!strcmp(code, "InvalidParameterCombination") ||
		     !strcmp(code, "InvalidParameterValue") ||
		     strstr(code, "InvalidGlobalCluster") || strstr(code, "InvalidDBCluster")))
		return GDB_CALL_INVALID_STATE;
	switch (rc) {
	case BASE_ETHROTTLED:
		return GDB_CALL_THROTTLED;
	case BASE_ETRANSPORT:
	case BASE_ESERVER:
		return GDB_CALL_UNREACHABLE;
	case BASE_ETIMEDOUT:
		return GDB_CALL_TIMEOUT;
	case BASE_ECONFLICT:
		return GDB_CALL_INVALID_STATE;
	case BASE_ENOTFOUND:
		return GDB_CALL_NOT_FOUND;
	case BASE_EEXIST:
		return GDB_CALL_ALREADY_EXISTS;
	case BASE_EFORBIDDEN:
	case BASE_EUNAUTHORIZED:
		return GDB_CALL_FORBIDDEN;
	default:
		return GDB_CALL_OTHER;
	}
}

/* One of the three Describe calls of a round, run on its own thread. */
struct describe {
	struct gdb_obs_cache *c;
	const char *region;
	struct gdb_region_snap *s;
	int which; /* 0 clusters, 1 instances, 2 global clusters */
	int rc;
	struct aws_error err;
};

static void *describe_thread(void *arg)
{
	struct describe *d = arg;

	aws_error_clear(&d->err);
	if (d->which == 0)
		d->rc = aws_rds_describe_db_clusters(d->c->aws, d->region, NULL, NULL,
						     &d->s->clusters, &d->err);
	else if (d->which == 1)
		d->rc = aws_rds_describe_db_instances(d->c->aws, d->region, NULL, NULL,
						      &d->s->instances, &d->err);
	else
		d->rc = aws_rds_describe_global_clusters(d->c->aws, d->region, NULL, NULL,
							 &d->s->globals, &d->err);
	return NULL;
}

/*
 * One round: the three Describe calls of the region at once (a round takes
 * as long as its slowest call, not their sum: this is on the path from a
 * spec change to the action).
 */
static struct gdb_region_snap *fetch(struct gdb_obs_cache *c, const char *region)
{
	static const char *const what[] = {"DescribeDBClusters", "DescribeDBInstances",
					   "DescribeGlobalClusters"};
	struct gdb_region_snap *s = xcalloc(1, sizeof(*s));
	struct describe d[3];
	pthread_t thr[3];
	int started[3] = {0};

	atomic_init(&s->refs, 1);
	for (int i = 0; i < 3; i++) {
		d[i] = (struct describe){.c = c, .region = region, .s = s, .which = i};
		started[i] = i > 0 && pthread_create(&thr[i], NULL, describe_thread, &d[i]) == 0;
		if (i > 0 && !started[i])
			describe_thread(&d[i]);
	}
	describe_thread(&d[0]);
	for (int i = 1; i < 3; i++)
		if (started[i])
			pthread_join(thr[i], NULL);
	/* One line per failed round, naming its first failure (a region that is down fails all
	 * three). */
	for (int i = 0; i < 3; i++)
		if (d[i].rc < 0) {
			char n[4];

			base_log(BASE_LOG_WARN, "describe round failed", "region", region, "call",
				 what[i], "error", base_strerror(d[i].rc), "aws_code",
				 d[i].err.code, "failed_calls",
				 base_fmt(n, sizeof(n), "%d",
					  (d[0].rc < 0) + (d[1].rc < 0) + (d[2].rc < 0)),
				 NULL);
			break;
		}
	/* Without the instances a cluster would look headless: count the region as failed. */
	s->call = gdb_call_from_error(d[0].rc < 0 ? d[0].rc : d[1].rc,
				      d[0].rc < 0 ? d[0].err.code : d[1].err.code);
	s->globals_call = s->call == GDB_CALL_OK ? gdb_call_from_error(d[2].rc, d[2].err.code)
						 : GDB_CALL_UNKNOWN;
	build_indexes(s);
	build_fingerprints(s);
	atomic_fetch_add(&c->rounds, 1);
	s->fetched_mono = base_now_mono_ms();
	return s;
}

/*
 * A new reference to the entry's snapshot while another reconcile refreshes
 * it, if that snapshot is usable meanwhile: not invalidated by an action and
 * at most GDB_OBS_MAX_STALE_MS older than the caller asked for. Else NULL.
 */
static struct gdb_region_snap *usable_snap(struct gdb_obs_cache *c, struct cache_entry *e,
					   int64_t max_age_ms)
{
	struct gdb_region_snap *s = NULL;

	pthread_mutex_lock(&c->lock);
	if (e->snap && !e->stale &&
	    base_now_mono_ms() - e->snap->fetched_mono < max_age_ms + GDB_OBS_MAX_STALE_MS) {
		s = e->snap;
		atomic_fetch_add(&s->refs, 1);
	}
	pthread_mutex_unlock(&c->lock);
	return s;
}

/* The index of the item of x named id exactly (case-insensitively), or -1. */
long find_named(const struct base_cimap *x, const char *id,
		const char *(*name)(const struct gdb_region_snap *, uint32_t),
		const struct gdb_region_snap *s)
{
	uint64_t h;

	for (uint32_t e = base_cimap_first(x, id, &h); e; e = base_cimap_next(x, e, h))
		if (!strcasecmp(name(s, base_cimap_item(x, e)), id))
			return (long)base_cimap_item(x, e);
	return -1;
}

const char *cluster_name(const struct gdb_region_snap *s, uint32_t i)
{
	return s->clusters.items[i].identifier;
}

static const char *global_name(const struct gdb_region_snap *s, uint32_t i)
{
	return s->globals.items[i].identifier;
}

/* One kind of item of an answer, clusters (global 0) or global clusters (1). */
struct items {
	const struct base_cimap *index;
	const uint64_t *fp;
	size_t n;
	const char *(*name)(const struct gdb_region_snap *, uint32_t);
};

static struct items items_of(const struct gdb_region_snap *s, int global)
{
	if (global)
		return (struct items){&s->global_by_name, s->global_fp, s->globals.n, global_name};
	return (struct items){&s->cluster_by_id, s->cluster_fp, s->clusters.n, cluster_name};
}

/* Tells on_change of every item of one kind that is new, gone or different in now. */
static void report_kind(struct gdb_obs_cache *c, const char *region,
			const struct gdb_region_snap *old, const struct gdb_region_snap *now,
			int global)
{
	struct items o = items_of(old, global), w = items_of(now, global);

	for (uint32_t i = 0; i < w.n; i++) {
		const char *id = w.name(now, i);
		long j = id ? find_named(o.index, id, o.name, old) : 0;

		if (id && (j < 0 || o.fp[j] != w.fp[i]))
			c->on_change(c->on_change_arg, region, global, id);
	}
	for (uint32_t j = 0; j < o.n; j++) {
		const char *id = o.name(old, j);

		if (id && find_named(w.index, id, w.name, now) < 0)
			c->on_change(c->on_change_arg, region, global, id);
	}
}

/*
 * Tells on_change of every cluster and global cluster that is new, gone or
 * different between the answers old and now. fetch_lock held, so reports of
 * a region keep the order of its rounds.
 */
static void report_changes(struct gdb_obs_cache *c, const char *region,
			   const struct gdb_region_snap *old, const struct gdb_region_snap *now)
{
	if (old->call == GDB_CALL_OK && now->call == GDB_CALL_OK)
		report_kind(c, region, old, now, 0);
	if (old->globals_call == GDB_CALL_OK && now->globals_call == GDB_CALL_OK)
		report_kind(c, region, old, now, 1);
}

static int complete(const struct gdb_region_snap *s)
{
	return s->call == GDB_CALL_OK && s->globals_call == GDB_CALL_OK;
}

/* Tells on_change of every cluster and global cluster of s: the region's API came or went. */
static void report_all(struct gdb_obs_cache *c, const char *region, const struct gdb_region_snap *s)
{
	for (int global = 0; global < 2; global++) {
		struct items it = items_of(s, global);

		for (uint32_t i = 0; i < it.n; i++)
			if (it.name(s, i))
				c->on_change(c->on_change_arg, region, global, it.name(s, i));
	}
}

/*
 * Fetches the region and publishes the answer, unless another did so within
 * max_age_ms meanwhile. Takes fetch_lock. With a change callback, reports
 * what changed since the last complete answer, and everything the region
 * holds when its API stops or starts answering.
 */
static struct gdb_region_snap *refresh(struct gdb_obs_cache *c, struct cache_entry *e,
				       int64_t max_age_ms)
{
	struct gdb_region_snap *s, *old;

	pthread_mutex_lock(&e->fetch_lock);
	s = fresh_snap(c, e, max_age_ms);
	if (!s) {
		s = fetch(c, e->region);
		atomic_fetch_add(&s->refs, 1);
		pthread_mutex_lock(&c->lock);
		old = e->snap;
		e->snap = s;
		e->stale = 0;
		pthread_mutex_unlock(&c->lock);
		if (c->on_change && e->seen) {
			if (complete(s) && old && !complete(old))
				report_all(c, e->region, s);
			else if (!complete(s) && (!old || complete(old)))
				report_all(c, e->region, e->seen);
			else
				report_changes(c, e->region, e->seen, s);
		}
		snap_unref(old);
		if (complete(s)) {
			snap_unref(e->seen);
			atomic_fetch_add(&s->refs, 1);
			e->seen = s;
		}
	}
	pthread_mutex_unlock(&e->fetch_lock);
	return s;
}

/*
 * gdb_obs_cache_watch's thread: every GDB_OBS_WATCH_TICK_MS, each region a
 * reconcile asked about is refreshed once its answer is GDB_OBS_SETTLED_MS
 * old, so changes are reported even while no reconcile asks.
 */
struct gdb_region_snap *region_snap(struct gdb_obs_cache *c, const char *region,
				    int64_t max_age_ms);

static void *watch_rounds(void *arg)
{
	struct gdb_obs_cache *c = arg;
	char **regions = NULL;
	size_t n, alloc = 0;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		n = 0;
		for (struct cache_entry *e = c->entries; e; e = e->next) {
			ALLOC_GROW(regions, n + 1, alloc);
			regions[n++] = xstrdup(e->region);
		}
		pthread_mutex_unlock(&c->lock);
		for (size_t i = 0; i < n; i++) {
			snap_unref(region_snap(c, regions[i], GDB_OBS_SETTLED_MS));
			free(regions[i]);
		}
		pthread_mutex_lock(&c->lock);
		if (!c->stopping)
			base_cond_wait_ms(&c->stop, &c->lock, GDB_OBS_WATCH_TICK_MS);
	}
	pthread_mutex_unlock(&c->lock);
	free(regions);
	return NULL;
}

void gdb_obs_cache_watch(struct gdb_obs_cache *c, gdb_obs_change_fn fn, void *arg)
{
	BUG_ON(c->on_change);
	c->on_change = fn;
	c->on_change_arg = arg;
	c->watching = pthread_create(&c->watcher, NULL, watch_rounds, c) == 0;
	if (!c->watching)
		base_log(BASE_LOG_WARN,
			 "cannot start the round watcher; drift is seen by reconciles only", NULL);
}

struct background {
	struct gdb_obs_cache *c;
	struct cache_entry *e;
};

static void *background_refresh(void *arg)
{
	struct background *b = arg;
	struct gdb_obs_cache *c = b->c;

	snap_unref(refresh(c, b->e, c->ttl_ms));
	pthread_mutex_lock(&c->lock);
	b->e->refreshing = 0;
	c->background--;
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	free(b);
	return NULL;
}

/*
 * When the region's last answer was a failure (an error, a timeout), usable
 * as in usable_snap: a new reference to it, with a refresh started in the
 * background, so that a region that hangs costs no reconcile its call
 * timeout again and again. The region counts as failing until it answers.
 * Else NULL.
 */
static struct gdb_region_snap *failed_snap(struct gdb_obs_cache *c, struct cache_entry *e,
					   int64_t max_age_ms)
{
	struct gdb_region_snap *s = usable_snap(c, e, max_age_ms);
	struct background *b;
	pthread_attr_t attr;
	pthread_t thr;
	int start = 0, rc;

	if (!s || s->call == GDB_CALL_OK) {
		snap_unref(s);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	if (!e->refreshing) {
		e->refreshing = 1;
		c->background++;
		start = 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (!start)
		return s;
	b = xcalloc(1, sizeof(*b));
	b->c = c;
	b->e = e;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&thr, &attr, background_refresh, b);
	pthread_attr_destroy(&attr);
	if (rc == 0)
		return s;
	free(b);
	pthread_mutex_lock(&c->lock);
	e->refreshing = 0;
	c->background--;
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	snap_unref(s);
	return NULL; /* refresh in the caller's thread instead */
}

/*
 * The region's snapshot, refreshed if stale (single flight). A new reference.
 * Only one reconcile waits for a refresh: the others take the previous
 * snapshot while it is usable, so that with many resources the reconcile
 * rate is not bounded by how long a round of Describe calls takes. A region
 * whose last answer failed is refreshed in the background (failed_snap).
 */
struct gdb_region_snap *region_snap(struct gdb_obs_cache *c, const char *region, int64_t max_age_ms)
{
	struct cache_entry *e = entry_get(c, region);
	struct gdb_region_snap *s = fresh_snap(c, e, max_age_ms);

	if (s || (s = failed_snap(c, e, max_age_ms)))
		return s;
	if (pthread_mutex_trylock(&e->fetch_lock) == 0)
		pthread_mutex_unlock(&e->fetch_lock); /* nobody refreshing: do it */
	else if ((s = usable_snap(c, e, max_age_ms)))
		return s;
	return refresh(c, e, max_age_ms);
}
