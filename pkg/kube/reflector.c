/*
 * The reflector thread runs a small state machine: need_list -> list and
 * replace -> watch loop. Waits between attempts happen on a condition
 * variable so stopping is immediate; a running watch notices the stop flag
 * through the REST client's progress callback.
 */
#include "pkg/kube/reflector.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

struct kube_reflector {
	struct kube_client *client;
	struct kube_store *store;
	const struct kube_resource *res;
	char *ns, *label_selector, *field_selector, *name;
	long page_size;
	int min_timeout_s;
	int strip_managed_fields;
	int strip_last_applied;

	pthread_t thread;
	atomic_int stop;
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cond;
	int synced;
	char *rv;
	struct kube_reflector_stats stats;
};

/*
 * What the options ask to drop of each object before it is stored:
 * metadata.managedFields (client-go's TransformStripManagedFields: often the
 * largest part of an object, and an update without them keeps the server's),
 * and kubectl's last-applied-configuration annotation (a second copy of the
 * spec, ~1 KB an object).
 */
static void transform(const struct kube_reflector *r, json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");

	if (r->strip_managed_fields)
		json_object_del(meta, "managedFields");
	if (r->strip_last_applied)
		json_object_del(json_object_get(meta, "annotations"), KUBE_LAST_APPLIED_ANNOTATION);
}

static void set_rv(struct kube_reflector *r, const char *rv)
{
	pthread_mutex_lock(&r->mu);
	if (!r->rv || strcmp(r->rv, rv)) {
		free(r->rv);
		r->rv = xstrdup(rv);
	}
	pthread_mutex_unlock(&r->mu);
}

/* Sleeps up to ms, returning early (nonzero) when stopped. */
static int wait_or_stop(struct kube_reflector *r, int64_t ms)
{
	int64_t deadline = base_now_mono_ms() + ms;
	int stopped;

	pthread_mutex_lock(&r->mu);
	while (!(stopped = atomic_load(&r->stop))) {
		int64_t left = deadline - base_now_mono_ms();

		if (left <= 0)
			break;
		base_cond_wait_ms(&r->cond, &r->mu, left);
	}
	pthread_mutex_unlock(&r->mu);
	return stopped;
}

static void count_failure(struct kube_reflector *r, int rc)
{
	pthread_mutex_lock(&r->mu);
	r->stats.failures++;
	r->stats.last_error = rc;
	if (rc == BASE_EGONE)
		r->stats.gone++;
	pthread_mutex_unlock(&r->mu);
}

static int do_list(struct kube_reflector *r, struct kube_status *st)
{
	struct kube_list_opts o = {
		.label_selector = r->label_selector,
		.field_selector = r->field_selector,
		.limit = r->page_size,
	};
	json_t *list = NULL;
	const char *rv;
	int rc;

	rc = kube_list_all(r->client, r->res, r->ns, &o, &list, st);
	if (rc < 0)
		return rc;
	rv = json_string_value(
		json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
	if (!rv || !*rv) {
		rc = BASE_EPARSE;
		goto out;
	}
	if (r->strip_managed_fields || r->strip_last_applied) {
		size_t i;
		json_t *item;

		json_array_foreach(json_object_get(list, "items"), i, item) transform(r, item);
	}
	rc = kube_store_replace(r->store, json_object_get(list, "items"));
	if (rc < 0)
		goto out;
	set_rv(r, rv);
	pthread_mutex_lock(&r->mu);
	r->stats.lists++;
	r->synced = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
out:
	json_decref(list);
	return rc;
}

static int on_event(void *ud, enum kube_event_type type, json_t *obj)
{
	struct kube_reflector *r = ud;
	const char *rv = json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
	int rc;

	transform(r, obj);
	rc = kube_store_apply(r->store, type, obj);
	if (rc < 0)
		return BASE_EPARSE;
	if (rv && *rv)
		set_rv(r, rv);
	pthread_mutex_lock(&r->mu);
	r->stats.events++;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

static void *run(void *arg)
{
	struct kube_reflector *r = arg;
	struct base_backoff bo = {.base_ms = KUBE_REFLECTOR_BACKOFF_BASE_MS,
				  .cap_ms = KUBE_REFLECTOR_BACKOFF_CAP_MS,
				  .jitter = 1.0};
	int64_t last_backoff_ms = base_now_mono_ms();
	int need_list = 1;

	while (!atomic_load(&r->stop)) {
		struct kube_status st;
		int64_t delay;
		int rc;

		if (need_list) {
			rc = do_list(r, &st);
			if (rc == 0)
				need_list = 0;
		}
		if (!need_list) {
			struct kube_watch_opts w = {0};
			unsigned long before;
			int64_t start = base_now_mono_ms();
			char *rv = kube_reflector_last_rv(r);

			w.resource_version = rv;
			w.timeout_s = (int)base_rand_range(r->min_timeout_s, 2 * r->min_timeout_s);
			w.label_selector = r->label_selector;
			w.field_selector = r->field_selector;
			w.bookmarks = 1;
			pthread_mutex_lock(&r->mu);
			r->stats.watches++;
			before = r->stats.events;
			pthread_mutex_unlock(&r->mu);
			rc = kube_watch(r->client, r->res, r->ns, &w, on_event, r, &r->stop, &st);
			free(rv);
			if (rc == 0) {
				unsigned long after;

				pthread_mutex_lock(&r->mu);
				after = r->stats.events;
				pthread_mutex_unlock(&r->mu);
				if (after != before || base_now_mono_ms() - start >= 1000)
					continue;
				rc = BASE_ETRANSPORT; /* very short watch: treat as a failure */
			}
			if (rc == BASE_ECANCELED)
				break;
			if (rc == BASE_EGONE) {
				/* Too old: relist now, from a consistent read. */
				count_failure(r, rc);
				need_list = 1;
				continue;
			}
			if (rc != BASE_ETRANSPORT && rc != BASE_ETHROTTLED &&
			    rc != BASE_ETIMEDOUT && rc != BASE_ESERVER)
				need_list = 1;
		}
		if (rc == 0)
			continue;
		count_failure(r, rc);
		if (base_now_mono_ms() - last_backoff_ms > KUBE_REFLECTOR_BACKOFF_RESET_MS)
			base_backoff_reset(&bo);
		delay = base_backoff_next(&bo);
		last_backoff_ms = base_now_mono_ms();
		if (rc == BASE_ETHROTTLED && st.retry_after_s * 1000LL > delay)
			delay = st.retry_after_s * 1000LL;
		if (wait_or_stop(r, delay))
			break;
	}
	return NULL;
}

int kube_reflector_start(struct kube_client *client, struct kube_store *store,
			 const struct kube_reflector_opts *opts, struct kube_reflector **out)
{
	struct kube_reflector *r = xcalloc(1, sizeof(*r));

	r->client = client;
	r->store = store;
	r->res = opts->res;
	r->ns = opts->ns && *opts->ns ? xstrdup(opts->ns) : NULL;
	r->label_selector = opts->label_selector ? xstrdup(opts->label_selector) : NULL;
	r->field_selector = opts->field_selector ? xstrdup(opts->field_selector) : NULL;
	r->name = xstrdup(opts->name ? opts->name : opts->res->resource);
	r->page_size = opts->page_size > 0 ? opts->page_size : KUBE_DEFAULT_PAGE_SIZE;
	r->strip_managed_fields = opts->strip_managed_fields;
	r->strip_last_applied = opts->strip_last_applied;
	r->min_timeout_s = opts->min_watch_timeout_s > 0 ? opts->min_watch_timeout_s
							 : KUBE_WATCH_MIN_TIMEOUT_S;
	pthread_mutex_init(&r->mu, NULL);
	base_cond_init_monotonic(&r->cond);
	if (pthread_create(&r->thread, NULL, run, r) != 0)
		BUG("pthread_create failed");
	*out = r;
	return 0;
}

void kube_reflector_free(struct kube_reflector *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->stop, 1);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r->ns);
	free(r->label_selector);
	free(r->field_selector);
	free(r->name);
	free(r->rv);
	free(r);
}

int kube_reflector_has_synced(struct kube_reflector *r)
{
	int s;

	pthread_mutex_lock(&r->mu);
	s = r->synced;
	pthread_mutex_unlock(&r->mu);
	return s;
}

int kube_reflector_wait_synced(struct kube_reflector *r, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	while (!r->synced) {
		int64_t left = deadline - base_now_mono_ms();

		if (left <= 0) {
			rc = BASE_ETIMEDOUT;
			break;
		}
		base_cond_wait_ms(&r->cond, &r->mu, left);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void kube_reflector_stats(struct kube_reflector *r, struct kube_reflector_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->stats;
	pthread_mutex_unlock(&r->mu);
}

char *kube_reflector_last_rv(struct kube_reflector *r)
{
	char *rv;

	pthread_mutex_lock(&r->mu);
	rv = r->rv ? xstrdup(r->rv) : NULL;
	pthread_mutex_unlock(&r->mu);
	return rv;
}
