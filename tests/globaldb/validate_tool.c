/*
 * gdb-validate: reads a GlobalDatabase object as JSON on stdin, decodes and
 * validates its spec the way the controller does, and prints "ok" or the
 * error (exit 1). test_validate_offline.py feeds it every invalid manifest to
 * show the controller rejects what the API server rejects, without CEL.
 *
 * gdb-validate --status: decodes the object's status and prints it encoded
 * again, as the controller would write it; test_crd.py sends that to the API
 * server to prove the schema keeps every field the controller writes.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pkg/globaldb/types.h"
#include "pkg/globaldb/validate.h"

int main(int argc, char **argv)
{
	json_error_t jerr;
	json_t *obj = json_loadf(stdin, 0, &jerr);
	struct gdb_spec spec;
	char err[GDB_ERRLEN];
	int rc;

	if (!obj) {
		fprintf(stderr, "json: %s\n", jerr.text);
		return 2;
	}
	if (argc > 1 && strcmp(argv[1], "--status") == 0) {
		struct gdb_status st;
		json_t *out;

		rc = gdb_status_decode(json_object_get(obj, "status"), &st, err, sizeof(err));
		if (rc == 0) {
			out = gdb_status_encode(&st);
			json_dumpf(out, stdout, JSON_SORT_KEYS);
			json_decref(out);
		} else {
			fprintf(stderr, "%s\n", err);
		}
		gdb_status_release(&st);
		json_decref(obj);
		return rc == 0 ? 0 : 1;
	}
	rc = gdb_spec_decode(json_object_get(obj, "spec"), &spec, err, sizeof(err));
	if (rc == 0)
		rc = gdb_spec_validate(&spec, err, sizeof(err));
	printf("%s\n", rc == 0 ? "ok" : err);
	gdb_spec_release(&spec);
	json_decref(obj);
	return rc == 0 ? 0 : 1;
}
