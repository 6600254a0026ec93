/* Unit tests of lib/util.c: whole-file reads (limits and errors), the
 * deadline arithmetic and util_zero. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/util.h"

static char dir[] = "/tmp/util_test.XXXXXX";

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void test_read_file(void **state)
{
	char path[64];
	uint8_t *buf;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/f", dir);
	write_file(path, "hello");
	assert_int_equal(util_read_file(path, 5, &buf, &len), UTIL_READ_OK);
	assert_int_equal(len, 5);
	assert_string_equal((char *)buf, "hello"); /* NUL after the data */
	free(buf);
	assert_int_equal(util_read_file(path, 4, &buf, &len),
			 UTIL_READ_TOO_LARGE);
	assert_null(buf);
	assert_string_equal(util_read_strerror(UTIL_READ_TOO_LARGE),
			    "too large");
	write_file(path, "");
	assert_int_equal(util_read_file(path, 4, &buf, &len), UTIL_READ_OK);
	assert_int_equal(len, 0);
	free(buf);
}

static void test_read_file_errors(void **state)
{
	char path[64];
	uint8_t *buf;
	size_t len;
	int rc;

	(void)state;
	snprintf(path, sizeof(path), "%s/none", dir);
	rc = util_read_file(path, 100, &buf, &len);
	assert_int_equal(rc, UTIL_READ_OPEN);
	assert_string_equal(util_read_strerror(rc), strerror(ENOENT));
	assert_int_equal(util_read_file(dir, 100, &buf, &len),
			 UTIL_READ_NOT_REGULAR);
	assert_string_equal(util_read_strerror(UTIL_READ_NOT_REGULAR),
			    "not a regular file");
	/* a file whose size stat does not tell: read to its end */
	rc = util_read_file("/proc/self/status", 1 << 20, &buf, &len);
	assert_int_equal(rc, UTIL_READ_OK);
	assert_true(len > 0 && strncmp((char *)buf, "Name:", 5) == 0);
	free(buf);
	assert_int_equal(util_read_file("/proc/self/status", 10, &buf, &len),
			 UTIL_READ_TOO_LARGE);
}

static void assert_file(const char *path, const char *text)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(util_read_file(path, 100, &buf, &len), UTIL_READ_OK);
	assert_string_equal((char *)buf, text);
	free(buf);
}

/* A first write is a rename; a rewrite exchanges and leaves no tmp. */
static void test_replace_file(void **state)
{
	char path[64], tmp[72];

	(void)state;
	snprintf(path, sizeof(path), "%s/status.json", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	write_file(tmp, "one");
	assert_int_equal(util_replace_file(tmp, path), 0);
	assert_file(path, "one");
	assert_int_equal(access(tmp, F_OK), -1);
	for (int i = 0; i < 3; i++) {
		write_file(tmp, i == 2 ? "three" : "two");
		assert_int_equal(util_replace_file(tmp, path), 0);
		assert_file(path, i == 2 ? "three" : "two");
		assert_int_equal(access(tmp, F_OK), -1);
		assert_int_equal(errno, ENOENT);
	}
	/* nothing at tmp: an error, and path is kept */
	assert_int_equal(util_replace_file(tmp, path), -1);
	assert_int_equal(errno, ENOENT);
	assert_file(path, "three");
	assert_int_equal(unlink(path), 0);
}

static void test_deadlines(void **state)
{
	uint64_t now = util_now_ns(), d = util_deadline_ns(1000);
	struct timespec a, b;

	(void)state;
	assert_true(d >= now + 1000 * UTIL_NS_PER_MS);
	assert_true(d < util_now_ns() + 1001 * UTIL_NS_PER_MS);
	assert_int_equal(util_ms_until(now), 0);
	assert_int_equal(util_ms_until(0), 0);
	assert_in_range(util_ms_until(d), 900, 1001);
	assert_int_equal(util_ms_until(UINT64_MAX), INT_MAX);
	clock_gettime(CLOCK_MONOTONIC, &a);
	b = util_abstime_ns(CLOCK_MONOTONIC, 2500 * UTIL_NS_PER_MS);
	assert_true(b.tv_nsec >= 0 && b.tv_nsec < 1000000000L);
	assert_in_range((uint64_t)(b.tv_sec - a.tv_sec) * UTIL_NS_PER_S +
			    (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec,
			2500 * UTIL_NS_PER_MS, 2600 * UTIL_NS_PER_MS);
}

/* Rss (kB) of the mapping that starts at addr, from /proc/self/smaps
 * (the shared zero page is not counted); -1 if not found. */
static long mapping_rss_kb(const void *addr)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi;
	long kb = -1;
	int in = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo == (unsigned long)(uintptr_t)addr;
		else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	}
	if (f != NULL)
		fclose(f);
	return kb;
}

static void test_zero(void **state)
{
	const size_t page = 4096, n = 16 * page;
	char *m = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(m != MAP_FAILED);
	madvise(m, n, MADV_NOHUGEPAGE); /* 4 KiB pages, counted one by one */
	m[0] = 1;			/* before the range: kept */
	m[5 * page + 7] = 2;		/* whole page inside: zeroed */
	m[9 * page - 1] = 3;		/* last byte of the range */
	m[n - 1] = 4;			/* after the range: kept */
	assert_int_equal(mapping_rss_kb(m), 16);
	util_zero(m + 10, 9 * page - 10);
	assert_int_equal(m[0], 1);
	assert_int_equal(m[n - 1], 4);
	for (size_t i = 10; i < 9 * page; i++)
		if (m[i] != 0)
			fail_msg("byte %zu not zero", i);
	/* The pages never written are still not resident: only the four
	 * written (and rewritten) ones are. */
	assert_int_equal(mapping_rss_kb(m), 16);
	munmap(m, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_file_errors),
		cmocka_unit_test(test_replace_file),
		cmocka_unit_test(test_deadlines),
		cmocka_unit_test(test_zero),
	};
	char path[64];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(path, sizeof(path), "%s/f", dir);
	unlink(path);
	rmdir(dir);
	return rc;
}
