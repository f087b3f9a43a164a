/*
 * pkg/base/timeutil: RFC 3339 times in the Kubernetes and AWS formats; malformed ones refused.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_timeutil", 20, time_round_trips_kubernetes_and_aws_formats,
	       time_rejects_malformed_timestamps)
