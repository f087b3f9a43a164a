/*
 * Fuzz target for pkg/base's parsers of untrusted text: base64 (Secret data,
 * kubeconfig *-data, SecretBinary) and RFC 3339 timestamps (every time a
 * server sends). The first byte picks the parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/timeutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *out;
	size_t len;
	int64_t ms;

	if (size == 0)
		return 0;
	text = xstrndup((const char *)data + 1, size - 1);
	if (data[0] & 1) {
		if (base_base64_decode(text, &out, &len) == 0) {
			BUG_ON(out[len] != '\0');
			free(out);
		}
	} else if (base_time_parse(text, &ms) == 0) {
		char again[40];

		BUG_ON(base_time_format_ms(ms, again, sizeof(again)) != 0);
	}
	free(text);
	return 0;
}
