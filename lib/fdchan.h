/* The host→init descriptor channel: a SOCK_SEQPACKET socketpair from
 * `parapet run` to the partition's init, inherited through parapet-boot
 * at PARTITION_FD_HOST_FDS (DESIGN.md §11). nng cannot carry descriptors;
 * this can. The host opens a file with the invoking user's rights and
 * sends the descriptor with a token; a later IPC request (relayed by
 * services that never see the descriptor) names the token, and init uses
 * the descriptor it received, never a path a service could have written.
 *
 * One message per descriptor: a fixed header (struct fdchan_msg) and
 * exactly one descriptor (SCM_RIGHTS). Anything else is refused and its
 * descriptors closed. */
#ifndef PARAPET_FDCHAN_H
#define PARAPET_FDCHAN_H

#include <stdint.h>

#define FDCHAN_VERSION	 1u
#define FDCHAN_LABEL_MAX 1024 /* the file's host path, for logs and ps */

enum fdchan_kind {
	FDCHAN_BINARY =
	    1,		 /* a service's new binary (O_PATH, checked by init) */
	FDCHAN_DISK = 2, /* disk N's file (token N + 1), docs/disks.md */
	FDCHAN_VHOST_USER = 3, /* disk N's connected vhost-user socket */
};

struct fdchan_msg {
	uint32_t version; /* FDCHAN_VERSION */
	uint32_t kind;	  /* enum fdchan_kind */
	uint64_t token;	  /* names the descriptor in IPC requests; not 0 */
	char label[FDCHAN_LABEL_MAX]; /* NUL-terminated */
};

/* Makes the pair (both ends close-on-exec): 0, or -1 with errno. */
int fdchan_pair(int sv[2]);

/* Sends fd with its header: 0, or -1 with errno. */
int fdchan_send(int sock, enum fdchan_kind kind, uint64_t token,
		const char *label, int fd);

/* Receives one message without waiting: 1 (msg filled, *fd the
 * descriptor, close-on-exec), 0 (none waiting), -1 (the peer closed, or
 * errno), -2 (a malformed message, dropped: why says what). */
int fdchan_recv(int sock, struct fdchan_msg *msg, int *fd, const char **why);

#endif
