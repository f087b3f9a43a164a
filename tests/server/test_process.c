/*
 * pkg/server/process: the process_* metrics as a scrape reads them, checked
 * against what the kernel says about this (forked test) process: open
 * descriptors counted exactly, the descriptor limit, CPU time that only
 * grows, memory and a start time that are plausible.
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pkg/base/buf.h"
#include "pkg/base/metrics.h"
#include "pkg/server/process.h"
#include "tests/check_main.h"

/* The value a scrape would show (the families exist once an update ran). */
static double gauge(const char *name)
{
	return base_metric_value(base_metric_gauge(name, "", NULL));
}

static double cpu_total(void)
{
	return base_metric_value(base_metric_counter("process_cpu_seconds_total", "", NULL));
}

START_TEST(open_fds_are_counted_exactly)
{
	int fds[3];
	double before;

	server_process_metrics_update();
	before = gauge("process_open_fds");
	ck_assert(before >= 3); /* stdin, stdout, stderr at least */
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
	server_process_metrics_update();
	ck_assert(gauge("process_open_fds") == before + 3);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	server_process_metrics_update();
	ck_assert(gauge("process_open_fds") == before);
}
END_TEST

START_TEST(max_fds_is_the_soft_limit)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	server_process_metrics_update();
	ck_assert(gauge("process_max_fds") ==
		  (rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur));
	ck_assert(rl.rlim_max >= 200);
	rl.rlim_cur = 200;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	server_process_metrics_update();
	ck_assert(gauge("process_max_fds") == 200);
}
END_TEST

static double rusage_cpu(void)
{
	struct rusage ru;

	ck_assert_int_eq(getrusage(RUSAGE_SELF, &ru), 0);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

START_TEST(cpu_seconds_count_up_with_work)
{
	volatile unsigned long spin = 0;
	double first, start;

	server_process_metrics_update();
	first = cpu_total();
	ck_assert(first >= 0);
	/* Work until the kernel has charged 50 ms more (a condition, not a duration). */
	start = rusage_cpu();
	while (rusage_cpu() < start + 0.05)
		for (int i = 0; i < 100000; i++)
			spin++;
	server_process_metrics_update();
	ck_assert_msg(cpu_total() >= first + 0.05, "%f -> %f", first, cpu_total());
	ck_assert(cpu_total() <= rusage_cpu());
}
END_TEST

START_TEST(memory_and_start_time_are_plausible)
{
	double now = (double)time(NULL), started;

	server_process_metrics_update();
	ck_assert(gauge("process_resident_memory_bytes") > 0);
	ck_assert(gauge("process_virtual_memory_bytes") >= gauge("process_resident_memory_bytes"));
	started = gauge("process_start_time_seconds");
	/* This forked test started moments ago (boot-time arithmetic rounds to ticks). */
	ck_assert_msg(started > now - 600 && started < now + 2, "started %f, now %f", started, now);
}
END_TEST

START_TEST(a_scrape_lists_every_family)
{
	struct base_buf out = BASE_BUF_INIT(0);
	static const char *const lines[] = {
		"# TYPE process_cpu_seconds_total counter\n",
		"# TYPE process_resident_memory_bytes gauge\n",
		"# TYPE process_virtual_memory_bytes gauge\n",
		"# TYPE process_open_fds gauge\n",
		"# TYPE process_max_fds gauge\n",
		"# TYPE process_start_time_seconds gauge\n",
	};

	server_process_metrics_update();
	ck_assert_int_eq(base_metrics_render(&out), 0);
	for (size_t i = 0; i < sizeof(lines) / sizeof(*lines); i++)
		ck_assert_msg(strstr(out.data, lines[i]), "missing %s", lines[i]);
	base_buf_release(&out);
}
END_TEST

GDB_CHECK_MAIN("server_process", 30, open_fds_are_counted_exactly, max_fds_is_the_soft_limit,
	       cpu_seconds_count_up_with_work, memory_and_start_time_are_plausible,
	       a_scrape_lists_every_family)
