/*
 * pkg/kube/reflector on the wire: a 429 reports Retry-After and the reflector waits for
 * it, a 500 storm is met with backoff, not a hot loop, and a 410 leads to a relist with
 * exactly the handler events the difference calls for.
 */
#include "tests/check_main.h"
#include "tests/kube/wire_server.h"

/* A list of two ConfigMaps at resourceVersion 10. */
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

GDB_CHECK_MAIN("kube_reflector_wire", 30,
	       throttled_request_reports_retry_after_and_reflector_waits_for_it,
	       server_error_storm_is_met_with_backoff_not_a_hot_loop,
	       watch_gone_leads_to_relist_with_exact_handler_events)
