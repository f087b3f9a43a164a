/*
 * metrics.h - the process's Prometheus metrics registry.
 *
 * Every layer records into one registry (as client_golang's default one);
 * pkg/server only renders it. A metric family has a name, help text, a type
 * and a fixed list of label names; each distinct tuple of label values is a
 * series, created on first use.
 *
 *   static struct base_metric *reconciles;
 *   reconciles = base_metric_counter("controller_runtime_reconcile_total",
 *                                    "Total number of reconciliations per controller",
 *                                    "controller,result");
 *   base_metric_add(reconciles, 1, "globaldatabase", "success");
 *
 * Registering the same name again returns the existing family (the type and
 * labels must match, else BUG). Label values are passed as const char *
 * arguments, exactly as many as the family has label names.
 *
 * Thread-safe: a mutex per family; rendering locks one family at a time.
 * Families live for the life of the process.
 */
#ifndef BASE_METRICS_H
#define BASE_METRICS_H

#include <stddef.h>

#include "pkg/base/buf.h"

struct base_metric;

/* Registers (or finds) a family. labels: comma-separated names, or NULL/"" for none. */
struct base_metric *base_metric_counter(const char *name, const char *help, const char *labels);
struct base_metric *base_metric_gauge(const char *name, const char *help, const char *labels);
/* buckets: strictly increasing upper bounds (the +Inf bucket is implicit). Copied. */
struct base_metric *base_metric_histogram(const char *name, const char *help, const char *labels,
					  const double *buckets, size_t nbuckets);

/* Counter += v (v >= 0). Label values follow. */
void base_metric_add(struct base_metric *m, double v, ...);
/* Gauge = v. */
void base_metric_set(struct base_metric *m, double v, ...);
/* Histogram observation. */
void base_metric_observe(struct base_metric *m, double v, ...);
/* Removes one series (e.g. when a resource is deleted). */
void base_metric_remove(struct base_metric *m, ...);
/* The current value of a counter or gauge series (0 if absent); for tests and status. */
double base_metric_value(struct base_metric *m, ...);

/* Appends every family in the Prometheus text exposition format 0.0.4. */
int base_metrics_render(struct base_buf *out);

/* Default buckets: controller-runtime's reconcile-time buckets (seconds). */
extern const double base_metric_default_buckets[];
extern const size_t base_metric_default_nbuckets;

#endif
