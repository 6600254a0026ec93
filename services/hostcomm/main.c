/* parapet-hostcomm (OpenHCL's GET): the partition's end of the host
 * channel (RUN_DIR/host.sock, served by `parapet run`). One thread moves
 * the console to the host, one long-polls the host for stdin and ctl
 * commands, and the main thread answers Finish: drain the console, let
 * commands in flight complete, then report the guest event to the host. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostchan.pb-c.h"
#include "hostcomm.pb-c.h"
#include "lib/caller.h"
#include "lib/log.h"
#include "lib/partition.h"
#include "lib/registry.h"
#include "lib/supervise.h"
#include "lib/svcbase.h"
#include "lib/util.h"
#include "policy.pb-c.h"
#include "sandbox/sandbox.h"
#include "services/hostcomm/hostcomm.h"
#include "vmworker.pb-c.h"

#define HOSTCOMM_SOCK	PARTITION_IPC_DIR "/hostcomm/hostcomm.sock"
#define HOST_SOCK	PARTITION_HOST_DIR "/host.sock"
#define FINISH_DRAIN_MS 5000
#define FINISH_EVENT_MS 5000

struct finish_req {
	struct ipc_request *req;
	const Parapet__GuestEvent *ev;
	Parapet__FinishReply *out;
};

static struct hostcomm the_hc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};
static struct finish_req finish_slot;

static struct ipc_server *hostcomm_srv;

/* SIGTERM (init stops us, e.g. at power-off): hand the host what the
 * guest printed so far, briefly, then leave. Nothing else to save: a
 * restarted instance picks up from the host's acks. */
static void *hostcomm_signal_loop(void *arg)
{
	struct hostcomm *h = arg;
	uint64_t end;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigwait(&set, &sig);
	ipc_server_stop_listening(hostcomm_srv); /* before any exit */
	if (atomic_load(&h->finished))
		_exit(0); /* the host has everything and the event */
	end = util_now_ns() + 300 * 1000000ull;
	while (hostcomm_console_step(h, h->vm_quick, 0) == 0 &&
	       util_now_ns() < end)
		;
	_exit(0);
	return NULL;
}

static int on_finish(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	struct hostcomm *h = arg;
	int rc = IPC_ASYNC;

	pthread_mutex_lock(&h->lock);
	if (finish_slot.req != NULL)
		rc = IPC_ERR_UNAVAILABLE; /* one at a time */
	else
		finish_slot =
		    (struct finish_req){ req, (const Parapet__GuestEvent *)in,
					 (Parapet__FinishReply *)out };
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static const struct ipc_method hostcomm_methods[] = {
	{ "Finish", on_finish, CALLER_POLICY, 1024 }, /* the VM's end */
};

static struct timespec deadline_in(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Drains the console to the host (Takes without waiting until vmworker
 * has nothing past the host's ack), then waits for host commands in
 * flight; false when the deadline passes first. */
static bool hostcomm_wait_drained(struct hostcomm *h)
{
	struct timespec until = deadline_in(FINISH_DRAIN_MS);
	uint64_t end = util_now_ns() + FINISH_DRAIN_MS * 1000000ull;
	bool ok = true;
	int rc;

	while ((rc = hostcomm_console_step(h, h->vm, 0)) != 1 &&
	       util_now_ns() < end)
		if (rc < 0)
			hostcomm_sleep_ms(20);
	pthread_mutex_lock(&h->lock);
	while (ok && h->cmds_in_flight > 0)
		ok = pthread_cond_timedwait(&h->cond, &h->lock, &until) == 0;
	pthread_mutex_unlock(&h->lock);
	return ok && rc == 1;
}

static bool hostcomm_send_event(struct hostcomm *h,
				const Parapet__GuestEvent *ev)
{
	uint64_t until = util_now_ns() + FINISH_EVENT_MS * 1000000ull;
	ProtobufCMessage *ack = NULL;
	int rc;

	do {
		rc = ipc_call(h->host, "Event", &ev->base, &ack);
		if (rc == 0) {
			ipc_free(ack);
			return true;
		}
		log_warnx("HostChannel.Event: %s", ipc_strerror(rc));
		hostcomm_sleep_ms(100);
	} while (util_now_ns() < until);
	return false;
}

static void hostcomm_finish(struct hostcomm *h, struct finish_req *f)
{
	bool drained;

	drained = hostcomm_wait_drained(h);
	pthread_mutex_lock(&h->lock);
	f->out->has_console_offset = 1;
	f->out->console_offset = h->acked;
	pthread_mutex_unlock(&h->lock);
	if (!drained)
		log_warnx("finish: console not drained (host has %llu bytes)",
			  (unsigned long long)f->out->console_offset);
	f->out->has_delivered = 1;
	f->out->delivered = hostcomm_send_event(h, f->ev) && drained;
	atomic_store(&h->finished, f->out->delivered);
	log_info("guest event '%s' %s to the host",
		 f->ev->state ? f->ev->state : "?",
		 f->out->delivered ? "delivered" : "not fully delivered");
	ipc_request_finish(f->req, 0);
}

static void hostcomm_main_loop(struct hostcomm *h)
{
	for (;;) {
		struct timespec until = deadline_in(200);
		struct finish_req f = { 0 };

		pthread_mutex_lock(&h->lock);
		if (finish_slot.req == NULL)
			pthread_cond_timedwait(&h->cond, &h->lock, &until);
		f = finish_slot;
		pthread_mutex_unlock(&h->lock);
		if (f.req == NULL)
			continue;
		hostcomm_finish(h, &f);
		pthread_mutex_lock(&h->lock);
		finish_slot.req = NULL;
		pthread_mutex_unlock(&h->lock);
	}
}

static int hostcomm_open(struct hostcomm *h, struct ipc_server **srv)
{
	static const struct ipc_listen listen = { HOSTCOMM_SOCK, 0, 0660 };
	struct ipc_peer_uid uids[CALLER_UIDS_MAX];
	struct ipc_server_config cfg = {
		.name = SVC_NAME_HOSTCOMM,
		.listen = &listen,
		.n_listen = 1,
		.uids = uids,
		.n_uids = caller_peer_uids(uids),
		.service = &parapet__host_comm__descriptor,
		.methods = hostcomm_methods,
		.n_methods = 1,
		.arg = h,
		.held = 1, /* served once the sandbox is whole */
	};

	h->trace = svcbase_trace(SVC_NAME_HOSTCOMM);
	cfg.trace = h->trace;
	h->vm = svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_VMWORKER, NULL,
			       &parapet__vm_worker__descriptor, 5000, h->trace);
	h->vm_quick =
	    svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_VMWORKER, NULL,
			   &parapet__vm_worker__descriptor, 300, h->trace);
	h->host =
	    svcbase_client(SVC_NAME_HOSTCOMM, "host", HOST_SOCK,
			   &parapet__host_channel__descriptor, 5000, h->trace);
	h->policy =
	    svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_POLICY, NULL,
			   &parapet__policy__descriptor, 60000, h->trace);
	*srv = ipc_server_open(&cfg);
	return h->vm && h->vm_quick && h->host && h->policy && *srv ? 0 : -1;
}

/* Sandbox step 8: nng starts its threads here. */
static int hostcomm_open_step(void *ctx)
{
	return hostcomm_open(ctx, &hostcomm_srv);
}

/* DESIGN.md §7: hostcomm sees the IPC directory and the host run
 * directory (host.sock; parapet run grants hostcomm's uid access). */
static const struct sandbox_bind hostcomm_binds[] = {
	{ PARTITION_HOST_DIR, SANDBOX_HOST_DIR, false, false },
};

int main(int argc, char **argv)
{
	struct hostcomm *h = &the_hc;
	pthread_condattr_t ca;
	pthread_t console, work, sig;
	sigset_t set;

	log_init(SVC_NAME_HOSTCOMM);
	if (svcbase_no_args(argc, argv) != 0)
		return PARTITION_EXIT_SETUP;
	signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error return */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* for the signal thread */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	if (svcbase_sandbox(SVC_NAME_HOSTCOMM, SANDBOX_PROFILE_HOSTCOMM,
			    hostcomm_binds, 1, hostcomm_open_step, h) != 0) {
		log_warnx("cannot open its endpoints");
		return PARTITION_EXIT_SETUP;
	}
	ipc_server_serve(hostcomm_srv);
	if (pthread_create(&console, NULL, hostcomm_console_loop, h) != 0 ||
	    pthread_create(&work, NULL, hostcomm_work_loop, h) != 0 ||
	    pthread_create(&sig, NULL, hostcomm_signal_loop, h) != 0)
		fatalx("cannot start its threads");
	supervise_ready(SUPERVISE_FD, SVC_NAME_HOSTCOMM);
	hostcomm_main_loop(h);
	/* The loops block in calls; exiting ends them with the process. */
	ipc_server_close(hostcomm_srv);
	return 0;
}
