/* lib/metrics: an OpenMetrics text writer for `parapet-diag stats`
 * (DESIGN.md §9, §12): metric families with # TYPE / # HELP, counter and
 * gauge samples with escaped labels, and the # EOF terminator.
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
 * error sticks: later calls write nothing and metrics_finish returns it. */
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
};
const char *metrics_strerror(int err);

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
};

struct metrics_label {
	const char *name;
	const char *value;
};

#define METRICS_NAME_MAX 128

struct metrics_writer {
	FILE *out;
	int err;
	enum metrics_type type;
	char family[METRICS_NAME_MAX]; /* "" before the first family */
};

void metrics_init(struct metrics_writer *w, FILE *out);

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

/* Writes `# EOF` and flushes; after an error writes nothing (the output
 * then reads as truncated). Returns the first error of the writer. */
int metrics_finish(struct metrics_writer *w);

#endif
