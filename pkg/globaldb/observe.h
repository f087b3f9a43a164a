/*
 * observe.h - what one reconcile sees of AWS: the planner's struct
 * gdb_observed, filled from a shared per-region cache of Describe calls.
 *
 * The cache is what keeps the AWS bill independent of the number of
 * GlobalDatabases: per region it holds the answer of one round of
 * DescribeDBClusters, DescribeDBInstances and DescribeGlobalClusters (all
 * items of the region, Marker-paginated). Each reconcile says how old an
 * answer it can plan on: ttl_ms (1.5 s) while something may change — a spec
 * edit, an operation in flight, a failing probe — and GDB_OBS_SETTLED_MS
 * (30 s) for a settled object, which only checks for drift. So a region is
 * asked about once per 30 s however many settled objects it holds, and at
 * most once per ttl_ms while some are busy. Every reconcile that needs the
 * region inside its window reads the same answer; a reconcile that finds it
 * stale refreshes it (single flight) while the others needing the same
 * region take the previous answer if it is at most GDB_OBS_MAX_STALE_MS older
 * than they asked for and no action in the region invalidated it, and wait
 * for the refresh otherwise. A region whose API failed is cached as
 * failed: once stale, that failure is still reported (under the same two
 * conditions) while the region is asked again in the background, so a region
 * that hangs costs one timed-out round at a time, not a call timeout per
 * reconcile; the region counts as failing until it answers. Regions are
 * refreshed in parallel, one short-lived thread each, so a hanging region
 * never delays the answer of another beyond the client's own call timeout.
 * gdb_obs_cache_free waits for background refreshes (at most one call
 * timeout).
 *
 * Global clusters are global: the reconcile takes them from the first region
 * (spec order) whose DescribeGlobalClusters answered, so a primary region
 * that is down never hides them. Snapshots (only needed while a fallback
 * copies Aurora's failover snapshot) and Route 53 GetChange (only while a
 * DNS change is awaited) are read per reconcile, uncached.
 *
 * Ownership: a struct gdb_observation owns everything the pointers in its
 * `obs` member point to; release it with gdb_observation_release. The
 * cache's snapshots are immutable and reference counted, so observations
 * stay valid while other threads refresh the cache.
 *
 * Thread-safety: the cache may be used from any number of threads; an
 * observation belongs to one thread.
 */
#ifndef GDB_OBSERVE_H
#define GDB_OBSERVE_H

#include <jansson.h>
#include <stdint.h>

#include "pkg/aws/client.h"
#include "pkg/globaldb/planner.h"
#include "pkg/globaldb/types.h"

/* Default freshness of a region's answer. */
#define GDB_OBS_TTL_MS 1500
/* How old an answer a settled object's reconcile may plan on. */
#define GDB_OBS_SETTLED_MS 30000
/* How much older than asked an answer may be served while another reconcile refreshes it. */
#define GDB_OBS_MAX_STALE_MS 15000

struct gdb_obs_cache;
struct gdb_region_snap;

/* A new cache that calls AWS through aws (borrowed; must outlive the cache). ttl_ms 0 = default. */
struct gdb_obs_cache *gdb_obs_cache_new(struct aws_client *aws, int64_t ttl_ms);
/* Frees the cache. No observe may be running. NULL is fine. */
void gdb_obs_cache_free(struct gdb_obs_cache *c);
/* Marks region's answer stale (after an action there), so the next observe asks again. */
void gdb_obs_cache_invalidate(struct gdb_obs_cache *c, const char *region);

/*
 * Drift. With a change callback, each round that answered is compared with
 * the region's last complete answer, and fn(arg, region, global, identifier)
 * runs once for every DB cluster (global 0) or global cluster (global 1) that
 * is new, gone, or changed in what the planner reads of it (status,
 * endpoints, port, membership, instances and their status; a global
 * cluster's status, failover state and members). It runs on the round's
 * thread, under the region's fetch lock: it must be quick (enqueue a key)
 * and must not observe. A thread keeps the rounds going: every region a
 * reconcile has asked about is asked again once its answer is
 * GDB_OBS_SETTLED_MS old, so a settled object need not reconcile to notice
 * a change made behind the controller's back. Call once, before the first
 * observe; gdb_obs_cache_free stops the thread.
 */
typedef void (*gdb_obs_change_fn)(void *arg, const char *region, int global,
				  const char *identifier);
#define GDB_OBS_WATCH_TICK_MS 5000
void gdb_obs_cache_watch(struct gdb_obs_cache *c, gdb_obs_change_fn fn, void *arg);

/* How many Describe rounds the cache made (for tests and the demo). */
unsigned long gdb_obs_cache_rounds(struct gdb_obs_cache *c);

struct gdb_observation {
	struct gdb_observed obs; /* the planner's input; pointers into the fields below */
	/* Cluster ports per obs.regions[i] (0 when unknown); the probes need them. */
	int port[GDB_MAX_REGIONS];
	/* private */
	struct gdb_region_snap *snaps[GDB_MAX_REGIONS];
	size_t n_snaps;
	void *snapshots[GDB_MAX_REGIONS]; /* struct aws_rds_cluster_snapshot_list * */
	char *dns_status;
	char *strings[12]; /* copies owned here (annotations, last result, identity) */
	size_t n_strings;
};

/*
 * Fills *out (zeroed first; release it even on failure) for one reconcile:
 * spec and status (borrowed) of the object obj (borrowed; its metadata gives
 * generation, deletionTimestamp and the annotations), last the result of the
 * action this controller ran last for the object (borrowed, copied; NULL =
 * none known), max_age_ms how old a region's answer may be (0 = the cache's
 * ttl_ms). Never fails: a region that did not answer is reported in
 * obs.regions[i].api.
 */
void gdb_observe(struct gdb_obs_cache *c, const struct gdb_spec *spec,
		 const struct gdb_status *status, json_t *obj,
		 const struct gdb_obs_last_result *last, int64_t max_age_ms,
		 struct gdb_observation *out);
void gdb_observation_release(struct gdb_observation *o);

/* How a failed AWS call ends for the planner: rc is a base code, code the AWS error code. */
enum gdb_call gdb_call_from_error(int rc, const char *code);

#endif
