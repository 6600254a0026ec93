/* A partition's console on the host (docs/console.md): where `parapet
 * run` sends the guest's output (--console stdout|file:PATH|socket:PATH|
 * none), and the consoles attached with `parapet console NAME` through
 * RUN_DIR/console.sock, served by `parapet run` itself so that nothing
 * inside the partition takes part. */
#ifndef PARAPET_HOST_CONSOLE_H
#define PARAPET_HOST_CONSOLE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct hostchan;

/* console.sock's protocol: AF_UNIX SOCK_SEQPACKET, each packet a type
 * byte and its payload (at most CONSOLE_DATA_MAX bytes). The client
 * says HELLO first; the server answers OK or REFUSED, then sends OUTPUT
 * from that moment on (or from the ring, with CONSOLE_HELLO_HISTORY)
 * and END when the VM has ended. A writer sends INPUT. */
#define CONSOLE_DATA_MAX 4096
enum console_pkt {
	CONSOLE_PKT_HELLO = 'H',   /* client: one byte of CONSOLE_HELLO_* */
	CONSOLE_PKT_INPUT = 'I',   /* client: bytes for the guest */
	CONSOLE_PKT_OK = 'O',	   /* server: attached ("rw" or "ro") */
	CONSOLE_PKT_REFUSED = 'R', /* server: why; then it closes */
	CONSOLE_PKT_OUTPUT = 'D',  /* server: console bytes */
	CONSOLE_PKT_NOTE = 'N',	   /* server: a line for the user */
	CONSOLE_PKT_END = 'E',	   /* server: how the VM ended; closes */
};
#define CONSOLE_HELLO_WRITE   1u /* the one writer (or refused) */
#define CONSOLE_HELLO_HISTORY 2u /* start with the recent output kept */

/* Console bytes kept for --history (and for slow readers). */
#define CONSOLE_RING_SIZE (64u * 1024)
/* Attached consoles at once (readers and the writer). */
#define CONSOLE_CLIENTS_MAX 8
/* Descriptors console_pollfds may fill. */
#define CONSOLE_POLLFDS_MAX (CONSOLE_CLIENTS_MAX + 4)

struct console;

/* Checks --console's value (NULL: stdout) and opens its sink: file:PATH
 * opened for appending (created 0600), socket:PATH listening (0600).
 * Call before any thread starts (the socket is bound under a umask).
 * 0, or PARTITION_EXIT_SETUP with the reason on stderr. */
int console_open(const char *spec, struct console **out);
/* Listens on RUN_DIR/console.sock (0600, the user's and root's). */
int console_listen(struct console *c, const char *run_dir);
/* The fds hostchan_open writes the output to and reads input from
 * (stdout and stdin, or -1 for none). */
int console_out_fd(const struct console *c);
int console_in_fd(const struct console *c);
/* From now on every console byte h writes reaches the attached ones, and
 * input from them reaches the guest. */
void console_tap(struct console *c, struct hostchan *h);

/* For the run's poll loop: fills p (CONSOLE_POLLFDS_MAX at most) and
 * returns how many; then console_on_poll with the same entries. */
int console_pollfds(struct console *c, struct pollfd *p);
void console_on_poll(struct console *c, const struct pollfd *p, int n);

/* The run ended with exit status: flushes the output to the attached
 * consoles, tells them how the VM ended, closes every socket and
 * removes socket:PATH. The tap stays harmless after it. */
void console_close(struct console *c, int status);
/* The partition never ran: also removes a file console_open created. */
void console_abort(struct console *c);

/* `parapet console NAME`: host/console_attach.c */
int console_main(int argc, char **argv);

#endif
