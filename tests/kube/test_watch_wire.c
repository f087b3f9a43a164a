/*
 * pkg/kube/watch on the wire: an event split across chunks arrives whole, a line over
 * the cap stops the watch, a stream cut mid-event is a transport error after the whole
 * events.
 */
#include "tests/check_main.h"
#include "tests/kube/wire_server.h"

static void h_split(struct server *s, int fd, const char *method, const char *target)
{
	const char *e1 = EV("ADDED", "first", "11");
	const char *e2 = EV("MODIFIED", "second", "12");
	char both[512];

	(void)s, (void)method, (void)target;
	start_chunked(fd);
	/* e1 in three chunks, cut inside a string and inside a key. */
	send_chunk(fd, e1, 7);
	base_sleep_ms(30);
	send_chunk(fd, e1 + 7, 40);
	base_sleep_ms(30);
	/* The rest of e1 and the start of e2 in one chunk. */
	snprintf(both, sizeof(both), "%s%.20s", e1 + 47, e2);
	send_chunk(fd, both, strlen(both));
	base_sleep_ms(30);
	send_chunk(fd, e2 + 20, strlen(e2) - 20);
	send_str(fd, "0\r\n\r\n");
}

START_TEST(watch_event_split_across_chunks_arrives_whole)
{
	struct server s;
	struct kube_client *c;
	struct events e = {json_array()};
	struct kube_watch_opts o = {.resource_version = "10", .timeout_s = 30, .bookmarks = 1};
	struct kube_status st;

	server_start(&s, h_split, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_watch(c, &kube_res_configmaps, "ns", &o, collect, &e, NULL, &st), 0);
	ck_assert_int_eq(json_array_size(e.names), 2);
	ck_assert_str_eq(json_string_value(json_array_get(e.names, 0)), "ADDED first");
	ck_assert_str_eq(json_string_value(json_array_get(e.names, 1)), "MODIFIED second");
	kube_client_free(c);
	server_stop(&s);
	json_decref(e.names);
}
END_TEST

static void h_oversized(struct server *s, int fd, const char *method, const char *target)
{
	char big[8192];

	(void)method, (void)target;
	memset(big, ' ', sizeof(big));
	start_chunked(fd);
	send_chunk(fd, EV("ADDED", "ok", "1"), strlen(EV("ADDED", "ok", "1")));
	send_str(fd, "1\r\n{\r\n");
	/* Keep streaming whitespace without a newline. */
	for (int i = 0; i < 64 && !atomic_load(&s->stop); i++)
		send_chunk(fd, big, sizeof(big));
	wait_peer_close(s, fd);
}

START_TEST(watch_line_over_the_cap_stops_the_watch)
{
	struct server s;
	struct kube_client *c;
	struct events e = {json_array()};
	struct kube_watch_opts o = {.resource_version = "1", .timeout_s = 30, .max_line = 16384};
	struct kube_status st;

	server_start(&s, h_oversized, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_watch(c, &kube_res_configmaps, "ns", &o, collect, &e, NULL, &st),
			 BASE_ETOOBIG);
	ck_assert_int_eq(json_array_size(e.names), 1);
	kube_client_free(c);
	server_stop(&s);
	json_decref(e.names);
}
END_TEST

static void h_truncated(struct server *s, int fd, const char *method, const char *target)
{
	const char *e2 = EV("ADDED", "second", "3");

	(void)s, (void)method, (void)target;
	start_chunked(fd);
	send_chunk(fd, EV("ADDED", "first", "2"), strlen(EV("ADDED", "first", "2")));
	send_chunk(fd, e2, 25);
	/* Close without the rest of the event and without the last chunk. */
}

START_TEST(watch_truncated_stream_is_a_transport_error_after_whole_events)
{
	struct server s;
	struct kube_client *c;
	struct events e = {json_array()};
	struct kube_watch_opts o = {.resource_version = "1", .timeout_s = 30};
	struct kube_status st;

	server_start(&s, h_truncated, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_watch(c, &kube_res_configmaps, "ns", &o, collect, &e, NULL, &st),
			 BASE_ETRANSPORT);
	ck_assert_int_eq(json_array_size(e.names), 1);
	ck_assert_str_eq(json_string_value(json_array_get(e.names, 0)), "ADDED first");
	kube_client_free(c);
	server_stop(&s);
	json_decref(e.names);
}
END_TEST

GDB_CHECK_MAIN("kube_watch_wire", 30, watch_event_split_across_chunks_arrives_whole,
	       watch_line_over_the_cap_stops_the_watch,
	       watch_truncated_stream_is_a_transport_error_after_whole_events)
