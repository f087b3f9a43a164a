/*
 * Conditions: linear scans over a short array (a handful of types).
 */
#include "pkg/kube/conditions.h"

#include <ctype.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

static int valid_reason(const char *r)
{
	size_t n = strlen(r);

	if (n == 0 || n > KUBE_CONDITION_REASON_MAX || !isalpha((unsigned char)r[0]))
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)r[i];

		if (!isalnum(c) && c != '_' && c != ',' && c != ':')
			return 0;
	}
	return isalnum((unsigned char)r[n - 1]) || r[n - 1] == '_';
}

static int valid_type(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > KUBE_CONDITION_TYPE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != '/')
			return 0;
	}
	return isalnum((unsigned char)t[0]) && isalnum((unsigned char)t[n - 1]);
}

int kube_condition_validate(const struct kube_condition *c)
{
	if (!c->type || !valid_type(c->type))
		return BASE_EINVAL;
	if (!c->status || (strcmp(c->status, "True") && strcmp(c->status, "False") &&
			   strcmp(c->status, "Unknown")))
		return BASE_EINVAL;
	if (!c->reason || !valid_reason(c->reason))
		return BASE_EINVAL;
	if (c->message && strlen(c->message) > KUBE_CONDITION_MESSAGE_MAX)
		return BASE_EINVAL;
	if (c->observed_generation < 0)
		return BASE_EINVAL;
	return 0;
}

json_t *kube_condition_find(json_t *conditions, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(conditions, i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

int kube_condition_is_true(json_t *conditions, const char *type)
{
	const char *s =
		json_string_value(json_object_get(kube_condition_find(conditions, type), "status"));

	return s && !strcmp(s, "True");
}

int kube_condition_remove(json_t *conditions, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(conditions, i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));

		if (t && !strcmp(t, type)) {
			json_array_remove(conditions, i);
			return 1;
		}
	}
	return 0;
}

/* Sets key to the string value; returns 1 if it differed. */
static int set_str(json_t *obj, const char *key, const char *value)
{
	const char *cur = json_string_value(json_object_get(obj, key));

	if (cur && !strcmp(cur, value))
		return 0;
	json_object_set_new(obj, key, json_string(value));
	return 1;
}

int kube_condition_set(json_t *conditions, const struct kube_condition *cond, int64_t now_ms)
{
	const char *msg = cond->message ? cond->message : "";
	char ts[40];
	json_t *c;
	int changed = 0;

	if (!json_is_array(conditions) || kube_condition_validate(cond) < 0 ||
	    base_time_format(now_ms, ts, sizeof(ts)) < 0)
		return BASE_EINVAL;
	c = kube_condition_find(conditions, cond->type);
	if (!c) {
		c = json_object();
		json_object_set_new(c, "type", json_string(cond->type));
		json_object_set_new(c, "status", json_string(cond->status));
		if (cond->observed_generation > 0)
			json_object_set_new(c, "observedGeneration",
					    json_integer(cond->observed_generation));
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
		json_object_set_new(c, "reason", json_string(cond->reason));
		json_object_set_new(c, "message", json_string(msg));
		json_array_append_new(conditions, c);
		return 1;
	}
	if (set_str(c, "status", cond->status)) {
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
		changed = 1;
	} else if (!json_is_string(json_object_get(c, "lastTransitionTime"))) {
		json_object_set_new(c, "lastTransitionTime", json_string(ts));
		changed = 1;
	}
	changed |= set_str(c, "reason", cond->reason);
	changed |= set_str(c, "message", msg);
	if (cond->observed_generation > 0 &&
	    json_integer_value(json_object_get(c, "observedGeneration")) !=
		    cond->observed_generation) {
		json_object_set_new(c, "observedGeneration",
				    json_integer(cond->observed_generation));
		changed = 1;
	}
	return changed;
}
