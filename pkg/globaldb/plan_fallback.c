/*
 * plan_fallback.c - the fallback that rebuilds the old writer's region as a
 * secondary of a new global cluster: fence, delete, create, wait, snapshot.
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in planner_int.h.
 */
#include "pkg/globaldb/planner_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"

/* ---- fallback ---- */

/*
 * After a detach the writer is standalone and c->global is the stale global
 * cluster it left. Nothing of that cluster is touched while one of its
 * members sits in a spec region that does not answer: its primary cannot
 * leave while it has secondaries, and a healthy secondary of it (a third
 * region) keeps the old timeline until the lost region is back to be fenced
 * first. Members in regions outside the spec cannot be observed and do not
 * hold the fallback back.
 */
static int stale_global_unreachable(const struct ctx *c)
{
	const struct gdb_obs_global *g = c->global;

	for (size_t i = 0; c->writer_standalone && g && i < g->n_members; i++) {
		const char *r = region_of_arn(c, g->members[i].db_cluster_arn);

		if (r && !streq(r, c->writer) && !api_ok(c, r))
			return 1;
	}
	return 0;
}

/* The region's cluster is the primary of some observed global cluster. */
static int writes_in_a_global(const struct ctx *c, const char *region)
{
	for (size_t i = 0; i < c->obs->n_globals; i++) {
		const struct gdb_obs_member *m = member_in(c, &c->obs->globals[i], region);

		if (m && m->is_writer)
			return 1;
	}
	return 0;
}

static int is_stale(struct ctx *c, const char *name)
{
	const struct gdb_obs_region *o = obs_region(c, name);

	if (streq(name, c->writer) || !o || o->api != GDB_CALL_OK)
		return 0;
	/* Without a global cluster around the writer, a missing one is rebuilt by the
	 * fallback too (it creates the next generation first). */
	if (!o->cluster_exists)
		return c->writer_standalone;
	return c->writer_standalone || !in_current_global(c, o);
}

/*
 * A region whose cluster is stale (not part of the writer's global cluster):
 * a stale writer first, as it may still take writes, then in spec order.
 */
const char *stale_region(struct ctx *c)
{
	if (stale_global_unreachable(c))
		return NULL;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->spec->n_regions; i++) {
			const char *name = c->spec->regions[i].name;

			if (is_stale(c, name) && (pass == 1 || writes_in_a_global(c, name)))
				return name;
		}
	return NULL;
}

int any_region_unreachable(struct ctx *c)
{
	for (size_t i = 0; i < c->spec->n_regions; i++) {
		const struct gdb_obs_region *o = obs_region(c, c->spec->regions[i].name);

		if (!streq(c->spec->regions[i].name, c->writer) && (!o || o->api != GDB_CALL_OK))
			return 1;
	}
	return 0;
}

/*
 * RDS refuses to remove the primary of a global cluster that still has
 * secondaries. When the stale cluster in region r is the primary of g, its
 * secondaries (a third region's cluster) leave g first, one call at a time;
 * each becomes a standalone copy of the old timeline, rebuilt later like any
 * stale region. DONE with the call (or a wait), CONTINUE when r may leave.
 */
static int remove_secondaries_first(struct ctx *c, const struct gdb_obs_global *g, const char *r)
{
	const struct gdb_obs_member *own = member_in(c, g, r);
	struct gdb_action *a;
	char region[64], id[128];

	if (!own || !own->is_writer)
		return CONTINUE;
	for (size_t i = 0; i < g->n_members; i++) {
		const struct gdb_obs_member *m = &g->members[i];

		if (m == own || gdb_parse_cluster_arn(m->db_cluster_arn, region, sizeof(region), id,
						      sizeof(id)) < 0)
			continue;
		if (gdb_spec_region(c->spec, region, NULL) && !api_ok(c, region)) {
			wait_for(
				c, GDB_REQUEUE_STEADY_MS,
				"waiting for %s to answer: its cluster %s must leave %s before the "
				"stale writer in %s can",
				region, id, g->identifier, r);
			return DONE;
		}
		a = issue(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, region);
		a->global_cluster_identifier = xstrdup(g->identifier);
		a->db_cluster_identifier = xstrdup(id);
		a->target_arn = xstrdup(m->db_cluster_arn);
		xsetf(&a->reason,
		      "the stale writer in %s cannot leave %s while %s is its secondary: remove "
		      "%s first",
		      r, g->identifier, id, id);
		event(c, GDB_EVENT_NORMAL, "RemovingStaleMember",
		      "RemoveFromGlobalCluster %s %s (a secondary of the stale writer in %s)",
		      g->identifier, id, r);
		return DONE;
	}
	return CONTINUE;
}

int step_fence(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = obs_region(c, r);
	const struct gdb_operation *last = &c->st->last_operation;
	struct gdb_action *a;
	char ts[20];

	if (!o || o->api != GDB_CALL_OK) {
		wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for the RDS API of %s", r);
		return DONE;
	}
	if (!o->cluster_exists) {
		set_step(c, GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER);
		return CONTINUE;
	}
	if (streq(o->cluster_status, "deleting")) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to be deleted", cluster_id(c, r));
		return DONE;
	}
	if (global_of(c, o)) {
		const char *g = global_of(c, o);

		if (hold_call(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER) == DONE)
			return DONE;
		if (remove_secondaries_first(c, find_global(c, g), r) == DONE)
			return DONE;
		a = issue(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, r);
		a->global_cluster_identifier = xstrdup(g);
		a->db_cluster_identifier = xstrdup(cluster_id(c, r));
		a->target_arn = xstrdup(o->cluster_arn ? o->cluster_arn : "");
		xsetf(&a->reason, "detach the stale cluster in %s from %s before deleting it", r,
		      g);
		event(c, GDB_EVENT_NORMAL, "RemovingStaleMember", "RemoveFromGlobalCluster %s %s",
		      g, cluster_id(c, r));
		return DONE;
	}
	if (o->n_instances > 0) {
		if (hold_call(c, GDB_ACT_DELETE_INSTANCES) == DONE)
			return DONE;
		a = issue(c, GDB_ACT_DELETE_INSTANCES, r);
		a->db_cluster_identifier = xstrdup(cluster_id(c, r));
		xsetf(&a->reason, "fence the stale writer in %s: delete its %zu instances", r,
		      o->n_instances);
		event(c, GDB_EVENT_WARNING, "FencingOldWriter",
		      "deleting the %zu instances of the stale cluster %s in %s", o->n_instances,
		      cluster_id(c, r), r);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_FENCE_OLD_WRITER) == DONE)
		return DONE;
	stamp(op->started_ms, ts, sizeof(ts));
	a = issue(c, GDB_ACT_FENCE_OLD_WRITER, r);
	a->db_cluster_identifier = xstrdup(cluster_id(c, r));
	a->snapshot_id = xasprintf("%s-lost-writes-%s", cluster_id(c, r), ts);
	if (last->type == GDB_OP_FAILOVER && streq(last->source_region, r))
		gdb_set_str(&op->lost_writes_snapshot, a->snapshot_id);
	xsetf(&a->reason, "delete the stale cluster in %s, keeping its writes in snapshot %s", r,
	      a->snapshot_id);
	event(c, GDB_EVENT_WARNING, "FencingOldWriter", "DeleteDBCluster %s with final snapshot %s",
	      cluster_id(c, r), a->snapshot_id);
	return DONE;
}

int step_delete_old_global(struct ctx *c)
{
	const char *old_id = c->st->global_cluster_identifier;
	const struct gdb_obs_global *g = find_global(c, old_id);
	struct gdb_operation *op = &c->st->operation;
	struct gdb_action *a;
	char left[256] = "";
	size_t n_left = 0;

	if (!g || streq(old_id, op->global_cluster_identifier)) {
		set_step(c, GDB_STEP_CREATE_GLOBAL_CLUSTER);
		return CONTINUE;
	}
	for (size_t i = 0; i < g->n_members; i++) {
		char region[64], id[128];

		if (gdb_parse_cluster_arn(g->members[i].db_cluster_arn, region, sizeof(region), id,
					  sizeof(id)) < 0)
			continue;
		if (!gdb_spec_region(c->spec, region, NULL)) {
			/*
			 * The operator took this region out of the spec (it is not coming
			 * back): waiting for its API would block the fallback for good. The
			 * old global cluster keeps the member and is left in place.
			 */
			size_t k = strlen(left);

			snprintf(left + k, sizeof(left) - k, "%s%s in %s", n_left ? ", " : "", id,
				 region);
			n_left++;
			continue;
		}
		if (!api_ok(c, region)) {
			wait_for(c, GDB_REQUEUE_STEADY_MS,
				 "waiting for %s to answer: its cluster %s is still in %s", region,
				 id, g->identifier);
			return DONE;
		}
		if (hold_call(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER) == DONE)
			return DONE;
		a = issue(c, GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER, region);
		a->global_cluster_identifier = xstrdup(g->identifier);
		a->db_cluster_identifier = xstrdup(id);
		a->target_arn = xstrdup(g->members[i].db_cluster_arn);
		xsetf(&a->reason, "empty the old global cluster %s", g->identifier);
		return DONE;
	}
	if (n_left) {
		/* The next generation has another name: it does not need the old one gone. */
		degraded(c, "OldGlobalClusterNotDeleted",
			 "%s still lists %s (regions no longer in the spec); delete it by hand "
			 "once they answer",
			 g->identifier, left);
		event(c, GDB_EVENT_WARNING, "OldGlobalClusterNotDeleted",
		      "%s is left in place: it still lists %s, whose regions are no longer in the "
		      "spec; delete it by hand once they answer",
		      g->identifier, left);
		set_step(c, GDB_STEP_CREATE_GLOBAL_CLUSTER);
		return CONTINUE;
	}
	if (streq(g->status, "deleting")) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to be deleted", g->identifier);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER) == DONE)
		return DONE;
	a = issue(c, GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER, c->writer);
	a->global_cluster_identifier = xstrdup(g->identifier);
	xsetf(&a->reason, "delete the old global cluster %s", g->identifier);
	event(c, GDB_EVENT_NORMAL, "DeletingOldGlobalCluster", "DeleteGlobalCluster %s",
	      g->identifier);
	return DONE;
}

int step_create_global(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_global *g = find_global(c, op->global_cluster_identifier);
	const struct gdb_obs_region *w = cluster_seen(c, c->writer);
	struct gdb_action *a;

	if (g && member_in(c, g, c->writer)) {
		gdb_set_str(&c->st->global_cluster_identifier, g->identifier);
		c->st->generation =
			gdb_generation_of(c->spec->global_cluster_identifier, g->identifier);
		c->global = g;
		c->writer_standalone = 0;
		event(c, GDB_EVENT_NORMAL, "GlobalClusterCreated",
		      "global cluster %s holds the writer in %s", g->identifier, c->writer);
		set_step(c, GDB_STEP_CREATE_SECONDARY);
		return CONTINUE;
	}
	if (g && op->attempts == 0) {
		/* The name is taken by a cluster we did not create: take the next generation. */
		int64_t gen = gdb_generation_of(c->spec->global_cluster_identifier, g->identifier);

		free(op->global_cluster_identifier);
		op->global_cluster_identifier =
			gdb_generation_name(c->spec->global_cluster_identifier, gen + 1);
		event(c, GDB_EVENT_WARNING, "GlobalClusterNameTaken",
		      "%s exists without our writer; using %s", g->identifier,
		      op->global_cluster_identifier);
		return CONTINUE;
	}
	if (g) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to hold the writer",
			 g->identifier);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_CREATE_GLOBAL_CLUSTER) == DONE)
		return DONE;
	if (!w || !streq(w->cluster_status, "available")) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for the writer in %s to be available",
			 c->writer);
		return DONE;
	}
	a = issue(c, GDB_ACT_CREATE_GLOBAL_CLUSTER, c->writer);
	a->global_cluster_identifier = xstrdup(op->global_cluster_identifier);
	a->db_cluster_identifier = xstrdup(cluster_id(c, c->writer));
	a->target_arn = xstrdup(w->cluster_arn ? w->cluster_arn : "");
	xsetf(&a->reason, "fallback: new global cluster %s from the writer in %s",
	      op->global_cluster_identifier, c->writer);
	event(c, GDB_EVENT_NORMAL, "CreatingGlobalCluster", "CreateGlobalCluster %s from %s",
	      op->global_cluster_identifier, cluster_id(c, c->writer));
	return DONE;
}

struct gdb_action *create_secondary(struct ctx *c, const char *r)
{
	const struct gdb_region_spec *rs = gdb_spec_region(c->spec, r, NULL);
	struct gdb_action *a = issue(c, GDB_ACT_CREATE_SECONDARY_CLUSTER, r);

	a->global_cluster_identifier = xstrdup(c->st->global_cluster_identifier);
	a->db_cluster_identifier = xstrdup(rs->db_cluster_identifier);
	a->source_region = xstrdup(c->writer);
	/* Empty in the template means the global cluster's version (docs/api.md). */
	if (rs->has_template && rs->template.engine_version)
		a->engine_version = xstrdup(rs->template.engine_version);
	else if (c->global && c->global->engine_version)
		a->engine_version = xstrdup(c->global->engine_version);
	xsetf(&a->reason, "create the secondary %s in %s from its template",
	      rs->db_cluster_identifier, r);
	event(c, GDB_EVENT_NORMAL, "CreatingSecondary", "CreateDBCluster %s in %s joining %s",
	      rs->db_cluster_identifier, r, c->st->global_cluster_identifier);
	return a;
}

struct gdb_action *create_instance(struct ctx *c, const char *r, const struct gdb_obs_region *o)
{
	const char *cid = cluster_id(c, r);
	struct gdb_action *a;
	char want[160];
	int n;

	/* The smallest free "<cluster>-<n>": a retry asks for the same name again. */
	for (n = 1; n <= GDB_MAX_INSTANCES + 1; n++) {
		size_t i;

		snprintf(want, sizeof(want), "%s-%d", cid, n);
		for (i = 0; i < o->n_instances; i++)
			if (streq(o->instance_ids[i], want))
				break;
		if (i == o->n_instances)
			break;
	}
	a = issue(c, GDB_ACT_CREATE_INSTANCE, r);
	a->db_cluster_identifier = xstrdup(cid);
	a->instance_id = xstrdup(want);
	xsetf(&a->reason, "the cluster in %s has %zu of %d instances", r, o->n_instances,
	      gdb_spec_region(c->spec, r, NULL)->template.instances);
	event(c, GDB_EVENT_NORMAL, "CreatingInstance", "CreateDBInstance %s in %s", want, r);
	return a;
}

int step_create_secondary(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = obs_region(c, r);
	const struct gdb_region_spec *rs = gdb_spec_region(c->spec, r, NULL);

	if (!o || o->api != GDB_CALL_OK) {
		wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for the RDS API of %s", r);
		return DONE;
	}
	if (o->cluster_exists) {
		if (in_current_global(c, o)) {
			set_step(c, GDB_STEP_CREATE_INSTANCES);
			return CONTINUE;
		}
		if (streq(o->cluster_status, "creating")) {
			wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to join",
				 rs->db_cluster_identifier);
			return DONE;
		}
		set_step(c, GDB_STEP_FENCE_OLD_WRITER);
		return CONTINUE;
	}
	if (!rs->has_template) {
		degraded(c, "TemplateMissing",
			 "cannot rebuild %s: spec.regions[%s].template is not set", r, r);
		wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for a template for %s", r);
		return DONE;
	}
	if (hold_call(c, GDB_ACT_CREATE_SECONDARY_CLUSTER) == DONE)
		return DONE;
	create_secondary(c, r);
	return DONE;
}

int step_create_instances(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = cluster_seen(c, r);
	const struct gdb_region_spec *rs = gdb_spec_region(c->spec, r, NULL);

	if (!o) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for the cluster in %s", r);
		return DONE;
	}
	if (rs->has_template && o->n_instances < (size_t)rs->template.instances) {
		create_instance(c, r, o);
		return DONE;
	}
	set_step(c, GDB_STEP_WAIT_CONNECTED);
	return CONTINUE;
}

int step_wait_connected(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_region *o = cluster_seen(c, op->target_region);
	const char *next;

	if (!o || !streq(o->cluster_status, "available") || !is_connected(c, op->target_region)) {
		wait_for(c, GDB_REQUEUE_WAIT_MS, "waiting for %s to be available and connected",
			 op->target_region);
		return DONE;
	}
	event(c, GDB_EVENT_NORMAL, "FallbackReady", "%s is connected to %s", op->target_region,
	      c->st->global_cluster_identifier);
	next = stale_region(c);
	if (next) {
		gdb_set_str(&op->target_region, next);
		set_step(c, GDB_STEP_FENCE_OLD_WRITER);
		return CONTINUE;
	}
	next_tail(c, GDB_STEP_WAIT_DNS_INSYNC);
	return CONTINUE;
}

int step_wait_readded(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const struct gdb_obs_region *o = cluster_seen(c, op->target_region);

	if (!o || !streq(o->cluster_status, "available") || !is_connected(c, op->target_region)) {
		/* Every 10 s, not the steady 30 s: the region's return starts the way home. */
		wait_for(c, GDB_REQUEUE_WAIT_MS,
			 "waiting for Aurora to re-add %s as a connected secondary",
			 op->target_region);
		return DONE;
	}
	set_step(c, GDB_STEP_COPY_SNAPSHOT);
	return CONTINUE;
}

int step_copy_snapshot(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *r = op->target_region;
	const struct gdb_obs_region *o = cluster_seen(c, r);
	const char *source = NULL;
	int64_t source_ms = 0;
	struct gdb_action *a;
	char ts[20], target[200];

	stamp(op->started_ms, ts, sizeof(ts));
	snprintf(target, sizeof(target), "%s-lost-writes-%s", cluster_id(c, r), ts);
	for (size_t i = 0; o && i < o->n_snapshots; i++) {
		if (streq(o->snapshot_ids[i], target)) {
			gdb_set_str(&op->lost_writes_snapshot, target);
			event(c, GDB_EVENT_NORMAL, "LostWritesSnapshotKept",
			      "the writes lost in the failover are kept in snapshot %s", target);
			next_tail(c, GDB_STEP_PUBLISH_SSM);
			return CONTINUE;
		}
		/* The newest of Aurora's failover snapshots: this failover's, not an earlier one's. */
		if (o->snapshot_ids[i] &&
		    strncmp(o->snapshot_ids[i], "rds:unplanned-global-failover-", 30) == 0 &&
		    (!source || o->snapshot_created_ms[i] > source_ms ||
		     (o->snapshot_created_ms[i] == source_ms &&
		      strcmp(o->snapshot_ids[i], source) > 0))) {
			source = o->snapshot_ids[i];
			source_ms = o->snapshot_created_ms[i];
		}
	}
	if (!source) {
		if (c->now - op->step_started_ms < GDB_SNAPSHOT_WAIT_MS) {
			wait_for(c, GDB_REQUEUE_STEADY_MS,
				 "waiting for Aurora's rds:unplanned-global-failover snapshot");
			return DONE;
		}
		event(c, GDB_EVENT_WARNING, "NoFailoverSnapshot",
		      "no rds:unplanned-global-failover snapshot of %s appeared", cluster_id(c, r));
		next_tail(c, GDB_STEP_PUBLISH_SSM);
		return CONTINUE;
	}
	if (hold_call(c, GDB_ACT_COPY_FAILOVER_SNAPSHOT) == DONE)
		return DONE;
	gdb_set_str(&op->lost_writes_snapshot, target);
	a = issue(c, GDB_ACT_COPY_FAILOVER_SNAPSHOT, r);
	a->source_snapshot_id = xstrdup(source);
	a->snapshot_id = xstrdup(target);
	a->db_cluster_identifier = xstrdup(cluster_id(c, r));
	xsetf(&a->reason, "keep the writes lost in the failover: copy %s to %s", source, target);
	event(c, GDB_EVENT_NORMAL, "CopyingFailoverSnapshot", "CopyDBClusterSnapshot %s %s", source,
	      target);
	return DONE;
}

/*
 * The generation a fallback creates: one past the highest of the status'
 * generation, the generation its global cluster's name says and the base's
 * own (a base "demo-global-cluster-1" is generation 1, a status written
 * before the base's "-N" was understood may say less), so the new name never
 * repeats the one in use.
 */
static int64_t next_generation(const struct ctx *c)
{
	const char *base = c->spec->global_cluster_identifier;
	int64_t g = c->st->generation,
		named = gdb_generation_of(base, c->st->global_cluster_identifier),
		own = gdb_generation_of(base, base);

	if (named > g)
		g = named;
	if (own > g)
		g = own;
	return g + 1;
}

static void begin_fallback_steps(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	const char *base = c->spec->global_cluster_identifier;

	if (op->method == GDB_OPM_MANAGED) {
		set_step(c, GDB_STEP_WAIT_READDED);
		return;
	}
	free(op->global_cluster_identifier);
	op->global_cluster_identifier = gdb_generation_name(base, next_generation(c));
	set_step(c, GDB_STEP_FENCE_OLD_WRITER);
}

int step_awaiting_fallback_approval(struct ctx *c)
{
	struct gdb_operation *op = &c->st->operation;
	int ok = approved(c, c->obs->approve_fallback, GDB_ANNOTATION_APPROVE_FALLBACK);

	if (ok == 1 || c->spec->fallback_mode == GDB_MODE_AUTOMATIC) {
		event(c, GDB_EVENT_NORMAL, "FallbackApproved", "fallback of %s %s",
		      op->target_region, ok == 1 ? "approved" : "automatic");
		begin_fallback_steps(c);
		return CONTINUE;
	}
	degraded(c, "AwaitingFallbackApproval",
		 "%s is back; fallback waits for: kubectl annotate gdb <name> %s=$(date -u "
		 "+%%FT%%TZ)",
		 op->target_region, GDB_ANNOTATION_APPROVE_FALLBACK);
	wait_for(c, GDB_REQUEUE_STEADY_MS, "waiting for the approve-fallback annotation");
	return DONE;
}
