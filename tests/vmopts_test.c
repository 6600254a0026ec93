/* Unit tests of the VM flags (boot/vmopts.c): each program's subset, the
 * errors, and the argv `parapet run` builds for parapet-boot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "boot/vmopts.h"

#define ALL ((1u << VMOPT_COUNT) - 1)

static int parse(unsigned accept, unsigned flags, struct vmopts *o, int *next,
		 const char **words)
{
	static char buf[16][64];
	char *argv[17];
	int argc = 0;

	for (; words[argc] != NULL; argc++) {
		snprintf(buf[argc], sizeof(buf[argc]), "%s", words[argc]);
		argv[argc] = buf[argc];
	}
	argv[argc] = NULL;
	return vmopts_parse(argc, argv, accept, flags, o, next);
}

static void test_values_and_operands(void **state)
{
	const char *w[] = { "prog",	     "--cpus", "2",   "img.igvm",
			    "--no-coalesce", "--mem",  "64M", NULL };
	struct vmopts o;
	int next;

	(void)state;
	assert_int_equal(parse(ALL, 0, &o, &next, w), VMOPTS_OK);
	assert_string_equal(o.cpus, "2");
	assert_string_equal(o.mem, "64M");
	assert_true(o.no_coalesce);
	assert_false(o.standalone);
	assert_null(o.accel);
	assert_int_equal(next, 6); /* getopt moved the operand last */
}

static void test_errors(void **state)
{
	const char *unknown[] = { "prog", "--bogus", "x", NULL };
	const char *no_value[] = { "prog", "x", "--cpus", NULL };
	const char *not_accepted[] = { "prog", "--timeout", "5", NULL };
	const char *help[] = { "prog", "-h", NULL };
	unsigned some = VMOPT(VMOPT_CPUS) | VMOPT(VMOPT_HELP);
	struct vmopts o;
	int next;

	(void)state;
	assert_int_equal(parse(some, VMOPTS_QUIET, &o, &next, unknown),
			 VMOPTS_UNKNOWN);
	assert_int_equal(next, 2);
	assert_int_equal(parse(some, VMOPTS_QUIET, &o, &next, no_value),
			 VMOPTS_NO_VALUE);
	assert_int_equal(next, 3);
	/* without VMOPTS_QUIET getopt prints, and the kinds stay apart */
	assert_int_equal(parse(some, 0, &o, &next, no_value), VMOPTS_NO_VALUE);
	assert_int_equal(parse(some, 0, &o, &next, not_accepted),
			 VMOPTS_UNKNOWN);
	assert_int_equal(parse(some, VMOPTS_QUIET, &o, &next, help),
			 VMOPTS_HELP);
	assert_int_equal(
	    parse(VMOPT(VMOPT_CPUS), VMOPTS_QUIET, &o, &next, help),
	    VMOPTS_UNKNOWN);
}

/* What vmopts_to_argv writes parses back to the same values. */
static void test_to_argv_round_trip(void **state)
{
	struct vmopts in = { .run_dir = "/run/x",
			     .name = "vm1",
			     .accel = "emu",
			     .reftime_run_start = "42",
			     .timeout = "5",
			     .standalone = true },
		      out;
	char *argv[VMOPTS_ARGV_MAX + 2] = { (char *)(uintptr_t) "prog" };
	int n = 1, next;

	(void)state;
	vmopts_to_argv(&in, ALL & ~VMOPT(VMOPT_TIMEOUT), argv, &n);
	assert_int_equal(n, 1 + 2 * 4 + 1);
	assert_string_equal(argv[1], "--run-dir");
	assert_string_equal(argv[2], "/run/x");
	argv[n] = NULL;
	assert_int_equal(vmopts_parse(n, argv, ALL, 0, &out, &next), VMOPTS_OK);
	assert_int_equal(next, n);
	assert_string_equal(out.run_dir, "/run/x");
	assert_string_equal(out.name, "vm1");
	assert_string_equal(out.accel, "emu");
	assert_string_equal(out.reftime_run_start, "42");
	assert_true(out.standalone);
	assert_null(out.timeout);
	assert_null(out.cpus);
}

/* --disk repeats: values kept in order up to VMOPTS_DISK_MAX, the rest
 * only counted; vmopts_to_argv writes the kept ones back. */
static void test_disk_repeats(void **state)
{
	char *argv[32] = { (char *)(uintptr_t) "prog" };
	char *back[VMOPTS_ARGV_MAX + 2] = { (char *)(uintptr_t) "prog" };
	char names[10][16];
	struct vmopts o, again;
	int argc = 1, n = 1, next;

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "d%d", i);
		argv[argc++] = (char *)(uintptr_t) "--disk";
		argv[argc++] = names[i];
	}
	argv[argc] = NULL;
	assert_int_equal(
	    vmopts_parse(argc, argv, VMOPT(VMOPT_DISK), 0, &o, &next),
	    VMOPTS_OK);
	assert_int_equal(o.n_disks, 10);
	assert_string_equal(o.disks[0], "d0");
	assert_string_equal(o.disks[VMOPTS_DISK_MAX - 1], "d7");
	vmopts_to_argv(&o, VMOPT(VMOPT_DISK), back, &n);
	assert_int_equal(n, 1 + 2 * VMOPTS_DISK_MAX);
	back[n] = NULL;
	assert_int_equal(
	    vmopts_parse(n, back, VMOPT(VMOPT_DISK), 0, &again, &next),
	    VMOPTS_OK);
	assert_int_equal(again.n_disks, VMOPTS_DISK_MAX);
	assert_string_equal(again.disks[3], "d3");
	/* not accepted: an unknown option like any other */
	assert_int_equal(vmopts_parse(argc, argv, VMOPT(VMOPT_CPUS),
				      VMOPTS_QUIET, &o, &next),
			 VMOPTS_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_operands),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_to_argv_round_trip),
		cmocka_unit_test(test_disk_repeats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
