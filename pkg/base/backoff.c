/*
 * Backoff and randomness. The generator is xoshiro256** with per-thread state
 * seeded from the kernel; it is for jitter, never for secrets.
 */
#include "pkg/base/backoff.h"
#include "pkg/base/timeutil.h"

#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t rng[4];
static _Thread_local int rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static void seed(void)
{
	if (getrandom(rng, sizeof(rng), 0) != (ssize_t)sizeof(rng)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		rng[0] = (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ULL;
		rng[1] = (uint64_t)ts.tv_sec ^ 0xbf58476d1ce4e5b9ULL;
		rng[2] = (uint64_t)(uintptr_t)&ts ^ 0x94d049bb133111ebULL;
		rng[3] = 0x2545f4914f6cdd1dULL;
	}
	rng_seeded = 1;
}

uint64_t base_rand64(void)
{
	uint64_t result, t;

	if (!rng_seeded)
		seed();
	result = rotl(rng[1] * 5, 7) * 9;
	t = rng[1] << 17;
	rng[2] ^= rng[0];
	rng[3] ^= rng[1];
	rng[1] ^= rng[2];
	rng[0] ^= rng[3];
	rng[2] ^= t;
	rng[3] = rotl(rng[3], 45);
	return result;
}

int64_t base_rand_range(int64_t lo, int64_t hi)
{
	uint64_t span = (uint64_t)(hi - lo) + 1;

	if (span == 0)
		return (int64_t)base_rand64();
	return lo + (int64_t)(base_rand64() % span);
}

int64_t base_backoff_next(struct base_backoff *b)
{
	int64_t delay = b->base_ms;
	uint64_t r;

	for (unsigned i = 0; i < b->attempt && delay < b->cap_ms; i++)
		delay *= 2;
	if (delay > b->cap_ms)
		delay = b->cap_ms;
	if (b->attempt < 64)
		b->attempt++;
	r = base_clock_rand64(b->clock);
	if (b->jitter <= 0)
		return (int64_t)(r % ((uint64_t)delay + 1));
	return delay +
	       (int64_t)((double)delay * b->jitter * ((double)(r >> 11) / 9007199254740992.0));
}

void base_backoff_reset(struct base_backoff *b)
{
	b->attempt = 0;
}
