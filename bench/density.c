/* bench/density: N partitions of the counter guest on emu started at
 * once, against N qemu microvm TCG processes running counter.pvh.elf,
 * for N = 1, 4 and 16 (DESIGN.md §10). Per N:
 * - density_start_N_vs_qemu (ms): from the first spawn until every one
 *   has printed its first console line on its stdout.
 * - density_pss_N_per_partition (MiB): once all run, the PSS of every
 *   process of every partition (parapet run, init, all services; guest
 *   RAM included, as in qemu's) divided by N, against qemu's whole PSS
 *   divided by N.
 * The two sides alternate (Parapet, qemu, Parapet, ...); medians, with
 * the spread of the pairs' ratios. No qemu: no rows, exit 0.
 * Each process's stderr goes to a file of its own in a temporary
 * directory; when one fails, the bench says which, after how long, and
 * prints the end of that file (the directory is then kept). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/report.h"

#define N_MAX	     16
#define PIDS_PER     16 /* processes of one partition, at most */
#define REPS_MAX     9
#define RUN_LINES    20	   /* lines each prints before PSS is read */
#define WAIT_MS	     60000 /* for all N to print their lines */
#define DEADLINE_NS  180e9 /* a group that has not, fails */
#define GOAL_PSS_MAX 0.3   /* of qemu's per-process PSS */
#define TAIL_BYTES   2048  /* of a failed process's stderr, printed */

enum side { PARAPET, QEMU };

/* How a wait for lines ended. */
enum wait_end { WAIT_DONE, WAIT_MORE, WAIT_SILENT, WAIT_ENDED, WAIT_LATE };

struct group {
	enum side side;
	int n;
	pid_t pid[N_MAX]; /* -1 once reaped */
	int fd[N_MAX];
	int lines[N_MAX];
	int ended; /* the one whose stdout ended first; -1 */
};

static char err_dir[] = "/tmp/parapet-density-XXXXXX";

static const char *side_name(enum side side)
{
	return side == PARAPET ? "partition" : "qemu";
}

/* err_dir/N<n>-<side>-<i>.err: process i's stderr in a group of n. */
static const char *err_path(enum side side, int n, int i)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/N%d-%s-%d.err", err_dir, n,
		 side_name(side), i);
	return path;
}

static pid_t spawn_one(enum side side, int n, int i, int *fd)
{
	char name[64];
	const char *pv[] = { proc_build_path("bin/parapet"),
			     "run",
			     "--name",
			     name,
			     "--accel",
			     "emu",
			     proc_build_path("guests/counter.igvm"),
			     NULL };
	const char *qv[PROC_QEMU_ARGV_MAX];
	const char *path = err_path(side, n, i);
	int err = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid_t pid;

	if (err < 0) {
		perror(path);
		return -1;
	}
	snprintf(name, sizeof(name), "bench-density-%d-%d", (int)getpid(), i);
	pid = proc_spawn_reader_err(
	    side == PARAPET
		? pv
		: proc_qemu_argv(qv, "microvm", "tcg", "guests/counter.pvh.elf",
				 NULL, NULL),
	    fd, err);
	close(err);
	return pid;
}

/* Reads what is there on every fd: WAIT_DONE once each has want lines,
 * WAIT_MORE while some have fewer, WAIT_SILENT after WAIT_MS without any
 * output, WAIT_ENDED when one's stdout ends (g->ended) before. */
static enum wait_end pump(struct group *g, int want)
{
	struct pollfd p[N_MAX];
	char buf[4096];
	int short_of = 0;

	for (int i = 0; i < g->n; i++) {
		p[i] = (struct pollfd){ .fd = g->fd[i], .events = POLLIN };
		short_of += g->lines[i] < want;
	}
	if (short_of == 0)
		return WAIT_DONE;
	if (poll(p, (nfds_t)g->n, WAIT_MS) <= 0)
		return WAIT_SILENT;
	for (int i = 0; i < g->n; i++) {
		ssize_t r;

		if (!(p[i].revents & (POLLIN | POLLHUP)))
			continue;
		if ((r = read(g->fd[i], buf, sizeof(buf))) <= 0) {
			g->ended = i;
			return WAIT_ENDED;
		}
		for (ssize_t k = 0; k < r; k++)
			g->lines[i] += buf[k] == '\n';
	}
	return WAIT_MORE;
}

/* pump() until all have want lines; WAIT_LATE when one has not by the
 * deadline (the others' output alone must not keep the wait going). */
static enum wait_end pump_until(struct group *g, int want, double t0)
{
	enum wait_end rc;

	while ((rc = pump(g, want)) == WAIT_MORE)
		if (bench_now_ns() - t0 > DEADLINE_NS)
			return WAIT_LATE;
	return rc;
}

/* Prints the last TAIL_BYTES of path, whole lines, indented. */
static void print_tail(const char *path)
{
	char buf[TAIL_BYTES + 1], *p, *nl, *save;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	off_t from;
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "    (cannot read %s)\n", path);
		if (fd >= 0)
			close(fd);
		return;
	}
	from = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
	n = pread(fd, buf, TAIL_BYTES, from);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "    (its stderr is empty)\n");
		return;
	}
	buf[n] = '\0';
	p = buf;
	if (from > 0 && (nl = strchr(p, '\n')) != NULL)
		p = nl + 1; /* the first line is cut */
	for (p = strtok_r(p, "\n", &save); p != NULL;
	     p = strtok_r(NULL, "\n", &save))
		fprintf(stderr, "    | %s\n", p);
}

/* How process i is: "exited with status N", "killed by signal N" or
 * "still running". Reaps it when it has ended (pid -1 then); waits up
 * to 2 s for that once its stdout has ended. */
static const char *exit_state(struct group *g, int i, char *buf, size_t len)
{
	int status, tries = i == g->ended ? 20 : 1;
	pid_t r = 0;

	while (tries-- > 0 && (r = waitpid(g->pid[i], &status, WNOHANG)) == 0)
		if (tries > 0)
			usleep(100000);
	if (r != g->pid[i])
		return "still running";
	g->pid[i] = -1;
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(status));
	else
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	return buf;
}

/* Process i of g failed (how): says which, how long after the start,
 * how it is, and the end of its stderr. */
static void report_one(struct group *g, int i, int want, const char *how,
		       double waited_ms)
{
	char state[64];
	int pid = (int)g->pid[i];

	fprintf(stderr,
		"density: N=%d: %s %d (pid %d): %d of %d lines after %.1f "
		"ms: %s, %s; its stderr (%s):\n",
		g->n, side_name(g->side), i, pid, g->lines[i], want, waited_ms,
		how, exit_state(g, i, state, sizeof(state)),
		err_path(g->side, g->n, i));
	print_tail(err_path(g->side, g->n, i));
}

/* After a failed wait for want lines: the one whose output ended, or
 * (silence, deadline) each one short of want lines. */
static void report_failure(struct group *g, int want, enum wait_end why,
			   double t0)
{
	double ms = (bench_now_ns() - t0) / 1e6;
	int others = 0;

	if (why == WAIT_ENDED) {
		report_one(g, g->ended, want, "its stdout ended", ms);
		for (int i = 0; i < g->n; i++)
			others += i != g->ended && g->lines[i] < want;
		if (others > 0)
			fprintf(
			    stderr,
			    "density: N=%d: %d of the others had fewer than %d "
			    "lines then (stopped by the bench)\n",
			    g->n, others, want);
		return;
	}
	for (int i = 0; i < g->n; i++)
		if (g->lines[i] < want)
			report_one(g, i, want,
				   why == WAIT_SILENT
				       ? "no output from any for 60 s"
				       : "not done by the deadline",
				   ms);
}

/* Reads, without waiting, what the group has printed: while the bench
 * looks at /proc, their stdout must not fill up (see group_stop). */
static void group_drain(struct group *g)
{
	struct pollfd p[N_MAX];
	char buf[4096];

	for (int i = 0; i < g->n; i++)
		p[i] = (struct pollfd){ .fd = g->fd[i], .events = POLLIN };
	if (poll(p, (nfds_t)g->n, 0) <= 0)
		return;
	for (int i = 0; i < g->n; i++)
		if (p[i].revents & POLLIN)
			(void)!read(g->fd[i], buf, sizeof(buf));
}

/* PSS of every process of the group, MiB. */
static double group_pss(struct group *g)
{
	pid_t pids[PIDS_PER];
	long kb = 0;

	for (int i = 0; i < g->n; i++) {
		size_t m = proc_tree(g->pid[i], pids, PIDS_PER);

		for (size_t k = 0; k < m; k++)
			kb += proc_pss_kb(pids[k], "smaps_rollup", 0);
		group_drain(g);
	}
	return (double)kb / 1024.0;
}

/* SIGTERM to all, their stdout read together until each ends, then
 * reaped. Read one after the other, the last ones' stdout stalled for
 * seconds while they stopped (a full pipe blocks `parapet run`'s console
 * writes, with them nng's threads, and a listener's watchdog then sees
 * ctl.sock stop answering and listens anew while the run ends). */
static void group_stop(struct group *g)
{
	struct pollfd p[N_MAX];
	char buf[4096];
	int open_fds = g->n;

	for (int i = 0; i < g->n; i++) {
		if (g->pid[i] > 0)
			kill(g->pid[i], SIGTERM);
		p[i] = (struct pollfd){ .fd = g->fd[i], .events = POLLIN };
	}
	while (open_fds > 0 &&
	       (poll(p, (nfds_t)g->n, -1) > 0 || errno == EINTR))
		for (int i = 0; i < g->n; i++) {
			ssize_t r;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			r = read(p[i].fd, buf, sizeof(buf));
			if (r == 0 || (r < 0 && errno != EINTR)) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
			}
		}
	for (int i = 0; i < g->n; i++) {
		if (p[i].fd >= 0)
			close(p[i].fd);
		if (g->pid[i] > 0)
			waitpid(g->pid[i], NULL, 0);
	}
	g->n = 0;
}

/* One run of n on side: start time (ms) and PSS (MiB); 0 or -1. */
static int run_once(enum side side, int n, double *start_ms, double *pss_mib)
{
	struct group g = { .side = side, .ended = -1 };
	double t0 = bench_now_ns();
	enum wait_end end = WAIT_DONE;
	int want = 1;

	for (int i = 0; i < n; i++) {
		g.pid[i] = spawn_one(side, n, i, &g.fd[i]);
		if (g.pid[i] < 0) {
			fprintf(stderr, "density: N=%d: cannot start %s %d\n",
				n, side_name(side), i);
			group_stop(&g);
			return -1;
		}
		g.n++;
	}
	end = pump_until(&g, want, t0);
	*start_ms = (bench_now_ns() - t0) / 1e6;
	if (end == WAIT_DONE)
		end = pump_until(&g, want = RUN_LINES, t0);
	if (end == WAIT_DONE)
		*pss_mib = group_pss(&g);
	else
		report_failure(&g, want, end, t0);
	group_stop(&g);
	return end == WAIT_DONE ? 0 : -1;
}

struct result {
	int n, reps;
	double start[2][REPS_MAX], pss[2][REPS_MAX]; /* [side][rep] */
};

static int measure(struct result *r)
{
	for (int k = 0; k < r->reps; k++)
		for (int s = PARAPET; s <= QEMU; s++) {
			if (run_once((enum side)s, r->n, &r->start[s][k],
				     &r->pss[s][k]) != 0)
				return -1;
			r->pss[s][k] /= r->n;
			printf("  N=%-2d %-7s start %8.1f ms  PSS %6.2f "
			       "MiB each, %7.1f MiB in all\n",
			       r->n, s == PARAPET ? "parapet" : "qemu",
			       r->start[s][k], r->pss[s][k],
			       r->pss[s][k] * r->n);
			fflush(stdout);
		}
	return 0;
}

static int add_rows(struct result *r, struct bench_row *rows, size_t *n_rows,
		    char names[][48])
{
	struct bench_row *st = &rows[*n_rows], *ps = &rows[*n_rows + 1];

	snprintf(names[*n_rows], 48, "density_start_%d_vs_qemu", r->n);
	snprintf(names[*n_rows + 1], 48, "density_pss_%d_per_partition", r->n);
	*st = (struct bench_row){ names[*n_rows],
				  "ms",
				  0,
				  0,
				  "qemu microvm TCG processes, counter.pvh.elf",
				  0 };
	*ps = (struct bench_row){ names[*n_rows + 1],
				  "MiB",
				  0,
				  0,
				  "qemu microvm TCG, PSS per process",
				  0 };
	if (bench_row_spread(st, r->start[PARAPET], r->start[QEMU],
			     (size_t)r->reps) != 0 ||
	    bench_row_spread(ps, r->pss[PARAPET], r->pss[QEMU],
			     (size_t)r->reps) != 0)
		return -1;
	*n_rows += 2;
	return 0;
}

/* dir and the files in it. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d != NULL)
		closedir(d);
	rmdir(dir);
}

static const char *met(int yes)
{
	return yes ? "met" : "NOT met";
}

/* The goals: start no slower than qemu, PSS per partition at most
 * GOAL_PSS_MAX of qemu's and lower with 16 than with 1. */
static void print_goals(const struct bench_row *rows, size_t n_rows)
{
	const struct bench_row *first = NULL, *last = NULL;

	for (size_t i = 0; i < n_rows; i += 2) {
		const struct bench_row *st = &rows[i], *ps = &rows[i + 1];

		printf("goal %s <= qemu: %s; %s <= %.1f x qemu: %s\n",
		       st->metric, met(st->parapet <= st->baseline), ps->metric,
		       GOAL_PSS_MAX,
		       met(ps->parapet <= GOAL_PSS_MAX * ps->baseline));
		if (first == NULL)
			first = ps;
		last = ps;
	}
	if (first != NULL && last != first)
		printf("goal %s < %s: %s\n", last->metric, first->metric,
		       met(last->parapet < first->parapet));
}

int main(void)
{
	int quick = getenv("PARAPET_BENCH_QUICK") != NULL;
	struct result res[] = { { .n = 1, .reps = quick ? 1 : 9 },
				{ .n = 4, .reps = quick ? 1 : 9 },
				{ .n = N_MAX, .reps = quick ? 1 : 9 } };
	struct bench_row rows[6];
	char names[6][48];
	size_t n_rows = 0;
	int failed = 0;

	if (!proc_have_qemu()) {
		fprintf(stderr, "density: qemu-system-x86_64 missing: "
				"skipped\n");
		return 0;
	}
	if (mkdtemp(err_dir) == NULL) {
		perror("density: mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(res) / sizeof(*res); i++) {
		if (measure(&res[i]) != 0 ||
		    add_rows(&res[i], rows, &n_rows, names) != 0) {
			fprintf(stderr, "density: N=%d failed\n", res[i].n);
			failed = 1;
		}
	}
	if (failed)
		fprintf(stderr, "density: stderr of every process kept in %s\n",
			err_dir);
	else
		remove_dir(err_dir);
	if (bench_report("density", rows, n_rows) != 0)
		return 1;
	print_goals(rows, n_rows);
	return failed;
}
