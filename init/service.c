/* Supervision as s6 does it (DESIGN.md §8): fork + exec of each service
 * with its supervisor channel at fd 3 and its stderr into a log pipe;
 * readiness over the channel; every child reaped, orphans included. What
 * follows an event (restart with backoff, exit 125 not restarted, SIGKILL
 * after the stop timeout, update revert) is supervisor.c's table; this
 * file feeds it events and performs its actions. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/supervise.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

#define NS_PER_MS	    1000000ull
#define SERVICE_STACK_LIMIT (256u * 1024)

struct service *svc_find(struct init *in, const char *name)
{
	for (unsigned i = 0; i < in->n_svc; i++)
		if (!strcmp(in->svc[i].m.name, name))
			return &in->svc[i];
	return NULL;
}

/* In the child: environment, limits, fds, then exec. Never returns. */
static void svc_child(struct init *in, struct service *s, int chan, int logw,
		      bool standby)
{
	char *argv[MANIFEST_MAX_ARGS + 2];
	struct rlimit stack = { SERVICE_STACK_LIMIT, SERVICE_STACK_LIMIT };
	sigset_t none;
	int null = open("/dev/null", O_RDWR);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(logw, 1) < 0 ||
	    dup2(logw, 2) < 0 || dup2(chan, SUPERVISE_FD) < 0)
		_exit(PARTITION_EXIT_SETUP);
	/* The checked binary's descriptor survives as fd 4, close-on-exec. */
	if (s->bin_fd >= 0 && s->bin_fd != SUPERVISE_FD + 1 &&
	    dup3(s->bin_fd, SUPERVISE_FD + 1, O_CLOEXEC) < 0)
		_exit(PARTITION_EXIT_SETUP);
	close_range(SUPERVISE_FD + (s->bin_fd >= 0 ? 2 : 1), ~0u, 0);
	/* glibc reads RLIMIT_STACK at start: set before exec (PITFALLS). */
	setrlimit(RLIMIT_STACK, &stack);
	setenv("PARAPET_SERVICE", s->m.name, 1);
	if (standby)
		setenv("PARAPET_STANDBY", "1", 1);
	argv[0] = s->m.name;
	for (unsigned i = 0; i < s->m.n_args; i++)
		argv[i + 1] = s->m.args[i];
	argv[s->m.n_args + 1] = NULL;
	(void)in;
	if (s->bin_fd >= 0) /* close-on-exec: ELF only, no script */
		execveat(SUPERVISE_FD + 1, "", argv, environ, AT_EMPTY_PATH);
	else
		execv(s->path, argv);
	dprintf(2, "parapet-init: exec %s: %s\n", s->path, strerror(errno));
	_exit(PARTITION_EXIT_SETUP);
}

/* The partition fds the manifest grants, over chan (SCM_RIGHTS): s's
 * instance's channel, or its standby's (standby_hand_over). */
void svc_send_fds(struct init *in, struct service *s, int chan)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT;
	char *names[MANIFEST_FD_COUNT + 1 + GUEST_DISK_MAX];
	int fds[MANIFEST_FD_COUNT + 1 + GUEST_DISK_MAX];
	char disk_names[GUEST_DISK_MAX][16];
	size_t n = 0, n_disks;
	int rc;

	for (int b = 0; b < MANIFEST_FD_COUNT; b++)
		if ((s->m.fds & (1u << b)) && in->part_fds[b] >= 0) {
			names[n] = (char *)(uintptr_t)manifest_fd_name(b);
			fds[n++] = in->part_fds[b];
		}
	n_disks = hostfds_disks_for(in, s->m.name, disk_names, fds + n,
				    GUEST_DISK_MAX);
	for (size_t i = 0; i < n_disks; i++)
		names[n++] = disk_names[i];
	/* Servicing: the previous instance's saved state, handed on once. */
	if (s->saved_fd >= 0) {
		names[n] = (char *)(uintptr_t)SVC_SAVED_STATE;
		fds[n++] = s->saved_fd;
	}
	if (n == 0)
		return;
	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__FDS;
	msg.service = s->m.name;
	msg.n_fd_names = n;
	msg.fd_names = names;
	rc = supervise_send(chan, &msg, fds, n);
	if (rc != SUPERVISE_OK) {
		/* The instance is gone already: the saved state stays for the
		 * next one. */
		log_warnx("%s: sending fds: %s", s->m.name,
			  supervise_strerror(rc));
		return;
	}
	if (s->saved_fd >= 0 && s->prev_path[0] != '\0') {
		/* An update: kept until the new binary is ready. */
		if (s->update_saved_fd >= 0)
			close(s->update_saved_fd);
		s->update_saved_fd = s->saved_fd;
		s->saved_fd = -1;
	} else if (s->saved_fd >= 0) {
		close(s->saved_fd);
		s->saved_fd = -1;
	}
}

/* The updated binary is ready: the update is done. */
static void svc_update_done(struct service *s)
{
	s->prev_path[0] = '\0';
	if (s->prev_bin_fd >= 0)
		close(s->prev_bin_fd);
	s->prev_bin_fd = -1;
	if (s->update_saved_fd >= 0)
		close(s->update_saved_fd);
	s->update_saved_fd = -1;
}

/* The updated binary died (or could not start) before it was ready:
 * back to the binary it replaced, with the same saved state, so a bad
 * update loses nothing. */
static void svc_revert(struct service *s)
{
	char was[sizeof(s->last_exit)];

	log_warnx("%s: the new binary %s %s before it was ready; back to %s",
		  s->m.name, s->path, s->last_exit, s->prev_path);
	memcpy(was, s->last_exit, sizeof(was));
	snprintf(s->last_exit, sizeof(s->last_exit),
		 "update failed (%.50s); the previous binary runs", was);
	memcpy(s->path, s->prev_path, sizeof(s->path));
	s->prev_path[0] = '\0';
	if (s->bin_fd >= 0)
		close(s->bin_fd);
	s->bin_fd = s->prev_bin_fd;
	s->prev_bin_fd = -1;
	if (s->saved_fd < 0) {
		s->saved_fd = s->update_saved_fd;
		s->update_saved_fd = -1;
	}
}

/* Servicing of the same binary: once the instance is told to stop for
 * the restart and its saved state is here (in either order: its channel
 * and the Restart request arrive apart), the loaded standby restores and
 * resumes the guest while the instance (paused, saved) exits. */
static void svc_hand_over(struct init *in, struct service *s)
{
	if (s->sup.state == SVC_STOPPING && s->sup.restart_after_stop &&
	    s->saved_fd >= 0 && s->prev_path[0] == '\0')
		standby_hand_over(in, s);
}

/* A service hands init its saved state (vmworker before servicing). */
static void svc_keep_saved(struct init *in, struct service *s,
			   const Parapet__SupervisorMsg *msg, int *fds,
			   size_t n_fds)
{
	for (size_t i = 0; i < n_fds && i < msg->n_fd_names; i++) {
		if (strcmp(msg->fd_names[i], SVC_SAVED_STATE) != 0)
			continue;
		if (s->saved_fd >= 0)
			close(s->saved_fd);
		s->saved_fd = fds[i];
		fds[i] = -1;
		log_info("%s: holds a saved state for its next instance",
			 s->m.name);
	}
	svc_hand_over(in, s);
}

int svc_fork(struct init *in, struct service *s, bool standby,
	     struct svc_proc *out)
{
	int sv[2], lp[2];
	pid_t pid;

	if (s->bin_fd >= 0 ? faccessat(s->bin_fd, "", X_OK, AT_EMPTY_PATH)
			   : access(s->path, X_OK)) {
		log_warnx("%s: binary %s: %s; not started", s->m.name, s->path,
			  strerror(errno));
		errno = ENOENT;
		return -1;
	}
	if (supervise_pair(sv) != 0)
		return -1;
	if (pipe2(lp, O_CLOEXEC) != 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		svc_child(in, s, sv[1], lp[1], standby);
	close(sv[1]);
	close(lp[1]);
	if (pid < 0) {
		close(sv[0]);
		close(lp[0]);
		return -1;
	}
	fcntl(lp[0], F_SETFL, O_NONBLOCK);
	*out = (struct svc_proc){ pid, sv[0], lp[0] };
	return 0;
}

/* Forks an instance (or takes over its standby); 0, or -1 with
 * last_exit saying why. */
static int svc_spawn(struct init *in, struct service *s)
{
	uint64_t now = util_now_ns();
	struct svc_proc p;
	bool handed = false;
	bool adopted = standby_adopt(in, s, &p, &handed);

	if (!adopted && svc_fork(in, s, false, &p) != 0) {
		if (errno != ENOENT)
			log_warn("%s: cannot start", s->m.name);
		snprintf(s->last_exit, sizeof(s->last_exit), "%s",
			 errno == ENOENT ? "missing binary"
					 : "cannot fork or create its channel");
		return -1;
	}
	s->pid = p.pid;
	s->chan = p.chan;
	s->log_fd = p.log_fd;
	s->ready_ns = 0;
	if (s->boot_spawned_ns == 0)
		s->boot_spawned_ns = now;
	s->spawns++;
	if (!handed)
		svc_send_fds(in, s, s->chan);
	log_info("%s: started (pid %d)%s", s->m.name, (int)p.pid,
		 adopted ? " from its standby" : "");
	return 0;
}

/* SIGTERM and a STOP message (saying so at a power-off); the table arms
 * the SIGKILL timer. */
static void svc_term(struct init *in, struct service *s)
{
	Parapet__SupervisorMsg msg = PARAPET__SUPERVISOR_MSG__INIT;

	msg.has_type = 1;
	msg.type = PARAPET__SUPERVISOR_MSG__TYPE__STOP;
	msg.service = s->m.name;
	msg.has_poweroff = 1;
	msg.poweroff = in->powering_off;
	if (s->chan >= 0)
		supervise_send(s->chan, &msg, NULL, 0);
	kill(s->pid, SIGTERM);
}

static void svc_ready(struct init *in, struct service *s,
		      const uint64_t *blackout_ns)
{
	s->ready_ns = util_now_ns();
	init_note_ready(in, s, blackout_ns);
	log_info("%s: ready (pid %d, %llu ms)", s->m.name, (int)s->pid,
		 (unsigned long long)((s->ready_ns - s->sup.spawned_ns) /
				      NS_PER_MS));
	init_write_timeline(in);
}

/* Completes the control request waiting on s: ok, or its last exit. */
static void svc_answer(struct service *s, bool ok)
{
	struct ctl_req *r = s->pending;

	s->pending = NULL;
	if (r != NULL)
		control_answer(r, s, ok ? NULL : s->last_exit);
}

static void svc_log_transition(struct service *s, enum sup_log what,
			       uint64_t now)
{
	const char *name = s->m.name;

	switch (what) {
	case SUP_LOG_NONE:
		break;
	case SUP_LOG_BACKOFF:
		log_info("%s: %s; restarting in %llu ms", name, s->last_exit,
			 (unsigned long long)((s->sup.respawn_at - now) /
					      NS_PER_MS));
		break;
	case SUP_LOG_RESTARTING:
		log_info("%s: %s; restarting as requested", name, s->last_exit);
		break;
	case SUP_LOG_STOPPED:
		log_info("%s: stopped (%s)", name, s->last_exit);
		break;
	case SUP_LOG_NOT_RESTARTED:
		log_warnx("%s: exited 125: not restarted", name);
		break;
	case SUP_LOG_SIGKILL:
		log_warnx("%s: no exit %u ms after SIGTERM: SIGKILL", name,
			  s->m.stop_timeout_ms);
		break;
	}
}

/* Does what the supervisor decided, in the order of enum sup_action;
 * returns the event a spawn leads to, or SUP_EV_COUNT. */
static enum sup_event svc_perform(struct init *in, struct service *s,
				  const struct sup_result *r, uint64_t now,
				  const uint64_t *blackout_ns)
{
	if (r->act & SUP_A_REVERT)
		svc_revert(s);
	svc_log_transition(s, r->log, now);
	if (r->act & SUP_A_UPDATE_DONE)
		svc_update_done(s);
	if (r->act & SUP_A_READY)
		svc_ready(in, s, blackout_ns);
	if (r->act & SUP_A_TERM) {
		svc_term(in, s);
		svc_hand_over(in, s);
	}
	if (r->act & SUP_A_KILL)
		kill(s->pid, SIGKILL);
	if (r->act & (SUP_A_ANSWER_OK | SUP_A_ANSWER_ERR))
		svc_answer(s, r->act & SUP_A_ANSWER_OK);
	if (r->act & SUP_A_SPAWN)
		return svc_spawn(in, s) == 0 ? SUP_EV_SPAWNED
					     : SUP_EV_SPAWN_FAILED;
	return SUP_EV_COUNT;
}

/* Feeds q to s's supervisor with the facts of the moment, then what its
 * actions lead to (a spawn's outcome), until nothing follows. */
static void svc_event(struct init *in, struct service *s, struct sup_input q,
		      const uint64_t *blackout_ns)
{
	struct sup_result r;

	do {
		q.now = util_now_ns();
		q.powering_off = in->powering_off;
		q.updating = s->prev_path[0] != '\0';
		q.stop_timeout_ms = s->m.stop_timeout_ms;
		sup_step(&s->sup, &q, &r);
		q.ev = svc_perform(in, s, &r, q.now, blackout_ns);
		q.request = q.exit_setup = false;
	} while (q.ev != SUP_EV_COUNT);
}

void svc_command(struct init *in, struct service *s, enum sup_event ev,
		 bool request)
{
	svc_event(in, s, (struct sup_input){ .ev = ev, .request = request },
		  NULL);
}

static void svc_close_fds(struct service *s)
{
	if (s->log_fd >= 0) {
		svc_on_log(NULL, s); /* drain what it wrote last */
		close(s->log_fd);
	}
	if (s->chan >= 0)
		close(s->chan);
	s->log_fd = s->chan = -1;
}

static void svc_describe_exit(struct service *s, int status)
{
	if (WIFEXITED(status))
		snprintf(s->last_exit, sizeof(s->last_exit), "exited %d",
			 WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(s->last_exit, sizeof(s->last_exit),
			 "killed by seccomp");
	else
		snprintf(s->last_exit, sizeof(s->last_exit),
			 "killed by signal %d", WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) == SANDBOX_EXIT_SECCOMP)
		snprintf(s->last_exit, sizeof(s->last_exit),
			 "killed by seccomp (exit %d)", SANDBOX_EXIT_SECCOMP);
}

static void svc_died(struct init *in, struct service *s, int status)
{
	struct sup_input q = { .ev = SUP_EV_DIED };

	/* What it sent last (a saved state before servicing) may still be
	 * queued on its channel: read it before the next instance starts.
	 * The peer is gone, so end of file follows the queued messages. */
	for (int i = 0; i < 16 && s->chan >= 0; i++)
		svc_on_channel(in, s);
	svc_close_fds(s);
	s->pid = 0;
	s->deaths++;
	svc_describe_exit(s, status);
	q.exit_setup =
	    WIFEXITED(status) && WEXITSTATUS(status) == PARTITION_EXIT_SETUP;
	svc_event(in, s, q, NULL);
}

void svc_reap(struct init *in)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct service *s = NULL;

		for (unsigned i = 0; i < in->n_svc; i++)
			if (in->svc[i].pid == pid)
				s = &in->svc[i];
		if (s != NULL)
			svc_died(in, s, status);
		else if (!standby_reaped(in, pid, status))
			in->orphans++;
	}
}

void svc_on_channel(struct init *in, struct service *s)
{
	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS];
	size_t n_fds = 0;
	int rc = supervise_recv(s->chan, &msg, fds, SUPERVISE_MAX_FDS, &n_fds);

	if (rc == SUPERVISE_OK && msg->has_type &&
	    msg->type == PARAPET__SUPERVISOR_MSG__TYPE__FDS)
		svc_keep_saved(in, s, msg, fds, n_fds);
	for (size_t i = 0; i < n_fds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (rc == SUPERVISE_ERR_CLOSED ||
	    (rc == SUPERVISE_ERR_SYS && errno != EAGAIN && errno != EINTR)) {
		close(s->chan); /* its death arrives as SIGCHLD */
		s->chan = -1;
		return;
	}
	if (rc != SUPERVISE_OK) {
		log_warnx("%s: supervisor channel: %s", s->m.name,
			  supervise_strerror(rc));
		return;
	}
	if (msg->has_type &&
	    msg->type == PARAPET__SUPERVISOR_MSG__TYPE__READY) {
		uint64_t blackout_ns = msg->blackout_ns;

		svc_event(in, s, (struct sup_input){ .ev = SUP_EV_READY },
			  msg->has_blackout_ns ? &blackout_ns : NULL);
	}
	supervise_msg_free(msg);
}

/* Service stderr into its ring (and on init's stderr). */
void svc_on_log(struct init *in, struct service *s)
{
	(void)in;
	svc_copy_log(s, s->log_fd);
}

void svc_copy_log(struct service *s, int fd)
{
	uint8_t buf[4096];
	ssize_t n;

	while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
		logring_write(&s->log, buf, (size_t)n);
		/* best effort: the ring keeps the tail whatever happens */
		if (write(2, buf, (size_t)n) < 0 ||
		    (s->log_file >= 0 &&
		     write(s->log_file, buf, (size_t)n) < 0))
			log_debug("%s: log copy failed", s->m.name);
	}
}

int svc_timers(struct init *in)
{
	uint64_t now = util_now_ns(), next = UINT64_MAX;

	for (unsigned i = 0; i < in->n_svc; i++) {
		struct service *s = &in->svc[i];
		enum sup_event due = sup_due(&s->sup, now, in->powering_off);

		if (due != SUP_EV_COUNT)
			svc_command(in, s, due, false);
		if (sup_deadline(&s->sup) < next)
			next = sup_deadline(&s->sup);
		next = standby_timer(in, s, now, next);
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now) / NS_PER_MS) + 1;
}
