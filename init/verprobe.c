/* Which saved-state versions a binary reads, from its --version
 * (lib/version.h), before servicing runs it: init runs it in a child
 * with --version alone, nothing else open, for at most VERPROBE_MS. A
 * binary that prints no such line (release 0.9.0 and older take
 * --version for a bad option), fails or hangs reads version 1 only. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/log.h"
#include "lib/util.h"

#define VERPROBE_MS  2000
#define VERPROBE_MAX 1024

static void verprobe_child(int bin_fd, const char *path, int out)
{
	char *argv[] = { (char *)(uintptr_t) "parapet-version-probe",
			 (char *)(uintptr_t) "--version", NULL };
	char *envp[] = { NULL };
	sigset_t none;
	int null = open("/dev/null", O_RDWR);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 ||
	    dup2(null, 2) < 0)
		_exit(127);
	/* fd 3, close-on-exec (dup3 refuses a descriptor onto itself) */
	if (bin_fd >= 0 && (bin_fd == 3 ? fcntl(3, F_SETFD, FD_CLOEXEC)
					: dup3(bin_fd, 3, O_CLOEXEC)) < 0)
		_exit(127);
	close_range(bin_fd >= 0 ? 4 : 3, ~0u, 0);
	if (bin_fd >= 0) /* close-on-exec: ELF only, as for a service */
		execveat(3, "", argv, envp, AT_EMPTY_PATH);
	else
		execve(path, argv, envp);
	_exit(127);
}

void verprobe_read(int bin_fd, const char *path, struct version_range *r)
{
	char text[VERPROBE_MAX];
	uint64_t deadline = util_now_ns() + VERPROBE_MS * UTIL_NS_PER_MS;
	size_t len = 0;
	int p[2], status;
	pid_t pid;

	r->min = r->max = 1;
	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	pid = fork();
	if (pid == 0)
		verprobe_child(bin_fd, path, p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return;
	}
	for (;;) {
		uint64_t now = util_now_ns();
		struct pollfd pf = { p[0], POLLIN, 0 };
		ssize_t n;

		if (now >= deadline || len == sizeof(text) ||
		    poll(&pf, 1,
			 (int)((deadline - now) / UTIL_NS_PER_MS) + 1) <= 0)
			break;
		n = read(p[0], text + len, sizeof(text) - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (version_parse_read(text, len, r) != 0) {
		r->min = r->max = 1;
		log_info("%s: no saved-state versions in its --version: it "
			 "reads version 1",
			 path);
	} else
		log_info("%s reads saved-state versions %u to %u", path, r->min,
			 r->max);
}
