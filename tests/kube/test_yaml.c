/*
 * pkg/kube/yaml: YAML to JSON: an alias bomb is refused before it expands.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

START_TEST(yaml_alias_bomb_is_refused)
{
	const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
	json_t *out;
	char *msg = NULL;

	ck_assert_int_eq(kube_yaml_to_json(bomb, strlen(bomb), &out, &msg), BASE_ETOOBIG);
	ck_assert_ptr_null(out);
	free(msg);
}
END_TEST

GDB_CHECK_MAIN("kube_yaml", 20, yaml_alias_bomb_is_refused)
