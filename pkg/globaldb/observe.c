/*
 * The observation: a per-region cache of Describe answers, and the view of it
 * one reconcile hands the planner.
 *
 * Size: over the house's 800 lines because it still holds both halves named
 * above; the seam is the cache (entries, snapshots, refresh threads) versus
 * the planner's view built from it. The split is open work (issue 22).
 *
 * Each region has an entry with a fetch mutex (single flight) and a pointer to
 * its newest immutable snapshot. gdb_observe() starts one thread per spec
 * region whose snapshot is stale; each thread takes the entry's fetch mutex,
 * re-checks freshness (another reconcile may have refreshed it meanwhile),
 * makes the three Describe calls and publishes the new snapshot under the
 * cache mutex. The observation then takes a reference to each region's
 * snapshot and points the planner's struct into it.
 */
#include "pkg/globaldb/observe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"
#include "pkg/base/timeutil.h"
#include "pkg/globaldb/ownership.h"

/*
 * A case-insensitive multimap from strings to item numbers, built once per
 * round: AWS identifiers compare case-insensitively, and without it every
 * reconcile compared its few names with every item of the region (thousands
 * of clusters, a reconcile every few milliseconds at scale). Lookups yield
 * candidates; the caller still checks them exactly.
 */
struct ci_index {
	uint32_t *head; /* per bucket: 1 + its first entry, 0 = none */
	uint32_t *next; /* per entry: 1 + the next entry of its chain */
	uint32_t *item; /* per entry: the item number */
	uint64_t *hash; /* per entry */
	size_t mask, n, cap;
};

struct gdb_region_snap {
	atomic_int refs;
	int64_t fetched_mono;
	enum gdb_call call; /* DescribeDBClusters */
	struct aws_rds_db_cluster_list clusters;
	struct aws_rds_db_instance_list instances;
	enum gdb_call globals_call;
	struct aws_rds_global_cluster_list globals;
	struct ci_index cluster_by_id;	     /* cluster identifier -> cluster */
	struct ci_index instance_by_cluster; /* instance's cluster identifier -> instance */
	struct ci_index global_by_name;	     /* identifier, and without a "-N" suffix -> global */
	struct ci_index global_by_member;    /* member ARN, and its last field -> global */
	/* Per item, a hash of what the planner reads of it: a round's changes are where these differ. */
	uint64_t *cluster_fp; /* with its instances */
	uint64_t *global_fp;
};

/* An index for about n entries (more are fine: the chains grow). */
static void ci_init(struct ci_index *x, size_t n)
{
	size_t buckets = 16;

	while (buckets < 2 * n)
		buckets *= 2;
	x->head = xcalloc(buckets, sizeof(*x->head));
	x->mask = buckets - 1;
	x->n = 0;
	/* Sized once: doubling from small would leave a trail of freed arrays in the heap. */
	x->cap = n ? n : 1;
	x->next = xmalloc(x->cap * sizeof(*x->next));
	x->item = xmalloc(x->cap * sizeof(*x->item));
	x->hash = xmalloc(x->cap * sizeof(*x->hash));
}

/* Adds the key s[0..len) for item. */
static void ci_add(struct ci_index *x, const char *s, size_t len, size_t item)
{
	uint64_t h = base_hash(s, len, 1);

	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->next = xrealloc(x->next, x->cap * sizeof(*x->next));
		x->item = xrealloc(x->item, x->cap * sizeof(*x->item));
		x->hash = xrealloc(x->hash, x->cap * sizeof(*x->hash));
	}
	x->item[x->n] = (uint32_t)item;
	x->hash[x->n] = h;
	x->next[x->n] = x->head[h & x->mask];
	x->head[h & x->mask] = (uint32_t)++x->n;
}

/*
 * Iteration over the candidates for key: e = ci_first(x, key, &h); while (e)
 * { use x->item[e - 1]; e = ci_next(x, e, h); }. Candidates share the key's
 * hash; the caller compares.
 */
static uint32_t ci_next(const struct ci_index *x, uint32_t e, uint64_t h)
{
	for (e = x->next[e - 1]; e && x->hash[e - 1] != h; e = x->next[e - 1])
		;
	return e;
}

static uint32_t ci_first(const struct ci_index *x, const char *key, uint64_t *h)
{
	uint32_t e;

	if (!x->head || !key)
		return 0;
	*h = base_hash(key, strlen(key), 1);
	e = x->head[*h & x->mask];
	return e && x->hash[e - 1] != *h ? ci_next(x, e, *h) : e;
}

static void ci_release(struct ci_index *x)
{
	free(x->head);
	free(x->next);
	free(x->item);
	free(x->hash);
	memset(x, 0, sizeof(*x));
}

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
		for (uint32_t e = ci_first(&s->instance_by_cluster, cl->identifier, &k); e;
		     e = ci_next(&s->instance_by_cluster, e, k)) {
			const struct aws_rds_db_instance *in =
				&s->instances.items[s->instance_by_cluster.item[e - 1]];

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
	ci_init(&s->cluster_by_id, s->clusters.n);
	for (size_t i = 0; i < s->clusters.n; i++)
		if (s->clusters.items[i].identifier)
			ci_add(&s->cluster_by_id, s->clusters.items[i].identifier,
			       strlen(s->clusters.items[i].identifier), i);
	ci_init(&s->instance_by_cluster, s->instances.n);
	for (size_t i = 0; i < s->instances.n; i++)
		if (s->instances.items[i].db_cluster_identifier)
			ci_add(&s->instance_by_cluster, s->instances.items[i].db_cluster_identifier,
			       strlen(s->instances.items[i].db_cluster_identifier), i);
	ci_init(&s->global_by_name, 2 * s->globals.n);
	ci_init(&s->global_by_member, 4 * s->globals.n);
	for (size_t i = 0; i < s->globals.n; i++) {
		const struct aws_rds_global_cluster *g = &s->globals.items[i];

		if (g->identifier) {
			size_t n = strlen(g->identifier),
			       k = gdb_generation_stem_len(g->identifier);

			ci_add(&s->global_by_name, g->identifier, n, i);
			if (k < n)
				ci_add(&s->global_by_name, g->identifier, k, i);
		}
		for (size_t m = 0; m < g->nmembers; m++) {
			const char *arn = g->members[m].db_cluster_arn, *tail;

			if (!arn)
				continue;
			ci_add(&s->global_by_member, arn, strlen(arn), i);
			tail = strrchr(arn, ':');
			if (tail)
				ci_add(&s->global_by_member, tail + 1, strlen(tail + 1), i);
		}
	}
}

struct cache_entry {
	char *region;
	pthread_mutex_t fetch_lock;
	struct gdb_region_snap *snap; /* under the cache lock */
	int stale;		      /* under the cache lock */
	int refreshing;		      /* a background refresh runs; under the cache lock */
	struct gdb_region_snap
		*seen; /* the last answer changes were reported against; fetch_lock */
	struct cache_entry *next;
};

struct gdb_obs_cache {
	struct aws_client *aws;
	int64_t ttl_ms;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when a background refresh ends */
	int background;	     /* background refreshes running; under lock */
	struct cache_entry *entries;
	atomic_ulong rounds;
	/* gdb_obs_cache_watch: the change callback, and the thread that keeps rounds going. */
	gdb_obs_change_fn on_change;
	void *on_change_arg;
	pthread_t watcher;
	int watching, stopping; /* under lock */
	pthread_cond_t stop;	/* signalled by gdb_obs_cache_free */
};

static void snap_unref(struct gdb_region_snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	aws_rds_db_cluster_list_release(&s->clusters);
	aws_rds_db_instance_list_release(&s->instances);
	aws_rds_global_cluster_list_release(&s->globals);
	ci_release(&s->cluster_by_id);
	ci_release(&s->instance_by_cluster);
	ci_release(&s->global_by_name);
	ci_release(&s->global_by_member);
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

static struct cache_entry *entry_get(struct gdb_obs_cache *c, const char *region)
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
static struct gdb_region_snap *fresh_snap(struct gdb_obs_cache *c, struct cache_entry *e,
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
static long find_named(const struct ci_index *x, const char *id,
		       const char *(*name)(const struct gdb_region_snap *, uint32_t),
		       const struct gdb_region_snap *s)
{
	uint64_t h;

	for (uint32_t e = ci_first(x, id, &h); e; e = ci_next(x, e, h))
		if (!strcasecmp(name(s, x->item[e - 1]), id))
			return (long)x->item[e - 1];
	return -1;
}

static const char *cluster_name(const struct gdb_region_snap *s, uint32_t i)
{
	return s->clusters.items[i].identifier;
}

static const char *global_name(const struct gdb_region_snap *s, uint32_t i)
{
	return s->globals.items[i].identifier;
}

/* One kind of item of an answer, clusters (global 0) or global clusters (1). */
struct items {
	const struct ci_index *index;
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
static struct gdb_region_snap *region_snap(struct gdb_obs_cache *c, const char *region,
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
			if (n == alloc) {
				alloc = alloc ? 2 * alloc : 8;
				regions = xrealloc(regions, alloc * sizeof(*regions));
			}
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
static struct gdb_region_snap *region_snap(struct gdb_obs_cache *c, const char *region,
					   int64_t max_age_ms)
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

struct fetch_job {
	struct gdb_obs_cache *c;
	const char *region;
	int64_t max_age_ms;
	struct gdb_region_snap *out;
	pthread_t thr;
	int started;
};

static void *fetch_thread(void *arg)
{
	struct fetch_job *j = arg;

	j->out = region_snap(j->c, j->region, j->max_age_ms);
	return NULL;
}

/* ---- building the planner's view ---- */

static const struct aws_rds_db_cluster *find_cluster(const struct gdb_region_snap *s,
						     const char *id)
{
	long i = find_named(&s->cluster_by_id, id, cluster_name, s);

	return i < 0 ? NULL : &s->clusters.items[i];
}

/* The identifier of the global cluster holding arn, from the chosen region's global list. */
static const char *membership(const struct gdb_region_snap *gs, const char *arn)
{
	const struct aws_rds_global_cluster *found = NULL;
	uint64_t h;

	/* The first in list order, as a scan of the list would find. */
	for (uint32_t e = ci_first(&gs->global_by_member, arn, &h); e;
	     e = ci_next(&gs->global_by_member, e, h)) {
		const struct aws_rds_global_cluster *g =
			&gs->globals.items[gs->global_by_member.item[e - 1]];

		if (found && g >= found)
			continue;
		for (size_t m = 0; m < g->nmembers; m++)
			if (g->members[m].db_cluster_arn &&
			    !strcmp(g->members[m].db_cluster_arn, arn))
				found = g;
	}
	return found ? found->identifier : NULL;
}

/* "arn:aws:rds::123:global-cluster:id" -> "id"; a plain identifier is returned as is. */
static const char *strip_global_arn(const char *v)
{
	const char *p;

	if (!v || strncmp(v, "arn:", 4) != 0)
		return v;
	p = strrchr(v, ':');
	return p ? p + 1 : v;
}

static int is_ours(const struct gdb_spec *spec, const struct gdb_status *st,
		   const struct aws_rds_global_cluster *g)
{
	if (!g->identifier)
		return 0;
	if (st->global_cluster_identifier &&
	    !strcasecmp(g->identifier, st->global_cluster_identifier))
		return 1;
	if (gdb_generation_of(spec->global_cluster_identifier, g->identifier) > 0)
		return 1;
	for (size_t m = 0; m < g->nmembers; m++) {
		const char *arn = g->members[m].db_cluster_arn,
			   *tail = arn ? strrchr(arn, ':') : NULL;
		char region[64], id[128];
		size_t k;

		/* Every reconcile looks at every global cluster of the region: parse only a
		 * member whose ARN ends in one of our cluster names. */
		for (k = 0; tail && k < spec->n_regions; k++)
			if (!strcasecmp(tail + 1, spec->regions[k].db_cluster_identifier))
				break;
		if (!tail || k == spec->n_regions ||
		    gdb_parse_cluster_arn(arn, region, sizeof(region), id, sizeof(id)) < 0)
			continue;
		for (size_t r = 0; r < spec->n_regions; r++)
			if (!strcmp(spec->regions[r].name, region) &&
			    !strcasecmp(spec->regions[r].db_cluster_identifier, id))
				return 1;
	}
	return 0;
}

static const char *keep(struct gdb_observation *o, const char *s)
{
	char *copy;

	if (!s || o->n_strings == ARRAY_SIZE(o->strings))
		return NULL;
	copy = xstrdup(s);
	o->strings[o->n_strings++] = copy;
	return copy;
}

static const char *annotation(struct gdb_observation *o, json_t *obj, const char *name)
{
	json_t *v = json_object_get(
		json_object_get(json_object_get(obj, "metadata"), "annotations"), name);

	return json_is_string(v) ? keep(o, json_string_value(v)) : NULL;
}

/* The object's identity, which its resources' owner tags must name (ownership.h). */
static void observe_identity(struct gdb_observation *o, json_t *obj)
{
	char owner[GDB_OWNER_MAX];

	if (gdb_owner_name(obj, owner, sizeof(owner)) == 0)
		o->obs.owner = keep(o, owner);
	o->obs.owner_uid = keep(
		o, json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid")));
}

/* qsort order of snapshots: the newest first, then by identifier (descending). */
static int newest_first(const void *a, const void *b)
{
	const struct aws_rds_cluster_snapshot *x = a, *y = b;

	if (x->create_time_ms != y->create_time_ms)
		return x->create_time_ms > y->create_time_ms ? -1 : 1;
	return -strcmp(x->identifier ? x->identifier : "", y->identifier ? y->identifier : "");
}

static void observe_snapshots(struct gdb_obs_cache *c, const struct gdb_spec *spec,
			      const struct gdb_status *st, struct gdb_observation *o)
{
	const struct gdb_operation *op = &st->operation;

	/* Only a fallback after a managed failover reads snapshots (to copy Aurora's). */
	if (op->type != GDB_OP_FALLBACK ||
	    (op->step != GDB_STEP_COPY_SNAPSHOT && op->step != GDB_STEP_WAIT_READDED))
		return;
	for (size_t i = 0; i < o->obs.n_regions; i++) {
		struct gdb_obs_region *r = &o->obs.regions[i];
		const struct gdb_region_spec *rs = gdb_spec_region(spec, r->name, NULL);
		struct aws_rds_cluster_snapshot_list *l;
		struct aws_error err;

		if (!op->target_region || strcmp(r->name, op->target_region) != 0 ||
		    r->api != GDB_CALL_OK || !rs)
			continue;
		l = xcalloc(1, sizeof(*l));
		aws_error_clear(&err);
		if (aws_rds_describe_db_cluster_snapshots(
			    c->aws, r->name, rs->db_cluster_identifier, NULL, NULL, l, &err) < 0) {
			free(l);
			continue;
		}
		/* The newest GDB_MAX_SNAPSHOTS: this failover's snapshot and its copy are among
		 * them. */
		qsort(l->items, l->n, sizeof(l->items[0]), newest_first);
		o->snapshots[i] = l;
		for (size_t k = 0; k < l->n && r->n_snapshots < GDB_MAX_SNAPSHOTS; k++) {
			r->snapshot_created_ms[r->n_snapshots] = l->items[k].create_time_ms;
			r->snapshot_ids[r->n_snapshots++] = l->items[k].identifier;
		}
	}
}

/*
 * Route 53's status of the change the operation waits for: the one its status
 * records, or the one the UPSERT just made (the status records it in this
 * very reconcile, and a change that is already INSYNC needs no 2 s poll).
 */
static void observe_dns(struct gdb_obs_cache *c, const struct gdb_status *st,
			struct gdb_observation *o)
{
	const struct gdb_obs_last_result *l = &o->obs.last;
	const char *id = NULL;
	struct aws_r53_change_info ci;
	struct aws_error err;

	if (st->operation.step == GDB_STEP_WAIT_DNS_INSYNC)
		id = st->operation.dns_change_id;
	else if (st->operation.step == GDB_STEP_UPDATE_DNS && l->action == GDB_ACT_UPSERT_DNS &&
		 l->call == GDB_CALL_OK)
		id = l->change_id;
	if (!id)
		return;
	memset(&ci, 0, sizeof(ci));
	aws_error_clear(&err);
	if (aws_route53_get_change(c->aws, id, &ci, &err) == 0 && ci.status) {
		o->dns_status = xstrdup(ci.status);
		o->obs.dns_change_status = o->dns_status;
	} else {
		base_log(BASE_LOG_WARN, "route53 get change failed", "change", id, "aws_code",
			 err.code, NULL);
	}
	aws_r53_change_info_release(&ci);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static size_t add_candidates(const struct ci_index *x, const char *key, uint32_t *out, size_t n,
			     size_t max)
{
	uint64_t h;

	for (uint32_t e = ci_first(x, key, &h); e && n < max; e = ci_next(x, e, h))
		out[n++] = x->item[e - 1];
	return n;
}

/*
 * The global clusters of gs that is_ours may accept, in list order, without
 * duplicates: those named as the status or the spec names the global cluster
 * (with or without a fallback's "-N"), and those with a member named as one of
 * the spec's clusters.
 */
static size_t global_candidates(const struct gdb_region_snap *gs, const struct gdb_spec *spec,
				const struct gdb_status *st, uint32_t *out, size_t max)
{
	size_t n = 0, k = 0;

	n = add_candidates(&gs->global_by_name, st->global_cluster_identifier, out, n, max);
	n = add_candidates(&gs->global_by_name, spec->global_cluster_identifier, out, n, max);
	if (spec->global_cluster_identifier) {
		/* A base "<stem>-N" finds its later generations under the stem. */
		const char *base = spec->global_cluster_identifier;
		size_t len = gdb_generation_stem_len(base);
		char stem[128];

		if (len < strlen(base) && len < sizeof(stem)) {
			memcpy(stem, base, len);
			stem[len] = '\0';
			n = add_candidates(&gs->global_by_name, stem, out, n, max);
		}
	}
	for (size_t r = 0; r < spec->n_regions; r++)
		n = add_candidates(&gs->global_by_member, spec->regions[r].db_cluster_identifier,
				   out, n, max);
	qsort(out, n, sizeof(*out), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || out[k - 1] != out[i])
			out[k++] = out[i];
	return k;
}

void gdb_observe(struct gdb_obs_cache *c, const struct gdb_spec *spec, const struct gdb_status *st,
		 json_t *obj, const struct gdb_obs_last_result *last, int64_t max_age_ms,
		 struct gdb_observation *o)
{
	struct fetch_job jobs[GDB_MAX_REGIONS];
	json_t *meta = json_object_get(obj, "metadata");
	const struct gdb_region_snap *gs = NULL; /* the region whose global clusters count */
	size_t n = spec->n_regions < GDB_MAX_REGIONS ? spec->n_regions : GDB_MAX_REGIONS;
	uint32_t cand[64];
	size_t ncand;

	memset(o, 0, sizeof(*o));
	memset(jobs, 0, sizeof(jobs));
	o->obs.generation = json_integer_value(json_object_get(meta, "generation"));
	o->obs.deleting = json_object_get(meta, "deletionTimestamp") != NULL &&
			  !json_is_null(json_object_get(meta, "deletionTimestamp"));
	o->obs.paused = annotation(o, obj, GDB_ANNOTATION_PAUSED);
	o->obs.approve_failover = annotation(o, obj, GDB_ANNOTATION_APPROVE_FAILOVER);
	o->obs.approve_fallback = annotation(o, obj, GDB_ANNOTATION_APPROVE_FALLBACK);
	observe_identity(o, obj);
	if (last && last->action) {
		o->obs.last = *last;
		o->obs.last.region = keep(o, last->region);
		o->obs.last.aws_code = keep(o, last->aws_code);
		o->obs.last.message = keep(o, last->message);
		o->obs.last.change_id = keep(o, last->change_id);
		o->obs.last.ecs_restarted = keep(o, last->ecs_restarted);
		o->obs.last.ecs_unreachable = keep(o, last->ecs_unreachable);
	}

	/* Fresh answers are taken at once; stale regions are refreshed in parallel. */
	if (max_age_ms <= 0)
		max_age_ms = c->ttl_ms;
	for (size_t i = 0; i < n; i++) {
		jobs[i].c = c;
		jobs[i].region = spec->regions[i].name;
		jobs[i].max_age_ms = max_age_ms;
		jobs[i].out = fresh_snap(c, entry_get(c, jobs[i].region), max_age_ms);
		if (!jobs[i].out && pthread_create(&jobs[i].thr, NULL, fetch_thread, &jobs[i]) == 0)
			jobs[i].started = 1;
		else if (!jobs[i].out)
			jobs[i].out = region_snap(c, jobs[i].region, max_age_ms);
	}
	/* While the regions answer: Route 53's change status needs none of them. */
	observe_dns(c, st, o);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].started)
			pthread_join(jobs[i].thr, NULL);

	for (size_t i = 0; i < n; i++) {
		o->snaps[i] = jobs[i].out;
		if (!gs && jobs[i].out->globals_call == GDB_CALL_OK)
			gs = jobs[i].out;
	}
	o->n_snaps = n;

	ncand = gs ? global_candidates(gs, spec, st, cand, ARRAY_SIZE(cand)) : 0;
	for (size_t i = 0; i < ncand && o->obs.n_globals < GDB_MAX_GLOBALS; i++) {
		const struct aws_rds_global_cluster *g = &gs->globals.items[cand[i]];
		struct gdb_obs_global *og;

		if (!is_ours(spec, st, g))
			continue;
		og = &o->obs.globals[o->obs.n_globals++];
		og->identifier = g->identifier;
		og->status = g->status;
		og->endpoint = g->endpoint;
		og->engine_version = g->engine_version;
		og->arn = g->arn;
		og->owner = gdb_owner_from_tags(g->tags, g->ntags);
		if (g->failover_state.present && g->failover_state.status) {
			og->failover_status = g->failover_state.status;
			og->failover_from_arn = g->failover_state.from_db_cluster_arn;
			og->failover_to_arn = g->failover_state.to_db_cluster_arn;
			og->failover_data_loss_allowed = g->failover_state.is_data_loss_allowed;
		}
		for (size_t m = 0; m < g->nmembers && og->n_members < GDB_MAX_MEMBERS; m++) {
			struct gdb_obs_member *om = &og->members[og->n_members++];

			om->db_cluster_arn = g->members[m].db_cluster_arn;
			om->is_writer = g->members[m].is_writer;
			om->synchronization_status = g->members[m].synchronization_status;
		}
	}

	for (size_t i = 0; i < n; i++) {
		const struct gdb_region_snap *s = o->snaps[i];
		struct gdb_obs_region *r = &o->obs.regions[o->obs.n_regions++];
		const struct aws_rds_db_cluster *cl;

		r->name = spec->regions[i].name;
		r->api = s->call;
		if (s->call != GDB_CALL_OK)
			continue;
		cl = find_cluster(s, spec->regions[i].db_cluster_identifier);
		r->cluster_exists = cl != NULL;
		if (!cl)
			continue;
		r->cluster_arn = cl->arn;
		r->cluster_status = cl->status;
		r->endpoint = cl->endpoint;
		r->reader_endpoint = cl->reader_endpoint;
		r->owner = gdb_owner_from_tags(cl->tags, cl->ntags);
		o->port[i] = cl->port;
		r->port = cl->port;
		r->global_cluster_identifier = gs ? membership(gs, cl->arn)
						  : strip_global_arn(cl->global_cluster_identifier);
		if (r->global_cluster_identifier && !*r->global_cluster_identifier)
			r->global_cluster_identifier = NULL;
		ncand = add_candidates(&s->instance_by_cluster, cl->identifier, cand, 0,
				       ARRAY_SIZE(cand));
		qsort(cand, ncand, sizeof(*cand), cmp_u32); /* list order */
		for (size_t k = 0; k < ncand && r->n_instances < GDB_MAX_INSTANCES; k++) {
			const struct aws_rds_db_instance *in = &s->instances.items[cand[k]];

			if (!strcasecmp(in->db_cluster_identifier, cl->identifier))
				r->instance_ids[r->n_instances++] = in->identifier;
		}
	}
	observe_snapshots(c, spec, st, o);
}

void gdb_observation_release(struct gdb_observation *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_snaps; i++)
		snap_unref(o->snaps[i]);
	for (size_t i = 0; i < GDB_MAX_REGIONS; i++) {
		aws_rds_cluster_snapshot_list_release(o->snapshots[i]);
		free(o->snapshots[i]);
	}
	for (size_t i = 0; i < o->n_strings; i++)
		free(o->strings[i]);
	free(o->dns_status);
	memset(o, 0, sizeof(*o));
}
