/*
 * pkg/kube/workqueue: The workqueue: bursts collapse, a key is never handed to two workers, delayed keys
 * come out in due order, rate limits, and shutdown with drain.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/base/metrics.h"
#include "pkg/base/timeutil.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

static struct kube_workqueue *wq(const char *name)
{
	struct kube_workqueue_opts o = {.name = name};

	return kube_workqueue_new(&o);
}

START_TEST(workqueue_collapses_bursts_and_never_hands_a_key_to_two_workers)
{
	struct kube_workqueue *q = wq("unit-burst");
	char *k1, *k2;

	for (int i = 0; i < 5; i++)
		kube_workqueue_add(q, "ns/a");
	kube_workqueue_add(q, "ns/b");
	ck_assert_uint_eq(kube_workqueue_len(q), 2);
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k1), 0);
	ck_assert_str_eq(k1, "ns/a");
	/* Added again while processing: not handed out until done. */
	kube_workqueue_add(q, "ns/a");
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k2), 0);
	ck_assert_str_eq(k2, "ns/b");
	kube_workqueue_done(q, k2);
	free(k2);
	ck_assert_int_eq(kube_workqueue_get(q, 50, &k2), BASE_ETIMEDOUT);
	kube_workqueue_done(q, k1);
	free(k1);
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k1), 0);
	ck_assert_str_eq(k1, "ns/a");
	kube_workqueue_done(q, k1);
	free(k1);
	ck_assert_double_eq(
		base_metric_value(base_metric_counter("workqueue_adds_total",
						      "Total number of adds handled by workqueue",
						      "name"),
				  "unit-burst"),
		3);
	kube_workqueue_shutdown(q);
	ck_assert_int_eq(kube_workqueue_get(q, -1, &k1), BASE_ECANCELED);
	kube_workqueue_free(q);
}
END_TEST

START_TEST(workqueue_add_after_waits_and_keeps_the_earliest)
{
	struct kube_workqueue *q = wq("unit-after");
	int64_t start = base_now_mono_ms();
	char *k;

	kube_workqueue_add_after(q, "x", 5000);
	kube_workqueue_add_after(q, "x", 150);
	ck_assert_int_eq(kube_workqueue_get(q, 50, &k), BASE_ETIMEDOUT);
	ck_assert_int_eq(kube_workqueue_get(q, 2000, &k), 0);
	ck_assert_str_eq(k, "x");
	ck_assert_int_ge(base_now_mono_ms() - start, 150);
	ck_assert_int_lt(base_now_mono_ms() - start, 2000);
	kube_workqueue_done(q, k);
	free(k);
	kube_workqueue_shutdown(q);
	kube_workqueue_free(q);
}
END_TEST

/* Many waiting keys come out in the order they fall due, each once, earlier times winning. */
START_TEST(workqueue_waiting_keys_come_out_in_due_order)
{
	struct kube_workqueue *q = wq("unit-order");
	char name[16], *k;
	int seen[64] = {0};
	int last = -1;
	int64_t start = base_now_mono_ms();

	/*
	 * Keys 0..63 due at start + 300 + 10 * (63 - i) ms; key 10 brought forward to be
	 * first. The delays count from one start, not from each call: 64 calls take
	 * longer than the spacing on a slow machine (arm64 under qemu, loaded).
	 */
	for (int i = 0; i < 64; i++) {
		int64_t due = start + 300 + 10 * (63 - i);

		snprintf(name, sizeof(name), "k%d", i);
		kube_workqueue_add_after(q, name, due - base_now_mono_ms());
	}
	kube_workqueue_add_after(q, "k10", 100);
	kube_workqueue_add_after(q, "k20", 60000); /* later than its time: ignored */
	for (int n = 0; n < 64; n++) {
		int i;

		ck_assert_int_eq(kube_workqueue_get(q, 5000, &k), 0);
		i = (int)strtol(k + 1, NULL, 10);
		ck_assert_msg(!seen[i], "%s came out twice", k);
		seen[i] = 1;
		if (n == 0)
			ck_assert_str_eq(k, "k10");
		else
			ck_assert_msg(last < 0 || i < last, "%s after k%d", k, last);
		if (n > 0)
			last = i;
		kube_workqueue_done(q, k);
		free(k);
	}
	ck_assert_int_eq(kube_workqueue_get(q, 50, &k), BASE_ETIMEDOUT);
	kube_workqueue_shutdown(q);
	kube_workqueue_free(q);
}
END_TEST

START_TEST(workqueue_rate_limit_is_max_of_per_item_and_bucket)
{
	struct kube_workqueue *q = wq("unit-rate");
	int64_t d, start, elapsed;

	/* Per item: 5 ms * 2^n. */
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 5);
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 10);
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 20);
	ck_assert_int_eq(kube_workqueue_num_requeues(q, "a"), 3);
	kube_workqueue_forget(q, "a");
	ck_assert_int_eq(kube_workqueue_num_requeues(q, "a"), 0);
	ck_assert_int_eq(kube_workqueue_when(q, "a"), 5);
	/* Cap at 1000 s. */
	for (int i = 0; i < 40; i++)
		d = kube_workqueue_when(q, "b");
	ck_assert_int_eq(d, 1000000);
	kube_workqueue_free(q);

	/* Bucket: burst 100 spent, then 10/s, i.e. 100 ms per further token. */
	q = wq("unit-bucket");
	start = base_now_mono_ms();
	for (int i = 0; i < 100; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		ck_assert_int_eq(kube_workqueue_when(q, key), 5);
	}
	/* Tokens refill at 10/s while the loop runs (slow under valgrind): allow for it. */
	d = kube_workqueue_when(q, "k100");
	elapsed = base_now_mono_ms() - start;
	ck_assert_int_ge(d, 100 - elapsed - 5);
	ck_assert_int_le(d, 105);
	d = kube_workqueue_when(q, "k101");
	elapsed = base_now_mono_ms() - start;
	ck_assert_int_ge(d, 200 - elapsed - 5);
	ck_assert_int_le(d, 205);
	kube_workqueue_free(q);
}
END_TEST

struct worker_arg {
	struct kube_workqueue *q;
	int done;
};

static void *slow_worker(void *p)
{
	struct worker_arg *a = p;
	char *k;

	while (kube_workqueue_get(a->q, -1, &k) == 0) {
		base_sleep_ms(100);
		kube_workqueue_done(a->q, k);
		free(k);
		a->done++;
	}
	return NULL;
}

START_TEST(workqueue_shutdown_with_drain_waits_for_work_in_flight)
{
	struct kube_workqueue *q = wq("unit-drain");
	struct worker_arg a = {q, 0};
	pthread_t t;
	char *k;

	kube_workqueue_add(q, "a");
	kube_workqueue_add(q, "b");
	kube_workqueue_add_after(q, "late", 60000);
	pthread_create(&t, NULL, slow_worker, &a);
	ck_assert_int_eq(kube_workqueue_shutdown_drain(q, 5000), 0);
	pthread_join(t, NULL);
	ck_assert_int_eq(a.done, 2);
	kube_workqueue_add(q, "ignored");
	ck_assert_int_eq(kube_workqueue_get(q, 0, &k), BASE_ECANCELED);
	kube_workqueue_free(q);
}
END_TEST

struct stress {
	struct kube_workqueue *q;
	pthread_mutex_t mu;
	json_t *busy; /* keys being handled right now */
	int overlaps; /* times a key was handed to a second worker while busy */
	int handled;
};

static void *stress_worker(void *p)
{
	struct stress *s = p;
	char *k;

	while (kube_workqueue_get(s->q, -1, &k) == 0) {
		pthread_mutex_lock(&s->mu);
		if (json_object_get(s->busy, k))
			s->overlaps++;
		json_object_set_new(s->busy, k, json_true());
		pthread_mutex_unlock(&s->mu);
		base_sleep_ms(1);
		pthread_mutex_lock(&s->mu);
		json_object_del(s->busy, k);
		s->handled++;
		pthread_mutex_unlock(&s->mu);
		kube_workqueue_done(s->q, k);
		free(k);
	}
	return NULL;
}

START_TEST(workqueue_concurrent_workers_never_share_a_key)
{
	struct stress s = {wq("unit-stress"), PTHREAD_MUTEX_INITIALIZER, json_object(), 0, 0};
	pthread_t t[4];

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, stress_worker, &s);
	/* 5 hot keys added 2000 times while 4 workers drain them. */
	for (int i = 0; i < 2000; i++) {
		char key[8];

		snprintf(key, sizeof(key), "k%d", i % 5);
		kube_workqueue_add(s.q, key);
		if (i % 50 == 0)
			base_sleep_ms(1);
	}
	ck_assert_int_eq(kube_workqueue_shutdown_drain(s.q, 10000), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ck_assert_int_eq(s.overlaps, 0);
	/* Bursts collapsed: far fewer reconciles than adds, but at least one per key. */
	ck_assert_int_ge(s.handled, 5);
	ck_assert_int_lt(s.handled, 2000);
	kube_workqueue_free(s.q);
	json_decref(s.busy);
}
END_TEST

GDB_CHECK_MAIN("kube_workqueue", 20,
	       workqueue_collapses_bursts_and_never_hands_a_key_to_two_workers,
	       workqueue_add_after_waits_and_keeps_the_earliest,
	       workqueue_waiting_keys_come_out_in_due_order,
	       workqueue_rate_limit_is_max_of_per_item_and_bucket,
	       workqueue_shutdown_with_drain_waits_for_work_in_flight,
	       workqueue_concurrent_workers_never_share_a_key)
