/*
 * A base64 decoder: six bits per character into an accumulator, a byte out
 * for every eight. Rejected input is wiped before it is freed, since what it
 * decoded so far may be part of a secret.
 */
#include "pkg/base/base64.h"

#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

static int value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base_base64_decode(const char *in, char **out, size_t *outlen)
{
	size_t n = strlen(in), o = 0, cap = n / 4 * 3 + 4;
	char *buf = xmalloc(cap);
	unsigned acc = 0;
	int bits = 0, pad = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = value(c);
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		goto bad;
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
bad:
	base_memzero(buf, cap);
	free(buf);
	return BASE_EPARSE;
}
