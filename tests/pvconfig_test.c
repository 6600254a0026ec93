/* Unit tests for boot/pvconfig: the measured paravisor configuration text,
 * write/parse round trip and rejection of hostile bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "boot/pvconfig.h"
#include "lib/guest_abi.h"

static struct pvconfig cfg;

static int parse(const char *text, unsigned *line)
{
	return pvconfig_parse(text, strlen(text), &cfg, line);
}

static void test_round_trip(void **state)
{
	static struct pvconfig in;
	char text[8192];
	size_t len;

	(void)state;
	pvconfig_init(&in);
	strcpy(in.paravisor_cmdline, "sidecar=off on-crash=reboot");
	strcpy(in.guest_cmdline, "count=100");
	in.allow_host_cmdline = true;
	in.vp_count = 4;
	in.mem_size = 128ULL << 20;
	in.pairs[0] = (struct pvconfig_pair){ "svc.diag", 8, "off", 3 };
	in.n_pairs = 1;
	assert_int_equal(pvconfig_write(&in, text, sizeof(text), &len), 0);
	assert_int_equal(pvconfig_parse(text, len, &cfg, NULL), PVCONFIG_OK);
	assert_string_equal(cfg.paravisor_cmdline, in.paravisor_cmdline);
	assert_string_equal(cfg.guest_cmdline, "count=100");
	assert_true(cfg.allow_host_cmdline);
	assert_int_equal(cfg.vp_count, 4);
	assert_int_equal(cfg.mem_size, 128ULL << 20);
	assert_int_equal(cfg.n_pairs, 1);
	assert_int_equal(cfg.pairs[0].value_len, 3);
	assert_memory_equal(cfg.pairs[0].value, "off", 3);
	assert_int_equal(pvconfig_write(&in, text, 20, &len),
			 PVCONFIG_ERR_SPACE);
}

static void test_defaults_and_nul(void **state)
{
	const char text[] = "parapet-config 1\nvp_count=3\n\0garbage\xff";

	(void)state;
	assert_int_equal(pvconfig_parse(text, sizeof(text), &cfg, NULL), 0);
	assert_int_equal(cfg.vp_count, 3);
	assert_int_equal(cfg.mem_size, GUEST_DEFAULT_MEM);
	assert_false(cfg.allow_host_cmdline);
	assert_string_equal(cfg.guest_cmdline, "");
}

static void test_rejects(void **state)
{
	unsigned line;

	(void)state;
	assert_int_equal(parse("", &line), PVCONFIG_ERR_MAGIC);
	assert_int_equal(parse("parapet-config 2\n", &line),
			 PVCONFIG_ERR_MAGIC);
	assert_int_equal(parse("parapet-config 1\nfoo\n", &line),
			 PVCONFIG_ERR_LINE);
	assert_int_equal(line, 2);
	assert_int_equal(parse("parapet-config 1\na=1\nfoo=bar", &line),
			 PVCONFIG_ERR_LINE);
	assert_int_equal(line, 3);
	assert_int_equal(parse("parapet-config 1\nFOO=1\n", &line),
			 PVCONFIG_ERR_KEY);
	assert_int_equal(parse("parapet-config 1\n=1\n", &line),
			 PVCONFIG_ERR_KEY);
	assert_int_equal(parse("parapet-config 1\na=\x01\n", &line),
			 PVCONFIG_ERR_VALUE);
	assert_int_equal(parse("parapet-config 1\na=1\na=2\n", &line),
			 PVCONFIG_ERR_DUPLICATE);
	assert_int_equal(
	    parse("parapet-config 1\nvp_count=1\nvp_count=1\n", &line),
	    PVCONFIG_ERR_DUPLICATE);
	assert_int_equal(parse("parapet-config 1\nvp_count=0\n", &line),
			 PVCONFIG_ERR_NUMBER);
	assert_int_equal(parse("parapet-config 1\nvp_count=99999\n", &line),
			 PVCONFIG_ERR_NUMBER);
	assert_int_equal(
	    parse("parapet-config 1\nmem_size=99999999999999999999999\n",
		  &line),
	    PVCONFIG_ERR_NUMBER);
	assert_int_equal(
	    parse("parapet-config 1\nmem_size=18446744073709551616\n", &line),
	    PVCONFIG_ERR_NUMBER);
	assert_int_equal(
	    parse("parapet-config 1\nallow_host_cmdline=2\n", &line),
	    PVCONFIG_ERR_NUMBER);
}

static void test_too_many_and_long(void **state)
{
	static char text[PVCONFIG_VALUE_MAX * 2];
	size_t n;

	(void)state;
	n = (size_t)sprintf(text, "parapet-config 1\n");
	for (int i = 0; i <= PVCONFIG_MAX_PAIRS; i++)
		n += (size_t)sprintf(text + n, "k%d=v\n", i);
	assert_int_equal(pvconfig_parse(text, n, &cfg, NULL),
			 PVCONFIG_ERR_TOO_MANY);
	n = (size_t)sprintf(text, "parapet-config 1\nguest_cmdline=");
	memset(text + n, 'x', PVCONFIG_VALUE_MAX);
	n += PVCONFIG_VALUE_MAX;
	text[n++] = '\n';
	assert_int_equal(pvconfig_parse(text, n, &cfg, NULL),
			 PVCONFIG_ERR_VALUE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_defaults_and_nul),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_too_many_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
