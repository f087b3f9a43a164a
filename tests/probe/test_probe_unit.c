/*
 * Unit tests for pkg/probe that need no database: the failure policy, the
 * heartbeat lag arithmetic, and the prober against loopback sockets that
 * refuse or accept-and-never-answer (the wire faults a server rarely shows
 * on demand).
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
#include "pkg/probe/heartbeat.h"
#include "pkg/probe/policy.h"
#include "pkg/probe/scram.h"
#include "pkg/probe/prober.h"

/* ---- policy ------------------------------------------------------------ */

/* An authentication message: R, length, code, body. */
static size_t auth_msg(unsigned char *out, unsigned code, const char *body)
{
	size_t n = strlen(body), len = 8 + n;

	out[0] = 'R';
	out[1] = (unsigned char)(len >> 24), out[2] = (unsigned char)(len >> 16);
	out[3] = (unsigned char)(len >> 8), out[4] = (unsigned char)len;
	out[5] = 0, out[6] = 0, out[7] = 0, out[8] = (unsigned char)code;
	memcpy(out + 9, body, n);
	return 1 + len;
}

START_TEST(scram_iteration_counts_over_the_cap_are_refused_before_libpq_reads_them)
{
	static const struct {
		const char *server_first;
		int want;
	} rows[] = {
		{"r=abcdef,s=c2FsdA==,i=4096", PROBE_SCRAM_OK},
		{"r=abcdef,s=c2FsdA==,i=100000", PROBE_SCRAM_OK},
		{"r=abcdef,s=c2FsdA==,i=100001", PROBE_SCRAM_REFUSE},
		{"r=abcdef,s=c2FsdA==,i=2147483647", PROBE_SCRAM_REFUSE},
		{"r=abcdef,s=c2FsdA==,i=99999999999999999999", PROBE_SCRAM_REFUSE},
		{"r=abi=999999999,s=c2FsdA==,i=10", PROBE_SCRAM_OK}, /* i= inside a value */
		{"r=abcdef,s=c2FsdA==", PROBE_SCRAM_OK},	     /* malformed: libpq refuses */
	};
	unsigned char buf[PROBE_SCRAM_PEEK + 16];
	size_t n;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = auth_msg(buf, 11, rows[i].server_first);
		ck_assert_int_eq(probe_scram_check(buf, n, PROBE_SCRAM_MAX_ITERATIONS),
				 rows[i].want);
		/* Cut anywhere: wait for the rest, never a decision on half a message. */
		for (size_t cut = 0; cut < n; cut++)
			ck_assert_int_eq(probe_scram_check(buf, cut, PROBE_SCRAM_MAX_ITERATIONS),
					 cut == 0 ? PROBE_SCRAM_OK : PROBE_SCRAM_WAIT);
	}
	/* Behind other whole messages (a notice first) it is still seen. */
	n = auth_msg(buf, 10, "SCRAM-SHA-256-PLUS");
	n += auth_msg(buf + n, 11, "r=abc,s=c2FsdA==,i=10000000");
	ck_assert_int_eq(probe_scram_check(buf, n, PROBE_SCRAM_MAX_ITERATIONS), PROBE_SCRAM_REFUSE);
	/* Framing that is no PostgreSQL message, or more than a server sends before it is done. */
	memcpy(buf, "R\xff\xff\xff\xff", 5);
	ck_assert_int_eq(probe_scram_check(buf, 5, PROBE_SCRAM_MAX_ITERATIONS), PROBE_SCRAM_REFUSE);
	memset(buf, 'N', PROBE_SCRAM_PEEK);
	ck_assert_int_eq(probe_scram_check(buf, PROBE_SCRAM_PEEK, PROBE_SCRAM_MAX_ITERATIONS),
			 PROBE_SCRAM_REFUSE);
}
END_TEST

START_TEST(server_side_timeouts_stay_below_the_probe_timeout)
{
	static const int64_t timeouts[] = {1, 2, 3, 1000, 3000, 60000};

	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t t = timeouts[i];

		ck_assert_int_ge(probe_statement_timeout_ms(t), 1);
		ck_assert_int_ge(probe_lock_timeout_ms(t), 1);
		if (t > 1) {
			ck_assert_int_lt(probe_statement_timeout_ms(t), t);
			ck_assert_int_lt(probe_lock_timeout_ms(t), t);
		}
	}
	/* A lock wait gives up before the statement does. */
	ck_assert_int_eq(probe_statement_timeout_ms(3000), 2400);
	ck_assert_int_eq(probe_lock_timeout_ms(3000), 1500);
}
END_TEST

START_TEST(policy_turns_unhealthy_after_exactly_failure_threshold_failures)
{
	struct probe_policy p = {1000, 500, 3, 1};
	struct probe_state st = PROBE_STATE_INIT;

	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 1);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(st.consecutive_failures, 2);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 1);
	ck_assert_int_eq(st.health, PROBE_UNHEALTHY);
	/* Further failures are no change: the callback fires once. */
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.consecutive_failures, 5);
}
END_TEST

START_TEST(policy_a_success_breaks_the_failure_run)
{
	struct probe_policy p = {1000, 500, 3, 1};
	struct probe_state st = PROBE_STATE_INIT;
	int i, changes = 0;

	probe_policy_record(&p, &st, 1);
	for (i = 0; i < 10; i++) {
		changes += probe_policy_record(&p, &st, 0);
		changes += probe_policy_record(&p, &st, 0);
		changes += probe_policy_record(&p, &st, 1);
	}
	ck_assert_int_eq(changes, 0);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(st.consecutive_failures, 0);
}
END_TEST

START_TEST(policy_recovers_after_success_threshold_successes_in_a_row)
{
	struct probe_policy p = {1000, 500, 2, 3};
	struct probe_state st = PROBE_STATE_INIT;

	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.health, PROBE_UNKNOWN);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 1);
	ck_assert_int_eq(st.health, PROBE_UNHEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	/* A failure restarts the success run. */
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.consecutive_successes, 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(st.health, PROBE_UNHEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 1);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
}
END_TEST

START_TEST(policy_unknown_target_needs_a_full_run_either_way)
{
	struct probe_policy p = {1000, 500, 3, 2};
	struct probe_state st = PROBE_STATE_INIT;

	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(st.health, PROBE_UNKNOWN);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 1);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
}
END_TEST

START_TEST(policy_validation_rejects_impossible_settings)
{
	struct probe_policy ok = PROBE_POLICY_DEFAULT, p;

	ck_assert_int_eq(probe_policy_validate(&ok), 0);
	p = ok, p.timeout_ms = p.period_ms + 1;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	p = ok, p.period_ms = 0;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	p = ok, p.failure_threshold = 0;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	p = ok, p.success_threshold = 0;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	ck_assert_int_eq(probe_policy_validate(NULL), BASE_EINVAL);
}
END_TEST

/* ---- heartbeat lag ----------------------------------------------------- */

START_TEST(lag_is_unknown_before_any_acknowledged_write)
{
	struct probe_heartbeat hb;

	probe_heartbeat_init(&hb);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 5, 1000, 10000, 10000), -1);
}
END_TEST

START_TEST(lag_is_zero_when_the_secondary_has_the_newest_write)
{
	struct probe_heartbeat hb;

	probe_heartbeat_init(&hb);
	probe_heartbeat_record(&hb, 7, 1000);
	probe_heartbeat_record(&hb, 8, 2000);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 8, 0, 60000, 0), 0);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 9, 0, 60000, 0), 0);
}
END_TEST

START_TEST(lag_counts_from_the_first_write_the_secondary_lacks)
{
	struct probe_heartbeat hb;
	int64_t s;

	probe_heartbeat_init(&hb);
	for (s = 1; s <= 10; s++)
		probe_heartbeat_record(&hb, s, s * 1000);
	/* Has 4, lacks 5 (sent at 5000): at 10500 it is 5.5 s behind. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 4, 0, 10500, 0), 5500);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 9, 0, 10500, 0), 500);
	/* The remote row's timestamp does not matter when the history knows. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 9, 1, 10500, 999999999), 500);
}
END_TEST

START_TEST(lag_beyond_the_history_is_bounded_from_above_by_our_own_timestamp)
{
	struct probe_heartbeat hb;
	int64_t s;

	probe_heartbeat_init(&hb);
	for (s = 100; s < 100 + 2 * PROBE_HEARTBEAT_HISTORY; s++)
		probe_heartbeat_record(&hb, s, s * 1000);
	/* The oldest kept write is seq 100 + HISTORY, sent at (100+H)*1000 ms. */
	s = 100 + PROBE_HEARTBEAT_HISTORY;
	/* Replica at seq 50, written (our wall clock) at 1,000,000; now (wall) 2,000,000. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 50, 1000000, (s + 10) * 1000, 2000000),
			 1000000);
	/* Without a timestamp: at least as old as the oldest write we know it lacks. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 50, 0, (s + 10) * 1000, 2000000), 10000);
}
END_TEST

START_TEST(lag_history_restarts_when_seq_goes_backwards)
{
	struct probe_heartbeat hb;

	probe_heartbeat_init(&hb);
	probe_heartbeat_record(&hb, 50, 1000);
	probe_heartbeat_record(&hb, 51, 2000);
	probe_heartbeat_record(&hb, 1, 3000); /* table recreated */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 1, 0, 4000, 0), 0);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 0, 0, 4000, 0), 1000);
}
END_TEST

/* ---- the prober against loopback sockets ------------------------------- */

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

int main(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("policy");
	TCase *hb = tcase_create("heartbeat");
	TCase *pr = tcase_create("prober");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, policy_turns_unhealthy_after_exactly_failure_threshold_failures);
	tcase_add_test(tc, server_side_timeouts_stay_below_the_probe_timeout);
	tcase_add_test(tc, scram_iteration_counts_over_the_cap_are_refused_before_libpq_reads_them);
	tcase_add_test(tc, policy_a_success_breaks_the_failure_run);
	tcase_add_test(tc, policy_recovers_after_success_threshold_successes_in_a_row);
	tcase_add_test(tc, policy_unknown_target_needs_a_full_run_either_way);
	tcase_add_test(tc, policy_validation_rejects_impossible_settings);
	suite_add_tcase(s, tc);
	tcase_add_test(hb, lag_is_unknown_before_any_acknowledged_write);
	tcase_add_test(hb, lag_is_zero_when_the_secondary_has_the_newest_write);
	tcase_add_test(hb, lag_counts_from_the_first_write_the_secondary_lacks);
	tcase_add_test(hb, lag_beyond_the_history_is_bounded_from_above_by_our_own_timestamp);
	tcase_add_test(hb, lag_history_restarts_when_seq_goes_backwards);
	suite_add_tcase(s, hb);
	tcase_set_timeout(pr, 20);
	tcase_add_test(pr, refused_connections_turn_a_target_unhealthy_once);
	tcase_add_test(pr, a_server_that_accepts_and_never_answers_times_out_on_the_deadline);
	tcase_add_test(pr, a_host_name_is_resolved_off_the_prober_thread);
	tcase_add_test(pr, targets_are_validated_and_tls_is_required_by_default);
	tcase_add_test(pr, a_removed_target_is_gone_from_the_table_and_the_metrics);
	tcase_add_test(pr, passwords_reach_neither_logs_nor_metrics);
	tcase_add_test(pr, a_new_configuration_takes_effect_on_the_next_probe);
	tcase_add_test(pr, probes_waiting_for_a_connection_slot_still_end_on_their_deadline);
	suite_add_tcase(s, pr);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
