/*
 * observe_int.h - private to the observation; not a manual for callers
 * (observe.h is).
 *
 * The observation is split in two: the shared per-region cache of Describe
 * answers (obs_cache.c) and the planner's view one reconcile builds from it
 * (observe.c). This header holds what both read: a region's snapshot and its
 * indexes, the cache's entries, and the cache functions the view calls.
 */
#ifndef GDB_GLOBALDB_OBSERVE_INT_H
#define GDB_GLOBALDB_OBSERVE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pkg/aws/rds.h"
#include "pkg/globaldb/observe.h"

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

/* obs_cache.c: the index */
uint32_t ci_next(const struct ci_index *x, uint32_t e, uint64_t h);
uint32_t ci_first(const struct ci_index *x, const char *key, uint64_t *h);

/* obs_cache.c: the cache */
void snap_unref(struct gdb_region_snap *s);
struct cache_entry *entry_get(struct gdb_obs_cache *c, const char *region);
struct gdb_region_snap *fresh_snap(struct gdb_obs_cache *c, struct cache_entry *e,
				   int64_t max_age_ms);
struct gdb_region_snap *region_snap(struct gdb_obs_cache *c, const char *region,
				    int64_t max_age_ms);
long find_named(const struct ci_index *x, const char *id,
		const char *(*name)(const struct gdb_region_snap *, uint32_t),
		const struct gdb_region_snap *s);
const char *cluster_name(const struct gdb_region_snap *s, uint32_t i);

#endif
