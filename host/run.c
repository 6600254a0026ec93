/* `parapet run`: the host side of a partition. Checks the flags, creates
 * the run directory, starts parapet-boot as PID 1 of new pid, mount, ipc,
 * uts and net namespaces (and a user namespace when not root), then
 * waits: SIGTERM/SIGINT and --timeout power the partition off (the
 * signal, or SIGTERM for the timeout, to its init), and init's exit
 * status becomes ours (DESIGN.md §3). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "boot/vmopts.h"
#include "host/console.h"
#include "host/disks.h"
#include "host/hostchan.h"
#include "host/ids.h"
#include "host/libexec.h"
#include "host/run.h"
#include "host/sdnotify.h"
#include "host/timeline.h"
#include "lib/cpulist.h"
#include "lib/fdchan.h"
#include "lib/jsonout.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/partition.h"
#include "lib/rundir.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define RUN_KILL_GRACE_MS 30000 /* power-off to SIGKILL */

/* The flags of `parapet run`, all but --timeout and --console passed on
 * to the shim. */
#define RUN_FLAGS                                                              \
	(VMOPT(VMOPT_NAME) | VMOPT(VMOPT_ACCEL) | VMOPT(VMOPT_CPUS) |          \
	 VMOPT(VMOPT_SIDECAR_CPUS) | VMOPT(VMOPT_MEM) | VMOPT(VMOPT_CMDLINE) | \
	 VMOPT(VMOPT_GUEST_CMDLINE) | VMOPT(VMOPT_HOST_DTB) |                  \
	 VMOPT(VMOPT_SANDBOX) | VMOPT(VMOPT_TIMEOUT) | VMOPT(VMOPT_MANIFEST) | \
	 VMOPT(VMOPT_DISK) | VMOPT(VMOPT_CONSOLE) | VMOPT(VMOPT_QUIET) |       \
	 VMOPT(VMOPT_VERBOSE) | VMOPT(VMOPT_HELP))
#define RUN_SHIM_FLAGS                                                         \
	((RUN_FLAGS & ~(VMOPT(VMOPT_TIMEOUT) | VMOPT(VMOPT_CONSOLE))) |        \
	 VMOPT(VMOPT_RUN_DIR) | VMOPT(VMOPT_LIBEXEC) |                         \
	 VMOPT(VMOPT_REFTIME_RUN_START))

struct run {
	struct vmopts a;
	unsigned timeout_s;
	char name[64];
	char dir[4096];
	char libexec[2100];
	char image[PATH_MAX];
	uint64_t start_ns;
	pid_t child;
	bool userns;
	struct hostchan *hc; /* the host channel and ctl.sock */
	struct console *con; /* --console, console.sock */
	int fdchan[2];	     /* the descriptor channel: ours, init's */
	struct run_ids ids;  /* the ids its services run as */
	struct host_disks disks;
	struct timeline_host tl;
	uint64_t tl_next_ns;
	char state[16];	    /* in status.json */
	struct sdnotify sd; /* under systemd: READY=1, STATUS= */
};

static const char run_usage[] =
    "usage: parapet run IMAGE.igvm [options]\n"
    "  --name NAME              partition name (default: image-PID)\n"
    "  --accel kvm|emu|auto     accelerator (default auto)\n"
    "  --cpus N                 VP count (default: the image's)\n"
    "  --sidecar-cpus LIST|auto|none  sidecar CPUs (default auto: all "
    "but 0)\n"
    "  --mem SIZE               guest memory (default: the image's)\n"
    "  --cmdline OPTS           paravisor options, appended when the "
    "image allows\n"
    "  --guest-cmdline ARGS     the guest's command line\n"
    "  --host-dtb FILE          host device tree (cpus, memory, "
    "bootargs, /parapet)\n"
    "  --disk PATH[,ro]         a disk served by parapet-blkd (up to 8; "
    "docs/disks.md)\n"
    "  --disk vhost-user=SOCKET a disk of an external vhost-user-blk "
    "backend\n"
    "  --sandbox strict|log|off service sandbox (default strict)\n"
    "  --timeout SECONDS        power off after this long (exit 124)\n"
    "  --quiet                  only warnings and errors, from every "
    "process\n"
    "  --verbose                debug messages too (default: PARAPET_LOG, "
    "else info;\n"
    "                           parapet-options(7))\n"
    "  --console KIND           where the console goes: stdout (default, "
    "input\n"
    "                           from stdin), none, file:PATH or "
    "socket:PATH;\n"
    "                           `parapet console NAME` attaches in every "
    "mode\n"
    "  --manifest FILE          TEST ONLY: services to start instead of "
    "the default\n"
    "exit: the guest's exit value (122 when it is 123 or more), 123 crash,\n"
    "      124 timeout, 125 Parapet failed, 130 Ctrl-C (SIGINT), 143 "
    "SIGTERM\n";

int run_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "parapet run: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return PARTITION_EXIT_SETUP;
}

/* Syntax of every flag; the shim checks them against the image. */
static int run_check_flags(const struct vmopts *a, unsigned *timeout_s)
{
	struct cpulist l;
	uint64_t v;
	int rc;

	if (a->accel && strcmp(a->accel, "kvm") && strcmp(a->accel, "emu") &&
	    strcmp(a->accel, "auto"))
		return run_fail("--accel '%s': want kvm, emu or auto",
				a->accel);
	if (a->cpus && parse_uint(a->cpus, 1, 64, &v) != 0)
		return run_fail("--cpus '%s': want 1-64", a->cpus);
	if (a->sidecar_cpus && strcmp(a->sidecar_cpus, "auto") &&
	    strcmp(a->sidecar_cpus, "none") &&
	    (rc = cpulist_parse(a->sidecar_cpus, 64, &l)) != CPULIST_OK)
		return run_fail("--sidecar-cpus '%s': %s", a->sidecar_cpus,
				cpulist_strerror(rc));
	if (a->mem && (parse_size(a->mem, &v) != 0 || v == 0 || v % 4096))
		return run_fail("--mem '%s': want a size in whole pages, "
				"e.g. 64M",
				a->mem);
	if (a->sandbox && strcmp(a->sandbox, "strict") &&
	    strcmp(a->sandbox, "log") && strcmp(a->sandbox, "off"))
		return run_fail("--sandbox '%s': want strict, log or off",
				a->sandbox);
	if (a->timeout) {
		if (parse_uint(a->timeout, 1, 7 * 86400, &v) != 0)
			return run_fail("--timeout '%s': want seconds (1 to "
					"604800)",
					a->timeout);
		*timeout_s = (unsigned)v;
	}
	if (a->quiet && a->verbose)
		return run_fail("--quiet and --verbose: at most one");
	if (a->quiet || a->verbose)
		log_set_level(a->quiet ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG);
	if (a->name && !rundir_name_ok(a->name))
		return run_fail("--name '%s': want 1-63 of A-Z a-z 0-9 _ . -",
				a->name);
	return 0;
}

static int run_check_file(const char *what, const char *path)
{
	struct stat st;

	if (path == NULL)
		return 0;
	if (stat(path, &st) != 0 || access(path, R_OK) != 0)
		return run_fail("%s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return run_fail("%s %s: not a regular file", what, path);
	return 0;
}

static int run_parse(int argc, char **argv, struct vmopts *a,
		     unsigned *timeout_s)
{
	int next, rc;

	switch (vmopts_parse(argc, argv, RUN_FLAGS, VMOPTS_QUIET, a, &next)) {
	case VMOPTS_OK:
		break;
	case VMOPTS_HELP:
		fputs(run_usage, stdout);
		return -1;
	case VMOPTS_NO_VALUE:
		return run_fail("%s needs a value", argv[next - 1]);
	default:
		return run_fail("unknown option '%s' (see parapet run --help)",
				argv[next - 1]);
	}
	if (next != argc - 1)
		return run_fail(next == argc ? "expected IMAGE.igvm"
					     : "expected one IMAGE.igvm, "
					       "got more operands");
	a->image = argv[next];
	if ((rc = run_check_flags(a, timeout_s)) != 0 ||
	    (rc = run_check_file("image", a->image)) != 0 ||
	    (rc = run_check_file("--host-dtb", a->host_dtb)) != 0 ||
	    (rc = run_check_file("--manifest", a->manifest)) != 0)
		return rc;
	return 0;
}

/* parapet-boot next to our own executable, or in PREFIX/libexec/parapet
 * when installed (PREFIX/bin/parapet). */
static int run_find_libexec(struct run *r)
{
	char err[4400];

	if (libexec_find("parapet-boot", r->libexec, sizeof(r->libexec), err,
			 sizeof(err)) != 0)
		return run_fail("%s", err);
	return 0;
}

/* A small JSON status for `parapet list`. */
static void run_write_status(struct run *r, const char *state)
{
	char path[4200];
	json_t *j =
	    json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "name",
		      r->name, "pid", (int)getpid(), "image", r->image, "accel",
		      r->a.accel ? r->a.accel : "auto", "cpus",
		      r->a.cpus ? r->a.cpus : "", "state", state, "start_ns",
		      (json_int_t)r->start_ns, "start_time",
		      (json_int_t)time(NULL), "libexec", r->libexec);

	snprintf(r->state, sizeof(r->state), "%s", state);
	snprintf(path, sizeof(path), "%s/status.json", r->dir);
	if (jsonout_write_file(j, path, ".tmp") != 0)
		log_warnx("cannot write %s", path);
	json_decref(j);
}

static int run_write_pid(const struct run *r, const char *file, pid_t pid)
{
	char path[4200];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", r->dir, file);
	fp = fopen(path, "we");
	if (fp == NULL)
		return -1;
	fprintf(fp, "%d\n", (int)pid);
	return fclose(fp);
}

/* logs/: the owner's and diagd's (init writes the files 0640, group
 * diagd's): no other service of the partition reads the logs. As root
 * the directory's group is diagd's; unprivileged with subordinate ids an
 * ACL entry lets diagd's uid in (the user cannot chown to it). */
static int run_logs_group(const struct run *r, const char *logs)
{
	if (geteuid() == 0)
		return chown(logs, 0,
			     ids_service_gid(&r->ids, SANDBOX_PROFILE_DIAGD));
	if (!r->ids.separated)
		return 0;
	return util_acl_grant(
	    logs, 7, ids_service_uid(&r->ids, SANDBOX_PROFILE_DIAGD), 5, 0, 0);
}

/* diag/: where diagd puts diag.sock, the one place of the run directory
 * diagd writes (DESIGN.md §11): its own uid's when Parapet runs as root
 * (unprivileged, diagd runs as the owner, who made it). Never the
 * directory that holds pid and ctl.sock. */
static int run_make_diag_dir(const struct run *r)
{
	char diag[sizeof(r->dir) + 8];

	snprintf(diag, sizeof(diag), "%s/diag", r->dir);
	if (mkdir(diag, 0755) != 0)
		return -1;
	if (geteuid() == 0)
		return chown(diag,
			     ids_service_uid(&r->ids, SANDBOX_PROFILE_DIAGD),
			     ids_service_gid(&r->ids, SANDBOX_PROFILE_DIAGD));
	if (!r->ids.separated)
		return 0;
	return util_acl_grant(
	    diag, 7, ids_service_uid(&r->ids, SANDBOX_PROFILE_DIAGD), 7, 5, 5);
}

static int run_make_dir(struct run *r)
{
	char base[3000], err[256], logs[4200];
	const char *img = strrchr(r->a.image, '/');
	pid_t other;

	if (rundir_base(base, sizeof(base), err, sizeof(err)) != 0)
		return run_fail("%s", err);
	if (ids_take(&r->ids, base) != 0)
		return PARTITION_EXIT_SETUP;
	if (!r->ids.separated)
		log_info("services are not separated from each other (one uid "
			 "for all): %s",
			 r->ids.why);
	if (r->a.name)
		snprintf(r->name, sizeof(r->name), "%s", r->a.name);
	else {
		snprintf(r->name, sizeof(r->name), "%.40s",
			 img ? img + 1 : r->a.image);
		if (strstr(r->name, ".igvm"))
			*strstr(r->name, ".igvm") = '\0';
		if (!rundir_name_ok(r->name))
			snprintf(r->name, sizeof(r->name), "partition");
		snprintf(r->name + strlen(r->name),
			 sizeof(r->name) - strlen(r->name), "-%d",
			 (int)getpid());
	}
	snprintf(r->dir, sizeof(r->dir), "%s/%s", base, r->name);
	snprintf(logs, sizeof(logs), "%s/logs", r->dir);
	/* mkdir claims the name; an existing directory is taken over only
	 * when the parapet run that made it is gone. */
	if (mkdir(r->dir, 0755) != 0) {
		if (errno != EEXIST)
			return run_fail("%s: %s", r->dir, strerror(errno));
		switch (rundir_run_state(r->dir, &other)) {
		case RUNDIR_RUN_UNKNOWN:
			return run_fail("run directory %s exists without a pid "
					"file (a partition starting, or "
					"remove it)",
					r->dir);
		case RUNDIR_RUN_ALIVE:
			return run_fail("partition '%s' is already running "
					"(pid %d)",
					r->name, (int)other);
		case RUNDIR_RUN_GONE:
			rundir_remove(r->dir); /* stale */
		}
		if (mkdir(r->dir, 0755) != 0)
			return run_fail("%s: %s", r->dir, strerror(errno));
	}
	if (mkdir(logs, 0750) != 0 || run_logs_group(r, logs) != 0 ||
	    run_make_diag_dir(r) != 0 ||
	    rundir_write_pid_locked(r->dir, getpid()) != 0)
		return run_fail("%s: %s", r->dir, strerror(errno));
	run_write_status(r, "booting");
	return 0;
}

/* In the child, PID 1 of the new namespaces: becomes parapet-boot. */
static void run_child(struct run *r, int sync_fd)
{
	static char reftime[32], boot[PATH_MAX + 32];
	char *argv[VMOPTS_ARGV_MAX + 4];
	struct vmopts o = r->a;
	char c;
	int n = 0, null;

	/* The partition must not outlive us, even if we are SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(sync_fd, &c, 1) != 1)
		_exit(PARTITION_EXIT_SETUP); /* the parent failed */
	close(sync_fd);
	/* init's end of the descriptor channel, at its number across exec
	 * (already there, dup2 would leave it close-on-exec) */
	if (r->fdchan[1] == PARTITION_FD_HOST_FDS
		? fcntl(PARTITION_FD_HOST_FDS, F_SETFD, 0) < 0
		: dup2(r->fdchan[1], PARTITION_FD_HOST_FDS) < 0)
		_exit(PARTITION_EXIT_SETUP);
	if (sethostname(r->name, strlen(r->name)) != 0)
		dprintf(2, "parapet run: sethostname: %s\n", strerror(errno));
	/* stdout carries only guest console bytes; Parapet talks on
	 * stderr. The console reaches the guest through hostcomm. */
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0)
		_exit(PARTITION_EXIT_SETUP);
	close(null);
	snprintf(boot, sizeof(boot), "%s/parapet-boot", r->libexec);
	snprintf(reftime, sizeof(reftime), "%llu",
		 (unsigned long long)r->start_ns);
	o.run_dir = r->dir;
	o.libexec = r->libexec;
	o.name = r->name;
	o.reftime_run_start = reftime;
	argv[n++] = (char *)(uintptr_t) "parapet-boot";
	vmopts_to_argv(&o, RUN_SHIM_FLAGS, argv, &n);
	argv[n++] = (char *)(uintptr_t) "--";
	argv[n++] = r->image;
	argv[n] = NULL;
	execv(boot, argv);
	dprintf(2, "parapet run: exec %s: %s\n", boot, strerror(errno));
	_exit(PARTITION_EXIT_SETUP);
}

static int run_spawn(struct run *r)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC |
			      CLONE_NEWUTS | CLONE_NEWNET | SIGCHLD;
	int sync[2];
	pid_t pid;

	r->userns = geteuid() != 0;
	if (r->userns)
		flags |= CLONE_NEWUSER;
	if (pipe2(sync, O_CLOEXEC) != 0)
		return run_fail("pipe: %s", strerror(errno));
	if (fdchan_pair(r->fdchan) != 0) {
		close(sync[0]);
		close(sync[1]);
		return run_fail("socketpair: %s", strerror(errno));
	}
	/* queued for init before the partition exists: init finds every
	 * disk waiting when it starts */
	if (host_disks_send(&r->disks, r->fdchan[0]) != 0) {
		close(sync[0]);
		close(sync[1]);
		return PARTITION_EXIT_SETUP;
	}
	pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		close(sync[1]);
		run_child(r, sync[0]);
	}
	close(sync[0]);
	close(r->fdchan[1]);
	r->fdchan[1] = -1;
	if (pid < 0) {
		close(sync[1]);
		return run_fail("cannot create the partition's namespaces: %s",
				strerror(errno));
	}
	r->child = pid;
	if (r->userns && ids_map(&r->ids, pid) != 0) {
		close(sync[1]);
		return PARTITION_EXIT_SETUP;
	}
	if (write(sync[1], "g", 1) != 1 ||
	    run_write_pid(r, "init.pid", pid) != 0) {
		close(sync[1]);
		return run_fail("starting the partition: %s", strerror(errno));
	}
	close(sync[1]);
	return 0;
}

/* Maps how init ended to our exit status. */
static int run_status(const struct run *r, int status, bool timed_out)
{
	if (timed_out) {
		fprintf(stderr, "parapet run: %s: timeout after %u s\n",
			r->name, r->timeout_s);
		return PARTITION_EXIT_TIMEOUT;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "parapet run: %s: partition killed by signal %d\n",
		r->name, WTERMSIG(status));
	return PARTITION_EXIT_SETUP;
}

struct run_wait {
	int sigfd;
	bool stopping, timed_out;
	uint64_t deadline_ns, kill_at_ns;
};

/* Powers the partition off by passing sig on to init, which exits 128 +
 * its number: Ctrl-C (SIGINT) ends the run with 130, SIGTERM with 143. */
static void run_poweroff(struct run *r, struct run_wait *w, int sig,
			 const char *why)
{
	if (w->stopping)
		return;
	log_info("%s: power-off (%s)", r->name, why);
	w->stopping = true;
	w->kill_at_ns = util_deadline_ns(RUN_KILL_GRACE_MS);
	kill(r->child, sig);
	run_write_status(r, "stopping");
	sdnotify_send(&r->sd, "STOPPING=1\nSTATUS=powering off (%s)", why);
}

static int run_wait_timeout(const struct run_wait *w)
{
	uint64_t next = w->stopping ? w->kill_at_ns : w->deadline_ns;

	return next == 0 ? -1 : util_ms_until(next);
}

/* status.json follows the VM's state as the partition reports it, until
 * the run is stopping. */
static void run_follow_state(struct run *r)
{
	char st[sizeof(r->state)];

	hostchan_vm_state(r->hc, st, sizeof(st));
	if (st[0] != '\0' && strcmp(st, r->state) != 0 &&
	    strcmp(r->state, "stopping") != 0)
		run_write_status(r, st);
}

/* Between polls: the host channel's timers, the VM's state and the boot
 * timeline. */
static int run_tick(struct run *r, int timeout)
{
	uint64_t now = util_now_ns();
	int next = hostchan_tick(r->hc);

	run_follow_state(r);
	if (now >= r->tl_next_ns) {
		r->tl.first_console_ns = hostchan_first_console_ns(r->hc);
		timeline_update(r->dir, &r->tl);
		r->tl_next_ns = now + 300 * UTIL_NS_PER_MS;
	}
	sdnotify_tick(&r->sd, r->dir, hostchan_first_console_ns(r->hc));
	return timeout < 0 || next < timeout ? next : timeout;
}

static int run_wait(struct run *r, struct run_wait *w)
{
	struct signalfd_siginfo si;
	int status;

	for (;;) {
		struct pollfd p[2 + CONSOLE_POLLFDS_MAX] = {
			{ .fd = w->sigfd, .events = POLLIN },
			{ .fd = hostchan_input_fd(r->hc), .events = POLLIN },
		};
		int n = 2 + console_pollfds(r->con, p + 2);
		int rc = poll(p, (nfds_t)n, run_tick(r, run_wait_timeout(w)));
		uint64_t now = util_now_ns();

		if (rc < 0 && errno != EINTR)
			return run_fail("poll: %s", strerror(errno));
		if (p[1].fd >= 0 && p[1].revents)
			hostchan_on_input(r->hc);
		if (rc > 0)
			console_on_poll(r->con, p + 2, n - 2);
		while (read(w->sigfd, &si, sizeof(si)) == sizeof(si))
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
				run_poweroff(r, w, (int)si.ssi_signo,
					     si.ssi_signo == SIGINT
						 ? "SIGINT"
						 : "SIGTERM");
		if (waitpid(r->child, &status, WNOHANG) == r->child)
			return run_status(r, status, w->timed_out);
		if (!w->stopping && w->deadline_ns && now >= w->deadline_ns) {
			w->timed_out = true;
			run_poweroff(r, w, SIGTERM, "timeout");
		} else if (w->stopping && now >= w->kill_at_ns) {
			log_warnx("%s: init still running %d s after "
				  "power-off: SIGKILL",
				  r->name, RUN_KILL_GRACE_MS / 1000);
			kill(r->child, SIGKILL);
			w->kill_at_ns = UINT64_MAX;
		}
	}
}

int run_main(int argc, char **argv)
{
	static struct run r;
	struct run_wait w = { 0 };
	sigset_t set;
	int rc;

	r.start_ns = util_now_ns();
	/* One malloc arena, as init gives its services (PITFALLS, nng):
	 * each of nng's threads would otherwise start its own. Its large
	 * buffers (console, host channel: ~68 KiB each, mostly unused) come
	 * from fresh mappings, which calloc need not clear, so their unused
	 * pages are never touched. */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 << 10);
	if ((rc = run_parse(argc, argv, &r.a, &r.timeout_s)) != 0)
		return rc < 0 ? 0 : rc;
	if (realpath(r.a.image, r.image) == NULL)
		return run_fail("image %s: %s", r.a.image, strerror(errno));
	if ((rc = run_find_libexec(&r)) != 0 ||
	    (rc = host_disks_open(&r.a, &r.disks)) != 0)
		return rc;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (w.sigfd < 0)
		return run_fail("signalfd: %s", strerror(errno));
	sdnotify_open(&r.sd); /* before the partition: it must not inherit */
	if ((rc = console_open(r.a.console, &r.con)) != 0)
		return rc;
	if ((rc = run_make_dir(&r)) != 0) {
		console_abort(r.con);
		return rc;
	}
	signal(SIGPIPE, SIG_IGN); /* stdout closed: console bytes dropped */
	if ((rc = console_listen(r.con, r.dir)) == 0 &&
	    (rc = run_spawn(&r)) == 0 &&
	    (r.hc = hostchan_open(
		 r.dir, console_out_fd(r.con), console_in_fd(r.con),
		 r.fdchan[0],
		 ids_service_uid(&r.ids, SANDBOX_PROFILE_HOSTCOMM))) == NULL)
		rc = run_fail("cannot serve the host channel in %s", r.dir);
	if (rc == 0) {
		console_tap(r.con, r.hc);
		sdnotify_send(&r.sd, "STATUS=booting");
		if (r.timeout_s)
			w.deadline_ns =
			    r.start_ns + r.timeout_s * UTIL_NS_PER_S;
		rc = run_wait(&r, &w);
		console_close(r.con, rc);
	} else {
		if (r.child > 0) {
			kill(r.child, SIGKILL);
			waitpid(r.child, NULL, 0);
		}
		console_abort(r.con);
	}
	sdnotify_done(&r.sd, r.hc ? hostchan_first_console_ns(r.hc) : 0, rc);
	/* The run is over: nothing writes the console or listens anew any
	 * more, and the run directory goes. The host channel's sockets are
	 * not closed one by one (nng_close waits on its threads, and nng
	 * 1.5.2's close of the ctl socket was seen to wait forever after a
	 * ctl command answered while stdout stalled): our exit closes them. */
	hostchan_stop(r.hc);
	rundir_remove(r.dir);
	return rc;
}
