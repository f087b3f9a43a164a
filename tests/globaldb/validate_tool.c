/*
 * gdb-validate: reads a GlobalDatabase object as JSON on stdin, decodes and
 * validates its spec the way the controller does, and prints "ok" or the
 * error (exit 1). test_validate_offline.py feeds it every invalid manifest to
 * show the controller rejects what the API server rejects, without CEL.
 */
#include <jansson.h>
#include <stdio.h>

#include "pkg/globaldb/types.h"
#include "pkg/globaldb/validate.h"

int main(void)
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
	rc = gdb_spec_decode(json_object_get(obj, "spec"), &spec, err, sizeof(err));
	if (rc == 0)
		rc = gdb_spec_validate(&spec, err, sizeof(err));
	printf("%s\n", rc == 0 ? "ok" : err);
	gdb_spec_release(&spec);
	json_decref(obj);
	return rc == 0 ? 0 : 1;
}
