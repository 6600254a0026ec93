/* lib/registry: the one list of services, and the lists that read it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/caller.h"
#include "lib/manifest.h"
#include "lib/pcapng.h"
#include "lib/registry.h"
#include "sandbox/sandbox.h"

/* Every supervised service has a binary, a profile of its own, a caller
 * bit, a port, an interface; names and ports are unique. */
static void test_rows_are_consistent(void **state)
{
	uint32_t profiles = 0;
	unsigned services = 0;

	(void)state;
	assert_true(registry_count <= REGISTRY_MAX);
	for (size_t i = 0; i < registry_count; i++) {
		const struct registry_entry *e = &registry[i];

		assert_ptr_equal(registry_find(e->name), e);
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(registry[j].trace_port,
					     e->trace_port);
		if (e->binary == NULL) {
			assert_int_equal(e->profile, -1);
			assert_int_equal(registry_uid(e), 0);
			continue;
		}
		/* the services of the default manifest are the callers */
		if (!(e->flags & REGISTRY_F_ON_DEMAND))
			services++;
		assert_non_null(e->desc);
		assert_true(e->profile >= 0 && e->profile < 32);
		assert_false(profiles & 1u << e->profile);
		profiles |= 1u << e->profile;
		assert_ptr_equal(registry_by_profile(e->profile), e);
		assert_int_equal(registry_uid(e),
				 SANDBOX_UID_BASE + (unsigned)e->profile);
	}
	assert_int_equal(services, CALLER_SERVICES);
	assert_null(registry_find("nosuch"));
	assert_null(registry_find(NULL));
	assert_null(registry_by_profile(SANDBOX_PROFILE_SIDECAR));
}

/* The former lists: sandbox profile names, caller names, trace ports. */
static void test_readers(void **state)
{
	enum sandbox_profile p;

	(void)state;
	assert_string_equal(sandbox_profile_name(SANDBOX_PROFILE_VMWORKER),
			    SVC_NAME_VMWORKER);
	assert_string_equal(sandbox_profile_name(SANDBOX_PROFILE_SIDECAR),
			    "sidecar");
	assert_int_equal(sandbox_profile_parse(SVC_NAME_DIAGD, &p), 0);
	assert_int_equal(p, SANDBOX_PROFILE_DIAGD);
	assert_int_equal(sandbox_profile_parse("test", &p), 0);
	assert_int_equal(p, SANDBOX_PROFILE_TEST);
	assert_int_equal(sandbox_profile_parse(SVC_NAME_INIT, &p), -1);
	assert_string_equal(caller_name(CALLER_HOSTCOMM), SVC_NAME_HOSTCOMM);
	assert_string_equal(caller_name(CALLER_POLICY | CALLER_DIAGD),
			    "unknown");
	/* the ports captures have always used (tshark profiles name them) */
	assert_int_equal(pcapng_service_port(SVC_NAME_INIT), 30000);
	assert_int_equal(pcapng_service_port(SVC_NAME_POLICY), 30001);
	assert_int_equal(pcapng_service_port(SVC_NAME_VMWORKER), 30003);
	assert_int_equal(pcapng_service_port(SVC_NAME_DIAG), 30006);
	/* vmworker starts first and gets the guest's memory */
	assert_string_equal(registry[0].name, SVC_NAME_VMWORKER);
	assert_true(registry[0].fds & 1u << MANIFEST_FD_GUEST_RAM);
	/* blkd starts only with disks to serve, under its own profile */
	assert_true(registry_find(SVC_NAME_BLKD)->flags & REGISTRY_F_ON_DEMAND);
	assert_string_equal(sandbox_profile_name(SANDBOX_PROFILE_BLKD),
			    SVC_NAME_BLKD);
	assert_int_equal(pcapng_service_port(SVC_NAME_BLKD), 30007);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_are_consistent),
		cmocka_unit_test(test_readers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
