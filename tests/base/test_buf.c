/*
 * pkg/base/buf: the capped buffer: growth past the cap refused, mappings for large buffers, detach hands over ownership.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "tests/check_main.h"

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

GDB_CHECK_MAIN("base_buf", 20, buf_refuses_growth_past_its_cap_and_keeps_content,
	       buf_large_enough_to_be_a_mapping_grows_detaches_and_consumes,
	       buf_detach_hands_over_ownership)
