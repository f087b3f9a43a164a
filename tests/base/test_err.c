/*
 * pkg/base/err: error codes: names and retry classes.
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

START_TEST(error_codes_have_names_and_retry_classes)
{
	ck_assert_str_eq(base_errname(BASE_ECONFLICT), "conflict");
	ck_assert_str_eq(base_errname(-999), "internal");
	ck_assert(base_err_retryable(BASE_ETHROTTLED));
	ck_assert(!base_err_retryable(BASE_EINVAL));
}
END_TEST

GDB_CHECK_MAIN("base_err", 20, error_codes_have_names_and_retry_classes)
