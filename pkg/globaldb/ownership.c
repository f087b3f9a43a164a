/*
 * Ownership tags: reading them from a Describe answer, classifying a resource
 * against the object's identity, and the tags an action writes. The rules
 * that use the classification are the planner's (plan_ownership.c); this file
 * only answers "whose is it".
 */
#include "pkg/globaldb/ownership.h"

#include <stdio.h>
#include <string.h>

#include "pkg/base/err.h"

struct gdb_obs_owner gdb_owner_from_tags(const struct aws_tag *tags, size_t n)
{
	struct gdb_obs_owner o = {NULL, NULL};

	for (size_t i = 0; tags && i < n; i++) {
		if (!tags[i].key)
			continue;
		if (!strcmp(tags[i].key, GDB_TAG_OWNER))
			o.owner = tags[i].value ? tags[i].value : "";
		else if (!strcmp(tags[i].key, GDB_TAG_OWNER_UID))
			o.uid = tags[i].value ? tags[i].value : "";
	}
	return o;
}

enum gdb_ownership gdb_ownership_of(const struct gdb_obs_owner *t, const char *owner,
				    const char *uid)
{
	/* An empty owner tag names nobody: as absent (someone cleared it by hand). */
	if (!t->owner || !*t->owner)
		return GDB_OWN_UNTAGGED;
	if (!owner || strcmp(t->owner, owner) != 0)
		return GDB_OWN_FOREIGN;
	if (!uid || !*uid || !t->uid || strcmp(t->uid, uid) != 0)
		return GDB_OWN_STALE;
	return GDB_OWN_OURS;
}

const char *gdb_ownership_name(enum gdb_ownership o)
{
	switch (o) {
	case GDB_OWN_OURS:
		return "ours";
	case GDB_OWN_UNTAGGED:
		return "untagged";
	case GDB_OWN_STALE:
		return "stale";
	case GDB_OWN_FOREIGN:
		return "foreign";
	}
	return "unknown";
}

int gdb_owner_name(json_t *obj, char *buf, size_t n)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));
	int len;

	if (!ns || !name || !*ns || !*name || n == 0)
		return BASE_EINVAL;
	len = snprintf(buf, n, "%s/%s", ns, name);
	if (len < 0 || (size_t)len >= n) {
		buf[0] = '\0';
		return BASE_EINVAL;
	}
	return 0;
}

size_t gdb_owner_tags(const struct gdb_action *a, struct aws_tag tags[2])
{
	if (!a->owner || !a->owner_uid)
		return 0;
	/* aws_tag's members are not const; the calls only read them. */
	tags[0].key = (char *)GDB_TAG_OWNER;
	tags[0].value = a->owner;
	tags[1].key = (char *)GDB_TAG_OWNER_UID;
	tags[1].value = a->owner_uid;
	return 2;
}
