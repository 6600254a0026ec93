/* bench/boot: a whole boot and the partition's memory (DESIGN.md §10).
 * - boot_emu_vs_qemu / boot_kvm_vs_qemu: `parapet run hello.igvm` from
 *   exec to exit, whole process, against qemu-system-x86_64 -M microvm
 *   booting hello.pvh.elf with the same accelerator; medians of >= 10.
 * - pss_emu / pss_kvm: total PSS of the partition's processes (init and
 *   its services) while the counter guest runs, without guest RAM (the
 *   Pss of the /memfd:parapet-guest-ram mappings), against qemu's whole
 *   PSS running the same guest. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/proc.h"
#include "bench/report.h"
#include "lib/rundir.h"

#define BOOT_REPS 11
#define PSS_REPS  3
#define MAX_PIDS  64

static int quick;

static double boot_parapet(const char *accel)
{
	const char *argv[] = {
		proc_build_path("bin/parapet"),	      "run", "--accel", accel,
		proc_build_path("guests/hello.igvm"), NULL
	};

	return proc_time(argv, 0);
}

static const char *qemu_argv[] = { "qemu-system-x86_64",
				   "-M",
				   "microvm",
				   "-accel",
				   NULL, /* [4] */
				   "-m",
				   "64M",
				   "-nographic",
				   "-nodefaults",
				   "-no-reboot",
				   "-serial",
				   "stdio",
				   "-device",
				   "isa-debug-exit,iobase=0xf4,iosize=4",
				   "-kernel",
				   NULL, /* [15] */
				   NULL };

static double boot_qemu(const char *accel)
{
	qemu_argv[4] = accel;
	qemu_argv[15] = proc_build_path("guests/hello.pvh.elf");
	/* isa-debug-exit: qemu exits (value << 1) | 1 */
	return proc_time(qemu_argv, 1);
}

static int boot_row(const char *accel, const char *qaccel,
		    struct bench_row *row)
{
	double p[BOOT_REPS], q[BOOT_REPS];
	int reps = quick ? 3 : BOOT_REPS;

	for (int i = 0; i < reps; i++) {
		p[i] = boot_parapet(accel);
		q[i] = boot_qemu(qaccel);
		if (p[i] < 0 || q[i] < 0)
			return -1;
	}
	row->parapet = bench_median(p, (size_t)reps) / 1e6;
	row->baseline = bench_median(q, (size_t)reps) / 1e6;
	return 0;
}

/* Sum of "Pss:" lines in a /proc file, kB; with guest_only, only of the
 * mappings named /memfd:parapet-guest-ram (smaps). */
static long pss_kb(pid_t pid, const char *file, int guest_only)
{
	char path[64], line[512];
	int in_guest = 0;
	long sum = 0, v;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp)) {
		if (strchr(line, '-') && strchr(line, ':') && line[0] != 'P' &&
		    strncmp(line, "Pss", 3))
			in_guest =
			    strstr(line, "/memfd:parapet-guest-ram") != NULL;
		if (sscanf(line, "Pss: %ld kB", &v) == 1 &&
		    (!guest_only || in_guest))
			sum += v;
	}
	fclose(fp);
	return sum;
}

static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')) != NULL)
		sscanf(p + 2, "%*c %d", &ppid);
	fclose(fp);
	return ppid;
}

/* root and its descendants. */
static size_t tree(pid_t root, pid_t *out, size_t max)
{
	size_t n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;

	out[n++] = root;
	while (d && (e = readdir(d)) != NULL && n < max) {
		pid_t pid = atoi(e->d_name), p = pid;

		for (int depth = 0; pid > 0 && p > 1 && depth < 8; depth++)
			if ((p = ppid_of(p)) == root) {
				out[n++] = pid;
				break;
			}
	}
	if (d)
		closedir(d);
	return n;
}

/* Reads until lines newlines have come (10 s at most). */
static int read_lines(int fd, int lines)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	ssize_t n = 0;

	while (lines > 0 && poll(&p, 1, 10000) == 1 &&
	       (n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines -= buf[i] == '\n';
	return lines > 0 ? -1 : 0;
}

static void stop(pid_t pid, int fd)
{
	char buf[4096];

	kill(pid, SIGTERM);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	waitpid(pid, NULL, 0);
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
	if (pid < 0 || read_lines(fd, 50) != 0 ||
	    (init = rundir_read_pid(dir, "init.pid")) <= 0) {
		if (pid > 0)
			stop(pid, fd);
		return -1;
	}
	n = tree(init, pids, MAX_PIDS);
	for (size_t i = 0; i < n; i++)
		total += pss_kb(pids[i], "smaps_rollup", 0) -
			 pss_kb(pids[i], "smaps", 1);
	stop(pid, fd);
	return (double)total / 1024.0;
}

static double pss_qemu(const char *accel)
{
	pid_t pid;
	long kb;
	int fd;

	qemu_argv[4] = accel;
	qemu_argv[15] = proc_build_path("guests/counter.pvh.elf");
	pid = proc_spawn_reader(qemu_argv, &fd);
	if (pid < 0 || read_lines(fd, 50) != 0) {
		if (pid > 0)
			stop(pid, fd);
		return -1;
	}
	kb = pss_kb(pid, "smaps_rollup", 0);
	stop(pid, fd);
	return (double)kb / 1024.0;
}

static int pss_row(const char *accel, const char *qaccel, struct bench_row *row)
{
	double p[PSS_REPS];
	int reps = quick ? 1 : PSS_REPS;

	for (int i = 0; i < reps; i++)
		if ((p[i] = pss_parapet(accel)) < 0)
			return -1;
	row->parapet = bench_median(p, (size_t)reps);
	row->baseline = pss_qemu(qaccel);
	return row->baseline < 0 ? -1 : 0;
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
