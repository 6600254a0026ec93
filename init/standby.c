/* A service's standby (servicing): its next instance, forked and exec'ed
 * before the running one stops. It loads (dynamic linking, vmworker's
 * accelerator library), says LOADED and waits for the FDS message; the
 * service's next start takes it over, so the guest's blackout no longer
 * pays for exec and loading. For servicing (a saved state, the same
 * binary) init hands it the fds and the state as soon as the running
 * instance is told to stop (standby_hand_over): it restores and resumes
 * the guest while that one exits, and is adopted once it is gone. Not
 * taken over in SUP_STANDBY_TTL_NS, it is killed. What follows each
 * event is supervisor.c's standby table. */
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
	sb->handed = false;
}

/* Feeds q to s's standby table with the time; returns its actions. */
static unsigned standby_step(struct service *s, struct sb_input q,
			     enum sb_event *refined)
{
	struct sb_result r;

	q.now = util_now_ns();
	sup_standby_step(&s->standby.sup, &q, &r);
	if (refined != NULL)
		*refined = r.ev;
	return r.act;
}

static int standby_fork(struct init *in, struct service *s)
{
	struct svc_standby *sb = &s->standby;

	if (svc_fork(in, s, true, &sb->proc) != 0) {
		log_warn("%s: standby", s->m.name);
		sb->proc = (struct svc_proc){ 0, -1, -1 };
		if (standby_step(
			s, (struct sb_input){ .ev = SB_EV_FORK_FAILED }, NULL) &
		    SB_A_ANSWER_ERR)
			standby_answer(s, "cannot start a standby");
		return -1;
	}
	snprintf(sb->path, sizeof(sb->path), "%s", s->path);
	standby_step(s, (struct sb_input){ .ev = SB_EV_FORKED }, NULL);
	sb->starts++;
	log_info("%s: standby started (pid %d)", s->m.name, (int)sb->proc.pid);
	return 0;
}

int standby_start(struct init *in, struct service *s, struct ctl_req *r)
{
	struct svc_standby *sb = &s->standby;
	struct sb_input q = {
		.ev = SB_EV_REQUEST,
		.running = s->pid > 0 && s->sup.state == SVC_RUNNING,
		.busy = sb->pending != NULL,
	};
	enum sb_event ev;
	unsigned act = standby_step(s, q, &ev);

	if (act & SB_A_REFUSE) {
		control_answer(r, s,
			       ev == SB_EV_REQUEST_IDLE
				   ? "the service is not running"
				   : "a standby is already starting");
		return -1;
	}
	if (act & SB_A_HOLD)
		sb->pending = r;
	if (act & SB_A_ANSWER_OK)
		standby_answer(s, NULL);
	return act & SB_A_FORK ? standby_fork(in, s) : 0;
}

/* Dead but not yet reaped (or its channel closed, dying). */
static bool standby_gone(const struct svc_standby *sb)
{
	siginfo_t si = { 0 };

	if (sb->proc.pid <= 0 || sb->proc.chan < 0)
		return true;
	return waitid(P_PID, (id_t)sb->proc.pid, &si,
		      WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == sb->proc.pid;
}

bool standby_hand_over(struct init *in, struct service *s)
{
	struct svc_standby *sb = &s->standby;

	if (sb->handed || sb->sup.state != SB_LOADED || standby_gone(sb) ||
	    strcmp(sb->path, s->path) != 0)
		return false;
	svc_send_fds(in, s, sb->proc.chan);
	sb->handed = true;
	log_info("%s: standby (pid %d) given the saved state", s->m.name,
		 (int)sb->proc.pid);
	return true;
}

bool standby_adopt(struct init *in, struct service *s, struct svc_proc *out,
		   bool *handed)
{
	struct svc_standby *sb = &s->standby;
	struct sb_input q = {
		.ev = SB_EV_ADOPT,
		.gone = standby_gone(sb),
		/* an update since: the standby runs the old binary */
		.stale = strcmp(sb->path, s->path) != 0,
	};
	unsigned act = standby_step(s, q, NULL);

	(void)in;
	*handed = false;
	if (act & SB_A_KILL)
		kill(sb->proc.pid, SIGKILL);
	if (!(act & SB_A_TAKE_OVER))
		return false;
	/* What it logged while it waited stays with the service's log. */
	svc_copy_log(s, sb->proc.log_fd);
	*out = sb->proc;
	*handed = sb->handed;
	sb->proc = (struct svc_proc){ 0, -1, -1 };
	sb->handed = false;
	if (act & SB_A_ANSWER_OK)
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
	    msg->type == PARAPET__SUPERVISOR_MSG__TYPE__LOADED &&
	    (standby_step(s, (struct sb_input){ .ev = SB_EV_LOADED }, NULL) &
	     SB_A_ANSWER_OK)) {
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
		unsigned act;

		if (sb->proc.pid != pid)
			continue;
		act = standby_step(s, (struct sb_input){ .ev = SB_EV_DIED },
				   NULL);
		svc_copy_log(s, sb->proc.log_fd);
		if (WIFEXITED(status))
			snprintf(why, sizeof(why), "the standby exited %d",
				 WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why),
				 "the standby was killed by signal %d",
				 WTERMSIG(status));
		log_info("%s: %s", s->m.name, why);
		if (act & SB_A_CLOSE)
			standby_close(sb);
		if (act & SB_A_ANSWER_ERR)
			standby_answer(s, why);
		return true;
	}
	return false;
}

uint64_t standby_timer(struct init *in, struct service *s, uint64_t now,
		       uint64_t next)
{
	struct svc_standby *sb = &s->standby;
	struct sb_input q = { .ev = SB_EV_TIMER,
			      .now = now,
			      .powering_off = in->powering_off };
	struct sb_result r;
	uint64_t at;

	if (sb->handed && !in->powering_off)
		return next; /* it runs the guest: adopted once the other goes
			      */
	sup_standby_step(&sb->sup, &q, &r);
	if (r.act & SB_A_LOG_EXPIRED)
		log_warnx(
		    "%s: standby not taken over in %llu s: killed", s->m.name,
		    (unsigned long long)(SUP_STANDBY_TTL_NS / 1000000000ull));
	if (r.act & SB_A_KILL)
		kill(sb->proc.pid, SIGKILL); /* reaped as any child */
	at = sup_standby_deadline(&sb->sup);
	return at < next ? at : next;
}
