/* Unit tests for lib/metrics: exact OpenMetrics and 0.0.4 text for
 * counters, gauges and histograms with labels, escaping, number formats,
 * and rejected misuse. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const double bounds[] = { 0.001, 0.5, 1, 10 };

/* Both formats of one counter, gauge and histogram. */
static void write_families(struct metrics_writer *w)
{
	const struct metrics_label vm[] = { { "vm", "a\"b" } };
	const uint64_t cum[] = { 0, 2, 2, 3 };
	const struct metrics_histogram h = { bounds, cum, 4, 4, 12.25 };

	assert_int_equal(metrics_family(w, "parapet_calls", METRICS_COUNTER,
					"Calls \"served\"\\n."),
			 0);
	assert_int_equal(metrics_counter(w, vm, 1, 7), 0);
	assert_int_equal(
	    metrics_family(w, "parapet_up", METRICS_GAUGE, "1 when up."), 0);
	assert_int_equal(metrics_gauge_int(w, vm, 1, 1), 0);
	assert_int_equal(metrics_family(w, "parapet_blackout_seconds",
					METRICS_HISTOGRAM, "Blackouts."),
			 0);
	assert_int_equal(metrics_histogram(w, vm, 1, &h), 0);
	assert_int_equal(metrics_histogram(w, NULL, 0, &h), 0);
	assert_int_equal(metrics_finish(w), 0);
}

#define HISTOGRAM_SAMPLES                                                      \
	"parapet_blackout_seconds_bucket{vm=\"a\\\"b\",le=\"0.001\"} 0\n"      \
	"parapet_blackout_seconds_bucket{vm=\"a\\\"b\",le=\"0.5\"} 2\n"        \
	"parapet_blackout_seconds_bucket{vm=\"a\\\"b\",le=\"1.0\"} 2\n"        \
	"parapet_blackout_seconds_bucket{vm=\"a\\\"b\",le=\"10.0\"} 3\n"       \
	"parapet_blackout_seconds_bucket{vm=\"a\\\"b\",le=\"+Inf\"} 4\n"       \
	"parapet_blackout_seconds_sum{vm=\"a\\\"b\"} 12.25\n"                  \
	"parapet_blackout_seconds_count{vm=\"a\\\"b\"} 4\n"                    \
	"parapet_blackout_seconds_bucket{le=\"0.001\"} 0\n"                    \
	"parapet_blackout_seconds_bucket{le=\"0.5\"} 2\n"                      \
	"parapet_blackout_seconds_bucket{le=\"1.0\"} 2\n"                      \
	"parapet_blackout_seconds_bucket{le=\"10.0\"} 3\n"                     \
	"parapet_blackout_seconds_bucket{le=\"+Inf\"} 4\n"                     \
	"parapet_blackout_seconds_sum 12.25\n"                                 \
	"parapet_blackout_seconds_count 4\n"

static void test_openmetrics_histogram(void **state)
{
	struct metrics_writer w;

	(void)state;
	metrics_init(&w, out);
	write_families(&w);
	assert_string_equal(
	    text,
	    "# TYPE parapet_calls counter\n"
	    "# HELP parapet_calls Calls \\\"served\\\"\\\\n.\n"
	    "parapet_calls_total{vm=\"a\\\"b\"} 7\n"
	    "# TYPE parapet_up gauge\n"
	    "# HELP parapet_up 1 when up.\n"
	    "parapet_up{vm=\"a\\\"b\"} 1\n"
	    "# TYPE parapet_blackout_seconds histogram\n"
	    "# HELP parapet_blackout_seconds Blackouts.\n" HISTOGRAM_SAMPLES
	    "# EOF\n");
	assert_string_equal(metrics_content_type(METRICS_OPENMETRICS),
			    "application/openmetrics-text; version=1.0.0; "
			    "charset=utf-8");
}

/* 0.0.4: HELP before TYPE, a counter's family with _total, '"' in HELP
 * as it is, no # EOF. */
static void test_text_format(void **state)
{
	struct metrics_writer w;

	(void)state;
	metrics_init_format(&w, out, METRICS_PROMETHEUS_TEXT);
	write_families(&w);
	assert_string_equal(
	    text,
	    "# HELP parapet_calls_total Calls \"served\"\\\\n.\n"
	    "# TYPE parapet_calls_total counter\n"
	    "parapet_calls_total{vm=\"a\\\"b\"} 7\n"
	    "# HELP parapet_up 1 when up.\n"
	    "# TYPE parapet_up gauge\n"
	    "parapet_up{vm=\"a\\\"b\"} 1\n"
	    "# HELP parapet_blackout_seconds Blackouts.\n"
	    "# TYPE parapet_blackout_seconds histogram\n" HISTOGRAM_SAMPLES);
	assert_string_equal(metrics_content_type(METRICS_PROMETHEUS_TEXT),
			    "text/plain; version=0.0.4; charset=utf-8");
}

/* Bounds not ascending, counts falling or past count, an le label, a
 * histogram sample in a gauge family: refused, nothing written. */
static void test_histogram_rejects(void **state)
{
	const double down[] = { 1, 0.5 };
	const uint64_t ok2[] = { 1, 2 }, fall[] = { 2, 1 };
	const double inf[] = { INFINITY };
	const struct metrics_label le[] = { { "le", "1" } };
	const struct {
		struct metrics_histogram h;
		int err;
	} cases[] = {
		{ { down, ok2, 2, 2, 1 }, METRICS_ERR_VALUE },
		{ { bounds, fall, 2, 2, 1 }, METRICS_ERR_VALUE },
		{ { bounds, ok2, 2, 1, 1 }, METRICS_ERR_VALUE },
		{ { inf, ok2, 1, 2, 1 }, METRICS_ERR_VALUE },
		{ { bounds, ok2, 2, 2, NAN }, METRICS_ERR_VALUE },
	};
	const struct metrics_histogram good = { bounds, ok2, 2, 2, 1 };
	struct metrics_writer w;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_init(&w, out);
		assert_int_equal(
		    metrics_family(&w, "h", METRICS_HISTOGRAM, NULL), 0);
		assert_int_equal(metrics_histogram(&w, NULL, 0, &cases[i].h),
				 cases[i].err);
		expect_sticky(&w, cases[i].err);
	}
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "h", METRICS_HISTOGRAM, NULL), 0);
	assert_int_equal(metrics_histogram(&w, le, 1, &good), METRICS_ERR_NAME);
	metrics_init(&w, out);
	assert_int_equal(metrics_family(&w, "g", METRICS_GAUGE, NULL), 0);
	assert_int_equal(metrics_histogram(&w, NULL, 0, &good),
			 METRICS_ERR_ORDER);
	fflush(out);
	assert_null(strstr(text, "_bucket"));
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
		cmocka_unit_test_setup_teardown(test_openmetrics_histogram,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_format, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_histogram_rejects, setup,
						teardown),
		cmocka_unit_test(test_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
