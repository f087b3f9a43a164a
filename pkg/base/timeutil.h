/*
 * timeutil.h - clocks and the RFC 3339 timestamps Kubernetes and AWS use.
 *
 * Durations and deadlines use the monotonic clock (base_now_mono_ms), which
 * never jumps; wall-clock time (base_now_real_ms) is only for timestamps that
 * leave the process. Lease expiry, for one, is judged by local monotonic
 * observation, never by comparing clocks across machines.
 * All functions are thread-safe.
 */
#ifndef BASE_TIMEUTIL_H
#define BASE_TIMEUTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds (or nanoseconds) on the monotonic clock. */
int64_t base_now_mono_ms(void);
int64_t base_now_mono_ns(void);
/* Milliseconds since the Unix epoch, wall clock. */
int64_t base_now_real_ms(void);

/* "2026-11-27T03:58:01Z" (seconds precision, as Kubernetes metav1.Time). */
int base_time_format(int64_t unix_ms, char *out, size_t n);
/* "2026-11-27T03:58:01.123Z" (milliseconds, for logs). */
int base_time_format_ms(int64_t unix_ms, char *out, size_t n);
/* "2026-11-27T03:58:01.123000Z" (microseconds, as metav1.MicroTime). */
int base_time_format_us(int64_t unix_ms, char *out, size_t n);
/*
 * Parses an RFC 3339 timestamp with optional fraction and a Z or ±hh:mm
 * offset into milliseconds since the epoch. 0 or BASE_EPARSE.
 */
int base_time_parse(const char *s, int64_t *unix_ms);

/* Initializes cond so that base_cond_wait_ms() times it on the monotonic clock. */
void base_cond_init_monotonic(pthread_cond_t *cond);
/*
 * Waits on cond (made by base_cond_init_monotonic) with mu held for at most
 * ms milliseconds; returns when signalled, at the deadline, or spuriously, so
 * callers re-check their predicate in a loop as with pthread_cond_wait.
 */
void base_cond_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mu, int64_t ms);

/* Sleeps for ms milliseconds (restarting after signals). */
void base_sleep_ms(int64_t ms);

/*
 * Time and chance, as a parameter. Code whose outcome depends on how long
 * things take and on random jitter (retry loops with deadlines) takes a
 * clock, so its tests run on virtual time with a chosen random sequence and
 * assert exact outcomes whatever the machine's load. A NULL clock, or a NULL
 * member, is the real one: the monotonic clock, nanosleep, base_rand64.
 */
struct base_clock {
	int64_t (*now_ms)(void *ud);		/* monotonic milliseconds */
	void (*sleep_ms)(void *ud, int64_t ms); /* advances now_ms by ms */
	uint64_t (*rand64)(void *ud);		/* uniformly random bits */
	void *ud;
};

int64_t base_clock_now_ms(const struct base_clock *clk);
void base_clock_sleep_ms(const struct base_clock *clk, int64_t ms);
uint64_t base_clock_rand64(const struct base_clock *clk);

#endif
