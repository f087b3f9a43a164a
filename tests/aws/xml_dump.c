/*
 * xml_dump FILE - parses FILE with aws_xml_parse() and prints the tree as one
 * line of canonical JSON for tests/aws/test_xml_differential.py:
 *
 *   {"name": local name, "text": own text, "pos": text_pos, "children": [...]}
 *
 * (the root has pos 0), or {"error": "EPARSE"} (the error's name) when the
 * parser refuses the body. Attributes are not shown: the parser drops them.
 * Exits 0 either way; non-zero only when the file cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/xml.h"
#include "pkg/base/err.h"

static void put_string(const char *s, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void put_node(const struct aws_xml_node *n)
{
	printf("{\"name\": ");
	put_string(n->name, strlen(n->name));
	printf(", \"text\": ");
	put_string(n->text, n->text_len);
	printf(", \"pos\": %u, \"children\": [", (unsigned)n->text_pos);
	for (const struct aws_xml_node *c = n->child; c; c = c->next) {
		put_node(c);
		if (c->next)
			printf(", ");
	}
	printf("]}");
}

int main(int argc, char **argv)
{
	struct aws_xml_doc *doc;
	char *body = NULL;
	size_t len = 0, cap = 0, got;
	FILE *f;
	int rc;

	if (argc != 2 || !(f = fopen(argv[1], "rb"))) {
		fprintf(stderr, "usage: xml_dump FILE (a readable file)\n");
		return 2;
	}
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			if (!(body = realloc(body, cap)))
				return 3;
		}
		got = fread(body + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	if (ferror(f))
		return 2;
	fclose(f);
	rc = aws_xml_parse(body, len, &doc);
	free(body);
	if (rc) {
		printf("{\"error\": \"%s\"}\n", base_errname(rc));
		return 0;
	}
	put_node(aws_xml_root(doc));
	putchar('\n');
	aws_xml_free(doc);
	return 0;
}
