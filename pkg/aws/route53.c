/*
 * Route 53 over restXml. Request bodies are built with every value
 * XML-escaped; the list query is built already canonical (keys in the order
 * identifier, maxitems, name, type, values strictly percent-encoded), so the
 * URL sent and the string signed cannot disagree (docs/aws-protocols.md §7.2).
 */
#include "pkg/aws/route53.h"

#include <ctype.h>
#include <string.h>

#include "pkg/aws/proto.h"
#include "pkg/aws/sigv4.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"

#define R53_NS "https://route53.amazonaws.com/doc/2013-04-01/"

void aws_r53_change_info_release(struct aws_r53_change_info *ci)
{
	if (!ci)
		return;
	free(ci->id);
	free(ci->status);
	free(ci->comment);
	memset(ci, 0, sizeof(*ci));
}

void aws_r53_record_list_release(struct aws_r53_record_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct aws_r53_record *r = &l->items[i];

		free(r->name);
		free(r->type);
		free(r->set_identifier);
		for (size_t j = 0; j < r->nvalues; j++)
			free(r->values[j]);
		free(r->values);
		free(r->alias_dns_name);
		free(r->alias_hosted_zone_id);
	}
	free(l->items);
	free(l->next_name);
	free(l->next_type);
	free(l->next_identifier);
	memset(l, 0, sizeof(*l));
}

/* The last path segment of an id ("/hostedzone/Z1" -> "Z1"), if it is [A-Za-z0-9]+. */
static int bare_id(const char *id, char *out, size_t n)
{
	const char *s;
	size_t len;

	if (!id || !*id)
		return BASE_EINVAL;
	s = strrchr(id, '/');
	s = s ? s + 1 : id;
	len = strlen(s);
	if (len == 0 || len >= n)
		return BASE_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]))
			return BASE_EINVAL;
	memcpy(out, s, len + 1);
	return 0;
}

static char *strip_id(char *id)
{
	char *s;

	if (!id)
		return NULL;
	s = strrchr(id, '/');
	if (s) {
		char *bare = xstrdup(s + 1);

		free(id);
		return bare;
	}
	return id;
}

void aws_r53_decode_change_info(const struct aws_xml_node *n, struct aws_r53_change_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = strip_id(aws_xml_get(n, "Id"));
	ci->status = aws_xml_get(n, "Status");
	ci->submitted_at_ms = aws_xml_get_time(n, "SubmittedAt");
	ci->comment = aws_xml_get(n, "Comment");
}

void aws_r53_decode_record_list(const struct aws_xml_node *root, struct aws_r53_record_list *l)
{
	const struct aws_xml_node *sets = aws_xml_child(root, "ResourceRecordSets");
	size_t k = 0;

	memset(l, 0, sizeof(*l));
	l->n = aws_xml_count(sets, "ResourceRecordSet");
	l->items = xcalloc(l->n + 1, sizeof(*l->items));
	for (const struct aws_xml_node *s = aws_xml_child(sets, "ResourceRecordSet"); s && k < l->n;
	     s = aws_xml_next(s), k++) {
		struct aws_r53_record *r = &l->items[k];
		const struct aws_xml_node *rrs = aws_xml_child(s, "ResourceRecords");
		const struct aws_xml_node *alias = aws_xml_child(s, "AliasTarget");
		size_t v = 0;

		r->name = aws_xml_get(s, "Name");
		r->type = aws_xml_get(s, "Type");
		r->ttl = aws_xml_get_int(s, "TTL");
		r->set_identifier = aws_xml_get(s, "SetIdentifier");
		r->weight = aws_xml_child(s, "Weight") ? aws_xml_get_int(s, "Weight") : -1;
		r->nvalues = aws_xml_count(rrs, "ResourceRecord");
		r->values = xcalloc(r->nvalues + 1, sizeof(char *));
		for (const struct aws_xml_node *rr = aws_xml_child(rrs, "ResourceRecord");
		     rr && v < r->nvalues; rr = aws_xml_next(rr))
			r->values[v++] = aws_xml_get(rr, "Value");
		r->nvalues = v;
		if (alias) {
			r->alias_dns_name = aws_xml_get(alias, "DNSName");
			r->alias_hosted_zone_id = aws_xml_get(alias, "HostedZoneId");
			r->alias_evaluate_target_health =
				aws_xml_get_bool(alias, "EvaluateTargetHealth", NULL);
		}
	}
	l->is_truncated = aws_xml_get_bool(root, "IsTruncated", NULL);
	l->next_name = aws_xml_get(root, "NextRecordName");
	l->next_type = aws_xml_get(root, "NextRecordType");
	l->next_identifier = aws_xml_get(root, "NextRecordIdentifier");
}

static int valid_change(const struct aws_r53_change *ch)
{
	return ch->action && ch->name && *ch->name && ch->type && *ch->type &&
	       (strcmp(ch->action, "CREATE") == 0 || strcmp(ch->action, "DELETE") == 0 ||
		strcmp(ch->action, "UPSERT") == 0) &&
	       ch->nvalues > 0 && ch->ttl >= 0;
}

int aws_route53_change_resource_record_sets(struct aws_client *c, const char *hosted_zone_id,
					    const char *comment,
					    const struct aws_r53_change *changes, size_t nchanges,
					    struct aws_r53_change_info *out, struct aws_error *err)
{
	struct base_buf b = BASE_BUF_INIT(0);
	char zone[64], path[128];
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (bare_id(hosted_zone_id, zone, sizeof(zone)) < 0 || nchanges == 0) {
		aws_error_set(err, 0, "",
			      "ChangeResourceRecordSets: bad hosted zone id or no changes");
		return BASE_EINVAL;
	}
	for (size_t i = 0; i < nchanges; i++) {
		if (!valid_change(&changes[i])) {
			aws_error_set(err, 0, "",
				      "ChangeResourceRecordSets: change %zu is incomplete", i + 1);
			return BASE_EINVAL;
		}
	}
	base_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			  "<ChangeResourceRecordSetsRequest xmlns=\"" R53_NS "\"><ChangeBatch>");
	if (comment) {
		base_buf_adds(&b, "<Comment>");
		aws_xml_escape(&b, comment);
		base_buf_adds(&b, "</Comment>");
	}
	base_buf_adds(&b, "<Changes>");
	for (size_t i = 0; i < nchanges; i++) {
		const struct aws_r53_change *ch = &changes[i];

		base_buf_addf(&b, "<Change><Action>%s</Action><ResourceRecordSet><Name>",
			      ch->action);
		aws_xml_escape(&b, ch->name);
		base_buf_adds(&b, "</Name><Type>");
		aws_xml_escape(&b, ch->type);
		base_buf_adds(&b, "</Type>");
		if (ch->set_identifier) {
			base_buf_adds(&b, "<SetIdentifier>");
			aws_xml_escape(&b, ch->set_identifier);
			base_buf_adds(&b, "</SetIdentifier>");
			if (ch->weight >= 0)
				base_buf_addf(&b, "<Weight>%lld</Weight>", (long long)ch->weight);
		}
		base_buf_addf(&b, "<TTL>%lld</TTL><ResourceRecords>", (long long)ch->ttl);
		for (size_t v = 0; v < ch->nvalues; v++) {
			base_buf_adds(&b, "<ResourceRecord><Value>");
			aws_xml_escape(&b, ch->values[v]);
			base_buf_adds(&b, "</Value></ResourceRecord>");
		}
		base_buf_adds(&b, "</ResourceRecords></ResourceRecordSet></Change>");
	}
	base_buf_adds(&b, "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>");
	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/rrset/", zone);
	rc = aws_rest_xml_call(c, &aws_svc_route53, "ChangeResourceRecordSets", "POST", path, NULL,
			       b.data, &doc, &root, err);
	base_buf_release(&b);
	if (rc < 0)
		return rc;
	if (!aws_xml_child(root, "ChangeInfo")) {
		aws_error_set(err, 200, "", "ChangeResourceRecordSets: answer without ChangeInfo");
		rc = BASE_EPARSE;
	} else {
		aws_r53_decode_change_info(aws_xml_child(root, "ChangeInfo"), out);
	}
	aws_xml_free(doc);
	return rc;
}

int aws_route53_get_change(struct aws_client *c, const char *change_id,
			   struct aws_r53_change_info *out, struct aws_error *err)
{
	char id[64], path[128];
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (bare_id(change_id, id, sizeof(id)) < 0) {
		aws_error_set(err, 0, "", "GetChange: bad change id");
		return BASE_EINVAL;
	}
	snprintf(path, sizeof(path), "/2013-04-01/change/%s", id);
	rc = aws_rest_xml_call(c, &aws_svc_route53, "GetChange", "GET", path, NULL, NULL, &doc,
			       &root, err);
	if (rc < 0)
		return rc;
	if (!aws_xml_child(root, "ChangeInfo")) {
		aws_error_set(err, 200, "", "GetChange: answer without ChangeInfo");
		rc = BASE_EPARSE;
	} else {
		aws_r53_decode_change_info(aws_xml_child(root, "ChangeInfo"), out);
	}
	aws_xml_free(doc);
	return rc;
}

static void add_q(struct base_buf *q, const char *name, const char *value)
{
	if (!value)
		return;
	base_buf_addf(q, "%s%s=", q->len ? "&" : "", name);
	aws_uri_encode(q, value, strlen(value), 0);
}

int aws_route53_list_resource_record_sets(struct aws_client *c, const char *hosted_zone_id,
					  const char *start_name, const char *start_type,
					  const char *start_identifier, int max_items,
					  struct aws_r53_record_list *out, struct aws_error *err)
{
	struct base_buf q = BASE_BUF_INIT(0);
	char zone[64], path[128], maxs[16];
	struct aws_xml_doc *doc = NULL;
	const struct aws_xml_node *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if (bare_id(hosted_zone_id, zone, sizeof(zone)) < 0 || (start_type && !start_name)) {
		aws_error_set(err, 0, "",
			      "ListResourceRecordSets: bad hosted zone id, or a type "
			      "without a name");
		return BASE_EINVAL;
	}
	snprintf(maxs, sizeof(maxs), "%d", max_items);
	/* Keys in canonical (sorted) order. */
	add_q(&q, "identifier", start_identifier);
	add_q(&q, "maxitems", max_items > 0 ? maxs : NULL);
	add_q(&q, "name", start_name);
	add_q(&q, "type", start_type);
	snprintf(path, sizeof(path), "/2013-04-01/hostedzone/%s/rrset", zone);
	rc = aws_rest_xml_call(c, &aws_svc_route53, "ListResourceRecordSets", "GET", path, q.data,
			       NULL, &doc, &root, err);
	base_buf_release(&q);
	if (rc < 0)
		return rc;
	if (!root) {
		aws_error_set(err, 200, "", "ListResourceRecordSets: empty answer");
		return BASE_EPARSE;
	}
	aws_r53_decode_record_list(root, out);
	aws_xml_free(doc);
	return 0;
}
