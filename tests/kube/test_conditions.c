/*
 * pkg/kube/conditions: Conditions: lastTransitionTime moves only when the status changes; bad values refused.
 * (Unit tests, no server.)
 */
#include <check.h>

#include "pkg/base/err.h"
#include "pkg/kube/kube.h"
#include "tests/check_main.h"

START_TEST(conditions_transition_time_moves_only_when_status_changes)
{
	json_t *conds = json_array(), *c;
	struct kube_condition ready = {"Ready", "False", "Provisioning", "creating", 1};
	int64_t t0 = 1700000000000, t1 = t0 + 60000, t2 = t0 + 120000;

	ck_assert_int_eq(kube_condition_set(conds, &ready, t0), 1);
	ck_assert_int_eq(kube_condition_set(conds, &ready, t1), 0); /* nothing changed */
	c = kube_condition_find(conds, "Ready");
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
			 "2023-11-14T22:13:20Z");
	ready.message = "still creating";
	ready.observed_generation = 2;
	ck_assert_int_eq(kube_condition_set(conds, &ready, t1), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
			 "2023-11-14T22:13:20Z");
	ck_assert_int_eq(json_integer_value(json_object_get(c, "observedGeneration")), 2);
	ck_assert(!kube_condition_is_true(conds, "Ready"));
	ready.status = "True";
	ready.reason = "Available";
	ck_assert_int_eq(kube_condition_set(conds, &ready, t2), 1);
	ck_assert_str_eq(json_string_value(json_object_get(c, "lastTransitionTime")),
			 "2023-11-14T22:15:20Z");
	ck_assert(kube_condition_is_true(conds, "Ready"));
	ready.reason = "not a reason";
	ck_assert_int_eq(kube_condition_set(conds, &ready, t2), BASE_EINVAL);
	ready.reason = "Ok";
	ready.status = "Maybe";
	ck_assert_int_eq(kube_condition_set(conds, &ready, t2), BASE_EINVAL);
	ck_assert_int_eq(json_array_size(conds), 1);
	ck_assert_int_eq(kube_condition_remove(conds, "Ready"), 1);
	ck_assert_int_eq(kube_condition_remove(conds, "Ready"), 0);
	json_decref(conds);
}
END_TEST

GDB_CHECK_MAIN("kube_conditions", 20, conditions_transition_time_moves_only_when_status_changes)
