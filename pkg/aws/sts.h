/*
 * sts.h - STS (awsQuery, 2011-06-15): the calls behind the credential
 * providers, and a credentials self-test.
 *
 * AssumeRoleWithWebIdentity is sent unsigned (the model marks it noAuth), so
 * it works with a client that has no credentials. The returned credentials
 * belong to the caller (release with aws_creds_release); they never appear in
 * err. Thread-safe as the client is.
 */
#ifndef AWS_STS_H
#define AWS_STS_H

#include <stdint.h>

#include "pkg/aws/client.h"
#include "pkg/aws/creds.h"

struct aws_sts_assumed {
	struct aws_creds creds;
	char *assumed_role_arn; /* AssumedRoleUser/Arn */
	char *assumed_role_id;
};
void aws_sts_assumed_release(struct aws_sts_assumed *a);

/* region NULL uses the legacy global endpoint (sts.amazonaws.com, signed as us-east-1). */
int aws_sts_assume_role_with_web_identity(struct aws_client *c, const char *region,
					  const char *role_arn, const char *session_name,
					  const char *web_identity_token, int duration_s,
					  struct aws_sts_assumed *out, struct aws_error *err);
int aws_sts_assume_role(struct aws_client *c, const char *region, const char *role_arn,
			const char *session_name, const char *external_id, int duration_s,
			struct aws_sts_assumed *out, struct aws_error *err);

struct aws_sts_identity {
	char *arn;
	char *user_id;
	char *account;
};
void aws_sts_identity_release(struct aws_sts_identity *id);
int aws_sts_get_caller_identity(struct aws_client *c, const char *region,
				struct aws_sts_identity *out, struct aws_error *err);

#endif
