/*
 * proto.h - the three wire protocols on top of aws_client_do().
 *
 * awsQuery (RDS, STS): an aws_params list is flattened and form-encoded as
 * "Action=<op>&Version=<v>&<name>=<value>..." with strict percent-encoding;
 * the XML answer is parsed and the <{Op}Result> element handed back.
 * restXml (Route 53): the caller builds path, canonical query and XML body;
 * the answer's root element is handed back.
 * awsJson1_1 (ECS, SSM, Secrets Manager) and awsJson1_0 (DynamoDB): a
 * jansson object is posted with
 * X-Amz-Target <prefix>.<op>; the decoded JSON object is handed back.
 *
 * Ownership: aws_params owns copies of its names and values (values are
 * wiped on release, since a request may carry a password). Result documents
 * belong to the caller (aws_xml_free / json_decref). Not thread-safe per
 * object; the client underneath is.
 */
#ifndef AWS_PROTO_H
#define AWS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkg/aws/client.h"
#include "pkg/aws/xml.h"

struct aws_param {
	char *name;
	char *value;
};

struct aws_params {
	struct aws_param *items;
	size_t n, alloc;
};

#define AWS_PARAMS_INIT                                                                            \
	{                                                                                          \
		NULL, 0, 0                                                                         \
	}

/* Adds name=value (copied). NULL values are skipped. */
void aws_params_add(struct aws_params *p, const char *name, const char *value);
/* Adds name=value with name built printf-style ("Filters.Filter.%zu.Name"). */
void aws_params_addf(struct aws_params *p, const char *value, const char *name_fmt, ...)
	__attribute__((format(printf, 3, 4)));
void aws_params_add_bool(struct aws_params *p, const char *name, int v);
void aws_params_add_int(struct aws_params *p, const char *name, int64_t v);
/* Frees (and wipes) everything. */
void aws_params_release(struct aws_params *p);
/* "Action=<op>&Version=<ver>&..." strictly encoded, in insertion order. Caller frees. */
char *aws_query_encode(const char *action, const char *version, const struct aws_params *p);

/*
 * An awsQuery call. On success *doc is the parsed answer and *result points
 * at <{operation}Result> inside it (or at the root when the answer has none,
 * as for an empty result). 0 or a base code with err filled.
 */
int aws_query_call(struct aws_client *c, const struct aws_service *svc, const char *region,
		   const char *operation, const struct aws_params *p, int flags,
		   struct aws_xml_doc **doc, const struct aws_xml_node **result,
		   struct aws_error *err);
#define AWS_CALL_UNSIGNED 1
#define AWS_CALL_NOT_IDEMPOTENT 2

/* A restXml call: *doc / *root are the parsed answer (doc NULL when the body is empty). */
int aws_rest_xml_call(struct aws_client *c, const struct aws_service *svc, const char *operation,
		      const char *method, const char *path, const char *query, const char *body,
		      struct aws_xml_doc **doc, const struct aws_xml_node **root,
		      struct aws_error *err);

/*
 * An awsJson call (1.1, or 1.0 when svc->json_version says so): posts in
 * (borrowed; NULL means {}), *out is the answer object.
 */
int aws_json_call(struct aws_client *c, const struct aws_service *svc, const char *region,
		  const char *operation, json_t *in, json_t **out, struct aws_error *err);
/* The same with AWS_CALL_NOT_IDEMPOTENT in flags: not retried once it may have been sent. */
int aws_json_call_flags(struct aws_client *c, const struct aws_service *svc, const char *region,
			const char *operation, json_t *in, int flags, json_t **out,
			struct aws_error *err);

/* JSON helpers: a string member copied (NULL if absent or not a string). */
char *aws_json_str(json_t *obj, const char *key);
int64_t aws_json_int(json_t *obj, const char *key);
int aws_json_bool(json_t *obj, const char *key);
/* An epoch-seconds number (possibly fractional) as Unix ms; 0 when absent. */
int64_t aws_json_time(json_t *obj, const char *key);

#endif
