/*
 * Unit tests for pkg/globaldb/cabundle.h: the CA bundle as an in-memory file
 * that libpq opens by path. The path reads back the bundle, a new bundle gets
 * a new path while the previous one stays readable, and text that is no PEM
 * bundle is refused.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/err.h"
#include "pkg/globaldb/cabundle.h"

static const char pem_a[] = "-----BEGIN CERTIFICATE-----\nMIIBaaaa\n-----END CERTIFICATE-----\n";
static const char pem_b[] = "-----BEGIN CERTIFICATE-----\nMIIBbbbb\n-----END CERTIFICATE-----\n";

/* What a fresh open of path reads, as libpq's OpenSSL does for every connection. */
static void assert_reads(const char *path, const char *want)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, want);
}

START_TEST(a_bundle_is_read_back_through_its_path)
{
	struct gdb_ca_file f = GDB_CA_FILE_INIT;
	char first[40];

	ck_assert_int_eq(gdb_ca_file_set(&f, pem_a, strlen(pem_a)), 0);
	ck_assert(!strncmp(f.path, "/proc/self/fd/", 14));
	assert_reads(f.path, pem_a);
	assert_reads(f.path, pem_a); /* every open starts at the beginning */

	/* The same bundle again: the same file, so the probes keep their connections. */
	snprintf(first, sizeof(first), "%s", f.path);
	ck_assert_int_eq(gdb_ca_file_set(&f, pem_a, strlen(pem_a)), 0);
	ck_assert_str_eq(f.path, first);

	/* A new bundle: a new path; the previous one stays readable for connections under way. */
	ck_assert_int_eq(gdb_ca_file_set(&f, pem_b, strlen(pem_b)), 0);
	ck_assert_str_ne(f.path, first);
	assert_reads(f.path, pem_b);
	assert_reads(first, pem_a);

	gdb_ca_file_release(&f);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_str_eq(f.path, "");
	ck_assert_int_ne(access(first, R_OK), 0);
}
END_TEST

START_TEST(text_that_is_no_pem_bundle_is_refused_and_the_old_one_kept)
{
	struct gdb_ca_file f = GDB_CA_FILE_INIT;
	static char big[(1 << 20) + 64];
	char kept[40];

	ck_assert_int_eq(gdb_ca_file_set(&f, "hello", 5), BASE_EINVAL);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_int_eq(gdb_ca_file_set(&f, pem_a, strlen(pem_a)), 0);
	snprintf(kept, sizeof(kept), "%s", f.path);
	memset(big, 'A', sizeof(big));
	memcpy(big, pem_a, strlen(pem_a));
	ck_assert_int_eq(gdb_ca_file_set(&f, big, sizeof(big)), BASE_EINVAL);
	ck_assert_str_eq(f.path, kept);
	assert_reads(f.path, pem_a);
	gdb_ca_file_release(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cabundle");
	TCase *tc = tcase_create("cabundle");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, a_bundle_is_read_back_through_its_path);
	tcase_add_test(tc, text_that_is_no_pem_bundle_is_refused_and_the_old_one_kept);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
