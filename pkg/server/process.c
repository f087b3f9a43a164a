/*
 * process.c - see process.h.
 */
#include "pkg/server/process.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "pkg/base/metrics.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct base_metric *m_cpu, *m_rss, *m_vsz, *m_fds, *m_max_fds, *m_start;
static double cpu_reported; /* the counter's value: it only grows by deltas */

static void register_families(void)
{
	m_cpu = base_metric_counter("process_cpu_seconds_total",
				    "Total user and system CPU time spent in seconds.", NULL);
	m_rss = base_metric_gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
				  NULL);
	m_vsz = base_metric_gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
				  NULL);
	m_fds = base_metric_gauge("process_open_fds", "Number of open file descriptors.", NULL);
	m_max_fds = base_metric_gauge("process_max_fds", "Maximum number of open file descriptors.",
				      NULL);
	m_start = base_metric_gauge("process_start_time_seconds",
				    "Start time of the process since unix epoch in seconds.", NULL);
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int memory_pages(unsigned long *vsz, unsigned long *rss)
{
	FILE *f = fopen("/proc/self/statm", "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lu %lu", vsz, rss);
	fclose(f);
	return n == 2 ? 0 : -1;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own descriptor */
}

/*
 * /proc/self/stat field 22 is the start time in clock ticks after boot. The
 * second field (comm) may hold spaces and parentheses, so parse after the
 * last ')'.
 */
static double start_time(void)
{
	char buf[1024], line[256];
	unsigned long long ticks = 0, btime = 0;
	const char *p;
	size_t n;
	FILE *f;
	int field;

	if (!(f = fopen("/proc/self/stat", "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')))
		return -1;
	/* After ')' comes field 3 (state); starttime is field 22. */
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return -1;
	if (!(f = fopen("/proc/stat", "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %llu", &btime) == 1)
			break;
	fclose(f);
	if (!btime)
		return -1;
	return (double)btime + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

void server_process_metrics_update(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long vsz, rss;
	struct rlimit rl;
	double cpu, t;
	int fds;

	pthread_mutex_lock(&lock);
	if (!m_cpu) {
		register_families();
		if ((t = start_time()) > 0)
			base_metric_set(m_start, t);
	}
	cpu = cpu_seconds();
	if (cpu > cpu_reported) {
		base_metric_add(m_cpu, cpu - cpu_reported);
		cpu_reported = cpu;
	}
	if (memory_pages(&vsz, &rss) == 0) {
		base_metric_set(m_rss, (double)rss * (double)page);
		base_metric_set(m_vsz, (double)vsz * (double)page);
	}
	if ((fds = open_fds()) >= 0)
		base_metric_set(m_fds, fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		base_metric_set(m_max_fds, rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
	pthread_mutex_unlock(&lock);
}
