/* The supervisor channel (DESIGN.md §5): an AF_UNIX SOCK_SEQPACKET
 * socketpair at fd 3 between parapet-init and each service, carrying
 * SupervisorMsg protobufs (readiness, stop requests) with fds attached. */
#ifndef PARAPET_SUPERVISE_H
#define PARAPET_SUPERVISE_H

#include <stddef.h>

#include "supervise.pb-c.h"

/* Where a service finds its end of the channel. */
#define SUPERVISE_FD 3
/* Limits of one message: bytes of protobuf and attached fds. */
#define SUPERVISE_MAX_MSG 4096
#define SUPERVISE_MAX_FDS 16

enum supervise_err {
	SUPERVISE_OK = 0,
	SUPERVISE_ERR_SYS = -1,	      /* system call failed: see errno */
	SUPERVISE_ERR_CLOSED = -2,    /* peer closed the channel */
	SUPERVISE_ERR_MALFORMED = -3, /* undecodable or truncated message */
	SUPERVISE_ERR_FDS = -4,	      /* fd count differs from fd_names */
	SUPERVISE_ERR_TOO_BIG = -5,   /* message or fds over the limits */
};

const char *supervise_strerror(int err);

/* Creates a close-on-exec SOCK_SEQPACKET socketpair: sv[0] for init,
 * sv[1] for the service (to be dup2'ed to SUPERVISE_FD). 0 or -1. */
int supervise_pair(int sv[2]);

/* Sends msg with n_fds fds attached; msg->n_fd_names must equal n_fds
 * (each fd named). The fds stay open on the sender. 0 or an error. */
int supervise_send(int sock, const Parapet__SupervisorMsg *msg, const int *fds,
		   size_t n_fds);

/* Receives one message (blocking). *msg_out is freed with
 * supervise_msg_free. Up to max_fds received fds go to fds (close-on-exec)
 * and their count to *n_fds; they match msg->fd_names one to one. Any fd
 * that arrives with a malformed message, a count mismatch, a truncated
 * control message or more fds than max_fds is closed, never leaked.
 * 0 or an error. */
int supervise_recv(int sock, Parapet__SupervisorMsg **msg_out, int *fds,
		   size_t max_fds, size_t *n_fds);
void supervise_msg_free(Parapet__SupervisorMsg *msg);

/* Convenience: a READY message for service, no fds. */
int supervise_ready(int sock, const char *service);
/* READY of an instance that continued a saved state, with the blackout
 * of that servicing (0: none), for init's timeline. */
int supervise_ready_restored(int sock, const char *service,
			     uint64_t blackout_ns);
/* LOADED of a standby instance (init started it ahead, with
 * PARAPET_STANDBY=1 in its environment): it waits for its FDS. */
int supervise_loaded(int sock, const char *service);

#endif
