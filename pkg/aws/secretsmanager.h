/*
 * secretsmanager.h - AWS Secrets Manager GetSecretValue (awsJson1_1), e.g.
 * the RDS-managed master user secret.
 *
 * The secret string and binary are wiped when the result is released and
 * never appear in err. Errors as in client.h (ResourceNotFoundException ->
 * BASE_ENOTFOUND, DecryptionFailure -> BASE_EINTERNAL). Thread-safe as the
 * client is.
 */
#ifndef AWS_SECRETSMANAGER_H
#define AWS_SECRETSMANAGER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pkg/aws/client.h"

struct aws_secret_value {
	char *arn;
	char *name;
	char *version_id;
	char *secret_string;	      /* NULL when the secret is binary */
	unsigned char *secret_binary; /* decoded from base64; NULL when a string */
	size_t secret_binary_len;
	char **version_stages;
	size_t nversion_stages;
	int64_t created_ms;
};

void aws_secret_value_release(struct aws_secret_value *v);

/* version_id and version_stage may be NULL (AWSCURRENT). */
int aws_secretsmanager_get_secret_value(struct aws_client *c, const char *region,
					const char *secret_id, const char *version_id,
					const char *version_stage, struct aws_secret_value *out,
					struct aws_error *err);

/* Decoder of the answer object (borrowed). 0 or BASE_EPARSE (bad base64). */
int aws_secretsmanager_decode(json_t *answer, struct aws_secret_value *out);

#endif
