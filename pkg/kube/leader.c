/*
 * The elector thread alternates between an acquire phase and a renew phase.
 * Both use try_acquire_or_renew(): GET the Lease (or create it), note when
 * its spec last changed on our monotonic clock, and, if it is ours or
 * expired or free, PUT it back with us as holder under the read
 * resourceVersion. The observed record is kept as its JSON serialization so
 * "changed" means any field changed.
 */
#include "pkg/kube/leader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"

struct kube_leader {
	struct kube_client *client;
	char *ns, *name, *identity;
	int64_t lease_ms, renew_ms, retry_ms;
	void (*on_started)(void *);
	void (*on_stopped)(void *);
	void (*on_new_leader)(void *, const char *);
	void *ud;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	atomic_int stop;
	atomic_int leader;
	char *observed_spec; /* serialized spec last seen */
	int64_t observed_ms; /* monotonic time it was first seen */
	char *observed_holder;
	int64_t expires_ms; /* monotonic time another holder's lease lapses, 0 = n/a */
	json_t *lease;	    /* the last Lease read or written */
};

static struct base_metric *m_master;
static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;

static void metrics_init(void)
{
	m_master = base_metric_gauge("leader_election_master_status",
				     "Gauge of if the reporting system is master of the relevant "
				     "lease, 0 indicates backup, 1 indicates master.",
				     "name");
}

static int wait_or_stop(struct kube_leader *le, int64_t ms)
{
	int64_t deadline = base_now_mono_ms() + ms;
	int stopped;

	pthread_mutex_lock(&le->mu);
	while (!(stopped = atomic_load(&le->stop))) {
		int64_t left = deadline - base_now_mono_ms();

		if (left <= 0)
			break;
		base_cond_wait_ms(&le->cond, &le->mu, left);
	}
	pthread_mutex_unlock(&le->mu);
	return stopped;
}

static void now_micro(char *buf, size_t n)
{
	base_time_format_us(base_now_real_ms(), buf, n);
}

static void observe(struct kube_leader *le, json_t *lease)
{
	json_t *spec = json_object_get(lease, "spec");
	char *s = json_dumps(spec ? spec : json_null(),
			     JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));

	if (!le->observed_spec || strcmp(le->observed_spec, s)) {
		free(le->observed_spec);
		le->observed_spec = s;
		le->observed_ms = base_now_mono_ms();
		s = NULL;
	}
	free(s);
	if (!holder)
		holder = "";
	if (!le->observed_holder || strcmp(le->observed_holder, holder)) {
		free(le->observed_holder);
		le->observed_holder = xstrdup(holder);
		if (le->on_new_leader)
			le->on_new_leader(le->ud, holder);
	}
	json_decref(le->lease);
	le->lease = json_incref(lease);
}

static json_t *make_spec(struct kube_leader *le, json_t *old_spec, int keep)
{
	char now[48];
	json_int_t transitions = json_integer_value(json_object_get(old_spec, "leaseTransitions"));
	const char *acquire = json_string_value(json_object_get(old_spec, "acquireTime"));

	now_micro(now, sizeof(now));
	if (!keep || !acquire) {
		acquire = now;
		if (old_spec)
			transitions++;
	}
	return json_pack("{s:s, s:I, s:s, s:s, s:I}", "holderIdentity", le->identity,
			 "leaseDurationSeconds", (json_int_t)((le->lease_ms + 999) / 1000),
			 "acquireTime", acquire, "renewTime", now, "leaseTransitions", transitions);
}

/* 0 when we hold the lease afterwards, a negative code otherwise. */
static int try_acquire_or_renew(struct kube_leader *le)
{
	struct kube_status st;
	json_t *lease = NULL, *out = NULL, *spec, *upd;
	const char *holder;
	json_int_t dur;
	int rc, ours;

	rc = kube_get(le->client, &kube_res_leases, le->ns, le->name, &lease, &st);
	if (rc == BASE_ENOTFOUND) {
		json_t *obj =
			json_pack("{s:s, s:s, s:{s:s, s:s}, s:o}", "apiVersion",
				  "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name",
				  le->name, "namespace", le->ns, "spec", make_spec(le, NULL, 0));

		rc = kube_create(le->client, &kube_res_leases, le->ns, obj, &out, &st);
		json_decref(obj);
		if (rc == 0)
			observe(le, out);
		json_decref(out);
		return rc;
	}
	if (rc < 0)
		return rc;
	observe(le, lease);
	spec = json_object_get(lease, "spec");
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
	ours = holder && !strcmp(holder, le->identity);
	le->expires_ms = 0;
	if (holder && *holder && !ours && le->observed_ms + dur * 1000 > base_now_mono_ms()) {
		le->expires_ms = le->observed_ms + dur * 1000;
		json_decref(lease);
		return BASE_ECONFLICT; /* held by someone else and not expired */
	}
	upd = json_deep_copy(lease);
	/* Renewing our own record keeps acquireTime and the transition count. */
	json_object_set_new(upd, "spec", make_spec(le, spec, ours));
	rc = kube_update(le->client, &kube_res_leases, le->ns, le->name, NULL, upd, &out, &st);
	if (rc == 0)
		observe(le, out);
	json_decref(out);
	json_decref(upd);
	json_decref(lease);
	return rc;
}

static void set_leader(struct kube_leader *le, int v)
{
	atomic_store(&le->leader, v);
	base_metric_set(m_master, v, le->name);
}

static void release(struct kube_leader *le)
{
	struct kube_status st;
	char now[48];

	now_micro(now, sizeof(now));
	kube_set_thread_timeout(le->retry_ms);
	for (int i = 0; i < 3 && le->lease; i++) {
		json_t *upd = json_deep_copy(le->lease), *out = NULL, *spec;
		const char *holder = json_string_value(
			json_object_get(json_object_get(le->lease, "spec"), "holderIdentity"));
		int rc;

		if (!holder || strcmp(holder, le->identity))
			break;
		spec = json_object_get(upd, "spec");
		json_object_set_new(spec, "holderIdentity", json_string(""));
		json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
		json_object_set_new(spec, "renewTime", json_string(now));
		rc = kube_update(le->client, &kube_res_leases, le->ns, le->name, NULL, upd, &out,
				 &st);
		json_decref(upd);
		if (rc == 0) {
			json_decref(out);
			break;
		}
		if (rc != BASE_ECONFLICT)
			break;
		/* Re-read and try again: our last write may have raced a renew. */
		json_decref(le->lease);
		le->lease = NULL;
		if (kube_get(le->client, &kube_res_leases, le->ns, le->name, &out, &st) == 0)
			le->lease = out;
	}
}

static int64_t jittered(int64_t ms)
{
	return ms + base_rand_range(0, ms / 5);
}

static void *run(void *arg)
{
	struct kube_leader *le = arg;
	int64_t last_ok;

	/* Acquire. */
	for (;;) {
		int64_t start = base_now_mono_ms();

		kube_set_thread_timeout(le->retry_ms);
		int64_t delay = jittered(le->retry_ms), until_expiry;

		if (try_acquire_or_renew(le) == 0) {
			last_ok = start;
			break;
		}
		/* Try again right when the holder's lease lapses, if that comes first. */
		until_expiry = le->expires_ms - base_now_mono_ms() + 10;
		if (le->expires_ms && until_expiry < delay)
			delay = until_expiry > 0 ? until_expiry : 0;
		if (wait_or_stop(le, delay))
			return NULL;
	}
	set_leader(le, 1);
	if (le->on_started)
		le->on_started(le->ud);
	/* Renew. */
	for (;;) {
		int64_t start, left;

		if (wait_or_stop(le, le->retry_ms))
			break;
		start = base_now_mono_ms();
		left = last_ok + le->renew_ms - start;
		if (left > 0) {
			kube_set_thread_timeout(left < le->retry_ms ? left : le->retry_ms);
			if (try_acquire_or_renew(le) == 0) {
				last_ok = start;
				continue;
			}
		}
		if (base_now_mono_ms() - last_ok >= le->renew_ms) {
			set_leader(le, 0);
			if (le->on_stopped)
				le->on_stopped(le->ud);
			return NULL;
		}
	}
	/* Stopped while leading. */
	release(le);
	set_leader(le, 0);
	if (le->on_stopped)
		le->on_stopped(le->ud);
	return NULL;
}

int kube_leader_start(struct kube_client *client, const struct kube_leader_opts *opts,
		      struct kube_leader **out)
{
	struct kube_leader *le;
	int64_t lease = opts->lease_duration_ms ? opts->lease_duration_ms : KUBE_LEASE_DURATION_MS;
	int64_t renew = opts->renew_deadline_ms ? opts->renew_deadline_ms : KUBE_RENEW_DEADLINE_MS;
	int64_t retry = opts->retry_period_ms ? opts->retry_period_ms : KUBE_RETRY_PERIOD_MS;

	*out = NULL;
	if (!opts->ns || !*opts->ns || !opts->name || !*opts->name || !opts->identity ||
	    !*opts->identity || lease <= renew || renew * 10 <= retry * 12 || retry <= 0 ||
	    lease % 1000)
		return BASE_EINVAL;
	pthread_once(&metrics_once, metrics_init);
	le = xcalloc(1, sizeof(*le));
	le->client = client;
	le->ns = xstrdup(opts->ns);
	le->name = xstrdup(opts->name);
	le->identity = xstrdup(opts->identity);
	le->lease_ms = lease;
	le->renew_ms = renew;
	le->retry_ms = retry;
	le->on_started = opts->on_started_leading;
	le->on_stopped = opts->on_stopped_leading;
	le->on_new_leader = opts->on_new_leader;
	le->ud = opts->ud;
	pthread_mutex_init(&le->mu, NULL);
	base_cond_init_monotonic(&le->cond);
	base_metric_set(m_master, 0, le->name);
	if (pthread_create(&le->thread, NULL, run, le) != 0)
		BUG("pthread_create failed");
	*out = le;
	return 0;
}

int kube_leader_is_leader(struct kube_leader *le)
{
	return atomic_load(&le->leader);
}

void kube_leader_free(struct kube_leader *le)
{
	if (!le)
		return;
	pthread_mutex_lock(&le->mu);
	atomic_store(&le->stop, 1);
	pthread_cond_broadcast(&le->cond);
	pthread_mutex_unlock(&le->mu);
	pthread_join(le->thread, NULL);
	pthread_cond_destroy(&le->cond);
	pthread_mutex_destroy(&le->mu);
	json_decref(le->lease);
	free(le->observed_spec);
	free(le->observed_holder);
	free(le->ns);
	free(le->name);
	free(le->identity);
	free(le);
}
