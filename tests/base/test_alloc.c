/*
 * pkg/base/alloc: the allocation helpers: xsetf replaces a string with a formatted one.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_alloc", 20, xsetf_replaces_a_string_with_a_formatted_one)
