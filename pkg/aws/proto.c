/*
 * Protocol glue. The awsQuery body is built in the order parameters were
 * added (the body is hashed as sent, so order does not matter to AWS). JSON
 * answers are decoded with jansson under the client's body cap, and rejected
 * when the top level is not an object.
 */
#include "pkg/aws/proto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/aws/sigv4.h"
#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"

void aws_params_add(struct aws_params *p, const char *name, const char *value)
{
	if (!value)
		return;
	ALLOC_GROW(p->items, p->n + 1, p->alloc);
	p->items[p->n].name = xstrdup(name);
	p->items[p->n].value = xstrdup(value);
	p->n++;
}

void aws_params_addf(struct aws_params *p, const char *value, const char *name_fmt, ...)
{
	va_list ap;
	char *name;

	if (!value)
		return;
	va_start(ap, name_fmt);
	name = xvasprintf(name_fmt, ap);
	va_end(ap);
	aws_params_add(p, name, value);
	free(name);
}

void aws_params_add_bool(struct aws_params *p, const char *name, int v)
{
	aws_params_add(p, name, v ? "true" : "false");
}

void aws_params_add_int(struct aws_params *p, const char *name, int64_t v)
{
	char b[32];

	snprintf(b, sizeof(b), "%lld", (long long)v);
	aws_params_add(p, name, b);
}

void aws_params_release(struct aws_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].name);
		base_free_secret(p->items[i].value);
	}
	free(p->items);
	p->items = NULL;
	p->n = p->alloc = 0;
}

char *aws_query_encode(const char *action, const char *version, const struct aws_params *p)
{
	struct base_buf b = BASE_BUF_INIT(0);

	base_buf_adds(&b, "Action=");
	aws_uri_encode(&b, action, strlen(action), 0);
	base_buf_adds(&b, "&Version=");
	aws_uri_encode(&b, version, strlen(version), 0);
	for (size_t i = 0; p && i < p->n; i++) {
		base_buf_addch(&b, '&');
		aws_uri_encode(&b, p->items[i].name, strlen(p->items[i].name), 0);
		base_buf_addch(&b, '=');
		aws_uri_encode(&b, p->items[i].value, strlen(p->items[i].value), 0);
	}
	return base_buf_detach(&b, NULL);
}

int aws_query_call(struct aws_client *c, const struct aws_service *svc, const char *region,
		   const char *operation, const struct aws_params *p, int flags,
		   struct aws_xml_doc **doc, const struct aws_xml_node **result,
		   struct aws_error *err)
{
	struct aws_response resp;
	struct aws_request req = {0};
	char *body = aws_query_encode(operation, svc->api_version, p);
	char wrapper[160];
	int rc;

	*doc = NULL;
	*result = NULL;
	req.svc = svc;
	req.operation = operation;
	req.region = region;
	req.method = "POST";
	req.path = "/";
	req.content_type = "application/x-www-form-urlencoded; charset=utf-8";
	req.body = body;
	req.body_len = strlen(body);
	req.unsigned_request = !!(flags & AWS_CALL_UNSIGNED);
	req.not_idempotent = !!(flags & AWS_CALL_NOT_IDEMPOTENT);
	rc = aws_client_do(c, &req, &resp, err);
	base_free_secret(body);
	if (rc < 0)
		return rc;
	rc = aws_xml_parse(resp.body.data, resp.body.len, doc);
	if (rc < 0) {
		aws_error_set(err, (int)resp.status, "", "%s: undecodable XML answer", operation);
		goto out;
	}
	snprintf(wrapper, sizeof(wrapper), "%sResult", operation);
	*result = aws_xml_child(aws_xml_root(*doc), wrapper);
	if (!*result)
		*result = aws_xml_root(*doc);
out:
	aws_response_release(&resp);
	return rc;
}

int aws_rest_xml_call(struct aws_client *c, const struct aws_service *svc, const char *operation,
		      const char *method, const char *path, const char *query, const char *body,
		      struct aws_xml_doc **doc, const struct aws_xml_node **root,
		      struct aws_error *err)
{
	struct aws_response resp;
	struct aws_request req = {0};
	int rc;

	*doc = NULL;
	*root = NULL;
	req.svc = svc;
	req.operation = operation;
	req.region = NULL;
	req.method = method;
	req.path = path;
	req.query = query;
	req.content_type = body ? "application/xml" : NULL;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	rc = aws_client_do(c, &req, &resp, err);
	if (rc < 0)
		return rc;
	if (resp.body.len) {
		rc = aws_xml_parse(resp.body.data, resp.body.len, doc);
		if (rc < 0)
			aws_error_set(err, (int)resp.status, "", "%s: undecodable XML answer",
				      operation);
		else
			*root = aws_xml_root(*doc);
	}
	aws_response_release(&resp);
	return rc;
}

int aws_json_call(struct aws_client *c, const struct aws_service *svc, const char *region,
		  const char *operation, json_t *in, json_t **out, struct aws_error *err)
{
	return aws_json_call_flags(c, svc, region, operation, in, 0, out, err);
}

int aws_json_call_flags(struct aws_client *c, const struct aws_service *svc, const char *region,
			const char *operation, json_t *in, int flags, json_t **out,
			struct aws_error *err)
{
	struct aws_response resp;
	struct aws_request req = {0};
	char *body = in ? json_dumps(in, JSON_COMPACT) : xstrdup("{}");
	json_error_t jerr;
	int rc;

	*out = NULL;
	if (!body)
		BUG("json_dumps failed");
	req.svc = svc;
	req.operation = operation;
	req.region = region;
	req.method = "POST";
	req.path = "/";
	req.content_type = svc->json_version && strcmp(svc->json_version, "1.0") == 0
				   ? "application/x-amz-json-1.0"
				   : "application/x-amz-json-1.1";
	req.not_idempotent = (flags & AWS_CALL_NOT_IDEMPOTENT) != 0;
	req.body = body;
	req.body_len = strlen(body);
	rc = aws_client_do(c, &req, &resp, err);
	base_free_secret(body);
	if (rc < 0)
		return rc;
	*out = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		aws_error_set(err, (int)resp.status, "", "%s: undecodable JSON answer", operation);
		rc = BASE_EPARSE;
	}
	aws_response_release(&resp);
	return rc;
}

char *aws_json_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
}

int64_t aws_json_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v) && isfinite(json_real_value(v)) && fabs(json_real_value(v)) < 9e15)
		return (int64_t)json_real_value(v);
	return 0;
}

int aws_json_bool(json_t *obj, const char *key)
{
	return json_is_true(json_object_get(obj, key));
}

int64_t aws_json_time(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (json_is_integer(v))
		d = (double)json_integer_value(v);
	else if (json_is_real(v))
		d = json_real_value(v);
	else
		return 0;
	if (!isfinite(d) || d < 0 || d > 1e13)
		return 0;
	return (int64_t)llround(d * 1000.0);
}
