/*
 * The I/O half of allow.h: one GET per namespace other than the object's
 * that its workloads name, for the allow-restarts-from annotation. Read on
 * every reconcile rather than cached, so that a namespace owner who removes
 * the annotation stops the next restart, not one after a resync. A spec
 * that names no other namespace costs nothing. A namespace the controller
 * may not read (its ClusterRole bound per namespace) counts as one that did
 * not opt in.
 */
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/globaldb/allow.h"
#include "pkg/kube/rest.h"

int gdb_allow_read_namespaces(struct kube_client *kube, const struct gdb_spec *spec, const char *ns,
			      struct gdb_ns_optin **out, size_t *n)
{
	const char *names[2 * GDB_MAX_WORKLOADS];
	size_t count = gdb_allow_foreign_namespaces(spec, ns, names, ARRAY_SIZE(names));
	struct gdb_ns_optin *o;

	*out = NULL;
	*n = 0;
	if (count == 0)
		return 0;
	o = xcalloc(count, sizeof(*o));
	for (size_t i = 0; i < count; i++) {
		struct kube_status st;
		json_t *obj = NULL, *v;
		int rc;

		kube_status_clear(&st);
		rc = kube_get(kube, &kube_res_namespaces, NULL, names[i], &obj, &st);
		/* Forbidden (RBAC bound per namespace) reads as no opt-in, as NotFound does. */
		if (rc < 0 && rc != BASE_ENOTFOUND && rc != BASE_EFORBIDDEN) {
			gdb_allow_optins_free(o, count);
			return rc;
		}
		o[i].name = xstrdup(names[i]);
		v = json_object_get(
			json_object_get(json_object_get(obj, "metadata"), "annotations"),
			GDB_ANNOTATION_ALLOW_RESTARTS_FROM);
		if (json_is_string(v))
			o[i].allow_from = xstrdup(json_string_value(v));
		json_decref(obj);
	}
	*out = o;
	*n = count;
	return 0;
}

void gdb_allow_optins_free(struct gdb_ns_optin *o, size_t n)
{
	if (!o)
		return;
	for (size_t i = 0; i < n; i++) {
		free(o[i].name);
		free(o[i].allow_from);
	}
	free(o);
}
