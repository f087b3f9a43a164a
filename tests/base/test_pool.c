/*
 * pkg/base/pool: the pool allocator: every allocation kept until freed, growth to large blocks.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/pool.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_pool", 20, pool_keeps_every_allocation_until_freed_and_grows_to_large_blocks)
