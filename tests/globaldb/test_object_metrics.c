/*
 * The per-object metrics (pkg/globaldb/object_metrics.h) as a scrape sees
 * them: which series exist after each status the reconciler writes, that a
 * series goes away when what it describes ends (the writer moves, the
 * operation finishes, the object is deleted), and that a finished operation
 * is counted once. Each test runs in its own forked process, so each starts
 * from an empty registry.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/metrics.h"
#include "pkg/globaldb/object_metrics.h"
#include "tests/check_main.h"

#define NS "payments"
#define NAME "orders"
#define SERIES(family, labels) family "{namespace=\"" NS "\",name=\"" NAME "\"" labels "}"
/* The start of the object's series of family whose labels begin so (for scraped_prefix). */
#define OF(family, labels) family "{namespace=\"" NS "\",name=\"" NAME "\"" labels

/* 1 when the scrape has exactly this line (series and value). */
static int scraped(const char *line)
{
	struct base_buf out = BASE_BUF_INIT(0);
	char *want;
	int found;

	ck_assert_int_eq(base_metrics_render(&out), 0);
	want = xasprintf("\n%s\n", line);
	found = out.data && strstr(out.data, want) != NULL;
	free(want);
	base_buf_release(&out);
	return found;
}

/* 1 when the scrape has any series starting with this prefix. */
static int scraped_prefix(const char *prefix)
{
	struct base_buf out = BASE_BUF_INIT(0);
	char *want;
	int found;

	ck_assert_int_eq(base_metrics_render(&out), 0);
	want = xasprintf("\n%s", prefix);
	found = out.data && strstr(out.data, want) != NULL;
	free(want);
	base_buf_release(&out);
	return found;
}

static struct gdb_status status_in(const char *primary)
{
	return (struct gdb_status){
		.global_cluster_identifier = (char *)"orders-global",
		.current_primary_region = (char *)primary,
	};
}

START_TEST(test_the_writer_region_is_published_and_moves)
{
	struct gdb_object_metrics m = {0};
	struct gdb_status none = {0}, east = status_in("us-east-1"), west = status_in("us-west-2");

	gdb_object_metrics_update(&m, NS, NAME, NULL, &none, &east);
	ck_assert(scraped(SERIES("globaldb_current_primary_info",
				 ",region=\"us-east-1\",global_cluster=\"orders-global\"") " 1"));
	gdb_object_metrics_update(&m, NS, NAME, NULL, &east, &west);
	ck_assert(scraped(SERIES("globaldb_current_primary_info",
				 ",region=\"us-west-2\",global_cluster=\"orders-global\"") " 1"));
	/* One writer at a time: the old region's series is gone, not 0. */
	ck_assert(!scraped_prefix(OF("globaldb_current_primary_info", ",region=\"us-east-1\"")));
	/* No known writer: no series at all. */
	gdb_object_metrics_update(&m, NS, NAME, NULL, &west, &none);
	ck_assert(!scraped_prefix("globaldb_current_primary_info{"));
	gdb_object_metrics_release(&m);
}
END_TEST

START_TEST(test_conditions_have_one_series_per_status)
{
	struct gdb_object_metrics m = {0};
	struct gdb_status old = {0}, cur = status_in("us-east-1");

	cur.conditions[0] =
		(struct gdb_condition){.type = (char *)"Ready", .status = GDB_COND_TRUE};
	cur.conditions[1] =
		(struct gdb_condition){.type = (char *)"Degraded", .status = GDB_COND_UNKNOWN};
	cur.n_conditions = 2;
	gdb_object_metrics_update(&m, NS, NAME, NULL, &old, &cur);
	ck_assert(scraped(SERIES("globaldb_condition", ",type=\"Ready\",status=\"True\"") " 1"));
	ck_assert(scraped(SERIES("globaldb_condition", ",type=\"Ready\",status=\"False\"") " 0"));
	ck_assert(scraped(SERIES("globaldb_condition", ",type=\"Ready\",status=\"Unknown\"") " 0"));
	ck_assert(scraped(
		SERIES("globaldb_condition", ",type=\"Degraded\",status=\"Unknown\"") " 1"));

	old = cur;
	cur.conditions[0].status = GDB_COND_FALSE;
	gdb_object_metrics_update(&m, NS, NAME, NULL, &old, &cur);
	ck_assert(scraped(SERIES("globaldb_condition", ",type=\"Ready\",status=\"True\"") " 0"));
	ck_assert(scraped(SERIES("globaldb_condition", ",type=\"Ready\",status=\"False\"") " 1"));
	gdb_object_metrics_release(&m);
}
END_TEST

START_TEST(test_the_data_loss_budget_follows_the_spec)
{
	struct gdb_object_metrics m = {0};
	struct gdb_status st = status_in("us-east-1");
	struct gdb_spec spec = {.failover = {.max_data_loss_seconds = 30}};

	gdb_object_metrics_update(&m, NS, NAME, &spec, &st, &st);
	ck_assert(scraped(SERIES("globaldb_data_loss_budget_seconds", "") " 30"));
	/* A spec that does not decode leaves the last known budget. */
	gdb_object_metrics_update(&m, NS, NAME, NULL, &st, &st);
	ck_assert(scraped(SERIES("globaldb_data_loss_budget_seconds", "") " 30"));
	spec.failover.max_data_loss_seconds = 0;
	gdb_object_metrics_update(&m, NS, NAME, &spec, &st, &st);
	ck_assert(scraped(SERIES("globaldb_data_loss_budget_seconds", "") " 0"));
	gdb_object_metrics_release(&m);
}
END_TEST

START_TEST(test_a_running_operation_shows_its_step_until_it_finishes)
{
	struct gdb_object_metrics m = {0};
	struct gdb_status before = status_in("us-east-1"), step1, step2, done;

	step1 = before;
	step1.operation = (struct gdb_operation){.id = 1,
						 .type = GDB_OP_SWITCHOVER,
						 .method = GDB_OPM_SWITCHOVER,
						 .step = GDB_STEP_SWITCHOVER,
						 .started_ms = 1767322000000LL};
	gdb_object_metrics_update(&m, NS, NAME, NULL, &before, &step1);
	ck_assert(scraped(SERIES("globaldb_operation_in_progress",
				 ",type=\"Switchover\",step=\"Switchover\"") " 1"));
	ck_assert(scraped(SERIES("globaldb_operation_start_time_seconds",
				 ",type=\"Switchover\"") " 1767322000"));

	step2 = step1;
	step2.operation.step = GDB_STEP_WAIT_SWITCHOVER;
	gdb_object_metrics_update(&m, NS, NAME, NULL, &step1, &step2);
	ck_assert(scraped(SERIES("globaldb_operation_in_progress",
				 ",type=\"Switchover\",step=\"WaitSwitchover\"") " 1"));
	ck_assert(!scraped_prefix(
		OF("globaldb_operation_in_progress", ",type=\"Switchover\",step=\"Switchover\"}")));
	ck_assert(scraped(SERIES("globaldb_operation_start_time_seconds",
				 ",type=\"Switchover\"") " 1767322000"));

	done = status_in("us-west-2");
	done.last_operation = step2.operation;
	done.last_operation.result = GDB_RESULT_SUCCEEDED;
	done.last_operation.finished_ms = 1767322100000LL;
	done.last_operation.steps[0] = (struct gdb_step_record){(char *)"Switchover", 3};
	done.last_operation.steps[1] = (struct gdb_step_record){(char *)"WaitSwitchover", 95};
	done.last_operation.n_steps = 2;
	gdb_object_metrics_update(&m, NS, NAME, NULL, &step2, &done);
	ck_assert(!scraped_prefix("globaldb_operation_in_progress{"));
	ck_assert(!scraped_prefix("globaldb_operation_start_time_seconds{"));
	ck_assert(scraped(SERIES("globaldb_operations_total",
				 ",type=\"Switchover\",result=\"Succeeded\"") " 1"));
	ck_assert(scraped("globaldb_operation_step_duration_seconds_count{operation=\"Switchover\","
			  "step=\"WaitSwitchover\"} 1"));
	ck_assert(scraped("globaldb_operation_step_duration_seconds_sum{operation=\"Switchover\","
			  "step=\"WaitSwitchover\"} 95"));
	/* A switchover is no failover. */
	ck_assert(!scraped_prefix("globaldb_failovers_total{"));

	/* The next reconciles write the same lastOperation: it is not counted again. */
	gdb_object_metrics_update(&m, NS, NAME, NULL, &done, &done);
	ck_assert(scraped(SERIES("globaldb_operations_total",
				 ",type=\"Switchover\",result=\"Succeeded\"") " 1"));
	ck_assert(scraped("globaldb_operation_step_duration_seconds_count{operation=\"Switchover\","
			  "step=\"WaitSwitchover\"} 1"));
	gdb_object_metrics_release(&m);
}
END_TEST

START_TEST(test_failovers_are_counted_by_method_and_result)
{
	struct gdb_object_metrics m = {0};
	struct gdb_status before = status_in("us-east-1"), after = status_in("us-west-2");

	after.last_operation = (struct gdb_operation){.id = 4,
						      .type = GDB_OP_FAILOVER,
						      .method = GDB_OPM_DETACH,
						      .result = GDB_RESULT_FAILED,
						      .finished_ms = 1767322100000LL};
	gdb_object_metrics_update(&m, NS, NAME, NULL, &before, &after);
	ck_assert(scraped(SERIES("globaldb_failovers_total",
				 ",method=\"DetachAndPromote\",result=\"Failed\"") " 1"));
	ck_assert(scraped(
		SERIES("globaldb_operations_total", ",type=\"Failover\",result=\"Failed\"") " 1"));

	/* The next failover on the same object, which succeeds, counts separately. */
	before = after;
	after.last_operation.id = 5;
	after.last_operation.method = GDB_OPM_MANAGED;
	after.last_operation.result = GDB_RESULT_SUCCEEDED;
	after.last_operation.finished_ms = 1767322900000LL;
	gdb_object_metrics_update(&m, NS, NAME, NULL, &before, &after);
	ck_assert(scraped(SERIES("globaldb_failovers_total",
				 ",method=\"Managed\",result=\"Succeeded\"") " 1"));
	ck_assert(scraped(SERIES("globaldb_failovers_total",
				 ",method=\"DetachAndPromote\",result=\"Failed\"") " 1"));
	gdb_object_metrics_release(&m);
}
END_TEST

/* A deleted object leaves no gauge behind; another object's series are untouched. */
START_TEST(test_forget_removes_every_series_of_the_object)
{
	struct gdb_object_metrics m = {0}, other = {0};
	struct gdb_status none = {0}, cur = status_in("us-east-1");
	struct gdb_spec spec = {.failover = {.max_data_loss_seconds = 30}};

	cur.operation = (struct gdb_operation){
		.id = 2, .type = GDB_OP_FAILOVER, .step = GDB_STEP_WAIT_FAILOVER, .started_ms = 1};
	cur.conditions[0] =
		(struct gdb_condition){.type = (char *)"Ready", .status = GDB_COND_TRUE};
	cur.n_conditions = 1;
	gdb_object_metrics_update(&m, NS, NAME, &spec, &none, &cur);
	gdb_object_metrics_update(&other, NS, "invoices", &spec, &none, &cur);
	ck_assert(scraped_prefix(OF("globaldb_operation_in_progress", ",")));

	gdb_object_metrics_forget(&m, NS, NAME);
	ck_assert(!scraped_prefix(OF("globaldb_current_primary_info", ",")));
	ck_assert(!scraped_prefix(OF("globaldb_data_loss_budget_seconds", "}")));
	ck_assert(!scraped_prefix(OF("globaldb_condition", ",")));
	ck_assert(!scraped_prefix(OF("globaldb_operation_in_progress", ",")));
	ck_assert(!scraped_prefix(OF("globaldb_operation_start_time_seconds", ",")));
	ck_assert(scraped("globaldb_data_loss_budget_seconds{namespace=\"" NS
			  "\",name=\"invoices\"} 30"));
	ck_assert(scraped("globaldb_condition{namespace=\"" NS "\",name=\"invoices\","
			  "type=\"Ready\",status=\"True\"} 1"));
	ck_assert_ptr_null(m.primary_region);
	ck_assert_uint_eq(m.n_cond_types, 0);
	gdb_object_metrics_release(&other);
}
END_TEST

GDB_CHECK_MAIN("globaldb_object_metrics", 20, test_the_writer_region_is_published_and_moves,
	       test_conditions_have_one_series_per_status,
	       test_the_data_loss_budget_follows_the_spec,
	       test_a_running_operation_shows_its_step_until_it_finishes,
	       test_failovers_are_counted_by_method_and_result,
	       test_forget_removes_every_series_of_the_object)
