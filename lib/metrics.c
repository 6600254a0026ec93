/* lib/metrics: OpenMetrics text exposition (families, samples, labels,
 * escaping, # EOF) for parapet-diag stats. */
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

/* Writes s escaped for a label value or HELP text. */
static void put_escaped(FILE *out, const char *s)
{
	for (; *s != 0; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void metrics_init(struct metrics_writer *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
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
	fprintf(w->out, "# TYPE %s %s\n", name,
		type == METRICS_COUNTER ? "counter" : "gauge");
	if (help != NULL) {
		fprintf(w->out, "# HELP %s ", name);
		put_escaped(w->out, help);
		fputc('\n', w->out);
	}
	return 0;
}

/* Writes `family[_total]{labels} ` and checks the sample's family. */
static int sample_head(struct metrics_writer *w, enum metrics_type type,
		       const struct metrics_label *labels, size_t n)
{
	size_t i;

	if (w->err != 0)
		return w->err;
	if (w->family[0] == 0 || w->type != type)
		return fail(w, METRICS_ERR_ORDER);
	for (i = 0; i < n; i++)
		if (!valid_name(labels[i].name, 0) || labels[i].value == NULL)
			return fail(w, METRICS_ERR_NAME);
	fputs(w->family, w->out);
	if (type == METRICS_COUNTER)
		fputs("_total", w->out);
	for (i = 0; i < n; i++) {
		fprintf(w->out, "%s%s=\"", i ? "," : "{", labels[i].name);
		put_escaped(w->out, labels[i].value);
		fputc('"', w->out);
	}
	fputs(n ? "} " : " ", w->out);
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
static void put_double(FILE *out, double d)
{
	char buf[40];
	int prec;

	if (isnan(d)) {
		fputs("NaN", out);
		return;
	}
	if (isinf(d)) {
		fputs(d > 0 ? "+Inf" : "-Inf", out);
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		if (snprintf(buf, sizeof(buf), "%.*g", prec, d) >=
		    (int)sizeof(buf))
			break;
		if (strtod(buf, NULL) == d)
			break;
	}
	fprintf(out, "%.*g", prec, d);
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

int metrics_finish(struct metrics_writer *w)
{
	/* No # EOF after an error: a reader then sees the output as cut. */
	if (w->err != 0)
		return w->err;
	fputs("# EOF\n", w->out);
	if (fflush(w->out) != 0 || ferror(w->out))
		fail(w, METRICS_ERR_IO);
	return w->err;
}
