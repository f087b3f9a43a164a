/*
 * plan_ownership.c - the planner's ownership rules (ownership.h says whose a
 * resource is; this file says what follows).
 *
 * Part of gdb_plan() (planner.c); what the planner files share is in
 * planner_int.h. Four hooks:
 *
 *   own_adoptable   derive_global records (adopts) a global cluster only when
 *                   it is ours or may become ours, so status never names a
 *                   global cluster this object was refused;
 *   own_gate        before any decision outside deletion: a resource tagged
 *                   for another object stops everything (OwnedByAnother); an
 *                   untagged or stale one stops everything too
 *                   (AdoptionNotAllowed) unless spec.adoption.policy is
 *                   AdoptUntagged, and then it is tagged (TagResource) before
 *                   any other call;
 *   own_deletable   plan_delete touches only what carries both of our tags;
 *   own_check       after the decision: every call that changes RDS is
 *                   checked once more against the tags of what it changes,
 *                   and replaced by no call when they are not ours. The gate
 *                   makes this a backstop (a region whose tags were not seen
 *                   this round, a step that names an older global cluster),
 *                   never the rule.
 *
 * Only observed tags count: a resource in a region whose API did not answer
 * is neither refused nor adopted by the gate, and own_check holds any call on
 * it until its tags are seen.
 */
#include "pkg/globaldb/planner_int.h"

#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/globaldb/ownership.h"

static enum gdb_ownership whose(const struct ctx *c, const struct gdb_obs_owner *t)
{
	return gdb_ownership_of(t, c->obs->owner, c->obs->owner_uid);
}

static int has_identity(const struct ctx *c)
{
	return c->obs->owner && *c->obs->owner && c->obs->owner_uid && *c->obs->owner_uid;
}

int own_adoptable(const struct ctx *c, const struct gdb_obs_global *g)
{
	enum gdb_ownership o = whose(c, &g->owner);

	return o == GDB_OWN_OURS ||
	       (o != GDB_OWN_FOREIGN && c->spec->adoption_policy == GDB_ADOPT_UNTAGGED);
}

/* One resource the gate looks at: the global cluster, or a region's cluster. */
struct res {
	const char *kind; /* "global cluster", "DB cluster" */
	const char *id;
	const char *arn;
	const char *region; /* where to call AddTagsToResource */
	const struct gdb_obs_owner *tags;
	enum gdb_ownership own;
};

/*
 * Where to tag a global cluster: the first spec region that answers, whose
 * answer the observation takes global clusters from (observe.h), so the next
 * round sees the tags the call put there.
 */
static const char *global_tag_region(const struct ctx *c)
{
	for (size_t i = 0; i < c->spec->n_regions; i++)
		if (api_ok(c, c->spec->regions[i].name))
			return c->spec->regions[i].name;
	return c->writer ? c->writer : c->spec->primary_region;
}

static size_t observed_resources(const struct ctx *c, struct res *out, size_t cap)
{
	size_t n = 0;

	if (c->global && n < cap)
		out[n++] = (struct res){.kind = "global cluster",
					.id = c->global->identifier,
					.arn = c->global->arn,
					.region = global_tag_region(c),
					.tags = &c->global->owner,
					.own = whose(c, &c->global->owner)};
	for (size_t i = 0; i < c->spec->n_regions && n < cap; i++) {
		const struct gdb_region_spec *rs = &c->spec->regions[i];
		const struct gdb_obs_region *o = obs_region(c, rs->name);

		if (!o || o->api != GDB_CALL_OK || !o->cluster_exists)
			continue;
		out[n++] = (struct res){.kind = "DB cluster",
					.id = rs->db_cluster_identifier,
					.arn = o->cluster_arn,
					.region = rs->name,
					.tags = &o->owner,
					.own = whose(c, &o->owner)};
	}
	return n;
}

static void refuse_untagged(struct ctx *c, const struct res *r)
{
	if (r->own == GDB_OWN_STALE)
		refuse(c, "AdoptionNotAllowed",
		       "the %s %s is tagged %s=%s for an earlier object of this name (%s=%s, not "
		       "this object's %s); not touching it: set spec.adoption.policy: "
		       "AdoptUntagged to take it over",
		       r->kind, r->id, GDB_TAG_OWNER, r->tags->owner, GDB_TAG_OWNER_UID,
		       r->tags->uid ? r->tags->uid : "absent", c->obs->owner_uid);
	else
		refuse(c, "AdoptionNotAllowed",
		       "the %s %s exists without the tag %s=%s; not touching it: set "
		       "spec.adoption.policy: AdoptUntagged to adopt it, or tag it yourself",
		       r->kind, r->id, GDB_TAG_OWNER, c->obs->owner);
}

int own_gate(struct ctx *c)
{
	struct res rs[GDB_MAX_REGIONS + 1];
	size_t n = observed_resources(c, rs, GDB_MAX_REGIONS + 1);
	struct gdb_action *a;

	if (!has_identity(c)) {
		refuse(c, "AdoptionNotAllowed",
		       "the object has no namespace/name of at most 256 characters or no uid to "
		       "tag AWS resources with; not touching AWS");
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_MAX_MS);
		return DONE;
	}
	for (size_t i = 0; i < n; i++) {
		if (rs[i].own != GDB_OWN_FOREIGN)
			continue;
		refuse(c, "OwnedByAnother",
		       "the %s %s is tagged %s=%s, not %s; not touching it: fix spec, or have "
		       "its owner release it",
		       rs[i].kind, rs[i].id, GDB_TAG_OWNER, rs[i].tags->owner, c->obs->owner);
		act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_MAX_MS);
		return DONE;
	}
	for (size_t i = 0; i < n; i++) {
		if (rs[i].own == GDB_OWN_OURS)
			continue;
		if (c->spec->adoption_policy != GDB_ADOPT_UNTAGGED || !rs[i].arn) {
			refuse_untagged(c, &rs[i]);
			act(c, GDB_ACT_NONE, NULL, GDB_REQUEUE_MAX_MS);
			return DONE;
		}
		progressing(c, "Adopting", "tagging the %s %s as owned by %s", rs[i].kind, rs[i].id,
			    c->obs->owner);
		a = act(c, GDB_ACT_TAG_RESOURCE, rs[i].region, GDB_REQUEUE_FAST_MS);
		a->target_arn = xstrdup(rs[i].arn);
		a->owner = xstrdup(c->obs->owner);
		a->owner_uid = xstrdup(c->obs->owner_uid);
		xsetf(&a->reason, "spec.adoption.policy AdoptUntagged: %s %s", rs[i].kind,
		      rs[i].id);
		event(c, GDB_EVENT_NORMAL, "OwnerTagged", "tagging the %s %s %s=%s (it was %s)",
		      rs[i].kind, rs[i].id, GDB_TAG_OWNER, c->obs->owner,
		      gdb_ownership_name(rs[i].own));
		return DONE;
	}
	return CONTINUE;
}

int own_deletable_cluster(const struct ctx *c, const struct gdb_obs_region *o)
{
	return o && o->api == GDB_CALL_OK && o->cluster_exists &&
	       whose(c, &o->owner) == GDB_OWN_OURS;
}

int own_deletable_global(const struct ctx *c, const struct gdb_obs_global *g)
{
	if (!g || whose(c, &g->owner) != GDB_OWN_OURS)
		return 0;
	/* Deleting it means removing every member first: all must be ours to delete. */
	for (size_t m = 0; m < g->n_members; m++) {
		const char *r = region_of_arn(c, g->members[m].db_cluster_arn);

		if (!r || !own_deletable_cluster(c, obs_region(c, r)))
			return 0;
	}
	return 1;
}

/* What a call changes: its global cluster (by name) and/or a cluster (by region). */
static void touched(const struct ctx *c, const struct gdb_action *a, const char **global,
		    const char **region)
{
	*global = NULL;
	*region = NULL;
	switch (a->kind) {
	case GDB_ACT_SWITCHOVER:
	case GDB_ACT_FAILOVER_MANAGED:
	case GDB_ACT_DETACH_AND_PROMOTE:
		*global = a->global_cluster_identifier;
		*region = region_of_arn(c, a->target_arn);
		if (!*region)
			*region = a->region;
		return;
	case GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER:
		/*
		 * A member that is not a spec cluster (its region left the spec)
		 * cannot be observed: it belongs to our global cluster, whose tags
		 * decide. A spec cluster's own tags decide too.
		 */
		*global = a->global_cluster_identifier;
		*region = region_of_arn(c, a->target_arn);
		return;
	case GDB_ACT_CREATE_SECONDARY_CLUSTER:
	case GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER:
		*global = a->global_cluster_identifier;
		return;
	case GDB_ACT_CREATE_GLOBAL_CLUSTER: /* from this region's cluster */
	case GDB_ACT_CREATE_INSTANCE:
	case GDB_ACT_DELETE_INSTANCES:
	case GDB_ACT_FENCE_OLD_WRITER:
	case GDB_ACT_DELETE_CLUSTER:
		*region = a->region;
		return;
	default:
		return; /* no RDS change, or one the gate decided (TagResource) */
	}
}

static void hold(struct ctx *c, const char *what, const char *id, enum gdb_ownership own, int seen)
{
	struct gdb_action *a = &c->out->action;
	enum gdb_action_kind kind = a->kind;

	/* The first problem found is the one reported; this one outranks them all. */
	c->degraded_reason[0] = '\0';
	if (!seen)
		degraded(c, "AwsUnreachable",
			 "%s on the %s %s waits: its owner tags were not seen this round",
			 gdb_action_name(kind), what, id ? id : "-");
	else
		refuse(c, own == GDB_OWN_FOREIGN ? "OwnedByAnother" : "AdoptionNotAllowed",
		       "%s refused: the %s %s is %s, not tagged %s=%s", gdb_action_name(kind), what,
		       id ? id : "-", gdb_ownership_name(own), GDB_TAG_OWNER,
		       c->obs->owner ? c->obs->owner : "-");
	action_release(a);
	act(c, c->st->operation.type != GDB_OP_NONE ? GDB_ACT_WAIT : GDB_ACT_NONE, NULL,
	    seen ? GDB_REQUEUE_MAX_MS : GDB_REQUEUE_WAIT_MS);
}

void own_check(struct ctx *c)
{
	struct gdb_action *a = &c->out->action;
	const char *gid, *region;
	const struct gdb_obs_region *o;
	const struct gdb_obs_global *g;

	touched(c, a, &gid, &region);
	if (gid) {
		g = find_global(c, gid);
		if (!g || whose(c, &g->owner) != GDB_OWN_OURS) {
			hold(c, "global cluster", gid, g ? whose(c, &g->owner) : GDB_OWN_UNTAGGED,
			     g != NULL);
			return;
		}
	}
	if (region) {
		o = obs_region(c, region);
		if (!o || o->api != GDB_CALL_OK || !o->cluster_exists ||
		    whose(c, &o->owner) != GDB_OWN_OURS) {
			hold(c, "DB cluster", cluster_id(c, region),
			     o && o->cluster_exists ? whose(c, &o->owner) : GDB_OWN_UNTAGGED,
			     o && o->api == GDB_CALL_OK && o->cluster_exists);
			return;
		}
	}
	/* What the call creates carries our tags from its first moment. */
	if (a->kind == GDB_ACT_CREATE_GLOBAL_CLUSTER ||
	    a->kind == GDB_ACT_CREATE_SECONDARY_CLUSTER || a->kind == GDB_ACT_CREATE_INSTANCE) {
		gdb_set_str(&a->owner, c->obs->owner);
		gdb_set_str(&a->owner_uid, c->obs->owner_uid);
	}
}
