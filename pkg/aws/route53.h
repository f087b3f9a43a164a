/*
 * route53.h - Amazon Route 53 record operations (restXml, 2013-04-01).
 *
 * Route 53 has one global endpoint, signed as us-east-1 (no region argument).
 * Hosted-zone and change ids may be given with or without their
 * "/hostedzone/" or "/change/" prefix; ids in results have it stripped. Names
 * are FQDNs ("db.example.com."); Route 53 writes some characters as octal
 * escapes ("\052" for '*') and returns them so.
 *
 * Results own their strings (release with the _release functions). Errors as
 * in client.h: NoSuchHostedZone / NoSuchChange -> BASE_ENOTFOUND,
 * InvalidChangeBatch / InvalidInput -> BASE_EINVAL, PriorRequestNotComplete
 * and Throttling are retried and end as BASE_ETHROTTLED.
 * Thread-safe as the client is.
 */
#ifndef AWS_ROUTE53_H
#define AWS_ROUTE53_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/aws/client.h"
#include "pkg/aws/xml.h"

struct aws_r53_change {
	const char *action;	   /* "CREATE", "DELETE", "UPSERT" */
	const char *name;	   /* FQDN */
	const char *type;	   /* "CNAME", "A", "TXT", ... */
	int64_t ttl;		   /* seconds */
	const char *const *values; /* ResourceRecords values */
	size_t nvalues;
	const char *set_identifier; /* weighted/failover routing, or NULL */
	int64_t weight;		    /* with set_identifier; < 0 = not sent */
};

struct aws_r53_change_info {
	char *id;     /* "C2682N5HXP0BZ4" (prefix stripped) */
	char *status; /* "PENDING" | "INSYNC" */
	int64_t submitted_at_ms;
	char *comment;
};

struct aws_r53_record {
	char *name;
	char *type;
	int64_t ttl;
	char *set_identifier;
	int64_t weight; /* -1 when absent */
	char **values;
	size_t nvalues;
	char *alias_dns_name; /* AliasTarget, NULL when not an alias */
	char *alias_hosted_zone_id;
	int alias_evaluate_target_health;
};

struct aws_r53_record_list {
	struct aws_r53_record *items;
	size_t n;
	int is_truncated;
	char *next_name; /* continue with these as start_* when is_truncated */
	char *next_type;
	char *next_identifier;
};

void aws_r53_change_info_release(struct aws_r53_change_info *ci);
void aws_r53_record_list_release(struct aws_r53_record_list *l);

/* One atomic batch of changes. comment may be NULL. */
int aws_route53_change_resource_record_sets(struct aws_client *c, const char *hosted_zone_id,
					    const char *comment,
					    const struct aws_r53_change *changes, size_t nchanges,
					    struct aws_r53_change_info *out, struct aws_error *err);
int aws_route53_get_change(struct aws_client *c, const char *change_id,
			   struct aws_r53_change_info *out, struct aws_error *err);
/*
 * One page of records starting at (start_name, start_type, start_identifier),
 * each may be NULL; max_items 0 means the server default (300). Names and types
 * are a starting position, not a filter.
 */
int aws_route53_list_resource_record_sets(struct aws_client *c, const char *hosted_zone_id,
					  const char *start_name, const char *start_type,
					  const char *start_identifier, int max_items,
					  struct aws_r53_record_list *out, struct aws_error *err);

/* Decoders (for tests and the fuzz target). */
void aws_r53_decode_change_info(const struct aws_xml_node *node, struct aws_r53_change_info *out);
void aws_r53_decode_record_list(const struct aws_xml_node *root, struct aws_r53_record_list *out);

#endif
