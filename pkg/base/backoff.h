/*
 * backoff.h - exponential backoff with jitter, and a thread-safe random source.
 *
 * Two shapes cover what client-go and the AWS SDKs do:
 *  - full jitter (AWS "standard" retry mode): a uniform random delay in
 *    [0, min(cap, base * 2^attempt)];
 *  - jittered growth (client-go reflector, 800 ms -> 30 s): the delay doubles
 *    up to cap and each use adds up to factor * delay at random.
 */
#ifndef BASE_BACKOFF_H
#define BASE_BACKOFF_H

#include <stdint.h>

struct base_clock;

struct base_backoff {
	int64_t base_ms;		/* first delay */
	int64_t cap_ms;			/* largest delay before jitter */
	double jitter;			/* 0 = full jitter; > 0 = add up to jitter * delay */
	unsigned attempt;		/* delays handed out since the last reset */
	const struct base_clock *clock; /* its random source; NULL = base_rand64 */
};

/* Returns the next delay in milliseconds and counts the attempt. */
int64_t base_backoff_next(struct base_backoff *b);
/* Starts over from base_ms (after a success). */
void base_backoff_reset(struct base_backoff *b);

/* A uniformly random 64-bit value; per-thread state seeded from getrandom(2). */
uint64_t base_rand64(void);
/* A uniformly random integer in [lo, hi] (lo <= hi). */
int64_t base_rand_range(int64_t lo, int64_t hi);

#endif
