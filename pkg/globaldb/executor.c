/*
 * The executor: one function per action kind, each a thin translation of the
 * planner's struct gdb_action into the typed AWS or Kubernetes call, and of
 * the outcome back into enum gdb_call. The planner decided where to call
 * (action->region) and with which identifiers; nothing here decides.
 */
#include "pkg/globaldb/executor.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkg/aws/ecs.h"
#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/aws/ssm.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/base/log.h"
#include "pkg/globaldb/observe.h"
#include "pkg/globaldb/ownership.h"

#define ENGINE "aurora-postgresql"
#define RESTARTED_AT "kubectl.kubernetes.io/restartedAt"

static const struct kube_resource res_deployments = {"apps", "v1", "deployments", 1};
static const struct kube_resource res_statefulsets = {"apps", "v1", "statefulsets", 1};

int gdb_action_calls_aws(enum gdb_action_kind kind)
{
	switch (kind) {
	case GDB_ACT_NONE:
	case GDB_ACT_WAIT:
	case GDB_ACT_WAIT_DNS_INSYNC:
	case GDB_ACT_RECOMMEND_FAILOVER:
	case GDB_ACT_REMOVE_FINALIZER:
		return 0;
	default:
		return 1;
	}
}

static void warn_event(const struct gdb_exec_ctx *x, const char *reason, const char *action,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void warn_event(const struct gdb_exec_ctx *x, const char *reason, const char *action,
		       const char *fmt, ...)
{
	char note[1024];
	va_list ap;

	if (!x->recorder || !x->obj)
		return;
	va_start(ap, fmt);
	vsnprintf(note, sizeof(note), fmt, ap);
	va_end(ap);
	kube_recorder_event(x->recorder, x->obj, "Warning", reason, action, "%s", note);
}

/* Records an AWS outcome in out; 0 or rc. */
static int outcome(struct gdb_exec_result *out, int rc, const struct aws_error *err)
{
	if (rc == 0)
		return 0;
	out->call = gdb_call_from_error(rc, err->code);
	snprintf(out->aws_code, sizeof(out->aws_code), "%s", err->code);
	snprintf(out->message, sizeof(out->message), "%s",
		 *err->message ? err->message : base_strerror(rc));
	return rc;
}

static int create_secondary(const struct gdb_exec_ctx *x, const struct gdb_action *a,
			    struct gdb_exec_result *out)
{
	const struct gdb_region_spec *rs = gdb_spec_region(x->spec, a->region, NULL);
	struct aws_rds_create_db_cluster_input in;
	struct aws_rds_db_cluster cl;
	struct aws_tag tags[2];
	struct aws_error err;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&cl, 0, sizeof(cl));
	aws_error_clear(&err);
	in.db_cluster_identifier = a->db_cluster_identifier;
	in.engine = ENGINE;
	in.global_cluster_identifier = a->global_cluster_identifier;
	in.engine_version = a->engine_version;
	in.ntags = gdb_owner_tags(a, tags);
	in.tags = tags;
	if (rs && rs->has_template) {
		const struct gdb_template *t = &rs->template;

		in.db_subnet_group_name = t->db_subnet_group_name;
		in.vpc_security_group_ids = (const char *const *)t->vpc_security_group_ids;
		in.nvpc_security_group_ids = t->n_vpc_security_group_ids;
		in.kms_key_id = t->kms_key_id;
		in.db_cluster_parameter_group_name = t->db_cluster_parameter_group_name;
		if (t->kms_key_id)
			in.storage_encrypted = AWS_TRUE;
	}
	rc = aws_rds_create_db_cluster(x->aws, a->region, &in, &cl, &err);
	aws_rds_db_cluster_release(&cl);
	return outcome(out, rc, &err);
}

static int create_instance(const struct gdb_exec_ctx *x, const struct gdb_action *a,
			   struct gdb_exec_result *out)
{
	const struct gdb_region_spec *rs = gdb_spec_region(x->spec, a->region, NULL);
	struct aws_rds_create_db_instance_input in;
	struct aws_rds_db_instance inst;
	struct aws_tag tags[2];
	struct aws_error err;
	int rc;

	memset(&in, 0, sizeof(in));
	memset(&inst, 0, sizeof(inst));
	aws_error_clear(&err);
	in.db_instance_identifier = a->instance_id;
	in.db_instance_class = rs && rs->has_template && rs->template.instance_class
				       ? rs->template.instance_class
				       : "db.r6g.large";
	in.engine = ENGINE;
	in.db_cluster_identifier = a->db_cluster_identifier;
	in.promotion_tier = -1;
	in.ntags = gdb_owner_tags(a, tags);
	in.tags = tags;
	rc = aws_rds_create_db_instance(x->aws, a->region, &in, &inst, &err);
	aws_rds_db_instance_release(&inst);
	return outcome(out, rc, &err);
}

static int delete_instances(const struct gdb_exec_ctx *x, const struct gdb_action *a,
			    struct gdb_exec_result *out)
{
	struct aws_rds_db_instance_list l;
	struct aws_error err;
	int rc;

	memset(&l, 0, sizeof(l));
	aws_error_clear(&err);
	rc = aws_rds_describe_db_instances(x->aws, a->region, NULL, a->db_cluster_identifier, &l,
					   &err);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		struct aws_rds_db_instance gone;

		if (l.items[i].status && !strcmp(l.items[i].status, "deleting"))
			continue;
		memset(&gone, 0, sizeof(gone));
		aws_error_clear(&err);
		rc = aws_rds_delete_db_instance(x->aws, a->region, l.items[i].identifier, 1, &gone,
						&err);
		aws_rds_db_instance_release(&gone);
		if (rc == BASE_ENOTFOUND)
			rc = 0;
	}
	aws_rds_db_instance_list_release(&l);
	return outcome(out, rc, &err);
}

static int upsert_dns(const struct gdb_exec_ctx *x, const struct gdb_action *a,
		      struct gdb_exec_result *out)
{
	const struct gdb_dns_spec *d = &x->spec->dns;
	const char *wv[1] = {a->writer_endpoint}, *rv[1] = {a->reader_endpoint};
	struct aws_r53_change ch[2];
	struct aws_r53_change_info ci;
	struct aws_error err;
	size_t n = 0;
	int rc;

	memset(ch, 0, sizeof(ch));
	memset(&ci, 0, sizeof(ci));
	aws_error_clear(&err);
	ch[n++] = (struct aws_r53_change){
		"UPSERT", d->writer_record_name, "CNAME", d->ttl_seconds, wv, 1, NULL, -1};
	if (d->reader_record_name && a->reader_endpoint)
		ch[n++] = (struct aws_r53_change){
			"UPSERT", d->reader_record_name, "CNAME", d->ttl_seconds, rv, 1, NULL, -1};
	rc = aws_route53_change_resource_record_sets(x->aws, d->hosted_zone_id,
						     "globaldb-controller: the writer moved", ch, n,
						     &ci, &err);
	if (rc == 0 && ci.id)
		out->change_id = xstrdup(ci.id);
	aws_r53_change_info_release(&ci);
	return outcome(out, rc, &err);
}

static int unreachable(enum gdb_call c)
{
	return c == GDB_CALL_UNREACHABLE || c == GDB_CALL_TIMEOUT;
}

static int publish_ssm(const struct gdb_exec_ctx *x, const struct gdb_action *a,
		       struct gdb_exec_result *out)
{
	const char *prefix = x->spec->ssm_parameter_prefix;
	const char *names[3] = {"globalClusterIdentifier", "primaryRegion", "writerEndpoint"};
	const char *values[3] = {a->global_cluster_identifier, a->region, a->writer_endpoint};

	for (size_t r = 0; r < x->spec->n_regions; r++) {
		const char *region = x->spec->regions[r].name;

		for (size_t i = 0; i < 3; i++) {
			struct aws_ssm_put_parameter_input in;
			struct aws_error err;
			char *name;
			int rc;

			if (!values[i])
				continue;
			memset(&in, 0, sizeof(in));
			aws_error_clear(&err);
			name = xasprintf("%s/%s", prefix, names[i]);
			in.name = name;
			in.value = values[i];
			in.type = "String";
			in.overwrite = AWS_TRUE;
			rc = aws_ssm_put_parameter(x->aws, region, &in, NULL, &err);
			free(name);
			if (rc == 0)
				continue;
			if (unreachable(gdb_call_from_error(rc, err.code)) &&
			    strcmp(region, a->region) != 0) {
				warn_event(x, "SsmRegionSkipped", "PublishSsm",
					   "SSM in %s does not answer (%s); its parameters under "
					   "%s stay stale until the next change",
					   region, base_strerror(rc), prefix);
				break;
			}
			return outcome(out, rc, &err);
		}
	}
	return 0;
}

static int restart_k8s(const struct gdb_exec_ctx *x, const struct kube_resource *res,
		       const struct gdb_k8s_workload *w, const char *stamp,
		       struct gdb_exec_result *out)
{
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE};
	struct kube_status st;
	json_t *patch;
	int rc;

	kube_status_clear(&st);
	patch = json_pack("{s:{s:{s:{s:{s:s}}}}}", "spec", "template", "metadata", "annotations",
			  RESTARTED_AT, stamp);
	rc = kube_patch(x->kube, res, w->namespace_, w->name, &po, patch, NULL, &st);
	json_decref(patch);
	if (rc == BASE_ENOTFOUND) {
		warn_event(x, "WorkloadNotFound", "RestartWorkloads", "%s %s/%s does not exist",
			   res->resource, w->namespace_, w->name);
		return 0;
	}
	if (rc < 0) {
		out->call = gdb_call_from_error(rc, NULL);
		snprintf(out->aws_code, sizeof(out->aws_code), "%s", st.reason);
		snprintf(out->message, sizeof(out->message), "patch %s %.63s/%.100s: %.300s",
			 res->resource, w->namespace_, w->name,
			 *st.message ? st.message : base_strerror(rc));
	}
	return rc;
}

/* Appends item to the owned list *list, sep between items. */
static void list_add(char **list, const char *sep, const char *item)
{
	char *n = *list ? xasprintf("%s%s%s", *list, sep, item) : xstrdup(item);

	free(*list);
	*list = n;
}

/*
 * forceNewDeployment of every ECS service not in a->ecs_skip, going on past a
 * failure: one dead region must not keep the others from restarting. A region
 * other than the writer's that does not answer is listed in ecs_unreachable;
 * any other failure fails the call (the first one's code, every one named in
 * the message) so that the planner retries what is not done.
 */
static int restart_ecs(const struct gdb_exec_ctx *x, const struct gdb_action *a,
		       struct gdb_exec_result *out)
{
	const struct gdb_spec *s = x->spec;
	char *failed = NULL;
	int first = 0;

	for (size_t i = 0; i < s->n_ecs_services; i++) {
		const struct gdb_ecs_service *e = &s->ecs_services[i];
		struct aws_ecs_service svc;
		struct aws_error err;
		enum gdb_call call;
		char *key, *why;
		int rc;

		if (i < 64 && (a->ecs_skip >> i) & 1)
			continue;
		memset(&svc, 0, sizeof(svc));
		aws_error_clear(&err);
		rc = aws_ecs_update_service(x->aws, e->region, e->cluster, e->service, 1, &svc,
					    &err);
		aws_ecs_service_release(&svc);
		key = gdb_ecs_service_key(e);
		if (rc == 0) {
			list_add(&out->ecs_restarted, ",", key);
			free(key);
			continue;
		}
		if (rc == BASE_ENOTFOUND) {
			warn_event(x, "WorkloadNotFound", "RestartWorkloads",
				   "ECS service %s in cluster %s (%s) does not exist: %s",
				   e->service, e->cluster, e->region, err.code);
			free(key);
			continue;
		}
		call = gdb_call_from_error(rc, err.code);
		why = xasprintf("%s (%.100s)", key, *err.code ? err.code : base_strerror(rc));
		if (unreachable(call) && strcmp(e->region, a->region) != 0) {
			list_add(&out->ecs_unreachable, "; ", why);
		} else {
			list_add(&failed, "; ", why);
			if (!first) {
				first = rc;
				outcome(out, rc, &err);
			}
		}
		free(why);
		free(key);
	}
	if (failed) {
		snprintf(out->message, sizeof(out->message), "ECS services not restarted: %s",
			 failed);
		free(failed);
	}
	return first;
}

static int restart_workloads(const struct gdb_exec_ctx *x, const struct gdb_action *a,
			     struct gdb_exec_result *out)
{
	const struct gdb_spec *s = x->spec;
	int rc;

	for (size_t i = 0; i < s->n_deployments; i++)
		if ((rc = restart_k8s(x, &res_deployments, &s->deployments[i], a->restart_stamp,
				      out)) < 0)
			return rc;
	for (size_t i = 0; i < s->n_stateful_sets; i++)
		if ((rc = restart_k8s(x, &res_statefulsets, &s->stateful_sets[i], a->restart_stamp,
				      out)) < 0)
			return rc;
	return restart_ecs(x, a, out);
}

void gdb_execute(const struct gdb_exec_ctx *x, const struct gdb_action *a,
		 struct gdb_exec_result *out)
{
	struct aws_rds_global_cluster g;
	struct aws_rds_db_cluster cl;
	struct aws_rds_cluster_snapshot snap;
	struct aws_tag tags[2];
	struct aws_error err;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&g, 0, sizeof(g));
	memset(&cl, 0, sizeof(cl));
	memset(&snap, 0, sizeof(snap));
	aws_error_clear(&err);

	switch (a->kind) {
	case GDB_ACT_CREATE_GLOBAL_CLUSTER: {
		struct aws_rds_create_global_cluster_input in;

		memset(&in, 0, sizeof(in));
		in.global_cluster_identifier = a->global_cluster_identifier;
		in.source_db_cluster_arn = a->target_arn;
		in.ntags = gdb_owner_tags(a, tags);
		in.tags = tags;
		rc = outcome(out, aws_rds_create_global_cluster(x->aws, a->region, &in, &g, &err),
			     &err);
		break;
	}
	case GDB_ACT_CREATE_SECONDARY_CLUSTER:
		rc = create_secondary(x, a, out);
		break;
	case GDB_ACT_CREATE_INSTANCE:
		rc = create_instance(x, a, out);
		break;
	case GDB_ACT_SWITCHOVER:
		rc = outcome(out,
			     aws_rds_switchover_global_cluster(x->aws, a->region,
							       a->global_cluster_identifier,
							       a->target_arn, &g, &err),
			     &err);
		break;
	case GDB_ACT_FAILOVER_MANAGED:
		rc = outcome(out,
			     aws_rds_failover_global_cluster(x->aws, a->region,
							     a->global_cluster_identifier,
							     a->target_arn, 1, &g, &err),
			     &err);
		break;
	case GDB_ACT_DETACH_AND_PROMOTE:
	case GDB_ACT_REMOVE_FROM_GLOBAL_CLUSTER:
		rc = outcome(out,
			     aws_rds_remove_from_global_cluster(x->aws, a->region,
								a->global_cluster_identifier,
								a->target_arn, &g, &err),
			     &err);
		break;
	case GDB_ACT_UPSERT_DNS:
		rc = upsert_dns(x, a, out);
		break;
	case GDB_ACT_PUBLISH_SSM:
		rc = publish_ssm(x, a, out);
		break;
	case GDB_ACT_RESTART_WORKLOADS:
		rc = restart_workloads(x, a, out);
		break;
	case GDB_ACT_DELETE_INSTANCES:
		rc = delete_instances(x, a, out);
		break;
	case GDB_ACT_FENCE_OLD_WRITER:
	case GDB_ACT_DELETE_CLUSTER:
		rc = outcome(out,
			     aws_rds_delete_db_cluster(x->aws, a->region, a->db_cluster_identifier,
						       a->snapshot_id == NULL, a->snapshot_id, &cl,
						       &err),
			     &err);
		break;
	case GDB_ACT_DELETE_OLD_GLOBAL_CLUSTER:
		rc = outcome(out,
			     aws_rds_delete_global_cluster(x->aws, a->region,
							   a->global_cluster_identifier, &g, &err),
			     &err);
		break;
	case GDB_ACT_TAG_RESOURCE:
		rc = outcome(out,
			     aws_rds_add_tags_to_resource(x->aws, a->region, a->target_arn, tags,
							  gdb_owner_tags(a, tags), &err),
			     &err);
		break;
	case GDB_ACT_COPY_FAILOVER_SNAPSHOT:
		rc = outcome(out,
			     aws_rds_copy_db_cluster_snapshot(x->aws, a->region,
							      a->source_snapshot_id, a->snapshot_id,
							      NULL, AWS_TRUE, &snap, &err),
			     &err);
		break;
	default:
		break;
	}
	aws_rds_global_cluster_release(&g);
	aws_rds_db_cluster_release(&cl);
	aws_rds_cluster_snapshot_release(&snap);
	if (rc < 0) {
		base_log(BASE_LOG_WARN, "action failed", "action", gdb_action_name(a->kind),
			 "region", a->region ? a->region : "-", "error", base_strerror(rc),
			 "aws_code", out->aws_code, "message", out->message, NULL);
		warn_event(x, "ActionFailed", gdb_action_name(a->kind), "%s in %s failed: %s%s%s",
			   gdb_action_name(a->kind), a->region ? a->region : "-",
			   *out->aws_code ? out->aws_code : base_strerror(rc),
			   *out->message ? ": " : "", out->message);
	}
}

void gdb_exec_result_release(struct gdb_exec_result *r)
{
	if (!r)
		return;
	free(r->change_id);
	free(r->ecs_restarted);
	free(r->ecs_unreachable);
	memset(r, 0, sizeof(*r));
}
