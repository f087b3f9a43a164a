/*
 * Clocks and RFC 3339. Formatting uses gmtime_r; parsing is a strict scanner
 * (digits exactly where the grammar has them) followed by timegm.
 */
#include "pkg/base/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "pkg/base/backoff.h"
#include "pkg/base/err.h"

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t base_now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t base_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t base_now_real_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

static int format(int64_t unix_ms, char *out, size_t n, int digits)
{
	time_t sec = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
	int ms = (int)(unix_ms - (int64_t)sec * 1000);
	struct tm tm;
	int len;

	if (!gmtime_r(&sec, &tm))
		return BASE_EINVAL;
	len = snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (digits == 3)
		len += snprintf(out + len, n > (size_t)len ? n - (size_t)len : 0, ".%03d", ms);
	else if (digits == 6)
		len += snprintf(out + len, n > (size_t)len ? n - (size_t)len : 0, ".%03d000", ms);
	len += snprintf(out + len, n > (size_t)len ? n - (size_t)len : 0, "Z");
	return (size_t)len < n ? 0 : BASE_ETOOBIG;
}

int base_time_format(int64_t unix_ms, char *out, size_t n)
{
	return format(unix_ms, out, n, 0);
}

int base_time_format_ms(int64_t unix_ms, char *out, size_t n)
{
	return format(unix_ms, out, n, 3);
}

int base_time_format_us(int64_t unix_ms, char *out, size_t n)
{
	return format(unix_ms, out, n, 6);
}

/* Reads exactly n digits at *p into *v and advances *p. */
static int digits(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		*v = *v * 10 + (**p - '0');
		(*p)++;
	}
	return 0;
}

int base_time_parse(const char *s, int64_t *unix_ms)
{
	const char *p = s;
	struct tm tm = {0};
	int year, mon, day, hour, min, sec, ms = 0, off = 0;
	time_t t;

	if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) || *p++ != '-' ||
	    digits(&p, 2, &day) || (*p != 'T' && *p != 't' && *p != ' '))
		return BASE_EPARSE;
	p++;
	if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min) || *p++ != ':' ||
	    digits(&p, 2, &sec))
		return BASE_EPARSE;
	if (*p == '.') {
		int scale = 100;

		p++;
		if (!isdigit((unsigned char)*p))
			return BASE_EPARSE;
		while (isdigit((unsigned char)*p)) {
			ms += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;

		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return BASE_EPARSE;
		off = sign * (oh * 60 + om);
	} else {
		return BASE_EPARSE;
	}
	if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
	    sec > 60)
		return BASE_EPARSE;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*unix_ms = ((int64_t)t - (int64_t)off * 60) * 1000 + ms;
	return 0;
}

void base_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
}

void base_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cond, mu, &ts);
}

int64_t base_clock_now_ms(const struct base_clock *clk)
{
	return clk && clk->now_ms ? clk->now_ms(clk->ud) : base_now_mono_ms();
}

void base_clock_sleep_ms(const struct base_clock *clk, int64_t ms)
{
	if (clk && clk->sleep_ms)
		clk->sleep_ms(clk->ud, ms);
	else
		base_sleep_ms(ms);
}

uint64_t base_clock_rand64(const struct base_clock *clk)
{
	return clk && clk->rand64 ? clk->rand64(clk->ud) : base_rand64();
}

void base_sleep_ms(int64_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
