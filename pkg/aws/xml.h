/*
 * xml.h - a small non-validating XML parser for AWS answers, and the
 * tree-walking helpers the awsQuery and restXml decoders use.
 *
 * AWS answers (RDS and STS over awsQuery, Route 53 over restXml, and their
 * error bodies) are UTF-8 documents of elements and text in one default
 * namespace. aws_xml_parse() reads that much of XML 1.0 and refuses the rest,
 * so a hostile body cannot make it fetch, expand or allocate anything beyond a
 * bound set by the body's own size:
 *
 *   - no DOCTYPE, so no entity declarations: the five predefined entities and
 *     character references (&#10; &#xD;) are the only references known, and
 *     any other is an error;
 *   - the body must be well-formed UTF-8 made of XML characters (no NUL, no C0
 *     control but tab, LF and CR), and an encoding declaration, if any, must
 *     say UTF-8; an XML declaration must give version 1.x (XML 1.0's
 *     VersionNum; expat takes any version);
 *   - at most AWS_XML_MAX_BODY bytes and AWS_XML_MAX_DEPTH nested elements;
 *   - one root element, with nothing after it but white space, comments and
 *     processing instructions; every start tag closed by a matching end tag.
 *
 * The XML declaration, processing instructions and comments are skipped.
 * Attributes are checked for syntax and dropped (AWS sends only xmlns).
 * CDATA sections are text; line ends are normalised to LF as XML requires.
 * Element names are matched on their local name (the part after the last
 * ':'), so neither part of a prefixed name may be empty (<:a> and <a:> are
 * refused, as Namespaces in XML requires); namespaces are not otherwise
 * interpreted. Not checked, since nothing reads what they govern: duplicate
 * attributes, namespace bindings, and the Unicode classes of non-ASCII name
 * characters (so <a\u00A0> is an element named "a\u00A0", which expat refuses).
 * tests/aws/test_xml_differential.py holds the parser to expat but for these.
 *
 * A document is one allocation; its nodes and their strings are borrowed from
 * it until aws_xml_free(). Strings returned by aws_xml_text and aws_xml_get
 * are newly allocated (caller frees). A parsed document is never modified, so
 * any number of threads may read it at once.
 */
#ifndef AWS_XML_H
#define AWS_XML_H

#include <stddef.h>
#include <stdint.h>

/* Bodies larger than this are refused before parsing. */
#define AWS_XML_MAX_BODY (8u << 20)
/* Elements nested deeper than this are refused (libxml2's default, which this parser replaced). */
#define AWS_XML_MAX_DEPTH 256

/* A parsed document (opaque). */
struct aws_xml_doc;

/* An element. Only elements are nodes: text, comments and the rest are not. */
struct aws_xml_node {
	const char *name;		  /* local name: "Foo" for <Foo> and <a:Foo> */
	const char *text;		  /* the element's own character data, decoded */
	const struct aws_xml_node *child; /* first child element, or NULL */
	const struct aws_xml_node *next;  /* next sibling element, or NULL */
	uint32_t text_len;		  /* bytes in text (which holds no NUL) */
	uint32_t text_pos;		  /* bytes of the parent's text before this element */
};

/*
 * Parses body (len bytes, need not be NUL-terminated; borrowed only during the
 * call): 0 with *doc (free with aws_xml_free), BASE_ETOOBIG for a body over
 * AWS_XML_MAX_BODY, or BASE_EPARSE with *doc NULL.
 */
int aws_xml_parse(const char *body, size_t len, struct aws_xml_doc **doc);
/* The root element of doc (NULL only for a NULL doc). */
const struct aws_xml_node *aws_xml_root(const struct aws_xml_doc *doc);
/* Frees doc and every node and string borrowed from it. NULL is fine. */
void aws_xml_free(struct aws_xml_doc *doc);

/* The first child element of parent named name, or NULL. parent may be NULL. */
const struct aws_xml_node *aws_xml_child(const struct aws_xml_node *parent, const char *name);
/* The next sibling element after node with the same name, or NULL. */
const struct aws_xml_node *aws_xml_next(const struct aws_xml_node *node);
/* Follows a '/'-separated path of child names ("Error/Code"); NULL if absent. */
const struct aws_xml_node *aws_xml_path(const struct aws_xml_node *parent, const char *path);
/* Counts child elements of parent named name. */
size_t aws_xml_count(const struct aws_xml_node *parent, const char *name);

/*
 * The text content of node: all character data inside it, its descendants'
 * included, in document order (NULL node -> NULL). Caller frees.
 */
char *aws_xml_text(const struct aws_xml_node *node);
/* The text of the child at path, or NULL when absent. Caller frees. */
char *aws_xml_get(const struct aws_xml_node *parent, const char *path);
/* The child at path as a boolean ("true"/"false"); *present says whether it was there. */
int aws_xml_get_bool(const struct aws_xml_node *parent, const char *path, int *present);
/* The child at path as an integer; 0 when absent or malformed. */
int64_t aws_xml_get_int(const struct aws_xml_node *parent, const char *path);
/* The child at path as an ISO 8601 time in Unix ms; 0 when absent or malformed. */
int64_t aws_xml_get_time(const struct aws_xml_node *parent, const char *path);

/* Appends s with &, <, >, ", ' escaped (for request bodies we build). */
struct base_buf;
int aws_xml_escape(struct base_buf *out, const char *s);

#endif
