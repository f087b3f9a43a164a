/*
 * pkg/probe/scram: a server's SCRAM iteration count over the cap is refused before
 * libpq reads it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/err.h"
#include "pkg/probe/scram.h"
#include "tests/check_main.h"

/* An authentication message: R, length, code, body. */
static size_t auth_msg(unsigned char *out, unsigned code, const char *body)
{
	size_t n = strlen(body), len = 8 + n;

	out[0] = 'R';
	out[1] = (unsigned char)(len >> 24), out[2] = (unsigned char)(len >> 16);
	out[3] = (unsigned char)(len >> 8), out[4] = (unsigned char)len;
	out[5] = 0, out[6] = 0, out[7] = 0, out[8] = (unsigned char)code;
	memcpy(out + 9, body, n);
	return 1 + len;
}

START_TEST(scram_iteration_counts_over_the_cap_are_refused_before_libpq_reads_them)
{
	static const struct {
		const char *server_first;
		int want;
	} rows[] = {
		{"r=abcdef,s=c2FsdA==,i=4096", PROBE_SCRAM_OK},
		{"r=abcdef,s=c2FsdA==,i=100000", PROBE_SCRAM_OK},
		{"r=abcdef,s=c2FsdA==,i=100001", PROBE_SCRAM_REFUSE},
		{"r=abcdef,s=c2FsdA==,i=2147483647", PROBE_SCRAM_REFUSE},
		{"r=abcdef,s=c2FsdA==,i=99999999999999999999", PROBE_SCRAM_REFUSE},
		{"r=abi=999999999,s=c2FsdA==,i=10", PROBE_SCRAM_OK}, /* i= inside a value */
		{"r=abcdef,s=c2FsdA==", PROBE_SCRAM_OK},	     /* malformed: libpq refuses */
	};
	unsigned char buf[PROBE_SCRAM_PEEK + 16];
	size_t n;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = auth_msg(buf, 11, rows[i].server_first);
		ck_assert_int_eq(probe_scram_check(buf, n, PROBE_SCRAM_MAX_ITERATIONS),
				 rows[i].want);
		/* Cut anywhere: wait for the rest, never a decision on half a message. */
		for (size_t cut = 0; cut < n; cut++)
			ck_assert_int_eq(probe_scram_check(buf, cut, PROBE_SCRAM_MAX_ITERATIONS),
					 cut == 0 ? PROBE_SCRAM_OK : PROBE_SCRAM_WAIT);
	}
	/* Behind other whole messages (a notice first) it is still seen. */
	n = auth_msg(buf, 10, "SCRAM-SHA-256-PLUS");
	n += auth_msg(buf + n, 11, "r=abc,s=c2FsdA==,i=10000000");
	ck_assert_int_eq(probe_scram_check(buf, n, PROBE_SCRAM_MAX_ITERATIONS), PROBE_SCRAM_REFUSE);
	/* Framing that is no PostgreSQL message, or more than a server sends before it is done. */
	memcpy(buf, "R\xff\xff\xff\xff", 5);
	ck_assert_int_eq(probe_scram_check(buf, 5, PROBE_SCRAM_MAX_ITERATIONS), PROBE_SCRAM_REFUSE);
	memset(buf, 'N', PROBE_SCRAM_PEEK);
	ck_assert_int_eq(probe_scram_check(buf, PROBE_SCRAM_PEEK, PROBE_SCRAM_MAX_ITERATIONS),
			 PROBE_SCRAM_REFUSE);
}
END_TEST

GDB_CHECK_MAIN("probe_scram", 20,
	       scram_iteration_counts_over_the_cap_are_refused_before_libpq_reads_them)
