/* Unit tests for `parapet metrics`' collector (host/metrics_collect.c,
 * metrics_expo.c): Accept negotiation, the families of a made-up VM from
 * a diagd tree, servicing blackouts counted once, and a scrape of a run
 * directory base with a live, a dead and a vanished VM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/metrics_collect.h"

static void test_negotiate(void **state)
{
	(void)state;
	/* what Prometheus 2.x sends */
	assert_int_equal(
	    mcollect_negotiate("application/openmetrics-text;version=1.0.0,"
			       "application/openmetrics-text;version=0.0.1;"
			       "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;"
			       "q=0.1"),
	    METRICS_OPENMETRICS);
	assert_int_equal(mcollect_negotiate(NULL), METRICS_PROMETHEUS_TEXT);
	assert_int_equal(mcollect_negotiate(""), METRICS_PROMETHEUS_TEXT);
	assert_int_equal(mcollect_negotiate("*/*"), METRICS_PROMETHEUS_TEXT);
	assert_int_equal(mcollect_negotiate("text/plain;version=0.0.4"),
			 METRICS_PROMETHEUS_TEXT);
	assert_int_equal(mcollect_negotiate("application/openmetrics-text;q=0"),
			 METRICS_PROMETHEUS_TEXT);
	assert_int_equal(mcollect_negotiate("text/plain, "
					    "application/openmetrics-text;"
					    "q=0.5"),
			 METRICS_PROMETHEUS_TEXT);
	assert_int_equal(mcollect_negotiate(" Application/OpenMetrics-Text "),
			 METRICS_OPENMETRICS);
	assert_int_equal(mcollect_negotiate("application/openmetrics-textual"),
			 METRICS_PROMETHEUS_TEXT);
}

static char *write_vms(enum metrics_format fmt, struct mcollect_vm *vms,
		       size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(mcollect_write(f, fmt, vms, n), 0);
	fclose(f);
	return text;
}

static void assert_has(const char *text, const char *line)
{
	if (strstr(text, line) == NULL)
		fail_msg("missing: %s\nin:\n%s", line, text);
}

static const char tree[] =
    "{\"init\": {\"uptime_ns\": 5},"
    " \"policy\": {\"process\": {\"state\": \"running\", \"spawns\": 3,"
    "   \"deaths\": 2, \"rss_kib\": 10},"
    "  \"ipc\": {\"received\": 40, \"err_denied\": 3},"
    "  \"status\": {\"state\": \"saving\"}},"
    " \"vmworker\": {\"process\": {\"state\": \"stopped\", \"spawns\": 1},"
    "  \"vm\": {\"console_offset\": \"18446744073709551615\","
    "   \"vps\": [{\"index\": 0, \"exits_pio\": 7, \"exits_mmio\": 1}]}}}";

static void test_families(void **state)
{
	struct mcollect_hist h = { .count = 0 };
	json_t *tl = json_loads("{\"servicing\": [{\"at\": 10, \"blackout_ns\":"
				" 30000000}, {\"at\": 20, \"blackout_ns\": "
				"2000000000}]}",
				0, NULL);
	struct mcollect_vm vms[2] = {
		{ .name = "a",
		  .host_state = "running",
		  .uptime_s = 1.5,
		  .start_time = 1700000000,
		  .blackout = &h },
		{ .name = "b", .host_state = "stopping", .blackout = &h },
	};
	char *t;

	(void)state;
	mcollect_add_servicing(&h, tl);
	vms[0].inspect = json_loads(tree, 0, NULL);
	assert_non_null(vms[0].inspect);
	t = write_vms(METRICS_PROMETHEUS_TEXT, vms, 2);
	assert_has(t, "parapet_metrics_vms 2\n");
	assert_has(t, "parapet_vm_up{vm=\"a\"} 1\n"); /* saving: still up */
	assert_has(t, "parapet_vm_up{vm=\"b\"} 0\n");
	assert_has(t, "parapet_vm_state{vm=\"a\",state=\"saving\"} 1\n");
	assert_has(t, "parapet_vm_state{vm=\"a\",state=\"running\"} 0\n");
	assert_has(t, "parapet_vm_state{vm=\"b\",state=\"stopping\"} 1\n");
	assert_has(t, "parapet_vm_start_time_seconds{vm=\"a\"} 1700000000\n");
	assert_has(t, "parapet_vm_uptime_seconds{vm=\"a\"} 1.5\n");
	assert_has(t, "parapet_vm_diag_up{vm=\"a\"} 1\n");
	assert_has(t, "parapet_vm_diag_up{vm=\"b\"} 0\n");
	assert_has(t, "# TYPE parapet_vm_console_bytes_total counter\n");
	/* pbjson's string for a uint64 over INT64_MAX: clamped, not wrapped */
	assert_has(t, "parapet_vm_console_bytes_total{vm=\"a\"} "
		      "9223372036854775807\n");
	assert_has(
	    t, "parapet_vp_exits_total{vm=\"a\",vp=\"0\",kind=\"pio\"} 7\n");
	assert_has(
	    t,
	    "parapet_vp_exits_total{vm=\"a\",vp=\"0\",kind=\"unknown\"} 0\n");
	assert_has(t, "parapet_service_up{vm=\"a\",service=\"policy\"} 1\n");
	assert_has(t, "parapet_service_up{vm=\"a\",service=\"vmworker\"} 0\n");
	assert_has(
	    t,
	    "parapet_service_restarts_total{vm=\"a\",service=\"policy\"} 2\n");
	assert_has(t, "parapet_service_restarts_total{vm=\"a\",service="
		      "\"vmworker\"} 0\n");
	assert_has(
	    t, "parapet_service_exits_total{vm=\"a\",service=\"policy\"} 2\n");
	assert_has(t, "parapet_service_resident_memory_bytes{vm=\"a\",service="
		      "\"policy\"} 10240\n");
	assert_has(t,
		   "parapet_ipc_calls_total{vm=\"a\",service=\"policy\"} 40\n");
	assert_has(t, "parapet_ipc_errors_total{vm=\"a\",service=\"policy\","
		      "reason=\"denied\"} 3\n");
	assert_has(t, "parapet_servicing_blackout_seconds_bucket{vm=\"a\","
		      "le=\"0.025\"} 0\n");
	assert_has(t, "parapet_servicing_blackout_seconds_bucket{vm=\"a\","
		      "le=\"0.05\"} 1\n");
	assert_has(t, "parapet_servicing_blackout_seconds_bucket{vm=\"a\","
		      "le=\"2.5\"} 2\n");
	assert_has(t,
		   "parapet_servicing_blackout_seconds_sum{vm=\"a\"} 2.03\n");
	assert_has(t, "parapet_servicing_blackout_seconds_count{vm=\"a\"} 2\n");
	/* a VM without diagd's tree has no per-service series */
	assert_null(strstr(t, "service_up{vm=\"b\""));
	assert_null(strstr(t, "# EOF"));
	free(t);
	t = write_vms(METRICS_OPENMETRICS, vms, 2);
	assert_has(t, "# TYPE parapet_vm_console_bytes counter\n");
	assert_has(t, "\n# EOF\n");
	free(t);
	json_decref(vms[0].inspect);
	json_decref(tl);
}

/* The same timeline read at every scrape counts each servicing once. */
static void test_servicing_once(void **state)
{
	struct mcollect_hist h = { .count = 0 };
	json_t *one = json_loads("{\"servicing\": [{\"at\": 5, \"blackout_ns\":"
				 " 1000000}]}",
				 0, NULL);
	json_t *two = json_loads("{\"servicing\": [{\"at\": 5, \"blackout_ns\":"
				 " 1000000}, {\"at\": 9, \"blackout_ns\": "
				 "9000000000}]}",
				 0, NULL);

	(void)state;
	mcollect_add_servicing(&h, one);
	mcollect_add_servicing(&h, one);
	mcollect_add_servicing(&h, NULL); /* no timeline.json */
	assert_int_equal(h.count, 1);
	assert_int_equal(h.cumulative[0], 1);
	mcollect_add_servicing(&h, two);
	assert_int_equal(h.count, 2);
	assert_int_equal(h.cumulative[0], 1);
	assert_int_equal(h.cumulative[MCOLLECT_BUCKETS - 1], 1); /* 9 s > 5 */
	assert_true(h.sum > 9.0009 && h.sum < 9.0011);
	json_decref(one);
	json_decref(two);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void make_vm(const char *base, const char *name, long pid)
{
	char dir[300], text[300];

	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(text, sizeof(text), "%ld\n", pid);
	put_file(dir, "pid", text);
	put_file(dir, "status.json",
		 "{\"state\": \"running\", \"start_ns\": 1, "
		 "\"start_time\": 1700000000}");
	put_file(dir, "timeline.json",
		 "{\"servicing\": [{\"at\": 3, \"blackout_ns\": 4000000}]}");
}

static void test_scrape(void **state)
{
	char base[] = "/tmp/metrics_collect_test.XXXXXX", cmd[128];
	struct mcollect *m;
	char *t = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(base));
	make_vm(base, "live", (long)getpid());
	make_vm(base, "dead", 0x3ffffff0L); /* above pid_max: no such pid */
	m = mcollect_open(base);
	assert_non_null(m);
	f = open_memstream(&t, &len);
	assert_int_equal(mcollect_scrape(m, f, METRICS_PROMETHEUS_TEXT), 0);
	fclose(f);
	assert_has(t, "parapet_metrics_vms 1\n");
	/* no diag.sock: diagd's part is missing, and said so */
	assert_has(t, "parapet_vm_diag_up{vm=\"live\"} 0\n");
	assert_has(t, "parapet_vm_state{vm=\"live\",state=\"unknown\"} 1\n");
	assert_has(t,
		   "parapet_servicing_blackout_seconds_count{vm=\"live\"} 1\n");
	assert_null(strstr(t, "\"dead\""));
	free(t);
	/* the VM gone: no series of it */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/live", base);
	assert_int_equal(system(cmd), 0);
	t = NULL;
	f = open_memstream(&t, &len);
	assert_int_equal(mcollect_scrape(m, f, METRICS_OPENMETRICS), 0);
	fclose(f);
	assert_has(t, "parapet_metrics_vms 0\n");
	assert_null(strstr(t, "\"live\""));
	free(t);
	mcollect_close(m);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_servicing_once),
		cmocka_unit_test(test_scrape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
