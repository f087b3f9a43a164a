/*
 * probe_driver - the prober behind a line protocol, for tests and benchmarks
 * that run against real PostgreSQL servers driven from Python.
 *
 * Commands on stdin, one a line, words separated by spaces:
 *   set name=N kind=writer|reader host=H port=P [db=D] user=U [sslmode=M]
 *       [sslrootcert=F] [sslrootcert_mem=F] [insecure=0|1] [period=MS] [timeout=MS] [fail=N] [succ=N]
 *       [lag_source=W] [hbid=ID] [statement=SQL-with-%20-for-spaces]
 *       [ns=NS db_name=NAME region=R]   (the metrics' labels)
 *   remove N | get N | stats | metrics | heap | quit
 * sslrootcert_mem copies file F into an in-memory file and names it to libpq
 * as /proc/self/fd/N, as the controller does with spec.healthCheck.caBundleRef.
 * The password of every target comes from the environment variable
 * GDB_PROBE_PASSWORD (so that it is on no command line).
 *
 * Output on stdout, one a line:
 *   event mono_ms=T name=N health=H reason=R lag_ms=L changes=C   (from the notify callback)
 *   verdict name=N health=H fails=F succs=S probes=P ok=0|1 reason=R sqlstate=S lag_ms=L seq=Q
 *           duration_ms=D upstream_ms=U
 *   stats probes=P connects=C wakeups=W targets=N
 *   heap bytes=B   (malloc's bytes in use: one arena, as in the controller)
 *   ok | error CODE
 * mono_ms is CLOCK_MONOTONIC in milliseconds (Python's time.monotonic()).
 * Logs go to stderr.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/probe/prober.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void on_change(void *arg, const struct probe_verdict *v, unsigned changes)
{
	(void)arg;
	emit("event mono_ms=%" PRId64 " name=%s health=%s reason=%s lag_ms=%" PRId64 " changes=%u",
	     base_now_mono_ms(), v->name, probe_health_name(v->health),
	     v->last_ok ? "ok" : probe_error_name(v->last_error), v->lag_ms, changes);
}

static int64_t num(const char *s)
{
	char *end;
	long long v = strtoll(s, &end, 10);

	return *end ? -1 : v;
}

/* statement=... uses %20 for spaces; decode in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '%' && s[1] == '2' && s[2] == '0') {
			*w++ = ' ';
			s += 2;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* F copied into a memfd; its /proc/self/fd path (static: one at a time), or NULL. */
static const char *memfd_copy(const char *file)
{
	static char path[40];
	char buf[4096];
	FILE *in = fopen(file, "rb");
	int fd = memfd_create("probe-driver-ca", 0);
	size_t n;

	if (!in || fd < 0) {
		if (in)
			fclose(in);
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (write(fd, buf, n) != (ssize_t)n)
			break;
	fclose(in);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return path;
}

static int cmd_set(struct probe_prober *p, char *args)
{
	struct probe_target t = {0};
	struct probe_policy pol = PROBE_POLICY_DEFAULT;
	char *save = NULL, *w, *eq;

	t.password = getenv("GDB_PROBE_PASSWORD");
	t.kind = PROBE_WRITER;
	for (w = strtok_r(args, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		eq = strchr(w, '=');
		if (!eq)
			return BASE_EINVAL;
		*eq++ = '\0';
		if (!strcmp(w, "name"))
			t.name = eq;
		else if (!strcmp(w, "kind"))
			t.kind = strcmp(eq, "reader") ? PROBE_WRITER : PROBE_READER;
		else if (!strcmp(w, "host"))
			t.host = eq;
		else if (!strcmp(w, "port"))
			t.port = (int)num(eq);
		else if (!strcmp(w, "db"))
			t.dbname = eq;
		else if (!strcmp(w, "user"))
			t.user = eq;
		else if (!strcmp(w, "sslmode"))
			t.sslmode = eq;
		else if (!strcmp(w, "sslrootcert"))
			t.sslrootcert = eq;
		else if (!strcmp(w, "sslrootcert_mem"))
			t.sslrootcert = memfd_copy(eq);
		else if (!strcmp(w, "insecure"))
			t.allow_insecure_auth = num(eq) == 1;
		else if (!strcmp(w, "period"))
			pol.period_ms = num(eq);
		else if (!strcmp(w, "timeout"))
			pol.timeout_ms = num(eq);
		else if (!strcmp(w, "fail"))
			pol.failure_threshold = (int)num(eq);
		else if (!strcmp(w, "succ"))
			pol.success_threshold = (int)num(eq);
		else if (!strcmp(w, "lag_source"))
			t.lag_source = eq;
		else if (!strcmp(w, "hbid"))
			t.heartbeat_id = eq;
		else if (!strcmp(w, "ns"))
			t.label_namespace = eq;
		else if (!strcmp(w, "db_name"))
			t.label_name = eq;
		else if (!strcmp(w, "region"))
			t.label_region = eq;
		else if (!strcmp(w, "statement")) {
			unescape(eq);
			t.writer_statement = eq;
		} else
			return BASE_EINVAL;
	}
	t.policy = pol;
	return probe_prober_set(p, &t);
}

static void print_verdict(const struct probe_verdict *v)
{
	emit("verdict name=%s health=%s fails=%d succs=%d probes=%" PRIu64
	     " ok=%d reason=%s sqlstate=%s lag_ms=%" PRId64 " seq=%" PRId64 " duration_ms=%" PRId64
	     " written_ms=%" PRId64 " failing_since_ms=%" PRId64 " upstream_ms=%" PRId64,
	     v->name, probe_health_name(v->health), v->consecutive_failures,
	     v->consecutive_successes, v->probes, v->last_ok, probe_error_name(v->last_error),
	     v->last_sqlstate[0] ? v->last_sqlstate : "-", v->lag_ms, v->last_seq,
	     v->last_duration_ms, v->heartbeat_written_unix_ms, v->failing_since_unix_ms,
	     v->upstream_age_ms);
}

int main(void)
{
	struct probe_options opt = {.notify = on_change, .lag_notify_step_ms = 1000};
	struct probe_prober *p = NULL;
	struct probe_verdict v;
	struct probe_stats st;
	struct base_buf metrics = BASE_BUF_INIT(0);
	char line[8192];
	int ret;

	base_log_setup(BASE_LOG_INFO, 0, stderr);
	/* One arena, as the controller runs, so that mallinfo2 sees the prober thread's heap. */
	mallopt(M_ARENA_MAX, 1);
	if (probe_prober_new(&opt, &p) < 0) {
		emit("error cannot start the prober");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "set ", 4)) {
			ret = cmd_set(p, line + 4);
			if (ret < 0)
				emit("error %s", base_errname(ret));
			else
				emit("ok");
		} else if (!strncmp(line, "remove ", 7)) {
			ret = probe_prober_remove(p, line + 7);
			if (ret < 0)
				emit("error %s", base_errname(ret));
			else
				emit("ok");
		} else if (!strncmp(line, "get ", 4)) {
			if (probe_prober_get(p, line + 4, &v) < 0)
				emit("error notfound");
			else
				print_verdict(&v);
		} else if (!strcmp(line, "stats")) {
			probe_prober_stats(p, &st);
			emit("stats probes=%" PRIu64 " connects=%" PRIu64 " wakeups=%" PRIu64
			     " targets=%d",
			     st.probes, st.connects, st.wakeups, st.targets);
		} else if (!strcmp(line, "heap")) {
			struct mallinfo2 mi = mallinfo2();

			emit("heap bytes=%zu", mi.uordblks + mi.hblkhd);
		} else if (!strcmp(line, "metrics")) {
			base_buf_reset(&metrics);
			base_metrics_render(&metrics);
			pthread_mutex_lock(&out_lock);
			fputs(metrics.data, stdout);
			fputs("end\n", stdout);
			fflush(stdout);
			pthread_mutex_unlock(&out_lock);
		} else if (!strcmp(line, "quit")) {
			break;
		} else {
			emit("error unknown command");
		}
	}
	probe_prober_free(p);
	base_buf_release(&metrics);
	emit("bye");
	return 0;
}
