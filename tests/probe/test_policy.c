/*
 * pkg/probe/policy: the failure policy (failure and success thresholds, validation) and
 * the server-side timeouts that keep a probe within its deadline.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/probe/policy.h"
#include "tests/check_main.h"

START_TEST(server_side_timeouts_stay_below_the_probe_timeout)
{
	static const int64_t timeouts[] = {1, 2, 3, 1000, 3000, 60000};

	for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t t = timeouts[i];

		ck_assert_int_ge(probe_statement_timeout_ms(t), 1);
		ck_assert_int_ge(probe_lock_timeout_ms(t), 1);
		if (t > 1) {
			ck_assert_int_lt(probe_statement_timeout_ms(t), t);
			ck_assert_int_lt(probe_lock_timeout_ms(t), t);
		}
	}
	/* A lock wait gives up before the statement does. */
	ck_assert_int_eq(probe_statement_timeout_ms(3000), 2400);
	ck_assert_int_eq(probe_lock_timeout_ms(3000), 1500);
}
END_TEST

START_TEST(policy_turns_unhealthy_after_exactly_failure_threshold_failures)
{
	struct probe_policy p = {1000, 500, 3, 1};
	struct probe_state st = PROBE_STATE_INIT;

	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 1);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(st.consecutive_failures, 2);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 1);
	ck_assert_int_eq(st.health, PROBE_UNHEALTHY);
	/* Further failures are no change: the callback fires once. */
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.consecutive_failures, 5);
}
END_TEST

START_TEST(policy_a_success_breaks_the_failure_run)
{
	struct probe_policy p = {1000, 500, 3, 1};
	struct probe_state st = PROBE_STATE_INIT;
	int i, changes = 0;

	probe_policy_record(&p, &st, 1);
	for (i = 0; i < 10; i++) {
		changes += probe_policy_record(&p, &st, 0);
		changes += probe_policy_record(&p, &st, 0);
		changes += probe_policy_record(&p, &st, 1);
	}
	ck_assert_int_eq(changes, 0);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(st.consecutive_failures, 0);
}
END_TEST

START_TEST(policy_recovers_after_success_threshold_successes_in_a_row)
{
	struct probe_policy p = {1000, 500, 2, 3};
	struct probe_state st = PROBE_STATE_INIT;

	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.health, PROBE_UNKNOWN);
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 1);
	ck_assert_int_eq(st.health, PROBE_UNHEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	/* A failure restarts the success run. */
	ck_assert_int_eq(probe_policy_record(&p, &st, 0), 0);
	ck_assert_int_eq(st.consecutive_successes, 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(st.health, PROBE_UNHEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 1);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
}
END_TEST

START_TEST(policy_unknown_target_needs_a_full_run_either_way)
{
	struct probe_policy p = {1000, 500, 3, 2};
	struct probe_state st = PROBE_STATE_INIT;

	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 0);
	ck_assert_int_eq(st.health, PROBE_UNKNOWN);
	ck_assert_int_eq(probe_policy_record(&p, &st, 1), 1);
	ck_assert_int_eq(st.health, PROBE_HEALTHY);
}
END_TEST

START_TEST(policy_validation_rejects_impossible_settings)
{
	struct probe_policy ok = PROBE_POLICY_DEFAULT, p;

	ck_assert_int_eq(probe_policy_validate(&ok), 0);
	p = ok, p.timeout_ms = p.period_ms + 1;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	p = ok, p.period_ms = 0;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	p = ok, p.failure_threshold = 0;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	p = ok, p.success_threshold = 0;
	ck_assert_int_eq(probe_policy_validate(&p), BASE_EINVAL);
	ck_assert_int_eq(probe_policy_validate(NULL), BASE_EINVAL);
}
END_TEST

/* ---- heartbeat lag ----------------------------------------------------- */

GDB_CHECK_MAIN("probe_policy", 20, server_side_timeouts_stay_below_the_probe_timeout,
	       policy_turns_unhealthy_after_exactly_failure_threshold_failures,
	       policy_a_success_breaks_the_failure_run,
	       policy_recovers_after_success_threshold_successes_in_a_row,
	       policy_unknown_target_needs_a_full_run_either_way,
	       policy_validation_rejects_impossible_settings)
