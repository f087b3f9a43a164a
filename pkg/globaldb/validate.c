/*
 * Spec validation. Patterns are checked by small hand-written matchers rather
 * than regex(3): each rule is a few lines, needs no compiled state, and says
 * exactly what RDS, Route 53 or Kubernetes accept. Each check writes its field
 * path and stops at the first problem.
 */
#include "pkg/globaldb/validate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/err.h"

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return BASE_EINVAL;
}

static int is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* RDS: a letter first, then letters, digits and single hyphens, no hyphen last. */
int gdb_valid_rds_identifier(const char *s, size_t max_len)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max_len || !isalpha((unsigned char)s[0]) || s[n - 1] == '-')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-') {
			if (s[i + 1] == '-')
				return 0;
		} else if (!is_alnum(s[i])) {
			return 0;
		}
	}
	return 1;
}

/* us-east-1, ap-southeast-2, us-gov-west-1: two letters, words, a number. */
int gdb_valid_region_name(const char *s)
{
	size_t n = s ? strlen(s) : 0, i = 0, words = 0;

	if (n < 6 || n > 32 || !islower((unsigned char)s[0]) || !islower((unsigned char)s[1]) ||
	    s[2] != '-')
		return 0;
	i = 3;
	for (;;) {
		size_t start = i;

		while (i < n && islower((unsigned char)s[i]))
			i++;
		if (i == start) {
			/* the final number */
			while (i < n && isdigit((unsigned char)s[i]))
				i++;
			return words > 0 && i == n && i > start && i - start <= 2;
		}
		if (i >= n || s[i] != '-')
			return 0;
		i++;
		words++;
	}
}

static int valid_charset(const char *s, const char *extra, size_t max_len)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max_len)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(extra, s[i]))
			return 0;
	return 1;
}

/* A DNS label or subdomain: lower-case alphanumerics and '-', dots when subdomain. */
static int valid_dns(const char *s, size_t max_len, int subdomain, int need_dot)
{
	size_t n = s ? strlen(s) : 0, label = 0, dots = 0;

	if (n == 0 || n > max_len)
		return 0;
	if (subdomain && need_dot && s[n - 1] == '.')
		n--; /* a fully qualified name */
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.' && subdomain) {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			dots++;
			continue;
		}
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[n - 1] != '-' && (!need_dot || dots > 0);
}

static int valid_ssm_prefix(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 2 || n > 900 || s[0] != '/' || s[n - 1] == '/' || strstr(s, "//"))
		return 0;
	return valid_charset(s, "/_.-", 900);
}

static int valid_hosted_zone(const char *s)
{
	if (s && strncmp(s, "/hostedzone/", 12) == 0)
		s += 12;
	if (!s || s[0] != 'Z' || strlen(s) < 2 || strlen(s) > 32)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isupper((unsigned char)*p) && !isdigit((unsigned char)*p))
			return 0;
	return 1;
}

static int one_of(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

static int validate_region(const struct gdb_region_spec *r, size_t i, char *err, size_t errlen)
{
	const struct gdb_template *t = &r->template;

	if (!gdb_valid_region_name(r->name))
		return bad(err, errlen, "spec.regions[%zu].name: not an AWS region name", i);
	if (!gdb_valid_rds_identifier(r->db_cluster_identifier, 63))
		return bad(err, errlen,
			   "spec.regions[%zu].dbClusterIdentifier: must be 1-63 letters, digits or "
			   "single hyphens, starting with a letter, not ending with a hyphen",
			   i);
	if (r->probe_host && !valid_charset(r->probe_host, "-.:", 253))
		return bad(err, errlen, "spec.regions[%zu].probeEndpoint.host: not a host name", i);
	if (r->probe_host && (r->probe_port < 1 || r->probe_port > 65535))
		return bad(err, errlen, "spec.regions[%zu].probeEndpoint.port: out of range", i);
	if (!r->has_template)
		return 0;
	if (!t->instance_class || strncmp(t->instance_class, "db.", 3) != 0 ||
	    !valid_charset(t->instance_class, ".", 64))
		return bad(err, errlen,
			   "spec.regions[%zu].template.instanceClass: must look like db.r6g.large",
			   i);
	if (t->instances < 1 || t->instances > 16)
		return bad(err, errlen, "spec.regions[%zu].template.instances: must be 1 to 16", i);
	if (t->engine_version &&
	    (!isdigit((unsigned char)t->engine_version[0]) ||
	     strspn(t->engine_version, "0123456789.") != strlen(t->engine_version) ||
	     strlen(t->engine_version) > 32 || strstr(t->engine_version, "..") ||
	     t->engine_version[strlen(t->engine_version) - 1] == '.'))
		return bad(err, errlen, "spec.regions[%zu].template.engineVersion: not a version",
			   i);
	if (t->db_subnet_group_name && !valid_charset(t->db_subnet_group_name, " ._-", 255))
		return bad(err, errlen, "spec.regions[%zu].template.dbSubnetGroupName: invalid", i);
	if (t->kms_key_id && !valid_charset(t->kms_key_id, ":/_-", 2048))
		return bad(err, errlen, "spec.regions[%zu].template.kmsKeyId: invalid", i);
	if (t->db_cluster_parameter_group_name &&
	    !gdb_valid_rds_identifier(t->db_cluster_parameter_group_name, 255))
		return bad(err, errlen,
			   "spec.regions[%zu].template.dbClusterParameterGroupName: invalid", i);
	for (size_t j = 0; j < t->n_vpc_security_group_ids; j++) {
		const char *sg = t->vpc_security_group_ids[j];
		size_t n = strlen(sg);

		if (strncmp(sg, "sg-", 3) != 0 || n < 11 || n > 20 ||
		    strspn(sg + 3, "0123456789abcdef") != n - 3)
			return bad(err, errlen,
				   "spec.regions[%zu].template.vpcSecurityGroupIds[%zu]: not a "
				   "security group id",
				   i, j);
		for (size_t k = 0; k < j; k++)
			if (strcmp(sg, t->vpc_security_group_ids[k]) == 0)
				return bad(err, errlen,
					   "spec.regions[%zu].template.vpcSecurityGroupIds[%zu]: "
					   "duplicate",
					   i, j);
	}
	return 0;
}

static int validate_workloads(const struct gdb_spec *s, char *err, size_t errlen)
{
	const struct {
		const char *field;
		const struct gdb_k8s_workload *w;
		size_t n;
	} lists[] = {{"deployments", s->deployments, s->n_deployments},
		     {"statefulSets", s->stateful_sets, s->n_stateful_sets}};

	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; i < lists[l].n; i++) {
			const struct gdb_k8s_workload *w = &lists[l].w[i];

			if (!valid_dns(w->namespace_, 63, 0, 0))
				return bad(err, errlen, "spec.workloads.%s[%zu].namespace: invalid",
					   lists[l].field, i);
			if (!valid_dns(w->name, 253, 1, 0))
				return bad(err, errlen, "spec.workloads.%s[%zu].name: invalid",
					   lists[l].field, i);
			for (size_t j = 0; j < i; j++)
				if (strcmp(w->namespace_, lists[l].w[j].namespace_) == 0 &&
				    strcmp(w->name, lists[l].w[j].name) == 0)
					return bad(err, errlen, "spec.workloads.%s[%zu]: duplicate",
						   lists[l].field, i);
		}
	}
	for (size_t i = 0; i < s->n_ecs_services; i++) {
		const struct gdb_ecs_service *e = &s->ecs_services[i];

		if (!gdb_spec_region(s, e->region, NULL))
			return bad(err, errlen,
				   "spec.workloads.ecsServices[%zu].region: must be one of "
				   "spec.regions",
				   i);
		if (!valid_charset(e->cluster, ":/_-", 255))
			return bad(err, errlen, "spec.workloads.ecsServices[%zu].cluster: invalid",
				   i);
		if (!valid_charset(e->service, ":/_-", 255))
			return bad(err, errlen, "spec.workloads.ecsServices[%zu].service: invalid",
				   i);
	}
	return 0;
}

int gdb_spec_validate(const struct gdb_spec *s, char *err, size_t errlen)
{
	static const char *const ssl_modes[] = {"disable", "allow",	"prefer",
						"require", "verify-ca", "verify-full"};
	const struct gdb_health_check_spec *h = &s->health_check;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!gdb_valid_rds_identifier(s->global_cluster_identifier, 59))
		return bad(err, errlen,
			   "spec.globalClusterIdentifier: must be 1-59 letters, digits or single "
			   "hyphens, starting with a letter, not ending with a hyphen");
	if (s->n_regions < 2 || s->n_regions > GDB_MAX_REGIONS)
		return bad(err, errlen, "spec.regions: must have 2 to 6 regions");
	for (size_t i = 0; i < s->n_regions; i++) {
		if ((rc = validate_region(&s->regions[i], i, err, errlen)) < 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->regions[i].name, s->regions[j].name) == 0)
				return bad(err, errlen,
					   "spec.regions[%zu].name: duplicate region %s", i,
					   s->regions[i].name);
	}
	if (!gdb_valid_region_name(s->primary_region))
		return bad(err, errlen, "spec.primaryRegion: not an AWS region name");
	if (!gdb_spec_region(s, s->primary_region, NULL))
		return bad(err, errlen,
			   "spec.primaryRegion: must be the name of one of spec.regions");

	if (h->period_seconds < 1 || h->period_seconds > 300)
		return bad(err, errlen, "spec.healthCheck.periodSeconds: must be 1 to 300");
	if (h->timeout_seconds < 1 || h->timeout_seconds > h->period_seconds)
		return bad(err, errlen,
			   "spec.healthCheck.timeoutSeconds: must be at least 1 and at most "
			   "periodSeconds");
	if (h->failure_threshold < 1 || h->failure_threshold > 20)
		return bad(err, errlen, "spec.healthCheck.failureThreshold: must be 1 to 20");
	if (h->success_threshold < 1 || h->success_threshold > 20)
		return bad(err, errlen, "spec.healthCheck.successThreshold: must be 1 to 20");
	if (!!h->secret_name == !!h->secrets_manager_secret_id)
		return bad(err, errlen,
			   "spec.healthCheck: exactly one of credentialsSecretRef and "
			   "awsSecretsManagerSecretId must be set");
	if (h->secret_name && !valid_dns(h->secret_name, 253, 1, 0))
		return bad(err, errlen, "spec.healthCheck.credentialsSecretRef.name: invalid");
	if (h->username_key && !valid_charset(h->username_key, "-._", 253))
		return bad(err, errlen,
			   "spec.healthCheck.credentialsSecretRef.usernameKey: invalid");
	if (h->password_key && !valid_charset(h->password_key, "-._", 253))
		return bad(err, errlen,
			   "spec.healthCheck.credentialsSecretRef.passwordKey: invalid");
	if (h->secrets_manager_secret_id &&
	    !valid_charset(h->secrets_manager_secret_id, "/_+=.@:!-", 2048))
		return bad(err, errlen, "spec.healthCheck.awsSecretsManagerSecretId: invalid");
	if (!h->database || !valid_charset(h->database, "_$", 63) ||
	    isdigit((unsigned char)h->database[0]) || h->database[0] == '$')
		return bad(err, errlen, "spec.healthCheck.database: not a database name");
	if (!one_of(h->ssl_mode, ssl_modes, 6))
		return bad(err, errlen, "spec.healthCheck.sslMode: not a libpq sslmode");
	if (!strncmp(h->ssl_mode, "verify-", 7) && !h->ca_name)
		return bad(err, errlen,
			   "spec.healthCheck.caBundleRef: %s needs the CA bundle to check the "
			   "server's certificate against (the image has no trust store for "
			   "PostgreSQL; RDS's CAs are not publicly trusted)",
			   h->ssl_mode);
	if (h->ca_name && !valid_dns(h->ca_name, 253, 1, 0))
		return bad(err, errlen, "spec.healthCheck.caBundleRef.name: invalid");
	if (h->ca_key && !valid_charset(h->ca_key, "-._", 253))
		return bad(err, errlen, "spec.healthCheck.caBundleRef.key: invalid");
	if ((!strcmp(h->ssl_mode, "disable") || !strcmp(h->ssl_mode, "allow")) &&
	    !h->allow_insecure_password)
		return bad(err, errlen,
			   "spec.healthCheck.sslMode: %s sends the probe's login without TLS, "
			   "where anyone on the path can read it or answer for the database; set "
			   "spec.healthCheck.allowInsecurePassword: true to accept that",
			   h->ssl_mode);

	if (s->failover.max_data_loss_seconds < 0 || s->failover.max_data_loss_seconds > 3600)
		return bad(err, errlen, "spec.failover.maxDataLossSeconds: must be 0 to 3600");
	if (s->failover.in_region_grace_seconds < 0 || s->failover.in_region_grace_seconds > 3600)
		return bad(err, errlen, "spec.failover.inRegionGraceSeconds: must be 0 to 3600");
	if (s->failover.cooldown_seconds < 0 || s->failover.cooldown_seconds > 86400)
		return bad(err, errlen, "spec.failover.cooldownSeconds: must be 0 to 86400");

	if (s->has_dns) {
		if (!valid_hosted_zone(s->dns.hosted_zone_id))
			return bad(err, errlen, "spec.dns.hostedZoneId: not a hosted zone id");
		if (!valid_dns(s->dns.writer_record_name, 253, 1, 1))
			return bad(err, errlen, "spec.dns.writerRecordName: not a DNS name");
		if (s->dns.reader_record_name && !valid_dns(s->dns.reader_record_name, 253, 1, 1))
			return bad(err, errlen, "spec.dns.readerRecordName: not a DNS name");
		if (s->dns.reader_record_name &&
		    strcmp(s->dns.reader_record_name, s->dns.writer_record_name) == 0)
			return bad(err, errlen,
				   "spec.dns.readerRecordName: must differ from writerRecordName");
		if (s->dns.ttl_seconds < 1 || s->dns.ttl_seconds > 3600)
			return bad(err, errlen, "spec.dns.ttlSeconds: must be 1 to 3600");
	}
	if ((rc = validate_workloads(s, err, errlen)) < 0)
		return rc;
	if (s->ssm_parameter_prefix && !valid_ssm_prefix(s->ssm_parameter_prefix))
		return bad(err, errlen,
			   "spec.ssm.parameterPrefix: must start with a slash, not end with one, "
			   "and hold only letters, digits and _.-/");
	return 0;
}
