/* parapet-notify-listen SOCKET OUT [SECONDS]: stands in for systemd's
 * notify socket in the e2e tests. Binds a datagram socket at SOCKET and
 * appends each message to OUT as "pid=SENDER" (from SCM_CREDENTIALS, as
 * systemd checks NotifyAccess=main) and then the message's lines; leaves
 * on SIGTERM or after SECONDS (default 600). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int listen_at(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int one = 1, fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	return fd;
}

/* One datagram to out; 0, or -1 when none could be read. */
static int receive_one(int fd, FILE *out)
{
	char buf[4096], ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = { buf, sizeof(buf) - 1 };
	struct msghdr m = { .msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = ctl,
			    .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(fd, &m, 0);
	long pid = 0;

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;

			memcpy(&u, CMSG_DATA(c), sizeof(u));
			pid = u.pid;
		}
	fprintf(out, "pid=%ld\n%s\n", pid, buf);
	fflush(out);
	return 0;
}

int main(int argc, char **argv)
{
	long seconds = argc > 3 ? atol(argv[3]) : 600;
	time_t end;
	FILE *out;
	int fd;

	if (argc < 3 || seconds <= 0) {
		fprintf(stderr, "usage: parapet-notify-listen SOCKET OUT "
				"[SECONDS]\n");
		return 2;
	}
	out = fopen(argv[2], "a");
	fd = out != NULL ? listen_at(argv[1]) : -1;
	if (fd < 0) {
		fprintf(stderr, "parapet-notify-listen: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 1000) > 0 && receive_one(fd, out) != 0)
			break;
	}
	unlink(argv[1]);
	return 0;
}
