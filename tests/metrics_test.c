/* Unit tests for lib/metrics: exact OpenMetrics text for counters and
 * gauges with labels, escaping, number formats, and rejected misuse. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "lib/metrics.h"

static FILE *out;
static char *text;
static size_t text_len;

static int setup(void **state)
{
	(void)state;
	out = open_memstream(&text, &text_len);
	return out == NULL;
}

static int teardown(void **state)
{
	(void)state;
	fclose(out);
	free(text);
	return 0;
}

static void test_exposition(void **state)
{
	const struct metrics_label policy[] = { { "service", "policy" } };
	const struct metrics_label two[] = {
		{ "service", "vmworker" },
		{ "reason", "a\\b \"q\"\nz" },
	};
	struct metrics_writer w;

	(void)state;
	metrics_init(&w, out);
	assert_int_equal(
	    metrics_family(&w, "parapet_ipc_received", METRICS_COUNTER,
			   "Envelopes received.\nPer \"service\"."),
	    0);
	assert_int_equal(metrics_counter(&w, policy, 1, 12), 0);
	assert_int_equal(metrics_counter(&w, two, 2, UINT64_MAX), 0);
	assert_int_equal(metrics_family(&w, "parapet_up", METRICS_GAUGE, NULL),
			 0);
	assert_int_equal(metrics_gauge_int(&w, NULL, 0, -3), 0);
	assert_int_equal(
	    metrics_family(&w, "parapet:ratio", METRICS_GAUGE, "back\\slash"),
	    0);
	assert_int_equal(metrics_gauge(&w, policy, 1, 0.1), 0);
	assert_int_equal(metrics_gauge(&w, NULL, 0, 1e21), 0);
	assert_int_equal(metrics_gauge(&w, NULL, 0, 2.5), 0);
	assert_int_equal(metrics_gauge(&w, NULL, 0, NAN), 0);
	assert_int_equal(metrics_gauge(&w, NULL, 0, INFINITY), 0);
	assert_int_equal(metrics_gauge(&w, NULL, 0, -INFINITY), 0);
	assert_int_equal(metrics_gauge(&w, NULL, 0, 0), 0);
	assert_int_equal(metrics_finish(&w), 0);
	assert_string_equal(
	    text, "# TYPE parapet_ipc_received counter\n"
		  "# HELP parapet_ipc_received Envelopes received.\\nPer "
		  "\\\"service\\\".\n"
		  "parapet_ipc_received_total{service=\"policy\"} 12\n"
		  "parapet_ipc_received_total{service=\"vmworker\","
		  "reason=\"a\\\\b \\\"q\\\"\\nz\"} 18446744073709551615\n"
		  "# TYPE parapet_up gauge\n"
		  "parapet_up -3\n"
		  "# TYPE parapet:ratio gauge\n"
		  "# HELP parapet:ratio back\\\\slash\n"
		  "parapet:ratio{service=\"policy\"} 0.1\n"
		  "parapet:ratio 1e+21\n"
		  "parapet:ratio 2.5\n"
		  "parapet:ratio NaN\n"
		  "parapet:ratio +Inf\n"
		  "parapet:ratio -Inf\n"
		  "parapet:ratio 0\n"
		  "# EOF\n");
}

static void expect_sticky(struct metrics_writer *w, int err)
{
	assert_int_equal(metrics_family(w, "ok", METRICS_GAUGE, NULL), err);
	assert_int_equal(metrics_gauge(w, NULL, 0, 1), err);
	assert_int_equal(metrics_finish(w), err);
}

static void test_rejects(void **state)
{
	const struct metrics_label bad[] = { { "1x", "v" } };
	const struct metrics_label colon[] = { { "a:b", "v" } };
	const struct metrics_label null_value[] = { { "a", NULL } };
	struct metrics_writer w;

	(void)state;
	metrics_init(&w, out);
	assert_int_equal(metrics_counter(&w, NULL, 0, 1), METRICS_ERR_ORDER);
	expect_sticky(&w, METRICS_ERR_ORDER);

	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "x_total", METRICS_COUNTER, NULL),
			 METRICS_ERR_NAME);
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "9lives", METRICS_GAUGE, NULL),
			 METRICS_ERR_NAME);
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "a-b", METRICS_GAUGE, NULL),
			 METRICS_ERR_NAME);

	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "g", METRICS_GAUGE, NULL), 0);
	assert_int_equal(metrics_counter(&w, NULL, 0, 1), METRICS_ERR_ORDER);
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "g", METRICS_GAUGE, NULL), 0);
	assert_int_equal(metrics_gauge(&w, bad, 1, 1), METRICS_ERR_NAME);
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "g", METRICS_GAUGE, NULL), 0);
	assert_int_equal(metrics_gauge(&w, colon, 1, 1), METRICS_ERR_NAME);
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "g", METRICS_GAUGE, NULL), 0);
	assert_int_equal(metrics_gauge(&w, null_value, 1, 1), METRICS_ERR_NAME);
	expect_sticky(&w, METRICS_ERR_NAME);
	/* Nothing of a rejected sample reached the output. */
	fflush(out);
	assert_string_equal(text, "# TYPE g gauge\n"
				  "# TYPE g gauge\n"
				  "# TYPE g gauge\n"
				  "# TYPE g gauge\n");
}

static void test_write_error(void **state)
{
	struct metrics_writer w;
	FILE *full = fopen("/dev/full", "w");

	(void)state;
	if (full == NULL)
		skip();
	metrics_init(&w, full);
	assert_int_equal(metrics_family(&w, "g", METRICS_GAUGE, NULL), 0);
	assert_int_equal(metrics_finish(&w), METRICS_ERR_IO);
	fclose(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exposition, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
