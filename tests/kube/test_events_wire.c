/*
 * pkg/kube/events on the wire: recording never blocks and counts the drops when the
 * queue is full; a repeated event becomes a series on one Event, not a new object
 * per repeat; the spam filter drops an object's burst beyond its budget.
 */
#include "tests/check_main.h"
#include "tests/kube/wire_server.h"

static void h_hold_then_500(struct server *s, int fd, const char *method, const char *target)
{
	atomic_int *release = s->ud;

	while (!atomic_load(release) && !atomic_load(&s->stop))
		base_sleep_ms(5);
	h_500(s, fd, method, target);
}

START_TEST(event_recording_never_blocks_and_counts_drops_when_full)
{
	struct server s;
	struct kube_client *c;
	struct kube_recorder *rec;
	struct kube_recorder_opts ro = {.reporting_controller = "test/wire",
					.reporting_instance = "wire-0",
					.queue_size = 2,
					.spam_burst = 100};
	struct kube_recorder_stats rs;
	json_t *obj =
		json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			  "metadata", "name", "subject", "namespace", "ns", "uid", "u-1");
	atomic_int release = 0;
	int64_t start;
	int queued = 0;

	/*
	 * The apiserver holds every write until released: were recording to wait
	 * for the network, this loop would never end (and the test time out),
	 * however fast or loaded the machine. Released, it fails them: the
	 * sender retries and the queue stays full.
	 */
	server_start(&s, h_hold_then_500, &release);
	c = client_for(&s);
	ck_assert_int_eq(kube_recorder_new(c, &ro, &rec), 0);
	for (int i = 0; i < 10; i++)
		queued += kube_recorder_event(rec, obj, "Warning", "Failing", "Test", "event %d",
					      i) == 0;
	atomic_store(&release, 1);
	kube_recorder_stats(rec, &rs);
	ck_assert_int_le(queued, 3); /* one in flight, two queued */
	ck_assert_uint_eq(rs.dropped_full, (unsigned long)(10 - queued));
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "", "Test", "no reason"),
			 BASE_EINVAL);
	start = base_now_mono_ms();
	kube_recorder_free(rec); /* stops mid-retry */
	ck_assert_int_lt(base_now_mono_ms() - start, 5000);
	json_decref(obj);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

struct writes {
	atomic_int posts, patches;
};

/* Accepts every write, counting creates and series patches. */
static void h_accept(struct server *s, int fd, const char *method, const char *target)
{
	struct writes *w = s->ud;

	(void)target;
	if (!strcmp(method, "POST")) {
		atomic_fetch_add(&w->posts, 1);
		send_response(fd, 201, NULL, "{\"kind\":\"Event\"}");
	} else if (!strcmp(method, "PATCH")) {
		atomic_fetch_add(&w->patches, 1);
		send_response(fd, 200, NULL, "{\"kind\":\"Event\"}");
	} else {
		h_500(s, fd, method, target);
	}
}

START_TEST(repeated_events_become_a_series_and_bursts_are_spam_limited)
{
	struct server s;
	struct writes w = {0};
	struct kube_client *c;
	struct kube_recorder *rec;
	struct kube_recorder_opts ro = {.reporting_controller = "test/wire",
					.reporting_instance = "wire-0",
					.spam_burst = 6};
	struct kube_recorder_stats rs;
	json_t *obj =
		json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			  "metadata", "name", "subject", "namespace", "ns", "uid", "u-1");

	server_start(&s, h_accept, &w);
	c = client_for(&s);
	ck_assert_int_eq(kube_recorder_new(c, &ro, &rec), 0);
	/* The same event four times, one flush apart so each repeat finds the first sent. */
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "ProbeFailed", "Probe",
						     "writer probe failed"),
				 0);
		ck_assert_int_eq(kube_recorder_flush(rec, 20000), 0);
	}
	/* A different reason or note is another Event. */
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Normal", "ProbeRecovered", "Probe",
					     "writer probe ok"),
			 0);
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "ProbeFailed", "Probe",
					     "reader probe failed"),
			 0);
	/* The object's budget of six is spent: the seventh is dropped, and counted. */
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "ProbeFailed", "Probe",
					     "writer probe failed"),
			 BASE_ETHROTTLED);
	ck_assert_int_eq(kube_recorder_flush(rec, 20000), 0);
	kube_recorder_stats(rec, &rs);
	ck_assert_uint_eq(rs.created, 3);
	ck_assert_uint_eq(rs.series, 3);
	ck_assert_uint_eq(rs.dropped_spam, 1);
	ck_assert_uint_eq(rs.failed, 0);
	ck_assert_int_eq(atomic_load(&w.posts), 3);
	ck_assert_int_eq(atomic_load(&w.patches), 3);
	kube_recorder_free(rec);
	json_decref(obj);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

GDB_CHECK_MAIN("kube_events_wire", 30, event_recording_never_blocks_and_counts_drops_when_full,
	       repeated_events_become_a_series_and_bursts_are_spam_limited)
