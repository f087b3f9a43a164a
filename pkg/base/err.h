/*
 * err.h - the error codes every package returns.
 *
 * Functions return 0 on success and one of these negative codes on failure
 * (libuv's convention). The codes name what a caller does next, not where the
 * error came from: retry later (BASE_ETHROTTLED, BASE_ETRANSPORT,
 * BASE_ETIMEDOUT, BASE_ESERVER), re-read and retry (BASE_ECONFLICT), relist
 * (BASE_EGONE), give up and report (BASE_EINVAL, BASE_EFORBIDDEN, ...).
 * Packages that decode a server's own error (a Kubernetes Status, an AWS error
 * code) return the matching code here and hand the details out through an
 * optional out-parameter of their own.
 */
#ifndef BASE_ERR_H
#define BASE_ERR_H

enum base_err {
	BASE_OK = 0,
	BASE_EINVAL = -1,	 /* bad argument or invalid request */
	BASE_ENOTFOUND = -2,	 /* the object does not exist */
	BASE_EEXIST = -3,	 /* the object already exists */
	BASE_ECONFLICT = -4,	 /* optimistic concurrency conflict (HTTP 409) */
	BASE_EGONE = -5,	 /* resource version too old (HTTP 410) */
	BASE_EFORBIDDEN = -6,	 /* authenticated but not allowed (HTTP 403) */
	BASE_EUNAUTHORIZED = -7, /* no or bad credentials (HTTP 401) */
	BASE_ETHROTTLED = -8,	 /* rate limited (HTTP 429, AWS Throttling) */
	BASE_ETRANSPORT = -9,	 /* connection, DNS or TLS failure */
	BASE_ETIMEDOUT = -10,	 /* a deadline passed */
	BASE_ESERVER = -11,	 /* the server failed (HTTP 5xx) */
	BASE_ETOOBIG = -12,	 /* input larger than its cap */
	BASE_EPARSE = -13,	 /* malformed input from a file or a server */
	BASE_EIO = -14,		 /* local I/O or system call failure */
	BASE_ECANCELED = -15,	 /* shut down while waiting */
	BASE_EINTERNAL = -16,	 /* anything else a server reports */
};

/* A short static description of code (never NULL). */
const char *base_strerror(int code);

/* The code's symbolic name ("BASE_ECONFLICT" -> "conflict"), for logs and metrics labels. */
const char *base_errname(int code);

/* True for the errors a caller may retry after a pause. */
int base_err_retryable(int code);

#endif
