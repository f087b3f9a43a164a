/*
 * pkg/kube/store: The informer store: a relist reports exactly the differences, watch events apply.
 * (Unit tests, no server.)
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

static json_t *obj(const char *ns, const char *name, const char *rv)
{
	return json_pack("{s:{s:s, s:s, s:s}}", "metadata", "namespace", ns, "name", name,
			 "resourceVersion", rv);
}

struct log {
	json_t *lines; /* "add ns/a 1", "update ns/a 1->2", "delete ns/a" */
};

static void log_add(void *ud, json_t *o)
{
	char *k = kube_object_key(o);

	json_array_append_new(((struct log *)ud)->lines, json_sprintf("add %s", k));
	free(k);
}

static void log_update(void *ud, json_t *old_obj, json_t *new_obj)
{
	char *k = kube_object_key(new_obj);

	json_array_append_new(
		((struct log *)ud)->lines,
		json_sprintf("update %s %s->%s", k,
			     json_string_value(json_object_get(json_object_get(old_obj, "metadata"),
							       "resourceVersion")),
			     json_string_value(json_object_get(json_object_get(new_obj, "metadata"),
							       "resourceVersion"))));
	free(k);
}

static void log_delete(void *ud, json_t *o)
{
	char *k = kube_object_key(o);

	json_array_append_new(((struct log *)ud)->lines, json_sprintf("delete %s", k));
	free(k);
}

static int has_line(json_t *lines, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(lines, i, v)
	{
		if (!strcmp(json_string_value(v), s))
			return 1;
	}
	return 0;
}

START_TEST(store_relist_reports_exactly_the_differences)
{
	struct kube_store *s = kube_store_new();
	struct log l = {json_array()};
	struct kube_handlers h = {log_add, log_update, log_delete, &l};
	json_t *items = json_array(), *got;

	kube_store_add_handlers(s, &h);
	json_array_append_new(items, obj("ns", "a", "1"));
	json_array_append_new(items, obj("ns", "b", "1"));
	json_array_append_new(items, obj("ns", "c", "1"));
	ck_assert_int_eq(kube_store_replace(s, items), 0);
	ck_assert_int_eq(json_array_size(l.lines), 3);
	json_array_clear(l.lines);
	json_decref(items);

	/* Relist: a unchanged, b modified, c deleted, d new. */
	items = json_array();
	json_array_append_new(items, obj("ns", "a", "1"));
	json_array_append_new(items, obj("ns", "b", "7"));
	json_array_append_new(items, obj("ns", "d", "8"));
	ck_assert_int_eq(kube_store_replace(s, items), 0);
	ck_assert_int_eq(json_array_size(l.lines), 3);
	ck_assert(has_line(l.lines, "update ns/b 1->7"));
	ck_assert(has_line(l.lines, "delete ns/c"));
	ck_assert(has_line(l.lines, "add ns/d"));
	ck_assert_uint_eq(kube_store_len(s), 3);
	got = kube_store_get(s, "ns/b");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "metadata"),
							   "resourceVersion")),
			 "7");
	json_decref(got);
	ck_assert_ptr_null(kube_store_get(s, "ns/c"));
	json_decref(items);

	/* Watch events. */
	json_array_clear(l.lines);
	items = obj("ns", "e", "9");
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_MODIFIED, items), 0); /* unknown -> add */
	json_decref(items);
	items = obj("ns", "a", "10");
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_ADDED, items), 0); /* known -> update */
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_DELETED, items), 0);
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_DELETED, items), 0); /* again: nothing */
	json_decref(items);
	ck_assert_int_eq(json_array_size(l.lines), 3);
	ck_assert(has_line(l.lines, "add ns/e"));
	ck_assert(has_line(l.lines, "update ns/a 1->10"));
	ck_assert(has_line(l.lines, "delete ns/a"));
	items = json_pack("{s:{}}", "metadata");
	ck_assert_int_eq(kube_store_apply(s, KUBE_EVENT_ADDED, items), BASE_EINVAL);
	json_decref(items);
	kube_store_free(s);
	json_decref(l.lines);
}
END_TEST

GDB_CHECK_MAIN("kube_store", 20, store_relist_reports_exactly_the_differences)
