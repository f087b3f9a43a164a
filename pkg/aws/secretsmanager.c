/*
 * Secrets Manager over awsJson1_1. SecretBinary arrives base64-encoded, at
 * most SECRET_MAX_BINARY bytes once decoded.
 */
#include "pkg/aws/secretsmanager.h"

#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/base/alloc.h"
#include "pkg/base/base64.h"
#include "pkg/base/err.h"

#define SECRET_MAX_BINARY (64u << 10)

void aws_secret_value_release(struct aws_secret_value *v)
{
	if (!v)
		return;
	free(v->arn);
	free(v->name);
	free(v->version_id);
	base_free_secret(v->secret_string);
	if (v->secret_binary) {
		base_memzero(v->secret_binary, v->secret_binary_len);
		free(v->secret_binary);
	}
	for (size_t i = 0; i < v->nversion_stages; i++)
		free(v->version_stages[i]);
	free(v->version_stages);
	memset(v, 0, sizeof(*v));
}

int aws_secretsmanager_decode(json_t *a, struct aws_secret_value *v)
{
	json_t *stages = json_object_get(a, "VersionStages");
	json_t *bin = json_object_get(a, "SecretBinary");
	size_t i;
	json_t *s;

	memset(v, 0, sizeof(*v));
	if (!json_is_object(a))
		return BASE_EPARSE;
	v->arn = aws_json_str(a, "ARN");
	v->name = aws_json_str(a, "Name");
	v->version_id = aws_json_str(a, "VersionId");
	v->secret_string = aws_json_str(a, "SecretString");
	v->created_ms = aws_json_time(a, "CreatedDate");
	if (json_is_array(stages)) {
		v->version_stages = xcalloc(json_array_size(stages) + 1, sizeof(char *));
		json_array_foreach(stages, i, s) if (json_is_string(s))
			v->version_stages[v->nversion_stages++] = xstrdup(json_string_value(s));
	}
	if (json_is_string(bin)) {
		char *raw;

		if (json_string_length(bin) / 4 * 3 > SECRET_MAX_BINARY ||
		    base_base64_decode(json_string_value(bin), &raw, &v->secret_binary_len) < 0) {
			aws_secret_value_release(v);
			return BASE_EPARSE;
		}
		v->secret_binary = (unsigned char *)raw;
	}
	return 0;
}

int aws_secretsmanager_get_secret_value(struct aws_client *c, const char *region,
					const char *secret_id, const char *version_id,
					const char *version_stage, struct aws_secret_value *out,
					struct aws_error *err)
{
	json_t *in, *ans = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!secret_id || !*secret_id) {
		aws_error_set(err, 0, "", "GetSecretValue: secret id is required");
		return BASE_EINVAL;
	}
	in = json_object();
	json_object_set_new(in, "SecretId", json_string(secret_id));
	if (version_id)
		json_object_set_new(in, "VersionId", json_string(version_id));
	if (version_stage)
		json_object_set_new(in, "VersionStage", json_string(version_stage));
	rc = aws_json_call(c, &aws_svc_secretsmanager, region, "GetSecretValue", in, &ans, err);
	json_decref(in);
	if (rc < 0)
		return rc;
	rc = aws_secretsmanager_decode(ans, out);
	if (rc < 0)
		aws_error_set(err, 200, "", "GetSecretValue: malformed SecretBinary");
	/* The answer held the secret: wipe jansson's copy before freeing it. */
	{
		json_t *ss = json_object_get(ans, "SecretString");

		if (json_is_string(ss))
			base_memzero((void *)json_string_value(ss), json_string_length(ss));
	}
	json_decref(ans);
	return rc;
}
