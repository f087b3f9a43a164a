/*
 * The runner every Check suite shares: one suite with one test case, each
 * test forked (so one crash fails one test), a per-test timeout, and an exit
 * status for ctest.
 *
 *	START_TEST(store_relist_reports_exactly_the_differences) { ... } END_TEST
 *	GDB_CHECK_MAIN("kube_store", 20, store_relist_reports_exactly_the_differences)
 *	GDB_CHECK_MAIN_FIXTURE("x", 20, setup, teardown, test_a, test_b)
 */
#ifndef GDB_TESTS_CHECK_MAIN_H
#define GDB_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int gdb_check_run(const char *name, double timeout_s, SFun setup, SFun teardown,
				const TTest *const *tests, size_t n)
{
	Suite *s = suite_create(name);
	TCase *tc = tcase_create("all");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, timeout_s);
	if (setup || teardown)
		tcase_add_checked_fixture(tc, setup, teardown);
	for (size_t i = 0; i < n; i++)
		tcase_add_test(tc, tests[i]);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#define GDB_CHECK_MAIN(name, timeout_s, ...)                                                       \
	GDB_CHECK_MAIN_FIXTURE(name, timeout_s, NULL, NULL, __VA_ARGS__)

/* The same, with setup and teardown run in each test's forked child (a checked fixture). */
#define GDB_CHECK_MAIN_FIXTURE(name, timeout_s, setup, teardown, ...)                              \
	int main(void)                                                                             \
	{                                                                                          \
		const TTest *const tests[] = {__VA_ARGS__};                                        \
		return gdb_check_run(name, timeout_s, setup, teardown, tests,                      \
				     sizeof(tests) / sizeof(*tests));                              \
	}

#endif
