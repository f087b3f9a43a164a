/*
 * Fuzz target for the XML side: the parser, its walking helpers, the error
 * decoder, and every typed decoder (global cluster, DB cluster, instance,
 * snapshot, Route 53 record list and change info) applied to every element of
 * an untrusted document, the RDS ones also as a Describe list's items (into a pool). For every element it also checks what xml.h
 * promises of any parsed document, and aborts when that fails: the text holds
 * no NUL, children sit in order within their parent's text, and the full text
 * of an element is its own text and its children's full texts together.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/error.h"
#include "pkg/aws/rds.h"
#include "pkg/aws/route53.h"
#include "pkg/aws/xml.h"
#include "pkg/base/pool.h"

static void check_node(const struct aws_xml_node *n)
{
	char *all = aws_xml_text(n);
	size_t want = n->text_len;
	uint32_t pos = 0;

	if (strlen(n->text) != n->text_len || !*n->name)
		abort();
	for (const struct aws_xml_node *c = n->child; c; c = c->next) {
		char *t = aws_xml_text(c);

		if (c->text_pos < pos || c->text_pos > n->text_len ||
		    aws_xml_count(n, c->name) == 0 || !aws_xml_path(n, c->name))
			abort();
		pos = c->text_pos;
		want += strlen(t);
		free(t);
	}
	if (strlen(all) != want)
		abort();
	free(all);
	(void)aws_xml_get_int(n, n->child ? n->child->name : "x");
	(void)aws_xml_get_time(n, n->child ? n->child->name : "x");
	(void)aws_xml_get_bool(n, n->child ? n->child->name : "x", NULL);
}

static void decode_all(const struct aws_xml_node *n, int *budget, struct base_pool *pool,
		       size_t size)
{
	for (; n && *budget > 0; n = n->next) {
		struct aws_rds_global_cluster g;
		struct aws_rds_db_cluster c;
		struct aws_rds_db_instance i;
		struct aws_rds_cluster_snapshot s;
		struct aws_r53_record_list l;
		struct aws_r53_change_info ci;

		(*budget)--;
		check_node(n);
		aws_rds_decode_global_cluster(n, &g, NULL);
		aws_rds_global_cluster_release(&g);
		aws_rds_decode_db_cluster(n, &c, NULL);
		aws_rds_db_cluster_release(&c);
		aws_rds_decode_db_instance(n, &i, NULL);
		aws_rds_db_instance_release(&i);
		aws_rds_decode_cluster_snapshot(n, &s, NULL);
		aws_rds_cluster_snapshot_release(&s);
		/* As a Describe list's item: the same decoders, their strings in a pool. */
		aws_rds_decode_global_cluster(n, &g, pool);
		aws_rds_decode_db_cluster(n, &c, pool);
		aws_rds_decode_db_instance(n, &i, pool);
		aws_rds_decode_cluster_snapshot(n, &s, pool);
		if (g.identifier && strlen(g.identifier) > size)
			abort();
		aws_r53_decode_record_list(n, &l);
		aws_r53_record_list_release(&l);
		aws_r53_decode_change_info(n, &ci);
		aws_r53_change_info_release(&ci);
		decode_all(n->child, budget, pool, size);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_error err;
	struct aws_xml_doc *doc = NULL;
	int budget = 2000;

	aws_error_clear(&err);
	aws_error_decode_xml((const char *)data, size, &err);
	if (aws_xml_parse((const char *)data, size, &doc) == 0) {
		struct base_pool *pool = base_pool_new();

		decode_all(aws_xml_root(doc), &budget, pool, size);
		base_pool_free(pool);
		aws_xml_free(doc);
	}
	return 0;
}
