/* parapet-svc-launch NAME=FILE[,ro]... -- BINARY: starts BINARY as
 * parapet-init would start a service (its supervisor channel at fd 3)
 * and sends it one FDS message with FILE opened read-write (read-only
 * with ,ro) under each NAME, as init hands blkd its disks. Prints
 * "pid N" and, once the service said READY, "ready"; stays its channel's
 * other end until the service exits, and exits with its status (128 +
 * signal when killed). For e2e tests of a service outside a partition. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/supervise.h"

#define MAX_FDS 8

static int open_named(const char *arg, char **name)
{
	char *eq = strchr(arg, '=');
	size_t n;
	int ro;

	if (eq == NULL)
		return -1;
	*name = strndup(arg, (size_t)(eq - arg));
	n = strlen(eq + 1);
	ro = n > 3 && !strcmp(eq + 1 + n - 3, ",ro");
	{
		char *path = strndup(eq + 1, ro ? n - 3 : n);
		int fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);

		if (fd < 0)
			perror(path);
		free(path);
		return fd;
	}
}

static int send_fds(int sock, int argc, char **argv, int *end)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT;
	char *names[MAX_FDS];
	int fds[MAX_FDS], i, n = 0;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (n == MAX_FDS ||
		    (fds[n] = open_named(argv[i], &names[n])) < 0)
			return -1;
		n++;
	}
	*end = i;
	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__FDS;
	msg.n_fd_names = (size_t)n;
	msg.fd_names = names;
	i = supervise_send(sock, &msg, fds, (size_t)n);
	while (n-- > 0) {
		close(fds[n]);
		free(names[n]);
	}
	return i;
}

int main(int argc, char **argv)
{
	Parapet__SupervisorMsg *m = NULL;
	int sv[2], end, st, fds[SUPERVISE_MAX_FDS];
	size_t nfd;
	pid_t pid;

	if (supervise_pair(sv) != 0 || send_fds(sv[0], argc, argv, &end) ||
	    end >= argc - 1) {
		fprintf(stderr, "usage: parapet-svc-launch NAME=FILE[,ro]... "
				"-- BINARY\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		if (dup2(sv[1], SUPERVISE_FD) != SUPERVISE_FD)
			_exit(127);
		execv(argv[end + 1], argv + end + 1);
		_exit(127);
	}
	close(sv[1]);
	printf("pid %d\n", (int)pid);
	fflush(stdout);
	if (supervise_recv(sv[0], &m, fds, SUPERVISE_MAX_FDS, &nfd) == 0 &&
	    m->type == PARAPET__SUPERVISOR_MSG__TYPE__READY) {
		printf("ready\n");
		fflush(stdout);
	}
	if (m != NULL)
		supervise_msg_free(m);
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
