/*
 * Structured logging. A line is assembled in a private buffer, as text or as
 * JSON with RFC 8259 string escaping, and written with a single fwrite under a
 * mutex, so concurrent lines never interleave.
 */
#include "pkg/base/log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum base_log_level log_min = BASE_LOG_INFO;
static int log_json;
static FILE *log_out;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void base_log_setup(enum base_log_level min_level, int json, FILE *out)
{
	pthread_mutex_lock(&log_lock);
	log_min = min_level;
	log_json = json;
	log_out = out;
	pthread_mutex_unlock(&log_lock);
}

int base_log_parse_level(const char *s, enum base_log_level *level)
{
	if (!strcasecmp(s, "debug"))
		*level = BASE_LOG_DEBUG;
	else if (!strcasecmp(s, "info"))
		*level = BASE_LOG_INFO;
	else if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning"))
		*level = BASE_LOG_WARN;
	else if (!strcasecmp(s, "error"))
		*level = BASE_LOG_ERROR;
	else
		return BASE_EINVAL;
	return 0;
}

int base_log_enabled(enum base_log_level level)
{
	return level >= log_min;
}

int base_log_key_is_secret(const char *key)
{
	static const char *words[] = {"password",    "passwd",	      "token",	     "secret",
				      "credential",  "authorization", "private_key", "privatekey",
				      "session_key", "access_key",    "dsn",	     "conninfo"};
	char lower[64];
	size_t i;

	for (i = 0; key[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)key[i]);
	lower[i] = '\0';
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]))
			return 1;
	return 0;
}

/* Appends s as a JSON string literal. */
static void add_json_string(struct base_buf *b, const char *s)
{
	base_buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			base_buf_adds(b, "\\\"");
			break;
		case '\\':
			base_buf_adds(b, "\\\\");
			break;
		case '\n':
			base_buf_adds(b, "\\n");
			break;
		case '\r':
			base_buf_adds(b, "\\r");
			break;
		case '\t':
			base_buf_adds(b, "\\t");
			break;
		default:
			if (*p < 0x20)
				base_buf_addf(b, "\\u%04x", *p);
			else
				base_buf_addch(b, (char)*p);
		}
	}
	base_buf_addch(b, '"');
}

/* Appends a text-format value, quoted when it holds spaces, quotes or '='. */
static void add_text_value(struct base_buf *b, const char *s)
{
	if (*s && !strpbrk(s, " \t\n\"=")) {
		base_buf_adds(b, s);
		return;
	}
	add_json_string(b, s);
}

static _Thread_local struct {
	const char *key[BASE_LOG_CONTEXT_MAX]; /* constant identifiers, as in base_log */
	char value[BASE_LOG_CONTEXT_MAX][256];
	int n;
} context;

void base_log_context_set(const char *key, ...)
{
	va_list ap;

	context.n = 0;
	va_start(ap, key);
	for (; key; key = va_arg(ap, const char *)) {
		const char *value = va_arg(ap, const char *);

		if (context.n == BASE_LOG_CONTEXT_MAX)
			continue;
		context.key[context.n] = key;
		snprintf(context.value[context.n], sizeof(context.value[0]), "%s",
			 value ? value : "");
		context.n++;
	}
	va_end(ap);
}

void base_log_context_clear(void)
{
	context.n = 0;
}

static void add_pair(struct base_buf *line, const char *key, const char *value)
{
	if (!value)
		value = "";
	if (base_log_key_is_secret(key))
		value = "[redacted]";
	if (log_json) {
		base_buf_addch(line, ',');
		add_json_string(line, key);
		base_buf_addch(line, ':');
		add_json_string(line, value);
	} else {
		base_buf_addf(line, " %s=", key);
		add_text_value(line, value);
	}
}

void base_log(enum base_log_level level, const char *msg, ...)
{
	struct base_buf line = BASE_BUF_INIT(0);
	char ts[40];
	va_list ap;
	const char *key;
	FILE *out;

	if (level < log_min)
		return;
	base_time_format_ms(base_now_real_ms(), ts, sizeof(ts));
	if (log_json) {
		base_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts,
			      level_names[level]);
		add_json_string(&line, msg);
	} else {
		base_buf_addf(&line, "%s %s %s", ts, level_names[level], msg);
	}
	for (int i = 0; i < context.n; i++)
		add_pair(&line, context.key[i], context.value[i]);
	va_start(ap, msg);
	while ((key = va_arg(ap, const char *)) != NULL)
		add_pair(&line, key, va_arg(ap, const char *));
	va_end(ap);
	base_buf_adds(&line, log_json ? "}\n" : "\n");

	pthread_mutex_lock(&log_lock);
	out = log_out ? log_out : stderr;
	fwrite(line.data, 1, line.len, out);
	fflush(out);
	pthread_mutex_unlock(&log_lock);
	base_buf_release(&line);
}

const char *base_fmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return buf;
}
