/*
 * server.h - the process's HTTP endpoints: Prometheus metrics and the
 * liveness/readiness probes, served as controller-runtime serves them.
 *
 * A server is one listening socket with a set of endpoints:
 *
 *   SERVER_ENDPOINT_METRICS  /metrics: base_metrics_render() in the text
 *                            exposition format 0.0.4
 *   SERVER_ENDPOINT_HEALTH   /healthz, /readyz, /healthz/<check>,
 *                            /readyz/<check> (see health.h)
 *
 * A controller runs two (metrics on :8080, probes on :8081) or, when both
 * addresses are equal, one with both sets. Only GET and HEAD are served
 * (405 otherwise, with Allow); unknown paths get 404. Requests are handled on
 * libmicrohttpd's internal thread (a thread per connection when /metrics has
 * an authorizer, see struct server_opts); the server never prints or logs.
 *
 * Addresses are "host:port" as Go's net.Listen takes them: ":8080" (every
 * interface), "127.0.0.1:8080", "[::1]:8080", "localhost:8080"; port 0 picks a
 * free port (server_port() tells which).
 *
 * Thread-safety: server_start and server_stop are called by one owner; the
 * health registry and the metrics registry may be updated from any thread
 * while the server runs.
 */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include "pkg/server/health.h"

/*
 * Connections a server holds at once, in all and from one client address (the
 * kubelet's probes come from the node's address, Prometheus from its pod's).
 * Idle ones are closed after SERVER_CONNECTION_TIMEOUT_S.
 */
#define SERVER_MAX_CONNECTIONS 64
#define SERVER_MAX_CONNECTIONS_PER_IP 8
#define SERVER_CONNECTION_TIMEOUT_S 15

enum server_endpoints {
	SERVER_ENDPOINT_METRICS = 1 << 0,
	SERVER_ENDPOINT_HEALTH = 1 << 1,
};

struct server;

/*
 * Splits "host:port" into a numeric socket address (see above). Returns 0 or
 * BASE_EINVAL; used to validate flags before anything starts.
 */
int server_parse_address(const char *addr, struct sockaddr_storage *sa, unsigned *salen);

/*
 * Binds addr and starts serving the endpoints (a mask of enum
 * server_endpoints). health is borrowed and must outlive the server; it may be
 * NULL only without SERVER_ENDPOINT_HEALTH. On success *out is the running
 * server. Returns 0, BASE_EINVAL (bad address or arguments), BASE_EEXIST (the
 * address is in use) or BASE_EIO (any other socket or start-up failure).
 */
int server_start(const char *addr, unsigned endpoints, struct server_health *health,
		 struct server **out);

/*
 * Who may read /metrics (the health endpoints stay open: the kubelet sends no
 * token). Called for each /metrics request, before anything is rendered, on
 * the request's own thread (a server with an authorizer runs a thread per
 * connection, so a slow answer holds up no other request). token is the
 * request's bearer token, NULL without one. Returns 200 to serve, or the
 * status to answer with (401, 403, 500) and a one-line reason in why (size n)
 * for the body.
 */
typedef int (*server_authorize_fn)(void *ud, const char *token, char *why, size_t n);

struct server_opts {
	server_authorize_fn authorize_metrics; /* NULL: /metrics is open */
	void *ud;
};

/* server_start with options (opts may be NULL: as server_start). */
int server_start_opts(const char *addr, unsigned endpoints, struct server_health *health,
		      const struct server_opts *opts, struct server **out);

/* The bound port (useful after binding port 0). */
uint16_t server_port(const struct server *s);

/*
 * Stops accepting, waits for in-flight requests to finish, closes the socket
 * and frees the server. NULL is fine.
 */
void server_stop(struct server *s);

#endif
