/*
 * Status decoding. The body is untrusted: it is parsed with a size limit the
 * caller already enforced, and only a few string/integer fields are read.
 * Strings are copied truncated into fixed arrays, so nothing is allocated that
 * outlives the call.
 */
#include "pkg/kube/status.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/err.h"

void kube_status_clear(struct kube_status *st)
{
	if (st)
		memset(st, 0, sizeof(*st));
}

int kube_status_code_to_err(int http_code, const char *reason)
{
	if (reason && !strcmp(reason, "AlreadyExists"))
		return BASE_EEXIST;
	if (reason && (!strcmp(reason, "Expired") || !strcmp(reason, "Gone")))
		return BASE_EGONE;
	switch (http_code) {
	case 400:
	case 422:
		return BASE_EINVAL;
	case 401:
		return BASE_EUNAUTHORIZED;
	case 403:
		return BASE_EFORBIDDEN;
	case 404:
		return BASE_ENOTFOUND;
	case 409:
		return BASE_ECONFLICT;
	case 410:
		return BASE_EGONE;
	case 429:
		return BASE_ETHROTTLED;
	case 504:
		return BASE_ETIMEDOUT;
	default:
		break;
	}
	if (reason && !strcmp(reason, "Timeout"))
		return BASE_ETIMEDOUT;
	if (http_code >= 500 && http_code <= 599)
		return BASE_ESERVER;
	return BASE_EINTERNAL;
}

/* Copies a printable prefix of s (n bytes) into dst; control bytes become '?'. */
static void copy_text(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i;

	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	dst[n] = '\0';
}

int kube_status_decode(int http_code, const char *body, size_t n, struct kube_status *st)
{
	json_t *root = NULL;
	const char *reason = NULL, *message = NULL;
	int code = http_code;
	json_int_t retry = 0;
	int rc;

	if (body && n > 0)
		root = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(root)) {
		json_t *v = json_object_get(root, "kind");

		if (json_is_string(v) && !strcmp(json_string_value(v), "Status")) {
			reason = json_string_value(json_object_get(root, "reason"));
			message = json_string_value(json_object_get(root, "message"));
			v = json_object_get(root, "code");
			if (json_is_integer(v) && http_code == 0 && json_integer_value(v) > 0 &&
			    json_integer_value(v) < 1000)
				code = (int)json_integer_value(v);
			v = json_object_get(json_object_get(root, "details"), "retryAfterSeconds");
			if (json_is_integer(v) && json_integer_value(v) > 0)
				retry = json_integer_value(v);
		}
	}
	rc = kube_status_code_to_err(code, reason);
	if (st) {
		int keep_retry = st->retry_after_s;

		memset(st, 0, sizeof(*st));
		st->code = code;
		if (reason)
			copy_text(st->reason, sizeof(st->reason), reason, strlen(reason));
		if (message)
			copy_text(st->message, sizeof(st->message), message, strlen(message));
		else if (body && n > 0)
			copy_text(st->message, sizeof(st->message), body, n);
		if (keep_retry > 0)
			st->retry_after_s = keep_retry;
		else if (retry > 0)
			st->retry_after_s = retry > 3600 ? 3600 : (int)retry;
	}
	json_decref(root);
	return rc;
}
