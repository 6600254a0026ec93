/* bench/disk's blkd_restart_gap rows: how long the guest's disk stands
 * still across a kill -9 of parapet-blkd (docs/disks.md, "A backend
 * restarts"), p50 and p99 over GAP_KILLS kills, beside the servicing
 * blackout of vmworker measured in the same partition.
 *
 * The measure is the guest's own: the disk guest's torture mode keeps 8
 * requests in flight and, with stall_ms=, prints "torture: stall of T us"
 * whenever T, the time between two completions by its timestamp port
 * (the host's monotonic clock), reaches GAP_STALL_MS. The kill's stall
 * is the one the guest prints at its first completion after the kill,
 * once the next blkd serves: from the last completion before the kill to
 * that one, so it holds blkd's death, init's respawn, blkd's start,
 * vmworker's reconnect and handshake and the run of the requests taken
 * again, plus at most one ordinary completion interval. The figure is
 * the longest stall printed from the kill until a second after that
 * line: an ordinary gap printed then (or still on its way when the kill
 * came) counts only if longer, so the figure may err high, never low.
 * Before each kill blkd has been up over a second (init restarts a
 * younger one after a backoff, which is not the cost of a restart).
 *
 * The baseline is what bench/servicing.c reports as
 * servicing_blackout_p50 (_p99 for the p99 row): vmworker's own log of
 * each servicing's blackout, here GAP_SERVICINGS servicings of the same
 * partition after the kills, with the disk in use. The guest's stalls
 * across those servicings are printed too. */
#include "bench/disk_gap.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/proc.h"

#define GAP_KILLS      20
#define GAP_SERVICINGS 10
#define GAP_STALL_MS   5
#define GAP_TICK_MS    100
#define GAP_NAME       "bench-dgap"
#define GAP_OUT_MAX    (1 << 20)
#define GAP_WAIT_MS    30000

static char gap_out[GAP_OUT_MAX];
static size_t gap_len;
static int gap_fd = -1;

/* What the guest printed since the last call (up to wait_ms for some). */
static void gap_read(int wait_ms)
{
	struct pollfd p = { .fd = gap_fd, .events = POLLIN };
	char sink[4096];
	ssize_t n;

	if (poll(&p, 1, wait_ms) <= 0)
		return;
	while ((n = read(gap_fd, sink, sizeof(sink))) > 0) {
		size_t k = (size_t)n;

		if (k > GAP_OUT_MAX - 1 - gap_len)
			k = GAP_OUT_MAX - 1 - gap_len;
		memcpy(gap_out + gap_len, sink, k);
		gap_len += k;
		gap_out[gap_len] = '\0';
	}
}

/* The stalls (ms) the guest printed from offset from on. */
static size_t gap_stalls(size_t from, double *out, size_t max)
{
	const char *p = gap_out + from;
	size_t n = 0;
	unsigned long long us;

	while (n < max && (p = strstr(p, "torture: stall of ")) != NULL) {
		if (sscanf(p, "torture: stall of %llu us", &us) == 1)
			out[n++] = (double)us / 1000.0;
		p++;
	}
	return n;
}

/* The host pid of the partition's service comm (init's child), or -1. */
static pid_t gap_service(const char *comm)
{
	char path[128], kids[4096], c[64];
	FILE *f = fopen("/run/parapet/" GAP_NAME "/init.pid", "r");
	int init = -1;
	char *tok, *save;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%d", &init) != 1)
		init = -1;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", init, init);
	if (init < 0 || (f = fopen(path, "r")) == NULL)
		return -1;
	kids[0] = '\0';
	if (fgets(kids, sizeof(kids), f) == NULL)
		kids[0] = '\0';
	fclose(f);
	for (tok = strtok_r(kids, " \n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \n", &save)) {
		snprintf(path, sizeof(path), "/proc/%s/comm", tok);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(c, sizeof(c), f) != NULL &&
		    strncmp(c, comm, strlen(comm)) == 0) {
			fclose(f);
			return (pid_t)atoi(tok);
		}
		fclose(f);
	}
	return -1;
}

/* Reads what the guest prints for ms. */
static void gap_read_for(int ms)
{
	double end = bench_now_ns() + ms * 1e6;
	double left;

	while ((left = end - bench_now_ns()) > 0)
		gap_read((int)(left / 1e6) + 1);
}

/* How many "torture: tick" lines the guest printed from offset from on. */
static size_t gap_ticks(size_t from)
{
	const char *p = gap_out + from;
	size_t n = 0;

	while ((p = strstr(p, "torture: tick ")) != NULL) {
		n++;
		p++;
	}
	return n;
}

/* The stall of an event at from: the longest the guest printed from the
 * first after from (printed at its first completion after the event; up
 * to GAP_WAIT_MS) until a second later, in ms; -1 if the disk stood
 * still all that time. A long ordinary gap in that second would count
 * too: the figure errs high. A stall under GAP_STALL_MS is not printed:
 * when the guest's ticks (every GAP_TICK_MS, at a completion) go on
 * without one, the second tick after from came from a completion after
 * the event, so the disk moved again within GAP_STALL_MS: that bound is
 * the figure, high again. */
static double gap_after(size_t from)
{
	double v[256], max = -1;
	size_t n = 0;
	double until = bench_now_ns() + GAP_WAIT_MS * 1e6;

	while (n == 0 && bench_now_ns() < until) {
		gap_read(50);
		n = gap_stalls(from, v, 1);
		if (n == 0 && gap_ticks(from) >= 2) {
			gap_read_for(1000); /* the next kill: blkd up 1 s */
			return GAP_STALL_MS;
		}
	}
	if (n == 0)
		return -1;
	gap_read_for(1000);
	n = gap_stalls(from, v, 256);
	for (size_t i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	return max;
}

/* One kill -9 of blkd (up over a second: gap_after waited that long
 * after the last restart): its gap. */
static double gap_kill(void)
{
	pid_t old = gap_service("parapet-blkd");
	size_t from;

	if (old < 0)
		return -1;
	gap_read(0);
	from = gap_len;
	if (kill(old, SIGKILL) != 0)
		return -1;
	return gap_after(from);
}

/* The kills, then the servicings; 0 or -1. */
static int gap_measure(double *kill_ms, double *svc_ms, double *black,
		       size_t *n_black)
{
	const char *diag[] = { proc_build_path("bin/parapet-diag"),
			       "--vm",
			       GAP_NAME,
			       "restart",
			       "vmworker",
			       NULL };

	for (int i = 0; i < 600 && strstr(gap_out, "torture: ") == NULL; i++)
		gap_read(100);
	gap_read_for(1500); /* blkd up over a second */
	for (int i = 0; i < GAP_KILLS; i++) {
		kill_ms[i] = gap_kill();
		if (kill_ms[i] < 0) {
			fprintf(stderr,
				"blkd_restart_gap: kill %d: the disk "
				"stood still %d s\n",
				i + 1, GAP_WAIT_MS / 1000);
			return -1;
		}
	}
	for (int i = 0; i < GAP_SERVICINGS; i++) {
		size_t from;

		gap_read(0);
		from = gap_len;
		if (proc_time(diag, 0) < 0)
			return -1;
		svc_ms[i] = gap_after(from);
	}
	*n_black =
	    bench_log_values("/run/parapet/" GAP_NAME "/logs/vmworker.log",
			     "restored: blackout ", black, GAP_SERVICINGS);
	return *n_black > 0 ? 0 : -1;
}

int disk_gap_rows(const char *img, struct bench_row *rows)
{
	static const char *const metric[2] = { "blkd_restart_gap_p50",
					       "blkd_restart_gap_p99" };
	static const int pct[2] = { 50, 99 };
	static char base[2][160], cmdline[128];
	const char *run[] = { proc_build_path("bin/parapet"),
			      "run",
			      "--name",
			      GAP_NAME,
			      "--accel",
			      "emu",
			      "--disk",
			      img,
			      "--guest-cmdline",
			      cmdline,
			      proc_build_path("guests/disk.igvm"),
			      NULL };
	double kill_ms[GAP_KILLS], svc_ms[GAP_SERVICINGS];
	double black[GAP_SERVICINGS];
	size_t nb = 0;
	int status, rc;
	pid_t pid;

	snprintf(cmdline, sizeof(cmdline),
		 "mode=torture seconds=3600 sectors=8192 stall_ms=%d "
		 "tick_ms=%d",
		 GAP_STALL_MS, GAP_TICK_MS);
	gap_len = 0;
	gap_out[0] = '\0';
	pid = proc_spawn_reader(run, &gap_fd);
	if (pid < 0)
		return -1;
	fcntl(gap_fd, F_SETFL, O_NONBLOCK);
	rc = gap_measure(kill_ms, svc_ms, black, &nb);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(gap_fd);
	gap_fd = -1;
	if (rc != 0) {
		fprintf(stderr,
			"blkd_restart_gap failed; the guest said:\n%s\n",
			gap_out + (gap_len > 4000 ? gap_len - 4000 : 0));
		return -1;
	}
	printf("  blkd kill -9 x%d: guest stall p50 %.1f ms, p99 %.1f ms; "
	       "servicing x%d: guest stall p50 %.1f ms, vmworker blackout "
	       "p50 %.1f ms\n",
	       GAP_KILLS, bench_percentile(kill_ms, GAP_KILLS, 0.5),
	       bench_percentile(kill_ms, GAP_KILLS, 0.99), GAP_SERVICINGS,
	       bench_percentile(svc_ms, GAP_SERVICINGS, 0.5),
	       bench_percentile(black, nb, 0.5));
	for (int i = 0; i < 2; i++) {
		snprintf(base[i], sizeof(base[i]),
			 "servicing_blackout_p%d (vmworker's, %zu servicings "
			 "with the disk busy)",
			 pct[i], nb);
		rows[i] = (struct bench_row){
			metric[i],
			"ms",
			bench_percentile(kill_ms, GAP_KILLS, pct[i] / 100.0),
			bench_percentile(black, nb, pct[i] / 100.0),
			base[i],
			0
		};
	}
	return 0;
}
