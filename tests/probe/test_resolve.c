/*
 * pkg/probe/resolve: host names resolved off the prober thread. A result
 * wakes the caller's eventfd; numeric hosts are told apart without a lookup;
 * a name that does not resolve fails; a caller that gives up, and a pool
 * freed with work queued, neither leak nor wait. Names come from /etc/hosts
 * ("localhost") or fail before any packet is sent (an empty label), so no
 * test depends on a name server.
 */
#include <check.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pkg/base/err.h"
#include "pkg/probe/resolve.h"

static const struct {
	const char *host;
	int numeric;
} hosts[] = {
	{"127.0.0.1", 1},
	{"10.0.12.7", 1},
	{"::1", 1},
	{"fd00:ec2::254", 1},
	{"::ffff:192.0.2.1", 1},
	{"localhost", 0},
	{"orders.cluster-abc.us-east-1.rds.amazonaws.com", 0},
	{"127.1", 0}, /* inet_aton would take it; libpq's hostaddr would not */
	{"256.0.0.1", 0},
	{"[::1]", 0},
	{"", 0},
};

START_TEST(numeric_hosts_are_recognised)
{
	ck_assert_msg(probe_host_is_numeric(hosts[_i].host) == hosts[_i].numeric, "%s",
		      hosts[_i].host);
}
END_TEST

/* Waits on the eventfd until req leaves the pending state; returns its state. */
static int await(struct probe_resolver *r, struct probe_resolve_req *req, int efd, char *addr,
		 size_t n)
{
	int state;

	while ((state = probe_resolve_result(r, req, addr, n)) == 0) {
		struct pollfd p = {.fd = efd, .events = POLLIN};
		uint64_t v;

		ck_assert_int_eq(poll(&p, 1, 10000), 1);
		ck_assert_int_eq(read(efd, &v, sizeof(v)), (int)sizeof(v));
	}
	return state;
}

START_TEST(a_name_resolves_and_wakes_the_caller)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct probe_resolver *r;
	struct probe_resolve_req *req;
	char addr[64] = "";

	ck_assert_int_ge(efd, 0);
	ck_assert_int_eq(probe_resolver_new(2, efd, &r), 0);
	req = probe_resolve_submit(r, "localhost");
	ck_assert_ptr_nonnull(req);
	ck_assert_int_eq(await(r, req, efd, addr, sizeof(addr)), 1);
	/* IPv4 preferred: /etc/hosts may list ::1 for localhost too. */
	ck_assert_str_eq(addr, "127.0.0.1");
	probe_resolve_release(r, req);
	probe_resolver_free(r);
	close(efd);
}
END_TEST

START_TEST(a_name_that_does_not_resolve_fails)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct probe_resolver *r;
	struct probe_resolve_req *req;
	char addr[64] = "unchanged";

	ck_assert_int_eq(probe_resolver_new(1, efd, &r), 0);
	req = probe_resolve_submit(r, "orders..invalid");
	ck_assert_int_eq(await(r, req, efd, addr, sizeof(addr)), BASE_ETRANSPORT);
	ck_assert_str_eq(addr, "unchanged");
	probe_resolve_release(r, req);
	probe_resolver_free(r);
	close(efd);
}
END_TEST

/* Requests are answered in order by a one-thread pool; each has its own answer. */
START_TEST(many_requests_each_get_their_answer)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct probe_resolver *r;
	struct probe_resolve_req *req[8];
	char addr[64];

	ck_assert_int_eq(probe_resolver_new(1, efd, &r), 0);
	for (int i = 0; i < 8; i++)
		req[i] = probe_resolve_submit(r, i % 2 ? "no..such" : "localhost");
	for (int i = 0; i < 8; i++) {
		int state = await(r, req[i], efd, addr, sizeof(addr));

		ck_assert_int_eq(state, i % 2 ? BASE_ETRANSPORT : 1);
		if (state == 1)
			ck_assert_str_eq(addr, "127.0.0.1");
		probe_resolve_release(r, req[i]);
	}
	probe_resolver_free(r);
	close(efd);
}
END_TEST

/*
 * The prober's deadline passes: it gives up requests unanswered (queued or
 * being resolved) and frees the pool with work still queued; nothing waits
 * and nothing leaks (the sanitizer builds check the latter).
 */
START_TEST(giving_up_and_freeing_with_work_queued_is_safe)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct probe_resolver *r;
	struct probe_resolve_req *req[16];

	ck_assert_int_eq(probe_resolver_new(2, efd, &r), 0);
	for (int i = 0; i < 16; i++)
		req[i] = probe_resolve_submit(r, "localhost");
	for (int i = 0; i < 16; i++)
		probe_resolve_release(r, req[i]);
	for (int i = 0; i < 16; i++)
		req[i] = probe_resolve_submit(r, "localhost");
	for (int i = 0; i < 16; i++)
		probe_resolve_release(r, req[i]);
	probe_resolve_release(r, NULL);
	probe_resolver_free(r);
	probe_resolver_free(NULL);
	close(efd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("probe_resolve");
	TCase *tc = tcase_create("resolve");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, numeric_hosts_are_recognised, 0,
			    (int)(sizeof(hosts) / sizeof(*hosts)));
	tcase_add_test(tc, a_name_resolves_and_wakes_the_caller);
	tcase_add_test(tc, a_name_that_does_not_resolve_fails);
	tcase_add_test(tc, many_requests_each_get_their_answer);
	tcase_add_test(tc, giving_up_and_freeing_with_work_queued_is_safe);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
