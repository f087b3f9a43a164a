/*
 * process.h - the process_* metrics Prometheus expects of every exporter,
 * with client_golang's names and meanings, read from /proc at each scrape:
 *
 *   process_cpu_seconds_total      user + system CPU time (getrusage)
 *   process_resident_memory_bytes  resident set size (/proc/self/statm)
 *   process_virtual_memory_bytes   virtual memory size (/proc/self/statm)
 *   process_open_fds               open file descriptors (/proc/self/fd)
 *   process_max_fds                the RLIMIT_NOFILE soft limit
 *   process_start_time_seconds     when the process started, Unix seconds
 *                                  (/proc/self/stat starttime + /proc/stat btime)
 *
 * Nothing to set up: /metrics calls server_process_metrics_update() before it
 * renders. A value that cannot be read is left as it was.
 *
 * Thread-safe.
 */
#ifndef SERVER_PROCESS_H
#define SERVER_PROCESS_H

/* Registers the families on first use and refreshes their values. */
void server_process_metrics_update(void);

#endif
