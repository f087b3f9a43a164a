/*
 * xml.h - safe libxml2 parsing and the small tree-walking helpers the
 * awsQuery and restXml decoders use.
 *
 * Documents are parsed from memory with XML_PARSE_NONET (no network) and
 * without XML_PARSE_NOENT / XML_PARSE_DTDLOAD (no entity substitution, no
 * external DTDs), with a depth and size limit, and any document carrying a
 * DOCTYPE is refused, so a hostile body cannot fetch anything or expand
 * entities. Element names are matched on their local name;
 * namespaces are ignored (AWS puts everything in one default namespace).
 *
 * Returned strings are newly allocated (caller frees); nodes are borrowed from
 * their document. Thread-safe as long as each document has one user;
 * aws_xml_init() must have run once (aws_client_new does it).
 */
#ifndef AWS_XML_H
#define AWS_XML_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

/* Bodies larger than this are refused before parsing. */
#define AWS_XML_MAX_BODY (8u << 20)

/* Initialises libxml2 once per process (thread-safe, idempotent). */
void aws_xml_init(void);

/* Parses body; 0 with *doc (free with xmlFreeDoc), BASE_ETOOBIG or BASE_EPARSE. */
int aws_xml_parse(const char *body, size_t len, xmlDocPtr *doc);

/* The first child element of parent named name, or NULL. parent may be NULL. */
xmlNodePtr aws_xml_child(xmlNodePtr parent, const char *name);
/* The next sibling element after node with the same name, or NULL. */
xmlNodePtr aws_xml_next(xmlNodePtr node);
/* Follows a '/'-separated path of child names ("Error/Code"); NULL if absent. */
xmlNodePtr aws_xml_path(xmlNodePtr parent, const char *path);
/* Counts child elements of parent named name. */
size_t aws_xml_count(xmlNodePtr parent, const char *name);

/* The text content of node (NULL node -> NULL). Caller frees. */
char *aws_xml_text(xmlNodePtr node);
/* The text of the child at path, or NULL when absent. Caller frees. */
char *aws_xml_get(xmlNodePtr parent, const char *path);
/* The child at path as a boolean ("true"/"false"); *present says whether it was there. */
int aws_xml_get_bool(xmlNodePtr parent, const char *path, int *present);
/* The child at path as an integer; 0 when absent or malformed. */
int64_t aws_xml_get_int(xmlNodePtr parent, const char *path);
/* The child at path as an ISO 8601 time in Unix ms; 0 when absent or malformed. */
int64_t aws_xml_get_time(xmlNodePtr parent, const char *path);

/* Appends s with &, <, >, ", ' escaped (for request bodies we build). */
struct base_buf;
int aws_xml_escape(struct base_buf *out, const char *s);

#endif
