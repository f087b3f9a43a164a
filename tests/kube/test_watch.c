/*
 * pkg/kube/watch: Watch stream framing: events split anywhere arrive once, a line over the cap fails
 * without growing, a truncated event or an ERROR event ends the stream.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

struct collected {
	json_t *events; /* [[type, name], ...] */
	int stop_after;
};

static int collect(void *ud, enum kube_event_type type, json_t *obj)
{
	struct collected *c = ud;

	json_array_append_new(c->events,
			      json_pack("[sO?]", kube_event_type_name(type),
					json_object_get(json_object_get(obj, "metadata"), "name")));
	if (c->stop_after && (int)json_array_size(c->events) >= c->stop_after)
		return BASE_ECANCELED;
	return 0;
}

static const char two_events[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}"
	"\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"5\"}}}\r\n"
	"\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"6\"}}"
	"}\n";

START_TEST(watch_events_split_at_every_byte_are_delivered_once)
{
	size_t n = strlen(two_events);

	for (size_t cut = 0; cut <= n; cut++) {
		struct collected c = {json_array(), 0};
		struct kube_watch_decoder d;

		kube_watch_decoder_init(&d, 0, collect, &c, NULL);
		ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events, cut), 0);
		ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events + cut, n - cut), 0);
		ck_assert_int_eq(kube_watch_decoder_finish(&d), 0);
		ck_assert_int_eq(json_array_size(c.events), 3);
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(c.events, 0), 0)),
				 "ADDED");
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(c.events, 1), 0)),
				 "BOOKMARK");
		ck_assert_str_eq(json_string_value(json_array_get(json_array_get(c.events, 2), 1)),
				 "b");
		kube_watch_decoder_release(&d);
		json_decref(c.events);
	}
	/* One byte at a time. */
	{
		struct collected c = {json_array(), 0};
		struct kube_watch_decoder d;

		kube_watch_decoder_init(&d, 0, collect, &c, NULL);
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events + i, 1), 0);
		ck_assert_int_eq(kube_watch_decoder_finish(&d), 0);
		ck_assert_int_eq(json_array_size(c.events), 3);
		kube_watch_decoder_release(&d);
		json_decref(c.events);
	}
}
END_TEST

START_TEST(watch_line_over_the_cap_fails_without_growing)
{
	struct collected c = {json_array(), 0};
	struct kube_watch_decoder d;
	char big[300];

	memset(big, 'x', sizeof(big));
	kube_watch_decoder_init(&d, 256, collect, &c, NULL);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events, 20), 0);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, big, sizeof(big)), BASE_ETOOBIG);
	ck_assert_uint_le(d.line.len, 256);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, "\n", 1), BASE_ETOOBIG); /* sticky */
	kube_watch_decoder_release(&d);
	json_decref(c.events);
}
END_TEST

START_TEST(watch_truncated_mid_event_and_error_events_end_the_stream)
{
	struct collected c = {json_array(), 0};
	struct kube_watch_decoder d;
	struct kube_status st;
	const char *gone =
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
		"\"status\":\"Failure\",\"message\":\"too old resource version: 5 (9)\","
		"\"reason\":\"Expired\",\"code\":410}}\n";

	kube_watch_decoder_init(&d, 0, collect, &c, &st);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, two_events, 30), 0);
	ck_assert_int_eq(kube_watch_decoder_finish(&d), BASE_ETRANSPORT);
	kube_watch_decoder_release(&d);

	kube_watch_decoder_init(&d, 0, collect, &c, &st);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, gone, strlen(gone)), BASE_EGONE);
	ck_assert_int_eq(st.code, 410);
	ck_assert_str_eq(st.reason, "Expired");
	kube_watch_decoder_release(&d);

	kube_watch_decoder_init(&d, 0, collect, &c, &st);
	ck_assert_int_eq(kube_watch_decoder_feed(&d, "{\"type\":\"ADDED\"}\n", 17), BASE_EPARSE);
	kube_watch_decoder_release(&d);
	ck_assert_int_eq(json_array_size(c.events), 0);
	json_decref(c.events);
}
END_TEST

GDB_CHECK_MAIN("kube_watch", 20, watch_events_split_at_every_byte_are_delivered_once,
	       watch_line_over_the_cap_fails_without_growing,
	       watch_truncated_mid_event_and_error_events_end_the_stream)
