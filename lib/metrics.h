/* lib/metrics: an OpenMetrics text writer for `parapet-diag stats` and
 * `parapet metrics` (DESIGN.md §9, §12): metric families with # TYPE /
 * # HELP, counter, gauge and histogram samples with escaped labels, and
 * the # EOF terminator; or the same in Prometheus' text format 0.0.4.
 *
 *   # TYPE parapet_ipc_received counter
 *   # HELP parapet_ipc_received Envelopes received.
 *   parapet_ipc_received_total{service="policy"} 12
 *   # EOF
 *
 * Counters get the _total suffix on their samples (the family name has
 * none); a sample belongs to the family declared last. Names and label
 * names are checked ([a-zA-Z_:][a-zA-Z0-9_:]* and [a-zA-Z_][a-zA-Z0-9_]*);
 * label values and HELP text are escaped (\\, \" and \n). The first
 * error sticks: later calls write nothing and metrics_finish returns it.
 *
 * The text format 0.0.4 differs in three points: a counter's family is
 * named with its _total (`# TYPE parapet_ipc_received_total counter`),
 * HELP escapes only \\ and \n, and there is no # EOF. */
#ifndef PARAPET_METRICS_H
#define PARAPET_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum metrics_err {
	METRICS_OK = 0,
	METRICS_ERR_NAME = -1,	/* bad metric or label name */
	METRICS_ERR_ORDER = -2, /* sample without (or of another) family */
	METRICS_ERR_IO = -3,	/* write failed */
	METRICS_ERR_VALUE = -4, /* histogram buckets not ascending */
};
const char *metrics_strerror(int err);

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

enum metrics_format {
	METRICS_OPENMETRICS,	 /* application/openmetrics-text 1.0.0 */
	METRICS_PROMETHEUS_TEXT, /* text/plain; version=0.0.4 */
};

struct metrics_label {
	const char *name;
	const char *value;
};

#define METRICS_NAME_MAX 128

struct metrics_writer {
	FILE *out;
	int err;
	enum metrics_format format;
	enum metrics_type type;
	char family[METRICS_NAME_MAX]; /* "" before the first family */
};

/* OpenMetrics (metrics_init) or the format asked for. */
void metrics_init(struct metrics_writer *w, FILE *out);
void metrics_init_format(struct metrics_writer *w, FILE *out,
			 enum metrics_format format);
/* The Content-Type header of the format. */
const char *metrics_content_type(enum metrics_format format);

/* Declares a family: `# TYPE name type` and, when help is not NULL,
 * `# HELP name help`. A counter's name must not end in _total. */
int metrics_family(struct metrics_writer *w, const char *name,
		   enum metrics_type type, const char *help);

/* A sample of the current family (a counter: name_total). labels may be
 * NULL when n_labels is 0. */
int metrics_counter(struct metrics_writer *w,
		    const struct metrics_label *labels, size_t n_labels,
		    uint64_t value);
int metrics_gauge(struct metrics_writer *w, const struct metrics_label *labels,
		  size_t n_labels, double value);
int metrics_gauge_int(struct metrics_writer *w,
		      const struct metrics_label *labels, size_t n_labels,
		      int64_t value);

/* A histogram's samples: name_bucket{...,le="B"} for each of the n finite
 * upper bounds (ascending) with its cumulative count (never falling, at
 * most count), le="+Inf" with count, then name_sum and name_count. The
 * labels must not hold le. */
struct metrics_histogram {
	const double *bounds;
	const uint64_t *cumulative;
	size_t n;
	uint64_t count;
	double sum;
};
int metrics_histogram(struct metrics_writer *w,
		      const struct metrics_label *labels, size_t n_labels,
		      const struct metrics_histogram *h);

/* Writes `# EOF` and flushes; after an error writes nothing (the output
 * then reads as truncated). Returns the first error of the writer. */
int metrics_finish(struct metrics_writer *w);

#endif
