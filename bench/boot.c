/* bench/boot: a whole boot and the partition's memory (DESIGN.md §10).
 * - boot_emu_vs_qemu / boot_kvm_vs_qemu: `parapet run hello.igvm` from
 *   exec to exit, whole process, against qemu-system-x86_64 -M microvm
 *   booting hello.pvh.elf with the same accelerator; medians of >= 10.
 * - pss_emu / pss_kvm: total PSS of the partition's processes (init and
 *   its services) while the counter guest runs, without guest RAM (the
 *   Pss of the /memfd:parapet-guest-ram mappings), against qemu's whole
 *   PSS running the same guest; medians of 5.
 * Each row alternates its two sides (Parapet, qemu, Parapet, ...) and
 * carries the spread of the pairs' ratios. Beside the rows, the median
 * of each stage of the emu and of the kvm boots (bench/boot_stages.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/boot_stages.h"
#include "bench/proc.h"
#include "bench/report.h"
#include "lib/rundir.h"

#define BOOT_REPS 11
#define PSS_REPS  5
#define MAX_PIDS  64

static int quick;

/* The boot's stages too (bench/boot_stages.h). */
static double boot_parapet(const char *accel, struct boot_stages *st)
{
	static int serial;
	char name[64];
	const char *argv[] = { proc_build_path("bin/parapet"),
			       "run",
			       "--accel",
			       accel,
			       "--name",
			       name,
			       proc_build_path("guests/hello.igvm"),
			       NULL };

	snprintf(name, sizeof(name), "bench-boot-%d-%d", (int)getpid(),
		 serial++);
	return boot_stages_run(argv, name, st);
}

static double boot_qemu(const char *accel)
{
	const char *argv[PROC_QEMU_ARGV_MAX];

	/* isa-debug-exit: qemu exits (value << 1) | 1 */
	return proc_time(proc_qemu_argv(argv, "microvm", accel,
					"guests/hello.pvh.elf", NULL, NULL),
			 1);
}

/* Where the boot's time goes is printed too. */
static int boot_row(const char *accel, const char *qaccel,
		    struct bench_row *row)
{
	double p[BOOT_REPS], q[BOOT_REPS];
	struct boot_stages st[BOOT_REPS];
	int reps = quick ? 3 : BOOT_REPS;

	for (int i = 0; i < reps; i++) {
		p[i] = boot_parapet(accel, &st[i]) / 1e6;
		q[i] = boot_qemu(qaccel) / 1e6;
		if (p[i] < 0 || q[i] < 0)
			return -1;
	}
	if (bench_row_spread(row, p, q, (size_t)reps) != 0)
		return -1;
	boot_stages_print(row->metric, st, (size_t)reps, row->parapet);
	return 0;
}

/* MiB of the partition without guest RAM while counter runs. */
static double pss_parapet(const char *accel)
{
	char name[64], base[3000], err[128], dir[3100];
	const char *argv[] = { proc_build_path("bin/parapet"),
			       "run",
			       "--name",
			       name,
			       "--accel",
			       accel,
			       proc_build_path("guests/counter.igvm"),
			       NULL };
	pid_t pids[MAX_PIDS], pid, init;
	long total = 0;
	size_t n;
	int fd;

	snprintf(name, sizeof(name), "bench-pss-%d", (int)getpid());
	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	pid = proc_spawn_reader(argv, &fd);
	if (pid < 0 || proc_read_lines(fd, 50) != 0 ||
	    (init = rundir_read_pid(dir, "init.pid")) <= 0) {
		if (pid > 0)
			proc_stop(pid, fd);
		return -1;
	}
	n = proc_tree(init, pids, MAX_PIDS);
	for (size_t i = 0; i < n; i++)
		total += proc_pss_kb(pids[i], "smaps_rollup", 0) -
			 proc_pss_kb(pids[i], "smaps", 1);
	proc_stop(pid, fd);
	return (double)total / 1024.0;
}

static double pss_qemu(const char *accel)
{
	const char *argv[PROC_QEMU_ARGV_MAX];
	pid_t pid;
	long kb;
	int fd;

	pid = proc_spawn_reader(proc_qemu_argv(argv, "microvm", accel,
					       "guests/counter.pvh.elf", NULL,
					       NULL),
				&fd);
	if (pid < 0 || proc_read_lines(fd, 50) != 0) {
		if (pid > 0)
			proc_stop(pid, fd);
		return -1;
	}
	kb = proc_pss_kb(pid, "smaps_rollup", 0);
	proc_stop(pid, fd);
	return (double)kb / 1024.0;
}

static int pss_row(const char *accel, const char *qaccel, struct bench_row *row)
{
	double p[PSS_REPS], q[PSS_REPS];
	int reps = quick ? 1 : PSS_REPS;

	for (int i = 0; i < reps; i++)
		if ((p[i] = pss_parapet(accel)) < 0 ||
		    (q[i] = pss_qemu(qaccel)) < 0)
			return -1;
	return bench_row_spread(row, p, q, (size_t)reps);
}

int main(void)
{
	struct bench_row rows[4];
	size_t n = 0;
	int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int have_kvm = kvm_fd >= 0, have_qemu = proc_have_qemu();
	struct {
		const char *metric, *accel, *qaccel, *unit, *base;
		int boot;
	} plan[] = {
		{ "boot_emu_vs_qemu", "emu", "tcg", "ms",
		  "qemu microvm TCG, hello.pvh.elf, whole process", 1 },
		{ "boot_kvm_vs_qemu", "kvm", "kvm", "ms",
		  "qemu microvm KVM, hello.pvh.elf, whole process", 1 },
		{ "pss_emu", "emu", "tcg", "MiB",
		  "qemu microvm TCG, whole process PSS", 0 },
		{ "pss_kvm", "kvm", "kvm", "MiB",
		  "qemu microvm KVM, whole process PSS", 0 },
	};

	if (kvm_fd >= 0)
		close(kvm_fd);
	quick = getenv("PARAPET_BENCH_QUICK") != NULL;
	if (!have_qemu)
		fprintf(stderr, "boot: qemu-system-x86_64 missing: no rows\n");
	for (size_t i = 0; have_qemu && i < sizeof(plan) / sizeof(*plan); i++) {
		struct bench_row r = {
			plan[i].metric, plan[i].unit, 0, 0, plan[i].base, 0
		};

		if (!strcmp(plan[i].accel, "kvm") && !have_kvm) {
			fprintf(stderr, "%s: skipped (no /dev/kvm)\n",
				plan[i].metric);
			continue;
		}
		if ((plan[i].boot
			 ? boot_row(plan[i].accel, plan[i].qaccel, &r)
			 : pss_row(plan[i].accel, plan[i].qaccel, &r)) != 0) {
			fprintf(stderr, "%s: failed\n", plan[i].metric);
			continue;
		}
		rows[n++] = r;
	}
	return bench_report("boot", rows, n) == 0 && n > 0 ? 0 : 1;
}
