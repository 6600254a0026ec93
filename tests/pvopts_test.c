/* Unit tests of the paravisor command line parser (boot/pvopts.c), the
 * cpulist parser (lib/cpulist.c) and the service manifest (lib/manifest.c:
 * text and device tree). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "boot/pvopts.h"
#include "lib/cpulist.h"
#include "lib/manifest.h"

static int parse(const char *s, struct pvopts *o, struct pvopts_error *e)
{
	pvopts_init(o);
	return pvopts_parse(s, strlen(s), o, e);
}

static void test_pvopts_defaults_and_values(void **state)
{
	struct pvopts o;
	struct pvopts_error e;

	(void)state;
	assert_int_equal(parse("", &o, &e), PVOPTS_OK);
	assert_int_equal(o.sidecar, PVOPTS_SIDECAR_ON);
	assert_int_equal(o.on_crash, PVOPTS_CRASH_POWEROFF);
	assert_false(o.log_set);
	assert_int_equal(
	    parse("  sidecar=off\ton-crash=reboot log=debug ", &o, &e),
	    PVOPTS_OK);
	assert_int_equal(o.sidecar, PVOPTS_SIDECAR_OFF);
	assert_int_equal(o.on_crash, PVOPTS_CRASH_REBOOT);
	assert_true(o.log_set);
	assert_int_equal(o.log, PVOPTS_LOG_DEBUG);
	/* later words override earlier ones (host part after measured) */
	assert_int_equal(parse("sidecar=off sidecar=log", &o, &e), PVOPTS_OK);
	assert_int_equal(o.sidecar, PVOPTS_SIDECAR_LOG);
}

static void test_pvopts_errors(void **state)
{
	struct pvopts o;
	struct pvopts_error e;
	char msg[256], big[PVOPTS_MAX_LEN + 10];

	(void)state;
	assert_int_equal(parse("log=info bogus=1", &o, &e), PVOPTS_ERR_UNKNOWN);
	assert_string_equal(e.word, "bogus=1");
	assert_int_equal(e.offset, 9);
	assert_int_equal(parse("sidecar=maybe", &o, &e), PVOPTS_ERR_VALUE);
	pvopts_error_format(&e, msg, sizeof(msg));
	assert_non_null(strstr(msg, "sidecar=maybe"));
	assert_non_null(strstr(msg, "off, on, log"));
	assert_int_equal(parse("sidecar", &o, &e), PVOPTS_ERR_NO_VALUE);
	assert_int_equal(parse("sidecar=", &o, &e), PVOPTS_ERR_NO_VALUE);
	assert_int_equal(parse("=on", &o, &e), PVOPTS_ERR_NO_VALUE);
	assert_int_equal(parse("sidecar=ON", &o, &e), PVOPTS_ERR_VALUE);
	assert_int_equal(parse("log=info\x01", &o, &e), PVOPTS_ERR_CHAR);
	assert_int_equal(parse("log=info\n", &o, &e), PVOPTS_ERR_CHAR);
	assert_int_equal(parse("log=\xc3\xa9", &o, &e), PVOPTS_ERR_CHAR);
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(parse(big, &o, &e), PVOPTS_ERR_TOO_LONG);
	/* a long bad word is truncated in the report */
	memset(big, 'a', 200);
	big[200] = '\0';
	assert_int_equal(parse(big, &o, &e), PVOPTS_ERR_NO_VALUE);
	assert_int_equal(strlen(e.word), PVOPTS_WORD_MAX - 1);
	/* explicit length: bytes after len are not read */
	pvopts_init(&o);
	assert_int_equal(pvopts_parse("log=debugXYZ", 9, &o, &e), PVOPTS_OK);
	assert_int_equal(o.log, PVOPTS_LOG_DEBUG);
}

static void test_cpulist(void **state)
{
	struct cpulist l;
	char out[64];

	(void)state;
	assert_int_equal(cpulist_parse("1-3", 8, &l), CPULIST_OK);
	assert_int_equal(cpulist_count(&l), 3);
	assert_false(cpulist_test(&l, 0));
	assert_true(cpulist_test(&l, 3));
	assert_int_equal(cpulist_parse("1,3,5-7\n", 8, &l), CPULIST_OK);
	cpulist_format(&l, out, sizeof(out));
	assert_string_equal(out, "1,3,5-7");
	assert_int_equal(cpulist_parse("0-8:4", 16, &l), CPULIST_OK);
	cpulist_format(&l, out, sizeof(out));
	assert_string_equal(out, "0,4,8");
	assert_int_equal(cpulist_parse("", 8, &l), CPULIST_ERR_EMPTY);
	assert_int_equal(cpulist_parse("1,,2", 8, &l), CPULIST_ERR_EMPTY);
	assert_int_equal(cpulist_parse("1,", 8, &l), CPULIST_ERR_EMPTY);
	assert_int_equal(cpulist_parse("a", 8, &l), CPULIST_ERR_SYNTAX);
	assert_int_equal(cpulist_parse("1-", 8, &l), CPULIST_ERR_SYNTAX);
	assert_int_equal(cpulist_parse("1 2", 8, &l), CPULIST_ERR_SYNTAX);
	assert_int_equal(cpulist_parse("-1", 8, &l), CPULIST_ERR_SYNTAX);
	assert_int_equal(cpulist_parse("1-3:0", 8, &l), CPULIST_ERR_SYNTAX);
	assert_int_equal(cpulist_parse("8", 8, &l), CPULIST_ERR_RANGE);
	assert_int_equal(cpulist_parse("99999999999999999999", 8, &l),
			 CPULIST_ERR_RANGE);
	assert_int_equal(cpulist_parse("3-1", 8, &l), CPULIST_ERR_ORDER);
	cpulist_clear(&l);
	cpulist_format(&l, out, sizeof(out));
	assert_string_equal(out, "");
	/* a short buffer gets a truncated, terminated string */
	assert_int_equal(cpulist_parse("0,2,4,6", 8, &l), CPULIST_OK);
	assert_int_equal(cpulist_format(&l, out, 4), 7);
	assert_string_equal(out, "0,2");
	/* as snprintf: no buffer at all only measures (found by fuzzing:
	 * it used to compute NULL + 0) */
	assert_int_equal(cpulist_format(&l, NULL, 0), 7);
}

static const char manifest_text[] =
    "# a comment\n"
    "\n"
    "policy parapet-policy fds=boot-dtb\n"
    "  vmworker\t/opt/x/parapet-vmworker fds=guest-ram,sidecar,boot-dtb "
    "stop-timeout=250\n"
    "test parapet-test-service -- --ready --exit 3\n";

static void test_manifest_text(void **state)
{
	static struct manifest m;
	unsigned line;

	(void)state;
	assert_int_equal(
	    manifest_parse(manifest_text, sizeof(manifest_text), &m, &line),
	    MANIFEST_OK);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.svc[0].name, "policy");
	assert_int_equal(m.svc[0].fds, 1u << MANIFEST_FD_BOOT_DTB);
	assert_int_equal(m.svc[0].stop_timeout_ms, MANIFEST_DEFAULT_STOP_MS);
	assert_string_equal(m.svc[1].binary, "/opt/x/parapet-vmworker");
	assert_int_equal(m.svc[1].fds, 7);
	assert_int_equal(m.svc[1].stop_timeout_ms, 250);
	assert_int_equal(m.svc[2].n_args, 3);
	assert_string_equal(m.svc[2].args[2], "3");
}

static void expect_bad(const char *text, int err, unsigned want_line)
{
	static struct manifest m;
	unsigned line;

	assert_int_equal(manifest_parse(text, strlen(text), &m, &line), err);
	assert_int_equal(line, want_line);
}

static void test_manifest_errors(void **state)
{
	static char big[MANIFEST_TEXT_MAX + 2];
	static struct manifest m;
	unsigned line;

	(void)state;
	expect_bad("", MANIFEST_ERR_EMPTY, 0);
	expect_bad("# only\n", MANIFEST_ERR_EMPTY, 0);
	expect_bad("Policy x\n", MANIFEST_ERR_NAME, 1);
	expect_bad("a x\nb/c x\n", MANIFEST_ERR_NAME, 2);
	expect_bad("a x\na y\n", MANIFEST_ERR_DUPLICATE, 2);
	expect_bad("a\n", MANIFEST_ERR_BINARY, 1);
	expect_bad("a dir/x\n", MANIFEST_ERR_BINARY, 1);
	expect_bad("a / \n", MANIFEST_ERR_BINARY, 1);
	expect_bad("a x fds=guest-ram,\n", MANIFEST_ERR_OPTION, 1);
	expect_bad("a x fds=disk\n", MANIFEST_ERR_OPTION, 1);
	expect_bad("a x stop-timeout=0\n", MANIFEST_ERR_OPTION, 1);
	expect_bad("a x stop-timeout=99999999999999999999\n",
		   MANIFEST_ERR_OPTION, 1);
	expect_bad("a x --ready\n", MANIFEST_ERR_OPTION, 1);
	expect_bad("a x\x7f\n", MANIFEST_ERR_CHAR, 1);
	expect_bad("a x -- 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n",
		   MANIFEST_ERR_ARGS, 1);
	expect_bad("a0 x\na1 x\na2 x\na3 x\na4 x\na5 x\na6 x\na7 x\na8 x\n"
		   "a9 x\nb0 x\nb1 x\nb2 x\nb3 x\nb4 x\nb5 x\nb6 x\n",
		   MANIFEST_ERR_TOO_MANY, 17);
	memset(big, '#', sizeof(big) - 1);
	assert_int_equal(manifest_parse(big, sizeof(big), &m, &line),
			 MANIFEST_ERR_TOO_LONG);
}

static void test_manifest_fdt(void **state)
{
	static struct manifest m, back;
	static uint8_t fdt[16384];
	unsigned line;
	int node;

	(void)state;
	assert_int_equal(
	    manifest_parse(manifest_text, sizeof(manifest_text), &m, &line),
	    MANIFEST_OK);
	assert_int_equal(fdt_create_empty_tree(fdt, sizeof(fdt)), 0);
	assert_int_equal(manifest_to_fdt(&m, fdt, 0), 0);
	node = fdt_path_offset(fdt, "/services");
	assert_true(node >= 0);
	assert_int_equal(manifest_from_fdt(fdt, node, &back), MANIFEST_OK);
	assert_memory_equal(&m, &back, sizeof(m));
	/* a hostile tree: name not terminated, unknown fd name */
	node = fdt_path_offset(fdt, "/services/service@0");
	assert_int_equal(fdt_setprop(fdt, node, "service", "abc", 3), 0);
	assert_int_equal(
	    manifest_from_fdt(fdt, fdt_path_offset(fdt, "/services"), &back),
	    MANIFEST_ERR_NAME);
	assert_int_equal(fdt_setprop_string(fdt, node, "service", "abc"), 0);
	assert_int_equal(fdt_setprop_string(fdt, node, "fds", "disk"), 0);
	assert_int_equal(
	    manifest_from_fdt(fdt, fdt_path_offset(fdt, "/services"), &back),
	    MANIFEST_ERR_OPTION);
	assert_int_equal(manifest_from_fdt(fdt, -1, &back), MANIFEST_ERR_FDT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvopts_defaults_and_values),
		cmocka_unit_test(test_pvopts_errors),
		cmocka_unit_test(test_cpulist),
		cmocka_unit_test(test_manifest_text),
		cmocka_unit_test(test_manifest_errors),
		cmocka_unit_test(test_manifest_fdt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
