/* lib/ipc: the one path for every message between Parapet services
 * (DESIGN.md §5): protobuf Envelopes on nng ipc:// sockets, with dispatch
 * tables, bounded decoding, per-endpoint counters and the trace tap. */
#ifndef PARAPET_IPC_H
#define PARAPET_IPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <protobuf-c/protobuf-c.h>

/* Error codes: 0 or a negative enum ipc_err. An ERROR reply carries the
 * positive value in Error.code; ipc_call returns it negated. */
enum ipc_err {
	IPC_OK = 0,
	IPC_ERR_INVAL = -1,	     /* bad argument or configuration */
	IPC_ERR_NOMEM = -2,	     /* allocation or decode budget exceeded */
	IPC_ERR_TIMEOUT = -3,	     /* no reply in time (or oversize drop) */
	IPC_ERR_CLOSED = -4,	     /* endpoint closed */
	IPC_ERR_TRANSPORT = -5,	     /* other nng failure */
	IPC_ERR_MALFORMED = -6,	     /* undecodable envelope or body */
	IPC_ERR_UNKNOWN_METHOD = -7, /* no such method on the server */
	IPC_ERR_DENIED = -8,	     /* sender not allowed for the method */
	IPC_ERR_TOO_BIG = -9,	     /* body over the method's maximum */
	IPC_ERR_HANDLER = -10,	     /* the handler failed */
	IPC_ERR_UNAVAILABLE = -11,   /* handler says: try later */
	IPC_ERR_COUNT = 12,
};

/* Returns a static description of an ipc_err (or of its positive value). */
const char *ipc_strerror(int err);

/* Defaults when a config field is 0. */
#define IPC_DEFAULT_RECV_MAX   (1u << 20)
#define IPC_DEFAULT_CONTEXTS   8
#define IPC_DEFAULT_TIMEOUT_MS 5000
#define IPC_DEFAULT_MODE       0660

/* ------------------------------------------------------ bounded decoding */

/* Allocators for protobuf_c_message_unpack of untrusted bytes, shared with
 * every decoder of envelopes (lib/pbjson for parapet-diag too). */

/* A bump arena with an inline chunk and malloc'd overflow blocks, all
 * bounded by a budget: the decoder's allocator. Frees are no-ops; reset
 * releases everything at once, so the common call allocates nothing. */
struct ipc_arena_block;
struct ipc_arena {
	char *buf;
	size_t cap, used;
	size_t budget, spent;
	int exhausted; /* an allocation was refused since the last reset */
	struct ipc_arena_block *blocks;
	ProtobufCAllocator pb;
};

int ipc_arena_init(struct ipc_arena *a, size_t inline_cap, size_t budget);
void ipc_arena_reset(struct ipc_arena *a);
void ipc_arena_fini(struct ipc_arena *a);
void *ipc_arena_alloc(struct ipc_arena *a, size_t size);

/* A malloc-backed allocator that refuses once budget bytes are spent
 * (for messages handed to callers, freed with ipc_free). */
struct ipc_budget {
	size_t left;
	ProtobufCAllocator pb;
};
void ipc_budget_init(struct ipc_budget *b, size_t budget);

/* ---------------------------------------------------------------- trace */

/* The trace tap: when *flag is nonzero, every envelope an endpoint sends
 * or receives is copied (as a TraceFrame) into a bounded ring and
 * published on the tap's pub socket by a background thread. A full ring
 * drops the frame and counts it; the caller never blocks. */
struct ipc_trace;

struct ipc_trace_config {
	const char *service; /* TraceFrame.service */
	const char *path;    /* pub socket path (no "ipc://"); NULL: none */
	size_t ring_slots;   /* 0: 256 */
	size_t max_frame;    /* bigger envelopes are dropped; 0: 64 KiB */
	/* The flag tested on every send and receive; NULL: a flag inside the
	 * tap. Point it at shared memory so another process can switch it. */
	_Atomic uint32_t *flag;
	mode_t mode; /* socket permissions; 0: 0660 */
};

struct ipc_trace *ipc_trace_open(const struct ipc_trace_config *cfg);
void ipc_trace_close(struct ipc_trace *t);
/* Stores on or off into the tap's flag. */
void ipc_trace_enable(struct ipc_trace *t, int on);
/* While held, the publisher does not drain the ring (diag freeze; tests
 * use it to fill the ring). Releasing wakes the publisher. */
void ipc_trace_hold(struct ipc_trace *t, int hold);
/* Waits until the tap's pub socket has n subscribers (ADD_POST).
 * Returns 0 or IPC_ERR_TIMEOUT. */
int ipc_trace_wait_peers(struct ipc_trace *t, int n, int timeout_ms);

struct ipc_trace_stats {
	uint64_t frames;  /* frames queued */
	uint64_t dropped; /* frames dropped (ring full, too big, no memory) */
	uint64_t published;
};
void ipc_trace_stats(struct ipc_trace *t, struct ipc_trace_stats *out);

/* --------------------------------------------------------------- server */

/* One served request. Handlers read the decoded input; the reply message
 * is preallocated (and initialized) by lib/ipc. */
struct ipc_request;

/* Return 0 to send the reply, IPC_ASYNC to answer later with
 * ipc_request_finish(), or a negative ipc_err for an ERROR reply (with
 * the message set by ipc_request_set_error, or the error's text). */
#define IPC_ASYNC 1
typedef int (*ipc_handler_fn)(struct ipc_request *req,
			      const ProtobufCMessage *in, ProtobufCMessage *out,
			      void *arg);

/* Identity bits of a sender: from the listener path it connected to and
 * from its peer uid, never from Envelope.source. */
#define IPC_SENDER_ANY UINT32_MAX

struct ipc_method {
	const char *name;	/* as in the service descriptor */
	ipc_handler_fn handler; /* NULL: the method is not served */
	uint32_t allowed;	/* identity bits, or IPC_SENDER_ANY */
	size_t max_body;	/* request body limit; 0: recv_max */
};

/* An extra uid that may connect to a server's sockets: a POSIX ACL entry
 * (perm 6) each socket carries from the moment it appears at its path,
 * also when the watchdog listens anew. */
struct ipc_listen_acl {
	uid_t uid;
	bool on;
};

struct ipc_listen {
	const char *path;  /* socket path (no "ipc://" prefix) */
	uint32_t identity; /* bits granted to every peer of this path */
	mode_t mode;	   /* NNG_OPT_IPC_PERMISSIONS; 0: 0660 */
};

struct ipc_peer_uid {
	uid_t uid;
	uint32_t identity; /* bits granted to peers running as uid */
};

struct ipc_server_config {
	const char *name; /* service name (Envelope.source of replies) */
	const struct ipc_listen *listen;
	size_t n_listen;
	struct ipc_listen_acl acl; /* every listener's socket admits uid too */
	const struct ipc_peer_uid *uids;
	size_t n_uids;
	const ProtobufCServiceDescriptor *service;
	const struct ipc_method *methods;
	size_t n_methods;
	size_t recv_max;      /* NNG_OPT_RECVMAXSZ; 0: 1 MiB */
	size_t decode_budget; /* bytes one decode may allocate; 0: derived */
	unsigned n_contexts;  /* calls in flight; 0: 8 */
	void *arg;	      /* passed to every handler */
	struct ipc_trace *trace;
	/* Listen but take no request until ipc_server_serve: a service
	 * opens its endpoint before its seccomp filter loads (nng starts
	 * its threads then) and serves only once its sandbox is whole. */
	int held;
};

struct ipc_server;

/* Opens the rep socket, listens on every path (removing a stale socket
 * file first) and starts n_contexts receivers. Every method in the table
 * must exist in cfg->service. "Stats" (parapet.Endpoint) is answered by
 * lib/ipc itself for any sender. Handlers run on nng's threads: they
 * must not block for long (answer with IPC_ASYNC instead).
 * Returns NULL on failure (logged). */
struct ipc_server *ipc_server_open(const struct ipc_server_config *cfg);
/* Closes the server's listening sockets; its connections stay. A process
 * about to exit calls it first: else its exit may close a connection
 * before the listener, a client's immediate redial lands in the closing
 * listener's backlog and is dropped mid-handshake, which stops an nng
 * 1.5.2 dialer for good (lib/ipc_redial.c replaces it, 2 s later). */
void ipc_server_stop_listening(struct ipc_server *s);
/* Stops only the listeners' watchdog: nothing listens anew when a socket
 * file goes, and the listeners close with the process. For a process
 * about to exit when no instance of it follows (a partition's power-off):
 * nobody dials again, so the order of its closes does not matter. */
void ipc_server_stop_watch(struct ipc_server *s);
/* Starts the receivers of a server opened held (once; no-op otherwise).
 * Clients that called meanwhile wait in their own timeouts. */
void ipc_server_serve(struct ipc_server *s);
/* Stops and frees the server; pending asynchronous requests are
 * abandoned and must not be finished afterwards. */
void ipc_server_close(struct ipc_server *s);

/* Sender identity bits and peer uid ((uid_t)-1 if unknown). */
uint32_t ipc_request_sender(const struct ipc_request *req);
uid_t ipc_request_uid(const struct ipc_request *req);
/* Memory that lives until the reply is sent (for reply strings/bytes).
 * Returns NULL when the request's budget is spent. */
void *ipc_request_alloc(struct ipc_request *req, size_t size);
/* Sets the Error.message of an error return (copied). */
void ipc_request_set_error(struct ipc_request *req, const char *message);
/* Completes a request whose handler returned IPC_ASYNC: rc 0 sends the
 * reply message (filled in by now), a negative ipc_err an ERROR. May be
 * called from any thread, once. */
void ipc_request_finish(struct ipc_request *req, int rc);

/* A snapshot of a server's counters (what Stats answers). */
struct ipc_stats {
	uint64_t sent, received;
	uint64_t err_malformed, err_unknown_method, err_denied, err_too_big;
	uint64_t err_handler;
	/* nng drops a message over recv_max by closing its pipe without
	 * telling the socket: counted as pipes that closed before delivering
	 * any request while their peer process lives on (checked a second
	 * after the close: a drop shows up to 1 s late; a client that exits
	 * without calling is not a drop). */
	uint64_t oversize_drops;
	/* Unknown fields of envelopes and request bodies (top level). */
	uint64_t unknown_fields;
	uint64_t send_failures;
	/* Listeners that stopped accepting and were listened on anew. */
	uint64_t listeners_recreated;
};
void ipc_server_stats(struct ipc_server *s, struct ipc_stats *out);

/* --------------------------------------------------------------- client */

struct ipc_client_config {
	const char *name;	 /* Envelope.source */
	const char *path;	 /* server socket path */
	const char *destination; /* Envelope.destination (informative) */
	const ProtobufCServiceDescriptor *service;
	int timeout_ms;	  /* per call; 0: 5000 */
	size_t recv_max;  /* 0: 1 MiB */
	unsigned n_slots; /* calls in flight at once; 0: 8 */
	struct ipc_trace *trace;
};

struct ipc_client;

/* Opens a req socket and dials in the background (the server may come
 * up later: calls wait for it up to their timeout). NULL on failure. */
struct ipc_client *ipc_client_open(const struct ipc_client_config *cfg);
void ipc_client_close(struct ipc_client *c);
/* Re-sends a request that got no reply within resend_ms (nng's default
 * is a minute). For servers that restart (vmworker): a request caught on
 * the connection of an instance that just went is sent again to the next
 * one. Only for methods that may run twice. */
void ipc_client_set_resend(struct ipc_client *c, int resend_ms);
/* fn(arg, up) runs on nng's thread each time a connection to the server
 * comes (up: a new instance, or the first) or goes; it must not block or
 * call the client. A connection may come before the call: fn then hears
 * of the next change only. */
typedef void (*ipc_peer_fn)(void *arg, bool up);
void ipc_client_on_peer(struct ipc_client *c, ipc_peer_fn fn, void *arg);

/* Calls method with req (whose type must be the method's input type) and
 * waits for the reply, unpacked into *reply_out (the method's output
 * type; free it with ipc_free). Thread-safe: up to n_slots calls run at
 * once, more wait for a slot. Returns 0 or a negative ipc_err; a remote
 * ERROR returns its code. */
int ipc_call(struct ipc_client *c, const char *method,
	     const ProtobufCMessage *req, ProtobufCMessage **reply_out);
/* Clients and subscribers replace a dialer that has brought no pipe for
 * this long (default 12 s; see lib/ipc_redial.c). For tests. */
void ipc_redial_set_after_ms(unsigned ms);
/* The Error.message of the last ERROR reply ipc_call returned on this
 * thread ("" if it had none; every call clears it). */
const char *ipc_last_error(void);
/* The built-in Stats method of any server. */
int ipc_call_stats(struct ipc_client *c, ProtobufCMessage **reply_out);
/* Frees a message returned by ipc_call or ipc_sub_recv. */
void ipc_free(ProtobufCMessage *msg);

/* ------------------------------------------------------------ pub / sub */

/* Events whose loss is harmless only: nng's pub/sub drops. */
struct ipc_pub;
struct ipc_pub *ipc_pub_open(const char *name, const char *path, mode_t mode,
			     struct ipc_trace *trace);
void ipc_pub_close(struct ipc_pub *p);
/* Publishes an EVENT envelope named event with body. 0 or ipc_err. */
int ipc_publish(struct ipc_pub *p, const char *event,
		const ProtobufCMessage *body);
/* Waits until n subscribers are connected. 0 or IPC_ERR_TIMEOUT. */
int ipc_pub_wait_peers(struct ipc_pub *p, int n, int timeout_ms);

struct ipc_event_type {
	const char *name;
	const ProtobufCMessageDescriptor *type;
};

struct ipc_sub;
/* Subscribes to every event of the publisher at path; events not in the
 * table are skipped and counted. */
struct ipc_sub *ipc_sub_open(const char *path,
			     const struct ipc_event_type *types, size_t n_types,
			     size_t recv_max);
void ipc_sub_close(struct ipc_sub *s);
/* Waits up to timeout_ms for the next known event: *type_out is its
 * table entry, *body_out the decoded body (ipc_free). 0 or ipc_err. */
int ipc_sub_recv(struct ipc_sub *s, int timeout_ms,
		 const struct ipc_event_type **type_out,
		 ProtobufCMessage **body_out);
/* Events skipped (unknown name or undecodable). */
uint64_t ipc_sub_skipped(struct ipc_sub *s);

#endif
