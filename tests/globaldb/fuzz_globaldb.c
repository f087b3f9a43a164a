/*
 * Fuzz target: a GlobalDatabase object as the API server might hand it over
 * (or as an attacker with write access to the object might craft it).
 * Decodes spec and status, validates the spec, checks that the status
 * round-trips through encode/decode, and runs the planner over the result
 * with an empty observation, so a hostile status (any step, any counters)
 * cannot crash the decision either; and the allowlists (allow.h) over the
 * spec, with {namespace} entries and the metadata's namespace and
 * allow-restarts-from annotation as given. Inputs over 1 MiB are ignored: the API
 * server caps objects well below that.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/globaldb/allow.h"
#include "pkg/globaldb/planner.h"
#include "pkg/globaldb/types.h"
#include "pkg/globaldb/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gdb_spec spec;
	struct gdb_status st, back;
	struct gdb_observed obs;
	struct gdb_health health;
	struct gdb_plan plan;
	char err[GDB_ERRLEN];
	json_t *obj, *enc, *enc2;
	int spec_ok, status_ok;

	if (size > (1 << 20))
		return 0;
	obj = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (!obj)
		return 0;
	spec_ok = gdb_spec_decode(json_object_get(obj, "spec"), &spec, err, sizeof(err)) == 0;
	if (spec_ok) {
		const char *ns = json_string_value(
			json_object_get(json_object_get(obj, "metadata"), "namespace"));
		const char *from = json_string_value(json_object_get(
			json_object_get(json_object_get(obj, "metadata"), "annotations"),
			GDB_ANNOTATION_ALLOW_RESTARTS_FROM));
		const char *foreign[2 * GDB_MAX_WORKLOADS];
		struct gdb_ns_optin optins[2 * GDB_MAX_WORKLOADS];
		struct gdb_allow allow = {0};
		size_t n;

		gdb_spec_validate(&spec, err, sizeof(err));
		ns = ns ? ns : "default";
		n = gdb_allow_foreign_namespaces(&spec, ns, foreign, ARRAY_SIZE(foreign));
		for (size_t i = 0; i < n; i++) {
			optins[i].name = (char *)foreign[i];
			optins[i].allow_from = (char *)from;
		}
		gdb_allow_set(&allow, GDB_ALLOW_SECRETS, "globaldb/{namespace}/*", err,
			      sizeof(err));
		gdb_allow_set(&allow, GDB_ALLOW_SSM_PREFIXES, "/{namespace}{namespace}", err,
			      sizeof(err));
		gdb_allow_set(&allow, GDB_ALLOW_PROBE_HOSTS, "db*", err, sizeof(err));
		gdb_allow_check(&allow, ns, &spec, optins, n, err, sizeof(err));
		gdb_allow_check(NULL, ns, &spec, NULL, 0, err, sizeof(err));
		gdb_allow_release(&allow);
	}
	status_ok = gdb_status_decode(json_object_get(obj, "status"), &st, err, sizeof(err)) == 0;
	if (status_ok) {
		enc = gdb_status_encode(&st);
		if (gdb_status_decode(enc, &back, err, sizeof(err)) != 0)
			BUG("encoded status does not decode: %s", err);
		enc2 = gdb_status_encode(&back);
		if (!json_equal(enc, enc2))
			BUG("status does not round-trip");
		json_decref(enc);
		json_decref(enc2);
		gdb_status_release(&back);
	}
	if (spec_ok && status_ok) {
		memset(&obs, 0, sizeof(obs));
		memset(&health, 0, sizeof(health));
		obs.generation = 1;
		for (size_t i = 0; i < spec.n_regions; i++) {
			obs.regions[i].name = spec.regions[i].name;
			obs.regions[i].api = GDB_CALL_OK;
			health.regions[i].name = spec.regions[i].name;
			health.regions[i].writer_healthy = i == 0 ? 0 : -1;
			health.regions[i].consecutive_failures = 5;
			health.regions[i].reader_healthy = 1;
			health.regions[i].lag_ms = 100;
		}
		obs.n_regions = spec.n_regions;
		health.n_regions = spec.n_regions;
		gdb_plan(&spec, &st, &obs, &health, 1795752000000LL, &plan);
		gdb_plan_release(&plan);
	}
	gdb_status_release(&st);
	gdb_spec_release(&spec);
	json_decref(obj);
	return 0;
}
