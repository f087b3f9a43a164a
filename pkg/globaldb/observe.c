/*
 * The observation: the view of the regions' cached answers (obs_cache.c)
 * that one reconcile hands the planner, with the Route 53 change status and
 * the snapshots a fallback reads, asked for each time.
 */
#include "pkg/globaldb/observe_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/base/alloc.h"
#include "pkg/base/log.h"
#include "pkg/globaldb/ownership.h"

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
	for (uint32_t e = base_cimap_first(&gs->global_by_member, arn, &h); e;
	     e = base_cimap_next(&gs->global_by_member, e, h)) {
		const struct aws_rds_global_cluster *g =
			&gs->globals.items[base_cimap_item(&gs->global_by_member, e)];

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

static size_t add_candidates(const struct base_cimap *x, const char *key, uint32_t *out, size_t n,
			     size_t max)
{
	uint64_t h;

	for (uint32_t e = base_cimap_first(x, key, &h); e && n < max; e = base_cimap_next(x, e, h))
		out[n++] = base_cimap_item(x, e);
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
