/* systemd's notify protocol for `parapet run` (see sdnotify.h): one
 * AF_UNIX datagram a message, to a path or (a leading '@') an abstract
 * address. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.pb-c.h"
#include "host/sdnotify.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/registry.h"
#include "lib/util.h"

#define SDNOTIFY_CHECK_MS 250
#define SDNOTIFY_CALL_MS  500 /* the poll loop waits this long at most */

void sdnotify_open(struct sdnotify *n)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len = path ? strlen(path) : 0;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (path == NULL)
		return;
	if (len < 2 || len >= sizeof(n->addr.sun_path) ||
	    (path[0] != '/' && path[0] != '@')) {
		log_warnx("NOTIFY_SOCKET '%s': want an absolute path or "
			  "@abstract name: not notifying",
			  path);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, path, len);
	if (path[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				  (path[0] == '/'));
	unsetenv("NOTIFY_SOCKET");
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		log_warn("NOTIFY_SOCKET: socket");
}

static void sdnotify_close(struct sdnotify *n)
{
	if (n->diag != NULL)
		ipc_client_close(n->diag);
	if (n->fd >= 0)
		close(n->fd);
	n->diag = NULL;
	n->fd = -1;
}

int sdnotify_send(struct sdnotify *n, const char *fmt, ...)
{
	static bool warned;
	char msg[512];
	va_list ap;
	int len;

	if (n->fd < 0)
		return 0;
	va_start(ap, fmt);
	len = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(msg))
		len = (int)strlen(msg);
	if (sendto(n->fd, msg, (size_t)len, MSG_NOSIGNAL,
		   (const struct sockaddr *)&n->addr, n->addr_len) == len)
		return 0;
	if (!warned)
		log_warn("NOTIFY_SOCKET: send");
	warned = true;
	return -1;
}

/* policy's state through diagd's Vm (the owner's socket). The client is
 * kept until the guest runs: nng handles frequent closes worst. */
static bool sdnotify_vm_running(struct sdnotify *n, const char *run_dir)
{
	char sock[4200];
	struct ipc_client_config cfg = {
		.name = "host",
		.path = sock,
		.destination = SVC_NAME_DIAGD,
		.service = &parapet__diag__descriptor,
		.timeout_ms = SDNOTIFY_CALL_MS,
	};
	Parapet__DiagVmRequest q = PARAPET__DIAG_VM_REQUEST__INIT;
	Parapet__PolicyReply *r = NULL;
	bool running = false;

	snprintf(sock, sizeof(sock), "%s/diag/diag.sock", run_dir);
	if (n->diag == NULL && access(sock, F_OK) == 0)
		n->diag = ipc_client_open(&cfg);
	if (n->diag == NULL)
		return false;
	q.command = (char *)(uintptr_t) "status";
	if (ipc_call(n->diag, "Vm", &q.base, (ProtobufCMessage **)&r) == 0) {
		running = r->state != NULL && !strcmp(r->state, "running");
		ipc_free(&r->base);
	}
	return running;
}

void sdnotify_tick(struct sdnotify *n, const char *run_dir,
		   uint64_t first_console_ns)
{
	uint64_t now = util_now_ns();

	if (n->fd < 0 || n->ready || now < n->next_ns)
		return;
	n->next_ns = now + SDNOTIFY_CHECK_MS * UTIL_NS_PER_MS;
	if (first_console_ns == 0 && !sdnotify_vm_running(n, run_dir))
		return;
	n->ready = true;
	if (n->diag != NULL)
		ipc_client_close(n->diag);
	n->diag = NULL;
	sdnotify_send(n, "READY=1\nSTATUS=running");
}

void sdnotify_done(struct sdnotify *n, uint64_t first_console_ns, int status)
{
	if (n->fd >= 0 && !n->ready && first_console_ns != 0)
		sdnotify_send(n, "READY=1");
	sdnotify_send(n, "STATUS=powered off (exit status %d)", status);
	sdnotify_close(n);
}
