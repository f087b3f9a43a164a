/*
 * pkg/probe/prober: the prober against loopback sockets that refuse or
 * accept-and-never-answer (the wire faults a server rarely shows on demand),
 * target validation, removal, reconfiguration, and secrets kept out of logs
 * and metrics.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/probe/prober.h"
#include "tests/check_main.h"

struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int notes;	   /* health changes */
	int failing_notes; /* runs of failures begun or ended */
	struct probe_verdict last;
};

static void record(void *arg, const struct probe_verdict *v, unsigned changes)
{
	struct recorder *r = arg;

	ck_assert(changes & (PROBE_CHANGED_HEALTH | PROBE_CHANGED_FAILING));
	pthread_mutex_lock(&r->lock);
	if (changes & PROBE_CHANGED_FAILING)
		r->failing_notes++;
	if (changes & PROBE_CHANGED_HEALTH) {
		r->notes++;
		r->last = *v;
	}
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void recorder_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
}

/* Waits until at least n notifications arrived or ms passed; returns the count. */
static int wait_notes(struct recorder *r, int n, int64_t ms)
{
	int64_t deadline = base_now_mono_ms() + ms;
	int got;

	pthread_mutex_lock(&r->lock);
	while (r->notes < n && base_now_mono_ms() < deadline) {
		pthread_mutex_unlock(&r->lock);
		base_sleep_ms(10);
		pthread_mutex_lock(&r->lock);
	}
	got = r->notes;
	pthread_mutex_unlock(&r->lock);
	return got;
}

/* A loopback port with a listener that never accepts (backlog only) or nothing at all. */
static int loopback_listener(int *port, int keep_listening)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	if (!keep_listening) {
		close(fd); /* the port was just free; nothing listens now */
		return -1;
	}
	ck_assert_int_eq(listen(fd, 16), 0);
	return fd;
}

static struct probe_target target(const char *name, int port, const char *password)
{
	struct probe_target t = {0};
	struct probe_policy pol = {300, 200, 3, 1};

	t.name = name;
	t.kind = PROBE_WRITER;
	t.host = "127.0.0.1";
	t.port = port;
	t.user = "postgres";
	t.password = password;
	t.sslmode = "disable";
	t.allow_insecure_auth = 1;
	t.policy = pol;
	t.label_namespace = "shop";
	t.label_name = name;
	t.label_region = "us-east-1";
	return t;
}

START_TEST(refused_connections_turn_a_target_unhealthy_once)
{
	struct recorder rec;
	struct probe_options opt = {0};
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	int port;

	recorder_init(&rec);
	opt.notify = record;
	opt.notify_arg = &rec;
	loopback_listener(&port, 0);
	t = target("refused", port, "pw");
	ck_assert_int_eq(probe_prober_new(&opt, &p), 0);
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	ck_assert_int_eq(wait_notes(&rec, 1, 5000), 1);
	ck_assert_int_eq(rec.last.health, PROBE_UNHEALTHY);
	ck_assert_int_eq(rec.last.last_error, PROBE_ERR_CONNECT);
	ck_assert_int_eq(rec.last.consecutive_failures, 3);
	/* More failures, no more notifications. */
	do {
		base_sleep_ms(50);
		ck_assert_int_eq(probe_prober_get(p, "refused", &v), 0);
	} while (v.consecutive_failures < 6);
	ck_assert_int_eq(wait_notes(&rec, 2, 0), 1);
	ck_assert_int_eq(v.health, PROBE_UNHEALTHY);
	ck_assert(v.last_probe_unix_ms > 0);
	ck_assert_int_eq(v.last_success_unix_ms, 0);
	/* One run of failures: announced once, dated by its first probe. */
	pthread_mutex_lock(&rec.lock);
	ck_assert_int_eq(rec.failing_notes, 1);
	pthread_mutex_unlock(&rec.lock);
	ck_assert(v.failing_since_unix_ms > 0 && v.failing_since_unix_ms < v.last_probe_unix_ms);
	ck_assert(base_metric_value(base_metric_counter("globaldb_probe_failures_total", "",
							"namespace,name,region,role,reason"),
				    "shop", "refused", "us-east-1", "writer", "connect") >= 6);
	probe_prober_free(p);
}
END_TEST

START_TEST(a_server_that_accepts_and_never_answers_times_out_on_the_deadline)
{
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	int port, fd;

	fd = loopback_listener(&port, 1);
	t = target("silent", port, NULL);
	ck_assert_int_eq(probe_prober_new(NULL, &p), 0);
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	do {
		base_sleep_ms(20);
		ck_assert_int_eq(probe_prober_get(p, "silent", &v), 0);
	} while (v.probes < 3);
	ck_assert_int_eq(v.last_error, PROBE_ERR_TIMEOUT);
	ck_assert_int_eq(v.health, PROBE_UNHEALTHY);
	/* The probe ended at its 200 ms deadline, give or take a scheduling tick. */
	ck_assert_int_ge(v.last_duration_ms, 195);
	ck_assert_int_le(v.last_duration_ms, 300);
	probe_prober_free(p);
	close(fd);
}
END_TEST

START_TEST(a_host_name_is_resolved_off_the_prober_thread)
{
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	int port;

	/* "localhost" resolves from /etc/hosts: no traffic leaves the machine. */
	loopback_listener(&port, 0);
	t = target("named", port, NULL);
	t.host = "localhost";
	ck_assert_int_eq(probe_prober_new(NULL, &p), 0);
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	do {
		base_sleep_ms(20);
		ck_assert_int_eq(probe_prober_get(p, "named", &v), 0);
	} while (v.probes < 1);
	/* It resolved and got as far as a refused connection. */
	ck_assert_int_eq(v.last_error, PROBE_ERR_CONNECT);
	probe_prober_free(p);
}
END_TEST

START_TEST(targets_are_validated_and_tls_is_required_by_default)
{
	struct probe_prober *p;
	struct probe_target t = target("v", 5432, NULL), bad;

	ck_assert_int_eq(probe_prober_new(NULL, &p), 0);
	bad = t, bad.sslmode = "sometimes";
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.heartbeat_table = "hb; DROP TABLE x";
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.kind = PROBE_READER, bad.writer_statement = "SELECT 1";
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.port = 0;
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.user = NULL;
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.policy.timeout_ms = 10 * bad.policy.period_ms;
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	/* Modes that start without TLS only where insecure authentication is allowed. */
	bad = t, bad.allow_insecure_auth = 0;
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.allow_insecure_auth = 0, bad.sslmode = "allow";
	ck_assert_int_eq(probe_prober_set(p, &bad), BASE_EINVAL);
	bad = t, bad.allow_insecure_auth = 0, bad.sslmode = "prefer";
	ck_assert_int_eq(probe_prober_set(p, &bad), 0);
	bad = t, bad.allow_insecure_auth = 0, bad.sslmode = NULL;
	ck_assert_int_eq(probe_prober_set(p, &bad), 0);
	ck_assert_int_eq(probe_prober_remove(p, "nothing"), BASE_ENOTFOUND);
	probe_prober_free(p);
}
END_TEST

START_TEST(a_removed_target_is_gone_from_the_table_and_the_metrics)
{
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	struct base_buf out = BASE_BUF_INIT(0);
	int port;

	loopback_listener(&port, 0);
	t = target("gone-soon", port, NULL);
	ck_assert_int_eq(probe_prober_new(NULL, &p), 0);
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	do {
		base_sleep_ms(20);
		ck_assert_int_eq(probe_prober_get(p, "gone-soon", &v), 0);
	} while (v.health != PROBE_UNHEALTHY);
	base_metrics_render(&out);
	ck_assert_ptr_nonnull(strstr(out.data, "name=\"gone-soon\""));
	ck_assert_int_eq(probe_prober_remove(p, "gone-soon"), 0);
	ck_assert_int_eq(probe_prober_get(p, "gone-soon", &v), BASE_ENOTFOUND);
	base_sleep_ms(100); /* the prober thread reaps it on its next pass */
	base_buf_reset(&out);
	base_metrics_render(&out);
	ck_assert_ptr_null(strstr(out.data, "name=\"gone-soon\""));
	base_buf_release(&out);
	probe_prober_free(p);
}
END_TEST

START_TEST(passwords_reach_neither_logs_nor_metrics)
{
	static const char secret[] = "pw-S3cret-do-not-print";
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	struct base_buf out = BASE_BUF_INIT(0);
	char logged[65536];
	FILE *log = tmpfile();
	size_t n;
	int port, fd;

	ck_assert_ptr_nonnull(log);
	base_log_setup(BASE_LOG_DEBUG, 0, log);
	fd = loopback_listener(&port, 1);
	t = target("secretive", port, secret);
	ck_assert_int_eq(probe_prober_new(NULL, &p), 0);
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	do {
		base_sleep_ms(20);
		ck_assert_int_eq(probe_prober_get(p, "secretive", &v), 0);
	} while (v.health != PROBE_UNHEALTHY);
	probe_prober_free(p);
	base_metrics_render(&out);
	ck_assert_ptr_null(strstr(out.data, secret));
	rewind(log);
	n = fread(logged, 1, sizeof(logged) - 1, log);
	logged[n] = '\0';
	ck_assert_ptr_nonnull(strstr(logged, "probe verdict changed"));
	ck_assert_ptr_null(strstr(logged, secret));
	ck_assert_ptr_null(strstr(logged, "password"));
	base_buf_release(&out);
	fclose(log);
	close(fd);
}
END_TEST

START_TEST(a_new_configuration_takes_effect_on_the_next_probe)
{
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	int refused, silent, fd;

	loopback_listener(&refused, 0);
	fd = loopback_listener(&silent, 1);
	t = target("moving", refused, "pw");
	ck_assert_int_eq(probe_prober_new(NULL, &p), 0);
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	do {
		base_sleep_ms(20);
		ck_assert_int_eq(probe_prober_get(p, "moving", &v), 0);
	} while (v.probes < 1);
	ck_assert_int_eq(v.last_error, PROBE_ERR_CONNECT);
	t.port = silent;
	ck_assert_int_eq(probe_prober_set(p, &t), 0);
	do {
		base_sleep_ms(20);
		ck_assert_int_eq(probe_prober_get(p, "moving", &v), 0);
	} while (v.last_error != PROBE_ERR_TIMEOUT);
	/* Same target, same counters: the history carried over. */
	ck_assert_int_ge(v.consecutive_failures, 2);
	probe_prober_free(p);
	close(fd);
}
END_TEST

START_TEST(probes_waiting_for_a_connection_slot_still_end_on_their_deadline)
{
	struct probe_options opt = {.max_connects_per_host = 2};
	struct probe_prober *p;
	struct probe_target t;
	struct probe_verdict v;
	char name[16];
	int port, fd, i, done;

	fd = loopback_listener(&port, 1);
	ck_assert_int_eq(probe_prober_new(&opt, &p), 0);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "slot%d", i);
		t = target(name, port, NULL);
		ck_assert_int_eq(probe_prober_set(p, &t), 0);
	}
	do {
		base_sleep_ms(20);
		for (i = 0, done = 0; i < 6; i++) {
			snprintf(name, sizeof(name), "slot%d", i);
			ck_assert_int_eq(probe_prober_get(p, name, &v), 0);
			done += v.probes >= 2;
		}
	} while (done < 6);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "slot%d", i);
		ck_assert_int_eq(probe_prober_get(p, name, &v), 0);
		ck_assert_int_eq(v.last_error, PROBE_ERR_TIMEOUT);
		ck_assert_int_le(v.last_duration_ms, 300);
	}
	probe_prober_free(p);
	close(fd);
}
END_TEST

GDB_CHECK_MAIN("probe_prober", 20, refused_connections_turn_a_target_unhealthy_once,
	       a_server_that_accepts_and_never_answers_times_out_on_the_deadline,
	       a_host_name_is_resolved_off_the_prober_thread,
	       targets_are_validated_and_tls_is_required_by_default,
	       a_removed_target_is_gone_from_the_table_and_the_metrics,
	       passwords_reach_neither_logs_nor_metrics,
	       a_new_configuration_takes_effect_on_the_next_probe,
	       probes_waiting_for_a_connection_slot_still_end_on_their_deadline)
