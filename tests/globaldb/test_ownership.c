/*
 * Ownership tags (pkg/globaldb/ownership.h): reading them off a Describe
 * answer, classifying a resource as ours, untagged, stale or foreign, the
 * owner identity of an object, and the tags a Create or an adoption writes.
 * What the planner does with each class is in test_planner.c.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/err.h"
#include "pkg/globaldb/ownership.h"

#define OWNER "payments/orders"
#define UID "7d1c-uid"

START_TEST(test_owner_tags_are_read_by_exact_key)
{
	struct aws_tag tags[] = {
		{"team", "db"},
		{"Globaldb.io/Owner", "other/x"}, /* AWS tag keys are case-sensitive */
		{GDB_TAG_OWNER, OWNER},
		{NULL, "ignored"},
		{GDB_TAG_OWNER_UID, UID},
	};
	struct gdb_obs_owner o = gdb_owner_from_tags(tags, ARRAY_SIZE(tags));

	ck_assert_str_eq(o.owner, OWNER);
	ck_assert_str_eq(o.uid, UID);

	o = gdb_owner_from_tags(tags, 2);
	ck_assert_ptr_null(o.owner);
	ck_assert_ptr_null(o.uid);
	o = gdb_owner_from_tags(NULL, 3);
	ck_assert_ptr_null(o.owner);
	/* A tag without a value is present, and empty. */
	o = gdb_owner_from_tags(&(struct aws_tag){GDB_TAG_OWNER, NULL}, 1);
	ck_assert_str_eq(o.owner, "");
	ck_assert_ptr_null(o.uid);
}
END_TEST

static const struct {
	const char *tag_owner, *tag_uid; /* the resource's tags (NULL: absent) */
	const char *owner, *uid;	 /* the object's identity */
	enum gdb_ownership want;
} classes[] = {
	{OWNER, UID, OWNER, UID, GDB_OWN_OURS},
	{NULL, NULL, OWNER, UID, GDB_OWN_UNTAGGED},
	{NULL, UID, OWNER, UID, GDB_OWN_UNTAGGED},
	/* An empty owner tag names nobody (someone cleared it by hand). */
	{"", UID, OWNER, UID, GDB_OWN_UNTAGGED},
	/* The same namespace/name, recreated: never takes over its predecessor's resources. */
	{OWNER, "an-older-uid", OWNER, UID, GDB_OWN_STALE},
	{OWNER, NULL, OWNER, UID, GDB_OWN_STALE},
	{OWNER, "", OWNER, "", GDB_OWN_STALE},
	{OWNER, UID, OWNER, NULL, GDB_OWN_STALE},
	{"payments/invoices", UID, OWNER, UID, GDB_OWN_FOREIGN},
	{"Payments/Orders", UID, OWNER, UID, GDB_OWN_FOREIGN},
	{"payments/orders-2", UID, OWNER, UID, GDB_OWN_FOREIGN},
	/* An object without an identity owns nothing. */
	{OWNER, UID, NULL, NULL, GDB_OWN_FOREIGN},
	{NULL, NULL, NULL, NULL, GDB_OWN_UNTAGGED},
};

START_TEST(test_resources_are_classified_against_the_object)
{
	struct gdb_obs_owner t = {classes[_i].tag_owner, classes[_i].tag_uid};
	enum gdb_ownership got = gdb_ownership_of(&t, classes[_i].owner, classes[_i].uid);

	ck_assert_msg(got == classes[_i].want, "row %d: %s, want %s", _i, gdb_ownership_name(got),
		      gdb_ownership_name(classes[_i].want));
}
END_TEST

START_TEST(test_classes_have_the_names_events_use)
{
	ck_assert_str_eq(gdb_ownership_name(GDB_OWN_OURS), "ours");
	ck_assert_str_eq(gdb_ownership_name(GDB_OWN_UNTAGGED), "untagged");
	ck_assert_str_eq(gdb_ownership_name(GDB_OWN_STALE), "stale");
	ck_assert_str_eq(gdb_ownership_name(GDB_OWN_FOREIGN), "foreign");
}
END_TEST

static int owner_of(const char *obj_json, char *buf, size_t n)
{
	json_t *obj = json_loads(obj_json, 0, NULL);
	int rc;

	ck_assert_ptr_nonnull(obj);
	rc = gdb_owner_name(obj, buf, n);
	json_decref(obj);
	return rc;
}

START_TEST(test_owner_name_is_namespace_slash_name)
{
	char buf[GDB_OWNER_MAX];
	char big[400], *obj;

	ck_assert_int_eq(owner_of("{\"metadata\":{\"namespace\":\"payments\",\"name\":\"orders\"}}",
				  buf, sizeof(buf)),
			 0);
	ck_assert_str_eq(buf, OWNER);
	ck_assert_int_eq(owner_of("{\"metadata\":{\"name\":\"orders\"}}", buf, sizeof(buf)),
			 BASE_EINVAL);
	ck_assert_int_eq(owner_of("{\"metadata\":{\"namespace\":\"\",\"name\":\"orders\"}}", buf,
				  sizeof(buf)),
			 BASE_EINVAL);
	ck_assert_int_eq(owner_of("{}", buf, sizeof(buf)), BASE_EINVAL);

	/* A 63-character namespace and a 253-character name do not fit an AWS tag value. */
	memset(big, 'n', 253);
	big[253] = '\0';
	obj = xasprintf("{\"metadata\":{\"namespace\":\"%063d\",\"name\":\"%s\"}}", 0, big);
	snprintf(buf, sizeof(buf), "stale contents");
	ck_assert_int_eq(owner_of(obj, buf, sizeof(buf)), BASE_EINVAL);
	ck_assert_str_eq(buf, "");
	free(obj);
}
END_TEST

START_TEST(test_created_resources_carry_both_owner_tags)
{
	struct gdb_action a = {.owner = OWNER, .owner_uid = UID};
	struct aws_tag tags[2];

	ck_assert_uint_eq(gdb_owner_tags(&a, tags), 2);
	ck_assert_str_eq(tags[0].key, GDB_TAG_OWNER);
	ck_assert_str_eq(tags[0].value, OWNER);
	ck_assert_str_eq(tags[1].key, GDB_TAG_OWNER_UID);
	ck_assert_str_eq(tags[1].value, UID);
	/* Read back, they classify as ours. */
	ck_assert_int_eq(
		gdb_ownership_of(&(struct gdb_obs_owner){gdb_owner_from_tags(tags, 2).owner,
							 gdb_owner_from_tags(tags, 2).uid},
				 OWNER, UID),
		GDB_OWN_OURS);

	/* Never half a claim: without both, nothing is tagged. */
	a.owner_uid = NULL;
	ck_assert_uint_eq(gdb_owner_tags(&a, tags), 0);
	a = (struct gdb_action){.owner_uid = UID};
	ck_assert_uint_eq(gdb_owner_tags(&a, tags), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("globaldb_ownership");
	TCase *tc = tcase_create("ownership");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_owner_tags_are_read_by_exact_key);
	tcase_add_loop_test(tc, test_resources_are_classified_against_the_object, 0,
			    (int)ARRAY_SIZE(classes));
	tcase_add_test(tc, test_classes_have_the_names_events_use);
	tcase_add_test(tc, test_owner_name_is_namespace_slash_name);
	tcase_add_test(tc, test_created_resources_carry_both_owner_tags);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
