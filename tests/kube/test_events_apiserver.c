/*
 * pkg/kube/events against the real apiserver: Events created, aggregated into series
 * and spam-limited.
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

START_TEST(events_are_created_aggregated_and_spam_limited)
{
	struct kube_client *c = admin();
	char *ns = fresh_namespace(c, "kube-events");
	struct kube_recorder_opts ro = {.reporting_controller = "test.globaldb.io/kube-it",
					.reporting_instance = "kube-it-0",
					.spam_burst = 6};
	struct kube_recorder *rec;
	struct kube_recorder_stats rs;
	struct kube_status st;
	json_t *cm = configmap(ns, "subject", "k", "v"), *obj, *list, *e;
	int found_series = 0, found_single = 0;
	size_t i;

	ck_assert_int_eq(kube_create(c, &kube_res_configmaps, ns, cm, &obj, &st), 0);
	json_decref(cm);
	ck_assert_int_eq(kube_recorder_new(c, &ro, &rec), 0);
	for (int j = 0; j < 3; j++)
		ck_assert_int_eq(kube_recorder_event(rec, obj, "Warning", "ProbeFailed", "Probe",
						     "primary %s unreachable", "us-east-1"),
				 0);
	ck_assert_int_eq(kube_recorder_flush(rec, 30000), 0);
	ck_assert_int_eq(kube_recorder_event(rec, obj, "Normal", "SwitchoverStarted", "Switchover",
					     "to %s", "us-west-2"),
			 0);
	/* Burst of 6 per object: 4 used, 2 left, the rest is dropped without blocking. */
	for (int j = 0; j < 5; j++)
		kube_recorder_event(rec, obj, "Normal", "Spam", "Spam", "message %d", j);
	ck_assert_int_eq(kube_recorder_flush(rec, 30000), 0);
	kube_recorder_stats(rec, &rs);
	ck_assert_uint_eq(rs.dropped_spam, 3);
	ck_assert_uint_eq(rs.created, 4); /* ProbeFailed, SwitchoverStarted, Spam x2 */
	ck_assert_uint_eq(rs.series, 2);
	ck_assert_uint_eq(rs.failed, 0);
	kube_recorder_free(rec);

	ck_assert_int_eq(kube_list_all(c, &kube_res_events, ns, NULL, &list, &st), 0);
	ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 4);
	json_array_foreach(json_object_get(list, "items"), i, e)
	{
		const char *reason = json_string_value(json_object_get(e, "reason"));

		ck_assert_str_eq(
			json_string_value(json_object_get(json_object_get(e, "regarding"), "name")),
			"subject");
		ck_assert_str_eq(json_string_value(json_object_get(e, "reportingController")),
				 "test.globaldb.io/kube-it");
		if (!strcmp(reason, "ProbeFailed")) {
			ck_assert_int_eq(json_integer_value(json_object_get(
						 json_object_get(e, "series"), "count")),
					 3);
			ck_assert_str_eq(json_string_value(json_object_get(e, "note")),
					 "primary us-east-1 unreachable");
			found_series = 1;
		} else if (!strcmp(reason, "SwitchoverStarted")) {
			ck_assert_ptr_null(json_object_get(e, "series"));
			found_single = 1;
		}
	}
	ck_assert(found_series && found_single);
	json_decref(list);
	json_decref(obj);
	free(ns);
	kube_client_free(c);
}
END_TEST

GDB_CHECK_MAIN_FIXTURE("kube_events_apiserver", 180, load_state, NULL,
		       events_are_created_aggregated_and_spam_limited)
