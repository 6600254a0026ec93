/* bench/exit: the cost of a guest exit (DESIGN.md §10).
 * - exit_emu_vs_unicorn: CPU ns per port exit of the pio_loop guest
 *   under `parapet-vmworker --standalone`, against the same image on a
 *   bare Unicorn engine in a child process. Each side's CPU time (wait4:
 *   user + system of the whole process) for EMU_N exits less that for
 *   EMU_N / 5 leaves start-up out; the two sides alternate, sample by
 *   sample. CPU time, not wall time: on a shared machine wall time
 *   stretches with other work (bare Unicorn moved 4.0-9.5 ns per exit).
 * - exit_kvm_vs_raw: ns per exit against a bare KVM_RUN loop, both timing
 *   the loop inside the guest (its timestamp port).
 * - exit_emu_vs_qemu / exit_kvm_vs_qemu: whole process, pio_loop against
 *   qemu-system-x86_64 -M microvm running the same guest's PVH ELF.
 * - console_throughput: MB/s of guest console output (evil mode=flood)
 *   out of vmworker for 16 MiB, every line checked, against qemu. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/exit_bare.h"
#include "bench/proc.h"
#include "bench/report.h"
#include "services/vmworker/accel.h"

#define REPS	      5
#define EMU_SAMPLES   15
#define CONSOLE_BYTES (16u << 20)

static int quick;

static double parapet_run(const char *accel, uint64_t n)
{
	char arg[64];
	const char *argv[] = { proc_build_path("bin/parapet-vmworker"),
			       "--standalone",
			       proc_build_path("guests/pio_loop.igvm"),
			       "--accel",
			       accel,
			       "--guest-cmdline",
			       arg,
			       NULL };

	snprintf(arg, sizeof(arg), "n=%llu", (unsigned long long)n);
	return proc_time(argv, 0);
}

/* The loop time the guest itself reports, in ns. Every write exits (no
 * coalescing on kvm): this measures the exit path. */
static double parapet_loop(const char *accel, uint64_t n)
{
	char arg[64], out[4096];
	const char *argv[] = { proc_build_path("bin/parapet-vmworker"),
			       "--standalone",
			       proc_build_path("guests/pio_loop.igvm"),
			       "--accel",
			       accel,
			       "--no-coalesce",
			       "--guest-cmdline",
			       arg,
			       NULL };

	snprintf(arg, sizeof(arg), "n=%llu", (unsigned long long)n);
	if (proc_output(argv, out, sizeof(out)) != 0)
		return -1;
	return bare_parse_loop_ns(out);
}

/* CPU ns of a whole vmworker run of n exits. */
static double parapet_cpu(uint64_t n)
{
	char arg[64];
	const char *argv[] = { proc_build_path("bin/parapet-vmworker"),
			       "--standalone",
			       proc_build_path("guests/pio_loop.igvm"),
			       "--accel",
			       "emu",
			       "--no-coalesce",
			       "--guest-cmdline",
			       arg,
			       NULL };

	snprintf(arg, sizeof(arg), "n=%llu", (unsigned long long)n);
	return proc_cpu(argv, 0);
}

static double qemu_run(const char *accel, uint64_t n)
{
	char arg[64];
	const char *argv[PROC_QEMU_ARGV_MAX];

	snprintf(arg, sizeof(arg), "n=%llu", (unsigned long long)n);
	/* debug-exit 0 -> (0 << 1) | 1 */
	return proc_time(proc_qemu_argv(argv, "microvm", accel,
					"guests/pio_loop.pvh.elf", arg, NULL),
			 1);
}

struct pair {
	double parapet, baseline;
};

/* Per-exit cost of both sides, interleaved run by run, with its spread. */
static int per_exit(const char *accel, uint64_t n,
		    double (*base)(const char *, uint64_t),
		    struct bench_row *row)
{
	double p[REPS], b[REPS];
	int i, reps = quick ? 2 : REPS;

	for (i = 0; i < reps; i++) {
		p[i] = parapet_loop(accel, n) / (double)n;
		b[i] = base(NULL, n) / (double)n;
		if (p[i] < 0 || b[i] < 0)
			return -1;
	}
	return bench_row_spread(row, p, b, (size_t)reps);
}

/* CPU ns per exit of one side: n exits less n / 5, so that start-up and
 * the guest's own set-up cancel out. */
static double emu_side(int parapet, uint64_t n)
{
	const char *img = proc_build_path("guests/pio_loop.igvm");
	uint64_t small = n / 5;
	double big = parapet ? parapet_cpu(n) : bare_unicorn_cpu(img, n);
	double little =
	    parapet ? parapet_cpu(small) : bare_unicorn_cpu(img, small);

	if (big < 0 || little < 0)
		return -1;
	return (big - little) / (double)(n - small);
}

/* exit_emu_vs_unicorn: samples alternate which side runs first. */
static int emu_per_exit(uint64_t n, struct bench_row *row)
{
	double p[EMU_SAMPLES], b[EMU_SAMPLES];
	size_t i, samples = quick ? 3 : EMU_SAMPLES;

	for (i = 0; i < samples; i++) {
		if (i % 2 == 0) {
			p[i] = emu_side(1, n);
			b[i] = emu_side(0, n);
		} else {
			b[i] = emu_side(0, n);
			p[i] = emu_side(1, n);
		}
		if (p[i] <= 0 || b[i] <= 0)
			return -1;
	}
	return bench_row_spread(row, p, b, samples);
}

static double kvm_base(const char *unused, uint64_t n)
{
	(void)unused;
	return bare_kvm_run(proc_build_path("guests/pio_loop.igvm"), n);
}

/* Whole process, ns per exit, median of runs. */
static int whole(const char *accel, const char *qemu_accel, uint64_t n,
		 struct pair *out)
{
	double p[REPS], q[REPS];
	int i, reps = quick ? 1 : 3;

	for (i = 0; i < reps; i++) {
		p[i] = parapet_run(accel, n);
		q[i] = qemu_run(qemu_accel, n);
		if (p[i] < 0 || q[i] < 0)
			return -1;
		p[i] /= (double)n;
		q[i] /= (double)n;
	}
	out->parapet = bench_median(p, (size_t)reps);
	out->baseline = bench_median(q, (size_t)reps);
	return 0;
}

/* Reads CONSOLE_BYTES of flood lines, checks their numbers run 0, 1, 2...
 * with nothing lost, and returns MB/s from the first byte on. */
static double console_rate(const char *const argv[])
{
	static char buf[1 << 16];
	char line[256];
	size_t got = 0, line_len = 0;
	unsigned long long want = 0;
	double t0 = 0;
	int fd, status;
	pid_t pid = proc_spawn_reader(argv, &fd);
	ssize_t n;

	if (pid < 0)
		return -1;
	while (got < CONSOLE_BYTES && (n = read(fd, buf, sizeof(buf))) > 0) {
		if (got == 0)
			t0 = bench_now_ns();
		for (ssize_t i = 0; i < n; i++) {
			unsigned long long seq;

			if (buf[i] != '\n') {
				if (line_len < sizeof(line) - 1)
					line[line_len++] = buf[i];
				continue;
			}
			line[line_len] = '\0';
			line_len = 0;
			if (sscanf(line, "evil: flood %llu", &seq) != 1)
				continue;
			if (seq != want++) {
				fprintf(stderr, "console: %s lost line %llu\n",
					argv[0], want - 1);
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				return -1;
			}
		}
		got += (size_t)n;
	}
	n = (ssize_t)(bench_now_ns() - t0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fd);
	return got < CONSOLE_BYTES ? -1 : (double)got / ((double)n / 1e9) / 1e6;
}

static int console_throughput(struct pair *out)
{
	const char *parapet[] = { proc_build_path("bin/parapet-vmworker"),
				  "--standalone",
				  proc_build_path("guests/evil.igvm"),
				  "--accel",
				  "emu",
				  "--guest-cmdline",
				  "mode=flood",
				  NULL };
	const char *qemu[PROC_QEMU_ARGV_MAX];

	proc_qemu_argv(qemu, "microvm", "tcg", "guests/evil.pvh.elf",
		       "mode=flood", NULL);

	out->parapet = console_rate(parapet);
	out->baseline = console_rate(qemu);
	return out->parapet < 0 || out->baseline < 0 ? -1 : 0;
}

int main(void)
{
	struct bench_row rows[6];
	size_t n = 0;
	struct pair r;
	char why[256];
	int have_kvm = accel_kvm_probe(why, sizeof(why)) == 0;
	int have_qemu = proc_have_qemu();
	uint64_t emu_n;
	int only_emu;
	uint64_t kvm_n = 50000; /* nested KVM here: ~20 us per exit */

	quick = getenv("PARAPET_BENCH_QUICK") != NULL;
	/* PARAPET_BENCH_EXIT_EMU_ONLY: just the first row (profiling). */
	only_emu = getenv("PARAPET_BENCH_EXIT_EMU_ONLY") != NULL;
	emu_n = quick ? 2000000 : 10000000;
	rows[n] = (struct bench_row){ "exit_emu_vs_unicorn",
				      "ns",
				      0,
				      0,
				      "bare Unicorn, IN/OUT hooks (CPU time)",
				      0 };
	if (emu_per_exit(quick ? 2000000 : 30000000, &rows[n]) == 0)
		n++;
	else
		fprintf(stderr, "exit_emu_vs_unicorn: failed\n");
	if (only_emu)
		return bench_report("exit", rows, n) == 0 && n > 0 ? 0 : 1;
	rows[n] = (struct bench_row){ "exit_kvm_vs_raw",   "ns", 0, 0,
				      "bare KVM_RUN loop", 0 };
	if (have_kvm && per_exit("kvm", kvm_n, kvm_base, &rows[n]) == 0)
		n++;
	else
		fprintf(stderr, "exit_kvm_vs_raw: skipped (%s)\n",
			have_kvm ? "failed" : why);
	if (have_qemu && whole("emu", "tcg", emu_n, &r) == 0)
		rows[n++] =
		    (struct bench_row){ "exit_emu_vs_qemu",
					"ns",
					r.parapet,
					r.baseline,
					"qemu microvm TCG, whole process",
					0 };
	if (have_qemu && have_kvm && whole("kvm", "kvm", kvm_n, &r) == 0)
		rows[n++] =
		    (struct bench_row){ "exit_kvm_vs_qemu",
					"ns",
					r.parapet,
					r.baseline,
					"qemu microvm KVM, whole process",
					0 };
	if (have_qemu && console_throughput(&r) == 0)
		rows[n++] = (struct bench_row){ "console_throughput",
						"MB/s",
						r.parapet,
						r.baseline,
						"qemu microvm TCG serial stdio",
						1 };
	return bench_report("exit", rows, n) == 0 && n > 0 ? 0 : 1;
}
