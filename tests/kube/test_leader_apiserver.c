/*
 * pkg/kube/leader against the real apiserver: one leader, failover after SIGKILL, and
 * exactly one leader when contended from the start (lease_contender processes).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/check_main.h"
#include "tests/kube/kube_env.h"

struct contender {
	pid_t pid;
	int fd;
	char buf[4096];
	size_t len;
	json_t *lines; /* [[ms, "word", "arg"], ...] */
};

static void contender_start(struct contender *p, const char *ns, const char *identity)
{
	const char *bindir = getenv("GDB_BINARY_DIR");
	char *prog = xasprintf("%s/tests/kube/kube_lease_contender", bindir);
	char *argv[] = {prog,
			(char *)state_str("kubeconfig"),
			(char *)ns,
			"kube-it-lease",
			(char *)identity,
			"6000",
			"4000",
			"1000",
			NULL};
	posix_spawn_file_actions_t fa;
	int pfd[2];

	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	ck_assert_int_eq(posix_spawn(&p->pid, prog, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	p->fd = pfd[0];
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	p->lines = json_array();
	free(prog);
}

static void contender_pump(struct contender *p)
{
	ssize_t r;
	char *nl;

	while ((r = read(p->fd, p->buf + p->len, sizeof(p->buf) - 1 - p->len)) > 0) {
		p->len += (size_t)r;
		p->buf[p->len] = '\0';
		while ((nl = strchr(p->buf, '\n'))) {
			long long ms;
			char word[32] = "", arg[128] = "";

			*nl = '\0';
			if (sscanf(p->buf, "%lld %31s %127s", &ms, word, arg) >= 2)
				json_array_append_new(
					p->lines, json_pack("[Iss]", (json_int_t)ms, word, arg));
			p->len -= (size_t)(nl + 1 - p->buf);
			memmove(p->buf, nl + 1, p->len + 1);
		}
	}
}

/* The time of the first line with word, or -1. */
static int64_t contender_when(struct contender *p, const char *word)
{
	size_t i;
	json_t *l;

	contender_pump(p);
	json_array_foreach(p->lines, i, l)
	{
		if (!strcmp(json_string_value(json_array_get(l, 1)), word))
			return json_integer_value(json_array_get(l, 0));
	}
	return -1;
}

static int64_t await_word(struct contender *p, const char *word, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms, t;

	while ((t = contender_when(p, word)) < 0) {
		if (base_now_mono_ms() >= deadline)
			return -1;
		base_sleep_ms(10);
	}
	return t;
}

static int contender_wait(struct contender *p)
{
	int status;

	waitpid(p->pid, &status, 0);
	contender_pump(p);
	close(p->fd);
	return status;
}

START_TEST(lease_has_one_leader_and_fails_over_after_sigkill)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-lease");
	struct contender a, b, d;
	int64_t a_start, b_start, killed, b_stop, d_start, takeover, handover;
	int status;
	json_t *lease;
	struct kube_status st;

	contender_start(&a, ns, "alpha");
	a_start = await_word(&a, "started", 20000);
	ck_assert_int_ge(a_start, 0);
	contender_start(&b, ns, "beta");
	/* beta sees alpha as leader and stays a candidate while alpha renews. */
	ck_assert_int_ge(await_word(&b, "running", 10000), 0);
	ck_assert_int_eq(await_word(&b, "started", 8000), -1);

	kill(a.pid, SIGKILL);
	killed = base_now_mono_ms();
	contender_wait(&a);
	b_start = await_word(&b, "started", 30000);
	ck_assert_int_ge(b_start, 0);
	takeover = b_start - killed;
	/* Never two leaders: beta started only after alpha was dead... */
	ck_assert_int_gt(b_start, killed);
	/*
	 * ...and within lease (6 s) + one jittered retry period (1.2 s: the
	 * candidate may see the last renew that late) + request time.
	 */
	ck_assert_int_le(takeover, 6000 + 1200 + 1000);
	printf("lease takeover after SIGKILL: %lld ms (lease 6000 ms, retry 1000 ms)\n",
	       (long long)takeover);

	/* A graceful stop releases the lease: the next candidate does not wait for expiry. */
	contender_start(&d, ns, "delta");
	ck_assert_int_ge(await_word(&d, "running", 10000), 0);
	ck_assert_int_ge(await_word(&d, "leader", 10000), 0);
	kill(b.pid, SIGTERM);
	status = contender_wait(&b);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	b_stop = contender_when(&b, "stopped");
	ck_assert_int_ge(b_stop, 0);
	d_start = await_word(&d, "started", 20000);
	ck_assert_int_ge(d_start, 0);
	ck_assert_int_gt(d_start, b_stop);
	handover = d_start - b_stop;
	ck_assert_int_le(handover, 2 * 1200 + 1000);
	printf("lease handover after release: %lld ms\n", (long long)handover);
	ck_assert_int_eq(contender_when(&d, "lost"), -1);
	ck_assert_int_eq(contender_when(&b, "lost"), -1);

	ck_assert_int_eq(kube_get(c, &kube_res_leases, ns, "kube-it-lease", &lease, &st), 0);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_object_get(lease, "spec"), "holderIdentity")),
			 "delta");
	ck_assert_int_ge(json_integer_value(json_object_get(json_object_get(lease, "spec"),
							    "leaseTransitions")),
			 2);
	json_decref(lease);
	kill(d.pid, SIGTERM);
	contender_wait(&d);
	ck_assert_int_eq(kube_get(c, &kube_res_leases, ns, "kube-it-lease", &lease, &st), 0);
	ck_assert_str_eq(json_string_value(
				 json_object_get(json_object_get(lease, "spec"), "holderIdentity")),
			 "");
	json_decref(lease);
	json_decref(a.lines);
	json_decref(b.lines);
	json_decref(d.lines);
	free(ns);
	kube_client_free(c);
}
END_TEST

START_TEST(lease_contended_from_the_start_has_exactly_one_leader)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-lease3");
	static const char *const ids[] = {"one", "two", "three"};
	struct contender p[3];
	int64_t deadline = base_now_mono_ms() + 20000;
	int leaders = 0;

	/* All three race to create the Lease. */
	for (int i = 0; i < 3; i++)
		contender_start(&p[i], ns, ids[i]);
	while (leaders == 0) {
		for (int i = 0; i < 3; i++)
			leaders += contender_when(&p[i], "started") >= 0;
		ck_assert_msg(base_now_mono_ms() < deadline, "nobody became leader");
		base_sleep_ms(20);
	}
	/* Longer than a lease duration: the others must stay candidates. */
	base_sleep_ms(8000);
	leaders = 0;
	for (int i = 0; i < 3; i++) {
		leaders += contender_when(&p[i], "started") >= 0;
		ck_assert_int_eq(contender_when(&p[i], "lost"), -1);
	}
	ck_assert_int_eq(leaders, 1);
	for (int i = 0; i < 3; i++) {
		int status;

		kill(p[i].pid, SIGTERM);
		status = contender_wait(&p[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		json_decref(p[i].lines);
	}
	free(ns);
	kube_client_free(c);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("kube_leader_apiserver", 180, load_state, NULL,
		       lease_has_one_leader_and_fails_over_after_sigkill,
		       lease_contended_from_the_start_has_exactly_one_leader)
