/* init's --version probe (init/verprobe.c): the saved-state versions a
 * binary reads, by path or by descriptor, and 1..1 for a binary that
 * says nothing of them or cannot run. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "init/init.h"
#include "lib/log.h"

#ifndef TEST_BUILD_DIR
#define TEST_BUILD_DIR "build"
#endif

static void probe_fd(const char *path, struct version_range *r)
{
	int fd = open(path, O_PATH | O_CLOEXEC);

	assert_true(fd >= 0);
	r->min = r->max = 0;
	verprobe_read(fd, path, r);
	close(fd);
}

static void test_this_build(void **state)
{
	struct version_range r;

	(void)state;
	probe_fd(TEST_BUILD_DIR "/bin/parapet-vmworker", &r);
	assert_int_equal(r.min, SAVESTATE_READ_MIN);
	assert_int_equal(r.max, SAVESTATE_READ_MAX);
	verprobe_read(-1, TEST_BUILD_DIR "/bin/parapet-vmworker", &r);
	assert_int_equal(r.max, SAVESTATE_READ_MAX);
}

static void test_newer(void **state)
{
	struct version_range r;

	(void)state;
	probe_fd(TEST_BUILD_DIR "/tests/parapet-fake-newer", &r);
	assert_int_equal(r.min, 3);
	assert_int_equal(r.max, 3);
}

/* Says nothing of saved states (/bin/true), is no program, or is
 * missing: version 1 only. */
static void test_silent(void **state)
{
	struct version_range r;

	(void)state;
	probe_fd("/bin/true", &r);
	assert_int_equal(r.min, 1);
	assert_int_equal(r.max, 1);
	probe_fd("/etc/hostname", &r);
	assert_int_equal(r.max, 1);
	verprobe_read(-1, "/nonexistent/parapet-vmworker", &r);
	assert_int_equal(r.min, 1);
	assert_int_equal(r.max, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_this_build),
		cmocka_unit_test(test_newer),
		cmocka_unit_test(test_silent),
	};

	log_init("verprobe_test");
	log_set_level(LOG_LEVEL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
