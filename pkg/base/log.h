/*
 * log.h - structured logging: one line per event.
 *
 * A line is a level, a lower-case message without a trailing period, and
 * key=value pairs:
 *
 *   base_log(BASE_LOG_INFO, "switchover started", "gdb", "prod/orders",
 *            "target", "us-west-2", NULL);
 *
 * prints, in text format,
 *   2026-11-27T03:58:01.123Z info switchover started gdb=prod/orders target=us-west-2
 * and in JSON format one object per line with ts, level, msg and the pairs.
 *
 * Keys are constant identifiers; values are strings (base_fmt() formats
 * numbers into a caller's buffer). As a second line of defence against leaking
 * credentials, the value of any key that names a secret (password, token,
 * secret, credential, authorization, key material) is printed as "[redacted]":
 * callers must still never pass secrets.
 *
 * Thread-safe: each line is built privately and written with one call under a
 * lock. Libraries log only through here, and only at their boundary.
 */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdio.h>

enum base_log_level {
	BASE_LOG_DEBUG = 0,
	BASE_LOG_INFO = 1,
	BASE_LOG_WARN = 2,
	BASE_LOG_ERROR = 3,
};

/*
 * Sets the minimum level, the format (json != 0 for JSON lines) and the stream
 * (NULL = stderr). Call once at start-up, before other threads log.
 */
void base_log_setup(enum base_log_level min_level, int json, FILE *out);
/* Parses "debug", "info", "warn"/"warning", "error". 0 or BASE_EINVAL. */
int base_log_parse_level(const char *s, enum base_log_level *level);
/* True when a line at level would be printed. */
int base_log_enabled(enum base_log_level level);

/* Logs msg with (key, value) string pairs; the list ends with NULL. */
void base_log(enum base_log_level level, const char *msg, ...) __attribute__((sentinel));

/*
 * The calling thread's context: (key, value) pairs, ending with NULL, that
 * every line this thread logs carries after its message, until
 * base_log_context_clear(). As controller-runtime's logger from the context:
 * a reconcile sets namespace, name and reconcileID once, and every line it
 * logs, in any package, says which object and which pass it belongs to. At
 * most BASE_LOG_CONTEXT_MAX pairs (more are dropped); values are copied and
 * cut at 255 bytes.
 */
#define BASE_LOG_CONTEXT_MAX 4
void base_log_context_set(const char *key, ...) __attribute__((sentinel));
void base_log_context_clear(void);

/* Formats into buf (size n) and returns buf, for log values: base_fmt(b, sizeof(b), "%d", x). */
const char *base_fmt(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* True when a key names secret material and its value must never be printed. */
int base_log_key_is_secret(const char *key);

#endif
