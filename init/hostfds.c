/* init's end of the host→init descriptor channel (lib/fdchan.h): takes
 * the descriptors `parapet run` sends (a service's new binary) and keeps
 * them by token until a request names one (control.c). */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/diskspec.h"
#include "lib/fdchan.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/util.h"

/* The channel is ours when PARTITION_FD_HOST_FDS is a seqpacket socket
 * (parapet run made it; parapet-boot run by hand leaves it out). */
void hostfds_open(struct init *in)
{
	int fd = PARTITION_FD_HOST_FDS;

	in->host_fds = -1;
	for (unsigned i = 0; i < INIT_HOST_FDS_MAX; i++)
		in->host_fd[i].fd = -1;
	for (unsigned i = 0; i < GUEST_DISK_MAX; i++)
		in->disk[i].fd = -1;
	if (!util_is_seqpacket(fd)) {
		log_info("no descriptor channel from the host: a service's "
			 "binary cannot be replaced");
		return;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
		in->host_fds = fd;
	hostfds_on_readable(in); /* the disks, queued before we started */
}

/* Disk N's descriptor (token N + 1), sent once before the partition
 * started; anything else of these kinds is refused. */
static void hostfds_keep_disk(struct init *in, const struct fdchan_msg *m,
			      int fd)
{
	struct init_disk *d;

	if (m->token == 0 || m->token > GUEST_DISK_MAX ||
	    in->disk[m->token - 1].fd >= 0) {
		log_warnx("descriptor channel: disk token %llu refused (out "
			  "of range or sent twice)",
			  (unsigned long long)m->token);
		close(fd);
		return;
	}
	d = &in->disk[m->token - 1];
	d->fd = fd;
	d->kind = (int)m->kind;
	snprintf(d->label, sizeof(d->label), "%s", m->label);
	log_debug("disk %llu: %s", (unsigned long long)m->token - 1, m->label);
}

int hostfds_check_disks(struct init *in, const void *fdt, int disks)
{
	int node, len;
	unsigned n = 0;

	if (disks < 0)
		return 0;
	fdt_for_each_subnode(node, fdt, disks)
	{
		const fdt32_t *idx = fdt_getprop(fdt, node, "index", &len);
		const char *backend = fdt_getprop(fdt, node, "backend", NULL);
		unsigned i;
		int want;

		if (idx == NULL || len != 4 || backend == NULL ||
		    (i = fdt32_to_cpu(*idx)) >= GUEST_DISK_MAX) {
			log_warnx("device tree: %s: malformed disk node",
				  fdt_get_name(fdt, node, NULL));
			return -1;
		}
		want = diskspec_backend_from_name(backend) == DISKSPEC_BLKD
			   ? FDCHAN_DISK
			   : FDCHAN_VHOST_USER;
		if (in->disk[i].fd < 0 || in->disk[i].kind != want) {
			log_warnx("disk %u: no descriptor from the host (is "
				  "this partition started by parapet run?)",
				  i);
			return -1;
		}
		n++;
	}
	in->n_disks = n;
	return 0;
}

size_t hostfds_disks_for(const struct init *in, const char *service,
			 char (*names)[16], int *fds, size_t max)
{
	int kind = strcmp(service, SVC_NAME_BLKD) == 0	     ? FDCHAN_DISK
		   : strcmp(service, SVC_NAME_VMWORKER) == 0 ? FDCHAN_VHOST_USER
							     : 0;
	size_t n = 0;

	for (unsigned i = 0; kind != 0 && i < GUEST_DISK_MAX && n < max; i++) {
		if (in->disk[i].fd < 0 || in->disk[i].kind != kind)
			continue;
		snprintf(names[n], sizeof(names[n]), "%s%u",
			 kind == FDCHAN_DISK ? "disk" : "vhost-user", i);
		fds[n++] = in->disk[i].fd;
	}
	return n;
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
		} else if (m.kind == FDCHAN_DISK ||
			   m.kind == FDCHAN_VHOST_USER) {
			hostfds_keep_disk(in, &m, fd);
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
