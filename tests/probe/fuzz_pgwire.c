/*
 * Fuzz target for the PostgreSQL wire client: the input is everything the
 * server says, fed through a socket pair (capped at 64 KiB) to a login with
 * a password and sslmode=disable, then, if it reaches ReadyForQuery, to a
 * query with parameters, a simple query and the idle check. It checks what
 * pgwire.h promises whatever the server sends: polls end (the whole stream
 * is there, then EOF, so no poll may ask to wait for reading), a failure
 * has a reason, and a result's values are strings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkg/probe/pgwire.h"

#define MAX_INPUT (64u << 10)

static void check_result(const struct pgw_result *r)
{
	int i;

	if (r->ntuples < 0 || r->nfields < 0 || (r->failed && strlen(r->sqlstate) > 5))
		abort();
	for (i = 0; i < 2; i++)
		if (r->value[i])
			(void)strlen(r->value[i]);
}

/* Drives a poll function to its end; aborts if it waits for input that cannot come. */
static enum pgw_io drive(struct pgw_conn *c, enum pgw_io (*poll_fn)(struct pgw_conn *))
{
	enum pgw_io r;
	int i;

	for (i = 0; i < 64; i++) {
		r = poll_fn(c);
		if (r == PGW_WANT_READ)
			abort();
		if (r != PGW_WANT_WRITE)
			break;
	}
	if (r == PGW_FAILED && (pgw_failure(c) == PGW_FAIL_NONE || !*pgw_error(c)))
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgw_options o = {
		.host = "db.example.com",
		.port = 5432,
		.dbname = "postgres",
		.user = "prober",
		.password = "fuzz-password",
		.sslmode = "disable",
		.application_name = "fuzz",
	};
	const char *params[2] = {"globaldb-controller", NULL};
	struct pgw_conn *c;
	int sv[2];

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	/* The socket buffer (over 200 KB) takes the whole input at once. */
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[1], SHUT_WR);
	if (pgw_connect_fd(&o, sv[0], &c) != 0)
		abort();
	if (drive(c, pgw_connect_poll) == PGW_DONE) {
		if (pgw_send(c, "SELECT $1, $2", 2, params) != 0)
			abort();
		if (drive(c, pgw_query_poll) == PGW_DONE) {
			check_result(pgw_result(c));
			if (pgw_send(c, "SELECT 1; SELECT 2", 0, NULL) != 0)
				abort();
			if (drive(c, pgw_query_poll) == PGW_DONE)
				(void)pgw_idle_ok(c);
		}
		check_result(pgw_result(c));
	}
	(void)pgw_sqlstate(c);
	pgw_close(c);
	close(sv[1]);
	return 0;
}
