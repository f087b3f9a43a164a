/*
 * Wire-fault tests: the REST client, watch and reflector against a scripted
 * HTTP/1.1 server on 127.0.0.1 that produces what a real apiserver rarely
 * does on demand: events split across chunks, oversized lines, streams cut
 * mid-event, 429 with Retry-After, 500 storms, and 410 ERROR events.
 *
 * The server serves one connection at a time and closes each after its
 * response ("Connection: close"); each test installs a handler that writes
 * the raw response for a request line.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"

struct server;
typedef void (*handler_fn)(struct server *s, int fd, const char *method, const char *target);

struct server {
	int lfd, port;
	pthread_t thread;
	atomic_int stop;
	atomic_int requests;
	atomic_int accepts;
	int keepalive; /* serve further requests on a connection */
	handler_fn handler;
	void *ud;
	pthread_mutex_t mu;
	int64_t times[64]; /* monotonic ms of each request */
};

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static void send_chunk(int fd, const char *data, size_t n)
{
	char hdr[32];

	snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
	send_str(fd, hdr);
	send_all(fd, data, n);
	send_str(fd, "\r\n");
}

static int keepalive_responses;

static void send_response(int fd, int code, const char *extra_headers, const char *body)
{
	char *r = xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
			    "%sContent-Length: %zu\r\n\r\n%s",
			    code, keepalive_responses ? "" : "Connection: close\r\n",
			    extra_headers ? extra_headers : "", strlen(body), body);

	send_str(fd, r);
	free(r);
}

static void start_chunked(int fd)
{
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

/* Blocks until the peer closes (or the server stops). */
static void wait_peer_close(struct server *s, int fd)
{
	char buf[256];

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, 100) > 0) {
			if (recv(fd, buf, sizeof(buf), 0) <= 0)
				return;
		}
	}
}

static void *serve(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {s->lfd, POLLIN, 0};
		char req[8192], method[16], target[4096];
		size_t len = 0;
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepts, 1);
		do {
			len = 0;
			req[0] = '\0';
			/* Read one request head (bodies are small and ignored). */
			while (len < sizeof(req) - 1 && !atomic_load(&s->stop)) {
				struct pollfd cp = {fd, POLLIN, 0};
				ssize_t r;

				if (poll(&cp, 1, 100) <= 0)
					continue;
				r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
				if (r <= 0)
					break;
				len += (size_t)r;
				req[len] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			if (sscanf(req, "%15s %4095s", method, target) != 2)
				break;
			{
				int n = atomic_fetch_add(&s->requests, 1);

				pthread_mutex_lock(&s->mu);
				if (n < 64)
					s->times[n] = base_now_mono_ms();
				pthread_mutex_unlock(&s->mu);
			}
			s->handler(s, fd, method, target);
		} while (s->keepalive && !atomic_load(&s->stop));
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *s, handler_fn h, void *ud)
{
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->handler = h;
	s->ud = ud;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 16), 0);
	getsockname(s->lfd, (struct sockaddr *)&a, &alen);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, serve, s);
}

static void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
}

static struct kube_client *client_for(struct server *s)
{
	struct kube_config *cfg;
	struct kube_client *c;
	char *msg = NULL;
	char *kc = xasprintf("current-context: t\n"
			     "contexts: [{name: t, context: {cluster: t, user: t}}]\n"
			     "clusters: [{name: t, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
			     "users: [{name: t, user: {token: wire-test}}]\n",
			     s->port);
	struct kube_client_opts o = {.timeout_ms = 5000};

	ck_assert_int_eq(
		kube_config_load_kubeconfig_data(kc, strlen(kc), "wire", NULL, NULL, &cfg, &msg),
		0);
	free(kc);
	ck_assert_int_eq(kube_client_new(cfg, &o, &c), 0);
	return c;
}

struct events {
	json_t *names;
};

static int collect(void *ud, enum kube_event_type type, json_t *obj)
{
	struct events *e = ud;
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

	json_array_append_new(e->names,
			      json_sprintf("%s %s", kube_event_type_name(type), name ? name : "-"));
	return 0;
}

#define EV(type, name, rv)                                                                         \
	"{\"type\":\"" type "\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}}\n"

static void h_split(struct server *s, int fd, const char *method, const char *target)
{
	const char *e1 = EV("ADDED", "first", "11");
	const char *e2 = EV("MODIFIED", "second", "12");
	char both[512];

	(void)s, (void)method, (void)target;
	start_chunked(fd);
	/* e1 in three chunks, cut inside a string and inside a key. */
	send_chunk(fd, e1, 7);
	base_sleep_ms(30);
	send_chunk(fd, e1 + 7, 40);
	base_sleep_ms(30);
	/* The rest of e1 and the start of e2 in one chunk. */
	snprintf(both, sizeof(both), "%s%.20s", e1 + 47, e2);
	send_chunk(fd, both, strlen(both));
	base_sleep_ms(30);
	send_chunk(fd, e2 + 20, strlen(e2) - 20);
	send_str(fd, "0\r\n\r\n");
}

START_TEST(watch_event_split_across_chunks_arrives_whole)
{
	struct server s;
	struct kube_client *c;
	struct events e = {json_array()};
	struct kube_watch_opts o = {.resource_version = "10", .timeout_s = 30, .bookmarks = 1};
	struct kube_status st;

	server_start(&s, h_split, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_watch(c, &kube_res_configmaps, "ns", &o, collect, &e, NULL, &st), 0);
	ck_assert_int_eq(json_array_size(e.names), 2);
	ck_assert_str_eq(json_string_value(json_array_get(e.names, 0)), "ADDED first");
	ck_assert_str_eq(json_string_value(json_array_get(e.names, 1)), "MODIFIED second");
	kube_client_free(c);
	server_stop(&s);
	json_decref(e.names);
}
END_TEST

static void h_oversized(struct server *s, int fd, const char *method, const char *target)
{
	char big[8192];

	(void)method, (void)target;
	memset(big, ' ', sizeof(big));
	start_chunked(fd);
	send_chunk(fd, EV("ADDED", "ok", "1"), strlen(EV("ADDED", "ok", "1")));
	send_str(fd, "1\r\n{\r\n");
	/* Keep streaming whitespace without a newline. */
	for (int i = 0; i < 64 && !atomic_load(&s->stop); i++)
		send_chunk(fd, big, sizeof(big));
	wait_peer_close(s, fd);
}

START_TEST(watch_line_over_the_cap_stops_the_watch)
{
	struct server s;
	struct kube_client *c;
	struct events e = {json_array()};
	struct kube_watch_opts o = {.resource_version = "1", .timeout_s = 30, .max_line = 16384};
	struct kube_status st;

	server_start(&s, h_oversized, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_watch(c, &kube_res_configmaps, "ns", &o, collect, &e, NULL, &st),
			 BASE_ETOOBIG);
	ck_assert_int_eq(json_array_size(e.names), 1);
	kube_client_free(c);
	server_stop(&s);
	json_decref(e.names);
}
END_TEST

static void h_truncated(struct server *s, int fd, const char *method, const char *target)
{
	const char *e2 = EV("ADDED", "second", "3");

	(void)s, (void)method, (void)target;
	start_chunked(fd);
	send_chunk(fd, EV("ADDED", "first", "2"), strlen(EV("ADDED", "first", "2")));
	send_chunk(fd, e2, 25);
	/* Close without the rest of the event and without the last chunk. */
}

START_TEST(watch_truncated_stream_is_a_transport_error_after_whole_events)
{
	struct server s;
	struct kube_client *c;
	struct events e = {json_array()};
	struct kube_watch_opts o = {.resource_version = "1", .timeout_s = 30};
	struct kube_status st;

	server_start(&s, h_truncated, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_watch(c, &kube_res_configmaps, "ns", &o, collect, &e, NULL, &st),
			 BASE_ETRANSPORT);
	ck_assert_int_eq(json_array_size(e.names), 1);
	ck_assert_str_eq(json_string_value(json_array_get(e.names, 0)), "ADDED first");
	kube_client_free(c);
	server_stop(&s);
	json_decref(e.names);
}
END_TEST

static const char list_two[] =
	"{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	"\"10\"},"
	"\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"5\"}},"
	"{\"metadata\":{\"name\":\"b\",\"namespace\":\"ns\",\"resourceVersion\":\"6\"}}]}";

static void h_throttle_then_ok(struct server *s, int fd, const char *method, const char *target)
{
	(void)method;
	if (strstr(target, "watch=1")) {
		start_chunked(fd);
		wait_peer_close(s, fd);
		return;
	}
	if (atomic_load(&s->requests) == 1) {
		send_response(
			fd, 429, "Retry-After: 2\r\n",
			"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			"\"reason\":\"TooManyRequests\",\"message\":\"slow down\",\"code\":429}");
		return;
	}
	send_response(fd, 200, NULL, list_two);
}

START_TEST(throttled_request_reports_retry_after_and_reflector_waits_for_it)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;
	struct kube_store *store = kube_store_new();
	struct kube_reflector *r;
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = "ns"};
	json_t *out = NULL;

	server_start(&s, h_throttle_then_ok, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), BASE_ETHROTTLED);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(st.code, 429);
	ck_assert_int_eq(st.retry_after_s, 2);
	ck_assert_str_eq(st.reason, "TooManyRequests");
	ck_assert_str_eq(st.message, "slow down");

	/* Next: the reflector's first list is request 2 (OK); make it 429 by resetting. */
	atomic_store(&s.requests, 0);
	ck_assert_int_eq(kube_reflector_start(c, store, &ro, &r), 0);
	ck_assert_int_eq(kube_reflector_wait_synced(r, 10000), 0);
	ck_assert_int_ge(atomic_load(&s.requests), 2);
	pthread_mutex_lock(&s.mu);
	/* The list after the 429 came no sooner than Retry-After. */
	ck_assert_int_ge(s.times[1] - s.times[0], 2000);
	pthread_mutex_unlock(&s.mu);
	ck_assert_uint_eq(kube_store_len(store), 2);
	kube_reflector_free(r);
	kube_store_free(store);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

static void h_500(struct server *s, int fd, const char *method, const char *target)
{
	(void)s, (void)method, (void)target;
	send_response(fd, 500, NULL,
		      "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"InternalError\","
		      "\"message\":\"etcd is sad\",\"code\":500}");
}

START_TEST(server_error_storm_is_met_with_backoff_not_a_hot_loop)
{
	struct server s;
	struct kube_client *c;
	struct kube_store *store = kube_store_new();
	struct kube_reflector *r;
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = "ns"};
	struct kube_reflector_stats rs;
	struct kube_status st;
	int n;

	server_start(&s, h_500, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", NULL, &st), BASE_ESERVER);
	ck_assert_str_eq(st.message, "etcd is sad");
	ck_assert_int_eq(atomic_load(&s.requests), 1); /* no hidden retries */
	{
		struct base_metric *m = base_metric_counter(
			"rest_client_requests_total",
			"Number of HTTP requests, partitioned by status code, method, and host.",
			"code,method,host");
		char host[32];

		snprintf(host, sizeof(host), "127.0.0.1:%d", s.port);
		ck_assert_double_eq(base_metric_value(m, "500", "GET", host), 1);
	}
	atomic_store(&s.requests, 0);

	ck_assert_int_eq(kube_reflector_start(c, store, &ro, &r), 0);
	ck_assert_int_eq(kube_reflector_wait_synced(r, 4000), BASE_ETIMEDOUT);
	kube_reflector_stats(r, &rs);
	kube_reflector_free(r);
	n = atomic_load(&s.requests);
	/* 0.8 s doubling with up to 100 % jitter: tries at 0, >=0.8, >=2.4, >=5.6 s: at most 3 in 4 s. */
	ck_assert_int_ge(n, 2);
	ck_assert_int_le(n, 3);
	ck_assert_int_eq(rs.last_error, BASE_ESERVER);
	ck_assert_uint_eq(rs.lists, 0);
	kube_store_free(store);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

static const char list_ac[] =
	"{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
	"\"20\"},"
	"\"items\":[{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"5\"}},"
	"{\"metadata\":{\"name\":\"c\",\"namespace\":\"ns\",\"resourceVersion\":\"19\"}}]}";

struct relist_state {
	int lists, watches;
	char first_watch_rv[32], second_watch_rv[32];
	atomic_int second_watch_seen; /* set by the server once second_watch_rv is written */
};

static void h_gone(struct server *s, int fd, const char *method, const char *target)
{
	struct relist_state *rs = s->ud;
	const char *rv = strstr(target, "resourceVersion=");

	(void)method;
	if (!strstr(target, "watch=1")) {
		send_response(fd, 200, NULL, rs->lists++ == 0 ? list_two : list_ac);
		return;
	}
	start_chunked(fd);
	if (rs->watches++ == 0) {
		const char *gone =
			"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":"
			"\"v1\",\"status\":\"Failure\",\"message\":\"too old resource "
			"version: 10 (15)\",\"reason\":\"Expired\",\"code\":410}}\n";

		snprintf(rs->first_watch_rv, sizeof(rs->first_watch_rv), "%.*s",
			 rv ? (int)strcspn(rv + 16, "&") : 0, rv ? rv + 16 : "");
		send_chunk(fd, gone, strlen(gone));
		send_str(fd, "0\r\n\r\n");
		return;
	}
	snprintf(rs->second_watch_rv, sizeof(rs->second_watch_rv), "%.*s",
		 rv ? (int)strcspn(rv + 16, "&") : 0, rv ? rv + 16 : "");
	atomic_store(&rs->second_watch_seen, 1);
	wait_peer_close(s, fd);
}

struct hlog {
	pthread_mutex_t mu;
	json_t *lines;
};

static void on_add(void *ud, json_t *o)
{
	struct hlog *l = ud;
	char *k = kube_object_key(o);

	pthread_mutex_lock(&l->mu);
	json_array_append_new(l->lines, json_sprintf("add %s", k));
	pthread_mutex_unlock(&l->mu);
	free(k);
}

static void on_update(void *ud, json_t *o, json_t *n)
{
	struct hlog *l = ud;
	char *k = kube_object_key(n);

	(void)o;
	pthread_mutex_lock(&l->mu);
	json_array_append_new(l->lines, json_sprintf("update %s", k));
	pthread_mutex_unlock(&l->mu);
	free(k);
}

static void on_delete(void *ud, json_t *o)
{
	struct hlog *l = ud;
	char *k = kube_object_key(o);

	pthread_mutex_lock(&l->mu);
	json_array_append_new(l->lines, json_sprintf("delete %s", k));
	pthread_mutex_unlock(&l->mu);
	free(k);
}

START_TEST(watch_gone_leads_to_relist_with_exact_handler_events)
{
	struct server s;
	struct relist_state rs = {0};
	struct hlog l = {PTHREAD_MUTEX_INITIALIZER, json_array()};
	struct kube_handlers h = {on_add, on_update, on_delete, &l};
	struct kube_client *c;
	struct kube_store *store = kube_store_new();
	struct kube_reflector *r;
	struct kube_reflector_opts ro = {.res = &kube_res_configmaps, .ns = "ns"};
	struct kube_reflector_stats st;
	int64_t deadline = base_now_mono_ms() + 10000;

	server_start(&s, h_gone, &rs);
	c = client_for(&s);
	kube_store_add_handlers(store, &h);
	ck_assert_int_eq(kube_reflector_start(c, store, &ro, &r), 0);
	for (;;) {
		/* The reflector counts a watch when it asks; the server when it has read it. */
		kube_reflector_stats(r, &st);
		if (st.lists >= 2 && st.watches >= 2 && atomic_load(&rs.second_watch_seen))
			break;
		ck_assert_int_lt(base_now_mono_ms(), deadline);
		base_sleep_ms(20);
	}
	kube_reflector_free(r);
	ck_assert_uint_eq(st.gone, 1);
	/* add a, add b; relist: b deleted, c added, a unchanged (no event). */
	pthread_mutex_lock(&l.mu);
	ck_assert_int_eq(json_array_size(l.lines), 4);
	ck_assert_str_eq(json_string_value(json_array_get(l.lines, 2)), "add ns/c");
	ck_assert_str_eq(json_string_value(json_array_get(l.lines, 3)), "delete ns/b");
	pthread_mutex_unlock(&l.mu);
	ck_assert_uint_eq(kube_store_len(store), 2);
	kube_store_free(store);
	kube_client_free(c);
	server_stop(&s);
	/* Written by the server's thread: read once it is joined. */
	ck_assert_str_eq(rs.first_watch_rv, "10");
	ck_assert_str_eq(rs.second_watch_rv, "20");
	json_decref(l.lines);
}
END_TEST

static void h_unauthorized_once(struct server *s, int fd, const char *method, const char *target)
{
	(void)method, (void)target;
	if (atomic_load(&s->requests) == 1)
		send_response(fd, 401, NULL,
			      "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
	else
		send_response(fd, 200, NULL,
			      "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
}

START_TEST(unauthorized_is_retried_once_with_refreshed_credentials)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;
	json_t *out = NULL;

	server_start(&s, h_unauthorized_once, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(atomic_load(&s.requests), 2);
	json_decref(out);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

static void h_huge(struct server *s, int fd, const char *method, const char *target)
{
	char chunk[65536];
	char *hdr = xasprintf(
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
		"Content-Length: %llu\r\n\r\n",
		(unsigned long long)KUBE_MAX_RESPONSE_BYTES + 65536);

	(void)method, (void)target;
	memset(chunk, ' ', sizeof(chunk));
	send_str(fd, hdr);
	free(hdr);
	for (size_t sent = 0; sent <= KUBE_MAX_RESPONSE_BYTES && !atomic_load(&s->stop);
	     sent += sizeof(chunk))
		send_all(fd, chunk, sizeof(chunk));
}

START_TEST(response_over_the_cap_is_refused)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;
	json_t *out = NULL;

	server_start(&s, h_huge, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), BASE_ETOOBIG);
	ck_assert_ptr_null(out);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

/* Holds each request until the test releases it (ud: an atomic_int), then fails it. */
static void h_hold_then_500(struct server *s, int fd, const char *method, const char *target)
{
	atomic_int *release = s->ud;

	while (!atomic_load(release) && !atomic_load(&s->stop))
		base_sleep_ms(5);
	h_500(s, fd, method, target);
}

START_TEST(event_recording_never_blocks_and_counts_drops_when_full)
{
	struct server s;
	struct kube_client *c;
	struct kube_recorder *rec;
	struct kube_recorder_opts ro = {.reporting_controller = "test/wire",
					.reporting_instance = "wire-0",
					.queue_size = 2,
					.spam_burst = 100};
	struct kube_recorder_stats rs;
	json_t *obj =
		json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			  "metadata", "name", "subject", "namespace", "ns", "uid", "u-1");
	atomic_int release = 0;
	int64_t start;
	int queued = 0;

	/*
	 * The apiserver holds every write until released: were recording to wait
	 * for the network, this loop would never end (and the test time out),
	 * however fast or loaded the machine. Released, it fails them: the
	 * sender retries and the queue stays full.
	 */
	server_start(&s, h_hold_then_500, &release);
	c = client_for(&s);
	ck_assert_int_eq(kube_recorder_new(c, &ro, &rec), 0);
	for (int i = 0; i < 10; i++)
		queued += kube_recorder_event(rec, obj, "Warning", "Failing", "Test", "event %d",
					      i) == 0;
	atomic_store(&release, 1);
	kube_recorder_stats(rec, &rs);
	ck_assert_int_le(queued, 3); /* one in flight, two queued */
	ck_assert_uint_eq(rs.dropped_full, (unsigned long)(10 - queued));
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "", "Test", "no reason"),
			 BASE_EINVAL);
	start = base_now_mono_ms();
	kube_recorder_free(rec); /* stops mid-retry */
	ck_assert_int_lt(base_now_mono_ms() - start, 5000);
	json_decref(obj);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

static void h_ok(struct server *s, int fd, const char *method, const char *target)
{
	(void)s, (void)method, (void)target;
	send_response(fd, 200, NULL, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
}

START_TEST(sequential_requests_reuse_one_keepalive_connection)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;

	keepalive_responses = 1;
	server_start(&s, h_ok, NULL);
	s.keepalive = 1;
	c = client_for(&s);
	for (int i = 0; i < 5; i++) {
		json_t *out = NULL;

		ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), 0);
		json_decref(out);
	}
	ck_assert_int_eq(atomic_load(&s.requests), 5);
	ck_assert_int_eq(atomic_load(&s.accepts), 1);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kube_wire");
	TCase *tc = tcase_create("all");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, watch_event_split_across_chunks_arrives_whole);
	tcase_add_test(tc, watch_line_over_the_cap_stops_the_watch);
	tcase_add_test(tc, watch_truncated_stream_is_a_transport_error_after_whole_events);
	tcase_add_test(tc, throttled_request_reports_retry_after_and_reflector_waits_for_it);
	tcase_add_test(tc, server_error_storm_is_met_with_backoff_not_a_hot_loop);
	tcase_add_test(tc, watch_gone_leads_to_relist_with_exact_handler_events);
	tcase_add_test(tc, unauthorized_is_retried_once_with_refreshed_credentials);
	tcase_add_test(tc, response_over_the_cap_is_refused);
	tcase_add_test(tc, sequential_requests_reuse_one_keepalive_connection);
	tcase_add_test(tc, event_recording_never_blocks_and_counts_drops_when_full);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
