/* `parapet run`'s console sinks and console.sock's clients (console.h):
 * hostchan's tap copies each console byte into a ring (on nng threads);
 * the run's poll loop sends the ring on to every attached console without
 * ever waiting for one, so a slow reader loses bytes (and is told) but
 * never holds the guest back. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/console.h"
#include "host/hostchan.h"
#include "host/run.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/util.h"

#define CONSOLE_SNDTIMEO_MS 1000 /* flushing the last bytes at the end */

enum console_kind { KIND_STDOUT, KIND_FILE, KIND_SOCKET, KIND_NONE };

struct con_client {
	int fd;	       /* -1: a free slot */
	bool raw;      /* socket:PATH's client: plain bytes both ways */
	bool hello;    /* console.sock: the HELLO came */
	bool writer;   /* its input goes to the guest */
	uint64_t off;  /* stream offset of the next byte it gets */
	uint64_t lost; /* bytes it was too slow for, not yet told */
};

struct console {
	enum console_kind kind;
	char path[4096];     /* file: or socket: PATH */
	bool created;	     /* console_open made the file */
	ino_t sock_ino;	     /* socket:PATH, removed only if still ours */
	int file_fd;	     /* file: */
	int sock_fd;	     /* socket: listening */
	int listen_fd;	     /* console.sock */
	int wake_fd;	     /* eventfd: the tap added bytes */
	struct hostchan *hc; /* NULL until console_tap */
	/* slots 0..CONSOLE_CLIENTS_MAX-1 for console.sock, the last for
	 * socket:PATH's one client */
	struct con_client cl[CONSOLE_CLIENTS_MAX + 1];
	pthread_mutex_t lock; /* the ring, end and closed (tap vs. loop) */
	uint8_t ring[CONSOLE_RING_SIZE];
	uint64_t end; /* stream offset past the newest byte */
	bool closed;
};

#define RAW_SLOT CONSOLE_CLIENTS_MAX

/* ------------------------------------------------------------- opening */

/* A socket bound at path with mode 0600 (umask: no thread runs yet). */
static int console_bind(const char *path, int type)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	mode_t old;

	if (fd < 0)
		return -1;
	if (strlen(path) >= sizeof(a.sun_path)) {
		close(fd);
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(a.sun_path, path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, 4) != 0) {
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

/* Whether something answers on the unix stream socket at path. */
static bool console_sock_live(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	strcpy(a.sun_path, path);
	live = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return live;
}

/* socket:PATH: a stale socket there is replaced; anything else is not. */
static int console_open_socket(struct console *c)
{
	struct stat st;

	if (lstat(c->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return run_fail("--console socket:%s: exists and is "
					"not a socket",
					c->path);
		if (console_sock_live(c->path))
			return run_fail("--console socket:%s: in use (a "
					"program listens there)",
					c->path);
		if (unlink(c->path) != 0)
			return run_fail("--console socket:%s: %s", c->path,
					strerror(errno));
	}
	c->sock_fd = console_bind(c->path, SOCK_STREAM);
	if (c->sock_fd < 0 || stat(c->path, &st) != 0)
		return run_fail("--console socket:%s: %s", c->path,
				strerror(errno));
	c->sock_ino = st.st_ino;
	return 0;
}

/* file:PATH: appended to; a regular file or a character device. */
static int console_open_file(struct console *c)
{
	int flags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY;
	struct stat st;

	c->file_fd = open(c->path, flags | O_CREAT | O_EXCL, 0600);
	c->created = c->file_fd >= 0;
	if (c->file_fd < 0 && errno == EEXIST)
		c->file_fd = open(c->path, flags | O_NONBLOCK);
	if (c->file_fd < 0)
		return run_fail("--console file:%s: %s", c->path,
				strerror(errno));
	if (fstat(c->file_fd, &st) != 0 ||
	    !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
		return run_fail("--console file:%s: not a regular file",
				c->path);
	/* opened without waiting (a fifo); the writes may wait */
	fcntl(c->file_fd, F_SETFL, O_APPEND);
	return 0;
}

static int console_parse(struct console *c, const char *spec)
{
	const char *colon = spec ? strchr(spec, ':') : NULL;
	size_t klen = colon ? (size_t)(colon - spec) : 0;

	if (spec == NULL || !strcmp(spec, "stdout"))
		c->kind = KIND_STDOUT;
	else if (!strcmp(spec, "none"))
		c->kind = KIND_NONE;
	else if (colon && klen == 4 && !strncmp(spec, "file", 4))
		c->kind = KIND_FILE;
	else if (colon && klen == 6 && !strncmp(spec, "socket", 6))
		c->kind = KIND_SOCKET;
	else
		return run_fail("--console '%s': want stdout, none, file:PATH "
				"or socket:PATH",
				spec);
	if (c->kind == KIND_FILE || c->kind == KIND_SOCKET) {
		if (colon[1] == '\0')
			return run_fail("--console '%s': PATH is empty", spec);
		if ((size_t)snprintf(c->path, sizeof(c->path), "%s",
				     colon + 1) >= sizeof(c->path))
			return run_fail("--console '%s': PATH too long", spec);
	}
	return 0;
}

int console_open(const char *spec, struct console **out)
{
	struct console *c = calloc(1, sizeof(*c));
	int rc;

	*out = c;
	if (c == NULL)
		return run_fail("out of memory");
	c->file_fd = c->sock_fd = c->listen_fd = -1;
	for (int i = 0; i <= RAW_SLOT; i++)
		c->cl[i].fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return run_fail("eventfd: %s", strerror(errno));
	if ((rc = console_parse(c, spec)) != 0)
		return rc;
	if (c->kind == KIND_FILE)
		rc = console_open_file(c);
	else if (c->kind == KIND_SOCKET)
		rc = console_open_socket(c);
	if (rc != 0)
		console_abort(c);
	return rc;
}

int console_listen(struct console *c, const char *run_dir)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/console.sock", run_dir);
	c->listen_fd = console_bind(path, SOCK_SEQPACKET);
	if (c->listen_fd < 0)
		return run_fail("%s: %s", path, strerror(errno));
	return 0;
}

int console_out_fd(const struct console *c)
{
	return c->kind == KIND_STDOUT ? STDOUT_FILENO
	       : c->kind == KIND_FILE ? c->file_fd
				      : -1;
}

int console_in_fd(const struct console *c)
{
	return c->kind == KIND_STDOUT ? STDIN_FILENO : -1;
}

/* ---------------------------------------------------------------- ring */

/* hostchan's tap: on an nng thread, under hostchan's console lock. */
static void console_on_output(void *arg, const uint8_t *p, size_t n)
{
	struct console *c = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	if (c->closed) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	if (n > CONSOLE_RING_SIZE) { /* only the newest bytes fit */
		c->end += n - CONSOLE_RING_SIZE;
		p += n - CONSOLE_RING_SIZE;
		n = CONSOLE_RING_SIZE;
	}
	for (size_t k = 0; k < n;) {
		size_t at = (size_t)(c->end % CONSOLE_RING_SIZE);
		size_t m = CONSOLE_RING_SIZE - at < n - k
			       ? CONSOLE_RING_SIZE - at
			       : n - k;

		memcpy(c->ring + at, p + k, m);
		k += m;
		c->end += m;
	}
	pthread_mutex_unlock(&c->lock);
	if (write(c->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("console wake: %s", strerror(errno));
}

void console_tap(struct console *c, struct hostchan *h)
{
	c->hc = h;
	hostchan_set_tap(h, console_on_output, c);
}

/* The oldest stream offset the ring still holds (lock held). */
static uint64_t console_ring_start(const struct console *c)
{
	return c->end > CONSOLE_RING_SIZE ? c->end - CONSOLE_RING_SIZE : 0;
}

/* ------------------------------------------------------------- clients */

static void console_drop(struct con_client *k)
{
	if (k->fd >= 0)
		close(k->fd);
	*k = (struct con_client){ .fd = -1 };
}

/* A packet of type and payload p (n bytes, at most CONSOLE_DATA_MAX). */
static ssize_t console_send(int fd, char type, const void *p, size_t n,
			    int flags)
{
	struct iovec iov[2] = { { &type, 1 }, { (void *)(uintptr_t)p, n } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	return sendmsg(fd, &m, flags | MSG_NOSIGNAL);
}

static void console_note(int fd, const char *text)
{
	console_send(fd, CONSOLE_PKT_NOTE, text, strlen(text), MSG_DONTWAIT);
}

/* Sends k what it has not had, as far as its socket takes it now
 * (flags: MSG_DONTWAIT, or 0 at the end). Lock held. false: drop it. */
static bool console_flush_one(struct console *c, struct con_client *k,
			      int flags)
{
	char note[128];

	if (k->off < console_ring_start(c)) {
		k->lost += console_ring_start(c) - k->off;
		k->off = console_ring_start(c);
	}
	if (k->lost > 0 && !k->raw) {
		snprintf(note, sizeof(note),
			 "%llu bytes of console output lost (this console "
			 "read too slowly)",
			 (unsigned long long)k->lost);
		console_note(k->fd, note);
	} else if (k->lost > 0)
		log_warnx("--console socket: %llu bytes lost (the client "
			  "read too slowly)",
			  (unsigned long long)k->lost);
	k->lost = 0;
	while (k->off < c->end) {
		size_t at = (size_t)(k->off % CONSOLE_RING_SIZE);
		size_t n = CONSOLE_RING_SIZE - at;
		ssize_t w;

		if (n > c->end - k->off)
			n = (size_t)(c->end - k->off);
		if (n > CONSOLE_DATA_MAX)
			n = CONSOLE_DATA_MAX;
		w = k->raw ? send(k->fd, c->ring + at, n, flags | MSG_NOSIGNAL)
			   : console_send(k->fd, CONSOLE_PKT_OUTPUT,
					  c->ring + at, n, flags);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		k->off += k->raw ? (uint64_t)w : n;
	}
	return true;
}

static void console_flush(struct console *c, int flags)
{
	pthread_mutex_lock(&c->lock);
	for (int i = 0; i <= RAW_SLOT; i++) {
		struct con_client *k = &c->cl[i];

		if (k->fd >= 0 && (k->hello || k->raw) &&
		    !console_flush_one(c, k, flags))
			console_drop(k);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Only the user running the VM, and root, may attach (console.sock and
 * socket:PATH are 0600 already; this holds even if a mode is changed). */
static int console_accept(int lfd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    (cr.uid != getuid() && cr.uid != 0)) {
		log_warnx("console: refused a connection of uid %d",
			  (int)cr.uid);
		close(fd);
		return -1;
	}
	return fd;
}

static void console_refuse(int fd, const char *why)
{
	console_send(fd, CONSOLE_PKT_REFUSED, why, strlen(why), MSG_DONTWAIT);
	close(fd);
}

static void console_on_listen(struct console *c)
{
	int fd = console_accept(c->listen_fd);

	if (fd < 0)
		return;
	for (int i = 0; i < CONSOLE_CLIENTS_MAX; i++)
		if (c->cl[i].fd < 0) {
			c->cl[i] = (struct con_client){ .fd = fd };
			return;
		}
	console_refuse(fd, "too many consoles attached");
}

static void console_on_sock_listen(struct console *c)
{
	static const char busy[] = "parapet: another client has this "
				   "console\r\n";
	int fd = console_accept(c->sock_fd);

	if (fd < 0)
		return;
	if (c->cl[RAW_SLOT].fd >= 0) {
		if (write(fd, busy, sizeof(busy) - 1) < 0)
			log_debug("console: %s", strerror(errno));
		close(fd);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->cl[RAW_SLOT] = (struct con_client){
		.fd = fd, .raw = true, .writer = true, .off = c->end
	};
	pthread_mutex_unlock(&c->lock);
}

static struct con_client *console_writer(struct console *c)
{
	for (int i = 0; i < CONSOLE_CLIENTS_MAX; i++)
		if (c->cl[i].fd >= 0 && c->cl[i].writer)
			return &c->cl[i];
	return NULL;
}

/* The peer's pid, for the refusal (0 when unknown). */
static int console_peer_pid(int fd)
{
	struct ucred cr = { 0 };
	socklen_t len = sizeof(cr);

	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len);
	return (int)cr.pid;
}

/* HELLO: one writer at a time; a reader starts at the newest byte, or
 * at the oldest the ring holds with CONSOLE_HELLO_HISTORY. */
static void console_on_hello(struct console *c, struct con_client *k,
			     const uint8_t *p, size_t n)
{
	struct con_client *w = console_writer(c);
	char why[160];

	if (n != 2 || p[0] != CONSOLE_PKT_HELLO) {
		console_refuse(k->fd, "bad hello");
		*k = (struct con_client){ .fd = -1 };
		return;
	}
	if ((p[1] & CONSOLE_HELLO_WRITE) && w != NULL) {
		snprintf(why, sizeof(why),
			 "another console (pid %d) is attached for input; "
			 "--read-only watches",
			 console_peer_pid(w->fd));
		console_refuse(k->fd, why);
		*k = (struct con_client){ .fd = -1 };
		return;
	}
	pthread_mutex_lock(&c->lock);
	k->hello = true;
	k->writer = p[1] & CONSOLE_HELLO_WRITE;
	k->off = p[1] & CONSOLE_HELLO_HISTORY ? console_ring_start(c) : c->end;
	pthread_mutex_unlock(&c->lock);
	console_send(k->fd, CONSOLE_PKT_OK, k->writer ? "rw" : "ro", 2,
		     MSG_DONTWAIT);
}

/* One packet from a console.sock client, or bytes from socket:PATH's. */
static void console_on_client(struct console *c, struct con_client *k)
{
	uint8_t buf[CONSOLE_DATA_MAX + 1];
	ssize_t n;

	if (k->raw) {
		n = read(k->fd, buf, CONSOLE_DATA_MAX);
		if (n > 0)
			hostchan_put_input(c->hc, buf, (size_t)n);
	} else {
		n = recv(k->fd, buf, sizeof(buf), MSG_TRUNC);
		if (n > (ssize_t)sizeof(buf))
			n = 0; /* oversized: not a console of ours */
		else if (n > 0 && !k->hello)
			return console_on_hello(c, k, buf, (size_t)n);
		else if (n > 1 && k->writer && buf[0] == CONSOLE_PKT_INPUT)
			hostchan_put_input(c->hc, buf + 1, (size_t)n - 1);
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		pthread_mutex_lock(&c->lock);
		console_drop(k);
		pthread_mutex_unlock(&c->lock);
	}
}

/* ---------------------------------------------------------- poll loop */

static short console_client_events(struct console *c, struct con_client *k,
				   uint64_t end)
{
	short ev = 0;

	/* input waits while the host channel's buffer is full */
	if (!k->hello && !k->raw)
		ev |= POLLIN;
	else if (!k->writer ||
		 (c->hc && hostchan_input_room(c->hc) >= CONSOLE_DATA_MAX))
		ev |= POLLIN;
	if ((k->hello || k->raw) && k->off < end)
		ev |= POLLOUT;
	return ev;
}

int console_pollfds(struct console *c, struct pollfd *p)
{
	int n = 0;
	uint64_t end;

	if (c == NULL || c->closed)
		return 0;
	pthread_mutex_lock(&c->lock);
	end = c->end;
	pthread_mutex_unlock(&c->lock);
	p[n++] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
	p[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
	p[n++] = (struct pollfd){ .fd = c->sock_fd, .events = POLLIN };
	for (int i = 0; i <= RAW_SLOT; i++) {
		struct con_client *k = &c->cl[i];

		p[n++] = (struct pollfd){
			.fd = k->fd,
			.events =
			    k->fd < 0 ? 0 : console_client_events(c, k, end),
		};
	}
	return n;
}

void console_on_poll(struct console *c, const struct pollfd *p, int n)
{
	uint64_t v;

	if (n < 3 + RAW_SLOT + 1)
		return;
	if (p[0].revents && read(c->wake_fd, &v, sizeof(v)) < 0)
		log_debug("console wake: %s", strerror(errno));
	if (p[1].revents)
		console_on_listen(c);
	if (p[2].revents)
		console_on_sock_listen(c);
	for (int i = 0; i <= RAW_SLOT; i++) {
		struct con_client *k = &c->cl[i];

		/* the slot may have been taken since the poll */
		if (k->fd < 0 || p[3 + i].fd != k->fd || !p[3 + i].revents)
			continue;
		if (p[3 + i].revents & (POLLIN | POLLHUP | POLLERR))
			console_on_client(c, k);
	}
	console_flush(c, MSG_DONTWAIT);
}

/* ------------------------------------------------------------- the end */

static void console_end_text(int status, char *out, size_t len)
{
	if (status == PARTITION_EXIT_CRASH)
		snprintf(out, len, "the guest crashed");
	else if (status == PARTITION_EXIT_TIMEOUT)
		snprintf(out, len, "the VM was powered off at its --timeout");
	else if (status == PARTITION_EXIT_SETUP)
		snprintf(out, len, "the partition failed");
	else if (status > PARTITION_EXIT_SIGNAL_BASE)
		snprintf(out, len, "the VM was powered off (signal %d)",
			 status - PARTITION_EXIT_SIGNAL_BASE);
	else
		snprintf(out, len, "the VM powered off (exit value %d)",
			 status);
}

static void console_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The last bytes, each console waiting at most CONSOLE_SNDTIMEO_MS. */
static void console_flush_last(struct console *c)
{
	struct timeval tv = { 0, CONSOLE_SNDTIMEO_MS * 1000 };

	for (int i = 0; i <= RAW_SLOT; i++)
		if (c->cl[i].fd >= 0) {
			setsockopt(c->cl[i].fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
				   sizeof(tv));
			fcntl(c->cl[i].fd, F_SETFL, 0);
		}
	console_flush(c, 0);
}

void console_close(struct console *c, int status)
{
	char why[96];

	if (c == NULL)
		return;
	console_flush_last(c);
	console_end_text(status, why, sizeof(why));
	pthread_mutex_lock(&c->lock);
	c->closed = true; /* the tap may still run: it does nothing now */
	for (int i = 0; i <= RAW_SLOT; i++) {
		if (c->cl[i].fd >= 0 && c->cl[i].hello)
			console_send(c->cl[i].fd, CONSOLE_PKT_END, why,
				     strlen(why), MSG_DONTWAIT);
		console_drop(&c->cl[i]);
	}
	pthread_mutex_unlock(&c->lock);
	console_close_fd(&c->listen_fd);
	console_close_fd(&c->file_fd);
	if (c->sock_fd >= 0) {
		struct stat st;

		if (stat(c->path, &st) == 0 && st.st_ino == c->sock_ino)
			unlink(c->path);
		console_close_fd(&c->sock_fd);
	}
	/* the struct stays: hostchan may call the tap until it is closed */
}

void console_abort(struct console *c)
{
	if (c == NULL)
		return;
	if (c->created)
		unlink(c->path);
	c->created = false;
	console_close(c, PARTITION_EXIT_SETUP);
}
