/*
 * The XML parser, sized to what AWS sends. It replaced libxml2, which on
 * Debian brings ICU, libstdc++ and liblzma into a process that only reads a
 * few kinds of simple documents. Those documents can be large, though (a
 * Describe answer of 1,000 clusters is megabytes) and are parsed often, so
 * the parser looks at each byte a few times at most and allocates the
 * document once, plus a scratch buffer for text: never per node or string.
 *
 * aws_xml_parse() makes two passes over the body. The first, check_body(),
 * makes sure every byte belongs to well-formed UTF-8 of XML characters, so the
 * second deals in bytes and every string it keeps is valid UTF-8; it also
 * counts the '<' that may open an element. Most eight-byte words of a body
 * hold no '<', control or non-ASCII byte and are passed in one step. The count and
 * the body's length bound the whole document, which is therefore allocated
 * once: a header, an array of nodes and a string area for names and text.
 *
 * The second pass builds the tree with a stack of open elements. An element's
 * own text can come in pieces around its children, so it is gathered on a
 * second stack (pending) and copied to the string area when the element
 * closes. The text of the open elements is always the newest part of that
 * stack, innermost last, so appending to it and popping it is all it takes.
 *
 * Why the string area is large enough: each byte written there is a name byte
 * copied from a start tag or a text byte decoded from at least one byte of
 * character data (references and CR LF only shrink), and each name and each
 * text adds one NUL. So len + 2 * elements bytes always suffice.
 *
 * Size: ~900 lines, over the house's ~800, on purpose: the two passes and the
 * bounds argument above are one unit; split, the proof that the string area
 * suffices would sit in one file and the writes it covers in another.
 */
#include "pkg/aws/xml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/err.h"
#include "pkg/base/timeutil.h"

_Static_assert(AWS_XML_MAX_BODY < UINT32_MAX, "node text lengths and positions are 32-bit");

struct aws_xml_doc {
	const struct aws_xml_node *root;
	size_t size; /* bytes of the allocation: from BASE_MAP_MIN on a mapping of its own */
	struct aws_xml_node nodes[]; /* then the string area */
};

/* A large document (a Describe page) lives for one decode: a mapping (BASE_MAP_MIN). */
static struct aws_xml_doc *doc_alloc(size_t size)
{
	struct aws_xml_doc *d;

	d = size < BASE_MAP_MIN ? xmalloc(size) : xmap(size);
	d->size = size;
	return d;
}

/* An element whose end tag is still to come. */
struct open_elem {
	struct aws_xml_node *node;
	struct aws_xml_node *last; /* its last child so far */
	const char *qname;	   /* its name as written, to match the end tag */
	size_t qlen;
	size_t mark; /* where its text starts in pending */
};

struct parser {
	const char *p, *end; /* the unread rest of the body */
	struct aws_xml_doc *doc;
	size_t nnodes, maxnodes;
	char *str, *str_end; /* the free part of the string area */
	char *pending;	     /* text of the open elements, innermost last */
	size_t plen, palloc;
	struct open_elem open[AWS_XML_MAX_DEPTH];
	int depth;
};

/* ---- characters ---- */

/*
 * Byte classes, looked up once per byte in the loops that see every byte.
 * Names are checked in ASCII only: any byte of a multi-byte character may
 * appear in a name.
 */
#define C_NAME_START 1 /* may start a name */
#define C_NAME 2       /* may continue a name */
#define C_SPACE 4      /* XML white space */
#define C_TEXT 8       /* ends a run of plain character data */
#define C_CHECK 16     /* needs a closer look in check_body */

#define IS_NAME_START(c)                                                                           \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || (c) == '_' || (c) == ':' ||   \
	 (c) >= 0x80)
#define IS_SPACE(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')
#define CLASS(c)                                                                                   \
	((IS_NAME_START(c) ? C_NAME_START | C_NAME : 0) |                                          \
	 (((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '.' ? C_NAME : 0) |                   \
	 (IS_SPACE(c) ? C_SPACE : 0) |                                                             \
	 ((c) == '<' || (c) == '&' || (c) == '\r' || (c) == '>' ? C_TEXT : 0) |                    \
	 ((c) >= 0x80 || (c) == '<' || ((c) < 0x20 && !IS_SPACE(c)) ? C_CHECK : 0))
#define CLASS4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define CLASS16(c) CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8), CLASS4((c) + 12)
#define CLASS64(c) CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), CLASS16((c) + 48)

static const unsigned char byte_class[256] = {
	CLASS64(0),
	CLASS64(64),
	CLASS64(128),
	CLASS64(192),
};

static int in_class(char c, int cls)
{
	return byte_class[(unsigned char)c] & cls;
}

/* XML 1.0's Char production. */
static int is_xml_char(uint32_t cp)
{
	if (cp < 0x20)
		return cp == '\t' || cp == '\n' || cp == '\r';
	return cp <= 0xD7FF || (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Decodes the UTF-8 sequence at s (n > 0 bytes left): its length, or 0 if malformed. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		c = s[0] & 0x1F;
		min = 0x80;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		c = s[0] & 0x0F;
		min = 0x800;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	/* Overlong forms would let one character hide behind another's bytes. */
	if (c < min || c > 0x10FFFF)
		return 0;
	*cp = c;
	return len;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Whether any of the 8 bytes at s is >= 0x80, < 0x20 or '<': the classic
 * "has a zero byte" and "has a byte less than n" word tests, which are exact
 * as yes/no answers.
 */
static int word_needs_look(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
	uint64_t w, lt;

	memcpy(&w, s, 8);
	lt = w ^ (ones * '<');
	return ((w | ((w - ones * 0x20) & ~w) | ((lt - ones) & ~lt)) & high) != 0;
}

/*
 * The first pass: every byte must belong to well-formed UTF-8 of XML
 * characters. Also counts the '<' not followed by '/', '!' or '?', which is
 * at least the number of elements.
 */
static int check_body(const char *body, size_t len, size_t *nelems)
{
	const unsigned char *s = (const unsigned char *)body;
	size_t i = 0, n = 0;

	while (i < len) {
		uint32_t cp;
		size_t k;

		if (len - i >= 8 && !word_needs_look(s + i)) {
			i += 8;
		} else if (!(byte_class[s[i]] & C_CHECK)) {
			i++;
		} else if (s[i] == '<') {
			if (i + 1 < len && s[i + 1] != '/' && s[i + 1] != '!' && s[i + 1] != '?')
				n++;
			i++;
		} else if (s[i] >= 0x80 && (k = utf8_decode(s + i, len - i, &cp)) > 0 &&
			   is_xml_char(cp)) {
			i += k;
		} else {
			return -1;
		}
	}
	*nelems = n;
	return 0;
}

/* ---- lexical helpers; none reads at or past end ---- */

static int starts(const char *q, const char *end, const char *lit, size_t n)
{
	return (size_t)(end - q) >= n && memcmp(q, lit, n) == 0;
}

#define STARTS(q, end, lit) starts((q), (end), (lit), sizeof(lit) - 1)

static const char *skip_space(const char *q, const char *end)
{
	while (q < end && in_class(*q, C_SPACE))
		q++;
	return q;
}

/* The end of the name at q, or q itself when no name starts there. */
static const char *skip_name(const char *q, const char *end)
{
	if (q == end || !in_class(*q, C_NAME_START))
		return q;
	for (q++; q < end && in_class(*q, C_NAME); q++)
		;
	return q;
}

static int digit(char c, int base)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (base == 16 && c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (base == 16 && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes the reference at q (at '&'): a predefined entity or a character
 * reference. Writes its UTF-8 (at most 4 bytes) to out and returns the byte
 * after the ';', or NULL when the reference is unknown or malformed.
 */
static const char *reference(const char *q, const char *end, char *out, size_t *n)
{
	static const struct {
		const char *name;
		size_t len;
		char c;
	} predefined[] = {
		{"lt;", 3, '<'},   {"gt;", 3, '>'},    {"amp;", 4, '&'},
		{"quot;", 5, '"'}, {"apos;", 5, '\''},
	};
	const char *digits;
	uint32_t cp = 0;
	int base = 10, d;

	if (++q == end)
		return NULL;
	if (*q != '#') {
		for (size_t i = 0; i < ARRAY_SIZE(predefined); i++) {
			if (starts(q, end, predefined[i].name, predefined[i].len)) {
				out[0] = predefined[i].c;
				*n = 1;
				return q + predefined[i].len;
			}
		}
		return NULL;
	}
	if (++q < end && *q == 'x') {
		base = 16;
		q++;
	}
	/* Past U+10FFFF the value stops growing: it is invalid either way. */
	for (digits = q; q < end && (d = digit(*q, base)) >= 0; q++)
		if (cp <= 0x10FFFF)
			cp = cp * (uint32_t)base + (uint32_t)d;
	if (q == digits || q == end || *q != ';' || !is_xml_char(cp))
		return NULL;
	*n = utf8_encode(cp, out);
	return q + 1;
}

/*
 * Reads S? '=' S? and a quoted value at q: returns the byte after the closing
 * quote with the value (borrowed, quotes excluded) in *v, *n; NULL if malformed.
 */
static const char *eq_value(const char *q, const char *end, const char **v, size_t *n)
{
	const char *close;

	q = skip_space(q, end);
	if (q == end || *q != '=')
		return NULL;
	q = skip_space(q + 1, end);
	if (q == end || (*q != '"' && *q != '\''))
		return NULL;
	close = memchr(q + 1, *q, (size_t)(end - q - 1));
	if (!close)
		return NULL;
	*v = q + 1;
	*n = (size_t)(close - q - 1);
	return close + 1;
}

/* Checks one attribute at q and returns the byte after it, or NULL. Its value is not kept. */
static const char *attribute(const char *q, const char *end)
{
	const char *name_end = skip_name(q, end), *v, *v_end;
	char ref[4];
	size_t n, k;

	if (name_end == q || !(q = eq_value(name_end, end, &v, &n)))
		return NULL;
	/* A value may hold '>' but not '<', and its references must be known ones. */
	for (v_end = v + n; v < v_end;) {
		if (*v == '<')
			return NULL;
		if (*v != '&')
			v++;
		else if (!(v = reference(v, v_end, ref, &k)))
			return NULL;
	}
	return q;
}

/* ---- building the tree ---- */

static char *put_str(struct parser *ps, const char *s, size_t n)
{
	char *t = ps->str;

	BUG_ON(n >= (size_t)(ps->str_end - ps->str));
	memcpy(t, s, n);
	t[n] = '\0';
	ps->str += n + 1;
	return t;
}

static void pending_add(struct parser *ps, const char *s, size_t n)
{
	ALLOC_GROW(ps->pending, ps->plen + n, ps->palloc);
	memcpy(ps->pending + ps->plen, s, n);
	ps->plen += n;
}

/* Appends s to the pending text with CR LF and lone CR made LF (XML 1.0 §2.11). */
static void pending_add_lines(struct parser *ps, const char *s, size_t n)
{
	while (n > 0) {
		const char *cr = memchr(s, '\r', n);
		size_t k = cr ? (size_t)(cr - s) : n;

		pending_add(ps, s, k);
		if (!cr)
			break;
		pending_add(ps, "\n", 1);
		k++;
		if (k < n && s[k] == '\n')
			k++;
		s += k;
		n -= k;
	}
}

/* A new element named qname, linked under the innermost open one; NULL for a bad name. */
static struct aws_xml_node *new_node(struct parser *ps, const char *qname, size_t qlen)
{
	const char *colon = memrchr(qname, ':', qlen);
	const char *local = colon ? colon + 1 : qname;
	struct aws_xml_node *node;

	/* Neither part of a prefixed name may be empty. */
	if (qname[0] == ':' || qname[qlen - 1] == ':')
		return NULL;
	BUG_ON(ps->nnodes == ps->maxnodes);
	node = &ps->doc->nodes[ps->nnodes++];
	node->name = put_str(ps, local, (size_t)(qname + qlen - local));
	node->text = NULL;
	node->child = NULL;
	node->next = NULL;
	node->text_len = 0;
	node->text_pos = 0;
	if (ps->depth == 0) {
		ps->doc->root = node;
	} else {
		struct open_elem *parent = &ps->open[ps->depth - 1];

		node->text_pos = (uint32_t)(ps->plen - parent->mark);
		if (parent->last)
			parent->last->next = node;
		else
			parent->node->child = node;
		parent->last = node;
	}
	return node;
}

static void push(struct parser *ps, struct aws_xml_node *node, const char *qname, size_t qlen)
{
	struct open_elem *o = &ps->open[ps->depth++];

	o->node = node;
	o->last = NULL;
	o->qname = qname;
	o->qlen = qlen;
	o->mark = ps->plen;
}

/* Closes the innermost open element: its gathered text moves to the string area. */
static void pop(struct parser *ps)
{
	struct open_elem *o = &ps->open[--ps->depth];
	size_t n = ps->plen - o->mark;

	o->node->text = put_str(ps, ps->pending + o->mark, n);
	o->node->text_len = (uint32_t)n;
	ps->plen = o->mark;
}

/* ---- markup ---- */

/* '<' Name (S Attribute)* S? ('>' | '/>'). */
static int start_tag(struct parser *ps)
{
	const char *end = ps->end, *name, *q;
	struct aws_xml_node *node;
	size_t qlen;
	int empty = 0;

	if (ps->p == end || *ps->p != '<')
		return -1;
	name = ps->p + 1;
	q = skip_name(name, end);
	if (q == name || ps->depth == AWS_XML_MAX_DEPTH)
		return -1;
	qlen = (size_t)(q - name);
	for (;;) {
		const char *s = skip_space(q, end);

		if (s == end)
			return -1;
		if (*s == '>') {
			q = s + 1;
			break;
		}
		if (*s == '/') {
			if (s + 1 == end || s[1] != '>')
				return -1;
			q = s + 2;
			empty = 1;
			break;
		}
		/* Attributes are separated from the name and each other by white space. */
		if (s == q || !(q = attribute(s, end)))
			return -1;
	}
	node = new_node(ps, name, qlen);
	if (!node)
		return -1;
	push(ps, node, name, qlen);
	if (empty)
		pop(ps);
	ps->p = q;
	return 0;
}

/* '</' Name S? '>', with the name of the innermost open element as written. */
static int end_tag(struct parser *ps)
{
	const struct open_elem *o = &ps->open[ps->depth - 1];
	const char *end = ps->end, *name = ps->p + 2, *q;

	/* A longer name ("</ab>" for "<a>") fails at the '>' below. */
	if (!starts(name, end, o->qname, o->qlen))
		return -1;
	q = skip_space(name + o->qlen, end);
	if (q == end || *q != '>')
		return -1;
	pop(ps);
	ps->p = q + 1;
	return 0;
}

/* '<!--' ... '-->', where the comment holds no "--" (XML 1.0 §2.5). */
static int comment(struct parser *ps)
{
	const char *q = ps->p + 4;
	const char *dashes = memmem(q, (size_t)(ps->end - q), "--", 2);

	if (!dashes || dashes + 2 == ps->end || dashes[2] != '>')
		return -1;
	ps->p = dashes + 3;
	return 0;
}

/* '<?' target ... '?>'. The target "xml" is reserved for the declaration at the start. */
static int pi(struct parser *ps)
{
	const char *target = ps->p + 2, *q = skip_name(target, ps->end), *close;

	if (q == target || (q - target == 3 && strncasecmp(target, "xml", 3) == 0))
		return -1;
	if (q < ps->end && !in_class(*q, C_SPACE) && !STARTS(q, ps->end, "?>"))
		return -1;
	close = memmem(q, (size_t)(ps->end - q), "?>", 2);
	if (!close)
		return -1;
	ps->p = close + 2;
	return 0;
}

/* '<![CDATA[' ... ']]>': the content is text, as it stands. */
static int cdata(struct parser *ps)
{
	const char *q = ps->p + 9;
	const char *close = memmem(q, (size_t)(ps->end - q), "]]>", 3);

	if (!close)
		return -1;
	pending_add_lines(ps, q, (size_t)(close - q));
	ps->p = close + 3;
	return 0;
}

/* Character data up to the next '<' or the end. */
static int text(struct parser *ps)
{
	const char *start = ps->p, *q = ps->p, *end = ps->end;
	char ref[4];
	size_t n;

	while (q < end && *q != '<') {
		const char *run = q;

		while (q < end && !in_class(*q, C_TEXT))
			q++;
		pending_add(ps, run, (size_t)(q - run));
		if (q == end || *q == '<')
			break;
		if (*q == '&') {
			q = reference(q, end, ref, &n);
			if (!q)
				return -1;
			pending_add(ps, ref, n);
		} else if (*q == '\r') {
			pending_add(ps, "\n", 1);
			q += q + 1 < end && q[1] == '\n' ? 2 : 1;
		} else {
			/* '>' is fine in text, but not as the end of "]]>" (XML 1.0 §2.4). */
			if (q - start >= 2 && q[-1] == ']' && q[-2] == ']')
				return -1;
			pending_add(ps, ">", 1);
			q++;
		}
	}
	ps->p = q;
	return 0;
}

/* The root element's content, until the root's end tag. */
static int content(struct parser *ps)
{
	while (ps->depth > 0) {
		const char *q = ps->p, *end = ps->end;
		int rc;

		if (q == end)
			return -1;
		if (*q != '<')
			rc = text(ps);
		else if (STARTS(q, end, "</"))
			rc = end_tag(ps);
		else if (STARTS(q, end, "<!--"))
			rc = comment(ps);
		else if (STARTS(q, end, "<![CDATA["))
			rc = cdata(ps);
		else if (STARTS(q, end, "<?"))
			rc = pi(ps);
		else
			rc = start_tag(ps);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* White space, comments and processing instructions, before or after the root. */
static int misc(struct parser *ps)
{
	for (;;) {
		int rc;

		ps->p = skip_space(ps->p, ps->end);
		if (STARTS(ps->p, ps->end, "<!--"))
			rc = comment(ps);
		else if (STARTS(ps->p, ps->end, "<?"))
			rc = pi(ps);
		else
			return 0;
		if (rc < 0)
			return -1;
	}
}

/*
 * S name Eq value at *q, if name comes next: 1 with the value and *q past it;
 * 0 when it does not (*q unchanged); -1 when malformed.
 */
static int pseudo_attr(const char **q, const char *end, const char *name, const char **v, size_t *n)
{
	const char *s = skip_space(*q, end);
	size_t len = strlen(name);

	if (s == *q || !starts(s, end, name, len) || (s + len < end && in_class(s[len], C_NAME)))
		return 0;
	s = eq_value(s + len, end, v, n);
	if (!s)
		return -1;
	*q = s;
	return 1;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/* <?xml version="1.x" encoding="UTF-8" standalone="yes|no"?>, the last two optional. */
static int xml_decl(struct parser *ps)
{
	const char *q = ps->p + 5, *end = ps->end, *v;
	size_t n;
	int rc;

	rc = pseudo_attr(&q, end, "version", &v, &n);
	if (rc <= 0 || n < 3 || memcmp(v, "1.", 2) != 0 || !all_digits(v + 2, n - 2))
		return -1;
	/* The body is read as UTF-8; a document that says otherwise would be misread. */
	rc = pseudo_attr(&q, end, "encoding", &v, &n);
	if (rc < 0 || (rc > 0 && (n != 5 || strncasecmp(v, "UTF-8", 5) != 0)))
		return -1;
	rc = pseudo_attr(&q, end, "standalone", &v, &n);
	if (rc < 0 || (rc > 0 && !(n == 3 && memcmp(v, "yes", 3) == 0) &&
		       !(n == 2 && memcmp(v, "no", 2) == 0)))
		return -1;
	q = skip_space(q, end);
	if (!STARTS(q, end, "?>"))
		return -1;
	ps->p = q + 2;
	return 0;
}

static int document(struct parser *ps)
{
	if (STARTS(ps->p, ps->end, "\xEF\xBB\xBF"))
		ps->p += 3;
	if (STARTS(ps->p, ps->end, "<?xml") && ps->p + 5 < ps->end && in_class(ps->p[5], C_SPACE) &&
	    xml_decl(ps) < 0)
		return -1;
	if (misc(ps) < 0 || start_tag(ps) < 0 || content(ps) < 0 || misc(ps) < 0)
		return -1;
	return ps->p == ps->end ? 0 : -1;
}

int aws_xml_parse(const char *body, size_t len, struct aws_xml_doc **doc)
{
	struct parser ps;
	size_t nelems, nstr;
	int rc;

	*doc = NULL;
	if (len > AWS_XML_MAX_BODY)
		return BASE_ETOOBIG;
	if (!body || len == 0 || check_body(body, len, &nelems) < 0 || nelems == 0)
		return BASE_EPARSE;
	nstr = len + 2 * nelems;
	ps.doc = doc_alloc(sizeof(*ps.doc) + nelems * sizeof(struct aws_xml_node) + nstr);
	ps.doc->root = NULL;
	ps.p = body;
	ps.end = body + len;
	ps.nnodes = 0;
	ps.maxnodes = nelems;
	ps.str = (char *)&ps.doc->nodes[nelems];
	ps.str_end = ps.str + nstr;
	ps.palloc = 256;
	ps.pending = xmalloc(ps.palloc);
	ps.plen = 0;
	ps.depth = 0;
	rc = document(&ps);
	free(ps.pending);
	if (rc < 0) {
		aws_xml_free(ps.doc);
		return BASE_EPARSE;
	}
	*doc = ps.doc;
	return 0;
}

const struct aws_xml_node *aws_xml_root(const struct aws_xml_doc *doc)
{
	return doc ? doc->root : NULL;
}

void aws_xml_free(struct aws_xml_doc *doc)
{
	if (doc && doc->size >= BASE_MAP_MIN)
		xunmap(doc, doc->size);
	else
		free(doc);
}

/* ---- walking ---- */

static const struct aws_xml_node *child_n(const struct aws_xml_node *parent, const char *name,
					  size_t len)
{
	if (!parent)
		return NULL;
	/* The first byte settles most mismatches without a call. */
	for (const struct aws_xml_node *c = parent->child; c; c = c->next)
		if (c->name[0] == name[0] && strncmp(c->name, name, len) == 0 &&
		    c->name[len] == '\0')
			return c;
	return NULL;
}

const struct aws_xml_node *aws_xml_child(const struct aws_xml_node *parent, const char *name)
{
	return child_n(parent, name, strlen(name));
}

const struct aws_xml_node *aws_xml_next(const struct aws_xml_node *node)
{
	if (!node)
		return NULL;
	for (const struct aws_xml_node *c = node->next; c; c = c->next)
		if (strcmp(c->name, node->name) == 0)
			return c;
	return NULL;
}

const struct aws_xml_node *aws_xml_path(const struct aws_xml_node *parent, const char *path)
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

size_t aws_xml_count(const struct aws_xml_node *parent, const char *name)
{
	size_t n = 0;

	for (const struct aws_xml_node *c = aws_xml_child(parent, name); c; c = aws_xml_next(c))
		n++;
	return n;
}

/* Appends node's text with its children's, each where it stands in node's own text. */
static void gather(struct base_buf *b, const struct aws_xml_node *node)
{
	uint32_t done = 0;

	for (const struct aws_xml_node *c = node->child; c; c = c->next) {
		base_buf_add(b, node->text + done, c->text_pos - done);
		done = c->text_pos;
		gather(b, c);
	}
	base_buf_add(b, node->text + done, node->text_len - done);
}

char *aws_xml_text(const struct aws_xml_node *node)
{
	struct base_buf b = BASE_BUF_INIT(0);

	if (!node)
		return NULL;
	if (!node->child)
		return xstrndup(node->text, node->text_len);
	gather(&b, node);
	return base_buf_detach(&b, NULL);
}

char *aws_xml_get(const struct aws_xml_node *parent, const char *path)
{
	return aws_xml_text(aws_xml_path(parent, path));
}

/*
 * The text at path without a copy when the element has no children (every
 * value AWS sends); otherwise assembled into *copy, which the caller frees.
 */
static const char *peek(const struct aws_xml_node *parent, const char *path, char **copy)
{
	const struct aws_xml_node *n = aws_xml_path(parent, path);

	*copy = NULL;
	if (!n)
		return NULL;
	if (!n->child)
		return n->text;
	*copy = aws_xml_text(n);
	return *copy;
}

int aws_xml_get_bool(const struct aws_xml_node *parent, const char *path, int *present)
{
	char *copy;
	const char *t = peek(parent, path, &copy);
	int v = t && strcmp(t, "true") == 0;

	if (present)
		*present = t && (strcmp(t, "true") == 0 || strcmp(t, "false") == 0);
	free(copy);
	return v;
}

int64_t aws_xml_get_int(const struct aws_xml_node *parent, const char *path)
{
	char *copy, *end = NULL;
	const char *t = peek(parent, path, &copy);
	long long v = 0;

	if (t && *t) {
		errno = 0;
		v = strtoll(t, &end, 10);
		if (errno || *end)
			v = 0;
	}
	free(copy);
	return v;
}

int64_t aws_xml_get_time(const struct aws_xml_node *parent, const char *path)
{
	char *copy;
	const char *t = peek(parent, path, &copy);
	int64_t ms = 0;

	if (t && base_time_parse(t, &ms) != 0)
		ms = 0;
	free(copy);
	return ms;
}

int aws_xml_escape(struct base_buf *out, const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		switch (*s) {
		case '&':
			rc = base_buf_adds(out, "&amp;");
			break;
		case '<':
			rc = base_buf_adds(out, "&lt;");
			break;
		case '>':
			rc = base_buf_adds(out, "&gt;");
			break;
		case '"':
			rc = base_buf_adds(out, "&quot;");
			break;
		case '\'':
			rc = base_buf_adds(out, "&apos;");
			break;
		default:
			rc = base_buf_addch(out, *s);
			break;
		}
	}
	return rc;
}
