/*
 * The HTTP endpoints on libmicrohttpd. We create and bind the listening
 * socket ourselves, so a flag error or a busy port is reported precisely
 * (libmicrohttpd only says "failed"), then hand it to a daemon that runs its
 * own polling thread. The request handler is stateless: it routes by path,
 * renders into a buffer and queues one response, discarding any request body.
 */
#include "pkg/server/server.h"
#include "pkg/server/process.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"

#define SERVER_MAX_EXCLUDES 32
#define SERVER_HOST_MAX 255

struct server {
	struct MHD_Daemon *daemon;
	struct server_opts opts;
	unsigned endpoints;
	struct server_health *health;
	uint16_t port;
};

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v;
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return BASE_EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return BASE_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int server_parse_address(const char *addr, struct sockaddr_storage *sa, unsigned *salen)
{
	char host[SERVER_HOST_MAX + 1];
	const char *colon, *h = addr;
	size_t hlen;
	uint16_t port;

	if (!addr)
		return BASE_EINVAL;
	colon = strrchr(addr, ':');
	if (!colon || parse_port(colon + 1, &port) < 0)
		return BASE_EINVAL;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		h = addr + 1;
		hlen -= 2;
	} else if (memchr(addr, ':', hlen)) {
		return BASE_EINVAL; /* an IPv6 host must be bracketed */
	}
	if (hlen > SERVER_HOST_MAX)
		return BASE_EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	memset(sa, 0, sizeof(*sa));
	if (hlen == 0) {
		/* Every interface; server_start falls back to IPv4 without IPv6. */
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;

		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_any;
		a6->sin6_port = htons(port);
		*salen = sizeof(*a6);
		return 0;
	}
	if (!strcmp(host, "localhost"))
		memcpy(host, "127.0.0.1", sizeof("127.0.0.1"));
	{
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons(port);
			*salen = sizeof(*a4);
			return 0;
		}
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(port);
			*salen = sizeof(*a6);
			return 0;
		}
	}
	return BASE_EINVAL;
}

static int is_any6(const struct sockaddr_storage *sa)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;

	return sa->ss_family == AF_INET6 &&
	       !memcmp(&a6->sin6_addr, &in6addr_any, sizeof(in6addr_any));
}

/* Creates, binds and listens; returns the descriptor or a negative error code. */
static int listen_on(struct sockaddr_storage *sa, unsigned salen)
{
	int fd, one = 1, zero = 0, err;

	fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && is_any6(sa)) {
		/* No IPv6 in this kernel: "every interface" means IPv4's. */
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
		uint16_t port = ((struct sockaddr_in6 *)sa)->sin6_port;

		memset(sa, 0, sizeof(*sa));
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
		a4->sin_port = port;
		salen = sizeof(*a4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return BASE_EIO;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->ss_family == AF_INET6 && is_any6(sa))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)sa, salen) < 0) {
		err = errno == EADDRINUSE      ? BASE_EEXIST
		      : errno == EADDRNOTAVAIL ? BASE_EINVAL
					       : BASE_EIO;
		close(fd);
		return err;
	}
	if (listen(fd, 64) < 0) {
		close(fd);
		return BASE_EIO;
	}
	return fd;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype,
			       struct base_buf *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len;
	char *data = base_buf_detach(body, &len);

	resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

struct query_ctx {
	struct server_probe_query q;
	const char *excludes[SERVER_MAX_EXCLUDES];
};

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_ctx *ctx = cls;

	(void)kind;
	if (!strcmp(key, "verbose"))
		ctx->q.verbose = 1;
	else if (!strcmp(key, "exclude") && value && ctx->q.nexcludes < SERVER_MAX_EXCLUDES)
		ctx->excludes[ctx->q.nexcludes++] = value;
	return MHD_YES;
}

/* Serves /healthz[/name] or /readyz[/name]; rest is what follows the prefix. */
static enum MHD_Result serve_probe(struct server *s, struct MHD_Connection *conn,
				   enum server_probe probe, const char *rest)
{
	static const char ctype[] = "text/plain; charset=utf-8";
	struct base_buf body = BASE_BUF_INIT(0);
	int status;

	if (rest[0] == '\0' || !strcmp(rest, "/")) {
		struct query_ctx ctx;

		memset(&ctx, 0, sizeof(ctx));
		ctx.q.excludes = ctx.excludes;
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_arg, &ctx);
		status = server_health_eval(s->health, probe, &ctx.q, &body);
	} else {
		status = server_health_eval_one(s->health, probe, rest + 1, &body);
	}
	return respond(conn, (unsigned)status, ctype, &body);
}

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer_token(struct MHD_Connection *conn)
{
	const char *h =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!h || strncasecmp(h, "Bearer ", 7))
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h ? h : NULL;
}

static enum MHD_Result serve_metrics(struct server *s, struct MHD_Connection *conn)
{
	struct base_buf body = BASE_BUF_INIT(0);

	if (s->opts.authorize_metrics) {
		char why[512] = "";
		int status =
			s->opts.authorize_metrics(s->opts.ud, bearer_token(conn), why, sizeof(why));

		if (status != MHD_HTTP_OK) {
			base_buf_adds(&body, why);
			base_buf_adds(&body, "\n");
			return respond(conn, (unsigned)status, "text/plain; charset=utf-8", &body);
		}
	}

	server_process_metrics_update();
	base_metrics_render(&body);
	return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &body);
}

static const char *after_prefix(const char *url, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(url, prefix, n) || (url[n] != '\0' && url[n] != '/'))
		return NULL;
	return url + n;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_ctx)
{
	static int seen;
	struct server *s = cls;
	struct base_buf body = BASE_BUF_INIT(0);
	const char *rest;

	(void)version;
	(void)upload_data;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		base_buf_adds(&body, "method not allowed\n");
		return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
			       &body);
	}
	/* First call: headers only. Later calls carry any body, which we ignore. */
	if (!*req_ctx) {
		*req_ctx = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}

	if ((s->endpoints & SERVER_ENDPOINT_METRICS) && !strcmp(url, "/metrics"))
		return serve_metrics(s, conn);
	if (s->endpoints & SERVER_ENDPOINT_HEALTH) {
		if ((rest = after_prefix(url, "/healthz")))
			return serve_probe(s, conn, SERVER_HEALTHZ, rest);
		if ((rest = after_prefix(url, "/readyz")))
			return serve_probe(s, conn, SERVER_READYZ, rest);
	}
	base_buf_adds(&body, "404 page not found\n");
	return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &body);
}

int server_start(const char *addr, unsigned endpoints, struct server_health *health,
		 struct server **out)
{
	return server_start_opts(addr, endpoints, health, NULL, out);
}

int server_start_opts(const char *addr, unsigned endpoints, struct server_health *health,
		      const struct server_opts *opts, struct server **out)
{
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	unsigned salen;
	struct server *s;
	int fd, ret;

	*out = NULL;
	if (!endpoints ||
	    (endpoints & ~(unsigned)(SERVER_ENDPOINT_METRICS | SERVER_ENDPOINT_HEALTH)) ||
	    ((endpoints & SERVER_ENDPOINT_HEALTH) && !health))
		return BASE_EINVAL;
	ret = server_parse_address(addr, &sa, &salen);
	if (ret < 0)
		return ret;
	fd = listen_on(&sa, salen);
	if (fd < 0)
		return fd;

	s = xcalloc(1, sizeof(*s));
	s->endpoints = endpoints;
	s->health = health;
	if (opts)
		s->opts = *opts;
	/* An authorizer may wait on the apiserver: one thread per connection. */
	if (s->opts.authorize_metrics)
		flags |= MHD_USE_THREAD_PER_CONNECTION;
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		ret = BASE_EIO;
		goto fail;
	}
	s->port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
						: ((struct sockaddr_in6 *)&sa)->sin6_port);
	s->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_MAX_CONNECTIONS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)SERVER_MAX_CONNECTIONS_PER_IP,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_CONNECTION_TIMEOUT_S,
		MHD_OPTION_END);
	if (!s->daemon) {
		ret = BASE_EIO;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	close(fd);
	free(s);
	return ret;
}

uint16_t server_port(const struct server *s)
{
	return s->port;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	/* Closes the listening socket too, as it was not quiesced. */
	MHD_stop_daemon(s->daemon);
	free(s);
}
