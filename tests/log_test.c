/* Unit tests for lib/log: prefix, levels from PARAPET_LOG, strerror,
 * the error: label. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log.h"

/* Runs fn with stderr redirected to a temp file and returns its text. */
static void capture_stderr(void (*fn)(void), char *out, size_t out_len)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, out_len - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
}

static void emit_all(void)
{
	log_debug("dbg %d", 1);
	log_info("info %d", 2);
	errno = ENOENT;
	log_warn("open %s", "x");
	log_warnx("plain");
	errno = EACCES;
	log_err("bind %s", "y");
	log_errx("gave up");
}

static void test_prefix_and_levels(void **state)
{
	char out[4096];

	(void)state;
	setenv("PARAPET_LOG", "info", 1);
	log_init("tester");
	capture_stderr(emit_all, out, sizeof(out));
	assert_null(strstr(out, "dbg 1"));
	assert_non_null(strstr(out, "tester: info 2\n"));
	assert_non_null(
	    strstr(out, "tester: warning: open x: No such file or directory"));
	assert_non_null(strstr(out, "tester: warning: plain\n"));
	assert_non_null(
	    strstr(out, "tester: error: bind y: Permission denied\n"));
	assert_non_null(strstr(out, "tester: error: gave up\n"));
}

static void test_debug_level(void **state)
{
	char out[4096];

	(void)state;
	setenv("PARAPET_LOG", "debug", 1);
	log_init("dbg");
	assert_int_equal(log_get_level(), LOG_LEVEL_DEBUG);
	capture_stderr(emit_all, out, sizeof(out));
	assert_non_null(strstr(out, "dbg: debug: dbg 1\n"));
}

static void test_warn_level_hides_info(void **state)
{
	char out[4096];

	(void)state;
	setenv("PARAPET_LOG", "warn", 1);
	log_init("quiet");
	capture_stderr(emit_all, out, sizeof(out));
	assert_null(strstr(out, "info 2"));
	assert_non_null(strstr(out, "quiet: warning: plain"));
	assert_non_null(strstr(out, "quiet: error: gave up"));
}

static void test_level_parse(void **state)
{
	enum log_level l = LOG_LEVEL_INFO;

	(void)state;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("warn", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("loud", &l), -1);
	assert_int_equal(log_level_parse(NULL, &l), -1);
	assert_int_equal(l, LOG_LEVEL_WARN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_and_levels),
		cmocka_unit_test(test_debug_level),
		cmocka_unit_test(test_warn_level_hides_info),
		cmocka_unit_test(test_level_parse),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
