/*
 * ECS over awsJson1_1 (camelCase members, epoch-second timestamps).
 */
#include "pkg/aws/ecs.h"

#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

#define ECS_MAX_SERVICES 10

void aws_ecs_service_release(struct aws_ecs_service *s)
{
	if (!s)
		return;
	free(s->arn);
	free(s->name);
	free(s->cluster_arn);
	free(s->status);
	free(s->task_definition);
	for (size_t i = 0; i < s->ndeployments; i++) {
		free(s->deployments[i].id);
		free(s->deployments[i].status);
		free(s->deployments[i].rollout_state);
		free(s->deployments[i].task_definition);
	}
	free(s->deployments);
	memset(s, 0, sizeof(*s));
}

void aws_ecs_services_release(struct aws_ecs_services *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		aws_ecs_service_release(&l->items[i]);
	free(l->items);
	for (size_t i = 0; i < l->nfailures; i++) {
		free(l->failures[i].arn);
		free(l->failures[i].reason);
		free(l->failures[i].detail);
	}
	free(l->failures);
	memset(l, 0, sizeof(*l));
}

void aws_ecs_decode_service(json_t *o, struct aws_ecs_service *s)
{
	json_t *deps = json_object_get(o, "deployments");
	size_t i;
	json_t *d;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o))
		return;
	s->arn = aws_json_str(o, "serviceArn");
	s->name = aws_json_str(o, "serviceName");
	s->cluster_arn = aws_json_str(o, "clusterArn");
	s->status = aws_json_str(o, "status");
	s->task_definition = aws_json_str(o, "taskDefinition");
	s->desired_count = aws_json_int(o, "desiredCount");
	s->running_count = aws_json_int(o, "runningCount");
	s->pending_count = aws_json_int(o, "pendingCount");
	if (!json_is_array(deps))
		return;
	s->deployments = xcalloc(json_array_size(deps) + 1, sizeof(*s->deployments));
	json_array_foreach(deps, i, d)
	{
		struct aws_ecs_deployment *dp;

		if (!json_is_object(d))
			continue;
		dp = &s->deployments[s->ndeployments++];
		dp->id = aws_json_str(d, "id");
		dp->status = aws_json_str(d, "status");
		dp->rollout_state = aws_json_str(d, "rolloutState");
		dp->task_definition = aws_json_str(d, "taskDefinition");
		dp->desired_count = aws_json_int(d, "desiredCount");
		dp->running_count = aws_json_int(d, "runningCount");
		dp->pending_count = aws_json_int(d, "pendingCount");
		dp->created_at_ms = aws_json_time(d, "createdAt");
		dp->updated_at_ms = aws_json_time(d, "updatedAt");
	}
}

void aws_ecs_decode_services(json_t *answer, struct aws_ecs_services *l)
{
	json_t *svcs = json_object_get(answer, "services");
	json_t *fails = json_object_get(answer, "failures");
	size_t i;
	json_t *v;

	memset(l, 0, sizeof(*l));
	if (json_is_array(svcs)) {
		l->items = xcalloc(json_array_size(svcs) + 1, sizeof(*l->items));
		json_array_foreach(svcs, i, v) if (json_is_object(v))
			aws_ecs_decode_service(v, &l->items[l->n++]);
	}
	if (json_is_array(fails)) {
		l->failures = xcalloc(json_array_size(fails) + 1, sizeof(*l->failures));
		json_array_foreach(fails, i, v)
		{
			struct aws_ecs_failure *f;

			if (!json_is_object(v))
				continue;
			f = &l->failures[l->nfailures++];
			f->arn = aws_json_str(v, "arn");
			f->reason = aws_json_str(v, "reason");
			f->detail = aws_json_str(v, "detail");
		}
	}
}

int aws_ecs_update_service(struct aws_client *c, const char *region, const char *cluster,
			   const char *service, int force_new_deployment,
			   struct aws_ecs_service *out, struct aws_error *err)
{
	json_t *in, *ans = NULL, *svc;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!service || !*service) {
		aws_error_set(err, 0, "", "UpdateService: service is required");
		return BASE_EINVAL;
	}
	in = json_object();
	if (cluster)
		json_object_set_new(in, "cluster", json_string(cluster));
	json_object_set_new(in, "service", json_string(service));
	if (force_new_deployment)
		json_object_set_new(in, "forceNewDeployment", json_true());
	rc = aws_json_call(c, &aws_svc_ecs, region, "UpdateService", in, &ans, err);
	json_decref(in);
	if (rc < 0)
		return rc;
	svc = json_object_get(ans, "service");
	if (!json_is_object(svc)) {
		aws_error_set(err, 200, "", "UpdateService: answer without service");
		rc = BASE_EPARSE;
	} else {
		aws_ecs_decode_service(svc, out);
	}
	json_decref(ans);
	return rc;
}

int aws_ecs_describe_services(struct aws_client *c, const char *region, const char *cluster,
			      const char *const *services, size_t nservices,
			      struct aws_ecs_services *out, struct aws_error *err)
{
	json_t *in, *arr, *ans = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (nservices == 0 || nservices > ECS_MAX_SERVICES) {
		aws_error_set(err, 0, "", "DescribeServices: 1 to %d services", ECS_MAX_SERVICES);
		return BASE_EINVAL;
	}
	in = json_object();
	arr = json_array();
	if (cluster)
		json_object_set_new(in, "cluster", json_string(cluster));
	for (size_t i = 0; i < nservices; i++)
		json_array_append_new(arr, json_string(services[i]));
	json_object_set_new(in, "services", arr);
	rc = aws_json_call(c, &aws_svc_ecs, region, "DescribeServices", in, &ans, err);
	json_decref(in);
	if (rc < 0)
		return rc;
	aws_ecs_decode_services(ans, out);
	json_decref(ans);
	return 0;
}
