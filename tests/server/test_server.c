/*
 * pkg/server/server: the HTTP server: /metrics scraped, unknown paths 404, only GET
 * and HEAD served, addresses parsed like Go's Listen, a busy port reported as in use.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/metrics.h"
#include "tests/check_main.h"
#include "tests/server/http_client.h"

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

GDB_CHECK_MAIN("server", 30, metrics_are_scraped_with_names_types_and_labels, unknown_paths_are_404,
	       only_get_and_head_are_served, addresses_parse_like_go_listen,
	       a_busy_port_is_reported_as_in_use)
