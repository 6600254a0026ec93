/* Writes benchmark rows as JSON (DESIGN.md §10) and prints a table. */
#include "bench/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double row_ratio(const struct bench_row *r)
{
	if (r->higher_is_better)
		return r->parapet > 0 ? r->baseline / r->parapet : 0;
	return r->baseline > 0 ? r->parapet / r->baseline : 0;
}

int bench_report(const char *name, const struct bench_row *rows, size_t n_rows)
{
	const char *dir = getenv("PARAPET_BENCH_DIR");
	json_t *arr = json_array();
	char path[4096];
	size_t i;

	if (dir == NULL)
		dir = "build/bench";
	if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "bench: mkdir %s: %s\n", dir, strerror(errno));
		return -1;
	}
	printf("%-26s %-6s %14s %14s %8s  %s\n", "metric", "unit", "parapet",
	       "baseline", "ratio", "baseline_name");
	for (i = 0; i < n_rows; i++) {
		const struct bench_row *r = &rows[i];
		double ratio = row_ratio(r);

		json_array_append_new(
		    arr,
		    json_pack("{s:s, s:s, s:f, s:f, s:s, s:f}", "metric",
			      r->metric, "unit", r->unit, "parapet", r->parapet,
			      "baseline", r->baseline, "baseline_name",
			      r->baseline_name, "ratio", ratio));
		printf("%-26s %-6s %14.3f %14.3f %8.3f  %s\n", r->metric,
		       r->unit, r->parapet, r->baseline, ratio,
		       r->baseline_name);
	}
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	if (json_dump_file(arr, path, JSON_INDENT(2)) != 0) {
		fprintf(stderr, "bench: cannot write %s\n", path);
		json_decref(arr);
		return -1;
	}
	json_decref(arr);
	printf("wrote %s\n", path);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_percentile(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	bench_median(v, n); /* sorts */
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

size_t bench_log_values(const char *path, const char *key, double *out,
			size_t max)
{
	FILE *f = fopen(path, "r");
	size_t klen = strlen(key), n = 0;
	char line[512];

	if (f == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		const char *p = strstr(line, key);

		if (p && sscanf(p + klen, "%lf", &out[n]) == 1)
			n++;
	}
	fclose(f);
	return n;
}

double bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
