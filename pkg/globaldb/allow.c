/*
 * The allowlists (allow.h). Entries are validated when a flag sets them, so
 * matching never meets a malformed one. A match expands "{namespace}" into a
 * bounded buffer first, then compares: exact, "*", or prefix for an entry
 * ending in '*'; SSM prefixes compare as paths. The check walks the spec in
 * a fixed order (secret, probe hosts, zone, SSM, ECS, workloads) and stops at
 * the first refusal, so a spec with two problems names the same one on every
 * reconcile and its condition does not flap.
 */
#include "pkg/globaldb/allow.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

#define NS_PLACEHOLDER "{namespace}"

static const char *const flag_names[GDB_ALLOW__COUNT] = {
	[GDB_ALLOW_SECRETS] = "allowed-secrets",
	[GDB_ALLOW_PROBE_HOSTS] = "allowed-probe-hosts",
	[GDB_ALLOW_ROUTE53_ZONES] = "allowed-route53-zones",
	[GDB_ALLOW_SSM_PREFIXES] = "allowed-ssm-prefixes",
	[GDB_ALLOW_ECS_CLUSTERS] = "allowed-ecs-clusters",
};

const char *gdb_allow_flag(enum gdb_allow_kind kind)
{
	return (unsigned)kind < GDB_ALLOW__COUNT ? flag_names[kind] : "?";
}

static void clear_kind(struct gdb_allow *a, enum gdb_allow_kind kind)
{
	for (size_t i = 0; i < a->n[kind]; i++) {
		free(a->entries[kind][i]);
		a->entries[kind][i] = NULL;
	}
	a->n[kind] = 0;
}

void gdb_allow_release(struct gdb_allow *a)
{
	if (!a)
		return;
	for (int k = 0; k < GDB_ALLOW__COUNT; k++)
		clear_kind(a, (enum gdb_allow_kind)k);
}

static int bad_entry(const char *e, size_t len, char *err, size_t errlen)
{
	const char *star;

	if (len == 0) {
		snprintf(err, errlen, "an empty entry (two commas, or a comma at an end)");
		return 1;
	}
	if (len > GDB_ALLOW_MAX_ENTRY) {
		snprintf(err, errlen, "an entry is longer than %d characters", GDB_ALLOW_MAX_ENTRY);
		return 1;
	}
	for (size_t i = 0; i < len; i++)
		if (iscntrl((unsigned char)e[i]) || isspace((unsigned char)e[i])) {
			snprintf(err, errlen, "entry \"%.*s\" holds a space or control character",
				 (int)(len > 64 ? 64 : len), e);
			return 1;
		}
	star = memchr(e, '*', len);
	if (star && star != e + len - 1) {
		snprintf(err, errlen, "entry \"%.*s\": '*' may only end an entry",
			 (int)(len > 64 ? 64 : len), e);
		return 1;
	}
	return 0;
}

int gdb_allow_set(struct gdb_allow *a, enum gdb_allow_kind kind, const char *csv, char *err,
		  size_t errlen)
{
	const char *p = csv;

	if ((unsigned)kind >= GDB_ALLOW__COUNT)
		BUG("gdb_allow_set: kind %d", (int)kind);
	clear_kind(a, kind);
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		const char *end = strchr(p, ','), *stop;
		size_t len;

		stop = end ? end : p + strlen(p);
		while (p < stop && *p == ' ')
			p++;
		len = (size_t)(stop - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (bad_entry(p, len, err, errlen))
			goto fail;
		if (a->n[kind] == GDB_ALLOW_MAX_ENTRIES) {
			snprintf(err, errlen, "more than %d entries", GDB_ALLOW_MAX_ENTRIES);
			goto fail;
		}
		a->entries[kind][a->n[kind]++] = xstrndup(p, len);
		if (!end)
			return 0;
		p = end + 1;
	}
fail:
	clear_kind(a, kind);
	return BASE_EINVAL;
}

/* entry with each "{namespace}" replaced by ns, into out; 0, or -1 when it does not fit. */
static int expand(const char *entry, const char *ns, char *out, size_t outlen)
{
	size_t o = 0, plen = strlen(NS_PLACEHOLDER), nlen = strlen(ns);

	while (*entry) {
		if (!strncmp(entry, NS_PLACEHOLDER, plen)) {
			if (o + nlen >= outlen)
				return -1;
			memcpy(out + o, ns, nlen);
			o += nlen;
			entry += plen;
			continue;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = *entry++;
	}
	out[o] = '\0';
	return 0;
}

static int matches(enum gdb_allow_kind kind, const char *entry, const char *value)
{
	size_t len = strlen(entry);

	if (!strcmp(entry, "*"))
		return 1;
	if (len > 0 && entry[len - 1] == '*')
		return kind == GDB_ALLOW_PROBE_HOSTS ? !strncasecmp(value, entry, len - 1)
						     : !strncmp(value, entry, len - 1);
	if (kind == GDB_ALLOW_PROBE_HOSTS)
		return !strcasecmp(value, entry);
	if (kind == GDB_ALLOW_SSM_PREFIXES && len > 0 && !strncmp(value, entry, len))
		return value[len] == '\0' || value[len] == '/' || entry[len - 1] == '/';
	return !strcmp(value, entry);
}

/* A hosted zone id may be written "Z…" or "/hostedzone/Z…": both compare as "Z…". */
static const char *zone_id(const char *s)
{
	return strncmp(s, "/hostedzone/", 12) ? s : s + 12;
}

static int allowed(const struct gdb_allow *a, enum gdb_allow_kind kind, const char *ns,
		   const char *value)
{
	char buf[GDB_ALLOW_MAX_ENTRY + 256];
	int zone = kind == GDB_ALLOW_ROUTE53_ZONES;

	if (!a)
		return 0;
	for (size_t i = 0; i < a->n[kind]; i++)
		if (expand(a->entries[kind][i], ns, buf, sizeof(buf)) == 0 &&
		    matches(kind, zone ? zone_id(buf) : buf, zone ? zone_id(value) : value))
			return 1;
	return 0;
}

static const char *deny(char *msg, size_t msglen, const char *reason, const char *field,
			const char *value, enum gdb_allow_kind kind)
{
	snprintf(msg, msglen,
		 "%s %.200s is not allowed: the controller's --%s does not list it (ask the "
		 "operator of the controller to add it); nothing was done",
		 field, value, gdb_allow_flag(kind));
	return reason;
}

size_t gdb_allow_foreign_namespaces(const struct gdb_spec *spec, const char *ns, const char **out,
				    size_t max)
{
	const struct gdb_k8s_workload *lists[2] = {spec->deployments, spec->stateful_sets};
	size_t counts[2] = {spec->n_deployments, spec->n_stateful_sets}, n = 0;

	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < counts[l]; i++) {
			const char *w = lists[l][i].namespace_;
			size_t j;

			if (!w || !strcmp(w, ns))
				continue;
			for (j = 0; j < n && strcmp(out[j], w); j++)
				;
			if (j == n && n < max)
				out[n++] = w;
		}
	return n;
}

/* Whether the annotation value (a comma-separated list) names ns or "*". */
static int optin_names(const char *list, const char *ns)
{
	size_t nlen = strlen(ns);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len > 0 && *p == ' ')
			p++, len--;
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if ((len == 1 && *p == '*') || (len == nlen && !strncmp(p, ns, len)))
			return 1;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static const char *deny_restart(char *msg, size_t msglen, const char *reason, const char *field,
				size_t i, const char *target_ns, const char *ns)
{
	snprintf(msg, msglen,
		 "spec.workloads.%s[%zu] is in namespace %s, and that namespace does not allow "
		 "restarts from %s: its annotation %s must name %s; nothing was done",
		 field, i, target_ns, ns, GDB_ANNOTATION_ALLOW_RESTARTS_FROM, ns);
	return reason;
}

static const char *check_workloads(const char *ns, const struct gdb_spec *spec,
				   const struct gdb_ns_optin *optins, size_t n_optins, char *msg,
				   size_t msglen)
{
	static const char *const fields[2] = {"deployments", "statefulSets"};
	const struct gdb_k8s_workload *lists[2] = {spec->deployments, spec->stateful_sets};
	size_t counts[2] = {spec->n_deployments, spec->n_stateful_sets};

	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < counts[l]; i++) {
			const struct gdb_k8s_workload *w = &lists[l][i];
			const struct gdb_ns_optin *o = NULL;

			if (!w->namespace_ || !strcmp(w->namespace_, ns))
				continue;
			for (size_t j = 0; j < n_optins; j++)
				if (optins[j].name && !strcmp(optins[j].name, w->namespace_))
					o = &optins[j];
			if (o && optin_names(o->allow_from, ns))
				continue;
			return deny_restart(msg, msglen, "RestartNotAllowed", fields[l], i,
					    w->namespace_, ns);
		}
	return NULL;
}

const char *gdb_allow_check(const struct gdb_allow *a, const char *ns, const struct gdb_spec *spec,
			    const struct gdb_ns_optin *optins, size_t n_optins, char *msg,
			    size_t msglen)
{
	const char *id = spec->health_check.secrets_manager_secret_id;
	char field[96];

	if (id && !allowed(a, GDB_ALLOW_SECRETS, ns, id))
		return deny(msg, msglen, "SecretNotAllowed",
			    "spec.healthCheck.awsSecretsManagerSecretId", id, GDB_ALLOW_SECRETS);
	for (size_t i = 0; i < spec->n_regions; i++) {
		const char *host = spec->regions[i].probe_host;

		if (!host || allowed(a, GDB_ALLOW_PROBE_HOSTS, ns, host))
			continue;
		snprintf(field, sizeof(field), "spec.regions[%zu].probeEndpoint.host", i);
		return deny(msg, msglen, "ProbeEndpointNotAllowed", field, host,
			    GDB_ALLOW_PROBE_HOSTS);
	}
	if (spec->has_dns && spec->dns.hosted_zone_id &&
	    !allowed(a, GDB_ALLOW_ROUTE53_ZONES, ns, spec->dns.hosted_zone_id))
		return deny(msg, msglen, "Route53ZoneNotAllowed", "spec.dns.hostedZoneId",
			    spec->dns.hosted_zone_id, GDB_ALLOW_ROUTE53_ZONES);
	if (spec->ssm_parameter_prefix &&
	    !allowed(a, GDB_ALLOW_SSM_PREFIXES, ns, spec->ssm_parameter_prefix))
		return deny(msg, msglen, "SsmPrefixNotAllowed", "spec.ssm.parameterPrefix",
			    spec->ssm_parameter_prefix, GDB_ALLOW_SSM_PREFIXES);
	for (size_t i = 0; i < spec->n_ecs_services; i++) {
		const char *cl = spec->ecs_services[i].cluster;

		if (!cl || allowed(a, GDB_ALLOW_ECS_CLUSTERS, ns, cl))
			continue;
		snprintf(field, sizeof(field), "spec.workloads.ecsServices[%zu].cluster", i);
		return deny(msg, msglen, "EcsClusterNotAllowed", field, cl, GDB_ALLOW_ECS_CLUSTERS);
	}
	return check_workloads(ns, spec, optins, n_optins, msg, msglen);
}
