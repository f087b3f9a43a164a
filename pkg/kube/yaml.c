/*
 * libyaml's document loader builds a node graph in which aliases point to
 * earlier nodes; walking it recursively expands them, which is why the walk
 * counts every node it emits against a budget.
 */
#include "pkg/kube/yaml.h"

#include <string.h>
#include <yaml.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"

struct conv {
	yaml_document_t *doc;
	size_t budget;
	int err;
};

static int is_null_scalar(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return n->data.scalar.length == 0 || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static json_t *convert(struct conv *c, yaml_node_t *n, int depth)
{
	json_t *out = NULL;

	if (!n || c->err)
		return NULL;
	if (depth > KUBE_YAML_MAX_DEPTH || c->budget == 0) {
		c->err = BASE_ETOOBIG;
		return NULL;
	}
	c->budget--;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (is_null_scalar(n))
			return json_null();
		out = json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
		if (!out)
			c->err = BASE_EPARSE; /* not UTF-8 */
		return out;
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;

		out = json_array();
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			json_t *v = convert(c, yaml_document_get_node(c->doc, *it), depth + 1);

			if (!v)
				break;
			json_array_append_new(out, v);
		}
		break;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;

		out = json_object();
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
			json_t *v;
			char *key;

			if (!k || k->type != YAML_SCALAR_NODE) {
				c->err = BASE_EPARSE;
				break;
			}
			v = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
			if (!v)
				break;
			key = xstrndup((const char *)k->data.scalar.value, k->data.scalar.length);
			if (strlen(key) != k->data.scalar.length ||
			    json_object_set_new(out, key, v) < 0) {
				c->err = BASE_EPARSE;
				if (strlen(key) != k->data.scalar.length)
					json_decref(v);
			}
			free(key);
			if (c->err)
				break;
		}
		break;
	}
	default:
		c->err = BASE_EPARSE;
		return NULL;
	}
	if (c->err) {
		json_decref(out);
		return NULL;
	}
	return out;
}

int kube_yaml_to_json(const char *data, size_t n, json_t **out, char **errmsg)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct conv c = {&doc, KUBE_YAML_MAX_NODES, 0};
	json_t *root = NULL;
	int rc = 0;

	*out = NULL;
	if (errmsg)
		*errmsg = NULL;
	if (!yaml_parser_initialize(&parser))
		BUG("yaml_parser_initialize failed");
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, n);
	if (!yaml_parser_load(&parser, &doc)) {
		if (errmsg)
			*errmsg = xasprintf("YAML syntax error at line %zu: %s",
					    parser.problem_mark.line + 1,
					    parser.problem ? parser.problem : "unknown");
		rc = BASE_EPARSE;
		goto out_parser;
	}
	if (!yaml_document_get_root_node(&doc)) {
		root = json_object(); /* an empty file is an empty document */
	} else {
		root = convert(&c, yaml_document_get_root_node(&doc), 0);
		if (!root) {
			rc = c.err ? c.err : BASE_EPARSE;
			if (errmsg)
				*errmsg = xstrdup(rc == BASE_ETOOBIG
							  ? "YAML document too deep or too large"
							  : "YAML document has a non-scalar key or "
							    "invalid UTF-8");
		}
	}
	yaml_document_delete(&doc);
	*out = root;
out_parser:
	yaml_parser_delete(&parser);
	return rc;
}
