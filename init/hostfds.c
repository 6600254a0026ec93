/* init's end of the host→init descriptor channel (lib/fdchan.h): takes
 * the descriptors `parapet run` sends (a service's new binary) and keeps
 * them by token until a request names one (control.c). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/fdchan.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/util.h"

/* The channel is ours when PARTITION_FD_HOST_FDS is a seqpacket socket
 * (parapet run made it; parapet-boot run by hand leaves it out). */
void hostfds_open(struct init *in)
{
	int fd = PARTITION_FD_HOST_FDS;

	in->host_fds = -1;
	for (unsigned i = 0; i < INIT_HOST_FDS_MAX; i++)
		in->host_fd[i].fd = -1;
	if (!util_is_seqpacket(fd)) {
		log_info("no descriptor channel from the host: a service's "
			 "binary cannot be replaced");
		return;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
		in->host_fds = fd;
}

/* Keeps fd under token; the oldest kept one gives way when all slots are
 * taken (the host sends one per `service --binary`). */
static void hostfds_keep(struct init *in, const struct fdchan_msg *m, int fd)
{
	struct init_host_fd *slot = &in->host_fd[0];

	for (unsigned i = 0; i < INIT_HOST_FDS_MAX; i++) {
		struct init_host_fd *h = &in->host_fd[i];

		if (h->fd < 0) {
			slot = h;
			break;
		}
		if (h->seq < slot->seq)
			slot = h;
	}
	if (slot->fd >= 0) {
		log_warnx("host descriptor %llu ('%s') dropped unused",
			  (unsigned long long)slot->token, slot->label);
		close(slot->fd);
	}
	slot->fd = fd;
	slot->token = m->token;
	slot->seq = ++in->host_fd_seq;
	snprintf(slot->label, sizeof(slot->label), "%s", m->label);
	log_debug("host descriptor %llu: %s", (unsigned long long)m->token,
		  m->label);
}

void hostfds_on_readable(struct init *in)
{
	struct fdchan_msg m;
	const char *why;
	int fd, rc;

	while (in->host_fds >= 0 &&
	       (rc = fdchan_recv(in->host_fds, &m, &fd, &why)) != 0) {
		if (rc == -1) {
			/* the host is gone; the partition is ending */
			close(in->host_fds);
			in->host_fds = -1;
		} else if (rc == -2) {
			log_warnx("descriptor channel: message refused: %s",
				  why);
		} else if (m.kind != FDCHAN_BINARY) {
			log_warnx("descriptor channel: unknown kind %u",
				  m.kind);
			close(fd);
		} else {
			hostfds_keep(in, &m, fd);
		}
	}
}

struct init_host_fd *hostfds_find(struct init *in, uint64_t token)
{
	hostfds_on_readable(in); /* sent before the request that names it */
	for (unsigned i = 0; token != 0 && i < INIT_HOST_FDS_MAX; i++)
		if (in->host_fd[i].fd >= 0 && in->host_fd[i].token == token)
			return &in->host_fd[i];
	return NULL;
}

int hostfds_take(struct init_host_fd *h)
{
	int fd = h->fd;

	h->fd = -1;
	return fd;
}
