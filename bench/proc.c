/* Whole-process timing helpers for the benchmarks. */
#include "bench/proc.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/report.h"

static void child_stdio(int out_fd)
{
	int null = open("/dev/null", O_RDWR);

	dup2(null, 0);
	dup2(out_fd >= 0 ? out_fd : null, 1);
	dup2(null, 2);
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

double proc_time(const char *const argv[], int want_status)
{
	double t0 = bench_now_ns();
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		child_stdio(-1);
		proc_exec(argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != want_status) {
		fprintf(stderr, "bench: %s exited with status 0x%x\n", argv[0],
			status);
		return -1;
	}
	return bench_now_ns() - t0;
}

pid_t proc_spawn_reader(const char *const argv[], int *out_fd)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(p[0]);
		child_stdio(p[1]);
		proc_exec(argv);
		_exit(127);
	}
	close(p[1]);
	*out_fd = p[0];
	return pid;
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
		child_stdio(-1);
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
