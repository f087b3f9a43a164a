/*
 * validate.h - the rules of a GlobalDatabase spec that the controller checks
 * itself.
 *
 * The CRD schema and its CEL rules reject bad specs at the API server, but an
 * API server may run without CEL, an object may predate a rule, and the
 * controller must never act on a spec it does not understand (defense in
 * depth). gdb_spec_validate() repeats every schema rule that matters to the
 * controller: identifier patterns as RDS requires them, region names, 2 to 6
 * unique regions, primaryRegion among them, exactly one credentials source,
 * timeoutSeconds < periodSeconds, the bounds, DNS names, ECS regions among the
 * regions. Pure and thread-safe.
 */
#ifndef GDB_VALIDATE_H
#define GDB_VALIDATE_H

#include <stddef.h>

#include "pkg/globaldb/types.h"

/*
 * 0 when spec is valid; otherwise BASE_EINVAL and the first problem in err,
 * named by its field path ("spec.regions[1].name: duplicate region").
 */
int gdb_spec_validate(const struct gdb_spec *spec, char *err, size_t errlen);

/* Pattern checks shared with the planner (each returns 1 when s matches). */
int gdb_valid_rds_identifier(const char *s, size_t max_len);
int gdb_valid_region_name(const char *s);

#endif
