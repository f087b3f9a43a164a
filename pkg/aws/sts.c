/*
 * STS calls. The legacy global endpoint is reached by passing region
 * "us-east-1" with the sts.amazonaws.com host; since every supported region has
 * a regional endpoint, a NULL region simply means us-east-1 here.
 */
#include "pkg/aws/sts.h"

#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

void aws_sts_assumed_release(struct aws_sts_assumed *a)
{
	if (!a)
		return;
	aws_creds_release(&a->creds);
	free(a->assumed_role_arn);
	free(a->assumed_role_id);
	memset(a, 0, sizeof(*a));
}

void aws_sts_identity_release(struct aws_sts_identity *id)
{
	if (!id)
		return;
	free(id->arn);
	free(id->user_id);
	free(id->account);
	memset(id, 0, sizeof(*id));
}

static int decode_assumed(const struct aws_xml_node *result, struct aws_sts_assumed *out,
			  struct aws_error *err, const char *op)
{
	const struct aws_xml_node *cr = aws_xml_child(result, "Credentials");

	out->creds.access_key_id = aws_xml_get(cr, "AccessKeyId");
	out->creds.secret_access_key = aws_xml_get(cr, "SecretAccessKey");
	out->creds.session_token = aws_xml_get(cr, "SessionToken");
	out->creds.expiration_ms = aws_xml_get_time(cr, "Expiration");
	out->assumed_role_arn = aws_xml_get(result, "AssumedRoleUser/Arn");
	out->assumed_role_id = aws_xml_get(result, "AssumedRoleUser/AssumedRoleId");
	if (!out->creds.access_key_id || !*out->creds.access_key_id ||
	    !out->creds.secret_access_key || !*out->creds.secret_access_key) {
		aws_sts_assumed_release(out);
		aws_error_set(err, 200, "", "%s: answer without credentials", op);
		return BASE_EPARSE;
	}
	return 0;
}

int aws_sts_assume_role_with_web_identity(struct aws_client *c, const char *region,
					  const char *role_arn, const char *session_name,
					  const char *web_identity_token, int duration_s,
					  struct aws_sts_assumed *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res;
	int rc;

	memset(out, 0, sizeof(*out));
	aws_params_add(&p, "RoleArn", role_arn);
	aws_params_add(&p, "RoleSessionName", session_name);
	aws_params_add(&p, "WebIdentityToken", web_identity_token);
	if (duration_s > 0)
		aws_params_add_int(&p, "DurationSeconds", duration_s);
	rc = aws_query_call(c, &aws_svc_sts, region ? region : "us-east-1",
			    "AssumeRoleWithWebIdentity", &p, AWS_CALL_UNSIGNED, &doc, &res, err);
	aws_params_release(&p);
	if (rc == 0)
		rc = decode_assumed(res, out, err, "AssumeRoleWithWebIdentity");
	aws_xml_free(doc);
	return rc;
}

int aws_sts_assume_role(struct aws_client *c, const char *region, const char *role_arn,
			const char *session_name, const char *external_id, int duration_s,
			struct aws_sts_assumed *out, struct aws_error *err)
{
	struct aws_params p = AWS_PARAMS_INIT;
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res;
	int rc;

	memset(out, 0, sizeof(*out));
	aws_params_add(&p, "RoleArn", role_arn);
	aws_params_add(&p, "RoleSessionName", session_name);
	aws_params_add(&p, "ExternalId", external_id);
	if (duration_s > 0)
		aws_params_add_int(&p, "DurationSeconds", duration_s);
	rc = aws_query_call(c, &aws_svc_sts, region ? region : "us-east-1", "AssumeRole", &p, 0,
			    &doc, &res, err);
	aws_params_release(&p);
	if (rc == 0)
		rc = decode_assumed(res, out, err, "AssumeRole");
	aws_xml_free(doc);
	return rc;
}

int aws_sts_get_caller_identity(struct aws_client *c, const char *region,
				struct aws_sts_identity *out, struct aws_error *err)
{
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *res;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = aws_query_call(c, &aws_svc_sts, region ? region : "us-east-1", "GetCallerIdentity",
			    NULL, 0, &doc, &res, err);
	if (rc == 0) {
		out->arn = aws_xml_get(res, "Arn");
		out->user_id = aws_xml_get(res, "UserId");
		out->account = aws_xml_get(res, "Account");
	}
	aws_xml_free(doc);
	return rc;
}
