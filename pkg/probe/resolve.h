/*
 * resolve.h - host name resolution off the prober thread.
 *
 * getaddrinfo() blocks for as long as the configured name servers make it
 * (seconds per attempt when they drop packets), and libpq resolves `host`
 * inside PQconnectPoll, on the calling thread. So the prober resolves names
 * itself, here, with a small pool of threads, and hands libpq the numeric
 * address as `hostaddr` (keeping `host` for TLS name verification). The
 * prober never waits: it submits a request, polls its state, and drops it
 * when its own deadline passes; a resolution that finishes later is
 * discarded. Numeric hosts never reach the pool.
 *
 * A pool thread stuck in getaddrinfo() when the pool is freed finishes on its
 * own and frees the shared state it still holds (reference counted), so
 * probe_resolver_free() never blocks on a hung name server.
 *
 * Thread-safe: every function may be called from any thread.
 */
#ifndef PROBE_RESOLVE_H
#define PROBE_RESOLVE_H

#include <stddef.h>

struct probe_resolver;
struct probe_resolve_req;

/*
 * Starts nthreads (>= 1) resolver threads. After each finished request they
 * write 1 to the eventfd wake_fd (borrowed; it must outlive the pool's use,
 * i.e. stay open until probe_resolver_free returns). 0 or BASE_EIO.
 */
int probe_resolver_new(int nthreads, int wake_fd, struct probe_resolver **out);

/* Stops the pool; threads blocked in getaddrinfo are left to finish. NULL is fine. */
void probe_resolver_free(struct probe_resolver *r);

/* Queues the resolution of host (copied). Never NULL. Release it with probe_resolve_release. */
struct probe_resolve_req *probe_resolve_submit(struct probe_resolver *r, const char *host);

/*
 * The state of req: 0 while pending; 1 when resolved, with the first address
 * (IPv4 preferred) written to addr as text; BASE_ETRANSPORT when the name did
 * not resolve.
 */
int probe_resolve_result(struct probe_resolver *r, struct probe_resolve_req *req, char *addr,
			 size_t n);

/* Gives up req (done or not). NULL is fine. */
void probe_resolve_release(struct probe_resolver *r, struct probe_resolve_req *req);

/* True when host is an IPv4 or IPv6 literal (no resolution needed). */
int probe_host_is_numeric(const char *host);

#endif
