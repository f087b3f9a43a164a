/*
 * wire_server.h - a scripted HTTP/1.1 server on 127.0.0.1 for pkg/kube's wire-fault
 * tests: it produces what a real apiserver rarely does on demand (events split
 * across chunks, oversized lines, streams cut mid-event, 429 with Retry-After,
 * 500 storms, 410 ERROR events).
 *
 * The server serves one connection at a time and closes each after its
 * response ("Connection: close") unless keepalive is set; each test installs a
 * handler that writes the raw response for a request line. client_for() is a
 * kube client of it; collect() records watch events as "TYPE name".
 */
#ifndef TESTS_KUBE_WIRE_SERVER_H
#define TESTS_KUBE_WIRE_SERVER_H

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"

struct server;
typedef void (*handler_fn)(struct server *s, int fd, const char *method, const char *target);

struct server {
	int lfd, port;
	pthread_t thread;
	atomic_int stop;
	atomic_int requests;
	atomic_int accepts;
	int keepalive; /* serve further requests on a connection */
	handler_fn handler;
	void *ud;
	pthread_mutex_t mu;
	int64_t times[64]; /* monotonic ms of each request */
};

static inline void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static inline void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static inline void send_chunk(int fd, const char *data, size_t n)
{
	char hdr[32];

	snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
	send_str(fd, hdr);
	send_all(fd, data, n);
	send_str(fd, "\r\n");
}

static int keepalive_responses;

static inline void send_response(int fd, int code, const char *extra_headers, const char *body)
{
	char *r = xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
			    "%sContent-Length: %zu\r\n\r\n%s",
			    code, keepalive_responses ? "" : "Connection: close\r\n",
			    extra_headers ? extra_headers : "", strlen(body), body);

	send_str(fd, r);
	free(r);
}

static inline void start_chunked(int fd)
{
	send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

/* Blocks until the peer closes (or the server stops). */
static inline void wait_peer_close(struct server *s, int fd)
{
	char buf[256];

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {fd, POLLIN, 0};

		if (poll(&p, 1, 100) > 0) {
			if (recv(fd, buf, sizeof(buf), 0) <= 0)
				return;
		}
	}
}

static inline void *serve(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = {s->lfd, POLLIN, 0};
		char req[8192], method[16], target[4096];
		size_t len = 0;
		int fd;

		if (poll(&p, 1, 100) <= 0)
			continue;
		fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		atomic_fetch_add(&s->accepts, 1);
		do {
			len = 0;
			req[0] = '\0';
			/* Read one request head (bodies are small and ignored). */
			while (len < sizeof(req) - 1 && !atomic_load(&s->stop)) {
				struct pollfd cp = {fd, POLLIN, 0};
				ssize_t r;

				if (poll(&cp, 1, 100) <= 0)
					continue;
				r = recv(fd, req + len, sizeof(req) - 1 - len, 0);
				if (r <= 0)
					break;
				len += (size_t)r;
				req[len] = '\0';
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			if (sscanf(req, "%15s %4095s", method, target) != 2)
				break;
			{
				int n = atomic_fetch_add(&s->requests, 1);

				pthread_mutex_lock(&s->mu);
				if (n < 64)
					s->times[n] = base_now_mono_ms();
				pthread_mutex_unlock(&s->mu);
			}
			s->handler(s, fd, method, target);
		} while (s->keepalive && !atomic_load(&s->stop));
		close(fd);
	}
	return NULL;
}

static inline void server_start(struct server *s, handler_fn h, void *ud)
{
	struct sockaddr_in a = {0};
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(s, 0, sizeof(*s));
	s->handler = h;
	s->ud = ud;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s->lfd, 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->lfd, 16), 0);
	getsockname(s->lfd, (struct sockaddr *)&a, &alen);
	s->port = ntohs(a.sin_port);
	pthread_create(&s->thread, NULL, serve, s);
}

static inline void server_stop(struct server *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	pthread_mutex_destroy(&s->mu);
}

/* A kube client of s whose requests time out after timeout_ms. */
static inline struct kube_client *client_for_timeout(struct server *s, int timeout_ms)
{
	struct kube_config *cfg;
	struct kube_client *c;
	char *msg = NULL;
	char *kc = xasprintf("current-context: t\n"
			     "contexts: [{name: t, context: {cluster: t, user: t}}]\n"
			     "clusters: [{name: t, cluster: {server: 'http://127.0.0.1:%d'}}]\n"
			     "users: [{name: t, user: {token: wire-test}}]\n",
			     s->port);
	struct kube_client_opts o = {.timeout_ms = timeout_ms};

	ck_assert_int_eq(
		kube_config_load_kubeconfig_data(kc, strlen(kc), "wire", NULL, NULL, &cfg, &msg),
		0);
	free(kc);
	ck_assert_int_eq(kube_client_new(cfg, &o, &c), 0);
	return c;
}

static inline struct kube_client *client_for(struct server *s)
{
	return client_for_timeout(s, 5000);
}

struct events {
	json_t *names;
};

static inline int collect(void *ud, enum kube_event_type type, json_t *obj)
{
	struct events *e = ud;
	const char *name =
		json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

	json_array_append_new(e->names,
			      json_sprintf("%s %s", kube_event_type_name(type), name ? name : "-"));
	return 0;
}

/* Answers every request with a 500. */
static inline void h_500(struct server *s, int fd, const char *method, const char *target)
{
	(void)s, (void)method, (void)target;
	send_response(fd, 500, NULL,
		      "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"InternalError\","
		      "\"message\":\"etcd is sad\",\"code\":500}");
}

#define EV(type, name, rv)                                                                         \
	"{\"type\":\"" type "\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}}\n"

#endif
