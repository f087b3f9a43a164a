/*
 * policy.h - the failure policy of one probe target: thresholds -> verdict.
 *
 * A target starts UNKNOWN. failure_threshold consecutive failed probes make
 * it UNHEALTHY; success_threshold consecutive successful probes make it
 * HEALTHY. A result that breaks a run resets the other counter, so a flapping
 * target keeps its verdict until one side wins a full run (the Kubernetes
 * probe rule). probe_policy_record() reports whether the verdict changed, so
 * a caller notifies exactly once per change.
 *
 * Pure functions of their arguments: no clock, no I/O, no globals. A
 * struct probe_state is plain data; its owner serialises access.
 */
#ifndef PROBE_POLICY_H
#define PROBE_POLICY_H

#include <stdint.h>

enum probe_health {
	PROBE_UNKNOWN = 0,
	PROBE_HEALTHY = 1,
	PROBE_UNHEALTHY = 2,
};

struct probe_policy {
	int64_t period_ms;     /* time between the starts of two probes, > 0 */
	int64_t timeout_ms;    /* deadline of one probe, > 0 and <= period_ms */
	int failure_threshold; /* consecutive failures to turn UNHEALTHY, >= 1 */
	int success_threshold; /* consecutive successes to turn HEALTHY, >= 1 */
};

/* The defaults of the GlobalDatabase healthCheck: 5 s, 3 s, 3 failures, 1 success. */
#define PROBE_POLICY_DEFAULT                                                                       \
	{                                                                                          \
		5000, 3000, 3, 1                                                                   \
	}

struct probe_state {
	enum probe_health health;
	int consecutive_failures;
	int consecutive_successes;
};

#define PROBE_STATE_INIT                                                                           \
	{                                                                                          \
		PROBE_UNKNOWN, 0, 0                                                                \
	}

/* 0 when every field is in range, else BASE_EINVAL. */
int probe_policy_validate(const struct probe_policy *p);

/*
 * Counts one probe result (ok != 0: success) into st under policy p.
 * Returns 1 when st->health changed, 0 otherwise. p must be valid.
 */
int probe_policy_record(const struct probe_policy *p, struct probe_state *st, int ok);

/*
 * The server-side limits a probe's session runs under (sent at connect as
 * statement_timeout and lock_timeout), from the probe's timeout: below it, so
 * that a statement the probe abandoned at its deadline ends on the server as
 * well. statement: 80 %, lock: 50 %, each at least 1 ms.
 */
int64_t probe_statement_timeout_ms(int64_t timeout_ms);
int64_t probe_lock_timeout_ms(int64_t timeout_ms);

/* "unknown", "healthy", "unhealthy". */
const char *probe_health_name(enum probe_health h);

#endif
