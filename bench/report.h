/* Benchmark results in the format of DESIGN.md §10: rows written to
 * build/bench/NAME.json (jansson) and printed as a table. */
#ifndef PARAPET_BENCH_REPORT_H
#define PARAPET_BENCH_REPORT_H

#include <stddef.h>

struct bench_row {
	const char *metric;
	const char *unit;
	double parapet;
	double baseline;
	const char *baseline_name;
	/* Set for throughputs (higher is better): ratio = baseline/parapet. */
	int higher_is_better;
};

/* Writes DIR/NAME.json (DIR from $PARAPET_BENCH_DIR, default build/bench)
 * and prints the rows. Returns 0, or -1 with a message on stderr. */
int bench_report(const char *name, const struct bench_row *rows, size_t n_rows);

/* Median of n doubles (sorts the array in place). */
double bench_median(double *v, size_t n);

/* The p-th percentile (0..1, nearest rank) of n doubles (sorts them). */
double bench_percentile(double *v, size_t n, double p);

/* The numbers following key on the lines of the file at path, up to max
 * (e.g. vmworker's "restored: blackout " ms): how many. */
size_t bench_log_values(const char *path, const char *key, double *out,
			size_t max);

/* Monotonic clock in nanoseconds. */
double bench_now_ns(void);

#endif
