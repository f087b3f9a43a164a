/*
 * sigv4.h - AWS Signature Version 4, computed with OpenSSL.
 *
 * The signer is a pure function of its inputs: it signs exactly the headers it
 * is given (the caller decides what to sign and adds X-Amz-Date and, for
 * temporary credentials, X-Amz-Security-Token to the request before signing),
 * at the time it is given. That keeps it testable against the official
 * sigv4-test-suite vectors, and keeps libcurl's housekeeping headers (Expect,
 * Accept, Content-Length, User-Agent) out of the signature (docs/aws-protocols.md §8).
 *
 * Canonicalisation is the one for every service but S3: the path is normalised
 * (".", "..", "//" resolved) and percent-encoded; the query is decoded,
 * re-encoded strictly and sorted; header values are trimmed and their inner
 * whitespace collapsed; repeated header names are joined with ',' in order.
 *
 * The secret key is read only to derive the signing key, which is wiped
 * before return. No output contains it. Thread-safe (no shared state).
 */
#ifndef AWS_SIGV4_H
#define AWS_SIGV4_H

#include <stddef.h>
#include <stdint.h>

struct aws_sigv4_header {
	const char *name;  /* any case */
	const char *value; /* raw value; trimmed and collapsed when signed */
};

struct aws_sigv4_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* raw path as sent, without the query ("/" if empty) */
	const char *query;  /* raw query after '?', or NULL/"" */
	const struct aws_sigv4_header *headers; /* every header to sign (host included) */
	size_t nheaders;
	const void *body; /* the exact body bytes sent (NULL with body_len 0) */
	size_t body_len;
};

struct aws_sigv4_key {
	const char *access_key_id;
	const char *secret_access_key;
	const char *region;  /* signing region, e.g. "us-east-1" */
	const char *service; /* signing name, e.g. "rds" */
};

struct aws_sigv4_result {
	char *authorization;	 /* the Authorization header value */
	char *canonical_request; /* for tests and SignatureDoesNotMatch diagnostics */
	char *string_to_sign;
};

/* "20150830T123600Z" for the Unix time t; out must hold 17 bytes. */
void aws_sigv4_amz_date(int64_t unix_s, char out[17]);

/*
 * Signs req with key at amz_date ("YYYYMMDDTHHMMSSZ", which must equal the
 * request's X-Amz-Date header). Fills *out (release with
 * aws_sigv4_result_release). 0, or BASE_EINVAL for a malformed input (bad
 * date, missing method).
 */
int aws_sigv4_sign(const struct aws_sigv4_request *req, const struct aws_sigv4_key *key,
		   const char *amz_date, struct aws_sigv4_result *out);
void aws_sigv4_result_release(struct aws_sigv4_result *r);

/*
 * Query-string presigning (docs/aws-protocols.md §7.3): returns a newly allocated URL
 * "<scheme_host><path>?<canonical query>&X-Amz-Signature=<hex>" where the
 * query carries query_params (already a raw query string, may be NULL) plus
 * X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders=host and, when session_token is non-NULL,
 * X-Amz-Security-Token. host is the Host header value. Caller frees *url.
 */
int aws_sigv4_presign(const char *method, const char *scheme_host, const char *host,
		      const char *path, const char *query_params, const struct aws_sigv4_key *key,
		      const char *session_token, const char *amz_date, int expires_s, char **url);

/* Appends s percent-encoded (unreserved set only, uppercase hex) to out. */
struct base_buf;
int aws_uri_encode(struct base_buf *out, const char *s, size_t n, int keep_slash);

/* Lower-case hex SHA-256 of data; out holds 65 bytes. */
void aws_sha256_hex(const void *data, size_t n, char out[65]);

#endif
