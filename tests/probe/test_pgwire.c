/*
 * The PostgreSQL wire client against a scripted server on 127.0.0.1: a thread
 * that speaks the server side of startup, authentication (with real
 * server-side SCRAM-SHA-256: it derives StoredKey and ServerKey from the
 * password and checks the client's proof, so a login here proves the proof
 * right), TLS with certificates made by the test, and queries, and that can
 * be told to misbehave: wrong signatures and nonces, startup errors, EOF and
 * malformed or oversized messages.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/probe/pgwire.h"

#define PASSWORD "s3cret-Pass"
#define ITERATIONS 4096

/* ---- building server messages ---- */

static void put_i32(struct base_buf *b, uint32_t v)
{
	unsigned char x[4] = {v >> 24, v >> 16, v >> 8, v};

	base_buf_add(b, x, 4);
}

static void put_i16(struct base_buf *b, uint16_t v)
{
	unsigned char x[2] = {v >> 8, v};

	base_buf_add(b, x, 2);
}

static void put_str(struct base_buf *b, const char *s)
{
	base_buf_add(b, s, strlen(s) + 1);
}

/* Appends a message of type with body[0..n). */
static void msg(struct base_buf *b, char type, const void *body, size_t n)
{
	base_buf_addch(b, type);
	put_i32(b, (uint32_t)n + 4);
	base_buf_add(b, body, n);
}

/* An authentication request: code, then data[0..n). */
static void auth_request(struct base_buf *b, uint32_t code, const void *data, size_t n)
{
	struct base_buf f = BASE_BUF_INIT(0);

	put_i32(&f, code);
	base_buf_add(&f, data, n);
	msg(b, 'R', f.data, f.len);
	base_buf_release(&f);
}

static void error_response(struct base_buf *b, char type, const char *sqlstate, const char *text)
{
	struct base_buf f = BASE_BUF_INIT(0);

	base_buf_addch(&f, 'S');
	put_str(&f, "ERROR");
	base_buf_addch(&f, 'C');
	put_str(&f, sqlstate);
	base_buf_addch(&f, 'M');
	put_str(&f, text);
	base_buf_addch(&f, '\0');
	msg(b, type, f.data, f.len);
	base_buf_release(&f);
}

/* A DataRow of n columns; a NULL value is SQL NULL. */
static void data_row(struct base_buf *b, int n, const char *const *v)
{
	struct base_buf f = BASE_BUF_INIT(0);
	int i;

	put_i16(&f, (uint16_t)n);
	for (i = 0; i < n; i++) {
		if (!v[i]) {
			put_i32(&f, UINT32_MAX);
			continue;
		}
		put_i32(&f, (uint32_t)strlen(v[i]));
		base_buf_adds(&f, v[i]);
	}
	msg(b, 'D', f.data, f.len);
	base_buf_release(&f);
}

static void row_description(struct base_buf *b, int n)
{
	struct base_buf f = BASE_BUF_INIT(0);
	char name[16];
	int i;

	put_i16(&f, (uint16_t)n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		put_str(&f, name);
		put_i32(&f, 0);
		put_i16(&f, 0);
		put_i32(&f, 25);
		put_i16(&f, UINT16_MAX);
		put_i32(&f, UINT32_MAX);
		put_i16(&f, 0);
	}
	msg(b, 'T', f.data, f.len);
	base_buf_release(&f);
}

static void ready(struct base_buf *b, char status)
{
	msg(b, 'Z', &status, 1);
}

/* ---- the scripted server ---- */

enum auth { AUTH_TRUST, AUTH_CLEARTEXT, AUTH_MD5, AUTH_SCRAM };
enum fault { F_NONE, F_BAD_SIGNATURE, F_BAD_NONCE, F_SKIP_FINAL, F_BAD_ITERATIONS };

struct script {
	enum auth auth;
	enum fault fault;
	const char *password; /* the server's */
	char ssl_answer;      /* 0: no SSLRequest expected; else the answer byte */
	SSL_CTX *tls;	      /* for ssl_answer 'S' */
	const char *startup_error;
	int negotiate;	       /* send NegotiateProtocolVersion dropping an option */
	int close_after_login; /* hang up once logged in (idle check) */
	int fatal_after_login; /* send FATAL 57P01, then hang up */
	const char *reply;     /* raw bytes for every query instead of the usual answer */
	size_t reply_len;
	int close_after_reply;
	int nconns;

	/* What the server saw. */
	int port, listen_fd;
	pthread_t thread;
	atomic_int logins, proof_ok, queries; /* read while the server runs */
	char user[64], database[64], appname[64], encoding[16];
	char params[2][64];
	int nparams;
	char sql[256];
};

struct peer {
	int fd;
	SSL *ssl;
};

static int peer_read(struct peer *p, void *buf, size_t n)
{
	unsigned char *b = buf;
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (p->ssl)
			r = SSL_read(p->ssl, b + got, (int)(n - got));
		else
			r = recv(p->fd, b + got, n - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void peer_write(struct peer *p, const void *buf, size_t n)
{
	if (p->ssl)
		SSL_write(p->ssl, buf, (int)n);
	else
		send(p->fd, buf, n, MSG_NOSIGNAL);
}

static void peer_send(struct peer *p, struct base_buf *b)
{
	peer_write(p, b->data, b->len);
	base_buf_reset(b);
}

static uint32_t be32(const unsigned char *x)
{
	return (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
}

/* One client message: its type and a malloc'ed body (NUL-terminated). */
static int read_msg(struct peer *p, char *type, char **body, size_t *n)
{
	unsigned char h[5];
	uint32_t len;

	if (peer_read(p, h, 5) < 0)
		return -1;
	len = be32(h + 1);
	if (len < 4 || len > (1u << 20))
		return -1;
	*type = (char)h[0];
	*n = len - 4;
	*body = xcalloc(1, *n + 1);
	if (peer_read(p, *body, *n) < 0) {
		free(*body);
		return -1;
	}
	return 0;
}

static void b64(const unsigned char *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static void hmac256(const unsigned char *key, const void *d, size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, 32, d, n, out, &len);
}

/* The server side of SCRAM-SHA-256: 0 when the client proved the password. */
static int serve_scram(struct script *s, struct peer *p, struct base_buf *b)
{
	static const unsigned char salt[16] = "0123456789abcdef";
	unsigned char salted[32], ck[32], stored[32], sk[32], csig[32], proof[48], sig[32];
	char salt64[32], sig64[48], server_first[256], nonce[128], am[768], *body, *cf, *fin;
	char type, *pp;
	size_t n, bare_len;
	int i, rc = -1, iterations = s->fault == F_BAD_ITERATIONS ? 0 : ITERATIONS;

	auth_request(b, 10, "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0", 34);
	peer_send(p, b);

	if (read_msg(p, &type, &body, &n) < 0)
		return -1;
	/* mechanism \0 int32 len client-first */
	if (type != 'p' || strcmp(body, "SCRAM-SHA-256") || n < 14 + 4 + 8) {
		free(body);
		return -1;
	}
	cf = body + 14 + 4;
	ck_assert(!strncmp(cf, "n,,n=,r=", 8));
	snprintf(nonce, sizeof(nonce), "%s%s", s->fault == F_BAD_NONCE ? "X" : cf + 8,
		 "Srv+Nonce/123");
	b64(salt, sizeof(salt), salt64);
	snprintf(server_first, sizeof(server_first), "r=%s,s=%s,i=%d", nonce, salt64, iterations);
	snprintf(am, sizeof(am), "%s,%s,c=biws,r=%s", cf + 3, server_first, nonce);
	bare_len = strlen(cf + 3);
	free(body);
	auth_request(b, 11, server_first, strlen(server_first));
	peer_send(p, b);

	if (read_msg(p, &type, &body, &n) < 0)
		return -1;
	fin = body;
	pp = strstr(fin, ",p=");
	if (type != 'p' || !pp || strncmp(fin, "c=biws,r=", 9) ||
	    strncmp(fin + 9, nonce, strlen(nonce)))
		goto out;
	/* The client-final-message without the proof must be what went into am. */
	if ((size_t)(pp - fin) != strlen(am) - bare_len - strlen(server_first) - 2)
		goto out;
	if (EVP_DecodeBlock(proof, (unsigned char *)pp + 3, (int)strlen(pp + 3)) != 33)
		goto out;
	PKCS5_PBKDF2_HMAC(s->password, (int)strlen(s->password), salt, sizeof(salt), ITERATIONS,
			  EVP_sha256(), 32, salted);
	hmac256(salted, "Client Key", 10, ck);
	SHA256(ck, 32, stored);
	hmac256(salted, "Server Key", 10, sk);
	hmac256(stored, am, strlen(am), csig);
	for (i = 0; i < 32; i++)
		ck[i] = proof[i] ^ csig[i];
	SHA256(ck, 32, ck);
	if (CRYPTO_memcmp(ck, stored, 32)) {
		error_response(b, 'E', "28P01",
			       "password authentication failed for user \"prober\"");
		peer_send(p, b);
		goto out;
	}
	s->proof_ok++;
	hmac256(sk, am, strlen(am), sig);
	if (s->fault == F_BAD_SIGNATURE)
		sig[0] ^= 1;
	memcpy(sig64, "v=", 2);
	b64(sig, 32, sig64 + 2);
	if (s->fault != F_SKIP_FINAL)
		auth_request(b, 12, sig64, strlen(sig64));
	auth_request(b, 0, NULL, 0);
	peer_send(p, b);
	rc = 0;
out:
	free(body);
	return rc;
}

static void md5hex(const void *a, size_t an, const void *c, size_t cn, char out[33])
{
	unsigned char d[16];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int i;

	EVP_DigestInit_ex(md, EVP_md5(), NULL);
	EVP_DigestUpdate(md, a, an);
	EVP_DigestUpdate(md, c, cn);
	EVP_DigestFinal_ex(md, d, NULL);
	EVP_MD_CTX_free(md);
	for (i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* Password exchanges that are not SCRAM: 0 when the password was right. */
static int serve_password(struct script *s, struct peer *p, struct base_buf *b)
{
	static const unsigned char salt[4] = {0xde, 0xad, 0xbe, 0xef};
	char inner[33], want[36], type, *body;
	size_t n;
	int ok;

	if (s->auth == AUTH_CLEARTEXT)
		auth_request(b, 3, NULL, 0);
	else
		auth_request(b, 5, salt, 4);
	peer_send(p, b);
	if (read_msg(p, &type, &body, &n) < 0)
		return -1;
	if (s->auth == AUTH_CLEARTEXT) {
		ok = type == 'p' && !strcmp(body, s->password);
	} else {
		md5hex(s->password, strlen(s->password), s->user, strlen(s->user), inner);
		memcpy(want, "md5", 3);
		md5hex(inner, 32, salt, 4, want + 3);
		ok = type == 'p' && !strcmp(body, want);
	}
	free(body);
	if (!ok) {
		error_response(b, 'E', "28P01", "password authentication failed");
		peer_send(p, b);
		return -1;
	}
	auth_request(b, 0, NULL, 0);
	peer_send(p, b);
	return 0;
}

/* The usual answer to a Sync or a simple Query. */
static void answer(struct script *s, struct base_buf *b, int extended)
{
	const char *simple[2] = {"1", NULL};
	const char *ext[2] = {s->params[0], s->nparams > 1 ? s->params[1] : NULL};

	if (extended) {
		msg(b, '1', NULL, 0);
		msg(b, '2', NULL, 0);
		row_description(b, 2);
		data_row(b, 2, ext);
		msg(b, 'C', "SELECT 1", 9);
	} else {
		error_response(b, 'N', "00000", "a notice");
		msg(b, 'S', "TimeZone\0UTC", 13);
		msg(b, 'A',
		    "\0\0\0\x07"
		    "chan\0payload",
		    17);
		row_description(b, 2);
		data_row(b, 2, simple);
		data_row(b, 2, simple);
		msg(b, 'C', "SELECT 2", 9);
	}
	ready(b, 'I');
}

/* Reads a Bind's text parameters into s->params. */
static void read_bind(struct script *s, const unsigned char *body, size_t n)
{
	const unsigned char *p = body, *end = body + n;
	int i, np;
	uint32_t len;

	p += strlen((const char *)p) + 1; /* portal */
	p += strlen((const char *)p) + 1; /* statement */
	p += 2 + 2 * (p[0] << 8 | p[1]);  /* parameter formats */
	np = p[0] << 8 | p[1];
	p += 2;
	s->nparams = np;
	for (i = 0; i < np && p + 4 <= end; i++) {
		len = be32(p);
		p += 4;
		if (len == UINT32_MAX)
			continue;
		if (i < 2)
			snprintf(s->params[i], sizeof(s->params[i]), "%.*s", (int)len, p);
		p += len;
	}
}

static void serve_one(struct script *s, int fd)
{
	struct base_buf b = BASE_BUF_INIT(0);
	struct peer p = {fd, NULL};
	unsigned char h[8], *sp;
	char *startup = NULL, *k, *v, type, *body;
	uint32_t len;
	size_t n;

	if (peer_read(&p, h, 8) < 0)
		goto out;
	if (be32(h + 4) == 80877103) {
		ck_assert_int_ne(s->ssl_answer, 0);
		peer_write(&p, &s->ssl_answer, 1);
		if (s->ssl_answer == 'E')
			goto out;
		if (s->ssl_answer == 'S') {
			p.ssl = SSL_new(s->tls);
			SSL_set_fd(p.ssl, fd);
			if (SSL_accept(p.ssl) != 1)
				goto out;
		}
		if (peer_read(&p, h, 8) < 0)
			goto out;
	}
	len = be32(h);
	ck_assert_uint_eq(be32(h + 4), 196608);
	ck_assert(len > 8 && len < 10000);
	startup = xcalloc(1, len);
	if (peer_read(&p, startup, len - 8) < 0)
		goto out;
	for (sp = (unsigned char *)startup; *sp;) {
		k = (char *)sp;
		v = k + strlen(k) + 1;
		if (!strcmp(k, "user"))
			snprintf(s->user, sizeof(s->user), "%s", v);
		else if (!strcmp(k, "database"))
			snprintf(s->database, sizeof(s->database), "%s", v);
		else if (!strcmp(k, "application_name"))
			snprintf(s->appname, sizeof(s->appname), "%s", v);
		else if (!strcmp(k, "client_encoding"))
			snprintf(s->encoding, sizeof(s->encoding), "%s", v);
		sp = (unsigned char *)v + strlen(v) + 1;
	}
	if (s->negotiate) {
		msg(&b, 'v', "\0\0\0\0\0\0\0\x01_pq_.unknown\0", 21);
		peer_send(&p, &b);
	}
	if (s->startup_error) {
		error_response(&b, 'E', s->startup_error, "the database system is starting up");
		peer_send(&p, &b);
		goto out;
	}
	if (s->auth == AUTH_SCRAM && serve_scram(s, &p, &b) < 0)
		goto out;
	if ((s->auth == AUTH_MD5 || s->auth == AUTH_CLEARTEXT) && serve_password(s, &p, &b) < 0)
		goto out;
	if (s->auth == AUTH_TRUST)
		auth_request(&b, 0, NULL, 0);
	msg(&b, 'S',
	    "server_version\0"
	    "15.4\0",
	    20);
	msg(&b, 'K', "\0\0\0\x01\0\0\0\x02", 8);
	ready(&b, 'I');
	s->logins++; /* before the client can see it logged in */
	peer_send(&p, &b);
	if (s->close_after_login)
		goto out;
	if (s->fatal_after_login) {
		error_response(&b, 'E', "57P01",
			       "terminating connection due to administrator command");
		peer_send(&p, &b);
		goto out;
	}
	while (read_msg(&p, &type, &body, &n) == 0) {
		if (type == 'Q')
			snprintf(s->sql, sizeof(s->sql), "%s", body);
		else if (type == 'P')
			snprintf(s->sql, sizeof(s->sql), "%s", body + 1);
		else if (type == 'B')
			read_bind(s, (unsigned char *)body, n);
		free(body);
		if (type == 'X')
			break;
		if (type != 'Q' && type != 'S')
			continue;
		s->queries++;
		if (s->reply) {
			base_buf_add(&b, s->reply, s->reply_len);
			s->reply = NULL; /* the next query gets the usual answer */
		} else {
			answer(s, &b, type == 'S');
		}
		peer_send(&p, &b);
		if (s->close_after_reply)
			break;
	}
out:
	if (p.ssl) {
		SSL_shutdown(p.ssl);
		SSL_free(p.ssl);
	}
	free(startup);
	base_buf_release(&b);
}

static void *server_main(void *arg)
{
	struct script *s = arg;
	struct timeval tv = {5, 0};
	sigset_t set;
	int i, fd;

	/*
	 * The server's own TLS writes may hit a closed socket; the client's
	 * thread keeps SIGPIPE's default action, so the client is tested never
	 * to raise it.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	for (i = 0; i < (s->nconns ? s->nconns : 1); i++) {
		fd = accept(s->listen_fd, NULL, NULL);
		if (fd < 0)
			break;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		serve_one(s, fd);
		close(fd);
	}
	return NULL;
}

static void server_start(struct script *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t sl = sizeof(a);

	if (!s->password)
		s->password = PASSWORD;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->listen_fd, 0);
	ck_assert_int_eq(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s->listen_fd, 8), 0);
	ck_assert_int_eq(getsockname(s->listen_fd, (struct sockaddr *)&a, &sl), 0);
	s->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_stop(struct script *s)
{
	pthread_join(s->thread, NULL);
	close(s->listen_fd);
}

/* ---- the client side ---- */

static struct pgw_options options(const struct script *s, const char *password, const char *sslmode)
{
	struct pgw_options o = {
		.host = "127.0.0.1",
		.hostaddr = "127.0.0.1",
		.port = s->port,
		.dbname = "postgres",
		.user = "prober",
		.password = password,
		.sslmode = sslmode ? sslmode : "disable",
		.application_name = "pgw-test",
	};

	return o;
}

static void wait_for(struct pgw_conn *c, enum pgw_io want)
{
	struct pollfd p = {.fd = pgw_socket(c)};

	p.events = want == PGW_WANT_READ ? POLLIN : POLLIN | POLLOUT;
	ck_assert_msg(poll(&p, 1, 5000) == 1, "nothing happened for 5 s");
}

static enum pgw_io login(const struct pgw_options *o, struct pgw_conn **c)
{
	enum pgw_io r;

	ck_assert_int_eq(pgw_connect_start(o, c), 0);
	while ((r = pgw_connect_poll(*c)) > 0)
		wait_for(*c, r);
	return r;
}

static enum pgw_io run(struct pgw_conn *c, const char *sql, int n, const char *const *params)
{
	enum pgw_io r;

	ck_assert_int_eq(pgw_send(c, sql, n, params), 0);
	while ((r = pgw_query_poll(c)) > 0)
		wait_for(c, r);
	return r;
}

/*
 * Logs in to a scripted server that answers the first query with reply and
 * the later ones as usual, or hangs up after the first when close_after.
 */
static struct pgw_conn *logged_in(struct script *s, const char *reply, size_t len, int close_after)
{
	struct pgw_options o;
	struct pgw_conn *c;

	s->auth = AUTH_TRUST;
	s->reply = reply;
	s->reply_len = len;
	s->close_after_reply = close_after;
	server_start(s);
	o = options(s, NULL, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	return c;
}

/* ---- login ---- */

/* Logs in to the scripted server s with password and sslmode: it must fail as want. */
static void login_fails(struct script *s, const char *password, const char *sslmode,
			enum pgw_fail want)
{
	struct pgw_options o;
	struct pgw_conn *c;

	server_start(s);
	o = options(s, password, sslmode);
	ck_assert_int_eq(login(&o, &c), PGW_FAILED);
	ck_assert_int_eq(pgw_failure(c), want);
	pgw_close(c);
	server_stop(s);
}

START_TEST(scram_login_then_a_query_with_parameters_returns_its_row)
{
	struct script s = {.auth = AUTH_SCRAM};
	const char *params[2] = {"hello", "42"};
	const struct pgw_result *res;
	struct pgw_options o;
	struct pgw_conn *c;

	server_start(&s);
	o = options(&s, PASSWORD, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	ck_assert_int_eq(s.proof_ok, 1);
	ck_assert_str_eq(s.user, "prober");
	ck_assert_str_eq(s.database, "postgres");
	ck_assert_str_eq(s.appname, "pgw-test");
	ck_assert_str_eq(s.encoding, "UTF8");
	ck_assert_int_eq(pgw_failure(c), PGW_FAIL_NONE);

	ck_assert_int_eq(run(c, "SELECT $1::text, $2::int", 2, params), PGW_DONE);
	res = pgw_result(c);
	ck_assert_str_eq(s.sql, "SELECT $1::text, $2::int");
	ck_assert_int_eq(s.nparams, 2);
	ck_assert_int_eq(res->failed, 0);
	ck_assert_int_eq(res->ntuples, 1);
	ck_assert_int_eq(res->nfields, 2);
	ck_assert_str_eq(res->value[0], "hello");
	ck_assert_str_eq(res->value[1], "42");

	/* A simple query on the same connection: notices and friends are passed over. */
	ck_assert_int_eq(run(c, "SELECT 1; SELECT 2", 0, NULL), PGW_DONE);
	res = pgw_result(c);
	ck_assert_str_eq(s.sql, "SELECT 1; SELECT 2");
	ck_assert_int_eq(res->ntuples, 2);
	ck_assert_str_eq(res->value[0], "1");
	ck_assert_ptr_null(res->value[1]);
	ck_assert_int_eq(pgw_idle_ok(c), 1);
	pgw_close(c);
	server_stop(&s);
}
END_TEST

START_TEST(a_wrong_password_fails_auth_with_the_servers_sqlstate)
{
	struct script s = {.auth = AUTH_SCRAM};
	struct pgw_options o;
	struct pgw_conn *c;

	server_start(&s);
	o = options(&s, "not-the-password", NULL);
	ck_assert_int_eq(login(&o, &c), PGW_FAILED);
	ck_assert_int_eq(pgw_failure(c), PGW_FAIL_AUTH);
	ck_assert_str_eq(pgw_sqlstate(c), "28P01");
	ck_assert_ptr_nonnull(strstr(pgw_error(c), "password authentication failed"));
	ck_assert_ptr_null(strstr(pgw_error(c), "not-the-password"));
	pgw_close(c);
	server_stop(&s);
}
END_TEST

START_TEST(a_server_that_cannot_prove_the_password_fails_auth)
{
	struct script s = {.auth = AUTH_SCRAM, .fault = F_BAD_SIGNATURE};

	login_fails(&s, PASSWORD, NULL, PGW_FAIL_AUTH);
}
END_TEST

START_TEST(a_server_that_skips_scram_final_fails_auth)
{
	struct script s = {.auth = AUTH_SCRAM, .fault = F_SKIP_FINAL};

	login_fails(&s, PASSWORD, NULL, PGW_FAIL_AUTH);
}
END_TEST

START_TEST(a_server_nonce_that_does_not_extend_ours_fails)
{
	struct script s = {.auth = AUTH_SCRAM, .fault = F_BAD_NONCE};

	login_fails(&s, PASSWORD, NULL, PGW_FAIL_PROTOCOL);
	ck_assert_int_eq(s.proof_ok, 0);
}
END_TEST

START_TEST(a_zero_iteration_count_fails)
{
	struct script s = {.auth = AUTH_SCRAM, .fault = F_BAD_ITERATIONS};

	login_fails(&s, PASSWORD, NULL, PGW_FAIL_PROTOCOL);
}
END_TEST

START_TEST(md5_and_cleartext_logins_work)
{
	struct script s = {.auth = AUTH_MD5, .negotiate = 1};
	struct pgw_options o;
	struct pgw_conn *c;

	server_start(&s);
	o = options(&s, PASSWORD, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	ck_assert_int_eq(s.logins, 1);
	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
	pgw_close(c);
	server_stop(&s);

	memset(&s, 0, sizeof(s));
	s.auth = AUTH_CLEARTEXT;
	server_start(&s);
	o = options(&s, PASSWORD, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	ck_assert_int_eq(s.logins, 1);
	pgw_close(c);
	server_stop(&s);
}
END_TEST

START_TEST(a_password_request_without_a_password_fails_auth)
{
	struct script s = {.auth = AUTH_MD5};

	login_fails(&s, NULL, NULL, PGW_FAIL_AUTH);
}
END_TEST

START_TEST(scram_keys_are_derived_once_per_password_and_salt)
{
	/* A password of its own, unknown to the cache even when tests share a process. */
	struct script s = {.auth = AUTH_SCRAM, .nconns = 3, .password = "cache-test-password"};
	long hits0, misses0, hits, misses;
	struct pgw_options o;
	struct pgw_conn *c;

	server_start(&s);
	o = options(&s, s.password, NULL);
	pgw_cache_stats(&hits0, &misses0);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	pgw_close(c);
	pgw_cache_stats(&hits, &misses);
	ck_assert_int_eq(hits - hits0, 0);
	ck_assert_int_eq(misses - misses0, 1);

	/* Same password, salt and iterations: a hit, and the server still checks the proof. */
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	pgw_close(c);
	pgw_cache_stats(&hits, &misses);
	ck_assert_int_eq(hits - hits0, 1);
	ck_assert_int_eq(misses - misses0, 1);
	ck_assert_int_eq(s.proof_ok, 2);

	/* Another password is another entry: a miss, and (wrong) it fails. */
	o.password = "other";
	ck_assert_int_eq(login(&o, &c), PGW_FAILED);
	ck_assert_int_eq(pgw_failure(c), PGW_FAIL_AUTH);
	pgw_close(c);
	pgw_cache_stats(&hits, &misses);
	ck_assert_int_eq(hits - hits0, 1);
	ck_assert_int_eq(misses - misses0, 2);
	server_stop(&s);
}
END_TEST

START_TEST(startup_errors_are_classified_by_sqlstate)
{
	static const struct {
		const char *sqlstate;
		enum pgw_fail fail;
	} rows[] = {
		{"57P03", PGW_FAIL_UNAVAILABLE}, {"53300", PGW_FAIL_UNAVAILABLE},
		{"57P01", PGW_FAIL_UNAVAILABLE}, {"28000", PGW_FAIL_AUTH},
		{"3D000", PGW_FAIL_AUTH},	 {"42501", PGW_FAIL_AUTH},
		{"XX000", PGW_FAIL_CONNECT},
	};
	struct pgw_options o;
	struct pgw_conn *c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		struct script s = {.auth = AUTH_SCRAM, .startup_error = rows[i].sqlstate};

		server_start(&s);
		o = options(&s, PASSWORD, NULL);
		ck_assert_int_eq(login(&o, &c), PGW_FAILED);
		ck_assert_int_eq(pgw_failure(c), rows[i].fail);
		ck_assert_str_eq(pgw_sqlstate(c), rows[i].sqlstate);
		pgw_close(c);
		server_stop(&s);
	}
}
END_TEST

/* ---- sslmode without TLS ---- */

START_TEST(a_server_refusing_tls_fails_require_and_serves_prefer_in_plaintext)
{
	struct script s = {.ssl_answer = 'N'};
	struct pgw_options o;
	struct pgw_conn *c;

	login_fails(&s, PASSWORD, "require", PGW_FAIL_TLS);

	memset(&s, 0, sizeof(s));
	s.ssl_answer = 'N';
	s.auth = AUTH_SCRAM;
	server_start(&s);
	o = options(&s, PASSWORD, "prefer");
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	ck_assert_int_eq(s.proof_ok, 1);
	pgw_close(c);
	server_stop(&s);
}
END_TEST

START_TEST(an_error_answer_to_sslrequest_fails)
{
	struct script s = {.ssl_answer = 'E'};

	login_fails(&s, PASSWORD, "prefer", PGW_FAIL_SERVER);
}
END_TEST

START_TEST(bad_options_are_refused_before_any_socket)
{
	struct pgw_options o = {.hostaddr = "127.0.0.1", .port = 5432, .user = "u"};
	struct pgw_conn *c = (struct pgw_conn *)1;

	o.sslmode = "sometimes";
	ck_assert_int_eq(pgw_connect_start(&o, &c), BASE_EINVAL);
	ck_assert_ptr_null(c);
	o.sslmode = NULL;
	o.hostaddr = "db.example.com";
	ck_assert_int_eq(pgw_connect_start(&o, &c), BASE_EINVAL);
	o.hostaddr = "::1";
	o.port = 0;
	ck_assert_int_eq(pgw_connect_start(&o, &c), BASE_EINVAL);
	o.port = 5432;
	o.user = "";
	ck_assert_int_eq(pgw_connect_start(&o, &c), BASE_EINVAL);
}
END_TEST

START_TEST(a_refused_connection_fails_connect)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t sl = sizeof(a);
	struct script s = {0};
	struct pgw_options o;
	struct pgw_conn *c;
	int fd;

	/* A port that was free a moment ago, with nobody listening. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
	close(fd);
	s.port = ntohs(a.sin_port);
	o = options(&s, NULL, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_FAILED);
	ck_assert_int_eq(pgw_failure(c), PGW_FAIL_CONNECT);
	pgw_close(c);
}
END_TEST

/* ---- queries ---- */

START_TEST(an_error_mid_query_keeps_the_first_sqlstate_and_the_connection)
{
	struct script s = {0};
	struct base_buf b = BASE_BUF_INIT(0);
	const struct pgw_result *res;
	struct pgw_conn *c;

	msg(&b, 'C', "CREATE TABLE", 13);
	error_response(&b, 'E', "42P01", "relation does not exist");
	error_response(&b, 'E', "22012", "division by zero");
	ready(&b, 'I');
	c = logged_in(&s, b.data, b.len, 0);
	ck_assert_int_eq(run(c, "CREATE TABLE t(); SELECT * FROM nope", 0, NULL), PGW_DONE);
	res = pgw_result(c);
	ck_assert_int_eq(res->failed, 1);
	ck_assert_str_eq(res->sqlstate, "42P01");
	ck_assert_int_eq(pgw_idle_ok(c), 1);

	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
	res = pgw_result(c);
	ck_assert_int_eq(res->failed, 0);
	ck_assert_str_eq(res->sqlstate, "");
	ck_assert_str_eq(res->value[0], "1");
	pgw_close(c);
	server_stop(&s);
	base_buf_release(&b);
}
END_TEST

START_TEST(eof_mid_message_fails_connect)
{
	static const char reply[] = "T\0\0\0\x40\0\x01";
	struct script s = {0};
	struct pgw_conn *c;

	c = logged_in(&s, reply, sizeof(reply) - 1, 1);
	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_FAILED);
	ck_assert_int_eq(pgw_failure(c), PGW_FAIL_CONNECT);
	pgw_close(c);
	server_stop(&s);
}
END_TEST

START_TEST(malformed_messages_fail_protocol)
{
	static const struct {
		const char *name;
		const char *bytes;
		size_t len;
	} rows[] = {
#define R(name, lit) {name, lit, sizeof(lit) - 1}
		R("length under 4", "C\0\0\0\x03"),
		R("negative length", "C\xff\xff\xff\xf0"),
		R("CommandComplete over the cap", "C\0\x10\0\0"),
		R("ErrorResponse over the cap", "E\0\x02\0\0"),
		R("DataRow column length -2", "D\0\0\0\x0a\0\x01\xff\xff\xff\xfe"),
		R("DataRow column past the message", "D\0\0\0\x0a\0\x01\0\0\0\x09"),
		R("DataRow with bytes after its columns", "D\0\0\0\x0b\0\x01\0\0\0\x00x"),
		R("DataRow with a negative column count", "D\0\0\0\x06\xff\xff"),
		R("CommandComplete without its NUL", "C\0\0\0\x08SELE"),
		R("ErrorResponse without its terminator", "E\0\0\0\x0b"
							  "C42P01\0"),
		R("RowDescription short of its fields", "T\0\0\0\x0b\0\x01"
							"a\0\0\0\0"),
		R("ParseComplete with a body", "1\0\0\0\x05x"),
		R("ReadyForQuery with a bad status", "Z\0\0\0\x05X"),
		R("an unknown message type", "Y\0\0\0\x04"),
		R("AuthenticationOk after login", "R\0\0\0\x08\0\0\0\0"),
		R("BackendKeyData after login", "K\0\0\0\x0c\0\0\0\x01\0\0\0\x02"),
		R("NotificationResponse without its payload", "A\0\0\0\x0d\0\0\0\x07"
							      "chan\0"),
#undef R
	};
	struct pgw_conn *c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		struct script s = {0};

		c = logged_in(&s, rows[i].bytes, rows[i].len, 1);
		ck_assert_msg(run(c, "SELECT 1", 0, NULL) == PGW_FAILED, "%s", rows[i].name);
		ck_assert_msg(pgw_failure(c) == PGW_FAIL_PROTOCOL, "%s: %d %s", rows[i].name,
			      pgw_failure(c), pgw_error(c));
		pgw_close(c);
		server_stop(&s);
	}
}
END_TEST

/* A DataRow of one column of n bytes of 'x'. */
static void big_row(struct base_buf *b, size_t n)
{
	char *v = xmalloc(n + 1);
	const char *vals[1] = {v};

	memset(v, 'x', n);
	v[n] = '\0';
	data_row(b, 1, vals);
	free(v);
}

START_TEST(a_datarow_over_the_cap_is_skipped_and_the_rest_is_read)
{
	const char *one[1] = {"7"};
	struct script s = {0};
	struct base_buf b = BASE_BUF_INIT(0);
	const struct pgw_result *res;
	struct pgw_conn *c;

	row_description(&b, 1);
	data_row(&b, 1, one);
	big_row(&b, PGW_MAX_MESSAGE + 100);
	error_response(&b, 'N', "01000", "a notice");
	msg(&b, 'C', "SELECT 2", 9);
	ready(&b, 'I');
	c = logged_in(&s, b.data, b.len, 0);
	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
	res = pgw_result(c);
	ck_assert_int_eq(res->ntuples, 2);
	ck_assert_int_eq(res->oversized, 0);
	ck_assert_str_eq(res->value[0], "7");
	ck_assert_int_le(pgw_conn_memory(c), 2048);

	/* Oversized first: counted, not kept. */
	base_buf_reset(&b);
	big_row(&b, PGW_MAX_MESSAGE * 3);
	data_row(&b, 1, one);
	msg(&b, 'C', "SELECT 2", 9);
	ready(&b, 'I');
	s.reply = b.data;
	s.reply_len = b.len;
	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
	res = pgw_result(c);
	ck_assert_int_eq(res->ntuples, 2);
	ck_assert_int_eq(res->oversized, 1);
	ck_assert_ptr_null(res->value[0]);

	/* Just under the cap: kept whole; the buffer shrinks back afterwards. */
	base_buf_reset(&b);
	big_row(&b, PGW_MAX_MESSAGE - 64);
	ready(&b, 'I');
	s.reply = b.data;
	s.reply_len = b.len;
	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
	res = pgw_result(c);
	ck_assert_uint_eq(strlen(res->value[0]), PGW_MAX_MESSAGE - 64);
	ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
	ck_assert_int_le(pgw_conn_memory(c), 2048);
	pgw_close(c);
	server_stop(&s);
	base_buf_release(&b);
}
END_TEST

START_TEST(the_idle_check_notices_a_server_that_hung_up)
{
	struct script s = {.auth = AUTH_TRUST, .close_after_login = 1};
	struct pgw_options o;
	struct pgw_conn *c;
	struct pollfd p;

	server_start(&s);
	o = options(&s, NULL, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	server_stop(&s);
	p = (struct pollfd){.fd = pgw_socket(c), .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(pgw_idle_ok(c), 0);
	pgw_close(c);

	memset(&s, 0, sizeof(s));
	s.fatal_after_login = 1;
	server_start(&s);
	o = options(&s, NULL, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	server_stop(&s);
	p = (struct pollfd){.fd = pgw_socket(c), .events = POLLIN};
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_eq(pgw_idle_ok(c), 0);
	ck_assert_ptr_nonnull(strstr(pgw_error(c), "57P01"));
	pgw_close(c);
}
END_TEST

START_TEST(an_idle_connection_costs_under_2_kb)
{
	struct script s = {.auth = AUTH_SCRAM};
	const char *params[2] = {"globaldb-controller", "1700000000000"};
	struct pgw_options o;
	struct pgw_conn *c;

	server_start(&s);
	o = options(&s, PASSWORD, NULL);
	ck_assert_int_eq(login(&o, &c), PGW_DONE);
	ck_assert_int_le(pgw_conn_memory(c), 2048);
	ck_assert_int_eq(
		run(c, "INSERT INTO globaldb_heartbeat VALUES ($1, $2) RETURNING seq", 2, params),
		PGW_DONE);
	ck_assert_int_le(pgw_conn_memory(c), 2048);
	pgw_close(c);
	server_stop(&s);
}
END_TEST

/* ---- TLS ---- */

struct pki {
	EVP_PKEY *key;
	X509 *cert;
	char path[64];
};

/* A self-signed certificate whose subject is CN=cn, with no SANs; written to a file. */
static void make_cert(struct pki *k, const char *cn)
{
	X509_NAME *name;
	FILE *f;
	int fd;

	k->key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(k->key);
	k->cert = X509_new();
	X509_set_version(k->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(k->cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(k->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(k->cert), 3600);
	X509_set_pubkey(k->cert, k->key);
	name = X509_get_subject_name(k->cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(k->cert, name);
	ck_assert_int_gt(X509_sign(k->cert, k->key, EVP_sha256()), 0);
	snprintf(k->path, sizeof(k->path), "/tmp/pgwire-ca-XXXXXX");
	fd = mkstemp(k->path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	PEM_write_X509(f, k->cert);
	fclose(f);
}

static void free_cert(struct pki *k)
{
	unlink(k->path);
	X509_free(k->cert);
	EVP_PKEY_free(k->key);
}

static SSL_CTX *server_ctx(struct pki *k)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	ck_assert_int_eq(SSL_CTX_use_certificate(ctx, k->cert), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(ctx, k->key), 1);
	return ctx;
}

/* One login over TLS with the given client settings; the failure, or NONE. */
static enum pgw_fail tls_login(struct pki *server, const char *sslmode, const char *host,
			       const char *rootcert)
{
	struct script s = {.auth = AUTH_SCRAM, .ssl_answer = 'S'};
	struct pgw_options o;
	struct pgw_conn *c;
	enum pgw_fail f;

	s.tls = server_ctx(server);
	server_start(&s);
	o = options(&s, PASSWORD, sslmode);
	o.host = host;
	o.sslrootcert = rootcert;
	if (login(&o, &c) == PGW_DONE) {
		ck_assert_int_eq(run(c, "SELECT 1", 0, NULL), PGW_DONE);
		ck_assert_str_eq(pgw_result(c)->value[0], "1");
		ck_assert_int_eq(pgw_idle_ok(c), 1);
		ck_assert_int_eq(s.proof_ok, 1);
	} else {
		/* Nothing derived from the password went to a server that failed the check. */
		ck_assert_int_eq(s.proof_ok, 0);
	}
	f = pgw_failure(c);
	pgw_close(c);
	server_stop(&s);
	SSL_CTX_free(s.tls);
	return f;
}

START_TEST(tls_verify_full_accepts_a_cn_naming_the_ip_and_refuses_other_cas_and_names)
{
	struct pki ca, other;

	make_cert(&ca, "127.0.0.1");
	make_cert(&other, "127.0.0.1");
	ck_assert_int_eq(tls_login(&ca, "verify-full", "127.0.0.1", ca.path), PGW_FAIL_NONE);
	ck_assert_int_eq(tls_login(&ca, "verify-ca", "127.0.0.1", ca.path), PGW_FAIL_NONE);
	ck_assert_int_eq(tls_login(&ca, "require", "127.0.0.1", NULL), PGW_FAIL_NONE);
	ck_assert_int_eq(tls_login(&ca, "verify-full", "127.0.0.1", other.path), PGW_FAIL_TLS);
	ck_assert_int_eq(tls_login(&ca, "require", "127.0.0.1", other.path), PGW_FAIL_TLS);
	ck_assert_int_eq(tls_login(&ca, "verify-full", "db.example.com", ca.path), PGW_FAIL_TLS);
	ck_assert_int_eq(tls_login(&ca, "verify-full", "127.0.0.2", ca.path), PGW_FAIL_TLS);
	ck_assert_int_eq(tls_login(&ca, "verify-ca", "127.0.0.1", "/nonexistent/ca.pem"),
			 PGW_FAIL_TLS);
	free_cert(&ca);
	free_cert(&other);
}
END_TEST

START_TEST(tls_verify_full_matches_a_host_name_in_the_cn)
{
	struct pki ca;

	make_cert(&ca, "db.example.com");
	ck_assert_int_eq(tls_login(&ca, "verify-full", "db.example.com", ca.path), PGW_FAIL_NONE);
	ck_assert_int_eq(tls_login(&ca, "verify-full", "other.example.com", ca.path), PGW_FAIL_TLS);
	free_cert(&ca);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pgwire");
	TCase *tl = tcase_create("login");
	TCase *tq = tcase_create("query");
	TCase *tt = tcase_create("tls");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tl, 30);
	tcase_add_test(tl, scram_login_then_a_query_with_parameters_returns_its_row);
	tcase_add_test(tl, a_wrong_password_fails_auth_with_the_servers_sqlstate);
	tcase_add_test(tl, a_server_that_cannot_prove_the_password_fails_auth);
	tcase_add_test(tl, a_server_that_skips_scram_final_fails_auth);
	tcase_add_test(tl, a_server_nonce_that_does_not_extend_ours_fails);
	tcase_add_test(tl, a_zero_iteration_count_fails);
	tcase_add_test(tl, md5_and_cleartext_logins_work);
	tcase_add_test(tl, a_password_request_without_a_password_fails_auth);
	tcase_add_test(tl, scram_keys_are_derived_once_per_password_and_salt);
	tcase_add_test(tl, startup_errors_are_classified_by_sqlstate);
	tcase_add_test(tl, a_server_refusing_tls_fails_require_and_serves_prefer_in_plaintext);
	tcase_add_test(tl, an_error_answer_to_sslrequest_fails);
	tcase_add_test(tl, bad_options_are_refused_before_any_socket);
	tcase_add_test(tl, a_refused_connection_fails_connect);
	suite_add_tcase(s, tl);
	tcase_set_timeout(tq, 30);
	tcase_add_test(tq, an_error_mid_query_keeps_the_first_sqlstate_and_the_connection);
	tcase_add_test(tq, eof_mid_message_fails_connect);
	tcase_add_test(tq, malformed_messages_fail_protocol);
	tcase_add_test(tq, a_datarow_over_the_cap_is_skipped_and_the_rest_is_read);
	tcase_add_test(tq, the_idle_check_notices_a_server_that_hung_up);
	tcase_add_test(tq, an_idle_connection_costs_under_2_kb);
	suite_add_tcase(s, tq);
	tcase_set_timeout(tt, 60);
	tcase_add_test(tt,
		       tls_verify_full_accepts_a_cn_naming_the_ip_and_refuses_other_cas_and_names);
	tcase_add_test(tt, tls_verify_full_matches_a_host_name_in_the_cn);
	suite_add_tcase(s, tt);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
