/*
 * pkg/base/base64: base64 decoding: padded, unpadded and wrapped input.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/err.h"
#include "tests/check_main.h"

START_TEST(base64_decodes_padded_unpadded_and_wrapped_input)
{
	static const struct {
		const char *in, *out;
	} ok[] = {{"", ""},
		  {"Zg==", "f"},
		  {"Zg", "f"},
		  {"Zm9v", "foo"},
		  {"Zm9vYg", "foob"},
		  {"aHVu\ndGVy\r\nMg==", "hunter2"},
		  {" Zm9vYmFy ", "foobar"}};
	static const char *bad[] = {"Z", "Zg=a", "Zg===", "Zm9v!", "Zm9vY", "Zg==Zg==", "\x80"};
	char *out;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		ck_assert_msg(base_base64_decode(ok[i].in, &out, &len) == 0, "refused %s",
			      ok[i].in);
		ck_assert_str_eq(out, ok[i].out);
		ck_assert_uint_eq(len, strlen(ok[i].out));
		free(out);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		ck_assert_msg(base_base64_decode(bad[i], &out, &len) == BASE_EPARSE, "accepted %s",
			      bad[i]);
	ck_assert_int_eq(base_base64_decode("AAE=", &out, &len), 0);
	ck_assert_uint_eq(len, 2);
	ck_assert(out[0] == 0 && out[1] == 1);
	free(out);
}
END_TEST

GDB_CHECK_MAIN("base_base64", 20, base64_decodes_padded_unpadded_and_wrapped_input)
