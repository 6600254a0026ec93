/* `parapet-diag trace`: the live IPC trace from diagd, printed frame by
 * frame with each body decoded from the protobuf-c descriptors (lib/pbjson)
 * and optionally written as pcapng (lib/pcapng) for tshark. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.pb-c.h"
#include "envelope.pb-c.h"
#include "hostchan.pb-c.h"
#include "init.pb-c.h"
#include "policy.pb-c.h"
#include "vmworker.pb-c.h"
#include "lib/jsonout.h"
#include "lib/parse.h"
#include "lib/pcapng.h"
#include "lib/registry.h"
#include "lib/util.h"
#include "services/diag/diag.h"

/* without -f: stop after 10 s without a frame the filters let through */
#define TRACE_IDLE_NS	(10 * 1000000000ull)
#define TRACE_FRAME_MAX (80u * 1024)

/* share/parapet beside our bin/ directory: PREFIX/share/parapet when
 * installed, $(B)/share/parapet in the build tree (the Makefile copies
 * the .proto files and writes parapet.lua there). */
static const char *trace_share_dir(void)
{
	static char dir[PATH_MAX + 32];
	char exe[PATH_MAX], *slash;
	ssize_t n;

	if (dir[0] != '\0')
		return dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return "/usr/local/share/parapet";
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash != NULL)
		*slash = '\0';
	snprintf(dir, sizeof(dir), "%s/../share/parapet", exe);
	if (realpath(dir, exe) != NULL)
		snprintf(dir, sizeof(dir), "%s", exe);
	return dir;
}

static const char *trace_proto_dir(void)
{
	static char dir[PATH_MAX + 64];

	snprintf(dir, sizeof(dir), "%s/proto", trace_share_dir());
	return dir;
}

struct trace_opts {
	const char *svc, *method, *wfile;
	long count;
	bool follow, json;
	bool lua_ok; /* FILE.pcapng.lua written */
	struct pcapng_writer *w;
	FILE *wf;
	int64_t mono_to_real;
	long shown;
	uint64_t lost, tap_dropped;
};

static volatile sig_atomic_t trace_stop;

static void trace_on_int(int sig)
{
	(void)sig;
	trace_stop = 1;
}

static void trace_help(void)
{
	printf("usage: parapet-diag [--vm NAME] trace [-f] [--svc SVC] "
	       "[--method M] [-c COUNT]\n"
	       "                    [-w FILE.pcapng] [--json]\n"
	       "Live IPC trace of every service: time, source -> "
	       "destination, kind, method,\nsize, seq, correlation id and "
	       "the body decoded field by field.\n"
	       "Without -f it stops after COUNT frames (default 20) or 10 s "
	       "without one that\nmatches --svc and --method.\n"
	       "-w writes pcapng (and FILE.pcapng.lua). tshark decodes it "
	       "with the .proto files:\n  ");
	printf(PCAPNG_TSHARK_FMT, "FILE.pcapng", trace_proto_dir());
	printf("\nand with typed bodies (the method's message, not hex; "
	       "the same dissector is\n%s/parapet.lua):\n  ",
	       trace_share_dir());
	printf(PCAPNG_TSHARK_LUA_FMT, "FILE.pcapng", "FILE.pcapng.lua",
	       trace_proto_dir());
	printf("\n");
}

static bool trace_match(const struct trace_opts *o, const char *svc,
			const Parapet__Envelope *e)
{
	if (o->method && (!e->method || strcmp(o->method, e->method)))
		return false;
	if (o->svc && strcmp(o->svc, svc) &&
	    (!e->source || strcmp(o->svc, e->source)) &&
	    (!e->destination || strcmp(o->svc, e->destination)))
		return false;
	return true;
}

static void trace_text(const struct trace_opts *o, const Parapet__TraceFrame *f,
		       const Parapet__Envelope *e)
{
	uint64_t real = f->ts_ns + (uint64_t)o->mono_to_real;
	time_t sec = (time_t)(real / 1000000000u);
	const ProtobufCMessageDescriptor *bt;
	const ProtobufCEnumValue *kind;
	ProtobufCMessage *body = NULL;
	char when[32];
	struct tm tm;

	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	kind = protobuf_c_enum_descriptor_get_value(
	    &parapet__envelope__kind__descriptor, e->kind);
	printf(
	    "%s.%06u %s -> %s %s %s size=%zu seq=%llu corr=%llu "
	    "[%s %s]\n",
	    when, (unsigned)(real % 1000000000u / 1000),
	    e->source ? e->source : "?", e->destination ? e->destination : "?",
	    kind ? kind->name : "?", e->method ? e->method : "-", e->body.len,
	    (unsigned long long)e->seq, (unsigned long long)e->correlation_id,
	    f->service, f->direction ? "received" : "sent");
	bt = pbjson_body_type(diag_registry(), (int)e->kind, e->method);
	if (bt != NULL && pbjson_unpack(bt, e->body.data, e->body.len,
					TRACE_FRAME_MAX, NULL, &body) == 0) {
		printf("    %s\n", bt->name);
		pbjson_print_message(stdout, body, 2);
		protobuf_c_message_free_unpacked(body, NULL);
	} else if (e->body.len)
		printf("    body: %zu bytes (undecoded)\n", e->body.len);
}

static void trace_json(const Parapet__TraceFrame *f, const uint8_t *env,
		       size_t len)
{
	json_t *j = NULL;

	pbjson_decode_envelope(diag_registry(), env, len, &j);
	j = json_pack("{s:I, s:s, s:s, s:o*}", "ts_ns", (json_int_t)f->ts_ns,
		      "service", f->service, "direction",
		      f->direction ? "received" : "sent", "envelope", j);
	jsonout_print_line(stdout, j);
	json_decref(j);
}

/* One frame from diagd: decoded, filtered, shown and written. */
static void trace_frame(struct trace_opts *o, const ProtobufCBinaryData *b)
{
	Parapet__TraceFrame *f = NULL;
	Parapet__Envelope *e = NULL;
	char comment[128];

	if (pbjson_unpack(&parapet__trace_frame__descriptor, b->data, b->len,
			  TRACE_FRAME_MAX, NULL, (ProtobufCMessage **)&f) ||
	    !f->has_envelope || !f->service ||
	    pbjson_unpack(&parapet__envelope__descriptor, f->envelope.data,
			  f->envelope.len, TRACE_FRAME_MAX, NULL,
			  (ProtobufCMessage **)&e))
		goto out;
	if (!trace_match(o, f->service, e) ||
	    (o->count && o->shown >= o->count))
		goto out;
	o->shown++;
	if (o->w != NULL) {
		snprintf(comment, sizeof(comment), "%s %s", f->service,
			 f->direction ? "received" : "sent");
		pcapng_write_envelope(
		    o->w, f->ts_ns + (uint64_t)o->mono_to_real,
		    e->source ? e->source : "",
		    e->destination ? e->destination : "", f->envelope.data,
		    f->envelope.len, comment);
	}
	if (o->json)
		trace_json(f, f->envelope.data, f->envelope.len);
	else
		trace_text(o, f, e);
	fflush(stdout);
out:
	if (e != NULL)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	if (f != NULL)
		protobuf_c_message_free_unpacked(&f->base, NULL);
}

struct trace_order {
	uint64_t ts;
	size_t i;
};

static int trace_cmp(const void *a, const void *b)
{
	const struct trace_order *x = a, *y = b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The frames of one reply in time order (taps publish independently). */
static void trace_batch(struct trace_opts *o, const Parapet__DiagTraceReply *r)
{
	struct trace_order ord[64];
	size_t n = r->n_frames < 64 ? r->n_frames : 64;

	for (size_t i = 0; i < n; i++) {
		Parapet__TraceFrame *f = NULL;

		ord[i] = (struct trace_order){ UINT64_MAX, i };
		if (pbjson_unpack(&parapet__trace_frame__descriptor,
				  r->frames[i].data, r->frames[i].len,
				  TRACE_FRAME_MAX, NULL,
				  (ProtobufCMessage **)&f) == 0) {
			ord[i].ts = f->ts_ns;
			protobuf_c_message_free_unpacked(&f->base, NULL);
		}
	}
	qsort(ord, n, sizeof(ord[0]), trace_cmp);
	for (size_t i = 0; i < n; i++)
		trace_frame(o, &r->frames[ord[i].i]);
}

static void trace_report_drops(struct trace_opts *o,
			       const Parapet__DiagTraceReply *r)
{
	uint64_t lost = o->lost + r->lost;

	if (r->lost == 0 && r->tap_dropped <= o->tap_dropped)
		return;
	if (r->tap_dropped > o->tap_dropped || r->lost) {
		fprintf(stderr,
			"parapet-diag: trace: %llu frames dropped (taps' "
			"rings full), %llu lost in diagd's ring\n",
			(unsigned long long)(r->tap_dropped - o->tap_dropped),
			(unsigned long long)r->lost);
	}
	o->lost = lost;
	o->tap_dropped = r->tap_dropped;
}

static int trace_open_w(struct trace_opts *o)
{
	char lua[4200];
	FILE *lf;

	/* The capture holds the console, input included: for its owner. */
	int fd = open(o->wfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd >= 0 && fchmod(fd, 0600) != 0) {
		close(fd);
		fd = -1;
	}
	o->wf = fd >= 0 ? fdopen(fd, "wb") : NULL;
	o->w = o->wf ? pcapng_open_stream(o->wf, "parapet-diag trace") : NULL;
	if (o->w == NULL) {
		fprintf(stderr, "parapet-diag: trace: %s: %s\n", o->wfile,
			strerror(errno));
		return -1;
	}
	snprintf(lua, sizeof(lua), "%s.lua", o->wfile);
	lf = fopen(lua, "w");
	o->lua_ok = lf != NULL && pcapng_write_lua(lf, diag_registry()) == 0;
	if (lf != NULL && fclose(lf) != 0)
		o->lua_ok = false;
	if (!o->lua_ok)
		fprintf(stderr, "parapet-diag: %s: cannot write\n", lua);
	return 0;
}

/* The tshark command that shows the capture with typed bodies: its own
 * FILE.pcapng.lua, else the installed dissector. */
static void trace_print_decode(const struct trace_opts *o)
{
	char lua[PATH_MAX + 64];

	if (o->lua_ok)
		snprintf(lua, sizeof(lua), "%s.lua", o->wfile);
	else
		snprintf(lua, sizeof(lua), "%s/parapet.lua", trace_share_dir());
	fprintf(stderr, "parapet-diag: %ld frames in %s; decode with:\n",
		o->shown, o->wfile);
	fprintf(stderr, PCAPNG_TSHARK_LUA_FMT "\n", o->wfile, lua,
		trace_proto_dir());
}

/* --svc names an endpoint of the registry: a misspelt one would match
 * no frame and leave a -f trace silent for ever. */
static int trace_check_svc(const char *svc)
{
	if (registry_find(svc) != NULL)
		return 0;
	fprintf(stderr,
		"parapet-diag: trace: --svc '%s': no such service "
		"(one of:",
		svc);
	for (size_t i = 0; i < registry_count; i++)
		fprintf(stderr, " %s", registry[i].name);
	fprintf(stderr, ")\n");
	return -1;
}

static int trace_parse(struct trace_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "svc", required_argument, NULL, 's' },
		{ "method", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fc:w:", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->follow = true;
			break;
		case 'c':
			if (parse_uint(optarg, 1, 1000000000, &v) != 0) {
				fprintf(stderr,
					"parapet-diag: trace: -c '%s': want a "
					"count of 1 or more\n",
					optarg);
				return 2;
			}
			o->count = (long)v;
			break;
		case 'w':
			o->wfile = optarg;
			break;
		case 's':
			if (trace_check_svc(optarg) != 0)
				return 2;
			o->svc = optarg;
			break;
		case 'm':
			o->method = optarg;
			break;
		case 'h':
			trace_help();
			return 1;
		default:
			return diag_bad_option("trace", c, argv);
		}
	}
	if (optind < argc)
		return diag_unexpected("trace", argv[optind]);
	if (!o->follow && o->count <= 0)
		o->count = 20;
	return 0;
}

static int64_t trace_clock_offset(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - m.tv_sec) * 1000000000 +
	       (r.tv_nsec - m.tv_nsec);
}

int diag_trace(struct diag *d, int argc, char **argv)
{
	static struct trace_opts o;
	Parapet__DiagTraceRequest q = PARAPET__DIAG_TRACE_REQUEST__INIT;
	int rc = trace_parse(&o, argc, argv);
	uint64_t last_shown;

	if (rc != 0)
		return rc == 1 ? 0 : rc;
	o.json = d->json;
	o.mono_to_real = trace_clock_offset();
	/* the VM first: no FILE.pcapng is left by a trace that cannot run */
	if (diag_open(d) != 0 || (o.wfile != NULL && trace_open_w(&o) != 0))
		return 1;
	signal(SIGINT, trace_on_int);
	q.has_cursor = q.has_max_frames = q.has_wait_ms = 1;
	q.max_frames = 64;
	q.wait_ms = 1000;
	last_shown = util_now_ns();
	while (!trace_stop && (!o.count || o.shown < o.count) &&
	       (o.follow || util_now_ns() - last_shown < TRACE_IDLE_NS)) {
		Parapet__DiagTraceReply *r = NULL;
		long shown;

		if ((rc = diag_call(d, "Trace", &q.base,
				    (ProtobufCMessage **)&r)) != 0) {
			if (!o.follow)
				break;
			sleep(1); /* diagd restarting: keep following */
			continue;
		}
		q.cursor = r->cursor;
		trace_report_drops(&o, r);
		shown = o.shown;
		trace_batch(&o, r);
		/* frames the filters drop are silence too */
		if (o.shown > shown)
			last_shown = util_now_ns();
		ipc_free(&r->base);
	}
	if (o.w != NULL) {
		pcapng_close(o.w);
		fclose(o.wf);
		trace_print_decode(&o);
	}
	return rc != 0 ? 1 : 0;
}
