/* A boot's stages from the partition's timeline.json, caught by inotify
 * on the run directory while `parapet run` lasts (bench/boot_stages.h). */
#include "bench/boot_stages.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "lib/registry.h"
#include "lib/rundir.h"

#define TIMELINE_MAX (64 << 10)

static const char *const stage_names[BOOT_STAGES] = {
	"exec to parapet run's main",
	"host set-up (run dir, ids, namespaces) to the shim",
	"shim (parapet-boot: image, device tree)",
	"shim end to init",
	"init to vmworker and policy ready (the guest starts)",
	"guest boot to its first console byte",
	"power-off and teardown to exit",
};

/* One boot being watched. */
struct watch {
	char dir[PATH_MAX]; /* base/name */
	const char *name;
	int in_fd;	       /* inotify */
	int dir_wd;	       /* on dir, once made; -1 */
	char tl[TIMELINE_MAX]; /* the last timeline.json read */
	double first_out_ns;   /* first stdout byte; 0 */
};

static void read_timeline(struct watch *w)
{
	char path[PATH_MAX + 16];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/timeline.json", w->dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return; /* already gone: the last one read stays */
	n = read(fd, w->tl, sizeof(w->tl) - 1);
	close(fd);
	if (n > 0)
		w->tl[n] = '\0';
}

/* The run directory appearing in base, timeline.json renamed into it. */
static void on_events(struct watch *w)
{
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;

	while ((n = read(w->in_fd, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *e =
			    (const struct inotify_event *)(buf + off);

			off += (ssize_t)(sizeof(*e) + e->len);
			if (e->len == 0)
				continue;
			if (w->dir_wd < 0 && !strcmp(e->name, w->name))
				w->dir_wd = inotify_add_watch(
				    w->in_fd, w->dir, IN_MOVED_TO | IN_ONLYDIR);
			else if (e->wd == w->dir_wd &&
				 !strcmp(e->name, "timeline.json"))
				read_timeline(w);
		}
}

static void drain(struct watch *w, int *fd)
{
	char buf[4096];
	ssize_t n = read(*fd, buf, sizeof(buf));

	if (n > 0 && w->first_out_ns == 0)
		w->first_out_ns = bench_now_ns();
	if (n == 0 || (n < 0 && errno != EINTR)) {
		close(*fd);
		*fd = -1;
	}
}

/* Until pid exits: its status, or -1. */
static int follow(struct watch *w, pid_t pid, int out_fd)
{
	int pidfd = pidfd_open(pid, 0), status = -1;

	while (pidfd >= 0) {
		struct pollfd p[3] = { { .fd = w->in_fd, .events = POLLIN },
				       { .fd = pidfd, .events = POLLIN },
				       { .fd = out_fd, .events = POLLIN } };

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			on_events(w);
		if (p[2].revents & (POLLIN | POLLHUP))
			drain(w, &out_fd);
		if (p[1].revents & POLLIN)
			break;
	}
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	if (pidfd >= 0)
		close(pidfd);
	while (out_fd >= 0)
		drain(w, &out_fd);
	return status;
}

static double stamp(json_t *root, const char *key)
{
	json_t *v = json_object_get(root, key);

	return json_is_integer(v) ? (double)json_integer_value(v) : 0;
}

/* The stamps in order: t0 (fork), the timeline's, first output, end. */
static void fill(struct boot_stages *st, const struct watch *w, double t0,
		 double end)
{
	json_t *root = json_loads(w->tl, 0, NULL), *ready;
	double t[BOOT_STAGES + 1] = { t0 };

	st->ok = false;
	if (root == NULL)
		return;
	ready = json_object_get(root, "service_ready");
	t[1] = stamp(root, "run_start");
	t[2] = stamp(root, "shim_start");
	t[3] = stamp(root, "shim_end");
	t[4] = stamp(root, "init_start");
	/* the guest starts once both are ready (host/timeline.c) */
	t[5] = stamp(ready, SVC_NAME_VMWORKER);
	if (stamp(ready, SVC_NAME_POLICY) > t[5])
		t[5] = stamp(ready, SVC_NAME_POLICY);
	t[6] = w->first_out_ns;
	t[7] = end;
	json_decref(root);
	for (int i = 0; i < BOOT_STAGES; i++) {
		if (t[i + 1] < t[i])
			return; /* a stamp missing, or out of order */
		st->ms[i] = (t[i + 1] - t[i]) / 1e6;
	}
	st->ok = true;
}

double boot_stages_run(const char *const argv[], const char *name,
		       struct boot_stages *st)
{
	static struct watch w;
	char base[PATH_MAX - 64], err[128];
	double t0, end;
	int out_fd, status;
	pid_t pid;

	st->ok = false;
	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0)
		return -1;
	w = (struct watch){ .name = name, .dir_wd = -1 };
	snprintf(w.dir, sizeof(w.dir), "%s/%s", base, name);
	w.in_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (w.in_fd < 0 || inotify_add_watch(w.in_fd, base, IN_CREATE) < 0) {
		if (w.in_fd >= 0)
			close(w.in_fd);
		return -1;
	}
	t0 = bench_now_ns();
	pid = proc_spawn_reader(argv, &out_fd);
	status = pid > 0 ? follow(&w, pid, out_fd) : -1;
	end = bench_now_ns();
	close(w.in_fd);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench: %s exited with status 0x%x\n", argv[0],
			status);
		return -1;
	}
	fill(st, &w, t0, end);
	return end - t0;
}

void boot_stages_print(const char *metric, const struct boot_stages *st,
		       size_t n, double total_ms)
{
	double v[64], sum = 0;
	size_t m = 0;

	for (size_t i = 0; i < n && m < 64; i++)
		m += st[i].ok;
	printf("%s: where the time goes (medians of %zu boots with a "
	       "timeline):\n",
	       metric, m);
	if (m == 0)
		return;
	for (int s = 0; s < BOOT_STAGES; s++) {
		size_t k = 0;
		double med;

		for (size_t i = 0; i < n && k < 64; i++)
			if (st[i].ok)
				v[k++] = st[i].ms[s];
		med = bench_median(v, k);
		sum += med;
		printf("  %8.2f ms  %s\n", med, stage_names[s]);
	}
	printf("  %8.2f ms  sum of the stages (the boots' median: %.2f ms)\n",
	       sum, total_ms);
}
