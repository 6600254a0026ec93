/* parapet-diag's views (services/diag/diag_view.c) on JSON as diagd could
 * send it from a partition it does not trust: extreme timeline stamps,
 * markup in stamp names (escaped in the SVG), fields of the wrong type.
 * The views print on stdout, captured here in a temporary file. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "services/diag/diag.h"

/* diag.c's helpers the views use (diag.c holds parapet-diag's main). */
int diag_call(struct diag *d, const char *method, const ProtobufCMessage *q,
	      ProtobufCMessage **reply)
{
	(void)d;
	(void)method;
	(void)q;
	*reply = NULL;
	return IPC_ERR_UNAVAILABLE;
}

int diag_bad_option(const char *cmd, int c, char **argv)
{
	(void)cmd;
	(void)c;
	(void)argv;
	return 2;
}

int diag_unexpected(const char *cmd, const char *arg)
{
	(void)cmd;
	(void)arg;
	return 2;
}

int diag_print_json(json_t *j)
{
	int rc = json_dumpf(j, stdout, JSON_COMPACT) == 0 ? 0 : 1;

	json_decref(j);
	return rc;
}

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/diag-view-test.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/t.svg", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return 0;
}

/* Reads a whole small file into buf. */
static void slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Runs the timeline view of text with stdout in a file; out gets it. */
static int timeline(const char *text, const char *svg, char *out, size_t cap)
{
	char path[128];
	int saved = dup(1), fd, rc;
	json_t *t = json_loads(text, 0, NULL);

	assert_non_null(t);
	snprintf(path, sizeof(path), "%s/out", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stdout);
	dup2(fd, 1);
	rc = diag_view_timeline(t, svg, false);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);
	slurp(path, out, cap);
	return rc;
}

/* Stamps at both ends of the integers (found by diag_fuzz: their
 * difference overflowed); the later one is 1.8e13 ms after the first. */
static void test_extreme_stamps(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(timeline("{\"source\": \"x\", \"stamps\": "
				  "{\"late\": 9223372036854775807, "
				  "\"early\": -9223372036854775807}}",
				  NULL, out, sizeof(out)),
			 0);
	assert_non_null(strstr(out, "+     0.000 ms  early"));
	assert_non_null(strstr(out, "18446744073709.551 ms  late"));
}

/* A stamp name with markup reaches the SVG as text, not as elements. */
static void test_svg_escapes_names(void **state)
{
	char out[512], svg[128], doc[2048];

	(void)state;
	snprintf(svg, sizeof(svg), "%s/t.svg", tmpdir);
	assert_int_equal(
	    timeline("{\"source\": \"x\", \"stamps\": {\"a<script>&\\\"\": 5}}",
		     svg, out, sizeof(out)),
	    0);
	slurp(svg, doc, sizeof(doc));
	assert_null(strstr(doc, "<script>"));
	assert_non_null(strstr(doc, "a&lt;script&gt;&amp;&quot;</text>"));
}

/* A stamp that timeline.json calls an estimate says so in the text. */
static void test_estimate_noted(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(
	    timeline("{\"source\": \"x\", \"stamps\": {\"run_start\": 1, "
		     "\"first_guest_instruction\": 2000001}, \"notes\": "
		     "{\"first_guest_instruction\": \"lower bound\", "
		     "\"run_start\": 5}}",
		     NULL, out, sizeof(out)),
	    0);
	assert_non_null(strstr(out, "+     2.000 ms  first_guest_instruction "
				    "(estimate: lower bound)\n"));
	assert_non_null(strstr(out, "+     0.000 ms  run_start\n"));
}

/* A source that is not a string is shown as "?". */
static void test_source_not_a_string(void **state)
{
	char out[512];

	(void)state;
	assert_int_equal(
	    timeline("{\"source\": 5, \"stamps\": []}", NULL, out, sizeof(out)),
	    0);
	assert_string_equal(out, "boot timeline (from ?)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_extreme_stamps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_svg_escapes_names, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_estimate_noted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_source_not_a_string, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
