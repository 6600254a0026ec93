/* libFuzzer harness for diagd's tap reader (services/diag/tapread.c): any
 * byte stream from a "publisher" over a real socketpair, read to its end. */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "services/diag/tapread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_msg(const uint8_t *msg, size_t len, void *arg)
{
	size_t *sum = arg;

	for (size_t i = 0; i < len; i++)
		*sum += msg[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tapread r;
	size_t sum = 0;
	int sv[2];

	if (size > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return 0;
	tapread_adopt(&r, sv[0], 4096);
	if (write(sv[1], data, size) != (ssize_t)size) {
		/* over the socket buffer: the reader still sees a prefix */
	}
	close(sv[1]);
	while (tapread_feed(&r, on_msg, &sum) == 0)
		;
	tapread_close(&r);
	return 0;
}
