/*
 * The XML parser and its helpers, without a network: a table of documents
 * that must parse (with the text a decoder would read) or be refused, the
 * depth and size caps, documents that fill the parser's allocation to its
 * bound, and the walking helpers on an answer shaped like AWS's.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/aws/xml.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"

#define S(lit) lit, sizeof(lit) - 1

/*
 * One document: what aws_xml_parse returns, and for a parsed one the text of
 * the element at path under the root ("" is the root itself).
 */
struct row {
	const char *name;
	const char *doc;
	size_t len;
	int rc;
	const char *path;
	const char *text;
};

static const struct row rows[] = {
	/* Accepted: what AWS sends, and the rest of the XML it may send. */
	{"plain", S("<a>x</a>"), 0, "", "x"},
	{"declaration", S("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>x</a>"), 0, "", "x"},
	{"declaration, single quotes, lower case, standalone",
	 S("<?xml version='1.0' encoding='utf-8' standalone='yes' ?><a>x</a>"), 0, "", "x"},
	{"declaration without encoding", S("<?xml version=\"1.0\"?><a>x</a>"), 0, "", "x"},
	{"byte order mark", S("\xEF\xBB\xBF<a>x</a>"), 0, "", "x"},
	{"processing instructions are skipped",
	 S("<?pi data?><?xml-stylesheet href='s'?><a>x<?pi in?>y</a><?pi after?>"), 0, "", "xy"},
	{"comments are skipped", S("<!-- c --><a>x<!-- <b>no</b> - -->y</a>\n<!--after-->\n"), 0,
	 "", "xy"},
	{"CDATA is text, markup and all", S("<a><![CDATA[<b>&amp;</b>]]></a>"), 0, "",
	 "<b>&amp;</b>"},
	{"CDATA pieces join the text", S("<a>x<![CDATA[]]>y<![CDATA[z]]]></a>"), 0, "", "xyz]"},
	{"attributes are read and dropped",
	 S("<a xmlns=\"urn:x\" k='v>1' q=\"it's &lt;&#65;\" ><b c = \"/>\"/>x</a>"), 0, "", "x"},
	{"self-closing element", S("<a><b/><c /></a>"), 0, "b", ""},
	{"self-closing root", S("<a/>"), 0, "", ""},
	{"predefined entities", S("<a>&lt;&gt;&amp;&quot;&apos;</a>"), 0, "", "<>&\"'"},
	{"character references", S("<a>&#65;&#x42;&#x63;&#10;&#xD;&#x09;</a>"), 0, "", "ABc\n\r\t"},
	{"character references in UTF-8", S("<a>&#xE9;&#x20AC;&#x1F600;&#233;&#x10FFFF;</a>"), 0,
	 "", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9\xF4\x8F\xBF\xBF"},
	{"UTF-8 text", S("<a>Z\xC3\xBCrich \xE2\x82\xAC \xF0\x9F\x98\x80</a>"), 0, "",
	 "Z\xC3\xBCrich \xE2\x82\xAC \xF0\x9F\x98\x80"},
	{"white space only text", S("<a> \t\n </a>"), 0, "", " \t\n "},
	{"line ends become LF", S("<a>1\r\n2\r3<![CDATA[\r\n4\r]]></a>"), 0, "", "1\n2\n3\n4\n"},
	{"text is all descendant text in order", S("<a>x<b>y<c>z</c></b>w</a>"), 0, "", "xyzw"},
	{"a child's text", S("<a>x<b>y<c>z</c>v</b>w</a>"), 0, "b", "yzv"},
	{"prefixes are dropped", S("<p:a xmlns:p=\"urn:x\"><p:b>x</p:b></p:a>"), 0, "b", "x"},
	{"'>' and ']' in text", S("<a>x > y ]> ] ]]</a>"), 0, "", "x > y ]> ] ]]"},
	{"white space in an end tag", S("<a>x</a \n>"), 0, "", "x"},
	{"white space, comments and PIs around the root",
	 S("\n <!-- c --> <a>x</a>\n<!-- c -->\n<?p?>\n"), 0, "", "x"},
	{"declaration of XML 1.1", S("<?xml version=\"1.1\"?><a>x</a>"), 0, "", "x"},
	{"byte order mark and declaration", S("\xEF\xBB\xBF<?xml version='1.0'?><a>x</a>"), 0, "",
	 "x"},
	{"undeclared prefixes are dropped too", S("<p:a><p:b>x</p:b></p:a>"), 0, "b", "x"},
	{"leading zeros in character references", S("<a>&#0000065;&#x0041;</a>"), 0, "", "AA"},
	{"references are not read in CDATA", S("<a><![CDATA[&foo;]]></a>"), 0, "", "&foo;"},
	{"U+FEFF inside text is text", S("<a>\xEF\xBB\xBF</a>"), 0, "", "\xEF\xBB\xBF"},
	{"comment right after its opening dashes", S("<a><!---> x -->y</a>"), 0, "", "y"},
	{"names with digits, '-', '.', '_' and non-ASCII",
	 S("<a.b-c_d1 x.y='1'><\xC3\xA9t\xC3\xA9>x</\xC3\xA9t\xC3\xA9></a.b-c_d1>"), 0,
	 "\xC3\xA9t\xC3\xA9", "x"},

	/* Refused. */
	{"empty", S(""), BASE_EPARSE, NULL, NULL},
	{"white space only", S(" \n"), BASE_EPARSE, NULL, NULL},
	{"a comment only", S("<!-- c -->"), BASE_EPARSE, NULL, NULL},
	{"not XML", S("not xml"), BASE_EPARSE, NULL, NULL},
	{"DOCTYPE", S("<!DOCTYPE a><a/>"), BASE_EPARSE, NULL, NULL},
	{"DOCTYPE with entities",
	 S("<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY y \"z\">]><a>&y;</a>"), BASE_EPARSE, NULL,
	 NULL},
	{"declaration markup in content", S("<a><!ELEMENT a ANY></a>"), BASE_EPARSE, NULL, NULL},
	{"unknown entity", S("<a>&foo;</a>"), BASE_EPARSE, NULL, NULL},
	{"entity without ';'", S("<a>&amp</a>"), BASE_EPARSE, NULL, NULL},
	{"bare '&'", S("<a>a & b</a>"), BASE_EPARSE, NULL, NULL},
	{"'&' at the end", S("<a>&"), BASE_EPARSE, NULL, NULL},
	{"&#X is not hexadecimal", S("<a>&#X41;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference without digits", S("<a>&#;&#x;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference with a bad digit", S("<a>&#1a;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference to NUL", S("<a>&#0;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference to a control", S("<a>&#x1;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference to a surrogate", S("<a>&#xD800;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference to U+FFFE", S("<a>&#xFFFE;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference past U+10FFFF", S("<a>&#x110000;</a>"), BASE_EPARSE, NULL, NULL},
	{"character reference that overflows", S("<a>&#99999999999999999999999;</a>"), BASE_EPARSE,
	 NULL, NULL},
	{"unknown entity in an attribute", S("<a b=\"&foo;\"/>"), BASE_EPARSE, NULL, NULL},
	{"'<' in an attribute", S("<a b=\"<\"/>"), BASE_EPARSE, NULL, NULL},
	{"unquoted attribute", S("<a b=c/>"), BASE_EPARSE, NULL, NULL},
	{"attribute without a value", S("<a b/>"), BASE_EPARSE, NULL, NULL},
	{"attributes not separated", S("<a b=\"1\"c=\"2\"/>"), BASE_EPARSE, NULL, NULL},
	{"unterminated attribute", S("<a b=\"1/>"), BASE_EPARSE, NULL, NULL},
	{"mismatched end tag", S("<a><b></a></b>"), BASE_EPARSE, NULL, NULL},
	{"mismatched prefix", S("<p:a xmlns:p=\"u\" xmlns:q=\"u\"></q:a>"), BASE_EPARSE, NULL,
	 NULL},
	{"unclosed element", S("<a><b></b>"), BASE_EPARSE, NULL, NULL},
	{"truncated end tag", S("<a>x</a"), BASE_EPARSE, NULL, NULL},
	{"truncated start tag", S("<a/"), BASE_EPARSE, NULL, NULL},
	{"stray end tag", S("<a></a></b>"), BASE_EPARSE, NULL, NULL},
	{"text after the root", S("<a/>x"), BASE_EPARSE, NULL, NULL},
	{"a second root", S("<a/><b/>"), BASE_EPARSE, NULL, NULL},
	{"text before the root", S("x<a/>"), BASE_EPARSE, NULL, NULL},
	{"NUL byte", S("<a>\0</a>"), BASE_EPARSE, NULL, NULL},
	{"control character", S("<a>\x01</a>"), BASE_EPARSE, NULL, NULL},
	{"truncated UTF-8", S("<a>\xC3</a>"), BASE_EPARSE, NULL, NULL},
	{"overlong UTF-8", S("<a>\xC0\xAF</a>"), BASE_EPARSE, NULL, NULL},
	{"UTF-8 surrogate", S("<a>\xED\xA0\x80</a>"), BASE_EPARSE, NULL, NULL},
	{"UTF-8 past U+10FFFF", S("<a>\xF4\x90\x80\x80</a>"), BASE_EPARSE, NULL, NULL},
	{"UTF-8 U+FFFF", S("<a>\xEF\xBF\xBF</a>"), BASE_EPARSE, NULL, NULL},
	{"Latin-1 byte", S("<a>Z\xFCrich</a>"), BASE_EPARSE, NULL, NULL},
	{"encoding other than UTF-8", S("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>"),
	 BASE_EPARSE, NULL, NULL},
	{"encoding UTF-16", S("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>"), BASE_EPARSE, NULL,
	 NULL},
	{"version other than 1.x", S("<?xml version=\"2.0\"?><a/>"), BASE_EPARSE, NULL, NULL},
	{"declaration without version", S("<?xml encoding=\"UTF-8\"?><a/>"), BASE_EPARSE, NULL,
	 NULL},
	{"declaration not at the start", S(" <?xml version=\"1.0\"?><a/>"), BASE_EPARSE, NULL,
	 NULL},
	{"declaration in content", S("<a><?XML version=\"1.0\"?></a>"), BASE_EPARSE, NULL, NULL},
	{"']]>' in text", S("<a>]]></a>"), BASE_EPARSE, NULL, NULL},
	{"'--' in a comment", S("<!-- a -- b --><a/>"), BASE_EPARSE, NULL, NULL},
	{"comment ending in '--->'", S("<a><!-- a ---></a>"), BASE_EPARSE, NULL, NULL},
	{"unterminated comment", S("<a><!-- a </a>"), BASE_EPARSE, NULL, NULL},
	{"unterminated CDATA", S("<a><![CDATA[ a </a>"), BASE_EPARSE, NULL, NULL},
	{"unterminated processing instruction", S("<a><?p a </a>"), BASE_EPARSE, NULL, NULL},
	{"CDATA outside the root", S("<![CDATA[x]]><a/>"), BASE_EPARSE, NULL, NULL},
	{"name starting with a digit", S("<1a/>"), BASE_EPARSE, NULL, NULL},
	{"name with an empty prefix", S("<:a/>"), BASE_EPARSE, NULL, NULL},
	{"name with an empty local part", S("<a:/>"), BASE_EPARSE, NULL, NULL},
	{"empty tag", S("<></>"), BASE_EPARSE, NULL, NULL},
	{"white space after '<'", S("< a/>"), BASE_EPARSE, NULL, NULL},
	{"byte order mark twice", S("\xEF\xBB\xBF\xEF\xBB\xBF<a/>"), BASE_EPARSE, NULL, NULL},
	{"declaration without pseudo-attributes", S("<?xml?><a/>"), BASE_EPARSE, NULL, NULL},
	{"declaration with an unknown pseudo-attribute", S("<?xml version='1.0' foo='x'?><a/>"),
	 BASE_EPARSE, NULL, NULL},
	{"declaration out of order",
	 S("<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><a/>"), BASE_EPARSE, NULL,
	 NULL},
	{"encoding UTF8 without the hyphen", S("<?xml version=\"1.0\" encoding=\"UTF8\"?><a/>"),
	 BASE_EPARSE, NULL, NULL},
	{"version without a minor number", S("<?xml version=\"1.\"?><a/>"), BASE_EPARSE, NULL,
	 NULL},
	{"end tag with an attribute", S("<a></a b='1'>"), BASE_EPARSE, NULL, NULL},
	{"CDATA inside CDATA", S("<a><![CDATA[ <![CDATA[ ]]> ]]></a>"), BASE_EPARSE, NULL, NULL},
	{"lower-case CDATA", S("<a><![cdata[x]]></a>"), BASE_EPARSE, NULL, NULL},
	{"'<' alone in text", S("<a>1 < 2</a>"), BASE_EPARSE, NULL, NULL},
	{"entity names are case-sensitive", S("<a>&LT;</a>"), BASE_EPARSE, NULL, NULL},
	{"processing instruction without a target", S("<a><? x?></a>"), BASE_EPARSE, NULL, NULL},
	{"'/' then space in an empty-element tag", S("<a / >"), BASE_EPARSE, NULL, NULL},
};

START_TEST(test_table)
{
	const struct row *r = &rows[_i];
	struct aws_xml_doc *doc = (struct aws_xml_doc *)1;
	char *text;
	int rc = aws_xml_parse(r->doc, r->len, &doc);

	ck_assert_msg(rc == r->rc, "%s: rc %d, want %d", r->name, rc, r->rc);
	if (rc < 0) {
		ck_assert_ptr_null(doc);
		return;
	}
	text = aws_xml_get(aws_xml_root(doc), r->path);
	ck_assert_msg(text && strcmp(text, r->text) == 0, "%s: text \"%s\", want \"%s\"", r->name,
		      text ? text : "(absent)", r->text);
	free(text);
	aws_xml_free(doc);
}
END_TEST

/* depth elements <e> nested in one another, "x" in the innermost. Caller frees. */
static char *nested(int depth, size_t *len)
{
	struct base_buf b = BASE_BUF_INIT(0);

	for (int i = 0; i < depth; i++)
		base_buf_adds(&b, "<e>");
	base_buf_adds(&b, "x");
	for (int i = 0; i < depth; i++)
		base_buf_adds(&b, "</e>");
	return base_buf_detach(&b, len);
}

START_TEST(test_nesting_deeper_than_the_cap_is_refused)
{
	struct aws_xml_doc *doc;
	const struct aws_xml_node *n;
	size_t len;
	char *body = nested(AWS_XML_MAX_DEPTH, &len);
	int depth = 0;

	ck_assert_int_eq(aws_xml_parse(body, len, &doc), 0);
	for (n = aws_xml_root(doc); n->child; n = n->child)
		depth++;
	ck_assert_int_eq(depth + 1, AWS_XML_MAX_DEPTH);
	ck_assert_str_eq(n->text, "x");
	aws_xml_free(doc);
	free(body);

	body = nested(AWS_XML_MAX_DEPTH + 1, &len);
	ck_assert_int_eq(aws_xml_parse(body, len, &doc), BASE_EPARSE);
	ck_assert_ptr_null(doc);
	free(body);
}
END_TEST

START_TEST(test_body_over_the_cap_is_refused_and_one_at_the_cap_parses)
{
	size_t len = AWS_XML_MAX_BODY;
	char *body = xmalloc(len + 1);
	struct aws_xml_doc *doc;
	char *text;

	/* <a>xxx...</a> of exactly the cap, then one byte more. */
	memset(body, 'x', len + 1);
	memcpy(body, "<a>", 3);
	memcpy(body + len - 4, "</a>", 4);
	ck_assert_int_eq(aws_xml_parse(body, len, &doc), 0);
	text = aws_xml_text(aws_xml_root(doc));
	ck_assert_uint_eq(strlen(text), len - 7);
	free(text);
	aws_xml_free(doc);
	memcpy(body + len - 3, "</a>", 4);
	ck_assert_int_eq(aws_xml_parse(body, len + 1, &doc), BASE_ETOOBIG);
	ck_assert_ptr_null(doc);
	free(body);
}
END_TEST

/*
 * The string area is sized from the body (length + 2 per element): the
 * bodies that come closest to that bound must parse, not trip its check.
 */
START_TEST(test_documents_at_the_allocation_bound_parse)
{
	static const char *const units[] = {
		"<a/>",
		"<a>b</a>",
		"<p:a/>",
		"<abcdefgh></abcdefgh>",
		"<a>&#x10000;</a>",
		"&#9;",
		"<a><![CDATA[x]]></a>",
		"<!--<a/>-->",
		"<![CDATA[<a>]]>",
		"\r\n",
	};

	for (size_t u = 0; u < ARRAY_SIZE(units); u++) {
		struct base_buf b = BASE_BUF_INIT(0);
		struct aws_xml_doc *doc;
		size_t len;
		char *body;

		base_buf_adds(&b, "<r>");
		while (b.len < 100000)
			base_buf_adds(&b, units[u]);
		base_buf_adds(&b, "</r>");
		body = base_buf_detach(&b, &len);
		ck_assert_msg(aws_xml_parse(body, len, &doc) == 0, "%s", units[u]);
		aws_xml_free(doc);
		free(body);
	}
}
END_TEST

static const char answer[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<DescribeDBClustersResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\n"
	"  <DescribeDBClustersResult>\n"
	"    <DBClusters>\n"
	"      <DBCluster>\n"
	"        <DBClusterIdentifier>orders-eu</DBClusterIdentifier>\n"
	"        <Port>5432</Port>\n"
	"        <StorageEncrypted>true</StorageEncrypted>\n"
	"        <DeletionProtection>false</DeletionProtection>\n"
	"        <ClusterCreateTime>2026-11-27T10:00:00.123Z</ClusterCreateTime>\n"
	"        <DBClusterMembers>\n"
	"          "
	"<DBClusterMember><DBInstanceIdentifier>i1</DBInstanceIdentifier></DBClusterMember>\n"
	"          <Other/>\n"
	"          "
	"<DBClusterMember><DBInstanceIdentifier>i2</DBInstanceIdentifier></DBClusterMember>\n"
	"        </DBClusterMembers>\n"
	"        <Status><![CDATA[avail]]>able</Status>\n"
	"        <Bad>12x</Bad>\n"
	"      </DBCluster>\n"
	"    </DBClusters>\n"
	"  </DescribeDBClustersResult>\n"
	"  <ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata>\n"
	"</DescribeDBClustersResponse>\n";

START_TEST(test_helpers_walk_an_answer_by_local_name)
{
	struct aws_xml_doc *doc;
	const struct aws_xml_node *root, *c, *m;
	int present;
	char *s;

	ck_assert_int_eq(aws_xml_parse(answer, sizeof(answer) - 1, &doc), 0);
	root = aws_xml_root(doc);
	ck_assert_str_eq(root->name, "DescribeDBClustersResponse");
	c = aws_xml_path(root, "DescribeDBClustersResult/DBClusters/DBCluster");
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(aws_xml_path(root, "DescribeDBClustersResult/Nope/DBCluster"));
	ck_assert_ptr_eq(aws_xml_path(root, ""), root);

	s = aws_xml_get(c, "DBClusterIdentifier");
	ck_assert_str_eq(s, "orders-eu");
	free(s);
	s = aws_xml_get(c, "Status");
	ck_assert_str_eq(s, "available");
	free(s);
	ck_assert_ptr_null(aws_xml_get(c, "Missing"));
	ck_assert_int_eq(aws_xml_get_int(c, "Port"), 5432);
	ck_assert_int_eq(aws_xml_get_int(c, "Bad"), 0);
	ck_assert_int_eq(aws_xml_get_int(c, "Missing"), 0);
	ck_assert_int_eq(aws_xml_get_bool(c, "StorageEncrypted", &present), 1);
	ck_assert_int_eq(present, 1);
	ck_assert_int_eq(aws_xml_get_bool(c, "DeletionProtection", &present), 0);
	ck_assert_int_eq(present, 1);
	ck_assert_int_eq(aws_xml_get_bool(c, "Port", &present), 0);
	ck_assert_int_eq(present, 0);
	ck_assert_int_eq(aws_xml_get_bool(c, "Missing", &present), 0);
	ck_assert_int_eq(present, 0);
	ck_assert_int_eq(aws_xml_get_time(c, "ClusterCreateTime"), 1795773600123LL);
	ck_assert_int_eq(aws_xml_get_time(c, "Port"), 0);

	/* aws_xml_next skips siblings of another name. */
	ck_assert_uint_eq(aws_xml_count(aws_xml_child(c, "DBClusterMembers"), "DBClusterMember"),
			  2);
	m = aws_xml_path(c, "DBClusterMembers/DBClusterMember");
	s = aws_xml_get(m, "DBInstanceIdentifier");
	ck_assert_str_eq(s, "i1");
	free(s);
	m = aws_xml_next(m);
	s = aws_xml_get(m, "DBInstanceIdentifier");
	ck_assert_str_eq(s, "i2");
	free(s);
	ck_assert_ptr_null(aws_xml_next(m));

	/* A parent's text is all text inside it, indentation included, as libxml2 gave it. */
	s = aws_xml_get(root, "ResponseMetadata");
	ck_assert_str_eq(s, "r-1");
	free(s);
	s = aws_xml_get(c, "DBClusterMembers");
	ck_assert_str_eq(s, "\n          i1\n          \n          i2\n        ");
	free(s);
	aws_xml_free(doc);
}
END_TEST

START_TEST(test_helpers_accept_null)
{
	ck_assert_ptr_null(aws_xml_child(NULL, "a"));
	ck_assert_ptr_null(aws_xml_next(NULL));
	ck_assert_ptr_null(aws_xml_path(NULL, "a/b"));
	ck_assert_uint_eq(aws_xml_count(NULL, "a"), 0);
	ck_assert_ptr_null(aws_xml_text(NULL));
	ck_assert_ptr_null(aws_xml_get(NULL, "a"));
	ck_assert_int_eq(aws_xml_get_int(NULL, "a"), 0);
	ck_assert_int_eq(aws_xml_get_time(NULL, "a"), 0);
	ck_assert_int_eq(aws_xml_get_bool(NULL, "a", NULL), 0);
	ck_assert_int_eq(aws_xml_parse(NULL, 3, &(struct aws_xml_doc *){NULL}), BASE_EPARSE);
	aws_xml_free(NULL);
}
END_TEST

START_TEST(test_escape_round_trips)
{
	struct base_buf b = BASE_BUF_INIT(0);
	const char *raw = "a<b>&\"c'";
	struct aws_xml_doc *doc;
	char *text;

	base_buf_adds(&b, "<v>");
	ck_assert_int_eq(aws_xml_escape(&b, raw), 0);
	base_buf_adds(&b, "</v>");
	ck_assert_str_eq(b.data, "<v>a&lt;b&gt;&amp;&quot;c&apos;</v>");
	ck_assert_int_eq(aws_xml_parse(b.data, b.len, &doc), 0);
	text = aws_xml_text(aws_xml_root(doc));
	ck_assert_str_eq(text, raw);
	free(text);
	aws_xml_free(doc);
	base_buf_release(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("aws_xml");
	TCase *tc = tcase_create("xml");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_table, 0, (int)ARRAY_SIZE(rows));
	tcase_add_test(tc, test_nesting_deeper_than_the_cap_is_refused);
	tcase_add_test(tc, test_body_over_the_cap_is_refused_and_one_at_the_cap_parses);
	tcase_add_test(tc, test_documents_at_the_allocation_bound_parse);
	tcase_add_test(tc, test_helpers_walk_an_answer_by_local_name);
	tcase_add_test(tc, test_helpers_accept_null);
	tcase_add_test(tc, test_escape_round_trips);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
