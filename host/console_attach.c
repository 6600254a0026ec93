/* `parapet console NAME`: attaches to a running VM's console through its
 * run directory's console.sock, which `parapet run` serves (host/console.h,
 * docs/console.md): the output from now on to stdout, stdin to the guest
 * unless --read-only, Ctrl-] detaches. A terminal on stdin is put in raw
 * mode (Ctrl-C reaches the guest) and restored on every way out. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "host/console.h"
#include "lib/rundir.h"

#define ATTACH_ESCAPE	   0x1d /* Ctrl-] as telnet and virsh */
#define ATTACH_REPLY_MS	   10000
#define ATTACH_EXIT_FAILED 1
#define ATTACH_EXIT_USAGE  2
#define ATTACH_EXIT_ENDED  3

static const char console_usage[] =
    "usage: parapet console NAME [--read-only] [--history]\n"
    "  attaches to the console of the running VM NAME: its output from now\n"
    "  on to stdout, stdin to the guest; Ctrl-] detaches (docs/console.md).\n"
    "  One console at a time writes: a second one is refused.\n"
    "  --read-only  watch only (stdin is read for Ctrl-] alone)\n"
    "  --history    start with the recent output `parapet run` kept (up to\n"
    "               64 KiB)\n"
    "exit: 0 detached (Ctrl-], or the end of stdin when writing), 1 failed\n"
    "      (no such VM, refused, connection lost), 2 bad usage, 3 the VM\n"
    "      ended while attached, 128+N signal N\n";

struct attach {
	const char *name;
	bool read_only, history;
	int sock, sigfd;
	bool tty, stdin_open;
	struct termios saved;
};

static int attach_fail(const struct attach *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int attach_fail(const struct attach *a, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "parapet console: %s: ", a->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return ATTACH_EXIT_FAILED;
}

static int attach_parse(int argc, char **argv, struct attach *a)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--read-only"))
			a->read_only = true;
		else if (!strcmp(argv[i], "--history"))
			a->history = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return fputs(console_usage, stdout), -1;
		else if (argv[i][0] == '-' || a->name != NULL)
			return fprintf(stderr,
				       "parapet console: unexpected '%s'\n%s",
				       argv[i], console_usage),
			       ATTACH_EXIT_USAGE;
		else
			a->name = argv[i];
	}
	if (a->name == NULL)
		return fprintf(stderr, "parapet console: expected NAME\n%s",
			       console_usage),
		       ATTACH_EXIT_USAGE;
	if (!rundir_name_ok(a->name))
		return fprintf(stderr, "parapet console: bad name '%s'\n",
			       a->name),
		       ATTACH_EXIT_USAGE;
	return 0;
}

static int attach_connect(struct attach *a)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char base[3000], err[256];

	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0)
		return attach_fail(a, "%s", err);
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path),
			     "%s/%s/console.sock", base,
			     a->name) >= sizeof(sa.sun_path))
		return attach_fail(a, "run directory path too long");
	a->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (a->sock < 0)
		return attach_fail(a, "socket: %s", strerror(errno));
	if (connect(a->sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	if (errno == ENOENT)
		return attach_fail(a, "no running VM of that name");
	if (errno == ECONNREFUSED)
		return attach_fail(a, "the VM is gone (its parapet run "
				      "has ended)");
	return attach_fail(a, "%s", strerror(errno));
}

/* HELLO, then OK or the reason of a refusal. */
static int attach_hello(struct attach *a)
{
	uint8_t hello[2] = { CONSOLE_PKT_HELLO, 0 };
	char buf[CONSOLE_DATA_MAX + 2];
	struct pollfd p = { .fd = a->sock, .events = POLLIN };
	ssize_t n;

	hello[1] = (a->read_only ? 0 : CONSOLE_HELLO_WRITE) |
		   (a->history ? CONSOLE_HELLO_HISTORY : 0);
	if (send(a->sock, hello, 2, MSG_NOSIGNAL) != 2)
		return attach_fail(a, "%s", strerror(errno));
	if (poll(&p, 1, ATTACH_REPLY_MS) != 1)
		return attach_fail(a, "no answer from parapet run");
	n = recv(a->sock, buf, sizeof(buf) - 1, 0);
	if (n > 0 && buf[0] == CONSOLE_PKT_OK)
		return 0;
	if (n > 0 && buf[0] == CONSOLE_PKT_REFUSED) {
		buf[n] = '\0';
		return attach_fail(a, "refused: %s", buf + 1);
	}
	return attach_fail(a, "the VM is gone (no answer)");
}

/* Raw input (no echo, no line editing, no signals from keys); output
 * processing stays, so the guest's "\n" still starts a line. */
static void attach_raw(struct attach *a)
{
	struct termios t;

	a->tty =
	    isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &a->saved) == 0;
	if (!a->tty)
		return;
	t = a->saved;
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR |
				 IGNCR | ICRNL | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

static void attach_restore(const struct attach *a)
{
	if (a->tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &a->saved);
}

static bool attach_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* A packet from parapet run: -1 to go on, else the exit status. */
static int attach_on_sock(struct attach *a)
{
	char buf[CONSOLE_DATA_MAX + 2];
	ssize_t n = recv(a->sock, buf, sizeof(buf) - 1, 0);

	if (n < 0 && errno == EINTR)
		return -1;
	if (n <= 0) {
		attach_restore(a);
		return attach_fail(a, "connection to parapet run lost");
	}
	buf[n] = '\0';
	switch (buf[0]) {
	case CONSOLE_PKT_OUTPUT:
		/* stdout closed (| head): nothing more to show */
		return attach_write_all(STDOUT_FILENO, buf + 1, (size_t)n - 1)
			   ? -1
			   : 0;
	case CONSOLE_PKT_NOTE:
		fprintf(stderr, "\nparapet console: %s: %s\n", a->name,
			buf + 1);
		return -1;
	case CONSOLE_PKT_END:
		attach_restore(a);
		fprintf(stderr, "\nparapet console: %s: %s\n", a->name,
			buf + 1);
		return ATTACH_EXIT_ENDED;
	default:
		return -1; /* a newer server's packet: not ours to show */
	}
}

static bool attach_send_input(struct attach *a, const char *p, size_t n)
{
	char pkt[CONSOLE_DATA_MAX + 1] = { CONSOLE_PKT_INPUT };

	if (n == 0 || a->read_only)
		return true;
	memcpy(pkt + 1, p, n);
	return send(a->sock, pkt, n + 1, MSG_NOSIGNAL) == (ssize_t)n + 1;
}

/* stdin: -1 to go on, else the exit status (0: detached). */
static int attach_on_stdin(struct attach *a)
{
	char buf[CONSOLE_DATA_MAX];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	char *esc;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (n <= 0) {
		a->stdin_open = false;
		return a->read_only ? -1 : 0; /* a writer's input ended */
	}
	esc = memchr(buf, ATTACH_ESCAPE, (size_t)n);
	if (!attach_send_input(a, buf, esc ? (size_t)(esc - buf) : (size_t)n))
		return attach_fail(a, "connection to parapet run lost");
	return esc ? 0 : -1;
}

static int attach_loop(struct attach *a)
{
	struct signalfd_siginfo si;
	int rc = -1;

	while (rc < 0) {
		struct pollfd p[3] = {
			{ .fd = a->sock, .events = POLLIN },
			{ .fd = a->stdin_open ? STDIN_FILENO : -1,
			  .events = POLLIN },
			{ .fd = a->sigfd, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			return attach_fail(a, "poll: %s", strerror(errno));
		if (p[2].revents &&
		    read(a->sigfd, &si, sizeof(si)) == sizeof(si))
			return 128 + (int)si.ssi_signo;
		if (p[0].revents)
			rc = attach_on_sock(a);
		if (rc < 0 && p[1].revents)
			rc = attach_on_stdin(a);
	}
	return rc;
}

int console_main(int argc, char **argv)
{
	static struct attach a = { .sock = -1, .stdin_open = true };
	sigset_t set;
	int rc = attach_parse(argc, argv, &a);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	a.sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (a.sigfd < 0)
		return attach_fail(&a, "signalfd: %s", strerror(errno));
	if ((rc = attach_connect(&a)) != 0 || (rc = attach_hello(&a)) != 0)
		return rc;
	attach_raw(&a);
	fprintf(stderr,
		"parapet console: attached to %s (%s); Ctrl-] "
		"detaches\n",
		a.name, a.read_only ? "read-only" : "read-write");
	rc = attach_loop(&a);
	attach_restore(&a);
	if (rc == 0)
		fprintf(stderr, "\nparapet console: detached from %s\n",
			a.name);
	close(a.sock);
	return rc;
}
