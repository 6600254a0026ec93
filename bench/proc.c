/* Whole-process timing helpers for the benchmarks, and the PSS of a
 * process tree. */
#include "bench/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/report.h"

/* stdin /dev/null; stdout on out_fd and stderr on err_fd, /dev/null
 * where -1. */
static void child_stdio(int out_fd, int err_fd)
{
	int null = open("/dev/null", O_RDWR);

	dup2(null, 0);
	dup2(out_fd >= 0 ? out_fd : null, 1);
	dup2(err_fd >= 0 ? err_fd : null, 2);
}

/* execvp wants char *const[]; the strings are never written. */
static void proc_exec(const char *const argv[])
{
	char *args[64];
	size_t i;

	for (i = 0; argv[i] != NULL && i < 63; i++)
		args[i] = (char *)(uintptr_t)argv[i];
	args[i] = NULL;
	execvp(args[0], args);
	_exit(127);
}

int proc_status(const char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		child_stdio(-1, -1);
		proc_exec(argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

double proc_time(const char *const argv[], int want_status)
{
	double t0 = bench_now_ns();
	int status = proc_status(argv);

	if (status < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status) {
		fprintf(stderr, "bench: %s exited with status 0x%x\n", argv[0],
			status);
		return -1;
	}
	return bench_now_ns() - t0;
}

static double rusage_ns(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e9 +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) * 1e3;
}

double proc_wait_cpu(pid_t pid, const char *name, int want_status)
{
	struct rusage ru;
	int status;

	if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status) {
		fprintf(stderr, "bench: %s exited with status 0x%x\n", name,
			status);
		return -1;
	}
	return rusage_ns(&ru);
}

double proc_cpu(const char *const argv[], int want_status)
{
	pid_t pid = fork();

	if (pid == 0) {
		child_stdio(-1, -1);
		proc_exec(argv);
	}
	return proc_wait_cpu(pid, argv[0], want_status);
}

pid_t proc_spawn_reader_err(const char *const argv[], int *out_fd, int err_fd)
{
	int p[2];
	pid_t pid;

	/* Close-on-exec: a later child must not hold this one's pipe. */
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		child_stdio(p[1], err_fd);
		proc_exec(argv);
		_exit(127);
	}
	close(p[1]);
	*out_fd = p[0];
	return pid;
}

pid_t proc_spawn_reader(const char *const argv[], int *out_fd)
{
	return proc_spawn_reader_err(argv, out_fd, -1);
}

int proc_output_status(const char *const argv[], char *out, size_t len,
		       int want_status)
{
	size_t got = 0;
	ssize_t n;
	int fd, status;
	pid_t pid = proc_spawn_reader(argv, &fd);

	if (pid < 0)
		return -1;
	while ((n = read(fd, out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != want_status)
		return -1;
	return 0;
}

int proc_output(const char *const argv[], char *out, size_t len)
{
	return proc_output_status(argv, out, len, 0);
}

pid_t proc_spawn(const char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		child_stdio(-1, -1);
		proc_exec(argv);
	}
	return pid;
}

const char *proc_build_path(const char *rel)
{
	static char buf[8][4096];
	static int next;
	const char *b = getenv("PARAPET_BUILD");
	char *out = buf[next++ % 8];

	snprintf(out, sizeof(buf[0]), "%s/%s", b ? b : "build", rel);
	return out;
}

int proc_have_qemu(void)
{
	return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

const char **proc_qemu_argv(const char *argv[PROC_QEMU_ARGV_MAX],
			    const char *machine, const char *accel,
			    const char *guest_elf, const char *cmdline,
			    const char *const extra[])
{
	static const char *const fixed[] = {
		"-m",
		"64M",
		"-nographic",
		"-nodefaults",
		"-no-reboot",
		"-serial",
		"stdio",
		"-device",
		"isa-debug-exit,iobase=0xf4,iosize=4"
	};
	size_t n = 0;

	argv[n++] = "qemu-system-x86_64";
	argv[n++] = "-M";
	argv[n++] = machine;
	argv[n++] = "-accel";
	argv[n++] = accel;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		argv[n++] = fixed[i];
	argv[n++] = "-kernel";
	argv[n++] = proc_build_path(guest_elf);
	if (cmdline != NULL) {
		argv[n++] = "-append";
		argv[n++] = cmdline;
	}
	for (size_t i = 0;
	     extra != NULL && extra[i] != NULL && n < PROC_QEMU_ARGV_MAX - 1;
	     i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	return argv;
}

/* Sum of "Pss:" lines in a /proc file, kB; with guest_only, only of the
 * mappings named /memfd:parapet-guest-ram (smaps). */
long proc_pss_kb(pid_t pid, const char *file, int guest_only)
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
size_t proc_tree(pid_t root, pid_t *out, size_t max)
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
int proc_read_lines(int fd, int lines)
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

void proc_stop(pid_t pid, int fd)
{
	char buf[4096];

	kill(pid, SIGTERM);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	waitpid(pid, NULL, 0);
}
