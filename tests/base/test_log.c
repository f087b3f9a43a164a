/*
 * pkg/base/log: log lines: secret keys redacted, values quoted.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "tests/check_main.h"

START_TEST(log_redacts_secret_keys_and_quotes_values)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	base_log_setup(BASE_LOG_INFO, 0, f);
	base_log(BASE_LOG_INFO, "probe failed", "target", "orders east", "password", "hunter2",
		 "aws_secret_access_key", "AKIA", NULL);
	base_log(BASE_LOG_DEBUG, "not shown", NULL);
	fclose(f);
	ck_assert_ptr_nonnull(
		strstr(text, " info probe failed target=\"orders east\" password=[redacted]"));
	ck_assert_ptr_null(strstr(text, "hunter2"));
	ck_assert_ptr_null(strstr(text, "AKIA"));
	ck_assert_ptr_null(strstr(text, "not shown"));
	free(text);

	f = open_memstream(&text, &len);
	base_log_setup(BASE_LOG_DEBUG, 1, f);
	base_log(BASE_LOG_WARN, "quote \"here\"", "token", "abc", "n", "1", NULL);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "\"level\":\"warn\",\"msg\":\"quote "
					   "\\\"here\\\"\",\"token\":\"[redacted]\",\"n\":\"1\"}"));
	free(text);
	base_log_setup(BASE_LOG_INFO, 0, NULL);
}
END_TEST

GDB_CHECK_MAIN("base_log", 20, log_redacts_secret_keys_and_quotes_values)
