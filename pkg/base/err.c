/*
 * Error code names and descriptions: one table indexed by the negated code.
 */
#include "pkg/base/err.h"

#include <stddef.h>

static const struct {
	const char *name;
	const char *text;
} errors[] = {
	{"ok", "success"},
	{"invalid", "invalid argument or request"},
	{"not_found", "not found"},
	{"exists", "already exists"},
	{"conflict", "conflict"},
	{"gone", "resource version expired"},
	{"forbidden", "forbidden"},
	{"unauthorized", "unauthorized"},
	{"throttled", "throttled"},
	{"transport", "transport error"},
	{"timeout", "timed out"},
	{"server", "server error"},
	{"too_big", "input too large"},
	{"parse", "malformed input"},
	{"io", "I/O error"},
	{"canceled", "canceled"},
	{"internal", "internal error"},
};

static int index_of(int code)
{
	int i = -code;

	if (i < 0 || (size_t)i >= sizeof(errors) / sizeof(errors[0]))
		return (int)(sizeof(errors) / sizeof(errors[0])) - 1;
	return i;
}

const char *base_strerror(int code)
{
	return errors[index_of(code)].text;
}

const char *base_errname(int code)
{
	return errors[index_of(code)].name;
}

int base_err_retryable(int code)
{
	switch (code) {
	case BASE_ETHROTTLED:
	case BASE_ETRANSPORT:
	case BASE_ETIMEDOUT:
	case BASE_ESERVER:
		return 1;
	default:
		return 0;
	}
}
