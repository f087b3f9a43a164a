/*
 * pkg/base/backoff: backoff bounds: full jitter within the capped window, the reflector's growth.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_backoff", 20, backoff_full_jitter_stays_within_the_capped_window,
	       backoff_jittered_growth_matches_reflector_shape)
