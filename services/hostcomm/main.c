/* parapet-hostcomm (OpenHCL's GET): the partition's end of the host
 * channel (RUN_DIR/host.sock, served by `parapet run`). One thread moves
 * the console to the host, one long-polls the host for stdin and ctl
 * commands, and the service's loop (lib/svcbase.h) answers Finish: drain
 * the console, let commands in flight complete, then report the guest
 * event to the host. */
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

#define HOST_SOCK	PARTITION_HOST_DIR "/host.sock"
#define FINISH_DRAIN_MS 5000
#define FINISH_EVENT_MS 5000

/* Finish, queued for the loop (one at a time). */
struct finish_req {
	struct evqueue_item item; /* first: the queue hands it back */
	struct ipc_request *req;
	const Parapet__GuestEvent *ev;
	Parapet__FinishReply *out;
};

static struct hostcomm the_hc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* A stop (init stops us, e.g. at power-off): hand the host what the
 * guest printed so far, briefly, then leave. Nothing else to save: a
 * restarted instance picks up from the host's acks. */
static void hostcomm_stop(struct svcbase *sb, int sig)
{
	struct hostcomm *h = sb->ctx;
	uint64_t end;

	(void)sig;
	if (atomic_load(&h->finished))
		_exit(0); /* the host has everything and the event */
	end = util_now_ns() + 300 * 1000000ull;
	while (hostcomm_console_step(h, h->vm_quick, 0) == 0 &&
	       util_now_ns() < end)
		;
	_exit(0);
}

static void hostcomm_finish(struct hostcomm *h, struct finish_req *f);

static void hostcomm_run_finish(struct evqueue_item *it, void *ctx)
{
	struct hostcomm *h = ctx;

	hostcomm_finish(h, (struct finish_req *)it);
	free(it);
	pthread_mutex_lock(&h->lock);
	h->finishing = false;
	pthread_mutex_unlock(&h->lock);
}

static int on_finish(struct ipc_request *req, const ProtobufCMessage *in,
		     ProtobufCMessage *out, void *arg)
{
	struct hostcomm *h = arg;
	struct finish_req *f;
	bool busy;

	pthread_mutex_lock(&h->lock);
	busy = h->finishing; /* one at a time */
	h->finishing = true;
	pthread_mutex_unlock(&h->lock);
	if (busy)
		return IPC_ERR_UNAVAILABLE;
	f = calloc(1, sizeof(*f));
	if (f != NULL) {
		*f = (struct finish_req){ { NULL, hostcomm_run_finish },
					  req,
					  (const Parapet__GuestEvent *)in,
					  (Parapet__FinishReply *)out };
		if (svcbase_push(h->sb, &f->item) == 0)
			return IPC_ASYNC;
		free(f);
	}
	pthread_mutex_lock(&h->lock);
	h->finishing = false;
	pthread_mutex_unlock(&h->lock);
	return IPC_ERR_NOMEM;
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

/* Sandbox step 8: nng starts its threads here. */
static int hostcomm_open(struct svcbase *sb)
{
	struct hostcomm *h = sb->ctx;

	h->sb = sb;
	h->trace = sb->trace;
	h->vm = svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_VMWORKER, NULL,
			       &parapet__vm_worker__descriptor, 5000, h->trace);
	h->vm_quick =
	    svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_VMWORKER, NULL,
			   &parapet__vm_worker__descriptor, 300, h->trace);
	h->host =
	    svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_HOST, HOST_SOCK,
			   &parapet__host_channel__descriptor, 5000, h->trace);
	h->policy =
	    svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_POLICY, NULL,
			   &parapet__policy__descriptor, 60000, h->trace);
	h->policy_quick =
	    svcbase_client(SVC_NAME_HOSTCOMM, SVC_NAME_POLICY, NULL,
			   &parapet__policy__descriptor, 300, h->trace);
	return h->vm && h->vm_quick && h->host && h->policy && h->policy_quick
		   ? 0
		   : -1;
}

/* The console and the host's work: each a thread blocked in its long
 * poll (ends with the process). */
static int hostcomm_start(struct svcbase *sb)
{
	pthread_t console, work;

	if (pthread_create(&console, NULL, hostcomm_console_loop, sb->ctx) !=
		0 ||
	    pthread_create(&work, NULL, hostcomm_work_loop, sb->ctx) != 0) {
		log_warnx("cannot start its threads");
		return -1;
	}
	return 0;
}

static int hostcomm_init(struct svcbase *sb)
{
	struct hostcomm *h = sb->ctx;
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	return 0;
}

/* DESIGN.md §7: hostcomm sees the IPC directory and the host run
 * directory (host.sock; parapet run grants hostcomm's uid access). */
static const struct sandbox_bind hostcomm_binds[] = {
	{ PARTITION_HOST_DIR, SANDBOX_HOST_DIR, false, false },
};

static const struct svcbase_desc hostcomm_desc = {
	.name = SVC_NAME_HOSTCOMM,
	.binds = hostcomm_binds,
	.n_binds = 1,
	.methods = hostcomm_methods,
	.n_methods = 1,
	.init = hostcomm_init,
	.open = hostcomm_open,
	.start = hostcomm_start,
	.stop = hostcomm_stop,
};

int main(int argc, char **argv)
{
	return svcbase_main(&hostcomm_desc, &the_hc, argc, argv);
}
