/*
 * pkg/server/health: /healthz and /readyz through a running server: checks listed,
 * readiness failing until its check turns healthy, check names validated and unique,
 * registration concurrent with requests.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/metrics.h"
#include "tests/check_main.h"
#include "tests/server/http_client.h"

START_TEST(healthz_answers_ok_and_verbose_lists_checks)
{
	struct server_health *h = server_health_new();
	atomic_int up = 1;
	struct server *s;
	struct reply r;

	ck_assert_int_eq(server_health_add(h, SERVER_HEALTHZ, "ping", server_check_flag, &up), 0);
	ck_assert_int_eq(
		server_health_add(h, SERVER_HEALTHZ, "leader-election", server_check_flag, &up), 0);
	s = start(SERVER_ENDPOINT_HEALTH, h);

	request("GET", server_port(s), "/healthz", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok");
	ck_assert_msg(strstr(r.ctype, "text/plain"), "%s", r.ctype);
	base_buf_release(&r.body);

	request("GET", server_port(s), "/healthz?verbose", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "[+]leader-election ok\n[+]ping ok\nhealthz check passed\n");
	base_buf_release(&r.body);

	request("GET", server_port(s), "/healthz/ping", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok");
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(readyz_fails_until_the_check_turns_healthy)
{
	struct server_health *h = server_health_new();
	atomic_int synced = 0, up = 1;
	struct server *s;
	struct reply r;

	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "ping", server_check_flag, &up), 0);
	ck_assert_int_eq(
		server_health_add(h, SERVER_READYZ, "informer-sync", server_check_flag, &synced),
		0);
	s = start(SERVER_ENDPOINT_HEALTH, h);

	/* Not synced: 500, always verbose, the reason withheld from the aggregate. */
	request("GET", server_port(s), "/readyz", &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(
		r.body.data,
		"[-]informer-sync failed: reason withheld\n[+]ping ok\nhealthz check failed\n");
	base_buf_release(&r.body);
	request("GET", server_port(s), "/readyz/informer-sync", &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body.data, "internal server error: not ready yet\n");
	base_buf_release(&r.body);
	/* Liveness is independent of readiness. */
	request("GET", server_port(s), "/healthz", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	/* Excluding the failing check makes the rest pass. */
	request("GET", server_port(s), "/readyz?verbose&exclude=informer-sync&exclude=nosuch", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data,
			 "[+]informer-sync excluded: ok\n[+]ping ok\n"
			 "warn: some health checks cannot be excluded: no matches for \"nosuch\"\n"
			 "healthz check passed\n");
	base_buf_release(&r.body);

	atomic_store(&synced, 1);
	request("GET", server_port(s), "/readyz", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "ok");
	base_buf_release(&r.body);
	request("GET", server_port(s), "/readyz/informer-sync", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(empty_probe_set_answers_as_ping)
{
	struct server_health *h = server_health_new();
	struct server *s = start(SERVER_ENDPOINT_HEALTH, h);
	struct reply r;

	request("GET", server_port(s), "/readyz?verbose", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body.data, "[+]ping ok\nhealthz check passed\n");
	base_buf_release(&r.body);
	request("GET", server_port(s), "/readyz/ping", &r);
	ck_assert_int_eq(r.status, 200);
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

START_TEST(check_names_are_validated_and_unique)
{
	struct server_health *h = server_health_new();
	atomic_int up = 1;

	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "ok-name_1.x", server_check_flag, &up),
			 0);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "ok-name_1.x", server_check_flag, &up),
			 BASE_EEXIST);
	/* The same name in the other set is a different check. */
	ck_assert_int_eq(
		server_health_add(h, SERVER_HEALTHZ, "ok-name_1.x", server_check_flag, &up), 0);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "", server_check_flag, &up),
			 BASE_EINVAL);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "a/b", server_check_flag, &up),
			 BASE_EINVAL);
	ck_assert_int_eq(server_health_add(h, SERVER_READYZ, "a b", server_check_flag, &up),
			 BASE_EINVAL);
	ck_assert_int_eq(server_health_add(
				 h, SERVER_READYZ,
				 "x123456789012345678901234567890123456789012345678901234567890123",
				 server_check_flag, &up),
			 BASE_EINVAL);
	server_health_free(h);
}
END_TEST

struct registrar {
	struct server_health *h;
	int id;
	atomic_int flag;
};

static void *register_many(void *arg)
{
	struct registrar *g = arg;
	char name[32];

	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "c%d-%d", g->id, i);
		ck_assert_int_eq(
			server_health_add(g->h, SERVER_READYZ, name, server_check_flag, &g->flag),
			0);
	}
	return NULL;
}

START_TEST(checks_register_concurrently_with_requests)
{
	struct server_health *h = server_health_new();
	struct server *s = start(SERVER_ENDPOINT_HEALTH, h);
	struct registrar g[3];
	pthread_t t[3];
	struct reply r;

	for (int i = 0; i < 3; i++) {
		g[i].h = h;
		g[i].id = i;
		atomic_init(&g[i].flag, 1);
		pthread_create(&t[i], NULL, register_many, &g[i]);
	}
	for (int i = 0; i < 20; i++) {
		request("GET", server_port(s), "/readyz", &r);
		ck_assert_int_eq(r.status, 200);
		base_buf_release(&r.body);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);

	request("GET", server_port(s), "/readyz?verbose", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body.data, "[+]c2-49 ok\n"));
	base_buf_release(&r.body);
	atomic_store(&g[1].flag, 0);
	request("GET", server_port(s), "/readyz", &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_nonnull(strstr(r.body.data, "[-]c1-7 failed: reason withheld\n"));
	ck_assert_ptr_nonnull(strstr(r.body.data, "[+]c0-7 ok\n"));
	base_buf_release(&r.body);
	server_stop(s);
	server_health_free(h);
}
END_TEST

GDB_CHECK_MAIN("server_health", 30, healthz_answers_ok_and_verbose_lists_checks,
	       readyz_fails_until_the_check_turns_healthy, empty_probe_set_answers_as_ping,
	       check_names_are_validated_and_unique, checks_register_concurrently_with_requests)
