/* libFuzzer harness for lib/vhost_user's receive path: the input is the
 * byte stream a peer writes (headers, payloads), read back message by
 * message until an error. Checks: a message received whole passes its
 * own shape check, never carries descriptors (none were sent), and its
 * size stays within the payload buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/vhost_user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhost_user_msg m;
	int sv[2];

	if (size > 16384 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return 0;
	if (size && write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);
	while (vhost_user_recv(sv[1], &m, 0) == VHOST_USER_OK) {
		if (m.nfds != 0 || m.hdr.size > VHOST_USER_PAYLOAD_MAX ||
		    vhost_user_check_payload(&m) != VHOST_USER_OK)
			__builtin_trap();
	}
	close(sv[1]);
	return 0;
}
