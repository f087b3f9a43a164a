/*
 * pkg/base/map: the string map: find, replace and remove among thousands of keys.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/map.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_map", 20, map_finds_replaces_and_removes_among_thousands)
