/*
 * The spec: decoding spec (the decoding helpers are in types.c), its release
 * and lookups.
 */
#include "pkg/globaldb/types_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

/* ---- names ---- */

static const char *const mode_names[] = {"Automatic", "Manual"};
static const char *const method_names[] = {"Auto", "Managed", "DetachAndPromote"};
static const char *const confirm_names[] = {"ControlPlane", "None"};
static const char *const deletion_names[] = {"Retain", "Delete"};
static const char *const adoption_names[] = {"RequireOwnerTag", "AdoptUntagged"};

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
