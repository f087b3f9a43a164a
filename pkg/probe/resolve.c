/*
 * The resolver pool: a FIFO of requests under one mutex, shared by the pool
 * owner and its threads through a reference count (the owner holds one,
 * every thread one). A request is referenced by its submitter and, while
 * queued or being resolved, by the pool; whoever drops the last reference
 * frees it. Threads are detached: nothing ever waits for getaddrinfo().
 */
#include "pkg/probe/resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

struct probe_resolve_req {
	struct probe_resolve_req *next; /* queue link */
	char *host;
	int refs;
	int state; /* 0 pending, 1 done, BASE_ETRANSPORT failed */
	char addr[INET6_ADDRSTRLEN];
};

struct probe_resolver {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct probe_resolve_req *head, *tail;
	int refs; /* the owner + every live thread */
	int stopping;
	int wake_fd;
};

static void req_unref_locked(struct probe_resolve_req *req)
{
	if (--req->refs == 0) {
		free(req->host);
		free(req);
	}
}

static void pool_unref_locked(struct probe_resolver *r)
{
	struct probe_resolve_req *req;

	if (--r->refs > 0) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	while ((req = r->head)) {
		r->head = req->next;
		req_unref_locked(req);
	}
	pthread_mutex_unlock(&r->lock);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

static int lookup(const char *host, char *addr, size_t n)
{
	struct addrinfo hints, *res = NULL, *ai, *pick = NULL;
	int ret = BASE_ETRANSPORT;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return BASE_ETRANSPORT;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			pick = ai;
			break;
		}
		if (!pick && ai->ai_family == AF_INET6)
			pick = ai;
	}
	if (!pick)
		goto out;
	if (pick->ai_family == AF_INET) {
		if (!inet_ntop(AF_INET, &((struct sockaddr_in *)pick->ai_addr)->sin_addr, addr, n))
			goto out;
	} else if (!inet_ntop(AF_INET6, &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, addr,
			      n)) {
		goto out;
	}
	ret = 1;
out:
	freeaddrinfo(res);
	return ret;
}

static void *worker(void *arg)
{
	struct probe_resolver *r = arg;
	struct probe_resolve_req *req;
	char addr[INET6_ADDRSTRLEN];
	uint64_t one = 1;
	int state;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		while (!r->head && !r->stopping)
			pthread_cond_wait(&r->cond, &r->lock);
		if (r->stopping)
			break;
		req = r->head;
		r->head = req->next;
		if (!r->head)
			r->tail = NULL;
		if (req->refs == 1) { /* the submitter gave up already */
			req_unref_locked(req);
			continue;
		}
		pthread_mutex_unlock(&r->lock);
		state = lookup(req->host, addr, sizeof(addr));
		pthread_mutex_lock(&r->lock);
		memcpy(req->addr, addr, sizeof(addr));
		req->state = state;
		if (req->refs > 1 && !r->stopping && write(r->wake_fd, &one, sizeof(one)) < 0) {
			/* An eventfd only fails to count when it saturates: a wake-up is pending
			 * anyway. */
		}
		req_unref_locked(req);
	}
	pool_unref_locked(r);
	return NULL;
}

int probe_resolver_new(int nthreads, int wake_fd, struct probe_resolver **out)
{
	struct probe_resolver *r = xcalloc(1, sizeof(*r));
	pthread_t tid;
	int i;

	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->wake_fd = wake_fd;
	r->refs = 1;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&tid, NULL, worker, r) != 0)
			break;
		pthread_detach(tid);
		r->refs++;
	}
	pthread_mutex_unlock(&r->lock);
	if (i == 0) {
		probe_resolver_free(r);
		return BASE_EIO;
	}
	*out = r;
	return 0;
}

void probe_resolver_free(struct probe_resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_broadcast(&r->cond);
	pool_unref_locked(r);
}

struct probe_resolve_req *probe_resolve_submit(struct probe_resolver *r, const char *host)
{
	struct probe_resolve_req *req = xcalloc(1, sizeof(*req));

	req->host = xstrdup(host);
	req->refs = 2;
	pthread_mutex_lock(&r->lock);
	if (r->tail)
		r->tail->next = req;
	else
		r->head = req;
	r->tail = req;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return req;
}

int probe_resolve_result(struct probe_resolver *r, struct probe_resolve_req *req, char *addr,
			 size_t n)
{
	int state;

	pthread_mutex_lock(&r->lock);
	state = req->state;
	if (state == 1)
		snprintf(addr, n, "%s", req->addr);
	pthread_mutex_unlock(&r->lock);
	return state;
}

void probe_resolve_release(struct probe_resolver *r, struct probe_resolve_req *req)
{
	if (!req)
		return;
	pthread_mutex_lock(&r->lock);
	req_unref_locked(req);
	pthread_mutex_unlock(&r->lock);
}

int probe_host_is_numeric(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}
