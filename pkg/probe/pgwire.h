/*
 * pgwire.h - a small non-blocking PostgreSQL client (frontend/backend
 * protocol 3.0), sized to what the prober needs.
 *
 * It replaced libpq inside the prober: libpq keeps about 25 KB per idle
 * connection, derives SCRAM keys (4,096 rounds of PBKDF2) again on every
 * login, and brings Kerberos, LDAP and GnuTLS into the process. A connection
 * here keeps its options only until it is logged in; idle, it holds a struct
 * and a 512-byte input buffer, under 1 KB (pgw_conn_memory), plus OpenSSL's
 * objects when it uses TLS (about 22 KB with OpenSSL 3.0: the SSL object,
 * the session and the peer's certificates; the 16 KB record buffers are
 * released while idle).
 *
 * What it speaks:
 *   - startup with user, database, application_name and client_encoding=UTF8;
 *   - authentication: trust, cleartext and MD5 passwords, and SASL
 *     SCRAM-SHA-256 without channel binding (RFC 5802/7677), the server's
 *     signature verified before AuthenticationOk is accepted. Passwords are
 *     used as given: SASLprep leaves ASCII passwords unchanged, so a
 *     non-ASCII password must already be SASLprep-normalised. Kerberos,
 *     GSSAPI and SSPI are refused;
 *   - TLS through OpenSSL after an SSLRequest, as sslmode says (below);
 *   - the simple query protocol, and the extended one with text parameters
 *     and an unnamed statement and portal. Only the first row of a result is
 *     kept, and of it the first two columns: the prober needs no more.
 *
 * sslmode (NULL means require):
 *   disable      no TLS.
 *   allow        no TLS. libpq would retry with TLS when the server refuses
 *                a plaintext session; this module does not.
 *   prefer       SSLRequest; a server that answers 'N' gets a plaintext session.
 *   require      SSLRequest; 'N' fails (PGW_FAIL_TLS). No certificate check,
 *                unless sslrootcert names a file: then as verify-ca (libpq
 *                does the same). Unlike libpq, a named file that cannot be
 *                read fails the connection instead of skipping the check.
 *   verify-ca    the certificate chain must lead to a CA in sslrootcert (a PEM
 *                file), or in the system's default store when sslrootcert is
 *                NULL or "system".
 *   verify-full  verify-ca, and the certificate must name host: an IP literal
 *                matches an iPAddress SAN, a name matches a dNSName SAN; a
 *                certificate without such SANs is matched on its CN instead
 *                (so CN=127.0.0.1 passes for host 127.0.0.1, as with libpq).
 * TLS 1.2 is the minimum. SNI is sent when host is not an IP literal. No
 * password, hash or proof is ever sent on a connection whose certificate
 * check was asked for and did not pass.
 *
 * Input is hostile until parsed: every message is checked against its
 * declared length and its own structure, and anything unknown or malformed
 * fails the connection with PGW_FAIL_PROTOCOL, never a read past a buffer.
 * A message over PGW_MAX_MESSAGE is skipped unread when it carries nothing we
 * keep (DataRow, RowDescription, NoticeResponse, NotificationResponse,
 * ParameterStatus); any other fails with PGW_FAIL_PROTOCOL.
 *
 * Writes never raise SIGPIPE: plaintext goes through send(MSG_NOSIGNAL), and
 * TLS through a socket BIO of our own that does the same.
 *
 * Threads: a connection is used by one thread at a time. The module's shared
 * caches (SCRAM keys and TLS contexts) are internal and mutex-protected, so
 * any number of threads may use different connections at once.
 */
#ifndef PROBE_PGWIRE_H
#define PROBE_PGWIRE_H

#include <stddef.h>

/* Cap on one server message we must read whole (and on an auth exchange's). */
#define PGW_MAX_MESSAGE (64u << 10)
/* Cap on a query's text plus its parameters. */
#define PGW_MAX_QUERY (1u << 20)
/* Entries in the process-wide SCRAM key cache. */
#define PGW_SCRAM_CACHE_SIZE 64

/* Connection options. All strings are borrowed during pgw_connect_start (copied). */
struct pgw_options {
	const char *host;	 /* server name for SNI and verify-full; NULL or "": hostaddr */
	const char *hostaddr;	 /* numeric IPv4/IPv6 address; NULL: host, which must be numeric */
	int port;		 /* 1..65535 */
	const char *dbname;	 /* NULL or "": same as user */
	const char *user;	 /* required */
	const char *password;	 /* NULL: no password (trust, or failure when one is asked for) */
	const char *sslmode;	 /* see above; NULL means require */
	const char *sslrootcert; /* PEM CA file; NULL or "system": the system default store */
	const char *application_name; /* NULL: not sent */
};

/* What a poll function wants next. */
enum pgw_io {
	PGW_FAILED = -1,    /* see pgw_failure() and pgw_error() */
	PGW_DONE = 0,	    /* logged in, or the exchange is over */
	PGW_WANT_READ = 1,  /* call again when the socket is readable */
	PGW_WANT_WRITE = 2, /* call again when it is writable (or readable: both are fine) */
};

/* Why a poll returned PGW_FAILED. */
enum pgw_fail {
	PGW_FAIL_NONE = 0,
	PGW_FAIL_CONNECT,     /* connect, EOF or socket error; a startup error of no other class */
	PGW_FAIL_TLS,	      /* TLS refused ('N' under require), handshake or certificate */
	PGW_FAIL_AUTH,	      /* bad password, unknown role/database, server failed SCRAM proof */
	PGW_FAIL_UNAVAILABLE, /* starting up, shutting down, too busy (57P0x, class 53) */
	PGW_FAIL_PROTOCOL,    /* a malformed, oversized or unexpected message */
	PGW_FAIL_SERVER,      /* the server answered SSLRequest with an error (fork failure) */
};

/*
 * What the last pgw_send's statements returned, valid until the next
 * pgw_send or pgw_close (borrowed from the connection).
 */
struct pgw_result {
	int failed;	      /* an ErrorResponse arrived; the first one's SQLSTATE is kept */
	char sqlstate[6];     /* "" when none, or when the server sent no valid SQLSTATE */
	long ntuples;	      /* DataRows seen, across all result sets */
	int nfields;	      /* columns in the first DataRow */
	int oversized;	      /* the first DataRow was over PGW_MAX_MESSAGE: skipped, values NULL */
	const char *value[2]; /* first DataRow's first two columns as text; NULL: SQL NULL/absent */
};

struct pgw_conn;

/*
 * Starts connecting to o->hostaddr (or the numeric o->host) on o->port,
 * without blocking and without name resolution. On 0, *out is a connection
 * (free it with pgw_close); drive it with pgw_connect_poll, starting at once
 * or when the socket is writable. A connect that fails at once is reported
 * by that first poll (PGW_FAIL_CONNECT). BASE_EINVAL, *out NULL: missing or
 * unusable options (no user, no numeric address, port out of range, an
 * unknown sslmode, strings over 1 KiB).
 */
int pgw_connect_start(const struct pgw_options *o, struct pgw_conn **out);

/*
 * As pgw_connect_start, over fd, an already connected stream socket that the
 * connection takes ownership of (closed by pgw_close, even on BASE_EINVAL).
 * For tests and for sockets the caller connects itself.
 */
int pgw_connect_fd(const struct pgw_options *o, int fd, struct pgw_conn **out);

/* The connection's socket, for poll(2); -1 when it could not be created. */
int pgw_socket(const struct pgw_conn *c);

/*
 * Drives the connection through connect, SSLRequest, TLS, startup and
 * authentication until the server's first ReadyForQuery: PGW_DONE (idle and
 * ready for pgw_send), PGW_WANT_READ/PGW_WANT_WRITE (wait and call again), or
 * PGW_FAILED (then only pgw_failure, pgw_error, pgw_sqlstate and pgw_close
 * apply). May spend the time of one PBKDF2 derivation (a SCRAM key cache
 * miss) in the call. Calling it after PGW_DONE returns PGW_DONE.
 */
enum pgw_io pgw_connect_poll(struct pgw_conn *c);

/*
 * Queues sql on an idle connection: with nparams == 0, a simple Query (sql
 * may hold several statements); otherwise Parse/Bind/Describe/Execute/Sync
 * with the unnamed statement and portal and params[0..nparams-1] as text
 * (a NULL entry is SQL NULL). Strings are copied. Nothing is written until
 * pgw_query_poll, which the caller calls next. Forgets the previous result.
 * 0; BASE_EINVAL (not idle, or nparams outside 0..32767, sql NULL);
 * BASE_ETOOBIG (sql and params over PGW_MAX_QUERY).
 */
int pgw_send(struct pgw_conn *c, const char *sql, int nparams, const char *const *params);

/*
 * Writes the queued statement and reads the answers: PGW_DONE once
 * ReadyForQuery ends the exchange (an ErrorResponse does not fail the poll:
 * see pgw_result), PGW_WANT_* to wait, PGW_FAILED on EOF, a socket or TLS
 * error (PGW_FAIL_CONNECT) or a protocol violation (PGW_FAIL_PROTOCOL); the
 * result then still holds what arrived before. Returns PGW_DONE on an idle
 * connection with nothing in flight.
 */
enum pgw_io pgw_query_poll(struct pgw_conn *c);

/* The last exchange's result (borrowed, see struct pgw_result). Never NULL. */
const struct pgw_result *pgw_result(const struct pgw_conn *c);

/*
 * On an idle connection, reads whatever the server sent since (notices,
 * parameter changes, a FATAL error before it hung up) without blocking: 1
 * when it is still usable (no EOF, error or protocol violation, and the last
 * transaction status was idle), else 0. A connection that is not idle is 0.
 */
int pgw_idle_ok(struct pgw_conn *c);

/* Why the last connect or query poll failed; PGW_FAIL_NONE if it did not. */
enum pgw_fail pgw_failure(const struct pgw_conn *c);

/*
 * A short description of the failure for logs (borrowed, valid until the
 * next call on c): our own words, plus the server's message for an
 * ErrorResponse at startup. Never holds the password. "" when none.
 */
const char *pgw_error(const struct pgw_conn *c);

/* The SQLSTATE of an ErrorResponse that failed the connect, or "". */
const char *pgw_sqlstate(const struct pgw_conn *c);

/*
 * The heap bytes this module holds for c (the struct and its buffers, not
 * OpenSSL's own objects): under 1 KB for an idle connection, plus the last
 * result's two values until the next pgw_send.
 */
size_t pgw_conn_memory(const struct pgw_conn *c);

/*
 * Best effort: queues a Terminate (and a TLS close_notify) on a logged-in
 * idle connection without waiting, closes the socket, wipes what it held of
 * the password and frees everything. NULL is fine.
 */
void pgw_close(struct pgw_conn *c);

/*
 * The SCRAM key cache's counters since the process started: logins that
 * found their keys (hits) and those that derived them (misses). Either
 * pointer may be NULL. Thread-safe.
 */
void pgw_cache_stats(long *hits, long *misses);

#endif
