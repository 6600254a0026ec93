/* A disk's vhost-user socket: made under a temporary name with its final
 * mode and ACL, then renamed into place, so that no other uid can ever
 * connect to it (as lib/ipc does for nng's sockets). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/util.h"
#include "services/blkd/blkd.h"

#define LISTEN_BACKLOG 4

/* Binds sock at tmp with mode 0600 plus acl_uid's entry. 0 or -1. */
static int bind_private(int sock, const char *tmp, uid_t acl_uid)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	if (strlen(tmp) >= sizeof(a.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, tmp);
	if (unlink(tmp) != 0 && errno != ENOENT)
		return -1;
	old = umask(0177);
	rc = bind(sock, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc != 0)
		return -1;
	/* Where the uid is not mapped (one uid for every service) or is
	 * ours, 0600 already admits it. */
	if (acl_uid != geteuid() &&
	    util_acl_grant(tmp, 6, acl_uid, 6, 0, 0) != 0 && errno != EINVAL)
		return -1;
	return 0;
}

int blkd_listen(struct blkd_disk *d, const char *path, uid_t acl_uid)
{
	char tmp[sizeof(d->sock_path) + 8];
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if ((size_t)snprintf(d->sock_path, sizeof(d->sock_path), "%s", path) >=
		sizeof(d->sock_path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >=
		sizeof(struct sockaddr_un) - sizeof(sa_family_t)) {
		log_warnx("%s: socket path too long", path);
		if (sock >= 0)
			close(sock);
		return -1;
	}
	if (sock < 0 || bind_private(sock, tmp, acl_uid) != 0 ||
	    listen(sock, LISTEN_BACKLOG) != 0 || rename(tmp, path) != 0) {
		log_warn("%s: listen", path);
		if (sock >= 0)
			close(sock);
		unlink(tmp);
		return -1;
	}
	d->listen_fd = sock;
	return 0;
}
