/*
 * ssm.h - AWS Systems Manager Parameter Store (awsJson1_1): read and write
 * one parameter (e.g. the application's active region).
 *
 * A parameter's value may be a SecureString: it is wiped when the result is
 * released and never appears in err. Errors as in client.h (ParameterNotFound
 * -> BASE_ENOTFOUND, ParameterAlreadyExists -> BASE_EEXIST, TooManyUpdates is
 * retried as throttling). Thread-safe as the client is.
 */
#ifndef AWS_SSM_H
#define AWS_SSM_H

#include <stdint.h>

#include <jansson.h>

#include "pkg/aws/client.h"
#include "pkg/aws/rds.h"

struct aws_ssm_parameter {
	char *name;
	char *type; /* String | StringList | SecureString */
	char *value;
	char *arn;
	char *data_type;
	int64_t version;
	int64_t last_modified_ms;
};

void aws_ssm_parameter_release(struct aws_ssm_parameter *p);

int aws_ssm_get_parameter(struct aws_client *c, const char *region, const char *name,
			  int with_decryption, struct aws_ssm_parameter *out,
			  struct aws_error *err);

struct aws_ssm_put_parameter_input {
	const char *name;  /* required */
	const char *value; /* required */
	const char *type;  /* required when creating */
	enum aws_opt_bool overwrite;
	const char *key_id; /* SecureString KMS key */
	const char *description;
	const char *tier;
	const char *data_type;
};
/* *version (may be NULL) receives the new version. */
int aws_ssm_put_parameter(struct aws_client *c, const char *region,
			  const struct aws_ssm_put_parameter_input *in, int64_t *version,
			  struct aws_error *err);

/* Decoder of GetParameter's "Parameter" object (borrowed). */
void aws_ssm_decode_parameter(json_t *obj, struct aws_ssm_parameter *out);

#endif
