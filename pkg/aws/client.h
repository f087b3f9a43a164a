/*
 * client.h - one AWS API session: endpoints, signing, retries, timeouts and
 * metrics, shared by every service module (rds, route53, ecs, ssm,
 * secretsmanager, sts, dynamodb).
 *
 * A client is not bound to a region: each call names the region it goes to,
 * because the controller talks to several regions with one set of
 * credentials. Endpoints are https://<service>.<region>.amazonaws.com (or the
 * global Route 53 host), unless overridden, as the SDKs do, by
 * AWS_ENDPOINT_URL_<SERVICE> (RDS, STS, ROUTE_53, ECS, SSM, SECRETS_MANAGER,
 * DYNAMODB)
 * or AWS_ENDPOINT_URL, read at every call, or by config.endpoint_url. Only
 * such an override may be http://; TLS verification is always on for https.
 * With an override the request is still signed with the real service name
 * and region.
 *
 * Retries follow the SDKs' "standard" mode: throttling codes, HTTP
 * 500/502/503/504, transient codes and transport errors are retried up to
 * max_attempts in total, after a full-jitter exponential backoff delay
 * (random(0, min(cap, base * 2^i))). A retry costs tokens from a quota shared
 * by the client (5, or 10 after a timeout); a success refunds the cost (or 1
 * token when it needed no retry). When the quota cannot pay, the call fails at
 * once with the last error and err->message says the retry budget is spent.
 * Operations marked not-idempotent (every RDS call that changes something:
 * failover, switchover, remove from a global cluster, create, delete, copy)
 * are not retried after a timeout, a transport error or a transient 5xx once
 * the request may have been sent.
 * An ExpiredToken answer makes the client drop its cached credentials and try
 * once more. A clock-skew answer (RequestExpired, RequestTimeTooSkewed,
 * "Signature expired") makes the client learn the offset from the answer's
 * Date header, sign with it from then on, and try once more.
 *
 * Every HTTP attempt is counted in
 * globaldb_aws_requests_total{service,operation,code}, where code is "ok", the
 * AWS error code, "http_<status>" when none was decoded, or "transport" /
 * "timeout".
 *
 * Thread-safe: calls may run concurrently from many threads. Each call
 * borrows a libcurl easy handle from the client's pool (so consecutive calls
 * reuse its kept-alive connections, and no handle is shared by two threads at
 * once); DNS and TLS sessions are shared through a lock-protected share
 * handle. aws_client_free must not run while calls are in flight.
 */
#ifndef AWS_CLIENT_H
#define AWS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/aws/error.h"
#include "pkg/base/buf.h"
#include "pkg/base/timeutil.h"

struct aws_creds_provider;

struct aws_client_config {
	struct aws_creds_provider *creds; /* borrowed, must outlive the client; NULL = unsigned */
	int max_attempts;		  /* total HTTP attempts per call; 0 -> 3 */
	int64_t retry_base_ms;		  /* backoff base; 0 -> 1000 */
	int64_t retry_cap_ms;		  /* backoff cap; 0 -> 20000 */
	int retry_quota;	    /* retry token bucket capacity; 0 -> 500, < 0 -> no retries */
	int64_t connect_timeout_ms; /* 0 -> 3000 */
	int64_t attempt_timeout_ms; /* one HTTP exchange; 0 -> 20000 */
	int64_t call_timeout_ms;    /* whole call including retries; 0 -> 60000 */
	size_t max_response_bytes;  /* response body cap; 0 -> 8 MiB */
	const char *endpoint_url; /* copied; overrides every service (tests); NULL = env/default */
	/* Deadlines, backoff sleeps and jitter; borrowed; NULL = the real clock (tests: virtual). */
	const struct base_clock *clock;
};

struct aws_client;

/* A new client (caller frees with aws_client_free). Initialises libcurl once. */
struct aws_client *aws_client_new(const struct aws_client_config *config);
void aws_client_free(struct aws_client *c);

/* Tokens left in the retry quota (for tests and status). */
int aws_client_retry_tokens(struct aws_client *c);

/* ---- used by the service modules ---- */

enum aws_protocol { AWS_PROTO_QUERY, AWS_PROTO_REST_XML, AWS_PROTO_JSON };

struct aws_service {
	const char *signing_name; /* "rds" */
	const char *env_name;	  /* suffix of AWS_ENDPOINT_URL_<...>: "RDS", "ROUTE_53" */
	const char *host_prefix;  /* "rds" -> rds.<region>.amazonaws.com */
	int global;		  /* one endpoint for all regions, signed as us-east-1 (Route 53) */
	enum aws_protocol protocol;
	const char *api_version;   /* awsQuery Version */
	const char *target_prefix; /* awsJson X-Amz-Target prefix */
	const char *json_version;  /* awsJson "1.0" (DynamoDB); NULL = "1.1" */
};

extern const struct aws_service aws_svc_rds, aws_svc_sts, aws_svc_route53, aws_svc_ecs, aws_svc_ssm,
	aws_svc_secretsmanager, aws_svc_dynamodb;

struct aws_request {
	const struct aws_service *svc;
	const char *operation;	  /* "DescribeDBClusters" (metrics, X-Amz-Target) */
	const char *region;	  /* required except for global services */
	const char *method;	  /* "POST" / "GET" */
	const char *path;	  /* "/" or a restXml path (already percent-encoded) */
	const char *query;	  /* canonical query (sorted, encoded) or NULL */
	const char *content_type; /* NULL = none */
	const char *body;	  /* NULL = empty */
	size_t body_len;
	int unsigned_request; /* STS AssumeRoleWithWebIdentity */
	int not_idempotent;   /* never retried after a timeout / transport error */
};

struct aws_response {
	long status;
	struct base_buf body; /* capped by max_response_bytes */
	char request_id[96];
};

/*
 * Performs req with signing, retries and metrics. On success (HTTP 2xx) fills
 * *resp (release with aws_response_release) and returns 0. On failure returns
 * the base code (aws_error_to_base for AWS errors; BASE_ETRANSPORT,
 * BASE_ETIMEDOUT, BASE_ETOOBIG, BASE_EINVAL for a bad region or endpoint) and
 * fills err (may be NULL); *resp is then released.
 */
int aws_client_do(struct aws_client *c, const struct aws_request *req, struct aws_response *resp,
		  struct aws_error *err);
void aws_response_release(struct aws_response *resp);

/*
 * The endpoint base URL ("https://rds.eu-west-1.amazonaws.com", no trailing
 * slash) and signing region for svc in region. Caller frees *url. 0 or
 * BASE_EINVAL (bad region name, or an http:// URL that is not an override).
 */
int aws_client_endpoint(struct aws_client *c, const struct aws_service *svc, const char *region,
			char **url, const char **signing_region);

/*
 * A plain HTTP exchange without signing or AWS error decoding, for the
 * credential providers (container endpoint, IMDS). headers: NULL-terminated
 * "Name: value" lines (may be NULL). The body is capped at max_body. Returns 0
 * with *status set for any HTTP answer, BASE_ETRANSPORT / BASE_ETIMEDOUT /
 * BASE_ETOOBIG otherwise.
 */
int aws_http_simple(const char *method, const char *url, const char *const *headers,
		    const char *body, int64_t timeout_ms, size_t max_body, long *status,
		    struct base_buf *out);

#endif
