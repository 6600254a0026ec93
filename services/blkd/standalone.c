/* parapet-blkd --standalone --socket PATH --disk PATH[,ro]: opens the
 * disk with the user's rights, listens on PATH (0600: the user's own
 * front-ends only), loads blkd's seccomp filter and serves one front-end
 * at a time until SIGINT or SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/registry.h"
#include "sandbox/sandbox.h"
#include "services/blkd/blkd.h"
#include "services/blkd/standalone.h"

struct standalone_opts {
	const char *socket;
	const char *disk;
	bool ro;
	enum sandbox_mode mode;
};

void blkd_standalone_usage(FILE *out)
{
	fprintf(out,
		"usage: parapet-blkd --standalone --socket PATH --disk "
		"FILE[,ro] [options]\n"
		"\n"
		"Serves FILE as a vhost-user-blk device on the socket PATH to "
		"one\n"
		"front-end at a time (e.g. qemu -device vhost-user-blk), until "
		"SIGINT\n"
		"or SIGTERM. Only the user's own processes may connect.\n"
		"\n"
		"options:\n"
		"  --socket PATH           the vhost-user socket to create\n"
		"  --disk FILE[,ro]        the disk image: a file of whole "
		"512-byte\n"
		"                          sectors; ,ro serves it read-only\n"
		"  --sandbox strict|log|off  blkd's seccomp filter (default "
		"strict)\n"
		"  -h, --help              this text\n"
		"\n"
		"Without --standalone, parapet-blkd runs only as a service of "
		"parapet-init.\n"
		"\n"
		"exit status: 0 stopped by a signal, 125 usage or set-up "
		"failure.\n");
}

/* FILE[,ro] */
static int parse_disk(const char *arg, struct standalone_opts *o)
{
	static char path[4096];
	size_t n = strlen(arg);

	if (n > 3 && strcmp(arg + n - 3, ",ro") == 0) {
		o->ro = true;
		n -= 3;
	}
	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, arg, n);
	path[n] = '\0';
	o->disk = path;
	return 0;
}

enum { OPT_STANDALONE = 256, OPT_SOCKET, OPT_DISK, OPT_SANDBOX };

static int parse_args(int argc, char **argv, struct standalone_opts *o)
{
	static const struct option opts[] = {
		{ "standalone", no_argument, NULL, OPT_STANDALONE },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "sandbox", required_argument, NULL, OPT_SANDBOX },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_STANDALONE:
			break;
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_DISK:
			if (parse_disk(optarg, o) != 0) {
				log_warnx("--disk '%s': want FILE or FILE,ro",
					  optarg);
				return -1;
			}
			break;
		case OPT_SANDBOX:
			if (sandbox_mode_parse(optarg, &o->mode) != 0) {
				log_warnx("--sandbox '%s': want strict, log "
					  "or off",
					  optarg);
				return -1;
			}
			break;
		case 'h':
			return 1;
		default:
			return -1;
		}
	}
	if (optind != argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (o->socket == NULL || o->disk == NULL) {
		log_warnx("--socket and --disk are required");
		return -1;
	}
	return 0;
}

/* Opens the disk as `parapet run` does: read-write unless ,ro; a regular
 * file of whole sectors, not empty. */
static int open_disk(const struct standalone_opts *o)
{
	int fd = open(o->disk, (o->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		log_warn("--disk %s", o->disk);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    st.st_size % BLKD_SECTOR != 0) {
		log_warnx("--disk %s: want a regular, non-empty file of whole "
			  "512-byte sectors",
			  o->disk);
		close(fd);
		return -1;
	}
	return fd;
}

/* SIGINT and SIGTERM as a readable fd: the disk loop's stop. */
static int stop_signals_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC);
}

static void report(const struct blkd_disk *d)
{
	const struct blkd_counters *c = &d->c;

	log_info(
	    "%s: %llu requests (%llu reads, %llu writes, %llu flushes), "
	    "%llu bytes read, %llu written, %llu errors, %llu refused "
	    "chains, %llu connections, %llu refused peers",
	    d->label, (unsigned long long)c->requests,
	    (unsigned long long)c->reads, (unsigned long long)c->writes,
	    (unsigned long long)c->flushes, (unsigned long long)c->bytes_read,
	    (unsigned long long)c->bytes_written, (unsigned long long)c->errors,
	    (unsigned long long)c->refused, (unsigned long long)c->connections,
	    (unsigned long long)c->rejected_peers);
}

static int run(const struct standalone_opts *o)
{
	static struct blkd_disk d;
	char err[256];
	int fd = open_disk(o), stop_fd;

	if (fd < 0 || blkd_disk_init(&d, 0, fd, o->disk) != 0)
		return BLKD_EXIT_SETUP;
	d.peer_uid = geteuid();
	stop_fd = stop_signals_fd();
	if (stop_fd < 0 || blkd_listen(&d, o->socket, geteuid()) != 0)
		return BLKD_EXIT_SETUP;
	if (sandbox_filter_self(SVC_NAME_BLKD, SANDBOX_PROFILE_BLKD, o->mode,
				err, sizeof(err)) != 0) {
		log_warnx("sandbox: %s", err);
		unlink(o->socket);
		return BLKD_EXIT_SETUP;
	}
	log_info("%s: %llu sectors%s, on %s", o->disk,
		 (unsigned long long)d.sectors, d.ro ? ", read-only" : "",
		 o->socket);
	blkd_serve(&d, stop_fd);
	unlink(o->socket);
	report(&d);
	return 0;
}

int blkd_standalone_main(int argc, char **argv)
{
	struct standalone_opts o = { .mode = SANDBOX_STRICT };
	int rc;

	log_init(SVC_NAME_BLKD);
	signal(SIGPIPE, SIG_IGN);
	rc = parse_args(argc, argv, &o);
	if (rc == 1) {
		blkd_standalone_usage(stdout);
		return 0;
	}
	if (rc != 0) {
		blkd_standalone_usage(stderr);
		return BLKD_EXIT_SETUP;
	}
	return run(&o);
}
