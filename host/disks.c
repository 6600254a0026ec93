/* `parapet run --disk`: see disks.h. */
#include "host/disks.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/run.h"
#include "lib/fdchan.h"

/* The disk's size in bytes from its descriptor, or -1. */
static int64_t disk_size(int fd, const struct stat *st)
{
	uint64_t bytes;

	if (S_ISREG(st->st_mode))
		return st->st_size;
	if (S_ISBLK(st->st_mode) && ioctl(fd, BLKGETSIZE64, &bytes) == 0)
		return (int64_t)bytes;
	return -1;
}

/* A file or block device, opened as the user may; refused when it is
 * empty, not in whole sectors, or another process holds it for writing
 * (an open-file-description lock, as qemu takes). */
static int disk_open_file(unsigned i, const struct diskspec *s, int *out)
{
	int fd = open(s->path, (s->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
				   O_NOCTTY);
	struct flock lk = { .l_type = s->read_only ? F_RDLCK : F_WRLCK,
			    .l_whence = SEEK_SET };
	struct stat st;
	int64_t size;

	if (fd < 0)
		return run_fail(
		    "--disk %u '%s': %s%s", i, s->path, strerror(errno),
		    (errno == EACCES || errno == EROFS) && !s->read_only
			? " (add ,ro for a read-only disk)"
			: "");
	if (fstat(fd, &st) != 0 ||
	    !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		close(fd);
		return run_fail("--disk %u '%s': not a regular file or block "
				"device",
				i, s->path);
	}
	size = disk_size(fd, &st);
	if (size <= 0 || size % 512 != 0) {
		close(fd);
		return run_fail(
		    "--disk %u '%s': %s", i, s->path,
		    size == 0  ? "the file is empty"
		    : size < 0 ? "cannot read its size"
			       : "its size is not a multiple of 512 bytes");
	}
	if (fcntl(fd, F_OFD_SETLK, &lk) != 0) {
		close(fd);
		return run_fail("--disk %u '%s': in use by another process "
				"(%s)",
				i, s->path, strerror(errno));
	}
	*out = fd;
	return 0;
}

static int disk_connect(unsigned i, const struct diskspec *s, int *out)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(s->path) >= sizeof(a.sun_path))
		return run_fail("--disk %u 'vhost-user=%s': socket path too "
				"long",
				i, s->path);
	memcpy(a.sun_path, s->path, strlen(s->path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return run_fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		int e = errno;

		close(fd);
		return run_fail(
		    "--disk %u 'vhost-user=%s': %s%s", i, s->path, strerror(e),
		    e == ECONNREFUSED ? " (no backend listens there)" : "");
	}
	*out = fd;
	return 0;
}

int host_disks_open(const struct vmopts *o, struct host_disks *d)
{
	const char *why;
	int rc = 0;

	d->n = 0;
	for (unsigned i = 0; i < VMOPTS_DISK_MAX; i++)
		d->fd[i] = -1;
	if (o->n_disks > VMOPTS_DISK_MAX)
		return run_fail("%u disks: at most %d --disk", o->n_disks,
				VMOPTS_DISK_MAX);
	for (unsigned i = 0; i < o->n_disks && rc == 0; i++) {
		struct diskspec *s = &d->spec[i];

		if (diskspec_parse(o->disks[i], s, &why) != 0) {
			rc = run_fail("--disk '%s': %s", o->disks[i], why);
			break;
		}
		rc = s->backend == DISKSPEC_BLKD
			 ? disk_open_file(i, s, &d->fd[i])
			 : disk_connect(i, s, &d->fd[i]);
		d->n = i + 1;
	}
	if (rc != 0)
		host_disks_close(d);
	return rc;
}

int host_disks_send(struct host_disks *d, int fdchan)
{
	for (unsigned i = 0; i < d->n; i++) {
		enum fdchan_kind kind = d->spec[i].backend == DISKSPEC_BLKD
					    ? FDCHAN_DISK
					    : FDCHAN_VHOST_USER;

		if (fdchan_send(fdchan, kind, i + 1, d->spec[i].path,
				d->fd[i]) != 0)
			return run_fail("--disk %u: sending it to the "
					"partition: %s",
					i, strerror(errno));
		close(d->fd[i]);
		d->fd[i] = -1;
	}
	return 0;
}

void host_disks_close(struct host_disks *d)
{
	for (unsigned i = 0; i < VMOPTS_DISK_MAX; i++) {
		if (d->fd[i] >= 0)
			close(d->fd[i]);
		d->fd[i] = -1;
	}
}
