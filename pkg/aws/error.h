/*
 * error.h - the decoded AWS error of a failed call, and its mapping onto
 * base error codes.
 *
 * Every aws_* call that talks to AWS takes an optional struct aws_error *err.
 * On failure it is filled with what the caller needs to log or decide: the
 * HTTP status (0 when none arrived), the AWS error code exactly as on the wire
 * (e.g. "DBClusterNotFoundFault", "Throttling", "ServiceNotFoundException"),
 * the server's message, the request id and the number of attempts made. No
 * field ever carries credential material: messages come from the server or
 * from this package, never from a request.
 *
 * The fixed-size fields are truncated copies; the struct needs no release.
 */
#ifndef AWS_ERROR_H
#define AWS_ERROR_H

#include <stddef.h>

struct aws_error {
	int http_status;     /* 0 if no HTTP response */
	int attempts;	     /* HTTP attempts made for the call */
	char code[128];	     /* wire error code, "" if none */
	char message[512];   /* human-readable, from the server or this package */
	char request_id[96]; /* x-amzn-RequestId or <RequestId>, "" if none */
};

/* Empties err (NULL is fine). */
void aws_error_clear(struct aws_error *err);
/* Sets err's code and message (NULL is fine); message is printf-style. */
void aws_error_set(struct aws_error *err, int http_status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * The base error code for a decoded AWS error: ENOTFOUND for the *NotFound*
 * family, EEXIST for *AlreadyExists*, ETHROTTLED for throttling codes,
 * EFORBIDDEN for AccessDenied, EUNAUTHORIZED for signature / token problems,
 * ECONFLICT for Invalid*State* faults and DynamoDB's
 * ConditionalCheckFailedException, EINVAL for validation codes, ESERVER
 * for 5xx, EINTERNAL otherwise.
 */
int aws_error_to_base(int http_status, const char *code);

/* True for the codes the SDKs' standard retry mode retries as throttling. */
int aws_error_is_throttling(const char *code);
/* True for codes and statuses retried as transient (5xx, RequestTimeout, ...). */
int aws_error_is_transient(int http_status, const char *code);
/* True for ExpiredToken / ExpiredTokenException (refresh credentials, retry once). */
int aws_error_is_expired_token(const char *code);

/*
 * Decoders of error bodies. Each fills err->code, err->message and, when
 * present, err->request_id from body (len bytes, untrusted). Return 0 when a
 * code was found, BASE_EPARSE otherwise (err is then left with http_status and
 * a generic message by the caller).
 *  - XML: <ErrorResponse><Error><Code/><Message/></Error><RequestId/></ErrorResponse>,
 *    also <Response><Errors><Error>...; when the root is something else, its
 *    name is the code (old Route 53 answers).
 *  - JSON: {"__type": "ns#Code:extra", "message"|"Message": "..."}; the code is
 *    normalised to the text after the last '#' and before the first ':'.
 *    header_type, if non-NULL, is x-amzn-ErrorType and used when __type is absent.
 */
int aws_error_decode_xml(const char *body, size_t len, struct aws_error *err);
int aws_error_decode_json(const char *body, size_t len, const char *header_type,
			  struct aws_error *err);

#endif
