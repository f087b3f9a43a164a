/*
 * The failure policy: two run counters and a verdict. A success extends the
 * success run and ends the failure run (and vice versa); the verdict flips
 * only when a run reaches its threshold and the verdict differs.
 */
#include "pkg/probe/policy.h"

#include "pkg/base/err.h"

/* An hour per probe is far past any sensible health check. */
#define PROBE_MAX_PERIOD_MS (3600 * 1000)
#define PROBE_MAX_THRESHOLD 1000
/* Run counters are reported, so they saturate instead of wrapping. */
#define PROBE_MAX_RUN 1000000000

int probe_policy_validate(const struct probe_policy *p)
{
	if (!p || p->period_ms <= 0 || p->period_ms > PROBE_MAX_PERIOD_MS)
		return BASE_EINVAL;
	if (p->timeout_ms <= 0 || p->timeout_ms > p->period_ms)
		return BASE_EINVAL;
	if (p->failure_threshold < 1 || p->failure_threshold > PROBE_MAX_THRESHOLD)
		return BASE_EINVAL;
	if (p->success_threshold < 1 || p->success_threshold > PROBE_MAX_THRESHOLD)
		return BASE_EINVAL;
	return 0;
}

int probe_policy_record(const struct probe_policy *p, struct probe_state *st, int ok)
{
	enum probe_health before = st->health;

	if (ok) {
		st->consecutive_failures = 0;
		if (st->consecutive_successes < PROBE_MAX_RUN)
			st->consecutive_successes++;
		if (st->consecutive_successes >= p->success_threshold)
			st->health = PROBE_HEALTHY;
	} else {
		st->consecutive_successes = 0;
		if (st->consecutive_failures < PROBE_MAX_RUN)
			st->consecutive_failures++;
		if (st->consecutive_failures >= p->failure_threshold)
			st->health = PROBE_UNHEALTHY;
	}
	return st->health != before;
}

const char *probe_health_name(enum probe_health h)
{
	switch (h) {
	case PROBE_HEALTHY:
		return "healthy";
	case PROBE_UNHEALTHY:
		return "unhealthy";
	default:
		return "unknown";
	}
}

int64_t probe_statement_timeout_ms(int64_t timeout_ms)
{
	int64_t v = timeout_ms * 4 / 5;

	return v >= 1 ? v : 1;
}

int64_t probe_lock_timeout_ms(int64_t timeout_ms)
{
	int64_t v = timeout_ms / 2;

	return v >= 1 ? v : 1;
}
