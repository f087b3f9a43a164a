/*
 * http_client.h - what pkg/server's tests need to talk to a running server:
 * one HTTP request with libcurl (status, headers, body) and a server started on
 * a free loopback port.
 */
#ifndef TESTS_SERVER_HTTP_CLIENT_H
#define TESTS_SERVER_HTTP_CLIENT_H

#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/server/health.h"
#include "pkg/server/server.h"

struct reply {
	long status;
	struct base_buf body;
	char ctype[128];
	char allow[64];
};

static inline size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	return base_buf_add(&r->body, p, size * n) < 0 ? 0 : size * n;
}

static inline size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (len > 14 && !strncasecmp(p, "Content-Type: ", 14))
		snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)(len - 16), p + 14);
	if (len > 7 && !strncasecmp(p, "Allow: ", 7))
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 9), p + 7);
	return len;
}

/* method: "GET", "HEAD", "POST"... Fills r (release r->body after). */
static inline void request(const char *method, uint16_t port, const char *path, struct reply *r)
{
	CURL *c = curl_easy_init();
	char url[256];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	base_buf_init(&r->body, 1 << 20);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_cleanup(c);
}

static inline struct server *start(unsigned endpoints, struct server_health *h)
{
	struct server *s;
	int ret = server_start("127.0.0.1:0", endpoints, h, &s);

	ck_assert_int_eq(ret, 0);
	ck_assert_uint_gt(server_port(s), 0);
	return s;
}

#endif
