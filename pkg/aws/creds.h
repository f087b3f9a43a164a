/*
 * creds.h - AWS credentials: the SDKs' default provider chain, cached and
 * refreshed before expiry.
 *
 * The chain (docs/aws-protocols.md §6.1, botocore's order), first match wins:
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 *      [+ AWS_SESSION_TOKEN, AWS_CREDENTIAL_EXPIRATION]; a key id without a
 *      secret is an error, not a fall-through;
 *   2. an assume-role profile: role_arn + source_profile (static keys, or
 *      another profile, up to 4 deep) or credential_source=Environment ->
 *      STS AssumeRole, signed with the source credentials;
 *   3. web identity: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (or the
 *      profile's role_arn + web_identity_token_file) -> unsigned STS
 *      AssumeRoleWithWebIdentity at the regional endpoint; the token file is
 *      re-read at every refresh;
 *   4. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
 *      ~/.aws/credentials, section [NAME]), then the config file
 *      (AWS_CONFIG_FILE, default ~/.aws/config, section [profile NAME] or
 *      [default]); the profile is AWS_PROFILE, else AWS_DEFAULT_PROFILE,
 *      else "default";
 *   5. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 *      (http://169.254.170.2 + value) or AWS_CONTAINER_CREDENTIALS_FULL_URI
 *      (https, or a loopback / 169.254.170.2 / 169.254.170.23 / fd00:ec2::23
 *      host; a URI with userinfo, "http://127.0.0.1@other/", is refused),
 *      with Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
 *      (re-read at every fetch) or AWS_CONTAINER_AUTHORIZATION_TOKEN; a
 *      token with a line break is refused;
 *   6. IMDSv2 (unless AWS_EC2_METADATA_DISABLED=true): PUT a session token,
 *      GET the role name, GET the role's credentials, at
 *      AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254
 *      (http://[fd00:ec2::254] with ..._ENDPOINT_MODE=IPv6). IMDSv1 is not
 *      used; a session token with a line break is refused.
 * The chain picks its source on first use and keeps it; later refreshes go
 * to the same source.
 *
 * Refresh. Credentials that expire are refreshed in the background by one
 * thread per chain provider (started by the first get), so no AWS call waits
 * for STS, the container endpoint or IMDS while it holds valid credentials:
 *  - the refresh is due 15 min before expiry (botocore's advisory window),
 *    or halfway to expiry for credentials that live less than 30 min;
 *  - a failed refresh is retried with backoff (1 s, doubling to 60 s, up to
 *    20% jitter) until one works; meanwhile callers keep the cached
 *    credentials up to their expiry time (botocore's 10 min "mandatory"
 *    window, in which it blocks every call and then refuses still-valid
 *    credentials, is deliberately not copied);
 *  - only expired credentials (or none yet, or dropped after an ExpiredToken
 *    answer) make a caller wait, for one refresh shared by every waiting
 *    caller and started at once whatever the backoff; if it fails, the call
 *    fails with its error;
 *  - keys that arrive already expired (a skewed clock) are handed out, and
 *    the next fetch waits for the backoff instead of following at once;
 *  - STS calls for credentials have short budgets (5 s an attempt, 15 s a
 *    call), the container endpoint 3 attempts of http_timeout_ms.
 * Static providers have no thread and never refresh.
 * Each fetch is counted in globaldb_aws_credential_refreshes_total{source,
 * result="ok"|"error"}.
 *
 * Secrets: no function here logs, and error messages never include key
 * material or tokens. Secret strings are wiped when released.
 *
 * Thread-safe: a short per-provider lock guards the cache; callers copy the
 * credentials out under it and never hold it across network I/O.
 * aws_creds_provider_get hands out a private copy.
 *
 * Implemented in creds.c (the provider and its refresher) and
 * creds_sources.c (the chain's sources, behind creds_int.h).
 */
#ifndef AWS_CREDS_H
#define AWS_CREDS_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/aws/error.h"

struct base_clock;

struct aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;   /* NULL for long-term keys */
	int64_t expiration_ms; /* Unix ms; 0 = does not expire */
};

/* Wipes and frees the strings; c is left zeroed. NULL is fine. */
void aws_creds_release(struct aws_creds *c);
/* Deep copy of src into *dst. */
void aws_creds_copy(struct aws_creds *dst, const struct aws_creds *src);

struct aws_creds_options {
	const char
		*region; /* region for STS calls; NULL -> AWS_REGION, AWS_DEFAULT_REGION, profile */
	const char *profile;	 /* NULL -> AWS_PROFILE / AWS_DEFAULT_PROFILE / "default" */
	int64_t http_timeout_ms; /* container / IMDS attempt timeout; 0 -> 1000 (IMDS), 2000 */
	/*
	 * Refresh timing and backoff jitter; borrowed; NULL = the real clocks.
	 * With a clock, wall time (what expiry is compared with) is the real
	 * wall clock at creation plus the clock's elapsed time (tests: virtual).
	 */
	const struct base_clock *clock;
};

struct aws_creds_provider;

/* The default chain. opts may be NULL. Strings are copied. */
struct aws_creds_provider *aws_creds_provider_new_chain(const struct aws_creds_options *opts);
/* Fixed credentials (copied; token may be NULL). */
struct aws_creds_provider *aws_creds_provider_new_static(const char *access_key_id,
							 const char *secret_access_key,
							 const char *session_token);
/* Stops the refresher thread (waiting for a fetch in flight, within its budget). NULL is fine. */
void aws_creds_provider_free(struct aws_creds_provider *p);

/*
 * Current credentials into *out (caller releases with aws_creds_release).
 * Valid cached credentials are returned at once (a due refresh is started in
 * the background); with none, or expired ones, waits for a refresh (see
 * "Refresh" above). 0, or a base code with err filled:
 * BASE_ENOTFOUND when no source in the chain has credentials,
 * BASE_EINVAL for a broken configuration (partial environment keys, a
 * missing profile, a refused container URI), or the STS/HTTP failure.
 */
int aws_creds_provider_get(struct aws_creds_provider *p, struct aws_creds *out,
			   struct aws_error *err);
/* Forgets the cached credentials (after an ExpiredToken reply): the next get waits for a refresh. */
void aws_creds_provider_expire(struct aws_creds_provider *p);

struct aws_creds_stats {
	int refreshing;		 /* a fetch is requested or in flight */
	uint64_t attempts;	 /* fetches finished, the first resolution included */
	uint64_t failures;	 /* of which failed */
	int64_t expiration_ms;	 /* of the cached credentials; 0 = none or no expiry */
	int64_t next_refresh_ms; /* wall ms the next background fetch may start; 0 = none */
};
/* A snapshot of the refresh state (tests, status). */
void aws_creds_provider_stats(struct aws_creds_provider *p, struct aws_creds_stats *out);
/* The chosen source ("environment", "assume-role", "web-identity", "profile",
 * "container", "imds", "static"), or "none" before the first success. */
const char *aws_creds_provider_source(struct aws_creds_provider *p);

/*
 * Decodes a container-credentials or IMDS answer ({"AccessKeyId",
 * "SecretAccessKey", "Token", "Expiration"}) from len untrusted bytes into
 * *out (caller releases). what names the source in err. 0 or BASE_EPARSE.
 */
int aws_creds_decode_json(const char *body, size_t len, const char *what, struct aws_creds *out,
			  struct aws_error *err);

#endif
