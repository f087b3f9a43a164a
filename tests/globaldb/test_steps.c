/*
 * The planner's step table (planner.h): its shape, and the drawing of it in
 * docs/planner-steps.md, which this test writes when GDB_UPDATE_DOCS=1 and
 * otherwise requires to match. Every transition the planner takes is checked
 * against the table at run time (set_step), so test_planner.c's rows also
 * prove the handlers stay on these edges.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/globaldb/planner.h"
#include "pkg/globaldb/types.h"

#define DOC "docs/planner-steps.md"
#define BEGIN_MARK "<!-- generated from the step table: begin -->\n"
#define END_MARK "<!-- generated from the step table: end -->\n"

static const char *const op_names[] = {"-", "Switchover", "Failover", "Fallback"};

static const char *node(int s)
{
	return s == GDB_STEP_NONE ? "[*]" : gdb_step_name((enum gdb_step)s);
}

/* Steps reachable from where operations start. */
static uint32_t reachable(void)
{
	uint32_t seen = GDB_STEP_BIT(GDB_STEP_NONE), grown;

	do {
		grown = seen;
		for (int s = 0; s < GDB_STEP__COUNT; s++)
			if (seen & GDB_STEP_BIT(s))
				grown |= gdb_step_def((enum gdb_step)s)->next;
		if (grown == seen)
			break;
		seen = grown;
	} while (1);
	return seen;
}

/* Whether an operation in step s can end. */
static int can_end(int s)
{
	uint32_t seen = GDB_STEP_BIT(s), grown;

	for (;;) {
		grown = seen;
		for (int t = 0; t < GDB_STEP__COUNT; t++)
			if (seen & GDB_STEP_BIT(t))
				grown |= gdb_step_def((enum gdb_step)t)->next;
		if (grown & GDB_STEP_BIT(GDB_STEP_NONE))
			return 1;
		if (grown == seen)
			return 0;
		seen = grown;
	}
}

START_TEST(test_every_step_is_reachable_and_can_end)
{
	uint32_t r = reachable();

	for (int s = 1; s < GDB_STEP__COUNT; s++) {
		const struct gdb_step_def *d = gdb_step_def((enum gdb_step)s);

		ck_assert_msg(r & GDB_STEP_BIT(s), "%s: no operation can reach it", node(s));
		ck_assert_msg(can_end(s), "%s: an operation there can never end", node(s));
		ck_assert_msg(d->op_types != 0, "%s serves no operation type", node(s));
		ck_assert_msg((d->preempt & ~d->op_types) == 0,
			      "%s: pre-emptible for a type it does not serve", node(s));
		/* Each edge leads to a step that serves one of this step's types. */
		for (int t = 1; t < GDB_STEP__COUNT; t++)
			if (d->next & GDB_STEP_BIT(t))
				ck_assert_msg(gdb_step_def((enum gdb_step)t)->op_types &
						      d->op_types,
					      "%s -> %s: no operation type serves both", node(s),
					      node(t));
	}
	ck_assert_ptr_null(gdb_step_def(GDB_STEP__COUNT));
}
END_TEST

START_TEST(test_no_step_after_a_call_that_cannot_be_taken_back_is_preemptible)
{
	/* A failover may cancel an operation only before its writer moves. */
	static const enum gdb_step never[] = {GDB_STEP_WAIT_SWITCHOVER,
					      GDB_STEP_FAILOVER_MANAGED,
					      GDB_STEP_WAIT_FAILOVER,
					      GDB_STEP_DETACH,
					      GDB_STEP_WAIT_PROMOTED,
					      GDB_STEP_FENCE_OLD_WRITER,
					      GDB_STEP_DELETE_OLD_GLOBAL_CLUSTER};

	for (size_t i = 0; i < ARRAY_SIZE(never); i++)
		ck_assert_msg(gdb_step_def(never[i])->preempt == 0, "%s is pre-emptible",
			      node((int)never[i]));
}
END_TEST

static void types(struct base_buf *b, unsigned mask)
{
	int first = 1;

	for (int t = 1; t <= GDB_OP_FALLBACK; t++)
		if (mask & GDB_OP_BIT(t)) {
			base_buf_addf(b, "%s%s", first ? "" : ", ", op_names[t]);
			first = 0;
		}
	if (first)
		base_buf_adds(b, "-");
}

/* The generated part of docs/planner-steps.md. */
static char *drawing(void)
{
	struct base_buf b;

	base_buf_init(&b, 1 << 20);
	base_buf_addf(&b, "%s```mermaid\nstateDiagram-v2\n", BEGIN_MARK);
	for (int s = 0; s < GDB_STEP__COUNT; s++)
		for (int t = 0; t < GDB_STEP__COUNT; t++)
			if (gdb_step_def((enum gdb_step)s)->next & GDB_STEP_BIT(t))
				base_buf_addf(&b, "    %s --> %s\n", node(s), node(t));
	base_buf_addf(&b, "```\n\n| step | serves | may go to | a failover may pre-empt |\n"
			  "| --- | --- | --- | --- |\n");
	for (int s = 1; s < GDB_STEP__COUNT; s++) {
		const struct gdb_step_def *d = gdb_step_def((enum gdb_step)s);
		int first = 1;

		base_buf_addf(&b, "| `%s` | ", node(s));
		types(&b, d->op_types);
		base_buf_addf(&b, " | ");
		for (int t = 0; t < GDB_STEP__COUNT; t++)
			if (d->next & GDB_STEP_BIT(t)) {
				base_buf_addf(&b, "%s%s", first ? "" : ", ",
					      t == GDB_STEP_NONE ? "(end)" : node(t));
				first = 0;
			}
		base_buf_addf(&b, " | ");
		types(&b, d->preempt);
		base_buf_addf(&b, " |\n");
	}
	base_buf_adds(&b, END_MARK);
	return base_buf_detach(&b, NULL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct base_buf b;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	base_buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		base_buf_add(&b, chunk, n);
	fclose(f);
	return base_buf_detach(&b, NULL);
}

START_TEST(test_the_drawing_in_the_docs_matches_the_table)
{
	const char *src = getenv("GDB_SOURCE_DIR");
	char *path, *doc, *want = drawing(), *begin, *end;

	ck_assert_msg(src && *src, "GDB_SOURCE_DIR is not set");
	path = xasprintf("%s/%s", src, DOC);
	doc = slurp(path);
	ck_assert_msg(doc != NULL, "cannot read %s", path);
	begin = strstr(doc, BEGIN_MARK);
	end = begin ? strstr(begin, END_MARK) : NULL;
	ck_assert_msg(begin && end, "%s: no generated section", DOC);
	end += strlen(END_MARK);
	if (getenv("GDB_UPDATE_DOCS")) {
		FILE *f = fopen(path, "wb");

		ck_assert_ptr_nonnull(f);
		fwrite(doc, 1, (size_t)(begin - doc), f);
		fputs(want, f);
		fputs(end, f);
		fclose(f);
	} else {
		ck_assert_msg(strlen(want) == (size_t)(end - begin) &&
				      memcmp(begin, want, strlen(want)) == 0,
			      "%s is out of date with the step table: run "
			      "GDB_UPDATE_DOCS=1 GDB_SOURCE_DIR=$PWD build/tests/globaldb/"
			      "globaldb_steps_unit, and commit the result",
			      DOC);
	}
	free(path);
	free(doc);
	free(want);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("steps");
	TCase *tc = tcase_create("table");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_every_step_is_reachable_and_can_end);
	tcase_add_test(tc, test_no_step_after_a_call_that_cannot_be_taken_back_is_preemptible);
	tcase_add_test(tc, test_the_drawing_in_the_docs_matches_the_table);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
