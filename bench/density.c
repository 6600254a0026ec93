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
 * the spread of the pairs' ratios. No qemu: no rows, exit 0. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

enum side { PARAPET, QEMU };

struct group {
	int n;
	pid_t pid[N_MAX];
	int fd[N_MAX];
	int lines[N_MAX];
};

static pid_t spawn_one(enum side side, int i, int *fd)
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

	if (side == PARAPET) {
		snprintf(name, sizeof(name), "bench-density-%d-%d",
			 (int)getpid(), i);
		return proc_spawn_reader(pv, fd);
	}
	return proc_spawn_reader(proc_qemu_argv(qv, "microvm", "tcg",
						"guests/counter.pvh.elf", NULL,
						NULL),
				 fd);
}

/* Reads what is there on every fd; 0 once each has want lines, 1 while
 * some have fewer, -1 after WAIT_MS without any output or an early end. */
static int pump(struct group *g, int want)
{
	struct pollfd p[N_MAX];
	char buf[4096];
	int short_of = 0;

	for (int i = 0; i < g->n; i++) {
		p[i] = (struct pollfd){ .fd = g->fd[i], .events = POLLIN };
		short_of += g->lines[i] < want;
	}
	if (short_of == 0)
		return 0;
	if (poll(p, (nfds_t)g->n, WAIT_MS) <= 0)
		return -1;
	for (int i = 0; i < g->n; i++) {
		ssize_t r;

		if (!(p[i].revents & (POLLIN | POLLHUP)))
			continue;
		if ((r = read(g->fd[i], buf, sizeof(buf))) <= 0)
			return -1; /* it stopped */
		for (ssize_t k = 0; k < r; k++)
			g->lines[i] += buf[k] == '\n';
	}
	return 1;
}

/* pump() until all have want lines; -1 when one has not by the deadline
 * (the others' output alone must not keep the wait going). */
static int pump_until(struct group *g, int want, double t0)
{
	int rc;

	while ((rc = pump(g, want)) == 1)
		if (bench_now_ns() - t0 > DEADLINE_NS)
			return -1;
	return rc;
}

/* PSS of every process of the group, MiB. */
static double group_pss(const struct group *g)
{
	pid_t pids[PIDS_PER];
	long kb = 0;

	for (int i = 0; i < g->n; i++) {
		size_t m = proc_tree(g->pid[i], pids, PIDS_PER);

		for (size_t k = 0; k < m; k++)
			kb += proc_pss_kb(pids[k], "smaps_rollup", 0);
	}
	return (double)kb / 1024.0;
}

static void group_stop(struct group *g)
{
	for (int i = 0; i < g->n; i++)
		kill(g->pid[i], SIGTERM);
	for (int i = 0; i < g->n; i++)
		proc_stop(g->pid[i], g->fd[i]);
	g->n = 0;
}

/* One run of n on side: start time (ms) and PSS (MiB); 0 or -1. */
static int run_once(enum side side, int n, double *start_ms, double *pss_mib)
{
	struct group g = { 0 };
	double t0 = bench_now_ns();
	int rc = 0;

	for (int i = 0; i < n; i++) {
		g.pid[i] = spawn_one(side, i, &g.fd[i]);
		if (g.pid[i] < 0) {
			rc = -1;
			break;
		}
		g.n++;
	}
	if (rc == 0 && pump_until(&g, 1, t0) != 0)
		rc = -1;
	*start_ms = (bench_now_ns() - t0) / 1e6;
	if (rc == 0 && pump_until(&g, RUN_LINES, t0) != 0)
		rc = -1;
	if (rc == 0)
		*pss_mib = group_pss(&g);
	for (int i = 0; rc != 0 && i < g.n; i++)
		if (g.lines[i] < RUN_LINES)
			fprintf(stderr, "density: %s %d of %d: %d lines\n",
				side == PARAPET ? "partition" : "qemu", i, n,
				g.lines[i]);
	group_stop(&g);
	return rc;
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
				{ .n = 4, .reps = quick ? 1 : 5 },
				{ .n = N_MAX, .reps = quick ? 1 : 3 } };
	struct bench_row rows[6];
	char names[6][48];
	size_t n_rows = 0;
	int failed = 0;

	if (!proc_have_qemu()) {
		fprintf(stderr, "density: qemu-system-x86_64 missing: "
				"skipped\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof(res) / sizeof(*res); i++) {
		if (measure(&res[i]) != 0 ||
		    add_rows(&res[i], rows, &n_rows, names) != 0) {
			fprintf(stderr, "density: N=%d failed\n", res[i].n);
			failed = 1;
		}
	}
	if (bench_report("density", rows, n_rows) != 0)
		return 1;
	print_goals(rows, n_rows);
	return failed;
}
