/* bench/sidecar: sidecar_exit_overhead (DESIGN.md §10). The smp guest runs
 * a port-write loop on VP 1 (pio=N), once as a sidecar VP and once on a
 * full VP thread, interleaved; each side's per-exit cost is the loop time
 * the guest measures itself. The row holds both (us per exit); the
 * overhead is their difference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "services/vmworker/sidecar.h"

#define REPS 5

/* us per exit of VP 1's loop, or -1. */
static double vp1_loop(const char *accel, const char *sidecar, uint64_t n)
{
	char arg[64], out[4096];
	const char *argv[] = { proc_build_path("bin/parapet-vmworker"),
			       "--standalone",
			       proc_build_path("guests/smp.igvm"),
			       "--accel",
			       accel,
			       "--cpus",
			       "2",
			       "--sidecar-cpus",
			       sidecar,
			       "--sidecar-hotplug",
			       "0",
			       "--guest-cmdline",
			       arg,
			       NULL };
	unsigned long long got;
	unsigned us;
	const char *line;

	snprintf(arg, sizeof(arg), "pio=%llu", (unsigned long long)n);
	if (proc_output(argv, out, sizeof(out)) != 0)
		return -1;
	line = strstr(out, "smp: vp1 pio ");
	if (line == NULL ||
	    sscanf(line, "smp: vp1 pio %llu in %u us", &got, &us) != 2)
		return -1;
	return (double)us / (double)got;
}

int main(void)
{
	int reps = getenv("PARAPET_BENCH_QUICK") ? 2 : REPS;
	double side[REPS], full[REPS];
	struct bench_row row;
	uint64_t n = 2000000;
	int i;

	for (i = 0; i < reps; i++) {
		side[i] = vp1_loop("emu", "1", n);
		full[i] = vp1_loop("emu", "none", n);
		if (side[i] < 0 || full[i] < 0) {
			fprintf(stderr, "bench sidecar: a run failed\n");
			return 1;
		}
	}
	row = (struct bench_row){ "sidecar_exit_overhead",
				  "us",
				  bench_median(side, (size_t)reps),
				  bench_median(full, (size_t)reps),
				  "same loop on a full VP thread (emu)",
				  0 };
	printf("sidecar exit overhead: %.3f us per exit (emu, %d spins "
	       "before the futex)\n",
	       row.parapet - row.baseline, SIDECAR_SPINS);
	return bench_report("sidecar", &row, 1) == 0 ? 0 : 1;
}
