/* `parapet metrics`' exposition: the metric families of every VM of a
 * scrape, in base units (seconds, bytes), from the values the collector
 * gathered (metrics_collect.c), and the format an Accept header asks
 * for. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host/metrics_collect.h"

/* Servicing blackouts: a millisecond to five seconds (emu is slow). */
const double mcollect_bounds[MCOLLECT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

/* policy's lifecycle states, then the two the host adds: stopping
 * (`parapet run` is powering the partition off) and unknown (diagd did
 * not answer: the partition is still booting, or diagd is down). */
static const char *const vm_states[] = {
	"starting", "running", "paused",   "saving",  "restoring",
	"stopped",  "crashed", "stopping", "unknown",
};

long long mcollect_jint(json_t *j)
{
	if (json_is_integer(j))
		return json_integer_value(j);
	if (json_is_string(j))
		return strtoll(json_string_value(j), NULL, 10);
	return 0;
}

static json_t *jget(json_t *root, const char *a, const char *b, const char *c)
{
	json_t *j = json_object_get(root, a);

	if (b != NULL)
		j = json_object_get(j, b);
	if (c != NULL)
		j = json_object_get(j, c);
	return j;
}

static const char *vm_state(const struct mcollect_vm *v)
{
	const char *p =
	    json_string_value(jget(v->inspect, "policy", "status", "state"));

	if (!strcmp(v->host_state, "stopping"))
		return "stopping";
	for (size_t i = 0; p != NULL && i < 7; i++)
		if (!strcmp(p, vm_states[i]))
			return vm_states[i];
	return "unknown";
}

/* Up while the guest runs; a servicing (saving, restoring) keeps it up,
 * its blackout is measured apart. */
static int vm_up(const struct mcollect_vm *v)
{
	const char *s = vm_state(v);

	return !strcmp(s, "running") || !strcmp(s, "saving") ||
	       !strcmp(s, "restoring");
}

/* ------------------------------------------------------- per VM */

static void emit_up(struct metrics_writer *w, const struct mcollect_vm *v,
		    struct metrics_label *l)
{
	metrics_gauge_int(w, l, 1, vm_up(v));
}

static void emit_state(struct metrics_writer *w, const struct mcollect_vm *v,
		       struct metrics_label *l)
{
	const char *cur = vm_state(v);

	l[1].name = "state";
	for (size_t i = 0; i < sizeof(vm_states) / sizeof(*vm_states); i++) {
		l[1].value = vm_states[i];
		metrics_gauge_int(w, l, 2, cur == vm_states[i]);
	}
}

static void emit_start(struct metrics_writer *w, const struct mcollect_vm *v,
		       struct metrics_label *l)
{
	metrics_gauge_int(w, l, 1, v->start_time);
}

static void emit_uptime(struct metrics_writer *w, const struct mcollect_vm *v,
			struct metrics_label *l)
{
	metrics_gauge(w, l, 1, v->uptime_s);
}

static void emit_diag_up(struct metrics_writer *w, const struct mcollect_vm *v,
			 struct metrics_label *l)
{
	metrics_gauge_int(w, l, 1, v->inspect != NULL);
}

static void emit_console(struct metrics_writer *w, const struct mcollect_vm *v,
			 struct metrics_label *l)
{
	json_t *off = jget(v->inspect, "vmworker", "vm", "console_offset");

	if (off != NULL)
		metrics_counter(w, l, 1, (uint64_t)mcollect_jint(off));
}

static void emit_vp_exits(struct metrics_writer *w, const struct mcollect_vm *v,
			  struct metrics_label *l)
{
	static const char *const kinds[] = { "pio", "mmio", "unknown" };
	json_t *vps = jget(v->inspect, "vmworker", "vm", "vps"), *vp;
	char key[32], index[24];
	size_t i;

	json_array_foreach(vps, i, vp)
	{
		snprintf(index, sizeof(index), "%lld",
			 mcollect_jint(json_object_get(vp, "index")));
		l[1] = (struct metrics_label){ "vp", index };
		l[2].name = "kind";
		for (size_t k = 0; k < 3; k++) {
			snprintf(key, sizeof(key), "exits_%s", kinds[k]);
			l[2].value = kinds[k];
			metrics_counter(
			    w, l, 3,
			    (uint64_t)mcollect_jint(json_object_get(vp, key)));
		}
	}
}

static void emit_blackout(struct metrics_writer *w, const struct mcollect_vm *v,
			  struct metrics_label *l)
{
	const struct mcollect_hist *b = v->blackout;
	struct metrics_histogram h = {
		mcollect_bounds, b->cumulative, MCOLLECT_BUCKETS,
		b->count,	 b->sum,
	};

	metrics_histogram(w, l, 1, &h);
}

/* -------------------------------------------------- per service */

/* Calls fn for each service node of the VM's tree (every key but init),
 * with l[1] service="NAME". */
static void each_service(struct metrics_writer *w, const struct mcollect_vm *v,
			 struct metrics_label *l,
			 void (*fn)(struct metrics_writer *, json_t *,
				    struct metrics_label *))
{
	const char *name;
	json_t *node;

	json_object_foreach(v->inspect, name, node)
	{
		if (!strcmp(name, "init") ||
		    !json_is_object(json_object_get(node, "process")))
			continue;
		l[1] = (struct metrics_label){ "service", name };
		fn(w, node, l);
	}
}

static void svc_up(struct metrics_writer *w, json_t *n, struct metrics_label *l)
{
	const char *s = json_string_value(jget(n, "process", "state", NULL));

	metrics_gauge_int(w, l, 2, s != NULL && !strcmp(s, "running"));
}

/* Every start after the first: supervision, `parapet-diag restart` and
 * servicing each start a new instance. */
static void svc_restarts(struct metrics_writer *w, json_t *n,
			 struct metrics_label *l)
{
	long long spawns = mcollect_jint(jget(n, "process", "spawns", NULL));

	metrics_counter(w, l, 2, spawns > 1 ? (uint64_t)(spawns - 1) : 0);
}

static void svc_exits(struct metrics_writer *w, json_t *n,
		      struct metrics_label *l)
{
	metrics_counter(
	    w, l, 2,
	    (uint64_t)mcollect_jint(jget(n, "process", "deaths", NULL)));
}

static void svc_rss(struct metrics_writer *w, json_t *n,
		    struct metrics_label *l)
{
	metrics_gauge_int(
	    w, l, 2, mcollect_jint(jget(n, "process", "rss_kib", NULL)) * 1024);
}

static void svc_calls(struct metrics_writer *w, json_t *n,
		      struct metrics_label *l)
{
	json_t *r = jget(n, "ipc", "received", NULL);

	if (r != NULL)
		metrics_counter(w, l, 2, (uint64_t)mcollect_jint(r));
}

static void svc_errors(struct metrics_writer *w, json_t *n,
		       struct metrics_label *l)
{
	static const char *const keys[][2] = {
		{ "err_malformed", "malformed" },
		{ "err_unknown_method", "unknown_method" },
		{ "err_denied", "denied" },
		{ "err_too_big", "too_big" },
		{ "err_handler", "handler" },
		{ "oversize_drops", "oversize_drop" },
		{ "send_failures", "send_failure" },
	};
	json_t *ipc = json_object_get(n, "ipc");

	l[2].name = "reason";
	for (size_t i = 0; ipc != NULL && i < sizeof(keys) / sizeof(*keys);
	     i++) {
		l[2].value = keys[i][1];
		metrics_counter(
		    w, l, 3,
		    (uint64_t)mcollect_jint(json_object_get(ipc, keys[i][0])));
	}
}

#define SERVICE_EMITTER(fn)                                                    \
	static void emit_##fn(struct metrics_writer *w,                        \
			      const struct mcollect_vm *v,                     \
			      struct metrics_label *l)                         \
	{                                                                      \
		each_service(w, v, l, fn);                                     \
	}
SERVICE_EMITTER(svc_up)
SERVICE_EMITTER(svc_restarts)
SERVICE_EMITTER(svc_exits)
SERVICE_EMITTER(svc_rss)
SERVICE_EMITTER(svc_calls)
SERVICE_EMITTER(svc_errors)

/* ------------------------------------------------------ families */

struct family {
	const char *name;
	enum metrics_type type;
	const char *help;
	void (*emit)(struct metrics_writer *, const struct mcollect_vm *,
		     struct metrics_label *);
};

static const struct family families[] = {
	{ "parapet_vm_up", METRICS_GAUGE,
	  "1 while the guest runs (policy's state running, or saving or "
	  "restoring during a servicing), else 0.",
	  emit_up },
	{ "parapet_vm_state", METRICS_GAUGE,
	  "1 for the VM's current state: policy's lifecycle state, stopping "
	  "(parapet run powers it off) or unknown (diagd gave no answer).",
	  emit_state },
	{ "parapet_vm_start_time_seconds", METRICS_GAUGE,
	  "When parapet run started the partition, in seconds since the "
	  "Unix epoch.",
	  emit_start },
	{ "parapet_vm_uptime_seconds", METRICS_GAUGE,
	  "Seconds since parapet run started the partition.", emit_uptime },
	{ "parapet_vm_diag_up", METRICS_GAUGE,
	  "1 when the partition's diagd answered this scrape; without it the "
	  "per-service, console and VP series of the VM are missing.",
	  emit_diag_up },
	{ "parapet_vm_console_bytes", METRICS_COUNTER,
	  "Bytes the guest wrote to its console (vmworker's console stream "
	  "offset).",
	  emit_console },
	{ "parapet_vp_exits", METRICS_COUNTER,
	  "VM exits of each virtual processor by kind (port I/O, MMIO, "
	  "other), since vmworker's current instance started.",
	  emit_vp_exits },
	{ "parapet_servicing_blackout_seconds", METRICS_HISTOGRAM,
	  "Guest blackout of each servicing (vmworker paused to resumed), "
	  "counted since this exporter first saw the VM.",
	  emit_blackout },
	{ "parapet_service_up", METRICS_GAUGE,
	  "1 when the partition's service is running.", emit_svc_up },
	{ "parapet_service_restarts", METRICS_COUNTER,
	  "Starts of the service after its first (supervision restarts, "
	  "parapet-diag restart, servicing).",
	  emit_svc_restarts },
	{ "parapet_service_exits", METRICS_COUNTER,
	  "Exits of the service's processes, whatever their cause.",
	  emit_svc_exits },
	{ "parapet_service_resident_memory_bytes", METRICS_GAUGE,
	  "Resident set size of the service's running instance in bytes.",
	  emit_svc_rss },
	{ "parapet_ipc_calls", METRICS_COUNTER,
	  "Requests the service's IPC endpoint received, since the current "
	  "instance started.",
	  emit_svc_calls },
	{ "parapet_ipc_errors", METRICS_COUNTER,
	  "Requests the service's IPC endpoint refused or failed, by reason, "
	  "since the current instance started.",
	  emit_svc_errors },
};

int mcollect_write(FILE *out, enum metrics_format fmt,
		   const struct mcollect_vm *vms, size_t n)
{
	struct metrics_writer w;
	struct metrics_label l[4];

	metrics_init_format(&w, out, fmt);
	metrics_family(&w, "parapet_metrics_vms", METRICS_GAUGE,
		       "VMs this scrape found: run directories of live "
		       "parapet run processes the user can see.");
	metrics_gauge_int(&w, NULL, 0, (int64_t)n);
	for (size_t f = 0; f < sizeof(families) / sizeof(*families); f++) {
		metrics_family(&w, families[f].name, families[f].type,
			       families[f].help);
		for (size_t i = 0; i < n; i++) {
			l[0] = (struct metrics_label){ "vm", vms[i].name };
			families[f].emit(&w, &vms[i], l);
		}
	}
	return metrics_finish(&w);
}

/* ---------------------------------------------------- negotiation */

/* The q of one Accept element ("type/sub;p=v;q=0.5"): 1 without one. */
static double accept_q(const char *elem)
{
	const char *q = elem;

	while ((q = strchr(q, ';')) != NULL) {
		q++;
		q += strspn(q, " \t");
		if ((q[0] == 'q' || q[0] == 'Q') && q[1] == '=')
			return strtod(q + 2, NULL);
	}
	return 1;
}

static int accept_is(const char *elem, const char *type)
{
	size_t n = strlen(type);

	return !strncasecmp(elem, type, n) &&
	       (elem[n] == ';' || elem[n] == ' ' || elem[n] == '\t' ||
		elem[n] == '\0');
}

enum metrics_format mcollect_negotiate(const char *accept)
{
	double q_om = 0, q_text = 0;
	const char *p = accept;
	char elem[256];

	while (p != NULL && *p != '\0') {
		size_t len;
		double q;

		p += strspn(p, " \t,");
		len = strcspn(p, ",");
		if (len == 0)
			break;
		snprintf(elem, sizeof(elem), "%.*s", (int)len, p);
		p += len;
		q = accept_q(elem);
		if (accept_is(elem, "application/openmetrics-text") && q > q_om)
			q_om = q;
		if (accept_is(elem, "text/plain") && q > q_text)
			q_text = q;
	}
	return q_om > 0 && q_om >= q_text ? METRICS_OPENMETRICS
					  : METRICS_PROMETHEUS_TEXT;
}
