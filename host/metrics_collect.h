/* `parapet metrics`' collector: one exposition for every VM whose run
 * directory the user sees, from the host side of each partition
 * (status.json, timeline.json) and diagd's Inspect through the VM's
 * diag.sock, each series labelled vm="NAME" (docs/operators.md lists the
 * metrics). Servicing blackouts are summed here into a histogram that
 * lives as long as the collector, since timeline.json keeps only the last
 * servicings. */
#ifndef PARAPET_HOST_METRICS_COLLECT_H
#define PARAPET_HOST_METRICS_COLLECT_H

#include <stdio.h>

#include <jansson.h>

#include "lib/metrics.h"

#define MCOLLECT_VMS_MAX    64
#define MCOLLECT_BUCKETS    12
#define MCOLLECT_INSPECT_MS 4000 /* diagd's Inspect, per VM, in parallel */
#define MCOLLECT_NAME_MAX   64

/* Servicing blackouts of one VM, in seconds. */
struct mcollect_hist {
	uint64_t cumulative[MCOLLECT_BUCKETS];
	uint64_t count;
	double sum;
	long long last_at; /* timeline stamp of the last servicing counted */
};
/* The histogram's upper bounds in seconds. */
extern const double mcollect_bounds[MCOLLECT_BUCKETS];

/* What one scrape knows of one VM. */
struct mcollect_vm {
	char name[MCOLLECT_NAME_MAX];
	char host_state[16];  /* status.json: booting, running, stopping */
	double uptime_s;      /* since `parapet run` started */
	long long start_time; /* Unix seconds */
	json_t *inspect;      /* diagd's tree, or NULL: no answer */
	struct mcollect_hist *blackout;
};

struct mcollect;

/* A collector over the run directories under base (rundir_base()). */
struct mcollect *mcollect_open(const char *base);
void mcollect_close(struct mcollect *m);

/* Writes the exposition of every live VM under base to out. 0, or a
 * metrics_err. One scrape at a time. */
int mcollect_scrape(struct mcollect *m, FILE *out, enum metrics_format fmt);

/* Writes the families for vms[0..n) (the scrape's second half; for tests
 * with VMs made up). */
int mcollect_write(FILE *out, enum metrics_format fmt,
		   const struct mcollect_vm *vms, size_t n);

/* Adds timeline.json's servicings past h->last_at to h. */
void mcollect_add_servicing(struct mcollect_hist *h, json_t *timeline);

/* An integer of diagd's tree or a host file: pbjson writes a uint64 over
 * INT64_MAX as a decimal string. Anything else is 0. */
long long mcollect_jint(json_t *j);

/* The format an Accept header asks for: OpenMetrics when it names
 * application/openmetrics-text with a q above 0, else 0.0.4. */
enum metrics_format mcollect_negotiate(const char *accept);

#endif
