/* bench/servicing: servicing_blackout_p50 / _p99 (DESIGN.md §10). A
 * counter guest runs in a partition while vmworker is restarted with its
 * state saved (`parapet-diag restart vmworker`) N times; each restored
 * instance logs its blackout (last exit before the pause to the first VP
 * run after the restore). Baseline: a cold boot of the same guest, whole
 * `parapet run` to exit, same run. Also prints the whole restart time. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "lib/registry.h"

#define MAX_RESTARTS 200
#define BLOCKS	     4	 /* of restarts, for a percentile's spread */
#define UP_TRIES     100 /* `parapet-diag ps`, 100 ms apart */

/* Polls `parapet-diag ps` (ps) until the partition run by pid answers.
 * Until it is up, ps exits non-zero: expected, not reported. 0, or -1
 * with a message when it never answers or the partition ends first. */
static int wait_up(const char *const ps[], pid_t pid)
{
	int status = -1, run_status;

	for (int i = 0; i < UP_TRIES; i++) {
		if ((status = proc_status(ps)) == 0)
			return 0;
		if (waitpid(pid, &run_status, WNOHANG) == pid) {
			fprintf(stderr,
				"bench servicing: parapet run ended (status "
				"0x%x) before `parapet-diag ps` answered\n",
				run_status);
			return -1;
		}
		usleep(100000);
	}
	fprintf(stderr,
		"bench servicing: `parapet-diag ps` still failing after %d "
		"tries (last status 0x%x)\n",
		UP_TRIES, status);
	return -1;
}

static int run_restarts(const char *accel, int n, double *blackout,
			size_t *n_black, double *restart_ms)
{
	const char *run[] = { proc_build_path("bin/parapet"),
			      "run",
			      "--name",
			      "bench-svc",
			      "--accel",
			      accel,
			      "--timeout",
			      "300",
			      "--guest-cmdline",
			      "delay_ms=1",
			      proc_build_path("guests/counter.igvm"),
			      NULL };
	const char *diag[] = { proc_build_path("bin/parapet-diag"),
			       "--vm",
			       "bench-svc",
			       "restart",
			       SVC_NAME_VMWORKER,
			       NULL };
	const char *ps[] = { proc_build_path("bin/parapet-diag"), "--vm",
			     "bench-svc", "ps", NULL };
	int fd, i, status;
	pid_t pid = proc_spawn_reader(run, &fd);

	if (pid < 0)
		return -1;
	if (wait_up(ps, pid) != 0) {
		kill(pid, SIGTERM);
		waitpid(pid, &status, 0);
		close(fd);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char buf[65536];

		while (read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf))
			; /* keep the console flowing */
		restart_ms[i] = proc_time(diag, 0) / 1e6;
		if (restart_ms[i] < 0)
			break;
	}
	*n_black =
	    bench_log_values("/run/parapet/bench-svc/logs/vmworker.log",
			     "restored: blackout ", blackout, MAX_RESTARTS);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	close(fd);
	return i == n ? 0 : -1;
}

/* A percentile row: the percentile of all n blackouts, against the cold
 * boot; its spread is the same percentile of each of BLOCKS consecutive
 * blocks of restarts (a p99 of 50 is their worst). Before any sort. */
static void percentile_row(struct bench_row *r, const double *black, size_t n,
			   double p, double cold_ms)
{
	double a[BLOCKS], b[BLOCKS], tmp[MAX_RESTARTS];
	size_t per = n / BLOCKS;

	if (per >= 2) {
		for (size_t k = 0; k < BLOCKS; k++) {
			memcpy(tmp, black + k * per, per * sizeof(*tmp));
			a[k] = bench_percentile(tmp, per, p);
			b[k] = cold_ms;
		}
		(void)bench_row_spread(r, a, b, BLOCKS);
	}
	memcpy(tmp, black, n * sizeof(*tmp));
	r->parapet = bench_percentile(tmp, n, p);
	r->baseline = cold_ms;
}

int main(void)
{
	static double black[MAX_RESTARTS], restart[MAX_RESTARTS], cold[11];
	int n = getenv("PARAPET_BENCH_QUICK") ? 10 : MAX_RESTARTS, i;
	const char *cold_run[] = { proc_build_path("bin/parapet"),
				   "run",
				   "--accel",
				   "emu",
				   "--guest-cmdline",
				   "count=1",
				   proc_build_path("guests/counter.igvm"),
				   NULL };
	struct bench_row rows[2] = {
		{ "servicing_blackout_p50", "ms", 0, 0,
		  "cold boot (parapet run, emu)", 0 },
		{ "servicing_blackout_p99", "ms", 0, 0,
		  "cold boot (parapet run, emu)", 0 },
	};
	size_t nb = 0;
	double cold_ms;

	for (i = 0; i < 11; i++)
		cold[i] = proc_time(cold_run, 0) / 1e6;
	cold_ms = bench_median(cold, 11);
	if (run_restarts("emu", n, black, &nb, restart) != 0 || nb == 0) {
		fprintf(stderr, "bench servicing: restarts failed (%zu done)\n",
			nb);
		return 1;
	}
	percentile_row(&rows[0], black, nb, 0.5, cold_ms);
	percentile_row(&rows[1], black, nb, 0.99, cold_ms);
	printf("%zu restarts on emu; whole restart (parapet-diag) p50 %.1f "
	       "ms, p99 %.1f ms\n",
	       nb, bench_percentile(restart, (size_t)n, 0.5),
	       bench_percentile(restart, (size_t)n, 0.99));
	return bench_report("servicing", rows, 2) == 0 ? 0 : 1;
}
