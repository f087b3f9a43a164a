/*
 * The AWS call engine. aws_client_do() runs one logical call as a loop of
 * HTTP attempts: resolve the endpoint, fetch credentials, build and sign the
 * header set (host, x-amz-date, content-type, x-amz-target,
 * x-amz-security-token: the only headers signed), perform the exchange on a
 * fresh easy handle attached to the client's share handle, then classify the
 * outcome. Failed attempts are decoded with the service protocol's error
 * decoder and retried per the standard retry mode described in client.h.
 *
 * Credentials are fetched per attempt (the provider caches them), copied into
 * the attempt and wiped right after signing; the Authorization header and the
 * security token live only in the curl header list, which is wiped before it
 * is freed.
 *
 * Connections: libcurl does not support sharing a connection cache between
 * concurrent threads, so the share handle holds only DNS and TLS sessions, and
 * each call borrows an easy handle from a small per-client pool (reset before
 * use, returned after). An easy handle keeps its own idle connections, so
 * consecutive calls reuse them, and no handle is ever used by two threads at
 * once.
 */
#include "pkg/aws/client.h"

#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "pkg/aws/creds.h"
#include "pkg/aws/sigv4.h"
#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"

#define DEFAULT_MAX_RESPONSE (8u << 20)
#define RETRY_COST 5
#define TIMEOUT_RETRY_COST 10
#define NO_RETRY_INCREMENT 1
#define MAX_IDLE_HANDLES 16

const struct aws_service aws_svc_rds = {"rds",		 "RDS",	       "rds", 0,
					AWS_PROTO_QUERY, "2014-10-31", NULL,  NULL};
const struct aws_service aws_svc_sts = {"sts",		 "STS",	       "sts", 0,
					AWS_PROTO_QUERY, "2011-06-15", NULL,  NULL};
const struct aws_service aws_svc_route53 = {"route53",		"ROUTE_53",   "route53", 1,
					    AWS_PROTO_REST_XML, "2013-04-01", NULL,	 NULL};
const struct aws_service aws_svc_ecs = {
	"ecs", "ECS", "ecs", 0, AWS_PROTO_JSON, NULL, "AmazonEC2ContainerServiceV20141113", NULL};
const struct aws_service aws_svc_ssm = {"ssm",		"SSM", "ssm",	    0,
					AWS_PROTO_JSON, NULL,  "AmazonSSM", NULL};
const struct aws_service aws_svc_secretsmanager = {"secretsmanager", "SECRETS_MANAGER",
						   "secretsmanager", 0,
						   AWS_PROTO_JSON,   NULL,
						   "secretsmanager", NULL};
const struct aws_service aws_svc_dynamodb = {
	"dynamodb", "DYNAMODB", "dynamodb", 0, AWS_PROTO_JSON, NULL, "DynamoDB_20120810", "1.0"};

struct aws_client {
	struct aws_client_config cfg;
	char *endpoint_url;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t quota_lock;
	int quota;
	int64_t skew_ms; /* server clock minus ours, learnt from a clock-skew error */
	pthread_mutex_t pool_lock;
	CURL *idle[MAX_IDLE_HANDLES]; /* easy handles not in use, with their connections */
	size_t nidle;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static struct base_metric *requests_total;

static void global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		BUG("curl_global_init failed");
	requests_total =
		base_metric_counter("globaldb_aws_requests_total",
				    "AWS API HTTP requests by service, operation and outcome",
				    "service,operation,code");
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct aws_client *c = userp;

	(void)h;
	(void)access;
	pthread_mutex_lock(&c->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct aws_client *c = userp;

	(void)h;
	pthread_mutex_unlock(&c->share_locks[data]);
}

struct aws_client *aws_client_new(const struct aws_client_config *config)
{
	struct aws_client *c = xcalloc(1, sizeof(*c));

	pthread_once(&global_once, global_init);
	if (config)
		c->cfg = *config;
	if (c->cfg.max_attempts <= 0)
		c->cfg.max_attempts = 3;
	if (c->cfg.retry_base_ms <= 0)
		c->cfg.retry_base_ms = 1000;
	if (c->cfg.retry_cap_ms <= 0)
		c->cfg.retry_cap_ms = 20000;
	if (c->cfg.retry_quota == 0)
		c->cfg.retry_quota = 500;
	if (c->cfg.connect_timeout_ms <= 0)
		c->cfg.connect_timeout_ms = 3000;
	if (c->cfg.attempt_timeout_ms <= 0)
		c->cfg.attempt_timeout_ms = 20000;
	if (c->cfg.call_timeout_ms <= 0)
		c->cfg.call_timeout_ms = 60000;
	if (c->cfg.max_response_bytes == 0)
		c->cfg.max_response_bytes = DEFAULT_MAX_RESPONSE;
	if (config && config->endpoint_url)
		c->endpoint_url = xstrdup(config->endpoint_url);
	c->cfg.endpoint_url = c->endpoint_url;
	c->quota = c->cfg.retry_quota > 0 ? c->cfg.retry_quota : 0;
	pthread_mutex_init(&c->quota_lock, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_locks[i], NULL);
	c->share = curl_share_init();
	if (!c->share)
		BUG("curl_share_init failed");
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	pthread_mutex_init(&c->pool_lock, NULL);
	return c;
}

void aws_client_free(struct aws_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nidle; i++)
		curl_easy_cleanup(c->idle[i]);
	pthread_mutex_destroy(&c->pool_lock);
	curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_locks[i]);
	pthread_mutex_destroy(&c->quota_lock);
	free(c->endpoint_url);
	free(c);
}

int aws_client_retry_tokens(struct aws_client *c)
{
	int n;

	pthread_mutex_lock(&c->quota_lock);
	n = c->quota;
	pthread_mutex_unlock(&c->quota_lock);
	return n;
}

/* Takes cost tokens for a retry; 0 when the quota cannot pay. */
static int quota_take(struct aws_client *c, int cost)
{
	int ok = 0;

	if (c->cfg.retry_quota < 0)
		return 0;
	pthread_mutex_lock(&c->quota_lock);
	if (c->quota >= cost) {
		c->quota -= cost;
		ok = 1;
	}
	pthread_mutex_unlock(&c->quota_lock);
	return ok;
}

static void quota_refund(struct aws_client *c, int n)
{
	if (c->cfg.retry_quota < 0)
		return;
	pthread_mutex_lock(&c->quota_lock);
	c->quota += n;
	if (c->quota > c->cfg.retry_quota)
		c->quota = c->cfg.retry_quota;
	pthread_mutex_unlock(&c->quota_lock);
}

static int valid_region(const char *r)
{
	size_t n = r ? strlen(r) : 0;

	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)r[i]) && !isdigit((unsigned char)r[i]) && r[i] != '-')
			return 0;
	return 1;
}

/* A usable override: http(s)://authority[/path], no userinfo, no query. */
static int valid_override(const char *u)
{
	const char *a;

	if (strncmp(u, "https://", 8) == 0)
		a = u + 8;
	else if (strncmp(u, "http://", 7) == 0)
		a = u + 7;
	else
		return 0;
	if (!*a || *a == '/')
		return 0;
	for (; *a && *a != '/'; a++)
		if (*a == '@' || isspace((unsigned char)*a) || *a == '?' || *a == '#')
			return 0;
	return strpbrk(u, "?# \t\r\n") == NULL;
}

int aws_client_endpoint(struct aws_client *c, const struct aws_service *svc, const char *region,
			char **url, const char **signing_region)
{
	char envname[64];
	const char *override = NULL;
	int cn;

	*url = NULL;
	if (!svc->global && !valid_region(region))
		return BASE_EINVAL;
	if (region && *region && !valid_region(region))
		return BASE_EINVAL;
	cn = region && strncmp(region, "cn-", 3) == 0;
	if (svc->global)
		*signing_region = cn ? "cn-northwest-1" : "us-east-1";
	else
		*signing_region = region;

	snprintf(envname, sizeof(envname), "AWS_ENDPOINT_URL_%s", svc->env_name);
	if (c && c->endpoint_url)
		override = c->endpoint_url;
	else if (getenv(envname) && *getenv(envname))
		override = getenv(envname);
	else if (getenv("AWS_ENDPOINT_URL") && *getenv("AWS_ENDPOINT_URL"))
		override = getenv("AWS_ENDPOINT_URL");
	if (override) {
		size_t n = strlen(override);

		if (!valid_override(override))
			return BASE_EINVAL;
		while (n > 0 && override[n - 1] == '/')
			n--;
		*url = xstrndup(override, n);
		return 0;
	}
	if (svc->global)
		*url = xasprintf("https://%s.amazonaws.com%s", svc->host_prefix, cn ? ".cn" : "");
	else
		*url = xasprintf("https://%s.%s.amazonaws.com%s", svc->host_prefix, region,
				 cn ? ".cn" : "");
	return 0;
}

/* ---- one HTTP exchange ---- */

/* An easy handle for one call: an idle one (reset, connections kept) or a new one. */
static CURL *take_handle(struct aws_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->pool_lock);
	if (c->nidle)
		h = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->pool_lock);
	if (h) {
		curl_easy_reset(h);
		return h;
	}
	h = curl_easy_init();
	if (!h)
		BUG("curl_easy_init failed");
	return h;
}

static void return_handle(struct aws_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_lock);
	if (c->nidle < MAX_IDLE_HANDLES) {
		c->idle[c->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

struct xfer {
	struct base_buf *body;
	int too_big;
	char request_id[96];
	char error_type[128];
	char date[64]; /* the Date header, for clock-skew correction */
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;

	if (base_buf_add(x->body, ptr, n) < 0) {
		x->too_big = 1;
		return 0;
	}
	return n;
}

/* Copies the value of header line "Name: value\r\n" into out when name matches. */
static void header_value(const char *line, size_t n, const char *name, char *out, size_t outn)
{
	size_t nl = strlen(name);
	size_t i, j;

	if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	for (i = nl + 1; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	for (j = n; j > i && (line[j - 1] == '\r' || line[j - 1] == '\n' || line[j - 1] == ' ');
	     j--)
		;
	if (j - i >= outn)
		j = i + outn - 1;
	memcpy(out, line + i, j - i);
	out[j - i] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct xfer *x = userp;
	size_t n = size * nmemb;

	header_value(ptr, n, "x-amzn-RequestId", x->request_id, sizeof(x->request_id));
	header_value(ptr, n, "x-amz-request-id", x->request_id, sizeof(x->request_id));
	header_value(ptr, n, "x-amzn-ErrorType", x->error_type, sizeof(x->error_type));
	header_value(ptr, n, "Date", x->date, sizeof(x->date));
	return n;
}

/* Wipes every header line (they may hold the token or the signature) and frees the list. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		base_memzero(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

enum attempt_kind { ATT_OK, ATT_HTTP_ERROR, ATT_TRANSPORT, ATT_TIMEOUT, ATT_NOT_SENT, ATT_FATAL };

struct attempt {
	enum attempt_kind kind;
	long status;
	int rc;
	char metric_code[128];
	int64_t server_date_ms; /* from the Date header, 0 if absent */
};

/* An RFC 7231 IMF-fixdate ("Fri, 27 Nov 2026 04:27:20 GMT") in Unix ms; 0 if malformed. */
static int64_t http_date_ms(const char *d)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!d || !*d)
		return 0;
	end = strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

/*
 * True for the answers a skewed local clock causes: RequestExpired,
 * RequestTimeTooSkewed, or a signature error saying "Signature expired".
 */
static int clock_skew_error(const struct aws_error *err)
{
	return strcmp(err->code, "RequestExpired") == 0 ||
	       strcmp(err->code, "RequestTimeTooSkewed") == 0 ||
	       ((strcmp(err->code, "SignatureDoesNotMatch") == 0 ||
		 strcmp(err->code, "InvalidSignatureException") == 0) &&
		strstr(err->message, "Signature expired") != NULL);
}

static const char *host_of(const char *url, char *out, size_t n)
{
	const char *a = strstr(url, "://");
	size_t len;

	a = a ? a + 3 : url;
	len = strcspn(a, "/");
	if (len >= n)
		len = n - 1;
	memcpy(out, a, len);
	out[len] = '\0';
	return out;
}

static int perform(struct aws_client *c, const struct aws_request *req, const char *base_url,
		   const char *signing_region, int64_t timeout_ms, struct aws_response *resp,
		   struct aws_error *err, struct attempt *att)
{
	struct aws_creds creds = {0};
	struct curl_slist *hdrs = NULL;
	struct aws_sigv4_header sh[5];
	size_t nsh = 0;
	struct xfer x = {0};
	char host[256], amz_date[17], target[192], errbuf[CURL_ERROR_SIZE];
	char *url = NULL, *sign_path = NULL, *line;
	const char *path = req->path ? req->path : "/";
	CURL *h = NULL;
	CURLcode cc;
	int64_t skew;
	int rc = 0;

	memset(att, 0, sizeof(*att));
	host_of(base_url, host, sizeof(host));
	url = xasprintf("%s%s%s%s", base_url, path, req->query && *req->query ? "?" : "",
			req->query ? req->query : "");
	/* An override may carry a base path ("http://host/prefix"): it is signed too. */
	{
		const char *bp = strchr(strstr(base_url, "://") + 3, '/');

		sign_path = bp ? xasprintf("%s%s", bp, path) : xstrdup(path);
	}
	pthread_mutex_lock(&c->quota_lock);
	skew = c->skew_ms;
	pthread_mutex_unlock(&c->quota_lock);
	aws_sigv4_amz_date((base_now_real_ms() + skew) / 1000, amz_date);
	target[0] = '\0';
	if (req->svc->protocol == AWS_PROTO_JSON)
		snprintf(target, sizeof(target), "%s.%s", req->svc->target_prefix, req->operation);

	sh[nsh++] = (struct aws_sigv4_header){"host", host};
	if (req->content_type)
		sh[nsh++] = (struct aws_sigv4_header){"content-type", req->content_type};
	if (target[0])
		sh[nsh++] = (struct aws_sigv4_header){"x-amz-target", target};

	/* The Host line as signed, rather than whatever libcurl would derive. */
	line = xasprintf("Host: %s", host);
	hdrs = curl_slist_append(hdrs, line);
	free(line);
	if (req->content_type) {
		line = xasprintf("Content-Type: %s", req->content_type);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	if (target[0]) {
		line = xasprintf("X-Amz-Target: %s", target);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");

	if (!req->unsigned_request && c->cfg.creds) {
		struct aws_sigv4_request sreq;
		struct aws_sigv4_key key;
		struct aws_sigv4_result sig;

		rc = aws_creds_provider_get(c->cfg.creds, &creds, err);
		if (rc < 0) {
			att->kind = ATT_FATAL;
			snprintf(att->metric_code, sizeof(att->metric_code), "credentials");
			goto out;
		}
		sh[nsh++] = (struct aws_sigv4_header){"x-amz-date", amz_date};
		if (creds.session_token && *creds.session_token)
			sh[nsh++] = (struct aws_sigv4_header){"x-amz-security-token",
							      creds.session_token};
		sreq = (struct aws_sigv4_request){req->method, sign_path, req->query,	sh,
						  nsh,	       req->body, req->body_len};
		key = (struct aws_sigv4_key){creds.access_key_id, creds.secret_access_key,
					     signing_region, req->svc->signing_name};
		rc = aws_sigv4_sign(&sreq, &key, amz_date, &sig);
		if (rc < 0) {
			aws_error_set(err, 0, "", "cannot sign the request");
			att->kind = ATT_FATAL;
			snprintf(att->metric_code, sizeof(att->metric_code), "signing");
			goto out;
		}
		line = xasprintf("X-Amz-Date: %s", amz_date);
		hdrs = curl_slist_append(hdrs, line);
		free(line);
		if (creds.session_token && *creds.session_token) {
			line = xasprintf("X-Amz-Security-Token: %s", creds.session_token);
			hdrs = curl_slist_append(hdrs, line);
			base_free_secret(line);
		}
		line = xasprintf("Authorization: %s", sig.authorization);
		hdrs = curl_slist_append(hdrs, line);
		base_free_secret(line);
		aws_sigv4_result_release(&sig);
	}

	h = take_handle(c);
	base_buf_init(&resp->body, c->cfg.max_response_bytes);
	x.body = &resp->body;
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "globaldb-controller/" GDB_VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		if (req->body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
		}
	}
	cc = curl_easy_perform(h);
	snprintf(resp->request_id, sizeof(resp->request_id), "%s", x.request_id);
	att->server_date_ms = http_date_ms(x.date);
	if (cc != CURLE_OK) {
		if (x.too_big) {
			aws_error_set(err, 0, "", "response body larger than %zu bytes",
				      c->cfg.max_response_bytes);
			att->kind = ATT_FATAL;
			rc = BASE_ETOOBIG;
			snprintf(att->metric_code, sizeof(att->metric_code), "too_big");
		} else if (cc == CURLE_OPERATION_TIMEDOUT) {
			aws_error_set(err, 0, "", "timeout: %s",
				      errbuf[0] ? errbuf : curl_easy_strerror(cc));
			att->kind = ATT_TIMEOUT;
			rc = BASE_ETIMEDOUT;
			snprintf(att->metric_code, sizeof(att->metric_code), "timeout");
		} else {
			aws_error_set(err, 0, "", "transport: %s",
				      errbuf[0] ? errbuf : curl_easy_strerror(cc));
			att->kind =
				(cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
				 cc == CURLE_COULDNT_RESOLVE_PROXY)
					? ATT_NOT_SENT
					: ATT_TRANSPORT;
			rc = BASE_ETRANSPORT;
			snprintf(att->metric_code, sizeof(att->metric_code), "transport");
		}
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &att->status);
	resp->status = att->status;
	if (att->status >= 200 && att->status < 300) {
		att->kind = ATT_OK;
		snprintf(att->metric_code, sizeof(att->metric_code), "ok");
		goto out;
	}
	/* An AWS error: decode the code with the protocol's decoder. */
	att->kind = ATT_HTTP_ERROR;
	if (err) {
		err->code[0] = err->message[0] = '\0';
		err->http_status = (int)att->status;
		snprintf(err->request_id, sizeof(err->request_id), "%s", x.request_id);
	}
	{
		struct aws_error tmp = {0};
		int drc =
			req->svc->protocol == AWS_PROTO_JSON
				? aws_error_decode_json(resp->body.data, resp->body.len,
							x.error_type[0] ? x.error_type : NULL, &tmp)
				: aws_error_decode_xml(resp->body.data, resp->body.len, &tmp);

		if (drc == 0) {
			snprintf(att->metric_code, sizeof(att->metric_code), "%s", tmp.code);
			if (err) {
				memcpy(err->code, tmp.code, sizeof(err->code));
				memcpy(err->message, tmp.message, sizeof(err->message));
				if (tmp.request_id[0])
					memcpy(err->request_id, tmp.request_id,
					       sizeof(err->request_id));
			}
		} else {
			snprintf(att->metric_code, sizeof(att->metric_code), "http_%ld",
				 att->status);
			if (err)
				snprintf(err->message, sizeof(err->message),
					 "HTTP %ld without a decodable AWS error", att->status);
		}
		rc = aws_error_to_base((int)att->status, drc == 0 ? tmp.code : NULL);
		att->metric_code[sizeof(att->metric_code) - 1] = '\0';
	}
out:
	att->rc = rc;
	if (h) {
		/* Nothing of this call may stay on the handle: the header list dies below. */
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		return_handle(c, h);
	}
	free_headers(hdrs);
	aws_creds_release(&creds);
	free(url);
	free(sign_path);
	return rc;
}

void aws_response_release(struct aws_response *resp)
{
	if (!resp)
		return;
	/* Answers may carry secrets (GetSecretValue, credentials): wipe them. */
	base_memzero(resp->body.data, resp->body.len);
	base_buf_release(&resp->body);
	resp->status = 0;
	resp->request_id[0] = '\0';
}

/* Whether a failed attempt may be retried, and at what quota cost. */
static int retryable(const struct aws_request *req, const struct attempt *att,
		     const struct aws_error *err, int *cost)
{
	*cost = RETRY_COST;
	switch (att->kind) {
	case ATT_NOT_SENT:
		return 1;
	case ATT_TIMEOUT:
		*cost = TIMEOUT_RETRY_COST;
		return !req->not_idempotent;
	case ATT_TRANSPORT:
		return !req->not_idempotent;
	case ATT_HTTP_ERROR:
		if (att->status == 429 || (err && aws_error_is_throttling(err->code)))
			return 1;
		return aws_error_is_transient((int)att->status, err ? err->code : NULL) &&
		       !req->not_idempotent;
	default:
		return 0;
	}
}

int aws_client_do(struct aws_client *c, const struct aws_request *req, struct aws_response *resp,
		  struct aws_error *err)
{
	struct aws_error local;
	char *base_url = NULL;
	const char *signing_region = NULL;
	const struct base_clock *clk = c->cfg.clock;
	struct base_backoff bo = {
		.base_ms = c->cfg.retry_base_ms, .cap_ms = c->cfg.retry_cap_ms, .clock = clk};
	int64_t deadline = base_clock_now_ms(clk) + c->cfg.call_timeout_ms;
	int attempts = 0, last_cost = 0, refreshed = 0, reskewed = 0, rc;

	memset(resp, 0, sizeof(*resp));
	base_buf_init(&resp->body, c->cfg.max_response_bytes);
	if (!err)
		err = &local;
	aws_error_clear(err);
	rc = aws_client_endpoint(c, req->svc, req->region, &base_url, &signing_region);
	if (rc < 0) {
		aws_error_set(err, 0, "", "invalid region or endpoint override for %s",
			      req->svc->signing_name);
		return rc;
	}
	for (;;) {
		struct attempt att;
		int64_t remaining = deadline - base_clock_now_ms(clk);
		int64_t timeout = c->cfg.attempt_timeout_ms;
		int cost;

		if (remaining < timeout)
			timeout = remaining > 1 ? remaining : 1;
		aws_response_release(resp);
		rc = perform(c, req, base_url, signing_region, timeout, resp, err, &att);
		attempts++;
		err->attempts = attempts;
		base_metric_add(requests_total, 1, req->svc->signing_name, req->operation,
				att.metric_code);
		if (att.kind == ATT_OK) {
			quota_refund(c, last_cost ? last_cost : NO_RETRY_INCREMENT);
			aws_error_clear(err);
			err->attempts = attempts;
			rc = 0;
			break;
		}
		if (att.kind == ATT_HTTP_ERROR && clock_skew_error(err) && att.server_date_ms &&
		    !reskewed) {
			/* Our clock is off: sign with the server's notion of now, once. */
			pthread_mutex_lock(&c->quota_lock);
			c->skew_ms = att.server_date_ms - base_now_real_ms();
			pthread_mutex_unlock(&c->quota_lock);
			reskewed = 1;
			continue;
		}
		if (att.kind == ATT_HTTP_ERROR && aws_error_is_expired_token(err->code) &&
		    c->cfg.creds && !refreshed) {
			/* Stale temporary credentials: drop them and try once more. */
			aws_creds_provider_expire(c->cfg.creds);
			refreshed = 1;
			continue;
		}
		if (!retryable(req, &att, err, &cost))
			break;
		if (attempts >= c->cfg.max_attempts) {
			size_t l = strlen(err->message);

			snprintf(err->message + l, sizeof(err->message) - l,
				 " (gave up after %d attempts)", attempts);
			break;
		}
		if (!quota_take(c, cost)) {
			size_t l = strlen(err->message);

			snprintf(err->message + l, sizeof(err->message) - l,
				 " (retry budget spent after %d attempts)", attempts);
			break;
		}
		last_cost = cost;
		{
			int64_t delay = base_backoff_next(&bo);

			if (base_clock_now_ms(clk) + delay >= deadline) {
				size_t l = strlen(err->message);

				snprintf(err->message + l, sizeof(err->message) - l,
					 " (call deadline reached after %d attempts)", attempts);
				break;
			}
			base_clock_sleep_ms(clk, delay);
		}
	}
	free(base_url);
	if (rc < 0)
		aws_response_release(resp);
	return rc;
}

/* ---- plain HTTP for the credential providers ---- */

int aws_http_simple(const char *method, const char *url, const char *const *headers,
		    const char *body, int64_t timeout_ms, size_t max_body, long *status,
		    struct base_buf *out)
{
	struct curl_slist *hdrs = NULL;
	struct xfer x = {0};
	CURL *h;
	CURLcode cc;
	int rc = 0;

	pthread_once(&global_once, global_init);
	*status = 0;
	base_buf_init(out, max_body);
	x.body = out;
	for (size_t i = 0; headers && headers[i]; i++)
		hdrs = curl_slist_append(hdrs, headers[i]);
	hdrs = curl_slist_append(hdrs, "Expect:");
	h = curl_easy_init();
	if (!h)
		BUG("curl_easy_init failed");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "globaldb-controller/" GDB_VERSION);
	if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = x.too_big			      ? BASE_ETOOBIG
		     : cc == CURLE_OPERATION_TIMEDOUT ? BASE_ETIMEDOUT
						      : BASE_ETRANSPORT;
		base_buf_release(out);
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	}
	curl_easy_cleanup(h);
	free_headers(hdrs);
	return rc;
}
