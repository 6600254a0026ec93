/* lib/metrics: OpenMetrics and Prometheus 0.0.4 text exposition
 * (families, samples, histograms, labels, escaping, # EOF) for
 * parapet-diag stats and parapet metrics. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"

const char *metrics_strerror(int err)
{
	switch (err) {
	case METRICS_OK:
		return "success";
	case METRICS_ERR_NAME:
		return "invalid metric or label name";
	case METRICS_ERR_ORDER:
		return "sample outside its metric family";
	case METRICS_ERR_IO:
		return "write failed";
	case METRICS_ERR_VALUE:
		return "histogram buckets out of order";
	default:
		return "unknown error";
	}
}

static int name_char(char c, int first, int colon)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return 1;
	if (c == ':')
		return colon;
	return !first && c >= '0' && c <= '9';
}

static int valid_name(const char *s, int colon)
{
	size_t i;

	if (s == NULL || s[0] == 0 || strlen(s) >= METRICS_NAME_MAX)
		return 0;
	for (i = 0; s[i] != 0; i++)
		if (!name_char(s[i], i == 0, colon))
			return 0;
	return 1;
}

static int fail(struct metrics_writer *w, int err)
{
	if (w->err == 0)
		w->err = err;
	return w->err;
}

/* Writes s escaped for a label value or HELP text (quote: escape '"'). */
static void put_escaped(FILE *out, const char *s, int quote)
{
	for (; *s != 0; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"' && quote)
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void metrics_init_format(struct metrics_writer *w, FILE *out,
			 enum metrics_format format)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
	w->format = format;
}

void metrics_init(struct metrics_writer *w, FILE *out)
{
	metrics_init_format(w, out, METRICS_OPENMETRICS);
}

const char *metrics_content_type(enum metrics_format format)
{
	return format == METRICS_OPENMETRICS
		   ? "application/openmetrics-text; version=1.0.0; "
		     "charset=utf-8"
		   : "text/plain; version=0.0.4; charset=utf-8";
}

static const char *type_name(enum metrics_type type)
{
	switch (type) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_HISTOGRAM:
		return "histogram";
	default:
		return "gauge";
	}
}

/* # HELP in either format: 0.0.4 leaves '"' as it is. */
static void put_help(struct metrics_writer *w, const char *name,
		     const char *suffix, const char *help)
{
	fprintf(w->out, "# HELP %s%s ", name, suffix);
	put_escaped(w->out, help, w->format == METRICS_OPENMETRICS);
	fputc('\n', w->out);
}

int metrics_family(struct metrics_writer *w, const char *name,
		   enum metrics_type type, const char *help)
{
	size_t len;

	if (w->err != 0)
		return w->err;
	if (!valid_name(name, 1))
		return fail(w, METRICS_ERR_NAME);
	len = strlen(name);
	if (type == METRICS_COUNTER && len >= 6 &&
	    strcmp(name + len - 6, "_total") == 0)
		return fail(w, METRICS_ERR_NAME);
	memcpy(w->family, name, len + 1);
	w->type = type;
	if (w->format == METRICS_PROMETHEUS_TEXT) {
		/* 0.0.4 names a counter's family as its samples */
		const char *sfx = type == METRICS_COUNTER ? "_total" : "";

		if (help != NULL)
			put_help(w, name, sfx, help);
		fprintf(w->out, "# TYPE %s%s %s\n", name, sfx, type_name(type));
		return 0;
	}
	fprintf(w->out, "# TYPE %s %s\n", name, type_name(type));
	if (help != NULL)
		put_help(w, name, "", help);
	return 0;
}

static int check_labels(const struct metrics_label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!valid_name(labels[i].name, 0) || labels[i].value == NULL)
			return METRICS_ERR_NAME;
	return 0;
}

/* Writes `family+suffix{labels[,le="le"]} `; the checks are the caller's. */
static void put_head(struct metrics_writer *w, const char *suffix,
		     const struct metrics_label *labels, size_t n,
		     const char *le)
{
	size_t i;

	fputs(w->family, w->out);
	fputs(suffix, w->out);
	for (i = 0; i < n; i++) {
		fprintf(w->out, "%s%s=\"", i ? "," : "{", labels[i].name);
		put_escaped(w->out, labels[i].value, 1);
		fputc('"', w->out);
	}
	if (le != NULL)
		fprintf(w->out, "%sle=\"%s\"", n ? "," : "{", le);
	fputs(n || le ? "} " : " ", w->out);
}

/* Checks the sample's family and labels, then writes
 * `family[_total]{labels} `. */
static int sample_head(struct metrics_writer *w, enum metrics_type type,
		       const struct metrics_label *labels, size_t n)
{
	if (w->err != 0)
		return w->err;
	if (w->family[0] == 0 || w->type != type)
		return fail(w, METRICS_ERR_ORDER);
	if (check_labels(labels, n) != 0)
		return fail(w, METRICS_ERR_NAME);
	put_head(w, type == METRICS_COUNTER ? "_total" : "", labels, n, NULL);
	return 0;
}

int metrics_counter(struct metrics_writer *w,
		    const struct metrics_label *labels, size_t n_labels,
		    uint64_t value)
{
	int rc = sample_head(w, METRICS_COUNTER, labels, n_labels);

	if (rc == 0)
		fprintf(w->out, "%" PRIu64 "\n", value);
	return rc;
}

int metrics_gauge_int(struct metrics_writer *w,
		      const struct metrics_label *labels, size_t n_labels,
		      int64_t value)
{
	int rc = sample_head(w, METRICS_GAUGE, labels, n_labels);

	if (rc == 0)
		fprintf(w->out, "%" PRId64 "\n", value);
	return rc;
}

/* OpenMetrics numbers: NaN, +Inf, -Inf, else the shortest %g that reads
 * back as the same double. */
static void fmt_double(char *buf, size_t len, double d)
{
	int prec;

	if (isnan(d)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(buf, len, d > 0 ? "+Inf" : "-Inf");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		if (snprintf(buf, len, "%.*g", prec, d) >= (int)len)
			break;
		if (strtod(buf, NULL) == d)
			return;
	}
	snprintf(buf, len, "%.*g", prec, d);
}

static void put_double(FILE *out, double d)
{
	char buf[40];

	fmt_double(buf, sizeof(buf), d);
	fputs(buf, out);
}

int metrics_gauge(struct metrics_writer *w, const struct metrics_label *labels,
		  size_t n_labels, double value)
{
	int rc = sample_head(w, METRICS_GAUGE, labels, n_labels);

	if (rc == 0) {
		put_double(w->out, value);
		fputc('\n', w->out);
	}
	return rc;
}

/* A bucket bound as the canonical float OpenMetrics asks for: 1.0 and
 * 10.0, not 1 and 1e+01 (%g's exponent only for very large or small). */
static void fmt_le(char *buf, size_t len, double d)
{
	double a = fabs(d);

	if (!isfinite(d) || a >= 1e15 || (a < 1e-4 && a != 0)) {
		fmt_double(buf, len, d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++)
		if (snprintf(buf, len, "%.*f", prec, d) < (int)len &&
		    strtod(buf, NULL) == d)
			return;
}

static int histogram_check(const struct metrics_label *labels, size_t n,
			   const struct metrics_histogram *h)
{
	for (size_t i = 0; i < n; i++)
		if (labels[i].name != NULL && !strcmp(labels[i].name, "le"))
			return METRICS_ERR_NAME;
	if (check_labels(labels, n) != 0)
		return METRICS_ERR_NAME;
	for (size_t i = 0; i < h->n; i++) {
		if (!isfinite(h->bounds[i]) || h->cumulative[i] > h->count ||
		    (i > 0 && (h->bounds[i] <= h->bounds[i - 1] ||
			       h->cumulative[i] < h->cumulative[i - 1])))
			return METRICS_ERR_VALUE;
	}
	return isnan(h->sum) ? METRICS_ERR_VALUE : 0;
}

int metrics_histogram(struct metrics_writer *w,
		      const struct metrics_label *labels, size_t n_labels,
		      const struct metrics_histogram *h)
{
	char le[48];
	int rc;

	if (w->err != 0)
		return w->err;
	if (w->family[0] == 0 || w->type != METRICS_HISTOGRAM)
		return fail(w, METRICS_ERR_ORDER);
	if ((rc = histogram_check(labels, n_labels, h)) != 0)
		return fail(w, rc);
	for (size_t i = 0; i < h->n; i++) {
		fmt_le(le, sizeof(le), h->bounds[i]);
		put_head(w, "_bucket", labels, n_labels, le);
		fprintf(w->out, "%" PRIu64 "\n", h->cumulative[i]);
	}
	put_head(w, "_bucket", labels, n_labels, "+Inf");
	fprintf(w->out, "%" PRIu64 "\n", h->count);
	put_head(w, "_sum", labels, n_labels, NULL);
	put_double(w->out, h->sum);
	fputc('\n', w->out);
	put_head(w, "_count", labels, n_labels, NULL);
	fprintf(w->out, "%" PRIu64 "\n", h->count);
	return 0;
}

int metrics_finish(struct metrics_writer *w)
{
	/* No # EOF after an error: a reader then sees the output as cut. */
	if (w->err != 0)
		return w->err;
	if (w->format == METRICS_OPENMETRICS)
		fputs("# EOF\n", w->out);
	if (fflush(w->out) != 0 || ferror(w->out))
		fail(w, METRICS_ERR_IO);
	return w->err;
}
