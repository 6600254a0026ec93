/* parapet-init: PID 1 of a partition (OpenHCL's underhill_init). Sets up
 * /run and /dev, starts the services of the manifest in order, then runs
 * one poll loop over a signalfd (SIGCHLD, SIGTERM, SIGINT), the control
 * endpoint's queue (lib/evqueue.h), each service's supervisor channel and log
 * pipe, and the restart and stop timers. Exits with the power-off status. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "init/init.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/util.h"
#include "lib/version.h"

#define INIT_MAX_POLL (3 + 4 * MANIFEST_MAX_SERVICES) /* + standbys */

static struct init the_init;

void init_poweroff(struct init *in, int status, const char *reason,
		   bool together)
{
	if (in->powering_off)
		return;
	log_info("power-off (%s): status %d%s", reason, status,
		 together ? ", every service at once" : "");
	in->powering_off = true;
	in->poweroff_together = together;
	in->poweroff_status = status;
}

/* Power-off: stop every service at once, then those flagged
 * REGISTRY_F_STOP_LAST once the others are gone (a host's stop: hostcomm's
 * stop drains the console from vmworker), or all of them at once when
 * nothing needs those any more (sup_poweroff_last), then in the
 * manifest's order: vmworker, whose VM takes longest to go, first.
 * Returns true once none is left. */
static bool init_poweroff_step(struct init *in)
{
	bool left = false;

	for (int last = 0; last < 2 && !left; last++)
		for (unsigned k = 0; k < in->n_svc; k++) {
			unsigned i =
			    in->poweroff_together ? k : in->n_svc - 1 - k;
			struct service *s = &in->svc[i];
			const struct registry_entry *e =
			    registry_find(s->m.name);
			bool is_last = sup_poweroff_last(
			    e != NULL && (e->flags & REGISTRY_F_STOP_LAST),
			    in->poweroff_together);

			if (is_last != (last == 1))
				continue;
			svc_command(in, s, SUP_EV_POWEROFF, false);
			left |= s->pid > 0;
		}
	return !left;
}

/* Nothing can run the guest when every service has failed. */
static void init_check_all_failed(struct init *in)
{
	char why[512] = "";
	size_t used = 0;

	for (unsigned i = 0; i < in->n_svc; i++)
		if (in->svc[i].sup.state != SVC_FAILED)
			return;
	for (unsigned i = 0; i < in->n_svc && used < sizeof(why); i++)
		used += (size_t)snprintf(
		    why + used, sizeof(why) - used, "%s%s: %s", i ? ", " : "",
		    in->svc[i].m.name, in->svc[i].last_exit);
	log_warnx("no service left running (%s): the partition cannot run "
		  "the guest",
		  in->n_svc ? why : "the manifest lists none");
	init_poweroff(in, PARTITION_EXIT_SETUP, "every service failed", false);
}

static void init_on_signal(struct init *in)
{
	struct signalfd_siginfo si;

	while (read(in->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue; /* reaped below */
		init_poweroff(
		    in, PARTITION_EXIT_SIGNAL_BASE + (int)si.ssi_signo,
		    si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM", false);
	}
	svc_reap(in);
}

/* Whose fd a poll entry is, and which instance: handling one entry (a
 * reap, a restart) may close fds and spawn an instance whose new fds
 * reuse the numbers of entries still to be handled. */
struct poll_owner {
	struct service *s;
	unsigned spawns, standbys;
};

static nfds_t init_poll_set(struct init *in, struct pollfd *p,
			    struct poll_owner *owner)
{
	nfds_t n = 0;

	p[n++] = (struct pollfd){ .fd = in->sigfd, .events = POLLIN };
	p[n++] =
	    (struct pollfd){ .fd = evqueue_fd(&in->queue), .events = POLLIN };
	p[n++] = (struct pollfd){ .fd = in->host_fds, .events = POLLIN };
	for (unsigned i = 0; i < in->n_svc; i++) {
		struct service *s = &in->svc[i];

		if (s->chan >= 0) {
			owner[n] = (struct poll_owner){ s, s->spawns,
							s->standby.starts };
			p[n++] =
			    (struct pollfd){ .fd = s->chan, .events = POLLIN };
		}
		if (s->log_fd >= 0) {
			owner[n] = (struct poll_owner){ s, s->spawns,
							s->standby.starts };
			p[n++] = (struct pollfd){ .fd = s->log_fd,
						  .events = POLLIN };
		}
		/* A handed standby's READY waits for its adoption. */
		if (s->standby.proc.chan >= 0 && !s->standby.handed) {
			owner[n] = (struct poll_owner){ s, s->spawns,
							s->standby.starts };
			p[n++] = (struct pollfd){ .fd = s->standby.proc.chan,
						  .events = POLLIN };
		}
		if (s->standby.proc.log_fd >= 0) {
			owner[n] = (struct poll_owner){ s, s->spawns,
							s->standby.starts };
			p[n++] = (struct pollfd){ .fd = s->standby.proc.log_fd,
						  .events = POLLIN };
		}
	}
	return n;
}

static void init_dispatch(struct init *in, struct pollfd *p, nfds_t n,
			  const struct poll_owner *owner)
{
	if (p[0].revents)
		init_on_signal(in);
	if (p[1].revents)
		control_run_queue(in);
	if (p[2].revents)
		hostfds_on_readable(in);
	for (nfds_t i = 3; i < n; i++) {
		struct service *s = owner[i].s;

		/* an earlier entry replaced the instance: a stale event */
		if (!p[i].revents || s->spawns != owner[i].spawns ||
		    s->standby.starts != owner[i].standbys)
			continue;
		bool hup = p[i].revents & (POLLHUP | POLLERR) &&
			   !(p[i].revents & POLLIN); /* EOF; output is over */

		if (p[i].fd == s->chan) {
			svc_on_channel(in, s);
		} else if (p[i].fd == s->log_fd) {
			svc_on_log(in, s);
			if (hup) {
				close(s->log_fd);
				s->log_fd = -1;
			}
		} else if (p[i].fd == s->standby.proc.chan) {
			standby_on_channel(in, s);
		} else if (p[i].fd == s->standby.proc.log_fd) {
			standby_on_log(s, hup);
		}
	}
}

static int init_loop(struct init *in)
{
	struct pollfd p[INIT_MAX_POLL];
	struct poll_owner owner[INIT_MAX_POLL];

	for (;;) {
		int timeout;
		nfds_t n;

		if (!in->powering_off)
			init_check_all_failed(in);
		if (in->powering_off && init_poweroff_step(in))
			return in->poweroff_status;
		/* after the power-off step: it may have armed a stop timer */
		timeout = svc_timers(in);
		n = init_poll_set(in, p, owner);
		if (poll(p, n, timeout) < 0 && errno != EINTR)
			fatal("poll");
		init_dispatch(in, p, n, owner);
	}
}

static int init_signals(struct init *in)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	in->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return in->sigfd >= 0 && evqueue_init(&in->queue, INIT_QUEUE_MAX) == 0
		   ? 0
		   : -1;
}

int main(int argc, char **argv)
{
	struct init *in = &the_init;
	int status;

	if (version_asked("parapet-init", argc, argv))
		return 0;
	log_init("parapet-init");
	in->start_ns = util_now_ns();
	/* One malloc arena, as it gives its services (PITFALLS, nng): each
	 * of nng's threads would otherwise start its own. */
	mallopt(M_ARENA_MAX, 1);
	if (argc > 1) {
		log_warnx("unexpected argument '%s': it takes none (started "
			  "by parapet-boot)",
			  argv[1]);
		return PARTITION_EXIT_SETUP;
	}
	/* It mounts /dev and /run: never in the host's namespaces. */
	if (getpid() != 1) {
		log_warnx("not PID 1 (pid %d): runs only as the first process "
			  "of a partition (started by parapet run)",
			  (int)getpid());
		return PARTITION_EXIT_SETUP;
	}
	if (init_signals(in) != 0 || init_setup(in) != 0)
		return PARTITION_EXIT_SETUP;
	in->control = control_open(in);
	if (in->control == NULL) {
		log_warnx("control endpoint %s failed", PARTITION_INIT_SOCK);
		return PARTITION_EXIT_SETUP;
	}
	init_write_timeline(in);
	for (unsigned i = 0; i < in->n_svc; i++)
		svc_command(in, &in->svc[i], SUP_EV_START, false);
	status = init_loop(in);
	/* Every service is gone: the control socket closes with our exit
	 * (an nng_close now would only wait on its threads first). */
	log_info("powered off: status %d", status);
	return status;
}
