/*
 * The REST client. A request borrows an easy handle from the client's pool,
 * resets its options (curl_easy_reset keeps the connection and TLS session
 * caches), applies TLS and credentials from the config, and collects the body
 * into a capped buffer. Success bodies are parsed as JSON; failure bodies are
 * decoded as a Status. Retry-After is read from the response headers.
 *
 * A watch runs the same way but streams: the write callback looks at the
 * HTTP code once headers are in, feeds 200 bodies to the watch decoder and
 * collects anything else as an error body. Stopping uses the transfer
 * progress callback, which libcurl calls at least once a second even when no
 * data flows.
 */
#include "pkg/kube/rest.h"

#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"

#define ERROR_BODY_MAX (1u << 20) /* a watch's non-200 body */

const struct kube_resource kube_res_configmaps = {"", "v1", "configmaps", 1};
const struct kube_resource kube_res_namespaces = {"", "v1", "namespaces", 0};
const struct kube_resource kube_res_leases = {"coordination.k8s.io", "v1", "leases", 1};
const struct kube_resource kube_res_events = {"events.k8s.io", "v1", "events", 1};
const struct kube_resource kube_res_crds = {"apiextensions.k8s.io", "v1",
					    "customresourcedefinitions", 0};

struct kube_client {
	struct kube_config *cfg;
	char *host; /* metrics label: host[:port] of the server */
	char *user_agent;
	int64_t timeout_ms;
	pthread_mutex_t mu; /* guards the pool */
	CURL *pool[KUBE_HANDLE_POOL];
	int npool;
};

static _Thread_local int64_t thread_timeout_ms;

void kube_set_thread_timeout(int64_t ms)
{
	thread_timeout_ms = ms > 0 ? ms : 0;
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static struct base_metric *m_requests, *m_duration;

static void global_init(void)
{
	static const double buckets[] = {0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60};

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		BUG("curl_global_init failed");
	m_requests = base_metric_counter("rest_client_requests_total",
					 "Number of HTTP requests, partitioned by status code, "
					 "method, and host.",
					 "code,method,host");
	m_duration =
		base_metric_histogram("rest_client_request_duration_seconds",
				      "Request latency in seconds. Broken down by verb, and host.",
				      "verb,host", buckets, ARRAY_SIZE(buckets));
}

int kube_client_new(struct kube_config *cfg, const struct kube_client_opts *opts,
		    struct kube_client **out)
{
	struct kube_client *c;
	const char *s = kube_config_server(cfg), *p;

	pthread_once(&global_once, global_init);
	c = xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	p = strstr(s, "://");
	p = p ? p + 3 : s;
	c->host = xstrndup(p, strcspn(p, "/"));
	c->user_agent =
		xstrdup(opts && opts->user_agent ? opts->user_agent : "globaldb-controller");
	c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : KUBE_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->mu);
	kube_config_free(c->cfg);
	free(c->host);
	free(c->user_agent);
	free(c);
}

struct kube_config *kube_client_config(struct kube_client *c)
{
	return c->cfg;
}

static CURL *handle_get(struct kube_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->npool > 0)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->mu);
	if (!h)
		h = curl_easy_init();
	if (!h)
		BUG("curl_easy_init failed");
	return h;
}

static void handle_put(struct kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->npool < KUBE_HANDLE_POOL) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

char *kube_path(const struct kube_resource *res, const char *ns, const char *name, const char *sub)
{
	struct base_buf b = BASE_BUF_INIT(0);

	if (!res->group || !*res->group)
		base_buf_addf(&b, "/api/%s", res->version);
	else
		base_buf_addf(&b, "/apis/%s/%s", res->group, res->version);
	if (res->namespaced && ns && *ns)
		base_buf_addf(&b, "/namespaces/%s", ns);
	base_buf_addf(&b, "/%s", res->resource);
	if (name && *name)
		base_buf_addf(&b, "/%s", name);
	if (sub && *sub)
		base_buf_addf(&b, "/%s", sub);
	return base_buf_detach(&b, NULL);
}

/* Appends "&key=escaped(value)" (or "?" first) when value is non-empty. */
static void add_query(struct base_buf *b, const char *key, const char *value)
{
	char *esc;

	if (!value || !*value)
		return;
	esc = curl_easy_escape(NULL, value, 0);
	if (!esc)
		BUG("curl_easy_escape failed");
	base_buf_addf(b, "%c%s=%s", strchr(b->data, '?') ? '&' : '?', key, esc);
	curl_free(esc);
}

struct xfer {
	struct base_buf body;
	int retry_after_s;
	/* watch only */
	CURL *h;
	struct kube_watch_decoder *dec;
	long code;
	const atomic_int *stop;
	int stopped;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (base_buf_add(&x->body, ptr, n) < 0)
		return 0; /* over the cap: abort */
	return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && !strncasecmp(ptr, name, sizeof(name) - 1)) {
		char tmp[32];
		size_t len = n - (sizeof(name) - 1);
		char *end;
		long v;

		if (len >= sizeof(tmp))
			len = sizeof(tmp) - 1;
		memcpy(tmp, ptr + sizeof(name) - 1, len);
		tmp[len] = '\0';
		v = strtol(tmp, &end, 10);
		/* Only delta-seconds; an HTTP date is ignored (the apiserver sends seconds). */
		if (end != tmp && v > 0)
			x->retry_after_s = v > 3600 ? 3600 : (int)v;
	}
	return n;
}

static const char *content_type_of(enum kube_patch_type t)
{
	switch (t) {
	case KUBE_PATCH_MERGE:
		return "application/merge-patch+json";
	case KUBE_PATCH_JSON:
		return "application/json-patch+json";
	case KUBE_PATCH_STRATEGIC:
		return "application/strategic-merge-patch+json";
	case KUBE_PATCH_APPLY:
		return "application/apply-patch+yaml";
	}
	return "application/json";
}

static void local_error(struct kube_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void local_error(struct kube_status *st, const char *fmt, ...)
{
	va_list ap;

	if (!st)
		return;
	kube_status_clear(st);
	va_start(ap, fmt);
	vsnprintf(st->message, sizeof(st->message), fmt, ap);
	va_end(ap);
}

static int curl_to_err(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return BASE_ETIMEDOUT;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED: /* a Content-Length over the cap: refused before the body */
		return BASE_ETOOBIG;
	default:
		return BASE_ETRANSPORT;
	}
}

/* Options common to every request. Returns the header list to free after the transfer. */
static int setup(struct kube_client *c, CURL *h, const char *method, const char *path_query,
		 const char *content_type, struct xfer *x, struct curl_slist **headers,
		 struct kube_status *st)
{
	char *url, *msg = NULL;
	int rc;

	curl_easy_reset(h);
	*headers = curl_slist_append(NULL, "Accept: application/json");
	*headers = curl_slist_append(*headers, "Expect:");
	if (content_type) {
		char *ct = xasprintf("Content-Type: %s", content_type);

		*headers = curl_slist_append(*headers, ct);
		free(ct);
	}
	rc = kube_config_apply(c->cfg, h, headers, &msg);
	if (rc < 0) {
		local_error(st, "%s", msg);
		free(msg);
		return rc;
	}
	url = xasprintf("%s%s", kube_config_server(c->cfg), path_query);
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)KUBE_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	return 0;
}

static void record(struct kube_client *c, const char *method, long code, int64_t start_ns)
{
	char codebuf[32];

	if (code > 0)
		snprintf(codebuf, sizeof(codebuf), "%ld", code);
	else
		snprintf(codebuf, sizeof(codebuf), "<error>");
	base_metric_add(m_requests, 1, codebuf, method, c->host);
	base_metric_observe(m_duration, (double)(base_now_mono_ns() - start_ns) / 1e9, method,
			    c->host);
}

static int do_request(struct kube_client *c, const char *method, const char *path_query,
		      const char *content_type, const char *body, json_t **out,
		      struct kube_status *st)
{
	struct xfer x;
	int rc = 0;

	if (out)
		*out = NULL;
	kube_status_clear(st);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct curl_slist *headers = NULL;
		CURL *h = handle_get(c);
		int64_t start = base_now_mono_ns();
		long code = 0;
		CURLcode cc;

		memset(&x, 0, sizeof(x));
		base_buf_init(&x.body, KUBE_MAX_RESPONSE_BYTES);
		rc = setup(c, h, method, path_query, body ? content_type : NULL, &x, &headers, st);
		if (rc < 0) {
			curl_slist_free_all(headers);
			handle_put(c, h);
			base_buf_release(&x.body);
			return rc;
		}
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)KUBE_MAX_RESPONSE_BYTES);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
				 (long)(thread_timeout_ms > 0 && thread_timeout_ms < c->timeout_ms
						? thread_timeout_ms
						: c->timeout_ms));
		if (thread_timeout_ms > 0 && thread_timeout_ms < KUBE_CONNECT_TIMEOUT_MS)
			curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)thread_timeout_ms);
		if (body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		}
		cc = curl_easy_perform(h);
		if (cc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		record(c, method, code, start);
		curl_slist_free_all(headers);
		handle_put(c, h);
		if (cc != CURLE_OK) {
			rc = curl_to_err(cc);
			local_error(st, "%s %s: %s", method, path_query,
				    rc == BASE_ETOOBIG ? "response larger than its cap"
						       : curl_easy_strerror(cc));
			break;
		}
		if (code == 401 && attempt == 0) {
			/* Rotated token or expired exec credential: refresh and retry once. */
			kube_config_invalidate(c->cfg);
			base_buf_release(&x.body);
			continue;
		}
		if (code >= 200 && code < 300) {
			if (out) {
				json_error_t jerr;

				*out = json_loadb(x.body.data, x.body.len, 0, &jerr);
				if (!*out) {
					rc = BASE_EPARSE;
					local_error(st, "%s %s: response is not JSON: %s", method,
						    path_query, jerr.text);
				}
			}
			break;
		}
		if (st)
			st->retry_after_s = x.retry_after_s;
		rc = kube_status_decode((int)code, x.body.data, x.body.len, st);
		break;
	}
	base_buf_release(&x.body);
	return rc;
}

int kube_request(struct kube_client *c, const char *method, const char *path_query,
		 const char *content_type, json_t *body, json_t **out, struct kube_status *st)
{
	char *s = NULL;
	int rc;

	if (body) {
		s = json_dumps(body, JSON_COMPACT);
		if (!s) {
			local_error(st, "body cannot be serialized");
			return BASE_EINVAL;
		}
	}
	rc = do_request(c, method, path_query, content_type ? content_type : "application/json", s,
			out, st);
	free(s);
	return rc;
}

/* A path segment must not be able to change the URL's shape. */
static int bad_segment(const char *s)
{
	return strpbrk(s, "/?%#&") != NULL || !strcmp(s, ".") || !strcmp(s, "..");
}

static int check_ns(const char *ns, struct kube_status *st)
{
	if (ns && bad_segment(ns)) {
		local_error(st, "invalid namespace");
		return BASE_EINVAL;
	}
	return 0;
}

static int check_name(const char *ns, const char *name, struct kube_status *st)
{
	if (check_ns(ns, st) < 0)
		return BASE_EINVAL;
	if (!name || !*name || bad_segment(name)) {
		local_error(st, "invalid object name");
		return BASE_EINVAL;
	}
	return 0;
}

int kube_get(struct kube_client *c, const struct kube_resource *res, const char *ns,
	     const char *name, json_t **out, struct kube_status *st)
{
	char *path;
	int rc = check_name(ns, name, st);

	if (rc < 0)
		return rc;
	path = kube_path(res, ns, name, NULL);
	rc = kube_request(c, "GET", path, NULL, NULL, out, st);
	free(path);
	return rc;
}

int kube_list(struct kube_client *c, const struct kube_resource *res, const char *ns,
	      const struct kube_list_opts *opts, json_t **out, struct kube_status *st)
{
	struct base_buf b = BASE_BUF_INIT(0);
	char *path, limit[32];
	int rc;

	if (check_ns(ns, st) < 0)
		return BASE_EINVAL;
	path = kube_path(res, ns, NULL, NULL);
	base_buf_adds(&b, path);
	free(path);
	if (opts) {
		add_query(&b, "labelSelector", opts->label_selector);
		add_query(&b, "fieldSelector", opts->field_selector);
		add_query(&b, "resourceVersion", opts->resource_version);
		add_query(&b, "continue", opts->continue_token);
		if (opts->limit > 0) {
			snprintf(limit, sizeof(limit), "%ld", opts->limit);
			add_query(&b, "limit", limit);
		}
	}
	rc = kube_request(c, "GET", b.data, NULL, NULL, out, st);
	base_buf_release(&b);
	return rc;
}

int kube_list_all(struct kube_client *c, const struct kube_resource *res, const char *ns,
		  const struct kube_list_opts *opts, json_t **out, struct kube_status *st)
{
	struct kube_list_opts o = {0};
	json_t *all = NULL, *page = NULL;
	char *cont = NULL;
	int rc;

	*out = NULL;
	if (opts)
		o = *opts;
	if (o.limit <= 0)
		o.limit = KUBE_DEFAULT_PAGE_SIZE;
	for (;;) {
		const char *next;
		json_t *items;

		o.continue_token = cont;
		rc = kube_list(c, res, ns, &o, &page, st);
		if (rc < 0)
			goto out;
		items = json_object_get(page, "items");
		if (!json_is_array(items) && !json_is_null(items) && items) {
			rc = BASE_EPARSE;
			local_error(st, "list response has no items array");
			goto out;
		}
		if (!all) {
			all = json_incref(page);
			if (!json_is_array(items))
				json_object_set_new(all, "items", json_array());
		} else if (json_is_array(items)) {
			json_array_extend(json_object_get(all, "items"), items);
		}
		next = json_string_value(
			json_object_get(json_object_get(page, "metadata"), "continue"));
		free(cont);
		cont = next && *next ? xstrdup(next) : NULL;
		json_decref(page);
		page = NULL;
		if (!cont)
			break;
		/* Later pages come from the first page's snapshot; no RV may be given with continue. */
		o.resource_version = NULL;
	}
	json_object_del(json_object_get(all, "metadata"), "continue");
	*out = all;
	all = NULL;
out:
	free(cont);
	json_decref(page);
	json_decref(all);
	return rc;
}

int kube_create(struct kube_client *c, const struct kube_resource *res, const char *ns, json_t *obj,
		json_t **out, struct kube_status *st)
{
	char *path;
	int rc;

	if (check_ns(ns, st) < 0)
		return BASE_EINVAL;
	path = kube_path(res, ns, NULL, NULL);
	rc = kube_request(c, "POST", path, NULL, obj, out, st);
	free(path);
	return rc;
}

int kube_update(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *sub, json_t *obj, json_t **out,
		struct kube_status *st)
{
	char *path;
	int rc = check_name(ns, name, st);

	if (rc < 0)
		return rc;
	path = kube_path(res, ns, name, sub);
	rc = kube_request(c, "PUT", path, NULL, obj, out, st);
	free(path);
	return rc;
}

int kube_update_retry(struct kube_client *c, const struct kube_resource *res, const char *ns,
		      const char *name, const char *sub, kube_mutate_fn fn, void *ud, json_t **out,
		      struct kube_status *st)
{
	int rc = BASE_ECONFLICT;

	if (out)
		*out = NULL;
	for (int attempt = 0; attempt < KUBE_CONFLICT_TRIES; attempt++) {
		json_t *cur = NULL, *obj;

		if (attempt > 0)
			base_sleep_ms(base_rand_range(10, 11));
		rc = kube_get(c, res, ns, name, &cur, st);
		if (rc < 0)
			return rc;
		obj = json_deep_copy(cur);
		rc = fn(ud, obj);
		if (rc != 0) {
			json_decref(obj);
			if (rc > 0 && out)
				*out = json_incref(cur);
			json_decref(cur);
			return rc > 0 ? 0 : rc;
		}
		json_decref(cur);
		rc = kube_update(c, res, ns, name, sub, obj, out, st);
		json_decref(obj);
		if (rc != BASE_ECONFLICT)
			return rc;
	}
	return rc;
}

int kube_patch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const char *name, const struct kube_patch_opts *opts, json_t *patch, json_t **out,
	       struct kube_status *st)
{
	struct base_buf b = BASE_BUF_INIT(0);
	char *path;
	int rc = check_name(ns, name, st);

	if (rc < 0)
		return rc;
	if (opts->type == KUBE_PATCH_APPLY && (!opts->field_manager || !*opts->field_manager)) {
		local_error(st, "server-side apply needs a field manager");
		return BASE_EINVAL;
	}
	if ((opts->type == KUBE_PATCH_JSON) != json_is_array(patch)) {
		local_error(st, "a JSON patch is an array; other patches are objects");
		return BASE_EINVAL;
	}
	path = kube_path(res, ns, name, opts->subresource);
	base_buf_adds(&b, path);
	free(path);
	add_query(&b, "fieldManager", opts->field_manager);
	if (opts->type == KUBE_PATCH_APPLY && opts->force)
		add_query(&b, "force", "true");
	/* JSON is YAML, so an apply patch is sent as JSON with the apply content type. */
	rc = kube_request(c, "PATCH", b.data, content_type_of(opts->type), patch, out, st);
	base_buf_release(&b);
	return rc;
}

int kube_delete(struct kube_client *c, const struct kube_resource *res, const char *ns,
		const char *name, const char *precondition_rv, struct kube_status *st)
{
	json_t *opts = NULL;
	char *path;
	int rc = check_name(ns, name, st);

	if (rc < 0)
		return rc;
	if (precondition_rv && *precondition_rv)
		opts = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
				 "preconditions", "resourceVersion", precondition_rv);
	path = kube_path(res, ns, name, NULL);
	rc = kube_request(c, "DELETE", path, NULL, opts, NULL, st);
	free(path);
	json_decref(opts);
	return rc;
}

static size_t on_watch_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (x->code == 0)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->code);
	if (x->code != 200)
		return on_body(ptr, size, nmemb, ud);
	if (kube_watch_decoder_feed(x->dec, ptr, n) < 0)
		return 0;
	if (x->stop && atomic_load(x->stop)) {
		x->stopped = 1;
		return 0;
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (x->stop && atomic_load(x->stop)) {
		x->stopped = 1;
		return 1;
	}
	return 0;
}

int kube_watch(struct kube_client *c, const struct kube_resource *res, const char *ns,
	       const struct kube_watch_opts *opts, kube_watch_fn fn, void *ud,
	       const atomic_int *stop, struct kube_status *st)
{
	struct kube_watch_decoder dec;
	struct curl_slist *headers = NULL;
	struct base_buf q = BASE_BUF_INIT(0);
	struct xfer x;
	char num[32];
	char *path;
	int64_t start = base_now_mono_ns();
	CURL *h;
	CURLcode cc;
	int rc;

	kube_status_clear(st);
	if (check_ns(ns, st) < 0)
		return BASE_EINVAL;
	path = kube_path(res, ns, NULL, NULL);
	base_buf_adds(&q, path);
	free(path);
	add_query(&q, "watch", "1");
	add_query(&q, "resourceVersion", opts->resource_version);
	add_query(&q, "labelSelector", opts->label_selector);
	add_query(&q, "fieldSelector", opts->field_selector);
	if (opts->bookmarks)
		add_query(&q, "allowWatchBookmarks", "true");
	if (opts->timeout_s > 0) {
		snprintf(num, sizeof(num), "%d", opts->timeout_s);
		add_query(&q, "timeoutSeconds", num);
	}
	kube_watch_decoder_init(&dec, opts->max_line, fn, ud, st);
	memset(&x, 0, sizeof(x));
	base_buf_init(&x.body, ERROR_BODY_MAX);
	x.dec = &dec;
	x.stop = stop;
	h = x.h = handle_get(c);
	rc = setup(c, h, "GET", q.data, NULL, &x, &headers, st);
	if (rc < 0)
		goto out;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_body);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	/* The server ends the watch after timeoutSeconds; allow a margin past it. */
	if (opts->timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(opts->timeout_s + 60) * 1000L);
	cc = curl_easy_perform(h);
	if (x.code == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x.code);
	record(c, "WATCH", x.code, start);
	if (x.stopped) {
		rc = BASE_ECANCELED;
	} else if (dec.err) {
		rc = dec.err;
	} else if (cc == CURLE_WRITE_ERROR && x.code != 200) {
		rc = BASE_ETOOBIG;
		local_error(st, "watch error response larger than its cap");
	} else if (cc != CURLE_OK) {
		rc = curl_to_err(cc);
		local_error(st, "watch %s: %s", q.data, curl_easy_strerror(cc));
	} else if (x.code != 200) {
		if (st)
			st->retry_after_s = x.retry_after_s;
		rc = kube_status_decode((int)x.code, x.body.data, x.body.len, st);
		if (x.code == 401)
			kube_config_invalidate(c->cfg);
	} else {
		rc = kube_watch_decoder_finish(&dec);
	}
out:
	curl_slist_free_all(headers);
	handle_put(c, h);
	kube_watch_decoder_release(&dec);
	base_buf_release(&x.body);
	base_buf_release(&q);
	return rc;
}
