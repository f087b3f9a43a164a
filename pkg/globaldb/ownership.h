/*
 * ownership.h - which AWS resources a GlobalDatabase may act on.
 *
 * The spec names Aurora clusters and a global cluster by identifier, and the
 * IAM role the controller runs as can usually reach every cluster in the
 * account. Ownership tags keep one object from acting on what belongs to
 * another object, or to nobody in this cluster (docs/api.md, "Ownership"):
 *
 *   globaldb.io/owner      = "<namespace>/<name>" of the GlobalDatabase
 *   globaldb.io/owner-uid  = its metadata.uid
 *
 * Every resource the controller creates carries both tags from its Create
 * call (CreateGlobalCluster, CreateDBCluster, CreateDBInstance Tags). An
 * existing resource is one of:
 *
 *   ours      both tags name this object: the controller may act on it;
 *   untagged  no globaldb.io/owner tag: adopted (tagged, before any other
 *             call) only with spec.adoption.policy AdoptUntagged;
 *   stale     globaldb.io/owner names this object but the uid is another
 *             (or absent): an earlier object of the same namespace/name,
 *             deleted and recreated. Treated as untagged, so a recreated
 *             object cannot silently take over its predecessor's resources;
 *   foreign   globaldb.io/owner names another object: always refused.
 *
 * The planner decides from the tags the observation carries (struct
 * gdb_obs_owner in planner.h); the rules are in plan_ownership.c. This module
 * holds what the observation and the executor share with it: the keys, the
 * classification, and the owner tags of an action.
 *
 * All functions are pure and thread-safe; returned pointers are borrowed
 * from the arguments.
 */
#ifndef GDB_OWNERSHIP_H
#define GDB_OWNERSHIP_H

#include <jansson.h>
#include <stddef.h>

#include "pkg/aws/rds.h"
#include "pkg/globaldb/planner.h"

#define GDB_TAG_OWNER "globaldb.io/owner"
#define GDB_TAG_OWNER_UID "globaldb.io/owner-uid"
/*
 * An AWS tag value holds at most 256 characters; "<namespace>/<name>" can be
 * 317. An object whose identity does not fit owns nothing (the planner says so).
 */
#define GDB_OWNER_MAX (256 + 1)

enum gdb_ownership {
	GDB_OWN_OURS = 0,
	GDB_OWN_UNTAGGED,
	GDB_OWN_STALE,
	GDB_OWN_FOREIGN,
};

/* The owner tags among tags[0..n) (AWS tag keys are case-sensitive); NULL members if absent. */
struct gdb_obs_owner gdb_owner_from_tags(const struct aws_tag *tags, size_t n);

/*
 * How a resource whose owner tags are t relates to the object whose identity
 * is owner ("<namespace>/<name>") and uid. An object without an identity
 * (owner NULL) owns nothing: tagged resources are foreign, untagged ones
 * untagged.
 */
enum gdb_ownership gdb_ownership_of(const struct gdb_obs_owner *t, const char *owner,
				    const char *uid);

/* "ours", "untagged", "stale", "foreign". */
const char *gdb_ownership_name(enum gdb_ownership o);

/*
 * The owner of the GlobalDatabase obj (borrowed): "<namespace>/<name>" into
 * buf[0..n). 0, or BASE_EINVAL when metadata lacks either or it does not fit
 * (buf is then empty).
 */
int gdb_owner_name(json_t *obj, char *buf, size_t n);

/*
 * The tags an action puts on what it creates or adopts: fills tags[0..2)
 * with pointers borrowed from a and returns how many (0 when the action
 * carries no owner, 2 otherwise).
 */
size_t gdb_owner_tags(const struct gdb_action *a, struct aws_tag tags[2]);

#endif
