/*
 * ecs.h - Amazon ECS service operations (awsJson1_1): force a new deployment
 * so tasks re-resolve DNS and secrets, and read back the rollout.
 *
 * Results own their strings (release with the _release functions). A missing
 * service is not an error for DescribeServices: it comes back in failures
 * with reason "MISSING". Errors as in client.h (ServiceNotFoundException,
 * ClusterNotFoundException -> BASE_ENOTFOUND; InvalidParameterException ->
 * BASE_EINVAL). Thread-safe as the client is.
 */
#ifndef AWS_ECS_H
#define AWS_ECS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkg/aws/client.h"

struct aws_ecs_deployment {
	char *id;
	char *status;	     /* PRIMARY | ACTIVE | INACTIVE */
	char *rollout_state; /* IN_PROGRESS | COMPLETED | FAILED */
	char *task_definition;
	int64_t desired_count;
	int64_t running_count;
	int64_t pending_count;
	int64_t created_at_ms;
	int64_t updated_at_ms;
};

struct aws_ecs_service {
	char *arn;
	char *name;
	char *cluster_arn;
	char *status; /* ACTIVE | DRAINING | INACTIVE */
	char *task_definition;
	int64_t desired_count;
	int64_t running_count;
	int64_t pending_count;
	struct aws_ecs_deployment *deployments;
	size_t ndeployments;
};

struct aws_ecs_failure {
	char *arn;
	char *reason; /* "MISSING" for an unknown service */
	char *detail;
};

struct aws_ecs_services {
	struct aws_ecs_service *items;
	size_t n;
	struct aws_ecs_failure *failures;
	size_t nfailures;
};

void aws_ecs_service_release(struct aws_ecs_service *s);
void aws_ecs_services_release(struct aws_ecs_services *l);

/* cluster NULL means "default". */
int aws_ecs_update_service(struct aws_client *c, const char *region, const char *cluster,
			   const char *service, int force_new_deployment,
			   struct aws_ecs_service *out, struct aws_error *err);
/* 1..10 service names or ARNs. */
int aws_ecs_describe_services(struct aws_client *c, const char *region, const char *cluster,
			      const char *const *services, size_t nservices,
			      struct aws_ecs_services *out, struct aws_error *err);

/* Decoders (for tests and the fuzz target); obj is borrowed. */
void aws_ecs_decode_service(json_t *obj, struct aws_ecs_service *out);
void aws_ecs_decode_services(json_t *answer, struct aws_ecs_services *out);

#endif
