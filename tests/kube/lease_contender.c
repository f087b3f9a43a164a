/*
 * kube_lease_contender: runs one leader-election candidate and prints its
 * transitions, for the integration test that runs several of them.
 *
 *   kube_lease_contender KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_MS RENEW_MS RETRY_MS
 *
 * Prints "<monotonic ms> started|stopped|lost|leader <id>" lines (the
 * monotonic clock is shared by all processes on the host, so the test can
 * order lines from different candidates). SIGTERM/SIGINT stop the elector,
 * which releases the lease if held, and exit 0; lost leadership exits 2, as
 * a controller binary would.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void say(const char *what, const char *arg)
{
	printf("%lld %s%s%s\n", (long long)base_now_mono_ms(), what, arg ? " " : "",
	       arg ? arg : "");
	fflush(stdout);
}

static atomic_int lost;

static void started(void *ud)
{
	(void)ud;
	say("started", NULL);
}

static void stopped(void *ud)
{
	(void)ud;
	if (!got_signal) {
		say("lost", NULL);
		atomic_store(&lost, 1);
		return;
	}
	say("stopped", NULL);
}

static void new_leader(void *ud, const char *id)
{
	(void)ud;
	say("leader", *id ? id : "-");
}

static long num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v <= 0) {
		fprintf(stderr, "not a positive number: %s\n", s);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct kube_config *cfg;
	struct kube_client *c;
	struct kube_leader *le;
	struct kube_leader_opts o = {0};
	struct sigaction sa = {0};
	char *msg = NULL;
	int rc;

	if (argc != 8) {
		fprintf(stderr,
			"usage: %s KUBECONFIG NS LEASE IDENTITY LEASE_MS RENEW_MS RETRY_MS\n",
			argv[0]);
		return 64;
	}
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	rc = kube_config_load_kubeconfig(argv[1], NULL, &cfg, &msg);
	if (rc < 0) {
		fprintf(stderr, "%s\n", msg);
		return 1;
	}
	kube_client_new(cfg, NULL, &c);
	o.ns = argv[2];
	o.name = argv[3];
	o.identity = argv[4];
	o.lease_duration_ms = num(argv[5]);
	o.renew_deadline_ms = num(argv[6]);
	o.retry_period_ms = num(argv[7]);
	o.on_started_leading = started;
	o.on_stopped_leading = stopped;
	o.on_new_leader = new_leader;
	rc = kube_leader_start(c, &o, &le);
	if (rc < 0) {
		fprintf(stderr, "invalid election settings\n");
		return 64;
	}
	say("running", argv[4]);
	while (!got_signal && !atomic_load(&lost))
		base_sleep_ms(20);
	kube_leader_free(le);
	kube_client_free(c);
	return atomic_load(&lost) ? 2 : 0;
}
