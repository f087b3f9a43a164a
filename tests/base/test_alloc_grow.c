/*
 * Unit tests for ALLOC_GROW and xreallocarray (pkg/base/alloc.h): arrays that
 * grow by appends keep their content at amortised cost, and a size that would
 * overflow aborts instead of allocating too little.
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "pkg/base/alloc.h"

START_TEST(alloc_grow_appends_keep_content_with_few_reallocations)
{
	uint32_t *a = NULL;
	size_t n = 0, alloc = 0, growths = 0;

	for (uint32_t i = 0; i < 100000; i++) {
		size_t before = alloc;

		ALLOC_GROW(a, n + 1, alloc);
		ck_assert_uint_ge(alloc, n + 1);
		growths += alloc != before;
		a[n++] = i * 7;
	}
	for (uint32_t i = 0; i < 100000; i++)
		ck_assert_uint_eq(a[i], i * 7);
	/* Geometric growth: about log_1.5(100000 / 24) steps, not one per append. */
	ck_assert_uint_le(growths, 30);
	free(a);
}
END_TEST

START_TEST(alloc_grow_takes_a_large_request_at_once_and_ignores_a_small_one)
{
	char *a = NULL, *before;
	size_t alloc = 0;

	ALLOC_GROW(a, 1000, alloc);
	ck_assert_uint_eq(alloc, 1000); /* more than one growth step: exactly what was asked */
	a[999] = 'x';
	before = a;
	ALLOC_GROW(a, 1000, alloc);
	ALLOC_GROW(a, 10, alloc);
	ck_assert_ptr_eq(a, before);
	ck_assert_uint_eq(alloc, 1000);
	ALLOC_GROW(a, 1001, alloc);
	ck_assert_uint_eq(alloc, (1000 + 16) * 3 / 2);
	ck_assert_int_eq(a[999], 'x');
	free(a);
}
END_TEST

START_TEST(realloc_array_keeps_a_second_array_in_step)
{
	uint64_t *keys = NULL;
	uint16_t *vals = NULL;
	size_t n = 0, alloc = 0;

	for (uint16_t i = 0; i < 5000; i++) {
		if (n + 1 > alloc) {
			ALLOC_GROW(keys, n + 1, alloc);
			REALLOC_ARRAY(vals, alloc);
		}
		keys[n] = (uint64_t)i << 40;
		vals[n++] = i;
	}
	for (uint16_t i = 0; i < 5000; i++)
		ck_assert(keys[i] == (uint64_t)i << 40 && vals[i] == i);
	free(keys);
	free(vals);
}
END_TEST

START_TEST(alloc_grow_aborts_when_the_size_overflows)
{
	uint64_t *a = NULL;
	size_t alloc = 0;

	/* SIZE_MAX / 4 items of 8 bytes: the byte count wraps; it must not allocate. */
	ALLOC_GROW(a, SIZE_MAX / 4, alloc);
	free(a);
}
END_TEST

START_TEST(xreallocarray_aborts_when_the_size_overflows)
{
	void *p = xreallocarray(NULL, SIZE_MAX / 2 + 1, 2);

	free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("alloc_grow");
	TCase *tc = tcase_create("alloc_grow");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, alloc_grow_appends_keep_content_with_few_reallocations);
	tcase_add_test(tc, alloc_grow_takes_a_large_request_at_once_and_ignores_a_small_one);
	tcase_add_test(tc, realloc_array_keeps_a_second_array_in_step);
	tcase_add_test_raise_signal(tc, alloc_grow_aborts_when_the_size_overflows, SIGABRT);
	tcase_add_test_raise_signal(tc, xreallocarray_aborts_when_the_size_overflows, SIGABRT);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
