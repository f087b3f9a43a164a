/*
 * The PostgreSQL wire client. A connection is a state machine driven by the
 * caller's poll loop: CONNECTING until the socket is writable, SSL_RESPONSE
 * for the one byte that answers an SSLRequest, TLS during the handshake,
 * STARTUP from the StartupMessage to the first ReadyForQuery (authentication
 * included), then READY and BUSY alternately, one exchange per pgw_send.
 *
 * Output is built into one buffer (out), written as the socket takes it, and
 * wiped and freed once written, so an idle connection holds none.
 * Input is read into another (in) and cut into messages there; a message is
 * handled only once it is whole, so handlers see a complete body of known
 * length and parse it with a bounds-checked cursor. The input buffer starts
 * at IN_INITIAL bytes, grows to fit the message at its head (never past
 * PGW_MAX_MESSAGE) and shrinks back after an exchange that made it large, so
 * an idle connection holds little. A message too long to keep but harmless
 * to drop (a huge DataRow, a notice) is skipped as it streams past, without
 * being buffered.
 *
 * The answer to SSLRequest, one byte, is read alone, straight from the
 * socket: bytes a man in the middle sends after 'S' stay in the socket,
 * where the TLS handshake rejects them, and are never taken as the server's
 * plaintext (CVE-2021-23222).
 *
 * Everything that only the login needs (user, password, TLS settings, SCRAM
 * state) lives in struct login, freed and wiped at the first ReadyForQuery.
 * SCRAM keys are derived once per (password, salt, iterations) and kept in a
 * small process-wide LRU cache, indexed by a salted SHA-256 of the three, so
 * a thousand logins with one password to one server cost one PBKDF2. TLS
 * contexts are shared the same way, keyed by verification mode and CA file
 * (its identity and mtime too, so a rotated CA file is read again).
 *
 * TLS runs over a BIO of our own that reads with recv() and writes with
 * send(MSG_NOSIGNAL), so a peer that resets the connection cannot raise
 * SIGPIPE in a process that does not ignore it.
 */
#include "pkg/probe/pgwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/err.h"

#define MAX_OPTION 1024	    /* bytes in any option string */
#define IN_INITIAL 512	    /* the input buffer of a fresh or idle connection */
#define IN_SHRINK 4096	    /* an input buffer above this shrinks after an exchange */
#define PROTOCOL_3_0 196608 /* 3 << 16 */
#define SSL_REQUEST 80877103
#define NONCE_BYTES 18	       /* 24 characters of base64 */
#define SCRAM_KEY 32	       /* SHA-256 output */
#define SCRAM_MAX_ITER 1000000 /* more is a server making us burn CPU */
#define SCRAM_MAX_SALT 1024    /* decoded bytes */
#define SSL_CTX_ENTRIES 8
#define SCRAM_MECH "SCRAM-SHA-256"

enum state {
	ST_CONNECTING,
	ST_SSL_RESPONSE,
	ST_TLS,
	ST_STARTUP,
	ST_READY,
	ST_BUSY,
	ST_FAILED,
};

enum sslmode {
	SSLM_DISABLE,
	SSLM_ALLOW,
	SSLM_PREFER,
	SSLM_REQUIRE,
	SSLM_VERIFY_CA,
	SSLM_VERIFY_FULL,
};

enum scram_step {
	SCRAM_NONE,
	SCRAM_SENT_FIRST, /* client-first sent, waiting for server-first */
	SCRAM_SENT_FINAL, /* client-final sent, waiting for the server's signature */
	SCRAM_VERIFIED,	  /* the server proved it knows the password */
};

/* What only the login needs; freed (and wiped) at the first ReadyForQuery. */
struct login {
	char *user, *dbname, *password, *appname;
	char *name;	/* host for SNI and verify-full */
	char *rootcert; /* CA file; NULL for the system store */
	enum sslmode mode;
	int verify_chain, verify_name;
	int verified; /* the certificate checks asked for have passed */
	int auth_ok;
	enum scram_step scram;
	char nonce[4 * NONCE_BYTES / 3 + 1];
	unsigned char server_sig[SCRAM_KEY];
};

struct pgw_conn {
	int fd;
	enum state st;
	enum pgw_fail fail;
	int want; /* PGW_WANT_READ or PGW_WANT_WRITE, from the last I/O that would block */
	char txn; /* the last ReadyForQuery's transaction status */
	int row_seen;
	SSL *ssl;
	struct login *login;
	unsigned char *in;
	size_t inoff, inlen, inalloc; /* unread bytes are in[inoff..inlen) */
	size_t skip;		      /* bytes still to drop of an oversized message */
	unsigned char *out;
	size_t outoff, outlen, outalloc; /* unwritten bytes are out[outoff..outlen) */
	size_t msgstart;		 /* where the message being built starts */
	char *vals;			 /* the first row's two values, NUL-separated */
	size_t valsize;
	struct pgw_result res;
	char sqlstate[6];
	char err[160];
};

/* Message handling differs by phase: what may arrive, and what may be skipped. */
enum phase {
	PH_STARTUP,
	PH_QUERY,
	PH_IDLE,
};

/* ---- errors ---- */

static __attribute__((format(printf, 3, 4))) int fail(struct pgw_conn *c, enum pgw_fail why,
						      const char *fmt, ...)
{
	va_list ap;

	if (c->st == ST_FAILED)
		return -1;
	c->st = ST_FAILED;
	c->fail = why;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* The reason of OpenSSL's newest queued error, then an empty queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown error";
}

/* Copies a server's text for our logs: printable ASCII only, truncated to fit. */
static void copy_printable(char *dst, size_t n, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < n && src[i]; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

/* ---- reading message bodies ---- */

/* A bounds-checked cursor over a message body. Once bad, every read fails. */
struct cur {
	const unsigned char *p;
	size_t n;
	int bad;
};

static int get_u8(struct cur *r)
{
	if (r->bad || r->n < 1) {
		r->bad = 1;
		return 0;
	}
	r->n--;
	return *r->p++;
}

static int32_t get_i32(struct cur *r)
{
	uint32_t v;

	if (r->bad || r->n < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return (int32_t)v;
}

static int get_i16(struct cur *r)
{
	uint16_t v;

	if (r->bad || r->n < 2) {
		r->bad = 1;
		return 0;
	}
	v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->n -= 2;
	return (int16_t)v;
}

/* A NUL-terminated string inside the body, or NULL (and bad) when it runs past. */
static const char *get_str(struct cur *r)
{
	const unsigned char *z;
	const char *s;

	if (r->bad || !(z = memchr(r->p, '\0', r->n))) {
		r->bad = 1;
		return NULL;
	}
	s = (const char *)r->p;
	r->n -= (size_t)(z - r->p) + 1;
	r->p = z + 1;
	return s;
}

static const unsigned char *get_bytes(struct cur *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || r->n < n) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->n -= n;
	return p;
}

/* True when the whole body was read and made sense. */
static int cur_done(const struct cur *r)
{
	return !r->bad && r->n == 0;
}

/* ---- building messages ---- */

static void out_reserve(struct pgw_conn *c, size_t n)
{
	unsigned char *p;
	size_t size;

	if (c->outalloc - c->outlen >= n)
		return;
	size = c->outalloc ? c->outalloc : 256;
	while (size - c->outlen < n)
		size *= 2;
	/* Copied by hand, not realloc'ed: the old block may hold a password. */
	p = xmalloc(size);
	if (c->out) {
		memcpy(p, c->out, c->outlen);
		OPENSSL_cleanse(c->out, c->outalloc);
		free(c->out);
	}
	c->out = p;
	c->outalloc = size;
}

static void out_add(struct pgw_conn *c, const void *p, size_t n)
{
	out_reserve(c, n);
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

static void out_i32(struct pgw_conn *c, uint32_t v)
{
	unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};

	out_add(c, b, 4);
}

static void out_i16(struct pgw_conn *c, uint16_t v)
{
	unsigned char b[2] = {v >> 8, v};

	out_add(c, b, 2);
}

static void out_str(struct pgw_conn *c, const char *s)
{
	out_add(c, s, strlen(s) + 1);
}

/* Starts a message; type 0 is the untyped StartupMessage and SSLRequest. */
static void out_begin(struct pgw_conn *c, char type)
{
	if (type)
		out_add(c, &type, 1);
	c->msgstart = c->outlen;
	out_i32(c, 0);
}

/* Fills in the length of the message begun last. */
static void out_end(struct pgw_conn *c)
{
	uint32_t len = (uint32_t)(c->outlen - c->msgstart);

	c->out[c->msgstart] = len >> 24;
	c->out[c->msgstart + 1] = len >> 16;
	c->out[c->msgstart + 2] = len >> 8;
	c->out[c->msgstart + 3] = len;
}

/*
 * Frees the output buffer once all of it is written, wiping it first: it may
 * have held a password or a proof. An idle connection has no output buffer.
 */
static void out_clear(struct pgw_conn *c)
{
	if (c->out)
		OPENSSL_cleanse(c->out, c->outlen);
	free(c->out);
	c->out = NULL;
	c->outoff = c->outlen = c->outalloc = 0;
}

/* ---- socket and TLS I/O ---- */

static int sock_bio_write(BIO *b, const char *data, int n)
{
	ssize_t r;

	BIO_clear_retry_flags(b);
	r = send((int)(intptr_t)BIO_get_data(b), data, (size_t)n, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)r;
}

static int sock_bio_read(BIO *b, char *data, int n)
{
	ssize_t r;

	BIO_clear_retry_flags(b);
	r = recv((int)(intptr_t)BIO_get_data(b), data, (size_t)n, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long sock_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH;
}

static BIO_METHOD *sock_method;
static pthread_once_t sock_method_once = PTHREAD_ONCE_INIT;

static void sock_method_init(void)
{
	sock_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pgwire socket");
	if (!sock_method || !BIO_meth_set_write(sock_method, sock_bio_write) ||
	    !BIO_meth_set_read(sock_method, sock_bio_read) ||
	    !BIO_meth_set_ctrl(sock_method, sock_bio_ctrl))
		BUG("cannot create the pgwire BIO method");
}

/* After an SSL call returned failure: 0 with c->want set, or -1 having failed c. */
static int ssl_wait_or_fail(struct pgw_conn *c, int ret, enum pgw_fail why, const char *what)
{
	int e = SSL_get_error(c->ssl, ret);

	if (e == SSL_ERROR_WANT_READ) {
		c->want = PGW_WANT_READ;
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		c->want = PGW_WANT_WRITE;
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN)
		return fail(c, why, "server closed the connection");
	if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		return fail(c, why, "%s: %s", what, errno ? strerror(errno) : "connection closed");
	return fail(c, why, "%s: %s", what, ssl_reason());
}

/* Bytes read (> 0); 0 when the read would block (c->want says which way); -1 failed. */
static ssize_t io_read(struct pgw_conn *c, void *buf, size_t n)
{
	ssize_t r;
	size_t got;
	int ret;

	if (c->ssl) {
		ERR_clear_error();
		ret = SSL_read_ex(c->ssl, buf, n, &got);
		if (ret == 1)
			return (ssize_t)got;
		return ssl_wait_or_fail(c, ret, PGW_FAIL_CONNECT, "tls read");
	}
	do
		r = recv(c->fd, buf, n, 0);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return r;
	if (r == 0)
		return fail(c, PGW_FAIL_CONNECT, "server closed the connection");
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->want = PGW_WANT_READ;
		return 0;
	}
	return fail(c, PGW_FAIL_CONNECT, "read: %s", strerror(errno));
}

/* Writes the output buffer: 0 when all is written, a PGW_WANT_* to wait, -1 failed. */
static int flush_out(struct pgw_conn *c)
{
	ssize_t r;
	size_t done;
	int ret;

	while (c->outoff < c->outlen) {
		if (c->ssl) {
			ERR_clear_error();
			ret = SSL_write_ex(c->ssl, c->out + c->outoff, c->outlen - c->outoff,
					   &done);
			if (ret != 1) {
				if (ssl_wait_or_fail(c, ret, PGW_FAIL_CONNECT, "tls write") < 0)
					return -1;
				return c->want;
			}
			c->outoff += done;
			continue;
		}
		r = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (r >= 0) {
			c->outoff += (size_t)r;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return PGW_WANT_WRITE;
		} else if (errno != EINTR) {
			return fail(c, PGW_FAIL_CONNECT, "write: %s", strerror(errno));
		}
	}
	out_clear(c);
	return 0;
}

/* ---- caches ---- */

struct scram_entry {
	unsigned char id[SCRAM_KEY]; /* SHA-256 of (iterations, salt, password) */
	unsigned char client_key[SCRAM_KEY];
	unsigned char server_key[SCRAM_KEY];
	unsigned long used; /* 0: empty */
};

static pthread_mutex_t scram_lock = PTHREAD_MUTEX_INITIALIZER;
static struct scram_entry scram_cache[PGW_SCRAM_CACHE_SIZE];
static unsigned long scram_tick;
static long scram_hits, scram_misses;

void pgw_cache_stats(long *hits, long *misses)
{
	pthread_mutex_lock(&scram_lock);
	if (hits)
		*hits = scram_hits;
	if (misses)
		*misses = scram_misses;
	pthread_mutex_unlock(&scram_lock);
}

static void scram_id(unsigned char id[SCRAM_KEY], const char *password, const unsigned char *salt,
		     size_t saltlen, int iterations)
{
	static const char tag[] = "pgwire scram cache";
	unsigned char hdr[8] = {iterations >> 24, iterations >> 16, iterations >> 8, iterations,
				saltlen >> 24,	  saltlen >> 16,    saltlen >> 8,    saltlen};
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(md, tag, sizeof(tag)) || !EVP_DigestUpdate(md, hdr, sizeof(hdr)) ||
	    !EVP_DigestUpdate(md, salt, saltlen) ||
	    !EVP_DigestUpdate(md, password, strlen(password)) || !EVP_DigestFinal_ex(md, id, NULL))
		BUG("sha-256 failed");
	EVP_MD_CTX_free(md);
}

static void hmac(const unsigned char *key, size_t keylen, const void *data, size_t n,
		 unsigned char out[SCRAM_KEY])
{
	unsigned int len = SCRAM_KEY;

	if (!HMAC(EVP_sha256(), key, (int)keylen, data, n, out, &len) || len != SCRAM_KEY)
		BUG("hmac-sha-256 failed");
}

/* The ClientKey and ServerKey for (password, salt, iterations): cached, or derived and cached. */
static void scram_keys(const char *password, const unsigned char *salt, size_t saltlen,
		       int iterations, unsigned char client_key[SCRAM_KEY],
		       unsigned char server_key[SCRAM_KEY])
{
	unsigned char id[SCRAM_KEY], salted[SCRAM_KEY];
	struct scram_entry *e, *victim = &scram_cache[0];
	size_t i;

	scram_id(id, password, salt, saltlen, iterations);
	pthread_mutex_lock(&scram_lock);
	for (i = 0; i < PGW_SCRAM_CACHE_SIZE; i++) {
		e = &scram_cache[i];
		if (e->used && !CRYPTO_memcmp(e->id, id, SCRAM_KEY)) {
			e->used = ++scram_tick;
			memcpy(client_key, e->client_key, SCRAM_KEY);
			memcpy(server_key, e->server_key, SCRAM_KEY);
			scram_hits++;
			pthread_mutex_unlock(&scram_lock);
			return;
		}
	}
	scram_misses++;
	pthread_mutex_unlock(&scram_lock);

	/* Derived outside the lock: it takes milliseconds. */
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen, iterations,
			       EVP_sha256(), SCRAM_KEY, salted))
		BUG("pbkdf2 failed");
	hmac(salted, SCRAM_KEY, "Client Key", 10, client_key);
	hmac(salted, SCRAM_KEY, "Server Key", 10, server_key);
	OPENSSL_cleanse(salted, sizeof(salted));

	pthread_mutex_lock(&scram_lock);
	for (i = 0; i < PGW_SCRAM_CACHE_SIZE; i++) {
		e = &scram_cache[i];
		if (e->used && !CRYPTO_memcmp(e->id, id, SCRAM_KEY)) {
			victim = NULL; /* another thread got there first */
			break;
		}
		if (e->used < victim->used)
			victim = e;
	}
	if (victim) {
		OPENSSL_cleanse(victim, sizeof(*victim));
		memcpy(victim->id, id, SCRAM_KEY);
		memcpy(victim->client_key, client_key, SCRAM_KEY);
		memcpy(victim->server_key, server_key, SCRAM_KEY);
		victim->used = ++scram_tick;
	}
	pthread_mutex_unlock(&scram_lock);
}

struct ctx_entry {
	SSL_CTX *ctx; /* NULL: empty */
	int verify;
	char *path;
	struct stat st; /* of path, when set */
	unsigned long used;
};

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ctx_entry ctx_cache[SSL_CTX_ENTRIES];
static unsigned long ctx_tick;

static int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * A TLS context for (verify, path), with a reference the caller drops with
 * SSL_CTX_free; NULL with c failed (TLS) when the CA file cannot be used.
 */
static SSL_CTX *ctx_get(struct pgw_conn *c, int verify, const char *path)
{
	struct ctx_entry *e, *victim = &ctx_cache[0];
	struct stat st;
	SSL_CTX *ctx;
	size_t i;

	memset(&st, 0, sizeof(st));
	if (path && stat(path, &st) != 0) {
		fail(c, PGW_FAIL_TLS, "cannot read root certificate file: %s", strerror(errno));
		return NULL;
	}
	pthread_mutex_lock(&ctx_lock);
	for (i = 0; i < SSL_CTX_ENTRIES; i++) {
		e = &ctx_cache[i];
		if (e->ctx && e->verify == verify && !e->path == !path &&
		    (!path || (!strcmp(e->path, path) && same_file(&e->st, &st)))) {
			e->used = ++ctx_tick;
			SSL_CTX_up_ref(e->ctx);
			pthread_mutex_unlock(&ctx_lock);
			return e->ctx;
		}
	}
	pthread_mutex_unlock(&ctx_lock);

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		fail(c, PGW_FAIL_TLS, "cannot create a tls context: %s", ssl_reason());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (verify) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (path ? SSL_CTX_load_verify_locations(ctx, path, NULL) != 1
			 : SSL_CTX_set_default_verify_paths(ctx) != 1) {
			fail(c, PGW_FAIL_TLS, "cannot load root certificates: %s", ssl_reason());
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}

	pthread_mutex_lock(&ctx_lock);
	for (i = 0; i < SSL_CTX_ENTRIES; i++) {
		e = &ctx_cache[i];
		if (!e->ctx || e->used < victim->used)
			victim = e;
		if (!e->ctx)
			break;
	}
	/* Connections using the evicted context hold their own references. */
	SSL_CTX_free(victim->ctx);
	free(victim->path);
	victim->ctx = ctx;
	victim->verify = verify;
	victim->path = path ? xstrdup(path) : NULL;
	victim->st = st;
	victim->used = ++ctx_tick;
	SSL_CTX_up_ref(ctx);
	pthread_mutex_unlock(&ctx_lock);
	return ctx;
}

/* ---- base64 ---- */

static char *b64_encode(const unsigned char *p, size_t n)
{
	char *s = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* The base64 of s[0..n) decoded into out (room for max bytes): its length, or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t max)
{
	char *in, *dec;
	size_t len;
	long r = -1;

	if (n == 0)
		return -1;
	in = xstrndup(s, n);
	if (base_base64_decode(in, &dec, &len) == 0) {
		if (len <= max) {
			memcpy(out, dec, len);
			r = (long)len;
		}
		base_memzero(dec, len);
		free(dec);
	}
	free(in);
	return r;
}

/* ---- authentication ---- */

/* No password leaves us on a connection whose requested certificate check did not pass. */
static int may_send_password(struct pgw_conn *c)
{
	struct login *l = c->login;

	if (!l->password)
		return fail(c, PGW_FAIL_AUTH, "the server asked for a password and none is set");
	if (l->verify_chain && l->mode >= SSLM_REQUIRE && !l->verified)
		return fail(c, PGW_FAIL_TLS, "the server certificate was not verified");
	return 0;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* 0, or -1 when MD5 is not available (an OpenSSL in FIPS mode has none). */
static int md5(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[16])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestInit_ex(md, EVP_md5(), NULL) && EVP_DigestUpdate(md, a, alen) &&
		 EVP_DigestUpdate(md, b, blen) && EVP_DigestFinal_ex(md, out, NULL);

	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* md5(md5(password + user) as hex + salt) as hex, with "md5" in front. */
static int send_md5(struct pgw_conn *c, const unsigned char salt[4])
{
	struct login *l = c->login;
	unsigned char d[16];
	char inner[33], outer[36];

	if (md5(l->password, strlen(l->password), l->user, strlen(l->user), d) < 0)
		return fail(c, PGW_FAIL_AUTH, "md5 password authentication is not available");
	hex(d, 16, inner);
	md5(inner, 32, salt, 4, d);
	memcpy(outer, "md5", 3);
	hex(d, 16, outer + 3);
	out_begin(c, 'p');
	out_str(c, outer);
	out_end(c);
	OPENSSL_cleanse(d, sizeof(d));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(outer, sizeof(outer));
	return 0;
}

static int scram_start(struct pgw_conn *c, struct cur *r)
{
	struct login *l = c->login;
	unsigned char raw[NONCE_BYTES];
	const char *mech;
	int offered = 0;
	char first[64];
	int n;

	while ((mech = get_str(r)) && *mech)
		if (!strcmp(mech, SCRAM_MECH))
			offered = 1;
	if (!cur_done(r))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SASL mechanism list");
	if (!offered)
		return fail(c, PGW_FAIL_AUTH, "the server does not offer SCRAM-SHA-256");
	if (l->scram != SCRAM_NONE)
		return fail(c, PGW_FAIL_PROTOCOL, "a second SASL exchange");
	if (may_send_password(c) < 0)
		return -1;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return fail(c, PGW_FAIL_AUTH, "no random bytes for the SCRAM nonce");
	EVP_EncodeBlock((unsigned char *)l->nonce, raw, sizeof(raw));
	n = snprintf(first, sizeof(first), "n,,n=,r=%s", l->nonce);
	out_begin(c, 'p');
	out_str(c, SCRAM_MECH);
	out_i32(c, (uint32_t)n);
	out_add(c, first, (size_t)n);
	out_end(c);
	l->scram = SCRAM_SENT_FIRST;
	return 0;
}

/* Parses "i=" digits: 1..SCRAM_MAX_ITER, else -1. */
static int parse_iterations(const char *s, size_t n)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 7 || s[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= SCRAM_MAX_ITER ? (int)v : -1;
}

/*
 * server-first-message = "r=" nonce ",s=" salt ",i=" iterations ["," extensions].
 * Answers with client-final-message and keeps the ServerSignature to expect.
 */
static int scram_continue(struct pgw_conn *c, const unsigned char *data, size_t n)
{
	struct login *l = c->login;
	unsigned char salt[SCRAM_MAX_SALT], ck[SCRAM_KEY], sk[SCRAM_KEY], stored[SCRAM_KEY];
	unsigned char sig[SCRAM_KEY], proof[SCRAM_KEY];
	const char *msg = (const char *)data, *end = msg + n, *nonce, *s, *it, *p;
	size_t noncelen, nlen = strlen(l->nonce), amlen, i;
	char *auth_msg, *b64;
	long saltlen;
	int iterations, flen;

	if (l->scram != SCRAM_SENT_FIRST)
		return fail(c, PGW_FAIL_PROTOCOL, "unexpected SASLContinue");
	if (memchr(data, '\0', n) || n < 2 || memcmp(msg, "r=", 2))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server-first-message");
	nonce = msg + 2;
	for (p = nonce; p < end && *p != ','; p++)
		if (*p < 0x21 || *p > 0x7e)
			return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server nonce");
	noncelen = (size_t)(p - nonce);
	if (noncelen <= nlen || memcmp(nonce, l->nonce, nlen))
		return fail(c, PGW_FAIL_PROTOCOL, "SCRAM server nonce does not extend ours");
	if (end - p < 3 || memcmp(p, ",s=", 3))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server-first-message");
	s = p + 3;
	p = memchr(s, ',', (size_t)(end - s));
	if (!p)
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server-first-message");
	saltlen = b64_decode(s, (size_t)(p - s), salt, sizeof(salt));
	if (saltlen <= 0)
		return fail(c, PGW_FAIL_PROTOCOL, "invalid SCRAM salt");
	if (end - p < 3 || memcmp(p, ",i=", 3))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server-first-message");
	it = p + 3;
	p = memchr(it, ',', (size_t)(end - it));
	iterations = parse_iterations(it, (size_t)((p ? p : end) - it));
	if (iterations < 0)
		return fail(c, PGW_FAIL_PROTOCOL, "invalid SCRAM iteration count");

	scram_keys(l->password, salt, (size_t)saltlen, iterations, ck, sk);

	/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
	flen = (int)noncelen + 9; /* "c=biws,r=" nonce */
	amlen = 5 + nlen + 1 + n + 1 + (size_t)flen;
	auth_msg = xmalloc(amlen + 1);
	snprintf(auth_msg, amlen + 1, "n=,r=%s,%.*s,c=biws,r=%.*s", l->nonce, (int)n, msg,
		 (int)noncelen, nonce);
	SHA256(ck, SCRAM_KEY, stored);
	hmac(stored, SCRAM_KEY, auth_msg, amlen, sig);
	for (i = 0; i < SCRAM_KEY; i++)
		proof[i] = ck[i] ^ sig[i];
	hmac(sk, SCRAM_KEY, auth_msg, amlen, l->server_sig);
	b64 = b64_encode(proof, SCRAM_KEY);

	out_begin(c, 'p');
	out_add(c, auth_msg + amlen - (size_t)flen, (size_t)flen);
	out_add(c, ",p=", 3);
	out_add(c, b64, strlen(b64));
	out_end(c);
	l->scram = SCRAM_SENT_FINAL;

	OPENSSL_cleanse(ck, sizeof(ck));
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(stored, sizeof(stored));
	OPENSSL_cleanse(sig, sizeof(sig));
	OPENSSL_cleanse(proof, sizeof(proof));
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
	free(auth_msg);
	return 0;
}

/* server-final-message = "v=" ServerSignature ["," extensions] / "e=" error */
static int scram_final(struct pgw_conn *c, const unsigned char *data, size_t n)
{
	struct login *l = c->login;
	const char *msg = (const char *)data, *comma;
	unsigned char got[SCRAM_KEY + 3];
	char reason[64];

	if (l->scram != SCRAM_SENT_FINAL)
		return fail(c, PGW_FAIL_PROTOCOL, "unexpected SASLFinal");
	if (memchr(data, '\0', n) || n < 2)
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server-final-message");
	if (!memcmp(msg, "e=", 2)) {
		snprintf(reason, sizeof(reason), "%.*s", (int)(n - 2 < 40 ? n - 2 : 40), msg + 2);
		copy_printable(reason, sizeof(reason), reason);
		return fail(c, PGW_FAIL_AUTH, "SCRAM failed on the server: %s", reason);
	}
	if (memcmp(msg, "v=", 2))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server-final-message");
	comma = memchr(msg, ',', n);
	if (b64_decode(msg + 2, (size_t)((comma ? comma : msg + n) - msg - 2), got, sizeof(got)) !=
	    SCRAM_KEY)
		return fail(c, PGW_FAIL_PROTOCOL, "malformed SCRAM server signature");
	if (CRYPTO_memcmp(got, l->server_sig, SCRAM_KEY))
		return fail(c, PGW_FAIL_AUTH, "the server's SCRAM signature is wrong");
	l->scram = SCRAM_VERIFIED;
	return 0;
}

static int handle_auth(struct pgw_conn *c, struct cur *r)
{
	struct login *l = c->login;
	const unsigned char *salt;
	int32_t code = get_i32(r);

	if (r->bad)
		return fail(c, PGW_FAIL_PROTOCOL, "malformed authentication request");
	if (l->auth_ok)
		return fail(c, PGW_FAIL_PROTOCOL, "authentication request after AuthenticationOk");
	switch (code) {
	case 0:
		if (!cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "malformed AuthenticationOk");
		if (l->scram != SCRAM_NONE && l->scram != SCRAM_VERIFIED)
			return fail(c, PGW_FAIL_AUTH, "the server skipped SCRAM's proof");
		l->auth_ok = 1;
		return 0;
	case 3:
		if (!cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "malformed password request");
		if (l->scram != SCRAM_NONE)
			return fail(c, PGW_FAIL_PROTOCOL, "password request during SASL");
		if (may_send_password(c) < 0)
			return -1;
		out_begin(c, 'p');
		out_str(c, l->password);
		out_end(c);
		return 0;
	case 5:
		salt = get_bytes(r, 4);
		if (!cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "malformed MD5 password request");
		if (l->scram != SCRAM_NONE)
			return fail(c, PGW_FAIL_PROTOCOL, "password request during SASL");
		if (may_send_password(c) < 0)
			return -1;
		return send_md5(c, salt);
	case 10:
		return scram_start(c, r);
	case 11:
		return scram_continue(c, r->p, r->n);
	case 12:
		return scram_final(c, r->p, r->n);
	default:
		return fail(c, PGW_FAIL_AUTH, "unsupported authentication method %d", (int)code);
	}
}

/* ---- messages ---- */

/* Error and notice fields; the SQLSTATE (when valid) into state, the message into msg. */
static int parse_fields(struct cur *r, char state[6], const char **msg)
{
	const char *v;
	int t;

	state[0] = '\0';
	if (msg)
		*msg = "";
	while ((t = get_u8(r)) != 0) {
		v = get_str(r);
		if (!v)
			return -1;
		if (t == 'C' && strlen(v) == 5 &&
		    strspn(v, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
			memcpy(state, v, 6);
		else if (t == 'M' && msg)
			*msg = v;
	}
	return cur_done(r) ? 0 : -1;
}

/* Classes of a startup ErrorResponse's SQLSTATE. */
static enum pgw_fail classify_startup(const char *s)
{
	if (!strncmp(s, "28", 2) || !strcmp(s, "3D000") || !strcmp(s, "42501"))
		return PGW_FAIL_AUTH;
	if (!strncmp(s, "53", 2) || !strcmp(s, "57P01") || !strcmp(s, "57P02") ||
	    !strcmp(s, "57P03"))
		return PGW_FAIL_UNAVAILABLE;
	return PGW_FAIL_CONNECT;
}

/* Messages that may arrive in any phase and carry nothing we keep. */
static int handle_async(struct pgw_conn *c, char type, struct cur *r)
{
	char state[6];

	switch (type) {
	case 'N':
		if (parse_fields(r, state, NULL) < 0)
			return fail(c, PGW_FAIL_PROTOCOL, "malformed NoticeResponse");
		return 0;
	case 'S':
		get_str(r);
		get_str(r);
		if (!cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "malformed ParameterStatus");
		return 0;
	case 'A':
		get_i32(r);
		get_str(r);
		get_str(r);
		if (!cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "malformed NotificationResponse");
		return 0;
	default:
		return fail(c, PGW_FAIL_PROTOCOL, "unexpected message type 0x%02x",
			    (unsigned char)type);
	}
}

static int ready_for_query(struct pgw_conn *c, struct cur *r)
{
	int s = get_u8(r);

	if (!cur_done(r) || (s != 'I' && s != 'T' && s != 'E'))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed ReadyForQuery");
	if (c->outoff < c->outlen)
		return fail(c, PGW_FAIL_PROTOCOL, "ReadyForQuery before our message was sent");
	c->txn = (char)s;
	return 1;
}

static int handle_startup(struct pgw_conn *c, char type, struct cur *r)
{
	struct login *l = c->login;
	const char *msg;
	char text[96];
	int32_t minor, n, i;

	switch (type) {
	case 'R':
		return handle_auth(c, r);
	case 'E':
		if (parse_fields(r, c->sqlstate, &msg) < 0)
			return fail(c, PGW_FAIL_PROTOCOL, "malformed ErrorResponse");
		copy_printable(text, sizeof(text), msg);
		return fail(c, classify_startup(c->sqlstate), "server error %s: %s",
			    c->sqlstate[0] ? c->sqlstate : "(none)", text);
	case 'v':
		minor = get_i32(r);
		n = get_i32(r);
		for (i = 0; i < n && !r->bad; i++)
			get_str(r);
		if (n < 0 || !cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "malformed NegotiateProtocolVersion");
		/*
		 * We ask for 3.0 and send no protocol options, so a server that
		 * still speaks 3.0 can only be dropping options it does not know.
		 */
		if (minor < 0)
			return fail(c, PGW_FAIL_PROTOCOL, "the server does not speak protocol 3.0");
		return 0;
	case 'K':
		get_i32(r);
		get_i32(r);
		if (!l->auth_ok || !cur_done(r))
			return fail(c, PGW_FAIL_PROTOCOL, "unexpected BackendKeyData");
		return 0;
	case 'Z':
		if (!l->auth_ok)
			return fail(c, PGW_FAIL_PROTOCOL, "ReadyForQuery before authentication");
		return ready_for_query(c, r);
	case 'N':
		return handle_async(c, type, r);
	case 'S':
		if (!l->auth_ok)
			return fail(c, PGW_FAIL_PROTOCOL, "ParameterStatus before authentication");
		return handle_async(c, type, r);
	default:
		return fail(c, PGW_FAIL_PROTOCOL, "unexpected message type 0x%02x during startup",
			    (unsigned char)type);
	}
}

/* The first DataRow: its column count and first two values are kept. */
static int data_row(struct pgw_conn *c, struct cur *r)
{
	const unsigned char *v[2] = {NULL, NULL};
	int32_t vlen[2] = {-1, -1};
	int n = get_i16(r), i;
	int32_t len;
	size_t off;

	if (n < 0)
		return fail(c, PGW_FAIL_PROTOCOL, "malformed DataRow");
	for (i = 0; i < n; i++) {
		len = get_i32(r);
		if (len < -1 || r->bad)
			return fail(c, PGW_FAIL_PROTOCOL, "malformed DataRow");
		if (len == -1)
			continue;
		if (i < 2) {
			v[i] = get_bytes(r, (size_t)len);
			vlen[i] = len;
		} else {
			get_bytes(r, (size_t)len);
		}
	}
	if (!cur_done(r))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed DataRow");
	c->res.ntuples++;
	if (c->row_seen)
		return 0;
	c->row_seen = 1;
	c->res.nfields = n;
	c->valsize = (size_t)(vlen[0] + 1) + (size_t)(vlen[1] + 1);
	if (c->valsize == 0)
		return 0;
	c->vals = xmalloc(c->valsize);
	for (i = 0, off = 0; i < 2; i++) {
		if (vlen[i] < 0)
			continue;
		memcpy(c->vals + off, v[i], (size_t)vlen[i]);
		c->vals[off + (size_t)vlen[i]] = '\0';
		c->res.value[i] = c->vals + off;
		off += (size_t)vlen[i] + 1;
	}
	return 0;
}

static int row_description(struct pgw_conn *c, struct cur *r)
{
	int n = get_i16(r), i;

	for (i = 0; i < n && !r->bad; i++) {
		get_str(r);
		get_bytes(r, 4 + 2 + 4 + 2 + 4 + 2);
	}
	if (n < 0 || !cur_done(r))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed RowDescription");
	return 0;
}

static int handle_query(struct pgw_conn *c, char type, struct cur *r)
{
	char state[6];
	int n, i;

	switch (type) {
	case 'D':
		return data_row(c, r);
	case 'T':
		return row_description(c, r);
	case 'C':
		get_str(r);
		break;
	case 'E':
		if (parse_fields(r, state, NULL) < 0)
			return fail(c, PGW_FAIL_PROTOCOL, "malformed ErrorResponse");
		if (!c->res.failed)
			memcpy(c->res.sqlstate, state, sizeof(state));
		c->res.failed = 1;
		return 0;
	case 't':
		n = get_i16(r);
		for (i = 0; i < n && !r->bad; i++)
			get_i32(r);
		if (n < 0)
			r->bad = 1;
		break;
	case 'I': /* EmptyQueryResponse */
	case '1': /* ParseComplete */
	case '2': /* BindComplete */
	case '3': /* CloseComplete */
	case 'n': /* NoData */
	case 's': /* PortalSuspended */
		break;
	case 'Z':
		return ready_for_query(c, r);
	default:
		return handle_async(c, type, r);
	}
	if (!cur_done(r))
		return fail(c, PGW_FAIL_PROTOCOL, "malformed message of type 0x%02x",
			    (unsigned char)type);
	return 0;
}

static int handle_idle(struct pgw_conn *c, char type, struct cur *r)
{
	char state[6];
	const char *msg;
	char text[96];

	if (type != 'E')
		return handle_async(c, type, r);
	/* A FATAL error (admin shutdown, idle timeout) before the server hangs up. */
	if (parse_fields(r, state, &msg) < 0)
		return fail(c, PGW_FAIL_PROTOCOL, "malformed ErrorResponse");
	copy_printable(text, sizeof(text), msg);
	return fail(c, PGW_FAIL_CONNECT, "server error %s while idle: %s",
		    state[0] ? state : "(none)", text);
}

/* A message over the cap: fine to skip, or a protocol violation. */
static int skippable(struct pgw_conn *c, enum phase ph, char type)
{
	if (type == 'N' || type == 'S' || type == 'A')
		return 1;
	if (ph != PH_QUERY || (type != 'D' && type != 'T'))
		return 0;
	if (type == 'D') {
		c->res.ntuples++;
		if (!c->row_seen)
			c->res.oversized = 1;
		c->row_seen = 1;
	}
	return 1;
}

/* Moves the unread input to the start of a new buffer of size bytes (>= unread). */
static void in_realloc(struct pgw_conn *c, size_t size)
{
	size_t unread = c->inlen - c->inoff;
	unsigned char *p = xmalloc(size);

	if (unread)
		memcpy(p, c->in + c->inoff, unread);
	free(c->in);
	c->in = p;
	c->inalloc = size;
	c->inoff = 0;
	c->inlen = unread;
}

/*
 * Makes room for need bytes from in[inoff] (the message at the head), and
 * for at least one more than are unread, moving or growing the buffer.
 */
static void in_make_room(struct pgw_conn *c, size_t need)
{
	size_t unread = c->inlen - c->inoff, size;

	if (need <= unread)
		need = unread + 1;
	if (c->inalloc - c->inoff >= need)
		return;
	if (c->inalloc < need) {
		size = c->inalloc ? c->inalloc : IN_INITIAL;
		while (size < need)
			size *= 2;
		if (size > 5 + PGW_MAX_MESSAGE)
			size = 5 + PGW_MAX_MESSAGE;
		in_realloc(c, size);
		return;
	}
	memmove(c->in, c->in + c->inoff, unread);
	c->inoff = 0;
	c->inlen = unread;
}

/* After an exchange: a buffer that grew large goes back to its small size. */
static void in_shrink(struct pgw_conn *c)
{
	if (c->inalloc > IN_SHRINK && c->inlen - c->inoff <= IN_INITIAL)
		in_realloc(c, IN_INITIAL);
}

/*
 * Reads and handles messages until a ReadyForQuery (1), until the socket has
 * no more for now (0, c->want set) or a startup message was answered (0, with
 * output queued), or until c fails (-1).
 */
static int read_messages(struct pgw_conn *c, enum phase ph)
{
	unsigned char *h;
	uint32_t len;
	size_t avail, need, n;
	struct cur r;
	ssize_t got;
	int rc;

	for (;;) {
		need = 5;
		while (c->st != ST_FAILED) {
			avail = c->inlen - c->inoff;
			if (c->skip) {
				n = avail < c->skip ? avail : c->skip;
				c->inoff += n;
				c->skip -= n;
				if (c->skip)
					break;
				continue;
			}
			if (avail < 5)
				break;
			h = c->in + c->inoff;
			len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 |
			      h[4];
			if (len < 4 || len > INT32_MAX)
				return fail(c, PGW_FAIL_PROTOCOL, "invalid message length %u", len);
			if (len - 4 > PGW_MAX_MESSAGE) {
				if (!skippable(c, ph, (char)h[0]))
					return fail(c, PGW_FAIL_PROTOCOL,
						    "message of type 0x%02x over the size cap",
						    h[0]);
				c->inoff += 5;
				c->skip = len - 4;
				continue;
			}
			if (avail < 1 + (size_t)len) {
				need = 1 + (size_t)len;
				break;
			}
			r = (struct cur){h + 5, len - 4, 0};
			c->inoff += 1 + (size_t)len;
			rc = ph == PH_STARTUP ? handle_startup(c, (char)h[0], &r)
			     : ph == PH_QUERY ? handle_query(c, (char)h[0], &r)
					      : handle_idle(c, (char)h[0], &r);
			if (rc)
				return rc;
			/* An auth answer goes out before anything after its request is read. */
			if (ph == PH_STARTUP && c->outoff < c->outlen)
				return 0;
		}
		if (c->st == ST_FAILED)
			return -1;
		if (c->inoff == c->inlen)
			c->inoff = c->inlen = 0;
		in_make_room(c, need);
		got = io_read(c, c->in + c->inlen, c->inalloc - c->inlen);
		if (got <= 0)
			return got < 0 ? -1 : 0;
		c->inlen += (size_t)got;
	}
}

/* ---- connection lifecycle ---- */

static void login_free(struct login *l)
{
	if (!l)
		return;
	free(l->user);
	free(l->dbname);
	if (l->password) {
		OPENSSL_cleanse(l->password, strlen(l->password));
		free(l->password);
	}
	free(l->appname);
	free(l->name);
	free(l->rootcert);
	OPENSSL_cleanse(l, sizeof(*l));
	free(l);
}

static int parse_sslmode(const char *s, enum sslmode *m)
{
	static const char *const names[] = {"disable", "allow",	    "prefer",
					    "require", "verify-ca", "verify-full"};
	size_t i;

	if (!s) {
		*m = SSLM_REQUIRE;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcmp(s, names[i])) {
			*m = (enum sslmode)i;
			return 0;
		}
	}
	return -1;
}

static int too_long(const char *s)
{
	return s && strnlen(s, MAX_OPTION + 1) > MAX_OPTION;
}

static int is_ip_literal(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* Checks o and makes a connection in ST_CONNECTING with fd -1; NULL on bad options. */
static struct pgw_conn *conn_new(const struct pgw_options *o)
{
	const char *addr = o->hostaddr && *o->hostaddr ? o->hostaddr : o->host;
	const char *name = o->host && *o->host ? o->host : addr;
	struct pgw_conn *c;
	struct login *l;
	enum sslmode mode;

	if (!o->user || !*o->user || !addr || !*addr || o->port < 1 || o->port > 65535 ||
	    parse_sslmode(o->sslmode, &mode) < 0 || too_long(o->host) || too_long(o->hostaddr) ||
	    too_long(o->dbname) || too_long(o->user) || too_long(o->password) ||
	    too_long(o->sslrootcert) || too_long(o->application_name))
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->fd = -1;
	c->st = ST_CONNECTING;
	c->login = l = xcalloc(1, sizeof(*l));
	l->user = xstrdup(o->user);
	l->dbname = xstrdup(o->dbname && *o->dbname ? o->dbname : o->user);
	l->password = o->password ? xstrdup(o->password) : NULL;
	l->appname = dup_or_null(o->application_name);
	l->name = xstrdup(name);
	l->mode = mode;
	if (o->sslrootcert && *o->sslrootcert && strcmp(o->sslrootcert, "system"))
		l->rootcert = xstrdup(o->sslrootcert);
	/* A named CA file turns prefer and require into verify-ca, as in libpq. */
	l->verify_chain = mode >= SSLM_VERIFY_CA || (mode >= SSLM_PREFER && l->rootcert);
	l->verify_name = mode == SSLM_VERIFY_FULL;
	return c;
}

int pgw_connect_start(const struct pgw_options *o, struct pgw_conn **out)
{
	const char *addr = o->hostaddr && *o->hostaddr ? o->hostaddr : o->host;
	struct sockaddr_storage ss;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct pgw_conn *c;
	socklen_t sl;
	int one = 1;

	*out = NULL;
	memset(&ss, 0, sizeof(ss));
	if (addr && inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)o->port);
		sl = sizeof(*in4);
	} else if (addr && inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)o->port);
		sl = sizeof(*in6);
	} else {
		return BASE_EINVAL;
	}
	c = conn_new(o);
	if (!c)
		return BASE_EINVAL;
	*out = c;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		fail(c, PGW_FAIL_CONNECT, "socket: %s", strerror(errno));
		return 0;
	}
	/* Probe messages are small and each waits for its answer. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS)
		fail(c, PGW_FAIL_CONNECT, "connect: %s", strerror(errno));
	return 0;
}

int pgw_connect_fd(const struct pgw_options *o, int fd, struct pgw_conn **out)
{
	struct pgw_conn *c;
	int fl;

	*out = NULL;
	c = conn_new(o);
	if (!c) {
		close(fd);
		return BASE_EINVAL;
	}
	c->fd = fd;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fail(c, PGW_FAIL_CONNECT, "fcntl: %s", strerror(errno));
	*out = c;
	return 0;
}

int pgw_socket(const struct pgw_conn *c)
{
	return c->fd;
}

static void queue_startup(struct pgw_conn *c)
{
	struct login *l = c->login;

	out_begin(c, 0);
	out_i32(c, PROTOCOL_3_0);
	out_str(c, "user");
	out_str(c, l->user);
	out_str(c, "database");
	out_str(c, l->dbname);
	if (l->appname) {
		out_str(c, "application_name");
		out_str(c, l->appname);
	}
	out_str(c, "client_encoding");
	out_str(c, "UTF8");
	out_add(c, "", 1);
	out_end(c);
	c->st = ST_STARTUP;
}

/* 0 connected, 1 still connecting, -1 failed. */
static int check_connected(struct pgw_conn *c)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
	socklen_t sl = sizeof(int);
	int err = 0;

	int rc = poll(&pfd, 1, 0);

	if (rc == 0 || (rc < 0 && errno == EINTR))
		return 1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) != 0)
		err = errno;
	if (err)
		return fail(c, PGW_FAIL_CONNECT, "connect: %s", strerror(err));
	return 0;
}

/* The certificate names the host (verify-full): see pgwire.h for the rules. */
static int check_name(struct pgw_conn *c)
{
	const char *name = c->login->name;
	X509 *cert = SSL_get0_peer_certificate(c->ssl);
	GENERAL_NAMES *sans;
	int i, has_ip_san = 0, ok;

	if (!cert)
		return fail(c, PGW_FAIL_TLS, "the server sent no certificate");
	if (is_ip_literal(name)) {
		if (X509_check_ip_asc(cert, name, 0) == 1)
			return 0;
		sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
		for (i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++)
			if (sk_GENERAL_NAME_value(sans, i)->type == GEN_IPADD)
				has_ip_san = 1;
		GENERAL_NAMES_free(sans);
		/* No iPAddress SAN: compare the text with dNSName SANs, or the CN without them. */
		ok = !has_ip_san && X509_check_host(cert, name, strlen(name), 0, NULL) == 1;
	} else {
		ok = X509_check_host(cert, name, strlen(name), 0, NULL) == 1;
	}
	ERR_clear_error();
	if (!ok)
		return fail(c, PGW_FAIL_TLS, "the server certificate does not name %s", name);
	return 0;
}

static int tls_begin(struct pgw_conn *c)
{
	struct login *l = c->login;
	SSL_CTX *ctx;
	BIO *bio;

	pthread_once(&sock_method_once, sock_method_init);
	ctx = ctx_get(c, l->verify_chain, l->rootcert);
	if (!ctx)
		return -1;
	ERR_clear_error();
	c->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	bio = c->ssl ? BIO_new(sock_method) : NULL;
	if (!bio)
		return fail(c, PGW_FAIL_TLS, "cannot create a tls session: %s", ssl_reason());
	BIO_set_data(bio, (void *)(intptr_t)c->fd);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_connect_state(c->ssl);
	if (!is_ip_literal(l->name) && SSL_set_tlsext_host_name(c->ssl, l->name) != 1)
		return fail(c, PGW_FAIL_TLS, "cannot set the tls server name: %s", ssl_reason());
	c->st = ST_TLS;
	return 0;
}

/* 0 when the handshake and the checks are done, a PGW_WANT_* to wait, -1 failed. */
static int tls_handshake(struct pgw_conn *c)
{
	struct login *l = c->login;
	long vr;
	int ret;

	ERR_clear_error();
	ret = SSL_connect(c->ssl);
	if (ret != 1) {
		vr = SSL_get_verify_result(c->ssl);
		if (l->verify_chain && vr != X509_V_OK) {
			ERR_clear_error();
			return fail(c, PGW_FAIL_TLS, "certificate verify failed: %s",
				    X509_verify_cert_error_string(vr));
		}
		if (ssl_wait_or_fail(c, ret, PGW_FAIL_TLS, "tls handshake") < 0)
			return -1;
		return c->want;
	}
	if (l->verify_name && check_name(c) < 0)
		return -1;
	l->verified = l->verify_chain;
	return 0;
}

enum pgw_io pgw_connect_poll(struct pgw_conn *c)
{
	unsigned char b;
	ssize_t r;
	int rc, w;

	for (;;) {
		switch (c->st) {
		case ST_CONNECTING:
			rc = check_connected(c);
			if (rc)
				return rc > 0 ? PGW_WANT_WRITE : PGW_FAILED;
			if (c->login->mode >= SSLM_PREFER) {
				out_begin(c, 0);
				out_i32(c, SSL_REQUEST);
				out_end(c);
				c->st = ST_SSL_RESPONSE;
			} else {
				queue_startup(c);
			}
			break;
		case ST_SSL_RESPONSE:
			rc = flush_out(c);
			if (rc)
				return rc < 0 ? PGW_FAILED : (enum pgw_io)rc;
			/* One byte, no more: see the top of this file. */
			do
				r = recv(c->fd, &b, 1, 0);
			while (r < 0 && errno == EINTR);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return PGW_WANT_READ;
			if (r <= 0) {
				fail(c, PGW_FAIL_CONNECT, "%s",
				     r ? strerror(errno) : "server closed the connection");
				return PGW_FAILED;
			}
			if (b == 'S') {
				if (tls_begin(c) < 0)
					return PGW_FAILED;
			} else if (b == 'N' && c->login->mode == SSLM_PREFER) {
				queue_startup(c);
			} else if (b == 'N') {
				fail(c, PGW_FAIL_TLS, "the server does not accept TLS connections");
				return PGW_FAILED;
			} else if (b == 'E') {
				fail(c, PGW_FAIL_SERVER,
				     "the server answered SSLRequest with an error");
				return PGW_FAILED;
			} else {
				fail(c, PGW_FAIL_PROTOCOL, "invalid answer to SSLRequest");
				return PGW_FAILED;
			}
			break;
		case ST_TLS:
			rc = tls_handshake(c);
			if (rc)
				return rc < 0 ? PGW_FAILED : (enum pgw_io)rc;
			queue_startup(c);
			break;
		case ST_STARTUP:
			w = flush_out(c);
			if (w < 0)
				return PGW_FAILED;
			rc = read_messages(c, PH_STARTUP);
			if (rc < 0)
				return PGW_FAILED;
			if (rc == 0) {
				/* An auth answer queued by the messages just read goes out now. */
				if (!w && c->outoff < c->outlen)
					continue;
				return (enum pgw_io)(w ? w : c->want);
			}
			c->st = ST_READY;
			login_free(c->login);
			c->login = NULL;
			in_shrink(c);
			return PGW_DONE;
		case ST_READY:
		case ST_BUSY:
			return PGW_DONE;
		case ST_FAILED:
			return PGW_FAILED;
		}
	}
}

static void result_reset(struct pgw_conn *c)
{
	free(c->vals);
	c->vals = NULL;
	c->valsize = 0;
	c->row_seen = 0;
	memset(&c->res, 0, sizeof(c->res));
}

int pgw_send(struct pgw_conn *c, const char *sql, int nparams, const char *const *params)
{
	size_t total;
	int i;

	if (c->st != ST_READY || !sql || nparams < 0 || nparams > 32767 || (nparams && !params))
		return BASE_EINVAL;
	total = strlen(sql);
	for (i = 0; i < nparams; i++)
		total += params[i] ? strlen(params[i]) : 0;
	if (total > PGW_MAX_QUERY)
		return BASE_ETOOBIG;
	result_reset(c);
	if (nparams == 0) {
		out_begin(c, 'Q');
		out_str(c, sql);
		out_end(c);
	} else {
		out_begin(c, 'P');
		out_str(c, "");
		out_str(c, sql);
		out_i16(c, 0);
		out_end(c);
		out_begin(c, 'B');
		out_str(c, "");
		out_str(c, "");
		out_i16(c, 0); /* all parameters in text */
		out_i16(c, (uint16_t)nparams);
		for (i = 0; i < nparams; i++) {
			if (!params[i]) {
				out_i32(c, UINT32_MAX);
				continue;
			}
			out_i32(c, (uint32_t)strlen(params[i]));
			out_add(c, params[i], strlen(params[i]));
		}
		out_i16(c, 0); /* all results in text */
		out_end(c);
		out_begin(c, 'D');
		out_add(c, "P", 2);
		out_end(c);
		out_begin(c, 'E');
		out_str(c, "");
		out_i32(c, 0);
		out_end(c);
		out_begin(c, 'S');
		out_end(c);
	}
	c->st = ST_BUSY;
	return 0;
}

enum pgw_io pgw_query_poll(struct pgw_conn *c)
{
	int w, rc;

	if (c->st != ST_BUSY)
		return c->st == ST_READY ? PGW_DONE : PGW_FAILED;
	w = flush_out(c);
	if (w < 0)
		return PGW_FAILED;
	rc = read_messages(c, PH_QUERY);
	if (rc < 0)
		return PGW_FAILED;
	if (rc == 0)
		return (enum pgw_io)(w ? w : c->want);
	c->st = ST_READY;
	in_shrink(c);
	return PGW_DONE;
}

const struct pgw_result *pgw_result(const struct pgw_conn *c)
{
	return &c->res;
}

int pgw_idle_ok(struct pgw_conn *c)
{
	if (c->st != ST_READY)
		return 0;
	if (read_messages(c, PH_IDLE) != 0)
		return 0;
	in_shrink(c);
	return c->txn == 'I';
}

enum pgw_fail pgw_failure(const struct pgw_conn *c)
{
	return c->st == ST_FAILED ? c->fail : PGW_FAIL_NONE;
}

const char *pgw_error(const struct pgw_conn *c)
{
	return c->err;
}

const char *pgw_sqlstate(const struct pgw_conn *c)
{
	return c->sqlstate;
}

size_t pgw_conn_memory(const struct pgw_conn *c)
{
	const struct login *l = c->login;
	size_t n = sizeof(*c) + c->inalloc + c->outalloc + c->valsize;

	if (l) {
		n += sizeof(*l) + strlen(l->user) + 1 + strlen(l->dbname) + 1 + strlen(l->name) + 1;
		n += l->password ? strlen(l->password) + 1 : 0;
		n += l->appname ? strlen(l->appname) + 1 : 0;
		n += l->rootcert ? strlen(l->rootcert) + 1 : 0;
	}
	return n;
}

void pgw_close(struct pgw_conn *c)
{
	static const unsigned char terminate[5] = {'X', 0, 0, 0, 4};
	size_t done;

	if (!c)
		return;
	if (c->st == ST_READY && c->outoff == c->outlen) {
		if (c->ssl) {
			ERR_clear_error();
			SSL_write_ex(c->ssl, terminate, sizeof(terminate), &done);
			SSL_shutdown(c->ssl);
			ERR_clear_error();
		} else {
			send(c->fd, terminate, sizeof(terminate), MSG_NOSIGNAL | MSG_DONTWAIT);
		}
	}
	SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	login_free(c->login);
	if (c->out)
		OPENSSL_cleanse(c->out, c->outalloc);
	free(c->out);
	free(c->in);
	free(c->vals);
	free(c);
}
