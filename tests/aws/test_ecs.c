/*
 * pkg/aws/ecs against a real moto server: ECS: forceNewDeployment of a service; a missing service is NotFound.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/ecs.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/moto_suite.h"

START_TEST(test_ecs_force_new_deployment)
{
	struct aws_ecs_service svc;
	struct aws_ecs_services l;
	const char *names[] = {"api", "ghost"};
	struct aws_error err;
	int rc;

	json_ok(&aws_svc_ecs, "CreateCluster", "{\"clusterName\":\"apps\"}");
	json_ok(&aws_svc_ecs, "RegisterTaskDefinition",
		"{\"family\":\"api\",\"containerDefinitions\":[{\"name\":\"api\","
		"\"image\":\"api:1\",\"memory\":128}]}");
	json_ok(&aws_svc_ecs, "CreateService",
		"{\"cluster\":\"apps\",\"serviceName\":\"api\",\"taskDefinition\":\"api\","
		"\"desiredCount\":2}");

	rc = aws_ecs_update_service(client, REGION, "apps", "api", 1, &svc, &err);
	ck_assert_msg(rc == 0, "UpdateService: %s %s", err.code, err.message);
	ck_assert_str_eq(svc.name, "api");
	ck_assert_str_eq(svc.status, "ACTIVE");
	ck_assert_int_eq((int)svc.desired_count, 2);
	ck_assert_int_ge((int)svc.ndeployments, 1);
	ck_assert_ptr_nonnull(svc.deployments[0].status);
	ck_assert_int_gt((int)(svc.deployments[0].created_at_ms / 1000000), 0);
	ck_assert_ptr_nonnull(strstr(svc.arn, ":service/"));
	aws_ecs_service_release(&svc);

	rc = aws_ecs_describe_services(client, REGION, "apps", names, 2, &l, &err);
	ck_assert_msg(rc == 0, "DescribeServices: %s", err.message);
	ck_assert_int_eq((int)l.n, 1);
	ck_assert_str_eq(l.items[0].name, "api");
	ck_assert_ptr_nonnull(strstr(l.items[0].task_definition, "task-definition/api:1"));
	ck_assert_int_eq((int)l.nfailures, 1);
	ck_assert_str_eq(l.failures[0].reason, "MISSING");
	aws_ecs_services_release(&l);

	rc = aws_ecs_update_service(client, REGION, "apps", "ghost", 1, &svc, &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "ServiceNotFoundException");
}
END_TEST

MOTO_CHECK_MAIN("aws_ecs_moto", test_ecs_force_new_deployment)
