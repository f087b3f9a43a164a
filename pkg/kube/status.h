/*
 * status.h - Kubernetes error responses decoded into error codes.
 *
 * The apiserver answers a failed request (and a watch ERROR event) with a
 * `Status` object: {"kind":"Status","status":"Failure","reason":"Conflict",
 * "message":"...","code":409,"details":{"retryAfterSeconds":1}}. This module
 * maps the HTTP code (or the Status code when there is none) to a base error
 * code, and copies the reason and message into a kube_status the caller owns,
 * so a caller can both branch on the code and report the server's words.
 *
 *   409 -> BASE_ECONFLICT (reason AlreadyExists -> BASE_EEXIST)
 *   410 -> BASE_EGONE, 404 -> BASE_ENOTFOUND, 400/422 -> BASE_EINVAL,
 *   401 -> BASE_EUNAUTHORIZED, 403 -> BASE_EFORBIDDEN, 429 -> BASE_ETHROTTLED,
 *   504 or reason Timeout -> BASE_ETIMEDOUT, other 5xx -> BASE_ESERVER,
 *   anything else -> BASE_EINTERNAL.
 *
 * Pure functions; thread-safe.
 */
#ifndef KUBE_STATUS_H
#define KUBE_STATUS_H

#include <stddef.h>

/* Caps on what is kept from a Status; longer text is truncated. */
#define KUBE_STATUS_REASON_MAX 64
#define KUBE_STATUS_MESSAGE_MAX 512

/* The details of a failed request. Embedded by callers; no heap memory. */
struct kube_status {
	int code;	   /* HTTP (or Status) code, 0 = no answer */
	int retry_after_s; /* Retry-After or details.retryAfterSeconds, 0 = none */
	char reason[KUBE_STATUS_REASON_MAX];   /* e.g. "Conflict", "Expired", "" if none */
	char message[KUBE_STATUS_MESSAGE_MAX]; /* the server's message, or ours for local errors */
};

/* Empties st. NULL is fine. */
void kube_status_clear(struct kube_status *st);

/*
 * Decodes an error answer: http_code is the HTTP status (0 for a watch ERROR
 * event, where the Status's own code counts), body/n the response body, which
 * need not be a Status or even JSON (then the message is the body's start).
 * Fills st when it is not NULL (retry_after_s is kept if already set, e.g. from
 * a header) and returns the matching negative base error code.
 */
int kube_status_decode(int http_code, const char *body, size_t n, struct kube_status *st);

/* The base error code for an HTTP status code and Status reason (reason may be NULL). */
int kube_status_code_to_err(int http_code, const char *reason);

#endif
