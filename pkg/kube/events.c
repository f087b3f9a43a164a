/*
 * The recorder: a ring buffer of pending events under a mutex, one sender
 * thread, and two maps owned by that thread's lock: spam buckets (object key
 * -> {tokens, ms}) and the series cache (isomorphic key -> {namespace, name,
 * count, last seen}). Both maps are jansson objects; the series cache is
 * touched only by the sender thread, the buckets only by callers under mu.
 */
#include "pkg/kube/events.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/backoff.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

#define SPAM_BUCKETS_MAX 4096

struct pending {
	json_t *regarding; /* ObjectReference */
	char *type, *reason, *action, *note;
	int64_t at_ms; /* wall clock */
};

struct kube_recorder {
	struct kube_client *client;
	char *controller, *instance;
	int qsize, spam_burst;
	int64_t spam_refill_ms, window_ms;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	atomic_int stop;
	struct pending *ring;
	int head, len;
	int busy; /* the sender is handling one */
	json_t *buckets;
	struct kube_recorder_stats stats;

	json_t *series; /* sender thread only */
};

static int wait_or_stop(struct kube_recorder *r, int64_t ms)
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

static void pending_release(struct pending *p)
{
	json_decref(p->regarding);
	free(p->type);
	free(p->reason);
	free(p->action);
	free(p->note);
	memset(p, 0, sizeof(*p));
}

static char *iso_key(const struct pending *p)
{
	const char *uid = json_string_value(json_object_get(p->regarding, "uid"));
	const char *ns = json_string_value(json_object_get(p->regarding, "namespace"));
	const char *kind = json_string_value(json_object_get(p->regarding, "kind"));
	const char *name = json_string_value(json_object_get(p->regarding, "name"));

	return xasprintf("%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s", kind ? kind : "",
			 ns ? ns : "", name ? name : "", uid ? uid : "", p->type, p->reason,
			 p->action, p->note);
}

static void evict_oldest(json_t *cache)
{
	const char *k, *oldest = NULL;
	json_int_t best = 0;
	json_t *v;

	json_object_foreach(cache, k, v)
	{
		json_int_t seen = json_integer_value(json_object_get(v, "seen"));

		if (!oldest || seen < best) {
			oldest = k;
			best = seen;
		}
	}
	if (oldest) {
		char *copy = xstrdup(oldest);

		json_object_del(cache, copy);
		free(copy);
	}
}

/* One write with retries. 0 or the last error. */
static int send_one(struct kube_recorder *r, struct pending *p)
{
	struct base_backoff bo = {.base_ms = 200, .cap_ms = 10000, .jitter = 0.5};
	struct kube_status st;
	char *key = iso_key(p);
	json_t *entry = json_object_get(r->series, key);
	const char *ns = json_string_value(json_object_get(p->regarding, "namespace"));
	char when[48];
	int rc = BASE_EINTERNAL;

	if (!ns || !*ns)
		ns = "default";
	base_time_format_us(p->at_ms, when, sizeof(when));
	if (entry && base_now_mono_ms() - json_integer_value(json_object_get(entry, "seen")) >
			     r->window_ms) {
		json_object_del(r->series, key);
		entry = NULL;
	}
	for (int attempt = 0; attempt < KUBE_EVENTS_TRIES; attempt++) {
		if (attempt > 0 && wait_or_stop(r, base_backoff_next(&bo)))
			break;
		if (entry) {
			json_int_t count = json_integer_value(json_object_get(entry, "count")) + 1;
			json_t *patch = json_pack("{s:{s:I, s:s}}", "series", "count", count,
						  "lastObservedTime", when);
			struct kube_patch_opts po = {KUBE_PATCH_MERGE, NULL, 0, NULL};

			rc = kube_patch(r->client, &kube_res_events,
					json_string_value(json_object_get(entry, "namespace")),
					json_string_value(json_object_get(entry, "name")), &po,
					patch, NULL, &st);
			json_decref(patch);
			if (rc == 0) {
				json_object_set_new(entry, "count", json_integer(count));
				json_object_set_new(entry, "seen",
						    json_integer(base_now_mono_ms()));
				pthread_mutex_lock(&r->mu);
				r->stats.series++;
				pthread_mutex_unlock(&r->mu);
				break;
			}
			if (rc == BASE_ENOTFOUND) {
				/* The Event expired or was deleted: start over with a new one. */
				json_object_del(r->series, key);
				entry = NULL;
				attempt--;
				continue;
			}
		} else {
			const char *rname =
				json_string_value(json_object_get(p->regarding, "name"));
			char *name = xasprintf("%s.%llx", rname ? rname : "event",
					       (unsigned long long)(p->at_ms * 1000000LL +
								    base_rand_range(0, 999999)));
			json_t *ev = json_pack(
				"{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}",
				"apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata",
				"name", name, "namespace", ns, "eventTime", when,
				"reportingController", r->controller, "reportingInstance",
				r->instance, "action", p->action, "reason", p->reason, "note",
				p->note, "type", p->type, "regarding", p->regarding);

			rc = kube_create(r->client, &kube_res_events, ns, ev, NULL, &st);
			json_decref(ev);
			if (rc == 0) {
				if (json_object_size(r->series) >= KUBE_EVENTS_CACHE)
					evict_oldest(r->series);
				json_object_set_new(r->series, key,
						    json_pack("{s:s, s:s, s:I, s:I}", "namespace",
							      ns, "name", name, "count",
							      (json_int_t)1, "seen",
							      (json_int_t)base_now_mono_ms()));
				pthread_mutex_lock(&r->mu);
				r->stats.created++;
				pthread_mutex_unlock(&r->mu);
			}
			free(name);
			if (rc == 0)
				break;
		}
		if (!base_err_retryable(rc))
			break;
	}
	if (rc < 0) {
		pthread_mutex_lock(&r->mu);
		r->stats.failed++;
		pthread_mutex_unlock(&r->mu);
	}
	free(key);
	return rc;
}

static void *run(void *arg)
{
	struct kube_recorder *r = arg;

	for (;;) {
		struct pending p;

		pthread_mutex_lock(&r->mu);
		while (r->len == 0 && !atomic_load(&r->stop))
			pthread_cond_wait(&r->cond, &r->mu);
		if (atomic_load(&r->stop)) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		p = r->ring[r->head];
		memset(&r->ring[r->head], 0, sizeof(p));
		r->head = (r->head + 1) % r->qsize;
		r->len--;
		r->busy = 1;
		pthread_mutex_unlock(&r->mu);

		send_one(r, &p);
		pending_release(&p);

		pthread_mutex_lock(&r->mu);
		r->busy = 0;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

int kube_recorder_new(struct kube_client *client, const struct kube_recorder_opts *opts,
		      struct kube_recorder **out)
{
	struct kube_recorder *r;

	*out = NULL;
	if (!opts->reporting_controller || !*opts->reporting_controller ||
	    !opts->reporting_instance || !*opts->reporting_instance)
		return BASE_EINVAL;
	r = xcalloc(1, sizeof(*r));
	r->client = client;
	r->controller = xstrdup(opts->reporting_controller);
	r->instance = xstrdup(opts->reporting_instance);
	r->qsize = opts->queue_size > 0 ? opts->queue_size : KUBE_EVENTS_QUEUE;
	r->spam_burst = opts->spam_burst > 0 ? opts->spam_burst : KUBE_EVENTS_SPAM_BURST;
	r->spam_refill_ms =
		opts->spam_refill_ms > 0 ? opts->spam_refill_ms : KUBE_EVENTS_SPAM_REFILL_MS;
	r->window_ms =
		opts->series_window_ms > 0 ? opts->series_window_ms : KUBE_EVENTS_SERIES_WINDOW_MS;
	r->ring = xcalloc((size_t)r->qsize, sizeof(*r->ring));
	r->buckets = json_object();
	r->series = json_object();
	pthread_mutex_init(&r->mu, NULL);
	base_cond_init_monotonic(&r->cond);
	if (pthread_create(&r->thread, NULL, run, r) != 0)
		BUG("pthread_create failed");
	*out = r;
	return 0;
}

void kube_recorder_free(struct kube_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	atomic_store(&r->stop, 1);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	for (int i = 0; i < r->len; i++)
		pending_release(&r->ring[(r->head + i) % r->qsize]);
	free(r->ring);
	json_decref(r->buckets);
	json_decref(r->series);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r->controller);
	free(r->instance);
	free(r);
}

/* Spam filter for one object; caller holds mu. 1 = allowed. */
static int spam_allow(struct kube_recorder *r, const char *objkey)
{
	json_t *b = json_object_get(r->buckets, objkey);
	int64_t now = base_now_mono_ms();
	double tokens;

	if (!b) {
		if (json_object_size(r->buckets) >= SPAM_BUCKETS_MAX)
			json_object_clear(r->buckets);
		b = json_pack("{s:f, s:I}", "tokens", (double)r->spam_burst, "ms", (json_int_t)now);
		json_object_set_new(r->buckets, objkey, b);
	}
	tokens = json_real_value(json_object_get(b, "tokens")) +
		 (double)(now - json_integer_value(json_object_get(b, "ms"))) /
			 (double)r->spam_refill_ms;
	if (tokens > r->spam_burst)
		tokens = r->spam_burst;
	json_object_set_new(b, "ms", json_integer(now));
	if (tokens < 1.0) {
		json_object_set_new(b, "tokens", json_real(tokens));
		return 0;
	}
	json_object_set_new(b, "tokens", json_real(tokens - 1.0));
	return 1;
}

int kube_recorder_event(struct kube_recorder *r, json_t *obj, const char *type, const char *reason,
			const char *action, const char *note_fmt, ...)
{
	json_t *md = json_object_get(obj, "metadata"), *ref;
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *uid = json_string_value(json_object_get(md, "uid"));
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	const char *api = json_string_value(json_object_get(obj, "apiVersion"));
	struct pending p = {0};
	char *objkey, *note;
	va_list ap;
	int rc = 0;

	if (!name || !kind || !api || !type || !reason || !*reason || !action || !*action ||
	    !note_fmt)
		return BASE_EINVAL;
	va_start(ap, note_fmt);
	note = xvasprintf(note_fmt, ap);
	va_end(ap);
	if (strlen(note) > KUBE_EVENTS_NOTE_MAX) {
		/* Cut on a UTF-8 boundary. */
		size_t n = KUBE_EVENTS_NOTE_MAX;

		while (n > 0 && ((unsigned char)note[n] & 0xc0) == 0x80)
			n--;
		note[n] = '\0';
	}
	ref = json_pack("{s:s, s:s, s:s}", "apiVersion", api, "kind", kind, "name", name);
	if (ns && *ns)
		json_object_set_new(ref, "namespace", json_string(ns));
	if (uid && *uid)
		json_object_set_new(ref, "uid", json_string(uid));
	objkey = xasprintf("%s/%s/%s/%s", kind, ns ? ns : "", name, uid ? uid : "");

	pthread_mutex_lock(&r->mu);
	if (!spam_allow(r, objkey)) {
		r->stats.dropped_spam++;
		rc = BASE_ETHROTTLED;
	} else if (r->len >= r->qsize) {
		r->stats.dropped_full++;
		rc = BASE_ETHROTTLED;
	} else {
		p.regarding = ref;
		p.type = xstrdup(type);
		p.reason = xstrdup(reason);
		p.action = xstrdup(action);
		p.note = note;
		p.at_ms = base_now_real_ms();
		r->ring[(r->head + r->len) % r->qsize] = p;
		r->len++;
		ref = NULL;
		note = NULL;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->mu);
	json_decref(ref);
	free(note);
	free(objkey);
	return rc;
}

void kube_recorder_stats(struct kube_recorder *r, struct kube_recorder_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->stats;
	pthread_mutex_unlock(&r->mu);
}

int kube_recorder_flush(struct kube_recorder *r, int64_t timeout_ms)
{
	int64_t deadline = base_now_mono_ms() + timeout_ms;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	while (r->len > 0 || r->busy) {
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
