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

/* Sets r->parapet and r->baseline to the medians of n paired samples
 * (a[i] for Parapet, b[i] for the baseline, measured interleaved:
 * a0 b0 a1 b1 ...) and notes the least and greatest of the n pairs'
 * ratios, which bench_report() writes beside the row's ratio as
 * ratio_min, ratio_max and samples. r->metric and r->higher_is_better
 * must be set. Returns 0, or -1 when n is 0 or a sample is not positive
 * (a failed measurement). */
int bench_row_spread(struct bench_row *r, const double *a, const double *b,
		     size_t n);

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
