/*
 * pkg/kube/rest on the wire: a 401 is retried once with refreshed credentials, a
 * response over the cap is refused, and sequential requests reuse one keep-alive
 * connection.
 */
#include "tests/check_main.h"
#include "tests/kube/wire_server.h"

static void h_unauthorized_once(struct server *s, int fd, const char *method, const char *target)
{
	(void)method, (void)target;
	if (atomic_load(&s->requests) == 1)
		send_response(fd, 401, NULL,
			      "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401}");
	else
		send_response(fd, 200, NULL,
			      "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
}

START_TEST(unauthorized_is_retried_once_with_refreshed_credentials)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;
	json_t *out = NULL;

	server_start(&s, h_unauthorized_once, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), 0);
	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(atomic_load(&s.requests), 2);
	json_decref(out);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

/* A body past the cap; with_length announces it in Content-Length, else it runs to the close. */
static void send_huge(struct server *s, int fd, int with_length)
{
	char chunk[65536];
	char *hdr = with_length ? xasprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					    "Connection: close\r\nContent-Length: %llu\r\n\r\n",
					    (unsigned long long)KUBE_MAX_RESPONSE_BYTES + 65536)
				: xasprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					    "Connection: close\r\n\r\n");

	memset(chunk, ' ', sizeof(chunk));
	send_str(fd, hdr);
	free(hdr);
	for (size_t sent = 0; sent <= KUBE_MAX_RESPONSE_BYTES && !atomic_load(&s->stop);
	     sent += sizeof(chunk))
		send_all(fd, chunk, sizeof(chunk));
}

static void h_huge(struct server *s, int fd, const char *method, const char *target)
{
	(void)method, (void)target;
	send_huge(s, fd, 1);
}

static void h_huge_unannounced(struct server *s, int fd, const char *method, const char *target)
{
	(void)method, (void)target;
	send_huge(s, fd, 0);
}

/* A Content-Length over the cap is refused from the headers: not one byte of the body is kept. */
START_TEST(response_announced_over_the_cap_is_refused_at_once)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;
	json_t *out = NULL;

	server_start(&s, h_huge, NULL);
	c = client_for(&s);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), BASE_ETOOBIG);
	ck_assert_ptr_null(out);
	ck_assert_str_eq(st.message,
			 "GET /api/v1/namespaces/ns/configmaps/x: response larger than its cap");
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

/*
 * A body without a length is read up to the cap and then refused. 64 MiB
 * cross the loopback first: the deadline is generous, since this asserts
 * the cap and not the speed (under TSan, on a loaded machine, it takes
 * seconds).
 */
START_TEST(response_streamed_over_the_cap_is_refused)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;
	json_t *out = NULL;

	server_start(&s, h_huge_unannounced, NULL);
	c = client_for_timeout(&s, 300000);
	ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), BASE_ETOOBIG);
	ck_assert_ptr_null(out);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

static void h_ok(struct server *s, int fd, const char *method, const char *target)
{
	(void)s, (void)method, (void)target;
	send_response(fd, 200, NULL, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}");
}

START_TEST(sequential_requests_reuse_one_keepalive_connection)
{
	struct server s;
	struct kube_client *c;
	struct kube_status st;

	keepalive_responses = 1;
	server_start(&s, h_ok, NULL);
	s.keepalive = 1;
	c = client_for(&s);
	for (int i = 0; i < 5; i++) {
		json_t *out = NULL;

		ck_assert_int_eq(kube_get(c, &kube_res_configmaps, "ns", "x", &out, &st), 0);
		json_decref(out);
	}
	ck_assert_int_eq(atomic_load(&s.requests), 5);
	ck_assert_int_eq(atomic_load(&s.accepts), 1);
	kube_client_free(c);
	server_stop(&s);
}
END_TEST

GDB_CHECK_MAIN("kube_rest_wire", 300, unauthorized_is_retried_once_with_refreshed_credentials,
	       response_announced_over_the_cap_is_refused_at_once,
	       response_streamed_over_the_cap_is_refused,
	       sequential_requests_reuse_one_keepalive_connection)
