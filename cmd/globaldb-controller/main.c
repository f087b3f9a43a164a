/*
 * globaldb-controller: flags, start-up, signals and shutdown.
 *
 * The process is a struct controller brought up by a table of phases, each a
 * start and a stop function, in controller-runtime's order: the HTTP
 * endpoints first, so that the kubelet's probes and Prometheus are answered
 * while everything after them starts; each later phase (caches, leader
 * election, workers) is one more row in the table. Phases start in order and
 * stop in reverse, also when a start fails half-way.
 *
 * Signals: SIGTERM and SIGINT are blocked in every thread and taken by one
 * signal thread. The first asks the main thread to stop, which withdraws
 * readiness and stops the phases; a second signal, or a shutdown still running
 * after SHUTDOWN_TIMEOUT_S, exits at once with status 1.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/globaldb-controller/build_info.h"
#include "cmd/globaldb-controller/metrics_auth.h"
#include "cmd/globaldb-controller/options.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/metrics.h"
#include "pkg/globaldb/controller.h"
#include "pkg/server/health.h"
#include "pkg/server/server.h"

/* Below Kubernetes' default terminationGracePeriodSeconds (30), so we, not SIGKILL, end it. */
#define SHUTDOWN_TIMEOUT_S 25
#define TRIM_INTERVAL_S 10	    /* malloc_trim while running (wait_for_stop) */
#define MMAP_THRESHOLD BASE_MAP_MIN /* blocks from this size have pages of their own */

struct controller {
	const struct options *opt;
	struct server_health *health;
	struct server *metrics; /* NULL when disabled or shared with probes */
	struct server *probes;	/* NULL when disabled */
	atomic_int started;	/* readyz "controller-started": every phase is up */
	struct gdb_controller *gdb;
	struct metrics_auth *metrics_auth; /* --metrics-auth, else NULL */
};

static void request_stop(int exit_code);

struct phase {
	const char *name;
	int (*start)(struct controller *c);
	void (*stop)(struct controller *c);
};

static int always_ok(void *arg, struct base_buf *reason)
{
	(void)arg;
	(void)reason;
	return 0;
}

static int serve(const char *addr, unsigned endpoints, struct server_health *h,
		 struct metrics_auth *auth, struct server **out)
{
	struct server_opts so = {NULL, auth};
	char port[8];
	int ret;

	if (auth && (endpoints & SERVER_ENDPOINT_METRICS))
		so.authorize_metrics = metrics_auth_decide;
	ret = server_start_opts(addr, endpoints, h, &so, out);
	if (ret < 0) {
		base_log(BASE_LOG_ERROR, "cannot serve http", "address", addr, "error",
			 ret == BASE_EEXIST ? "address already in use" : base_strerror(ret), NULL);
		return ret;
	}
	base_log(BASE_LOG_INFO, "serving http", "address", addr, "port",
		 base_fmt(port, sizeof(port), "%u", server_port(*out)), "endpoints",
		 endpoints == SERVER_ENDPOINT_METRICS  ? "/metrics"
		 : endpoints == SERVER_ENDPOINT_HEALTH ? "/healthz,/readyz"
						       : "/metrics,/healthz,/readyz",
		 "metrics_auth", so.authorize_metrics ? "true" : "false", NULL);
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static int http_start(struct controller *c)
{
	const char *maddr = c->opt->metrics_bind_address,
		   *haddr = c->opt->health_probe_bind_address;
	int metrics_on = strcmp(maddr, "0") != 0, health_on = strcmp(haddr, "0") != 0;

	c->health = server_health_new();
	if (server_health_add(c->health, SERVER_HEALTHZ, "ping", always_ok, NULL) < 0 ||
	    server_health_add(c->health, SERVER_READYZ, "ping", always_ok, NULL) < 0 ||
	    server_health_add(c->health, SERVER_READYZ, "controller-started", server_check_flag,
			      &c->started) < 0)
		BUG("registering the built-in health checks failed");

	if (metrics_on && c->opt->metrics_auth &&
	    metrics_auth_new(c->opt->kubeconfig, &c->metrics_auth) < 0)
		return BASE_EINVAL;
	/* One address for both is one server; port 0 means two different free ports. */
	if (metrics_on && health_on && !strcmp(maddr, haddr) && !ends_with(maddr, ":0"))
		return serve(maddr, SERVER_ENDPOINT_METRICS | SERVER_ENDPOINT_HEALTH, c->health,
			     c->metrics_auth, &c->probes);
	if (health_on && serve(haddr, SERVER_ENDPOINT_HEALTH, c->health, NULL, &c->probes) < 0)
		return BASE_EIO;
	if (metrics_on &&
	    serve(maddr, SERVER_ENDPOINT_METRICS, NULL, c->metrics_auth, &c->metrics) < 0)
		return BASE_EIO;
	return 0;
}

static void http_stop(struct controller *c)
{
	server_stop(c->metrics);
	server_stop(c->probes);
	c->metrics = c->probes = NULL;
	metrics_auth_free(c->metrics_auth);
	c->metrics_auth = NULL;
	server_health_free(c->health);
	c->health = NULL;
}

/* Lost leadership: stop as for a signal, but exit 1 (controller-runtime exits too). */
static void on_fatal(void *ud, const char *why)
{
	(void)ud;
	base_log(BASE_LOG_ERROR, "stopping", "reason", why, NULL);
	request_stop(1);
}

static int reconciler_start(struct controller *c)
{
	struct gdb_controller_opts o = {
		.kubeconfig = c->opt->kubeconfig,
		.namespace_ = c->opt->namespace,
		.concurrency = c->opt->concurrency,
		.leader_elect = c->opt->leader_elect,
		.leader_election_namespace = c->opt->leader_election_namespace,
		.leader_election_id = c->opt->leader_election_id,
		.lease_duration_ms = c->opt->lease_duration_ms,
		.renew_deadline_ms = c->opt->renew_deadline_ms,
		.retry_period_ms = c->opt->retry_period_ms,
		.health = c->health,
		.allow = &c->opt->allow,
		.guard_table = c->opt->guard_table,
		.guard_regions = (const char *const *)c->opt->guard_regions,
		.n_guard_regions = c->opt->n_guard_regions,
		.guard_lease_ms = c->opt->guard_lease_duration_ms,
		.region = c->opt->region,
		.controller_id = c->opt->controller_id,
		.on_fatal = on_fatal,
	};

	return gdb_controller_start(&o, &c->gdb);
}

static void reconciler_stop(struct controller *c)
{
	gdb_controller_stop(c->gdb);
	c->gdb = NULL;
}

static const struct phase phases[] = {
	{"http", http_start, http_stop},
	{"controller", reconciler_start, reconciler_stop},
};

/* Starts the phases in order; on failure stops those already started. */
static int controller_start(struct controller *c)
{
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(phases); i++) {
		ret = phases[i].start(c);
		if (ret < 0) {
			base_log(BASE_LOG_ERROR, "start-up failed", "phase", phases[i].name,
				 "error", base_strerror(ret), NULL);
			phases[i].stop(c);
			while (i-- > 0)
				phases[i].stop(c);
			return ret;
		}
		base_log(BASE_LOG_DEBUG, "phase started", "phase", phases[i].name, NULL);
	}
	atomic_store(&c->started, 1);
	return 0;
}

static void controller_stop(struct controller *c)
{
	atomic_store(&c->started, 0);
	for (size_t i = ARRAY_SIZE(phases); i-- > 0;) {
		phases[i].stop(c);
		base_log(BASE_LOG_DEBUG, "phase stopped", "phase", phases[i].name, NULL);
	}
}

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stop_requested;
static int exit_status;

static void request_stop(int code)
{
	pthread_mutex_lock(&stop_lock);
	stop_requested = 1;
	if (code > exit_status)
		exit_status = code;
	pthread_cond_signal(&stop_cond);
	pthread_mutex_unlock(&stop_lock);
}

static const char *signame(int sig)
{
	return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

static void *signal_thread(void *arg)
{
	const sigset_t *set = arg;
	struct timespec timeout = {SHUTDOWN_TIMEOUT_S, 0};
	int sig;

	while (sigwait(set, &sig) != 0)
		;
	base_log(BASE_LOG_INFO, "shutting down", "signal", signame(sig), NULL);
	request_stop(0);

	/* The main thread exits the process when done; we only cut it short. */
	for (;;) {
		sig = sigtimedwait(set, NULL, &timeout);
		if (sig > 0) {
			base_log(BASE_LOG_WARN, "second signal, exiting now", "signal",
				 signame(sig), NULL);
			_exit(1);
		}
		if (errno == EAGAIN) {
			base_log(BASE_LOG_ERROR, "shutdown timed out, exiting now", NULL);
			_exit(1);
		}
		/* EINTR: a signal outside the set; the timeout restarts, erring on the long side. */
	}
	return NULL;
}

/*
 * Waits for a stop, handing freed memory back to the kernel every
 * TRIM_INTERVAL_S meanwhile. glibc returns only the top of a heap by itself:
 * at 1,000 GlobalDatabases the start-up's freed objects, interleaved with
 * live ones, kept 18 of 66 MiB of RSS (docs/benchmarks.md). malloc_trim
 * releases the free pages anywhere in the arenas, in a few milliseconds.
 */
static void wait_for_stop(void)
{
	struct timespec next;

	pthread_mutex_lock(&stop_lock);
	while (!stop_requested) {
		clock_gettime(CLOCK_REALTIME, &next);
		next.tv_sec += TRIM_INTERVAL_S;
		if (pthread_cond_timedwait(&stop_cond, &stop_lock, &next) == ETIMEDOUT &&
		    !stop_requested) {
			pthread_mutex_unlock(&stop_lock);
			malloc_trim(0);
			pthread_mutex_lock(&stop_lock);
		}
	}
	pthread_mutex_unlock(&stop_lock);
}

static void log_configuration(const struct options *o)
{
	char conc[16];

	base_log(BASE_LOG_INFO, "starting globaldb-controller", "version", GDB_VERSION, "namespace",
		 *o->namespace ? o->namespace : "(all)", "kubeconfig",
		 *o->kubeconfig ? o->kubeconfig : "(in-cluster or default)", "leader_elect",
		 o->leader_elect ? "true" : "false", "leader_election_lease",
		 o->leader_elect ? o->leader_election_id : "(disabled)",
		 "leader_election_namespace",
		 o->leader_elect ? o->leader_election_namespace : "(disabled)",
		 "metrics_bind_address", o->metrics_bind_address, "health_probe_bind_address",
		 o->health_probe_bind_address, "concurrency",
		 base_fmt(conc, sizeof(conc), "%d", o->concurrency), NULL);
}

int main(int argc, char **argv)
{
	static sigset_t set;
	struct build_info bi;
	struct controller c;
	struct options opt;
	pthread_t sigthr;
	int ret;

	if (options_parse(&opt, argc, argv, stderr) < 0) {
		options_release(&opt);
		return 2;
	}
	if (opt.help || opt.version) {
		if (opt.help)
			options_usage(stdout);
		else
			printf("globaldb-controller %s\n", GDB_VERSION);
		options_release(&opt);
		return 0;
	}
	base_log_setup(opt.log_level, opt.log_json, stderr);
	/*
	 * glibc gives each thread that allocates its own arena (up to 8 per
	 * core), and each arena keeps its own free memory. One is enough here
	 * (the threads mostly wait on the network, and each has a small cache of
	 * its own): at 1,000 GlobalDatabases a second arena held 20 of 45 MiB.
	 * And a fixed mmap threshold: by default glibc raises it to the size of
	 * each large block freed, so the Describe pages and response bodies end
	 * up inside the heap, between long-lived objects, where a trim cannot
	 * return them. Together, 48 -> 40 MiB (docs/benchmarks.md, Scale). The
	 * MALLOC_ARENA_MAX and MALLOC_MMAP_THRESHOLD_ environment variables still
	 * win when set.
	 */
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 1);
	if (!getenv("MALLOC_MMAP_THRESHOLD_"))
		mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);

	/* Before any thread exists, so that every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sigthr, NULL, signal_thread, &set) != 0) {
		base_log(BASE_LOG_ERROR, "cannot start the signal thread", NULL);
		options_release(&opt);
		return 1;
	}
	pthread_detach(sigthr);

	log_configuration(&opt);
	build_info_get(&bi);
	base_log(BASE_LOG_INFO, "build", "version", bi.version, "commit", bi.commit, "libcurl",
		 bi.libcurl, "openssl", bi.openssl, "libpq", bi.libpq, NULL);
	build_info_publish(&bi);

	memset(&c, 0, sizeof(c));
	c.opt = &opt;
	ret = controller_start(&c);
	if (ret < 0) {
		options_release(&opt);
		return 1;
	}
	base_log(BASE_LOG_INFO, "started", NULL);

	wait_for_stop();
	controller_stop(&c);
	base_log(BASE_LOG_INFO, "stopped", NULL);
	options_release(&opt);
	return exit_status;
}
