/*
 * pkg/aws/route53 against a real moto server: Route 53: a CNAME upserted and read back; errors carry their codes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/route53.h"
#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "tests/aws/moto_suite.h"

/* Creates a hosted zone and returns its bare id (caller frees). */
static char *create_zone(const char *name)
{
	char *body =
		xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			  "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/"
			  "2013-04-01/\"><Name>%s</Name><CallerReference>%s-ref</CallerReference>"
			  "</CreateHostedZoneRequest>",
			  name, name);
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root;
	struct aws_error err;
	char *id, *bare;
	int rc = aws_rest_xml_call(client, &aws_svc_route53, "CreateHostedZone", "POST",
				   "/2013-04-01/hostedzone", NULL, body, &doc, &root, &err);

	ck_assert_msg(rc == 0, "CreateHostedZone: %s %s", err.code, err.message);
	id = aws_xml_get(root, "HostedZone/Id");
	ck_assert_ptr_nonnull(id);
	bare = xstrdup(strrchr(id, '/') ? strrchr(id, '/') + 1 : id);
	free(id);
	free(body);
	aws_xml_free(doc);
	return bare;
}

START_TEST(test_route53_upsert_cname_and_read_it_back)
{
	char *zone = create_zone("example.com.");
	char *hz = xasprintf("/hostedzone/%s", zone);
	const char *v1[] = {"orders.cluster-abc.us-east-1.rds.amazonaws.com"};
	const char *v2[] = {"orders.cluster-def.eu-west-1.rds.amazonaws.com"};
	struct aws_r53_change ch = {"UPSERT", "db.example.com.", "CNAME", 30, v1, 1, NULL, -1};
	struct aws_r53_change_info ci, ci2;
	struct aws_r53_record_list l;
	struct aws_error err;
	int rc;

	/* The zone id is accepted with its /hostedzone/ prefix. */
	rc = aws_route53_change_resource_record_sets(client, hz, "primary us-east-1", &ch, 1, &ci,
						     &err);
	ck_assert_msg(rc == 0, "ChangeResourceRecordSets: %s %s", err.code, err.message);
	ck_assert_ptr_nonnull(ci.id);
	ck_assert_ptr_null(strchr(ci.id, '/'));
	ck_assert_ptr_nonnull(ci.status);

	rc = aws_route53_get_change(client, ci.id, &ci2, &err);
	ck_assert_msg(rc == 0, "GetChange: %s %s", err.code, err.message);
	ck_assert_str_eq(ci2.id, ci.id);
	ck_assert_str_eq(ci2.status, "INSYNC");
	aws_r53_change_info_release(&ci);
	aws_r53_change_info_release(&ci2);

	/* Flip it (the DNS half of a switchover), then read the one record. */
	ch.values = v2;
	ck_assert_int_eq(
		aws_route53_change_resource_record_sets(client, zone, NULL, &ch, 1, &ci, &err), 0);
	aws_r53_change_info_release(&ci);
	rc = aws_route53_list_resource_record_sets(client, zone, "db.example.com.", "CNAME", NULL,
						   1, &l, &err);
	ck_assert_msg(rc == 0, "ListResourceRecordSets: %s %s", err.code, err.message);
	ck_assert_int_eq((int)l.n, 1);
	ck_assert_str_eq(l.items[0].name, "db.example.com.");
	ck_assert_str_eq(l.items[0].type, "CNAME");
	ck_assert_int_eq((int)l.items[0].ttl, 30);
	ck_assert_int_eq((int)l.items[0].nvalues, 1);
	ck_assert_str_eq(l.items[0].values[0], v2[0]);
	aws_r53_record_list_release(&l);

	/* The whole zone, paged two records at a time (SOA, NS, CNAME). */
	{
		char *name = NULL, *type = NULL;
		int total = 0, pages = 0;

		do {
			rc = aws_route53_list_resource_record_sets(client, zone, name, type, NULL,
								   2, &l, &err);
			ck_assert_int_eq(rc, 0);
			total += (int)l.n;
			pages++;
			free(name);
			free(type);
			name = l.next_name ? xstrdup(l.next_name) : NULL;
			type = l.next_type ? xstrdup(l.next_type) : NULL;
			ck_assert(!l.is_truncated || name);
			aws_r53_record_list_release(&l);
		} while (name && pages < 10);
		ck_assert_int_eq(total, 3);
		ck_assert_int_eq(pages, 2);
	}
	free(zone);
	free(hz);
}
END_TEST

START_TEST(test_route53_errors_carry_their_codes)
{
	char *zone = create_zone("errors.example.");
	const char *v[] = {"x.example."};
	struct aws_r53_change del = {"DELETE", "nothing.errors.example.", "CNAME", 30, v, 1, NULL,
				     -1};
	struct aws_r53_change_info ci;
	struct aws_r53_record_list l;
	struct aws_error err;
	int rc;

	rc = aws_route53_list_resource_record_sets(client, "ZNOSUCHZONE1", NULL, NULL, NULL, 0, &l,
						   &err);
	ck_assert_int_eq(rc, BASE_ENOTFOUND);
	ck_assert_str_eq(err.code, "NoSuchHostedZone");
	ck_assert_int_eq(err.http_status, 404);

	/*
	 * DELETE of a record that does not exist: the batch is refused as a caller
	 * error and not retried (AWS says InvalidChangeBatch, moto InvalidInput).
	 */
	rc = aws_route53_change_resource_record_sets(client, zone, NULL, &del, 1, &ci, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	ck_assert_msg(strcmp(err.code, "InvalidChangeBatch") == 0 ||
			      strcmp(err.code, "InvalidInput") == 0,
		      "%s: %s", err.code, err.message);
	ck_assert_int_eq(err.attempts, 1);

	/* Ids that would change the path or query never reach the wire. */
	rc = aws_route53_get_change(client, "C1?maxitems=1", &ci, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	rc = aws_route53_get_change(client, "/change/", &ci, &err);
	ck_assert_int_eq(rc, BASE_EINVAL);
	free(zone);
}
END_TEST

MOTO_CHECK_MAIN("aws_route53_moto", test_route53_upsert_cname_and_read_it_back,
		test_route53_errors_carry_their_codes)
