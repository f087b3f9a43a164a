/*
 * AWS error decoding and classification. The classification tables follow
 * botocore's standard retry mode (docs/aws-protocols.md §1.5) and the per-service error
 * lists in the models; anything unknown falls back on the HTTP status.
 */
#include "pkg/aws/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

/* Bodies of error responses larger than this are not decoded. */
#define AWS_ERROR_MAX_BODY (1u << 20)

void aws_error_clear(struct aws_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

void aws_error_set(struct aws_error *err, int http_status, const char *code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->http_status = http_status;
	copy(err->code, sizeof(err->code), code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static int contains(const char *s, const char *sub)
{
	return s && strstr(s, sub) != NULL;
}

static int in_list(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return 1;
	return 0;
}

int aws_error_is_throttling(const char *code)
{
	static const char *const list[] = {
		"Throttling",
		"ThrottlingException",
		"ThrottledException",
		"RequestThrottledException",
		"TooManyRequestsException",
		"RequestLimitExceeded",
		"RequestThrottled",
		"ProvisionedThroughputExceededException",
		"SlowDown",
		"BandwidthLimitExceeded",
		"EC2ThrottledException",
		"PriorRequestNotComplete",
		"TransactionInProgressException",
		"TooManyUpdates",
		NULL,
	};

	return code && in_list(code, list);
}

int aws_error_is_transient(int http_status, const char *code)
{
	static const char *const list[] = {
		"RequestTimeout",
		"RequestTimeoutException",
		"InternalError",
		"InternalFailure",
		"ServiceUnavailable",
		"IDPCommunicationError",
		NULL,
	};

	if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
		return 1;
	return code && in_list(code, list);
}

int aws_error_is_expired_token(const char *code)
{
	return code &&
	       (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0);
}

int aws_error_to_base(int http_status, const char *code)
{
	static const char *const unauthorized[] = {
		"SignatureDoesNotMatch",
		"InvalidSignatureException",
		"IncompleteSignature",
		"MissingAuthenticationToken",
		"MissingAuthenticationTokenException",
		"InvalidClientTokenId",
		"UnrecognizedClientException",
		"ExpiredToken",
		"ExpiredTokenException",
		"RequestExpired",
		"InvalidIdentityToken",
		NULL,
	};
	static const char *const forbidden[] = {
		"AccessDenied", "AccessDeniedException", "IDPRejectedClaim",
		"AuthFailure",	"UnauthorizedOperation", NULL,
	};
	static const char *const invalid[] = {
		"InvalidParameterValue",     "InvalidParameterCombination",
		"MissingParameter",	     "InvalidAction",
		"ValidationException",	     "ValidationError",
		"InvalidParameterException", "InvalidInput",
		"InvalidChangeBatch",	     "InvalidRequestException",
		"MalformedQueryString",	     NULL,
	};

	if (code && *code) {
		if (aws_error_is_throttling(code))
			return BASE_ETHROTTLED;
		if (in_list(code, unauthorized))
			return BASE_EUNAUTHORIZED;
		if (in_list(code, forbidden))
			return BASE_EFORBIDDEN;
		if (contains(code, "NotFound") || strncmp(code, "NoSuch", 6) == 0 ||
		    strcmp(code, "ParameterNotFound") == 0)
			return BASE_ENOTFOUND;
		if (contains(code, "AlreadyExists") || strcmp(code, "DBInstanceAlreadyExists") == 0)
			return BASE_EEXIST;
		if (strncmp(code, "Invalid", 7) == 0 && contains(code, "State"))
			return BASE_ECONFLICT;
		/* DynamoDB: a condition did not hold, someone else wrote first. */
		if (strcmp(code, "ConditionalCheckFailedException") == 0 ||
		    strcmp(code, "TransactionConflictException") == 0)
			return BASE_ECONFLICT;
		if (in_list(code, invalid))
			return BASE_EINVAL;
		if (aws_error_is_transient(http_status, code))
			return BASE_ESERVER;
	}
	if (http_status >= 500)
		return BASE_ESERVER;
	if (http_status == 404)
		return BASE_ENOTFOUND;
	if (http_status == 403)
		return BASE_EFORBIDDEN;
	if (http_status == 429)
		return BASE_ETHROTTLED;
	return BASE_EINTERNAL;
}

int aws_error_decode_xml(const char *body, size_t len, struct aws_error *err)
{
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root, *e;
	char *code = NULL, *msg = NULL, *rid = NULL;
	int rc;

	if (len > AWS_ERROR_MAX_BODY)
		return BASE_ETOOBIG;
	rc = aws_xml_parse(body, len, &doc);
	if (rc < 0)
		return BASE_EPARSE;
	root = aws_xml_root(doc);
	e = aws_xml_child(root, "Error");
	if (!e)
		e = aws_xml_path(root, "Errors/Error");
	if (e) {
		code = aws_xml_get(e, "Code");
		msg = aws_xml_get(e, "Message");
	} else if (strcmp(root->name, "ErrorResponse") != 0 && !strstr(root->name, "Response")) {
		/* An old-style Route 53 answer: the root element names the error. */
		code = xstrdup(root->name);
		msg = aws_xml_get(root, "Messages/Message");
		if (!msg)
			msg = aws_xml_get(root, "Message");
	}
	rid = aws_xml_get(root, "RequestId");
	if (!rid)
		rid = aws_xml_get(root, "RequestID");
	if (!code || !*code) {
		rc = BASE_EPARSE;
		goto out;
	}
	if (err) {
		copy(err->code, sizeof(err->code), code);
		copy(err->message, sizeof(err->message), msg);
		if (rid && *rid)
			copy(err->request_id, sizeof(err->request_id), rid);
	}
	rc = 0;
out:
	free(code);
	free(msg);
	free(rid);
	aws_xml_free(doc);
	return rc;
}

/* "com.amazonaws.ecs#ServiceNotFoundException:extra" -> "ServiceNotFoundException". */
static void normalize_type(const char *type, char *out, size_t n)
{
	const char *hash = strrchr(type, '#');
	const char *start = hash ? hash + 1 : type;
	const char *colon = strchr(start, ':');
	size_t len = colon ? (size_t)(colon - start) : strlen(start);

	if (len >= n)
		len = n - 1;
	memcpy(out, start, len);
	out[len] = '\0';
}

int aws_error_decode_json(const char *body, size_t len, const char *header_type,
			  struct aws_error *err)
{
	json_t *root = NULL, *v;
	const char *type = NULL, *msg = NULL;
	char code[128];
	int rc = BASE_EPARSE;

	if (len > AWS_ERROR_MAX_BODY)
		return BASE_ETOOBIG;
	if (body && len)
		root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (root && json_is_object(root)) {
		v = json_object_get(root, "__type");
		if (json_is_string(v))
			type = json_string_value(v);
		v = json_object_get(root, "message");
		if (!json_is_string(v))
			v = json_object_get(root, "Message");
		if (json_is_string(v))
			msg = json_string_value(v);
	}
	if (!type || !*type)
		type = header_type;
	if (!type || !*type)
		goto out;
	normalize_type(type, code, sizeof(code));
	if (!*code)
		goto out;
	if (err) {
		copy(err->code, sizeof(err->code), code);
		copy(err->message, sizeof(err->message), msg);
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}
