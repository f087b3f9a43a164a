/*
 * Unit tests for pkg/base: the capped buffer, RFC 3339 time, backoff bounds,
 * log redaction and format, the Prometheus text rendering, and the pool.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/base64.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/map.h"
#include "pkg/base/metrics.h"
#include "pkg/base/pool.h"
#include "pkg/base/timeutil.h"

START_TEST(buf_refuses_growth_past_its_cap_and_keeps_content)
{
	struct base_buf b = BASE_BUF_INIT(8);

	ck_assert_int_eq(base_buf_adds(&b, "abcd"), 0);
	ck_assert_int_eq(base_buf_adds(&b, "efghi"), BASE_ETOOBIG);
	ck_assert_str_eq(b.data, "abcd");
	ck_assert_int_eq(base_buf_addf(&b, "%d", 1234), 0);
	ck_assert_str_eq(b.data, "abcd1234");
	ck_assert_int_eq(base_buf_addch(&b, 'x'), BASE_ETOOBIG);
	base_buf_consume(&b, 4);
	ck_assert_str_eq(b.data, "1234");
	ck_assert_uint_eq(b.len, 4);
	base_buf_release(&b);
	ck_assert_str_eq(b.data, "");
}
END_TEST

START_TEST(buf_large_enough_to_be_a_mapping_grows_detaches_and_consumes)
{
	struct base_buf b = BASE_BUF_INIT(1 << 20);
	char chunk[1000];
	size_t len;
	char *d;

	memset(chunk, 'x', sizeof(chunk));
	for (int i = 0; i < 300; i++) { /* 300 KB: from the heap to a mapping, then mremap */
		chunk[0] = (char)('a' + i % 26);
		ck_assert_int_eq(base_buf_add(&b, chunk, sizeof(chunk)), 0);
	}
	ck_assert_uint_eq(b.len, 300000);
	ck_assert_uint_ge(b.alloc, BASE_BUF_MAP_MIN);
	ck_assert_int_eq(b.data[299000], 'a' + 299 % 26);
	ck_assert_int_eq(b.data[b.len], '\0');
	ck_assert_int_eq(base_buf_add(&b, chunk, 1 << 20), BASE_ETOOBIG);
	base_buf_consume(&b, 299000);
	ck_assert_uint_eq(b.len, 1000);
	ck_assert_int_eq(b.data[0], 'a' + 299 % 26);
	d = base_buf_detach(&b, &len); /* a heap copy the caller frees */
	ck_assert_uint_eq(len, 1000);
	ck_assert_int_eq(d[999], 'x');
	ck_assert_int_eq(d[1000], '\0');
	free(d);
	ck_assert_uint_eq(b.len, 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(base_buf_add(&b, chunk, sizeof(chunk)), 0);
	base_buf_release(&b);
	ck_assert_str_eq(b.data, "");
}
END_TEST

START_TEST(buf_detach_hands_over_ownership)
{
	struct base_buf b = BASE_BUF_INIT(0);
	size_t len;
	char *s;

	s = base_buf_detach(&b, &len);
	ck_assert_str_eq(s, "");
	free(s);
	base_buf_adds(&b, "hello");
	s = base_buf_detach(&b, &len);
	ck_assert_str_eq(s, "hello");
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(b.len, 0);
	free(s);
}
END_TEST

/* A reason or an error message rewritten in place; the old text is freed (ASan checks). */
START_TEST(xsetf_replaces_a_string_with_a_formatted_one)
{
	char *s = NULL;

	xsetf(&s, "Secret %s/%s does not exist", "ns", "creds");
	ck_assert_str_eq(s, "Secret ns/creds does not exist");
	xsetf(&s, "%d of %d", 2, 3);
	ck_assert_str_eq(s, "2 of 3");
	free(s);
}
END_TEST

START_TEST(time_round_trips_kubernetes_and_aws_formats)
{
	int64_t ms;
	char out[40];

	ck_assert_int_eq(base_time_parse("2026-11-27T03:58:01Z", &ms), 0);
	ck_assert_int_eq(ms, 1795751881000LL);
	ck_assert_int_eq(base_time_format(ms, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2026-11-27T03:58:01Z");
	ck_assert_int_eq(base_time_parse("2026-11-27T03:58:01.123456Z", &ms), 0);
	ck_assert_int_eq(ms, 1795751881123LL);
	ck_assert_int_eq(base_time_format_us(ms, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2026-11-27T03:58:01.123000Z");
	ck_assert_int_eq(base_time_parse("2026-11-27T05:58:01+02:00", &ms), 0);
	ck_assert_int_eq(ms, 1795751881000LL);
	ck_assert_int_eq(base_time_format_ms(ms, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "2026-11-27T03:58:01.000Z");
}
END_TEST

START_TEST(time_rejects_malformed_timestamps)
{
	static const char *bad[] = {"",
				    "2026",
				    "2026-11-27",
				    "2026-11-27T03:58Z",
				    "2026-13-01T00:00:00Z",
				    "2026-11-27T03:58:01",
				    "2026-11-27T03:58:01Zjunk",
				    "2026-11-27T03:58:01.Z",
				    "2026-11-27T03:58:01+0200",
				    "x026-11-27T03:58:01Z"};
	int64_t ms;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(base_time_parse(bad[i], &ms) == BASE_EPARSE, "accepted %s", bad[i]);
}
END_TEST

START_TEST(backoff_full_jitter_stays_within_the_capped_window)
{
	struct base_backoff b = {.base_ms = 100, .cap_ms = 1000, .jitter = 0};

	for (int i = 0; i < 200; i++) {
		unsigned attempt = b.attempt;
		int64_t window = 100;
		int64_t d = base_backoff_next(&b);

		for (unsigned k = 0; k < attempt && window < 1000; k++)
			window *= 2;
		if (window > 1000)
			window = 1000;
		ck_assert_int_ge(d, 0);
		ck_assert_int_le(d, window);
	}
	base_backoff_reset(&b);
	ck_assert_int_le(base_backoff_next(&b), 100);
}
END_TEST

START_TEST(backoff_jittered_growth_matches_reflector_shape)
{
	/* client-go's reflector: 800 ms doubling to 30 s, jitter factor 1.0. */
	struct base_backoff b = {.base_ms = 800, .cap_ms = 30000, .jitter = 1.0};
	int64_t d0 = base_backoff_next(&b), d1 = base_backoff_next(&b);

	ck_assert(d0 >= 800 && d0 <= 1600);
	ck_assert(d1 >= 1600 && d1 <= 3200);
	for (int i = 0; i < 20; i++)
		ck_assert_int_le(base_backoff_next(&b), 60000);
}
END_TEST

/* A reconcile's context is on every line its thread logs, and on no other thread's. */
static void *log_from_another_thread(void *arg)
{
	(void)arg;
	base_log(BASE_LOG_INFO, "elsewhere", NULL);
	return NULL;
}

START_TEST(log_context_names_the_object_on_every_line_of_its_thread)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	pthread_t t;

	base_log_setup(BASE_LOG_INFO, 0, f);
	base_log_context_set("namespace", "shop", "name", "orders", "reconcileID", "r-1", NULL);
	base_log(BASE_LOG_INFO, "planned", "action", "Switchover", NULL);
	pthread_create(&t, NULL, log_from_another_thread, NULL);
	pthread_join(t, NULL);
	base_log_context_set("password", "hunter2", NULL);
	base_log(BASE_LOG_INFO, "second", NULL);
	base_log_context_clear();
	base_log(BASE_LOG_INFO, "after", NULL);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(
		text, " planned namespace=shop name=orders reconcileID=r-1 action=Switchover\n"));
	ck_assert_ptr_nonnull(strstr(text, " info elsewhere\n"));
	ck_assert_ptr_nonnull(strstr(text, " second password=[redacted]\n"));
	ck_assert_ptr_nonnull(strstr(text, " info after\n"));
	ck_assert_ptr_null(strstr(text, "hunter2"));
	free(text);
	base_log_setup(BASE_LOG_INFO, 0, NULL);
}
END_TEST

START_TEST(log_redacts_secret_keys_and_quotes_values)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	base_log_setup(BASE_LOG_INFO, 0, f);
	base_log(BASE_LOG_INFO, "probe failed", "target", "orders east", "password", "hunter2",
		 "aws_secret_access_key", "AKIA", NULL);
	base_log(BASE_LOG_DEBUG, "not shown", NULL);
	fclose(f);
	ck_assert_ptr_nonnull(
		strstr(text, " info probe failed target=\"orders east\" password=[redacted]"));
	ck_assert_ptr_null(strstr(text, "hunter2"));
	ck_assert_ptr_null(strstr(text, "AKIA"));
	ck_assert_ptr_null(strstr(text, "not shown"));
	free(text);

	f = open_memstream(&text, &len);
	base_log_setup(BASE_LOG_DEBUG, 1, f);
	base_log(BASE_LOG_WARN, "quote \"here\"", "token", "abc", "n", "1", NULL);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "\"level\":\"warn\",\"msg\":\"quote "
					   "\\\"here\\\"\",\"token\":\"[redacted]\",\"n\":\"1\"}"));
	free(text);
	base_log_setup(BASE_LOG_INFO, 0, NULL);
}
END_TEST

START_TEST(metrics_render_in_prometheus_text_format)
{
	static const double buckets[] = {0.1, 1};
	struct base_metric *c =
		base_metric_counter("test_reconcile_total", "Reconciles.", "controller,result");
	struct base_metric *g = base_metric_gauge("test_depth", "Depth.", NULL);
	struct base_metric *h = base_metric_histogram("test_seconds", "Time.", "op", buckets, 2);
	struct base_buf out = BASE_BUF_INIT(0);

	ck_assert_ptr_eq(base_metric_counter("test_reconcile_total", "x", "controller,result"), c);
	base_metric_add(c, 1, "gdb", "success");
	base_metric_add(c, 2, "gdb", "success");
	base_metric_add(c, 1, "gdb", "a\"b");
	base_metric_set(g, 7);
	base_metric_observe(h, 0.05, "switchover");
	base_metric_observe(h, 0.5, "switchover");
	ck_assert(base_metric_value(c, "gdb", "success") == 3);
	base_metrics_render(&out);
	ck_assert_ptr_nonnull(strstr(out.data, "# TYPE test_reconcile_total counter\n"));
	ck_assert_ptr_nonnull(strstr(
		out.data, "test_reconcile_total{controller=\"gdb\",result=\"success\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "result=\"a\\\"b\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "test_depth 7\n"));
	ck_assert_ptr_nonnull(strstr(
		out.data, "test_seconds_bucket{op=\"switchover\",le=\"0.10000000000000001\"} 1\n"));
	ck_assert_ptr_nonnull(
		strstr(out.data, "test_seconds_bucket{op=\"switchover\",le=\"+Inf\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(out.data, "test_seconds_count{op=\"switchover\"} 2\n"));
	base_metric_remove(c, "gdb", "success");
	ck_assert(base_metric_value(c, "gdb", "success") == 0);
	base_buf_release(&out);
}
END_TEST

/* A probe target's series, thousands per family: found, removed and re-added by its labels. */
START_TEST(metrics_keep_thousands_of_series_apart)
{
	struct base_metric *g = base_metric_gauge("test_lag_seconds", "Lag.", "target");
	struct base_buf out = BASE_BUF_INIT(0);
	char name[32];
	size_t lines = 0;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "ns/gdb%04d/reader", i);
		base_metric_set(g, i, name);
	}
	for (int i = 0; i < 3000; i += 2) {
		snprintf(name, sizeof(name), "ns/gdb%04d/reader", i);
		base_metric_remove(g, name);
	}
	base_metric_set(g, -1, "ns/gdb0000/reader");
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "ns/gdb%04d/reader", i);
		ck_assert_msg(base_metric_value(g, name) == (i == 0  ? -1
							     : i % 2 ? i
								     : 0),
			      "%s", name);
	}
	base_metrics_render(&out);
	for (const char *p = out.data; (p = strstr(p, "\ntest_lag_seconds{")); p++)
		lines++;
	ck_assert_uint_eq(lines, 1501);
	base_buf_release(&out);
}
END_TEST

START_TEST(map_finds_replaces_and_removes_among_thousands)
{
	static char keys[5000][16];
	struct base_map m = BASE_MAP_INIT;

	ck_assert_ptr_null(base_map_get(&m, "absent"));
	ck_assert_ptr_null(base_map_remove(&m, "absent"));
	for (int i = 0; i < 5000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "ns/obj%d", i);
		base_map_put(&m, keys[i], keys[i]);
	}
	ck_assert_uint_eq(m.n, 5000);
	for (int i = 0; i < 5000; i += 3)
		ck_assert_ptr_eq(base_map_remove(&m, keys[i]), keys[i]);
	base_map_put(&m, keys[1], keys[2]); /* replaces */
	ck_assert_uint_eq(m.n, 5000 - 1667);
	for (int i = 0; i < 5000; i++) {
		const char *want = i % 3 == 0 ? NULL : i == 1 ? keys[2] : keys[i];

		ck_assert_ptr_eq(base_map_get(&m, keys[i]), want);
	}
	ck_assert_ptr_null(base_map_get(&m, "ns/obj"));
	base_map_release(&m);
	ck_assert_ptr_null(base_map_get(&m, keys[1]));
	ck_assert(base_hash("Orders-East", 11, 1) == base_hash("orders-east", 11, 0));
	ck_assert(base_hash("Orders-East", 11, 0) != base_hash("orders-east", 11, 0));
}
END_TEST

START_TEST(base64_decodes_padded_unpadded_and_wrapped_input)
{
	static const struct {
		const char *in, *out;
	} ok[] = {{"", ""},
		  {"Zg==", "f"},
		  {"Zg", "f"},
		  {"Zm9v", "foo"},
		  {"Zm9vYg", "foob"},
		  {"aHVu\ndGVy\r\nMg==", "hunter2"},
		  {" Zm9vYmFy ", "foobar"}};
	static const char *bad[] = {"Z", "Zg=a", "Zg===", "Zm9v!", "Zm9vY", "Zg==Zg==", "\x80"};
	char *out;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ck_assert_msg(base_base64_decode(ok[i].in, &out, &len) == 0, "refused %s",
			      ok[i].in);
		ck_assert_str_eq(out, ok[i].out);
		ck_assert_uint_eq(len, strlen(ok[i].out));
		free(out);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(base_base64_decode(bad[i], &out, &len) == BASE_EPARSE, "accepted %s",
			      bad[i]);
	ck_assert_int_eq(base_base64_decode("AAE=", &out, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert(out[0] == 0 && out[1] == 1);
	free(out);
}
END_TEST

START_TEST(error_codes_have_names_and_retry_classes)
{
	ck_assert_str_eq(base_errname(BASE_ECONFLICT), "conflict");
	ck_assert_str_eq(base_errname(-999), "internal");
	ck_assert(base_err_retryable(BASE_ETHROTTLED));
	ck_assert(!base_err_retryable(BASE_EINVAL));
}
END_TEST

START_TEST(pool_keeps_every_allocation_until_freed_and_grows_to_large_blocks)
{
	struct base_pool *p = base_pool_new();
	char *s[5000];
	char want[32];
	size_t before;

	ck_assert_uint_eq(base_pool_footprint(p), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(want, sizeof(want), "cluster-%d", i);
		s[i] = base_pool_strdup(p, want);
		if (i % 7 == 0) { /* objects between the strings stay aligned and zeroed */
			long double *d = base_pool_alloc(p, 3 * sizeof(*d));

			ck_assert_uint_eq((uintptr_t)d % _Alignof(max_align_t), 0);
			ck_assert(d[0] == 0 && d[2] == 0);
			d[2] = i;
		}
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(want, sizeof(want), "cluster-%d", i);
		ck_assert_str_eq(s[i], want);
	}
	ck_assert_str_eq(base_pool_strndup(p, "abcdef", 3), "abc");
	ck_assert_ptr_null(base_pool_strdup(p, NULL));
	/* ~75 KB of strings: blocks of 4, 8, 16, 32 and then 64 KiB, not a hundred 4 KiB ones. */
	before = base_pool_footprint(p);
	ck_assert_uint_ge(before, 75000);
	ck_assert_uint_le(before, 4 * BASE_POOL_BLOCK_MAX);
	/* One allocation larger than a block gets a block of its own. */
	memset(base_pool_alloc(p, 3 * BASE_POOL_BLOCK_MAX), 0xab, 3 * BASE_POOL_BLOCK_MAX);
	ck_assert_uint_ge(base_pool_footprint(p), before + 3 * BASE_POOL_BLOCK_MAX);
	ck_assert_str_eq(s[4999], "cluster-4999");
	base_pool_free(p);
	base_pool_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("base");
	TCase *tc = tcase_create("base");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, buf_refuses_growth_past_its_cap_and_keeps_content);
	tcase_add_test(tc, buf_detach_hands_over_ownership);
	tcase_add_test(tc, xsetf_replaces_a_string_with_a_formatted_one);
	tcase_add_test(tc, time_round_trips_kubernetes_and_aws_formats);
	tcase_add_test(tc, time_rejects_malformed_timestamps);
	tcase_add_test(tc, backoff_full_jitter_stays_within_the_capped_window);
	tcase_add_test(tc, backoff_jittered_growth_matches_reflector_shape);
	tcase_add_test(tc, log_redacts_secret_keys_and_quotes_values);
	tcase_add_test(tc, log_context_names_the_object_on_every_line_of_its_thread);
	tcase_add_test(tc, metrics_render_in_prometheus_text_format);
	tcase_add_test(tc, metrics_keep_thousands_of_series_apart);
	tcase_add_test(tc, map_finds_replaces_and_removes_among_thousands);
	tcase_add_test(tc, base64_decodes_padded_unpadded_and_wrapped_input);
	tcase_add_test(tc, error_codes_have_names_and_retry_classes);
	tcase_add_test(tc, buf_large_enough_to_be_a_mapping_grows_detaches_and_consumes);
	tcase_add_test(tc, pool_keeps_every_allocation_until_freed_and_grows_to_large_blocks);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
