/*
 * types_int.h - private to the API types; not a manual for callers (types.h is).
 *
 * The JSON codec of the spec and status is split over three files: the
 * decoding helpers and the generation names (types.c), the spec
 * (types_spec.c) and the status (types_status.c). This header holds the
 * decoding context and the helpers the spec and status decoders share.
 */
#ifndef GDB_GLOBALDB_TYPES_INT_H
#define GDB_GLOBALDB_TYPES_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/globaldb/types.h"

struct dctx {
	char path[256];
	char *err;
	size_t errlen;
};

/* types.c */
int fail(struct dctx *c, const char *field, const char *what);
size_t push(struct dctx *c, const char *field, long index);
void pop(struct dctx *c, size_t old);
int get_obj(struct dctx *c, const json_t *obj, const char *key, int required, json_t **out);
int get_arr(struct dctx *c, const json_t *obj, const char *key, size_t max, json_t **out);
int get_str(struct dctx *c, const json_t *obj, const char *key, int required, char **out);
int get_int(struct dctx *c, const json_t *obj, const char *key, int64_t dflt, int64_t min,
	    int64_t max, int64_t *out);
int get_int32(struct dctx *c, const json_t *obj, const char *key, int dflt, int min, int max,
	      int *out);
int get_bool(struct dctx *c, const json_t *obj, const char *key, int *out);
int get_time(struct dctx *c, const json_t *obj, const char *key, int64_t *out);
int get_enum(struct dctx *c, const json_t *obj, const char *key, const char *const *names, int n,
	     int dflt, int *out);

#endif
