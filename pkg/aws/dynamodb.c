/*
 * DynamoDB over awsJson1_0. An attribute value on the wire is a one-member
 * object naming its type: {"S": "text"}, {"N": "42"} (numbers travel as
 * strings), {"M": {...}}. Items are kept as a flat list of attributes,
 * searched linearly: the guard's items have a dozen attributes at most.
 */
#include "pkg/aws/dynamodb.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

static void attr_release(struct aws_dynamodb_attr *a)
{
	free(a->name);
	free(a->s);
	if (a->m) {
		aws_dynamodb_item_release(a->m);
		free(a->m);
	}
	memset(a, 0, sizeof(*a));
}

void aws_dynamodb_item_release(struct aws_dynamodb_item *item)
{
	if (!item)
		return;
	for (size_t i = 0; i < item->n; i++)
		attr_release(&item->attrs[i]);
	free(item->attrs);
	memset(item, 0, sizeof(*item));
}

/* The slot for name: an existing one emptied, or a new one at the end. */
static struct aws_dynamodb_attr *slot(struct aws_dynamodb_item *item, const char *name)
{
	struct aws_dynamodb_attr *a;

	for (size_t i = 0; i < item->n; i++) {
		if (strcmp(item->attrs[i].name, name) == 0) {
			a = &item->attrs[i];
			attr_release(a);
			a->name = xstrdup(name);
			return a;
		}
	}
	ALLOC_GROW(item->attrs, item->n + 1, item->alloc);
	a = &item->attrs[item->n++];
	memset(a, 0, sizeof(*a));
	a->name = xstrdup(name);
	return a;
}

void aws_dynamodb_item_set_s(struct aws_dynamodb_item *item, const char *name, const char *value)
{
	struct aws_dynamodb_attr *a = slot(item, name);

	a->type = AWS_DYNAMODB_S;
	a->s = xstrdup(value ? value : "");
}

void aws_dynamodb_item_set_n(struct aws_dynamodb_item *item, const char *name, int64_t value)
{
	struct aws_dynamodb_attr *a = slot(item, name);

	a->type = AWS_DYNAMODB_N;
	a->s = xasprintf("%" PRId64, value);
	a->n = value;
	a->n_ok = 1;
}

struct aws_dynamodb_item *aws_dynamodb_item_set_m(struct aws_dynamodb_item *item, const char *name)
{
	struct aws_dynamodb_attr *a = slot(item, name);

	a->type = AWS_DYNAMODB_M;
	a->m = xcalloc(1, sizeof(*a->m));
	return a->m;
}

const struct aws_dynamodb_attr *aws_dynamodb_item_get(const struct aws_dynamodb_item *item,
						      const char *name)
{
	if (!item || !name)
		return NULL;
	for (size_t i = 0; i < item->n; i++)
		if (strcmp(item->attrs[i].name, name) == 0)
			return &item->attrs[i];
	return NULL;
}

const char *aws_dynamodb_item_s(const struct aws_dynamodb_item *item, const char *name)
{
	const struct aws_dynamodb_attr *a = aws_dynamodb_item_get(item, name);

	return a && a->type == AWS_DYNAMODB_S ? a->s : NULL;
}

int64_t aws_dynamodb_item_n(const struct aws_dynamodb_item *item, const char *name, int64_t def)
{
	const struct aws_dynamodb_attr *a = aws_dynamodb_item_get(item, name);

	return a && a->type == AWS_DYNAMODB_N && a->n_ok ? a->n : def;
}

const struct aws_dynamodb_item *aws_dynamodb_item_m(const struct aws_dynamodb_item *item,
						    const char *name)
{
	const struct aws_dynamodb_attr *a = aws_dynamodb_item_get(item, name);

	return a && a->type == AWS_DYNAMODB_M ? a->m : NULL;
}

json_t *aws_dynamodb_item_encode(const struct aws_dynamodb_item *item)
{
	json_t *o = json_object();

	for (size_t i = 0; item && i < item->n; i++) {
		const struct aws_dynamodb_attr *a = &item->attrs[i];

		switch (a->type) {
		case AWS_DYNAMODB_S:
			json_object_set_new(o, a->name, json_pack("{s:s}", "S", a->s));
			break;
		case AWS_DYNAMODB_N:
			json_object_set_new(o, a->name, json_pack("{s:s}", "N", a->s));
			break;
		case AWS_DYNAMODB_M:
			json_object_set_new(
				o, a->name,
				json_pack("{s:o}", "M", aws_dynamodb_item_encode(a->m)));
			break;
		}
	}
	return o;
}

/* A number's text as int64_t: 1 when it is a plain integer that fits. */
static int parse_int(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end)
		return 0;
	*out = (int64_t)v;
	return 1;
}

static void decode(json_t *obj, struct aws_dynamodb_item *out, int depth)
{
	const char *name;
	json_t *v, *t;

	json_object_foreach(obj, name, v)
	{
		struct aws_dynamodb_attr *a;

		if (!json_is_object(v))
			continue;
		if (json_is_string(t = json_object_get(v, "S"))) {
			aws_dynamodb_item_set_s(out, name, json_string_value(t));
		} else if (json_is_string(t = json_object_get(v, "N"))) {
			a = slot(out, name);
			a->type = AWS_DYNAMODB_N;
			a->s = xstrdup(json_string_value(t));
			a->n_ok = parse_int(a->s, &a->n);
		} else if (json_is_object(t = json_object_get(v, "M")) &&
			   depth < AWS_DYNAMODB_MAX_DEPTH) {
			decode(t, aws_dynamodb_item_set_m(out, name), depth + 1);
		}
	}
}

int aws_dynamodb_item_decode(json_t *obj, struct aws_dynamodb_item *out)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj))
		return BASE_EPARSE;
	decode(obj, out, 1);
	return 0;
}

int aws_dynamodb_decode_get_item(json_t *answer, struct aws_dynamodb_item *out, int *found)
{
	json_t *item = json_object_get(answer, "Item");

	memset(out, 0, sizeof(*out));
	*found = 0;
	if (!json_is_object(answer))
		return BASE_EPARSE;
	if (!item)
		return 0;
	if (aws_dynamodb_item_decode(item, out) < 0)
		return BASE_EPARSE;
	*found = 1;
	return 0;
}

int aws_dynamodb_get_item(struct aws_client *c, const char *region, const char *table,
			  const struct aws_dynamodb_item *key, int consistent,
			  struct aws_dynamodb_item *out, int *found, struct aws_error *err)
{
	json_t *in, *ans = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	*found = 0;
	if (!table || !*table || !key || key->n == 0) {
		aws_error_set(err, 0, "", "GetItem: table and key are required");
		return BASE_EINVAL;
	}
	in = json_pack("{s:s, s:o, s:b}", "TableName", table, "Key", aws_dynamodb_item_encode(key),
		       "ConsistentRead", consistent);
	rc = aws_json_call(c, &aws_svc_dynamodb, region, "GetItem", in, &ans, err);
	json_decref(in);
	if (rc < 0)
		return rc;
	rc = aws_dynamodb_decode_get_item(ans, out, found);
	if (rc < 0)
		aws_error_set(err, 200, "", "GetItem: undecodable item");
	json_decref(ans);
	return rc;
}

static void add_cond(json_t *in, const struct aws_dynamodb_cond *cond)
{
	if (!cond)
		return;
	if (cond->expression)
		json_object_set_new(in, "ConditionExpression", json_string(cond->expression));
	if (cond->names && cond->names[0]) {
		json_t *n = json_object();

		for (size_t i = 0; cond->names[i] && cond->names[i + 1]; i += 2)
			json_object_set_new(n, cond->names[i], json_string(cond->names[i + 1]));
		json_object_set_new(in, "ExpressionAttributeNames", n);
	}
	if (cond->values && cond->values->n > 0)
		json_object_set_new(in, "ExpressionAttributeValues",
				    aws_dynamodb_item_encode(cond->values));
}

static int write_call(struct aws_client *c, const char *region, const char *op, json_t *in,
		      struct aws_error *err)
{
	json_t *ans = NULL;
	int rc = aws_json_call_flags(c, &aws_svc_dynamodb, region, op, in, AWS_CALL_NOT_IDEMPOTENT,
				     &ans, err);

	json_decref(in);
	json_decref(ans);
	return rc;
}

int aws_dynamodb_put_item(struct aws_client *c, const char *region, const char *table,
			  const struct aws_dynamodb_item *item,
			  const struct aws_dynamodb_cond *cond, struct aws_error *err)
{
	json_t *in;

	if (!table || !*table || !item || item->n == 0) {
		aws_error_set(err, 0, "", "PutItem: table and item are required");
		return BASE_EINVAL;
	}
	in = json_pack("{s:s, s:o}", "TableName", table, "Item", aws_dynamodb_item_encode(item));
	add_cond(in, cond);
	return write_call(c, region, "PutItem", in, err);
}

int aws_dynamodb_update_item(struct aws_client *c, const char *region, const char *table,
			     const struct aws_dynamodb_item *key, const char *update,
			     const struct aws_dynamodb_cond *cond, struct aws_error *err)
{
	json_t *in;

	if (!table || !*table || !key || key->n == 0 || !update || !*update) {
		aws_error_set(err, 0, "", "UpdateItem: table, key and update are required");
		return BASE_EINVAL;
	}
	in = json_pack("{s:s, s:o, s:s}", "TableName", table, "Key", aws_dynamodb_item_encode(key),
		       "UpdateExpression", update);
	add_cond(in, cond);
	return write_call(c, region, "UpdateItem", in, err);
}
