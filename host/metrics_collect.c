/* `parapet metrics`' collector: finds the live VMs under the run
 * directory base, reads what the host side keeps of each (status.json,
 * timeline.json) and asks each VM's diagd for its Inspect tree, the VMs
 * in parallel, over clients kept open between scrapes. */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.pb-c.h"
#include "host/metrics_collect.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/rundir.h"
#include "lib/util.h"

/* One VM the collector has seen, kept across scrapes. */
struct mcache {
	bool used, seen;
	char name[MCOLLECT_NAME_MAX];
	pid_t run_pid; /* a new `parapet run` of the same name starts anew */
	struct ipc_client *diag;
	struct mcollect_hist blackout;
};

struct mcollect {
	char base[3000];
	struct mcache cache[MCOLLECT_VMS_MAX];
};

struct mcollect *mcollect_open(const char *base)
{
	struct mcollect *m = calloc(1, sizeof(*m));

	if (m != NULL)
		snprintf(m->base, sizeof(m->base), "%s", base);
	return m;
}

static void mcache_drop(struct mcache *c)
{
	if (c->diag != NULL)
		ipc_client_close(c->diag);
	memset(c, 0, sizeof(*c));
}

void mcollect_close(struct mcollect *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < MCOLLECT_VMS_MAX; i++)
		if (m->cache[i].used)
			mcache_drop(&m->cache[i]);
	free(m);
}

static struct mcache *mcache_get(struct mcollect *m, const char *name,
				 pid_t run_pid)
{
	struct mcache *free_slot = NULL;

	for (size_t i = 0; i < MCOLLECT_VMS_MAX; i++) {
		struct mcache *c = &m->cache[i];

		if (!c->used) {
			if (free_slot == NULL)
				free_slot = c;
			continue;
		}
		if (!strcmp(c->name, name) && c->run_pid == run_pid)
			return c;
	}
	if (free_slot != NULL) {
		free_slot->used = true;
		free_slot->run_pid = run_pid;
		snprintf(free_slot->name, sizeof(free_slot->name), "%s", name);
	}
	return free_slot;
}

void mcollect_add_servicing(struct mcollect_hist *h, json_t *timeline)
{
	long long last = h->last_at;
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(timeline, "servicing"), i, e)
	{
		long long at = mcollect_jint(json_object_get(e, "at"));
		long long ns = mcollect_jint(json_object_get(e, "blackout_ns"));
		double s = (double)(ns > 0 ? ns : 0) / 1e9;

		if (at <= h->last_at)
			continue; /* counted at an earlier scrape */
		for (size_t b = 0; b < MCOLLECT_BUCKETS; b++)
			if (s <= mcollect_bounds[b])
				h->cumulative[b]++;
		h->count++;
		h->sum += s;
		if (at > last)
			last = at;
	}
	h->last_at = last;
}

/* ------------------------------------------------------ host side */

static json_t *load_json(const char *dir, const char *file)
{
	char path[4300];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return json_load_file(path, 0, NULL);
}

/* The VM of run directory base/name when its `parapet run` lives. */
static int host_side(struct mcollect *m, const char *name,
		     struct mcollect_vm *v, struct mcache **cp)
{
	char dir[4200];
	pid_t pid;
	json_t *st, *tl;
	const char *state;
	long long start_ns;

	snprintf(dir, sizeof(dir), "%s/%s", m->base, name);
	pid = rundir_read_pid(dir, "pid");
	if (!rundir_pid_alive(pid) ||
	    (st = load_json(dir, "status.json")) == NULL)
		return -1;
	if ((*cp = mcache_get(m, name, pid)) == NULL) {
		json_decref(st);
		return -1; /* more VMs than MCOLLECT_VMS_MAX */
	}
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	state = json_string_value(json_object_get(st, "state"));
	snprintf(v->host_state, sizeof(v->host_state), "%s",
		 state ? state : "");
	start_ns = mcollect_jint(json_object_get(st, "start_ns"));
	if (start_ns > 0 && (uint64_t)start_ns <= util_now_ns())
		v->uptime_s =
		    (double)(util_now_ns() - (uint64_t)start_ns) / 1e9;
	v->start_time = mcollect_jint(json_object_get(st, "start_time"));
	json_decref(st);
	tl = load_json(dir, "timeline.json");
	mcollect_add_servicing(&(*cp)->blackout, tl);
	json_decref(tl);
	v->blackout = &(*cp)->blackout;
	(*cp)->seen = true;
	return 0;
}

/* --------------------------------------------------------- diagd */

struct inspect_job {
	const char *base;
	struct mcache *c;
	struct mcollect_vm *v;
	pthread_t thread;
	bool started;
};

/* diagd's Inspect over RUN_DIR/diag/diag.sock. The client opens only
 * once the socket exists (a call on a client that cannot connect would
 * wait its whole timeout); ipc redials it after a diagd restart. */
static void *inspect_one(void *arg)
{
	struct inspect_job *j = arg;
	char sock[4300];
	struct ipc_client_config cfg = {
		.name = "metrics",
		.path = sock,
		.destination = SVC_NAME_DIAGD,
		.service = &parapet__diag__descriptor,
		.timeout_ms = MCOLLECT_INSPECT_MS,
		.recv_max = 4u << 20,
	};
	Parapet__DiagInspectRequest q = PARAPET__DIAG_INSPECT_REQUEST__INIT;
	Parapet__DiagInspectReply *r = NULL;

	snprintf(sock, sizeof(sock), "%s/%s/diag/diag.sock", j->base,
		 j->v->name);
	if (j->c->diag == NULL && access(sock, W_OK) == 0)
		j->c->diag = ipc_client_open(&cfg);
	if (j->c->diag == NULL)
		return NULL;
	if (ipc_call(j->c->diag, "Inspect", &q.base, (ProtobufCMessage **)&r) !=
	    0)
		return NULL;
	if (r->json != NULL)
		j->v->inspect = json_loads(r->json, 0, NULL);
	if (!json_is_object(j->v->inspect)) {
		json_decref(j->v->inspect);
		j->v->inspect = NULL;
	}
	ipc_free(&r->base);
	return NULL;
}

static void inspect_all(struct inspect_job *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		jobs[i].started = pthread_create(&jobs[i].thread, NULL,
						 inspect_one, &jobs[i]) == 0;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].thread, NULL);
		else
			inspect_one(&jobs[i]);
	}
}

/* ------------------------------------------------------- scrape */

static size_t find_vms(struct mcollect *m, struct mcollect_vm *vms,
		       struct inspect_job *jobs)
{
	DIR *d = opendir(m->base);
	struct dirent *de;
	size_t n = 0;

	while (d != NULL && n < MCOLLECT_VMS_MAX && (de = readdir(d)) != NULL) {
		if (!rundir_name_ok(de->d_name) ||
		    host_side(m, de->d_name, &vms[n], &jobs[n].c) != 0)
			continue;
		jobs[n].base = m->base;
		jobs[n].v = &vms[n];
		n++;
	}
	if (d != NULL)
		closedir(d);
	return n;
}

int mcollect_scrape(struct mcollect *m, FILE *out, enum metrics_format fmt)
{
	static struct mcollect_vm vms[MCOLLECT_VMS_MAX];
	static struct inspect_job jobs[MCOLLECT_VMS_MAX];
	size_t n;
	int rc;

	for (size_t i = 0; i < MCOLLECT_VMS_MAX; i++)
		m->cache[i].seen = false;
	memset(jobs, 0, sizeof(jobs));
	n = find_vms(m, vms, jobs);
	inspect_all(jobs, n);
	rc = mcollect_write(out, fmt, vms, n);
	for (size_t i = 0; i < n; i++)
		json_decref(vms[i].inspect);
	/* VMs gone since the last scrape: their clients close */
	for (size_t i = 0; i < MCOLLECT_VMS_MAX; i++)
		if (m->cache[i].used && !m->cache[i].seen)
			mcache_drop(&m->cache[i]);
	return rc;
}
