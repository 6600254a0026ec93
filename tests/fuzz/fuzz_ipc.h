/* What the fuzz harnesses of IPC endpoints share: a request envelope as a
 * client sends it, the check of an answer, and stand-in peers (servers and
 * clients on DIR/NAME.sock). Any failure traps, as libFuzzer wants. */
#ifndef PARAPET_FUZZ_IPC_H
#define PARAPET_FUZZ_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "lib/ipc.h"

/* A REQUEST envelope from source for method with body. */
nng_msg *fuzz_envelope(const char *source, const char *method,
		       const uint8_t *body, size_t len);

/* msg must be a REPLY (its body unpacked as type when type is not NULL,
 * and returned: the caller frees it) or an ERROR with a known code (and
 * a message when need_message), which returns NULL. msg stays the
 * caller's. */
ProtobufCMessage *fuzz_check_reply(nng_msg *msg,
				   const ProtobufCMessageDescriptor *type,
				   bool need_message);

/* A server for name on dir/name.sock with n_contexts receivers. */
struct ipc_server *fuzz_server(const char *dir, const char *name,
			       const ProtobufCServiceDescriptor *svc,
			       const struct ipc_method *m, size_t n,
			       unsigned n_contexts, struct ipc_trace *tap);

/* A client named self of the server name on dir/name.sock. */
struct ipc_client *fuzz_client(const char *dir, const char *self,
			       const char *name,
			       const ProtobufCServiceDescriptor *svc,
			       int timeout_ms, size_t recv_max);

#endif
