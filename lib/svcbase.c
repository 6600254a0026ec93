/* The life of a Parapet service (svcbase_main) and the start-up pieces
 * it and the services share: trace tap, partition fds from the
 * supervisor channel, peer clients (see svcbase.h). */
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "lib/caller.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/version.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define SVCBASE_FLAG_PATH PARTITION_IPC_DIR "/trace.flag"

/* Read-only: only diagd switches the flag (init made the file writable
 * by diagd alone). The tap only loads it. */
static _Atomic uint32_t *svcbase_map_flag(void)
{
	int fd = open(SVCBASE_FLAG_PATH, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return NULL;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

struct ipc_trace *svcbase_trace(const char *service)
{
	char path[128];
	struct ipc_trace_config cfg = {
		.service = service,
		.path = path,
		.flag = svcbase_map_flag(),
		.mode = 0600,
	};
	struct ipc_trace *t;

	partition_sock_path(path, sizeof(path), PARTITION_IPC_DIR, service,
			    ".trace.sock");
	t = ipc_trace_open(&cfg);
	/* The trace carries the console, input included: diagd alone may
	 * subscribe. Unprivileged, diagd shares this uid: 0600 is enough. */
	if (t != NULL &&
	    geteuid() != sandbox_service_uid(SANDBOX_PROFILE_DIAGD) &&
	    util_acl_grant(path, 6, sandbox_service_uid(SANDBOX_PROFILE_DIAGD),
			   6, 0, 0) != 0 &&
	    errno != EINVAL)
		log_warn("%s: ACL for diagd", path);
	return t;
}

int svcbase_no_args(int argc, char **argv)
{
	if (argc <= 1)
		return 0;
	log_warnx("unexpected argument '%s': it takes none (a service of "
		  "parapet-init)",
		  argv[1]);
	return -1;
}

/* Receives the FDS message and keeps the fds keep() wants (the others are
 * closed). Returns the count kept, or -1 when no message came. */
static int svcbase_take(int wait_ms,
			bool (*keep)(const char *name, int fd, void *arg),
			void *arg)
{
	struct pollfd p = { .fd = SUPERVISE_FD, .events = POLLIN };
	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS], kept = 0;
	size_t n = 0;

	if (poll(&p, 1, wait_ms) <= 0 || !(p.revents & POLLIN))
		return -1;
	if (supervise_recv(SUPERVISE_FD, &msg, fds, SUPERVISE_MAX_FDS, &n) !=
	    SUPERVISE_OK)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (keep(msg->fd_names[i], fds[i], arg))
			kept++;
		else
			close(fds[i]);
	}
	supervise_msg_free(msg);
	return kept;
}

struct take_one {
	const char *name;
	int fd;
};

static bool keep_named(const char *name, int fd, void *arg)
{
	struct take_one *t = arg;

	if (t->fd >= 0 || t->name == NULL || strcmp(name, t->name) != 0)
		return false;
	t->fd = fd;
	return true;
}

int svcbase_take_fd(const char *name, int wait_ms)
{
	struct take_one t = { name, -1 };

	svcbase_take(wait_ms, keep_named, &t);
	return t.fd;
}

struct take_prefix {
	const char *prefix;
	struct svcbase_fd *out;
	size_t max, n;
};

static bool keep_prefixed(const char *name, int fd, void *arg)
{
	struct take_prefix *t = arg;

	if (t->n >= t->max || strncmp(name, t->prefix, strlen(t->prefix)) ||
	    strlen(name) >= sizeof(t->out->name))
		return false;
	strcpy(t->out[t->n].name, name);
	t->out[t->n++].fd = fd;
	return true;
}

int svcbase_take_fds(const char *prefix, int wait_ms, struct svcbase_fd *out,
		     size_t max)
{
	struct take_prefix t = { prefix, out, max, 0 };

	svcbase_take(wait_ms, keep_prefixed, &t);
	return (int)t.n;
}

struct ipc_client *svcbase_client(const char *self, const char *peer,
				  const char *path,
				  const ProtobufCServiceDescriptor *desc,
				  int timeout_ms, struct ipc_trace *trace)
{
	char def[128];
	struct ipc_client_config cfg = {
		.name = self,
		.path = path,
		.destination = peer,
		.service = desc,
		.timeout_ms = timeout_ms,
		.trace = trace,
	};

	if (path == NULL) {
		partition_sock_path(def, sizeof(def), PARTITION_IPC_DIR, peer,
				    ".sock");
		cfg.path = def;
	}
	return ipc_client_open(&cfg);
}

void svcbase_dt_string(const char *prop, char *out, size_t len)
{
	char path[256];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/parapet/%s", PARTITION_DT_BASE_PATH,
		 prop);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, out, len - 1) : -1;
	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
}

/* The spec of service's sandbox in the mode of /parapet/sandbox, binding
 * the IPC directory, /dev/null and extra (binds holds
 * SANDBOX_MAX_BINDS). 0, or -1 logged. */
static int svcbase_spec(struct sandbox_spec *spec, struct sandbox_bind *binds,
			const char *service, int profile,
			const struct sandbox_bind *extra, size_t n_extra)
{
	char mode[16];

	binds[0] = (struct sandbox_bind){ PARTITION_IPC_DIR, SANDBOX_IPC_DIR,
					  false, false };
	binds[1] =
	    (struct sandbox_bind){ "/dev/null", "/dev/null", false, true };
	*spec = (struct sandbox_spec){
		.service = service,
		.profile = (enum sandbox_profile)profile,
		.binds = binds,
		.n_binds = 2,
	};
	for (size_t i = 0; i < n_extra && spec->n_binds < SANDBOX_MAX_BINDS;
	     i++)
		binds[spec->n_binds++] = extra[i];
	svcbase_dt_string("sandbox", mode, sizeof(mode));
	if (sandbox_mode_parse(mode[0] ? mode : "strict", &spec->mode) != 0) {
		log_warnx("unknown sandbox mode '%s'", mode);
		return -1;
	}
	return 0;
}

static int svcbase_enter(const struct sandbox_spec *spec,
			 struct sandbox_status *out)
{
	struct sandbox_status st;
	char err[256];

	if (sandbox_enter(spec, out ? out : &st, err, sizeof(err)) != 0) {
		log_warnx("sandbox: %s", err);
		return -1;
	}
	if ((out ? out : &st)->note[0])
		log_info("sandbox: %s", (out ? out : &st)->note);
	return 0;
}

/* ------------------------------------------------------ the service */

void svcbase_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int svcbase_push(struct svcbase *sb, struct evqueue_item *it)
{
	return evqueue_push(&sb->queue, it);
}

/* Sandbox step 8: the trace tap, the service's clients, its server
 * (held: it answers once the sandbox is whole). */
static int svcbase_open_step(void *arg)
{
	struct svcbase *sb = arg;
	const struct svcbase_desc *d = sb->desc;
	const struct registry_entry *e = registry_find(d->name);
	struct ipc_peer_uid uids[CALLER_UIDS_MAX];
	char path[128];
	struct ipc_listen listen = { path, 0, 0660 };
	sigset_t set;
	struct ipc_server_config cfg = {
		.name = d->name,
		.listen = &listen,
		.n_listen = 1,
		.uids = uids,
		.n_uids = caller_peer_uids(uids),
		.service = e->desc,
		.methods = d->methods,
		.n_methods = d->n_methods,
		.arg = sb->ctx,
		.held = 1,
	};

	/* Here, not before: the sandbox closes every fd it does not keep. */
	svcbase_stop_signals(&set);
	sb->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sb->sigfd < 0 || evqueue_init(&sb->queue, d->queue_max) != 0) {
		log_warn("signalfd or eventfd");
		return -1;
	}
	partition_sock_path(path, sizeof(path), PARTITION_IPC_DIR, d->name,
			    ".sock");
	sb->trace = svcbase_trace(d->name);
	cfg.trace = sb->trace;
	if (d->open != NULL && d->open(sb) != 0)
		return -1;
	sb->srv =
	    d->server != NULL ? d->server(sb, &cfg) : ipc_server_open(&cfg);
	return sb->srv != NULL ? 0 : -1;
}

static int svcbase_sandbox_step(struct svcbase *sb)
{
	const struct svcbase_desc *d = sb->desc;
	struct sandbox_bind binds[SANDBOX_MAX_BINDS];
	struct sandbox_spec spec;

	if (svcbase_spec(&spec, binds, d->name, sb->profile, d->binds,
			 d->n_binds) != 0)
		return -1;
	spec.before_seccomp = svcbase_open_step;
	spec.ctx = sb;
	if (d->sandbox != NULL)
		d->sandbox(sb, &spec);
	return svcbase_enter(&spec, sb->sandbox_status);
}

/* Everything before the loop; 0 once READY went to init. */
static int svcbase_start(struct svcbase *sb, int argc, char **argv)
{
	const struct svcbase_desc *d = sb->desc;
	const struct registry_entry *e = registry_find(d->name);
	sigset_t set;

	log_init(d->name);
	if (e == NULL || e->profile < 0 || svcbase_no_args(argc, argv) != 0)
		return -1;
	sb->profile = e->profile;
	/* A peer gone mid-write is an error return, not the end. */
	signal(SIGPIPE, SIG_IGN);
	/* Before any thread starts (nng's inherit the mask). */
	svcbase_stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (d->init != NULL && d->init(sb) != 0)
		return -1;
	if (svcbase_sandbox_step(sb) != 0) {
		log_warnx("cannot open its endpoints");
		return -1;
	}
	/* Not before: a request then would run threads that the process
	 * filter does not cover yet. */
	ipc_server_serve(sb->srv);
	if (d->start != NULL && d->start(sb) != 0)
		return -1;
	if (supervise_ready_restored(SUPERVISE_FD, d->name, sb->blackout_ns) !=
	    SUPERVISE_OK)
		log_warnx("READY not sent");
	/* What start-up freed (device tree, manifest, sandbox set-up) stays
	 * resident in the heap below its top: give those pages back. */
	malloc_trim(0);
	return 0;
}

/* A message from init: STOP (noting a power-off), or fds nobody asked
 * for. True to stop. */
static bool svcbase_on_channel(struct svcbase *sb)
{
	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS];
	size_t n = 0;
	bool stop;
	int rc = supervise_recv(SUPERVISE_FD, &msg, fds, SUPERVISE_MAX_FDS, &n);

	if (rc == SUPERVISE_ERR_CLOSED)
		return true; /* init is gone: so is the partition */
	if (rc != SUPERVISE_OK)
		return false;
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	stop = msg->type == PARAPET__SUPERVISOR_MSG__TYPE__STOP;
	if (stop && msg->has_poweroff && msg->poweroff)
		sb->poweroff = true;
	supervise_msg_free(msg);
	return stop;
}

static int svcbase_timeout(uint64_t deadline, uint64_t now)
{
	uint64_t ms;

	if (deadline == 0)
		return -1;
	if (deadline <= now)
		return 0;
	ms = (deadline - now + 999999) / 1000000;
	return ms > 60000 ? 60000 : (int)ms;
}

/* The loop: the queue's items, the timers, signals and init's channel.
 * Returns the stop signal (SIGTERM for init's STOP). */
static int svcbase_loop(struct svcbase *sb)
{
	const struct svcbase_desc *d = sb->desc;
	struct pollfd p[3] = {
		{ .fd = sb->sigfd, .events = POLLIN },
		{ .fd = evqueue_fd(&sb->queue), .events = POLLIN },
		{ .fd = SUPERVISE_FD, .events = POLLIN },
	};
	uint64_t deadline = 0;

	for (;;) {
		struct signalfd_siginfo si;
		uint64_t now = util_now_ns();

		if (d->timer != NULL && (deadline == 0 || deadline <= now))
			deadline = d->timer(sb, now);
		if (poll(p, 3, svcbase_timeout(deadline, util_now_ns())) < 0 &&
		    errno != EINTR)
			fatal("poll");
		/* init's STOP before its SIGTERM: it says more */
		if (p[2].revents && svcbase_on_channel(sb))
			return SIGTERM;
		if (p[0].revents & POLLIN &&
		    read(sb->sigfd, &si, sizeof(si)) == sizeof(si))
			return (int)si.ssi_signo;
		if (p[2].revents & (POLLHUP | POLLERR | POLLNVAL))
			p[2].fd = -1; /* read to the end: init is gone */
		if (p[1].revents & POLLIN && evqueue_run(&sb->queue, sb->ctx))
			deadline = 0; /* the work may have moved a deadline */
	}
}

int svcbase_main(const struct svcbase_desc *d, void *ctx, int argc, char **argv)
{
	struct svcbase sb = { .desc = d, .ctx = ctx, .sigfd = -1 };
	char prog[48];
	int sig;

	snprintf(prog, sizeof(prog), "parapet-%s", d->name);
	if (version_asked(prog, argc, argv))
		return 0;
	if (svcbase_start(&sb, argc, argv) != 0)
		return PARTITION_EXIT_SETUP;
	sig = svcbase_loop(&sb);
	sb.stopping = true;
	/* Listener first, before any exit (lib/ipc.h), for the clients that
	 * dial our next instance; at a power-off none follows, and only the
	 * watchdog must not listen anew. */
	if (sb.poweroff)
		ipc_server_stop_watch(sb.srv);
	else
		ipc_server_stop_listening(sb.srv);
	if (d->stop != NULL)
		d->stop(&sb, sig);
	if (d->fini == NULL)
		_exit(0); /* requests may still run: free nothing */
	d->fini(&sb);
	ipc_server_close(sb.srv);
	ipc_trace_close(sb.trace);
	evqueue_destroy(&sb.queue);
	close(sb.sigfd);
	return 0;
}
