/*
 * What `kubectl globaldb` prints and decides, from objects: durations, the
 * status page, history order, the GitOps owner of spec.primaryRegion and
 * the approval value. The fixtures under tests/argocd/fixtures are
 * GlobalDatabases captured from real e2e runs (tests/plugin/test_plugin.py).
 */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/kubectl-globaldb/format.h"
#include "pkg/base/buf.h"
#include "pkg/base/timeutil.h"

static json_t *load(const char *json)
{
	json_error_t e;
	json_t *j = json_loads(json, 0, &e);

	ck_assert_msg(j != NULL, "bad test JSON: %s", e.text);
	return j;
}

static json_t *fixture(const char *name)
{
	const char *dir = getenv("GDB_ARGOCD_FIXTURES");
	char path[1024];
	json_error_t e;
	json_t *j;

	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	j = json_load_file(path, 0, &e);
	ck_assert_msg(j != NULL, "%s: %s", path, e.text);
	return j;
}

static int64_t t(const char *s)
{
	int64_t ms;

	ck_assert_int_eq(base_time_parse(s, &ms), 0);
	return ms;
}

START_TEST(test_durations_read_like_kubectl_ages)
{
	char b[32];

	kgdb_duration(-5, b, sizeof(b));
	ck_assert_str_eq(b, "0s");
	kgdb_duration(45, b, sizeof(b));
	ck_assert_str_eq(b, "45s");
	kgdb_duration(185, b, sizeof(b));
	ck_assert_str_eq(b, "3m05s");
	kgdb_duration(7800, b, sizeof(b));
	ck_assert_str_eq(b, "2h10m");
	kgdb_duration(4 * 86400 + 3 * 3600 + 59, b, sizeof(b));
	ck_assert_str_eq(b, "4d3h");
}
END_TEST

static const char *managed(const char *manager, const char *op)
{
	static char buf[512];

	snprintf(
		buf, sizeof(buf),
		"{\"metadata\":{\"managedFields\":[{\"manager\":\"%s\",\"operation\":\"%s\","
		"\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:primaryRegion\":{},"
		"\"f:regions\":{}}}},{\"manager\":\"globaldb-controller\",\"operation\":\"Update\","
		"\"subresource\":\"status\",\"fieldsV1\":{\"f:status\":{}}}]}}",
		manager, op);
	return buf;
}

START_TEST(test_gitops_owner_of_primary_region_is_named)
{
	const char *gitops;
	json_t *o;

	o = load(managed("argocd-controller", "Apply"));
	ck_assert_str_eq(kgdb_primary_region_owner(o, &gitops), "argocd-controller");
	ck_assert_str_eq(gitops, "Argo CD");
	json_decref(o);
	o = load(managed("kustomize-controller", "Apply"));
	kgdb_primary_region_owner(o, &gitops);
	ck_assert_str_eq(gitops, "Flux");
	json_decref(o);
	o = load(managed("helm", "Update"));
	kgdb_primary_region_owner(o, &gitops);
	ck_assert_str_eq(gitops, "Helm");
	json_decref(o);
	/* A manifest applied by hand: an owner, but not a GitOps tool. */
	o = load(managed("kubectl-client-side-apply", "Update"));
	ck_assert_str_eq(kgdb_primary_region_owner(o, &gitops), "kubectl-client-side-apply");
	ck_assert_ptr_null(gitops);
	json_decref(o);
	/* One-off commands, and the plugin itself, restore nothing later. */
	o = load(managed("kubectl-patch", "Update"));
	ck_assert_ptr_null(kgdb_primary_region_owner(o, &gitops));
	json_decref(o);
	o = load(managed(KGDB_FIELD_MANAGER, "Update"));
	ck_assert_ptr_null(kgdb_primary_region_owner(o, &gitops));
	json_decref(o);
	o = load("{\"metadata\":{}}");
	ck_assert_ptr_null(kgdb_primary_region_owner(o, &gitops));
	json_decref(o);
}
END_TEST

/* kgdb_approval_value of o at the time now (RFC 3339), into the caller's v and why. */
#define APPROVE(o, type, now) kgdb_approval_value(o, type, t(now), v, sizeof(v), why, sizeof(why))

static const char *awaiting(const char *type, const char *step, const char *started)
{
	static char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"status\":{\"operation\":{\"id\":3,\"type\":\"%s\",\"step\":\"%s\","
		 "\"targetRegion\":\"us-west-2\",\"startedTime\":\"%s\"}}}",
		 type, step, started);
	return buf;
}

START_TEST(test_approval_is_now_and_only_for_what_awaits_it)
{
	char v[48], why[256];
	json_t *o = load(awaiting("Failover", "AwaitingApproval", "2026-12-06T03:00:00Z"));

	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T03:00:41.900Z"), 0);
	ck_assert_str_eq(v, "2026-12-06T03:00:41Z");
	/* A fallback approval does not approve a failover. */
	ck_assert_int_eq(APPROVE(o, "Fallback", "2026-12-06T03:00:41Z"), KGDB_EXIT_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "no Fallback awaits approval"));
	/* This clock a little behind the controller's: the recommendation's own time. */
	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T02:59:30Z"), 0);
	ck_assert_str_eq(v, "2026-12-06T03:00:00Z");
	/* Far behind: refused rather than approving at a time the controller rejects. */
	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T02:50:00Z"), KGDB_EXIT_REFUSED);
	json_decref(o);
	o = load(awaiting("Failover", "WaitFailover", "2026-12-06T03:00:00Z"));
	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T03:01:00Z"), KGDB_EXIT_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "a Failover at step WaitFailover"));
	json_decref(o);
	o = load("{\"status\":{}}");
	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T03:01:00Z"), KGDB_EXIT_REFUSED);
	ck_assert_ptr_nonnull(strstr(why, "no operation is in flight"));
	json_decref(o);
}
END_TEST

/*
 * The two-controller guard's detach waiting for a co-signature records no
 * operation here, only the Guarded condition: a failover approval applies to
 * it, dated no earlier than the wait began; a fallback approval does not.
 */
START_TEST(test_approval_of_a_detach_the_guard_holds)
{
	char v[48], why[256];
	json_t *o = load(
		"{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"},"
		"{\"type\":\"Guarded\",\"status\":\"False\",\"reason\":"
		"\"AwaitingCorroboration\",\"lastTransitionTime\":\"2026-12-06T03:00:00Z\"}]}}");

	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T03:00:41Z"), 0);
	ck_assert_str_eq(v, "2026-12-06T03:00:41Z");
	/* This clock a little behind the controller's: the wait's own time. */
	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T02:59:30Z"), 0);
	ck_assert_str_eq(v, "2026-12-06T03:00:00Z");
	ck_assert_int_eq(APPROVE(o, "Fallback", "2026-12-06T03:00:41Z"), KGDB_EXIT_REFUSED);
	json_decref(o);
	/* Held by a peer: the peer's object is the one to approve. */
	o = load("{\"status\":{\"conditions\":[{\"type\":\"Guarded\",\"status\":\"False\","
		 "\"reason\":\"HeldByPeer\",\"lastTransitionTime\":\"2026-12-06T03:00:00Z\"}]}}");
	ck_assert_int_eq(APPROVE(o, "Failover", "2026-12-06T03:00:41Z"), KGDB_EXIT_REFUSED);
	json_decref(o);
}
END_TEST

START_TEST(test_history_is_oldest_first_and_only_this_object)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *obj =
		load("{\"metadata\":{\"name\":\"orders\",\"namespace\":\"shop\",\"uid\":\"u1\"}}");
	/* Listed in name order, as the apiserver does; two share a millisecond. */
	json_t *evs = load(
		"[{\"metadata\":{\"resourceVersion\":\"30\"},\"eventTime\":\"2026-12-06T03:00:02."
		"000000Z\","
		"\"type\":\"Normal\",\"reason\":\"SwitchoverCompleted\",\"note\":\"done\","
		"\"regarding\":{\"kind\":\"GlobalDatabase\",\"name\":\"orders\",\"uid\":\"u1\"}},"
		"{\"metadata\":{\"resourceVersion\":\"12\"},\"eventTime\":\"2026-12-06T03:00:01."
		"000000Z\","
		"\"type\":\"Normal\",\"reason\":\"SwitchoverStarted\",\"note\":\"to us-west-2\","
		"\"regarding\":{\"kind\":\"GlobalDatabase\",\"name\":\"orders\",\"uid\":\"u1\"}},"
		"{\"metadata\":{\"resourceVersion\":\"11\"},\"eventTime\":\"2026-12-06T03:00:01."
		"000000Z\","
		"\"type\":\"Warning\",\"reason\":\"Retrying\",\"note\":\"again\\u001b[2J\\nx\","
		"\"series\":{\"count\":4,\"lastObservedTime\":\"2026-12-06T03:00:09.000000Z\"},"
		"\"regarding\":{\"kind\":\"GlobalDatabase\",\"name\":\"orders\",\"uid\":\"u1\"}},"
		"{\"metadata\":{\"resourceVersion\":\"5\"},\"eventTime\":\"2026-12-06T02:00:00."
		"000000Z\","
		"\"type\":\"Normal\",\"reason\":\"Adopted\",\"note\":\"an older object of this "
		"name\","
		"\"regarding\":{\"kind\":\"GlobalDatabase\",\"name\":\"orders\",\"uid\":\"u0\"}},"
		"{\"metadata\":{\"resourceVersion\":\"6\"},\"eventTime\":\"2026-12-06T02:00:00."
		"000000Z\","
		"\"type\":\"Normal\",\"reason\":\"ScalingReplicaSet\",\"note\":\"x\","
		"\"regarding\":{\"kind\":\"Deployment\",\"name\":\"orders\"}}]");
	const char *a, *b1, *c;

	kgdb_format_history(&b, obj, evs, t("2026-12-06T03:01:00Z"));
	a = strstr(b.data, "Retrying");
	b1 = strstr(b.data, "SwitchoverStarted");
	c = strstr(b.data, "SwitchoverCompleted");
	ck_assert_msg(a && b1 && c && a < b1 && b1 < c, "order:\n%s", b.data);
	/* An escape sequence or a newline in a note cannot reach the terminal. */
	ck_assert_ptr_nonnull(strstr(b.data, "again?[2J?x (x4, last 2026-12-06T03:00:09.000000Z)"));
	ck_assert_ptr_null(strstr(b.data, "Adopted"));
	ck_assert_ptr_null(strstr(b.data, "ScalingReplicaSet"));
	ck_assert_ptr_nonnull(strstr(b.data, "Last operation: none"));
	base_buf_release(&b);
	json_decref(obj);
	json_decref(evs);
}
END_TEST

START_TEST(test_status_that_cannot_be_decoded_is_an_error_not_a_crash)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *o = load("{\"metadata\":{\"name\":\"orders\"},\"status\":{\"regions\":\"x\"}}");

	ck_assert_int_lt(kgdb_format_status(&b, o, 0), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "error: the status of orders cannot be read"));
	base_buf_release(&b);
	json_decref(o);
}
END_TEST

START_TEST(test_new_object_without_status_prints_what_is_missing)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *o = load("{\"metadata\":{\"name\":\"orders\",\"namespace\":\"shop\"},"
			 "\"spec\":{\"primaryRegion\":\"us-east-1\"}}");

	ck_assert_int_eq(kgdb_format_status(&b, o, 0), 0);
	ck_assert_ptr_nonnull(strstr(b.data, "writer:          - (desired us-east-1)"));
	ck_assert_ptr_nonnull(strstr(b.data, "none yet: the controller has not written a status"));
	ck_assert_ptr_nonnull(strstr(b.data, "Operation in flight: none"));
	base_buf_release(&b);
	json_decref(o);
}
END_TEST

/*
 * The text of a captured object's status page at `after` seconds past the
 * time at key of status.operation (or of the Ready condition when there is
 * no operation), so the expectations hold for any fresh capture.
 */
static char *status_of(const char *name, const char *key, int64_t after)
{
	struct base_buf b = BASE_BUF_INIT(0);
	json_t *o = fixture(name), *st = json_object_get(o, "status");
	const char *at = json_string_value(json_object_get(json_object_get(st, "operation"), key));

	if (!at) {
		json_t *c;
		size_t i;

		json_array_foreach(
			json_object_get(st, "conditions"), i,
			c) if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0)
			at = json_string_value(json_object_get(c, "lastTransitionTime"));
	}
	ck_assert_ptr_nonnull(at);
	ck_assert_int_eq(kgdb_format_status(&b, o, t(at) + after * 1000), 0);
	json_decref(o);
	return base_buf_detach(&b, NULL);
}

static void has(const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want) != NULL, "missing \"%s\" in:\n%s", want, text);
}

/* The line of the status page that starts with prefix (caller frees). */
static char *line_of(const char *text, const char *prefix)
{
	char want[128];
	const char *p, *e;

	snprintf(want, sizeof(want), "\n%s", prefix);
	p = strstr(text, want);
	ck_assert_msg(p != NULL, "no line \"%s\" in:\n%s", prefix, text);
	p++;
	e = strchr(p, '\n');
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

START_TEST(test_status_of_a_switchover_in_flight)
{
	char *s = status_of("switching-over", "stepStartedTime", 5), *l;

	has(s, "writer:          us-east-1 (desired us-west-2)");
	has(s, "Operation in flight: #1 Switchover us-east-1 -> us-west-2\n");
	has(s, "  step:      Switchover for 5s, attempt 1, last call Switchover ");
	l = line_of(s, "  started:   ");
	ck_assert_msg(strstr(l, "s ago)") != NULL, "%s", l);
	free(l);
	has(s, "Last operation: none");
	free(s);
}
END_TEST

START_TEST(test_status_of_a_failover_awaiting_approval)
{
	char *s = status_of("degraded", "stepStartedTime", 30), *l;

	has(s, "Operation in flight: #3 Failover us-east-1 -> us-west-2\n");
	has(s, "  step:      AwaitingApproval for 30s\n");
	has(s, "  approve:   kubectl globaldb approve-failover orders\n");
	l = line_of(s, "  us-east-1 ");
	ck_assert_msg(strstr(l, "Primary") && strstr(l, "FAILING ("), "%s", l);
	free(l);
	/* Lag against the budget: the candidate's lag, out of 30 s. */
	l = line_of(s, "  us-west-2 ");
	ck_assert_msg(strstr(l, "Secondary") && strstr(l, "s/30s"), "%s", l);
	free(l);
	has(s, "Degraded         True     AwaitingFailoverApproval");
	/* The last operation was the switchover back, with its steps. */
	has(s, "Last operation: #2 Switchover us-west-2 -> us-east-1: Succeeded");
	has(s, "  steps:     Switchover ");
	free(s);
}
END_TEST

START_TEST(test_status_of_an_approved_failover)
{
	char *s = status_of("failing-over", "stepStartedTime", 2);

	has(s, "Operation in flight: #3 Failover us-east-1 -> us-west-2 (DetachAndPromote)\n");
	has(s, "  step:      Detach for 2s, attempt 1, last call DetachAndPromote ");
	has(s, "  data-loss window: at most ");
	ck_assert_ptr_null(strstr(s, "approve:"));
	free(s);
}
END_TEST

START_TEST(test_status_of_a_paused_object_says_so_first)
{
	char *s = status_of("paused", "stepStartedTime", 1);

	has(s, "  PAUSED:          no AWS calls; resume with `kubectl globaldb resume orders`\n");
	has(s, "Progressing      False    Paused");
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kubectl-globaldb format");
	TCase *tc = tcase_create("format");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_durations_read_like_kubectl_ages);
	tcase_add_test(tc, test_gitops_owner_of_primary_region_is_named);
	tcase_add_test(tc, test_approval_is_now_and_only_for_what_awaits_it);
	tcase_add_test(tc, test_approval_of_a_detach_the_guard_holds);
	tcase_add_test(tc, test_history_is_oldest_first_and_only_this_object);
	tcase_add_test(tc, test_status_that_cannot_be_decoded_is_an_error_not_a_crash);
	tcase_add_test(tc, test_new_object_without_status_prints_what_is_missing);
	tcase_add_test(tc, test_status_of_a_switchover_in_flight);
	tcase_add_test(tc, test_status_of_a_failover_awaiting_approval);
	tcase_add_test(tc, test_status_of_an_approved_failover);
	tcase_add_test(tc, test_status_of_a_paused_object_says_so_first);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
