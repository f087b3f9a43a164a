/*
 * pkg/server: the metrics and probe endpoints, scraped over loopback with
 * libcurl exactly as Prometheus and the kubelet would.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/server/health.h"
#include "pkg/server/server.h"

struct reply {
	long status;
	struct base_buf body;
	char ctype[128];
	char allow[64];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	return base_buf_add(&r->body, p, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (len > 14 && !strncasecmp(p, "Content-Type: ", 14))
		snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)(len - 16), p + 14);
	if (len > 7 && !strncasecmp(p, "Allow: ", 7))
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), p + 7);
	return len;
}

/* method: "GET", "HEAD", "POST"... Fills r (release r->body after). */
static void request(const char *method, uint16_t port, const char *path, struct reply *r)
{
	CURL *c = curl_easy_init();
	char url[256];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	base_buf_init(&r->body, 1 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
}

static struct server *start(unsigned endpoints, struct server_health *h)
{
	struct server *s;
	int ret = server_start("127.0.0.1:0", endpoints, h, &s);

	ck_assert_int_eq(ret, 0);
	ck_assert_uint_gt(server_port(s), 0);
	return s;
}

START_TEST(metrics_are_scraped_with_names_types_and_labels)
{
	static const double buckets[] = {0.1, 1, 10};
	struct base_metric *reqs, *depth, *dur;
	struct server *s;
	struct reply r;

	reqs = base_metric_counter("test_rest_client_requests_total", "Requests by code and method",
				   "code,method");
	depth = base_metric_gauge("test_workqueue_depth", "Current depth of the workqueue", "name");
	dur = base_metric_histogram("test_reconcile_time_seconds", "Reconcile duration",
				    "controller", buckets, 3);
	base_metric_add(reqs, 3, "200", "GET");
	base_metric_add(reqs, 1, "409", "PUT");
	base_metric_set(depth, 4, "globaldatabase");
	base_metric_observe(dur, 0.5, "globaldatabase");
	base_metric_observe(dur, 20, "globaldatabase");

	s = start(SERVER_ENDPOINT_METRICS, NULL);
	request("GET", server_port(s), "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.ctype, "text/plain") && strstr(r.ctype, "version=0.0.4"), "%s",
		      r.ctype);
	ck_assert_ptr_nonnull(
		strstr(r.body.data, "# TYPE test_rest_client_requests_total counter\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body.data,
		       "# HELP test_rest_client_requests_total Requests by code and method\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body.data, "test_rest_client_requests_total{code=\"200\",method=\"GET\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body.data, "test_rest_client_requests_total{code=\"409\",method=\"PUT\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body.data, "# TYPE test_workqueue_depth gauge\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body.data, "test_workqueue_depth{name=\"globaldatabase\"} 4\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body.data, "# TYPE test_reconcile_time_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(
		r.body.data,
		"test_reconcile_time_seconds_bucket{controller=\"globaldatabase\",le=\"1\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(r.body.data, "test_reconcile_time_seconds_bucket{controller="
						  "\"globaldatabase\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body.data,
		       "test_reconcile_time_seconds_count{controller=\"globaldatabase\"} 2\n"));
	ck_assert_ptr_nonnull(
		strstr(r.body.data,
		       "test_reconcile_time_seconds_sum{controller=\"globaldatabase\"} 20.5\n"));
	base_buf_release(&r.body);

	/* A later scrape sees later values: nothing is cached. */
	base_metric_add(reqs, 2, "200", "GET");
	request("GET", server_port(s), "/metrics", &r);
	ck_assert_ptr_nonnull(strstr(
		r.body.data, "test_rest_client_requests_total{code=\"200\",method=\"GET\"} 5\n"));
	base_buf_release(&r.body);
	server_stop(s);
}
END_TEST

START_TEST(healthz_answers_ok_and_verbose_lists_checks)
{
	struct server_health *h = server_health_new();
	atomic_int up = 1;
	struct server *s;
	struct reply r;

	ck_assert_int_eq(server_health_add(h, SERVER_HEALTHZ, "ping", server_check_flag, &up), 0);
	ck_assert_int_eq(
		server_health_add(h, SERVER_HEALTHZ, "leader-election", server_check_flag, &up), 0);
	s = start(SERVER_ENDPOINT_HEALTH, h);

	request("GET", server_port(s), "/healthz", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok");
	ck_assert_msg(strstr(r.ctype, "text/plain"), "%s", r.ctype);
	base_buf_release(&r.body);

	request("GET", server_port(s), "/healthz?verbose", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "[+]leader-election ok\n[+]ping ok\nhealthz check passed\n");
	base_buf_release(&r.body);

	request("GET", server_port(s), "/healthz/ping", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok");
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(readyz_fails_until_the_check_turns_healthy)
{
	struct server_health *h = server_health_new();
	atomic_int synced = 0, up = 1;
	struct server *s;
	struct reply r;

	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "ping", server_check_flag, &up), 0);
	ck_assert_int_eq(
		server_health_add(h, SERVER_READYZ, "informer-sync", server_check_flag, &synced),
		0);
	s = start(SERVER_ENDPOINT_HEALTH, h);

	/* Not synced: 500, always verbose, the reason withheld from the aggregate. */
	request("GET", server_port(s), "/readyz", &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(
		r.body.data,
		"[-]informer-sync failed: reason withheld\n[+]ping ok\nhealthz check failed\n");
	base_buf_release(&r.body);
	request("GET", server_port(s), "/readyz/informer-sync", &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body.data, "internal server error: not ready yet\n");
	base_buf_release(&r.body);
	/* Liveness is independent of readiness. */
	request("GET", server_port(s), "/healthz", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	/* Excluding the failing check makes the rest pass. */
	request("GET", server_port(s), "/readyz?verbose&exclude=informer-sync&exclude=nosuch", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data,
			 "[+]informer-sync excluded: ok\n[+]ping ok\n"
			 "warn: some health checks cannot be excluded: no matches for \"nosuch\"\n"
			 "healthz check passed\n");
	base_buf_release(&r.body);

	atomic_store(&synced, 1);
	request("GET", server_port(s), "/readyz", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok");
	base_buf_release(&r.body);
	request("GET", server_port(s), "/readyz/informer-sync", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(empty_probe_set_answers_as_ping)
{
	struct server_health *h = server_health_new();
	struct server *s = start(SERVER_ENDPOINT_HEALTH, h);
	struct reply r;

	request("GET", server_port(s), "/readyz?verbose", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "[+]ping ok\nhealthz check passed\n");
	base_buf_release(&r.body);
	request("GET", server_port(s), "/readyz/ping", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(unknown_paths_are_404)
{
	struct server_health *h = server_health_new();
	struct server *s = start(SERVER_ENDPOINT_HEALTH, h),
		      *m = start(SERVER_ENDPOINT_METRICS, NULL);
	static const char *paths[] = {
		"/", "/metrics", "/healthzz", "/healthz/nosuch", "/readyz/nosuch", "/debug/pprof"};
	struct reply r;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		request("GET", server_port(s), paths[i], &r);
		ck_assert_msg(r.status == 404, "%s: %ld", paths[i], r.status);
		base_buf_release(&r.body);
	}
	/* The metrics-only server serves no probes. */
	request("GET", server_port(m), "/healthz", &r);
	ck_assert_int_eq(r.status, 404);
	base_buf_release(&r.body);
	server_stop(m);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(only_get_and_head_are_served)
{
	struct server_health *h = server_health_new();
	struct server *s = start(SERVER_ENDPOINT_HEALTH | SERVER_ENDPOINT_METRICS, h);
	static const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
	struct reply r;

	request("HEAD", server_port(s), "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body.len, 0);
	base_buf_release(&r.body);
	request("HEAD", server_port(s), "/healthz", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		request(methods[i], server_port(s), "/healthz", &r);
		ck_assert_msg(r.status == 405, "%s: %ld", methods[i], r.status);
		ck_assert_str_eq(r.allow, "GET, HEAD");
		base_buf_release(&r.body);
	}
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(addresses_parse_like_go_listen)
{
	static const char *good[] = {":8080",	    "127.0.0.1:8081", "[::1]:0",
				     "localhost:9", "0.0.0.0:65535",  "[::]:80"};
	static const char *bad[] = {"",
				    "8080",
				    "127.0.0.1",
				    "127.0.0.1:",
				    "127.0.0.1:65536",
				    "::1:80",
				    "example.com:80",
				    "1.2.3.4:-1",
				    "1.2.3.4:+80",
				    "[::1:80",
				    "127.0.0.1:80x"};
	struct sockaddr_storage sa;
	unsigned len;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		ck_assert_msg(server_parse_address(good[i], &sa, &len) == 0, "%s", good[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(server_parse_address(bad[i], &sa, &len) == BASE_EINVAL, "%s", bad[i]);
}
END_TEST

START_TEST(a_busy_port_is_reported_as_in_use)
{
	struct server *a = start(SERVER_ENDPOINT_METRICS, NULL), *b;
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", server_port(a));
	ck_assert_int_eq(server_start(addr, SERVER_ENDPOINT_METRICS, NULL, &b), BASE_EEXIST);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(server_start("127.0.0.1:0", SERVER_ENDPOINT_HEALTH, NULL, &b),
			 BASE_EINVAL);
	server_stop(a);
	/* Stopping released the port. */
	ck_assert_int_eq(server_start(addr, SERVER_ENDPOINT_METRICS, NULL, &b), 0);
	server_stop(b);
}
END_TEST

START_TEST(check_names_are_validated_and_unique)
{
	struct server_health *h = server_health_new();
	atomic_int up = 1;

	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "ok-name_1.x", server_check_flag, &up),
			 0);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "ok-name_1.x", server_check_flag, &up),
			 BASE_EEXIST);
	/* The same name in the other set is a different check. */
	ck_assert_int_eq(
		server_health_add(h, SERVER_HEALTHZ, "ok-name_1.x", server_check_flag, &up), 0);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "", server_check_flag, &up),
			 BASE_EINVAL);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "a/b", server_check_flag, &up),
			 BASE_EINVAL);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "a b", server_check_flag, &up),
			 BASE_EINVAL);
	ck_assert_int_eq(server_health_add(
				 h, SERVER_READYZ,
				 "x123456789012345678901234567890123456789012345678901234567890123",
				 server_check_flag, &up),
			 BASE_EINVAL);
	server_health_free(h);
}
END_TEST

struct registrar {
	struct server_health *h;
	int id;
	atomic_int flag;
};

static void *register_many(void *arg)
{
	struct registrar *g = arg;
	char name[32];

	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "c%d-%d", g->id, i);
		ck_assert_int_eq(
			server_health_add(g->h, SERVER_READYZ, name, server_check_flag, &g->flag),
			0);
	}
	return NULL;
}

START_TEST(checks_register_concurrently_with_requests)
{
	struct server_health *h = server_health_new();
	struct server *s = start(SERVER_ENDPOINT_HEALTH, h);
	struct registrar g[3];
	pthread_t t[3];
	struct reply r;

	for (int i = 0; i < 3; i++) {
		g[i].h = h;
		g[i].id = i;
		atomic_init(&g[i].flag, 1);
		pthread_create(&t[i], NULL, register_many, &g[i]);
	}
	for (int i = 0; i < 20; i++) {
		request("GET", server_port(s), "/readyz", &r);
		ck_assert_int_eq(r.status, 200);
		base_buf_release(&r.body);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);

	request("GET", server_port(s), "/readyz?verbose", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "[+]c2-49 ok\n"));
	base_buf_release(&r.body);
	atomic_store(&g[1].flag, 0);
	request("GET", server_port(s), "/readyz", &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(r.body.data, "[-]c1-7 failed: reason withheld\n"));
	ck_assert_ptr_nonnull(strstr(r.body.data, "[+]c0-7 ok\n"));
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("server");
	TCase *tc = tcase_create("server");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_ALL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, metrics_are_scraped_with_names_types_and_labels);
	tcase_add_test(tc, healthz_answers_ok_and_verbose_lists_checks);
	tcase_add_test(tc, readyz_fails_until_the_check_turns_healthy);
	tcase_add_test(tc, empty_probe_set_answers_as_ping);
	tcase_add_test(tc, unknown_paths_are_404);
	tcase_add_test(tc, only_get_and_head_are_served);
	tcase_add_test(tc, addresses_parse_like_go_listen);
	tcase_add_test(tc, a_busy_port_is_reported_as_in_use);
	tcase_add_test(tc, check_names_are_validated_and_unique);
	tcase_add_test(tc, checks_register_concurrently_with_requests);
	suite_add_tcase(suite, tc);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
