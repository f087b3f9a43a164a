/*
 * pkg/kube/leader on the wire: options that could allow two leaders are
 * refused; a Lease another candidate holds is taken only after it has gone
 * unrenewed for its whole duration on our own clock; a leader whose renewals
 * fail steps down before its lease could lapse for anyone else. Short
 * durations (whole seconds, as on the wire) keep it fast; every wait is for a
 * condition, with the safety margins of the real defaults scaled down.
 */
#include "tests/check_main.h"
#include "tests/kube/wire_server.h"

#define LEASE_MS 4000
#define RENEW_MS 1500
#define RETRY_MS 300

/* A Lease as the apiserver returns it. */
static char *lease_json(const char *holder, int duration_s, int rv)
{
	return xasprintf(
		"{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\","
		"\"metadata\":{\"name\":\"lock\",\"namespace\":\"ns\","
		"\"resourceVersion\":\"%d\"},\"spec\":{\"holderIdentity\":\"%s\","
		"\"leaseDurationSeconds\":%d,\"renewTime\":\"2026-01-01T00:00:00.000000Z\","
		"\"leaseTransitions\":0}}",
		rv, holder, duration_s);
}

struct lease_server {
	const char *holder;	    /* who the stored Lease names; NULL: there is none yet */
	atomic_int failing;	    /* answer everything with a 500 */
	atomic_int rv;		    /* resourceVersion of the stored Lease */
	atomic_llong first_get_ms;  /* monotonic time of the first GET */
	atomic_llong first_put_ms;  /* of the first write (create or update) */
	atomic_llong last_write_ms; /* of the last write answered 2xx */
};

static void h_lease(struct server *s, int fd, const char *method, const char *target)
{
	struct lease_server *l = s->ud;
	int64_t now = base_now_mono_ms();
	char *body;

	(void)target;
	if (atomic_load(&l->failing)) {
		h_500(s, fd, method, target);
		return;
	}
	if (!strcmp(method, "GET")) {
		long long zero = 0;

		atomic_compare_exchange_strong(&l->first_get_ms, &zero, now);
		if (!l->holder) {
			send_response(fd, 404, NULL,
				      "{\"kind\":\"Status\",\"status\":\"Failure\","
				      "\"reason\":\"NotFound\",\"code\":404}");
			return;
		}
		body = lease_json(l->holder, LEASE_MS / 1000, atomic_load(&l->rv));
		send_response(fd, 200, NULL, body);
		free(body);
		return;
	}
	/* POST (create) or PUT (update): the write names this candidate. */
	{
		long long zero = 0;

		atomic_compare_exchange_strong(&l->first_put_ms, &zero, now);
	}
	l->holder = "me";
	body = lease_json("me", LEASE_MS / 1000, atomic_fetch_add(&l->rv, 1) + 1);
	send_response(fd, !strcmp(method, "POST") ? 201 : 200, NULL, body);
	atomic_store(&l->last_write_ms, base_now_mono_ms());
	free(body);
}

struct calls {
	atomic_int started, stopped;
	atomic_llong stopped_ms;
};

static void on_started(void *ud)
{
	atomic_fetch_add(&((struct calls *)ud)->started, 1);
}

static void on_stopped(void *ud)
{
	struct calls *c = ud;

	atomic_store(&c->stopped_ms, base_now_mono_ms());
	atomic_fetch_add(&c->stopped, 1);
}

/* Waits up to ms for *flag to become non-zero; 1 if it did. */
static int await_flag(atomic_int *flag, int64_t ms)
{
	int64_t deadline = base_now_mono_ms() + ms;

	while (!atomic_load(flag) && base_now_mono_ms() < deadline)
		base_sleep_ms(10);
	return atomic_load(flag) != 0;
}

static struct kube_leader_opts opts_for(struct calls *calls)
{
	return (struct kube_leader_opts){.ns = "ns",
					 .name = "lock",
					 .identity = "me",
					 .lease_duration_ms = LEASE_MS,
					 .renew_deadline_ms = RENEW_MS,
					 .retry_period_ms = RETRY_MS,
					 .on_started_leading = on_started,
					 .on_stopped_leading = on_stopped,
					 .ud = calls};
}

START_TEST(options_that_could_allow_two_leaders_are_refused)
{
	struct lease_server l = {0};
	struct calls calls = {0};
	struct server s;
	struct kube_client *c;
	struct kube_leader *le = NULL;
	struct kube_leader_opts o;

	server_start(&s, h_lease, &l);
	c = client_for(&s);
	o = opts_for(&calls);
	o.renew_deadline_ms = LEASE_MS; /* the lease must outlast the renew deadline */
	ck_assert_int_eq(kube_leader_start(c, &o, &le), BASE_EINVAL);
	ck_assert_ptr_null(le);
	o = opts_for(&calls);
	o.retry_period_ms = RENEW_MS; /* room for at least one retry, with jitter */
	ck_assert_int_eq(kube_leader_start(c, &o, &le), BASE_EINVAL);
	o = opts_for(&calls);
	o.lease_duration_ms = 4500; /* leaseDurationSeconds is whole seconds */
	ck_assert_int_eq(kube_leader_start(c, &o, &le), BASE_EINVAL);
	o = opts_for(&calls);
	o.identity = "";
	ck_assert_int_eq(kube_leader_start(c, &o, &le), BASE_EINVAL);
	o = opts_for(&calls);
	o.ns = NULL;
	ck_assert_int_eq(kube_leader_start(c, &o, &le), BASE_EINVAL);
	ck_assert_int_eq(atomic_load(&s.requests), 0);
	kube_leader_free(NULL);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

START_TEST(a_held_lease_is_taken_only_after_its_duration_unrenewed)
{
	struct lease_server l = {.holder = "other", .rv = 7};
	struct calls calls = {0};
	struct server s;
	struct kube_client *c;
	struct kube_leader *le;
	struct kube_leader_opts o;

	server_start(&s, h_lease, &l);
	c = client_for(&s);
	o = opts_for(&calls);
	ck_assert_int_eq(kube_leader_start(c, &o, &le), 0);
	ck_assert_msg(await_flag(&calls.started, 4 * LEASE_MS), "never became leader");
	ck_assert(kube_leader_is_leader(le));
	/* "other" stopped renewing at once; it still had the whole duration, on our clock. */
	ck_assert_int_ge(atomic_load(&l.first_put_ms) - atomic_load(&l.first_get_ms), LEASE_MS);
	kube_leader_free(le);
	ck_assert_int_eq(atomic_load(&calls.stopped), 1);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

START_TEST(a_leader_that_cannot_renew_steps_down_before_its_lease_lapses)
{
	struct lease_server l = {0};
	struct calls calls = {0};
	struct server s;
	struct kube_client *c;
	struct kube_leader *le;
	struct kube_leader_opts o;
	int64_t renewed;

	server_start(&s, h_lease, &l);
	c = client_for(&s);
	o = opts_for(&calls);
	ck_assert_int_eq(kube_leader_start(c, &o, &le), 0);
	ck_assert_msg(await_flag(&calls.started, 4 * LEASE_MS), "never became leader");
	/* Leading, it renews: wait for a renewal after the create. */
	while (atomic_load(&l.rv) < 2)
		base_sleep_ms(10);
	atomic_store(&l.failing, 1);
	renewed = atomic_load(&l.last_write_ms);
	ck_assert_msg(await_flag(&calls.stopped, 4 * LEASE_MS), "still leading");
	ck_assert(!kube_leader_is_leader(le));
	/*
	 * It gave up before anyone else could consider the lease expired: at most
	 * the lease duration after the last renewal the apiserver accepted.
	 */
	ck_assert_int_lt(atomic_load(&calls.stopped_ms) - renewed, LEASE_MS);
	/* Nor at the first failed renewal: a short apiserver hiccup does not cost leadership. */
	ck_assert_int_ge(atomic_load(&calls.stopped_ms) - renewed, RENEW_MS / 2);
	ck_assert_int_eq(atomic_load(&calls.started), 1);
	kube_leader_free(le);
	ck_assert_int_eq(atomic_load(&calls.stopped), 1);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

GDB_CHECK_MAIN("kube_leader_wire", 60, options_that_could_allow_two_leaders_are_refused,
	       a_held_lease_is_taken_only_after_its_duration_unrenewed,
	       a_leader_that_cannot_renew_steps_down_before_its_lease_lapses)
