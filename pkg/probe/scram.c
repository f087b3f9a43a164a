/* A cap on the SCRAM iteration count a server may ask for (scram.h). */
#include "pkg/probe/scram.h"

#include <stdint.h>
#include <string.h>

#define AUTH_SASL_CONTINUE 11
#define MAX_AUTH_MESSAGE (PROBE_SCRAM_PEEK - 1)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The i= attribute of a server-first message body, or -1 when it has none or it is malformed. */
static long iterations(const unsigned char *s, size_t n)
{
	size_t i = 0;
	long v = 0;

	/* Attributes are "x=value" separated by commas; i= is never first (r= is). */
	while (i < n) {
		if (i + 1 < n && s[i] == 'i' && s[i + 1] == '=' && (i == 0 || s[i - 1] == ',')) {
			size_t j = i + 2;

			if (j >= n || s[j] < '0' || s[j] > '9')
				return -1;
			for (; j < n && s[j] >= '0' && s[j] <= '9'; j++) {
				if (v > 1000000000L)
					return 2000000000L; /* saturate: far over any cap */
				v = v * 10 + (s[j] - '0');
			}
			return v;
		}
		i++;
	}
	return -1;
}

enum probe_scram_verdict probe_scram_check(const unsigned char *buf, size_t n, long max)
{
	size_t at = 0;

	if (n >= PROBE_SCRAM_PEEK)
		return PROBE_SCRAM_REFUSE;

	while (at < n) {
		uint32_t len;

		if (n - at < 5)
			return PROBE_SCRAM_WAIT;
		len = be32(buf + at + 1);
		if (len < 4 || len > MAX_AUTH_MESSAGE)
			return PROBE_SCRAM_REFUSE;
		if (buf[at] == 'R' && len >= 8) {
			if (n - at < 9)
				return PROBE_SCRAM_WAIT;
			if (be32(buf + at + 5) == AUTH_SASL_CONTINUE) {
				long it;

				if (n - at < 1 + (size_t)len)
					return PROBE_SCRAM_WAIT;
				it = iterations(buf + at + 9, len - 8);
				if (it > max)
					return PROBE_SCRAM_REFUSE;
			}
		}
		if (n - at < 1 + (size_t)len)
			return PROBE_SCRAM_WAIT;
		at += 1 + len;
	}
	return PROBE_SCRAM_OK;
}
