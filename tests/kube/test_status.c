/*
 * pkg/kube/status: Status bodies and HTTP codes map to the base error codes callers act on.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

START_TEST(status_bodies_map_to_error_codes)
{
	struct kube_status st = {0};
	const char *conflict =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
		"\"message\":\"the object has been modified\",\"reason\":\"Conflict\","
		"\"code\":409}";
	const char *exists = "{\"kind\":\"Status\",\"reason\":\"AlreadyExists\",\"code\":409}";
	const char *throttled = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429,"
				"\"details\":{\"retryAfterSeconds\":7}}";

	ck_assert_int_eq(kube_status_decode(409, conflict, strlen(conflict), &st), BASE_ECONFLICT);
	ck_assert_str_eq(st.reason, "Conflict");
	ck_assert_str_eq(st.message, "the object has been modified");
	ck_assert_int_eq(st.code, 409);
	ck_assert_int_eq(kube_status_decode(409, exists, strlen(exists), &st), BASE_EEXIST);
	ck_assert_int_eq(kube_status_decode(429, throttled, strlen(throttled), &st),
			 BASE_ETHROTTLED);
	ck_assert_int_eq(st.retry_after_s, 7);
	ck_assert_int_eq(kube_status_decode(410, "", 0, &st), BASE_EGONE);
	ck_assert_int_eq(kube_status_decode(404, NULL, 0, &st), BASE_ENOTFOUND);
	ck_assert_int_eq(kube_status_decode(422, "{}", 2, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_status_decode(400, "{}", 2, &st), BASE_EINVAL);
	ck_assert_int_eq(kube_status_decode(401, "{}", 2, &st), BASE_EUNAUTHORIZED);
	ck_assert_int_eq(kube_status_decode(403, "{}", 2, &st), BASE_EFORBIDDEN);
	ck_assert_int_eq(kube_status_decode(503, "upstream\nfailed", 15, &st), BASE_ESERVER);
	ck_assert_str_eq(st.message, "upstream?failed");
	ck_assert_int_eq(kube_status_decode(504, NULL, 0, NULL), BASE_ETIMEDOUT);
}
END_TEST

GDB_CHECK_MAIN("kube_status", 20, status_bodies_map_to_error_codes)
