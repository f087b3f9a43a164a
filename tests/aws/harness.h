/*
 * harness.h - test helpers for pkg/aws: a moto server on a free loopback
 * port, and a scripted loopback HTTP server for wire-level faults and for the
 * credential endpoints (container, IMDS).
 */
#ifndef TESTS_AWS_HARNESS_H
#define TESTS_AWS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* ---- moto ---- */

struct moto {
	pid_t pid;
	int port;
	char url[64]; /* http://127.0.0.1:<port> */
};

/* Starts moto_server (next to $GDB_PYTHON) on a free port and waits until it answers. 0 or -1. */
int moto_start(struct moto *m);
void moto_stop(struct moto *m);
/*
 * Starts our moto extension (python -m awsemu from tests/env, --fast delays)
 * on a free port and waits for /_awsemu/health. Stop it with moto_stop.
 */
int awsemu_start(struct moto *m);
/*
 * Starts an HTTPS server on a free loopback port with a fresh self-signed
 * certificate (openssl CLI, Python's ssl module). m->url is https://127.0.0.1:<port>.
 * Stop it with moto_stop.
 */
int tls_server_start(struct moto *m);

/* POSTs a JSON body to an admin path ("/_awsemu/throttle"); the HTTP status or -1. */
int awsemu_admin(const struct moto *m, const char *path, const char *json);

/* POSTs to a moto admin path (e.g. "/moto-api/reset"); returns the HTTP status or -1. */
int moto_admin(const struct moto *m, const char *path);

struct aws_client;
struct aws_creds_provider;

/*
 * A client of the server m with static test keys from the environment (the
 * provider chain's first link), fast retries, and no instance-metadata look-up.
 * *creds receives the provider; free both with test_client_close.
 */
struct aws_client *test_client_open(const struct moto *m, struct aws_creds_provider **creds);
void test_client_close(struct aws_client *client, struct aws_creds_provider *creds);

/* ---- scripted HTTP server ---- */

struct stub_request {
	int index; /* 0-based arrival order */
	char method[16];
	char target[2048];  /* path and query */
	char headers[8192]; /* raw header block, "Name: value\r\n"... */
	char *body;
	size_t body_len;
};

struct stub_response {
	int status;
	const char *content_type;
	char *body;    /* owned by the stub after the handler returns (freed) */
	char *headers; /* extra raw header lines, each ending in \r\n, or NULL (freed) */
	int delay_ms;  /* sleep before answering */
};

typedef void (*stub_handler)(const struct stub_request *req, struct stub_response *resp, void *ud);

struct stub;

/* Serves on 127.0.0.1:<free port> from a thread until stub_stop. One connection at a time. */
struct stub *stub_start(stub_handler h, void *ud);
int stub_port(struct stub *s);
/*
 * A client of the scripted server at url with fast retries (5-50 ms backoff,
 * 1 s per attempt): max_attempts and the retry quota as the test needs.
 */
struct aws_client *stub_client(struct aws_creds_provider *creds, const char *url, int max_attempts,
			       int quota);
/* Requests answered so far. */
int stub_count(struct stub *s);
void stub_stop(struct stub *s);
/* The value of header name in req (case-insensitive) copied into out, or "" (returns out). */
const char *stub_header(const struct stub_request *req, const char *name, char *out, size_t n);

#endif
