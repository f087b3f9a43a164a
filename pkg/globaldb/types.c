/*
 * JSON <-> structs for the GlobalDatabase spec and status.
 *
 * Size: over the house's 800 lines; spec decoding and status encoding and
 * decoding are the seam along which it is to be split (issue 22, open).
 *
 * A small decoding context carries the JSON path of the field being read
 * ("spec.regions[1].template") and the first error; each helper reads one
 * field of one object, checks its JSON type and its cap, and on failure
 * writes "<path>.<field>: <what is wrong>" and returns BASE_EINVAL. Callers
 * chain them with `if (rc < 0) goto out`, so decoding stops at the first
 * problem and the struct holds whatever was decoded so far (released by the
 * caller as usual).
 */
#include "pkg/globaldb/types.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

struct dctx {
	char path[256];
	char *err;
	size_t errlen;
};

static int fail(struct dctx *c, const char *field, const char *what)
{
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s%s%s: %s", c->path, field && *field ? "." : "",
			 field ? field : "", what);
	return BASE_EINVAL;
}

/* Appends ".field" or "[i]" to the path; returns the old length to restore. */
static size_t push(struct dctx *c, const char *field, long index)
{
	size_t old = strlen(c->path);

	if (index >= 0)
		snprintf(c->path + old, sizeof(c->path) - old, ".%s[%ld]", field, index);
	else
		snprintf(c->path + old, sizeof(c->path) - old, ".%s", field);
	return old;
}

static void pop(struct dctx *c, size_t old)
{
	c->path[old] = '\0';
}

void gdb_set_str(char **dst, const char *src)
{
	char *copy = src ? xstrdup(src) : NULL;

	free(*dst);
	*dst = copy;
}

/* An optional object member: NULL when absent or JSON null. */
static json_t *member(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static int get_obj(struct dctx *c, const json_t *obj, const char *key, int required, json_t **out)
{
	json_t *v = member(obj, key);

	*out = NULL;
	if (!v)
		return required ? fail(c, key, "required") : 0;
	if (!json_is_object(v))
		return fail(c, key, "must be an object");
	*out = v;
	return 0;
}

static int get_arr(struct dctx *c, const json_t *obj, const char *key, size_t max, json_t **out)
{
	json_t *v = member(obj, key);
	char what[64];

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail(c, key, "must be an array");
	if (json_array_size(v) > max) {
		snprintf(what, sizeof(what), "must have at most %zu items", max);
		return fail(c, key, what);
	}
	*out = v;
	return 0;
}

static int get_str(struct dctx *c, const json_t *obj, const char *key, int required, char **out)
{
	json_t *v = member(obj, key);

	if (!v)
		return required ? fail(c, key, "required") : 0;
	if (!json_is_string(v))
		return fail(c, key, "must be a string");
	if (json_string_length(v) > GDB_MAX_STRING)
		return fail(c, key, "too long");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(c, key, "must not contain NUL bytes");
	if (required && json_string_length(v) == 0)
		return fail(c, key, "must not be empty");
	gdb_set_str(out, json_string_value(v));
	return 0;
}

static int get_int(struct dctx *c, const json_t *obj, const char *key, int64_t dflt, int64_t min,
		   int64_t max, int64_t *out)
{
	json_t *v = member(obj, key);
	char what[96];

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v))
		return fail(c, key, "must be an integer");
	if (json_integer_value(v) < min || json_integer_value(v) > max) {
		snprintf(what, sizeof(what), "must be between %" PRId64 " and %" PRId64, min, max);
		return fail(c, key, what);
	}
	*out = json_integer_value(v);
	return 0;
}

static int get_int32(struct dctx *c, const json_t *obj, const char *key, int dflt, int min, int max,
		     int *out)
{
	int64_t v;
	int rc = get_int(c, obj, key, dflt, min, max, &v);

	*out = (int)v;
	return rc;
}

static int get_bool(struct dctx *c, const json_t *obj, const char *key, int *out)
{
	json_t *v = member(obj, key);

	*out = -1;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, key, "must be a boolean");
	*out = json_is_true(v);
	return 0;
}

static int get_time(struct dctx *c, const json_t *obj, const char *key, int64_t *out)
{
	char *s = NULL;
	int rc;

	*out = 0;
	rc = get_str(c, obj, key, 0, &s);
	if (rc < 0 || !s)
		goto out;
	if (base_time_parse(s, out) < 0)
		rc = fail(c, key, "must be an RFC 3339 time");
out:
	free(s);
	return rc;
}

/* An enum given as a string among names[0..n) (NULL entries skipped); dflt when absent. */
static int get_enum(struct dctx *c, const json_t *obj, const char *key, const char *const *names,
		    int n, int dflt, int *out)
{
	json_t *v = member(obj, key);
	char what[256];
	size_t len = 0;

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return fail(c, key, "must be a string");
	for (int i = 0; i < n; i++) {
		if (names[i] && strcmp(names[i], json_string_value(v)) == 0) {
			*out = i;
			return 0;
		}
	}
	len = (size_t)snprintf(what, sizeof(what), "must be one of");
	for (int i = 0; i < n && len < sizeof(what); i++)
		if (names[i])
			len += (size_t)snprintf(what + len, sizeof(what) - len, " %s", names[i]);
	return fail(c, key, what);
}

/* ---- names ---- */

static const char *const mode_names[] = {"Automatic", "Manual"};
static const char *const method_names[] = {"Auto", "Managed", "DetachAndPromote"};
static const char *const confirm_names[] = {"ControlPlane", "None"};
static const char *const deletion_names[] = {"Retain", "Delete"};
static const char *const adoption_names[] = {"RequireOwnerTag", "AdoptUntagged"};
static const char *const role_names[] = {"Unknown",  "Primary", "Secondary",
					 "Detached", "Lost",	"Rebuilding"};
static const char *const op_type_names[] = {NULL, "Switchover", "Failover", "Fallback"};
static const char *const op_method_names[] = {NULL, "Switchover", "Managed", "DetachAndPromote"};
static const char *const result_names[] = {NULL, "Succeeded", "Failed", "Cancelled"};
static const char *const cond_names[] = {"Unknown", "True", "False"};
static const char *const step_names[GDB_STEP__COUNT] = {
	[GDB_STEP_NONE] = NULL,
	[GDB_STEP_AWAITING_APPROVAL] = "AwaitingApproval",
	[GDB_STEP_SWITCHOVER] = "Switchover",
	[GDB_STEP_WAIT_SWITCHOVER] = "WaitSwitchover",
	[GDB_STEP_FAILOVER_MANAGED] = "FailoverManaged",
	[GDB_STEP_WAIT_FAILOVER] = "WaitFailover",
	[GDB_STEP_DETACH] = "Detach",
	[GDB_STEP_WAIT_PROMOTED] = "WaitPromoted",
	[GDB_STEP_UPDATE_DNS] = "UpdateDns",
	[GDB_STEP_WAIT_DNS_INSYNC] = "WaitDnsInsync",
	[GDB_STEP_PUBLISH_SSM] = "PublishSsm",
	[GDB_STEP_RESTART_WORKLOADS] = "RestartWorkloads",
	[GDB_STEP_FENCE_OLD_WRITER] = "FenceOldWriter",
	[GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER] = "DeleteOldGlobalCluster",
	[GDB_STEP_CREATE_GLOBAL_CLUSTER] = "CreateGlobalCluster",
	[GDB_STEP_CREATE_SECONDARY] = "CreateSecondary",
	[GDB_STEP_CREATE_INSTANCES] = "CreateInstances",
	[GDB_STEP_WAIT_CONNECTED] = "WaitConnected",
	[GDB_STEP_WAIT_READDED] = "WaitReAdded",
	[GDB_STEP_COPY_SNAPSHOT] = "CopySnapshot",
};

const char *gdb_role_name(enum gdb_role r)
{
	return (unsigned)r < ARRAY_SIZE(role_names) ? role_names[r] : "Unknown";
}

const char *gdb_op_type_name(enum gdb_op_type t)
{
	return (unsigned)t < ARRAY_SIZE(op_type_names) && op_type_names[t] ? op_type_names[t] : "";
}

const char *gdb_op_method_name(enum gdb_op_method m)
{
	return (unsigned)m < ARRAY_SIZE(op_method_names) && op_method_names[m] ? op_method_names[m]
									       : "";
}

const char *gdb_op_result_name(enum gdb_op_result r)
{
	return (unsigned)r < ARRAY_SIZE(result_names) && result_names[r] ? result_names[r] : "";
}

const char *gdb_step_name(enum gdb_step s)
{
	return (unsigned)s < GDB_STEP__COUNT && step_names[s] ? step_names[s] : "";
}

int gdb_step_parse(const char *name)
{
	for (int i = 1; i < GDB_STEP__COUNT; i++)
		if (name && strcmp(step_names[i], name) == 0)
			return i;
	return -1;
}

const char *gdb_cond_status_name(enum gdb_cond_status s)
{
	return (unsigned)s < ARRAY_SIZE(cond_names) ? cond_names[s] : "Unknown";
}

/* ---- spec ---- */

static int decode_template(struct dctx *c, const json_t *o, struct gdb_template *t)
{
	json_t *arr;
	int rc;

	if ((rc = get_str(c, o, "engineVersion", 0, &t->engine_version)) < 0 ||
	    (rc = get_str(c, o, "instanceClass", 1, &t->instance_class)) < 0 ||
	    (rc = get_int32(c, o, "instances", 1, 1, 16, &t->instances)) < 0 ||
	    (rc = get_str(c, o, "dbSubnetGroupName", 0, &t->db_subnet_group_name)) < 0 ||
	    (rc = get_str(c, o, "kmsKeyId", 0, &t->kms_key_id)) < 0 ||
	    (rc = get_str(c, o, "dbClusterParameterGroupName", 0,
			  &t->db_cluster_parameter_group_name)) < 0 ||
	    (rc = get_arr(c, o, "vpcSecurityGroupIds", GDB_MAX_SECURITY_GROUPS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		size_t old = push(c, "vpcSecurityGroupIds", (long)i);

		if (!json_is_string(v) || json_string_length(v) > 64) {
			rc = fail(c, NULL, "must be a security group id string");
			pop(c, old);
			return rc;
		}
		pop(c, old);
		t->vpc_security_group_ids[t->n_vpc_security_group_ids++] =
			xstrdup(json_string_value(v));
	}
	return 0;
}

static int decode_region(struct dctx *c, const json_t *o, struct gdb_region_spec *r)
{
	json_t *tmpl, *probe;
	size_t old;
	int rc;

	if (!json_is_object(o))
		return fail(c, NULL, "must be an object");
	if ((rc = get_str(c, o, "name", 1, &r->name)) < 0 ||
	    (rc = get_str(c, o, "dbClusterIdentifier", 1, &r->db_cluster_identifier)) < 0 ||
	    (rc = get_obj(c, o, "template", 0, &tmpl)) < 0 ||
	    (rc = get_obj(c, o, "probeEndpoint", 0, &probe)) < 0)
		return rc;
	r->probe_port = 5432;
	if (tmpl) {
		r->has_template = 1;
		old = push(c, "template", -1);
		rc = decode_template(c, tmpl, &r->template);
		pop(c, old);
		if (rc < 0)
			return rc;
	}
	if (probe) {
		old = push(c, "probeEndpoint", -1);
		rc = get_str(c, probe, "host", 1, &r->probe_host);
		if (rc == 0)
			rc = get_int32(c, probe, "port", 5432, 1, 65535, &r->probe_port);
		pop(c, old);
	}
	return rc;
}

static int decode_health(struct dctx *c, const json_t *o, struct gdb_health_check_spec *h)
{
	json_t *ref;
	size_t old;
	int rc;

	if ((rc = get_int32(c, o, "periodSeconds", 5, 1, 300, &h->period_seconds)) < 0 ||
	    (rc = get_int32(c, o, "timeoutSeconds", 3, 1, 60, &h->timeout_seconds)) < 0 ||
	    (rc = get_int32(c, o, "failureThreshold", 3, 1, 20, &h->failure_threshold)) < 0 ||
	    (rc = get_int32(c, o, "successThreshold", 1, 1, 20, &h->success_threshold)) < 0 ||
	    (rc = get_str(c, o, "database", 0, &h->database)) < 0 ||
	    (rc = get_str(c, o, "awsSecretsManagerSecretId", 0, &h->secrets_manager_secret_id)) <
		    0 ||
	    (rc = get_str(c, o, "sslMode", 0, &h->ssl_mode)) < 0 ||
	    (rc = get_bool(c, o, "allowInsecurePassword", &h->allow_insecure_password)) < 0 ||
	    (rc = get_obj(c, o, "caBundleRef", 0, &ref)) < 0)
		return rc;
	if (ref) {
		char *kind = NULL;

		old = push(c, "caBundleRef", -1);
		if ((rc = get_str(c, ref, "kind", 0, &kind)) == 0 &&
		    (rc = get_str(c, ref, "name", 1, &h->ca_name)) == 0)
			rc = get_str(c, ref, "key", 0, &h->ca_key);
		if (rc == 0 && kind && strcmp(kind, "ConfigMap") && strcmp(kind, "Secret"))
			rc = fail(c, "kind", "must be ConfigMap or Secret");
		h->ca_from_secret = kind && !strcmp(kind, "Secret");
		free(kind);
		pop(c, old);
		if (rc < 0)
			return rc;
		if (!h->ca_key)
			h->ca_key = xstrdup("ca.crt");
	}
	if ((rc = get_obj(c, o, "credentialsSecretRef", 0, &ref)) < 0)
		return rc;
	if (!h->database)
		h->database = xstrdup("postgres");
	if (!h->ssl_mode)
		h->ssl_mode = xstrdup("require");
	if (h->allow_insecure_password < 0)
		h->allow_insecure_password = 0;
	if (ref) {
		old = push(c, "credentialsSecretRef", -1);
		if ((rc = get_str(c, ref, "name", 1, &h->secret_name)) == 0 &&
		    (rc = get_str(c, ref, "usernameKey", 0, &h->username_key)) == 0)
			rc = get_str(c, ref, "passwordKey", 0, &h->password_key);
		pop(c, old);
		if (rc < 0)
			return rc;
		if (!h->username_key)
			h->username_key = xstrdup("username");
		if (!h->password_key)
			h->password_key = xstrdup("password");
	}
	return 0;
}

static int decode_k8s_workloads(struct dctx *c, const json_t *w, const char *key,
				struct gdb_k8s_workload *out, size_t *n)
{
	json_t *arr;
	int rc = get_arr(c, w, key, GDB_MAX_WORKLOADS, &arr);

	for (size_t i = 0; rc == 0 && arr && i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		size_t old = push(c, key, (long)i);

		if (!json_is_object(o))
			rc = fail(c, NULL, "must be an object");
		else if ((rc = get_str(c, o, "namespace", 1, &out[*n].namespace_)) == 0)
			rc = get_str(c, o, "name", 1, &out[*n].name);
		(*n)++;
		pop(c, old);
	}
	return rc;
}

static int decode_workloads(struct dctx *c, const json_t *w, struct gdb_spec *s)
{
	json_t *arr;
	int rc;

	if ((rc = decode_k8s_workloads(c, w, "deployments", s->deployments, &s->n_deployments)) <
		    0 ||
	    (rc = decode_k8s_workloads(c, w, "statefulSets", s->stateful_sets,
				       &s->n_stateful_sets)) < 0 ||
	    (rc = get_arr(c, w, "ecsServices", GDB_MAX_WORKLOADS, &arr)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && arr && i < json_array_size(arr); i++) {
		json_t *o = json_array_get(arr, i);
		struct gdb_ecs_service *e = &s->ecs_services[s->n_ecs_services++];
		size_t old = push(c, "ecsServices", (long)i);

		if (!json_is_object(o))
			rc = fail(c, NULL, "must be an object");
		else if ((rc = get_str(c, o, "region", 1, &e->region)) == 0 &&
			 (rc = get_str(c, o, "cluster", 1, &e->cluster)) == 0)
			rc = get_str(c, o, "service", 1, &e->service);
		pop(c, old);
	}
	return rc;
}

int gdb_spec_decode(const json_t *spec, struct gdb_spec *out, char *err, size_t errlen)
{
	struct dctx c = {.path = "spec", .err = err, .errlen = errlen};
	json_t *regions, *o;
	int v, rc;
	size_t old;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	if (!json_is_object(spec))
		return fail(&c, NULL, "must be an object");
	if ((rc = get_str(&c, spec, "globalClusterIdentifier", 1,
			  &out->global_cluster_identifier)) < 0 ||
	    (rc = get_str(&c, spec, "primaryRegion", 1, &out->primary_region)) < 0)
		return rc;
	if ((rc = get_arr(&c, spec, "regions", GDB_MAX_REGIONS, &regions)) < 0)
		return rc;
	if (!regions)
		return fail(&c, "regions", "required");
	for (size_t i = 0; i < json_array_size(regions); i++) {
		old = push(&c, "regions", (long)i);
		rc = decode_region(&c, json_array_get(regions, i), &out->regions[out->n_regions++]);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, spec, "healthCheck", 1, &o)) < 0)
		return rc;
	old = push(&c, "healthCheck", -1);
	rc = decode_health(&c, o, &out->health_check);
	pop(&c, old);
	if (rc < 0)
		return rc;

	out->failover.max_data_loss_seconds = 30;
	out->failover.in_region_grace_seconds = 120;
	out->failover.cooldown_seconds = 900;
	if ((rc = get_obj(&c, spec, "failover", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "failover", -1);
		if ((rc = get_enum(&c, o, "mode", mode_names, 2, 0, &v)) == 0) {
			out->failover.mode = v;
			rc = get_enum(&c, o, "method", method_names, 3, 0, &v);
		}
		if (rc == 0) {
			out->failover.method = v;
			rc = get_enum(&c, o, "confirmation", confirm_names, 2, 0, &v);
		}
		if (rc == 0) {
			out->failover.confirmation = v;
			rc = get_int32(&c, o, "maxDataLossSeconds", 30, 0, 3600,
				       &out->failover.max_data_loss_seconds);
		}
		if (rc == 0)
			rc = get_int32(&c, o, "inRegionGraceSeconds", 120, 0, 3600,
				       &out->failover.in_region_grace_seconds);
		if (rc == 0)
			rc = get_int32(&c, o, "cooldownSeconds", 900, 0, 86400,
				       &out->failover.cooldown_seconds);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, spec, "fallback", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "fallback", -1);
		rc = get_enum(&c, o, "mode", mode_names, 2, 0, &v);
		out->fallback_mode = v;
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, spec, "dns", 0, &o)) < 0)
		return rc;
	if (o) {
		out->has_dns = 1;
		old = push(&c, "dns", -1);
		if ((rc = get_str(&c, o, "hostedZoneId", 1, &out->dns.hosted_zone_id)) == 0 &&
		    (rc = get_str(&c, o, "writerRecordName", 1, &out->dns.writer_record_name)) ==
			    0 &&
		    (rc = get_str(&c, o, "readerRecordName", 0, &out->dns.reader_record_name)) == 0)
			rc = get_int32(&c, o, "ttlSeconds", 5, 1, 3600, &out->dns.ttl_seconds);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, spec, "workloads", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "workloads", -1);
		rc = decode_workloads(&c, o, out);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, spec, "ssm", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "ssm", -1);
		rc = get_str(&c, o, "parameterPrefix", 1, &out->ssm_parameter_prefix);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}
	rc = get_enum(&c, spec, "deletionPolicy", deletion_names, 2, 0, &v);
	out->deletion_policy = v;
	if (rc < 0)
		return rc;
	if ((rc = get_obj(&c, spec, "adoption", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "adoption", -1);
		rc = get_enum(&c, o, "policy", adoption_names, 2, 0, &v);
		out->adoption_policy = v;
		pop(&c, old);
	}
	return rc;
}

static void template_release(struct gdb_template *t)
{
	free(t->engine_version);
	free(t->instance_class);
	free(t->db_subnet_group_name);
	for (size_t i = 0; i < t->n_vpc_security_group_ids; i++)
		free(t->vpc_security_group_ids[i]);
	free(t->kms_key_id);
	free(t->db_cluster_parameter_group_name);
}

void gdb_spec_release(struct gdb_spec *s)
{
	if (!s)
		return;
	free(s->global_cluster_identifier);
	free(s->primary_region);
	for (size_t i = 0; i < s->n_regions; i++) {
		free(s->regions[i].name);
		free(s->regions[i].db_cluster_identifier);
		template_release(&s->regions[i].template);
		free(s->regions[i].probe_host);
	}
	free(s->health_check.database);
	free(s->health_check.secret_name);
	free(s->health_check.username_key);
	free(s->health_check.password_key);
	free(s->health_check.secrets_manager_secret_id);
	free(s->health_check.ssl_mode);
	free(s->health_check.ca_name);
	free(s->health_check.ca_key);
	free(s->dns.hosted_zone_id);
	free(s->dns.writer_record_name);
	free(s->dns.reader_record_name);
	for (size_t i = 0; i < s->n_deployments; i++) {
		free(s->deployments[i].namespace_);
		free(s->deployments[i].name);
	}
	for (size_t i = 0; i < s->n_stateful_sets; i++) {
		free(s->stateful_sets[i].namespace_);
		free(s->stateful_sets[i].name);
	}
	for (size_t i = 0; i < s->n_ecs_services; i++) {
		free(s->ecs_services[i].region);
		free(s->ecs_services[i].cluster);
		free(s->ecs_services[i].service);
	}
	free(s->ssm_parameter_prefix);
	memset(s, 0, sizeof(*s));
}

const struct gdb_region_spec *gdb_spec_region(const struct gdb_spec *spec, const char *name,
					      size_t *index)
{
	for (size_t i = 0; name && i < spec->n_regions; i++) {
		if (spec->regions[i].name && strcmp(spec->regions[i].name, name) == 0) {
			if (index)
				*index = i;
			return &spec->regions[i];
		}
	}
	return NULL;
}

/* ---- status ---- */

static int decode_steps(struct dctx *c, const json_t *o, struct gdb_operation *op)
{
	json_t *arr;
	int rc = get_arr(c, o, "steps", GDB_MAX_STEPS, &arr);

	for (size_t i = 0; rc == 0 && arr && i < json_array_size(arr); i++) {
		json_t *s = json_array_get(arr, i);
		struct gdb_step_record *r = &op->steps[op->n_steps++];
		size_t old = push(c, "steps", (long)i);

		if (!json_is_object(s))
			rc = fail(c, NULL, "must be an object");
		else if ((rc = get_str(c, s, "name", 0, &r->name)) == 0)
			rc = get_int(c, s, "durationSeconds", 0, 0, INT64_MAX / 2,
				     &r->duration_seconds);
		pop(c, old);
	}
	return rc;
}

static int decode_restarted(struct dctx *c, const json_t *o, struct gdb_operation *op)
{
	json_t *arr;
	int rc = get_arr(c, o, "restartedEcsServices", GDB_MAX_WORKLOADS, &arr);

	for (size_t i = 0; rc == 0 && arr && i < json_array_size(arr); i++) {
		json_t *s = json_array_get(arr, i);
		size_t old = push(c, "restartedEcsServices", (long)i);

		if (!json_is_string(s) || json_string_length(s) > GDB_MAX_STRING ||
		    strlen(json_string_value(s)) != json_string_length(s))
			rc = fail(c, NULL, "must be a string without NUL bytes");
		else
			op->restarted_ecs[op->n_restarted_ecs++] = xstrdup(json_string_value(s));
		pop(c, old);
	}
	return rc;
}

static int decode_operation(struct dctx *c, const json_t *o, struct gdb_operation *op, int last)
{
	char *step = NULL;
	int v, rc;

	if ((rc = get_int(c, o, "id", 0, 0, INT64_MAX / 2, &op->id)) < 0 ||
	    (rc = get_enum(c, o, "type", op_type_names, 4, 0, &v)) < 0)
		return rc;
	op->type = v;
	if ((rc = get_enum(c, o, "method", op_method_names, 4, 0, &v)) < 0)
		return rc;
	op->method = v;
	if ((rc = get_str(c, o, "targetRegion", 0, &op->target_region)) < 0 ||
	    (rc = get_str(c, o, "sourceRegion", 0, &op->source_region)) < 0 ||
	    (rc = get_time(c, o, "startedTime", &op->started_ms)) < 0 ||
	    (rc = get_time(c, o, "stepStartedTime", &op->step_started_ms)) < 0 ||
	    (rc = get_int32(c, o, "attempts", 0, 0, 1000000, &op->attempts)) < 0 ||
	    (rc = get_str(c, o, "message", 0, &op->message)) < 0 ||
	    (!last && (rc = get_str(c, o, "lastAction", 0, &op->last_action)) < 0) ||
	    (!last && (rc = get_time(c, o, "lastCallTime", &op->last_call_ms)) < 0) ||
	    (rc = get_str(c, o, "globalClusterIdentifier", 0, &op->global_cluster_identifier)) <
		    0 ||
	    (rc = get_str(c, o, "dnsChangeId", 0, &op->dns_change_id)) < 0 ||
	    (rc = get_int(c, o, "dataLossWindowSeconds", -1, 0, INT64_MAX / 2,
			  &op->data_loss_window_seconds)) < 0 ||
	    (rc = get_str(c, o, "lostWritesSnapshot", 0, &op->lost_writes_snapshot)) < 0 ||
	    (rc = decode_steps(c, o, op)) < 0 || (rc = decode_restarted(c, o, op)) < 0)
		return rc;
	if (last) {
		if ((rc = get_enum(c, o, "result", result_names, 4, 0, &v)) < 0)
			return rc;
		op->result = v;
		return get_time(c, o, "finishedTime", &op->finished_ms);
	}
	if ((rc = get_str(c, o, "step", 0, &step)) < 0)
		return rc;
	if (step) {
		v = gdb_step_parse(step);
		free(step);
		if (v < 0)
			return fail(c, "step", "unknown step");
		op->step = v;
	}
	if (op->type != GDB_OP_NONE && op->step == GDB_STEP_NONE)
		return fail(c, "step", "required when type is set");
	return 0;
}

static int decode_region_status(struct dctx *c, const json_t *o, struct gdb_region_status *r)
{
	int v, rc;

	r->replication_lag_seconds = -1;
	r->writer_healthy = -1;
	if (!json_is_object(o))
		return fail(c, NULL, "must be an object");
	if ((rc = get_str(c, o, "name", 1, &r->name)) < 0 ||
	    (rc = get_enum(c, o, "role", role_names, 6, 0, &v)) < 0)
		return rc;
	r->role = v;
	if ((rc = get_str(c, o, "dbClusterIdentifier", 0, &r->db_cluster_identifier)) < 0 ||
	    (rc = get_str(c, o, "clusterStatus", 0, &r->cluster_status)) < 0 ||
	    (rc = get_time(c, o, "clusterStatusSince", &r->cluster_status_since_ms)) < 0 ||
	    (rc = get_str(c, o, "synchronizationStatus", 0, &r->synchronization_status)) < 0 ||
	    (rc = get_bool(c, o, "writerHealthy", &r->writer_healthy)) < 0 ||
	    (rc = get_int32(c, o, "consecutiveFailures", 0, 0, 1000000000,
			    &r->consecutive_failures)) < 0 ||
	    (rc = get_time(c, o, "lastProbeTime", &r->last_probe_ms)) < 0 ||
	    (rc = get_int32(c, o, "port", 0, 0, 65535, &r->port)) < 0 ||
	    (rc = get_int(c, o, "heartbeatSeq", 0, 0, INT64_MAX / 2, &r->heartbeat_seq)) < 0 ||
	    (rc = get_time(c, o, "heartbeatTime", &r->heartbeat_time_ms)) < 0 ||
	    (rc = get_time(c, o, "writerFailingSince", &r->writer_failing_since_ms)) < 0)
		return rc;
	return get_int(c, o, "replicationLagSeconds", -1, 0, INT64_MAX / 2,
		       &r->replication_lag_seconds);
}

static int decode_condition(struct dctx *c, const json_t *o, struct gdb_condition *cd)
{
	int v, rc;

	if (!json_is_object(o))
		return fail(c, NULL, "must be an object");
	if ((rc = get_str(c, o, "type", 1, &cd->type)) < 0 ||
	    (rc = get_enum(c, o, "status", cond_names, 3, 0, &v)) < 0)
		return rc;
	cd->status = v;
	if ((rc = get_int(c, o, "observedGeneration", 0, 0, INT64_MAX, &cd->observed_generation)) <
		    0 ||
	    (rc = get_time(c, o, "lastTransitionTime", &cd->last_transition_ms)) < 0 ||
	    (rc = get_str(c, o, "reason", 0, &cd->reason)) < 0)
		return rc;
	return get_str(c, o, "message", 0, &cd->message);
}

int gdb_status_decode(const json_t *status, struct gdb_status *out, char *err, size_t errlen)
{
	struct dctx c = {.path = "status", .err = err, .errlen = errlen};
	json_t *arr, *o;
	size_t old;
	int rc;

	memset(out, 0, sizeof(*out));
	out->max_replication_lag_seconds = -1;
	out->operation.data_loss_window_seconds = -1;
	out->last_operation.data_loss_window_seconds = -1;
	if (err && errlen)
		err[0] = '\0';
	if (!status || json_is_null(status))
		return 0;
	if (!json_is_object(status))
		return fail(&c, NULL, "must be an object");
	if ((rc = get_int(&c, status, "observedGeneration", 0, 0, INT64_MAX,
			  &out->observed_generation)) < 0 ||
	    (rc = get_str(&c, status, "globalClusterIdentifier", 0,
			  &out->global_cluster_identifier)) < 0 ||
	    (rc = get_int(&c, status, "generation", 0, 0, 1000000, &out->generation)) < 0 ||
	    (rc = get_str(&c, status, "currentPrimaryRegion", 0, &out->current_primary_region)) <
		    0 ||
	    (rc = get_str(&c, status, "writerEndpoint", 0, &out->writer_endpoint)) < 0 ||
	    (rc = get_str(&c, status, "globalWriterEndpoint", 0, &out->global_writer_endpoint)) <
		    0 ||
	    (rc = get_int(&c, status, "maxReplicationLagSeconds", -1, 0, INT64_MAX / 2,
			  &out->max_replication_lag_seconds)) < 0 ||
	    (rc = get_time(&c, status, "lastFailoverTime", &out->last_failover_ms)) < 0 ||
	    (rc = get_time(&c, status, "lastPausedTime", &out->last_paused_ms)) < 0)
		return rc;

	if ((rc = get_arr(&c, status, "readerEndpoints", GDB_MAX_REGIONS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		struct gdb_reader_endpoint *e = &out->reader_endpoints[out->n_reader_endpoints++];

		o = json_array_get(arr, i);
		old = push(&c, "readerEndpoints", (long)i);
		if (!json_is_object(o))
			rc = fail(&c, NULL, "must be an object");
		else if ((rc = get_str(&c, o, "region", 1, &e->region)) == 0)
			rc = get_str(&c, o, "endpoint", 0, &e->endpoint);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_arr(&c, status, "regions", GDB_MAX_REGIONS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		old = push(&c, "regions", (long)i);
		rc = decode_region_status(&c, json_array_get(arr, i),
					  &out->regions[out->n_regions++]);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_obj(&c, status, "operation", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "operation", -1);
		rc = decode_operation(&c, o, &out->operation, 0);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}
	if ((rc = get_obj(&c, status, "lastOperation", 0, &o)) < 0)
		return rc;
	if (o) {
		old = push(&c, "lastOperation", -1);
		rc = decode_operation(&c, o, &out->last_operation, 1);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}

	if ((rc = get_arr(&c, status, "conditions", GDB_MAX_CONDITIONS, &arr)) < 0)
		return rc;
	for (size_t i = 0; arr && i < json_array_size(arr); i++) {
		old = push(&c, "conditions", (long)i);
		rc = decode_condition(&c, json_array_get(arr, i),
				      &out->conditions[out->n_conditions++]);
		pop(&c, old);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- encoding ---- */

static void put_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static void put_time(json_t *o, const char *key, int64_t ms)
{
	char buf[40];

	if (ms > 0 && base_time_format(ms, buf, sizeof(buf)) == 0)
		json_object_set_new(o, key, json_string(buf));
}

/* As put_time, with milliseconds: heartbeat times bound a data-loss window to the millisecond. */
static void put_time_ms(json_t *o, const char *key, int64_t ms)
{
	char buf[40];

	if (ms > 0 && base_time_format_ms(ms, buf, sizeof(buf)) == 0)
		json_object_set_new(o, key, json_string(buf));
}

static json_t *encode_operation(const struct gdb_operation *op, int last)
{
	json_t *o = json_object();

	if (op->id > 0)
		json_object_set_new(o, "id", json_integer(op->id));
	put_str(o, "type", op_type_names[op->type]);
	put_str(o, "method", op_method_names[op->method]);
	put_str(o, "targetRegion", op->target_region);
	put_str(o, "sourceRegion", op->source_region);
	if (!last)
		put_str(o, "step", step_names[op->step]);
	put_time(o, "startedTime", op->started_ms);
	put_time(o, "stepStartedTime", op->step_started_ms);
	if (op->attempts > 0)
		json_object_set_new(o, "attempts", json_integer(op->attempts));
	if (!last) {
		put_str(o, "lastAction", op->last_action);
		put_time(o, "lastCallTime", op->last_call_ms);
	}
	put_str(o, "message", op->message);
	put_str(o, "globalClusterIdentifier", op->global_cluster_identifier);
	put_str(o, "dnsChangeId", op->dns_change_id);
	if (op->data_loss_window_seconds >= 0)
		json_object_set_new(o, "dataLossWindowSeconds",
				    json_integer(op->data_loss_window_seconds));
	put_str(o, "lostWritesSnapshot", op->lost_writes_snapshot);
	if (op->n_steps) {
		json_t *arr = json_array();

		for (size_t i = 0; i < op->n_steps; i++) {
			json_t *s = json_object();

			put_str(s, "name", op->steps[i].name);
			json_object_set_new(s, "durationSeconds",
					    json_integer(op->steps[i].duration_seconds));
			json_array_append_new(arr, s);
		}
		json_object_set_new(o, "steps", arr);
	}
	if (op->n_restarted_ecs) {
		json_t *arr = json_array();

		for (size_t i = 0; i < op->n_restarted_ecs; i++)
			json_array_append_new(arr, json_string(op->restarted_ecs[i]));
		json_object_set_new(o, "restartedEcsServices", arr);
	}
	if (last) {
		put_str(o, "result", result_names[op->result]);
		put_time(o, "finishedTime", op->finished_ms);
	}
	return o;
}

json_t *gdb_status_encode(const struct gdb_status *st)
{
	json_t *o = json_object(), *arr;

	if (st->observed_generation > 0)
		json_object_set_new(o, "observedGeneration", json_integer(st->observed_generation));
	put_str(o, "globalClusterIdentifier", st->global_cluster_identifier);
	if (st->generation > 0)
		json_object_set_new(o, "generation", json_integer(st->generation));
	put_str(o, "currentPrimaryRegion", st->current_primary_region);
	put_str(o, "writerEndpoint", st->writer_endpoint);
	put_str(o, "globalWriterEndpoint", st->global_writer_endpoint);
	if (st->n_reader_endpoints) {
		arr = json_array();
		for (size_t i = 0; i < st->n_reader_endpoints; i++) {
			json_t *e = json_object();

			put_str(e, "region", st->reader_endpoints[i].region);
			put_str(e, "endpoint", st->reader_endpoints[i].endpoint);
			json_array_append_new(arr, e);
		}
		json_object_set_new(o, "readerEndpoints", arr);
	}
	if (st->max_replication_lag_seconds >= 0)
		json_object_set_new(o, "maxReplicationLagSeconds",
				    json_integer(st->max_replication_lag_seconds));
	put_time(o, "lastFailoverTime", st->last_failover_ms);
	put_time(o, "lastPausedTime", st->last_paused_ms);
	if (st->n_regions) {
		arr = json_array();
		for (size_t i = 0; i < st->n_regions; i++) {
			const struct gdb_region_status *r = &st->regions[i];
			json_t *e = json_object();

			put_str(e, "name", r->name);
			put_str(e, "role", gdb_role_name(r->role));
			put_str(e, "dbClusterIdentifier", r->db_cluster_identifier);
			put_str(e, "clusterStatus", r->cluster_status);
			put_time(e, "clusterStatusSince", r->cluster_status_since_ms);
			put_str(e, "synchronizationStatus", r->synchronization_status);
			if (r->writer_healthy >= 0)
				json_object_set_new(e, "writerHealthy",
						    json_boolean(r->writer_healthy));
			json_object_set_new(e, "consecutiveFailures",
					    json_integer(r->consecutive_failures));
			put_time(e, "lastProbeTime", r->last_probe_ms);
			if (r->replication_lag_seconds >= 0)
				json_object_set_new(e, "replicationLagSeconds",
						    json_integer(r->replication_lag_seconds));
			if (r->port > 0)
				json_object_set_new(e, "port", json_integer(r->port));
			if (r->heartbeat_time_ms > 0) {
				json_object_set_new(e, "heartbeatSeq",
						    json_integer(r->heartbeat_seq));
				put_time_ms(e, "heartbeatTime", r->heartbeat_time_ms);
			}
			put_time_ms(e, "writerFailingSince", r->writer_failing_since_ms);
			json_array_append_new(arr, e);
		}
		json_object_set_new(o, "regions", arr);
	}
	if (st->operation.type != GDB_OP_NONE)
		json_object_set_new(o, "operation", encode_operation(&st->operation, 0));
	if (st->last_operation.type != GDB_OP_NONE)
		json_object_set_new(o, "lastOperation", encode_operation(&st->last_operation, 1));
	if (st->n_conditions) {
		arr = json_array();
		for (size_t i = 0; i < st->n_conditions; i++) {
			const struct gdb_condition *cd = &st->conditions[i];
			json_t *e = json_object();

			put_str(e, "type", cd->type);
			put_str(e, "status", gdb_cond_status_name(cd->status));
			if (cd->observed_generation > 0)
				json_object_set_new(e, "observedGeneration",
						    json_integer(cd->observed_generation));
			put_time(e, "lastTransitionTime", cd->last_transition_ms);
			put_str(e, "reason", cd->reason);
			put_str(e, "message", cd->message ? cd->message : "");
			json_array_append_new(arr, e);
		}
		json_object_set_new(o, "conditions", arr);
	}
	return o;
}

void gdb_operation_release(struct gdb_operation *op)
{
	if (!op)
		return;
	free(op->target_region);
	free(op->source_region);
	free(op->last_action);
	free(op->message);
	free(op->global_cluster_identifier);
	free(op->dns_change_id);
	free(op->lost_writes_snapshot);
	for (size_t i = 0; i < op->n_steps; i++)
		free(op->steps[i].name);
	for (size_t i = 0; i < op->n_restarted_ecs; i++)
		free(op->restarted_ecs[i]);
	memset(op, 0, sizeof(*op));
	op->data_loss_window_seconds = -1;
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void gdb_operation_copy(struct gdb_operation *dst, const struct gdb_operation *src)
{
	*dst = *src;
	dst->target_region = dup_or_null(src->target_region);
	dst->source_region = dup_or_null(src->source_region);
	dst->last_action = dup_or_null(src->last_action);
	dst->message = dup_or_null(src->message);
	dst->global_cluster_identifier = dup_or_null(src->global_cluster_identifier);
	dst->dns_change_id = dup_or_null(src->dns_change_id);
	dst->lost_writes_snapshot = dup_or_null(src->lost_writes_snapshot);
	for (size_t i = 0; i < src->n_steps; i++)
		dst->steps[i].name = dup_or_null(src->steps[i].name);
	for (size_t i = 0; i < src->n_restarted_ecs; i++)
		dst->restarted_ecs[i] = dup_or_null(src->restarted_ecs[i]);
}

char *gdb_ecs_service_key(const struct gdb_ecs_service *e)
{
	return xasprintf("%s/%s/%s", e->region ? e->region : "", e->cluster ? e->cluster : "",
			 e->service ? e->service : "");
}

void gdb_status_release(struct gdb_status *st)
{
	if (!st)
		return;
	free(st->global_cluster_identifier);
	free(st->current_primary_region);
	free(st->writer_endpoint);
	free(st->global_writer_endpoint);
	for (size_t i = 0; i < st->n_reader_endpoints; i++) {
		free(st->reader_endpoints[i].region);
		free(st->reader_endpoints[i].endpoint);
	}
	for (size_t i = 0; i < st->n_regions; i++) {
		free(st->regions[i].name);
		free(st->regions[i].db_cluster_identifier);
		free(st->regions[i].cluster_status);
		free(st->regions[i].synchronization_status);
	}
	gdb_operation_release(&st->operation);
	gdb_operation_release(&st->last_operation);
	for (size_t i = 0; i < st->n_conditions; i++) {
		free(st->conditions[i].type);
		free(st->conditions[i].reason);
		free(st->conditions[i].message);
	}
	memset(st, 0, sizeof(*st));
	st->max_replication_lag_seconds = -1;
	st->operation.data_loss_window_seconds = -1;
	st->last_operation.data_loss_window_seconds = -1;
}

void gdb_status_copy(struct gdb_status *dst, const struct gdb_status *src)
{
	*dst = *src;
	dst->global_cluster_identifier = dup_or_null(src->global_cluster_identifier);
	dst->current_primary_region = dup_or_null(src->current_primary_region);
	dst->writer_endpoint = dup_or_null(src->writer_endpoint);
	dst->global_writer_endpoint = dup_or_null(src->global_writer_endpoint);
	for (size_t i = 0; i < src->n_reader_endpoints; i++) {
		dst->reader_endpoints[i].region = dup_or_null(src->reader_endpoints[i].region);
		dst->reader_endpoints[i].endpoint = dup_or_null(src->reader_endpoints[i].endpoint);
	}
	for (size_t i = 0; i < src->n_regions; i++) {
		struct gdb_region_status *d = &dst->regions[i];
		const struct gdb_region_status *s = &src->regions[i];

		d->name = dup_or_null(s->name);
		d->db_cluster_identifier = dup_or_null(s->db_cluster_identifier);
		d->cluster_status = dup_or_null(s->cluster_status);
		d->synchronization_status = dup_or_null(s->synchronization_status);
	}
	gdb_operation_copy(&dst->operation, &src->operation);
	gdb_operation_copy(&dst->last_operation, &src->last_operation);
	for (size_t i = 0; i < src->n_conditions; i++) {
		dst->conditions[i].type = dup_or_null(src->conditions[i].type);
		dst->conditions[i].reason = dup_or_null(src->conditions[i].reason);
		dst->conditions[i].message = dup_or_null(src->conditions[i].message);
	}
}

size_t gdb_generation_stem_len(const char *id)
{
	size_t n = strlen(id), k = n;

	while (k > 0 && isdigit((unsigned char)id[k - 1]))
		k--;
	/* A suffix is "-" and 1 to 6 digits without a leading zero, after a non-empty stem. */
	if (k < n && n - k <= 6 && k >= 2 && id[k - 1] == '-' && id[k] != '0')
		return k - 1;
	return n;
}

/* The number after the stem of id (stem_len < strlen(id)). */
static int64_t suffix_number(const char *id, size_t stem_len)
{
	int64_t v = 0;

	for (const char *p = id + stem_len + 1; *p; p++)
		v = v * 10 + (*p - '0');
	return v;
}

static int64_t base_generation(const char *base)
{
	size_t k = gdb_generation_stem_len(base);

	return k < strlen(base) ? suffix_number(base, k) : 1;
}

int64_t gdb_generation_of(const char *base, const char *id)
{
	size_t k, n;
	int64_t g;

	if (!base || !id)
		return 0;
	if (strcasecmp(base, id) == 0)
		return base_generation(base);
	k = gdb_generation_stem_len(id);
	n = gdb_generation_stem_len(base);
	if (k == strlen(id) || k != n || strncasecmp(base, id, k) != 0)
		return 0;
	g = suffix_number(id, k);
	return g > base_generation(base) ? g : 0;
}

char *gdb_generation_name(const char *base, int64_t gen)
{
	size_t k = gdb_generation_stem_len(base);

	if (gen <= base_generation(base))
		return xstrdup(base);
	return xasprintf("%.*s-%" PRId64, (int)k, base, gen);
}

struct gdb_region_status *gdb_status_region(struct gdb_status *st, const char *name)
{
	for (size_t i = 0; name && i < st->n_regions; i++)
		if (st->regions[i].name && strcmp(st->regions[i].name, name) == 0)
			return &st->regions[i];
	return NULL;
}

const struct gdb_condition *gdb_status_condition(const struct gdb_status *st, const char *type)
{
	for (size_t i = 0; i < st->n_conditions; i++)
		if (st->conditions[i].type && strcmp(st->conditions[i].type, type) == 0)
			return &st->conditions[i];
	return NULL;
}
