/* A service's standby (servicing): its next instance, forked and exec'ed
 * before the running one stops. It loads (dynamic linking, vmworker's
 * accelerator library), says LOADED and waits for the FDS message; the
 * service's next start takes it over, so the guest's blackout no longer
 * pays for exec and loading. Not taken over in STANDBY_TTL_NS, it is
 * killed. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/log.h"
#include "lib/supervise.h"
#include "lib/util.h"
#include "supervise.pb-c.h"

#define STANDBY_TTL_NS (30000ull * 1000000ull)

static void standby_answer(struct service *s, const char *why)
{
	struct ctl_req *r = s->standby.pending;

	s->standby.pending = NULL;
	if (r != NULL)
		control_answer(r, s, why);
}

static void standby_close(struct svc_standby *sb)
{
	if (sb->proc.chan >= 0)
		close(sb->proc.chan);
	if (sb->proc.log_fd >= 0)
		close(sb->proc.log_fd);
	sb->proc = (struct svc_proc){ 0, -1, -1 };
	sb->loaded = false;
}

int standby_start(struct init *in, struct service *s, struct ctl_req *r)
{
	struct svc_standby *sb = &s->standby;

	if (sb->proc.pid > 0) {
		if (sb->pending != NULL) {
			control_answer(r, s, "a standby is already starting");
			return -1;
		}
		sb->pending = r;
		if (sb->loaded)
			standby_answer(s, NULL);
		return 0;
	}
	if (s->pid <= 0 || s->state != SVC_RUNNING) {
		control_answer(r, s, "the service is not running");
		return -1;
	}
	if (svc_fork(in, s, true, &sb->proc) != 0) {
		log_warn("%s: standby", s->m.name);
		sb->proc = (struct svc_proc){ 0, -1, -1 };
		control_answer(r, s, "cannot start a standby");
		return -1;
	}
	snprintf(sb->path, sizeof(sb->path), "%s", s->path);
	sb->loaded = false;
	sb->expires_ns = util_now_ns() + STANDBY_TTL_NS;
	sb->pending = r;
	sb->starts++;
	log_info("%s: standby started (pid %d)", s->m.name, (int)sb->proc.pid);
	return 0;
}

bool standby_adopt(struct init *in, struct service *s, struct svc_proc *out)
{
	struct svc_standby *sb = &s->standby;

	siginfo_t si = { 0 };

	(void)in;
	if (sb->proc.pid <= 0 || sb->proc.chan < 0)
		return false;
	/* Dead but not yet reaped: reaped as a standby, not taken over. */
	if (waitid(P_PID, (id_t)sb->proc.pid, &si,
		   WEXITED | WNOHANG | WNOWAIT) == 0 &&
	    si.si_pid == sb->proc.pid)
		return false;
	if (strcmp(sb->path, s->path) != 0) {
		/* an update since: the standby runs the old binary */
		kill(sb->proc.pid, SIGKILL);
		return false;
	}
	/* What it logged while it waited stays with the service's log. */
	svc_copy_log(s, sb->proc.log_fd);
	*out = sb->proc;
	sb->proc = (struct svc_proc){ 0, -1, -1 };
	sb->loaded = false;
	standby_answer(s, NULL);
	return true;
}

void standby_on_channel(struct init *in, struct service *s)
{
	struct svc_standby *sb = &s->standby;
	Parapet__SupervisorMsg *msg = NULL;
	int fds[SUPERVISE_MAX_FDS];
	size_t n_fds = 0;
	int rc =
	    supervise_recv(sb->proc.chan, &msg, fds, SUPERVISE_MAX_FDS, &n_fds);

	(void)in;
	for (size_t i = 0; i < n_fds; i++)
		close(fds[i]);
	if (rc == SUPERVISE_ERR_CLOSED ||
	    (rc == SUPERVISE_ERR_SYS && errno != EAGAIN && errno != EINTR)) {
		close(sb->proc.chan); /* its death arrives as SIGCHLD */
		sb->proc.chan = -1;
		return;
	}
	if (rc != SUPERVISE_OK)
		return;
	if (msg->has_type &&
	    msg->type == PARAPET__SUPERVISOR_MSG__TYPE__LOADED && !sb->loaded) {
		sb->loaded = true;
		log_info("%s: standby loaded (pid %d)", s->m.name,
			 (int)sb->proc.pid);
		standby_answer(s, NULL);
	}
	supervise_msg_free(msg);
}

void standby_on_log(struct service *s, bool hup)
{
	struct svc_standby *sb = &s->standby;

	svc_copy_log(s, sb->proc.log_fd);
	if (hup) {
		close(sb->proc.log_fd);
		sb->proc.log_fd = -1;
	}
}

bool standby_reaped(struct init *in, pid_t pid, int status)
{
	for (unsigned i = 0; i < in->n_svc; i++) {
		struct service *s = &in->svc[i];
		struct svc_standby *sb = &s->standby;
		char why[96];

		if (sb->proc.pid != pid)
			continue;
		svc_copy_log(s, sb->proc.log_fd);
		if (WIFEXITED(status))
			snprintf(why, sizeof(why), "the standby exited %d",
				 WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why),
				 "the standby was killed by signal %d",
				 WTERMSIG(status));
		log_info("%s: %s", s->m.name, why);
		standby_close(sb);
		standby_answer(s, why);
		return true;
	}
	return false;
}

uint64_t standby_timer(struct init *in, struct service *s, uint64_t now,
		       uint64_t next)
{
	struct svc_standby *sb = &s->standby;

	if (sb->proc.pid <= 0 || sb->expires_ns == UINT64_MAX)
		return next;
	if (in->powering_off || sb->expires_ns <= now) {
		if (!in->powering_off)
			log_warnx("%s: standby not taken over in %llu s: "
				  "killed",
				  s->m.name,
				  (unsigned long long)(STANDBY_TTL_NS /
						       1000000000ull));
		kill(sb->proc.pid, SIGKILL);
		sb->expires_ns = UINT64_MAX; /* reaped as any child */
		return next;
	}
	return sb->expires_ns < next ? sb->expires_ns : next;
}
