/*
 * The provider: the cached credentials, and the thread that refreshes them.
 *
 * Callers (aws_creds_provider_get) copy the cached credentials out under a
 * short lock and never hold it across network I/O. A refresher thread per
 * chain provider, started by the first get, does every fetch (through
 * aws_creds_fetch, creds_sources.c) with the lock released: the first
 * resolution of the chain, a background refresh when its due time or its
 * backoff timer comes, and the refresh that callers with no valid
 * credentials ask for and wait on (one at a time, shared by all waiters;
 * the generation counter `finished` tells a waiter that its refresh ended).
 * Times are wall-clock ms, as expiry is; with an injected clock (tests) the
 * wall clock advances with it.
 */
#include "pkg/aws/creds.h"

#include <pthread.h>
#include <string.h>

#include "pkg/aws/creds_int.h"
#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"

#define ADVISORY_MS (15 * 60 * 1000) /* refresh this long before expiry */
#define RETRY_BASE_MS 1000	     /* first delay after a failed background refresh */
#define RETRY_CAP_MS (60 * 1000)     /* longest delay between background attempts */
#define WORKER_WAKE_MS (60 * 1000)   /* the worker re-reads the clock at least this often */

static const char *const source_names[] = {
	"none",		"static",  "environment", "assume-role",
	"web-identity", "profile", "container",	  "imds",
};

struct aws_creds_provider {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* the worker: a refresh was requested, or stop */
	pthread_cond_t done; /* callers: a refresh finished */
	pthread_t worker;
	int worker_started;
	int stop;
	enum aws_creds_source src; /* written by the worker only, under lock */
	struct aws_creds cached;
	int have;
	int refreshing;	   /* a refresh is requested or in flight */
	uint64_t finished; /* refreshes finished so far */
	int last_rc;	   /* of the last finished refresh */
	struct aws_error last_err;
	int64_t due_ms;	  /* wall ms: the background refresh is due */
	int64_t retry_ms; /* wall ms: no background attempt before (backoff) */
	struct base_backoff backoff;
	uint64_t attempts, failures;
	const struct base_clock *clock; /* NULL = real */
	int64_t wall0, mono0;		/* wall time = wall0 + (clock - mono0) */
	struct aws_creds_where where;
};

void aws_creds_release(struct aws_creds *c)
{
	if (!c)
		return;
	base_free_secret(c->access_key_id);
	base_free_secret(c->secret_access_key);
	base_free_secret(c->session_token);
	memset(c, 0, sizeof(*c));
}

void aws_creds_copy(struct aws_creds *dst, const struct aws_creds *src)
{
	dst->access_key_id = src->access_key_id ? xstrdup(src->access_key_id) : NULL;
	dst->secret_access_key = src->secret_access_key ? xstrdup(src->secret_access_key) : NULL;
	dst->session_token = src->session_token ? xstrdup(src->session_token) : NULL;
	dst->expiration_ms = src->expiration_ms;
}

static pthread_once_t metrics_once = PTHREAD_ONCE_INIT;
static struct base_metric *refreshes_total;

static void metrics_init(void)
{
	refreshes_total = base_metric_counter(
		"globaldb_aws_credential_refreshes_total",
		"AWS credential fetches by source and result (ok, error)", "source,result");
}

/* Wall-clock ms: the real clock, or the injected clock's time since creation. */
static int64_t wall_now(const struct aws_creds_provider *p)
{
	if (!p->clock)
		return base_now_real_ms();
	return p->wall0 + (base_clock_now_ms(p->clock) - p->mono0);
}

static int usable(const struct aws_creds_provider *p, int64_t now)
{
	return p->have && (p->cached.expiration_ms == 0 || now < p->cached.expiration_ms);
}

/*
 * When the next background refresh is due for credentials fetched at now:
 * ADVISORY_MS before expiry, or halfway to expiry for credentials that live
 * less than twice that (so short-lived credentials are not refetched in a loop).
 */
static int64_t due_after(int64_t now, int64_t expiration_ms)
{
	int64_t left = expiration_ms - now;

	if (left <= 0)
		return now;
	return expiration_ms - (left / 2 < ADVISORY_MS ? left / 2 : ADVISORY_MS);
}

/* True when a background refresh should start now. Called with the lock held. */
static int background_due(const struct aws_creds_provider *p, int64_t now)
{
	return !p->refreshing && p->have && p->cached.expiration_ms != 0 && now >= p->due_ms &&
	       now >= p->retry_ms;
}

static void start_refresh(struct aws_creds_provider *p)
{
	p->refreshing = 1;
	pthread_cond_signal(&p->wake);
}

/* Runs the chain (first resolution) or the chosen source. No lock held. */
static int resolve(struct aws_creds_provider *p, enum aws_creds_source *src, struct aws_creds *out,
		   struct aws_error *err)
{
	static const enum aws_creds_source chain[] = {CREDS_SRC_ENV,	      CREDS_SRC_ASSUME_ROLE,
						      CREDS_SRC_WEB_IDENTITY, CREDS_SRC_PROFILE,
						      CREDS_SRC_CONTAINER,    CREDS_SRC_IMDS};
	int rc = BASE_ENOTFOUND;

	if (*src != CREDS_SRC_NONE)
		return aws_creds_fetch(&p->where, *src, out, err);
	for (size_t i = 0; i < sizeof(chain) / sizeof(chain[0]); i++) {
		aws_error_clear(err);
		rc = aws_creds_fetch(&p->where, chain[i], out, err);
		if (rc == 0) {
			*src = chain[i];
			return 0;
		}
		if (rc != BASE_ENOTFOUND)
			return rc;
	}
	aws_error_set(err, 0, "",
		      "no AWS credentials found (environment, profile, web identity, container, "
		      "instance metadata)");
	return rc;
}

/*
 * The refresher thread. It fetches when a caller asks (refreshing set) or
 * when its own timer finds a background refresh due; the fetch runs without
 * the lock, so callers keep reading the cached credentials meanwhile.
 */
static void *worker_main(void *arg)
{
	struct aws_creds_provider *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		struct aws_creds got = {0};
		struct aws_error err;
		enum aws_creds_source src;
		int64_t now = wall_now(p);
		int rc;

		if (!p->refreshing) {
			if (background_due(p, now)) {
				p->refreshing = 1;
				continue;
			}
			if (p->have && p->cached.expiration_ms != 0) {
				int64_t next = p->due_ms > p->retry_ms ? p->due_ms : p->retry_ms;
				int64_t ms = next - now;

				base_cond_wait_ms(&p->wake, &p->lock,
						  ms < 1		? 1
						  : ms > WORKER_WAKE_MS ? WORKER_WAKE_MS
									: ms);
			} else {
				pthread_cond_wait(&p->wake, &p->lock);
			}
			continue;
		}
		src = p->src;
		pthread_mutex_unlock(&p->lock);
		aws_error_clear(&err);
		rc = resolve(p, &src, &got, &err);
		pthread_mutex_lock(&p->lock);
		now = wall_now(p);
		p->attempts++;
		if (rc == 0) {
			aws_creds_release(&p->cached);
			p->cached = got;
			p->have = 1;
			p->src = src;
			p->due_ms = got.expiration_ms ? due_after(now, got.expiration_ms) : 0;
			if (got.expiration_ms && got.expiration_ms <= now) {
				/* Expired on arrival (a skewed clock here or there): no tight loop. */
				p->retry_ms = now + base_backoff_next(&p->backoff);
			} else {
				base_backoff_reset(&p->backoff);
				p->retry_ms = 0;
			}
		} else {
			p->failures++;
			p->retry_ms = now + base_backoff_next(&p->backoff);
		}
		base_metric_add(refreshes_total, 1, source_names[src], rc == 0 ? "ok" : "error");
		p->last_rc = rc;
		p->last_err = err;
		p->refreshing = 0;
		p->finished++;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct aws_creds_provider *aws_creds_provider_new_chain(const struct aws_creds_options *opts)
{
	struct aws_creds_provider *p = xcalloc(1, sizeof(*p));

	pthread_once(&metrics_once, metrics_init);
	pthread_mutex_init(&p->lock, NULL);
	base_cond_init_monotonic(&p->wake);
	pthread_cond_init(&p->done, NULL);
	if (opts) {
		p->where.region = opts->region ? xstrdup(opts->region) : NULL;
		p->where.profile = opts->profile ? xstrdup(opts->profile) : NULL;
		p->where.http_timeout_ms = opts->http_timeout_ms;
		p->clock = opts->clock;
	}
	p->wall0 = base_now_real_ms();
	p->mono0 = base_clock_now_ms(p->clock);
	p->backoff = (struct base_backoff){
		.base_ms = RETRY_BASE_MS, .cap_ms = RETRY_CAP_MS, .jitter = 0.2, .clock = p->clock};
	return p;
}

struct aws_creds_provider *aws_creds_provider_new_static(const char *access_key_id,
							 const char *secret_access_key,
							 const char *session_token)
{
	struct aws_creds_provider *p = aws_creds_provider_new_chain(NULL);

	p->src = CREDS_SRC_STATIC;
	p->have = 1;
	p->cached.access_key_id = xstrdup(access_key_id ? access_key_id : "");
	p->cached.secret_access_key = xstrdup(secret_access_key ? secret_access_key : "");
	p->cached.session_token = session_token ? xstrdup(session_token) : NULL;
	return p;
}

void aws_creds_provider_free(struct aws_creds_provider *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (p->worker_started)
		pthread_join(p->worker, NULL);
	aws_creds_release(&p->cached);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p->where.region);
	free(p->where.profile);
	free(p);
}

int aws_creds_provider_get(struct aws_creds_provider *p, struct aws_creds *out,
			   struct aws_error *err)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->lock);
	if (p->src == CREDS_SRC_STATIC) {
		if (!p->have) {
			aws_error_set(err, 0, "", "static credentials are not set");
			rc = BASE_EINVAL;
			goto out;
		}
		goto hand_out;
	}
	if (!p->worker_started) {
		if (pthread_create(&p->worker, NULL, worker_main, p) != 0)
			BUG("cannot start the credential refresher thread");
		p->worker_started = 1;
	}
	if (usable(p, wall_now(p))) {
		/* Valid: hand them out at once; a due refresh runs in the background. */
		if (background_due(p, wall_now(p)))
			start_refresh(p);
		goto hand_out;
	}
	/*
	 * None, or expired: wait for a refresh (one at a time, shared by every
	 * waiting caller), started now whatever the backoff says.
	 */
	{
		uint64_t gen = p->finished;

		if (!p->refreshing)
			start_refresh(p);
		while (p->finished == gen)
			pthread_cond_wait(&p->done, &p->lock);
	}
	if (p->last_rc < 0 && !usable(p, wall_now(p))) {
		if (err)
			*err = p->last_err;
		rc = p->last_rc;
		goto out;
	}
	if (!p->have) {
		/* Dropped by aws_creds_provider_expire while the refresh ran. */
		aws_error_set(err, 0, "", "AWS credentials were expired during their refresh");
		rc = BASE_EUNAUTHORIZED;
		goto out;
	}
hand_out:
	aws_creds_copy(out, &p->cached);
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void aws_creds_provider_expire(struct aws_creds_provider *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->src != CREDS_SRC_STATIC) {
		aws_creds_release(&p->cached);
		p->have = 0;
	}
	pthread_mutex_unlock(&p->lock);
}

void aws_creds_provider_stats(struct aws_creds_provider *p, struct aws_creds_stats *out)
{
	pthread_mutex_lock(&p->lock);
	out->refreshing = p->refreshing;
	out->attempts = p->attempts;
	out->failures = p->failures;
	out->expiration_ms = p->have ? p->cached.expiration_ms : 0;
	out->next_refresh_ms = 0;
	if (p->have && p->cached.expiration_ms != 0)
		out->next_refresh_ms = p->due_ms > p->retry_ms ? p->due_ms : p->retry_ms;
	pthread_mutex_unlock(&p->lock);
}

const char *aws_creds_provider_source(struct aws_creds_provider *p)
{
	enum aws_creds_source s;

	pthread_mutex_lock(&p->lock);
	s = p->have ? p->src : CREDS_SRC_NONE;
	pthread_mutex_unlock(&p->lock);
	return source_names[s];
}
