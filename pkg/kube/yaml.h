/*
 * yaml.h - YAML documents as jansson values (for kubeconfig files).
 *
 * Converts the first document of a YAML stream with libyaml: mappings become
 * objects, sequences arrays, and every scalar a string (kubeconfig readers
 * interpret "true"/"false" themselves), null-like plain scalars become JSON
 * null. Aliases are expanded, so the input is hostile by default: the
 * conversion caps nesting depth (KUBE_YAML_MAX_DEPTH) and the total number of
 * nodes produced (KUBE_YAML_MAX_NODES), which defeats "billion laughs".
 *
 * Pure function; thread-safe.
 */
#ifndef KUBE_YAML_H
#define KUBE_YAML_H

#include <jansson.h>
#include <stddef.h>

#define KUBE_YAML_MAX_DEPTH 64
#define KUBE_YAML_MAX_NODES 200000

/*
 * Parses data (n bytes). On success *out gets a new reference (caller
 * decrefs) and 0 is returned. On failure returns BASE_EPARSE or BASE_ETOOBIG
 * and, if errmsg is not NULL, sets *errmsg to a description with the line
 * number (caller frees).
 */
int kube_yaml_to_json(const char *data, size_t n, json_t **out, char **errmsg);

#endif
