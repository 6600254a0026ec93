/* Internals shared by lib/ipc*.c: envelope packing, the trace tap hook and
 * peer counting. Not for use outside lib/ipc (the bounded decode
 * allocators are public, in lib/ipc.h). */
#ifndef PARAPET_IPC_INTERNAL_H
#define PARAPET_IPC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "envelope.pb-c.h"
#include "lib/ipc.h"

/* Packs env (its body unset) then body as Envelope.body into *msgp,
 * reusing *msgp when non-NULL, else allocating it. 0 or ipc_err. */
int ipc_pack_envelope(nng_msg **msgp, const Parapet__Envelope *env,
		      const ProtobufCMessage *body);

/* Unpacks an envelope with the arena. NULL: malformed or over budget. */
Parapet__Envelope *ipc_unpack_envelope(struct ipc_arena *a, nng_msg *msg);

/* Maps an nng error to an ipc_err. */
int ipc_from_nng(int rv);

/* Listens on ipc://path with the given permissions (mode 0: 0660), or
 * with IPC_MODE_UMASK, leaving the mode to the umask (no chmod: a
 * seccomp-filtered service may not). 0 or nng error. */
#define IPC_MODE_UMASK ((mode_t)-1)
int ipc_listen_path(nng_socket s, const char *path, mode_t mode,
		    const struct ipc_listen_acl *acl, nng_listener *out);

/* Dials ipc://path in the background and keeps dialing: replaces a
 * dialer that has brought no pipe for a while (see lib/ipc_redial.c).
 * NULL with *rv set on failure. */
struct ipc_redial *ipc_redial_open(nng_socket s, const char *path, int *rv);
/* Stops the watchdog and closes the socket. */
void ipc_redial_close(struct ipc_redial *r);
/* Calls fn at every connection to the peer and every loss of one. */
void ipc_redial_on_peer(struct ipc_redial *r, ipc_peer_fn fn, void *arg);
/* How many times a dialer was replaced. */
uint64_t ipc_redial_count(const struct ipc_redial *r);

/* One listening path of a server; id changes when the watchdog
 * re-creates the listener (under the lock given to ipc_watch_open). */
#define IPC_RETIRED_MAX 8
struct ipc_listen_slot {
	int id;
	uint32_t identity;
	char *path;
	mode_t mode;
	struct ipc_listen_acl acl;
	/* the watchdog's last probe if it brought no pipe (closed at the
	 * next round), or -1 */
	int probe_fd;
	/* Listeners replaced by the watchdog, kept (0: none) while pipes
	 * they accepted live on: closing a listener closes its pipes. */
	int retired[IPC_RETIRED_MAX];
};

/* Whether listener id, or one it replaced, is slot's (lock held). */
static inline bool ipc_slot_has(const struct ipc_listen_slot *sl, int id)
{
	if (sl->id == id)
		return true;
	for (int i = 0; i < IPC_RETIRED_MAX; i++)
		if (sl->retired[i] != 0 && sl->retired[i] == id)
			return true;
	return false;
}

/* The listener watchdog (lib/ipc_watch.c): a thread that checks every
 * IPC_WATCH_PERIOD_MS that a connection to each listener of sock becomes
 * a pipe of the socket (own_pipes: pipes added whose peer is this
 * process, counted by the owner's pipe callback), and re-creates a
 * listener where none did (nng 1.5.2 stops taking pipes for good after a
 * connection closed mid-handshake). NULL on failure. */
struct ipc_watch *ipc_watch_open(const char *name, nng_socket sock,
				 struct ipc_listen_slot *slots, size_t n,
				 pthread_mutex_t *lock,
				 const _Atomic uint64_t *own_pipes,
				 size_t (*pipes_of)(void *owner, int listener),
				 void *owner);
void ipc_watch_close(struct ipc_watch *w);
/* Listeners re-created so far. */
uint64_t ipc_watch_recreated(const struct ipc_watch *w);

/* The flag that stays 0 for endpoints without a trace tap. */
extern _Atomic uint32_t ipc_trace_off;

/* Copies the envelope bytes of msg into the tap's ring (call only when
 * the flag is set: see ipc_tap). */
void ipc_trace_push(struct ipc_trace *t, int direction, nng_msg *msg);
_Atomic uint32_t *ipc_trace_flag(struct ipc_trace *t);

static inline void ipc_tap(struct ipc_trace *t, _Atomic uint32_t *flag,
			   int direction, nng_msg *msg)
{
	if (__builtin_expect(atomic_load_explicit(flag, memory_order_relaxed),
			     0))
		ipc_trace_push(t, direction, msg);
}

/* Counts connected pipes of a socket (NNG_PIPE_EV_ADD_POST/REM_POST)
 * so publishers can wait for subscribers. */
struct ipc_peers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
};
int ipc_peers_init(struct ipc_peers *p, nng_socket s);
void ipc_peers_fini(struct ipc_peers *p);
int ipc_peers_wait(struct ipc_peers *p, int n, int timeout_ms);

#endif
