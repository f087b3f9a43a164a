/*
 * pkg/probe/heartbeat: the lag arithmetic from the heartbeat history.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/probe/heartbeat.h"
#include "tests/check_main.h"

START_TEST(lag_is_unknown_before_any_acknowledged_write)
{
	struct probe_heartbeat hb;

	probe_heartbeat_init(&hb);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 5, 1000, 10000, 10000), -1);
}
END_TEST

START_TEST(lag_is_zero_when_the_secondary_has_the_newest_write)
{
	struct probe_heartbeat hb;

	probe_heartbeat_init(&hb);
	probe_heartbeat_record(&hb, 7, 1000);
	probe_heartbeat_record(&hb, 8, 2000);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 8, 0, 60000, 0), 0);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 9, 0, 60000, 0), 0);
}
END_TEST

START_TEST(lag_counts_from_the_first_write_the_secondary_lacks)
{
	struct probe_heartbeat hb;
	int64_t s;

	probe_heartbeat_init(&hb);
	for (s = 1; s <= 10; s++)
		probe_heartbeat_record(&hb, s, s * 1000);
	/* Has 4, lacks 5 (sent at 5000): at 10500 it is 5.5 s behind. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 4, 0, 10500, 0), 5500);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 9, 0, 10500, 0), 500);
	/* The remote row's timestamp does not matter when the history knows. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 9, 1, 10500, 999999999), 500);
}
END_TEST

START_TEST(lag_beyond_the_history_is_bounded_from_above_by_our_own_timestamp)
{
	struct probe_heartbeat hb;
	int64_t s;

	probe_heartbeat_init(&hb);
	for (s = 100; s < 100 + 2 * PROBE_HEARTBEAT_HISTORY; s++)
		probe_heartbeat_record(&hb, s, s * 1000);
	/* The oldest kept write is seq 100 + HISTORY, sent at (100+H)*1000 ms. */
	s = 100 + PROBE_HEARTBEAT_HISTORY;
	/* Replica at seq 50, written (our wall clock) at 1,000,000; now (wall) 2,000,000. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 50, 1000000, (s + 10) * 1000, 2000000),
			 1000000);
	/* Without a timestamp: at least as old as the oldest write we know it lacks. */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 50, 0, (s + 10) * 1000, 2000000), 10000);
}
END_TEST

START_TEST(lag_history_restarts_when_seq_goes_backwards)
{
	struct probe_heartbeat hb;

	probe_heartbeat_init(&hb);
	probe_heartbeat_record(&hb, 50, 1000);
	probe_heartbeat_record(&hb, 51, 2000);
	probe_heartbeat_record(&hb, 1, 3000); /* table recreated */
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 1, 0, 4000, 0), 0);
	ck_assert_int_eq(probe_heartbeat_lag_ms(&hb, 0, 0, 4000, 0), 1000);
}
END_TEST

/* ---- the prober against loopback sockets ------------------------------- */

GDB_CHECK_MAIN("probe_heartbeat", 20, lag_is_unknown_before_any_acknowledged_write,
	       lag_is_zero_when_the_secondary_has_the_newest_write,
	       lag_counts_from_the_first_write_the_secondary_lacks,
	       lag_beyond_the_history_is_bounded_from_above_by_our_own_timestamp,
	       lag_history_restarts_when_seq_goes_backwards)
