/*
 * JSON <-> structs for the GlobalDatabase spec and status.
 *
 * A small decoding context carries the JSON path of the field being read
 * ("spec.regions[1].template") and the first error; each helper reads one
 * field of one object, checks its JSON type and its cap, and on failure
 * writes "<path>.<field>: <what is wrong>" and returns BASE_EINVAL. Callers
 * chain them with `if (rc < 0) goto out`, so decoding stops at the first
 * problem and the struct holds whatever was decoded so far (released by the
 * caller as usual).
 */
#include "pkg/globaldb/types_int.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

int fail(struct dctx *c, const char *field, const char *what)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s%s%s: %s", c->path, field && *field ? "." : "",
			 field ? field : "", what);
	return BASE_EINVAL;
}

/* Appends ".field" or "[i]" to the path; returns the old length to restore. */
size_t push(struct dctx *c, const char *field, long index)
{
	size_t old = strlen(c->path);

	if (index >= 0)
		snprintf(c->path + old, sizeof(c->path) - old, ".%s[%ld]", field, index);
	else
		snprintf(c->path + old, sizeof(c->path) - old, ".%s", field);
	return old;
}

void pop(struct dctx *c, size_t old)
{
	c->path[old] = '\0';
}

void gdb_set_str(char **dst, const char *src)
{
	char *copy = src ? xstrdup(src) : NULL;

	free(*dst);
	*dst = copy;
}

/* An optional object member: NULL when absent or JSON null. */
static json_t *member(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

int get_obj(struct dctx *c, const json_t *obj, const char *key, int required, json_t **out)
{
	json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return required ? fail(c, key, "required") : 0;
	if (!json_is_object(v))
		return fail(c, key, "must be an object");
	*out = v;
	return 0;
}

int get_arr(struct dctx *c, const json_t *obj, const char *key, size_t max, json_t **out)
{
	json_t *v = member(obj, key);
	char what[64];

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail(c, key, "must be an array");
	if (json_array_size(v) > max) {
		snprintf(what, sizeof(what), "must have at most %zu items", max);
		return fail(c, key, what);
	}
	*out = v;
	return 0;
}

int get_str(struct dctx *c, const json_t *obj, const char *key, int required, char **out)
{
	json_t *v = member(obj, key);

	if (!v)
		return required ? fail(c, key, "required") : 0;
	if (!json_is_string(v))
		return fail(c, key, "must be a string");
	if (json_string_length(v) > GDB_MAX_STRING)
		return fail(c, key, "too long");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(c, key, "must not contain NUL bytes");
	if (required && json_string_length(v) == 0)
		return fail(c, key, "must not be empty");
	gdb_set_str(out, json_string_value(v));
	return 0;
}

int get_int(struct dctx *c, const json_t *obj, const char *key, int64_t dflt, int64_t min,
	    int64_t max, int64_t *out)
{
	json_t *v = member(obj, key);
	char what[96];

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return fail(c, key, "must be an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(what, sizeof(what), "must be between %" PRId64 " and %" PRId64, min, max);
		return fail(c, key, what);
	}
	*out = json_integer_value(v);
	return 0;
}

int get_int32(struct dctx *c, const json_t *obj, const char *key, int dflt, int min, int max,
	      int *out)
{
	int64_t v;
	int rc = get_int(c, obj, key, dflt, min, max, &v);

	*out = (int)v;
	return rc;
}

int get_bool(struct dctx *c, const json_t *obj, const char *key, int *out)
{
	json_t *v = member(obj, key);

	*out = -1;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, key, "must be a boolean");
	*out = json_is_true(v);
	return 0;
}

int get_time(struct dctx *c, const json_t *obj, const char *key, int64_t *out)
{
	char *s = NULL;
	int rc;

	*out = 0;
	rc = get_str(c, obj, key, 0, &s);
	if (rc < 0 || !s)
		goto out;
	if (base_time_parse(s, out) < 0)
		rc = fail(c, key, "must be an RFC 3339 time");
out:
	free(s);
	return rc;
}

/* An enum given as a string among names[0..n) (NULL entries skipped); dflt when absent. */
int get_enum(struct dctx *c, const json_t *obj, const char *key, const char *const *names, int n,
	     int dflt, int *out)
{
	json_t *v = member(obj, key);
	char what[256];
	size_t len = 0;

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(c, key, "must be a string");
	for (int i = 0; i < n; i++) {
		if (names[i] && strcmp(names[i], json_string_value(v)) == 0) {
			*out = i;
			return 0;
		}
	}
	len = (size_t)snprintf(what, sizeof(what), "must be one of");
	for (int i = 0; i < n && len < sizeof(what); i++)
		if (names[i])
			len += (size_t)snprintf(what + len, sizeof(what) - len, " %s", names[i]);
	return fail(c, key, what);
}

size_t gdb_generation_stem_len(const char *id)
{
	size_t n = strlen(id), k = n;

	while (k > 0 && isdigit((unsigned char)id[k - 1]))
		k--;
	/* A suffix is "-" and 1 to 6 digits without a leading zero, after a non-empty stem. */
	if (k < n && n - k <= 6 && k >= 2 && id[k - 1] == '-' && id[k] != '0')
		return k - 1;
	return n;
}

/* The number after the stem of id (stem_len < strlen(id)). */
static int64_t suffix_number(const char *id, size_t stem_len)
{
	int64_t v = 0;

	for (const char *p = id + stem_len + 1; *p; p++)
		v = v * 10 + (*p - '0');
	return v;
}

static int64_t base_generation(const char *base)
{
	size_t k = gdb_generation_stem_len(base);

	return k < strlen(base) ? suffix_number(base, k) : 1;
}

int64_t gdb_generation_of(const char *base, const char *id)
{
	size_t k, n;
	int64_t g;

	if (!base || !id)
		return 0;
	if (strcasecmp(base, id) == 0)
		return base_generation(base);
	k = gdb_generation_stem_len(id);
	n = gdb_generation_stem_len(base);
	if (k == strlen(id) || k != n || strncasecmp(base, id, k) != 0)
		return 0;
	g = suffix_number(id, k);
	return g > base_generation(base) ? g : 0;
}

char *gdb_generation_name(const char *base, int64_t gen)
{
	size_t k = gdb_generation_stem_len(base);

	if (gen <= base_generation(base))
		return xstrdup(base);
	return xasprintf("%.*s-%" PRId64, (int)k, base, gen);
}
