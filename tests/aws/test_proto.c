/*
 * The protocol layer's pure parts (pkg/aws/proto.h): the awsQuery form body
 * as AWS verifies it (strict percent-encoding, insertion order, skipped
 * absent values) and the JSON member readers the awsJson decoders use on
 * untrusted answers. The calls themselves, against a scripted server, are in
 * test_client.c.
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/base/alloc.h"
#include "tests/check_main.h"

START_TEST(test_values_are_percent_encoded_strictly)
{
	struct aws_params p = AWS_PARAMS_INIT;
	char *q;

	aws_params_add(&p, "TargetDbClusterIdentifier", "arn:aws:rds:eu-west-1:1:cluster:a b/c+*~");
	q = aws_query_encode("FailoverGlobalCluster", "2014-10-31", &p);
	ck_assert_str_eq(q, "Action=FailoverGlobalCluster&Version=2014-10-31&"
			    "TargetDbClusterIdentifier=arn%3Aaws%3Ards%3Aeu-west-1%3A1%3Acluster%3A"
			    "a%20b%2Fc%2B%2A~");
	free(q);
	aws_params_release(&p);
}
END_TEST

START_TEST(test_query_body_keeps_insertion_order_and_skips_absent_values)
{
	struct aws_params p = AWS_PARAMS_INIT;
	char *q;

	aws_params_add(&p, "DBClusterIdentifier", "orders-euw1");
	aws_params_add(&p, "KmsKeyId", NULL);
	aws_params_addf(&p, "sg-1", "VpcSecurityGroupIds.VpcSecurityGroupId.%zu", (size_t)1);
	aws_params_addf(&p, NULL, "VpcSecurityGroupIds.VpcSecurityGroupId.%zu", (size_t)2);
	aws_params_add_bool(&p, "StorageEncrypted", 1);
	aws_params_add_bool(&p, "DeletionProtection", 0);
	aws_params_add_int(&p, "Port", 5432);
	aws_params_add_int(&p, "BacktrackWindow", -1);
	ck_assert_uint_eq(p.n, 6);
	q = aws_query_encode("CreateDBCluster", "2014-10-31", &p);
	ck_assert_str_eq(q, "Action=CreateDBCluster&Version=2014-10-31"
			    "&DBClusterIdentifier=orders-euw1"
			    "&VpcSecurityGroupIds.VpcSecurityGroupId.1=sg-1"
			    "&StorageEncrypted=true&DeletionProtection=false"
			    "&Port=5432&BacktrackWindow=-1");
	free(q);
	aws_params_release(&p);
	ck_assert_uint_eq(p.n, 0);
	ck_assert_ptr_null(p.items);
	aws_params_release(&p);
}
END_TEST

/* RFC 3986 unreserved characters pass; every other byte (names too, UTF-8 too) is %XX. */
START_TEST(test_names_and_non_ascii_bytes_are_encoded)
{
	struct aws_params p = AWS_PARAMS_INIT;
	char *q;

	aws_params_add(&p, "Tags.Tag.1.Key", "team=db&x");
	aws_params_add(&p, "Tags.Tag.1.Value", "caf\xc3\xa9 AZaz09-_.~");
	aws_params_add(&p, "odd name", "");
	q = aws_query_encode("AddTagsToResource", "2014-10-31", &p);
	ck_assert_str_eq(q, "Action=AddTagsToResource&Version=2014-10-31"
			    "&Tags.Tag.1.Key=team%3Ddb%26x"
			    "&Tags.Tag.1.Value=caf%C3%A9%20AZaz09-_.~"
			    "&odd%20name=");
	free(q);
	aws_params_release(&p);
	q = aws_query_encode("DescribeDBClusters", "2014-10-31", NULL);
	ck_assert_str_eq(q, "Action=DescribeDBClusters&Version=2014-10-31");
	free(q);
}
END_TEST

/* A member of the wrong type reads as absent: an odd answer never crashes a decoder. */
START_TEST(test_json_members_of_the_wrong_type_read_as_absent)
{
	json_t *o = json_loads("{\"name\":\"api\",\"count\":3,\"real\":2.9,\"huge\":1e300,"
			       "\"flag\":true,\"str\":\"true\",\"null\":null,\"arr\":[1]}",
			       0, NULL);
	char *s;

	ck_assert_ptr_nonnull(o);
	s = aws_json_str(o, "name");
	ck_assert_str_eq(s, "api");
	free(s);
	ck_assert_ptr_null(aws_json_str(o, "count"));
	ck_assert_ptr_null(aws_json_str(o, "null"));
	ck_assert_ptr_null(aws_json_str(o, "missing"));
	ck_assert_ptr_null(aws_json_str(NULL, "name"));

	ck_assert(aws_json_int(o, "count") == 3);
	ck_assert(aws_json_int(o, "real") == 2);
	ck_assert(aws_json_int(o, "huge") == 0);
	ck_assert(aws_json_int(o, "str") == 0);
	ck_assert(aws_json_int(o, "missing") == 0);

	ck_assert_int_eq(aws_json_bool(o, "flag"), 1);
	ck_assert_int_eq(aws_json_bool(o, "str"), 0);
	ck_assert_int_eq(aws_json_bool(o, "count"), 0);
	ck_assert_int_eq(aws_json_bool(o, "missing"), 0);
	json_decref(o);
}
END_TEST

/* AWS JSON timestamps are epoch seconds, often fractional; the decoders want Unix ms. */
START_TEST(test_json_epoch_seconds_become_unix_ms)
{
	json_t *o = json_loads("{\"createdAt\":1767322000.123,\"whole\":1767322000,"
			       "\"negative\":-5,\"far\":1e14,\"text\":\"1767322000\"}",
			       0, NULL);

	ck_assert_ptr_nonnull(o);
	ck_assert(aws_json_time(o, "createdAt") == 1767322000123LL);
	ck_assert(aws_json_time(o, "whole") == 1767322000000LL);
	ck_assert(aws_json_time(o, "negative") == 0);
	ck_assert(aws_json_time(o, "far") == 0);
	ck_assert(aws_json_time(o, "text") == 0);
	ck_assert(aws_json_time(o, "missing") == 0);
	json_decref(o);
}
END_TEST

GDB_CHECK_MAIN("aws_proto", 20, test_values_are_percent_encoded_strictly,
	       test_query_body_keeps_insertion_order_and_skips_absent_values,
	       test_names_and_non_ascii_bytes_are_encoded,
	       test_json_members_of_the_wrong_type_read_as_absent,
	       test_json_epoch_seconds_become_unix_ms)
