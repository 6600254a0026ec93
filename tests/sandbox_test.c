/* Unit tests for sandbox/ (placeholder while being written). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sandbox/sandbox.h"

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(sandbox_profile_name(SANDBOX_PROFILE_TEST), "test");
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_names) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
