/*
 * pkg/base/log: log lines: secret keys redacted, values quoted, a thread's context.
 */
#include <check.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "tests/check_main.h"

/* A reconcile's context is on every line its thread logs, and on no other thread's. */
static void *log_from_another_thread(void *arg)
{
	(void)arg;
	base_log(BASE_LOG_INFO, "elsewhere", NULL);
	return NULL;
}

START_TEST(log_context_names_the_object_on_every_line_of_its_thread)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	pthread_t t;

	base_log_setup(BASE_LOG_INFO, 0, f);
	base_log_context_set("namespace", "shop", "name", "orders", "reconcileID", "r-1", NULL);
	base_log(BASE_LOG_INFO, "planned", "action", "Switchover", NULL);
	pthread_create(&t, NULL, log_from_another_thread, NULL);
	pthread_join(t, NULL);
	base_log_context_set("password", "hunter2", NULL);
	base_log(BASE_LOG_INFO, "second", NULL);
	base_log_context_clear();
	base_log(BASE_LOG_INFO, "after", NULL);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(
		text, " planned namespace=shop name=orders reconcileID=r-1 action=Switchover\n"));
	ck_assert_ptr_nonnull(strstr(text, " info elsewhere\n"));
	ck_assert_ptr_nonnull(strstr(text, " second password=[redacted]\n"));
	ck_assert_ptr_nonnull(strstr(text, " info after\n"));
	ck_assert_ptr_null(strstr(text, "hunter2"));
	free(text);
	base_log_setup(BASE_LOG_INFO, 0, NULL);
}
END_TEST

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

GDB_CHECK_MAIN("base_log", 20, log_redacts_secret_keys_and_quotes_values,
	       log_context_names_the_object_on_every_line_of_its_thread)
