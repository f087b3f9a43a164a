/*
 * libxml2 wrappers. Parsing uses xmlReadMemory with NONET and without
 * NOENT/DTDLOAD, and silences libxml2's own error printing (NOERROR,
 * NOWARNING): a library never prints, and parse errors surface as BASE_EPARSE.
 * Without XML_PARSE_HUGE libxml2 also keeps its default depth and text-node
 * limits. A document with a DOCTYPE is refused after parsing, so no entity
 * declared there can ever be expanded by a later content read. The helpers walk element children by local name only.
 */
#include "pkg/aws/xml.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <libxml/parser.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
	xmlInitParser();
}

void aws_xml_init(void)
{
	pthread_once(&xml_once, xml_init_once);
}

int aws_xml_parse(const char *body, size_t len, xmlDocPtr *doc)
{
	int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;

	*doc = NULL;
	if (len > AWS_XML_MAX_BODY)
		return BASE_ETOOBIG;
	if (!body || len == 0)
		return BASE_EPARSE;
	aws_xml_init();
	*doc = xmlReadMemory(body, (int)len, "aws.xml", NULL, opts);
	if (!*doc)
		return BASE_EPARSE;
	/* AWS never sends a DTD; refusing one rules out entity tricks entirely. */
	if (!xmlDocGetRootElement(*doc) || (*doc)->intSubset || (*doc)->extSubset) {
		xmlFreeDoc(*doc);
		*doc = NULL;
		return BASE_EPARSE;
	}
	return 0;
}

static int named(xmlNodePtr n, const char *name, size_t len)
{
	return n->type == XML_ELEMENT_NODE && n->name && strlen((const char *)n->name) == len &&
	       memcmp(n->name, name, len) == 0;
}

static xmlNodePtr child_n(xmlNodePtr parent, const char *name, size_t len)
{
	if (!parent)
		return NULL;
	for (xmlNodePtr c = parent->children; c; c = c->next)
		if (named(c, name, len))
			return c;
	return NULL;
}

xmlNodePtr aws_xml_child(xmlNodePtr parent, const char *name)
{
	return child_n(parent, name, strlen(name));
}

xmlNodePtr aws_xml_next(xmlNodePtr node)
{
	if (!node)
		return NULL;
	for (xmlNodePtr c = node->next; c; c = c->next)
		if (named(c, (const char *)node->name, strlen((const char *)node->name)))
			return c;
	return NULL;
}

xmlNodePtr aws_xml_path(xmlNodePtr parent, const char *path)
{
	const char *p = path;

	while (parent && *p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		parent = child_n(parent, p, len);
		p += len;
		if (*p == '/')
			p++;
	}
	return parent;
}

size_t aws_xml_count(xmlNodePtr parent, const char *name)
{
	size_t n = 0;

	for (xmlNodePtr c = aws_xml_child(parent, name); c; c = aws_xml_next(c))
		n++;
	return n;
}

char *aws_xml_text(xmlNodePtr node)
{
	xmlChar *t;
	char *s;

	if (!node)
		return NULL;
	t = xmlNodeGetContent(node);
	s = xstrdup(t ? (const char *)t : "");
	xmlFree(t);
	return s;
}

char *aws_xml_get(xmlNodePtr parent, const char *path)
{
	return aws_xml_text(aws_xml_path(parent, path));
}

int aws_xml_get_bool(xmlNodePtr parent, const char *path, int *present)
{
	char *t = aws_xml_get(parent, path);
	int v = t && strcmp(t, "true") == 0;

	if (present)
		*present = t && (strcmp(t, "true") == 0 || strcmp(t, "false") == 0);
	free(t);
	return v;
}

int64_t aws_xml_get_int(xmlNodePtr parent, const char *path)
{
	char *t = aws_xml_get(parent, path);
	char *end = NULL;
	long long v = 0;

	if (t && *t) {
		errno = 0;
		v = strtoll(t, &end, 10);
		if (errno || *end)
			v = 0;
	}
	free(t);
	return v;
}

int64_t aws_xml_get_time(xmlNodePtr parent, const char *path)
{
	char *t = aws_xml_get(parent, path);
	int64_t ms = 0;

	if (t && base_time_parse(t, &ms) != 0)
		ms = 0;
	free(t);
	return ms;
}

int aws_xml_escape(struct base_buf *out, const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '&': rc = base_buf_adds(out, "&amp;"); break;
		case '<': rc = base_buf_adds(out, "&lt;"); break;
		case '>': rc = base_buf_adds(out, "&gt;"); break;
		case '"': rc = base_buf_adds(out, "&quot;"); break;
		case '\'': rc = base_buf_adds(out, "&apos;"); break;
		default: rc = base_buf_addch(out, *s); break;
		}
	}
	return rc;
}
