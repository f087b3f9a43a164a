/*
 * pkg/base/metrics: the Prometheus text rendering; thousands of series kept apart.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_metrics", 20, metrics_render_in_prometheus_text_format,
	       metrics_keep_thousands_of_series_apart)
