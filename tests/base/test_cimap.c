/*
 * Unit tests for pkg/base/cimap: the case-insensitive multimap the region
 * cache indexes each Describe answer with.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pkg/base/alloc.h"
#include "pkg/base/cimap.h"

/* The items found for key, in the order the map yields them, that really match it. */
static size_t lookup(const struct base_cimap *m, char *const *names, const char *key, uint32_t *out,
		     size_t max)
{
	size_t n = 0;
	uint64_t h;

	for (uint32_t e = base_cimap_first(m, key, &h); e && n < max; e = base_cimap_next(m, e, h))
		if (!strcasecmp(names[base_cimap_item(m, e)], key))
			out[n++] = base_cimap_item(m, e);
	return n;
}

START_TEST(cimap_finds_every_name_whatever_its_case_among_thousands)
{
	enum { N = 5000 };
	char *names[N];
	struct base_cimap m;
	uint32_t found[4];
	char key[32];

	/* Sized for far fewer keys than it gets: the chains grow, nothing is lost. */
	base_cimap_init(&m, 10);
	for (size_t i = 0; i < N; i++) {
		names[i] = xasprintf("Orders-Cluster-%zu", i);
		base_cimap_add(&m, names[i], strlen(names[i]), i);
	}
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "orders-CLUSTER-%zu", i);
		ck_assert_uint_eq(lookup(&m, names, key, found, 4), 1);
		ck_assert_uint_eq(found[0], i);
	}
	ck_assert_uint_eq(lookup(&m, names, "orders-cluster-5000", found, 4), 0);
	base_cimap_release(&m);
	for (size_t i = 0; i < N; i++)
		free(names[i]);
}
END_TEST

START_TEST(cimap_keeps_every_item_of_a_key_and_every_key_of_an_item)
{
	/* Two items under one name, and item 2 under its name and a prefix of it. */
	char *names[] = {"orders", "ORDERS", "orders-global-2"};
	struct base_cimap m;
	uint32_t found[4];
	uint64_t h;
	size_t n = 0;

	base_cimap_init(&m, 4);
	base_cimap_add(&m, names[0], strlen(names[0]), 0);
	base_cimap_add(&m, names[1], strlen(names[1]), 1);
	base_cimap_add(&m, names[2], strlen(names[2]), 2);
	base_cimap_add(&m, names[2], strlen("orders-global"), 2);
	ck_assert_uint_eq(lookup(&m, names, "Orders", found, 4), 2);
	ck_assert(found[0] != found[1]);
	for (uint32_t e = base_cimap_first(&m, "orders-global", &h); e;
	     e = base_cimap_next(&m, e, h))
		if (base_cimap_item(&m, e) == 2)
			n++;
	ck_assert_uint_eq(n, 1);
	base_cimap_release(&m);
}
END_TEST

START_TEST(cimap_empty_released_or_null_key_finds_nothing)
{
	struct base_cimap m;
	uint64_t h;

	memset(&m, 0, sizeof(m));
	ck_assert_uint_eq(base_cimap_first(&m, "orders", &h), 0); /* never initialised */
	base_cimap_init(&m, 0);
	ck_assert_uint_eq(base_cimap_first(&m, "orders", &h), 0);
	base_cimap_add(&m, "orders", 6, 0);
	ck_assert_uint_eq(base_cimap_first(&m, NULL, &h), 0);
	ck_assert_uint_ne(base_cimap_first(&m, "ORDERS", &h), 0);
	base_cimap_release(&m);
	ck_assert_uint_eq(base_cimap_first(&m, "orders", &h), 0);
	base_cimap_release(&m); /* twice is fine */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cimap");
	TCase *tc = tcase_create("cimap");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, cimap_finds_every_name_whatever_its_case_among_thousands);
	tcase_add_test(tc, cimap_keeps_every_item_of_a_key_and_every_key_of_an_item);
	tcase_add_test(tc, cimap_empty_released_or_null_key_finds_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
