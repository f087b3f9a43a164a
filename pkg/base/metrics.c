/*
 * The metrics registry. Families sit in a global list in registration order
 * (rendering follows it). Each family keeps its series in a list keyed by the
 * label values joined with '\x1f'; label cardinality here is per resource and
 * region, so a linear search per update is cheap next to the work it counts.
 */
#include "pkg/base/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/map.h"

enum kind { COUNTER, GAUGE, HISTOGRAM };

struct series {
	struct series *next; /* the family's list */
	char *key;	     /* label values joined with '\x1f' */
	char **values;	     /* label values */
	double value;	     /* counter or gauge; histogram sum */
	uint64_t count;	     /* histogram count */
	uint64_t *buckets;
};

struct base_metric {
	struct base_metric *next;
	char *name;
	char *help;
	enum kind kind;
	char **labels;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	pthread_mutex_t lock;
	struct series *series;
	struct base_map by_key; /* the same series by key */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct base_metric *families;

const double base_metric_default_buckets[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7,
	0.8,   0.9,  1.0,   1.25, 1.5, 1.75, 2.0, 2.5,	3.0, 3.5, 4.0, 4.5, 5,
	6,     7,    8,	    9,	  10,  15,   20,  25,	30,  40,  50,  60};
const size_t base_metric_default_nbuckets = ARRAY_SIZE(base_metric_default_buckets);

static char **split_labels(const char *labels, size_t *n)
{
	char **out = NULL;
	const char *p = labels;
	size_t alloc = 0;

	*n = 0;
	if (!labels || !*labels)
		return NULL;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		ALLOC_GROW(out, *n + 1, alloc);
		out[(*n)++] = xstrndup(p, len);
		if (!comma)
			break;
		p = comma + 1;
	}
	return out;
}

static struct base_metric *family(const char *name, const char *help, const char *labels,
				  enum kind kind, const double *bounds, size_t nbounds)
{
	struct base_metric *m;
	size_t nlabels;
	char **names;

	pthread_mutex_lock(&registry_lock);
	for (m = families; m; m = m->next) {
		if (strcmp(m->name, name) == 0) {
			if (m->kind != kind)
				BUG("metric %s registered twice with different types", name);
			pthread_mutex_unlock(&registry_lock);
			return m;
		}
	}
	names = split_labels(labels, &nlabels);
	m = xcalloc(1, sizeof(*m));
	m->name = xstrdup(name);
	m->help = xstrdup(help);
	m->kind = kind;
	m->labels = names;
	m->nlabels = nlabels;
	if (kind == HISTOGRAM) {
		m->bounds = xmalloc(nbounds * sizeof(*bounds));
		memcpy(m->bounds, bounds, nbounds * sizeof(*bounds));
		m->nbounds = nbounds;
	}
	pthread_mutex_init(&m->lock, NULL);
	/* Append, so rendering follows registration order. */
	if (!families) {
		families = m;
	} else {
		struct base_metric *last = families;

		while (last->next)
			last = last->next;
		last->next = m;
	}
	pthread_mutex_unlock(&registry_lock);
	return m;
}

struct base_metric *base_metric_counter(const char *name, const char *help, const char *labels)
{
	return family(name, help, labels, COUNTER, NULL, 0);
}

struct base_metric *base_metric_gauge(const char *name, const char *help, const char *labels)
{
	return family(name, help, labels, GAUGE, NULL, 0);
}

struct base_metric *base_metric_histogram(const char *name, const char *help, const char *labels,
					  const double *buckets, size_t nbuckets)
{
	return family(name, help, labels, HISTOGRAM, buckets, nbuckets);
}

/* Collects the label values from ap into a key; values are copied into vals. */
static char *make_key(struct base_metric *m, va_list ap, const char **vals)
{
	struct base_buf key = BASE_BUF_INIT(0);

	for (size_t i = 0; i < m->nlabels; i++) {
		const char *v = va_arg(ap, const char *);

		vals[i] = v ? v : "";
		if (i)
			base_buf_addch(&key, '\x1f');
		base_buf_adds(&key, vals[i]);
	}
	return base_buf_detach(&key, NULL);
}

/* Finds or creates the series; called with m->lock held. */
static struct series *lookup(struct base_metric *m, va_list ap, int create)
{
	const char *vals[16];
	struct series *s;
	char *key;

	BUG_ON(m->nlabels > ARRAY_SIZE(vals));
	key = make_key(m, ap, vals);
	s = base_map_get(&m->by_key, key);
	if (s || !create) {
		free(key);
		return s;
	}
	s = xcalloc(1, sizeof(*s));
	s->key = key;
	s->values = xcalloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
	for (size_t i = 0; i < m->nlabels; i++)
		s->values[i] = xstrdup(vals[i]);
	if (m->kind == HISTOGRAM)
		s->buckets = xcalloc(m->nbounds ? m->nbounds : 1, sizeof(uint64_t));
	s->next = m->series;
	m->series = s;
	base_map_put(&m->by_key, s->key, s);
	return s;
}

void base_metric_add(struct base_metric *m, double v, ...)
{
	va_list ap;

	BUG_ON(m->kind == HISTOGRAM);
	pthread_mutex_lock(&m->lock);
	va_start(ap, v);
	lookup(m, ap, 1)->value += v;
	va_end(ap);
	pthread_mutex_unlock(&m->lock);
}

void base_metric_set(struct base_metric *m, double v, ...)
{
	va_list ap;

	BUG_ON(m->kind != GAUGE);
	pthread_mutex_lock(&m->lock);
	va_start(ap, v);
	lookup(m, ap, 1)->value = v;
	va_end(ap);
	pthread_mutex_unlock(&m->lock);
}

void base_metric_observe(struct base_metric *m, double v, ...)
{
	struct series *s;
	va_list ap;

	BUG_ON(m->kind != HISTOGRAM);
	pthread_mutex_lock(&m->lock);
	va_start(ap, v);
	s = lookup(m, ap, 1);
	va_end(ap);
	s->value += v;
	s->count++;
	for (size_t i = 0; i < m->nbounds; i++)
		if (v <= m->bounds[i])
			s->buckets[i]++;
	pthread_mutex_unlock(&m->lock);
}

static void free_series(struct base_metric *m, struct series *s)
{
	for (size_t i = 0; i < m->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s->key);
	free(s);
}

void base_metric_remove(struct base_metric *m, ...)
{
	struct series *s, **pp;
	va_list ap;

	pthread_mutex_lock(&m->lock);
	va_start(ap, m);
	s = lookup(m, ap, 0);
	va_end(ap);
	if (s) {
		base_map_remove(&m->by_key, s->key);
		for (pp = &m->series; *pp != s; pp = &(*pp)->next)
			;
		*pp = s->next;
		free_series(m, s);
	}
	pthread_mutex_unlock(&m->lock);
}

double base_metric_value(struct base_metric *m, ...)
{
	struct series *s;
	double v;
	va_list ap;

	pthread_mutex_lock(&m->lock);
	va_start(ap, m);
	s = lookup(m, ap, 0);
	va_end(ap);
	v = s ? (m->kind == HISTOGRAM ? (double)s->count : s->value) : 0;
	pthread_mutex_unlock(&m->lock);
	return v;
}

static void add_number(struct base_buf *out, double v)
{
	if (isinf(v))
		base_buf_adds(out, v > 0 ? "+Inf" : "-Inf");
	else if (isnan(v))
		base_buf_adds(out, "NaN");
	else
		base_buf_addf(out, "%.17g", v);
}

/* Label values are escaped as the exposition format requires: \\, \" and \n. */
static void add_labels(struct base_buf *out, struct base_metric *m, struct series *s,
		       const char *le)
{
	int any = 0;

	if (m->nlabels == 0 && !le)
		return;
	base_buf_addch(out, '{');
	for (size_t i = 0; i < m->nlabels; i++) {
		base_buf_addf(out, "%s%s=\"", any++ ? "," : "", m->labels[i]);
		for (const char *p = s->values[i]; *p; p++) {
			if (*p == '\\' || *p == '"')
				base_buf_addch(out, '\\');
			if (*p == '\n')
				base_buf_adds(out, "\\n");
			else
				base_buf_addch(out, *p);
		}
		base_buf_addch(out, '"');
	}
	if (le)
		base_buf_addf(out, "%sle=\"%s\"", any ? "," : "", le);
	base_buf_addch(out, '}');
}

static void render_family(struct base_buf *out, struct base_metric *m)
{
	static const char *types[] = {"counter", "gauge", "histogram"};

	base_buf_addf(out, "# HELP %s ", m->name);
	for (const char *p = m->help; *p; p++) {
		if (*p == '\\')
			base_buf_adds(out, "\\\\");
		else if (*p == '\n')
			base_buf_adds(out, "\\n");
		else
			base_buf_addch(out, *p);
	}
	base_buf_addf(out, "\n# TYPE %s %s\n", m->name, types[m->kind]);
	for (struct series *s = m->series; s; s = s->next) {
		if (m->kind != HISTOGRAM) {
			base_buf_adds(out, m->name);
			add_labels(out, m, s, NULL);
			base_buf_addch(out, ' ');
			add_number(out, s->value);
			base_buf_addch(out, '\n');
			continue;
		}
		for (size_t i = 0; i < m->nbounds; i++) {
			char le[32];

			snprintf(le, sizeof(le), "%.17g", m->bounds[i]);
			base_buf_addf(out, "%s_bucket", m->name);
			add_labels(out, m, s, le);
			base_buf_addf(out, " %llu\n", (unsigned long long)s->buckets[i]);
		}
		base_buf_addf(out, "%s_bucket", m->name);
		add_labels(out, m, s, "+Inf");
		base_buf_addf(out, " %llu\n%s_sum", (unsigned long long)s->count, m->name);
		add_labels(out, m, s, NULL);
		base_buf_addch(out, ' ');
		add_number(out, s->value);
		base_buf_addf(out, "\n%s_count", m->name);
		add_labels(out, m, s, NULL);
		base_buf_addf(out, " %llu\n", (unsigned long long)s->count);
	}
}

int base_metrics_render(struct base_buf *out)
{
	struct base_metric *m;

	/* Registration takes only registry_lock, so this nesting cannot deadlock. */
	pthread_mutex_lock(&registry_lock);
	for (m = families; m; m = m->next) {
		pthread_mutex_lock(&m->lock);
		render_family(out, m);
		pthread_mutex_unlock(&m->lock);
	}
	pthread_mutex_unlock(&registry_lock);
	return 0;
}
