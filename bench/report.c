/* Writes benchmark rows as JSON (DESIGN.md §10) and prints a table. */
#include "bench/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SPREADS_MAX 32

/* Spreads noted by bench_row_spread(), found again by metric name, so
 * that struct bench_row (initialised positionally everywhere) keeps its
 * fields. */
static struct spread {
	const char *metric;
	double min, max;
	size_t n;
} spreads[SPREADS_MAX];
static size_t n_spreads;

static double ratio_of(double parapet, double baseline, int higher_is_better)
{
	if (higher_is_better)
		return parapet > 0 ? baseline / parapet : 0;
	return baseline > 0 ? parapet / baseline : 0;
}

static double row_ratio(const struct bench_row *r)
{
	return ratio_of(r->parapet, r->baseline, r->higher_is_better);
}

static const struct spread *spread_of(const char *metric)
{
	for (size_t i = n_spreads; i-- > 0;)
		if (strcmp(spreads[i].metric, metric) == 0)
			return &spreads[i];
	return NULL;
}

/* Median of n samples, v left as it is; -1 when one is not positive. */
static double median_copy(const double *v, size_t n)
{
	double *c = malloc(n * sizeof(*c)), m = -1;

	if (c == NULL)
		return -1;
	memcpy(c, v, n * sizeof(*c));
	m = bench_median(c, n); /* sorts c */
	if (c[0] <= 0)
		m = -1;
	free(c);
	return m;
}

int bench_row_spread(struct bench_row *r, const double *a, const double *b,
		     size_t n)
{
	struct spread s = { r->metric, 0, 0, n };

	if (n == 0 || n_spreads == SPREADS_MAX)
		return -1;
	r->parapet = median_copy(a, n);
	r->baseline = median_copy(b, n);
	if (r->parapet <= 0 || r->baseline <= 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		double q = ratio_of(a[i], b[i], r->higher_is_better);

		if (i == 0 || q < s.min)
			s.min = q;
		if (i == 0 || q > s.max)
			s.max = q;
	}
	spreads[n_spreads++] = s;
	return 0;
}

/* One row as JSON, with its spread when it has one. */
static json_t *row_json(const struct bench_row *r)
{
	const struct spread *s = spread_of(r->metric);
	json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:s, s:f}", "metric",
			      r->metric, "unit", r->unit, "parapet", r->parapet,
			      "baseline", r->baseline, "baseline_name",
			      r->baseline_name, "ratio", row_ratio(r));

	if (o != NULL && s != NULL) {
		json_object_set_new(o, "ratio_min", json_real(s->min));
		json_object_set_new(o, "ratio_max", json_real(s->max));
		json_object_set_new(o, "samples",
				    json_integer((json_int_t)s->n));
	}
	return o;
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
	printf("%-30s %-6s %12s %12s %8s %-17s  %s\n", "metric", "unit",
	       "parapet", "baseline", "ratio", "spread (n)", "baseline_name");
	for (i = 0; i < n_rows; i++) {
		const struct bench_row *r = &rows[i];
		const struct spread *s = spread_of(r->metric);
		char spread[48] = "";

		if (s != NULL)
			snprintf(spread, sizeof(spread), "%.3f-%.3f (%zu)",
				 s->min, s->max, s->n);
		json_array_append_new(arr, row_json(r));
		printf("%-30s %-6s %12.3f %12.3f %8.3f %-17s  %s\n", r->metric,
		       r->unit, r->parapet, r->baseline, row_ratio(r), spread,
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
