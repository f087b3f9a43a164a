/*
 * pkg/server's connection limits: one client (one source address) that opens
 * and holds as many connections as the server takes cannot keep another
 * client's /healthz from being answered. Clients are told apart by address:
 * the hog connects from 127.0.0.2, the kubelet from 127.0.0.3 (all of
 * 127.0.0.0/8 is loopback on Linux).
 */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/server/health.h"
#include "pkg/server/server.h"

/* A TCP connection from src to 127.0.0.1:port, or -1. */
static int connect_from(const char *src, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, src, &a.sin_addr);
	ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind %s: %s", src,
		      strerror(errno));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	a.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* GET /healthz from src as the kubelet would (a new connection); the status or -1. */
static long healthz_from(const char *src, uint16_t port)
{
	CURL *c = curl_easy_init();
	char url[64];
	long status = -1;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_INTERFACE, src);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L); /* the Deployment's probe timeout */
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	return status;
}

/* Whether the server closed fd: waits up to 5 s for EOF or a reset. */
static int closed_by_server(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;

	if (poll(&p, 1, 5000) != 1)
		return 0;
	return recv(fd, &b, 1, 0) <= 0;
}

START_TEST(one_client_holding_connections_cannot_starve_the_probes)
{
	struct server_health *h = server_health_new();
	int hog[SERVER_MAX_CONNECTIONS];
	struct server *s;
	size_t n = 0;

	ck_assert_int_eq(server_start("127.0.0.1:0", SERVER_ENDPOINT_HEALTH, h, &s), 0);
	/* The hog opens as many connections as the whole server takes, and says nothing. */
	for (size_t i = 0; i < SERVER_MAX_CONNECTIONS; i++) {
		int fd = connect_from("127.0.0.2", server_port(s));

		if (fd >= 0)
			hog[n++] = fd;
	}
	ck_assert_uint_gt(n, SERVER_MAX_CONNECTIONS_PER_IP);

	ck_assert_int_eq(healthz_from("127.0.0.3", server_port(s)), 200);

	/* The server keeps the hog's first connections and closed the rest. */
	for (size_t i = SERVER_MAX_CONNECTIONS_PER_IP; i < n; i++)
		ck_assert_msg(closed_by_server(hog[i]), "connection %zu of one client left open",
			      i);
	for (size_t i = 0; i < n; i++)
		close(hog[i]);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(a_client_within_its_limit_is_served)
{
	struct server_health *h = server_health_new();
	int held[SERVER_MAX_CONNECTIONS_PER_IP - 1];
	struct server *s;

	ck_assert_int_eq(server_start("127.0.0.1:0", SERVER_ENDPOINT_HEALTH, h, &s), 0);
	/* Prometheus keeps a connection open between scrapes: a few held ones are fine. */
	for (size_t i = 0; i < ARRAY_SIZE(held); i++)
		ck_assert_int_ge(held[i] = connect_from("127.0.0.2", server_port(s)), 0);
	ck_assert_int_eq(healthz_from("127.0.0.2", server_port(s)), 200);
	for (size_t i = 0; i < ARRAY_SIZE(held); i++)
		close(held[i]);
	server_stop(s);
	server_health_free(h);
}
END_TEST

int main(void)
{
	Suite *suite = suite_create("server_limits");
	TCase *tc = tcase_create("limits");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_ALL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, one_client_holding_connections_cannot_starve_the_probes);
	tcase_add_test(tc, a_client_within_its_limit_is_served);
	suite_add_tcase(suite, tc);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
