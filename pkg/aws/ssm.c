/*
 * SSM Parameter Store over awsJson1_1 (PascalCase members).
 */
#include "pkg/aws/ssm.h"

#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

void aws_ssm_parameter_release(struct aws_ssm_parameter *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->type);
	base_free_secret(p->value);
	free(p->arn);
	free(p->data_type);
	memset(p, 0, sizeof(*p));
}

void aws_ssm_decode_parameter(json_t *o, struct aws_ssm_parameter *p)
{
	memset(p, 0, sizeof(*p));
	if (!json_is_object(o))
		return;
	p->name = aws_json_str(o, "Name");
	p->type = aws_json_str(o, "Type");
	p->value = aws_json_str(o, "Value");
	p->arn = aws_json_str(o, "ARN");
	p->data_type = aws_json_str(o, "DataType");
	p->version = aws_json_int(o, "Version");
	p->last_modified_ms = aws_json_time(o, "LastModifiedDate");
}

int aws_ssm_get_parameter(struct aws_client *c, const char *region, const char *name,
			  int with_decryption, struct aws_ssm_parameter *out, struct aws_error *err)
{
	json_t *in, *ans = NULL, *par;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!name || !*name) {
		aws_error_set(err, 0, "", "GetParameter: name is required");
		return BASE_EINVAL;
	}
	in = json_pack("{s:s, s:b}", "Name", name, "WithDecryption", with_decryption);
	rc = aws_json_call(c, &aws_svc_ssm, region, "GetParameter", in, &ans, err);
	json_decref(in);
	if (rc < 0)
		return rc;
	par = json_object_get(ans, "Parameter");
	if (!json_is_object(par)) {
		aws_error_set(err, 200, "", "GetParameter: answer without Parameter");
		rc = BASE_EPARSE;
	} else {
		aws_ssm_decode_parameter(par, out);
	}
	json_decref(ans);
	return rc;
}

int aws_ssm_put_parameter(struct aws_client *c, const char *region,
			  const struct aws_ssm_put_parameter_input *in, int64_t *version,
			  struct aws_error *err)
{
	json_t *req, *ans = NULL;
	int rc;

	if (version)
		*version = 0;
	if (!in->name || !*in->name || !in->value) {
		aws_error_set(err, 0, "", "PutParameter: name and value are required");
		return BASE_EINVAL;
	}
	req = json_object();
	json_object_set_new(req, "Name", json_string(in->name));
	json_object_set_new(req, "Value", json_string(in->value));
	if (in->type)
		json_object_set_new(req, "Type", json_string(in->type));
	if (in->overwrite != AWS_UNSET)
		json_object_set_new(req, "Overwrite", json_boolean(in->overwrite == AWS_TRUE));
	if (in->key_id)
		json_object_set_new(req, "KeyId", json_string(in->key_id));
	if (in->description)
		json_object_set_new(req, "Description", json_string(in->description));
	if (in->tier)
		json_object_set_new(req, "Tier", json_string(in->tier));
	if (in->data_type)
		json_object_set_new(req, "DataType", json_string(in->data_type));
	rc = aws_json_call(c, &aws_svc_ssm, region, "PutParameter", req, &ans, err);
	json_decref(req);
	if (rc < 0)
		return rc;
	if (version)
		*version = aws_json_int(ans, "Version");
	json_decref(ans);
	return 0;
}
