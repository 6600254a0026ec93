/* parapet-policy's lifecycle table: the allowed transitions, refusals,
 * and the mapping of vmworker states and command names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "services/policy/state.h"

static void test_lifecycle(void **state)
{
	(void)state;
	assert_int_equal(pstate_next(PS_STARTING, PE_STARTED), PS_RUNNING);
	assert_int_equal(pstate_next(PS_RUNNING, PE_PAUSE), PS_PAUSED);
	assert_int_equal(pstate_next(PS_PAUSED, PE_RESUME), PS_RUNNING);
	assert_int_equal(pstate_next(PS_RUNNING, PE_SAVE), PS_SAVING);
	assert_int_equal(pstate_next(PS_SAVING, PE_SAVED), PS_RESTORING);
	assert_int_equal(pstate_next(PS_RESTORING, PE_RESTORED), PS_RUNNING);
	assert_int_equal(pstate_next(PS_RUNNING, PE_CRASH), PS_CRASHED);
	assert_int_equal(pstate_next(PS_CRASHED, PE_RESET), PS_STARTING);
	assert_int_equal(pstate_next(PS_PAUSED, PE_POWEROFF), PS_STOPPED);
}

static void test_refusals(void **state)
{
	(void)state;
	assert_int_equal(pstate_next(PS_PAUSED, PE_PAUSE), PS_INVALID);
	assert_int_equal(pstate_next(PS_RUNNING, PE_RESUME), PS_INVALID);
	assert_int_equal(pstate_next(PS_STARTING, PE_PAUSE), PS_INVALID);
	assert_int_equal(pstate_next(PS_SAVING, PE_SAVE), PS_INVALID);
	for (int e = 0; e < PE_COUNT; e++)
		assert_int_equal(pstate_next(PS_STOPPED, (enum pevent)e),
				 PS_INVALID);
	assert_int_equal(pstate_next(PS_COUNT, PE_PAUSE), PS_INVALID);
	assert_int_equal(pstate_next(PS_RUNNING, PE_COUNT), PS_INVALID);
}

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(pstate_from_vm("created"), PS_STARTING);
	assert_int_equal(pstate_from_vm("poweroff"), PS_STOPPED);
	assert_int_equal(pstate_from_vm("crashed"), PS_CRASHED);
	assert_int_equal(pstate_from_vm("bogus"), PS_INVALID);
	assert_int_equal(pstate_from_vm(NULL), PS_INVALID);
	assert_int_equal(pevent_from_command("pause"), PE_PAUSE);
	assert_int_equal(pevent_from_command("service"), PE_SAVE);
	assert_int_equal(pevent_from_command("status"), PE_COUNT);
	assert_int_equal(pevent_from_command("reboot"), -1);
	assert_string_equal(pstate_name(PS_RESTORING), "restoring");
	assert_string_equal(pevent_name(PE_RESTORED), "restored");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
