/* `parapet-diag inspect`, `stats` and `timeline`: views of the live
 * values diagd gathers (a JSON tree), as an indented tree, as OpenMetrics
 * (lib/metrics) and as a boot timeline in text or SVG. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "lib/parse.h"
#include "services/diag/diag.h"

/* Fetches a JSON document from a Diag method whose reply is {json}. */
static json_t *view_fetch(struct diag *d, const char *method,
			  const ProtobufCMessage *q)
{
	ProtobufCMessage *r = NULL;
	json_t *j = NULL;
	const char *text;

	if (diag_call(d, method, q, &r) != 0)
		return NULL;
	/* DiagInspectReply and DiagTimelineReply: field 1 is the json */
	text = !strcmp(method, "Inspect")
		   ? ((Parapet__DiagInspectReply *)r)->json
		   : ((Parapet__DiagTimelineReply *)r)->json;
	if (text != NULL)
		j = json_loads(text, 0, NULL);
	if (j == NULL)
		fprintf(stderr, "parapet-diag: %s: bad JSON from diagd\n",
			method);
	ipc_free(r);
	return j;
}

static json_t *view_inspect_tree(struct diag *d)
{
	Parapet__DiagInspectRequest q = PARAPET__DIAG_INSPECT_REQUEST__INIT;

	return view_fetch(d, "Inspect", &q.base);
}

/* ---------------------------------------------------------- inspect */

/* Follows PATH (a.b.0.c or a/b/0/c) from root; NULL if absent. */
static json_t *view_path(json_t *root, const char *path)
{
	char buf[512], *save = NULL, *tok;
	json_t *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "./", &save); tok != NULL && cur != NULL;
	     tok = strtok_r(NULL, "./", &save)) {
		if (json_is_array(cur))
			cur = json_array_get(cur, strtoul(tok, NULL, 10));
		else
			cur = json_object_get(cur, tok);
	}
	return cur;
}

static void view_scalar(json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY);

	printf("%s\n", s ? s : "?");
	free(s);
}

static void view_tree(json_t *v, int indent, int depth);

/* One member's value after its "name:" or "[i]:" label. */
static void view_member(json_t *c, int indent, int depth)
{
	if (!json_is_object(c) && !json_is_array(c)) {
		putchar(' ');
		view_scalar(c);
	} else if (depth == 1) {
		printf(" {...}\n");
	} else {
		putchar('\n');
		view_tree(c, indent + 1, depth - 1);
	}
}

static void view_tree(json_t *v, int indent, int depth)
{
	const char *k;
	size_t i;
	json_t *c;

	if (json_is_object(v)) {
		json_object_foreach(v, k, c)
		{
			printf("%*s%s:", indent * 2, "", k);
			view_member(c, indent, depth);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c)
		{
			printf("%*s[%zu]:", indent * 2, "", i);
			view_member(c, indent, depth);
		}
	} else {
		printf("%*s", indent * 2, "");
		view_scalar(v);
	}
}

int diag_inspect(struct diag *d, int argc, char **argv)
{
	const char *path = NULL;
	int depth = 0, c, rc;
	json_t *root;
	uint64_t v;

	optind = 0;
	opterr = 0;
	while ((c = getopt(argc, argv, ":r:")) != -1) {
		if (c != 'r')
			return diag_bad_option("inspect", c, argv);
		if (parse_uint(optarg, 0, 1000, &v) != 0) {
			fprintf(stderr,
				"parapet-diag: inspect: -r '%s': want a depth "
				"(0-1000, 0: all)\n",
				optarg);
			return 2;
		}
		depth = (int)v;
	}
	if (optind + 1 < argc)
		return diag_unexpected("inspect", argv[optind + 1]);
	if (optind < argc)
		path = argv[optind];
	if ((root = view_inspect_tree(d)) == NULL)
		return 1;
	rc = diag_view_inspect(root, path, depth, d->json);
	json_decref(root);
	return rc;
}

int diag_view_inspect(json_t *root, const char *path, int depth, bool json)
{
	json_t *node = path ? view_path(root, path) : root;

	if (node == NULL) {
		fprintf(stderr, "parapet-diag: inspect: no %s\n", path);
		return 1;
	}
	if (json)
		return diag_print_json(json_incref(node));
	view_tree(node, 0, depth > 0 ? depth : -1);
	return 0;
}

/* ------------------------------------------------------------ stats */

/* Samples grouped by family: {family: {type, help, samples: [...]}}. */
static void view_sample(json_t *fams, const char *name, const char *type,
			const char *help, json_t *labels, json_int_t value)
{
	json_t *f = json_object_get(fams, name);

	if (f == NULL) {
		f = json_pack("{s:s, s:s, s:[]}", "type", type, "help", help,
			      "samples");
		json_object_set_new(fams, name, f);
	}
	json_array_append_new(
	    json_object_get(f, "samples"),
	    json_pack("{s:o, s:I}", "labels", labels, "value", value));
}

static void view_ints(json_t *fams, json_t *obj, const char *prefix,
		      const char *type, json_t *labels, const char *skip)
{
	const char *k;
	json_t *v;
	char name[METRICS_NAME_MAX];

	json_object_foreach(obj, k, v)
	{
		if (!json_is_integer(v) || (skip && !strcmp(k, skip)))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, k);
		view_sample(fams, name, type, k,
			    labels ? json_deep_copy(labels) : json_object(),
			    json_integer_value(v));
	}
}

static void view_service_metrics(json_t *fams, const char *svc, json_t *n)
{
	json_t *p = json_object_get(n, "process"), *l;
	const char *state = json_string_value(json_object_get(p, "state"));
	json_t *vps = json_object_get(json_object_get(n, "vm"), "vps");
	size_t i;
	json_t *vp;

	l = json_pack("{s:s}", "service", svc);
	view_sample(fams, "parapet_service_up", "gauge",
		    "1 when the service is running", json_deep_copy(l),
		    state && !strcmp(state, "running"));
	view_sample(fams, "parapet_service_rss_kib", "gauge",
		    "resident set size (KiB)", json_deep_copy(l),
		    json_integer_value(json_object_get(p, "rss_kib")));
	view_sample(fams, "parapet_service_deaths", "counter",
		    "deaths of the service", json_deep_copy(l),
		    json_integer_value(json_object_get(p, "deaths")));
	view_ints(fams, json_object_get(n, "ipc"), "parapet_ipc_", "counter", l,
		  NULL);
	view_ints(fams, json_object_get(n, "vm"), "parapet_vm_", "gauge", l,
		  NULL);
	json_array_foreach(vps, i, vp)
	{
		json_t *vl =
		    json_pack("{s:s, s:I}", "service", svc, "vp",
			      json_integer_value(json_object_get(vp, "index")));

		view_ints(fams, vp, "parapet_vp_", "counter", vl, "index");
		json_decref(vl);
	}
	json_decref(l);
}

static void view_labels(json_t *labels, struct metrics_label *out, size_t *n,
			char vals[][32])
{
	const char *k;
	json_t *v;

	*n = 0;
	json_object_foreach(labels, k, v)
	{
		if (*n >= 4)
			break;
		out[*n].name = k;
		if (json_is_string(v))
			out[*n].value = json_string_value(v);
		else {
			snprintf(vals[*n], 32, "%lld",
				 (long long)json_integer_value(v));
			out[*n].value = vals[*n];
		}
		(*n)++;
	}
}

static int view_openmetrics(json_t *fams)
{
	struct metrics_writer w;
	const char *name;
	json_t *f, *s;
	size_t i;

	metrics_init(&w, stdout);
	json_object_foreach(fams, name, f)
	{
		bool counter = !strcmp(
		    json_string_value(json_object_get(f, "type")), "counter");

		metrics_family(&w, name,
			       counter ? METRICS_COUNTER : METRICS_GAUGE,
			       json_string_value(json_object_get(f, "help")));
		json_array_foreach(json_object_get(f, "samples"), i, s)
		{
			struct metrics_label l[4];
			char vals[4][32];
			size_t n;
			json_int_t v =
			    json_integer_value(json_object_get(s, "value"));

			view_labels(json_object_get(s, "labels"), l, &n, vals);
			if (counter)
				metrics_counter(&w, l, n, (uint64_t)v);
			else
				metrics_gauge_int(&w, l, n, v);
		}
	}
	return metrics_finish(&w) == METRICS_OK ? 0 : 1;
}

int diag_stats(struct diag *d, int argc, char **argv)
{
	json_t *root;
	int rc;

	if (argc != 1 || (root = view_inspect_tree(d)) == NULL)
		return argc != 1 ? diag_unexpected(argv[0], argv[1]) : 1;
	rc = diag_view_stats(root, d->json);
	json_decref(root);
	return rc;
}

int diag_view_stats(json_t *root, bool json)
{
	json_t *fams = json_object(), *n;
	const char *k;
	int rc;

	json_object_foreach(root, k, n) if (strcmp(k, "init"))
	    view_service_metrics(fams, k, n);
	view_ints(fams, json_object_get(root, "init"), "parapet_init_", "gauge",
		  NULL, NULL);
	if (json)
		return diag_print_json(fams);
	rc = view_openmetrics(fams);
	json_decref(fams);
	return rc;
}

/* --------------------------------------------------------- timeline */

static int view_cmp_stamp(const void *a, const void *b)
{
	json_int_t x = json_integer_value(
		       json_object_get(*(json_t *const *)a, "ns")),
		   y = json_integer_value(
		       json_object_get(*(json_t *const *)b, "ns"));

	return x < y ? -1 : x > y;
}

#define VIEW_STAMPS_MAX 256 /* boot stamps, 64 servicings, 64 restarts */

/* [{name, ns, ms}] sorted by time, ms relative to the first stamp. */
static json_t *view_stamps(json_t *stamps)
{
	json_t *rows[VIEW_STAMPS_MAX], *arr = json_array();
	size_t n = 0;
	const char *k;
	json_t *v;

	json_object_foreach(stamps, k, v) if (n < VIEW_STAMPS_MAX) rows[n++] =
	    json_pack("{s:s, s:I}", "name", k, "ns", json_integer_value(v));
	qsort(rows, n, sizeof(rows[0]), view_cmp_stamp);
	for (size_t i = 0; i < n; i++) {
		json_int_t ns =
		    json_integer_value(json_object_get(rows[i], "ns"));
		json_int_t t0 =
		    json_integer_value(json_object_get(rows[0], "ns"));

		/* In double: diagd's stamps may be any two integers. */
		json_object_set_new(rows[i], "ms",
				    json_real(((double)ns - (double)t0) / 1e6));
		json_array_append_new(arr, rows[i]);
	}
	return arr;
}

/* s as SVG text: stamp names come from diagd, inside the partition. */
static void view_svg_text(FILE *f, const char *s)
{
	for (; s != NULL && *s; s++)
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
}

static int view_svg(const char *file, json_t *rows)
{
	size_t n = json_array_size(rows), i;
	double end = n ? json_real_value(
			     json_object_get(json_array_get(rows, n - 1), "ms"))
		       : 0;
	FILE *f = fopen(file, "w");
	json_t *r;

	if (f == NULL) {
		fprintf(stderr, "parapet-diag: timeline: %s: %s\n", file,
			strerror(errno));
		return 1;
	}
	end = end > 0 ? end : 1;
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" "
		"height=\"%zu\" font-family=\"monospace\" "
		"font-size=\"12\">\n",
		n * 24 + 40);
	fprintf(f,
		"<text x=\"10\" y=\"18\">Parapet boot timeline "
		"(%.3f ms)</text>\n",
		end);
	json_array_foreach(rows, i, r)
	{
		double ms = json_real_value(json_object_get(r, "ms"));
		double w = ms / end * 560;

		fprintf(f,
			"<rect x=\"300\" y=\"%zu\" width=\"%.1f\" "
			"height=\"16\" fill=\"#4a7bd0\"/>\n"
			"<text x=\"10\" y=\"%zu\">",
			i * 24 + 30, w > 1 ? w : 1, i * 24 + 42);
		view_svg_text(f, json_string_value(json_object_get(r, "name")));
		fprintf(f,
			"</text>\n<text x=\"%.1f\" y=\"%zu\">%.3f ms</text>\n",
			300 + (w > 1 ? w : 1) + 4, i * 24 + 42, ms);
	}
	fprintf(f, "</svg>\n");
	return fclose(f) == 0 ? 0 : 1;
}

int diag_timeline(struct diag *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "svg", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	Parapet__DiagTimelineRequest q = PARAPET__DIAG_TIMELINE_REQUEST__INIT;
	const char *svg = NULL;
	json_t *t;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1)
		if (c == 's')
			svg = optarg;
		else
			return diag_bad_option("timeline", c, argv);
	if (optind < argc)
		return diag_unexpected("timeline", argv[optind]);
	if ((t = view_fetch(d, "Timeline", &q.base)) == NULL)
		return 1;
	return diag_view_timeline(t, svg, d->json);
}

int diag_view_timeline(json_t *t, const char *svg, bool json)
{
	json_t *rows = view_stamps(json_object_get(t, "stamps")), *r;
	const char *source;
	int rc = 0;
	size_t i;

	if (svg != NULL && (rc = view_svg(svg, rows)) != 0) {
		json_decref(rows);
		json_decref(t);
		return rc;
	}
	if (json) {
		json_object_set_new(t, "stamps", rows);
		return diag_print_json(t) | rc;
	}
	source = json_string_value(json_object_get(t, "source"));
	printf("boot timeline (from %s)\n", source ? source : "?");
	json_array_foreach(rows, i, r)
	{
		const char *name =
		    json_string_value(json_object_get(r, "name"));
		/* a stamp that is an estimate says so, as timeline.json does */
		const char *note = json_string_value(json_object_get(
		    json_object_get(t, "notes"), name ? name : ""));

		printf("  +%10.3f ms  %s",
		       json_real_value(json_object_get(r, "ms")), name);
		if (note != NULL)
			printf(" (estimate: %s)", note);
		putchar('\n');
	}
	json_decref(rows);
	json_decref(t);
	return rc;
}

/* ------------------------------------------------------------ disks */

/* blkd's counters for disk index (root.blkd.disks.disks[]), or NULL. */
static json_t *view_blkd_disk(json_t *root, json_int_t index)
{
	json_t *disks = view_path(root, "blkd.disks.disks"), *d;
	size_t i;

	json_array_foreach(disks, i, d)
	{
		if (json_integer_value(json_object_get(d, "index")) == index)
			return d;
	}
	return NULL;
}

static json_int_t view_int(json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

/* One disk: vmworker's transport joined with its backend's counters
 * (blkd's; an external backend's are not known). */
static json_t *view_disk(json_t *root, json_t *v)
{
	json_int_t index = view_int(v, "index");
	json_t *b = view_blkd_disk(root, index);
	json_t *o = json_pack(
	    "{s:I, s:O?, s:O?, s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "index",
	    index, "backend", json_object_get(v, "backend"), "label",
	    json_object_get(v, "label"), "connected",
	    json_is_true(json_object_get(v, "connected")), "running",
	    json_is_true(json_object_get(v, "running")), "offered_features",
	    view_int(v, "offered_features"), "features",
	    view_int(v, "negotiated_features"), "capacity_sectors",
	    view_int(v, "capacity_sectors"), "notifies",
	    view_int(v, "notifies"), "in_flight", view_int(v, "in_flight"));
	static const char *const counters[] = { "requests",   "reads",
						"writes",     "flushes",
						"bytes_read", "bytes_written",
						"errors",     "refused" };

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		json_object_set_new(o, counters[i],
				    b != NULL
					? json_integer(view_int(b, counters[i]))
					: json_null());
	if (json_object_get(v, "error") != NULL)
		json_object_set(o, "error", json_object_get(v, "error"));
	return o;
}

static void view_count(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		printf(" %12lld", (long long)json_integer_value(v));
	else
		printf(" %12s", "-");
}

int diag_view_disks(json_t *root, bool json)
{
	json_t *disks = view_path(root, "vmworker.vm.disks"), *v, *out;
	size_t i;

	if (disks == NULL && view_path(root, "vmworker.vm") == NULL) {
		fprintf(stderr, "parapet-diag: disks: vmworker is not "
				"running\n");
		return 1;
	}
	out = json_array();
	json_array_foreach(disks, i, v)
	    json_array_append_new(out, view_disk(root, v));
	if (json)
		return diag_print_json(out);
	if (json_array_size(out) == 0)
		printf("no disks\n");
	else
		printf("%-4s %-10s %-8s %-18s %12s %12s %12s %12s %12s  %s\n",
		       "DISK", "BACKEND", "STATE", "FEATURES", "REQUESTS",
		       "READ", "WRITTEN", "ERRORS", "IN_FLIGHT", "LABEL");
	json_array_foreach(out, i, v)
	{
		json_t *err = json_object_get(v, "error");

		printf("%-4lld %-10s %-8s 0x%016llx",
		       (long long)view_int(v, "index"),
		       json_string_value(json_object_get(v, "backend")),
		       json_is_true(json_object_get(v, "running")) ? "running"
		       : json_is_true(json_object_get(v, "connected")) ? "ready"
								       : "idle",
		       (unsigned long long)view_int(v, "features"));
		view_count(v, "requests");
		view_count(v, "bytes_read");
		view_count(v, "bytes_written");
		view_count(v, "errors");
		view_count(v, "in_flight");
		printf("  %s\n",
		       json_string_value(json_object_get(v, "label")));
		if (err != NULL)
			printf("     error: %s\n", json_string_value(err));
	}
	json_decref(out);
	return 0;
}

int diag_disks(struct diag *d, int argc, char **argv)
{
	json_t *root;
	int rc;

	if (argc != 1 || (root = view_inspect_tree(d)) == NULL)
		return argc != 1 ? diag_unexpected(argv[0], argv[1]) : 1;
	rc = diag_view_disks(root, d->json);
	json_decref(root);
	return rc;
}
