/*
 * object_metrics.c - see object_metrics.h.
 */
#include "pkg/globaldb/object_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/metrics.h"

static struct base_metric *m_primary, *m_budget, *m_condition, *m_in_progress, *m_started,
	*m_operations, *m_failovers, *m_steps;

static void register_families(void)
{
	static const double step_buckets[] = {0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800};

	m_primary =
		base_metric_gauge("globaldb_current_primary_info",
				  "1 for the region that holds the writer of each GlobalDatabase",
				  "namespace,name,region,global_cluster");
	m_budget = base_metric_gauge("globaldb_data_loss_budget_seconds",
				     "spec.failover.maxDataLossSeconds of each GlobalDatabase",
				     "namespace,name");
	m_condition = base_metric_gauge("globaldb_condition",
					"1 for each condition's current status, 0 for the others",
					"namespace,name,type,status");
	m_in_progress = base_metric_gauge("globaldb_operation_in_progress",
					  "1 while an operation runs, with its current step",
					  "namespace,name,type,step");
	m_started = base_metric_gauge("globaldb_operation_start_time_seconds",
				      "When the running operation started, Unix seconds",
				      "namespace,name,type");
	m_operations = base_metric_counter("globaldb_operations_total",
					   "Operations finished, by type and result",
					   "namespace,name,type,result");
	m_failovers = base_metric_counter("globaldb_failovers_total",
					  "Unplanned failovers finished, by method and result",
					  "namespace,name,method,result");
	m_steps = base_metric_histogram("globaldb_operation_step_duration_seconds",
					"Duration of each finished operation step",
					"operation,step", step_buckets, ARRAY_SIZE(step_buckets));
}

void gdb_object_metrics_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, register_families);
}

static const char *const cond_status[] = {"Unknown", "True", "False"};

static void clear(char **p)
{
	free(*p);
	*p = NULL;
}

static void set_primary(struct gdb_object_metrics *m, const char *ns, const char *name,
			const char *region, const char *global)
{
	if (!global)
		global = "";
	if (m->primary_region &&
	    (!region || strcmp(region, m->primary_region) || strcmp(global, m->primary_global))) {
		base_metric_remove(m_primary, ns, name, m->primary_region, m->primary_global);
		clear(&m->primary_region);
		clear(&m->primary_global);
	}
	if (region && !m->primary_region) {
		m->primary_region = xstrdup(region);
		m->primary_global = xstrdup(global);
		base_metric_set(m_primary, 1, ns, name, region, global);
	}
}

static void set_operation(struct gdb_object_metrics *m, const char *ns, const char *name,
			  const struct gdb_operation *op)
{
	const char *type = op->type != GDB_OP_NONE ? gdb_op_type_name(op->type) : NULL;
	const char *step = type ? gdb_step_name(op->step) : NULL;

	if (m->op_type && (!type || strcmp(type, m->op_type) || strcmp(step, m->op_step))) {
		base_metric_remove(m_in_progress, ns, name, m->op_type, m->op_step);
		if (!type || strcmp(type, m->op_type))
			base_metric_remove(m_started, ns, name, m->op_type);
		clear(&m->op_type);
		clear(&m->op_step);
	}
	if (type && !m->op_type) {
		m->op_type = xstrdup(type);
		m->op_step = xstrdup(step);
		base_metric_set(m_in_progress, 1, ns, name, type, step);
		base_metric_set(m_started, (double)op->started_ms / 1000.0, ns, name, type);
	}
}

static void set_conditions(struct gdb_object_metrics *m, const char *ns, const char *name,
			   const struct gdb_status *st)
{
	for (size_t i = 0; i < st->n_conditions; i++) {
		const struct gdb_condition *c = &st->conditions[i];
		size_t k;

		for (size_t s = 0; s < ARRAY_SIZE(cond_status); s++)
			base_metric_set(m_condition, c->status == (enum gdb_cond_status)s ? 1 : 0,
					ns, name, c->type, cond_status[s]);
		for (k = 0; k < m->n_cond_types && strcmp(m->cond_types[k], c->type); k++)
			;
		if (k == m->n_cond_types && k < ARRAY_SIZE(m->cond_types))
			m->cond_types[m->n_cond_types++] = xstrdup(c->type);
	}
}

static void count_finished(const char *ns, const char *name, const struct gdb_status *old,
			   const struct gdb_status *cur)
{
	const struct gdb_operation *l = &cur->last_operation;

	if (l->finished_ms == 0 || l->type == GDB_OP_NONE ||
	    (l->id == old->last_operation.id && l->finished_ms == old->last_operation.finished_ms))
		return;
	base_metric_add(m_operations, 1, ns, name, gdb_op_type_name(l->type),
			gdb_op_result_name(l->result));
	if (l->type == GDB_OP_FAILOVER)
		base_metric_add(m_failovers, 1, ns, name, gdb_op_method_name(l->method),
				gdb_op_result_name(l->result));
	for (size_t i = 0; i < l->n_steps; i++)
		base_metric_observe(m_steps, (double)l->steps[i].duration_seconds,
				    gdb_op_type_name(l->type), l->steps[i].name);
}

void gdb_object_metrics_update(struct gdb_object_metrics *m, const char *ns, const char *name,
			       const struct gdb_spec *spec, const struct gdb_status *old,
			       const struct gdb_status *cur)
{
	gdb_object_metrics_init();
	set_primary(m, ns, name, cur->current_primary_region, cur->global_cluster_identifier);
	if (spec) {
		base_metric_set(m_budget, spec->failover.max_data_loss_seconds, ns, name);
		m->have_budget = 1;
	}
	set_operation(m, ns, name, &cur->operation);
	set_conditions(m, ns, name, cur);
	count_finished(ns, name, old, cur);
}

void gdb_object_metrics_forget(struct gdb_object_metrics *m, const char *ns, const char *name)
{
	gdb_object_metrics_init();
	set_primary(m, ns, name, NULL, NULL);
	set_operation(m, ns, name, &(struct gdb_operation){.type = GDB_OP_NONE});
	if (m->have_budget)
		base_metric_remove(m_budget, ns, name);
	m->have_budget = 0;
	for (size_t i = 0; i < m->n_cond_types; i++) {
		for (size_t s = 0; s < ARRAY_SIZE(cond_status); s++)
			base_metric_remove(m_condition, ns, name, m->cond_types[i], cond_status[s]);
		clear(&m->cond_types[i]);
	}
	m->n_cond_types = 0;
}

void gdb_object_metrics_release(struct gdb_object_metrics *m)
{
	clear(&m->primary_region);
	clear(&m->primary_global);
	clear(&m->op_type);
	clear(&m->op_step);
	for (size_t i = 0; i < m->n_cond_types; i++)
		clear(&m->cond_types[i]);
	m->n_cond_types = 0;
}
