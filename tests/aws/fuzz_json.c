/*
 * Fuzz target for the JSON side: the awsJson error decoder, the ECS, SSM,
 * Secrets Manager and DynamoDB decoders, and the container / IMDS credentials decoder,
 * on untrusted bodies.
 */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkg/aws/creds.h"
#include "pkg/aws/dynamodb.h"
#include "pkg/aws/ecs.h"
#include "pkg/aws/error.h"
#include "pkg/aws/secretsmanager.h"
#include "pkg/aws/ssm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_error err;
	struct aws_ecs_services svcs;
	struct aws_ecs_service svc;
	struct aws_ssm_parameter par;
	struct aws_secret_value sec;
	struct aws_dynamodb_item item;
	int found;
	json_t *j;

	struct aws_creds creds;

	aws_error_clear(&err);
	aws_error_decode_json((const char *)data, size, "Fallback#Type:x", &err);
	if (aws_creds_decode_json((const char *)data, size, "fuzz", &creds, &err) == 0)
		aws_creds_release(&creds);
	j = json_loadb((const char *)data, size, 0, NULL);
	if (!j)
		return 0;
	aws_ecs_decode_services(j, &svcs);
	aws_ecs_services_release(&svcs);
	aws_ecs_decode_service(json_object_get(j, "service"), &svc);
	aws_ecs_service_release(&svc);
	aws_ssm_decode_parameter(json_object_get(j, "Parameter"), &par);
	aws_ssm_parameter_release(&par);
	aws_dynamodb_decode_get_item(j, &item, &found);
	aws_dynamodb_item_release(&item);
	if (aws_secretsmanager_decode(j, &sec) == 0)
		aws_secret_value_release(&sec);
	json_decref(j);
	return 0;
}
